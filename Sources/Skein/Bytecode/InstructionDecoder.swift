/// One instruction of a function's code: where it starts, its opcode, its words and its operand
/// values (in `opcode.operands` order, immediates sign-extended).
public struct DecodedInstruction: Sendable {
    /// Word offset of the instruction in its function.
    public let pc: Int
    /// What the instruction does, and so its operands and its length.
    public let opcode: Opcode
    /// The instruction's words.
    public let instruction: Instruction
    /// The operand values, read with `opcode.operands`.
    public var values: OperandValues

    /// The operands' descriptions, in the order of `values`.
    public var operands: OperandList { opcode.operands }

    /// The operands with their values, for walking both at once.
    public var operandsAndValues: Zip2Sequence<OperandList, OperandValues> { zip(operands, values) }
}

/// Why a function's code does not decode.
public enum DecodeError: Error, Sendable {
    /// The low byte of word `pc` is no opcode.
    case unknownOpcode(pc: Int, byte: UInt8)
    /// The instruction at `pc` needs more words than the code has left.
    case cutOff(pc: Int, opcode: Opcode)
}

/// Decodes a function's code words into instructions, one after another: the one place that
/// knows how code words make instructions (an opcode byte, `opcode.wordCount` words, operand
/// fields from `opcode.operands`). The verifier, the linker, the disassembler and the loader's
/// host-function binding read code through it; the interpreter, which runs verified code, reads
/// fields straight from the word with the same layout (`UInt64.field`).
public struct InstructionDecoder {
    /// The function's code words.
    private let code: [UInt64]
    /// Word offset of the next instruction.
    public private(set) var pc = 0

    /// A decoder at the start of `code`.
    public init(_ code: [UInt64]) { self.code = code }

    /// The next instruction, or `nil` at the end of the code.
    public mutating func next() throws(DecodeError) -> DecodedInstruction? {
        guard pc < code.count else { return nil }
        let word = code[pc]
        guard let opcode = Opcode(rawValue: UInt8(truncatingIfNeeded: word)) else {
            throw .unknownOpcode(pc: pc, byte: UInt8(truncatingIfNeeded: word))
        }
        guard pc + opcode.wordCount <= code.count else { throw .cutOff(pc: pc, opcode: opcode) }
        let instruction = Instruction(word: word, extra: opcode.wordCount == 2 ? code[pc + 1] : nil)
        let decoded = DecodedInstruction(pc: pc, opcode: opcode, instruction: instruction, values: opcode.operands.decode(instruction))
        pc += opcode.wordCount
        return decoded
    }
}

/// The instructions of code that decodes (verified code), as a sequence: it ends at the end of
/// the code or at the first word that does not decode.
public struct DecodedInstructions: Sequence, IteratorProtocol {
    /// Where the sequence is.
    private var decoder: InstructionDecoder

    /// The instructions of `code`.
    public init(_ code: [UInt64]) { decoder = InstructionDecoder(code) }

    /// The next instruction, or `nil` at the end or at code that does not decode.
    public mutating func next() -> DecodedInstruction? {
        do { return try decoder.next() } catch { return nil }
    }
}

extension FunctionDefinition {
    /// The function's instructions, decoded (for verified code, or to stop at the first error).
    public var instructions: DecodedInstructions { DecodedInstructions(code) }
}
