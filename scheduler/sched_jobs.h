/* Jobs: their states, intake of pull_request deliveries, transitions, human decisions and
 * their JSON. Strings passed in are borrowed; JSON is appended to a caller-owned core_buf. */
#ifndef ZONECI_SCHEDULER_SCHED_JOBS_H
#define ZONECI_SCHEDULER_SCHED_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Defined by scheduler/sched_store.h (a C11 typedef may be repeated). */
typedef struct sched_store sched_store;

/* Job states (docs/lifecycle.md), as stored and as shown by the API. */
#define SCHED_STATE_LIST                                                                           \
    X(RECEIVED, "received")                                                                        \
    X(INSPECTING, "inspecting")                                                                    \
    X(AWAITING_APPROVAL, "awaiting_approval")                                                      \
    X(DEFERRED, "deferred")                                                                        \
    X(QUEUED, "queued")                                                                            \
    X(LEASED, "leased")                                                                            \
    X(SUCCEEDED, "succeeded")                                                                      \
    X(FAILED, "failed")                                                                            \
    X(REJECTED, "rejected")                                                                        \
    X(DEAD, "dead")                                                                                \
    X(SUPERSEDED, "superseded")                                                                    \
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
    /* NULL or "": the job waits in `received` for an inspector. Otherwise the job needs no
     * inspection and this routing decision (sched_route_spec) is applied in the same
     * step: received, inspecting and queued (or deferred) at once. */
    const char *route;
    /* NULL or "": a delivery of the pull request. Otherwise the id of the job whose check
     * run was asked to run again: a new job inspects the same commit, even while that job
     * is live (it is superseded), but only if it is still the PR's newest job. */
    const char *rerun_of;
} sched_pr_ref;

/* Hex characters of a job's card key. */
#define SCHED_CARD_KEY_LEN 16

typedef enum sched_intake_outcome {
    SCHED_INTAKE_CREATED = 0, /* a new job */
    SCHED_INTAKE_DUPLICATE,   /* this delivery id was seen in the last 3 days */
    SCHED_INTAKE_LIVE,        /* (repo, pr, head_sha) already has a live job */
    SCHED_INTAKE_CLOSED,      /* a close event: pending jobs of the PR cancelled */
    SCHED_INTAKE_STALE,       /* a re-run of a job that is no longer the PR's newest */
} sched_intake_outcome;

typedef struct sched_intake {
    sched_intake_outcome outcome;
    char job_id[32];        /* created or existing job ("" for CLOSED) */
    char superseded_id[32]; /* older live job of the same PR now superseded, or "" */
    int cancelled;          /* CLOSED: how many jobs were cancelled */
    char state[16];         /* CREATED: the new job's state ("received", or "queued" /
                             * "deferred" when routed at once) */
} sched_intake;

/* Records a pull_request delivery and creates its job in one atomic Redis step (one Lua
 * script): the delivery is never marked seen without its job, or the reverse. A newer
 * head SHA supersedes the PR's older live job. The job starts in `received` with its
 * first history entry (actor "github") and a random `card_key` (SCHED_CARD_KEY_LEN hex
 * characters) that its Slack buttons carry: job ids restart at 1 when Redis is wiped,
 * the key does not repeat. */
int sched_intake_pull_request(sched_store *store, const char *delivery_id, const sched_pr_ref *pr,
                              int64_t now_ms, sched_intake *out, core_error *err);
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
                         const char *actor, const char *reason, int64_t now_ms, core_error *err);

/* A human decision on a job awaiting approval (docs/lifecycle.md, "Approval"), in one atomic Lua
 * step: the first decision wins. The job records `decision` (approved|rejected), `decided_by`
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
                     const char *reason, const char *when_local, int64_t now_ms, char state_out[32],
                     core_error *err);

/* sched_job_decide for a Slack click: card_key is the key the card's button carried (""
 * for an old card whose value is the bare id; NULL checks nothing, as sched_job_decide).
 * In the same Lua step, a key that is not the job's `card_key` ("" for a job created
 * before card keys) decides nothing: CORE_EAUTH, "this card is out of date", state_out
 * the job's state. Checked before whether the job was decided already. */
int sched_job_decide_card(sched_store *store, const char *id, const char *card_key, bool approve,
                          const char *actor, const char *reason, const char *when_local,
                          int64_t now_ms, char state_out[32], core_error *err);

/* Appends the job's JSON (docs/http-api.md: id, state, repo, pr, head_sha, region, reason,
 * attempts, history, ...) to out. CORE_ENOTFOUND for an unknown id. */
int sched_job_json(sched_store *store, const char *id, core_buf *out, core_error *err);

/* Appends the JSON of pull request repo#pr's newest job (final or not: the last one
 * intake created for it) to out, as sched_job_json. CORE_ENOTFOUND when the PR has none
 * (or only jobs retention has deleted); CORE_ETOOBIG for a repo too long for a key. One
 * read-only round trip. Thread-safe. */
int sched_pr_job_json(sched_store *store, const char *repo, int64_t pr, core_buf *out,
                      core_error *err);

/* Records job id's GitHub check run (run_id > 0) and how many of its annotations GitHub has
 * taken (never less than recorded before), for the outbox's github_check deliveries.
 * CORE_ENOTFOUND for a missing job. Thread-safe. */
int sched_job_check_run(sched_store *store, const char *id, int64_t run_id, size_t annotated,
                        core_error *err);

/* Appends {"jobs":[...],"next":CURSOR|null} to out: newest first, only `state` when not
 * NULL, starting after `cursor` (NULL for the first page), at most limit (1..1000) jobs.
 * CORE_EINVAL for an unknown state or a malformed cursor. */
int sched_job_list_json(sched_store *store, const char *state, const char *cursor, size_t limit,
                        core_buf *out, core_error *err);

#endif
