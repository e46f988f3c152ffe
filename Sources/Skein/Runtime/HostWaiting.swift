import Dispatch

/// How a host thread or task waits for something in the VM: blocking a thread of its own, or
/// suspended as a continuation so that no thread of Swift's cooperative pool is held.
///
/// The two primitives here are what a host mailbox needs: `HostWaiter` carries the one wake of
/// each suspension to whoever waits for it, and `ReceiverGate` lets one receiver at a time into
/// a mailbox, first come first served. Both take a lock (`Locked`, which ThreadSanitizer sees)
/// only for a few instructions and resume outside it.
enum HostWakeup: Sendable {
    /// A blocked thread, woken by signalling its semaphore.
    case thread(DispatchSemaphore)
    /// A suspended task, woken by resuming its continuation.
    case task(CheckedContinuation<Void, Never>)

    /// Wakes the waiter (call it outside any lock: resuming may run code).
    func resume() {
        switch self {
        case .thread(let semaphore): semaphore.signal()
        case .task(let continuation): continuation.resume()
        }
    }
}

/// The wake-up of one host mailbox's receiver.
///
/// Invariants
/// - Each suspension of the mailbox's state word is ended by exactly one wake (the winner of the
///   wake CAS: a sender, or the timeout thread), and each wake calls `signal` once; `shutdown`
///   signals every waiter once more. A signal with nobody waiting is kept (`pending`), so a
///   signal that comes before the wait is not lost; signals that meet a kept one merge with it,
///   which is harmless because the receiver rechecks the mailbox, its timeout and the VM's stop
///   after every wake.
/// - Only the receiver admitted by the mailbox's `ReceiverGate` waits, so there is at most one
///   waiter.
final class HostWaiter: Sendable {
    private struct State {
        var pending = false
        var waiter: HostWakeup?
    }
    private let state = Locked(State())
    /// The semaphore a blocked receiver parks on (one receiver at a time, so one is enough).
    private let semaphore = DispatchSemaphore(value: 0)

    /// A wake for the receiver: resumes it if it waits, else is kept for its next wait.
    func signal() {
        let waiter = state.withLock { s -> HostWakeup? in
            guard let waiter = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Registers `wakeup` as the waiter, unless a signal is already kept: then it is consumed
    /// and the caller goes on at once (returns false).
    private func park(_ wakeup: HostWakeup) -> Bool {
        state.withLock { s in
            if s.pending {
                s.pending = false
                return false
            }
            s.waiter = wakeup
            return true
        }
    }

    /// Blocks the calling thread until a signal.
    func wait() {
        if park(.thread(semaphore)) { semaphore.wait() }
    }

    /// Suspends the calling task until a signal.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !park(.task(continuation)) { continuation.resume() }
        }
    }
}

/// Admits one receiver at a time to a host mailbox, in arrival order, whether it waits blocking
/// or as a task.
///
/// Invariant: `held` is true from an `enter` that returned until the matching `leave`; a `leave`
/// with receivers queued hands the gate straight to the first of them (`held` stays true), so
/// no receiver can overtake a queued one.
final class ReceiverGate: Sendable {
    private struct State {
        var held = false
        var queue: [HostWakeup] = []
    }
    private let state = Locked(State())

    /// Takes the gate if it is open.
    private static func admit(_ s: inout State) -> Bool {
        guard !s.held else { return false }
        s.held = true
        return true
    }

    /// Waits (blocking) until this thread holds the gate.
    func enter() {
        let semaphore = state.withLock { s -> DispatchSemaphore? in
            if ReceiverGate.admit(&s) { return nil }
            let semaphore = DispatchSemaphore(value: 0)
            s.queue.append(.thread(semaphore))
            return semaphore
        }
        guard let semaphore else { return }
        semaphore.wait()
        acquireHandOff()
    }

    /// Takes and drops the lock once after a queued admission. The leaver wrote the mailbox's
    /// receiver state before taking this lock in `leave`; taking it here orders those writes
    /// before the new holder's reads in a way ThreadSanitizer sees (it does not see the order a
    /// semaphore or a continuation gives).
    private func acquireHandOff() {
        state.withLock { _ in }
    }

    /// Waits (suspended) until this task holds the gate.
    func enter() async {
        // The uncontended case makes no continuation.
        if state.withLock({ ReceiverGate.admit(&$0) }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admittedMeanwhile = state.withLock { s -> Bool in
                if ReceiverGate.admit(&s) { return true }
                s.queue.append(.task(continuation))
                return false
            }
            if admittedMeanwhile { continuation.resume() }
        }
        acquireHandOff()
    }

    /// Gives the gate to the next queued receiver, or opens it.
    func leave() {
        let next = state.withLock { s -> HostWakeup? in
            precondition(s.held, "ReceiverGate.leave without enter")
            guard !s.queue.isEmpty else {
                s.held = false
                return nil
            }
            return s.queue.removeFirst()
        }
        next?.resume()
    }

    /// Runs `body` holding the gate (blocking until admitted).
    func withGate<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        enter()
        defer { leave() }
        return try body()
    }
}
