/* The status page's per-region figures, read with plain commands (no script: nothing is
 * written, and nothing needs to be read atomically). */
#include "scheduler/sched_overview.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched_lease.h"
#include "scheduler/store.h"

static int64_t reply_int(const sched_reply *r)
{
    if (!r)
        return 0;
    if (r->type == SCHED_REPLY_INT)
        return r->integer;
    if (r->type == SCHED_REPLY_STR && r->str) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(r->str, &end, 10);
        return errno || *end ? 0 : (int64_t)v;
    }
    return 0;
}

static int command_int(sched_store *store, const char *const *argv, size_t argc, int64_t *out,
                       core_error *err)
{
    sched_reply *r = NULL;
    int rc = sched_store_command(store, argv, argc, &r, err);

    if (rc == 0)
        *out = reply_int(r);
    sched_reply_free(r);
    return rc;
}

/* When the queue's first job (ids are its scores: the oldest first) was last moved. */
static int oldest_since(sched_store *store, const char *k_queue, int64_t *out, core_error *err)
{
    const char *range[] = {"ZRANGE", k_queue, "0", "0"};
    char k_job[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    int rc;

    *out = 0;
    rc = sched_store_command(store, range, 4, &r, err);
    if (rc == 0 && r->type == SCHED_REPLY_ARRAY && r->n == 1 &&
        r->elem[0].type == SCHED_REPLY_STR) {
        rc = sched_store_key(store, k_job, err, "job:%s", r->elem[0].str);
        if (rc == 0) {
            const char *hget[] = {"HGET", k_job, "updated_at"};

            rc = command_int(store, hget, 3, out, err);
        }
    }
    sched_reply_free(r);
    return rc;
}

int sched_region_overview_get(sched_store *store, const char *region, int64_t now_ms,
                              sched_region_overview *out, core_error *err)
{
    char k_queue[SCHED_KEY_MAX], k_idle[SCHED_KEY_MAX], since[32];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = sched_store_key(store, k_queue, err, "queue:%s", region);
    if (rc == 0)
        rc = sched_store_key(store, k_idle, err, "idlet:%s", region);
    if (rc < 0)
        return rc;
    snprintf(since, sizeof(since), "%lld", (long long)(now_ms - SCHED_IDLE_WINDOW_MS));
    {
        const char *zcard[] = {"ZCARD", k_queue};
        const char *zcount[] = {"ZCOUNT", k_idle, since, "+inf"};

        rc = command_int(store, zcard, 2, &out->depth, err);
        if (rc == 0 && out->depth > 0)
            rc = oldest_since(store, k_queue, &out->oldest_since, err);
        if (rc == 0)
            rc = command_int(store, zcount, 4, &out->idle_tokens, err);
    }
    return rc;
}
