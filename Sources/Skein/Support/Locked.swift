#if canImport(Glibc)
import Glibc
#endif

/// State guarded by a pthread mutex.
///
/// Used instead of `Synchronization.Mutex`, which on Linux is a priority-inheritance futex:
/// slow under contention (swiftlang/swift#88440) and invisible to ThreadSanitizer, which then
/// reports every hand-off through it as a race. pthread mutexes are intercepted by TSan and
/// are cheap when uncontended. Only off the hot path (global queue, free slots, timeouts).
final class Locked<State>: @unchecked Sendable {
    // Sendable: `state` is reached only inside `withLock`, under the mutex.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
