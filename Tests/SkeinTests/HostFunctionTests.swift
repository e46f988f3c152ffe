import Foundation
import Testing
@testable import Skein

@Suite(.timeLimit(.minutes(5))) struct HostFunctionTests {
    static func vm(_ source: String, workers: Int, running: Int? = nil, output: Capture,
                   functions: [String: HostFunction]) throws -> VM {
        var options = VM.Options(workers: workers, output: output.sink, errors: Capture().sink)
        options.runningWorkers = running
        options.hostFunctions = functions
        return try VM(module: try Assembler.assemble(source, file: "host.ska"), options: options)
    }

    @Test func hostFunctionsTakeAndReturnTerms() throws {
        let out = Capture()
        let vm = try Self.vm("""
        func main/0
            load     r0, {:point, 3, "x"}
            load     r1, 4
            callhost r2, "describe", r0, 2
            print    r2
            ret      r2
        end
        """, workers: 1, output: out, functions: [
            "describe": HostFunction(arity: 2) { args in .tuple([.atom("got"), args[0], .int(Int64(args.count))]) },
        ])
        #expect(vm.runMain().hasReturned)
        vm.shutdown()
        #expect(out.value == "{:got, {:point, 3, \"x\"}, 2}\n")
    }

    @Test func unknownHostFunctionIsALoadError() {
        #expect(throws: LoadError.self) {
            _ = try Self.vm("func main/0\n    callhost r0, \"nope\", r0, 0\n    ret r0\nend\n", workers: 1, output: Capture(), functions: [:])
        }
    }

    @Test func aThrowingHostFunctionFailsOnlyItsProcess() throws {
        struct Boom: Error {}
        let out = Capture()
        let vm = try Self.vm("""
        func bad/0
            callhost r0, "boom", r0, 0
            ret      r0
        end
        func main/0
            spawn r0, bad
            sleep 10
            load  r1, :alive
            print r1
            ret   r1
        end
        """, workers: 2, output: out, functions: ["boom": HostFunction(arity: 0) { _ in throw Boom() }])
        #expect(vm.runMain().hasReturned)
        vm.shutdown()
        #expect(out.value == ":alive\n")
    }

    /// A process woken into the next slot of a worker that then blocks in a long native call is
    /// run by another worker meanwhile, not after the call returns.
    @Test func nextSlotOfABlockedWorkerIsRunElsewhere() throws {
        for _ in 0..<5 {
            let out = Capture()
            let vm = try Self.vm("""
            func waiter/1                 ; waiter(main): woken by a send, reports at once
                recv  r1
                load  r2, :waiter_ran
                print r2
                send  r0, r2
                ret   r2
            end
            func main/0
                self     r0
                spawn    r1, waiter, r0
                sleep    20               ; the waiter is now suspended in recv
                load     r5, 0            ; spin a little so the other worker is parked again
                load     r6, 300_000
            spin:
                add      r5, r5, 1
                jlt      r5, r6, spin
                send     r1, r0           ; wakes it into this worker's next slot ...
                callhost r2, "block", r0, 0   ; ... and this worker blocks for 500 ms
                load     r3, :block_returned
                print    r3
                recv     r4
                ret      r4
            end
            """, workers: 2, output: out, functions: [
                "block": HostFunction(arity: 0) { _ in usleep(500_000); return .nil },
            ])
            #expect(vm.runMain().hasReturned)
            vm.shutdown()
            #expect(out.value == ":waiter_ran\n:block_returned\n")
        }
    }

    /// With one worker running processes and two standing by, a process blocked in a host
    /// function lends its core: the one that releases it runs meanwhile (without the lending,
    /// the only running worker would wait for itself), and each later blocked call does the
    /// same, however many come.
    @Test func aBlockedWorkerLendsItsCoreToAStandingByOne() throws {
        let out = Capture()
        let gate = Locked(0)
        let vm = try Self.vm("""
        func releaser/1               ; releaser(n): opens the gate n times, one per round
            load     r1, 0
        more:
            callhost r2, "open", r1, 0
            add      r1, r1, 1
            jlt      r1, r0, more
            ret      r1
        end
        func main/0
            load     r0, 20
            spawn    r1, releaser, r0
            load     r2, 0
        round:                        ; waits for the releaser 20 times, blocked in the host
            callhost r3, "wait", r2, 0
            jne      r3, :ok, stuck
            add      r2, r2, 1
            jlt      r2, r0, round
            print    r2
            ret      r2
        stuck:
            print    r3
            ret      r3
        end
        """, workers: 3, running: 1, output: out, functions: [
            "open": HostFunction(arity: 0) { _ in gate.withLock { $0 += 1 }; return .nil },
            "wait": HostFunction(arity: 0) { _ in
                // Gives up after 10 s, so a missing lend fails the test instead of hanging it.
                for _ in 0..<100_000 {
                    let opened = gate.withLock { count -> Bool in
                        guard count > 0 else { return false }
                        count -= 1
                        return true
                    }
                    if opened { return .atom("ok") }
                    usleep(100)
                }
                return .atom("stuck")
            },
        ])
        #expect(vm.runMain().hasReturned)
        vm.shutdown()
        #expect(out.value == "20\n")
    }

    /// A host function is told which process called it.
    @Test func hostFunctionsKnowTheirCaller() throws {
        let out = Capture()
        let vm = try Self.vm("""
        func main/0
            self     r0
            callhost r1, "whoami", r0, 1
            print    r1
            ret      r1
        end
        """, workers: 1, output: out, functions: [
            "whoami": HostFunction(arity: 1) { call, args in .bool(call.caller == args[0] && call.name == "whoami") },
        ])
        #expect(vm.runMain() == .returned(.bool(true)))
        vm.shutdown()
    }

    /// An async host function suspends its caller, not the worker: with one worker, 50
    /// processes each wait in a host function that only returns once all 50 have called it.
    /// Were the worker blocked by the first call, the others could never call and the run would
    /// hang; a thrown error is a runtime error of the caller.
    @Test func asyncHostFunctionsSuspendTheCallerNotTheWorker() throws {
        let arrived = Locked(0)
        let allArrived = AsyncGate()
        let out = Capture()
        let vm = try Self.vm("""
        func waiter/2
            callhost r2, "rendezvous", r1, 1
            send     r0, r2
            ret      r2
        end
        func main/0
            self  r0
            load  r1, 0
        spawn_next:
            spawn r2, waiter, r0
            add   r1, r1, 1
            jlt   r1, 50, spawn_next
            load  r1, 0
            load  r3, 0
        collect:
            recv  r4
            add   r3, r3, r4
            add   r1, r1, 1
            jlt   r1, 50, collect
            load  r4, :boom
            callhost r5, "rendezvous", r4, 1
            ret   r3
        end
        """, workers: 1, output: out, functions: [
            "rendezvous": HostFunction(arity: 1) { _, args in
                guard case .int(let n) = args[0] else { throw HostSideError() }
                if arrived.withLock({ $0 += 1; return $0 }) == 50 { await allArrived.open() }
                await allArrived.wait()
                return .int(n * 2)
            },
        ])
        let status = vm.runMain()
        vm.shutdown()
        guard case .failed(let error) = status else { Issue.record("\(status)"); return }
        #expect(error.kind == .raised && error.detail.contains("HostSideError"), "\(error)")
        #expect(arrived.withLock { $0 } == 50)
    }

    /// A kill reaches a process waiting in an async host function at once: the process ends
    /// `:killed` (its monitor sees it), the function's task is cancelled, and its result is
    /// dropped. Without the interruption the function would sleep for an hour and the test
    /// would end at its time limit.
    @Test(arguments: [1, 2])
    func aKillInterruptsAnAsyncHostFunction(workers: Int) async throws {
        let started = Locked(false), cancelled = Locked(false)
        let vm = try Self.vm("""
        func caller/0
            callhost r0, "hang", r0, 0
            ret      r0
        end
        func main/0
            spawnmon r0, caller, r0
            get      r1, r0, 0
        until_started:                 ; (polls: a blocking wait would hold the only worker)
            sleep    1
            callhost r2, "hasStarted", r0, 0
            jf       r2, until_started
            load     r3, :kill
            exit     r1, r3
            recv     r4
            get      r5, r4, 3
            ret      r5
        end
        """, workers: workers, output: Capture(), functions: [
            "hang": HostFunction(arity: 0) { _, _ in
                started.withLock { $0 = true }
                do { try await Task.sleep(for: .seconds(3600)) } catch { cancelled.withLock { $0 = true } }
                return .atom("too_late")
            },
            "hasStarted": HostFunction(arity: 0) { _ in .bool(started.withLock { $0 }) },
        ])
        // Awaited, so that no thread of the cooperative pool (where "hang" runs) is blocked.
        let status = await vm.run()
        vm.shutdown()
        #expect(status == .returned(.atom("killed")))
        for _ in 0..<1000 where !cancelled.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        #expect(cancelled.withLock { $0 }, "the host function's task was not cancelled")
    }
}

/// The error the test's host function throws.
struct HostSideError: Error {}

/// A gate tasks wait at until it is opened.
actor AsyncGate {
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    func open() {
        isOpen = true
        waiting.forEach { $0.resume() }
        waiting.removeAll()
    }
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }
}
