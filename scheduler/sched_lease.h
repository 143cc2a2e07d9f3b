/* Leases: claiming, heart-beating, completing and releasing a queued job, reaping expired
 * leases, reading a job's fields, and the ready-watch. Out-buffers are caller-owned; a
 * sched_watch is freed by sched_watch_stop. */
#ifndef ZONECI_SCHEDULER_SCHED_LEASE_H
#define ZONECI_SCHEDULER_SCHED_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Defined by scheduler/sched_store.h (a C11 typedef may be repeated). */
typedef struct sched_store sched_store;

/* ---- leases (scheduler/lease.c) ---------------------------------------------------------
 * A claim moves the oldest suitable queued job of a region into a lease, atomically:
 * labels must match, and the job's build locks (one build of a PR at a time; one
 * migration build of a repository at a time) are taken with SET NX PX, valued
 * "JOB:LEASE", released and extended only by compare-and-delete / -extend scripts. Every
 * grant comes with a fencing token from INCR, larger than every token before it. */
typedef struct sched_claim {
    bool found;
    char job_id[32];
    char lease_id[33];
    int64_t fencing_token;
    int64_t lease_expires; /* UTC ms */
    int attempt;
    int passed_over; /* not found: queued jobs left for want of a label the runner lacks */
} sched_claim;

/* Runners seen idle count for routing for this long after their last empty claim, and a
 * runner token counts for at most SCHED_IDLE_PER_TOKEN of them in a region (the most
 * recent), so one token cannot pull jobs toward its region with made-up runner names. */
#define SCHED_IDLE_WINDOW_MS 60000
#define SCHED_IDLE_PER_TOKEN 16

/* labels_csv: the runner's labels, comma-separated ("" for none). token_id names the
 * runner token the claim came with (1-20 letters or digits; never the token itself).
 * CORE_EINVAL for a bad runner name, region, token id or labels. out->found is false when
 * nothing could be claimed (the runner is then recorded idle in its region, under its
 * token, with its labels). job_json (caller-owned, may be NULL): a grant appends the job's
 * document to it, the one sched_job_json gives, from the claim's own round trip. Should
 * that fail (out of memory) the call fails with out->found still true: the lease was
 * granted and the caller gives it back (sched_job_release). */
int sched_job_claim(sched_store *store, const char *region, const char *runner,
                    const char *token_id, const char *labels_csv, int lease_seconds, int64_t now_ms,
                    core_buf *job_json, sched_claim *out, core_error *err);
/* regions, for heartbeat and complete: the regions the caller's runner token may act in,
 * joined by '|', or NULL for every region. The script checks it before anything else, in
 * the same round trip: CORE_EAUTH ("this token may not act in region R") for a job of
 * another region and CORE_ENOTFOUND for a missing job, with nothing changed either way. */

/* Extends the lease (and its locks) to now + lease_seconds. *cancel is set when the job
 * was superseded or cancelled under this lease (the runner must stop it). CORE_ECONFLICT
 * when lease_id is not the job's current lease: nothing changes. */
int sched_job_heartbeat(sched_store *store, const char *id, const char *lease_id,
                        const char *regions, int lease_seconds, int64_t now_ms, bool *cancel,
                        int64_t *expires, core_error *err);
/* Ends a leased job: succeeded or failed; its locks are freed. The same lease asking again
 * is told CORE_ECONFLICT "already completed ..." and changes nothing; any other lease gets
 * CORE_ECONFLICT. runner names the reporter in the history; NULL or "": the runner the job
 * was leased to. ran_by (ran_by_len bytes, may be NULL) receives the name used. */
int sched_job_complete(sched_store *store, const char *id, const char *lease_id,
                       const char *regions, bool success, const char *runner, int64_t now_ms,
                       char state[32], char *ran_by, size_t ran_by_len, core_error *err);
/* Gives back a lease that was granted but never used (the answer did not reach the runner,
 * or the runner was stopping and did not start the job): only the job's current lease,
 * with its own fencing token, can. The job goes back to its region's queue at once, its
 * locks freed and the attempt the grant counted given back; a job superseded or cancelled
 * meanwhile only has its lease ended. why (printable, at most 128 bytes) goes into the
 * history. state receives the job's state after. CORE_ECONFLICT when the lease is not the
 * job's current one (someone else's, expired, completed, released already): nothing
 * changes. */
int sched_job_release(sched_store *store, const char *id, const char *lease_id,
                      int64_t fencing_token, const char *runner, const char *why, int64_t now_ms,
                      char state[32], core_error *err);
/* Expired leases: the job returns to its region's queue with its locks freed, or becomes
 * dead after max_attempts. Any process may call it; each lease is reaped once. */
int sched_leases_reap(sched_store *store, int64_t now_ms, int max_attempts, size_t *requeued,
                      size_t *dead, core_error *err);
/* Fields of a job's hash in one round trip (HMGET): each out (len bytes) receives its
 * field, NUL-terminated and cut to fit, or "" when the job has no such field.
 * CORE_ENOTFOUND when none of the fields is there (a missing job). */
typedef struct sched_field {
    const char *name;
    char *out;
    size_t len;
} sched_field;
int sched_job_fields(sched_store *store, const char *id, sched_field *fields, size_t n,
                     core_error *err);
/* One field of a job's hash ("region", "runner", ...). CORE_ENOTFOUND for a missing job
 * or field. */
int sched_job_field(sched_store *store, const char *id, const char *field, char *out, size_t len,
                    core_error *err);

/* Calls on_ready(region, ctx) whenever a job becomes claimable in a region (queued,
 * requeued, or a build lock freed), in this or any other process: a thread with its own
 * Redis connection subscribed to "{P}:ready", reconnecting by itself. */
typedef struct sched_watch sched_watch;
int sched_watch_start(sched_watch **out, sched_store *store,
                      void (*on_ready)(const char *region, void *ctx), void *ctx, core_error *err);
void sched_watch_stop(sched_watch *watch);

#endif
