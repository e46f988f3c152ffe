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
/// - `incarnation` holds the pid of the live process in this slot, or 0. A signal sender
///   registers in `senders` *before* reading `incarnation`, and a slot is reused only once
///   `senders` is 0 after `incarnation` was cleared; so a signal for an old pid never reaches a
///   new process. A message sender does not register (it costs every message two locked
///   operations): a message carries its pid, and the mailbox drops one for an earlier pid.
final class Process: @unchecked Sendable {
    // Sendable: what other threads touch is atomic or the MPSC mailbox; the rest is the runner's.
    //
    // Layout: every slot has one of these for the VM's life, so its size is the per-process
    // cost a million idle processes pay. Word fields come first and byte fields last, with
    // nothing else between them, so the object is 104 bytes: the 112-byte `malloc` class. What
    // few processes use lives behind `relations`.

    /// Index in the process table.
    let slot: Int
    /// Pid of the live process in this slot, or 0 when free.
    let incarnation = Atomic<UInt64>(0)
    /// Signal senders currently between their pid check and their push.
    let senders = Atomic<Int>(0)
    /// The suspend/reschedule word.
    let state = ProcessStateWord()
    /// Incoming messages. Its allocation also holds the slot's `ExecutionContext` memory
    /// (`contextMemory`): one `malloc` chunk per slot for both.
    let mailbox = Mailbox(trailingBytes: ExecutionContext.memoryBytes)
    /// This incarnation's pid (runner only).
    var pid: UInt64 = 0
    /// The result of the IO operation the process is suspended in, set by the IO thread before
    /// it wakes the process; the `io` instruction consumes it when it runs again.
    /// A message node (`IOResults.swift`): the runner copies it into the heap and frees it.
    var ioResult: MessageNode?
    /// Reductions used over this incarnation's life (runner only; for statistics).
    var reductions = 0
    /// Signals pushed but not yet acted on. Senders add after pushing; the runner subtracts
    /// as it acts, and checks at the start of each slice (relaxed: a signal it misses by a
    /// hair is seen at the next slice or receive, and the push itself is what wakes it).
    let pendingSignals = Atomic<Int>(0)
    /// Links, monitors, exit reason and the like (`ProcessRelations`), allocated the first time
    /// a process in this slot needs one and kept for the slot's later processes; nil until then.
    /// Touched only by whoever owns the process: its runner, or the thread that won its wake
    /// and has not scheduled it yet (an async host call's task).
    private var relations: UnsafeMutablePointer<ProcessRelations>?

    // MARK: Small fields (one byte each, packed after the words)

    /// What `contextMemory` holds (runner only; between two processes in the slot, the slot's
    /// hand-over through the table's free lists orders the last runner's write before the
    /// spawner's read).
    private var contextState = ContextState.empty
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

    init(slot: Int) {
        self.slot = slot
        contextMemory.bindContextMemory()
    }

    deinit {
        releaseContext()
        ioResult?.free()
        if let relations {
            relations.pointee.release()
            relations.deinitialize(count: 1)
            relations.deallocate()
        }
        mailbox.destroy()
    }

    // MARK: Execution context

    /// What the context memory of a slot holds.
    private enum ContextState: UInt8 {
        /// Nothing: no process has run in this slot yet.
        case empty
        /// The context of the live process.
        case live
        /// What the last process left for the next (`recycleContext`): a small
        /// register stack at most, so spawning into a reused slot allocates nothing.
        case spare
    }

    /// The slot's context memory, right after the mailbox's fields in their allocation.
    private var contextMemory: UnsafeMutablePointer<ExecutionContext> {
        mailbox.trailingMemory.assumingMemoryBound(to: ExecutionContext.self)
    }

    /// Registers, heap and frames (runner only; nil when no process runs in the slot).
    var context: UnsafeMutablePointer<ExecutionContext>? { contextState == .live ? contextMemory : nil }

    /// Ends the context of the process that just finished in this slot, keeping its memory
    /// and small register stack for the slot's next process (runner only).
    func retireContext() {
        guard contextState == .live else { return }
        contextMemory.recycleContext()
        contextState = .spare
    }

    /// Frees everything the slot's context holds (the VM is shutting down).
    func releaseContext() {
        guard contextState != .empty else { return }
        retireContext()
        contextMemory.releaseSpareStack()
    }

    /// Sets up the context of a new process in this slot, reusing what the last one left:
    /// `start` gets the memory and whether it holds a spare (`startContext(…reusingSpare:)`).
    func startContext(_ start: (_ memory: UnsafeMutablePointer<ExecutionContext>, _ reusingSpare: Bool) -> Void) {
        assert(contextState != .live, "a second context for one process")
        start(contextMemory, contextState == .spare)
        contextState = .live
    }

    // MARK: Relations (docs/processes.md)

    /// Where the relations are, once a process in this slot has needed them (for tests).
    var relationsAddress: UnsafeRawPointer? { relations.map { UnsafeRawPointer($0) } }

    /// The relations, allocated on first use.
    private var ownRelations: UnsafeMutablePointer<ProcessRelations> {
        if let relations { return relations }
        let fresh = UnsafeMutablePointer<ProcessRelations>.allocate(capacity: 1)
        fresh.initialize(to: ProcessRelations())
        relations = fresh
        return fresh
    }

    // The three collections below are changed in place when the relations exist; otherwise a
    // change happens on an empty local and the relations are allocated only if it added
    // something, so removing from a process that never had any (a stray `unlink` or
    // `demonitor`) costs the slot nothing.

    /// Processes linked with this one (runner only).
    var links: Set<UInt64> {
        get { relations?.pointee.links ?? [] }
        _modify {
            if let relations {
                yield &relations.pointee.links
            } else {
                var added = Set<UInt64>()
                yield &added
                if !added.isEmpty { ownRelations.pointee.links = added }
            }
        }
    }
    /// Monitors this process holds: reference → monitored pid (runner only).
    var monitors: MonitorTable {
        get { relations?.pointee.monitors ?? MonitorTable() }
        _modify {
            if let relations {
                yield &relations.pointee.monitors
            } else {
                var added = MonitorTable()
                yield &added
                keep(added, as: \.monitors)
            }
        }
    }
    /// Monitors on this process: reference → watching pid (runner only).
    var watchers: MonitorTable {
        get { relations?.pointee.watchers ?? MonitorTable() }
        _modify {
            if let relations {
                yield &relations.pointee.watchers
            } else {
                var added = MonitorTable()
                yield &added
                keep(added, as: \.watchers)
            }
        }
    }
    /// Makes `table`, filled on an empty local by a change to a process without relations, the
    /// relations' `field`, or frees it if the change left it empty.
    private func keep(_ table: MonitorTable, as field: WritableKeyPath<ProcessRelations, MonitorTable>) {
        var table = table
        if table.isEmpty { table.release() } else { ownRelations.pointee[keyPath: field] = table }
    }
    /// Why the process is ending, once decided (runner only): a node holding the reason; nil
    /// when it ends by returning (`:normal`).
    var exitReason: MessageNode? {
        get { relations?.pointee.exitReason }
        set { if newValue != nil || relations != nil { ownRelations.pointee.exitReason = newValue } }
    }
    /// The result of an async host function call, set by its task before the wake-up that
    /// resumes the process (the wake CAS orders the two), taken by the re-run `callhost`.
    var hostCallResult: HostCallResult? {
        get { relations?.pointee.hostCallResult }
        set { if newValue != nil || relations != nil { ownRelations.pointee.hostCallResult = newValue } }
    }
    /// Whether exit signals arrive as `{:EXIT, pid, reason}` messages (runner only).
    var trapsExits: Bool {
        get { relations?.pointee.trapsExits ?? false }
        set { if newValue || relations != nil { ownRelations.pointee.trapsExits = newValue } }
    }

    /// Clears the fault-tolerance state for a new incarnation (runner of the spawn).
    func resetLinks() {
        relations?.pointee.reset()
        pendingSignals.store(0, ordering: .relaxed)
        sleepReason.store(SleepReason.none.rawValue, ordering: .relaxed)
    }
}

/// What a process has only once it links, monitors or is monitored, traps exits, fails, or
/// calls an async host function: kept apart from `Process` so an idle process does not pay
/// for it (56 bytes).
struct ProcessRelations {
    /// Processes linked with this one.
    var links: Set<UInt64> = []
    /// Monitors this process holds: reference → monitored pid.
    var monitors = MonitorTable()
    /// Monitors on this process: reference → watching pid.
    var watchers = MonitorTable()
    /// Why the process is ending, once decided; nil when it ends by returning.
    var exitReason: MessageNode?
    /// The result of an async host function call, waiting for the re-run `callhost`.
    var hostCallResult: HostCallResult?
    /// Whether exit signals arrive as messages.
    var trapsExits = false

    /// Empties everything for the slot's next process, freeing what it holds.
    mutating func reset() {
        if !links.isEmpty { links.removeAll(keepingCapacity: false) }
        release()
        hostCallResult = nil
        trapsExits = false
    }

    /// Frees the monitor tables and the exit reason.
    mutating func release() {
        monitors.release()
        watchers.release()
        exitReason?.free()
        exitReason = nil
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
