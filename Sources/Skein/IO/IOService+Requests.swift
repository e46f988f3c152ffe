import CLibUV
import Foundation

/// Requests on the IO thread: starting one (the one switch from an operation to the code that
/// runs it) and answering it.
///
/// Invariants (IO thread only):
/// - Every request is answered exactly once: at once (`complete(_ request:…)`), or through its
///   `PendingIO` box, which forgets the request when it answers it, so a second answer (a late
///   libuv callback, the close of the handle it waited on) finds nothing to do.
/// - `waiting[pid]` is the box of the one request process `pid` waits in, from `pend` until it
///   is answered.
extension IOService {
    /// Starts (or answers at once) a request taken from the queue.
    func start(_ request: IORequest) {
        operations.wrappingAdd(1, ordering: .relaxed)
        switch request.operation {
        case .tcpListen(let host, let port): listen(request, host: host, port: port)
        case .tcpAccept(let id): accept(request, id)
        case .tcpConnect(let host, let port): connect(request, host: host, port: port)
        case .read(let id, let end, let timeout, _): read(request, id, end, timeout: timeout)
        case .write(let id, let bytes): write(request, id, bytes)
        case .close(let id):
            closeHandle(id)
            complete(request, .atom("ok"))
        case .address(let id, let peer): address(request, id, peer: peer)
        case .fileOpen(let path, let mode): fileOpen(request, path: path, mode: mode)
        case .fileStat(let path): fileStat(request, path: path)
        case .readFile(let path, _): readFile(request, path: path)
        case .stdinLine: stdinLine(request)
        case .closeAllOwned(let owner):
            for (id, handle) in handles where handle.owner == owner { closeHandle(id) }
        case .interrupt(let state, let lethal): interrupt(request.owner, state: state, lethal: lethal)
        }
    }

    /// An exit signal reached process `pid` while it waits in IO: answer its request now with
    /// the "interrupted" mark (`MessageNode.interrupted`), so it runs, meets the signal first
    /// and dies at once; its handles are then closed as always (`closeAllOwned`). If it
    /// survives the signal (it traps exits, or the reason was `:normal`), its `io` instruction
    /// sees the mark and makes the same request again: so only requests that can be made again
    /// without losing or repeating anything are interrupted, unless the signal is lethal.
    /// Nothing happens if the request was answered meanwhile, or belongs to a later suspension.
    func interrupt(_ pid: UInt64, state: ProcessState, lethal: Bool) {
        guard let box = waiting[pid], let request = box.request, request.state.raw == state.raw else { return }
        let restartable: Bool
        switch request.operation {
        case .tcpAccept, .stdinLine: restartable = true
        case .read: restartable = box.handle?.kind == .socket
        default: restartable = false
        }
        guard restartable || lethal else { return }
        if let handle = box.handle, handle.pendingRead?.waiter === box {
            handle.pendingRead = nil
            if let timer = handle.timer { uv_timer_stop(timer) }
        }
        // An accept or stdin waiter stays in its queue, answered: those queues skip such boxes.
        complete(box, MessageNode.interrupted())
    }

    /// Ends a request that was never pended: the process gets `result` and is rescheduled.
    func complete(_ request: IORequest, _ result: MessageNode) {
        if finish(request, result), let process = request.process {
            completed.append(UInt(bitPattern: process.toOpaque()))
        }
    }

    /// Ends a request with a host term (errors and small answers; bytes go through `okBytes`).
    func complete(_ request: IORequest, _ result: Term) { complete(request, result.messageNode(atoms: atoms)) }

    /// `{:ok, bytes}` with one copy of `bytes`: a binary, or a string once the bytes are known
    /// to be UTF-8 (`IOResultMode`); `{:error, :invalid_utf8, …}` naming the offset otherwise.
    func okBytes(_ bytes: UnsafeRawBufferPointer, _ mode: IOResultMode) -> MessageNode {
        if mode == .string, let offset = UTF8Validation.firstInvalidOffset(bytes) {
            return Term.error("invalid_utf8", UTF8Validation.describe(offset) + " (a _binary read takes any bytes)").messageNode(atoms: atoms)
        }
        return MessageNode.make(ok: okAtom, bytes: bytes, kind: mode == .binary ? .binary : .string)
    }

    /// Boxes a request that will be answered later, and notes that its process waits in it.
    func pend(_ request: IORequest, handle: IOHandle? = nil) -> PendingIO {
        let box = PendingIO(request, handle: handle)
        if request.process != nil { waiting[request.owner] = box }
        return box
    }

    /// Answers a pended request, unless it was answered already (then `result` is dropped).
    func complete(_ box: PendingIO, _ result: MessageNode) {
        guard let request = box.request else { return result.free() }
        box.request = nil
        if waiting[request.owner] === box { waiting[request.owner] = nil }
        complete(request, result)
    }

    /// Answers a pended request with a host term, unless it was answered already.
    func complete(_ box: PendingIO, _ result: Term) {
        guard box.request != nil else { return }
        complete(box, result.messageNode(atoms: atoms))
    }
}
