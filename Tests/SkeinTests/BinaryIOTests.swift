import Foundation
import Testing
@testable import Skein

/// IO with bytes that are not UTF-8: `_binary` reads hand them over unchanged, writes take
/// binaries, and string reads refuse them with `:invalid_utf8` instead of making a string of them.
@Suite(.timeLimit(.minutes(5))) struct BinaryIOTests {
    /// Every byte value, twice, with the line ends a line read stops at left out.
    static let allBytes: [UInt8] = (0...255).map(UInt8.init).filter { $0 != 0x0A } + (0...255).map(UInt8.init).filter { $0 != 0x0A }

    @Test func bytesThroughASocketComeBackUnchanged() throws {
        let back = Locked<[UInt8]>([])
        let r = try ReadLimitTests.run("""
            io    r3, :read_line_binary, r10, 1   ; every byte but \\n, as it is
            get   r4, r3, 1
            typeof r5, r4
            print r5
            len   r5, r4
            print r5
            move  r11, r10
            load  r12, b"\\n"
            concat r12, r4, r12
            io    r6, :write, r11, 2              ; written back, a binary
            print r6
            io    r3, :read_line, r10, 1          ; bytes that are not UTF-8, asked for as a string
            print r3
            move  r13, r10
            load  r14, b"\\xff\\x00"
            io    r3, :read_until_binary, r13, 2  ; up to a delimiter that is not UTF-8
            print r3
        """) { fd in
            IOTests.send(fd, Self.allBytes + [0x0A])
            back.withLock { $0 = IOTests.receive(fd, count: Self.allBytes.count + 1) }
            IOTests.send(fd, [0x61, 0xC3, 0x28, 0x0A])        // "a" then a cut sequence at offset 1
            IOTests.send(fd, [0x01, 0xFF, 0x00, 0x02])
            _ = IOTests.receive(fd, count: 1)                  // until the program closes
        }
        #expect(back.withLock { $0 } == Self.allBytes + [0x0A])
        #expect(r.output == """
        :binary
        \(Self.allBytes.count)
        {:ok, \(Self.allBytes.count + 1)}
        {:error, :invalid_utf8, "byte offset 1 is not valid UTF-8 (a _binary read takes any bytes)"}
        {:ok, b"\\x01\\xff\\0"}

        """, "\(r.errors)")
    }

    @Test func bytesThroughAFileComeBackUnchanged() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-bytes-\(getpid())-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = (0...255).map { "\\x" + String(format: "%02x", $0) }.joined()
        let r = try runProgram("""
        func main/0
            load  r0, "\(path)"
            load  r1, :write
            io    r2, :file_open, r0, 2
            get   r3, r2, 1
            load  r4, b"\(bytes)"
            io    r5, :write, r3, 2
            print r5
            io    r5, :close, r3, 1
            io    r6, :read_file_binary, r0, 1
            get   r7, r6, 1
            eq    r8, r7, r4
            print r8
            io    r6, :read_file, r0, 1        ; as a string: refused, naming the first bad byte
            print r6
            load  r1, :read
            io    r2, :file_open, r0, 2
            get   r10, r2, 1
            load  r11, 300
            io    r12, :read_binary, r10, 2
            get   r13, r12, 1
            eq    r8, r13, r4
            print r8
            load  r0, :ok
            ret   r0
        end
        """, workers: 2)
        #expect(r.status == .returned(.atom("ok")), "\(r.errors)")
        #expect(r.output == "{:ok, 256}\ntrue\n{:error, :invalid_utf8, \"byte offset 128 is not valid UTF-8 (a _binary read takes any bytes)\"}\ntrue\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data((0...255).map(UInt8.init)))
    }

    /// A string `:read` of some bytes hands over whole characters: one cut by the end of
    /// what has arrived waits for its other bytes, one cut by the size asked for comes whole
    /// (a read always gives something), and a file read leaves a cut character for the next.
    @Test func stringReadsOfSomeBytesEndOnACharacter() throws {
        let r = try ReadLimitTests.run("""
            move  r11, r10
            load  r12, 100
            io    r3, :read, r11, 2     ; "h" and half an é have arrived: "h"
            print r3
            move  r13, r10
            load  r14, "go\\n"
            io    r15, :write, r13, 2
            io    r3, :read, r11, 2     ; waits for the rest of the é
            print r3
            load  r12, 1
            io    r3, :read, r11, 2     ; asked for 1 byte: the whole é
            print r3
            io    r3, :read, r11, 2
            print r3
        """) { fd in
            IOTests.send(fd, [0x68, 0xC3])
            guard ReadLimitTests.expect(fd, "go\n") else { return }
            IOTests.send(fd, [0xA9, 0x6C, 0x6C, 0x6F])
            IOTests.send(fd, [0xC3, 0xA9, 0x21])
            _ = IOTests.receive(fd, count: 1)  // until the program closes
        }
        #expect(r.output == "{:ok, \"h\"}\n{:ok, \"éllo\"}\n{:ok, \"é\"}\n{:ok, \"!\"}\n", "\(r.errors)")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-chars-\(getpid())-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([0x61, 0xC3, 0xA9, 0x62]).write(to: URL(fileURLWithPath: path))
        let file = try runProgram("""
        func main/0
            load  r0, "\(path)"
            load  r1, :read
            io    r2, :file_open, r0, 2
            get   r10, r2, 1
            load  r11, 2
            io    r3, :read, r10, 2     ; bytes 0 and 1 cut the é: "a"
            print r3
            io    r3, :read, r10, 2     ; then the é
            print r3
            io    r3, :read, r10, 2
            print r3
            load  r0, :ok
            ret   r0
        end
        """, workers: 2)
        #expect(file.output == "{:ok, \"a\"}\n{:ok, \"é\"}\n{:ok, \"b\"}\n", "\(file.errors)")
    }

    @Test func unknownIONamesTheBinaryTwins() throws {
        do { _ = try Assembler.assemble("func main/0\n    io r0, :read_bin, r0, 1\n    ret r0\nend\n", file: "io.ska"); Issue.record("accepted") } catch {
            #expect("\(error)".contains(":read_file_binary") && "\(error)".contains(":stdin_line_binary"), "\(error)")
        }
    }
}
