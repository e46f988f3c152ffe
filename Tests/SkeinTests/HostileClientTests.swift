import Foundation
import Testing
@testable import Skein

/// Hostile clients against the echo and HTTP examples, each run as a real `vm` process on a free
/// loopback port: clients that close without reading, reset, pipeline then close, send garbage
/// or oversized lines, sit idle, read slowly or never. After each case the server must still
/// run and answer a well-behaved client. Every case is bounded in connections and bytes, and
/// every socket has send and receive timeouts, so the suite ends by itself.
@Suite struct HostileClientTests {
    /// The examples under attack.
    enum Target: String, CaseIterable, CustomTestStringConvertible {
        case echo = "echo_server.ska"
        case http = "http_hello.ska"

        var testDescription: String { rawValue }

        /// A request a well-behaved client sends, and the answer it must get.
        var exchange: (request: String, answer: String) {
            switch self {
            case .echo: ("ping\n", "ping\n")
            case .http: ("GET / HTTP/1.1\r\nHost: skein\r\n\r\n", Self.response)
            }
        }

        /// A burst that makes the server write while the client is not reading.
        var burst: [UInt8] {
            switch self {
            case .echo: Array(String(repeating: "hello, echo\n", count: 2000).utf8)
            case .http: Array(String(repeating: "GET / HTTP/1.1\r\nHost: skein\r\n\r\n", count: 500).utf8)
            }
        }

        static let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world\n"
    }

    /// Seconds any single send or receive of the suite may block.
    static let socketTimeout = 10

    /// A client socket with send and receive timeouts.
    static func client(_ port: UInt16) throws -> Int32 {
        let fd = try IOTests.connect(port)
        var timeout = timeval(tv_sec: socketTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Closes `fd` with a reset (SO_LINGER 0) instead of an orderly FIN.
    static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    /// The server process is alive and answers a fresh well-behaved client.
    static func expectServes(_ server: ExampleServer, _ target: Target, after attack: String,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(server.isRunning, "the \(target.rawValue) server died after \(attack)", sourceLocation: sourceLocation)
        guard server.isRunning else { return }
        let fd = try client(server.port)
        defer { close(fd) }
        let (request, answer) = target.exchange
        IOTests.send(fd, Array(request.utf8))
        let got = IOTests.receive(fd, count: answer.utf8.count)
        #expect(String(decoding: got, as: UTF8.self) == answer, "no answer after \(attack)", sourceLocation: sourceLocation)
    }

    /// Sends `chunk` repeatedly without blocking until `total` bytes went out, the peer failed
    /// the connection, or no byte could be sent for `stall` milliseconds (the peer holds the
    /// sender back). Returns the bytes sent and the errno that stopped it (0: all sent).
    static func push(_ fd: Int32, _ chunk: [UInt8], total: Int, stall: Int32 = 500) -> (sent: Int, error: Int32) {
        var sent = 0
        while sent < total {
            let offset = sent % chunk.count
            let n = chunk[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, min($0.count, total - sent), Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if n > 0 {
                sent += n
                continue
            }
            let error = errno
            guard error == EAGAIN || error == EWOULDBLOCK else { return (sent, error) }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&poller, 1, stall) == 0 { return (sent, EAGAIN) }
        }
        return (sent, 0)
    }

    /// The peak resident memory of a process, in bytes (VmHWM).
    static func peakMemory(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    // MARK: The cases

    /// How a client that sent a burst leaves.
    enum Departure: String, CaseIterable, CustomTestStringConvertible {
        /// Closes without reading a byte of the replies.
        case closeWithoutReading
        /// Reads a little, so the server is writing, then resets (SO_LINGER 0).
        case resetMidWrite

        var testDescription: String { rawValue }
    }

    /// Found: a client that sent lines (or pipelined requests) and closed without reading the
    /// replies killed the VM with SIGPIPE (exit 141); the same for resets mid-write.
    @Test(arguments: Target.allCases, Departure.allCases)
    func clientsThatLeaveWhileTheServerWrites(_ target: Target, _ departure: Departure) throws {
        let server = try ExampleServer(target.rawValue)
        for _ in 0..<100 {
            let fd = try Self.client(server.port)
            IOTests.send(fd, target.burst)
            switch departure {
            case .closeWithoutReading:
                close(fd)
            case .resetMidWrite:
                _ = IOTests.receive(fd, count: 100)
                Self.reset(fd)
            }
        }
        try Self.expectServes(server, target, after: "100 clients that left (\(departure))")
    }

    /// Found: 2,000 connections sending garbage killed the echo server after 7 replies.
    @Test(arguments: Target.allCases)
    func garbageConnections(_ target: Target) throws {
        let server = try ExampleServer(target.rawValue)
        let port = server.port
        var random = SeededRandom(seed: 2000)
        let failures = Locked(0)
        for round in 0..<20 where failures.withLock({ $0 }) == 0 {
            let batches = (0..<100).map { _ in (0..<Int.random(in: 1...2048, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } }
            ConcurrencyTests.onThreads(4) { thread in
                for garbage in batches[(thread * 25)..<(thread * 25 + 25)] {
                    // A refused connection means the server is gone: stop, do not retry 2,000 times.
                    guard let fd = try? Self.client(port) else { failures.withLock { $0 += 1 }; return }
                    IOTests.send(fd, garbage)
                    if (round + garbage.count) % 2 == 0 { Self.reset(fd) } else { close(fd) }
                }
            }
        }
        #expect(failures.withLock { $0 } == 0, "connections refused during the garbage")
        try Self.expectServes(server, target, after: "2,000 garbage connections")
    }

    /// Found: a 100 MB request without a newline was read whole at ~1 MB/s while the server
    /// burnt CPU rescanning it. Now the read stops at its limit (64 KiB for a line, 8 KiB for an
    /// HTTP head) and the server closes the connection: the client cannot send it all.
    @Test(arguments: Target.allCases)
    func oversizedLinesAreRefusedAtTheLimit(_ target: Target) throws {
        let server = try ExampleServer(target.rawValue)
        let fd = try Self.client(server.port)
        defer { close(fd) }
        let (sent, error) = Self.push(fd, [UInt8](repeating: 120, count: 1 << 16), total: 100 << 20, stall: 5000)
        #expect(sent < 100 << 20, "the server took a 100 MB line")
        #expect(error == EPIPE || error == ECONNRESET, "the server did not close the connection: errno \(error) after \(sent) bytes")
        try Self.expectServes(server, target, after: "a 100 MB line")
    }

    /// Found: ten clients each sending 10 MB to the echo server without reading the replies
    /// drove it to 531 MB. Now TCP flow control holds them back: the server stops reading a
    /// connection whose reader is busy writing, and refuses lines over the limit.
    @Test func nonReadingWritersAreHeldBackNotBuffered() throws {
        let server = try ExampleServer(Target.echo.rawValue)
        let port = server.port
        let before = Self.peakMemory(server.process.processIdentifier)
        let line = Array((String(repeating: "0123456789abcdef", count: 512) + "\n").utf8)  // 8 KiB
        let results = Locked([(sent: Int, error: Int32)]())
        ConcurrencyTests.onThreads(10) { i in
            guard let fd = try? Self.client(port) else { return }
            defer { close(fd) }
            var small: Int32 = 1 << 16  // the client's own buffers stay small: the server is what is tested
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            // Half send lines, half one endless line.
            let chunk = i % 2 == 0 ? line : [UInt8](repeating: 120, count: line.count)
            let result = Self.push(fd, chunk, total: 64 << 20)
            results.withLock { $0.append(result) }
        }
        let outcomes = results.withLock { $0 }
        #expect(outcomes.count == 10)
        #expect(outcomes.allSatisfy { $0.sent < 64 << 20 }, "a non-reading client pushed 64 MB: \(outcomes.map(\.sent))")
        let grown = Self.peakMemory(server.process.processIdentifier) - before
        #expect(grown < 64 << 20, "the server grew by \(grown >> 20) MB for 10 non-reading clients")  // 478 MB before
        try Self.expectServes(server, .echo, after: "10 non-reading writers")
    }

    /// Clients that read their replies slowly, a little at a time, then leave.
    @Test func slowReaders() throws {
        let server = try ExampleServer(Target.echo.rawValue)
        let port = server.port
        ConcurrencyTests.onThreads(5) { _ in
            guard let fd = try? Self.client(port) else { return }
            defer { close(fd) }
            let writer = Thread { _ = Self.push(fd, Target.echo.burst, total: 2 << 20) }
            writer.start()
            for _ in 0..<100 {
                _ = IOTests.receive(fd, count: 1024)
                usleep(5000)
            }
            while !writer.isFinished { usleep(1000) }
        }
        try Self.expectServes(server, .echo, after: "slow readers")
    }

    /// Found: slowloris connections (a partial HTTP head, then nothing) stayed open forever.
    /// Now they are answered nothing and closed when the head timeout (10 s) passes, while
    /// well-behaved clients are served meanwhile.
    @Test func slowlorisConnectionsAreClosedByTheHeadTimeout() throws {
        let server = try ExampleServer(Target.http.rawValue)
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<300 {
            let fd = try Self.client(server.port)
            IOTests.send(fd, Array("GET / HTTP/1.1\r\nHost: slow".utf8))
            idle.append(fd)
        }
        try Self.expectServes(server, .http, after: "300 slowloris connections")
        // Each idle connection ends (EOF) within the head timeout plus a generous margin.
        let deadline = Date().addingTimeInterval(30)
        var closedByServer = 0
        for fd in idle {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            var byte: UInt8 = 0
            let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            if poll(&poller, 1, remaining) == 1, recv(fd, &byte, 1, 0) <= 0 { closedByServer += 1 }
        }
        #expect(closedByServer == idle.count)
        try Self.expectServes(server, .http, after: "the slowloris connections timed out")
    }

    /// At the descriptor limit (RLIMIT_NOFILE 64 for the `vm` process), surplus connections wait
    /// in the kernel's queue while the acceptor is told `:EMFILE`, connections already open keep
    /// working, and new clients are accepted again once descriptors are free.
    @Test func acceptingAtTheDescriptorLimitDegradesGracefully() throws {
        let server = try ExampleServer(Target.echo.rawValue, launcher: ["/bin/sh", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        let first = try Self.client(server.port)
        defer { close(first) }
        var crowd: [Int32] = []
        for _ in 0..<100 { crowd.append(try Self.client(server.port)) }
        #expect(server.isRunning)
        IOTests.send(first, Array("still here\n".utf8))
        #expect(IOTests.receive(first, count: 11) == Array("still here\n".utf8), "an open connection was harmed")
        crowd.forEach { close($0) }
        // Descriptors free up as the server sees the closes; a new client is then served.
        var served = false
        for _ in 0..<100 where !served {
            guard let fd = try? Self.client(server.port) else { continue }
            IOTests.send(fd, Array("again\n".utf8))
            served = IOTests.receive(fd, count: 6) == Array("again\n".utf8)
            close(fd)
            if !served { usleep(100_000) }
        }
        #expect(served, "no new client was served after descriptors were freed")
        try Self.expectServes(server, .echo, after: "the descriptor limit")
    }

    /// At the descriptor limit, idle HTTP connections no longer lock out every new client:
    /// the head timeout frees their descriptors, and new clients are served without the idle
    /// ones having to leave.
    @Test func idleConnectionsAtTheDescriptorLimitTimeOut() throws {
        let server = try ExampleServer(Target.http.rawValue, launcher: ["/bin/sh", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<100 { idle.append(try Self.client(server.port)) }
        #expect(server.isRunning)
        var served = false
        for _ in 0..<60 where !served {
            if let fd = try? Self.client(server.port) {
                IOTests.send(fd, Array(Target.http.exchange.request.utf8))
                served = IOTests.receive(fd, count: Target.response.utf8.count) == Array(Target.response.utf8)
                close(fd)
            }
            if !served { usleep(500_000) }
        }
        #expect(served, "idle connections locked new clients out")
    }

    /// At the descriptor limit the acceptor gets `{:error, :EMFILE, …}` (libuv's reserve-descriptor
    /// trick used to drop the connection and tell nobody), connections already open keep
    /// working, and the connection that did not fit is accepted once descriptors are free.
    @Test func acceptAtTheDescriptorLimitIsAnErrorValueOfTheAcceptor() throws {
        let program = FileManager.default.temporaryDirectory.appendingPathComponent("emfile-\(UUID().uuidString).ska")
        try """
        func connection/1               ; echoes lines until the client closes
        loop:
            io    r1, :read_line, r0, 1
            get   r2, r1, 0
            jne   r2, :ok, done
            get   r3, r1, 1
            load  r4, "\\n"
            concat r3, r3, r4
            move  r5, r0
            move  r6, r3
            io    r7, :write, r5, 2
            jmp   loop
        done:
            io    r8, :close, r0, 1
            ret   r8
        end

        func main/0
            load  r0, "127.0.0.1"
            load  r1, 0
            io    r2, :tcp_listen, r0, 2
            get   r4, r2, 1
            io    r5, :local_address, r4, 1
            get   r6, r5, 1
            get   r7, r6, 1
            tostr r7, r7
            load  r8, "listening on 127.0.0.1:"
            concat r8, r8, r7
            print r8
            load  r11, false            ; printed the first error yet?
        accept:
            io    r7, :tcp_accept, r4, 1
            get   r3, r7, 0
            jne   r3, :ok, failed
            get   r8, r7, 1
            spawn r9, connection, r8
            jmp   accept
        failed:
            jeq   r11, true, quiet
            load  r11, true
            print r7                    ; {:error, :EMFILE, "..."}
        quiet:
            sleep 20
            jmp   accept
        end
        """.write(to: program, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: program) }
        let server = try ExampleServer(program: program.path, launcher: ["/bin/sh", "-c", "ulimit -n 32 && exec \"$0\" \"$@\""])
        let first = try Self.client(server.port)
        defer { close(first) }
        var crowd: [Int32] = []
        defer { crowd.forEach { close($0) } }
        for _ in 0..<40 { crowd.append(try Self.client(server.port)) }
        let report = server.nextLine(waitingAtMost: 20_000)
        #expect(report.contains("error") && report.contains("EMFILE"), "the acceptor was told \(report.debugDescription)")
        #expect(server.isRunning)
        IOTests.send(first, Array("still here\n".utf8))
        #expect(IOTests.receive(first, count: 11) == Array("still here\n".utf8), "an open connection was harmed")
        // The last of the crowd did not fit; it is still queued, and is served once others leave.
        let last = crowd.removeLast()
        defer { close(last) }
        crowd.forEach { close($0) }
        crowd.removeAll()
        IOTests.send(last, Array("queued\n".utf8))
        #expect(IOTests.receive(last, count: 7) == Array("queued\n".utf8), "the queued connection was dropped")
    }
}
