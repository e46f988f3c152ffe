import Foundation
import Testing
@testable import Skein

/// Limits a host sets on untrusted code: a reduction budget and a deadline for the whole run,
/// and a memory limit for the VM as a whole. Each ends the offender (the run, or the process
/// that asked for memory) with a typed reason; the host lives on.
@Suite(.timeLimit(.minutes(5))) struct RunLimitsTests {
    static let spinner = """
    func spin/0
    loop:
        jmp loop
    end
    func main/0
        spawn r0, spin
        spawn r0, spin
        load  r1, 0
    loop:
        add   r1, r1, 1
        jmp   loop
    end
    """

    static func vm(_ source: String, configure: (inout VM.Options) -> Void) throws -> VM {
        var options = VM.Options(workers: 2, output: Capture().sink, errors: Capture().sink)
        configure(&options)
        return try VM(module: try Assembler.assemble(source, file: "limits.ska"), options: options)
    }

    /// Three processes that never stop use up a reduction budget: the run ends, the VM is shut
    /// down, and nothing runs after it.
    @Test func aReductionBudgetEndsTheRun() throws {
        let vm = try Self.vm(Self.spinner) { $0.maxReductions = 2_000_000 }
        #expect(vm.runMain() == .limitReached(.reductions))
        #expect(vm.isStopped)
        #expect(vm.statistics.workers.reduce(0) { $0 + $1.slices } > 0)
        #expect(throws: HostError.stopped) { try vm.spawn("spin") }
    }

    /// A program that waits for ever is ended by the deadline, blocking or awaited.
    @Test func aDeadlineEndsTheRun() async throws {
        let source = "func main/0\n    recv r0\n    ret r0\nend\n"
        let blocking = try Self.vm(source) { $0.deadline = .milliseconds(100) }
        #expect(blocking.runMain() == .limitReached(.deadline))
        let awaited = try Self.vm(Self.spinner) { $0.deadline = .milliseconds(100) }
        #expect(await awaited.run() == .limitReached(.deadline))
        #expect(awaited.isStopped)
    }

    /// Two processes that grow without end under a VM-wide limit far below their own heap
    /// limits: each ends with `memory_limit` (its monitor sees it), and main goes on.
    @Test func theVMMemoryLimitEndsTheProcessThatAsks() throws {
        let vm = try Self.vm("""
        func hog/0
            load   r0, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        grow:
            concat r0, r0, r0
            jmp    grow
        end
        func main/0
            spawnmon r0, hog, r0
            spawnmon r0, hog, r0
            recv     r1           ; {:DOWN, ref, pid, {:error, kind, detail, function, line}}
            recv     r2
            get      r1, r1, 3
            get      r1, r1, 1
            get      r2, r2, 3
            get      r2, r2, 1
            tuple    r3, r1, 2
            ret      r3
        end
        """) { options in
            options.maxMemoryBytes = 32 << 20
            options.maxHeapBytes = 1 << 30
        }
        #expect(vm.runMain() == .returned(.tuple([.atom("memory_limit"), .atom("memory_limit")])))
        // Everything the hogs held was given back to the VM's account.
        #expect(vm.core.memoryBudget!.usedWords.load(ordering: .relaxed) == 0)
        vm.shutdown()
    }

    /// `vm run` takes the limits as flags and says which one stopped the run.
    @Test(arguments: [(["--max-reductions", "1000000"], "reduction budget"), (["--time-limit", "0.2"], "deadline")])
    func theCommandLineTakesTheLimits(flags: [String], message: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skein-limits-\(getpid())-\(UUID().uuidString).ska")
        try Self.spinner.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try runCommand(vmExecutable, ["run"] + flags + [file.path])
        #expect(run.status == 1 && run.stderr.contains(message), "\(run.stderr)")
    }
}

/// Found by the run fuzzer: a receive with timeout 0 that jumps back to itself never spent a
/// reduction, so its slice never ended and `shutdown` waited for ever. Now every timed-out
/// receive spends one like any branch: the spinning process yields, the deadline ends the run,
/// and a second process still gets its turn on the single worker.
@Suite(.timeLimit(.minutes(1))) struct ZeroTimeoutLoopTests {
    @Test func aZeroTimeoutReceiveLoopYields() throws {
        let out = Capture()
        var options = VM.Options(workers: 1, output: out.sink, errors: Capture().sink)
        options.deadline = .milliseconds(200)
        let vm = try VM(module: try Assembler.assemble("""
        func other/0
            load  r0, :other_ran
            print r0
            ret   r0
        end
        func main/0
            spawn r1, other
        again:
            recv  r0, 0, again
            ret   r0
        end
        """, file: "poll.ska"), options: options)
        #expect(vm.runMain() == .limitReached(.deadline))
        #expect(out.value == ":other_ran\n")
        #expect(vm.statistics.workers[0].slices > 2)
    }

    /// Found by the run fuzzer: a loop printing a large value (8 MiB of text a time) spent one
    /// reduction per print, so one slice printed for minutes while the process beside it
    /// waited, and so did a `shutdown` (it waits for the slice). Printing now costs reductions
    /// by the bytes it writes, so the slice ends after a print: the other process runs between
    /// two prints, and `shutdown` returns. Without the fix this test ends at its time limit.
    @Test func aLoopOfLargePrintsYields() throws {
        let seen = Locked((otherRan: false, bytes: 0))
        let options = VM.Options(workers: 1, output: OutputSink { text in
            seen.withLock { $0.bytes += text.utf8.count; if text == ":other_ran\n" { $0.otherRan = true } }
        }, errors: Capture().sink)
        let vm = try VM(module: try Assembler.assemble("""
        func other/0
            load  r0, :other_ran
            print r0
            ret   r0
        end
        func main/0
            spawn r5, other
            load  r1, "a string of about a hundred bytes, a string of about a hundred bytes, a string of about..."
            array r0, r1, 0
            load  r2, 0
        fill:
            push  r0, r1
            add   r2, r2, 1
            jlt   r2, 100000, fill
        again:
            print r0
            jmp   again
        end
        """, file: "prints.ska"), options: options)
        let ended = DispatchSemaphore(value: 0)
        let status = Locked<VM.ExitStatus?>(nil)
        Thread { let s = vm.runMain(); status.withLock { $0 = s }; ended.signal() }.start()
        // Until the other process has run and main has printed twice (16 MiB).
        while !seen.withLock({ $0.otherRan && $0.bytes >= 2 * Printer.maxBytes }) { usleep(1000) }
        vm.shutdown()
        ended.wait()
        #expect(status.withLock { $0 } == .stopped)
    }
}
