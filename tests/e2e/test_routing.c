/* End to end routing: a job posted while every region sleeps is deferred with its reason,
 * and deferrals that come due are promoted exactly once and routed by two real `zoneci
 * serve` processes racing on one Redis. Real time is never waited on: the deferrals are
 * made at an injected instant three days ago, so they are already due. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_inspector.h"
#include "tests/support/support.h"

#define SECRET "routing-secret"
#define JOBS 60

typedef struct env {
    char *dir;
    ts_redis *redis;
    char *config;
    int port[2];
    ts_proc *srv[2];
} env;

static void date_of(int64_t ms, char out[16])
{
    char iso[CORE_ISO_MAX];

    core_time_format_iso(ms, iso);
    snprintf(out, 16, "%.10s", iso);
}

/* One always-open UTC region, closed on the given holidays. */
static char *write_config(env *e, int port, const char *const *holidays, size_t n)
{
    core_buf b = {0};
    char name[32];
    char *path;

    core_buf_printf(&b,
                    "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 2},\n"
                    " \"redis\": {\"url\": \"%s\", \"prefix\": \"e2r\"},\n"
                    " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n"
                    " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                    "   \"hours\": [\"Mon-Sun 00:00-24:00\"], \"holidays\": [",
                    port, e->redis->url);
    for (size_t i = 0; i < n; i++)
        core_buf_printf(&b, "%s\"%s\"", i ? ", " : "", holidays[i]);
    core_buf_puts(&b, "]}],\n \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": "
                      "[\"always\"]}]}\n");
    snprintf(name, sizeof(name), "zoneci-%d.json", port);
    path = ts_write_file(e->dir, name, b.data);
    core_buf_free(&b);
    return path;
}

static ts_proc *serve(env *e, const char *config, int port)
{
    char base[64];
    char *argv[] = {"serve", "--config", (char *)config, NULL};
    char *envp[] = {"ZT_GH_SECRET=" SECRET, NULL};

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    return ts_zoneci_spawn(argv, envp, e->dir, base);
}

static char *base_of(int port, char out[32])
{
    snprintf(out, 32, "http://127.0.0.1:%d", port);
    return out;
}

static json_t *get_job(int port, const char *id)
{
    char base[32];

    return ts_job_get(base_of(port, base), id, NULL);
}

START_TEST(job_posted_while_all_regions_sleep_is_deferred)
{
    env e = {0};
    int64_t now = core_time_now_ms();
    char d0[16], d1[16], d2[16];
    const char *hol[3] = {d0, d1, d2};
    char *body = NULL, sig[80], h_sig[120], url[96];
    const char *headers[5];
    ts_response r;
    json_t *resp, *j;
    char base[32];
    char id[32];

    e.dir = ts_tmpdir();
    e.redis = ts_redis_start(false);
    e.port[0] = ts_free_port();
    /* Closed yesterday, today and tomorrow: the next opening is the day after. */
    date_of(now - 86400000, d0);
    date_of(now, d1);
    date_of(now + 86400000, d2);
    e.config = write_config(&e, e.port[0], hol, 3);
    e.srv[0] = serve(&e, e.config, e.port[0]);

    ck_assert(asprintf(&body,
                       "{\"action\":\"opened\",\"number\":5,\"pull_request\":{\"number\":5,"
                       "\"title\":\"t\",\"user\":{\"login\":\"octocat\"},"
                       "\"head\":{\"sha\":\"%040d\",\"ref\":\"f\"},\"base\":{\"sha\":\"%040d\","
                       "\"ref\":\"main\"}},\"repository\":{\"full_name\":\"acme/api\"}}",
                       1, 2) > 0);
    ts_github_signature(SECRET, body, strlen(body), sig);
    snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", sig);
    headers[0] = "X-GitHub-Event: pull_request";
    headers[1] = "X-GitHub-Delivery: sleepy-1";
    headers[2] = "Content-Type: application/json";
    headers[3] = h_sig;
    headers[4] = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/github", e.port[0]);
    ck_assert_int_eq(ts_http("POST", url, headers, body, strlen(body), &r), 0);
    ck_assert_int_eq(r.status, 202);
    resp = json_loads(r.body, 0, NULL);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(resp, "job_id")));
    json_decref(resp);
    ts_response_free(&r);
    free(body);

    ck_assert(ts_job_wait_state(base_of(e.port[0], base), id, NULL, "deferred", 10000));
    j = get_job(e.port[0], id);
    ck_assert_msg(strstr(json_string_value(json_object_get(j, "reason")),
                         "deferred: no region open; always opens 00:00") != NULL,
                  "reason: %s", json_string_value(json_object_get(j, "reason")));
    json_decref(j);

    ts_proc_free(e.srv[0]);
    ts_redis_free(e.redis);
    ts_rmtree(e.dir);
    free(e.dir);
    free(e.config);
}
END_TEST

START_TEST(two_serve_processes_promote_each_deferral_once)
{
    env e = {0};
    int64_t now = core_time_now_ms();
    int64_t t0 = now - 3 * 86400000LL;
    char day[16], ids[JOBS][32];
    const char *hol[1] = {day};
    policy_config *cfg;
    policy_problems problems = {0};
    sched_plan *plan;
    sched_store *store;
    sched_store_options so = {0};
    sched_router_stats st;
    core_error err;
    char *text;
    size_t len;

    e.dir = ts_tmpdir();
    e.redis = ts_redis_start(false);
    e.port[0] = ts_free_port();
    e.port[1] = ts_free_port();
    /* Three days ago was a holiday: jobs routed then wait for the next midnight, which
     * has long passed, so the serve processes find them due at once. */
    date_of(t0, day);
    e.config = write_config(&e, e.port[0], hol, 1);
    text = ts_read_file(e.config, &len);
    ck_assert_int_eq(policy_config_parse(text, len, "t", &cfg, &problems, &err), 0);
    free(text);
    ck_assert_int_eq(sched_plan_new(&plan, cfg, &err), 0);
    so.url = e.redis->url;
    so.prefix = "e2r";
    so.pool_size = 1;
    ck_assert_int_eq(sched_store_new(&store, &so, &err), 0);
    for (int i = 0; i < JOBS; i++) {
        char sha[41], delivery[32];
        sched_pr_ref ref = {.repo = "acme/api", .pr = 1000 + i, .title = "t", .author = "a"};
        sched_intake in;

        snprintf(sha, sizeof(sha), "%040x", i + 7);
        snprintf(delivery, sizeof(delivery), "race-%d", i);
        ref.head_sha = ref.base_sha = sha;
        ck_assert_int_eq(sched_intake_pull_request(store, delivery, &ref, t0, &in, &err), 0);
        memcpy(ids[i], in.job_id, 32);
    }
    /* The inspections defer every job in the step that ends them (the decision does not
     * depend on loads): the router finds nothing left to route. */
    for (int routed = 0;;) {
        sched_inspect_result res;

        ck_assert_int_eq(
            sched_inspect_one(store, (const sched_plan *const *)&plan, NULL, NULL, t0, &res, &err),
            0);
        if (!res.job_id[0]) {
            ck_assert_int_eq(routed, JOBS);
            break;
        }
        routed += res.routed;
    }
    ck_assert_int_eq(sched_router_pass(store, plan, t0, &st, &err), 0);
    ck_assert_uint_eq(st.routed, 0);

    /* Two processes, each with its own router, both start on the due deferrals. */
    {
        char *second = write_config(&e, e.port[1], hol, 1);

        e.srv[0] = serve(&e, e.config, e.port[0]);
        e.srv[1] = serve(&e, second, e.port[1]);
        free(second);
    }
    for (int i = 0; i < JOBS; i++) {
        char base[32];
        json_t *j;
        json_t *h, *entry;
        size_t k;
        int released = 0;

        ck_assert_msg(
            ts_job_wait_state(base_of(e.port[i % 2], base), ids[i], NULL, "queued", 15000),
            "job %s never queued", ids[i]);
        j = get_job(e.port[(i + 1) % 2], ids[i]);
        h = json_object_get(j, "history");
        json_array_foreach(h, k, entry)
        {
            released += strstr(json_string_value(json_object_get(entry, "reason")),
                               "released for routing") != NULL;
        }
        ck_assert_int_eq(released, 1);
        ck_assert_str_eq(json_string_value(json_object_get(j, "region")), "always");
        json_decref(j);
    }
    {
        char *q = ts_redis_cli(e.redis, "ZCARD '{e2r}:queue:always'");

        ck_assert_int_eq(atoi(q), JOBS);
        free(q);
    }
    sched_store_free(store);
    sched_plan_free(plan);
    policy_config_free(cfg);
    ts_proc_free(e.srv[0]);
    ts_proc_free(e.srv[1]);
    ts_redis_free(e.redis);
    ts_rmtree(e.dir);
    free(e.dir);
    free(e.config);
}
END_TEST

Suite *suite_e2e_routing(void)
{
    Suite *s = suite_create("e2e_routing");
    TCase *tc = tcase_create("routing");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, job_posted_while_all_regions_sleep_is_deferred);
    tcase_add_test(tc, two_serve_processes_promote_each_deferral_once);
    suite_add_tcase(s, tc);
    return s;
}
