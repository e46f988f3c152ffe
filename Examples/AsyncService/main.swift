// A Swift-concurrency service: programs awaited side by side, an async host function, and a
// host mailbox read as an async sequence. No thread is blocked anywhere: `await vm.run()`,
// the host function and `for await` all suspend their tasks.
//
//   swift run async-service
//
// `fetch` stands for a network call: it sleeps 50 ms and answers n * n. Eight programs that
// each fetch once are awaited at once (about 50 ms in all, not 400), then eight processes of
// one VM fetch and report to the service's mailbox. Exits 0 when every answer is right.
import Foundation
import Skein

let program = """
func main/1                      ; main([n]): fetch(n)
    geti     r1, r0, 0
    toint    r1, r1
    callhost r2, "fetch", r1, 1
    ret      r2
end

func job/2                       ; job(reply_to, n): sends {n, fetch(n)}
    callhost r2, "fetch", r1, 1
    tuple    r3, r1, 2
    send     r0, r3
    ret      r2
end
"""

/// A VM of the program whose `fetch` awaits like a network call.
func makeVM() throws -> VM {
    var options = VM.Options(workers: 2)
    options.hostFunctions["fetch"] = HostFunction(arity: 1) { call, args in
        guard case .int(let n) = args[0] else { throw CocoaError(.coderInvalidValue) }
        try await Task.sleep(for: .milliseconds(50))   // the caller is suspended, not its worker
        return .int(n * n)
    }
    return try VM(module: try Assembler.assemble(program, file: "service.ska"), options: options)
}

@main
struct AsyncService {
    static func main() async throws {
        // Eight programs, awaited side by side.
        let clock = ContinuousClock(), start = clock.now
        let squares = try await withThrowingTaskGroup(of: (Int64, VM.ExitStatus).self) { group in
            for n in 1...8 as ClosedRange<Int64> {
                let vm = try makeVM()
                group.addTask {
                    defer { vm.shutdown() }
                    return (n, await vm.run(arguments: ["\(n)"]))
                }
            }
            var right = 0
            for try await (n, status) in group where status == .returned(.int(n * n)) { right += 1 }
            return right
        }
        print("\(squares) of 8 programs answered, in \((clock.now - start).formatted(.units(allowed: [.milliseconds])))")

        // Eight processes of one VM report to a mailbox, read as an async sequence.
        let vm = try makeVM()
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        for n in 1...8 as ClosedRange<Int64> { _ = try vm.spawn("job", [inbox.pid, .int(n)]) }
        var reports = 0
        for await message in inbox.messages {
            if case .tuple(let items) = message, case .int(let n) = items[0], items[1] == .int(n * n) { reports += 1 }
            if reports == 8 { break }
        }
        print("\(reports) of 8 reports arrived")
        exit(squares == 8 && reports == 8 ? 0 : 1)
    }
}
