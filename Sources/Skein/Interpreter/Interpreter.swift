import CSkeinSupport

/// The bytecode interpreter: runs one slice of one process.
///
/// A `switch` over the opcode in a loop, with registers and code reached through raw pointers
/// held in locals, so the loop has no reference counting or bounds checks (the verifier proved
/// every index in range at load). The loop holds only the hot paths: moves, small-integer
/// arithmetic, compare-and-branch, calls and returns. Everything else is one call into the
/// handler files under `Instructions/`, grouped by concern.
///
/// Reductions (one per call, taken jump, allocation, spawn and send) bound a slice; when the
/// budget is spent the interpreter saves its position and returns `.exhausted`.
///
/// A runtime error unwinds to the innermost open `try` region if there is one (its handler gets
/// the error value); otherwise it ends the slice with `.failed`.
struct Interpreter<Host: SliceHost> {
    /// The world outside the process (spawn, send, signals, output, host functions).
    let host: Host
    /// The linked program, held unretained: the runtime keeps it alive for the VM's life.
    unowned(unsafe) let program: LoadedProgram
    /// The running process, borrowed unretained for the slice (its runner keeps it alive).
    let processRef: Unmanaged<Process>
    /// The process's registers, heap, frames and resume point.
    let ctx: UnsafeMutablePointer<ExecutionContext>

    init(host: Host, program: LoadedProgram, process: Process, ctx: UnsafeMutablePointer<ExecutionContext>) {
        self.host = host
        self.program = program
        processRef = .passUnretained(process)
        self.ctx = ctx
    }

    /// The running process's mailbox (a plain pointer struct).
    @inline(__always) var mailbox: Mailbox { processRef._withUnsafeGuaranteedRef { $0.mailbox } }

    /// The current frame's registers. Reload after anything that may grow the register stack
    /// (calls) or move it.
    @inline(__always) var registers: UnsafeMutablePointer<UInt64> { ctx.pointee.stack + ctx.pointee.base }

    /// Runs until the budget is spent or the process stops or suspends.
    mutating func run(budget: inout Int) -> SliceOutcome {
        let code = program.code
        let constants = program.constants
        // A local copy: through `self`, every reduction spent was two dependent loads before
        // the decrement.
        let ctx = self.ctx
        var ip = code + ctx.pointee.pc
        // The budget is counted in the context, in memory, not in a local: the loop's many calls
        // on cold paths left the register allocator keeping a local counter in several stack
        // slots at once (three stores per taken branch); one decrement in memory is cheaper.
        ctx.pointee.reductions = budget
        defer { budget = ctx.pointee.reductions }

        while true {
            var regs = registers
            do throws(Fault) {
                while true {
                    let word = ip.pointee
                    ip += 1
                    switch word.verifiedOpcode {
                    case .nop:
                        // Not empty: an empty case makes the jump table point back at the
                        // dispatch block itself, and LLVM then never copies the dispatch into the
                        // end of each case (replicated dispatch, one indirect jump per handler).
                        regs = registers
                    case .move:
                        regs[word.fieldA] = regs[word.fieldB]
                    case .loadk:
                        regs[word.fieldA] = constants[word.fieldBx]
                    case .loadi:
                        regs[word.fieldA] = Value.smallInt(Int64(word.fieldSBx)).raw

                    // MARK: Arithmetic (small-integer fast paths; the rest in Arithmetic.swift)
                    case .add:
                        let x = regs[word.fieldB], y = regs[word.fieldC]
                        if (x | y) & 1 == 0 {
                            let (r, o) = Int64(bitPattern: x).addingReportingOverflow(Int64(bitPattern: y))
                            if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                        }
                        try arithmetic(.add, word, x, y)
                    case .addi:
                        let x = regs[word.fieldB]
                        if x & 1 == 0 {
                            let (r, o) = Int64(bitPattern: x).addingReportingOverflow(Int64(word.fieldSC) << 1)
                            if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                        }
                        try arithmetic(.add, word, x, word.immediateC)
                    case .sub:
                        let x = regs[word.fieldB], y = regs[word.fieldC]
                        if (x | y) & 1 == 0 {
                            let (r, o) = Int64(bitPattern: x).subtractingReportingOverflow(Int64(bitPattern: y))
                            if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                        }
                        try arithmetic(.sub, word, x, y)
                    case .subi:
                        let x = regs[word.fieldB]
                        if x & 1 == 0 {
                            let (r, o) = Int64(bitPattern: x).subtractingReportingOverflow(Int64(word.fieldSC) << 1)
                            if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                        }
                        try arithmetic(.sub, word, x, word.immediateC)
                    case .mul:
                        let x = regs[word.fieldB], y = regs[word.fieldC]
                        if let r = SmallInteger.product(x, y) { regs[word.fieldA] = r } else { try arithmetic(.mul, word, x, y) }
                    case .muli:
                        let x = regs[word.fieldB], y = word.immediateC
                        if let r = SmallInteger.product(x, y) { regs[word.fieldA] = r } else { try arithmetic(.mul, word, x, y) }
                    case .div:
                        let x = regs[word.fieldB], y = regs[word.fieldC]
                        if let r = SmallInteger.quotient(x, y) { regs[word.fieldA] = r } else { try arithmetic(.div, word, x, y) }
                    case .divi:
                        let x = regs[word.fieldB], y = word.immediateC
                        if let r = SmallInteger.quotient(x, y) { regs[word.fieldA] = r } else { try arithmetic(.div, word, x, y) }
                    case .rem:
                        let x = regs[word.fieldB], y = regs[word.fieldC]
                        if let r = SmallInteger.remainder(x, y) { regs[word.fieldA] = r } else { try arithmetic(.rem, word, x, y) }
                    case .remi:
                        let x = regs[word.fieldB], y = word.immediateC
                        if let r = SmallInteger.remainder(x, y) { regs[word.fieldA] = r } else { try arithmetic(.rem, word, x, y) }
                    case .neg: try arithmetic(.sub, word, Value.smallInt(0).raw, regs[word.fieldB])
                    case .band, .bor, .bxor, .shl, .shr, .ushr: try bitwise(word, regs[word.fieldB], regs[word.fieldC])
                    case .bandi, .bori, .bxori, .shli, .shri, .ushri: try bitwise(word, regs[word.fieldB], word.immediateC)
                    case .bnot: try bitwise(word, regs[word.fieldB], Value.smallInt(-1).raw)

                    // MARK: Comparison
                    case .eq: regs[word.fieldA] = Value.bool(try equal(regs[word.fieldB], regs[word.fieldC])).raw
                    case .ne: regs[word.fieldA] = Value.bool(!(try equal(regs[word.fieldB], regs[word.fieldC]))).raw
                    case .lt: regs[word.fieldA] = Value.bool(try order(regs[word.fieldB], regs[word.fieldC]) < 0).raw
                    case .le: regs[word.fieldA] = Value.bool(try order(regs[word.fieldB], regs[word.fieldC]) <= 0).raw
                    case .gt: regs[word.fieldA] = Value.bool(try order(regs[word.fieldB], regs[word.fieldC]) > 0).raw
                    case .ge: regs[word.fieldA] = Value.bool(try order(regs[word.fieldB], regs[word.fieldC]) >= 0).raw
                    case .not: regs[word.fieldA] = Value.bool(!Value(raw: regs[word.fieldB]).isTruthy).raw

                    // MARK: Branches (a taken branch costs a reduction: loops always yield)
                    case .jmp:
                        if Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jt:
                        if Value(raw: regs[word.fieldA]).isTruthy, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jf:
                        if !Value(raw: regs[word.fieldA]).isTruthy, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jeq:
                        if try equal(regs[word.fieldA], regs[word.fieldB]), Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jne:
                        if !(try equal(regs[word.fieldA], regs[word.fieldB])), Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jlt:
                        if try order(regs[word.fieldA], regs[word.fieldB]) < 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jle:
                        if try order(regs[word.fieldA], regs[word.fieldB]) <= 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jgt:
                        if try order(regs[word.fieldA], regs[word.fieldB]) > 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jge:
                        if try order(regs[word.fieldA], regs[word.fieldB]) >= 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jeqi:
                        if try equal(regs[word.fieldA], word.immediateB), Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jnei:
                        if !(try equal(regs[word.fieldA], word.immediateB)), Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jlti:
                        if try order(regs[word.fieldA], word.immediateB) < 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jlei:
                        if try order(regs[word.fieldA], word.immediateB) <= 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jgti:
                        if try order(regs[word.fieldA], word.immediateB) > 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jgei:
                        if try order(regs[word.fieldA], word.immediateB) >= 0, Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jeqk:
                        if try equal(regs[word.fieldA], constants[word.fieldB]), Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .jnek:
                        if !(try equal(regs[word.fieldA], constants[word.fieldB])), Interpreter.jump(to: code + word.fieldT, &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }

                    // MARK: Loop back-edges (`addi rA, rA, imm` + `jlt`/`jle rA, rC, L`; the linker
                    // leaves in word X the distance from X to the target)
                    case .addjlt:
                        if try addImmediateThenOrder(word, regs) < 0 {
                            if Interpreter.jump(to: ip + Int(truncatingIfNeeded: ip.pointee), &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                        } else {
                            ip += 1  // over the extension word
                        }
                    case .addjle:
                        if try addImmediateThenOrder(word, regs) <= 0 {
                            if Interpreter.jump(to: ip + Int(truncatingIfNeeded: ip.pointee), &ip, &ctx.pointee.reductions) { return save(ip, .exhausted) }
                        } else {
                            ip += 1  // over the extension word
                        }

                    // MARK: Calls (Calls.swift)
                    case .call:
                        ip = code + (try enter(word.fieldB, arguments: word.fieldC, destination: word.fieldA, returnPC: Interpreter.index(of: ip, in: code)))
                        regs = registers
                        ctx.pointee.reductions &-= 1
                        if _slowPath(ctx.pointee.reductions <= 0) { return save(ip, .exhausted) }
                    case .callr:
                        let callee = try functionIndex(regs[word.fieldB], argc: word.fieldD)
                        ip = code + (try enter(callee, arguments: word.fieldC, destination: word.fieldA, returnPC: Interpreter.index(of: ip, in: code)))
                        regs = registers
                        ctx.pointee.reductions &-= 1
                        if _slowPath(ctx.pointee.reductions <= 0) { return save(ip, .exhausted) }
                    case .tailcall:
                        ip = code + (try replaceFrame(with: word.fieldB, arguments: word.fieldC))
                        regs = registers
                        ctx.pointee.reductions &-= 1
                        if _slowPath(ctx.pointee.reductions <= 0) { return save(ip, .exhausted) }
                    case .tailcallr:
                        ip = code + (try replaceFrame(with: try functionIndex(regs[word.fieldA], argc: word.fieldD), arguments: word.fieldC))
                        regs = registers
                        ctx.pointee.reductions &-= 1
                        if _slowPath(ctx.pointee.reductions <= 0) { return save(ip, .exhausted) }
                    case .ret:
                        let result = regs[word.fieldA]
                        guard let resume = returnToCaller(result) else { return save(ip, .returned(Value(raw: result))) }
                        ip = code + resume
                        regs = registers

                    // MARK: Tuples, arrays, strings (Collections.swift, Strings.swift)
                    case .tuple: try makeTuple(word)
                    case .array: try makeArray(word)
                    case .len: regs[word.fieldA] = try Interpreter.length(Value(raw: regs[word.fieldB])).raw
                    // `get` and `geti` are written out each (one helper for both, with the
                    // fallback inside it, cost four dispatch copies and made sieve 11% slower).
                    case .get:
                        let container = regs[word.fieldB], index = regs[word.fieldC]
                        if let element = ElementAccess.element(container, index) { regs[word.fieldA] = element } else {
                            regs[word.fieldA] = try Interpreter.element(Value(raw: container), index: Value(raw: index))
                        }
                    case .geti:
                        let container = regs[word.fieldB], index = word.immediateC
                        if let element = ElementAccess.element(container, index) { regs[word.fieldA] = element } else {
                            regs[word.fieldA] = try Interpreter.element(Value(raw: container), index: Value(raw: index))
                        }
                    case .set: try Interpreter.setElement(Value(raw: regs[word.fieldA]), index: Value(raw: regs[word.fieldB]), to: regs[word.fieldC])
                    case .seti: try Interpreter.setElement(Value(raw: regs[word.fieldA]), index: Value(raw: word.immediateB), to: regs[word.fieldC])
                    case .push: try push(word)
                    case .pop: regs[word.fieldA] = try Interpreter.pop(Value(raw: regs[word.fieldB]))
                    case .concat:
                        if try concat(word, reductions: &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .tostr, .tofloat, .toint, .typeof:
                        if try convert(word, reductions: &ctx.pointee.reductions) { return save(ip, .exhausted) }
                    case .str:
                        if try stringOperation(word, reductions: &ctx.pointee.reductions) { return save(ip, .exhausted) }

                    // MARK: Maps (Maps.swift)
                    case .mapnew, .mapput, .mapget, .mapdel, .maphas, .mapkeys, .mappairs: try mapInstruction(word)
                    case .mapgetj:
                        if let value = try mapLookup(regs[word.fieldB], regs[word.fieldC], "mapget") {
                            regs[word.fieldA] = value
                            ip += 1  // over the extension word
                        } else if Interpreter.jump(to: code + Int(truncatingIfNeeded: ip.pointee), &ip, &ctx.pointee.reductions) {
                            return save(ip, .exhausted)
                        }

                    // MARK: Output, errors, clock
                    case .print:
                        if printValue(regs[word.fieldA]) { return save(ip, .exhausted) }
                    case .raise:
                        let value = Value(raw: regs[word.fieldA])
                        throw Fault(kind: .raised, detail: host.printer.text(value, quoted: true, limit: Printer.reportBytes), raised: value)
                    case .now: regs[word.fieldA] = Value.smallInt(skein_monotonic_ns()).raw

                    // MARK: Processes and messages (Messaging.swift, Receive.swift, Signals.swift)
                    case .spawn, .spawnr, .spawnlink, .spawnlinkr, .spawnmon, .spawnmonr:
                        try spawn(word)
                        ctx.pointee.reductions &-= 1
                    case .self: regs[word.fieldA] = Value.pid(selfPid).raw
                    case .send:
                        try host.send(Value(raw: regs[word.fieldB]), to: Value(raw: regs[word.fieldA]))
                        ctx.pointee.reductions &-= 1
                    case .makeref: regs[word.fieldA] = Value.ref(host.makeReference()).raw
                    case .recv, .recvt, .recvti, .recvtag, .recvtagt, .recvtagti,
                         .peek, .recvnext, .take, .recvwait, .recvwaitt, .recvwaitti, .recvmark:
                        // Through a copy: passing `ip` itself by address would keep it in memory
                        // for the whole loop (a load and a store per instruction) instead of in a
                        // machine register. (If it throws, the error is located at the receive.)
                        var receivePC = ip - code
                        let outcome = try receive(word, pc: &receivePC, reductions: &ctx.pointee.reductions)
                        ip = code + receivePC
                        if let outcome { return outcome }
                        regs = registers
                    case .sleep, .sleepi:
                        if let outcome = try sleep(word, at: ip - code - 1) { return outcome }
                    case .link, .unlink, .monitor, .demonitor, .trapexit, .exitto:
                        try processSignal(word)
                    case .maxheap:
                        try setHeapLimit(Value(raw: regs[word.fieldA]))
                    case .getenv:
                        try environmentVariable(word)
                    case .halt:
                        try host.halt(status: Value(raw: regs[word.fieldA]))
                        return save(ip - 1, .exited)
                    case .exit:
                        return save(ip, exit(reason: Value(raw: regs[word.fieldA])))
                    case .register, .unregister, .whereis:
                        try registry(word)

                    // MARK: Catching errors (Catching.swift)
                    case .try: try openCatch(word)
                    case .endtry: try closeCatch()

                    // MARK: The outside world (External.swift)
                    case .io:
                        if let operation = try io(word) { return save(ip - 1, .waitForIO(operation)) }
                        regs = registers
                    case .callhost:
                        if let pending = try callHost(word) { return save(ip - 1, .waitForHost(pending)) }
                        regs = registers
                    }
                }
            } catch {
                let pc = ip - code
                guard let handler = catchFault(error, at: pc - 1) else {
                    ctx.pointee.pc = pc
                    return .failed(runtimeError(error, pc: pc - 1), raised: error.raised)
                }
                ip = code + handler
            }
        }
    }

    /// Takes a branch: moves `pc` to `target` and spends a reduction. Returns true when the
    /// budget is spent and the slice must end (at the target).
    @inline(__always)
    static func jump(to target: Int, _ pc: inout Int, _ reductions: inout Int) -> Bool {
        pc = target
        reductions &-= 1
        return reductions <= 0
    }

    /// Spends the reductions that bulk work on `bytes` bytes costs (printing, building a
    /// string): one per `bytesPerReduction`. Returns true when the budget is spent and the slice
    /// must end after this instruction.
    ///
    /// Why: an instruction whose work grows with its data (`print` of a large value writes up to
    /// `Printer.maxBytes`) would otherwise cost one reduction like an `add`, and a loop of
    /// them would hold its worker (and a `shutdown` waiting for the slice) for minutes; the run
    /// fuzzer found such a loop. BEAM charges its built-in functions by work done the same way.
    @inline(__always)
    static func spendOnBulk(bytes: Int, _ reductions: inout Int) -> Bool {
        reductions &-= bytes / bytesPerReduction
        return reductions <= 0
    }

    /// Bytes of bulk work one reduction pays for: about the cost of a few plain instructions.
    static var bytesPerReduction: Int { 128 }

    /// Takes a branch: moves `ip` to `target` and spends a reduction. Returns true when the
    /// budget is spent and the slice must end (at the target).
    @inline(__always)
    ///
    /// The end of the slice is marked unlikely: laid out of line, the common path falls into
    /// its own copy of the dispatch instead of branching back to a shared one.
    static func jump(to target: UnsafeMutablePointer<UInt64>, _ ip: inout UnsafeMutablePointer<UInt64>, _ reductions: inout Int) -> Bool {
        ip = target
        reductions &-= 1
        return _slowPath(reductions <= 0)
    }

    /// Saves the resume point and returns `outcome`.
    @inline(__always) func save(_ pc: Int, _ outcome: SliceOutcome) -> SliceOutcome {
        ctx.pointee.pc = pc
        return outcome
    }

    /// Saves the resume point, the code word `ip` points at, and returns `outcome`.
    @inline(__always) func save(_ ip: UnsafeMutablePointer<UInt64>, _ outcome: SliceOutcome) -> SliceOutcome {
        save(Interpreter.index(of: ip, in: program.code), outcome)
    }

    /// The code index `ip` points at: a subtraction and a shift (`ip - code` divides by the
    /// stride with rounding toward zero, which costs a conditional move on every call).
    @inline(__always)
    static func index(of ip: UnsafeMutablePointer<UInt64>, in code: UnsafeMutablePointer<UInt64>) -> Int {
        (Int(bitPattern: ip) &- Int(bitPattern: code)) &>> 3
    }

    /// The arithmetic of `addjlt`/`addjle`: rA += the immediate in B (as `addi`), then the
    /// order of rA against rC (read after the addition, as the separate `jlt` would).
    @inline(__always)
    func addImmediateThenOrder(_ word: UInt64, _ regs: UnsafeMutablePointer<UInt64>) throws(Fault) -> Int {
        let x = regs[word.fieldA]
        if x & 1 == 0, case (let sum, false) = Int64(bitPattern: x).addingReportingOverflow(Int64(word.fieldSB) << 1) {
            regs[word.fieldA] = UInt64(bitPattern: sum)
        } else {
            try arithmetic(.add, word, x, word.immediateB)
        }
        return try order(regs[word.fieldA], regs[word.fieldC])
    }

    /// The running process's pid.
    @inline(__always) var selfPid: UInt64 { processRef._withUnsafeGuaranteedRef { $0.pid } }
}

extension UInt64 {
    /// Whether this code word's opcode is `op`.
    @inline(__always) func opcodeIs(_ op: Opcode) -> Bool { UInt8(truncatingIfNeeded: self) == op.rawValue }
    /// The signed immediate in field B, as a small-integer value.
    @inline(__always) var immediateB: UInt64 { Value.smallInt(Int64(fieldSB)).raw }
    /// The signed immediate in field C, as a small-integer value.
    @inline(__always) var immediateC: UInt64 { Value.smallInt(Int64(fieldSC)).raw }
}
