/// What a process asks of the IO thread: the operation, how a read ends, and the request that
/// carries them with the suspension to end. Built by a worker (decoded from the `io`
/// instruction's arguments, which are copied out of the process heap), then owned by the IO
/// thread from `submit` on.
/// An IO operation a process asked for with `io rD, :operation, rArgs, n`.
enum IOOperation {
    case tcpListen(host: String, port: Int)
    case tcpAccept(handle: Int)
    case tcpConnect(host: String, port: Int)
    /// `read`, `read_line` and `read_until`: what ends the read, and the most milliseconds to
    /// wait for it (nil: no limit).
    case read(handle: Int, end: ReadEnd, timeout: Int?, mode: IOResultMode)
    case write(handle: Int, bytes: [UInt8])
    case close(handle: Int)
    case address(handle: Int, peer: Bool)
    case fileOpen(path: String, mode: String)
    case fileStat(path: String)
    case readFile(path: String, mode: IOResultMode)
    case stdinLine(mode: IOResultMode)
    /// Not from a program: the process `owner` ended; close what it held.
    case closeAllOwned(by: UInt64)
    /// Not from a program: an exit signal reached the process `owner` while it waits in the
    /// request it made in the suspension `state`; cancel that request if it can be (reads,
    /// accepts, stdin lines, which the process can simply make again), or any request if the
    /// signal is `lethal` (a kill, which the process cannot survive).
    case interrupt(state: ProcessState, lethal: Bool)
}

extension IOOperation {
    /// What the bytes a read answers with become (`.string` for the operations that are no reads).
    var resultMode: IOResultMode {
        switch self {
        case .read(_, _, _, let mode), .readFile(_, let mode), .stdinLine(let mode): mode
        default: .string
        }
    }
}

extension PendingIO {
    /// What the bytes that answer this box's request become.
    var resultMode: IOResultMode { request?.operation.resultMode ?? .string }
}

/// What a read returns.
enum ReadEnd {
    /// What is buffered, up to `max` bytes, as soon as there is something.
    case bytes(max: Int)
    /// A line of at most `limit` bytes.
    case line(limit: Int)
    /// Everything through the delimiter, at most `limit` bytes.
    case delimiter([UInt8], limit: Int)
}

/// One request: the operation, who waits for it and the suspension to end.
struct IORequest {
    /// What to do.
    var operation: IOOperation
    /// The waiting process (nil for `closeAllOwned`).
    var process: Unmanaged<Process>?
    /// Its pid, which owns handles it opens.
    var owner: UInt64
    /// The suspended state word the completion wakes.
    var state: ProcessState
}

/// A request the IO thread could not answer at once: it waits in a handle (a read, an accept),
/// in the stdin queue, or in libuv (a connect, a queued write, a file operation), and is
/// answered exactly once (`IOService.complete(_:_:)`), by its completion, by the close of its
/// handle, or early by an exit signal to its process (`IOService.interrupt`).
///
/// Why a box and not an id packed into libuv's `data` field: a libuv request's `data` holds a
/// retained reference to its box (`Unmanaged.passRetained`), which its callback takes back
/// (`takeRetainedValue`). libuv calls the callback of every request exactly once, also when it
/// is cancelled because its handle closed, so the box lives exactly as long as libuv can name
/// it: nothing aliases, nothing wraps, nothing dangles, however many requests there were.
/// A box answered early keeps `request == nil`, so its late callback answers nobody.
final class PendingIO {
    /// The request, until it is answered.
    var request: IORequest?
    /// The handle it works on (a connect's new socket, an open's new file, a read's file).
    let handle: IOHandle?

    /// A box for `request`, which works on `handle` if it names one.
    init(_ request: IORequest, handle: IOHandle? = nil) {
        self.request = request
        self.handle = handle
    }

    /// A retained reference for a libuv request's `data`; its callback takes it back with `taken`.
    func retainedForLibUV() -> UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    /// The box whose retained reference a libuv request's `data` holds, taking that reference
    /// back (exactly once: in the request's callback, or where its submission failed).
    static func taken(_ data: UnsafeMutableRawPointer?) -> PendingIO {
        Unmanaged<PendingIO>.fromOpaque(data!).takeRetainedValue()
    }
}
