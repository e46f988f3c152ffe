import Foundation
import Testing
@testable import Skein

/// The C API end to end: `Examples/c-host/host.c` is compiled against `skein.h` and
/// `libskein.so` (built beside `vm` by `make test`) and run as a real C program.
@Suite(.timeLimit(.minutes(5))) struct CAPITests {
    static let example = repositoryRoot.appendingPathComponent("Examples/c-host")

    /// Compiles the C host into a temporary folder; returns its path.
    static func buildHost() throws -> String {
        let buildFolder = URL(fileURLWithPath: vmExecutable).deletingLastPathComponent().path
        let library = buildFolder + "/libskein.so"
        #expect(FileManager.default.fileExists(atPath: library), "libskein.so is missing: `make test` builds it (swift build --product skein)")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("skein-c-host-\(getpid())-\(UUID().uuidString)").path
        let compile = try runCommand("/usr/bin/cc", [example.appendingPathComponent("host.c").path,
                                                     "-I", repositoryRoot.appendingPathComponent("Sources/SkeinC/include").path,
                                                     "-L", buildFolder, "-lskein", "-Wl,-rpath,\(buildFolder)", "-o", output])
        #expect(compile.status == 0, "cc: \(compile.stderr)")
        return output
    }

    @Test func aCHostRunsAProgramAndExchangesMessages() throws {
        let host = try Self.buildHost()
        defer { try? FileManager.default.removeItem(atPath: host) }
        let run = try runCommand(host, [Self.example.appendingPathComponent("squares.ska").path])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout == "sum of squares: 385\nbinary: b\"\\0\\xffhi\\xc3\" came back unchanged\nmain: #{:args => 3, :first => \"a\"} (ending 0)\n  :args => 3\n  :first => \"a\"\n")
    }

    /// `skein_vm_load_file` finds the modules a program imports beside it, and the standard
    /// library in the library itself; a host function is bound in whichever module calls it.
    @Test func aCHostLoadsModulesBesideTheProgram() throws {
        let host = try Self.buildHost()
        defer { try? FileManager.default.removeItem(atPath: host) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skein-c-modules-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        func square/2
            call     r3, arith.square/1, r1
            move     r4, r1
            move     r5, r3
            tuple    r6, r4, 2
            send     r0, r6
            ret      r6
        end

        func bytes/2                  ; the host sends a binary through it (host.c)
            len      r2, r1
            move     r3, r1
            move     r4, r2
            tuple    r5, r3, 2
            send     r0, r5
            ret      r5
        end

        func main/1
            call  r1, lists.reverse/1, r0
            load  r2, :args
            len   r3, r1
            tuple r10, r2, 2
            load  r4, :first
            get   r5, r0, 0
            tuple r11, r4, 2
            array r12, r10, 2
            call  r13, maps.from_pairs/1, r12
            ret   r13
        end
        """.write(to: dir.appendingPathComponent("main.ska"), atomically: true, encoding: .utf8)
        try """
        module arith
        export square/1

        func square/1
            move     r1, r0
            callhost r2, "multiply", r0, 2
            ret      r2
        end
        """.write(to: dir.appendingPathComponent("arith.ska"), atomically: true, encoding: .utf8)
        let run = try runCommand(host, [dir.appendingPathComponent("main.ska").path])
        #expect(run.status == 0 && run.stdout == "sum of squares: 385\nbinary: b\"\\0\\xffhi\\xc3\" came back unchanged\nmain: #{:args => 3, :first => \"a\"} (ending 0)\n  :args => 3\n  :first => \"a\"\n",
                "\(run.stdout) \(run.stderr)")
    }

    /// A program that does not assemble is refused with the assembler's message, through
    /// `skein_last_error`.
    @Test func loadErrorsReachC() throws {
        let host = try Self.buildHost()
        defer { try? FileManager.default.removeItem(atPath: host) }
        let program = FileManager.default.temporaryDirectory.appendingPathComponent("skein-c-bad-\(getpid()).ska")
        try "func main/0\n    bogus r0\nend\n".write(to: program, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: program) }
        let run = try runCommand(host, [program.path])
        #expect(run.status == 1 && run.stderr.contains("host: load:") && run.stderr.contains(":2:"), "\(run.stderr)")
    }
}
