/// A deadline armed for one suspension of one process.
struct TimeoutEntry {
    /// Monotonic deadline in nanoseconds.
    var deadline: Int64
    /// The process, unretained: sound because process objects are type-stable (see `Process`)
    /// and live as long as the process table, which outlives the timeout thread.
    var process: Unmanaged<Process>
    /// The exact state word of the suspension this timeout ends; if the process has moved on,
    /// the wake CAS fails and the entry is simply dropped.
    var state: ProcessState
}

/// A binary min-heap of timeout entries by deadline, owned by the timeout thread.
///
/// Entries are never removed when their process wakes early: they go stale (lazy
/// invalidation) and are dropped when they reach the top or when `purge` runs.
struct TimeoutHeap {
    private(set) var entries: [TimeoutEntry] = []

    var count: Int { entries.count }
    var earliest: Int64? { entries.first?.deadline }

    mutating func insert(_ entry: TimeoutEntry) {
        entries.append(entry)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[parent].deadline > entries[i].deadline else { break }
            entries.swapAt(parent, i)
            i = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: Int64) -> TimeoutEntry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return first
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < entries.count && entries[l].deadline < entries[smallest].deadline { smallest = l }
            if r < entries.count && entries[r].deadline < entries[smallest].deadline { smallest = r }
            if smallest == i { return }
            entries.swapAt(i, smallest)
            i = smallest
        }
    }

    /// Drops entries for which `isStale` holds and restores the heap order. Returns how many
    /// were dropped.
    mutating func purge(where isStale: (TimeoutEntry) -> Bool) -> Int {
        let before = entries.count
        entries.removeAll(where: isStale)
        for i in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        return before - entries.count
    }
}
