import Testing
@testable import Skein

@Suite struct InterpreterTests {
    @Test func arithmeticAndPrinting() throws {
        let r = try runProgram("""
        func main/0
            load r0, 7
            load r1, 2
            div r2, r0, r1
            print r2
            rem r2, r0, r1
            print r2
            load r3, 0.5
            add r2, r0, r3
            print r2
            load r4, 4611686018427387903   ; the largest small integer
            add r4, r4, 1                  ; boxed from here on, still exact
            print r4
            neg r5, r4
            print r5
            tostr r6, r4
            concat r6, r6, r6
            len r7, r6
            print r7
            load r8, {1, :ok, "x", {}, 2.0}
            print r8
            typeof r9, r8
            print r9
            ret r0
        end
        """)
        #expect(r.status.hasReturned)
        #expect(r.output == "3\n1\n7.5\n4611686018427387904\n-4611686018427387904\n38\n{1, :ok, \"x\", {}, 2.0}\n:tuple\n")
    }

    @Test func structuralEqualityAndOrder() throws {
        let r = try runProgram("""
        func main/0
            load r0, 1
            load r1, "a"
            tuple r2, r0, 2
            tuple r3, r0, 2
            eq r4, r2, r3
            print r4
            load r5, 1.0
            eq r4, r0, r5
            print r4
            lt r4, r0, r1       ; numbers sort before strings
            print r4
            load r6, :zzz
            lt r4, r6, r1       ; atoms before strings
            print r4
            ret r0
        end
        """)
        #expect(r.output == "true\ntrue\ntrue\ntrue\n")
    }

    @Test func arraysGrowAndMutate() throws {
        let r = try runProgram("""
        func main/0
            array r0, r0, 0
            load r1, 0
        loop:
            push r0, r1
            add r1, r1, 1
            jlt r1, 100, loop
            get r2, r0, 99
            print r2
            set r0, 0, r2
            get r3, r0, 0
            print r3
            pop r4, r0
            len r5, r0
            print r5
            ret r0
        end
        """)
        #expect(r.output == "99\n99\n99\n")
    }

    @Test func tailCallsRunInConstantStack() throws {
        let r = try runProgram("""
        func count/2
            jeq r0, 0, done
            sub r0, r0, 1
            add r1, r1, 1
            tailcall count, r0
        done:
            ret r1
        end
        func main/0
            load r0, 1000000
            load r1, 0
            call r2, count, r0
            print r2
            ret r2
        end
        """)
        #expect(r.status.hasReturned)
        #expect(r.output == "1000000\n")
    }

    /// Each runtime error stops the program with its kind, the function and the source line.
    @Test(arguments: [
        ("load r0, 1\n    load r1, 0\n    div r2, r0, r1", "division by zero", 6),
        ("load r0, 9223372036854775807\n    add r0, r0, 1", "integer overflow", 5),
        ("load r0, 1\n    load r1, \"s\"\n    add r2, r0, r1", "type mismatch", 6),
        ("load r0, {1, 2}\n    get r1, r0, 5", "index out of range", 5),
        ("load r0, 3\n    callr r1, r0, r0, 0", "not a function", 5),
        ("load r0, \"boom\"\n    raise r0", "raised: \"boom\"", 5),
    ])
    func runtimeErrorsNameKindFunctionAndLine(body: String, kind: String, line: Int) throws {
        let r = try runProgram("; program\n\nfunc main/0\n    \(body)\n    ret r0\nend\n", file: "err.ska")
        guard case .failed(let error) = r.status else { Issue.record("did not fail"); return }
        #expect(error.description.hasPrefix(kind))
        #expect(error.function == "main/0")
        #expect(error.line == line)
        #expect(error.trace.first?.function == "main/0")
        #expect(error.pid != nil, "a runtime failure names the process")
        #expect(error.description.contains("err.ska:\(line)"))
        #expect(r.errors.contains(kind))
    }

    @Test func deepRecursionIsAStackOverflowError() throws {
        let r = try runProgram("""
        func down/1
            add r0, r0, 1
            call r1, down, r0
            ret r1
        end
        func main/0
            load r0, 0
            call r1, down, r0
            ret r1
        end
        """)
        guard case .failed(let error) = r.status else { Issue.record("did not fail"); return }
        #expect(error.kind == .stackOverflow)
    }

    @Test func stringsConvert() throws {
        let r = try runProgram("""
        func main/0
            load r0, "123"
            toint r1, r0
            add r1, r1, 1
            print r1
            load r0, "abc"
            toint r2, r0
            print r2
            load r0, "héllo"
            len r3, r0
            print r3
            get r4, r0, 0
            print r4
            ret r1
        end
        """)
        #expect(r.output == "124\nnil\n6\n104\n")
    }

    @Test func twoVMsInOneHostDoNotInterfere() throws {
        let a = Capture(), b = Capture()
        let source = { (n: Int) in "func main/0\n    load r0, :vm\(n)\n    print r0\n    ret r0\nend\n" }
        let vm1 = try VM(module: try Assembler.assemble(source(1), file: "a"), options: .init(workers: 1, output: a.sink))
        let vm2 = try VM(module: try Assembler.assemble(source(2), file: "b"), options: .init(workers: 2, output: b.sink))
        #expect(vm2.runMain() == .returned(.atom("vm2")))
        #expect(vm1.runMain() == .returned(.atom("vm1")))
        vm1.shutdown()
        #expect(vm2.runMain() == .returned(.atom("vm2")))
        vm2.shutdown()
        #expect(a.value == ":vm1\n")
        #expect(b.value == ":vm2\n:vm2\n")
    }
}
