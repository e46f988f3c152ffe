import CLibUV
import CSkeinSupport
import Foundation
import Synchronization

/// An IO operation a process asked for with `io rD, :operation, rArgs, n`.
enum IOOperation {
    case tcpListen(host: String, port: Int)
    case tcpAccept(handle: Int)
    case tcpConnect(host: String, port: Int)
    /// `read`, `read_line` and `read_until`: what ends the read, and the most milliseconds to
    /// wait for it (nil: no limit).
    case read(handle: Int, end: ReadEnd, timeout: Int?)
    case write(handle: Int, bytes: [UInt8])
    case close(handle: Int)
    case address(handle: Int, peer: Bool)
    case fileOpen(path: String, mode: String)
    case fileStat(path: String)
    case readFile(path: String)
    case stdinLine
    /// Not from a program: the process `owner` ended; close what it held.
    case closeAllOwned(by: UInt64)
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
    var operation: IOOperation
    /// The waiting process (nil for `closeAllOwned`).
    var process: Unmanaged<Process>?
    /// Its pid, which owns handles it opens.
    var owner: UInt64
    /// The suspended state word the completion wakes.
    var state: ProcessState
}

/// The IO thread: runs one libuv loop; workers hand it requests through a queue plus
/// `uv_async_send`, and it completes them by storing the result in the process and waking it
/// through the state word (the same exactly-once CAS as messages and timeouts).
///
/// Invariants
/// - Only the IO thread touches the loop, the handles and the in-flight tables; the only thing
///   other threads call is `submit` (lock + `uv_async_send`, the one thread-safe libuv call).
/// - No lost request: `submit` appends under the lock, then does a sequentially consistent
///   read-modify-write before `uv_async_send` (libuv before 1.53 lacks that fence, issue 4584);
///   the async callback drains the whole queue (sends coalesce).
/// - A process never blocks a worker on IO: it is suspended (`sleeping`: messages do not wake
///   it) and rescheduled by the completion.
/// - Backpressure: a write completes only when libuv has written it, so a writer to a slow peer
///   stays suspended; reads stop the socket (`uv_read_stop`) once a request is satisfied.
/// - Every handle a process opened is closed when it ends (`closeAllOwned`), and every handle
///   and the loop are closed at shutdown.
final class IOService: @unchecked Sendable {
    let loop: UnsafeMutablePointer<uv_loop_t>
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    /// Runs once per loop iteration, after the IO callbacks: hands the processes completed in
    /// that iteration to the scheduler in one batch (one lock, one wake-up), not one by one.
    private let flushHandle: UnsafeMutablePointer<uv_check_t>
    private var completed: [UInt] = []
    /// Runs before the loop waits for events: queues what timers completed (they run before
    /// the poll, the check handle after it), and has what programs printed written out (on the
    /// thread pool: a stdout pipe nobody reads must not stall the IO thread).
    private let beforePollHandle: UnsafeMutablePointer<uv_prepare_t>
    private let outputFlush: UnsafeMutablePointer<uv_work_t>
    private var outputFlushing = false
    private let inject: ([UInt]) -> Void
    private let queue = Locked<[IORequest]>([])
    private let fence = Atomic<Int>(0)
    private let finish: (IORequest, Term) -> Bool
    private var thread: Thread?
    private let stopped = Atomic<Bool>(false)
    private var stopping = false

    // IO-thread state.
    var handles: [Int: IOHandle] = [:]
    private var nextHandle = 1
    var inFlight: [Int: IORequest] = [:]
    private var nextRequest = 1
    var stdinBuffer = ReceiveBuffer()
    var stdinWaiters: [IORequest] = []
    var stdinReading = false

    /// Operations started, bytes read and written, handles open (statistics).
    let operations = Atomic<Int>(0)
    let bytesRead = Atomic<Int>(0)
    let bytesWritten = Atomic<Int>(0)
    let openHandles = Atomic<Int>(0)

    /// `finish` stores a result and makes the process runnable (its wake CAS), returning whether
    /// it won; `inject` queues a batch of such processes (both called on the IO thread).
    init(finish: @escaping (IORequest, Term) -> Bool, inject: @escaping ([UInt]) -> Void) {
        HostSignals.ignoreBrokenPipes()
        self.finish = finish
        self.inject = inject
        loop = .allocate(capacity: 1)
        uv_loop_init(loop)
        wakeup = .allocate(capacity: 1)
        uv_async_init(loop, wakeup, ioWakeupCallback)
        flushHandle = .allocate(capacity: 1)
        uv_check_init(loop, flushHandle)
        uv_check_start(flushHandle, ioFlushCallback)
        beforePollHandle = .allocate(capacity: 1)
        uv_prepare_init(loop, beforePollHandle)
        uv_prepare_start(beforePollHandle, ioBeforePollCallback)
        outputFlush = .allocate(capacity: 1)
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "skein-io"
        self.thread = thread
        thread.start()
    }

    deinit {
        loop.deallocate()
        wakeup.deallocate()
        flushHandle.deallocate()
        beforePollHandle.deallocate()
        outputFlush.deallocate()
    }

    /// Hands a request to the IO thread. Safe from any thread.
    func submit(_ request: IORequest) {
        queue.withLock { $0.append(request) }
        fence.add(1, ordering: .sequentiallyConsistent)
        uv_async_send(wakeup)
    }

    /// Closes every handle and the loop, and waits for the thread to end.
    func stop() {
        queue.withLock { _ in stopping = true }
        fence.add(1, ordering: .sequentiallyConsistent)
        uv_async_send(wakeup)
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
    }

    private func run() {
        uv_run(loop, UV_RUN_DEFAULT)
        // Drain close callbacks, then close the loop.
        uv_run(loop, UV_RUN_DEFAULT)
        uv_loop_close(loop)
        stopped.store(true, ordering: .releasing)
    }

    /// The async callback: drain the queue.
    func drain() {
        let (requests, stop) = queue.withLock { q -> ([IORequest], Bool) in
            let taken = q
            q.removeAll()
            return (taken, stopping)
        }
        for request in requests { start(request) }
        if stop { closeEverything() }
    }

    private func closeEverything() {
        for id in Array(handles.keys) { closeHandle(id) }
        for waiter in stdinWaiters { complete(waiter, .error("ECANCELED", "the VM is stopping")) }
        stdinWaiters.removeAll()
        flushCompleted()
        uv_check_stop(flushHandle)
        uv_close(UnsafeMutableRawPointer(flushHandle).assumingMemoryBound(to: uv_handle_t.self), nil)
        uv_prepare_stop(beforePollHandle)
        uv_close(UnsafeMutableRawPointer(beforePollHandle).assumingMemoryBound(to: uv_handle_t.self), nil)
        uv_close(UnsafeMutableRawPointer(wakeup).assumingMemoryBound(to: uv_handle_t.self), nil)
    }

    /// Queues the processes completed since the last flush.
    func flushCompleted() {
        guard !completed.isEmpty else { return }
        inject(completed)
        completed.removeAll(keepingCapacity: true)
    }

    /// Starts writing out stdout if anything was printed since the last time (one flush at a
    /// time). A server that prints its port is seen by whoever reads its output while it runs.
    func flushOutputIfPrinted() {
        guard !outputFlushing, skein_take_stdout_pending() != 0 else { return }
        outputFlushing = true
        uv_queue_work(loop, outputFlush, ioOutputWork, ioOutputDone)
    }

    /// The thread pool has flushed stdout.
    func outputFlushed() { outputFlushing = false }

    // MARK: Bookkeeping

    func newHandle(_ kind: IOHandle.Kind, owner: UInt64) -> IOHandle {
        let handle = IOHandle(id: nextHandle, kind: kind, owner: owner)
        nextHandle += 1
        handles[handle.id] = handle
        openHandles.add(1, ordering: .relaxed)
        return handle
    }

    func track(_ request: IORequest) -> Int {
        let id = nextRequest
        nextRequest += 1
        inFlight[id] = request
        return id
    }

    /// Ends a request: the process gets `result` and is rescheduled.
    func complete(_ request: IORequest, _ result: Term) {
        if finish(request, result), let process = request.process {
            completed.append(UInt(bitPattern: process.toOpaque()))
        }
    }

    func completeTracked(_ id: Int, _ result: Term) {
        guard let request = inFlight.removeValue(forKey: id) else { return }
        complete(request, result)
    }

    /// Closes a handle; requests waiting on it end with an error.
    func closeHandle(_ id: Int) {
        guard let handle = handles.removeValue(forKey: id) else { return }
        openHandles.subtract(1, ordering: .relaxed)
        finishRead(handle, .error("ECANCELED", "the handle was closed"))
        if let timer = handle.timer {
            uv_close(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: uv_handle_t.self), ioFreeHandleCallback)
            handle.timer = nil
        }
        for accept in handle.pendingAccepts { complete(accept, .error("ECANCELED", "the handle was closed")) }
        handle.pendingAccepts.removeAll()
        switch handle.kind {
        case .listener, .socket:
            if let tcp = handle.tcp {
                uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self), ioFreeHandleCallback)
                handle.tcp = nil
            }
        case .file:
            if handle.fd >= 0 {
                let req = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
                uv_fs_close(loop, req, uv_file(handle.fd), ioFreeFileRequestCallback)
                handle.fd = -1
            }
        }
    }
}

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

extension Term {
    /// `{:ok, value}`.
    static func ok(_ value: Term) -> Term { .tuple([.atom("ok"), value]) }
    /// `{:error, :NAME, "message"}`.
    static func error(_ name: String, _ message: String) -> Term {
        .tuple([.atom("error"), .atom(name), .string(message)])
    }
    /// The error value of a libuv status code.
    static func uvError(_ status: Int32) -> Term {
        .error(String(cString: uv_err_name(status)), String(cString: uv_strerror(status)))
    }
    /// Bytes as a string value, exactly (IO data need not be UTF-8).
    static func bytes(_ b: [UInt8]) -> Term { .binary(b) }
}

// MARK: C callbacks (file scope: not main-actor isolated)

/// The IO service of the loop a handle belongs to.
func ioService(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> IOService {
    Unmanaged<IOService>.fromOpaque(loop!.pointee.data).takeUnretainedValue()
}

let ioWakeupCallback: uv_async_cb = { async in
    ioService(async!.pointee.loop).drain()
}

let ioFlushCallback: uv_check_cb = { check in
    ioService(check!.pointee.loop).flushCompleted()
}

let ioBeforePollCallback: uv_prepare_cb = { prepare in
    let service = ioService(prepare!.pointee.loop)
    service.flushCompleted()
    service.flushOutputIfPrinted()
}

let ioOutputWork: uv_work_cb = { _ in skein_flush_stdout() }

let ioOutputDone: uv_after_work_cb = { work, _ in ioService(work!.pointee.loop).outputFlushed() }

let ioFreeHandleCallback: uv_close_cb = { handle in
    handle?.deallocate()
}

let ioFreeFileRequestCallback: uv_fs_cb = { req in
    uv_fs_req_cleanup(req)
    req?.deallocate()
}
