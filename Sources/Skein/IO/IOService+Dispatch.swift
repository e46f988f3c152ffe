import CLibUV
import Foundation

/// Starting a request on the IO thread: the one switch from an operation to the code that
/// runs it. Invariant: runs on the IO thread only (called from the async callback's drain).
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
}
