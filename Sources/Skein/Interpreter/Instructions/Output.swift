/// Output: `print`.
extension Interpreter {
    /// `print rA`: writes the printed form of `value` and a newline. Returns true when the
    /// budget is spent (printing costs reductions by the bytes written, see `spendOnBulk`).
    ///
    /// Out of line: the text is a Swift `String` (reference counted), which kept in the dispatch
    /// loop made LLVM merge the ends of the small cases into one block before one shared
    /// indirect jump (docs/interpreter.md, "Replicated dispatch").
    @inline(never)
    func printValue(_ value: UInt64) -> Bool {
        let text = host.printer.text(Value(raw: value))
        host.writeOutput(text + "\n")
        return Interpreter.spendOnBulk(bytes: text.utf8.count, &ctx.pointee.reductions)
    }
}
