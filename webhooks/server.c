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
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_inspector.h"
#include "webhooks/app.h"
#include "webhooks/http.h"
#include "webhooks/slack.h"

struct wh_server {
    struct MHD_Daemon *daemon;
    struct MHD_Daemon *health; /* server.health_listen's, or NULL */
    wh_app app;
    atomic_int in_flight;
    int port;
    int health_port;
    int64_t request_timeout_us; /* to receive one request whole (read at start) */
    bool stopped;               /* wh_server_stop ran */
    int (*on_reload)(const struct policy_config *cfg, const struct sched_plan *plan, void *ctx,
                     core_error *err);
    void *on_reload_ctx;
};

/* Per-request state, from the first call of the access handler to completion. */
typedef struct request_ctx {
    core_buf body;
    size_t max_body;
    bool refused; /* answered before the body (413, 401): the rest is not read */
    int64_t started_us;
    void *handler_state; /* a long-polling handler's state across suspensions */
    void (*handler_state_free)(void *state, bool answered);
} request_ctx;

void wh_connection_resume(const void *conn)
{
    MHD_resume_connection((struct MHD_Connection *)conn);
}

#define GONE_BATCH 256

size_t wh_connections_gone(const void *const *conns, size_t n, bool *gone)
{
    size_t total = 0;

    for (size_t base = 0; base < n; base += GONE_BATCH) {
        struct pollfd pfd[GONE_BATCH];
        size_t m = n - base < GONE_BATCH ? n - base : GONE_BATCH;

        for (size_t i = 0; i < m; i++) {
            const union MHD_ConnectionInfo *info = MHD_get_connection_info(
                (struct MHD_Connection *)conns[base + i], MHD_CONNECTION_INFO_CONNECTION_FD);

            pfd[i].fd = info ? info->connect_fd : -1;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            gone[base + i] = false;
        }
        if (poll(pfd, (nfds_t)m, 0) <= 0)
            continue;
        for (size_t i = 0; i < m; i++) {
            char c;
            ssize_t got;

            if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
                gone[base + i] = true;
            } else if (pfd[i].revents & POLLIN) {
                /* Readable while waiting for an answer: either the end of the stream
                 * (closed) or bytes of a pipelined request (still there). The socket is
                 * non-blocking, so a peek never waits. */
                got = recv(pfd[i].fd, &c, 1, MSG_PEEK);
                gone[base + i] = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                                              errno != EINTR);
            }
            total += gone[base + i];
        }
    }
    return total;
}

const char *wh_request_header(const wh_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, name);
}

const char *wh_request_query(const wh_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
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
        return core_error_set(
            err, ok == MHD_YES ? CORE_ENOTFOUND : CORE_EINVAL,
            ok == MHD_YES ? "%s: missing from the form" : "%s: the form is malformed", name);
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

/* Every route the server answers: its method and path pattern ("{id}" stands for one
 * non-empty path segment, the job id). The one table route_of and route_method read, and
 * what wh_route_at exports so that a test can hold docs/openapi.yaml to it. route_of is on
 * every request's path, so each entry also carries the lengths of the literal text around
 * "{id}", computed by the compiler: a lookup is one strlen and a few memcmp. */
static const struct route_entry {
    const char *method;
    const char *pattern;
    size_t prefix_len; /* the whole pattern's length when it has no "{id}" */
    size_t suffix_len; /* after "{id}" */
    bool has_id;
    wh_route route;
} routes[] = {
#define EXACT(method, path, route)                                                                 \
    {                                                                                              \
        method, path, sizeof(path) - 1, 0, false, route                                            \
    }
#define WITH_ID(method, before, after, route)                                                      \
    {                                                                                              \
        method, before "{id}" after, sizeof(before) - 1, sizeof(after) - 1, true, route            \
    }
    EXACT("POST", "/webhooks/github", WH_ROUTE_GITHUB),
    EXACT("POST", "/webhooks/slack/interactions", WH_ROUTE_SLACK),
    EXACT("POST", "/webhooks/slack/commands", WH_ROUTE_SLACK_COMMANDS),
    EXACT("GET", "/api/v1/jobs", WH_ROUTE_JOBS_LIST),
    WITH_ID("GET", "/api/v1/jobs/", "", WH_ROUTE_JOB_GET),
    WITH_ID("POST", "/api/v1/jobs/", "/heartbeat", WH_ROUTE_HEARTBEAT),
    WITH_ID("POST", "/api/v1/jobs/", "/complete", WH_ROUTE_COMPLETE),
    WITH_ID("POST", "/api/v1/jobs/", "/release", WH_ROUTE_RELEASE),
    WITH_ID("POST", "/api/v1/jobs/", "/approve", WH_ROUTE_APPROVE),
    WITH_ID("POST", "/api/v1/jobs/", "/reject", WH_ROUTE_REJECT),
    EXACT("POST", "/api/v1/runners/claim", WH_ROUTE_CLAIM),
    EXACT("GET", "/api/v1/outbox/dead", WH_ROUTE_OUTBOX_DEAD),
    EXACT("GET", "/healthz", WH_ROUTE_HEALTHZ),
    EXACT("GET", "/readyz", WH_ROUTE_READYZ),
    EXACT("GET", "/metrics", WH_ROUTE_METRICS),
    EXACT("GET", "/", WH_ROUTE_PAGE),
    EXACT("POST", "/login", WH_ROUTE_LOGIN),
    EXACT("POST", "/logout", WH_ROUTE_LOGOUT),
    WITH_ID("GET", "/jobs/", "", WH_ROUTE_JOB_PAGE),
#undef EXACT
#undef WITH_ID
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))
#define ID_TEXT_LEN 4 /* "{id}" */

int wh_route_at(size_t i, const char **method, const char **pattern)
{
    if (i >= N_ROUTES)
        return 0;
    *method = routes[i].method;
    *pattern = routes[i].pattern;
    return 1;
}

/* Whether path (len bytes) matches r; the segment "{id}" matched is set in id/id_len. */
static bool route_matches(const struct route_entry *r, const char *path, size_t len,
                          const char **id, size_t *id_len)
{
    size_t n;

    if (!r->has_id)
        return len == r->prefix_len && memcmp(path, r->pattern, len) == 0;
    if (len <= r->prefix_len + r->suffix_len || memcmp(path, r->pattern, r->prefix_len) != 0 ||
        memcmp(path + len - r->suffix_len, r->pattern + r->prefix_len + ID_TEXT_LEN,
               r->suffix_len) != 0)
        return false;
    n = len - r->prefix_len - r->suffix_len;
    if (memchr(path + r->prefix_len, '/', n))
        return false;
    *id = path + r->prefix_len;
    *id_len = n;
    return true;
}

/* The route of a path; for job routes the id is copied into job_id (an id too long to
 * be one is left empty, which no job matches). The method is checked by dispatch, so
 * that a known path with the wrong method is a 405, not a 404. */
static wh_route route_of(const char *method, const char *path, char job_id[JOB_ID_MAX])
{
    size_t len = strlen(path);

    (void)method;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const char *id = NULL;
        size_t n = 0;

        if (!route_matches(&routes[i], path, len, &id, &n))
            continue;
        if (id && n < JOB_ID_MAX) {
            memcpy(job_id, id, n);
            job_id[n] = '\0';
        }
        return routes[i].route;
    }
    return WH_ROUTE_NOT_FOUND;
}

/* Which method a route takes; anything else is 405 (HEAD is accepted wherever GET is). */
static const char *route_method(wh_route route)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (routes[i].route == route)
            return routes[i].method;
    }
    return "GET";
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
    case WH_ROUTE_RELEASE:
        wh_runner_release(req, resp, id);
        break;
    case WH_ROUTE_SLACK:
        wh_slack_interactions(req, resp);
        break;
    case WH_ROUTE_SLACK_COMMANDS:
        wh_slack_commands(req, resp);
        break;
    case WH_ROUTE_APPROVE:
        wh_api_job_decide(req, resp, id, true);
        break;
    case WH_ROUTE_REJECT:
        wh_api_job_decide(req, resp, id, false);
        break;
    case WH_ROUTE_PAGE:
        wh_page_status(req, resp);
        break;
    case WH_ROUTE_LOGIN:
        wh_page_login(req, resp);
        break;
    case WH_ROUTE_LOGOUT:
        wh_page_logout(req, resp);
        break;
    case WH_ROUTE_JOB_PAGE:
        wh_page_job(req, resp, id);
        break;
    default:
        wh_response_error(resp, 404, "not_found", "no route for %s %s", req->method, req->path);
    }
}

/* The answer when a response body could not be built: a handler appends in many steps
 * and the body's failure is sticky (core_buf), so it is reported here, once, rather than
 * sent truncated. */
static const char BODY_FAILED[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";

/* An HTML page (webhooks/page.c) loads nothing from elsewhere, runs only its own script
 * (by nonce), cannot be framed and is never cached: it shows operators' data. */
static void html_headers(struct MHD_Response *r, const char *nonce)
{
    char csp[256];

    snprintf(csp, sizeof(csp),
             "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'%s%s%s",
             nonce[0] ? "; script-src 'nonce-" : "", nonce, nonce[0] ? "'" : "");
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result queue(struct MHD_Connection *conn, wh_response *resp)
{
    int failed = core_buf_status(&resp->body);
    size_t len = resp->body.len;
    char *data = core_buf_steal(&resp->body);
    struct MHD_Response *r;
    enum MHD_Result ok;

    if (failed) {
        CORE_LOG(CORE_LOG_ERROR, "response_failed", "status=%d code=%d", resp->status, failed);
        resp->status = 500;
        resp->content_type = NULL;
        resp->retry_after[0] = '\0';
        r = MHD_create_response_from_buffer(sizeof(BODY_FAILED) - 1, (void *)BODY_FAILED,
                                            MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    }
    core_buf_free(&resp->body);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    if (resp->retry_after[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, resp->retry_after);
    if (resp->set_cookie[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, resp->set_cookie);
    if (resp->location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
    if (resp->content_type && strncmp(resp->content_type, "text/html", 9) == 0)
        html_headers(r, resp->csp_nonce);
    ok = MHD_queue_response(conn, (unsigned int)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

wh_runtime *wh_runtime_get(wh_app *app)
{
    wh_runtime *rt;

    pthread_mutex_lock(&app->rt_lock);
    rt = app->rt;
    atomic_fetch_add(&rt->refs, 1);
    pthread_mutex_unlock(&app->rt_lock);
    return rt;
}

void wh_runtime_put(wh_runtime *rt)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    notify_github_free(rt->github);
    wh_runner_tokens_free(rt->runner_tokens, rt->n_runner_tokens);
    wh_secrets_free(rt->github_secrets, rt->n_github_secrets);
    wh_secrets_free(rt->slack_secrets, rt->n_slack_secrets);
    wh_api_tokens_free(rt->api_tokens, rt->n_api_tokens);
    /* The plan points into the config: it goes first. */
    sched_plan_free(rt->plan);
    policy_config_free(rt->cfg);
    free(rt);
}

/* The runner token in the Authorization header is one of rt's (for any region: which
 * regions it may act in is the handler's business, once the body is read). */
static bool runner_token_known(struct MHD_Connection *conn, const wh_runtime *rt)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    bool found = false;
    size_t len;

    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    auth += 7;
    len = strlen(auth);
    for (size_t i = 0; i < rt->n_runner_tokens; i++) {
        const char *t = rt->runner_tokens[i].token;

        found |= strlen(t) == len && core_ct_equal(auth, t, len);
    }
    return found;
}

/* The credential every authenticated route carries in a header, checked before a byte of
 * the body is read: an unknown caller gets the same 401 whatever it sends, learns nothing
 * from how its body is judged, and cannot make the server hold max_body_bytes for it.
 * Signatures over the body (GitHub, Slack) can only be checked once it is read; here their
 * headers must at least be there. The handlers check everything again. True with resp
 * filled when the request is refused. */
static bool refused_unread(const wh_runtime *rt, struct MHD_Connection *conn, const char *method,
                           const char *path, wh_route route, wh_response *resp,
                           bool *unsigned_delivery)
{
    const char *bearer = "an operator token is required (Authorization: Bearer TOKEN, or the "
                         "status page's session and its X-CSRF-Token)";
    bool operator_ok;

    *unsigned_delivery = false;
    if (route == WH_ROUTE_NOT_FOUND ||
        (strcmp(method, route_method(route)) != 0 &&
         !(strcmp(method, "HEAD") == 0 && strcmp(route_method(route), "GET") == 0))) {
        /* 404 and 405 need no body either: no one makes the server read one for them. */
        wh_request req = {.method = method, .path = path, .body = "", .rt = rt, .conn = conn};

        dispatch(&req, resp, route, "");
        return true;
    }
    switch (route) {
    case WH_ROUTE_CLAIM:
    case WH_ROUTE_HEARTBEAT:
    case WH_ROUTE_COMPLETE:
    case WH_ROUTE_RELEASE:
        if (runner_token_known(conn, rt))
            return false;
        wh_response_error(resp, 401, "unauthorized",
                          rt->n_runner_tokens
                              ? "a runner token is required (Authorization: Bearer TOKEN)"
                              : "no runner tokens are configured on this server");
        return true;
    case WH_ROUTE_JOBS_LIST:
    case WH_ROUTE_JOB_GET:
    case WH_ROUTE_OUTBOX_DEAD:
    case WH_ROUTE_APPROVE:
    case WH_ROUTE_REJECT: {
        wh_request req = {.conn = conn, .rt = rt};

        /* The page's session cookie counts too; for a decision, with its CSRF header. */
        operator_ok =
            wh_operator_name(&req, route == WH_ROUTE_APPROVE || route == WH_ROUTE_REJECT) != NULL;
        if (operator_ok ||
            (rt->n_api_tokens == 0 && route != WH_ROUTE_APPROVE && route != WH_ROUTE_REJECT))
            return false;
        wh_response_error(resp, 401, "unauthorized", "%s",
                          rt->n_api_tokens == 0
                              ? "approving or rejecting needs an operator token, and none is "
                                "configured (api.tokens_env)"
                              : bearer);
        return true;
    }
    case WH_ROUTE_GITHUB:
        if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Hub-Signature-256"))
            return false;
        *unsigned_delivery = true;
        wh_response_error(resp, 401, "missing_signature", "X-Hub-Signature-256 header is missing");
        return true;
    case WH_ROUTE_SLACK:
    case WH_ROUTE_SLACK_COMMANDS:
        if (rt->n_slack_secrets == 0) {
            /* Off: the handlers' 404, which reads nothing. */
            wh_request req = {.method = method, .path = path, .body = "", .rt = rt, .conn = conn};

            wh_slack_request_verified(&req, resp);
            return true;
        }
        if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Slack-Signature") &&
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Slack-Request-Timestamp"))
            return false; /* to be checked over the body */
        wh_response_error(resp, 401, "bad_signature",
                          "X-Slack-Signature does not match, or X-Slack-Request-Timestamp is "
                          "more than 5 minutes off");
        return true;
    default:
        return false;
    }
}

/* Answers before the body is read (MHD then closes the connection without reading it),
 * counting it like any other request. */
static enum MHD_Result refuse_unread(wh_server *srv, struct MHD_Connection *conn, request_ctx *ctx,
                                     wh_route route, wh_response *resp, const char *path,
                                     const char *reason)
{
    enum MHD_Result ok;

    ctx->refused = true;
    wh_metrics_request(&srv->app.metrics, route, resp->status,
                       core_time_mono_us() - ctx->started_us);
    CORE_LOG(CORE_LOG_INFO, "request_refused", "path=%s status=%d reason=\"%s\"", path,
             resp->status, reason);
    ok = queue(conn, resp);
    core_buf_free(&resp->body);
    return ok;
}

/* Answers 413 before reading the body (or the rest of it). */
static enum MHD_Result refuse_too_big(wh_server *srv, struct MHD_Connection *conn, request_ctx *ctx,
                                      const char *path, const char *how)
{
    wh_response resp = {0};
    char id[JOB_ID_MAX] = "";
    wh_route route = route_of("POST", path, id);
    char reason[32];

    wh_response_error(&resp, 413, "body_too_large", "request body %s max_body_bytes (%zu)", how,
                      ctx->max_body);
    if (route == WH_ROUTE_GITHUB)
        wh_metrics_delivery(
            &srv->app.metrics,
            wh_event_kind_of(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Event")),
            WH_OUTCOME_TOO_LARGE);
    snprintf(reason, sizeof(reason), "body %s limit", how);
    return refuse_unread(srv, conn, ctx, route, &resp, path, reason);
}

static enum MHD_Result start_request(wh_server *srv, struct MHD_Connection *conn, const char *url,
                                     const char *method, void **con_cls)
{
    request_ctx *ctx = calloc(1, sizeof(*ctx));
    char id[JOB_ID_MAX] = "";
    wh_route route = route_of(method, url, id);
    wh_response resp = {0};
    wh_runtime *rt;
    bool refused, unsigned_delivery;
    const char *cl;

    if (!ctx)
        return MHD_NO;
    *con_cls = ctx;
    atomic_fetch_add(&srv->in_flight, 1);
    ctx->started_us = core_time_mono_us();
    rt = wh_runtime_get(&srv->app);
    ctx->max_body = rt->cfg->server.max_body_bytes;
    refused = refused_unread(rt, conn, method, url, route, &resp, &unsigned_delivery);
    wh_runtime_put(rt);
    if (refused) {
        if (unsigned_delivery)
            wh_metrics_delivery(&srv->app.metrics,
                                wh_event_kind_of(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                             "X-GitHub-Event")),
                                WH_OUTCOME_UNAUTHORIZED);
        return refuse_unread(srv, conn, ctx, route, &resp, url,
                             resp.status == 401 ? "not authenticated" : "not served");
    }
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(cl, &end, 10);
        if (errno || *end || n > ctx->max_body)
            return refuse_too_big(srv, conn, ctx, url, "exceeds");
        if (core_buf_reserve(&ctx->body, (size_t)n) < 0)
            return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    wh_server *srv = cls;
    request_ctx *ctx = *con_cls;
    wh_response resp = {0};
    wh_request req;
    wh_runtime *rt;
    char id[JOB_ID_MAX] = "";
    wh_route route;
    enum MHD_Result ok;

    (void)version;
    if (!ctx)
        return start_request(srv, conn, url, method, con_cls);
    if (ctx->refused) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* MHD's timeout is for silence; a body trickled a byte at a time must still
         * arrive whole in time, or it holds a connection for as long as it likes. */
        if (core_time_mono_us() - ctx->started_us > srv->request_timeout_us) {
            CORE_LOG(CORE_LOG_INFO, "request_refused",
                     "path=%s reason=\"body not received within the request timeout\"", url);
            return MHD_NO;
        }
        if (ctx->body.len + *upload_data_size > ctx->max_body) {
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
    req.rt = rt = wh_runtime_get(&srv->app);
    req.conn = conn;
    req.state = &ctx->handler_state;
    req.state_free = &ctx->handler_state_free;
    route = route_of(method, url, id);
    dispatch(&req, &resp, route, id);
    wh_runtime_put(rt);
    if (resp.suspend) {
        /* Suspend first, then let the handler publish the connection: a wake-up can
         * only ever resume a connection that is already suspended. */
        MHD_suspend_connection(conn);
        resp.on_suspend(ctx->handler_state, conn);
        core_buf_free(&resp.body);
        return MHD_YES;
    }
    if (resp.hang_up) {
        /* No one to answer: MHD_NO closes the connection (its completion says so). */
        wh_metrics_request(&srv->app.metrics, route, 499, core_time_mono_us() - ctx->started_us);
        core_buf_free(&resp.body);
        return MHD_NO;
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
    if (!ctx)
        return;
    /* COMPLETED_OK: the whole answer went to the socket. Anything else (the client
     * closed, a write failed, a timeout, the daemon stopping, a hang-up) means it did
     * not, and the handler may have to take back what the answer handed over. */
    if (ctx->handler_state_free)
        ctx->handler_state_free(ctx->handler_state, why == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    core_buf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

#define MHD_LOG_PER_SECOND 10

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static atomic_llong window_s;
    static atomic_int in_window, suppressed;
    long long now_s = core_time_mono_ms() / 1000;
    long long seen = atomic_load(&window_s);
    char msg[512];
    size_t n;

    (void)cls;
    /* A flood of refused connections is a flood of these lines: a few a second, and
     * how many were dropped, keep the log readable and its disk safe. */
    if (seen != now_s && atomic_compare_exchange_strong(&window_s, &seen, now_s)) {
        int dropped = atomic_exchange(&suppressed, 0);

        atomic_store(&in_window, 0);
        if (dropped)
            CORE_LOG(CORE_LOG_WARN, "http_server", "suppressed=%d msg=\"messages dropped\"",
                     dropped);
    }
    if (atomic_fetch_add(&in_window, 1) >= MHD_LOG_PER_SECOND) {
        atomic_fetch_add(&suppressed, 1);
        return;
    }
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
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
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
    core_wipe(value, strlen(value));
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
        CORE_LOG(CORE_LOG_WARN, "slack_secret", "msg=\"slack interactions disabled: %s\"", e2.msg);
        return 0;
    }
    rc = wh_secrets_split(value, out, n, err);
    core_wipe(value, strlen(value));
    free(value);
    if (rc == 0 && *n > 2) {
        wh_secrets_free(*out, *n);
        *out = NULL;
        *n = 0;
        rc = core_error_set(err, CORE_EINVAL, "at most two secrets (old,new) at once");
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
    core_wipe(value, strlen(value));
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
            core_wipe(value, strlen(value));
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

#define HEALTH_CONNECTIONS 64
#define KEY_FILE_MAX (64 * 1024)

/* The current runtime's GitHub App (a reload brings in a new key), for the inspector. */
int wh_server_github_token(int64_t installation_id, char **token, void *srv, core_error *err)
{
    wh_runtime *rt = wh_runtime_get(&((wh_server *)srv)->app);
    notify_http *http = NULL;
    int rc;

    *token = NULL;
    if (!rt->github) {
        /* No App (now): fetch without a token, as public repositories allow. */
        wh_runtime_put(rt);
        return 0;
    }
    rc = notify_http_new(&http, err);
    if (rc == 0)
        rc = notify_github_installation_token(rt->github, http, installation_id, core_time_now_ms(),
                                              token, err);
    notify_http_free(http);
    wh_runtime_put(rt);
    return rc;
}

/* The GitHub App client for cfg's key (NULL without one). */
static int open_github_app(const policy_config *cfg, notify_github **out, core_error *err)
{
    char *key = NULL;
    size_t key_len = 0;
    int rc;

    *out = NULL;
    if (!cfg->github.app_id || !cfg->github.private_key_file)
        return 0;
    rc = core_file_read(cfg->github.private_key_file, KEY_FILE_MAX, &key, &key_len, err);
    if (rc < 0)
        return core_error_wrap(err, "github.private_key_file");
    rc = notify_github_new(out, cfg->github.api_url, cfg->github.app_id, key, key_len, err);
    memset(key, 0, key_len);
    free(key);
    if (rc < 0)
        return core_error_wrap(err, "github app");
    return 0;
}

/* A runtime for cfg (taken, freed on failure) with one reference: its plan, and every
 * secret and credential it names read now. */
static int runtime_new(wh_app *app, policy_config *cfg, wh_runtime **out, core_error *err)
{
    wh_runtime *rt = calloc(1, sizeof(*rt));
    int rc;

    *out = NULL;
    if (!rt) {
        policy_config_free(cfg);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    atomic_init(&rt->refs, 1);
    rt->cfg = cfg;
    rc = sched_plan_new(&rt->plan, cfg, err);
    if (rc == 0)
        rc = load_secrets(app, cfg, &rt->github_secrets, &rt->n_github_secrets, &rt->api_tokens,
                          &rt->n_api_tokens, err);
    if (rc == 0)
        rc = load_runner_tokens(cfg, &rt->runner_tokens, &rt->n_runner_tokens, err);
    if (rc == 0)
        rc = load_slack_secrets(cfg, &rt->slack_secrets, &rt->n_slack_secrets, err);
    if (rc == 0)
        rc = open_github_app(cfg, &rt->github, err);
    if (rc < 0) {
        wh_runtime_put(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

/* The server's own parts; the services it was handed are the caller's. */
static void app_release(wh_app *app)
{
    sched_watch_stop(app->watch);
    app->watch = NULL;
    wh_runners_free(app->runners);
    app->runners = NULL;
    wh_runtime_put(app->rt);
    app->rt = NULL;
    pthread_mutex_destroy(&app->rt_lock);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int app_init(wh_app *app, policy_config *cfg, core_error *err)
{
    int rc;

    memset(app, 0, sizeof(*app));
    pthread_mutex_init(&app->rt_lock, NULL);
    app->metrics.started_ms = core_time_now_ms();
    rc = runtime_new(app, cfg, &app->rt, err);
    if (rc == 0)
        rc = wh_runners_new(&app->runners, err);
    return rc;
}

/* The open-file limit caps connections: past it accept(2) fails for everyone, health
 * checks included. Keep what the Redis pool, the workers and the logs need. */
static unsigned int connection_cap(const policy_config *cfg)
{
    struct rlimit rl;
    rlim_t reserve = (rlim_t)cfg->server.threads * 4 + 128;
    unsigned int want = (unsigned int)cfg->server.max_connections;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    if (rl.rlim_cur <= reserve + 16)
        return 16;
    if (rl.rlim_cur - reserve < want) {
        CORE_LOG(CORE_LOG_WARN, "connection_limit",
                 "max_connections=%u allowed=%llu msg=\"the open-file limit is lower; raise it "
                 "(ulimit -n, LimitNOFILE)\"",
                 want, (unsigned long long)(rl.rlim_cur - reserve));
        return (unsigned int)(rl.rlim_cur - reserve);
    }
    return want;
}

/* The health listener's only routes; anything else is 404. Its own daemon, thread and
 * connection budget: no flood on the main port reaches it. */
static enum MHD_Result on_health(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    static int started;
    wh_server *srv = cls;
    wh_response resp = {0};
    wh_request req = {0};
    char id[JOB_ID_MAX] = "";
    wh_route route = route_of(method, url, id);
    enum MHD_Result ok;

    (void)version;
    (void)upload_data;
    if (!*con_cls) {
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    req.method = method;
    req.path = url;
    req.body = "";
    req.app = &srv->app;
    req.conn = conn;
    if (route == WH_ROUTE_HEALTHZ || route == WH_ROUTE_READYZ) {
        req.rt = wh_runtime_get(&srv->app);
        dispatch(&req, &resp, route, id);
        wh_runtime_put((wh_runtime *)req.rt);
    } else {
        wh_response_error(&resp, 404, "not_found", "this listener serves /healthz and /readyz");
    }
    if (strcmp(method, "HEAD") == 0)
        core_buf_reset(&resp.body);
    ok = queue(conn, &resp);
    core_buf_free(&resp.body);
    return ok;
}

static int start_health(wh_server *srv, const policy_config *cfg, core_error *err)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    bool ipv6 = false;
    int rc;

    if (!cfg->server.health_host)
        return 0;
    rc = resolve_listen(cfg->server.health_host, cfg->server.health_port, &ss, &ipv6, err);
    if (rc < 0)
        return core_error_wrap(err, "server.health_listen");
    srv->health = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | (ipv6 ? MHD_USE_IPv6 : 0),
        (uint16_t)cfg->server.health_port, NULL, NULL, on_health, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HEALTH_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_END);
    if (!srv->health)
        return core_error_set(err, CORE_EIO, "cannot listen on %s (in use, or not allowed)",
                              cfg->server.health_listen);
    info = MHD_get_daemon_info(srv->health, MHD_DAEMON_INFO_BIND_PORT);
    srv->health_port = info ? info->port : cfg->server.health_port;
    return 0;
}

int wh_server_new(wh_server **out, policy_config *cfg, core_error *err)
{
    wh_server *srv = calloc(1, sizeof(*srv));
    int rc;

    *out = NULL;
    if (!srv) {
        policy_config_free(cfg);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    rc = app_init(&srv->app, cfg, err);
    if (rc < 0) {
        /* app_init always takes cfg and the lock first, so a full release is right. */
        app_release(&srv->app);
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

const struct sched_plan *wh_server_plan(const wh_server *srv)
{
    return srv->app.rt->plan;
}

int wh_server_listen(wh_server *srv, const wh_services *svc, core_error *err)
{
    const policy_config *cfg = srv->app.rt->cfg;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    bool ipv6 = false;
    unsigned int flags;
    int rc;

    CORE_ASSERT(svc && svc->store && !srv->daemon);
    srv->app.store = svc->store;
    srv->app.router = svc->router;
    srv->app.inspector = svc->inspector;
    srv->app.outbox = svc->outbox;
    srv->app.redeliver = svc->redeliver;
    srv->on_reload = svc->on_reload;
    srv->on_reload_ctx = svc->ctx;
    /* The long polls' feed: woken when a job becomes claimable in any process. */
    rc = sched_watch_start(&srv->app.watch, srv->app.store, wh_runners_wake, srv->app.runners, err);
    if (rc < 0)
        return rc;
    rc = resolve_listen(cfg->server.host, cfg->server.port, &ss, &ipv6, err);
    if (rc < 0)
        return rc;
    srv->request_timeout_us = (int64_t)cfg->server.request_timeout_seconds * 1000000;
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ITC | (ipv6 ? MHD_USE_IPv6 : 0);
    /* One address may hold max_connections_per_ip connections, so no single client can
     * take them all; idle ones close after request_timeout_seconds. A suspended long
     * poll is out of MHD's timeout list: its own wait bounds it. */
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->server.port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->server.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->server.request_timeout_seconds,
        MHD_OPTION_CONNECTION_LIMIT, connection_cap(cfg), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)cfg->server.max_connections_per_ip, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned int)1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!srv->daemon)
        return core_error_set(err, CORE_EIO, "cannot listen on %s (in use, or not allowed)",
                              cfg->server.listen);
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->server.port;
    rc = start_health(srv, cfg, err);
    if (rc < 0) {
        MHD_stop_daemon(srv->daemon);
        srv->daemon = NULL;
    }
    return rc;
}

/* What a reload cannot change, said once. */
static void warn_restart_only(const policy_config *old, const policy_config *cfg)
{
    if (strcmp(old->server.listen, cfg->server.listen) != 0 ||
        old->server.threads != cfg->server.threads ||
        old->server.max_connections != cfg->server.max_connections ||
        old->server.max_connections_per_ip != cfg->server.max_connections_per_ip ||
        old->server.request_timeout_seconds != cfg->server.request_timeout_seconds ||
        !same_str(old->server.health_listen, cfg->server.health_listen) ||
        !same_str(old->redis.url, cfg->redis.url) ||
        !same_str(old->redis.sentinel.master, cfg->redis.sentinel.master) ||
        old->redis.wait_replica_ms != cfg->redis.wait_replica_ms ||
        strcmp(old->redis.prefix, cfg->redis.prefix) != 0)
        CORE_LOG(CORE_LOG_WARN, "config_reload",
                 "msg=\"server.listen, server.threads, the server's connection limits and "
                 "timeout, server.health_listen and redis take effect on restart\"");
    if (old->github.redelivery_check_seconds != cfg->github.redelivery_check_seconds)
        CORE_LOG(CORE_LOG_WARN, "config_reload",
                 "msg=\"github.redelivery_check_seconds takes effect on restart\"");
}

/* Builds the whole new runtime first (secrets and keys read again), then publishes it
 * with one pointer swap under a lock no one holds for more than a copy: requests never
 * wait for a reload, a reload never waits for requests, and a request reads one runtime
 * or the other, never a mix. The old one is freed by whoever drops its last reference. */
int wh_server_reload(wh_server *srv, policy_config *cfg, core_error *err)
{
    wh_runtime *rt = NULL, *old;
    int rc;

    rc = runtime_new(&srv->app, cfg, &rt, err);
    if (rc < 0)
        return rc;
    /* The services take the new plan and credentials now: when the hook returns, none
     * reads the old plan again, so the old runtime may go. */
    if (srv->on_reload) {
        rc = srv->on_reload(rt->cfg, rt->plan, srv->on_reload_ctx, err);
        if (rc < 0) {
            wh_runtime_put(rt);
            return rc;
        }
    }
    pthread_mutex_lock(&srv->app.rt_lock);
    old = srv->app.rt;
    srv->app.rt = rt;
    pthread_mutex_unlock(&srv->app.rt_lock);
    warn_restart_only(old->cfg, rt->cfg);
    wh_runtime_put(old);
    return 0;
}

void wh_server_stop(wh_server *srv, int timeout_ms)
{
    int64_t deadline;
    MHD_socket listener;

    if (!srv || srv->stopped)
        return;
    srv->stopped = true;
    if (srv->health)
        MHD_stop_daemon(srv->health);
    srv->health = NULL;
    /* Long polls would hold the drain up to 30 s: answer them now (204). */
    wh_runners_drain(srv->app.runners);
    if (srv->daemon) {
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
        srv->daemon = NULL;
    }
    sched_watch_stop(srv->app.watch);
    srv->app.watch = NULL;
}

void wh_server_free(wh_server *srv)
{
    if (!srv)
        return;
    wh_server_stop(srv, 0);
    app_release(&srv->app);
    free(srv);
}

int wh_server_port(const wh_server *srv)
{
    return srv->port;
}

int wh_server_health_port(const wh_server *srv)
{
    return srv->health ? srv->health_port : 0;
}
