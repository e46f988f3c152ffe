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

/// Backpressure: a writer to a peer that does not read is suspended once the socket buffers are
/// full, instead of buffering without bound.
@Suite struct BackpressureTests {
    @Test func aWriterToASlowPeerIsSuspended() throws {
        // The peer: a listening socket in this test that accepts but does not read at first.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(listener, sa, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, sa, &length) == 0
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
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
