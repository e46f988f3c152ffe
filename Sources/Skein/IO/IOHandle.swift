import CLibUV

/// A socket, listener or open file, owned by the IO thread.
///
/// Programs name it by `id` (`{:socket, id}`; ids never repeat within a VM, a 63-bit counter),
/// which `IOService.handles` maps to it while it is open. libuv names it by a pointer instead:
/// each libuv handle made for it (its TCP stream, its read timer) holds a retained reference in
/// its `data` field, given back in that handle's close callback (`ioCloseCallback`), after which
/// libuv never calls back about that handle. So a callback always finds a live `IOHandle`, and
/// checks `isOpen` to see whether the program still has it.
final class IOHandle {
    /// What the handle is.
    enum Kind { case listener, socket, file }
    /// The id programs name it by (never reused within a VM).
    let id: Int
    /// What it is.
    let kind: Kind
    /// Pid of the process that opened it; closed when that process ends.
    let owner: UInt64
    /// False once `IOService.closeHandle` ran: late callbacks do nothing.
    var isOpen = true
    /// A socket's libuv stream (nil for listeners and files, and once closed).
    var tcp: UnsafeMutablePointer<uv_tcp_t>?
    /// A file's descriptor, or a listener's socket (which `poll` watches).
    var fd: Int32 = -1
    /// Listener: watches `fd` for connections while an accept waits (`polling`).
    var poll: UnsafeMutablePointer<uv_poll_t>?
    var polling = false
    /// Bytes received and not yet handed to a reader.
    var buffer = ReceiveBuffer()
    /// Whether libuv is reading the socket (`uv_read_start` is on).
    var reading = false
    /// The read waiting for bytes (one at a time per handle).
    var pendingRead: (waiter: PendingIO, end: ReadEnd)?
    /// Ends a pending read that has a timeout; created on the first such read.
    var timer: UnsafeMutablePointer<uv_timer_t>?
    /// Listener: accept requests waiting for a connection, in arrival order.
    var pendingAccepts: [PendingIO] = []
    /// File read position.
    var offset: Int64 = 0

    /// A new open handle (`IOService.newHandle` registers it).
    init(id: Int, kind: Kind, owner: UInt64) {
        self.id = id
        self.kind = kind
        self.owner = owner
    }

    /// A retained reference for the `data` field of a libuv handle made for this one; the
    /// handle's close callback gives it back.
    func retainedForLibUV() -> UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    /// The handle a libuv handle's `data` names (it holds a reference until it is closed).
    static func of(_ data: UnsafeMutableRawPointer?) -> IOHandle {
        Unmanaged<IOHandle>.fromOpaque(data!).takeUnretainedValue()
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
