import Testing
import Synchronization
import CSkeinSupport
@testable import Skein

/// Pid reuse in the process table: a slot is reused, its pids never are, and nothing addressed
/// to an ended process reaches the next one in its slot.
@Suite struct ProcessTableTests {
    /// Allocates and publishes the next process of `table`.
    static func start(_ table: ProcessTable) throws -> (Process, UInt64) {
        let (process, pid) = try #require(table.allocate())
        table.publish(process)
        return (process, pid)
    }

    /// Ends `process` the way the runtime does: retire, then free the slot.
    static func end(_ process: Process, in table: ProcessTable) {
        table.retire(process)
        table.release(process)
    }

    /// A one-slot table reused 1,000 times: every incarnation gets a new pid, and every old pid
    /// stays dead, to lookups and to senders alike.
    @Test func anEndedPidNeverReachesTheNextProcessInItsSlot() throws {
        let table = ProcessTable(capacity: 1)
        var old: [UInt64] = []
        var slotObject: Process?
        for _ in 0..<1000 {
            let (process, pid) = try Self.start(table)
            if let slotObject { #expect(process === slotObject) }  // the same slot, reused
            slotObject = process
            #expect(!old.contains(pid))
            #expect(table.isAlive(pid))
            #expect(table.withLiveProcess(pid) { $0 === process } == true)
            for stale in old.suffix(3) {
                #expect(!table.isAlive(stale))
                #expect(table.withLiveProcess(stale) { _ in true } == nil, "pid \(stale) reached pid \(pid)")
            }
            Self.end(process, in: table)
            #expect(!table.isAlive(pid))
            old.append(pid)
        }
        #expect(table.live.load(ordering: .relaxed) == 0)
    }

    /// A message that got into the mailbox of a process just before it ended (its sender
    /// passed the pid check in time) is dropped when the slot is reused, not delivered to the
    /// new process.
    @Test func messagesForAnEndedProcessAreDroppedOnReuse() throws {
        let table = ProcessTable(capacity: 1)
        let (first, pid) = try Self.start(table)
        let target = try #require(table.withMessageTarget(pid, { $0 }))
        #expect(target.mailbox.push(try! MessageNode.make(copying: .smallInt(42)), to: pid) == 1)
        Self.end(first, in: table)
        #expect(table.withMessageTarget(pid, { $0 }) == nil)
        let (second, _) = try Self.start(table)
        #expect(second === first)
        #expect(second.mailbox.takeMessage() == nil)
    }

    /// A message whose sender checked the pid before its process ended, and pushed only after
    /// a new process took the slot, is dropped by the new process; the new process's own
    /// messages, before and after it, arrive in order.
    @Test func aLateMessageForAnEndedPidIsDroppedByTheNextProcess() throws {
        let table = ProcessTable(capacity: 1)
        let (first, oldPid) = try Self.start(table)
        let late = try #require(table.withMessageTarget(oldPid, { $0 }))  // the check, before the end
        Self.end(first, in: table)
        let (second, newPid) = try Self.start(table)
        #expect(second === late)
        late.mailbox.push(try! MessageNode.make(copying: .smallInt(1)), to: newPid)
        late.mailbox.push(try! MessageNode.make(copying: .smallInt(-1)), to: oldPid)  // the push, after it
        late.mailbox.push(try! MessageNode.make(copying: .smallInt(2)), to: newPid)
        let taken = [second.mailbox.takeMessage(), second.mailbox.takeMessage(), second.mailbox.takeMessage()]
        #expect(taken.map { $0?.value.smallIntValue } == [1, 2, nil])
        for node in taken { node?.free() }
        Self.end(second, in: table)
    }

    /// Senders race a slot's reuse: they push messages to whatever pid they last saw, holding
    /// off nothing, while one thread runs the slot's processes one after another, each taking
    /// a seeded number of messages before it ends. Every message a process takes was addressed
    /// to it; the others are freed by the drains and the table's end.
    @Test(arguments: [21, 22, 23])
    func messagesRacingSlotReuseReachOnlyTheirAddressee(seed: UInt64) {
        let table = ProcessTable(capacity: 2)
        let current = Atomic<UInt64>(0)
        let done = Atomic<Bool>(false)
        let misdelivered = Atomic<Int>(0)
        let received = Atomic<Int>(0)
        let senders = 3, incarnations = 2_000
        ConcurrencyTests.onThreads(senders + 1) { thread in
            var random = SeededRandom(seed: seed &* 7 &+ UInt64(thread))
            if thread < senders {
                while !done.load(ordering: .acquiring) {
                    let pid = current.load(ordering: .acquiring)
                    let pause = Int.random(in: 0..<8, using: &random) == 0
                    _ = table.withMessageTarget(pid) { process in
                        if pause { skein_yield() }  // widen the window between the check and the push
                        process.mailbox.push(try! MessageNode.make(copying: .smallInt(Int64(bitPattern: pid))), to: pid)
                    }
                }
                return
            }
            for _ in 0..<incarnations {
                let (process, pid) = table.allocate()!
                table.publish(process)
                current.store(pid, ordering: .releasing)
                var wanted = Int.random(in: 1...10, using: &random)
                while wanted > 0 {
                    guard let message = process.mailbox.takeMessage() else { continue }
                    if UInt64(bitPattern: message.value.smallIntValue) != pid { misdelivered.add(1, ordering: .relaxed) }
                    received.add(1, ordering: .relaxed)
                    message.free()
                    wanted -= 1
                }
                table.retire(process)
                process.mailbox.drain()
                table.release(process)
            }
            done.store(true, ordering: .releasing)
        }
        #expect(misdelivered.load(ordering: .relaxed) == 0)
        #expect(received.load(ordering: .relaxed) >= incarnations)
    }

    /// A full table refuses to allocate; a slot given back by a failed spawn is reused with a
    /// new generation.
    @Test func aFullTableRefusesAndAnAbandonedSlotGetsANewPid() throws {
        let table = ProcessTable(capacity: 1)
        let (process, pid) = try #require(table.allocate())
        #expect(table.allocate() == nil)
        table.abandon(process)
        let (again, newPid) = try Self.start(table)
        #expect(again === process)
        #expect(newPid != pid)
        #expect(newPid & (1 << ProcessTable.slotBits - 1) == pid & (1 << ProcessTable.slotBits - 1))
        Self.end(again, in: table)
    }
}
