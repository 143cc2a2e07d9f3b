/* scheduler: jobs and their life cycle, kept in Redis (the only shared state), so any
 * number of zoneci processes can serve one fleet. The store is thread-safe: it holds a
 * small pool of Redis connections and every call borrows one. Calls fail with
 * CORE_EUNAVAILABLE while Redis cannot be reached and reconnect by themselves. */
#ifndef ZONECI_SCHEDULER_H
#define ZONECI_SCHEDULER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct sched_store sched_store;

/* Redis Sentinel: the primary is asked for, never configured, so a failover is followed. */
typedef struct sched_store_sentinel {
    const char *master;              /* the name the sentinels monitor the primary under */
    const char *const *nodes;        /* "host:port" or "[v6]:port" of each sentinel */
    size_t n_nodes;                  /* 1 to 16 */
    const char *username;            /* the primary's ACL user, or NULL */
    const char *password;            /* the primary's password, or NULL: no AUTH */
    const char *sentinel_password;   /* the sentinels' own password, or NULL: no AUTH */
    int db;                          /* SELECTed on the primary when not 0 */
} sched_store_sentinel;

typedef struct sched_store_options {
    /* Exactly one of url and sentinel. */
    const char *url;    /* redis://[:password@]host:port[/db], unix:///abs/path, unix://rel/path */
    const sched_store_sentinel *sentinel; /* copied */
    const char *prefix; /* every key starts with "{prefix}:" (one Redis Cluster hash slot) */
    size_t pool_size;   /* connections; at least 1 */
    int connect_timeout_ms;   /* default 1000 when 0 */
    int command_timeout_ms;   /* default 2000 when 0 */
    int dedup_ttl_seconds;    /* how long a delivery id and an outbox dedup key are
                               * remembered; default 3 days for delivery ids (delivery
                               * recovery looks that far back), 86400 for the outbox */
    /* After an acknowledged write (sched_store_eval_acked), when the primary has replicas,
     * WAIT this long for one of them to hold it; 0 never waits. */
    int wait_replica_ms;
} sched_store_options;

/* Creates a store; it connects lazily, so this succeeds while Redis is down (readiness is
 * sched_store_ping). The options' strings are copied. */
int sched_store_new(sched_store **out, const sched_store_options *opts, core_error *err);
void sched_store_free(sched_store *store);
/* PING over a pooled connection: 0 when Redis answers. */
int sched_store_ping(sched_store *store, core_error *err);
/* Number of Redis errors (connection or command) seen since start, for /metrics. */
uint64_t sched_store_error_count(const sched_store *store);

/* Job states (SPEC section 2), as stored and as shown by the API. */
#define SCHED_STATE_LIST                                                                       \
    X(RECEIVED, "received")                                                                    \
    X(INSPECTING, "inspecting")                                                                \
    X(AWAITING_APPROVAL, "awaiting_approval")                                                  \
    X(DEFERRED, "deferred")                                                                    \
    X(QUEUED, "queued")                                                                        \
    X(LEASED, "leased")                                                                        \
    X(SUCCEEDED, "succeeded")                                                                  \
    X(FAILED, "failed")                                                                        \
    X(REJECTED, "rejected")                                                                    \
    X(DEAD, "dead")                                                                            \
    X(SUPERSEDED, "superseded")                                                                \
    X(CANCELLED, "cancelled")

typedef enum sched_state {
#define X(id, name) SCHED_STATE_##id,
    SCHED_STATE_LIST
#undef X
        SCHED_STATE_COUNT
} sched_state;

/* The stored name of a state ("received"). */
const char *sched_state_name(sched_state state);
/* Looks a name up; false (and *out untouched) for anything not in SCHED_STATE_LIST. */
bool sched_state_parse(const char *name, sched_state *out);

/* True for a name in SCHED_STATE_LIST. */
bool sched_state_valid(const char *name);
/* True for states a job never leaves (succeeded, failed, rejected, dead, superseded,
 * cancelled). */
bool sched_state_final(const char *name);

/* What a pull_request event tells us about the build to run. Strings are borrowed. */
typedef struct sched_pr_ref {
    const char *repo; /* "owner/name" */
    int64_t pr;
    const char *head_sha;
    const char *base_sha;
    const char *head_ref;
    const char *base_ref;
    const char *title;
    const char *author;    /* GitHub login */
    const char *clone_url; /* may be "" */
    int64_t installation_id;
    /* The first history entry's reason, e.g. "pull request #12 opened at abc1234"; NULL
     * or "" builds "pull request #12 at abc1234". */
    const char *reason;
} sched_pr_ref;

/* Hex characters of a job's card key. */
#define SCHED_CARD_KEY_LEN 16

typedef enum sched_intake_outcome {
    SCHED_INTAKE_CREATED = 0,   /* a new job */
    SCHED_INTAKE_DUPLICATE,     /* this delivery id was seen in the last 3 days */
    SCHED_INTAKE_LIVE,          /* (repo, pr, head_sha) already has a live job */
    SCHED_INTAKE_CLOSED,        /* a close event: pending jobs of the PR cancelled */
} sched_intake_outcome;

typedef struct sched_intake {
    sched_intake_outcome outcome;
    char job_id[32];        /* created or existing job ("" for CLOSED) */
    char superseded_id[32]; /* older live job of the same PR now superseded, or "" */
    int cancelled;          /* CLOSED: how many jobs were cancelled */
} sched_intake;

/* Records a pull_request delivery and creates its job in one atomic Redis step (one Lua
 * script): the delivery is never marked seen without its job, or the reverse. A newer
 * head SHA supersedes the PR's older live job. The job starts in `received` with its
 * first history entry (actor "github") and a random `card_key` (SCHED_CARD_KEY_LEN hex
 * characters) that its Slack buttons carry: job ids restart at 1 when Redis is wiped,
 * the key does not repeat. */
int sched_intake_pull_request(sched_store *store, const char *delivery_id,
                              const sched_pr_ref *pr, int64_t now_ms, sched_intake *out,
                              core_error *err);
/* A closed PR: cancels its non-final jobs, atomically with the delivery's dedup mark. */
int sched_intake_pr_closed(sched_store *store, const char *delivery_id, const char *repo,
                           int64_t pr, int64_t now_ms, sched_intake *out, core_error *err);

/* Moves job `id` to state `to` in one atomic Lua step: the per-state sets, the job's
 * reason and updated_at, a history entry and an audit entry; a final state also frees the
 * (repo, pr, head_sha) triple and leaves the PR's live set. When `from` is not NULL the
 * job must be in that state. Returns CORE_ENOTFOUND for an unknown job, CORE_ECONFLICT
 * when it is in another state or in a final one (final jobs never move), CORE_EINVAL for
 * an unknown state name or an empty actor. Strings are borrowed. Thread-safe. */
int sched_job_transition(sched_store *store, const char *id, const char *from, const char *to,
                         const char *actor, const char *reason, int64_t now_ms,
                         core_error *err);

/* A human decision on a job awaiting approval (SPEC section 7), in one atomic Lua step:
 * the first decision wins. The job records `decision` (approved|rejected), `decided_by`
 * (actor), `decided_at` and `decided_local` (when_local: the decider's region time, see
 * sched_approval_local_time), with a history and audit entry by actor; the job's cards
 * are updated and its escalation ends. Approving hands the
 * job to routing (the routing set, like an inspection that needs no approval: it stays
 * awaiting_approval until a router moves it, so kick one); rejecting moves it to
 * `rejected` (final). state_out receives the state after the call, or on CORE_ECONFLICT
 * the job's current state (not awaiting approval, or already decided: nothing changes;
 * the message says who decided). CORE_ENOTFOUND for an unknown job, CORE_EINVAL for an
 * empty or overlong actor or reason. Strings are borrowed. Thread-safe. */
int sched_job_decide(sched_store *store, const char *id, bool approve, const char *actor,
                     const char *reason, const char *when_local, int64_t now_ms,
                     char state_out[32], core_error *err);

/* sched_job_decide for a Slack click: card_key is the key the card's button carried (""
 * for an old card whose value is the bare id; NULL checks nothing, as sched_job_decide).
 * In the same Lua step, a key that is not the job's `card_key` ("" for a job created
 * before card keys) decides nothing: CORE_EAUTH, "this card is out of date", state_out
 * the job's state. Checked before whether the job was decided already. */
int sched_job_decide_card(sched_store *store, const char *id, const char *card_key, bool approve,
                          const char *actor, const char *reason, const char *when_local,
                          int64_t now_ms, char state_out[32], core_error *err);

/* Appends the job's JSON (SPEC section 9: id, state, repo, pr, head_sha, region, reason,
 * attempts, history, ...) to out. CORE_ENOTFOUND for an unknown id. */
int sched_job_json(sched_store *store, const char *id, core_buf *out, core_error *err);

/* Appends {"jobs":[...],"next":CURSOR|null} to out: newest first, only `state` when not
 * NULL, starting after `cursor` (NULL for the first page), at most limit (1..1000) jobs.
 * CORE_EINVAL for an unknown state or a malformed cursor. */
int sched_job_list_json(sched_store *store, const char *state, const char *cursor,
                        size_t limit, core_buf *out, core_error *err);

/* ---- working windows (scheduler/windows.c, ICU) ---------------------------------------
 * A zone is a time zone's UTC-offset history read from ICU once and cached for the life
 * of the process: lookups are lock-free and safe on any thread. Instants are UTC ms;
 * "wall" times are local wall-clock ms counted as if the zone were UTC. */
typedef struct sched_zone sched_zone;

#define SCHED_NO_INSTANT INT64_MIN

/* The zone for an IANA id. CORE_EINVAL, naming the id and ICU's data version, when ICU
 * does not know it (never a silent fallback to GMT). *out is owned by the cache. */
int sched_zone_get(const char *tzid, const sched_zone **out, core_error *err);
const char *sched_zone_id(const sched_zone *zone);
/* A short name for the zone's time at utc_ms: "PDT", "CET", else "UTC+9", "UTC+5:45". */
void sched_zone_abbrev(const sched_zone *zone, int64_t utc_ms, char out[16]);
/* UTC offset (ms) in force at utc_ms. */
int32_t sched_zone_offset_ms(const sched_zone *zone, int64_t utc_ms);
/* The instant a local wall time means: a time that occurs twice means its first
 * occurrence; a time a DST jump skips means the first instant after the gap. */
int64_t sched_zone_wall_to_utc(const sched_zone *zone, int64_t wall_ms);
/* ICU's time-zone data version, e.g. "2022e". */
const char *sched_tz_data_version(void);

/* ---- the system's time-zone data (scheduler/tzif.c, scheduler/tzdata.c) ----------------
 * ICU ships a copy of the IANA database frozen when it was built. zoneci computes with the
 * system's instead: the TZif files under /usr/share/zoneinfo (or $TZDIR) are converted into
 * ICU's zoneinfo64 resource (compiled with genrb) and ICU is pointed at it before its first
 * time-zone call, so every ICU answer (windows, local times, holidays) follows current law. */

/* One local time type of a TZif file. */
typedef struct sched_tzif_type {
    int32_t utoff; /* seconds east of UTC */
    bool isdst;
    char abbr[16];
} sched_tzif_type;

/* A parsed TZif file (RFC 8536). types[0] is in force before the first transition; the
 * footer, when not "", is a POSIX TZ string for the instants after the last one. */
typedef struct sched_tzif {
    int64_t *trans;   /* seconds since the epoch, strictly increasing */
    uint8_t *type_of; /* the type in force from trans[i] on */
    size_t n_trans;
    sched_tzif_type *types;
    size_t n_types;
    char footer[128];
} sched_tzif;

/* Parses a whole TZif file (versions 1 to 4; the 64-bit block when there is one). Files
 * with leap seconds ("right/" zones) are refused: they do not count civil time. CORE_EINVAL
 * names what is malformed; *out is zeroed and needs sched_tzif_free only on success. */
int sched_tzif_parse(const uint8_t *data, size_t len, sched_tzif *out, core_error *err);
void sched_tzif_free(sched_tzif *z);

/* A POSIX TZ transition rule: 'M' (month.week.weekday, week 5 = last, Sunday = 0), 'J'
 * (day 1..365, February 29 never counted) or 'D' (day 0..365), at `time` seconds of local
 * time (-167 h .. 167 h) in the offset in force before the change. */
typedef struct sched_tz_rule {
    char kind;
    int month, week, wday, day;
    int32_t time;
} sched_tz_rule;

typedef struct sched_posix_tz {
    int32_t std_utoff, dst_utoff; /* seconds east of UTC */
    bool has_dst;
    sched_tz_rule start, end; /* into daylight time, back to standard time */
} sched_posix_tz;

/* Parses "PST8PDT,M3.2.0,M11.1.0", "<+0545>-5:45", "IST-1GMT0,M10.5.0,M3.5.0/1", ... */
int sched_posix_tz_parse(const char *s, sched_posix_tz *out, core_error *err);
/* The instant (seconds) a rule names in `year`, its local time read at utoff_before. */
int64_t sched_tz_rule_utc(const sched_tz_rule *r, int64_t year, int32_t utoff_before);
/* The instants of `year` at which tz goes to daylight and back to standard time. */
void sched_posix_tz_year(const sched_posix_tz *tz, int64_t year, int64_t *to_dst,
                         int64_t *to_std);
int sched_days_in_month(int64_t year, int month);
/* The UTC offset (seconds) z gives instant t (seconds), the footer (parsed from z->footer,
 * or NULL) ruling after the last transition. Pure; any thread. */
int32_t sched_tzif_utoff_at(const sched_tzif *z, const sched_posix_tz *footer, int64_t t);

typedef struct sched_tzdata_stats {
    size_t zones;   /* TZif files converted */
    size_t links;   /* ids that name another zone: the system's links and ICU's old ids */
    char version[32];
} sched_tzdata_stats;

/* Converts the TZif database under zoneinfo_dir into ICU's zoneinfo64 resource in out_dir
 * (zoneinfo64.txt, zoneinfo64.res through genrb, and a stamp naming the version and the
 * source). out_dir is created; what it held is replaced. CORE_EINVAL for unreadable data,
 * CORE_EIO when genrb is missing or fails (the message says which). Uses ICU's own data
 * for the ids only ICU knows ("PST", "SystemV/..."): call it before sched_tz_setup or in a
 * process of its own. Not thread-safe. */
int sched_tzdata_generate(const char *zoneinfo_dir, const char *out_dir,
                          sched_tzdata_stats *stats, core_error *err);

/* What ICU computes with, decided once per process by sched_tz_setup. */
typedef struct sched_tz_setup_info {
    bool system;       /* data generated from the system's tzdata (else ICU's own) */
    bool regenerated;  /* generated during this start, because the system's was newer */
    char version[32];  /* the version ICU computes with, "2025b" */
    char dir[512];     /* the generated data in use; "" for ICU's own */
    char error[256];   /* why the system's data could not be used; "" when it is */
    int64_t elapsed_ms; /* time spent choosing and (re)generating */
} sched_tz_setup_info;

/* Points ICU at data generated from the system's tzdata, before any ICU time-zone call:
 * the newest of <cache_dir>/tzdata/<version>, $ZONECI_TZDATA_DIR, the installed copy and
 * the copy next to the executable; when the system's tzdata is newer than all of them it
 * is regenerated into <cache_dir>/tzdata/<version> (cache_dir NULL: $ZONECI_CACHE_DIR,
 * /var/cache/zoneci, ~/.cache/zoneci). On failure ICU keeps its own data and out->error
 * says why. The first call decides; later calls return the same answer. Call it at start,
 * before threads; zone lookups call it with NULL if nobody has. */
void sched_tz_setup(const char *cache_dir, sched_tz_setup_info *out);
/* "generated from the system's tzdata" or "ICU's bundled data", for logs and metrics. */
const char *sched_tz_data_source(void);

typedef struct sched_tz_mismatch {
    bool differs;
    int64_t at_ms; /* first instant checked where the offsets differ */
    int32_t icu_offset_ms;
    int32_t system_offset_ms;
} sched_tz_mismatch;

/* Compares ICU's offsets with the system database's (the zone's TZif file, read directly)
 * every 15 minutes over [from_ms, from_ms + days). Touches no process state (no TZ, no
 * tzset), so a reload may call it while other threads run. */
int sched_zone_check_system(const sched_zone *zone, int64_t from_ms, int days,
                            sched_tz_mismatch *out, core_error *err);

/* A region's working windows: weekly hours in a zone, minus holidays (local dates; a
 * holiday closes the windows that start on it). Immutable once made; any thread. */
typedef struct sched_windows sched_windows;

typedef struct sched_window_state {
    bool open;
    int32_t offset_ms;  /* UTC offset at the instant */
    int64_t next_open;  /* first instant after `at` going closed -> open, or SCHED_NO_INSTANT */
    int64_t next_close; /* first instant after `at` going open -> closed, or SCHED_NO_INSTANT */
} sched_window_state;

/* hours and holidays ("YYYY-MM-DD") are copied. */
int sched_windows_new(sched_windows **out, const char *tzid, const core_hours *hours,
                      size_t n_hours, char *const *holidays, size_t n_holidays,
                      core_error *err);
void sched_windows_free(sched_windows *w);
const sched_zone *sched_windows_zone(const sched_windows *w);
/* Open or not at `at`, and the next changes within a year (SPEC section 3). Windows that
 * touch or overlap are one open span. Allocation-free. */
void sched_windows_eval(const sched_windows *w, int64_t at, sched_window_state *out);

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
void sched_plan_describe_instant(const sched_plan *plan, size_t region, int64_t when,
                                 int64_t at, char *out, size_t len);

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
} sched_decision;

/* Decides where a job of repo goes at `at` (SPEC section 4). loads has one entry per
 * configured region, or is NULL (all regions idle and empty: order decides).
 * CORE_ENOTFOUND when no policy matches repo. */
int sched_route_decide(const sched_plan *plan, const char *repo, int64_t at,
                       const sched_region_load *loads, sched_decision *out, core_error *err);

/* ---- the router (scheduler/router.c) ---------------------------------------------------
 * Applies routing decisions to jobs in Redis. Region queues are `{P}:queue:REGION`
 * (score = job id), deferrals `{P}:deferred` (score = release instant), released
 * deferrals wait in `{P}:routing`; runners seen idle are `{P}:idle:REGION` (score = last
 * poll, written by the runner API). Every write is a compare-and-set Lua script, so any
 * number of processes may run routers on one Redis. */
typedef struct sched_router sched_router;

typedef struct sched_router_stats {
    size_t released; /* deferrals that came due in this pass (this process won them) */
    size_t routed;   /* decisions applied */
    size_t rerouted; /* of which queued jobs moved because their region closed */
    size_t raced;    /* jobs another process had already moved */
    size_t requeued; /* expired leases whose job went back to its queue */
    size_t dead;     /* expired leases whose job had no attempts left */
    size_t escalated; /* undecided jobs whose approval card went to the next region */
    size_t errors;
} sched_router_stats;

/* Applies decision d to job id if it is still in expect_state (and, when expect_region
 * is not NULL, queued in that region; when must_be_due, released from a deferral).
 * CORE_ECONFLICT when it has moved on. cfg is the configuration d was made with. */
int sched_route_apply(sched_store *store, const char *id, const char *expect_state,
                      const char *expect_region, bool must_be_due,
                      const struct policy_config *cfg, const sched_decision *d, int64_t now_ms,
                      core_error *err);
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

/* ---- leases (scheduler/lease.c) ---------------------------------------------------------
 * A claim moves the oldest suitable queued job of a region into a lease, atomically:
 * labels must match, and the job's build locks (one build of a PR at a time; one
 * migration build of a repository at a time) are taken with SET NX PX, valued
 * "JOB:LEASE", released and extended only by compare-and-delete / -extend scripts. Every
 * grant comes with a fencing token from INCR, larger than every token before it. */
typedef struct sched_claim {
    bool found;
    char job_id[32];
    char lease_id[33];
    int64_t fencing_token;
    int64_t lease_expires; /* UTC ms */
    int attempt;
    int passed_over; /* not found: queued jobs left for want of a label the runner lacks */
} sched_claim;

/* Runners seen idle count for routing for this long after their last empty claim, and a
 * runner token counts for at most SCHED_IDLE_PER_TOKEN of them in a region (the most
 * recent), so one token cannot pull jobs toward its region with made-up runner names. */
#define SCHED_IDLE_WINDOW_MS 60000
#define SCHED_IDLE_PER_TOKEN 16

/* labels_csv: the runner's labels, comma-separated ("" for none). token_id names the
 * runner token the claim came with (1-20 letters or digits; never the token itself).
 * CORE_EINVAL for a bad runner name, region, token id or labels. out->found is false when
 * nothing could be claimed (the runner is then recorded idle in its region, under its
 * token, with its labels). */
int sched_job_claim(sched_store *store, const char *region, const char *runner,
                    const char *token_id, const char *labels_csv, int lease_seconds,
                    int64_t now_ms, sched_claim *out, core_error *err);
/* Extends the lease (and its locks) to now + lease_seconds. *cancel is set when the job
 * was superseded or cancelled under this lease (the runner must stop it). CORE_ECONFLICT
 * when lease_id is not the job's current lease: nothing changes. */
int sched_job_heartbeat(sched_store *store, const char *id, const char *lease_id,
                        int lease_seconds, int64_t now_ms, bool *cancel, int64_t *expires,
                        core_error *err);
/* Ends a leased job: succeeded or failed; its locks are freed. The same lease asking again
 * succeeds again (a retried request); any other lease gets CORE_ECONFLICT. */
int sched_job_complete(sched_store *store, const char *id, const char *lease_id, bool success,
                       const char *runner, int64_t now_ms, char state[32], core_error *err);
/* Gives back a lease that was granted but never used (the answer did not reach the runner,
 * or the runner was stopping and did not start the job): only the job's current lease,
 * with its own fencing token, can. The job goes back to its region's queue at once, its
 * locks freed and the attempt the grant counted given back; a job superseded or cancelled
 * meanwhile only has its lease ended. why (printable, at most 128 bytes) goes into the
 * history. state receives the job's state after. CORE_ECONFLICT when the lease is not the
 * job's current one (someone else's, expired, completed, released already): nothing
 * changes. */
int sched_job_release(sched_store *store, const char *id, const char *lease_id,
                      int64_t fencing_token, const char *runner, const char *why,
                      int64_t now_ms, char state[32], core_error *err);
/* Expired leases: the job returns to its region's queue with its locks freed, or becomes
 * dead after max_attempts. Any process may call it; each lease is reaped once. */
int sched_leases_reap(sched_store *store, int64_t now_ms, int max_attempts, size_t *requeued,
                      size_t *dead, core_error *err);
/* Fields of a job's hash in one round trip (HMGET): each out (len bytes) receives its
 * field, NUL-terminated and cut to fit, or "" when the job has no such field.
 * CORE_ENOTFOUND when none of the fields is there (a missing job). */
typedef struct sched_field {
    const char *name;
    char *out;
    size_t len;
} sched_field;
int sched_job_fields(sched_store *store, const char *id, sched_field *fields, size_t n,
                     core_error *err);
/* One field of a job's hash ("region", "runner", ...). CORE_ENOTFOUND for a missing job
 * or field. */
int sched_job_field(sched_store *store, const char *id, const char *field, char *out,
                    size_t len, core_error *err);

/* Calls on_ready(region, ctx) whenever a job becomes claimable in a region (queued,
 * requeued, or a build lock freed), in this or any other process: a thread with its own
 * Redis connection subscribed to "{P}:ready", reconnecting by itself. */
typedef struct sched_watch sched_watch;
int sched_watch_start(sched_watch **out, sched_store *store,
                      void (*on_ready)(const char *region, void *ctx), void *ctx,
                      core_error *err);
void sched_watch_stop(sched_watch *watch);

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
int sched_inspect_one(sched_store *store, const sched_plan *const *plan,
                      pthread_mutex_t *plan_lock, const sched_token_source *tokens,
                      int64_t now_ms, sched_inspect_result *result, core_error *err);
/* n_workers threads; on_routed(ctx) after a job is handed to routing (to kick a router).
 * tokens (copied; may be NULL) serves https fetches. */
int sched_inspector_start(sched_inspector **out, sched_store *store, const sched_plan *plan,
                          size_t n_workers, const sched_token_source *tokens,
                          void (*on_routed)(void *ctx), void *ctx, core_error *err);
/* Swaps the plan; when it returns no worker reads the old one (free it then). */
void sched_inspector_set_plan(sched_inspector *ins, const sched_plan *plan);
/* A job arrived: wake a worker. Never blocks. */
void sched_inspector_kick(sched_inspector *ins);
void sched_inspector_stop(sched_inspector *ins);

/* ---- approvals (scheduler/approval.c) ----------------------------------------------------
 * A job awaiting approval has cards: card N is recorded in the job (its region, Slack
 * channel, mentions, when, and once posted its ts), posted through the outbox
 * ("slack_card" {job_id, card}) and re-rendered by "slack_card_update" {job_id, cards}
 * whenever the job's word changes (a decision, an escalation). `{P}:escalate` (score =
 * when) holds the undecided jobs whose next escalation is due. */
#define SCHED_CARDS_MAX 16

/* The region that approves a job of repo at `at` (SPEC section 7): the first of its
 * policy's regions whose window is open, else the one that opens first. skip (indexes of
 * cfg->regions; NULL for none) passes regions over (escalation asks each region once).
 * Returns the region's index and *opens_at (at when open now), or -1 when none is left. */
int sched_approval_region(const sched_plan *plan, const char *repo, int64_t at, const bool *skip,
                          int64_t *opens_at);

/* What a card for repo at `at` records. spec is malloc'd JSON for the scripts: {region
 * ("" when none is left), channel ("" when no card can be posted), mentions (Slack ids,
 * comma-separated), oncall (for people: "@login" through `people`, else the Slack id),
 * plan, escalate_at}. */
typedef struct sched_approval_card_info {
    int region;        /* index into cfg->regions, or -1 */
    char where[160];   /* "apac-tokyo (open now)", "emea-berlin (opens 09:00 CET, in 2h)" */
    char no_card[160]; /* why no Slack card is posted ("no slack is configured"), or "" */
    char *spec;
} sched_approval_card_info;

/* Fills info for the region sched_approval_region picks. CORE_ENOMEM only. */
int sched_approval_card(const sched_plan *plan, const char *repo, int64_t at, const bool *skip,
                        sched_approval_card_info *info, core_error *err);
void sched_approval_card_info_free(sched_approval_card_info *info);

/* When a decision was made, as its decider reads it: "2026-03-09 10:30 JST" in the zone of
 * fallback_region (the approving region) if decider (a Slack user id, or NULL) is on call
 * there, else of the first region whose on-call list holds them, else of
 * fallback_region, else UTC. */
void sched_approval_local_time(const sched_plan *plan, const char *decider,
                               const char *fallback_region, int64_t at, char out[64]);

/* Escalates the undecided jobs whose escalation is due at now_ms: each one's next card
 * goes to the next region (sched_approval_region, skipping the regions already asked),
 * escalate_after_minutes later again, until no region is left. Any number of processes
 * may call it: a card count compare-and-set makes each escalation happen once. */
int sched_escalate_due(sched_store *store, const sched_plan *plan, int64_t now_ms,
                       size_t *escalated, core_error *err);

/* A job as its cards show it. Strings are "" when absent and live as long as the view. */
typedef struct sched_card_view {
    const char *state, *repo, *title, *author, *head_sha, *clone_url;
    const char *report; /* the migration report JSON, or "" */
    const char *plan;   /* the routing plan once approved */
    const char *decision, *decided_by, *decided_local;
    const char *card_key; /* the buttons' key (sched_intake_pull_request), or "" */
    int64_t pr;
    size_t n_cards;
    struct {
        const char *region, *channel, *mentions, *ts;
    } cards[SCHED_CARDS_MAX];
    void *owner;
} sched_card_view;

/* Reads job id's card view; free it with sched_card_view_free. CORE_ENOTFOUND. */
int sched_card_view_get(sched_store *store, const char *id, sched_card_view *out, core_error *err);
void sched_card_view_free(sched_card_view *view);
/* Records that card N of job id was posted as ts. *first is false when the card already
 * had a ts (a delivery retried after its post went through). CORE_ENOTFOUND. */
int sched_card_posted(sched_store *store, const char *id, size_t card, const char *ts,
                      bool *first, core_error *err);

/* ---- the outbox (scheduler/outbox.c) -----------------------------------------------------
 * Every outbound message (a Slack post or update, a GitHub status) is first a record in
 * Redis, delivered by workers in any zoneci process (notifier/outbox.c). A message is the
 * hash `{P}:outbox:ID` (kind, payload, attempts, created_at, last_error, state
 * pending|done|dead, token); `{P}:outbox:due` (score = next attempt) holds the pending
 * ones, `{P}:outbox:dead` (score = when) the dead-lettered ones. Every step is a Lua
 * script: a message is leased to one worker at a time and marked done at most once.
 * Messages the scripts put with an order key (the commit statuses of one commit, the
 * cards of one job) are delivered one at a time, oldest first: `{P}:outbox:order:KEY`
 * lists them, and only its head can be taken until it is done or dead. */
#define SCHED_OUTBOX_KIND_MAX 32
#define SCHED_OUTBOX_PAYLOAD_MAX (256u * 1024) /* bytes of a message's JSON payload */
#define SCHED_OUTBOX_DEDUP_MAX 256             /* bytes of a dedup key */
#define SCHED_OUTBOX_ERROR_MAX 256             /* bytes of last_error kept */
#define SCHED_OUTBOX_BACKOFF_BASE_MS 1000
#define SCHED_OUTBOX_BACKOFF_CAP_MS 300000

/* A leased message. payload is malloc'd: sched_outbox_msg_free releases it. */
typedef struct sched_outbox_msg {
    bool found; /* false: nothing was due */
    char id[32];
    char kind[SCHED_OUTBOX_KIND_MAX];
    char *payload;
    int attempts; /* this one included */
    int64_t created_at;
    char token[33]; /* the lease: pass it to done or fail */
} sched_outbox_msg;

void sched_outbox_msg_free(sched_outbox_msg *msg);

/* Records a message of kind ([a-z_], e.g. "github_status", "slack_post", "slack_update")
 * with its JSON payload (copied; at most SCHED_OUTBOX_PAYLOAD_MAX bytes), due at now_ms.
 * dedup_key (NULL for none) names the message: while it is remembered (the store's dedup
 * ttl) a second put with it records nothing and answers the first message's id. id_out
 * receives the id. CORE_EINVAL for a bad kind or an empty dedup key, CORE_ETOOBIG over
 * the caps, and the store's errors. Thread-safe. */
int sched_outbox_put(sched_store *store, const char *kind, const char *payload_json,
                     const char *dedup_key, int64_t now_ms, char id_out[32], core_error *err);

/* Takes the message due first at now_ms and leases it for lease_ms (> 0): it is due again
 * at now + lease_ms unless done or failed before, so a crashed worker's message comes
 * back. attempts counts this take. out->found is false when nothing is due. The caller
 * frees out with sched_outbox_msg_free. Thread-safe. */
int sched_outbox_take(sched_store *store, int64_t now_ms, int64_t lease_ms, sched_outbox_msg *out,
                      core_error *err);

/* Marks message id done if token is still its lease (compare-and-set), so two workers
 * racing on one message mark it done once. result (NULL for none; e.g. a Slack ts) is
 * kept in the record, which expires after the store's dedup ttl. The same token asking
 * again succeeds again. CORE_ECONFLICT when another lease holds it (or it is dead),
 * CORE_ENOTFOUND for an unknown id. */
int sched_outbox_done(sched_store *store, const char *id, const char *token, int64_t now_ms,
                      core_error *err);
int sched_outbox_done_result(sched_store *store, const char *id, const char *token,
                             const char *result, int64_t now_ms, core_error *err);

/* A failed delivery under lease token: the message is due again at retry_at_ms, or, when
 * its attempts have reached max_attempts (0: never), dead-lettered (*dead set; NULL
 * allowed). error_text (cut to SCHED_OUTBOX_ERROR_MAX) becomes last_error. CORE_ECONFLICT
 * when token is not the current lease, CORE_ENOTFOUND for an unknown id. */
int sched_outbox_fail(sched_store *store, const char *id, const char *token, const char *error_text,
                      int64_t retry_at_ms, int max_attempts, int64_t now_ms, bool *dead,
                      core_error *err);

/* Appends {"dead":[{"id","kind","attempts","created_at","dead_at","last_error",
 * "payload"},...]} to json_out: the newest limit (1..1000) dead messages. payload is the
 * stored JSON, embedded as it is. */
int sched_outbox_dead_list(sched_store *store, size_t limit, core_buf *json_out, core_error *err);

/* Messages pending (leased ones included) and dead, for /metrics. */
int sched_outbox_counts(sched_store *store, int64_t *pending, int64_t *dead, core_error *err);

/* The delay before attempt + 1 after attempt (1-based) failed: full jitter, uniform in
 * [0, min(SCHED_OUTBOX_BACKOFF_CAP_MS, SCHED_OUTBOX_BACKOFF_BASE_MS * 2^(attempt-1))],
 * from the caller's seed (advanced). Pure; any thread with its own seed. */
int64_t sched_outbox_backoff_ms(int attempt, unsigned *seed);
/* The backoff, or retry_after_s seconds (a peer's Retry-After) when that is longer. */
int64_t sched_outbox_delay_ms(int attempt, int retry_after_s, unsigned *seed);

/* ---- delivery recovery (scheduler/redelivery.c) -----------------------------------------
 * GitHub does not retry a failed webhook delivery; zoneci lists the App's recent
 * deliveries and asks again for those it never accepted (notifier.h, notify_redeliver).
 * The Redis side: one run at a time across processes (a lock), the newest delivery a
 * complete run examined (the high-water mark), and each GUID asked for, once. Keys:
 * {P}:redelivery:lock, {P}:redelivery:mark, {P}:redelivery:asked:GUID. */
#define SCHED_DELIVERY_TTL_DEFAULT (3 * 24 * 3600) /* GitHub keeps deliveries 3 days */

typedef enum sched_redelivery_verdict {
    SCHED_REDELIVERY_ASK = 0,  /* never accepted nor asked for: now marked asked */
    SCHED_REDELIVERY_ACCEPTED, /* intake recorded the GUID: never ask */
    SCHED_REDELIVERY_ASKED,    /* asked for already (by this run or an earlier one) */
} sched_redelivery_verdict;

/* Takes the fleet-wide run lock for ttl_ms (SET NX PX) with a fresh random token:
 * *got false when another process holds it. CORE_EUNAVAILABLE while Redis is down. */
int sched_redelivery_lock(sched_store *store, int ttl_ms, char token[33], bool *got,
                          core_error *err);
/* Frees the lock if token still holds it (compare-and-delete); errors are ignored (the
 * lock expires). */
void sched_redelivery_unlock(sched_store *store, const char *token);
/* The high-water mark: the newest delivery id a complete run examined, 0 when none. */
int sched_redelivery_mark_get(sched_store *store, int64_t *id, core_error *err);
/* Raises the mark to id (never lowers it), atomically. */
int sched_redelivery_mark_set(sched_store *store, int64_t id, core_error *err);
/* In one atomic step: ACCEPTED when intake remembers guid, ASKED when it was asked for
 * already, else ASK, and guid is recorded as asked for (3 days). CORE_EINVAL for a GUID
 * that is not a delivery id (letters, digits, '-', '_', '.'; 1 to 128). */
int sched_redelivery_claim(sched_store *store, const char *guid, int64_t now_ms,
                           sched_redelivery_verdict *out, core_error *err);
/* Forgets that guid was asked for: GitHub refused the request, so a later run asks again. */
int sched_redelivery_unclaim(sched_store *store, const char *guid, core_error *err);

/* ---- retention (scheduler/retention.c) -------------------------------------------------
 * Bounded growth: every key zoneci writes has a TTL or is trimmed (docs/scheduler.md,
 * "What is kept how long"). A pass deletes jobs that finished retention_days ago with every
 * index entry naming them (jobs finished before `{P}:finished` existed are indexed first),
 * trims the audit stream to the same horizon, drops dead letters as old, forgets runners
 * idle longer than the routing window and sweeps the deferred, routing, inspect, escalate
 * and queue sets of ids whose job is gone. Every step is a batch of at most
 * SCHED_RETENTION_BATCH and idempotent, so passes racing in several processes are
 * harmless; sched_retention_tick spaces them out fleet-wide with a short lock. */
#define SCHED_RETENTION_BATCH 500
#define SCHED_RETENTION_PERIOD_MS 10000 /* one pass per period, fleet-wide */

typedef struct sched_retention_stats {
    size_t jobs;       /* finished jobs deleted */
    size_t backfilled; /* final jobs looked at to index them in {P}:finished */
    size_t audit;      /* audit entries trimmed */
    size_t dead;       /* dead letters dropped */
    size_t idle;       /* idle-runner entries expired */
    size_t swept;      /* set entries whose job was gone */
    bool more;         /* a batch was full: another pass has work */
} sched_retention_stats;

/* One pass at an injected instant with cfg's retention_days and regions. */
int sched_retention_pass(sched_store *store, const struct policy_config *cfg, int64_t now_ms,
                         sched_retention_stats *stats, core_error *err);
/* A pass if no process ran one in the last SCHED_RETENTION_PERIOD_MS ({P}:retention:lock,
 * SET NX PX); *ran says whether this call did. A pass with a full batch frees the lock, so
 * the next tick (any process) goes on at once. */
int sched_retention_tick(sched_store *store, const struct policy_config *cfg, int64_t now_ms,
                         bool *ran, sched_retention_stats *stats, core_error *err);

#endif
