import CLibUV
import CSkeinSupport
import Foundation

/// The C callbacks libuv calls on the IO thread. They are file-scope constants (C function
/// pointers cannot capture), find the service through the loop's `data` and what they concern
/// through the libuv handle's or request's `data` (an `IOHandle` or a `PendingIO`: see those
/// types for why the reference is valid), and forward to the service.
@inline(__always) func stream(_ tcp: UnsafeMutablePointer<uv_tcp_t>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
}

let ioListenerCallback: uv_poll_cb = { poll, status, _ in
    ioService(poll!.pointee.loop).listenerReady(IOHandle.of(poll!.pointee.data), status: status)
}

let ioConnectCallback: uv_connect_cb = { req, status in
    let service = ioService(req!.pointee.handle.pointee.loop)
    let waiter = PendingIO.taken(req!.pointee.data)
    req!.deallocate()
    service.connected(waiter, status: status)
}

/// libuv reads straight into the free end of the socket's receive buffer (no buffer of its own
/// to copy from).
let ioAllocCallback: uv_alloc_cb = { client, _, buf in
    let space = IOHandle.of(client!.pointee.data).buffer.reserve()
    buf!.pointee = uv_buf_init(space.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(clamping: space.count))
}

let ioReadCallback: uv_read_cb = { client, nread, _ in
    let handle = IOHandle.of(client!.pointee.data)
    if nread > 0 {
        handle.buffer.commit(nread)  // read into the space `ioAllocCallback` reserved
    } else if nread == Int(UV_EOF.rawValue) {
        handle.buffer.eof = true
    } else if nread < 0 {
        handle.buffer.error = Int32(nread)
    }
    if handle.isOpen { ioService(client!.pointee.loop).serveRead(handle) }
}

let ioReadTimeoutCallback: uv_timer_cb = { timer in
    ioService(timer!.pointee.loop).readTimedOut(IOHandle.of(timer!.pointee.data))
}

let ioWriteCallback: uv_write_cb = { req, status in
    let service = ioService(req!.pointee.handle.pointee.loop)
    let waiter = PendingIO.taken(req!.pointee.data)
    UnsafeMutableRawPointer(req!).deallocate()
    service.written(waiter, status: status)
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

/// The IO service of the loop a handle belongs to.
func ioService(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> IOService {
    Unmanaged<IOService>.fromOpaque(loop!.pointee.data).takeUnretainedValue()
}

let ioWakeupCallback: uv_async_cb = { async in
    ioService(async!.pointee.loop).drain()
}

let ioFlushCallback: uv_check_cb = { check in
    ioService(check!.pointee.loop).flushCompleted()
}

let ioBeforePollCallback: uv_prepare_cb = { prepare in
    let service = ioService(prepare!.pointee.loop)
    service.flushCompleted()
    service.flushOutputIfPrinted()
}

let ioOutputWork: uv_work_cb = { _ in skein_flush_stdout() }

let ioOutputDone: uv_after_work_cb = { work, _ in ioService(work!.pointee.loop).outputFlushed() }

/// A libuv handle made for an `IOHandle` is closed: give back the reference its `data` held
/// (libuv calls nothing else about it from now on), and free it.
let ioCloseCallback: uv_close_cb = { handle in
    Unmanaged<IOHandle>.fromOpaque(handle!.pointee.data!).release()
    handle!.deallocate()
}

let ioFreeFileRequestCallback: uv_fs_cb = { req in
    uv_fs_req_cleanup(req)
    req?.deallocate()
}

