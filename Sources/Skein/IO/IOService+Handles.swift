import CLibUV
import Glibc

/// Opening and closing handles (IO thread only).
///
/// Invariants: a handle is in `handles` (the table programs' ids go through) from `newHandle`
/// until `closeHandle`, which also answers every request waiting on it and closes its libuv
/// handles; those give back their references to it in their close callbacks.
extension IOService {
    /// A new open handle of `owner`, under a fresh id.
    func newHandle(_ kind: IOHandle.Kind, owner: UInt64) -> IOHandle {
        let handle = IOHandle(id: nextHandle, kind: kind, owner: owner)
        nextHandle += 1
        handles[handle.id] = handle
        openHandles.wrappingAdd(1, ordering: .relaxed)
        return handle
    }

    /// Forgets a handle whose open failed before it held anything to close.
    func discardHandle(_ handle: IOHandle) {
        guard handle.isOpen else { return }
        handle.isOpen = false
        handles.removeValue(forKey: handle.id)
        openHandles.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Closes a handle; requests waiting on it end with an error.
    func closeHandle(_ id: Int) {
        guard let handle = handles[id] else { return }
        closeHandle(handle)
    }

    /// Closes `handle` (idempotent).
    func closeHandle(_ handle: IOHandle) {
        guard handle.isOpen else { return }
        discardHandle(handle)
        finishRead(handle, .error("ECANCELED", "the handle was closed"))
        if let timer = handle.timer {
            uv_close(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: uv_handle_t.self), ioCloseCallback)
            handle.timer = nil
        }
        for accept in handle.pendingAccepts { complete(accept, .error("ECANCELED", "the handle was closed")) }
        handle.pendingAccepts.removeAll()
        switch handle.kind {
        case .listener:
            if let poll = handle.poll {
                // Closing the poll stops it at once (libuv), so the socket can go right after.
                uv_close(UnsafeMutableRawPointer(poll).assumingMemoryBound(to: uv_handle_t.self), ioCloseCallback)
                handle.poll = nil
            }
            if handle.fd >= 0 {
                Glibc.close(handle.fd)
                handle.fd = -1
            }
        case .socket:
            if let tcp = handle.tcp {
                uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self), ioCloseCallback)
                handle.tcp = nil
            }
        case .file:
            if handle.fd >= 0 {
                closeFile(handle.fd)
                handle.fd = -1
            }
        }
    }

    /// Closes a file descriptor on the thread pool (a close may block on some file systems).
    func closeFile(_ fd: Int32) {
        let req = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
        if uv_fs_close(loop, req, uv_file(fd), ioFreeFileRequestCallback) < 0 { req.deallocate() }
    }

    /// A libuv handle made for `handle`: its `data` holds a reference to it until closed.
    func newTCP(_ handle: IOHandle) -> UnsafeMutablePointer<uv_tcp_t> {
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop, tcp)
        tcp.pointee.data = handle.retainedForLibUV()
        handle.tcp = tcp
        return tcp
    }
}
