/// `str rD, :format, rFormat, n`: the format string (register `rFormat`) with its placeholders
/// filled, in order, by the n − 1 values in the registers after it.
///
/// - `{}` is the next value's printed form as `print` writes it (a string raw, everything else
///   as `tostr` gives it); `{q}` its quoted form (a string in quotes with escapes, as inside a
///   tuple), for messages where the difference matters.
/// - `{{` and `}}` are a literal `{` and `}`.
/// - Anything else after `{`, a lone `}`, or a number of placeholders other than the number of
///   values is a `:bad_argument` error naming the byte offset or the counts: a mistake in a
///   format shows at once instead of as a silently odd message.
extension Interpreter {
    /// Runs `:format`.
    func format(_ word: UInt64, reductions: inout Int) throws(Fault) -> UInt64 {
        let template = strArgument(word, 0)
        guard template.heapKind == .string else {
            throw Fault(kind: .typeMismatch, detail: "str :format needs a format string as argument 1, got \(Interpreter.typeName(template))")
        }
        let values = word.fieldD - 1
        var out: [UInt8] = []
        var used = 0
        // Nothing here allocates in the heap, so the template's bytes stay where they are.
        let bytes = template.stringBytes
        out.reserveCapacity(bytes.count + 16 * values)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            let next: UInt8? = i + 1 < bytes.count ? bytes[i + 1] : nil
            if c == UInt8(ascii: "}") {
                guard next == UInt8(ascii: "}") else { throw Interpreter.badFormat("a lone '}' at byte offset \(i) (write '}}' for a brace)") }
                out.append(c)
                i += 2
                continue
            }
            guard c == UInt8(ascii: "{") else { out.append(c); i += 1; continue }
            if next == UInt8(ascii: "{") { out.append(c); i += 2; continue }
            let quoted = next == UInt8(ascii: "q")
            let close = i + (quoted ? 2 : 1)
            guard close < bytes.count, bytes[close] == UInt8(ascii: "}") else {
                throw Interpreter.badFormat("'{' at byte offset \(i) starts no placeholder ('{}' or '{q}'; '{{' for a brace)")
            }
            guard used < values else {
                throw Interpreter.badFormat("more placeholders than the \(values) value\(values == 1 ? "" : "s") given")
            }
            out.append(contentsOf: host.printer.text(strArgument(word, 1 + used), quoted: quoted).utf8)
            used += 1
            i = close + 1
        }
        guard used == values else {
            throw Interpreter.badFormat("\(used) placeholder\(used == 1 ? "" : "s") for \(values) value\(values == 1 ? "" : "s")")
        }
        return try makeByteString(.string, byteCount: out.count, reductions: &reductions) { target in
            out.withUnsafeBytes { target.copyMemory(from: $0) }
        }
    }

    /// The error of a format that does not fit its values.
    private static func badFormat(_ why: String) -> Fault { Fault(kind: .badArgument, detail: "str :format: " + why) }
}
