import Synchronization

/// The VM-wide table of interned atoms. Atoms from every loaded module share it, so an atom
/// is the same value in every process of a VM.
///
/// Interning happens at load time (under a lock); running code only reads names when printing,
/// which takes the same lock: atoms never sit on a hot path.
final class AtomTable: Sendable {
    private struct State {
        var names: [String] = []
        var ids: [String: Int] = [:]
    }
    private let state = Locked(State())

    /// Atoms every VM has, at fixed ids: the type names of `typeof`, and the atoms of exit
    /// reasons and of the messages the runtime itself sends (`{:DOWN, …}`, `{:EXIT, …}`).
    enum Known: Int, CaseIterable {
        case int, float, bool, `nil`, atom, string, tuple, array, function, pid, ref
        case normal, noproc, killed, kill, DOWN, EXIT
        /// The `typeof` name of maps (after the others so that their ids stay as they were).
        case map
        /// The `typeof` name of binaries (after `map`, for the same reason).
        case binary
    }

    init() {
        for known in Known.allCases {
            let id = intern(String(describing: known))
            precondition(id == known.rawValue, "known atoms must take the first ids")
        }
    }

    /// The id of `name`, adding it if new.
    func intern(_ name: String) -> Int {
        state.withLock { s in
            if let id = s.ids[name] { return id }
            s.names.append(name)
            s.ids[name] = s.names.count - 1
            return s.names.count - 1
        }
    }

    /// The name of atom `id`.
    func name(_ id: Int) -> String {
        state.withLock { $0.names.indices.contains(id) ? $0.names[id] : "?atom\(id)" }
    }
}

extension Value {
    /// The atom of a known name (the same id in every VM).
    @inline(__always) static func known(_ atom: AtomTable.Known) -> Value { .atom(atom.rawValue) }
}
