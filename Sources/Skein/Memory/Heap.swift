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
struct Heap {
    /// First word of the current space (`nil` before the first allocation).
    private(set) var start: UnsafeMutablePointer<UInt64>?
    /// Next free word.
    private(set) var top: UnsafeMutablePointer<UInt64>?
    /// One past the last word of the current space.
    private(set) var end: UnsafeMutablePointer<UInt64>?
    /// Words the next space will have at least.
    private var targetWords: Int
    /// Number of collections run so far.
    private(set) var collections = 0
    /// Most live words the heap may hold (a process may lower it: `maxheap`).
    var limitWords: Int
    /// The VM-wide account this heap's space is reserved from, if the VM has a memory limit.
    /// Unmanaged so that a heap costs no reference counting: the runtime holds the budget for
    /// longer than any process exists.
    private let budgetReference: Unmanaged<MemoryBudget>?
    /// The budget, borrowed.
    private var budget: MemoryBudget? { budgetReference?.takeUnretainedValue() }

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
    init(initialWords: Int = Heap.initialWords, limitWords: Int = Int.max, budget: MemoryBudget? = nil) {
        self.targetWords = initialWords
        self.limitWords = limitWords
        self.budgetReference = budget.map { Unmanaged.passUnretained($0) }
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
    /// `roots` is called once with a copier; it must pass every root word (registers, pending
    /// values) to `Copier.visit`. After it returns, every root has been updated to the moved
    /// objects and the old space is freed. Throws, leaving the heap as it was, when the
    /// request alone exceeds the limit or the system has no memory for the new space; throws
    /// after collecting when the survivors plus the request exceed the limit.
    mutating func collect(reserving words: Int, roots: (inout Copier) -> Void) throws(Failure) {
        guard words <= limitWords else { throw .limitReached(limitWords: limitWords, requestedWords: words) }
        // Sized for the worst case (everything survives), so the copy cannot overflow.
        let newWords = Swift.max(targetWords, usedWords + words)
        // The new space is reserved in full while the old one still counts: both exist until
        // the copy is done.
        if let budget, !budget.reserve(newWords) {
            throw .vmLimitReached(limitWords: budget.limitWords, requestedWords: words)
        }
        guard let memory = malloc(newWords * MemoryLayout<UInt64>.stride) else {
            budget?.release(newWords)
            throw .outOfMemory(words: newWords)
        }
        let newStart = memory.bindMemory(to: UInt64.self, capacity: newWords)
        var copier = Copier(from: start, fromEnd: end, to: newStart)
        roots(&copier)
        copier.scanToFixpoint()
        budget?.release(capacityWords)
        free(start)
        start = newStart
        top = copier.free
        end = newStart + newWords
        collections += 1
        if (usedWords + words) * 2 > newWords { targetWords = Swift.min(newWords * 2, limitWords) } else { targetWords = newWords }
        if usedWords > limitWords - words { throw .limitReached(limitWords: limitWords, requestedWords: words) }
    }

    /// Frees the heap's memory. Every value in it becomes invalid.
    mutating func release() {
        budget?.release(capacityWords)
        free(start)
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
            let kind = HeapKind(rawValue: UInt8(truncatingIfNeeded: header >> 1) & 0x7F)!
            if HeapObject.holdsValues(kind) {
                visit(scan + 1, count: payload)
            }
            scan += 1 + payload
        }
    }
}
