/// The IO operations a program can name in `io rD, :operation, rArgs, n`, resolved from the
/// operation's atom once, when a program is loaded (`LoadedProgram.ioOperations`), so running
/// an `io` instruction costs one table load instead of an atom-table lock and a string switch.
///
/// Invariant: the verifier rejects an `io` whose operation is not one of these or whose
/// argument count is outside `arity`, so every `io` of a loaded program has a kind.
enum IOOperationKind: UInt8, CaseIterable {
    case tcpListen, tcpAccept, tcpConnect
    case read, readLine, readUntil, write, close
    case peerAddress, localAddress
    case fileOpen, fileStat, readFile
    case stdinLine, wallClock

    /// The atom programs name it by.
    var name: String {
        switch self {
        case .tcpListen: "tcp_listen"
        case .tcpAccept: "tcp_accept"
        case .tcpConnect: "tcp_connect"
        case .read: "read"
        case .readLine: "read_line"
        case .readUntil: "read_until"
        case .write: "write"
        case .close: "close"
        case .peerAddress: "peer_address"
        case .localAddress: "local_address"
        case .fileOpen: "file_open"
        case .fileStat: "file_stat"
        case .readFile: "read_file"
        case .stdinLine: "stdin_line"
        case .wallClock: "wall_clock"
        }
    }

    /// The argument counts it accepts. The reads take optional trailing arguments: a size limit
    /// and a timeout.
    var arity: ClosedRange<Int> {
        switch self {
        case .tcpListen, .tcpConnect, .write, .fileOpen: 2...2
        case .tcpAccept, .close, .peerAddress, .localAddress, .fileStat, .readFile: 1...1
        case .read: 2...3
        case .readLine: 1...3
        case .readUntil: 2...4
        case .stdinLine, .wallClock: 0...0
        }
    }

    /// The operation named `name`, or nil if there is none.
    init?(name: String) {
        guard let kind = IOOperationKind.byName[name] else { return nil }
        self = kind
    }

    /// Every operation by its name (used at load time only).
    private static let byName: [String: IOOperationKind] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// Why `name` names no operation, for the verifier's and the assembler's errors.
    static func unknown(_ name: String?) -> String {
        let known = allCases.map { ":" + $0.name }.sorted().joined(separator: ", ")
        return "unknown IO operation\(name.map { " :" + $0 } ?? " (it must be an atom)"); known: \(known)"
    }

    /// Why `count` arguments do not fit this operation.
    func wrongCount(_ count: Int) -> String { "IO operation :\(name) takes \(describedArity), not \(count)" }

    /// How the argument count reads in an error message ("1 to 3 arguments").
    var describedArity: String {
        let count = arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)"
        return count + (arity.upperBound == 1 ? " argument" : " arguments")
    }
}
