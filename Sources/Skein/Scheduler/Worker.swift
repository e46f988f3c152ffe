import Foundation
import CSkeinSupport
import Synchronization

/// Per-worker statistics, written by the worker (relaxed atomics so `--stats` and tests can
/// read them from another thread). A non-copyable struct stored inline in its `Worker`, so
/// bumping a counter costs no reference counting.
struct WorkerStats: ~Copyable {
    let slices = Atomic<Int>(0)
    let steals = Atomic<Int>(0)
    let parks = Atomic<Int>(0)
    /// Times this worker returned from a park because it was woken (not at shutdown).
    let wakeups = Atomic<Int>(0)
    let messagesSent = Atomic<Int>(0)
    let messagesReceived = Atomic<Int>(0)
    let spawned = Atomic<Int>(0)
    let nextSlotRuns = Atomic<Int>(0)
}

extension Atomic where Value == Int {
    /// Adds one without a locked instruction: for counters with a single writer.
    @inline(__always) func increment() {
        store(load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }
}

/// One worker thread of the pool: a local run queue, a stealable next slot, and the loop that
/// finds a process and runs a slice of it.
///
/// The next slot (the LIFO slot of tokio, `runnext` of Go) holds the process most recently
/// woken by a send on this worker. It runs as soon as the current process stops, inheriting
/// what is left of the slice, at most `maxNextSlotStreak` times in a row, so a ping-pong pair
/// stays on one warm core without starving the queue.
///
/// Invariants
/// - `next` holds 0 or one process; the owner swaps it, a thief may take it with an exchange,
///   so each process in it is taken exactly once.
/// - A push into `next` does *not* notify idle workers (the lesson of tokio PR 7431's revert:
///   it doubled wake-ups). It cannot strand work: the owner is running and reaches the slot at
///   the end of the current slice, which reductions bound; before anything that could block the
///   owner, `offerWork()` wakes a helper.
final class Worker: @unchecked Sendable {
    // Sendable: what thieves and readers touch is atomic; the rest is the worker thread's own.
    /// Position in the pool.
    let index: Int
    /// Local run queue.
    let queue = RunQueue()
    /// The next slot (an `Unmanaged<Process>` bit pattern or 0).
    let next = Atomic<UInt>(0)
    /// Statistics.
    let stats = WorkerStats()
    /// Free small message nodes (owner only), trading magazines with the pool's depot.
    let nodeCache: NodeCache
    /// Free process-table slots (owner only).
    let slotCache = SlotCache()
    /// Slices started by this worker; a thief reads it to tell a worker that is making progress
    /// (it will reach its own next slot soon) from one stuck in a long call.
    let sliceStamp = Atomic<Int>(0)
    /// The pool (which owns this worker; `unowned(unsafe)` keeps reference counting off the
    /// scheduling path, and is sound because the pool outlives its workers' threads).
    unowned(unsafe) let scheduler: Scheduler
    /// The pool's global queue and parking, unretained like `scheduler` (the pool owns them
    /// for longer than this worker's thread runs): reading them through `scheduler` retained
    /// and released each, twice per wake-up on the message path.
    private let globalQueue: Unmanaged<GlobalQueue>
    private let idleWorkers: Unmanaged<Idle>
    /// The runtime, unretained for the same reason: through `scheduler`, every slice retained
    /// and released it, on the one object all workers share.
    private let runtime: Unmanaged<Runtime>
    private var thread: Thread?
    private var random: UInt64
    /// Scheduling ticks: calls to `findWork` so far (the global-queue interval counts them).
    private(set) var tick = 0
    private var stealBatch: [UInt] = []

    /// Reductions per slice. BEAM's value before OTP 20 (4000 since): long enough that the
    /// switch between processes (a queue pop and a few stores) is small beside the slice, short
    /// enough that a busy process hands its worker over many times a millisecond.
    static let sliceBudget = 2000
    /// Stack of a worker thread. Walks over values recurse up to `ValueDepth.limit` levels:
    /// about 200 bytes each in a release build (2 MiB at the limit), but AddressSanitizer's
    /// instrumented frames are several times larger, and the run fuzzer overflowed 16 MiB
    /// printing a value 10,000 levels deep. 64 MiB covers instrumented builds with room for host
    /// functions; it is address space, and only the pages touched are ever committed.
    static let threadStackBytes = 64 << 20
    /// Longest run of next-slot processes before the queue gets a turn. Tokio's bound on its
    /// LIFO slot too: a ping-pong pair still makes three hand-offs per slice on a warm core, and
    /// a third process waiting in the queue is not starved by them
    /// (`aThirdProcessProgressesBesidePingPong`).
    static let maxNextSlotStreak = 3
    /// How long a thief lets a worker reach its own next slot before taking it. A worker that is
    /// making progress starts a slice far more often than this (a slice of `sliceBudget`
    /// reductions lasts microseconds), so a slice stamp unchanged after 50 µs means the worker is
    /// stuck in a long call. The wait happens only on the last scan before parking, where it
    /// delays nothing runnable; shorter waits let thieves split producer/consumer pairs (see
    /// ARCHITECTURE.md, "The next slot").
    static let nextSlotGraceMicroseconds: UInt32 = 50
    /// Every this many scheduling ticks, the global queue is served first, so work injected by
    /// the host, the timeout thread and IO waits at most this many slices even on a worker whose
    /// local queue never empties, while the global queue's lock stays off the common path. 61
    /// is Go's value (and tokio's before it tuned the interval itself): a prime, so the check
    /// does not fall into step with a program's own period (a ring of 2, 4 or 64 processes).
    static let globalQueueInterval = 61

    init(index: Int, scheduler: Scheduler) {
        self.index = index
        self.scheduler = scheduler
        self.nodeCache = NodeCache(depot: scheduler.nodeDepot)
        self.globalQueue = .passUnretained(scheduler.global)
        self.idleWorkers = .passUnretained(scheduler.idle)
        self.runtime = .passUnretained(scheduler.runtime)
        self.random = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15
    }

    deinit {
        nodeCache.destroy()
        slotCache.destroy()
    }

    func start() {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "skein-worker-\(index)"
        thread.stackSize = Worker.threadStackBytes
        self.thread = thread
        thread.start()
    }

    /// Puts a process woken by the running process into the next slot; the one it displaces
    /// goes to the back of the local queue (and that push does notify).
    @inline(__always) func pushNext(_ process: Process) {
        let previous = next.exchange(UInt(bitPattern: Unmanaged.passUnretained(process).toOpaque()), ordering: .acquiringAndReleasing)
        if previous != 0 {
            enqueue(previous)
            notifyIdle()
        }
    }

    /// Queues a runnable process at the back of the local queue.
    @inline(__always) func pushBack(_ process: Process, notify: Bool = true) {
        enqueue(UInt(bitPattern: Unmanaged.passUnretained(process).toOpaque()))
        if notify { notifyIdle() }
    }

    /// Before a long blocking call: make sure another worker can take this worker's queued
    /// work and next slot.
    func offerWork() {
        if next.load(ordering: .relaxed) != 0 || queue.count > 0 { notifyIdle() }
    }

    /// Before a blocking host call: offers this worker's work, and lends its core to a
    /// standing-by worker (`Standby`).
    func willBlock() {
        offerWork()
        if scheduler.standby.isUsed { scheduler.standby.lend() }
    }

    /// After the blocking call: takes the core back (the surplus stands by at its next chance).
    func didUnblock() {
        if scheduler.standby.isUsed { scheduler.standby.reclaim() }
    }

    /// Stands by (`Standby`): hands the processes queued here (ring and next slot) to the global
    /// queue, so nothing runnable waits on a worker that does not run, then waits until it is
    /// needed again. False when the pool is stopping.
    private func standBy() -> Bool {
        var handed: [UInt] = []
        if let parked = takeNext() { handed.append(UInt(bitPattern: parked.toOpaque())) }
        while let bits = queue.pop() { handed.append(bits) }
        if !handed.isEmpty { scheduler.inject(handed) }
        return scheduler.standby.waitUntilNeeded()
    }

    /// Pushes a process's bits onto the local ring (its older half overflows to the global queue).
    @inline(__always) private func enqueue(_ bits: UInt) {
        globalQueue._withUnsafeGuaranteedRef { queue.push(bits, overflow: $0) }
    }

    /// Wakes a parked worker if nobody is searching (`Idle.notify`).
    @inline(__always) private func notifyIdle() {
        idleWorkers._withUnsafeGuaranteedRef { $0.notify() }
    }

    private func takeNext() -> Unmanaged<Process>? {
        let bits = next.exchange(0, ordering: .acquiringAndReleasing)
        return bits == 0 ? nil : Worker.process(bits)
    }

    /// Queues hold processes as unretained bit patterns; process objects are type-stable (the
    /// process table owns them), so the scheduler borrows them without reference counting.
    @inline(__always) static func process(_ bits: UInt) -> Unmanaged<Process> {
        Unmanaged<Process>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }

    // MARK: The loop

    private func run() {
        var searching = false
        if scheduler.standby.startsStandingBy(index), !scheduler.standby.waitUntilNeeded() {
            scheduler.workerStopped()
            return
        }
        while !scheduler.isStopping {
            var found = findWork(searching: &searching)
            // Nothing found: a searcher keeps looking for a moment before it parks.
            if found == nil, searching { found = spinForWork(searching: &searching) }
            if let process = found {
                if searching {
                    searching = false
                    scheduler.idle.stopSearching()
                }
                runChain(process)
                if scheduler.standby.isUsed, scheduler.standby.shouldStandBy(), !standBy() { break }
                continue
            }
            // Still nothing: park, rescanning after announcing it.
            let ticket = scheduler.idle.prepareToPark(wasSearching: searching)
            searching = false
            if scheduler.isStopping { scheduler.idle.cancelPark(); break }
            var rescanning = true  // counted as sleeping: steal without the searcher limit
            if let process = findWork(searching: &rescanning, includeNextSlots: true) {
                scheduler.idle.cancelPark()
                runChain(process)
                continue
            }
            stats.parks.increment()
            scheduler.idle.park(ticket: ticket)
            if !scheduler.isStopping { stats.wakeups.increment() }
            searching = true
        }
        scheduler.workerStopped()
    }

    /// Searches again and again for up to `spinMicroseconds`, yielding the core between
    /// scans, before the worker parks.
    ///
    /// Why: in message-passing workloads work comes back within microseconds, and a parked
    /// worker costs a futex wake-up, a system call on the producer's critical path, for each
    /// return. While this worker counts as searching, `Idle.notify` wakes nobody (the searcher
    /// will find the work), as Go's spinning threads do. Measured on concdict at 2 workers:
    /// 50,351 futex wake-ups in a run without the spin, 4,635 with it. `sched_yield` between
    /// scans gives the core to any other runnable thread, so a spinning worker takes little from
    /// a busy one when there are more workers than cores; and an idle VM parks after the spin, so
    /// idle stays idle. (200 µs measured no better than 50 on concdict, chameneos, philosophers
    /// and counting.)
    private func spinForWork(searching: inout Bool) -> Unmanaged<Process>? {
        let deadline = skein_monotonic_ns() + Worker.spinMicroseconds * 1000
        while !scheduler.isStopping {
            skein_yield()
            if let process = findWork(searching: &searching) { return process }
            if !searching || skein_monotonic_ns() > deadline { return nil }
        }
        return nil
    }

    /// How long a worker that found nothing keeps searching before it parks.
    static let spinMicroseconds: Int64 = 50

    /// Runs `first` and then, while the slice budget lasts, processes woken into the next slot.
    private func runChain(_ first: Unmanaged<Process>) {
        var budget = Worker.sliceBudget
        var process = first
        var streak = 0
        while true {
            stats.slices.increment()
            sliceStamp.increment()
            runtime._withUnsafeGuaranteedRef { runtime in
                process._withUnsafeGuaranteedRef { runtime.runSlice($0, worker: self, budget: &budget) }
            }
            guard budget > 0, streak < Worker.maxNextSlotStreak, let following = takeNext() else { break }
            stats.nextSlotRuns.increment()
            streak += 1
            process = following
        }
        // The streak is over: the process woken by the last slice goes to the back of the queue
        // without waking a helper. It is the partner of what just ran (it was woken by a
        // message from it), and this worker reaches it within a slice; waking another worker
        // here split producer/consumer pairs across the cores at every slice (counting swung
        // between 160 and 480 ms). Independent work still spreads: a process that uses up its
        // slice while others are queued notifies (`runSlice`'s `.exhausted` path).
        if let parked = takeNext() { enqueue(UInt(bitPattern: parked.toOpaque())) }
    }

    /// Finds a runnable process, looking in this order: the global queue first on every
    /// `globalQueueInterval`-th tick (fairness); then this worker's next slot, its ring, the
    /// global queue; then, as a searcher (if fewer than half the workers search), the rings of
    /// the others in random order, and their next slots too when `includeNextSlots`.
    ///
    /// Other workers' next slots are only taken on the last scan before parking: a process
    /// woken into a next slot is about to run on its waker's warm core, and stealing it at once
    /// would split message-passing pairs across cores (Go waits before stealing `runnext` for
    /// the same reason). It never waits longer than the waker's slice.
    ///
    /// (Internal, not private, for `WorkerTests`, which check the order on workers that have no
    /// thread.)
    func findWork(searching: inout Bool, includeNextSlots: Bool = false) -> Unmanaged<Process>? {
        tick &+= 1
        if tick % Worker.globalQueueInterval == 0, let p = takeFromGlobal() { return p }
        if let p = takeNext() { return p }
        if let bits = queue.pop() { return Worker.process(bits) }
        if let p = takeFromGlobal() { return p }
        if !searching {
            guard scheduler.idle.startSearching() else { return nil }
            searching = true
        }
        return steal(includeNextSlots: includeNextSlots)
    }

    private func takeFromGlobal() -> Unmanaged<Process>? {
        guard globalQueue._withUnsafeGuaranteedRef({ $0.length.load(ordering: .acquiring) }) > 0 else { return nil }
        stealBatch.removeAll(keepingCapacity: true)
        // A fair share for each worker (so one worker does not drain a burst the others could
        // run), at most half a ring (so the local push cannot overflow straight back).
        let workers = scheduler.peers.count
        globalQueue._withUnsafeGuaranteedRef { global in
            let share = global.length.load(ordering: .relaxed) / workers + 1
            global.pop(max: min(share, RunQueue.capacity / 2), into: &stealBatch)
        }
        guard let first = stealBatch.first else { return nil }
        for bits in stealBatch.dropFirst() { enqueue(bits) }
        return Worker.process(first)
    }

    private func steal(includeNextSlots: Bool) -> Unmanaged<Process>? {
        let workers = scheduler.peers
        guard workers.count > 1 else { return nil }
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        let start = Int(random % UInt64(workers.count))
        for k in 0..<workers.count {
            let victim = workers[(start + k) % workers.count]
            if victim.toOpaque() == Unmanaged.passUnretained(self).toOpaque() { continue }
            if let stolen = victim._withUnsafeGuaranteedRef({ steal(from: $0, includeNextSlots: includeNextSlots) }) { return stolen }
        }
        return nil
    }

    /// Half of `victim`'s ring, or (when `includeNextSlots`) its next slot if it is not getting
    /// to it.
    private func steal(from victim: Worker, includeNextSlots: Bool) -> Unmanaged<Process>? {
        stealBatch.removeAll(keepingCapacity: true)
        if victim.queue.stealHalf(into: &stealBatch) > 0 {
            stats.steals.increment()
            for bits in stealBatch.dropFirst() { enqueue(bits) }
            return Worker.process(stealBatch[0])
        }
        guard includeNextSlots, victim.next.load(ordering: .acquiring) != 0 else { return nil }
        // Take a next slot only from a worker that is not getting to it: wait a moment and
        // check that it has not started another slice meanwhile.
        let stamp = victim.sliceStamp.load(ordering: .acquiring)
        usleep(Worker.nextSlotGraceMicroseconds)
        guard victim.sliceStamp.load(ordering: .acquiring) == stamp else { return nil }
        let bits = victim.next.exchange(0, ordering: .acquiringAndReleasing)
        guard bits != 0 else { return nil }
        stats.steals.increment()
        return Worker.process(bits)
    }
}
