#ifndef SKEIN_SUPPORT_H
#define SKEIN_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// Blocks the calling thread while `*word == expected` (Linux futex wait, private).
/// Returns when woken, on a spurious wake-up or at once if the word differs.
/// `timeout_ns < 0` waits without a deadline.
void skein_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/// Wakes up to `count` threads blocked in `skein_futex_wait` on `word`.
void skein_futex_wake(uint32_t *word, int32_t count);

/// Monotonic clock in nanoseconds.
int64_t skein_monotonic_ns(void);

/// Gives up the CPU (sched_yield).
void skein_yield(void);

/// The usable size of a `malloc` block (glibc's `malloc_usable_size`): for the footprint tests,
/// which hold a process's allocations to their size classes.
size_t skein_malloc_usable_size(void *block);

/// Writes a NUL-terminated string to stdout / stderr (stdio buffering, thread-safe).
void skein_write_stdout(const char *bytes, size_t count);
void skein_write_stderr(const char *bytes, size_t count);
/// Flushes stdout.
void skein_flush_stdout(void);
/// Writes out what stdout buffers with write(2) alone, taking no lock: for fatal-signal
/// handlers (async-signal-safe; best effort).
void skein_flush_stdout_in_signal_handler(void);
/// Whether stdout was written since the last call or flush (and clears the mark).
int skein_take_stdout_pending(void);
/// From now on, a write to a closed stdout pipe (EPIPE) ends the process as SIGPIPE would.
void skein_end_on_closed_stdout(void);

/// Ignores SIGPIPE process-wide unless the host installed a handler: writes to a closed
/// socket or pipe return EPIPE instead of killing the process.
void skein_ignore_sigpipe(void);
/// For a command-line host, before it starts threads: SIGINT, SIGTERM and SIGHUP flush stdout,
/// then end the process with the same signal; fatal signals flush stdout when they can.
/// Returns 0, or -1 if the signal thread could not be started.
int skein_flush_output_on_termination(void);
/// Installs the hook the signal thread calls first when SIGINT, SIGTERM or SIGHUP arrives
/// (null removes it). A hook that returns nonzero takes over: it (or a thread it wakes) ends
/// the process with `skein_die_of`; the grace alarm still ends it if that never happens.
void skein_set_termination_hook(int (*hook)(int signal));
/// Flushes stdout and stderr, then ends the process by `signal` with its default action, so
/// the parent sees "killed by signal" (a shell shows 128 + signal).
void skein_die_of(int signal) __attribute__((noreturn));

/// Accepts a connection on the non-blocking listening socket `listener` as a non-blocking,
/// close-on-exec socket (accept4): its descriptor, or minus the errno (-EAGAIN: none queued,
/// -EMFILE: the descriptor limit).
int skein_accept_nonblocking(int listener);

/// The first occurrence of `needle` in `haystack` (glibc's memmem, a two-way search: linear
/// time whatever the input, which matters for bytes from untrusted peers), or NULL. Here
/// because Swift's Glibc module does not declare the GNU extension.
const void *skein_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);

#endif
