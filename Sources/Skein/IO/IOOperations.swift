import CLibUV
import Foundation

/// How each IO operation runs on the IO thread.
extension IOService {
    func start(_ request: IORequest) {
        operations.add(1, ordering: .relaxed)
        switch request.operation {
        case .tcpListen(let host, let port): listen(request, host: host, port: port)
        case .tcpAccept(let id): accept(request, id)
        case .tcpConnect(let host, let port): connect(request, host: host, port: port)
        case .read(let id, let end, let timeout): read(request, id, end, timeout: timeout)
        case .write(let id, let bytes): write(request, id, bytes)
        case .close(let id):
            closeHandle(id)
            complete(request, .atom("ok"))
        case .address(let id, let peer): address(request, id, peer: peer)
        case .fileOpen(let path, let mode): fileOpen(request, path: path, mode: mode)
        case .fileStat(let path): fileStat(request, path: path)
        case .readFile(let path): readFile(request, path: path)
        case .stdinLine: stdinLine(request)
        case .closeAllOwned(let owner):
            for (id, handle) in handles where handle.owner == owner { closeHandle(id) }
        }
    }

    // MARK: TCP

    /// Parses an IPv4 or IPv6 address.
    private func socketAddress(_ host: String, _ port: Int) -> sockaddr_storage? {
        var storage = sockaddr_storage()
        let ok = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            if uv_ip4_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)) == 0 { return true }
            return uv_ip6_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)) == 0
        }
        return ok ? storage : nil
    }

    private func newTCP(_ handle: IOHandle) -> UnsafeMutablePointer<uv_tcp_t> {
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop, tcp)
        tcp.pointee.data = UnsafeMutableRawPointer(bitPattern: handle.id)
        handle.tcp = tcp
        return tcp
    }

    private func listen(_ request: IORequest, host: String, port: Int) {
        guard var address = socketAddress(host, port) else {
            return complete(request, .error("EINVAL", "not an IP address: \(host)"))
        }
        let handle = newHandle(.listener, owner: request.owner)
        let tcp = newTCP(handle)
        var status = withUnsafePointer(to: &address) {
            uv_tcp_bind(tcp, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), 0)
        }
        if status == 0 { status = uv_listen(stream(tcp), 1024, ioConnectionCallback) }
        if status != 0 {
            closeHandle(handle.id)
            return complete(request, .uvError(status))
        }
        complete(request, .ok(handle.term))
    }

    /// A listener has a connection waiting.
    func connectionArrived(_ id: Int, status: Int32) {
        guard let listener = handles[id] else { return }
        if status != 0 {
            if !listener.pendingAccepts.isEmpty { complete(listener.pendingAccepts.removeFirst(), .uvError(status)) }
            return
        }
        listener.readyConnections += 1
        serveAccepts(listener)
    }

    private func accept(_ request: IORequest, _ id: Int) {
        guard let listener = handles[id], listener.kind == .listener else {
            return complete(request, .error("EBADF", "not an open listener"))
        }
        listener.pendingAccepts.append(request)
        serveAccepts(listener)
    }

    private func serveAccepts(_ listener: IOHandle) {
        while listener.readyConnections > 0, !listener.pendingAccepts.isEmpty, let server = listener.tcp {
            listener.readyConnections -= 1
            let request = listener.pendingAccepts.removeFirst()
            let handle = newHandle(.socket, owner: request.owner)
            let client = newTCP(handle)
            let status = uv_accept(stream(server), stream(client))
            if status != 0 {
                closeHandle(handle.id)
                complete(request, .uvError(status))
            } else {
                complete(request, .ok(handle.term))
            }
        }
    }

    private func connect(_ request: IORequest, host: String, port: Int) {
        guard var address = socketAddress(host, port) else {
            return complete(request, .error("EINVAL", "not an IP address: \(host)"))
        }
        let handle = newHandle(.socket, owner: request.owner)
        let tcp = newTCP(handle)
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        let tracked = track(request)
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: tracked << 24 | handle.id)
        let status = withUnsafePointer(to: &address) {
            uv_tcp_connect(req, tcp, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), ioConnectCallback)
        }
        if status != 0 {
            req.deallocate()
            closeHandle(handle.id)
            completeTracked(tracked, .uvError(status))
        }
    }

    func connected(request tracked: Int, handle id: Int, status: Int32) {
        if status != 0 {
            closeHandle(id)
            completeTracked(tracked, .uvError(status))
        } else if let handle = handles[id] {
            completeTracked(tracked, .ok(handle.term))
        } else {
            completeTracked(tracked, .error("ECANCELED", "the socket was closed"))
        }
    }

    // MARK: Reading and writing

    private func read(_ request: IORequest, _ id: Int, _ end: ReadEnd, timeout: Int?) {
        guard let handle = handles[id], handle.pendingRead == nil else {
            return complete(request, .error("EBADF", handles[id] == nil ? "not an open handle" : "a read is already in progress"))
        }
        switch (handle.kind, end) {
        case (.listener, _):
            complete(request, .error("EBADF", "cannot read from a listener"))
        case (.file, .bytes(let max)):
            readFileHandle(request, handle, max: max)
        case (.file, _):
            complete(request, .error("EINVAL", "read_line and read_until read sockets; read a file with read or read_file"))
        case (.socket, _):
            handle.pendingRead = (request, end)
            if let timeout { startTimer(handle, milliseconds: timeout) }
            serveRead(handle)
        }
    }

    /// Completes a socket's pending read from its buffer, or (re)starts reading.
    func serveRead(_ handle: IOHandle) {
        guard let pending = handle.pendingRead else {
            stopReadingIfFull(handle)
            return
        }
        let taken: ReceiveBuffer.Taken
        let limit: Int
        switch pending.end {
        case .bytes(let max):
            taken = handle.buffer.take(max: max).map(ReceiveBuffer.Taken.bytes) ?? .incomplete
            limit = max
        case .line(let max):
            taken = handle.buffer.takeLine(limit: max)
            limit = max
        case .delimiter(let delimiter, let max):
            taken = handle.buffer.take(through: delimiter, limit: max)
            limit = max
        }
        switch taken {
        case .bytes(let data):
            bytesRead.add(data.count, ordering: .relaxed)
            finishRead(handle, .ok(.bytes(data)))
            stopReadingIfFull(handle)
        case .tooLong:
            finishRead(handle, .error("too_long", "more than \(limit) bytes arrived without the end of the line or delimiter"))
            stopReadingIfFull(handle)
        case .incomplete where handle.buffer.error != 0:
            finishRead(handle, .uvError(handle.buffer.error))
        case .incomplete where handle.buffer.eof:
            finishRead(handle, .error("EOF", "end of file"))
        case .incomplete:
            guard !handle.reading, let tcp = handle.tcp else { return }
            handle.reading = true
            let status = uv_read_start(stream(tcp), ioAllocCallback, ioReadCallback)
            if status != 0 {
                handle.reading = false
                finishRead(handle, .uvError(status))
            }
        }
    }

    /// Ends the pending read of `handle` (if any) with `result`, and its timer.
    func finishRead(_ handle: IOHandle, _ result: Term) {
        guard let pending = handle.pendingRead else { return }
        handle.pendingRead = nil
        if let timer = handle.timer { uv_timer_stop(timer) }
        complete(pending.request, result)
    }

    /// Arms the read timeout of `handle` (its timer is made on first use and reused).
    private func startTimer(_ handle: IOHandle, milliseconds: Int) {
        let timer: UnsafeMutablePointer<uv_timer_t>
        if let existing = handle.timer {
            timer = existing
        } else {
            timer = .allocate(capacity: 1)
            uv_timer_init(loop, timer)
            timer.pointee.data = UnsafeMutableRawPointer(bitPattern: handle.id)
            handle.timer = timer
        }
        uv_timer_start(timer, ioReadTimeoutCallback, UInt64(milliseconds), 0)
    }

    /// A read's timeout passed: it ends with `:timeout`; what arrived so far stays buffered.
    func readTimedOut(_ id: Int) {
        guard let handle = handles[id], let pending = handle.pendingRead else { return }
        let waiting: String
        switch pending.end {
        case .bytes: waiting = "no bytes"
        case .line: waiting = "no complete line"
        case .delimiter: waiting = "no delimiter"
        }
        finishRead(handle, .error("timeout", "\(waiting) within the read's timeout"))
        stopReadingIfFull(handle)
    }

    /// Bytes a socket may buffer before the IO thread stops reading it (backpressure on the
    /// sender). Below it, reading stays on between requests, which saves two `epoll_ctl` calls
    /// per request on a keep-alive connection.
    static let readBufferLimit = 64 << 10

    private func stopReadingIfFull(_ handle: IOHandle) {
        if handle.buffer.count >= IOService.readBufferLimit { stopReading(handle) }
    }

    private func stopReading(_ handle: IOHandle) {
        if handle.reading, let tcp = handle.tcp {
            uv_read_stop(stream(tcp))
            handle.reading = false
        }
    }

    private func write(_ request: IORequest, _ id: Int, _ bytes: [UInt8]) {
        guard let handle = handles[id] else { return complete(request, .error("EBADF", "not an open handle")) }
        switch handle.kind {
        case .listener:
            complete(request, .error("EBADF", "cannot write to a listener"))
        case .file:
            writeFileHandle(request, handle, bytes)
        case .socket:
            guard let tcp = handle.tcp else { return complete(request, .error("EBADF", "closed")) }
            // Most writes fit the socket buffer: write now and answer without a loop turn.
            let written = bytes.withUnsafeBytes { raw -> Int32 in
                guard raw.count > 0 else { return 0 }
                var buf = uv_buf_init(UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: CChar.self)), UInt32(raw.count))
                return uv_try_write(stream(tcp), &buf, 1)
            }
            if Int(written) == bytes.count {
                bytesWritten.add(bytes.count, ordering: .relaxed)
                return complete(request, .ok(.int(Int64(bytes.count))))
            }
            if written < 0 && written != Int32(UV_EAGAIN.rawValue) { return complete(request, .uvError(written)) }
            let remaining = Array(bytes[Int(max(written, 0))...])
            writeQueued(request, tcp, remaining)  // the request keeps the full bytes for its result
        }
    }

    /// Queues the part of a write that did not fit; completes when libuv has written it.
    private func writeQueued(_ request: IORequest, _ tcp: UnsafeMutablePointer<uv_tcp_t>, _ bytes: [UInt8]) {
        // One allocation: the uv_write_t, then the bytes.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_write_t>.stride + max(bytes.count, 1), alignment: 16)
        let req = raw.assumingMemoryBound(to: uv_write_t.self)
        let data = raw + MemoryLayout<uv_write_t>.stride
        bytes.withUnsafeBytes { if $0.count > 0 { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        let tracked = track(request)
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: tracked)
        var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_write(req, stream(tcp), &buf, 1, ioWriteCallback)
        if status != 0 {
            raw.deallocate()
            completeTracked(tracked, .uvError(status))
        }
    }

    func written(request tracked: Int, status: Int32) {
        guard case .write(_, let data)? = inFlight[tracked]?.operation else { return }
        let bytes = data.count
        if status == 0 { bytesWritten.add(bytes, ordering: .relaxed) }
        completeTracked(tracked, status == 0 ? .ok(.int(Int64(bytes))) : .uvError(status))
    }

    private func address(_ request: IORequest, _ id: Int, peer: Bool) {
        guard let tcp = handles[id]?.tcp else { return complete(request, .error("EBADF", "not an open socket")) }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { p -> Int32 in
            let sa = UnsafeMutableRawPointer(p).assumingMemoryBound(to: sockaddr.self)
            return peer ? uv_tcp_getpeername(tcp, sa, &length) : uv_tcp_getsockname(tcp, sa, &length)
        }
        guard status == 0 else { return complete(request, .uvError(status)) }
        var name = [CChar](repeating: 0, count: 64)
        let family = storage.ss_family
        let port: Int = withUnsafePointer(to: &storage) { p in
            let sa = UnsafeRawPointer(p).assumingMemoryBound(to: sockaddr.self)
            uv_ip_name(sa, &name, name.count)
            if family == sa_family_t(AF_INET6) {
                return Int(UInt16(bigEndian: UnsafeRawPointer(p).assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port))
            }
            return Int(UInt16(bigEndian: UnsafeRawPointer(p).assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port))
        }
        let host = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        complete(request, .ok(.tuple([.string(host), .int(Int64(port))])))
    }

    // MARK: Files (run on libuv's thread pool)

    private func fsRequest(_ request: IORequest, handle: Int = 0) -> UnsafeMutablePointer<uv_fs_t> {
        let req = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: track(request) << 24 | handle)
        return req
    }

    private func fileOpen(_ request: IORequest, path: String, mode: String) {
        let flags: Int32
        switch mode {
        case "read": flags = O_RDONLY
        case "write": flags = O_WRONLY | O_CREAT | O_TRUNC
        case "append": flags = O_WRONLY | O_CREAT | O_APPEND
        default: return complete(request, .error("EINVAL", "file mode must be :read, :write or :append"))
        }
        let handle = newHandle(.file, owner: request.owner)
        let req = fsRequest(request, handle: handle.id)
        let status = uv_fs_open(loop, req, path, flags, 0o644, ioOpenCallback)
        if status < 0 { fsFailed(req, status, closing: handle.id) }
    }

    func opened(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let (tracked, id) = fsIDs(req)
        let result = Int32(truncatingIfNeeded: req.pointee.result)
        freeFS(req)
        guard let handle = handles[id] else { return completeTracked(tracked, .error("ECANCELED", "closed")) }
        if result < 0 {
            handles.removeValue(forKey: id)
            openHandles.subtract(1, ordering: .relaxed)
            return completeTracked(tracked, .uvError(result))
        }
        handle.fd = result
        completeTracked(tracked, .ok(handle.term))
    }

    private func readFileHandle(_ request: IORequest, _ handle: IOHandle, max: Int) {
        let size = Swift.min(Swift.max(max, 1), 1 << 20)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_fs_t>.stride + size, alignment: 16)
        let req = raw.assumingMemoryBound(to: uv_fs_t.self)
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: track(request) << 24 | handle.id)
        var buf = uv_buf_init((raw + MemoryLayout<uv_fs_t>.stride).assumingMemoryBound(to: CChar.self), UInt32(size))
        let status = uv_fs_read(loop, req, uv_file(handle.fd), &buf, 1, handle.offset, ioFileReadCallback)
        if status < 0 { fsFailed(req, status) }
    }

    func fileRead(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let (tracked, id) = fsIDs(req)
        let result = Int(req.pointee.result)
        let data = UnsafeRawPointer(req) + MemoryLayout<uv_fs_t>.stride
        let bytes = result > 0 ? Array(UnsafeRawBufferPointer(start: data, count: result)) : []
        freeFS(req)
        if result < 0 { return completeTracked(tracked, .uvError(Int32(result))) }
        if result == 0 { return completeTracked(tracked, .error("EOF", "end of file")) }
        handles[id]?.offset += Int64(result)
        bytesRead.add(result, ordering: .relaxed)
        completeTracked(tracked, .ok(.bytes(bytes)))
    }

    private func writeFileHandle(_ request: IORequest, _ handle: IOHandle, _ bytes: [UInt8]) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_fs_t>.stride + max(bytes.count, 1), alignment: 16)
        let req = raw.assumingMemoryBound(to: uv_fs_t.self)
        let data = raw + MemoryLayout<uv_fs_t>.stride
        bytes.withUnsafeBytes { if $0.count > 0 { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: track(request) << 24 | handle.id)
        var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_fs_write(loop, req, uv_file(handle.fd), &buf, 1, -1, ioFileWriteCallback)
        if status < 0 { fsFailed(req, status) }
    }

    func fileWritten(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let (tracked, _) = fsIDs(req)
        let result = Int(req.pointee.result)
        freeFS(req)
        if result < 0 { return completeTracked(tracked, .uvError(Int32(result))) }
        bytesWritten.add(result, ordering: .relaxed)
        completeTracked(tracked, .ok(.int(Int64(result))))
    }

    private func fileStat(_ request: IORequest, path: String) {
        let req = fsRequest(request)
        let status = uv_fs_stat(loop, req, path, ioStatCallback)
        if status < 0 { fsFailed(req, status) }
    }

    func statted(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let (tracked, _) = fsIDs(req)
        let result = Int32(truncatingIfNeeded: req.pointee.result)
        let stat = req.pointee.statbuf
        freeFS(req)
        if result < 0 { return completeTracked(tracked, .uvError(result)) }
        let isDirectory = stat.st_mode & 0o170000 == 0o040000
        let modified = Int64(stat.st_mtim.tv_sec) * 1000 + Int64(stat.st_mtim.tv_nsec) / 1_000_000
        completeTracked(tracked, .ok(.tuple([.int(Int64(stat.st_size)), .int(modified),
                                             .atom(isDirectory ? "directory" : "file")])))
    }

    /// Whole-file read: done on libuv's thread pool as one job, so the IO thread never blocks.
    private func readFile(_ request: IORequest, path: String) {
        let work = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
        let job = ReadFileJob(path: path, tracked: track(request))
        work.pointee.data = Unmanaged.passRetained(job).toOpaque()
        uv_queue_work(loop, work, ioReadFileWork, ioReadFileDone)
    }

    func readFileDone(_ work: UnsafeMutablePointer<uv_work_t>) {
        let job = Unmanaged<ReadFileJob>.fromOpaque(work.pointee.data).takeRetainedValue()
        work.deallocate()
        if let bytes = job.bytes {
            bytesRead.add(bytes.count, ordering: .relaxed)
            completeTracked(job.tracked, .ok(.bytes(bytes)))
        } else {
            completeTracked(job.tracked, job.error ?? .error("EIO", "read failed"))
        }
    }

    // MARK: stdin

    private func stdinLine(_ request: IORequest) {
        stdinWaiters.append(request)
        serveStdin()
    }

    /// Hands buffered lines to waiters; reads more on the thread pool when needed.
    func serveStdin() {
        while !stdinWaiters.isEmpty {
            if case .bytes(let line) = stdinBuffer.takeLine(limit: .max) {
                complete(stdinWaiters.removeFirst(), .ok(.bytes(line)))
            } else if stdinBuffer.eof {
                complete(stdinWaiters.removeFirst(), .error("EOF", "end of file"))
            } else {
                break
            }
        }
        if !stdinWaiters.isEmpty && !stdinReading {
            stdinReading = true
            let size = 65536
            let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_fs_t>.stride + size, alignment: 16)
            let req = raw.assumingMemoryBound(to: uv_fs_t.self)
            var buf = uv_buf_init((raw + MemoryLayout<uv_fs_t>.stride).assumingMemoryBound(to: CChar.self), UInt32(size))
            let status = uv_fs_read(loop, req, 0, &buf, 1, -1, ioStdinCallback)
            if status < 0 {
                raw.deallocate()
                stdinReading = false
                stdinBuffer.eof = true
                serveStdin()
            }
        }
    }

    func stdinRead(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let result = Int(req.pointee.result)
        if result > 0 {
            let data = UnsafeRawPointer(req) + MemoryLayout<uv_fs_t>.stride
            stdinBuffer.append(UnsafeRawBufferPointer(start: data, count: result))
            bytesRead.add(result, ordering: .relaxed)
        } else {
            stdinBuffer.eof = true
        }
        uv_fs_req_cleanup(req)
        UnsafeMutableRawPointer(req).deallocate()
        stdinReading = false
        serveStdin()
    }

    // MARK: Helpers

    private func fsIDs(_ req: UnsafeMutablePointer<uv_fs_t>) -> (tracked: Int, handle: Int) {
        let bits = Int(bitPattern: req.pointee.data)
        return (bits >> 24, bits & 0xFF_FFFF)
    }

    private func freeFS(_ req: UnsafeMutablePointer<uv_fs_t>) {
        uv_fs_req_cleanup(req)
        UnsafeMutableRawPointer(req).deallocate()
    }

    private func fsFailed(_ req: UnsafeMutablePointer<uv_fs_t>, _ status: Int32, closing handle: Int? = nil) {
        let (tracked, _) = fsIDs(req)
        UnsafeMutableRawPointer(req).deallocate()
        if let handle {
            handles.removeValue(forKey: handle)
            openHandles.subtract(1, ordering: .relaxed)
        }
        completeTracked(tracked, .uvError(status))
    }
}

/// A whole-file read done off the IO thread.
/// Its fields are written by one thread-pool thread and read by the IO thread after libuv's
/// completion hand-off.
final class ReadFileJob: @unchecked Sendable {
    let path: String
    let tracked: Int
    var bytes: [UInt8]?
    var error: Term?
    init(path: String, tracked: Int) {
        self.path = path
        self.tracked = tracked
    }

    func run() {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let code = errno
            error = .error(code == ENOENT ? "ENOENT" : code == EACCES ? "EACCES" : "EIO", String(cString: strerror(code)))
            return
        }
        defer { Foundation.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                error = .error("EIO", String(cString: strerror(errno)))
                return
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[..<n])
        }
        bytes = out
    }
}

@inline(__always) func stream(_ tcp: UnsafeMutablePointer<uv_tcp_t>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
}

@inline(__always) func handleID(_ h: UnsafeMutableRawPointer?) -> Int { Int(bitPattern: h) }

let ioConnectionCallback: uv_connection_cb = { server, status in
    ioService(server!.pointee.loop).connectionArrived(handleID(server!.pointee.data), status: status)
}

let ioConnectCallback: uv_connect_cb = { req, status in
    let bits = Int(bitPattern: req!.pointee.data)
    let service = ioService(req!.pointee.handle.pointee.loop)
    req!.deallocate()
    service.connected(request: bits >> 24, handle: bits & 0xFF_FFFF, status: status)
}

let ioAllocCallback: uv_alloc_cb = { _, suggested, buf in
    buf!.pointee = uv_buf_init(UnsafeMutablePointer<CChar>.allocate(capacity: suggested), UInt32(suggested))
}

let ioReadCallback: uv_read_cb = { client, nread, buf in
    let service = ioService(client!.pointee.loop)
    let id = handleID(client!.pointee.data)
    defer { buf!.pointee.base?.deallocate() }
    guard let handle = service.handles[id] else { return }
    if nread > 0 {
        handle.buffer.append(UnsafeRawBufferPointer(start: buf!.pointee.base, count: nread))
    } else if nread == Int(UV_EOF.rawValue) {
        handle.buffer.eof = true
    } else if nread < 0 {
        handle.buffer.error = Int32(nread)
    }
    service.serveRead(handle)
}

let ioReadTimeoutCallback: uv_timer_cb = { timer in
    ioService(timer!.pointee.loop).readTimedOut(handleID(timer!.pointee.data))
}

let ioWriteCallback: uv_write_cb = { req, status in
    let bits = Int(bitPattern: req!.pointee.data)
    let service = ioService(req!.pointee.handle.pointee.loop)
    UnsafeMutableRawPointer(req!).deallocate()
    service.written(request: bits, status: status)
}

let ioOpenCallback: uv_fs_cb = { req in ioService(req!.pointee.loop).opened(req!) }
let ioFileReadCallback: uv_fs_cb = { req in ioService(req!.pointee.loop).fileRead(req!) }
let ioFileWriteCallback: uv_fs_cb = { req in ioService(req!.pointee.loop).fileWritten(req!) }
let ioStatCallback: uv_fs_cb = { req in ioService(req!.pointee.loop).statted(req!) }
let ioStdinCallback: uv_fs_cb = { req in ioService(req!.pointee.loop).stdinRead(req!) }
let ioReadFileWork: uv_work_cb = { work in
    Unmanaged<ReadFileJob>.fromOpaque(work!.pointee.data).takeUnretainedValue().run()
}
let ioReadFileDone: uv_after_work_cb = { work, _ in ioService(work!.pointee.loop).readFileDone(work!) }
