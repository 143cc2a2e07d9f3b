/* The Redis adapter's internal API (private to scheduler/): run one of the store's Lua
 * scripts or a plain command over a pooled connection and get the reply as plain C data.
 * Only store.c includes hiredis; nothing here exposes it.
 *
 * Rules the adapter keeps for its callers: a connection is borrowed for exactly one call;
 * an I/O or protocol error (or a timeout) closes that connection so the next call
 * reconnects; scripts run with FCALL from one function library, loaded again when the
 * server answers "Function not found" (a new Redis, or one restarted without its data);
 * SIGPIPE from a dead socket is swallowed. */
#ifndef ZONECI_SCHEDULER_STORE_H
#define ZONECI_SCHEDULER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "scheduler/sched_store.h"
#include "scheduler/scripts.h"

/* Most keys plus arguments one call may pass (scripts included). */
#define SCHED_STORE_ARGS_MAX 64
/* Longest key the store builds: prefix, kind, repo, PR number, SHA. */
#define SCHED_KEY_MAX 640

typedef enum sched_reply_type {
    SCHED_REPLY_NIL = 0,
    SCHED_REPLY_INT,
    SCHED_REPLY_STR, /* bulk and status replies */
    SCHED_REPLY_ARRAY,
    SCHED_REPLY_ERROR, /* only nested inside an array; a top-level error is returned as rc */
} sched_reply_type;

/* A reply copied out of hiredis into one allocation. Strings are NUL-terminated after
 * len bytes (they may hold NULs of their own). */
typedef struct sched_reply {
    sched_reply_type type;
    int64_t integer;
    const char *str;
    size_t len;
    const struct sched_reply *elem;
    size_t n;
} sched_reply;

/* Frees a reply from sched_store_eval / sched_store_command; NULL does nothing. */
void sched_reply_free(sched_reply *reply);

/* Element i of an array reply; NULL when r is not an array or too short (borrowed). */
const sched_reply *sched_reply_item(const sched_reply *r, size_t i);

/* An integer reply, or a string one read as a decimal integer; 0 for NULL or anything else. */
int64_t sched_reply_int(const sched_reply *v);

/* Runs script with the given keys and string arguments (nkeys + nargs at most
 * SCHED_STORE_ARGS_MAX - 3). Every key must start with sched_store_prefix(). On success
 * *out is a reply the caller frees. Errors: CORE_EUNAVAILABLE when Redis cannot be reached,
 * times out or answers LOADING / BUSY / READONLY / MASTERDOWN / TRYAGAIN / CLUSTERDOWN;
 * CORE_EIO for any other error reply (a script bug or a misconfigured server). Every error
 * is counted in sched_store_error_count. Thread-safe. */
int sched_store_eval(sched_store *store, sched_script script, const char *const *keys, size_t nkeys,
                     const char *const *args, size_t nargs, sched_reply **out, core_error *err);

/* sched_store_eval, then, on the same connection, when wait_replica_ms is set and the
 * primary had replicas when the connection opened: a write every replica copies (INCRBY of
 * {P}:wait by 0) and WAIT 1 wait_replica_ms. Replication is one ordered stream, so a
 * replica that acknowledges the barrier holds everything written before it, this script's
 * writes and those of a call it found done ("duplicate"). When none acknowledges in time
 * the answer is CORE_EUNAVAILABLE and *out is NULL although the script ran on the primary:
 * the caller answers 503 and its client retries, which the scripts treat as a repeat.
 * For the calls whose success is promised to a client: intake, decision, completion. */
int sched_store_eval_acked(sched_store *store, sched_script script, const char *const *keys,
                           size_t nkeys, const char *const *args, size_t nargs, sched_reply **out,
                           core_error *err);

/* Runs one command (argv[0] is its name) the same way. */
int sched_store_command(sched_store *store, const char *const *argv, size_t argc, sched_reply **out,
                        core_error *err);

/* "{prefix}:", the start of every key of this store (and ARGV[1] of every script). */
const char *sched_store_prefix(const sched_store *store);
/* Seconds an outbox dedup key (and a done message) is remembered. */
int sched_store_dedup_ttl(const sched_store *store);
/* Seconds a GitHub delivery id is remembered by intake: the store's dedup_ttl_seconds
 * when one was given, else SCHED_DELIVERY_TTL_DEFAULT (3 days, as far back as delivery
 * recovery looks). */
int sched_store_delivery_ttl(const sched_store *store);

/* Writes prefix + the formatted rest into out (SCHED_KEY_MAX bytes); CORE_ETOOBIG when it
 * does not fit. */
int sched_store_key(const sched_store *store, char out[SCHED_KEY_MAX], core_error *err,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* True for a job id as the store makes them: 1 to 20 decimal digits. Checked before an
 * id from outside goes into a key. */
bool sched_job_id_valid(const char *id);
/* Appends the job document GET /api/v1/jobs/ID shows (sched_job_json) to out, from a job
 * hash as a flat list and its history flat (job_get's reply, or claim's): scripts that
 * already hold the job hand it back in their own reply instead of a second round trip.
 * CORE_EIO for a reply of another shape; out is left as it was on failure. */
int sched_job_render(const sched_reply *hash, const sched_reply *history, core_buf *out,
                     core_error *err);

/* The hash key of job id, once id is known to be a job id: CORE_ENOTFOUND for one that is
 * not decimal digits (no such job can exist), or sched_store_key's error. */
int sched_store_job_key(const sched_store *store, const char *id, char key[SCHED_KEY_MAX],
                        core_error *err);

/* The keys a script that moves job id declares: the job hash, its history and the audit
 * stream. */
int sched_store_job_keys(const sched_store *store, const char *id, char job[SCHED_KEY_MAX],
                         char history[SCHED_KEY_MAX], char audit[SCHED_KEY_MAX], core_error *err);

#endif
