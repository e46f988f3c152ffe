/// What a heap object is. Stored in the low byte of its header word.
enum HeapKind: UInt8, CaseIterable {
    /// A 64-bit integer outside the small-integer range. Payload: one `Int64` word.
    case boxedInt = 1
    /// A double. Payload: one word holding its bit pattern.
    case float = 2
    /// An immutable UTF-8 string. Payload: byte count (small int), then the bytes, zero-padded.
    case string = 3
    /// An immutable tuple. Payload: its elements.
    case tuple = 4
    /// A growable, mutable array. Payload: length (small int), then its storage (an
    /// `arrayStorage` object, or `nil` when empty). The indirection keeps the array's identity
    /// stable while its storage is replaced on growth.
    case array = 5
    /// The element storage of an array. Payload: `capacity` slots, unused ones hold `nil`.
    case arrayStorage = 6
    /// An immutable byte string (a binary): raw bytes with no UTF-8 requirement. Laid out like
    /// a string (byte count, then the bytes, zero-padded), so every reader of string bytes
    /// reads binaries too; only the kind tells them apart. Numbered before the map kinds,
    /// which stay last so that `isValueRecord` is one comparison.
    case binary = 7
    /// A map of at most `MapLayout.flatLimit` entries. Payload: key, value, key, value, … in
    /// canonical order (`MapLayout`).
    case mapFlat = 8
    /// The root node of a larger map's hash trie. Payload: entry count (small int), then the
    /// payload of a `mapNode`.
    case mapRoot = 9
    /// An inner node of a map's hash trie. Payload: data bitmap and child bitmap (small ints),
    /// the key/value pairs of the data bits, then the child nodes (`MapLayout.TrieNode`).
    case mapNode = 10
    /// Map entries whose keys have equal 64-bit hashes, at the bottom of a trie. Payload: key,
    /// value, key, value, … in canonical order.
    case mapCollision = 11
}

/// Layout helpers for heap objects.
///
/// An object is a header word followed by its payload. The header holds the kind in bits 1…7
/// (bit 0 clear) and the payload length in words in bits 8…63. During a collection the copier
/// overwrites the header of an evacuated object with its new address with bit 0 set; no live
/// header has bit 0 set, so the two are never confused.
enum HeapObject {
    /// Header word of an object of `kind` with `payloadWords` words after the header.
    @inline(__always) static func header(_ kind: HeapKind, payloadWords: Int) -> UInt64 {
        UInt64(payloadWords) << 8 | UInt64(kind.rawValue) << 1
    }

    /// The kind of the object at `object`.
    @inline(__always) static func kind(of object: UnsafeMutablePointer<UInt64>) -> HeapKind {
        kind(fromHeader: object.pointee)
    }

    /// The kind in a (live, not forwarded) header word.
    ///
    /// Not `HeapKind(rawValue:)`, which Swift compiles to an out-of-line call that a profile of
    /// message copying put at 2.6%: the VM writes every header, so the kind is always valid,
    /// and the cases are numbered 1, 2, … in declaration order, so the case is the raw value
    /// minus one (`HeapObjectTests` checks both for every kind).
    @inline(__always) static func kind(fromHeader header: UInt64) -> HeapKind {
        let raw = UInt8(truncatingIfNeeded: header >> 1) & 0x7F
        assert(HeapKind(rawValue: raw) != nil, "a heap header with no kind")
        return unsafeBitCast(raw &- 1, to: HeapKind.self)
    }

    /// Payload length in words of the object at `object`.
    @inline(__always) static func payloadWords(of object: UnsafeMutablePointer<UInt64>) -> Int {
        Int(object.pointee >> 8)
    }

    /// Words needed for a string or binary of `byteCount` bytes, header included.
    @inline(__always) static func stringWords(byteCount: Int) -> Int { 2 + (byteCount + 7) / 8 }

    /// Words of an array of `count` elements laid out compactly: the array object (header,
    /// length, storage) followed by a storage object of exactly `count` slots (none when empty).
    @inline(__always) static func arrayWords(count: Int) -> Int { 3 + (count > 0 ? 1 + count : 0) }

    /// Writes an array of `count` elements at `object` (which has `arrayWords(count:)` words),
    /// its storage right behind it, and returns the `count` slots to fill (left uninitialised;
    /// the caller must write every one before the next allocation).
    @inline(__always)
    static func initArray(_ object: UnsafeMutablePointer<UInt64>, count: Int) -> UnsafeMutablePointer<UInt64> {
        object[0] = header(.array, payloadWords: 2)
        object[1] = Value.smallInt(Int64(count)).raw
        let storage = object + 3
        if count == 0 {
            object[2] = Value.nil.raw
        } else {
            storage[0] = header(.arrayStorage, payloadWords: count)
            object[2] = Value.object(storage).raw
        }
        return storage + 1
    }

    /// Writes a string object holding `bytes` at `object` (which has `stringWords` words), or
    /// a binary when `kind` is `.binary` (the two share their layout). The caller vouches that
    /// the bytes of a string are valid UTF-8 (`UTF8Validation`).
    static func initString(_ object: UnsafeMutablePointer<UInt64>, bytes: UnsafeRawBufferPointer, kind: HeapKind = .string) {
        let words = stringWords(byteCount: bytes.count)
        object[words - 1] = 0  // zero the padding of the last word (before the length: they
                               // are the same word for the empty string)
        object[0] = header(kind, payloadWords: words - 1)
        object[1] = Value.smallInt(Int64(bytes.count)).raw
        if bytes.count > 0 {
            UnsafeMutableRawPointer(object + 2).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
    }

    /// Whether every payload word of `kind` is a well-formed value and the object is copied
    /// word for word: tuples and the nodes of maps (whose bitmaps and counts are small integers
    /// for that reason). The one layout fact the collector and `ValueCopy` need about maps.
    @inline(__always) static func isValueRecord(_ kind: HeapKind) -> Bool {
        kind == .tuple || kind.rawValue >= HeapKind.mapFlat.rawValue
    }

    /// Whether the payload of `kind` holds values the collector must trace.
    @inline(__always) static func holdsValues(_ kind: HeapKind) -> Bool {
        isValueRecord(kind) || kind == .array || kind == .arrayStorage
    }
}

/// Read-only views of heap objects, given a value known to be of the right kind.
extension Value {
    /// The `Int64` of a boxed integer.
    @inline(__always) var boxedIntValue: Int64 { Int64(bitPattern: objectAddress[1]) }
    /// The `Double` of a boxed float.
    @inline(__always) var floatValue: Double { Double(bitPattern: objectAddress[1]) }

    /// Byte count of a string or binary.
    @inline(__always) var stringByteCount: Int { Int(Value(raw: objectAddress[1]).smallIntValue) }
    /// The bytes of a string or binary. Valid until the next allocation in the owning heap.
    @inline(__always) var stringBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: UnsafeRawPointer(objectAddress + 2), count: stringByteCount)
    }

    /// Whether this is a string or a binary: a value whose bytes `stringBytes` reads.
    @inline(__always) var isByteString: Bool {
        let kind = heapKind
        return kind == .string || kind == .binary
    }

    /// Element count of a tuple.
    @inline(__always) var tupleCount: Int { HeapObject.payloadWords(of: objectAddress) }
    /// Address of a tuple's first element.
    @inline(__always) var tupleElements: UnsafeMutablePointer<UInt64> { objectAddress + 1 }

    /// Element count of an array.
    @inline(__always) var arrayCount: Int { Int(Value(raw: objectAddress[1]).smallIntValue) }
    /// The storage object of an array (`nil` when it has none yet).
    @inline(__always) var arrayStorage: Value { Value(raw: objectAddress[2]) }
    /// Slot capacity of an array's storage.
    @inline(__always) var arrayCapacity: Int {
        let storage = arrayStorage
        return storage.isObject ? HeapObject.payloadWords(of: storage.objectAddress) : 0
    }
    /// Address of an array's first element (only valid when `arrayCapacity > 0`).
    @inline(__always) var arrayElements: UnsafeMutablePointer<UInt64> { arrayStorage.objectAddress + 1 }

    /// The values a tuple or array holds, in order (empty for every other value). The one
    /// description of container layouts that every walk over values uses.
    @inline(__always) var elements: UnsafeMutableBufferPointer<UInt64> {
        switch heapKind {
        case .tuple?: UnsafeMutableBufferPointer(start: tupleElements, count: tupleCount)
        case .array?, .arrayStorage?:
            arrayCount > 0 ? UnsafeMutableBufferPointer(start: arrayElements, count: arrayCount)
                           : UnsafeMutableBufferPointer(start: nil, count: 0)
        default: UnsafeMutableBufferPointer(start: nil, count: 0)
        }
    }
}
