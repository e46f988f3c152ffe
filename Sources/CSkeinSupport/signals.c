// Signal dispositions for a process that runs a VM.
//
// - SIGPIPE is ignored, so a write to a socket whose peer has gone returns EPIPE to the one
//   process that wrote, instead of killing the whole VM (libuv writes with write(2), which
//   cannot take MSG_NOSIGNAL).
// - Termination signals (SIGINT, SIGTERM, SIGHUP) are taken by a thread of their own with
//   sigwait, which flushes stdout (an ordinary thread may take stdio's lock) and then dies of
//   the same signal, so the parent still sees "killed by SIGTERM".
// - Fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP) write out what stdout
//   buffers with write(2) alone (async-signal-safe, no lock), then hand the signal to the
//   disposition that was there before (the default, or the Swift runtime's backtracer).
#define _GNU_SOURCE
#include "CSkeinSupport.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void skein_ignore_sigpipe(void) {
    struct sigaction current;
    // A handler the host installed itself is its business; only the default is replaced.
    if (sigaction(SIGPIPE, 0, &current) == 0 && current.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
}

static const int termination_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
static struct sigaction previous_fatal[NSIG];

/// Seconds the stop on termination (the host's hook, the flush) may take before SIGALRM ends
/// the process anyway (a full pipe nobody reads must not make the VM immortal).
static const unsigned flush_grace_seconds = 2;

/// The host's hook for termination signals (see `skein_set_termination_hook`).
static _Atomic(int (*)(int)) termination_hook;

void skein_set_termination_hook(int (*hook)(int signal)) { atomic_store(&termination_hook, hook); }

void skein_die_of(int sig) {
    skein_flush_stdout();
    fflush(stderr);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, 0);
    raise(sig);
    _exit(128 + sig);  // not reached: the default action of every signal handled here ends the process
}

static void *wait_for_termination(void *arg) {
    sigset_t *set = arg;
    int sig = 0;
    while (sigwait(set, &sig) != 0) {}
    signal(SIGALRM, SIG_DFL);
    alarm(flush_grace_seconds);
    int (*hook)(int) = atomic_load(&termination_hook);
    if (hook && hook(sig)) return 0;  // the host ends the process itself
    skein_die_of(sig);
}

static void flush_before_dying(int sig, siginfo_t *info, void *context) {
    (void)context;
    // write(2) of what is buffered, no lock and no stdio: async-signal-safe (output.c).
    skein_flush_stdout_in_signal_handler();
    sigaction(sig, &previous_fatal[sig], 0);
    // A fault runs the faulting instruction again on return and reaches the previous
    // disposition; a signal that was sent (kill, abort) has to be sent again.
    if (info->si_code <= 0) raise(sig);
}

int skein_flush_output_on_termination(void) {
    static sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof termination_signals / sizeof *termination_signals; i++) sigaddset(&set, termination_signals[i]);
    // Blocked here, before the VM starts its threads: they inherit the mask, so only the
    // waiting thread ever takes these signals.
    if (pthread_sigmask(SIG_BLOCK, &set, 0) != 0) return -1;
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int status = pthread_create(&thread, &attributes, wait_for_termination, &set);
    pthread_attr_destroy(&attributes);
    if (status != 0) return -1;

    // An alternate stack for this thread, so a stack overflow can still run the handler.
    stack_t existing;
    if (sigaltstack(0, &existing) == 0 && (existing.ss_flags & SS_DISABLE)) {
        stack_t alternate = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0};
        if (alternate.ss_sp) sigaltstack(&alternate, 0);
    }
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++) {
        struct sigaction action = {0};
        action.sa_sigaction = flush_before_dying;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(fatal_signals[i], &action, &previous_fatal[fatal_signals[i]]);
    }
    return 0;
}
