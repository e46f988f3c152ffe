import Foundation
import Testing
@testable import Skein

/// Strings and binaries as programs use them: the binary type (literals, printing, equality,
/// order, hashing, map keys, send, the collector, host terms), every `str` operation with its
/// edge cases and errors, and the load-time checks of `str`.
@Suite(.timeLimit(.minutes(10))) struct StringTests {
    /// What `body` prints, run as main/0 (which then returns :ok); records the errors if it fails.
    static func output(_ body: String, maxHeapBytes: Int = VM.Options.defaultMaxHeapBytes,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try runProgram("func main/0\n\(body)\n    load r0, :ok\n    ret r0\nend\n", maxHeapBytes: maxHeapBytes)
        #expect(r.status == .returned(.atom("ok")), "\(r.errors)", sourceLocation: sourceLocation)
        return r.output
    }

    /// The error kind and detail `body` raises, caught by a `try` region: `"kind: detail\n"`
    /// (or `"no error\n"`).
    static func failure(_ body: String, maxHeapBytes: Int = VM.Options.defaultMaxHeapBytes,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let out = try output("""
            try   r99, caught
        \(body)
            endtry
            load  r98, "no error"
            print r98
            jmp   done
        caught:
            load  r93, "{}: {}"
            get   r94, r99, 1
            get   r95, r99, 2
            str   r92, :format, r93, 3
            print r92
        done:
        """, maxHeapBytes: maxHeapBytes, sourceLocation: sourceLocation)
        return out.hasPrefix(":") ? String(out.dropFirst()) : out
    }

    // MARK: The binary type

    @Test func binaryLiteralsPrintTypeAndMeasure() throws {
        let out = try Self.output("""
            load   r0, b"hi\\xff\\x00\\n\\"\\\\\\x7f"
            print  r0
            typeof r1, r0
            print  r1
            len    r1, r0
            print  r1
            get    r1, r0, 2
            print  r1
            load   r2, b""
            print  r2
            tostr  r3, r0
            print  r3
            load   r4, {b"\\x01", "s"}
            print  r4
        """)
        #expect(out == """
        b"hi\\xff\\0\\n\\"\\\\\\x7f"
        :binary
        8
        255
        b""
        b"hi\\xff\\0\\n\\"\\\\\\x7f"
        {b"\\x01", "s"}

        """)
    }

    @Test func binaryLiteralsAssembleDisassembleAndEncodeExactly() throws {
        let source = "func main/0\n    load r0, b\"\\xff\\x00ab\\u{E9}\"\n    load r1, \"\\u{E9}\"\n    ret r0\nend\n"
        let module = try Assembler.assemble(source, file: "b.ska")
        #expect(module.constants.contains(.binary([0xFF, 0x00, 0x61, 0x62, 0xC3, 0xA9])))
        #expect(module.constants.contains(.string("é")))
        let binary = BinaryFormat.encode(module)
        #expect(try BinaryFormat.decode(binary) == module)
        let again = try Assembler.assemble(Disassembler.disassemble(module), file: "b.ska")
        #expect(BinaryFormat.encode(again) == binary)
        // \x is for binaries only: a string stays UTF-8 by construction.
        #expect(throws: AssemblyError.self) { try Assembler.assemble("func main/0\n    load r0, \"\\xff\"\n    ret r0\nend\n", file: "s.ska") }
        do { _ = try Assembler.assemble("func main/0\n    load r0, b\"\\xg0\"\n    ret r0\nend\n", file: "s.ska") } catch {
            #expect("\(error)".contains("malformed \\x escape"), "\(error)")
        }
    }

    @Test func binariesCompareAsTheirOwnTypeAndKeyMaps() throws {
        let out = try Self.output("""
            load   r0, b"ab"
            load   r1, "ab"
            eq     r2, r0, r1          ; a string never equals a binary
            print  r2
            load   r3, b"ab"
            str    r4, :to_binary, r1, 1
            eq     r2, r0, r4          ; equal bytes, equal binaries
            print  r2
            lt     r2, r1, r0          ; strings < binaries < tuples
            print  r2
            load   r5, {}
            lt     r2, r0, r5
            print  r2
            load   r6, b"ab\\x00"
            lt     r2, r0, r6          ; byte by byte, then by length
            print  r2
            load   r7, b"\\xff"
            lt     r2, r6, r7
            print  r2
            mapnew r8
            load   r9, 1
            mapput r8, r0, r9
            load   r9, 2
            mapput r8, r1, r9
            load   r9, 3
            mapput r8, r4, r9           ; the same key as r0
            print  r8
            mapget r10, r8, r3
            print  r10
        """)
        #expect(out == "false\ntrue\ntrue\ntrue\ntrue\ntrue\n#{\"ab\" => 2, b\"ab\" => 3}\n3\n")
    }

    @Test func concatLenAndGetWorkOnBinariesAndRefuseMixing() throws {
        let out = try Self.output("""
            load   r0, b"\\x00\\x01"
            load   r1, b"\\xfe"
            concat r2, r0, r1
            print  r2
            len    r3, r2
            print  r3
            get    r3, r2, 2
            print  r3
            load   r4, b""
            concat r5, r4, r4
            print  r5
        """)
        #expect(out == "b\"\\0\\x01\\xfe\"\n3\n254\nb\"\"\n")
        #expect(try Self.failure("    load r0, b\"a\"\n    load r1, \"b\"\n    concat r2, r0, r1")
                == "type_mismatch: concat needs two strings or two binaries, got binary and string\n")
        #expect(try Self.failure("    load r0, b\"a\"\n    get r1, r0, 1").hasPrefix("index_out_of_range"))
    }

    /// Binaries go through send and spawn unchanged (bytes that are not UTF-8 included), and
    /// survive collections while many are made and dropped under a small heap.
    @Test func binariesTravelBetweenProcessesAndSurviveTheCollector() throws {
        let r = try runProgram("""
        func echo/0
            recv   r0
            get    r1, r0, 0
            get    r2, r0, 1
            send   r1, r2
            ret    r2
        end

        func main/0
            spawn  r0, echo
            self   r1
            load   r2, b"\\xff\\xfe\\x00\\xc3("
            tuple  r3, r1, 2
            send   r0, r3
            recv   r4
            eq     r5, r4, r2
            print  r5
            print  r4
            ; pressure: 20,000 binaries of 64 bytes, every 100th kept in an array
            array  r6, r0, 0
            load   r7, 0
            load   r8, b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        loop:
            concat r9, r8, r2          ; 69 bytes, a new object each time
            rem    r10, r7, 100
            jne    r10, 0, skip
            push   r6, r9
        skip:
            add    r7, r7, 1
            jlt    r7, 20000, loop
            len    r11, r6
            print  r11
            get    r12, r6, 199
            eq     r13, r12, r9
            print  r13
            load   r0, :ok
            ret    r0
        end
        """, workers: 2, maxHeapBytes: 64 << 10)
        #expect(r.status == .returned(.atom("ok")), "\(r.errors)")
        #expect(r.output == "true\nb\"\\xff\\xfe\\0\\xc3(\"\n200\ntrue\n")
    }

    /// A binary from the host arrives as a binary and goes back as `.bytes`; a string that is
    /// not valid UTF-8 cannot be made from the host side at all (Swift strings are UTF-8).
    @Test func hostTermsRoundTripBinaries() throws {
        let module = try Assembler.assemble("""
        func main/0
            load     r0, b"\\x00\\xff"
            callhost r1, "inspect", r0, 1
            ret      r1
        end
        """, file: "host.ska")
        var options = VM.Options(workers: 1)
        let seen = Locked<[Term]>([])
        options.hostFunctions["inspect"] = HostFunction(arity: 1) { args in
            seen.withLock { $0 = args }
            return .tuple([args[0], .bytes([1, 2, 0xC0]), .string("ok")])
        }
        let vm = try VM(module: module, options: options)
        let status = vm.runMain()
        vm.shutdown()
        #expect(seen.withLock { $0 } == [.bytes([0x00, 0xFF])])
        #expect(status == .returned(.tuple([.bytes([0x00, 0xFF]), .bytes([1, 2, 0xC0]), .string("ok")])))
        #expect(Term.bytes([0x41, 0xFF]).description == "b\"A\\xff\"")
        // A binary term is a constant for built modules, like a string.
        var builder = ModuleBuilder(name: "built")
        let main = builder.declare("main", arity: 0)
        try builder.define(main) { f in
            f.emit(.loadk, .register(0), .constant(.bytes([9, 8])))
            f.emit(.ret, .register(0))
        }
        let built = try VM(module: try builder.build(), options: VM.Options(workers: 1))
        #expect(built.runMain() == .returned(.bytes([9, 8])))
        built.shutdown()
    }

    // MARK: str: slicing and searching

    @Test func sliceCountsBytesAndNeverCutsACharacterOfAString() throws {
        let out = try Self.output("""
            load   r0, "h\\u{E9}llo"   ; é is bytes 1 and 2
            load   r1, 0
            load   r2, 1
            str    r3, :slice, r0, 3
            print  r3
            load   r1, 3
            str    r3, :slice, r0, 2  ; to the end
            print  r3
            load   r1, 1
            load   r2, 3
            str    r3, :slice, r0, 3
            print  r3
            load   r1, 6
            str    r3, :slice, r0, 2  ; empty, at the end
            len    r4, r3
            print  r4
            load   r1, 2
            load   r2, nil
            load   r10, b"h\\xc3\\xa9llo"
            move   r11, r1
            str    r3, :slice, r10, 2 ; a binary may be cut anywhere
            print  r3
        """)
        #expect(out == "h\nllo\né\n0\nb\"\\xa9llo\"\n")
        #expect(try Self.failure("    load r0, \"h\\u{E9}llo\"\n    load r1, 2\n    str r3, :slice, r0, 2")
                == "bad_argument: str :slice: byte offset 2 is inside a UTF-8 character of the string (slice a binary for raw bytes)\n")
        #expect(try Self.failure("    load r0, \"abc\"\n    load r1, 1\n    load r2, 4\n    str r3, :slice, r0, 3").hasPrefix("index_out_of_range"))
        #expect(try Self.failure("    load r0, \"abc\"\n    load r1, 2\n    load r2, 1\n    str r3, :slice, r0, 3").hasPrefix("index_out_of_range: str :slice: start 2 is after end 1"))
        #expect(try Self.failure("    load r0, 5\n    load r1, 0\n    str r3, :slice, r0, 2")
                == "type_mismatch: str :slice needs a string or binary as argument 1, got int\n")
    }

    @Test func findStartsWithAndEndsWith() throws {
        let out = try Self.output("""
            load   r0, "abcabc\\u{1F600}"
            load   r1, "bc"
            str    r2, :find, r0, 2
            print  r2
            load   r2, 2
            str    r3, :find, r0, 3       ; from offset 2
            print  r3
            load   r1, "\\u{1F600}"
            str    r3, :find, r0, 2
            print  r3
            load   r1, "zz"
            str    r3, :find, r0, 2
            print  r3
            load   r1, ""
            load   r2, 4
            str    r3, :find, r0, 3       ; the empty needle is found where the search starts
            print  r3
            load   r1, "abc"
            str    r3, :starts_with, r0, 2
            print  r3
            str    r3, :ends_with, r0, 2
            print  r3
            load   r1, "\\u{1F600}"
            str    r3, :ends_with, r0, 2
            print  r3
            load   r1, ""
            str    r3, :starts_with, r0, 2
            print  r3
            load   r10, b"\\x00\\xff\\x00"
            load   r11, b"\\xff"
            str    r3, :find, r10, 2
            print  r3
            load   r11, "\\u{0}"
            str    r3, :ends_with, r10, 2  ; a string needle for a binary
            print  r3
        """)
        #expect(out == "1\n4\n6\nnil\n4\ntrue\nfalse\ntrue\ntrue\n1\ntrue\n")
        // A binary needle for a string is refused (it could cut a character).
        #expect(try Self.failure("    load r0, \"abc\"\n    load r1, b\"b\"\n    str r3, :find, r0, 2")
                == "type_mismatch: str :find needs a string (the subject is a string) as argument 2, got binary\n")
        #expect(try Self.failure("    load r0, \"abc\"\n    load r1, \"b\"\n    load r2, 9\n    str r3, :find, r0, 3").hasPrefix("index_out_of_range"))
    }

    // MARK: str: splitting, joining, replacing

    @Test func splitKeepsEmptyPiecesAtTheEndsAndBetween() throws {
        let out = try Self.output("""
            load   r0, ",a,,b,"
            load   r1, ","
            str    r2, :split, r0, 2
            print  r2
            load   r0, ""
            str    r2, :split, r0, 2
            print  r2
            load   r0, "x\\u{E9}\\u{E9}y"
            load   r1, "\\u{E9}"
            str    r2, :split, r0, 2
            print  r2
            load   r0, "a::b::c"
            load   r1, "::"
            str    r2, :split, r0, 2
            print  r2
            len    r3, r2
            print  r3
            load   r10, b"k=v\\r\\nx\\xff=y"
            load   r11, "\\r\\n"
            str    r2, :split, r10, 2
            print  r2
        """)
        #expect(out == """
        ["", "a", "", "b", ""]
        [""]
        ["x", "", "y"]
        ["a", "b", "c"]
        3
        [b"k=v", b"x\\xff=y"]

        """)
        #expect(try Self.failure("    load r0, \"abc\"\n    load r1, \"\"\n    str r3, :split, r0, 2")
                == "bad_argument: str :split needs a separator of at least one byte\n")
    }

    @Test func joinPutsTheSeparatorBetweenAndFollowsItsKind() throws {
        let out = try Self.output("""
            load   r0, "a"
            load   r1, ""
            load   r2, "\\u{E9}"
            array  r3, r0, 3
            load   r4, ", "
            str    r5, :join, r3, 2
            print  r5
            array  r3, r0, 0
            str    r5, :join, r3, 2      ; nothing to join: empty
            len    r6, r5
            print  r6
            array  r3, r0, 1
            str    r5, :join, r3, 2
            print  r5
            load   r10, "x"
            load   r11, b"\\xff"
            array  r12, r10, 2
            load   r13, b"|"
            str    r14, :join, r12, 2    ; a binary separator joins strings and binaries
            print  r14
        """)
        #expect(out == "a, , é\n0\na\nb\"x|\\xff\"\n")
        #expect(try Self.failure("    load r0, \"a\"\n    load r1, 2\n    array r3, r0, 2\n    load r4, \",\"\n    str r5, :join, r3, 2")
                == "type_mismatch: str :join needs an array of strings (join binaries with a binary separator); element 1 is int\n")
        #expect(try Self.failure("    load r0, {\"a\"}\n    load r1, \",\"\n    str r5, :join, r0, 2").hasPrefix("type_mismatch"))
    }

    @Test func replaceEveryOccurrenceLeftToRight() throws {
        let out = try Self.output("""
            load   r0, "aaa-a"
            load   r1, "aa"
            load   r2, "b"
            str    r3, :replace, r0, 3
            print  r3
            load   r1, "zz"
            str    r3, :replace, r0, 3
            print  r3
            load   r1, "a"
            load   r2, ""
            str    r3, :replace, r0, 3
            print  r3
            load   r1, "-"
            load   r2, "\\u{2014}\\u{2014}"
            str    r3, :replace, r0, 3
            print  r3
        """)
        #expect(out == "ba-a\naaa-a\n-\naaa——a\n")
    }

    // MARK: str: trimming and case

    @Test func trimAndCaseTouchASCIIOnly() throws {
        let out = try Self.output("""
            load   r0, " \\t\\r\\n x y \\n"
            str    r1, :trim, r0, 1
            str    r2, :format, r1, 1    ; no placeholders: the string itself
            load   r3, "[{}]"
            move   r4, r1
            str    r5, :format, r3, 2
            print  r5
            str    r4, :trim_start, r0, 1
            str    r5, :format, r3, 2
            print  r5
            str    r4, :trim_end, r0, 1
            str    r5, :format, r3, 2
            print  r5
            load   r4, "   "
            str    r4, :trim, r4, 1
            str    r5, :format, r3, 2
            print  r5
            load   r6, "Hello, W\\u{D6}rld! \\u{E9}t\\u{E9}"
            str    r7, :upper, r6, 1
            print  r7
            str    r7, :lower, r6, 1
            print  r7
            load   r8, b"aZ\\xff"
            str    r9, :upper, r8, 1
            print  r9
        """)
        #expect(out == "[x y]\n[x y \n]\n[ \t\r\n x y]\n[]\nHELLO, WÖRLD! éTé\nhello, wÖrld! été\nb\"AZ\\xff\"\n")
    }

    // MARK: str: conversions

    @Test func numbersFromTextAndBack() throws {
        let out = try Self.output("""
            load   r0, "-42"
            str    r1, :to_int, r0, 1
            add    r1, r1, 1
            print  r1
            load   r0, "ff"
            load   r2, 16
            move   r1, r2
            str    r3, :to_int, r0, 2
            print  r3
            load   r0, "9223372036854775807"
            str    r3, :to_int, r0, 1
            print  r3
            load   r0, "9223372036854775808"   ; past 64 bits: nil
            str    r3, :to_int, r0, 1
            print  r3
            load   r0, "12a"
            str    r3, :to_int, r0, 1
            print  r3
            load   r0, ""
            str    r3, :to_int, r0, 1
            print  r3
            load   r0, "-"
            str    r3, :to_int, r0, 1
            print  r3
            load   r0, 255
            load   r1, 2
            str    r3, :from_int, r0, 2
            print  r3
            load   r0, -9223372036854775808
            load   r1, 36
            str    r3, :from_int, r0, 2
            print  r3
            load   r0, 7
            str    r3, :from_int, r0, 1
            print  r3
            load   r0, "2.5e3"
            str    r3, :to_float, r0, 1
            print  r3
            load   r0, "1.5x"
            str    r3, :to_float, r0, 1
            print  r3
            load   r0, b"\\xff"
            str    r3, :to_float, r0, 1
            print  r3
            load   r0, b"17"
            str    r3, :to_int, r0, 1    ; binaries of ASCII digits parse too
            print  r3
        """)
        #expect(out == "-41\n255\n9223372036854775807\nnil\nnil\nnil\nnil\n11111111\n-1y2p0ij32e8e8\n7\n2500.0\nnil\nnil\n17\n")
        #expect(try Self.failure("    load r0, \"1\"\n    load r1, 37\n    str r3, :to_int, r0, 2")
                == "bad_argument: str :to_int: base 37 is outside 2…36\n")
        #expect(try Self.failure("    load r0, 1.5\n    str r3, :from_int, r0, 1")
                == "type_mismatch: str :from_int needs an integer, got float\n")
    }

    @Test func binaryToStringValidatesAndNamesTheOffset() throws {
        let out = try Self.output("""
            load   r0, b"caf\\xc3\\xa9"
            str    r1, :to_string, r0, 1
            print  r1
            typeof r2, r1
            print  r2
            str    r2, :utf8_error, r0, 1
            print  r2
            load   r0, b"ok\\xc3("       ; a cut sequence at 2
            str    r2, :utf8_error, r0, 1
            print  r2
            load   r0, b"\\xed\\xa0\\x80" ; a surrogate
            str    r2, :utf8_error, r0, 1
            print  r2
            load   r0, "\\u{E9}"
            str    r3, :to_binary, r0, 1
            print  r3
            str    r4, :to_array, r3, 1
            print  r4
            str    r5, :to_binary, r4, 1
            eq     r6, r5, r3
            print  r6
            array  r7, r0, 0
            str    r8, :to_binary, r7, 1
            print  r8
        """)
        #expect(out == "café\n:string\nnil\n2\n0\nb\"\\xc3\\xa9\"\n[195, 169]\ntrue\nb\"\"\n")
        #expect(try Self.failure("    load r0, b\"ab\\xff\"\n    str r1, :to_string, r0, 1")
                == "bad_argument: str :to_string: byte offset 2 is not valid UTF-8 (of 3 bytes)\n")
        #expect(try Self.failure("    load r0, 256\n    array r1, r0, 1\n    str r2, :to_binary, r1, 1")
                == "bad_argument: str :to_binary: element 0 of the array is 256, not a byte (0…255)\n")
    }

    /// The validator agrees with Swift's on random bytes biased towards UTF-8's edge cases,
    /// and the offset it names is where the valid prefix ends.
    @Test func utf8ValidationAgreesWithSwift() {
        var random = SeededRandom(seed: 7)
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x9F, 0xA0, 0x8F, 0x90]
        for _ in 0..<20_000 {
            let n = Int(random.next() % 12)
            let bytes = (0..<n).map { _ in random.next() % 3 == 0 ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))] }
            let offset = bytes.withUnsafeBytes { UTF8Validation.firstInvalidOffset($0) }
            #expect((offset == nil) == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
            if let offset {
                #expect(String(validating: bytes[..<offset], as: UTF8.self) != nil, "\(bytes) at \(offset)")
            }
        }
        // Long ASCII runs (the eight-byte path) with a bad byte at every position.
        for k in 0..<40 {
            var bytes = [UInt8](repeating: 0x61, count: 40)
            bytes[k] = 0xFF
            #expect(bytes.withUnsafeBytes { UTF8Validation.firstInvalidOffset($0) } == k)
        }
    }

    // MARK: str: format

    @Test func formatFillsPlaceholdersInOrder() throws {
        let out = try Self.output("""
            load   r0, "{} + {} = {}; {q} {{literal}} {}"
            load   r1, 1
            load   r2, 2.5
            load   r3, {:ok, "x"}
            load   r4, "quoted"
            load   r5, b"\\xff"
            str    r6, :format, r0, 6
            print  r6
            load   r0, "h\\u{E9}: {}"
            load   r1, "\\u{1F600}"
            str    r6, :format, r0, 2
            print  r6
        """)
        #expect(out == "1 + 2.5 = {:ok, \"x\"}; \"quoted\" {literal} b\"\\xff\"\nhé: 😀\n")
        #expect(try Self.failure("    load r0, \"{} {}\"\n    load r1, 1\n    str r2, :format, r0, 2")
                == "bad_argument: str :format: more placeholders than the 1 value given\n")
        #expect(try Self.failure("    load r0, \"{}\"\n    load r1, 1\n    load r2, 2\n    str r3, :format, r0, 3")
                == "bad_argument: str :format: 1 placeholder for 2 values\n")
        #expect(try Self.failure("    load r0, \"a } b\"\n    str r3, :format, r0, 1")
                == "bad_argument: str :format: a lone '}' at byte offset 2 (write '}}' for a brace)\n")
        #expect(try Self.failure("    load r0, \"{x}\"\n    load r1, 1\n    str r3, :format, r0, 2").hasPrefix("bad_argument: str :format: '{' at byte offset 0"))
        #expect(try Self.failure("    load r0, :nope\n    str r3, :format, r0, 1").hasPrefix("type_mismatch"))
    }

    // MARK: Limits and load-time checks

    /// Results larger than the heap limit are a `:heap_limit` error of the process, not a
    /// crash: a join, a concat and a split of a string of half a megabyte doubled into an
    /// array of 64 copies, under a 4 MiB heap.
    @Test func hugeResultsAreRefusedByTheHeapLimit() throws {
        let grow = """
            load   r0, "x"
            load   r1, 0
        grow:
            concat r0, r0, r0
            add    r1, r1, 1
            jlt    r1, 19, grow          ; 512 KiB
            array  r2, r0, 0
            load   r1, 0
        fill:
            push   r2, r0
            add    r1, r1, 1
            jlt    r1, 64, fill
        """
        let joined = try Self.failure(grow + "\n    move r3, r2\n    load r4, \"-\"\n    str r5, :join, r3, 2", maxHeapBytes: 4 << 20)
        #expect(joined.hasPrefix("heap_limit"), "\(joined)")
        let formatted = try Self.failure(grow + "\n    load r3, \"{}{}{}{}{}{}{}{}{}\"\n    move r4, r0\n    move r5, r0\n    move r6, r0\n    move r7, r0\n    move r8, r0\n    move r9, r0\n    move r10, r0\n    move r11, r0\n    move r12, r0\n    str r13, :format, r3, 10", maxHeapBytes: 4 << 20)
        #expect(formatted.hasPrefix("heap_limit"), "\(formatted)")
        let split = try Self.failure("""
            load   r0, ","
            load   r1, 0
        grow:
            concat r0, r0, r0
            add    r1, r1, 1
            jlt    r1, 18, grow          ; 256 Ki commas: 256 Ki + 1 empty pieces
            load   r1, ","
            str    r2, :split, r0, 2
        """, maxHeapBytes: 4 << 20)
        #expect(split.hasPrefix("heap_limit"), "\(split)")
    }

    /// A `str` costs reductions by the bytes it reads and writes, so a loop of operations on a
    /// megabyte yields its worker after the first: with one worker, the process beside it runs
    /// then, and its message is there after the second operation at the latest (were each
    /// operation one reduction, the loop would run hundreds of them in its first slice).
    @Test func aLoopOfLargeStringOperationsYields() throws {
        let r = try runProgram("""
        func other/1
            load   r1, :ran
            send   r0, r1
            ret    r1
        end
        func main/0
            load   r0, "x"
            load   r1, 0
        grow:
            concat r0, r0, r0
            add    r1, r1, 1
            jlt    r1, 20, grow       ; 1 MiB
            self   r6
            spawn  r5, other, r6      ; queued behind this process on the one worker
            load   r2, 0              ; operations done
        again:
            str    r3, :upper, r0, 1
            add    r2, r2, 1
            peek   r4, again          ; the other process's message yet? (peek never waits)
            print  r2
            ret    r2
        end
        """)
        guard case .returned(.int(let operations)) = r.status else { Issue.record("\(r.status) \(r.errors)"); return }
        #expect(operations <= 2, "\(operations) operations of a megabyte ran before the process beside them")
    }

    @Test func unknownOperationsAndWrongCountsAreRefusedAtAssemblyAndLoad() throws {
        do { _ = try Assembler.assemble("func main/0\n    str r0, :explode, r0, 1\n    ret r0\nend\n", file: "s.ska"); Issue.record("accepted") } catch {
            #expect("\(error)".contains("unknown string operation :explode; known: "), "\(error)")
            #expect("\(error)".contains(":2:"), "\(error)")
        }
        do { _ = try Assembler.assemble("func main/0\n    str r0, :split, r0, 3\n    ret r0\nend\n", file: "s.ska"); Issue.record("accepted") } catch {
            #expect("\(error)".contains("string operation :split takes 2 arguments, not 3"), "\(error)")
        }
        // A module whose str names an IO operation: the verifier refuses it.
        var module = try Assembler.assemble("func main/0\n    str r0, :trim, r0, 1\n    io r1, :read_file, r0, 1\n    ret r0\nend\n", file: "s.ska")
        let io = module.functions[0].code[1], constantField: UInt64 = 0xFFFF << 24  // field B
        module.functions[0].code[0] = (module.functions[0].code[0] & ~constantField) | (io & constantField)
        #expect(throws: LoadError.self) { try Verifier.verify(module) }
        do { try Verifier.verify(module) } catch { #expect(error.description.contains("unknown string operation :read_file"), "\(error)") }
    }

    @Test func anOldFormatVersionIsAClearError() throws {
        var bytes = BinaryFormat.encode(try Assembler.assemble("func main/0\n    ret r0\nend\n", file: "v.ska"))
        bytes[4] = 1
        bytes[5] = 0
        do { _ = try BinaryFormat.decode(bytes); Issue.record("accepted") } catch {
            #expect(error.description.contains("unsupported format version 1, written by an older Skein; assemble the program again from its source with 'vm asm' (this VM reads version \(BinaryFormat.version))"), "\(error)")
        }
    }
}
