import Synchronization

/// A worker's local run queue: a bounded ring with one producer (its worker) and many
/// consumers (its worker popping, other workers stealing half). Modelled on Go's `runq`.
///
/// Invariants
/// - Only the owner writes `tail` and the slots; anyone may advance `head`, and only with a
///   CAS, so each queued item is taken by exactly one popper or stealer (conservation).
/// - `tail - head` (wrapping) is always in `0...capacity`.
///
/// Memory orderings
/// - The owner stores a slot (relaxed, atomic because a thief may read it concurrently) and
///   then `tail` with release; consumers load `tail` with acquire before reading slots, so
///   they see the item.
/// - A consumer reads the slots first and then CASes `head` (acquire-release); if the CAS
///   fails, what it read is discarded, so a slot the owner overwrote after wrap-around is
///   never used.
final class RunQueue: @unchecked Sendable {
    // Sendable: `head`, `tail` and every slot are atomics, used by the protocol above.
    /// Number of slots (a power of two, so an index is a mask). 256, as in Go and tokio: 2 KiB
    /// per worker, and enough that a worker spawning a burst overflows to the global queue (one
    /// lock per 128 processes) rarely.
    static let capacity = 256
    private static let mask = UInt32(capacity - 1)
    private let head = Atomic<UInt32>(0)
    private let tail = Atomic<UInt32>(0)
    private let slots: UnsafeMutablePointer<Atomic<UInt>>

    init() {
        slots = .allocate(capacity: RunQueue.capacity)
        for i in 0..<RunQueue.capacity { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit { slots.deallocate() }

    /// Items currently queued (a snapshot).
    var count: Int {
        Int(tail.load(ordering: .acquiring) &- head.load(ordering: .acquiring))
    }

    /// Owner only: appends `item`; when the ring is full, moves the older half of it plus
    /// `item` to `overflow` instead.
    func push(_ item: UInt, overflow: GlobalQueue) {
        while true {
            let h = head.load(ordering: .acquiring)
            let t = tail.load(ordering: .relaxed)
            assert(t &- h <= UInt32(RunQueue.capacity), "ring holds more than its capacity")
            if t &- h < UInt32(RunQueue.capacity) {
                slots[Int(t & RunQueue.mask)].store(item, ordering: .relaxed)
                tail.store(t &+ 1, ordering: .releasing)
                return
            }
            if pushOverflow(item, head: h, tail: t, to: overflow) { return }
        }
    }

    /// Moves the older half of a full ring and `item` to the global queue.
    private func pushOverflow(_ item: UInt, head h: UInt32, tail t: UInt32, to overflow: GlobalQueue) -> Bool {
        let half = UInt32(RunQueue.capacity / 2)
        var batch: [UInt] = []
        batch.reserveCapacity(Int(half) + 1)
        for i in 0..<half { batch.append(slots[Int((h &+ i) & RunQueue.mask)].load(ordering: .relaxed)) }
        guard head.compareExchange(expected: h, desired: h &+ half, ordering: .acquiringAndReleasing).exchanged else {
            return false  // a thief took some: there is room now
        }
        batch.append(item)
        overflow.push(batch)
        return true
    }

    /// Owner only: takes the oldest item.
    func pop() -> UInt? {
        while true {
            let h = head.load(ordering: .acquiring)
            let t = tail.load(ordering: .relaxed)
            if t == h { return nil }
            let item = slots[Int(h & RunQueue.mask)].load(ordering: .relaxed)
            if head.compareExchange(expected: h, desired: h &+ 1, ordering: .acquiringAndReleasing).exchanged {
                return item
            }
        }
    }

    /// Any thread: takes the older half of the items (rounded up) into `into`.
    func stealHalf(into batch: inout [UInt]) -> Int {
        while true {
            let h = head.load(ordering: .acquiring)
            let t = tail.load(ordering: .acquiring)
            let available = t &- h
            if available == 0 { return 0 }
            if available > UInt32(RunQueue.capacity) { continue }  // torn read: retry
            let n = available - available / 2
            let start = batch.count
            for i in 0..<n { batch.append(slots[Int((h &+ i) & RunQueue.mask)].load(ordering: .relaxed)) }
            if head.compareExchange(expected: h, desired: h &+ n, ordering: .acquiringAndReleasing).exchanged {
                return Int(n)
            }
            batch.removeSubrange(start...)
        }
    }
}
