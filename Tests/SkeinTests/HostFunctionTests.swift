import Foundation
import Testing
@testable import Skein

@Suite(.timeLimit(.minutes(5))) struct HostFunctionTests {
    static func vm(_ source: String, workers: Int, output: Capture, functions: [String: HostFunction]) throws -> VM {
        var options = VM.Options(workers: workers, output: output.sink, errors: Capture().sink)
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
        #expect(vm.runMain() == .returned)
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
        #expect(vm.runMain() == .returned)
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
            #expect(vm.runMain() == .returned)
            vm.shutdown()
            #expect(out.value == ":waiter_ran\n:block_returned\n")
        }
    }
}
