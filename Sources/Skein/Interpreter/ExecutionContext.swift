/// A saved call frame: where to go back to when the callee returns.
struct Frame {
    /// Absolute code index to resume the caller at.
    var returnPC: Int32
    /// The caller's register base in the register stack.
    var base: Int32
    /// The caller's function index.
    var function: Int32
    /// The caller's register that receives the result.
    var destination: Int32
}

/// An open `try` region: where a runtime error inside it goes.
struct CatchFrame {
    /// Absolute code index of the handler.
    var handler: Int32
    /// The register (of the frame that opened the region) that receives the error value.
    var destination: Int32
    /// Frames on the call stack when the region opened; unwinding returns to this depth.
    var frameCount: Int32
    /// Register base and function of the frame that opened the region.
    var base: Int32
    var function: Int32
}

/// A stack of plain values in manually managed memory, growing by doubling up to a limit: the
/// frame stack and the catch stack (no class references or reference counting, so pushing a
/// call frame costs a store and an increment).
///
/// 16 bytes (a pointer and two 32-bit counts): every live process has two of these, so their
/// size is part of the memory of an idle process.
struct BoundedStack<Element> {
    private(set) var elements: UnsafeMutablePointer<Element>?
    private var storedCapacity: Int32 = 0
    private var storedCount: Int32 = 0
    /// Number of elements.
    @inline(__always) var count: Int { Int(storedCount) }
    private var capacity: Int { Int(storedCapacity) }
    /// Most elements; `push` fails beyond it.
    var limit: Int { ExecutionContext.maxFrames }

    init() {}

    /// Pushes `element`. Returns false at the limit.
    @inline(__always)
    mutating func push(_ element: Element) -> Bool {
        guard makeRoom() else { return false }
        pushWithRoom(element)
        return true
    }

    /// Whether `pushWithRoom` may push now (the storage need not grow).
    @inline(__always) var hasRoom: Bool { count < capacity }

    /// Grows the storage if it is full. Returns false at the limit.
    @inline(__always)
    mutating func makeRoom() -> Bool {
        if count == capacity {
            guard count < limit else { return false }
            grow()
        }
        return true
    }

    /// Pushes `element` when `hasRoom` (a call pushes a frame this way: a store and an increment;
    /// `elements` exists once `capacity` is above `count`).
    @inline(__always)
    mutating func pushWithRoom(_ element: Element) {
        elements.unsafelyUnwrapped[count] = element
        storedCount &+= 1
    }

    @inline(never)
    private mutating func grow() {
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: min(max(8, capacity * 2), limit))
        if let elements {
            grown.moveInitialize(from: elements, count: count)
            elements.deallocate()
        }
        elements = grown
        storedCapacity = Int32(min(max(8, capacity * 2), limit))
    }

    /// Removes and returns the top element (which must exist).
    @inline(__always) mutating func pop() -> Element {
        storedCount &-= 1
        return elements.unsafelyUnwrapped[count]
    }

    /// The top element, if any.
    @inline(__always) var top: Element? { count > 0 ? elements.unsafelyUnwrapped[count &- 1] : nil }

    /// Drops elements down to `newCount`.
    @inline(__always) mutating func truncate(to newCount: Int) { storedCount = Int32(min(count, newCount)) }

    /// Frees the memory.
    mutating func release() {
        elements?.deallocate()
        elements = nil
        storedCapacity = 0
        storedCount = 0
    }
}

/// Everything a process needs to run that only the worker currently running it touches: its
/// heap, register stack, frame and catch stacks and where it stopped.
///
/// The register stack holds the frames' registers back to back; it grows by reallocation (no
/// pointer into it survives a call), and every word below the current frame's end is a
/// well-formed value, because the collector scans it as roots.
struct ExecutionContext {
    /// The process's private heap.
    var heap: Heap
    /// Register stack.
    var stack: UnsafeMutablePointer<UInt64>
    /// Frame stack (callers of the current function).
    var frames = BoundedStack<Frame>()
    /// Open `try` regions, innermost last.
    var catches = BoundedStack<CatchFrame>()
    /// Reductions left in the running slice (`Interpreter.run` counts them here).
    var reductions = 0
    // The four below are stored in 32 bits (a context is one of the few allocations every idle
    // process has: 16 bytes less keeps it, with the mailbox, in a smaller `malloc` size class).
    // Each fits: the register stack is at most `maxStackWords` (2^24) words, and the loader
    // allows at most 2^24 code words and 2^16 functions (`Verifier`).
    /// Words of the register stack.
    @Stored32 var stackCapacity: Int
    /// Where to resume: absolute code index.
    @Stored32 var pc = 0
    /// The current frame's first register in `stack`.
    @Stored32 var base = 0
    /// Index of the running function.
    @Stored32 var function = 0

    /// Deepest call nesting before a stack overflow error.
    static let maxFrames = 100_000
    /// Largest register stack, in words, before a stack overflow error (128 MiB).
    static let maxStackWords = 16 << 20

    /// A context about to call `function` with `arguments`, whose heap may hold
    /// `heapLimitWords` live words, reserved from the VM's `budget` if it has one, with the
    /// register stack `stack` of `stackWords` words (`UnsafeMutablePointer.startContext` picks
    /// it).
    fileprivate init(program: LoadedProgram, function: Int, arguments: UnsafeBufferPointer<UInt64>, heapLimitWords: Int,
                     budget: Unmanaged<MemoryBudget>?, stack: UnsafeMutablePointer<UInt64>, stackWords: Int) {
        heap = Heap(limitWords: heapLimitWords, budget: budget)
        self.stack = stack
        stackCapacity = stackWords
        stack.initialize(repeating: Value.nil.raw, count: stackWords)
        for (i, a) in arguments.enumerated() { stack[i] = a }
        self.function = function
        self.pc = program.functions[function].entry
    }

    /// Largest register stack, in words, that outlives its process for the slot's next one
    /// (256 bytes: the frames of most short-lived processes fit).
    static let keptStackWords = 32

    /// Words of register stack right after a context in its memory (`inlineStack`): a frame of
    /// `FunctionInfo.smallFrame` registers, which is what most processes' entry functions need.
    static let inlineStackWords = FunctionInfo.smallFrame

    /// Bytes of a context's memory: the context, then its inline register stack.
    static let memoryBytes = MemoryLayout<ExecutionContext>.stride + inlineStackWords * MemoryLayout<UInt64>.stride
}

/// The life of a context in its memory (`ExecutionContext.memoryBytes` bytes, in its slot's
/// allocation). The context's register stack is either the inline one right after it, or a
/// `malloc` block once it outgrows that; only a `malloc` block is ever freed. An inline stack
/// saves an idle process a 48-byte chunk.
extension UnsafeMutablePointer where Pointee == ExecutionContext {
    /// The inline register stack, right after the context.
    var inlineStack: UnsafeMutablePointer<UInt64> {
        (UnsafeMutableRawPointer(self) + MemoryLayout<ExecutionContext>.stride).assumingMemoryBound(to: UInt64.self)
    }

    /// Binds fresh context memory (once, before the first `startContext`).
    func bindContextMemory() {
        UnsafeMutableRawPointer(self).bindMemory(to: ExecutionContext.self, capacity: 1)
        (UnsafeMutableRawPointer(self) + MemoryLayout<ExecutionContext>.stride).bindMemory(to: UInt64.self, capacity: ExecutionContext.inlineStackWords)
    }

    /// Starts a context here for a call of `function` with `arguments` (see `ExecutionContext`'s
    /// initializer). With `reusingSpare`, the memory holds what the slot's last process left
    /// (`recycleContext`): its register stack is kept if it is large enough, so a short-lived
    /// process costs no allocation for its registers; otherwise the inline stack is used when
    /// the frame fits.
    func startContext(program: LoadedProgram, function: Int, arguments: UnsafeBufferPointer<UInt64>, heapLimitWords: Int = Int.max,
                      budget: Unmanaged<MemoryBudget>? = nil, reusingSpare: Bool) {
        let frameWords = program.functions[function].frameWords
        var stack = inlineStack
        var stackWords = ExecutionContext.inlineStackWords
        if reusingSpare, pointee.stackCapacity > 0, pointee.stackCapacity >= frameWords {
            stack = pointee.stack
            stackWords = pointee.stackCapacity
        } else {
            if reusingSpare { releaseSpareStack() }
            if frameWords > stackWords {
                stackWords = frameWords
                stack = .allocate(capacity: frameWords)
            }
        }
        // `ExecutionContext` is plain words, so initializing over a spare leaks nothing: its
        // stack was taken over or freed above.
        initialize(to: ExecutionContext(program: program, function: function, arguments: arguments, heapLimitWords: heapLimitWords,
                                        budget: budget, stack: stack, stackWords: stackWords))
    }

    /// Grows the register stack to hold at least `words` words. Returns false past the limit.
    func growStack(toHold words: Int) -> Bool {
        guard words <= ExecutionContext.maxStackWords else { return false }
        let old = pointee.stack, oldWords = pointee.stackCapacity
        var capacity = oldWords
        while capacity < words { capacity *= 2 }
        let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        grown.moveInitialize(from: old, count: oldWords)
        (grown + oldWords).initialize(repeating: Value.nil.raw, count: capacity - oldWords)
        if old != inlineStack { old.deallocate() }
        pointee.stack = grown
        pointee.stackCapacity = capacity
        return true
    }

    /// Frees all memory; `startContext(…reusingSpare: false)` is all that may follow.
    func releaseContext() {
        recycleContext()
        releaseSpareStack()
    }

    /// Frees all memory but a small register stack, which stays in `stack` for the next process
    /// in the same slot (`startContext(…reusingSpare: true)`); a larger one is freed
    /// (`stackCapacity` 0). Only `startContext` and `releaseSpareStack()` may follow.
    func recycleContext() {
        pointee.heap.release()
        pointee.frames.release()
        pointee.catches.release()
        if pointee.stackCapacity > ExecutionContext.keptStackWords { releaseSpareStack() }
    }

    /// Frees the register stack kept by `recycleContext()`, if it is not the inline one.
    func releaseSpareStack() {
        if pointee.stackCapacity > 0, pointee.stack != inlineStack { pointee.stack.deallocate() }
        pointee.stackCapacity = 0
    }
}

/// An `Int` kept in 32 bits, for fields whose values are known to fit (said where each is
/// declared); a larger value is a broken invariant (asserted in debug builds, truncated in
/// release ones).
@propertyWrapper
struct Stored32 {
    private var stored: Int32

    init(wrappedValue: Int) {
        assert(Int32(exactly: wrappedValue) != nil, "\(wrappedValue) does not fit in 32 bits")
        stored = Int32(truncatingIfNeeded: wrappedValue)
    }

    var wrappedValue: Int {
        @inline(__always) get { Int(stored) }
        @inline(__always) set {
            assert(Int32(exactly: newValue) != nil, "\(newValue) does not fit in 32 bits")
            stored = Int32(truncatingIfNeeded: newValue)
        }
    }
}
