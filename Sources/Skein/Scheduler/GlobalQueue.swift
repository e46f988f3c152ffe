import Synchronization

/// The global (inject) queue: processes made runnable outside a worker (the host, the timeout
/// thread, IO) and overflow from full local rings.
///
/// Invariants
/// - Every item pushed is popped exactly once (a mutex guards the deque).
/// - `length` equals the number of queued items whenever the lock is free, so workers can
///   skip the lock with one atomic load when it is zero.
final class GlobalQueue: @unchecked Sendable {
    // Sendable: the deque is reached only under its lock; `length` is atomic.
    private let items = Locked<Deque>(Deque())
    /// Items queued (read without the lock as a hint).
    let length = Atomic<Int>(0)

    /// A simple ring-buffer deque (Swift's stdlib has none).
    struct Deque {
        var buffer: [UInt] = Array(repeating: 0, count: 64)
        var head = 0
        var count = 0

        mutating func append(_ item: UInt) {
            if count == buffer.count {
                var grown = [UInt](repeating: 0, count: buffer.count * 2)
                for i in 0..<count { grown[i] = buffer[(head + i) % buffer.count] }
                buffer = grown
                head = 0
            }
            buffer[(head + count) % buffer.count] = item
            count += 1
        }

        mutating func removeFirst() -> UInt? {
            guard count > 0 else { return nil }
            let item = buffer[head]
            head = (head + 1) % buffer.count
            count -= 1
            // A burst (a spawn storm overflowing the local rings) can grow the buffer to
            // megabytes; once it has drained, give that memory back.
            if count == 0, buffer.count > Deque.keptCapacity {
                buffer = Array(repeating: 0, count: Deque.keptCapacity)
                head = 0
            }
            return item
        }

        /// Largest buffer kept once the queue is empty.
        static let keptCapacity = 1024
    }

    /// Appends items in order.
    func push(_ batch: [UInt]) {
        items.withLock { q in
            for item in batch { q.append(item) }
            length.wrappingAdd(batch.count, ordering: .releasing)
        }
    }

    /// Appends one item.
    func push(_ item: UInt) {
        items.withLock { q in
            q.append(item)
            length.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// Takes up to `max` items, oldest first.
    func pop(max: Int, into batch: inout [UInt]) {
        guard length.load(ordering: .acquiring) > 0 else { return }
        items.withLock { q in
            var taken = 0
            while taken < max, let item = q.removeFirst() {
                batch.append(item)
                taken += 1
            }
            length.wrappingSubtract(taken, ordering: .releasing)
        }
    }
}
