/* End to end: the HTTP server's own defences with a real `zoneci serve`: one address
 * flooding it with idle connections starves no one else (per-address limit, request
 * timeout, the health listener); authenticated routes refuse an unknown caller before
 * reading its body, the same way whatever it sent; SIGHUP swaps secrets read from files
 * while requests keep flowing. Only loopback addresses. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/support.h"

#define GH_SECRET "srv-webhook-secret"
#define RUNNER_TOKEN "srv-runner-token"
#define PER_IP 16
#define TIMEOUT_S 3
#define FLOOD 300

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    int port, health_port;
    char base[64];
    char health[64];
    char *config;
    char *slack_file;
} env;

static void write_config(env *e)
{
    char *text = NULL;

    ck_assert(asprintf(&text,
                       "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 2,\n"
                       "   \"max_connections\": 64, \"max_connections_per_ip\": %d,\n"
                       "   \"request_timeout_seconds\": %d,\n"
                       "   \"health_listen\": \"127.0.0.1:%d\"},\n"
                       " \"redis\": {\"url\": \"%s\", \"prefix\": \"srv\"},\n"
                       " \"cache_dir\": \"%s/cache\",\n"
                       " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"},\n"
                       " \"slack\": {\"signing_secret_file\": \"%s\",\n"
                       "   \"api_url\": \"http://127.0.0.1:1\"},\n"
                       " \"runners\": {\"tokens_env\": \"ZT_RUNNER_TOKENS\"},\n"
                       " \"regions\": [{\"name\": \"emea-berlin\",\n"
                       "   \"timezone\": \"Europe/Berlin\",\n"
                       "               \"hours\": [\"Mon-Fri 09:00-18:00\"]}],\n"
                       " \"policies\": [{\"repos\": [\"acme/*\"],\n"
                       "   \"regions\": [\"emea-berlin\"]}]}\n",
                       e->port, PER_IP, TIMEOUT_S, e->health_port, e->redis->url, e->dir,
                       e->slack_file) >= 0);
    free(e->config);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
}

static void env_start(env *e)
{
    char *argv[] = {"serve", "--config", NULL, NULL};
    char *envp[] = {"ZT_GH_SECRET=" GH_SECRET, "ZT_RUNNER_TOKENS=" RUNNER_TOKEN, NULL};

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    e->port = ts_free_port();
    do {
        e->health_port = ts_free_port();
    } while (e->health_port == e->port);
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", e->port);
    snprintf(e->health, sizeof(e->health), "http://127.0.0.1:%d", e->health_port);
    e->slack_file = ts_write_file(e->dir, "slack-secret", "old-slack-secret\n");
    write_config(e);
    argv[2] = e->config;
    e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
    free(e->config);
    free(e->slack_file);
}

/* One request from a chosen loopback source address, with a deadline: the status, or 0
 * when none came (refused, closed, timed out). */
static long http_from(const char *source, const char *method, const char *url,
                      const char *const *headers, const char *body, long timeout_ms)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    long status = 0;
    FILE *sink = fopen("/dev/null", "w");

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(sink);
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (source)
        curl_easy_setopt(c, CURLOPT_INTERFACE, source);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(sink);
    return status;
}

/* A signed ping from source. */
static long ping_from(env *e, const char *source, long timeout_ms)
{
    const char *body = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}";
    char sig[128], h_sig[160], url[128];
    const char *headers[] = {h_sig, "X-GitHub-Event: ping", "X-GitHub-Delivery: srv-ping",
                             "Content-Type: application/json", NULL};

    ts_github_signature(GH_SECRET, body, strlen(body), sig);
    snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", sig);
    snprintf(url, sizeof(url), "%s/webhooks/github", e->base);
    return http_from(source, "POST", url, headers, body, timeout_ms);
}

/* A TCP connection from 127.0.0.1 to port, connected (the kernel's backlog answers even
 * when the server refuses it later), or -1. */
static int connect_idle(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The peer closed fd within timeout_ms (EOF or reset). */
static bool closed_within(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[512];

    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    for (int i = 0; i < 8; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
        if (n < 0)
            return false;
    }
    return false;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(one_address_flooding_starves_no_one)
{
    env e;
    int fds[FLOOD];
    int n = 0, held = 0;
    char url[128];
    double t0;

    env_start(&e);
    /* Half idle, half a request's first line and no more (a slow client). */
    for (int i = 0; i < FLOOD; i++) {
        fds[i] = connect_idle(e.port);
        if (fds[i] < 0)
            continue;
        n++;
        if (i % 2) {
            const char *partial = "POST /webhooks/github HTTP/1.1\r\nHost: x\r\n";

            ck_assert_int_gt(send(fds[i], partial, strlen(partial), MSG_NOSIGNAL), 0);
        }
    }
    ck_assert_int_ge(n, FLOOD / 2);
    /* The server keeps at most PER_IP of them: the rest it closes at once. */
    {
        struct timespec settle = {0, 500 * 1000 * 1000};

        nanosleep(&settle, NULL);
    }
    for (int i = 0; i < FLOOD; i++) {
        if (fds[i] >= 0 && !closed_within(fds[i], 0))
            held++;
    }

    /* Another address is served, health checks and signed webhooks alike, promptly. */
    t0 = now_s();
    snprintf(url, sizeof(url), "%s/healthz", e.base);
    ck_assert_int_eq(http_from("127.0.0.2", "GET", url, NULL, NULL, 2000), 200);
    ck_assert_int_eq(ping_from(&e, "127.0.0.2", 2000), 200);
    snprintf(url, sizeof(url), "%s/readyz", e.base);
    ck_assert_int_eq(http_from("127.0.0.2", "GET", url, NULL, NULL, 2000), 200);
    ck_assert_msg(now_s() - t0 < 2.0, "another address waited %.2f s", now_s() - t0);

    /* The health listener answers the flooding address too: its own connections. */
    snprintf(url, sizeof(url), "%s/healthz", e.health);
    ck_assert_int_eq(http_from("127.0.0.1", "GET", url, NULL, NULL, 2000), 200);
    snprintf(url, sizeof(url), "%s/readyz", e.health);
    ck_assert_int_eq(http_from("127.0.0.1", "GET", url, NULL, NULL, 2000), 200);
    snprintf(url, sizeof(url), "%s/metrics", e.health);
    ck_assert_int_eq(http_from("127.0.0.1", "GET", url, NULL, NULL, 2000), 404);

    /* Idle and half-sent connections are closed after the request timeout. */
    for (int i = 0; i < FLOOD; i++) {
        if (fds[i] >= 0)
            ck_assert_msg(closed_within(fds[i], (TIMEOUT_S + 4) * 1000),
                          "connection %d still open after the request timeout", i);
    }
    ck_assert_msg(held <= PER_IP + 2, "the server kept %d connections from one address", held);
    for (int i = 0; i < FLOOD; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    /* And the flooding address is served again once its connections are gone. */
    snprintf(url, sizeof(url), "%s/healthz", e.base);
    ck_assert_int_eq(http_from("127.0.0.1", "GET", url, NULL, NULL, 2000), 200);
    env_stop(&e);
}
END_TEST

/* A raw request: the whole answer the server sends (until it closes or timeout_ms). */
static char *raw_exchange(int port, const char *request, int timeout_ms)
{
    int fd = connect_idle(port);
    char *out = calloc(1, 8192);
    size_t len = 0;
    double deadline = now_s() + timeout_ms / 1000.0;

    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    while (len < 8191 && now_s() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, out + len, 8191 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return out;
}

/* The answer without the Date header (the one line that may differ). */
static void drop_date(char *resp)
{
    char *d = strstr(resp, "Date: ");

    if (d) {
        char *eol = strstr(d, "\r\n");

        if (eol)
            memmove(d, eol + 2, strlen(eol + 2) + 1);
    }
}

START_TEST(unauthenticated_is_401_before_the_body)
{
    static const char *const bodies[] = {
        "{\"runner\":\"r1\",\"region\":\"emea-berlin\",\"wait_seconds\":0}",
        "{\"runner\":\"r1\",\"region\":\"no-such-region\",\"wait_seconds\":0}",
        "{\"runner\":\"r1\",\"region\":\"emea-berlin\",\"wait_seconds\":99}",
        "not json at all",
        "",
    };
    static const char *const auths[] = {"Authorization: Bearer wrong\r\n", ""};
    env e;
    char first[8192] = "";
    char *req = NULL, *resp;

    env_start(&e);
    for (size_t a = 0; a < 2; a++) {
        for (size_t b = 0; b < sizeof(bodies) / sizeof(*bodies); b++) {
            ck_assert(asprintf(&req,
                               "POST /api/v1/runners/claim HTTP/1.1\r\nHost: x\r\n%s"
                               "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                               "Connection: close\r\n\r\n%s",
                               auths[a], strlen(bodies[b]), bodies[b]) >= 0);
            resp = raw_exchange(e.port, req, 2000);
            free(req);
            drop_date(resp);
            ck_assert_msg(strncmp(resp, "HTTP/1.1 401", 12) == 0, "answer: %s", resp);
            if (!first[0])
                snprintf(first, sizeof(first), "%s", resp);
            ck_assert_msg(strcmp(first, resp) == 0, "answers differ:\n%s\n---\n%s", first, resp);
            free(resp);
        }
    }

    /* Not even waited for: a body announced and never sent is answered at once (well
     * before the request timeout, which would close it unanswered). */
    resp = raw_exchange(e.port,
                        "POST /api/v1/runners/claim HTTP/1.1\r\nHost: x\r\n"
                        "Authorization: Bearer wrong\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100000\r\n\r\n{\"region\":",
                        (TIMEOUT_S - 1) * 1000);
    drop_date(resp);
    ck_assert_msg(strcmp(first, resp) == 0, "unread body answered:\n%s", resp);
    free(resp);
    resp = raw_exchange(e.port,
                        "POST /api/v1/jobs/123/heartbeat HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 5000\r\n\r\n",
                        (TIMEOUT_S - 1) * 1000);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 401", 12) == 0, "heartbeat: %s", resp);
    free(resp);
    resp = raw_exchange(e.port,
                        "POST /api/v1/jobs/123/approve HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 5000\r\n\r\n",
                        (TIMEOUT_S - 1) * 1000);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 401", 12) == 0, "approve: %s", resp);
    free(resp);
    resp = raw_exchange(e.port,
                        "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: ping\r\n"
                        "Content-Length: 5000\r\n\r\n",
                        (TIMEOUT_S - 1) * 1000);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 401", 12) == 0, "github: %s", resp);
    free(resp);

    /* No route, or the wrong method: answered without the body too. */
    resp = raw_exchange(e.port, "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
                        (TIMEOUT_S - 1) * 1000);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 404", 12) == 0, "no route: %s", resp);
    free(resp);
    resp = raw_exchange(e.port,
                        "PUT /api/v1/runners/claim HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 5000\r\n\r\n",
                        (TIMEOUT_S - 1) * 1000);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 405", 12) == 0, "wrong method: %s", resp);
    free(resp);

    /* The route table's edges: "{id}" is one non-empty segment, nothing may follow a
     * route, and a known path with another method is 405 (HEAD wherever GET is). */
    {
        static const struct {
            const char *request;
            const char *status;
        } edges[] = {
            {"GET /api/v1/jobs/", "404"},
            {"GET /api/v1/jobs/1/", "404"},
            {"POST /api/v1/jobs/1/nothing", "404"},
            {"POST /api/v1/jobs//heartbeat", "404"},
            {"POST /api/v1/jobs/1/heartbeat/x", "404"},
            {"GET /metricsx", "404"},
            {"GET /healthz/", "404"},
            {"GET /api/v1/jobs/1/heartbeat", "405"},
            {"GET /api/v1/jobs/1/approve", "405"},
            {"POST /api/v1/jobs", "405"},
            {"GET /webhooks/github", "405"},
            {"POST /healthz", "405"},
            {"HEAD /healthz", "200"},
            {"GET /healthz", "200"},
        };
        char line[256];

        for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
            snprintf(line, sizeof(line),
                     "%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     edges[i].request);
            resp = raw_exchange(e.port, line, 2000);
            ck_assert_msg(strncmp(resp, "HTTP/1.1 ", 9) == 0 &&
                              strncmp(resp + 9, edges[i].status, 3) == 0,
                          "%s: expected %s, got %.40s", edges[i].request, edges[i].status, resp);
            free(resp);
        }
    }

    /* The right token still gets its body judged. */
    resp = raw_exchange(e.port,
                        "POST /api/v1/runners/claim HTTP/1.1\r\nHost: x\r\n"
                        "Authorization: Bearer " RUNNER_TOKEN "\r\n"
                        "Content-Type: application/json\r\nContent-Length: 15\r\n"
                        "Connection: close\r\n\r\nnot json at all",
                        2000);
    ck_assert_msg(strncmp(resp, "HTTP/1.1 400", 12) == 0, "with the token: %s", resp);
    free(resp);
    env_stop(&e);
}
END_TEST

static long slack_post(env *e, const char *secret)
{
    const char *form = "nothing=1";
    char url[128], ts[32], sig[80], h_ts[96], h_sig[120];
    const char *headers[] = {h_ts, h_sig, "Content-Type: application/x-www-form-urlencoded", NULL};

    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    ts_slack_signature(secret, ts, form, strlen(form), sig);
    snprintf(h_ts, sizeof(h_ts), "X-Slack-Request-Timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "X-Slack-Signature: %s", sig);
    snprintf(url, sizeof(url), "%s/webhooks/slack/interactions", e->base);
    return http_from(NULL, "POST", url, headers, form, 5000);
}

typedef struct traffic {
    env *e;
    atomic_bool stop;
    atomic_int done, failed;
    long last_bad;
} traffic;

/* Requests one after another until told to stop (at most 5000, or 60 s). */
static void *traffic_main(void *arg)
{
    traffic *t = arg;
    char url[128];
    double deadline = now_s() + 60;

    snprintf(url, sizeof(url), "%s/api/v1/jobs", t->e->base);
    for (int i = 0; i < 5000 && !atomic_load(&t->stop) && now_s() < deadline; i++) {
        long st =
            i % 2 ? ping_from(t->e, NULL, 5000) : http_from(NULL, "GET", url, NULL, NULL, 5000);

        if (st != 200) {
            atomic_fetch_add(&t->failed, 1);
            t->last_bad = st;
        }
        atomic_fetch_add(&t->done, 1);
    }
    return NULL;
}

typedef struct slack_check {
    env *e;
    const char *secret;
} slack_check;

static bool slack_accepts(void *ctx)
{
    slack_check *c = ctx;

    /* 400: the signature passed and the form was judged (it has no payload). */
    return slack_post(c->e, c->secret) == 400;
}

START_TEST(sighup_swaps_secrets_while_requests_flow)
{
    env e;
    traffic t = {0};
    pthread_t th[2];
    slack_check fresh = {&e, "new-slack-secret"};
    int before;

    env_start(&e);
    t.e = &e;
    ck_assert_int_eq(slack_post(&e, "old-slack-secret"), 400);
    ck_assert_int_eq(slack_post(&e, "new-slack-secret"), 401);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, traffic_main, &t), 0);

    /* The file changes, the process environment does not: SIGHUP reads it again. */
    free(ts_write_file(e.dir, "slack-secret", "new-slack-secret\n"));
    kill(e.srv->pid, SIGHUP);
    ck_assert(ts_wait_until(slack_accepts, &fresh, 10000));
    ck_assert_int_eq(slack_post(&e, "old-slack-secret"), 401);

    /* More reloads under load: every request in flight is answered as usual. */
    for (int i = 0; i < 5; i++) {
        struct timespec pause = {0, 150 * 1000 * 1000};

        before = atomic_load(&t.done);
        kill(e.srv->pid, SIGHUP);
        nanosleep(&pause, NULL);
        for (int w = 0; w < 100 && atomic_load(&t.done) < before + 4; w++)
            nanosleep(&pause, NULL);
    }
    atomic_store(&t.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_gt(atomic_load(&t.done), 20);
    ck_assert_msg(atomic_load(&t.failed) == 0, "%d of %d requests failed (last status %ld)",
                  atomic_load(&t.failed), atomic_load(&t.done), t.last_bad);
    ck_assert(slack_accepts(&fresh));
    ck_assert_int_eq(ts_proc_signal_wait(e.srv, SIGTERM), 0);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_server(void)
{
    Suite *s = suite_create("e2e_server");
    TCase *tc = tcase_create("server");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_address_flooding_starves_no_one);
    tcase_add_test(tc, unauthenticated_is_401_before_the_body);
    tcase_add_test(tc, sighup_swaps_secrets_while_requests_flow);
    suite_add_tcase(s, tc);
    return s;
}
