import Testing
@testable import Skein

@Suite struct AssemblerTests {
    @Test func assemblesFunctionsLabelsAndConstants() throws {
        let module = try Assembler.assemble("""
        const LIMIT = 10
        const NAME = "skein"
        func main/0
            load r0, LIMIT
            load r1, NAME
            load r2, {1, :ok, "x", nil, true, 2.5, @main}
        again:
            jgt r0, 0, done
            jmp again
        done:
            ret r0
        end
        """, file: "t.ska")
        #expect(module.functions.count == 1)
        #expect(module.functions[0].registerCount == 3)
        #expect(module.atoms == ["ok"])
        #expect(module.constants.contains(.string("skein")))
        try Verifier.verify(module)
    }

    @Test func reportsErrorsWithLineAndColumn() {
        do {
            _ = try Assembler.assemble("func main/0\n    load r0, 1\n    frob r0\n    add r0, r0, \"x\"\n    ret r0\nend\n", file: "bad.ska")
            Issue.record("expected an error")
        } catch {
            let text = error.description
            #expect(text.contains("bad.ska:3:5: error: unknown instruction 'frob'"))
            #expect(text.contains("bad.ska:4:5: error: operands do not fit add"))
        }
    }

    @Test func rejectsFallingOffTheEnd() {
        #expect(throws: AssemblyError.self) {
            try Assembler.assemble("func main/0\n    load r0, 1\nend\n", file: "t.ska")
        }
    }

    @Test func rejectsUnknownLabelAndMissingMain() {
        #expect(throws: AssemblyError.self) { try Assembler.assemble("func main/0\n    jmp nowhere\nend\n", file: "t.ska") }
        #expect(throws: AssemblyError.self) { try Assembler.assemble("func f/0\n    ret r0\nend\n", file: "t.ska") }
    }

    @Test func lexesLiterals() throws {
        let module = try Assembler.assemble("""
        func main/0
            load r0, -0x10
            load r1, 1_000_000_000_000
            load r2, 1e+20
            load r3, "tab\\tquote\\"\\u{1F600}"
            load r4, :"with space"
            load r5, -inf
            ret r0
        end
        """, file: "t.ska")
        #expect(module.constants.contains(.int(1_000_000_000_000)))
        #expect(module.constants.contains(.float(bitPattern: (1e20).bitPattern)))
        #expect(module.constants.contains(.string("tab\tquote\"😀")))
        #expect(module.atoms == ["with space"])
    }

    @Test func disassemblyReassemblesToTheSameBytes() throws {
        let source = """
        const BIG = 123456789012
        func helper/2
            add r2, r0, r1
            jeq r2, 0, zero
            recvtag r3, r2, 100, zero
            ret r2
        zero:
            load r3, {:a, "b", 1.5, -inf}
            ret r3
        end
        func main/0
            load r0, BIG
            load r1, 2
            call r2, helper, r0
            tailcall helper, r0
        end
        """
        let module = try Assembler.assemble(source, file: "round.ska")
        let bytes = BinaryFormat.encode(module)
        let text = Disassembler.disassemble(try BinaryFormat.decode(bytes))
        let again = try Assembler.assemble(text, file: "other-name.ska")
        #expect(BinaryFormat.encode(again) == bytes)
    }
}
