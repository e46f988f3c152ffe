import Foundation
import Synchronization
import Testing
import CSkeinSupport
@testable import Skein

/// Seeded, many-iteration stress tests of the concurrent structures, asserting the invariants of
/// `../shared/notes/scheduler.md`. `make test-tsan` runs them under ThreadSanitizer.
///
/// A broken protocol shows as a hang (a lost wake-up leaves a thread parked for ever), so every
/// test has a time limit: `onThreads` stops waiting after `timeLimit` with a message saying
/// what hung, and the suite's trait bounds the rest. The limits are generous, because the
/// suite also runs under ThreadSanitizer, many times slower; they are not speed assertions.
@Suite(.timeLimit(.minutes(5))) struct ConcurrencyTests {
    /// Runs `body(i)` on `count` threads at once and waits for all of them, at most
    /// `timeLimit` seconds. When they do not all finish in time, records an issue naming
    /// `what` and calls `onTimeout` (which should release the threads), then returns false.
    @discardableResult
    static func onThreads(_ count: Int, timeLimit: Double = 120, what: @autoclosure () -> String = "the threads",
                          onTimeout: () -> Void = {}, sourceLocation: SourceLocation = #_sourceLocation,
                          _ body: @escaping @Sendable (Int) -> Void) -> Bool {
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let t = Thread { body(i); group.leave() }
            t.start()
        }
        guard group.wait(timeout: .now() + timeLimit) == .timedOut else { return true }
        Issue.record("\(what()) did not finish within \(Int(timeLimit)) s", sourceLocation: sourceLocation)
        onTimeout()
        return false
    }

    /// Conservation in the ring: the owner pushes and pops while thieves steal halves; every
    /// item comes out exactly once (counted per item), overflow included.
    @Test(arguments: [1, 2, 3])
    func runQueueConservesItems(seed: UInt64) {
        let queue = RunQueue()
        let global = GlobalQueue()
        let total = 200_000
        let seen = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: total + 1)
        for i in 0...total { (seen + i).initialize(to: Atomic(0)) }
        defer { seen.deallocate() }
        let done = Atomic<Bool>(false)
        let taken = Atomic<Int>(0)
        nonisolated(unsafe) let seenPointer = seen
        Self.onThreads(3) { thread in
            var random = SeededRandom(seed: seed &* 31 &+ UInt64(thread))
            if thread == 0 {
                var next = 1
                while next <= total {
                    if Int.random(in: 0..<4, using: &random) > 0 {
                        queue.push(UInt(next), overflow: global)
                        next += 1
                    } else if let item = queue.pop() {
                        seenPointer[Int(item)].add(1, ordering: .relaxed)
                        taken.add(1, ordering: .relaxed)
                    }
                }
                while let item = queue.pop() {
                    seenPointer[Int(item)].add(1, ordering: .relaxed)
                    taken.add(1, ordering: .relaxed)
                }
                done.store(true, ordering: .releasing)
            } else {
                var batch: [UInt] = []
                while !done.load(ordering: .acquiring) || queue.count > 0 {
                    batch.removeAll(keepingCapacity: true)
                    _ = queue.stealHalf(into: &batch)
                    for item in batch { seenPointer[Int(item)].add(1, ordering: .relaxed) }
                    taken.add(batch.count, ordering: .relaxed)
                }
            }
        }
        var overflow: [UInt] = []
        global.pop(max: .max, into: &overflow)
        for item in overflow { seen[Int(item)].add(1, ordering: .relaxed) }
        for i in 1...total { #expect(seen[i].load(ordering: .relaxed) == 1, "item \(i)") }
        #expect(taken.load(ordering: .relaxed) + overflow.count == total)
    }

    /// Exactly-once wake: for each suspension, a sender, the timeout thread and an IO
    /// completion race to wake it; exactly one CAS wins.
    /// `ProcessState.status` decodes its two bits by position, not through `Status(rawValue:)`:
    /// each status must come back out of every word that holds it.
    @Test func everyStatusSurvivesItsWord() {
        for (index, status) in ProcessState.Status.allCases.enumerated() {
            #expect(Int(status.rawValue) == index, "\(status) is not numbered in declaration order")
            for generation: UInt64 in [0, 1, 77, 1 << 50] {
                for timedOut in [false, true] {
                    let word = ProcessState(status, generation: generation, timedOut: timedOut)
                    #expect(word.status == status && word.generation == generation && word.timedOut == timedOut)
                }
            }
        }
    }

    @Test func stateWordWakesExactlyOnce() {
        final class Box: @unchecked Sendable { let state = ProcessStateWord() }
        let box = Box()
        let rounds = 5_000
        let wins = Atomic<Int>(0)
        let round = Atomic<Int>(0)
        let arrived = Atomic<Int>(0)
        let current = Locked(ProcessState(raw: 0))
        Self.onThreads(4) { thread in
            for r in 0..<rounds {
                if thread == 0 {
                    current.withLock { $0 = box.state.suspend(.waiting) }
                    round.store(r + 1, ordering: .releasing)
                }
                while round.load(ordering: .acquiring) < r + 1 { sched_yield() }
                if thread > 0 {
                    let s = current.withLock { $0 }
                    if box.state.wake(from: s, timedOut: thread == 2) { wins.add(1, ordering: .relaxed) }
                }
                // Barrier: all four threads finish round r before the next suspension.
                arrived.add(1, ordering: .acquiringAndReleasing)
                while arrived.load(ordering: .acquiring) < 4 * (r + 1) { sched_yield() }
            }
        }
        #expect(wins.load(ordering: .relaxed) == rounds)
    }

    /// A stale timeout can never wake a later suspension (generation check).
    @Test func staleTimeoutCannotWakeALaterSuspension() {
        let state = ProcessStateWord()
        let first = state.suspend(.waiting)
        let wokeFirst = state.wake(from: first, timedOut: false)
        #expect(wokeFirst)
        let second = state.suspend(.waiting)
        let staleWoke = state.wake(from: first, timedOut: true)   // the old entry is stale
        #expect(!staleWoke)
        let wokeSecond = state.wake(from: second, timedOut: true)
        #expect(wokeSecond)
        let timedOut = state.load().timedOut
        #expect(timedOut)
    }

    /// No lost wake-up in the parking protocol: producers publish items and notify; workers
    /// take items or park. If a wake-up were lost, an item would stay queued with every worker
    /// asleep: the test then fails at its time limit (it finishes only when every item is
    /// consumed), and wakes the workers to let their threads end.
    @Test(arguments: [(11, 3), (12, 3), (13, 6)])
    func idleParkingLosesNoWakeups(seed: UInt64, workers: Int) {
        let idle = Idle(workers: workers)
        let queue = Locked<[Int]>([])
        let consumed = Atomic<Int>(0)
        let total = 30_000
        let stop = Atomic<Bool>(false)
        let maxBusy = Atomic<Int>(0)
        let finished = Self.onThreads(workers + 2, what: "workers with \(total - consumed.load(ordering: .relaxed)) items left (a lost wake-up?)",
                                      onTimeout: { stop.store(true, ordering: .releasing); idle.wakeAll() }) { thread in
            var random = SeededRandom(seed: seed &+ UInt64(thread))
            if thread >= workers {
                for i in 0..<(total / 2) {
                    queue.withLock { $0.append(i) }
                    idle.notify()
                    if Int.random(in: 0..<64, using: &random) == 0 { usleep(50) }
                }
                return
            }
            var searching = false
            while !stop.load(ordering: .acquiring) {
                if queue.withLock({ $0.popLast() }) != nil {
                    if searching { idle.stopSearching(); searching = false }
                    if consumed.add(1, ordering: .relaxed).newValue == total {
                        stop.store(true, ordering: .releasing)
                        idle.wakeAll()
                    }
                    continue
                }
                if !searching, idle.startSearching() { searching = true; continue }
                let ticket = idle.prepareToPark(wasSearching: searching)
                searching = false
                let snapshot = idle.snapshot
                maxBusy.store(max(maxBusy.load(ordering: .relaxed), snapshot.searching + snapshot.sleeping), ordering: .relaxed)
                if queue.withLock({ !$0.isEmpty }) || stop.load(ordering: .acquiring) {
                    idle.cancelPark()
                    continue
                }
                idle.park(ticket: ticket)
                searching = true
            }
        }
        guard finished else { return }
        #expect(consumed.load(ordering: .relaxed) == total)
        #expect(maxBusy.load(ordering: .relaxed) <= workers)  // 0 ≤ searching + sleeping ≤ workers
    }

    /// A wake-up makes its sleeper a searcher at once, so the producers that come after it
    /// (before the woken thread has run) wake nobody else; the sleeper then leaves `park` or
    /// `cancelPark` with that wake-up's token, and the counts come back to zero.
    @Test func aWakeUpCountsItsSleeperAsSearchingAtOnce() {
        let idle = Idle(workers: 2)
        let ticket = idle.prepareToPark(wasSearching: false)
        #expect(idle.snapshot == (0, 1))
        idle.notify()
        #expect(idle.wakeups.load(ordering: .relaxed) == 1)
        #expect(idle.snapshot == (1, 0))
        idle.notify()
        idle.notify()
        #expect(idle.wakeups.load(ordering: .relaxed) == 1, "a notify woke a second time for one sleeper")
        idle.park(ticket: ticket)  // returns at once: its ticket is stale and a token waits
        #expect(idle.snapshot == (1, 0))
        idle.stopSearching()
        #expect(idle.snapshot == (0, 0))

        // The same wake-up met by a sleeper whose rescan found work: it claims the token.
        _ = idle.prepareToPark(wasSearching: false)
        idle.notify()
        idle.cancelPark()
        #expect(idle.snapshot == (0, 0))
        #expect(idle.wakeups.load(ordering: .relaxed) == 2)
        // And without a wake-up, cancelling only leaves the sleepers.
        _ = idle.prepareToPark(wasSearching: false)
        idle.cancelPark()
        #expect(idle.snapshot == (0, 0))
        #expect(idle.wakeups.load(ordering: .relaxed) == 2)
    }

    /// Standby's transitions one by one: a lend makes one standing-by worker active (it claims
    /// the token without waiting), the reclaim leaves one too many, and exactly one worker is
    /// then told to stand by.
    @Test func standbyLendsAndReclaimsOneCoreAtATime() {
        let standby = Standby(workers: 4, cores: 2)
        #expect(standby.isUsed && standby.startsStandingBy(2) && !standby.startsStandingBy(1))
        #expect(standby.snapshot == (2, 0))
        #expect(!standby.shouldStandBy())
        standby.lend()
        #expect(standby.snapshot == (3, 1))
        #expect(standby.waitUntilNeeded())  // the token is there: returns at once
        standby.lend()
        standby.lend()  // a third blocked worker: nobody is left to stand in
        #expect(standby.snapshot == (4, 3))
        #expect(!standby.shouldStandBy())
        standby.reclaim()
        standby.reclaim()
        #expect(standby.shouldStandBy())
        #expect(!standby.shouldStandBy())
        standby.reclaim()
        #expect(standby.shouldStandBy())
        #expect(standby.snapshot == (2, 0))
        #expect(!standby.shouldStandBy())
        // A pool no larger than its cores never stands by.
        let exact = Standby(workers: 2, cores: 4)
        #expect(!exact.isUsed && exact.snapshot == (2, 0))
    }

    /// Seeded workers run "chains" (counted work), block at random (lending their core, then
    /// waiting until the others have done more work, which only a worker made active by the
    /// lend can do when every running one is blocked), and stand by when told. If a lend failed
    /// to wake a standing-by worker, the work would stop and the test fail at its time limit;
    /// at the end every lend has been reclaimed and exactly `limit` workers are active.
    @Test(arguments: [(31, 1, 3), (32, 2, 4), (33, 1, 5)])
    func standbyWorkersCoverBlockedOnes(seed: UInt64, cores: Int, workers: Int) {
        let standby = Standby(workers: workers, cores: cores)
        let work = Atomic<Int>(0)
        let total = 20_000
        let done = Atomic<Bool>(false)
        let blocked = Atomic<Int>(0)
        let finished = Self.onThreads(workers, what: "workers at \(work.load(ordering: .relaxed)) of \(total) (a lost lend?)",
                                      onTimeout: { done.store(true, ordering: .releasing); standby.close() }) { thread in
            var random = SeededRandom(seed: seed &* 13 &+ UInt64(thread))
            if standby.startsStandingBy(thread), !standby.waitUntilNeeded() { return }
            while !done.load(ordering: .acquiring) {
                if work.add(1, ordering: .relaxed).newValue >= total {
                    done.store(true, ordering: .releasing)
                    standby.close()
                    return
                }
                // Blocks at random, but never the last unblocked worker (with every worker
                // blocked on work only a worker can do, nothing could go on, in Skein too).
                if Int.random(in: 0..<50, using: &random) == 0 {
                    if blocked.add(1, ordering: .relaxed).newValue < workers {
                        standby.lend()
                        let seen = work.load(ordering: .relaxed)
                        // Blocked until others work on: all running workers may be here at once.
                        while work.load(ordering: .relaxed) < seen + 20, !done.load(ordering: .acquiring) { skein_yield() }
                        standby.reclaim()
                    }
                    blocked.subtract(1, ordering: .relaxed)
                }
                if standby.shouldStandBy(), !standby.waitUntilNeeded() { return }
            }
        }
        guard finished else { return }
        #expect(work.load(ordering: .relaxed) >= total)
        #expect(standby.snapshot.borrowed == 0)
    }

    /// The mailbox under many producers: nothing lost, nothing duplicated, per-sender order kept.
    @Test func mailboxKeepsEverySenderInOrder() throws {
        let mailbox = Mailbox()
        let producers = 4, perProducer = 20_000
        let finished = Atomic<Int>(0)
        let lastSeen = Locked([Int](repeating: -1, count: producers))
        let received = Atomic<Int>(0)
        let giveUp = Atomic<Bool>(false)
        let allFinished = Self.onThreads(producers + 1, what: "the consumer, after \(received.load(ordering: .acquiring)) messages (one lost?)",
                                         onTimeout: { giveUp.store(true, ordering: .releasing) }) { thread in
            if thread < producers {
                for i in 0..<perProducer {
                    let node = try! MessageNode.make(copying: .smallInt(Int64(thread * 1_000_000 + i)))
                    mailbox.push(node, to: 0)  // a mailbox made alone is owned by pid 0
                }
                finished.add(1, ordering: .releasing)
                return
            }
            var count = 0
            while count < producers * perProducer, !giveUp.load(ordering: .relaxed) {
                guard let m = mailbox.takeMessage() else { continue }
                let n = Int(m.value.smallIntValue)
                m.free()
                let (sender, i) = (n / 1_000_000, n % 1_000_000)
                lastSeen.withLock { seen in
                    #expect(seen[sender] == i - 1, "sender \(sender) out of order")
                    seen[sender] = i
                }
                count += 1
                received.store(count, ordering: .releasing)
            }
        }
        guard allFinished else { return }  // the consumer may still be inside the mailbox
        #expect(received.load(ordering: .acquiring) == producers * perProducer)
        #expect(mailbox.takeMessage() == nil)
    }

    /// The timeout heap pops in deadline order and purges stale entries in bulk.
    @Test func timeoutHeapOrdersAndPurges() {
        let process = Process(slot: 0)
        var heap = TimeoutHeap()
        var random = SeededRandom(seed: 5)
        for i in 0..<5000 {
            heap.insert(TimeoutEntry(deadline: Int64.random(in: 0..<1_000_000, using: &random),
                                     process: .passUnretained(process), state: ProcessState(raw: UInt64(i % 2))))
        }
        let dropped = heap.purge { $0.state.raw == 1 }
        #expect(dropped == 2500)
        var last = Int64.min
        var count = 0
        while let e = heap.popDue(now: .max) {
            #expect(e.deadline >= last)
            #expect(e.state.raw == 0)
            last = e.deadline
            count += 1
        }
        #expect(count == 2500)
    }

    /// Timeouts race with messages in many processes: every receiver either gets its message
    /// or times out, exactly once, and the VM ends with nothing alive.
    @Test(arguments: [1, 2, 4])
    func messagesRacingTimeoutsWakeOnce(workers: Int) throws {
        let r = try runProgram("""
        func receiver/2                 ; receiver(parent, timeout)
            recv  r2, r1, timeout
            load  r3, :message
            send  r0, r3
            ret   r2
        timeout:
            load  r3, :timeout
            send  r0, r3
            ret   r1
        end
        func main/0
            self  r0
            load  r5, 0
            load  r9, 3000
        spawn:
            rem   r1, r5, 3             ; timeouts of 0, 1 and 2 ms
            spawn r6, receiver, r0
            rem   r7, r5, 2
            jeq   r7, 0, skip           ; every other receiver also gets a message
            send  r6, r5
        skip:
            add   r5, r5, 1
            jlt   r5, r9, spawn
            load  r5, 0
        collect:
            recv  r8
            add   r5, r5, 1
            jlt   r5, r9, collect
            print r5
            ret   r5
        end
        """, workers: workers, waitForAll: true)
        #expect(r.output == "3000\n")
    }
}
