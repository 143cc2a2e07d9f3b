/* `zoneci serve --config FILE`: the long-running service. The main thread owns the
 * signals (blocked everywhere else, taken with sigtimedwait): SIGTERM/SIGINT drain and
 * exit 0, SIGHUP reloads the configuration and keeps the old one if the new is invalid. */
#define _GNU_SOURCE /* open_memstream, strtok */
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"
#include "webhooks/webhooks.h"

#define DRAIN_TIMEOUT_MS 30000

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

    if (cfg->log_level && core_log_level_parse(cfg->log_level, &level))
        core_log_set_level(level);
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
             "msg=\"time-zone data %s, %s\" dir=%s regenerated=%s elapsed_ms=%lld",
             info.version, sched_tz_data_source(), info.dir[0] ? info.dir : "-",
             info.regenerated ? "yes" : "no", (long long)info.elapsed_ms);
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
    if (wh_server_start(&srv, cfg, &err) < 0) {
        CORE_LOG(CORE_LOG_ERROR, "start_failed", "msg=\"%s\"", err.msg);
        return 1;
    }
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
    wh_server_stop(srv, DRAIN_TIMEOUT_MS);
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
