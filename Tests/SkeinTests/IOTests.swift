import Foundation
import Testing
@testable import Skein

/// The IO examples driven by real clients from outside the VM. Serialized: the servers use
/// fixed ports.
@Suite(.serialized) struct IOTests {
    /// Starts `vm run EXAMPLE` in the background; stops it when the returned closure is called.
    static func startServer(_ example: String) throws -> () -> Void {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: vmExecutable)
        process.arguments = ["run", "--workers", "2", repositoryRoot.appendingPathComponent("vm-examples/\(example)").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

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
        let stop = try Self.startServer("echo_server.ska")
        defer { stop() }
        close(try Self.connect(7777))  // wait until it listens
        // Abrupt disconnects: half a line, then gone.
        for _ in 0..<20 {
            let fd = try Self.connect(7777)
            Self.send(fd, Array("partial line without newline".utf8))
            close(fd)
        }
        // 50 concurrent clients, 100 lines each.
        let failures = Locked(0)
        ConcurrencyTests.onThreads(50) { i in
            guard let fd = try? Self.connect(7777) else { failures.withLock { $0 += 1 }; return }
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
        // A 4 MiB line.
        let fd = try Self.connect(7777)
        defer { close(fd) }
        var random = SeededRandom(seed: 4)
        let big = (0..<(4 << 20)).map { _ in UInt8.random(in: 97...122, using: &random) } + [10]
        let writer = Thread { Self.send(fd, big) }
        writer.start()
        #expect(Self.receive(fd, count: big.count) == big)
    }

    @Test func httpServerAnswersCurlWithKeepAlive() throws {
        let stop = try Self.startServer("http_hello.ska")
        defer { stop() }
        close(try Self.connect(8080))
        // Two requests on one connection (curl reuses it), plus a second client.
        let r = try runCommand("/usr/bin/curl", ["-s", "-v", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/again"])
        #expect(r.stdout == "Hello, world\nHello, world\n")
        #expect(r.stderr.contains("Re-using existing connection") || r.stderr.contains("Reusing existing connection"))
        let again = try runCommand("/usr/bin/curl", ["-s", "-i", "http://127.0.0.1:8080/"])
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
        var random = SeededRandom(seed: 8)
        let bytes = (0..<(6 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
        try Data(bytes).write(to: URL(fileURLWithPath: "/tmp/skein-copy-in"))
        let r = try runCommand(vmExecutable, ["run", repositoryRoot.appendingPathComponent("vm-examples/file_copy.ska").path])
        #expect(r.stdout == "\(bytes.count)\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "/tmp/skein-copy-out")) == Data(bytes))
    }

    @Test func oneVMHoldsTenThousandIdleConnections() throws {
        let stop = try Self.startServer("echo_server.ska")
        defer { stop() }
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<10_000 { sockets.append(try Self.connect(7777)) }
        // Every connection is live: a sample of them still echoes.
        for fd in sockets.enumerated().filter({ $0.offset % 1000 == 0 }).map(\.element) {
            Self.send(fd, Array("still here\n".utf8))
            #expect(Self.receive(fd, count: 11) == Array("still here\n".utf8))
        }
    }
}
