/// A 64-bit hash of values, consistent with `ValueSemantics.equal`: equal values hash alike.
///
/// So numbers hash by value, not by representation: a float with an integral value in `Int64`'s
/// range hashes as that integer (`1.0` as `1`, `-0.0` as `0`), every NaN hashes alike (NaN equals
/// NaN in Skein), and boxed and small integers are the same. Containers combine their
/// elements' hashes; a map combines its entries in canonical order (`MapLayout`), which equal
/// maps share. Atoms, pids, references and functions hash their VM-wide numbers. Nothing
/// depends on addresses, so a hash survives collections and copies into other processes.
///
/// The map trie indexes with the high bits first, so the final mix must spread every input bit
/// over all 64 (MurmurHash3's finaliser does).
///
/// Against crafted keys (a program counting words from the network puts untrusted strings in a
/// map): strings hash with SipHash (Swift's `Hasher`), keyed by a random seed per OS process, and
/// containers start from that seed, so colliding keys cannot be computed offline. Integers need
/// no key: their mix is a bijection, so two integers never collide. The hash is never visible
/// to programs (term order is by value), so it may differ from run to run; it is the same for
/// every process of a VM, which is all a map sent between them needs.
enum ValueHash {
    /// The hash of `v`, walking containers under `ValueDepth`.
    static func hash(_ v: Value, depth: Int = 0) throws(ValueDepth.Exceeded) -> UInt64 {
        if v.isSmallInt { return integer(v.smallIntValue) }
        guard v.isObject else { return mix(v.raw ^ 0x5CA1_AB1E) }
        let o = v.objectAddress
        switch HeapObject.kind(of: o) {
        case .boxedInt: return integer(v.boxedIntValue)
        case .float:
            let d = v.floatValue
            if let n = Int64(exactly: d) { return integer(n) }
            return d.isNaN ? mix(0x7FF8_0000_0000_0000) : mix(d.bitPattern ^ 0xF10A7)
        case .string: return string(v.stringBytes)
        case .binary: return mix(string(v.stringBytes) ^ 0xB1_4A27)  // unlike the string of the same bytes
        case .tuple, .array, .arrayStorage:
            try ValueDepth.check(depth)
            let elements = v.elements
            var h = mix(seed ^ UInt64(elements.count) ^ (v.heapKind == .tuple ? 0x7E9 : 0xA77A))
            for e in elements { h = combine(h, try hash(Value(raw: e), depth: depth + 1)) }
            return mix(h)
        case .mapFlat, .mapRoot, .mapNode, .mapCollision:
            try ValueDepth.check(depth)
            var h = mix(seed ^ UInt64(MapLayout.count(v)) ^ 0x3A9)
            try MapLayout.forEach(v) { (k, value) throws(ValueDepth.Exceeded) in
                h = combine(combine(h, try hash(Value(raw: k), depth: depth + 1)), try hash(Value(raw: value), depth: depth + 1))
            }
            return mix(h)
        }
    }

    /// The hash of an integer (also of a float with that exact value).
    @inline(__always) static func integer(_ n: Int64) -> UInt64 { mix(UInt64(bitPattern: n)) }

    /// The random key of this OS process's hashes.
    static let seed = UInt64.random(in: 0...UInt64.max)

    /// The hash of a string's bytes: SipHash-1-3 under the process's random key.
    static func string(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: b)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// Folds `x` into the running hash `h` (order-dependent).
    @inline(__always) static func combine(_ h: UInt64, _ x: UInt64) -> UInt64 {
        let m = (h ^ x) &* 0xFF51_AFD7_ED55_8CCD
        return m ^ (m >> 32) &+ 0x9E37_79B9_7F4A_7C15
    }

    /// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }
}
