import Glibc

/// The bytes of an assembly file and the few questions the assembler asks about them: is it
/// UTF-8, where do lines start, which line and column a byte is at.
///
/// The assembler works on UTF-8 bytes rather than `String` indices so that assembling is linear
/// in the size of the file (tens of MB per second), whatever its line lengths. The bytes are
/// borrowed for the duration of one assembly (`Assembler.assemble` holds the array's buffer),
/// so reading them costs neither a bounds check against a copy nor reference counting.
struct SourceText {
    /// The file's bytes, valid while the assembly runs.
    let bytes: UnsafeBufferPointer<UInt8>
    /// Offset of the first byte after an optional UTF-8 byte order mark.
    let start: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    /// The offset of the first byte that does not belong to well-formed UTF-8 (no overlong forms,
    /// no surrogates, nothing above U+10FFFF), or `nil` if the whole text is UTF-8. A sequence
    /// cut short is reported at its first byte.
    func firstInvalidByte() -> Int? {
        let n = bytes.count
        var i = 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            // Ranges of the second byte from RFC 3629's table; later bytes are 0x80…0xBF.
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return i
            }
            guard i + length <= n, bytes[i + 1] >= low, bytes[i + 1] <= high else { return i }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }

    /// The byte range of each line, without its `\n`, numbered from 1; a `\r` before the `\n`
    /// stays (the lexer skips it as whitespace, so CRLF files assemble like LF files).
    struct Lines: Sequence, IteratorProtocol {
        let bytes: UnsafeBufferPointer<UInt8>
        var offset: Int
        var number = 0

        mutating func next() -> (number: Int, range: Range<Int>)? {
            guard offset < bytes.count, let base = bytes.baseAddress else { return nil }
            let lineStart = offset
            // memchr compares many bytes at a time; both passes of the assembler split every line.
            if let newline = memchr(base + offset, 0x0A, bytes.count - offset) {
                offset = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
            } else {
                offset = bytes.count
            }
            let range = lineStart..<offset
            offset += 1
            number += 1
            return (number, range)
        }
    }

    /// The lines of the text, after the byte order mark.
    var lines: Lines { Lines(bytes: bytes, offset: start) }

    /// The 1-based line and column (in Unicode scalars) of byte `offset`, which must follow only
    /// well-formed UTF-8. Linear in `offset`; for error reports.
    func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for k in start..<offset {
            if bytes[k] == 0x0A {
                line += 1
                column = 1
            } else if bytes[k] & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    /// The scalar that starts at `offset` of well-formed UTF-8 `bytes`, and its length in bytes.
    static func scalar(in bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> (scalar: Unicode.Scalar, length: Int) {
        let b = UInt32(bytes[offset])
        func continuation(_ k: Int) -> UInt32 { UInt32(bytes[offset + k] & 0x3F) }
        let (value, length): (UInt32, Int)
        switch b {
        case ..<0x80: (value, length) = (b, 1)
        case ..<0xE0: (value, length) = ((b & 0x1F) << 6 | continuation(1), 2)
        case ..<0xF0: (value, length) = ((b & 0x0F) << 12 | continuation(1) << 6 | continuation(2), 3)
        default: (value, length) = ((b & 0x07) << 18 | continuation(1) << 12 | continuation(2) << 6 | continuation(3), 4)
        }
        guard let scalar = Unicode.Scalar(value) else { fatalError("SourceText.scalar on bytes that are not UTF-8") }
        return (scalar, length)
    }
}
