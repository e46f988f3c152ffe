import Synchronization
/// A message in flight: a node of a mailbox queue followed by a private copy of the value's
/// objects, so the receiver can read it without touching the sender's heap.
///
/// Layout: `[next][value][kind | small | recipient][payload words …]`. `next` is atomic because
/// producers link nodes while the consumer reads them (see `Mailbox`). The third word holds:
/// - `kind` (the top byte): 0 for a message and a `Signal.Kind` for a signal, which travels in
///   the same queue so that signals and messages from one sender stay in order;
/// - `small` (bit 55): the node has `NodeCache.smallNodeWords` words, so it can be recycled
///   through a worker's `NodeCache`;
/// - `recipient` (the low 42 bits): the generation of the pid it was pushed for (`address(to:)`),
///   which lets a mailbox drop a message that reached a later process in its slot.
struct MessageNode {
    /// The raw node memory.
    let raw: UnsafeMutablePointer<UInt64>

    init(raw: UnsafeMutablePointer<UInt64>) { self.raw = raw }

    /// Words before the payload.
    static let headerWords = 3

    /// A node of `words` words (recycled from `cache` when it is small).
    static func allocate(words: Int, cache: NodeCache?) -> UnsafeMutablePointer<UInt64> {
        let raw: UnsafeMutablePointer<UInt64>
        if words <= NodeCache.smallNodeWords {
            raw = cache?.take() ?? .allocate(capacity: NodeCache.smallNodeWords)
            raw[2] = MessageNode.smallBit
        } else {
            raw = .allocate(capacity: words)
            raw[2] = 0
        }
        raw[0] = 0
        return raw
    }

    /// A node holding a copy of `value`.
    static func make(copying value: Value, cache: NodeCache? = nil) throws(ValueCopy.Failure) -> MessageNode {
        let payload = try ValueCopy.words(value)
        let raw = allocate(words: headerWords + payload, cache: cache)
        var free = raw + headerWords
        raw[1] = ValueCopy.copy(value, to: &free).raw
        return MessageNode(raw: raw)
    }

    /// A node holding a tuple of `count` elements that `fill` writes, built in a scratch tuple
    /// on the stack and copied into the node (no heap, no `Term`, no array): the runtime's own
    /// small messages and signals.
    static func make(tupleOf count: Int, cache: NodeCache?,
                     _ fill: (UnsafeMutablePointer<UInt64>) -> Void) throws(ValueCopy.Failure) -> MessageNode {
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 1 + count) { scratch throws(ValueCopy.Failure) in
            let tuple = scratch.baseAddress!
            tuple[0] = HeapObject.header(.tuple, payloadWords: count)
            fill(tuple + 1)
            return try make(copying: .object(tuple), cache: cache)
        }
    }

    /// Whether `message` is `{:DOWN, ref, _, _}`.
    static func isDown(_ message: Value, ref: UInt64) -> Bool {
        message.heapKind == .tuple && message.tupleCount == 4 && message.tupleElements[1] == Value.ref(ref).raw
    }

    /// A node holding an immediate value (an atom, a pid): no payload.
    static func make(atom value: Value) -> MessageNode {
        let raw = allocate(words: headerWords, cache: nil)
        raw[1] = value.raw
        return MessageNode(raw: raw)
    }

    /// The message value (pointing into the node's payload).
    var value: Value { Value(raw: raw[1]) }

    /// Bits of the third word that hold the node's kind.
    private static let kindShift: UInt64 = 56
    /// The third word's `small` flag.
    private static let smallBit: UInt64 = 1 << 55
    /// The third word's `recipient` bits: as many as a pid's generation has.
    static let recipientMask: UInt64 = 1 << (64 - ProcessTable.slotBits) - 1
    /// The third word's kind and recipient: what a mailbox compares with the tag of a message
    /// for its owner (`routingTag(forMessageTo:)`).
    private static let routingMask: UInt64 = 0xFF << kindShift | recipientMask

    /// The node's kind and recipient (see `routingTag(forMessageTo:)`).
    @inline(__always) var routingTag: UInt64 { raw[2] & MessageNode.routingMask }

    /// The routing tag of a message (kind 0) addressed to `pid`.
    @inline(__always) static func routingTag(forMessageTo pid: UInt64) -> UInt64 {
        pid >> ProcessTable.slotBits & recipientMask
    }

    /// Records `pid` as the node's recipient (by the pusher, before the node is linked).
    @inline(__always) func address(to pid: UInt64) {
        raw[2] = raw[2] & ~MessageNode.recipientMask | MessageNode.routingTag(forMessageTo: pid)
    }

    /// 0 for a message, else the raw `Signal.Kind` of a signal.
    @inline(__always) var kind: UInt8 { UInt8(truncatingIfNeeded: raw[2] >> MessageNode.kindShift) }

    /// Marks the node as a signal of `kind` (0 makes it a message again).
    func setKind(_ kind: UInt8) {
        raw[2] = raw[2] & (1 << MessageNode.kindShift - 1) | UInt64(kind) << MessageNode.kindShift
    }

    /// Frees the node and its payload, into `cache` when it is a small node and there is room.
    func free(cache: NodeCache? = nil) {
        if let cache, raw[2] & MessageNode.smallBit != 0, cache.keep(raw) { return }
        raw.deallocate()
    }
}

/// A worker's stack of free small message nodes, so that sending a small message does not call
/// `malloc` and receiving it does not call `free`. Owner-only (no synchronisation).
///
/// A node allocated on one worker and freed on another moves between caches. When a producer
/// and a consumer run on different workers, every node travels one way: the consumer's cache
/// fills while the producer's runs dry. So a full cache hands a magazine of nodes to the shared
/// `NodeDepot`, and an empty one takes a magazine from it (Bonwick's magazines): one lock per
/// `NodeDepot.magazineNodes` messages, instead of a `malloc` on one core and a `free` of the same
/// memory on the other for every message (which glibc serialises on the arena's lock; counting at
/// two workers spent half its time there).
///
/// A plain pointer to its storage (like `Mailbox`), so passing the cache along the message
/// path costs no reference counting.
struct NodeCache: @unchecked Sendable {
    // Sendable: each cache is used only by its worker's thread ("owner-only" above).
    /// Size of a small node in words (header plus up to 5 payload words: immediates, small
    /// tuples, short strings).
    static let smallNodeWords = 8
    /// Most nodes kept per worker: 4,096 nodes of 64 bytes, 256 KiB, enough to absorb the
    /// bursts of a producer/consumer pair without holding much memory when idle.
    static let limit = 4096

    private struct Storage {
        var count = 0
        let nodes = UnsafeMutablePointer<UnsafeMutablePointer<UInt64>>.allocate(capacity: NodeCache.limit)
        /// Unretained: a reference here was retained and released at every refill attempt, on
        /// the one object all workers share (the pool owns the depot for longer than any cache).
        let depot: Unmanaged<NodeDepot>?
    }
    private let storage: UnsafeMutablePointer<Storage>

    /// An empty cache that trades magazines with `depot`, if given; free it with `destroy()`.
    init(depot: NodeDepot? = nil) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: Storage(depot: depot.map { Unmanaged.passUnretained($0) }))
    }

    /// Frees the cached nodes and the cache.
    func destroy() {
        for i in 0..<storage.pointee.count { storage.pointee.nodes[i].deallocate() }
        storage.pointee.nodes.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// A free small node, if any.
    @inline(__always) func take() -> UnsafeMutablePointer<UInt64>? {
        guard storage.pointee.count > 0 || refill() else { return nil }
        storage.pointee.count -= 1
        return storage.pointee.nodes[storage.pointee.count]
    }

    /// Keeps `node` for reuse; false when the cache is full and has no depot.
    @inline(__always) func keep(_ node: UnsafeMutablePointer<UInt64>) -> Bool {
        guard storage.pointee.count < NodeCache.limit || spill() else { return false }
        storage.pointee.nodes[storage.pointee.count] = node
        storage.pointee.count += 1
        return true
    }

    /// Takes a magazine from the depot into the empty cache; false when the depot has none.
    @inline(never) private func refill() -> Bool {
        guard let depot = storage.pointee.depot, var node = depot._withUnsafeGuaranteedRef({ $0.takeMagazine() }) else { return false }
        while true {
            let next = node[0]
            storage.pointee.nodes[storage.pointee.count] = node
            storage.pointee.count += 1
            guard next != 0 else { return true }
            node = UnsafeMutablePointer(bitPattern: UInt(next))!
        }
    }

    /// Makes room in the full cache: its newest magazine's worth of nodes goes to the depot, or
    /// back to `free` when the depot is full. False when there is no depot.
    @inline(never) private func spill() -> Bool {
        guard let depot = storage.pointee.depot else { return false }
        let first = storage.pointee.count - NodeDepot.magazineNodes
        let nodes = storage.pointee.nodes
        for i in first..<storage.pointee.count - 1 { nodes[i][0] = UInt64(UInt(bitPattern: nodes[i + 1])) }
        nodes[storage.pointee.count - 1][0] = 0
        if !depot._withUnsafeGuaranteedRef({ $0.put(magazine: nodes[first]) }) {
            for i in first..<storage.pointee.count { nodes[i].deallocate() }
        }
        storage.pointee.count = first
        return true
    }
}

/// The shared stock of free small message nodes behind the workers' `NodeCache`s: full
/// magazines, each a chain of `magazineNodes` nodes linked through their first word.
///
/// Invariants
/// - A node is in one place at a time: a cache, a magazine here, a mailbox, or in use.
/// - At most `maxMagazines` magazines (2 MiB of nodes); a magazine that does not fit is freed
///   by the cache that offered it.
/// - Everything is under one lock, taken once per magazine (not per node).
final class NodeDepot: @unchecked Sendable {
    // Sendable: the magazines are reached only under the lock.
    /// Nodes per magazine.
    static let magazineNodes = 1024
    /// Most magazines kept.
    static let maxMagazines = 32

    /// The first node of each full magazine.
    private let magazines = Locked<[UnsafeMutablePointer<UInt64>]>([])
    /// How many magazines `magazines` holds, readable without the lock: a cache that finds
    /// none here does not take the lock (when producers and consumers are on different
    /// workers, the consumer's cache runs dry and asks at every allocation).
    private let stocked = Atomic<Int>(0)
    /// Magazines handed to caches so far (statistics).
    let magazinesTaken = Atomic<Int>(0)

    init() {}

    deinit {
        magazines.withLock { heads in
            for head in heads {
                var node: UnsafeMutablePointer<UInt64>? = head
                while let current = node {
                    node = UnsafeMutablePointer(bitPattern: UInt(current[0]))
                    current.deallocate()
                }
            }
        }
    }

    /// Keeps the magazine starting at `head`; false when the depot is full.
    func put(magazine head: UnsafeMutablePointer<UInt64>) -> Bool {
        magazines.withLock { heads in
            guard heads.count < NodeDepot.maxMagazines else { return false }
            heads.append(head)
            stocked.store(heads.count, ordering: .relaxed)
            return true
        }
    }

    /// The first node of a full magazine, if the depot has one.
    func takeMagazine() -> UnsafeMutablePointer<UInt64>? {
        guard stocked.load(ordering: .relaxed) > 0 else { return nil }
        let head = magazines.withLock { heads -> UnsafeMutablePointer<UInt64>? in
            let head = heads.popLast()
            stocked.store(heads.count, ordering: .relaxed)
            return head
        }
        if head != nil { magazinesTaken.wrappingAdd(1, ordering: .relaxed) }
        return head
    }
}
