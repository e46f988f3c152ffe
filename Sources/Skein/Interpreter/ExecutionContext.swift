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

/// Everything a process needs to run that only the worker currently running it touches: its
/// heap, register stack, frame stack and where it stopped.
///
/// The register stack holds the frames' registers back to back; it grows by reallocation (no
/// pointer into it survives a call), and every word below the current frame's end is a
/// well-formed value, because the collector scans it as roots.
struct ExecutionContext {
    /// The process's private heap.
    var heap = Heap()
    /// Register stack.
    var stack: UnsafeMutablePointer<UInt64>
    var stackCapacity: Int
    /// Frame stack (callers of the current function).
    var frames: UnsafeMutablePointer<Frame>?
    var frameCapacity = 0
    var frameCount = 0
    /// Where to resume: absolute code index, register base and function index.
    var pc = 0
    var base = 0
    var function = 0

    /// Deepest call nesting before a stack overflow error.
    static let maxFrames = 100_000
    /// Largest register stack, in words, before a stack overflow error.
    static let maxStackWords = 16 << 20

    /// A context about to call `function` with `arguments`.
    init(program: LoadedProgram, function: Int, arguments: UnsafeBufferPointer<UInt64>) {
        let info = program.functions[function]
        stackCapacity = max(info.registers, 4)
        stack = .allocate(capacity: stackCapacity)
        stack.initialize(repeating: Value.nil.raw, count: stackCapacity)
        for (i, a) in arguments.enumerated() { stack[i] = a }
        self.function = function
        self.pc = info.entry
    }

    /// Grows the register stack to hold at least `words` words. Returns false past the limit.
    mutating func growStack(toHold words: Int) -> Bool {
        guard words <= ExecutionContext.maxStackWords else { return false }
        var capacity = stackCapacity
        while capacity < words { capacity *= 2 }
        let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        grown.moveInitialize(from: stack, count: stackCapacity)
        (grown + stackCapacity).initialize(repeating: Value.nil.raw, count: capacity - stackCapacity)
        stack.deallocate()
        stack = grown
        stackCapacity = capacity
        return true
    }

    /// Pushes a frame. Returns false past the frame limit.
    mutating func pushFrame(_ frame: Frame) -> Bool {
        if frameCount == frameCapacity {
            guard frameCount < ExecutionContext.maxFrames else { return false }
            let capacity = max(8, frameCapacity * 2)
            let grown = UnsafeMutablePointer<Frame>.allocate(capacity: capacity)
            if let frames {
                grown.moveInitialize(from: frames, count: frameCount)
                frames.deallocate()
            }
            frames = grown
            frameCapacity = capacity
        }
        frames![frameCount] = frame
        frameCount += 1
        return true
    }

    /// Frees all memory. The context must not be used afterwards.
    mutating func release() {
        heap.release()
        stack.deallocate()
        frames?.deallocate()
        frames = nil
    }
}
