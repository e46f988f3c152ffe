import Testing
@testable import Skein

/// `MonitorTable` against a `Dictionary` model: seeded random inserts, overwrites, removals and
/// lookups (so the table grows, fills with tombstones and is rebuilt), compared after each step.
@Suite struct MonitorTableTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func behavesLikeADictionary(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var table = MonitorTable()
        defer { table.release() }
        var model: [UInt64: UInt64] = [:]
        var nextReference: UInt64 = 1
        for step in 0..<50_000 {
            let roll = random.next() % 100
            // Keys near the live ones, as a process's references are: consecutive numbers.
            let known = model.keys.randomElement(using: &random)
            if roll < 45 || known == nil {
                let pid = random.next() >> 1
                table[nextReference] = pid
                model[nextReference] = pid
                nextReference += 1 + random.next() % 3
            } else if roll < 55 {
                let pid = random.next() >> 1
                table[known!] = pid
                model[known!] = pid
            } else if roll < 90 {
                #expect(table.removeValue(forKey: known!) == model.removeValue(forKey: known!))
            } else {
                let probe = random.next() % (nextReference + 10)
                #expect(table[probe] == model[probe], "lookup of \(probe) at step \(step)")
                #expect(table.removeValue(forKey: nextReference + 5) == nil)
            }
            #expect(table.count == model.count)
            if step % 5_000 == 0 || step == 49_999 {
                var seen: [UInt64: UInt64] = [:]
                table.forEach { reference, pid in seen[reference] = pid }
                #expect(seen == model, "forEach at step \(step)")
            }
        }
        table.release()
        #expect(table.isEmpty && table[1] == nil)
    }
}
