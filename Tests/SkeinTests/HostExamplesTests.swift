import Foundation
import Testing

/// The host programs under `Examples/` (job runner, plugin host, async service), built beside
/// `vm` by `make test` and run as a user would run them. Each checks its own results and exits
/// 0 only when every one is right; the tests also check what they print.
@Suite(.timeLimit(.minutes(3))) struct HostExamplesTests {
    /// Runs the example executable `name` (next to `vm`).
    static func run(_ name: String, _ arguments: [String] = []) throws -> (stdout: String, stderr: String, status: Int32) {
        let executable = URL(fileURLWithPath: vmExecutable).deletingLastPathComponent().appendingPathComponent(name).path
        #expect(FileManager.default.isExecutableFile(atPath: executable), "\(name) is missing: `make test` builds it (swift build)")
        return try runCommand(executable, arguments)
    }

    /// 1,000 processes report to one host mailbox; every result is checked on the host.
    @Test func theJobRunnerCollectsEveryResult() throws {
        let run = try Self.run("job-runner", ["1000"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout == "1000 jobs: the longest chain starts at 871 (178 steps); 0 wrong\n")
    }

    /// A memory hog, an endless loop, a sleeper and a file reader each end with their typed
    /// limit or refusal, and the host goes on to the next plugin.
    @Test func thePluginHostOutlivesItsPlugins() throws {
        let run = try Self.run("plugin-host")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines.first?.hasPrefix("memory hog: failed: memory_limit") == true)
        #expect(lines.contains("infinite loop: limit: the run used up its reduction budget"))
        #expect(lines.contains("sleeper: limit: the run's deadline passed"))
        #expect(lines.contains { $0.hasPrefix("file reader: returned: {:error, :EACCES,") })
        #expect(lines.contains("well behaved: returned: 42"))
        #expect(lines.last == "the host is still here")
    }

    /// Eight programs awaited at once, each with an async host function, and a mailbox read
    /// as an async sequence.
    @Test func theAsyncServiceAwaitsEveryProgram() throws {
        let run = try Self.run("async-service")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasPrefix("8 of 8 programs answered, in "))
        #expect(run.stdout.hasSuffix("8 of 8 reports arrived\n"))
    }
}
