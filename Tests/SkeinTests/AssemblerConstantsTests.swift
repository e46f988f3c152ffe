import Testing
@testable import Skein

/// Constants of any size anywhere (issue 7): wherever a form of an instruction takes an
/// immediate, any literal or named constant is accepted, and the assembler picks the encoding —
/// the immediate form when the value fits, the constant form when there is one, otherwise the
/// register form with the value loaded into a scratch register just before.
@Suite struct AssemblerConstantsTests {
    /// The opcodes of `function`'s instructions, in order.
    private func opcodes(_ function: FunctionDefinition) -> [Opcode] {
        function.instructions.map(\.opcode)
    }

    /// The disassembly reassembles to the same bytes.
    private func expectRoundTrip(_ module: Module) throws {
        let bytes = BinaryFormat.encode(module)
        let again = try Assembler.assemble(Disassembler.disassemble(try BinaryFormat.decode(bytes)), file: "again.ska")
        #expect(BinaryFormat.encode(again) == bytes)
    }

    /// The examples from the issue, which were "operands do not fit": a linear congruential
    /// generator with a large multiplier and divisor, and a loop bound over 32767.
    @Test func largeImmediatesAreAcceptedAndComputeTheRightResult() throws {
        let source = """
        const TRANSFERS = 100_000
        func main/0
            load r1, 42
            load r3, 0
        again:
            mul r1, r1, 1103515245
            add r1, r1, 12345
            rem r1, r1, 2147483648
            div r2, r1, 65536
            add r3, r3, 1
            jlt r3, TRANSFERS, again
            print r2
            ret r2
        end
        """
        var x: Int64 = 42, y: Int64 = 0
        for _ in 0..<100_000 {
            x = (x * 1_103_515_245 + 12345) % 2_147_483_648
            y = x / 65536
        }
        let result = try runProgram(source)
        #expect(result.output == "\(y)\n")
        let module = try Assembler.assemble(source, file: "lcg.ska")
        try Verifier.verify(module)
        let main = module.functions[0]
        #expect(opcodes(main) == [.loadi, .loadi, .loadi, .mul, .addi, .loadk, .rem, .loadi, .div, .addi, .loadi, .jlt, .print, .ret])
        // r0…r3 are the program's; r4 is the scratch register.
        #expect(main.registerCount == 5)
        #expect(main.code[2].fieldA == 4 && main.code[3].fieldC == 4)
        #expect(module.constants == [.int(2_147_483_648)])
        try expectRoundTrip(module)
    }

    /// The load and the instruction it feeds come from the same source line, and a label before
    /// the instruction lands on the load.
    @Test func theLoadSharesTheLineAndTheLabel() throws {
        let module = try Assembler.assemble("""
        func main/0
            load r0, 0
        top:
            add r0, r0, 100000
            jlt r0, 1000000, top
            ret r0
        end
        """, file: "t.ska")
        let main = module.functions[0]
        #expect(main.lines == [LineEntry(pc: 0, line: 2), LineEntry(pc: 1, line: 4), LineEntry(pc: 3, line: 5),
                               LineEntry(pc: 5, line: 6)])
        #expect(main.line(at: 2) == 4 && main.line(at: 4) == 5)
        #expect(main.code[4].fieldT == 1)  // `top` is the load of 100000
        try expectRoundTrip(module)
    }

    /// Floats, strings and atoms where a register form exists.
    @Test func valuesOfOtherTypesUseTheRegisterForm() throws {
        let result = try runProgram("""
        func main/0
            load r0, 1
            add r0, r0, 2.5
            print r0
            load r1, "kiwi"
            jlt r1, "mango", before
            raise r1
        before:
            jeq r1, "kiwi", same
            raise r1
        same:
            mul r2, r0, 1e10
            print r2
            ret r0
        end
        """)
        #expect(result.output == "3.5\n35000000000.0\n" || result.output == "3.5\n3.5e+10\n")
        #expect(result.status.hasReturned)
    }

    /// Immediates that fit keep their compact form, and `jeq`/`jne` prefer the constant form.
    @Test func theSmallestEncodingWins() throws {
        let module = try Assembler.assemble("""
        const BIG = 1_000_000_000_000
        func main/0
            add r0, r0, 32767
            add r0, r0, 32768
            jeq r0, BIG, done
            jne r0, 2.5, done
            get r1, r0, 7
            get r1, r0, 70000
            set r0, 70000, r1
            sleep 100000
            sleep 5_000_000_000
            recv r1, 40000, done
        done:
            ret r0
        end
        """, file: "t.ska")
        try Verifier.verify(module)
        #expect(opcodes(module.functions[0]) == [.addi, .loadi, .add, .jeqk, .jnek, .geti, .loadi, .get, .loadi, .set,
                                                  .sleepi, .loadk, .sleep, .loadi, .recvt, .ret])
        try expectRoundTrip(module)
    }

    /// With `regs=N` the scratch register comes after the declared ones.
    @Test func theScratchRegisterFollowsDeclaredRegisters() throws {
        let module = try Assembler.assemble("func main/0 regs=10\n    mul r0, r0, 100000\n    ret r0\nend\n", file: "t.ska")
        #expect(module.functions[0].registerCount == 11)
        #expect(module.functions[0].code[0].fieldA == 10)
        try expectRoundTrip(module)
    }

    /// Operands that could only fail at run time stay errors, and a function that uses every
    /// register has none left for a large constant.
    @Test func whatCannotWorkIsStillRefused() {
        let cases: [(String, String)] = [
            ("    add r0, r0, \"x\"\n", "t.ska:2:5: error: operands do not fit add"),
            ("    get r0, r0, 1.5\n", "t.ska:2:5: error: operands do not fit get"),
            ("    sleep :soon\n", "t.ska:2:5: error: operands do not fit sleep"),
            ("    load r65534, 0\n    add r0, r0, 100000\n",
             "t.ska:1:1: error: function main needs 65536 registers (one of them holds constants too large for their instructions)"),
        ]
        for (body, expected) in cases {
            do {
                _ = try Assembler.assemble("func main/0\n\(body)    ret r0\nend\n", file: "t.ska")
                Issue.record("\(body) assembled")
            } catch {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
    }
}
