/// A value as the host sees it, for the embedding API (arguments, messages).
public indirect enum Term: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case float(Double)
    /// A string (valid UTF-8 by construction, as every Skein string is).
    case string(String)
    /// A binary: raw bytes with no UTF-8 requirement (`typeof` gives `:binary`). IO reads in
    /// binary mode give these, and so does the host form of every binary value.
    case bytes([UInt8])
    case atom(String)
    case tuple([Term])
    case array([Term])
    case pid(UInt64)
    case ref(UInt64)
    /// A map. Keys follow the VM's equality, which is coarser than `Term`'s: `.int(1)` and
    /// `.float(1.0)` are one key in the VM, and only one of the two entries survives.
    case map([Term: Term])

    /// Heap words this term needs, or nil when it holds a map (a trie's size depends on the
    /// hashes of its keys, known only once they are written).
    private var plainWords: Int? {
        switch self {
        case .nil, .bool, .atom, .pid, .ref: return 0
        case .int(let n): return n >= Value.smallIntMin && n <= Value.smallIntMax ? 0 : 2
        case .float: return 2
        case .string(let s): return HeapObject.stringWords(byteCount: s.utf8.count)
        case .bytes(let b): return HeapObject.stringWords(byteCount: b.count)
        case .tuple(let items): return Term.plainWords(items).map { 1 + items.count + $0 }
        case .array(let items): return Term.plainWords(items).map { HeapObject.arrayWords(count: items.count) + $0 }
        case .map: return nil
        }
    }

    private static func plainWords(_ items: [Term]) -> Int? {
        var total = 0
        for item in items {
            guard let words = item.plainWords else { return nil }
            total += words
        }
        return total
    }

    /// A message node holding this term. A term without maps is written straight into the node;
    /// one with maps is built in scratch memory first and then copied, compacted, into a node of
    /// exactly its size.
    func messageNode(atoms: AtomTable) -> MessageNode {
        if let words = plainWords {
            let raw = MessageNode.allocate(words: MessageNode.headerWords + words, cache: nil)
            var arena = TermArena(region: raw + MessageNode.headerWords, words: words)
            raw[1] = write(into: &arena, atoms: atoms).raw
            return MessageNode(raw: raw)
        }
        var arena = TermArena()
        defer { arena.release() }
        let value = write(into: &arena, atoms: atoms)
        let raw = MessageNode.allocate(words: MessageNode.headerWords + arena.takenWords, cache: nil)
        var free = raw + MessageNode.headerWords
        raw[1] = ValueCopy.copy(value, to: &free).raw
        return MessageNode(raw: raw)
    }

    private func write(into arena: inout TermArena, atoms: AtomTable) -> Value {
        func object(_ kind: HeapKind, _ payload: UInt64) -> Value {
            let o = arena.take(2)
            o[0] = HeapObject.header(kind, payloadWords: 1)
            o[1] = payload
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
        case .string(var s):
            let o = arena.take(HeapObject.stringWords(byteCount: s.utf8.count))
            s.withUTF8 { HeapObject.initString(o, bytes: UnsafeRawBufferPointer($0)) }
            return .object(o)
        case .bytes(let bytes):
            let o = arena.take(HeapObject.stringWords(byteCount: bytes.count))
            bytes.withUnsafeBytes { HeapObject.initString(o, bytes: $0, kind: .binary) }
            return .object(o)
        case .tuple(let items):
            let o = arena.take(1 + items.count)
            o[0] = HeapObject.header(.tuple, payloadWords: items.count)
            for (i, item) in items.enumerated() { o[1 + i] = item.write(into: &arena, atoms: atoms).raw }
            return .object(o)
        case .array(let items):
            let o = arena.take(HeapObject.arrayWords(count: items.count))
            let slots = HeapObject.initArray(o, count: items.count)
            for (i, item) in items.enumerated() { slots[i] = item.write(into: &arena, atoms: atoms).raw }
            return .object(o)
        case .map(let dictionary):
            return Term.writeMap(dictionary, into: &arena, atoms: atoms)
        }
    }

    /// Writes the entries, then the map's objects over them (`MapBuilder.build`). A key nested
    /// too deeply to hash or compare (only a host term can be) still goes in, but no lookup can
    /// find it: a lookup with it fails the same way.
    private static func writeMap(_ dictionary: [Term: Term], into arena: inout TermArena, atoms: AtomTable) -> Value {
        var entries: [MapBuilder.HashedEntry] = []
        entries.reserveCapacity(dictionary.count)
        for (key, value) in dictionary {
            let k = key.write(into: &arena, atoms: atoms), v = value.write(into: &arena, atoms: atoms)
            entries.append(MapBuilder.HashedEntry(hash: (try? ValueHash.hash(k)) ?? 0, key: k.raw, value: v.raw))
        }
        func order(_ a: MapBuilder.HashedEntry, _ b: MapBuilder.HashedEntry) -> Int {
            (try? ValueSemantics.compare(Value(raw: a.key), Value(raw: b.key), atoms: nil)) ?? (a.key < b.key ? -1 : (a.key == b.key ? 0 : 1))
        }
        entries.sort { order($0, $1) < 0 }
        var unique: [MapBuilder.HashedEntry] = []
        for e in entries {
            if let last = unique.last, order(last, e) == 0 { unique[unique.count - 1] = e } else { unique.append(e) }
        }
        var counter = MapBuilder(base: nil, capacity: 0)
        _ = counter.build(sortedByCompare: unique)
        var builder = MapBuilder(base: arena.take(counter.used), capacity: counter.used)
        return Value(raw: builder.build(sortedByCompare: unique))
    }
}

/// Memory a host term is written into: the payload of its message node when its size is known
/// in advance, or chunks of scratch memory (`release` frees them) when it holds maps.
struct TermArena {
    private var free: UnsafeMutablePointer<UInt64>?
    private var end: UnsafeMutablePointer<UInt64>?
    private var chunks: [UnsafeMutablePointer<UInt64>] = []
    private let growable: Bool
    /// Words handed out so far.
    private(set) var takenWords = 0

    /// Exactly `words` words at `region`.
    init(region: UnsafeMutablePointer<UInt64>, words: Int) {
        free = region
        end = region + words
        growable = false
    }

    /// Scratch memory that grows as needed.
    init() { growable = true }

    /// The next `n` words.
    mutating func take(_ n: Int) -> UnsafeMutablePointer<UInt64> {
        takenWords += n
        if let free, let end, end - free >= n {
            self.free = free + n
            return free
        }
        precondition(growable, "a term wrote more words than it counted")
        let size = Swift.max(n, 4096)
        let chunk = UnsafeMutablePointer<UInt64>.allocate(capacity: Swift.max(size, 1))
        chunks.append(chunk)
        free = chunk + n
        end = chunk + size
        return chunk
    }

    /// Frees the scratch chunks.
    mutating func release() {
        for chunk in chunks { chunk.deallocate() }
        chunks = []
    }
}

extension Term {
    /// The host form of a VM value (a deep copy; pids and references keep their numbers).
    /// Walks the value under `ValueDepth`: a cyclic or too deeply nested value has no host form.
    ///
    /// The walk keeps its path in an explicit stack on the heap, not in the thread's stack:
    /// host code converts messages on threads whose stacks it does not choose (a task of
    /// Swift's cooperative pool, 8 MiB on Linux, which a value nested `ValueDepth.limit` deep
    /// overflowed in a sanitizer build).
    init(_ v: Value, atoms: AtomTable, program: LoadedProgram) throws(ValueDepth.Exceeded) {
        var path: [PendingContainer] = []
        var next = v
        while true {
            // Descend: a leaf converts at once, a container goes on the path.
            var done: Term
            switch Term.leaf(next, atoms: atoms, program: program) {
            case .leaf(let term): done = term
            case .container(let shape, let items):
                try ValueDepth.check(path.count)
                path.append(PendingContainer(shape: shape, items: items))
                guard items.isEmpty else {
                    next = Value(raw: items[0])
                    continue
                }
                done = path.removeLast().term
            }
            // Ascend: hand the finished term to its container, finishing those that are full.
            while true {
                guard !path.isEmpty else { self = done; return }
                path[path.count - 1].converted.append(done)
                let top = path[path.count - 1]
                if top.converted.count < top.items.count {
                    next = Value(raw: top.items[top.converted.count])
                    break
                }
                done = path.removeLast().term
            }
        }
    }

    /// What one step of the walk finds: a term, or a container and its items.
    private enum Step {
        case leaf(Term)
        case container(PendingContainer.Shape, [UInt64])
    }

    /// Converts `v` if it has no items; otherwise names its shape and items.
    private static func leaf(_ v: Value, atoms: AtomTable, program: LoadedProgram) -> Step {
        if v.isSmallInt { return .leaf(.int(v.smallIntValue)) }
        if v.isObject {
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt: return .leaf(.int(v.boxedIntValue))
            case .float: return .leaf(.float(v.floatValue))
            case .string: return .leaf(.string(String(decoding: v.stringBytes, as: UTF8.self)))  // valid: strings are
            case .binary: return .leaf(.bytes(Array(v.stringBytes)))
            case .tuple: return .container(.tuple, Array(v.elements))
            case .array, .arrayStorage: return .container(.array, Array(v.elements))
            case .mapFlat, .mapRoot, .mapNode, .mapCollision:
                var items: [UInt64] = []
                MapLayout.forEach(v) { key, value in items.append(key); items.append(value) }
                return .container(.map, items)
            }
        }
        switch v.immediateTag {
        case Value.specialTag: return .leaf(v == .nil ? .nil : .bool(v == .true))
        case Value.atomTag: return .leaf(.atom(atoms.name(Int(v.immediatePayload))))
        case Value.refTag: return .leaf(.ref(v.immediatePayload))
        case Value.functionTag: return .leaf(.atom(program.functionName(Int(v.immediatePayload))))
        default: return .leaf(.pid(v.immediatePayload))
        }
    }
}

/// A tuple, array or map on the path of `Term.init(_:atoms:program:)`, with its items converted
/// so far.
private struct PendingContainer {
    enum Shape { case tuple, array, map }
    let shape: Shape
    /// The raw items (for a map: key, value, key, value, …).
    let items: [UInt64]
    var converted: [Term] = []

    /// The finished term (every item converted).
    var term: Term {
        switch shape {
        case .tuple: return .tuple(converted)
        case .array: return .array(converted)
        case .map:
            var entries: [Term: Term] = [:]
            for i in stride(from: 0, to: converted.count, by: 2) { entries[converted[i]] = converted[i + 1] }
            return .map(entries)
        }
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
    /// The term as Skein prints values (`:atom`, `"string"`, `b"\xffbytes"`, `{a, b}`, `[a, b]`, `<0.N>`,
    /// `#{k => v}`; map entries sorted by their text, which for the common keys is term order).
    public var description: String {
        switch self {
        case .nil: "nil"
        case .bool(let b): b ? "true" : "false"
        case .int(let n): String(n)
        case .float(let d): Printer.float(d)
        case .string(let s): Disassembler.quote(s)
        case .bytes(let bytes): bytes.withUnsafeBytes { Disassembler.binaryLiteral($0) }
        case .atom(let a): Disassembler.atomLiteral(a)
        case .tuple(let items): "{" + items.map(\.description).joined(separator: ", ") + "}"
        case .array(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .pid(let p): "<0.\(p)>"
        case .ref(let r): "#Ref<\(r)>"
        case .map(let entries):
            "#{" + entries.map { "\($0.key) => \($0.value)" }.sorted().joined(separator: ", ") + "}"
        }
    }
}
