import Foundation

/// The outside world: asynchronous IO (suspending the process, not the worker) and host
/// functions.
extension Interpreter {
    /// Runs an `io` instruction: takes the result of a completed operation, answers the
    /// immediate ones, or returns the operation to suspend on.
    func io(_ word: UInt64) throws(Fault) -> IOOperation? {
        var reductions = 0
        let result = processRef._withUnsafeGuaranteedRef { p -> MessageNode? in
            defer { p.ioResult = nil }
            return p.ioResult
        }
        if let result {
            if !result.isInterruptedIO {
                try store(result, into: word.fieldA, reductions: &reductions)  // the one copy into the heap
                return nil
            }
            // An exit signal cancelled the request and the process survived it: make it again.
            host.recycle(result)
        }
        guard let kind = IOOperationKind(rawValue: program.ioOperations[word.fieldB]) else {
            throw Fault(kind: .badArgument, detail: "io names no known operation (the loader resolves every io; this is a VM bug)")
        }
        if kind == .wallClock {
            registers[word.fieldA] = Value.smallInt(Int64(Date().timeIntervalSince1970 * 1000)).raw
            return nil
        }
        let operation = try IOOperations.decode(kind, UnsafeBufferPointer(start: registers + word.fieldC, count: word.fieldD), atoms: host.atoms)
        if let refusal = host.capabilities.refusal(operation) {
            try storeTerm(.error("EACCES", refusal), into: word.fieldA, reductions: &reductions)
            return nil
        }
        processRef._withUnsafeGuaranteedRef { $0.usedIO = true }
        return operation
    }

    /// `getenv rD, rName`: the environment variable as a string, or `nil` when it is not set.
    /// (Environment values are bytes: one that is not UTF-8 comes as a binary of the bytes it
    /// is, never as a string.)
    func environmentVariable(_ word: UInt64) throws(Fault) {
        var reductions = 0
        let name = Value(raw: registers[word.fieldB])
        guard name.heapKind == .string else {
            throw Fault(kind: .typeMismatch, detail: "getenv needs a string, got \(Interpreter.typeName(name))")
        }
        let key = String(decoding: name.stringBytes, as: UTF8.self)
        guard let value = getenv(key) else {
            registers[word.fieldA] = Value.nil.raw
            return
        }
        let bytes = UnsafeRawBufferPointer(start: value, count: strlen(value))
        let text = UTF8Validation.firstInvalidOffset(bytes) == nil ? String(validating: bytes, as: UTF8.self) : nil
        try storeTerm(text.map(Term.string) ?? .bytes(Array(bytes)), into: word.fieldA, reductions: &reductions)
    }

    /// Calls a host function: arguments go out as `Term`s, the result is copied into the heap.
    /// An async function is not called here: the call is returned for the runtime to start
    /// while the process is suspended, and this instruction runs again on wake-up to take the
    /// result (as `io` does).
    func callHost(_ word: UInt64) throws(Fault) -> PendingHostCall? {
        var reductions = 0
        let finished = processRef._withUnsafeGuaranteedRef { p -> HostCallResult? in
            defer { p.hostCallResult = nil }
            return p.hostCallResult
        }
        switch finished {
        case .returned(let result)?:
            try storeTerm(result, into: word.fieldA, reductions: &reductions)
            return nil
        case .failed(let reason)?:
            throw Fault(kind: .raised, detail: "host function \(hostFunctionName(word)) failed: \(reason)")
        case nil:
            break
        }
        guard let function = host.hostFunction(word.fieldB) else {
            throw Fault(kind: .notAFunction, detail: "no host function is bound here")
        }
        let regs = registers
        var arguments: [Term] = []
        for i in 0..<word.fieldD {
            do { arguments.append(try Term(Value(raw: regs[word.fieldC + i]), atoms: host.atoms, program: program)) } catch {
                throw .tooDeep("a host function argument")
            }
        }
        let call = HostCall(caller: .pid(processRef._withUnsafeGuaranteedRef { $0.pid }), name: hostFunctionName(word, quoted: false))
        switch function.body {
        case .suspending(let body):
            return PendingHostCall(body: body, call: call, arguments: arguments)
        case .blocking(let body):
            // The call may block: let other workers take what is queued here, next slot included.
            host.willBlock()
            let result: Term
            defer { host.didUnblock() }
            do { result = try body(call, arguments) } catch {
                throw Fault(kind: .raised, detail: "host function \(hostFunctionName(word)) failed: \(error)")
            }
            try storeTerm(result, into: word.fieldA, reductions: &reductions)
            return nil
        }
    }

    /// The name a `callhost` calls its function by (quoted as in the source, or bare).
    private func hostFunctionName(_ word: UInt64, quoted: Bool = true) -> String {
        let (module, constant) = program.constant(word.fieldB)
        if !quoted, case .string(let name) = constant { return name }
        return Disassembler.literal(constant, module: module)
    }
}

/// An async host function call waiting to be started by the runtime (`SliceOutcome.waitForHost`).
struct PendingHostCall {
    /// The function.
    var body: @Sendable (HostCall, [Term]) async throws -> Term
    /// Who calls it, and by which name.
    var call: HostCall
    /// The arguments, already host terms.
    var arguments: [Term]
}

/// How an async host function call ended, handed to the suspended process.
enum HostCallResult: Sendable {
    /// It returned this term.
    case returned(Term)
    /// It threw: the error as text (it becomes a runtime error of the caller).
    case failed(String)
}
