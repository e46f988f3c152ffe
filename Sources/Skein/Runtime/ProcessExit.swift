import Foundation

/// How a process ended, as a host thread waiting for it sees it.
enum ProcessResult {
    /// Its entry function returned this value (`nil` if it could not be converted).
    case returned(Term?)
    /// An uncaught runtime error.
    case failed(RuntimeError)
    /// It ended with this exit reason (`exit`, or an exit signal).
    case exited(Term)
    /// A process ended the whole run with `halt` and this exit status.
    case halted(Int32)
    /// The VM was shut down before the process ended.
    case stopped
    /// A run limit ended the run before the process ended.
    case limitReached(RunLimit)
}

/// A limit on a whole run (`VM.Options.deadline`, `VM.Options.maxReductions`).
public enum RunLimit: Sendable, Equatable, CustomStringConvertible {
    /// The wall-clock deadline passed.
    case deadline
    /// The processes together used up the reduction budget.
    case reductions

    public var description: String {
        switch self {
        case .deadline: "the run's deadline passed"
        case .reductions: "the run used up its reduction budget"
        }
    }
}

/// The end of a process: what its links, monitors, registered name and waiters learn.
///
/// Order matters and is the proof that nothing is lost or delivered twice:
/// 1. The context is freed (nothing runs this process again: its runner is this thread).
/// 2. `retire` stops new pushes (incarnation 0) and waits for signal senders already past
///    their check, so after it the mailbox holds every signal anyone will ever send this
///    incarnation. (Messages may still trickle in: the slot's reuse frees them.)
/// 3. The mailbox is drained acting on link and monitor signals that came in too late: their
///    senders are told the same exit reason as earlier links and monitors.
/// 4. Each link gets one exit signal and each monitor one `{:DOWN, …}` (the sets hold each
///    peer once); monitors this process held are released at their targets.
/// 5. The slot is freed and waiters are told.
extension Runtime {
    /// Ends `process` with the reason in `process.exitReason`.
    func finish(_ process: Process, worker: Worker?, returned: Value? = nil, error: RuntimeError? = nil) {
        let pid = process.pid
        // No reason node is a normal end (an immediate needs no node to outlive the heap).
        let reasonNode = process.exitReason
        process.exitReason = nil
        let reason = reasonNode?.value ?? Value.known(.normal)
        if process.usedIO {
            process.usedIO = false
            io.submit(IORequest(operation: .closeAllOwned(by: pid), process: nil, owner: pid, state: ProcessState(raw: 0)))
        }
        process.ioResult?.free()
        process.ioResult = nil
        process.hostCallResult = nil
        // What a waiting host thread gets, converted while the heap still exists.
        var result: ProcessResult?
        if process.isWatched {
            if let error { result = .failed(error) } else if let returned {
                result = .returned(try? Term(returned, atoms: atoms, program: program))
            } else {
                result = .exited((try? Term(reason, atoms: atoms, program: program)) ?? .atom("too_deep"))
            }
        }
        process.state.markExited()
        process.retireContext()
        announceExit(process, reason: reason, worker: worker)
        reasonNode?.free(cache: worker?.nodeCache)
        let watchedEnd = process.isWatched
        process.isWatched = false
        table.release(process, cache: worker?.slotCache)

        if watchedEnd {
            let waiter = completion.withLock { () -> CheckedContinuation<ProcessResult, Never>? in
                if watched.remove(pid) != nil { results[pid] = result ?? .exited(.atom("normal")) }
                completion.broadcast()
                guard let waiter = resultWaiters.removeValue(forKey: pid) else { return nil }
                return waiter
            }
            // Resumed outside the lock: the task may run at once, on this thread.
            if let waiter { waiter.resume(returning: completion.withLock { results.removeValue(forKey: pid)! }) }
        } else if allWaiters.load(ordering: .sequentiallyConsistent) > 0,
                  table.live.load(ordering: .sequentiallyConsistent) - hostMailboxes.load(ordering: .sequentiallyConsistent) == 0 {
            completion.withLock { completion.broadcast() }
        }
    }

    /// Steps 2 to 4 above: retires `process` and tells its links and monitors that it ended
    /// with `reason`. Also how a host mailbox closes.
    func announceExit(_ process: Process, reason: Value, worker: Worker?) {
        let pid = process.pid
        table.retire(process)
        registry.remove(process)
        let cache = worker?.nodeCache
        // The closure captures nothing reference-counted: capturing `self` and `process`
        // retained and released both around every node pulled, and the runtime is one object
        // that every worker's exits share (5% of spawn's samples).
        let ending = Unmanaged.passUnretained(process)
        process.mailbox.pull { node in
            ending._withUnsafeGuaranteedRef { Runtime.lateSignal(node, to: $0) }
            node.free(cache: cache)
            return .consumed
        }
        process.mailbox.drain()

        // Most processes have no links or monitors: the checks keep the collections' storage
        // (and its reference counting) off a short-lived process's exit.
        if !process.links.isEmpty {
            for peer in process.links {
                signal(.exit(from: pid, reason: reason, linked: true), to: peer, worker: worker)
            }
        }
        // (Neither table changes while it is walked: these signals go to other processes.)
        process.watchers.forEach { ref, watcher in
            let message = down(ref: ref, pid: pid, reason: reason, cache: cache)
            message.setKind(Signal.Kind.down.rawValue)
            if !push(signal: message, to: watcher, from: worker) { message.free(cache: cache) }
        }
        process.monitors.forEach { ref, target in
            signal(.demonitor(from: pid, ref: ref), to: target, worker: worker)
        }
        process.resetLinks()
    }

    /// A signal found in the mailbox of a process that is ending: links and monitors made
    /// while it was still alive are honoured with its real exit reason.
    private static func lateSignal(_ node: MessageNode, to process: Process) {
        guard let kind = Signal.Kind(rawValue: node.kind), kind != .down else { return }
        Runtime.recordPeer(kind, payload: node.value.tupleElements, in: process)
    }

    /// Blocks until `pid` (spawned with `watch: true`) ends.
    /// Blocks until `pid` (spawned with `watch: true`) ends, or a process halts the run.
    func waitFor(_ pid: UInt64) -> ProcessResult {
        completion.withLock {
            while results[pid] == nil && haltStatus == nil && limitReached == nil && !isStopping { completion.wait() }
            if let status = haltStatus { return .halted(status) }
            if let limit = limitReached { return .limitReached(limit) }
            if results[pid] == nil { return .stopped }
            return results.removeValue(forKey: pid)!
        }
    }

    /// `waitFor` for async code: suspends the task until `pid` (spawned with `watch: true`)
    /// ends, or the run halts or stops, without blocking a thread.
    func result(of pid: UInt64) async -> ProcessResult {
        await withCheckedContinuation { (waiter: CheckedContinuation<ProcessResult, Never>) in
            let ready: ProcessResult? = completion.withLock {
                if let status = haltStatus { return .halted(status) }
                if let limit = limitReached { return .limitReached(limit) }
                if let result = results.removeValue(forKey: pid) { return result }
                if isStopping { return .stopped }
                resultWaiters[pid] = waiter
                return nil
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }

    /// Removes and returns every task awaiting a watched process (under `completion`): the
    /// caller resumes each once, outside the lock.
    func takeResultWaiters() -> [CheckedContinuation<ProcessResult, Never>] {
        defer { resultWaiters.removeAll() }
        return Array(resultWaiters.values)
    }

    /// `halt`: ends the run with `status` (the first halt wins).
    func halt(status: Int32) {
        let (first, waiters) = completion.withLock { () -> (Int32, [CheckedContinuation<ProcessResult, Never>]) in
            if haltStatus == nil { haltStatus = status }
            completion.broadcast()
            return (haltStatus!, takeResultWaiters())
        }
        for waiter in waiters { waiter.resume(returning: .halted(first)) }
    }

    /// Blocks until no process is alive.
    func waitForAll() {
        allWaiters.wrappingAdd(1, ordering: .sequentiallyConsistent)
        defer { allWaiters.wrappingSubtract(1, ordering: .sequentiallyConsistent) }
        completion.withLock {
            while table.live.load(ordering: .sequentiallyConsistent) - hostMailboxes.load(ordering: .sequentiallyConsistent) > 0,
                  haltStatus == nil, limitReached == nil, !isStopping {
                completion.wait()
            }
        }
    }
}
