/* webhooks: zoneci's inbound HTTP — one port serving GitHub webhooks, the runner and
 * operator API, health, readiness and metrics. The server runs on libmicrohttpd's own
 * thread pool (epoll); handlers never do slow work (no git, Slack or GitHub calls) on a
 * request thread: they record state in Redis and answer. */
#ifndef ZONECI_WEBHOOKS_H
#define ZONECI_WEBHOOKS_H

#include "core/core.h"

struct policy_config;
typedef struct wh_server wh_server;

/* Starts serving cfg (takes ownership of cfg, even on failure): reads the secrets it
 * names from the environment or files, creates the Redis store (Redis may be down: the
 * server starts and answers 503 until it is back) and listens on server.listen.
 * Call from the main thread, with SIGTERM/SIGHUP/SIGINT/SIGPIPE blocked so that the
 * server's threads inherit the mask. */
int wh_server_start(wh_server **out, struct policy_config *cfg, core_error *err);

/* Swaps in a new configuration (takes ownership of cfg, even on failure) and re-reads
 * every secret and credential it names (webhook and Slack signing secrets, tokens, the
 * GitHub App key, the Slack bot token). Requests never wait for it: each reads one whole
 * configuration, the old or the new. Settings that need a new socket or pool (listen,
 * threads, connection limits, redis) are kept and logged. On failure the old
 * configuration stays in force. Never changes the process environment. */
int wh_server_reload(wh_server *srv, struct policy_config *cfg, core_error *err);

/* Stops accepting, waits up to timeout_ms for in-flight requests to finish, then stops
 * and frees everything. wh_server_stop(NULL) does nothing. */
void wh_server_stop(wh_server *srv, int timeout_ms);

/* The port actually bound (useful with port 0). */
int wh_server_port(const wh_server *srv);
/* The health listener's port (server.health_listen), or 0 without one. */
int wh_server_health_port(const wh_server *srv);

#endif
