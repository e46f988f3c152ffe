/// `str rD, :operation, rArgs, n`: slicing, searching, splitting, joining, replacing, trimming
/// and ASCII case of strings and binaries (`StringOperationKind`; conversions are in
/// StringConversions.swift, `:format` in Format.swift).
///
/// Every operation plans first (checks its arguments, finds offsets) and allocates its result
/// once; the heap may collect during that allocation, so the bytes are copied from the
/// arguments read afresh from the registers afterwards, never from pointers taken before.
/// Results that would equal an argument (a whole slice, a trim that removes nothing, a
/// replacement with no match) are that argument, without allocating.
///
/// Kinds: a result has its subject's kind (a string's pieces are strings, a binary's binaries).
/// Needles, separators and replacements for a binary may be strings or binaries; for a string
/// they must be strings, so that every string stays valid UTF-8.
extension Interpreter {
    /// Runs a `str` instruction. Returns true when the budget is spent: an operation costs
    /// reductions by the bytes it reads and writes (`spendOnBulk`), as `concat` and `print` do,
    /// so a loop of large splits or formats yields like any other loop.
    func stringOperation(_ word: UInt64, reductions: inout Int) throws(Fault) -> Bool {
        guard let kind = StringOperationKind(rawValue: program.stringOperations[word.fieldB]) else {
            throw Fault(kind: .badArgument, detail: "str names no known operation (the loader resolves every str; this is a VM bug)")
        }
        let first = strArgument(word, 0)
        let bytesRead = first.isByteString ? first.stringByteCount : 0
        let result: UInt64
        switch kind {
        case .slice: result = try slice(word, kind, reductions: &reductions)
        case .find:
            let subject = try byteArgument(word, 0, kind)
            let needle = try needleArgument(word, 1, kind, for: subject)
            let from = word.fieldD > 2 ? try offsetArgument(word, 2, kind, upTo: subject.stringByteCount) : 0
            result = ByteStrings.find(needle.stringBytes, in: subject.stringBytes, from: from).map { Value.smallInt(Int64($0)).raw } ?? Value.nil.raw
        case .startsWith, .endsWith:
            let subject = try byteArgument(word, 0, kind)
            let affix = try needleArgument(word, 1, kind, for: subject)
            result = Value.bool(ByteStrings.hasAffix(affix.stringBytes, subject.stringBytes, atEnd: kind == .endsWith)).raw
        case .split: result = try split(word, kind, reductions: &reductions)
        case .join: result = try join(word, kind, reductions: &reductions)
        case .replace: result = try replace(word, kind, reductions: &reductions)
        case .trim, .trimStart, .trimEnd:
            let subject = try byteArgument(word, 0, kind)
            let range = ByteStrings.trimmed(subject.stringBytes, start: kind != .trimEnd, end: kind != .trimStart)
            result = try copyOfArgument(word, 0, range, reductions: &reductions)
        case .upper, .lower:
            let subject = try byteArgument(word, 0, kind)
            result = try makeByteString(subject.heapKind!, byteCount: subject.stringByteCount, reductions: &reductions) { out in
                let source = strArgument(word, 0).stringBytes
                for i in 0..<source.count { out[i] = ByteStrings.asciiCase(source[i], upper: kind == .upper) }
            }
        case .toInt, .fromInt, .toFloat, .toString, .toBinary, .toArray, .utf8Error:
            result = try stringConversion(word, kind, reductions: &reductions)
        case .format: result = try format(word, reductions: &reductions)
        }
        registers[word.fieldA] = result
        let made = Value(raw: result)
        return Interpreter.spendOnBulk(bytes: bytesRead + (made.isByteString ? made.stringByteCount : 0), &reductions)
    }

    // MARK: Arguments

    /// Argument `k` of the instruction's register run, read afresh (objects move when the heap
    /// collects, so read it again after any allocation).
    @inline(__always) func strArgument(_ word: UInt64, _ k: Int) -> Value { Value(raw: registers[word.fieldC + k]) }

    /// Argument `k`, which must be a string or a binary.
    func byteArgument(_ word: UInt64, _ k: Int, _ kind: StringOperationKind) throws(Fault) -> Value {
        let v = strArgument(word, k)
        guard v.isByteString else {
            throw Fault(kind: .typeMismatch, detail: "str :\(kind.name) needs a string or binary as argument \(k + 1), got \(Interpreter.typeName(v))")
        }
        return v
    }

    /// Argument `k`, a needle, separator or replacement for `subject`: a string for a string
    /// (so that results stay UTF-8), a string or binary for a binary.
    func needleArgument(_ word: UInt64, _ k: Int, _ kind: StringOperationKind, for subject: Value) throws(Fault) -> Value {
        let v = strArgument(word, k)
        let fits = subject.heapKind == .string ? v.heapKind == .string : v.isByteString
        guard fits else {
            let wanted = subject.heapKind == .string ? "a string (the subject is a string)" : "a string or binary"
            throw Fault(kind: .typeMismatch, detail: "str :\(kind.name) needs \(wanted) as argument \(k + 1), got \(Interpreter.typeName(v))")
        }
        return v
    }

    /// Argument `k`, a small integer.
    func intArgument(_ word: UInt64, _ k: Int, _ kind: StringOperationKind) throws(Fault) -> Int {
        let v = strArgument(word, k)
        guard v.isSmallInt else {
            throw Fault(kind: .typeMismatch, detail: "str :\(kind.name) needs an integer as argument \(k + 1), got \(Interpreter.typeName(v))")
        }
        return Int(v.smallIntValue)
    }

    /// Argument `k`, a byte offset in `0...count`.
    private func offsetArgument(_ word: UInt64, _ k: Int, _ kind: StringOperationKind, upTo count: Int) throws(Fault) -> Int {
        let offset = try intArgument(word, k, kind)
        guard offset >= 0 && offset <= count else {
            throw Fault(kind: .indexOutOfRange, detail: "str :\(kind.name): offset \(offset) outside 0…\(count), the subject's bytes")
        }
        return offset
    }

    // MARK: Results

    /// A new string or binary (`kind`) of `byteCount` bytes, which `fill` writes (reading its
    /// sources afresh: the allocation may have moved them). The one constructor of computed
    /// byte strings; `concat` uses it too.
    func makeByteString(_ kind: HeapKind, byteCount: Int, reductions: inout Int,
                        fill: (UnsafeMutableRawBufferPointer) -> Void) throws(Fault) -> UInt64 {
        let words = HeapObject.stringWords(byteCount: byteCount)
        let object = try allocate(words: words, reductions: &reductions)
        object[words - 1] = 0  // the padding of the last word (the length's word when empty)
        object[0] = HeapObject.header(kind, payloadWords: words - 1)
        object[1] = Value.smallInt(Int64(byteCount)).raw
        fill(UnsafeMutableRawBufferPointer(start: object + 2, count: byteCount))
        return Value.object(object).raw
    }

    /// Bytes `range` of argument `k` (a string or binary), as a new value of its kind, or the
    /// argument itself when the range is all of it.
    func copyOfArgument(_ word: UInt64, _ k: Int, _ range: Range<Int>, reductions: inout Int) throws(Fault) -> UInt64 {
        let v = strArgument(word, k)
        if range.count == v.stringByteCount { return v.raw }
        return try makeByteString(v.heapKind!, byteCount: range.count, reductions: &reductions) { out in
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: strArgument(word, k).stringBytes[range]))
        }
    }

    // MARK: Operations

    /// `:slice s, start [, end]`: bytes `start..<end` (`end` absent or nil: to the end). On a
    /// string both offsets must fall between characters.
    private func slice(_ word: UInt64, _ kind: StringOperationKind, reductions: inout Int) throws(Fault) -> UInt64 {
        let subject = try byteArgument(word, 0, kind)
        let count = subject.stringByteCount
        let start = try offsetArgument(word, 1, kind, upTo: count)
        let end = word.fieldD > 2 && strArgument(word, 2).raw != Value.nil.raw ? try offsetArgument(word, 2, kind, upTo: count) : count
        guard start <= end else {
            throw Fault(kind: .indexOutOfRange, detail: "str :slice: start \(start) is after end \(end)")
        }
        if subject.heapKind == .string {
            for offset in [start, end] where !UTF8Validation.isBoundary(subject.stringBytes, offset) {
                throw Fault(kind: .badArgument, detail: "str :slice: byte offset \(offset) is inside a UTF-8 character of the string (slice a binary for raw bytes)")
            }
        }
        return try copyOfArgument(word, 0, start..<end, reductions: &reductions)
    }

    /// `:split s, separator`: an array of the pieces between the separators (one more than
    /// there are separators: `"a,,b"` gives `["a", "", "b"]`, `","` gives `["", ""]`).
    private func split(_ word: UInt64, _ kind: StringOperationKind, reductions: inout Int) throws(Fault) -> UInt64 {
        let subject = try byteArgument(word, 0, kind)
        let separator = try needleArgument(word, 1, kind, for: subject)
        guard separator.stringByteCount > 0 else {
            throw Fault(kind: .badArgument, detail: "str :split needs a separator of at least one byte")
        }
        let pieces = ByteStrings.pieces(of: subject.stringBytes, by: separator.stringBytes)
        let pieceKind = subject.heapKind!
        var words = HeapObject.arrayWords(count: pieces.count)
        for piece in pieces { words += HeapObject.stringWords(byteCount: piece.count) }
        // One block: the array, its storage, then every piece (each a heap object of its own).
        let object = try allocate(words: words, reductions: &reductions)
        let source = strArgument(word, 0).stringBytes
        let slots = HeapObject.initArray(object, count: pieces.count)
        var free = object + HeapObject.arrayWords(count: pieces.count)
        for (i, piece) in pieces.enumerated() {
            HeapObject.initString(free, bytes: UnsafeRawBufferPointer(rebasing: source[piece]), kind: pieceKind)
            slots[i] = Value.object(free).raw
            free += HeapObject.stringWords(byteCount: piece.count)
        }
        return Value.object(object).raw
    }

    /// `:join array, separator`: the elements with the separator between them. A string
    /// separator joins strings into a string; a binary one joins strings and binaries into a
    /// binary.
    private func join(_ word: UInt64, _ kind: StringOperationKind, reductions: inout Int) throws(Fault) -> UInt64 {
        let array = strArgument(word, 0)
        guard array.heapKind == .array else {
            throw Fault(kind: .typeMismatch, detail: "str :join needs an array as argument 1, got \(Interpreter.typeName(array))")
        }
        let separator = try byteArgument(word, 1, kind)
        let resultKind = separator.heapKind!
        var total = 0
        for (i, element) in array.elements.enumerated() {
            let e = Value(raw: element)
            guard resultKind == .string ? e.heapKind == .string : e.isByteString else {
                let wanted = resultKind == .string ? "strings (join binaries with a binary separator)" : "strings or binaries"
                throw Fault(kind: .typeMismatch, detail: "str :join needs an array of \(wanted); element \(i) is \(Interpreter.typeName(e))")
            }
            total += e.stringByteCount + (i > 0 ? separator.stringByteCount : 0)
        }
        return try makeByteString(resultKind, byteCount: total, reductions: &reductions) { out in
            let separator = strArgument(word, 1).stringBytes
            var at = 0
            for (i, element) in strArgument(word, 0).elements.enumerated() {
                if i > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: out[at..<at + separator.count]).copyMemory(from: separator)
                    at += separator.count
                }
                let bytes = Value(raw: element).stringBytes
                UnsafeMutableRawBufferPointer(rebasing: out[at..<at + bytes.count]).copyMemory(from: bytes)
                at += bytes.count
            }
        }
    }

    /// `:replace s, pattern, replacement`: every non-overlapping occurrence of the pattern,
    /// left to right, replaced.
    private func replace(_ word: UInt64, _ kind: StringOperationKind, reductions: inout Int) throws(Fault) -> UInt64 {
        let subject = try byteArgument(word, 0, kind)
        let pattern = try needleArgument(word, 1, kind, for: subject)
        let replacement = try needleArgument(word, 2, kind, for: subject)
        guard pattern.stringByteCount > 0 else {
            throw Fault(kind: .badArgument, detail: "str :replace needs a pattern of at least one byte")
        }
        let found = ByteStrings.occurrences(of: pattern.stringBytes, in: subject.stringBytes)
        if found.isEmpty { return subject.raw }
        let (p, r) = (pattern.stringByteCount, replacement.stringByteCount)
        let total = subject.stringByteCount - found.count * p + found.count * r
        return try makeByteString(subject.heapKind!, byteCount: total, reductions: &reductions) { out in
            let source = strArgument(word, 0).stringBytes, with = strArgument(word, 2).stringBytes
            var from = 0, at = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(rebasing: out[at..<at + bytes.count]).copyMemory(from: bytes)
                at += bytes.count
            }
            for match in found {
                put(UnsafeRawBufferPointer(rebasing: source[from..<match]))
                put(with)
                from = match + p
            }
            put(UnsafeRawBufferPointer(rebasing: source[from..<source.count]))
        }
    }
}
