import Foundation
import Testing
@testable import Skein

/// End-to-end behaviour of processes and messages, at 1, 2 and 4 workers.
@Suite(.timeLimit(.minutes(5))) struct ProcessTests {
    static let workerCounts = [1, 2, 4]

    @Test(arguments: workerCounts)
    func pingPong(workers: Int) throws {
        let r = try runProgram("""
        func ponger/0
        loop:
            recv r0
            get r1, r0, 0          ; {from, n}
            get r2, r0, 1
            send r1, r2
            jmp loop
        end
        func main/0
            spawn r0, ponger
            self r1
            load r2, 0
            load r5, 20000
        loop:
            tuple r3, r1, 2        ; {self, n}
            send r0, r3
            recv r2
            add r2, r2, 1
            jlt r2, r5, loop
            print r2
            ret r2
        end
        """, workers: workers)
        #expect(r.output == "20000\n")
    }

    @Test(arguments: workerCounts)
    func messagesFromOneSenderArriveInOrder(workers: Int) throws {
        let r = try runProgram("""
        func sender/2
            load r2, 0
        loop:
            move r6, r1
            move r7, r2
            tuple r3, r6, 2         ; {tag, i}
            send r0, r3
            add r2, r2, 1
            jlt r2, 5000, loop
            ret r2
        end
        func main/0
            self r0
            load r1, :a
            spawn r2, sender, r0
            load r1, :b
            spawn r2, sender, r0
            load r10, -1           ; last seen from a
            load r11, -1           ; last seen from b
            load r12, 0
        loop:
            recv r3
            get r4, r3, 0
            get r5, r3, 1
            jeq r4, :a, froma
            sub r6, r5, r11
            jne r6, 1, bad
            move r11, r5
            jmp next
        froma:
            sub r6, r5, r10
            jne r6, 1, bad
            move r10, r5
        next:
            add r12, r12, 1
            jlt r12, 10000, loop
            load r0, :ordered
            print r0
            ret r0
        bad:
            print r3
            raise r3
        end
        """, workers: workers)
        #expect(r.output == ":ordered\n")
    }

    @Test(arguments: workerCounts)
    func selectiveReceiveLeavesOthersQueuedInOrder(workers: Int) throws {
        let r = try runProgram("""
        func server/0
            recv r0                ; {:req, ref, from, n}
            get r1, r0, 1
            get r2, r0, 2
            get r3, r0, 3
            mul r7, r3, 2
            move r6, r1
            tuple r4, r6, 2        ; {ref, n*2}
            send r2, r4
            ret r0
        end
        func main/0
            self r0
            load r1, :first
            send r0, r1
            load r1, :second
            send r0, r1
            spawn r2, server
            makeref r3
            load r4, :req
            move r5, r3
            move r6, r0
            load r7, 21
            tuple r8, r4, 4
            send r2, r8
            recvtag r9, r3          ; only the reply with our reference
            get r10, r9, 1
            print r10
            recv r11
            print r11
            recv r11
            print r11
            ret r0
        end
        """, workers: workers)
        #expect(r.output == "42\n:first\n:second\n")
    }

    @Test(arguments: workerCounts)
    func receiveTimeoutsAndPolls(workers: Int) throws {
        let r = try runProgram("""
        func main/0
            recv r0, 20, timedout
            load r1, :unexpected
            print r1
            ret r1
        timedout:
            load r1, :timeout
            print r1
            self r2
            send r2, r1
            recv r3, 0, empty      ; a poll that finds the message
            print r3
            recv r3, 0, empty      ; a poll that finds nothing
            ret r3
        empty:
            load r4, :empty
            print r4
            sleep 5
            ret r4
        end
        """, workers: workers)
        #expect(r.output == ":timeout\n:timeout\n:empty\n")
    }

    @Test(arguments: workerCounts)
    func aCrashingProcessDiesAlone(workers: Int) throws {
        let r = try runProgram("""
        func crasher/0
            load r0, 1
            load r1, 0
            div r2, r0, r1
            ret r2
        end
        func worker/1
            recv r1
            add r1, r1, 1
            send r0, r1
            ret r1
        end
        func main/0
            spawn r0, crasher
            self r1
            spawn r2, worker, r1
            sleep 10
            send r0, r0            ; to the dead crasher: not an error
            load r3, 41
            send r2, r3
            recv r4
            print r4
            ret r4
        end
        """, workers: workers)
        #expect(r.status.hasReturned)
        #expect(r.output == "42\n")
        #expect(r.errors.contains("division by zero"))
        #expect(r.errors.contains("crasher/0"))
    }

    @Test(arguments: workerCounts)
    func spawnStormCollectsEveryReply(workers: Int) throws {
        let r = try runProgram("""
        func child/2
            send r1, r0            ; child(i, parent) sends i
            ret r0
        end
        func main/0
            self r1
            load r0, 0
            load r9, 20000
        spawnloop:
            spawn r2, child, r0
            add r0, r0, 1
            jlt r0, r9, spawnloop
            load r3, 0
            load r4, 0
        collect:
            recv r5
            add r3, r3, r5
            add r4, r4, 1
            jlt r4, r9, collect
            print r3
            ret r3
        end
        """, workers: workers)
        #expect(r.output == "199990000\n")
    }

    /// A busy third process keeps making progress beside a ping-pong pair (slices are bounded
    /// by reductions, and the next slot hands the queue a turn).
    @Test(arguments: workerCounts)
    func aThirdProcessProgressesBesidePingPong(workers: Int) throws {
        let r = try runProgram("""
        func ponger/0
        loop:
            recv r0
            send r0, r0
            jmp loop
        end
        func pinger/1
            spawn r1, ponger
            self r2
        loop:
            send r1, r2
            recv r3
            jmp loop
        end
        func counter/1
            load r1, 0
            load r2, 3000000
        loop:
            add r1, r1, 1
            jlt r1, r2, loop
            send r0, r1
            ret r1
        end
        func main/0
            self r0
            spawn r1, pinger, r0
            spawn r2, counter, r0
            recv r3
            print r3
            ret r3
        end
        """, workers: workers)
        #expect(r.output == "3000000\n")
    }

    @Test func waitAllWaitsForEveryProcess() throws {
        let r = try runProgram("""
        func late/0
            sleep 30
            load r0, :late
            print r0
            ret r0
        end
        func main/0
            spawn r0, late
            load r1, :main
            print r1
            ret r1
        end
        """, workers: 2, waitForAll: true)
        #expect(r.output == ":main\n:late\n")
    }

    /// Idle means idle: while every process waits, the VM burns almost no CPU. Runs the real
    /// `vm` binary and reads that child's own CPU time with wait4 (tests run in parallel, so the
    /// test process's own usage would include theirs).
    @Test func idleVMUsesAlmostNoCPU() throws {
        let program = FileManager.default.temporaryDirectory.appendingPathComponent("skein-idle-\(getpid()).ska")
        try """
        func waiter/0
            recv r0, 2000, done
        done:
            ret r0
        end
        func main/0
            load r0, 0
        loop:
            spawn r1, waiter
            add r0, r0, 1
            jlt r0, 100, loop
            sleep 2000
            ret r0
        end
        """.write(to: program, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: program) }
        let usage = try ChildRun.run(vmExecutable, ["run", "--workers", "4", program.path], timeLimit: 60)
        #expect(usage.ending == .exited(100), "main's result, 100 spawned waiters, is the exit status")
        #expect(usage.wallSeconds >= 1.9)  // it really waited 2 s (a sanity check, not a speed assertion)
        #expect(usage.cpuSeconds < 0.05 * usage.wallSeconds, "used \(usage.cpuSeconds) s of CPU over \(usage.wallSeconds) s")
    }
}
