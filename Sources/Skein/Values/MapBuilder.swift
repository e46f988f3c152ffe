/// A key with its hash, computed at most once and only when a trie needs it (flat maps compare
/// keys directly). The hash does not depend on addresses, so it stays valid when a collection
/// moves the key; the key word itself must then be re-read (`key` is settable for that).
struct HashedKey {
    /// The key value.
    var key: UInt64
    private var cached: UInt64?

    init(_ key: UInt64) { self.key = key }

    /// `ValueHash.hash(key)`.
    mutating func hash() throws(ValueDepth.Exceeded) -> UInt64 {
        if let cached { return cached }
        let h = try ValueHash.hash(Value(raw: key))
        cached = h
        return h
    }
}

/// Writes the new objects of a map update (`put`, `remove`) or of a whole map built at once
/// (`build`), sharing every unchanged node with the old map (path copying).
///
/// All objects of one operation come from one block: the builder bumps through `base` and
/// counts the words it took. With no block, or one too small, it writes nothing and only counts,
/// and the caller runs the same operation again on a block of exactly `used` words (after a
/// collection, re-reading its inputs: an operation is a pure function of the map's contents and
/// the key, so both runs walk the same path). Results of a counting run are placeholders.
///
/// Layouts are `MapLayout`'s; updates keep its canonical order and shape: flat up to
/// `flatLimit` entries, a trie beyond; in the trie a subtree with one entry is always inlined
/// in its parent as a pair, and one with two or more is a node (CHAMP's canonical form).
struct MapBuilder {
    private let base: UnsafeMutablePointer<UInt64>?
    private let capacity: Int
    /// Words taken so far (also those that did not fit).
    private(set) var used = 0

    /// A builder writing into `capacity` words at `base` (nil: count only).
    init(base: UnsafeMutablePointer<UInt64>?, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// Whether everything taken was written (the results are real objects).
    var fits: Bool { base != nil && used <= capacity }

    /// A placeholder result of a counting run (never equal to a node pointer).
    private static let pending: UInt64 = 0

    /// The next `n` words, or nil when counting or out of room.
    private mutating func take(_ n: Int) -> UnsafeMutablePointer<UInt64>? {
        defer { used += n }
        guard let base, used + n <= capacity else { return nil }
        return base + used
    }

    /// One entry with its key's hash, for building a trie at once.
    struct HashedEntry {
        var hash: UInt64
        var key: UInt64
        var value: UInt64
    }

    // MARK: Put

    /// `map` with `key` bound to `value`. Returns `map` itself (taking no words) when it already
    /// binds an equal key to exactly that value word.
    mutating func put(_ map: Value, _ key: inout HashedKey, _ value: UInt64) throws(ValueDepth.Exceeded) -> UInt64 {
        let o = map.objectAddress
        if HeapObject.kind(of: o) == .mapFlat {
            let n = HeapObject.payloadWords(of: o) / 2
            let (i, found) = try position(of: key.key, inPairsOf: o)
            if found || n < MapLayout.flatLimit { return try putPair(o, i, found, key.key, value) }
            // The ninth key: the map becomes a trie.
            var entries: [HashedEntry] = []
            entries.reserveCapacity(n + 1)
            for j in 0..<n {
                if j == i { entries.append(HashedEntry(hash: try key.hash(), key: key.key, value: value)) }
                entries.append(HashedEntry(hash: try ValueHash.hash(Value(raw: o[1 + 2 * j])), key: o[1 + 2 * j], value: o[2 + 2 * j]))
            }
            if i == n { entries.append(HashedEntry(hash: try key.hash(), key: key.key, value: value)) }
            return build(sortedByCompare: entries)
        }
        var added = false
        return try put(trie: o, level: 0, &key, value, &added)
    }

    private mutating func put(trie o: UnsafeMutablePointer<UInt64>, level: Int, _ key: inout HashedKey, _ value: UInt64,
                              _ added: inout Bool) throws(ValueDepth.Exceeded) -> UInt64 {
        if HeapObject.kind(of: o) == .mapCollision {
            let (i, found) = try position(of: key.key, inPairsOf: o)
            added = !found
            return try putPair(o, i, found, key.key, value)
        }
        let node = MapLayout.TrieNode(o)
        let h = try key.hash()
        let bit = UInt32(1) << UInt32(MapLayout.index(h, level: level))
        typealias T = MapLayout.TrieNode
        if node.datamap & bit != 0 {
            let i = T.rank(node.datamap, bit)
            let other = node.key(i)
            if try ValueSemantics.equal(Value(raw: other), Value(raw: key.key)) {
                if node.value(i) == value { return Value.object(o).raw }
                guard let n = rewrite(node, datamap: node.datamap, nodemap: node.nodemap, countDelta: 0) else { return Self.pending }
                _ = copy(node.base + 2, 2 * node.dataCount + node.childCount, to: n.base + 2)
                n.base[3 + 2 * i] = value
                return n.value
            }
            // Two keys share this slot: they move into a child node one level down.
            added = true
            let sub = try merge(HashedEntry(hash: try ValueHash.hash(Value(raw: other)), key: other, value: node.value(i)),
                                HashedEntry(hash: h, key: key.key, value: value), level: level + 1)
            let j = T.rank(node.nodemap, bit)
            guard let n = rewrite(node, datamap: node.datamap ^ bit, nodemap: node.nodemap | bit, countDelta: 1) else { return Self.pending }
            var w = n.base + 2
            w = copy(node.base + 2, 2 * i, to: w)
            w = copy(node.base + 4 + 2 * i, 2 * (node.dataCount - i - 1), to: w)
            let children = node.base + 2 + 2 * node.dataCount
            w = copy(children, j, to: w)
            w.pointee = sub
            _ = copy(children + j, node.childCount - j, to: w + 1)
            return n.value
        }
        if node.nodemap & bit != 0 {
            let j = T.rank(node.nodemap, bit)
            let child = node.child(j)
            let updated = try put(trie: Value(raw: child).objectAddress, level: level + 1, &key, value, &added)
            if updated == child { return Value.object(o).raw }
            guard let n = rewrite(node, datamap: node.datamap, nodemap: node.nodemap, countDelta: added ? 1 : 0) else { return Self.pending }
            _ = copy(node.base + 2, 2 * node.dataCount + node.childCount, to: n.base + 2)
            n.base[2 + 2 * node.dataCount + j] = updated
            return n.value
        }
        added = true
        let i = T.rank(node.datamap, bit)
        guard let n = rewrite(node, datamap: node.datamap | bit, nodemap: node.nodemap, countDelta: 1) else { return Self.pending }
        let w = copy(node.base + 2, 2 * i, to: n.base + 2)
        w[0] = key.key
        w[1] = value
        _ = copy(node.base + 2 + 2 * i, 2 * (node.dataCount - i) + node.childCount, to: w + 2)
        return n.value
    }

    /// A node holding two entries with different keys, `level` levels down: pairs in one node
    /// where their hash indices differ, a chain of single-child nodes while they agree, a
    /// collision node when the whole hashes are equal.
    private mutating func merge(_ a: HashedEntry, _ b: HashedEntry, level: Int) throws(ValueDepth.Exceeded) -> UInt64 {
        if level == MapLayout.collisionLevel {
            let ordered = try ValueSemantics.compare(Value(raw: a.key), Value(raw: b.key), atoms: nil) < 0 ? [a, b] : [b, a]
            guard let o = take(5) else { return Self.pending }
            o[0] = HeapObject.header(.mapCollision, payloadWords: 4)
            for (i, e) in ordered.enumerated() { o[1 + 2 * i] = e.key; o[2 + 2 * i] = e.value }
            return Value.object(o).raw
        }
        let ia = MapLayout.index(a.hash, level: level), ib = MapLayout.index(b.hash, level: level)
        if ia != ib {
            guard let o = take(7) else { return Self.pending }
            let (first, second) = ia < ib ? (a, b) : (b, a)
            o[0] = HeapObject.header(.mapNode, payloadWords: 6)
            o[1] = MapLayout.TrieNode.word(UInt32(1) << UInt32(ia) | UInt32(1) << UInt32(ib))
            o[2] = MapLayout.TrieNode.word(0)
            o[3] = first.key; o[4] = first.value; o[5] = second.key; o[6] = second.value
            return Value.object(o).raw
        }
        let sub = try merge(a, b, level: level + 1)
        guard let o = take(4) else { return Self.pending }
        o[0] = HeapObject.header(.mapNode, payloadWords: 3)
        o[1] = MapLayout.TrieNode.word(0)
        o[2] = MapLayout.TrieNode.word(UInt32(1) << UInt32(ia))
        o[3] = sub
        return Value.object(o).raw
    }

    // MARK: Remove

    /// What removing a key did to a subtree.
    private enum Removal {
        /// The key was not there.
        case absent
        /// The subtree's new node.
        case node(UInt64)
        /// One entry is left: the parent inlines it as a pair (no node is written).
        case single(UInt64, UInt64)
    }

    /// `map` without `key`; `map` itself (taking no words) when it has no such key.
    mutating func remove(_ map: Value, _ key: inout HashedKey) throws(ValueDepth.Exceeded) -> UInt64 {
        let o = map.objectAddress
        switch HeapObject.kind(of: o) {
        case .mapFlat:
            guard let i = try MapLayout.find(key.key, inPairsOf: o) else { return map.raw }
            return removePair(o, i)
        default:
            if MapLayout.count(map) == MapLayout.flatLimit + 1 {
                // The trie shrinks to a flat map.
                guard try MapLayout.lookup(map, key.key, hash: { () throws(ValueDepth.Exceeded) in try key.hash() }) != nil else { return map.raw }
                var rest: [MapLayout.Entry] = []
                for e in try MapLayout.sortedEntries(map, atoms: nil) where !(try ValueSemantics.equal(Value(raw: e.key), Value(raw: key.key))) {
                    rest.append(e)
                }
                return writeFlat(rest)
            }
            switch try remove(trie: o, level: 0, &key) {
            case .absent: return map.raw
            case .node(let n): return n
            case .single: preconditionFailure("a map root never collapses into its parent")
            }
        }
    }

    private mutating func remove(trie o: UnsafeMutablePointer<UInt64>, level: Int, _ key: inout HashedKey) throws(ValueDepth.Exceeded) -> Removal {
        if HeapObject.kind(of: o) == .mapCollision {
            guard let i = try MapLayout.find(key.key, inPairsOf: o) else { return .absent }
            if HeapObject.payloadWords(of: o) == 4 { return .single(o[1 + 2 * (1 - i)], o[2 + 2 * (1 - i)]) }
            return .node(removePair(o, i))
        }
        typealias T = MapLayout.TrieNode
        let node = T(o)
        let isRoot = HeapObject.kind(of: o) == .mapRoot
        let bit = UInt32(1) << UInt32(MapLayout.index(try key.hash(), level: level))
        if node.datamap & bit != 0 {
            let i = T.rank(node.datamap, bit)
            guard try ValueSemantics.equal(Value(raw: node.key(i)), Value(raw: key.key)) else { return .absent }
            if !isRoot && node.dataCount == 2 && node.childCount == 0 { return .single(node.key(1 - i), node.value(1 - i)) }
            guard let n = rewrite(node, datamap: node.datamap ^ bit, nodemap: node.nodemap, countDelta: -1) else { return .node(Self.pending) }
            let w = copy(node.base + 2, 2 * i, to: n.base + 2)
            _ = copy(node.base + 4 + 2 * i, 2 * (node.dataCount - i - 1) + node.childCount, to: w)
            return .node(n.value)
        }
        guard node.nodemap & bit != 0 else { return .absent }
        let j = T.rank(node.nodemap, bit)
        switch try remove(trie: Value(raw: node.child(j)).objectAddress, level: level + 1, &key) {
        case .absent:
            return .absent
        case .node(let child):
            guard let n = rewrite(node, datamap: node.datamap, nodemap: node.nodemap, countDelta: -1) else { return .node(Self.pending) }
            _ = copy(node.base + 2, 2 * node.dataCount + node.childCount, to: n.base + 2)
            n.base[2 + 2 * node.dataCount + j] = child
            return .node(n.value)
        case .single(let k, let v):
            if !isRoot && node.dataCount == 0 && node.childCount == 1 { return .single(k, v) }
            // The child's last entry comes up into this node as a pair.
            let i = T.rank(node.datamap, bit)
            guard let n = rewrite(node, datamap: node.datamap | bit, nodemap: node.nodemap ^ bit, countDelta: -1) else { return .node(Self.pending) }
            var w = copy(node.base + 2, 2 * i, to: n.base + 2)
            w[0] = k
            w[1] = v
            w = copy(node.base + 2 + 2 * i, 2 * (node.dataCount - i), to: w + 2)
            let children = node.base + 2 + 2 * node.dataCount
            w = copy(children, j, to: w)
            _ = copy(children + j + 1, node.childCount - j - 1, to: w)
            return .node(n.value)
        }
    }

    // MARK: Whole maps

    /// A map of `entries`, which are sorted by `ValueSemantics.compare(_:_:atoms: nil)` of their
    /// keys with no two keys equal: flat when they are few, else a trie.
    mutating func build(sortedByCompare entries: [HashedEntry]) -> UInt64 {
        if entries.count <= MapLayout.flatLimit { return writeFlat(entries.map { ($0.key, $0.value) }) }
        // Canonical trie order: by hash, then by compare (the order given) among equal hashes.
        let ordered = entries.enumerated().sorted { a, b in
            a.element.hash != b.element.hash ? a.element.hash < b.element.hash : a.offset < b.offset
        }.map(\.element)
        return ordered.withUnsafeBufferPointer { trie($0[...], level: 0, root: true) }
    }

    /// The trie node (or collision node) for `entries`, which share their hash indices above
    /// `level` and are in canonical order.
    private mutating func trie(_ entries: Slice<UnsafeBufferPointer<HashedEntry>>, level: Int, root: Bool) -> UInt64 {
        if level == MapLayout.collisionLevel {
            guard let o = take(1 + 2 * entries.count) else { return Self.pending }
            o[0] = HeapObject.header(.mapCollision, payloadWords: 2 * entries.count)
            for (i, e) in entries.enumerated() { o[1 + 2 * i] = e.key; o[2 + 2 * i] = e.value }
            return Value.object(o).raw
        }
        // Entries with the same index at this level are adjacent (they are sorted by hash).
        var datamap: UInt32 = 0, nodemap: UInt32 = 0
        var start = entries.startIndex
        while start < entries.endIndex {
            let index = MapLayout.index(entries[start].hash, level: level)
            var end = start + 1
            while end < entries.endIndex, MapLayout.index(entries[end].hash, level: level) == index { end += 1 }
            if end - start == 1 { datamap |= 1 << UInt32(index) } else { nodemap |= 1 << UInt32(index) }
            start = end
        }
        let prefix = root ? 1 : 0
        let dataCount = datamap.nonzeroBitCount
        let payload = prefix + 2 + 2 * dataCount + nodemap.nonzeroBitCount
        let o = take(1 + payload)
        if let o {
            o[0] = HeapObject.header(root ? .mapRoot : .mapNode, payloadWords: payload)
            if root { o[1] = Value.smallInt(Int64(entries.count)).raw }
            o[1 + prefix] = MapLayout.TrieNode.word(datamap)
            o[2 + prefix] = MapLayout.TrieNode.word(nodemap)
        }
        var pair = 0, child = 0
        start = entries.startIndex
        while start < entries.endIndex {
            let index = MapLayout.index(entries[start].hash, level: level)
            var end = start + 1
            while end < entries.endIndex, MapLayout.index(entries[end].hash, level: level) == index { end += 1 }
            if end - start == 1 {
                o?[3 + prefix + 2 * pair] = entries[start].key
                o?[4 + prefix + 2 * pair] = entries[start].value
                pair += 1
            } else {
                let sub = trie(entries[start..<end], level: level + 1, root: false)
                o?[3 + prefix + 2 * dataCount + child] = sub
                child += 1
            }
            start = end
        }
        return o.map { Value.object($0).raw } ?? Self.pending
    }

    /// A flat map of `pairs`, in the order given.
    private mutating func writeFlat(_ pairs: [MapLayout.Entry]) -> UInt64 {
        guard let o = take(1 + 2 * pairs.count) else { return Self.pending }
        o[0] = HeapObject.header(.mapFlat, payloadWords: 2 * pairs.count)
        for (i, e) in pairs.enumerated() { o[1 + 2 * i] = e.key; o[2 + 2 * i] = e.value }
        return Value.object(o).raw
    }

    // MARK: Pairs nodes (flat maps and collision nodes)

    /// Where `key` is or would go in the sorted pairs of `object`.
    private func position(of key: UInt64, inPairsOf object: UnsafeMutablePointer<UInt64>) throws(ValueDepth.Exceeded) -> (Int, found: Bool) {
        let (start, n) = MapLayout.pairs(object)
        for i in 0..<n {
            let c = try ValueSemantics.compare(Value(raw: start[2 * i]), Value(raw: key), atoms: nil)
            if c >= 0 { return (i, c == 0) }
        }
        return (n, false)
    }

    /// A copy of the pairs node `o` (flat or collision) with `value` at pair `i`: replacing
    /// that pair's value when `found`, else inserting `key` there.
    private mutating func putPair(_ o: UnsafeMutablePointer<UInt64>, _ i: Int, _ found: Bool, _ key: UInt64, _ value: UInt64) throws(ValueDepth.Exceeded) -> UInt64 {
        let n = HeapObject.payloadWords(of: o) / 2
        if found && o[2 + 2 * i] == value { return Value.object(o).raw }
        let pairs = found ? n : n + 1
        guard let c = take(1 + 2 * pairs) else { return Self.pending }
        c[0] = HeapObject.header(HeapObject.kind(of: o), payloadWords: 2 * pairs)
        if found {
            c.advanced(by: 1).update(from: o + 1, count: 2 * n)
            c[2 + 2 * i] = value
        } else {
            let w = copy(o + 1, 2 * i, to: c + 1)
            w[0] = key
            w[1] = value
            _ = copy(o + 1 + 2 * i, 2 * (n - i), to: w + 2)
        }
        return Value.object(c).raw
    }

    /// A copy of the pairs node `o` without pair `i`.
    private mutating func removePair(_ o: UnsafeMutablePointer<UInt64>, _ i: Int) -> UInt64 {
        let n = HeapObject.payloadWords(of: o) / 2
        guard let c = take(1 + 2 * (n - 1)) else { return Self.pending }
        c[0] = HeapObject.header(HeapObject.kind(of: o), payloadWords: 2 * (n - 1))
        let w = copy(o + 1, 2 * i, to: c + 1)
        _ = copy(o + 3 + 2 * i, 2 * (n - i - 1), to: w)
        return Value.object(c).raw
    }

    // MARK: Trie nodes

    /// A trie node being written: its object and its data bitmap word (pairs and children
    /// follow at `base + 2`).
    private struct NewNode {
        let object: UnsafeMutablePointer<UInt64>
        var base: UnsafeMutablePointer<UInt64> { object + 1 + MapLayout.TrieNode.prefixWords(HeapObject.kind(of: object)) }
        var value: UInt64 { Value.object(object).raw }
    }

    /// A new node of `node`'s kind with these bitmaps (header, count and bitmaps written), its
    /// count changed by `countDelta` if it is a root; nil when counting.
    private mutating func rewrite(_ node: MapLayout.TrieNode, datamap: UInt32, nodemap: UInt32, countDelta: Int) -> NewNode? {
        let kind = HeapObject.kind(of: node.object)
        let prefix = MapLayout.TrieNode.prefixWords(kind)
        let payload = prefix + 2 + 2 * datamap.nonzeroBitCount + nodemap.nonzeroBitCount
        guard let o = take(1 + payload) else { return nil }
        o[0] = HeapObject.header(kind, payloadWords: payload)
        if prefix == 1 { o[1] = Value.smallInt(Value(raw: node.object[1]).smallIntValue + Int64(countDelta)).raw }
        o[1 + prefix] = MapLayout.TrieNode.word(datamap)
        o[2 + prefix] = MapLayout.TrieNode.word(nodemap)
        return NewNode(object: o)
    }

    /// Copies `count` words from `source` to `target`; returns the word after the last written.
    @inline(__always)
    private func copy(_ source: UnsafeMutablePointer<UInt64>, _ count: Int, to target: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64> {
        if count > 0 { target.update(from: source, count: count) }
        return target + count
    }
}
