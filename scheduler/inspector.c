/* The inspection pipeline: received -> inspecting -> (approval decision) -> routing.
 * Worker threads in every serve process take received jobs (one Lua script, so each job
 * is inspected by one worker), fetch the repository's mirror (one fetch per repository
 * at a time across all processes: a Redis lock), diff the merge base against the head,
 * grade the migrations, and decide from the policy's `approval` whether the job goes on
 * to routing or waits for a human. A repository that cannot be read is retried with
 * backoff and then fails safe: the job waits for approval, never runs unchecked. So does
 * a job whose clone URL is not on the configured GitHub host (github.web_url): it is
 * never fetched. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/policies.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_approval.h"
#include "scheduler/store.h"

#define FETCH_TIMEOUT_MS (120 * 1000)
/* A crashed inspector's job comes back after this (a fetch may take FETCH_TIMEOUT_MS). */
#define INSPECT_LEASE_MS (FETCH_TIMEOUT_MS + 30 * 1000)
#define FETCH_LOCK_MS (FETCH_TIMEOUT_MS + 30 * 1000)
/* How long a worker that has a result keeps trying to record it while Redis is away. */
#define FINISH_RETRY_MS 10000
#define MAX_INSPECT_ATTEMPTS 3
#define TICK_MS 1000
#define MARKDOWN_MAX 3000

/* What an inspection needs from the configuration, copied so that no lock is held while
 * a fetch runs (a SIGHUP may swap the configuration meanwhile). */
typedef struct inspect_policy {
    bool matched;
    bool has_migrations;
    policy_approval approval;
    char **paths;
    size_t n_paths;
    int pg_version;                     /* 0 when no policy matched: the default */
    policy_rule_setting *rule_settings; /* deep copies, in the policy's order */
    size_t n_rule_settings;
    char cache_dir[512];
    char web_url[256];      /* github.web_url: the one host clone URLs may name */
    bool allow_local_repos; /* github.allow_local_repos */
} inspect_policy;

typedef struct job_view {
    char installation_id[24];
    char repo[256];
    char pr[24];
    char head_sha[48];
    char base_sha[48];
    char clone_url[512];
    int attempts;
} job_view;

struct sched_inspector {
    sched_store *store;
    pthread_mutex_t lock; /* guards plan, stop */
    pthread_cond_t wake;
    const sched_plan *plan;
    bool stop;
    atomic_bool kicked;
    atomic_int cancel; /* set by stop: a fetch in flight gives up at its next callback */
    pthread_t *threads;
    size_t n_threads;
    void (*on_routed)(void *ctx);
    void *ctx;
    sched_token_source tokens;
};

static void policy_snapshot_free(inspect_policy *p)
{
    for (size_t i = 0; i < p->n_paths; i++)
        free(p->paths[i]);
    free(p->paths);
    for (size_t i = 0; i < p->n_rule_settings; i++)
        free(p->rule_settings[i].rule);
    free(p->rule_settings);
    memset(p, 0, sizeof(*p));
}

static int policy_snapshot(const policy_config *cfg, const char *repo, inspect_policy *out)
{
    const policy_policy *pol = policy_match(cfg, repo);

    memset(out, 0, sizeof(*out));
    snprintf(out->cache_dir, sizeof(out->cache_dir), "%s", cfg->cache_dir);
    snprintf(out->web_url, sizeof(out->web_url), "%s", cfg->github.web_url);
    out->allow_local_repos = cfg->github.allow_local_repos;
    if (!pol)
        return 0;
    out->matched = true;
    out->has_migrations = pol->has_migrations;
    out->approval = pol->approval;
    out->pg_version = pol->pg_version;
    if (pol->n_migration_paths) {
        out->paths = calloc(pol->n_migration_paths, sizeof(char *));
        if (!out->paths)
            return CORE_ENOMEM;
        for (size_t i = 0; i < pol->n_migration_paths; i++) {
            out->paths[i] = strdup(pol->migration_paths[i]);
            if (!out->paths[i]) {
                policy_snapshot_free(out);
                return CORE_ENOMEM;
            }
            out->n_paths++;
        }
    }
    if (pol->n_rule_settings) {
        out->rule_settings = calloc(pol->n_rule_settings, sizeof(*out->rule_settings));
        if (!out->rule_settings) {
            policy_snapshot_free(out);
            return CORE_ENOMEM;
        }
        for (size_t i = 0; i < pol->n_rule_settings; i++) {
            out->rule_settings[i].rule = strdup(pol->rule_settings[i].rule);
            if (!out->rule_settings[i].rule) {
                policy_snapshot_free(out);
                return CORE_ENOMEM;
            }
            out->rule_settings[i].level = pol->rule_settings[i].level;
            out->n_rule_settings++;
        }
    }
    return 0;
}

/* Copies a string reply element into a fixed slot; anything else leaves it empty. */
static void take_str(const sched_reply *e, char *slot, size_t size)
{
    if (e->type == SCHED_REPLY_STR)
        snprintf(slot, size, "%s", e->str);
}

/* Takes a job to inspect and, in the same step, what the inspection needs of it. */
static int claim_one(sched_store *store, int64_t now_ms, char id[32], job_view *v, core_error *err)
{
    char k_recv[SCHED_KEY_MAX], k_ins[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX], lease[24], attempts[16] = "";
    sched_reply *r = NULL;
    int rc;

    id[0] = '\0';
    memset(v, 0, sizeof(*v));
    rc = sched_store_key(store, k_recv, err, "state:received");
    if (rc == 0)
        rc = sched_store_key(store, k_ins, err, "inspect");
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(lease, sizeof(lease), "%d", INSPECT_LEASE_MS);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_recv, k_ins, k_audit};
        const char *args[] = {sched_store_prefix(store), now, iso, lease};

        rc = sched_store_eval(store, SCHED_SCRIPT_INSPECT_CLAIM, keys, 3, args, 4, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type == SCHED_REPLY_ARRAY && r->n == 8 && r->elem[0].type == SCHED_REPLY_STR) {
        take_str(&r->elem[0], id, 32);
        take_str(&r->elem[1], v->repo, sizeof(v->repo));
        take_str(&r->elem[2], v->pr, sizeof(v->pr));
        take_str(&r->elem[3], v->head_sha, sizeof(v->head_sha));
        take_str(&r->elem[4], v->base_sha, sizeof(v->base_sha));
        take_str(&r->elem[5], v->clone_url, sizeof(v->clone_url));
        take_str(&r->elem[6], attempts, sizeof(attempts));
        take_str(&r->elem[7], v->installation_id, sizeof(v->installation_id));
        v->attempts = atoi(attempts);
    } else if (r->type != SCHED_REPLY_NIL) {
        rc = core_error_set(err, CORE_EIO, "inspect_claim: unexpected reply");
    }
    sched_reply_free(r);
    return rc;
}

/* Ends the inspection of id: 'route', 'approve' or 'retry' (at retry_at), storing the
 * given field/value pairs. CORE_ECONFLICT when the job left `inspecting` meanwhile
 * (superseded, cancelled). */
static int finish_once(sched_store *store, const char *id, const char *outcome, const char *reason,
                       int64_t now_ms, int64_t retry_at, const char *card,
                       const char *const *fields, size_t n_fields, core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX], retry[24];
    const char *args[SCHED_STORE_ARGS_MAX];
    sched_reply *r = NULL;
    size_t n = 0;
    int rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);

    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(retry, sizeof(retry), "%lld", (long long)retry_at);
    core_time_format_iso(now_ms, iso);
    args[n++] = sched_store_prefix(store);
    args[n++] = id;
    args[n++] = outcome;
    args[n++] = reason;
    args[n++] = now;
    args[n++] = iso;
    args[n++] = retry;
    args[n++] = card ? card : "";
    for (size_t i = 0; i < n_fields && n < SCHED_STORE_ARGS_MAX - 8; i++)
        args[n++] = fields[i];
    {
        const char *keys[] = {k_job, k_hist, k_audit};

        rc = sched_store_eval(store, SCHED_SCRIPT_INSPECT_DONE, keys, 3, args, n, &r, err);
    }
    if (rc == 0 && !(r->type == SCHED_REPLY_ARRAY && r->n == 2 &&
                     r->elem[0].type == SCHED_REPLY_STR && strcmp(r->elem[0].str, "ok") == 0))
        rc = core_error_set(err, CORE_ECONFLICT, "job %s is no longer being inspected", id);
    sched_reply_free(r);
    return rc;
}

/* finish_once, retried while Redis is unavailable: the work is done, and losing its
 * result would leave the job to the inspection lease. */
static int finish(sched_store *store, const char *id, const char *outcome, const char *reason,
                  int64_t now_ms, int64_t retry_at, const char *card, const char *const *fields,
                  size_t n_fields, core_error *err)
{
    int64_t give_up = core_time_mono_ms() + FINISH_RETRY_MS;
    int rc;

    for (;;) {
        rc = finish_once(store, id, outcome, reason, now_ms, retry_at, card, fields, n_fields, err);
        if (rc != CORE_EUNAVAILABLE || core_time_mono_ms() >= give_up)
            return rc;
        poll(NULL, 0, 200);
    }
}

/* The routing decision for the step that ends an inspection (sched_route_spec), under
 * the plan's lock. */
static void route_spec(const sched_plan *const *plan, pthread_mutex_t *plan_lock, const char *repo,
                       int64_t now_ms, char *out, size_t size)
{
    if (plan_lock)
        pthread_mutex_lock(plan_lock);
    sched_route_spec(*plan, repo, now_ms, out, size);
    if (plan_lock)
        pthread_mutex_unlock(plan_lock);
}

/* One fetch per repository at a time, across processes. */
static int fetch_lock(sched_store *store, const char *repo, char key[SCHED_KEY_MAX], char token[33],
                      bool *got, core_error *err)
{
    char ms[16];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "lock:fetch:%s", repo);

    *got = false;
    if (rc == 0)
        rc = core_random_hex(token, 16, err);
    if (rc < 0)
        return rc;
    snprintf(ms, sizeof(ms), "%d", FETCH_LOCK_MS);
    {
        const char *argv[] = {"SET", key, token, "NX", "PX", ms};

        rc = sched_store_command(store, argv, 6, &r, err);
    }
    if (rc == 0)
        *got = r->type == SCHED_REPLY_STR;
    sched_reply_free(r);
    return rc;
}

static void fetch_unlock(sched_store *store, const char *key, const char *token)
{
    sched_reply *r = NULL;
    const char *keys[] = {key};
    const char *args[] = {sched_store_prefix(store), token};

    if (sched_store_eval(store, SCHED_SCRIPT_UNLOCK, keys, 1, args, 2, &r, NULL) == 0)
        sched_reply_free(r);
}

/* A libgit2 message made fit for one quoted log value: it may hold anything a remote or
 * a path said, newlines and quotes included. */
static void log_safe(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
            *s = '?';
    }
}

/* The decision from a report and the policy's approval setting. */
static const char *decide(const policy_report *report, policy_approval approval, char *reason,
                          size_t len)
{
    policy_risk risk = policy_report_risk(report);
    size_t danger = 0, total = 0;
    const policy_finding *top = NULL;
    const policy_finding_brief *top_brief = NULL; /* when every kept danger is past the cap */
    const char *top_path = NULL;

    for (size_t i = 0; i < report->n_migrations; i++) {
        const policy_findings *f = &report->migrations[i].findings;

        /* Findings past the per-file cap count too: the reason gives true totals. */
        total += f->count + f->n_omitted;
        for (size_t k = 0; k < f->count; k++) {
            if (f->items[k].severity == POLICY_SEVERITY_DANGER) {
                danger++;
                if (!top) {
                    top = &f->items[k];
                    top_path = report->migrations[i].path;
                }
            }
        }
        for (size_t k = 0; k < f->n_omitted; k++) {
            if (f->omitted[k].severity == POLICY_SEVERITY_DANGER) {
                danger++;
                if (!top && !top_brief) {
                    top_brief = &f->omitted[k];
                    top_path = report->migrations[i].path;
                }
            }
        }
    }
    if (risk == POLICY_RISK_HIGH && approval != POLICY_APPROVAL_NEVER) {
        snprintf(reason, len,
                 "awaiting approval: high-risk migration (%zu danger finding%s; first: %s "
                 "line %d, %s)",
                 danger, danger == 1 ? "" : "s", top_path ? top_path : "?",
                 top         ? top->line
                 : top_brief ? top_brief->line
                             : 0,
                 top         ? top->rule
                 : top_brief ? top_brief->rule
                             : "?");
        return "approve";
    }
    if (risk != POLICY_RISK_NONE && approval == POLICY_APPROVAL_ALWAYS) {
        snprintf(reason, len,
                 "awaiting approval: the policy requires it for every migration (%zu "
                 "migration file%s, %zu finding%s)",
                 report->n_migrations, report->n_migrations == 1 ? "" : "s", total,
                 total == 1 ? "" : "s");
        return "approve";
    }
    if (risk == POLICY_RISK_NONE)
        snprintf(reason, len, "inspected: no migrations in the diff; routing");
    else
        snprintf(reason, len, "inspected: %s-risk migrations (%zu finding%s); routing",
                 policy_risk_name(risk), total, total == 1 ? "" : "s");
    return "route";
}

/* Fetches, diffs and grades; the report in *out. An https clone URL of a job that came
 * through a GitHub App installation is fetched with that installation's token. *fetched
 * says whether the fetch itself succeeded (a failure after it is the diff's). */
static int inspect_diff(const inspect_policy *pol, const job_view *v,
                        const sched_token_source *tokens, const atomic_int *cancel,
                        policy_report **out, bool *fetched, core_error *err)
{
    policy_fetch_limits fl = {.timeout_ms = FETCH_TIMEOUT_MS, .cancel = cancel};
    policy_inspect_options opts = {.paths = pol->paths,
                                   .n_paths = pol->n_paths,
                                   .pg_version = pol->pg_version,
                                   .rules = pol->rule_settings,
                                   .n_rules = pol->n_rule_settings};
    policy_diff *diff = NULL;
    char *mirror = NULL, *token = NULL;
    int64_t installation = strtoll(v->installation_id, NULL, 10);
    int rc = 0;

    *out = NULL;
    if (tokens && tokens->get && installation > 0 && strncmp(v->clone_url, "https://", 8) == 0)
        rc = tokens->get(installation, &token, tokens->ctx, err);
    if (rc == 0)
        rc = policy_mirror_fetch(pol->cache_dir, v->clone_url, token, v->head_sha,
                                 strtoll(v->pr, NULL, 10), &fl, &mirror, err);
    if (token) {
        core_wipe(token, strlen(token));
        free(token);
    }
    *fetched = rc == 0;
    if (rc == 0)
        rc = policy_diff_compute(mirror, v->base_sha, v->head_sha, NULL, &diff, err);
    if (rc == 0)
        rc = policy_migrations_inspect_with(diff, &opts, out, err);
    policy_diff_free(diff);
    free(mirror);
    return rc;
}

static int record_report(sched_store *store, const char *id, const policy_report *report,
                         const char *outcome, const char *reason, const char *card, int64_t now_ms,
                         int attempts, core_error *err)
{
    core_buf json = {0};
    char n_attempts[16];
    int rc;

    rc = policy_report_json(report, &json);
    if (rc < 0) {
        core_buf_free(&json);
        return core_error_set(err, rc, "the inspection report cannot be written");
    }
    snprintf(n_attempts, sizeof(n_attempts), "%d", attempts);
    {
        const char *fields[] = {"risk",
                                policy_risk_name(policy_report_risk(report)),
                                "report",
                                json.data,
                                "migration",
                                report->n_migrations ? "1" : "0",
                                "inspect_attempts",
                                n_attempts};

        rc = finish(store, id, outcome, reason, now_ms, 0, card, fields, 8, err);
    }
    core_buf_free(&json);
    return rc;
}

/* The card of a job that now awaits approval, from the current plan; when no Slack card
 * can be posted the reason says how to decide instead. */
static int approval_card(const sched_plan *const *plan, pthread_mutex_t *plan_lock,
                         const job_view *v, int64_t now_ms, sched_approval_card_info *card,
                         char *reason, size_t reason_len, core_error *err)
{
    size_t n = strlen(reason);
    int rc;

    if (plan_lock)
        pthread_mutex_lock(plan_lock);
    rc = sched_approval_card(*plan, v->repo, now_ms, NULL, card, err);
    if (plan_lock)
        pthread_mutex_unlock(plan_lock);
    if (rc < 0)
        return rc;
    if (card->region < 0)
        sched_approval_card_info_free(card);
    if (card->region < 0)
        snprintf(reason + n, reason_len - n,
                 "; no region of the policy ever opens: approve "
                 "through the API");
    else if (card->no_card[0])
        snprintf(reason + n, reason_len - n,
                 "; ask %s, no slack card (%s): approve through "
                 "the API",
                 card->where, card->no_card);
    else
        snprintf(reason + n, reason_len - n, "; card to %s", card->where);
    return 0;
}

static int inspect_one(sched_store *store, const sched_plan *const *plan,
                       pthread_mutex_t *plan_lock, const sched_token_source *tokens,
                       const atomic_int *cancel, int64_t now_ms, sched_inspect_result *result,
                       core_error *err)
{
    inspect_policy pol;
    policy_report *report = NULL;
    job_view v;
    char reason[768], lock_key[SCHED_KEY_MAX], token[33], spec[1024] = "";
    sched_approval_card_info card = {0};
    core_error e2 = {0};
    bool locked = false, fetched = false;
    const char *what;
    int rc;

    memset(result, 0, sizeof(*result));
    rc = claim_one(store, now_ms, result->job_id, &v, err);
    if (rc < 0 || !result->job_id[0])
        return rc;
    /* The plan may be swapped (SIGHUP) while a fetch runs: copy what is needed under its
     * lock, then work without it. */
    if (plan_lock)
        pthread_mutex_lock(plan_lock);
    rc = policy_snapshot(sched_plan_config(*plan), v.repo, &pol);
    if (plan_lock)
        pthread_mutex_unlock(plan_lock);
    if (rc < 0)
        return core_error_set(err, rc, "out of memory");
    if (!pol.matched || !pol.has_migrations) {
        result->outcome = "route";
        route_spec(plan, plan_lock, v.repo, now_ms, spec, sizeof(spec));
        rc = finish(store, result->job_id, "route",
                    pol.matched ? "no migration policy for this repository; routing"
                                : "no policy matches this repository; routing",
                    now_ms, 0, spec, NULL, 0, err);
        result->routed = rc == 0 && spec[0];
        goto out;
    }
    if (!policy_clone_url_allowed(pol.web_url, pol.allow_local_repos, v.clone_url)) {
        const char *fields[] = {"risk", "unknown", "inspect_attempts", "0"};

        /* The payload names the URL: fetching any host or path it likes would let a
         * webhook probe the network and the file system from here. Not fetched, not
         * retried, and the job does not run unchecked. The URL stays out of the log. */
        CORE_LOG(CORE_LOG_WARN, "inspect_refused",
                 "job=%s repo=%s msg=\"clone URL not on the configured GitHub host (%s)\"",
                 result->job_id, v.repo,
                 pol.allow_local_repos ? "github.web_url, or a local path"
                                       : "github.web_url; local paths need "
                                         "github.allow_local_repos");
        snprintf(reason, sizeof(reason),
                 "awaiting approval: clone URL not on the configured GitHub host; approval "
                 "required");
        result->outcome = "approve";
        rc = approval_card(plan, plan_lock, &v, now_ms, &card, reason, sizeof(reason), err);
        if (rc == 0)
            rc = finish(store, result->job_id, "approve", reason, now_ms, 0, card.spec, fields, 4,
                        err);
        goto out;
    }
    rc = fetch_lock(store, v.repo, lock_key, token, &locked, err);
    if (rc < 0)
        goto out;
    if (!locked) {
        /* Another process is fetching this repository: try again shortly, not counted. */
        result->outcome = "retry";
        rc = finish(store, result->job_id, "retry",
                    "inspecting: waiting for another fetch of this repository", now_ms,
                    now_ms + 2000, NULL, NULL, 0, err);
        goto out;
    }
    rc = inspect_diff(&pol, &v, tokens, cancel, &report, &fetched, &e2);
    fetch_unlock(store, lock_key, token);
    if (rc < 0 && cancel && atomic_load(cancel)) {
        /* A drain interrupted the fetch: the job is any process's again at once, and the
         * interruption costs it no attempt. */
        result->outcome = "retry";
        rc = finish(store, result->job_id, "retry",
                    "inspecting: interrupted by a shutdown; picked up again", now_ms, now_ms, NULL,
                    NULL, 0, err);
        goto out;
    }
    /* libgit2's messages name paths, hosts and ports: they go to the log, and the job's
     * reason (shown on cards and statuses) only says which step failed. */
    what = fetched ? "cannot read the diff" : "cannot fetch the repository";
    if (rc < 0) {
        log_safe(e2.msg);
        CORE_LOG(CORE_LOG_WARN, "inspect_failed", "job=%s repo=%s attempt=%d msg=\"%s: %s\"",
                 result->job_id, v.repo, v.attempts + 1, what, e2.msg);
    }
    if (rc == 0) {
        result->outcome = decide(report, pol.approval, reason, sizeof(reason));
        result->risk = policy_report_risk(report);
        if (strcmp(result->outcome, "approve") == 0)
            rc = approval_card(plan, plan_lock, &v, now_ms, &card, reason, sizeof(reason), err);
        else
            route_spec(plan, plan_lock, v.repo, now_ms, spec, sizeof(spec));
        if (rc == 0)
            rc = record_report(store, result->job_id, report, result->outcome, reason,
                               card.spec ? card.spec : spec, now_ms, v.attempts + 1, err);
        result->routed = rc == 0 && spec[0];
    } else if (v.attempts + 1 < MAX_INSPECT_ATTEMPTS) {
        char n_attempts[16];
        const char *fields[] = {"inspect_attempts", n_attempts};
        int64_t backoff = 1000LL << v.attempts;

        snprintf(n_attempts, sizeof(n_attempts), "%d", v.attempts + 1);
        snprintf(reason, sizeof(reason), "inspecting: %s; retrying in %llds", what,
                 (long long)(backoff / 1000));
        result->outcome = "retry";
        rc = finish(store, result->job_id, "retry", reason, now_ms, now_ms + backoff, NULL, fields,
                    2, err);
    } else {
        const char *fields[] = {"risk", "unknown", "inspect_attempts", "0"};

        /* Fail safe: a diff nobody could read is not run without a human saying so. */
        snprintf(reason, sizeof(reason),
                 "awaiting approval: %s after %d attempts; approval required", what,
                 MAX_INSPECT_ATTEMPTS);
        result->outcome = "approve";
        rc = approval_card(plan, plan_lock, &v, now_ms, &card, reason, sizeof(reason), err);
        if (rc == 0)
            rc = finish(store, result->job_id, "approve", reason, now_ms, 0, card.spec, fields, 4,
                        err);
    }
out:
    sched_approval_card_info_free(&card);
    policy_report_free(report);
    policy_snapshot_free(&pol);
    return rc;
}

int sched_inspect_one(sched_store *store, const sched_plan *const *plan, pthread_mutex_t *plan_lock,
                      const sched_token_source *tokens, int64_t now_ms,
                      sched_inspect_result *result, core_error *err)
{
    return inspect_one(store, plan, plan_lock, tokens, NULL, now_ms, result, err);
}

/* ---- worker threads ----------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    sched_inspector *ins = arg;

    for (;;) {
        sched_inspect_result res;
        core_error err = {0};
        bool stop;
        int rc;

        pthread_mutex_lock(&ins->lock);
        stop = ins->stop;
        pthread_mutex_unlock(&ins->lock);
        if (stop)
            return NULL;
        rc = inspect_one(ins->store, &ins->plan, &ins->lock, &ins->tokens, &ins->cancel,
                         core_time_now_ms(), &res, &err);
        if (rc < 0 && rc != CORE_ECONFLICT)
            CORE_LOG(CORE_LOG_WARN, "inspect", "job=%s msg=\"%s\"",
                     res.job_id[0] ? res.job_id : "-", err.msg);
        if (res.job_id[0]) {
            CORE_LOG(CORE_LOG_INFO, "inspected", "job=%s outcome=%s risk=%s", res.job_id,
                     res.outcome ? res.outcome : "error", policy_risk_name(res.risk));
            if (res.outcome && strcmp(res.outcome, "route") == 0 && !res.routed && ins->on_routed)
                ins->on_routed(ins->ctx);
            continue; /* there may be more */
        }
        pthread_mutex_lock(&ins->lock);
        if (!ins->stop && !atomic_exchange(&ins->kicked, false)) {
            struct timespec ts;

            core_deadline_after(&ts, TICK_MS);
            pthread_cond_timedwait(&ins->wake, &ins->lock, &ts);
        }
        pthread_mutex_unlock(&ins->lock);
    }
}

int sched_inspector_start(sched_inspector **out, sched_store *store, const sched_plan *plan,
                          size_t n_workers, const sched_token_source *tokens,
                          void (*on_routed)(void *ctx), void *ctx, core_error *err)
{
    sched_inspector *ins = calloc(1, sizeof(*ins));

    *out = NULL;
    if (!ins)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    ins->store = store;
    ins->plan = plan;
    ins->on_routed = on_routed;
    ins->ctx = ctx;
    if (tokens)
        ins->tokens = *tokens;
    atomic_init(&ins->kicked, false);
    pthread_mutex_init(&ins->lock, NULL);
    core_cond_init_monotonic(&ins->wake);
    ins->threads = calloc(n_workers ? n_workers : 1, sizeof(pthread_t));
    if (!ins->threads) {
        free(ins);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    policy_git_init();
    for (size_t i = 0; i < n_workers; i++) {
        if (pthread_create(&ins->threads[i], NULL, worker_main, ins) != 0) {
            sched_inspector_stop(ins);
            return core_error_set(err, CORE_EIO, "cannot start inspection workers");
        }
        ins->n_threads++;
    }
    *out = ins;
    return 0;
}

void sched_inspector_set_plan(sched_inspector *ins, const sched_plan *plan)
{
    pthread_mutex_lock(&ins->lock);
    ins->plan = plan;
    pthread_mutex_unlock(&ins->lock);
}

void sched_inspector_kick(sched_inspector *ins)
{
    atomic_store(&ins->kicked, true);
    pthread_cond_broadcast(&ins->wake);
}

void sched_inspector_stop(sched_inspector *ins)
{
    if (!ins)
        return;
    pthread_mutex_lock(&ins->lock);
    ins->stop = true;
    atomic_store(&ins->cancel, 1);
    pthread_cond_broadcast(&ins->wake);
    pthread_mutex_unlock(&ins->lock);
    for (size_t i = 0; i < ins->n_threads; i++)
        pthread_join(ins->threads[i], NULL);
    policy_git_shutdown();
    pthread_mutex_destroy(&ins->lock);
    pthread_cond_destroy(&ins->wake);
    free(ins->threads);
    free(ins);
}
