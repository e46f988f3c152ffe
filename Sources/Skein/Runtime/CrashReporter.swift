/// Writes crash reports: the first of each kind in full, the repeats counted.
///
/// A spawn storm whose every process fails the same way would otherwise write the same report
/// a million times (about a gigabyte of stderr). Reports are keyed by error kind, function and
/// line; repeats are summarised when the VM stops (`flush`).
final class CrashReporter: Sendable {
    private struct Counts {
        var repeats: [String: (count: Int, summary: String)] = [:]
    }
    private let counts = Locked(Counts())
    private let sink: OutputSink
    /// Distinct kinds of crash kept for the summary; beyond this they are counted together.
    static let distinctLimit = 1000

    init(_ sink: OutputSink) { self.sink = sink }

    /// Reports that process `pid` failed with `error`.
    func report(_ error: RuntimeError, pid: UInt64) {
        let key = "\(error.kind.rawValue)|\(error.function)|\(error.line ?? -1)"
        let first = counts.withLock { c -> Bool in
            if c.repeats[key] != nil {
                c.repeats[key]!.count += 1
                return false
            }
            let overflow = c.repeats.count >= CrashReporter.distinctLimit
            let slot = overflow ? "other" : key
            if overflow { c.repeats[slot, default: (0, "other errors")].count += 1; return false }
            c.repeats[slot] = (0, "\(error.kind.rawValue) in \(error.function)")
            return true
        }
        if first { sink.write("error in process <0.\(pid)>: \(error)\n") }
    }

    /// Writes how many reports were not repeated.
    func flush() {
        let lines = counts.withLock { c -> [String] in
            defer { c.repeats.removeAll() }
            return c.repeats.values.filter { $0.count > 0 }.map {
                "(\($0.count) more process\($0.count == 1 ? "" : "es") failed the same way: \($0.summary))\n"
            }
        }
        for line in lines.sorted() { sink.write(line) }
    }
}
