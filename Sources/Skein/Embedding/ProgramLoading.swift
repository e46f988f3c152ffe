/// Loading a program the way `vm run` does, for every host: by content, binary or text.
extension Program {
    /// Loads a program from its bytes: a binary file (recognised by its magic number) is
    /// decoded, with every module it holds; anything else is assembled as the text of one
    /// module, the entry. Then the modules it imports and lacks are found by `search` (by
    /// default only the standard library; `ModuleSearch.forProgram` is what `vm run` uses),
    /// and the whole program is verified, so what comes back can run. A first line starting
    /// with `#!` (a script run directly) is skipped.
    ///
    /// Throws `LoadError` for a binary file that is malformed, a program that fails
    /// verification (an unknown module, an unexported function, a wrong arity: each named with
    /// its file, function and line), and `AssemblyError` (file, line and column of each
    /// problem) for text.
    public static func load(bytes: [UInt8], name: String, search: ModuleSearch = .standardLibraryOnly) throws -> Program {
        let program: Program
        if bytes.starts(with: BinaryFormat.magic) {
            program = try BinaryFormat.decodeProgram(bytes)
        } else {
            program = Program([try Assembler.assemble(bytes: Module.withoutInterpreterLine(bytes), file: name)])
        }
        let complete = try search.complete(program)
        try Verifier.verify(complete)
        return complete
    }
}

extension Module {
    /// Loads one module from its bytes: a binary file of one module (recognised by its magic
    /// number) is decoded, anything else is assembled as text; either way it is verified on its
    /// own (what it imports is checked when it is linked: `VM(module:)`, `Program.load`).
    ///
    /// Throws `LoadError` for a binary module that is malformed or fails verification, and
    /// `AssemblyError` (file, line and column of each problem) for text.
    public static func load(bytes: [UInt8], name: String) throws -> Module {
        let module: Module
        if bytes.starts(with: BinaryFormat.magic) {
            module = try BinaryFormat.decode(bytes)
        } else {
            module = try Assembler.assemble(bytes: withoutInterpreterLine(bytes), file: name)
        }
        try Verifier.verify(module)
        return module
    }

    /// A script run directly starts with `#!/usr/bin/env -S vm run`: that line is for the
    /// kernel, not the assembler. It is blanked, not removed, so line numbers stay right.
    static func withoutInterpreterLine(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.starts(with: Array("#!".utf8)) else { return bytes }
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return [] }
        return Array(bytes[newline...])
    }
}
