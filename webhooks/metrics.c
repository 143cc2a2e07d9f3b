/* Prometheus metrics, rendered on demand in the text exposition format (version 0.0.4):
 * this process's lock-free counters bumped by request threads, and the domain figures
 * (jobs, queues, runners, leases, approvals, inspections, outbox) read from Redis in one
 * round trip per scrape (sched_metrics_read). docs/metrics.md lists every series. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "policies/policies.h"

#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_outbox.h"
#include "scheduler/sched_metrics.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_route.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

static const int status_codes[WH_N_STATUS - 1] = {WH_STATUS_CODES};
static const char *const route_names[WH_ROUTE_COUNT] = {"github_webhook",
                                                        "jobs_list",
                                                        "job_get",
                                                        "healthz",
                                                        "readyz",
                                                        "metrics",
                                                        "claim",
                                                        "heartbeat",
                                                        "complete",
                                                        "not_found",
                                                        "slack_interactions",
                                                        "job_approve",
                                                        "job_reject",
                                                        "outbox_dead",
                                                        "release",
                                                        "page",
                                                        "page_login",
                                                        "page_logout",
                                                        "job_page",
                                                        "slack_commands"};
static const char *const event_names[WH_EVENT_COUNT] = {
    "ping", "pull_request", "installation", "installation_repositories", "check_run", "other"};
static const char *const outcome_names[WH_OUTCOME_COUNT] = {
    "accepted", "duplicate",    "cancelled", "ignored",
    "invalid",  "unauthorized", "too_large", "unavailable"};
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[WH_N_BUCKETS - 1] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

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

    atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1, memory_order_relaxed);
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
        core_buf_printf(
            b, "zoneci_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r],
            (double)atomic_load_explicit(&m->latency_sum_us[r], memory_order_relaxed) / 1e6);
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

/* ---- domain metrics ----------------------------------------------------------------------
 * Gauges read from Redis in one round trip (sched_metrics_read) at the scrape's instant;
 * the lease counters and the two histograms are fleet-wide, kept in Redis by the scripts
 * (scheduler/sched_metrics.h says why): every process shows the same totals. */

static void help(core_buf *b, const char *name, const char *type, const char *text)
{
    core_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void render_jobs(const sched_metrics *m, core_buf *b)
{
    help(b, "zoneci_jobs", "gauge", "Jobs in Redis by state (every process's).");
    for (int s = 0; s < SCHED_STATE_COUNT; s++)
        core_buf_printf(b, "zoneci_jobs{state=\"%s\"} %lld\n", sched_state_name((sched_state)s),
                        (long long)m->jobs[s]);
    help(b, "zoneci_approvals_pending", "gauge",
         "Jobs awaiting approval (= zoneci_jobs{state=\"awaiting_approval\"}; an approved "
         "one leaves at the next router pass).");
    core_buf_printf(b, "zoneci_approvals_pending %lld\n",
                    (long long)m->jobs[SCHED_STATE_AWAITING_APPROVAL]);
}

static void render_regions(const sched_metrics *m, char *const *names, core_buf *b)
{
    help(b, "zoneci_queue_depth", "gauge", "Jobs queued in the region, waiting for a runner.");
    for (size_t i = 0; i < m->n_regions; i++)
        core_buf_printf(b, "zoneci_queue_depth{region=\"%s\"} %lld\n", names[i],
                        (long long)m->region[i].depth);
    help(b, "zoneci_queue_oldest_age_seconds", "gauge",
         "Seconds since the longest-waiting queued job of the region was queued, among the "
         "first 100 in claim order; 0 for an empty queue.");
    for (size_t i = 0; i < m->n_regions; i++)
        core_buf_printf(b, "zoneci_queue_oldest_age_seconds{region=\"%s\"} %.3f\n", names[i],
                        m->region[i].oldest_ms > 0 ? (double)m->region[i].oldest_ms / 1e3 : 0.0);
    help(b, "zoneci_runners_idle", "gauge",
         "Runners known in Redis (any process) whose last claim in the region found nothing, "
         "within the last 60 s (at most 16 names per runner token). This process's parked "
         "long polls are zoneci_runner_claims_parked.");
    for (size_t i = 0; i < m->n_regions; i++)
        core_buf_printf(b, "zoneci_runners_idle{region=\"%s\"} %lld\n", names[i],
                        (long long)m->region[i].idle);
}

static void render_leases(const sched_metrics *m, core_buf *b)
{
    help(b, "zoneci_leases_granted_total", "counter",
         "Leases granted to runners (fleet-wide, kept in Redis: aggregate with max).");
    core_buf_printf(b, "zoneci_leases_granted_total %lld\n", (long long)m->leases_granted);
    help(b, "zoneci_leases_expired_total", "counter",
         "Leases not renewed in time, by what became of the job (fleet-wide, kept in Redis).");
    core_buf_printf(b,
                    "zoneci_leases_expired_total{outcome=\"requeued\"} %lld\n"
                    "zoneci_leases_expired_total{outcome=\"dead\"} %lld\n",
                    (long long)m->leases_expired_requeued, (long long)m->leases_expired_dead);
    help(b, "zoneci_leases_reaped_total", "counter",
         "Leases the reaper ended: the expired ones and those of jobs superseded or cancelled "
         "while leased whose runner never came back (fleet-wide, kept in Redis).");
    core_buf_printf(b, "zoneci_leases_reaped_total %lld\n", (long long)m->leases_reaped);
}

static void render_histogram(const sched_metrics_histogram *h, const char *name, const char *text,
                             core_buf *b)
{
    int64_t cum = 0;

    help(b, name, "histogram", text);
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cum += h->bucket[i];
        if (i < h->n_bounds)
            core_buf_printf(b, "%s_bucket{le=\"%g\"} %lld\n", name, (double)h->bound_ms[i] / 1e3,
                            (long long)cum);
        else
            core_buf_printf(b, "%s_bucket{le=\"+Inf\"} %lld\n", name, (long long)cum);
    }
    core_buf_printf(b, "%s_sum %.3f\n%s_count %lld\n", name, (double)h->sum_ms / 1e3, name,
                    (long long)h->count);
}

/* The outbox as Redis sees it (every process's messages) and this process's deliveries. */
static void render_outbox(wh_app *app, const sched_metrics *m, core_buf *b)
{
    notify_outbox_stats st = {0};

    if (m) {
        help(b, "zoneci_outbox_messages", "gauge", "Outbound messages in Redis, by state.");
        core_buf_printf(b,
                        "zoneci_outbox_messages{state=\"pending\"} %lld\n"
                        "zoneci_outbox_messages{state=\"dead\"} %lld\n",
                        (long long)m->outbox_pending, (long long)m->outbox_dead);
        help(b, "zoneci_outbox_oldest_pending_age_seconds", "gauge",
             "Seconds since the oldest pending outbound message was created, among the 100 "
             "due first; 0 when none is pending.");
        core_buf_printf(b, "zoneci_outbox_oldest_pending_age_seconds %.3f\n",
                        m->outbox_oldest_ms > 0 ? (double)m->outbox_oldest_ms / 1e3 : 0.0);
    }
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

/* Each configured region open or not at now, as the router would see it. */
static void render_open(const wh_runtime *rt, int64_t now, core_buf *b)
{
    const policy_config *cfg = rt && rt->plan ? sched_plan_config(rt->plan) : NULL;

    if (!cfg)
        return;
    help(b, "zoneci_region_open", "gauge",
         "1 when the region's working windows are open at the scrape's instant, else 0.");
    for (size_t i = 0; i < cfg->n_regions; i++) {
        sched_window_state st;

        sched_windows_eval(sched_plan_windows(rt->plan, i), now, &st);
        core_buf_printf(b, "zoneci_region_open{region=\"%s\"} %d\n", cfg->regions[i].name,
                        st.open ? 1 : 0);
    }
}

/* Everything read from Redis; on failure only zoneci_redis_up 0 and why, in a comment
 * (never a false 0 for a gauge). Returns whether Redis answered. */
static bool render_domain(wh_app *app, const wh_runtime *rt, int64_t now, core_buf *b,
                          sched_metrics *m)
{
    const policy_config *cfg = rt && rt->plan ? sched_plan_config(rt->plan) : NULL;
    char *names[SCHED_METRICS_REGIONS_MAX];
    size_t n = !cfg                                         ? 0
               : cfg->n_regions < SCHED_METRICS_REGIONS_MAX ? cfg->n_regions
                                                            : SCHED_METRICS_REGIONS_MAX;
    core_error err = {0};
    bool up;

    for (size_t i = 0; i < n; i++)
        names[i] = cfg->regions[i].name;
    up = sched_metrics_read(app->store, (const char *const *)names, n, now,
                            now - SCHED_IDLE_WINDOW_MS, m, &err) == 0;
    help(b, "zoneci_redis_up", "gauge",
         "1 when this scrape read Redis; 0 and the Redis series are left out when it could not.");
    core_buf_printf(b, "zoneci_redis_up %d\n", up ? 1 : 0);
    if (!up) {
        core_buf_printf(b, "# zoneci domain metrics unavailable: %s\n", err.msg);
        return false;
    }
    render_jobs(m, b);
    render_regions(m, names, b);
    render_leases(m, b);
    render_histogram(&m->decision, "zoneci_approval_decision_duration_seconds",
                     "From a job awaiting approval to its decision (fleet-wide, kept in Redis).",
                     b);
    render_histogram(&m->inspection, "zoneci_inspection_duration_seconds",
                     "From a job's inspection starting to its end, retries included (fleet-wide, "
                     "kept in Redis).",
                     b);
    return true;
}

/* The time-zone data ICU computes with: its version and, when it was generated from the
 * system's tzdata, the age of that tzdata (the mtime of tzdata.zi, which dpkg keeps from
 * the package build, so it follows the release rather than the generation). */
static void render_tz(core_buf *b, int64_t now)
{
    sched_tz_setup_info tz;
    char path[600];
    struct stat st;

    sched_tz_setup(NULL, &tz);
    help(b, "zoneci_tz_data_info", "gauge",
         "The time-zone data version ICU computes with and where it comes from.");
    core_buf_printf(b, "zoneci_tz_data_info{version=\"%s\",source=\"%s\"} 1\n", tz.version,
                    tz.system ? "system" : "icu");
    snprintf(path, sizeof(path), "%s/tzdata.zi", core_tz_dir());
    if (!tz.system || stat(path, &st) != 0)
        return;
    help(b, "zoneci_tz_data_age_seconds", "gauge",
         "Seconds since the system tzdata in use was packaged (mtime of tzdata.zi, which "
         "follows the release); absent with ICU's bundled data.");
    core_buf_printf(b, "zoneci_tz_data_age_seconds %lld\n",
                    (long long)(now / 1000 - (int64_t)st.st_mtime));
}

/* Delivery recovery in this process: runs by outcome, redeliveries asked for. Rendered
 * (as zeros) only when recovery is on, so the series say whether it is. */
static void render_redelivery(wh_app *app, core_buf *b)
{
    static const char *const outcomes[NOTIFY_REDELIVER_OUTCOMES] = {"complete", "partial", "failed",
                                                                    "locked"};
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
    sched_metrics m;
    int64_t now = core_time_now_ms();
    bool up;

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
    up = render_domain(app, req->rt, now, b, &m);
    render_open(req->rt, now, b);
    render_outbox(app, up ? &m : NULL, b);
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
    render_tz(b, now);
}
