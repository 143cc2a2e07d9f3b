/* bench/outbox: what the outbox costs. Against a real redis-server (argv[1], a store URL):
 * the Lua steps of one message (put, take, done), building an approval card, and how fast
 * a pool of delivery workers drains a backlog into a local peer that answers like Slack.
 * Figures only; bench/RESULTS.md has them. usage: bench-outbox URL [N] */
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_outbox.h"

static const char payload[] =
    "{\"channel\":\"C123\",\"text\":\"approve?\",\"blocks\":[{\"type\":\"section\",\"text\":"
    "{\"type\":\"mrkdwn\",\"text\":\"approve?\"}}]}";

static double us_per(int64_t start_us, long n)
{
    return (double)(core_time_mono_us() - start_us) / (double)n;
}

static void die(const char *what, const core_error *err)
{
    fprintf(stderr, "bench-outbox: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void bench_steps(sched_store *store, long n)
{
    core_error err = {0};
    char id[32];
    int64_t t0 = core_time_mono_us(), now = core_time_now_ms();

    for (long i = 0; i < n; i++) {
        if (sched_outbox_put(store, "slack_post", payload, NULL, now, id, &err) < 0)
            die("put", &err);
    }
    printf("put (one Lua script)              %8.1f us/message\n", us_per(t0, n));
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        sched_outbox_msg m;

        if (sched_outbox_take(store, now + 1, 60000, &m, &err) < 0 || !m.found)
            die("take", &err);
        if (sched_outbox_done(store, m.id, m.token, now + 1, &err) < 0)
            die("done", &err);
        sched_outbox_msg_free(&m);
    }
    printf("take + done (two Lua scripts)     %8.1f us/message\n", us_per(t0, n));
}

static void bench_card(long n)
{
    notify_finding findings[12];
    const char *files[20], *mentions[] = {"U0DBA1", "U0DBA2"};
    char names[20][48];
    notify_card c = {.repo = "acme/payments",
                     .pr_number = 4242,
                     .title = "Add an index on orders(created_at) and drop a legacy column",
                     .pr_url = "https://github.com/acme/payments/pull/4242",
                     .author = "octocat",
                     .head_sha = "0123456789abcdef0123456789abcdef01234567",
                     .region = "apac-tokyo",
                     .plan = "once approved: queued in apac-tokyo: open (10:00 JST)",
                     .mentions = mentions,
                     .n_mentions = 2,
                     .files = files,
                     .n_files = 20,
                     .findings = findings,
                     .n_findings = 12,
                     .job_id = "123456"};
    int64_t t0;

    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "db/migrate/2026112400%02d_change.sql", i);
        files[i] = names[i];
    }
    for (int i = 0; i < 12; i++)
        findings[i] = (notify_finding){"ban-drop-column",
                                       i % 2 ? "warning" : "danger",
                                       files[i],
                                       3 + i,
                                       "ALTER TABLE orders DROP COLUMN legacy_total",
                                       "stop reading the column first; drop it later",
                                       NULL,
                                       NULL};
    t0 = core_time_mono_us();
    for (long i = 0; i < n; i++) {
        core_buf b = {0};

        if (notify_slack_card(&c, &b) < 0)
            die("card", NULL);
        core_buf_free(&b);
    }
    printf("approval card, 12 findings, 20 files (Block Kit JSON) %6.1f us\n", us_per(t0, n));
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_ctx)
{
    static const char ok[] = "{\"ok\":true,\"ts\":\"1712345678.000100\"}";
    struct MHD_Response *r;
    enum MHD_Result rc;

    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (!*req_ctx) {
        *req_ctx = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(sizeof(ok) - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static void bench_drain(sched_store *store, long n, size_t workers)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, answer,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    notify_outbox_config cfg = {
        .slack_bot_token = "xoxb-bench", .n_workers = workers, .poll_ms = 50};
    notify_outbox *ob = NULL;
    core_error err = {0};
    char url[64], id[32];
    int64_t t0, pending = 1, dead = 0, now = core_time_now_ms();

    if (!info)
        die("peer", NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
    cfg.slack_api_url = url;
    for (long i = 0; i < n; i++) {
        if (sched_outbox_put(store, "slack_post", payload, NULL, now, id, &err) < 0)
            die("put", &err);
    }
    t0 = core_time_mono_us();
    if (notify_outbox_start(&ob, store, &cfg, &err) < 0)
        die("start", &err);
    while (pending > 0) {
        poll(NULL, 0, 20);
        if (sched_outbox_counts(store, &pending, &dead, &err) < 0)
            die("counts", &err);
    }
    printf("drain %ld messages, %zu workers, local peer: %8.0f messages/s\n", n, workers,
           (double)n * 1e6 / (double)(core_time_mono_us() - t0));
    notify_outbox_stop(ob);
    MHD_stop_daemon(d);
}

int main(int argc, char **argv)
{
    sched_store_options so = {.prefix = "bench", .pool_size = 8};
    sched_store *store = NULL;
    core_error err = {0};
    long n = argc > 2 ? atol(argv[2]) : 20000;

    if (argc < 2) {
        fprintf(stderr, "usage: bench-outbox REDIS_URL [N]\n");
        return 2;
    }
    so.url = argv[1];
    core_log_set_level(CORE_LOG_WARN);
    if (sched_store_new(&store, &so, &err) < 0)
        die("store", &err);
    bench_steps(store, n);
    bench_card(n);
    bench_drain(store, n / 4, 2);
    bench_drain(store, n / 4, 8);
    sched_store_free(store);
    return 0;
}
