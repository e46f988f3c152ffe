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
        case .array(let items): HeapObject.arrayWords(count: items.count) + items.reduce(0) { $0 + $1.words }
        }
    }

    /// A message node holding this term.
    func messageNode(atoms: AtomTable) -> MessageNode {
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
            bytes.withUnsafeBytes { HeapObject.initString(o, bytes: $0) }
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
            free += HeapObject.arrayWords(count: items.count)
            let slots = HeapObject.initArray(o, count: items.count)
            for (i, item) in items.enumerated() { slots[i] = item.write(to: &free, atoms: atoms).raw }
            return .object(o)
        }
    }
}

extension Term {
    /// The host form of a VM value (a deep copy; pids and references keep their numbers).
    /// Walks the value under `ValueDepth`: a cyclic or too deeply nested value has no host form.
    init(_ v: Value, atoms: AtomTable, program: LoadedProgram, depth: Int = 0) throws(ValueDepth.Exceeded) {
        if v.isSmallInt { self = .int(v.smallIntValue); return }
        if v.isObject {
            try ValueDepth.check(depth)
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt: self = .int(v.boxedIntValue)
            case .float: self = .float(v.floatValue)
            case .string: self = .string(String(decoding: v.stringBytes, as: UTF8.self))
            case .tuple: self = .tuple(try Term.elements(of: v, atoms: atoms, program: program, depth: depth))
            case .array, .arrayStorage: self = .array(try Term.elements(of: v, atoms: atoms, program: program, depth: depth))
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

    private static func elements(of v: Value, atoms: AtomTable, program: LoadedProgram, depth: Int) throws(ValueDepth.Exceeded) -> [Term] {
        var terms: [Term] = []
        terms.reserveCapacity(v.elements.count)
        for element in v.elements { terms.append(try Term(Value(raw: element), atoms: atoms, program: program, depth: depth + 1)) }
        return terms
    }
}

/// A function of the host program that bytecode calls with `callhost rD, "name", rArgs, n`.
///
/// A blocking function runs on the worker thread of the calling process. Before calling it,
/// the worker offers its queued work to the others, so a host function that blocks for a while
/// does not hold up other processes. An `async` function suspends the calling process, not its
/// worker (as IO does): the worker runs other processes while the function awaits, and the
/// process resumes with the result. A thrown error becomes a runtime error of the calling
/// process.
///
/// ```swift
/// options.hostFunctions["lookup"] = HostFunction(arity: 1) { call, args in
///     try await directory.lookup(args[0], for: call.caller)
/// }
/// ```
public struct HostFunction: Sendable {
    /// Number of arguments.
    public var arity: Int
    /// How the function runs.
    enum Body: Sendable {
        /// On the caller's worker thread.
        case blocking(@Sendable (HostCall, [Term]) throws -> Term)
        /// In a task of its own while the caller is suspended.
        case suspending(@Sendable (HostCall, [Term]) async throws -> Term)
    }
    /// The function.
    let body: Body

    /// A blocking function of the arguments alone.
    public init(arity: Int, _ body: @escaping @Sendable ([Term]) throws -> Term) {
        self.arity = arity
        self.body = .blocking { _, arguments in try body(arguments) }
    }

    /// A blocking function that is told which process called it.
    public init(arity: Int, _ body: @escaping @Sendable (HostCall, [Term]) throws -> Term) {
        self.arity = arity
        self.body = .blocking(body)
    }

    /// An async function: the calling process waits for it without holding a worker.
    public init(arity: Int, _ body: @escaping @Sendable (HostCall, [Term]) async throws -> Term) {
        self.arity = arity
        self.body = .suspending(body)
    }
}

/// What a host function learns about its call.
public struct HostCall: Sendable {
    /// The calling process's pid (to reply to later, monitor or kill).
    public var caller: Term
    /// The name the program called the function by.
    public var name: String
}

extension Term: CustomStringConvertible {
    /// The term as Skein prints values (`:atom`, `"string"`, `{a, b}`, `[a, b]`, `<0.N>`).
    public var description: String {
        switch self {
        case .nil: "nil"
        case .bool(let b): b ? "true" : "false"
        case .int(let n): String(n)
        case .float(let d): Printer.float(d)
        case .string(let s): Disassembler.quote(s)
        case .binary(let bytes): Disassembler.quote(String(decoding: bytes, as: UTF8.self))
        case .atom(let a): Disassembler.atomLiteral(a)
        case .tuple(let items): "{" + items.map(\.description).joined(separator: ", ") + "}"
        case .array(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .pid(let p): "<0.\(p)>"
        case .ref(let r): "#Ref<\(r)>"
        }
    }
}
