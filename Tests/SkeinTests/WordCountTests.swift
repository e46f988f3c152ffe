import Foundation
import Testing

/// `vm-examples/word_count.ska` on 10 MB of text, against coreutils: `tr | sort | uniq -c`
/// counts the words, and the ten most frequent (ties by word) must be what the program prints.
@Suite(.timeLimit(.minutes(5))) struct WordCountTests {
    /// About 10 MB of lines of space-separated words, drawn from a 20,000-word vocabulary with a
    /// skewed (roughly Zipf-like) distribution, with runs of spaces and spaces at line ends.
    static func text(seed: UInt64) -> String {
        var random = SeededRandom(seed: seed)
        var text = "", line = ""
        text.reserveCapacity(10_500_000)
        while text.utf8.count < 10_000_000 {
            let u = Double.random(in: 0..<1, using: &random)
            let word = "w\(Int(pow(u, 3) * 20_000))"
            line += Int.random(in: 0..<20, using: &random) == 0 ? "  " + word : " " + word
            if line.utf8.count > 70 {
                text += line + "\n"
                line = ""
            }
        }
        return text + line + "\n"
    }

    @Test func theTopTenMatchCoreutils() throws {
        let input = Self.text(seed: 11)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skein-words-\(getpid())-\(UUID().uuidString).txt")
        try input.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let reference = try runCommand("/bin/sh", ["-c", "tr -s ' ' '\\n' < '\(file.path)' | grep -v '^$' | LC_ALL=C sort | uniq -c"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let counts: [(count: Int, word: String)] = reference.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let count = Int(fields[0]) else { return nil }
            return (count, String(fields[1]))
        }
        #expect(counts.count > 1_000)
        let top = counts.sorted { $0.count != $1.count ? $0.count > $1.count : Array($0.word.utf8).lexicographicallyPrecedes(Array($1.word.utf8)) }.prefix(10)
        let expected = top.map { "\($0.count) \($0.word)\n" }.joined()

        let run = try runCommand(vmExecutable, ["run", repositoryRoot.appendingPathComponent("vm-examples/word_count.ska").path], stdinFile: file.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == expected)
    }
}
