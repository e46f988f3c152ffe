/// The receiving side of signals: what a process does with a signal when its mailbox meets
/// it (`Mailbox.pull`, or a receive passing it). Runs on the process's runner, so the link,
/// monitor and trap state it changes needs no lock.
///
/// BEAM's rules (docs/processes.md):
/// - an exit signal sent because a linked process ended is ignored if the link is already gone
///   (an `unlink` crossed it), and ends the link otherwise;
/// - `:kill` sent with `exit pid, :kill` cannot be trapped: the target ends with `:killed`;
/// - a process that traps exits gets any other exit signal as `{:EXIT, from, reason}`;
/// - otherwise reason `:normal` is ignored and any other reason ends the process with it.
extension Runtime {
    /// Acts on the signal in `node` (taking ownership of it) for `process`.
    func handleSignal(_ node: MessageNode, in process: Process, worker: Worker?) -> Mailbox.SignalOutcome {
        process.pendingSignals.wrappingSubtract(1, ordering: .relaxed)
        let cache = worker?.nodeCache
        let kind = Signal.Kind(rawValue: node.kind)!
        let payload = node.value.tupleElements
        if kind == .down {
            process.monitors[Value(raw: payload[1]).immediatePayload] = nil
            node.setKind(0)
            return .message(node)
        }
        let from = Value(raw: payload[0]).immediatePayload
        switch kind {
        case .link, .unlink, .monitor, .demonitor, .down:
            Runtime.recordPeer(kind, payload: payload, in: process)
        case .kill:
            process.exitReason = try! MessageNode.make(copying: Value(raw: payload[1]), cache: nil)  // it came from a node
            node.free(cache: cache)
            return .exit
        case .exit, .linkedExit:
            let reason = Value(raw: payload[1])
            if kind == .linkedExit, process.links.remove(from) == nil { break }  // unlinked meanwhile
            if kind == .exit, reason == Value.known(.kill) {
                node.free(cache: cache)
                process.exitReason = MessageNode.make(atom: Value.known(.killed))
                return .exit
            }
            if process.trapsExits {
                let message = exitMessage(from: from, reason: reason, cache: cache)
                node.free(cache: cache)
                return .message(message)
            }
            if reason == Value.known(.normal) { break }
            process.exitReason = try! MessageNode.make(copying: reason, cache: nil)  // it came from a node
            node.free(cache: cache)
            return .exit
        }
        node.free(cache: cache)
        return .consumed
    }

    /// Records a link, unlink, monitor or demonitor request from another process in
    /// `process`'s link and watcher sets (other kinds are left alone).
    static func recordPeer(_ kind: Signal.Kind, payload: UnsafeMutablePointer<UInt64>, in process: Process) {
        let from = Value(raw: payload[0]).immediatePayload
        switch kind {
        case .link: process.links.insert(from)
        case .unlink: process.links.remove(from)
        case .monitor: process.watchers[Value(raw: payload[1]).immediatePayload] = from
        case .demonitor: process.watchers[Value(raw: payload[1]).immediatePayload] = nil
        case .exit, .linkedExit, .down, .kill: break
        }
    }

    /// The message `{:EXIT, from, reason}`.
    private func exitMessage(from: UInt64, reason: Value, cache: NodeCache?) -> MessageNode {
        // The reason came from a node, so it is known to be copyable.
        try! MessageNode.make(tupleOf: 3, cache: cache) {
            $0[0] = Value.known(.EXIT).raw; $0[1] = Value.pid(from).raw; $0[2] = reason.raw
        }
    }
}
