/* Inspection of received jobs (migration grading, approval decision) by worker threads.
 * The inspector borrows its plan and is freed by sched_inspector_stop. */
#ifndef ZONECI_SCHEDULER_SCHED_INSPECTOR_H
#define ZONECI_SCHEDULER_SCHED_INSPECTOR_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Forward declarations (a C11 typedef may be repeated); their faces define them. */
typedef struct sched_store sched_store;
typedef struct sched_plan sched_plan;

/* ---- inspection (scheduler/inspector.c) ------------------------------------------------
 * received -> inspecting -> awaiting_approval, or on to routing. Workers in every serve
 * process take received jobs one at a time (a Lua script), fetch the repository's mirror
 * under `cache_dir` (one fetch per repository across processes: `{P}:lock:fetch:REPO`),
 * grade the migrations of the merge-base diff, store `risk`, `report` and `migration` in
 * the job, and decide from the policy's `approval`. A policy without `migrations` skips
 * the fetch. A diff that cannot be read is retried (1 s, 2 s), then the job awaits
 * approval: fail safe. `{P}:inspect` (score = when a job may be taken up again) brings
 * back the jobs of a crashed inspector and schedules retries. */
typedef struct sched_inspector sched_inspector;

typedef struct sched_inspect_result {
    char job_id[32];     /* "" when there was nothing to inspect */
    const char *outcome; /* "route", "approve", "retry", or NULL on error */
    bool routed;         /* "route" applied in the same step (queued or deferred); false:
                          * handed to the routers, which weigh several open regions */
    int risk;            /* policy_risk */
} sched_inspect_result;

/* Where an inspector gets the GitHub App installation token for an https fetch (the
 * notifier knows how; the scheduler does not depend on it). get returns 0 and a malloc'd
 * token the inspector wipes and frees. NULL get: fetch without a token. */
typedef struct sched_token_source {
    int (*get)(int64_t installation_id, char **token, void *ctx, core_error *err);
    void *ctx;
} sched_token_source;

/* Inspects one job at an injected instant (tests call it directly). *plan is read under
 * plan_lock (may be NULL) only while copying what the policy says; tokens may be NULL. */
int sched_inspect_one(sched_store *store, const sched_plan *const *plan, pthread_mutex_t *plan_lock,
                      const sched_token_source *tokens, int64_t now_ms,
                      sched_inspect_result *result, core_error *err);
/* n_workers threads; on_routed(ctx) after a job is handed to the routers (to kick one).
 * tokens (copied; may be NULL) serves https fetches. */
int sched_inspector_start(sched_inspector **out, sched_store *store, const sched_plan *plan,
                          size_t n_workers, const sched_token_source *tokens,
                          void (*on_routed)(void *ctx), void *ctx, core_error *err);
/* Swaps the plan; when it returns no worker reads the old one (free it then). */
void sched_inspector_set_plan(sched_inspector *ins, const sched_plan *plan);
/* A job arrived: wake a worker. Never blocks. */
void sched_inspector_kick(sched_inspector *ins);
void sched_inspector_stop(sched_inspector *ins);

#endif
