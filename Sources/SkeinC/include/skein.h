/* skein.h: the C API of the Skein virtual machine (libskein.so).
 *
 * Load a program, register host functions, run main, spawn processes, exchange messages with
 * them through a host mailbox, set limits, and shut down. Every call is thread-safe.
 *
 * Ownership: a function that returns `skein_term *` gives the caller a term to free with
 * `skein_term_free`, except `skein_term_item`, which lends a part of its parent (valid while
 * the parent lives). Arguments are borrowed: the library copies what it keeps.
 * Errors: a call that fails returns NULL (or a negative number) and sets a message for the
 * calling thread, read with `skein_last_error`.
 */
#ifndef SKEIN_H
#define SKEIN_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct skein_vm skein_vm;
typedef struct skein_config skein_config;
typedef struct skein_mailbox skein_mailbox;
typedef struct skein_term skein_term;

/* The last error of the calling thread ("" if none). Valid until the thread's next call. */
const char *skein_last_error(void);

/* ---- Terms: the values exchanged with processes ---- */
typedef enum {
    SKEIN_NIL, SKEIN_BOOL, SKEIN_INT, SKEIN_FLOAT, SKEIN_ATOM, SKEIN_STRING,
    SKEIN_BINARY,  /* raw bytes, any values (typeof :binary): read them with skein_term_bytes */
    SKEIN_TUPLE, SKEIN_ARRAY, SKEIN_PID, SKEIN_REF,
    SKEIN_MAP   /* a map: skein_term_count entries, read with skein_term_key and skein_term_value */
} skein_kind;

skein_term *skein_nil(void);
skein_term *skein_int(int64_t value);
skein_term *skein_float(double value);
skein_term *skein_atom(const char *name);
skein_term *skein_string(const char *utf8);   /* NULL if the text is not valid UTF-8 */
/* A binary of a copy of `length` bytes at `bytes` (any values; NULL bytes only with length 0). */
skein_term *skein_binary(const void *bytes, size_t length);
/* A tuple of copies of `items`. */
skein_term *skein_tuple(const skein_term *const *items, size_t count);
skein_term *skein_copy(const skein_term *term);
void skein_term_free(skein_term *term);

skein_kind skein_term_kind(const skein_term *term);
int64_t skein_term_int(const skein_term *term);          /* 0 unless SKEIN_INT (or a bool) */
double skein_term_float(const skein_term *term);         /* 0 unless SKEIN_FLOAT */
/* The name of an atom, or the text of a string or binary (NUL-terminated; valid while the
 * term lives); NULL for other kinds. A binary may hold NUL bytes: use skein_term_bytes. */
const char *skein_term_text(const skein_term *term);
/* The bytes of a binary or string and their count in *length (valid while the term lives);
 * NULL (and *length 0) for other kinds. */
const uint8_t *skein_term_bytes(const skein_term *term, size_t *length);
size_t skein_term_count(const skein_term *term);         /* items of a tuple or array, entries of a map */
const skein_term *skein_term_item(const skein_term *term, size_t index);
/* A map's entry `index`: entries come in the order of their printed keys (not hash order), so
 * the same map always reads the same way. Lent, like skein_term_item. */
const skein_term *skein_term_key(const skein_term *map, size_t index);
const skein_term *skein_term_value(const skein_term *map, size_t index);
/* A map of copies of keys[i] => values[i]. */
skein_term *skein_map(const skein_term *const *keys, const skein_term *const *values, size_t count);
/* The printed form, as `print` writes it; free with `skein_free`. */
char *skein_term_print(const skein_term *term);
void skein_free(void *memory);

/* ---- Configuration ---- */
/* A host function: `args` are borrowed; return a new term (the library frees it), or NULL after
 * calling `skein_fail` to raise a runtime error in the calling process. */
typedef skein_term *(*skein_host_function)(void *context, const skein_term *const *args, size_t count);
/* Inside a host function: the message of the runtime error its NULL result raises. */
void skein_fail(const char *message);

skein_config *skein_config_new(void);
void skein_config_free(skein_config *config);
void skein_config_set_workers(skein_config *config, int workers);
void skein_config_set_max_processes(skein_config *config, int count);
void skein_config_set_max_heap(skein_config *config, int64_t bytes);      /* per process */
void skein_config_set_max_memory(skein_config *config, int64_t bytes);    /* all processes */
void skein_config_set_max_reductions(skein_config *config, int64_t count);
void skein_config_set_deadline(skein_config *config, double seconds);
int skein_config_add_host_function(skein_config *config, const char *name, int arity,
                                   skein_host_function function, void *context);

/* ---- The VM ---- */
/* Loads a program (assembly text or a binary module, by content) and starts the VM; NULL and
 * an error naming the problem and its place if it is not a valid program. `config` may be
 * NULL; it is not kept. Modules the program imports come from the standard library (built
 * in), and for skein_vm_load_file also from the file's directory (NAME.ska or NAME.skb). */
skein_vm *skein_vm_load(const void *bytes, size_t length, const char *name, const skein_config *config);
skein_vm *skein_vm_load_file(const char *path, const skein_config *config);
/* Stops every process (a blocked run returns SKEIN_STOPPED); later calls fail. Idempotent. */
void skein_vm_shutdown(skein_vm *vm);
/* Shuts down and frees the VM. */
void skein_vm_free(skein_vm *vm);

typedef enum {
    SKEIN_RETURNED = 0,  /* *result: main's value */
    SKEIN_FAILED = 1,    /* *result: the error report (a string), with its stack trace */
    SKEIN_EXITED = 2,    /* *result: the exit reason */
    SKEIN_HALTED = 3,    /* *result: the status given to halt (an int) */
    SKEIN_STOPPED = 4,   /* *result: nil */
    SKEIN_LIMIT = 5      /* *result: :deadline or :reductions */
} skein_ending;
/* Runs main (with `argv` as its array of strings if it is main/1) and waits for it. `result`
 * may be NULL; otherwise it receives a term to free. */
skein_ending skein_vm_run_main(skein_vm *vm, const char *const *argv, size_t argc, skein_term **result);

/* Spawns `function` with copies of `args`; returns its pid or NULL. */
skein_term *skein_vm_spawn(skein_vm *vm, const char *function, const skein_term *const *args, size_t count);
/* Sends a copy of `message` to `pid`; 0, or -1 with an error. */
int skein_vm_send(skein_vm *vm, const skein_term *pid, const skein_term *message);

/* ---- Host mailboxes: a pid for the host ---- */
skein_mailbox *skein_mailbox_open(skein_vm *vm);
/* The mailbox's pid (borrowed, valid while the mailbox lives). */
const skein_term *skein_mailbox_pid(const skein_mailbox *mailbox);
/* The next message, waiting at most `timeout_ms` (negative: for ever); NULL with an error on
 * timeout ("timed out") or when the mailbox or VM is closed. */
skein_term *skein_mailbox_receive(skein_mailbox *mailbox, int64_t timeout_ms);
/* Closes and frees the mailbox. */
void skein_mailbox_close(skein_mailbox *mailbox);

#ifdef __cplusplus
}
#endif
#endif
