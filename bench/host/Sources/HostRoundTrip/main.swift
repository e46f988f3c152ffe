// Measures round trips between a host and a server it talks to, three ways, in one process:
// 1. Skein: a host mailbox sends {from, n} to a Skein process that replies n + 1 (send + receive);
// 2. Skein: VM.call on a gen_server-style process (a fresh mailbox, monitor and ref per call);
// 3. Swift: a host thread (not a task) asks an actor and blocks for the answer, as a host
//    thread does with a Skein mailbox: a task per request, a semaphore for the reply;
// 4. Swift: `await counter.increment(n)` from a task (no thread blocks; the actor's executor is
//    free, so the call runs inline: an upper bound, not a cross-thread round trip).
// Each prints `name round_trips_per_second` after ROUNDS round trips (default 200,000).
import Foundation
import Skein

let rounds = Int(ProcessInfo.processInfo.environment["ROUNDS"] ?? "") ?? 200_000

let source = """
func echo/0
    recv  r0
    get   r1, r0, 0
    get   r2, r0, 1
    add   r2, r2, 1
    send  r1, r2
    tailcall echo
end
func server/0
    recv  r0                 ; {ref, from, request}
    get   r1, r0, 0
    get   r2, r0, 1
    get   r3, r0, 2
    add   r3, r3, 1
    move  r4, r1
    move  r5, r3
    tuple r6, r4, 2
    send  r2, r6
    tailcall server
end
func main/0
    load r0, :ok
    ret  r0
end
"""

/// Runs `body` and prints its round trips per second.
func measure(_ name: String, _ body: () throws -> Void) rethrows {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(name, Int(Double(rounds) / seconds))
}

let vm = try VM(module: try Assembler.assemble(source, file: "roundtrip.ska"), options: .init(workers: 2))
let echo = try vm.spawn("echo")
let inbox = try vm.makeMailbox()
try measure("skein_mailbox") {
    for n in 0..<rounds {
        try vm.send(echo, .tuple([inbox.pid, .int(Int64(n))]))
        guard case .int(let reply) = try inbox.receive(timeout: .seconds(5)), reply == n + 1 else { fatalError("wrong reply") }
    }
}
let server = try vm.spawn("server")
try measure("skein_call") {
    for n in 0..<rounds {
        guard case .int(let reply) = try vm.call(server, .int(Int64(n))), reply == n + 1 else { fatalError("wrong reply") }
    }
}
vm.shutdown()

/// The Swift equivalent of the echo process.
actor Counter {
    func increment(_ n: Int) -> Int { n + 1 }
}

let counter = Counter()
measure("swift_actor_from_thread") {
    let replied = DispatchSemaphore(value: 0)
    for n in 0..<rounds {
        let reply = Locked(0)
        Task.detached {
            let value = await counter.increment(n)
            reply.set(value)
            replied.signal()
        }
        replied.wait()
        if reply.get() != n + 1 { fatalError("wrong reply") }
    }
}

/// A value handed between threads under a lock.
final class Locked: @unchecked Sendable {
    private var value: Int
    private let lock = NSLock()
    init(_ value: Int) { self.value = value }
    func set(_ v: Int) { lock.withLock { value = v } }
    func get() -> Int { lock.withLock { value } }
}

let done = DispatchSemaphore(value: 0)
// Detached: top-level code is on the main actor, whose thread waits on the semaphore.
Task.detached {
    await measureAsync()
    done.signal()
}
done.wait()

func measureAsync() async {
    let start = ContinuousClock.now
    for n in 0..<rounds {
        let reply = await counter.increment(n)
        if reply != n + 1 { fatalError("wrong reply") }
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("swift_actor_await", Int(Double(rounds) / seconds))
}
