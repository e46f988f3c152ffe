import CSkeinSupport
import Synchronization

/// A 32-bit atomic counter that threads can sleep on: a Linux futex word.
///
/// A sleeper reads the counter (its ticket), checks its condition, then waits with the ticket;
/// a waker changes the condition, bumps the counter and wakes. The kernel compares the word with
/// the ticket under its own lock before sleeping, so a bump between the read and the wait makes
/// the wait return at once: no wake-up is lost. `Idle` (parked workers), `TimeoutService` (the
/// timeout thread) and `Scheduler.stop` (waiting for the workers to exit) sleep this way.
///
/// The word lives in its own allocation, because the futex system call needs an address that
/// does not move, and Swift gives no stable address for an `Atomic` stored in a class. Its
/// owner keeps it for as long as any thread may wait on or wake it (the word is non-copyable,
/// freed when its owner is).
struct FutexWord: ~Copyable, @unchecked Sendable {
    // Sendable: the word is touched only atomically (by `Atomic` or the kernel) and outlives its users.
    private let word: UnsafeMutablePointer<Atomic<UInt32>>

    /// A word holding 0.
    init() {
        word = .allocate(capacity: 1)
        word.initialize(to: Atomic(0))
    }

    deinit {
        word.deinitialize(count: 1)
        word.deallocate()
    }

    /// The word as the plain `UInt32` the futex system call reads and sleeps on.
    ///
    /// Sound: `Atomic<UInt32>` is laid out as one bare `UInt32` (checked below; the comparison
    /// folds to a constant), and the kernel reads the word with an atomic load of its own.
    private var address: UnsafeMutablePointer<UInt32> {
        assert(MemoryLayout<Atomic<UInt32>>.size == 4 && MemoryLayout<Atomic<UInt32>>.alignment == 4,
               "Atomic<UInt32> must be a bare 32-bit word for the futex system call")
        return UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self)
    }

    /// The current value: a ticket to pass to `wait`.
    @inline(__always) func ticket() -> UInt32 {
        word.pointee.load(ordering: .sequentiallyConsistent)
    }

    /// Changes the word, so that every wait with an older ticket returns at once.
    @inline(__always) func bump() {
        word.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    /// Sleeps while the word still equals `ticket`, at most `timeoutNanoseconds` (negative: no
    /// limit). May return spuriously: callers re-check their condition.
    func wait(ticket: UInt32, timeoutNanoseconds: Int64 = -1) {
        skein_futex_wait(address, ticket, timeoutNanoseconds)
    }

    /// Wakes one thread waiting on the word.
    func wakeOne() { skein_futex_wake(address, 1) }

    /// Wakes every thread waiting on the word.
    func wakeAll() { skein_futex_wake(address, Int32.max) }
}
