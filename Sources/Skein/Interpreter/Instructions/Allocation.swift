/// Allocation in the process heap, and the small constructors built on it.
///
/// An allocation that does not fit runs a collection whose roots are the live registers
/// (every frame's, up to the current frame's end). Objects move: after any allocation, reload
/// registers and re-read values from them, never from a local copy taken before.
extension Interpreter {
    /// Allocates `words` words, collecting if the heap is full. Throws when the process's heap
    /// limit or the system's memory is reached.
    @inline(__always)
    func allocate(words: Int, reductions: inout Int) throws(Fault) -> UnsafeMutablePointer<UInt64> {
        reductions &-= 1
        if let p = ctx.pointee.heap.tryAllocate(words: words) { return p }
        return try collectAndAllocate(words: words)
    }

    @inline(never)
    private func collectAndAllocate(words: Int) throws(Fault) -> UnsafeMutablePointer<UInt64> {
        let ctx = self.ctx
        let top = ctx.pointee.base + program.functions[ctx.pointee.function].registers
        do {
            try ctx.pointee.heap.collect(reserving: words) { copier in
                copier.visit(ctx.pointee.stack, count: top)
            }
        } catch {
            throw Fault(error)
        }
        return ctx.pointee.heap.tryAllocate(words: words)!
    }

    /// Makes an integer value, boxing it when it does not fit in a small integer.
    func makeInt(_ n: Int64, reductions: inout Int) throws(Fault) -> UInt64 {
        if n >= Value.smallIntMin && n <= Value.smallIntMax { return Value.smallInt(n).raw }
        let object = try allocate(words: 2, reductions: &reductions)
        object[0] = HeapObject.header(.boxedInt, payloadWords: 1)
        object[1] = UInt64(bitPattern: n)
        return Value.object(object).raw
    }

    /// Makes a boxed float.
    func makeFloat(_ d: Double, reductions: inout Int) throws(Fault) -> UInt64 {
        let object = try allocate(words: 2, reductions: &reductions)
        object[0] = HeapObject.header(.float, payloadWords: 1)
        object[1] = d.bitPattern
        return Value.object(object).raw
    }

    /// Makes a string from `text`.
    func makeString(_ text: String, reductions: inout Int) throws(Fault) -> UInt64 {
        var text = text
        let words = HeapObject.stringWords(byteCount: text.utf8.count)
        let object = try allocate(words: words, reductions: &reductions)
        text.withUTF8 { HeapObject.initString(object, bytes: UnsafeRawBufferPointer($0)) }
        return Value.object(object).raw
    }

    /// Copies `value` (which lives outside this heap: a message node or a literal) into the
    /// heap and returns the copy.
    func copyIn(_ value: Value, reductions: inout Int) throws(Fault) -> UInt64 {
        let words: Int
        do { words = try ValueCopy.words(value) } catch {
            throw error == .tooDeep ? .tooDeep("receive") : Fault(kind: .heapLimit, detail: "a message too large for any heap")
        }
        guard words > 0 else { return value.raw }
        var free = try allocate(words: words, reductions: &reductions)
        return ValueCopy.copy(value, to: &free).raw
    }

    /// Copies a node's value into the heap, stores it in `register` and frees the node.
    func store(_ node: MessageNode, into register: Int, reductions: inout Int) throws(Fault) {
        defer { host.recycle(node) }
        let copy = try copyIn(node.value, reductions: &reductions)
        registers[register] = copy
    }

    /// Stores a host term in `register`.
    func storeTerm(_ term: Term, into register: Int, reductions: inout Int) throws(Fault) {
        try store(term.messageNode(atoms: host.atoms), into: register, reductions: &reductions)
    }
}
