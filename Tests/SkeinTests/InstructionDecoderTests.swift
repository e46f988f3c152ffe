import Testing
@testable import Skein

/// The one decoder of code words (issue 8: "instructions decoded in one place"): what the
/// assembler encodes with an opcode's `OperandList`, the decoder reads back, and code that does
/// not decode is named by its position.
@Suite struct InstructionDecoderTests {
    /// Every opcode, with operand values at the edges of their fields, decodes to what was encoded.
    @Test func everyOpcodeRoundTripsThroughItsOperandList() throws {
        for opcode in Opcode.allCases {
            let values = opcode.operands.enumerated().map { k, spec -> Int in
                let bits = Int(spec.field.layout.bits)
                switch spec.kind {
                case .immediate: return k % 2 == 0 ? -(1 << (bits - 1)) : (1 << (bits - 1)) - 1
                case .label: return k  // small targets: the code below is short
                default: return (1 << bits) - 1 - k
                }
            }
            let encoded = Instruction.encode(opcode, values)
            #expect((encoded.extra != nil) == (opcode.wordCount == 2), "\(opcode)")
            let code = [encoded.word] + (encoded.extra.map { [$0] } ?? [])
            var decoder = InstructionDecoder(code)
            let decoded = try #require(try decoder.next())
            #expect(decoded.pc == 0 && decoded.opcode == opcode)
            #expect(Array(decoded.values) == values, "\(opcode)")
            #expect(encoded.word & opcode.operands.unusedBits == 0, "\(opcode)")
            #expect(try decoder.next() == nil)
        }
    }

    /// The decoder walks instruction boundaries, two-word instructions included.
    @Test func walksInstructionBoundaries() throws {
        let module = try Assembler.assemble("""
            func main/0
                recvtag r0, r1, 5, late
                nop
            late:
                ret r0
            end
            """, file: "t.ska")
        let instructions = Array(module.functions[0].instructions)
        #expect(instructions.map(\.pc) == [0, 2, 3])
        #expect(instructions.map(\.opcode) == [.recvtagti, .nop, .ret])
        #expect(Array(instructions[0].values) == [0, 1, 5, 3])
    }

    /// Code that does not decode is an error at the word where it stops.
    @Test func namesTheWordThatDoesNotDecode() {
        var unknown = InstructionDecoder([UInt64(Opcode.nop.rawValue), 0xFF])
        #expect(throws: DecodeError.self) {
            while try unknown.next() != nil {}
        }
        #expect(unknown.pc == 1)
        var cut = InstructionDecoder([Instruction.encode(.recvtagti, [0, 1, 5, 0]).word])
        do {
            _ = try cut.next()
            Issue.record("a two-word instruction without its second word decoded")
        } catch {
            guard case .cutOff(let pc, let opcode) = error else { Issue.record("\(error)"); return }
            #expect(pc == 0 && opcode == .recvtagti)
        }
        // The sequence form stops there.
        #expect(Array(DecodedInstructions([UInt64(Opcode.nop.rawValue), 0xFF])).count == 1)
    }
}
