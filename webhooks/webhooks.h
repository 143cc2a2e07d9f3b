/* webhooks: zoneci's inbound HTTP — one port serving GitHub webhooks, the runner and
 * operator API, health, readiness and metrics. The server runs on libmicrohttpd's own
 * thread pool (epoll); handlers never do slow work (no git, Slack or GitHub calls) on a
 * request thread: they record state in Redis and answer. */
#ifndef ZONECI_WEBHOOKS_H
#define ZONECI_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct policy_config;
struct sched_store;
struct sched_plan;
struct sched_router;
struct sched_inspector;
struct notify_outbox;
struct notify_redeliver;
typedef struct wh_server wh_server;

/* What the HTTP module uses but does not own: the Redis store and the background services,
 * assembled by the caller (cli/serve.c) and borrowed for the server's life. Stop the
 * server (wh_server_stop) before stopping any of them, and free it (wh_server_free) before
 * the store. */
typedef struct wh_services {
    struct sched_store *store;          /* required */
    struct sched_router *router;        /* kicked after an approval; NULL: none */
    struct sched_inspector *inspector;  /* kicked after intake; NULL: none */
    struct notify_outbox *outbox;       /* kicked after a decision, read by /metrics */
    struct notify_redeliver *redeliver; /* read by /metrics; NULL when recovery is off */
    /* Called by wh_server_reload after the new configuration's runtime is built and before
     * it is published: the caller hands the new plan (valid until the next call) to its
     * router and inspectors and the new credentials to its outbox, and when it returns no
     * service reads the old plan again. A failure keeps the old configuration in force,
     * so the hook changes nothing when it fails. NULL: nothing to hand over. */
    int (*on_reload)(const struct policy_config *cfg, const struct sched_plan *plan, void *ctx,
                     core_error *err);
    void *ctx;
} wh_services;

/* Reads the secrets cfg names from the environment or files and builds the runtime the
 * handlers read (takes ownership of cfg, even on failure; cfg stays valid until the first
 * reload). Nothing listens yet. Call from the main thread, with SIGTERM/SIGHUP/SIGINT/
 * SIGPIPE blocked so that every thread started later inherits the mask. */
int wh_server_new(wh_server **out, struct policy_config *cfg, core_error *err);

/* The current configuration's routing plan (owned by the server; valid until a reload
 * hands over the next one): what the caller starts its router and inspectors with. */
const struct sched_plan *wh_server_plan(const wh_server *srv);

/* A sched_token_source get function (ctx: the server): an installation token of the
 * GitHub App the current configuration names, for the inspector's https fetches; *token
 * NULL and 0 without an App. Any thread, while the server is not freed. */
int wh_server_github_token(int64_t installation_id, char **token, void *srv, core_error *err);

/* Starts listening on server.listen (and server.health_listen) with svc's services
 * (copied; the services are borrowed), and the long polls' ready-watch. Redis may be down:
 * the server answers 503 until it is back. On failure, wh_server_free. */
int wh_server_listen(wh_server *srv, const wh_services *svc, core_error *err);

/* Swaps in a new configuration (takes ownership of cfg, even on failure) and re-reads
 * every secret and credential it names (webhook and Slack signing secrets, tokens, the
 * GitHub App key), then calls the services' on_reload. Requests never wait for it: each
 * reads one whole configuration, the old or the new. Settings that need a new socket or
 * pool (listen, threads, connection limits, redis) are kept and logged. On failure the
 * old configuration stays in force. Never changes the process environment. */
int wh_server_reload(wh_server *srv, struct policy_config *cfg, core_error *err);

/* Stops accepting, answers the long polls, waits up to timeout_ms for in-flight requests
 * to finish, then stops every HTTP thread: no handler touches a service after it returns.
 * A second call does nothing; wh_server_stop(NULL) does nothing. */
void wh_server_stop(wh_server *srv, int timeout_ms);
/* Stops the server if it runs (without waiting), then frees it and its configuration.
 * NULL does nothing. */
void wh_server_free(wh_server *srv);

/* The port actually bound (useful with port 0). */
int wh_server_port(const wh_server *srv);
/* The health listener's port (server.health_listen), or 0 without one. */
int wh_server_health_port(const wh_server *srv);

/* The i-th route the server answers (0-based): its method ("GET" or "POST"; HEAD is
 * accepted wherever GET is) and path pattern, "{id}" standing for one path segment.
 * Both strings are static. Returns 0 past the last route. docs/openapi.yaml is checked
 * against this list. */
int wh_route_at(size_t i, const char **method, const char **pattern);

#endif
