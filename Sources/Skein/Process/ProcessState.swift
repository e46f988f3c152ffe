import Synchronization

/// The atomic suspend/reschedule word of a process.
///
/// Layout: bits 0…1 status, bit 2 "woken by a timeout", bits 8…63 a generation that grows every
/// time the process suspends.
///
/// | status | meaning | who may leave it |
/// |---|---|---|
/// | `running`  | running on a worker, or queued to run | its runner (to suspend or exit) |
/// | `waiting`  | suspended in `recv`: a message or its timeout wakes it | whoever wins the CAS |
/// | `sleeping` | suspended in `sleep`: only its timeout wakes it | the timeout thread |
/// | `exited`   | finished | nobody |
///
/// Invariants
/// - Exactly-once wake: a suspended process is made runnable only by a successful
///   compare-and-swap from the exact suspended word (status and generation). A sender, the
///   timeout thread and IO racing to wake it all attempt that CAS; one wins and schedules it,
///   the others fail and do nothing.
/// - No lost wake-up: the runner stores "waiting" and then re-reads the mailbox count; a sender
///   increments the count and then reads the state. Both sides use sequentially consistent
///   operations, so at least one of them sees the other (Dekker): either the sender sees
///   "waiting" and wakes the process, or the runner sees the message and cancels its own
///   suspension with the same CAS (and if that CAS loses, a waker already scheduled it).
/// - A timeout carries the generation it was armed for. Any wake bumps nothing, but every new
///   suspension uses a fresh generation, so a stale timeout's CAS can never succeed: that is
///   the timeout heap's lazy invalidation.
struct ProcessState {
    /// Status values (bits 0…1).
    enum Status: UInt64, CaseIterable {
        case running = 0, waiting = 1, sleeping = 2, exited = 3
    }
    /// Set when a timeout made the process runnable.
    static let timedOutBit: UInt64 = 0b100

    /// The raw word.
    var raw: UInt64

    /// (Not `Status(rawValue:)`, which Swift compiles to an out-of-line call, one per message
    /// pushed: two bits always hold one of the four statuses, numbered in declaration order.)
    @inline(__always) var status: Status { unsafeBitCast(UInt8(truncatingIfNeeded: raw & 0b11), to: Status.self) }
    @inline(__always) var generation: UInt64 { raw >> 8 }
    @inline(__always) var timedOut: Bool { raw & ProcessState.timedOutBit != 0 }

    @inline(__always) init(raw: UInt64) { self.raw = raw }
    @inline(__always) init(_ status: Status, generation: UInt64, timedOut: Bool = false) {
        raw = generation << 8 | (timedOut ? ProcessState.timedOutBit : 0) | status.rawValue
    }
}

/// The state word with its transitions.
struct ProcessStateWord: ~Copyable {
    private let word = Atomic<UInt64>(0)

    init() {}

    /// The current state.
    @inline(__always) func load() -> ProcessState { ProcessState(raw: word.load(ordering: .sequentiallyConsistent)) }

    /// Runner: publish a suspension (`waiting` or `sleeping`) with a new generation, which it
    /// returns. After this the runner must not touch the process unless `cancelSuspension`
    /// succeeds.
    @inline(__always) func suspend(_ status: ProcessState.Status) -> ProcessState {
        assert(status == .waiting || status == .sleeping, "suspend to \(status)")
        let current = ProcessState(raw: word.load(ordering: .relaxed))
        assert(current.status == .running, "only a running process suspends")
        let next = ProcessState(status, generation: current.generation &+ 1)
        word.store(next.raw, ordering: .sequentiallyConsistent)
        return next
    }

    /// Any waker: make `expected` runnable. Succeeds for exactly one caller per suspension.
    @inline(__always) func wake(from expected: ProcessState, timedOut: Bool) -> Bool {
        assert(expected.status == .waiting || expected.status == .sleeping, "wake from \(expected.status)")
        let next = ProcessState(.running, generation: expected.generation, timedOut: timedOut)
        return word.compareExchange(expected: expected.raw, desired: next.raw, ordering: .sequentiallyConsistent).exchanged
    }

    /// Runner: clears the timed-out flag after acting on it.
    @inline(__always) func clearTimedOut() {
        word.bitwiseAnd(~ProcessState.timedOutBit, ordering: .relaxed)
    }

    /// Runner: the process has finished. Keeps the generation so stale timeouts stay stale.
    func markExited() {
        let current = ProcessState(raw: word.load(ordering: .relaxed))
        word.store(ProcessState(.exited, generation: current.generation &+ 1).raw, ordering: .sequentiallyConsistent)
    }

    /// Spawner: a fresh incarnation starts running.
    func markStarted() {
        let current = ProcessState(raw: word.load(ordering: .relaxed))
        word.store(ProcessState(.running, generation: current.generation &+ 1).raw, ordering: .sequentiallyConsistent)
    }
}
