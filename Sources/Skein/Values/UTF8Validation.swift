/// UTF-8 validation with the offset of the first bad byte: the one check that stands between
/// bytes and a string (binary to string conversion, string-mode IO reads, string slices), so
/// that every Skein string is valid UTF-8 and no invalid byte becomes a string silently.
///
/// Well-formed means RFC 3629: no overlong forms, no surrogates (U+D800…U+DFFF), nothing past
/// U+10FFFF. The same rule as Swift's `String(validating:)`, which only says yes or no.
enum UTF8Validation {
    /// The byte offset where `bytes` stop being well-formed UTF-8 (the start of the first
    /// sequence that is malformed or cut off by the end), or nil when all of it is.
    static func firstInvalidOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        var i = 0
        while i < n {
            // ASCII runs, eight bytes at a time: most text is ASCII.
            while i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            guard i < n else { break }
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            // The range of the second byte, which rules out overlong forms, surrogates and
            // values past U+10FFFF (Unicode's table 3-7).
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return i
            }
            guard i + length <= n else { return i }
            let b1 = bytes[i + 1]
            guard b1 >= low && b1 <= high else { return i }
            for k in 2..<max(2, length) where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }

    /// Where `stop` cuts a multi-byte sequence of `bytes`: the offset of the sequence's lead
    /// byte (within the three bytes before `stop`) when the sequence needs bytes at or past
    /// `stop`, with its full length; nil when `stop` is between characters (or the bytes there
    /// are no well-formed start at all, which validation then reports). For reads of a number
    /// of bytes that hand text over in whole characters.
    static func cutSequence(_ bytes: UnsafeRawBufferPointer, before stop: Int) -> (start: Int, length: Int)? {
        var lead = stop - 1
        while lead >= 0 && lead >= stop - 3 && bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0 && lead < stop else { return nil }
        let length: Int
        switch bytes[lead] {
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return nil
        }
        return lead + length > stop ? (lead, length) : nil
    }

    /// Whether `offset` (0…count) of valid UTF-8 `bytes` is a character boundary: the end, or
    /// a byte that is not a continuation byte.
    @inline(__always) static func isBoundary(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> Bool {
        offset == bytes.count || bytes[offset] & 0xC0 != 0x80
    }

    /// Why bytes are not a string, naming the offset (for errors of the process and IO).
    static func describe(_ offset: Int) -> String {
        "byte offset \(offset) is not valid UTF-8"
    }
}
