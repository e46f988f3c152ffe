import CSkeinSupport
import Foundation

/// Host mailboxes: process slots that no code runs in, owned by the host, so that the host takes
/// part in message passing with a pid of its own (`VM.makeMailbox`).
///
/// A host mailbox uses the same mailbox, state word, timeouts and signal handling as a process;
/// only the waiting differs. A host receiver suspends the state word like a process in `recv`
/// (arming its timeout on the timeout thread, with the suspension's generation); whoever wins
/// the wake CAS (a sender, or the timeout thread) finds `isHostMailbox` set and signals the
/// mailbox's `HostWaiter` instead of scheduling the slot. The receiver waits for that one
/// signal, as a blocked thread or as a suspended task (`HostWaiting.swift`), and steps again.
/// A host mailbox traps exits: an exit signal (from a link) arrives as `{:EXIT, pid, reason}`,
/// and `:kill` closes it.
extension Runtime {
    /// Opens a host mailbox; nil at the process limit.
    func openHostMailbox() -> Process? {
        guard let (process, pid) = table.allocate() else { return nil }
        hostMailboxes.wrappingAdd(1, ordering: .sequentiallyConsistent)
        process.resetLinks()
        process.trapsExits = true
        process.isHostMailbox.store(true, ordering: .relaxed)
        hostWaiters.withLock { $0[pid] = HostWaiter() }
        process.state.markStarted()
        table.publish(process)
        return process
    }

    /// Signals the host receiver of mailbox `pid` (its wake CAS was won).
    @inline(never)
    func wakeHost(_ pid: UInt64) {
        hostWaiters.withLock { $0[pid] }?.signal()
    }

    /// Wakes `process` from its suspended `state` if this caller wins the wake, and makes it
    /// runnable (`scheduleWoken`); false when another waker won. For wakers that do not own
    /// the process: a sender, the timeout thread.
    ///
    /// What a host mailbox needs is read before the compare-and-swap, because winning it does
    /// not give the winner the mailbox: its receiver closes it when asked (`closeHostMailbox`)
    /// without waiting for wakers, and the slot may then be reused. Read while the state still
    /// holds the suspension this caller saw (its generation never comes back), whether it is a
    /// host mailbox and its pid belong to that suspension's incarnation; after the CAS the
    /// winner uses only the pid, a value. (Found in review: before messages stopped holding
    /// `senders`, `retire` waited for a sender between its CAS and its `wakeHost`, but never
    /// for the timeout thread.)
    @inline(__always)
    func wake(_ process: Process, from state: ProcessState, timedOut: Bool, worker: Worker?) -> Bool {
        let hostPid = process.isHostMailbox.load(ordering: .relaxed) ? process.incarnation.load(ordering: .acquiring) : 0
        guard process.state.wake(from: state, timedOut: timedOut) else { return false }
        if hostPid != 0 { wakeHost(hostPid) } else { enqueueWoken(process, from: worker) }
        return true
    }

    /// Makes a process whose wake CAS the caller won, and that the caller therefore owns,
    /// runnable: a host mailbox's receiver is signalled; a process goes to `worker`'s next slot
    /// (no wake-up), or to the scheduler from outside a worker.
    @inline(__always)
    func scheduleWoken(_ process: Process, from worker: Worker?) {
        if process.isHostMailbox.load(ordering: .relaxed) {
            wakeHost(process.pid)
        } else {
            enqueueWoken(process, from: worker)
        }
    }

    /// Queues a woken process (not a host mailbox): into `worker`'s next slot (no wake-up), or
    /// to the scheduler from outside a worker.
    @inline(__always)
    private func enqueueWoken(_ process: Process, from worker: Worker?) {
        if let worker { worker.pushNext(process) } else { scheduler.inject(process) }
    }

    /// What a host receiver does after one `hostReceiveStep`.
    enum HostReceiveStep {
        /// The next message.
        case message(Term)
        /// The deadline passed with nothing queued.
        case timedOut
        /// The mailbox must close (a `:kill`, a close request); the owner closes the slot
        /// (`closeHostMailbox`).
        case closed
        /// The VM is stopping: the slot goes with it.
        case stopped
        /// The mailbox is suspended: wait for one signal of the waiter, then step again.
        case wait(HostWaiter)
    }

    /// One step of a host mailbox's receive, by its one admitted receiver (see `ReceiverGate`):
    /// the next message if one is queued; otherwise the mailbox suspends, arming its timeout
    /// for `deadline` (monotonic ns), and the receiver must wait for the waiter's signal.
    /// `closing` is a close asked for by another thread, which the receiver honours at once.
    func hostReceiveStep(_ process: Process, deadline: Int64?, closing: Bool) -> HostReceiveStep {
        guard !closing, let waiter = hostWaiters.withLock({ $0[process.pid] }) else { return .closed }
        if completion.withLock({ isStopping }) { return .stopped }
        let timedOut = process.state.load().timedOut
        if timedOut { process.state.clearTimedOut() }
        if process.armedTimeout {
            process.armedTimeout = false
            if !timedOut { timeouts.noteStale() }
        }
        while true {
            var exiting = false
            if let node = process.mailbox.takeOldest({ handleSignal($0, in: process, worker: nil) }, exiting: &exiting) {
                defer { node.free() }
                return .message((try? Term(node.value, atoms: atoms, program: program)) ?? .atom("too_deep"))
            }
            if exiting { return .closed }  // a `:kill`: its owner closes the slot
            if timedOut { return .timedOut }
            if let deadline, deadline <= skein_monotonic_ns() { return .timedOut }
            let suspended = process.state.suspend(.waiting)
            // Dekker with `push`, as in `runSlice`.
            if process.mailbox.messageCount > 0 {
                if process.state.wake(from: suspended, timedOut: false) { continue }
                return .wait(waiter)  // a sender won: its signal is on the way
            }
            if let deadline {
                process.armedTimeout = true
                timeouts.arm(process, state: suspended, deadline: deadline)
            }
            return .wait(waiter)
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
        hostMailboxes.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        table.release(process)
    }
}
