/// Checks a decoded module before anything runs, so that the interpreter can trust it without
/// checks of its own: every operand in range, every jump on an instruction boundary of its
/// function, every static call with the callee's arity, no path off the end of a function.
///
/// The interpreter relies on each of these facts; a module that passed `verify` cannot make it
/// read outside a frame, the constant pool or the code.
public enum Verifier {
    /// Largest linked program, in code words (jump targets are 24-bit).
    public static let maxProgramWords = 1 << 24
    /// Most functions in a module (function operands are 16-bit).
    public static let maxFunctions = 1 << 16

    /// Throws the first problem found, naming the function and instruction. This checks one
    /// module on its own; `verify(_ program:)` checks that modules fit together.
    public static func verify(_ module: Module) throws(LoadError) {
        guard module.functionSlots <= maxFunctions else {
            throw LoadError("module", "\(module.functions.count) functions and \(module.imports.count) imported ones; at most \(maxFunctions) are allowed")
        }
        var names = Set<String>()
        for f in module.functions where !names.insert(f.name).inserted {
            throw LoadError("function \(f.name)", "defined twice")
        }
        if module.name == nil {
            // A main program has nothing else to be run by; a library module need not have one.
            guard module.functionIndex(named: "main") != nil else {
                throw LoadError("module", "no function main/0 to start from")
            }
        }
        if let main = module.functionIndex(named: "main") {
            guard module.functions[main].arity <= 1 else {
                throw LoadError("function main", "main takes no arguments or one (the program's arguments), not \(module.functions[main].arity)")
            }
        }
        try verifyInterface(module)
        for (i, c) in module.constants.enumerated() { try verifyConstant(c, index: i, depth: 0, module: module) }
        var total = 0
        for f in module.functions {
            try verifyFunction(f, module: module)
            total += f.code.count
        }
        guard total <= maxProgramWords else {
            throw LoadError("module", "\(total) code words; at most \(maxProgramWords) are allowed")
        }
    }

    /// The module's name, exports and imports are well formed (whether imports exist is a
    /// question for `verify(_ program:)`).
    private static func verifyInterface(_ module: Module) throws(LoadError) {
        if let name = module.name, !ModuleName.isValid(name) {
            throw LoadError("module", "\(ModuleName.quoted(name)) is not a module name")
        }
        var previous = -1
        for index in module.exports {
            guard index > previous, index < module.functions.count else {
                throw LoadError("module", "export of function index \(index) is out of range or out of order")
            }
            previous = index
        }
        for (k, f) in module.imports.enumerated() {
            guard ModuleName.isValid(f.module), !f.name.isEmpty, (0...255).contains(f.arity) else {
                throw LoadError("module", "import \(k) (\(f)) does not name a module's function with an arity up to 255")
            }
        }
        for name in module.requires where !ModuleName.isValid(name) {
            throw LoadError("module", "imports \(ModuleName.quoted(name)), which is not a module name")
        }
    }

    /// Checks a whole program: each module, then that they fit together. Module names are
    /// unique and only the entry may be without one; every imported function exists in its
    /// module, is exported and has the arity the caller expects; every imported module is
    /// there; the entry has a `main` to start from. Errors name the file, and for a call the
    /// function and line (or word) of its first use.
    public static func verify(_ program: Program) throws(LoadError) {
        guard !program.modules.isEmpty else { throw LoadError("program", "has no modules") }
        var indexByName: [String: Int] = [:]
        for (i, module) in program.modules.enumerated() {
            do { try verify(module) } catch {
                // Which file, when there are several (a single file's errors read as before).
                throw program.modules.count == 1 ? error : LoadError("\(module.sourceName): \(error.location)", error.message)
            }
            guard let name = module.name else {
                if i > 0 {
                    throw LoadError(module.sourceName, "only the program's first module may be without a 'module' name (this one would be a second main program)")
                }
                continue
            }
            if let other = indexByName[name] {
                throw LoadError(module.sourceName, "module \(name) is defined twice (also in \(program.modules[other].sourceName))")
            }
            indexByName[name] = i
        }
        guard program.entry.functionIndex(named: "main") != nil else {
            throw LoadError(program.entry.sourceName, "no function main/0 to start from")
        }
        var total = 0
        for module in program.modules {
            total += module.functions.count
            for name in module.requires where indexByName[name] == nil {
                throw LoadError(module.sourceName, "imports module \(name), which is not found")
            }
            for (k, wanted) in module.imports.enumerated() {
                let place = usePlace(of: module.functions.count + k, in: module)
                guard let target = indexByName[wanted.module].map({ program.modules[$0] }) else {
                    throw LoadError(place, "\(wanted) names module \(wanted.module), which is not found")
                }
                guard let index = target.functionIndex(named: wanted.name) else {
                    throw LoadError(place, "\(wanted): module \(wanted.module) (\(target.sourceName)) has no function \(wanted.name)")
                }
                guard target.functions[index].arity == wanted.arity else {
                    throw LoadError(place, "\(wanted): \(target.qualifiedName(index)) takes \(target.functions[index].arity) arguments, not \(wanted.arity)")
                }
                guard target.exports.contains(index) else {
                    throw LoadError(place, "\(wanted) is not exported by module \(wanted.module) (\(target.sourceName))")
                }
            }
        }
        guard total <= maxFunctions else {
            throw LoadError("program", "\(total) functions in all modules; at most \(maxFunctions) are allowed (function operands are 16-bit)")
        }
    }

    /// Where function index `slot` of `module` is first used, for an error: the file, the
    /// function and the line (the word if the line table says nothing), or the constant pool.
    static func usePlace(of slot: Int, in module: Module) -> String {
        for (i, f) in module.functions.enumerated() {
            for instruction in f.instructions {
                for (spec, value) in instruction.operandsAndValues where spec.kind == .function && value == slot {
                    let at = f.line(at: instruction.pc).map { "line \($0)" } ?? "word \(instruction.pc)"
                    return "\(module.sourceName): function \(module.qualifiedName(i)), \(at) (\(instruction.opcode.mnemonic))"
                }
            }
        }
        return "\(module.sourceName): a function reference in the constant pool"
    }

    /// Checks constant `index` (or a tuple element of it `depth` levels down): indices in range and
    /// nesting within the format's limit, which a module built in memory may not respect.
    private static func verifyConstant(_ c: Constant, index: Int, depth: Int, module: Module) throws(LoadError) {
        switch c {
        case .atom(let a) where Int(a) >= module.atoms.count:
            throw LoadError("constant \(index)", "atom index \(a) out of range (the module has \(module.atoms.count) atoms)")
        case .function(let f) where Int(f) >= module.functionSlots:
            throw LoadError("constant \(index)", "function index \(f) out of range (the module has \(module.functions.count) functions and \(module.imports.count) imports)")
        case .tuple(let elements):
            guard depth < BinaryFormat.maxConstantDepth else {
                throw LoadError("constant \(index)", "nests tuples deeper than \(BinaryFormat.maxConstantDepth) levels")
            }
            for e in elements { try verifyConstant(e, index: index, depth: depth + 1, module: module) }
        default:
            break
        }
    }

    private static func verifyFunction(_ f: FunctionDefinition, module: Module) throws(LoadError) {
        let name = "\(f.name)/\(f.arity)"
        guard f.registerCount <= BinaryFormat.maxRegisters else {
            throw LoadError("function \(name)", "\(f.registerCount) registers; at most \(BinaryFormat.maxRegisters) are allowed")
        }
        guard f.arity <= f.registerCount else {
            throw LoadError("function \(name)", "arity \(f.arity) exceeds its \(f.registerCount) registers")
        }
        guard !f.code.isEmpty else { throw LoadError("function \(name)", "has no code") }

        // Pass 1: instruction boundaries.
        var isStart = [Bool](repeating: false, count: f.code.count)
        var lastStart = 0
        var last = Opcode.nop
        var decoder = InstructionDecoder(f.code)
        do {
            while let instruction = try decoder.next() {
                isStart[instruction.pc] = true
                lastStart = instruction.pc
                last = instruction.opcode
            }
        } catch {
            switch error {
            case .unknownOpcode(let pc, let byte):
                throw LoadError("function \(name), word \(pc)", "unknown opcode \(byte)")
            case .cutOff(let pc, let opcode):
                throw LoadError("function \(name), word \(pc)", "\(opcode.mnemonic) is cut off by the end of the function")
            }
        }

        // Pass 2: operands (the code decodes: pass 1 went through all of it).
        for decoded in f.instructions {
            let (pc, opcode, instruction, values) = (decoded.pc, decoded.opcode, decoded.instruction, decoded.values)
            // Built only for an error: formatting it for every instruction was most of the
            // verifier's time on large modules.
            func where_() -> String { "function \(name), word \(pc) (\(opcode.mnemonic))" }
            guard instruction.word & opcode.operands.unusedBits == 0 else {
                throw LoadError(where_(), "unused operand bits are set")
            }
            if let extra = instruction.extra, extra >> 32 != 0 {
                throw LoadError(where_(), "unused bits of the extension word are set")
            }
            for (spec, value) in decoded.operandsAndValues {
                switch spec.kind {
                case .register:
                    guard value < f.registerCount else {
                        throw LoadError(where_(), "register r\(value) out of range (the function has \(f.registerCount) registers)")
                    }
                case .constant:
                    guard value < module.constants.count else {
                        throw LoadError(where_(), "constant index \(value) out of range (the pool has \(module.constants.count))")
                    }
                case .function:
                    guard value < module.functionSlots else {
                        throw LoadError(where_(), "function index \(value) out of range (the module has \(module.functions.count) functions and \(module.imports.count) imports)")
                    }
                case .label:
                    guard value < f.code.count, isStart[value] else {
                        throw LoadError(where_(), "jump target \(value) is not the start of an instruction in this function")
                    }
                case .immediate, .count:
                    break
                }
            }
            switch NamedOperations.check(opcode, constant: values[1], of: module.constants, atoms: module.atoms, count: values[3]) {
            case .unknownName(let why)?, .wrongCount(let why)?: throw LoadError(where_(), why)
            case .resolved?, nil: break
            }
            if let run = opcode.registerRun {
                let start = values[run.start]
                let count: Int
                if let countOperand = run.count {
                    count = values[countOperand]
                } else {
                    count = module.arity(ofSlot: values[opcode.operands.firstIndex { $0.kind == .function }!])
                }
                guard start + count <= f.registerCount || count == 0 else {
                    throw LoadError(where_(), "registers r\(start)…r\(start + count - 1) run past the function's \(f.registerCount) registers")
                }
            }
        }

        // No path falls off the end: only the last instruction can continue past the end.
        guard last.isTerminator else {
            throw LoadError("function \(name), word \(lastStart) (\(last.mnemonic))",
                            "execution can fall off the end of the function; end it with ret, tailcall, jmp or raise")
        }

        var previous: UInt32 = 0
        for entry in f.lines {
            guard Int(entry.pc) < f.code.count, entry.pc >= previous else {
                throw LoadError("function \(name)", "line table entry for word \(entry.pc) is out of order or out of range")
            }
            previous = entry.pc
        }
    }
}
