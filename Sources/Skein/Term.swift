/// A value as the host sees it, for the embedding API (arguments, messages).
public indirect enum Term: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case atom(String)
    case tuple([Term])
    case array([Term])
    case pid(UInt64)
    case ref(UInt64)

    /// Heap words this term needs.
    private var words: Int {
        switch self {
        case .nil, .bool, .atom, .pid, .ref: 0
        case .int(let n): n >= Value.smallIntMin && n <= Value.smallIntMax ? 0 : 2
        case .float: 2
        case .string(let s): HeapObject.stringWords(byteCount: s.utf8.count)
        case .tuple(let items): 1 + items.count + items.reduce(0) { $0 + $1.words }
        case .array(let items): 3 + (items.isEmpty ? 0 : 1 + items.count) + items.reduce(0) { $0 + $1.words }
        }
    }

    /// A message node holding this term.
    func messageNode(atoms: AtomTable) throws(LoadError) -> MessageNode {
        let raw = UnsafeMutablePointer<UInt64>.allocate(capacity: MessageNode.headerWords + words)
        raw[0] = 0
        var free = raw + MessageNode.headerWords
        raw[1] = write(to: &free, atoms: atoms).raw
        return MessageNode(raw: raw)
    }

    private func write(to free: inout UnsafeMutablePointer<UInt64>, atoms: AtomTable) -> Value {
        func object(_ kind: HeapKind, _ payload: UInt64) -> Value {
            let o = free
            o[0] = HeapObject.header(kind, payloadWords: 1)
            o[1] = payload
            free += 2
            return .object(o)
        }
        switch self {
        case .nil: return .nil
        case .bool(let b): return .bool(b)
        case .atom(let a): return .atom(atoms.intern(a))
        case .pid(let p): return .pid(p)
        case .ref(let r): return .ref(r)
        case .int(let n):
            return n >= Value.smallIntMin && n <= Value.smallIntMax ? .smallInt(n) : object(.boxedInt, UInt64(bitPattern: n))
        case .float(let d): return object(.float, d.bitPattern)
        case .string(let s):
            let o = free
            let bytes = Array(s.utf8)
            bytes.withUnsafeBytes { ObjectBuilder.initString(o, bytes: $0) }
            free += HeapObject.stringWords(byteCount: bytes.count)
            return .object(o)
        case .tuple(let items):
            let o = free
            o[0] = HeapObject.header(.tuple, payloadWords: items.count)
            free += 1 + items.count
            for (i, item) in items.enumerated() { o[1 + i] = item.write(to: &free, atoms: atoms).raw }
            return .object(o)
        case .array(let items):
            let o = free
            o[0] = HeapObject.header(.array, payloadWords: 2)
            o[1] = Value.smallInt(Int64(items.count)).raw
            o[2] = Value.nil.raw
            free += 3
            if !items.isEmpty {
                let storage = free
                storage[0] = HeapObject.header(.arrayStorage, payloadWords: items.count)
                free += 1 + items.count
                for (i, item) in items.enumerated() { storage[1 + i] = item.write(to: &free, atoms: atoms).raw }
                o[2] = Value.object(storage).raw
            }
            return .object(o)
        }
    }
}
