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

/// Field accessors on a raw code word, shared by the verifier, the linker and the interpreter.
extension UInt64 {
    @inline(__always) var fieldA: Int { Int(truncatingIfNeeded: (self >> 8) & 0xFFFF) }
    @inline(__always) var fieldB: Int { Int(truncatingIfNeeded: (self >> 24) & 0xFFFF) }
    @inline(__always) var fieldC: Int { Int(truncatingIfNeeded: (self >> 40) & 0xFFFF) }
    @inline(__always) var fieldD: Int { Int(truncatingIfNeeded: self >> 56) }
    @inline(__always) var fieldBx: Int { Int(truncatingIfNeeded: (self >> 24) & 0xFFFF_FFFF) }
    @inline(__always) var fieldT: Int { Int(truncatingIfNeeded: self >> 40) }
    /// `B` read as a signed 16-bit immediate.
    @inline(__always) var fieldSB: Int { Int(Int16(truncatingIfNeeded: self >> 24)) }
    /// `C` read as a signed 16-bit immediate.
    @inline(__always) var fieldSC: Int { Int(Int16(truncatingIfNeeded: self >> 40)) }
    /// `Bx` read as a signed 32-bit immediate.
    @inline(__always) var fieldSBx: Int { Int(Int32(truncatingIfNeeded: self >> 24)) }

    /// The opcode of a word of verified, linked code, without the check `Opcode(rawValue:)`
    /// makes. Sound: the verifier rejects every word whose low byte is not an opcode, and linked
    /// code is never written after loading (asserted in debug builds, free in release).
    @inline(__always) var verifiedOpcode: Opcode {
        assert(Opcode(rawValue: UInt8(truncatingIfNeeded: self)) != nil, "unverified code word \(self)")
        return unsafeBitCast(UInt8(truncatingIfNeeded: self), to: Opcode.self)
    }
}

/// Where an operand lives in the encoded instruction.
public enum OperandField: Sendable {
    case a, b, c, d, bx, t, x

    /// Bit offset and width of the field in its word (`x` is the whole second word).
    var layout: (shift: UInt64, bits: UInt64) {
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
public enum OperandKind: Sendable {
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
        precondition(values.count == opcode.operands.count, "operand count of \(opcode)")
        var word = UInt64(opcode.rawValue)
        var extra: UInt64? = opcode.wordCount == 2 ? 0 : nil
        for (spec, value) in zip(opcode.operands, values) {
            let (shift, bits) = spec.field.layout
            let mask: UInt64 = (1 << bits) - 1
            let bitsValue = UInt64(bitPattern: Int64(value)) & mask
            if spec.field == .x { extra = bitsValue } else { word |= bitsValue << shift }
        }
        return Instruction(word: word, extra: extra)
    }

    /// Decodes the operand values of a verified instruction, in `opcode.operands` order;
    /// immediates are sign-extended.
    public func operandValues(_ opcode: Opcode) -> [Int] {
        opcode.operands.map { spec in
            let (shift, bits) = spec.field.layout
            let source = spec.field == .x ? (extra ?? 0) : word >> shift
            let raw = source & ((1 << bits) - 1)
            if spec.kind == .immediate {
                let signBit: UInt64 = 1 << (bits - 1)
                return raw & signBit != 0 ? Int(Int64(bitPattern: raw | ~((1 << bits) - 1))) : Int(raw)
            }
            return Int(raw)
        }
    }

    /// Bits of the first word that no operand of `opcode` uses; a canonical encoding has them zero.
    static func unusedBits(_ opcode: Opcode) -> UInt64 {
        var used: UInt64 = 0xFF
        for spec in opcode.operands where spec.field != .x {
            let (shift, bits) = spec.field.layout
            used |= ((1 << bits) - 1) << shift
        }
        return ~used
    }
}
