/// A compile-time constant of a module's constant pool.
public indirect enum Constant: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    /// Compared by bit pattern so that `nan` constants dedupe and round-trip exactly.
    case float(bitPattern: UInt64)
    case string(String)
    /// Index into the module's atom table.
    case atom(UInt32)
    /// Index into the module's function table.
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

/// A bytecode module: what the assembler produces, the binary format stores and the loader
/// verifies. It is plain data; `LoadedProgram` is its runnable, linked form.
public struct Module: Equatable, Sendable {
    /// Name of the source file it was assembled from (for error reports).
    public var sourceName: String
    /// Atom names referred to by `Constant.atom`.
    public var atoms: [String]
    /// The constant pool, indexed by `loadk`.
    public var constants: [Constant]
    /// The functions; `main/0` is the entry point.
    public var functions: [FunctionDefinition]

    public init(sourceName: String, atoms: [String], constants: [Constant], functions: [FunctionDefinition]) {
        self.sourceName = sourceName
        self.atoms = atoms
        self.constants = constants
        self.functions = functions
    }

    /// Index of the function named `name`, if any.
    public func functionIndex(named name: String) -> Int? {
        functions.firstIndex { $0.name == name }
    }
}
