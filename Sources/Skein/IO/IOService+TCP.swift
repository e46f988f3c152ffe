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

    func newTCP(_ handle: IOHandle) -> UnsafeMutablePointer<uv_tcp_t> {
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop, tcp)
        tcp.pointee.data = UnsafeMutableRawPointer(bitPattern: handle.id)
        handle.tcp = tcp
        return tcp
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

    func accept(_ request: IORequest, _ id: Int) {
        guard let listener = handles[id], listener.kind == .listener else {
            return complete(request, .error("EBADF", "not an open listener"))
        }
        listener.pendingAccepts.append(request)
        serveAccepts(listener)
    }

    func serveAccepts(_ listener: IOHandle) {
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

    func connect(_ request: IORequest, host: String, port: Int) {
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
