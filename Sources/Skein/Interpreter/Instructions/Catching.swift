/// `try`/`endtry` and what a runtime error does: unwind to the innermost open region, or end
/// the process with a located error and a stack trace.
///
/// A region belongs to the frame that opened it: a `ret` or tail call from that frame closes
/// it (so an error in a tail-called function is not caught there, as a call in tail position
/// is not inside Erlang's `try` either; a compiler that wants it caught emits `call`, `endtry`,
/// `ret`).
extension Interpreter {
    /// `try rD, L`: opens a region whose errors go to `L` with the error value in `rD`.
    func openCatch(_ word: UInt64) throws(Fault) {
        let frame = CatchFrame(handler: Int32(word.fieldT), destination: Int32(word.fieldA),
                               frameCount: Int32(ctx.pointee.frames.count),
                               base: Int32(ctx.pointee.base), function: Int32(ctx.pointee.function))
        guard ctx.pointee.catches.push(frame) else {
            throw Fault(kind: .stackOverflow, detail: "more than \(ExecutionContext.maxFrames) nested try regions")
        }
    }

    /// `endtry`: closes the innermost region, which must belong to the current frame.
    func closeCatch() throws(Fault) {
        guard let top = ctx.pointee.catches.top, Int(top.frameCount) == ctx.pointee.frames.count else {
            throw Fault(kind: .badArgument, detail: "endtry without a try in this function")
        }
        _ = ctx.pointee.catches.pop()
    }

    /// Closes the regions opened by frames deeper than `frameCount` (the frame is being left).
    @inline(__always)
    func closeCatches(openedAbove frameCount: Int) {
        while let top = ctx.pointee.catches.top, Int(top.frameCount) > frameCount { _ = ctx.pointee.catches.pop() }
    }

    /// Unwinds to the innermost open region and stores the error value there; returns the
    /// handler's code index, or nil when no region is open (the process ends).
    func catchFault(_ fault: Fault, at pc: Int) -> Int? {
        guard let region = ctx.pointee.catches.top else { return nil }
        let error = runtimeError(fault, pc: pc)
        _ = ctx.pointee.catches.pop()
        ctx.pointee.frames.truncate(to: Int(region.frameCount))
        ctx.pointee.base = Int(region.base)
        ctx.pointee.function = Int(region.function)
        mailbox.endScan()  // a receive interrupted by the error starts over
        var reductions = 0
        do {
            try storeTerm(errorValue(error, raised: fault.raised), into: Int(region.destination), reductions: &reductions)
        } catch {
            // No heap left even for the error value: the process cannot go on.
            return nil
        }
        return Int(region.handler)
    }

    /// `{:error, kind, detail, "function/arity", line}`: the value a handler receives and the
    /// exit reason of a process that did not catch the error. `detail` is the raised value
    /// itself for `raise`, else the message.
    func errorValue(_ error: RuntimeError, raised: Value?) -> Term {
        let detail: Term = raised.flatMap { try? Term($0, atoms: host.atoms, program: program) } ?? .string(error.detail)
        return .tuple([.atom("error"), .atom(error.kind.atom), detail, .string(error.function),
                       error.line.map { .int(Int64($0)) } ?? .nil])
    }

    /// Locates a fault at `pc`, with the stack trace of the frames below it.
    func runtimeError(_ fault: Fault, pc: Int) -> RuntimeError {
        let f = program.functionIndex(containing: pc)
        var trace = [StackEntry(function: program.functionName(f), line: program.line(at: pc))]
        // A frame in another file (a module's) names its file; frames in the failing function's
        // file give only their line, as before modules.
        let failingFile = program.sourceName(ofFunction: f)
        let frames = ctx.pointee.frames
        // Runs of the same frame (deep recursion) collapse into one entry with a count, and at
        // most 64 distinct entries are kept: a stack overflow 100,000 frames deep stays short.
        for i in stride(from: frames.count - 1, through: 0, by: -1) {
            let frame = frames.elements![i]
            let caller = Int(frame.function), file = program.sourceName(ofFunction: caller)
            let entry = StackEntry(function: program.functionName(caller), line: program.line(at: Int(frame.returnPC) - 1),
                                   file: file == failingFile ? nil : file)
            if entry.function == trace[trace.count - 1].function && entry.line == trace[trace.count - 1].line {
                trace[trace.count - 1].repeats += 1
            } else if trace.count < 64 {
                trace.append(entry)
            } else {
                break
            }
        }
        return RuntimeError(kind: fault.kind, detail: fault.detail, function: program.functionName(f),
                            file: failingFile, line: program.line(at: pc), trace: trace)
    }
}
