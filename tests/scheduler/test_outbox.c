/* scheduler/outbox.c against a real redis-server, with injected instants: put, lease,
 * done exactly once (also when processes race), lease expiry, backoff and dead letters,
 * and pending messages surviving a Redis restart (AOF). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_outbox.h"
#include "tests/support/support.h"

#define T0 1773072000000LL
#define LEASE 60000
#define RACE_MSGS 100
#define RACERS 4

static ts_redis *redis;
static sched_store *store;

static void open_store(bool aof)
{
    sched_store_options so = {0};
    core_error err = {0};

    redis = ts_redis_start(aof);
    so.url = redis->url;
    so.prefix = "ob";
    so.pool_size = 2;
    ck_assert_msg(sched_store_new(&store, &so, &err) == 0, "store: %s", err.msg);
}

static void setup(void)
{
    open_store(false);
}

static void teardown(void)
{
    sched_store_free(store);
    store = NULL;
    ts_redis_free(redis);
    redis = NULL;
}

static void put(const char *kind, const char *payload, const char *dedup, int64_t now, char id[32])
{
    core_error err = {0};

    ck_assert_msg(sched_outbox_put(store, kind, payload, dedup, now, id, &err) == 0, "put: %s",
                  err.msg);
}

static void take(int64_t now, sched_outbox_msg *m)
{
    core_error err = {0};

    ck_assert_msg(sched_outbox_take(store, now, LEASE, m, &err) == 0, "take: %s", err.msg);
}

static void counts(int64_t want_pending, int64_t want_dead)
{
    int64_t p = -1, d = -1;

    ck_assert_int_eq(sched_outbox_counts(store, &p, &d, NULL), 0);
    ck_assert_int_eq(p, want_pending);
    ck_assert_int_eq(d, want_dead);
}

static char *field(const char *id, const char *name)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "HGET '{ob}:outbox:%s' %s", id, name);
    return ts_redis_cli(redis, cmd);
}

/* Every time the HTTP API returns has one form: ISO 8601 UTC with milliseconds,
 * "2026-12-04T16:03:00.000Z". */
static bool api_time_ok(const char *s)
{
    int64_t t;

    return s && strlen(s) == 24 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z' &&
           strspn(s + 20, "0123456789") == 3 && core_time_parse_iso(s, &t, NULL) == 0;
}

START_TEST(put_take_done)
{
    char id[32];
    sched_outbox_msg m;
    core_error err = {0};
    char *s;

    put("slack_post", "{\"channel\":\"C1\",\"text\":\"hi\"}", NULL, T0, id);
    ck_assert_str_eq(id, "1");
    counts(1, 0);

    /* Not due before it was put. */
    take(T0 - 1, &m);
    ck_assert(!m.found);

    take(T0, &m);
    ck_assert(m.found);
    ck_assert_str_eq(m.id, id);
    ck_assert_str_eq(m.kind, "slack_post");
    ck_assert_str_eq(m.payload, "{\"channel\":\"C1\",\"text\":\"hi\"}");
    ck_assert_int_eq(m.attempts, 1);
    ck_assert_int_eq(m.created_at, T0);
    ck_assert_int_eq((int)strlen(m.token), 32);

    /* Leased: nobody else gets it meanwhile. */
    {
        sched_outbox_msg other;

        take(T0 + 1000, &other);
        ck_assert(!other.found);
    }
    ck_assert_int_eq(sched_outbox_done_result(store, m.id, m.token, "1712.0001", T0 + 10, &err), 0);
    /* The same lease asking again is fine; the record says done. */
    ck_assert_int_eq(sched_outbox_done(store, m.id, m.token, T0 + 20, &err), 0);
    s = field(id, "state");
    ck_assert_str_eq(s, "done");
    free(s);
    s = field(id, "result");
    ck_assert_str_eq(s, "1712.0001");
    free(s);
    counts(0, 0);
    /* Done never comes back, even after the lease would have run out. */
    {
        sched_outbox_msg again;

        take(T0 + 10 * LEASE, &again);
        ck_assert(!again.found);
    }
    sched_outbox_msg_free(&m);

    ck_assert_int_eq(sched_outbox_done(store, "999", "x", T0, &err), CORE_ENOTFOUND);
    ck_assert_int_eq(sched_outbox_put(store, "Bad-Kind", "{}", NULL, T0, id, &err), CORE_EINVAL);
    ck_assert_int_eq(sched_outbox_put(store, "slack_post", "{}", "", T0, id, &err), CORE_EINVAL);
}
END_TEST

START_TEST(dedup_key_enqueues_once)
{
    char a[32], b[32], c[32];

    put("github_status", "{\"state\":\"pending\"}", "job:7:queued", T0, a);
    put("github_status", "{\"state\":\"pending\"}", "job:7:queued", T0 + 5, b);
    put("github_status", "{\"state\":\"success\"}", "job:7:success", T0 + 6, c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    counts(2, 0);
}
END_TEST

START_TEST(done_with_a_stale_token_changes_nothing)
{
    char id[32];
    sched_outbox_msg first, second;
    core_error err = {0};
    char *s;

    put("slack_post", "{}", NULL, T0, id);
    take(T0, &first);
    ck_assert(first.found);
    /* The first worker stalls past its lease: the message comes back to another one. */
    take(T0 + LEASE, &second);
    ck_assert(second.found);
    ck_assert_str_eq(second.id, id);
    ck_assert_int_eq(second.attempts, 2);
    ck_assert_str_ne(first.token, second.token);

    ck_assert_int_eq(sched_outbox_done(store, id, first.token, T0 + LEASE + 1, &err),
                     CORE_ECONFLICT);
    ck_assert_int_eq(sched_outbox_fail(store, id, first.token, "x", T0, 5, T0, NULL, &err),
                     CORE_ECONFLICT);
    s = field(id, "state");
    ck_assert_str_eq(s, "pending");
    free(s);
    counts(1, 0);
    ck_assert_int_eq(sched_outbox_done(store, id, second.token, T0 + LEASE + 2, &err), 0);
    /* After done, the stale lease still cannot touch it. */
    ck_assert_int_eq(sched_outbox_done(store, id, first.token, T0 + LEASE + 3, &err),
                     CORE_ECONFLICT);
    counts(0, 0);
    sched_outbox_msg_free(&first);
    sched_outbox_msg_free(&second);
}
END_TEST

START_TEST(lease_expiry_returns_a_message)
{
    char id[32];
    sched_outbox_msg m, n;

    put("slack_post", "{}", NULL, T0, id);
    take(T0, &m);
    ck_assert(m.found);
    /* The worker crashed: nothing until the lease runs out, then the message is back. */
    take(T0 + LEASE - 1, &n);
    ck_assert(!n.found);
    take(T0 + LEASE, &n);
    ck_assert(n.found);
    ck_assert_str_eq(n.id, id);
    sched_outbox_msg_free(&m);
    sched_outbox_msg_free(&n);
}
END_TEST

START_TEST(two_processes_race_each_done_once)
{
    pid_t kids[RACERS];
    int total = 0;

    for (int i = 0; i < RACE_MSGS; i++) {
        char id[32], payload[64];

        snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        put("slack_post", payload, NULL, T0, id);
    }
    for (int k = 0; k < RACERS; k++) {
        kids[k] = fork();
        ck_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            /* A process of its own with its own store. Half the time it "stalls" and
             * takes the message again with a later clock (lease expired), so leases are
             * stolen and stale tokens try to finish: still each message is done once. */
            sched_store *s;
            sched_store_options so = {.url = redis->url, .prefix = "ob", .pool_size = 1};
            int done = 0;
            int64_t now = T0;

            if (sched_store_new(&s, &so, NULL) < 0)
                _exit(255);
            for (;;) {
                sched_outbox_msg m;

                if (sched_outbox_take(s, now, 10, &m, NULL) < 0)
                    _exit(254);
                if (!m.found) {
                    int64_t p = 0, d = 0;

                    if (sched_outbox_counts(s, &p, &d, NULL) < 0)
                        _exit(253);
                    if (p == 0)
                        break;
                    now += 10; /* leased elsewhere: wait for it to finish or expire */
                    continue;
                }
                if (sched_outbox_done(s, m.id, m.token, now, NULL) == 0)
                    done++;
                sched_outbox_msg_free(&m);
                now += (k + done) % 3 == 0 ? 11 : 1;
            }
            sched_store_free(s);
            _exit(done);
        }
    }
    for (int k = 0; k < RACERS; k++) {
        int status;

        waitpid(kids[k], &status, 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) <= RACE_MSGS);
        total += WEXITSTATUS(status);
    }
    ck_assert_int_eq(total, RACE_MSGS);
    for (int i = 1; i <= RACE_MSGS; i++) {
        char id[16];
        char *s;

        snprintf(id, sizeof(id), "%d", i);
        s = field(id, "state");
        ck_assert_str_eq(s, "done");
        free(s);
    }
    counts(0, 0);
}
END_TEST

START_TEST(fail_reschedules_then_dead_letters)
{
    char id[32];
    sched_outbox_msg m;
    core_error err = {0};
    bool dead = true;
    unsigned seed = 7;
    int64_t now = T0;
    core_buf b = {0};
    json_t *j, *e;

    put("github_status", "{\"repo\":\"acme/api\"}", NULL, T0, id);
    for (int attempt = 1; attempt <= 3; attempt++) {
        int64_t delay;

        take(now, &m);
        ck_assert(m.found);
        ck_assert_int_eq(m.attempts, attempt);
        delay = sched_outbox_delay_ms(m.attempts, 0, &seed);
        ck_assert_int_eq(sched_outbox_fail(store, m.id, m.token, "http 500: \"oops\"", now + delay,
                                           3, now, &dead, &err),
                         0);
        /* The same lease failing again changes nothing. */
        ck_assert_int_eq(sched_outbox_fail(store, m.id, m.token, "again", now, 3, now, NULL, &err),
                         CORE_ECONFLICT);
        sched_outbox_msg_free(&m);
        if (attempt < 3) {
            sched_outbox_msg early;

            ck_assert(!dead);
            counts(1, 0);
            if (delay > 0) {
                take(now + delay - 1, &early);
                ck_assert(!early.found);
            }
            now += delay;
        } else {
            ck_assert(dead);
            counts(0, 1);
        }
    }
    take(now + 100 * LEASE, &m);
    ck_assert(!m.found);

    ck_assert_int_eq(sched_outbox_dead_list(store, 10, &b, &err), 0);
    j = json_loads(b.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_array_size(json_object_get(j, "dead")), 1);
    e = json_array_get(json_object_get(j, "dead"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "github_status");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "attempts")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(e, "last_error")), "http 500: \"oops\"");
    ck_assert_str_eq(json_string_value(json_object_get(e, "payload")), "{\"repo\":\"acme/api\"}");
    ck_assert(api_time_ok(json_string_value(json_object_get(e, "created_at"))));
    ck_assert(api_time_ok(json_string_value(json_object_get(e, "dead_at"))));
    json_decref(j);
    core_buf_free(&b);
    ck_assert_int_eq(sched_outbox_dead_list(store, 0, &b, &err), CORE_EINVAL);
    core_buf_free(&b);
}
END_TEST

START_TEST(backoff_grows_with_full_jitter_and_a_cap)
{
    unsigned seed = 1;

    for (int attempt = 1; attempt <= 20; attempt++) {
        int64_t cap = attempt >= 10 ? SCHED_OUTBOX_BACKOFF_CAP_MS
                                    : SCHED_OUTBOX_BACKOFF_BASE_MS << (attempt - 1);
        int64_t max = 0;

        if (cap > SCHED_OUTBOX_BACKOFF_CAP_MS)
            cap = SCHED_OUTBOX_BACKOFF_CAP_MS;
        for (int i = 0; i < 200; i++) {
            int64_t d = sched_outbox_backoff_ms(attempt, &seed);

            ck_assert(d >= 0 && d <= cap);
            if (d > max)
                max = d;
        }
        /* Spread over the whole range, not stuck near zero. */
        ck_assert(max > cap / 2);
    }
    /* A peer's Retry-After wins when longer. */
    ck_assert(sched_outbox_delay_ms(1, 30, &seed) == 30000);
    ck_assert(sched_outbox_delay_ms(20, 1, &seed) <= SCHED_OUTBOX_BACKOFF_CAP_MS);
}
END_TEST

static bool redis_up(void *ctx)
{
    (void)ctx;
    return sched_store_ping(store, NULL) == 0;
}

START_TEST(pending_messages_survive_a_redis_restart)
{
    char a[32], b[32];
    sched_outbox_msg m;
    core_error err = {0};

    teardown();
    open_store(true);
    put("slack_post", "{\"n\":1}", NULL, T0, a);
    put("slack_post", "{\"n\":2}", NULL, T0 + 1, b);
    take(T0 + 2, &m);
    ck_assert_int_eq(sched_outbox_done(store, m.id, m.token, T0 + 3, &err), 0);
    sched_outbox_msg_free(&m);

    ts_redis_stop(redis);
    ts_redis_resume(redis);
    /* The store reconnects by itself (its scripts are loaded again). */
    ck_assert(ts_wait_until(redis_up, NULL, 10000));
    counts(1, 0);
    take(T0 + 10, &m);
    ck_assert(m.found);
    ck_assert_str_eq(m.id, b);
    ck_assert_str_eq(m.payload, "{\"n\":2}");
    ck_assert_int_eq(sched_outbox_done(store, m.id, m.token, T0 + 11, &err), 0);
    sched_outbox_msg_free(&m);
    counts(0, 0);
}
END_TEST

/* A GitHub outage: 60 statuses of one commit wait behind the first, which is out (leased)
 * and keeps failing; a Slack card of another job, due after them, must still be taken:
 * one blocked order never holds back another, however many messages it has piled up. */
START_TEST(a_blocked_order_does_not_hold_back_another)
{
    char id[32], card[32];
    sched_outbox_msg m = {0};
    char *out;

    for (int i = 0; i < 60; i++)
        put("github_status", "{}", NULL, T0 + i, id);
    put("slack_card", "{\"job_id\":\"9\",\"card\":0}", NULL, T0 + 100, card);
    /* What status_put and card_put record (Lua): the order field and the order list. */
    out = ts_redis_cli(
        redis, "EVAL \"for i = 1, 60 do redis.call('HSET', '{ob}:outbox:' .. i, 'order', "
               "'gh:acme/api@abc'); redis.call('RPUSH', '{ob}:outbox:order:gh:acme/api@abc', "
               "i) end; redis.call('HSET', '{ob}:outbox:61', 'order', 'card:9'); "
               "redis.call('RPUSH', '{ob}:outbox:order:card:9', 61)\" 0");
    free(out);
    take(T0 + 200, &m);
    ck_assert(m.found);
    ck_assert_str_eq(m.id, "1"); /* the head of the blocked order goes out (and hangs) */
    sched_outbox_msg_free(&m);
    take(T0 + 300, &m);
    ck_assert_msg(m.found, "the card was held back behind 59 blocked statuses");
    ck_assert_str_eq(m.id, card);
    ck_assert_str_eq(m.kind, "slack_card");
    sched_outbox_msg_free(&m);
    take(T0 + 400, &m); /* nothing else may go: the rest wait behind message 1 */
    ck_assert(!m.found);
    sched_outbox_msg_free(&m);
}
END_TEST

/* The head of an order goes out wherever it stands in the due set: three statuses of one
 * commit put in the same millisecond as messages 8, 9 and 10 sort "10", "8", "9" (equal
 * scores sort by member as text), and 10 must not make the order look busy before its
 * head, 8, is seen: that stalled every status of the commit for good. */
START_TEST(the_head_of_an_order_goes_out_whatever_its_place_in_the_due_set)
{
    char id[32];
    sched_outbox_msg m = {0};
    core_error err = {0};
    char *out;

    for (int i = 0; i < 7; i++)
        put("slack_post", "{}", NULL, T0 - 1000, id);
    for (int i = 0; i < 7; i++) { /* out of the way: 1..7 are done */
        take(T0, &m);
        ck_assert(m.found);
        ck_assert_int_eq(sched_outbox_done(store, m.id, m.token, T0, &err), 0);
        sched_outbox_msg_free(&m);
    }
    for (int i = 0; i < 3; i++)
        put("github_status", "{}", NULL, T0 + 5, id);
    ck_assert_str_eq(id, "10");
    out = ts_redis_cli(
        redis, "EVAL \"for i = 8, 10 do redis.call('HSET', '{ob}:outbox:' .. i, 'order', "
               "'gh:acme/api@abc'); redis.call('RPUSH', '{ob}:outbox:order:gh:acme/api@abc', "
               "i) end\" 0");
    free(out);
    for (int want = 8; want <= 10; want++) {
        char w[8];

        snprintf(w, sizeof(w), "%d", want);
        take(T0 + 10 * want, &m);
        ck_assert_msg(m.found, "message %d never went out", want);
        ck_assert_str_eq(m.id, w);
        ck_assert_int_eq(sched_outbox_done(store, m.id, m.token, T0 + 10 * want, &err), 0);
        sched_outbox_msg_free(&m);
    }
}
END_TEST

/* Counts against a Redis that has been shut down are an error the caller sees (/metrics
 * then leaves the gauge out), never zero messages. */
START_TEST(counts_report_a_stopped_redis)
{
    int64_t p = -1, d = -1;
    core_error err = {0};
    char id[32];

    put("slack_post", "{\"n\":1}", NULL, T0, id);
    counts(1, 0);
    ts_redis_stop(redis);
    ck_assert_int_eq(sched_outbox_counts(store, &p, &d, &err), CORE_EUNAVAILABLE);
    ck_assert(err.msg[0] != '\0');
}
END_TEST

Suite *suite_scheduler_outbox(void)
{
    Suite *s = suite_create("scheduler_outbox");
    TCase *tc = tcase_create("outbox");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, put_take_done);
    tcase_add_test(tc, counts_report_a_stopped_redis);
    tcase_add_test(tc, the_head_of_an_order_goes_out_whatever_its_place_in_the_due_set);
    tcase_add_test(tc, dedup_key_enqueues_once);
    tcase_add_test(tc, done_with_a_stale_token_changes_nothing);
    tcase_add_test(tc, lease_expiry_returns_a_message);
    tcase_add_test(tc, two_processes_race_each_done_once);
    tcase_add_test(tc, fail_reschedules_then_dead_letters);
    tcase_add_test(tc, backoff_grows_with_full_jitter_and_a_cap);
    tcase_add_test(tc, pending_messages_survive_a_redis_restart);
    tcase_add_test(tc, a_blocked_order_does_not_hold_back_another);
    suite_add_tcase(s, tc);
    return s;
}
