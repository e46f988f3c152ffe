import Foundation
import Testing

/// `docs/tutorial.md` runs as written: every ```ska block that starts with `; file: NAME` is
/// saved under that name in a temporary folder, and every ```console block's `$ ` commands run
/// there (with this build's `vm` first on PATH) and must print the lines that follow them.
@Suite(.timeLimit(.minutes(3))) struct TutorialTests {
    /// The fenced blocks of a Markdown text: (info string, lines).
    static func blocks(_ text: String) -> [(kind: String, lines: [String])] {
        var result: [(String, [String])] = [], open: (String, [String])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let block = open { result.append(block); open = nil } else { open = (String(line.dropFirst(3)), []) }
            } else {
                open?.1.append(line)
            }
        }
        return result
    }

    @Test func theTutorialRunsAsWritten() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/tutorial.md"), encoding: .utf8)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skein-tutorial-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var programs = 0, commands = 0
        let blocks = Self.blocks(text)
        for block in blocks where block.kind == "ska" {
            guard let first = block.lines.first, first.hasPrefix("; file: ") else { continue }
            let file = folder.appendingPathComponent(String(first.dropFirst("; file: ".count)))
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try block.lines.dropFirst().joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
            programs += 1
        }
        let vmFolder = URL(fileURLWithPath: vmExecutable).deletingLastPathComponent().path
        for block in blocks where block.kind == "console" {
            var pending: (command: String, expected: [String])?
            func check() throws {
                guard let (command, expected) = pending else { return }
                let run = try runCommand("/bin/sh", ["-c", "cd '\(folder.path)' && export PATH='\(vmFolder)':\"$PATH\" && \(command)"])
                #expect(run.stdout == expected.map { $0 + "\n" }.joined(), "\(command): \(run.stderr)")
                commands += 1
            }
            for line in block.lines {
                if line.hasPrefix("$ ") {
                    try check()
                    pending = (String(line.dropFirst(2)), [])
                } else {
                    pending?.expected.append(line)
                }
            }
            try check()
        }
        #expect(programs == 7 && commands == 7, "\(programs) programs, \(commands) commands")
    }
}
