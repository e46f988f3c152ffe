/// Deep copies of values between memories: into a message buffer for `send`, and out of one
/// (or out of a parent's heap, for spawn arguments) into a process heap.
///
/// Copies are trees: sharing inside a value is not preserved, as in BEAM. A mutable array can
/// contain itself, so copying stops with an error past `maxDepth` levels instead of recursing
/// forever.
enum ValueCopy {
    /// Nesting deeper than this cannot be sent (it is almost certainly a cycle).
    static let maxDepth = 10_000

    /// Thrown when a value is too deeply nested (or cyclic) to copy.
    struct TooDeep: Error {}

    /// Words needed to copy `v`'s object graph (0 for an immediate).
    static func words(_ v: Value, depth: Int = 0) throws(TooDeep) -> Int {
        guard v.isObject else { return 0 }
        guard depth < maxDepth else { throw TooDeep() }
        let object = v.objectAddress
        switch HeapObject.kind(of: object) {
        case .boxedInt, .float, .string:
            return 1 + HeapObject.payloadWords(of: object)
        case .tuple:
            var total = 1 + v.tupleCount
            for i in 0..<v.tupleCount { total += try words(Value(raw: v.tupleElements[i]), depth: depth + 1) }
            return total
        case .array, .arrayStorage:
            // Copied compactly: storage sized to the length.
            let n = v.arrayCount
            var total = 3 + (n > 0 ? 1 + n : 0)
            for i in 0..<n { total += try words(Value(raw: v.arrayElements[i]), depth: depth + 1) }
            return total
        }
    }

    /// Copies `v` into memory at `free`, which has room for `words(v)` words; advances `free`.
    static func copy(_ v: Value, to free: inout UnsafeMutablePointer<UInt64>) -> Value {
        guard v.isObject else { return v }
        let object = v.objectAddress
        let target = free
        switch HeapObject.kind(of: object) {
        case .boxedInt, .float, .string:
            let size = 1 + HeapObject.payloadWords(of: object)
            target.update(from: object, count: size)
            free += size
        case .tuple:
            let n = v.tupleCount
            target[0] = object[0]
            free += 1 + n
            for i in 0..<n { target[1 + i] = copy(Value(raw: object[1 + i]), to: &free).raw }
        case .array, .arrayStorage:
            let n = v.arrayCount
            target[0] = HeapObject.header(.array, payloadWords: 2)
            target[1] = Value.smallInt(Int64(n)).raw
            free += 3
            if n == 0 {
                target[2] = Value.nil.raw
            } else {
                let storage = free
                storage[0] = HeapObject.header(.arrayStorage, payloadWords: n)
                free += 1 + n
                let source = v.arrayElements
                for i in 0..<n { storage[1 + i] = copy(Value(raw: source[i]), to: &free).raw }
                target[2] = Value.object(storage).raw
            }
        }
        return .object(target)
    }
}

/// A message in flight: a node of a mailbox queue followed by a private copy of the value's
/// objects, so the receiver can read it without touching the sender's heap.
///
/// Layout: `[next][value][capacity][payload words …]`. `next` is atomic because producers link
/// nodes while the consumer reads them (see `Mailbox`); `capacity` is the node's size in words,
/// so small nodes can be recycled through a worker's `NodeCache`.
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
            raw[2] = UInt64(NodeCache.smallNodeWords)
        } else {
            raw = .allocate(capacity: words)
            raw[2] = UInt64(words)
        }
        raw[0] = 0
        return raw
    }

    /// A node holding a copy of `value`.
    static func make(copying value: Value, cache: NodeCache? = nil) throws(ValueCopy.TooDeep) -> MessageNode {
        let payload = try ValueCopy.words(value)
        let raw = allocate(words: headerWords + payload, cache: cache)
        var free = raw + headerWords
        raw[1] = ValueCopy.copy(value, to: &free).raw
        return MessageNode(raw: raw)
    }

    /// The message value (pointing into the node's payload).
    var value: Value { Value(raw: raw[1]) }

    /// Frees the node and its payload, into `cache` when it is a small node and there is room.
    func free(cache: NodeCache? = nil) {
        if let cache, raw[2] == UInt64(NodeCache.smallNodeWords), cache.keep(raw) { return }
        raw.deallocate()
    }
}

/// A worker's stack of free small message nodes, so that sending a small message does not call
/// `malloc` and receiving it does not call `free`. Owner-only (no synchronisation): a node
/// allocated on one worker and freed on another simply moves between caches, and each cache
/// is bounded, beyond which nodes go back to `free`.
final class NodeCache {
    /// Size of a small node in words (header plus up to 5 payload words: immediates, small
    /// tuples, short strings).
    static let smallNodeWords = 8
    /// Most nodes kept per worker.
    static let limit = 4096
    private var nodes: [UnsafeMutablePointer<UInt64>] = []

    init() { nodes.reserveCapacity(NodeCache.limit) }

    deinit { for node in nodes { node.deallocate() } }

    @inline(__always) func take() -> UnsafeMutablePointer<UInt64>? { nodes.popLast() }

    /// Keeps `node` for reuse; false when the cache is full.
    @inline(__always) func keep(_ node: UnsafeMutablePointer<UInt64>) -> Bool {
        guard nodes.count < NodeCache.limit else { return false }
        nodes.append(node)
        return true
    }
}
