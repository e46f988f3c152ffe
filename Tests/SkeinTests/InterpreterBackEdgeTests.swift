import Testing
@testable import Skein

/// The loop back-edge instructions `addjlt`/`addjle`, which the assembler makes of `addi rA, rA,
/// imm` followed by `jlt`/`jle rA, rC, L` (docs/interpreter.md).
@Suite struct InterpreterBackEdgeTests {
    /// The opcodes of function `index`'s instructions, in order.
    static func opcodes(_ module: Module, function index: Int = 0) -> [Opcode] {
        module.functions[index].instructions.map(\.opcode)
    }

    /// A loop summing 1…10 with `kind` (`jlt` or `jle`) as its back-edge; `label` goes on the branch.
    static func sumLoop(_ kind: String, limit: Int, branchLabel: String = "") -> String {
        """
        func main/0
            load r0, 0
            load r1, 0
            load r2, \(limit)
        loop:
            add r0, r0, r1
            add r1, r1, 1
        \(branchLabel)    \(kind) r1, r2, loop
            print r0
            ret r0
        end
        """
    }

    @Test(arguments: [("jlt", 11, Opcode.addjlt), ("jle", 10, Opcode.addjle)])
    func theAssemblerFusesTheIncrementAndTheBranch(kind: String, limit: Int, fused: Opcode) throws {
        let source = InterpreterBackEdgeTests.sumLoop(kind, limit: limit)
        let module = try Assembler.assemble(source, file: "t.ska")
        #expect(InterpreterBackEdgeTests.opcodes(module) == [.loadi, .loadi, .loadi, .add, fused, .print, .ret])
        // The pair's two words are the fused instruction's two: every position stays.
        #expect(module.functions[0].code.count == 8)
        let r = try runProgram(source)
        #expect(r.output == "55\n")
        let bytes = BinaryFormat.encode(module)
        let text = Disassembler.disassemble(try BinaryFormat.decode(bytes))
        #expect(text.contains("\(fused.mnemonic) r1, 1, r2, L3"))
        #expect(BinaryFormat.encode(try Assembler.assemble(text, file: "again.ska")) == bytes)
    }

    @Test func aLabelOnTheBranchKeepsThePairApartAndSoDoesTheDisassembly() throws {
        // Nothing jumps to `keep`, so the disassembler prints no label of its own there: it must
        // add one, or the text would assemble to the fused form.
        let module = try Assembler.assemble(InterpreterBackEdgeTests.sumLoop("jlt", limit: 11, branchLabel: "keep:\n"), file: "t.ska")
        #expect(InterpreterBackEdgeTests.opcodes(module) == [.loadi, .loadi, .loadi, .add, .addi, .jlt, .print, .ret])
        let bytes = BinaryFormat.encode(module)
        let again = try Assembler.assemble(Disassembler.disassemble(try BinaryFormat.decode(bytes)), file: "again.ska")
        #expect(BinaryFormat.encode(again) == bytes)
    }

    @Test func onlyAnIncrementInPlaceOfTheComparedRegisterIsFused() throws {
        let module = try Assembler.assemble("""
        func main/0
            load r0, 0
            load r1, 5
        a:
            add r0, r1, 1      ; not in place
            jlt r0, r1, a
        b:
            add r0, r0, 1
            jlt r1, r0, b      ; compares another register
        c:
            add r0, r0, 1
            jle r0, r0, c      ; compares the register with itself
        d:
            add r0, r0, 1
            jgt r0, r1, d      ; no fused form
            ret r0
        end
        """, file: "t.ska")
        #expect(!InterpreterBackEdgeTests.opcodes(module).contains(.addjlt))
        #expect(!InterpreterBackEdgeTests.opcodes(module).contains(.addjle))
    }

    @Test func anOverflowInTheFusedInstructionHasTheLineOfTheAddition() throws {
        let r = try runProgram("""
        func main/0
            load r0, 9223372036854775000
            load r1, 9223372036854775807
        loop:
            add r0, r0, 100
            jlt r0, r1, loop
            ret r0
        end
        """, file: "edge.ska")
        guard case .failed(let error) = r.status else { Issue.record("did not fail"); return }
        #expect(error.kind == .integerOverflow)
        #expect(error.line == 5)
    }

    @Test func boxedAndFloatCountersTakeTheGeneralPath() throws {
        let r = try runProgram("""
        func main/0
            load r0, 4611686018427387900   ; crosses into boxed integers
            load r1, 4611686018427387910
        a:
            add r0, r0, 3
            jle r0, r1, a
            print r0
            load r2, 0.5
            load r3, 3
        b:
            add r2, r2, 1
            jlt r2, r3, b
            print r2
            ret r0
        end
        """)
        #expect(r.output == "4611686018427387912\n3.5\n")
    }

    /// A fused back-edge spends a reduction when taken, like the branch it replaces: a loop that
    /// never ends still yields, so with one worker the sleeping main wakes and ends the run.
    @Test func aFusedLoopStillYields() throws {
        let r = try runProgram("""
        func spin/0
            load r0, 0
            load r1, 4611686018427387903
        loop:
            add r0, r0, 1
            jlt r0, r1, loop
            ret r0
        end
        func main/0
            spawn r0, spin
            sleep 10
            load r1, :done
            print r1
            ret r1
        end
        """, workers: 1)
        #expect(r.output == ":done\n")
    }
}
