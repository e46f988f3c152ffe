/// The conversions of `str`: text to numbers and back, strings to binaries and back, binaries
/// to and from arrays of bytes. Text that is not a number gives `nil` (as `toint` does), so a
/// program can test for it; a binary that is not UTF-8 never becomes a string (`:to_string`
/// raises `:bad_argument` naming the offset, `:utf8_error` answers with it).
extension Interpreter {
    /// `:to_int`, `:from_int`, `:to_float`, `:to_string`, `:to_binary`, `:to_array`, `:utf8_error`.
    func stringConversion(_ word: UInt64, _ kind: StringOperationKind, reductions: inout Int) throws(Fault) -> UInt64 {
        switch kind {
        case .toInt:
            let text = try byteArgument(word, 0, kind)
            let base = try baseArgument(word, kind)
            guard let n = ByteStrings.parseInt(text.stringBytes, base: base) else { return Value.nil.raw }
            return try makeInt(n, reductions: &reductions)
        case .fromInt:
            let v = strArgument(word, 0)
            guard case .int(let n)? = ValueSemantics.number(v) else {
                throw Fault(kind: .typeMismatch, detail: "str :from_int needs an integer, got \(Interpreter.typeName(v))")
            }
            return try makeString(String(n, radix: try baseArgument(word, kind)), reductions: &reductions)
        case .toFloat:
            let text = try byteArgument(word, 0, kind)
            // Only ASCII can spell a number; anything else (and a binary that is not UTF-8) is nil.
            guard text.stringBytes.allSatisfy({ $0 < 0x80 }), let d = Double(String(decoding: text.stringBytes, as: UTF8.self)) else {
                return Value.nil.raw
            }
            return try makeFloat(d, reductions: &reductions)
        case .toString:
            let v = try byteArgument(word, 0, kind)
            if v.heapKind == .string { return v.raw }
            if let offset = UTF8Validation.firstInvalidOffset(v.stringBytes) {
                throw Fault(kind: .badArgument, detail: "str :to_string: \(UTF8Validation.describe(offset)) (of \(v.stringByteCount) bytes)")
            }
            return try retyped(word, as: .string, reductions: &reductions)
        case .toBinary:
            let v = strArgument(word, 0)
            switch v.heapKind {
            case .binary?: return v.raw
            case .string?: return try retyped(word, as: .binary, reductions: &reductions)
            case .array?: return try binary(ofByteArray: word, reductions: &reductions)
            default:
                throw Fault(kind: .typeMismatch, detail: "str :to_binary needs a string, binary or array of bytes, got \(Interpreter.typeName(v))")
            }
        case .toArray:
            let n = try byteArgument(word, 0, kind).stringByteCount
            let object = try allocate(words: HeapObject.arrayWords(count: n), reductions: &reductions)
            let bytes = strArgument(word, 0).stringBytes
            let slots = HeapObject.initArray(object, count: n)
            for i in 0..<n { slots[i] = Value.smallInt(Int64(bytes[i])).raw }
            return Value.object(object).raw
        case .utf8Error:
            let v = try byteArgument(word, 0, kind)
            return UTF8Validation.firstInvalidOffset(v.stringBytes).map { Value.smallInt(Int64($0)).raw } ?? Value.nil.raw
        default:
            preconditionFailure("\(kind.name) is no conversion")
        }
    }

    /// The optional base at argument 1: 2…36, 10 when absent or nil.
    private func baseArgument(_ word: UInt64, _ kind: StringOperationKind) throws(Fault) -> Int {
        guard word.fieldD > 1, strArgument(word, 1).raw != Value.nil.raw else { return 10 }
        let base = try intArgument(word, 1, kind)
        guard (2...36).contains(base) else {
            throw Fault(kind: .badArgument, detail: "str :\(kind.name): base \(base) is outside 2…36")
        }
        return base
    }

    /// Argument 0's bytes as a new value of `kind` (a string only once they are known to be UTF-8).
    private func retyped(_ word: UInt64, as kind: HeapKind, reductions: inout Int) throws(Fault) -> UInt64 {
        try makeByteString(kind, byteCount: strArgument(word, 0).stringByteCount, reductions: &reductions) { out in
            out.copyMemory(from: strArgument(word, 0).stringBytes)
        }
    }

    /// A binary of argument 0, an array of integers 0…255.
    private func binary(ofByteArray word: UInt64, reductions: inout Int) throws(Fault) -> UInt64 {
        let elements = strArgument(word, 0).elements
        for (i, element) in elements.enumerated() {
            let e = Value(raw: element)
            guard e.isSmallInt, (0...255).contains(e.smallIntValue) else {
                throw Fault(kind: .badArgument, detail: "str :to_binary: element \(i) of the array is \(host.printer.text(e, quoted: true, limit: Printer.reportBytes)), not a byte (0…255)")
            }
        }
        return try makeByteString(.binary, byteCount: elements.count, reductions: &reductions) { out in
            for (i, element) in strArgument(word, 0).elements.enumerated() { out[i] = UInt8(Value(raw: element).smallIntValue) }
        }
    }
}
