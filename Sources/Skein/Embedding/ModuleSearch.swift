import Foundation

/// Where the modules a program imports are found: directories searched in order for `NAME.ska`
/// (assembly) or `NAME.skb` (binary), then the standard library built into this library.
///
/// `vm run prog.ska` searches the program's directory, each `-I DIR`, each directory of
/// `SKEIN_PATH` (colon-separated), then the standard library (`forProgram`). A module found
/// earlier wins, so a program may carry its own version of a library module.
public struct ModuleSearch: Sendable {
    /// Directories searched, in order.
    public var directories: [String]
    /// Whether the standard library is searched after the directories.
    public var includesStandardLibrary: Bool

    /// A search of `directories`, then (unless told not to) the standard library.
    public init(directories: [String], includesStandardLibrary: Bool = true) {
        self.directories = directories
        self.includesStandardLibrary = includesStandardLibrary
    }

    /// Only the standard library: what `VM(program:)` fills a program in from.
    public static let standardLibraryOnly = ModuleSearch(directories: [])

    /// The search for the program in file `path` (`-` for stdin: the working directory): its
    /// directory, then `extra`, then the directories of `SKEIN_PATH` in `environment`, then the
    /// standard library.
    public static func forProgram(at path: String, including extra: [String] = [],
                                  environment: [String: String] = ProcessInfo.processInfo.environment) -> ModuleSearch {
        let own = path == "-" ? "." : (URL(fileURLWithPath: path).deletingLastPathComponent().path)
        let fromEnvironment = (environment["SKEIN_PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        return ModuleSearch(directories: [own] + extra + fromEnvironment)
    }

    /// `program` with every module it needs and lacks, directly or through the modules added,
    /// appended in the order first needed. A module found nowhere is left out:
    /// `Verifier.verify(program)` then names the call or `import` that needs it.
    ///
    /// Throws `AssemblyError` for a module file that does not assemble and `LoadError` for one
    /// that does not decode or defines another module than its file name says.
    public func complete(_ program: Program) throws -> Program {
        try ModuleSearch.complete(program) { name in try find(name) }
    }

    /// `complete` with the standard library alone, which reads no file and cannot fail.
    func completeFromStandardLibrary(_ program: Program) -> Program {
        ModuleSearch.complete(program) { name in StandardLibrary.module(named: name) }
    }

    /// Adds, breadth first, each module that a module of the program needs and that none of
    /// them defines, as `find` gives it.
    private static func complete<E: Error>(_ program: Program, _ find: (String) throws(E) -> Module?) throws(E) -> Program {
        var modules = program.modules
        var known = Set(modules.compactMap(\.name))
        var next = 0
        var missing = Set<String>()
        while next < modules.count {
            for name in modules[next].dependencies where !known.contains(name) && !missing.contains(name) {
                if let found = try find(name) {
                    known.insert(name)
                    modules.append(found)
                } else {
                    missing.insert(name)
                }
            }
            next += 1
        }
        return Program(modules)
    }

    /// Module `name` from the first directory that has a file for it (a file of that name
    /// without a `module` line is passed over), else the standard library.
    private func find(_ name: String) throws -> Module? {
        for directory in directories {
            for suffix in [".ska", ".skb"] {
                let path = directory == "." ? name + suffix : (directory as NSString).appendingPathComponent(name + suffix)
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let bytes = [UInt8](data)
                let found: Module?
                if bytes.starts(with: BinaryFormat.magic) {
                    found = try BinaryFormat.decodeProgram(bytes).modules.first { $0.name == name }
                } else {
                    found = try Assembler.assemble(bytes: Module.withoutInterpreterLine(bytes), file: path)
                }
                // A main program of that name (an example called strings.ska beside the program) is
                // no module: passed over. A file that says it is another module is a mistake.
                guard let found, let defined = found.name else { continue }
                guard defined == name else {
                    throw LoadError(path, "is where module \(name) is looked for, but it is module \(defined)")
                }
                return found
            }
        }
        return includesStandardLibrary ? StandardLibrary.module(named: name) : nil
    }
}
