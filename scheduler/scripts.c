/* The store's Lua scripts, as one Redis function library. The sources are
 * scheduler/lua/library.lua (key names, the transition helper, ...) and one
 * scheduler/lua/NAME.lua per script; the build embeds them (scheduler/lua/embed.sh writes
 * scripts_lua.h, with lua_NAME[] for each) and this file assembles the library. */
#include "scheduler/scripts.h"

#include <pthread.h>
#include <stdio.h>

#include "core/core.h"

/* Generated in the build directory (see the Makefile): lua_library, lua_intake, ... */
#include "scripts_lua.h"

static const char *const sources[SCHED_SCRIPT_COUNT] = {
    [SCHED_SCRIPT_INTAKE] = lua_intake,
    [SCHED_SCRIPT_CLOSE] = lua_close,
    [SCHED_SCRIPT_TRANSITION] = lua_transition,
    [SCHED_SCRIPT_JOB_GET] = lua_job_get,
    [SCHED_SCRIPT_JOB_LIST] = lua_job_list,
    [SCHED_SCRIPT_ROUTE_APPLY] = lua_route_apply,
    [SCHED_SCRIPT_PROMOTE] = lua_promote,
    [SCHED_SCRIPT_CLAIM] = lua_claim,
    [SCHED_SCRIPT_HEARTBEAT] = lua_heartbeat,
    [SCHED_SCRIPT_COMPLETE] = lua_complete,
    [SCHED_SCRIPT_REAP] = lua_reap,
    [SCHED_SCRIPT_INSPECT_CLAIM] = lua_inspect_claim,
    [SCHED_SCRIPT_INSPECT_DONE] = lua_inspect_done,
    [SCHED_SCRIPT_UNLOCK] = lua_unlock,
    [SCHED_SCRIPT_DECIDE] = lua_decide,
    [SCHED_SCRIPT_OUTBOX_PUT] = lua_outbox_put,
    [SCHED_SCRIPT_OUTBOX_TAKE] = lua_outbox_take,
    [SCHED_SCRIPT_OUTBOX_DONE] = lua_outbox_done,
    [SCHED_SCRIPT_OUTBOX_FAIL] = lua_outbox_fail,
    [SCHED_SCRIPT_ESCALATE] = lua_escalate,
    [SCHED_SCRIPT_CARD_POSTED] = lua_card_posted,
    [SCHED_SCRIPT_REDELIVERY_CLAIM] = lua_redelivery_claim,
    [SCHED_SCRIPT_REDELIVERY_MARK] = lua_redelivery_mark,
    [SCHED_SCRIPT_RELEASE] = lua_release,
    [SCHED_SCRIPT_IDLE_COUNT] = lua_idle_count,
    [SCHED_SCRIPT_RETENTION_PURGE] = lua_retention_purge,
    [SCHED_SCRIPT_RETENTION_BACKFILL] = lua_retention_backfill,
    [SCHED_SCRIPT_RETENTION_DEAD] = lua_retention_dead,
    [SCHED_SCRIPT_RETENTION_SWEEP] = lua_retention_sweep,
    [SCHED_SCRIPT_METRICS] = lua_metrics,
    [SCHED_SCRIPT_PR_JOB] = lua_pr_job,
    [SCHED_SCRIPT_CHECK_RUN] = lua_check_run,
};

static const char *const names[SCHED_SCRIPT_COUNT] = {
    [SCHED_SCRIPT_INTAKE] = "intake",
    [SCHED_SCRIPT_CLOSE] = "close",
    [SCHED_SCRIPT_TRANSITION] = "transition",
    [SCHED_SCRIPT_JOB_GET] = "job_get",
    [SCHED_SCRIPT_JOB_LIST] = "job_list",
    [SCHED_SCRIPT_ROUTE_APPLY] = "route_apply",
    [SCHED_SCRIPT_PROMOTE] = "promote",
    [SCHED_SCRIPT_CLAIM] = "claim",
    [SCHED_SCRIPT_HEARTBEAT] = "heartbeat",
    [SCHED_SCRIPT_COMPLETE] = "complete",
    [SCHED_SCRIPT_REAP] = "reap",
    [SCHED_SCRIPT_INSPECT_CLAIM] = "inspect_claim",
    [SCHED_SCRIPT_INSPECT_DONE] = "inspect_done",
    [SCHED_SCRIPT_UNLOCK] = "unlock",
    [SCHED_SCRIPT_DECIDE] = "decide",
    [SCHED_SCRIPT_OUTBOX_PUT] = "outbox_put",
    [SCHED_SCRIPT_OUTBOX_TAKE] = "outbox_take",
    [SCHED_SCRIPT_OUTBOX_DONE] = "outbox_done",
    [SCHED_SCRIPT_OUTBOX_FAIL] = "outbox_fail",
    [SCHED_SCRIPT_ESCALATE] = "escalate",
    [SCHED_SCRIPT_CARD_POSTED] = "card_posted",
    [SCHED_SCRIPT_REDELIVERY_CLAIM] = "redelivery_claim",
    [SCHED_SCRIPT_REDELIVERY_MARK] = "redelivery_mark",
    [SCHED_SCRIPT_RELEASE] = "release",
    [SCHED_SCRIPT_IDLE_COUNT] = "idle_count",
    [SCHED_SCRIPT_RETENTION_PURGE] = "retention_purge",
    [SCHED_SCRIPT_RETENTION_BACKFILL] = "retention_backfill",
    [SCHED_SCRIPT_RETENTION_DEAD] = "retention_dead",
    [SCHED_SCRIPT_RETENTION_SWEEP] = "retention_sweep",
    [SCHED_SCRIPT_METRICS] = "metrics",
    [SCHED_SCRIPT_PR_JOB] = "pr_job",
    [SCHED_SCRIPT_CHECK_RUN] = "check_run",
};

/* One Redis function library holding every script, so the library part is compiled once
 * per server (FUNCTION LOAD), not on every call: library.lua, then each script as a
 * function of its own that sets P, the prefix, from ARGV[1] first. Redis runs one function
 * at a time, so the module-level P cannot be seen half-set. The library and function names
 * carry a hash of the sources: processes of two versions on one server each call their
 * own. */
static char *library_text;
static char function_names[SCHED_SCRIPT_COUNT][64];
static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_build(void)
{
    uint64_t h = core_fnv1a(lua_library);
    core_buf b = {0};
    char id[24];
    int rc = 0;

    for (int i = 0; i < SCHED_SCRIPT_COUNT; i++)
        h = h * 31 + core_fnv1a(sources[i]);
    snprintf(id, sizeof(id), "zoneci_%016llx", (unsigned long long)h);
    rc |= core_buf_printf(&b, "#!lua name=%s\n%s", id, lua_library);
    for (int i = 0; i < SCHED_SCRIPT_COUNT; i++) {
        snprintf(function_names[i], sizeof(function_names[i]), "%s_%s", id, names[i]);
        rc |= core_buf_printf(&b,
                              "redis.register_function('%s', function(KEYS, ARGV)\n"
                              "P = ARGV[1]\n%s\nend)\n",
                              function_names[i], sources[i]);
    }
    CORE_ASSERT(rc == 0);
    library_text = core_buf_steal(&b);
}

const char *sched_script_library(void)
{
    pthread_once(&library_once, library_build);
    return library_text;
}

const char *sched_script_function(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    pthread_once(&library_once, library_build);
    return function_names[script];
}

const char *sched_script_name(sched_script script)
{
    CORE_ASSERT((unsigned)script < SCHED_SCRIPT_COUNT);
    return names[script];
}
