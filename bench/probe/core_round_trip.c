/* core_round_trip: how far apart the machine's first two CPUs are right now.
 *
 * Two threads, pinned to CPUs 0 and 1, pass a counter back and forth through one cache line
 * 100,000 times; prints the mean round trip in nanoseconds. On the project's 2-vCPU VM this
 * swings between about 110-230 ns and 500-600 ns from one second to the next (the host moves the
 * vCPUs between nearby and distant cores), which moves every message-passing figure measured at
 * 2 workers by up to a factor of three. bench/run runs it before each workload and reports what
 * it saw, so a table can be read against the state of the machine. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

enum { ROUNDS = 100000 };

/* The line the two threads pass between them: odd values are the first thread's turn done. */
static _Alignas(64) atomic_long turn;

static int pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *unused) {
    (void)unused;
    if (pin(1) != 0) return (void *)1;
    for (long i = 0; i < ROUNDS; i++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(void) {
    pthread_t other;
    struct timespec start, end;
    void *failed;
    if (pin(0) != 0 || pthread_create(&other, NULL, answer, NULL) != 0) return 1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < ROUNDS; i++) {
        atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2) {}
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (pthread_join(other, &failed) != 0 || failed != NULL) return 1;
    double ns = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
    printf("%.0f\n", ns / ROUNDS);
    return 0;
}
