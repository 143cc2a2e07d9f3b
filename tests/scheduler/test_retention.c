/* scheduler/retention.c against a real redis-server with an injected clock: jobs finished
 * more than retention_days ago go with every key and index entry naming them, younger and
 * live ones stay; the audit stream is trimmed; old dead letters are dropped; set entries
 * whose job is gone are swept; idle-runner entries expire; batches are bounded. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_outbox.h"
#include "scheduler/sched_retention.h"
#include "tests/support/support.h"

#define DAY (24LL * 3600 * 1000)

static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"retention_days\": 30,\n"
    " \"regions\": [\n"
    "  {\"name\": \"apac-tokyo\", \"timezone\": \"Asia/Tokyo\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"]}],\n"
    " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"apac-tokyo\"]}]}\n";

static ts_sched fx;
/* The audit stream's ids are the Redis server's clock: the injected instants are taken
 * relative to the real one so that the stream ages with them. */
static int64_t T0;

static void setup(void)
{
    ts_sched_start(&fx, "rt", config_text);
    T0 = core_time_now_ms();
}

static void teardown(void)
{
    ts_sched_stop(&fx);
}

static char *cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cli(const char *fmt, ...)
{
    char args[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    return ts_redis_cli(fx.redis, args);
}

#define CLI_EQ(want, ...)                                                                          \
    do {                                                                                           \
        char *got_ = cli(__VA_ARGS__);                                                             \
        ck_assert_msg(strcmp(got_, want) == 0, "%s: got \"%s\", want \"%s\"", #__VA_ARGS__, got_,  \
                      want);                                                                       \
        free(got_);                                                                                \
    } while (0)

static void intake(int pr, const char *sha, int64_t at, char id[32])
{
    char delivery[64];
    sched_pr_ref ref = {.repo = "acme/api",
                        .pr = pr,
                        .head_sha = sha,
                        .base_sha = sha,
                        .title = "t",
                        .author = "octocat"};
    sched_intake in;
    core_error err;

    snprintf(delivery, sizeof(delivery), "d-%d-%s", pr, sha);
    ck_assert_msg(sched_intake_pull_request(fx.store, delivery, &ref, at, &in, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    memcpy(id, in.job_id, 32);
}

static sched_retention_stats pass_at(int64_t at)
{
    sched_retention_stats st;
    core_error err;

    ck_assert_msg(sched_retention_pass(fx.store, fx.cfg, at, &st, &err) == 0, "%s", err.msg);
    return st;
}

/* Every key and index entry that can name job id is gone. */
static void assert_job_gone(const char *id, const char *state, int pr, const char *sha)
{
    CLI_EQ("0", "EXISTS '{rt}:job:%s' '{rt}:job:%s:history'", id, id);
    CLI_EQ("", "ZSCORE '{rt}:jobs' %s", id);
    CLI_EQ("", "ZSCORE '{rt}:state:%s' %s", state, id);
    CLI_EQ("", "ZSCORE '{rt}:finished' %s", id);
    CLI_EQ("0", "SISMEMBER '{rt}:pr:acme/api#%d' %s", pr, id);
    CLI_EQ("0", "EXISTS '{rt}:live:acme/api#%d#%s'", pr, sha);
}

static void assert_job_kept(const char *id, const char *state)
{
    char *h;

    CLI_EQ("1", "EXISTS '{rt}:job:%s'", id);
    CLI_EQ(state, "HGET '{rt}:job:%s' state", id);
    CLI_EQ(id, "ZSCORE '{rt}:jobs' %s", id);
    CLI_EQ(id, "ZSCORE '{rt}:state:%s' %s", state, id);
    h = cli("LLEN '{rt}:job:%s:history'", id);
    ck_assert_int_gt(atoi(h), 0);
    free(h);
}

static const char sha_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char sha_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char sha_c[] = "cccccccccccccccccccccccccccccccccccccccc";
static const char sha_d[] = "dddddddddddddddddddddddddddddddddddddddd";
static const char sha_e[] = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

START_TEST(old_jobs_go_young_and_live_ones_stay)
{
    char old_sup[32], newer[32], young[32], live[32], old_done[32];
    sched_intake in;
    sched_retention_stats st;
    core_error err;
    core_buf list = {0};
    char *xlen;

    /* PR 1: a job superseded at T0 (finished 31 days before the pass), its successor live. */
    intake(1, sha_a, T0, old_sup);
    intake(1, sha_b, T0, newer);
    /* PR 2: cancelled two days later (finished 29 days before the pass). */
    intake(2, sha_c, T0, young);
    ck_assert_int_eq(
        sched_intake_pr_closed(fx.store, "close-2", "acme/api", 2, T0 + 2 * DAY, &in, &err), 0);
    /* PR 3: a job as old as any, still waiting. */
    intake(3, sha_d, T0, live);
    /* PR 4: succeeded at T0; an older version left its live key and PR set entry behind. */
    intake(4, sha_e, T0, old_done);
    ck_assert_int_eq(
        sched_job_transition(fx.store, old_done, NULL, "succeeded", "runner:r1", "done", T0, &err),
        0);
    free(cli("SET '{rt}:live:acme/api#4#%s' %s", sha_e, old_done));
    free(cli("SADD '{rt}:pr:acme/api#4' %s", old_done));
    free(cli("ZADD '{rt}:deferred' 1 %s", old_done));
    free(cli("SADD '{rt}:routing' %s", old_done));

    CLI_EQ(newer, "GET '{rt}:pr_last:acme/api#1'");
    CLI_EQ(old_done, "GET '{rt}:pr_last:acme/api#4'");
    /* 29 days on nothing is old enough: every job and audit entry stays. */
    xlen = cli("XLEN '{rt}:audit'");
    ck_assert_int_gt(atoi(xlen), 0);
    st = pass_at(T0 + 29 * DAY);
    ck_assert_uint_eq(st.jobs, 0);
    ck_assert_uint_eq(st.audit, 0);
    CLI_EQ(xlen, "XLEN '{rt}:audit'");
    free(xlen);
    assert_job_kept(old_sup, "superseded");
    assert_job_kept(old_done, "succeeded");

    st = pass_at(T0 + 31 * DAY);
    ck_assert_uint_eq(st.jobs, 2);
    ck_assert(!st.more);
    assert_job_gone(old_sup, "superseded", 1, sha_a);
    assert_job_gone(old_done, "succeeded", 4, sha_e);
    CLI_EQ("", "ZSCORE '{rt}:deferred' %s", old_done);
    CLI_EQ("0", "SISMEMBER '{rt}:routing' %s", old_done);
    assert_job_kept(newer, "received");
    assert_job_kept(young, "cancelled");
    assert_job_kept(live, "received");
    CLI_EQ(newer, "GET '{rt}:live:acme/api#1#%s'", sha_b);
    CLI_EQ("1", "SISMEMBER '{rt}:pr:acme/api#1' %s", newer);
    /* A PR's last job goes with that job, and only then. */
    CLI_EQ(newer, "GET '{rt}:pr_last:acme/api#1'");
    CLI_EQ("0", "EXISTS '{rt}:pr_last:acme/api#4'");
    CLI_EQ(young, "GET '{rt}:pr_last:acme/api#2'");
    /* The audit entries were all written at the real T0: 31 days on they are gone. */
    CLI_EQ("0", "XLEN '{rt}:audit'");
    ck_assert_uint_gt(st.audit, 0);

    /* The listing pages over what is left, and a job page says the old one is gone. */
    ck_assert_int_eq(sched_job_list_json(fx.store, NULL, NULL, 100, &list, &err), 0);
    ck_assert_ptr_null(strstr(list.data, "\"id\":\"1\""));
    ck_assert_ptr_nonnull(strstr(list.data, "\"id\":\"2\""));
    core_buf_free(&list);
    ck_assert_int_eq(sched_job_json(fx.store, old_sup, &list, &err), CORE_ENOTFOUND);
    core_buf_free(&list);

    /* Two days later the cancelled job goes too; a pass again changes nothing. */
    st = pass_at(T0 + 33 * DAY);
    ck_assert_uint_eq(st.jobs, 1);
    assert_job_gone(young, "cancelled", 2, sha_c);
    CLI_EQ("0", "EXISTS '{rt}:pr_last:acme/api#2'");
    st = pass_at(T0 + 33 * DAY);
    ck_assert_uint_eq(st.jobs, 0);
    assert_job_kept(live, "received");
    CLI_EQ("2", "ZCARD '{rt}:jobs'");
}
END_TEST

/* A job that became final before `finished` existed is indexed by its updated_at. */
START_TEST(jobs_finished_before_the_index_are_backfilled)
{
    char a[32], b[32];
    sched_retention_stats st;
    core_error err;

    intake(1, sha_a, T0, a);
    intake(1, sha_b, T0 + DAY, b); /* a: superseded at T0 + 1 day */
    ck_assert_int_eq(
        sched_job_transition(fx.store, b, NULL, "failed", "runner:r1", "x", T0 + 5 * DAY, &err), 0);
    free(cli("DEL '{rt}:finished'"));

    st = pass_at(T0 + 30 * DAY);
    ck_assert_uint_eq(st.backfilled, 2);
    ck_assert_uint_eq(st.jobs, 0);
    {
        char want[32];

        snprintf(want, sizeof(want), "%lld", (long long)(T0 + DAY));
        CLI_EQ(want, "ZSCORE '{rt}:finished' %s", a);
        snprintf(want, sizeof(want), "%lld", (long long)(T0 + 5 * DAY));
        CLI_EQ(want, "ZSCORE '{rt}:finished' %s", b);
    }
    CLI_EQ("done", "HGET '{rt}:retention' backfill:superseded");
    st = pass_at(T0 + 30 * DAY + 1000);
    ck_assert_uint_eq(st.backfilled, 0);
    /* A job a process of an older version made final is found by the next day's walk. */
    free(cli("ZREM '{rt}:finished' %s", b));
    st = pass_at(T0 + 31 * DAY - 1000);
    ck_assert_uint_eq(st.backfilled, 0);
    ck_assert_uint_eq(st.jobs, 0); /* a finished at T0 + 1 day: not 30 days yet */
    st = pass_at(T0 + 32 * DAY);
    ck_assert_uint_eq(st.backfilled, 2);
    ck_assert_uint_eq(st.jobs, 1);
    assert_job_gone(a, "superseded", 1, sha_a);
    assert_job_kept(b, "failed");
    {
        char want[32];

        snprintf(want, sizeof(want), "%lld", (long long)(T0 + 5 * DAY));
        CLI_EQ(want, "ZSCORE '{rt}:finished' %s", b);
    }
}
END_TEST

START_TEST(batches_are_bounded)
{
    char id[32], sha[41];
    sched_retention_stats st;

    /* 520 pushes to one PR: each supersedes the one before, 519 finished jobs. */
    for (int i = 0; i < 520; i++) {
        snprintf(sha, sizeof(sha), "%040x", i + 1);
        intake(7, sha, T0, id);
    }
    st = pass_at(T0 + 31 * DAY);
    ck_assert_uint_eq(st.jobs, SCHED_RETENTION_BATCH);
    ck_assert(st.more);
    st = pass_at(T0 + 31 * DAY);
    ck_assert_uint_eq(st.jobs, 19);
    ck_assert(!st.more);
    CLI_EQ("1", "ZCARD '{rt}:jobs'");
    CLI_EQ("0", "ZCARD '{rt}:state:superseded'");
    CLI_EQ("0", "ZCARD '{rt}:finished'");
    assert_job_kept(id, "received");
}
END_TEST

START_TEST(old_dead_letters_are_dropped)
{
    char old_id[32], young_id[32];
    sched_outbox_msg m;
    sched_retention_stats st;
    core_error err;

    ck_assert_int_eq(sched_outbox_put(fx.store, "github_status", "{}", NULL, T0, old_id, &err), 0);
    ck_assert_int_eq(sched_outbox_take(fx.store, T0, 1000, &m, &err), 0);
    ck_assert_int_eq(sched_outbox_fail(fx.store, old_id, m.token, "boom", T0, 1, T0, NULL, &err),
                     0);
    sched_outbox_msg_free(&m);
    ck_assert_int_eq(
        sched_outbox_put(fx.store, "github_status", "{}", NULL, T0 + 2 * DAY, young_id, &err), 0);
    ck_assert_int_eq(sched_outbox_take(fx.store, T0 + 2 * DAY, 1000, &m, &err), 0);
    ck_assert_str_eq(m.id, young_id);
    ck_assert_int_eq(sched_outbox_fail(fx.store, young_id, m.token, "boom", T0 + 2 * DAY, 1,
                                       T0 + 2 * DAY, NULL, &err),
                     0);
    sched_outbox_msg_free(&m);
    CLI_EQ("2", "ZCARD '{rt}:outbox:dead'");

    st = pass_at(T0 + 31 * DAY);
    ck_assert_uint_eq(st.dead, 1);
    CLI_EQ("0", "EXISTS '{rt}:outbox:%s'", old_id);
    CLI_EQ("", "ZSCORE '{rt}:outbox:dead' %s", old_id);
    CLI_EQ("dead", "HGET '{rt}:outbox:%s' state", young_id);
    CLI_EQ("1", "ZCARD '{rt}:outbox:dead'");
}
END_TEST

START_TEST(entries_whose_job_is_gone_are_swept)
{
    char id[32];
    sched_retention_stats st;

    intake(1, sha_a, T0, id);
    free(cli("ZADD '{rt}:deferred' %lld %s 123 900", (long long)(T0 + DAY), id));
    free(cli("SADD '{rt}:routing' %s 901", id));
    free(cli("ZADD '{rt}:inspect' 5 902"));
    free(cli("ZADD '{rt}:escalate' 5 903"));
    free(cli("ZADD '{rt}:queue:apac-tokyo' 904 904"));

    st = pass_at(T0);
    ck_assert_uint_eq(st.swept, 5);
    CLI_EQ(id, "ZRANGE '{rt}:deferred' 0 -1");
    CLI_EQ(id, "SMEMBERS '{rt}:routing'");
    CLI_EQ("0", "EXISTS '{rt}:inspect' '{rt}:escalate' '{rt}:queue:apac-tokyo'");
    assert_job_kept(id, "received");
}
END_TEST

/* Idle runners live in per-token keys with the window as their TTL; the per-region sets
 * of the older layout are read by nobody and go whole, the new keys stay. */
START_TEST(idle_runner_entries_expire)
{
    sched_retention_stats st;

    free(cli("ZADD '{rt}:idle:apac-tokyo' %lld gone %lld fresh",
             (long long)(T0 - SCHED_IDLE_WINDOW_MS - 1), (long long)(T0 - 1000)));
    free(cli("ZADD '{rt}:idle:apac-tokyo:0' %lld r1", (long long)(T0 - 1000)));
    st = pass_at(T0);
    ck_assert_uint_eq(st.idle, 1);
    CLI_EQ("0", "EXISTS '{rt}:idle:apac-tokyo'");
    CLI_EQ("r1", "ZRANGE '{rt}:idle:apac-tokyo:0' 0 -1");
}
END_TEST

START_TEST(tick_runs_one_pass_per_period)
{
    sched_retention_stats st;
    core_error err;
    bool ran = false;

    ck_assert_int_eq(sched_retention_tick(fx.store, fx.cfg, T0, &ran, &st, &err), 0);
    ck_assert(ran);
    ck_assert_int_eq(sched_retention_tick(fx.store, fx.cfg, T0, &ran, &st, &err), 0);
    ck_assert(!ran);
    free(cli("DEL '{rt}:retention:lock'"));
    ck_assert_int_eq(sched_retention_tick(fx.store, fx.cfg, T0, &ran, &st, &err), 0);
    ck_assert(ran);
}
END_TEST

/* A full batch frees the lock: a backlog drains a pass at a time, not a period at a time. */
START_TEST(tick_after_a_full_batch_runs_again)
{
    char id[32], sha[41];
    sched_retention_stats st;
    core_error err;
    bool ran = false;

    for (int i = 0; i < 502; i++) {
        snprintf(sha, sizeof(sha), "%040x", i + 1);
        intake(8, sha, T0, id);
    }
    ck_assert_int_eq(sched_retention_tick(fx.store, fx.cfg, T0 + 31 * DAY, &ran, &st, &err), 0);
    ck_assert(ran);
    ck_assert(st.more);
    CLI_EQ("0", "EXISTS '{rt}:retention:lock'");
    ck_assert_int_eq(sched_retention_tick(fx.store, fx.cfg, T0 + 31 * DAY, &ran, &st, &err), 0);
    ck_assert(ran);
    ck_assert_uint_eq(st.jobs, 1);
    ck_assert(!st.more);
    CLI_EQ("1", "EXISTS '{rt}:retention:lock'");
    ck_assert_int_eq(sched_retention_tick(fx.store, fx.cfg, T0 + 31 * DAY, &ran, &st, &err), 0);
    ck_assert(!ran);
}
END_TEST

Suite *suite_scheduler_retention(void)
{
    Suite *s = suite_create("scheduler_retention");
    TCase *tc = tcase_create("retention");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, old_jobs_go_young_and_live_ones_stay);
    tcase_add_test(tc, jobs_finished_before_the_index_are_backfilled);
    tcase_add_test(tc, batches_are_bounded);
    tcase_add_test(tc, old_dead_letters_are_dropped);
    tcase_add_test(tc, entries_whose_job_is_gone_are_swept);
    tcase_add_test(tc, idle_runner_entries_expire);
    tcase_add_test(tc, tick_runs_one_pass_per_period);
    tcase_add_test(tc, tick_after_a_full_batch_runs_again);
    suite_add_tcase(s, tc);
    return s;
}
