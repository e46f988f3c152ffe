/// Equality and order as instructions use them: a small-integer fast path inline, the general
/// (bounded) walk of `ValueSemantics` otherwise.
extension Interpreter {
    /// Structural equality of two values.
    @inline(__always)
    func equal(_ x: UInt64, _ y: UInt64) throws(Fault) -> Bool {
        if x == y { return true }
        if (x | y) & 1 == 0 { return false }  // two different small integers
        do { return try ValueSemantics.compare(Value(raw: x), Value(raw: y), atoms: nil) == 0 } catch { throw .tooDeep("comparison") }
    }

    /// Total order of two values (−1, 0, 1).
    @inline(__always)
    func order(_ x: UInt64, _ y: UInt64) throws(Fault) -> Int {
        if (x | y) & 1 == 0 {
            let a = Int64(bitPattern: x), b = Int64(bitPattern: y)
            return a < b ? -1 : (a == b ? 0 : 1)
        }
        return try slowOrder(x, y)
    }

    @inline(never)
    private func slowOrder(_ x: UInt64, _ y: UInt64) throws(Fault) -> Int {
        do { return try ValueSemantics.compare(Value(raw: x), Value(raw: y), atoms: host.atoms) } catch { throw .tooDeep("comparison") }
    }
}
