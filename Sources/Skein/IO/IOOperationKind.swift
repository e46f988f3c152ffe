/// The IO operations a program can name in `io rD, :operation, rArgs, n`, resolved from the
/// operation's atom once, when a program is loaded (`LoadedProgram.ioOperations`), so running
/// an `io` instruction costs one table load instead of an atom-table lock and a string switch.
///
/// Invariant: the verifier rejects an `io` whose operation is not one of these or whose
/// argument count is outside `arity`, so every `io` of a loaded program has a kind
/// (`NamedOperation`).
enum IOOperationKind: UInt8, NamedOperation {
    case tcpListen, tcpAccept, tcpConnect
    case read, readLine, readUntil, write, close
    case peerAddress, localAddress
    case fileOpen, fileStat, readFile
    case stdinLine, wallClock
    /// The reads again, answering with binaries instead of strings (no UTF-8 check).
    case readBinary, readLineBinary, readUntilBinary, readFileBinary, stdinLineBinary

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
        case .readBinary: "read_binary"
        case .readLineBinary: "read_line_binary"
        case .readUntilBinary: "read_until_binary"
        case .readFileBinary: "read_file_binary"
        case .stdinLineBinary: "stdin_line_binary"
        }
    }

    /// How a read hands over its bytes: a string (checked to be UTF-8) or a binary (as they
    /// are). Only the reads have a `_binary` twin.
    var resultMode: IOResultMode {
        switch self {
        case .readBinary, .readLineBinary, .readUntilBinary, .readFileBinary, .stdinLineBinary: .binary
        default: .string
        }
    }

    /// The operation with the string result, for a `_binary` twin (itself for every other).
    var textual: IOOperationKind {
        switch self {
        case .readBinary: .read
        case .readLineBinary: .readLine
        case .readUntilBinary: .readUntil
        case .readFileBinary: .readFile
        case .stdinLineBinary: .stdinLine
        default: self
        }
    }

    /// The argument counts it accepts. The reads take optional trailing arguments: a size limit
    /// and a timeout.
    var arity: ClosedRange<Int> {
        switch textual {
        case .tcpListen, .tcpConnect, .write, .fileOpen: 2...2
        case .tcpAccept, .close, .peerAddress, .localAddress, .fileStat, .readFile: 1...1
        case .read: 2...3
        case .readLine: 1...3
        case .readUntil: 2...4
        case .stdinLine, .wallClock: 0...0
        case .readBinary, .readLineBinary, .readUntilBinary, .readFileBinary, .stdinLineBinary:
            preconditionFailure("textual is never a _binary twin")
        }
    }

    /// What IO operations are called in errors.
    static var family: String { "IO operation" }
    /// Every operation by its name.
    static let byName = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })
}

/// What the bytes of a read become. A string read checks that they are UTF-8 (on the IO
/// thread, before the process sees them): bytes that are not are `{:error, :invalid_utf8,
/// "byte offset N is not valid UTF-8"}` and are consumed, so a text protocol's reader never
/// holds a string that is not one. A binary read takes any bytes.
enum IOResultMode: Sendable {
    /// A string, once the bytes are known to be UTF-8.
    case string
    /// A binary of the bytes as they are.
    case binary
}
