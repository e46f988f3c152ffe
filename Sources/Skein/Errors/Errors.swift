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
public enum RuntimeErrorKind: String, Sendable {
    case divisionByZero = "division by zero"
    case integerOverflow = "integer overflow"
    case typeMismatch = "type mismatch"
    case indexOutOfRange = "index out of range"
    case notAFunction = "not a function"
    case arityMismatch = "wrong number of arguments"
    case stackOverflow = "stack overflow"
    case raised = "raised"
    case badArgument = "bad argument"
}

/// A runtime error, with the place it happened.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
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

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        let what = detail.isEmpty ? kind.rawValue : "\(kind.rawValue): \(detail)"
        return "\(what)\n  in function \(function) at \(place)"
    }
}
