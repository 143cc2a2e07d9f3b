/* scheduler/metrics.c and lua/metrics.lua against a real redis-server, with injected
 * instants: queue depth and the oldest queued job's age per region, jobs by state and
 * approvals pending, the fleet-wide lease counters after a claim and an expiry, and the
 * decision and inspection histograms after a failed-safe inspection and a decision. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_metrics.h"
#include "scheduler/sched_route.h"
#include "tests/support/support.h"

#define T0 1773072000000LL /* 2026-03-09T16:00Z, a Monday */
#define LEASE_S 60

static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"github\": {\"allow_local_repos\": true},\n"
    " \"regions\": [\n"
    "  {\"name\": \"always\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun 00:00-24:00\"]},\n"
    "  {\"name\": \"other\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
    " \"policies\": [{\"repos\": [\"acme/db\"], \"regions\": [\"always\"],\n"
    "   \"migrations\": {\"paths\": [\"db/*.sql\"], \"approval\": \"always\"}},\n"
    "  {\"repos\": [\"acme/*\"], \"regions\": [\"always\"]}]}\n";

static const char *const regions[] = {"always", "other"};
static ts_sched fx;

static void setup(void)
{
    ts_sched_start(&fx, "mt", config_text);
}

static void teardown(void)
{
    ts_sched_stop(&fx);
}

static sched_metrics read_at(int64_t now)
{
    sched_metrics m;
    core_error err = {0};

    ck_assert_msg(
        sched_metrics_read(fx.store, regions, 2, now, now - SCHED_IDLE_WINDOW_MS, &m, &err) == 0,
        "%s", err.msg);
    return m;
}

/* A job of acme/api#pr queued in `always` at `at`. */
static void queued_job(int pr, int64_t at, char id[32])
{
    char delivery[32], sha[41];
    sched_pr_ref ref = {.repo = "acme/api", .pr = pr, .title = "t", .author = "octocat"};
    sched_intake in;
    sched_decision d = {.kind = SCHED_ROUTE_QUEUE, .region = 0};
    core_error err = {0};

    snprintf(sha, sizeof(sha), "%040d", pr);
    ref.head_sha = ref.base_sha = sha;
    snprintf(delivery, sizeof(delivery), "d-%d", pr);
    ck_assert_int_eq(sched_intake_pull_request(fx.store, delivery, &ref, at, &in, &err), 0);
    memcpy(id, in.job_id, 32);
    snprintf(d.reason, sizeof(d.reason), "queued in always");
    ck_assert_msg(sched_route_apply(fx.store, id, "received", NULL, false, fx.cfg, &d, at, &err) ==
                      0,
                  "%s", err.msg);
}

START_TEST(queue_depth_and_oldest_age_per_region)
{
    char a[32], b[32];
    sched_metrics m = read_at(T0);

    ck_assert_int_eq(m.region[0].depth, 0);
    ck_assert_int_eq(m.region[0].oldest_ms, -1);
    queued_job(1, T0, a);
    queued_job(2, T0 + 30000, b);
    m = read_at(T0 + 90000);
    ck_assert_int_eq(m.n_regions, 2);
    ck_assert_int_eq(m.region[0].depth, 2);
    ck_assert_int_eq(m.region[0].oldest_ms, 90000);
    ck_assert_int_eq(m.region[1].depth, 0);
    ck_assert_int_eq(m.region[1].oldest_ms, -1);
    ck_assert_int_eq(m.jobs[SCHED_STATE_QUEUED], 2);
    ck_assert_int_eq(m.jobs[SCHED_STATE_LEASED], 0);
}
END_TEST

/* A claim counts a grant; its lease left to expire counts an expiry (the job requeued)
 * and a reaped lease; the requeued job waits from the reap on, not from its first
 * queuing. An empty claim makes the runner idle in its region. */
START_TEST(lease_counters_move_after_a_claim_and_an_expiry)
{
    char a[32];
    sched_claim c, none;
    size_t rq, dead;
    sched_metrics m;
    int64_t reap = T0 + 10000 + (LEASE_S + 1) * 1000LL;
    core_error err = {0};

    queued_job(1, T0, a);
    ck_assert_msg(sched_job_claim(fx.store, "always", "r1", "1", "", LEASE_S, T0 + 10000, NULL, &c,
                                  &err) == 0,
                  "%s", err.msg);
    ck_assert(c.found);
    m = read_at(T0 + 10000);
    ck_assert_int_eq(m.leases_granted, 1);
    ck_assert_int_eq(m.leases_expired_requeued, 0);
    ck_assert_int_eq(m.jobs[SCHED_STATE_LEASED], 1);
    ck_assert_int_eq(m.region[0].depth, 0);
    ck_assert_msg(sched_leases_reap(fx.store, reap, 3, &rq, &dead, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rq, 1);
    m = read_at(reap + 5000);
    ck_assert_int_eq(m.leases_granted, 1);
    ck_assert_int_eq(m.leases_expired_requeued, 1);
    ck_assert_int_eq(m.leases_expired_dead, 0);
    ck_assert_int_eq(m.leases_reaped, 1);
    ck_assert_int_eq(m.region[0].depth, 1);
    ck_assert_int_eq(m.region[0].oldest_ms, 5000);
    ck_assert_msg(sched_job_claim(fx.store, "other", "r2", "1", "", LEASE_S, reap + 6000, NULL,
                                  &none, &err) == 0,
                  "%s", err.msg);
    ck_assert(!none.found);
    m = read_at(reap + 7000);
    ck_assert_int_eq(m.region[1].idle, 1);
    ck_assert_int_eq(m.region[0].idle, 0);
    m = read_at(reap + 7000 + SCHED_IDLE_WINDOW_MS);
    ck_assert_int_eq(m.region[1].idle, 0);
}
END_TEST

/* A repository that cannot be fetched: the inspection retries (1 s, 2 s) and fails safe
 * into approval 3 s after it began; decided 10 minutes later. */
START_TEST(approvals_pending_and_the_two_histograms)
{
    sched_pr_ref ref = {.repo = "acme/db",
                        .pr = 7,
                        .head_sha = "abc1234abc1234abc1234abc1234abc1234abc1",
                        .base_sha = "def5678def5678def5678def5678def5678def5",
                        .title = "Drop a column",
                        .author = "octocat",
                        .clone_url = "/nonexistent/zoneci-test-repo.git"};
    sched_inspect_result res;
    sched_intake in;
    sched_metrics m;
    char state[32];
    core_error err = {0};

    ck_assert_int_eq(sched_intake_pull_request(fx.store, "d-1", &ref, T0, &in, &err), 0);
    for (int64_t step = 0; step <= 3000; step += 1000)
        ck_assert_msg(sched_inspect_one(fx.store, (const sched_plan *const *)&fx.plan, NULL, NULL,
                                        T0 + step, &res, &err) == 0,
                      "%s", err.msg);
    ck_assert_str_eq(res.outcome, "approve");
    m = read_at(T0 + 4000);
    ck_assert_int_eq(m.jobs[SCHED_STATE_AWAITING_APPROVAL], 1);
    ck_assert_int_eq(m.inspection.count, 1);
    ck_assert_int_eq(m.inspection.sum_ms, 3000);
    /* 3 s falls in the 5 s bucket: bounds 0.1 0.25 0.5 1 2.5 5 ... */
    ck_assert_int_eq(m.inspection.bound_ms[5], 5000);
    ck_assert_int_eq(m.inspection.bucket[5], 1);
    ck_assert_int_eq(m.inspection.bucket[4], 0);
    ck_assert_int_eq(m.decision.count, 0);
    ck_assert_msg(sched_job_decide(fx.store, in.job_id, true, "UDBA1", "approved", "", T0 + 603000,
                                   state, &err) == 0,
                  "%s", err.msg);
    m = read_at(T0 + 604000);
    ck_assert_int_eq(m.jobs[SCHED_STATE_AWAITING_APPROVAL] - 1, 0); /* still, until routed */
    ck_assert_int_eq(m.decision.count, 1);
    ck_assert_int_eq(m.decision.sum_ms, 600000);
    /* 600 s: above 300 s, within 900 s (the third bucket). */
    ck_assert_int_eq(m.decision.bound_ms[2], 900000);
    ck_assert_int_eq(m.decision.bucket[2], 1);
    ck_assert_int_eq(m.decision.bucket[1], 0);
}
END_TEST

Suite *suite_scheduler_metrics(void)
{
    Suite *s = suite_create("scheduler_metrics");
    TCase *tc = tcase_create("metrics");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, queue_depth_and_oldest_age_per_region);
    tcase_add_test(tc, lease_counters_move_after_a_claim_and_an_expiry);
    tcase_add_test(tc, approvals_pending_and_the_two_histograms);
    suite_add_tcase(s, tc);
    return s;
}
