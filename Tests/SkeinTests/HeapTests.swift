import Foundation
import Testing
@testable import Skein

@Suite struct HeapTests {
    /// Builds tuples directly in a heap, collects many times with only some of them rooted, and
    /// checks the survivors are intact and the garbage is gone.
    @Test func collectorKeepsLiveDataIntact() {
        var heap = Heap(initialWords: 16)
        var roots = [UInt64](repeating: Value.nil.raw, count: 64)
        var random = SeededRandom(seed: 99)
        var collections = 0
        func alloc(_ words: Int) -> UnsafeMutablePointer<UInt64> {
            if let p = heap.tryAllocate(words: words) { return p }
            collections += 1
            roots.withUnsafeMutableBufferPointer { buffer in
                try! heap.collect(reserving: words) { copier in copier.visit(buffer.baseAddress!, count: buffer.count) }
            }
            return heap.tryAllocate(words: words)!
        }
        for i in 0..<100_000 {
            // A pair {i, previous-root} so live data forms chains through the heap.
            let slot = Int.random(in: 0..<roots.count, using: &random)
            let p = alloc(3)
            p[0] = HeapObject.header(.tuple, payloadWords: 2)
            p[1] = Value.smallInt(Int64(i)).raw
            p[2] = roots[slot]
            roots[slot] = Value.object(p).raw
            if i % 7 == 0 { _ = alloc(5) }  // garbage
        }
        #expect(collections > 10)
        // Every chain is strictly decreasing in i and ends in nil.
        var total = 0
        for root in roots {
            var v = Value(raw: root)
            var last = Int64.max
            while v != .nil {
                #expect(v.heapKind == .tuple)
                let n = Value(raw: v.tupleElements[0]).smallIntValue
                #expect(n < last)
                last = n
                total += 1
                v = Value(raw: v.tupleElements[1])
            }
        }
        #expect(total == 100_000)
        // Live data is 3 words per tuple; the heap may be at most a few times that.
        #expect(heap.capacityWords <= 8 * 3 * 100_000)
        heap.release()
    }

    /// A heap with over a megabyte live, collected many times: the two large spaces are reused
    /// (the heap stops getting new spaces once it has stopped growing), the survivors stay
    /// intact, and a request that does not fit beside the survivors in the kept space still
    /// gets room (a second collection into a larger space).
    @Test func largeHeapsReuseTheirSpareSpace() {
        var heap = Heap(initialWords: 16)
        var root = Value.nil.raw
        var collections = 0
        func alloc(_ words: Int) -> UnsafeMutablePointer<UInt64> {
            if let p = heap.tryAllocate(words: words) { return p }
            collections += 1
            withUnsafeMutablePointer(to: &root) { r in
                try! heap.collect(reserving: words) { copier in copier.visit(r) }
            }
            return heap.tryAllocate(words: words)!
        }
        let count = 200_000  // a chain of 3-word tuples: 600,000 words live
        for i in 0..<count {
            let p = alloc(3)
            p[0] = HeapObject.header(.tuple, payloadWords: 2)
            p[1] = Value.smallInt(Int64(i)).raw
            p[2] = root
            root = Value.object(p).raw
        }
        var spaces = Set<UInt>()
        let before = collections
        while collections - before < 24 {
            _ = alloc(64)  // garbage
            // After the first few collections the size has settled.
            if collections - before >= 4, let start = heap.start { spaces.insert(UInt(bitPattern: start)) }
        }
        #expect(spaces.count <= 2, "\(spaces.count) spaces for 20 collections")
        let big = alloc(heap.capacityWords)  // more than the spare can hold beside the survivors
        big[0] = 0
        var v = Value(raw: root), expected = Int64(count - 1)
        while v != .nil {
            #expect(Value(raw: v.tupleElements[0]).smallIntValue == expected)
            expected -= 1
            v = Value(raw: v.tupleElements[1])
        }
        #expect(expected == -1)
        heap.release()
    }

    /// A program allocating far more than it keeps: the collector keeps its heap small.
    ///
    /// Measured through the heap's own limit: each iteration allocates at least 7 words (a
    /// string, a longer string, a pair), 11 MB over the run, while what stays alive (an array
    /// of 1,000 short strings) needs some 24 KiB. With a 256 KiB limit the run must succeed,
    /// so the heap never held more than 256 KiB; the same program with a 16 KiB limit must
    /// end with `heap_limit`, which shows the limit does bound it.
    @Test func allocationHeavyProgramRunsInABoundedHeap() throws {
        let program = """
        func main/0
            load r0, 0
            load r9, 200000
            array r5, r5, 0        ; a live array that grows to 1000 strings
        loop:
            tostr r1, r0
            concat r2, r1, r1       ; garbage
            load r3, {1, 2}
            tuple r4, r2, 2         ; garbage tuple holding garbage
            rem r6, r0, 200
            jne r6, 0, skip
            push r5, r1
        skip:
            add r0, r0, 1
            jlt r0, r9, loop
            len r7, r5
            print r7
            get r8, r5, 999
            print r8
            ret r0
        end
        """
        let bounded = try runProgram(program, maxHeapBytes: 256 << 10)
        #expect(bounded.status.hasReturned, "\(bounded.status) \(bounded.errors)")
        #expect(bounded.output == "1000\n199800\n")
        let tooSmall = try runProgram(program, maxHeapBytes: 16 << 10)
        #expect(tooSmall.errors.contains("heap limit reached"), "\(tooSmall.status) \(tooSmall.errors)")
    }
}

/// Bounded memory: a program that allocates 2 GB in total while keeping little alive runs with a
/// peak RSS under 64 MB (the real `vm` binary, its VmHWM read from /proc while it runs).
@Suite struct BoundedMemoryTests {
    @Test func twoGigabytesOfGarbageInASmallHeap() throws {
        let program = FileManager.default.temporaryDirectory.appendingPathComponent("skein-2gb-\(getpid()).ska")
        try """
        ; Each iteration allocates a 2 KiB string and drops it: 1,048,576 iterations = 2 GiB.
        func main/0
            load   r0, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            concat r0, r0, r0      ; 128 B
            concat r0, r0, r0      ; 256 B
            concat r0, r0, r0      ; 512 B
            concat r0, r0, r0      ; 1 KiB: the little that stays alive
            load   r1, 0
            load   r2, 1_048_576
        loop:
            concat r3, r0, r0      ; 2 KiB of garbage
            add    r1, r1, 1
            jlt    r1, r2, loop
            len    r4, r3
            print  r4
            load   r4, :ok         ; exit status 0
            ret    r4
        end
        """.write(to: program, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: program) }
        let result = try ChildRun.run(vmExecutable, ["run", "--workers", "1", program.path], timeLimit: 120)
        #expect(result.ending == .exited(0))
        #expect(result.peakRSSBytes > 0, "the child's VmHWM was never read")
        #expect(result.peakRSSBytes < 64 << 20, "peak RSS \(result.peakRSSBytes >> 20) MiB")
    }

    /// `HeapObject.kind(fromHeader:)` turns a header into its kind without `HeapKind(rawValue:)`,
    /// relying on the cases being numbered 1, 2, … in declaration order: a new kind numbered out
    /// of order fails here, not as a wrong kind at run time.
    @Test func everyKindSurvivesItsHeader() {
        for (index, kind) in HeapKind.allCases.enumerated() {
            #expect(Int(kind.rawValue) == index + 1, "\(kind) is not numbered in declaration order")
            for payload in [0, 1, 5, 1 << 40] {
                #expect(HeapObject.kind(fromHeader: HeapObject.header(kind, payloadWords: payload)) == kind)
            }
        }
    }
}
