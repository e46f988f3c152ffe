/// Calls, tail calls and returns: the frame stack.
extension Interpreter {
    /// Pushes a frame for a call from the current function, moves the arguments (registers
    /// `argStart…` of the caller) into the callee's new frame, clears its other registers and
    /// returns the callee's first instruction. The register stack may move: reload registers.
    @inline(__always)
    func enter(_ callee: Int, arguments argStart: Int, destination: Int, returnPC: Int) throws(Fault) -> Int {
        let functions = program.functions
        let info = functions[callee]
        let base = ctx.pointee.base
        let newBase = base + functions[ctx.pointee.function].registers
        try reserveRegisters(upTo: newBase + info.registers)
        guard ctx.pointee.frames.push(Frame(returnPC: Int32(returnPC), base: Int32(base),
                                            function: Int32(ctx.pointee.function), destination: Int32(destination))) else {
            throw Fault(kind: .stackOverflow, detail: "more than \(ExecutionContext.maxFrames) nested calls")
        }
        let stack = ctx.pointee.stack
        let args = stack + base + argStart
        let regs = stack + newBase
        for i in 0..<info.arity { regs[i] = args[i] }
        for i in info.arity..<info.registers { regs[i] = Value.nil.raw }
        ctx.pointee.base = newBase
        ctx.pointee.function = callee
        return info.entry
    }

    /// Replaces the current frame with a call of `callee` (a tail call) and returns its first
    /// instruction. `try` regions opened by the frame end with it.
    @inline(__always)
    func replaceFrame(with callee: Int, arguments argStart: Int) throws(Fault) -> Int {
        let info = program.functions[callee]
        let base = ctx.pointee.base
        try reserveRegisters(upTo: base + info.registers)
        closeCatches(openedAbove: ctx.pointee.frames.count - 1)
        let regs = registers
        // Arguments move down to r0…; copying upwards in index is safe because the
        // destination never lies above the source.
        for i in 0..<info.arity { regs[i] = regs[argStart + i] }
        for i in info.arity..<info.registers { regs[i] = Value.nil.raw }
        ctx.pointee.function = callee
        return info.entry
    }

    /// Returns `result` to the caller's destination register and gives the caller's resume
    /// point, or nil when the entry function returns (the process ends). `try` regions opened
    /// by the returning frame end with it.
    @inline(__always)
    func returnToCaller(_ result: UInt64) -> Int? {
        guard ctx.pointee.frames.count > 0 else { return nil }
        closeCatches(openedAbove: ctx.pointee.frames.count - 1)
        let frame = ctx.pointee.frames.pop()
        ctx.pointee.base = Int(frame.base)
        ctx.pointee.function = Int(frame.function)
        registers[Int(frame.destination)] = result
        return Int(frame.returnPC)
    }

    /// Makes sure the register stack holds `words` words.
    @inline(__always)
    private func reserveRegisters(upTo words: Int) throws(Fault) {
        if words > ctx.pointee.stackCapacity, !ctx.pointee.growStack(toHold: words) {
            throw Fault(kind: .stackOverflow, detail: "the register stack is full (\(ExecutionContext.maxStackWords * 8) bytes)")
        }
    }

    /// The function a reference designates, checking the argument count.
    func functionIndex(_ raw: UInt64, argc: Int) throws(Fault) -> Int {
        let target = Value(raw: raw)
        guard target.isFunction else {
            throw Fault(kind: .notAFunction, detail: "cannot call \(Interpreter.typeName(target)) value")
        }
        let index = Int(target.immediatePayload)
        let arity = program.functions[index].arity
        guard arity == argc else {
            throw Fault(kind: .arityMismatch, detail: "\(program.functionName(index)) called with \(argc) arguments")
        }
        return index
    }

    /// The type name of a value, for error messages.
    static func typeName(_ v: Value) -> String { String(describing: ValueSemantics.typeAtom(v)) }
}
