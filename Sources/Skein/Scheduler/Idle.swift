import Synchronization

/// Parking and waking of workers, without lost wake-ups.
///
/// One word counts searching workers (low 32 bits) and sleeping workers (high 32 bits); a
/// futex word `epoch` is what sleepers wait on.
///
/// Protocol
/// - Producer (after publishing work in any queue): `notify()` does a sequentially consistent
///   read-modify-write of the counts (a full barrier after the publish) and wakes one sleeper
///   if nobody is searching and someone sleeps. A searcher will find the work, or hand over.
/// - Searcher that finds work: `stopSearching()`; the last searcher to stop wakes a
///   replacement if anyone sleeps, so remaining work keeps a searcher.
/// - Worker going to sleep: reads `epoch` (its ticket), moves itself to the sleeping count
///   with a read-modify-write, *then* rescans every queue; only if that finds nothing does it
///   wait on `epoch` with its ticket.
///
/// Why no wake-up is lost: take a producer P and a parking worker W. The counts RMWs are
/// totally ordered. If P's comes first, W's rescan (after its own RMW, which reads P's value
/// and so synchronises with it) sees P's work. If W's comes first, P sees a sleeper: either it
/// bumps `epoch` (W's futex wait returns at once, since its ticket is stale) or it sees a
/// searcher S, whose own later RMW (to sleep or to stop searching) orders after P's, so S
/// either finds P's work on its rescan or, being the last searcher to stop, wakes W.
///
/// Invariant: `0 ≤ searching`, `searching + sleeping ≤ workers` (asserted in tests).
final class Idle: @unchecked Sendable {
    // Sendable: every field is an atomic, a futex word or a constant.
    private let counts = Atomic<UInt64>(0)
    /// What sleepers wait on: bumped by every wake-up, so a ticket taken before it is stale.
    private let epoch = FutexWord()
    private let workers: Int
    /// Wake-ups issued (statistics).
    let wakeups = Atomic<Int>(0)

    private static let sleeperUnit: UInt64 = 1 << 32

    init(workers: Int) {
        self.workers = workers
    }

    /// (searching, sleeping), a snapshot.
    var snapshot: (searching: Int, sleeping: Int) {
        let c = counts.load(ordering: .sequentiallyConsistent)
        return (Int(c & 0xFFFF_FFFF), Int(c >> 32))
    }

    /// Producer: call after publishing work.
    @inline(__always) func notify() {
        let c = counts.wrappingAdd(0, ordering: .sequentiallyConsistent).newValue
        if c & 0xFFFF_FFFF == 0 && c >> 32 > 0 { wakeOne() }
    }

    private func wakeOne() {
        epoch.bump()
        wakeups.wrappingAdd(1, ordering: .relaxed)
        epoch.wakeOne()
    }

    /// Worker: try to become a searcher (at most half the workers search at once).
    func startSearching() -> Bool {
        var c = counts.load(ordering: .relaxed)
        while true {
            let searching = Int(c & 0xFFFF_FFFF)
            if 2 * searching >= max(workers, 2) { return false }
            let (exchanged, original) = counts.compareExchange(expected: c, desired: c + 1, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            c = original
        }
    }

    /// Worker: a searcher found work.
    func stopSearching() {
        let before = counts.wrappingSubtract(1, ordering: .sequentiallyConsistent).oldValue
        assert(before & 0xFFFF_FFFF > 0, "stopSearching without a searcher")
        if before & 0xFFFF_FFFF == 1 && before >> 32 > 0 { wakeOne() }
    }

    /// Worker: first half of parking. Returns the ticket to wait with.
    func prepareToPark(wasSearching: Bool) -> UInt32 {
        let ticket = epoch.ticket()
        let delta = Idle.sleeperUnit &- (wasSearching ? 1 : 0)
        let after = counts.wrappingAdd(delta, ordering: .sequentiallyConsistent).newValue
        assert(Int(after & 0xFFFF_FFFF) + Int(after >> 32) <= workers, "more searchers and sleepers than workers")
        return ticket
    }

    /// Worker: the rescan found work after `prepareToPark`; it is awake (not searching).
    func cancelPark() {
        counts.wrappingSubtract(Idle.sleeperUnit, ordering: .sequentiallyConsistent)
    }

    /// Worker: sleeps until woken (or spuriously), then counts itself as searching.
    func park(ticket: UInt32) {
        epoch.wait(ticket: ticket)
        counts.wrappingAdd(1 &- Idle.sleeperUnit, ordering: .sequentiallyConsistent)
    }

    /// Wakes every sleeper (shutdown).
    func wakeAll() {
        epoch.bump()
        epoch.wakeAll()
    }
}
