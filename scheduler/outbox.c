/* The outbox: outbound messages as durable records in Redis, leased to one delivery
 * worker at a time and marked done at most once (compare-and-set Lua scripts), so a
 * Slack or GitHub outage delays a notification and a crash or restart never loses one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched_outbox.h"
#include "scheduler/sched_store.h"
#include "scheduler/store.h"

/* A take looks at due messages a page at a time, past the ones waiting behind an older
 * message of their order, up to TAKE_PAGE * TAKE_PAGES of them: one blocked order (a
 * GitHub outage piling up statuses) never holds back another, and one take stays cheap. */
#define TAKE_PAGE 50
#define TAKE_PAGES 40

void sched_outbox_msg_free(sched_outbox_msg *msg)
{
    if (!msg)
        return;
    free(msg->payload);
    memset(msg, 0, sizeof(*msg));
}

static bool kind_valid(const char *kind)
{
    size_t n = strlen(kind);

    if (n == 0 || n >= SCHED_OUTBOX_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_'))
            return false;
    return true;
}

static const char *reply_str(const sched_reply *r)
{
    return r->type == SCHED_REPLY_STR ? r->str : "";
}

int sched_outbox_put(sched_store *store, const char *kind, const char *payload_json,
                     const char *dedup_key, int64_t now_ms, char id_out[32], core_error *err)
{
    char k_seq[SCHED_KEY_MAX], k_due[SCHED_KEY_MAX], k_dedup[SCHED_KEY_MAX];
    char now[24], ttl[24];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && kind && payload_json && id_out);
    id_out[0] = '\0';
    if (!kind_valid(kind))
        return core_error_set(err, CORE_EINVAL, "outbox: bad message kind");
    if (strlen(payload_json) > SCHED_OUTBOX_PAYLOAD_MAX)
        return core_error_set(err, CORE_ETOOBIG, "outbox: payload over %u bytes",
                              SCHED_OUTBOX_PAYLOAD_MAX);
    if (dedup_key && dedup_key[0] == '\0')
        return core_error_set(err, CORE_EINVAL, "outbox: empty dedup key");
    if (dedup_key && strlen(dedup_key) > SCHED_OUTBOX_DEDUP_MAX)
        return core_error_set(err, CORE_ETOOBIG, "outbox: dedup key over %d bytes",
                              SCHED_OUTBOX_DEDUP_MAX);
    rc = sched_store_key(store, k_seq, err, "outbox:seq");
    if (rc == 0)
        rc = sched_store_key(store, k_due, err, "outbox:due");
    if (rc == 0)
        rc = dedup_key ? sched_store_key(store, k_dedup, err, "outbox:dedup:%s", dedup_key)
                       : sched_store_key(store, k_dedup, err, "outbox:seq");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(ttl, sizeof(ttl), "%d", sched_store_dedup_ttl(store));
    {
        const char *keys[] = {k_seq, k_due, k_dedup};
        const char *args[] = {sched_store_prefix(store), kind, payload_json, now,
                              dedup_key ? "1" : "0",     ttl};

        rc = sched_store_eval(store, SCHED_SCRIPT_OUTBOX_PUT, keys, 3, args, 6, &r, err);
    }
    if (rc < 0)
        return rc;
    if (r->type != SCHED_REPLY_ARRAY || r->n != 2 || r->elem[0].type != SCHED_REPLY_STR ||
        r->elem[0].len >= 32)
        rc = core_error_set(err, CORE_EIO, "outbox_put: unexpected reply");
    else
        memcpy(id_out, r->elem[0].str, r->elem[0].len + 1);
    sched_reply_free(r);
    return rc;
}

int sched_outbox_take(sched_store *store, int64_t now_ms, int64_t lease_ms, sched_outbox_msg *out,
                      core_error *err)
{
    char k_due[SCHED_KEY_MAX], now[24], lease[24], page[12], pages[12];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && out && lease_ms > 0);
    memset(out, 0, sizeof(*out));
    rc = sched_store_key(store, k_due, err, "outbox:due");
    if (rc == 0)
        rc = core_random_hex(out->token, 16, err);
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
    snprintf(page, sizeof(page), "%d", TAKE_PAGE);
    snprintf(pages, sizeof(pages), "%d", TAKE_PAGES);
    {
        const char *keys[] = {k_due};
        const char *args[] = {sched_store_prefix(store), now, lease, out->token, page, pages};

        rc = sched_store_eval(store, SCHED_SCRIPT_OUTBOX_TAKE, keys, 1, args, 6, &r, err);
    }
    if (rc < 0)
        goto out;
    if (r->type != SCHED_REPLY_ARRAY) {
        out->token[0] = '\0'; /* nothing due (the script answered false) */
        goto out;
    }
    if (r->n != 5 || r->elem[0].type != SCHED_REPLY_STR || r->elem[0].len >= sizeof(out->id) ||
        r->elem[3].type != SCHED_REPLY_INT) {
        rc = core_error_set(err, CORE_EIO, "outbox_take: unexpected reply");
        goto out;
    }
    out->payload = core_strndup(reply_str(&r->elem[2]), r->elem[2].len);
    if (!out->payload) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(out->id, r->elem[0].str, r->elem[0].len + 1);
    snprintf(out->kind, sizeof(out->kind), "%s", reply_str(&r->elem[1]));
    out->attempts = (int)r->elem[3].integer;
    out->created_at = strtoll(reply_str(&r->elem[4]), NULL, 10);
    out->found = true;
out:
    sched_reply_free(r);
    if (rc < 0)
        sched_outbox_msg_free(out);
    return rc;
}

static int msg_key(sched_store *store, const char *id, char out[SCHED_KEY_MAX], core_error *err)
{
    size_t n = strlen(id);

    if (n == 0 || n >= 32 || strspn(id, "0123456789") != n)
        return core_error_set(err, CORE_EINVAL, "outbox: bad message id");
    return sched_store_key(store, out, err, "outbox:%s", id);
}

int sched_outbox_done_result(sched_store *store, const char *id, const char *token,
                             const char *result, int64_t now_ms, core_error *err)
{
    char k_msg[SCHED_KEY_MAX], k_due[SCHED_KEY_MAX], now[24], ttl[24];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && id && token);
    rc = msg_key(store, id, k_msg, err);
    if (rc == 0)
        rc = sched_store_key(store, k_due, err, "outbox:due");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(ttl, sizeof(ttl), "%d", sched_store_dedup_ttl(store));
    {
        const char *keys[] = {k_msg, k_due};
        const char *args[] = {sched_store_prefix(store), id, token, now, ttl, result ? result : ""};

        rc = sched_store_eval(store, SCHED_SCRIPT_OUTBOX_DONE, keys, 2, args, 6, &r, err);
    }
    if (rc < 0)
        return rc;
    if (strcmp(reply_str(r), "missing") == 0)
        rc = core_error_set(err, CORE_ENOTFOUND, "outbox message %s not found", id);
    else if (strcmp(reply_str(r), "conflict") == 0)
        rc = core_error_set(err, CORE_ECONFLICT, "outbox message %s: lease lost", id);
    else if (strcmp(reply_str(r), "ok") != 0 && strcmp(reply_str(r), "again") != 0)
        rc = core_error_set(err, CORE_EIO, "outbox_done: unexpected reply");
    sched_reply_free(r);
    return rc;
}

int sched_outbox_done(sched_store *store, const char *id, const char *token, int64_t now_ms,
                      core_error *err)
{
    return sched_outbox_done_result(store, id, token, NULL, now_ms, err);
}

int sched_outbox_fail(sched_store *store, const char *id, const char *token, const char *error_text,
                      int64_t retry_at_ms, int max_attempts, int64_t now_ms, bool *dead,
                      core_error *err)
{
    char k_msg[SCHED_KEY_MAX], k_due[SCHED_KEY_MAX], k_dead[SCHED_KEY_MAX];
    char now[24], retry[24], max[24], text[SCHED_OUTBOX_ERROR_MAX];
    sched_reply *r = NULL;
    int rc;

    CORE_ASSERT(store && id && token);
    if (dead)
        *dead = false;
    rc = msg_key(store, id, k_msg, err);
    if (rc == 0)
        rc = sched_store_key(store, k_due, err, "outbox:due");
    if (rc == 0)
        rc = sched_store_key(store, k_dead, err, "outbox:dead");
    if (rc < 0)
        return rc;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(retry, sizeof(retry), "%lld", (long long)retry_at_ms);
    snprintf(max, sizeof(max), "%d", max_attempts > 0 ? max_attempts : 0);
    snprintf(text, sizeof(text), "%s", error_text ? error_text : "");
    {
        const char *keys[] = {k_msg, k_due, k_dead};
        const char *args[] = {sched_store_prefix(store), id, token, text, retry, max, now};

        rc = sched_store_eval(store, SCHED_SCRIPT_OUTBOX_FAIL, keys, 3, args, 7, &r, err);
    }
    if (rc < 0)
        return rc;
    if (strcmp(reply_str(r), "missing") == 0)
        rc = core_error_set(err, CORE_ENOTFOUND, "outbox message %s not found", id);
    else if (strcmp(reply_str(r), "conflict") == 0)
        rc = core_error_set(err, CORE_ECONFLICT, "outbox message %s: lease lost", id);
    else if (strcmp(reply_str(r), "dead") == 0 && dead)
        *dead = true;
    else if (strcmp(reply_str(r), "dead") != 0 && strcmp(reply_str(r), "retry") != 0)
        rc = core_error_set(err, CORE_EIO, "outbox_fail: unexpected reply");
    sched_reply_free(r);
    return rc;
}

/* An integer field as JSON: digits only, else 0, so a damaged record cannot break the
 * document. */
static const char *json_int(const sched_reply *r)
{
    const char *s = reply_str(r);

    return s[0] && strspn(s, "0123456789") == strlen(s) ? s : "0";
}

/* An instant kept as epoch ms, as the API writes every time: a quoted ISO 8601 string
 * with milliseconds, or null when the record holds none. */
static int json_time(core_buf *b, const sched_reply *r)
{
    const char *s = reply_str(r);
    char iso[CORE_ISO_MAX];

    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15)
        return core_buf_puts(b, "null");
    core_time_format_iso_ms(strtoll(s, NULL, 10), iso);
    return core_buf_printf(b, "\"%s\"", iso);
}

int sched_outbox_dead_list(sched_store *store, size_t limit, core_buf *json_out, core_error *err)
{
    char k_dead[SCHED_KEY_MAX], stop[24];
    sched_reply *ids = NULL;
    bool first = true;
    int rc;

    CORE_ASSERT(store && json_out);
    if (limit < 1 || limit > 1000)
        return core_error_set(err, CORE_EINVAL, "outbox: limit must be 1..1000");
    rc = sched_store_key(store, k_dead, err, "outbox:dead");
    if (rc < 0)
        return rc;
    snprintf(stop, sizeof(stop), "%zu", limit - 1);
    {
        const char *argv[] = {"ZREVRANGE", k_dead, "0", stop};

        rc = sched_store_command(store, argv, 4, &ids, err);
    }
    if (rc < 0)
        return rc;
    if (core_buf_puts(json_out, "{\"dead\":[") < 0) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; ids->type == SCHED_REPLY_ARRAY && i < ids->n; i++) {
        const char *id = reply_str(&ids->elem[i]);
        char k_msg[SCHED_KEY_MAX];
        sched_reply *f = NULL;
        int w = 0;

        if (msg_key(store, id, k_msg, NULL) < 0)
            continue;
        {
            const char *argv[] = {"HMGET",      k_msg,     "kind",       "attempts",
                                  "created_at", "dead_at", "last_error", "payload"};

            rc = sched_store_command(store, argv, 8, &f, err);
        }
        if (rc < 0)
            goto out;
        /* A record that expired or was removed under us is skipped. */
        if (f->type != SCHED_REPLY_ARRAY || f->n != 6 || f->elem[0].type != SCHED_REPLY_STR) {
            sched_reply_free(f);
            continue;
        }
        w |= core_buf_printf(json_out, "%s{\"id\":\"%s\",\"kind\":\"", first ? "" : ",", id);
        w |= core_buf_json_escape(json_out, f->elem[0].str, f->elem[0].len);
        w |= core_buf_printf(json_out, "\",\"attempts\":%s,\"created_at\":", json_int(&f->elem[1]));
        w |= json_time(json_out, &f->elem[2]);
        w |= core_buf_puts(json_out, ",\"dead_at\":");
        w |= json_time(json_out, &f->elem[3]);
        w |= core_buf_puts(json_out, ",");
        w |= core_buf_puts(json_out, "\"last_error\":\"");
        w |= core_buf_json_escape(json_out, reply_str(&f->elem[4]), f->elem[4].len);
        /* The payload was JSON when it was put; it is embedded as a string so that the
         * list stays valid whatever the record holds. */
        w |= core_buf_puts(json_out, "\",\"payload\":\"");
        w |= core_buf_json_escape(json_out, reply_str(&f->elem[5]), f->elem[5].len);
        w |= core_buf_puts(json_out, "\"}");
        sched_reply_free(f);
        first = false;
        if (w < 0) {
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (core_buf_puts(json_out, "]}") < 0)
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
out:
    sched_reply_free(ids);
    return rc;
}

static int zcard(sched_store *store, const char *name, int64_t *out, core_error *err)
{
    char key[SCHED_KEY_MAX];
    sched_reply *r = NULL;
    int rc = sched_store_key(store, key, err, "outbox:%s", name);

    *out = 0;
    if (rc < 0)
        return rc;
    {
        const char *argv[] = {"ZCARD", key};

        rc = sched_store_command(store, argv, 2, &r, err);
    }
    /* A count that cannot be read is an error, never 0: an empty outbox is news. */
    if (rc == 0 && r->type != SCHED_REPLY_INT)
        rc = core_error_set(err, CORE_EIO, "redis: ZCARD answered no integer");
    else if (rc == 0)
        *out = r->integer;
    sched_reply_free(r);
    return rc;
}

int sched_outbox_counts(sched_store *store, int64_t *pending, int64_t *dead, core_error *err)
{
    int rc = zcard(store, "due", pending, err);

    if (rc == 0)
        rc = zcard(store, "dead", dead, err);
    return rc;
}

/* xorshift32: a caller-owned seed, no shared state, no lock. */
static uint32_t next_random(unsigned *seed)
{
    uint32_t x = *seed ? (uint32_t)*seed : 2463534242u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *seed = x;
    return x;
}

int64_t sched_outbox_backoff_ms(int attempt, unsigned *seed)
{
    int64_t cap = SCHED_OUTBOX_BACKOFF_BASE_MS;

    for (int i = 1; i < attempt && cap < SCHED_OUTBOX_BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > SCHED_OUTBOX_BACKOFF_CAP_MS)
        cap = SCHED_OUTBOX_BACKOFF_CAP_MS;
    return (int64_t)(next_random(seed) % (uint32_t)(cap + 1));
}

int64_t sched_outbox_delay_ms(int attempt, int retry_after_s, unsigned *seed)
{
    int64_t d = sched_outbox_backoff_ms(attempt, seed);

    if (retry_after_s > 0 && (int64_t)retry_after_s * 1000 > d)
        d = (int64_t)retry_after_s * 1000;
    return d;
}
