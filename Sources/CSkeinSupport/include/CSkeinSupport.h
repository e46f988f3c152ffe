#ifndef SKEIN_SUPPORT_H
#define SKEIN_SUPPORT_H
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

/// Writes a NUL-terminated string to stdout / stderr (stdio buffering, thread-safe).
void skein_write_stdout(const char *text);
void skein_write_stderr(const char *text);
/// Flushes stdout.
void skein_flush_stdout(void);

#endif
