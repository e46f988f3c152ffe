/// Maps: `mapnew`, `mapput`, `mapget` (nil or a jump when the key is missing), `mapdel`,
/// `maphas`, `mapkeys`, `mappairs` (`len` gives a map's size). Layouts are `MapLayout`'s; the
/// objects of an update come from `MapBuilder`, in one block.
extension Interpreter {
    /// Runs a map instruction other than `mapgetj` (which branches; see `mapLookup`).
    func mapInstruction(_ word: UInt64) throws(Fault) {
        let regs = registers
        switch word.verifiedOpcode {
        case .mapnew:
            var reductions = 0
            let o = try allocate(words: 1, reductions: &reductions)
            o[0] = HeapObject.header(.mapFlat, payloadWords: 0)
            registers[word.fieldA] = Value.object(o).raw
        case .mapput:
            try checkMap(regs[word.fieldA], "mapput")
            var key = HashedKey(regs[word.fieldB])
            registers[word.fieldA] = try updateMap("mapput") { (builder: inout MapBuilder, regs) throws(ValueDepth.Exceeded) in
                key.key = regs[word.fieldB]
                return try builder.put(Value(raw: regs[word.fieldA]), &key, regs[word.fieldC])
            }
        case .mapdel:
            try checkMap(regs[word.fieldB], "mapdel")
            var key = HashedKey(regs[word.fieldC])
            registers[word.fieldA] = try updateMap("mapdel") { (builder: inout MapBuilder, regs) throws(ValueDepth.Exceeded) in
                key.key = regs[word.fieldC]
                return try builder.remove(Value(raw: regs[word.fieldB]), &key)
            }
        case .mapget:
            regs[word.fieldA] = try mapLookup(regs[word.fieldB], regs[word.fieldC], "mapget") ?? Value.nil.raw
        case .maphas:
            regs[word.fieldA] = Value.bool(try mapLookup(regs[word.fieldB], regs[word.fieldC], "maphas") != nil).raw
        default:  // mapkeys, mappairs
            try mapListing(word)
        }
    }

    /// The value under key `k` in map `m`, or nil.
    @inline(__always)
    func mapLookup(_ m: UInt64, _ k: UInt64, _ operation: String) throws(Fault) -> UInt64? {
        try checkMap(m, operation)
        do {
            return try MapLayout.lookup(Value(raw: m), k) { () throws(ValueDepth.Exceeded) in try ValueHash.hash(Value(raw: k)) }
        } catch {
            throw .tooDeep(operation)
        }
    }

    /// Throws unless `m` is a map.
    @inline(__always)
    private func checkMap(_ m: UInt64, _ operation: String) throws(Fault) {
        guard MapLayout.isMap(Value(raw: m)) else {
            throw Fault(kind: .typeMismatch, detail: "\(operation) needs a map, got \(Interpreter.typeName(Value(raw: m)))")
        }
    }

    /// Runs `operation` (a pure function of the registers it reads) with a builder writing into
    /// the heap's free space. If that space is too small, the builder only counted: collect with
    /// that many words reserved and run it again (on the moved registers) into exactly them.
    private func updateMap(_ name: String,
                           _ operation: (inout MapBuilder, UnsafeMutablePointer<UInt64>) throws(ValueDepth.Exceeded) -> UInt64) throws(Fault) -> UInt64 {
        let heap = ctx.pointee.heap
        var builder = MapBuilder(base: heap.top, capacity: heap.top.map { heap.end! - $0 } ?? 0)
        let result: UInt64
        do { result = try operation(&builder, registers) } catch { throw .tooDeep(name) }
        if builder.used == 0 { return result }  // unchanged: the same map
        if builder.fits {
            _ = ctx.pointee.heap.tryAllocate(words: builder.used)
            return result
        }
        var reductions = 0
        let block = try allocate(words: builder.used, reductions: &reductions)
        var exact = MapBuilder(base: block, capacity: builder.used)
        let again: UInt64
        do { again = try operation(&exact, registers) } catch { throw .tooDeep(name) }
        precondition(exact.fits && exact.used == builder.used, "a map update took other words on its second run")
        return again
    }

    /// `mapkeys rD, rM` (an array of the keys) and `mappairs rD, rM` (an array of `{key, value}`
    /// tuples), in term order.
    private func mapListing(_ word: UInt64) throws(Fault) {
        let pairs = word.verifiedOpcode == .mappairs
        let operation = pairs ? "mappairs" : "mapkeys"
        try checkMap(registers[word.fieldB], operation)
        let n = MapLayout.count(Value(raw: registers[word.fieldB]))
        var reductions = 0
        let object = try allocate(words: HeapObject.arrayWords(count: n) + (pairs ? 3 * n : 0), reductions: &reductions)
        // After the allocation (which may move the map): nothing below allocates.
        let entries: [MapLayout.Entry]
        do { entries = try MapLayout.sortedEntries(Value(raw: registers[word.fieldB]), atoms: host.atoms) } catch { throw .tooDeep(operation) }
        let slots = HeapObject.initArray(object, count: n)
        var tuple = object + HeapObject.arrayWords(count: n)
        for (i, entry) in entries.enumerated() {
            if pairs {
                tuple[0] = HeapObject.header(.tuple, payloadWords: 2)
                tuple[1] = entry.key
                tuple[2] = entry.value
                slots[i] = Value.object(tuple).raw
                tuple += 3
            } else {
                slots[i] = entry.key
            }
        }
        registers[word.fieldA] = Value.object(object).raw
    }
}
