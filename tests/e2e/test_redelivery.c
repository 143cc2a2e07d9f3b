/* End to end delivery recovery: a real redis-server, `zoneci serve` with the GitHub App
 * configured, and a local peer playing GitHub's API (the App's deliveries list, paged two
 * at a time, the attempts endpoint, installation tokens and statuses). Two deliveries are
 * accepted; three are answered 503 while Redis is down; once Redis is back zoneci asks
 * GitHub to redeliver exactly those three, the test plays GitHub's redelivery by posting
 * their original payloads again, and they become jobs. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tests/support/support.h"

#define GH_SECRET "redelivery-secret"
#define API_TOKEN "operator-token"
#define N_MAX 16
#define PAGE 2 /* deliveries per page: five take three pages */

typedef struct gh_delivery {
    int64_t id;
    char guid[64];
    int status;
    int64_t at_ms;
    bool redelivery;
} gh_delivery;

/* What the peer playing GitHub holds and saw; guarded by the peer's lock. */
typedef struct gh_log {
    char base[64];
    gh_delivery list[N_MAX]; /* oldest first; served newest first */
    int n;
    int64_t attempts[N_MAX]; /* delivery ids asked for, in order */
    int n_attempts;
    int list_requests;
    int bad_auth; /* deliveries calls without an App JWT */
} gh_log;

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    char *config;
    ts_peer *peer;
    gh_log *log; /* on the heap: see test_approvals.c */
    char base[64];
    char *payloads[N_MAX]; /* by delivery id */
} env;

static bool is_app_jwt(const char *auth)
{
    const char *dot = strchr(auth, '.');

    return strncmp(auth, "Bearer ey", 9) == 0 && dot && strchr(dot + 1, '.');
}

static void list_page(gh_log *log, const ts_peer_request *req, ts_peer_answer *ans)
{
    const char *cursor = req->arg(req, "cursor");
    int start = cursor ? atoi(cursor) : 0, end = start + PAGE;
    core_buf b = {0};

    log->list_requests++;
    if (!is_app_jwt(req->authorization)) {
        log->bad_auth++;
        ans->status = 401;
        snprintf(ans->body, sizeof(ans->body), "{\"message\":\"A JSON web token is required\"}");
        return;
    }
    if (end > log->n)
        end = log->n;
    core_buf_puts(&b, "[");
    for (int i = start; i < end; i++) {
        const gh_delivery *d = &log->list[log->n - 1 - i];
        char iso[CORE_ISO_MAX];

        core_time_format_iso(d->at_ms, iso);
        core_buf_printf(&b,
                        "%s{\"id\":%lld,\"guid\":\"%s\",\"delivered_at\":\"%s\","
                        "\"redelivery\":%s,\"duration\":0.03,\"status\":\"%s\","
                        "\"status_code\":%d,\"event\":\"pull_request\",\"action\":\"opened\","
                        "\"installation_id\":42,\"repository_id\":7}",
                        i > start ? "," : "", (long long)d->id, d->guid, iso,
                        d->redelivery ? "true" : "false", d->status < 300 ? "OK" : "failed",
                        d->status);
    }
    core_buf_puts(&b, "]");
    snprintf(ans->body, sizeof(ans->body), "%s", b.data);
    core_buf_free(&b);
    if (end < log->n)
        snprintf(ans->link, sizeof(ans->link),
                 "<%s/gh/app/hook/deliveries?per_page=100&cursor=%d>; rel=\"next\"", log->base,
                 end);
}

static void play_github(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    gh_log *log = ctx;
    long long id;

    if (strcmp(req->method, "GET") == 0 && strcmp(req->url, "/gh/app/hook/deliveries") == 0) {
        list_page(log, req, ans);
    } else if (strcmp(req->method, "POST") == 0 &&
               sscanf(req->url, "/gh/app/hook/deliveries/%lld/attempts", &id) == 1) {
        if (!is_app_jwt(req->authorization)) {
            log->bad_auth++;
            ans->status = 401;
            return;
        }
        if (log->n_attempts < N_MAX)
            log->attempts[log->n_attempts++] = id;
        ans->status = 202;
        snprintf(ans->body, sizeof(ans->body), "{}");
    } else if (strstr(req->url, "/access_tokens")) {
        char iso[CORE_ISO_MAX];

        core_time_format_iso(core_time_now_ms() + 3600 * 1000, iso);
        ans->status = 201;
        snprintf(ans->body, sizeof(ans->body), "{\"token\":\"ghs_e2e\",\"expires_at\":\"%s\"}",
                 iso);
    } else if (strstr(req->url, "/statuses/")) {
        ans->status = 201;
        snprintf(ans->body, sizeof(ans->body), "{\"id\":1}");
    } else {
        ans->status = 404;
    }
}

/* app: the GitHub App configured, recovery every check_seconds; missed: a failed
 * delivery (id 1009, "guid-9") already in GitHub's list when serve starts. */
static void env_start_with(env *e, bool app, int check_seconds, bool missed)
{
    char *text = NULL, *key_path, github[1200];
    char *argv[] = {"serve", "--config", NULL, NULL};
    char *envp[] = {"ZT_GH_SECRET=" GH_SECRET, "ZT_API_TOKENS=" API_TOKEN, NULL};
    int port;

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    /* AOF: stopping Redis must not lose the two deliveries accepted before. */
    e->redis = ts_redis_start(true);
    port = ts_free_port();
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    e->log = calloc(1, sizeof(*e->log));
    ck_assert_ptr_nonnull(e->log);
    e->peer = ts_peer_start(play_github, e->log);
    snprintf(e->log->base, sizeof(e->log->base), "%s", ts_peer_base(e->peer));
    if (app) {
        key_path = ts_write_file(e->dir, "app.pem", ts_rsa_key_pem());
        snprintf(github, sizeof(github),
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\", \"app_id\": 4242,\n"
                 "   \"private_key_file\": \"%s\", \"api_url\": \"%s/gh\",\n"
                 "   \"redelivery_check_seconds\": %d},\n",
                 key_path, ts_peer_base(e->peer), check_seconds);
        free(key_path);
    } else {
        snprintf(github, sizeof(github),
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n");
    }
    ck_assert(asprintf(&text,
                       "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 2},\n"
                       " \"redis\": {\"url\": \"%s\", \"prefix\": \"rdl\"},\n"
                       " \"cache_dir\": \"%s/cache\",\n"
                       "%s"
                       " \"api\": {\"tokens_env\": \"ZT_API_TOKENS\"},\n"
                       " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                       "   \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
                       " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"]}]}\n",
                       port, e->redis->url, e->dir, github) > 0);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    if (missed) {
        e->log->list[e->log->n++] = (gh_delivery){
            .id = 1009, .guid = "guid-9", .status = 503, .at_ms = core_time_now_ms() - 60000};
    }
    argv[2] = e->config;
    e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
}

/* A long period: only the start and the recovery after Redis errors may run. */
static void env_start(env *e, bool app)
{
    env_start_with(e, app, 3600, false);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_peer_stop(e->peer);
    free(e->log);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
    free(e->config);
    for (int i = 0; i < N_MAX; i++)
        free(e->payloads[i]);
}

/* PR number n: its payload (a local clone URL that does not exist, so inspection never
 * reaches the network), delivered as GUID "guid-n" with delivery id 1000 + n. Posts it,
 * records it in GitHub's list with the answer it got, and returns that answer. */
static long deliver(env *e, int n, char **resp)
{
    char guid[64], sha[41];
    long status;

    snprintf(sha, sizeof(sha), "%040d", n);
    ck_assert(asprintf(&e->payloads[n],
                       "{\"action\":\"opened\",\"number\":%d,\"pull_request\":{\"number\":%d,"
                       "\"title\":\"t\",\"user\":{\"login\":\"octocat\"},"
                       "\"head\":{\"sha\":\"%s\",\"ref\":\"f\"},\"base\":{\"sha\":\"%040d\","
                       "\"ref\":\"main\"}},\"repository\":{\"full_name\":\"acme/app\","
                       "\"clone_url\":\"file:///nonexistent/zoneci-redelivery.git\"},"
                       "\"installation\":{\"id\":42}}",
                       n, n, sha, 0) > 0);
    snprintf(guid, sizeof(guid), "guid-%d", n);
    status = ts_post_github(e->base, "pull_request", guid, e->payloads[n], strlen(e->payloads[n]),
                            GH_SECRET, resp);
    ts_peer_lock(e->peer);
    e->log->list[e->log->n] =
        (gh_delivery){.id = 1000 + n, .status = (int)status, .at_ms = core_time_now_ms()};
    snprintf(e->log->list[e->log->n].guid, sizeof(e->log->list[0].guid), "%s", guid);
    e->log->n++;
    ts_peer_unlock(e->peer);
    return status;
}

static int n_attempts(env *e)
{
    int n;

    ts_peer_lock(e->peer);
    n = e->log->n_attempts;
    ts_peer_unlock(e->peer);
    return n;
}

static bool one_attempt(void *ctx)
{
    return n_attempts(ctx) >= 1;
}

static bool listed_twice(void *ctx)
{
    env *e = ctx;
    int n;

    ts_peer_lock(e->peer);
    n = e->log->list_requests;
    ts_peer_unlock(e->peer);
    return n >= 2;
}

static bool three_attempts(void *ctx)
{
    env *e = ctx;
    int n;

    ts_peer_lock(e->peer);
    n = e->log->n_attempts;
    ts_peer_unlock(e->peer);
    return n >= 3;
}

static char *metrics(env *e)
{
    char url[128];
    ts_response r;
    char *body;

    snprintf(url, sizeof(url), "%s/metrics", e->base);
    ck_assert_int_eq(ts_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    body = strdup(r.body);
    ts_response_free(&r);
    return body;
}

/* The process counts a redelivery once GitHub's answer is read, a moment after the peer
 * has seen the request: wait for the count rather than race it. */
static bool three_counted(void *ctx)
{
    char *m = metrics(ctx);
    bool done = strstr(m, "zoneci_redeliveries_requested_total{outcome=\"accepted\"} 3\n");

    free(m);
    return done;
}

static size_t count_jobs(env *e)
{
    char url[128], auth[64];
    const char *headers[] = {auth, NULL};
    ts_response r;
    json_t *j;
    size_t n;

    snprintf(url, sizeof(url), "%s/api/v1/jobs", e->base);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", API_TOKEN);
    ck_assert_int_eq(ts_http("GET", url, headers, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    j = json_loads(r.body, 0, NULL);
    n = json_array_size(json_object_get(j, "jobs"));
    json_decref(j);
    ts_response_free(&r);
    return n;
}

START_TEST(missed_deliveries_are_recovered)
{
    env e;
    char *resp = NULL, *m;
    int64_t asked[3];
    int status;

    env_start(&e, true);
    ck_assert_int_eq(deliver(&e, 1, NULL), 202);
    ck_assert_int_eq(deliver(&e, 2, NULL), 202);

    ts_redis_stop(e.redis);
    for (int n = 3; n <= 5; n++) {
        ck_assert_int_eq(deliver(&e, n, &resp), 503);
        ck_assert_msg(strstr(resp, "recovered through the GitHub App's deliveries API"), "%s",
                      resp);
        free(resp);
        resp = NULL;
    }
    ts_redis_resume(e.redis);

    /* Redis answers again: zoneci lists the deliveries (three pages) and asks for the
     * three it never accepted, never for the two it did. */
    ck_assert_msg(ts_wait_until(three_attempts, &e, 30000), "no redelivery asked for");
    ts_peer_lock(e.peer);
    ck_assert_int_eq(e.log->n_attempts, 3);
    ck_assert_int_eq(e.log->bad_auth, 0);
    ck_assert_int_ge(e.log->list_requests, 3);
    for (int i = 0; i < 3; i++) {
        asked[i] = e.log->attempts[i];
        ck_assert_msg(asked[i] >= 1003 && asked[i] <= 1005, "asked for %lld", (long long)asked[i]);
        for (int j = 0; j < i; j++)
            ck_assert(asked[i] != asked[j]);
    }
    ts_peer_unlock(e.peer);

    /* GitHub redelivers: the same GUID and payload. Each becomes a job. */
    for (int i = 0; i < 3; i++) {
        int n = (int)(asked[i] - 1000);
        char guid[64];

        snprintf(guid, sizeof(guid), "guid-%d", n);
        ck_assert_int_eq(ts_post_github(e.base, "pull_request", guid, e.payloads[n],
                                        strlen(e.payloads[n]), GH_SECRET, NULL),
                         202);
        ts_peer_lock(e.peer);
        e.log->list[e.log->n] = (gh_delivery){
            .id = 2000 + n, .status = 202, .at_ms = core_time_now_ms(), .redelivery = true};
        snprintf(e.log->list[e.log->n].guid, sizeof(e.log->list[0].guid), "%s", guid);
        e.log->n++;
        ts_peer_unlock(e.peer);
    }
    ck_assert_uint_eq(count_jobs(&e), 5);

    ck_assert_msg(ts_wait_until(three_counted, &e, 10000),
                  "zoneci_redeliveries_requested_total{outcome=\"accepted\"} never reached 3");
    m = metrics(&e);
    ck_assert_msg(strstr(m, "# TYPE zoneci_redelivery_runs_total counter\n"),
                  "no zoneci_redelivery_runs_total in /metrics");
    free(m);
    ts_peer_lock(e.peer);
    ck_assert_int_eq(e.log->n_attempts, 3);
    ts_peer_unlock(e.peer);
    /* The recovery thread stops with the server: a clean exit (and, under the
     * sanitizers, no leak). */
    status = ts_proc_signal_wait(e.srv, SIGTERM);
    if (status != 0) {
        char *log = ts_read_file(e.srv->log, NULL);

        ck_abort_msg("serve exited with status %d:\n%s", status, log ? log : "");
    }
    env_stop(&e);
}
END_TEST

START_TEST(without_the_app_the_503_says_to_redeliver_by_hand)
{
    env e;
    char *resp = NULL, *m;

    env_start(&e, false);
    ts_redis_stop(e.redis);
    ck_assert_int_eq(deliver(&e, 1, &resp), 503);
    ck_assert_msg(strstr(resp, "Recent deliveries"), "%s", resp);
    ck_assert_ptr_null(strstr(resp, "deliveries API"));
    free(resp);
    ts_redis_resume(e.redis);
    m = metrics(&e);
    ck_assert_ptr_null(strstr(m, "zoneci_redelivery_runs_total"));
    free(m);
    ts_peer_lock(e.peer);
    ck_assert_int_eq(e.log->list_requests, 0);
    ts_peer_unlock(e.peer);
    env_stop(&e);
}
END_TEST

START_TEST(a_delivery_missed_before_start_is_recovered_at_start)
{
    env e;

    env_start_with(&e, true, 3600, true);
    ck_assert_msg(ts_wait_until(one_attempt, &e, 20000), "nothing asked at start");
    ts_peer_lock(e.peer);
    ck_assert_int_eq(e.log->attempts[0], 1009);
    ts_peer_unlock(e.peer);
    env_stop(&e);
}
END_TEST

START_TEST(a_delivery_missed_without_redis_errors_is_recovered_by_the_period)
{
    env e;

    /* A delivery this process never saw fail (another process answered it, say): only
     * the periodic check finds it. */
    env_start_with(&e, true, 1, false);
    ck_assert_int_eq(deliver(&e, 1, NULL), 202);
    ts_peer_lock(e.peer);
    e.log->list[e.log->n++] =
        (gh_delivery){.id = 1002, .guid = "guid-2", .status = 502, .at_ms = core_time_now_ms()};
    ts_peer_unlock(e.peer);
    ck_assert_msg(ts_wait_until(one_attempt, &e, 20000), "nothing asked by the period");
    ts_peer_lock(e.peer);
    ck_assert_int_eq(e.log->attempts[0], 1002);
    ts_peer_unlock(e.peer);
    /* Later checks list again and ask nothing more. */
    ts_peer_lock(e.peer);
    e.log->list_requests = 0;
    ts_peer_unlock(e.peer);
    ck_assert(ts_wait_until(listed_twice, &e, 20000));
    ck_assert_int_eq(n_attempts(&e), 1);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_redelivery(void)
{
    Suite *s = suite_create("e2e_redelivery");
    TCase *tc = tcase_create("recovery");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, missed_deliveries_are_recovered);
    tcase_add_test(tc, without_the_app_the_503_says_to_redeliver_by_hand);
    tcase_add_test(tc, a_delivery_missed_before_start_is_recovered_at_start);
    tcase_add_test(tc, a_delivery_missed_without_redis_errors_is_recovered_by_the_period);
    suite_add_tcase(s, tc);
    return s;
}
