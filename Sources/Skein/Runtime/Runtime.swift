import CSkeinSupport
import Foundation
import Synchronization

/// The core of one VM: the loaded program, atoms, process table, scheduler and timeout thread,
/// and the process life cycle (spawn, send, suspend, exit). `VM` is its public face.
///
/// Two VMs share nothing: every piece of state lives in a `Runtime` instance.
final class Runtime: @unchecked Sendable {
    let program: LoadedProgram
    let atoms: AtomTable
    let printer: Printer
    let output: OutputSink
    let errors: OutputSink
    let table: ProcessTable
    private(set) var scheduler: Scheduler!
    private(set) var timeouts: TimeoutService!
    private let references = Atomic<UInt64>(0)
    /// Messages sent from outside the workers (host).
    let hostMessages = Atomic<Int>(0)
    /// The IO thread, started on the first IO operation.
    private let ioService = Locked<IOService?>(nil)
    /// Processes that ended with an error.
    let crashes = Atomic<Int>(0)

    /// Completion of watched processes (the main process) and of all processes.
    private let completion = NSCondition()
    /// Watched processes plus threads waiting for every process to end. While it is 0, an
    /// exiting process skips the completion lock (a spawn storm ends a million processes).
    /// Sequentially consistent with `ProcessTable.live` (Dekker): a waiter registers, then reads
    /// `live`; an exiting process decrements `live`, then reads this.
    private let completionInterest = Atomic<Int>(0)
    private var results: [UInt64: Result<Void, RuntimeError>] = [:]
    private var watched: Set<UInt64> = []

    /// Host functions by the constant index that names them (nil where none is called).
    let hostFunctions: [HostFunction?]

    init(program: LoadedProgram, atoms: AtomTable, workers: Int, maxProcesses: Int, output: OutputSink, errors: OutputSink,
         hostFunctions: [HostFunction?] = []) {
        self.hostFunctions = hostFunctions
        self.program = program
        self.atoms = atoms
        self.printer = Printer(atoms: atoms, program: program)
        self.output = output
        self.errors = errors
        self.table = ProcessTable(capacity: maxProcesses)
        self.scheduler = Scheduler(workers: workers, runtime: self)
        self.timeouts = TimeoutService { [unowned self] process in self.scheduler.inject(process) }
        scheduler.start()
    }

    /// Stops the workers and the timeout thread, then frees every process.
    func shutdown() {
        scheduler.stop()
        timeouts.stop()
        ioService.withLock { $0?.stop() }
        table.forEachProcess { p in
            if let context = p.context {
                context.pointee.release()
                context.deallocate()
                p.context = nil
            }
            p.mailbox.drain()
        }
    }

    /// The IO thread, started on first use.
    var io: IOService {
        ioService.withLock { service in
            if let service { return service }
            let created = IOService(finish: { [unowned self] request, result in self.finishIO(request, result) },
                                    inject: { [unowned self] batch in self.scheduler.inject(batch) })
            service = created
            return created
        }
    }

    /// IO statistics, if the IO thread ever started.
    var ioStatistics: (operations: Int, bytesRead: Int, bytesWritten: Int, openHandles: Int)? {
        ioService.withLock { s in
            s.map { ($0.operations.load(ordering: .relaxed), $0.bytesRead.load(ordering: .relaxed),
                     $0.bytesWritten.load(ordering: .relaxed), $0.openHandles.load(ordering: .relaxed)) }
        }
    }

    /// On the IO thread: hand the result to the waiting process and make it runnable (exactly
    /// once, through the same CAS as messages and timeouts). The IO service queues the winners
    /// in a batch at the end of its loop iteration.
    private func finishIO(_ request: IORequest, _ result: Term) -> Bool {
        guard let unmanaged = request.process else { return false }
        return unmanaged._withUnsafeGuaranteedRef { process in
            process.ioResult = result
            return process.state.wake(from: request.state, timedOut: false)
        }
    }

    /// A fresh unique reference number.
    func makeReference() -> UInt64 { references.add(1, ordering: .relaxed).newValue }

    // MARK: Spawning

    /// Starts a process running `function(arguments…)`; arguments are copied into its heap.
    func spawn(function: Int, arguments: UnsafeBufferPointer<UInt64>, from worker: Worker?, watch: Bool = false) throws(Fault) -> UInt64 {
        var words = 0
        do {
            for a in arguments { words += try ValueCopy.words(Value(raw: a)) }
        } catch {
            throw Fault(kind: .badArgument, detail: "a spawn argument is nested too deeply (or cyclic) to copy")
        }
        guard let (process, pid) = table.allocate() else {
            throw Fault(kind: .badArgument, detail: "the process limit (\(table.capacity)) is reached")
        }
        let context = UnsafeMutablePointer<ExecutionContext>.allocate(capacity: 1)
        context.initialize(to: ExecutionContext(program: program, function: function, arguments: UnsafeBufferPointer(start: nil, count: 0)))
        // One region for all the copies (a fresh heap has no roots to trace).
        var free = UnsafeMutablePointer<UInt64>(bitPattern: 8)!
        if words > 0 {
            context.pointee.heap.collect(reserving: words) { _ in }
            free = context.pointee.heap.tryAllocate(words: words)!
        }
        for (i, a) in arguments.enumerated() {
            context.pointee.stack[i] = ValueCopy.copy(Value(raw: a), to: &free).raw  // immediates pass through
        }
        process.context = context
        process.armedTimeout = false
        process.timedOut = false
        process.reductions = 0
        process.state.markStarted()
        if watch {
            completionInterest.add(1, ordering: .sequentiallyConsistent)
            completion.withLock { watched.insert(pid) }
        }
        table.publish(process)
        worker?.stats.spawned.increment()
        if let worker { worker.pushBack(process) } else { scheduler.inject(process) }
        return pid
    }

    // MARK: Messages

    /// Sends a copy of `value` to `target`. Sending to a process that has exited is not an error.
    func send(to target: Value, _ value: Value, from worker: Worker?) throws(Fault) {
        guard target.isPid else {
            throw Fault(kind: .typeMismatch, detail: "send needs a pid, got \(printer.text(target, quoted: true))")
        }
        let node: MessageNode
        do { node = try MessageNode.make(copying: value, cache: worker?.nodeCache) } catch {
            throw Fault(kind: .badArgument, detail: "the message is nested too deeply (or cyclic) to copy")
        }
        deliver(node, to: target.immediatePayload, from: worker)
    }

    /// Pushes a message node into `pid`'s mailbox and wakes it if it waits; frees the node if
    /// the process is gone.
    func deliver(_ node: MessageNode, to pid: UInt64, from worker: Worker?) {
        if let worker { worker.stats.messagesSent.increment() } else { hostMessages.add(1, ordering: .relaxed) }
        let delivered = table.withLiveProcess(pid) { p in
            p.mailbox.push(node)
            let s = p.state.load()
            if s.status == .waiting, p.state.wake(from: s, timedOut: false) {
                if let worker { worker.pushNext(p) } else { scheduler.inject(p) }
            }
            return true
        }
        if delivered == nil { node.free(cache: worker?.nodeCache) }
    }

    // MARK: Running

    /// Runs one slice of `process` on `worker` and acts on how it ended.
    func runSlice(_ process: Process, worker: Worker, budget: inout Int) {
        if process.armedTimeout {
            process.armedTimeout = false
            if process.state.load().timedOut {
                process.timedOut = true
                process.state.clearTimedOut()
            } else {
                timeouts.noteStale()
            }
        }
        while true {
            var interpreter = Interpreter(runtime: self, program: program, process: process, worker: worker, ctx: process.context!)
            let before = budget
            let outcome = interpreter.run(budget: &budget)
            process.reductions += before - budget
            switch outcome {
            case .exhausted:
                worker.pushBack(process, notify: worker.queue.count > 0)
                return
            case .returned:
                finish(process, result: .success(()))
                return
            case .failed(let error):
                errors.write("error in process <0.\(process.pid)>: \(error)\n")
                crashes.add(1, ordering: .relaxed)
                finish(process, result: .failure(error))
                return
            case .waitForMessage(let timeout):
                if timeout != nil { process.armedTimeout = true }
                let suspended = process.state.suspend(.waiting)
                // Dekker with `deliver`: a message pushed before our store is seen here.
                if process.mailbox.messageCount > 0 {
                    guard process.state.wake(from: suspended, timedOut: false) else { return }  // a sender won: it queued us
                    process.armedTimeout = false
                    if budget > 0 { continue }
                    worker.pushBack(process)
                    return
                }
                if let timeout { timeouts.arm(process, state: suspended, milliseconds: timeout) }
                return
            case .waitForIO(let operation):
                let owner = process.pid
                let suspended = process.state.suspend(.sleeping)
                io.submit(IORequest(operation: operation, process: .passUnretained(process), owner: owner, state: suspended))
                return
            case .sleep(let milliseconds):
                process.armedTimeout = true
                let suspended = process.state.suspend(.sleeping)
                timeouts.arm(process, state: suspended, milliseconds: milliseconds)
                return
            }
        }
    }

    /// Ends a process: frees its memory, drops its messages, retires its pid.
    private func finish(_ process: Process, result: Result<Void, RuntimeError>) {
        let pid = process.pid
        if process.usedIO {
            process.usedIO = false
            io.submit(IORequest(operation: .closeAllOwned(by: pid), process: nil, owner: pid, state: ProcessState(raw: 0)))
        }
        process.ioResult = nil
        process.state.markExited()
        process.context!.pointee.release()
        process.context!.deallocate()
        process.context = nil
        process.mailbox.drain()
        table.release(process)
        guard completionInterest.load(ordering: .sequentiallyConsistent) > 0 else { return }
        completion.withLock {
            if watched.remove(pid) != nil {
                results[pid] = result
                completionInterest.subtract(1, ordering: .sequentiallyConsistent)
            }
            completion.broadcast()
        }
    }

    /// Blocks until `pid` (spawned with `watch: true`) ends.
    func waitFor(_ pid: UInt64) -> Result<Void, RuntimeError> {
        completion.withLock {
            while results[pid] == nil { completion.wait() }
            return results.removeValue(forKey: pid)!
        }
    }

    /// Blocks until no process is alive.
    func waitForAll() {
        completionInterest.add(1, ordering: .sequentiallyConsistent)
        defer { completionInterest.subtract(1, ordering: .sequentiallyConsistent) }
        completion.withLock {
            while table.live.load(ordering: .sequentiallyConsistent) > 0 { completion.wait() }
        }
    }
}
