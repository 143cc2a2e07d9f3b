/* The runner API: POST /api/v1/runners/claim (a long poll), and heartbeat and complete
 * for a leased job. A claim that finds nothing does not hold a server thread: its
 * connection is suspended and parked here, and resumed the moment the Redis watch says
 * a job became claimable in its region (in this process or any other), or at its
 * deadline; the handler then runs again and claims or answers 204.
 *
 * A ready job wakes one parked claim of its region, not all of them: the oldest (claims
 * park at the tail). A wake that cannot be used passes on to the next parked claim of
 * the region, so a job is never stranded behind a waiter that went away: when the woken
 * claim's client has gone, when its claim fails, or when its claim found nothing but
 * passed over a job for want of a label (another runner may have it). A woken claim
 * that found the queue empty drops the wake: another runner, maybe in another process,
 * took the job. Each process hears every wake (Redis pub/sub) and wakes one of its own,
 * so one ready job costs at most one claim per process plus the passes. A parked claim
 * still claims once more at its deadline, whatever the wakes did.
 *
 * A parked claim cannot miss a wake-up: every wake bumps a generation counter, the
 * handler notes the generation before it tries to claim, and parking with an older
 * generation resumes at once.
 *
 * A claim whose client has gone is never granted. A suspended connection is outside
 * libmicrohttpd's event loop, so its closing goes unnoticed there: the timer looks at the
 * parked sockets every tick and ends the claims whose client closed, and the handler looks
 * again right before it claims and right after a grant. A grant whose answer still does
 * not get out whole (the request ends without COMPLETED_OK) is given back at once, the
 * attempt not counted (sched_job_release), instead of waiting out the lease. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_store.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

#define WAIT_MAX_S 30
#define TICK_MS 50
#define BODY_FIELD_MAX 512

typedef struct waiter {
    const void *conn;
    bool gone; /* its client closed the connection while it was parked */
    char region[128];
    int64_t deadline_ms; /* monotonic */
    uint64_t generation;
    bool woken;      /* resumed by a wake it must use or pass on */
    unsigned passes; /* how many more parked claims the wake may still be passed to */
    bool parked;     /* in the registry's list */
    struct waiter *prev, *next;
} waiter;

struct wh_runners {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    waiter *first, *last; /* oldest first: a claim parks at the tail */
    uint64_t generation;
    size_t n_parked;
    uint64_t woken; /* claims resumed by a wake (passes included) */
    bool draining;
    bool stop;
    pthread_t timer;
    /* The timer's scratch space for looking at the parked sockets. */
    const void **conns;
    bool *gone;
    size_t cap;
};

/* A claim's state across suspensions. */
typedef struct claim_state {
    char runner[BODY_FIELD_MAX];
    char token_id[24]; /* the position of the runner token in the list, from 1 */
    char region[128];
    char labels[BODY_FIELD_MAX];
    int64_t deadline_ms; /* monotonic */
    waiter w;
    wh_runners *owner;
    sched_store *store;
    sched_claim grant; /* grant.found once an answer carries a lease */
} claim_state;

/* ---- tokens ------------------------------------------------------------------------ */

int wh_runner_tokens_parse(const char *list, wh_runner_token **out, size_t *n, core_error *err)
{
    char **items = NULL;
    size_t count = 0;
    wh_runner_token *t;
    int rc = wh_secrets_split(list, &items, &count, err);

    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    t = calloc(count, sizeof(*t));
    if (!t) {
        wh_secrets_free(items, count);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        char *eq = strchr(items[i], '=');

        if (eq) {
            *eq = '\0';
            /* "tok=" would be a token with no region, which must not read as "every
             * region" (a token without '=' says that); an empty name between '|' is a
             * typo too. The message names the entry, never the token. */
            if (rc == 0 &&
                (!eq[1] || eq[1] == '|' || eq[strlen(eq + 1)] == '|' || strstr(eq + 1, "||")))
                rc = core_error_set(err, CORE_EINVAL,
                                    "entry %zu has an empty region list or an empty region "
                                    "name after '=' (leave out '=' to allow every region)",
                                    i + 1);
            for (char *r = eq + 1; *r && rc == 0;) {
                size_t len = strcspn(r, "|");
                char **grown = realloc(t[i].regions, (t[i].n_regions + 1) * sizeof(char *));

                if (!grown) {
                    rc = core_error_set(err, CORE_ENOMEM, "out of memory");
                    break;
                }
                t[i].regions = grown;
                t[i].regions[t[i].n_regions++] = core_strndup(r, len);
                r += len;
                if (*r == '|')
                    r++;
            }
        }
        if (!*items[i] && rc == 0)
            rc = core_error_set(err, CORE_EINVAL, "entry %zu has an empty token", i + 1);
        t[i].token = items[i];
        items[i] = NULL;
    }
    free(items);
    if (rc < 0) {
        wh_runner_tokens_free(t, count);
        return rc;
    }
    *out = t;
    *n = count;
    return 0;
}

void wh_runner_tokens_free(wh_runner_token *tokens, size_t n)
{
    for (size_t i = 0; tokens && i < n; i++) {
        core_wipe_free(tokens[i].token);
        for (size_t j = 0; j < tokens[i].n_regions; j++)
            free(tokens[i].regions[j]);
        free(tokens[i].regions);
    }
    free(tokens);
}

/* The token the request carries, compared in constant time against each; NULL if none.
 * Its position in the list (from 1) is its id in Redis (idle runners are counted per
 * token): the token itself is never stored. */
static const wh_runner_token *runner_token(const wh_request *req)
{
    const char *auth = wh_request_header(req, "Authorization");
    const wh_runner_token *found = NULL;
    size_t len;

    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    len = strlen(auth);
    for (size_t i = 0; i < req->rt->n_runner_tokens; i++) {
        const wh_runner_token *t = &req->rt->runner_tokens[i];

        if (strlen(t->token) == len && core_ct_equal(auth, t->token, len) && !found)
            found = t;
    }
    return found;
}

static bool token_allows(const wh_runner_token *t, const char *region)
{
    if (t->n_regions == 0)
        return true;
    for (size_t i = 0; i < t->n_regions; i++) {
        if (strcmp(t->regions[i], region) == 0)
            return true;
    }
    return false;
}

/* 401 or 403 unless the token may act in region (NULL: any region). */
static bool authorized(const wh_request *req, wh_response *resp, const char *region)
{
    const wh_runner_token *t = runner_token(req);

    if (!t) {
        wh_response_error(resp, 401, "unauthorized",
                          req->rt->n_runner_tokens
                              ? "a runner token is required (Authorization: Bearer TOKEN)"
                              : "no runner tokens are configured on this server");
        return false;
    }
    if (region && !token_allows(t, region)) {
        wh_response_error(resp, 403, "forbidden", "this token may not act in region %s", region);
        return false;
    }
    return true;
}

/* ---- the long-poll registry ------------------------------------------------------------- */

/* The registry is a doubly linked list, so a claim parks at the tail and leaves from
 * anywhere in constant time, however many wait. Caller holds mu. */
static void park_last(wh_runners *r, waiter *w)
{
    w->prev = r->last;
    w->next = NULL;
    if (r->last)
        r->last->next = w;
    else
        r->first = w;
    r->last = w;
    w->parked = true;
    r->n_parked++;
}

/* Takes w out of the registry if it is there. Caller holds mu. */
static void unlink_waiter(wh_runners *r, waiter *w)
{
    if (!w->parked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        r->first = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        r->last = w->prev;
    w->prev = w->next = NULL;
    w->parked = false;
    r->n_parked--;
}

/* Takes w out of the registry and resumes its connection. Caller holds mu. */
static void unpark(wh_runners *r, waiter *w)
{
    unlink_waiter(r, w);
    wh_connection_resume(w->conn);
}

/* Resumes every parked claim due: all when draining, every one of region when region is
 * "" (a wake for every region), and those past their deadline. Caller holds mu. */
static void resume_all_due(wh_runners *r, const char *region, int64_t now_mono)
{
    for (waiter *w = r->first, *next; w; w = next) {
        next = w->next;
        if (r->draining || (region && !*region) || w->deadline_ms <= now_mono)
            unpark(r, w);
    }
}

/* Resumes the oldest parked claim of region, carrying the wake, which it may pass to at
 * most `passes` more claims. Caller holds mu. */
static void resume_one(wh_runners *r, const char *region, unsigned passes)
{
    for (waiter *w = r->first; w; w = w->next) {
        if (!w->gone && strcmp(w->region, region) == 0) {
            w->woken = true;
            w->passes = passes;
            r->woken++;
            unpark(r, w);
            return;
        }
    }
}

static unsigned parked_in(const wh_runners *r, const char *region)
{
    unsigned n = 0;

    for (const waiter *w = r->first; w; w = w->next)
        n += strcmp(w->region, region) == 0;
    return n;
}

void wh_runners_wake(const char *region, void *ctx)
{
    wh_runners *r = ctx;

    pthread_mutex_lock(&r->mu);
    r->generation++;
    if (region && *region) {
        unsigned n = parked_in(r, region);

        /* Passes: enough for every claim parked now to try once, and no more. */
        if (n > 0)
            resume_one(r, region, n - 1);
    }
    resume_all_due(r, region, core_time_mono_ms());
    pthread_mutex_unlock(&r->mu);
}

/* A woken claim that could not use its wake hands it to the next parked claim of its
 * region, if it has passes left. */
static void pass_on(wh_runners *r, waiter *w)
{
    pthread_mutex_lock(&r->mu);
    if (w->woken && w->passes > 0)
        resume_one(r, w->region, w->passes - 1);
    w->woken = false;
    w->passes = 0;
    pthread_mutex_unlock(&r->mu);
}

static void drop_wake(wh_runners *r, waiter *w)
{
    pthread_mutex_lock(&r->mu);
    w->woken = false;
    w->passes = 0;
    pthread_mutex_unlock(&r->mu);
}

void wh_runners_stats(wh_runners *r, size_t *parked, uint64_t *woken)
{
    pthread_mutex_lock(&r->mu);
    *parked = r->n_parked;
    *woken = r->woken;
    pthread_mutex_unlock(&r->mu);
}

/* Ends the parked claims whose client has closed its connection: they leave the registry
 * marked gone and are resumed, so that the handler hangs up instead of claiming. */
static void resume_gone(wh_runners *r)
{
    size_t n = r->n_parked, i = 0;

    if (n == 0)
        return;
    if (n > r->cap) {
        const void **conns = realloc(r->conns, n * sizeof(*conns));
        bool *gone;

        if (conns)
            r->conns = conns;
        gone = conns ? realloc(r->gone, n * sizeof(*gone)) : NULL;
        if (!gone)
            return; /* looked at again next tick; the handler looks before claiming too */
        r->gone = gone;
        r->cap = n;
    }
    for (waiter *w = r->first; w; w = w->next)
        r->conns[i++] = w->conn;
    if (wh_connections_gone(r->conns, n, r->gone) == 0)
        return;
    i = 0;
    for (waiter *w = r->first, *next; w; w = next, i++) {
        next = w->next;
        if (r->gone[i]) {
            w->gone = true;
            unpark(r, w);
        }
    }
}

static void *timer_main(void *arg)
{
    wh_runners *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec ts;

        /* Monotonic (the cv is too): a wall-clock step must not freeze long-poll expiry. */
        core_deadline_after(&ts, TICK_MS);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        resume_gone(r);
        resume_all_due(r, NULL, core_time_mono_ms());
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int wh_runners_new(wh_runners **out, core_error *err)
{
    wh_runners *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (!r)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    if (core_cond_init_monotonic(&r->cv) < 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return core_error_set(err, CORE_ENOMEM, "cannot create the long-poll condition");
    }
    if (pthread_create(&r->timer, NULL, timer_main, r) != 0) {
        free(r);
        return core_error_set(err, CORE_EIO, "cannot start the long-poll timer");
    }
    *out = r;
    return 0;
}

void wh_runners_drain(wh_runners *r)
{
    pthread_mutex_lock(&r->mu);
    r->draining = true;
    resume_all_due(r, NULL, core_time_mono_ms());
    pthread_mutex_unlock(&r->mu);
}

void wh_runners_free(wh_runners *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->timer, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->conns);
    free(r->gone);
    free(r);
}

static uint64_t generation(wh_runners *r)
{
    uint64_t g;

    pthread_mutex_lock(&r->mu);
    g = r->generation;
    pthread_mutex_unlock(&r->mu);
    return g;
}

/* Called by the server right after it suspended the connection. */
static void park(void *state, const void *conn)
{
    claim_state *cs = state;
    wh_runners *r = cs->owner;

    pthread_mutex_lock(&r->mu);
    cs->w.conn = conn;
    snprintf(cs->w.region, sizeof(cs->w.region), "%s", cs->region);
    cs->w.deadline_ms = cs->deadline_ms;
    if (r->draining || r->generation != cs->w.generation) {
        wh_connection_resume(conn);
    } else {
        /* At the tail: a wake goes to the claim that has waited longest. */
        park_last(r, &cs->w);
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- request bodies ------------------------------------------------------------------- */

static json_t *body_object(const wh_request *req, wh_response *resp)
{
    json_error_t jerr;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);

    if (!root || !json_is_object(root)) {
        wh_response_error(resp, 400, "invalid_request", "body must be a JSON object%s%s",
                          root ? "" : ": ", root ? "" : jerr.text);
        json_decref(root);
        return NULL;
    }
    return root;
}

static bool copy_string(json_t *obj, const char *key, bool required, char *out, size_t len,
                        wh_response *resp)
{
    json_t *v = json_object_get(obj, key);

    out[0] = '\0';
    if (!v && !required)
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= len) {
        wh_response_error(resp, 400, "invalid_request", "%s: %s", key,
                          v ? "must be a non-empty string of reasonable length" : "missing");
        return false;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool copy_labels(json_t *obj, char *out, size_t len, wh_response *resp)
{
    json_t *v = json_object_get(obj, "labels"), *l;
    size_t i, n = 0;

    out[0] = '\0';
    if (!v)
        return true;
    if (!json_is_array(v)) {
        wh_response_error(resp, 400, "invalid_request", "labels: must be an array of strings");
        return false;
    }
    json_array_foreach(v, i, l)
    {
        size_t ll = json_string_length(l);

        if (!json_is_string(l) || ll == 0 || strchr(json_string_value(l), ',') ||
            n + ll + 2 > len) {
            wh_response_error(resp, 400, "invalid_request",
                              "labels[%zu]: must be a non-empty string without commas", i);
            return false;
        }
        if (n)
            out[n++] = ',';
        memcpy(out + n, json_string_value(l), ll + 1);
        n += ll;
    }
    return true;
}

static void store_failure(wh_response *resp, int rc, const core_error *err)
{
    if (rc == CORE_EUNAVAILABLE) {
        strcpy(resp->retry_after, "2");
        wh_response_error(resp, 503, "redis_unavailable", "%s", err->msg);
    } else if (rc == CORE_EINVAL) {
        wh_response_error(resp, 400, "invalid_request", "%s", err->msg);
    } else if (rc == CORE_ECONFLICT) {
        wh_response_error(resp, 409, "lease_lost", "%s", err->msg);
    } else if (rc == CORE_ENOTFOUND) {
        wh_response_error(resp, 404, "not_found", "%s", err->msg);
    } else if (rc == CORE_EAUTH) {
        wh_response_error(resp, 403, "forbidden", "%s", err->msg);
    } else {
        wh_response_error(resp, 500, "internal", "%s", err->msg);
    }
}

/* ---- claim ------------------------------------------------------------------------------ */

static bool draining(wh_runners *r)
{
    bool d;

    pthread_mutex_lock(&r->mu);
    d = r->draining;
    pthread_mutex_unlock(&r->mu);
    return d;
}

/* Gives a granted lease back (the runner never got it); logs either way. */
static void give_back(claim_state *cs, const char *why)
{
    core_error err = {0};
    char state[32];
    int rc =
        sched_job_release(cs->store, cs->grant.job_id, cs->grant.lease_id, cs->grant.fencing_token,
                          cs->runner, why, core_time_now_ms(), state, &err);

    if (rc < 0)
        CORE_LOG(CORE_LOG_WARN, "claim_release_failed",
                 "job=%s runner=%.64s err=\"%s\" msg=\"the lease runs out instead\"",
                 cs->grant.job_id, cs->runner, err.msg);
    else
        CORE_LOG(CORE_LOG_INFO, "claim_released", "job=%s runner=%.64s state=%s why=\"%s\"",
                 cs->grant.job_id, cs->runner, state, why);
    cs->grant.found = false;
}

/* True when the client of this request has closed its connection. */
static bool client_gone(const wh_request *req)
{
    const void *conn = req->conn;
    bool gone = false;

    wh_connections_gone(&conn, 1, &gone);
    return gone;
}

/* A finished claim leaves the registry if it is still parked there (a connection that
 * ends while parked must not leave a dangling waiter), and gives back a lease whose
 * answer did not get out whole. */
static void claim_state_free(void *p, bool answered)
{
    claim_state *cs = p;

    if (cs && cs->grant.found && !answered)
        give_back(cs, "its answer did not reach the runner");
    if (cs && cs->owner) {
        pthread_mutex_lock(&cs->owner->mu);
        unlink_waiter(cs->owner, &cs->w);
        pthread_mutex_unlock(&cs->owner->mu);
        /* Ended while carrying a wake (say the server shut it): the next claim gets it. */
        pass_on(cs->owner, &cs->w);
    }
    free(cs);
}

/* Parses and checks the claim body on the first call: a new state, or NULL and an
 * answer in resp. */
static claim_state *claim_begin(const wh_request *req, wh_response *resp)
{
    json_t *root, *wait;
    claim_state *cs;
    json_int_t seconds = WAIT_MAX_S;

    /* The token before the body: an unknown caller learns nothing from what it sent
     * (region names, say); the server checks it before reading the body too. */
    if (!authorized(req, resp, NULL))
        return NULL;
    root = body_object(req, resp);
    if (!root)
        return NULL;
    cs = calloc(1, sizeof(*cs));
    if (!cs) {
        json_decref(root);
        wh_response_error(resp, 500, "internal", "out of memory");
        return NULL;
    }
    wait = json_object_get(root, "wait_seconds");
    if (wait && (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
                 json_integer_value(wait) > WAIT_MAX_S)) {
        wh_response_error(resp, 400, "invalid_request",
                          "wait_seconds: must be a whole number from 0 to %d", WAIT_MAX_S);
        goto fail;
    }
    if (wait)
        seconds = json_integer_value(wait);
    if (!copy_string(root, "runner", true, cs->runner, sizeof(cs->runner), resp) ||
        !copy_string(root, "region", true, cs->region, sizeof(cs->region), resp) ||
        !copy_labels(root, cs->labels, sizeof(cs->labels), resp))
        goto fail;
    if (!policy_region_find(req->rt->cfg, cs->region)) {
        wh_response_error(resp, 400, "invalid_request", "region: no region named \"%.60s\"",
                          cs->region);
        goto fail;
    }
    if (!authorized(req, resp, cs->region))
        goto fail;
    snprintf(cs->token_id, sizeof(cs->token_id), "%zu",
             (size_t)(runner_token(req) - req->rt->runner_tokens) + 1);
    cs->deadline_ms = core_time_mono_ms() + seconds * 1000;
    cs->owner = req->app->runners;
    cs->store = req->app->store;
    json_decref(root);
    return cs;
fail:
    json_decref(root);
    free(cs);
    return NULL;
}

/* The job document is already in resp->body after "{\"job\":" (the claim wrote it). */
static void answer_claim(const wh_request *req, wh_response *resp, const sched_claim *c,
                         int lease_seconds)
{
    char expires[CORE_ISO_MAX];
    core_buf *b = &resp->body;

    core_time_format_iso_ms(c->lease_expires, expires);
    core_buf_printf(b,
                    ",\"lease_id\":\"%s\",\"lease_expires\":\"%s\",\"lease_seconds\":%d,"
                    "\"fencing_token\":%lld}",
                    c->lease_id, expires, lease_seconds, (long long)c->fencing_token);
    resp->status = 200;
    CORE_LOG(CORE_LOG_INFO, "job_claimed", "job=%s runner=%.64s fencing_token=%lld attempt=%d",
             c->job_id, ((claim_state *)*req->state)->runner, (long long)c->fencing_token,
             c->attempt);
}

void wh_runner_claim(const wh_request *req, wh_response *resp)
{
    claim_state *cs = *req->state;
    sched_claim c;
    core_error err = {0};
    int lease_seconds = req->rt->cfg->runners.lease_seconds;
    int rc;

    if (!cs) {
        cs = claim_begin(req, resp);
        if (!cs)
            return;
        *req->state = cs;
        *req->state_free = claim_state_free;
    }
    /* Gone while parked (the timer saw it), or in the moment since: never grant. */
    if (cs->w.gone || client_gone(req)) {
        CORE_LOG(CORE_LOG_INFO, "claim_abandoned", "runner=%.64s region=%s reason=%s", cs->runner,
                 cs->region, "connection_closed");
        pass_on(cs->owner, &cs->w);
        resp->hang_up = true;
        return;
    }
    cs->w.generation = generation(cs->owner);
    /* The claim's answer is built in place: the script hands back the job's document
     * with the grant, so a claim is one round trip. */
    core_buf_reset(&resp->body);
    core_buf_puts(&resp->body, "{\"job\":");
    rc = sched_job_claim(req->app->store, cs->region, cs->runner, cs->token_id, cs->labels,
                         lease_seconds, core_time_now_ms(), &resp->body, &c, &err);
    if (rc < 0) {
        pass_on(cs->owner, &cs->w);
        if (c.found) {
            /* Granted, but the answer could not be built: nobody will use this lease. */
            cs->grant = c;
            give_back(cs, "the claim's answer could not be built");
        }
        store_failure(resp, rc, &err);
        return;
    }
    if (!c.found && c.passed_over > 0)
        pass_on(cs->owner, &cs->w); /* a job left for other labels: maybe another's */
    else
        drop_wake(cs->owner, &cs->w); /* used, or the queue was empty: someone took it */
    if (c.found) {
        cs->grant = c;
        /* The client may have left while the script ran: then nobody will run the job. */
        if (client_gone(req)) {
            give_back(cs, "its connection closed before the answer");
            resp->hang_up = true;
            return;
        }
        answer_claim(req, resp, &c, lease_seconds);
        return;
    }
    core_buf_reset(&resp->body);
    if (core_time_mono_ms() >= cs->deadline_ms || draining(cs->owner)) {
        resp->status = 204;
        core_buf_reset(&resp->body);
        return;
    }
    resp->suspend = true;
    resp->on_suspend = park;
}

/* ---- heartbeat and complete ------------------------------------------------------------- */

/* The regions token t may act in, joined by '|' for the lease scripts, which check the
 * job's region themselves (no round trip before the call); NULL for every region, or
 * when out of memory (then *oom is set). The caller frees it. */
static char *token_regions(const wh_runner_token *t, bool *oom)
{
    size_t n = 0;
    char *s, *p;

    *oom = false;
    if (t->n_regions == 0)
        return NULL;
    for (size_t i = 0; i < t->n_regions; i++)
        n += strlen(t->regions[i]) + 1;
    s = p = malloc(n);
    if (!s) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < t->n_regions; i++) {
        size_t len = strlen(t->regions[i]);

        if (i)
            *p++ = '|';
        memcpy(p, t->regions[i], len);
        p += len;
    }
    *p = '\0';
    return s;
}

/* The token, and the lease id from the body. With regions NULL the job's region is checked
 * here (one HGET: release, which is rare); otherwise *regions receives the token's regions
 * (token_regions) for the script to check; the caller frees it. */
static bool lease_request(const wh_request *req, wh_response *resp, const char *id, json_t **root,
                          char lease[BODY_FIELD_MAX], char **regions)
{
    char region[128];
    core_error err = {0};
    int rc;

    if (!authorized(req, resp, NULL))
        return false;
    if (regions) {
        bool oom;

        *regions = token_regions(runner_token(req), &oom);
        if (oom) {
            wh_response_error(resp, 500, "internal", "out of memory");
            return false;
        }
    } else {
        rc = sched_job_field(req->app->store, id, "region", region, sizeof(region), &err);
        if (rc < 0) {
            store_failure(resp, rc, &err);
            return false;
        }
        if (!authorized(req, resp, region))
            return false;
    }
    *root = body_object(req, resp);
    if (*root && copy_string(*root, "lease_id", true, lease, BODY_FIELD_MAX, resp))
        return true;
    json_decref(*root);
    *root = NULL;
    if (regions) {
        free(*regions);
        *regions = NULL;
    }
    return false;
}

void wh_runner_heartbeat(const wh_request *req, wh_response *resp, const char *id)
{
    char lease[BODY_FIELD_MAX], expires[CORE_ISO_MAX];
    json_t *root = NULL;
    core_error err = {0};
    bool cancel = false;
    int64_t until = 0;
    int rc;

    char *regions = NULL;

    if (!lease_request(req, resp, id, &root, lease, &regions))
        return;
    json_decref(root);
    rc = sched_job_heartbeat(req->app->store, id, lease, regions,
                             req->rt->cfg->runners.lease_seconds, core_time_now_ms(), &cancel,
                             &until, &err);
    free(regions);
    if (rc < 0) {
        store_failure(resp, rc, &err);
        return;
    }
    if (cancel) {
        wh_response_json(resp, 200, "{\"cancel\":true}");
        return;
    }
    core_time_format_iso_ms(until, expires);
    wh_response_json(resp, 200, "{\"cancel\":false,\"lease_expires\":\"%s\"}", expires);
}

void wh_runner_complete(const wh_request *req, wh_response *resp, const char *id)
{
    char lease[BODY_FIELD_MAX], status[16], runner[128], state[32];
    char *regions = NULL;
    json_t *root = NULL;
    core_error err = {0};
    int rc;

    if (!lease_request(req, resp, id, &root, lease, &regions))
        return;
    rc = copy_string(root, "status", true, status, sizeof(status), resp) ? 0 : -1;
    json_decref(root);
    if (rc == 0 && strcmp(status, "success") != 0 && strcmp(status, "failure") != 0) {
        wh_response_error(resp, 400, "invalid_request",
                          "status: must be \"success\" or \"failure\"");
        rc = -1;
    }
    if (rc < 0) {
        free(regions);
        return;
    }
    /* The script names the job's own runner in the history (runner NULL) and checks the
     * token's regions first: one round trip. */
    rc = sched_job_complete(req->app->store, id, lease, regions, strcmp(status, "success") == 0,
                            NULL, core_time_now_ms(), state, runner, sizeof(runner), &err);
    free(regions);
    if (rc == CORE_ECONFLICT && strncmp(err.msg, "already completed", 17) == 0) {
        /* A second report of the same lease (docs/runner.md): 409, saying it was done. */
        wh_response_error(resp, 409, "already_completed", "%s", err.msg);
        return;
    }
    if (rc < 0) {
        store_failure(resp, rc, &err);
        return;
    }
    CORE_LOG(CORE_LOG_INFO, "job_completed", "job=%s state=%s runner=%.64s", id, state, runner);
    wh_response_json(resp, 200, "{\"state\":\"%s\"}", state);
}

/* POST /api/v1/jobs/{id}/release, {"lease_id","fencing_token"}: a runner gives back a job
 * it was granted but did not start (it was told to stop right then). Only the current
 * lease with its own fencing token can; the job is back in its queue at once and the
 * attempt is not counted. */
void wh_runner_release(const wh_request *req, wh_response *resp, const char *id)
{
    char lease[BODY_FIELD_MAX], runner[128], state[32];
    json_t *root = NULL, *fence;
    json_int_t token;
    core_error err = {0};
    int rc;

    if (!lease_request(req, resp, id, &root, lease, NULL))
        return;
    fence = json_object_get(root, "fencing_token");
    token = json_is_integer(fence) ? json_integer_value(fence) : 0;
    json_decref(root);
    if (token <= 0) {
        wh_response_error(resp, 400, "invalid_request",
                          "fencing_token: must be the claim's fencing token (a positive integer)");
        return;
    }
    if (sched_job_field(req->app->store, id, "runner", runner, sizeof(runner), &err) < 0 ||
        !*runner)
        snprintf(runner, sizeof(runner), "unknown");
    rc = sched_job_release(req->app->store, id, lease, (int64_t)token, runner,
                           "given back by the runner, which did not start it", core_time_now_ms(),
                           state, &err);
    if (rc < 0) {
        store_failure(resp, rc, &err);
        return;
    }
    CORE_LOG(CORE_LOG_INFO, "job_released", "job=%s state=%s runner=%.64s", id, state, runner);
    wh_response_json(resp, 200, "{\"state\":\"%s\"}", state);
}
