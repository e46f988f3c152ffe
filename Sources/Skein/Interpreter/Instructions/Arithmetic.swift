/// Arithmetic beyond the small-integer fast paths of the dispatch loop: boxed integers,
/// floats, mixed operands, overflow and division errors.
extension Interpreter {
    /// An arithmetic operation, with its symbol for error messages.
    enum ArithmeticOp: String { case add = "+", sub = "-", mul = "*", div = "/", rem = "rem" }

    /// Computes `x op y` into register A of `word`.
    @inline(never)
    func arithmetic(_ op: ArithmeticOp, _ word: UInt64, _ x: UInt64, _ y: UInt64) throws(Fault) {
        var reductions = 0
        let a = Value(raw: x), b = Value(raw: y)
        guard let p = ValueSemantics.number(a), let q = ValueSemantics.number(b) else {
            throw Fault(kind: .typeMismatch, detail: "\(op.rawValue) needs numbers, got \(host.printer.text(a, quoted: true, limit: Printer.reportBytes)) and \(host.printer.text(b, quoted: true, limit: Printer.reportBytes))")
        }
        let result: UInt64
        switch (p, q) {
        case (.int(let m), .int(let n)):
            result = try makeInt(try Interpreter.integer(op, m, n), reductions: &reductions)
        default:
            let m = Interpreter.double(p), n = Interpreter.double(q)
            let r: Double
            switch op {
            case .add: r = m + n
            case .sub: r = m - n
            case .mul: r = m * n
            case .div: r = m / n
            case .rem: r = m.truncatingRemainder(dividingBy: n)
            }
            result = try makeFloat(r, reductions: &reductions)
        }
        registers[word.fieldA] = result
    }

    /// Integer arithmetic with overflow and division by zero as errors. The remainder of the
    /// smallest integer by −1 is 0 (it is exact; only the quotient overflows).
    static func integer(_ op: ArithmeticOp, _ m: Int64, _ n: Int64) throws(Fault) -> Int64 {
        let r: (partialValue: Int64, overflow: Bool)
        switch op {
        case .add: r = m.addingReportingOverflow(n)
        case .sub: r = m.subtractingReportingOverflow(n)
        case .mul: r = m.multipliedReportingOverflow(by: n)
        case .div:
            guard n != 0 else { throw Fault(kind: .divisionByZero, detail: "\(m) / 0") }
            r = m.dividedReportingOverflow(by: n)
        case .rem:
            guard n != 0 else { throw Fault(kind: .divisionByZero, detail: "\(m) rem 0") }
            if n == -1 { return 0 }
            r = m.remainderReportingOverflow(dividingBy: n)
        }
        guard !r.overflow else { throw Fault(kind: .integerOverflow, detail: "\(m) \(op.rawValue) \(n)") }
        return r.partialValue
    }

    /// `band`, `bor`, `bxor`, `shl`, `shr`, `ushr` (and immediate forms) and `bnot` (as xor
    /// with −1) on the 64-bit two's complement form, as in C and Go: `shl` drops the bits
    /// shifted out (a hash or a random generator wants that, not an overflow error), `shr`
    /// keeps the sign, `ushr` shifts zeros in. A shift count outside 0…63 is an error.
    func bitwise(_ word: UInt64, _ x: UInt64, _ y: UInt64) throws(Fault) {
        var reductions = 0
        let op = word.verifiedOpcode
        guard case .int(let m)? = ValueSemantics.number(Value(raw: x)), case .int(let n)? = ValueSemantics.number(Value(raw: y)) else {
            throw Fault(kind: .typeMismatch, detail: "\(op.family) needs integers, got \(host.printer.text(Value(raw: x), quoted: true, limit: Printer.reportBytes)) and \(host.printer.text(Value(raw: y), quoted: true, limit: Printer.reportBytes))")
        }
        let r: Int64
        switch op {
        case .band, .bandi: r = m & n
        case .bor, .bori: r = m | n
        case .bxor, .bxori, .bnot: r = m ^ n
        default:
            guard n >= 0 && n < 64 else { throw Fault(kind: .badArgument, detail: "\(op.family) by \(n): the shift count must be 0 to 63") }
            switch op {
            case .shl, .shli: r = m << n
            case .shr, .shri: r = m >> n
            default: r = Int64(bitPattern: UInt64(bitPattern: m) >> UInt64(n))
            }
        }
        registers[word.fieldA] = try makeInt(r, reductions: &reductions)
    }

    private static func double(_ n: ValueSemantics.Number) -> Double {
        switch n {
        case .int(let i): Double(i)
        case .float(let d): d
        }
    }
}

/// The small-integer fast paths of `mul`, `div` and `rem`, inlined into the dispatch loop.
///
/// A small integer n is the word 2n (tag bit 0), so each operation works on the words as they
/// are: (2a >> 1) · 2b = 2ab, overflowing exactly when ab leaves the small range;
/// 2a rem 2b = 2(a rem b); and (2a / 2b) << 1 = 2(a / b). Each answers nil, sending the
/// instruction to `arithmetic`, for anything else: a boxed integer or a float, a zero divisor,
/// and the quotient by -1 (the one that can leave the range).
enum SmallInteger {
    /// x · y when both are small integers and the product is one.
    @inline(__always) static func product(_ x: UInt64, _ y: UInt64) -> UInt64? {
        guard (x | y) & 1 == 0 else { return nil }
        let (r, overflow) = (Int64(bitPattern: x) >> 1).multipliedReportingOverflow(by: Int64(bitPattern: y))
        return overflow ? nil : UInt64(bitPattern: r)
    }

    /// x / y (truncating) when both are small integers, y is neither 0 nor -1.
    @inline(__always) static func quotient(_ x: UInt64, _ y: UInt64) -> UInt64? {
        guard (x | y) & 1 == 0, y != 0, y != Value.smallInt(-1).raw else { return nil }
        return UInt64(bitPattern: (Int64(bitPattern: x) / Int64(bitPattern: y)) << 1)
    }

    /// x rem y (sign of x) when both are small integers and y is not 0.
    @inline(__always) static func remainder(_ x: UInt64, _ y: UInt64) -> UInt64? {
        guard (x | y) & 1 == 0, y != 0 else { return nil }
        return UInt64(bitPattern: Int64(bitPattern: x) % Int64(bitPattern: y))
    }
}
