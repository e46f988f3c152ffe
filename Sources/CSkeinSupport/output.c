// Standard output and error for `print` and crash reports.
//
// stdout is buffered here, not by stdio (printing is on the hot path of many programs): the IO
// thread flushes the buffer while the VM runs, exit and the termination signals flush it, and a
// fatal signal writes out what is in it with write(2) alone, which is async-signal-safe (stdio
// is not: its lock may be held by the thread that faulted).
//
// Invariants: `out_buffer[0..<out_length]` holds bytes printed and not yet written; it and
// `out_length` change only under `out_lock`, and `out_length` is also stored with release
// order after the bytes it covers, so the signal handler's acquiring load sees those bytes.
#include "CSkeinSupport.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/// Bytes stdout buffers before writing (a pipe's default capacity).
#define OUT_CAPACITY 65536

static char out_buffer[OUT_CAPACITY];
static _Atomic size_t out_length;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/// Set by a write, cleared by a flush: whether the buffer may hold text.
static atomic_int stdout_pending;
/// Set by `skein_end_on_closed_stdout`.
static atomic_int closed_stdout_ends_process;
/// Whether every line goes out as it is printed, as stdio does for a terminal: when stdout is a
/// terminal, or when the parent asked for it with `stdbuf -oL` (or `-o0`), which sets
/// `_STDBUF_O` for libstdbuf's stdio setting; this buffer honours it the same way. Decided once,
/// before any thread prints.
static int line_buffered;

__attribute__((constructor)) static void choose_buffering(void) {
    const char *requested = getenv("_STDBUF_O");
    line_buffered = isatty(1) || (requested && (requested[0] == 'L' || requested[0] == '0'));
}

/// Writes all of `bytes` to descriptor 1 with write(2) (async-signal-safe). 0, or -1 with errno.
static int write_all(const char *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(1, bytes, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        bytes += written;
        count -= (size_t)written;
    }
    return 0;
}

/// A write failed. With SIGPIPE ignored, a closed pipe shows up here as EPIPE; a command-line
/// filter whose reader went away ends the way SIGPIPE would have ended it.
static void stdout_failed(void) {
    if (errno == EPIPE && atomic_load(&closed_stdout_ends_process)) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
}

/// Writes out the buffer (under `out_lock`). What cannot be written is dropped, as stdio does.
static void flush_locked(void) {
    size_t length = atomic_load_explicit(&out_length, memory_order_relaxed);
    if (length == 0) return;
    int status = write_all(out_buffer, length);
    // Emptied after the write: a fatal signal in the middle of it repeats some bytes rather
    // than losing them.
    atomic_store_explicit(&out_length, 0, memory_order_release);
    if (status != 0) stdout_failed();
}

void skein_write_stdout(const char *bytes, size_t count) {
    if (count == 0) return;
    atomic_store(&stdout_pending, 1);
    pthread_mutex_lock(&out_lock);
    size_t length = atomic_load_explicit(&out_length, memory_order_relaxed);
    if (length + count > OUT_CAPACITY) {
        flush_locked();
        length = 0;
    }
    if (count >= OUT_CAPACITY) {
        if (write_all(bytes, count) != 0) stdout_failed();  // too big to buffer: straight out
    } else {
        memcpy(out_buffer + length, bytes, count);
        atomic_store_explicit(&out_length, length + count, memory_order_release);
        if (line_buffered && memchr(bytes, '\n', count)) flush_locked();
    }
    pthread_mutex_unlock(&out_lock);
}

void skein_write_stderr(const char *bytes, size_t count) {
    if (count > 0) fwrite(bytes, 1, count, stderr);
    fflush(stderr);
}

void skein_flush_stdout(void) {
    atomic_store(&stdout_pending, 0);
    pthread_mutex_lock(&out_lock);
    flush_locked();
    pthread_mutex_unlock(&out_lock);
    fflush(stdout);  // anything the host itself printed with stdio
}

void skein_flush_stdout_in_signal_handler(void) {
    // Best effort and lock-free: a thread interrupted in the middle of a write may have copied
    // bytes it has not counted yet (they are lost) or be writing the buffer out itself (some
    // bytes may then appear twice). Taking the buffer's length first makes a second fatal
    // signal write nothing again.
    size_t length = atomic_exchange_explicit(&out_length, 0, memory_order_acq_rel);
    if (length > OUT_CAPACITY) return;
    int saved = errno;
    (void)write_all(out_buffer, length);
    errno = saved;
}

int skein_take_stdout_pending(void) { return atomic_exchange(&stdout_pending, 0); }

void skein_end_on_closed_stdout(void) { atomic_store(&closed_stdout_ends_process, 1); }

/// `exit` (from `halt`, or the command line's end) writes out what is buffered, as stdio's
/// own buffers are.
__attribute__((constructor)) static void flush_stdout_at_exit(void) { atexit(skein_flush_stdout); }
