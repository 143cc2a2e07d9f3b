/* Human decisions on jobs awaiting approval (Slack buttons, the operator API). The whole
 * decision is one Lua script, so two people clicking at once cannot both decide: the
 * script records the first and answers the second with what is already there. */
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "scheduler/scripts.h"
#include "scheduler/store.h"

#define DECIDE_ACTOR_MAX 128
#define DECIDE_REASON_MAX 1024

static const char *str_at(const sched_reply *r, size_t i)
{
    if (!r || r->type != SCHED_REPLY_ARRAY || i >= r->n || r->elem[i].type != SCHED_REPLY_STR)
        return NULL;
    return r->elem[i].str;
}

int sched_job_decide(sched_store *store, const char *id, bool approve, const char *actor,
                     const char *reason, const char *when_local, int64_t now_ms, char state_out[32],
                     core_error *err)
{
    return sched_job_decide_card(store, id, NULL, approve, actor, reason, when_local, now_ms,
                                 state_out, err);
}

int sched_job_decide_card(sched_store *store, const char *id, const char *card_key, bool approve,
                          const char *actor, const char *reason, const char *when_local,
                          int64_t now_ms, char state_out[32], core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX];
    const char *outcome, *state;
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && state_out);
    state_out[0] = '\0';
    if (!sched_job_id_valid(id))
        return core_error_set(err, CORE_ENOTFOUND, "job not found: ids are decimal digits");
    if (!actor || !*actor || strlen(actor) > DECIDE_ACTOR_MAX)
        return core_error_set(err, CORE_EINVAL, "actor: must be 1 to %d bytes", DECIDE_ACTOR_MAX);
    if (!reason || !*reason || strlen(reason) > DECIDE_REASON_MAX)
        return core_error_set(err, CORE_EINVAL, "reason: must be 1 to %d bytes", DECIDE_REASON_MAX);
    rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_job, k_hist, k_audit};
        const char *args[] = {sched_store_prefix(store),
                              id,
                              approve ? "approve" : "reject",
                              actor,
                              reason,
                              now,
                              iso,
                              when_local ? when_local : "",
                              card_key ? "1" : "",
                              card_key ? card_key : ""};

        rc = sched_store_eval_acked(store, SCHED_SCRIPT_DECIDE, keys, 3, args, 10, &r, err);
    }
    if (rc < 0)
        return rc;
    outcome = str_at(r, 0);
    state = str_at(r, 1);
    if (!outcome || !state) {
        rc = core_error_set(err, CORE_EIO, "redis: unexpected answer from script decide");
    } else if (strcmp(outcome, "missing") == 0) {
        rc = core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    } else if (strcmp(outcome, "stale") == 0) {
        snprintf(state_out, 32, "%.31s", state);
        rc =
            core_error_set(err, CORE_EAUTH,
                           "this card is out of date: job %s is not the job it was posted for", id);
    } else if (strcmp(outcome, "conflict") == 0) {
        const char *decision = str_at(r, 2), *by = str_at(r, 3);

        snprintf(state_out, 32, "%.31s", state);
        if (decision && *decision)
            rc = core_error_set(err, CORE_ECONFLICT, "job %s was already %.16s by %.128s", id,
                                decision, by ? by : "?");
        else
            rc = core_error_set(err, CORE_ECONFLICT, "job %s is %.31s, not awaiting approval", id,
                                state);
    } else if (strcmp(outcome, "ok") == 0) {
        snprintf(state_out, 32, "%.31s", state);
    } else {
        rc = core_error_set(err, CORE_EIO, "redis: unexpected answer from script decide");
    }
    sched_reply_free(r);
    return rc;
}
