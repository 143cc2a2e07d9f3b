/* bench/metrics: what /metrics costs in Redis. Against a real redis-server (argv[1], a
 * store URL): one sched_metrics_read (the whole Redis side of a scrape: jobs by state,
 * four regions' queues, idle runners, the outbox, the fleet-wide counters) timed beside
 * its peer in the same run, one PING round trip on the same pool, with queues of DEPTH
 * jobs per region. Figures only; bench/RESULTS.md has them.
 * usage: bench-metrics URL [DEPTH] [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "scheduler/sched_metrics.h"
#include "scheduler/sched_store.h"
#include "scheduler/store.h"

static const char *const regions[] = {"apac-tokyo", "emea-berlin", "amer-seattle", "amer-nyc"};

static void die(const char *what, const core_error *err)
{
    fprintf(stderr, "bench-metrics: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void cmd(sched_store *store, const char *const *argv, size_t argc)
{
    sched_reply *r = NULL;
    core_error err = {0};

    if (sched_store_command(store, argv, argc, &r, &err) < 0)
        die(argv[0], &err);
    sched_reply_free(r);
}

/* depth queued jobs per region, the layout the scripts write (ids, updated_at). */
static void fill(sched_store *store, long depth, int64_t now)
{
    char id[32], key[128], at[32], queue[128], state[128];
    long next = 1;

    snprintf(state, sizeof(state), "%sstate:queued", sched_store_prefix(store));
    for (size_t r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
        snprintf(queue, sizeof(queue), "%squeue:%s", sched_store_prefix(store), regions[r]);
        for (long i = 0; i < depth; i++, next++) {
            snprintf(id, sizeof(id), "%ld", next);
            snprintf(key, sizeof(key), "%sjob:%s", sched_store_prefix(store), id);
            snprintf(at, sizeof(at), "%lld", (long long)(now - next * 1000));
            cmd(store, (const char *[]){"HSET", key, "state", "queued", "updated_at", at}, 6);
            cmd(store, (const char *[]){"ZADD", queue, id, id}, 4);
            cmd(store, (const char *[]){"ZADD", state, id, id}, 4);
        }
    }
}

int main(int argc, char **argv)
{
    sched_store_options o = {.prefix = "bm", .pool_size = 1};
    sched_store *store;
    sched_metrics m;
    core_error err = {0};
    long depth = argc > 2 ? atol(argv[2]) : 1000, n = argc > 3 ? atol(argv[3]) : 5000;
    int64_t now = core_time_now_ms(), t0;
    double read_us, ping_us;

    if (argc < 2) {
        fprintf(stderr, "usage: bench-metrics URL [DEPTH] [N]\n");
        return 2;
    }
    o.url = argv[1];
    if (sched_store_new(&store, &o, &err) < 0)
        die("store", &err);
    fill(store, depth, now);
    if (sched_metrics_read(store, regions, 4, now, now - 60000, &m, &err) < 0)
        die("metrics", &err); /* loads the function library before timing */
    if (m.region[0].depth != depth)
        die("fill: queue depth differs", NULL);
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        if (sched_metrics_read(store, regions, 4, now, now - 60000, &m, &err) < 0)
            die("metrics", &err);
    }
    read_us = (double)(core_time_mono_us() - t0) / (double)n;
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        if (sched_store_ping(store, &err) < 0)
            die("ping", &err);
    }
    ping_us = (double)(core_time_mono_us() - t0) / (double)n;
    printf("queue depth per region            %8ld jobs (4 regions)\n", depth);
    printf("sched_metrics_read (one FCALL)    %8.1f us/scrape\n", read_us);
    printf("PING (peer: one round trip)       %8.1f us\n", ping_us);
    printf("metrics_read_over_ping            %8.2f\n", read_us / ping_us);
    sched_store_free(store);
    return 0;
}
