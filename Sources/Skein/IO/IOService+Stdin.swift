import CLibUV
import Foundation

/// Lines from standard input for `stdin_line`: read in 64 KiB pieces on the thread pool (stdin
/// may be a terminal or a pipe that blocks), split by `ReceiveBuffer`. Invariant: at most one
/// read of stdin is in flight (`stdinReading`); waiters are served in arrival order.
extension IOService {

    /// `stdin_line`: the next line of standard input, in arrival order.
    func stdinLine(_ request: IORequest) {
        stdinWaiters.append(pend(request))
        serveStdin()
    }

    /// Hands buffered lines to waiters; reads more on the thread pool when needed.
    func serveStdin() {
        stdinWaiters.removeAll { $0.request == nil }  // answered early (an exit signal)
        while !stdinWaiters.isEmpty {
            if case .piece(let line) = stdinBuffer.findLine(limit: .max) {
                let waiter = stdinWaiters.removeFirst()
                complete(waiter, stdinBuffer.hand(line) { okBytes($0, waiter.resultMode) })
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

    /// A read of stdin finished: buffer what came (or note the end) and serve the waiters.
    func stdinRead(_ req: UnsafeMutablePointer<uv_fs_t>) {
        let result = Int(req.pointee.result)
        if result > 0 {
            let data = UnsafeRawPointer(req) + MemoryLayout<uv_fs_t>.stride
            stdinBuffer.append(UnsafeRawBufferPointer(start: data, count: result))
            bytesRead.wrappingAdd(result, ordering: .relaxed)
        } else {
            stdinBuffer.eof = true
        }
        uv_fs_req_cleanup(req)
        UnsafeMutableRawPointer(req).deallocate()
        stdinReading = false
        serveStdin()
    }
}
