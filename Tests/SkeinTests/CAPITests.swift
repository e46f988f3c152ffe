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
        #expect(run.stdout == "sum of squares: 385\nmain: #{:args => 3, :first => \"a\"} (ending 0)\n  :args => 3\n  :first => \"a\"\n")
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
