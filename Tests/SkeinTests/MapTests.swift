import Foundation
import Testing
@testable import Skein

/// Maps as programs use them: the instructions, term order in printing and listing, equality
/// independent of history, copies by send, collections, host terms, and a seeded run of random
/// operations checked against a Swift dictionary.
@Suite(.timeLimit(.minutes(10))) struct MapTests {
    /// Whether main returned (whatever its value).
    static func returned(_ status: VM.ExitStatus) -> Bool {
        if case .returned = status { return true }
        return false
    }

    @Test func instructionsDoWhatTheReferenceSays() throws {
        let r = try runProgram("""
        func main/0
            mapnew  r0
            load    r1, :b
            load    r2, 2
            mapput  r0, r1, r2
            load    r1, :a
            load    r2, 1
            move    r9, r0               ; the map before: maps are immutable
            mapput  r0, r1, r2
            print   r0
            print   r9
            len     r3, r0
            print   r3
            mapget  r3, r0, r1
            print   r3
            load    r1, :zz
            mapget  r3, r0, r1           ; missing: nil
            print   r3
            mapget  r3, r0, r1, missing  ; missing: jump
            print   r3
        missing:
            load    r1, :a
            mapget  r3, r0, r1, missing2
            print   r3
        missing2:
            maphas  r3, r0, r1
            print   r3
            mapdel  r4, r0, r1
            print   r4
            mapdel  r4, r4, r1           ; removing a missing key: the same map
            print   r4
            typeof  r5, r4
            print   r5
            mapkeys r5, r0
            print   r5
            mappairs r5, r0
            print   r5
            ret     r5
        end
        """)
        #expect(Self.returned(r.status), "\(r.errors)")
        #expect(r.output == """
        #{:a => 1, :b => 2}
        #{:b => 2}
        2
        1
        nil
        1
        true
        #{:b => 2}
        #{:b => 2}
        :map
        [:a, :b]
        [{:a, 1}, {:b, 2}]

        """)
    }

    /// Keys of every type, printed and listed in term order; `1` and `1.0` are one key, NaN a
    /// findable key.
    @Test func keysFollowTermOrderAndEquality() throws {
        let r = try runProgram("""
        func put/3
            mapput  r0, r1, r2
            ret     r0
        end
        func main/0
            mapnew  r0
            load    r1, {1, "t"}
            load    r2, :tuple
            call    r0, put, r0
            load    r1, "str"
            load    r2, :string
            call    r0, put, r0
            load    r1, :zebra
            load    r2, :atom
            call    r0, put, r0
            load    r1, :apple
            load    r2, :atom
            call    r0, put, r0
            load    r1, 2.5
            load    r2, :float
            call    r0, put, r0
            load    r1, 1
            load    r2, :int
            call    r0, put, r0
            load    r1, 1.0
            load    r2, :one_float
            call    r0, put, r0          ; the same key as 1
            load    r1, nan
            load    r2, :nan
            call    r0, put, r0
            load    r1, nil
            load    r2, :nil
            call    r0, put, r0
            mapnew  r3
            load    r1, :inner
            mapput  r3, r1, r1
            move    r1, r3
            load    r2, :map
            call    r0, put, r0
            print   r0
            len     r3, r0
            print   r3
            load    r1, nan
            mapget  r3, r0, r1
            print   r3
            mapkeys r3, r0
            print   r3
            ret     r3
        end
        """)
        #expect(Self.returned(r.status), "\(r.errors)")
        #expect(r.output == """
        #{nil => :nil, 1 => :one_float, 2.5 => :float, nan => :nan, :apple => :atom, :zebra => :atom, "str" => :string, {1, "t"} => :tuple, #{:inner => :inner} => :map}
        9
        :nan
        [nil, 1, 2.5, nan, :apple, :zebra, "str", {1, "t"}, #{:inner => :inner}]

        """)
    }

    /// Maps built in different orders (and through removals) are equal; order is by size, then
    /// keys, then values; maps sort between tuples and arrays.
    @Test func equalityAndOrder() throws {
        let r = try runProgram("""
        func up/3                        ; keys r1 … r2-1 ascending, value = key * 3
            jge     r1, r2, done
            mul     r3, r1, 3
            mapput  r0, r1, r3
            add     r1, r1, 1
            tailcall up, r0
        done:
            ret     r0
        end
        func down/3                      ; keys r2-1 … r1 descending
            jle     r2, r1, done
            sub     r2, r2, 1
            mul     r3, r2, 3
            mapput  r0, r2, r3
            tailcall down, r0
        done:
            ret     r0
        end
        func dropodd/3                   ; removes odd keys below r2
            jge     r1, r2, done
            mapdel  r0, r0, r1
            add     r1, r1, 2
            tailcall dropodd, r0
        done:
            ret     r0
        end
        func main/0
            mapnew  r0
            load    r1, 0
            load    r2, 300
            call    r10, up, r0
            mapnew  r0
            call    r11, down, r0
            eq      r12, r10, r11
            print   r12
            move    r0, r10              ; 0…299 without the odd keys …
            load    r1, 1
            load    r2, 300
            call    r13, dropodd, r0
            mapnew  r0                   ; … equals the even keys put directly
            load    r1, 0
            load    r2, 300
            call    r14, evens, r0
            eq      r12, r13, r14
            print   r12
            len     r12, r13
            print   r12
            mapnew  r0                   ; a trie shrinking to a flat map equals a flat map
            load    r1, 0
            load    r2, 9
            call    r15, up, r0
            load    r1, 8
            mapdel  r15, r15, r1
            mapnew  r0
            load    r1, 0
            load    r2, 8
            call    r16, down, r0
            eq      r12, r15, r16
            print   r12
            lt      r12, r16, r15        ; equal: not below
            print   r12
            lt      r12, r16, r10        ; smaller size first
            print   r12
            load    r1, 0
            load    r2, 99
            mapput  r16, r1, r2          ; same keys, larger value
            gt      r12, r16, r15
            print   r12
            tuple   r20, r1, 1
            array   r21, r1, 1
            lt      r12, r20, r16        ; tuple < map < array
            print   r12
            lt      r12, r16, r21
            print   r12
            ret     r12
        end
        func evens/3
            jge     r1, r2, done
            mul     r3, r1, 3
            mapput  r0, r1, r3
            add     r1, r1, 2
            tailcall evens, r0
        done:
            ret     r0
        end
        """)
        #expect(Self.returned(r.status), "\(r.errors)")
        #expect(r.output == "true\ntrue\n150\ntrue\nfalse\ntrue\ntrue\ntrue\ntrue\n")
    }

    /// 100,000 entries: built, sent to another process (a deep copy), compared equal there and
    /// back, and still intact after collections forced by garbage.
    @Test func aHundredThousandEntriesSurviveSendAndCollections() throws {
        let r = try runProgram("""
        func fill/3
            jge     r1, r2, done
            tostr   r3, r1
            mapput  r0, r3, r1           ; "i" => i
            add     r1, r1, 1
            tailcall fill, r0
        done:
            ret     r0
        end
        func sum/2                       ; sum of the values of the pairs array r0 from r1
            load    r2, 0
            len     r3, r0
        loop:
            jge     r1, r3, done
            get     r4, r0, r1
            get     r4, r4, 1
            add     r2, r2, r4
            add     r1, r1, 1
            jmp     loop
        done:
            ret     r2
        end
        func garbage/1                   ; allocates r0 3-word tuples and drops them
            jle     r0, 0, done
            tuple   r1, r0, 2
            sub     r0, r0, 1
            tailcall garbage, r0
        done:
            ret     r0
        end
        func checker/0                   ; receives {from, map}, checks it, sends it back
            recv    r0
            get     r1, r0, 0
            get     r2, r0, 1
            len     r3, r2
            print   r3
            load    r4, "99999"
            mapget  r5, r2, r4
            print   r5
            load    r5, 3000000
            call    r5, garbage, r5
            mappairs r6, r2
            load    r7, 0
            call    r8, sum, r6
            print   r8
            send    r1, r2
            ret     r8
        end
        func main/0
            mapnew  r0
            load    r1, 0
            load    r2, 100000
            call    r0, fill, r0
            spawn   r10, checker
            self    r11
            move    r12, r0
            tuple   r13, r11, 2          ; {self, map}
            send    r10, r13
            recv    r13
            load    r5, 3000000
            call    r5, garbage, r5
            eq      r14, r13, r0
            print   r14
            load    r4, "12345"
            mapget  r5, r13, r4
            print   r5
            mapdel  r6, r13, r4
            eq      r14, r6, r0
            print   r14
            ret     r14
        end
        """, workers: 2)
        #expect(Self.returned(r.status), "\(r.errors)")
        #expect(r.output == "100000\n99999\n4999950000\ntrue\n12345\nfalse\n")
    }

    /// Maps cross the host boundary both ways as `Term.map`.
    @Test func hostTermsRoundTrip() throws {
        var entries: [Term: Term] = [.atom("name"): .string("skein"), .int(1): .tuple([.int(2), .atom("x")])]
        for i in 0..<40 { entries[.string("k\(i)")] = .int(Int64(i * i)) }
        entries[.atom("nested")] = .map([.int(1): .int(2)])
        let given = Term.map(entries)
        let seen = Locked<Term?>(nil)
        let out = Capture()
        var options = VM.Options(workers: 1, output: out.sink, errors: Capture().sink)
        options.hostFunctions = [
            "give": HostFunction(arity: 0) { _ in given },
            "take": HostFunction(arity: 1) { args in seen.withLock { $0 = args[0] }; return .nil },
        ]
        let vm = try VM(module: try Assembler.assemble("""
        func main/0
            callhost r0, "give", r0, 0
            len     r1, r0
            print   r1
            load    r2, "k7"
            mapget  r3, r0, r2
            print   r3
            load    r2, :nested
            mapget  r3, r0, r2
            print   r3
            load    r2, 1.0
            mapget  r3, r0, r2
            print   r3
            load    r2, "k40"
            mapput  r0, r2, r2
            callhost r4, "take", r0, 1
            ret     r4
        end
        """, file: "host.ska"), options: options)
        #expect(Self.returned(vm.runMain()))
        vm.shutdown()
        #expect(out.value == "43\n49\n#{1 => 2}\n{2, :x}\n")
        entries[.string("k40")] = .string("k40")
        #expect(seen.withLock { $0 } == .map(entries))
        #expect(Term.map([.atom("b"): .int(1), .atom("a"): .int(2)]).description == "#{:a => 2, :b => 1}")
    }

    /// Wrong types are runtime errors naming the instruction; a key too deep to hash is an
    /// error of the process, not of the VM.
    @Test func errorsAreErrorsOfTheProcess() throws {
        let r = try runProgram("""
        func main/0
            try     r9, caught
            load    r0, 5
            load    r1, :k
            mapput  r0, r1, r1
            ret     r0
        caught:
            get     r8, r9, 1
            print   r8
            get     r8, r9, 2
            print   r8
            try     r9, caught2
            mapnew  r0
            load    r2, 0
        fill:
            mapput  r0, r2, r2           ; nine keys: a trie, so keys are hashed
            add     r2, r2, 1
            jlt     r2, 9, fill
            array   r1, r1, 0
            push    r1, r1               ; a = [a]
            mapget  r3, r0, r1
            ret     r3
        caught2:
            get     r8, r9, 1
            print   r8
            ret     r8
        end
        """)
        #expect(Self.returned(r.status), "\(r.errors)")
        #expect(r.output == ":type_mismatch\nmapput needs a map, got int\n:too_deep\n")
    }

    /// Colliding hashes: `ValueHash.mix` is a bijection, so an integer and a non-integral float
    /// whose bits differ by the float tweak hash alike, as do `nil`/`true`/`false` with an integer
    /// and a tiny float. These keys land in collision nodes at the bottom of the trie.
    static func collidingKeys() -> [String] {
        var keys: [String] = []
        for d in [0.5, 2.5, -7.25, 1e100, 3.75] {
            keys.append(Printer.float(d))
            keys.append(String(Int64(bitPattern: d.bitPattern ^ 0xF10A7)))
        }
        for immediate in [Value.nil, .true, .false] {
            let raw = immediate.raw ^ 0x5CA1_AB1E
            keys.append(immediate == .nil ? "nil" : (immediate == .true ? "true" : "false"))
            keys.append(String(raw))
            keys.append(Printer.float(Double(bitPattern: raw ^ 0xF10A7)))
        }
        return keys
    }

    @Test func collidingKeysHashAlike() throws {
        let atoms = AtomTable()
        func hash(_ term: Term) throws -> UInt64 {
            let node = term.messageNode(atoms: atoms)
            defer { node.free() }
            return try ValueHash.hash(node.value)
        }
        let d = 2.5, n = Int64(bitPattern: d.bitPattern ^ 0xF10A7)
        #expect(try hash(.float(d)) == hash(.int(n)))
        let raw = Value.nil.raw ^ 0x5CA1_AB1E
        #expect(try hash(.nil) == hash(.int(Int64(raw))) && hash(.nil) == hash(.float(Double(bitPattern: raw ^ 0xF10A7))))
        #expect(try hash(.int(1)) == hash(.float(1.0)) && hash(.float(-0.0)) == hash(.int(0)))
        #expect(try hash(.float(.nan)) == hash(.float(-.nan)))
        #expect(try hash(.tuple([.int(1), .string("a")])) == hash(.tuple([.float(1), .string("a")])))
        #expect(try hash(.map([.int(1): .int(2), .atom("a"): .nil])) == hash(.map([.float(1): .float(2), .atom("a"): .nil])))
        #expect(try hash(.string("ab")) != hash(.string("ba")))
    }

    /// Equal values hash alike and maps order consistently, over random terms whose parts are
    /// often equal across types (integers and integral floats, maps built in either order).
    @Test func equalValuesHashAlikeAndOrderIsConsistent() throws {
        var rng = SeededRandom(seed: 42)
        let atoms = AtomTable()
        func number() -> Term {
            let n = Int64(rng.next() % 5)
            return rng.next() % 2 == 0 ? .int(n) : .float(Double(n))
        }
        func term(_ depth: Int) -> Term {
            switch depth == 0 ? rng.next() % 3 : rng.next() % 6 {
            case 0: return number()
            case 1: return .atom(["a", "b"][Int(rng.next() % 2)])
            case 2: return .string(["x", "y"][Int(rng.next() % 2)])
            case 3: return .tuple((0..<Int(rng.next() % 3)).map { _ in term(depth - 1) })
            case 4: return .array((0..<Int(rng.next() % 3)).map { _ in term(depth - 1) })
            default:
                var entries: [Term: Term] = [:]
                for _ in 0..<Int(rng.next() % 12) { entries[term(depth - 1)] = term(depth - 1) }
                return .map(entries)
            }
        }
        var equalPairs = 0
        for _ in 0..<3000 {
            let a = term(3).messageNode(atoms: atoms), b = term(3).messageNode(atoms: atoms)
            defer { a.free(); b.free() }
            let equal = try ValueSemantics.equal(a.value, b.value)
            let ab = try ValueSemantics.compare(a.value, b.value, atoms: atoms)
            let ba = try ValueSemantics.compare(b.value, a.value, atoms: atoms)
            #expect((ab == 0) == equal && (ab < 0) == (ba > 0) && (ab == 0) == (ba == 0))
            if equal {
                equalPairs += 1
                #expect(try ValueHash.hash(a.value) == ValueHash.hash(b.value))
            }
        }
        #expect(equalPairs > 100)
    }

    /// Seeded random puts, removals, lookups (both forms), size and membership checks, sends
    /// and kept old versions, against a Swift dictionary; the final map must equal the model.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomOperationsMatchADictionary(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        // Key literals and the model key each stands for (integral floats are their integers).
        var literals: [String] = Self.collidingKeys()
        for i in -20..<200 { literals.append(String(i)) }
        for i in 0..<20 { literals.append(Printer.float(Double(i))) }     // equal to the ints
        for i in 0..<60 { literals.append("\"s\(i)\"") }
        for i in 0..<40 { literals.append(":a\(i)") }
        for i in 0..<30 { literals.append("{\(i % 5), \"t\(i)\"}") }
        literals.append(Printer.float(1e300))
        literals.append(Printer.float(-1e-300))
        func modelKey(_ literal: String) -> String {
            if let d = Double(literal), literal.contains(".") || literal.contains("e"), let n = Int64(exactly: d) { return String(n) }
            return literal
        }
        var model: [String: Int] = [:]
        var source = "func main/0\n    mapnew r0\n"
        var label = 0
        var kept: (register: Int, size: Int)? = nil
        for step in 0..<3000 {
            let literal = literals[Int(rng.next() % UInt64(literals.count))]
            let key = modelKey(literal)
            source += "    load r1, \(literal)\n    load r5, \(step)\n"
            switch rng.next() % 10 {
            case 0, 1, 2, 3:
                let value = Int(rng.next() % 1000)
                source += "    load r2, \(value)\n    mapput r0, r1, r2\n"
                model[key] = value
            case 4, 5:
                source += "    mapdel r0, r0, r1\n"
                model[key] = nil
            case 6:
                source += "    mapget r3, r0, r1\n    jne r3, \(model[key].map(String.init) ?? "nil"), fail\n"
            case 7:
                label += 1
                if let value = model[key] {
                    source += "    mapget r3, r0, r1, fail\n    jne r3, \(value), fail\n"
                } else {
                    source += "    mapget r3, r0, r1, ok\(label)\n    jmp fail\nok\(label):\n"
                }
            case 8:
                source += "    maphas r3, r0, r1\n    jne r3, \(model[key] != nil), fail\n"
                source += "    len r3, r0\n    jne r3, \(model.count), fail\n"
                if let kept { source += "    len r3, r6\n    jne r3, \(kept.size), fail\n" }
                kept = (6, model.count)
                source += "    move r6, r0\n"
            default:
                source += "    self r7\n    send r7, r0\n    recv r8\n    jne r8, r0, fail\n"
                source += "    mapkeys r3, r0\n    len r3, r3\n    jne r3, \(model.count), fail\n"
            }
        }
        source += "    callhost r3, \"report\", r0, 1\n    ret r3\nfail:\n    raise r5\nend\n"
        let seen = Locked<Term?>(nil)
        let r = try runProgram(source, hostFunctions: ["report": HostFunction(arity: 1) { args in seen.withLock { $0 = args[0] }; return .nil }])
        #expect(Self.returned(r.status), "seed \(seed): \(r.errors)")
        guard case .map(let final)? = seen.withLock({ $0 }) else { Issue.record("no map reported"); return }
        // The model's keys as the VM prints them, normalised like the model.
        var reported: [String: Int] = [:]
        for (k, v) in final {
            guard case .int(let n) = v else { Issue.record("value \(v)"); continue }
            reported[modelKey(Self.literal(k))] = Int(n)
        }
        #expect(reported == model, "seed \(seed)")
    }

    /// A key term written back as the literal the test generated for it.
    static func literal(_ term: Term) -> String {
        switch term {
        case .float(let d): return Printer.float(d)
        case .tuple(let items): return "{" + items.map(literal).joined(separator: ", ") + "}"
        default: return term.description
        }
    }
}
