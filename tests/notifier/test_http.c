/* notifier/http.c against a local ts_peer stood up by each test: methods and bodies,
 * headers, statuses, Retry-After, timeouts, refused connections, body caps, connection
 * reuse, aborts, and error messages that never quote a secret. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "tests/support/support.h"

#define BIG_BYTES (NOTIFY_HTTP_MAX_BODY + 1024 * 1024)
/* /slow outlasts every client timeout here; ts_peer_stop cuts it short. */
#define SLOW_MS 10000

/* The test server: routes by path, records the last request. The peer's lock guards it. */
typedef struct fake {
    ts_peer *peer;
    char *big;            /* BIG_BYTES of 'b': /exact, /big and /big-chunked send from it */
    unsigned connections; /* the highest connection number a request came on */
    int requests;
    char method[16];
    char path[128];
    char x_test[128];
    char auth[128];
    char content_type[128];
    char content_length[32];
    bool had_expect;
    core_buf body;
} fake;

static void copy_header(const ts_peer_request *req, const char *name, char *dst, size_t len)
{
    const char *v = req->header(req, name);

    snprintf(dst, len, "%s", v ? v : "");
}

static void record(fake *f, const ts_peer_request *req)
{
    f->requests++;
    if (req->connection > f->connections)
        f->connections = req->connection;
    snprintf(f->method, sizeof(f->method), "%s", req->method);
    snprintf(f->path, sizeof(f->path), "%s", req->url);
    copy_header(req, "X-Test", f->x_test, sizeof(f->x_test));
    snprintf(f->auth, sizeof(f->auth), "%s", req->authorization);
    snprintf(f->content_type, sizeof(f->content_type), "%s", req->content_type);
    copy_header(req, "Content-Length", f->content_length, sizeof(f->content_length));
    f->had_expect = req->header(req, "Expect") != NULL;
    core_buf_reset(&f->body);
    core_buf_append(&f->body, req->body, req->body_len);
}

/* Sends n bytes of the big buffer, announced by Content-Length or streamed without. */
static void send_big(fake *f, size_t n, bool chunked, ts_peer_answer *ans)
{
    ans->data = f->big;
    ans->data_len = n;
    ans->chunked = chunked;
}

static void play(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    fake *f = ctx;
    const char *url = req->url;

    record(f, req);
    if (strcmp(url, "/echo") == 0) {
        ans->data = req->body;
        ans->data_len = req->body_len;
    } else if (strncmp(url, "/status/", 8) == 0) {
        ans->status = (unsigned)atoi(url + 8);
        snprintf(ans->body, sizeof(ans->body), "status");
    } else if (strcmp(url, "/retry") == 0) {
        ans->status = 503;
        ans->retry_after = "7";
        snprintf(ans->body, sizeof(ans->body), "busy");
    } else if (strcmp(url, "/retry-long") == 0) {
        ans->status = 429;
        ans->retry_after = "Wed, 21 Oct 2015 07:28:00 GMT and a great deal more text";
        snprintf(ans->body, sizeof(ans->body), "busy");
    } else if (strcmp(url, "/slow") == 0) {
        ans->delay_ms = SLOW_MS;
        snprintf(ans->body, sizeof(ans->body), "late");
    } else if (strcmp(url, "/exact") == 0) {
        send_big(f, NOTIFY_HTTP_MAX_BODY, false, ans);
    } else if (strcmp(url, "/big") == 0) {
        send_big(f, BIG_BYTES, false, ans);
    } else if (strcmp(url, "/big-chunked") == 0) {
        send_big(f, BIG_BYTES, true, ans);
    } else {
        ans->status = 404;
        snprintf(ans->body, sizeof(ans->body), "no");
    }
}

static fake *fake_start(void)
{
    fake *f = calloc(1, sizeof(*f));

    ck_assert_ptr_nonnull(f);
    f->big = malloc(BIG_BYTES);
    ck_assert_ptr_nonnull(f->big);
    memset(f->big, 'b', BIG_BYTES);
    f->peer = ts_peer_start(play, f);
    return f;
}

static void fake_stop(fake *f)
{
    ts_peer_stop(f->peer);
    core_buf_free(&f->body);
    free(f->big);
    free(f);
}

static unsigned connections(fake *f)
{
    unsigned n;

    ts_peer_lock(f->peer);
    n = f->connections;
    ts_peer_unlock(f->peer);
    return n;
}

static char *url_of(const fake *f, const char *path)
{
    static char url[256];

    snprintf(url, sizeof(url), "%s%s", ts_peer_base(f->peer), path);
    return url;
}

START_TEST(get_and_post_bodies)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    const char *json = "{\"text\":\"hello\"}";
    const char *hdrs[] = {"Content-Type: application/json", NULL};

    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(f->method, "GET");
    ck_assert_uint_eq(r.body.len, 0);
    ck_assert_ptr_nonnull(r.body.data);
    ck_assert_str_eq(r.body.data, "");
    notify_http_response_free(&r);

    ck_assert_int_eq(notify_http_request(h, "POST", url_of(f, "/echo"), hdrs, json, strlen(json),
                                         5000, &r, &err),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(f->method, "POST");
    ck_assert_str_eq(f->body.data, json);
    ck_assert_str_eq(r.body.data, json);
    ck_assert_str_eq(f->content_type, "application/json");
    notify_http_response_free(&r);

    /* Binary bodies go as they are, NUL bytes included. */
    ck_assert_int_eq(
        notify_http_request(h, "PATCH", url_of(f, "/echo"), NULL, "a\0b", 3, 5000, &r, &err), 0);
    ck_assert_str_eq(f->method, "PATCH");
    ck_assert_uint_eq(r.body.len, 3);
    ck_assert_int_eq(memcmp(r.body.data, "a\0b", 3), 0);
    notify_http_response_free(&r);

    /* PUT without a body still says how long it is (GitHub insists); HEAD has no body. */
    ck_assert_int_eq(
        notify_http_request(h, "PUT", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_str_eq(f->method, "PUT");
    ck_assert_str_eq(f->content_length, "0");
    notify_http_response_free(&r);
    ck_assert_int_eq(
        notify_http_request(h, "HEAD", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(f->method, "HEAD");
    notify_http_response_free(&r);
    ck_assert_int_eq(
        notify_http_request(h, "DELETE", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_str_eq(f->method, "DELETE");
    notify_http_response_free(&r);

    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(headers_sent_without_expect)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    const char *hdrs[] = {"X-Test: hello there", "Authorization: Bearer abc123",
                          "Content-Type: application/json", NULL};
    size_t n = 2 * 1024 * 1024;
    char *big = malloc(n);

    /* A body this large would make libcurl ask "Expect: 100-continue" by default. */
    memset(big, 'p', n);
    ck_assert_int_eq(
        notify_http_request(h, "POST", url_of(f, "/echo"), hdrs, big, n, 10000, &r, &err), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(f->x_test, "hello there");
    ck_assert_str_eq(f->auth, "Bearer abc123");
    ck_assert_str_eq(f->content_type, "application/json");
    ck_assert(!f->had_expect);
    ck_assert_uint_eq(f->body.len, n);
    ck_assert_int_eq(memcmp(f->body.data, big, n), 0);
    ck_assert_uint_eq(r.body.len, n);
    notify_http_response_free(&r);

    /* No Content-Type is made up when the caller sets none. */
    ck_assert_int_eq(
        notify_http_request(h, "POST", url_of(f, "/echo"), NULL, "x=1", 3, 5000, &r, &err), 0);
    ck_assert_str_eq(f->content_type, "");
    ck_assert_str_eq(f->x_test, "");
    notify_http_response_free(&r);
    free(big);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(status_codes_are_responses)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    static const long codes[] = {201, 204, 302, 400, 404, 409, 500, 502};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char path[32];

        snprintf(path, sizeof(path), "/status/%ld", codes[i]);
        ck_assert_int_eq(
            notify_http_request(h, "POST", url_of(f, path), NULL, "{}", 2, 5000, &r, &err), 0);
        ck_assert_int_eq(r.status, codes[i]);
        ck_assert_str_eq(r.retry_after, "");
        notify_http_response_free(&r);
    }
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(retry_after_captured)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};

    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/retry"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.retry_after, "7");
    ck_assert_str_eq(r.body.data, "busy");
    notify_http_response_free(&r);
    ck_assert_str_eq(r.retry_after, "");

    /* The next response on the same handle starts clean. */
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_str_eq(r.retry_after, "");
    notify_http_response_free(&r);

    /* Too long for the field: dropped, not cut. */
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/retry-long"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_int_eq(r.status, 429);
    ck_assert_str_eq(r.retry_after, "");
    notify_http_response_free(&r);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(timeout_is_unavailable)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    char host[64];
    int64_t start = core_time_mono_ms();

    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/slow"), NULL, NULL, 0, 300, &r, &err),
        CORE_EUNAVAILABLE);
    ck_assert_int_lt(core_time_mono_ms() - start, 5000);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(r.body.data);
    snprintf(host, sizeof(host), "127.0.0.1:%d", ts_peer_port(f->peer));
    ck_assert_msg(strstr(err.msg, host) != NULL, "message: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "300 ms") != NULL, "message: %s", err.msg);
    notify_http_response_free(&r);

    /* The handle is still good after a timeout. */
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    ck_assert_int_eq(r.status, 200);
    notify_http_response_free(&r);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(refused_is_unavailable_and_discreet)
{
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    int port = ts_free_port();
    const char *hdrs[] = {"Authorization: Bearer sekret-token-value", NULL};
    char url[256], host[64];

    snprintf(url, sizeof(url), "http://user:hunter2@127.0.0.1:%d/services/T0PATHSECRET?key=qs9",
             port);
    ck_assert_int_eq(notify_http_request(h, "POST", url, hdrs, "{}", 2, 5000, &r, &err),
                     CORE_EUNAVAILABLE);
    ck_assert_int_eq(err.code, CORE_EUNAVAILABLE);
    snprintf(host, sizeof(host), "127.0.0.1:%d", port);
    ck_assert_msg(strstr(err.msg, host) != NULL, "message: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "refused") != NULL, "message: %s", err.msg);
    ck_assert(strstr(err.msg, "hunter2") == NULL);
    ck_assert(strstr(err.msg, "user") == NULL);
    ck_assert(strstr(err.msg, "T0PATHSECRET") == NULL);
    ck_assert(strstr(err.msg, "qs9") == NULL);
    ck_assert(strstr(err.msg, "sekret") == NULL);
    notify_http_response_free(&r);
    notify_http_free(h);
}
END_TEST

START_TEST(oversized_response_too_big)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};

    /* Announced by Content-Length, then streamed without one: both stop at the cap. */
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/big"), NULL, NULL, 0, 10000, &r, &err),
        CORE_ETOOBIG);
    ck_assert_ptr_null(r.body.data);
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/big-chunked"), NULL, NULL, 0, 10000, &r, &err),
        CORE_ETOOBIG);
    ck_assert_ptr_null(r.body.data);
    ck_assert_msg(strstr(err.msg, "127.0.0.1") != NULL, "message: %s", err.msg);

    /* Exactly the cap is fine. */
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/exact"), NULL, NULL, 0, 10000, &r, &err), 0);
    ck_assert_uint_eq(r.body.len, NOTIFY_HTTP_MAX_BODY);
    notify_http_response_free(&r);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(connection_reused)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http *other = ts_notify_client();
    notify_http_response r;
    core_error err = {0};

    ck_assert_int_eq(
        notify_http_request(h, "POST", url_of(f, "/echo"), NULL, "1", 1, 5000, &r, &err), 0);
    notify_http_response_free(&r);
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/status/500"), NULL, NULL, 0, 5000, &r, &err), 0);
    notify_http_response_free(&r);
    ck_assert_int_eq(
        notify_http_request(h, "POST", url_of(f, "/echo"), NULL, "3", 1, 5000, &r, &err), 0);
    notify_http_response_free(&r);
    ck_assert_int_eq(f->requests, 3);
    ck_assert_uint_eq(connections(f), 1);

    /* Another handle has connections of its own. */
    ck_assert_int_eq(
        notify_http_request(other, "GET", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    notify_http_response_free(&r);
    ck_assert_uint_eq(connections(f), 2);
    notify_http_free(other);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

static bool abort_now(void *ctx)
{
    int *calls = ctx;

    return ++*calls >= 1;
}

START_TEST(abort_callback_stops_request)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    int calls = 0;
    int64_t start = core_time_mono_ms();

    notify_http_set_abort(h, abort_now, &calls);
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/slow"), NULL, NULL, 0, 20000, &r, &err),
        CORE_EAGAIN);
    ck_assert_int_lt(core_time_mono_ms() - start, 5000);
    ck_assert_int_ge(calls, 1);

    notify_http_set_abort(h, NULL, NULL);
    ck_assert_int_eq(
        notify_http_request(h, "GET", url_of(f, "/echo"), NULL, NULL, 0, 5000, &r, &err), 0);
    notify_http_response_free(&r);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(bad_input_refused)
{
    notify_http *h = ts_notify_client();
    notify_http_response r;
    core_error err = {0};
    const char *crlf[] = {"X-Test: a\r\nX-Evil: b", NULL};
    const char *nocolon[] = {"X-Test", NULL};
    const char *noname[] = {": value", NULL};
    const char *many[NOTIFY_HTTP_MAX_HEADERS + 2];
    const char *url = "http://127.0.0.1:9/";

    for (int i = 0; i <= NOTIFY_HTTP_MAX_HEADERS; i++)
        many[i] = "X-A: b";
    many[NOTIFY_HTTP_MAX_HEADERS + 1] = NULL;
    ck_assert_int_eq(notify_http_request(h, "BREW", url, NULL, NULL, 0, 1000, &r, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(
        notify_http_request(h, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0, 1000, &r, &err),
        CORE_EINVAL);
    ck_assert_int_eq(notify_http_request(h, "GET", "not a url", NULL, NULL, 0, 1000, &r, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(notify_http_request(h, "GET", url, crlf, NULL, 0, 1000, &r, &err),
                     CORE_EINVAL);
    ck_assert(strstr(err.msg, "Evil") == NULL);
    ck_assert_int_eq(notify_http_request(h, "GET", url, nocolon, NULL, 0, 1000, &r, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(notify_http_request(h, "GET", url, noname, NULL, 0, 1000, &r, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(notify_http_request(h, "GET", url, many, NULL, 0, 1000, &r, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(notify_http_request(h, "GET", url, NULL, NULL, 0, 0, &r, &err), CORE_EINVAL);
    ck_assert_int_eq(notify_http_request(h, "HEAD", url, NULL, "x", 1, 1000, &r, &err),
                     CORE_EINVAL);
    notify_http_response_free(&r);
    notify_http_free(h);
    notify_http_free(NULL);
}
END_TEST

Suite *suite_notifier_http(void)
{
    Suite *s = suite_create("notifier_http");
    TCase *tc = tcase_create("http");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, get_and_post_bodies);
    tcase_add_test(tc, headers_sent_without_expect);
    tcase_add_test(tc, status_codes_are_responses);
    tcase_add_test(tc, retry_after_captured);
    tcase_add_test(tc, timeout_is_unavailable);
    tcase_add_test(tc, refused_is_unavailable_and_discreet);
    tcase_add_test(tc, oversized_response_too_big);
    tcase_add_test(tc, connection_reused);
    tcase_add_test(tc, abort_callback_stops_request);
    tcase_add_test(tc, bad_input_refused);
    suite_add_tcase(s, tc);
    return s;
}
