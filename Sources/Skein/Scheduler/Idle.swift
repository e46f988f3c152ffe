import Synchronization

/// Parking and waking of workers, without lost wake-ups.
///
/// One word holds three counts: searching workers, sleeping workers, and wake tokens (wake-ups
/// issued and not yet claimed). A futex word `epoch` is what sleepers wait on.
///
/// Protocol
/// - Producer (after publishing work in any queue): `notify()` does a sequentially consistent
///   read-modify-write of the counts (a full barrier after the publish) and, if nobody is
///   searching and someone sleeps, wakes one: a compare-and-swap turns one sleeper into a
///   searcher and adds a token, then the producer bumps `epoch` and wakes a futex waiter.
/// - Searcher that finds work: `stopSearching()`; the last searcher to stop wakes a
///   replacement the same way if anyone sleeps, so remaining work keeps a searcher.
/// - Worker going to sleep: reads `epoch` (its ticket), moves itself to the sleeping count
///   with a read-modify-write, *then* rescans every queue. If the rescan finds work it leaves
///   with `cancelPark()`, which claims a token if there is one (it was made a searcher) or
///   else leaves the sleeping count. If not, it waits on `epoch` with its ticket (`park`), and
///   each time the wait returns it claims a token or, finding none, waits again.
///
/// Why the waker does the sleeper's transition: counted as a sleeper until it ran again, a
/// woken worker made every `notify` in between wake another. With more workers than cores a
/// woken thread can wait milliseconds for a core, and chameneos at 4 workers on 2 cores issued
/// 33,158 futex wake-ups in 0.13 s (320 at 2 workers). Now the first wake-up makes a searcher
/// at once, and the `notify`s after it see one and wake nobody.
///
/// Why no wake-up is lost: take a producer P and a parking worker W. The counts' read-modify-
/// writes are totally ordered. If P's comes first, W's rescan (after its own RMW, which reads
/// P's value and so synchronises with it) sees P's work. If W's comes first, P sees a sleeper:
/// either P's compare-and-swap turns a sleeper into a searcher and bumps `epoch` (a waiter
/// whose ticket predates the bump returns at once, and one that took its ticket later found
/// the token before waiting), or P sees a searcher S by then, whose own later RMW (to sleep
/// or to stop searching) orders after P's, so S either finds P's work on its rescan or, being
/// the last searcher to stop, wakes a replacement.
///
/// Why the counts stay right: every token stands for one sleeper already counted as a
/// searcher, and the compare-and-swap that makes it takes a sleeper only while one is counted;
/// a worker leaves the sleepers either by claiming a token or, when there is none, by
/// decrementing the sleeping count, in one compare-and-swap that decides which. So the workers
/// between `prepareToPark` and leaving `park`/`cancelPark` number `sleeping + tokens`, and any
/// of them may claim any token.
///
/// Invariant: `0 ≤ searching`, `searching + sleeping ≤ workers` (asserted in tests).
final class Idle: @unchecked Sendable {
    // Sendable: every field is an atomic, a futex word or a constant.
    private let counts = Atomic<UInt64>(0)
    /// What sleepers wait on: bumped by every wake-up, so a ticket taken before it is stale.
    private let epoch = FutexWord()
    /// Set by `wakeAll`: parked workers return without a token (shutdown).
    private let closed = Atomic<Bool>(false)
    private let workers: Int
    /// Wake-ups issued (statistics).
    let wakeups = Atomic<Int>(0)

    /// The counts' fields (`PackedCounts`): searching, sleeping, tokens.
    private static let searcherUnit = PackedCounts.unit(0)
    private static let sleeperUnit = PackedCounts.unit(1)
    private static let tokenUnit = PackedCounts.unit(2)

    @inline(__always) private static func searching(_ c: UInt64) -> Int { PackedCounts.count(0, of: c) }
    @inline(__always) private static func sleeping(_ c: UInt64) -> Int { PackedCounts.count(1, of: c) }
    @inline(__always) private static func tokens(_ c: UInt64) -> Int { PackedCounts.count(2, of: c) }

    init(workers: Int) {
        precondition(workers <= PackedCounts.maxCount)
        self.workers = workers
    }

    /// (searching, sleeping), a snapshot.
    var snapshot: (searching: Int, sleeping: Int) {
        let c = counts.load(ordering: .sequentiallyConsistent)
        return (Idle.searching(c), Idle.sleeping(c))
    }

    /// Producer: call after publishing work.
    @inline(__always) func notify() {
        let c = counts.wrappingAdd(0, ordering: .sequentiallyConsistent).newValue
        if Idle.searching(c) == 0 && Idle.sleeping(c) > 0 { wakeOne(seen: c) }
    }

    /// Turns a sleeper into a searcher and wakes a waiter, unless by now someone searches (it
    /// will find the work) or nobody sleeps (every worker rescans before it sleeps).
    private func wakeOne(seen: UInt64) {
        var c = seen
        while Idle.searching(c) == 0 && Idle.sleeping(c) > 0 {
            let woken = c &+ Idle.searcherUnit &- Idle.sleeperUnit &+ Idle.tokenUnit
            let (exchanged, original) = counts.compareExchange(expected: c, desired: woken, ordering: .sequentiallyConsistent)
            if exchanged {
                epoch.bump()
                wakeups.wrappingAdd(1, ordering: .relaxed)
                epoch.wakeOne()
                return
            }
            c = original
        }
    }

    /// Worker: try to become a searcher (at most half the workers search at once).
    func startSearching() -> Bool {
        var c = counts.load(ordering: .relaxed)
        while true {
            if 2 * Idle.searching(c) >= max(workers, 2) { return false }
            let (exchanged, original) = counts.compareExchange(expected: c, desired: c &+ Idle.searcherUnit, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            c = original
        }
    }

    /// Worker: a searcher found work.
    func stopSearching() {
        let before = counts.wrappingSubtract(Idle.searcherUnit, ordering: .sequentiallyConsistent).oldValue
        assert(Idle.searching(before) > 0, "stopSearching without a searcher")
        if Idle.searching(before) == 1 && Idle.sleeping(before) > 0 { wakeOne(seen: before &- Idle.searcherUnit) }
    }

    /// Worker: first half of parking. Returns the ticket to wait with.
    func prepareToPark(wasSearching: Bool) -> UInt32 {
        let ticket = epoch.ticket()
        let delta = Idle.sleeperUnit &- (wasSearching ? Idle.searcherUnit : 0)
        let after = counts.wrappingAdd(delta, ordering: .sequentiallyConsistent).newValue
        assert(Idle.searching(after) + Idle.sleeping(after) <= workers, "more searchers and sleepers than workers")
        return ticket
    }

    /// Worker: the rescan found work after `prepareToPark`; it is awake (not searching).
    func cancelPark() {
        if leaveSleepers(claimingOnly: false) { stopSearching() }  // a waker had made it a searcher
    }

    /// Worker: sleeps until a wake-up is claimed (or the pool closes), then counts as searching.
    func park(ticket: UInt32) {
        var ticket = ticket
        while true {
            epoch.wait(ticket: ticket)
            if closed.load(ordering: .acquiring) { return }
            // A new ticket first: a token added after the claim below fails comes with a bump
            // after it, which makes the next wait return at once.
            ticket = epoch.ticket()
            if leaveSleepers(claimingOnly: true) { return }
        }
    }

    /// Leaves the sleepers: claims a token if there is one (true: the worker is counted as
    /// searching); otherwise, unless `claimingOnly`, decrements the sleeping count (false).
    private func leaveSleepers(claimingOnly: Bool) -> Bool {
        var c = counts.load(ordering: .sequentiallyConsistent)
        while true {
            let claims = Idle.tokens(c) > 0
            if !claims && claimingOnly { return false }
            let desired = claims ? c &- Idle.tokenUnit : c &- Idle.sleeperUnit
            let (exchanged, original) = counts.compareExchange(expected: c, desired: desired, ordering: .sequentiallyConsistent)
            if exchanged { return claims }
            c = original
        }
    }

    /// Wakes every sleeper for good (shutdown).
    func wakeAll() {
        closed.store(true, ordering: .releasing)
        epoch.bump()
        epoch.wakeAll()
    }
}
