/* The HTTP server: libmicrohttpd's internal thread pool on epoll, one port. This is the
 * only file that includes libmicrohttpd. Rules of that library kept here: a response is
 * destroyed right after it is queued; the access handler is called once for the headers,
 * then once per body chunk, then once more with no data, and only then do we route;
 * a response queued before the body is read makes MHD close the connection after it,
 * which is what a 413 wants. */
#include "webhooks/webhooks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/scheduler.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

struct wh_server {
    struct MHD_Daemon *daemon;
    wh_app app;
    atomic_int in_flight;
    int port;
};

/* Per-request state, from the first call of the access handler to completion. */
typedef struct request_ctx {
    core_buf body;
    size_t max_body;
    bool too_big;
    int64_t started_us;
    void *handler_state; /* a long-polling handler's state across suspensions */
    void (*handler_state_free)(void *state);
} request_ctx;

void wh_connection_resume(const void *conn)
{
    MHD_resume_connection((struct MHD_Connection *)conn);
}

const char *wh_request_header(const wh_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND,
                                       name);
}

const char *wh_request_query(const wh_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
                                       MHD_GET_ARGUMENT_KIND, name);
}

typedef struct form_field {
    const char *name;
    char *out;
    size_t cap, len;
    bool found, done;
    int rc; /* CORE_ETOOBIG or CORE_EINVAL once the value cannot be kept */
} form_field;

/* The post processor hands a value over in pieces (off is where each goes). */
static enum MHD_Result form_piece(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    form_field *f = cls;

    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    if (f->done || strcmp(key, f->name) != 0) {
        f->done |= f->found; /* the first occurrence is complete */
        return MHD_YES;
    }
    if (off == 0 && f->found) {
        f->done = true; /* a second occurrence: the first wins */
        return MHD_YES;
    }
    f->found = true;
    if (memchr(data, '\0', size))
        f->rc = CORE_EINVAL;
    else if (off != f->len || f->len + size >= f->cap)
        f->rc = CORE_ETOOBIG;
    if (f->rc < 0)
        return MHD_NO;
    memcpy(f->out + f->len, data, size);
    f->len += size;
    f->out[f->len] = '\0';
    return MHD_YES;
}

int wh_request_form_value(const wh_request *req, const char *name, char *out, size_t cap,
                          size_t *out_len, core_error *err)
{
    form_field f = {.name = name, .out = out, .cap = cap};
    struct MHD_PostProcessor *pp;
    enum MHD_Result ok;

    CORE_ASSERT(cap > 0);
    out[0] = '\0';
    *out_len = 0;
    pp = MHD_create_post_processor((struct MHD_Connection *)req->conn, 16 * 1024, form_piece, &f);
    if (!pp)
        return core_error_set(err, CORE_EINVAL,
                              "Content-Type: expected application/x-www-form-urlencoded");
    ok = MHD_post_process(pp, req->body, req->body_len);
    /* Destroying it flushes the last value, which has no '&' after it. */
    if (MHD_destroy_post_processor(pp) != MHD_YES && f.rc == 0)
        ok = MHD_NO;
    if (f.rc == CORE_ETOOBIG)
        return core_error_set(err, f.rc, "%s: longer than %zu bytes", name, cap - 1);
    if (f.rc == CORE_EINVAL)
        return core_error_set(err, f.rc, "%s: holds a NUL byte", name);
    if (!f.found)
        return core_error_set(err, ok == MHD_YES ? CORE_ENOTFOUND : CORE_EINVAL,
                              ok == MHD_YES ? "%s: missing from the form"
                                            : "%s: the form is malformed",
                              name);
    *out_len = f.len;
    return 0;
}

void wh_response_error(wh_response *resp, int status, const char *code, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    resp->status = status;
    core_buf_reset(&resp->body);
    core_buf_puts(&resp->body, "{\"error\":\"");
    core_buf_json_escape(&resp->body, code, strlen(code));
    core_buf_puts(&resp->body, "\",\"detail\":\"");
    core_buf_json_escape(&resp->body, detail, strlen(detail));
    core_buf_puts(&resp->body, "\"}");
}

void wh_response_json(wh_response *resp, int status, const char *fmt, ...)
{
    va_list ap;

    resp->status = status;
    core_buf_reset(&resp->body);
    va_start(ap, fmt);
    core_buf_vprintf(&resp->body, fmt, ap);
    va_end(ap);
}

#define JOB_ID_MAX 32

/* The route of a path; for job routes the id is copied into job_id (an id too long to
 * be one is left empty, which no job matches). */
static wh_route route_of(const char *method, const char *path, char job_id[JOB_ID_MAX])
{
    static const char jobs[] = "/api/v1/jobs";

    (void)method;
    if (strcmp(path, "/webhooks/github") == 0)
        return WH_ROUTE_GITHUB;
    if (strcmp(path, "/webhooks/slack/interactions") == 0)
        return WH_ROUTE_SLACK;
    if (strcmp(path, jobs) == 0)
        return WH_ROUTE_JOBS_LIST;
    if (strncmp(path, jobs, sizeof(jobs) - 1) == 0 && path[sizeof(jobs) - 1] == '/' &&
        path[sizeof(jobs)] != '\0') {
        const char *id = path + sizeof(jobs);
        const char *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);

        if (n < JOB_ID_MAX) {
            memcpy(job_id, id, n);
            job_id[n] = '\0';
        }
        if (!slash)
            return WH_ROUTE_JOB_GET;
        if (strcmp(slash, "/heartbeat") == 0)
            return WH_ROUTE_HEARTBEAT;
        if (strcmp(slash, "/complete") == 0)
            return WH_ROUTE_COMPLETE;
        if (strcmp(slash, "/approve") == 0)
            return WH_ROUTE_APPROVE;
        if (strcmp(slash, "/reject") == 0)
            return WH_ROUTE_REJECT;
        return WH_ROUTE_NOT_FOUND;
    }
    if (strcmp(path, "/api/v1/runners/claim") == 0)
        return WH_ROUTE_CLAIM;
    if (strcmp(path, "/api/v1/outbox/dead") == 0)
        return WH_ROUTE_OUTBOX_DEAD;
    if (strcmp(path, "/healthz") == 0)
        return WH_ROUTE_HEALTHZ;
    if (strcmp(path, "/readyz") == 0)
        return WH_ROUTE_READYZ;
    if (strcmp(path, "/metrics") == 0)
        return WH_ROUTE_METRICS;
    return WH_ROUTE_NOT_FOUND;
}

/* Which method each route takes; anything else is 405. */
static const char *route_method(wh_route route)
{
    switch (route) {
    case WH_ROUTE_GITHUB:
    case WH_ROUTE_CLAIM:
    case WH_ROUTE_HEARTBEAT:
    case WH_ROUTE_COMPLETE:
    case WH_ROUTE_SLACK:
    case WH_ROUTE_APPROVE:
    case WH_ROUTE_REJECT:
        return "POST";
    default:
        return "GET";
    }
}

static void dispatch(const wh_request *req, wh_response *resp, wh_route route, const char *id)
{
    if (route != WH_ROUTE_NOT_FOUND && strcmp(req->method, route_method(route)) != 0 &&
        !(strcmp(req->method, "HEAD") == 0 && strcmp(route_method(route), "GET") == 0)) {
        wh_response_error(resp, 405, "method_not_allowed", "%s takes %s, not %s", req->path,
                          route_method(route), req->method);
        return;
    }
    switch (route) {
    case WH_ROUTE_GITHUB:
        wh_github_handle(req, resp);
        break;
    case WH_ROUTE_JOBS_LIST:
        wh_api_jobs_list(req, resp);
        break;
    case WH_ROUTE_JOB_GET:
        wh_api_job_get(req, resp, id);
        break;
    case WH_ROUTE_HEALTHZ:
        wh_health_live(req, resp);
        break;
    case WH_ROUTE_READYZ:
        wh_health_ready(req, resp);
        break;
    case WH_ROUTE_METRICS:
        wh_metrics_render(req, resp);
        break;
    case WH_ROUTE_CLAIM:
        wh_runner_claim(req, resp);
        break;
    case WH_ROUTE_OUTBOX_DEAD:
        wh_api_outbox_dead(req, resp);
        break;
    case WH_ROUTE_HEARTBEAT:
        wh_runner_heartbeat(req, resp, id);
        break;
    case WH_ROUTE_COMPLETE:
        wh_runner_complete(req, resp, id);
        break;
    case WH_ROUTE_SLACK:
        wh_slack_interactions(req, resp);
        break;
    case WH_ROUTE_APPROVE:
        wh_api_job_decide(req, resp, id, true);
        break;
    case WH_ROUTE_REJECT:
        wh_api_job_decide(req, resp, id, false);
        break;
    default:
        wh_response_error(resp, 404, "not_found", "no route for %s %s", req->method, req->path);
    }
}

static enum MHD_Result queue(struct MHD_Connection *conn, wh_response *resp)
{
    size_t len = resp->body.len;
    char *data = core_buf_steal(&resp->body);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ok;

    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    if (resp->retry_after[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, resp->retry_after);
    ok = MHD_queue_response(conn, (unsigned int)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

static size_t current_max_body(wh_app *app)
{
    size_t max;

    pthread_rwlock_rdlock(&app->cfg_lock);
    max = app->cfg->server.max_body_bytes;
    pthread_rwlock_unlock(&app->cfg_lock);
    return max;
}

/* Answers 413 before reading the body, counting it like any other request. */
static enum MHD_Result refuse_too_big(wh_server *srv, struct MHD_Connection *conn,
                                      request_ctx *ctx, const char *path, const char *how)
{
    wh_response resp = {0};
    char id[JOB_ID_MAX] = "";
    wh_route route = route_of("POST", path, id);
    enum MHD_Result ok;

    wh_response_error(&resp, 413, "body_too_large", "request body %s max_body_bytes (%zu)", how,
                      ctx->max_body);
    if (route == WH_ROUTE_GITHUB)
        wh_metrics_delivery(&srv->app.metrics,
                            wh_event_kind_of(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                         "X-GitHub-Event")),
                            WH_OUTCOME_TOO_LARGE);
    wh_metrics_request(&srv->app.metrics, route, 413,
                       core_time_mono_us() - ctx->started_us);
    CORE_LOG(CORE_LOG_INFO, "request_refused", "path=%s status=413 reason=\"body %s limit\"",
             path, how);
    ok = queue(conn, &resp);
    core_buf_free(&resp.body);
    return ok;
}

static enum MHD_Result start_request(wh_server *srv, struct MHD_Connection *conn,
                                     const char *url, void **con_cls)
{
    request_ctx *ctx = calloc(1, sizeof(*ctx));
    const char *cl;

    if (!ctx)
        return MHD_NO;
    *con_cls = ctx;
    atomic_fetch_add(&srv->in_flight, 1);
    ctx->started_us = core_time_mono_us();
    ctx->max_body = current_max_body(&srv->app);
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(cl, &end, 10);
        if (errno || *end || n > ctx->max_body) {
            ctx->too_big = true;
            return refuse_too_big(srv, conn, ctx, url, "exceeds");
        }
        if (core_buf_reserve(&ctx->body, (size_t)n) < 0)
            return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    wh_server *srv = cls;
    request_ctx *ctx = *con_cls;
    wh_response resp = {0};
    wh_request req;
    char id[JOB_ID_MAX] = "";
    wh_route route;
    enum MHD_Result ok;

    (void)version;
    if (!ctx)
        return start_request(srv, conn, url, con_cls);
    if (ctx->too_big) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (ctx->body.len + *upload_data_size > ctx->max_body) {
            ctx->too_big = true;
            *upload_data_size = 0;
            return refuse_too_big(srv, conn, ctx, url, "grew past");
        }
        if (core_buf_append(&ctx->body, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }

    req.method = method;
    req.path = url;
    req.body = ctx->body.data ? ctx->body.data : "";
    req.body_len = ctx->body.len;
    req.app = &srv->app;
    req.conn = conn;
    req.state = &ctx->handler_state;
    req.state_free = &ctx->handler_state_free;
    route = route_of(method, url, id);
    pthread_rwlock_rdlock(&srv->app.cfg_lock);
    dispatch(&req, &resp, route, id);
    pthread_rwlock_unlock(&srv->app.cfg_lock);
    if (resp.suspend) {
        /* Suspend first, then let the handler publish the connection: a wake-up can
         * only ever resume a connection that is already suspended. */
        MHD_suspend_connection(conn);
        resp.on_suspend(ctx->handler_state, conn);
        core_buf_free(&resp.body);
        return MHD_YES;
    }
    if (strcmp(method, "HEAD") == 0)
        core_buf_reset(&resp.body);
    wh_metrics_request(&srv->app.metrics, route, resp.status,
                       core_time_mono_us() - ctx->started_us);
    ok = queue(conn, &resp);
    core_buf_free(&resp.body);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    wh_server *srv = cls;
    request_ctx *ctx = *con_cls;

    (void)conn;
    (void)why;
    if (!ctx)
        return;
    if (ctx->handler_state_free)
        ctx->handler_state_free(ctx->handler_state);
    core_buf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++) {
        if (*p == '"')
            *p = '\'';
    }
    CORE_LOG(CORE_LOG_WARN, "http_server", "msg=\"%s\"", msg);
}

static int resolve_listen(const char *host, int port, struct sockaddr_storage *ss, bool *ipv6,
                          core_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    char bare[256];
    size_t hl = strlen(host);
    int rc;

    /* "[::1]" is how an IPv6 address is written next to a port. */
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof(bare)) {
        memcpy(bare, host + 1, hl - 2);
        bare[hl - 2] = '\0';
        host = bare;
    }
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(*host ? host : NULL, service, &hints, &res);
    if (rc != 0)
        return core_error_set(err, CORE_EINVAL, "server.listen: cannot resolve \"%s\": %s", host,
                              gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

/* Runner tokens are optional: without them the runner API refuses every call (and says
 * why at start-up), but webhooks and the job API work. */
static int load_runner_tokens(const policy_config *cfg, wh_runner_token **out, size_t *n,
                              core_error *err)
{
    char *value = NULL;
    core_error e2 = {0};
    int rc;

    *out = NULL;
    *n = 0;
    if (policy_secret_read(&cfg->runners.tokens, &value, &e2) < 0) {
        CORE_LOG(CORE_LOG_WARN, "runner_tokens", "msg=\"runner API disabled: %s\"", e2.msg);
        return 0;
    }
    rc = wh_runner_tokens_parse(value, out, n, err);
    memset(value, 0, strlen(value));
    free(value);
    if (rc < 0)
        return core_error_wrap(err, "runner tokens");
    return 0;
}

/* Slack's signing secret is optional: without `slack` in the config, or when its secret
 * cannot be read, the interactions endpoint refuses every request (and says why at
 * start-up); approvals then go through the operator API. */
static int load_slack_secrets(const policy_config *cfg, char ***out, size_t *n, core_error *err)
{
    char *value = NULL;
    core_error e2 = {0};
    int rc;

    *out = NULL;
    *n = 0;
    if (!cfg->slack.present)
        return 0;
    if (policy_secret_read(&cfg->slack.signing_secret, &value, &e2) < 0) {
        CORE_LOG(CORE_LOG_WARN, "slack_secret",
                 "msg=\"slack interactions disabled: %s\"", e2.msg);
        return 0;
    }
    rc = wh_secrets_split(value, out, n, err);
    memset(value, 0, strlen(value));
    free(value);
    if (rc == 0 && *n > 2) {
        wh_secrets_free(*out, *n);
        *out = NULL;
        *n = 0;
        rc = core_error_set(err, CORE_EINVAL,
                            "at most two secrets (old,new) at once");
    }
    if (rc < 0)
        return core_error_wrap(err, "slack signing secret");
    return 0;
}

static int load_secrets(wh_app *app, const policy_config *cfg, char ***gh, size_t *n_gh,
                        wh_api_token **api, size_t *n_api, core_error *err)
{
    char *value = NULL;
    int rc;

    (void)app;
    *gh = NULL;
    *api = NULL;
    *n_gh = *n_api = 0;
    rc = policy_secret_read(&cfg->github.webhook_secret, &value, err);
    if (rc < 0)
        return core_error_wrap(err, "github webhook secret");
    rc = wh_secrets_split(value, gh, n_gh, err);
    memset(value, 0, strlen(value));
    free(value);
    value = NULL;
    if (rc < 0)
        return core_error_wrap(err, "github webhook secret");
    if (*n_gh > 2) {
        wh_secrets_free(*gh, *n_gh);
        *gh = NULL;
        *n_gh = 0;
        return core_error_set(err, CORE_EINVAL,
                              "github webhook secret: at most two secrets (old,new) at once");
    }
    if (cfg->api.present) {
        rc = policy_secret_read(&cfg->api.tokens, &value, err);
        if (rc == 0) {
            rc = wh_api_tokens_parse(value, api, n_api, err);
            memset(value, 0, strlen(value));
            free(value);
        }
        if (rc < 0) {
            wh_secrets_free(*gh, *n_gh);
            *gh = NULL;
            *n_gh = 0;
            return core_error_wrap(err, "api tokens");
        }
    }
    return 0;
}

#define INSPECT_WORKERS 2
#define KEY_FILE_MAX (64 * 1024)

/* The inspector's https fetches use the GitHub App's installation tokens. */
static int github_token(int64_t installation_id, char **token, void *ctx, core_error *err)
{
    notify_http *http = NULL;
    int rc = notify_http_new(&http, err);

    if (rc == 0)
        rc = notify_github_installation_token(ctx, http, installation_id, core_time_now_ms(),
                                              token, err);
    notify_http_free(http);
    return rc;
}

/* The outbox pool, with whatever credentials the configuration names: a missing one
 * only means that kind of message is not deliverable (and says so). */
static int start_outbox(wh_app *app, const policy_config *cfg, core_error *err)
{
    notify_outbox_config oc = {0};
    char *key = NULL, *bot = NULL;
    size_t key_len = 0;
    core_error e2 = {0};
    int rc;

    if (cfg->github.app_id && cfg->github.private_key_file) {
        rc = core_file_read(cfg->github.private_key_file, KEY_FILE_MAX, &key, &key_len, err);
        if (rc < 0)
            return core_error_wrap(err, "github.private_key_file");
        rc = notify_github_new(&app->github, cfg->github.api_url, cfg->github.app_id, key,
                               key_len, err);
        if (rc < 0) {
            memset(key, 0, key_len);
            free(key);
            return core_error_wrap(err, "github app");
        }
        oc.github_api_url = cfg->github.api_url;
        oc.github_app_id = cfg->github.app_id;
        oc.github_private_key = key;
        oc.github_key_len = key_len;
    }
    if (cfg->slack.present) {
        if (policy_secret_read(&cfg->slack.bot_token, &bot, &e2) == 0) {
            oc.slack_api_url = cfg->slack.api_url;
            oc.slack_bot_token = bot;
        } else {
            CORE_LOG(CORE_LOG_WARN, "slack", "msg=\"no cards can be posted: %s\"", e2.msg);
        }
    }
    rc = notify_outbox_start(&app->outbox, app->store, &oc, err);
    if (key) {
        memset(key, 0, key_len);
        free(key);
    }
    if (bot) {
        memset(bot, 0, strlen(bot));
        free(bot);
    }
    return rc;
}

static void kick_router(void *router)
{
    sched_router_kick(router);
}

static void app_release(wh_app *app)
{
    sched_watch_stop(app->watch);
    wh_runners_free(app->runners);
    wh_runner_tokens_free(app->runner_tokens, app->n_runner_tokens);
    sched_inspector_stop(app->inspector);
    notify_outbox_stop(app->outbox);
    notify_redeliver_stop(app->redeliver);
    notify_github_free(app->github);
    sched_router_stop(app->router);
    sched_plan_free(app->plan);
    wh_secrets_free(app->github_secrets, app->n_github_secrets);
    wh_secrets_free(app->slack_secrets, app->n_slack_secrets);
    wh_api_tokens_free(app->api_tokens, app->n_api_tokens);
    sched_store_free(app->store);
    policy_config_free(app->cfg);
    pthread_rwlock_destroy(&app->cfg_lock);
}

static int app_init(wh_app *app, policy_config *cfg, core_error *err)
{
    sched_store_options so = {0};
    int rc;

    memset(app, 0, sizeof(*app));
    pthread_rwlock_init(&app->cfg_lock, NULL);
    app->cfg = cfg;
    app->metrics.started_ms = core_time_now_ms();
    rc = load_secrets(app, cfg, &app->github_secrets, &app->n_github_secrets, &app->api_tokens,
                      &app->n_api_tokens, err);
    if (rc == 0)
        rc = load_slack_secrets(cfg, &app->slack_secrets, &app->n_slack_secrets, err);
    if (rc < 0)
        return rc;
    so.url = cfg->redis.url;
    so.prefix = cfg->redis.prefix;
    /* One connection per server thread, the router, the inspectors and delivery
     * recovery, one spare. */
    so.pool_size = (size_t)cfg->server.threads + 3 + INSPECT_WORKERS;
    rc = sched_store_new(&app->store, &so, err);
    if (rc == 0)
        rc = sched_plan_new(&app->plan, cfg, err);
    if (rc == 0)
        rc = sched_router_start(&app->router, app->store, app->plan, err);
    if (rc == 0)
        rc = start_outbox(app, cfg, err);
    /* GitHub never retries a delivery: with the App's credentials, the ones answered 503
     * while Redis was down are asked for again (notifier/redeliver.c). The period is
     * read once: a reload does not change it. */
    if (rc == 0 && app->github && cfg->github.redelivery_check_seconds > 0)
        rc = notify_redeliver_start(&app->redeliver, app->store, app->github,
                                    cfg->github.redelivery_check_seconds, NULL, err);
    if (rc == 0) {
        sched_token_source tokens = {app->github ? github_token : NULL, app->github};

        rc = sched_inspector_start(&app->inspector, app->store, app->plan, INSPECT_WORKERS,
                                   &tokens, kick_router, app->router, err);
    }
    if (rc == 0)
        rc = load_runner_tokens(cfg, &app->runner_tokens, &app->n_runner_tokens, err);
    if (rc == 0)
        rc = wh_runners_new(&app->runners, err);
    if (rc == 0)
        rc = sched_watch_start(&app->watch, app->store, wh_runners_wake, app->runners, err);
    return rc;
}

int wh_server_start(wh_server **out, policy_config *cfg, core_error *err)
{
    wh_server *srv = calloc(1, sizeof(*srv));
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    bool ipv6 = false;
    unsigned int flags;
    int rc;

    *out = NULL;
    if (!srv) {
        policy_config_free(cfg);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    rc = app_init(&srv->app, cfg, err);
    if (rc < 0)
        goto fail;
    rc = resolve_listen(cfg->server.host, cfg->server.port, &ss, &ipv6, err);
    if (rc < 0)
        goto fail;
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ITC | (ipv6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->server.port, NULL, NULL, on_request, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->server.threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)10000, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned int)1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!srv->daemon) {
        rc = core_error_set(err, CORE_EIO, "cannot listen on %s (in use, or not allowed)",
                            cfg->server.listen);
        goto fail;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->server.port;
    *out = srv;
    return 0;
fail:
    /* app_init always takes cfg and the lock first, so a full release is right. */
    app_release(&srv->app);
    free(srv);
    return rc;
}

int wh_server_reload(wh_server *srv, policy_config *cfg, core_error *err)
{
    policy_config *old;
    sched_plan *plan = NULL, *old_plan;
    wh_runner_token *rt = NULL, *old_rt;
    size_t n_rt = 0, old_n_rt;
    char **sl = NULL, **old_sl;
    size_t n_sl = 0, old_n_sl;
    char **gh, **old_gh;
    wh_api_token *api, *old_api;
    size_t n_gh, n_api;
    size_t old_n_gh, old_n_api;
    int rc;

    rc = sched_plan_new(&plan, cfg, err);
    if (rc < 0) {
        policy_config_free(cfg);
        return rc;
    }
    rc = load_secrets(&srv->app, cfg, &gh, &n_gh, &api, &n_api, err);
    if (rc == 0)
        rc = load_runner_tokens(cfg, &rt, &n_rt, err);
    if (rc == 0)
        rc = load_slack_secrets(cfg, &sl, &n_sl, err);
    if (rc < 0) {
        wh_runner_tokens_free(rt, n_rt);
        wh_secrets_free(gh, n_gh);
        wh_api_tokens_free(api, n_api);
        sched_plan_free(plan);
        policy_config_free(cfg);
        return rc;
    }
    pthread_rwlock_wrlock(&srv->app.cfg_lock);
    old = srv->app.cfg;
    if (strcmp(old->server.listen, cfg->server.listen) != 0 ||
        old->server.threads != cfg->server.threads ||
        strcmp(old->redis.url, cfg->redis.url) != 0 ||
        strcmp(old->redis.prefix, cfg->redis.prefix) != 0)
        CORE_LOG(CORE_LOG_WARN, "config_reload",
                 "msg=\"server.listen, server.threads and redis take effect on restart\"");
    if (old->github.redelivery_check_seconds != cfg->github.redelivery_check_seconds)
        CORE_LOG(CORE_LOG_WARN, "config_reload",
                 "msg=\"github.redelivery_check_seconds takes effect on restart\"");
    srv->app.cfg = cfg;
    old_gh = srv->app.github_secrets;
    old_n_gh = srv->app.n_github_secrets;
    old_api = srv->app.api_tokens;
    old_n_api = srv->app.n_api_tokens;
    srv->app.github_secrets = gh;
    srv->app.n_github_secrets = n_gh;
    srv->app.api_tokens = api;
    srv->app.n_api_tokens = n_api;
    old_sl = srv->app.slack_secrets;
    old_n_sl = srv->app.n_slack_secrets;
    srv->app.slack_secrets = sl;
    srv->app.n_slack_secrets = n_sl;
    old_plan = srv->app.plan;
    srv->app.plan = plan;
    old_rt = srv->app.runner_tokens;
    old_n_rt = srv->app.n_runner_tokens;
    srv->app.runner_tokens = rt;
    srv->app.n_runner_tokens = n_rt;
    pthread_rwlock_unlock(&srv->app.cfg_lock);
    wh_runner_tokens_free(old_rt, old_n_rt);
    /* The router reads the plan (and through it the old config) outside the lock above:
     * swap its plan first, then the old ones are unused. */
    sched_router_set_plan(srv->app.router, plan);
    sched_inspector_set_plan(srv->app.inspector, plan);
    sched_plan_free(old_plan);
    policy_config_free(old);
    wh_secrets_free(old_gh, old_n_gh);
    wh_api_tokens_free(old_api, old_n_api);
    wh_secrets_free(old_sl, old_n_sl);
    return 0;
}

void wh_server_stop(wh_server *srv, int timeout_ms)
{
    int64_t deadline;
    MHD_socket listener;

    if (!srv)
        return;
    /* Long polls would hold the drain up to 30 s: answer them now (204). */
    wh_runners_drain(srv->app.runners);
    listener = MHD_quiesce_daemon(srv->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    deadline = core_time_mono_ms() + timeout_ms;
    while (atomic_load(&srv->in_flight) > 0 && core_time_mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    if (atomic_load(&srv->in_flight) > 0)
        CORE_LOG(CORE_LOG_WARN, "shutdown", "in_flight=%d msg=\"drain timed out\"",
                 atomic_load(&srv->in_flight));
    MHD_stop_daemon(srv->daemon);
    app_release(&srv->app);
    free(srv);
}

int wh_server_port(const wh_server *srv)
{
    return srv->port;
}
