/// Bytes received from a socket or stdin and not yet handed to a reader, with the end-of-input
/// flag and the first error.
///
/// Costs are linear in the bytes received, whatever the peer sends:
/// - a delimiter search resumes where the previous one stopped (`scanned`), so a request that
///   arrives in many chunks is scanned once, not once per chunk;
/// - taking from the front moves `start` instead of shifting the rest; the taken prefix is
///   dropped when more arrives and it is at least half the storage.
struct ReceiveBuffer {
    /// What a line or delimiter read found.
    enum Taken {
        /// The bytes (a line is without its `\n` / `\r\n`; `through:` keeps the delimiter).
        case bytes([UInt8])
        /// More than `limit` bytes arrived without the delimiter (or before it); they stay
        /// buffered, so the reader may still take them with a plain read.
        case tooLong
        /// Not complete yet: wait for more bytes.
        case incomplete
    }

    private var storage: [UInt8] = []
    /// `storage[start...]` is what is buffered.
    private var start = 0
    /// No delimiter ends before this index of `storage` (the search resumes here).
    private var scanned = 0
    var eof = false
    var error: Int32 = 0
    /// Positions delimiter searches have started a comparison at: each byte once, plus fewer
    /// than the delimiter's length per search where it may straddle (the tests check it).
    private(set) var bytesSearched = 0

    /// Bytes buffered.
    var count: Int { storage.count - start }

    /// Appends received bytes.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start >= storage.count / 2 {
            storage.removeSubrange(..<start)
            scanned -= start
            start = 0
        }
        storage.append(contentsOf: bytes)
    }

    /// Takes a line of at most `limit` bytes (before its newline), or the rest at end of input.
    mutating func takeLine(limit: Int) -> Taken {
        switch take(through: [10], limit: limit == .max ? .max : limit + 1) {
        case .bytes(var line):
            if line.last == 10 {
                line.removeLast()
                if line.last == 13 { line.removeLast() }
            }
            return .bytes(line)
        case .incomplete where count > limit:
            return .tooLong  // no newline among more than `limit` bytes: the line is too long
        case let other:
            return other
        }
    }

    /// Takes everything up to and including the first `delimiter`, at most `limit` bytes in
    /// all, or the rest at end of input.
    mutating func take(through delimiter: [UInt8], limit: Int) -> Taken {
        guard let first = delimiter.first else { return take(max: limit).map(Taken.bytes) ?? .incomplete }
        // A delimiter may straddle the old end: back up by its length less one.
        let from = Swift.max(start, scanned - (delimiter.count - 1))
        var i = from
        let end = storage.count - delimiter.count
        defer { bytesSearched += Swift.max(0, i - from) }
        let found: Int? = storage.withUnsafeBufferPointer { buffer in
            while i <= end {
                if buffer[i] == first && (1..<delimiter.count).allSatisfy({ buffer[i + $0] == delimiter[$0] }) { return i }
                i += 1
            }
            return nil
        }
        if let found {
            let stop = found + delimiter.count
            guard stop - start <= limit else { return .tooLong }
            return .bytes(consume(upTo: stop))
        }
        scanned = storage.count
        if count > limit { return .tooLong }
        if eof && count > 0 { return .bytes(consume(upTo: storage.count)) }
        return .incomplete
    }

    /// Takes up to `max` bytes, or nil if none are buffered.
    mutating func take(max: Int) -> [UInt8]? {
        guard count > 0 else { return nil }
        return consume(upTo: start + Swift.min(max, count))
    }

    /// Hands out `storage[start..<stop]`.
    private mutating func consume(upTo stop: Int) -> [UInt8] {
        let taken = Array(storage[start..<stop])
        start = stop
        scanned = Swift.max(scanned, start)
        if start == storage.count {
            // Keep a small allocation for the next request; give a large one back.
            if storage.capacity > ReceiveBuffer.retainedCapacity { storage = [] } else { storage.removeAll(keepingCapacity: true) }
            start = 0
            scanned = 0
        }
        return taken
    }

    /// Capacity an empty buffer keeps (enough for a typical request), so a keep-alive
    /// connection does not allocate per request while an idle one holds little memory.
    static let retainedCapacity = 16 << 10
}
