import CLibUV
import Foundation

/// Files: open, read, write and stat run on libuv's thread pool, whole-file reads as one job
/// there, so the IO thread never blocks on a disk. Results come back on the IO thread.
///
/// Each `uv_fs_t` carries its request's `PendingIO` box in `data` (retained; its callback takes
/// it back), and a read or write carries its buffer in the same allocation, after the request.
extension IOService {
    /// A file request of `extra` trailing bytes (a read's or write's buffer), carrying `waiter`.
    func fsRequest(_ waiter: PendingIO, extra: Int = 0) -> UnsafeMutablePointer<uv_fs_t> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_fs_t>.stride + extra, alignment: 16)
        let req = raw.assumingMemoryBound(to: uv_fs_t.self)
        req.pointee.data = waiter.retainedForLibUV()
        return req
    }

    /// The bytes after a file request.
    func fsBuffer(_ req: UnsafeMutablePointer<uv_fs_t>) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(req) + MemoryLayout<uv_fs_t>.stride
    }

    /// Frees a finished file request and gives back its box.
    func finishFS(_ req: UnsafeMutablePointer<uv_fs_t>) -> PendingIO {
        let waiter = PendingIO.taken(req.pointee.data)
        uv_fs_req_cleanup(req)
        UnsafeMutableRawPointer(req).deallocate()
        return waiter
    }

    /// A file request libuv refused to start (its callback will not run).
    func fsFailed(_ req: UnsafeMutablePointer<uv_fs_t>, _ status: Int32) {
        let waiter = PendingIO.taken(req.pointee.data)
        UnsafeMutableRawPointer(req).deallocate()
        if let handle = waiter.handle, handle.kind == .file, handle.fd < 0 { discardHandle(handle) }  // an open
        complete(waiter, .uvError(status))
    }

    /// `file_open`: opens `path` for :read, :write (truncating) or :append, on the thread pool.
    func fileOpen(_ request: IORequest, path: String, mode: String) {
        let flags: Int32
        switch mode {
        case "read": flags = O_RDONLY
        case "write": flags = O_WRONLY | O_CREAT | O_TRUNC
        case "append": flags = O_WRONLY | O_CREAT | O_APPEND
        default: return complete(request, .error("EINVAL", "file mode must be :read, :write or :append"))
        }
        let handle = newHandle(.file, owner: request.owner)
        let req = fsRequest(pend(request, handle: handle))
        let status = uv_fs_open(loop, req, path, flags, 0o644, ioOpenCallback)
        if status < 0 { fsFailed(req, status) }
    }

    /// An open finished: the handle gets its descriptor, unless it was closed meanwhile.
    func opened(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let result = Int32(truncatingIfNeeded: req.pointee.result)
        let waiter = finishFS(req)
        guard let handle = waiter.handle else { return }
        if result < 0 {
            discardHandle(handle)
            return complete(waiter, .uvError(result))
        }
        guard handle.isOpen, waiter.request != nil else {
            // Closed (its owner ended) while the open ran: the new descriptor is nobody's.
            closeFile(result)
            discardHandle(handle)
            return complete(waiter, .error("ECANCELED", "the file was closed while it opened"))
        }
        handle.fd = result
        complete(waiter, .ok(handle.term))
    }

    /// `read` of a file: up to `max` bytes (at most 1 MiB) from its position.
    func readFileHandle(_ request: IORequest, _ handle: IOHandle, max: Int) {
        let size = Swift.min(Swift.max(max, 1), 1 << 20)
        let req = fsRequest(pend(request, handle: handle), extra: size)
        var buf = uv_buf_init(fsBuffer(req).assumingMemoryBound(to: CChar.self), UInt32(size))
        let status = uv_fs_read(loop, req, uv_file(handle.fd), &buf, 1, handle.offset, ioFileReadCallback)
        if status < 0 { fsFailed(req, status) }
    }

    /// A file read finished: `{:ok, bytes}` (one copy from the request's buffer), or `:EOF`.
    /// A string read ends on a character: the bytes of one the read cut in two are left for
    /// the next read (the file position moves only past what was handed over).
    func fileRead(_ req: UnsafeMutablePointer<uv_fs_t>) {
        var result = Int(req.pointee.result)
        // The bytes are copied out before `finishFS` frees the request and its buffer.
        let mode = Unmanaged<PendingIO>.fromOpaque(req.pointee.data!).takeUnretainedValue().resultMode
        if mode == .string, result > 0,
           let cut = UTF8Validation.cutSequence(UnsafeRawBufferPointer(start: fsBuffer(req), count: result), before: result), cut.start > 0 {
            result = cut.start
        }
        let bytes = result > 0 ? okBytes(UnsafeRawBufferPointer(start: fsBuffer(req), count: result), mode) : nil
        let waiter = finishFS(req)
        if result < 0 { return complete(waiter, .uvError(Int32(result))) }
        guard let bytes else { return complete(waiter, .error("EOF", "end of file")) }
        waiter.handle?.offset += Int64(result)
        bytesRead.wrappingAdd(result, ordering: .relaxed)
        complete(waiter, bytes)
    }

    /// `write` to a file: appends at its end (or its write position).
    func writeFileHandle(_ request: IORequest, _ handle: IOHandle, _ bytes: [UInt8]) {
        let req = fsRequest(pend(request, handle: handle), extra: max(bytes.count, 1))
        let data = fsBuffer(req)
        bytes.withUnsafeBytes { if $0.count > 0 { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_fs_write(loop, req, uv_file(handle.fd), &buf, 1, -1, ioFileWriteCallback)
        if status < 0 { fsFailed(req, status) }
    }

    /// A file write finished: `{:ok, bytes written}`.
    func fileWritten(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let result = Int(req.pointee.result)
        let waiter = finishFS(req)
        if result < 0 { return complete(waiter, .uvError(Int32(result))) }
        bytesWritten.wrappingAdd(result, ordering: .relaxed)
        complete(waiter, .ok(.int(Int64(result))))
    }

    /// `file_stat`: size, modification time and type of `path`.
    func fileStat(_ request: IORequest, path: String) {
        let req = fsRequest(pend(request))
        let status = uv_fs_stat(loop, req, path, ioStatCallback)
        if status < 0 { fsFailed(req, status) }
    }

    /// A stat finished: `{:ok, {size, modified ms, :file | :directory}}`.
    func statted(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let result = Int32(truncatingIfNeeded: req.pointee.result)
        let stat = req.pointee.statbuf
        let waiter = finishFS(req)
        if result < 0 { return complete(waiter, .uvError(result)) }
        let isDirectory = stat.st_mode & 0o170000 == 0o040000
        let modified = Int64(stat.st_mtim.tv_sec) * 1000 + Int64(stat.st_mtim.tv_nsec) / 1_000_000
        complete(waiter, .ok(.tuple([.int(Int64(stat.st_size)), .int(modified), .atom(isDirectory ? "directory" : "file")])))
    }

    /// Whole-file read: done on libuv's thread pool as one job, so the IO thread never blocks.
    func readFile(_ request: IORequest, path: String) {
        let work = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
        let job = ReadFileJob(path: path, waiter: pend(request))
        work.pointee.data = Unmanaged.passRetained(job).toOpaque()
        uv_queue_work(loop, work, ioReadFileWork, ioReadFileDone)
    }

    /// A whole-file read finished on the thread pool.
    func readFileDone(_ work: UnsafeMutablePointer<uv_work_t>) {
        let job = Unmanaged<ReadFileJob>.fromOpaque(work.pointee.data).takeRetainedValue()
        work.deallocate()
        if let bytes = job.bytes {
            bytesRead.wrappingAdd(bytes.count, ordering: .relaxed)
            complete(job.waiter, bytes.withUnsafeBytes { okBytes($0, job.waiter.resultMode) })
        } else {
            complete(job.waiter, job.error ?? .error("EIO", "read failed"))
        }
    }
}

/// A whole-file read done off the IO thread.
/// Its fields are written by one thread-pool thread and read by the IO thread after libuv's
/// completion hand-off.
final class ReadFileJob: @unchecked Sendable {
    /// The file to read.
    let path: String
    /// The request it answers (touched on the IO thread only).
    let waiter: PendingIO
    /// What was read (set by the thread-pool thread).
    var bytes: [UInt8]?
    /// Why it could not be read (set by the thread-pool thread).
    var error: Term?
    /// A job reading `path` for `waiter`.
    init(path: String, waiter: PendingIO) {
        self.path = path
        self.waiter = waiter
    }

    /// Reads the whole file (on a thread-pool thread).
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
