import Foundation
import Testing
@testable import Skein

/// Values a program can build that used to take the whole VM down (issue 10): each is now an
/// error of the process that made it, or a bounded result, and the VM goes on.
@Suite struct ValueHardeningTests {
    /// Two self-containing arrays compared with `eq` crashed the VM (unbounded recursion).
    @Test func comparingCyclicValuesIsAnErrorOfTheProcess() throws {
        let r = try runProgram("""
        func main/0
            array  r0, r1, 0
            push   r0, r0            ; a = [a]
            array  r2, r3, 0
            push   r2, r2            ; b = [b]
            try    r4, caught
            eq     r5, r0, r2
            ret    r5
        caught:
            get    r6, r4, 1
            print  r6
            eq     r7, r0, r0        ; the same value is equal to itself without a walk
            print  r7
            ret    r7
        end
        """)
        #expect(r.output == ":too_deep\ntrue\n", "\(r.output) \(r.errors)")
    }

    /// Printing a self-referencing array grew to 1.3 GB and aborted; now it is cut short.
    @Test func printingACyclicValueIsBounded() throws {
        let r = try runProgram("""
        func main/0
            array  r0, r1, 0
            push   r0, r0
            push   r0, r0
            push   r0, r0
            print  r0
            tostr  r2, r0
            len    r3, r2
            print  r3
            ret    r3
        end
        """)
        let lines = r.output.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasSuffix("…]") || lines[0].contains("…"))
        let length = Int(lines[1]) ?? Int.max
        #expect(length < Printer.maxBytes + 8 * ValueDepth.limit)  // the limit, plus closing brackets
    }

    /// A cyclic value passed to a host function crashed the host; now the call is an error.
    @Test func aCyclicValueForTheHostIsAnError() throws {
        let r = try runProgram("""
        func main/0
            array  r0, r1, 0
            push   r0, r0
            try    r2, caught
            callhost r3, "echo", r0, 1
            ret    r3
        caught:
            get    r4, r2, 1
            print  r4
            ret    r4
        end
        """, hostFunctions: ["echo": HostFunction(arity: 1) { $0[0] }])
        #expect(r.output == ":too_deep\n", "\(r.output) \(r.errors)")
    }

    /// Sending or spawning with a cyclic value is an error of the sender.
    @Test func sendingACyclicValueIsAnError() throws {
        let r = try runProgram("""
        func main/0
            array  r0, r1, 0
            push   r0, r0
            self   r2
            try    r3, caught
            send   r2, r0
            ret    r0
        caught:
            get    r4, r3, 1
            print  r4
            ret    r4
        end
        """)
        #expect(r.output == ":too_deep\n")
    }

    /// A value nested 20,000 deep (past the bound) cannot be compared or sent, but one nested
    /// 5,000 deep can.
    @Test func deepButFiniteValuesWorkUpToTheBound() throws {
        let r = try runProgram("""
        func nest/1                  ; a list of 2-tuples r0 deep
            load   r1, nil
        loop:
            jeq    r0, 0, done
            move   r2, r0
            move   r3, r1
            tuple  r1, r2, 2
            sub    r0, r0, 1
            jmp    loop
        done:
            ret    r1
        end
        func main/0
            load   r0, 5000
            call   r1, nest, r0
            call   r2, nest, r0
            eq     r3, r1, r2
            print  r3
            self   r4
            send   r4, r1
            recv   r5
            eq     r6, r5, r1
            print  r6
            load   r0, 20000
            call   r7, nest, r0
            try    r8, caught
            send   r4, r7
            ret    r8
        caught:
            get    r9, r8, 1
            print  r9
            ret    r9
        end
        """)
        #expect(r.output == "true\ntrue\n:too_deep\n", "\(r.output) \(r.errors)")
    }

    /// The remainder of the smallest integer by -1 is 0 (only the quotient overflows).
    @Test func remainderOfMinimumByMinusOneIsZero() throws {
        let r = try runProgram("""
        func main/0
            load   r0, -9223372036854775808
            load   r1, -1
            rem    r2, r0, r1
            print  r2
            try    r3, caught
            div    r4, r0, r1
            ret    r4
        caught:
            get    r5, r3, 1
            print  r5
            ret    r5
        end
        """)
        #expect(r.output == "0\n:integer_overflow\n", "\(r.output) \(r.errors)")
    }

    /// NaN follows one rule everywhere: equal to itself, alone and inside a tuple, as the total
    /// order says.
    @Test func nanIsEqualToItselfEverywhere() throws {
        let r = try runProgram("""
        func main/0
            load   r0, nan
            load   r1, nan
            eq     r2, r0, r1
            print  r2
            tuple  r3, r0, 1
            tuple  r4, r1, 1
            eq     r5, r3, r4
            print  r5
            load   r6, 1.0
            lt     r7, r6, r0        ; NaN sorts after every other number
            print  r7
            ret    r7
        end
        """)
        #expect(r.output == "true\ntrue\ntrue\n")
    }

    /// A process asking for more than its heap limit at once ends with `heap_limit` (it used
    /// to abort the VM with a failed multi-gigabyte allocation).
    @Test func aHugeAllocationIsAnErrorOfTheProcess() throws {
        let r = try runProgram("""
        func main/0
            load   r0, "0123456789abcdef"
            try    r1, caught
        loop:
            concat r0, r0, r0        ; doubles until past the limit
            jmp    loop
        caught:
            get    r2, r1, 1
            print  r2
            ret    r2
        end
        """, maxHeapBytes: 1 << 20)
        #expect(r.output == ":heap_limit\n", "\(r.output) \(r.errors)")
    }
}
