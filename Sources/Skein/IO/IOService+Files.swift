import CLibUV
import Foundation

/// Files: open, read, write and stat run on libuv's thread pool, whole-file reads as one job
/// there, so the IO thread never blocks on a disk. Results come back on the IO thread.
extension IOService {

    func fsRequest(_ request: IORequest, handle: Int = 0) -> UnsafeMutablePointer<uv_fs_t> {
        let req = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: track(request) << 24 | handle)
        return req
    }

    func fileOpen(_ request: IORequest, path: String, mode: String) {
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

    func readFileHandle(_ request: IORequest, _ handle: IOHandle, max: Int) {
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
        let bytes = result > 0 ? okBytes(UnsafeRawBufferPointer(start: data, count: result)) : nil
        freeFS(req)
        if result < 0 { return completeTracked(tracked, .uvError(Int32(result))) }
        if result == 0 { return completeTracked(tracked, .error("EOF", "end of file")) }
        handles[id]?.offset += Int64(result)
        bytesRead.add(result, ordering: .relaxed)
        completeTracked(tracked, bytes!)
    }

    func writeFileHandle(_ request: IORequest, _ handle: IOHandle, _ bytes: [UInt8]) {
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

    func fileStat(_ request: IORequest, path: String) {
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
    func readFile(_ request: IORequest, path: String) {
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
            completeTracked(job.tracked, bytes.withUnsafeBytes { okBytes($0) })
        } else {
            completeTracked(job.tracked, job.error ?? .error("EIO", "read failed"))
        }
    }


    func fsIDs(_ req: UnsafeMutablePointer<uv_fs_t>) -> (tracked: Int, handle: Int) {
        let bits = Int(bitPattern: req.pointee.data)
        return (bits >> 24, bits & 0xFF_FFFF)
    }

    func freeFS(_ req: UnsafeMutablePointer<uv_fs_t>) {
        uv_fs_req_cleanup(req)
        UnsafeMutableRawPointer(req).deallocate()
    }

    func fsFailed(_ req: UnsafeMutablePointer<uv_fs_t>, _ status: Int32, closing handle: Int? = nil) {
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
