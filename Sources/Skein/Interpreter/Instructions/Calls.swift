/// Calls, tail calls and returns: the frame stack.
extension Interpreter {
    /// Pushes a frame for a call from the current function, moves the arguments (registers
    /// `argStart…` of the caller) into the callee's new frame, clears its other registers and
    /// returns the callee's first instruction. The register stack may move: reload registers.
    ///
    /// The hot path of every call, so it does no work the verifier already did: sums and
    /// narrowings are unchecked (code positions are below 2^24, function indices and registers
    /// below 2^16, the register stack below `ExecutionContext.maxStackWords` < 2^31), and the
    /// copies are plain loops over a few words. When the register stack or the frame stack must
    /// grow, the whole call goes out of line: a call inside this path would make the compiler
    /// keep every value of it on the machine stack around the call, in the common case too.
    @inline(__always)
    func enter(_ callee: Int, arguments argStart: Int, destination: Int, returnPC: Int) throws(Fault) -> Int {
        let functions = program.functions
        let info = functions[callee]
        let base = ctx.pointee.base
        let caller = ctx.pointee.function
        let newBase = base &+ functions[caller].registers
        guard _fastPath(newBase &+ info.frameWords <= ctx.pointee.stackCapacity && ctx.pointee.frames.hasRoom) else {
            return try enterGrowing(callee, arguments: argStart, destination: destination, returnPC: returnPC)
        }
        return pushFrame(info, callee, base: base, caller: caller, newBase: newBase, arguments: argStart, destination: destination,
                         returnPC: returnPC)
    }

    /// `enter` when the register stack or the frame stack is full: grows them (or fails at their
    /// limits), then makes the call.
    @inline(never)
    func enterGrowing(_ callee: Int, arguments argStart: Int, destination: Int, returnPC: Int) throws(Fault) -> Int {
        let functions = program.functions
        try reserveRegisters(upTo: ctx.pointee.base &+ functions[ctx.pointee.function].registers &+ functions[callee].frameWords)
        guard ctx.pointee.frames.makeRoom() else {
            throw Fault(kind: .stackOverflow, detail: "more than \(ExecutionContext.maxFrames) nested calls")
        }
        let base = ctx.pointee.base
        let caller = ctx.pointee.function
        return pushFrame(functions[callee], callee, base: base, caller: caller, newBase: base &+ functions[caller].registers,
                         arguments: argStart, destination: destination, returnPC: returnPC)
    }

    /// The call itself, once both stacks have room: the caller's frame (registers from `base`,
    /// function `caller`), the callee's registers (from `newBase`).
    @inline(__always)
    private func pushFrame(_ info: FunctionInfo, _ callee: Int, base: Int, caller: Int, newBase: Int, arguments argStart: Int,
                           destination: Int, returnPC: Int) -> Int {
        ctx.pointee.frames.pushWithRoom(Frame(returnPC: Int32(truncatingIfNeeded: returnPC), base: Int32(truncatingIfNeeded: base),
                                              function: Int32(truncatingIfNeeded: caller),
                                              destination: Int32(truncatingIfNeeded: destination)))
        let stack = ctx.pointee.stack
        Interpreter.fillFrame(stack + newBase, arguments: stack + (base &+ argStart), info)
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
        try reserveRegisters(upTo: base &+ info.frameWords)
        closeCatches(openedAbove: ctx.pointee.frames.count &- 1)
        let regs = registers
        // Arguments move down to r0…; copying upwards in index is safe because the
        // destination never lies above the source.
        Interpreter.fillFrame(regs, arguments: regs + argStart, info)
        ctx.pointee.function = callee
        return info.entry
    }

    /// Writes a new frame at `frame`: the callee's arguments from `arguments` (at or above
    /// `frame`, never below it), then `nil` in its other registers. The register stack holds
    /// `info.frameWords` words from `frame`.
    ///
    /// A small frame (most functions) takes four stores and no loop: the words past its end are
    /// above the top frame, where nothing is live and `nil` is as good as anything. Larger ones
    /// take one loop with the choice inside: LLVM vectorizes two plain copy loops, and for a few
    /// registers the checks around the vector code cost more than the copying (about 60
    /// instructions per call for fib's three registers).
    @inline(__always)
    static func fillFrame(_ frame: UnsafeMutablePointer<UInt64>, arguments: UnsafeMutablePointer<UInt64>, _ info: FunctionInfo) {
        if info.registers <= FunctionInfo.smallFrame {
            // In ascending order, so an argument is read before a tail call's nil can cover it.
            frame[0] = 0 < info.arity ? arguments[0] : Value.nil.raw
            frame[1] = 1 < info.arity ? arguments[1] : Value.nil.raw
            frame[2] = 2 < info.arity ? arguments[2] : Value.nil.raw
            frame[3] = 3 < info.arity ? arguments[3] : Value.nil.raw
            return
        }
        var i = 0
        while i < info.registers {
            frame[i] = i < info.arity ? arguments[i] : Value.nil.raw
            i &+= 1
        }
    }

    /// Returns `result` to the caller's destination register and gives the caller's resume
    /// point, or nil when the entry function returns (the process ends). `try` regions opened
    /// by the returning frame end with it.
    @inline(__always)
    func returnToCaller(_ result: UInt64) -> Int? {
        let depth = ctx.pointee.frames.count
        guard depth > 0 else { return nil }
        closeCatches(openedAbove: depth &- 1)
        let frame = ctx.pointee.frames.pop()
        let base = Int(frame.base)
        ctx.pointee.base = base
        ctx.pointee.function = Int(frame.function)
        ctx.pointee.stack[base &+ Int(frame.destination)] = result
        return Int(frame.returnPC)
    }

    /// Makes sure the register stack holds `words` words.
    @inline(__always)
    private func reserveRegisters(upTo words: Int) throws(Fault) {
        if words > ctx.pointee.stackCapacity { try growRegisters(upTo: words) }
    }

    /// Grows the register stack (rare: it doubles), or fails at its limit.
    @inline(never)
    private func growRegisters(upTo words: Int) throws(Fault) {
        guard ctx.growStack(toHold: words) else {
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
