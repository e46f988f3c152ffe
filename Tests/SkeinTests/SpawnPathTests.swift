import Foundation
import Synchronization
import Testing
@testable import Skein

/// The mechanisms that keep spawn, exit and small messages off malloc and shared locks: the
/// registry's `mayHaveName` flag, per-worker slot caches and the node depot. Each is checked for
/// what it must never do (lose a name, hand out a slot or a node twice), with many seeded
/// interleavings across threads; the suite runs under ThreadSanitizer too (`make test-tsan`).
@Suite struct SpawnPathTests {
    /// A process registers a name while it ends, on another thread, again and again: whenever
    /// `register` said `.registered`, the ending process's `remove` found and freed the name, so
    /// no name outlives its process. Two threads meet at a spin barrier each round and then race
    /// with seeded delays of a few nanoseconds to a few hundred, so the two sides' steps
    /// interleave in every order many times over.
    @Test(arguments: [UInt64(1), 2])
    func aNameNeverOutlivesItsProcess(seed: UInt64) throws {
        let table = ProcessTable(capacity: 4)
        let registry = Registry()
        let name = 7, rounds = 20_000
        let arrived = Atomic<Int>(0), finished = Atomic<Int>(0)
        let current = Locked<(Skein.Process, UInt64)?>(nil)
        let registered = Atomic<Int>(0), outlived = Atomic<Int>(0)
        /// Waits until both threads reach `count`.
        @Sendable func meet(_ counter: borrowing Atomic<Int>, _ count: Int) {
            counter.add(1, ordering: .sequentiallyConsistent)
            while counter.load(ordering: .sequentiallyConsistent) < count {}
        }
        @Sendable func spin(_ n: UInt64) { for _ in 0..<n { _ = arrived.load(ordering: .relaxed) } }
        let registrar = Thread {
            var random = SeededRandom(seed: seed)
            for round in 1...rounds {
                meet(arrived, 2 * round)
                let (_, pid) = current.withLock { $0! }
                spin(random.next() % 64)
                if registry.register(name, pid, table: table) == .registered { registered.add(1, ordering: .relaxed) }
                meet(finished, 2 * round)
            }
        }
        registrar.start()
        var random = SeededRandom(seed: seed &* 31)
        for round in 1...rounds {
            let (process, pid) = try #require(table.allocate())
            table.publish(process)
            current.withLock { $0 = (process, pid) }
            meet(arrived, 2 * round)
            spin(random.next() % 64)
            table.retire(process)
            registry.remove(process)
            table.release(process)
            meet(finished, 2 * round)
            if registry.whereis(name) != nil {
                outlived.add(1, ordering: .relaxed)
                _ = registry.unregister(name)
            }
        }
        #expect(outlived.load(ordering: .relaxed) == 0, "names outlived their processes")
        #expect(table.live.load(ordering: .relaxed) == 0)
        // Both orders happen: some registrations win the race, some find the process gone.
        #expect(registered.load(ordering: .relaxed) > 0 && registered.load(ordering: .relaxed) < rounds)
    }

    /// Threads with their own slot caches allocate and release seeded batches of slots from one
    /// table: no live slot is ever handed out twice, and every slot comes back.
    @Test func slotCachesNeverShareASlot() throws {
        let table = ProcessTable(capacity: 4_096)
        let threads = 4
        let inUse = Locked([Int](repeating: 0, count: 4_096))
        let doubleUse = Atomic<Int>(0)
        let group = DispatchGroup()
        for t in 0..<threads {
            DispatchQueue.global().async(group: group) {
                let cache = SlotCache()
                defer { cache.destroy() }
                var random = SeededRandom(seed: UInt64(t + 1))
                var held: [Skein.Process] = []
                for _ in 0..<20_000 {
                    if held.count < 600, random.next() % 3 != 0, let (process, _) = table.allocate(cache: cache) {
                        let slot = process.slot
                        if inUse.withLock({ $0[slot] += 1; return $0[slot] }) != 1 { doubleUse.add(1, ordering: .relaxed) }
                        table.publish(process)
                        held.append(process)
                    } else if !held.isEmpty {
                        let process = held.remove(at: Int(random.next() % UInt64(held.count)))
                        let slot = process.slot
                        inUse.withLock { $0[slot] -= 1 }
                        table.retire(process)
                        table.release(process, cache: cache)
                    }
                }
                for process in held {
                    let slot = process.slot
                        inUse.withLock { $0[slot] -= 1 }
                    table.retire(process)
                    table.release(process, cache: cache)
                }
            }
        }
        group.wait()
        #expect(doubleUse.load(ordering: .relaxed) == 0)
        #expect(table.live.load(ordering: .relaxed) == 0)
    }

    /// A producer thread allocates small nodes from its cache and a consumer frees them into its
    /// own, through a shared depot (the counting workload's pattern), while a third thread does
    /// both: every node handed out is distinct from every other live one, and magazines flow
    /// from the consumer's full cache to the producer's empty one.
    @Test func nodeDepotHandsEachNodeToOneOwner() {
        let depot = NodeDepot()
        let live = Locked<Set<UInt>>([])
        let duplicates = Atomic<Int>(0)
        let queue = Locked<[UnsafeMutablePointer<UInt64>]>([])
        let messages = 200_000
        let group = DispatchGroup()
        @Sendable func claim(_ node: UnsafeMutablePointer<UInt64>) {
            let bits = UInt(bitPattern: node)
            if !live.withLock({ $0.insert(bits).inserted }) { duplicates.add(1, ordering: .relaxed) }
        }
        @Sendable func disown(_ node: UnsafeMutablePointer<UInt64>) {
            let bits = UInt(bitPattern: node)
            _ = live.withLock { $0.remove(bits) }
        }
        DispatchQueue.global().async(group: group) {  // producer
            let cache = NodeCache(depot: depot)
            defer { cache.destroy() }
            var sent = 0
            while sent < messages {
                if queue.withLock({ $0.count }) > 8_192 { continue }  // bounded, like a mailbox limit
                let raw = MessageNode.allocate(words: 4, cache: cache)
                claim(raw)
                queue.withLock { $0.append(raw) }
                sent += 1
            }
        }
        DispatchQueue.global().async(group: group) {  // consumer
            let cache = NodeCache(depot: depot)
            defer { cache.destroy() }
            var received = 0
            while received < messages {
                guard let raw = queue.withLock({ $0.popLast() }) else { continue }
                disown(raw)
                MessageNode(raw: raw).free(cache: cache)
                received += 1
            }
        }
        DispatchQueue.global().async(group: group) {  // both, on its own
            let cache = NodeCache(depot: depot)
            defer { cache.destroy() }
            var random = SeededRandom(seed: 11)
            var mine: [UnsafeMutablePointer<UInt64>] = []
            for _ in 0..<100_000 {
                if random.next() % 2 == 0 || mine.isEmpty {
                    let raw = MessageNode.allocate(words: 3, cache: cache)
                    claim(raw)
                    mine.append(raw)
                } else {
                    let raw = mine.removeLast()
                    disown(raw)
                    MessageNode(raw: raw).free(cache: cache)
                }
            }
            for raw in mine {
                disown(raw)
                MessageNode(raw: raw).free(cache: cache)
            }
        }
        group.wait()
        #expect(duplicates.load(ordering: .relaxed) == 0)
        #expect(live.withLock { $0.isEmpty })
        #expect(depot.magazinesTaken.load(ordering: .relaxed) > 0)
    }
}

/// The process limit counts live processes, not slots: free slots kept in one worker's cache
/// never make another worker's spawn fail below the limit.
@Suite struct ProcessLimitTests {
    @Test func freeSlotsInAnotherCacheDoNotCountAgainstTheLimit() throws {
        let table = ProcessTable(capacity: 4, cachingWorkers: 2)
        let first = SlotCache(), second = SlotCache()
        defer { first.destroy(); second.destroy() }
        // Worker one starts and ends four processes: their slots stay in its cache.
        var ended: [Skein.Process] = []
        for _ in 0..<4 {
            let (process, _) = try #require(table.allocate(cache: first))
            table.publish(process)
            ended.append(process)
        }
        #expect(table.allocate(cache: second) == nil, "a fifth live process passed the limit of 4")
        for process in ended {
            table.retire(process)
            table.release(process, cache: first)
        }
        #expect(first.count == 4)
        // Worker two may still start four, and not a fifth.
        var alive: [Skein.Process] = []
        for i in 0..<4 {
            let started = table.allocate(cache: second)
            #expect(started != nil, "spawn \(i + 1) of 4 failed with free slots in the other cache")
            if let (process, _) = started {
                table.publish(process)
                alive.append(process)
            }
        }
        #expect(table.allocate(cache: second) == nil)
        #expect(table.live.load(ordering: .relaxed) == 4)
        for process in alive {
            table.retire(process)
            table.release(process, cache: second)
        }
    }

    /// Through the VM at 2 workers: a program that starts and ends processes one at a time (so
    /// their slots end up in both workers' caches) and then holds exactly the limit alive gets
    /// every spawn up to it, and a system_limit error for the next one.
    @Test func aVMReachesItsLimitExactlyAtTwoWorkers() throws {
        let r = try runProgram("""
        func quick/0
            ret  r0
        end

        func idle/0
            recv r0
            ret  r0
        end

        func main/0
            load  r0, 0
        churn:                          ; 500 short processes one at a time, on both workers
            spawnmon r1, quick, r3
            recv  r2                    ; its {:DOWN, ...}: its slot is free again
            add   r0, r0, 1
            jlt   r0, 500, churn
            load  r0, 1                 ; main is alive too: 63 more reach the limit of 64
        hold:
            spawn r1, idle
            add   r0, r0, 1
            jlt   r0, 64, hold
            print r0
            spawn r1, idle              ; the 65th: a system_limit error
            ret   r0
        end
        """, workers: 2, maxProcesses: 64)
        #expect(r.output == "64\n", "\(r.output) \(r.errors)")
        #expect(!r.status.hasReturned && r.errors.contains("process limit (64)"), "\(r.errors)")
    }
}
