/// The runtime's side of the seam: what a slice running on a worker gets when it asks for
/// something outside its process.
///
/// A plain struct of unretained references, built per slice: the runtime, the worker and the
/// process are alive for the whole slice (the worker owns the process while running it), so
/// nothing here touches a reference count.
struct WorkerHost: SliceHost {
    let runtimeRef: Unmanaged<Runtime>
    /// The worker running the slice (nil only in tests that run a slice directly).
    let workerRef: Unmanaged<Worker>?
    let processRef: Unmanaged<Process>

    init(runtime: Runtime, worker: Worker?, process: Process) {
        runtimeRef = .passUnretained(runtime)
        workerRef = worker.map { .passUnretained($0) }
        processRef = .passUnretained(process)
    }

    @inline(__always) private var runtime: Runtime { runtimeRef.takeUnretainedValue() }
    @inline(__always) private var cache: NodeCache? { workerRef?._withUnsafeGuaranteedRef { $0.nodeCache } }

    /// Runs `body` with the runtime, worker and process borrowed (no retain or release).
    @inline(__always)
    private func borrow<R>(_ body: (Runtime, Worker?, Process) -> R) -> R {
        runtimeRef._withUnsafeGuaranteedRef { rt in
            workerRef.withGuaranteed { worker in processRef._withUnsafeGuaranteedRef { process in body(rt, worker, process) } }
        }
    }

    var atoms: AtomTable { runtime.atoms }
    var printer: Printer { runtime.printer }
    var heapLimitWords: Int { runtime.heapLimitWords }
    var capabilities: Capabilities { runtime.capabilities }

    func writeOutput(_ text: String) { runtime.output.write(text) }

    func spawn(_ function: Int, arguments: UnsafeBufferPointer<UInt64>, options: SpawnOptions) throws(Fault) -> SpawnResult {
        try borrow { rt, worker, parent in
            Result { () throws(Fault) in
                try rt.spawn(function: function, arguments: arguments, from: worker, parent: parent, options: options)
            }
        }.get()
    }

    @inline(__always)
    func send(_ message: Value, to target: Value) throws(Fault) {
        try borrow { rt, worker, _ in Result { () throws(Fault) in try rt.send(to: target, message, from: worker) } }.get()
    }

    func signal(_ signal: Signal, to pid: UInt64) {
        borrow { rt, worker, sender in rt.signal(signal, to: pid, from: sender, worker: worker) }
    }

    func makeReference() -> UInt64 { runtime.makeReference() }

    func halt(status: Value) throws(Fault) {
        guard status.isSmallInt, (0...255).contains(status.smallIntValue) else {
            throw Fault(kind: .badArgument, detail: "halt needs an exit status from 0 to 255, got \(runtime.printer.text(status, quoted: true, limit: Printer.reportBytes))")
        }
        runtime.halt(status: Int32(status.smallIntValue))
    }

    func hostFunction(_ index: Int) -> HostFunction? { runtime.hostFunctions[index] }

    func willBlock() { workerRef?._withUnsafeGuaranteedRef { $0.willBlock() } }

    func didUnblock() { workerRef?._withUnsafeGuaranteedRef { $0.didUnblock() } }

    @inline(__always) func recycle(_ node: MessageNode) { node.free(cache: cache) }

    @inline(__always) func countReceived() {
        workerRef?._withUnsafeGuaranteedRef { $0.stats.messagesReceived.increment() }
    }

    func handleSignal(_ node: MessageNode) -> Mailbox.SignalOutcome {
        borrow { rt, worker, process in rt.handleSignal(node, in: process, worker: worker) }
    }

    func register(_ name: Int, _ pid: UInt64) -> Registration { runtime.registry.register(name, pid, table: runtime.table) }
    func unregister(_ name: Int) -> Bool { runtime.registry.unregister(name) }
    func whereis(_ name: Int) -> UInt64? { runtime.registry.whereis(name) }
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
