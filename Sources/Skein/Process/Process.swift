import Synchronization

/// A lightweight process: its mailbox, its state word and, while it is alive, its execution
/// context (heap, registers, frames).
///
/// Process objects are type-stable: each belongs to one slot of the `ProcessTable` for the
/// VM's whole life and is reused by later processes in that slot. A sender holding a stale
/// pid can therefore always read the object safely and find out from `incarnation` that its
/// target is gone.
///
/// Invariants
/// - `context`, `pid` (the runner's copy) and `armedTimeout` belong to the process's runner:
///   the one worker that dequeued it. Ownership passes through the run queues and the state
///   word, which order it.
/// - `incarnation` holds the pid of the live process in this slot, or 0. A sender registers in
///   `senders` *before* reading `incarnation`, and a slot is reused only once `senders` is 0
///   after `incarnation` was cleared; so a message for an old pid never reaches a new process.
final class Process: @unchecked Sendable {
    // Sendable: what other threads touch is atomic or the MPSC mailbox; the rest is the runner's.
    /// Index in the process table.
    let slot: Int
    /// Pid of the live process in this slot, or 0 when free.
    let incarnation = Atomic<UInt64>(0)
    /// Senders currently between their pid check and their push.
    let senders = Atomic<Int>(0)
    /// The suspend/reschedule word.
    let state = ProcessStateWord()
    /// Incoming messages.
    let mailbox = Mailbox()
    /// Registers, heap and frames (runner only; nil when the slot is free).
    var context: UnsafeMutablePointer<ExecutionContext>?
    /// What the last process in this slot left for the next one: the memory of its context,
    /// still holding its small register stack (`ExecutionContext.recycle`), so spawning into a
    /// reused slot allocates nothing (written by the runner that ends a process, read by the
    /// spawner that reuses the slot; the hand-over of the slot through the process table's free
    /// lists orders the two).
    var spareContext: UnsafeMutablePointer<ExecutionContext>?
    /// This incarnation's pid (runner only).
    var pid: UInt64 = 0
    /// The result of the IO operation the process is suspended in, set by the IO thread before
    /// it wakes the process; the `io` instruction consumes it when it runs again.
    /// A message node (`IOResults.swift`): the runner copies it into the heap and frees it.
    var ioResult: MessageNode?
    /// Reductions used over this incarnation's life (runner only; for statistics).
    var reductions = 0

    // MARK: Fault tolerance (docs/processes.md)

    /// Signals pushed but not yet acted on. Senders add after pushing; the runner subtracts
    /// as it acts, and checks at the start of each slice (relaxed: a signal it misses by a
    /// hair is seen at the next slice or receive, and the push itself is what wakes it).
    let pendingSignals = Atomic<Int>(0)
    /// Processes linked with this one (runner only).
    var links: Set<UInt64> = []
    /// Monitors this process holds: reference → monitored pid (runner only).
    var monitors = MonitorTable()
    /// Monitors on this process: reference → watching pid (runner only).
    var watchers = MonitorTable()
    /// Why the process is ending, once decided (runner only): a node holding the reason; nil
    /// when it ends by returning (`:normal`).
    var exitReason: MessageNode?

    // MARK: Small fields, together (each field starts where the one before ends, so these fill
    // the optional's tail instead of padding a word apiece: an idle process stays small)

    /// The result of an async host function call, set by its task before the wake-up that
    /// resumes the process (the wake CAS orders the two), taken by the re-run `callhost`.
    var hostCallResult: HostCallResult?
    /// Whether the current suspension armed a timeout (runner only).
    var armedTimeout = false
    /// Set when the process resumed because its timeout fired; the `recv` or `sleep` that
    /// suspended consumes it (runner only).
    var timedOut = false
    /// Whether this incarnation may hold IO handles (runner only): if so, its exit closes them.
    var usedIO = false
    /// Whether a host thread waits for this incarnation's end (`runMain`): set by the spawner
    /// before the pid is published, read by the runner that ends it.
    var isWatched = false
    /// What a process suspended as `.sleeping` waits for (`SleepReason`): it decides what an
    /// exit signal does to it. Written by the runner before it suspends (published by the
    /// suspension's sequentially consistent store), read by signal senders after they load the
    /// suspended state.
    let sleepReason = Atomic<UInt8>(SleepReason.none.rawValue)
    /// Whether this incarnation is a host mailbox (`VM.makeMailbox`): no code runs in it, and
    /// a sender that wakes it signals the host thread waiting in `receive` instead of
    /// scheduling it. Set before the pid is published, cleared when the slot is reused.
    let isHostMailbox = Atomic<Bool>(false)
    /// Whether a name may be registered for this slot's process (`Registry.remove` skips the
    /// registry's lock when it is down; the Dekker argument is in `Registry`).
    let mayHaveName = Atomic<Bool>(false)
    /// Whether exit signals arrive as `{:EXIT, pid, reason}` messages (runner only).
    var trapsExits = false

    /// Clears the fault-tolerance state for a new incarnation (runner of the spawn).
    func resetLinks() {
        if !links.isEmpty { links.removeAll(keepingCapacity: false) }
        monitors.release()
        watchers.release()
        trapsExits = false
        exitReason?.free()
        exitReason = nil
        pendingSignals.store(0, ordering: .relaxed)
        sleepReason.store(SleepReason.none.rawValue, ordering: .relaxed)
    }

    init(slot: Int) { self.slot = slot }

    deinit {
        monitors.release()
        watchers.release()
        exitReason?.free()
        ioResult?.free()
        mailbox.destroy()
        if var context = context?.pointee {
            context.release()
        }
        context?.deallocate()
        if let spareContext {
            spareContext.pointee.releaseSpareStack()
            spareContext.deallocate()
        }
    }

    /// Ends the context of the process that just finished in this slot, keeping its memory
    /// for the slot's next process (runner only).
    func retireContext() {
        guard let context else { return }
        self.context = nil
        context.pointee.recycle()
        spareContext = context
    }

    /// Sets up the context of a new process in this slot, reusing what the last one left.
    func startContext(_ make: (_ spare: UnsafeMutablePointer<ExecutionContext>?) -> ExecutionContext) {
        let spare = spareContext
        spareContext = nil
        let memory = spare ?? .allocate(capacity: 1)
        memory.initialize(to: make(spare))
        context = memory
    }
}

/// What a process suspended as `.sleeping` waits for, and so what an exit signal does to it.
enum SleepReason: UInt8 {
    /// Not sleeping.
    case none
    /// `sleep`: any signal may wake it early (the sleep is then over).
    case timer
    /// An IO request: an exit signal asks the IO thread to cancel it (`Runtime.interruptIO`).
    case io
    /// An async host function: a lethal signal wakes it at once and cancels the function's
    /// task (`Runtime.interruptHostCall`); the function's result is then dropped.
    case hostCall
}
