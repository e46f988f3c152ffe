/// Registered process names (`register`, `unregister`, `whereis`, `send` to a name).
///
/// One lock over two maps; a process has at most one name, as in BEAM. A name is freed when its
/// process ends: `Runtime.finish` retires the pid (so `register` sees it dead) before it calls
/// `remove`, and `register` checks liveness and inserts under the lock, so a name can never
/// outlive its process.
///
/// Most processes never have a name, so `remove` skips the lock unless the slot's
/// `Process.mayHaveName` flag is up. Why that loses no name (a Dekker pair, all four accesses
/// sequentially consistent): `register` raises the flag *before* it checks liveness, and an
/// ending process clears `incarnation` (in `retire`) *before* it takes the flag down with an
/// exchange. If `register` saw the process alive, its raise precedes the exchange in the total
/// order, so the ending process sees the flag and takes the lock, which it gets only after
/// `register` has inserted. A stale raised flag (a failed `register`, or one naming an old pid of
/// the slot) costs the slot's next exit one lock and nothing else.
final class Registry: Sendable {
    private struct Names {
        var pidByName: [Int: UInt64] = [:]
        var nameByPid: [UInt64: Int] = [:]
    }
    private let names = Locked(Names())

    /// Registers `name` for the live process `pid`.
    func register(_ name: Int, _ pid: UInt64, table: ProcessTable) -> Registration {
        names.withLock { n in
            if n.pidByName[name] != nil { return .nameTaken }
            if n.nameByPid[pid] != nil { return .alreadyNamed }
            table.process(atSlot: ProcessTable.slot(of: pid))?.mayHaveName.store(true, ordering: .sequentiallyConsistent)
            guard table.isAlive(pid) else { return .noProcess }
            n.pidByName[name] = pid
            n.nameByPid[pid] = name
            return .registered
        }
    }

    /// Removes `name`; false when it was not registered.
    func unregister(_ name: Int) -> Bool {
        names.withLock { n in
            guard let pid = n.pidByName.removeValue(forKey: name) else { return false }
            n.nameByPid[pid] = nil
            return true
        }
    }

    /// The pid registered as `name`.
    func whereis(_ name: Int) -> UInt64? { names.withLock { $0.pidByName[name] } }

    /// Frees the name of `process`, if it has one (it ended, and `retire` has cleared its
    /// incarnation).
    func remove(_ process: Process) {
        guard process.mayHaveName.exchange(false, ordering: .sequentiallyConsistent) else { return }
        let pid = process.pid
        names.withLock { n in
            guard let name = n.nameByPid.removeValue(forKey: pid) else { return }
            n.pidByName[name] = nil
        }
    }
}
