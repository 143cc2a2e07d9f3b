/* The scrape's Redis side: one FCALL of lua/metrics.lua, its nested reply copied into a
 * sched_metrics. A reply of the wrong shape reads as zeros rather than failing the scrape:
 * the script and this file ship together, so it can only mean a bug a test would catch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched_metrics.h"
#include "scheduler/sched_store.h"
#include "scheduler/store.h"

/* {bounds}, {buckets}, sum_ms, count. */
static void read_histogram(const sched_reply *r, sched_metrics_histogram *h)
{
    const sched_reply *bounds = sched_reply_item(r, 0), *buckets = sched_reply_item(r, 1);
    size_t nb = bounds && bounds->type == SCHED_REPLY_ARRAY ? bounds->n : 0;

    if (nb >= SCHED_METRICS_BUCKETS_MAX)
        nb = SCHED_METRICS_BUCKETS_MAX - 1;
    h->n_bounds = nb;
    for (size_t i = 0; i < nb; i++)
        h->bound_ms[i] = sched_reply_int(sched_reply_item(bounds, i));
    for (size_t i = 0; i <= nb; i++)
        h->bucket[i] = sched_reply_int(sched_reply_item(buckets, i));
    h->sum_ms = sched_reply_int(sched_reply_item(r, 2));
    h->count = sched_reply_int(sched_reply_item(r, 3));
}

static void read_reply(const sched_reply *r, size_t n, sched_metrics *out)
{
    const sched_reply *states = sched_reply_item(r, 0), *regions = sched_reply_item(r, 1),
                      *outbox = sched_reply_item(r, 2), *leases = sched_reply_item(r, 3);

    for (size_t i = 0; i < SCHED_STATE_COUNT; i++)
        out->jobs[i] = sched_reply_int(sched_reply_item(states, i));
    out->n_regions = n;
    for (size_t i = 0; i < n; i++) {
        const sched_reply *g = sched_reply_item(regions, i);

        out->region[i].depth = sched_reply_int(sched_reply_item(g, 0));
        out->region[i].oldest_ms = g ? sched_reply_int(sched_reply_item(g, 1)) : -1;
        out->region[i].idle = sched_reply_int(sched_reply_item(g, 2));
    }
    out->outbox_pending = sched_reply_int(sched_reply_item(outbox, 0));
    out->outbox_dead = sched_reply_int(sched_reply_item(outbox, 1));
    out->outbox_oldest_ms = outbox ? sched_reply_int(sched_reply_item(outbox, 2)) : -1;
    out->leases_granted = sched_reply_int(sched_reply_item(leases, 0));
    out->leases_expired_requeued = sched_reply_int(sched_reply_item(leases, 1));
    out->leases_expired_dead = sched_reply_int(sched_reply_item(leases, 2));
    out->leases_reaped = sched_reply_int(sched_reply_item(leases, 3));
    read_histogram(sched_reply_item(r, 4), &out->decision);
    read_histogram(sched_reply_item(r, 5), &out->inspection);
}

int sched_metrics_read(sched_store *store, const char *const *regions, size_t n, int64_t now_ms,
                       int64_t idle_since_ms, sched_metrics *out, core_error *err)
{
    char k_metrics[SCHED_KEY_MAX], k_due[SCHED_KEY_MAX], k_dead[SCHED_KEY_MAX];
    char now[24], since[24], scan[16], ns[16];
    const char *args[5 + SCHED_STATE_COUNT + SCHED_METRICS_REGIONS_MAX];
    const char *keys[] = {k_metrics, k_due, k_dead};
    size_t nargs = 0;
    sched_reply *r = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (n > SCHED_METRICS_REGIONS_MAX)
        n = SCHED_METRICS_REGIONS_MAX;
    rc = sched_store_key(store, k_metrics, err, "metrics");
    if (rc == 0)
        rc = sched_store_key(store, k_due, err, "outbox:due");
    if (rc == 0)
        rc = sched_store_key(store, k_dead, err, "outbox:dead");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(since, sizeof(since), "%lld", (long long)idle_since_ms);
    snprintf(scan, sizeof(scan), "%d", SCHED_METRICS_SCAN);
    snprintf(ns, sizeof(ns), "%d", (int)SCHED_STATE_COUNT);
    args[nargs++] = sched_store_prefix(store);
    args[nargs++] = now;
    args[nargs++] = since;
    args[nargs++] = scan;
    args[nargs++] = ns;
    for (int i = 0; i < SCHED_STATE_COUNT; i++)
        args[nargs++] = sched_state_name((sched_state)i);
    for (size_t i = 0; i < n; i++)
        args[nargs++] = regions[i];
    rc = sched_store_eval(store, SCHED_SCRIPT_METRICS, keys, 3, args, nargs, &r, err);
    if (rc < 0)
        return rc;
    read_reply(r, n, out);
    sched_reply_free(r);
    return 0;
}
