import CSkeinSupport
import Foundation

/// Why a host-side operation on processes failed.
public enum HostError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing arrived before the timeout.
    case timeout
    /// The mailbox was closed (by `close()`, or by an exit signal `:kill`).
    case closed
    /// The process called or awaited ended (or was not alive) with this exit reason.
    case processEnded(reason: Term)
    /// The VM has stopped.
    case stopped
    /// The process limit is reached.
    case processLimit
    /// A value that is not a pid where a pid is needed.
    case notAPid(Term)
    /// `spawn` named a function the program does not have.
    case noSuchFunction(String)
    /// `spawn` gave a function the wrong number of arguments.
    case wrongArity(function: String, takes: Int, given: Int)
    /// The runtime refused the request (e.g. spawn arguments beyond the heap limit, or
    /// nested too deeply): the error names the kind and the reason.
    case refused(RuntimeError)

    public var description: String {
        switch self {
        case .timeout: "timed out"
        case .closed: "the mailbox is closed"
        case .processEnded(let reason): "the process ended with reason \(reason)"
        case .stopped: "the VM has stopped"
        case .processLimit: "the process limit is reached"
        case .notAPid(let term): "not a pid: \(term)"
        case .noSuchFunction(let name): "the program has no function named \(name)"
        case .wrongArity(let function, let takes, let given): "\(function) takes \(takes) arguments, not \(given)"
        case .refused(let error): error.description
        }
    }
}

/// A mailbox owned by the host program: a pid that processes send to, monitor and link to like
/// any process, and that the host receives from.
///
/// ```swift
/// let inbox = try vm.makeMailbox()
/// try vm.send(worker, .tuple([inbox.pid, .int(21)]))
/// let reply = try inbox.receive(timeout: .seconds(1))
/// ```
/// Receiving blocks the calling thread (the `async` form blocks a thread of its own, never one of
/// Swift's cooperative pool). One receiver at a time: concurrent calls are serialised. The
/// mailbox traps exits, so an exit signal from a linked process arrives as
/// `{:EXIT, pid, reason}`; `exit pid, :kill` closes it. Closing (or releasing the last reference)
/// ends it like a process: processes monitoring it get `{:DOWN, ref, pid, :normal}`.
public final class HostMailbox: @unchecked Sendable {
    // Sendable: `isClosed` and the process's runner-owned state are touched only under `receiving`.
    /// The mailbox's pid, to send to.
    public let pid: Term
    private let vm: VM
    private let runtime: Runtime
    /// The slot's process object, owned (as its runner) by whoever holds `receiving`.
    private let process: Process
    /// One receiver at a time; guards `isClosed` and the process's runner-owned state.
    private let receiving = NSLock()
    private var isClosed = false

    init(vm: VM, runtime: Runtime, process: Process) {
        self.vm = vm
        self.runtime = runtime
        self.process = process
        pid = .pid(process.pid)
    }

    deinit { close() }

    /// The next message, waiting at most `timeout` (forever if nil). Throws `.timeout`,
    /// `.closed`.
    public func receive(timeout: Duration? = nil) throws(HostError) -> Term {
        let deadline = timeout.map { skein_monotonic_ns() + Self.nanoseconds($0) }
        receiving.lock()
        defer { receiving.unlock() }
        guard !isClosed else { throw .closed }
        var closed = false
        if let term = runtime.receive(hostMailbox: process, deadline: deadline, closed: &closed) { return term }
        if closed {
            isClosed = true
            throw .closed
        }
        throw .timeout
    }

    /// `receive` for async code: waits on a thread of its own, never blocking a thread of
    /// Swift's cooperative pool.
    public func receive(timeout: Duration? = nil) async throws(HostError) -> Term {
        // The result crosses threads through a lock (which ThreadSanitizer sees), not through
        // the continuation alone.
        let outcome = Locked<Result<Term, HostError>?>(nil)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                let result = Result { () throws(HostError) in try self.receive(timeout: timeout) }
                outcome.withLock { $0 = result }
                continuation.resume()
            }
            // Converting a message to a term recurses up to `ValueDepth.limit` levels, as on a
            // worker: the same stack (address space; only touched pages are committed).
            thread.stackSize = Worker.threadStackBytes
            thread.start()
        }
        return try outcome.withLock { $0! }.get()
    }

    /// Monitors `target` from this mailbox: `{:DOWN, ref, pid, reason}` arrives here when it
    /// ends (at once, with `:noproc`, if it is not alive). Returns the reference.
    public func monitor(_ target: Term) throws(HostError) -> Term {
        guard case .pid(let targetPid) = target else { throw .notAPid(target) }
        receiving.lock()
        defer { receiving.unlock() }
        guard !isClosed else { throw .closed }
        let ref = runtime.makeReference()
        process.monitors[ref] = targetPid
        runtime.signal(.monitor(from: process.pid, ref: ref), to: targetPid, from: process, worker: nil)
        return .ref(ref)
    }

    /// Drops a monitor made with `monitor`, and its `{:DOWN, …}` if it is already queued.
    public func demonitor(_ ref: Term) {
        guard case .ref(let id) = ref else { return }
        receiving.lock()
        defer { receiving.unlock() }
        guard !isClosed, let target = process.monitors.removeValue(forKey: id) else { return }
        runtime.signal(.demonitor(from: process.pid, ref: id), to: target, from: process, worker: nil)
        let down = process.mailbox.removeFirst({ runtime.handleSignal($0, in: process, worker: nil) }) { MessageNode.isDown($0, ref: id) }
        down?.free()
    }

    /// Closes the mailbox; later calls throw `.closed`. Idempotent.
    public func close() {
        receiving.lock()
        defer { receiving.unlock() }
        guard !isClosed else { return }
        isClosed = true
        runtime.closeHostMailbox(process)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? Int64.max / 2 : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

extension VM {
    /// Opens a mailbox for the host (see `HostMailbox`).
    public func makeMailbox() throws(HostError) -> HostMailbox {
        guard !isStopped else { throw .stopped }
        guard let process = core.openHostMailbox() else { throw .processLimit }
        return HostMailbox(vm: self, runtime: core, process: process)
    }

    /// Calls a server process the way `gen_server:call` does: sends `{ref, from, request}`
    /// (`from` is a mailbox of this call), waits for `{ref, reply}` and returns `reply`.
    /// Throws `.processEnded` if the server ends (or is not alive) before it replies, and
    /// `.timeout` after `timeout`.
    public func call(_ server: Term, _ request: Term, timeout: Duration = .seconds(5)) throws(HostError) -> Term {
        let inbox = try makeMailbox()
        defer { inbox.close() }
        let ref = try inbox.monitor(server)
        do { try send(server, .tuple([ref, inbox.pid, request])) } catch { throw .notAPid(server) }
        let deadline = skein_monotonic_ns() + HostMailbox.nanoseconds(timeout)
        while true {
            let remaining = deadline - skein_monotonic_ns()
            guard remaining > 0 else { throw .timeout }
            let message = try inbox.receive(timeout: .nanoseconds(remaining))
            guard case .tuple(let items) = message else { continue }
            if items.count == 2, items[0] == ref { return items[1] }
            if items.count == 4, items[0] == .atom("DOWN"), items[1] == ref { throw .processEnded(reason: items[3]) }
        }
    }

    /// Waits until `process` ends and returns its exit reason (`:noproc` if it is not alive).
    public func awaitExit(_ process: Term, timeout: Duration? = nil) throws(HostError) -> Term {
        let inbox = try makeMailbox()
        defer { inbox.close() }
        let ref = try inbox.monitor(process)
        while true {
            if case .tuple(let items) = try inbox.receive(timeout: timeout), items.count == 4, items[1] == ref { return items[3] }
        }
    }

    /// Sends `process` an exit signal from the host: `:kill` (the default) ends it with
    /// `:killed` whatever it does; another reason ends it unless it traps exits.
    public func kill(_ process: Term, reason: Term = .atom("kill")) throws(HostError) {
        guard case .pid(let target) = process else { throw .notAPid(process) }
        guard !isStopped else { throw .stopped }
        let carrier = reason.messageNode(atoms: core.atoms)
        defer { carrier.free() }
        core.signal(.exit(from: 0, reason: carrier.value, linked: false), to: target, worker: nil)
    }
}
