/// The operands of one instruction form, in the order they are written in assembly: the one
/// description of an opcode's operand layout that the assembler encodes with, and the decoder
/// (`InstructionDecoder`), hence the verifier, the linker and the disassembler, read with.
///
/// Packed into one word (a byte per operand: kind in the high nibble, field in the low one, and
/// the count in the top byte), so that asking an opcode for its operands copies eight bytes and
/// touches no reference count. Written as an array literal in `Opcode`'s table.
public struct OperandList: RandomAccessCollection, ExpressibleByArrayLiteral, Sendable {
    /// Operand `k` in byte `k`, the count in byte 7.
    private let packed: UInt64

    /// The most operands an instruction has.
    public static let capacity = 4

    /// The list of `specs`, in order (at most `capacity`).
    public init(arrayLiteral specs: OperandSpec...) {
        precondition(specs.count <= OperandList.capacity, "an instruction has at most four operands")
        var packed = UInt64(specs.count) << 56
        for (k, spec) in specs.enumerated() {
            packed |= UInt64(spec.kind.rawValue << 4 | spec.field.rawValue) << (8 * UInt64(k))
        }
        self.packed = packed
    }

    /// 0.
    public var startIndex: Int { 0 }
    /// The number of operands.
    public var endIndex: Int { Int(truncatingIfNeeded: packed >> 56) }

    /// Operand `index`, in the order operands are written.
    public subscript(index: Int) -> OperandSpec {
        precondition(index >= 0 && index < endIndex, "operand index out of range")
        let byte = UInt8(truncatingIfNeeded: packed >> (8 * UInt64(index)))
        // Both halves were written from raw values in `init`.
        return OperandSpec(kind: OperandKind(rawValue: byte >> 4)!, field: OperandField(rawValue: byte & 0xF)!)
    }

    /// The operand values of `instruction`, in this list's order; immediates are sign-extended.
    public func decode(_ instruction: Instruction) -> OperandValues {
        var values = OperandValues()
        for spec in self {
            let (shift, bits) = spec.field.layout
            let source = spec.field == .x ? (instruction.extra ?? 0) : instruction.word >> shift
            let raw = source & ((1 << bits) - 1)
            if spec.kind == .immediate {
                let signBit: UInt64 = 1 << (bits - 1)
                values.append(raw & signBit != 0 ? Int(Int64(bitPattern: raw | ~((1 << bits) - 1))) : Int(raw))
            } else {
                values.append(Int(raw))
            }
        }
        return values
    }

    /// The words of `opcode` with `values` (in this list's order) in their fields.
    public func encode<Values: Collection<Int>>(_ opcode: Opcode, _ values: Values) -> Instruction {
        precondition(values.count == count, "operand count of \(opcode)")
        var word = UInt64(opcode.rawValue)
        var extra: UInt64? = opcode.wordCount == 2 ? 0 : nil
        for (spec, value) in zip(self, values) {
            let (shift, bits) = spec.field.layout
            let mask: UInt64 = (1 << bits) - 1
            let bitsValue = UInt64(bitPattern: Int64(value)) & mask
            if spec.field == .x { extra = bitsValue } else { word |= bitsValue << shift }
        }
        return Instruction(word: word, extra: extra)
    }

    /// Bits of the first word that none of these operands uses (nor the opcode byte).
    public var unusedBits: UInt64 {
        var used: UInt64 = 0xFF
        for spec in self where spec.field != .x {
            let (shift, bits) = spec.field.layout
            used |= ((1 << bits) - 1) << shift
        }
        return ~used
    }
}

/// The values of an instruction's operands (at most four), kept inline: the assembler builds
/// one for every form it tries and the decoder one for every instruction, and an array each
/// time was a good part of their time.
public struct OperandValues: RandomAccessCollection, MutableCollection, Sendable {
    /// The values, inline; those at `endIndex` and after are unused.
    private var storage: (Int, Int, Int, Int) = (0, 0, 0, 0)
    /// The number of values.
    public private(set) var endIndex = 0
    /// 0.
    public var startIndex: Int { 0 }

    /// No values yet.
    public init() {}

    /// Value `index` (below `endIndex`).
    public subscript(index: Int) -> Int {
        get {
            switch index {
            case 0: storage.0
            case 1: storage.1
            case 2: storage.2
            default: storage.3
            }
        }
        set {
            switch index {
            case 0: storage.0 = newValue
            case 1: storage.1 = newValue
            case 2: storage.2 = newValue
            default: storage.3 = newValue
            }
        }
    }

    /// Adds the next operand's value.
    public mutating func append(_ value: Int) {
        switch endIndex {
        case 0: storage.0 = value
        case 1: storage.1 = value
        case 2: storage.2 = value
        case 3: storage.3 = value
        default: preconditionFailure("an instruction has at most four operands")
        }
        endIndex += 1
    }
}
