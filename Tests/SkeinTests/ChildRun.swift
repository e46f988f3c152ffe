import Foundation

/// A child process run to its end or to a time limit, with what the kernel measured of it.
struct ChildRun {
    /// How the child ended.
    enum Ending: Equatable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it (a crash: the time limit's own kill is `timedOut`).
        case signaled(Int32)
        /// It was still running at the time limit and was killed.
        case timedOut
    }

    var ending: Ending
    /// Wall-clock seconds from spawn to end.
    var wallSeconds: Double
    /// User plus system CPU seconds of the child.
    var cpuSeconds: Double
    /// Peak resident set of the child's own program, in bytes (`VmHWM`, sampled every
    /// millisecond; the high-water mark is kept by the kernel, so only growth in the last
    /// millisecond of the child's life can be missed).
    ///
    /// Not `ru_maxrss`: Linux carries the high-water mark of the address space an `exec`
    /// replaces into it, so a child's `ru_maxrss` is at least the test process's own peak RSS
    /// (measured: 67 MiB for a `vm` whose own peak was far lower, while other suites ran in the
    /// test process).
    var peakRSSBytes: Int

    /// The exit status, or -1 when the child did not exit by itself.
    var status: Int32 {
        if case .exited(let status) = ending { return status }
        return -1
    }

    /// Runs `executable` with `arguments`, its stdin, stdout and stderr on /dev/null, and kills
    /// it with SIGKILL if it runs longer than `timeLimit` seconds.
    static func run(_ executable: String, _ arguments: [String], timeLimit: Double = .infinity) throws -> ChildRun {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let started = Date()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT)
        }
        var status: Int32 = 0
        var usage = rusage()
        var peak = 0
        var killed = false
        while true {
            peak = max(peak, highWaterMark(of: pid))
            let reaped = wait4(pid, &status, WNOHANG, &usage)
            if reaped == pid { break }
            if !killed && Date().timeIntervalSince(started) > timeLimit {
                kill(pid, SIGKILL)
                killed = true
            }
            usleep(1000)
        }
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let ending: Ending
        if status & 0x7F == 0 {
            ending = .exited((status >> 8) & 0xFF)
        } else {
            ending = killed && status & 0x7F == SIGKILL ? .timedOut : .signaled(status & 0x7F)
        }
        return ChildRun(ending: ending, wallSeconds: Date().timeIntervalSince(started), cpuSeconds: cpu, peakRSSBytes: peak)
    }

    /// `VmHWM` of a running process in bytes, or 0 once it has ended.
    private static func highWaterMark(of pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }
}
