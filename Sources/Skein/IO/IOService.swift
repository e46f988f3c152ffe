import CLibUV
import CSkeinSupport
import Foundation
import Synchronization

/// The IO thread: runs one libuv loop; workers hand it requests through a queue plus
/// `uv_async_send`, and it completes them by storing the result in the process and waking it
/// through the state word (the same exactly-once CAS as messages and timeouts).
///
/// Invariants
/// - Only the IO thread touches the loop, the handles and the waiting requests; the only thing
///   other threads call is `submit` (lock + `uv_async_send`, the one thread-safe libuv call).
///   The IO thread is also the only waker of a process suspended for IO: an exit signal to it
///   reaches the IO thread as an `interrupt` request, answered like any other.
/// - No lost request: `submit` appends under the lock, then does a sequentially consistent
///   read-modify-write before `uv_async_send` (libuv before 1.53 lacks that fence, issue 4584);
///   the async callback drains the whole queue (sends coalesce).
/// - A process never blocks a worker on IO: it is suspended (`sleeping`: messages do not wake
///   it) and rescheduled by the completion (or by an exit signal's interrupt).
/// - Backpressure: a write completes only when libuv has written it, so a writer to a slow peer
///   stays suspended; reads stop the socket (`uv_read_stop`) once a request is satisfied.
/// - Every handle a process opened is closed when it ends (`closeAllOwned`), and every handle
///   and the loop are closed at shutdown.
final class IOService: @unchecked Sendable {
    // Sendable: other threads only call `submit` and `stop` (the locked queue, atomics,
    // `uv_async_send`) and read the atomic statistics; every other field is the IO thread's.
    /// The libuv loop (IO thread only, after `init`).
    let loop: UnsafeMutablePointer<uv_loop_t>
    /// Wakes the loop to drain `queue` (`uv_async_send`, the one call made from other threads).
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    /// Runs once per loop iteration, after the IO callbacks: hands the processes completed in
    /// that iteration to the scheduler in one batch (one lock, one wake-up), not one by one.
    private let flushHandle: UnsafeMutablePointer<uv_check_t>
    /// Processes woken in this loop iteration, queued by `flushCompleted` in one batch.
    var completed: [UInt] = []
    /// Runs before the loop waits for events: queues what timers completed (they run before
    /// the poll, the check handle after it), and has what programs printed written out (on the
    /// thread pool: a stdout pipe nobody reads must not stall the IO thread).
    private let beforePollHandle: UnsafeMutablePointer<uv_prepare_t>
    /// The thread-pool job that flushes stdout.
    private let outputFlush: UnsafeMutablePointer<uv_work_t>
    /// Whether that job is running (one at a time).
    private var outputFlushing = false
    /// Queues woken processes on the scheduler.
    private let inject: ([UInt]) -> Void
    /// Requests submitted and not yet started.
    private let queue = Locked<[IORequest]>([])
    private let fence = Atomic<Int>(0)
    let finish: (IORequest, MessageNode) -> Bool
    /// The VM's atoms (result values are built here, on the IO thread) and the id of `:ok`,
    /// interned once so a read's result takes no lock.
    let atoms: AtomTable
    let okAtom: Int
    private var thread: Thread?
    private let stopped = Atomic<Bool>(false)
    private var stopping = false

    // IO-thread state.
    var handles: [Int: IOHandle] = [:]
    var nextHandle = 1
    /// The request each process waits in, by pid (a process waits in one at a time): what an
    /// exit signal to it cancels (`interrupt`).
    var waiting: [UInt64: PendingIO] = [:]
    var stdinBuffer = ReceiveBuffer()
    var stdinWaiters: [PendingIO] = []
    var stdinReading = false

    /// Operations started, bytes read and written, handles open (statistics).
    let operations = Atomic<Int>(0)
    let bytesRead = Atomic<Int>(0)
    let bytesWritten = Atomic<Int>(0)
    let openHandles = Atomic<Int>(0)

    /// `finish` stores a result and makes the process runnable (its wake CAS), returning whether
    /// it won; `inject` queues a batch of such processes (both called on the IO thread).
    init(atoms: AtomTable, finish: @escaping (IORequest, MessageNode) -> Bool, inject: @escaping ([UInt]) -> Void) {
        HostSignals.ignoreBrokenPipes()
        self.atoms = atoms
        okAtom = atoms.intern("ok")
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
        fence.wrappingAdd(1, ordering: .sequentiallyConsistent)
        uv_async_send(wakeup)
    }

    /// Closes every handle and the loop, and waits for the thread to end.
    func stop() {
        queue.withLock { _ in stopping = true }
        fence.wrappingAdd(1, ordering: .sequentiallyConsistent)
        uv_async_send(wakeup)
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
    }

    /// The IO thread: runs the loop until `closeEverything` closed its last handle.
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

    /// At shutdown: closes every handle, answers every waiting request, then the loop's own handles.
    private func closeEverything() {
        for id in Array(handles.keys) { closeHandle(id) }
        for waiter in stdinWaiters { complete(waiter, .error("ECANCELED", "the VM is stopping")) }
        for waiter in Array(waiting.values) { complete(waiter, .error("ECANCELED", "the VM is stopping")) }
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
}
