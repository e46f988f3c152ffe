import Synchronization

/// Workers beyond the cores: a pool of more workers than cores runs processes on at most as
/// many workers as there are cores, and the others stand by for workers blocked in host calls.
///
/// Why: with 4 workers busy on 2 cores, the kernel time-slices them, so a worker is preempted
/// in the middle of a slice (with the process whose message everyone waits for), processes
/// hop between four threads' caches, and pairs that talk are spread over four queues. At 4
/// workers chameneos, philosophers and concdict took 12–25% longer than at 2 (BENCHMARKS.md,
/// scaling). What extra workers are for is a worker stuck in a blocking host call: Go's threads
/// beyond GOMAXPROCS serve the same purpose, and BEAM takes schedulers offline the same way.
///
/// State, one atomic word: `active` (workers allowed to run processes: not standing by),
/// `borrowed` (active workers inside a blocking host call) and wake tokens (standby workers
/// made active and not yet running).
///
/// Protocol
/// - At start, workers `0..<limit` are active; the others wait (`waitUntilNeeded`).
/// - A worker about to block in a host call `lend`s its core: `borrowed += 1`, and if fewer
///   workers are active than `limit + borrowed` and one stands by, one compare-and-swap makes
///   it active (`active += 1`, a token) and the lender wakes it.
/// - When the call returns, `reclaim` gives the core back (`borrowed -= 1`); one worker too
///   many is now active.
/// - Between chains, each worker asks `shouldStandBy`: while more are active than
///   `limit + borrowed`, one compare-and-swap takes a worker out (`active -= 1`), and that
///   worker hands its queued processes to the global queue and waits. So the surplus lasts at
///   most one chain of slices.
///
/// Invariants: `limit ≤ active ≤ workers` outside a step in progress (a worker leaves only
/// while `active > limit + borrowed ≥ limit`, and joins only while `active < workers`); a
/// standing-by worker holds no queued process (it handed them off before waiting), so nothing
/// runnable waits on it; every token stands for one worker counted active and still waiting,
/// and any waiting worker may claim any token (as in `Idle`).
final class Standby: @unchecked Sendable {
    // Sendable: every field is an atomic, a futex word or a constant.
    /// Most workers running processes at once when none is blocked: the cores.
    let limit: Int
    /// Workers in the pool.
    let workers: Int
    private let state: Atomic<UInt64>
    /// What standing-by workers wait on.
    private let word = FutexWord()
    /// Set by `close`: waiting workers return for good (shutdown).
    private let closed = Atomic<Bool>(false)
    /// Times a worker stood by (statistics).
    let standDowns = Atomic<Int>(0)

    /// The state's fields (`PackedCounts`): active, borrowed, tokens.
    private static let activeUnit = PackedCounts.unit(0)
    private static let borrowedUnit = PackedCounts.unit(1)
    private static let tokenUnit = PackedCounts.unit(2)

    @inline(__always) private static func active(_ s: UInt64) -> Int { PackedCounts.count(0, of: s) }
    @inline(__always) private static func borrowed(_ s: UInt64) -> Int { PackedCounts.count(1, of: s) }
    @inline(__always) private static func tokens(_ s: UInt64) -> Int { PackedCounts.count(2, of: s) }

    /// A pool of `workers` on a machine with `cores` cores.
    init(workers: Int, cores: Int) {
        precondition(workers >= 1 && workers <= PackedCounts.maxCount)
        self.workers = workers
        limit = min(workers, max(cores, 1))
        state = Atomic(UInt64(limit))
    }

    /// Whether any worker can stand by at all (more workers than cores).
    var isUsed: Bool { workers > limit }

    /// Whether the worker at `index` starts standing by.
    func startsStandingBy(_ index: Int) -> Bool { index >= limit }

    /// (active, borrowed), a snapshot for tests.
    var snapshot: (active: Int, borrowed: Int) {
        let s = state.load(ordering: .sequentiallyConsistent)
        return (Standby.active(s), Standby.borrowed(s))
    }

    /// An active worker is about to block in a host call: a standing-by worker may run meanwhile.
    func lend() {
        var s = state.wrappingAdd(Standby.borrowedUnit, ordering: .sequentiallyConsistent).newValue
        while Standby.active(s) < limit + Standby.borrowed(s) && Standby.active(s) < workers {
            let (exchanged, original) = state.compareExchange(expected: s, desired: s &+ Standby.activeUnit &+ Standby.tokenUnit,
                                                              ordering: .sequentiallyConsistent)
            if exchanged {
                word.bump()
                word.wakeOne()
                return
            }
            s = original
        }
    }

    /// The blocking call returned: the surplus it leaves stands by at its next chance.
    func reclaim() {
        let before = state.wrappingSubtract(Standby.borrowedUnit, ordering: .sequentiallyConsistent).oldValue
        assert(Standby.borrowed(before) > 0, "reclaim without lend")
    }

    /// A worker between chains: true if it must stand by now (it is then counted out of the
    /// active workers, and must hand off its queued processes and `waitUntilNeeded`).
    @inline(__always) func shouldStandBy() -> Bool {
        var s = state.load(ordering: .relaxed)
        while Standby.active(s) > limit + Standby.borrowed(s) {
            let (exchanged, original) = state.compareExchange(expected: s, desired: s &- Standby.activeUnit, ordering: .sequentiallyConsistent)
            if exchanged {
                standDowns.wrappingAdd(1, ordering: .relaxed)
                return true
            }
            s = original
        }
        return false
    }

    /// A standing-by worker: waits until it is made active (it claims a token) or the pool
    /// closes. Returns false when closed.
    func waitUntilNeeded() -> Bool {
        while true {
            // The ticket first: a token added after the claim below fails comes with a bump
            // after it, which makes the wait return at once.
            let ticket = word.ticket()
            if closed.load(ordering: .acquiring) { return false }
            if claimToken() { return true }
            word.wait(ticket: ticket)
        }
    }

    private func claimToken() -> Bool {
        var s = state.load(ordering: .sequentiallyConsistent)
        while Standby.tokens(s) > 0 {
            let (exchanged, original) = state.compareExchange(expected: s, desired: s &- Standby.tokenUnit, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            s = original
        }
        return false
    }

    /// Wakes every standing-by worker for good (shutdown).
    func close() {
        closed.store(true, ordering: .releasing)
        word.bump()
        word.wakeAll()
    }
}
