import Foundation
import Testing
@testable import Skein

/// Links, monitors, exit signals, catch, the registry, selective receive and limits as exit
/// reasons (docs/processes.md), at 1, 2 and 4 workers. The example programs (links,
/// server_call, supervisor, link_chain) are run by `ExamplesTests` through the real `vm`.
@Suite(.timeLimit(.minutes(5))) struct FaultToleranceTests {
    static let workerCounts = [1, 2, 4]

    /// Seeded interleavings: workers that return, crash, exit with a reason or get killed at
    /// random moments, some monitors dropped at random. Every kept monitor delivers exactly one
    /// `{:DOWN, ...}` with the right reason, and a dropped one none.
    @Test(arguments: workerCounts)
    func everyMonitorFiresExactlyOnce(workers: Int) throws {
        for seed in 1...6 as ClosedRange<UInt64> {
            var random = SeededRandom(seed: seed &* 7919 &+ UInt64(workers))
            let count = 60
            // Per worker: how it ends (0 returns, 1 crashes, 2 exits with :custom, 3 killed by
            // main), how long it works first, and whether main drops the monitor.
            var plan: [String] = []
            var expected: [String: Int] = ["normal": 0, "division_by_zero": 0, "custom": 0, "killed": 0]
            var kept = 0
            for _ in 0..<count {
                let ending = Int.random(in: 0..<4, using: &random)
                let work = Int.random(in: 0..<400, using: &random)
                let drop = Int.random(in: 0..<5, using: &random) == 0
                plan.append("{\(ending), \(work), \(drop)}")
                if !drop {
                    kept += 1
                    expected[["normal", "division_by_zero", "custom", "killed"][ending]]! += 1
                }
            }
            let source = """
            func worker/2                  ; worker(ending, work)
                load   r2, 0
            spin:
                jge    r2, r1, done
                add    r2, r2, 1
                jmp    spin
            done:
                jeq    r0, 1, crash
                jeq    r0, 2, custom
                jeq    r0, 3, wait
                ret    r0
            crash:
                div    r3, r0, 0
                ret    r3
            custom:
                load   r3, :custom
                exit   r3
            wait:
                recv   r3
                ret    r3
            end

            func main/0
                load   r0, {\(plan.joined(separator: ", "))}
                len    r1, r0
                load   r2, 0
                array  r3, r4, 0           ; refs to wait for
                load   r20, :kill
            start:
                jge    r2, r1, collect
                get    r5, r0, r2
                get    r6, r5, 0
                get    r7, r5, 1
                spawnmon r8, worker, r6
                get    r9, r8, 0
                get    r10, r8, 1
                get    r11, r5, 2
                jt     r11, drop
                push   r3, r10
                jne    r6, 3, next
                exit   r9, r20
                jmp    next
            drop:
                demonitor r10
                jne    r6, 3, next
                exit   r9, r20
            next:
                add    r2, r2, 1
                jmp    start
            collect:                       ; one DOWN per kept monitor, then nothing more
                len    r12, r3
                load   r13, 0
            loop:
                jge    r13, r12, quiet
                recv   r14
                get    r15, r14, 3
                typeof r16, r15
                jne    r16, :tuple, plain
                get    r15, r15, 1         ; {:error, kind, ...}: the kind
            plain:
                print  r15
                add    r13, r13, 1
                jmp    loop
            quiet:
                recv   r17, 100, end
                print  r17
            end:
                ret    r13
            end
            """
            let r = try runProgram(source, workers: workers)
            #expect(r.status.hasReturned, "seed \(seed): \(r.status)")
            var seen: [String: Int] = ["normal": 0, "division_by_zero": 0, "custom": 0, "killed": 0]
            for line in r.output.split(separator: "\n") {
                let name = line.hasPrefix(":") ? String(line.dropFirst()) : String(line)
                seen[name, default: 0] += 1
            }
            #expect(seen == expected, "seed \(seed) at \(workers) workers: kept \(kept)\n\(r.output)")
        }
    }

    /// A link carries a crash to a process that does not trap exits (it dies with the same
    /// reason), and `unlink` stops it.
    @Test(arguments: workerCounts)
    func linksPropagateAndUnlinkStops(workers: Int) throws {
        let r = try runProgram("""
        func crash_after/1         ; crash_after(ms)
            sleep  r0
            div    r1, r0, 0
            ret    r1
        end
        func middle/1              ; middle(unlink?): links to a crasher, maybe unlinks, waits
            load   r1, 20
            spawnlink r2, crash_after, r1
            monitor r5, r2         ; its DOWN comes after its exit signal (links go first)
            jf     r0, wait
            unlink r2
        wait:
            load   r6, :DOWN
            recvtag r3, r6         ; still alive after the crasher's end: the link was gone
            load   r4, :survived
            exit   r4
        end
        func main/0
            load   r0, false
            spawnmon r1, middle, r0
            recv   r2
            get    r3, r2, 3
            get    r4, r3, 1
            print  r4               ; the middle process died of the crasher's error
            load   r0, true
            spawnmon r1, middle, r0
            recv   r2
            get    r3, r2, 3
            print  r3               ; unlinked: it lived on
            ret    r3
        end
        """, workers: workers)
        #expect(r.output == ":division_by_zero\n:survived\n", "\(r.output) \(r.errors)")
    }

    /// Signals and messages from one sender arrive in the order sent: messages sent before an
    /// exit signal are all received before the `{:EXIT, ...}`.
    @Test(arguments: workerCounts)
    func signalsKeepTheirOrderWithMessages(workers: Int) throws {
        let r = try runProgram("""
        func sender/1              ; sender(target): 1000 messages, then an exit signal
            load   r1, 0
        loop:
            send   r0, r1
            add    r1, r1, 1
            jlt    r1, 1000, loop
            load   r2, :stop
            exit   r0, r2
            ret    r2
        end
        func main/0
            load   r0, true
            trapexit r0
            self   r0
            spawn  r1, sender, r0
            load   r2, 0
        loop:
            recv   r3
            typeof r4, r3
            jeq    r4, :tuple, exit
            jne    r3, r2, wrong
            add    r2, r2, 1
            jmp    loop
        exit:
            print  r2
            get    r5, r3, 2
            print  r5
            ret    r5
        wrong:
            raise  r3
        end
        """, workers: workers)
        #expect(r.output == "1000\n:stop\n", "\(r.output) \(r.errors)")
    }

    /// A runaway allocator ends with a `heap_limit` reason that its monitor sees, while an
    /// unrelated ping-pong pair keeps going; the VM goes on.
    @Test(arguments: workerCounts)
    func heapLimitEndsTheProcessNotTheVM(workers: Int) throws {
        let r = try runProgram("""
        func hog/0                 ; keeps everything it allocates
            array  r0, r1, 0
        loop:
            load   r2, "sixteen bytes!!!"
            concat r2, r2, r2
            concat r2, r2, r2
            push   r0, r2
            jmp    loop
        end
        func ponger/0              ; {from, n} -> {:pong, n}
            recv   r0
            get    r1, r0, 0
            load   r2, :pong
            get    r3, r0, 1
            tuple  r4, r2, 2
            send   r1, r4
            tailcall ponger
        end
        func main/0
            spawnmon r0, hog, r0
            spawn  r1, ponger, r0
            self   r2
            load   r3, 0
            load   r9, :pong
        ping:
            tuple  r4, r2, 2
            send   r1, r4
            recvtag r3, r9
            get    r3, r3, 1
            add    r3, r3, 1
            jlt    r3, 5000, ping
            load   r10, :DOWN
            recvtag r5, r10        ; {:DOWN, ref, hog, {:error, :heap_limit, ...}}
            get    r6, r5, 3
            get    r7, r6, 1
            print  r7
            print  r3
            ret    r3
        end
        """, workers: workers, maxHeapBytes: 4 << 20)
        #expect(r.output == ":heap_limit\n5000\n", "\(r.output) \(r.errors)")
        #expect(r.errors.contains("heap limit reached"))
    }

    /// `maxheap` lowers one process's limit: it fails where the VM's limit would let it go on.
    @Test func aProcessCanLowerItsOwnHeapLimit() throws {
        let r = try runProgram("""
        func grow/1                ; keeps 1,000 strings of 1 KiB
            maxheap r0
            array  r1, r2, 0
            load   r3, 0
            load   r4, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            concat r4, r4, r4
            concat r4, r4, r4
            concat r4, r4, r4
            concat r4, r4, r4
        loop:
            concat r5, r4, r4
            push   r1, r5
            add    r3, r3, 1
            jlt    r3, 1000, loop
            ret    r3
        end
        func main/0
            load   r0, 65536
            spawnmon r1, grow, r0      ; 64 KiB: too little
            load   r2, nil
            spawnmon r3, grow, r2      ; the VM's limit: enough
            recv   r4
            recv   r5
            get    r6, r4, 3
            get    r7, r5, 3
            print  r6
            print  r7
            ret    r7
        end
        """, maxHeapBytes: 64 << 20)
        let lines = r.output.split(separator: "\n").map(String.init).sorted()
        #expect(lines.count == 2 && lines[0] == ":normal" && lines[1].contains(":heap_limit"), "\(r.output)")
    }

    /// A process flooded with messages it does not take (here it sleeps) ends with
    /// `mailbox_limit` once its queue passes the limit, instead of growing without bound.
    @Test(arguments: workerCounts)
    func floodedMailboxEndsTheProcess(workers: Int) throws {
        let r = try runProgram("""
        func sleeper/0
            sleep  600000
            ret    r0
        end
        func flooder/1             ; flooder(target): sends forever
            load   r1, :spam
        loop:
            send   r0, r1
            jmp    loop
        end
        func main/0
            spawnmon r0, sleeper, r0
            get    r1, r0, 0
            spawn  r2, flooder, r1
            load   r3, :DOWN
            recvtag r4, r3
            get    r5, r4, 3
            get    r6, r5, 1
            print  r6
            load   r7, :kill
            exit   r2, r7
            ret    r6
        end
        """, workers: workers, maxHeapBytes: 1 << 20)
        #expect(r.output == ":mailbox_limit\n", "\(r.output) \(r.errors)")
    }

    /// Spawning past the process limit is a catchable `system_limit` error of the spawner,
    /// reported once however many processes hit it.
    @Test func processLimitIsAnErrorOfTheSpawner() throws {
        let r = try runProgram("""
        func idle/0
            recv   r0
            ret    r0
        end
        func spawner/0             ; spawns until the limit, then fails
        loop:
            spawn  r0, idle, r0
            jmp    loop
        end
        func main/0
            try    r0, caught
            load   r3, 0
        more:                      ; 20 spawners that all fail the same way, monitored
            spawnmon r4, spawner, r4
            add    r3, r3, 1
            jlt    r3, 20, more
        loop:
            spawn  r1, idle, r1
            jmp    loop
        caught:
            get    r2, r0, 1
            print  r2
            load   r5, 0
        down:                      ; every spawner (r3 of them) has failed once its DOWN is here
            recv   r6
            add    r5, r5, 1
            jlt    r5, r3, down
            ret    r2
        end
        """, workers: 1, maxProcesses: 100)  // one worker: main spawns all 20 before any runs
        #expect(r.output == ":system_limit\n")
        // One full report; the repeats summarised.
        let reports = r.errors.components(separatedBy: "error in process").count - 1
        #expect(reports == 1, "\(r.errors)")
        #expect(r.errors.contains("failed the same way"), "\(r.errors)")
    }

    /// `try` regions: nesting, unwinding through calls, `ret` leaving a region, and a stack trace
    /// in the report of an uncaught error.
    @Test func catchUnwindsFramesAndNests() throws {
        let r = try runProgram("""
        func fail_deep/1           ; recurses r0 times, then fails
            jeq    r0, 0, fail
            sub    r0, r0, 1
            call   r1, fail_deep, r0
            ret    r1
        fail:
            load   r2, {:oops, 1}
            raise  r2
        end
        func guarded/0             ; its try region ends with its return
            try    r0, caught
            load   r1, 1
            endtry
            ret    r1
        caught:
            ret    r0
        end
        func main/0
            try    r0, outer
            load   r1, 50
            try    r2, inner
            call   r3, fail_deep, r1
            endtry
        inner:
            get    r4, r2, 2        ; the raised value itself
            print  r4
            call   r5, guarded, r1
            print  r5
            load   r6, 5
            call   r7, fail_deep, r6   ; no inner region now: the outer one catches
            endtry
        outer:
            get    r8, r0, 3
            print  r8               ; the function that raised
            load   r9, 3
            call   r10, fail_deep, r9  ; uncaught: the process ends with a stack trace
            ret    r10
        end
        """)
        #expect(r.output == "{:oops, 1}\n1\nfail_deep/1\n", "\(r.output)")
        guard case .failed(let error) = r.status else { Issue.record("\(r.status)"); return }
        let report = error.description
        #expect(report.contains("in function fail_deep/1"))
        #expect(report.contains("called from fail_deep/1 line 4 (and 2 more frames like it)"), "\(report)")
        #expect(report.contains("called from main/0"), "\(report)")
    }

    /// The registry frees a name when its process ends; a taken name or a dead pid is an error
    /// value.
    @Test(arguments: workerCounts)
    func registryNamesDieWithTheirProcess(workers: Int) throws {
        let r = try runProgram("""
        func named/0
            recv   r0
            ret    r0
        end
        func main/0
            spawnmon r0, named, r0
            get    r1, r0, 0
            load   r2, :service
            register r3, r2, r1
            print  r3
            self   r4
            register r3, r2, r4
            print  r3               ; the name is taken
            load   r5, :bye
            send   r2, r5           ; by name
            recv   r6               ; DOWN: the process ended
            whereis r7, r2
            print  r7               ; nil: the name is free again
            register r3, r2, r1
            print  r3               ; a dead pid cannot take a name
            register r3, r2, r4
            print  r3
            unregister r8, r2
            print  r8
            ret    r8
        end
        """, workers: workers)
        #expect(r.output == ":ok\n{:error, :name_taken}\nnil\n{:error, :noproc}\n:ok\ntrue\n", "\(r.output)")
    }

    /// A selective receive's timeout is a deadline: arrivals that do not match do not restart
    /// it. Main waits 100 ms for a message that never comes while another process sends it an
    /// unrelated message every 5 ms, 1,000 times. With the deadline, main times out after a
    /// small part of those; were the timeout restarted by each arrival, it could only time out
    /// after the last one.
    @Test(arguments: workerCounts)
    func selectiveReceiveKeepsItsDeadline(workers: Int) throws {
        let r = try runProgram("""
        func noise/1
            load   r1, :noise
            load   r2, 0
        loop:
            send   r0, r1
            sleep  5
            add    r2, r2, 1
            jlt    r2, 1000, loop
            ret    r2
        end
        func main/0
            self   r0
            spawn  r1, noise, r0
            load   r2, :never
            recvtag r4, r2, 100, timeout
            ret    r4
        timeout:
            load   r5, 0
        count:
            recv   r6, 0, counted
            add    r5, r5, 1
            jmp    count
        counted:
            load   r9, 1000
            lt     r7, r5, r9
            print  r7
            load   r8, :kill
            exit   r1, r8
            ret    r7
        end
        """, workers: workers)
        #expect(r.output == "true\n", "\(r.output)")
    }
}
