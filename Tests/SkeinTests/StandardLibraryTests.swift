import Foundation
import Testing
@testable import Skein

/// The standard library (Sources/Skein/StandardLibrary, docs/stdlib.md): every function of every
/// module run from a program, as a user calls it, with its printed result.
@Suite struct StandardLibraryTests {
    /// A program whose `main/0` is `body` (which prints what is checked), with `helpers` after
    /// it: small functions passed by reference.
    static func program(_ body: String, helpers: String = "") -> String {
        "func main/0\n\(body)\n    load r99, :ok\n    ret r99\nend\n" + """
        func inc/1
            add r0, r0, 1
            ret r0
        end
        func double/1
            add r0, r0, r0
            ret r0
        end
        func odd/1
            rem r0, r0, 2
            load r1, 0
            ne r0, r0, r1
            ret r0
        end
        func plus/2
            add r0, r0, r1
            ret r0
        end
        func greater/2
            gt r0, r0, r1
            ret r0
        end
        func shorter/2
            len r0, r0
            len r1, r1
            lt r0, r0, r1
            ret r0
        end

        """ + helpers
    }

    /// Runs `body` and returns what it printed (an error's report, if it failed).
    static func output(_ body: String, helpers: String = "") throws -> String {
        let result = try runProgram(program(body, helpers: helpers), file: "stdlib-test.ska")
        guard result.status.hasReturned else { return "\(result.status) \(result.errors)" }
        return result.output
    }

    /// A `load` of an array literal's elements into r10… and the array into r1 (there are no
    /// array literals).
    static func array(_ items: [String], into register: Int = 1) -> String {
        var text = items.enumerated().map { "    load r\(10 + $0), \($1)" }.joined(separator: "\n")
        text += "\n    array r\(register), r10, \(items.count)"
        return text
    }

    @Test func everyFileIsBuiltIn() throws {
        let folder = repositoryRoot.appendingPathComponent("Sources/Skein/StandardLibrary")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".ska") }
        #expect(Set(files.map { String($0.dropLast(4)) }) == Set(StandardLibrary.moduleNames))
        for name in StandardLibrary.moduleNames {
            let module = try #require(StandardLibrary.module(named: name))
            #expect(module.name == name)
            let source = try [UInt8](Data(contentsOf: folder.appendingPathComponent("\(name).ska")))
            #expect(try Assembler.assemble(bytes: source, file: "stdlib/\(name).ska") == module, "\(name): the built-in copy differs from the file")
        }
    }

    @Test func listsMapFilterFoldEach() throws {
        let items = Self.array(["3", "1", "4", "1", "5"])
        #expect(try Self.output("""
        \(items)
            load r2, @double
            call r3, lists.map/2, r1
            print r3
            load r2, @odd
            call r3, lists.filter/2, r1
            print r3
            move r20, r1
            load r21, 100
            load r22, @plus
            call r3, lists.fold/3, r20
            print r3
            load r2, @print_it
            call r3, lists.each/2, r1
            print r3
        """, helpers: "func print_it/1\n    print r0\n    ret r0\nend\n") == "[6, 2, 8, 2, 10]\n[3, 1, 1, 5]\n114\n3\n1\n4\n1\n5\n:ok\n")
    }

    @Test func listsReverseCopyAppend() throws {
        #expect(try Self.output("""
        \(Self.array(["1", "2", "3"]))
            call r2, lists.reverse/1, r1
            print r2
            call r3, lists.copy/1, r1
            load r9, 4
            push r3, r9
            print r1
            print r3
            move r4, r1
            move r5, r2
            call r6, lists.append/2, r4
            print r6
            array r7, r8, 0
            call r7, lists.reverse/1, r7
            print r7
        """) == "[3, 2, 1]\n[1, 2, 3]\n[1, 2, 3, 4]\n[1, 2, 3, 3, 2, 1]\n[]\n")
    }

    @Test func listsSortByTermOrderAndWithAComparison() throws {
        // Mixed types sort in term order: numbers < atoms < strings < tuples.
        #expect(try Self.output("""
        \(Self.array(["\"b\"", "3", ":z", "{1}", "-2.5", "\"a\"", "3", "0"]))
            call r2, lists.sort/1, r1
            print r2
            print r1
            load r2, @greater
            call r3, lists.sort_with/2, r1
            print r3
        """) == "[-2.5, 0, 3, 3, :z, \"a\", \"b\", {1}]\n[\"b\", 3, :z, {1}, -2.5, \"a\", 3, 0]\n[{1}, \"b\", \"a\", :z, 3, 3, 0, -2.5]\n")
        // Stable: equal lengths keep their order.
        #expect(try Self.output("""
        \(Self.array(["\"ccc\"", "\"b\"", "\"aa\"", "\"d\"", "\"ee\""]))
            load r2, @shorter
            call r3, lists.sort_with/2, r1
            print r3
        """) == "[\"b\", \"d\", \"aa\", \"ee\", \"ccc\"]\n")
    }

    @Test func listsSortAgreesWithSwiftOnManyArrays() throws {
        var random = SeededRandom(seed: 11)
        for size in [0, 1, 2, 3, 7, 8, 9, 31, 100, 257] {
            let values = (0..<size).map { _ in Int.random(in: -50...50, using: &random) }
            let body = "    array r1, r2, 0\n" + values.map { "    load r3, \($0)\n    push r1, r3" }.joined(separator: "\n")
                + "\n    call r2, lists.sort/1, r1\n    print r2"
            #expect(try Self.output(body) == "[" + values.sorted().map(String.init).joined(separator: ", ") + "]\n", "size \(size)")
        }
    }

    @Test func listsSumMaxMinRangeContainsIndexOf() throws {
        #expect(try Self.output("""
        \(Self.array(["3", "7", "-2", "7"]))
            call r2, lists.sum/1, r1
            print r2
            call r2, lists.max/1, r1
            print r2
            call r2, lists.min/1, r1
            print r2
            array r3, r4, 0
            call r2, lists.max/1, r3
            print r2
            call r2, lists.sum/1, r3
            print r2
            load r4, 2
            load r5, 6
            call r6, lists.range/2, r4
            print r6
            load r5, 2
            call r6, lists.range/2, r4
            print r6
            move r20, r1
            load r21, 7
            call r22, lists.index_of/2, r20
            print r22
            call r22, lists.contains/2, r20
            print r22
            load r21, 5
            call r22, lists.index_of/2, r20
            print r22
            call r22, lists.contains/2, r20
            print r22
        """) == "15\n7\n-2\nnil\n0\n[2, 3, 4, 5]\n[]\n1\ntrue\nnil\nfalse\n")
    }

    @Test func mapsHelpers() throws {
        #expect(try Self.output("""
        \(Self.array(["{:b, 2}", "{:a, 1}", "{:b, 3}"]))
            call r2, maps.from_pairs/1, r1
            print r2
            call r3, maps.to_pairs/1, r2
            print r3
            call r3, maps.keys/1, r2
            print r3
            call r3, maps.values/1, r2
            print r3
            move r20, r2
            load r21, :a
            load r22, 0
            call r23, maps.get/3, r20
            print r23
            load r21, :zz
            call r23, maps.get/3, r20
            print r23
            move r30, r2
            load r31, :a
            load r32, 100
            load r33, @inc
            call r34, maps.update/4, r30
            print r34
            move r30, r34
            load r31, :c
            call r34, maps.update/4, r30
            print r34
            print r2
            move r40, r2
            mapnew r41
            load r42, :a
            load r43, "new"
            mapput r41, r42, r43
            load r42, :d
            mapput r41, r42, r43
            call r44, maps.merge/2, r40
            print r44
            move r45, r2
            load r46, @double
            call r47, maps.map_values/2, r45
            print r47
        """) == """
        #{:a => 1, :b => 3}
        [{:a, 1}, {:b, 3}]
        [:a, :b]
        [1, 3]
        1
        0
        #{:a => 2, :b => 3}
        #{:a => 2, :b => 3, :c => 100}
        #{:a => 1, :b => 3}
        #{:a => "new", :b => 3, :d => "new"}
        #{:a => 2, :b => 6}

        """)
    }

    @Test func stringsHelpers() throws {
        #expect(try Self.output("""
        \(Self.array(["\"a\"", "1", ":b", "{2}"]))
            load r2, "-"
            call r3, strings.join/2, r1
            print r3
            call r3, strings.concat_all/1, r1
            print r3
            array r4, r5, 0
            call r3, strings.concat_all/1, r4
            print r3
            load r20, "ab"
            load r21, 3
            call r22, strings.repeat/2, r20
            print r22
            load r21, 0
            call r22, strings.repeat/2, r20
            print r22
            load r30, 42
            load r31, 5
            load r32, "0"
            call r33, strings.pad_left/3, r30
            print r33
            load r30, "x"
            load r32, "."
            call r33, strings.pad_right/3, r30
            print r33
            load r30, "toolong"
            call r33, strings.pad_left/3, r30
            print r33
            load r40, "hello world"
            load r41, "hello"
            call r42, strings.starts_with/2, r40
            call r43, strings.ends_with/2, r40
            print r42
            print r43
            load r41, "world"
            call r42, strings.starts_with/2, r40
            call r43, strings.ends_with/2, r40
            print r42
            print r43
            load r41, "a much longer string than it"
            call r42, strings.starts_with/2, r40
            call r43, strings.ends_with/2, r40
            print r42
            print r43
            load r50, {1, "x"}
            call r51, strings.from/1, r50
            print r51
        """) == "a-1-:b-{2}\na1:b{2}\n\nababab\n\n00042\nx....\ntoolong\ntrue\nfalse\nfalse\ntrue\nfalse\nfalse\n{1, \"x\"}\n")
    }

    @Test func timingHelpers() throws {
        // No timing assertions: only the shapes and signs of what they give.
        #expect(try Self.output("""
            now r1
            call r2, timing.elapsed_ns/1, r1
            jlt r2, 0, bad
            call r2, timing.elapsed_ms/1, r1
            jlt r2, 0, bad
            load r3, @forty_two
            call r4, timing.measure/1, r3
            get r5, r4, 1
            print r5
            get r5, r4, 0
            typeof r5, r5
            print r5
            load r6, 1_000_000
            load r7, 3_250_000
            call r8, timing.report/2, r6
            print r8
            jmp ok
        bad:
            load r9, :negative
            print r9
        ok:
        """, helpers: "func forty_two/0\n    load r0, 42\n    ret r0\nend\n") == "42\n:int\nelapsed_ms 2.2\n22\n")
    }

    @Test func serverCallsAndTheGenericLoop() throws {
        // A counter served by server.loop: {:add, n} adds, :get answers; a crash answers the
        // caller with the reason; a silent server times out.
        #expect(try Self.output("""
            load r1, @count
            load r2, 0
            call r3, server.start/2, r1
            move r10, r3
            load r11, {:add, 5}
            load r12, 1000
            call r13, server.call/3, r10
            print r13
            load r11, :get
            call r13, server.call/3, r10
            print r13
            load r11, :crash
            call r13, server.call/3, r10
            get r14, r13, 0
            print r14
            load r11, :get
            call r13, server.call/3, r10
            print r13
            spawn r20, silent
            move r10, r20
            load r12, 20
            call r13, server.call/3, r10
            print r13
        """, helpers: """
        func count/2
            jeq r0, :get, get
            jeq r0, :crash, crash
            get r2, r0, 1
            add r1, r1, r2
            load r3, :ok
            move r4, r1
            tuple r5, r3, 2
            ret r5
        get:
            move r3, r1
            move r4, r1
            tuple r5, r3, 2
            ret r5
        crash:
            div r1, r1, 0
            ret r1
        end
        func silent/0
            recv r0
            tailcall silent
        end

        """) == "{:ok, :ok}\n{:ok, 5}\n:error\n{:error, :noproc}\n{:error, :timeout}\n")
    }

    @Test func serverReplyAnswersARequestAsReceived() throws {
        #expect(try Self.output("""
            self r1
            spawn r2, echo
            load r3, :ping
            load r4, 500
            move r5, r2
            move r6, r3
            move r7, r4
            call r8, server.call/3, r5
            print r8
        """, helpers: """
        func echo/0
            recv r0
            get r1, r0, 2
            call r2, server.reply/2, r0
            ret r2
        end

        """) == "{:ok, :ping}\n")
    }

    @Test func supervisorRestartsAChildAndGivesUpPastItsIntensity() throws {
        #expect(try Self.output("""
            load r1, @worker
            move r2, r1
            array r3, r1, 2
            load r4, {2, 60000}
            call r5, supervisor.start/2, r3
            monitor r6, r5
            call r7, supervisor.which_children/1, r5
            len r8, r7
            print r8
            get r9, r7, 0
            call r10, kill_and_wait/1, r9
            call r11, supervisor.which_children/1, r5
            get r12, r11, 0
            ne r13, r12, r9
            print r13
            get r12, r11, 1
            get r14, r7, 1
            eq r13, r12, r14
            print r13
            get r9, r11, 0
            call r10, kill_and_wait/1, r9
            call r11, supervisor.which_children/1, r5
            get r9, r11, 0
            call r10, kill_and_wait/1, r9
            call r16, wait_down/1, r6
            print r16
        """, helpers: """
        func worker/0
            recv r0
            tailcall worker
        end
        func kill_and_wait/1
            monitor r1, r0
            load r2, :boom
            exit r0, r2
            tailcall wait_down, r1
        end
        func wait_down/1
        scan:
            peek r1, wait
            typeof r2, r1
            jne r2, :tuple, skip
            len r2, r1
            jne r2, 4, skip
            get r3, r1, 1
            jne r3, r0, skip
            take
            get r4, r1, 3
            ret r4
        skip:
            recvnext
            jmp scan
        wait:
            recvwait scan
        end

        """) == "2\ntrue\ntrue\n{:shutdown, :too_many_restarts}\n")
    }
}
