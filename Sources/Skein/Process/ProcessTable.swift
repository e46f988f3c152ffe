#if canImport(Glibc)
import Glibc
#endif
import CSkeinSupport
import Synchronization

/// Maps pids to processes and hands out slots.
///
/// A pid is `generation << slotBits | slot`: the slot finds the process object in O(1) with
/// no lock, the generation (bumped on every reuse of the slot) tells incarnations apart.
///
/// Invariants
/// - `slots[i]` is written once (with release) before any pid for slot `i` exists, and never
///   changes afterwards; lookups load it with acquire.
/// - A slot is in `free` only while no process lives in it.
/// - `live` counts processes between `allocate` and `release`.
/// - Nothing addressed to one pid reaches another: a signal sender holds off reuse
///   (`withLiveProcess`); a message carries its pid, which the mailbox checks (`withMessageTarget`).
final class ProcessTable: @unchecked Sendable {
    // Sendable: slots are atomics written once; the free list is locked; the counters are atomic.
    /// Bits of a pid that hold the slot.
    static let slotBits = 22
    /// Most processes alive at once (the process limit).
    let capacity: Int
    /// Slots in the table: `capacity` plus room for the free slots that workers' caches may
    /// hold, so a spawn below the limit always finds a slot (in its own cache, the shared list
    /// or a fresh one) even while other workers' caches keep theirs.
    let slotCount: Int
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    private let nextFresh = Atomic<Int>(0)
    private let freeList = Locked<[Int]>([])
    /// Processes alive.
    let live = Atomic<Int>(0)
    /// Highest `live` seen.
    let peakLive = Atomic<Int>(0)

    /// A table for at most `capacity` live processes, used by `cachingWorkers` workers with a
    /// `SlotCache` each. The limit is lowered if the slots it needs would not fit in a pid.
    init(capacity: Int = 1 << ProcessTable.slotBits, cachingWorkers: Int = 0) {
        // A cache holds at most `SlotCache.capacity` slots, plus the one its worker is freeing;
        // 64 more for slots that host threads are freeing at the same moment.
        let slack = cachingWorkers * (SlotCache.capacity + 1) + 64
        let maxSlots = 1 << ProcessTable.slotBits
        precondition(capacity >= 1 && slack < maxSlots)
        self.capacity = min(capacity, maxSlots - slack)
        slotCount = self.capacity + slack
        // calloc: untouched pages of a large table cost no memory. Zeroed bytes are valid
        // `Atomic<UInt>`s holding 0 (an atomic word is laid out as the bare word).
        let raw = calloc(slotCount, MemoryLayout<UInt>.stride)!
        slots = raw.bindMemory(to: Atomic<UInt>.self, capacity: slotCount)
    }

    deinit {
        let fresh = nextFresh.load(ordering: .acquiring)
        for i in 0..<min(fresh, slotCount) {
            let bits = slots[i].load(ordering: .acquiring)
            if bits != 0 { Unmanaged<Process>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        }
        free(slots)
    }

    /// A process object for a new process with a fresh pid, or nil when the table is full.
    /// A worker passes its `cache`: free slots come from it first, and a batch at a time from
    /// the shared list.
    func allocate(cache: SlotCache? = nil) -> (Process, UInt64)? {
        // The limit counts live processes, not slots in use (some free ones sit in caches).
        let now = live.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= capacity else {
            live.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        let process: Process
        if let reused = cache?.take() ?? takeShared(refilling: cache) {
            process = self.process(atSlot: reused)!
            // Let signal senders that saw the previous pid finish, then drop what came in. A
            // message sender may still push for the old pid later; the new owner drops that.
            while process.senders.load(ordering: .sequentiallyConsistent) != 0 { skein_yield() }
            process.mailbox.drain()
        } else {
            let slot = nextFresh.wrappingAdd(1, ordering: .relaxed).oldValue
            // Does not happen: fewer than `capacity` others are alive, and at most `slotCount -
            // capacity` free slots are out of reach in other workers' caches or being freed
            // (`slotCount`'s slack). Should it, the spawn fails with the limit error.
            guard slot < slotCount else {
                nextFresh.wrappingSubtract(1, ordering: .relaxed)
                live.wrappingSubtract(1, ordering: .relaxed)
                return nil
            }
            process = Process(slot: slot)
            slots[slot].store(UInt(bitPattern: Unmanaged.passRetained(process).toOpaque()), ordering: .releasing)
        }
        let generation = (process.pid >> ProcessTable.slotBits) + 1
        let pid = generation << ProcessTable.slotBits | UInt64(process.slot)
        process.pid = pid
        process.mailbox.setOwner(pid)
        var peak = peakLive.load(ordering: .relaxed)
        while now > peak {
            let (exchanged, original) = peakLive.compareExchange(expected: peak, desired: now, ordering: .relaxed)
            if exchanged { break }
            peak = original
        }
        return (process, pid)
    }

    /// Makes `process` reachable by its pid (after its context is ready).
    func publish(_ process: Process) {
        assert(process.pid != 0 && process.incarnation.load(ordering: .relaxed) == 0, "published twice")
        process.incarnation.store(process.pid, ordering: .sequentiallyConsistent)
    }

    /// Retires an ending process: its pid stops resolving, and once this returns no signal
    /// sender is between its pid check and its push, so the mailbox holds every signal it will
    /// ever get. (A message may still come in; see `withMessageTarget`.)
    func retire(_ process: Process) {
        process.incarnation.store(0, ordering: .sequentiallyConsistent)
        while process.senders.load(ordering: .sequentiallyConsistent) != 0 { skein_yield() }
    }

    /// Frees the slot of a retired process for reuse: into the ending worker's `cache` if it
    /// has room, else (with half the cache) into the shared list.
    func release(_ process: Process, cache: SlotCache? = nil) {
        assert(process.incarnation.load(ordering: .relaxed) == 0, "released before it was retired")
        live.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // pairs with Runtime.waitForAll
        freeSlot(process.slot, cache: cache)
    }

    /// Gives back a slot from `allocate` whose process never started (its spawn failed).
    func abandon(_ process: Process, cache: SlotCache? = nil) {
        live.wrappingSubtract(1, ordering: .relaxed)
        freeSlot(process.slot, cache: cache)
    }

    private func freeSlot(_ slot: Int, cache: SlotCache?) {
        guard let cache else {
            freeList.withLock { $0.append(slot) }
            return
        }
        if cache.keep(slot) { return }
        freeList.withLock { cache.spill(into: &$0) }
        _ = cache.keep(slot)
    }

    /// A slot from the shared free list, moving up to a batch more into `cache` with it.
    private func takeShared(refilling cache: SlotCache?) -> Int? {
        freeList.withLock { list -> Int? in
            guard let slot = list.popLast() else { return nil }
            if let cache {
                for _ in 1..<min(SlotCache.batch, list.count + 1) { _ = cache.keep(list.removeLast()) }
            }
            return slot
        }
    }

    /// The slot part of `pid`.
    @inline(__always) static func slot(of pid: UInt64) -> Int { Int(pid & (1 << ProcessTable.slotBits - 1)) }

    /// Whether `pid` names a live process.
    func isAlive(_ pid: UInt64) -> Bool {
        process(atSlot: ProcessTable.slot(of: pid))?.incarnation.load(ordering: .sequentiallyConsistent) == pid
    }

    /// The process object of `slot`, if that slot was ever used. Unretained, which is sound:
    /// the table holds a reference to every process object until it is freed itself.
    func process(atSlot slot: Int) -> Process? {
        object(atSlot: slot)?.takeUnretainedValue()
    }

    /// The object of `slot`, unretained, if that slot was ever used.
    @inline(__always)
    private func object(atSlot slot: Int) -> Unmanaged<Process>? {
        guard slot < slotCount else { return nil }
        let bits = slots[slot].load(ordering: .acquiring)
        guard bits != 0 else { return nil }
        return Unmanaged<Process>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }

    /// Runs `body` with the process to push a message for `pid` into, if `pid` is alive.
    ///
    /// Unlike `withLiveProcess`, this does not hold off slot reuse: it costs a message two
    /// fewer locked read-modify-writes on the receiver's cache line. The process may therefore
    /// end, and a later one start in its slot, between this check and the push; such a message
    /// is addressed to the old pid (`Mailbox.push(_:to:)`), so the mailbox drops it (`Mailbox`'s
    /// owner invariant) or the slot's reuse frees it (`allocate`). Waking the later process for
    /// it is a spurious wake-up, which a receive tolerates. Only for messages: a signal needs
    /// `withLiveProcess`, because its sender must learn whether it arrived.
    @inline(__always)
    func withMessageTarget<R>(_ pid: UInt64, _ body: (Process) -> R) -> R? {
        // Borrowed without retaining, as in `withLiveProcess`.
        object(atSlot: ProcessTable.slot(of: pid))?._withUnsafeGuaranteedRef { process in
            process.incarnation.load(ordering: .acquiring) == pid ? body(process) : nil
        }
    }

    /// Runs `body` with the live process `pid`, if it is alive, holding off slot reuse meanwhile.
    @inline(__always)
    func withLiveProcess<R>(_ pid: UInt64, _ body: (Process) -> R) -> R? {
        // Type-stable objects: borrow without retaining (no shared reference count on the
        // message path).
        object(atSlot: ProcessTable.slot(of: pid))?._withUnsafeGuaranteedRef { process in
            process.senders.wrappingAdd(1, ordering: .sequentiallyConsistent)
            defer { process.senders.wrappingSubtract(1, ordering: .releasing) }
            guard process.incarnation.load(ordering: .sequentiallyConsistent) == pid else { return nil }
            return body(process)
        }
    }

    /// Every process object ever created (for shutdown).
    func forEachProcess(_ body: (Process) -> Void) {
        for i in 0..<min(nextFresh.load(ordering: .acquiring), slotCount) {
            if let p = process(atSlot: i) { body(p) }
        }
    }
}
