/// The IO operations programs can name in `io rD, :operation, rArgs, n`, with their arities,
/// and the decoding of their arguments.
enum IOOperations {
    /// Operation names and the argument counts they accept (checked when a program is loaded).
    /// The reads take optional trailing arguments: a size limit and a timeout.
    static let arities: [String: ClosedRange<Int>] = [
        "tcp_listen": 2...2, "tcp_accept": 1...1, "tcp_connect": 2...2,
        "read": 2...3, "read_line": 1...3, "read_until": 2...4, "write": 2...2, "close": 1...1,
        "peer_address": 1...1, "local_address": 1...1,
        "file_open": 2...2, "file_stat": 1...1, "read_file": 1...1,
        "stdin_line": 0...0, "wall_clock": 0...0,
    ]

    /// The longest line `read_line` and the longest piece `read_until` return unless the
    /// program names a limit: a peer cannot make a reader buffer more than this.
    static let defaultReadLimit = 64 << 10

    /// How an operation's argument count reads in an error message ("1 to 3 arguments").
    static func describe(_ arity: ClosedRange<Int>) -> String {
        let count = arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)"
        return count + (arity.upperBound == 1 ? " argument" : " arguments")
    }

    /// Builds the operation from its argument values, or a type error.
    static func decode(_ name: String, _ args: [Value], atoms: AtomTable) throws(Fault) -> IOOperation {
        switch name {
        case "tcp_listen": return .tcpListen(host: try string(args[0], name), port: try int(args[1], name))
        case "tcp_accept": return .tcpAccept(handle: try handle(args[0], name))
        case "tcp_connect": return .tcpConnect(host: try string(args[0], name), port: try int(args[1], name))
        case "read":
            return .read(handle: try handle(args[0], name), end: .bytes(max: max(1, try int(args[1], name))),
                         timeout: try timeout(args, at: 2, name))
        case "read_line":
            return .read(handle: try handle(args[0], name), end: .line(limit: try limit(args, at: 1, name)),
                         timeout: try timeout(args, at: 2, name))
        case "read_until":
            guard args[1].heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "read_until needs a delimiter string") }
            return .read(handle: try handle(args[0], name),
                         end: .delimiter(Array(args[1].stringBytes), limit: try limit(args, at: 2, name)),
                         timeout: try timeout(args, at: 3, name))
        case "write":
            guard args[1].heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "write needs a string argument") }
            return .write(handle: try handle(args[0], name), bytes: Array(args[1].stringBytes))
        case "close": return .close(handle: try handle(args[0], name))
        case "peer_address": return .address(handle: try handle(args[0], name), peer: true)
        case "local_address": return .address(handle: try handle(args[0], name), peer: false)
        case "file_open":
            guard args[1].isAtom else { throw Fault(kind: .typeMismatch, detail: "file_open needs a mode atom (:read, :write or :append)") }
            return .fileOpen(path: try string(args[0], name), mode: atoms.name(Int(args[1].immediatePayload)))
        case "file_stat": return .fileStat(path: try string(args[0], name))
        case "read_file": return .readFile(path: try string(args[0], name))
        default: return .stdinLine
        }
    }

    private static func string(_ v: Value, _ op: String) throws(Fault) -> String {
        guard v.heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "\(op) needs a string argument") }
        return String(decoding: v.stringBytes, as: UTF8.self)
    }

    private static func int(_ v: Value, _ op: String) throws(Fault) -> Int {
        guard v.isSmallInt else { throw Fault(kind: .typeMismatch, detail: "\(op) needs an integer argument") }
        return Int(v.smallIntValue)
    }

    /// The optional size limit at `index`: a positive integer, or nil (or absent) for the default.
    private static func limit(_ args: [Value], at index: Int, _ op: String) throws(Fault) -> Int {
        guard index < args.count, args[index].raw != Value.nil.raw else { return defaultReadLimit }
        guard args[index].isSmallInt, args[index].smallIntValue > 0 else {
            throw Fault(kind: .badArgument, detail: "\(op) needs a positive size limit in bytes (or nil for \(defaultReadLimit))")
        }
        return Int(args[index].smallIntValue)
    }

    /// The optional timeout at `index`: milliseconds (0 or more), or nil (or absent) for none.
    private static func timeout(_ args: [Value], at index: Int, _ op: String) throws(Fault) -> Int? {
        guard index < args.count, args[index].raw != Value.nil.raw else { return nil }
        guard args[index].isSmallInt, args[index].smallIntValue >= 0 else {
            throw Fault(kind: .badArgument, detail: "\(op) needs a timeout in milliseconds (0 or more), or nil for none")
        }
        return Int(args[index].smallIntValue)
    }

    /// A handle value: `{:socket | :listener | :file, id}`.
    private static func handle(_ v: Value, _ op: String) throws(Fault) -> Int {
        guard v.heapKind == .tuple, v.tupleCount == 2, Value(raw: v.tupleElements[0]).isAtom,
              Value(raw: v.tupleElements[1]).isSmallInt else {
            throw Fault(kind: .typeMismatch, detail: "\(op) needs a socket, listener or file handle")
        }
        return Int(Value(raw: v.tupleElements[1]).smallIntValue)
    }
}
