import Foundation
import Testing
@testable import Skein

/// Programs of several modules: the module statements, linking and its errors, the binary
/// format with several modules, and `vm run` finding modules (its directory, `-I`,
/// `SKEIN_PATH`, the built-in standard library).
@Suite struct ModulesTests {
    /// Modules `a` and `b` call each other (cyclic imports link), atoms are shared, and each has
    /// its own constant pool.
    static let moduleA = """
    module a
    export even?/1, tag/0, text/0, fail/1
    import b

    func even?/1
        jeq    r0, 0, yes
        sub    r0, r0, 1
        tailcall b.odd?/1, r0
    yes:
        load   r1, true
        ret    r1
    end

    func tag/0
        load   r0, :shared
        ret    r0
    end

    func text/0
        load   r0, "from a"
        ret    r0
    end

    func fail/1
        div    r1, r0, 0
        ret    r1
    end
    """

    static let moduleB = """
    module b
    export odd?/1, text/0

    func odd?/1
        jeq    r0, 0, no
        sub    r0, r0, 1
        tailcall a.even?/1, r0
    no:
        load   r1, false
        ret    r1
    end

    func text/0
        load   r0, "from b"
        ret    r0
    end
    """

    static let main = """
    func main/0
        load   r0, "from main"
        print  r0
        call   r1, a.text/0
        print  r1
        call   r1, b.text/0
        print  r1
        load   r2, 10
        call   r3, a.even?/1, r2
        print  r3
        load   r2, 7
        call   r3, b.odd?/1, r2
        print  r3
        call   r4, a.tag/0
        load   r5, :shared
        eq     r6, r4, r5
        print  r6
        load   r7, @b.odd?/1
        print  r7
        load   r8, 3
        callr  r9, r7, r8, 1
        print  r9
        ret    r9
    end
    """

    /// The three modules, assembled and run as one program.
    static func run(_ sources: [(String, String)], workers: Int = 1) throws -> RunResult {
        let modules = try sources.map { try Assembler.assemble($1, file: $0) }
        let out = Capture(), err = Capture()
        let vm = try VM(program: Program(modules), options: .init(workers: workers, output: out.sink, errors: err.sink))
        let status = vm.runMain()
        vm.shutdown()
        return RunResult(output: out.value, errors: err.value, status: status)
    }

    @Test func modulesCallEachOtherShareAtomsAndKeepTheirConstants() throws {
        let result = try Self.run([("main.ska", Self.main), ("a.ska", Self.moduleA), ("b.ska", Self.moduleB)])
        #expect(result.output == "from main\nfrom a\nfrom b\ntrue\ntrue\ntrue\n#Fun<b.odd?/1>\ntrue\n", "\(result.errors)")
        #expect(result.status == .returned(.bool(true)))
    }

    @Test func theAssemblerRecordsTheModuleStatements() throws {
        let a = try Assembler.assemble(Self.moduleA, file: "a.ska")
        #expect(a.name == "a")
        #expect(a.exports.map { a.functions[$0].name } == ["even?", "tag", "text", "fail"])
        #expect(a.imports == [ExternalFunction(module: "b", name: "odd?", arity: 1)])
        #expect(a.requires == ["b"])
        #expect(a.dependencies == ["b"])
        // The per-function marker, with or beside regs=N.
        let marked = try Assembler.assemble("module m\nfunc f/1 export\n    ret r0\nend\nfunc g/0\n    ret r0\nend\n"
                                            + "func h/0 regs=3 export\n    ret r0\nend\n", file: "m.ska")
        #expect(marked.exports == [0, 2] && marked.functions[2].registerCount == 3)
        #expect(Disassembler.disassemble(marked).contains("export f/1, h/0\n"))
        let main = try Assembler.assemble(Self.main, file: "main.ska")
        #expect(main.name == nil && main.exports.isEmpty)
        #expect(main.imports.map(\.description) == ["a.text/0", "b.text/0", "a.even?/1", "b.odd?/1", "a.tag/0"])
    }

    @Test func moduleStatementErrorsHaveTheirLine() throws {
        func errors(_ source: String) -> String {
            do { _ = try Assembler.assemble(source, file: "m.ska"); return "assembled" } catch { return error.description }
        }
        let body = "func f/1\n    ret r0\nend\n"
        #expect(errors("module m\nexport g/1\n" + body).contains("m.ska:2:8: error: export of 'g/1', which the file does not define"))
        #expect(errors("module m\nexport f/2\n" + body).contains("m.ska:2:8: error: export of 'f/2', but f takes 1 arguments"))
        #expect(errors("export f/1\nfunc main/0\n    ret r0\nend\n" + body).contains("only a library module exports functions"))
        #expect(errors("module m\nmodule n\n" + body).contains("m.ska:2:1: error: a second 'module' line"))
        #expect(errors("module a.b\n" + body).contains("expected 'module NAME'"))
        #expect(errors("module m\nexport f\n" + body).contains("expected 'export NAME/ARITY"))
        #expect(errors("module m\nimport 3\n" + body).contains("expected 'import NAME"))
        #expect(errors("module m\nfunc f/1 exported\n    ret r0\nend\n").contains("m.ska:2:10: error: unexpected text after the signature"))
        #expect(errors("func main/0 export\n    ret r0\nend\n").contains("only a library module exports functions"))
        #expect(errors("module m\nfunc f/1\n    call r0, lists.sort, r0\n    ret r0\nend\n").contains("m.ska:3:14: error: lists.sort names function sort of module lists: write its arity"))
        #expect(errors("module m\nfunc f/1\n    call r0, nothing, r0\n    ret r0\nend\n").contains("unknown function 'nothing'"))
        #expect(errors("module m\nfunc f/1\n    call r0, f/2, r0\n    ret r0\nend\n").contains("f takes 1 arguments, not 2"))
        // A library module needs no main; a main program does.
        #expect(errors("module m\n" + body) == "assembled")
        #expect(errors(body).contains("no function main/0"))
        // A module's own function, qualified, is a local call.
        let own = try Assembler.assemble("module m\nfunc f/1\n    call r0, m.g/1, r0\n    ret r0\nend\nfunc g/1\n    ret r0\nend\n", file: "m.ska")
        #expect(own.imports.isEmpty)
    }

    @Test func linkErrorsNameTheFileTheFunctionAndTheLine() throws {
        func loadError(_ main: String, _ others: [(String, String)] = []) -> String {
            do {
                let modules = try [Assembler.assemble(main, file: "main.ska")] + others.map { try Assembler.assemble($1, file: $0) }
                _ = try VM(program: Program(modules), options: .init(workers: 1))
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        let calling = { (call: String) in "func main/0\n    load r0, 1\n    call r1, \(call), r0\n    ret r1\nend\n" }
        #expect(loadError(calling("nowhere.f/1")) == "invalid program: main.ska: function main/0, line 3 (call): nowhere.f/1 names module nowhere, which is not found")
        #expect(loadError(calling("a.missing/1"), [("a.ska", Self.moduleA), ("b.ska", Self.moduleB)])
                == "invalid program: main.ska: function main/0, line 3 (call): a.missing/1: module a (a.ska) has no function missing")
        #expect(loadError(calling("a.tag/1"), [("a.ska", Self.moduleA), ("b.ska", Self.moduleB)])
                == "invalid program: main.ska: function main/0, line 3 (call): a.tag/1: a.tag/0 takes 0 arguments, not 1")
        let hidden = "module h\nexport shown/1\nfunc shown/1\n    ret r0\nend\nfunc hidden/1\n    ret r0\nend\n"
        #expect(loadError(calling("h.hidden/1"), [("h.ska", hidden)])
                == "invalid program: main.ska: function main/0, line 3 (call): h.hidden/1 is not exported by module h (h.ska)")
        #expect(loadError(calling("h.shown/1"), [("h.ska", hidden)]) == "loaded")
        #expect(loadError(calling("h.shown/1"), [("h.ska", hidden), ("h2.ska", hidden)])
                == "invalid program: h2.ska: module h is defined twice (also in h.ska)")
        #expect(loadError(calling("h.shown/1"), [("h.ska", hidden), ("second.ska", calling("h.shown/1"))]).contains("second.ska: only the program's first module may be without a 'module' name"))
        #expect(loadError("func main/0\n    load r0, @gone.f/0\n    ret r0\nend\n").contains("main.ska: a function reference in the constant pool: gone.f/0 names module gone"))
        #expect(loadError("module m\nimport absent\nfunc main/0\n    ret r0\nend\n") == "invalid program: main.ska: imports module absent, which is not found")
        // A reference to a standard library module needs no module of the program's own.
        #expect(loadError(calling("lists.range/1")).contains("lists.range/1: lists.range/2 takes 2 arguments, not 1"))
    }

    @Test func stackTracesNameTheModuleFunctionAndLine() throws {
        let main = "func main/0\n    load r0, 5\n    call r1, a.fail/1, r0\n    ret r1\nend\n"
        let result = try Self.run([("main.ska", main), ("a.ska", Self.moduleA), ("b.ska", Self.moduleB)])
        guard case .failed(let error) = result.status else { Issue.record("\(result.status)"); return }
        #expect(error.function == "a.fail/1" && error.file == "a.ska" && error.line == 25)
        #expect(error.trace.map(\.function) == ["a.fail/1", "main/0"])
        #expect(error.trace.map(\.line) == [25, 3])
        #expect(result.errors.contains("in function a.fail/1 at a.ska:25\n  called from main/0 at main.ska:3"), "\(result.errors)")
    }

    @Test func spawnAndReferencesAcrossModules() throws {
        let worker = """
        module worker
        export run/1

        func run/1
            recv   r1
            add    r2, r0, r1
            print  r2
            ret    r2
        end
        """
        let main = """
        func main/0
            load   r0, 40
            spawn  r1, worker.run/1, r0
            monitor r2, r1
            load   r3, 2
            send   r1, r3
            recv   r4
            load   r5, @lists.sort/1
            load   r6, 3
            load   r7, 1
            array  r8, r6, 2
            callr  r9, r5, r8, 1
            print  r9
            ret    r9
        end
        """
        let result = try Self.run([("main.ska", main), ("worker.ska", worker)], workers: 2)
        #expect(result.output == "42\n[1, 3]\n", "\(result.errors)")
    }

    @Test func theBinaryFormatCarriesSeveralModules() throws {
        let program = Program(try [("main.ska", Self.main), ("a.ska", Self.moduleA), ("b.ska", Self.moduleB)].map { try Assembler.assemble($1, file: $0) })
        let bytes = BinaryFormat.encode(program)
        #expect(bytes[4] == 3 && bytes[5] == 0, "format version 3 (binaries)")
        #expect(try BinaryFormat.decodeProgram(bytes) == program)
        #expect(throws: LoadError.self) { try BinaryFormat.decode(bytes) }
        // Disassembled module by module, it reassembles to the same bytes.
        let again = Program(try Disassembler.disassemble(program).map { try Assembler.assemble($0, file: "again.ska") })
        #expect(BinaryFormat.encode(again) == bytes)
        // It runs as it is, from its bytes.
        let out = Capture()
        let vm = try VM(binary: bytes, options: .init(workers: 1, output: out.sink))
        #expect(vm.runMain() == .returned(.bool(true)))
        vm.shutdown()
        #expect(out.value.hasPrefix("from main\nfrom a\n"))
        // A file of the format before modules says what to do.
        var old = bytes
        old[4] = 1
        do { _ = try BinaryFormat.decodeProgram(old); Issue.record("version 1 accepted") } catch {
            #expect(error.description.contains("unsupported format version 1, written by an older Skein; assemble the program again from its source with 'vm asm'"))
        }
        // Cross-module indices out of range are refused at load.
        var broken = program
        broken.modules[1].imports.removeAll()
        do { try Verifier.verify(broken); Issue.record("accepted") } catch {
            #expect(error.description.contains("function index 4 out of range (the module has 4 functions and 0 imports)"))
        }
        broken = program
        broken.modules[2].exports = [5]
        #expect(throws: LoadError.self) { try Verifier.verify(broken) }
    }

    @Test func aModuleBuilderModuleCallsTheStandardLibrary() throws {
        var builder = ModuleBuilder(name: "built")
        let sort = builder.declareExternal(module: "lists", name: "sort", arity: 1)
        let main = builder.declare("main", arity: 0)
        let other = builder.declare("other", arity: 0)
        // `other` pools "b" first, so main's body numbers its constants unlike the pool.
        try builder.define(other) { f in
            f.emit(.loadk, .register(0), .constant(.string("b")))
            f.emit(.ret, .register(0))
        }
        try builder.define(main) { f in
            f.emit(.loadk, .register(0), .constant(.string("c")))
            f.emit(.loadk, .register(1), .constant(.string("a")))
            f.emit(.loadk, .register(2), .constant(.string("b")))
            f.emit(.array, .register(3), .register(0), .count(3))
            f.emit(.call, .register(3), .function(sort), .register(3))
            f.emit(.ret, .register(3))
        }
        let module = try builder.build()
        #expect(module.imports == [ExternalFunction(module: "lists", name: "sort", arity: 1)])
        let vm = try VM(module: module, options: .init(workers: 1))
        #expect(vm.runMain() == .returned(.array([.string("a"), .string("b"), .string("c")])))
        vm.shutdown()
    }

    /// The real `vm`: a program in one directory, its module in another found with `-I` or
    /// `SKEIN_PATH`; `asm` writes one file with every module, which runs anywhere; `disasm
    /// --output-directory` gives files that assemble to the same bytes.
    @Test func theVMFindsModulesAndBundlesThem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skein-modules-\(getpid())-\(UUID().uuidString)")
        let app = root.appendingPathComponent("app"), lib = root.appendingPathComponent("lib"), out = root.appendingPathComponent("out")
        for dir in [app, lib, out] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.main.write(to: app.appendingPathComponent("main.ska"), atomically: true, encoding: .utf8)
        try Self.moduleA.write(to: lib.appendingPathComponent("a.ska"), atomically: true, encoding: .utf8)
        try Self.moduleB.write(to: app.appendingPathComponent("b.ska"), atomically: true, encoding: .utf8)
        let main = app.appendingPathComponent("main.ska").path

        let missing = try runCommand(vmExecutable, ["run", main])
        #expect(missing.status == 2 && missing.stderr.contains("main.ska: function main/0, line 4 (call): a.text/0 names module a, which is not found"), "\(missing.stderr)")
        let expected = "from main\nfrom a\nfrom b\ntrue\ntrue\ntrue\n#Fun<b.odd?/1>\ntrue\n"
        let included = try runCommand(vmExecutable, ["run", "-I", lib.path, main])
        #expect(included.stdout == expected && included.status == 1, "\(included.stderr)")  // main returns true: status 1
        let fromEnvironment = try runCommand("/usr/bin/env", ["SKEIN_PATH=/nonexistent:\(lib.path)", vmExecutable, "run", main])
        #expect(fromEnvironment.stdout == expected, "\(fromEnvironment.stderr)")
        #expect(try runCommand(vmExecutable, ["check", "--path", lib.path, main]).stdout.contains("ok (7 functions, 8 constants in 3 modules)"))

        let binary = root.appendingPathComponent("whole.skb").path
        #expect(try runCommand(vmExecutable, ["asm", "-I", lib.path, main, "-o", binary]).status == 0)
        try FileManager.default.removeItem(at: lib.appendingPathComponent("a.ska"))
        #expect(try runCommand(vmExecutable, ["run", binary]).stdout == expected)
        let listing = try runCommand(vmExecutable, ["disasm", binary])
        #expect(listing.stdout.contains(";; ---- module a\n.source \"\(lib.path)/a.ska\"\nmodule a\nimport b\nexport even?/1, tag/0, text/0, fail/1\n"))
        #expect(try runCommand(vmExecutable, ["disasm", "--output-directory", out.path, binary]).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == ["a.ska", "b.ska", "main.ska"])
        let again = root.appendingPathComponent("again.skb").path
        #expect(try runCommand(vmExecutable, ["asm", "-I", out.path, out.appendingPathComponent("main.ska").path, "-o", again]).status == 0)
        #expect(FileManager.default.contents(atPath: again) == FileManager.default.contents(atPath: binary))
    }

    /// A `vm` copied to a directory of its own still has its standard library: it is in the
    /// binary, not in files beside it.
    @Test func aCopiedVMCarriesItsStandardLibrary() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skein-copied-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let copy = root.appendingPathComponent("vm").path
        try FileManager.default.copyItem(atPath: vmExecutable, toPath: copy)
        let program = root.appendingPathComponent("p.ska")
        try "func main/0\n    load r0, 1\n    load r1, 4\n    call r2, lists.range/2, r0\n    call r3, lists.sum/1, r2\n    ret r3\nend\n"
            .write(to: program, atomically: true, encoding: .utf8)
        #expect(try runCommand(copy, ["run", program.path]).status == 6)
    }

    /// `vm-examples/args.ska`: the arguments after the program and an environment variable.
    @Test func theArgsExampleSeesItsArgumentsAndEnvironment() throws {
        let args = repositoryRoot.appendingPathComponent("vm-examples/args.ska").path
        let run = try runCommand("/usr/bin/env", ["SKEIN_GREETING=hello", vmExecutable, "run", args, "one", "two words", "--three"])
        #expect(run.stdout == "3 arguments: one, two words, --three\nSKEIN_GREETING: hello\n" && run.status == 0, "\(run.stderr)")
    }
}
