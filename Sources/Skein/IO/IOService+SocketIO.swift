import CLibUV
import Foundation

/// Reading from and writing to sockets (IO thread only).
/// Invariants: one pending read per socket; reading is stopped once a socket buffers
/// `readBufferLimit` bytes beyond what was asked (backpressure on the peer); a write completes
/// only once libuv has written all of it (backpressure on the writer).
extension IOService {

    /// `read`, `read_line`, `read_until`: served from the buffer, or waits (one read per socket).
    func read(_ request: IORequest, _ id: Int, _ end: ReadEnd, timeout: Int?) {
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
            handle.pendingRead = (pend(request, handle: handle), end)
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
        let found: ReceiveBuffer.Found
        let limit: Int
        switch pending.end {
        case .bytes(let max):
            found = handle.buffer.find(max: max, wholeCharacters: pending.waiter.resultMode == .string)
            limit = max
        case .line(let max):
            found = handle.buffer.findLine(limit: max)
            limit = max
        case .delimiter(let delimiter, let max):
            found = handle.buffer.find(through: delimiter, limit: max)
            limit = max
        }
        switch found {
        case .piece(let piece):
            bytesRead.wrappingAdd(piece.bytes.count, ordering: .relaxed)
            let mode = pending.waiter.resultMode
            let result = handle.buffer.hand(piece) { okBytes($0, mode) }
            finishRead(handle, result)
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
        guard handle.pendingRead != nil else { return }
        finishRead(handle, result.messageNode(atoms: atoms))
    }

    /// Ends the pending read of `handle` with `result` (which it must have), and its timer.
    func finishRead(_ handle: IOHandle, _ result: MessageNode) {
        guard let pending = handle.pendingRead else { return result.free() }
        handle.pendingRead = nil
        if let timer = handle.timer { uv_timer_stop(timer) }
        complete(pending.waiter, result)
    }

    /// Arms the read timeout of `handle` (its timer is made on first use and reused).
    func startTimer(_ handle: IOHandle, milliseconds: Int) {
        let timer: UnsafeMutablePointer<uv_timer_t>
        if let existing = handle.timer {
            timer = existing
        } else {
            timer = .allocate(capacity: 1)
            uv_timer_init(loop, timer)
            timer.pointee.data = handle.retainedForLibUV()
            handle.timer = timer
        }
        uv_timer_start(timer, ioReadTimeoutCallback, UInt64(milliseconds), 0)
    }

    /// A read's timeout passed: it ends with `:timeout`; what arrived so far stays buffered.
    func readTimedOut(_ handle: IOHandle) {
        guard handle.isOpen, let pending = handle.pendingRead else { return }
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

    /// Stops reading a socket that buffers `readBufferLimit` bytes or more.
    func stopReadingIfFull(_ handle: IOHandle) {
        if handle.buffer.count >= IOService.readBufferLimit { stopReading(handle) }
    }

    /// Stops reading a socket (the kernel then holds the peer back).
    func stopReading(_ handle: IOHandle) {
        if handle.reading, let tcp = handle.tcp {
            uv_read_stop(stream(tcp))
            handle.reading = false
        }
    }

    /// `write`: to a socket (tried at once, the rest queued) or a file.
    func write(_ request: IORequest, _ id: Int, _ bytes: [UInt8]) {
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
                bytesWritten.wrappingAdd(bytes.count, ordering: .relaxed)
                return complete(request, .ok(.int(Int64(bytes.count))))
            }
            if written < 0 && written != Int32(UV_EAGAIN.rawValue) { return complete(request, .uvError(written)) }
            let remaining = Array(bytes[Int(max(written, 0))...])
            writeQueued(request, tcp, remaining)  // the request keeps the full bytes for its result
        }
    }

    /// Queues the part of a write that did not fit; completes when libuv has written it.
    func writeQueued(_ request: IORequest, _ tcp: UnsafeMutablePointer<uv_tcp_t>, _ bytes: [UInt8]) {
        // One allocation: the uv_write_t, then the bytes.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_write_t>.stride + max(bytes.count, 1), alignment: 16)
        let req = raw.assumingMemoryBound(to: uv_write_t.self)
        let data = raw + MemoryLayout<uv_write_t>.stride
        bytes.withUnsafeBytes { if $0.count > 0 { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        let waiter = pend(request)
        req.pointee.data = waiter.retainedForLibUV()
        var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_write(req, stream(tcp), &buf, 1, ioWriteCallback)
        if status != 0 {
            _ = PendingIO.taken(req.pointee.data)
            raw.deallocate()
            complete(waiter, .uvError(status))
        }
    }

    /// A queued write ended (also with `UV_ECANCELED` when its socket was closed first).
    func written(_ waiter: PendingIO, status: Int32) {
        guard case .write(_, let data)? = waiter.request?.operation else { return }
        let bytes = data.count
        if status == 0 { bytesWritten.wrappingAdd(bytes, ordering: .relaxed) }
        complete(waiter, status == 0 ? .ok(.int(Int64(bytes))) : .uvError(status))
    }
}
