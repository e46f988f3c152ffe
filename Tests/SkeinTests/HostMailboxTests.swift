import Foundation
import Synchronization
import Testing
@testable import Skein

/// The host as a participant: host mailboxes, calls, awaiting a process's end, kill.
@Suite(.timeLimit(.minutes(2))) struct HostMailboxTests {
    static let program = """
    func square/2                  ; square(reply_to, n): sends {:result, n * n}
        mul    r2, r1, r1
        load   r3, :result
        move   r4, r2
        tuple  r5, r3, 2
        send   r0, r5
        ret    r2
    end

    func counter/1                 ; {ref, from, :get | {:add, k} | :crash} -> {ref, reply}
        recv   r1
        get    r2, r1, 0
        get    r3, r1, 1
        get    r4, r1, 2
        jeq    r4, :get, get
        jeq    r4, :crash, crash
        get    r5, r4, 1
        add    r0, r0, r5
        load   r6, :ok
        jmp    answer
    get:
        move   r6, r0
    answer:
        move   r5, r2
        tuple  r7, r5, 2
        send   r3, r7
        tailcall counter, r0
    crash:
        div    r8, r0, 0
        ret    r8
    end

    func silent/0
        recv   r0
        tailcall silent
    end

    func quits/0                   ; ends with the reason it receives
        recv   r0
        exit   r0
    end

    func watcher/1                 ; watcher(target): monitors it, says so, reports the DOWN reason
        recv   r1                  ; the host mailbox to report to
        monitor r2, r0
        load   r5, :monitoring
        send   r1, r5
        recv   r3
        get    r4, r3, 3
        send   r1, r4
        ret    r4
    end

    func main/0
        ret    r0
    end
    """

    static func makeVM(workers: Int) throws -> VM {
        let module = try Assembler.assemble(program, file: "host.ska")
        let err = Capture()
        return try VM(module: module, options: .init(workers: workers, errors: err.sink))
    }

    /// A job runner: 1,000 processes send their results to one host mailbox; the host collects
    /// them all with no semaphore of its own.
    @Test(arguments: [1, 2, 4])
    func collectsResultsFromManyProcesses(workers: Int) throws {
        let vm = try Self.makeVM(workers: workers)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        var expected: Int64 = 0
        for n in 1...1000 as ClosedRange<Int64> {
            _ = try vm.spawn("square", [inbox.pid, .int(n)])
            expected += n * n
        }
        var sum: Int64 = 0
        for _ in 0..<1000 {
            guard case .tuple(let items) = try inbox.receive(timeout: .seconds(30)), case .int(let v) = items[1] else {
                Issue.record("unexpected message"); return
            }
            sum += v
        }
        #expect(sum == expected)
        #expect(throws: HostError.timeout) { try inbox.receive(timeout: .milliseconds(20)) }
    }

    /// `call` gets replies, reports a crashed or dead server with its exit reason, and times out
    /// on a silent one.
    @Test func callRepliesFailsAndTimesOut() throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let server = try vm.spawn("counter", [.int(0)])
        #expect(try vm.call(server, .tuple([.atom("add"), .int(5)])) == .atom("ok"))
        #expect(try vm.call(server, .atom("get")) == .int(5))
        do {
            _ = try vm.call(server, .atom("crash"))
            Issue.record("a call to a crashing server returned")
        } catch {
            guard case .processEnded(.tuple(let reason)) = error else { Issue.record("\(error)"); return }
            #expect(reason[1] == .atom("division_by_zero"))
        }
        #expect(throws: HostError.processEnded(reason: .atom("noproc"))) { try vm.call(server, .atom("get")) }
        let silent = try vm.spawn("silent")
        #expect(throws: HostError.timeout) { try vm.call(silent, .atom("get"), timeout: .milliseconds(50)) }
    }

    /// `awaitExit` returns a process's exit reason; `kill` ends a process that does not trap.
    @Test func awaitExitAndKill() throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let quitter = try vm.spawn("quits")
        let watcher = try vm.makeMailbox()
        let watch = try watcher.monitor(quitter)
        try vm.send(quitter, .tuple([.atom("done"), .int(7)]))
        #expect(try watcher.receive(timeout: .seconds(10)) == .tuple([.atom("DOWN"), watch, quitter, .tuple([.atom("done"), .int(7)])]))
        #expect(try vm.awaitExit(quitter, timeout: .seconds(10)) == .atom("noproc"))
        let silent = try vm.spawn("silent")
        let inbox = try vm.makeMailbox()
        let ref = try inbox.monitor(silent)
        try vm.kill(silent)
        #expect(try inbox.receive(timeout: .seconds(10)) == .tuple([.atom("DOWN"), ref, silent, .atom("killed")]))
    }

    /// A process monitoring a host mailbox sees it end with `:normal` when it is closed.
    @Test func closingAMailboxIsSeenByItsMonitors() throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let watched = try vm.makeMailbox()
        let report = try vm.makeMailbox()
        let watcher = try vm.spawn("watcher", [watched.pid])
        try vm.send(watcher, report.pid)
        #expect(try report.receive(timeout: .seconds(10)) == .atom("monitoring"))  // the monitor is in place
        watched.close()
        #expect(try report.receive(timeout: .seconds(10)) == .atom("normal"))
        #expect(throws: HostError.closed) { try watched.receive(timeout: .milliseconds(1)) }
    }

    /// Seeded races between senders and a receiver whose timeouts are short: every message is
    /// received exactly once, whichever of the sender's wake and the receiver's timeout wins.
    @Test func sendersRacingReceiveTimeoutsLoseNothing() throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        var random = SeededRandom(seed: 42)
        let senders = 4, perSender = 2_000
        let pauses = (0..<senders).map { _ in (0..<perSender).map { _ in Int.random(in: 0..<20, using: &random) } }
        let threads = (0..<senders).map { s in
            Thread {
                for i in 0..<perSender {
                    if pauses[s][i] == 0 { usleep(50) }
                    try? vm.send(inbox.pid, .tuple([.int(Int64(s)), .int(Int64(i))]))
                }
            }
        }
        threads.forEach { $0.start() }
        var next = [Int64](repeating: 0, count: senders)
        var received = 0, timeouts = 0
        while received < senders * perSender {
            let message: Term
            do {
                message = try inbox.receive(timeout: .microseconds(Int64.random(in: 1...200, using: &random)))
            } catch {
                #expect(error == .timeout)
                timeouts += 1
                continue
            }
            guard case .tuple(let items) = message, case .int(let s) = items[0], case .int(let i) = items[1] else {
                Issue.record("bad message \(message)"); return
            }
            #expect(i == next[Int(s)], "sender \(s) out of order")
            next[Int(s)] = i + 1
            received += 1
        }
        #expect(throws: HostError.timeout) { try inbox.receive(timeout: .milliseconds(20)) }
    }

    /// `shutdown()` makes a `runMain` blocked on another thread return, closes host mailboxes,
    /// and later calls fail with a typed error.
    @Test func shutdownEndsWaitersAndLaterCallsFail() throws {
        let module = try Assembler.assemble("""
        func main/0
            recv   r0                  ; waits forever
            ret    r0
        end
        """, file: "wait.ska")
        let vm = try VM(module: module, options: .init(workers: 2))
        let inbox = try vm.makeMailbox()
        let status = Locked<VM.ExitStatus?>(nil)
        let runner = Thread { let s = vm.runMain(); status.withLock { $0 = s } }
        runner.start()
        let receiver = Locked<HostError?>(nil)
        let waiter = Thread {
            do throws(HostError) { _ = try inbox.receive() } catch { receiver.withLock { $0 = error } }
        }
        waiter.start()
        Thread.sleep(forTimeInterval: 0.05)
        vm.shutdown()
        while !runner.isFinished || !waiter.isFinished { usleep(1000) }
        #expect(status.withLock { $0 } == .stopped)
        #expect(receiver.withLock { $0 } == .closed)
        #expect(throws: HostError.stopped) { try vm.spawn("main") }
        #expect(throws: HostError.stopped) { try vm.makeMailbox() }
    }

    /// The async form delivers like the blocking one, from a Swift task.
    @Test func asyncReceive() async throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        _ = try vm.spawn("square", [inbox.pid, .int(12)])
        let message = try await inbox.receive(timeout: .seconds(10))
        #expect(message == .tuple([.atom("result"), .int(144)]))
    }

    /// Async receivers hold no thread: 64 tasks wait on 64 mailboxes at once, more than the
    /// cooperative pool has threads (two on two cores). Had an async receive blocked a pool
    /// thread, the tasks still queued could never start and the test would hang at its time
    /// limit; had it parked a thread of its own (as it once did), the process would have
    /// gained a thread per waiter.
    @Test func asyncReceiversHoldNoThread() async throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let threadsBefore = Self.threadCount()
        let inboxes = try (0..<64).map { _ in try vm.makeMailbox() }
        let waiting = Locked(0)
        try await withThrowingTaskGroup(of: Term.self) { group in
            for inbox in inboxes {
                group.addTask {
                    waiting.withLock { $0 += 1 }
                    return try await inbox.receive(timeout: .seconds(60))
                }
            }
            while waiting.withLock({ $0 }) < inboxes.count { await Task.yield() }
            try await Task.sleep(for: .milliseconds(20))  // every task is now inside receive
            #expect(Self.threadCount() - threadsBefore < 32, "threads grew with the waiting receivers")
            for (n, inbox) in inboxes.enumerated() { _ = try vm.spawn("square", [inbox.pid, .int(Int64(n))]) }
            var squares: Set<Int64> = []
            for try await message in group {
                guard case .tuple(let items) = message, case .int(let square) = items[1] else {
                    Issue.record("bad message \(message)"); return
                }
                squares.insert(square)
            }
            #expect(squares == Set((0..<64).map { Int64($0 * $0) }))
        }
    }

    /// An async receive with a timeout ends with `.timeout` (the timeout thread wakes the task),
    /// and the mailbox still works afterwards.
    @Test func asyncReceiveTimesOut() async throws {
        let vm = try Self.makeVM(workers: 1)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        await #expect(throws: HostError.timeout) { try await inbox.receive(timeout: .milliseconds(5)) }
        _ = try vm.spawn("square", [inbox.pid, .int(3)])
        #expect(try await inbox.receive(timeout: .seconds(10)) == .tuple([.atom("result"), .int(9)]))
    }

    /// `messages` is an async sequence of everything sent, in order, that ends when the mailbox
    /// is closed by a `:kill`.
    @Test func messagesIsAnAsyncSequenceThatEndsOnClose() async throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        for n in 1...100 { try vm.send(inbox.pid, .int(Int64(n))) }
        try vm.kill(inbox.pid)
        var received: [Term] = []
        for await message in inbox.messages { received.append(message) }
        #expect(received == (1...100).map { .int(Int64($0)) })
        await #expect(throws: HostError.closed) { try await inbox.receive(timeout: .milliseconds(1)) }
    }

    /// `close()` from another task ends a receive that is waiting (with no timeout) at once.
    @Test func closeEndsAWaitingReceiver() async throws {
        let vm = try Self.makeVM(workers: 1)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        let started = Locked(false)
        let receiver = Task { () -> HostError? in
            started.withLock { $0 = true }
            do throws(HostError) { _ = try await inbox.receive() } catch { return error }
            return nil
        }
        while !started.withLock({ $0 }) { await Task.yield() }
        try await Task.sleep(for: .milliseconds(10))
        inbox.close()
        #expect(await receiver.value == .closed)
    }

    /// Closing a mailbox again after its slot went to a new mailbox leaves the new one alone:
    /// the close's wake-up goes by the old pid, not by the slot (the slot is reused at once).
    @Test func closingTwiceDoesNotWakeTheSlotsNextOwner() async throws {
        let vm = try Self.makeVM(workers: 1)
        defer { vm.shutdown() }
        let first = try vm.makeMailbox()
        first.close()
        let second = try vm.makeMailbox()
        let started = Locked(false)
        let receiver = Task { () -> Term? in
            started.withLock { $0 = true }
            return try? await second.receive(timeout: .seconds(30))
        }
        while !started.withLock({ $0 }) { await Task.yield() }
        try await Task.sleep(for: .milliseconds(20))  // the receiver waits
        first.close()
        try await Task.sleep(for: .milliseconds(20))  // a wrong wake-up would be acted on by now
        try vm.send(second.pid, .atom("hello"))
        #expect(await receiver.value == .atom("hello"))
    }

    /// A mailbox closed while senders keep waking it stays closed and its slot sound: seeded
    /// rounds of a receiver waiting with short timeouts (so the timeout thread wakes it too),
    /// two host threads sending, and a close at a random moment, the next round's mailbox
    /// taking the slot at once. A waker that looked at the mailbox after winning its wake could
    /// find it closed and schedule the freed slot as a process (found in review): a crash, or
    /// two owners of one slot. At the end a fresh mailbox still gets its message.
    @Test(arguments: [41, 42])
    func closingRacesSendersAndTimeouts(seed: UInt64) throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        var random = SeededRandom(seed: seed)
        for _ in 0..<150 {
            let inbox = try vm.makeMailbox()
            let pid = inbox.pid
            let pause = UInt32.random(in: 0..<300, using: &random)
            let done = Atomic<Bool>(false)
            let threads = (0..<3).map { role in
                Thread {
                    while !done.load(ordering: .acquiring) {
                        if role == 0 { _ = try? inbox.receive(timeout: .microseconds(100)) } else { try? vm.send(pid, .atom("x")) }
                    }
                }
            }
            for thread in threads { thread.start() }
            usleep(pause)
            inbox.close()
            done.store(true, ordering: .releasing)
            while !threads.allSatisfy({ $0.isFinished }) { usleep(100) }
        }
        let check = try vm.makeMailbox()
        try vm.send(check.pid, .int(1))
        #expect(try check.receive(timeout: .seconds(10)) == .int(1))
    }

    /// Blocking and async receivers of one mailbox are admitted one at a time, and together
    /// they receive every message exactly once.
    @Test func blockingAndAsyncReceiversShareAMailbox() async throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        let count = 2_000
        let blockingGot = Locked<[Int64]>([])
        let blocking = Thread {
            while let message = try? inbox.receive(timeout: .milliseconds(500)), case .int(let n) = message {
                blockingGot.withLock { $0.append(n) }
            }
        }
        blocking.start()
        let asyncTask = Task { () -> [Int64] in
            var got: [Int64] = []
            while let message = try? await inbox.receive(timeout: .milliseconds(500)), case .int(let n) = message { got.append(n) }
            return got
        }
        for n in 0..<count { try vm.send(inbox.pid, .int(Int64(n))) }
        let asyncGot = await asyncTask.value
        while !blocking.isFinished { try await Task.sleep(for: .milliseconds(5)) }
        let all = blockingGot.withLock { $0 } + asyncGot
        #expect(all.sorted() == (0..<Int64(count)).map { $0 })
    }

    /// The async `call` and `awaitExit` work like the blocking ones.
    @Test func asyncCallAndAwaitExit() async throws {
        let vm = try Self.makeVM(workers: 2)
        defer { vm.shutdown() }
        let counter = try vm.spawn("counter", [.int(0)])
        #expect(try await vm.call(counter, .tuple([.atom("add"), .int(5)]), timeout: .seconds(10)) == .atom("ok"))
        #expect(try await vm.call(counter, .atom("get"), timeout: .seconds(10)) == .int(5))
        await #expect(throws: HostError.self) { try await vm.call(counter, .atom("crash"), timeout: .seconds(10)) }
        // A live process is waited for (until the timeout here); one that has ended is :noproc.
        let quitter = try vm.spawn("quits")
        await #expect(throws: HostError.timeout) { try await vm.awaitExit(quitter, timeout: .milliseconds(20)) }
        let watcher = try vm.makeMailbox()
        let watch = try watcher.monitor(quitter)
        try vm.send(quitter, .atom("done"))
        #expect(try await watcher.receive(timeout: .seconds(10)) == .tuple([.atom("DOWN"), watch, quitter, .atom("done")]))
        #expect(try await vm.awaitExit(quitter, timeout: .seconds(10)) == .atom("noproc"))
    }

    /// A message nested almost as deep as values may go converts to a term in an async
    /// receive, on a thread of the cooperative pool.
    @Test func asyncReceiveOfADeepMessage() async throws {
        let module = try Assembler.assemble("""
        func main/1                    ; main(to): sends {{{...}}} nested 9,000 deep
            load   r1, 0
            load   r2, nil
        loop:
            tuple  r2, r2, 1
            add    r1, r1, 1
            jlt    r1, 9000, loop
            send   r0, r2
            ret    r1
        end
        """, file: "deep.ska")
        let vm = try VM(module: module, options: .init(workers: 1))
        defer { vm.shutdown() }
        let inbox = try vm.makeMailbox()
        _ = try vm.spawn("main", [inbox.pid])
        var term = try await inbox.receive(timeout: .seconds(30))
        var depth = 0
        while case .tuple(let items) = term, items.count == 1 {
            depth += 1
            term = items[0]
        }
        #expect(depth == 9000)
        #expect(term == .nil)
    }

    /// The threads of this test process (Linux: one entry per thread in /proc/self/task).
    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }
}
