/* The outbox's delivery workers: threads that take due messages from the scheduler's
 * outbox in Redis and deliver them to GitHub or Slack, each over its own keep-alive
 * connections. Redis holds every bit of state, so workers in several processes share the
 * work and a restarted process delivers what was pending. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "notifier/cards.h"
#include "notifier/checks.h"
#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_outbox.h"

#define DEFAULT_WORKERS 2
#define DEFAULT_MAX_ATTEMPTS 10
#define DEFAULT_LEASE_MS 60000
#define DEFAULT_POLL_MS 1000
#define MAX_WORKERS 64

typedef struct worker {
    notify_outbox *ob;
    notify_http *http;
    unsigned seed;
    pthread_t thread;
    bool started;
} worker;

/* The credentials a delivery uses, swapped whole by notify_outbox_set_credentials: a
 * delivery in flight keeps the set it started with (a reference), the next one takes the
 * new set. */
typedef struct creds {
    atomic_int refs;
    notify_github *gh; /* NULL when GitHub is not configured */
    char *slack_api_url;
    char *slack_token;
    char *public_url; /* check runs' details_url base; NULL when none */
} creds;

struct notify_outbox {
    sched_store *store;
    pthread_mutex_t creds_lock; /* held only to read creds and take a reference */
    creds *creds;
    int max_attempts;
    int lease_ms;
    int poll_ms;
    atomic_bool stop;
    atomic_uint kicks; /* bumped by every kick: a worker that saw it change does not wait */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t delivered, retried, dead;
    size_t n_workers;
    worker *workers;
};

static bool should_abort(void *ctx)
{
    notify_outbox *ob = ctx;

    return atomic_load(&ob->stop);
}

static const char *str_field(json_t *root, const char *name)
{
    return json_string_value(json_object_get(root, name));
}

static void creds_put(creds *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    notify_github_free(c->gh);
    core_wipe_free(c->slack_token);
    free(c->slack_api_url);
    free(c->public_url);
    free(c);
}

static creds *creds_get(notify_outbox *ob)
{
    creds *c;

    pthread_mutex_lock(&ob->creds_lock);
    c = ob->creds;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&ob->creds_lock);
    return c;
}

static char *dup_opt(const char *s, bool *failed);

static int creds_new(const notify_outbox_config *cfg, creds **out, core_error *err)
{
    creds *c = calloc(1, sizeof(*c));
    bool nomem = false;
    int rc = 0;

    *out = NULL;
    if (!c)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    atomic_init(&c->refs, 1);
    c->slack_api_url = dup_opt(cfg->slack_api_url, &nomem);
    c->slack_token = dup_opt(cfg->slack_bot_token, &nomem);
    c->public_url = dup_opt(cfg->public_url, &nomem);
    if (nomem)
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
    if (rc == 0 && cfg->github_api_url && cfg->github_private_key)
        rc = notify_github_new(&c->gh, cfg->github_api_url, cfg->github_app_id,
                               cfg->github_private_key, cfg->github_key_len, err);
    if (rc < 0) {
        creds_put(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int send_github(worker *w, creds *ob, json_t *root, int *retry_after_s, core_error *err)
{
    json_t *inst = json_object_get(root, "installation_id");
    const char *repo = str_field(root, "repo"), *sha = str_field(root, "sha");
    const char *state = str_field(root, "state");
    core_buf body = {0};
    int rc;

    if (!json_is_integer(inst) || !repo || !sha || !state)
        return core_error_set(err, CORE_EINVAL,
                              "github_status: payload needs installation_id, repo, sha, state");
    if (!ob->gh)
        return core_error_set(err, CORE_EUNAVAILABLE, "github app not configured");
    rc = notify_github_status_body(state, str_field(root, "description"),
                                   str_field(root, "target_url"), &body);
    if (rc == CORE_ENOMEM)
        return core_error_set(err, rc, "out of memory");
    if (rc < 0)
        return core_error_set(err, rc, "github_status: bad state or target_url");
    rc = notify_github_post_status(ob->gh, w->http, json_integer_value(inst), repo, sha, body.data,
                                   core_time_now_ms(), retry_after_s, err);
    core_buf_free(&body);
    return rc;
}

static int send_slack(worker *w, creds *ob, json_t *root, bool update,
                      char ts_out[NOTIFY_SLACK_TS_MAX], int *retry_after_s, core_error *err)
{
    const char *channel = str_field(root, "channel"), *ts = str_field(root, "ts");
    const char *text = str_field(root, "text");
    json_t *blocks = json_object_get(root, "blocks");
    char *dumped = NULL;
    const char *blocks_json;
    int rc;

    if (!channel || !text || !blocks || (update && !ts))
        return core_error_set(err, CORE_EINVAL, "%s: payload needs channel,%s blocks, text",
                              update ? "slack_update" : "slack_post", update ? " ts," : "");
    if (!ob->slack_token || !ob->slack_api_url)
        return core_error_set(err, CORE_EUNAVAILABLE, "slack bot token not configured");
    if (json_is_string(blocks)) {
        blocks_json = json_string_value(blocks);
    } else {
        dumped = json_dumps(blocks, JSON_COMPACT);
        if (!dumped)
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        blocks_json = dumped;
    }
    if (update)
        rc = notify_slack_update(w->http, ob->slack_api_url, ob->slack_token, channel, ts,
                                 blocks_json, text, retry_after_s, err);
    else
        rc = notify_slack_post(w->http, ob->slack_api_url, ob->slack_token, channel, blocks_json,
                               text, ts_out, retry_after_s, err);
    free(dumped);
    return rc;
}

/* slack_card {"job_id", "card"} and slack_card_update {"job_id", "cards"}. */
static int send_card(worker *w, creds *ob, json_t *root, bool update, int *retry_after_s,
                     core_error *err)
{
    notify_slack_target slack = {ob->slack_api_url, ob->slack_token};
    const char *job = str_field(root, "job_id");
    json_t *n = json_object_get(root, update ? "cards" : "card");

    if (!job || !json_is_integer(n) || json_integer_value(n) < 0)
        return core_error_set(err, CORE_EINVAL, "%s: payload needs job_id and %s",
                              update ? "slack_card_update" : "slack_card",
                              update ? "cards" : "card");
    if (!ob->slack_token || !ob->slack_api_url)
        return core_error_set(err, CORE_EUNAVAILABLE, "slack bot token not configured");
    if (update)
        return notify_card_update(w->http, &slack, w->ob->store, job, (size_t)json_integer_value(n),
                                  retry_after_s, err);
    return notify_card_post(w->http, &slack, w->ob->store, job, (size_t)json_integer_value(n),
                            retry_after_s, err);
}

/* slack_response {"url", "text"}: a click's ephemeral answer. The URL came from a click
 * and then sat in Redis: notify_slack_respond checks it again. One older than
 * NOTIFY_SLACK_RESPONSE_TTL_MS is dead unsent (Slack would refuse it, and the clicker has
 * moved on). */
static int send_response(worker *w, creds *ob, const sched_outbox_msg *m, json_t *root,
                         int *retry_after_s, core_error *err)
{
    const char *url = str_field(root, "url"), *text = str_field(root, "text");

    if (!url || !text)
        return core_error_set(err, CORE_EINVAL, "slack_response: payload needs url, text");
    if (core_time_now_ms() - m->created_at > NOTIFY_SLACK_RESPONSE_TTL_MS)
        return core_error_set(err, CORE_ENOTFOUND,
                              "slack_response: older than %lld s, not sent any more",
                              NOTIFY_SLACK_RESPONSE_TTL_MS / 1000);
    return notify_slack_respond(w->http, url, ob->slack_api_url, text, retry_after_s, err);
}

/* github_check {"job_id"}: the job's check run, brought up to date (notifier/checks.c). */
static int send_check(worker *w, creds *ob, json_t *root, int *retry_after_s, core_error *err)
{
    const char *job = str_field(root, "job_id");

    if (!job)
        return core_error_set(err, CORE_EINVAL, "github_check: payload needs job_id");
    if (!ob->gh)
        return core_error_set(err, CORE_EUNAVAILABLE, "github app not configured");
    return notify_check_deliver(w->http, ob->gh, w->ob->store, ob->public_url, job,
                                core_time_now_ms(), retry_after_s, err);
}

/* One delivery attempt: 0, or the client's error (with retry_after_s when the peer gave
 * one). ts_out receives a new Slack message's ts. */
static int send_msg(worker *w, const sched_outbox_msg *m, char ts_out[NOTIFY_SLACK_TS_MAX],
                    int *retry_after_s, core_error *err)
{
    json_t *root = json_loads(m->payload, 0, NULL);
    creds *c;
    int rc;

    if (!json_is_object(root)) {
        json_decref(root);
        return core_error_set(err, CORE_EINVAL, "%s: payload is not a json object", m->kind);
    }
    c = creds_get(w->ob);
    if (strcmp(m->kind, "github_status") == 0)
        rc = send_github(w, c, root, retry_after_s, err);
    else if (strcmp(m->kind, "github_check") == 0)
        rc = send_check(w, c, root, retry_after_s, err);
    else if (strcmp(m->kind, "slack_post") == 0)
        rc = send_slack(w, c, root, false, ts_out, retry_after_s, err);
    else if (strcmp(m->kind, "slack_update") == 0)
        rc = send_slack(w, c, root, true, ts_out, retry_after_s, err);
    else if (strcmp(m->kind, "slack_card") == 0)
        rc = send_card(w, c, root, false, retry_after_s, err);
    else if (strcmp(m->kind, "slack_card_update") == 0)
        rc = send_card(w, c, root, true, retry_after_s, err);
    else if (strcmp(m->kind, "slack_response") == 0)
        rc = send_response(w, c, m, root, retry_after_s, err);
    else
        rc = core_error_set(err, CORE_EINVAL, "unknown outbox message kind");
    creds_put(c);
    json_decref(root);
    return rc;
}

static void deliver(worker *w, const sched_outbox_msg *m)
{
    notify_outbox *ob = w->ob;
    char ts[NOTIFY_SLACK_TS_MAX] = "";
    int retry_after_s = 0, max = ob->max_attempts;
    core_error err = {0}, serr = {0};
    int64_t now, delay;
    bool dead = false;
    int rc = send_msg(w, m, ts, &retry_after_s, &err);

    now = core_time_now_ms();
    if (rc == 0) {
        if (sched_outbox_done_result(ob->store, m->id, m->token, ts[0] ? ts : NULL, now, &serr) <
            0) {
            /* Delivered, but the lease ran out and someone else may deliver again: the
             * lease must outlast a delivery (both clients time out in 15 s). */
            CORE_LOG(CORE_LOG_WARN, "outbox_done", "id=%s kind=%s msg=\"%s\"", m->id, m->kind,
                     serr.msg);
            return;
        }
        atomic_fetch_add(&ob->delivered, 1);
        CORE_LOG(CORE_LOG_INFO, "outbox_delivered", "id=%s kind=%s attempt=%d", m->id, m->kind,
                 m->attempts);
        return;
    }
    if (atomic_load(&ob->stop) && rc == CORE_EAGAIN) {
        /* Cut short by stop: hand it back, due now, never dead for this. */
        delay = 0;
        max = 0;
    } else {
        delay = sched_outbox_delay_ms(m->attempts, retry_after_s, &w->seed);
        /* Refused as invalid, or not there: retrying cannot help. */
        if (rc == CORE_EINVAL || rc == CORE_ENOTFOUND)
            max = 1;
        /* A click's answer lives as long as its response_url: Slack's 5 uses, and no
         * retry due after NOTIFY_SLACK_RESPONSE_TTL_MS. */
        if (strcmp(m->kind, "slack_response") == 0) {
            if (max == 0 || max > NOTIFY_SLACK_RESPONSE_ATTEMPTS)
                max = NOTIFY_SLACK_RESPONSE_ATTEMPTS;
            if (now + delay - m->created_at > NOTIFY_SLACK_RESPONSE_TTL_MS)
                max = 1;
        }
    }
    if (sched_outbox_fail(ob->store, m->id, m->token, err.msg, now + delay, max, now, &dead,
                          &serr) < 0) {
        CORE_LOG(CORE_LOG_WARN, "outbox_fail", "id=%s kind=%s msg=\"%s\"", m->id, m->kind,
                 serr.msg);
        return;
    }
    if (dead) {
        atomic_fetch_add(&ob->dead, 1);
        CORE_LOG(CORE_LOG_WARN, "outbox_dead", "id=%s kind=%s attempts=%d err=\"%s\"", m->id,
                 m->kind, m->attempts, err.msg);
    } else {
        atomic_fetch_add(&ob->retried, 1);
        CORE_LOG(CORE_LOG_INFO, "outbox_retry", "id=%s kind=%s attempt=%d in_ms=%lld err=\"%s\"",
                 m->id, m->kind, m->attempts, (long long)delay, err.msg);
    }
}

/* Waits up to poll_ms, or until stop or a kick newer than `seen`. */
static void idle_wait(notify_outbox *ob, unsigned seen)
{
    struct timespec deadline;

    /* Monotonic, like the cv: a wall-clock step never freezes the worker. */
    core_deadline_after(&deadline, ob->poll_ms);
    pthread_mutex_lock(&ob->lock);
    while (!atomic_load(&ob->stop) && atomic_load(&ob->kicks) == seen) {
        if (pthread_cond_timedwait(&ob->wake, &ob->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&ob->lock);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    notify_outbox *ob = w->ob;

    while (!atomic_load(&ob->stop)) {
        unsigned seen = atomic_load(&ob->kicks);
        sched_outbox_msg m;
        core_error err = {0};

        if (sched_outbox_take(ob->store, core_time_now_ms(), ob->lease_ms, &m, &err) < 0) {
            CORE_LOG(CORE_LOG_WARN, "outbox_take", "msg=\"%s\"", err.msg);
            idle_wait(ob, seen);
            continue;
        }
        if (!m.found) {
            idle_wait(ob, seen);
            continue;
        }
        deliver(w, &m);
        sched_outbox_msg_free(&m);
    }
    return NULL;
}

static char *dup_opt(const char *s, bool *failed)
{
    char *d;

    if (!s)
        return NULL;
    d = core_strndup(s, strlen(s));
    if (!d)
        *failed = true;
    return d;
}

int notify_outbox_start(notify_outbox **out, struct sched_store *store,
                        const notify_outbox_config *cfg, core_error *err)
{
    notify_outbox *ob;
    int rc = 0;

    CORE_ASSERT(out && store && cfg);
    *out = NULL;
    ob = calloc(1, sizeof(*ob));
    if (!ob)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    ob->store = store;
    ob->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : DEFAULT_MAX_ATTEMPTS;
    ob->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : DEFAULT_LEASE_MS;
    ob->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : DEFAULT_POLL_MS;
    ob->n_workers = cfg->n_workers ? cfg->n_workers : DEFAULT_WORKERS;
    if (ob->n_workers > MAX_WORKERS)
        ob->n_workers = MAX_WORKERS;
    pthread_mutex_init(&ob->lock, NULL);
    pthread_mutex_init(&ob->creds_lock, NULL);
    core_cond_init_monotonic(&ob->wake);
    ob->workers = calloc(ob->n_workers, sizeof(worker));
    if (!ob->workers) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    rc = creds_new(cfg, &ob->creds, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < ob->n_workers; i++) {
        worker *w = &ob->workers[i];

        w->ob = ob;
        w->seed = (unsigned)core_time_mono_us() ^ (unsigned)(i * 2654435761u);
        rc = notify_http_new(&w->http, err);
        if (rc < 0)
            goto out;
        notify_http_set_abort(w->http, should_abort, ob);
    }
    for (size_t i = 0; i < ob->n_workers; i++) {
        if (pthread_create(&ob->workers[i].thread, NULL, worker_main, &ob->workers[i]) != 0) {
            rc = core_error_set(err, CORE_EIO, "cannot start an outbox worker thread");
            goto out;
        }
        ob->workers[i].started = true;
    }
out:
    if (rc < 0) {
        notify_outbox_stop(ob);
        return rc;
    }
    *out = ob;
    return 0;
}

void notify_outbox_kick(notify_outbox *ob)
{
    atomic_fetch_add(&ob->kicks, 1);
    pthread_mutex_lock(&ob->lock);
    pthread_cond_broadcast(&ob->wake);
    pthread_mutex_unlock(&ob->lock);
}

int notify_outbox_set_credentials(notify_outbox *ob, const notify_outbox_config *cfg,
                                  core_error *err)
{
    creds *c = NULL, *old;
    int rc = creds_new(cfg, &c, err);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&ob->creds_lock);
    old = ob->creds;
    ob->creds = c;
    pthread_mutex_unlock(&ob->creds_lock);
    creds_put(old);
    return 0;
}

void notify_outbox_stats_get(notify_outbox *ob, notify_outbox_stats *out)
{
    out->delivered = atomic_load(&ob->delivered);
    out->retried = atomic_load(&ob->retried);
    out->dead = atomic_load(&ob->dead);
}

void notify_outbox_stop(notify_outbox *ob)
{
    if (!ob)
        return;
    atomic_store(&ob->stop, true);
    pthread_mutex_lock(&ob->lock);
    pthread_cond_broadcast(&ob->wake);
    pthread_mutex_unlock(&ob->lock);
    for (size_t i = 0; ob->workers && i < ob->n_workers; i++) {
        if (ob->workers[i].started)
            pthread_join(ob->workers[i].thread, NULL);
        notify_http_free(ob->workers[i].http);
    }
    creds_put(ob->creds);
    free(ob->workers);
    pthread_mutex_destroy(&ob->lock);
    pthread_mutex_destroy(&ob->creds_lock);
    pthread_cond_destroy(&ob->wake);
    free(ob);
}
