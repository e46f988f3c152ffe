import CSkeinSupport

/// How a VM treats the signals of the process that hosts it (see CSkeinSupport/signals.c).
public enum HostSignals {
    /// Done once per process: a write to a peer that has gone must be an `EPIPE` error value of
    /// the writing Skein process, not a SIGPIPE that ends every process of the VM.
    private static let brokenPipesIgnored: Void = skein_ignore_sigpipe()

    /// Ignores SIGPIPE unless the host installed a handler for it. The IO service calls this
    /// when it starts; a host may call it earlier.
    public static func ignoreBrokenPipes() { brokenPipesIgnored }

    /// For a command-line tool, before any VM starts its threads: SIGPIPE is ignored for sockets
    /// but a closed stdout still ends the tool like a Unix filter; SIGINT, SIGTERM and SIGHUP
    /// flush what was printed before ending the process with the same signal; fatal signals
    /// flush it when stdout's lock is free.
    public static func prepareCommandLine() {
        ignoreBrokenPipes()
        skein_end_on_closed_stdout()
        _ = skein_flush_output_on_termination()
    }

    /// After `prepareCommandLine`: `hook` runs on the signal thread when SIGINT, SIGTERM or
    /// SIGHUP arrives, before anything else. Returning true takes the ending over: the host
    /// stops its VM and calls `die(of:)` itself (within 2 s, or SIGALRM ends the process).
    /// A C function pointer, because it may run while Swift's runtime is in any state.
    public static func onTermination(_ hook: @convention(c) (Int32) -> Int32) {
        skein_set_termination_hook(hook)
    }

    /// Flushes stdout and stderr and ends the process by `signal`, so the parent sees the
    /// signal (a shell shows 130 for SIGINT, 143 for SIGTERM).
    public static func die(of signal: Int32) -> Never { skein_die_of(signal) }
}
