import CSkeinSupport
import Glibc

/// Searching, trimming and case mapping over the bytes of strings and binaries: pure functions
/// of byte buffers (no heap, no allocation), which the `str` operations plan with before they
/// allocate their result.
///
/// Offsets are bytes. On a string (valid UTF-8), a match of a valid UTF-8 needle always starts
/// and ends on character boundaries (UTF-8 is self-synchronising), so searching, splitting and
/// replacing strings by strings never cut a character; only slicing at offsets can, and is
/// checked (`UTF8Validation.isBoundary`).
enum ByteStrings {
    /// The first offset at or after `from` where `needle` occurs in `haystack`, or nil. An empty
    /// needle occurs at `from`. `memmem` is glibc's two-way search: linear in the haystack.
    static func find(_ needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        guard from <= haystack.count else { return nil }
        if needle.count == 0 { return from }
        guard needle.count <= haystack.count - from else { return nil }
        if needle.count == 1 {
            // One byte (the common separator): memchr, without memmem's set-up per call.
            guard let found = memchr(haystack.baseAddress! + from, Int32(needle[0]), haystack.count - from) else { return nil }
            return UnsafeRawPointer(found) - UnsafeRawPointer(haystack.baseAddress!)
        }
        guard let found = skein_memmem(haystack.baseAddress! + from, haystack.count - from, needle.baseAddress!, needle.count) else { return nil }
        return found - UnsafeRawPointer(haystack.baseAddress!)
    }

    /// The offsets of the non-overlapping occurrences of `needle` (not empty) in `haystack`,
    /// left to right.
    static func occurrences(of needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer) -> [Int] {
        var found: [Int] = []
        var from = 0
        while let at = find(needle, in: haystack, from: from) {
            found.append(at)
            from = at + needle.count
        }
        return found
    }

    /// The pieces of `haystack` between the occurrences of `separator` (not empty): one more
    /// than there are occurrences, so a separator at either end gives an empty piece there.
    static func pieces(of haystack: UnsafeRawBufferPointer, by separator: UnsafeRawBufferPointer) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        for at in occurrences(of: separator, in: haystack) {
            pieces.append(start..<at)
            start = at + separator.count
        }
        pieces.append(start..<haystack.count)
        return pieces
    }

    /// Whether `bytes` starts (`atEnd` false) or ends with `affix`.
    static func hasAffix(_ affix: UnsafeRawBufferPointer, _ bytes: UnsafeRawBufferPointer, atEnd: Bool) -> Bool {
        guard affix.count <= bytes.count else { return false }
        guard affix.count > 0 else { return true }
        let start = bytes.baseAddress! + (atEnd ? bytes.count - affix.count : 0)
        return memcmp(start, affix.baseAddress!, affix.count) == 0
    }

    /// Space, tab, newline, vertical tab, form feed, carriage return: what `trim` removes.
    @inline(__always) static func isASCIIWhitespace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// The range left when ASCII whitespace is taken off the start and/or the end of `bytes`.
    /// (Whitespace bytes are ASCII, so on a string the cut never splits a character.)
    static func trimmed(_ bytes: UnsafeRawBufferPointer, start: Bool, end: Bool) -> Range<Int> {
        var lo = 0, hi = bytes.count
        if start { while lo < hi, isASCIIWhitespace(bytes[lo]) { lo += 1 } }
        if end { while hi > lo, isASCIIWhitespace(bytes[hi - 1]) { hi -= 1 } }
        return lo..<hi
    }

    /// `b` in ASCII upper (or lower) case; every other byte, non-ASCII ones included, as it is.
    @inline(__always) static func asciiCase(_ b: UInt8, upper: Bool) -> UInt8 {
        if upper { return b >= 0x61 && b <= 0x7A ? b - 0x20 : b }
        return b >= 0x41 && b <= 0x5A ? b + 0x20 : b
    }

    /// The integer written in `bytes` in `base` (2…36): an optional `+` or `-`, then at least
    /// one digit (letters in either case from 10 up), nothing else; nil for anything else or
    /// for a value outside 64 bits.
    static func parseInt(_ bytes: UnsafeRawBufferPointer, base: Int) -> Int64? {
        var i = 0
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < bytes.count else { return nil }
        var magnitude: UInt64 = 0
        while i < bytes.count {
            let c = bytes[i]
            let digit: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(c - UInt8(ascii: "A")) + 10
            default: return nil
            }
            guard digit < UInt64(base) else { return nil }
            let (times, o1) = magnitude.multipliedReportingOverflow(by: UInt64(base))
            let (sum, o2) = times.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            magnitude = sum
            i += 1
        }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(bitPattern: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}
