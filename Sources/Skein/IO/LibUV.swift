import CLibUV

/// The libuv library linked into Skein (Debian's `libuv1-dev`). The IO layer builds on it;
/// for now this is the link and version check.
public enum LibUV {
    /// libuv's version string, e.g. "1.44.2".
    public static var version: String { String(cString: uv_version_string()) }

    /// Runs an empty libuv loop once: proves the library is linked and usable.
    public static func smokeTest() -> Bool {
        let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        defer { loop.deallocate() }
        guard uv_loop_init(loop) == 0 else { return false }
        let ran = uv_run(loop, UV_RUN_NOWAIT)
        return ran == 0 && uv_loop_close(loop) == 0
    }
}
