import CSkeinSupport
import Foundation
import Synchronization

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
/// for await message in inbox.messages { … }   // or as an async sequence
/// ```
/// The blocking `receive` parks the calling thread; the `async` one suspends the task and holds
/// no thread (of Swift's cooperative pool or any other) while it waits. Timeouts run on the VM's
/// timeout thread, as processes' do. One receiver at a time: concurrent receivers, blocking or
/// async, are admitted in arrival order. The mailbox traps exits, so an exit signal from a
/// linked process arrives as `{:EXIT, pid, reason}`; `exit pid, :kill` closes it. Closing (or
/// releasing the last reference) ends it like a process: processes monitoring it get
/// `{:DOWN, ref, pid, :normal}`, and a receiver waiting at that moment gets `.closed`.
public final class HostMailbox: @unchecked Sendable {
    // Sendable: `isClosed` and the process's runner-owned state are touched only by the receiver
    // the gate admitted; `closeRequested` is atomic.
    /// The mailbox's pid, to send to.
    public let pid: Term
    private let vm: VM
    private let runtime: Runtime
    /// The slot's process object, owned (as its runner) by whoever holds `gate`.
    private let process: Process
    /// This mailbox's pid as a number: once the mailbox is closed its slot may serve another
    /// incarnation, so `process.pid` may name someone else.
    private let ownPid: UInt64
    /// One receiver at a time; its holder owns `isClosed` and the process's runner-owned state.
    private let gate = ReceiverGate()
    private var isClosed = false
    /// Set by `close` so that a receiver waiting at that moment gives up the gate.
    private let closeRequested = Atomic<Bool>(false)

    init(vm: VM, runtime: Runtime, process: Process) {
        self.vm = vm
        self.runtime = runtime
        self.process = process
        ownPid = process.pid
        pid = .pid(ownPid)
    }

    deinit { close() }

    /// The next message, waiting at most `timeout` (forever if nil). Throws `.timeout`,
    /// `.closed`.
    public func receive(timeout: Duration? = nil) throws(HostError) -> Term {
        let deadline = Self.deadline(after: timeout)
        return try gate.withGate { () throws(HostError) -> Term in
            while true {
                switch try step(deadline) {
                case .message(let term): return term
                case .wait(let waiter): waiter.wait()
                }
            }
        }
    }

    /// The next message, suspending the task (no thread is held) at most `timeout` (forever if
    /// nil). Throws `.timeout`, `.closed`.
    public func receive(timeout: Duration? = nil) async throws(HostError) -> Term {
        let deadline = Self.deadline(after: timeout)
        await gate.enter()
        defer { gate.leave() }
        while true {
            switch try step(deadline) {
            case .message(let term): return term
            case .wait(let waiter): await waiter.wait()
            }
        }
    }

    /// The messages as they arrive, as an async sequence that ends when the mailbox closes (or
    /// the VM stops). Each step is an `async` `receive`, so iterating holds no thread.
    public var messages: Messages { Messages(mailbox: self) }

    /// The async sequence of a mailbox's messages (`HostMailbox.messages`).
    public struct Messages: AsyncSequence, Sendable {
        let mailbox: HostMailbox

        public func makeAsyncIterator() -> Iterator { Iterator(mailbox: mailbox) }

        /// Receives one message per `next()`; nil once the mailbox is closed.
        public struct Iterator: AsyncIteratorProtocol {
            let mailbox: HostMailbox

            public mutating func next() async -> Term? {
                try? await mailbox.receive()
            }
        }
    }

    /// What a receive does after one step: return a message or wait for a wake.
    private enum Step {
        case message(Term)
        case wait(HostWaiter)
    }

    /// One step of a receive by the admitted receiver; throws for the endings.
    private func step(_ deadline: Int64?) throws(HostError) -> Step {
        guard !isClosed else { throw .closed }
        switch runtime.hostReceiveStep(process, deadline: deadline, closing: closeRequested.load(ordering: .acquiring)) {
        case .message(let term): return .message(term)
        case .wait(let waiter): return .wait(waiter)
        case .timedOut: throw .timeout
        case .closed:
            closeIfOpen()
            throw .closed
        case .stopped:
            isClosed = true
            throw .closed
        }
    }

    /// Monitors `target` from this mailbox: `{:DOWN, ref, pid, reason}` arrives here when it
    /// ends (at once, with `:noproc`, if it is not alive). Returns the reference.
    public func monitor(_ target: Term) throws(HostError) -> Term {
        guard case .pid(let targetPid) = target else { throw .notAPid(target) }
        return try gate.withGate { () throws(HostError) -> Term in
            guard !isClosed else { throw .closed }
            let ref = runtime.makeReference()
            process.monitors[ref] = targetPid
            runtime.signal(.monitor(from: process.pid, ref: ref), to: targetPid, from: process, worker: nil)
            return .ref(ref)
        }
    }

    /// Drops a monitor made with `monitor`, and its `{:DOWN, …}` if it is already queued.
    public func demonitor(_ ref: Term) {
        guard case .ref(let id) = ref else { return }
        gate.withGate {
            guard !isClosed, let target = process.monitors.removeValue(forKey: id) else { return }
            runtime.signal(.demonitor(from: process.pid, ref: id), to: target, from: process, worker: nil)
            let down = process.mailbox.removeFirst({ runtime.handleSignal($0, in: process, worker: nil) }) { MessageNode.isDown($0, ref: id) }
            down?.free()
        }
    }

    /// Closes the mailbox; later calls throw `.closed`, and a receiver waiting now gets
    /// `.closed` at once. Idempotent.
    public func close() {
        closeRequested.store(true, ordering: .releasing)
        // A waiting receiver wakes, sees the request and leaves the gate. (By pid: a closed
        // mailbox's waiter is gone, so this cannot reach a later owner of the slot.)
        runtime.wakeHost(ownPid)
        gate.withGate { closeIfOpen() }
    }

    /// Ends the mailbox's slot once (by the gate's holder).
    private func closeIfOpen() {
        guard !isClosed else { return }
        isClosed = true
        runtime.closeHostMailbox(process)
    }

    /// The monotonic deadline `timeout` from now (nil: none).
    static func deadline(after timeout: Duration?) -> Int64? {
        timeout.map { skein_monotonic_ns() + nanoseconds($0) }
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
        let call = try HostCallExchange(vm: self, server: server, request: request, timeout: timeout)
        defer { call.inbox.close() }
        while true {
            if let reply = try call.answer(in: try call.inbox.receive(timeout: try call.remaining())) { return reply }
        }
    }

    /// `call` for async code: the task is suspended while it waits, holding no thread.
    public func call(_ server: Term, _ request: Term, timeout: Duration = .seconds(5)) async throws(HostError) -> Term {
        let call = try HostCallExchange(vm: self, server: server, request: request, timeout: timeout)
        defer { call.inbox.close() }
        while true {
            if let reply = try call.answer(in: try await call.inbox.receive(timeout: try call.remaining())) { return reply }
        }
    }

    /// Waits until `process` ends and returns its exit reason (`:noproc` if it is not alive).
    public func awaitExit(_ process: Term, timeout: Duration? = nil) throws(HostError) -> Term {
        let watch = try ExitWatch(vm: self, process: process)
        defer { watch.inbox.close() }
        while true {
            if let reason = watch.reason(in: try watch.inbox.receive(timeout: timeout)) { return reason }
        }
    }

    /// `awaitExit` for async code: the task is suspended while it waits, holding no thread.
    public func awaitExit(_ process: Term, timeout: Duration? = nil) async throws(HostError) -> Term {
        let watch = try ExitWatch(vm: self, process: process)
        defer { watch.inbox.close() }
        while true {
            if let reason = watch.reason(in: try await watch.inbox.receive(timeout: timeout)) { return reason }
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

/// One `VM.call` in flight: its mailbox, the monitor on the server, and its deadline.
private struct HostCallExchange {
    let inbox: HostMailbox
    let ref: Term
    let deadline: Int64

    /// Opens the call's mailbox, monitors `server` and sends it `{ref, from, request}`.
    init(vm: VM, server: Term, request: Term, timeout: Duration) throws(HostError) {
        inbox = try vm.makeMailbox()
        do throws(HostError) {
            ref = try inbox.monitor(server)
            do { try vm.send(server, .tuple([ref, inbox.pid, request])) } catch { throw HostError.notAPid(server) }
        } catch {
            inbox.close()
            throw error
        }
        deadline = skein_monotonic_ns() + HostMailbox.nanoseconds(timeout)
    }

    /// What is left of the timeout; throws `.timeout` once it has passed.
    func remaining() throws(HostError) -> Duration {
        let left = deadline - skein_monotonic_ns()
        guard left > 0 else { throw .timeout }
        return .nanoseconds(left)
    }

    /// The reply if `message` is it; throws `.processEnded` if it is the server's DOWN; nil
    /// for anything else (a stray message is skipped).
    func answer(in message: Term) throws(HostError) -> Term? {
        guard case .tuple(let items) = message else { return nil }
        if items.count == 2, items[0] == ref { return items[1] }
        if items.count == 4, items[0] == .atom("DOWN"), items[1] == ref { throw .processEnded(reason: items[3]) }
        return nil
    }
}

/// One `VM.awaitExit`: a mailbox monitoring the process.
private struct ExitWatch {
    let inbox: HostMailbox
    let ref: Term

    init(vm: VM, process: Term) throws(HostError) {
        inbox = try vm.makeMailbox()
        do { ref = try inbox.monitor(process) } catch {
            inbox.close()
            throw error
        }
    }

    /// The exit reason if `message` is the process's DOWN.
    func reason(in message: Term) -> Term? {
        if case .tuple(let items) = message, items.count == 4, items[1] == ref { return items[3] }
        return nil
    }
}
