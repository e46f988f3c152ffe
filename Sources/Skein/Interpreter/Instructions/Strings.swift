/// Strings and conversions: `concat` (of strings or of binaries), `tostr`, `tofloat`, `toint`, `typeof`.
extension Interpreter {
    /// `concat rD, rA, rB`: two strings give a string, two binaries a binary (a string and a
    /// binary are refused: which of the two the result should be is the program's to say, with
    /// `str :to_binary` or `str :to_string`). Returns true when the budget is spent (the copy
    /// costs reductions by its size, see `spendOnBulk`).
    func concat(_ word: UInt64, reductions: inout Int) throws(Fault) -> Bool {
        let a = Value(raw: registers[word.fieldB]), b = Value(raw: registers[word.fieldC])
        let kind = a.heapKind
        guard kind == .string || kind == .binary, b.heapKind == kind else {
            throw Fault(kind: .typeMismatch, detail: "concat needs two strings or two binaries, got \(Interpreter.typeName(a)) and \(Interpreter.typeName(b))")
        }
        let na = a.stringByteCount
        let result = try makeByteString(kind!, byteCount: na + b.stringByteCount, reductions: &reductions) { out in
            let regs = registers
            out.copyMemory(from: Value(raw: regs[word.fieldB]).stringBytes)
            UnsafeMutableRawBufferPointer(rebasing: out[na...]).copyMemory(from: Value(raw: regs[word.fieldC]).stringBytes)
        }
        registers[word.fieldA] = result
        return Interpreter.spendOnBulk(bytes: Value(raw: result).stringByteCount, &reductions)
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
