/* Approvals: which region approves a job, its Slack cards and their escalation. A
 * sched_approval_card_info and a sched_card_view own their strings (their _free). */
#ifndef ZONECI_SCHEDULER_SCHED_APPROVAL_H
#define ZONECI_SCHEDULER_SCHED_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Forward declarations (a C11 typedef may be repeated); their faces define them. */
typedef struct sched_store sched_store;
typedef struct sched_plan sched_plan;

/* ---- approvals (scheduler/approval.c) ----------------------------------------------------
 * A job awaiting approval has cards: card N is recorded in the job (its region, Slack
 * channel, mentions, when, and once posted its ts), posted through the outbox
 * ("slack_card" {job_id, card}) and re-rendered by "slack_card_update" {job_id, cards}
 * whenever the job's word changes (a decision, an escalation). `{P}:escalate` (score =
 * when) holds the undecided jobs whose next escalation is due. */
#define SCHED_CARDS_MAX 16

/* The region that approves a job of repo at `at` (docs/lifecycle.md, "Approval"): the first of its
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

/* A job as its cards and its check run show it (one HGETALL). Strings are "" when absent
 * and live as long as the view. */
typedef struct sched_card_view {
    const char *state, *repo, *title, *author, *head_sha, *clone_url;
    const char *report; /* the migration report JSON, or "" */
    const char *plan;   /* the routing plan once approved */
    const char *decision, *decided_by, *decided_local;
    const char *reason;                            /* the job's latest reason */
    const char *decided_reason;                    /* the decision's GitHub words, or "" */
    const char *approval_region, *approval_oncall; /* who is asked; on-call as GitHub words */
    int64_t installation_id;                       /* 0 when the job came without one */
    int64_t check_run_id;                          /* the GitHub check run, 0 before it exists */
    size_t check_annotated;                        /* its annotations GitHub took */
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
int sched_card_posted(sched_store *store, const char *id, size_t card, const char *ts, bool *first,
                      core_error *err);

#endif
