import Synchronization
import CSkeinSupport

/// A process's mailbox: a multi-producer, single-consumer queue of `MessageNode`s with its
/// message count in an atomic integer, plus the consumer's private "save queue" of messages a
/// selective receive has looked at and skipped.
///
/// The queue is Vyukov's intrusive MPSC queue: producers swap themselves into `tail` and then
/// link the previous node; the consumer follows `next` links from `head`.
///
/// Invariants
/// - Only the process's current runner (one worker at a time, handed over through the run
///   queues, which order it) calls the consumer methods: `take`, `takeFirst`, `drain`.
/// - `count` is incremented by a producer after its node is linked, and decremented by the
///   consumer when a node leaves the queue, so `count > 0` means a node is linked or about to
///   be (a producer may sit between its swap and its link for a moment; `take` retries then).
/// - Order: nodes from one producer are linked in the order pushed, so messages from one
///   sender to one receiver arrive in the order sent; the save queue keeps arrival order.
///
/// Memory orderings
/// - `push`: the tail swap is acquire-release (it publishes the node's contents to the next
///   producer and consumer); the link store is release; `count` is incremented
///   sequentially-consistently, pairing with the receiver's suspend protocol in
///   `ProcessState` (store "waiting", then load `count`).
/// - The consumer loads links with acquire, so a linked node's payload is visible.
///
/// `Mailbox` is a plain pointer to its storage, so passing it around and calling it costs no
/// reference counting (the message path must not touch a shared reference count).
struct Mailbox: @unchecked Sendable {
    /// The mailbox's memory; owned by its `Process`, freed with `destroy()`.
    private let storage: UnsafeMutablePointer<MailboxStorage>

    /// The fields, in one allocation.
    struct MailboxStorage: ~Copyable {
        /// Number of messages in the queue (not counting the save queue).
        let count = Atomic<Int>(0)
        /// Last node; producers swap themselves in here.
        let tail: Atomic<UInt>
        /// First node (consumer only).
        var head: UnsafeMutablePointer<UInt64>
        /// The permanent stub node that keeps the queue non-empty.
        let stub: UnsafeMutablePointer<UInt64>
        /// Messages taken out of the queue but skipped by a selective receive, in arrival order.
        var savedHead: UnsafeMutablePointer<UInt64>?
        var savedTail: UnsafeMutablePointer<UInt64>?
        /// Number of messages in the save queue.
        var savedCount = 0

        init(stub: UnsafeMutablePointer<UInt64>) {
            self.stub = stub
            head = stub
            tail = Atomic(UInt(bitPattern: stub))
        }
    }

    /// An empty mailbox.
    init() {
        let stub = UnsafeMutablePointer<UInt64>.allocate(capacity: MessageNode.headerWords)
        stub.initialize(repeating: 0, count: MessageNode.headerWords)
        storage = .allocate(capacity: 1)
        storage.initialize(to: MailboxStorage(stub: stub))
    }

    /// Frees every message and the mailbox itself.
    func destroy() {
        drain()
        storage.pointee.stub.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// Number of messages in the queue, not counting the save queue (sequentially consistent:
    /// one side of the suspend protocol's Dekker pair).
    var messageCount: Int { storage.pointee.count.load(ordering: .sequentiallyConsistent) }
    private var stub: UnsafeMutablePointer<UInt64> { storage.pointee.stub }
    private var head: UnsafeMutablePointer<UInt64> {
        get { storage.pointee.head }
        nonmutating set { storage.pointee.head = newValue }
    }
    private var savedHead: UnsafeMutablePointer<UInt64>? {
        get { storage.pointee.savedHead }
        nonmutating set { storage.pointee.savedHead = newValue }
    }
    private var savedTail: UnsafeMutablePointer<UInt64>? {
        get { storage.pointee.savedTail }
        nonmutating set { storage.pointee.savedTail = newValue }
    }
    /// Number of messages in the save queue.
    private(set) var savedCount: Int {
        get { storage.pointee.savedCount }
        nonmutating set { storage.pointee.savedCount = newValue }
    }

    @inline(__always) private static func next(_ node: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<Atomic<UInt>> {
        UnsafeMutableRawPointer(node).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    // MARK: Producers (any thread)

    /// Appends a message. Safe from any number of threads at once.
    func push(_ message: MessageNode) {
        link(message.raw)
        storage.pointee.count.add(1, ordering: .sequentiallyConsistent)
    }

    private func link(_ node: UnsafeMutablePointer<UInt64>) {
        Mailbox.next(node).pointee.store(0, ordering: .relaxed)
        let previous = storage.pointee.tail.exchange(UInt(bitPattern: node), ordering: .acquiringAndReleasing)
        Mailbox.next(UnsafeMutablePointer(bitPattern: previous)!).pointee.store(UInt(bitPattern: node), ordering: .releasing)
    }

    // MARK: Consumer (the process's runner only)

    /// Whether any message is waiting, in the queue or the save queue.
    var isEmpty: Bool { savedCount == 0 && messageCount == 0 }

    /// Removes the oldest message of the queue proper, or returns nil when it is empty.
    private func dequeue() -> MessageNode? {
        while true {
            if storage.pointee.count.load(ordering: .acquiring) == 0 { return nil }
            if let node = tryDequeue() {
                storage.pointee.count.subtract(1, ordering: .relaxed)
                return MessageNode(raw: node)
            }
            // A producer is between its swap and its link: it will finish in a moment.
            skein_yield()
        }
    }

    private func tryDequeue() -> UnsafeMutablePointer<UInt64>? {
        var first = head
        var next = Mailbox.next(first).pointee.load(ordering: .acquiring)
        if first == stub {
            guard next != 0 else { return nil }
            first = UnsafeMutablePointer(bitPattern: next)!
            head = first
            next = Mailbox.next(first).pointee.load(ordering: .acquiring)
        }
        if next != 0 {
            head = UnsafeMutablePointer(bitPattern: next)!
            return first
        }
        guard storage.pointee.tail.load(ordering: .acquiring) == UInt(bitPattern: first) else { return nil }
        link(stub)
        next = Mailbox.next(first).pointee.load(ordering: .acquiring)
        guard next != 0 else { return nil }
        head = UnsafeMutablePointer(bitPattern: next)!
        return first
    }

    /// Takes the oldest message (save queue first).
    func take() -> MessageNode? {
        if let saved = savedHead {
            savedHead = UnsafeMutablePointer(bitPattern: Mailbox.next(saved).pointee.load(ordering: .relaxed))
            if savedHead == nil { savedTail = nil }
            savedCount -= 1
            return MessageNode(raw: saved)
        }
        return dequeue()
    }

    /// Takes the first message, in arrival order, for which `matches` holds; the messages it
    /// passes over stay queued in order.
    func takeFirst(where matches: (Value) -> Bool) -> MessageNode? {
        var previous: UnsafeMutablePointer<UInt64>?
        var node = savedHead
        while let current = node {
            let next = UnsafeMutablePointer<UInt64>(bitPattern: Mailbox.next(current).pointee.load(ordering: .relaxed))
            if matches(MessageNode(raw: current).value) {
                if let previous { Mailbox.next(previous).pointee.store(UInt(bitPattern: next), ordering: .relaxed) } else { savedHead = next }
                if savedTail == current { savedTail = previous }
                savedCount -= 1
                return MessageNode(raw: current)
            }
            previous = current
            node = next
        }
        while let message = dequeue() {
            if matches(message.value) { return message }
            Mailbox.next(message.raw).pointee.store(0, ordering: .relaxed)
            if let savedTail { Mailbox.next(savedTail).pointee.store(UInt(bitPattern: message.raw), ordering: .relaxed) } else { savedHead = message.raw }
            savedTail = message.raw
            savedCount += 1
        }
        return nil
    }

    /// Frees every message (queue and save queue). Used when the process exits; producers
    /// that still push afterwards are drained again when the slot is reused or the VM stops.
    func drain() {
        while let message = take() { message.free() }
    }
}
