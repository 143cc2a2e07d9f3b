/* route_of, the table scan (webhooks/server.c, compiled in here so that its static
 * functions can be called), against its peer: the if-chain it replaced (commit dc84ff9),
 * kept below verbatim. Never pass/fail; prints ns per lookup and the ratio.
 * usage: build/bench-routes [ITERATIONS] */
#include "webhooks/server.c"

#include <stdio.h>
#include <stdlib.h>

/* The peer: route_of as of dc84ff9. */
static wh_route old_route_of(const char *method, const char *path, char job_id[JOB_ID_MAX])
{
    static const char jobs[] = "/api/v1/jobs";

    (void)method;
    if (strcmp(path, "/webhooks/github") == 0)
        return WH_ROUTE_GITHUB;
    if (strcmp(path, "/webhooks/slack/interactions") == 0)
        return WH_ROUTE_SLACK;
    if (strcmp(path, jobs) == 0)
        return WH_ROUTE_JOBS_LIST;
    if (strncmp(path, jobs, sizeof(jobs) - 1) == 0 && path[sizeof(jobs) - 1] == '/' &&
        path[sizeof(jobs)] != '\0') {
        const char *id = path + sizeof(jobs);
        const char *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);

        if (n < JOB_ID_MAX) {
            memcpy(job_id, id, n);
            job_id[n] = '\0';
        }
        if (!slash)
            return WH_ROUTE_JOB_GET;
        if (strcmp(slash, "/heartbeat") == 0)
            return WH_ROUTE_HEARTBEAT;
        if (strcmp(slash, "/complete") == 0)
            return WH_ROUTE_COMPLETE;
        if (strcmp(slash, "/release") == 0)
            return WH_ROUTE_RELEASE;
        if (strcmp(slash, "/approve") == 0)
            return WH_ROUTE_APPROVE;
        if (strcmp(slash, "/reject") == 0)
            return WH_ROUTE_REJECT;
        return WH_ROUTE_NOT_FOUND;
    }
    if (strcmp(path, "/api/v1/runners/claim") == 0)
        return WH_ROUTE_CLAIM;
    if (strcmp(path, "/api/v1/outbox/dead") == 0)
        return WH_ROUTE_OUTBOX_DEAD;
    if (strcmp(path, "/healthz") == 0)
        return WH_ROUTE_HEALTHZ;
    if (strcmp(path, "/readyz") == 0)
        return WH_ROUTE_READYZ;
    if (strcmp(path, "/metrics") == 0)
        return WH_ROUTE_METRICS;
    return WH_ROUTE_NOT_FOUND;
}

/* A request mix: the hot paths (claims, heartbeats, webhooks) most often, the last
 * entries of the table and misses too. */
static const char *const paths[] = {
    "/api/v1/runners/claim", "/api/v1/jobs/123456/heartbeat", "/webhooks/github",
    "/api/v1/runners/claim", "/api/v1/jobs/123456/complete",  "/metrics",
    "/healthz",              "/readyz",                        "/api/v1/jobs",
    "/api/v1/jobs/42",       "/webhooks/slack/interactions",  "/nowhere/at/all",
};
#define N_PATHS (sizeof(paths) / sizeof(paths[0]))

static double run(wh_route (*fn)(const char *, const char *, char *), long n, unsigned *sink)
{
    char id[JOB_ID_MAX];
    int64_t t0 = core_time_mono_us();

    for (long i = 0; i < n; i++)
        *sink += (unsigned)fn("POST", paths[(size_t)i % N_PATHS], id);
    return (double)(core_time_mono_us() - t0) * 1000.0 / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000000;
    unsigned sink = 0;
    char a[JOB_ID_MAX] = "", b[JOB_ID_MAX] = "";

    /* Both must agree on every path of the mix before their speed means anything. */
    for (size_t i = 0; i < N_PATHS; i++) {
        if (route_of("GET", paths[i], a) != old_route_of("GET", paths[i], b) || strcmp(a, b)) {
            fprintf(stderr, "route_of and its peer differ on %s\n", paths[i]);
            return 1;
        }
    }
    for (int round = 0; round < 3; round++) {
        double table = run(route_of, n, &sink), chain = run(old_route_of, n, &sink);

        printf("round %d: table %.2f ns/lookup, if-chain (peer) %.2f ns/lookup, "
               "table_over_chain %.2f\n",
               round + 1, table, chain, table / chain);
    }
    return sink == 0xdeadbeef; /* keeps the loops */
}
