/// How a slice of a process ended.
enum SliceOutcome {
    /// The reduction budget ran out; the process can continue later.
    case exhausted
    /// The entry function returned this value: the process ends with reason `:normal`.
    case returned(Value)
    /// An uncaught runtime error ended the process (`raised`: the value given to `raise`, which
    /// the exit reason carries as it is).
    case failed(RuntimeError, raised: Value?)
    /// The process ends with the reason in `Process.exitReason` (`exit`, or an exit signal).
    case exited
    /// A receive found nothing: suspend until a message or signal arrives or `timeout` ms pass
    /// (nil: forever). The context is saved at the receive, which runs again on wake-up.
    case waitForMessage(timeout: Int?)
    /// `sleep`: suspend for `milliseconds`. The context is saved at the `sleep`.
    case sleep(milliseconds: Int)
    /// `io`: suspend until the IO thread completes the operation. The context is saved at the
    /// `io`, which runs again on wake-up and takes the result.
    case waitForIO(IOOperation)
    /// `callhost` of an async host function: suspend while the runtime runs it in a task. The
    /// context is saved at the `callhost`, which runs again on wake-up and takes the result.
    case waitForHost(PendingHostCall)
}

/// A runtime error before its location is known.
struct Fault: Error {
    /// The error class.
    var kind: RuntimeErrorKind
    /// Details for the report (operands, limits).
    var detail: String
    /// The value given to `raise` (the error value carries it as it is, not its printed form).
    var raised: Value?

    init(kind: RuntimeErrorKind, detail: String, raised: Value? = nil) {
        self.kind = kind
        self.detail = detail
        self.raised = raised
    }

    /// The fault for a value too deep (or cyclic) for `operation`.
    static func tooDeep(_ operation: String) -> Fault {
        Fault(kind: .tooDeep, detail: "\(operation): the value nests more than \(ValueDepth.limit) levels deep (or contains itself)")
    }

    /// The fault for a heap that cannot provide memory.
    init(_ failure: Heap.Failure) {
        switch failure {
        case .limitReached(let limit, let requested):
            self.init(kind: .heapLimit, detail: "the process needs more than its limit of \(limit * 8) bytes of heap (asked for \(requested * 8) bytes more)")
        case .outOfMemory(let words):
            self.init(kind: .outOfMemory, detail: "the system refused \(words * 8) bytes")
        case .vmLimitReached(let limit, let requested):
            self.init(kind: .memoryLimit, detail: "the processes of this VM together would pass its memory limit of \(limit * 8) bytes (this process asked for \(requested * 8) bytes more)")
        }
    }
}
