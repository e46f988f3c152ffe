/// A token of Skein assembly: its kind, the column it starts at and its value. A plain value
/// with no references, so a line's tokens cost no allocation and no reference counting; names and
/// texts are `Symbol`s of the lexer's symbol table.
struct Token {
    enum Kind: UInt8 {
        /// A name: mnemonic, function, label, constant, `func`, `end`, `const`, `nil`, …
        case identifier
        /// `name:` — a label definition.
        case label
        /// `.line`, `.source` …
        case directive
        /// `r0` … `r65534`, `integer` and `float` literals, a `"string"`, a `b"binary"`.
        case register, integer, float, string, binary
        /// `:name` or `:"any text"`.
        case atom
        /// `@name`.
        case functionRef
        /// Punctuation: `,` `{` `}` `/` `=`.
        case comma, leftBrace, rightBrace, slash, equals
    }

    /// The register number, the integer, the float's bit pattern or the symbol's id, by kind.
    var payload: Int64
    /// `column`, stored in 32 bits so that a token takes 16 bytes (a line of 16 million tokens
    /// is 256 MB of them, not 384); a column past 2^31 − 1 is reported as 2^31 − 1.
    private var storedColumn: Int32
    var kind: Kind

    /// A token of `kind` at `column` with `payload` (see `payload`).
    init(_ kind: Kind, column: Int, payload: Int64 = 0) {
        self.kind = kind
        self.storedColumn = Int32(clamping: column)
        self.payload = payload
    }

    /// 1-based column, counted in Unicode scalars.
    var column: Int { Int(storedColumn) }

    /// The name or text of an identifier, label, directive, string, atom or function reference.
    var symbol: Symbol { Symbol(id: Int32(truncatingIfNeeded: payload)) }
    /// The number of a register.
    var register: Int { Int(payload) }
    /// The value of a float.
    var float: Double { Double(bitPattern: UInt64(bitPattern: payload)) }

    /// Whether the token is the identifier `keyword`.
    func isKeyword(_ keyword: Keyword) -> Bool { kind == .identifier && payload == Int64(keyword.rawValue) }
}

/// Splits lines of assembly into tokens, working on the UTF-8 bytes of the whole source.
///
/// The source must be valid UTF-8 (`SourceText.firstInvalidByte` checks that first), so every
/// byte from 0x80 up belongs to a well-formed scalar. Names may contain any non-ASCII scalar
/// that is not whitespace. Each line costs time proportional to its length, whatever it holds:
/// nothing is converted to `Character`s and no token's text is rescanned. Names, labels, atoms and
/// strings are interned in `symbols` as they are read; no `String` is made for a token.
struct Lexer {
    private let bytes: UnsafeBufferPointer<UInt8>
    /// Every name and text read so far, starting from the keywords and mnemonics.
    var symbols = Vocabulary.initial.symbols
    /// The decoded bytes of a string with escapes, reused for every such string.
    private var decoded: [UInt8] = []
    private var i = 0
    private var end = 0
    private var lineStart = 0
    /// A byte offset of the current line and its column, so columns are counted in one pass.
    private var counted = 0
    private var countedColumn = 1

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Tokenises the bytes of `line` (without its `\n`) into `out`, replacing its contents; throws
    /// a message and a 1-based column on bad input.
    mutating func tokenize(_ line: Range<Int>, into out: inout [Token]) throws(LexError) {
        out.removeAll(keepingCapacity: true)
        i = line.lowerBound
        end = line.upperBound
        lineStart = i
        counted = i
        countedColumn = 1
        while true {
            skipSpaceAndComment()
            guard i < end else { return }
            let column = column(at: i)
            let (kind, payload) = try next()
            out.append(Token(kind, column: column, payload: payload))
        }
    }

    /// The 1-based column of byte `offset` of the current line, in Unicode scalars. Tokens come
    /// left to right, so counting on from the previous answer makes a line cost one pass.
    private mutating func column(at offset: Int) -> Int {
        if offset < counted {
            counted = lineStart
            countedColumn = 1
        }
        while counted < offset {
            if bytes[counted] & 0xC0 != 0x80 { countedColumn += 1 }
            counted += 1
        }
        return countedColumn
    }

    private mutating func error(at offset: Int, _ message: String) -> LexError {
        LexError(column: column(at: offset), message: message)
    }

    /// Whether the first token of `line` is the name `keyword` (not a longer name, not a label),
    /// decided from its first bytes: pass 1 looks only at `func` and `const` lines.
    func startsWithKeyword(_ keyword: StaticString, _ line: Range<Int>) -> Bool {
        var k = line.lowerBound
        while k < line.upperBound {
            let length = Lexer.whitespaceLength(bytes, at: k)
            if length == 0 { break }
            k += length
        }
        guard Lexer.matches(keyword, in: bytes, at: k, end: line.upperBound) else { return false }
        let after = k + keyword.utf8CodeUnitCount
        return after == line.upperBound || (!Lexer.isNameChar(bytes, at: after) && bytes[after] != UInt8(ascii: ":"))
    }

    // MARK: Character classes

    private static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    private static func isASCIISpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// The length of the whitespace at `offset` (0 if there is none); non-ASCII scalars count when
    /// Unicode calls them whitespace.
    private static func whitespaceLength(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        let b = bytes[offset]
        if b < 0x80 { return Lexer.isASCIISpace(b) ? 1 : 0 }
        return nonASCIIWhitespaceLength(bytes, at: offset)
    }

    /// `whitespaceLength` of a non-ASCII scalar. Out of line: asking for Unicode properties
    /// fetches type metadata, which the lexer's hot paths should not pay for on every call.
    @inline(never) private static func nonASCIIWhitespaceLength(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        let (scalar, length) = SourceText.scalar(in: bytes, at: offset)
        return scalar.properties.isWhitespace ? length : 0
    }

    private static func isNameStart(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        let b = bytes[offset]
        if b < 0x80 { return Lexer.isASCIILetter(b) || b == UInt8(ascii: "_") }
        return whitespaceLength(bytes, at: offset) == 0
    }

    /// Whether ASCII byte `b` may continue a name: letters, digits, `_ . ? !`, as a bit set over
    /// 0…127, so the common case is one shift and one test.
    @inline(__always) private static func isASCIINameChar(_ b: UInt8) -> Bool {
        // Bits 33 (!), 46 (.), 48…57 (digits), 63 (?); then 65…90 (A…Z), 95 (_), 97…122 (a…z).
        let low: UInt64 = 0x83FF_4002_0000_0000, high: UInt64 = 0x07FF_FFFE_87FF_FFFE
        return b < 64 ? (low >> UInt64(b)) & 1 != 0 : (high >> UInt64(b & 63)) & 1 != 0
    }

    private static func isNameChar(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        let b = bytes[offset]
        if b < 0x80 { return Lexer.isASCIINameChar(b) }
        return whitespaceLength(bytes, at: offset) == 0
    }

    // MARK: Tokens

    private mutating func skipSpaceAndComment() {
        while i < end {
            let b = bytes[i]
            if b == 0x20 { i += 1; continue }  // the common case, before the general tests
            if b == UInt8(ascii: ";") { i = end; return }
            let length = Lexer.whitespaceLength(bytes, at: i)
            if length == 0 { return }
            i += length
        }
    }

    /// The symbol of the name starting at `i` (possibly empty), advancing past it.
    private mutating func name() -> Int64 {
        let start = i
        skipName()
        return intern(start..<i)
    }

    /// The symbol id of `bytes[range]`, as a token's payload.
    private mutating func intern(_ range: Range<Int>) -> Int64 {
        Int64(symbols.intern(UnsafeBufferPointer(rebasing: bytes[range])).id)
    }

    private mutating func skipName() {
        while i < end {
            let b = bytes[i]
            if b < 0x80 {
                guard Lexer.isASCIINameChar(b) else { return }
                i += 1
            } else {
                guard Lexer.whitespaceLength(bytes, at: i) == 0 else { return }
                i += SourceText.scalar(in: bytes, at: i).length
            }
        }
    }

    private func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// `text` cut to a length fit for a message.
    private func excerpt(_ range: Range<Int>) -> String {
        range.count <= 40 ? text(range) : text(range.lowerBound..<range.lowerBound + 40) + "…"
    }

    private func startsWith(_ word: StaticString, at offset: Int) -> Bool {
        Lexer.matches(word, in: bytes, at: offset, end: end)
    }

    /// Whether `bytes[offset..<end]` starts with `word`.
    private static func matches(_ word: StaticString, in bytes: UnsafeBufferPointer<UInt8>, at offset: Int, end: Int) -> Bool {
        let count = word.utf8CodeUnitCount
        guard end - offset >= count else { return false }
        let w = word.utf8Start
        var k = 0
        while k < count, bytes[offset + k] == w[k] { k += 1 }
        return k == count
    }

    /// The kind and payload of the token at `i`, advancing past it.
    private mutating func next() throws(LexError) -> (Token.Kind, Int64) {
        let c = bytes[i]
        switch c {
        case UInt8(ascii: ","): i += 1; return (.comma, 0)
        case UInt8(ascii: "{"): i += 1; return (.leftBrace, 0)
        case UInt8(ascii: "}"): i += 1; return (.rightBrace, 0)
        case UInt8(ascii: "/"): i += 1; return (.slash, 0)
        case UInt8(ascii: "="): i += 1; return (.equals, 0)
        case UInt8(ascii: "\""): return (.string, try stringLiteral())
        case UInt8(ascii: "b") where i + 1 < end && bytes[i + 1] == UInt8(ascii: "\""):
            i += 1
            return (.binary, try stringLiteral(binary: true))
        case UInt8(ascii: ":"):
            let colon = i
            i += 1
            if i < end, bytes[i] == UInt8(ascii: "\"") { return (.atom, try stringLiteral()) }
            guard i < end, Lexer.isNameStart(bytes, at: i) else { throw error(at: colon, "expected an atom name after ':'") }
            return (.atom, name())
        case UInt8(ascii: "@"):
            let at = i
            i += 1
            guard i < end, Lexer.isNameStart(bytes, at: i) else { throw error(at: at, "expected a function name after '@'") }
            return (.functionRef, name())
        case UInt8(ascii: "."):
            i += 1
            return (.directive, name())
        default:
            if Lexer.isDigit(c) || ((c == UInt8(ascii: "-") || c == UInt8(ascii: "+")) && i + 1 < end
                                    && (Lexer.isDigit(bytes[i + 1]) || bytes[i + 1] == UInt8(ascii: "i"))) {
                return try number()
            }
            if Lexer.isNameStart(bytes, at: i) { return try word() }
            throw unexpectedCharacter()
        }
    }

    /// The error for the character at `i`, which starts no token (out of line, as
    /// `nonASCIIWhitespaceLength` is).
    @inline(never) private mutating func unexpectedCharacter() -> LexError {
        let scalar = SourceText.scalar(in: bytes, at: i).scalar
        let shown = scalar.properties.generalCategory == .control ? "U+" + String(scalar.value, radix: 16, uppercase: true) : "\(scalar)"
        return error(at: i, "unexpected character '\(shown)'")
    }

    /// A name, a label definition (`name:`), a register (`r12`) or `inf`/`nan`.
    private mutating func word() throws(LexError) -> (Token.Kind, Int64) {
        let start = i
        skipName()
        if i < end, bytes[i] == UInt8(ascii: ":") {
            i += 1
            return (.label, intern(start..<i - 1))
        }
        // Registers are most words; they are recognised without making a string.
        var digits = start + 1
        while digits < i, Lexer.isDigit(bytes[digits]) { digits += 1 }
        if bytes[start] == UInt8(ascii: "r"), i - start > 1, digits == i {
            var n = 0
            for k in start + 1..<i where n <= BinaryFormat.maxRegisters {
                n = n * 10 + Int(bytes[k] - UInt8(ascii: "0"))
            }
            guard n < BinaryFormat.maxRegisters else {
                throw error(at: start, "register \(excerpt(start..<i)) out of range (r0…r\(BinaryFormat.maxRegisters - 1): "
                            + "a function has at most \(BinaryFormat.maxRegisters) registers)")
            }
            return (.register, Int64(n))
        }
        if startsWith("inf", at: start), i - start == 3 { return Lexer.float(.infinity) }
        if startsWith("nan", at: start), i - start == 3 { return Lexer.float(.nan) }
        return (.identifier, intern(start..<i))
    }

    /// A float token's kind and payload.
    private static func float(_ d: Double) -> (Token.Kind, Int64) { (.float, Int64(bitPattern: d.bitPattern)) }

    private mutating func number() throws(LexError) -> (Token.Kind, Int64) {
        let start = i
        let negative = bytes[i] == UInt8(ascii: "-")
        if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        if startsWith("inf", at: i) {
            i += 3
            return Lexer.float(negative ? -.infinity : .infinity)
        }
        if startsWith("0x", at: i) || startsWith("0X", at: i) {
            i += 2
            return try hexadecimal(start: start, negative: negative)
        }
        let digits = i
        var isFloat = false
        while i < end {
            let c = bytes[i]
            if Lexer.isDigit(c) || c == UInt8(ascii: "_") {
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                isFloat = true
                if c != UInt8(ascii: "."), i + 1 < end, bytes[i + 1] == UInt8(ascii: "-") || bytes[i + 1] == UInt8(ascii: "+") { i += 1 }
            } else {
                break
            }
            i += 1
        }
        guard i > digits else { throw error(at: start, "malformed number '\(excerpt(start..<i))'") }
        if isFloat {
            let text = String(decoding: bytes[start..<i].lazy.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
            guard let d = Double(text) else { throw error(at: start, "malformed number '\(excerpt(start..<i))'") }
            return Lexer.float(d)
        }
        var magnitude: UInt64 = 0
        var fits = true
        for k in digits..<i where bytes[k] != UInt8(ascii: "_") && fits {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[k] - UInt8(ascii: "0")))
            magnitude = sum
            fits = !o1 && !o2
        }
        guard fits, let value = Lexer.signed(magnitude, negative: negative) else {
            throw error(at: start, "integer '\(excerpt(start..<i))' does not fit in 64 bits")
        }
        return (.integer, value)
    }

    private mutating func hexadecimal(start: Int, negative: Bool) throws(LexError) -> (Token.Kind, Int64) {
        var magnitude: UInt64 = 0
        var digitCount = 0
        var fits = true
        while i < end {
            let c = bytes[i]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            case UInt8(ascii: "_"): i += 1; continue
            default: digit = 0xFF
            }
            if digit == 0xFF { break }
            fits = fits && magnitude >> 60 == 0
            magnitude = magnitude << 4 | UInt64(digit)
            digitCount += 1
            i += 1
        }
        guard digitCount > 0 else { throw error(at: start, "malformed hexadecimal number") }
        guard fits, let value = Lexer.signed(magnitude, negative: negative) else {
            throw error(at: start, "integer '\(excerpt(start..<i))' does not fit in 64 bits")
        }
        return (.integer, value)
    }

    /// `magnitude` with its sign, if it fits in an `Int64`.
    private static func signed(_ magnitude: UInt64, negative: Bool) -> Int64? {
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(bitPattern: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// The symbol of the text of the string literal at `i`, advancing past it. A string without
    /// escapes is interned straight from the source; one with escapes is decoded first. A
    /// `binary` literal (after its `b`) also takes `\xHH`, any byte, so its symbol's bytes need
    /// not be UTF-8; a string's always are (`\x` is refused there for that reason).
    private mutating func stringLiteral(binary: Bool = false) throws(LexError) -> Int64 {
        let start = i
        i += 1
        let plain = i
        while i < end, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") { i += 1 }
        if i < end, bytes[i] == UInt8(ascii: "\"") {
            i += 1
            return intern(plain..<i - 1)
        }
        decoded.removeAll(keepingCapacity: true)
        decoded.append(contentsOf: bytes[plain..<i])
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return Int64(decoded.withUnsafeBufferPointer { symbols.intern($0) }.id)
            }
            guard c == UInt8(ascii: "\\") else {
                decoded.append(c)
                i += 1
                continue
            }
            let backslash = i
            i += 1
            guard i < end else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "0"): decoded.append(0)
            case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
            case UInt8(ascii: "u"):
                guard let scalar = unicodeEscape() else { throw error(at: backslash, "malformed \\u{…} escape") }
                decoded.append(contentsOf: String(scalar).utf8)
            case UInt8(ascii: "x") where binary:
                guard i + 2 <= end, let high = Lexer.hexDigit(bytes[i]), let low = Lexer.hexDigit(bytes[i + 1]) else {
                    throw error(at: backslash, "malformed \\x escape (two hexadecimal digits: \\x00 … \\xff)")
                }
                decoded.append(high << 4 | low)
                i += 2
            default:
                let shown = SourceText.scalar(in: bytes, at: i - 1).scalar
                let hint = binary ? "\\xHH or \\u{…}" : "or \\u{…}; \\xHH is for binaries, b\"…\""
                throw error(at: backslash, "unknown escape '\\\(shown)' (use \\n \\t \\r \\0 \\\\ \\\" \(hint))")
            }
        }
        throw error(at: start, "unterminated string")
    }

    /// The value of a hexadecimal digit.
    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The scalar of `{hex}` after `\u`, advancing past the `}`.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard i < end, bytes[i] == UInt8(ascii: "{") else { return nil }
        var code: UInt32 = 0
        var k = i + 1
        while k < end, k - i <= 8, bytes[k] != UInt8(ascii: "}") {
            guard let digit = Int(String(UnicodeScalar(bytes[k])), radix: 16) else { return nil }
            code = code << 4 | UInt32(digit)
            k += 1
        }
        guard k < end, bytes[k] == UInt8(ascii: "}"), k > i + 1, let scalar = Unicode.Scalar(code) else { return nil }
        i = k + 1
        return scalar
    }
}

/// A lexical error at a 1-based column.
struct LexError: Error {
    var column: Int
    var message: String
}
