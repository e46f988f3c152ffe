/// Strings and conversions: `concat`, `tostr`, `tofloat`, `toint`, `typeof`.
extension Interpreter {
    /// `concat rD, rA, rB`. Returns true when the budget is spent (the copy costs reductions by
    /// its size, see `spendOnBulk`).
    func concat(_ word: UInt64, reductions: inout Int) throws(Fault) -> Bool {
        let a = Value(raw: registers[word.fieldB]), b = Value(raw: registers[word.fieldC])
        guard a.heapKind == .string, b.heapKind == .string else {
            throw Fault(kind: .typeMismatch, detail: "concat needs two strings, got \(Interpreter.typeName(a)) and \(Interpreter.typeName(b))")
        }
        let na = a.stringByteCount, nb = b.stringByteCount
        let words = HeapObject.stringWords(byteCount: na + nb)
        let object = try allocate(words: words, reductions: &reductions)
        let regs = registers
        let x = Value(raw: regs[word.fieldB]), y = Value(raw: regs[word.fieldC])
        object[words - 1] = 0
        object[0] = HeapObject.header(.string, payloadWords: words - 1)
        object[1] = Value.smallInt(Int64(na + nb)).raw
        let bytes = UnsafeMutableRawPointer(object + 2)
        if na > 0 { bytes.copyMemory(from: x.stringBytes.baseAddress!, byteCount: na) }
        if nb > 0 { (bytes + na).copyMemory(from: y.stringBytes.baseAddress!, byteCount: nb) }
        regs[word.fieldA] = Value.object(object).raw
        return Interpreter.spendOnBulk(bytes: na + nb, &reductions)
    }

    /// `tostr`, `tofloat`, `toint`, `typeof` (register B into register A). Returns true when
    /// the budget is spent (`tostr` costs reductions by the length of its result).
    func convert(_ word: UInt64, reductions: inout Int) throws(Fault) -> Bool {
        var printedBytes = 0
        let v = Value(raw: registers[word.fieldB])
        let result: UInt64
        switch word.verifiedOpcode {
        case .typeof:
            result = Value.atom(ValueSemantics.typeAtom(v).rawValue).raw
        case .tostr:
            if v.heapKind == .string {
                result = v.raw
            } else {
                let text = host.printer.text(v)
                printedBytes = text.utf8.count
                result = try makeString(text, reductions: &reductions)
            }
        case .tofloat:
            switch ValueSemantics.number(v) {
            case .int(let n)?: result = try makeFloat(Double(n), reductions: &reductions)
            case .float?: result = v.raw
            case nil:
                guard v.heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "tofloat needs a number or string, got \(Interpreter.typeName(v))") }
                let parsed = Double(String(decoding: v.stringBytes, as: UTF8.self))
                result = try parsed.map { d throws(Fault) in try makeFloat(d, reductions: &reductions) } ?? Value.nil.raw
            }
        default:  // toint
            switch ValueSemantics.number(v) {
            case .int?: result = v.raw
            case .float(let d)?:
                guard d.isFinite, let n = Int64(exactly: d.rounded(.towardZero)) else {
                    throw Fault(kind: .badArgument, detail: "toint cannot convert \(Printer.float(d)) to an integer")
                }
                result = try makeInt(n, reductions: &reductions)
            case nil:
                guard v.heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "toint needs a number or string, got \(Interpreter.typeName(v))") }
                let parsed = Int64(String(decoding: v.stringBytes, as: UTF8.self))
                result = try parsed.map { n throws(Fault) in try makeInt(n, reductions: &reductions) } ?? Value.nil.raw
            }
        }
        registers[word.fieldA] = result
        return Interpreter.spendOnBulk(bytes: printedBytes, &reductions)
    }
}
