/* scheduler/router.c against a real redis-server, with injected instants: deferral and
 * release, routing the moment a window opens, follow the sun, and promotion raced by
 * several processes (each job released exactly once). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_inspector.h"
#include "tests/support/support.h"

/* Tokyo 09-18 JST = 00-09Z; Berlin 09-18 CET = 08-17Z (winter). */
static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"regions\": [\n"
    "  {\"name\": \"apac-tokyo\", \"timezone\": \"Asia/Tokyo\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"]},\n"
    "  {\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"]}],\n"
    " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"apac-tokyo\", \"emea-berlin\"]}]}\n";

static ts_sched fx;

static void setup(void)
{
    ts_sched_start(&fx, "rt", config_text);
}

static void teardown(void)
{
    ts_sched_stop(&fx);
}

static void new_job(int pr, const char *sha, char id[32])
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

    snprintf(delivery, sizeof(delivery), "d-%d-%.8s", pr, sha);
    ck_assert_int_eq(sched_intake_pull_request(fx.store, delivery, &ref, 0, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    memcpy(id, in.job_id, 32);
}

static json_t *job(const char *id)
{
    core_buf b = {0};
    json_t *j;

    ck_assert_int_eq(sched_job_json(fx.store, id, &b, NULL), 0);
    j = json_loads(b.data, 0, NULL);
    core_buf_free(&b);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *field(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));

    return s ? s : "(null)";
}

/* New jobs go through inspection (this policy has no migrations: straight on). */
static void inspect_all(const char *at)
{
    sched_inspect_result res;
    core_error err;

    do {
        ck_assert_msg(sched_inspect_one(fx.store, (const sched_plan *const *)&fx.plan, NULL, NULL,
                                        ts_iso(at), &res, &err) == 0,
                      "%s", err.msg);
    } while (res.job_id[0]);
}

static sched_router_stats pass_at(const char *at)
{
    sched_router_stats st;
    core_error err;

    inspect_all(at);
    ck_assert_msg(sched_router_pass(fx.store, fx.plan, ts_iso(at), &st, &err) == 0, "%s", err.msg);
    return st;
}

/* Asserts what redis-cli answers to cmd. */
static void redis_says(const char *cmd, const char *want)
{
    char *v = ts_redis_cli(fx.redis, cmd);

    ck_assert_msg(strcmp(v, want) == 0, "%s: %s, want %s", cmd, v, want);
    free(v);
}

static int count_history(json_t *j, const char *reason_part)
{
    json_t *h = json_object_get(j, "history"), *e;
    size_t i;
    int n = 0;

    json_array_foreach(h, i, e)
    {
        n += strstr(field(e, "reason"), reason_part) != NULL;
    }
    return n;
}

START_TEST(deferred_then_routed_when_a_window_opens)
{
    char id[32];
    json_t *j;
    sched_router_stats st;

    new_job(1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", id);
    /* Saturday: every region sleeps until Monday 09:00 JST = Sunday 24:00Z. */
    /* No region is open: the decision does not weigh regions' loads, so the step that
     * ends the inspection defers the job itself and the router has nothing to route. */
    st = pass_at("2026-01-17T12:00:00Z");
    ck_assert_uint_eq(st.routed, 0);
    j = job(id);
    ck_assert_str_eq(field(j, "state"), "deferred");
    ck_assert_str_eq(field(j, "reason"),
                     "deferred: no region open; apac-tokyo opens 09:00 UTC+9, in 1d 12h");
    ck_assert(json_is_null(json_object_get(j, "region")));
    json_decref(j);

    /* A second before the opening nothing moves. */
    st = pass_at("2026-01-18T23:59:59Z");
    ck_assert_uint_eq(st.released, 0);
    ck_assert_uint_eq(st.routed, 0);
    /* At the opening the job is released and queued in Tokyo. */
    st = pass_at("2026-01-19T00:00:00Z");
    ck_assert_uint_eq(st.released, 1);
    ck_assert_uint_eq(st.routed, 1);
    j = job(id);
    ck_assert_str_eq(field(j, "state"), "queued");
    ck_assert_str_eq(field(j, "region"), "apac-tokyo");
    ck_assert_int_eq(count_history(j, "released for routing"), 1);
    ck_assert_ptr_nonnull(strstr(field(j, "reason"), "queued in apac-tokyo: open (09:00"));
    json_decref(j);
    /* Nothing waits anywhere else. */
    {
        char *zs = ts_redis_cli(fx.redis, "ZCARD '{rt}:deferred'");
        char *rs = ts_redis_cli(fx.redis, "SCARD '{rt}:routing'");
        char *qs = ts_redis_cli(fx.redis, "ZSCORE '{rt}:queue:apac-tokyo' 1");

        ck_assert_str_eq(zs, "0");
        ck_assert_str_eq(rs, "0");
        ck_assert_str_eq(qs, "1");
        free(zs);
        free(rs);
        free(qs);
    }
}
END_TEST

START_TEST(queued_job_follows_the_sun)
{
    char id[32];
    json_t *j;
    sched_router_stats st;

    new_job(2, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", id);
    /* Monday 05:00Z: only Tokyo is open (14:00 JST). */
    pass_at("2026-01-19T05:00:00Z");
    j = job(id);
    ck_assert_str_eq(field(j, "region"), "apac-tokyo");
    json_decref(j);
    /* 08:30Z: Tokyo still open, so the job stays. */
    st = pass_at("2026-01-19T08:30:00Z");
    ck_assert_uint_eq(st.rerouted, 0);
    /* 09:30Z: Tokyo closed (18:30 JST), Berlin open (10:30 CET): the job moves. */
    st = pass_at("2026-01-19T09:30:00Z");
    ck_assert_uint_eq(st.rerouted, 1);
    j = job(id);
    ck_assert_str_eq(field(j, "state"), "queued");
    ck_assert_str_eq(field(j, "region"), "emea-berlin");
    ck_assert_ptr_nonnull(
        strstr(field(j, "reason"), "re-routed, apac-tokyo closed: queued in emea-berlin"));
    json_decref(j);
    {
        char *old = ts_redis_cli(fx.redis, "ZSCORE '{rt}:queue:apac-tokyo' 1");
        char *now = ts_redis_cli(fx.redis, "ZSCORE '{rt}:queue:emea-berlin' 1");

        ck_assert_str_eq(old, "");
        ck_assert_str_eq(now, "1");
        free(old);
        free(now);
    }
    /* 17:30Z: Berlin closed too; nothing is open, so it is deferred to Tokyo's morning. */
    pass_at("2026-01-19T17:30:00Z");
    j = job(id);
    ck_assert_str_eq(field(j, "state"), "deferred");
    ck_assert_ptr_nonnull(strstr(field(j, "reason"), "re-routed, emea-berlin closed: deferred"));
    json_decref(j);
}
END_TEST

/* One open region: the inspection's last step queues the job itself (one script, no
 * router pass). Two open regions: the choice weighs their idle runners and queues, so the
 * job goes through the routing set to a router. */
START_TEST(inspection_routes_when_the_choice_needs_no_loads)
{
    char a[32], b[32];
    json_t *j;
    sched_inspect_result res;
    sched_router_stats st;
    core_error err;

    new_job(3, "cccccccccccccccccccccccccccccccccccccccc", a);
    ck_assert_int_eq(sched_inspect_one(fx.store, (const sched_plan *const *)&fx.plan, NULL, NULL,
                                       ts_iso("2026-01-19T05:00:00Z"), &res, &err),
                     0);
    ck_assert_str_eq(res.job_id, a);
    ck_assert(res.routed);
    j = job(a);
    ck_assert_str_eq(field(j, "state"), "queued");
    ck_assert_str_eq(field(j, "region"), "apac-tokyo");
    ck_assert_ptr_nonnull(strstr(field(j, "reason"), "queued in apac-tokyo: open (14:00"));
    ck_assert_int_eq(count_history(j, "no migration policy for this repository"), 1);
    ck_assert_int_eq(count_history(j, "queued in apac-tokyo"), 1);
    json_decref(j);
    redis_says("ZSCORE '{rt}:queue:apac-tokyo' 1", "1");
    redis_says("SCARD '{rt}:routing'", "0");

    new_job(4, "dddddddddddddddddddddddddddddddddddddddd", b);
    ck_assert_int_eq(sched_inspect_one(fx.store, (const sched_plan *const *)&fx.plan, NULL, NULL,
                                       ts_iso("2026-01-19T08:30:00Z"), &res, &err),
                     0);
    ck_assert_str_eq(res.job_id, b);
    ck_assert(!res.routed);
    j = job(b);
    ck_assert_str_eq(field(j, "state"), "inspecting");
    json_decref(j);
    ck_assert_int_eq(
        sched_router_pass(fx.store, fx.plan, ts_iso("2026-01-19T08:30:00Z"), &st, &err), 0);
    ck_assert_uint_eq(st.routed, 1);
    j = job(b);
    ck_assert_str_eq(field(j, "state"), "queued");
    ck_assert_ptr_nonnull(strstr(field(j, "reason"), "2 of the policy's regions open"));
    json_decref(j);
}
END_TEST

/* A repository with nothing to inspect: intake routes the job in its own script, through
 * every state, and puts one commit status (the newest) rather than three. */
START_TEST(intake_routes_a_job_with_nothing_to_inspect)
{
    char route[SCHED_ROUTE_SPEC_MAX], *v;
    const char *sha = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    int64_t at = ts_iso("2026-01-19T05:00:00Z");
    sched_pr_ref ref = {.repo = "acme/api",
                        .pr = 5,
                        .head_sha = sha,
                        .base_sha = sha,
                        .title = "t",
                        .author = "octocat",
                        .installation_id = 42};
    sched_intake in;
    core_error err;
    json_t *j, *h;

    v = ts_redis_cli(fx.redis, "SET '{rt}:config:statuses' 1");
    free(v);
    ck_assert(!sched_plan_inspects(fx.plan, "acme/api"));
    sched_route_spec(fx.plan, "acme/api", at, route, sizeof(route));
    ck_assert_msg(strncmp(route, "queue\tapac-tokyo\t", 17) == 0, "%s", route);
    ref.route = route;
    ck_assert_int_eq(sched_intake_pull_request(fx.store, "d-fast", &ref, at, &in, &err), 0);
    ck_assert_int_eq(in.outcome, SCHED_INTAKE_CREATED);
    ck_assert_str_eq(in.state, "queued");
    j = job(in.job_id);
    ck_assert_str_eq(field(j, "state"), "queued");
    ck_assert_str_eq(field(j, "region"), "apac-tokyo");
    h = json_object_get(j, "history");
    ck_assert_uint_eq(json_array_size(h), 3);
    ck_assert_str_eq(field(json_array_get(h, 0), "state"), "received");
    ck_assert_str_eq(field(json_array_get(h, 1), "state"), "inspecting");
    ck_assert_str_eq(field(json_array_get(h, 2), "state"), "queued");
    json_decref(j);
    redis_says("ZCARD '{rt}:outbox:due'", "1");
    v = ts_redis_cli(fx.redis, "HGET '{rt}:outbox:1' payload");
    ck_assert_msg(strstr(v, "Queued in apac-tokyo"), "%s", v);
    free(v);
    /* Each state passed has its audit entry too, and the one status its own. */
    redis_says("XLEN '{rt}:audit'", "4");
    redis_says("ZCARD '{rt}:state:inspecting'", "0");
    /* Nothing waits for an inspector or a router. */
    redis_says("ZCARD '{rt}:state:received'", "0");
    /* A malformed decision is refused before anything is written. */
    ref.route = "sideways\tx\t0\t\twhy";
    ck_assert_int_ne(sched_intake_pull_request(fx.store, "d-bad", &ref, at, &in, &err), 0);
    redis_says("EXISTS '{rt}:delivery:d-bad'", "0");
}
END_TEST

START_TEST(superseded_jobs_leave_their_queue)
{
    char a[32], b[32];
    char *q;

    new_job(3, "cccccccccccccccccccccccccccccccccccccccc", a);
    pass_at("2026-01-19T05:00:00Z");
    new_job(3, "dddddddddddddddddddddddddddddddddddddddd", b);
    q = ts_redis_cli(fx.redis, "ZRANGE '{rt}:queue:apac-tokyo' 0 -1");
    ck_assert_str_eq(q, "");
    free(q);
    pass_at("2026-01-19T05:00:01Z");
    q = ts_redis_cli(fx.redis, "ZRANGE '{rt}:queue:apac-tokyo' 0 -1");
    ck_assert_str_eq(q, b);
    free(q);
}
END_TEST

#define RACE_JOBS 120
#define RACERS 4

START_TEST(promotion_is_exactly_once_across_processes)
{
    char ids[RACE_JOBS][32];
    pid_t kids[RACERS];
    int total = 0;

    for (int i = 0; i < RACE_JOBS; i++) {
        char sha[41];

        snprintf(sha, sizeof(sha), "%040x", i + 1);
        new_job(100 + i, sha, ids[i]);
    }
    pass_at("2026-01-17T12:00:00Z"); /* all deferred to Monday */
    for (int k = 0; k < RACERS; k++) {
        kids[k] = fork();
        ck_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            /* A process of its own: its own store and connections, racing the others. */
            sched_store *s;
            sched_store_options so = {.url = fx.redis->url, .prefix = "rt", .pool_size = 1};
            sched_router_stats st;
            size_t released = 0;

            if (sched_store_new(&s, &so, NULL) < 0)
                _exit(255);
            for (int round = 0; round < 3; round++) {
                sched_inspect_result res;
                const sched_plan *p = fx.plan;

                sched_inspect_one(s, &p, NULL, NULL, ts_iso("2026-01-19T00:00:00Z"), &res, NULL);
                if (sched_router_pass(s, fx.plan, ts_iso("2026-01-19T00:00:00Z"), &st, NULL) < 0)
                    _exit(254);
                released += st.released;
            }
            _exit((int)released);
        }
    }
    for (int k = 0; k < RACERS; k++) {
        int status;

        waitpid(kids[k], &status, 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) <= RACE_JOBS);
        total += WEXITSTATUS(status);
    }
    ck_assert_int_eq(total, RACE_JOBS);
    for (int i = 0; i < RACE_JOBS; i++) {
        json_t *j = job(ids[i]);

        ck_assert_int_eq(count_history(j, "released for routing"), 1);
        ck_assert_str_eq(field(j, "state"), "queued");
        json_decref(j);
    }
    {
        char *q = ts_redis_cli(fx.redis, "ZCARD '{rt}:queue:apac-tokyo'");

        ck_assert_str_eq(q, "120");
        free(q);
    }
}
END_TEST

/* A queue Redis cannot count is an error, never an empty queue: routing on a false 0 would
 * send jobs to a region whose backlog it did not see. */
START_TEST(region_loads_report_a_store_error)
{
    sched_region_load loads[2];
    core_error err = {0};
    char *out;

    out = ts_redis_cli(fx.redis, "SET {rt}:queue:emea-berlin not-a-queue");
    free(out);
    ck_assert_int_lt(
        sched_region_loads(fx.store, fx.cfg, ts_iso("2026-03-09T10:00:00Z"), NULL, loads, &err), 0);
    ck_assert_msg(strstr(err.msg, "WRONGTYPE") != NULL, "msg: %s", err.msg);
    /* And with Redis gone, the code says so. */
    ts_redis_stop(fx.redis);
    ck_assert_int_eq(
        sched_region_loads(fx.store, fx.cfg, ts_iso("2026-03-09T10:00:00Z"), NULL, loads, &err),
        CORE_EUNAVAILABLE);
}
END_TEST

Suite *suite_scheduler_router(void)
{
    Suite *s = suite_create("scheduler_router");
    TCase *tc = tcase_create("router");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, deferred_then_routed_when_a_window_opens);
    tcase_add_test(tc, region_loads_report_a_store_error);
    tcase_add_test(tc, queued_job_follows_the_sun);
    tcase_add_test(tc, inspection_routes_when_the_choice_needs_no_loads);
    tcase_add_test(tc, intake_routes_a_job_with_nothing_to_inspect);
    tcase_add_test(tc, superseded_jobs_leave_their_queue);
    tcase_add_test(tc, promotion_is_exactly_once_across_processes);
    suite_add_tcase(s, tc);
    return s;
}
