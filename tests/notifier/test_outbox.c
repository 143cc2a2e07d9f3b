/* notifier/outbox.c end to end: a real redis-server holds the outbox, a local ts_peer
 * plays GitHub (installation tokens, commit statuses) and Slack (chat.postMessage,
 * chat.update), and a pool of workers delivers: each message exactly
 * once, after retries on 500, later on 429 with Retry-After, dead after max_attempts,
 * and what was pending when a pool stopped is delivered by the next one. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_outbox.h"
#include "tests/support/support.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define WAIT_MS 20000

/* What the peer delivered, and how it answers. The peer's lock guards it. */
typedef struct fake {
    ts_peer *peer;
    core_buf delivered; /* bodies of deliveries answered 2xx, one per line */
    int requests;       /* delivery requests (statuses, chat.*), whatever the answer */
    int token_requests;
    int fail_n;                /* answer the next fail_n deliveries 500 */
    bool always_500;           /* answer every delivery 500 */
    int ratelimit_n;           /* answer the next ratelimit_n deliveries 429, Retry-After: 2 */
    int64_t first_ms, last_ms; /* monotonic instants of the first and last delivery */
    char slack_auth[128];      /* the Authorization of the last Slack call */
    int responses;             /* POSTs to /respond/... (a click's response_url) */
    char respond_auth[128];    /* the Authorization of the last of them ("" for none) */
} fake;

static ts_redis *redis;
static sched_store *store;
static fake *gh;

static void answer(ts_peer_answer *ans, unsigned status, const char *body, const char *retry_after)
{
    ans->status = status;
    ans->retry_after = retry_after;
    snprintf(ans->body, sizeof(ans->body), "%s", body);
}

static void access_token(fake *f, ts_peer_answer *ans)
{
    char out[256], iso[CORE_ISO_MAX];

    f->token_requests++;
    core_time_format_iso(core_time_now_ms() + 3600 * 1000, iso);
    snprintf(out, sizeof(out), "{\"token\":\"ghs_fake\",\"expires_at\":\"%s\"}", iso);
    answer(ans, 201, out, NULL);
}

/* A status or a Slack call: fails as the test says, or is delivered. */
static void delivery(fake *f, const ts_peer_request *req, bool slack, ts_peer_answer *ans)
{
    f->requests++;
    if (slack)
        snprintf(f->slack_auth, sizeof(f->slack_auth), "%s", req->authorization);
    f->last_ms = core_time_mono_ms();
    if (f->requests == 1)
        f->first_ms = f->last_ms;
    if (f->always_500 || f->fail_n > 0) {
        if (f->fail_n > 0)
            f->fail_n--;
        answer(ans, 500, "{\"message\":\"boom\"}", NULL);
    } else if (f->ratelimit_n > 0) {
        f->ratelimit_n--;
        answer(ans, 429, "{\"ok\":false,\"error\":\"ratelimited\"}", "2");
    } else {
        core_buf_append(&f->delivered, req->body, req->body_len);
        core_buf_puts(&f->delivered, "\n");
        if (slack)
            answer(ans, 200, "{\"ok\":true,\"ts\":\"1712345678.000100\"}", NULL);
        else
            answer(ans, 201, "{\"id\":1}", NULL);
    }
}

static void play(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    fake *f = ctx;
    const char *url = req->url;
    bool slack =
        strcmp(url, "/slack/chat.postMessage") == 0 || strcmp(url, "/slack/chat.update") == 0;
    long long id;

    if (sscanf(url, "/gh/app/installations/%lld/access_tokens", &id) == 1) {
        access_token(f, ans);
    } else if (strncmp(url, "/respond/", 9) == 0) {
        f->responses++;
        snprintf(f->respond_auth, sizeof(f->respond_auth), "%s", req->authorization);
        delivery(f, req, false, ans);
        if (ans->status == 201)
            answer(ans, 200, "ok", NULL);
    } else if (slack || (strncmp(url, "/gh/repos/", 10) == 0 && strstr(url, "/statuses/"))) {
        delivery(f, req, slack, ans);
    } else {
        answer(ans, 404, "{\"message\":\"Not Found\"}", NULL);
    }
}

static fake *fake_start(void)
{
    fake *f = calloc(1, sizeof(*f));

    ck_assert_ptr_nonnull(f);
    f->peer = ts_peer_start(play, f);
    return f;
}

static void fake_stop(fake *f)
{
    ts_peer_stop(f->peer);
    core_buf_free(&f->delivered);
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

    snprintf(gh_url, sizeof(gh_url), "%s/gh", ts_peer_base(gh->peer));
    snprintf(slack_url, sizeof(slack_url), "%s/slack", ts_peer_base(gh->peer));
    cfg.github_api_url = gh_url;
    cfg.github_app_id = 12345;
    cfg.github_private_key = ts_rsa_key_pem();
    cfg.github_key_len = strlen(ts_rsa_key_pem());
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
    ts_peer_lock(gh->peer);
    for (const char *line = gh->delivered.data; line && *line;) {
        const char *end = strchr(line, '\n');
        char *one = core_strndup(line, (size_t)(end - line));

        if (strstr(one, marker))
            count++;
        free(one);
        line = end + 1;
    }
    ts_peer_unlock(gh->peer);
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

/* A reload's new credentials reach the running pool: the next delivery uses them. */
START_TEST(new_credentials_apply_to_the_next_delivery)
{
    notify_outbox *ob = pool(5, true);
    notify_outbox_config cfg = {0};
    char slack_url[160], id[32];
    core_error err = {0};

    put_slack(0, id);
    want_delivered = 1;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    ts_peer_lock(gh->peer);
    ck_assert_str_eq(gh->slack_auth, "Bearer xoxb-test");
    ts_peer_unlock(gh->peer);

    snprintf(slack_url, sizeof(slack_url), "%s/slack", ts_peer_base(gh->peer));
    cfg.slack_api_url = slack_url;
    cfg.slack_bot_token = "xoxb-rotated";
    ck_assert_int_eq(notify_outbox_set_credentials(ob, &cfg, &err), 0);
    put_slack(1, id);
    want_delivered = 2;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    ts_peer_lock(gh->peer);
    ck_assert_str_eq(gh->slack_auth, "Bearer xoxb-rotated");
    ts_peer_unlock(gh->peer);

    /* A key GitHub's client refuses leaves the old credentials in force. */
    cfg.github_api_url = slack_url;
    cfg.github_private_key = "not a key";
    cfg.github_key_len = 9;
    ck_assert_int_lt(notify_outbox_set_credentials(ob, &cfg, &err), 0);
    put_slack(2, id);
    want_delivered = 3;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    notify_outbox_stop(ob);
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

/* ---- slack_response: a click's ephemeral answer ----------------------------------------- */

static void put_response(const char *url, int64_t created_ms, char id[32])
{
    char payload[512];
    core_error err = {0};

    snprintf(payload, sizeof(payload), "{\"url\":\"%s\",\"text\":\"[m0] You cannot decide\"}", url);
    ck_assert_msg(sched_outbox_put(store, "slack_response", payload, NULL, created_ms, id, &err) ==
                      0,
                  "put: %s", err.msg);
}

/* The last dead message's last_error (malloc'd). */
static char *dead_error(void)
{
    core_buf b = {0};
    json_t *j;
    char *out;

    ck_assert_int_eq(sched_outbox_dead_list(store, 10, &b, NULL), 0);
    j = json_loads(b.data, 0, NULL);
    out = strdup(json_string_value(
        json_object_get(json_array_get(json_object_get(j, "dead"), 0), "last_error")));
    json_decref(j);
    core_buf_free(&b);
    return out;
}

/* Delivered as Slack wants it: ephemeral, not replacing the card, and no credentials. */
START_TEST(slack_response_posts_an_ephemeral_without_credentials)
{
    notify_outbox *ob = pool(10, true);
    char url[256], id[32];
    json_t *j;

    snprintf(url, sizeof(url), "%s/respond/T1/123/abc", ts_peer_base(gh->peer));
    put_response(url, core_time_now_ms(), id);
    want_delivered = 1;
    ck_assert(ts_wait_until(all_delivered, NULL, WAIT_MS));
    ck_assert(ts_wait_until(outbox_empty, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ts_peer_lock(gh->peer);
    ck_assert_int_eq(gh->responses, 1);
    ck_assert_str_eq(gh->respond_auth, "");
    j = json_loads(gh->delivered.data, JSON_DISABLE_EOF_CHECK, NULL);
    ts_peer_unlock(gh->peer);
    ck_assert_str_eq(json_string_value(json_object_get(j, "response_type")), "ephemeral");
    ck_assert(json_is_false(json_object_get(j, "replace_original")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "text")), "[m0] You cannot decide");
    json_decref(j);
}
END_TEST

/* The URL in Redis is checked again: one on a host that is neither Slack's nor the
 * configured api_url's is never contacted, and the message is dead at once. */
START_TEST(slack_response_to_another_host_is_never_sent)
{
    fake *other = fake_start();
    notify_outbox *ob = pool(10, true);
    char url[256], id[32], *why;

    snprintf(url, sizeof(url), "%s/respond/T1/123/abc", ts_peer_base(other->peer));
    put_response(url, core_time_now_ms(), id);
    ck_assert(ts_wait_until(one_dead, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ts_peer_lock(other->peer);
    ck_assert_int_eq(other->requests + other->responses, 0);
    ts_peer_unlock(other->peer);
    ck_assert_int_eq(gh->responses, 0);
    why = dead_error();
    ck_assert_msg(strstr(why, "response_url refused"), "%s", why);
    free(why);
    fake_stop(other);
}
END_TEST

/* Older than NOTIFY_SLACK_RESPONSE_TTL_MS: dead unsent (response_url lives 30 minutes). */
START_TEST(slack_response_too_old_is_dead_unsent)
{
    notify_outbox *ob = pool(10, true);
    char url[256], id[32], *why;

    snprintf(url, sizeof(url), "%s/respond/T1/123/abc", ts_peer_base(gh->peer));
    put_response(url, core_time_now_ms() - NOTIFY_SLACK_RESPONSE_TTL_MS - 1000, id);
    ck_assert(ts_wait_until(one_dead, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->responses, 0);
    why = dead_error();
    ck_assert_msg(strstr(why, "not sent any more"), "%s", why);
    free(why);
}
END_TEST

/* Slack's 404 for an expired or used-up URL ends it at once; 500s are retried, but no more
 * than NOTIFY_SLACK_RESPONSE_ATTEMPTS times, whatever the pool's max_attempts. */
START_TEST(slack_response_attempts_are_capped)
{
    notify_outbox *ob = pool(10, true);
    char url[256], id[32];

    gh->always_500 = true;
    snprintf(url, sizeof(url), "%s/respond/T1/123/abc", ts_peer_base(gh->peer));
    put_response(url, core_time_now_ms(), id);
    ck_assert(ts_wait_until(one_dead, NULL, 40000));
    notify_outbox_stop(ob);
    ck_assert_int_eq(gh->responses, NOTIFY_SLACK_RESPONSE_ATTEMPTS);
}
END_TEST

START_TEST(slack_response_gone_is_dead_at_once)
{
    notify_outbox *ob = pool(10, true);
    char url[256], id[32], *why;

    snprintf(url, sizeof(url), "%s/nowhere/T1/123/abc", ts_peer_base(gh->peer));
    put_response(url, core_time_now_ms(), id);
    ck_assert(ts_wait_until(one_dead, NULL, WAIT_MS));
    notify_outbox_stop(ob);
    why = dead_error();
    ck_assert_msg(strstr(why, "404"), "%s", why);
    free(why);
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
    tcase_add_test(tc, new_credentials_apply_to_the_next_delivery);
    tcase_add_test(tc, invalid_payload_is_dead_at_once);
    tcase_add_test(tc, a_new_pool_delivers_what_was_pending);
    tcase_add_test(tc, slack_response_posts_an_ephemeral_without_credentials);
    tcase_add_test(tc, slack_response_to_another_host_is_never_sent);
    tcase_add_test(tc, slack_response_too_old_is_dead_unsent);
    tcase_add_test(tc, slack_response_attempts_are_capped);
    tcase_add_test(tc, slack_response_gone_is_dead_at_once);
    suite_add_tcase(s, tc);
    return s;
}
