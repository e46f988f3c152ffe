/// The IO operations programs can name in `io rD, :operation, rArgs, n`, with their arities,
/// and the decoding of their arguments.
enum IOOperations {
    /// Operation names and argument counts (checked when a program is loaded).
    static let arities: [String: Int] = [
        "tcp_listen": 2, "tcp_accept": 1, "tcp_connect": 2,
        "read": 2, "read_line": 1, "read_until": 2, "write": 2, "close": 1,
        "peer_address": 1, "local_address": 1,
        "file_open": 2, "file_stat": 1, "read_file": 1,
        "stdin_line": 0, "wall_clock": 0,
    ]

    /// Builds the operation from its argument values, or a type error.
    static func decode(_ name: String, _ args: [Value], atoms: AtomTable) throws(Fault) -> IOOperation {
        switch name {
        case "tcp_listen": return .tcpListen(host: try string(args[0], name), port: try int(args[1], name))
        case "tcp_accept": return .tcpAccept(handle: try handle(args[0], name))
        case "tcp_connect": return .tcpConnect(host: try string(args[0], name), port: try int(args[1], name))
        case "read": return .read(handle: try handle(args[0], name), max: max(1, try int(args[1], name)))
        case "read_line": return .readLine(handle: try handle(args[0], name))
        case "read_until":
            guard args[1].heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "read_until needs a delimiter string") }
            return .readUntil(handle: try handle(args[0], name), delimiter: Array(args[1].stringBytes))
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

    /// A handle value: `{:socket | :listener | :file, id}`.
    private static func handle(_ v: Value, _ op: String) throws(Fault) -> Int {
        guard v.heapKind == .tuple, v.tupleCount == 2, Value(raw: v.tupleElements[0]).isAtom,
              Value(raw: v.tupleElements[1]).isSmallInt else {
            throw Fault(kind: .typeMismatch, detail: "\(op) needs a socket, listener or file handle")
        }
        return Int(Value(raw: v.tupleElements[1]).smallIntValue)
    }
}
