import Foundation
import Testing
@testable import Skein

/// Runs every program in `vm-examples/` with the real `vm` binary and compares its stdout
/// (`NAME.out`), exit code (`NAME.exit`, default 0) and a substring of stderr (`NAME.err`).
/// Programs that use processes run at 1, 2 and 4 workers. Each also goes through
/// asm → disasm → asm, with every module it imports, and must give the same bytes. A
/// directory with a `main.ska` and `main.out` is a program of several modules (`inventory/`).
@Suite struct ExamplesTests {
    static let directory = repositoryRoot.appendingPathComponent("vm-examples")

    static let examples: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        // Examples with an expected-output file; servers and filters are driven by IOTests.
        let single = files.filter { $0.hasSuffix(".ska") }.map { String($0.dropLast(4)) }.filter { files.contains($0 + ".out") }
        let multiple = files.filter { name in
            ["main.ska", "main.out"].allSatisfy { FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(name)/\($0)").path) }
        }.map { "\($0)/main" }
        return (single + multiple).sorted()
    }()

    @Test func thereAreExamples() {
        #expect(Self.examples.count >= 20)
    }

    @Test(arguments: examples)
    func example(_ name: String) throws {
        let source = Self.directory.appendingPathComponent("\(name).ska")
        let expected = try String(contentsOf: Self.directory.appendingPathComponent("\(name).out"), encoding: .utf8)
        let exitCode = (try? String(contentsOf: Self.directory.appendingPathComponent("\(name).exit"), encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        let stderrNeedle = (try? String(contentsOf: Self.directory.appendingPathComponent("\(name).err"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let text = try String(contentsOf: source, encoding: .utf8)
        let usesProcesses = ["spawn", "recv", "sleep", "send", "io"].contains { text.contains("    \($0)") }
        for workers in usesProcesses ? [1, 2, 4] : [1] {
            let result = try runCommand(vmExecutable, ["run", "--workers", "\(workers)", source.path])
            #expect(result.stdout == expected, "\(name) at \(workers) workers")
            #expect(result.status == exitCode, "\(name) at \(workers) workers: \(result.stderr)")
            if let stderrNeedle { #expect(result.stderr.contains(stderrNeedle), "\(name): \(result.stderr)") }
        }
        let program = try Program.load(bytes: Array(text.utf8), name: source.path, search: .forProgram(at: source.path, environment: [:]))
        let bytes = BinaryFormat.encode(program)
        let texts = Disassembler.disassemble(try BinaryFormat.decodeProgram(bytes))
        let again = Program(try texts.map { try Assembler.assemble($0, file: "disasm") })
        #expect(BinaryFormat.encode(again) == bytes, "\(name): disassembly does not reassemble to the same bytes")
    }

    /// The CLI end to end: asm writes a binary that runs; check and disasm accept it; errors go
    /// to stderr with the documented exit codes.
    @Test func commandLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skein-cli-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("fib.skb").path
        let source = Self.directory.appendingPathComponent("fib.ska").path
        #expect(try runCommand(vmExecutable, ["asm", source, "-o", binary]).status == 0)
        let run = try runCommand(vmExecutable, ["run", binary])
        #expect(run.stdout == "75025\n" && run.status == 0)
        #expect(try runCommand(vmExecutable, ["check", binary]).stdout.contains("ok"))
        let disasm = try runCommand(vmExecutable, ["disasm", binary])
        #expect(disasm.stdout.contains("func fib/1"))

        // A corrupted binary: exit code 2, a message on stderr, nothing on stdout.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary)))
        bytes[bytes.count - 3] ^= 0xFF
        let corrupt = dir.appendingPathComponent("bad.skb").path
        #expect(FileManager.default.createFile(atPath: corrupt, contents: Data(bytes)))
        let bad = try runCommand(vmExecutable, ["run", corrupt])
        #expect(bad.status == 2 && bad.stdout.isEmpty && bad.stderr.contains("checksum"))

        let missing = try runCommand(vmExecutable, ["run", dir.appendingPathComponent("nope.ska").path])
        #expect(missing.status == 74 && missing.stderr.contains("cannot read"))
        #expect(try runCommand(vmExecutable, ["run", "--workers", "0", source]).status == 64)
        #expect(try runCommand(vmExecutable, ["--help"]).stdout.contains("run"))
    }

    /// `print` writes a string with NUL bytes whole (it used to stop at the first NUL), and
    /// `vm --version` names the version.
    @Test func printWritesNULBytesAndVersionIsShown() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skein-nul-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("nul.ska")
        try "func main/0\n    load r0, \"a\\0b\"\n    print r0\n    ret r0\nend\n".write(to: source, atomically: true, encoding: .utf8)
        let run = try runCommand(vmExecutable, ["run", source.path])
        #expect(Array(run.stdout.utf8) == [0x61, 0, 0x62, 0x0A], "\(Array(run.stdout.utf8))")
        let version = try runCommand(vmExecutable, ["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("skein \(VM.version)"))
    }
}
