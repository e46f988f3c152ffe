import Testing
@testable import Skein

/// Where a worker looks for work, in order (`Worker.findWork`), checked one call at a time on
/// workers whose threads never start, so nothing else takes from the queues.
@Suite struct WorkerTests {
    /// A pool of `workers` workers that never run, beside a runtime that owns it (a pool needs
    /// one; the runtime's own workers have nothing to do), and `count` process objects.
    struct Pool {
        let runtime: Runtime
        let scheduler: Scheduler
        let processes: [Process]

        init(workers: Int, processes count: Int) throws {
            let atoms = AtomTable()
            let program = try LoadedProgram(Assembler.assemble("func main/0\n    ret r0\nend\n", file: "t.ska"), atoms: atoms)
            let sink = OutputSink { _ in }
            runtime = Runtime(program: program, atoms: atoms, workers: 1, maxProcesses: 16, output: sink, errors: sink)
            scheduler = Scheduler(workers: workers, running: workers, runtime: runtime)
            processes = (0..<count).map { Process(slot: $0) }
        }

        /// The next process `worker` finds, as an index into `processes` (nil: none).
        func next(_ worker: Int, searching: inout Bool, includeNextSlots: Bool = false) -> Int? {
            guard let found = scheduler.workers[worker].findWork(searching: &searching, includeNextSlots: includeNextSlots) else {
                return nil
            }
            let object = found.takeUnretainedValue()
            return processes.firstIndex { $0 === object }
        }

        func bits(_ index: Int) -> UInt { UInt(bitPattern: Unmanaged.passUnretained(processes[index]).toOpaque()) }

        func shutdown() { runtime.shutdown() }
    }

    /// Own next slot, own ring, global queue, then another worker's ring; another worker's next
    /// slot only on the last scan before parking.
    @Test func findWorkLooksInTheDocumentedOrder() throws {
        let pool = try Pool(workers: 2, processes: 5)
        defer { pool.shutdown() }
        let (me, other) = (pool.scheduler.workers[0], pool.scheduler.workers[1])
        other.pushBack(pool.processes[3], notify: false)   // another worker's ring
        pool.scheduler.global.push(pool.bits(2))           // the global queue
        me.pushBack(pool.processes[1], notify: false)      // my ring
        me.pushNext(pool.processes[0])                      // my next slot
        other.pushNext(pool.processes[4])                   // another worker's next slot
        var searching = false
        #expect(pool.next(0, searching: &searching) == 0)
        #expect(pool.next(0, searching: &searching) == 1)
        #expect(pool.next(0, searching: &searching) == 2)
        #expect(!searching)
        #expect(pool.next(0, searching: &searching) == 3)  // stolen: it searches now
        #expect(searching)
        #expect(pool.next(0, searching: &searching) == nil)  // the next slot is left to its owner
        #expect(pool.next(0, searching: &searching, includeNextSlots: true) == 4)
        #expect(pool.next(0, searching: &searching, includeNextSlots: true) == nil)
    }

    /// Every `globalQueueInterval`-th tick the global queue comes before the worker's own work,
    /// so injected processes are not starved by a ring that never empties.
    @Test func globalQueueIsServedFirstEveryIntervalTicks() throws {
        let pool = try Pool(workers: 1, processes: 2)
        defer { pool.shutdown() }
        let me = pool.scheduler.workers[0]
        var searching = false
        while (me.tick + 1) % Worker.globalQueueInterval != 0 {
            #expect(pool.next(0, searching: &searching) == nil)
        }
        me.pushBack(pool.processes[0], notify: false)
        pool.scheduler.global.push(pool.bits(1))
        #expect(pool.next(0, searching: &searching) == 1)  // the interval's tick: global first
        #expect(pool.next(0, searching: &searching) == 0)
        // On any other tick the ring comes first.
        me.pushBack(pool.processes[0], notify: false)
        pool.scheduler.global.push(pool.bits(1))
        #expect(pool.next(0, searching: &searching) == 0)
        #expect(pool.next(0, searching: &searching) == 1)
    }
}
