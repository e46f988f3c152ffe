import CSkeinSupport
import Foundation

/// How a slice of a process ended.
enum SliceOutcome {
    /// The reduction budget ran out; the process can continue later.
    case exhausted
    /// The entry function returned this value.
    case returned(Value)
    /// A runtime error ended the process.
    case failed(RuntimeError)
    /// `recv` found nothing: suspend until a message arrives or `timeout` ms pass (nil: forever).
    /// The context is saved at the `recv`, which runs again on wake-up.
    case waitForMessage(timeout: Int?)
    /// `sleep`: suspend for `milliseconds`. The context is saved at the `sleep`.
    case sleep(milliseconds: Int)
    /// `io`: suspend until the IO thread completes the operation. The context is saved at the
    /// `io`, which runs again on wake-up and takes the result.
    case waitForIO(IOOperation)
}

/// A runtime error before its location is known.
struct Fault: Error {
    var kind: RuntimeErrorKind
    var detail: String
}

/// The bytecode interpreter: runs one slice of one process.
///
/// A `switch` over the opcode in a loop, with registers and code reached through raw pointers
/// held in locals, so the loop has no reference counting or bounds checks (the verifier proved
/// every index in range at load). Integer fast paths work on the tagged words directly; anything
/// else (boxed numbers, floats, errors) goes to out-of-line slow paths.
///
/// Reductions (one per call, taken jump and allocation) bound a slice; when the budget is spent
/// the interpreter saves its position and returns `.exhausted`.
struct Interpreter {
    // The VM objects are held unretained and borrowed with `_withUnsafeGuaranteedRef`: the
    // caller (`Runtime.runSlice`) keeps them alive for the whole slice, and retaining them per
    // message would put shared reference counts on the message path.
    let runtimeRef: Unmanaged<Runtime>
    unowned(unsafe) let program: LoadedProgram
    let processRef: Unmanaged<Process>
    let workerRef: Unmanaged<Worker>?
    let ctx: UnsafeMutablePointer<ExecutionContext>

    init(runtime: Runtime, program: LoadedProgram, process: Process, worker: Worker?, ctx: UnsafeMutablePointer<ExecutionContext>) {
        runtimeRef = .passUnretained(runtime)
        self.program = program
        processRef = .passUnretained(process)
        workerRef = worker.map { .passUnretained($0) }
        self.ctx = ctx
    }

    /// The VM core, for rare paths (printing, errors).
    private var runtime: Runtime { runtimeRef.takeUnretainedValue() }
    /// The running process's mailbox (a plain pointer struct).
    @inline(__always) private var mailbox: Mailbox { processRef._withUnsafeGuaranteedRef { $0.mailbox } }
    /// Whether the process resumed because its timeout fired.
    @inline(__always) private var timedOut: Bool {
        get { processRef._withUnsafeGuaranteedRef { $0.timedOut } }
        nonmutating set { processRef._withUnsafeGuaranteedRef { $0.timedOut = newValue } }
    }

    /// Runs until the budget is spent or the process stops or suspends.
    mutating func run(budget: inout Int) -> SliceOutcome {
        let code = program.code
        let functions = program.functions
        let constants = program.constants
        var pc = ctx.pointee.pc
        var regs = ctx.pointee.stack + ctx.pointee.base
        var reductions = budget
        defer { budget = reductions }

        do throws(Fault) {
            while true {
                let word = code[pc]
                pc &+= 1
                switch unsafeBitCast(UInt8(truncatingIfNeeded: word), to: Opcode.self) {
                case .nop:
                    break
                case .move:
                    regs[word.fieldA] = regs[word.fieldB]
                case .loadk:
                    regs[word.fieldA] = constants[word.fieldBx]
                case .loadi:
                    regs[word.fieldA] = Value.smallInt(Int64(word.fieldSBx)).raw

                // MARK: Arithmetic
                case .add:
                    let x = regs[word.fieldB], y = regs[word.fieldC]
                    if (x | y) & 1 == 0 {
                        let (r, o) = Int64(bitPattern: x).addingReportingOverflow(Int64(bitPattern: y))
                        if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                    }
                    try arithmetic(.add, word, x, y, pc: pc)
                case .addi:
                    let x = regs[word.fieldB]
                    if x & 1 == 0 {
                        let (r, o) = Int64(bitPattern: x).addingReportingOverflow(Int64(word.fieldSC) << 1)
                        if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                    }
                    try arithmetic(.add, word, x, Value.smallInt(Int64(word.fieldSC)).raw, pc: pc)
                case .sub:
                    let x = regs[word.fieldB], y = regs[word.fieldC]
                    if (x | y) & 1 == 0 {
                        let (r, o) = Int64(bitPattern: x).subtractingReportingOverflow(Int64(bitPattern: y))
                        if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                    }
                    try arithmetic(.sub, word, x, y, pc: pc)
                case .subi:
                    let x = regs[word.fieldB]
                    if x & 1 == 0 {
                        let (r, o) = Int64(bitPattern: x).subtractingReportingOverflow(Int64(word.fieldSC) << 1)
                        if !o { regs[word.fieldA] = UInt64(bitPattern: r); continue }
                    }
                    try arithmetic(.sub, word, x, Value.smallInt(Int64(word.fieldSC)).raw, pc: pc)
                case .mul:
                    try arithmetic(.mul, word, regs[word.fieldB], regs[word.fieldC], pc: pc)
                case .muli:
                    try arithmetic(.mul, word, regs[word.fieldB], Value.smallInt(Int64(word.fieldSC)).raw, pc: pc)
                case .div:
                    try arithmetic(.div, word, regs[word.fieldB], regs[word.fieldC], pc: pc)
                case .divi:
                    try arithmetic(.div, word, regs[word.fieldB], Value.smallInt(Int64(word.fieldSC)).raw, pc: pc)
                case .rem:
                    try arithmetic(.rem, word, regs[word.fieldB], regs[word.fieldC], pc: pc)
                case .remi:
                    try arithmetic(.rem, word, regs[word.fieldB], Value.smallInt(Int64(word.fieldSC)).raw, pc: pc)
                case .neg:
                    try arithmetic(.sub, word, Value.smallInt(0).raw, regs[word.fieldB], pc: pc)

                // MARK: Comparison
                case .eq:
                    regs[word.fieldA] = Value.bool(ValueSemantics.equal(Value(raw: regs[word.fieldB]), Value(raw: regs[word.fieldC]))).raw
                case .ne:
                    regs[word.fieldA] = Value.bool(!ValueSemantics.equal(Value(raw: regs[word.fieldB]), Value(raw: regs[word.fieldC]))).raw
                case .lt:
                    regs[word.fieldA] = Value.bool(order(regs[word.fieldB], regs[word.fieldC]) < 0).raw
                case .le:
                    regs[word.fieldA] = Value.bool(order(regs[word.fieldB], regs[word.fieldC]) <= 0).raw
                case .gt:
                    regs[word.fieldA] = Value.bool(order(regs[word.fieldB], regs[word.fieldC]) > 0).raw
                case .ge:
                    regs[word.fieldA] = Value.bool(order(regs[word.fieldB], regs[word.fieldC]) >= 0).raw
                case .not:
                    regs[word.fieldA] = Value.bool(!Value(raw: regs[word.fieldB]).isTruthy).raw

                // MARK: Branches
                case .jmp:
                    pc = word.fieldT
                    reductions &-= 1
                    if reductions <= 0 { return save(pc, .exhausted) }
                case .jt, .jf:
                    let truthy = Value(raw: regs[word.fieldA]).isTruthy
                    if truthy == (word.opcodeIs(.jt)) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jeq:
                    let x = regs[word.fieldA], y = regs[word.fieldB]
                    if (x | y) & 1 == 0 ? Int64(bitPattern: x) == Int64(bitPattern: y) : ValueSemantics.equal(Value(raw: x), Value(raw: y)) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jeqi:
                    let x = regs[word.fieldA]
                    if x & 1 == 0 ? Int64(bitPattern: x) >> 1 == Int64(word.fieldSB) : ValueSemantics.equal(Value(raw: x), Value.smallInt(Int64(word.fieldSB))) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jne:
                    let x = regs[word.fieldA], y = regs[word.fieldB]
                    if (x | y) & 1 == 0 ? Int64(bitPattern: x) != Int64(bitPattern: y) : !ValueSemantics.equal(Value(raw: x), Value(raw: y)) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jnei:
                    let x = regs[word.fieldA]
                    if x & 1 == 0 ? Int64(bitPattern: x) >> 1 != Int64(word.fieldSB) : !ValueSemantics.equal(Value(raw: x), Value.smallInt(Int64(word.fieldSB))) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jlt:
                    let x = regs[word.fieldA], y = regs[word.fieldB]
                    if (x | y) & 1 == 0 ? Int64(bitPattern: x) < Int64(bitPattern: y) : order(x, y) < 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jlti:
                    let x = regs[word.fieldA]
                    if x & 1 == 0 ? Int64(bitPattern: x) >> 1 < Int64(word.fieldSB) : order(x, Value.smallInt(Int64(word.fieldSB)).raw) < 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jle:
                    let x = regs[word.fieldA], y = regs[word.fieldB]
                    if (x | y) & 1 == 0 ? Int64(bitPattern: x) <= Int64(bitPattern: y) : order(x, y) <= 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jlei:
                    let x = regs[word.fieldA]
                    if x & 1 == 0 ? Int64(bitPattern: x) >> 1 <= Int64(word.fieldSB) : order(x, Value.smallInt(Int64(word.fieldSB)).raw) <= 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jgt:
                    let x = regs[word.fieldA], y = regs[word.fieldB]
                    if (x | y) & 1 == 0 ? Int64(bitPattern: x) > Int64(bitPattern: y) : order(x, y) > 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jgti:
                    let x = regs[word.fieldA]
                    if x & 1 == 0 ? Int64(bitPattern: x) >> 1 > Int64(word.fieldSB) : order(x, Value.smallInt(Int64(word.fieldSB)).raw) > 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jge:
                    let x = regs[word.fieldA], y = regs[word.fieldB]
                    if (x | y) & 1 == 0 ? Int64(bitPattern: x) >= Int64(bitPattern: y) : order(x, y) >= 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jgei:
                    let x = regs[word.fieldA]
                    if x & 1 == 0 ? Int64(bitPattern: x) >> 1 >= Int64(word.fieldSB) : order(x, Value.smallInt(Int64(word.fieldSB)).raw) >= 0 {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }

                case .jeqk:
                    if ValueSemantics.equal(Value(raw: regs[word.fieldA]), Value(raw: constants[word.fieldB])) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }
                case .jnek:
                    if !ValueSemantics.equal(Value(raw: regs[word.fieldA]), Value(raw: constants[word.fieldB])) {
                        pc = word.fieldT
                        reductions &-= 1
                        if reductions <= 0 { return save(pc, .exhausted) }
                    }

                // MARK: Calls
                case .call:
                    pc = try enter(word.fieldB, arguments: word.fieldC, destination: word.fieldA, returnPC: pc)
                    regs = ctx.pointee.stack + ctx.pointee.base
                    reductions &-= 1
                    if reductions <= 0 { return save(pc, .exhausted) }
                case .callr:
                    let callee = try Interpreter.functionIndex(Value(raw: regs[word.fieldB]), argc: word.fieldD, program: program)
                    pc = try enter(callee, arguments: word.fieldC, destination: word.fieldA, returnPC: pc)
                    regs = ctx.pointee.stack + ctx.pointee.base
                    reductions &-= 1
                    if reductions <= 0 { return save(pc, .exhausted) }
                case .tailcall, .tailcallr:
                    let callee: Int
                    let argStart: Int
                    if word.opcodeIs(.tailcall) {
                        callee = word.fieldB
                        argStart = word.fieldC
                    } else {
                        callee = try Interpreter.functionIndex(Value(raw: regs[word.fieldA]), argc: word.fieldD, program: program)
                        argStart = word.fieldC
                    }
                    let info = functions[callee]
                    let base = ctx.pointee.base
                    if base + info.registers > ctx.pointee.stackCapacity {
                        guard ctx.pointee.growStack(toHold: base + info.registers) else {
                            throw Fault(kind: .stackOverflow, detail: "the register stack is full")
                        }
                        regs = ctx.pointee.stack + base
                    }
                    // Arguments move down to r0…; copying upwards in index is safe because the
                    // destination never lies above the source.
                    for i in 0..<info.arity { regs[i] = regs[argStart + i] }
                    for i in info.arity..<info.registers { regs[i] = Value.nil.raw }
                    ctx.pointee.function = callee
                    pc = info.entry
                    reductions &-= 1
                    if reductions <= 0 { return save(pc, .exhausted) }
                case .ret:
                    let result = regs[word.fieldA]
                    if ctx.pointee.frameCount == 0 {
                        ctx.pointee.pc = pc
                        return .returned(Value(raw: result))
                    }
                    ctx.pointee.frameCount -= 1
                    let frame = ctx.pointee.frames![ctx.pointee.frameCount]
                    ctx.pointee.base = Int(frame.base)
                    ctx.pointee.function = Int(frame.function)
                    regs = ctx.pointee.stack + Int(frame.base)
                    regs[Int(frame.destination)] = result
                    pc = Int(frame.returnPC)

                // MARK: Data structures
                case .tuple:
                    let n = word.fieldC
                    let object = allocate(words: 1 + n, pc: pc, reductions: &reductions)
                    regs = ctx.pointee.stack + ctx.pointee.base
                    object[0] = HeapObject.header(.tuple, payloadWords: n)
                    for i in 0..<n { object[1 + i] = regs[word.fieldB + i] }
                    regs[word.fieldA] = Value.object(object).raw
                case .array:
                    let n = word.fieldC
                    let object = allocate(words: 3 + (n > 0 ? 1 + n : 0), pc: pc, reductions: &reductions)
                    regs = ctx.pointee.stack + ctx.pointee.base
                    Interpreter.initArray(object, elements: regs + word.fieldB, count: n)
                    regs[word.fieldA] = Value.object(object).raw
                case .len:
                    regs[word.fieldA] = try Interpreter.length(Value(raw: regs[word.fieldB])).raw
                case .get:
                    regs[word.fieldA] = try Interpreter.element(Value(raw: regs[word.fieldB]), index: Value(raw: regs[word.fieldC]))
                case .geti:
                    regs[word.fieldA] = try Interpreter.element(Value(raw: regs[word.fieldB]), index: .smallInt(Int64(word.fieldSC)))
                case .set:
                    try Interpreter.setElement(Value(raw: regs[word.fieldA]), index: Value(raw: regs[word.fieldB]), to: regs[word.fieldC])
                case .seti:
                    try Interpreter.setElement(Value(raw: regs[word.fieldA]), index: .smallInt(Int64(word.fieldSB)), to: regs[word.fieldC])
                case .push:
                    try push(arrayRegister: word.fieldA, valueRegister: word.fieldB, pc: pc, reductions: &reductions)
                    regs = ctx.pointee.stack + ctx.pointee.base
                case .pop:
                    regs[word.fieldA] = try Interpreter.pop(Value(raw: regs[word.fieldB]))
                case .concat:
                    try concat(word, pc: pc, reductions: &reductions)
                    regs = ctx.pointee.stack + ctx.pointee.base
                case .tostr, .tofloat, .toint, .typeof:
                    try convert(word, pc: pc, reductions: &reductions)
                    regs = ctx.pointee.stack + ctx.pointee.base

                // MARK: Output, errors, clock
                case .print:
                    runtime.output.write(runtime.printer.text(Value(raw: regs[word.fieldA])) + "\n")
                case .raise:
                    throw Fault(kind: .raised, detail: runtime.printer.text(Value(raw: regs[word.fieldA]), quoted: true))
                case .now:
                    regs[word.fieldA] = Value.smallInt(skein_monotonic_ns()).raw

                // MARK: Processes
                case .spawn, .spawnr:
                    let callee: Int
                    let argc: Int
                    if word.opcodeIs(.spawn) {
                        callee = word.fieldB
                        argc = functions[callee].arity
                    } else {
                        argc = word.fieldD
                        callee = try Interpreter.functionIndex(Value(raw: regs[word.fieldB]), argc: argc, program: program)
                    }
                    var fault: Fault?
                    let arguments = UnsafeBufferPointer(start: regs + word.fieldC, count: argc)
                    let pid = runtimeRef._withUnsafeGuaranteedRef { rt in
                        workerRef.withGuaranteed { worker in
                            do throws(Fault) { return try rt.spawn(function: callee, arguments: arguments, from: worker) } catch {
                                fault = error
                                return 0
                            }
                        }
                    }
                    if let fault { throw fault }
                    regs[word.fieldA] = Value.pid(pid).raw
                    reductions &-= 1
                case .self:
                    regs[word.fieldA] = Value.pid(processRef._withUnsafeGuaranteedRef { $0.pid }).raw
                case .send:
                    let target = Value(raw: regs[word.fieldA]), message = Value(raw: regs[word.fieldB])
                    let fault = runtimeRef._withUnsafeGuaranteedRef { rt in
                        workerRef.withGuaranteed { worker -> Fault? in
                            do throws(Fault) { try rt.send(to: target, message, from: worker); return nil } catch { return error }
                        }
                    }
                    if let fault { throw fault }
                    reductions &-= 1
                case .makeref:
                    regs[word.fieldA] = Value.ref(runtime.makeReference()).raw
                case .recv, .recvt, .recvti, .recvtag, .recvtagt, .recvtagti:
                    let start = pc - 1
                    let op = unsafeBitCast(UInt8(truncatingIfNeeded: word), to: Opcode.self)
                    if op.wordCount == 2 { pc &+= 1 }
                    if let outcome = try receive(op, word, at: start, pc: &pc, reductions: &reductions) {
                        return outcome
                    }
                    regs = ctx.pointee.stack + ctx.pointee.base
                case .io:
                    if let operation = try io(word, reductions: &reductions) {
                        return save(pc - 1, .waitForIO(operation))
                    }
                    regs = ctx.pointee.stack + ctx.pointee.base
                case .callhost:
                    try callHost(word, reductions: &reductions)
                    regs = ctx.pointee.stack + ctx.pointee.base
                case .sleep, .sleepi:
                    if timedOut {
                        timedOut = false  // woken by its own timeout: the sleep is over
                    } else {
                        let ms = word.opcodeIs(.sleepi) ? word.fieldSBx : try Interpreter.milliseconds(Value(raw: regs[word.fieldA]))
                        return save(pc - 1, .sleep(milliseconds: ms))
                    }
                }
            }
        } catch {
            ctx.pointee.pc = pc
            return .failed(runtimeError(error, pc: pc - 1))
        }
    }

    /// Pushes a frame for a call from the current function, moves the arguments (registers
    /// `argStart…` of the caller) into the callee's new frame, clears its other registers and
    /// returns the callee's first instruction. The register stack may move: reload `regs`.
    @inline(__always)
    private func enter(_ callee: Int, arguments argStart: Int, destination: Int, returnPC: Int) throws(Fault) -> Int {
        let functions = program.functions
        let info = functions[callee]
        let base = ctx.pointee.base
        let newBase = base + functions[ctx.pointee.function].registers
        if newBase + info.registers > ctx.pointee.stackCapacity {
            guard ctx.pointee.growStack(toHold: newBase + info.registers) else {
                throw Fault(kind: .stackOverflow, detail: "the register stack is full")
            }
        }
        guard ctx.pointee.pushFrame(Frame(returnPC: Int32(returnPC), base: Int32(base),
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

    /// Saves the resume point and returns `outcome`.
    @inline(__always) private func save(_ pc: Int, _ outcome: SliceOutcome) -> SliceOutcome {
        ctx.pointee.pc = pc
        return outcome
    }

    /// Locates a fault at `pc`.
    private func runtimeError(_ fault: Fault, pc: Int) -> RuntimeError {
        let f = program.functionIndex(containing: pc)
        return RuntimeError(kind: fault.kind, detail: fault.detail, function: program.functionName(f),
                            file: program.module.sourceName, line: program.line(at: pc))
    }

    // MARK: Comparison helpers

    /// Total order of two values (−1, 0, 1).
    @inline(__always) func order(_ x: UInt64, _ y: UInt64) -> Int {
        if (x | y) & 1 == 0 {
            let a = Int64(bitPattern: x), b = Int64(bitPattern: y)
            return a < b ? -1 : (a == b ? 0 : 1)
        }
        return ValueSemantics.compare(Value(raw: x), Value(raw: y), atoms: runtime.atoms)
    }

    // MARK: Allocation

    /// Allocates `words` words, collecting if the heap is full. Registers may move: reload them.
    @inline(__always)
    private func allocate(words: Int, pc: Int, reductions: inout Int) -> UnsafeMutablePointer<UInt64> {
        reductions &-= 1
        if let p = ctx.pointee.heap.tryAllocate(words: words) { return p }
        return collectAndAllocate(words: words)
    }

    @inline(never)
    private func collectAndAllocate(words: Int) -> UnsafeMutablePointer<UInt64> {
        let ctx = self.ctx
        let top = ctx.pointee.base + program.functions[ctx.pointee.function].registers
        ctx.pointee.heap.collect(reserving: words) { copier in
            copier.visit(ctx.pointee.stack, count: top)
        }
        return ctx.pointee.heap.tryAllocate(words: words)!
    }

    /// Makes an integer value, boxing it when it does not fit in a small integer.
    private func makeInt(_ n: Int64, reductions: inout Int) -> UInt64 {
        if n >= Value.smallIntMin && n <= Value.smallIntMax { return Value.smallInt(n).raw }
        let object = allocate(words: 2, pc: 0, reductions: &reductions)
        object[0] = HeapObject.header(.boxedInt, payloadWords: 1)
        object[1] = UInt64(bitPattern: n)
        return Value.object(object).raw
    }

    /// Makes a boxed float.
    private func makeFloat(_ d: Double, reductions: inout Int) -> UInt64 {
        let object = allocate(words: 2, pc: 0, reductions: &reductions)
        object[0] = HeapObject.header(.float, payloadWords: 1)
        object[1] = d.bitPattern
        return Value.object(object).raw
    }

    /// Makes a string from bytes (which must not live in this heap).
    private func makeString(_ bytes: UnsafeRawBufferPointer, reductions: inout Int) -> UInt64 {
        let object = allocate(words: HeapObject.stringWords(byteCount: bytes.count), pc: 0, reductions: &reductions)
        ObjectBuilder.initString(object, bytes: bytes)
        return Value.object(object).raw
    }

    private func makeString(_ text: String, reductions: inout Int) -> UInt64 {
        var text = text
        return text.withUTF8 { makeString(UnsafeRawBufferPointer($0), reductions: &reductions) }
    }

    static func initArray(_ object: UnsafeMutablePointer<UInt64>, elements: UnsafeMutablePointer<UInt64>, count n: Int) {
        object[0] = HeapObject.header(.array, payloadWords: 2)
        object[1] = Value.smallInt(Int64(n)).raw
        if n == 0 {
            object[2] = Value.nil.raw
        } else {
            let storage = object + 3
            storage[0] = HeapObject.header(.arrayStorage, payloadWords: n)
            for i in 0..<n { storage[1 + i] = elements[i] }
            object[2] = Value.object(storage).raw
        }
    }

    // MARK: Arithmetic slow path

    private enum ArithmeticOp: String { case add = "+", sub = "-", mul = "*", div = "/", rem = "rem" }

    @inline(never)
    private func arithmetic(_ op: ArithmeticOp, _ word: UInt64, _ x: UInt64, _ y: UInt64, pc: Int) throws(Fault) {
        var reductions = 0
        let a = Value(raw: x), b = Value(raw: y)
        guard let p = ValueSemantics.number(a), let q = ValueSemantics.number(b) else {
            throw Fault(kind: .typeMismatch, detail: "\(op.rawValue) needs numbers, got \(runtime.printer.text(a, quoted: true)) and \(runtime.printer.text(b, quoted: true))")
        }
        let result: UInt64
        switch (p, q) {
        case (.int(let m), .int(let n)):
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
                r = m.remainderReportingOverflow(dividingBy: n)
            }
            guard !r.overflow else { throw Fault(kind: .integerOverflow, detail: "\(m) \(op.rawValue) \(n)") }
            result = makeInt(r.partialValue, reductions: &reductions)
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
            result = makeFloat(r, reductions: &reductions)
        }
        (ctx.pointee.stack + ctx.pointee.base)[word.fieldA] = result
    }

    private static func double(_ n: ValueSemantics.Number) -> Double {
        switch n {
        case .int(let i): Double(i)
        case .float(let d): d
        }
    }

    // MARK: Data structure helpers

    private static func typeName(_ v: Value) -> String { String(describing: ValueSemantics.typeAtom(v)) }

    static func length(_ v: Value) throws(Fault) -> Value {
        switch v.heapKind {
        case .string: return .smallInt(Int64(v.stringByteCount))
        case .tuple: return .smallInt(Int64(v.tupleCount))
        case .array: return .smallInt(Int64(v.arrayCount))
        default: throw Fault(kind: .typeMismatch, detail: "len needs a string, tuple or array, got \(typeName(v))")
        }
    }

    private static func checkedIndex(_ index: Value, count: Int) throws(Fault) -> Int {
        guard index.isSmallInt else { throw Fault(kind: .typeMismatch, detail: "an index must be an integer, got \(typeName(index))") }
        let i = index.smallIntValue
        guard i >= 0 && i < count else { throw Fault(kind: .indexOutOfRange, detail: "index \(i) of a collection of \(count)") }
        return Int(i)
    }

    static func element(_ v: Value, index: Value) throws(Fault) -> UInt64 {
        switch v.heapKind {
        case .tuple: return v.tupleElements[try checkedIndex(index, count: v.tupleCount)]
        case .array: return v.arrayElements[try checkedIndex(index, count: v.arrayCount)]
        case .string:
            let i = try checkedIndex(index, count: v.stringByteCount)
            return Value.smallInt(Int64(v.stringBytes[i])).raw
        default: throw Fault(kind: .typeMismatch, detail: "get needs a tuple, array or string, got \(typeName(v))")
        }
    }

    static func setElement(_ v: Value, index: Value, to element: UInt64) throws(Fault) {
        guard v.heapKind == .array else { throw Fault(kind: .typeMismatch, detail: "set needs an array, got \(typeName(v))") }
        v.arrayElements[try checkedIndex(index, count: v.arrayCount)] = element
    }

    static func pop(_ v: Value) throws(Fault) -> UInt64 {
        guard v.heapKind == .array else { throw Fault(kind: .typeMismatch, detail: "pop needs an array, got \(typeName(v))") }
        let n = v.arrayCount
        guard n > 0 else { throw Fault(kind: .indexOutOfRange, detail: "pop from an empty array") }
        let last = v.arrayElements[n - 1]
        v.arrayElements[n - 1] = Value.nil.raw
        v.objectAddress[1] = Value.smallInt(Int64(n - 1)).raw
        return last
    }

    private func push(arrayRegister: Int, valueRegister: Int, pc: Int, reductions: inout Int) throws(Fault) {
        var regs = ctx.pointee.stack + ctx.pointee.base
        let array = Value(raw: regs[arrayRegister])
        guard array.heapKind == .array else { throw Fault(kind: .typeMismatch, detail: "push needs an array, got \(Interpreter.typeName(array))") }
        let n = array.arrayCount
        if n == array.arrayCapacity {
            let capacity = max(4, n * 2)
            let storage = allocate(words: 1 + capacity, pc: pc, reductions: &reductions)
            regs = ctx.pointee.stack + ctx.pointee.base
            let moved = Value(raw: regs[arrayRegister])
            storage[0] = HeapObject.header(.arrayStorage, payloadWords: capacity)
            if n > 0 { storage.advanced(by: 1).update(from: moved.arrayElements, count: n) }
            (storage + 1 + n).initialize(repeating: Value.nil.raw, count: capacity - n)
            moved.objectAddress[2] = Value.object(storage).raw
        }
        let target = Value(raw: regs[arrayRegister])
        target.arrayElements[n] = regs[valueRegister]
        target.objectAddress[1] = Value.smallInt(Int64(n + 1)).raw
    }

    private func concat(_ word: UInt64, pc: Int, reductions: inout Int) throws(Fault) {
        var regs = ctx.pointee.stack + ctx.pointee.base
        let a = Value(raw: regs[word.fieldB]), b = Value(raw: regs[word.fieldC])
        guard a.heapKind == .string, b.heapKind == .string else {
            throw Fault(kind: .typeMismatch, detail: "concat needs two strings, got \(Interpreter.typeName(a)) and \(Interpreter.typeName(b))")
        }
        let na = a.stringByteCount, nb = b.stringByteCount
        let object = allocate(words: HeapObject.stringWords(byteCount: na + nb), pc: pc, reductions: &reductions)
        regs = ctx.pointee.stack + ctx.pointee.base
        let x = Value(raw: regs[word.fieldB]), y = Value(raw: regs[word.fieldC])
        let words = HeapObject.stringWords(byteCount: na + nb)
        object[words - 1] = 0
        object[0] = HeapObject.header(.string, payloadWords: words - 1)
        object[1] = Value.smallInt(Int64(na + nb)).raw
        let bytes = UnsafeMutableRawPointer(object + 2)
        if na > 0 { bytes.copyMemory(from: x.stringBytes.baseAddress!, byteCount: na) }
        if nb > 0 { (bytes + na).copyMemory(from: y.stringBytes.baseAddress!, byteCount: nb) }
        regs[word.fieldA] = Value.object(object).raw
    }

    private func convert(_ word: UInt64, pc: Int, reductions: inout Int) throws(Fault) {
        let regs = ctx.pointee.stack + ctx.pointee.base
        let v = Value(raw: regs[word.fieldB])
        let result: UInt64
        switch unsafeBitCast(UInt8(truncatingIfNeeded: word), to: Opcode.self) {
        case .typeof:
            result = Value.atom(ValueSemantics.typeAtom(v).rawValue).raw
        case .tostr:
            result = v.heapKind == .string ? v.raw : makeString(runtime.printer.text(v), reductions: &reductions)
        case .tofloat:
            switch ValueSemantics.number(v) {
            case .int(let n)?: result = makeFloat(Double(n), reductions: &reductions)
            case .float?: result = v.raw
            case nil:
                guard v.heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "tofloat needs a number or string, got \(Interpreter.typeName(v))") }
                let text = String(decoding: v.stringBytes, as: UTF8.self)
                result = Double(text).map { makeFloat($0, reductions: &reductions) } ?? Value.nil.raw
            }
        default:  // toint
            switch ValueSemantics.number(v) {
            case .int?: result = v.raw
            case .float(let d)?:
                guard d.isFinite, let n = Int64(exactly: d.rounded(.towardZero)) else {
                    throw Fault(kind: .badArgument, detail: "toint cannot convert \(Printer.float(d)) to an integer")
                }
                result = makeInt(n, reductions: &reductions)
            case nil:
                guard v.heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "toint needs a number or string, got \(Interpreter.typeName(v))") }
                let text = String(decoding: v.stringBytes, as: UTF8.self)
                result = Int64(text).map { makeInt($0, reductions: &reductions) } ?? Value.nil.raw
            }
        }
        (ctx.pointee.stack + ctx.pointee.base)[word.fieldA] = result
    }

    /// The function a reference designates, checking the argument count.
    static func functionIndex(_ target: Value, argc: Int, program: LoadedProgram) throws(Fault) -> Int {
        guard target.isFunction else {
            throw Fault(kind: .notAFunction, detail: "cannot call \(typeName(target)) value")
        }
        let index = Int(target.immediatePayload)
        let arity = program.functions[index].arity
        guard arity == argc else {
            throw Fault(kind: .arityMismatch, detail: "\(program.functionName(index)) called with \(argc) arguments")
        }
        return index
    }

    static func milliseconds(_ v: Value) throws(Fault) -> Int {
        guard v.isSmallInt else { throw Fault(kind: .typeMismatch, detail: "a timeout must be an integer number of milliseconds") }
        return Int(max(0, min(v.smallIntValue, Int64(Int32.max))))
    }

    // MARK: Receive

    /// Runs a receive. Returns an outcome when the process must suspend, nil to continue at `pc`.
    private func receive(_ op: Opcode, _ word: UInt64, at start: Int, pc: inout Int, reductions: inout Int) throws(Fault) -> SliceOutcome? {
        let regs = ctx.pointee.stack + ctx.pointee.base
        let hasTimeout = op == .recvt || op == .recvti || op == .recvtagt || op == .recvtagti
        if hasTimeout && timedOut {
            timedOut = false
            pc = op.wordCount == 2 ? Int(code(at: start + 1)) : word.fieldT
            return nil
        }
        let message: MessageNode?
        if op == .recvtag || op == .recvtagt || op == .recvtagti {
            let key = Value(raw: regs[word.fieldB])
            message = mailbox.takeFirst { v in
                v.heapKind == .tuple && v.tupleCount > 0 && ValueSemantics.equal(Value(raw: v.tupleElements[0]), key)
            }
        } else {
            message = mailbox.take()
        }
        if let message {
            deliver(message, into: word.fieldA, reductions: &reductions)
            return nil
        }
        let timeout: Int?
        switch op {
        case .recvt: timeout = try Interpreter.milliseconds(Value(raw: regs[word.fieldB]))
        case .recvti: timeout = max(0, word.fieldSB)
        case .recvtagt: timeout = try Interpreter.milliseconds(Value(raw: regs[word.fieldC]))
        case .recvtagti: timeout = max(0, word.fieldSC)
        default: timeout = nil
        }
        if timeout == 0 {
            pc = op.wordCount == 2 ? Int(code(at: start + 1)) : word.fieldT
            return nil
        }
        ctx.pointee.pc = start
        return .waitForMessage(timeout: timeout)
    }

    @inline(__always) private func code(at index: Int) -> UInt64 { program.code[index] }

    /// Runs an `io` instruction: takes the result of a completed operation, answers the
    /// immediate ones, or returns the operation to suspend on.
    private func io(_ word: UInt64, reductions: inout Int) throws(Fault) -> IOOperation? {
        let result = processRef._withUnsafeGuaranteedRef { p -> Term? in
            defer { p.ioResult = nil }
            return p.ioResult
        }
        if let result {
            store(try Interpreter.node(result, atoms: runtime.atoms), into: word.fieldA, reductions: &reductions)
            return nil
        }
        let regs = ctx.pointee.stack + ctx.pointee.base
        let args = (0..<word.fieldD).map { Value(raw: regs[word.fieldC + $0]) }
        let name = runtime.atoms.name(Int(Value(raw: program.constants[word.fieldB]).immediatePayload))
        if name == "wall_clock" {
            let ms = Int64(Date().timeIntervalSince1970 * 1000)
            regs[word.fieldA] = Value.smallInt(ms).raw
            return nil
        }
        let operation = try IOOperations.decode(name, args, atoms: runtime.atoms)
        processRef._withUnsafeGuaranteedRef { $0.usedIO = true }
        return operation
    }

    static func node(_ term: Term, atoms: AtomTable) throws(Fault) -> MessageNode {
        do { return try term.messageNode(atoms: atoms) } catch { throw Fault(kind: .badArgument, detail: "\(error)") }
    }

    /// Calls a host function: arguments go out as `Term`s, the result is copied into the heap.
    private func callHost(_ word: UInt64, reductions: inout Int) throws(Fault) {
        let runtime = self.runtime
        guard let function = runtime.hostFunctions[word.fieldB] else {
            throw Fault(kind: .notAFunction, detail: "no host function is bound here")
        }
        let regs = ctx.pointee.stack + ctx.pointee.base
        let arguments = (0..<word.fieldD).map { Term(Value(raw: regs[word.fieldC + $0]), atoms: runtime.atoms, program: program) }
        // The call may block: let other workers take what is queued here, next slot included.
        workerRef?._withUnsafeGuaranteedRef { $0.offerWork() }
        let result: Term
        do { result = try function.body(arguments) } catch {
            throw Fault(kind: .raised, detail: "host function \(Disassembler.literal(program.module.constants[word.fieldB], module: program.module)) failed: \(error)")
        }
        store(try Interpreter.node(result, atoms: runtime.atoms), into: word.fieldA, reductions: &reductions)
    }

    /// Copies a message into this process's heap, frees its node and stores it in `register`.
    private func deliver(_ message: MessageNode, into register: Int, reductions: inout Int) {
        store(message, into: register, reductions: &reductions)
        workerRef?._withUnsafeGuaranteedRef { $0.stats.messagesReceived.increment() }
    }

    /// Copies a node's value into this process's heap, frees the node and stores the copy.
    private func store(_ message: MessageNode, into register: Int, reductions: inout Int) {
        let value = message.value
        // A received value came from `ValueCopy`, so it is never too deep to measure.
        let words = (try? ValueCopy.words(value)) ?? 0
        var copied = value
        if words > 0 {
            var free = allocate(words: words, pc: 0, reductions: &reductions)
            copied = ValueCopy.copy(value, to: &free)
        }
        if let workerRef { workerRef._withUnsafeGuaranteedRef { message.free(cache: $0.nodeCache) } } else { message.free() }
        (ctx.pointee.stack + ctx.pointee.base)[register] = copied.raw
    }
}

extension UInt64 {
    /// Whether this code word's opcode is `op`.
    @inline(__always) func opcodeIs(_ op: Opcode) -> Bool { UInt8(truncatingIfNeeded: self) == op.rawValue }
}

extension Optional {
    /// Borrows the unretained object, or passes nil.
    @inline(__always)
    func withGuaranteed<Object: AnyObject, R>(_ body: (Object?) -> R) -> R where Wrapped == Unmanaged<Object> {
        switch self {
        case .some(let unmanaged): unmanaged._withUnsafeGuaranteedRef { body($0) }
        case .none: body(nil)
        }
    }
}
