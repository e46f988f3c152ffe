import CSkeinSupport
import Foundation
import Synchronization

/// A Skein virtual machine: the embedding API.
///
/// ```swift
/// let module = try Assembler.assemble(source, file: "prog.ska")
/// let vm = try VM(module: module, options: .init(workers: 2))
/// let status = vm.runMain()
/// vm.shutdown()
/// ```
/// A VM owns its workers, timeout thread, processes and atoms; several VMs in one host process
/// do not interfere.
public final class VM: @unchecked Sendable {
    // Sendable: `runtime` takes calls from any thread; the one mutable flag, `stopped`, is atomic.
    /// The version of this Skein library.
    public static let version = "0.3.0"

    /// How a VM is set up.
    public struct Options: Sendable {
        /// Worker threads (default: one per core).
        public var workers: Int
        /// Most workers running processes at once (nil: one per core). Workers beyond it stand
        /// by, and run only while others are blocked in blocking host functions: more workers
        /// than cores busy at once made message-passing programs slower, not faster.
        public var runningWorkers: Int?
        /// Most processes alive at once (host mailboxes included), at most 4,194,304 less a
        /// few hundred slots per worker that the workers' free-slot caches may hold.
        public var maxProcesses: Int
        /// Where `print` writes.
        public var output: OutputSink
        /// Where crash reports go.
        public var errors: OutputSink
        /// Host functions that programs may call with `callhost`, by name.
        public var hostFunctions: [String: HostFunction] = [:]
        /// Most heap one process may hold live, in bytes (BEAM's `max_heap_size`). A process
        /// that needs more ends with a `heap_limit` error that its links and monitors see.
        /// The default, 1 GiB, stops a runaway process long before it exhausts the machine.
        public var maxHeapBytes: Int

        /// Most heap memory all processes of the VM may hold together, in bytes (nil: no
        /// limit beyond each process's `maxHeapBytes`). A process whose growth would pass it
        /// ends with a `memory_limit` error; the others and the host go on.
        public var maxMemoryBytes: Int?
        /// Most reductions (function calls and loop iterations, roughly instructions) the
        /// processes may run together (nil: no budget). When they are used up the run ends:
        /// `runMain` returns `.limitReached(.reductions)` and the VM is shut down.
        public var maxReductions: Int?
        /// Longest wall-clock time a run (`runMain`, `run`) may take, from its start (nil: no
        /// deadline). When it passes the run ends with `.limitReached(.deadline)` and the VM is
        /// shut down.
        public var deadline: Duration?

        /// What IO programs may do: files (none, read-only under directories, all), the
        /// network (connect, listen) and stdin. A refused operation is the process's error
        /// value `{:error, :EACCES, reason}`. The default allows everything.
        public var capabilities: Capabilities = .all

        /// The default `maxHeapBytes`: 1 GiB.
        public static let defaultMaxHeapBytes = 1 << 30

        public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                    maxProcesses: Int = 1 << 22, maxHeapBytes: Int = Options.defaultMaxHeapBytes,
                    output: OutputSink = .standardOutput(), errors: OutputSink = .standardError()) {
            self.workers = max(1, workers)
            self.maxProcesses = min(max(1, maxProcesses), 1 << 22)
            self.maxHeapBytes = max(maxHeapBytes, 8 << 10)
            self.output = output
            self.errors = errors
        }
    }

    /// How the main process ended.
    public enum ExitStatus: Sendable, Equatable {
        /// `main` returned this value (or ended with `exit :normal`, given as `:normal`). A
        /// value nested deeper than a host term may be (see `Term`) is given as `:too_deep`.
        case returned(Term)
        /// `main` stopped with a runtime error: its kind, place and stack trace.
        case failed(RuntimeError)
        /// `main` ended with a reason other than `:normal` (`exit`, or an exit signal from a
        /// linked process).
        case exited(reason: Term)
        /// A process ended the run with `halt status` (other processes are stopped by
        /// `shutdown`).
        case halted(Int32)
        /// `shutdown()` was called (from another thread) before main ended.
        case stopped
        /// A run limit (`Options.deadline`, `Options.maxReductions`) ended the run; the VM has
        /// been shut down.
        case limitReached(RunLimit)

        /// The exit status a command-line runner gives this ending, as `vm run` does: an
        /// integer result from 0 to 255 is the status; `:normal`, `:ok` and `nil` are 0;
        /// `halt` gives its own status; anything else is 1 (runtime errors, exits with another
        /// reason, other results, and a stop before main ended).
        public var commandStatus: Int32 {
            switch self {
            case .returned(.int(let n)) where (0...255).contains(n): Int32(n)
            case .returned(.atom("normal")), .returned(.atom("ok")), .returned(.nil): 0
            case .halted(let status): status
            case .returned, .failed, .exited, .stopped, .limitReached: 1
            }
        }
    }

    private let runtime: Runtime
    /// `Options.deadline`.
    private let deadline: Duration?
    /// Set once by `shutdown` (an atomic: any thread may shut a VM down or ask if it has).
    private let stopped = Atomic<Bool>(false)

    /// The runtime, for the embedding API's other files.
    var core: Runtime { runtime }
    /// Whether `shutdown` has run.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Loads (verifies and links) `module` and starts the workers. The standard library
    /// modules it imports are linked with it (`VM(program:)`).
    public convenience init(module: Module, options: Options = Options()) throws(LoadError) {
        try self.init(program: Program([module]), options: options)
    }

    /// Loads (verifies and links) the modules of `program` as one program and starts the
    /// workers; `program.entry`'s `main` is what `runMain` runs. Modules that the program
    /// imports and does not hold are taken from the standard library (the one built into this
    /// library, so a host needs no files for it); any other missing module, unexported or
    /// unknown function, or wrong arity is a `LoadError` naming the file and the call.
    public init(program: Program, options: Options = Options()) throws(LoadError) {
        let atoms = AtomTable()
        let linked = try LoadedProgram(ModuleSearch.standardLibraryOnly.completeFromStandardLibrary(program), atoms: atoms)
        let hostFunctions = try Self.bindHostFunctions(linked, options.hostFunctions)
        runtime = Runtime(program: linked, atoms: atoms, workers: options.workers, runningWorkers: options.runningWorkers,
                          maxProcesses: options.maxProcesses,
                          heapLimitBytes: options.maxHeapBytes, memoryLimitBytes: options.maxMemoryBytes,
                          reductionLimit: options.maxReductions, capabilities: options.capabilities, output: options.output, errors: options.errors, hostFunctions: hostFunctions)
        deadline = options.deadline
    }

    /// Loads a binary (`.skb`) program: one module or several (the standard library fills in
    /// what it lacks).
    public convenience init(binary: [UInt8], options: Options = Options()) throws(LoadError) {
        try self.init(program: try BinaryFormat.decodeProgram(binary), options: options)
    }

    deinit { shutdown() }

    /// Resolves every `callhost` of the program to a registered host function, by flat constant
    /// index.
    private static func bindHostFunctions(_ linked: LoadedProgram, _ registered: [String: HostFunction]) throws(LoadError) -> [HostFunction?] {
        var table = [HostFunction?](repeating: nil, count: linked.constantBases.last.map { $0 + linked.program.modules.last!.constants.count } ?? 0)
        for (m, module) in linked.program.modules.enumerated() {
            for f in module.functions {
                for instruction in f.instructions where instruction.opcode == .callhost {
                    // callhost rD, "name", rArgs, n: the name is operand 1, the count operand 3.
                    let (constant, count) = (instruction.values[1], instruction.values[3])
                    let place = "\(module.sourceName): function \(f.name)/\(f.arity), word \(instruction.pc) (callhost)"
                    guard case .string(let name) = module.constants[constant] else {
                        throw LoadError(place, "the host function must be named by a string")
                    }
                    guard let function = registered[name] else {
                        throw LoadError(place, "no host function named \"\(name)\" is registered")
                    }
                    guard function.arity == count else {
                        throw LoadError(place, "host function \"\(name)\" takes \(function.arity) arguments, not \(count)")
                    }
                    table[linked.constantBases[m] + constant] = function
                }
            }
        }
        return table
    }

    /// Runs `main` to completion, blocking the calling thread, and returns how it ended (with
    /// main's result). With `waitForAll`, also waits until every process has ended. A `main/1`
    /// receives `arguments` as an array of strings (the program's command-line arguments); a
    /// `main/0` ignores them.
    public func runMain(arguments: [String] = [], waitForAll: Bool = false) -> ExitStatus {
        guard !isStopped else { return .stopped }
        let pid: UInt64
        do { pid = try spawnMain(arguments) } catch { return .failed(error) }
        armDeadline()
        var result = runtime.waitFor(pid)
        switch result {
        case .halted, .stopped, .limitReached: break
        case .returned, .failed, .exited: if waitForAll { runtime.waitForAll() }
        }
        if let limit = runtime.completion.withLock({ runtime.limitReached }) { result = .limitReached(limit) }
        return ended(result)
    }

    /// `runMain` for async code: the calling task is suspended, no thread is blocked (eight
    /// programs awaited at once run side by side). `waitForAll` is not offered here: a host
    /// that needs it calls the blocking form on a thread of its own.
    public func run(arguments: [String] = []) async -> ExitStatus {
        guard !isStopped else { return .stopped }
        let pid: UInt64
        do { pid = try spawnMain(arguments) } catch { return .failed(error) }
        armDeadline()
        return ended(await runtime.result(of: pid))
    }

    /// Starts the clock of `Options.deadline` for a run.
    /// It runs on the VM's timeout thread, so it fires on time whatever the host's own
    /// threads (or Dispatch's) are doing.
    private func armDeadline() {
        guard let deadline else { return }
        runtime.timeouts.armRunDeadline(HostMailbox.deadline(after: deadline)!)
    }

    /// The public form of how a run ended; a run ended by a limit shuts the VM down.
    private func ended(_ result: ProcessResult) -> ExitStatus {
        if case .limitReached = result { shutdown() }
        return ExitStatus(result)
    }

    /// Spawns the program's `main`, watched so that its end is recorded for a waiter.
    private func spawnMain(_ arguments: [String]) throws(RuntimeError) -> UInt64 {
        let main = runtime.program.mainIndex
        do throws(Fault) {
            if runtime.program.functions[main].arity == 1 {
                let node = Term.array(arguments.map(Term.string)).messageNode(atoms: runtime.atoms)
                defer { node.free() }
                return try withUnsafePointer(to: node.value.raw) { argument throws(Fault) in
                    try runtime.spawn(function: main, arguments: UnsafeBufferPointer(start: argument, count: 1), from: nil, watch: true).pid
                }
            }
            return try runtime.spawn(function: main, arguments: UnsafeBufferPointer(start: nil, count: 0), from: nil, watch: true).pid
        } catch {
            throw RuntimeError(kind: error.kind, detail: error.detail, function: "host", file: "host", line: nil)
        }
    }

    /// Spawns `function` (by name: a function of the entry module, or `module.function`) with
    /// host-provided arguments; returns its pid.
    public func spawn(_ function: String, _ arguments: [Term] = []) throws(HostError) -> Term {
        guard !isStopped else { throw .stopped }
        guard let index = runtime.program.functionIndex(named: function) else { throw .noSuchFunction(function) }
        let arity = runtime.program.functions[index].arity
        guard arity == arguments.count else { throw .wrongArity(function: function, takes: arity, given: arguments.count) }
        let nodes = arguments.map { $0.messageNode(atoms: runtime.atoms) }
        defer { nodes.forEach { $0.free() } }
        let raw = nodes.map(\.value.raw)
        let spawned = raw.withUnsafeBufferPointer { buffer -> Result<UInt64, Fault> in
            Result { () throws(Fault) in try runtime.spawn(function: index, arguments: buffer, from: nil).pid }
        }
        switch spawned {
        case .success(let pid): return .pid(pid)
        case .failure(let fault) where fault.kind == .systemLimit: throw .processLimit
        case .failure(let fault):
            throw .refused(RuntimeError(kind: fault.kind, detail: fault.detail, function: function, file: "host", line: nil))
        }
    }

    /// Sends `message` to the process `pid` from the host.
    public func send(_ pid: Term, _ message: Term) throws {
        guard !isStopped else { throw HostError.stopped }
        guard case .pid(let id) = pid else { throw HostError.notAPid(pid) }
        runtime.deliver(message.messageNode(atoms: runtime.atoms), to: id, from: nil)
    }

    /// Stops the workers and frees every process; a `runMain` blocked on another thread returns
    /// `.stopped`, host mailboxes close, and later calls throw `HostError.stopped`. Idempotent.
    public func shutdown() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        runtime.shutdown()
        runtime.reporter.flush()
        skein_flush_stdout()
    }

    /// Figures about the run so far.
    public var statistics: Statistics {
        Statistics(
            workers: runtime.scheduler.workers.map { w in
                Statistics.Worker(slices: w.stats.slices.load(ordering: .relaxed),
                                  steals: w.stats.steals.load(ordering: .relaxed),
                                  parks: w.stats.parks.load(ordering: .relaxed),
                                  wakeups: w.stats.wakeups.load(ordering: .relaxed),
                                  messagesSent: w.stats.messagesSent.load(ordering: .relaxed),
                                  messagesReceived: w.stats.messagesReceived.load(ordering: .relaxed),
                                  spawned: w.stats.spawned.load(ordering: .relaxed),
                                  nextSlotRuns: w.stats.nextSlotRuns.load(ordering: .relaxed))
            },
            wakeups: runtime.scheduler.idle.wakeups.load(ordering: .relaxed),
            peakProcesses: runtime.table.peakLive.load(ordering: .relaxed),
            liveProcesses: runtime.table.live.load(ordering: .relaxed),
            timeoutsFired: runtime.timeouts.fired.load(ordering: .relaxed),
            timeoutsPurged: runtime.timeouts.purged.load(ordering: .relaxed),
            crashes: runtime.crashes.load(ordering: .relaxed),
            io: runtime.ioStatistics.map { Statistics.IO(operations: $0.operations, bytesRead: $0.bytesRead,
                                                          bytesWritten: $0.bytesWritten, openHandles: $0.openHandles) })
    }
}

extension VM.ExitStatus {
    /// The public form of how a watched process ended.
    init(_ result: ProcessResult) {
        switch result {
        case .returned(let value): self = .returned(value ?? .atom("too_deep"))
        case .failed(let error): self = .failed(error)
        case .exited(.atom("normal")): self = .returned(.atom("normal"))
        case .exited(let reason): self = .exited(reason: reason)
        case .halted(let status): self = .halted(status)
        case .stopped: self = .stopped
        case .limitReached(let limit): self = .limitReached(limit)
        }
    }
}

/// Run statistics (`vm run --stats`).
public struct Statistics: Sendable {
    public struct Worker: Sendable {
        public var slices, steals, parks, wakeups, messagesSent, messagesReceived, spawned, nextSlotRuns: Int
    }
    public var workers: [Worker]
    /// Wake-ups issued to parked workers (VM-wide).
    public var wakeups: Int
    public var peakProcesses: Int
    public var liveProcesses: Int
    public var timeoutsFired: Int
    public var timeoutsPurged: Int
    public var crashes: Int
    /// IO figures, if the program did any IO.
    public struct IO: Sendable {
        public var operations, bytesRead, bytesWritten, openHandles: Int
    }
    public var io: IO?
}
