import Foundation
import Synchronization
import Testing
@testable import Skein

/// What comes back from a run: main's value to the host (blocking and async), typed failures,
/// and main's result as `vm run`'s exit status.
@Suite(.timeLimit(.minutes(5))) struct RunResultTests {
    /// `runMain` hands main's result back as a host term.
    @Test func mainsValueComesBackToTheHost() throws {
        let r = try runProgram("""
        func main/0
            load  r0, {:ok, {1, 2.5, "three"}, :four}
            ret   r0
        end
        """)
        #expect(r.status == .returned(.tuple([.atom("ok"), .tuple([.int(1), .float(2.5), .string("three")]), .atom("four")])))
    }

    /// `exit :normal` reads as `:normal`; another reason is `exited` with the reason as a term.
    @Test(arguments: [(":normal", VM.ExitStatus.returned(.atom("normal"))),
                      ("{:shutdown, 3}", VM.ExitStatus.exited(reason: .tuple([.atom("shutdown"), .int(3)])))])
    func exitReasonsAreTerms(reason: String, expected: VM.ExitStatus) throws {
        let r = try runProgram("func main/0\n    load r0, \(reason)\n    exit r0\nend\n")
        #expect(r.status == expected)
    }

    /// A failure is a typed error: kind, process, function, line and stack trace.
    @Test func failuresAreTyped() throws {
        let r = try runProgram("""
        func inner/1
            load  r1, 0
            div   r0, r0, r1
            ret   r0
        end
        func main/0
            load  r0, 1
            call  r0, inner, r0
            ret   r0
        end
        """, file: "typed.ska")
        guard case .failed(let error) = r.status else { Issue.record("\(r.status)"); return }
        #expect(error.kind == .divisionByZero)
        #expect(error.function == "inner/1" && error.file == "typed.ska" && error.line == 3)
        #expect(error.trace.map(\.function) == ["inner/1", "main/0"])
        guard case .pid = error.pid else { Issue.record("no pid in \(error)"); return }
    }

    /// Host-side misuse is a `HostError` naming what is wrong.
    @Test func spawnMisuseIsTyped() throws {
        let vm = try VM(module: try Assembler.assemble("func main/0\n    ret r0\nend\nfunc two/2\n    ret r0\nend\n", file: "t.ska"),
                        options: .init(workers: 1))
        defer { vm.shutdown() }
        #expect(throws: HostError.noSuchFunction("missing")) { try vm.spawn("missing") }
        #expect(throws: HostError.wrongArity(function: "two", takes: 2, given: 1)) { try vm.spawn("two", [.int(1)]) }
    }

    /// Eight programs awaited at once from Swift tasks. Each main tells the host it has
    /// started, then waits for a message that the host sends only once all eight have started.
    /// If `run()` held a thread of the cooperative pool (two threads here) while it waited, the
    /// programs after the second could not be awaited and the host could not send: the test
    /// would hang until its time limit. So this shows that awaiting does not block, without
    /// measuring time.
    @Test(.timeLimit(.minutes(1))) func asyncRunsAwaitSideBySide() async throws {
        let started = Locked<[String: Term]>([:])  // main's pid by the VM's number
        var options = VM.Options(workers: 1, output: Capture().sink, errors: Capture().sink)
        options.hostFunctions["started"] = HostFunction(arity: 2) { args in
            guard case .array(let arguments) = args[0], case .string(let number)? = arguments.first else { return .nil }
            started.withLock { $0[number] = args[1] }
            return .nil
        }
        let module = try Assembler.assemble("""
        func main/1
            self     r1
            callhost r2, "started", r0, 2
            recv     r2
            ret      r2
        end
        """, file: "waiter.ska")
        let vms = try (0..<8).map { _ in try VM(module: module, options: options) }
        defer { vms.forEach { $0.shutdown() } }
        let statuses = await withTaskGroup(of: (Int, VM.ExitStatus).self) { group in
            for (i, vm) in vms.enumerated() { group.addTask { (i, await vm.run(arguments: ["\(i)"])) } }
            group.addTask {
                while started.withLock({ $0.count }) < 8 { try? await Task.sleep(for: .milliseconds(5)) }
                for (i, vm) in vms.enumerated() {
                    try? vm.send(started.withLock { $0["\(i)"]! }, .int(Int64(i)))
                }
                return (-1, .stopped)
            }
            var results: [Int: VM.ExitStatus] = [:]
            for await (i, status) in group where i >= 0 { results[i] = status }
            return results
        }
        for i in 0..<8 { #expect(statuses[i] == .returned(.int(Int64(i)))) }
    }

    /// `shutdown` ends an awaited run with `.stopped`, and a later run is `.stopped` at once.
    @Test func shutdownEndsAnAwaitedRun() async throws {
        let vm = try VM(module: try Assembler.assemble("func main/0\n    recv r0\n    ret r0\nend\n", file: "t.ska"),
                        options: .init(workers: 1))
        async let status = vm.run()
        try await Task.sleep(for: .milliseconds(20))  // not needed for correctness: either order ends .stopped
        vm.shutdown()
        #expect(await status == .stopped)
        #expect(await vm.run() == .stopped)
    }

    /// `vm run`: main's result is the exit status.
    @Test(arguments: [
        ("load r0, 7", Int32(7), ""),
        ("load r0, :normal", 0, ""),
        ("load r0, :ok", 0, ""),
        ("load r0, nil", 0, ""),
        ("load r0, 300", 1, "main returned 300, which is not an exit status"),
        ("load r0, \"oops\"", 1, "main returned \"oops\""),
        ("load r0, {:error, :why}\n    exit r0", 1, "main exited with reason {:error, :why}"),
    ])
    func mainsResultIsTheExitStatus(body: String, status: Int32, message: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skein-status-\(getpid())-\(UUID().uuidString).ska")
        try "func main/0\n    \(body)\n    ret r0\nend\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try runCommand(vmExecutable, ["run", file.path])
        #expect(run.status == status, "\(body): \(run.stderr)")
        if message.isEmpty { #expect(run.stderr.isEmpty, "\(run.stderr)") } else { #expect(run.stderr.contains(message), "\(run.stderr)") }
    }
}
