import Glibc

/// An interned byte string of the assembly text: a name, a label, an atom's or a string's text.
/// Two symbols are equal exactly when their bytes are, so the assembler compares and looks up
/// names by this small integer instead of hashing a `String` for every token.
struct Symbol: Hashable {
    /// Index in the `SymbolTable` that made it; dense, from 0.
    var id: Int32
}

/// Interns byte strings as `Symbol`s: every distinct byte string gets the next id, and its bytes
/// are kept in one arena, so interning allocates nothing once the arena has grown to the text's
/// distinct names.
///
/// Open addressing over a power-of-two slot array, at most half full; the hash reads 8 bytes at a
/// time, so interning costs time proportional to the name's length, whatever the name.
struct SymbolTable {
    /// The bytes of every symbol, one after another.
    private var arena: [UInt8] = []
    /// Where symbol `id`'s bytes start in `arena`; `starts[id + 1]` is where they end.
    private var starts: [Int] = [0]
    /// The hash of each symbol, so that growing the slots and most mismatches read no bytes.
    private var hashes: [UInt64] = []
    /// `id + 1` of the symbol in each slot, 0 for an empty slot.
    private var slots = [Int32](repeating: 0, count: 256)

    /// The number of symbols.
    var count: Int { hashes.count }

    /// The symbol of the UTF-8 of `text`.
    mutating func intern(_ text: String) -> Symbol {
        Array(text.utf8).withUnsafeBufferPointer { intern($0) }
    }

    /// The symbol of `key`, interning it if it is new.
    mutating func intern(_ key: UnsafeBufferPointer<UInt8>) -> Symbol {
        let hash = SymbolTable.hash(key)
        var mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(slots[slot])
            if entry == 0 { break }
            if hashes[entry - 1] == hash, equals(entry - 1, key) { return Symbol(id: Int32(entry - 1)) }
            slot = (slot + 1) & mask
        }
        let id = hashes.count
        // Symbol ids are Int32: a text has fewer distinct names than it has bytes, and the
        // assembler's input is far below 2 GB names (each name takes at least one byte and a
        // separator).
        precondition(id < Int(Int32.max), "more than 2^31 distinct names")
        hashes.append(hash)
        arena.append(contentsOf: key)
        starts.append(arena.count)
        if hashes.count * 2 > slots.count {
            grow()
            mask = slots.count - 1
            slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
        }
        slots[slot] = Int32(id + 1)
        return Symbol(id: Int32(id))
    }

    /// The text of `symbol` (which is UTF-8: it comes from validated text or a decoded escape).
    func string(_ symbol: Symbol) -> String {
        let id = Int(symbol.id)
        return String(decoding: arena[starts[id]..<starts[id + 1]], as: UTF8.self)
    }

    /// The bytes of `symbol` (a binary literal's need not be UTF-8).
    func bytes(_ symbol: Symbol) -> [UInt8] {
        let id = Int(symbol.id)
        return Array(arena[starts[id]..<starts[id + 1]])
    }

    /// The length of `symbol` in bytes.
    func byteCount(_ symbol: Symbol) -> Int {
        let id = Int(symbol.id)
        return starts[id + 1] - starts[id]
    }

    private func equals(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[id]
        guard starts[id + 1] - start == key.count else { return false }
        guard let keyBase = key.baseAddress else { return true }
        return arena.withUnsafeBufferPointer { stored in memcmp(stored.baseAddress! + start, keyBase, key.count) == 0 }
    }

    /// Doubles the slots and places every symbol again.
    private mutating func grow() {
        var bigger = [Int32](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        for (id, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while bigger[slot] != 0 { slot = (slot + 1) & mask }
            bigger[slot] = Int32(id + 1)
        }
        slots = bigger
    }

    /// A hash of `key` read 8 bytes at a time (a multiply-rotate mix with a final avalanche):
    /// names are short and not chosen to collide, and a collision costs a probe, never a wrong answer.
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let m: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(key.count) &* m
        var k = 0
        if let base = key.baseAddress {
            let raw = UnsafeRawPointer(base)
            while k + 8 <= key.count {
                let chunk = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                h = ((h ^ chunk) &* m).rotateLeft(29)
                k += 8
            }
            // The last 0…7 bytes in at most three loads (most names are shorter than 8 bytes).
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            if key.count - k >= 4 {
                tail = UInt64(raw.loadUnaligned(fromByteOffset: k, as: UInt32.self))
                shift = 32
                k += 4
            }
            if key.count - k >= 2 {
                tail |= UInt64(raw.loadUnaligned(fromByteOffset: k, as: UInt16.self)) << shift
                shift += 16
                k += 2
            }
            if k < key.count { tail |= UInt64(base[k]) << shift }
            h = (h ^ tail) &* m
        }
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }
}

extension UInt64 {
    /// The bits rotated left by `n` (0 < n < 64).
    fileprivate func rotateLeft(_ n: UInt64) -> UInt64 { self << n | self >> (64 - n) }
}
