/// Bytes received from a socket or stdin and not yet handed to a reader, with the end-of-input
/// flag and the first error (line and delimiter buffering for the IO thread).
///
/// Costs are linear in the bytes received, whatever the peer sends:
/// - a delimiter search resumes where the previous one stopped (`scanned`), so a request that
///   arrives in many chunks is scanned once, not once per chunk;
/// - taking from the front moves `start` instead of shifting the rest; the taken prefix is
///   dropped (one move of what is left) when space is needed and it is at least half the storage.
///
/// Copies: libuv reads straight into the free end of the storage (`reserve`, `commit`), and a
/// reader is handed the bytes in place (`hand`), so the IO thread copies them once, into the
/// result it sends the process.
///
/// Invariants: `0 <= start <= scanned <= end <= capacity` (`scanned` may lag behind `start`
/// only until the next search, which starts at `start` at least); the storage is owned here
/// alone (`~Copyable`) and freed with the buffer.
struct ReceiveBuffer: ~Copyable {
    /// What a line or delimiter read found, as bytes (tests and simple callers).
    enum Taken: Equatable {
        /// The bytes (a line is without its `\n` / `\r\n`; `through:` keeps the delimiter).
        case bytes([UInt8])
        /// More than `limit` bytes arrived without the delimiter (or before it); they stay
        /// buffered, so the reader may still take them with a plain read.
        case tooLong
        /// Not complete yet: wait for more bytes.
        case incomplete
    }

    /// A piece ready to be handed out: the bytes the reader gets, and where the buffer's
    /// consumption ends (past a line's newline, which the reader does not get).
    struct Piece {
        var bytes: Range<Int>
        var end: Int
    }

    /// What a search found.
    enum Found {
        case piece(Piece)
        case tooLong
        case incomplete
    }

    private var base: UnsafeMutablePointer<UInt8>?
    private var capacity = 0
    /// `base[start..<end]` is what is buffered.
    private var start = 0
    private var end = 0
    /// No delimiter ends before this index (the search resumes here).
    private var scanned = 0
    var eof = false
    var error: Int32 = 0
    /// Positions delimiter searches have started a comparison at: each byte once, plus fewer
    /// than the delimiter's length per search where it may straddle (the tests check it).
    private(set) var bytesSearched = 0

    /// An empty buffer (it allocates on the first read).
    init() {}

    deinit { base?.deallocate() }

    /// Bytes buffered.
    var count: Int { end - start }

    /// The smallest free space handed to a read, and the first allocation: enough for a typical
    /// request, small enough that ten thousand connections that each sent one hold little.
    static let minimumRead = 4 << 10
    /// Capacity an emptied buffer keeps (enough for a typical request), so a keep-alive
    /// connection does not allocate per request while an idle one holds little memory.
    static let retainedCapacity = 16 << 10

    /// Free space at the end for at least `minimum` bytes (`minimumRead` or more), for a read to
    /// fill; `commit` then says how much it did. Valid until the next mutation.
    mutating func reserve(_ minimum: Int = ReceiveBuffer.minimumRead) -> UnsafeMutableRawBufferPointer {
        let minimum = Swift.max(minimum, 1)
        if capacity - end < minimum {
            if start > 0 && (start >= capacity / 2 || capacity - count >= minimum) { compact() }
            if capacity - end < minimum {
                let grown = Swift.max(capacity * 2, end + minimum, ReceiveBuffer.retainedCapacity)
                let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
                if let base {
                    storage.update(from: base + start, count: count)
                    base.deallocate()
                }
                scanned -= start
                end -= start
                start = 0
                base = storage
                capacity = grown
            }
        }
        return UnsafeMutableRawBufferPointer(start: base! + end, count: capacity - end)
    }

    /// A read wrote `n` bytes into the space `reserve` gave.
    mutating func commit(_ n: Int) {
        precondition(n >= 0 && end + n <= capacity, "a read wrote outside the space it was given")
        end += n
    }

    /// Appends received bytes (a copy: for bytes that were not read into `reserve`'s space).
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let space = reserve(bytes.count)
        space.copyMemory(from: bytes)
        commit(bytes.count)
    }

    /// Moves what is buffered to the front of the storage.
    private mutating func compact() {
        guard let base, start > 0 else { return }
        base.update(from: base + start, count: count)
        scanned = Swift.max(scanned - start, 0)
        end -= start
        start = 0
    }

    // MARK: Searching

    /// A line of at most `limit` bytes (before its newline), or the rest at end of input.
    mutating func findLine(limit: Int) -> Found {
        switch find(through: [10], limit: limit == .max ? .max : limit + 1) {
        case .piece(var piece):
            if piece.bytes.count > 0, base![piece.bytes.upperBound - 1] == 10 {
                piece.bytes = piece.bytes.dropLast()
                if piece.bytes.count > 0, base![piece.bytes.upperBound - 1] == 13 { piece.bytes = piece.bytes.dropLast() }
            }
            return .piece(piece)
        case .incomplete where count > limit:
            return .tooLong  // no newline among more than `limit` bytes: the line is too long
        case let other:
            return other
        }
    }

    /// Everything up to and including the first `delimiter`, at most `limit` bytes in all, or
    /// the rest at end of input.
    mutating func find(through delimiter: [UInt8], limit: Int) -> Found {
        guard let first = delimiter.first else { return find(max: limit) }
        // A delimiter may straddle the old end: back up by its length less one.
        let from = Swift.max(start, scanned - (delimiter.count - 1))
        var i = from
        let last = end - delimiter.count
        defer { bytesSearched += Swift.max(0, i - from) }
        var found: Int?
        if let base {
            while i <= last {
                if base[i] == first && (1..<delimiter.count).allSatisfy({ base[i + $0] == delimiter[$0] }) {
                    found = i
                    break
                }
                i += 1
            }
        }
        if let found {
            let stop = found + delimiter.count
            guard stop - start <= limit else { return .tooLong }
            return .piece(Piece(bytes: start..<stop, end: stop))
        }
        scanned = end
        if count > limit { return .tooLong }
        if eof && count > 0 { return .piece(Piece(bytes: start..<end, end: end)) }
        return .incomplete
    }

    /// Up to `max` bytes, as soon as there is one.
    func find(max: Int) -> Found {
        guard count > 0 else { return .incomplete }
        let stop = start + Swift.min(Swift.max(max, 1), count)
        return .piece(Piece(bytes: start..<stop, end: stop))
    }

    /// `find(max:)` in whole UTF-8 characters, for a string read: a character cut by `max` is
    /// left for the next read, or taken whole if it is the first (a read always gives something,
    /// up to three bytes past `max`), and one cut by the end of what has arrived waits for the
    /// rest, unless the input has ended (then its bytes go out, and the string check refuses
    /// them). So text that arrives in arbitrary chunks reads as valid strings.
    func find(max: Int, wholeCharacters: Bool) -> Found {
        guard wholeCharacters, count > 0 else { return find(max: max) }
        let buffered = UnsafeRawBufferPointer(start: base! + start, count: count)
        var stop = Swift.min(Swift.max(max, 1), count)
        if let cut = UTF8Validation.cutSequence(buffered, before: stop) {
            if cut.start > 0 {
                stop = cut.start
            } else if cut.length <= count {
                stop = cut.length
            } else if !eof && error == 0 {
                return .incomplete
            }
        }
        return .piece(Piece(bytes: start..<start + stop, end: start + stop))
    }

    /// Shows `piece`'s bytes to `body` in place, then drops them (and what ends the piece) from
    /// the buffer. `piece` must come from the last search, with nothing appended since.
    mutating func hand<T>(_ piece: Piece, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        precondition(piece.bytes.lowerBound == start && piece.end <= end, "a piece handed out after the buffer changed")
        let result = try body(UnsafeRawBufferPointer(start: base.map { $0 + piece.bytes.lowerBound }, count: piece.bytes.count))
        start = piece.end
        scanned = Swift.max(scanned, start)
        if start == end {
            // Keep a small allocation for the next request; give a large one back.
            if capacity > ReceiveBuffer.retainedCapacity {
                base?.deallocate()
                base = nil
                capacity = 0
            }
            start = 0
            end = 0
            scanned = 0
        }
        return result
    }

    // MARK: As arrays

    /// A found piece as an array (`Taken`).
    private mutating func taken(_ found: Found) -> Taken {
        switch found {
        case .piece(let piece): .bytes(hand(piece) { Array($0) })
        case .tooLong: .tooLong
        case .incomplete: .incomplete
        }
    }

    /// Takes a line of at most `limit` bytes (before its newline), or the rest at end of input.
    mutating func takeLine(limit: Int) -> Taken { taken(findLine(limit: limit)) }

    /// Takes everything up to and including the first `delimiter`, at most `limit` bytes.
    mutating func take(through delimiter: [UInt8], limit: Int) -> Taken { taken(find(through: delimiter, limit: limit)) }

    /// Takes up to `max` bytes, or nil if none are buffered.
    mutating func take(max: Int) -> [UInt8]? {
        guard case .bytes(let bytes) = taken(find(max: max)) else { return nil }
        return bytes
    }
}
