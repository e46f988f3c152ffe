/// Free process-table slots kept by one worker, so that its spawns and exits reach the table's
/// shared free list (and its lock) once per `batch` slots instead of once per process.
///
/// LIFO: the slot a process just left is the next one given out, so its process object, mailbox
/// and kept context memory (`Process.startContext`) are still in this core's cache.
///
/// Invariants
/// - Owner only: one worker thread uses a cache (like `NodeCache`), so nothing is synchronised.
/// - A slot is in at most one place: one cache or the table's shared list, never both.
/// - At most `capacity` slots; a full cache gives half to the shared list.
struct SlotCache: @unchecked Sendable {
    // Sendable: each cache is used only by its worker's thread.
    /// Most slots kept.
    static let capacity = 256
    /// Slots moved between a cache and the table's shared list at once.
    static let batch = capacity / 2

    private struct Storage {
        var count = 0
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: SlotCache.capacity)
    }
    private let storage: UnsafeMutablePointer<Storage>

    /// An empty cache; free it with `destroy()` (the slots it holds stay the table's).
    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: Storage())
    }

    /// Frees the cache's own memory.
    func destroy() {
        storage.pointee.slots.deallocate()
        storage.deallocate()
    }

    /// Slots held.
    var count: Int { storage.pointee.count }

    /// The most recently kept slot, if any.
    @inline(__always) func take() -> Int? {
        guard storage.pointee.count > 0 else { return nil }
        storage.pointee.count -= 1
        return storage.pointee.slots[storage.pointee.count]
    }

    /// Keeps `slot`; false when the cache is full.
    @inline(__always) func keep(_ slot: Int) -> Bool {
        guard storage.pointee.count < SlotCache.capacity else { return false }
        storage.pointee.slots[storage.pointee.count] = slot
        storage.pointee.count += 1
        return true
    }

    /// Moves the `batch` oldest slots out, into `list`.
    func spill(into list: inout [Int]) {
        let n = min(SlotCache.batch, storage.pointee.count)
        for i in 0..<n { list.append(storage.pointee.slots[i]) }
        (storage.pointee.slots).update(from: storage.pointee.slots + n, count: storage.pointee.count - n)
        storage.pointee.count -= n
    }
}
