/// The monitors of one process by reference: reference → pid (the monitored process, for the
/// monitors a process holds; the watcher, for the monitors on it).
///
/// An open-addressing hash table (linear probing) in manually managed memory, one pointer wide,
/// so an idle process pays 8 bytes for each of its two tables and a process that never monitors
/// pays nothing else. A `Dictionary` cost a hash of the full key through `Hasher` and a
/// reference-counted buffer per operation: `monitor` and `demonitor` at each call made the
/// gen_server way are four such operations (moncall).
///
/// Layout: `[count, capacity, tombstones, then capacity (reference, pid) pairs]`. Reference 0
/// marks an empty pair and `UInt64.max` a removed one (references start at 1 and never reach
/// it). The capacity is a power of two, and the table grows (or is rebuilt without its
/// tombstones) before it is three quarters full, so every probe ends at an empty pair.
///
/// Runner only, like the other fault-tolerance fields of `Process`; `release()` frees it.
struct MonitorTable {
    private var storage: UnsafeMutablePointer<UInt64>?

    private static let empty: UInt64 = 0
    private static let removed = UInt64.max
    private static let headerWords = 3
    private static let initialCapacity = 8

    init() {}

    /// Number of entries.
    var count: Int { storage.map { Int($0[0]) } ?? 0 }
    /// Whether there are no entries.
    var isEmpty: Bool { count == 0 }

    /// The pid stored for `reference`; setting nil removes it.
    subscript(reference: UInt64) -> UInt64? {
        get {
            guard let storage, let pair = Self.find(reference, in: storage) else { return nil }
            return storage[pair + 1]
        }
        set {
            if let newValue { insert(reference, newValue) } else { _ = removeValue(forKey: reference) }
        }
    }

    /// Removes `reference` and returns its pid, if it was there.
    mutating func removeValue(forKey reference: UInt64) -> UInt64? {
        guard let storage, let pair = Self.find(reference, in: storage) else { return nil }
        let value = storage[pair + 1]
        storage[pair] = Self.removed
        storage[0] -= 1
        storage[2] += 1
        return value
    }

    /// Removes every entry and frees the memory.
    mutating func release() {
        storage?.deallocate()
        storage = nil
    }

    /// Calls `body` with each entry, in table order. The table must not change meanwhile.
    func forEach(_ body: (_ reference: UInt64, _ pid: UInt64) -> Void) {
        guard let storage else { return }
        let capacity = Int(storage[1])
        for slot in 0..<capacity {
            let pair = Self.headerWords + 2 * slot
            let key = storage[pair]
            if key != Self.empty && key != Self.removed { body(key, storage[pair + 1]) }
        }
    }

    /// The index of `reference`'s pair, if present.
    private static func find(_ reference: UInt64, in storage: UnsafeMutablePointer<UInt64>) -> Int? {
        guard reference != empty && reference != removed else { return nil }  // the markers are no keys
        let mask = Int(storage[1]) - 1
        var slot = home(of: reference, mask: mask)
        while true {
            let pair = headerWords + 2 * slot
            let key = storage[pair]
            if key == reference { return pair }
            if key == empty { return nil }
            slot = (slot + 1) & mask
        }
    }

    /// The first slot probed for `reference` (Fibonacci hashing: references are consecutive
    /// numbers, which the multiplication spreads over the table).
    private static func home(of reference: UInt64, mask: Int) -> Int {
        Int(truncatingIfNeeded: (reference &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    private mutating func insert(_ reference: UInt64, _ pid: UInt64) {
        guard reference != Self.empty && reference != Self.removed else { return }  // never made by `makeReference`
        if let storage, let pair = Self.find(reference, in: storage) {
            storage[pair + 1] = pid
            return
        }
        makeRoomForOne()
        let storage = self.storage!
        let pair = Self.placement(for: reference, in: storage)
        if storage[pair] == Self.removed { storage[2] -= 1 }
        storage[pair] = reference
        storage[pair + 1] = pid
        storage[0] += 1
    }

    /// The pair where `reference`, which is not in the table, goes: the first empty or removed
    /// one on its probe path (there is one: the table is never full).
    private static func placement(for reference: UInt64, in storage: UnsafeMutablePointer<UInt64>) -> Int {
        let mask = Int(storage[1]) - 1
        var slot = home(of: reference, mask: mask)
        while true {
            let pair = headerWords + 2 * slot
            let key = storage[pair]
            if key == empty || key == removed { return pair }
            slot = (slot + 1) & mask
        }
    }

    /// Allocates, grows or rebuilds the table so that one more entry keeps it under three
    /// quarters full, tombstones included.
    private mutating func makeRoomForOne() {
        guard let old = storage else {
            storage = Self.allocate(capacity: Self.initialCapacity)
            return
        }
        let capacity = Int(old[1])
        guard (Int(old[0]) + Int(old[2]) + 1) * 4 > capacity * 3 else { return }
        // Mostly tombstones: rebuild at the same size; else double.
        let newCapacity = (Int(old[0]) + 1) * 2 > capacity ? capacity * 2 : capacity
        let fresh = Self.allocate(capacity: newCapacity)
        storage = fresh
        for slot in 0..<capacity {
            let pair = Self.headerWords + 2 * slot
            let key = old[pair]
            guard key != Self.empty && key != Self.removed else { continue }
            let target = Self.placement(for: key, in: fresh)
            fresh[target] = key
            fresh[target + 1] = old[pair + 1]
            fresh[0] += 1
        }
        old.deallocate()
    }

    private static func allocate(capacity: Int) -> UnsafeMutablePointer<UInt64> {
        let words = headerWords + 2 * capacity
        let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        storage.initialize(repeating: 0, count: words)
        storage[1] = UInt64(capacity)
        return storage
    }
}
