/* Job intake and job JSON: validates what GitHub sent, runs the intake / close /
 * transition scripts, and renders jobs for the API. Every Redis step is one script, so a
 * job is never half-written; every read of a job is one round trip. */
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "scheduler/scripts.h"
#include "scheduler/store.h"

/* Hard caps on what a job may hold (GitHub's own limits are lower). */
#define DELIVERY_MAX 128
#define REPO_MAX 255
#define SHA_MIN 7
#define SHA_MAX 64
#define REF_MAX 1024
#define TITLE_MAX 4096
#define AUTHOR_MAX 256
#define CLONE_URL_MAX 2048
#define REASON_MAX 1024
#define ACTOR_MAX 128
#define ID_MAX 20 /* decimal digits of an int64 */
#define LIST_MAX 1000

/* ---- input checks ------------------------------------------------------------------- */

bool sched_job_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (id[i] < '0' || id[i] > '9')
            return false;
    }
    return true;
}

static bool name_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.';
}

static int check_delivery(const char *id, core_error *err)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > DELIVERY_MAX)
        return core_error_set(err, CORE_EINVAL, "delivery id: must be 1 to %d characters",
                              DELIVERY_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!name_char(id[i]))
            return core_error_set(err, CORE_EINVAL,
                                  "delivery id: letters, digits, '-', '_' and '.' only");
    }
    return 0;
}

/* "owner/name" as GitHub allows them. The repository is part of key names, so nothing
 * that could be read as a separator ('#', ':', braces) may pass. */
static int check_repo(const char *repo, core_error *err)
{
    size_t n = repo ? strlen(repo) : 0;
    const char *slash = repo ? strchr(repo, '/') : NULL;

    if (n == 0 || n > REPO_MAX || !slash || slash == repo || slash[1] == '\0' ||
        strchr(slash + 1, '/'))
        return core_error_set(err, CORE_EINVAL, "repo: must be \"owner/name\" (at most %d bytes)",
                              REPO_MAX);
    for (size_t i = 0; i < n; i++) {
        if (repo[i] != '/' && !name_char(repo[i]))
            return core_error_set(err, CORE_EINVAL, "repo: letters, digits, '-', '_' and '.' only");
    }
    return 0;
}

static int check_sha(const char *field, const char *sha, bool required, core_error *err)
{
    size_t n = sha ? strlen(sha) : 0;

    if (n == 0 && !required)
        return 0;
    if (n < SHA_MIN || n > SHA_MAX)
        return core_error_set(err, CORE_EINVAL, "%s: must be %d to %d hex digits", field, SHA_MIN,
                              SHA_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = sha[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return core_error_set(err, CORE_EINVAL, "%s: must be hex digits", field);
    }
    return 0;
}

static int check_text(const char *field, const char *s, size_t max, core_error *err)
{
    if (s && strlen(s) > max)
        return core_error_set(err, CORE_ETOOBIG, "%s: longer than %zu bytes", field, max);
    return 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Copies printable ASCII of s for an error message: input is echoed, never injected. */
static void echo_safe(const char *s, char *out, size_t cap)
{
    size_t j = 0;

    for (size_t i = 0; s[i] && j + 1 < cap; i++)
        out[j++] = (s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? s[i] : '?';
    out[j] = '\0';
}

/* ---- replies ------------------------------------------------------------------------- */

static const sched_reply *elem(const sched_reply *r, size_t i, sched_reply_type type)
{
    if (!r || r->type != SCHED_REPLY_ARRAY || i >= r->n || r->elem[i].type != type)
        return NULL;
    return &r->elem[i];
}

static bool reply_is(const sched_reply *r, const char *s)
{
    return r && r->type == SCHED_REPLY_STR && strcmp(r->str, s) == 0;
}

static int bad_reply(const char *script, core_error *err)
{
    return core_error_set(err, CORE_EIO, "redis: unexpected answer from script %s", script);
}

/* Copies a job id from a reply into a sched_intake field. */
static bool copy_id(const sched_reply *r, char out[32])
{
    if (!r || r->type != SCHED_REPLY_STR || r->len >= 32)
        return false;
    memcpy(out, r->str, r->len + 1);
    return true;
}

/* ---- intake ---------------------------------------------------------------------------- */

static int check_pr_ref(const sched_pr_ref *pr, core_error *err)
{
    int rc = check_repo(pr->repo, err);

    if (rc == 0 && pr->pr < 1)
        rc = core_error_set(err, CORE_EINVAL, "pr: must be a positive number");
    if (rc == 0)
        rc = check_sha("head_sha", pr->head_sha, true, err);
    if (rc == 0)
        rc = check_sha("base_sha", pr->base_sha, false, err);
    if (rc == 0)
        rc = check_text("head_ref", pr->head_ref, REF_MAX, err);
    if (rc == 0)
        rc = check_text("base_ref", pr->base_ref, REF_MAX, err);
    if (rc == 0)
        rc = check_text("title", pr->title, TITLE_MAX, err);
    if (rc == 0)
        rc = check_text("author", pr->author, AUTHOR_MAX, err);
    if (rc == 0)
        rc = check_text("clone_url", pr->clone_url, CLONE_URL_MAX, err);
    if (rc == 0)
        rc = check_text("reason", pr->reason, REASON_MAX, err);
    if (rc == 0 && pr->installation_id < 0)
        rc = core_error_set(err, CORE_EINVAL, "installation_id: must not be negative");
    return rc;
}

int sched_intake_pull_request(sched_store *store, const char *delivery_id, const sched_pr_ref *pr,
                              int64_t now_ms, sched_intake *out, core_error *err)
{
    char k_delivery[SCHED_KEY_MAX], k_seq[SCHED_KEY_MAX], k_jobs[SCHED_KEY_MAX];
    char k_live[SCHED_KEY_MAX], k_pr[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char ttl[16], now[24], iso[CORE_ISO_MAX], prs[24], inst[24], reason[REASON_MAX + 64];
    char card_key[SCHED_CARD_KEY_LEN + 1];
    sched_reply *r = NULL;
    const sched_reply *outcome;
    int rc;

    CORE_ASSERT(store && pr && out);
    memset(out, 0, sizeof(*out));
    rc = check_delivery(delivery_id, err);
    if (rc == 0)
        rc = check_pr_ref(pr, err);
    /* Drawn even for a duplicate delivery: the script keeps it only for a new job. */
    if (rc == 0)
        rc = core_random_hex(card_key, SCHED_CARD_KEY_LEN / 2, err);
    if (rc < 0)
        return rc;
    snprintf(prs, sizeof(prs), "%" PRId64, pr->pr);
    rc = sched_store_key(store, k_delivery, err, "delivery:%s", delivery_id);
    if (rc == 0)
        rc = sched_store_key(store, k_seq, err, "seq");
    if (rc == 0)
        rc = sched_store_key(store, k_jobs, err, "jobs");
    if (rc == 0)
        rc = sched_store_key(store, k_live, err, "live:%s#%s#%s", pr->repo, prs, pr->head_sha);
    if (rc == 0)
        rc = sched_store_key(store, k_pr, err, "pr:%s#%s", pr->repo, prs);
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(ttl, sizeof(ttl), "%d", sched_store_delivery_ttl(store));
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(inst, sizeof(inst), "%" PRId64, pr->installation_id);
    core_time_format_iso(now_ms, iso);
    if (pr->reason && *pr->reason)
        snprintf(reason, sizeof(reason), "%s", pr->reason);
    else
        snprintf(reason, sizeof(reason), "pull request #%s at %.7s", prs, pr->head_sha);

    {
        const char *keys[] = {k_delivery, k_seq, k_jobs, k_live, k_pr, k_audit};
        const char *args[] = {sched_store_prefix(store),
                              ttl,
                              now,
                              iso,
                              reason,
                              or_empty(pr->route),
                              "repo",
                              pr->repo,
                              "pr",
                              prs,
                              "head_sha",
                              pr->head_sha,
                              "base_sha",
                              or_empty(pr->base_sha),
                              "head_ref",
                              or_empty(pr->head_ref),
                              "base_ref",
                              or_empty(pr->base_ref),
                              "title",
                              or_empty(pr->title),
                              "author",
                              or_empty(pr->author),
                              "clone_url",
                              or_empty(pr->clone_url),
                              "installation_id",
                              inst,
                              "delivery",
                              delivery_id,
                              "card_key",
                              card_key,
                              "rerun_of",
                              or_empty(pr->rerun_of)};

        /* The 202 that follows promises the job: a replica must hold it too (store.h). */
        rc = sched_store_eval_acked(store, SCHED_SCRIPT_INTAKE, keys, sizeof(keys) / sizeof(*keys),
                                    args, sizeof(args) / sizeof(*args), &r, err);
    }
    if (rc < 0)
        return rc;
    outcome = elem(r, 0, SCHED_REPLY_STR);
    if (reply_is(outcome, "created"))
        out->outcome = SCHED_INTAKE_CREATED;
    else if (reply_is(outcome, "duplicate"))
        out->outcome = SCHED_INTAKE_DUPLICATE;
    else if (reply_is(outcome, "live"))
        out->outcome = SCHED_INTAKE_LIVE;
    else if (reply_is(outcome, "stale"))
        out->outcome = SCHED_INTAKE_STALE;
    else
        rc = bad_reply("intake", err);
    if (rc == 0 && (!copy_id(elem(r, 1, SCHED_REPLY_STR), out->job_id) ||
                    !copy_id(elem(r, 2, SCHED_REPLY_STR), out->superseded_id)))
        rc = bad_reply("intake", err);
    if (rc == 0 && out->outcome == SCHED_INTAKE_CREATED) {
        const sched_reply *st = elem(r, 4, SCHED_REPLY_STR);

        if (!st || strlen(st->str) >= sizeof(out->state))
            rc = bad_reply("intake", err);
        else
            memcpy(out->state, st->str, strlen(st->str) + 1);
    }
    /* A delivery first seen as a close event has no job: "-" in Redis. */
    if (rc == 0 && strcmp(out->job_id, "-") == 0)
        out->job_id[0] = '\0';
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    sched_reply_free(r);
    return rc;
}

int sched_intake_pr_closed(sched_store *store, const char *delivery_id, const char *repo,
                           int64_t pr, int64_t now_ms, sched_intake *out, core_error *err)
{
    char k_delivery[SCHED_KEY_MAX], k_pr[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char ttl[16], now[24], iso[CORE_ISO_MAX], prs[24];
    const sched_reply *outcome, *n;
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    rc = check_delivery(delivery_id, err);
    if (rc == 0)
        rc = check_repo(repo, err);
    if (rc == 0 && pr < 1)
        rc = core_error_set(err, CORE_EINVAL, "pr: must be a positive number");
    if (rc < 0)
        return rc;
    snprintf(prs, sizeof(prs), "%" PRId64, pr);
    rc = sched_store_key(store, k_delivery, err, "delivery:%s", delivery_id);
    if (rc == 0)
        rc = sched_store_key(store, k_pr, err, "pr:%s#%s", repo, prs);
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(ttl, sizeof(ttl), "%d", sched_store_delivery_ttl(store));
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_delivery, k_pr, k_audit};
        const char *args[] = {sched_store_prefix(store), ttl, now, iso, repo, prs};

        rc = sched_store_eval_acked(store, SCHED_SCRIPT_CLOSE, keys, 3, args, 6, &r, err);
    }
    if (rc < 0)
        return rc;
    outcome = elem(r, 0, SCHED_REPLY_STR);
    n = elem(r, 2, SCHED_REPLY_INT);
    if (reply_is(outcome, "closed") && n) {
        out->outcome = SCHED_INTAKE_CLOSED;
        out->cancelled = (int)n->integer;
    } else if (reply_is(outcome, "duplicate") &&
               copy_id(elem(r, 1, SCHED_REPLY_STR), out->job_id)) {
        out->outcome = SCHED_INTAKE_DUPLICATE;
        if (strcmp(out->job_id, "-") == 0)
            out->job_id[0] = '\0';
    } else {
        memset(out, 0, sizeof(*out));
        rc = bad_reply("close", err);
    }
    sched_reply_free(r);
    return rc;
}

int sched_job_transition(sched_store *store, const char *id, const char *from, const char *to,
                         const char *actor, const char *reason, int64_t now_ms, core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX], shown[48];
    const sched_reply *outcome, *cur;
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store);
    if (!sched_job_id_valid(id))
        return core_error_set(err, CORE_ENOTFOUND, "job not found: ids are decimal digits");
    if (!sched_state_valid(to) || (from && !sched_state_valid(from))) {
        echo_safe(sched_state_valid(to) ? from : or_empty(to), shown, sizeof(shown));
        return core_error_set(err, CORE_EINVAL, "unknown state \"%s\"", shown);
    }
    if (!actor || !*actor || strlen(actor) > ACTOR_MAX)
        return core_error_set(err, CORE_EINVAL, "actor: must be 1 to %d bytes", ACTOR_MAX);
    rc = check_text("reason", reason, REASON_MAX, err);
    if (rc == 0)
        rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_job, k_hist, k_audit};
        const char *args[] = {
            sched_store_prefix(store), id, or_empty(from), to, actor, or_empty(reason), now, iso};

        rc = sched_store_eval(store, SCHED_SCRIPT_TRANSITION, keys, 3, args, 8, &r, err);
    }
    if (rc < 0)
        return rc;
    outcome = elem(r, 0, SCHED_REPLY_STR);
    cur = elem(r, 1, SCHED_REPLY_STR);
    if (!cur)
        rc = bad_reply("transition", err);
    else if (reply_is(outcome, "missing"))
        rc = core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    else if (reply_is(outcome, "conflict") && sched_state_final(cur->str))
        rc = core_error_set(err, CORE_ECONFLICT, "job %s is %.32s, a final state", id, cur->str);
    else if (reply_is(outcome, "conflict"))
        rc = core_error_set(err, CORE_ECONFLICT, "job %s is %.32s, not %s", id, cur->str,
                            or_empty(from));
    else if (!reply_is(outcome, "ok"))
        rc = bad_reply("transition", err);
    sched_reply_free(r);
    return rc;
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* A JSON writer with a sticky error, so that rendering reads as the document it writes. */
typedef struct jw {
    core_buf *b;
    int rc;
} jw;

static void jw_raw(jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = core_buf_puts(w->b, s);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    uint32_t cp, min;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0fu;
        min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A quoted JSON string. Redis holds bytes, JSON needs UTF-8: each byte that does not
 * start a valid sequence becomes U+FFFD, so the document is valid whatever was stored. */
static void jw_str(jw *w, const char *s, size_t len)
{
    size_t run = 0, i = 0;

    jw_raw(w, "\"");
    while (w->rc == 0 && i < len) {
        size_t n = utf8_len((const unsigned char *)s + i, len - i);

        if (n) {
            i += n;
            continue;
        }
        w->rc = core_buf_json_escape(w->b, s + run, i - run);
        jw_raw(w, "\\ufffd");
        run = ++i;
    }
    if (w->rc == 0)
        w->rc = core_buf_json_escape(w->b, s + run, len - run);
    jw_raw(w, "\"");
}

static bool parse_int64(const sched_reply *v, int64_t *out)
{
    char *end;
    long long x;

    if (!v || v->type != SCHED_REPLY_STR || v->len == 0 || v->len > 20)
        return false;
    errno = 0;
    x = strtoll(v->str, &end, 10);
    if (errno || *end || v->str[0] == ' ' || v->str[0] == '+')
        return false;
    *out = x;
    return true;
}

typedef enum field_kind {
    FK_STR,         /* string, null when absent */
    FK_STR_OR_NULL, /* string, null when absent or empty (region until routed) */
    FK_NUM,         /* decimal in Redis, a JSON number */
    FK_TIME,        /* ms in Redis, ISO 8601 in JSON */
    FK_JSON,        /* JSON zoneci wrote itself (the migration report), null when absent */
} field_kind;

static const struct {
    const char *name;
    field_kind kind;
} job_fields[] = {
    {"id", FK_STR},
    {"state", FK_STR},
    {"repo", FK_STR},
    {"pr", FK_NUM},
    {"head_sha", FK_STR},
    {"base_sha", FK_STR},
    {"head_ref", FK_STR},
    {"base_ref", FK_STR},
    {"title", FK_STR},
    {"author", FK_STR},
    {"clone_url", FK_STR},
    {"installation_id", FK_NUM},
    {"delivery", FK_STR},
    {"region", FK_STR_OR_NULL},
    {"reason", FK_STR},
    {"attempts", FK_NUM},
    {"created_at", FK_TIME},
    {"updated_at", FK_TIME},
    {"runner", FK_STR_OR_NULL},
    {"risk", FK_STR_OR_NULL},
    {"report", FK_JSON},
    {"approval_region", FK_STR_OR_NULL},
    {"cards", FK_NUM},
    {"decision", FK_STR_OR_NULL},
    {"decided_by", FK_STR_OR_NULL},
    {"decided_at", FK_TIME},
};
#define N_JOB_FIELDS (sizeof(job_fields) / sizeof(job_fields[0]))

static const sched_reply *hash_get(const sched_reply *hash, const char *name)
{
    for (size_t i = 0; i + 1 < hash->n; i += 2) {
        const sched_reply *k = &hash->elem[i];

        if (k->type == SCHED_REPLY_STR && strcmp(k->str, name) == 0)
            return hash->elem[i + 1].type == SCHED_REPLY_STR ? &hash->elem[i + 1] : NULL;
    }
    return NULL;
}

static void jw_field(jw *w, const sched_reply *v, field_kind kind)
{
    char num[32], iso[CORE_ISO_MAX];
    int64_t x;

    switch (kind) {
    case FK_STR:
    case FK_STR_OR_NULL:
        if (!v || (kind == FK_STR_OR_NULL && v->len == 0))
            jw_raw(w, "null");
        else
            jw_str(w, v->str, v->len);
        break;
    case FK_NUM:
        if (parse_int64(v, &x)) {
            snprintf(num, sizeof(num), "%" PRId64, x);
            jw_raw(w, num);
        } else {
            jw_raw(w, "null");
        }
        break;
    case FK_JSON:
        /* Written by policy_report_json, which emits valid UTF-8 JSON; anything else
         * (a hand-edited key) would be a bug, so it is shown as a string instead. */
        if (!v || v->len == 0)
            jw_raw(w, "null");
        else if (v->str[0] == '{' && v->str[v->len - 1] == '}')
            jw_raw(w, v->str);
        else
            jw_str(w, v->str, v->len);
        break;
    case FK_TIME:
        if (parse_int64(v, &x)) {
            core_time_format_iso_ms(x, iso);
            jw_str(w, iso, strlen(iso));
        } else {
            jw_raw(w, "null");
        }
        break;
    }
}

/* A history entry's `at` (an ISO 8601 string the scripts were given) in the API's one
 * form, with milliseconds. Returns false, writing nothing, when it does not parse (it is
 * then passed through as it is). */
static bool history_at(jw *w, const sched_reply *v)
{
    char in[CORE_ISO_MAX], iso[CORE_ISO_MAX];
    core_error err;
    int64_t t;

    if (v->type != SCHED_REPLY_STR || v->len >= sizeof(in))
        return false;
    memcpy(in, v->str, v->len);
    in[v->len] = '\0';
    if (core_time_parse_iso(in, &t, &err) < 0)
        return false;
    core_time_format_iso_ms(t, iso);
    jw_str(w, iso, strlen(iso));
    return true;
}

/* One job from a {hash, history} reply pair. */
static void jw_job(jw *w, const sched_reply *hash, const sched_reply *history)
{
    static const char *const hist_keys[4] = {
        "{\"at\":", ",\"state\":", ",\"actor\":", ",\"reason\":"};

    jw_raw(w, "{");
    for (size_t i = 0; i < N_JOB_FIELDS; i++) {
        /* `cards` in the JSON is the number of cards sent to Slack (`cards_sent`); the hash's
         * `cards` (the regions asked, library.lua) stands in only for a job written before
         * cards_sent existed, whose cards were all sent. */
        const sched_reply *v =
            strcmp(job_fields[i].name, "cards") == 0 ? hash_get(hash, "cards_sent") : NULL;

        jw_raw(w, i ? ",\"" : "\"");
        jw_raw(w, job_fields[i].name);
        jw_raw(w, "\":");
        jw_field(w, v ? v : hash_get(hash, job_fields[i].name), job_fields[i].kind);
    }
    jw_raw(w, ",\"history\":[");
    for (size_t i = 0; history && i + 3 < history->n; i += 4) {
        if (i)
            jw_raw(w, ",");
        for (size_t j = 0; j < 4; j++) {
            const sched_reply *v = &history->elem[i + j];

            jw_raw(w, hist_keys[j]);
            if (j == 0 && history_at(w, v))
                continue;
            jw_field(w, v->type == SCHED_REPLY_STR ? v : NULL, FK_STR);
        }
        jw_raw(w, "}");
    }
    jw_raw(w, "]}");
}

static int jw_finish(jw *w, size_t start, core_error *err)
{
    if (w->rc == 0)
        return 0;
    /* Leave no half document behind. */
    w->b->len = start;
    if (w->b->data)
        w->b->data[start] = '\0';
    return core_error_set(err, CORE_ENOMEM, "job json: out of memory");
}

int sched_job_render(const sched_reply *hash, const sched_reply *history, core_buf *out,
                     core_error *err)
{
    jw w = {.b = out};
    size_t start = out->len;

    if (!hash || hash->type != SCHED_REPLY_ARRAY || !history || history->type != SCHED_REPLY_ARRAY)
        return bad_reply("job document", err);
    jw_job(&w, hash, history);
    return jw_finish(&w, start, err);
}

/* A job_get-shaped reply (nil, or {hash, history}) as the job's JSON appended to out;
 * CORE_ENOTFOUND for nil, with `missing` as the message. */
static int render_job_reply(const sched_reply *r, const char *script, const char *missing,
                            core_buf *out, core_error *err)
{
    const sched_reply *hash = elem(r, 0, SCHED_REPLY_ARRAY);
    const sched_reply *history = elem(r, 1, SCHED_REPLY_ARRAY);
    size_t start = out->len;
    jw w = {.b = out};

    if (r->type == SCHED_REPLY_NIL)
        return core_error_set(err, CORE_ENOTFOUND, "%s", missing);
    if (!hash || !history)
        return bad_reply(script, err);
    jw_job(&w, hash, history);
    return jw_finish(&w, start, err);
}

int sched_job_json(sched_store *store, const char *id, core_buf *out, core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], missing[64];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && out);
    if (!sched_job_id_valid(id))
        return core_error_set(err, CORE_ENOTFOUND, "job not found: ids are decimal digits");
    rc = sched_store_key(store, k_job, err, "job:%s", id);
    if (rc == 0)
        rc = sched_store_key(store, k_hist, err, "job:%s:history", id);
    if (rc < 0)
        return rc;
    {
        const char *keys[] = {k_job, k_hist};
        const char *args[] = {sched_store_prefix(store), id};

        rc = sched_store_eval(store, SCHED_SCRIPT_JOB_GET, keys, 2, args, 2, &r, err);
    }
    if (rc < 0)
        return rc;
    snprintf(missing, sizeof(missing), "job %s not found", id);
    rc = render_job_reply(r, "job_get", missing, out, err);
    sched_reply_free(r);
    return rc;
}

int sched_pr_job_json(sched_store *store, const char *repo, int64_t pr, core_buf *out,
                      core_error *err)
{
    char k_last[SCHED_KEY_MAX], k_pr[SCHED_KEY_MAX], num[24];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && repo && out);
    snprintf(num, sizeof(num), "%lld", (long long)pr);
    rc = sched_store_key(store, k_last, err, "pr_last:%s#%s", repo, num);
    if (rc == 0)
        rc = sched_store_key(store, k_pr, err, "pr:%s#%s", repo, num);
    if (rc < 0)
        return rc;
    {
        const char *keys[] = {k_last, k_pr};
        const char *args[] = {sched_store_prefix(store), repo, num};

        rc = sched_store_eval(store, SCHED_SCRIPT_PR_JOB, keys, 2, args, 3, &r, err);
    }
    if (rc < 0)
        return rc;
    rc = render_job_reply(r, "pr_job", "no job for this pull request", out, err);
    sched_reply_free(r);
    return rc;
}

int sched_job_list_json(sched_store *store, const char *state, const char *cursor, size_t limit,
                        core_buf *out, core_error *err)
{
    char k_index[SCHED_KEY_MAX], max[ID_MAX + 2], lim[16], shown[48];
    const sched_reply *next, *jobs;
    sched_reply *r = NULL;
    jw w = {.b = out};
    size_t start = out->len;
    int rc;

    CORE_ASSERT(store && out);
    if (state && !sched_state_valid(state)) {
        echo_safe(state, shown, sizeof(shown));
        return core_error_set(err, CORE_EINVAL, "unknown state \"%s\"", shown);
    }
    if (cursor && !sched_job_id_valid(cursor))
        return core_error_set(err, CORE_EINVAL, "malformed cursor");
    if (limit < 1 || limit > LIST_MAX)
        return core_error_set(err, CORE_EINVAL, "limit: must be 1 to %d", LIST_MAX);
    rc = state ? sched_store_key(store, k_index, err, "state:%s", state)
               : sched_store_key(store, k_index, err, "jobs");
    if (rc < 0)
        return rc;
    /* The cursor is the last id shown: the next page starts strictly below it. */
    if (cursor)
        snprintf(max, sizeof(max), "(%s", cursor);
    else
        snprintf(max, sizeof(max), "+inf");
    snprintf(lim, sizeof(lim), "%zu", limit);
    {
        const char *keys[] = {k_index};
        const char *args[] = {sched_store_prefix(store), max, lim};

        rc = sched_store_eval(store, SCHED_SCRIPT_JOB_LIST, keys, 1, args, 3, &r, err);
    }
    if (rc < 0)
        return rc;
    next = r->type == SCHED_REPLY_ARRAY && r->n == 2 ? &r->elem[0] : NULL;
    jobs = elem(r, 1, SCHED_REPLY_ARRAY);
    if (!next || !jobs || (next->type != SCHED_REPLY_NIL && next->type != SCHED_REPLY_STR)) {
        sched_reply_free(r);
        return bad_reply("job_list", err);
    }
    jw_raw(&w, "{\"jobs\":[");
    for (size_t i = 0, shown_n = 0; i < jobs->n; i++) {
        const sched_reply *job = &jobs->elem[i];
        const sched_reply *hash = elem(job, 0, SCHED_REPLY_ARRAY);

        if (!hash)
            continue;
        if (shown_n++)
            jw_raw(&w, ",");
        jw_job(&w, hash, elem(job, 1, SCHED_REPLY_ARRAY));
    }
    jw_raw(&w, "],\"next\":");
    if (next->type == SCHED_REPLY_STR)
        jw_str(&w, next->str, next->len);
    else
        jw_raw(&w, "null");
    jw_raw(&w, "}");
    rc = jw_finish(&w, start, err);
    sched_reply_free(r);
    return rc;
}

int sched_job_check_run(sched_store *store, const char *id, int64_t run_id, size_t annotated,
                        core_error *err)
{
    char key[SCHED_KEY_MAX], run[24], sent[24];
    sched_reply *r = NULL;
    int rc;

    rc = sched_store_job_key(store, id, key, err);
    if (rc < 0)
        return rc;
    snprintf(run, sizeof(run), "%" PRId64, run_id);
    snprintf(sent, sizeof(sent), "%zu", annotated);
    {
        const char *keys[] = {key};
        const char *args[] = {sched_store_prefix(store), id, run, sent};

        rc = sched_store_eval(store, SCHED_SCRIPT_CHECK_RUN, keys, 1, args, 4, &r, err);
    }
    if (rc == 0 && r->type == SCHED_REPLY_NIL)
        rc = core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    sched_reply_free(r);
    return rc;
}
