import Testing
@testable import Skein

/// Hostile and unusual assembly input (issue 10): the assembler never crashes, refuses whatever
/// the verifier would refuse with a file:line:col diagnostic, reads CRLF files and reports bytes
/// that are not UTF-8 with their position.
@Suite struct AssemblerLimitsTests {
    /// The diagnostics of `source`, which must fail to assemble.
    private func errors(_ source: String, file: String = "t.ska") -> String {
        errors(bytes: Array(source.utf8), file: file)
    }

    private func errors(bytes: [UInt8], file: String = "t.ska") -> String {
        do {
            let module = try Assembler.assemble(bytes: bytes, file: file)
            Issue.record("assembled, but the verifier says: \(String(describing: Result { try Verifier.verify(module) }))")
            return ""
        } catch {
            return error.description
        }
    }

    private func nested(_ depth: Int) -> String { String(repeating: "{", count: depth) + String(repeating: "}", count: depth) }

    private func loading(_ literal: String) -> String { "func main/0\n    load r0, \(literal)\n    ret r0\nend\n" }

    // MARK: Nesting

    /// 100,000 nested tuples crashed the assembler with a stack overflow (SIGSEGV).
    @Test func deeplyNestedTuplesAreAnErrorNotACrash() {
        let text = errors(loading(nested(100_000)))
        #expect(text == "t.ska:2:78: error: tuples nest deeper than 64 levels; 64 is the binary format's limit")
    }

    /// 100 levels used to be assembled into a module that `vm check` then refused.
    @Test func nestingIsLimitedExactlyAtTheFormatsLimit() throws {
        let limit = BinaryFormat.maxConstantDepth
        let module = try Assembler.assemble(loading(nested(limit)), file: "t.ska")
        try Verifier.verify(module)
        #expect(try BinaryFormat.decode(BinaryFormat.encode(module)) == module)
        #expect(errors(loading(nested(limit + 1))).contains("t.ska:2:\(14 + limit): error: tuples nest deeper than \(limit) levels"))
        #expect(errors(loading(nested(100))).contains("deeper than \(limit) levels"))
    }

    /// A named constant counts with the tuples around the place it is used.
    @Test func namedConstantsCountTowardsTheNesting() throws {
        let deep = "const DEEP = \(nested(60))\n"
        _ = try Assembler.assemble(deep + loading("{{{{DEEP}}}}"), file: "t.ska")
        #expect(errors(deep + loading("{{{{{DEEP}}}}}")).contains("t.ska:3:19: error: tuples nest deeper than 64 levels here (DEEP adds 60)"))
        #expect(errors("const A = \(nested(40))\nconst B = {{{{{{{{{{{{{{{{{{{{{{{{{A}}}}}}}}}}}}}}}}}}}}}}}}}\n" + loading("1"))
            .contains("t.ska:2:36: error: tuples nest deeper than 64 levels here (A adds 40)"))
    }

    /// The verifier refuses a module built in memory with a constant nested too deep, as the
    /// decoder refuses such a file.
    @Test func theVerifierChecksTheNestingToo() throws {
        var module = try Assembler.assemble(loading("1"), file: "t.ska")
        var constant = Constant.nil
        for _ in 0...BinaryFormat.maxConstantDepth { constant = .tuple([constant]) }
        module.constants.append(constant)
        #expect(throws: LoadError.self) { try Verifier.verify(module) }
    }

    // MARK: Format limits

    /// `r65535` made a register count of 65,536, stored in a u16 as 0.
    @Test func registersStopAtTheLastOneACountCanHold() throws {
        #expect(errors("func main/0\n    load r65535, 1\n    ret r0\nend\n")
            .contains("t.ska:2:10: error: register r65535 out of range (r0…r65534"))
        let module = try Assembler.assemble("func main/0\n    load r65534, 1\n    ret r65534\nend\n", file: "t.ska")
        #expect(module.functions[0].registerCount == 65535)
        try Verifier.verify(try BinaryFormat.decode(BinaryFormat.encode(module)))
        #expect(errors("func main/0 regs=65536\n    ret r0\nend\n").contains("t.ska:1:13: error: unexpected text after the signature"))
    }

    /// A run of argument registers may not run past the last register.
    @Test func argumentRunsStayWithinTheRegisters() {
        #expect(errors("func main/0\n    tuple r0, r65530, 10\n    ret r0\nend\n")
            .contains("t.ska:2:15: error: registers r65530…r65539 run past r65534"))
        #expect(errors("func f/3\n    ret r0\nend\nfunc main/0\n    call r0, f, r65533\n    ret r0\nend\n")
            .contains("t.ska:5:17: error: registers r65533…r65535 run past r65534"))
    }

    /// The verifier refuses a module built in memory with more registers than a u16 holds.
    @Test func theVerifierChecksTheRegisterCount() throws {
        var module = try Assembler.assemble(loading("1"), file: "t.ska")
        module.functions[0].registerCount = BinaryFormat.maxRegisters + 1
        #expect(throws: LoadError.self) { try Verifier.verify(module) }
    }

    @Test func mainTakesAtMostOneArgument() {
        #expect(errors("func main/2\n    ret r0\nend\n").contains("t.ska:1:11: error: main takes no arguments or one"))
    }

    @Test func ioOperationsAreCheckedWithAPosition() {
        #expect(errors("func main/0\n    io r0, :frobnicate, r1, 0\n    ret r0\nend\n").contains("t.ska:2:12: error: unknown IO operation"))
        #expect(errors("func main/0\n    io r0, :close, r1, 3\n    ret r0\nend\n")
            .contains("t.ska:2:24: error: IO operation :close takes 1 argument, not 3"))
    }

    /// Function operands are 16-bit: the 65,537th function is refused where it is declared.
    @Test func tooManyFunctions() {
        var source = "func main/0\n    ret r0\nend\n"
        for i in 0..<Verifier.maxFunctions { source += "func f\(i)/0\n    ret r0\nend\n" }
        #expect(errors(source).contains("t.ska:\(3 * Verifier.maxFunctions + 1):1: error: more than 65536 functions"))
    }

    // MARK: Text encoding

    /// CRLF line endings made a valid program fail on line 1.
    @Test func crlfLineEndingsAreAccepted() throws {
        let lf = "const GREETING = \"hi\"\nfunc main/0\n    load r0, GREETING\nloop:\n    jeq r0, 1, loop\n    ret r0\nend\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try Assembler.assemble(crlf, file: "t.ska") == Assembler.assemble(lf, file: "t.ska"))
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(try Assembler.assemble(bytes: bom + Array(crlf.utf8), file: "t.ska") == Assembler.assemble(lf, file: "t.ska"))
        #expect(errors("func main/0\r\n    frob r0\r\nend\r\n").contains("t.ska:2:5: error: unknown instruction 'frob'"))
    }

    /// Text that was not UTF-8 got an error without a position.
    @Test func invalidUTF8IsReportedWhereItIs() {
        let good = Array("func main/0\n    load r0, \"é".utf8)
        let rest = Array("\"\n    ret r0\nend\n".utf8)
        #expect(errors(bytes: good + [0xFF] + rest) == "t.ska:2:16: error: byte 0xFF is not UTF-8: the file is neither assembly text nor a Skein binary module")
        // A sequence cut short, an overlong form and a surrogate are each refused at their first byte.
        #expect(errors(bytes: good + [0xE2, 0x82] + rest).hasPrefix("t.ska:2:16: error: byte 0xE2"))
        #expect(errors(bytes: good + [0xC0, 0xAF] + rest).hasPrefix("t.ska:2:16: error: byte 0xC0"))
        #expect(errors(bytes: good + [0xED, 0xA0, 0x80] + rest).hasPrefix("t.ska:2:16: error: byte 0xED"))
    }

    /// Columns count characters, not bytes.
    @Test func columnsCountCharactersAfterNonASCIIText() {
        #expect(errors("func main/0\n    load r0, :\"ééé\" $\n    ret r0\nend\n").contains("t.ska:2:21: error: unexpected character '$'"))
    }

    /// A `func` line that does not tokenise is one error, not one per line of its body.
    @Test func aBrokenFunctionLineIsOneError() {
        let text = errors("func main/0\n    ret r0\nend\nfunc f$/0\n    load r0, 1\n    ret r0\nend\n")
        #expect(text == "t.ska:4:7: error: unexpected character '$'")
    }

    // MARK: Size

    /// A long line is refused at once, without quoting all of it.
    @Test func aHugeNumberIsRefusedWithAShortMessage() {
        let digits = String(repeating: "7", count: 1_000_000)
        let text = errors(loading(digits))
        #expect(text.hasPrefix("t.ska:2:14: error: integer '7777"))
        #expect(text.count < 200)
    }

    /// A large generated program (20,000 functions that call each other by name, defined after
    /// their callers) assembles, verifies and runs. Took 3 s (60,000: 11 s) when callee arities
    /// were found by scanning every function and each line was split into `Character`s.
    @Test func aLargeProgramAssemblesAndRuns() throws {
        let count = 20_000
        var source = "func main/0\n    load r0, 0\n    call r1, f0, r0\n    print r1\n    ret r1\nend\n"
        for i in 0..<count {
            let next = i + 1 < count ? "tailcall f\(i + 1), r0" : "ret r0"
            source += "func f\(i)/1\n    add r0, r0, \(i)\n    jlt r0, 100000, next\n    ret r0\nnext:\n    \(next)\nend\n"
        }
        let module = try Assembler.assemble(source, file: "big.ska")
        try Verifier.verify(module)
        #expect(module.functions.count == count + 1)
        #expect(module.functions[count].name == "f\(count - 1)")
        #expect(module.functions[1].lines.map(\.line) == [8, 9, 10, 12])
        // f0 … f447 run: 0 + 1 + … + 447 is the first sum to reach 100,000.
        let output = Capture()
        let vm = try VM(module: module, options: .init(workers: 1, output: output.sink))
        #expect(vm.runMain(waitForAll: false).hasReturned)
        vm.shutdown()
        #expect(output.value == "100128\n")
    }

    /// A label with no instruction after it (found by the assembler fuzzer: it assembled, and the
    /// verifier refused the jump to it).
    @Test func aLabelAtTheEndOfAFunctionIsAnError() {
        let text = "func main/0\n    jmp done\n    ret r0\ndone:\nend\n"
        #expect(errors(text).contains("t.ska:2:9: error: label 'done' is at the end of function main"))
    }
}
