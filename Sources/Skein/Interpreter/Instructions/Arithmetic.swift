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

    private static func double(_ n: ValueSemantics.Number) -> Double {
        switch n {
        case .int(let i): Double(i)
        case .float(let d): d
        }
    }
}
