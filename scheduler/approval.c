/* Approvals (docs/lifecycle.md, "Approval"): which region's people approve a job now, what its
 * Slack card records, escalation to the next region when nobody decides in time, and the card as
 * the notifier reads it back to render. The writes are Lua scripts (scripts.c: card_put, escalate,
 * card_posted), so a card, its outbox message and its history entry appear together or not at all.
 */
#include "scheduler/sched_approval.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_lease.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/scripts.h"
#include "scheduler/store.h"

#define ESCALATE_BATCH 20

int sched_approval_region(const sched_plan *plan, const char *repo, int64_t at, const bool *skip,
                          int64_t *opens_at)
{
    const policy_config *cfg = sched_plan_config(plan);
    const policy_policy *pol = policy_match(cfg, repo);
    int first = -1;
    int64_t first_open = SCHED_NO_INSTANT;

    *opens_at = SCHED_NO_INSTANT;
    for (size_t i = 0; pol && i < pol->n_regions; i++) {
        int r = sched_plan_region_index(plan, pol->regions[i]);
        sched_window_state st;

        if (r < 0 || (skip && skip[r]))
            continue;
        sched_windows_eval(sched_plan_windows(plan, (size_t)r), at, &st);
        if (st.open) {
            *opens_at = at;
            return r;
        }
        if (st.next_open != SCHED_NO_INSTANT &&
            (first_open == SCHED_NO_INSTANT || st.next_open < first_open)) {
            first_open = st.next_open;
            first = r;
        }
    }
    *opens_at = first_open;
    return first;
}

/* "@login" for each on-call Slack user who is in `people`, and how many others there are
 * ("@dba-one, 1 more in Slack"): these words go into commit statuses on GitHub, where a
 * raw Slack id means nothing to readers and is not theirs to see. */
static void oncall_words(const policy_config *cfg, const policy_region *reg, char *out, size_t len)
{
    size_t n = 0, unnamed = 0;
    int w;

    out[0] = '\0';
    for (size_t i = 0; i < reg->n_oncall; i++) {
        const char *login = policy_person_github(cfg, reg->oncall[i]);

        if (!login) {
            unnamed++;
            continue;
        }
        w = snprintf(out + n, len - n, "%s@%s", n ? ", " : "", login);
        if (w < 0 || (size_t)w >= len - n) {
            out[n] = '\0';
            unnamed++;
            continue;
        }
        n += (size_t)w;
    }
    if (unnamed == 0)
        return;
    w = snprintf(out + n, len - n, "%s%zu %sin Slack", n ? ", " : "", unnamed, n ? "more " : "");
    if (w < 0 || (size_t)w >= len - n)
        out[n] = '\0';
}

static char *join_ids(char *const *ids, size_t n)
{
    core_buf b = {0};

    for (size_t i = 0; i < n; i++) {
        if ((i && core_buf_puts(&b, ",") < 0) || core_buf_puts(&b, ids[i]) < 0) {
            core_buf_free(&b);
            return NULL;
        }
    }
    return b.data ? b.data : core_strndup("", 0);
}

int sched_approval_card(const sched_plan *plan, const char *repo, int64_t at, const bool *skip,
                        sched_approval_card_info *info, core_error *err)
{
    const policy_config *cfg = sched_plan_config(plan);
    const policy_policy *pol = policy_match(cfg, repo);
    const policy_region *reg;
    sched_decision d;
    json_t *spec;
    char oncall[512], *mentions, *dumped;
    int64_t opens_at;
    int r = sched_approval_region(plan, repo, at, skip, &opens_at);

    memset(info, 0, sizeof(*info));
    info->region = r;
    if (r < 0) {
        snprintf(info->where, sizeof(info->where), "no region left to ask");
        info->spec = core_strndup("{\"region\":\"\"}", 13);
        return info->spec ? 0 : core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    reg = &cfg->regions[r];
    if (opens_at == at)
        snprintf(info->where, sizeof(info->where), "%s (open now)", reg->name);
    else {
        char when[96];

        sched_plan_describe_instant(plan, (size_t)r, opens_at, at, when, sizeof(when));
        snprintf(info->where, sizeof(info->where), "%s (opens %s)", reg->name, when);
    }
    if (!cfg->slack.present)
        snprintf(info->no_card, sizeof(info->no_card), "no slack is configured");
    else if (!reg->slack_channel)
        snprintf(info->no_card, sizeof(info->no_card), "region %s has no slack_channel", reg->name);
    oncall_words(cfg, reg, oncall, sizeof(oncall));
    if (sched_route_decide(plan, repo, at, NULL, &d, NULL) < 0)
        snprintf(d.reason, sizeof(d.reason), "no policy matches %s", repo);
    mentions = join_ids(reg->oncall, reg->n_oncall);
    if (!mentions)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    spec = json_pack("{s:s, s:s, s:s, s:s, s:s+, s:I}", "region", reg->name, "channel",
                     info->no_card[0] ? "" : reg->slack_channel, "mentions", mentions, "oncall",
                     oncall, "plan", "once approved: ", d.reason, "escalate_at",
                     (json_int_t)(pol ? at + (int64_t)pol->escalate_after_minutes * 60000 : 0));
    dumped = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
    json_decref(spec);
    free(mentions);
    if (!dumped)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    info->spec = dumped;
    return 0;
}

void sched_approval_card_info_free(sched_approval_card_info *info)
{
    free(info->spec);
    info->spec = NULL;
}

static bool on_call(const policy_region *reg, const char *user)
{
    for (size_t k = 0; k < reg->n_oncall; k++) {
        if (strcmp(reg->oncall[k], user) == 0)
            return true;
    }
    return false;
}

/* "2026-03-09 10:30 JST": what people read, not what machines parse. */
static void local_stamp(int64_t at, int32_t offset_ms, const char *abbr, char out[64])
{
    char iso[CORE_ISO_MAX];

    core_time_format_local(at, offset_ms, iso);
    snprintf(out, 64, "%.10s %.5s %s", iso, iso + 11, abbr);
}

void sched_approval_local_time(const sched_plan *plan, const char *decider,
                               const char *fallback_region, int64_t at, char out[64])
{
    const policy_config *cfg = sched_plan_config(plan);
    int r = fallback_region ? sched_plan_region_index(plan, fallback_region) : -1;
    const sched_zone *z;
    char abbr[16];

    int home = decider && r >= 0 && on_call(&cfg->regions[r], decider) ? r : -1;

    /* The decider's region: the approving one if they are on call there, else the first
     * that lists them, else the approving one. */
    for (size_t i = 0; decider && home < 0 && i < cfg->n_regions; i++) {
        if (on_call(&cfg->regions[i], decider))
            home = (int)i;
    }
    if (home >= 0)
        r = home;
    if (r < 0) {
        local_stamp(at, 0, "UTC", out);
        return;
    }
    z = sched_windows_zone(sched_plan_windows(plan, (size_t)r));
    sched_zone_abbrev(z, at, abbr);
    local_stamp(at, sched_zone_offset_ms(z, at), abbr, out);
}

/* ---- escalation ------------------------------------------------------------------------ */

/* The fields escalation needs: repo, the card count and each card's region. */
static int escalation_view(sched_store *store, const char *id, char repo[256], int *n_cards,
                           bool *skip, size_t n_regions, const sched_plan *plan, char *last,
                           size_t last_len, core_error *err)
{
    char cards[16], names[SCHED_CARDS_MAX - 1][32], regions[SCHED_CARDS_MAX - 1][128];
    sched_field f[SCHED_CARDS_MAX + 1] = {{"repo", repo, 256}, {"cards", cards, sizeof(cards)}};
    int rc;

    for (size_t i = 0; i < SCHED_CARDS_MAX - 1; i++) {
        snprintf(names[i], sizeof(names[i]), "card:%zu:region", i);
        f[2 + i] = (sched_field){names[i], regions[i], sizeof(regions[i])};
    }
    rc = sched_job_fields(store, id, f, SCHED_CARDS_MAX + 1, err);
    if (rc < 0)
        return rc;
    *n_cards = atoi(cards);
    last[0] = '\0';
    for (int i = 0; i < *n_cards && i < SCHED_CARDS_MAX - 1; i++) {
        int idx = sched_plan_region_index(plan, regions[i]);

        if (idx >= 0 && (size_t)idx < n_regions)
            skip[idx] = true;
        if (regions[i][0])
            snprintf(last, last_len, "%.*s", (int)sizeof(regions[i]) - 1, regions[i]);
    }
    return 0;
}

static int escalate_one(sched_store *store, const sched_plan *plan, const char *id, int64_t now_ms,
                        bool *escalated, core_error *err)
{
    const policy_config *cfg = sched_plan_config(plan);
    const policy_policy *pol;
    char repo[256], last[128], reason[768], count[16], now[24], iso[CORE_ISO_MAX];
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    bool *skip = calloc(cfg->n_regions ? cfg->n_regions : 1, sizeof(bool));
    sched_approval_card_info info = {0};
    sched_reply *r = NULL;
    int n_cards = 0, rc;

    *escalated = false;
    if (!skip)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    rc = escalation_view(store, id, repo, &n_cards, skip, cfg->n_regions, plan, last, sizeof(last),
                         err);
    pol = rc == 0 ? policy_match(cfg, repo) : NULL;
    if (rc == 0 && n_cards >= SCHED_CARDS_MAX - 1)
        memset(skip, 1, cfg->n_regions * sizeof(bool)); /* enough cards: stop here */
    if (rc == 0)
        rc = sched_approval_card(plan, repo, now_ms, skip, &info, err);
    free(skip);
    if (rc < 0)
        return rc;
    if (info.region < 0)
        snprintf(reason, sizeof(reason),
                 "no decision after %d minutes in %s, and no other region to ask; still "
                 "awaiting approval",
                 pol ? pol->escalate_after_minutes : 0, last[0] ? last : "?");
    else
        snprintf(reason, sizeof(reason),
                 "escalated: no decision after %d minutes in %s; asking %s%s%s",
                 pol ? pol->escalate_after_minutes : 0, last[0] ? last : "?", info.where,
                 info.no_card[0] ? "; no slack card: " : "", info.no_card);
    snprintf(count, sizeof(count), "%d", n_cards);
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    core_time_format_iso(now_ms, iso);
    rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);
    if (rc == 0) {
        const char *keys[] = {k_job, k_hist, k_audit};
        const char *args[] = {sched_store_prefix(store), id, count, info.spec, now, iso, reason};

        rc = sched_store_eval(store, SCHED_SCRIPT_ESCALATE, keys, 3, args, 7, &r, err);
    }
    if (rc == 0 && r->type == SCHED_REPLY_STR && strcmp(r->str, "ok") == 0) {
        *escalated = true;
        CORE_LOG(CORE_LOG_INFO, "escalated", "job=%s from=%s to=%s", id, last,
                 cfg->regions[info.region].name);
    }
    sched_reply_free(r);
    sched_approval_card_info_free(&info);
    return rc;
}

int sched_escalate_due(sched_store *store, const sched_plan *plan, int64_t now_ms,
                       size_t *escalated, core_error *err)
{
    char key[SCHED_KEY_MAX], now[24], lim[16];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "escalate");

    *escalated = 0;
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(lim, sizeof(lim), "%d", ESCALATE_BATCH);
    {
        const char *argv[] = {"ZRANGEBYSCORE", key, "-inf", now, "LIMIT", "0", lim};

        rc = sched_store_command(store, argv, 7, &r, err);
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; r->type == SCHED_REPLY_ARRAY && i < r->n; i++) {
        core_error e = {0};
        bool done = false;

        if (r->elem[i].type != SCHED_REPLY_STR)
            continue;
        if (escalate_one(store, plan, r->elem[i].str, now_ms, &done, &e) < 0) {
            CORE_LOG(CORE_LOG_WARN, "escalate", "job=%s msg=\"%s\"", r->elem[i].str, e.msg);
            continue;
        }
        *escalated += done;
    }
    sched_reply_free(r);
    return 0;
}

/* ---- the card, read back ------------------------------------------------------------ */

static const char *hash_str(const sched_reply *h, const char *name)
{
    for (size_t i = 0; i + 1 < h->n; i += 2) {
        if (h->elem[i].type == SCHED_REPLY_STR && strcmp(h->elem[i].str, name) == 0)
            return h->elem[i + 1].type == SCHED_REPLY_STR ? h->elem[i + 1].str : NULL;
    }
    return NULL;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int sched_card_view_get(sched_store *store, const char *id, sched_card_view *out, core_error *err)
{
    char key[SCHED_KEY_MAX], name[40];
    sched_reply *r = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = sched_store_job_key(store, id, key, err);
    if (rc < 0)
        return rc;
    {
        const char *argv[] = {"HGETALL", key};

        rc = sched_store_command(store, argv, 2, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type != SCHED_REPLY_ARRAY || r->n == 0) {
        sched_reply_free(r);
        return core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    }
    out->owner = r;
    out->state = or_empty(hash_str(r, "state"));
    out->repo = or_empty(hash_str(r, "repo"));
    out->pr = strtoll(or_empty(hash_str(r, "pr")), NULL, 10);
    out->title = or_empty(hash_str(r, "title"));
    out->author = or_empty(hash_str(r, "author"));
    out->head_sha = or_empty(hash_str(r, "head_sha"));
    out->clone_url = or_empty(hash_str(r, "clone_url"));
    out->report = or_empty(hash_str(r, "report"));
    out->plan = or_empty(hash_str(r, "approval_plan"));
    out->decision = or_empty(hash_str(r, "decision"));
    out->decided_by = or_empty(hash_str(r, "decided_by"));
    out->decided_local = or_empty(hash_str(r, "decided_local"));
    out->card_key = or_empty(hash_str(r, "card_key"));
    out->reason = or_empty(hash_str(r, "reason"));
    out->decided_reason = or_empty(hash_str(r, "decided_reason"));
    out->approval_region = or_empty(hash_str(r, "approval_region"));
    out->approval_oncall = or_empty(hash_str(r, "approval_oncall"));
    out->installation_id = strtoll(or_empty(hash_str(r, "installation_id")), NULL, 10);
    out->check_run_id = strtoll(or_empty(hash_str(r, "check_run_id")), NULL, 10);
    out->check_annotated = (size_t)strtoull(or_empty(hash_str(r, "check_annotated")), NULL, 10);
    out->n_cards = (size_t)atoi(or_empty(hash_str(r, "cards")));
    if (out->n_cards > SCHED_CARDS_MAX)
        out->n_cards = SCHED_CARDS_MAX;
    for (size_t i = 0; i < out->n_cards; i++) {
        snprintf(name, sizeof(name), "card:%zu:region", i);
        out->cards[i].region = or_empty(hash_str(r, name));
        snprintf(name, sizeof(name), "card:%zu:channel", i);
        out->cards[i].channel = or_empty(hash_str(r, name));
        snprintf(name, sizeof(name), "card:%zu:mentions", i);
        out->cards[i].mentions = or_empty(hash_str(r, name));
        snprintf(name, sizeof(name), "card:%zu:ts", i);
        out->cards[i].ts = or_empty(hash_str(r, name));
    }
    return 0;
}

void sched_card_view_free(sched_card_view *view)
{
    sched_reply_free(view->owner);
    memset(view, 0, sizeof(*view));
}

int sched_card_posted(sched_store *store, const char *id, size_t card, const char *ts, bool *first,
                      core_error *err)
{
    char key[SCHED_KEY_MAX], n[16];
    sched_reply *r = NULL;
    int rc;

    *first = false;
    rc = sched_store_job_key(store, id, key, err);
    if (rc < 0)
        return rc;
    snprintf(n, sizeof(n), "%zu", card);
    {
        const char *keys[] = {key};
        const char *args[] = {sched_store_prefix(store), id, n, ts};

        rc = sched_store_eval(store, SCHED_SCRIPT_CARD_POSTED, keys, 1, args, 4, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type == SCHED_REPLY_NIL)
        rc = core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    else
        *first = r->type == SCHED_REPLY_INT && r->integer == 1;
    sched_reply_free(r);
    return rc;
}
