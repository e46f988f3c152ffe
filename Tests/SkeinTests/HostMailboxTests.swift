import Foundation
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
}
