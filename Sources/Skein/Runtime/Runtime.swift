import CSkeinSupport
import Foundation
import Synchronization

/// The core of one VM: the loaded program, atoms, process table, scheduler and timeout thread,
/// and the process life cycle (spawn, send, suspend, exit). `VM` is its public face.
///
/// Two VMs share nothing: every piece of state lives in a `Runtime` instance.
final class Runtime: @unchecked Sendable {
    // Sendable: set once in `init`, or atomic, or locked (`results`, `watched`: under `completion`).
    let program: LoadedProgram
    let atoms: AtomTable
    let printer: Printer
    let output: OutputSink
    let errors: OutputSink
    let table: ProcessTable
    private(set) var scheduler: Scheduler!
    private(set) var timeouts: TimeoutService!
    private let references = Atomic<UInt64>(0)
    /// The IO thread, started on the first IO operation: created and kept under this lock...
    private let ioService = Locked<IOService?>(nil)
    /// ...and published here once created (an unretained `IOService` pointer, 0 before), so
    /// the `io` path reads it with one acquiring load instead of taking the lock per request.
    /// Sound: the pointer is stored (releasing) only after the service is fully built, and
    /// `ioService` keeps it alive until the runtime itself goes.
    private let ioServicePointer = Atomic<UInt>(0)
    /// Processes that ended with an error.
    let crashes = Atomic<Int>(0)
    /// Crash reports, with repeats of one report counted instead of printed.
    let reporter: CrashReporter
    /// Registered process names.
    let registry = Registry()
    /// The tasks of async host functions in flight, by the calling process's pid (to cancel
    /// one when its caller is killed).
    let hostCallTasks = Locked<[UInt64: Task<Void, Never>]>([:])
    /// The wake-up of each open host mailbox's receiver, by the mailbox's pid.
    let hostWaiters = Locked<[UInt64: HostWaiter]>([:])
    /// Host mailboxes open (they hold process slots but are not processes `waitForAll` waits for).
    let hostMailboxes = Atomic<Int>(0)
    /// Most live heap words per process.
    let heapLimitWords: Int
    /// Most messages waiting in one mailbox: as many of the smallest messages as fit the heap
    /// limit (a message counts against the heap when it is taken anyway).
    let mailboxLimit: Int

    /// Completion of watched processes (the main process) and of all processes.
    let completion = NSCondition()
    /// Threads waiting for every process to end. An exiting process takes the completion lock
    /// only when it is watched itself (`Process.isWatched`) or when it may be the last one and
    /// someone waits for that, so a spawn storm that ends a million processes never touches it.
    /// Sequentially consistent with `ProcessTable.live` (Dekker): a waiter registers, then reads
    /// `live`; an exiting process decrements `live`, then reads this.
    let allWaiters = Atomic<Int>(0)
    /// How watched processes ended, until their waiter takes it (under `completion`).
    var results: [UInt64: ProcessResult] = [:]
    /// Processes whose end a host thread waits for (under `completion`).
    var watched: Set<UInt64> = []
    /// Tasks awaiting a watched process's end (`result(of:)`), by pid (under `completion`).
    var resultWaiters: [UInt64: CheckedContinuation<ProcessResult, Never>] = [:]
    /// The exit status a process gave `halt` (under `completion`).
    var haltStatus: Int32?
    /// Set by `shutdown` (under `completion`): waiting host threads return.
    var isStopping = false

    /// Host functions by the constant index that names them (nil where none is called).
    let hostFunctions: [HostFunction?]
    /// What IO programs may do (`VM.Options.capabilities`).
    let capabilities: Capabilities
    /// The VM-wide memory account, with `VM.Options.maxMemoryBytes`.
    let memoryBudget: MemoryBudget?
    /// `memoryBudget`, unretained for the heaps (the runtime outlives every process), so a spawn
    /// does no reference counting for it.
    private let memoryBudgetReference: Unmanaged<MemoryBudget>?
    /// Reductions the run may still use, with `VM.Options.maxReductions` (`Int.max`: no
    /// budget). Each slice subtracts what it used; relaxed, as it orders nothing else.
    let reductionsLeft = Atomic<Int>(Int.max)
    /// Set once a run limit (deadline, reductions) has ended the run: workers stop running
    /// processes. Written under `completion` (with `limitReached`), read by workers relaxed:
    /// a worker that has not seen it yet runs at most one more slice.
    let runIsOver = Atomic<Bool>(false)
    /// The run limit that ended the run (under `completion`).
    var limitReached: RunLimit?

    init(program: LoadedProgram, atoms: AtomTable, workers: Int, runningWorkers: Int? = nil, maxProcesses: Int, heapLimitBytes: Int = Int.max,
         memoryLimitBytes: Int? = nil, reductionLimit: Int? = nil, capabilities: Capabilities = .all,
         output: OutputSink, errors: OutputSink, hostFunctions: [HostFunction?] = []) {
        self.hostFunctions = hostFunctions
        self.capabilities = capabilities
        self.memoryBudget = memoryLimitBytes.map { MemoryBudget(limitWords: $0 / 8) }
        self.memoryBudgetReference = memoryBudget.map { Unmanaged.passUnretained($0) }
        if let reductionLimit { reductionsLeft.store(reductionLimit, ordering: .relaxed) }
        let heapLimitWords = max(heapLimitBytes / 8, 1024)
        self.heapLimitWords = heapLimitWords
        self.mailboxLimit = heapLimitWords / NodeCache.smallNodeWords
        self.reporter = CrashReporter(errors)
        self.program = program
        self.atoms = atoms
        self.printer = Printer(atoms: atoms, program: program)
        self.output = output
        self.errors = errors
        self.table = ProcessTable(capacity: maxProcesses, cachingWorkers: workers)
        self.scheduler = Scheduler(workers: workers, running: runningWorkers ?? ProcessInfo.processInfo.activeProcessorCount, runtime: self)
        self.timeouts = TimeoutService(wakeProcess: { [unowned self] process, state in self.wake(process, from: state, timedOut: true, worker: nil) },
                                       endRun: { [unowned self] in self.endRun(.deadline) })
        scheduler.start()
    }

    /// Stops the workers and the timeout thread, then frees every process. Host threads waiting
    /// for a process or in a host mailbox's `receive` return first.
    func shutdown() {
        let waiters = completion.withLock { () -> [CheckedContinuation<ProcessResult, Never>] in
            isStopping = true
            completion.broadcast()
            return takeResultWaiters()
        }
        for waiter in waiters { waiter.resume(returning: .stopped) }
        hostWaiters.withLock { waiters in waiters.values.forEach { $0.signal() } }
        scheduler.stop()
        timeouts.stop()
        ioService.withLock { $0?.stop() }
        table.forEachProcess { p in
            p.releaseContext()
            // A host mailbox belongs to its host thread, which may still be leaving `receive`:
            // its `HostMailbox` (or the process object's deinit) frees what is queued there.
            if !p.isHostMailbox.load(ordering: .relaxed) { p.mailbox.drain() }
        }
    }

    /// The IO thread, started on first use.
    var io: IOService {
        let published = ioServicePointer.load(ordering: .acquiring)
        if published != 0 { return Unmanaged<IOService>.fromOpaque(UnsafeRawPointer(bitPattern: published)!).takeUnretainedValue() }
        return startIO()
    }

    /// Creates the IO service (once, under the lock) and publishes it.
    @inline(never)
    private func startIO() -> IOService {
        ioService.withLock { service in
            if let service { return service }
            let created = IOService(atoms: atoms, finish: { [unowned self] request, result in self.finishIO(request, result) },
                                    inject: { [unowned self] batch in self.scheduler.inject(batch) })
            service = created
            ioServicePointer.store(UInt(bitPattern: Unmanaged.passUnretained(created).toOpaque()), ordering: .releasing)
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
    ///
    /// Who touches what: the IO thread is the only waker of a process suspended for IO (its
    /// `sleeping` state is not interruptible, so senders leave it alone), so it writes
    /// `ioResult` while no runner can read it; the wake CAS (sequentially consistent) then
    /// publishes it to whichever worker dequeues the process. No lock is needed.
    private func finishIO(_ request: IORequest, _ result: MessageNode) -> Bool {
        guard let unmanaged = request.process else {
            result.free()
            return false
        }
        return unmanaged._withUnsafeGuaranteedRef { process in
            assert(process.ioResult?.raw == nil, "an IO result nobody took")
            process.ioResult = result
            if process.state.wake(from: request.state, timedOut: false) { return true }
            // Not reachable while the IO thread is the only waker; never leak or leave it.
            process.ioResult = nil
            result.free()
            return false
        }
    }

    /// A fresh unique reference number.
    func makeReference() -> UInt64 { references.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Suspends `process` while an async host function runs in a task of its own; the task
    /// hands over the result and wakes the process through the same CAS as messages, timeouts
    /// and IO, so it is resumed exactly once. The runtime is held by the task until it ends, so
    /// the process object outlives a shutdown that comes meanwhile (the wake-up then finds a
    /// stopped scheduler and is dropped with it).
    private func callHostAsync(_ pending: PendingHostCall, for process: Process, worker: Worker) {
        let pid = process.pid
        process.sleepReason.store(SleepReason.hostCall.rawValue, ordering: .relaxed)
        let suspended = process.state.suspend(.sleeping)
        // Dekker with `push`: a signal pushed before our suspension was published was not seen
        // by its sender. The function has not started, so take the process back: it acts on
        // the signal at its next slice and, if it lives, makes the call again.
        if process.pendingSignals.load(ordering: .sequentiallyConsistent) > 0,
           process.state.wake(from: suspended, timedOut: false) {
            worker.pushBack(process)
            return
        }
        // Registered under the lock the task takes to deregister, so it cannot finish first.
        hostCallTasks.withLock { tasks in tasks[pid] = Task.detached { [self, process] in
            let result: HostCallResult
            do { result = .returned(try await pending.body(pending.call, pending.arguments)) } catch {
                result = .failed("\(error)")
            }
            hostCallTasks.withLock { _ = $0.removeValue(forKey: pid) }
            // Win the wake first: until it is scheduled the process is ours alone, so the result
            // is handed to this incarnation and no other. A kill that won instead (see
            // `interruptHostCall`) has moved it on, and the result is dropped.
            guard process.state.wake(from: suspended, timedOut: false) else { return }
            process.hostCallResult = result
            self.scheduler.inject(process)
        } }
    }

    /// A lethal signal reached a process waiting in an async host function: wakes it at once
    /// (it acts on the signal as its slice starts) and cancels the function's task, which may
    /// notice (`Task.isCancelled`) and return early; whatever it returns is dropped.
    @inline(never)
    private func interruptHostCall(_ process: Process, state: ProcessState, from worker: Worker?) {
        guard process.state.wake(from: state, timedOut: false) else { return }
        hostCallTasks.withLock { $0.removeValue(forKey: process.pid) }?.cancel()
        scheduleWoken(process, from: worker)
    }

    /// Takes `used` reductions from the run's budget; the slice that empties it ends the run.
    @inline(never)
    private func chargeReductions(_ used: Int) {
        if reductionsLeft.wrappingSubtract(used, ordering: .relaxed).newValue <= 0 { endRun(.reductions) }
    }

    /// Ends the run because of `limit`: workers stop running processes and whoever waits for
    /// the run learns why (the first limit wins). `VM` then shuts the VM down.
    func endRun(_ limit: RunLimit) {
        let waiters = completion.withLock { () -> [CheckedContinuation<ProcessResult, Never>] in
            guard limitReached == nil, !isStopping else { return [] }
            limitReached = limit
            runIsOver.store(true, ordering: .relaxed)
            completion.broadcast()
            return takeResultWaiters()
        }
        for waiter in waiters { waiter.resume(returning: .limitReached(limit)) }
    }

    // MARK: Spawning

    /// Starts a process running `function(arguments…)`; arguments are copied into its heap.
    /// With `parent` and `options`, the link or monitor exists before the child can run, so
    /// there is no moment in which it could end unnoticed.
    func spawn(function: Int, arguments: UnsafeBufferPointer<UInt64>, from worker: Worker?, parent: Process? = nil,
               options: SpawnOptions = SpawnOptions(), watch: Bool = false) throws(Fault) -> SpawnResult {
        var words = 0
        do {
            for a in arguments { words += try ValueCopy.words(Value(raw: a)) }
        } catch {
            throw error == .tooDeep ? .tooDeep("spawn arguments") : Fault(kind: .badArgument, detail: "the spawn arguments are too large to copy")
        }
        guard words <= heapLimitWords else {
            throw Fault(kind: .heapLimit, detail: "the spawn arguments (\(words * 8) bytes) exceed the heap limit of a process (\(heapLimitWords * 8) bytes)")
        }
        guard let (process, pid) = table.allocate(cache: worker?.slotCache) else {
            throw Fault(kind: .systemLimit, detail: "the process limit (\(table.capacity)) is reached")
        }
        process.startContext { memory, reusingSpare in
            memory.startContext(program: program, function: function, arguments: UnsafeBufferPointer(start: nil, count: 0),
                                heapLimitWords: heapLimitWords, budget: memoryBudgetReference, reusingSpare: reusingSpare)
        }
        let context = process.context!
        if words > 0 {
            // One region for all the copies (a fresh heap has no roots to trace).
            do { try context.pointee.heap.collect(reserving: words) { _ in } } catch {
                process.retireContext()
                table.abandon(process, cache: worker?.slotCache)
                throw Fault(error)
            }
            var free = context.pointee.heap.tryAllocate(words: words)!
            for (i, a) in arguments.enumerated() { context.pointee.stack[i] = ValueCopy.copy(Value(raw: a), to: &free).raw }
        } else {
            for (i, a) in arguments.enumerated() { context.pointee.stack[i] = a }  // immediates only
        }
        process.armedTimeout = false
        process.timedOut = false
        process.reductions = 0
        process.resetLinks()
        var monitor: UInt64?
        if let parent {
            if options.link {
                process.links.insert(parent.pid)
                parent.links.insert(pid)
            }
            if options.monitor {
                let ref = makeReference()
                process.watchers[ref] = parent.pid
                parent.monitors[ref] = pid
                monitor = ref
            }
        }
        process.state.markStarted()
        process.isWatched = watch
        if watch { completion.withLock { _ = watched.insert(pid) } }
        table.publish(process)
        worker?.stats.spawned.increment()
        if let worker { worker.pushBack(process) } else { scheduler.inject(process) }
        return SpawnResult(pid: pid, monitor: monitor)
    }

    // MARK: Messages and signals

    /// Sends a copy of `value` to `target`, a pid or a registered name. Sending to a process
    /// that has exited is not an error (as in Erlang); sending to a name nobody has is.
    func send(to target: Value, _ value: Value, from worker: Worker?) throws(Fault) {
        let pid: UInt64
        if target.isPid {
            pid = target.immediatePayload
        } else if target.isAtom {
            guard let registered = registry.whereis(Int(target.immediatePayload)) else {
                throw Fault(kind: .badArgument, detail: "send to \(printer.text(target)): no process is registered under that name")
            }
            pid = registered
        } else {
            throw Fault(kind: .typeMismatch, detail: "send needs a pid or a registered name, got \(printer.text(target, quoted: true, limit: Printer.reportBytes))")
        }
        let node: MessageNode
        do { node = try MessageNode.make(copying: value, cache: worker?.nodeCache) } catch {
            throw error == .tooDeep ? .tooDeep("send") : Fault(kind: .badArgument, detail: "the message is too large to copy")
        }
        deliver(node, to: pid, from: worker)
    }

    /// Pushes a message node into `pid`'s mailbox and wakes it if it waits; frees the node if
    /// the process is gone.
    func deliver(_ node: MessageNode, to pid: UInt64, from worker: Worker?) {
        worker?.stats.messagesSent.increment()
        let pushed: Void? = table.withMessageTarget(pid) { p in
            // From the push on, the node is the receiver's (or, if `p` has just ended, its slot's).
            let queued = p.mailbox.push(node, to: pid)
            if queued > mailboxLimit { floodKill(pid, from: worker) }
            let s = p.state.load()
            if s.status == .waiting { _ = wake(p, from: s, timedOut: false, worker: worker) }
        }
        if pushed == nil { node.free(cache: worker?.nodeCache) }
    }

    /// Pushes the signal `node` into the live process `pid`'s mailbox and wakes it if it waits
    /// in a receive, or sleeps and the signal bears on its sleep. False when the process is
    /// gone (the node is then not consumed).
    @inline(__always)
    func push(signal node: MessageNode, to pid: UInt64, from worker: Worker?) -> Bool {
        table.withLiveProcess(pid) { p in
            // Read before the push: from then on the receiver may take and free the node.
            let ioInterrupt = Runtime.ioInterrupt(for: node)
            let queued = p.mailbox.push(node, to: pid)
            p.pendingSignals.wrappingAdd(1, ordering: .sequentiallyConsistent)
            // (A kill needs no other: it is what a flood brings.)
            if queued > mailboxLimit, ioInterrupt != .lethal { floodKill(pid, from: worker) }
            let s = p.state.load()
            let sleepReason = s.status == .sleeping ? SleepReason(rawValue: p.sleepReason.load(ordering: .relaxed)) : nil
            let wakes = s.status == .waiting || sleepReason == .timer
            if wakes, wake(p, from: s, timedOut: false, worker: worker) {
                // Woken and scheduled.
            } else if let ioInterrupt, sleepReason == .io {
                interruptIO(pid, state: s, lethal: ioInterrupt == .lethal)
            } else if ioInterrupt == .lethal, sleepReason == .hostCall {
                interruptHostCall(p, state: s, from: worker)
            }
            return true
        } ?? false
    }

    /// A process waiting in IO got `signal`: if it is an exit signal, the IO thread cancels the
    /// request (see `IOService.interrupt`; the IO thread stays the only waker of a process
    /// suspended for IO). A kill (`Signal.kill`, `exit pid, :kill`, or a flooded mailbox) is
    /// lethal, so any request may be cancelled; another exit signal may be trapped or ignored,
    /// so only requests the process can make again are.
    @inline(never)
    private func interruptIO(_ pid: UInt64, state: ProcessState, lethal: Bool) {
        io.submit(IORequest(operation: .interrupt(state: state, lethal: lethal), process: nil, owner: pid, state: state))
    }

    /// How a signal bears on a process waiting in IO.
    enum IOInterrupt { case restartable, lethal }

    /// Whether the signal in `node` interrupts IO: exit signals do (a kill lethally), the others
    /// (link, monitor, DOWN) wait until the request is answered.
    @inline(__always)
    static func ioInterrupt(for node: MessageNode) -> IOInterrupt? {
        switch Signal.Kind(rawValue: node.kind) {
        case .kill?: return .lethal
        case .exit?:
            let value = node.value
            let killing = value.heapKind == .tuple && value.tupleCount == 2 && value.tupleElements[1] == Value.known(.kill).raw
            return killing ? .lethal : .restartable
        case .linkedExit?: return .restartable
        default: return nil
        }
    }

    /// Ends a process whose mailbox passed `mailboxLimit`: a flooded process dies with
    /// `{:error, :mailbox_limit, …}` before its queue exhausts the machine, and its links and
    /// monitors see why. Every push past the limit sends one such kill until the process has
    /// taken the first: a kill (unlike a flag set once) cannot be lost to a push that crossed
    /// the limit of a later process in the slot (`ProcessTable.withMessageTarget`), and the first
    /// one taken ends the process.
    @inline(never)
    private func floodKill(_ pid: UInt64, from worker: Worker?) {
        let reason: Term = .tuple([.atom("error"), .atom("mailbox_limit"),
                                   .string("more than \(mailboxLimit) messages waiting"), .nil, .nil])
        let carrier = reason.messageNode(atoms: atoms)
        signal(.kill(reason: carrier.value), to: pid, worker: worker)
        carrier.free()
    }

    /// Sends a signal from `sender` (the running process) to `pid`. A link or monitor to a
    /// process that is gone is answered at once, as BEAM does: an exit signal `:noproc` from
    /// it, or `{:DOWN, ref, pid, :noproc}`.
    func signal(_ signal: Signal, to pid: UInt64, from sender: Process, worker: Worker?) {
        let node = signal.node(atoms: atoms, cache: worker?.nodeCache)
        if push(signal: node, to: pid, from: worker) { return }
        node.free(cache: worker?.nodeCache)
        switch signal {
        case .link:
            let reply = Signal.exit(from: pid, reason: Value.known(.noproc), linked: true).node(atoms: atoms, cache: worker?.nodeCache)
            sender.mailbox.push(reply, to: sender.pid)
            sender.pendingSignals.wrappingAdd(1, ordering: .relaxed)
        case .monitor(_, let ref):
            sender.monitors[ref] = nil
            sender.mailbox.push(down(ref: ref, pid: pid, reason: Value.known(.noproc), cache: worker?.nodeCache), to: sender.pid)
        default:
            break  // unlink, demonitor, exit: nothing to undo for a process that is gone
        }
    }

    /// Pushes a signal that no running process sends (from the runtime ending `pid`'s peer).
    func signal(_ signal: Signal, to pid: UInt64, worker: Worker?) {
        let node = signal.node(atoms: atoms, cache: worker?.nodeCache)
        if !push(signal: node, to: pid, from: worker) { node.free(cache: worker?.nodeCache) }
    }

    /// The message `{:DOWN, ref, pid, reason}`.
    func down(ref: UInt64, pid: UInt64, reason: Value, cache: NodeCache?) -> MessageNode {
        // Every reason lives in a node already, so it is known to be copyable.
        try! MessageNode.make(tupleOf: 4, cache: cache) {
            $0[0] = Value.known(.DOWN).raw; $0[1] = Value.ref(ref).raw; $0[2] = Value.pid(pid).raw; $0[3] = reason.raw
        }
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
        process.sleepReason.store(SleepReason.none.rawValue, ordering: .relaxed)
        // A run ended by a limit runs nothing more; shutdown frees what is left.
        if runIsOver.load(ordering: .relaxed) { return }
        // Signals first: an exit signal stops a busy process within one slice.
        if process.pendingSignals.load(ordering: .relaxed) > 0,
           !process.mailbox.pull({ handleSignal($0, in: process, worker: worker) }) {
            finish(process, worker: worker)
            return
        }
        while true {
            var interpreter = Interpreter(host: WorkerHost(runtime: self, worker: worker, process: process),
                                          program: program, process: process, ctx: process.context!)
            let before = budget
            let outcome = interpreter.run(budget: &budget)
            process.reductions += before - budget
            if reductionsLeft.load(ordering: .relaxed) != Int.max { chargeReductions(before - budget) }
            switch outcome {
            case .exhausted:
                worker.pushBack(process, notify: worker.queue.count > 0)
                return
            case .returned(let value):
                finish(process, worker: worker, returned: value)  // no exitReason: :normal
                return
            case .failed(var error, let raised):
                error.pid = .pid(process.pid)
                reporter.report(error, pid: process.pid)
                crashes.wrappingAdd(1, ordering: .relaxed)
                process.exitReason = interpreter.errorValue(error, raised: raised).messageNode(atoms: atoms)
                finish(process, worker: worker, error: error)
                return
            case .exited:
                finish(process, worker: worker)
                return
            case .waitForMessage(let timeout):
                if timeout != nil { process.armedTimeout = true }
                let suspended = process.state.suspend(.waiting)
                // Dekker with `push`: a message pushed before our store is seen here.
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
                let service = io
                process.sleepReason.store(SleepReason.io.rawValue, ordering: .relaxed)
                let suspended = process.state.suspend(.sleeping)
                service.submit(IORequest(operation: operation, process: .passUnretained(process), owner: owner, state: suspended))
                // Dekker with `push`: a signal pushed before our suspension was published was
                // not seen as one to an IO waiter by its sender; interrupt ourselves for it.
                if process.pendingSignals.load(ordering: .sequentiallyConsistent) > 0 {
                    service.submit(IORequest(operation: .interrupt(state: suspended, lethal: false), process: nil,
                                             owner: owner, state: suspended))
                }
                return
            case .waitForHost(let pending):
                callHostAsync(pending, for: process, worker: worker)
                return
            case .sleep(let milliseconds):
                process.armedTimeout = true
                process.sleepReason.store(SleepReason.timer.rawValue, ordering: .relaxed)
                let suspended = process.state.suspend(.sleeping)
                // Dekker with `push`, as for receive: a signal pushed before our store is seen.
                if process.pendingSignals.load(ordering: .sequentiallyConsistent) > 0,
                   process.state.wake(from: suspended, timedOut: false) {
                    process.armedTimeout = false
                    worker.pushBack(process)
                    return
                }
                timeouts.arm(process, state: suspended, milliseconds: milliseconds)
                return
            }
        }
    }
}
