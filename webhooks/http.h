/* The request and response that route handlers see (private to webhooks/). Handlers are
 * plain functions of these; only server.c knows libmicrohttpd. */
#ifndef ZONECI_WEBHOOKS_HTTP_H
#define ZONECI_WEBHOOKS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "webhooks/app.h"

typedef struct wh_request {
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    wh_app *app;
    const wh_runtime *rt; /* the configuration and secrets this call reads, all of one */
    const void *conn;     /* server.c's connection, for header and query lookups */
    /* State a handler keeps across a suspension (a long poll): NULL on the first call;
     * set it and state_free, and the server frees it when the request ends. `answered` is
     * false when the request ended without its answer having been written out whole (the
     * client went away, the handler hung up, the server stopped): a handler that handed
     * something over in its answer takes it back there. */
    void **state;
    void (**state_free)(void *state, bool answered);
} wh_request;

typedef struct wh_response {
    int status;
    core_buf body;
    const char *content_type; /* static string; default application/json */
    char retry_after[16];     /* Retry-After seconds when not empty */
    /* A handler that wants to wait sets suspend: nothing is sent, the connection is
     * suspended, then on_suspend(state, conn) is called; wh_connection_resume(conn) later
     * makes the server call the handler again. */
    bool suspend;
    void (*on_suspend)(void *state, const void *conn);
    /* The client is gone: close the connection without an answer (counted as 499). */
    bool hang_up;
    char set_cookie[256]; /* a Set-Cookie header when not empty */
    const char *location; /* a Location header (static string) when not NULL */
    char csp_nonce[40];   /* an HTML answer's script nonce for its CSP ("" for none) */
} wh_response;

/* Resumes a suspended connection; any thread. */
void wh_connection_resume(const void *conn);

/* Sets gone[i] for each of the n connections whose client closed it (or whose socket
 * broke), and returns how many. A suspended connection is out of the server's event loop,
 * so nobody else notices that its client left; this looks with one poll(2), without
 * waiting. Any thread, for connections that stay suspended meanwhile, or the caller's
 * own request's. */
size_t wh_connections_gone(const void *const *conns, size_t n, bool *gone);

/* Header value (case-insensitive name) or NULL; valid for the request's lifetime. */
const char *wh_request_header(const wh_request *req, const char *name);
/* Decoded query argument or NULL; valid for the request's lifetime. */
const char *wh_request_query(const wh_request *req, const char *name);

/* Decodes field `name` of the request's application/x-www-form-urlencoded body with
 * libmicrohttpd's post processor into out (cap bytes, NUL-terminated; *out_len the
 * decoded length). The first occurrence wins. Call it only after the body is
 * authenticated: the whole body is already in req->body. CORE_EINVAL (not a form, or a
 * value holding a NUL), CORE_ENOTFOUND (no such field), CORE_ETOOBIG (the value does not
 * fit), CORE_ENOMEM. */
int wh_request_form_value(const wh_request *req, const char *name, char *out, size_t cap,
                          size_t *out_len, core_error *err);

/* Sets status and a JSON error body {"error":code,"detail":detail}. */
void wh_response_error(wh_response *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets status and a JSON body built with printf (the caller escapes strings). */
void wh_response_json(wh_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Route handlers. Each fills resp; none blocks on anything but Redis. */
void wh_github_handle(const wh_request *req, wh_response *resp);
void wh_api_jobs_list(const wh_request *req, wh_response *resp);
void wh_api_job_get(const wh_request *req, wh_response *resp, const char *id);
void wh_api_outbox_dead(const wh_request *req, wh_response *resp);
void wh_health_live(const wh_request *req, wh_response *resp);
void wh_health_ready(const wh_request *req, wh_response *resp);
void wh_metrics_render(const wh_request *req, wh_response *resp);
void wh_runner_claim(const wh_request *req, wh_response *resp);
void wh_runner_heartbeat(const wh_request *req, wh_response *resp, const char *id);
void wh_runner_complete(const wh_request *req, wh_response *resp, const char *id);
void wh_runner_release(const wh_request *req, wh_response *resp, const char *id);
void wh_slack_interactions(const wh_request *req, wh_response *resp);
void wh_slack_commands(const wh_request *req, wh_response *resp);
/* POST /api/v1/jobs/{id}/approve and .../reject (approve false). */
void wh_api_job_decide(const wh_request *req, wh_response *resp, const char *id, bool approve);

/* The status page (webhooks/page.c): GET / (a login form when operator tokens are
 * configured and the request carries none), POST /login and /logout, and the read-only
 * job page GET /jobs/{id} that commit statuses link to (open to anyone who can reach it). */
void wh_page_status(const wh_request *req, wh_response *resp);
void wh_page_login(const wh_request *req, wh_response *resp);
void wh_page_logout(const wh_request *req, wh_response *resp);
void wh_page_job(const wh_request *req, wh_response *resp, const char *id);

/* The name of the operator the request speaks for, or NULL: an "Authorization: Bearer"
 * operator token, else the page's session cookie holding one. With `decision` a cookie
 * counts only with an X-CSRF-Token header that matches its session (a bearer token needs
 * none: a browser never sends one on its own). NULL when no operator tokens are
 * configured. Every comparison is constant time. */
const char *wh_operator_name(const wh_request *req, bool decision);

/* Checks "Authorization: Bearer T" against tokens in constant time per token. */
bool wh_bearer_matches(const wh_request *req, char *const *tokens, size_t n_tokens);
/* The name of the operator token that the request's "Authorization: Bearer" carries, or
 * NULL. Every token is compared in constant time, whichever matches. */
const char *wh_api_token_name(const wh_request *req, const wh_api_token *tokens, size_t n);

#endif
