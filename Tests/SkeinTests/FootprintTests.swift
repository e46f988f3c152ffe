import Foundation
import Testing
@testable import Skein
import CSkeinSupport

/// The usable bytes of a `malloc` block.
private func mallocUsableSize(_ block: UnsafeMutableRawPointer) -> Int { skein_malloc_usable_size(block) }

/// What every slot costs, and the lazily allocated parts that keep it small: a million idle
/// processes must fit in 400 MiB (BENCHMARKS.md), so the allocations each slot makes are held
/// to their `malloc` size classes here, where a new field that pushes one into the next class
/// fails a test instead of showing up weeks later in a benchmark.
@Suite struct FootprintTests {
    /// The two allocations of a slot with an idle process stay in their size classes: the
    /// `Process` object in 112 bytes, and mailbox plus context plus inline register stack in 272
    /// (glibc's chunks: the request plus 8, rounded up to 16).
    @Test func aSlotsAllocationsStayInTheirSizeClasses() {
        let process = Process(slot: 0)
        let object = mallocUsableSize(Unmanaged.passUnretained(process).toOpaque())
        #expect(object <= 104, "the Process object takes \(object) usable bytes")
        #expect(MemoryLayout<ExecutionContext>.size <= 128, "ExecutionContext is \(MemoryLayout<ExecutionContext>.size) bytes")
        let body = process.mailbox.trailingMemory - process.mailbox.storageAddress + ExecutionContext.memoryBytes
        #expect(body <= 264, "the mailbox, its context and inline stack take \(body) bytes")
        #expect(mallocUsableSize(process.mailbox.storageAddress) >= body)
    }

    /// A process that never links, monitors, traps or fails has no relations: reading them,
    /// clearing them and removing from them allocate nothing.
    @Test func relationsAreAllocatedOnlyWhenUsed() {
        let process = Process(slot: 0)
        #expect(process.links.isEmpty && process.monitors.isEmpty && process.watchers.isEmpty)
        #expect(process.exitReason == nil && process.hostCallResult == nil && !process.trapsExits)
        process.exitReason = nil
        process.hostCallResult = nil
        process.trapsExits = false
        process.links.remove(5)
        _ = process.monitors.removeValue(forKey: 3)
        process.watchers[4] = nil
        process.resetLinks()
        #expect(process.relationsAddress == nil)
        process.monitors[7] = 42
        #expect(process.relationsAddress != nil)
        #expect(process.monitors[7] == 42)
    }

    /// What one process in a slot had (links, monitors, watchers, trapping, an exit reason, a
    /// host call's result) is gone for the slot's next process, and the relations' memory is
    /// kept for it.
    @Test func aSlotsNextProcessInheritsNoRelations() {
        let process = Process(slot: 0)
        var random = SeededRandom(seed: 12)
        var kept: UnsafeRawPointer?
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
            if kept == nil { kept = process.relationsAddress }
            #expect(kept != nil && process.relationsAddress == kept, "the relations are kept for the slot")
            #expect(process.links.isEmpty && process.monitors.isEmpty && process.watchers.isEmpty)
            #expect(process.exitReason == nil && process.hostCallResult == nil && !process.trapsExits)
        }
    }

    /// A slot's context memory goes empty → live → spare → live: a small frame runs on the
    /// inline register stack; a stack grown out of it is kept for the next process while small
    /// and freed when large; releasing leaves a context nobody can reach.
    @Test func aSlotsContextIsReusedThroughItsSpare() throws {
        let program = try LoadedProgram(Assembler.assemble("""
            func main/0
                ret r0
            end

            func wide/0
                load r9, 1
                ret r9
            end
            """, file: "t.ska"), atoms: AtomTable())
        let process = Process(slot: 0)
        #expect(process.context == nil)
        let start = { (function: Int) in
            process.startContext { memory, reusingSpare in
                memory.startContext(program: program, function: function, arguments: UnsafeBufferPointer(start: nil, count: 0),
                                    reusingSpare: reusingSpare)
            }
        }
        let main = try #require(program.functionIndex(named: "main"))
        let wide = try #require(program.functionIndex(named: "wide"))
        #expect(program.functions[main].frameWords <= ExecutionContext.inlineStackWords)
        #expect(program.functions[wide].frameWords > ExecutionContext.inlineStackWords)
        start(main)
        let first = try #require(process.context)
        #expect(first.pointee.stack == first.inlineStack, "a small frame runs on the inline stack")
        process.retireContext()
        #expect(process.context == nil)
        start(main)
        let second = try #require(process.context)
        #expect(second == first && second.pointee.stack == first.inlineStack)
        let grew = second.growStack(toHold: ExecutionContext.keptStackWords)
        #expect(grew && second.pointee.stack != second.inlineStack && second.pointee.stackCapacity == ExecutionContext.keptStackWords)
        let kept = second.pointee.stack
        process.retireContext()
        start(wide)
        #expect(process.context!.pointee.stack == kept, "a small grown stack is kept for the slot's next process")
        let grewMore = process.context!.growStack(toHold: ExecutionContext.keptStackWords * 4)
        #expect(grewMore)
        process.retireContext()
        start(wide)
        let third = try #require(process.context)
        #expect(third.pointee.stackCapacity == program.functions[wide].frameWords, "a large stack is not kept")
        #expect(third.pointee.stack != third.inlineStack)
        process.releaseContext()
        #expect(process.context == nil)
        process.releaseContext()  // twice is harmless
        start(main)
        #expect(process.context!.pointee.stack == process.context!.inlineStack)
    }
}
