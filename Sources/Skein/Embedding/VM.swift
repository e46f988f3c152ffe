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
        /// Most processes alive at once.
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
        /// `main` returned.
        case returned
        /// `main` stopped with a runtime error (the report, with its stack trace).
        case failed(String)
        /// `main` ended with a reason other than `:normal` (`exit`, or an exit signal from a
        /// linked process): the reason as printed.
        case exited(String)
        /// A process ended the run with `halt status` (other processes are stopped by
        /// `shutdown`).
        case halted(Int32)
        /// `shutdown()` was called (from another thread) before main ended.
        case stopped
    }

    private let runtime: Runtime
    /// Set once by `shutdown` (an atomic: any thread may shut a VM down or ask if it has).
    private let stopped = Atomic<Bool>(false)

    /// The runtime, for the embedding API's other files.
    var core: Runtime { runtime }
    /// Whether `shutdown` has run.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Loads (verifies and links) `module` and starts the workers.
    public init(module: Module, options: Options = Options()) throws(LoadError) {
        let atoms = AtomTable()
        let program = try LoadedProgram(module, atoms: atoms)
        let hostFunctions = try Self.bindHostFunctions(module, options.hostFunctions)
        runtime = Runtime(program: program, atoms: atoms, workers: options.workers, maxProcesses: options.maxProcesses,
                          heapLimitBytes: options.maxHeapBytes, output: options.output, errors: options.errors, hostFunctions: hostFunctions)
    }

    /// Loads a binary (`.skb`) module.
    public convenience init(binary: [UInt8], options: Options = Options()) throws(LoadError) {
        try self.init(module: try BinaryFormat.decode(binary), options: options)
    }

    deinit { shutdown() }

    /// Resolves every `callhost` of `module` to a registered host function, by constant index.
    private static func bindHostFunctions(_ module: Module, _ registered: [String: HostFunction]) throws(LoadError) -> [HostFunction?] {
        var table = [HostFunction?](repeating: nil, count: module.constants.count)
        for f in module.functions {
            for instruction in f.instructions where instruction.opcode == .callhost {
                // callhost rD, "name", rArgs, n: the name is operand 1, the count operand 3.
                let (constant, count) = (instruction.values[1], instruction.values[3])
                let place = "function \(f.name)/\(f.arity), word \(instruction.pc) (callhost)"
                guard case .string(let name) = module.constants[constant] else {
                    throw LoadError(place, "the host function must be named by a string")
                }
                guard let function = registered[name] else {
                    throw LoadError(place, "no host function named \"\(name)\" is registered")
                }
                guard function.arity == count else {
                    throw LoadError(place, "host function \"\(name)\" takes \(function.arity) arguments, not \(count)")
                }
                table[constant] = function
            }
        }
        return table
    }

    /// Runs `main` to completion; with `waitForAll`, also waits until every process has ended.
    /// A `main/1` receives `arguments` as an array of strings (the program's command-line
    /// arguments); a `main/0` ignores them.
    public func runMain(arguments: [String] = [], waitForAll: Bool = false) -> ExitStatus {
        let main = runtime.program.mainIndex
        let pid: UInt64
        do {
            if runtime.program.functions[main].arity == 1 {
                let node = Term.array(arguments.map(Term.string)).messageNode(atoms: runtime.atoms)
                defer { node.free() }
                pid = try withUnsafePointer(to: node.value.raw) { argument throws(Fault) in
                    try runtime.spawn(function: main, arguments: UnsafeBufferPointer(start: argument, count: 1), from: nil, watch: true).pid
                }
            } else {
                pid = try runtime.spawn(function: main, arguments: UnsafeBufferPointer(start: nil, count: 0), from: nil, watch: true).pid
            }
        } catch {
            return .failed(error.detail)
        }
        let result = runtime.waitFor(pid)
        if waitForAll { runtime.waitForAll() }
        switch result {
        case .returned: return .returned
        case .failed(let error): return .failed(error.description)
        case .exited(.atom("normal")): return .returned
        case .exited(let reason): return .exited(reason.description)
        case .halted(let status): return .halted(status)
        case .stopped: return .stopped
        }
    }

    /// Spawns `function` (by name) with host-provided arguments; returns its pid.
    public func spawn(_ function: String, _ arguments: [Term] = []) throws -> Term {
        guard !isStopped else { throw HostError.stopped }
        guard let index = runtime.program.module.functionIndex(named: function) else {
            throw LoadError("function \(function)", "no such function")
        }
        let arity = runtime.program.functions[index].arity
        guard arity == arguments.count else {
            throw LoadError("function \(function)", "takes \(arity) arguments, not \(arguments.count)")
        }
        let nodes = arguments.map { $0.messageNode(atoms: runtime.atoms) }
        defer { nodes.forEach { $0.free() } }
        let raw = nodes.map(\.value.raw)
        let pid = try raw.withUnsafeBufferPointer { buffer in
            do throws(Fault) { return try runtime.spawn(function: index, arguments: buffer, from: nil).pid } catch {
                throw RuntimeError(kind: error.kind, detail: error.detail, function: "host", file: "host", line: nil)
            }
        }
        return .pid(pid)
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
