import CLibUV

/// The values an IO operation answers with, built on the IO thread as message nodes (the
/// carrier messages use): the `io` instruction copies the node into the process heap when the
/// process runs again, which is the one copy of received bytes into the heap.
///
/// Invariant: a result node belongs to the IO thread until `Runtime.finishIO` stores it in the
/// process (before the wake CAS, which orders it for the runner), then to the runner, which
/// copies it in and frees it (or frees it when the process ends first).
extension Term {
    /// `{:ok, value}`.
    static func ok(_ value: Term) -> Term { .tuple([.atom("ok"), value]) }
    /// `{:error, :NAME, "message"}`.
    static func error(_ name: String, _ message: String) -> Term {
        .tuple([.atom("error"), .atom(name), .string(message)])
    }
    /// The error value of a libuv status code.
    static func uvError(_ status: Int32) -> Term {
        .error(String(cString: uv_err_name(status)), String(cString: uv_strerror(status)))
    }
}

extension MessageNode {
    /// The answer to a request cancelled by an exit signal (`IOService.interrupt`): `nil`,
    /// which no operation answers with, so the `io` instruction knows to make it again.
    static func interrupted() -> MessageNode { make(atom: .nil) }

    /// Whether this IO result is `interrupted()`.
    var isInterruptedIO: Bool { value.raw == Value.nil.raw }

    /// `{:ok, bytes}` holding a copy of `bytes` as a `kind` (a binary, or a string when the
    /// caller has checked they are UTF-8), with `ok` the id of the atom `:ok`: one node, no
    /// intermediate array or `Term`.
    static func make(ok: Int, bytes: UnsafeRawBufferPointer, kind: HeapKind) -> MessageNode {
        let stringWords = HeapObject.stringWords(byteCount: bytes.count)
        let raw = allocate(words: headerWords + 3 + stringWords, cache: nil)
        let tuple = raw + headerWords
        let string = tuple + 3
        HeapObject.initString(string, bytes: bytes, kind: kind)
        tuple[0] = HeapObject.header(.tuple, payloadWords: 2)
        tuple[1] = Value.atom(ok).raw
        tuple[2] = Value.object(string).raw
        raw[1] = Value.object(tuple).raw
        return MessageNode(raw: raw)
    }
}
