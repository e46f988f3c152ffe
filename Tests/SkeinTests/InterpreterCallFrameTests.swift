import Testing
@testable import Skein

/// How calls fill the callee's frame (docs/interpreter.md): a small frame takes four stores with
/// no loop, a larger one a loop, and either way the registers that are not arguments start as nil.
@Suite struct InterpreterCallFrameTests {
    /// `f` has `registers` registers and three arguments; it prints its first register after
    /// the arguments (which must be nil) and returns its arguments as a tuple. `main` first
    /// calls `h`, which leaves other values in the words `f`'s frame will take.
    static func program(registers: Int) -> String {
        """
        func f/3 regs=\(registers)
            print r3          ; not an argument: nil
            tuple r3, r0, 3
            print r3
            ret r3
        end
        func h/0 regs=8
            load r0, 7
            load r1, 8
            load r2, 9
            load r3, 10
            load r7, 11
            ret r0
        end
        func main/0
            call r4, h
            load r1, 1
            load r2, 2
            load r3, 3
            call r5, f, r1    ; a new frame above main's
            call r4, h
            tailcall f, r1    ; main's own frame, the arguments moving down over it
        end
        """
    }

    @Test(arguments: [4, 8])
    func registersThatAreNotArgumentsStartAsNil(registers: Int) throws {
        let r = try runProgram(InterpreterCallFrameTests.program(registers: registers))
        #expect(r.output.hasPrefix("nil\n{1, 2, 3}\nnil\n{1, 2, 3}\n"))
    }
}
