/* bench/retention: Redis memory per job. Against a fresh redis-server (argv[1], a store
 * URL), N jobs go through intake, inspection and routing (queued), then a runner claims
 * and completes each (succeeded), then a retention pass 31 days on deletes them. INFO
 * memory's used_memory is read after each stage; the differences divided by N are the
 * bytes per job. Figures only; bench/RESULTS.md has them.
 * usage: bench-retention URL N CACHE_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_retention.h"
#include "scheduler/store.h"

#define DAY_MS (24LL * 3600 * 1000)

static void die(const char *what, const core_error *err)
{
    fprintf(stderr, "bench-retention: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static long long used_memory(sched_store *store)
{
    const char *argv[] = {"INFO", "memory"};
    sched_reply *r = NULL;
    core_error err = {0};
    long long v = -1;
    const char *p;

    if (sched_store_command(store, argv, 2, &r, &err) < 0)
        die("INFO", &err);
    p = r->type == SCHED_REPLY_STR ? strstr(r->str, "used_memory:") : NULL;
    if (p)
        v = strtoll(p + strlen("used_memory:"), NULL, 10);
    sched_reply_free(r);
    return v;
}

/* MEMORY USAGE of one key (SAMPLES 0: every element). */
static long long key_memory(sched_store *store, const char *name)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    core_error err = {0};
    long long v = 0;

    if (sched_store_key(store, key, &err, "%s", name) < 0)
        die("key", &err);
    {
        const char *argv[] = {"MEMORY", "USAGE", key, "SAMPLES", "0"};

        if (sched_store_command(store, argv, 5, &r, &err) < 0)
            die("MEMORY USAGE", &err);
    }
    if (r->type == SCHED_REPLY_INT)
        v = r->integer;
    sched_reply_free(r);
    return v;
}

static long long count(sched_store *store, const char *cmd, const char *name)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    core_error err = {0};
    long long v = -1;

    if (sched_store_key(store, key, &err, "%s", name) < 0)
        die("key", &err);
    {
        const char *argv[] = {cmd, key};

        if (sched_store_command(store, argv, 2, &r, &err) < 0)
            die(cmd, &err);
    }
    if (r->type == SCHED_REPLY_INT)
        v = r->integer;
    sched_reply_free(r);
    return v;
}

/* Keys with a TTL (INFO keyspace "expires="): the delivery dedup marks. */
static long long expiring(sched_store *store)
{
    const char *argv[] = {"INFO", "keyspace"};
    sched_reply *r = NULL;
    core_error err = {0};
    long long v = 0;
    const char *p;

    if (sched_store_command(store, argv, 2, &r, &err) < 0)
        die("INFO", &err);
    p = r->type == SCHED_REPLY_STR ? strstr(r->str, "expires=") : NULL;
    if (p)
        v = strtoll(p + strlen("expires="), NULL, 10);
    sched_reply_free(r);
    return v;
}

static long long dbsize(sched_store *store)
{
    const char *argv[] = {"DBSIZE"};
    sched_reply *r = NULL;
    core_error err = {0};
    long long v;

    if (sched_store_command(store, argv, 1, &r, &err) < 0)
        die("DBSIZE", &err);
    v = r->integer;
    sched_reply_free(r);
    return v;
}

/* Jobs first..first+n-1, each its own PR with realistic field sizes. */
static void intake(sched_store *store, long first, long n, int64_t now)
{
    for (long i = first; i < first + n; i++) {
        char sha[41], delivery[64], title[96], ref[64];
        sched_pr_ref pr = {.repo = "acme/payments",
                           .pr = i + 1,
                           .head_sha = sha,
                           .base_sha = "0123456789abcdef0123456789abcdef01234567",
                           .head_ref = ref,
                           .base_ref = "main",
                           .title = title,
                           .author = "octocat",
                           .clone_url = "https://github.com/acme/payments.git",
                           .installation_id = 42};
        sched_intake in;
        core_error err = {0};

        snprintf(sha, sizeof(sha), "%040lx", (unsigned long)(i + 1) * 2654435761u);
        snprintf(delivery, sizeof(delivery), "%08lx-1a2b-11f0-8e3c-%012lx", (unsigned long)i,
                 (unsigned long)i);
        snprintf(title, sizeof(title), "Add an index on orders(created_at), change %ld", i);
        snprintf(ref, sizeof(ref), "feature/orders-index-%ld", i);
        if (sched_intake_pull_request(store, delivery, &pr, now, &in, &err) < 0 ||
            in.outcome != SCHED_INTAKE_CREATED)
            die("intake", &err);
    }
}

static void inspect_and_route(sched_store *store, const sched_plan *plan, int64_t now)
{
    sched_inspect_result res;
    sched_router_stats st;
    core_error err = {0};

    do {
        if (sched_inspect_one(store, &plan, NULL, NULL, now, &res, &err) < 0)
            die("inspect", &err);
    } while (res.job_id[0]);
    do {
        if (sched_router_pass(store, plan, now, &st, &err) < 0)
            die("route", &err);
    } while (st.routed);
}

static void claim_and_complete(sched_store *store, int64_t now)
{
    for (;;) {
        sched_claim c;
        char state[32];
        core_error err = {0};

        if (sched_job_claim(store, "emea-berlin", "runner-1", "bench", "", 120, now, NULL, &c, &err) < 0)
            die("claim", &err);
        if (!c.found)
            return;
        if (sched_job_complete(store, c.job_id, c.lease_id, NULL, true, "runner-1", now, state, NULL, 0, &err) < 0)
            die("complete", &err);
    }
}

static const char config_fmt[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"}, \"cache_dir\": \"%s\","
    " \"regions\": [{\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\","
    "   \"hours\": [\"Mon-Fri 09:00-18:00\"]}],"
    " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"emea-berlin\"],"
    "   \"when_closed\": \"queue\"}]}";

int main(int argc, char **argv)
{
    sched_store_options so = {.prefix = "zoneci", .pool_size = 1};
    sched_store *store = NULL;
    policy_config *cfg = NULL;
    policy_problems problems = {0};
    sched_plan *plan = NULL;
    sched_tz_setup_info tz;
    core_error err = {0};
    char text[2048];
    long n;
    int64_t now = core_time_now_ms();
    long long m0, m1, m2, m3, keys0;
    sched_retention_stats rs;
    int passes = 0;
    int64_t t0;

    if (argc != 4) {
        fprintf(stderr, "usage: bench-retention URL N CACHE_DIR\n");
        return 2;
    }
    n = atol(argv[2]);
    so.url = argv[1];
    snprintf(text, sizeof(text), config_fmt, argv[3]);
    if (policy_config_parse(text, strlen(text), "bench", &cfg, &problems, &err) < 0)
        die("config", &err);
    sched_tz_setup(cfg->cache_dir, &tz);
    if (sched_plan_new(&plan, cfg, &err) < 0)
        die("plan", &err);
    if (sched_store_new(&store, &so, &err) < 0)
        die("store", &err);
    /* One job through every step first: scripts loaded, counters and sets created. */
    intake(store, 0, 1, now);
    inspect_and_route(store, plan, now);
    claim_and_complete(store, now);
    m0 = used_memory(store);
    keys0 = dbsize(store);

    intake(store, 1, n, now);
    inspect_and_route(store, plan, now);
    m1 = used_memory(store);
    printf("jobs                              %ld\n", n);
    printf("queued (intake, inspect, route)   %8.0f bytes/job  (%lld keys)\n",
           (double)(m1 - m0) / (double)n, dbsize(store) - keys0);
    claim_and_complete(store, now);
    m2 = used_memory(store);
    printf("succeeded (claim, complete)       %8.0f bytes/job  (%lld keys, audit %lld "
           "entries)\n",
           (double)(m2 - m0) / (double)n, dbsize(store) - keys0, count(store, "XLEN", "audit"));
    printf("  of which the audit stream       %8.0f bytes/job  (MEMORY USAGE %lld)\n",
           (double)key_memory(store, "audit") / (double)n, key_memory(store, "audit"));
    t0 = core_time_mono_us();
    do {
        if (sched_retention_pass(store, cfg, now + 31 * DAY_MS, &rs, &err) < 0)
            die("retention", &err);
        passes++;
    } while (rs.more);
    printf("retention pass (500 jobs)         %8.1f ms/pass\n",
           (double)(core_time_mono_us() - t0) / 1000.0 / passes);
    m3 = used_memory(store);
    printf("after retention (31 days on)      %8.0f bytes/job  (%lld keys, %d passes, jobs "
           "left %lld, audit %lld)\n",
           (double)(m3 - m0) / (double)n, dbsize(store) - keys0, passes,
           count(store, "ZCARD", "jobs"), count(store, "XLEN", "audit"));
    printf("keys with a TTL left (delivery marks, 3 days): %lld\n", expiring(store));
    printf("used_memory: start %lld, queued %lld, succeeded %lld, after retention %lld\n", m0, m1,
           m2, m3);
    sched_store_free(store);
    sched_plan_free(plan);
    policy_config_free(cfg);
    return 0;
}
