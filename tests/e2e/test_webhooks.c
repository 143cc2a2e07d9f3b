/* End to end: a real redis-server, a real `zoneci serve`, and libcurl, through every
 * webhook row of the bad-input table (docs/http-api.md), the job API, metrics and the signals. */
#define _GNU_SOURCE
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support/support.h"

#define SECRET "e2e-webhook-secret"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_BASE "cccccccccccccccccccccccccccccccccccccccc"

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    int port;
    char base[64];
    char *config;
    char secret_env[256];
    char api_env[256];
    char *env[4];
} env;

static char *config_text(env *e, size_t max_body, bool api_tokens)
{
    char *text = NULL;

    if (asprintf(&text,
                 "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 2, "
                 "\"max_body_bytes\": %zu},\n"
                 " \"redis\": {\"url\": \"%s\", \"prefix\": \"zt\"},\n"
                 " \"cache_dir\": \"%s/cache\",\n"
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n"
                 " %s\n"
                 " \"regions\": [{\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\",\n"
                 "               \"hours\": [\"Mon-Fri 09:00-18:00\"]}],\n"
                 " \"policies\": [{\"repos\": [\"acme/*\", \"Codertocat/*\"],\n"
                 "                \"regions\": [\"emea-berlin\"]}]}\n",
                 e->port, max_body, e->redis->url, e->dir,
                 api_tokens ? "\"api\": {\"tokens_env\": \"ZT_API_TOKENS\"}," : "") < 0)
        ck_abort_msg("asprintf");
    return text;
}

static void env_start_with(env *e, size_t max_body, bool api_tokens, const char *secrets, bool aof)
{
    char *text;
    char *argv[] = {"serve", "--config", NULL, NULL};

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(aof);
    e->port = ts_free_port();
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", e->port);
    text = config_text(e, max_body, api_tokens);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    snprintf(e->secret_env, sizeof(e->secret_env), "ZT_GH_SECRET=%s", secrets);
    snprintf(e->api_env, sizeof(e->api_env), "ZT_API_TOKENS=op-token-1,op-token-2");
    e->env[0] = e->secret_env;
    e->env[1] = e->api_env;
    argv[2] = e->config;
    e->srv = ts_zoneci_spawn(argv, e->env, e->dir, e->base);
}

static void env_start(env *e)
{
    env_start_with(e, 1 << 20, false, SECRET, false);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
    free(e->config);
}

/* Posts a delivery and parses the answer as JSON into *json when json is not NULL. */
static long post_event(env *e, const char *event, const char *delivery, const char *body,
                       size_t len, const char *secret, json_t **json)
{
    char *text = NULL;
    long status = ts_post_github(e->base, event, delivery, body, len, secret, &text);

    if (json) {
        json_error_t jerr;

        *json = json_loads(text, 0, &jerr);
        ck_assert_msg(*json != NULL, "response is not JSON: %s", text);
    }
    free(text);
    return status;
}

static long post_pr(env *e, const char *action, const char *delivery, int number, const char *sha,
                    json_t **json)
{
    char *body = ts_pr_payload(action, number, sha, false, "acme/api");
    long status = post_event(e, "pull_request", delivery, body, strlen(body), SECRET, json);

    free(body);
    return status;
}

static long get_json(env *e, const char *path, const char *token, json_t **json)
{
    char url[512], auth[128];
    const char *headers[2] = {NULL, NULL};
    ts_response r;
    long status;

    snprintf(url, sizeof(url), "%s%s", e->base, path);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[0] = auth;
    }
    ck_assert_int_eq(ts_http("GET", url, headers, NULL, 0, &r), 0);
    status = r.status;
    if (json) {
        json_error_t jerr;

        *json = json_loads(r.body, 0, &jerr);
        ck_assert_msg(*json != NULL, "GET %s: not JSON: %s", path, r.body);
    }
    ts_response_free(&r);
    return status;
}

static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    ck_assert_msg(s != NULL, "missing string field %s", key);
    return s;
}

static const char *job_state(env *e, const char *id)
{
    static char state[64];
    char path[128];
    json_t *job;

    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    ck_assert_int_eq(get_json(e, path, NULL, &job), 200);
    snprintf(state, sizeof(state), "%s", jstr(job, "state"));
    json_decref(job);
    return state;
}

/* Inspection and routing may have moved a new job on already. */
static bool routed_or_received(const char *state)
{
    return strcmp(state, "received") == 0 || strcmp(state, "inspecting") == 0 ||
           strcmp(state, "queued") == 0 || strcmp(state, "deferred") == 0;
}

static size_t count_jobs(env *e, const char *query)
{
    char path[256];
    json_t *list;
    size_t n;

    snprintf(path, sizeof(path), "/api/v1/jobs%s", query);
    ck_assert_int_eq(get_json(e, path, NULL, &list), 200);
    n = json_array_size(json_object_get(list, "jobs"));
    json_decref(list);
    return n;
}

/* Nothing stored under the store's prefix but the routers' own settings ({zt}:config:*)
 * and the retention pass's own bookkeeping ({zt}:retention*): no job, delivery, history
 * or audit entry. */
static void assert_store_empty(env *e)
{
    char *keys = ts_redis_cli(e->redis, "--scan --pattern '*'");
    char *line = keys;

    while (line && *line) {
        char *end = strchr(line, '\n');

        if (end)
            *end = '\0';
        ck_assert_msg(strncmp(line, "{zt}:config:", 12) == 0 ||
                          strncmp(line, "{zt}:retention", 14) == 0,
                      "expected no data, found: %s", line);
        line = end ? end + 1 : NULL;
    }
    free(keys);
}

START_TEST(pr_life_cycle)
{
    env e;
    json_t *a, *b, *job, *hist;
    char id_a[32], id_b[32], path[128];

    env_start(&e);
    ck_assert_int_eq(post_pr(&e, "opened", "d-1", 7, SHA_A, &a), 202);
    snprintf(id_a, sizeof(id_a), "%s", jstr(a, "job_id"));
    json_decref(a);

    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id_a);
    ck_assert_int_eq(get_json(&e, path, NULL, &job), 200);
    ck_assert_str_eq(jstr(job, "id"), id_a);
    ck_assert_msg(routed_or_received(jstr(job, "state")), "state %s", jstr(job, "state"));
    ck_assert_str_eq(jstr(job, "repo"), "acme/api");
    ck_assert_int_eq(json_integer_value(json_object_get(job, "pr")), 7);
    ck_assert_str_eq(jstr(job, "head_sha"), SHA_A);
    ck_assert_int_eq(json_integer_value(json_object_get(job, "attempts")), 0);
    hist = json_object_get(job, "history");
    ck_assert_uint_ge(json_array_size(hist), 1);
    ck_assert_str_eq(jstr(json_array_get(hist, 0), "state"), "received");
    ck_assert_str_eq(jstr(json_array_get(hist, 0), "actor"), "github");
    json_decref(job);

    /* A redelivery reuses the id and creates nothing; another delivery of the same
     * commit finds the live job. */
    ck_assert_int_eq(post_pr(&e, "opened", "d-1", 7, SHA_A, &a), 200);
    ck_assert(json_is_true(json_object_get(a, "duplicate")));
    ck_assert_str_eq(jstr(a, "job_id"), id_a);
    json_decref(a);
    ck_assert_int_eq(post_pr(&e, "reopened", "d-2", 7, SHA_A, &a), 200);
    ck_assert_str_eq(jstr(a, "job_id"), id_a);
    json_decref(a);
    ck_assert_uint_eq(count_jobs(&e, ""), 1);

    /* A new head supersedes the old job. */
    ck_assert_int_eq(post_pr(&e, "synchronize", "d-3", 7, SHA_B, &b), 202);
    snprintf(id_b, sizeof(id_b), "%s", jstr(b, "job_id"));
    ck_assert_str_eq(jstr(b, "superseded"), id_a);
    json_decref(b);
    ck_assert_str_eq(job_state(&e, id_a), "superseded");
    ck_assert(routed_or_received(job_state(&e, id_b)));
    ck_assert_uint_eq(count_jobs(&e, "?state=superseded"), 1);
    ck_assert_uint_eq(count_jobs(&e, "?state=cancelled"), 0);

    /* Closing the PR cancels what is pending. */
    ck_assert_int_eq(post_pr(&e, "closed", "d-4", 7, SHA_B, &b), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "cancelled")), 1);
    json_decref(b);
    ck_assert_str_eq(job_state(&e, id_b), "cancelled");
    ck_assert_str_eq(job_state(&e, id_a), "superseded");
    env_stop(&e);
}
END_TEST

START_TEST(bad_signatures_store_nothing)
{
    env e;
    char *body;
    json_t *r;

    env_start(&e);
    body = ts_pr_payload("opened", 1, SHA_A, false, "acme/api");
    ck_assert_int_eq(post_event(&e, "pull_request", "s-1", body, strlen(body), NULL, &r), 401);
    ck_assert_str_eq(jstr(r, "error"), "missing_signature");
    json_decref(r);
    ck_assert_int_eq(
        post_event(&e, "pull_request", "s-2", body, strlen(body), "not-the-secret", &r), 401);
    ck_assert_str_eq(jstr(r, "error"), "bad_signature");
    json_decref(r);
    free(body);
    assert_store_empty(&e);
    ck_assert_int_eq(get_json(&e, "/healthz", NULL, NULL), 200);
    env_stop(&e);
}
END_TEST

START_TEST(secret_rotation_accepts_both)
{
    env e;
    char *body = ts_pr_payload("opened", 3, SHA_A, false, "acme/api");
    char *body2 = ts_pr_payload("opened", 4, SHA_A, false, "acme/api");

    env_start_with(&e, 1 << 20, false, "old-secret, new-secret", false);
    ck_assert_int_eq(post_event(&e, "pull_request", "r-1", body, strlen(body), "old-secret", NULL),
                     202);
    ck_assert_int_eq(
        post_event(&e, "pull_request", "r-2", body2, strlen(body2), "new-secret", NULL), 202);
    ck_assert_int_eq(post_event(&e, "pull_request", "r-3", body, strlen(body), "other", NULL), 401);
    free(body);
    free(body2);
    env_stop(&e);
}
END_TEST

START_TEST(invalid_payloads_are_400_and_store_nothing)
{
    static const struct {
        const char *body;
        const char *names;
    } cases[] = {
        {"{not json", "JSON"},
        {"", "JSON"},
        {"[1,2]", "object"},
        {"{\"action\":\"opened\",\"number\":1,\"repository\":{\"full_name\":\"acme/api\"},"
         "\"pull_request\":{\"head\":{},\"base\":{\"sha\":\"" SHA_BASE "\"}}}",
         "pull_request.head.sha"},
        {"{\"action\":\"opened\",\"number\":\"1\",\"repository\":{\"full_name\":\"acme/api\"},"
         "\"pull_request\":{\"head\":{\"sha\":\"" SHA_A "\"},\"base\":{\"sha\":\"" SHA_BASE "\"}}}",
         "number"},
        {"{\"action\":7,\"number\":1}", "action"},
        {"{\"action\":\"opened\",\"number\":1,\"pull_request\":{\"head\":{\"sha\":\"" SHA_A
         "\"},\"base\":{\"sha\":\"" SHA_BASE "\"}}}",
         "repository.full_name"},
    };
    env e;

    env_start(&e);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r;
        char delivery[32];

        snprintf(delivery, sizeof(delivery), "bad-%zu", i);
        ck_assert_int_eq(post_event(&e, "pull_request", delivery, cases[i].body,
                                    strlen(cases[i].body), SECRET, &r),
                         400);
        ck_assert_msg(strstr(jstr(r, "detail"), cases[i].names) != NULL,
                      "case %zu: detail \"%s\" should name %s", i, jstr(r, "detail"),
                      cases[i].names);
        json_decref(r);
    }
    /* A pull_request delivery without its id cannot be deduplicated. */
    {
        char *body = ts_pr_payload("opened", 1, SHA_A, false, "acme/api");

        ck_assert_int_eq(post_event(&e, "pull_request", NULL, body, strlen(body), SECRET, NULL),
                         400);
        free(body);
    }
    assert_store_empty(&e);
    ck_assert_int_eq(get_json(&e, "/healthz", NULL, NULL), 200);
    env_stop(&e);
}
END_TEST

typedef struct stream {
    size_t left;
} stream;

static size_t stream_read(char *buf, size_t size, size_t nmemb, void *ctx)
{
    stream *s = ctx;
    size_t n = size * nmemb < s->left ? size * nmemb : s->left;

    memset(buf, 'x', n);
    s->left -= n;
    return n;
}

/* Sends total bytes chunked (no Content-Length); returns the status or 0 when the server
 * closed the connection before curl could read one. */
static long post_chunked(env *e, size_t total, size_t *sent)
{
    char url[128];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    stream s = {total};
    long status = 0;

    snprintf(url, sizeof(url), "%s/webhooks/github", e->base);
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "X-GitHub-Event: pull_request");
    /* A signature header, or it is refused (401) before any of the body is read. */
    h = curl_slist_append(h, "X-Hub-Signature-256: sha256=00");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, stream_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *sent = total - s.left;
    return status;
}

static long rss_kib(pid_t pid)
{
    char path[64], *status, *line;
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    status = ts_read_file(path, NULL);
    ck_assert(status != NULL);
    line = strstr(status, "VmRSS:");
    if (line)
        kib = strtol(line + 6, NULL, 10);
    free(status);
    return kib;
}

START_TEST(oversized_bodies_are_413_with_bounded_memory)
{
    env e;
    char *big;
    json_t *r;
    long before, after, status;
    size_t sent = 0;
    const size_t huge = (size_t)256 << 20;

    env_start_with(&e, 4096, false, SECRET, false);
    big = malloc(5000);
    memset(big, ' ', 5000);
    big[0] = '{';
    big[4999] = '}';
    /* Content-Length over the cap: refused before the body is read. */
    ck_assert_int_eq(post_event(&e, "pull_request", "big-1", big, 5000, SECRET, &r), 413);
    ck_assert_str_eq(jstr(r, "error"), "body_too_large");
    json_decref(r);
    free(big);

    /* A chunked body has no length up front: refused once it grows past the cap, and
     * the server does not buffer the rest. */
    before = rss_kib(e.srv->pid);
    status = post_chunked(&e, huge, &sent);
    after = rss_kib(e.srv->pid);
    ck_assert_msg(status == 413 || (status == 0 && sent < huge),
                  "chunked upload: status %ld after %zu bytes", status, sent);
    ck_assert_msg(after - before < 16 * 1024, "RSS grew by %ld KiB", after - before);
    ck_assert_int_eq(get_json(&e, "/healthz", NULL, NULL), 200);
    assert_store_empty(&e);
    env_stop(&e);
}
END_TEST

static bool ready_is(env *e, long want)
{
    char url[128];
    ts_response r;
    long status;

    snprintf(url, sizeof(url), "%s/readyz", e->base);
    if (ts_http("GET", url, NULL, NULL, 0, &r) != 0)
        return false;
    status = r.status;
    ts_response_free(&r);
    return status == want;
}

static bool ready_200(void *ctx)
{
    return ready_is(ctx, 200);
}

START_TEST(redis_down_is_503_and_recovers)
{
    env e;
    json_t *r;
    char id[32];

    env_start_with(&e, 1 << 20, false, SECRET, true);
    ck_assert_int_eq(post_pr(&e, "opened", "rd-1", 11, SHA_A, &r), 202);
    snprintf(id, sizeof(id), "%s", jstr(r, "job_id"));
    json_decref(r);

    ts_redis_stop(e.redis);
    ck_assert(ready_is(&e, 503));
    ck_assert_int_eq(post_pr(&e, "opened", "rd-2", 12, SHA_A, &r), 503);
    ck_assert_str_eq(jstr(r, "error"), "redis_unavailable");
    json_decref(r);
    ck_assert_int_eq(get_json(&e, "/healthz", NULL, NULL), 200);

    ts_redis_resume(e.redis);
    ck_assert(ts_wait_until(ready_200, &e, 10000));
    /* GitHub redelivers with the same id: nothing was half-written, so it is new. */
    ck_assert_int_eq(post_pr(&e, "opened", "rd-2", 12, SHA_A, &r), 202);
    json_decref(r);
    ck_assert_int_eq(post_pr(&e, "opened", "rd-2", 12, SHA_A, &r), 200);
    json_decref(r);
    /* The job from before the outage survived the restart (AOF). */
    ck_assert(routed_or_received(job_state(&e, id)));
    ck_assert_uint_eq(count_jobs(&e, ""), 2);
    env_stop(&e);
}
END_TEST

START_TEST(other_events)
{
    env e;
    const char *ping = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}";
    const char *junk = "{\"zen\":";
    json_t *r;

    env_start(&e);
    ck_assert_int_eq(post_event(&e, "ping", "p-1", ping, strlen(ping), SECRET, &r), 200);
    ck_assert_str_eq(jstr(r, "event"), "ping");
    json_decref(r);
    ck_assert_int_eq(post_event(&e, "installation", "i-1", ping, strlen(ping), SECRET, NULL), 200);
    ck_assert_int_eq(
        post_event(&e, "installation_repositories", "i-2", ping, strlen(ping), SECRET, NULL), 200);
    ck_assert_int_eq(post_event(&e, "issues", "o-1", ping, strlen(ping), SECRET, &r), 200);
    ck_assert(json_is_true(json_object_get(r, "ignored")));
    json_decref(r);
    ck_assert_int_eq(post_event(&e, "ping", "p-2", junk, strlen(junk), SECRET, NULL), 400);
    ck_assert_int_eq(post_event(&e, NULL, "p-3", ping, strlen(ping), SECRET, NULL), 400);
    assert_store_empty(&e);
    env_stop(&e);
}
END_TEST

START_TEST(drafts_and_other_actions_are_ignored)
{
    env e;
    char *draft = ts_pr_payload("opened", 5, SHA_A, true, "acme/api");
    char *labeled = ts_pr_payload("labeled", 5, SHA_A, false, "acme/api");
    char *foreign = ts_pr_payload("opened", 5, SHA_A, false, "other/repo");
    json_t *r;

    env_start(&e);
    ck_assert_int_eq(post_event(&e, "pull_request", "x-1", draft, strlen(draft), SECRET, &r), 200);
    ck_assert_ptr_nonnull(strstr(jstr(r, "reason"), "draft"));
    json_decref(r);
    ck_assert_int_eq(post_event(&e, "pull_request", "x-2", labeled, strlen(labeled), SECRET, &r),
                     200);
    ck_assert_ptr_nonnull(strstr(jstr(r, "reason"), "labeled"));
    json_decref(r);
    ck_assert_int_eq(post_event(&e, "pull_request", "x-3", foreign, strlen(foreign), SECRET, &r),
                     200);
    ck_assert_ptr_nonnull(strstr(jstr(r, "reason"), "no policy"));
    json_decref(r);
    ck_assert_uint_eq(count_jobs(&e, ""), 0);
    free(draft);
    free(labeled);
    free(foreign);
    env_stop(&e);
}
END_TEST

START_TEST(job_api_pages_and_validates)
{
    env e;
    json_t *page;
    char path[128], next[32];
    size_t seen = 0;

    env_start(&e);
    for (int i = 0; i < 5; i++) {
        char delivery[16];

        snprintf(delivery, sizeof(delivery), "pg-%d", i);
        ck_assert_int_eq(post_pr(&e, "opened", delivery, 100 + i, SHA_A, NULL), 202);
    }
    snprintf(path, sizeof(path), "/api/v1/jobs?limit=2");
    for (;;) {
        json_t *jobs, *cursor;

        ck_assert_int_eq(get_json(&e, path, NULL, &page), 200);
        jobs = json_object_get(page, "jobs");
        /* Newest first: PR numbers fall across and within pages. */
        for (size_t i = 0; i < json_array_size(jobs); i++) {
            ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(jobs, i), "pr")),
                             104 - (int)seen);
            seen++;
        }
        cursor = json_object_get(page, "next");
        if (json_is_null(cursor)) {
            json_decref(page);
            break;
        }
        snprintf(next, sizeof(next), "%s", json_string_value(cursor));
        snprintf(path, sizeof(path), "/api/v1/jobs?limit=2&cursor=%s", next);
        json_decref(page);
    }
    ck_assert_uint_eq(seen, 5);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs?limit=0", NULL, NULL), 400);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs?limit=1001", NULL, NULL), 400);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs?state=sleeping", NULL, NULL), 400);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs?cursor=abc", NULL, NULL), 400);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs/999999", NULL, NULL), 404);
    ck_assert_int_eq(get_json(&e, "/no/such/route", NULL, NULL), 404);
    env_stop(&e);
}
END_TEST

START_TEST(job_api_requires_operator_token_when_configured)
{
    env e;

    env_start_with(&e, 1 << 20, true, SECRET, false);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs", NULL, NULL), 401);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs", "wrong", NULL), 401);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs", "op-token-2", NULL), 200);
    ck_assert_int_eq(get_json(&e, "/api/v1/jobs/1", "op-token-1", NULL), 404);
    /* Health and metrics stay open for load balancers and Prometheus. */
    ck_assert_int_eq(get_json(&e, "/healthz", NULL, NULL), 200);
    env_stop(&e);
}
END_TEST

static char *get_text(env *e, const char *path)
{
    char url[256];
    ts_response r;
    char *body;

    snprintf(url, sizeof(url), "%s%s", e->base, path);
    ck_assert_int_eq(ts_http("GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    body = r.body;
    r.body = NULL;
    ts_response_free(&r);
    return body;
}

START_TEST(metrics_count_requests_and_deliveries)
{
    env e;
    char *text;

    env_start(&e);
    ck_assert_int_eq(post_pr(&e, "opened", "m-1", 9, SHA_A, NULL), 202);
    ck_assert_int_eq(post_pr(&e, "opened", "m-1", 9, SHA_A, NULL), 200);
    ck_assert_int_eq(post_event(&e, "pull_request", "m-2", "{}", 2, "wrong", NULL), 401);
    text = get_text(&e, "/metrics");
    ck_assert_ptr_nonnull(strstr(
        text, "zoneci_webhook_deliveries_total{event=\"pull_request\",outcome=\"accepted\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "zoneci_webhook_deliveries_total{event=\"pull_request\",outcome=\"duplicate\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        text,
        "zoneci_webhook_deliveries_total{event=\"pull_request\",outcome=\"unauthorized\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "zoneci_http_requests_total{route=\"github_webhook\",status=\"202\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "zoneci_http_request_duration_seconds_count{route=\"github_webhook\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE zoneci_http_request_duration_seconds histogram"));
    ck_assert_ptr_nonnull(strstr(text, "zoneci_redis_errors_total 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "zoneci_build_info{version=\"0.1.0\",icu_tz_data=\"20"));
    /* No secret ever appears in metrics or logs. */
    ck_assert_ptr_null(strstr(text, SECRET));
    free(text);
    text = ts_read_file(e.srv->log, NULL);
    ck_assert_ptr_null(strstr(text, SECRET));
    free(text);
    env_stop(&e);
}
END_TEST

typedef struct big_refused {
    env *e;
    const char *body;
} big_refused;

static bool body_refused(void *ctx)
{
    big_refused *b = ctx;

    return post_event(b->e, "ping", "h-3", b->body, strlen(b->body), SECRET, NULL) == 413;
}

static bool log_has_kept_old(void *ctx)
{
    env *e = ctx;
    char *log = ts_read_file(e->srv->log, NULL);
    bool found = log && strstr(log, "outcome=kept_old");

    free(log);
    return found;
}

START_TEST(sighup_reloads_and_sigterm_drains)
{
    env e;
    char body[3001];
    char *text;
    big_refused b = {&e, body};
    int status;

    env_start(&e);
    memset(body, ' ', sizeof(body) - 1);
    body[0] = '{';
    body[sizeof(body) - 2] = '}';
    body[sizeof(body) - 1] = '\0';
    ck_assert_int_eq(post_event(&e, "ping", "h-1", body, strlen(body), SECRET, NULL), 200);

    /* An invalid file is refused and the old configuration keeps serving. */
    free(ts_write_file(e.dir, "zoneci.json", "{\"server\": {\"listen\": 5}}"));
    kill(e.srv->pid, SIGHUP);
    ck_assert(ts_wait_until(log_has_kept_old, &e, 10000));
    ck_assert_int_eq(post_event(&e, "ping", "h-2", body, strlen(body), SECRET, NULL), 200);

    /* A valid one takes effect: a smaller body cap. */
    text = config_text(&e, 2048, false);
    free(ts_write_file(e.dir, "zoneci.json", text));
    free(text);
    kill(e.srv->pid, SIGHUP);
    ck_assert(ts_wait_until(body_refused, &b, 10000));

    status = ts_proc_signal_wait(e.srv, SIGTERM);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    env_stop(&e);
}
END_TEST

START_TEST(serve_refuses_invalid_config)
{
    char *dir = ts_tmpdir();
    char *path = ts_write_file(dir, "bad.json", "{\"server\": {}, \"bogus\": 1}");
    char *argv[] = {"serve", "--config", path, NULL};
    char *out = NULL, *err = NULL;

    ck_assert_int_ne(ts_zoneci_run(argv, NULL, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(err, "bogus"));
    free(out);
    free(err);
    free(path);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

/* Every payload of the shared fixtures, when present (github/EVENT/), is posted as EVENT: none may
 * be refused, and the pull_request ones that build create a job. */
START_TEST(github_fixture_conformance)
{
    const char *fixtures = ts_fixtures_dir();
    char root[1024];
    DIR *events;
    struct dirent *ev;
    env e;
    int posted = 0, accepted = 0, serial = 0;

    if (!fixtures) {
        fprintf(stderr, "skip: github_fixture_conformance: no shared fixtures folder\n");
        return;
    }
    env_start(&e);
    snprintf(root, sizeof(root), "%s/github", fixtures);
    events = opendir(root);
    ck_assert(events != NULL);
    while ((ev = readdir(events))) {
        char dirpath[1300];
        DIR *files;
        struct dirent *f;

        if (ev->d_name[0] == '.')
            continue;
        snprintf(dirpath, sizeof(dirpath), "%s/%s", root, ev->d_name);
        files = opendir(dirpath);
        if (!files)
            continue;
        while ((f = readdir(files))) {
            char fpath[1600], delivery[32];
            size_t len;
            char *data;
            long status;

            if (!strstr(f->d_name, ".json"))
                continue;
            snprintf(fpath, sizeof(fpath), "%s/%s", dirpath, f->d_name);
            data = ts_read_file(fpath, &len);
            snprintf(delivery, sizeof(delivery), "fx-%d", ++serial);
            status = post_event(&e, ev->d_name, delivery, data, len, SECRET, NULL);
            ck_assert_msg(status == 200 || status == 202, "%s/%s: status %ld", ev->d_name,
                          f->d_name, status);
            posted++;
            accepted += status == 202;
            free(data);
        }
        closedir(files);
    }
    closedir(events);
    ck_assert_int_gt(posted, 0);
    ck_assert_int_gt(accepted, 0);
    ck_assert_uint_eq(count_jobs(&e, ""), (size_t)accepted);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_webhooks(void)
{
    Suite *s = suite_create("e2e_webhooks");
    TCase *tc = tcase_create("github");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pr_life_cycle);
    tcase_add_test(tc, bad_signatures_store_nothing);
    tcase_add_test(tc, secret_rotation_accepts_both);
    tcase_add_test(tc, invalid_payloads_are_400_and_store_nothing);
    tcase_add_test(tc, oversized_bodies_are_413_with_bounded_memory);
    tcase_add_test(tc, redis_down_is_503_and_recovers);
    tcase_add_test(tc, other_events);
    tcase_add_test(tc, drafts_and_other_actions_are_ignored);
    tcase_add_test(tc, job_api_pages_and_validates);
    tcase_add_test(tc, job_api_requires_operator_token_when_configured);
    tcase_add_test(tc, metrics_count_requests_and_deliveries);
    tcase_add_test(tc, sighup_reloads_and_sigterm_drains);
    tcase_add_test(tc, serve_refuses_invalid_config);
    tcase_add_test(tc, github_fixture_conformance);
    suite_add_tcase(s, tc);
    return s;
}
