import Testing
@testable import Skein

/// The small-integer fast paths of `mul`, `div` and `rem` (`SmallInteger.product` and
/// friends) work on tagged words directly; these tests hold them to exact integer arithmetic.
@Suite struct ArithmeticFastPathTests {
    /// Largest and smallest small integers (62 bits of magnitude and a sign).
    static let largest = Int64(1) << 62 - 1
    static let smallest = -(Int64(1) << 62)

    /// Operands near zero, near the small range's ends and near its square root, plus seeded
    /// random ones of every magnitude.
    static var operands: [Int64] {
        var values: [Int64] = [0, 1, -1, 2, -2, 3, 7, -7, 1 << 31, -(1 << 31), (1 << 31) - 1, 3_037_000_499, -3_037_000_499,
                               2_147_483_648, largest, smallest, largest - 1, smallest + 1, largest / 2, smallest / 2]
        var state: UInt64 = 0x5EED_0F_A57
        for _ in 0..<200 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let bits = Int(state >> 58)  // 0…63: a random magnitude
            let n = Int64(bitPattern: state) >> (63 - min(bits, 62))
            values.append(max(min(n, largest), smallest))
        }
        return values
    }

    /// The word of `n` if it is a small integer.
    static func word(_ n: Int64) -> UInt64? {
        n >= smallest && n <= largest ? Value.smallInt(n).raw : nil
    }

    @Test func productMatchesExactArithmetic() {
        for a in Self.operands {
            for b in Self.operands {
                let (exact, overflow) = a.multipliedReportingOverflow(by: b)
                let expected = overflow ? nil : Self.word(exact)
                #expect(SmallInteger.product(Value.smallInt(a).raw, Value.smallInt(b).raw) == expected, "\(a) * \(b)")
            }
        }
    }

    @Test func quotientAndRemainderMatchExactArithmetic() {
        for a in Self.operands {
            for b in Self.operands where b != 0 {
                let x = Value.smallInt(a).raw, y = Value.smallInt(b).raw
                #expect(SmallInteger.remainder(x, y) == Self.word(a % b), "\(a) rem \(b)")
                let quotient = SmallInteger.quotient(x, y)
                if b == -1 {
                    #expect(quotient == nil, "\(a) / -1 takes the general path")
                } else {
                    #expect(quotient == Self.word(a / b), "\(a) / \(b)")
                }
            }
            #expect(SmallInteger.quotient(Value.smallInt(a).raw, Value.smallInt(0).raw) == nil)
            #expect(SmallInteger.remainder(Value.smallInt(a).raw, Value.smallInt(0).raw) == nil)
        }
    }

    @Test func nonSmallOperandsTakeTheGeneralPath() {
        // A boxed integer or float is a pointer, an atom or nil an immediate of another tag.
        for other in [Value.nil.raw, Value.known(.normal).raw, Value.bool(true).raw] {
            #expect(other & 1 != 0, "not tagged as a small integer")
            #expect(SmallInteger.product(other, Value.smallInt(2).raw) == nil)
            #expect(SmallInteger.quotient(Value.smallInt(2).raw, other) == nil)
            #expect(SmallInteger.remainder(other, other) == nil)
        }
    }

    /// Through the interpreter: results that leave the small range are boxed and exact, the
    /// quotient by -1 of the smallest small integer too, and division by zero is an error.
    @Test func interpreterResultsAtTheEdges() throws {
        let r = try runProgram("""
        func main/0
            load r0, 4611686018427387903     ; the largest small integer
            load r1, 2
            mul  r2, r0, r1                  ; boxed
            print r2
            muli r12, r0, -1
            print r12
            load r3, -4611686018427387904    ; the smallest
            load r4, -1
            div  r5, r3, r4                  ; boxed: 2^62
            print r5
            rem  r5, r3, r4
            print r5
            load r6, -7
            remi r7, r6, 2
            print r7
            divi r7, r6, 2
            print r7
            divi r8, r2, 2                   ; a boxed operand
            print r8
            load r9, 0
            div  r9, r6, r9
            ret  r9
        end
        """)
        #expect(r.output == "9223372036854775806\n-4611686018427387903\n4611686018427387904\n0\n-1\n-3\n4611686018427387903\n")
        #expect(!r.status.hasReturned && r.errors.contains("division by zero"), "\(r.status) \(r.errors)")
    }
}

/// `get`'s fast path (`ElementAccess`) and the general path it falls back to, through the
/// interpreter: every in-range element of tuples and arrays, and each way an index can miss.
@Suite struct ElementAccessTests {
    @Test func elementsInRangeComeFromTheFastPath() throws {
        let r = try runProgram("""
        func main/0
            load  r0, {10, :a, "s", {1}, 2.5}
            load  r9, 0
            array r1, r9, 0
            load  r5, 7
            push  r1, r5
            push  r1, r0
            load  r5, nil
            push  r1, r5
            load  r2, 0
        tuple:
            get   r3, r0, r2
            print r3
            add   r2, r2, 1
            jlt   r2, 5, tuple
            geti  r3, r1, 0
            print r3
            geti  r3, r1, 1
            print r3
            geti  r3, r1, 2
            print r3
            load  r4, "AB"
            geti  r3, r4, 1            ; a string: the general path
            print r3
            ret   r9
        end
        """)
        #expect(r.output == "10\n:a\ns\n{1}\n2.5\n7\n{10, :a, \"s\", {1}, 2.5}\nnil\n66\n", "\(r.output)")
    }

    @Test(arguments: [
        ("load r0, {1, 2}\n    geti r1, r0, 2", "index 2 of a collection of 2"),
        ("load r0, {1, 2}\n    geti r1, r0, -1", "index -1 of a collection of 2"),
        ("load r9, 0\n    array r0, r9, 0\n    geti r1, r0, 0", "index 0 of a collection of 0"),
        ("load r9, 0\n    array r0, r9, 0\n    push r0, r9\n    geti r1, r0, 1", "index 1 of a collection of 1"),
        ("load r0, {1, 2}\n    load r2, :x\n    get r1, r0, r2", "an index must be an integer"),
        ("load r0, 5\n    geti r1, r0, 0", "get needs a tuple, array, string or binary"),
    ])
    func missesTakeTheGeneralPathAndItsErrors(body: String, message: String) throws {
        let r = try runProgram("func main/0\n    \(body)\n    ret r1\nend\n")
        #expect(!r.status.hasReturned && r.errors.contains(message), "\(r.errors)")
    }
}
