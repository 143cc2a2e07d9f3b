/* Prometheus metrics: lock-free counters bumped by request threads, rendered on demand
 * in the text exposition format (version 0.0.4). */
#include <stdio.h>
#include <string.h>

#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_outbox.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

static const int status_codes[WH_N_STATUS - 1] = {WH_STATUS_CODES};
static const char *const route_names[WH_ROUTE_COUNT] = {
    "github_webhook", "jobs_list", "job_get",   "healthz",  "readyz",
    "metrics",        "claim",     "heartbeat", "complete", "not_found",
    "slack_interactions", "job_approve", "job_reject", "outbox_dead",
    "release", "page", "page_login", "page_logout", "job_page"};
static const char *const event_names[WH_EVENT_COUNT] = {
    "ping", "pull_request", "installation", "installation_repositories", "other"};
static const char *const outcome_names[WH_OUTCOME_COUNT] = {
    "accepted", "duplicate", "cancelled", "ignored", "invalid", "unauthorized", "too_large",
    "unavailable"};
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[WH_N_BUCKETS - 1] = {250,   500,   1000,   2500,   5000,
                                                     10000, 25000, 50000,  100000, 250000,
                                                     500000, 1000000, 5000000};

static int status_index(int status)
{
    for (int i = 0; i < WH_N_STATUS - 1; i++) {
        if (status_codes[i] == status)
            return i;
    }
    return WH_N_STATUS - 1;
}

void wh_metrics_request(wh_metrics *m, wh_route route, int status, int64_t micros)
{
    int b = 0;

    atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1,
                              memory_order_relaxed);
    while (b < WH_N_BUCKETS - 1 && micros > bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&m->latency_bucket[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us[route], (uint_fast64_t)(micros < 0 ? 0 : micros),
                              memory_order_relaxed);
}

void wh_metrics_delivery(wh_metrics *m, wh_event_kind kind, wh_outcome outcome)
{
    atomic_fetch_add_explicit(&m->deliveries[kind][outcome], 1, memory_order_relaxed);
}

wh_event_kind wh_event_kind_of(const char *header)
{
    if (!header)
        return WH_EVENT_OTHER;
    for (int k = 0; k < WH_EVENT_OTHER; k++) {
        if (strcmp(header, event_names[k]) == 0)
            return (wh_event_kind)k;
    }
    return WH_EVENT_OTHER;
}

static void render_requests(const wh_metrics *m, core_buf *b)
{
    core_buf_puts(b, "# HELP zoneci_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE zoneci_http_requests_total counter\n");
    for (int r = 0; r < WH_ROUTE_COUNT; r++) {
        for (int s = 0; s < WH_N_STATUS; s++) {
            uint64_t n = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);

            if (!n)
                continue;
            if (s < WH_N_STATUS - 1)
                core_buf_printf(b, "zoneci_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                                route_names[r], status_codes[s], (unsigned long long)n);
            else
                core_buf_printf(b,
                                "zoneci_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                                route_names[r], (unsigned long long)n);
        }
    }
}

static void render_latency(const wh_metrics *m, core_buf *b)
{
    core_buf_puts(b, "# HELP zoneci_http_request_duration_seconds Time from request headers to "
                     "response, by route.\n"
                     "# TYPE zoneci_http_request_duration_seconds histogram\n");
    for (int r = 0; r < WH_ROUTE_COUNT; r++) {
        uint64_t cum = 0;

        for (int i = 0; i < WH_N_BUCKETS; i++)
            cum += atomic_load_explicit(&m->latency_bucket[r][i], memory_order_relaxed);
        if (!cum)
            continue;
        cum = 0;
        for (int i = 0; i < WH_N_BUCKETS; i++) {
            cum += atomic_load_explicit(&m->latency_bucket[r][i], memory_order_relaxed);
            if (i < WH_N_BUCKETS - 1)
                core_buf_printf(b,
                                "zoneci_http_request_duration_seconds_bucket{route=\"%s\","
                                "le=\"%g\"} %llu\n",
                                route_names[r], (double)bucket_us[i] / 1e6,
                                (unsigned long long)cum);
            else
                core_buf_printf(b,
                                "zoneci_http_request_duration_seconds_bucket{route=\"%s\","
                                "le=\"+Inf\"} %llu\n",
                                route_names[r], (unsigned long long)cum);
        }
        core_buf_printf(b, "zoneci_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                        route_names[r],
                        (double)atomic_load_explicit(&m->latency_sum_us[r],
                                                     memory_order_relaxed) /
                            1e6);
        core_buf_printf(b, "zoneci_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                        route_names[r], (unsigned long long)cum);
    }
}

static void render_deliveries(const wh_metrics *m, core_buf *b)
{
    core_buf_puts(b, "# HELP zoneci_webhook_deliveries_total GitHub deliveries by event and "
                     "outcome.\n"
                     "# TYPE zoneci_webhook_deliveries_total counter\n");
    for (int e = 0; e < WH_EVENT_COUNT; e++) {
        for (int o = 0; o < WH_OUTCOME_COUNT; o++) {
            uint64_t n = atomic_load_explicit(&m->deliveries[e][o], memory_order_relaxed);

            if (n)
                core_buf_printf(b,
                                "zoneci_webhook_deliveries_total{event=\"%s\",outcome=\"%s\"} "
                                "%llu\n",
                                event_names[e], outcome_names[o], (unsigned long long)n);
        }
    }
}

/* The outbox as Redis sees it (every process's messages) and this process's deliveries. */
static void render_outbox(wh_app *app, core_buf *b)
{
    int64_t pending = 0, dead = 0;
    notify_outbox_stats st = {0};
    core_error err = {0};

    /* Redis cannot count them: no gauge (never a false 0) and a comment saying why, which
     * Prometheus skips and a person reading /metrics sees. */
    if (sched_outbox_counts(app->store, &pending, &dead, &err) < 0)
        core_buf_printf(b, "# zoneci_outbox_messages unavailable: %s\n", err.msg);
    else
        core_buf_printf(b,
                        "# HELP zoneci_outbox_messages Outbound messages in Redis, by state.\n"
                        "# TYPE zoneci_outbox_messages gauge\n"
                        "zoneci_outbox_messages{state=\"pending\"} %lld\n"
                        "zoneci_outbox_messages{state=\"dead\"} %lld\n",
                        (long long)pending, (long long)dead);
    if (app->outbox)
        notify_outbox_stats_get(app->outbox, &st);
    core_buf_printf(b,
                    "# HELP zoneci_outbox_deliveries_total Deliveries by this process, by "
                    "outcome.\n"
                    "# TYPE zoneci_outbox_deliveries_total counter\n"
                    "zoneci_outbox_deliveries_total{outcome=\"delivered\"} %llu\n"
                    "zoneci_outbox_deliveries_total{outcome=\"retried\"} %llu\n"
                    "zoneci_outbox_deliveries_total{outcome=\"dead\"} %llu\n",
                    (unsigned long long)st.delivered, (unsigned long long)st.retried,
                    (unsigned long long)st.dead);
}

/* Delivery recovery in this process: runs by outcome, redeliveries asked for. Rendered
 * (as zeros) only when recovery is on, so the series say whether it is. */
static void render_redelivery(wh_app *app, core_buf *b)
{
    static const char *const outcomes[NOTIFY_REDELIVER_OUTCOMES] = {"complete", "partial",
                                                                     "failed", "locked"};
    notify_redeliver_stats st = {0};

    if (!app->redeliver)
        return;
    notify_redeliver_stats_get(app->redeliver, &st);
    core_buf_puts(b, "# HELP zoneci_redelivery_runs_total Delivery recovery runs by this "
                     "process, by outcome.\n"
                     "# TYPE zoneci_redelivery_runs_total counter\n");
    for (int i = 0; i < NOTIFY_REDELIVER_OUTCOMES; i++)
        core_buf_printf(b, "zoneci_redelivery_runs_total{outcome=\"%s\"} %llu\n", outcomes[i],
                        (unsigned long long)st.runs[i]);
    core_buf_printf(b,
                    "# HELP zoneci_redeliveries_requested_total Redeliveries asked of GitHub by "
                    "this process, by outcome.\n"
                    "# TYPE zoneci_redeliveries_requested_total counter\n"
                    "zoneci_redeliveries_requested_total{outcome=\"accepted\"} %llu\n"
                    "zoneci_redeliveries_requested_total{outcome=\"refused\"} %llu\n",
                    (unsigned long long)st.requested, (unsigned long long)st.refused);
}

/* The long poll in this process: claims parked now, and claims a wake resumed. */
static void render_runners(wh_app *app, core_buf *b)
{
    size_t parked = 0;
    uint64_t woken = 0;

    if (!app->runners)
        return;
    wh_runners_stats(app->runners, &parked, &woken);
    core_buf_printf(b,
                    "# HELP zoneci_runner_claims_parked Long-poll claims parked in this process.\n"
                    "# TYPE zoneci_runner_claims_parked gauge\n"
                    "zoneci_runner_claims_parked %zu\n"
                    "# HELP zoneci_runner_claims_woken_total Parked claims resumed by a ready "
                    "job.\n"
                    "# TYPE zoneci_runner_claims_woken_total counter\n"
                    "zoneci_runner_claims_woken_total %llu\n",
                    parked, (unsigned long long)woken);
}

void wh_metrics_render(const wh_request *req, wh_response *resp)
{
    wh_app *app = req->app;
    core_buf *b = &resp->body;
    sched_tz_setup_info tz;

    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    core_buf_reset(b);
    render_requests(&app->metrics, b);
    render_latency(&app->metrics, b);
    render_deliveries(&app->metrics, b);
    core_buf_printf(b,
                    "# HELP zoneci_redis_errors_total Redis connection and command errors.\n"
                    "# TYPE zoneci_redis_errors_total counter\n"
                    "zoneci_redis_errors_total %llu\n",
                    (unsigned long long)sched_store_error_count(app->store));
    render_outbox(app, b);
    render_redelivery(app, b);
    render_runners(app, b);
    sched_tz_setup(NULL, &tz);
    core_buf_printf(b,
                    "# HELP zoneci_build_info Version and the time-zone data in use.\n"
                    "# TYPE zoneci_build_info gauge\n"
                    "zoneci_build_info{version=\"%s\",icu_tz_data=\"%s\",tz_data_source=\"%s\","
                    "system_tz_data=\"%s\"} 1\n",
                    ZONECI_VERSION, tz.version, tz.system ? "system" : "icu",
                    core_tz_system_version());
    core_buf_printf(b,
                    "# HELP zoneci_start_time_seconds When this process started.\n"
                    "# TYPE zoneci_start_time_seconds gauge\n"
                    "zoneci_start_time_seconds %lld\n",
                    (long long)(app->metrics.started_ms / 1000));
}
