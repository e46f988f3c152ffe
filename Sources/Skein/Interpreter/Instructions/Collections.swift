/// Tuples and arrays: construction, length, element access, push and pop.
extension Interpreter {
    /// `tuple rD, rFirst, n`: a tuple of registers `rFirst…`.
    func makeTuple(_ word: UInt64) throws(Fault) {
        var reductions = 0
        let n = word.fieldC
        let object = try allocate(words: 1 + n, reductions: &reductions)
        let regs = registers
        object[0] = HeapObject.header(.tuple, payloadWords: n)
        for i in 0..<n { object[1 + i] = regs[word.fieldB + i] }
        regs[word.fieldA] = Value.object(object).raw
    }

    /// `array rD, rFirst, n`: an array of registers `rFirst…`.
    func makeArray(_ word: UInt64) throws(Fault) {
        var reductions = 0
        let n = word.fieldC
        let object = try allocate(words: HeapObject.arrayWords(count: n), reductions: &reductions)
        let regs = registers
        let slots = HeapObject.initArray(object, count: n)
        for i in 0..<n { slots[i] = regs[word.fieldB + i] }
        regs[word.fieldA] = Value.object(object).raw
    }

    static func length(_ v: Value) throws(Fault) -> Value {
        switch v.heapKind {
        case .string, .binary: return .smallInt(Int64(v.stringByteCount))
        case .tuple: return .smallInt(Int64(v.tupleCount))
        case .array: return .smallInt(Int64(v.arrayCount))
        case .mapFlat, .mapRoot: return .smallInt(Int64(MapLayout.count(v)))
        default: throw Fault(kind: .typeMismatch, detail: "len needs a string, binary, tuple, array or map, got \(typeName(v))")
        }
    }

    private static func checkedIndex(_ index: Value, count: Int) throws(Fault) -> Int {
        guard index.isSmallInt else { throw Fault(kind: .typeMismatch, detail: "an index must be an integer, got \(typeName(index))") }
        let i = index.smallIntValue
        guard i >= 0 && i < count else { throw Fault(kind: .indexOutOfRange, detail: "index \(i) of a collection of \(count)") }
        return Int(i)
    }

    static func element(_ v: Value, index: Value) throws(Fault) -> UInt64 {
        switch v.heapKind {
        case .tuple: return v.tupleElements[try checkedIndex(index, count: v.tupleCount)]
        case .array:
            let i = try checkedIndex(index, count: v.arrayCount)  // before touching the storage: an empty array has none
            return v.arrayElements[i]
        case .string, .binary:
            let i = try checkedIndex(index, count: v.stringByteCount)
            return Value.smallInt(Int64(v.stringBytes[i])).raw
        default: throw Fault(kind: .typeMismatch, detail: "get needs a tuple, array, string or binary, got \(typeName(v))")
        }
    }

    static func setElement(_ v: Value, index: Value, to element: UInt64) throws(Fault) {
        guard v.heapKind == .array else { throw Fault(kind: .typeMismatch, detail: "set needs an array, got \(typeName(v))") }
        let i = try checkedIndex(index, count: v.arrayCount)
        v.arrayElements[i] = element
    }

    static func pop(_ v: Value) throws(Fault) -> UInt64 {
        guard v.heapKind == .array else { throw Fault(kind: .typeMismatch, detail: "pop needs an array, got \(typeName(v))") }
        let n = v.arrayCount
        guard n > 0 else { throw Fault(kind: .indexOutOfRange, detail: "pop from an empty array") }
        let last = v.arrayElements[n - 1]
        v.arrayElements[n - 1] = Value.nil.raw
        v.objectAddress[1] = Value.smallInt(Int64(n - 1)).raw
        return last
    }

    /// `push rArray, rValue`: appends, doubling the storage when full.
    func push(_ word: UInt64) throws(Fault) {
        var reductions = 0
        let array = Value(raw: registers[word.fieldA])
        guard array.heapKind == .array else { throw Fault(kind: .typeMismatch, detail: "push needs an array, got \(Interpreter.typeName(array))") }
        let n = array.arrayCount
        if n == array.arrayCapacity {
            let capacity = max(4, n * 2)
            let storage = try allocate(words: 1 + capacity, reductions: &reductions)
            let moved = Value(raw: registers[word.fieldA])
            storage[0] = HeapObject.header(.arrayStorage, payloadWords: capacity)
            if n > 0 { storage.advanced(by: 1).update(from: moved.arrayElements, count: n) }
            (storage + 1 + n).initialize(repeating: Value.nil.raw, count: capacity - n)
            moved.objectAddress[2] = Value.object(storage).raw
        }
        let regs = registers
        let target = Value(raw: regs[word.fieldA])
        target.arrayElements[n] = regs[word.fieldB]
        target.objectAddress[1] = Value.smallInt(Int64(n + 1)).raw
    }
}

/// The fast path of `get`, inlined into the dispatch loop: an element of a tuple or an array at
/// a small-integer index in range, read straight from the words (a profile of the concurrent
/// sieve put the out-of-line `element`, its index check and the kind decoding at 28% of the
/// samples). Anything else answers nil and takes `Interpreter.element`, which has the errors.
enum ElementAccess {
    @inline(__always) static func element(_ container: UInt64, _ index: UInt64) -> UInt64? {
        guard container & 0b111 == Value.pointerTag, index & 1 == 0 else { return nil }
        let object = UnsafeMutablePointer<UInt64>(bitPattern: UInt(container & ~Value.pointerTag)).unsafelyUnwrapped
        let header = object.pointee
        // A negative index becomes a huge unsigned one, so one comparison checks both ends.
        let i = UInt(bitPattern: Int(Int64(bitPattern: index) >> 1))
        switch HeapObject.kind(fromHeader: header) {
        case .tuple:
            guard i < UInt(header >> 8) else { return nil }
            return object[1 &+ Int(i)]
        case .array:
            guard i < UInt(bitPattern: Int(Int64(bitPattern: object[1]) >> 1)) else { return nil }
            // A non-empty array has its storage object (checked above: the count is not 0).
            let storage = UnsafeMutablePointer<UInt64>(bitPattern: UInt(object[2] & ~Value.pointerTag)).unsafelyUnwrapped
            return storage[1 &+ Int(i)]
        default:
            return nil
        }
    }
}
