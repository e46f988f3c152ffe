/// A token of Skein assembly, with the column it starts at.
struct Token: Equatable {
    enum Kind: Equatable {
        /// A name: mnemonic, function, label, constant, `func`, `end`, `const`, `nil`, …
        case identifier(String)
        /// `name:` — a label definition.
        case label(String)
        /// `.line`, `.source` …
        case directive(String)
        case register(Int)
        case integer(Int64)
        case float(Double)
        case string(String)
        /// `:name` or `:"any text"`.
        case atom(String)
        /// `@name`.
        case functionRef(String)
        case comma, leftBrace, rightBrace, slash, equals
    }
    var kind: Kind
    /// 1-based column.
    var column: Int
}

/// Splits one line of assembly into tokens.
struct Lexer {
    private let chars: [Character]
    private var i = 0

    init(line: Substring) { chars = Array(line) }

    /// Tokenises the whole line; throws a message and a 1-based column on bad input.
    mutating func tokens() throws(LexError) -> [Token] {
        var out: [Token] = []
        while true {
            skipSpaceAndComment()
            guard i < chars.count else { return out }
            let column = i + 1
            out.append(Token(kind: try next(), column: column))
        }
    }

    private mutating func skipSpaceAndComment() {
        while i < chars.count {
            if chars[i] == ";" { i = chars.count; return }
            if chars[i].isWhitespace { i += 1 } else { return }
        }
    }

    private static func isNameStart(_ c: Character) -> Bool { c.isLetter || c == "_" }
    private static func isNameChar(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "_" || c == "." || c == "?" || c == "!"
    }

    private mutating func name() -> String {
        let start = i
        while i < chars.count, Lexer.isNameChar(chars[i]) { i += 1 }
        return String(chars[start..<i])
    }

    private mutating func next() throws(LexError) -> Token.Kind {
        let c = chars[i]
        switch c {
        case ",": i += 1; return .comma
        case "{": i += 1; return .leftBrace
        case "}": i += 1; return .rightBrace
        case "/": i += 1; return .slash
        case "=": i += 1; return .equals
        case "\"": return .string(try stringLiteral())
        case ":":
            i += 1
            if i < chars.count, chars[i] == "\"" { return .atom(try stringLiteral()) }
            guard i < chars.count, Lexer.isNameStart(chars[i]) else {
                throw LexError(column: i, message: "expected an atom name after ':'")
            }
            return .atom(name())
        case "@":
            i += 1
            guard i < chars.count, Lexer.isNameStart(chars[i]) else {
                throw LexError(column: i, message: "expected a function name after '@'")
            }
            return .functionRef(name())
        case ".":
            i += 1
            return .directive(name())
        default:
            if c.isNumber || ((c == "-" || c == "+") && i + 1 < chars.count && (chars[i + 1].isNumber || chars[i + 1] == "i")) {
                return try number()
            }
            if Lexer.isNameStart(c) {
                let start = i
                let word = name()
                if i < chars.count, chars[i] == ":" {
                    i += 1
                    return .label(word)
                }
                if word.first == "r", word.count > 1, word.dropFirst().allSatisfy(\.isNumber) {
                    guard let n = Int(word.dropFirst()), n <= 0xFFFF else {
                        throw LexError(column: start + 1, message: "register \(word) out of range (r0…r65535)")
                    }
                    return .register(n)
                }
                switch word {
                case "inf": return .float(.infinity)
                case "nan": return .float(.nan)
                default: return .identifier(word)
                }
            }
            throw LexError(column: i + 1, message: "unexpected character '\(c)'")
        }
    }

    private mutating func number() throws(LexError) -> Token.Kind {
        let start = i
        var text = ""
        if chars[i] == "-" || chars[i] == "+" { text.append(chars[i]); i += 1 }
        if chars[i...].starts(with: "inf") {
            i += 3
            return .float(text == "-" ? -.infinity : .infinity)
        }
        var isFloat = false
        if chars[i...].starts(with: "0x") || chars[i...].starts(with: "0X") {
            i += 2
            var digits = ""
            while i < chars.count, chars[i].isHexDigit || chars[i] == "_" {
                if chars[i] != "_" { digits.append(chars[i]) }
                i += 1
            }
            guard let magnitude = UInt64(digits, radix: 16) else {
                throw LexError(column: start + 1, message: "malformed hexadecimal number")
            }
            let value: Int64? = text == "-" ? (magnitude <= UInt64(Int64.max) + 1 ? Int64(bitPattern: 0 &- magnitude) : nil)
                                            : (magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil)
            guard let value else { throw LexError(column: start + 1, message: "integer does not fit in 64 bits") }
            return .integer(value)
        }
        while i < chars.count {
            let c = chars[i]
            if c.isNumber { text.append(c) } else if c == "_" {
            } else if c == "." || c == "e" || c == "E" {
                isFloat = true
                text.append(c)
                if (c == "e" || c == "E"), i + 1 < chars.count, chars[i + 1] == "-" || chars[i + 1] == "+" {
                    i += 1
                    text.append(chars[i])
                }
            } else { break }
            i += 1
        }
        if isFloat {
            guard let d = Double(text) else { throw LexError(column: start + 1, message: "malformed number '\(text)'") }
            return .float(d)
        }
        guard let n = Int64(text) else {
            throw LexError(column: start + 1, message: "integer '\(text)' does not fit in 64 bits")
        }
        return .integer(n)
    }

    private mutating func stringLiteral() throws(LexError) -> String {
        let start = i
        i += 1
        var s = ""
        while i < chars.count {
            let c = chars[i]
            i += 1
            switch c {
            case "\"": return s
            case "\\":
                guard i < chars.count else { break }
                let e = chars[i]
                i += 1
                switch e {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "r": s.append("\r")
                case "0": s.append("\0")
                case "\\": s.append("\\")
                case "\"": s.append("\"")
                case "u":
                    guard i < chars.count, chars[i] == "{", let close = chars[i...].firstIndex(of: "}"),
                          let code = UInt32(String(chars[(i + 1)..<close]), radix: 16),
                          let scalar = Unicode.Scalar(code) else {
                        throw LexError(column: i, message: "malformed \\u{…} escape")
                    }
                    s.unicodeScalars.append(scalar)
                    i = close + 1
                default:
                    throw LexError(column: i - 1, message: "unknown escape '\\\(e)' (use \\n \\t \\r \\0 \\\\ \\\" or \\u{…})")
                }
            default:
                s.append(c)
            }
        }
        throw LexError(column: start + 1, message: "unterminated string")
    }
}

/// A lexical error at a 1-based column.
struct LexError: Error {
    var column: Int
    var message: String
}
