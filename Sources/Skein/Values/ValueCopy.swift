/// Deep copies of values between memories: into a message node for `send`, and out of one (or
/// out of a parent's heap, for spawn arguments) into a process heap.
///
/// Copies are trees: sharing inside a value is not preserved, as in BEAM. Sizing walks the
/// value under `ValueDepth`, so a cyclic or absurdly deep value is refused before any memory
/// is taken, and a value whose tree form would not fit in memory (a DAG that shares a lot)
/// is refused by its size.
enum ValueCopy {
    /// Why a value cannot be copied.
    enum Failure: Error {
        /// Nested deeper than `ValueDepth.limit` (or cyclic).
        case tooDeep
        /// Its tree form needs more than `limitWords` words.
        case tooLarge
    }

    /// The largest copy, in words (2^40 words, 8 TiB: larger than any memory, so reaching it
    /// only means the count would overflow; heap limits refuse real copies long before).
    static let limitWords = 1 << 40

    /// Words needed to copy `v`'s object graph as a tree (0 for an immediate).
    static func words(_ v: Value, depth: Int = 0) throws(Failure) -> Int {
        guard v.isObject else { return 0 }
        do { try ValueDepth.check(depth) } catch { throw .tooDeep }
        let object = v.objectAddress
        var total: Int
        switch HeapObject.kind(of: object) {
        case .boxedInt, .float, .string, .binary:
            return 1 + HeapObject.payloadWords(of: object)
        case .tuple, .mapFlat, .mapRoot, .mapNode, .mapCollision:
            // Value records (`HeapObject.isValueRecord`): every payload word is a value.
            let size = 1 + HeapObject.payloadWords(of: object)
            total = size
            for i in 1..<size {
                total += try words(Value(raw: object[i]), depth: depth + 1)
                if total > limitWords { throw .tooLarge }
            }
            return total
        case .array, .arrayStorage:
            total = HeapObject.arrayWords(count: v.arrayCount)  // copied compactly
        }
        for element in v.elements {
            total += try words(Value(raw: element), depth: depth + 1)
            if total > limitWords { throw .tooLarge }
        }
        return total
    }

    /// Copies `v` into memory at `free`, which has room for `words(v)` words; advances `free`.
    static func copy(_ v: Value, to free: inout UnsafeMutablePointer<UInt64>) -> Value {
        guard v.isObject else { return v }
        let object = v.objectAddress
        let target = free
        switch HeapObject.kind(of: object) {
        case .boxedInt, .float, .string, .binary:
            let size = 1 + HeapObject.payloadWords(of: object)
            target.update(from: object, count: size)
            free += size
        case .tuple, .mapFlat, .mapRoot, .mapNode, .mapCollision:
            let n = HeapObject.payloadWords(of: object)
            target[0] = object[0]
            free += 1 + n
            for i in 0..<n { target[1 + i] = copy(Value(raw: object[1 + i]), to: &free).raw }
        case .array, .arrayStorage:
            let n = v.arrayCount
            free += HeapObject.arrayWords(count: n)
            let slots = HeapObject.initArray(target, count: n)
            for (i, element) in v.elements.enumerated() { slots[i] = copy(Value(raw: element), to: &free).raw }
        }
        return .object(target)
    }
}
