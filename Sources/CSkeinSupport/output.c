// Standard output and error for `print` and crash reports.
//
// stdout stays block-buffered (printing is on the hot path of many programs), so this file
// tracks whether anything is waiting in the buffer: the IO thread flushes it while the VM runs,
// and the signal handlers in signals.c flush it when the process is about to die.
#include "CSkeinSupport.h"
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

/// Set by a write, cleared by a flush: whether stdout's buffer may hold text.
static atomic_int stdout_pending;
/// Set by `skein_end_on_closed_stdout`.
static atomic_int closed_stdout_ends_process;

/// A write or flush failed. With SIGPIPE ignored, a closed pipe shows up here as EPIPE; a
/// command-line filter whose reader went away ends the way SIGPIPE would have ended it.
static void stdout_failed(void) {
    if (errno == EPIPE && atomic_load(&closed_stdout_ends_process)) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    clearerr(stdout);
}

void skein_write_stdout(const char *bytes, size_t count) {
    atomic_store(&stdout_pending, 1);
    if (count > 0 && fwrite(bytes, 1, count, stdout) != count) stdout_failed();
}

void skein_write_stderr(const char *bytes, size_t count) {
    if (count > 0) fwrite(bytes, 1, count, stderr);
    fflush(stderr);
}

void skein_flush_stdout(void) {
    atomic_store(&stdout_pending, 0);
    if (fflush(stdout) == EOF) stdout_failed();
}

int skein_take_stdout_pending(void) { return atomic_exchange(&stdout_pending, 0); }

void skein_end_on_closed_stdout(void) { atomic_store(&closed_stdout_ends_process, 1); }
