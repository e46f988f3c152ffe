import Synchronization
import CSkeinSupport

/// A process's mailbox: a multi-producer, single-consumer queue of `MessageNode`s with its
/// message count in an atomic integer, plus the consumer's private "save queue" of messages a
/// selective receive has looked at and skipped.
///
/// The queue is Vyukov's intrusive MPSC queue: producers swap themselves into `tail` and then
/// link the previous node; the consumer follows `next` links from `head`.
///
/// Receiving pulls nodes from the queue into the save queue in arrival order, acting on
/// signals as it meets them (`pull`), so the interpreter only ever looks at messages. A
/// selective receive scans the save queue with a cursor that survives suspension: woken by a
/// new message, it resumes where it stopped instead of rescanning (BEAM's behaviour), and a
/// `mark` lets a receive for a reply skip everything queued before the request was sent.
///
/// Invariants
/// - Only the process's current runner (one worker at a time, handed over through the run
///   queues, which order it) calls the consumer methods: `take`, `takeFirst`, `drain`.
/// - `count` is incremented by a producer after its node is linked, and decremented by the
///   consumer when a node leaves the queue, so `count > 0` means a node is linked or about to
///   be (a producer may sit between its swap and its link for a moment; `take` retries then).
/// - Order: nodes from one producer are linked in the order pushed, so messages from one
///   sender to one receiver arrive in the order sent; the save queue keeps arrival order.
/// - Every node is addressed to a pid when pushed (`MessageNode.address(to:)`), and the mailbox
///   knows its owner's pid (`setOwner`, before the owner's pid is published). A message whose
///   address is another pid's, which a sender that checked an earlier process's pid just before
///   that process ended may still push (see `ProcessTable.withMessageTarget`), is freed when it
///   leaves the queue, never delivered.
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
    // Sendable: producers touch only `tail`, `count` and node links (atomic); the rest is the runner's.
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
        /// Messages taken out of the queue but skipped by a selective receive, in arrival order.
        var savedHead: UnsafeMutablePointer<UInt64>?
        var savedTail: UnsafeMutablePointer<UInt64>?
        /// Number of messages in the save queue.
        var savedCount = 0
        /// The receive in progress (see `ScanState`).
        var scan = ScanState()

        init(stub: UnsafeMutablePointer<UInt64>) {
            head = stub
            tail = Atomic(UInt(bitPattern: stub))
        }
    }

    /// An empty mailbox. The stub node lives right after the fields, in the same allocation
    /// (one `malloc` chunk per mailbox rather than two), and `trailingBytes` of memory for the
    /// owner's use after it (`trailingMemory`, word-aligned, uninitialized).
    init(trailingBytes: Int = 0) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Mailbox.storageBytes + trailingBytes, alignment: MemoryLayout<MailboxStorage>.alignment)
        let stub = (raw + MemoryLayout<MailboxStorage>.stride).bindMemory(to: UInt64.self, capacity: MessageNode.headerWords)
        stub.initialize(repeating: 0, count: MessageNode.headerWords)
        storage = raw.bindMemory(to: MailboxStorage.self, capacity: 1)
        storage.initialize(to: MailboxStorage(stub: stub))
    }

    /// Bytes of a mailbox's own part of its allocation: its fields, then its stub node.
    private static let storageBytes = MemoryLayout<MailboxStorage>.stride + MessageNode.headerWords * MemoryLayout<UInt64>.stride

    /// The `trailingBytes` after the mailbox in its allocation (the owner's; freed by `destroy`).
    var trailingMemory: UnsafeMutableRawPointer { storageAddress + Mailbox.storageBytes }
    /// Where the mailbox's allocation starts (for footprint checks).
    var storageAddress: UnsafeMutableRawPointer { UnsafeMutableRawPointer(storage) }

    /// Frees every message and the mailbox itself.
    func destroy() {
        drain()
        storage.deinitialize(count: 1)
        UnsafeMutableRawPointer(storage).deallocate()
    }

    /// Makes `pid` the mailbox's owner: messages addressed to any other pid are dropped from now
    /// on. Consumer only, before `pid` is known to any sender.
    func setOwner(_ pid: UInt64) {
        stub[1] = MessageNode.routingTag(forMessageTo: pid)
    }

    /// The routing tag of a message for the owner. The stub's value word holds it: the stub is
    /// never a message, so the word is free, and it costs the allocation nothing.
    @inline(__always) private var ownerTag: UInt64 { stub[1] }

    /// Number of messages in the queue, not counting the save queue (sequentially consistent:
    /// one side of the suspend protocol's Dekker pair).
    var messageCount: Int { storage.pointee.count.load(ordering: .sequentiallyConsistent) }
    /// The permanent stub node that keeps the queue non-empty: the words right after the
    /// fields (not a field pointing to them: 8 bytes less keeps the allocation in a smaller
    /// `malloc` size class).
    @inline(__always) private var stub: UnsafeMutablePointer<UInt64> {
        (UnsafeMutableRawPointer(storage) + MemoryLayout<MailboxStorage>.stride).assumingMemoryBound(to: UInt64.self)
    }
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

    /// The link word of `node` (its first word), on which producers and the consumer race.
    /// Sound: `Atomic<UInt>` is one bare word, the same size as the `UInt64` it overlays, and a
    /// queued node's link is only ever read and written through this view.
    @inline(__always) private static func next(_ node: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<Atomic<UInt>> {
        UnsafeMutableRawPointer(node).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    // MARK: Producers (any thread)

    /// Appends a message or signal addressed to `pid` and returns how many are now queued (the
    /// receiver's limit check). Safe from any number of threads at once.
    @discardableResult
    func push(_ message: MessageNode, to pid: UInt64) -> Int {
        message.address(to: pid)
        link(message.raw)
        return storage.pointee.count.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
    }

    private func link(_ node: UnsafeMutablePointer<UInt64>) {
        Mailbox.next(node).pointee.store(0, ordering: .relaxed)
        let previous = storage.pointee.tail.exchange(UInt(bitPattern: node), ordering: .acquiringAndReleasing)
        Mailbox.next(UnsafeMutablePointer(bitPattern: previous)!).pointee.store(UInt(bitPattern: node), ordering: .releasing)
    }

    // MARK: Consumer (the process's runner only)

    /// What happens to a signal met while pulling (decided by `SignalHandling`).
    enum SignalOutcome {
        /// Acted on and freed.
        case consumed
        /// Became this message (a trapped exit), kept in the signal's place.
        case message(MessageNode)
        /// The process must end: stop pulling.
        case exit
    }

    /// Removes the oldest message of the queue proper, or returns nil when it is empty.
    private func dequeue() -> MessageNode? {
        while true {
            if storage.pointee.count.load(ordering: .acquiring) == 0 { return nil }
            if let node = tryDequeue() {
                storage.pointee.count.wrappingSubtract(1, ordering: .relaxed)
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

    /// The next message of the queue proper, acting on the signals in front of it and dropping
    /// messages addressed to an earlier process in the slot. Returns nil when the queue is
    /// empty or a signal ends the process (`exiting` is then set).
    private func dequeueMessage(_ signal: (MessageNode) -> SignalOutcome, exiting: inout Bool) -> MessageNode? {
        let owner = ownerTag
        while let node = dequeue() {
            // One compare for the common case: a message (kind 0) for this process.
            if node.routingTag == owner { return node }
            if node.kind == 0 {
                node.free()
                continue
            }
            switch signal(node) {
            case .consumed: continue
            case .message(let message): return message
            case .exit:
                exiting = true
                return nil
            }
        }
        return nil
    }

    /// Takes the oldest message (save queue first) and ends any scan in progress.
    func takeOldest(_ signal: (MessageNode) -> SignalOutcome, exiting: inout Bool) -> MessageNode? {
        endScan()
        if let saved = savedHead {
            unlinkSaved(saved, after: nil)
            return MessageNode(raw: saved)
        }
        return dequeueMessage(signal, exiting: &exiting)
    }

    /// Moves everything queued into the save queue, acting on signals. Returns false when a
    /// signal ends the process.
    @discardableResult
    func pull(_ signal: (MessageNode) -> SignalOutcome) -> Bool {
        var exiting = false
        while let message = dequeueMessage(signal, exiting: &exiting) { appendSaved(message.raw) }
        return !exiting
    }

    // MARK: Scanning (selective receive)

    /// The message at the scan cursor, starting a scan (at the mark, if one is set) when none
    /// is in progress; pulls one more node from the queue when the cursor is at the end of the
    /// save queue. Nil when nothing is left to look at, or a signal ends the process
    /// (`exiting` is then set).
    func current(_ signal: (MessageNode) -> SignalOutcome, exiting: inout Bool) -> MessageNode? {
        var scan = storage.pointee.scan
        if !scan.active {
            scan.active = true
            scan.previous = scan.markSet ? scan.mark : nil
            scan.markSet = false
            storage.pointee.scan = scan
        }
        let candidate = scan.previous.map { Mailbox.nextSaved($0) } ?? savedHead
        if let candidate { return MessageNode(raw: candidate) }
        guard let message = dequeueMessage(signal, exiting: &exiting) else { return nil }
        appendSaved(message.raw)
        return message
    }

    /// The saved node under the cursor, if the cursor is not at the end.
    private var underCursor: UnsafeMutablePointer<UInt64>? {
        guard storage.pointee.scan.active else { return nil }
        return storage.pointee.scan.previous.map { Mailbox.nextSaved($0) } ?? savedHead
    }

    /// Moves the cursor past the current message; false when there is none (no `current`
    /// looked at one, or the scan ended).
    func advance() -> Bool {
        guard let node = underCursor else { return false }
        storage.pointee.scan.previous = node
        return true
    }

    /// Removes the message under the cursor and ends the scan; nil when there is none.
    func takeCurrent() -> MessageNode? {
        guard let node = underCursor else { return nil }
        unlinkSaved(node, after: storage.pointee.scan.previous)
        endScan()
        return MessageNode(raw: node)
    }

    /// Pulls everything queued, then removes the first saved message for which `matches`
    /// holds (the scan in progress stays where it is).
    func removeFirst(_ signal: (MessageNode) -> SignalOutcome, where matches: (Value) -> Bool) -> MessageNode? {
        pull(signal)
        var previous: UnsafeMutablePointer<UInt64>?
        var node = savedHead
        while let current = node {
            if matches(MessageNode(raw: current).value) {
                unlinkSaved(current, after: previous)
                return MessageNode(raw: current)
            }
            previous = current
            node = Mailbox.nextSaved(current)
        }
        return nil
    }

    /// Ends the scan in progress (a receive finished or timed out): the next one starts over.
    func endScan() {
        storage.pointee.scan.active = false
        storage.pointee.scan.previous = nil
        storage.pointee.scan.deadline = nil
    }

    /// Marks the end of what is queued now: the next scan starts after it (for a reply to a
    /// request sent after the mark, nothing queued earlier can match).
    func mark(_ signal: (MessageNode) -> SignalOutcome) -> Bool {
        let alive = pull(signal)
        storage.pointee.scan.mark = savedTail
        storage.pointee.scan.markSet = true
        return alive
    }

    /// The deadline (monotonic ns) of the receive in progress, set when it first suspends
    /// with a timeout, so later wake-ups without a match do not restart the timeout.
    var deadline: Int64? {
        get { storage.pointee.scan.deadline }
        nonmutating set { storage.pointee.scan.deadline = newValue }
    }

    // MARK: The save queue

    @inline(__always) private static func nextSaved(_ node: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64>? {
        UnsafeMutablePointer(bitPattern: next(node).pointee.load(ordering: .relaxed))
    }

    private func appendSaved(_ node: UnsafeMutablePointer<UInt64>) {
        Mailbox.next(node).pointee.store(0, ordering: .relaxed)
        if let savedTail { Mailbox.next(savedTail).pointee.store(UInt(bitPattern: node), ordering: .relaxed) } else { savedHead = node }
        savedTail = node
        savedCount += 1
    }

    /// Unlinks `node`, which follows `previous` (nil: it is the head). A mark or cursor on
    /// `node` moves to `previous`, which still precedes everything that came after it.
    private func unlinkSaved(_ node: UnsafeMutablePointer<UInt64>, after previous: UnsafeMutablePointer<UInt64>?) {
        let next = Mailbox.nextSaved(node)
        if let previous { Mailbox.next(previous).pointee.store(UInt(bitPattern: next), ordering: .relaxed) } else { savedHead = next }
        if savedTail == node { savedTail = previous }
        if storage.pointee.scan.mark == node { storage.pointee.scan.mark = previous }
        if storage.pointee.scan.previous == node { storage.pointee.scan.previous = previous }
        savedCount -= 1
    }

    /// Frees every message and signal (queue and save queue) without acting on them: for a VM
    /// that is stopping, or a slot about to be reused.
    func drain() {
        endScan()
        storage.pointee.scan.markSet = false
        storage.pointee.scan.mark = nil
        while let saved = savedHead {
            unlinkSaved(saved, after: nil)
            MessageNode(raw: saved).free()
        }
        while let node = dequeue() { node.free() }
    }
}

/// A receive in progress: where its scan of the save queue stands.
struct ScanState {
    // (Words first, then the flags in the optional's tail: 27 bytes, not 41, in every mailbox.)
    /// The node after which the cursor stands (nil: before the first saved message).
    var previous: UnsafeMutablePointer<UInt64>?
    /// Where the next scan starts, when `markSet` (nil: at the beginning).
    var mark: UnsafeMutablePointer<UInt64>?
    /// The scan's timeout deadline, monotonic ns.
    var deadline: Int64?
    /// Whether a scan is in progress.
    var active = false
    var markSet = false
}
