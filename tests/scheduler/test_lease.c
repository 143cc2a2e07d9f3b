/* scheduler/lease.c against a real redis-server, with injected instants: build locks and
 * their fencing, the per-migration-target lock, a heartbeat that comes after its locks
 * expired, completing a superseded job, a repeated completion, and idle runners counted
 * per token, by labels and only while recent. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_inspector.h"
#include "tests/support/support.h"

#define T0 1773072000000LL /* 2026-03-09T16:00Z, a Monday */
#define LEASE_S 60

static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"regions\": [\n"
    "  {\"name\": \"always\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun 00:00-24:00\"]},\n"
    "  {\"name\": \"other\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
    " \"policies\": [{\"repos\": [\"acme/gpu\"], \"regions\": [\"always\", \"other\"],\n"
    "                 \"labels\": [\"gpu\"]},\n"
    "                {\"repos\": [\"acme/*\"], \"regions\": [\"always\"]}]}\n";

static ts_sched fx;

static void setup(void)
{
    ts_sched_start(&fx, "ls", config_text);
}

static void teardown(void)
{
    ts_sched_stop(&fx);
}

/* A job of repo#pr at sha, queued in `always` (marked a migration when asked). */
static void queued_job(const char *repo, int pr, const char *sha, bool migration, char id[32])
{
    char delivery[96], cmd[256];
    sched_pr_ref ref = {.repo = repo,
                        .pr = pr,
                        .head_sha = sha,
                        .base_sha = sha,
                        .title = "t",
                        .author = "octocat"};
    sched_intake in;
    sched_decision d = {.kind = SCHED_ROUTE_QUEUE, .region = 0};
    core_error err = {0};
    char *out;

    snprintf(delivery, sizeof(delivery), "d-%d-%.8s", pr, sha);
    ck_assert_int_eq(sched_intake_pull_request(fx.store, delivery, &ref, 0, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    memcpy(id, in.job_id, 32);
    if (migration) {
        snprintf(cmd, sizeof(cmd), "HSET '{ls}:job:%s' migration 1", id);
        free(ts_redis_cli(fx.redis, cmd));
    }
    snprintf(d.reason, sizeof(d.reason), "queued in always");
    ck_assert_msg(sched_route_apply(fx.store, id, "received", NULL, false, fx.cfg, &d, T0, &err) ==
                      0,
                  "%s", err.msg);
    (void)out;
}

static sched_claim claim_at(const char *runner, int64_t now)
{
    sched_claim c;
    core_error err = {0};

    ck_assert_msg(
        sched_job_claim(fx.store, "always", runner, "1", "", LEASE_S, now, NULL, &c, &err) == 0,
        "%s", err.msg);
    return c;
}

static char *get(const char *key)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "GET '{ls}:%s'", key);
    return ts_redis_cli(fx.redis, cmd);
}

static void reap_at(int64_t now)
{
    size_t rq, dead;
    core_error err = {0};

    ck_assert_msg(sched_leases_reap(fx.store, now, 3, &rq, &dead, &err) == 0, "%s", err.msg);
}

static void complete(const sched_claim *c, bool ok, int64_t now, int want_rc)
{
    char state[32];
    core_error err = {0};

    ck_assert_int_eq(sched_job_complete(fx.store, c->job_id, c->lease_id, NULL, ok, "r", now, state,
                                        NULL, 0, &err),
                     want_rc);
}

/* Two jobs touching the same migration target (two PRs of one repository with
 * migrations) never run at once; the lock goes on complete, fail and reap. */
START_TEST(migration_lock_serialises_migrations_of_a_repository)
{
    char a[32], b[32], c3[32], plain[32];
    sched_claim ca, cb, cc, cp;
    char *v;

    queued_job("acme/db", 1, "aaaaaaaa", true, a);
    queued_job("acme/db", 2, "bbbbbbbb", true, b);
    queued_job("acme/db", 3, "cccccccc", false, plain);
    queued_job("acme/db", 4, "dddddddd", true, c3);
    ca = claim_at("r1", T0);
    ck_assert(ca.found);
    ck_assert_str_eq(ca.job_id, a);
    v = get("lock:migration:acme/db");
    ck_assert_msg(strncmp(v, a, strlen(a)) == 0, "lock holds %s", v);
    free(v);
    /* b and the third migration wait; the job without a migration (its own PR) runs. */
    cp = claim_at("r2", T0 + 1);
    ck_assert(cp.found);
    ck_assert_str_eq(cp.job_id, plain);
    complete(&cp, true, T0 + 1, 0);
    cb = claim_at("r3", T0 + 2);
    ck_assert(!cb.found);
    /* released on success */
    complete(&ca, true, T0 + 3, 0);
    cb = claim_at("r3", T0 + 4);
    ck_assert(cb.found);
    ck_assert_str_eq(cb.job_id, b);
    ck_assert(!claim_at("r4", T0 + 5).found);
    /* released on failure */
    complete(&cb, false, T0 + 6, 0);
    cc = claim_at("r4", T0 + 7);
    ck_assert(cc.found);
    ck_assert_str_eq(cc.job_id, c3);
    /* released when the lease is reaped: a new migration of the repository can start */
    {
        char d[32];
        sched_claim cd;

        queued_job("acme/db", 5, "eeeeeeee", true, d);
        ck_assert(!claim_at("r5", T0 + 8).found);
        reap_at(T0 + 7 + LEASE_S * 1000 + 1);
        v = get("lock:migration:acme/db");
        ck_assert_str_eq(v, "");
        free(v);
        /* the reaped job is back first (older), and runs again under a new lock */
        cd = claim_at("r5", T0 + 7 + LEASE_S * 1000 + 2);
        ck_assert(cd.found);
        ck_assert_str_eq(cd.job_id, c3);
        ck_assert_int_gt(cd.fencing_token, cc.fencing_token);
        ck_assert(!claim_at("r6", T0 + 7 + LEASE_S * 1000 + 3).found);
        complete(&cd, true, T0 + 7 + LEASE_S * 1000 + 4, 0);
        cd = claim_at("r6", T0 + 7 + LEASE_S * 1000 + 5);
        ck_assert(cd.found);
        ck_assert_str_eq(cd.job_id, d);
    }
}
END_TEST

/* A heartbeat after the migration lock expired but before the reaper came must not
 * revive the lease: another migration of the repository may be running. */
START_TEST(heartbeat_after_its_lock_expired_is_refused)
{
    char a[32], b[32], state[32];
    sched_claim ca, cb;
    bool cancel;
    int64_t until;
    core_error err = {0};
    int64_t late = T0 + LEASE_S * 1000 + 10;

    queued_job("acme/db", 1, "aaaaaaaa", true, a);
    queued_job("acme/db", 2, "bbbbbbbb", true, b);
    ca = claim_at("r1", T0);
    ck_assert(ca.found);
    /* The locks expire in Redis (PX): made to happen now rather than slept for. */
    free(ts_redis_cli(fx.redis, "DEL '{ls}:lock:migration:acme/db' '{ls}:lock:pr:acme/db#1'"));
    cb = claim_at("r2", late);
    ck_assert(cb.found);
    ck_assert_str_eq(cb.job_id, b);
    ck_assert_int_eq(sched_job_heartbeat(fx.store, a, ca.lease_id, NULL, LEASE_S, late + 1, &cancel,
                                         &until, &err),
                     CORE_ECONFLICT);
    ck_assert_msg(strstr(err.msg, "lease lost: the build lock lock:") && strstr(err.msg, "expired"),
                  "%s", err.msg);
    /* still refused however often it asks; the reaper puts the job back */
    ck_assert_int_eq(sched_job_heartbeat(fx.store, a, ca.lease_id, NULL, LEASE_S, late + 2, &cancel,
                                         &until, &err),
                     CORE_ECONFLICT);
    reap_at(late + 3);
    ck_assert_int_eq(sched_job_field(fx.store, a, "state", state, sizeof(state), &err), 0);
    ck_assert_str_eq(state, "queued");
    /* b's lock is untouched */
    {
        char *v = get("lock:migration:acme/db");

        ck_assert_msg(strncmp(v, b, strlen(b)) == 0, "%s", v);
        free(v);
    }
}
END_TEST

/* The runner of a superseded job completes before its heartbeat tells it to stop: the
 * PR lock goes at once, the new push does not wait for the lease. */
START_TEST(completing_a_superseded_job_frees_the_pr_lock)
{
    char a[32], b[32], state[32];
    sched_claim ca, cb;
    core_error err = {0};
    char *v;

    queued_job("acme/api", 7, "aaaaaaaa", false, a);
    ca = claim_at("r1", T0);
    ck_assert(ca.found);
    queued_job("acme/api", 7, "bbbbbbbb", false, b); /* supersedes a */
    ck_assert_int_eq(sched_job_field(fx.store, a, "state", state, sizeof(state), &err), 0);
    ck_assert_str_eq(state, "superseded");
    ck_assert(!claim_at("r2", T0 + 1).found);
    ck_assert_int_eq(sched_job_complete(fx.store, a, ca.lease_id, NULL, true, "r1", T0 + 2, state,
                                        NULL, 0, &err),
                     CORE_ECONFLICT);
    ck_assert_msg(strstr(err.msg, "superseded"), "%s", err.msg);
    v = get("lock:pr:acme/api#7");
    ck_assert_str_eq(v, "");
    free(v);
    cb = claim_at("r2", T0 + 3);
    ck_assert(cb.found);
    ck_assert_str_eq(cb.job_id, b);
}
END_TEST

/* A second complete of the same lease changes nothing and says so (409). */
START_TEST(second_complete_is_a_conflict)
{
    char a[32], state[32];
    sched_claim ca;
    core_error err = {0};

    queued_job("acme/api", 8, "aaaaaaaa", false, a);
    ca = claim_at("r1", T0);
    ck_assert(ca.found);
    complete(&ca, true, T0 + 1, 0);
    ck_assert_int_eq(sched_job_complete(fx.store, a, ca.lease_id, NULL, false, "r1", T0 + 2, state,
                                        NULL, 0, &err),
                     CORE_ECONFLICT);
    ck_assert_msg(strstr(err.msg, "already completed") && strstr(err.msg, "succeeded"), "%s",
                  err.msg);
    ck_assert_int_eq(sched_job_field(fx.store, a, "state", state, sizeof(state), &err), 0);
    ck_assert_str_eq(state, "succeeded");
}
END_TEST

static int idle_in(int region, const char *labels, int64_t now)
{
    sched_region_load loads[2];
    core_error err = {0};

    ck_assert_msg(sched_region_loads(fx.store, fx.cfg, now, labels, loads, &err) == 0, "%s",
                  err.msg);
    return loads[region].idle_runners;
}

static void empty_claim(const char *region, const char *runner, const char *token,
                        const char *labels, int64_t now)
{
    sched_claim c;
    core_error err = {0};

    ck_assert_msg(
        sched_job_claim(fx.store, region, runner, token, labels, LEASE_S, now, NULL, &c, &err) == 0,
        "%s", err.msg);
    ck_assert(!c.found);
}

/* Idle runners count only with the labels a job needs, only while recent, and one token
 * counts for at most SCHED_IDLE_PER_TOKEN names. */
START_TEST(idle_runners_by_labels_recency_and_token)
{
    char name[32];

    empty_claim("other", "gpu-1", "1", "gpu,linux", T0);
    empty_claim("other", "cpu-1", "1", "linux", T0);
    ck_assert_int_eq(idle_in(1, NULL, T0 + 1), 2);
    ck_assert_int_eq(idle_in(1, "gpu", T0 + 1), 1);
    ck_assert_int_eq(idle_in(1, "gpu,arm", T0 + 1), 0);
    /* expired */
    ck_assert_int_eq(idle_in(1, NULL, T0 + SCHED_IDLE_WINDOW_MS + 1), 0);
    /* one token making up names */
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "fake-%d", i);
        empty_claim("always", name, "2", "gpu", T0 + i);
    }
    ck_assert_int_eq(idle_in(0, NULL, T0 + 100), SCHED_IDLE_PER_TOKEN);
    {
        char *n = ts_redis_cli(fx.redis, "ZCARD '{ls}:idle:always:2'");

        ck_assert_int_eq(atoi(n), SCHED_IDLE_PER_TOKEN);
        free(n);
    }
    empty_claim("always", "real-1", "3", "gpu", T0 + 200);
    ck_assert_int_eq(idle_in(0, "gpu", T0 + 201), SCHED_IDLE_PER_TOKEN + 1);
    /* A runner polling again (no pruning then) still has its labels and recency renewed,
     * and a new name after the window prunes the old ones. */
    empty_claim("always", "real-1", "3", "arm", T0 + 300);
    ck_assert_int_eq(idle_in(0, "arm", T0 + 301), 1);
    ck_assert_int_eq(idle_in(0, "gpu", T0 + 301), SCHED_IDLE_PER_TOKEN);
    empty_claim("always", "real-1", "3", "arm", T0 + SCHED_IDLE_WINDOW_MS + 250);
    ck_assert_int_eq(idle_in(0, NULL, T0 + SCHED_IDLE_WINDOW_MS + 251), 1);
    empty_claim("always", "late", "2", "gpu", T0 + SCHED_IDLE_WINDOW_MS + 260);
    {
        char *n = ts_redis_cli(fx.redis, "ZCARD '{ls}:idle:always:2'");
        char *h = ts_redis_cli(fx.redis, "HLEN '{ls}:idle:always:2:labels'");

        ck_assert_int_eq(atoi(n), 1);
        ck_assert_int_eq(atoi(h), 1);
        free(n);
        free(h);
    }
}
END_TEST

/* A claim that finds nothing says how many queued jobs it passed over for want of a
 * label: the long poll passes its wake-up on only then. */
START_TEST(empty_claim_counts_jobs_passed_over_for_labels)
{
    char id[32];
    sched_claim c;
    core_error err = {0};
    char cmd[128];

    queued_job("acme/gpu", 9, "99999999", false, id);
    snprintf(cmd, sizeof(cmd), "HSET '{ls}:job:%s' labels gpu", id);
    free(ts_redis_cli(fx.redis, cmd));
    c = claim_at("plain", T0);
    ck_assert(!c.found);
    ck_assert_int_eq(c.passed_over, 1);
    ck_assert_msg(
        sched_job_claim(fx.store, "always", "gpu-1", "1", "gpu", LEASE_S, T0, NULL, &c, &err) == 0,
        "%s", err.msg);
    ck_assert(c.found);
    ck_assert_str_eq(c.job_id, id);
    ck_assert_int_eq(c.passed_over, 0);
    c = claim_at("plain", T0 + 1);
    ck_assert(!c.found);
    ck_assert_int_eq(c.passed_over, 0);
}
END_TEST

/* The router picks the region with idle runners that have the job's labels, not the one
 * with more idle runners that cannot run it. */
START_TEST(routing_counts_only_runners_with_the_labels)
{
    char id[32], region[64];
    sched_pr_ref ref = {.repo = "acme/gpu",
                        .pr = 1,
                        .head_sha = "abcdef12",
                        .base_sha = "abcdef12",
                        .title = "t",
                        .author = "octocat"};
    sched_intake in;
    sched_router_stats st;
    sched_inspect_result res;
    core_error err = {0};

    empty_claim("always", "cpu-1", "1", "linux", T0);
    empty_claim("always", "cpu-2", "1", "linux", T0);
    empty_claim("other", "gpu-1", "2", "gpu", T0);
    ck_assert_int_eq(sched_intake_pull_request(fx.store, "d-gpu", &ref, 0, &in, &err), 0);
    memcpy(id, in.job_id, 32);
    do {
        ck_assert_msg(sched_inspect_one(fx.store, (const sched_plan *const *)&fx.plan, NULL, NULL,
                                        T0 + 1, &res, &err) == 0,
                      "%s", err.msg);
    } while (res.job_id[0]);
    ck_assert_msg(sched_router_pass(fx.store, fx.plan, T0 + 2, &st, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(sched_job_field(fx.store, id, "region", region, sizeof(region), &err), 0);
    ck_assert_str_eq(region, "other");
}
END_TEST

/* The claim's reply carries the job's document, the very one GET /api/v1/jobs/ID shows
 * (sched_job_json): the runner API answers a claim from it without a second round trip. */
START_TEST(claim_carries_the_job_document)
{
    char a[32];
    sched_claim c;
    core_buf doc = {0}, want = {0};
    core_error err = {0};

    queued_job("acme/api", 7, "abababab", false, a);
    core_buf_puts(&doc, "prefix:");
    ck_assert_msg(sched_job_claim(fx.store, "always", "r1", "1", "", LEASE_S, T0, &doc, &c, &err) ==
                      0,
                  "%s", err.msg);
    ck_assert(c.found);
    ck_assert_int_eq(sched_job_json(fx.store, a, &want, &err), 0);
    ck_assert_ptr_nonnull(strstr(want.data, "\"state\":\"leased\""));
    ck_assert_ptr_nonnull(strstr(want.data, "claimed by runner r1"));
    ck_assert_str_eq(doc.data + strlen("prefix:"), want.data);
    /* An empty claim writes nothing. */
    doc.len = 0;
    doc.data[0] = '\0';
    ck_assert_int_eq(
        sched_job_claim(fx.store, "always", "r1", "1", "", LEASE_S, T0 + 1, &doc, &c, &err), 0);
    ck_assert(!c.found);
    ck_assert_uint_eq(doc.len, 0);
    core_buf_free(&doc);
    core_buf_free(&want);
}
END_TEST

/* Everything a heartbeat or a completion could write: the job hash, its history, the
 * audit stream, the leases and the build lock. */
static char *lease_snapshot(const char *id)
{
    char cmd[512], *parts[5], *out;
    size_t n = 1;

    snprintf(cmd, sizeof(cmd), "HGETALL '{ls}:job:%s'", id);
    parts[0] = ts_redis_cli(fx.redis, cmd);
    snprintf(cmd, sizeof(cmd), "LRANGE '{ls}:job:%s:history' 0 -1", id);
    parts[1] = ts_redis_cli(fx.redis, cmd);
    parts[2] = ts_redis_cli(fx.redis, "XLEN '{ls}:audit'");
    parts[3] = ts_redis_cli(fx.redis, "ZRANGE '{ls}:leases' 0 -1 WITHSCORES");
    parts[4] = ts_redis_cli(fx.redis, "GET '{ls}:lock:pr:acme/api#8'");
    for (int i = 0; i < 5; i++)
        n += strlen(parts[i]) + 1;
    out = calloc(1, n);
    for (int i = 0; i < 5; i++) {
        strcat(out, parts[i]);
        strcat(out, "\n");
        free(parts[i]);
    }
    return out;
}

/* A runner token of another region can neither heartbeat nor complete a job: the script
 * refuses before it writes anything. The same calls with the job's region go through. */
START_TEST(token_of_another_region_changes_nothing)
{
    char a[32], state[32], ran_by[64], *before, *after;
    sched_claim c;
    core_error err = {0};
    bool cancel;
    int64_t until;

    queued_job("acme/api", 8, "cdcdcdcd", false, a);
    c = claim_at("r1", T0);
    ck_assert(c.found);
    before = lease_snapshot(a);
    ck_assert_int_eq(sched_job_heartbeat(fx.store, a, c.lease_id, "other", LEASE_S, T0 + 5000,
                                         &cancel, &until, &err),
                     CORE_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "region always"));
    ck_assert_int_eq(sched_job_complete(fx.store, a, c.lease_id, "other|elsewhere", true, NULL,
                                        T0 + 5000, state, ran_by, sizeof(ran_by), &err),
                     CORE_EAUTH);
    /* A region list that merely contains the name as a part of another does not pass. */
    ck_assert_int_eq(sched_job_complete(fx.store, a, c.lease_id, "always-not|xalways", true, NULL,
                                        T0 + 5000, state, NULL, 0, &err),
                     CORE_EAUTH);
    after = lease_snapshot(a);
    ck_assert_str_eq(after, before);
    free(after);
    /* A missing job is not found, whatever the token. */
    ck_assert_int_eq(sched_job_heartbeat(fx.store, "999999", c.lease_id, "other", LEASE_S,
                                         T0 + 5000, &cancel, &until, &err),
                     CORE_ENOTFOUND);
    ck_assert_int_eq(sched_job_complete(fx.store, "999999", c.lease_id, NULL, true, NULL, T0 + 5000,
                                        state, NULL, 0, &err),
                     CORE_ENOTFOUND);
    /* The job's own region (or every region) may. */
    ck_assert_int_eq(sched_job_heartbeat(fx.store, a, c.lease_id, "other|always", LEASE_S,
                                         T0 + 5000, &cancel, &until, &err),
                     0);
    ck_assert_int_eq(until, T0 + 5000 + LEASE_S * 1000);
    ck_assert_int_eq(sched_job_complete(fx.store, a, c.lease_id, "always", true, NULL, T0 + 6000,
                                        state, ran_by, sizeof(ran_by), &err),
                     0);
    ck_assert_str_eq(state, "succeeded");
    ck_assert_str_eq(ran_by, "r1"); /* the job's own runner, named by the script */
    free(before);
}
END_TEST

Suite *suite_scheduler_lease(void)
{
    Suite *s = suite_create("scheduler_lease");
    TCase *tc = tcase_create("lease");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, migration_lock_serialises_migrations_of_a_repository);
    tcase_add_test(tc, heartbeat_after_its_lock_expired_is_refused);
    tcase_add_test(tc, completing_a_superseded_job_frees_the_pr_lock);
    tcase_add_test(tc, second_complete_is_a_conflict);
    tcase_add_test(tc, idle_runners_by_labels_recency_and_token);
    tcase_add_test(tc, routing_counts_only_runners_with_the_labels);
    tcase_add_test(tc, empty_claim_counts_jobs_passed_over_for_labels);
    tcase_add_test(tc, claim_carries_the_job_document);
    tcase_add_test(tc, token_of_another_region_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}
