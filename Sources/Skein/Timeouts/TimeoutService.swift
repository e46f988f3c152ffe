import CSkeinSupport
import Foundation
import Synchronization

/// The timeout thread: ends `recv` timeouts and `sleep`s, host mailboxes' receive timeouts,
/// and a run's wall-clock deadline (`VM.Options.deadline`).
///
/// Workers arm timeouts through `arm`, which appends to a pending list under a lock; the thread
/// alone owns the heap. It sleeps on a futex until the earliest deadline, and an `arm` with an
/// earlier deadline than the one it sleeps for bumps the futex word to wake it early.
///
/// Invariants
/// - Every armed entry is either fired (its wake CAS attempted at or after its deadline) or
///   dropped as stale; none is fired early.
/// - No lost early wake-up: the thread publishes `sleepUntil` and takes its futex ticket under
///   the same lock an `arm` takes, so an `arm` either is drained before the thread sleeps or
///   sees `sleepUntil` and bumps the ticket, which makes the futex wait return at once.
/// - Lazy invalidation: a process woken before its deadline reports it in O(1) with
///   `noteStale()`; when stale entries exceed half the heap (and a minimum), the heap is purged.
final class TimeoutService: @unchecked Sendable {
    // Sendable: shared state is the locked pending list and atomics; the heap is the thread's own.
    private struct Pending {
        var entries: [TimeoutEntry] = []
        /// Deadline the thread sleeps until (`Int64.max`: no deadline; `Int64.min`: awake).
        var sleepUntil: Int64 = .min
        /// When the run must end (`Int64.max`: no deadline armed).
        var runDeadline: Int64 = .max
        var stopping = false
    }
    private let pending = Locked(Pending())
    /// What the thread sleeps on: bumped by an earlier `arm`, by `stop`, and by the thread as
    /// it finishes (for `stop` to see).
    private let wakeWord = FutexWord()
    private let stale = Atomic<Int>(0)
    private let wakeProcess: (Process, ProcessState) -> Bool
    private let endRun: () -> Void
    private var thread: Thread?
    private let finished = Atomic<Bool>(false)
    /// Timeouts fired (statistics).
    let fired = Atomic<Int>(0)
    /// Entries dropped by purges (statistics).
    let purged = Atomic<Int>(0)

    /// `wakeProcess` wakes a process from the suspension a timeout was armed for, if the
    /// timeout wins the wake, and schedules it (true when it won); `endRun` ends the run when
    /// its deadline passes.
    init(wakeProcess: @escaping (Process, ProcessState) -> Bool, endRun: @escaping () -> Void) {
        self.wakeProcess = wakeProcess
        self.endRun = endRun
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "skein-timeouts"
        self.thread = thread
        thread.start()
    }

    /// Arms a timeout for the suspension `state` of `process`, `milliseconds` from now.
    func arm(_ process: Process, state: ProcessState, milliseconds: Int) {
        arm(process, state: state, deadline: skein_monotonic_ns() + Int64(max(milliseconds, 0)) * 1_000_000)
    }

    /// Arms a timeout for the suspension `state` of `process` at `deadline` (monotonic ns).
    func arm(_ process: Process, state: ProcessState, deadline: Int64) {
        let entry = TimeoutEntry(deadline: deadline, process: Unmanaged.passUnretained(process), state: state)
        schedule(deadline) { $0.entries.append(entry) }
    }

    /// Arms the run's deadline (monotonic ns): at it, `endRun` is called once. A later call
    /// replaces an earlier deadline.
    func armRunDeadline(_ deadline: Int64) {
        schedule(deadline) { $0.runDeadline = deadline }
    }

    /// Records something due at `deadline` with `record`, waking the thread if it sleeps past it.
    private func schedule(_ deadline: Int64, _ record: (inout Pending) -> Void) {
        let mustWake = pending.withLock { p -> Bool in
            record(&p)
            if deadline < p.sleepUntil {
                p.sleepUntil = .min
                wakeWord.bump()
                return true
            }
            return false
        }
        if mustWake { wakeWord.wakeOne() }
    }

    /// A process with an armed timeout was woken by something else: its entry is now stale.
    func noteStale() { stale.wrappingAdd(1, ordering: .relaxed) }

    /// Stops the thread and waits for it.
    func stop() {
        pending.withLock { p in
            p.stopping = true
            wakeWord.bump()
        }
        wakeWord.wakeOne()
        while true {
            let ticket = wakeWord.ticket()
            if finished.load(ordering: .acquiring) { break }
            wakeWord.wait(ticket: ticket, timeoutNanoseconds: 1_000_000)
        }
    }

    private func run() {
        var heap = TimeoutHeap()
        var batch: [TimeoutEntry] = []
        while true {
            let (stopping, runIsDue, ticket, sleepUntil): (Bool, Bool, UInt32, Int64) = pending.withLock { p in
                swap(&batch, &p.entries)
                for entry in batch { heap.insert(entry) }
                batch.removeAll(keepingCapacity: true)
                let now = skein_monotonic_ns()
                let runIsDue = p.runDeadline <= now
                if runIsDue { p.runDeadline = .max }
                let next = min(heap.earliest ?? .max, p.runDeadline)
                p.sleepUntil = next <= now ? .min : next
                return (p.stopping, runIsDue, wakeWord.ticket(), p.sleepUntil)
            }
            if stopping { break }
            if runIsDue { endRun() }
            fireDue(&heap)
            purgeIfStale(&heap)
            if sleepUntil == .min { continue }
            let timeout = sleepUntil == .max ? -1 : max(0, sleepUntil - skein_monotonic_ns())
            wakeWord.wait(ticket: ticket, timeoutNanoseconds: timeout)
        }
        finished.store(true, ordering: .releasing)
        wakeWord.bump()
        wakeWord.wakeAll()
    }

    private func fireDue(_ heap: inout TimeoutHeap) {
        let now = skein_monotonic_ns()
        while let entry = heap.popDue(now: now) {
            let process = entry.process.takeUnretainedValue()
            if wakeProcess(process, entry.state) {
                fired.wrappingAdd(1, ordering: .relaxed)
            } else {
                // Woken earlier: the entry was stale.
                if stale.load(ordering: .relaxed) > 0 { stale.wrappingSubtract(1, ordering: .relaxed) }
            }
        }
    }

    private func purgeIfStale(_ heap: inout TimeoutHeap) {
        let staleCount = stale.load(ordering: .relaxed)
        guard staleCount >= 1024, staleCount * 2 > heap.count else { return }
        let dropped = heap.purge { entry in
            entry.process.takeUnretainedValue().state.load().raw != entry.state.raw
        }
        stale.subtract(min(dropped, staleCount), ordering: .relaxed)
        purged.wrappingAdd(dropped, ordering: .relaxed)
    }
}
