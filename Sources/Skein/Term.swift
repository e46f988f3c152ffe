/// A value as the host sees it, for the embedding API (arguments, messages).
public indirect enum Term: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    /// A string value holding these exact bytes (not necessarily valid UTF-8: IO data).
    case binary([UInt8])
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
        case .binary(let b): HeapObject.stringWords(byteCount: b.count)
        case .tuple(let items): 1 + items.count + items.reduce(0) { $0 + $1.words }
        case .array(let items): 3 + (items.isEmpty ? 0 : 1 + items.count) + items.reduce(0) { $0 + $1.words }
        }
    }

    /// A message node holding this term.
    func messageNode(atoms: AtomTable) throws(LoadError) -> MessageNode {
        let raw = MessageNode.allocate(words: MessageNode.headerWords + words, cache: nil)
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
            return Term.binary(Array(s.utf8)).write(to: &free, atoms: atoms)
        case .binary(let bytes):
            let o = free
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

extension Term {
    /// The host form of a VM value (a deep copy; pids and references keep their numbers).
    init(_ v: Value, atoms: AtomTable, program: LoadedProgram) {
        if v.isSmallInt { self = .int(v.smallIntValue); return }
        if v.isObject {
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt: self = .int(v.boxedIntValue)
            case .float: self = .float(v.floatValue)
            case .string: self = .string(String(decoding: v.stringBytes, as: UTF8.self))
            case .tuple: self = .tuple((0..<v.tupleCount).map { Term(Value(raw: v.tupleElements[$0]), atoms: atoms, program: program) })
            case .array, .arrayStorage:
                self = .array((0..<v.arrayCount).map { Term(Value(raw: v.arrayElements[$0]), atoms: atoms, program: program) })
            }
            return
        }
        switch v.immediateTag {
        case Value.specialTag: self = v == .nil ? .nil : .bool(v == .true)
        case Value.atomTag: self = .atom(atoms.name(Int(v.immediatePayload)))
        case Value.refTag: self = .ref(v.immediatePayload)
        case Value.functionTag: self = .atom(program.functionName(Int(v.immediatePayload)))
        default: self = .pid(v.immediatePayload)
        }
    }
}

/// A function of the host program that bytecode calls with `callhost rD, "name", rArgs, n`.
///
/// It runs on the worker thread of the calling process. Before calling it, the worker offers
/// its queued work to the others, so a host function that blocks for a while does not hold up
/// other processes. A thrown error becomes a runtime error of the calling process.
public struct HostFunction: Sendable {
    /// Number of arguments.
    public var arity: Int
    /// The function.
    public var body: @Sendable ([Term]) throws -> Term

    public init(arity: Int, _ body: @escaping @Sendable ([Term]) throws -> Term) {
        self.arity = arity
        self.body = body
    }
}
