import Foundation

/// What IO the programs of a VM may do (`VM.Options.capabilities`, `vm run --sandbox`): the
/// sandbox for untrusted code. Checked on the worker when a process asks for an operation,
/// before anything reaches the IO thread; a refused operation is the error value
/// `{:error, :EACCES, "…"}` of that process, which may handle it like any IO error. Reads and
/// writes on handles the process already holds need no check: getting the handle was checked.
///
/// Paths under `readOnly` directories are resolved with `realpath` (symbolic links and `..`
/// followed) before they are compared, so a link or `../` cannot lead out of the directories.
public struct Capabilities: Sendable, Equatable {
    /// Access to files.
    public enum Files: Sendable, Equatable {
        /// No file may be opened, read or looked at.
        case none
        /// Files under these directories may be opened for reading, read and looked at.
        case readOnly(under: [String])
        /// Any file the OS process may use.
        case all
    }

    /// Access to the network.
    public struct Network: OptionSet, Sendable, Equatable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Outgoing TCP connections.
        public static let connect = Network(rawValue: 1)
        /// Listening sockets (and the connections they accept).
        public static let listen = Network(rawValue: 2)
        /// Both.
        public static let all: Network = [.connect, .listen]
        /// Neither.
        public static let none: Network = []
    }

    /// Files.
    public var files: Files
    /// The network.
    public var network: Network
    /// Whether processes may read standard input.
    public var stdin: Bool

    public init(files: Files = .all, network: Network = .all, stdin: Bool = true) {
        self.files = files
        self.network = network
        self.stdin = stdin
    }

    /// Everything the OS process may do (the default).
    public static let all = Capabilities()
    /// Nothing: no files, no network, no stdin (output and timers still work).
    public static let none = Capabilities(files: .none, network: .none, stdin: false)

    /// Why `operation` is refused, or nil if it is allowed.
    func refusal(_ operation: IOOperation) -> String? {
        switch operation {
        case .tcpListen where !network.contains(.listen): return "listening on the network is not allowed here"
        case .tcpConnect where !network.contains(.connect): return "connecting over the network is not allowed here"
        case .stdinLine where !stdin: return "reading standard input is not allowed here"
        case .fileOpen(let path, let mode): return fileRefusal(path, writing: mode != "read")
        case .fileStat(let path), .readFile(let path, _): return fileRefusal(path, writing: false)
        default: return nil
        }
    }

    /// Why the file at `path` may not be used (for writing if `writing`), or nil.
    private func fileRefusal(_ path: String, writing: Bool) -> String? {
        switch files {
        case .all: return nil
        case .none: return "files are not allowed here (\(path))"
        case .readOnly(let directories):
            if writing { return "files are read-only here (\(path))" }
            guard let resolved = Self.resolve(path) else { return "\(path) is not under a readable directory" }
            for directory in directories {
                guard let root = Self.resolve(directory) else { continue }
                if resolved == root || resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") { return nil }
            }
            return "\(path) is not under a readable directory"
        }
    }

    /// The canonical absolute form of `path` (nil if it does not exist).
    private static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
