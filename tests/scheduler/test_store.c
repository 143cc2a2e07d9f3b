/* scheduler/store.c and scheduler/jobs.c against a real, throwaway redis-server: intake
 * (create, dedup, live triple, supersede, close), job JSON and paging, URL handling,
 * AUTH and SELECT, timeouts, a Redis restart, and racing threads. */
#include <check.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/scripts.h"
#include "tests/support/support.h"

#define NOW 1773077400000LL /* 2026-03-09T17:30:00Z */
#define SHA_A "aaaaaaa111111111111111111111111111111111"
#define SHA_B "bbbbbbb222222222222222222222222222222222"
#define SHA_C "ccccccc333333333333333333333333333333333"
#define REPO "acme/api"

static ts_redis *redis;
static sched_store *store;

static sched_store *store_open(const char *url, size_t pool, int ttl, int command_ms)
{
    sched_store_options o = {.url = url,
                             .prefix = "zt",
                             .pool_size = pool,
                             .dedup_ttl_seconds = ttl,
                             .command_timeout_ms = command_ms};
    sched_store *s = NULL;
    core_error err = {0};

    ck_assert_msg(sched_store_new(&s, &o, &err) == 0, "store: %s", err.msg);
    return s;
}

static void setup(void)
{
    redis = ts_redis_start(false);
    store = store_open(redis->url, 2, 0, 0);
}

static void setup_aof(void)
{
    redis = ts_redis_start(true);
    store = store_open(redis->url, 2, 0, 0);
}

static void teardown(void)
{
    sched_store_free(store);
    store = NULL;
    ts_redis_free(redis);
    redis = NULL;
}

/* redis-cli output for a printf-formatted argument list; the caller frees it. */
static char *cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cli(const char *fmt, ...)
{
    char args[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    return ts_redis_cli(redis, args);
}

#define CLI_EQ(want, ...)                                                                          \
    do {                                                                                           \
        char *got_ = cli(__VA_ARGS__);                                                             \
        ck_assert_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

static sched_pr_ref pr_ref(const char *repo, int64_t pr, const char *sha)
{
    return (sched_pr_ref){.repo = repo,
                          .pr = pr,
                          .head_sha = sha,
                          .base_sha = "0123456789abcdef0123456789abcdef01234567",
                          .head_ref = "feature/x",
                          .base_ref = "main",
                          .title = "Add a thing",
                          .author = "octocat",
                          .clone_url = "https://github.com/acme/api.git",
                          .installation_id = 77};
}

static sched_intake intake(const char *delivery, const char *repo, int64_t pr, const char *sha)
{
    sched_pr_ref ref = pr_ref(repo, pr, sha);
    sched_intake in;
    core_error err = {0};

    ck_assert_msg(sched_intake_pull_request(store, delivery, &ref, NOW, &in, &err) == 0,
                  "intake: %s", err.msg);
    return in;
}

static json_t *job_get(const char *id)
{
    core_buf b = {0};
    core_error err = {0};
    json_error_t jerr;
    json_t *j;

    ck_assert_msg(sched_job_json(store, id, &b, &err) == 0, "job %s: %s", id, err.msg);
    j = json_loads(b.data, 0, &jerr);
    ck_assert_msg(j != NULL, "invalid JSON (%s): %s", jerr.text, b.data);
    core_buf_free(&b);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static json_t *history_last(json_t *job)
{
    json_t *h = json_object_get(job, "history");

    ck_assert(json_is_array(h) && json_array_size(h) > 0);
    return json_array_get(h, json_array_size(h) - 1);
}

/* ---- intake ------------------------------------------------------------------------- */

START_TEST(intake_creates_a_job)
{
    sched_intake in = intake("d-1", REPO, 12, SHA_A);
    json_t *job, *h;

    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    ck_assert_str_eq(in.job_id, "1");
    ck_assert_str_eq(in.superseded_id, "");
    CLI_EQ("received", "HGET '{zt}:job:1' state");
    CLI_EQ("1", "ZSCORE '{zt}:state:received' 1");
    CLI_EQ("1", "ZSCORE '{zt}:jobs' 1");
    CLI_EQ("1", "GET '{zt}:live:acme/api#12#%s'", SHA_A);
    CLI_EQ("1", "SMEMBERS '{zt}:pr:acme/api#12'");
    CLI_EQ("1", "GET '{zt}:delivery:d-1'");
    CLI_EQ("1", "XLEN '{zt}:audit'");
    CLI_EQ("1", "LLEN '{zt}:job:1:history'");

    job = job_get("1");
    ck_assert_str_eq(jstr(job, "id"), "1");
    ck_assert_str_eq(jstr(job, "state"), "received");
    ck_assert_str_eq(jstr(job, "repo"), REPO);
    ck_assert_int_eq(json_integer_value(json_object_get(job, "pr")), 12);
    ck_assert_str_eq(jstr(job, "head_sha"), SHA_A);
    ck_assert_str_eq(jstr(job, "base_ref"), "main");
    ck_assert_str_eq(jstr(job, "author"), "octocat");
    ck_assert(json_is_null(json_object_get(job, "region")));
    ck_assert(json_is_integer(json_object_get(job, "attempts")));
    ck_assert_int_eq(json_integer_value(json_object_get(job, "attempts")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(job, "installation_id")), 77);
    ck_assert_str_eq(jstr(job, "created_at"), "2026-03-09T17:30:00.000Z");
    ck_assert_str_eq(jstr(job, "updated_at"), "2026-03-09T17:30:00.000Z");
    ck_assert_str_eq(jstr(job, "reason"), "pull request #12 at aaaaaaa");
    h = history_last(job);
    ck_assert_int_eq(json_array_size(json_object_get(job, "history")), 1);
    ck_assert_str_eq(jstr(h, "at"), "2026-03-09T17:30:00.000Z");
    ck_assert_str_eq(jstr(h, "state"), "received");
    ck_assert_str_eq(jstr(h, "actor"), "github");
    ck_assert_str_eq(jstr(h, "reason"), "pull request #12 at aaaaaaa");
    json_decref(job);
}
END_TEST

START_TEST(caller_reason_is_kept)
{
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_A);
    sched_intake in;
    json_t *job;

    ref.reason = "pull request #12 opened at aaaaaaa";
    ck_assert_int_eq(sched_intake_pull_request(store, "d-1", &ref, NOW, &in, NULL), 0);
    job = job_get(in.job_id);
    ck_assert_str_eq(jstr(history_last(job), "reason"), "pull request #12 opened at aaaaaaa");
    json_decref(job);
}
END_TEST

START_TEST(duplicate_delivery_creates_nothing)
{
    sched_intake in = intake("d-1", REPO, 12, SHA_A);

    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    /* Same delivery, even with another SHA: GitHub redelivered it, nothing new. */
    in = intake("d-1", REPO, 12, SHA_B);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_DUPLICATE);
    ck_assert_str_eq(in.job_id, "1");
    CLI_EQ("1", "GET '{zt}:seq'");
    CLI_EQ("1", "ZCARD '{zt}:jobs'");
    CLI_EQ("1", "XLEN '{zt}:audit'");
}
END_TEST

START_TEST(live_triple_is_not_built_twice)
{
    sched_intake in = intake("d-1", REPO, 12, SHA_A);

    in = intake("d-2", REPO, 12, SHA_A);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_LIVE);
    ck_assert_str_eq(in.job_id, "1");
    /* The second delivery is remembered too, with the job it mapped to. */
    CLI_EQ("1", "GET '{zt}:delivery:d-2'");
    in = intake("d-2", REPO, 12, SHA_A);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_DUPLICATE);
    ck_assert_str_eq(in.job_id, "1");
    CLI_EQ("1", "GET '{zt}:seq'");
    CLI_EQ("received", "HGET '{zt}:job:1' state");
}
END_TEST

START_TEST(new_head_supersedes_the_older_job)
{
    sched_intake in = intake("d-1", REPO, 12, SHA_A);
    json_t *old, *h;

    in = intake("d-2", REPO, 12, SHA_B);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    ck_assert_str_eq(in.job_id, "2");
    ck_assert_str_eq(in.superseded_id, "1");

    old = job_get("1");
    ck_assert_str_eq(jstr(old, "state"), "superseded");
    ck_assert_str_eq(jstr(old, "reason"), "superseded by job 2 (head bbbbbbb)");
    ck_assert_int_eq(json_array_size(json_object_get(old, "history")), 2);
    h = history_last(old);
    ck_assert_str_eq(jstr(h, "state"), "superseded");
    ck_assert_str_eq(jstr(h, "actor"), "github");
    ck_assert_str_eq(jstr(h, "reason"), "superseded by job 2 (head bbbbbbb)");
    json_decref(old);

    /* The live key moved to the new head; the state sets and the PR set follow. */
    CLI_EQ("", "GET '{zt}:live:acme/api#12#%s'", SHA_A);
    CLI_EQ("2", "GET '{zt}:live:acme/api#12#%s'", SHA_B);
    CLI_EQ("2", "SMEMBERS '{zt}:pr:acme/api#12'");
    CLI_EQ("2", "ZRANGE '{zt}:state:received' 0 -1");
    CLI_EQ("1", "ZRANGE '{zt}:state:superseded' 0 -1");
    CLI_EQ("3", "XLEN '{zt}:audit'");

    /* Another PR is left alone, and a push back to the old head builds it again. */
    in = intake("d-3", REPO, 13, SHA_C);
    ck_assert_str_eq(in.superseded_id, "");
    in = intake("d-4", REPO, 12, SHA_A);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    ck_assert_str_eq(in.job_id, "4");
    ck_assert_str_eq(in.superseded_id, "2");
    CLI_EQ("received", "HGET '{zt}:job:3' state");
}
END_TEST

START_TEST(close_cancels_only_non_final_jobs)
{
    sched_intake in;
    core_error err = {0};
    json_t *job;

    intake("d-1", REPO, 12, SHA_A); /* job 1: will succeed */
    ck_assert_int_eq(sched_job_transition(store, "1", "received", "succeeded", "runner-1",
                                          "build passed", NOW, &err),
                     0);
    intake("d-2", REPO, 12, SHA_B); /* job 2: superseded by job 3 */
    intake("d-3", REPO, 12, SHA_C); /* job 3: live */
    intake("d-4", REPO, 13, SHA_A); /* job 4: another PR */

    ck_assert_int_eq(sched_intake_pr_closed(store, "c-1", REPO, 12, NOW + 1000, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CLOSED);
    ck_assert_int_eq(in.cancelled, 1);
    ck_assert_str_eq(in.job_id, "");
    CLI_EQ("succeeded", "HGET '{zt}:job:1' state");
    CLI_EQ("superseded", "HGET '{zt}:job:2' state");
    CLI_EQ("cancelled", "HGET '{zt}:job:3' state");
    CLI_EQ("received", "HGET '{zt}:job:4' state");
    CLI_EQ("0", "EXISTS '{zt}:live:acme/api#12#%s'", SHA_C);
    CLI_EQ("0", "SCARD '{zt}:pr:acme/api#12'");
    CLI_EQ("-", "GET '{zt}:delivery:c-1'");
    job = job_get("3");
    ck_assert_str_eq(jstr(history_last(job), "reason"), "pull request closed");
    ck_assert_str_eq(jstr(job, "updated_at"), "2026-03-09T17:30:01.000Z");
    json_decref(job);

    /* Redelivered: a duplicate. A second close: nothing left to cancel. */
    ck_assert_int_eq(sched_intake_pr_closed(store, "c-1", REPO, 12, NOW, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_DUPLICATE);
    ck_assert_str_eq(in.job_id, "");
    ck_assert_int_eq(sched_intake_pr_closed(store, "c-2", REPO, 12, NOW, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CLOSED);
    ck_assert_int_eq(in.cancelled, 0);
}
END_TEST

START_TEST(dedup_key_expires)
{
    sched_store *short_ttl;
    sched_intake in;
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_B);
    char *ttl;
    long t;

    intake("d-1", REPO, 12, SHA_A);
    ttl = cli("TTL '{zt}:delivery:d-1'");
    t = strtol(ttl, NULL, 10);
    /* 3 days: delivery recovery looks that far back and must know what was accepted. */
    ck_assert_msg(t > 259190 && t <= 259200, "ttl %s", ttl);
    free(ttl);
    /* The live key lives as long as the job does: no TTL. */
    CLI_EQ("-1", "TTL '{zt}:live:acme/api#12#%s'", SHA_A);

    short_ttl = store_open(redis->url, 1, 60, 0);
    ck_assert_int_eq(sched_intake_pull_request(short_ttl, "d-2", &ref, NOW, &in, NULL), 0);
    ttl = cli("TTL '{zt}:delivery:d-2'");
    t = strtol(ttl, NULL, 10);
    ck_assert_msg(t > 50 && t <= 60, "ttl %s", ttl);
    free(ttl);
    sched_store_free(short_ttl);
}
END_TEST

START_TEST(intake_rejects_bad_input)
{
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_A);
    sched_intake in;
    core_error err = {0};
    char big[5000];

    ck_assert_int_eq(sched_intake_pull_request(store, "", &ref, NOW, &in, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "delivery id"));
    ck_assert_int_eq(sched_intake_pull_request(store, "a b", &ref, NOW, &in, &err), CORE_EINVAL);
    ref.repo = "acme/api#1";
    ck_assert_int_eq(sched_intake_pull_request(store, "d", &ref, NOW, &in, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "repo"));
    ref.repo = "noslash";
    ck_assert_int_eq(sched_intake_pull_request(store, "d", &ref, NOW, &in, &err), CORE_EINVAL);
    ref = pr_ref(REPO, 0, SHA_A);
    ck_assert_int_eq(sched_intake_pull_request(store, "d", &ref, NOW, &in, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "pr"));
    ref = pr_ref(REPO, 12, "xyz");
    ck_assert_int_eq(sched_intake_pull_request(store, "d", &ref, NOW, &in, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "head_sha"));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ref = pr_ref(REPO, 12, SHA_A);
    ref.title = big;
    ck_assert_int_eq(sched_intake_pull_request(store, "d", &ref, NOW, &in, &err), CORE_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "title"));
    ck_assert_int_eq(sched_intake_pr_closed(store, "d", "bad repo", 1, NOW, &in, &err),
                     CORE_EINVAL);
    /* Nothing reached Redis. */
    CLI_EQ("0", "DBSIZE");
}
END_TEST

/* ---- transitions -------------------------------------------------------------------- */

START_TEST(transition_rules)
{
    core_error err = {0};
    sched_intake in;

    intake("d-1", REPO, 12, SHA_A);
    ck_assert_int_eq(
        sched_job_transition(store, "1", "queued", "inspecting", "worker", "", NOW, &err),
        CORE_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "received"));
    ck_assert_int_eq(sched_job_transition(store, "1", NULL, "bogus", "worker", "", NOW, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(sched_job_transition(store, "99", NULL, "queued", "worker", "", NOW, &err),
                     CORE_ENOTFOUND);
    ck_assert_int_eq(sched_job_transition(store, "1", "received", "inspecting", "worker",
                                          "reading the diff", NOW, &err),
                     0);
    CLI_EQ("", "ZRANGE '{zt}:state:received' 0 -1");
    CLI_EQ("1", "ZRANGE '{zt}:state:inspecting' 0 -1");
    CLI_EQ("1", "GET '{zt}:live:acme/api#12#%s'", SHA_A);
    ck_assert_int_eq(
        sched_job_transition(store, "1", NULL, "failed", "runner", "exit 1", NOW, &err), 0);
    CLI_EQ("0", "EXISTS '{zt}:live:acme/api#12#%s'", SHA_A);
    CLI_EQ("0", "SCARD '{zt}:pr:acme/api#12'");
    ck_assert_int_eq(sched_job_transition(store, "1", NULL, "queued", "x", "", NOW, &err),
                     CORE_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "final"));
    /* A finished build frees its commit: the next event for it builds again. */
    in = intake("d-2", REPO, 12, SHA_A);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    ck_assert_str_eq(in.job_id, "2");
    ck_assert_str_eq(in.superseded_id, "");
    CLI_EQ("4", "XLEN '{zt}:audit'");
}
END_TEST

/* The Lua library's FINAL table must agree with sched_state_final(): force a job into each
 * state behind the store's back, then see whether the script lets it move. */
START_TEST(lua_and_c_agree_on_final_states)
{
    static const char *const states[] = {
#define X(id, name) name,
        SCHED_STATE_LIST
#undef X
    };
    core_error err = {0};

    intake("d-1", REPO, 12, SHA_A);
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        int rc;

        free(cli("HSET '{zt}:job:1' state %s", states[i]));
        rc = sched_job_transition(store, "1", NULL, "received", "test", "", NOW, &err);
        ck_assert_msg((rc == CORE_ECONFLICT) == sched_state_final(states[i]), "state %s: rc %d",
                      states[i], rc);
        ck_assert(rc == 0 || rc == CORE_ECONFLICT);
    }
    ck_assert(sched_state_valid("awaiting_approval"));
    ck_assert(!sched_state_valid("Received"));
    ck_assert(!sched_state_valid(NULL));
    ck_assert_str_eq(sched_state_name(SCHED_STATE_LEASED), "leased");
}
END_TEST

/* The scripts cap the audit stream at AUDIT_MAXLEN (scheduler/lua/library.lua), which
 * SCHED_AUDIT_MAXLEN must repeat for C; and the assembled library holds every script once,
 * under the name FCALL uses. */
START_TEST(lua_library_agrees_with_c)
{
    const char *lib = sched_script_library();
    char want[128];

    snprintf(want, sizeof(want), "\nlocal AUDIT_MAXLEN = %d\n", SCHED_AUDIT_MAXLEN);
    ck_assert_msg(strstr(lib, want) != NULL, "library.lua's AUDIT_MAXLEN is not %d",
                  SCHED_AUDIT_MAXLEN);
    ck_assert(strncmp(lib, "#!lua name=zoneci_", 18) == 0);
    for (int i = 0; i < SCHED_SCRIPT_COUNT; i++) {
        const char *at;

        snprintf(want, sizeof(want),
                 "\nredis.register_function('%s', function(KEYS, ARGV)\n"
                 "P = ARGV[1]\n",
                 sched_script_function((sched_script)i));
        at = strstr(lib, want);
        ck_assert_msg(at != NULL, "no function for %s", sched_script_name((sched_script)i));
        ck_assert_msg(strstr(at + 1, want) == NULL, "%s twice", sched_script_name((sched_script)i));
    }
}
END_TEST

/* ---- JSON ----------------------------------------------------------------------------- */

START_TEST(job_json_escapes_any_bytes)
{
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_A);
    sched_intake in;
    core_buf b = {0};
    json_error_t jerr;
    json_t *job;

    ref.title = "Fix \"quoted\" name\nsecond\tline \\ caf\xc3\xa9 \xff end";
    ref.author = "</script>";
    ck_assert_int_eq(sched_intake_pull_request(store, "d-1", &ref, NOW, &in, NULL), 0);
    core_buf_puts(&b, "prefix:");
    ck_assert_int_eq(sched_job_json(store, in.job_id, &b, NULL), 0);
    ck_assert(strncmp(b.data, "prefix:{", 8) == 0);
    ck_assert_ptr_nonnull(strstr(b.data, "Fix \\\"quoted\\\" name\\nsecond\\tline \\\\"));
    job = json_loads(b.data + 7, 0, &jerr);
    ck_assert_msg(job != NULL, "invalid JSON (%s): %s", jerr.text, b.data);
    /* A byte that is not UTF-8 becomes U+FFFD rather than breaking the document. */
    ck_assert_str_eq(jstr(job, "title"),
                     "Fix \"quoted\" name\nsecond\tline \\ caf\xc3\xa9 \xef\xbf\xbd end");
    ck_assert_str_eq(jstr(job, "author"), "</script>");
    json_decref(job);

    /* Bytes written behind our back (another version, a person with redis-cli). */
    free(cli("HSET '{zt}:job:1' region eu-west attempts 007 created_at junk"));
    free(cli("RPUSH '{zt}:job:1:history' 'not json'"));
    job = job_get("1");
    ck_assert_str_eq(jstr(job, "region"), "eu-west");
    ck_assert_int_eq(json_integer_value(json_object_get(job, "attempts")), 7);
    ck_assert(json_is_null(json_object_get(job, "created_at")));
    ck_assert_str_eq(jstr(history_last(job), "reason"), "not json");
    json_decref(job);
    core_buf_free(&b);
}
END_TEST

/* A pull request's newest job, final or not; the PR set stands in for jobs created before
 * `pr_last` existed. */
START_TEST(pr_job_is_the_newest)
{
    core_buf b = {0};
    core_error err = {0};
    json_t *j;

    intake("d-1", REPO, 12, SHA_A);
    intake("d-2", REPO, 12, SHA_B);
    CLI_EQ("2", "GET '{zt}:pr_last:acme/api#12'");
    ck_assert_int_eq(sched_pr_job_json(store, REPO, 12, &b, &err), 0);
    j = json_loads(b.data, 0, NULL);
    ck_assert_str_eq(jstr(j, "id"), "2");
    ck_assert_str_eq(jstr(j, "state"), "received");
    json_decref(j);
    core_buf_reset(&b);
    /* Final, it is still the PR's newest. */
    ck_assert_int_eq(
        sched_job_transition(store, "2", NULL, "cancelled", "github", "closed", NOW, &err), 0);
    ck_assert_int_eq(sched_pr_job_json(store, REPO, 12, &b, &err), 0);
    j = json_loads(b.data, 0, NULL);
    ck_assert_str_eq(jstr(j, "id"), "2");
    ck_assert_str_eq(jstr(j, "state"), "cancelled");
    json_decref(j);
    core_buf_reset(&b);
    /* Another PR, another repository with the same number: nothing. */
    ck_assert_int_eq(sched_pr_job_json(store, REPO, 13, &b, &err), CORE_ENOTFOUND);
    ck_assert_int_eq(sched_pr_job_json(store, "acme/web", 12, &b, &err), CORE_ENOTFOUND);
    ck_assert_uint_eq(b.len, 0);
    /* A job from before pr_last: its live entry in the PR set. */
    intake("d-3", REPO, 14, SHA_C);
    free(cli("DEL '{zt}:pr_last:acme/api#14'"));
    ck_assert_int_eq(sched_pr_job_json(store, REPO, 14, &b, &err), 0);
    j = json_loads(b.data, 0, NULL);
    ck_assert_str_eq(jstr(j, "id"), "3");
    json_decref(j);
    core_buf_free(&b);
}
END_TEST

START_TEST(unknown_job_is_not_found)
{
    core_buf b = {0};
    core_error err = {0};

    ck_assert_int_eq(sched_job_json(store, "999", &b, &err), CORE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "999"));
    ck_assert_int_eq(sched_job_json(store, "abc", &b, &err), CORE_ENOTFOUND);
    ck_assert_int_eq(sched_job_json(store, "1:history", &b, &err), CORE_ENOTFOUND);
    ck_assert_int_eq(sched_job_json(store, "", &b, &err), CORE_ENOTFOUND);
    ck_assert_uint_eq(b.len, 0);
    core_buf_free(&b);
}
END_TEST

/* Pages through the list and returns how many pages it took; ids are checked to come
 * newest first and without gaps or repeats against want[]. */
static int list_all(const char *state, size_t limit, const int *want, size_t n_want)
{
    char cursor[32] = "";
    size_t seen = 0;
    int pages = 0;

    for (;;) {
        core_buf b = {0};
        core_error err = {0};
        json_error_t jerr;
        json_t *doc, *jobs, *next;

        ck_assert_msg(
            sched_job_list_json(store, state, cursor[0] ? cursor : NULL, limit, &b, &err) == 0,
            "list: %s", err.msg);
        doc = json_loads(b.data, 0, &jerr);
        ck_assert_msg(doc != NULL, "invalid JSON: %s", b.data);
        jobs = json_object_get(doc, "jobs");
        next = json_object_get(doc, "next");
        ck_assert(json_is_array(jobs));
        ck_assert(json_array_size(jobs) <= limit);
        for (size_t i = 0; i < json_array_size(jobs); i++) {
            json_t *job = json_array_get(jobs, i);

            ck_assert_uint_lt(seen, n_want);
            ck_assert_int_eq(atoi(jstr(job, "id")), want[seen]);
            if (state)
                ck_assert_str_eq(jstr(job, "state"), state);
            ck_assert(json_is_array(json_object_get(job, "history")));
            seen++;
        }
        pages++;
        if (json_is_null(next)) {
            json_decref(doc);
            core_buf_free(&b);
            break;
        }
        ck_assert(json_is_string(next));
        ck_assert_uint_eq(json_array_size(jobs), limit);
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        ck_assert_str_eq(cursor, jstr(json_array_get(jobs, limit - 1), "id"));
        json_decref(doc);
        core_buf_free(&b);
    }
    ck_assert_uint_eq(seen, n_want);
    return pages;
}

START_TEST(list_pages_newest_first)
{
    int all[25], superseded[12];
    size_t n_sup = 0;
    char delivery[16], sha[41];

    /* 25 jobs, two heads per PR: each even job supersedes the odd one before it. */
    for (int i = 1; i <= 25; i++) {
        snprintf(delivery, sizeof(delivery), "d-%d", i);
        snprintf(sha, sizeof(sha), "%040d", i);
        intake(delivery, REPO, (i + 1) / 2, sha);
    }
    for (int i = 0; i < 25; i++)
        all[i] = 25 - i;
    for (int id = 24; id >= 1; id--) {
        if (id % 2 == 1)
            superseded[n_sup++] = id;
    }
    ck_assert_int_eq(list_all(NULL, 10, all, 25), 3);
    ck_assert_int_eq(list_all(NULL, 25, all, 25), 1);
    ck_assert_int_eq(list_all(NULL, 24, all, 25), 2);
    ck_assert_int_eq(list_all(NULL, 1000, all, 25), 1);
    ck_assert_int_eq(list_all("superseded", 5, superseded, n_sup), 3);
    ck_assert_int_eq(list_all("cancelled", 5, NULL, 0), 1);
}
END_TEST

START_TEST(list_rejects_bad_arguments)
{
    core_buf b = {0};
    core_error err = {0};

    ck_assert_int_eq(sched_job_list_json(store, "bogus", NULL, 10, &b, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "unknown state \"bogus\"");
    /* Echoed safely: no quote or newline of the input reaches the message. */
    ck_assert_int_eq(sched_job_list_json(store, "x\"}\n", NULL, 10, &b, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "unknown state \"x?}?\"");
    ck_assert_int_eq(sched_job_list_json(store, NULL, "12a", 10, &b, &err), CORE_EINVAL);
    ck_assert_str_eq(err.msg, "malformed cursor");
    ck_assert_int_eq(sched_job_list_json(store, NULL, "-1", 10, &b, &err), CORE_EINVAL);
    ck_assert_int_eq(sched_job_list_json(store, NULL, "", 10, &b, &err), CORE_EINVAL);
    ck_assert_int_eq(sched_job_list_json(store, NULL, "123456789012345678901", 10, &b, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(sched_job_list_json(store, NULL, NULL, 0, &b, &err), CORE_EINVAL);
    ck_assert_int_eq(sched_job_list_json(store, NULL, NULL, 1001, &b, &err), CORE_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(sched_job_list_json(store, NULL, NULL, 10, &b, &err), 0);
    ck_assert_str_eq(b.data, "{\"jobs\":[],\"next\":null}");
    core_buf_free(&b);
}
END_TEST

/* ---- connections ------------------------------------------------------------------------ */

static int open_err(const char *url, const char *prefix, size_t pool, core_error *err)
{
    sched_store_options o = {.url = url, .prefix = prefix, .pool_size = pool};
    sched_store *s = (sched_store *)&o; /* must be reset to NULL on failure */
    int rc = sched_store_new(&s, &o, err);

    if (rc < 0)
        ck_assert_ptr_null(s);
    sched_store_free(s);
    return rc;
}

START_TEST(options_are_validated)
{
    core_error err = {0};

    ck_assert_int_eq(open_err("http://x", "zt", 1, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "redis://"));
    ck_assert_int_eq(open_err("", "zt", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err(NULL, "zt", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("redis://:hunter2@host:99999/0", "zt", 1, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "port"));
    ck_assert_ptr_null(strstr(err.msg, "hunter2"));
    ck_assert_int_eq(open_err("redis://:hunter2@host:6379/x", "zt", 1, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "database"));
    ck_assert_int_eq(open_err("redis://:hunt%zz@host", "zt", 1, &err), CORE_EINVAL);
    ck_assert_ptr_null(strstr(err.msg, "hunt"));
    ck_assert_int_eq(open_err("redis://:pw@:6379", "zt", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("redis://::1:6379", "zt", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("rediss://host", "zt", 1, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "TLS"));
    ck_assert_int_eq(open_err("unix://", "zt", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("unix:///"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                              "zt", 1, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(open_err("redis://host:6379", "a{b}", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("redis://host:6379", "", 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("redis://host:6379", "zt", 0, &err), CORE_EINVAL);
    ck_assert_int_eq(open_err("redis://host:6379", "zt", 0, &err), CORE_EINVAL);
    /* Good ones; nothing connects yet. */
    ck_assert_int_eq(open_err("redis://localhost", "zt", 1, &err), 0);
    ck_assert_int_eq(open_err("redis://user:p%40ss@[::1]:6380/3", "zt", 4, &err), 0);
    ck_assert_int_eq(open_err("unix://relative/redis.sock", "zt", 1, &err), 0);
}
END_TEST

/* Store errors never show the password, and the connection comes back by itself. */
START_TEST(auth_and_database_over_tcp)
{
    int port = ts_free_port();
    char url[128];
    sched_store *tcp;
    core_error err = {0};
    sched_intake in;
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_A);
    uint64_t errors;

    free(cli("CONFIG SET port %d", port));
    free(cli("CONFIG SET requirepass 's3cr%%t'"));

    snprintf(url, sizeof(url), "redis://:wrong-pw@127.0.0.1:%d/3", port);
    tcp = store_open(url, 1, 0, 0);
    ck_assert_int_eq(sched_store_ping(tcp, &err), CORE_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "auth"));
    ck_assert_ptr_null(strstr(err.msg, "wrong-pw"));
    ck_assert_uint_eq(sched_store_error_count(tcp), 1);
    sched_store_free(tcp);

    /* The password is %-escaped in the URL; SELECT 3 puts the job in database 3. */
    snprintf(url, sizeof(url), "redis://default:s3cr%%25t@127.0.0.1:%d/3", port);
    tcp = store_open(url, 1, 0, 0);
    ck_assert_msg(sched_store_ping(tcp, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(sched_intake_pull_request(tcp, "d-1", &ref, NOW, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    CLI_EQ("received", "-a 's3cr%%t' --no-auth-warning -n 3 HGET '{zt}:job:1' state");
    CLI_EQ("0", "-a 's3cr%%t' --no-auth-warning -n 0 DBSIZE");

    /* Killed from the server side: the next call notices and reconnects. */
    free(cli("-a 's3cr%%t' --no-auth-warning CLIENT KILL TYPE normal SKIPME yes"));
    errors = sched_store_error_count(tcp);
    ck_assert_msg(sched_store_ping(tcp, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sched_store_error_count(tcp), errors);
    sched_store_free(tcp);

    /* Nobody listening. */
    snprintf(url, sizeof(url), "redis://:hunter2@127.0.0.1:%d", ts_free_port());
    tcp = store_open(url, 1, 0, 0);
    ck_assert_int_eq(sched_store_ping(tcp, &err), CORE_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "127.0.0.1"));
    ck_assert_ptr_null(strstr(err.msg, "hunter2"));
    sched_store_free(tcp);
}
END_TEST

/* ---- replicas and Sentinel ------------------------------------------------------------- */

static int open_sentinel(const char *url, const char *const *nodes, size_t n, core_error *err)
{
    sched_store_sentinel sn = {.master = "m", .nodes = nodes, .n_nodes = n, .password = "hunter2"};
    sched_store_options o = {.url = url, .sentinel = &sn, .prefix = "zt", .pool_size = 1};
    sched_store *s = NULL;
    int rc = sched_store_new(&s, &o, err);

    sched_store_free(s);
    return rc;
}

START_TEST(sentinel_options_are_validated)
{
    const char *good[] = {"127.0.0.1:26379", "[::1]:26380", "sentinel-3:26381"};
    const char *no_port[] = {"127.0.0.1"};
    const char *bad_port[] = {"h:0"};
    const char *v6[] = {"::1:26379"};
    const char *many[17];
    core_error err = {0};

    for (size_t i = 0; i < 17; i++)
        many[i] = "h:1";
    ck_assert_int_eq(open_sentinel(NULL, good, 3, &err), 0);
    ck_assert_int_eq(open_sentinel("redis://h:1", good, 3, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not both"));
    ck_assert_int_eq(open_sentinel(NULL, no_port, 1, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "port"));
    ck_assert_int_eq(open_sentinel(NULL, bad_port, 1, &err), CORE_EINVAL);
    ck_assert_int_eq(open_sentinel(NULL, v6, 1, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "brackets"));
    ck_assert_int_eq(open_sentinel(NULL, good, 0, &err), CORE_EINVAL);
    ck_assert_int_eq(open_sentinel(NULL, many, 17, &err), CORE_EINVAL);
    ck_assert_ptr_null(strstr(err.msg, "hunter2"));
}
END_TEST

/* The fixture's server, reachable over TCP too, with a second server as its replica. */
static bool replica_online(void *ctx)
{
    char *out = cli("INFO replication");
    bool online = strstr(out, "state=online") != NULL;

    (void)ctx;
    free(out);
    return online;
}

static ts_redis *replica_start(int *port, int *replica_port)
{
    ts_redis *replica = ts_redis_start(false);
    char args[64];
    char *out;

    *port = ts_free_port();
    free(cli("CONFIG SET port %d", *port));
    /* On TCP too, so that a sentinel can reach the replica it would promote. */
    *replica_port = ts_free_port();
    snprintf(args, sizeof(args), "CONFIG SET port %d", *replica_port);
    free(ts_redis_cli(replica, args));
    snprintf(args, sizeof(args), "REPLICAOF 127.0.0.1 %d", *port);
    free(ts_redis_cli(replica, args));
    for (int i = 0; i < 500; i++) {
        out = ts_redis_cli(replica, "INFO replication");
        if (strstr(out, "master_link_status:up")) {
            free(out);
            /* The primary lists it in ROLE (which the store reads) once it is online there. */
            ck_assert(ts_wait_until(replica_online, NULL, 5000));
            return replica;
        }
        free(out);
        poll(NULL, 0, 10);
    }
    ck_abort_msg("the replica never synchronised");
    return NULL;
}

static bool no_replicas(void *ctx)
{
    char *out = cli("INFO replication");
    bool none = strstr(out, "connected_slaves:0") != NULL;

    (void)ctx;
    free(out);
    return none;
}

START_TEST(acknowledged_writes_wait_for_a_replica)
{
    int port, rport;
    ts_redis *replica = replica_start(&port, &rport);
    sched_store_options o = {
        .url = redis->url, .prefix = "zt", .pool_size = 1, .wait_replica_ms = 300};
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_A);
    sched_store *s = NULL;
    core_error err = {0};
    sched_intake in;
    char *out;

    ck_assert_msg(sched_store_new(&s, &o, &err) == 0, "%s", err.msg);
    ck_assert_msg(sched_intake_pull_request(s, "d-1", &ref, NOW, &in, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    /* WAIT said a replica had it, so it is there now, not eventually. */
    out = ts_redis_cli(replica, "HGET '{zt}:job:1' state");
    ck_assert_str_eq(out, "received");
    free(out);
    out = ts_redis_cli(replica, "GET '{zt}:wait'");
    ck_assert_str_eq(out, "0");
    free(out);

    /* The replica dies: the write is made on the primary but not acknowledged (503). */
    ts_redis_stop(replica);
    ref = pr_ref(REPO, 13, SHA_B);
    ck_assert_int_eq(sched_intake_pull_request(s, "d-2", &ref, NOW, &in, &err), CORE_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "no replica acknowledged"));
    CLI_EQ("received", "HGET '{zt}:job:2' state");

    /* The next connection sees no replica and no longer waits; the redelivery finds its job. */
    ck_assert(ts_wait_until(no_replicas, NULL, 5000));
    ck_assert_msg(sched_intake_pull_request(s, "d-2", &ref, NOW, &in, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_DUPLICATE);
    ck_assert_str_eq(in.job_id, "2");
    sched_store_free(s);
    ts_redis_free(replica);
}
END_TEST

typedef struct intake_try {
    sched_store *store;
    const char *delivery;
    sched_intake in;
} intake_try;

static bool intake_succeeds(void *ctx)
{
    intake_try *t = ctx;
    sched_pr_ref ref = pr_ref(REPO, t->delivery[2] == '1' ? 14 : 15, SHA_A);

    return sched_intake_pull_request(t->store, t->delivery, &ref, NOW, &t->in, NULL) == 0;
}

/* One sentinel (quorum 1), told to fail over: the same store object writes to the new
 * primary after a few failed calls, with no restart and no change of configuration. */
START_TEST(sentinel_failover_is_followed)
{
    int port, rport, sport = ts_free_port(), dead = ts_free_port();
    ts_redis *replica = replica_start(&port, &rport);
    char *dir = ts_tmpdir(), text[512], *conf, node[32], dead_node[32], *out;
    const char *nodes[2] = {dead_node, node};
    sched_store_sentinel sn = {.master = "m", .nodes = nodes, .n_nodes = 2};
    /* With WAIT: the old primary keeps taking writes until the sentinel demotes it, and
     * only a replica's acknowledgement tells such a write (lost) from a kept one. */
    sched_store_options o = {
        .sentinel = &sn, .prefix = "zt", .pool_size = 2, .wait_replica_ms = 300};
    sched_store *s = NULL;
    core_error err = {0};
    intake_try t = {0};
    pid_t pid;

    snprintf(text, sizeof(text),
             "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/sentinel.log\n"
             "sentinel monitor m 127.0.0.1 %d 1\n"
             "sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 5000\n",
             sport, dir, dir, port);
    conf = ts_write_file(dir, "sentinel.conf", text);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        execlp("redis-sentinel", "redis-sentinel", conf, (char *)NULL);
        _exit(127);
    }
    snprintf(node, sizeof(node), "127.0.0.1:%d", sport);
    snprintf(dead_node, sizeof(dead_node), "127.0.0.1:%d", dead);
    ck_assert_msg(sched_store_new(&s, &o, &err) == 0, "%s", err.msg);
    t.store = s;
    t.delivery = "d-1";
    /* The first sentinel listed is not running: it is skipped. */
    ck_assert(ts_wait_until(intake_succeeds, &t, 10000));
    ck_assert_int_eq(t.in.outcome, SCHED_INTAKE_CREATED);

    /* The sentinel refuses (NOGOODSLAVE) until it has heard from the replica itself. */
    for (int i = 0;; i++) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "redis-cli -p %d SENTINEL FAILOVER m | grep -q '^OK'", sport);
        if (system(cmd) == 0)
            break;
        ck_assert_msg(i < 500, "the sentinel never agreed to fail over");
        poll(NULL, 0, 20);
    }
    for (int i = 0;; i++) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd),
                 "redis-cli -p %d SENTINEL get-master-addr-by-name m | grep -qx %d", sport, rport);
        if (system(cmd) == 0)
            break;
        ck_assert_msg(i < 500, "the sentinel never named the new primary");
        poll(NULL, 0, 20);
    }

    t.delivery = "d-2";
    ck_assert_msg(ts_wait_until(intake_succeeds, &t, 15000), "never wrote to the new primary");
    out = ts_redis_cli(replica, "ROLE");
    ck_assert_msg(strncmp(out, "master", 6) == 0, "not promoted: %s", out);
    free(out);
    ck_assert_int_eq(t.in.outcome, SCHED_INTAKE_CREATED);
    out = ts_redis_cli(replica, "GET '{zt}:delivery:d-2'");
    ck_assert_str_eq(out, t.in.job_id);
    free(out);
    /* And the job made through the old primary before the failover is there too. */
    out = ts_redis_cli(replica, "GET '{zt}:delivery:d-1'");
    ck_assert_str_eq(out, "1");
    free(out);

    sched_store_free(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ts_redis_free(replica);
    ts_rmtree(dir);
    free(dir);
    free(conf);
}
END_TEST

static bool store_answers(void *ctx)
{
    return sched_store_ping(ctx, NULL) == 0;
}

START_TEST(command_timeout)
{
    sched_store *quick = store_open(redis->url, 1, 0, 100);
    core_error err = {0};

    ck_assert_int_eq(sched_store_ping(quick, &err), 0);
    free(cli("CLIENT PAUSE 1500 ALL"));
    ck_assert_int_eq(sched_store_ping(quick, &err), CORE_EUNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "no answer within 100 ms") != NULL, "%s", err.msg);
    ck_assert_uint_ge(sched_store_error_count(quick), 1);
    ck_assert(ts_wait_until(store_answers, quick, 5000));
    sched_store_free(quick);
}
END_TEST

START_TEST(redis_restart_is_survived)
{
    core_error err = {0};
    sched_intake in;
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_B);
    uint64_t before;
    json_t *job;
    core_buf b = {0};

    intake("d-1", REPO, 12, SHA_A);
    before = sched_store_error_count(store);
    ck_assert_uint_eq(before, 0);

    ts_redis_stop(redis);
    ck_assert_int_eq(sched_intake_pull_request(store, "d-2", &ref, NOW, &in, &err),
                     CORE_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "redis"));
    ck_assert_int_eq(sched_store_ping(store, &err), CORE_EUNAVAILABLE);
    ck_assert_int_eq(sched_job_json(store, "1", &b, &err), CORE_EUNAVAILABLE);
    ck_assert_int_eq(sched_job_list_json(store, NULL, NULL, 10, &b, &err), CORE_EUNAVAILABLE);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_ge(sched_store_error_count(store), before + 4);

    /* Same store object: it reconnects, and reloads scripts the new server never saw. */
    ts_redis_resume(redis);
    ck_assert_msg(sched_store_ping(store, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(sched_intake_pull_request(store, "d-2", &ref, NOW, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    ck_assert_str_eq(in.superseded_id, "1");
    job = job_get("1");
    ck_assert_str_eq(jstr(job, "state"), "superseded");
    json_decref(job);
    core_buf_free(&b);
}
END_TEST

START_TEST(function_flush_is_survived)
{
    sched_intake in = intake("d-1", REPO, 12, SHA_A);

    free(cli("FUNCTION FLUSH"));
    in = intake("d-2", REPO, 12, SHA_B);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    free(cli("FUNCTION FLUSH"));
    ck_assert_int_eq(sched_job_transition(store, "2", NULL, "queued", "t", "", NOW, NULL), 0);
    ck_assert_uint_eq(sched_store_error_count(store), 0);
}
END_TEST

/* ---- races -------------------------------------------------------------------------------- */

#define RACERS 8

typedef struct racer {
    pthread_barrier_t *start;
    char delivery[32];
    sched_intake out;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    sched_pr_ref ref = pr_ref(REPO, 12, SHA_A);

    pthread_barrier_wait(r->start);
    r->rc = sched_intake_pull_request(store, r->delivery, &ref, NOW, &r->out, NULL);
    return NULL;
}

static void run_race(racer *rs, bool same_delivery)
{
    pthread_barrier_t start;
    pthread_t th[RACERS];

    pthread_barrier_init(&start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        rs[i].start = &start;
        if (same_delivery)
            snprintf(rs[i].delivery, sizeof(rs[i].delivery), "same");
        else
            snprintf(rs[i].delivery, sizeof(rs[i].delivery), "d-%d", i);
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
}

START_TEST(racing_same_delivery_creates_one_job)
{
    racer rs[RACERS] = {0};
    int created = 0;

    run_race(rs, true);
    for (int i = 0; i < RACERS; i++) {
        ck_assert_int_eq(rs[i].rc, 0);
        ck_assert_str_eq(rs[i].out.job_id, "1");
        if (rs[i].out.outcome == SCHED_INTAKE_CREATED)
            created++;
        else
            ck_assert_int_eq(rs[i].out.outcome, SCHED_INTAKE_DUPLICATE);
    }
    ck_assert_int_eq(created, 1);
    CLI_EQ("1", "GET '{zt}:seq'");
}
END_TEST

START_TEST(racing_same_commit_creates_one_job)
{
    racer rs[RACERS] = {0};
    int created = 0;

    run_race(rs, false);
    for (int i = 0; i < RACERS; i++) {
        ck_assert_int_eq(rs[i].rc, 0);
        ck_assert_str_eq(rs[i].out.job_id, "1");
        if (rs[i].out.outcome == SCHED_INTAKE_CREATED)
            created++;
        else
            ck_assert_int_eq(rs[i].out.outcome, SCHED_INTAKE_LIVE);
    }
    ck_assert_int_eq(created, 1);
    CLI_EQ("1", "ZCARD '{zt}:jobs'");
    for (int i = 0; i < RACERS; i++)
        CLI_EQ("1", "GET '{zt}:delivery:d-%d'", i);
}
END_TEST

Suite *suite_scheduler_store(void)
{
    Suite *s = suite_create("scheduler_store");
    TCase *tc = tcase_create("store");
    TCase *aof = tcase_create("restart");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, intake_creates_a_job);
    tcase_add_test(tc, caller_reason_is_kept);
    tcase_add_test(tc, duplicate_delivery_creates_nothing);
    tcase_add_test(tc, live_triple_is_not_built_twice);
    tcase_add_test(tc, new_head_supersedes_the_older_job);
    tcase_add_test(tc, close_cancels_only_non_final_jobs);
    tcase_add_test(tc, dedup_key_expires);
    tcase_add_test(tc, intake_rejects_bad_input);
    tcase_add_test(tc, transition_rules);
    tcase_add_test(tc, lua_and_c_agree_on_final_states);
    tcase_add_test(tc, lua_library_agrees_with_c);
    tcase_add_test(tc, job_json_escapes_any_bytes);
    tcase_add_test(tc, unknown_job_is_not_found);
    tcase_add_test(tc, pr_job_is_the_newest);
    tcase_add_test(tc, list_pages_newest_first);
    tcase_add_test(tc, list_rejects_bad_arguments);
    tcase_add_test(tc, options_are_validated);
    tcase_add_test(tc, auth_and_database_over_tcp);
    tcase_add_test(tc, sentinel_options_are_validated);
    tcase_add_test(tc, acknowledged_writes_wait_for_a_replica);
    tcase_add_test(tc, sentinel_failover_is_followed);
    tcase_add_test(tc, command_timeout);
    tcase_add_test(tc, function_flush_is_survived);
    tcase_add_test(tc, racing_same_delivery_creates_one_job);
    tcase_add_test(tc, racing_same_commit_creates_one_job);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(aof, setup_aof, teardown);
    tcase_set_timeout(aof, 30);
    tcase_add_test(aof, redis_restart_is_survived);
    suite_add_tcase(s, aof);
    return s;
}
