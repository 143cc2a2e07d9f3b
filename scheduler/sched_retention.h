/* Retention: bounded growth of every key zoneci writes, one batched pass at a time. Stats
 * are written into a caller-owned struct; cfg is borrowed. */
#ifndef ZONECI_SCHEDULER_SCHED_RETENTION_H
#define ZONECI_SCHEDULER_SCHED_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Forward declarations (a C11 typedef may be repeated); their faces define them. */
typedef struct sched_store sched_store;
struct policy_config;

/* ---- retention (scheduler/retention.c) -------------------------------------------------
 * Bounded growth: every key zoneci writes has a TTL or is trimmed (docs/scheduler.md,
 * "What is kept how long"). A pass deletes jobs that finished retention_days ago with every
 * index entry naming them (jobs finished before `{P}:finished` existed are indexed first),
 * trims the audit stream to the same horizon, drops dead letters as old, forgets runners
 * idle longer than the routing window and sweeps the deferred, routing, inspect, escalate
 * and queue sets of ids whose job is gone. Every step is a batch of at most
 * SCHED_RETENTION_BATCH and idempotent, so passes racing in several processes are
 * harmless; sched_retention_tick spaces them out fleet-wide with a short lock. */
#define SCHED_RETENTION_BATCH 500
#define SCHED_RETENTION_PERIOD_MS 10000 /* one pass per period, fleet-wide */

typedef struct sched_retention_stats {
    size_t jobs;       /* finished jobs deleted */
    size_t backfilled; /* final jobs looked at to index them in {P}:finished */
    size_t audit;      /* audit entries trimmed */
    size_t dead;       /* dead letters dropped */
    size_t idle;       /* idle-runner entries expired */
    size_t swept;      /* set entries whose job was gone */
    bool more;         /* a batch was full: another pass has work */
} sched_retention_stats;

/* One pass at an injected instant with cfg's retention_days and regions. */
int sched_retention_pass(sched_store *store, const struct policy_config *cfg, int64_t now_ms,
                         sched_retention_stats *stats, core_error *err);
/* A pass if no process ran one in the last SCHED_RETENTION_PERIOD_MS ({P}:retention:lock,
 * SET NX PX); *ran says whether this call did. A pass with a full batch frees the lock, so
 * the next tick (any process) goes on at once. */
int sched_retention_tick(sched_store *store, const struct policy_config *cfg, int64_t now_ms,
                         bool *ran, sched_retention_stats *stats, core_error *err);

#endif
