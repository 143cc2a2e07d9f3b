/* Delivery recovery: GitHub never retries a failed webhook delivery, so deliveries that
 * zoneci answered 503 while Redis was down (or never answered) are asked for again
 * through the App's webhook-deliveries API. The Redis side (lock, mark, GUIDs asked for)
 * is scheduler/redelivery.c; this file pages through GitHub's list and asks. */
#include "notifier/notifier.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_redelivery.h"

/* Longer than a run can take (RUN_BUDGET_MS plus one request's timeout), so that the lock
 * never expires under a live run, yet a crashed holder frees it in minutes. */
#define LOCK_MS (15 * 60 * 1000)
#define RUN_BUDGET_MS (10 * 60 * 1000)
#define TICK_MS 1000
/* The mark never passes a delivery younger than this: GitHub numbers a delivery when it
 * starts, and one still waiting on zoneci (a Redis timeout) may be listed after a newer
 * one that finished first. Younger ones are examined again next run (asked ones are
 * skipped by GUID); the margin also covers a clock skew between GitHub and us. */
#define MARK_GRACE_MS (5 * 60 * 1000)
/* Runs started by Redis errors are this far apart at least: errors that go on (a script
 * failing on every webhook, a flapping Redis) must not turn into a GitHub call a second. */
#define RECOVERY_GAP_MS 30000

static const char *const outcome_names[NOTIFY_REDELIVER_OUTCOMES] = {"complete", "partial",
                                                                     "failed", "locked"};

/* A delivery zoneci may have missed: only pull_request deliveries leave state behind,
 * and only an answer that was not one (none, a timeout, 429, 5xx) means "not handled";
 * a 4xx other than those would be refused again. */
static bool failed_delivery(const notify_github_delivery *d)
{
    int code = d->status_code;

    return strcmp(d->event, "pull_request") == 0 &&
           (code == 0 || code == 408 || code == 429 || code >= 500);
}

static bool stop_asked(const notify_redeliver_limits *lim)
{
    return lim->should_stop && lim->should_stop(lim->stop_ctx);
}

/* Sleeps ms in short slices; false when a stop was asked meanwhile. */
static bool pause_for(const notify_redeliver_limits *lim, int ms)
{
    while (ms > 0) {
        int slice = ms < 50 ? ms : 50;

        if (stop_asked(lim))
            return false;
        poll(NULL, 0, slice);
        ms -= slice;
    }
    return !stop_asked(lim);
}

/* Asks for one delivery. 0, or the error that must end the run (the GUID is then given
 * back so that the next run asks again). */
static int ask(struct sched_store *store, notify_github *gh, notify_http *http,
               const notify_github_delivery *d, int64_t now_ms, notify_redeliver_result *res,
               core_error *err)
{
    int retry_after_s = 0;
    int rc = notify_github_redeliver(gh, http, d->id, now_ms, &retry_after_s, err);

    if (rc == 0) {
        res->requested++;
        CORE_LOG(CORE_LOG_INFO, "redelivery_requested",
                 "delivery_id=%" PRId64 " delivery=%s gh_event=%s action=%s status=%d", d->id,
                 d->guid, d->event, d->action[0] ? d->action : "-", d->status_code);
        return 0;
    }
    res->refused++;
    res->retry_after_s = retry_after_s;
    CORE_LOG(CORE_LOG_WARN, "redelivery_refused", "delivery_id=%" PRId64 " delivery=%s msg=\"%s\"",
             d->id, d->guid, err ? err->msg : "");
    sched_redelivery_unclaim(store, d->guid, NULL);
    return rc;
}

/* Examines one page; *done when the mark or the 3-day bound was reached. */
static int examine(struct sched_store *store, notify_github *gh, notify_http *http,
                   const notify_redeliver_limits *lim, const notify_github_delivery *items,
                   size_t n, int64_t mark, int64_t now_ms, int64_t *newest, bool *done,
                   bool *capped, notify_redeliver_result *res, core_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const notify_github_delivery *d = &items[i];
        sched_redelivery_verdict v;
        int rc;

        if (d->id > *newest && d->delivered_ms <= now_ms - MARK_GRACE_MS)
            *newest = d->id;
        /* Newest first: everything after this was examined by a complete run, or is
         * older than GitHub keeps. */
        if (d->id <= mark || d->delivered_ms < now_ms - NOTIFY_REDELIVER_LOOKBACK_MS) {
            *done = true;
            return 0;
        }
        res->examined++;
        if (!failed_delivery(d))
            continue;
        rc = sched_redelivery_claim(store, d->guid, now_ms, &v, err);
        if (rc == CORE_EINVAL)
            continue; /* a GUID that intake could not have recorded either */
        if (rc < 0)
            return rc;
        if (v == SCHED_REDELIVERY_ACCEPTED) {
            res->accepted++;
            continue;
        }
        if (v == SCHED_REDELIVERY_ASKED) {
            res->asked_before++;
            continue;
        }
        if (res->requested >= lim->max_per_run ||
            (res->requested > 0 && lim->pause_ms > 0 && !pause_for(lim, lim->pause_ms))) {
            /* Not asked after all: the next run asks. */
            sched_redelivery_unclaim(store, d->guid, NULL);
            *capped = true;
            return 0;
        }
        rc = ask(store, gh, http, d, now_ms, res, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int notify_redeliver_run(struct sched_store *store, notify_github *gh, notify_http *http,
                         const notify_redeliver_limits *limits, int64_t now_ms,
                         notify_redeliver_result *out, core_error *err)
{
    notify_redeliver_limits lim = limits ? *limits : (notify_redeliver_limits){0};
    char token[33], *next = NULL;
    int64_t mark = 0, newest = 0, started = core_time_mono_ms();
    bool got = false, done = false, capped = false;
    int rc;

    CORE_ASSERT(store && gh && http && out);
    memset(out, 0, sizeof(*out));
    out->outcome = NOTIFY_REDELIVER_FAILED;
    if (lim.max_per_run <= 0)
        lim.max_per_run = NOTIFY_REDELIVER_MAX_PER_RUN;
    if (lim.pause_ms == 0)
        lim.pause_ms = NOTIFY_REDELIVER_PAUSE_MS;
    if (lim.max_pages <= 0)
        lim.max_pages = NOTIFY_REDELIVER_MAX_PAGES;
    rc = sched_redelivery_lock(store, LOCK_MS, token, &got, err);
    if (rc < 0)
        goto log;
    if (!got) {
        out->outcome = NOTIFY_REDELIVER_LOCKED;
        CORE_LOG(CORE_LOG_DEBUG, "redelivery_run", "outcome=locked");
        return 0;
    }
    rc = sched_redelivery_mark_get(store, &mark, err);
    next = calloc(1, NOTIFY_HTTP_LINK_MAX);
    if (rc == 0 && !next)
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
    while (rc == 0 && !done && !capped) {
        notify_github_delivery *items = NULL;
        size_t n = 0;
        char *page = out->pages == 0 ? NULL : strdup(next);

        if (out->pages > 0 && !page) {
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            break;
        }
        if (out->pages >= lim.max_pages || stop_asked(&lim) ||
            core_time_mono_ms() - started > RUN_BUDGET_MS) {
            free(page);
            capped = true;
            break;
        }
        rc = notify_github_deliveries_page(gh, http, page, now_ms, &items, &n, next,
                                           &out->retry_after_s, err);
        free(page);
        if (rc < 0)
            break;
        out->pages++;
        rc = examine(store, gh, http, &lim, items, n, mark, now_ms, &newest, &done, &capped, out,
                     err);
        free(items);
        if (rc == 0 && !next[0])
            done = true; /* the list's end */
    }
    free(next);
    /* Only a complete run may move the mark: a partial or failed one left deliveries
     * below its newest unexamined, and the next run must see them. */
    if (rc == 0 && done && !capped && newest > mark)
        rc = sched_redelivery_mark_set(store, newest, err);
    if (rc == 0)
        mark = newest > mark && done && !capped ? newest : mark;
    if (rc == 0)
        out->outcome = capped ? NOTIFY_REDELIVER_PARTIAL : NOTIFY_REDELIVER_COMPLETE;
    out->mark = mark;
    sched_redelivery_unlock(store, token);
log:
    CORE_LOG(rc < 0 ? CORE_LOG_WARN : CORE_LOG_INFO, "redelivery_run",
             "outcome=%s pages=%d examined=%d accepted=%d asked_before=%d requested=%d "
             "refused=%d mark=%" PRId64 " retry_after=%d msg=\"%s\"",
             outcome_names[out->outcome], out->pages, out->examined, out->accepted,
             out->asked_before, out->requested, out->refused, out->mark, out->retry_after_s,
             rc < 0 && err ? err->msg : "");
    return rc;
}

/* ---- the thread -------------------------------------------------------------------- */

struct notify_redeliver {
    struct sched_store *store;
    notify_github *gh;
    notify_redeliver_limits limits;
    int64_t interval_ms;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t runs[NOTIFY_REDELIVER_OUTCOMES];
    atomic_uint_fast64_t requested, refused;
};

static bool should_stop(void *ctx)
{
    notify_redeliver *rd = ctx;

    return atomic_load(&rd->stop);
}

static void wait_tick(notify_redeliver *rd)
{
    struct timespec deadline;

    /* Monotonic, like the cv: a wall-clock step never freezes the worker. */
    core_deadline_after(&deadline, TICK_MS);
    pthread_mutex_lock(&rd->lock);
    while (!atomic_load(&rd->stop)) {
        if (pthread_cond_timedwait(&rd->wake, &rd->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&rd->lock);
}

static void *redeliver_main(void *arg)
{
    notify_redeliver *rd = arg;
    notify_http *http = NULL;
    core_error err = {0};
    uint64_t seen_errors = sched_store_error_count(rd->store);
    int64_t next_run = core_time_mono_ms(), not_before = 0, last_recovery = INT64_MIN / 2;
    bool recovering = false;

    if (notify_http_new(&http, &err) < 0) {
        CORE_LOG(CORE_LOG_ERROR, "redelivery", "msg=\"no http client, no recovery: %s\"", err.msg);
        return NULL;
    }
    notify_http_set_abort(http, should_stop, rd);
    while (!atomic_load(&rd->stop)) {
        uint64_t errors = sched_store_error_count(rd->store);
        int64_t now = core_time_mono_ms();
        notify_redeliver_result res;
        bool due = now >= next_run;

        /* Redis failed since the last look: deliveries may have been answered 503. Run
         * as soon as it answers again, without waiting for the period. */
        if (errors != seen_errors) {
            seen_errors = errors;
            recovering = true;
        }
        if (recovering && !due && now >= not_before && now - last_recovery >= RECOVERY_GAP_MS) {
            if (sched_store_ping(rd->store, NULL) == 0) {
                due = true;
                last_recovery = now;
            }
            seen_errors = sched_store_error_count(rd->store);
        }
        if (!due || now < not_before) {
            wait_tick(rd);
            continue;
        }
        notify_redeliver_run(rd->store, rd->gh, http, &rd->limits, core_time_now_ms(), &res, &err);
        atomic_fetch_add(&rd->runs[res.outcome], 1);
        atomic_fetch_add(&rd->requested, (uint_fast64_t)res.requested);
        atomic_fetch_add(&rd->refused, (uint_fast64_t)res.refused);
        now = core_time_mono_ms();
        next_run = now + rd->interval_ms;
        if (res.retry_after_s > 0)
            not_before = now + (int64_t)res.retry_after_s * 1000;
        /* Another process holds the lock: its run may have started before the failures
         * this one saw, so look again next tick; any other end settles the recovery (a
         * Redis error during the run moves the count and starts it again). */
        recovering = res.outcome == NOTIFY_REDELIVER_LOCKED && recovering;
        if (res.outcome == NOTIFY_REDELIVER_LOCKED && recovering)
            next_run = now + TICK_MS;
        wait_tick(rd);
    }
    notify_http_free(http);
    return NULL;
}

int notify_redeliver_start(notify_redeliver **out, struct sched_store *store, notify_github *gh,
                           int check_seconds, const notify_redeliver_limits *limits,
                           core_error *err)
{
    notify_redeliver *rd;

    CORE_ASSERT(out && store && gh && check_seconds > 0);
    *out = NULL;
    rd = calloc(1, sizeof(*rd));
    if (!rd)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    rd->store = store;
    rd->gh = gh;
    if (limits)
        rd->limits = *limits;
    rd->limits.should_stop = should_stop;
    rd->limits.stop_ctx = rd;
    rd->interval_ms = (int64_t)check_seconds * 1000;
    atomic_init(&rd->stop, false);
    for (int i = 0; i < NOTIFY_REDELIVER_OUTCOMES; i++)
        atomic_init(&rd->runs[i], 0);
    atomic_init(&rd->requested, 0);
    atomic_init(&rd->refused, 0);
    pthread_mutex_init(&rd->lock, NULL);
    core_cond_init_monotonic(&rd->wake);
    if (pthread_create(&rd->thread, NULL, redeliver_main, rd) != 0) {
        pthread_cond_destroy(&rd->wake);
        pthread_mutex_destroy(&rd->lock);
        free(rd);
        return core_error_set(err, CORE_EIO, "cannot start the redelivery thread");
    }
    *out = rd;
    return 0;
}

void notify_redeliver_stats_get(notify_redeliver *rd, notify_redeliver_stats *out)
{
    CORE_ASSERT(rd && out);
    for (int i = 0; i < NOTIFY_REDELIVER_OUTCOMES; i++)
        out->runs[i] = atomic_load(&rd->runs[i]);
    out->requested = atomic_load(&rd->requested);
    out->refused = atomic_load(&rd->refused);
}

void notify_redeliver_stop(notify_redeliver *rd)
{
    if (!rd)
        return;
    pthread_mutex_lock(&rd->lock);
    atomic_store(&rd->stop, true);
    pthread_cond_broadcast(&rd->wake);
    pthread_mutex_unlock(&rd->lock);
    pthread_join(rd->thread, NULL);
    pthread_cond_destroy(&rd->wake);
    pthread_mutex_destroy(&rd->lock);
    free(rd);
}
