/* End to end: the runner API against real redis-server and `zoneci serve` processes —
 * tokens and regions, claim / heartbeat / complete, stale leases, build locks with
 * fencing tokens, supersede and cancel reaching the runner, lease expiry and dead
 * letters, the long poll's wake-up latency, and a chaos run: two serve processes, eight
 * runner processes, runners and a serve process killed with SIGKILL, Redis restarted. */
#define _GNU_SOURCE
#include <check.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "tests/support/support.h"

#define SECRET "runner-e2e-secret"
#define TOKEN "tok-all"
#define TOKEN_BERLIN "tok-berlin"

typedef struct env {
    char *dir;
    ts_redis *redis;
    int port[2];
    char base[2][64];
    char *config[2];
    ts_proc *srv[2];
    char token_env[256];
} env;

static char *config_for(env *e, int port, int lease_seconds, int max_attempts, const char *labels)
{
    char *text = NULL, name[32], *path;

    if (asprintf(&text,
                 "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 4},\n"
                 " \"redis\": {\"url\": \"%s\", \"prefix\": \"run\"},\n"
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n"
                 " \"runners\": {\"tokens_env\": \"ZT_RUNNER_TOKENS\", \"lease_seconds\": %d,\n"
                 "             \"max_attempts\": %d},\n"
                 " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                 "                \"hours\": [\"Mon-Sun 00:00-24:00\"]},\n"
                 "               {\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\",\n"
                 "                \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
                 " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"],\n"
                 "                \"labels\": %s}]}\n",
                 port, e->redis->url, lease_seconds, max_attempts, labels) < 0)
        ck_abort_msg("asprintf");
    snprintf(name, sizeof(name), "zoneci-%d.json", port);
    path = ts_write_file(e->dir, name, text);
    free(text);
    return path;
}

static void start_serve(env *e, int i)
{
    char *argv[] = {"serve", "--config", e->config[i], NULL};
    char *envp[] = {"ZT_GH_SECRET=" SECRET, e->token_env, NULL};

    e->srv[i] = ts_zoneci_spawn(argv, envp, e->dir, e->base[i]);
}

/* labels: the JSON array of runner labels every job requires. */
static void env_start_labels(env *e, int servers, int lease_seconds, int max_attempts, bool aof,
                             const char *labels)
{
    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(aof);
    snprintf(e->token_env, sizeof(e->token_env),
             "ZT_RUNNER_TOKENS=" TOKEN "," TOKEN_BERLIN "=emea-berlin");
    for (int i = 0; i < servers; i++) {
        e->port[i] = ts_free_port();
        snprintf(e->base[i], sizeof(e->base[i]), "http://127.0.0.1:%d", e->port[i]);
        e->config[i] = config_for(e, e->port[i], lease_seconds, max_attempts, labels);
        start_serve(e, i);
    }
}

static void env_start(env *e, int servers, int lease_seconds, int max_attempts, bool aof)
{
    env_start_labels(e, servers, lease_seconds, max_attempts, aof, "[]");
}

static void env_stop(env *e)
{
    for (int i = 0; i < 2; i++) {
        ts_proc_free(e->srv[i]);
        free(e->config[i]);
    }
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
}

/* POSTs JSON with a bearer token; returns the status and the parsed answer (NULL for an
 * empty body). */
static long post(const char *base, const char *path, const char *token, const char *body,
                 json_t **out)
{
    char url[256], auth[128];
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    ts_response r;
    long status;

    snprintf(url, sizeof(url), "%s%s", base, path);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[1] = auth;
    }
    if (ts_http("POST", url, headers, body, strlen(body), &r) != 0)
        return 0;
    status = r.status;
    if (out)
        *out = r.len ? json_loads(r.body, 0, NULL) : NULL;
    ts_response_free(&r);
    return status;
}

static long claim(const char *base, const char *token, const char *runner, const char *region,
                  int wait, json_t **out)
{
    char body[256];

    snprintf(body, sizeof(body),
             "{\"runner\":\"%s\",\"region\":\"%s\",\"labels\":[\"linux\"],\"wait_seconds\":%d}",
             runner, region, wait);
    return post(base, "/api/v1/runners/claim", token, body, out);
}

static long lease_call(const char *base, const char *id, const char *what, const char *lease,
                       const char *status, json_t **out)
{
    char path[128], body[256];

    snprintf(path, sizeof(path), "/api/v1/jobs/%s/%s", id, what);
    if (status)
        snprintf(body, sizeof(body), "{\"lease_id\":\"%s\",\"status\":\"%s\"}", lease, status);
    else
        snprintf(body, sizeof(body), "{\"lease_id\":\"%s\"}", lease);
    return post(base, path, TOKEN, body, out);
}

static const char *s_of(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

static void new_job(env *e, int pr, const char *sha, const char *action, char id[32])
{
    char delivery[64], *body = ts_pr_payload(action, pr, sha, false, "acme/api"), *resp = NULL;
    long status;
    json_t *j;

    snprintf(delivery, sizeof(delivery), "%s-%d-%.8s", action, pr, sha);
    status =
        ts_post_github(e->base[0], "pull_request", delivery, body, strlen(body), SECRET, &resp);
    ck_assert_msg(status == 202 || status == 200, "status %ld: %s", status, resp);
    if (id) {
        j = json_loads(resp, 0, NULL);
        snprintf(id, 32, "%s", s_of(j, "job_id"));
        json_decref(j);
    }
    free(body);
    free(resp);
}

static json_t *get_job(env *e, const char *id)
{
    return ts_job_get(e->base[0], id, NULL);
}

static char *job_state(env *e, const char *id)
{
    json_t *j = get_job(e, id);
    char *s = strdup(s_of(j, "state"));

    json_decref(j);
    return s;
}

static const char SHA1[] = "1111111111111111111111111111111111111111";
static const char SHA2[] = "2222222222222222222222222222222222222222";

/* Every time the HTTP API returns has one form: ISO 8601 UTC with milliseconds,
 * "2026-12-04T16:03:00.000Z". */
static bool api_time_ok(const char *s)
{
    int64_t t;

    return s && strlen(s) == 24 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z' &&
           strspn(s + 20, "0123456789") == 3 && core_time_parse_iso(s, &t, NULL) == 0;
}

START_TEST(tokens_regions_and_bodies)
{
    env e;
    json_t *j = NULL;

    env_start(&e, 1, 30, 3, false);
    ck_assert_int_eq(claim(e.base[0], NULL, "r1", "always", 0, NULL), 401);
    ck_assert_int_eq(claim(e.base[0], "wrong", "r1", "always", 0, NULL), 401);
    ck_assert_int_eq(claim(e.base[0], TOKEN_BERLIN, "r1", "always", 0, &j), 403);
    ck_assert_ptr_nonnull(strstr(s_of(j, "detail"), "always"));
    json_decref(j);
    ck_assert_int_eq(claim(e.base[0], TOKEN_BERLIN, "r1", "emea-berlin", 0, NULL), 204);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r1", "mars", 0, &j), 400);
    ck_assert_ptr_nonnull(strstr(s_of(j, "detail"), "region"));
    json_decref(j);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r1", "always", 31, &j), 400);
    ck_assert_ptr_nonnull(strstr(s_of(j, "detail"), "wait_seconds"));
    json_decref(j);
    ck_assert_int_eq(post(e.base[0], "/api/v1/runners/claim", TOKEN, "{\"region\":\"always\"}", &j),
                     400);
    ck_assert_ptr_nonnull(strstr(s_of(j, "detail"), "runner"));
    json_decref(j);
    ck_assert_int_eq(post(e.base[0], "/api/v1/runners/claim", TOKEN, "not json", NULL), 400);
    /* A repeated key is refused, not read as its last copy: a proxy that read the first
     * "region" must not see a different claim from the one zoneci serves. */
    ck_assert_int_eq(post(e.base[0], "/api/v1/runners/claim", TOKEN_BERLIN,
                          "{\"runner\":\"r1\",\"region\":\"emea-berlin\",\"region\":\"always\"}",
                          &j),
                     400);
    ck_assert_ptr_nonnull(strstr(s_of(j, "detail"), "duplicate"));
    json_decref(j);
    env_stop(&e);
}
END_TEST

START_TEST(claim_heartbeat_complete_and_stale_leases)
{
    env e;
    json_t *c = NULL, *r = NULL, *job;
    char id[32], lease[64];
    long long fence;

    env_start(&e, 1, 30, 3, false);
    new_job(&e, 10, SHA1, "opened", id);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r1", "always", 5, &c), 200);
    job = json_object_get(c, "job");
    ck_assert_str_eq(s_of(job, "id"), id);
    /* The whole document, history included, as GET /api/v1/jobs/ID gives it. */
    {
        json_t *got = get_job(&e, id);

        ck_assert(json_equal(job, got));
        ck_assert_int_ge(json_array_size(json_object_get(job, "history")), 3);
        json_decref(got);
    }
    ck_assert_str_eq(s_of(job, "state"), "leased");
    ck_assert_int_eq(json_integer_value(json_object_get(job, "attempts")), 1);
    snprintf(lease, sizeof(lease), "%s", s_of(c, "lease_id"));
    fence = json_integer_value(json_object_get(c, "fencing_token"));
    ck_assert_int_gt(fence, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "lease_seconds")), 30);
    ck_assert_msg(api_time_ok(s_of(c, "lease_expires")), "%s", s_of(c, "lease_expires"));
    ck_assert_msg(api_time_ok(s_of(job, "created_at")), "%s", s_of(job, "created_at"));
    ck_assert_msg(api_time_ok(s_of(job, "updated_at")), "%s", s_of(job, "updated_at"));
    {
        size_t i;
        json_t *h;

        json_array_foreach(json_object_get(job, "history"), i, h)
            ck_assert_msg(api_time_ok(s_of(h, "at")), "%s", s_of(h, "at"));
    }
    json_decref(c);

    ck_assert_int_eq(lease_call(e.base[0], id, "heartbeat", lease, NULL, &r), 200);
    ck_assert(json_is_false(json_object_get(r, "cancel")));
    ck_assert_msg(api_time_ok(s_of(r, "lease_expires")), "%s", s_of(r, "lease_expires"));
    json_decref(r);
    /* A token of another region is refused (403) with the right lease, and the job stays
     * leased: the lease scripts check the region before they write. */
    {
        char path[128], body[256];
        json_t *before = get_job(&e, id), *after;

        snprintf(body, sizeof(body), "{\"lease_id\":\"%s\",\"status\":\"success\"}", lease);
        snprintf(path, sizeof(path), "/api/v1/jobs/%s/complete", id);
        ck_assert_int_eq(post(e.base[0], path, TOKEN_BERLIN, body, &r), 403);
        ck_assert_str_eq(s_of(r, "error"), "forbidden");
        ck_assert_ptr_nonnull(strstr(s_of(r, "detail"), "always"));
        json_decref(r);
        snprintf(path, sizeof(path), "/api/v1/jobs/%s/heartbeat", id);
        ck_assert_int_eq(post(e.base[0], path, TOKEN_BERLIN, body, NULL), 403);
        ck_assert_int_eq(post(e.base[0], "/api/v1/jobs/987654/heartbeat", TOKEN_BERLIN, body, NULL),
                         404);
        after = get_job(&e, id);
        ck_assert(json_equal(before, after));
        json_decref(before);
        json_decref(after);
    }
    /* A foreign lease changes nothing. */
    ck_assert_int_eq(lease_call(e.base[0], id, "heartbeat", "0123456789abcdef", NULL, NULL), 409);
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", "0123456789abcdef", "success", NULL),
                     409);
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", lease, "maybe", NULL), 400);
    {
        char *st = job_state(&e, id);

        ck_assert_str_eq(st, "leased");
        free(st);
    }
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", lease, "success", &r), 200);
    ck_assert_str_eq(s_of(r, "state"), "succeeded");
    json_decref(r);
    /* A second completion of the same lease is refused (409, already_completed) and
     * changes nothing; the job completed once. */
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", lease, "failure", &r), 409);
    ck_assert_str_eq(s_of(r, "error"), "already_completed");
    ck_assert_msg(strstr(s_of(r, "detail"), "already completed"), "%s", s_of(r, "detail"));
    json_decref(r);
    ck_assert_int_eq(lease_call(e.base[0], id, "heartbeat", lease, NULL, NULL), 409);
    job = get_job(&e, id);
    ck_assert_str_eq(s_of(job, "state"), "succeeded");
    {
        json_t *h = json_object_get(job, "history"), *x;
        size_t i;
        int done = 0;

        json_array_foreach(h, i, x)
        {
            done += strcmp(s_of(x, "state"), "succeeded") == 0;
        }
        ck_assert_int_eq(done, 1);
    }
    json_decref(job);
    /* Nothing left to claim. */
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r1", "always", 0, NULL), 204);
    env_stop(&e);
}
END_TEST

typedef struct state_wait {
    env *e;
    const char *id;
    const char *state;
} state_wait;

static bool in_state(void *ctx)
{
    state_wait *w = ctx;
    char *st = job_state(w->e, w->id);
    bool ok = strcmp(st, w->state) == 0;

    free(st);
    return ok;
}

START_TEST(supersede_and_cancel_reach_the_runner_and_locks_hold)
{
    env e;
    json_t *c = NULL, *r = NULL;
    char a[32], b[32], lease_a[64], lease_b[64];
    long long fence_a, fence_b;

    env_start(&e, 1, 30, 3, false);
    new_job(&e, 20, SHA1, "opened", a);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r1", "always", 5, &c), 200);
    snprintf(lease_a, sizeof(lease_a), "%s", s_of(c, "lease_id"));
    fence_a = json_integer_value(json_object_get(c, "fencing_token"));
    json_decref(c);

    /* A new push: job a is superseded, b waits for the PR's build lock. */
    new_job(&e, 20, SHA2, "synchronize", b);
    {
        state_wait w = {&e, b, "queued"};

        ck_assert(ts_wait_until(in_state, &w, 5000));
    }
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r2", "always", 0, NULL), 204);
    c = get_job(&e, b);
    ck_assert_msg(strstr(s_of(c, "reason"), "waiting: build lock of acme/api#20 held by job") !=
                      NULL,
                  "reason: %s", s_of(c, "reason"));
    json_decref(c);
    /* The runner of a hears it on its next heartbeat; its completion is refused. */
    ck_assert_int_eq(lease_call(e.base[0], a, "heartbeat", lease_a, NULL, &r), 200);
    ck_assert(json_is_true(json_object_get(r, "cancel")));
    json_decref(r);
    ck_assert_int_eq(lease_call(e.base[0], a, "complete", lease_a, "success", NULL), 409);
    /* Now b is claimable, with a larger fencing token. */
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r2", "always", 5, &c), 200);
    ck_assert_str_eq(s_of(json_object_get(c, "job"), "id"), b);
    snprintf(lease_b, sizeof(lease_b), "%s", s_of(c, "lease_id"));
    fence_b = json_integer_value(json_object_get(c, "fencing_token"));
    ck_assert_int_gt(fence_b, fence_a);
    json_decref(c);

    /* Closing the PR cancels b; its runner hears it too. */
    new_job(&e, 20, SHA2, "closed", NULL);
    ck_assert_int_eq(lease_call(e.base[0], b, "heartbeat", lease_b, NULL, &r), 200);
    ck_assert(json_is_true(json_object_get(r, "cancel")));
    json_decref(r);
    {
        char *st = job_state(&e, b);

        ck_assert_str_eq(st, "cancelled");
        free(st);
    }
    env_stop(&e);
}
END_TEST

START_TEST(expired_leases_requeue_then_dead_letter)
{
    env e;
    json_t *c = NULL, *j;
    char id[32], lease1[64];
    state_wait w;

    /* Leases of 5 s (the shortest the config allows), two attempts. */
    env_start(&e, 1, 5, 2, false);
    new_job(&e, 30, SHA1, "opened", id);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "silent-1", "always", 5, &c), 200);
    snprintf(lease1, sizeof(lease1), "%s", s_of(c, "lease_id"));
    json_decref(c);
    /* The runner goes silent: after the lease the job is back in its queue. */
    w = (struct state_wait){&e, id, "queued"};
    ck_assert(ts_wait_until(in_state, &w, 15000));
    j = get_job(&e, id);
    ck_assert_ptr_nonnull(strstr(s_of(j, "reason"), "lease expired: runner silent-1"));
    json_decref(j);
    /* The silent runner's lease is stale now. */
    ck_assert_int_eq(lease_call(e.base[0], id, "heartbeat", lease1, NULL, NULL), 409);
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", lease1, "success", NULL), 409);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "silent-2", "always", 5, &c), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(c, "job"), "attempts")), 2);
    json_decref(c);
    /* The second attempt expires too: no attempts left. */
    w = (struct state_wait){&e, id, "dead"};
    ck_assert(ts_wait_until(in_state, &w, 15000));
    j = get_job(&e, id);
    ck_assert_ptr_nonnull(strstr(s_of(j, "reason"), "no attempts left"));
    json_decref(j);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r3", "always", 0, NULL), 204);
    env_stop(&e);
}
END_TEST

typedef struct waiting_claim {
    env *e;
    long status;
    int64_t answered_ms; /* wall clock, to compare with the job's history */
    char job[32];
} waiting_claim;

static void *claim_in_thread(void *arg)
{
    waiting_claim *wc = arg;
    json_t *c = NULL;

    wc->status = claim(wc->e->base[0], TOKEN, "poller", "always", 10, &c);
    wc->answered_ms = core_time_now_ms();
    if (c)
        snprintf(wc->job, sizeof(wc->job), "%s", s_of(json_object_get(c, "job"), "id"));
    json_decref(c);
    return NULL;
}

static bool has_idle_runner(void *ctx)
{
    env *e = ctx;
    char *n = ts_redis_cli(e->redis, "ZCARD '{run}:idle:always:1'");
    bool ok = atoi(n) > 0;

    free(n);
    return ok;
}

START_TEST(long_poll_answers_within_50ms_of_a_ready_job)
{
    env e;
    waiting_claim wc = {0};
    pthread_t t;
    char id[32];
    json_t *j, *h, *x;
    size_t i;
    int64_t queued_at = 0, started;

    env_start(&e, 2, 30, 3, false);
    wc.e = &e;
    started = core_time_mono_ms();
    pthread_create(&t, NULL, claim_in_thread, &wc);
    /* The claim found nothing and is parked (the runner shows as idle). */
    ck_assert(ts_wait_until(has_idle_runner, &e, 5000));
    /* The job arrives through the other serve process. */
    {
        char *body = ts_pr_payload("opened", 40, SHA1, false, "acme/api"), *resp = NULL;

        ck_assert_int_eq(
            ts_post_github(e.base[1], "pull_request", "poll-1", body, strlen(body), SECRET, &resp),
            202);
        j = json_loads(resp, 0, NULL);
        snprintf(id, sizeof(id), "%s", s_of(j, "job_id"));
        json_decref(j);
        free(body);
        free(resp);
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(wc.status, 200);
    ck_assert_str_eq(wc.job, id);
    ck_assert_int_lt(core_time_mono_ms() - started, 9000);
    j = get_job(&e, id);
    h = json_object_get(j, "history");
    json_array_foreach(h, i, x)
    {
        int64_t at;

        if (strcmp(s_of(x, "state"), "queued") == 0 &&
            core_time_parse_iso(s_of(x, "at"), &at, NULL) == 0)
            queued_at = at;
    }
    json_decref(j);
    ck_assert_int_gt(queued_at, 0);
    ck_assert_msg(wc.answered_ms - queued_at < 50, "answered %lld ms after the job was queued",
                  (long long)(wc.answered_ms - queued_at));
    env_stop(&e);
}
END_TEST

/* ---- chaos --------------------------------------------------------------------------- */

#define CHAOS_JOBS 40
#define CHAOS_RUNNERS 8

/* A runner process: claims from either server, "works" 100-400 ms while heartbeating,
 * completes; reports every event on fd as one line. Runs until killed. */
static void runner_process(env *e, int n, int fd)
{
    char name[32];
    unsigned seed = (unsigned)(getpid() * 2654435761u);

    snprintf(name, sizeof(name), "chaos-%d", n);
    for (int round = 0;; round++) {
        const char *base = e->base[(n + round) % 2];
        json_t *c = NULL;
        long st = claim(base, TOKEN, name, "always", 2, &c);
        char id[32], lease[64], line[256];
        long long fence;
        int64_t until;

        if (st != 200) {
            json_decref(c);
            if (st == 0 || st >= 500)
                poll(NULL, 0, 100); /* that server is down: try the other */
            continue;
        }
        snprintf(id, sizeof(id), "%s", s_of(json_object_get(c, "job"), "id"));
        snprintf(lease, sizeof(lease), "%s", s_of(c, "lease_id"));
        fence = json_integer_value(json_object_get(c, "fencing_token"));
        core_time_parse_iso(s_of(c, "lease_expires"), &until, NULL);
        json_decref(c);
        snprintf(line, sizeof(line), "claim %s %lld %lld %lld\n", id, fence,
                 (long long)core_time_now_ms(), (long long)until);
        if (write(fd, line, strlen(line)) < 0)
            _exit(1);
        for (int beat = 0; beat < 4; beat++) {
            json_t *r = NULL;

            poll(NULL, 0, 25 + (int)(rand_r(&seed) % 75));
            st = lease_call(e->base[(n + beat) % 2], id, "heartbeat", lease, NULL, &r);
            if (st == 200 && json_is_false(json_object_get(r, "cancel"))) {
                core_time_parse_iso(s_of(r, "lease_expires"), &until, NULL);
                snprintf(line, sizeof(line), "extend %s %lld %lld\n", id, fence, (long long)until);
                if (write(fd, line, strlen(line)) < 0)
                    _exit(1);
            }
            json_decref(r);
        }
        for (int attempt = 0; attempt < 20; attempt++) {
            json_t *cr = NULL;

            st = lease_call(e->base[attempt % 2], id, "complete", lease, "success", &cr);
            /* a retry after an answer that got lost: ours went through */
            if (st == 409 && strcmp(s_of(cr, "error"), "already_completed") == 0)
                st = 200;
            json_decref(cr);
            if (st == 200 || st == 409)
                break;
            poll(NULL, 0, 100);
        }
        snprintf(line, sizeof(line), "%s %s %lld\n", st == 200 ? "done" : "lost", id, fence);
        if (write(fd, line, strlen(line)) < 0)
            _exit(1);
    }
}

static bool all_succeeded(void *ctx)
{
    env *e = ctx;
    char *n = ts_redis_cli(e->redis, "ZCARD '{run}:state:succeeded'");
    bool ok = atoi(n) == CHAOS_JOBS;

    free(n);
    return ok;
}

typedef struct grant {
    long long fence;
    long long at;
    long long until; /* last known lease expiry */
} grant;

static int by_time(const void *a, const void *b)
{
    const grant *x = a, *y = b;

    return (x->at > y->at) - (x->at < y->at);
}

START_TEST(chaos_every_job_completes_exactly_once)
{
    env e;
    pid_t kids[CHAOS_RUNNERS];
    int fds[2];
    char ids[CHAOS_JOBS][32];
    char *log;
    size_t len = 0;
    FILE *in;
    char line[256];
    grant grants[CHAOS_JOBS][16];
    int n_grants[CHAOS_JOBS] = {0};

    env_start(&e, 2, 5, 10, true);
    ck_assert_int_eq(pipe(fds), 0);
    for (int k = 0; k < CHAOS_RUNNERS; k++) {
        kids[k] = fork();
        ck_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            close(fds[0]);
            runner_process(&e, k, fds[1]);
            _exit(0);
        }
    }
    close(fds[1]);
    for (int i = 0; i < CHAOS_JOBS; i++) {
        char sha[41];

        snprintf(sha, sizeof(sha), "%040x", 0xc0de00 + i);
        new_job(&e, 500 + i, sha, "opened", ids[i]);
        if (i == 10) {
            /* Two runners die mid-job: their leases must expire and the jobs return. */
            kill(kids[0], SIGKILL);
            kill(kids[1], SIGKILL);
        }
        if (i == 20) {
            /* One serve process dies; runners and deliveries go to the other. */
            ts_proc_signal_wait(e.srv[1], SIGKILL);
        }
        if (i == 30) {
            /* Redis restarts (AOF): nothing written is lost. */
            ts_redis_stop(e.redis);
            ts_redis_resume(e.redis);
            ts_proc_free(e.srv[1]);
            start_serve(&e, 1);
        }
    }
    if (!ts_wait_until(all_succeeded, &e, 90000)) {
        for (int i = 0; i < CHAOS_JOBS; i++) {
            json_t *j = get_job(&e, ids[i]);

            if (strcmp(s_of(j, "state"), "succeeded") != 0)
                fprintf(stderr, "job %s: %s: %s\n", ids[i], s_of(j, "state"), s_of(j, "reason"));
            json_decref(j);
        }
        ck_abort_msg("not every job succeeded");
    }
    for (int k = 2; k < CHAOS_RUNNERS; k++)
        kill(kids[k], SIGKILL);
    for (int k = 0; k < CHAOS_RUNNERS; k++)
        waitpid(kids[k], NULL, 0);

    /* Read what the runners saw. */
    log = NULL;
    in = fdopen(fds[0], "r");
    while (fgets(line, sizeof(line), in)) {
        char kind[16], id[32];
        long long fence, at = 0, until = 0;
        int job = -1;

        if (sscanf(line, "%15s %31s %lld %lld %lld", kind, id, &fence, &at, &until) < 3)
            continue;
        for (int i = 0; i < CHAOS_JOBS; i++) {
            if (strcmp(ids[i], id) == 0)
                job = i;
        }
        ck_assert_int_ge(job, 0);
        if (strcmp(kind, "claim") == 0) {
            /* Lines from different runners reach the pipe in any order, so "tokens only
             * grow" is checked where order is known: every token is unique here, and
             * each job's grants (seconds apart) grow below. */
            for (int i = 0; i < CHAOS_JOBS; i++) {
                for (int g = 0; g < n_grants[i]; g++)
                    ck_assert_int_ne(grants[i][g].fence, fence);
            }
            ck_assert_int_lt(n_grants[job], 16);
            grants[job][n_grants[job]++] = (grant){fence, at, until};
        } else if (strcmp(kind, "extend") == 0) {
            for (int g = 0; g < n_grants[job]; g++) {
                if (grants[job][g].fence == fence)
                    grants[job][g].until = at; /* "extend ID FENCE UNTIL" */
            }
        }
    }
    fclose(in);
    free(log);
    (void)len;
    /* No lease was handed out while another was valid for the same job, and each new
     * grant of a job carries a larger fencing token than the one before. */
    for (int i = 0; i < CHAOS_JOBS; i++) {
        ck_assert_int_ge(n_grants[i], 1);
        qsort(grants[i], (size_t)n_grants[i], sizeof(grant), by_time);
        for (int g = 1; g < n_grants[i]; g++)
            ck_assert_int_gt(grants[i][g].fence, grants[i][g - 1].fence);
        for (int g = 1; g < n_grants[i]; g++)
            ck_assert_msg(grants[i][g].at >= grants[i][g - 1].until,
                          "job %s leased again at %lld while a lease ran to %lld", ids[i],
                          grants[i][g].at, grants[i][g - 1].until);
    }
    /* Every job completed exactly once. */
    for (int i = 0; i < CHAOS_JOBS; i++) {
        json_t *j = get_job(&e, ids[i]), *h = json_object_get(j, "history"), *x;
        size_t k;
        int done = 0;

        ck_assert_str_eq(s_of(j, "state"), "succeeded");
        json_array_foreach(h, k, x)
        {
            done += strcmp(s_of(x, "state"), "succeeded") == 0;
        }
        ck_assert_int_eq(done, 1);
        json_decref(j);
    }
    env_stop(&e);
}
END_TEST

/* The reference runner, `zoneci runner --once`, against the real server: the command sees
 * the job in its environment, and its exit status becomes the job's outcome. */
static int run_reference_runner(env *e, const char *command, char **err_out)
{
    char *argv[] = {"runner", "--server", e->base[0], "--token-env", "ZT_TOKEN",  "--region",
                    "always", "--labels", "linux",    "--name",      "reference", "--wait-seconds",
                    "5",      "--once",   "--",       "/bin/sh",     "-c",        (char *)command,
                    NULL};
    char *envp[] = {"ZT_TOKEN=" TOKEN, NULL};
    char *out = NULL;
    int rc = ts_zoneci_run(argv, envp, &out, err_out);

    free(out);
    return rc;
}

START_TEST(reference_runner_runs_and_reports)
{
    env e;
    char ok_id[32], bad_id[32], cmd[600], *err = NULL, *seen, path[512];
    json_t *j;

    env_start(&e, 1, 30, 3, false);
    new_job(&e, 60, SHA1, "opened", ok_id);
    snprintf(path, sizeof(path), "%s/env.txt", e.dir);
    snprintf(cmd, sizeof(cmd), "env | grep '^ZONECI_' | sort > '%s'", path);
    ck_assert_int_eq(run_reference_runner(&e, cmd, &err), 0);
    free(err);
    seen = ts_read_file(path, NULL);
    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_nonnull(strstr(seen, "ZONECI_JOB_ID="));
    ck_assert_ptr_nonnull(strstr(seen, "ZONECI_REPO=acme/api"));
    ck_assert_ptr_nonnull(strstr(seen, "ZONECI_PR=60"));
    ck_assert_ptr_nonnull(strstr(seen, "ZONECI_HEAD_SHA="
                                       "1111111111111111111111111111111111111111"));
    ck_assert_ptr_nonnull(strstr(seen, "ZONECI_FENCING_TOKEN="));
    /* The runner's token never reaches the build. */
    ck_assert_ptr_null(strstr(seen, TOKEN));
    free(seen);
    j = get_job(&e, ok_id);
    ck_assert_str_eq(s_of(j, "state"), "succeeded");
    json_decref(j);

    new_job(&e, 61, SHA2, "opened", bad_id);
    ck_assert_int_eq(run_reference_runner(&e, "exit 7", &err), 0);
    free(err);
    j = get_job(&e, bad_id);
    ck_assert_str_eq(s_of(j, "state"), "failed");
    json_decref(j);
    /* Nothing left: --once exits 3. */
    ck_assert_int_eq(run_reference_runner(&e, "true", &err), 3);
    free(err);
    env_stop(&e);
}
END_TEST

/* ---- claims whose client has gone -------------------------------------------------------- */

typedef struct idle_wait {
    env *e;
    const char *runner;
} idle_wait;

/* The runner's claim found nothing and is parked (the claim script recorded it idle). */
static bool runner_idle(void *ctx)
{
    idle_wait *w = ctx;
    char cmd[128], *score;
    bool ok;

    snprintf(cmd, sizeof(cmd), "ZSCORE '{run}:idle:always:1' '%s'", w->runner);
    score = ts_redis_cli(w->e->redis, cmd);
    ok = score[0] != '\0';
    free(score);
    return ok;
}

/* Waits up to ms for p to exit; its wait status, or -1 (then it is killed). */
static int exit_within(ts_proc *p, int ms)
{
    int64_t deadline = core_time_mono_ms() + ms;
    int status = 0;

    while (core_time_mono_ms() < deadline) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return status;
        }
        poll(NULL, 0, 10);
    }
    return -1;
}

static json_int_t attempts_of(env *e, const char *id)
{
    json_t *j = get_job(e, id);
    json_int_t n = json_integer_value(json_object_get(j, "attempts"));

    json_decref(j);
    return n;
}

/* Nobody but `who` was ever granted the job (its history names every claim). */
static void only_claimed_by(env *e, const char *id, const char *who)
{
    json_t *j = get_job(e, id), *h = json_object_get(j, "history"), *x;
    char want[96];
    size_t i;

    snprintf(want, sizeof(want), "claimed by runner %s ", who);
    json_array_foreach(h, i, x)
    {
        const char *reason = s_of(x, "reason");

        if (strstr(reason, "claimed by runner "))
            ck_assert_msg(strstr(reason, want) != NULL, "job %s: %s", id, reason);
    }
    json_decref(j);
}

static ts_proc *spawn_runner(env *e, const char *name)
{
    char *argv[] = {"runner", "--server", e->base[0], "--token-env", "ZT_TOKEN",   "--region",
                    "always", "--labels", "linux",    "--name",      (char *)name, "--wait-seconds",
                    "30",     "--",       "true",     NULL};
    char *envp[] = {"ZT_TOKEN=" TOKEN, NULL};
    ts_proc *p = ts_zoneci_spawn(argv, envp, e->dir, NULL);
    idle_wait w = {e, name};

    ck_assert_msg(ts_wait_until(runner_idle, &w, 10000), "runner %s never parked a claim", name);
    return p;
}

/* A claim from someone else right after: it must get the job at once, on its first
 * attempt, far within the 120 s lease a stranded grant would have held it. */
static void claim_next_gets(env *e, const char *id)
{
    json_t *c = NULL;
    int64_t started = core_time_mono_ms();

    ck_assert_int_eq(claim(e->base[0], TOKEN, "next", "always", 10, &c), 200);
    ck_assert_int_lt(core_time_mono_ms() - started, 10000);
    ck_assert_str_eq(s_of(json_object_get(c, "job"), "id"), id);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(c, "job"), "attempts")), 1);
    json_decref(c);
    ck_assert_int_eq(attempts_of(e, id), 1);
}

/* A runner stopped (SIGTERM) while its claim is parked exits 0 without the job; the job
 * that becomes ready afterwards goes to the next claimer, no attempt lost. */
START_TEST(runner_stopped_mid_claim_takes_no_job)
{
    env e;
    ts_proc *p;
    char id[32];
    int status;

    env_start(&e, 1, 120, 3, false);
    p = spawn_runner(&e, "stopping");
    kill(p->pid, SIGTERM);
    status = exit_within(p, 5000);
    ck_assert_msg(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "runner: status %d",
                  status);
    new_job(&e, 70, SHA1, "opened", id);
    claim_next_gets(&e, id);
    only_claimed_by(&e, id, "next");
    ts_proc_free(p);
    env_stop(&e);
}
END_TEST

/* The same, with the job arriving the moment the signal is sent: the runner's claim may be
 * cut before the job is queued, or get the job and give it back; either way the next
 * claimer has it at once and the attempt count is as if the runner never claimed. */
START_TEST(runner_stopped_as_a_job_arrives_gives_it_back)
{
    env e;
    ts_proc *p;
    char id[32];
    int status;

    env_start(&e, 1, 120, 3, false);
    p = spawn_runner(&e, "racing");
    kill(p->pid, SIGTERM);
    new_job(&e, 71, SHA1, "opened", id);
    status = exit_within(p, 5000);
    ck_assert_msg(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "runner: status %d",
                  status);
    claim_next_gets(&e, id);
    ts_proc_free(p);
    env_stop(&e);
}
END_TEST

/* A long-poll claim by runner "ghost" (labels linux, 30 s) on a raw socket, so a test can
 * close it while it is parked. Returns the socket. */
static int raw_claim_ghost(env *e)
{
    char req[512], body[160];
    struct sockaddr_in sa = {0};
    int fd, n;

    snprintf(body, sizeof(body),
             "{\"runner\":\"ghost\",\"region\":\"always\",\"labels\":[\"linux\"],"
             "\"wait_seconds\":30}");
    n = snprintf(req, sizeof(req),
                 "POST /api/v1/runners/claim HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)e->port[0]);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    return fd;
}

/* A raw claim whose client closes the socket while it is parked is never granted. */
START_TEST(claim_closed_while_parked_is_never_granted)
{
    env e;
    char id[32];
    idle_wait w = {&e, "ghost"};
    int fd;

    env_start(&e, 1, 120, 3, false);
    fd = raw_claim_ghost(&e);
    ck_assert(ts_wait_until(runner_idle, &w, 5000));
    close(fd);
    new_job(&e, 72, SHA1, "opened", id);
    claim_next_gets(&e, id);
    only_claimed_by(&e, id, "next");
    env_stop(&e);
}
END_TEST

/* ---- one ready job wakes one parked claim ------------------------------------------------ */

typedef struct parked_claim {
    env *e;
    int srv; /* which serve process */
    char runner[16];
    const char *labels; /* JSON array */
    long status;
    char job[32];
} parked_claim;

static void *parked_claim_main(void *arg)
{
    parked_claim *pc = arg;
    char body[256];
    json_t *c = NULL;

    snprintf(body, sizeof(body),
             "{\"runner\":\"%s\",\"region\":\"always\",\"labels\":%s,\"wait_seconds\":20}",
             pc->runner, pc->labels);
    pc->status = post(pc->e->base[pc->srv], "/api/v1/runners/claim", TOKEN, body, &c);
    if (c)
        snprintf(pc->job, sizeof(pc->job), "%s", s_of(json_object_get(c, "job"), "id"));
    json_decref(c);
    return NULL;
}

/* A series of a serve process's /metrics (a gauge or counter without labels); -1 if
 * absent. */
static long long metric_of(env *e, int srv, const char *name)
{
    char url[128];
    ts_response r;
    long long v = -1;
    size_t len = strlen(name);

    snprintf(url, sizeof(url), "%s/metrics", e->base[srv]);
    if (ts_http("GET", url, NULL, NULL, 0, &r) != 0)
        return -1;
    for (char *l = r.body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, len) == 0 && l[len] == ' ')
            v = atoll(l + len + 1);
    }
    ts_response_free(&r);
    return v;
}

static long long metric(env *e, const char *name)
{
    return metric_of(e, 0, name);
}

typedef struct parked_wait {
    env *e;
    long long n;
    int srv;
} parked_wait;

static bool parked_is(void *ctx)
{
    parked_wait *w = ctx;

    return metric_of(w->e, w->srv, "zoneci_runner_claims_parked") == w->n;
}

/* Starts a claim thread and waits until the server has it parked: claims park in the
 * order they are started, oldest first. */
static void park_on(env *e, int srv, parked_claim *pc, pthread_t *t, const char *runner,
                    const char *labels, long long parked_after)
{
    parked_wait w = {e, parked_after, srv};

    pc->e = e;
    pc->srv = srv;
    snprintf(pc->runner, sizeof(pc->runner), "%s", runner);
    pc->labels = labels;
    pthread_create(t, NULL, parked_claim_main, pc);
    ck_assert_msg(ts_wait_until(parked_is, &w, 10000), "claim %s never parked", runner);
}

static void park_one(env *e, parked_claim *pc, pthread_t *t, const char *runner, const char *labels,
                     long long parked_after)
{
    park_on(e, 0, pc, t, runner, labels, parked_after);
}

static char *idle_score(env *e, const char *runner)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "ZSCORE '{run}:idle:always:1' '%s'", runner);
    return ts_redis_cli(e->redis, cmd);
}

typedef struct leased_wait {
    env *e;
    const char *id;
} leased_wait;

static bool job_leased(void *ctx)
{
    leased_wait *w = ctx;
    char *st = job_state(w->e, w->id);
    bool ok = strcmp(st, "leased") == 0;

    free(st);
    return ok;
}

/* Eight claims parked, one job made ready: the claim parked longest gets it, one claim
 * was woken, and the seven others never ran the claim script again (their idle scores,
 * written by every claim that finds nothing, are unchanged) and stay parked. */
START_TEST(one_ready_job_wakes_one_parked_claim)
{
    enum { N = 8 };
    env e;
    parked_claim pc[N] = {0};
    pthread_t t[N];
    char *before[N], id[32], name[16];
    long long woken;
    leased_wait lw = {&e, id};
    parked_wait settled = {&e, N - 1, 0};

    env_start(&e, 1, 120, 3, false);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        park_one(&e, &pc[i], &t[i], name, "[\"linux\"]", i + 1);
    }
    for (int i = 0; i < N; i++)
        before[i] = idle_score(&e, pc[i].runner);
    woken = metric(&e, "zoneci_runner_claims_woken_total");
    ck_assert_int_ge(woken, 0);
    new_job(&e, 80, SHA1, "opened", id);
    ck_assert(ts_wait_until(job_leased, &lw, 5000));
    ck_assert(ts_wait_until(parked_is, &settled, 5000));
    ck_assert_int_eq(metric(&e, "zoneci_runner_claims_woken_total") - woken, 1);
    only_claimed_by(&e, id, "r0");
    for (int i = 1; i < N; i++) {
        char *now = idle_score(&e, pc[i].runner);

        ck_assert_msg(before[i][0] && strcmp(before[i], now) == 0,
                      "%s ran a claim again (%s -> %s)", pc[i].runner, before[i], now);
        free(now);
    }
    pthread_join(t[0], NULL);
    ck_assert_int_eq(pc[0].status, 200);
    ck_assert_str_eq(pc[0].job, id);
    env_stop(&e); /* the drain answers the parked claims */
    for (int i = 1; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_ne(pc[i].status, 200);
    }
    for (int i = 0; i < N; i++)
        free(before[i]);
}
END_TEST

typedef struct fleet_wait {
    env *e;
    long long parked;
} fleet_wait;

static bool fleet_parked_is(void *ctx)
{
    fleet_wait *w = ctx;

    return metric_of(w->e, 0, "zoneci_runner_claims_parked") +
               metric_of(w->e, 1, "zoneci_runner_claims_parked") ==
           w->parked;
}

/* Two serve processes, three claims parked on each, one job: every process hears the
 * wake (pub/sub) and wakes one claim of its own, so at most two claims ran for the job,
 * not six; one runner got it and the five others are parked again. */
START_TEST(one_ready_job_wakes_at_most_one_claim_per_process)
{
    enum { PER = 3 };
    env e;
    parked_claim pc[2][PER] = {{{0}}};
    pthread_t t[2][PER];
    char id[32], name[16];
    long long woken[2];
    leased_wait lw = {&e, id};
    fleet_wait settled = {&e, 2 * PER - 1};
    int granted = 0;

    env_start(&e, 2, 120, 3, false);
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < PER; i++) {
            snprintf(name, sizeof(name), "p%d-%d", s, i);
            park_on(&e, s, &pc[s][i], &t[s][i], name, "[\"linux\"]", i + 1);
        }
        woken[s] = metric_of(&e, s, "zoneci_runner_claims_woken_total");
    }
    new_job(&e, 83, SHA1, "opened", id);
    ck_assert(ts_wait_until(job_leased, &lw, 5000));
    ck_assert(ts_wait_until(fleet_parked_is, &settled, 5000));
    for (int s = 0; s < 2; s++) {
        long long d = metric_of(&e, s, "zoneci_runner_claims_woken_total") - woken[s];

        ck_assert_msg(d <= 1, "process %d woke %lld claims for one job", s, d);
    }
    env_stop(&e);
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < PER; i++) {
            pthread_join(t[s][i], NULL);
            if (pc[s][i].status == 200) {
                ck_assert_str_eq(pc[s][i].job, id);
                granted++;
            }
        }
    }
    ck_assert_int_eq(granted, 1);
}
END_TEST

/* The claim parked longest lacks the label the job needs: its claim finds nothing but
 * passes a job over, so the wake goes on to the next claim, which takes it at once. */
START_TEST(wake_passes_on_past_a_claim_without_the_labels)
{
    env e;
    parked_claim plain = {0}, gpu = {0};
    pthread_t t1, t2;
    char id[32];
    long long woken;
    int64_t started;

    env_start_labels(&e, 1, 120, 3, false, "[\"gpu\"]");
    park_one(&e, &plain, &t1, "plain", "[\"linux\"]", 1);
    park_one(&e, &gpu, &t2, "gpu", "[\"linux\",\"gpu\"]", 2);
    woken = metric(&e, "zoneci_runner_claims_woken_total");
    started = core_time_mono_ms();
    new_job(&e, 81, SHA1, "opened", id);
    pthread_join(t2, NULL);
    /* Far within the 20 s wait a stranded job would have sat out. */
    ck_assert_int_lt(core_time_mono_ms() - started, 5000);
    ck_assert_int_eq(gpu.status, 200);
    ck_assert_str_eq(gpu.job, id);
    ck_assert_int_eq(metric(&e, "zoneci_runner_claims_woken_total") - woken, 2);
    ck_assert_int_eq(metric(&e, "zoneci_runner_claims_parked"), 1);
    env_stop(&e);
    pthread_join(t1, NULL);
    ck_assert_int_ne(plain.status, 200);
}
END_TEST

/* The claim parked longest goes away just before a job is ready: the job is not
 * stranded; the next parked claim gets it at once (whether the wake found the first one
 * gone or was passed on by it), and the one that left is never granted. */
START_TEST(job_not_stranded_when_the_woken_claim_goes_away)
{
    env e;
    parked_claim next = {0};
    pthread_t t;
    char id[32];
    int fd;
    int64_t started;

    env_start(&e, 1, 120, 3, false);
    fd = raw_claim_ghost(&e);
    {
        parked_wait w = {&e, 1, 0};

        ck_assert(ts_wait_until(parked_is, &w, 5000));
    }
    park_one(&e, &next, &t, "next", "[\"linux\"]", 2);
    close(fd);
    started = core_time_mono_ms();
    new_job(&e, 82, SHA1, "opened", id);
    pthread_join(t, NULL);
    ck_assert_int_lt(core_time_mono_ms() - started, 5000);
    ck_assert_int_eq(next.status, 200);
    ck_assert_str_eq(next.job, id);
    only_claimed_by(&e, id, "next");
    ck_assert_int_eq(attempts_of(&e, id), 1);
    env_stop(&e);
}
END_TEST

static long release_call(env *e, const char *token, const char *id, const char *lease,
                         long long fence, json_t **out)
{
    char path[128], body[256];

    snprintf(path, sizeof(path), "/api/v1/jobs/%s/release", id);
    if (fence)
        snprintf(body, sizeof(body), "{\"lease_id\":\"%s\",\"fencing_token\":%lld}", lease, fence);
    else
        snprintf(body, sizeof(body), "{\"lease_id\":\"%s\"}", lease);
    return post(e->base[0], path, token, body, out);
}

/* The release path: only the current lease with its own fencing token gives a job back;
 * the job is then queued again at once with the attempt not counted. */
START_TEST(release_is_fenced_and_requeues_without_an_attempt)
{
    env e;
    json_t *c = NULL, *r = NULL, *j;
    char id[32], lease[64], lease2[64];
    long long fence, fence2;

    env_start(&e, 1, 120, 3, false);
    new_job(&e, 73, SHA1, "opened", id);
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r1", "always", 5, &c), 200);
    snprintf(lease, sizeof(lease), "%s", s_of(c, "lease_id"));
    fence = json_integer_value(json_object_get(c, "fencing_token"));
    json_decref(c);
    ck_assert_int_eq(attempts_of(&e, id), 1);

    ck_assert_int_eq(release_call(&e, "wrong", id, lease, fence, NULL), 401);
    ck_assert_int_eq(release_call(&e, TOKEN_BERLIN, id, lease, fence, NULL), 403);
    ck_assert_int_eq(release_call(&e, TOKEN, id, lease, 0, NULL), 400);
    ck_assert_int_eq(release_call(&e, TOKEN, id, "0123456789abcdef", fence, NULL), 409);
    ck_assert_int_eq(release_call(&e, TOKEN, id, lease, fence + 1, NULL), 409);
    ck_assert_int_eq(release_call(&e, TOKEN, "999999", lease, fence, NULL), 404);
    {
        char *st = job_state(&e, id);

        ck_assert_str_eq(st, "leased");
        free(st);
    }
    ck_assert_int_eq(attempts_of(&e, id), 1);

    ck_assert_int_eq(release_call(&e, TOKEN, id, lease, fence, &r), 200);
    ck_assert_str_eq(s_of(r, "state"), "queued");
    json_decref(r);
    j = get_job(&e, id);
    ck_assert_str_eq(s_of(j, "state"), "queued");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "attempts")), 0);
    ck_assert_ptr_nonnull(strstr(s_of(j, "reason"), "attempt not counted"));
    json_decref(j);
    /* Released once: the same lease cannot do it again, nor heartbeat or complete. */
    ck_assert_int_eq(release_call(&e, TOKEN, id, lease, fence, NULL), 409);
    ck_assert_int_eq(lease_call(e.base[0], id, "heartbeat", lease, NULL, NULL), 409);
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", lease, "success", NULL), 409);

    /* Claimable at once (the build lock was freed), on its first attempt again. */
    ck_assert_int_eq(claim(e.base[0], TOKEN, "r2", "always", 0, &c), 200);
    ck_assert_str_eq(s_of(json_object_get(c, "job"), "id"), id);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(c, "job"), "attempts")), 1);
    snprintf(lease2, sizeof(lease2), "%s", s_of(c, "lease_id"));
    fence2 = json_integer_value(json_object_get(c, "fencing_token"));
    ck_assert_int_gt(fence2, fence);
    json_decref(c);
    /* The stale lease cannot take the new holder's job away. */
    ck_assert_int_eq(release_call(&e, TOKEN, id, lease, fence, NULL), 409);
    ck_assert_int_eq(release_call(&e, TOKEN, id, lease2, fence, NULL), 409);
    ck_assert_int_eq(lease_call(e.base[0], id, "heartbeat", lease2, NULL, &r), 200);
    ck_assert(json_is_false(json_object_get(r, "cancel")));
    json_decref(r);
    /* A completed job cannot be given back. */
    ck_assert_int_eq(lease_call(e.base[0], id, "complete", lease2, "success", NULL), 200);
    ck_assert_int_eq(release_call(&e, TOKEN, id, lease2, fence2, NULL), 409);
    {
        char *st = job_state(&e, id);

        ck_assert_str_eq(st, "succeeded");
        free(st);
    }
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_runners(void)
{
    Suite *s = suite_create("e2e_runners");
    TCase *tc = tcase_create("runners");

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, tokens_regions_and_bodies);
    tcase_add_test(tc, claim_heartbeat_complete_and_stale_leases);
    tcase_add_test(tc, supersede_and_cancel_reach_the_runner_and_locks_hold);
    tcase_add_test(tc, expired_leases_requeue_then_dead_letter);
    tcase_add_test(tc, long_poll_answers_within_50ms_of_a_ready_job);
    tcase_add_test(tc, chaos_every_job_completes_exactly_once);
    tcase_add_test(tc, reference_runner_runs_and_reports);
    tcase_add_test(tc, runner_stopped_mid_claim_takes_no_job);
    tcase_add_test(tc, runner_stopped_as_a_job_arrives_gives_it_back);
    tcase_add_test(tc, claim_closed_while_parked_is_never_granted);
    tcase_add_test(tc, release_is_fenced_and_requeues_without_an_attempt);
    tcase_add_test(tc, one_ready_job_wakes_one_parked_claim);
    tcase_add_test(tc, one_ready_job_wakes_at_most_one_claim_per_process);
    tcase_add_test(tc, wake_passes_on_past_a_claim_without_the_labels);
    tcase_add_test(tc, job_not_stranded_when_the_woken_claim_goes_away);
    suite_add_tcase(s, tc);
    return s;
}
