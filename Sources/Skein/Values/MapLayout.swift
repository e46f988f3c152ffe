/// How maps are laid out in a heap, and the read-only walks over them (lookup, iteration).
///
/// A map is an immutable value. Up to `flatLimit` entries it is one `mapFlat` object holding
/// its key/value pairs; beyond that it is a hash array mapped trie (HAMT, in the compact CHAMP
/// form): a `mapRoot` node with the entry count, inner `mapNode`s, and `mapCollision` nodes at
/// the bottom for keys whose 64-bit hashes are equal. Every payload word of every map object is
/// a well-formed value (bitmaps and counts are small integers), so the collector and the copier
/// treat map objects like tuples (`HeapObject.isValueRecord`) and only this file and
/// `MapBuilder` know where entries sit.
///
/// **Canonical order.** Entries are kept in an order that depends only on the set of keys, never
/// on the history of updates: a flat map sorts its keys by `ValueSemantics.compare(_:_:atoms:
/// nil)` (a total order consistent with equality that needs no atom names), and a trie orders
/// them by hash (the trie consumes hash bits from the most significant end, so a depth-first
/// walk in bitmap order is ascending hash), then by the same compare among equal hashes. The
/// representation is a function of the size (flat exactly when the count is at most
/// `flatLimit`), so two equal maps list their entries in the same canonical order, and
/// equality and hashing walk both side by side without sorting. Term order, which needs the
/// atom table and is used for printing, `mapkeys`, `mappairs` and ordering, is obtained by
/// sorting (`sortedEntries`).
///
/// **Keys** are found by structural equality (`ValueSemantics.equal`): `1` and `1.0` are the
/// same key, as are two NaNs, and `ValueHash` is consistent with that. A map holds its keys and
/// values by reference; an array used as a key should not be changed afterwards (the entry may
/// become unfindable; nothing worse happens).
enum MapLayout {
    /// Most entries of a flat map; a map with more is a trie.
    static let flatLimit = 8
    /// Hash bits consumed per trie level (32-way nodes).
    static let bitsPerLevel = 5
    /// The level of collision nodes: levels 0…12 consume all 64 hash bits (12 × 5 + 4).
    static let collisionLevel = 13

    /// The 5-bit index of `hash` at trie `level` (0…12), taken from the most significant end so
    /// that a walk in index order visits hashes in ascending order. Level 12 has 4 bits left;
    /// they are shifted up one place, which keeps their order.
    @inline(__always) static func index(_ hash: UInt64, level: Int) -> Int {
        Int(truncatingIfNeeded: (hash &<< UInt64(bitsPerLevel * level)) >> 59)
    }

    /// Whether `v` is a map value (the kinds of a map's inner nodes never reach a register).
    @inline(__always) static func isMap(_ v: Value) -> Bool {
        guard v.isObject else { return false }
        let kind = HeapObject.kind(of: v.objectAddress)
        return kind == .mapFlat || kind == .mapRoot
    }

    /// Entry count of a map value.
    @inline(__always) static func count(_ map: Value) -> Int {
        let o = map.objectAddress
        return HeapObject.kind(of: o) == .mapRoot ? Int(Value(raw: o[1]).smallIntValue) : HeapObject.payloadWords(of: o) / 2
    }

    /// A view of a bitmap node (`mapRoot` or `mapNode`) of the trie.
    struct TrieNode {
        /// The object's header.
        let object: UnsafeMutablePointer<UInt64>
        /// The data bitmap word; the child bitmap, pairs and children follow it.
        let base: UnsafeMutablePointer<UInt64>

        /// Words before the bitmaps in a node of `kind` (the root's entry count).
        @inline(__always) static func prefixWords(_ kind: HeapKind) -> Int { kind == .mapRoot ? 1 : 0 }

        @inline(__always) init(_ object: UnsafeMutablePointer<UInt64>) {
            self.object = object
            base = object + 1 + TrieNode.prefixWords(HeapObject.kind(of: object))
        }

        /// Bit `i` set: slot `i` holds a key/value pair.
        @inline(__always) var datamap: UInt32 { UInt32(truncatingIfNeeded: base[0] >> 1) }
        /// Bit `i` set: slot `i` holds a child node.
        @inline(__always) var nodemap: UInt32 { UInt32(truncatingIfNeeded: base[1] >> 1) }
        @inline(__always) var dataCount: Int { datamap.nonzeroBitCount }
        @inline(__always) var childCount: Int { nodemap.nonzeroBitCount }
        /// Key of pair `i` (in slot order).
        @inline(__always) func key(_ i: Int) -> UInt64 { base[2 + 2 * i] }
        /// Value of pair `i`.
        @inline(__always) func value(_ i: Int) -> UInt64 { base[3 + 2 * i] }
        /// Child `j` (in slot order).
        @inline(__always) func child(_ j: Int) -> UInt64 { base[2 + 2 * dataCount + j] }
        /// Words of the whole object, header included.
        @inline(__always) var words: Int { 1 + HeapObject.payloadWords(of: object) }

        /// Position among the set bits of `bitmap` below `bit`.
        @inline(__always) static func rank(_ bitmap: UInt32, _ bit: UInt32) -> Int { (bitmap & (bit &- 1)).nonzeroBitCount }
        /// A bitmap as the small integer stored in the node.
        @inline(__always) static func word(_ bitmap: UInt32) -> UInt64 { Value.smallInt(Int64(bitmap)).raw }
    }

    /// The pairs of a flat map or collision node: `count` pairs from `object + 1`.
    @inline(__always) static func pairs(_ object: UnsafeMutablePointer<UInt64>) -> (start: UnsafeMutablePointer<UInt64>, count: Int) {
        (object + 1, HeapObject.payloadWords(of: object) / 2)
    }

    // MARK: Lookup

    /// The value stored under `key` in `map`, or nil. `hash` is `ValueHash.hash(key)`, computed
    /// only when the map is a trie (a flat map compares keys directly).
    static func lookup(_ map: Value, _ key: UInt64, hash: () throws(ValueDepth.Exceeded) -> UInt64) throws(ValueDepth.Exceeded) -> UInt64? {
        var o = map.objectAddress
        if HeapObject.kind(of: o) == .mapFlat { return try find(key, inPairsOf: o).map { o[2 + 2 * $0] } }
        let h = try hash()
        var level = 0
        while true {
            let node = TrieNode(o)
            let bit = UInt32(1) << UInt32(index(h, level: level))
            if node.datamap & bit != 0 {
                let i = TrieNode.rank(node.datamap, bit)
                return try ValueSemantics.equal(Value(raw: node.key(i)), Value(raw: key)) ? node.value(i) : nil
            }
            guard node.nodemap & bit != 0 else { return nil }
            o = Value(raw: node.child(TrieNode.rank(node.nodemap, bit))).objectAddress
            level += 1
            if HeapObject.kind(of: o) == .mapCollision { return try find(key, inPairsOf: o).map { o[2 + 2 * $0] } }
        }
    }

    /// Index of the pair whose key equals `key` in a flat map or collision node.
    static func find(_ key: UInt64, inPairsOf object: UnsafeMutablePointer<UInt64>) throws(ValueDepth.Exceeded) -> Int? {
        let (start, n) = pairs(object)
        for i in 0..<n where start[2 * i] == key { return i }  // the common case: the same word
        for i in 0..<n where try ValueSemantics.equal(Value(raw: start[2 * i]), Value(raw: key)) { return i }
        return nil
    }

    // MARK: Iteration

    /// Calls `body` with every key and value of `map` (or of a node inside one), in canonical
    /// order. Recursion follows trie levels only (at most `collisionLevel` + 1 deep).
    static func forEach<E: Error>(_ map: Value, _ body: (UInt64, UInt64) throws(E) -> Void) throws(E) {
        let o = map.objectAddress
        switch HeapObject.kind(of: o) {
        case .mapFlat, .mapCollision:
            let (start, n) = pairs(o)
            for i in 0..<n { try body(start[2 * i], start[2 * i + 1]) }
        case .mapRoot, .mapNode:
            let node = TrieNode(o)
            var slots = node.datamap | node.nodemap
            var data = 0, child = 0
            while slots != 0 {
                let bit = slots & (~slots &+ 1)
                if node.datamap & bit != 0 {
                    try body(node.key(data), node.value(data))
                    data += 1
                } else {
                    try forEach(Value(raw: node.child(child)), body)
                    child += 1
                }
                slots &= slots &- 1
            }
        default:
            break
        }
    }

    /// One entry of a map.
    typealias Entry = (key: UInt64, value: UInt64)

    /// The entries of `map` in canonical order. Valid until the next allocation in its heap.
    static func entries(_ map: Value) -> [Entry] {
        var out: [Entry] = []
        out.reserveCapacity(count(map))
        forEach(map) { (k, v) throws(Never) in out.append((k, v)) }
        return out
    }

    /// The entries of `map` sorted by key in term order (atoms by name), the order in which maps
    /// print and list their keys. Keys are compared at `depth`.
    static func sortedEntries(_ map: Value, atoms: AtomTable?, depth: Int = 0) throws(ValueDepth.Exceeded) -> [Entry] {
        var out = entries(map)
        guard out.count > 1 else { return out }
        if count(map) > flatLimit || atoms != nil {
            do {
                try out.sort { a, b in
                    try ValueSemantics.compare(Value(raw: a.key), Value(raw: b.key), atoms: atoms, depth: depth) < 0
                }
            } catch {
                throw ValueDepth.Exceeded()
            }
        }  // a flat map without atom names is already in this order
        return out
    }
}
