/* `zoneci serve --config FILE`: the long-running service, assembled here: the Redis store,
 * the router, the outbox's delivery workers, delivery recovery and the inspectors, then
 * the HTTP server (webhooks/), which borrows them. The main thread owns the signals
 * (blocked everywhere else, taken with sigtimedwait): SIGTERM/SIGINT drain and exit 0,
 * SIGHUP reloads the configuration and keeps the old one if the new is invalid. */
#define _GNU_SOURCE /* open_memstream, strtok */
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/core.h"
#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_windows.h"
#include "webhooks/webhooks.h"

#define DRAIN_TIMEOUT_MS 30000
#define INSPECT_WORKERS 2
#define KEY_FILE_MAX (64 * 1024)

/* The service: what this process runs, in the order it starts. The server borrows the
 * others; stopping goes the other way round (service_stop). */
typedef struct service {
    wh_server *srv; /* owns the configuration and its plan */
    sched_store *store;
    sched_router *router;
    notify_outbox *outbox;
    notify_github *github; /* the start-up GitHub App, for delivery recovery */
    notify_redeliver *redeliver;
    sched_inspector *inspector;
} service;

static void log_problems(const char *path, const policy_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++)
        CORE_LOG(CORE_LOG_ERROR, "config_problem", "file=%s line=%d path=%s msg=\"%s\"", path,
                 problems->items[i].line, problems->items[i].path, problems->items[i].msg);
}

static int load(const char *path, policy_config **cfg)
{
    policy_problems problems = {0};
    core_error err = {0};
    int rc = policy_config_load(path, cfg, &problems, &err);

    if (rc < 0) {
        log_problems(path, &problems);
        CORE_LOG(CORE_LOG_ERROR, "config_invalid", "file=%s msg=\"%s\"", path, err.msg);
    }
    policy_problems_free(&problems);
    return rc;
}

/* The Redis URL without its password, for logs. */
static void redact_url(const char *url, char *out, size_t len)
{
    const char *at;
    const char *scheme;

    if (!url) {
        snprintf(out, len, "sentinel");
        return;
    }
    at = strchr(url, '@');
    scheme = strstr(url, "://");
    if (at && scheme && scheme < at)
        snprintf(out, len, "%.*s://***@%s", (int)(scheme - url), url, at + 1);
    else
        snprintf(out, len, "%s", url);
}

static void apply_log_level(const policy_config *cfg)
{
    core_log_level level;
    core_log_format format = CORE_LOG_LOGFMT;

    if (cfg->log_level && core_log_level_parse(cfg->log_level, &level))
        core_log_set_level(level);
    /* Back to logfmt when a reload drops the key. */
    if (cfg->log_format)
        core_log_format_parse(cfg->log_format, &format);
    core_log_set_format(format);
}

/* Zones ICU does not know stop the start; zones whose ICU data is older than the system's
 * are logged once per zone, with the first instant they differ. Runs before any thread. */
static int check_zones(const policy_config *cfg)
{
    sched_plan *plan = NULL;
    core_error err = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *mem;

    if (sched_plan_new(&plan, cfg, &err) < 0) {
        CORE_LOG(CORE_LOG_ERROR, "config_invalid", "msg=\"%s\"", err.msg);
        return -1;
    }
    sched_plan_free(plan);
    mem = open_memstream(&text, &len);
    if (!mem)
        return 0;
    cli_tz_warnings(cfg, core_time_now_ms(), mem);
    fclose(mem);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        CORE_LOG(CORE_LOG_WARN, "tz_data_mismatch", "msg=\"%s\"", line);
    free(text);
    return 0;
}

/* Chooses (or regenerates) the time-zone data before anything asks ICU about time. */
static void log_tz_setup(const policy_config *cfg)
{
    sched_tz_setup_info info;

    sched_tz_setup(cfg->cache_dir, &info);
    if (info.error[0])
        CORE_LOG(CORE_LOG_ERROR, "tz_data_generation_failed",
                 "msg=\"%s\" using=\"%s\" tz_data=%s system_tz_data=%s", info.error,
                 sched_tz_data_source(), info.version, core_tz_system_version());
    CORE_LOG(CORE_LOG_INFO, "tz_data",
             "msg=\"time-zone data %s, %s\" dir=%s regenerated=%s elapsed_ms=%lld", info.version,
             sched_tz_data_source(), info.dir[0] ? info.dir : "-", info.regenerated ? "yes" : "no",
             (long long)info.elapsed_ms);
}

/* The Sentinel passwords, read now like every other secret. */
static int read_optional_secret(const policy_secret_ref *ref, char **out, core_error *err)
{
    *out = NULL;
    if (!ref->env && !ref->file)
        return 0;
    return policy_secret_read(ref, out, err);
}

static int open_store(service *svc, const policy_config *cfg, core_error *err)
{
    sched_store_options so = {0};
    sched_store_sentinel sn = {0};
    char *password = NULL, *sentinel_password = NULL;
    int rc = 0;

    so.url = cfg->redis.url;
    so.prefix = cfg->redis.prefix;
    so.wait_replica_ms = cfg->redis.wait_replica_ms;
    /* One connection per server thread, the router, the inspectors and delivery recovery,
     * one spare. */
    so.pool_size = (size_t)cfg->server.threads + 3 + INSPECT_WORKERS;
    if (cfg->redis.sentinel.present) {
        rc = read_optional_secret(&cfg->redis.sentinel.password, &password, err);
        if (rc == 0)
            rc = read_optional_secret(&cfg->redis.sentinel.sentinel_password, &sentinel_password,
                                      err);
        sn.master = cfg->redis.sentinel.master;
        sn.nodes = (const char *const *)cfg->redis.sentinel.nodes;
        sn.n_nodes = cfg->redis.sentinel.n_nodes;
        sn.username = cfg->redis.sentinel.username;
        sn.password = password;
        sn.sentinel_password = sentinel_password;
        sn.db = cfg->redis.sentinel.db;
        so.sentinel = &sn;
    }
    if (rc == 0)
        rc = sched_store_new(&svc->store, &so, err);
    core_wipe_free(password);
    core_wipe_free(sentinel_password);
    return rc;
}

/* The outbox's credentials as cfg names them: a missing one only means that kind of
 * message is not deliverable (and says so). *key and *bot are the caller's to wipe and
 * free with wipe_outbox_credentials. */
static int outbox_credentials(const policy_config *cfg, notify_outbox_config *oc, char **key,
                              char **bot, core_error *err)
{
    size_t key_len = 0;
    core_error e2 = {0};
    int rc;

    *key = *bot = NULL;
    oc->public_url = cfg->server.public_url;
    if (cfg->github.app_id && cfg->github.private_key_file) {
        rc = core_file_read(cfg->github.private_key_file, KEY_FILE_MAX, key, &key_len, err);
        if (rc < 0)
            return core_error_wrap(err, "github.private_key_file");
        oc->github_api_url = cfg->github.api_url;
        oc->github_app_id = cfg->github.app_id;
        oc->github_private_key = *key;
        oc->github_key_len = key_len;
    }
    if (cfg->slack.present) {
        /* Without a bot token too: a click's answer (slack_response) needs no token, and
         * its URL may be on api_url's host, as the interactions endpoint allows. */
        oc->slack_api_url = cfg->slack.api_url;
        if (policy_secret_read(&cfg->slack.bot_token, bot, &e2) == 0) {
            oc->slack_bot_token = *bot;
        } else {
            CORE_LOG(CORE_LOG_WARN, "slack", "msg=\"no cards can be posted: %s\"", e2.msg);
        }
    }
    return 0;
}

static void wipe_outbox_credentials(const notify_outbox_config *oc, char *key, char *bot)
{
    if (key) {
        memset(key, 0, oc->github_key_len);
        free(key);
    }
    if (bot) {
        core_wipe(bot, strlen(bot));
        free(bot);
    }
}

/* The outbox pool, and the start-up GitHub App client delivery recovery keeps. */
static int start_outbox(service *svc, const policy_config *cfg, core_error *err)
{
    notify_outbox_config oc = {0};
    char *key = NULL, *bot = NULL;
    int rc = outbox_credentials(cfg, &oc, &key, &bot, err);

    if (rc == 0 && key) {
        rc = notify_github_new(&svc->github, cfg->github.api_url, cfg->github.app_id, key,
                               oc.github_key_len, err);
        if (rc < 0)
            core_error_wrap(err, "github app");
    }
    if (rc == 0)
        rc = notify_outbox_start(&svc->outbox, svc->store, &oc, err);
    wipe_outbox_credentials(&oc, key, bot);
    return rc;
}

/* The server's reload hook: a reload's new GitHub App key and Slack bot token for the
 * deliveries from now on (a failure changes nothing), then the new plan for the router
 * and the inspectors, which read it on their own threads: when these return, neither
 * reads the old one again. */
static int on_reload(const policy_config *cfg, const sched_plan *plan, void *ctx, core_error *err)
{
    service *svc = ctx;
    notify_outbox_config oc = {0};
    char *key = NULL, *bot = NULL;
    int rc = outbox_credentials(cfg, &oc, &key, &bot, err);

    if (rc == 0)
        rc = notify_outbox_set_credentials(svc->outbox, &oc, err);
    wipe_outbox_credentials(&oc, key, bot);
    if (rc < 0)
        return rc;
    sched_router_set_plan(svc->router, plan);
    sched_inspector_set_plan(svc->inspector, plan);
    return 0;
}

static void kick_router(void *router)
{
    sched_router_kick(router);
}

/* Starts everything in the order the server used to (configuration and secrets first,
 * then Redis, the router, the outbox, delivery recovery, the inspectors, and only then
 * the listening socket). Takes cfg; on failure the caller runs service_stop. */
static int service_start(service *svc, policy_config *cfg, core_error *err)
{
    wh_services hs = {0};
    int rc = wh_server_new(&svc->srv, cfg, err);

    /* cfg is the server's now; it stays valid until the first reload. */
    if (rc < 0)
        return rc;
    rc = open_store(svc, cfg, err);
    if (rc == 0)
        rc = sched_router_start(&svc->router, svc->store, wh_server_plan(svc->srv), err);
    if (rc == 0)
        rc = start_outbox(svc, cfg, err);
    /* GitHub never retries a delivery: with the App's credentials, the ones answered 503
     * while Redis was down are asked for again (notifier/redeliver.c). The period is
     * read once: a reload does not change it. */
    if (rc == 0 && svc->github && cfg->github.redelivery_check_seconds > 0)
        rc = notify_redeliver_start(&svc->redeliver, svc->store, svc->github,
                                    cfg->github.redelivery_check_seconds, NULL, err);
    if (rc == 0) {
        sched_token_source tokens = {wh_server_github_token, svc->srv};

        rc = sched_inspector_start(&svc->inspector, svc->store, wh_server_plan(svc->srv),
                                   INSPECT_WORKERS, &tokens, kick_router, svc->router, err);
    }
    if (rc < 0)
        return rc;
    hs.store = svc->store;
    hs.router = svc->router;
    hs.inspector = svc->inspector;
    hs.outbox = svc->outbox;
    hs.redeliver = svc->redeliver;
    hs.on_reload = on_reload;
    hs.ctx = svc;
    return wh_server_listen(svc->srv, &hs, err);
}

/* Drains the HTTP side first (no handler touches a service after it), then stops the
 * services, then frees the server (the plan the router and inspectors read) and, last,
 * the store every one of them used. NULL members are skipped. */
static void service_stop(service *svc, int drain_ms)
{
    wh_server_stop(svc->srv, drain_ms);
    sched_inspector_stop(svc->inspector);
    notify_outbox_stop(svc->outbox);
    notify_redeliver_stop(svc->redeliver);
    notify_github_free(svc->github);
    sched_router_stop(svc->router);
    wh_server_free(svc->srv);
    sched_store_free(svc->store);
    memset(svc, 0, sizeof(*svc));
}

static void reload(wh_server *srv, const char *path)
{
    policy_config *cfg = NULL;
    core_error err = {0};

    if (load(path, &cfg) < 0 || check_zones(cfg) < 0) {
        CORE_LOG(CORE_LOG_ERROR, "config_reload", "file=%s outcome=kept_old", path);
        policy_config_free(cfg);
        return;
    }
    apply_log_level(cfg);
    if (wh_server_reload(srv, cfg, &err) < 0) {
        CORE_LOG(CORE_LOG_ERROR, "config_reload", "file=%s outcome=kept_old msg=\"%s\"", path,
                 err.msg);
        return;
    }
    CORE_LOG(CORE_LOG_INFO, "config_reload", "file=%s outcome=applied", path);
}

/* Each parked long poll is an open connection: allow as many as the hard limit does. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            CORE_LOG(CORE_LOG_WARN, "fd_limit", "msg=\"cannot raise the open-file limit\"");
    }
}

int cli_serve(int argc, char **argv)
{
    const char *path = NULL;
    policy_config *cfg = NULL;
    service svc = {0};
    wh_server *srv = NULL;
    core_error err = {0};
    sigset_t set;
    char redis[300];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else {
            fprintf(stderr, "usage: zoneci serve --config FILE\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: zoneci serve --config FILE\n");
        return 2;
    }
    if (load(path, &cfg) < 0) {
        fprintf(stderr, "zoneci: %s is invalid; run `zoneci check-config %s`\n", path, path);
        return 1;
    }
    apply_log_level(cfg);
    raise_fd_limit();
    log_tz_setup(cfg);
    if (check_zones(cfg) < 0) {
        fprintf(stderr, "zoneci: %s names a time zone ICU does not know\n", path);
        policy_config_free(cfg);
        return 1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (cfg->redis.sentinel.present)
        snprintf(redis, sizeof(redis), "sentinel:%s", cfg->redis.sentinel.master);
    else
        redact_url(cfg->redis.url, redis, sizeof(redis));
    CORE_LOG(CORE_LOG_INFO, "start",
             "version=%s config=%s listen=%s threads=%d redis=%s icu_tz_data=%s system_tz_data=%s",
             ZONECI_VERSION, path, cfg->server.listen, cfg->server.threads, redis,
             sched_tz_data_version(), core_tz_system_version());
    if (service_start(&svc, cfg, &err) < 0) {
        CORE_LOG(CORE_LOG_ERROR, "start_failed", "msg=\"%s\"", err.msg);
        service_stop(&svc, 0);
        return 1;
    }
    srv = svc.srv;
    CORE_LOG(CORE_LOG_INFO, "listening", "port=%d", wh_server_port(srv));
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);

        if (sig == SIGHUP) {
            reload(srv, path);
        } else if (sig == SIGTERM || sig == SIGINT) {
            CORE_LOG(CORE_LOG_INFO, "shutdown", "signal=%s msg=\"draining\"",
                     sig == SIGTERM ? "TERM" : "INT");
            break;
        }
    }
    service_stop(&svc, DRAIN_TIMEOUT_MS);
    CORE_LOG(CORE_LOG_INFO, "stopped", "msg=\"bye\"");
    return 0;
}

int cli_version(int argc, char **argv)
{
    policy_config *cfg = NULL;

    if (argc == 3 && strcmp(argv[1], "--config") == 0) {
        if (cli_config_load(argv[2], &cfg) < 0)
            return 1;
    } else if (argc != 1) {
        fprintf(stderr, "usage: zoneci version [--config FILE]\n");
        return 2;
    } else {
        cli_tz_setup(NULL);
    }
    printf("zoneci %s\n", ZONECI_VERSION);
    printf("time-zone data %s, %s; system time-zone data %s\n", sched_tz_data_version(),
           sched_tz_data_source(), core_tz_system_version());
    policy_config_free(cfg);
    return 0;
}
