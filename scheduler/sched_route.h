/* Routing: the plan (the configuration compiled for routing), routing decisions, and the
 * router that applies them to jobs in Redis. A plan borrows its policy_config; the caller
 * frees the plan (sched_plan_free) and the router (sched_router_stop). */
#ifndef ZONECI_SCHEDULER_SCHED_ROUTE_H
#define ZONECI_SCHEDULER_SCHED_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Forward declarations (a C11 typedef may be repeated); their faces define them. */
typedef struct sched_store sched_store;
typedef struct sched_windows sched_windows;

/* ---- routing (scheduler/route.c) ------------------------------------------------------
 * A plan is the configuration compiled for routing: each region's windows and each
 * freeze's instants. It borrows cfg (which must outlive it) and is immutable: any thread
 * may use it. The scheduler reads the configuration types of policies/, never the
 * reverse. */
struct policy_config;
typedef struct sched_plan sched_plan;

int sched_plan_new(sched_plan **out, const struct policy_config *cfg, core_error *err);
void sched_plan_free(sched_plan *plan);
const struct policy_config *sched_plan_config(const sched_plan *plan);
/* The windows of cfg->regions[region], or NULL when out of range. */
const sched_windows *sched_plan_windows(const sched_plan *plan, size_t region);
/* Index of a region by name, or -1. */
int sched_plan_region_index(const sched_plan *plan, const char *name);
/* "09:00 JST, in 3h 10m": `when` in the region's zone, relative to `at`. */
void sched_plan_describe_instant(const sched_plan *plan, size_t region, int64_t when, int64_t at,
                                 char *out, size_t len);

/* ---- the regions now (scheduler/table.c) ---------------------------------------------- */

/* One region at an instant: open or not, and the next change in words. */
typedef struct sched_region_now {
    bool open;
    int64_t next_change;      /* the next close when open, else the next open; SCHED_NO_INSTANT
                               * when none comes within a year */
    char local[CORE_ISO_MAX]; /* the region's local time, ISO 8601 with its offset */
    char abbr[16];            /* the zone's short name then: "JST", "UTC+5:45" */
    char change[112];         /* "closes 18:00 JST, in 3h 10m", or "none within a year" */
} sched_region_now;

/* Region `region` of the plan (an index into cfg->regions, in range) at `at`. Pure; any
 * thread. */
void sched_plan_region_now(const sched_plan *plan, size_t region, int64_t at,
                           sched_region_now *out);

/* Terminal colours for the table (and the CLI's timeline): escape sequences, "" for none. */
typedef struct sched_paint {
    const char *open, *closed, *now, *dim, *reset;
} sched_paint;

/* Appends the regions' table at `at` to out: a line naming the instant and the time-zone
 * data, then one row per region (name, zone, local time, open or closed, next change).
 * `zoneci windows` prints it and Slack's `/zoneci windows` shows it; paint NULL for no
 * colour. Returns core_buf_status(out). Pure; any thread. */
int sched_plan_table(const sched_plan *plan, int64_t at, const sched_paint *paint, core_buf *out);

/* What the fleet looks like in one region, from Redis (idle runners seen recently). */
typedef struct sched_region_load {
    int idle_runners;
    int queued;
} sched_region_load;

typedef enum sched_route_kind {
    SCHED_ROUTE_QUEUE = 0, /* queue in `region` now */
    SCHED_ROUTE_DEFER,     /* wait until release_at, then route again */
} sched_route_kind;

typedef struct sched_decision {
    sched_route_kind kind;
    int region;         /* index into cfg->regions; -1 for a freeze */
    int64_t release_at; /* DEFER: when to route again */
    char reason[512];   /* "deferred: no region open; apac-tokyo opens 09:00 JST, in 3h 10m" */
    char labels[256];   /* runner labels the policy requires, comma-separated */
    int n_open;         /* the policy's regions open at the instant: with more than one,
                         * their idle runners and queues chose (loads) */
} sched_decision;

/* Decides where a job of repo goes at `at` (docs/scheduler.md, "Routing and the router"). loads has
 * one entry per configured region, or is NULL (all regions idle and empty: order decides).
 * CORE_ENOTFOUND when no policy matches repo. */
int sched_route_decide(const sched_plan *plan, const char *repo, int64_t at,
                       const sched_region_load *loads, sched_decision *out, core_error *err);
/* The decision for repo at `at` as the store's scripts take it ("queue|defer TAB region
 * TAB release_ms TAB labels TAB reason"), when it does not depend on the regions' load:
 * one of the policy's regions open, or none (a deferral, a fallback, a freeze). Then the
 * step that ends a job's inspection routes it too, with no hop through the routing set
 * and a router pass. With several regions open the choice weighs idle runners and
 * queues, which a router counts for a whole batch: out is "" (also for no policy). */
#define SCHED_ROUTE_SPEC_MAX 1024
void sched_route_spec(const sched_plan *plan, const char *repo, int64_t at, char *out, size_t size);
/* Whether jobs of repo need an inspection (their policy checks migrations); true when no
 * policy matches (the inspector says so on the job). */
bool sched_plan_inspects(const sched_plan *plan, const char *repo);

/* ---- the router (scheduler/router.c) ---------------------------------------------------
 * Applies routing decisions to jobs in Redis. Region queues are `{P}:queue:REGION`
 * (score = job id), deferrals `{P}:deferred` (score = release instant), released
 * deferrals wait in `{P}:routing`; runners seen idle are `{P}:idle:REGION` (score = last
 * poll, written by the runner API). Every write is a compare-and-set Lua script, so any
 * number of processes may run routers on one Redis. */
typedef struct sched_router sched_router;

typedef struct sched_router_stats {
    size_t released;  /* deferrals that came due in this pass (this process won them) */
    size_t routed;    /* decisions applied */
    size_t rerouted;  /* of which queued jobs moved because their region closed */
    size_t raced;     /* jobs another process had already moved */
    size_t requeued;  /* expired leases whose job went back to its queue */
    size_t dead;      /* expired leases whose job had no attempts left */
    size_t escalated; /* undecided jobs whose approval card went to the next region */
    size_t errors;
} sched_router_stats;

/* Applies decision d to job id if it is still in expect_state (and, when expect_region
 * is not NULL, queued in that region; when must_be_due, released from a deferral).
 * CORE_ECONFLICT when it has moved on. cfg is the configuration d was made with. */
int sched_route_apply(sched_store *store, const char *id, const char *expect_state,
                      const char *expect_region, bool must_be_due, const struct policy_config *cfg,
                      const sched_decision *d, int64_t now_ms, core_error *err);
/* Releases deferrals due at now_ms into the routing set (at most limit): each job is
 * released by exactly one caller however many race. */
int sched_deferred_promote(sched_store *store, int64_t now_ms, size_t limit, size_t *released,
                           core_error *err);
/* Queue lengths and idle runners of every configured region (loads has n_regions): idle
 * runners seen in the last SCHED_IDLE_WINDOW_MS whose labels include every one of
 * labels_csv ("" or NULL: any), at most SCHED_IDLE_PER_TOKEN per runner token. */
int sched_region_loads(sched_store *store, const struct policy_config *cfg, int64_t now_ms,
                       const char *labels_csv, sched_region_load *loads, core_error *err);
/* One pass at an injected instant: reap expired leases, release due deferrals, route new
 * and released jobs, re-route queued jobs whose region closed, escalate undecided
 * approvals. */
int sched_router_pass(sched_store *store, const sched_plan *plan, int64_t now_ms,
                      sched_router_stats *stats, core_error *err);

/* A thread that runs a pass every second, or at once when kicked. plan is borrowed. */
int sched_router_start(sched_router **out, sched_store *store, const sched_plan *plan,
                       core_error *err);
/* Swaps the plan; when it returns no pass uses the old one any more (free it then). */
void sched_router_set_plan(sched_router *router, const sched_plan *plan);
/* Asks for a pass now (a job arrived). Never blocks: safe on request threads. */
void sched_router_kick(sched_router *router);
/* Stops and joins the thread, then frees the router. NULL does nothing. */
void sched_router_stop(sched_router *router);

#endif
