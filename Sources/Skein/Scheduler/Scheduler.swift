import Synchronization

/// The work-stealing pool: workers, the global queue and the idle/parking protocol.
///
/// Where runnable processes go:
/// - woken by a send on a worker → that worker's next slot (`Worker.pushNext`);
/// - spawned on a worker, or out of budget → the back of that worker's queue;
/// - made runnable off the pool (host, timeout thread, IO) → the global queue.
/// Every push except into a next slot is followed by `Idle.notify()`.
final class Scheduler: @unchecked Sendable {
    // Sendable: `workers` is set in `init`, before any thread starts; the rest is atomic or constant.
    /// The workers, fixed at start.
    private(set) var workers: [Worker] = []
    /// The same workers, unretained, for thieves: reading `workers` retained the array and each
    /// victim, read-modify-writes on lines that every worker shares (a victim's reference count
    /// sits beside its next slot).
    private(set) var peers = UnsafeMutableBufferPointer<Unmanaged<Worker>>(start: nil, count: 0)
    /// The global queue.
    let global = GlobalQueue()
    /// Free message nodes shared by the workers' node caches.
    let nodeDepot = NodeDepot()
    /// Parking.
    let idle: Idle
    /// Workers beyond the cores, standing by for workers blocked in host calls.
    let standby: Standby
    /// The runtime that owns this pool. Unretained, which is sound: the VM stops the pool
    /// (joining every worker) before it lets the runtime go.
    unowned(unsafe) let runtime: Runtime
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)
    /// Bumped by each worker thread as it exits; `stop` sleeps on it.
    private let exits = FutexWord()

    /// A pool of `count` workers of which at most `running` run processes at once (`Standby`).
    init(workers count: Int, running: Int, runtime: Runtime) {
        self.runtime = runtime
        idle = Idle(workers: count)
        standby = Standby(workers: count, cores: running)
        workers = (0..<count).map { Worker(index: $0, scheduler: self) }
        peers = .allocate(capacity: count)
        _ = peers.initialize(from: workers.map { Unmanaged.passUnretained($0) })
    }

    deinit {
        peers.deallocate()
    }

    /// Starts the worker threads.
    func start() {
        running.store(workers.count, ordering: .sequentiallyConsistent)
        for w in workers { w.start() }
    }

    /// Whether shutdown has begun.
    @inline(__always) var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Queues a process from outside the pool.
    func inject(_ process: Process) {
        global.push(UInt(bitPattern: Unmanaged.passUnretained(process).toOpaque()))
        idle.notify()
    }

    /// Queues a batch of processes from outside the pool with one lock and one wake-up.
    func inject(_ batch: [UInt]) {
        global.push(batch)
        idle.notify()
    }

    /// Stops every worker after its current slice and waits for all of them.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        idle.wakeAll()
        standby.close()
        while true {
            let ticket = exits.ticket()
            if running.load(ordering: .sequentiallyConsistent) == 0 { break }
            idle.wakeAll()
            exits.wait(ticket: ticket, timeoutNanoseconds: 10_000_000)
        }
    }

    /// Called by each worker thread as it exits.
    func workerStopped() {
        // The decrement comes last: once `stop` sees 0 it returns and the pool may be freed, so
        // the worker must not touch `exits` after it. (A stopper that took its ticket after the
        // bump waits out its 10 ms timeout and looks again.)
        exits.bump()
        exits.wakeAll()
        running.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }
}
