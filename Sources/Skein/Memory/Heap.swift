import Foundation

/// A process-private heap: bump allocation in one contiguous space, reclaimed by a Cheney
/// copying collector.
///
/// Only the thread currently running the owning process touches a heap, so nothing here is
/// synchronised. The space is allocated lazily: a process that never allocates costs no heap
/// memory at all, which keeps idle processes small.
///
/// Limits: a heap never holds more than `limitWords` live words (the process's `max_heap`), and
/// an allocation the system cannot satisfy is an error too; either way `collect` throws, and
/// the interpreter ends the process with that reason instead of the VM aborting.
///
/// Growth policy: a collection copies the live objects into a fresh space at least as large as
/// the used part of the old one plus the pending request, so it always succeeds. When the
/// survivors fill more than half of the new space, the next space is twice as large; so a
/// program that keeps little alive runs in a small, bounded heap however much it allocates.
///
/// Spaces of `spareMinimumWords` or more are kept after a collection and reused by the next one
/// when it fits (two semispaces): a fresh large space each time came from `mmap` and cost a page
/// fault per 4 KiB touched, a third of the time of a program updating a large map (word_count:
/// 0.4 s of system time in 1 s). Small heaps, which are most processes, keep no spare. A spare
/// stays reserved in the VM's `MemoryBudget` while it is kept.
struct Heap {
    /// First word of the current space (`nil` before the first allocation).
    private(set) var start: UnsafeMutablePointer<UInt64>?
    /// Next free word.
    private(set) var top: UnsafeMutablePointer<UInt64>?
    /// One past the last word of the current space.
    private(set) var end: UnsafeMutablePointer<UInt64>?
    /// Words the next space will have at least.
    private var targetWords: Int
    /// Most live words the heap may hold (a process may lower it: `maxheap`).
    var limitWords: Int
    /// The VM-wide account this heap's space is reserved from, if the VM has a memory limit.
    /// Unmanaged so that a heap costs no reference counting: the runtime holds the budget for
    /// longer than any process exists.
    private let budgetReference: Unmanaged<MemoryBudget>?
    /// The budget, borrowed.
    private var budget: MemoryBudget? { budgetReference?.takeUnretainedValue() }
    /// The from-space of the last collection, kept for the next one (nil when small).
    private var spare: UnsafeMutablePointer<UInt64>?
    /// Words of `spare`.
    private var spareWords = 0

    /// Smallest space kept as a spare: 1 MiB.
    static let spareMinimumWords = 1 << 17

    /// Words a heap starts with on its first allocation: 512 bytes, enough for a short-lived
    /// process's few small objects, so a million such processes stay small; growth doubles.
    static let initialWords = 64

    /// Why a heap cannot provide the words asked for.
    enum Failure: Error {
        /// The live data plus the request would exceed `limitWords`.
        case limitReached(limitWords: Int, requestedWords: Int)
        /// The system refused the memory.
        case outOfMemory(words: Int)
        /// The VM's heaps together would pass the VM-wide limit (`MemoryBudget`).
        case vmLimitReached(limitWords: Int, requestedWords: Int)
    }

    /// An empty heap that may hold up to `limitWords` live words; no memory is taken until the
    /// first allocation.
    init(initialWords: Int = Heap.initialWords, limitWords: Int = Int.max, budget: Unmanaged<MemoryBudget>? = nil) {
        self.targetWords = initialWords
        self.limitWords = limitWords
        self.budgetReference = budget
    }

    /// Words in the current space.
    var capacityWords: Int { start.map { end! - $0 } ?? 0 }
    /// Words in use.
    var usedWords: Int { start.map { top! - $0 } ?? 0 }

    /// Bump-allocates `words` words if they fit, without collecting.
    @inline(__always)
    mutating func tryAllocate(words: Int) -> UnsafeMutablePointer<UInt64>? {
        guard let top, end! - top >= words else { return nil }
        self.top = top + words
        return top
    }

    /// Runs a collection that leaves room for `words` more words.
    ///
    /// `roots` is called with a copier (twice when the spare space took the survivors but not
    /// the request); it must pass every root word (registers, pending values) to
    /// `Copier.visit`. After it returns, every root has been updated to the moved objects and
    /// the old space is freed or kept as the spare. Throws, leaving the heap as it was (or
    /// collected into the spare), when the request alone exceeds the limit or the system has no
    /// memory for the new space; throws after collecting when the survivors plus the request
    /// exceed the limit.
    mutating func collect(reserving words: Int, roots: (inout Copier) -> Void) throws(Failure) {
        guard words <= limitWords else { throw .limitReached(limitWords: limitWords, requestedWords: words) }
        // A kept space at least as large as what is in use takes every survivor. (Within an
        // eighth of the target, so that reuse does not undo a doubling.)
        if let spare, spareWords >= usedWords, spareWords >= targetWords - targetWords / 8 {
            self.spare = nil
            evacuate(into: spare, words: spareWords, roots: roots)
        } else if capacityWords >= Heap.spareMinimumWords {
            // A large heap gets a space as large as the one in use (every survivor fits), so
            // that the next collection can reuse the one it leaves.
            try evacuateIntoFresh(words: Swift.max(targetWords, usedWords), requested: words, roots: roots)
        }
        // If the request does not fit beside the survivors (or nothing was collected yet): a
        // space sized for the worst case, everything surviving, so the copy cannot overflow.
        if start == nil || end! - top! < words {
            try evacuateIntoFresh(words: Swift.max(targetWords, usedWords + words), requested: words, roots: roots)
        }
        if (usedWords + words) * 2 > capacityWords { targetWords = Swift.min(capacityWords * 2, limitWords) } else { targetWords = capacityWords }
        if usedWords > limitWords - words { throw .limitReached(limitWords: limitWords, requestedWords: words) }
    }

    /// Collects into a new space of `words` words (freeing the spare). The new space is reserved
    /// in full while the old one still counts: both exist until the copy is done.
    private mutating func evacuateIntoFresh(words: Int, requested: Int, roots: (inout Copier) -> Void) throws(Failure) {
        freeSpare()
        if let budget, !budget.reserve(words) {
            throw .vmLimitReached(limitWords: budget.limitWords, requestedWords: requested)
        }
        guard let memory = malloc(words * MemoryLayout<UInt64>.stride) else {
            budget?.release(words)
            throw .outOfMemory(words: words)
        }
        evacuate(into: memory.bindMemory(to: UInt64.self, capacity: words), words: words, roots: roots)
    }

    /// Copies the live objects into the space of `words` words at `to`, which becomes the heap's
    /// space; the old one is kept as the spare if it is large (still reserved), else freed.
    private mutating func evacuate(into to: UnsafeMutablePointer<UInt64>, words: Int, roots: (inout Copier) -> Void) {
        var copier = Copier(from: start, fromEnd: end, to: to)
        roots(&copier)
        copier.scanToFixpoint()
        if capacityWords >= Heap.spareMinimumWords {
            spare = start
            spareWords = capacityWords
        } else {
            budget?.release(capacityWords)
            free(start)
        }
        start = to
        top = copier.free
        end = to + words
    }

    /// Frees the spare space and its reservation.
    private mutating func freeSpare() {
        guard let spare else { return }
        budget?.release(spareWords)
        free(spare)
        self.spare = nil
    }

    /// Frees the heap's memory. Every value in it becomes invalid.
    mutating func release() {
        budget?.release(capacityWords)
        free(start)
        freeSpare()
        start = nil
        top = nil
        end = nil
    }
}

/// The Cheney copier used by `Heap.collect`: evacuates objects reachable from the visited roots
/// out of the old space, then scans the copies breadth-first.
struct Copier {
    private let fromStart: UInt
    private let fromEnd: UInt
    private var scan: UnsafeMutablePointer<UInt64>
    /// The next free word in the new space.
    private(set) var free: UnsafeMutablePointer<UInt64>

    init(from: UnsafeMutablePointer<UInt64>?, fromEnd: UnsafeMutablePointer<UInt64>?,
         to: UnsafeMutablePointer<UInt64>) {
        self.fromStart = from.map { UInt(bitPattern: $0) } ?? 0
        self.fromEnd = fromEnd.map { UInt(bitPattern: $0) } ?? 0
        self.scan = to
        self.free = to
    }

    /// Updates one root word in place, evacuating the object it points to.
    @inline(__always)
    mutating func visit(_ word: UnsafeMutablePointer<UInt64>) {
        let raw = word.pointee
        guard raw & 0b111 == Value.pointerTag else { return }
        let address = UInt(raw & ~Value.pointerTag)
        guard address >= fromStart && address < fromEnd else { return }
        word.pointee = evacuate(UnsafeMutablePointer(bitPattern: address)!)
    }

    /// Visits `count` consecutive root words.
    mutating func visit(_ words: UnsafeMutablePointer<UInt64>, count: Int) {
        for i in 0..<count { visit(words + i) }
    }

    /// Copies `object` to the new space (once) and returns the tagged new address.
    private mutating func evacuate(_ object: UnsafeMutablePointer<UInt64>) -> UInt64 {
        let header = object.pointee
        if header & 1 == 1 { return header & ~1 | Value.pointerTag }  // already forwarded
        let size = 1 + Int(header >> 8)
        let copy = free
        copy.update(from: object, count: size)
        free += size
        object.pointee = UInt64(UInt(bitPattern: copy)) | 1
        return UInt64(UInt(bitPattern: copy)) | Value.pointerTag
    }

    /// Scans copied objects until every reachable object has been evacuated.
    mutating func scanToFixpoint() {
        while scan < free {
            let header = scan.pointee
            let payload = Int(header >> 8)
            let kind = HeapObject.kind(fromHeader: header)
            if HeapObject.holdsValues(kind) {
                visit(scan + 1, count: payload)
            }
            scan += 1 + payload
        }
    }
}
