/* Retention: keeps every key zoneci writes bounded. Jobs, histories, audit entries and dead
 * letters live retention_days after they finished; index entries whose job is gone are
 * swept; idle-runner entries expire with the routing window. Each step is one bounded,
 * idempotent command or Lua script (per job atomic), so several processes may run passes
 * at once; the tick's lock only saves them the work. Time is the caller's now_ms. */
#include <stdio.h>
#include <string.h>

#include "policies/policies.h"
#include "scheduler/sched_retention.h"
#include "scheduler/sched_store.h"
#include "scheduler/store.h"

#define DAY_MS (24LL * 3600 * 1000)
#define PURGE_STEP 100            /* jobs per script call: a few ms of Redis time at most */
#define BACKFILL_RESCAN_MS DAY_MS /* final jobs missing from the index are looked for daily */

static int64_t int_of(const sched_reply *r)
{
    return r && r->type == SCHED_REPLY_INT ? r->integer : 0;
}

/* Jobs finished before the horizon, PURGE_STEP per script, SCHED_RETENTION_BATCH per pass. */
static int purge_jobs(sched_store *store, int64_t horizon, sched_retention_stats *stats,
                      core_error *err)
{
    char k_fin[SCHED_KEY_MAX], k_jobs[SCHED_KEY_MAX], hz[24], lim[24];
    size_t examined = 0;
    int rc = sched_store_key(store, k_fin, err, "finished");

    if (rc == 0)
        rc = sched_store_key(store, k_jobs, err, "jobs");
    if (rc < 0)
        return rc;
    snprintf(hz, sizeof(hz), "%lld", (long long)horizon);
    snprintf(lim, sizeof(lim), "%d", PURGE_STEP);
    while (examined < SCHED_RETENTION_BATCH) {
        const char *keys[] = {k_fin, k_jobs};
        const char *args[] = {sched_store_prefix(store), hz, lim};
        sched_reply *r = NULL;
        int64_t seen;

        rc = sched_store_eval(store, SCHED_SCRIPT_RETENTION_PURGE, keys, 2, args, 3, &r, err);
        if (rc < 0)
            return rc;
        if (r->type != SCHED_REPLY_ARRAY || r->n != 2) {
            sched_reply_free(r);
            return core_error_set(err, CORE_EIO, "retention_purge: unexpected reply");
        }
        stats->jobs += (size_t)int_of(&r->elem[0]);
        seen = int_of(&r->elem[1]);
        sched_reply_free(r);
        examined += (size_t)seen;
        if (seen < PURGE_STEP)
            return 0;
    }
    stats->more = true;
    return 0;
}

static int backfill(sched_store *store, int64_t now_ms, sched_retention_stats *stats,
                    core_error *err)
{
    char k_fin[SCHED_KEY_MAX], k_ret[SCHED_KEY_MAX], lim[24], now[24], rescan[24];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, k_fin, err, "finished");

    if (rc == 0)
        rc = sched_store_key(store, k_ret, err, "retention");
    if (rc < 0)
        return rc;
    snprintf(lim, sizeof(lim), "%d", SCHED_RETENTION_BATCH);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(rescan, sizeof(rescan), "%lld", (long long)BACKFILL_RESCAN_MS);
    {
        const char *keys[] = {k_fin, k_ret};
        const char *args[] = {sched_store_prefix(store), lim, now, rescan};

        rc = sched_store_eval(store, SCHED_SCRIPT_RETENTION_BACKFILL, keys, 2, args, 4, &r, err);
    }
    if (rc == 0) {
        stats->backfilled += (size_t)int_of(r);
        if (int_of(r) >= SCHED_RETENTION_BATCH)
            stats->more = true;
    }
    sched_reply_free(r);
    return rc;
}

/* XTRIM MINID: stream ids are the Redis server's ms clock, so entries older than the
 * horizon go, exactly (not `~`: a horizon moving by seconds trims a few entries a pass).
 * Every XADD also caps the stream at SCHED_AUDIT_MAXLEN, whatever the rate. */
static int trim_audit(sched_store *store, int64_t horizon, sched_retention_stats *stats,
                      core_error *err)
{
    char key[SCHED_KEY_MAX], minid[32];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "audit");

    if (rc < 0)
        return rc;
    snprintf(minid, sizeof(minid), "%lld", (long long)(horizon > 0 ? horizon : 0));
    {
        const char *argv[] = {"XTRIM", key, "MINID", minid};

        rc = sched_store_command(store, argv, 4, &r, err);
    }
    if (rc == 0)
        stats->audit += (size_t)int_of(r);
    sched_reply_free(r);
    return rc;
}

static int drop_dead_letters(sched_store *store, int64_t horizon, sched_retention_stats *stats,
                             core_error *err)
{
    char key[SCHED_KEY_MAX], hz[24], lim[24];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "outbox:dead");

    if (rc < 0)
        return rc;
    snprintf(hz, sizeof(hz), "%lld", (long long)horizon);
    snprintf(lim, sizeof(lim), "%d", SCHED_RETENTION_BATCH);
    {
        const char *keys[] = {key};
        const char *args[] = {sched_store_prefix(store), hz, lim};

        rc = sched_store_eval(store, SCHED_SCRIPT_RETENTION_DEAD, keys, 1, args, 3, &r, err);
    }
    if (rc == 0) {
        stats->dead += (size_t)int_of(r);
        if (int_of(r) >= SCHED_RETENTION_BATCH)
            stats->more = true;
    }
    sched_reply_free(r);
    return rc;
}

/* Idle runners live in per-token keys that expire with the routing window (the claim
 * script sets their TTL). The per-region sets of the layout before runner tokens were
 * counted apart are read by nobody: they go whole. */
static int expire_idle(sched_store *store, const policy_config *cfg, int64_t now_ms,
                       sched_retention_stats *stats, core_error *err)
{
    (void)now_ms;
    for (size_t i = 0; i < cfg->n_regions; i++) {
        char key[SCHED_KEY_MAX];
        sched_reply *r = NULL;
        int rc = sched_store_key(store, key, err, "idle:%s", cfg->regions[i].name);

        if (rc < 0)
            return rc;
        {
            const char *argv[] = {"DEL", key};

            rc = sched_store_command(store, argv, 2, &r, err);
        }
        if (rc == 0)
            stats->idle += (size_t)int_of(r);
        sched_reply_free(r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One SCAN step over a set of job ids (the cursor lives in {P}:retention). */
static int sweep(sched_store *store, const char *name, bool zset, sched_retention_stats *stats,
                 core_error *err)
{
    char key[SCHED_KEY_MAX], k_ret[SCHED_KEY_MAX], count[24];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "%s", name);

    if (rc == 0)
        rc = sched_store_key(store, k_ret, err, "retention");
    if (rc < 0)
        return rc;
    snprintf(count, sizeof(count), "%d", SCHED_RETENTION_BATCH);
    {
        const char *keys[] = {key, k_ret};
        const char *args[] = {sched_store_prefix(store), zset ? "zset" : "set", count};

        rc = sched_store_eval(store, SCHED_SCRIPT_RETENTION_SWEEP, keys, 2, args, 3, &r, err);
    }
    if (rc == 0)
        stats->swept += (size_t)int_of(r);
    sched_reply_free(r);
    return rc;
}

int sched_retention_pass(sched_store *store, const policy_config *cfg, int64_t now_ms,
                         sched_retention_stats *stats, core_error *err)
{
    int64_t horizon = now_ms - (int64_t)cfg->retention_days * DAY_MS;
    int rc;

    CORE_ASSERT(store && cfg && stats && cfg->retention_days > 0);
    memset(stats, 0, sizeof(*stats));
    rc = backfill(store, now_ms, stats, err);
    if (rc == 0)
        rc = purge_jobs(store, horizon, stats, err);
    if (rc == 0)
        rc = trim_audit(store, horizon, stats, err);
    if (rc == 0)
        rc = drop_dead_letters(store, horizon, stats, err);
    if (rc == 0)
        rc = expire_idle(store, cfg, now_ms, stats, err);
    if (rc == 0)
        rc = sweep(store, "deferred", true, stats, err);
    if (rc == 0)
        rc = sweep(store, "routing", false, stats, err);
    if (rc == 0)
        rc = sweep(store, "inspect", true, stats, err);
    if (rc == 0)
        rc = sweep(store, "escalate", true, stats, err);
    for (size_t i = 0; rc == 0 && i < cfg->n_regions; i++) {
        char name[SCHED_KEY_MAX];

        snprintf(name, sizeof(name), "queue:%s", cfg->regions[i].name);
        rc = sweep(store, name, true, stats, err);
    }
    return rc;
}

int sched_retention_tick(sched_store *store, const policy_config *cfg, int64_t now_ms, bool *ran,
                         sched_retention_stats *stats, core_error *err)
{
    char key[SCHED_KEY_MAX], ms[24], token[33];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "retention:lock");

    *ran = false;
    memset(stats, 0, sizeof(*stats));
    if (rc == 0)
        rc = core_random_hex(token, 16, err);
    if (rc < 0)
        return rc;
    /* Not released after a pass: the lock's expiry is the period, so the fleet runs one
     * pass per period whoever takes it, and a pass that dies halfway is taken up by the
     * next. Released only when a batch was full, so that a backlog drains at the router's
     * pace (a pass a second) rather than one batch per period. */
    snprintf(ms, sizeof(ms), "%d", SCHED_RETENTION_PERIOD_MS);
    {
        const char *argv[] = {"SET", key, token, "NX", "PX", ms};

        rc = sched_store_command(store, argv, 6, &r, err);
    }
    if (rc < 0)
        return rc;
    *ran = r->type == SCHED_REPLY_STR;
    sched_reply_free(r);
    r = NULL;
    if (!*ran)
        return 0;
    rc = sched_retention_pass(store, cfg, now_ms, stats, err);
    if (rc == 0 && stats->more) {
        const char *keys[] = {key};
        const char *args[] = {sched_store_prefix(store), token};

        /* Compare-and-delete; on failure the lock simply expires. */
        if (sched_store_eval(store, SCHED_SCRIPT_UNLOCK, keys, 1, args, 2, &r, NULL) == 0)
            sched_reply_free(r);
    }
    return rc;
}
