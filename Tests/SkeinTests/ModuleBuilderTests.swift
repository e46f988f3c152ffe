import Foundation
import Testing
@testable import Skein

/// Building modules in Swift, as a compiler targeting Skein would.
@Suite struct ModuleBuilderTests {
    /// The example of `ModuleBuilder`'s documentation: fib(20), with a forward call, a label and
    /// pooled constants, runs and gives the right answer; the module round-trips through the
    /// binary format and the disassembler like an assembled one.
    @Test func aBuiltModuleRuns() throws {
        var builder = ModuleBuilder(name: "generated")
        let fib = builder.declare("fib", arity: 1)
        let main = builder.declare("main", arity: 0)
        try builder.define(main) { f in
            f.line(10)
            f.emit(.loadi, .register(0), .immediate(20))
            f.emit(.call, .register(0), .function(fib), .register(0))
            f.emit(.loadk, .register(1), .constant(.tuple([.atom("fib"), .string("of 20")])))
            f.emit(.print, .register(1))
            f.emit(.ret, .register(0))
        }
        try builder.define(fib) { f in
            let base = f.makeLabel()
            f.emit(.jlti, .register(0), .immediate(2), .label(base))
            f.emit(.subi, .register(1), .register(0), .immediate(1))
            f.emit(.call, .register(1), .function(fib), .register(1))
            f.emit(.subi, .register(2), .register(0), .immediate(2))
            f.emit(.call, .register(2), .function(fib), .register(2))
            f.emit(.add, .register(0), .register(1), .register(2))
            f.place(base)
            f.emit(.ret, .register(0))
        }
        let module = try builder.build()
        #expect(module.functions.map(\.registerCount) == [3, 2], "\(module.functions.map(\.registerCount))")
        let out = Capture()
        let vm = try VM(module: module, options: .init(workers: 1, output: out.sink))
        #expect(vm.runMain() == .returned(.int(6765)))
        vm.shutdown()
        #expect(out.value == "{:fib, \"of 20\"}\n")
        let bytes = BinaryFormat.encode(module)
        #expect(try BinaryFormat.decode(bytes) == module)
        // The assembler pools constants in its own order and records the lines of the text, so
        // compare the text without its line marks, not the bytes.
        let text = Disassembler.disassemble(module)
        let again = Disassembler.disassemble(try Assembler.assemble(text, file: "again"))
        let withoutLines = { (t: String) in t.split(separator: "\n").filter { !$0.contains(".line") } }
        #expect(withoutLines(again) == withoutLines(text), "\(again)")
    }

    @Test func mistakesAreErrorsNamingThePlace() throws {
        var wrongKind = ModuleBuilder(name: "m")
        let main = wrongKind.declare("main", arity: 0)
        #expect(throws: ModuleBuilder.BuildError.self) {
            try wrongKind.define(main) { f in f.emit(.ret, .immediate(1)) }
        }
        var unplaced = ModuleBuilder(name: "m")
        let f = unplaced.declare("main", arity: 0)
        do {
            try unplaced.define(f) { body in
                let nowhere = body.makeLabel()
                body.emit(.jmp, .label(nowhere))
            }
            Issue.record("an unplaced label was accepted")
        } catch let error as ModuleBuilder.BuildError {
            #expect(error.description.contains("never placed") && error.description.contains("main/0"), "\(error)")
        }
        var undefined = ModuleBuilder(name: "m")
        _ = undefined.declare("main", arity: 0)
        #expect(throws: ModuleBuilder.BuildError.self) { try undefined.build() }
        // What the builder cannot see, the verifier does: falling off the end of a function.
        // Lines reach stack traces.
        var failing = ModuleBuilder(name: "gen.src")
        let h = failing.declare("main", arity: 0)
        try failing.define(h) { body in
            body.line(7)
            body.emit(.loadi, .register(0), .immediate(0))
            body.line(8)
            body.emit(.div, .register(0), .register(0), .register(0))
            body.emit(.ret, .register(0))
        }
        let vm = try VM(module: try failing.build(), options: .init(workers: 1, errors: Capture().sink))
        guard case .failed(let error) = vm.runMain() else { Issue.record("did not fail"); return }
        vm.shutdown()
        #expect(error.kind == .divisionByZero && error.line == 8 && error.file == "gen.src", "\(error)")
        var fallsOff = ModuleBuilder(name: "m")
        let g = fallsOff.declare("main", arity: 0)
        try fallsOff.define(g) { body in body.emit(.loadi, .register(0), .immediate(1)) }
        #expect(throws: LoadError.self) { try fallsOff.build() }
    }
}
