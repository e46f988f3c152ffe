// A job runner: spawns 1,000 worker processes and collects their results through a host
// mailbox: no semaphore, no host function, no parsing of printed output.
//
//   swift run job-runner [JOBS]
//
// Each job computes the Collatz stopping time of its number and sends `{n, steps}` to the
// host's mailbox. The runner prints the number with the longest chain and exits 0 when every
// job answered with the right result.
import Foundation
import Skein

let program = """
func job/2                       ; job(reply_to, n): sends {n, steps to reach 1}
    move   r2, r1
    load   r3, 0
step:
    jeq    r2, 1, done
    rem    r4, r2, 2
    jeq    r4, 0, even
    mul    r2, r2, 3
    add    r2, r2, 1
    jmp    next
even:
    div    r2, r2, 2
next:
    add    r3, r3, 1
    jmp    step
done:
    move   r5, r1
    move   r6, r3
    tuple  r7, r5, 2             ; {n, steps}
    send   r0, r7
    ret    r3
end

func main/0
    ret    r0
end
"""

/// The stopping time computed on the host, to check the processes' answers.
func steps(_ start: Int64) -> Int64 {
    var n = start, count: Int64 = 0
    while n != 1 { n = n % 2 == 0 ? n / 2 : 3 * n + 1; count += 1 }
    return count
}

let jobs = CommandLine.arguments.dropFirst().first.flatMap { Int64($0) } ?? 1_000
do {
    let vm = try VM(module: try Assembler.assemble(program, file: "jobs.ska"), options: VM.Options(workers: 2))
    defer { vm.shutdown() }
    let inbox = try vm.makeMailbox()
    for n in 1...jobs { _ = try vm.spawn("job", [inbox.pid, .int(n)]) }
    var longest: (n: Int64, steps: Int64) = (1, 0), wrong = 0
    for _ in 1...jobs {
        guard case .tuple(let reply) = try inbox.receive(timeout: .seconds(30)),
              case .int(let n) = reply[0], case .int(let count) = reply[1] else { wrong += 1; continue }
        if count != steps(n) { wrong += 1 }
        if count > longest.steps { longest = (n, count) }
    }
    print("\(jobs) jobs: the longest chain starts at \(longest.n) (\(longest.steps) steps); \(wrong) wrong")
    exit(wrong == 0 ? 0 : 1)
} catch {
    print("job-runner: \(error)")
    exit(1)
}
