import CLibUV
import CSkeinSupport
import Foundation

/// TCP listeners, accepting and connecting, and socket addresses (IO thread only).
/// Invariant: every socket and listener is an `IOHandle` in `handles` from its creation until
/// `closeHandle`; a failed open closes what it created before answering.
extension IOService {

    /// Parses an IPv4 or IPv6 address.
    func socketAddress(_ host: String, _ port: Int) -> sockaddr_storage? {
        var storage = sockaddr_storage()
        let ok = withUnsafeMutableBytes(of: &storage) { raw -> Bool in
            if uv_ip4_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)) == 0 { return true }
            return uv_ip6_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)) == 0
        }
        return ok ? storage : nil
    }

    /// Listens on `host:port` with a socket of its own (not `uv_listen`: see `serveAccepts`).
    func listen(_ request: IORequest, host: String, port: Int) {
        guard var address = socketAddress(host, port) else {
            return complete(request, .error("EINVAL", "not an IP address: \(host)"))
        }
        let family = Int32(address.ss_family)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return complete(request, .uvError(-errno)) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = socklen_t(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { bind(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), length) }
        guard bound == 0, Glibc.listen(fd, IOService.backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            return complete(request, .uvError(-code))
        }
        let handle = newHandle(.listener, owner: request.owner)
        handle.fd = fd
        let poll = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
        uv_poll_init(loop, poll, fd)
        poll.pointee.data = handle.retainedForLibUV()
        handle.poll = poll
        complete(request, .ok(handle.term))
    }

    /// Connections the kernel queues for a listener before it refuses more.
    static let backlog: Int32 = 1024

    /// `tcp_accept`: the next connection of a listener, in arrival order of the accepts.
    func accept(_ request: IORequest, _ id: Int) {
        guard let listener = handles[id], listener.kind == .listener else {
            return complete(request, .error("EBADF", "not an open listener"))
        }
        listener.pendingAccepts.append(pend(request))
        serveAccepts(listener)
    }

    /// Accepts a connection for each waiting `tcp_accept`, while the kernel has some.
    ///
    /// Done here with `accept4` on the listening socket rather than by `uv_listen`, because
    /// libuv hides the descriptor limit: on `EMFILE` it closes a reserve descriptor, accepts and
    /// closes every queued connection (`uv__emfile_trick`) and tells nobody. Here the acceptor
    /// gets `{:error, :EMFILE, …}` (or `:ENFILE`, `:ENOBUFS`, `:ENOMEM`) and decides; the
    /// connection stays queued in the kernel, and connections already open are not touched.
    ///
    /// Invariant: the listener is polled for readability exactly while an accept waits; with
    /// none waiting it is not, so a queued connection nobody asked for cannot make the loop spin
    /// (libuv's poll is level-triggered).
    func serveAccepts(_ listener: IOHandle) {
        while listener.isOpen, let waiter = nextAcceptor(listener), let request = waiter.request {
            let fd = skein_accept_nonblocking(listener.fd)
            if fd < 0 {
                let code = -fd
                if code == EAGAIN || code == EWOULDBLOCK {
                    pollListener(listener, true)
                    return
                }
                if code == EINTR || code == ECONNABORTED || code == EPROTO { continue }  // that connection is gone: the next
                listener.pendingAccepts.removeFirst()
                complete(waiter, code == EMFILE || code == ENFILE
                         ? .error(code == EMFILE ? "EMFILE" : "ENFILE",
                                  "no descriptor for a new connection (\(String(cString: strerror(code)))); it stays queued: accept again when connections have closed")
                         : .uvError(-code))
                continue
            }
            listener.pendingAccepts.removeFirst()
            let handle = newHandle(.socket, owner: request.owner)
            let status = uv_tcp_open(newTCP(handle), uv_os_sock_t(fd))
            if status != 0 {
                Glibc.close(fd)
                closeHandle(handle)
                complete(waiter, .uvError(status))
            } else {
                complete(waiter, .ok(handle.term))
            }
        }
        pollListener(listener, false)
    }

    /// The first accept still waiting, left in the queue (one an exit signal answered early is
    /// dropped).
    func nextAcceptor(_ listener: IOHandle) -> PendingIO? {
        while let first = listener.pendingAccepts.first {
            if first.request != nil { return first }
            listener.pendingAccepts.removeFirst()
        }
        return nil
    }

    /// Starts or stops watching a listener for connections.
    func pollListener(_ listener: IOHandle, _ on: Bool) {
        guard let poll = listener.poll, listener.polling != on else { return }
        listener.polling = on
        let status = on ? uv_poll_start(poll, Int32(UV_READABLE.rawValue), ioListenerCallback) : uv_poll_stop(poll)
        guard status != 0, on else { return }
        // Cannot watch it: every waiting accept gets the error rather than waiting for ever.
        listener.polling = false
        while let waiter = nextAcceptor(listener) {
            listener.pendingAccepts.removeFirst()
            complete(waiter, .uvError(status))
        }
    }

    /// The listener has a connection queued, or its poll failed.
    func listenerReady(_ listener: IOHandle, status: Int32) {
        guard listener.isOpen else { return }
        if status < 0, let waiter = nextAcceptor(listener) {
            listener.pendingAccepts.removeFirst()
            return complete(waiter, .uvError(status))
        }
        serveAccepts(listener)
    }

    /// `tcp_connect`: a new socket connected to `host:port`.
    func connect(_ request: IORequest, host: String, port: Int) {
        guard var address = socketAddress(host, port) else {
            return complete(request, .error("EINVAL", "not an IP address: \(host)"))
        }
        let handle = newHandle(.socket, owner: request.owner)
        let tcp = newTCP(handle)
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        let waiter = pend(request, handle: handle)
        req.pointee.data = waiter.retainedForLibUV()
        let status = withUnsafePointer(to: &address) {
            uv_tcp_connect(req, tcp, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), ioConnectCallback)
        }
        if status != 0 {
            _ = PendingIO.taken(req.pointee.data)
            req.deallocate()
            closeHandle(handle)
            complete(waiter, .uvError(status))
        }
    }

    /// A connect ended (also with `UV_ECANCELED` when its socket was closed first).
    func connected(_ waiter: PendingIO, status: Int32) {
        guard let handle = waiter.handle else { return }
        guard waiter.request != nil else { return closeHandle(handle) }  // answered already: nobody gets it
        if status != 0 {
            closeHandle(handle)
            complete(waiter, .uvError(status))
        } else if handle.isOpen {
            complete(waiter, .ok(handle.term))
        } else {
            complete(waiter, .error("ECANCELED", "the socket was closed"))
        }
    }

    /// `peer_address` / `local_address`: `{host, port}` of a socket or listener.
    func address(_ request: IORequest, _ id: Int, peer: Bool) {
        guard let handle = handles[id], handle.kind != .file else { return complete(request, .error("EBADF", "not an open socket")) }
        var fd: uv_os_fd_t = handle.fd
        if let tcp = handle.tcp, uv_fileno(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self), &fd) != 0 {
            return complete(request, .error("EBADF", "not an open socket"))
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { p -> Int32 in
            let sa = UnsafeMutableRawPointer(p).assumingMemoryBound(to: sockaddr.self)
            return peer ? getpeername(fd, sa, &length) : getsockname(fd, sa, &length)
        }
        guard status == 0 else { return complete(request, .uvError(-errno)) }
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
}
