/* notifier/redeliver.c, one run at a time, against a real redis-server and a local
 * ts_peer that plays GitHub's deliveries API (two deliveries a page, cursor paging by
 * Link header). Time is injected: the 3-day bound needs no waiting. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_redelivery.h"
#include "tests/support/support.h"

#define T0 1773072000000LL /* 2026-03-09T16:00:00Z */
#define MINUTE 60000LL
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define N_MAX 16
#define PAGE 2

typedef struct item {
    int64_t id;
    char guid[32];
    const char *event;
    int status;
    int64_t at_ms;
    bool redelivery;
} item;

/* GitHub as the peer plays it; guarded by the peer's lock. */
typedef struct fake {
    char base[64];
    item list[N_MAX]; /* oldest first; served newest first */
    int n;
    int64_t attempts[N_MAX]; /* ids whose attempt was accepted */
    int n_attempts;
    int list_requests;
    unsigned list_status;    /* 0: 200 */
    unsigned attempt_status; /* 0: 202 */
    const char *retry_after;
} fake;

static ts_redis *redis;
static sched_store *store;
static ts_peer *peer;
static fake *gh_fake;
static notify_github *gh;
static struct notify_http *http;

static void play(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    fake *f = ctx;
    long long id;

    if (strcmp(req->url, "/app/hook/deliveries") == 0) {
        const char *cursor = req->arg(req, "cursor");
        int start = cursor ? atoi(cursor) : 0, end = start + PAGE;
        core_buf b = {0};

        f->list_requests++;
        if (f->list_status) {
            ans->status = f->list_status;
            ans->retry_after = f->retry_after;
            snprintf(ans->body, sizeof(ans->body), "{\"message\":\"no\"}");
            return;
        }
        if (end > f->n)
            end = f->n;
        core_buf_puts(&b, "[");
        for (int i = start; i < end; i++) {
            const item *d = &f->list[f->n - 1 - i];
            char iso[CORE_ISO_MAX];

            core_time_format_iso(d->at_ms, iso);
            core_buf_printf(&b,
                            "%s{\"id\":%lld,\"guid\":\"%s\",\"delivered_at\":\"%s\","
                            "\"redelivery\":%s,\"status_code\":%d,\"event\":\"%s\","
                            "\"action\":\"opened\"}",
                            i > start ? "," : "", (long long)d->id, d->guid, iso,
                            d->redelivery ? "true" : "false", d->status, d->event);
        }
        core_buf_puts(&b, "]");
        snprintf(ans->body, sizeof(ans->body), "%s", b.data);
        core_buf_free(&b);
        if (end < f->n)
            snprintf(ans->link, sizeof(ans->link),
                     "<%s/app/hook/deliveries?per_page=100&cursor=%d>; rel=\"next\", "
                     "<%s/app/hook/deliveries?per_page=100&cursor=0>; rel=\"first\"",
                     f->base, end, f->base);
        return;
    }
    if (sscanf(req->url, "/app/hook/deliveries/%lld/attempts", &id) == 1) {
        if (f->attempt_status) {
            ans->status = f->attempt_status;
            ans->retry_after = f->retry_after;
            snprintf(ans->body, sizeof(ans->body), "{\"message\":\"no\"}");
            return;
        }
        if (f->n_attempts < N_MAX)
            f->attempts[f->n_attempts++] = id;
        ans->status = 202;
        snprintf(ans->body, sizeof(ans->body), "{}");
        return;
    }
    ans->status = 404;
}

static void setup(void)
{
    sched_store_options o = {.prefix = "zr", .pool_size = 2};
    const char *key = ts_rsa_key_pem();
    core_error err = {0};

    redis = ts_redis_start(false);
    o.url = redis->url;
    ck_assert_int_eq(sched_store_new(&store, &o, &err), 0);
    gh_fake = calloc(1, sizeof(*gh_fake));
    ck_assert_ptr_nonnull(gh_fake);
    peer = ts_peer_start(play, gh_fake);
    snprintf(gh_fake->base, sizeof(gh_fake->base), "%s", ts_peer_base(peer));
    ck_assert_msg(notify_github_new(&gh, ts_peer_base(peer), 4242, key, strlen(key), &err) == 0,
                  "%s", err.msg);
    http = ts_notify_client();
}

static void teardown(void)
{
    notify_http_free(http);
    notify_github_free(gh);
    ts_peer_stop(peer);
    free(gh_fake);
    sched_store_free(store);
    ts_redis_free(redis);
}

static void add(int64_t id, const char *guid, const char *event, int status, int64_t at_ms,
                bool redelivery)
{
    item *d;

    ts_peer_lock(peer);
    ck_assert_int_lt(gh_fake->n, N_MAX);
    d = &gh_fake->list[gh_fake->n++];
    *d = (item){
        .id = id, .event = event, .status = status, .at_ms = at_ms, .redelivery = redelivery};
    snprintf(d->guid, sizeof(d->guid), "%s", guid);
    ts_peer_unlock(peer);
}

/* Intake accepted guid (as a pull_request delivery would be). */
static void accept_guid(const char *guid, int pr)
{
    sched_pr_ref ref = {.repo = "acme/app",
                        .pr = pr,
                        .head_sha = "0123456789abcdef0123456789abcdef01234567",
                        .installation_id = 42};
    sched_intake in;
    core_error err = {0};

    ck_assert_msg(sched_intake_pull_request(store, guid, &ref, T0, &in, &err) == 0, "%s", err.msg);
}

static int run(const notify_redeliver_limits *lim, notify_redeliver_result *res, core_error *err)
{
    notify_redeliver_limits none = {.pause_ms = -1};

    return notify_redeliver_run(store, gh, http, lim ? lim : &none, T0, res, err);
}

static int attempts(int64_t *out)
{
    int n;

    ts_peer_lock(peer);
    n = gh_fake->n_attempts;
    memcpy(out, gh_fake->attempts, sizeof(gh_fake->attempts));
    ts_peer_unlock(peer);
    return n;
}

static int list_requests(void)
{
    int n;

    ts_peer_lock(peer);
    n = gh_fake->list_requests;
    gh_fake->list_requests = 0;
    ts_peer_unlock(peer);
    return n;
}

START_TEST(pages_back_to_the_mark_and_asks_once)
{
    notify_redeliver_result res;
    core_error err = {0};
    int64_t a[N_MAX], mark;

    add(101, "g-101", "pull_request", 202, T0 - 7 * HOUR, false);
    add(102, "g-102", "pull_request", 503, T0 - 6 * HOUR, false);
    add(103, "g-103", "pull_request", 503, T0 - 5 * HOUR, false); /* accepted after all */
    add(104, "g-104", "pull_request", 0, T0 - 4 * HOUR, false);   /* timed out */
    add(105, "g-105", "issues", 503, T0 - 3 * HOUR, false);       /* zoneci keeps no state */
    add(106, "g-106", "pull_request", 400, T0 - 2 * HOUR, false); /* would be refused again */
    add(107, "g-102", "pull_request", 503, T0 - 1 * HOUR, true);  /* g-102 again, failed */
    accept_guid("g-103", 3);

    ck_assert_msg(run(NULL, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_COMPLETE);
    ck_assert_int_eq(res.pages, 4);
    ck_assert_int_eq(list_requests(), 4);
    ck_assert_int_eq(res.examined, 7);
    ck_assert_int_eq(res.accepted, 1);
    ck_assert_int_eq(res.asked_before, 1);
    ck_assert_int_eq(res.requested, 2);
    ck_assert_int_eq(res.mark, 107);
    ck_assert_int_eq(attempts(a), 2);
    ck_assert_int_eq(a[0], 107); /* newest first: g-102 through its latest delivery */
    ck_assert_int_eq(a[1], 104);
    ck_assert_int_eq(sched_redelivery_mark_get(store, &mark, NULL), 0);
    ck_assert_int_eq(mark, 107);

    /* Nothing new: one page, stopped at the mark, nothing asked. */
    ck_assert_int_eq(run(NULL, &res, &err), 0);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_COMPLETE);
    ck_assert_int_eq(res.pages, 1);
    ck_assert_int_eq(res.examined, 0);
    ck_assert_int_eq(res.requested, 0);
    ck_assert_int_eq(attempts(a), 2);

    /* A new failure: only it is asked for. */
    add(108, "g-108", "pull_request", 502, T0 - 10 * MINUTE, false);
    list_requests();
    ck_assert_int_eq(run(NULL, &res, &err), 0);
    ck_assert_int_eq(res.examined, 1);
    ck_assert_int_eq(res.requested, 1);
    ck_assert_int_eq(list_requests(), 1);
    ck_assert_int_eq(attempts(a), 3);
    ck_assert_int_eq(a[2], 108);
    ck_assert_int_eq(res.mark, 108);

    /* A delivery a few seconds old does not move the mark (one started before it may not
     * be listed yet): the next run looks at it again, and asks nothing twice. */
    add(109, "g-109", "pull_request", 503, T0 - 10000, false);
    ck_assert_int_eq(run(NULL, &res, &err), 0);
    ck_assert_int_eq(res.requested, 1);
    ck_assert_int_eq(res.mark, 108);
    ck_assert_int_eq(run(NULL, &res, &err), 0);
    ck_assert_int_eq(res.examined, 1);
    ck_assert_int_eq(res.asked_before, 1);
    ck_assert_int_eq(res.requested, 0);
    ck_assert_int_eq(attempts(a), 4);
}
END_TEST

START_TEST(never_further_than_three_days)
{
    notify_redeliver_result res;
    core_error err = {0};
    int64_t a[N_MAX];

    add(200, "g-200", "pull_request", 503, T0 - 6 * DAY, false);
    add(201, "g-201", "pull_request", 503, T0 - 5 * DAY, false);
    add(202, "g-202", "pull_request", 503, T0 - 3 * DAY - 1000, false);
    add(203, "g-203", "pull_request", 503, T0 - HOUR, false);
    add(204, "g-204", "pull_request", 503, T0 - 10 * MINUTE, false);

    ck_assert_msg(run(NULL, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_COMPLETE);
    ck_assert_int_eq(res.requested, 2);
    ck_assert_int_eq(attempts(a), 2);
    ck_assert_int_eq(a[0], 204);
    ck_assert_int_eq(a[1], 203);
    /* The second page reached past 3 days: the third was never asked for. */
    ck_assert_int_eq(list_requests(), 2);
    ck_assert_int_eq(res.mark, 204);
}
END_TEST

START_TEST(refusals_end_the_run_and_the_next_run_asks_again)
{
    notify_redeliver_result res;
    core_error err = {0};
    int64_t a[N_MAX], mark;

    add(301, "g-301", "pull_request", 503, T0 - 3 * HOUR, false);
    add(302, "g-302", "pull_request", 503, T0 - 2 * HOUR, false);
    add(303, "g-303", "pull_request", 503, T0 - 1 * HOUR, false);

    /* Rate-limited on the first attempt: the run stops, says how long to wait. */
    ts_peer_lock(peer);
    gh_fake->attempt_status = 429;
    gh_fake->retry_after = "7";
    ts_peer_unlock(peer);
    ck_assert_int_eq(run(NULL, &res, &err), CORE_EAGAIN);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_FAILED);
    ck_assert_int_eq(res.retry_after_s, 7);
    ck_assert_int_eq(res.requested, 0);
    ck_assert_int_eq(res.refused, 1);

    /* GitHub fails. */
    ts_peer_lock(peer);
    gh_fake->attempt_status = 500;
    gh_fake->retry_after = NULL;
    ts_peer_unlock(peer);
    ck_assert_int_eq(run(NULL, &res, &err), CORE_EUNAVAILABLE);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_FAILED);
    ck_assert_int_eq(res.refused, 1);

    /* The list itself fails, or is rate-limited. */
    ts_peer_lock(peer);
    gh_fake->attempt_status = 0;
    gh_fake->list_status = 500;
    ts_peer_unlock(peer);
    ck_assert_int_eq(run(NULL, &res, &err), CORE_EUNAVAILABLE);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_FAILED);
    ck_assert_int_eq(res.pages, 0);
    ts_peer_lock(peer);
    gh_fake->list_status = 429;
    gh_fake->retry_after = "30";
    ts_peer_unlock(peer);
    ck_assert_int_eq(run(NULL, &res, &err), CORE_EAGAIN);
    ck_assert_int_eq(res.retry_after_s, 30);
    ck_assert_int_eq(sched_redelivery_mark_get(store, &mark, NULL), 0);
    ck_assert_int_eq(mark, 0); /* a failed run never moves the mark */
    ck_assert_int_eq(attempts(a), 0);

    /* GitHub is fine again: every one is asked for, each once. */
    ts_peer_lock(peer);
    gh_fake->list_status = 0;
    gh_fake->retry_after = NULL;
    ts_peer_unlock(peer);
    ck_assert_int_eq(run(NULL, &res, &err), 0);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_COMPLETE);
    ck_assert_int_eq(res.requested, 3);
    ck_assert_int_eq(res.mark, 303);
    ck_assert_int_eq(attempts(a), 3);
}
END_TEST

START_TEST(bounded_per_run_and_one_run_at_a_time)
{
    notify_redeliver_limits two = {.max_per_run = 2, .pause_ms = 1};
    notify_redeliver_result res;
    core_error err = {0};
    int64_t a[N_MAX], mark;
    char *out;

    add(401, "g-401", "pull_request", 503, T0 - 3 * HOUR, false);
    add(402, "g-402", "pull_request", 503, T0 - 2 * HOUR, false);
    add(403, "g-403", "pull_request", 503, T0 - 1 * HOUR, false);

    ck_assert_int_eq(run(&two, &res, &err), 0);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_PARTIAL);
    ck_assert_int_eq(res.requested, 2);
    ck_assert_int_eq(sched_redelivery_mark_get(store, &mark, NULL), 0);
    ck_assert_int_eq(mark, 0); /* 401 is still to examine */
    ck_assert_int_eq(run(&two, &res, &err), 0);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_COMPLETE);
    ck_assert_int_eq(res.asked_before, 2);
    ck_assert_int_eq(res.requested, 1);
    ck_assert_int_eq(attempts(a), 3);
    ck_assert_int_eq(a[2], 401);
    ck_assert_int_eq(res.mark, 403);

    /* Another process holds the lock: nothing is listed. */
    out = ts_redis_cli(redis, "SET '{zr}:redelivery:lock' other PX 60000");
    free(out);
    list_requests();
    ck_assert_int_eq(run(NULL, &res, &err), 0);
    ck_assert_int_eq(res.outcome, NOTIFY_REDELIVER_LOCKED);
    ck_assert_int_eq(list_requests(), 0);
}
END_TEST

Suite *suite_notifier_redeliver(void)
{
    Suite *s = suite_create("notifier_redeliver");
    TCase *tc = tcase_create("run");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pages_back_to_the_mark_and_asks_once);
    tcase_add_test(tc, never_further_than_three_days);
    tcase_add_test(tc, refusals_end_the_run_and_the_next_run_asks_again);
    tcase_add_test(tc, bounded_per_run_and_one_run_at_a_time);
    suite_add_tcase(s, tc);
    return s;
}
