import CLibUV

/// A socket, listener or open file, owned by the IO thread.
final class IOHandle {
    enum Kind { case listener, socket, file }
    let id: Int
    let kind: Kind
    /// Pid of the process that opened it; closed when that process ends.
    let owner: UInt64
    var tcp: UnsafeMutablePointer<uv_tcp_t>?
    var fd: Int32 = -1
    /// Bytes received and not yet handed to a reader.
    var buffer = ReceiveBuffer()
    var reading = false
    /// The read waiting for bytes (one at a time per handle).
    var pendingRead: (request: IORequest, end: ReadEnd)?
    /// Ends a pending read that has a timeout; created on the first such read.
    var timer: UnsafeMutablePointer<uv_timer_t>?
    /// Listener: accept requests waiting for a connection, and connections waiting for accept.
    var pendingAccepts: [IORequest] = []
    var readyConnections = 0
    /// File read position.
    var offset: Int64 = 0

    init(id: Int, kind: Kind, owner: UInt64) {
        self.id = id
        self.kind = kind
        self.owner = owner
    }

    /// The handle as a value programs hold: `{:socket, id}`, `{:listener, id}`, `{:file, id}`.
    var term: Term {
        switch kind {
        case .listener: .tuple([.atom("listener"), .int(Int64(id))])
        case .socket: .tuple([.atom("socket"), .int(Int64(id))])
        case .file: .tuple([.atom("file"), .int(Int64(id))])
        }
    }
}
