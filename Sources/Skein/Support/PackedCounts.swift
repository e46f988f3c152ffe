/// Three counts packed into one 64-bit word (21 bits each, field 0 lowest), so that a single
/// compare-and-swap can move a unit from one count to another: `Idle` (searching, sleeping,
/// wake tokens) and `Standby` (active, borrowed, wake tokens) keep their state this way.
enum PackedCounts {
    /// Bits per count: room for any number of workers.
    static let fieldBits: UInt64 = 21
    /// Largest value a count holds.
    static let maxCount = 1 << Int(fieldBits) - 1

    /// The value 1 in count `field` (0, 1 or 2).
    @inline(__always) static func unit(_ field: UInt64) -> UInt64 { 1 << (field * fieldBits) }

    /// Count `field` of `word`.
    @inline(__always) static func count(_ field: UInt64, of word: UInt64) -> Int {
        Int(word >> (field * fieldBits) & (1 << fieldBits - 1))
    }
}
