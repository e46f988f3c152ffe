/// A Skein value: one 64-bit tagged word.
///
/// The low bits say what the word holds, so registers, tuples and messages are plain `UInt64`s
/// with no class references, existentials or reference counting:
///
/// | low bits | meaning | payload |
/// |---|---|---|
/// | `…0`    | small integer | the upper 63 bits, signed (`raw >> 1`) |
/// | `…001`  | heap object   | the object's address (8-aligned) with bit 0 set |
/// | `…0011` | atom          | atom id (`raw >> 4`) |
/// | `…0101` | special       | `nil`, `false`, `true` |
/// | `…0111` | function      | function index (`raw >> 4`) |
/// | `…1011` | pid           | process id (`raw >> 4`) |
/// | `…1101` | reference     | unique reference number (`raw >> 4`) |
///
/// Integers outside 63 bits and all floats are boxed on the heap (`HeapKind.boxedInt`,
/// `.float`), so the language has full 64-bit signed integers while the common case stays an
/// immediate whose addition is one machine add plus an overflow check.
struct Value: Equatable, Hashable, Sendable {
    /// The raw tagged word.
    public var raw: UInt64

    /// Wraps a raw word; the caller vouches that it is a well-formed value.
    @inline(__always) public init(raw: UInt64) { self.raw = raw }

    // MARK: Tags

    /// Tag of a heap pointer (low three bits).
    @usableFromInline static let pointerTag: UInt64 = 0b001
    /// Tag of an atom (low four bits).
    @usableFromInline static let atomTag: UInt64 = 0b0011
    /// Tag of `nil`, `false` and `true` (low four bits).
    @usableFromInline static let specialTag: UInt64 = 0b0101
    /// Tag of a function reference (low four bits).
    @usableFromInline static let functionTag: UInt64 = 0b0111
    /// Tag of a process id (low four bits).
    @usableFromInline static let pidTag: UInt64 = 0b1011
    /// Tag of a unique reference (low four bits).
    @usableFromInline static let refTag: UInt64 = 0b1101

    /// The `nil` value.
    public static let `nil` = Value(raw: 0x05)
    /// The `false` value.
    public static let `false` = Value(raw: 0x15)
    /// The `true` value.
    public static let `true` = Value(raw: 0x25)

    /// Smallest integer held without boxing (−2^62).
    public static let smallIntMin: Int64 = -(1 << 62)
    /// Largest integer held without boxing (2^62 − 1).
    public static let smallIntMax: Int64 = (1 << 62) - 1

    // MARK: Construction

    /// A small integer; `n` must lie in `smallIntMin...smallIntMax`.
    @inline(__always) public static func smallInt(_ n: Int64) -> Value {
        Value(raw: UInt64(bitPattern: n &<< 1))
    }
    /// A boolean.
    @inline(__always) public static func bool(_ b: Bool) -> Value { b ? .true : .false }
    /// An atom with the given VM-wide id.
    @inline(__always) public static func atom(_ id: Int) -> Value {
        Value(raw: UInt64(id) << 4 | atomTag)
    }
    /// A reference to function `index` of the loaded program.
    @inline(__always) public static func function(_ index: Int) -> Value {
        Value(raw: UInt64(index) << 4 | functionTag)
    }
    /// A process id.
    @inline(__always) public static func pid(_ id: UInt64) -> Value { Value(raw: id << 4 | pidTag) }
    /// A unique reference.
    @inline(__always) public static func ref(_ id: UInt64) -> Value { Value(raw: id << 4 | refTag) }
    /// A heap object at `address`.
    @inline(__always) static func object(_ address: UnsafeMutablePointer<UInt64>) -> Value {
        Value(raw: UInt64(UInt(bitPattern: address)) | pointerTag)
    }

    // MARK: Inspection

    /// Whether this is a small (unboxed) integer.
    @inline(__always) public var isSmallInt: Bool { raw & 1 == 0 }
    /// The small integer's value; only meaningful when `isSmallInt`.
    @inline(__always) public var smallIntValue: Int64 { Int64(bitPattern: raw) >> 1 }
    /// Whether this word points to a heap object.
    @inline(__always) public var isObject: Bool { raw & 0b111 == Value.pointerTag }
    /// The heap object's address; only meaningful when `isObject`.
    @inline(__always) var objectAddress: UnsafeMutablePointer<UInt64> {
        assert(isObject, "objectAddress of a non-object value")
        return UnsafeMutablePointer(bitPattern: UInt(raw & ~Value.pointerTag))!
    }
    /// The immediate tag (low four bits) of a non-integer, non-object value.
    @inline(__always) var immediateTag: UInt64 { raw & 0xF }
    /// The payload of an immediate (atom id, function index, pid, reference number).
    @inline(__always) var immediatePayload: UInt64 { raw >> 4 }
    /// Whether this is an atom.
    @inline(__always) public var isAtom: Bool { raw & 0xF == Value.atomTag }
    /// Whether this is a function reference.
    @inline(__always) public var isFunction: Bool { raw & 0xF == Value.functionTag }
    /// Whether this is a pid.
    @inline(__always) public var isPid: Bool { raw & 0xF == Value.pidTag }
    /// Whether this is a unique reference.
    @inline(__always) public var isRef: Bool { raw & 0xF == Value.refTag }
    /// `nil` and `false` are false; every other value is true.
    @inline(__always) public var isTruthy: Bool { raw != Value.nil.raw && raw != Value.false.raw }

    /// The heap kind of an object value, or `nil` for immediates.
    @inline(__always) var heapKind: HeapKind? {
        guard isObject else { return nil }
        return HeapObject.kind(of: objectAddress)
    }
}
