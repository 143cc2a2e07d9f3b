/* The router: the part of every `zoneci serve` process that applies routing decisions
 * to jobs in Redis. Each pass (1) releases due deferrals into the routing set, exactly
 * once across processes (one Lua script), (2) routes new jobs and released ones, and
 * (3) follows the sun: a queued job whose region has closed is routed again. Every write
 * is a compare-and-set script, so any number of processes may race on the same jobs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/policies.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_approval.h"
#include "scheduler/sched_retention.h"
#include "scheduler/store.h"

#define PASS_BATCH 200
#define TICK_MS 1000

struct sched_router {
    sched_store *store;
    pthread_mutex_t lock; /* held during a pass and when the plan is swapped */
    pthread_cond_t wake;
    const sched_plan *plan;
    bool stop;
    atomic_bool kicked; /* set by request threads without the lock */
    pthread_t thread;
};

typedef struct job_facts {
    char state[32];
    char region[128];
    char repo[256];
} job_facts;

static int read_job(sched_store *store, const char *id, job_facts *f, core_error *err)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "job:%s", id);

    if (rc < 0)
        return rc;
    {
        const char *argv[] = {"HMGET", key, "state", "region", "repo"};

        rc = sched_store_command(store, argv, 5, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type != SCHED_REPLY_ARRAY || r->n != 3 || r->elem[0].type != SCHED_REPLY_STR) {
        sched_reply_free(r);
        return core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    }
    snprintf(f->state, sizeof(f->state), "%s", r->elem[0].str);
    snprintf(f->region, sizeof(f->region), "%s",
             r->elem[1].type == SCHED_REPLY_STR ? r->elem[1].str : "");
    snprintf(f->repo, sizeof(f->repo), "%s",
             r->elem[2].type == SCHED_REPLY_STR ? r->elem[2].str : "");
    sched_reply_free(r);
    return 0;
}

int sched_route_apply(sched_store *store, const char *id, const char *expect_state,
                      const char *expect_region, bool must_be_due, const struct policy_config *cfg,
                      const sched_decision *d, int64_t now_ms, core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char release[24], now[24], iso[CORE_ISO_MAX];
    sched_reply *r = NULL;
    int rc;

    rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);
    if (rc < 0)
        return rc;
    snprintf(release, sizeof(release), "%lld", (long long)d->release_at);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_job, k_hist, k_audit};
        const char *args[] = {sched_store_prefix(store),
                              id,
                              expect_state,
                              expect_region ? expect_region : "*",
                              d->kind == SCHED_ROUTE_QUEUE ? "queue" : "defer",
                              d->region >= 0 ? cfg->regions[d->region].name : "",
                              release,
                              d->reason,
                              now,
                              iso,
                              must_be_due ? "1" : "0",
                              d->labels};

        rc = sched_store_eval(store, SCHED_SCRIPT_ROUTE_APPLY, keys, 3, args, 12, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type != SCHED_REPLY_ARRAY || r->n != 2 || r->elem[0].type != SCHED_REPLY_STR)
        rc = core_error_set(err, CORE_EIO, "route_apply: unexpected reply");
    else if (strcmp(r->elem[0].str, "missing") == 0)
        rc = core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    else if (strcmp(r->elem[0].str, "conflict") == 0)
        rc = core_error_set(err, CORE_ECONFLICT, "job %s moved on (now %s)", id,
                            r->elem[1].type == SCHED_REPLY_STR ? r->elem[1].str : "?");
    sched_reply_free(r);
    return rc;
}

int sched_deferred_promote(sched_store *store, int64_t now_ms, size_t limit, size_t *released,
                           core_error *err)
{
    char k_def[SCHED_KEY_MAX], k_routing[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX], lim[24];
    sched_reply *r = NULL;
    int rc;

    *released = 0;
    rc = sched_store_key(store, k_def, err, "deferred");
    if (rc == 0)
        rc = sched_store_key(store, k_routing, err, "routing");
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(lim, sizeof(lim), "%zu", limit);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_def, k_routing, k_audit};
        const char *args[] = {sched_store_prefix(store), now, iso, lim};

        rc = sched_store_eval(store, SCHED_SCRIPT_PROMOTE, keys, 3, args, 4, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type == SCHED_REPLY_ARRAY)
        *released = r->n;
    sched_reply_free(r);
    return 0;
}

/* Ids from a sorted or plain set key, at most PASS_BATCH. */
static int list_ids(sched_store *store, const char *kind, const char *name, sched_reply **out,
                    core_error *err)
{
    char key[SCHED_KEY_MAX];
    int rc = sched_store_key(store, key, err, "%s%s", kind, name);

    if (rc < 0)
        return rc;
    if (strcmp(kind, "routing") == 0) {
        const char *argv[] = {"SRANDMEMBER", key, "200"};

        return sched_store_command(store, argv, 3, out, err);
    }
    {
        const char *argv[] = {"ZRANGE", key, "0", "199"};

        return sched_store_command(store, argv, 4, out, err);
    }
}

/* An integer reply. A store error is returned, never read as 0: a queue that cannot be
 * counted must not look empty to routing. */
static int int_reply(sched_store *store, const char *const *argv, size_t argc, int64_t *out,
                     core_error *err)
{
    sched_reply *r = NULL;
    int rc = sched_store_command(store, argv, argc, &r, err);

    *out = 0;
    if (rc == 0 && r->type != SCHED_REPLY_INT)
        rc = core_error_set(err, CORE_EIO, "redis: %s answered no integer", argv[0]);
    else if (rc == 0)
        *out = r->integer;
    sched_reply_free(r);
    return rc;
}

static int idle_count(sched_store *store, const char *region, const char *since,
                      const char *labels_csv, int *out, core_error *err)
{
    char k_tokens[SCHED_KEY_MAX], cap[12];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, k_tokens, err, "idlet:%s", region);

    *out = 0;
    if (rc < 0)
        return rc;
    snprintf(cap, sizeof(cap), "%d", SCHED_IDLE_PER_TOKEN);
    {
        const char *keys[] = {k_tokens};
        const char *args[] = {sched_store_prefix(store), region, since,
                              labels_csv ? labels_csv : "", cap};

        rc = sched_store_eval(store, SCHED_SCRIPT_IDLE_COUNT, keys, 1, args, 5, &r, err);
    }
    if (rc == 0 && r->type != SCHED_REPLY_INT)
        rc = core_error_set(err, CORE_EIO, "redis: idle_count answered no integer");
    else if (rc == 0)
        *out = (int)r->integer;
    sched_reply_free(r);
    return rc;
}

int sched_region_loads(sched_store *store, const struct policy_config *cfg, int64_t now_ms,
                       const char *labels_csv, sched_region_load *loads, core_error *err)
{
    char since[24];

    snprintf(since, sizeof(since), "%lld", (long long)(now_ms - SCHED_IDLE_WINDOW_MS));
    for (size_t i = 0; i < cfg->n_regions; i++) {
        char q[SCHED_KEY_MAX];
        int rc = sched_store_key(store, q, err, "queue:%s", cfg->regions[i].name);

        if (rc == 0)
            rc = idle_count(store, cfg->regions[i].name, since, labels_csv, &loads[i].idle_runners,
                            err);
        if (rc < 0)
            return rc;
        {
            const char *zcard[] = {"ZCARD", q};
            int64_t queued;

            rc = int_reply(store, zcard, 2, &queued, err);
            if (rc < 0)
                return rc;
            loads[i].queued = (int)queued;
        }
    }
    return 0;
}

/* Decides with the idle runners that could run the job: when the policy requires labels,
 * the regions' idle runners are counted again, only those that have them. */
static int decide(sched_store *store, const sched_plan *plan, const char *repo, int64_t now_ms,
                  const sched_region_load *loads, sched_decision *d, core_error *err)
{
    const policy_config *cfg = sched_plan_config(plan);
    sched_region_load *mine;
    int rc = sched_route_decide(plan, repo, now_ms, loads, d, err);

    if (rc < 0 || !d->labels[0] || d->kind != SCHED_ROUTE_QUEUE || cfg->n_regions == 0)
        return rc;
    mine = calloc(cfg->n_regions, sizeof(*mine));
    if (!mine)
        return rc; /* keep the decision made with every idle runner counted */
    if (sched_region_loads(store, cfg, now_ms, d->labels, mine, err) == 0) {
        for (size_t i = 0; i < cfg->n_regions; i++)
            mine[i].queued = loads[i].queued;
        rc = sched_route_decide(plan, repo, now_ms, mine, d, err);
    }
    free(mine);
    return rc;
}

static void count_outcome(int rc, sched_router_stats *stats)
{
    if (rc == 0)
        stats->routed++;
    else if (rc == CORE_ECONFLICT || rc == CORE_ENOTFOUND)
        stats->raced++;
    else
        stats->errors++;
}

/* Routes every job of one list, each expected in state `expect` (NULL: deferred,
 * inspecting or approved awaiting_approval, the states the routing set holds). */
static int route_list(sched_store *store, const sched_plan *plan, const char *kind,
                      const char *name, const char *expect, bool due, int64_t now_ms,
                      sched_region_load *loads, sched_router_stats *stats, core_error *err)
{
    const policy_config *cfg = sched_plan_config(plan);
    sched_reply *ids = NULL;
    int rc = list_ids(store, kind, name, &ids, err);

    if (rc < 0)
        return rc;
    for (size_t i = 0; ids->type == SCHED_REPLY_ARRAY && i < ids->n; i++) {
        const char *id = ids->elem[i].str;
        job_facts f;
        sched_decision d;
        core_error e2 = {0};

        if (read_job(store, id, &f, &e2) < 0 || (expect && strcmp(f.state, expect) != 0) ||
            (!expect && strcmp(f.state, "deferred") != 0 && strcmp(f.state, "inspecting") != 0 &&
             strcmp(f.state, "awaiting_approval") != 0)) {
            stats->raced++;
            continue;
        }
        if (decide(store, plan, f.repo, now_ms, loads, &d, &e2) < 0) {
            /* The policy was removed since the job arrived: say so and keep it waiting. */
            snprintf(d.reason, sizeof(d.reason), "deferred: %s; checking again in an hour", e2.msg);
            d.kind = SCHED_ROUTE_DEFER;
            d.region = -1;
            d.release_at = now_ms + 3600000;
        }
        rc = sched_route_apply(store, id, f.state, NULL, due, cfg, &d, now_ms, &e2);
        count_outcome(rc, stats);
        if (rc == 0 && d.kind == SCHED_ROUTE_QUEUE && d.region >= 0)
            loads[d.region].queued++;
        if (rc == CORE_EUNAVAILABLE) {
            sched_reply_free(ids);
            return core_error_set(err, rc, "%s", e2.msg);
        }
    }
    sched_reply_free(ids);
    return 0;
}

/* A queued job whose region has closed is routed again, if that sends it elsewhere. */
static int follow_the_sun(sched_store *store, const sched_plan *plan, int64_t now_ms,
                          sched_region_load *loads, sched_router_stats *stats, core_error *err)
{
    const policy_config *cfg = sched_plan_config(plan);

    for (size_t r = 0; r < cfg->n_regions; r++) {
        sched_window_state st;
        sched_reply *ids = NULL;
        int rc;

        sched_windows_eval(sched_plan_windows(plan, r), now_ms, &st);
        if (st.open)
            continue;
        rc = list_ids(store, "queue:", cfg->regions[r].name, &ids, err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; ids->type == SCHED_REPLY_ARRAY && i < ids->n; i++) {
            const char *id = ids->elem[i].str;
            job_facts f;
            sched_decision d;
            core_error e2 = {0};
            char reason[sizeof(d.reason) + 256];
            size_t n;

            if (read_job(store, id, &f, &e2) < 0 || strcmp(f.state, "queued") != 0 ||
                decide(store, plan, f.repo, now_ms, loads, &d, &e2) < 0)
                continue;
            if (d.kind == SCHED_ROUTE_QUEUE && d.region == (int)r)
                continue; /* nowhere better: fallback or "queue" mode keeps it here */
            snprintf(reason, sizeof(reason), "re-routed, %s closed: %s", cfg->regions[r].name,
                     d.reason);
            n = strlen(reason);
            if (n >= sizeof(d.reason))
                n = sizeof(d.reason) - 1;
            memcpy(d.reason, reason, n);
            d.reason[n] = '\0';
            rc = sched_route_apply(store, id, "queued", cfg->regions[r].name, false, cfg, &d,
                                   now_ms, &e2);
            count_outcome(rc, stats);
            if (rc == 0) {
                stats->rerouted++;
                loads[r].queued--;
                if (d.kind == SCHED_ROUTE_QUEUE && d.region >= 0)
                    loads[d.region].queued++;
            }
        }
        sched_reply_free(ids);
    }
    return 0;
}

/* Tells the scripts whether commit statuses are wanted (the GitHub App is configured)
 * and where job pages are; every router keeps it current. */
static int publish_config(sched_store *store, const policy_config *cfg, core_error *err)
{
    char k_st[SCHED_KEY_MAX], k_url[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    bool statuses = cfg->github.app_id && cfg->github.private_key_file;
    int rc = sched_store_key(store, k_st, err, "config:statuses");

    if (rc == 0)
        rc = sched_store_key(store, k_url, err, "config:public_url");
    if (rc < 0)
        return rc;
    {
        const char *argv[] = {"MSET", k_st, statuses ? "1" : "0", k_url,
                              cfg->server.public_url ? cfg->server.public_url : ""};

        rc = sched_store_command(store, argv, 5, &r, err);
    }
    sched_reply_free(r);
    return rc;
}

int sched_router_pass(sched_store *store, const sched_plan *plan, int64_t now_ms,
                      sched_router_stats *stats, core_error *err)
{
    const policy_config *cfg = sched_plan_config(plan);
    sched_region_load *loads = calloc(cfg->n_regions ? cfg->n_regions : 1, sizeof(*loads));
    size_t released = 0;
    int rc;

    memset(stats, 0, sizeof(*stats));
    if (!loads)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    rc = publish_config(store, cfg, err);
    if (rc == 0)
        rc = sched_leases_reap(store, now_ms, cfg->runners.max_attempts, &stats->requeued,
                               &stats->dead, err);
    if (rc == 0)
        rc = sched_deferred_promote(store, now_ms, PASS_BATCH, &released, err);
    stats->released = released;
    if (rc == 0)
        rc = sched_region_loads(store, cfg, now_ms, NULL, loads, err);
    /* New jobs reach routing through inspection; the routing set holds them and the
     * released deferrals. */
    if (rc == 0)
        rc = route_list(store, plan, "routing", "", NULL, true, now_ms, loads, stats, err);
    if (rc == 0)
        rc = follow_the_sun(store, plan, now_ms, loads, stats, err);
    if (rc == 0)
        rc = sched_escalate_due(store, plan, now_ms, &stats->escalated, err);
    free(loads);
    return rc;
}

/* Retention rides on the router's clock: at most one pass per period across the fleet. */
static void retention_tick(sched_store *store, const policy_config *cfg)
{
    sched_retention_stats st;
    core_error err = {0};
    bool ran = false;

    if (sched_retention_tick(store, cfg, core_time_now_ms(), &ran, &st, &err) < 0)
        CORE_LOG(CORE_LOG_WARN, "retention_pass", "msg=\"%s\"", err.msg);
    else if (ran && (st.jobs || st.backfilled || st.audit || st.dead || st.swept))
        CORE_LOG(CORE_LOG_INFO, "retention_pass",
                 "jobs=%zu backfilled=%zu audit=%zu dead=%zu idle=%zu swept=%zu more=%d", st.jobs,
                 st.backfilled, st.audit, st.dead, st.idle, st.swept, st.more);
}

static void *router_main(void *arg)
{
    sched_router *rt = arg;
    int64_t last_retention = INT64_MIN / 2;

    pthread_mutex_lock(&rt->lock);
    while (!rt->stop) {
        sched_router_stats stats;
        core_error err = {0};
        struct timespec deadline;

        if (rt->plan &&
            sched_router_pass(rt->store, rt->plan, core_time_now_ms(), &stats, &err) < 0)
            CORE_LOG(CORE_LOG_WARN, "router_pass", "msg=\"%s\"", err.msg);
        else if (rt->plan && (stats.routed || stats.released || stats.rerouted || stats.requeued ||
                              stats.dead || stats.escalated))
            CORE_LOG(CORE_LOG_INFO, "router_pass",
                     "routed=%zu released=%zu rerouted=%zu raced=%zu requeued=%zu dead=%zu "
                     "escalated=%zu",
                     stats.routed, stats.released, stats.rerouted, stats.raced, stats.requeued,
                     stats.dead, stats.escalated);
        /* Kicks make passes as frequent as deliveries; retention keeps the router's own
         * pace, at most a pass a TICK_MS, as its backlog rule assumes (retention.c). */
        int64_t now = core_time_now_ms();

        if (rt->plan && now - last_retention >= TICK_MS) {
            last_retention = now;
            retention_tick(rt->store, sched_plan_config(rt->plan));
        }
        if (atomic_exchange(&rt->kicked, false))
            continue;
        core_deadline_after(&deadline, TICK_MS);
        while (!rt->stop && !atomic_load(&rt->kicked) &&
               pthread_cond_timedwait(&rt->wake, &rt->lock, &deadline) == 0) {
        }
        atomic_store(&rt->kicked, false);
    }
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

int sched_router_start(sched_router **out, sched_store *store, const sched_plan *plan,
                       core_error *err)
{
    sched_router *rt = calloc(1, sizeof(*rt));

    *out = NULL;
    if (!rt)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    rt->store = store;
    rt->plan = plan;
    pthread_mutex_init(&rt->lock, NULL);
    core_cond_init_monotonic(&rt->wake);
    if (pthread_create(&rt->thread, NULL, router_main, rt) != 0) {
        pthread_mutex_destroy(&rt->lock);
        pthread_cond_destroy(&rt->wake);
        free(rt);
        return core_error_set(err, CORE_EIO, "cannot start the router thread");
    }
    *out = rt;
    return 0;
}

void sched_router_set_plan(sched_router *rt, const sched_plan *plan)
{
    pthread_mutex_lock(&rt->lock);
    rt->plan = plan;
    pthread_mutex_unlock(&rt->lock);
}

void sched_router_kick(sched_router *rt)
{
    /* No lock: a missed kick costs at most one tick, and request threads must not wait
     * for a pass to finish. */
    atomic_store(&rt->kicked, true);
    pthread_cond_signal(&rt->wake);
}

void sched_router_stop(sched_router *rt)
{
    if (!rt)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->stop = true;
    pthread_cond_signal(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
    pthread_join(rt->thread, NULL);
    pthread_mutex_destroy(&rt->lock);
    pthread_cond_destroy(&rt->wake);
    free(rt);
}
