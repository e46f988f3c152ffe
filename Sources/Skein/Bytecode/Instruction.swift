/// Encoding of one instruction in 64-bit code words.
///
/// ```
///  63      56 55          40 39          24 23           8 7        0
/// +----------+--------------+--------------+--------------+----------+
/// |    D     |      C       |      B       |      A       |  opcode  |
/// +----------+--------------+--------------+--------------+----------+
///                           |           Bx (32)           |
/// |        T (24)           |
/// ```
/// `A`, `B`, `C` are 16-bit fields (registers, function indices, counts, signed immediates), `D`
/// an 8-bit count, `Bx` a 32-bit field (constant index or signed immediate) and `T` a 24-bit jump
/// target. Instructions that need a target beside three 16-bit operands take a second word `X`
/// holding the target. Targets are word offsets from the start of the function in the file; the
/// loader rewrites them to absolute positions in the linked program.
public struct Instruction: Equatable, Sendable {
    /// The first (or only) code word.
    public var word: UInt64
    /// The extension word, for two-word instructions.
    public var extra: UInt64?

    /// Wraps encoded words.
    public init(word: UInt64, extra: UInt64? = nil) {
        self.word = word
        self.extra = extra
    }
}

/// Field accessors on a raw code word, for the interpreter's dispatch, which knows each opcode's
/// operands and reads them straight from the word. They read `OperandField.layout`, the same
/// description the decoder uses; with the field a constant, each folds to a shift and a mask.
extension UInt64 {
    /// Field `field` of the word, unsigned.
    @inline(__always) func field(_ field: OperandField) -> Int {
        let (shift, bits) = field.layout
        return Int(truncatingIfNeeded: (self >> shift) & ((1 << bits) - 1))
    }

    /// Field `field` of the word read as a signed immediate (two's complement of its width).
    @inline(__always) func signedField(_ field: OperandField) -> Int {
        let (shift, bits) = field.layout
        return Int(Int64(bitPattern: self << (64 - shift - bits)) >> Int64(64 - bits))
    }

    /// `A`: a register, function index or count (16 bits).
    @inline(__always) var fieldA: Int { field(.a) }
    /// `B`: a register, function or constant index (16 bits).
    @inline(__always) var fieldB: Int { field(.b) }
    /// `C`: a register or count (16 bits).
    @inline(__always) var fieldC: Int { field(.c) }
    /// `D`: an argument count (8 bits).
    @inline(__always) var fieldD: Int { field(.d) }
    /// `Bx`: a constant index (32 bits).
    @inline(__always) var fieldBx: Int { field(.bx) }
    /// `T`: a jump target (24 bits).
    @inline(__always) var fieldT: Int { field(.t) }
    /// `A` read as a signed 16-bit immediate.
    @inline(__always) var fieldSA: Int { signedField(.a) }
    /// `B` read as a signed 16-bit immediate.
    @inline(__always) var fieldSB: Int { signedField(.b) }
    /// `C` read as a signed 16-bit immediate.
    @inline(__always) var fieldSC: Int { signedField(.c) }
    /// `Bx` read as a signed 32-bit immediate.
    @inline(__always) var fieldSBx: Int { signedField(.bx) }

    /// The opcode of a word of verified, linked code, without the check `Opcode(rawValue:)`
    /// makes. Sound: the verifier rejects every word whose low byte is not an opcode, and linked
    /// code is never written after loading (asserted in debug builds, free in release).
    @inline(__always) var verifiedOpcode: Opcode {
        assert(Opcode(rawValue: UInt8(truncatingIfNeeded: self)) != nil, "unverified code word \(self)")
        return unsafeBitCast(UInt8(truncatingIfNeeded: self), to: Opcode.self)
    }
}

/// Where an operand lives in the encoded instruction.
public enum OperandField: UInt8, Sendable {
    case a, b, c, d, bx, t, x

    /// Bit offset and width of the field in its word (`x` is the low 32 bits of the second word).
    @inline(__always) var layout: (shift: UInt64, bits: UInt64) {
        switch self {
        case .a: (8, 16)
        case .b: (24, 16)
        case .c: (40, 16)
        case .d: (56, 8)
        case .bx: (24, 32)
        case .t: (40, 24)
        case .x: (0, 32)
        }
    }
}

/// What an operand means, which decides how the assembler parses it and the verifier checks it.
public enum OperandKind: UInt8, Sendable {
    /// A register of the current function.
    case register
    /// A signed immediate that fits the field.
    case immediate
    /// An index into the constant pool.
    case constant
    /// An index into the function table.
    case function
    /// An unsigned count (of registers or arguments).
    case count
    /// A jump target within the function.
    case label
}

/// One operand of an instruction form.
public struct OperandSpec: Sendable {
    public let kind: OperandKind
    public let field: OperandField
}

extension Instruction {
    /// Encodes `opcode` with operand values in the order of `opcode.operands`.
    public static func encode<Values: Collection<Int>>(_ opcode: Opcode, _ values: Values) -> Instruction {
        opcode.operands.encode(opcode, values)
    }
}
