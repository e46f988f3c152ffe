import CSkeinSupport
import Foundation

/// Host mailboxes: process slots that no code runs in, owned by a host thread, so that the host
/// takes part in message passing with a pid of its own (`VM.makeMailbox`).
///
/// A host mailbox uses the same mailbox, state word and signal handling as a process; only the
/// waiting differs. A host thread in `receive` suspends the state word like a process in `recv`;
/// a sender that wins the wake CAS finds `isHostMailbox` set and signals the thread's semaphore
/// instead of scheduling the slot. Exactly one of "the sender's CAS" and "the host's own CAS
/// on timeout" succeeds, so every signal of the semaphore is consumed by exactly one wait.
/// A host mailbox traps exits: an exit signal (from a link) arrives as `{:EXIT, pid, reason}`,
/// and `:kill` closes it.
extension Runtime {
    /// Opens a host mailbox; nil at the process limit.
    func openHostMailbox() -> Process? {
        guard let (process, pid) = table.allocate() else { return nil }
        hostMailboxes.add(1, ordering: .sequentiallyConsistent)
        process.resetLinks()
        process.trapsExits = true
        process.isHostMailbox.store(true, ordering: .relaxed)
        hostWaiters.withLock { $0[pid] = DispatchSemaphore(value: 0) }
        process.state.markStarted()
        table.publish(process)
        return process
    }

    /// Signals the host thread waiting on mailbox `pid` (a sender won the wake CAS).
    @inline(never)
    func wakeHost(_ pid: UInt64) {
        hostWaiters.withLock { $0[pid] }?.signal()
    }

    /// The next message of a host mailbox (the caller is its only receiver at a time), or nil
    /// when `deadline` (monotonic ns) passes first. `closed` is set when a `:kill` closed it.
    func receive(hostMailbox process: Process, deadline: Int64?, closed: inout Bool) -> Term? {
        guard let semaphore = hostWaiters.withLock({ $0[process.pid] }) else { closed = true; return nil }
        while true {
            if completion.withLock({ isStopping }) {
                closed = true
                return nil
            }
            var exiting = false
            if let node = process.mailbox.takeOldest({ handleSignal($0, in: process, worker: nil) }, exiting: &exiting) {
                defer { node.free() }
                return (try? Term(node.value, atoms: atoms, program: program)) ?? .atom("too_deep")
            }
            if exiting {
                closeHostMailbox(process)
                closed = true
                return nil
            }
            let suspended = process.state.suspend(.waiting)
            // Dekker with `push`, as in `runSlice`.
            if process.mailbox.messageCount > 0 {
                if !process.state.wake(from: suspended, timedOut: false) { semaphore.wait() }  // a sender won: take its signal
                continue
            }
            let signalled: Bool
            if let deadline {
                let remaining = max(0, deadline - skein_monotonic_ns())
                signalled = semaphore.wait(timeout: .now() + .nanoseconds(Int(min(remaining, Int64(Int.max))))) == .success
            } else {
                semaphore.wait()
                signalled = true
            }
            if !signalled {
                if process.state.wake(from: suspended, timedOut: true) { return nil }
                semaphore.wait()  // a sender won the race with the timeout: take its signal
            }
        }
    }

    /// Closes a host mailbox: its links and monitors see it end with `:normal` (`:killed` when
    /// a `:kill` closed it).
    func closeHostMailbox(_ process: Process) {
        let pid = process.pid
        process.state.markExited()
        let reason = process.exitReason?.value ?? Value.known(.normal)
        announceExit(process, reason: reason, worker: nil)
        hostWaiters.withLock { $0[pid] = nil }
        process.isHostMailbox.store(false, ordering: .relaxed)
        hostMailboxes.subtract(1, ordering: .sequentiallyConsistent)
        table.release(process)
    }
}
