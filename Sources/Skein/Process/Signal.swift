/// A signal from one process to another: the fault-tolerance counterpart of a message.
///
/// Signals travel through the target's mailbox queue, as message nodes marked with their kind,
/// so everything one process sends to another (messages and signals alike) arrives in the order
/// sent, with no second queue to merge. The target's runner acts on them when it pulls its
/// mailbox (`SignalHandling`): at every receive, and at the start of every slice when
/// `Process.pendingSignals` says some are queued, so a busy process that never receives is
/// still stopped by an exit signal within one slice.
///
/// Semantics follow BEAM's (docs/processes.md): links are bidirectional and an exit signal
/// from a linked process kills unless the target traps exits; `:kill` cannot be trapped.
enum Signal {
    /// `from` linked itself to the target.
    case link(from: UInt64)
    /// `from` removed its link to the target.
    case unlink(from: UInt64)
    /// `from` monitors the target under reference `ref`.
    case monitor(from: UInt64, ref: UInt64)
    /// `from` dropped its monitor `ref`.
    case demonitor(from: UInt64, ref: UInt64)
    /// `from` sends an exit signal: because it ended with `reason` while linked (`linked`), or
    /// explicitly with `exit pid, reason`.
    case exit(from: UInt64, reason: Value, linked: Bool)
    /// The runtime ends the target with `reason`, which cannot be trapped (a limit was hit).
    case kill(reason: Value)

    /// The kind byte stored in a signal's node.
    enum Kind: UInt8 {
        case link = 1, unlink, monitor, demonitor, exit, linkedExit
        /// `{:DOWN, ref, pid, reason}` for a monitor: a message, but travelling as a signal so
        /// the watcher's runner forgets the monitor when it meets it.
        case down
        case kill
    }

    /// A mailbox node carrying this signal: the pair `{from, detail}`, where `detail` is the
    /// monitor reference, the exit reason or `nil`. Built in a scratch tuple on the stack and
    /// copied into a node from the worker's cache, so a link or monitor costs what a small
    /// message costs. A reason too deep to copy becomes `:too_deep`.
    func node(atoms: AtomTable, cache: NodeCache?) -> MessageNode {
        let (kind, from, detail): (Kind, UInt64, Value) = switch self {
        case .link(let from): (.link, from, .nil)
        case .unlink(let from): (.unlink, from, .nil)
        case .monitor(let from, let ref): (.monitor, from, .ref(ref))
        case .demonitor(let from, let ref): (.demonitor, from, .ref(ref))
        case .exit(let from, let reason, let linked): (linked ? .linkedExit : .exit, from, reason)
        case .kill(let reason): (.kill, 0, reason)
        }
        let node = Signal.pairNode(from: from, detail: detail, atoms: atoms, cache: cache)
        node.setKind(kind.rawValue)
        return node
    }

    /// A node holding `{from, detail}`.
    private static func pairNode(from: UInt64, detail reason: Value, atoms: AtomTable, cache: NodeCache?) -> MessageNode {
        func pair(_ detail: Value) throws(ValueCopy.Failure) -> MessageNode {
            try MessageNode.make(tupleOf: 2, cache: cache) { $0[0] = Value.pid(from).raw; $0[1] = detail.raw }
        }
        if let node = try? pair(reason) { return node }
        return try! pair(.atom(atoms.intern("too_deep")))
    }
}
