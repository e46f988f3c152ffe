import Foundation
import Testing
@testable import Skein

/// glibc's `malloc_usable_size` (its header is not part of the Glibc module).
@_silgen_name("malloc_usable_size")
private func mallocUsableSize(_ pointer: UnsafeMutableRawPointer) -> Int

/// What every slot costs, and the lazily allocated parts that keep it small: a million idle
/// processes must fit in 400 MiB (BENCHMARKS.md), so the allocations each slot makes are held
/// to their `malloc` size classes here, where a new field that pushes one into the next class
/// fails a test instead of showing up weeks later in a benchmark.
@Suite struct FootprintTests {
    /// A program whose `main` just returns: enough to build contexts from.
    private func program() throws -> LoadedProgram {
        try LoadedProgram(Assembler.assemble("func main/0\n    ret r0\nend\n", file: "t.ska"), atoms: AtomTable())
    }

    /// The three allocations of a slot with an idle process stay in their size classes:
    /// the `Process` object in 112 bytes, mailbox plus context in 240, and the context itself
    /// in 128 (glibc's chunks: the request plus 8, rounded up to 16).
    @Test func aSlotsAllocationsStayInTheirSizeClasses() {
        let process = Process(slot: 0)
        let object = mallocUsableSize(Unmanaged.passUnretained(process).toOpaque())
        #expect(object <= 104, "the Process object takes \(object) usable bytes")
        #expect(MemoryLayout<ExecutionContext>.size <= 128, "ExecutionContext is \(MemoryLayout<ExecutionContext>.size) bytes")
        let mailboxAndContext = process.mailbox.trailingMemory - process.mailbox.storageAddress + MemoryLayout<ExecutionContext>.stride
        #expect(mailboxAndContext <= 232, "the mailbox and its context take \(mailboxAndContext) bytes")
        #expect(mallocUsableSize(process.mailbox.storageAddress) >= mailboxAndContext)
    }

    /// A process that never links, monitors, traps or fails has no relations: reading them and
    /// clearing them allocate nothing.
    @Test func relationsAreAllocatedOnlyWhenUsed() {
        let process = Process(slot: 0)
        #expect(process.links.isEmpty && process.monitors.isEmpty && process.watchers.isEmpty)
        #expect(process.exitReason == nil && process.hostCallResult == nil && !process.trapsExits)
        process.exitReason = nil
        process.hostCallResult = nil
        process.trapsExits = false
        process.resetLinks()
        #expect(!process.hasRelations)
        process.monitors[7] = 42
        #expect(process.hasRelations)
        #expect(process.monitors[7] == 42)
    }

    /// What one process in a slot had (links, monitors, watchers, trapping, an exit reason, a
    /// host call's result) is gone for the slot's next process, and the relations' memory is
    /// kept for it.
    @Test func aSlotsNextProcessInheritsNoRelations() {
        let process = Process(slot: 0)
        var random = SeededRandom(seed: 12)
        for round in 0..<50 {
            let peers = Int.random(in: 1...20, using: &random)
            for i in 0..<peers { process.links.insert(UInt64(round * 100 + i)) }
            for i in 0..<peers { process.monitors[UInt64(i + 1)] = UInt64(round) }
            process.watchers[UInt64(round + 1)] = 9
            process.trapsExits = round % 2 == 0
            process.exitReason = MessageNode.make(atom: Value.known(.killed))
            process.hostCallResult = .failed("round \(round)")
            #expect(process.links.count == peers && process.monitors.count == peers)
            process.resetLinks()
            #expect(process.hasRelations)
            #expect(process.links.isEmpty && process.monitors.isEmpty && process.watchers.isEmpty)
            #expect(process.exitReason == nil && process.hostCallResult == nil && !process.trapsExits)
        }
    }

    /// A slot's context memory goes empty → live → spare → live: the spare keeps the small
    /// register stack for the next process, a large one is freed, and releasing leaves a
    /// context nobody can reach.
    @Test func aSlotsContextIsReusedThroughItsSpare() throws {
        let program = try program()
        let process = Process(slot: 0)
        #expect(process.context == nil)
        let start = {
            process.startContext { spare in
                ExecutionContext(program: program, function: 0, arguments: UnsafeBufferPointer(start: nil, count: 0), reusing: spare)
            }
        }
        start()
        let first = try #require(process.context)
        let stack = first.pointee.stack
        process.retireContext()
        #expect(process.context == nil)
        start()
        let second = try #require(process.context)
        #expect(second == first && second.pointee.stack == stack, "the spare's register stack is reused")
        let grew = second.pointee.growStack(toHold: ExecutionContext.keptStackWords * 4)
        #expect(grew)
        process.retireContext()
        start()
        #expect(process.context!.pointee.stackCapacity < ExecutionContext.keptStackWords * 4, "a large stack is not kept")
        process.releaseContext()
        #expect(process.context == nil)
        process.releaseContext()  // twice is harmless
    }
}
