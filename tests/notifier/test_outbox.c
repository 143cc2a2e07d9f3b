/* notifier/outbox.c end to end: a real redis-server holds the outbox, a local
 * libmicrohttpd server plays GitHub (installation tokens, commit statuses) and Slack
 * (chat.postMessage, chat.update), and a pool of workers delivers: each message exactly
 * once, after retries on 500, later on 429 with Retry-After, dead after max_attempts,
 * and what was pending when a pool stopped is delivered by the next one. */
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "scheduler/scheduler.h"
#include "tests/support/support.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define WAIT_MS 20000

typedef struct fake {
    struct MHD_Daemon *d;
    int port;
    char base[128];
    pthread_mutex_t mu;
    core_buf delivered; /* bodies of deliveries answered 2xx, one per line */
    int requests;       /* delivery requests (statuses, chat.*), whatever the answer */
    int token_requests;
    int fail_n;                /* answer the next fail_n deliveries 500 */
    bool always_500;           /* answer every delivery 500 */
    int ratelimit_n;           /* answer the next ratelimit_n deliveries 429, Retry-After: 2 */
    int64_t first_ms, last_ms; /* monotonic instants of the first and last delivery */
} fake;

static ts_redis *redis;
static sched_store *store;
static fake *gh;
static char *private_key;

static const char *test_key(void)
{
    if (!private_key) {
        EVP_PKEY *pkey = EVP_RSA_gen(2048);
        BIO *a = BIO_new(BIO_s_mem());
        char *p;
        long n;

        ck_assert_ptr_nonnull(pkey);
        ck_assert_int_eq(PEM_write_bio_PrivateKey(a, pkey, NULL, NULL, 0, NULL, NULL), 1);
        n = BIO_get_mem_data(a, &p);
        private_key = core_strndup(p, (size_t)n);
        BIO_free(a);
        EVP_PKEY_free(pkey);
    }
    return private_key;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *body,
                              const char *retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ok;

    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_ctx)
{
    fake *f = cls;
    core_buf *body = *req_ctx;
    bool slack =
        strcmp(url, "/slack/chat.postMessage") == 0 || strcmp(url, "/slack/chat.update") == 0;
    long long id;
    enum MHD_Result ok;

    (void)version;
    (void)method;
    if (!body) {
        *req_ctx = calloc(1, sizeof(core_buf));
        return MHD_YES;
    }
    if (*upload_size) {
        core_buf_append(body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&f->mu);
    if (sscanf(url, "/gh/app/installations/%lld/access_tokens", &id) == 1) {
        char out[256], iso[CORE_ISO_MAX];

        f->token_requests++;
        core_time_format_iso(core_time_now_ms() + 3600 * 1000, iso);
        snprintf(out, sizeof(out), "{\"token\":\"ghs_fake\",\"expires_at\":\"%s\"}", iso);
        ok = answer(conn, 201, out, NULL);
    } else if (slack || (strncmp(url, "/gh/repos/", 10) == 0 && strstr(url, "/statuses/"))) {
        f->requests++;
        f->last_ms = core_time_mono_ms();
        if (f->requests == 1)
            f->first_ms = f->last_ms;
        if (f->always_500 || f->fail_n > 0) {
            if (f->fail_n > 0)
                f->fail_n--;
            ok = answer(conn, 500, "{\"message\":\"boom\"}", NULL);
        } else if (f->ratelimit_n > 0) {
            f->ratelimit_n--;
            ok = answer(conn, 429, "{\"ok\":false,\"error\":\"ratelimited\"}", "2");
        } else {
            core_buf_append(&f->delivered, body->data ? body->data : "", body->len);
            core_buf_puts(&f->delivered, "\n");
            ok = slack ? answer(conn, 200, "{\"ok\":true,\"ts\":\"1712345678.000100\"}", NULL)
                       : answer(conn, 201, "{\"id\":1}", NULL);
        }
    } else {
        ok = answer(conn, 404, "{\"message\":\"Not Found\"}", NULL);
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_ctx,
                      enum MHD_RequestTerminationCode code)
{
    core_buf *body = *req_ctx;

    (void)cls;
    (void)conn;
    (void)code;
    if (body) {
        core_buf_free(body);
        free(body);
        *req_ctx = NULL;
    }
}

static fake *fake_start(void)
{
    fake *f = calloc(1, sizeof(*f));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    pthread_mutex_init(&f->mu, NULL);
    f->port = ts_free_port();
    sa.sin_port = htons((uint16_t)f->port);
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            (uint16_t)f->port, NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, f,
                            MHD_OPTION_END);
    ck_assert_msg(f->d != NULL, "cannot start the fake on port %d", f->port);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
    return f;
}

static void fake_stop(fake *f)
{
    MHD_stop_daemon(f->d);
    core_buf_free(&f->delivered);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static void setup(void)
{
    sched_store_options so = {0};
    core_error err = {0};

    redis = ts_redis_start(false);
    so.url = redis->url;
    so.prefix = "nob";
    so.pool_size = 4;
    ck_assert_msg(sched_store_new(&store, &so, &err) == 0, "store: %s", err.msg);
    gh = fake_start();
}

static void teardown(void)
{
    fake_stop(gh);
    sched_store_free(store);
    ts_redis_free(redis);
}

static notify_outbox *pool(int max_attempts, bool with_slack)
{
    char gh_url[160], slack_url[160];
    notify_outbox_config cfg = {0};
    notify_outbox *ob = NULL;
    core_error err = {0};

    snprintf(gh_url, sizeof(gh_url), "%s/gh", gh->base);
    snprintf(slack_url, sizeof(slack_url), "%s/slack", gh->base);
    cfg.github_api_url = gh_url;
    cfg.github_app_id = 12345;
    cfg.github_private_key = test_key();
    cfg.github_key_len = strlen(test_key());
    if (with_slack) {
        cfg.slack_api_url = slack_url;
        cfg.slack_bot_token = "xoxb-test";
    }
    cfg.n_workers = 3;
    cfg.max_attempts = max_attempts;
    cfg.poll_ms = 50;
    ck_assert_msg(notify_outbox_start(&ob, store, &cfg, &err) == 0, "start: %s", err.msg);
    return ob;
}

static void put_github(int n, char id[32])
{
    char payload[512];
    core_error err = {0};

    snprintf(payload, sizeof(payload),
             "{\"installation_id\":42,\"repo\":\"acme/api\",\"sha\":\"" SHA "\","
             "\"state\":\"pending\",\"description\":\"[m%d] queued\","
             "\"target_url\":\"https://zoneci.example/jobs/%d\"}",
             n, n);
    ck_assert_msg(
        sched_outbox_put(store, "github_status", payload, NULL, core_time_now_ms(), id, &err) == 0,
        "put: %s", err.msg);
}

static void put_slack(int n, char id[32])
{
    char payload[512];
    core_error err = {0};

    snprintf(payload, sizeof(payload),
             "{\"channel\":\"C123\",\"text\":\"[m%d] approve?\",\"blocks\":[{\"type\":"
             "\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"[m%d]\"}}]}",
             n, n);
    ck_assert_msg(
        sched_outbox_put(store, "slack_post", payload, NULL, core_time_now_ms(), id, &err) == 0,
        "put: %s", err.msg);
}

/* How many delivered bodies mention marker "[mN]". */
static int delivered_count(int n)
{
    char marker[32];
    int count = 0;

    snprintf(marker, sizeof(marker), "[m%d]", n);
    pthread_mutex_lock(&gh->mu);
    for (const char *line = gh->delivered.data; line && *line;) {
        const char *end = strchr(line, '\n');
        char *one = core_strndup(line, (size_t)(end - line));

        if (strstr(one, marker))
            count++;
        free(one);
        line = end + 1;
    }
    pthread_mutex_unlock(&gh->mu);
    return count;
}

static int want_delivered;
static bool all_delivered(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < want_delivered; i++)
        if (delivered_count(i) < 1)
            return false;
    return true;
}

static bool outbox_empty(void *ctx)
{
    int64_t p = -1, d = -1;

    (void)ctx;
    return sched_outbox_counts(store, &p, &d, NULL) == 0 && p == 0;
}

static bool one_dead(void *ctx)
{
    int64_t p = -1, d = -1;

    (void)ctx;
    return sched_outbox_counts(store, &p, &d, NULL) == 0 && d == 1 && p == 0;
}

START_TEST(each_message_delivered_exactly_once)
{
    notify_outbox *ob;
    char id[32];
    notify_outbox_stats st;

    for (int i = 0; i < 10; i++) {
        if (i % 2)
            put_slack(i, id);
        else
            put_github(i, id);
    }
    ob = pool(5, true);
    notify_outbox_kick(ob);
    want_delivered = 10;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    ck_assert(ts_wait_until(outbox_empty, NULL, WAIT_MS));
    notify_outbox_stats_get(ob, &st);
    notify_outbox_stop(ob);
    for (int i = 0; i < 10; i++)
        ck_assert_msg(delivered_count(i) == 1, "message %d delivered %d times", i,
                      delivered_count(i));
    ck_assert_int_eq(gh->requests, 10);
    ck_assert_int_eq(st.delivered, 10);
    /* One installation token for all the statuses: cached, shared by the workers (two may
     * race for the first one). */
    ck_assert(gh->token_requests >= 1 && gh->token_requests <= 3);
}
END_TEST

START_TEST(delivered_after_500s)
{
    notify_outbox *ob;
    char id[32];
    int64_t p, d;

    gh->fail_n = 2;
    put_github(0, id);
    ob = pool(5, true);
    want_delivered = 1;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    ck_assert(ts_wait_until(outbox_empty, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->requests, 3);
    ck_assert_int_eq(delivered_count(0), 1);
    ck_assert_int_eq(sched_outbox_counts(store, &p, &d, NULL), 0);
    ck_assert_int_eq(d, 0);
}
END_TEST

START_TEST(retry_after_on_429_is_honoured)
{
    notify_outbox *ob;
    char id[32];

    gh->ratelimit_n = 1;
    put_slack(0, id);
    ob = pool(5, true);
    want_delivered = 1;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->requests, 2);
    /* Retry-After: 2 beats the first backoff (at most 1 s). */
    ck_assert_msg(gh->last_ms - gh->first_ms >= 1900, "retried after %lld ms",
                  (long long)(gh->last_ms - gh->first_ms));
}
END_TEST

START_TEST(always_500_is_dead_after_max_attempts)
{
    notify_outbox *ob;
    char id[32];
    core_buf b = {0};
    json_t *j, *e;
    notify_outbox_stats st;

    gh->always_500 = true;
    put_github(0, id);
    ob = pool(3, true);
    ck_assert(ts_wait_until(one_dead, NULL, WAIT_MS));
    notify_outbox_stats_get(ob, &st);
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->requests, 3);
    ck_assert_int_eq(st.dead, 1);
    ck_assert_int_eq(st.retried, 2);
    ck_assert_int_eq(sched_outbox_dead_list(store, 10, &b, NULL), 0);
    j = json_loads(b.data, 0, NULL);
    e = json_array_get(json_object_get(j, "dead"), 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), id);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "attempts")), 3);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "last_error")), "500"));
    json_decref(j);
    core_buf_free(&b);
}
END_TEST

START_TEST(unconfigured_kind_fails_clearly_then_dead)
{
    notify_outbox *ob;
    char id[32];
    core_buf b = {0};

    put_slack(0, id);
    ob = pool(2, false);
    ck_assert(ts_wait_until(one_dead, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->requests, 0);
    ck_assert_int_eq(sched_outbox_dead_list(store, 10, &b, NULL), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "slack bot token not configured"));
    core_buf_free(&b);
}
END_TEST

START_TEST(invalid_payload_is_dead_at_once)
{
    notify_outbox *ob;
    char id[32];

    ck_assert_int_eq(sched_outbox_put(store, "github_status", "{\"repo\":\"acme/api\"}", NULL,
                                      core_time_now_ms(), id, NULL),
                     0);
    ob = pool(5, true);
    ck_assert(ts_wait_until(one_dead, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->requests, 0);
}
END_TEST

START_TEST(a_new_pool_delivers_what_was_pending)
{
    notify_outbox *ob = pool(5, true);
    char id[32];

    /* The first pool goes away with nothing to do; messages put while no zoneci runs
     * wait in Redis, and the next pool delivers them, once. */
    notify_outbox_stop(ob);
    for (int i = 0; i < 4; i++)
        put_github(i, id);
    ck_assert_int_eq(gh->requests, 0);
    ob = pool(5, true);
    want_delivered = 4;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    ck_assert(ts_wait_until(outbox_empty, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(delivered_count(i), 1);
}
END_TEST

Suite *suite_notifier_outbox(void)
{
    Suite *s = suite_create("notifier_outbox");
    TCase *tc = tcase_create("outbox");

    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, each_message_delivered_exactly_once);
    tcase_add_test(tc, delivered_after_500s);
    tcase_add_test(tc, retry_after_on_429_is_honoured);
    tcase_add_test(tc, always_500_is_dead_after_max_attempts);
    tcase_add_test(tc, unconfigured_kind_fails_clearly_then_dead);
    tcase_add_test(tc, invalid_payload_is_dead_at_once);
    tcase_add_test(tc, a_new_pool_delivers_what_was_pending);
    suite_add_tcase(s, tc);
    return s;
}
