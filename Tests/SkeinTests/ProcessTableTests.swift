import Testing
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
        let delivered = table.withLiveProcess(pid) { process in
            process.mailbox.push(try! MessageNode.make(copying: .smallInt(42)))
        }
        #expect(delivered == 1)
        Self.end(first, in: table)
        #expect(table.withLiveProcess(pid) { _ in true } == nil)
        let (second, _) = try Self.start(table)
        #expect(second === first)
        #expect(second.mailbox.takeMessage() == nil)
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
