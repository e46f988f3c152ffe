/* A C host of Skein: loads squares.ska, gives it a host function, spawns ten workers that
 * reply to a host mailbox, collects the replies, runs main and prints what came back.
 *
 *   cc host.c -I ../../Sources/SkeinC/include -L ../../.build/debug -lskein -o host
 *   ./host squares.ska
 *
 * Exits 0 when every reply is right, 1 otherwise (the tests run it). */
#include <skein.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* multiply(a, b), called by processes on worker threads. */
static skein_term *multiply(void *context, const skein_term *const *args, size_t count) {
    (void)context;
    if (count != 2 || skein_term_kind(args[0]) != SKEIN_INT || skein_term_kind(args[1]) != SKEIN_INT) {
        skein_fail("multiply takes two integers");
        return NULL;
    }
    return skein_int(skein_term_int(args[0]) * skein_term_int(args[1]));
}

static int fail(const char *what) {
    fprintf(stderr, "host: %s: %s\n", what, skein_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: host PROGRAM\n"); return 2; }
    skein_config *config = skein_config_new();
    skein_config_set_workers(config, 2);
    skein_config_set_max_heap(config, 64 << 20);
    skein_config_add_host_function(config, "multiply", 2, multiply, NULL);
    skein_vm *vm = skein_vm_load_file(argv[1], config);
    skein_config_free(config);
    if (!vm) return fail("load");

    skein_mailbox *inbox = skein_mailbox_open(vm);
    if (!inbox) return fail("mailbox");
    for (int64_t n = 1; n <= 10; n++) {
        skein_term *number = skein_int(n);
        const skein_term *args[] = {skein_mailbox_pid(inbox), number};
        skein_term *pid = skein_vm_spawn(vm, "square", args, 2);
        skein_term_free(number);
        if (!pid) return fail("spawn");
        skein_term_free(pid);
    }
    int64_t sum = 0;
    int right = 1;
    for (int i = 0; i < 10; i++) {
        skein_term *reply = skein_mailbox_receive(inbox, 5000);
        if (!reply) return fail("receive");
        int64_t n = skein_term_int(skein_term_item(reply, 0)), square = skein_term_int(skein_term_item(reply, 1));
        if (square != n * n) right = 0;
        sum += square;
        skein_term_free(reply);
    }
    printf("sum of squares: %lld\n", (long long)sum);

    /* A binary with a NUL and bytes that are not UTF-8 goes to a process and comes back whole. */
    static const uint8_t raw[] = {0x00, 0xff, 'h', 'i', 0xc3};
    skein_term *bytes = skein_binary(raw, sizeof raw);
    const skein_term *bytes_args[] = {skein_mailbox_pid(inbox), bytes};
    skein_term *echo = skein_vm_spawn(vm, "bytes", bytes_args, 2);
    skein_term_free(bytes);
    if (!echo) return fail("spawn bytes");
    skein_term_free(echo);
    skein_term *reply = skein_mailbox_receive(inbox, 5000);
    if (!reply) return fail("receive bytes");
    size_t length = 0;
    const uint8_t *back = skein_term_bytes(skein_term_item(reply, 0), &length);
    int same = skein_term_kind(skein_term_item(reply, 0)) == SKEIN_BINARY && back && length == sizeof raw
        && memcmp(back, raw, length) == 0 && skein_term_int(skein_term_item(reply, 1)) == (int64_t)sizeof raw;
    char *shown = skein_term_print(skein_term_item(reply, 0));
    printf("binary: %s %s\n", shown, same ? "came back unchanged" : "CHANGED");
    skein_free(shown);
    skein_term_free(reply);
    if (!same) right = 0;
    skein_mailbox_close(inbox);

    const char *program_args[] = {"a", "b", "c"};
    skein_term *result = NULL;
    skein_ending ending = skein_vm_run_main(vm, program_args, 3, &result);
    char *printed = skein_term_print(result);
    printf("main: %s (ending %d)\n", printed, (int)ending);
    skein_free(printed);
    /* main's result is a map: read it entry by entry. */
    if (skein_term_kind(result) == SKEIN_MAP) {
        for (size_t i = 0; i < skein_term_count(result); i++) {
            char *key = skein_term_print(skein_term_key(result, i));
            char *value = skein_term_print(skein_term_value(result, i));
            printf("  %s => %s\n", key, value);
            skein_free(key);
            skein_free(value);
        }
    } else {
        right = 0;
    }
    skein_term_free(result);
    skein_vm_free(vm);
    return right && sum == 385 && ending == SKEIN_RETURNED ? 0 : 1;
}
