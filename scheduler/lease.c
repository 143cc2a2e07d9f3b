/* Runner-facing job operations: claim, heartbeat, complete, and the reaping of leases
 * that were not renewed. Each is one Lua script (scheduler/scripts.c), so a job is
 * leased to one runner at a time, a stale lease changes nothing, and an expired one puts
 * the job back however the runner, the connection or a zoneci process died. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched_lease.h"
#include "scheduler/sched_store.h"
#include "scheduler/store.h"

#define CLAIM_SCAN 50
#define REAP_BATCH 200
#define RUNNER_NAME_MAX 64
#define LABELS_MAX 512

static bool token_valid(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool labels_valid(const char *csv)
{
    size_t n = strlen(csv);

    if (n > LABELS_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = csv[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.' || c == ',' || c == ':' || c == '/'))
            return false;
    }
    return true;
}

static bool is_str(const sched_reply *v, const char *s)
{
    return v && v->type == SCHED_REPLY_STR && strcmp(v->str, s) == 0;
}

int sched_job_claim(sched_store *store, const char *region, const char *runner,
                    const char *token_id, const char *labels_csv, int lease_seconds, int64_t now_ms,
                    core_buf *job_json, sched_claim *out, core_error *err)
{
    char k_queue[SCHED_KEY_MAX], k_leases[SCHED_KEY_MAX], k_fence[SCHED_KEY_MAX],
        k_audit[SCHED_KEY_MAX];
    char lease_ms[24], now[24], iso[CORE_ISO_MAX], scan[8], keep[12], window[24];
    sched_reply *r = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!token_valid(region, 128))
        return core_error_set(err, CORE_EINVAL, "region: not a region name");
    if (!token_valid(runner, RUNNER_NAME_MAX))
        return core_error_set(err, CORE_EINVAL, "runner: 1 to %d letters, digits, '-', '_' or '.'",
                              RUNNER_NAME_MAX);
    if (!labels_valid(labels_csv))
        return core_error_set(err, CORE_EINVAL, "labels: letters, digits and -_.:/ only");
    if (!token_valid(token_id, 20) || strchr(token_id, '.'))
        return core_error_set(err, CORE_EINVAL, "token id: 1 to 20 letters or digits");
    rc = core_random_hex(out->lease_id, 16, err);
    if (rc == 0)
        rc = sched_store_key(store, k_queue, err, "queue:%s", region);
    if (rc == 0)
        rc = sched_store_key(store, k_leases, err, "leases");
    if (rc == 0)
        rc = sched_store_key(store, k_fence, err, "fence");
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(lease_ms, sizeof(lease_ms), "%lld", (long long)lease_seconds * 1000);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(scan, sizeof(scan), "%d", CLAIM_SCAN);
    snprintf(keep, sizeof(keep), "%d", SCHED_IDLE_PER_TOKEN);
    snprintf(window, sizeof(window), "%d", SCHED_IDLE_WINDOW_MS);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_queue, k_leases, k_fence, k_audit};
        const char *args[] = {sched_store_prefix(store),
                              region,
                              runner,
                              labels_csv,
                              out->lease_id,
                              lease_ms,
                              now,
                              iso,
                              scan,
                              token_id,
                              keep,
                              window};

        rc = sched_store_eval(store, SCHED_SCRIPT_CLAIM, keys, 4, args, 12, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type == SCHED_REPLY_ARRAY && r->n == 6 && r->elem[0].type == SCHED_REPLY_STR) {
        out->found = true;
        snprintf(out->job_id, sizeof(out->job_id), "%s", r->elem[0].str);
        out->fencing_token = sched_reply_int(&r->elem[1]);
        out->lease_expires = sched_reply_int(&r->elem[2]);
        out->attempt = (int)sched_reply_int(&r->elem[3]);
        /* The lease is granted whatever happens here: out->found tells the caller. */
        if (job_json)
            rc = sched_job_render(&r->elem[4], &r->elem[5], job_json, err);
    } else if (r->type == SCHED_REPLY_INT) {
        out->passed_over = (int)r->integer;
    }
    sched_reply_free(r);
    return 0;
}

/* The script's refusals before anything is written: a missing job, or one in a region the
 * runner token may not serve. 1 when the reply is neither. */
static int refused(const sched_reply *r, const char *id, core_error *err)
{
    if (is_str(sched_reply_item(r, 0), "missing"))
        return core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
    if (is_str(sched_reply_item(r, 0), "forbidden"))
        return core_error_set(err, CORE_EAUTH, "this token may not act in region %s",
                              sched_reply_item(r, 1) &&
                                      sched_reply_item(r, 1)->type == SCHED_REPLY_STR
                                  ? sched_reply_item(r, 1)->str
                                  : "");
    return 1;
}

int sched_job_heartbeat(sched_store *store, const char *id, const char *lease_id,
                        const char *regions, int lease_seconds, int64_t now_ms, bool *cancel,
                        int64_t *expires, core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_leases[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char lease_ms[24], now[24];
    sched_reply *r = NULL;
    int rc;

    *cancel = false;
    *expires = 0;
    if (!sched_job_id_valid(id))
        return core_error_set(err, CORE_ENOTFOUND, "job not found: ids are decimal digits");
    if (!token_valid(id, 20) || !token_valid(lease_id, 64))
        return core_error_set(err, CORE_ECONFLICT, "no such lease");
    rc = sched_store_key(store, k_job, err, "job:%s", id);
    if (rc == 0)
        rc = sched_store_key(store, k_leases, err, "leases");
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(lease_ms, sizeof(lease_ms), "%lld", (long long)lease_seconds * 1000);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    {
        const char *keys[] = {k_job, k_leases, k_audit};
        const char *args[] = {sched_store_prefix(store), id, lease_id, lease_ms, now,
                              regions ? regions : "*"};

        rc = sched_store_eval(store, SCHED_SCRIPT_HEARTBEAT, keys, 3, args, 6, &r, err);
    }
    if (rc < 0)
        return rc;
    if ((rc = refused(r, id, err)) <= 0) {
        sched_reply_free(r);
        return rc;
    }
    rc = 0;
    if (is_str(sched_reply_item(r, 0), "ok")) {
        *expires = sched_reply_int(sched_reply_item(r, 1));
    } else if (is_str(sched_reply_item(r, 0), "cancel")) {
        *cancel = true;
    } else if (sched_reply_item(r, 2) && sched_reply_item(r, 2)->type == SCHED_REPLY_STR) {
        const sched_reply *holder = sched_reply_item(r, 3);

        rc = core_error_set(
            err, CORE_ECONFLICT, "lease lost: the build lock %s of job %s expired and is %s%s",
            sched_reply_item(r, 2)->str, id,
            holder && holder->type == SCHED_REPLY_STR && *holder->str ? "held by job " : "free",
            holder && holder->type == SCHED_REPLY_STR ? holder->str : "");
    } else {
        const sched_reply *st = sched_reply_item(r, 1);

        rc = core_error_set(err, CORE_ECONFLICT, "lease lost: job %s is %s under another lease", id,
                            st && st->type == SCHED_REPLY_STR && *st->str ? st->str : "gone");
    }
    sched_reply_free(r);
    return rc;
}

int sched_job_complete(sched_store *store, const char *id, const char *lease_id,
                       const char *regions, bool success, const char *runner, int64_t now_ms,
                       char state[32], char *ran_by, size_t ran_by_len, core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX];
    sched_reply *r = NULL;
    int rc;

    state[0] = '\0';
    if (ran_by && ran_by_len)
        ran_by[0] = '\0';
    if (!sched_job_id_valid(id))
        return core_error_set(err, CORE_ENOTFOUND, "job not found: ids are decimal digits");
    if (!token_valid(id, 20) || !token_valid(lease_id, 64))
        return core_error_set(err, CORE_ECONFLICT, "no such lease");
    rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_job, k_hist, k_audit};
        const char *args[] = {
            sched_store_prefix(store), id,  lease_id, success ? "success" : "failure",
            runner ? runner : "",      now, iso,      regions ? regions : "*"};

        rc = sched_store_eval_acked(store, SCHED_SCRIPT_COMPLETE, keys, 3, args, 8, &r, err);
    }
    if (rc < 0)
        return rc;
    if ((rc = refused(r, id, err)) <= 0) {
        sched_reply_free(r);
        return rc;
    }
    rc = 0;
    if (sched_reply_item(r, 1) && sched_reply_item(r, 1)->type == SCHED_REPLY_STR)
        snprintf(state, 32, "%s", sched_reply_item(r, 1)->str);
    if (ran_by && ran_by_len && sched_reply_item(r, 2) &&
        sched_reply_item(r, 2)->type == SCHED_REPLY_STR)
        snprintf(ran_by, ran_by_len, "%s", sched_reply_item(r, 2)->str);
    if (is_str(sched_reply_item(r, 0), "done"))
        rc = core_error_set(err, CORE_ECONFLICT,
                            "already completed: job %s was reported once under this lease and "
                            "is %s; this report changes nothing",
                            id, state);
    else if (is_str(sched_reply_item(r, 0), "superseded"))
        rc = core_error_set(err, CORE_ECONFLICT,
                            "job %s was %s while it ran: its result is not recorded (its build "
                            "locks are freed)",
                            id, state);
    else if (!is_str(sched_reply_item(r, 0), "ok"))
        rc = core_error_set(err, CORE_ECONFLICT, "lease lost: job %s is %s", id,
                            *state ? state : "gone");
    sched_reply_free(r);
    return rc;
}

int sched_job_release(sched_store *store, const char *id, const char *lease_id,
                      int64_t fencing_token, const char *runner, const char *why, int64_t now_ms,
                      char state[32], core_error *err)
{
    char k_job[SCHED_KEY_MAX], k_hist[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX], fence[24];
    sched_reply *r = NULL;
    int rc;

    state[0] = '\0';
    if (!token_valid(id, 20) || !token_valid(lease_id, 64) || fencing_token <= 0)
        return core_error_set(err, CORE_ECONFLICT, "no such lease");
    if (!token_valid(runner, RUNNER_NAME_MAX))
        return core_error_set(err, CORE_EINVAL, "runner: 1 to %d letters, digits, '-', '_' or '.'",
                              RUNNER_NAME_MAX);
    if (strlen(why) > 128)
        return core_error_set(err, CORE_EINVAL, "why: longer than 128 bytes");
    rc = sched_store_job_keys(store, id, k_job, k_hist, k_audit, err);
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(fence, sizeof(fence), "%lld", (long long)fencing_token);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_job, k_hist, k_audit};
        const char *args[] = {
            sched_store_prefix(store), id, lease_id, fence, runner, why, now, iso};

        rc = sched_store_eval(store, SCHED_SCRIPT_RELEASE, keys, 3, args, 8, &r, err);
    }
    if (rc < 0)
        return rc;
    if (sched_reply_item(r, 1) && sched_reply_item(r, 1)->type == SCHED_REPLY_STR)
        snprintf(state, 32, "%s", sched_reply_item(r, 1)->str);
    if (!is_str(sched_reply_item(r, 0), "ok"))
        rc = core_error_set(err, CORE_ECONFLICT, "lease lost: job %s is %s", id,
                            *state ? state : "gone");
    sched_reply_free(r);
    return rc;
}

int sched_leases_reap(sched_store *store, int64_t now_ms, int max_attempts, size_t *requeued,
                      size_t *dead, core_error *err)
{
    char k_leases[SCHED_KEY_MAX], k_audit[SCHED_KEY_MAX];
    char now[24], iso[CORE_ISO_MAX], max[16], lim[16];
    sched_reply *r = NULL;
    int rc;

    *requeued = *dead = 0;
    rc = sched_store_key(store, k_leases, err, "leases");
    if (rc == 0)
        rc = sched_store_key(store, k_audit, err, "audit");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(max, sizeof(max), "%d", max_attempts);
    snprintf(lim, sizeof(lim), "%d", REAP_BATCH);
    core_time_format_iso(now_ms, iso);
    {
        const char *keys[] = {k_leases, k_audit};
        const char *args[] = {sched_store_prefix(store), now, iso, max, lim};

        rc = sched_store_eval(store, SCHED_SCRIPT_REAP, keys, 2, args, 5, &r, err);
    }
    if (rc < 0)
        return rc;
    *requeued = (size_t)sched_reply_int(sched_reply_item(r, 0));
    *dead = (size_t)sched_reply_int(sched_reply_item(r, 1));
    sched_reply_free(r);
    return 0;
}

int sched_job_fields(sched_store *store, const char *id, sched_field *fields, size_t n,
                     core_error *err)
{
    char key[SCHED_KEY_MAX];
    const char *argv[SCHED_STORE_ARGS_MAX - 3];
    sched_reply *r = NULL;
    bool any = false;
    int rc;

    CORE_ASSERT(n > 0 && n + 2 <= sizeof(argv) / sizeof(argv[0]));
    for (size_t i = 0; i < n; i++)
        fields[i].out[0] = '\0';
    rc = sched_store_job_key(store, id, key, err);
    if (rc < 0)
        return rc;
    argv[0] = "HMGET";
    argv[1] = key;
    for (size_t i = 0; i < n; i++)
        argv[2 + i] = fields[i].name;
    rc = sched_store_command(store, argv, n + 2, &r, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; r->type == SCHED_REPLY_ARRAY && i < n && i < r->n; i++) {
        if (r->elem[i].type == SCHED_REPLY_STR) {
            snprintf(fields[i].out, fields[i].len, "%s", r->elem[i].str);
            any = true;
        }
    }
    sched_reply_free(r);
    return any ? 0 : core_error_set(err, CORE_ENOTFOUND, "job %s not found", id);
}

int sched_job_field(sched_store *store, const char *id, const char *field, char *out, size_t len,
                    core_error *err)
{
    sched_field f = {field, out, len};

    return sched_job_fields(store, id, &f, 1, err);
}
