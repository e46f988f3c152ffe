import Foundation
import Testing
@testable import Skein

/// The IO sandbox for untrusted code (`VM.Options.capabilities`, `vm run --sandbox`): a refused
/// operation is the process's `{:error, :EACCES, reason}`, never a crash, and what is allowed
/// still works.
@Suite(.timeLimit(.minutes(5))) struct SandboxTests {
    /// A folder with `inside.txt`, a link `escape` to a file outside it, and `outside.txt` next
    /// to the folder.
    static func makeTree() throws -> (root: URL, allowed: URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skein-sandbox-\(getpid())-\(UUID().uuidString)")
        let allowed = root.appendingPathComponent("allowed")
        try FileManager.default.createDirectory(at: allowed, withIntermediateDirectories: true)
        try "inside".write(to: allowed.appendingPathComponent("inside.txt"), atomically: true, encoding: .utf8)
        try "outside".write(to: root.appendingPathComponent("outside.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: allowed.appendingPathComponent("escape"),
                                                   withDestinationURL: root.appendingPathComponent("outside.txt"))
        return (root, allowed)
    }

    /// Runs `io rD, :operation, …` with `arguments` (literals) under `capabilities`; returns
    /// its result.
    static func io(_ operation: String, _ arguments: [String], _ capabilities: Capabilities) throws -> Term {
        let loads = arguments.enumerated().map { "    load r\($0.offset), \($0.element)\n" }.joined()
        let source = "func main/0\n\(loads)    io r9, :\(operation), r0, \(arguments.count)\n    ret r9\nend\n"
        var options = VM.Options(workers: 1, output: Capture().sink, errors: Capture().sink)
        options.capabilities = capabilities
        let vm = try VM(module: try Assembler.assemble(source, file: "sandbox.ska"), options: options)
        defer { vm.shutdown() }
        guard case .returned(let result) = vm.runMain() else { Issue.record("main did not return"); return .nil }
        return result
    }

    /// Whether `term` is `{:error, :EACCES, _}`.
    static func refused(_ term: Term) -> Bool {
        if case .tuple(let items) = term, items.count == 3, items[0] == .atom("error"), items[1] == .atom("EACCES") { return true }
        return false
    }

    @Test func readOnlyDirectoriesAllowReadingInsideOnly() throws {
        let (root, allowed) = try Self.makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let sandbox = Capabilities(files: .readOnly(under: [allowed.path]), network: .none, stdin: false)
        let quote = { (url: URL) in "\"\(url.path)\"" }
        #expect(try Self.io("read_file", [quote(allowed.appendingPathComponent("inside.txt"))], sandbox) == .tuple([.atom("ok"), .string("inside")]))
        #expect(Self.refused(try Self.io("read_file", [quote(root.appendingPathComponent("outside.txt"))], sandbox)))
        #expect(Self.refused(try Self.io("read_file", [quote(allowed.appendingPathComponent("escape"))], sandbox)), "a link leads out")
        #expect(Self.refused(try Self.io("read_file", ["\"\(allowed.path)/../outside.txt\""], sandbox)), "../ leads out")
        #expect(Self.refused(try Self.io("read_file", ["\"/etc/passwd\""], sandbox)))
        #expect(Self.refused(try Self.io("file_open", [quote(allowed.appendingPathComponent("new.txt")), ":write"], sandbox)), "read-only")
        #expect(!FileManager.default.fileExists(atPath: allowed.appendingPathComponent("new.txt").path))
        if case .tuple(let items) = try Self.io("file_stat", [quote(allowed.appendingPathComponent("inside.txt"))], sandbox) {
            #expect(items.first == .atom("ok"))
        } else { Issue.record("file_stat inside the directory failed") }
    }

    @Test func noFilesNoNetworkNoStdin() throws {
        #expect(Self.refused(try Self.io("read_file", ["\"/etc/hostname\""], .none)))
        #expect(Self.refused(try Self.io("file_open", ["\"/tmp/x\"", ":read"], .none)))
        #expect(Self.refused(try Self.io("tcp_listen", ["\"127.0.0.1\"", "0"], .none)))
        #expect(Self.refused(try Self.io("tcp_connect", ["\"127.0.0.1\"", "9"], .none)))
        #expect(Self.refused(try Self.io("stdin_line", [], .none)))
        // Connecting alone does not allow listening.
        #expect(Self.refused(try Self.io("tcp_listen", ["\"127.0.0.1\"", "0"], Capabilities(network: .connect))))
    }

    @Test func whatIsAllowedStillWorks() throws {
        let listened = try Self.io("tcp_listen", ["\"127.0.0.1\"", "0"], Capabilities(files: .none, network: .listen, stdin: false))
        guard case .tuple(let items) = listened else { Issue.record("\(listened)"); return }
        #expect(items.first == .atom("ok"), "\(listened)")
    }

    /// `vm run --sandbox --allow-read DIR`.
    @Test func theCommandLineSandboxes() throws {
        let (root, allowed) = try Self.makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let program = root.appendingPathComponent("reader.ska")
        try """
        func main/1
            get   r1, r0, 0
            move  r0, r1
            io    r2, :read_file, r0, 1
            get   r3, r2, 1
            print r3
            load  r3, :ok
            ret   r3
        end
        """.write(to: program, atomically: true, encoding: .utf8)
        let inside = try runCommand(vmExecutable, ["run", "--sandbox", "--allow-read", allowed.path, program.path,
                                                    allowed.appendingPathComponent("inside.txt").path])
        #expect(inside.stdout == "\"inside\"\n" || inside.stdout == "inside\n", "\(inside.stdout) \(inside.stderr)")
        let outside = try runCommand(vmExecutable, ["run", "--sandbox", "--allow-read", allowed.path, program.path,
                                                     root.appendingPathComponent("outside.txt").path])
        #expect(outside.stdout == ":EACCES\n", "\(outside.stdout) \(outside.stderr)")
    }
}
