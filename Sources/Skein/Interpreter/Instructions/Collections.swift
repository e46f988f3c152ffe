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
