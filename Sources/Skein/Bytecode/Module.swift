/// A compile-time constant of a module's constant pool.
public indirect enum Constant: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    /// Compared by bit pattern so that `nan` constants dedupe and round-trip exactly.
    case float(bitPattern: UInt64)
    case string(String)
    /// A binary: bytes with no UTF-8 requirement (`b"\xff"` in assembly).
    case binary([UInt8])
    /// Index into the module's atom table.
    case atom(UInt32)
    /// Index into the module's function table, or past its end into its imports (see
    /// `Module.imports`).
    case function(UInt32)
    case tuple([Constant])
}

/// One source-line entry: code from word `pc` on comes from `line`, until the next entry.
public struct LineEntry: Equatable, Sendable {
    public var pc: UInt32
    public var line: UInt32
    public init(pc: UInt32, line: UInt32) {
        self.pc = pc
        self.line = line
    }
}

/// A function of a module.
public struct FunctionDefinition: Equatable, Sendable {
    /// Its name, unique in the module.
    public var name: String
    /// How many arguments it takes (they arrive in `r0 ..< r(arity)`).
    public var arity: Int
    /// How many registers its frame has.
    public var registerCount: Int
    /// Its code words; jump targets are offsets from the start of this array.
    public var code: [UInt64]
    /// Source lines, sorted by `pc`.
    public var lines: [LineEntry]

    public init(name: String, arity: Int, registerCount: Int, code: [UInt64], lines: [LineEntry]) {
        self.name = name
        self.arity = arity
        self.registerCount = registerCount
        self.code = code
        self.lines = lines
    }

    /// The source line of the instruction at `pc`, if the line table covers it.
    public func line(at pc: Int) -> Int? {
        var found: Int?
        for entry in lines {
            if Int(entry.pc) > pc { break }
            found = Int(entry.line)
        }
        return found
    }
}

/// A function of another module that a module calls or refers to, by name: resolved to the
/// function itself when the modules are linked (`LoadedProgram`), and checked then to exist, to
/// be exported and to have this arity.
public struct ExternalFunction: Hashable, Sendable, CustomStringConvertible {
    /// The module that defines it.
    public var module: String
    /// Its name in that module.
    public var name: String
    /// Its arity, as the caller expects it.
    public var arity: Int

    /// Function `name`, of arity `arity`, of module `module`.
    public init(module: String, name: String, arity: Int) {
        self.module = module
        self.name = name
        self.arity = arity
    }

    /// `module.name/arity`, as assembly writes it.
    public var description: String { "\(module).\(name)/\(arity)" }
}

/// A bytecode module: what the assembler produces, the binary format stores and the loader
/// verifies. It is plain data; `LoadedProgram` is its runnable, linked form (with the other
/// modules of its `Program`).
///
/// Function operands and `Constant.function` index one space: `0 ..< functions.count` are the
/// module's own functions, `functions.count + k` is `imports[k]`, a function of another module.
public struct Module: Equatable, Sendable {
    /// Name of the source file it was assembled from (for error reports).
    public var sourceName: String
    /// The name other modules call it by (`module NAME`), or `nil` for a main program, which
    /// nothing can call into.
    public var name: String?
    /// Atom names referred to by `Constant.atom`.
    public var atoms: [String]
    /// The constant pool, indexed by `loadk`.
    public var constants: [Constant]
    /// The functions; `main/0` is the entry point.
    public var functions: [FunctionDefinition]
    /// Indices of the functions other modules may call, ascending.
    public var exports: [Int]
    /// The functions of other modules this one names, by function index `functions.count + k`.
    public var imports: [ExternalFunction]
    /// Modules named by `import` statements, in order: loaded with this one even if no
    /// instruction names a function of theirs.
    public var requires: [String]

    /// A module of these parts (a main program unless `name` is given).
    public init(sourceName: String, name: String? = nil, atoms: [String], constants: [Constant], functions: [FunctionDefinition],
                exports: [Int] = [], imports: [ExternalFunction] = [], requires: [String] = []) {
        self.sourceName = sourceName
        self.name = name
        self.atoms = atoms
        self.constants = constants
        self.functions = functions
        self.exports = exports
        self.imports = imports
        self.requires = requires
    }

    /// Index of the function named `name`, if any.
    public func functionIndex(named name: String) -> Int? {
        functions.firstIndex { $0.name == name }
    }

    /// How many function indices the module's code may use: its functions, then its imports.
    public var functionSlots: Int { functions.count + imports.count }

    /// The arity of the function at `index` of the function index space (`functionSlots`).
    public func arity(ofSlot index: Int) -> Int {
        index < functions.count ? functions[index].arity : imports[index - functions.count].arity
    }

    /// Every module this one needs: those its code names, then those it `import`s, each once.
    public var dependencies: [String] {
        var seen = Set<String>()
        return (imports.map(\.module) + requires).filter { seen.insert($0).inserted }
    }

    /// How error reports and stack traces name function `index` of this module:
    /// `module.name/arity`, or `name/arity` in a main program.
    public func qualifiedName(_ index: Int) -> String {
        let f = functions[index]
        return name.map { "\($0).\(f.name)/\(f.arity)" } ?? "\(f.name)/\(f.arity)"
    }
}

/// Several modules that run together: `modules[0]` is the entry (its `main` starts the run), the
/// others are the modules it needs, directly or through each other. Imports may be cyclic: the
/// modules link into one program, so the order of the others does not matter.
public struct Program: Equatable, Sendable {
    /// The modules, the entry first.
    public var modules: [Module]

    /// The program of `modules`, `modules[0]` the entry.
    public init(_ modules: [Module]) { self.modules = modules }

    /// The module whose `main` starts the run.
    public var entry: Module { modules[0] }

    /// The index of the module named `name`, if the program has it.
    public func moduleIndex(named name: String) -> Int? { modules.firstIndex { $0.name == name } }
}
