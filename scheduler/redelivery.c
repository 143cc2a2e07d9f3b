/* The Redis side of delivery recovery: the run lock, the high-water mark and the GUIDs
 * asked for. The GitHub side (listing deliveries, asking for attempts) is in
 * notifier/redeliver.c; nothing here talks to GitHub. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "scheduler/sched_redelivery.h"
#include "scheduler/sched_store.h"
#include "scheduler/store.h"

#define GUID_MAX 128

int sched_redelivery_lock(sched_store *store, int ttl_ms, char token[33], bool *got,
                          core_error *err)
{
    char key[SCHED_KEY_MAX], ms[16];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && token && got && ttl_ms > 0);
    *got = false;
    rc = sched_store_key(store, key, err, "redelivery:lock");
    if (rc == 0)
        rc = core_random_hex(token, 16, err);
    if (rc < 0)
        return rc;
    snprintf(ms, sizeof(ms), "%d", ttl_ms);
    {
        const char *argv[] = {"SET", key, token, "NX", "PX", ms};

        rc = sched_store_command(store, argv, 6, &r, err);
    }
    if (rc == 0)
        *got = r->type == SCHED_REPLY_STR;
    sched_reply_free(r);
    return rc;
}

void sched_redelivery_unlock(sched_store *store, const char *token)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;

    if (sched_store_key(store, key, NULL, "redelivery:lock") < 0)
        return;
    {
        const char *keys[] = {key};
        const char *args[] = {sched_store_prefix(store), token};

        if (sched_store_eval(store, SCHED_SCRIPT_UNLOCK, keys, 1, args, 2, &r, NULL) == 0)
            sched_reply_free(r);
    }
}

int sched_redelivery_mark_get(sched_store *store, int64_t *id, core_error *err)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && id);
    *id = 0;
    rc = sched_store_key(store, key, err, "redelivery:mark");
    if (rc < 0)
        return rc;
    {
        const char *argv[] = {"GET", key};

        rc = sched_store_command(store, argv, 2, &r, err);
    }
    if (rc == 0 && r->type == SCHED_REPLY_STR) {
        char *end;
        long long v = strtoll(r->str, &end, 10);

        /* A mark that does not read as an id is treated as none: the run then looks back
         * the whole 3 days, which only costs requests. */
        *id = (*end == '\0' && v > 0) ? (int64_t)v : 0;
    }
    sched_reply_free(r);
    return rc;
}

int sched_redelivery_mark_set(sched_store *store, int64_t id, core_error *err)
{
    char key[SCHED_KEY_MAX], ids[24], ttl[16];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store);
    if (id <= 0)
        return core_error_set(err, CORE_EINVAL, "redelivery mark: id must be positive");
    rc = sched_store_key(store, key, err, "redelivery:mark");
    if (rc < 0)
        return rc;
    snprintf(ids, sizeof(ids), "%" PRId64, id);
    /* A mark older than the look-back is worth nothing: let it expire with it. */
    snprintf(ttl, sizeof(ttl), "%d", SCHED_DELIVERY_TTL_DEFAULT);
    {
        const char *keys[] = {key};
        const char *args[] = {sched_store_prefix(store), ids, ttl};

        rc = sched_store_eval(store, SCHED_SCRIPT_REDELIVERY_MARK, keys, 1, args, 3, &r, err);
    }
    sched_reply_free(r);
    return rc;
}

int sched_redelivery_claim(sched_store *store, const char *guid, int64_t now_ms,
                           sched_redelivery_verdict *out, core_error *err)
{
    char k_delivery[SCHED_KEY_MAX], k_asked[SCHED_KEY_MAX], now[24], ttl[16];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && out);
    *out = SCHED_REDELIVERY_ASKED;
    if (!core_name_valid(guid, GUID_MAX, "-_."))
        return core_error_set(err, CORE_EINVAL,
                              "delivery guid: 1 to %d letters, digits, '-', '_' or '.'", GUID_MAX);
    /* The same key intake writes (scheduler/jobs.c): its existence is "accepted". */
    rc = sched_store_key(store, k_delivery, err, "delivery:%s", guid);
    if (rc == 0)
        rc = sched_store_key(store, k_asked, err, "redelivery:asked:%s", guid);
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(ttl, sizeof(ttl), "%d", SCHED_DELIVERY_TTL_DEFAULT);
    {
        const char *keys[] = {k_delivery, k_asked};
        const char *args[] = {sched_store_prefix(store), now, ttl};

        rc = sched_store_eval(store, SCHED_SCRIPT_REDELIVERY_CLAIM, keys, 2, args, 3, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type == SCHED_REPLY_STR && strcmp(r->str, "ask") == 0)
        *out = SCHED_REDELIVERY_ASK;
    else if (r->type == SCHED_REPLY_STR && strcmp(r->str, "accepted") == 0)
        *out = SCHED_REDELIVERY_ACCEPTED;
    else if (r->type == SCHED_REPLY_STR && strcmp(r->str, "asked") == 0)
        *out = SCHED_REDELIVERY_ASKED;
    else
        rc = core_error_set(err, CORE_EIO, "redelivery claim: unexpected reply");
    sched_reply_free(r);
    return rc;
}

int sched_redelivery_unclaim(sched_store *store, const char *guid, core_error *err)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store);
    if (!core_name_valid(guid, GUID_MAX, "-_."))
        return core_error_set(err, CORE_EINVAL, "delivery guid: not a delivery id");
    rc = sched_store_key(store, key, err, "redelivery:asked:%s", guid);
    if (rc < 0)
        return rc;
    {
        const char *argv[] = {"DEL", key};

        rc = sched_store_command(store, argv, 2, &r, err);
    }
    sched_reply_free(r);
    return rc;
}
