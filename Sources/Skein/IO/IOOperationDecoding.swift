/// Decoding the arguments of an `io` instruction into an `IOOperation` (on the worker, while the
/// process runs): argument values are checked and what the IO thread needs is copied out of the
/// process heap, which the IO thread never touches.
enum IOOperations {
    /// The longest line `read_line` and the longest piece `read_until` return unless the
    /// program names a limit: a peer cannot make a reader buffer more than this.
    static let defaultReadLimit = 64 << 10

    /// Builds the operation `kind` from its argument words (the `io` instruction's register run,
    /// whose length the verifier checked against `kind.arity`), or a type error of the process.
    /// `wall_clock` never gets here: the interpreter answers it in place.
    static func decode(_ kind: IOOperationKind, _ args: UnsafeBufferPointer<UInt64>, atoms: AtomTable) throws(Fault) -> IOOperation {
        let name = kind.name
        let args = IOArguments(words: args)
        switch kind {
        case .tcpListen: return .tcpListen(host: try string(args[0], name), port: try int(args[1], name))
        case .tcpAccept: return .tcpAccept(handle: try handle(args[0], name))
        case .tcpConnect: return .tcpConnect(host: try string(args[0], name), port: try int(args[1], name))
        case .read, .readBinary:
            return .read(handle: try handle(args[0], name), end: .bytes(max: max(1, try int(args[1], name))),
                         timeout: try timeout(args, at: 2, name), mode: kind.resultMode)
        case .readLine, .readLineBinary:
            return .read(handle: try handle(args[0], name), end: .line(limit: try limit(args, at: 1, name)),
                         timeout: try timeout(args, at: 2, name), mode: kind.resultMode)
        case .readUntil, .readUntilBinary:
            guard args[1].isByteString else { throw Fault(kind: .typeMismatch, detail: "\(name) needs a delimiter string or binary") }
            return .read(handle: try handle(args[0], name),
                         end: .delimiter(Array(args[1].stringBytes), limit: try limit(args, at: 2, name)),
                         timeout: try timeout(args, at: 3, name), mode: kind.resultMode)
        case .write:
            guard args[1].isByteString else { throw Fault(kind: .typeMismatch, detail: "write needs a string or binary to write") }
            return .write(handle: try handle(args[0], name), bytes: Array(args[1].stringBytes))
        case .close: return .close(handle: try handle(args[0], name))
        case .peerAddress: return .address(handle: try handle(args[0], name), peer: true)
        case .localAddress: return .address(handle: try handle(args[0], name), peer: false)
        case .fileOpen:
            // The one name lookup left on the way: opening a file is rare next to reads and writes.
            guard args[1].isAtom else { throw Fault(kind: .typeMismatch, detail: "file_open needs a mode atom (:read, :write or :append)") }
            return .fileOpen(path: try string(args[0], name), mode: atoms.name(Int(args[1].immediatePayload)))
        case .fileStat: return .fileStat(path: try string(args[0], name))
        case .readFile, .readFileBinary: return .readFile(path: try string(args[0], name), mode: kind.resultMode)
        case .stdinLine, .stdinLineBinary: return .stdinLine(mode: kind.resultMode)
        case .wallClock: preconditionFailure("wall_clock is answered by the interpreter, never decoded")
        }
    }

    /// A string argument (its bytes read as UTF-8: paths and host names).
    private static func string(_ v: Value, _ op: String) throws(Fault) -> String {
        guard v.heapKind == .string else { throw Fault(kind: .typeMismatch, detail: "\(op) needs a string argument") }
        return String(decoding: v.stringBytes, as: UTF8.self)
    }

    /// A small-integer argument.
    private static func int(_ v: Value, _ op: String) throws(Fault) -> Int {
        guard v.isSmallInt else { throw Fault(kind: .typeMismatch, detail: "\(op) needs an integer argument") }
        return Int(v.smallIntValue)
    }

    /// The optional size limit at `index`: a positive integer, or nil (or absent) for the default.
    private static func limit(_ args: IOArguments, at index: Int, _ op: String) throws(Fault) -> Int {
        guard index < args.count, args[index].raw != Value.nil.raw else { return defaultReadLimit }
        guard args[index].isSmallInt, args[index].smallIntValue > 0 else {
            throw Fault(kind: .badArgument, detail: "\(op) needs a positive size limit in bytes (or nil for \(defaultReadLimit))")
        }
        return Int(args[index].smallIntValue)
    }

    /// The optional timeout at `index`: milliseconds (0 or more), or nil (or absent) for none.
    private static func timeout(_ args: IOArguments, at index: Int, _ op: String) throws(Fault) -> Int? {
        guard index < args.count, args[index].raw != Value.nil.raw else { return nil }
        guard args[index].isSmallInt, args[index].smallIntValue >= 0 else {
            throw Fault(kind: .badArgument, detail: "\(op) needs a timeout in milliseconds (0 or more), or nil for none")
        }
        return Int(args[index].smallIntValue)
    }

    /// A handle value: `{:socket | :listener | :file, id}`.
    private static func handle(_ v: Value, _ op: String) throws(Fault) -> Int {
        guard v.heapKind == .tuple, v.tupleCount == 2, Value(raw: v.tupleElements[0]).isAtom,
              Value(raw: v.tupleElements[1]).isSmallInt else {
            throw Fault(kind: .typeMismatch, detail: "\(op) needs a socket, listener or file handle")
        }
        return Int(Value(raw: v.tupleElements[1]).smallIntValue)
    }
}

/// The argument words of an `io` instruction, read as values.
struct IOArguments {
    /// The register run.
    let words: UnsafeBufferPointer<UInt64>
    /// How many arguments there are.
    var count: Int { words.count }
    /// Argument `index` (in range: the verifier checked the run against the operation's arity).
    subscript(index: Int) -> Value { Value(raw: words[index]) }
}
