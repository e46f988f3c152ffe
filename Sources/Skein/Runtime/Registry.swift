/// Registered process names (`register`, `unregister`, `whereis`, `send` to a name).
///
/// One lock over two maps; a process has at most one name, as in BEAM. A name is freed when its
/// process ends: `Runtime.finish` retires the pid (so `register` sees it dead) before it calls
/// `remove`, and `register` checks liveness and inserts under the lock, so a name can never
/// outlive its process.
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

    /// Frees the name of `pid`, if it has one (the process ended).
    func remove(_ pid: UInt64) {
        names.withLock { n in
            guard let name = n.nameByPid.removeValue(forKey: pid) else { return }
            n.pidByName[name] = nil
        }
    }
}
