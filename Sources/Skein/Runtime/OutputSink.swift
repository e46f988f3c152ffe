import CSkeinSupport
import Synchronization

/// Where a VM's `print` output (or its error reports) goes. Writes from different workers are
/// serialised, and each write is one whole line, so lines never interleave.
public final class OutputSink: @unchecked Sendable {
    // Sendable: the closure is constant and called only under the lock.
    /// Guards the writes; counts them. (Not `Locked<()>`: ThreadSanitizer mistakes a zero-sized
    /// state for the mutex field at the same address and reports a race.)
    private let writes = Locked(0)
    private let write: (String) -> Void

    /// A sink that passes each chunk of text to `write` (called under a lock).
    public init(_ write: @escaping (String) -> Void) { self.write = write }

    /// The process's standard output (buffered; flushed when the VM stops).
    public static func standardOutput() -> OutputSink {
        OutputSink { text in
            // By length, not as a C string: a string may hold NUL bytes.
            var text = text
            text.withUTF8 { $0.withMemoryRebound(to: CChar.self) { skein_write_stdout($0.baseAddress, $0.count) } }
        }
    }

    /// The process's standard error.
    public static func standardError() -> OutputSink {
        OutputSink { text in
            var text = text
            text.withUTF8 { $0.withMemoryRebound(to: CChar.self) { skein_write_stderr($0.baseAddress, $0.count) } }
        }
    }

    /// Writes `text`.
    func write(_ text: String) {
        writes.withLock { count in
            write(text)
            count += 1
        }
    }
}
