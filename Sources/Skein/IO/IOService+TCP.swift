import CLibUV
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

    func listen(_ request: IORequest, host: String, port: Int) {
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
            closeHandle(handle)
            return complete(request, .uvError(status))
        }
        complete(request, .ok(handle.term))
    }

    /// A listener has a connection waiting.
    func connectionArrived(_ listener: IOHandle, status: Int32) {
        guard listener.isOpen else { return }
        if status != 0 {
            if let waiter = nextAcceptor(listener) { complete(waiter, .uvError(status)) }
            return
        }
        listener.readyConnections += 1
        serveAccepts(listener)
    }

    func accept(_ request: IORequest, _ id: Int) {
        guard let listener = handles[id], listener.kind == .listener else {
            return complete(request, .error("EBADF", "not an open listener"))
        }
        listener.pendingAccepts.append(pend(request))
        serveAccepts(listener)
    }

    /// The first accept still waiting (one an exit signal answered early is skipped).
    func nextAcceptor(_ listener: IOHandle) -> PendingIO? {
        while !listener.pendingAccepts.isEmpty {
            let waiter = listener.pendingAccepts.removeFirst()
            if waiter.request != nil { return waiter }
        }
        return nil
    }

    func serveAccepts(_ listener: IOHandle) {
        while listener.readyConnections > 0, let server = listener.tcp, let waiter = nextAcceptor(listener), let request = waiter.request {
            listener.readyConnections -= 1
            let handle = newHandle(.socket, owner: request.owner)
            let client = newTCP(handle)
            let status = uv_accept(stream(server), stream(client))
            if status != 0 {
                closeHandle(handle)
                complete(waiter, .uvError(status))
            } else {
                complete(waiter, .ok(handle.term))
            }
        }
    }

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

    func address(_ request: IORequest, _ id: Int, peer: Bool) {
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
}
