import Foundation
import Testing
@testable import Skein

/// An IO example run as a real `vm` process on a free port (`vm run EXAMPLE 0`): the port is
/// read from the line it prints, "listening on …:PORT". Killed when stopped or released.
final class ExampleServer {
    let process = Foundation.Process()
    let port: UInt16
    /// The server's stdout, kept open: a closed pipe would end `vm run` at its next print.
    private let output = Pipe()

    /// Runs `vm-examples/EXAMPLE`. `launcher` runs before `vm` (e.g. a shell that lowers a
    /// limit, then execs its arguments).
    convenience init(_ example: String, launcher: [String] = []) throws {
        try self.init(program: repositoryRoot.appendingPathComponent("vm-examples/\(example)").path, launcher: launcher)
    }

    /// Runs the program at `program` (any path) like an example.
    init(program: String, launcher: [String] = []) throws {
        let example = (program as NSString).lastPathComponent
        let command = launcher + [vmExecutable, "run", "--workers", "2", program, "0"]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = Self.line(output.fileHandleForReading.fileDescriptor, waitingAtMost: 20_000)
        guard let digits = line.split(separator: ":").last?.prefix(while: \.isNumber), let port = UInt16(digits) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "\(example) printed \(line.debugDescription), not its port"])
        }
        self.port = port
    }


    deinit { stop() }

    /// Whether the server process is still alive.
    var isRunning: Bool { process.isRunning }

    /// Kills the server (idempotent).
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The next line the server prints ("" if none comes within `milliseconds` per byte).
    func nextLine(waitingAtMost milliseconds: Int32) -> String {
        Self.line(output.fileHandleForReading.fileDescriptor, waitingAtMost: milliseconds)
    }

    /// The next line written to `fd`, reading while it comes within `milliseconds` per byte.
    private static func line(_ fd: Int32, waitingAtMost milliseconds: Int32) -> String {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&poller, 1, milliseconds) == 1, read(fd, &byte, 1) == 1, byte != 10 { line.append(byte) }
        return String(decoding: line, as: UTF8.self)
    }
}

/// The IO examples driven by real clients from outside the VM. Every server runs on a free
/// port, so the tests run in parallel.
@Suite struct IOTests {
    /// A blocking TCP client socket to 127.0.0.1:`port`, retrying while the server starts.
    static func connect(_ port: UInt16, attempts: Int = 100) throws -> Int32 {
        for _ in 0..<attempts {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) {
                Glibc.connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
            if ok { return fd }
            close(fd)
            usleep(50_000)
        }
        throw CocoaError(.fileReadUnknown)
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads until `count` bytes arrived (or the peer closed).
    static func receive(_ fd: Int32, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += chunk[..<n]
        }
        return out
    }

    @Test func echoServerHandlesManyClientsLargePayloadsAndAbruptDisconnects() throws {
        let server = try ExampleServer("echo_server.ska")
        let port = server.port
        // Abrupt disconnects: half a line, then gone.
        for _ in 0..<20 {
            let fd = try Self.connect(port)
            Self.send(fd, Array("partial line without newline".utf8))
            close(fd)
        }
        // 50 concurrent clients, 100 lines each.
        let failures = Locked(0)
        ConcurrencyTests.onThreads(50) { i in
            guard let fd = try? Self.connect(port) else { failures.withLock { $0 += 1 }; return }
            defer { close(fd) }
            var expected: [UInt8] = []
            for j in 0..<100 {
                let line = Array("client \(i) line \(j)\n".utf8)
                expected += line
                Self.send(fd, line)
            }
            if Self.receive(fd, count: expected.count) != expected { failures.withLock { $0 += 1 } }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    /// Lines up to the read limit (64 KiB) echo exactly, even when they arrive in many chunks;
    /// a longer line is refused (`:too_long`) and the server closes that connection only.
    @Test func echoServerEchoesLinesUpToTheLimitAndClosesOnLongerOnes() throws {
        let server = try ExampleServer("echo_server.ska")
        var random = SeededRandom(seed: 4)
        let fd = try Self.connect(server.port)
        defer { close(fd) }
        let big = (0..<(IOOperations.defaultReadLimit - 1)).map { _ in UInt8.random(in: 97...122, using: &random) } + [13, 10]
        let writer = Thread { for chunk in stride(from: 0, to: big.count, by: 1000) { Self.send(fd, Array(big[chunk..<min(chunk + 1000, big.count)])) } }
        writer.start()
        #expect(Self.receive(fd, count: big.count - 1) == Array(big.dropLast(2)) + [10])
        let tooLong = try Self.connect(server.port)
        defer { close(tooLong) }
        Self.send(tooLong, [UInt8](repeating: 120, count: IOOperations.defaultReadLimit + 1))
        #expect(Self.receive(tooLong, count: 1).isEmpty, "the server closes a connection whose line is too long")
        Self.send(fd, Array("still served\n".utf8))
        #expect(Self.receive(fd, count: 13) == Array("still served\n".utf8))
    }

    @Test func httpServerAnswersCurlWithKeepAlive() throws {
        let server = try ExampleServer("http_hello.ska")
        let url = "http://127.0.0.1:\(server.port)/"
        // Two requests on one connection (curl reuses it), plus a second client.
        let r = try runCommand("/usr/bin/curl", ["-s", "-v", url, url + "again"])
        #expect(r.stdout == "Hello, world\nHello, world\n")
        #expect(r.stderr.contains("Re-using existing connection") || r.stderr.contains("Reusing existing connection"))
        let again = try runCommand("/usr/bin/curl", ["-s", "-i", url])
        #expect(again.stdout.hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func lineCountFilterReadsStdin() throws {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: vmExecutable)
        process.arguments = ["run", repositoryRoot.appendingPathComponent("vm-examples/line_count.ska").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let lines = (0..<100_000).map { "line \($0)\n" }.joined()
        let writer = Thread {
            input.fileHandleForWriting.write(Data(lines.utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: data, as: UTF8.self) == "100000\n")
    }

    @Test func fileCopyCopiesMegabytesExactly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skein-copy-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("in"), target = dir.appendingPathComponent("out")
        var random = SeededRandom(seed: 8)
        let bytes = (0..<(6 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
        try Data(bytes).write(to: source)
        let r = try runCommand(vmExecutable, ["run", repositoryRoot.appendingPathComponent("vm-examples/file_copy.ska").path,
                                              source.path, target.path])
        #expect(r.stdout == "\(bytes.count)\n")
        #expect(try Data(contentsOf: target) == Data(bytes))
    }

    @Test func oneVMHoldsTenThousandIdleConnections() throws {
        let server = try ExampleServer("echo_server.ska")
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<10_000 { sockets.append(try Self.connect(server.port)) }
        // Every connection is live: a sample of them still echoes.
        for fd in sockets.enumerated().filter({ $0.offset % 1000 == 0 }).map(\.element) {
            Self.send(fd, Array("still here\n".utf8))
            #expect(Self.receive(fd, count: 11) == Array("still here\n".utf8))
        }
    }
}

/// `vm run` as a user runs it: arguments for main/1, programs from stdin, scripts run directly,
/// and output that survives a termination signal.
@Suite struct CommandLineRunTests {
    static let printArguments = """
    #!/usr/bin/env -S vm run
    func main/1
        print r0
        ret   r0
    end

    """

    /// A temporary directory holding `printArguments` as an executable `args.ska`.
    static func script() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skein-args-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("args.ska")
        try printArguments.write(to: file, atomically: true, encoding: .utf8)
        chmod(file.path, 0o755)
        return file
    }

    @Test func argumentsReachMainAfterTheProgramOrAfterDashDash() throws {
        let file = try Self.script()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let r = try runCommand(vmExecutable, ["run", "--workers", "1", file.path, "a", "b c", "--workers", "--", "d"])
        #expect(r.stdout == "[\"a\", \"b c\", \"--workers\", \"--\", \"d\"]\n", "\(r.stderr)")
        #expect(try runCommand(vmExecutable, ["run", "--", file.path, "x"]).stdout == "[\"x\"]\n")
        #expect(try runCommand(vmExecutable, ["run", file.path]).stdout == "[]\n")
        // main/0 ignores arguments.
        #expect(try runCommand(vmExecutable, ["run", ExamplesTests.directory.appendingPathComponent("hello.ska").path, "x"]).status == 0)
    }

    @Test func aProgramFromStdinAndAScriptRunDirectly() throws {
        let file = try Self.script()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let fromStdin = try runCommand("/bin/sh", ["-c", "\"$0\" run - one < \"$1\"", vmExecutable, file.path])
        #expect(fromStdin.stdout == "[\"one\"]\n", "\(fromStdin.stderr)")
        // The kernel runs `env -S vm run FILE ARGS`: vm must be on the PATH.
        let vmDirectory = URL(fileURLWithPath: vmExecutable).deletingLastPathComponent().path
        let direct = try runCommand("/bin/sh", ["-c", "PATH=\"$0:$PATH\" \"$1\" two", vmDirectory, file.path])
        #expect(direct.stdout == "[\"two\"]\n", "\(direct.stderr)")
    }

    /// Found by `bench/run`, which reads a program's "ready" line through `stdbuf -oL`: once
    /// stdout was buffered by Skein instead of stdio, the line stayed in the buffer until the
    /// program ended. Line buffering is asked for with `_STDBUF_O` (what `stdbuf -oL` sets) or
    /// given by a terminal, and each line then goes out as it is printed.
    @Test func stdbufLineBufferingIsHonoured() throws {
        let program = FileManager.default.temporaryDirectory.appendingPathComponent("skein-stdbuf-\(getpid()).ska")
        try "func main/0\n    load r0, \"ready\"\n    print r0\n    sleep 3000\n    load r0, :ok\n    ret r0\nend\n"
            .write(to: program, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: program) }
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: vmExecutable)
        process.arguments = ["run", program.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["_STDBUF_O": "L"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var poller = pollfd(fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        var chunk = [UInt8](repeating: 0, count: 64)
        let ready = poll(&poller, 1, 2500) == 1 ? read(poller.fd, &chunk, chunk.count) : 0
        #expect(process.isRunning, "the program ended before its line was read")
        #expect(ready > 0 && String(decoding: chunk[..<max(ready, 0)], as: UTF8.self) == "ready\n")
        process.waitUntilExit()
    }

    @Test func aDirectoryIsNotAProgram() throws {
        let r = try runCommand(vmExecutable, ["run", FileManager.default.temporaryDirectory.path])
        #expect(r.status == 74 && r.stderr.contains("is a directory"), "\(r.stderr)")
    }

    /// Found: stdout is block-buffered, and what a program printed was lost when the VM was
    /// ended by a signal. Now SIGTERM and SIGINT stop the VM's processes, flush what was
    /// printed, print `--stats`, and still end `vm` by the same signal (130/143 in a shell); a
    /// fatal signal writes out what was printed with write(2) alone (no stats then).
    @Test(arguments: [SIGTERM, SIGINT, SIGABRT, SIGSEGV, SIGBUS])
    func outputSurvivesSignals(_ signal: Int32) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skein-term-\(getpid())-\(signal)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = dir.appendingPathComponent("sleeper.ska")
        // main prints, then has another process fail: its report on (unbuffered) stderr tells
        // the test that the print is done. No IO runs, so nothing else flushes stdout.
        try """
        func fail/0
            load  r0, "ready"
            raise r0
        end
        func main/0
            load  r0, "printed before the signal"
            print r0
            spawn r1, fail
            sleep 60000
            ret   r0
        end

        """.write(to: program, atomically: true, encoding: .utf8)
        let output = dir.appendingPathComponent("out")
        #expect(FileManager.default.createFile(atPath: output.path, contents: nil))
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: vmExecutable)
        process.arguments = ["run", "--stats", program.path]
        // The Swift runtime's backtracer would take over a fatal signal (and take its time).
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        var report: [UInt8] = []
        var poller = pollfd(fd: errors.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: report, as: UTF8.self).contains("ready"), poll(&poller, 1, 20_000) == 1 {
            let n = read(poller.fd, &chunk, chunk.count)
            if n <= 0 { break }
            report += chunk[..<n]
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
        #expect(try String(contentsOf: output, encoding: .utf8) == "printed before the signal\n")
        let stats = String(decoding: report + errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if signal == SIGTERM || signal == SIGINT {
            #expect(stats.contains("of wall-clock time") && stats.contains("at the peak") && stats.contains("1 spawned by processes"), "\(stats)")
        }
    }
}

/// Reads with a size limit and a timeout, run in-process against a peer in the test.
@Suite struct ReadLimitTests {
    /// A listening socket on a free loopback port.
    static func listener() -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// A program connects to the test's listener; `body` reads from the socket in r10.
    static func run(_ body: String, peer: @escaping @Sendable (Int32) -> Void) throws -> RunResult {
        let (listening, port) = listener()
        defer { close(listening) }
        let thread = Thread {
            // Not forever: a program that fails before it connects must not hang the test.
            var poller = pollfd(fd: listening, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 20_000) == 1 else { return }
            let client = accept(listening, nil, nil)
            peer(client)
            close(client)
        }
        thread.start()
        defer { while !thread.isFinished { usleep(1000) } }
        return try runProgram("""
        func main/0
            load  r0, "127.0.0.1"
            load  r1, \(port)
            io    r2, :tcp_connect, r0, 2
            get   r10, r2, 1
        \(body)
            ret   r0
        end
        """, workers: 2)
    }

    /// Waits until `fd` has `text` to read and reads it.
    static func expect(_ fd: Int32, _ text: String) -> Bool {
        IOTests.receive(fd, count: text.utf8.count) == Array(text.utf8)
    }

    @Test func aReadTimesOutWithAnErrorValueAndKeepsWhatArrived() throws {
        let r = try Self.run("""
            move  r11, r10
            load  r12, nil
            load  r13, 100
            io    r3, :read_line, r11, 3      ; only "part" arrives: times out after 100 ms
            get   r4, r3, 1
            print r4
            move  r5, r10
            load  r6, "timed out\\n"
            io    r7, :write, r5, 2
            io    r3, :read_line, r10, 1      ; no timeout: the rest of the line completes it
            print r3
        """) { fd in
            IOTests.send(fd, Array("part".utf8))
            guard Self.expect(fd, "timed out\n") else { return }
            IOTests.send(fd, Array("ial\n".utf8))
        }
        #expect(r.output == ":timeout\n{:ok, \"partial\"}\n", "\(r.errors)")
    }

    @Test func lineAndDelimiterReadsStopAtTheirLimit() throws {
        let r = try Self.run("""
            move  r11, r10
            load  r12, 50
            io    r3, :read_line, r11, 2      ; 60 bytes without a newline: over the limit of 50
            get   r4, r3, 1
            print r4
            move  r11, r10
            load  r12, 1000
            io    r3, :read, r11, 2           ; they stay buffered for a plain read
            get   r4, r3, 1
            len   r4, r4
            print r4
            move  r5, r10
            load  r6, "next\\n"
            io    r7, :write, r5, 2
            move  r11, r10
            load  r12, 200000
            io    r3, :read_line, r11, 2      ; a 100,000-byte line within a limit of 200,000
            get   r4, r3, 1
            len   r4, r4
            print r4
            move  r11, r10
            load  r12, "\\r\\n\\r\\n"
            load  r13, 10
            io    r3, :read_until, r11, 3     ; "0123456789\\r\\n\\r\\n" is 14 bytes: over 10
            get   r4, r3, 1
            print r4
            move  r11, r10
            load  r12, "\\r\\n\\r\\n"
            io    r3, :read_until, r11, 2     ; the default limit (64 KiB) takes it
            get   r4, r3, 1
            len   r4, r4
            print r4
        """) { fd in
            IOTests.send(fd, [UInt8](repeating: 120, count: 60))
            guard Self.expect(fd, "next\n") else { return }
            IOTests.send(fd, [UInt8](repeating: 121, count: 100_000) + [10] + Array("0123456789\r\n\r\n".utf8))
        }
        #expect(r.output == ":too_long\n60\n100000\n:too_long\n14\n", "\(r.errors)")
    }

    @Test func badLimitsAndTimeoutsAreTypeErrorsOfTheProcess() throws {
        let r = try Self.run("""
            move  r11, r10
            load  r12, 0
            io    r3, :read_line, r11, 2      ; a limit must be positive
        """) { _ in }
        #expect(r.errors.contains("positive size limit"), "\(r.errors)")
        #expect(throws: (any Error).self) {
            try runProgram("func main/0\n    load r0, 1\n    io r1, :read_line, r0, 4\n    ret r1\nend\n")
        }
    }
}

/// The line and delimiter search of received bytes.
@Suite struct ReceiveBufferTests {
    static func append(_ buffer: inout ReceiveBuffer, _ text: String) {
        Array(text.utf8).withUnsafeBytes { buffer.append($0) }
    }

    @Test func linesDelimitersAndLimitsAcrossChunks() {
        var buffer = ReceiveBuffer()
        Self.append(&buffer, "one\r\ntw")
        guard case .bytes(let one) = buffer.takeLine(limit: 10) else { Issue.record("no line"); return }
        #expect(one == Array("one".utf8))
        guard case .incomplete = buffer.takeLine(limit: 10) else { Issue.record("a line without its newline"); return }
        Self.append(&buffer, "o\nx")
        guard case .bytes(let two) = buffer.takeLine(limit: 10) else { Issue.record("no line"); return }
        #expect(two == Array("two".utf8))
        // A delimiter split across chunks is found.
        Self.append(&buffer, "yz\r\n\r")
        guard case .incomplete = buffer.take(through: Array("\r\n\r\n".utf8), limit: 100) else { Issue.record("early"); return }
        Self.append(&buffer, "\nrest")
        guard case .bytes(let head) = buffer.take(through: Array("\r\n\r\n".utf8), limit: 100) else { Issue.record("no head"); return }
        #expect(head == Array("xyz\r\n\r\n".utf8))
        // Over the limit without a newline: too long, and the bytes stay for a plain read.
        Self.append(&buffer, "abcdefgh")
        guard case .tooLong = buffer.takeLine(limit: 8) else { Issue.record("not too long"); return }
        #expect(buffer.take(max: 100) == Array("restabcdefgh".utf8))
        buffer.eof = true
        guard case .incomplete = buffer.takeLine(limit: 8) else { Issue.record("data from nowhere"); return }
    }

    /// libuv's path: reads land in the space `reserve` gives (no copy), pieces are handed out in
    /// place, and growing or compacting the storage keeps what is buffered and where the search
    /// stopped.
    @Test func readsIntoReservedSpaceAndHandsPiecesOutInPlace() {
        var buffer = ReceiveBuffer()
        func read(_ text: String) {
            let bytes = Array(text.utf8)
            let space = buffer.reserve()
            #expect(space.count >= ReceiveBuffer.minimumRead)
            bytes.withUnsafeBytes { space.copyMemory(from: $0) }
            buffer.commit(bytes.count)
        }
        read("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2")
        guard case .piece(let head) = buffer.find(through: Array("\r\n\r\n".utf8), limit: 1000) else {
            Issue.record("no head"); return
        }
        #expect(buffer.hand(head) { String(decoding: $0, as: UTF8.self) } == "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(buffer.count == 6)
        // Many more reads than the first allocation holds: the storage grows (or compacts) and
        // the half-line already buffered stays in front, searched once.
        let filler = String(repeating: "y", count: 3000)
        for _ in 0..<20 { read(filler) }
        let searched = buffer.bytesSearched
        guard case .incomplete = buffer.findLine(limit: .max) else { Issue.record("a line from nowhere"); return }
        read("\n")
        guard case .piece(let line) = buffer.findLine(limit: .max) else { Issue.record("no line"); return }
        #expect(buffer.hand(line) { Array($0) } == Array(("GET /2" + String(repeating: filler, count: 20)).utf8))
        #expect(buffer.bytesSearched - searched <= 6 + 20 * 3000 + 1)
        #expect(buffer.count == 0)
    }

    /// The search resumes where it stopped: a line that arrives a byte at a time costs as many
    /// comparisons as it has bytes (before, every chunk rescanned the whole buffer: 100 MB
    /// without a newline took 106 s of CPU).
    @Test func eachByteIsSearchedOnce() {
        var buffer = ReceiveBuffer()
        for _ in 0..<10_000 {
            Self.append(&buffer, "x")
            guard case .incomplete = buffer.takeLine(limit: .max) else { Issue.record("a line from nowhere"); return }
        }
        #expect(buffer.bytesSearched == 10_000)
    }
}

/// Backpressure: a writer to a peer that does not read is suspended once the socket buffers are
/// full, instead of buffering without bound.
@Suite struct BackpressureTests {
    @Test func aWriterToASlowPeerIsSuspended() throws {
        // The peer: a listening socket in this test that accepts but does not read at first.
        let (listener, port) = ReadLimitTests.listener()
        defer { close(listener) }
        let program = FileManager.default.temporaryDirectory.appendingPathComponent("skein-backpressure-\(getpid()).ska")
        try """
        func writer/2                   ; writer(main, socket): 64 writes of 1 MiB
            load   r2, "x"
            load   r3, 0
        grow:
            concat r2, r2, r2
            add    r3, r3, 1
            jlt    r3, 20, grow         ; 2^20 bytes
            load   r4, 0
        loop:
            move   r5, r1
            move   r6, r2
            io     r7, :write, r5, 2    ; completes only when written
            load   r8, :wrote
            send   r0, r8
            add    r4, r4, 1
            jlt    r4, 64, loop
            ret    r4
        end
        func main/0
            self   r0
            load   r10, "127.0.0.1"
            load   r11, \(port)
            io     r12, :tcp_connect, r10, 2
            get    r1, r12, 1
            spawn  r13, writer, r0
            sleep  700                  ; the peer reads nothing meanwhile
            load   r14, 0
        count:
            recv   r15, 0, counted      ; writes completed so far
            add    r14, r14, 1
            jmp    count
        counted:
            print  r14
            load   r16, 64
        rest:
            jge    r14, r16, done       ; then wait for the others, as the peer drains
            recv   r15
            add    r14, r14, 1
            jmp    rest
        done:
            print  r14
            ret    r14
        end
        """.write(to: program, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: program) }
        let drained = Locked(0)
        let reader = Thread {
            let client = accept(listener, nil, nil)
            usleep(1_500_000)  // read nothing until the program has counted its writes
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                drained.withLock { $0 += n }
            }
            close(client)
        }
        reader.start()
        let r = try runCommand(vmExecutable, ["run", "--workers", "2", program.path])
        let lines = r.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(lines.count == 2, "\(r.stdout) \(r.stderr)")
        #expect(lines.first ?? 64 < 32, "writes completed while the peer was not reading: \(lines)")
        #expect(lines.last == 64)
        while !reader.isFinished { usleep(10_000) }
        #expect(drained.withLock { $0 } == 64 << 20)
    }
}

/// IO operations are resolved from their atoms when a program is loaded.
@Suite struct IOOperationLoadingTests {
    /// A binary whose `io` names an operation that does not exist (the assembler would refuse
    /// to write it; a mutated or hand-made module can hold it) is rejected by the verifier, with
    /// the function and the instruction's position, before anything runs.
    @Test func anUnknownOperationIsRejectedAtLoadNamingFunctionAndPosition() throws {
        var module = try Assembler.assemble("func main/0\n    load r1, 0\n    io r0, :close, r1, 1\n    ret r0\nend\n", file: "t.ska")
        let index = try #require(module.atoms.firstIndex(of: "close"))
        module.atoms[index] = "frobnicate"
        #expect(throws: LoadError.self) { try Verifier.verify(module) }
        do {
            _ = try VM(module: module)
            Issue.record("a module with an unknown IO operation loaded")
        } catch {
            #expect(error.location.hasPrefix("function main/0, word ") && error.location.hasSuffix(" (io)"), "\(error)")
            #expect(error.message.contains("unknown IO operation :frobnicate"), "\(error)")
        }
    }

    /// Every operation's name resolves to its kind and back, so the loader's table and the
    /// assembler's check agree.
    @Test func everyOperationNameResolves() {
        for kind in IOOperationKind.allCases { #expect(IOOperationKind(name: kind.name) == kind) }
        #expect(IOOperationKind(name: "frobnicate") == nil)
    }
}

/// A process blocked in IO acts on an exit signal at once.
@Suite struct IOInterruptTests {
    /// A process blocked in `tcp_accept` is killed (`exit pid, :kill`) and one blocked in
    /// `read_line` gets an exit signal (`:shutdown`): each ends at once, its monitor sees the
    /// reason, and its handles are released (the killed acceptor's port can be listened on
    /// again). Before, both stayed blocked until their IO completed: for ever here.
    @Test func exitSignalsEndProcessesBlockedInAcceptAndRead() throws {
        let r = try runProgram("""
        func acceptor/1                 ; acceptor(parent): listens, sends its port, blocks in accept
            load  r1, "127.0.0.1"
            load  r2, 0
            io    r3, :tcp_listen, r1, 2
            get   r4, r3, 1
            io    r5, :local_address, r4, 1
            get   r6, r5, 1
            get   r7, r6, 1
            send  r0, r7
            io    r8, :tcp_accept, r4, 1
            ret   r8
        end

        func reader/1                   ; reader(port): connects, blocks reading a line that never comes
            load  r1, "127.0.0.1"
            move  r2, r0
            io    r3, :tcp_connect, r1, 2
            get   r4, r3, 1
            io    r5, :read_line, r4, 1
            ret   r5
        end

        func main/0
            self  r0
            spawn r1, acceptor, r0
            recv  r2, 10000, stuck      ; the acceptor's port
            monitor r3, r1
            sleep 50                    ; (it is in its accept by now, most likely)
            load  r4, :kill
            exit  r1, r4
            recv  r5, 10000, stuck      ; {:DOWN, ref, pid, :killed}
            get   r6, r5, 3
            print r6
            load  r6, "127.0.0.1"
            move  r7, r2
            io    r8, :tcp_listen, r6, 2
            get   r9, r8, 0
            jne   r9, :ok, held         ; the killed acceptor still holds its port
            get   r10, r8, 1
            spawn r11, reader, r2
            monitor r13, r11
            io    r12, :tcp_accept, r10, 1
            sleep 50                    ; (it is in its read by now, most likely)
            load  r14, :shutdown
            exit  r11, r14
            recv  r15, 10000, stuck
            get   r16, r15, 3
            print r16
            load  r0, :done
            ret   r0
        stuck:
            load  r0, :stuck
            print r0
            ret   r0
        held:
            print r8
            ret   r8
        end
        """, workers: 2)
        #expect(r.output.split(separator: "\n").map(String.init) == [":killed", ":shutdown"], "\(r.output)")
    }
}
