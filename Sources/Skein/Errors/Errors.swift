/// A problem found while assembling text: where it is and what to do about it.
public struct AssemblyDiagnostic: Error, Equatable, Sendable, CustomStringConvertible {
    /// Source file name.
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    /// What is wrong.
    public var message: String

    public var description: String { "\(file):\(line):\(column): error: \(message)" }
}

/// One or more assembly errors (the assembler reports several at once where it can).
public struct AssemblyError: Error, Sendable, CustomStringConvertible {
    /// The diagnostics, in source order.
    public var diagnostics: [AssemblyDiagnostic]
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A binary module that cannot be loaded: malformed, truncated, corrupted or failing
/// verification. Nothing from it runs.
public struct LoadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where the problem is: a byte offset in the file, or a function and instruction.
    public var location: String
    /// What is wrong.
    public var message: String

    public init(_ location: String, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "invalid program: \(location): \(message)" }
}

/// Why a process stopped with an error.
public enum RuntimeErrorKind: String, Sendable, Equatable {
    case divisionByZero = "division by zero"
    case integerOverflow = "integer overflow"
    case typeMismatch = "type mismatch"
    case indexOutOfRange = "index out of range"
    case notAFunction = "not a function"
    case arityMismatch = "wrong number of arguments"
    case stackOverflow = "stack overflow"
    case raised = "raised"
    case badArgument = "bad argument"
    /// The process's heap would exceed its limit (`--max-heap`).
    case heapLimit = "heap limit reached"
    /// The system refused memory the process asked for.
    case outOfMemory = "out of memory"
    /// The VM's processes together would pass the VM-wide memory limit (`--max-memory`).
    case memoryLimit = "VM memory limit reached"
    /// A VM-wide limit (the process limit) was reached.
    case systemLimit = "system limit reached"
    /// A value nests too deeply (or contains itself) for the operation.
    case tooDeep = "value nested too deeply"

    /// The atom naming this kind in an error value (`{:error, kind, detail, function, line}`).
    public var atom: String {
        switch self {
        case .divisionByZero: "division_by_zero"
        case .integerOverflow: "integer_overflow"
        case .typeMismatch: "type_mismatch"
        case .indexOutOfRange: "index_out_of_range"
        case .notAFunction: "not_a_function"
        case .arityMismatch: "wrong_arity"
        case .stackOverflow: "stack_overflow"
        case .raised: "raised"
        case .badArgument: "bad_argument"
        case .heapLimit: "heap_limit"
        case .outOfMemory: "out_of_memory"
        case .memoryLimit: "memory_limit"
        case .systemLimit: "system_limit"
        case .tooDeep: "too_deep"
        }
    }
}

/// One frame of a stack trace: a function and the line it was at.
public struct StackEntry: Sendable, Equatable, CustomStringConvertible {
    /// Function name and arity, e.g. `fib/1`.
    public var function: String
    /// Source line, if the module has a line table.
    public var line: Int?
    /// The source file, when it is not the failing function's (a frame of another module).
    public var file: String?
    /// How many more times the same frame follows directly below (recursion).
    public var repeats = 0

    /// A frame of `function` at `line` (in `file`, if it is another than the failing function's).
    public init(function: String, line: Int?, file: String? = nil, repeats: Int = 0) {
        self.function = function
        self.line = line
        self.file = file
        self.repeats = repeats
    }

    public var description: String {
        let place = switch (file, line) {
        case (let file?, let line?): "\(function) at \(file):\(line)"
        case (let file?, nil): "\(function) in \(file)"
        case (nil, let line?): "\(function) line \(line)"
        case (nil, nil): function
        }
        return repeats > 0 ? "\(place) (and \(repeats) more frames like it)" : place
    }
}

/// A runtime error, with the place it happened.
public struct RuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process that failed (nil for a failure on the host's side, e.g. spawning `main`).
    public var pid: Term?
    /// The error class.
    public var kind: RuntimeErrorKind
    /// Details, e.g. the operands.
    public var detail: String
    /// Function name and arity, e.g. `fib/1`.
    public var function: String
    /// Source file name.
    public var file: String
    /// Source line, if known.
    public var line: Int?
    /// The calls that led here, innermost first (the failing function itself included).
    public var trace: [StackEntry] = []

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        let what = detail.isEmpty ? kind.rawValue : "\(kind.rawValue): \(detail)"
        var text = "\(what)\n  in function \(function) at \(place)"
        // The first entry is the failing function, already named above (its repeats are the
        // recursion that led to it).
        if let first = trace.first, first.repeats > 0 { text += "\n  called from the same place \(first.repeats) more times" }
        for entry in trace.dropFirst() { text += "\n  called from \(entry)" }
        return text
    }
}
