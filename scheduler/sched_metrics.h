/* What /metrics shows from Redis, read in one round trip (scheduler/metrics.c, the Lua
 * script lua/metrics.lua). Gauges are read at the instant asked for; the lease counters
 * and the decision and inspection histograms are fleet-wide: the scripts that grant,
 * reap, decide and end inspections bump them in Redis (`{P}:metrics`) in the same
 * atomic step, so every zoneci process reports the same totals (aggregate with max(),
 * not sum()). Counters kept in Redis survive a process restart and need no plumbing from
 * the router, inspector and runner threads to the HTTP server. */
#ifndef ZONECI_SCHEDULER_SCHED_METRICS_H
#define ZONECI_SCHEDULER_SCHED_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "scheduler/sched_jobs.h"

/* Defined by scheduler/sched_store.h (a C11 typedef may be repeated). */
typedef struct sched_store sched_store;

/* Regions one read reports (the script's arguments are bounded); more are left out. */
#define SCHED_METRICS_REGIONS_MAX 32
/* Queue and outbox entries looked at for the oldest one, per set and scrape. */
#define SCHED_METRICS_SCAN 100
/* Most buckets of a histogram, +Inf included. */
#define SCHED_METRICS_BUCKETS_MAX 16

typedef struct sched_metrics_region {
    int64_t depth;     /* jobs in the region's queue */
    int64_t oldest_ms; /* since the oldest queued job was queued; -1 for none */
    int64_t idle;      /* runners whose last claim found nothing, in the idle window */
} sched_metrics_region;

typedef struct sched_metrics_histogram {
    size_t n_bounds;                             /* buckets = n_bounds + 1 (+Inf) */
    int64_t bound_ms[SCHED_METRICS_BUCKETS_MAX]; /* upper bounds, ascending */
    int64_t bucket[SCHED_METRICS_BUCKETS_MAX];   /* per bucket, not cumulative */
    int64_t sum_ms;
    int64_t count;
} sched_metrics_histogram;

typedef struct sched_metrics {
    int64_t jobs[SCHED_STATE_COUNT]; /* jobs by state */
    size_t n_regions;
    sched_metrics_region region[SCHED_METRICS_REGIONS_MAX]; /* in the order asked */
    int64_t outbox_pending, outbox_dead;
    int64_t outbox_oldest_ms; /* since the oldest pending message was created; -1 none */
    int64_t leases_granted;
    int64_t leases_expired_requeued, leases_expired_dead; /* not renewed in time */
    int64_t leases_reaped;              /* every lease the reaper ended, expired or abandoned */
    sched_metrics_histogram decision;   /* awaiting_approval to decided */
    sched_metrics_histogram inspection; /* inspecting to its end, retries included */
} sched_metrics;

/* Reads everything above for regions[0..n) (at most SCHED_METRICS_REGIONS_MAX) at now_ms;
 * idle runners count from idle_since_ms on. CORE_EUNAVAILABLE / CORE_EIO as
 * sched_store_eval; *out is zeroed first. */
int sched_metrics_read(sched_store *store, const char *const *regions, size_t n, int64_t now_ms,
                       int64_t idle_since_ms, sched_metrics *out, core_error *err);

#endif
