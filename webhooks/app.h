/* State shared by every request thread of one server (private to webhooks/): the
 * runtime (configuration and the secrets it names, swapped whole on SIGHUP), the Redis
 * store and background services it borrows, and the metrics counters. */
#ifndef ZONECI_WEBHOOKS_APP_H
#define ZONECI_WEBHOOKS_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct policy_config;
struct sched_store;
struct sched_plan;
struct sched_router;
struct sched_watch;
struct sched_inspector;
struct notify_outbox;
struct notify_github;
struct notify_redeliver;
typedef struct wh_runners wh_runners;

/* An operator token and whose it is: the name is what decisions record (never the
 * token); an entry written without a name is "operator". */
typedef struct wh_api_token {
    char *name;
    char *token;
} wh_api_token;

/* A runner token and the regions it may claim in (none listed: every region). */
typedef struct wh_runner_token {
    char *token;
    char **regions;
    size_t n_regions;
} wh_runner_token;

typedef enum wh_route {
    WH_ROUTE_GITHUB = 0,
    WH_ROUTE_JOBS_LIST,
    WH_ROUTE_JOB_GET,
    WH_ROUTE_HEALTHZ,
    WH_ROUTE_READYZ,
    WH_ROUTE_METRICS,
    WH_ROUTE_CLAIM,
    WH_ROUTE_HEARTBEAT,
    WH_ROUTE_COMPLETE,
    WH_ROUTE_NOT_FOUND,
    WH_ROUTE_SLACK,
    WH_ROUTE_APPROVE,
    WH_ROUTE_REJECT,
    WH_ROUTE_OUTBOX_DEAD,
    WH_ROUTE_RELEASE,
    WH_ROUTE_PAGE,           /* GET / */
    WH_ROUTE_LOGIN,          /* POST /login */
    WH_ROUTE_LOGOUT,         /* POST /logout */
    WH_ROUTE_JOB_PAGE,       /* GET /jobs/{id} */
    WH_ROUTE_SLACK_COMMANDS, /* POST /webhooks/slack/commands */
    WH_ROUTE_COUNT
} wh_route;

typedef enum wh_event_kind {
    WH_EVENT_PING = 0,
    WH_EVENT_PULL_REQUEST,
    WH_EVENT_INSTALLATION,
    WH_EVENT_INSTALLATION_REPOSITORIES,
    WH_EVENT_CHECK_RUN,
    WH_EVENT_OTHER,
    WH_EVENT_COUNT
} wh_event_kind;

typedef enum wh_outcome {
    WH_OUTCOME_ACCEPTED = 0, /* a job was created */
    WH_OUTCOME_DUPLICATE,    /* redelivery, or the commit already has a live job */
    WH_OUTCOME_CANCELLED,    /* a close event cancelled pending jobs */
    WH_OUTCOME_IGNORED,      /* valid, nothing to do */
    WH_OUTCOME_INVALID,      /* 400 */
    WH_OUTCOME_UNAUTHORIZED, /* 401 */
    WH_OUTCOME_TOO_LARGE,    /* 413 */
    WH_OUTCOME_UNAVAILABLE,  /* 503: Redis down */
    WH_OUTCOME_COUNT
} wh_outcome;

/* Status codes counted per route; anything else is counted as "other". */
#define WH_STATUS_CODES 200, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 500, 503
#define WH_N_STATUS 14
#define WH_N_BUCKETS 14

typedef struct wh_metrics {
    atomic_uint_fast64_t requests[WH_ROUTE_COUNT][WH_N_STATUS];
    atomic_uint_fast64_t latency_bucket[WH_ROUTE_COUNT][WH_N_BUCKETS];
    atomic_uint_fast64_t latency_sum_us[WH_ROUTE_COUNT];
    atomic_uint_fast64_t deliveries[WH_EVENT_COUNT][WH_OUTCOME_COUNT];
    int64_t started_ms;
} wh_metrics;

/* Everything a reload replaces, built whole before it is published and never changed
 * after: the configuration, its compiled plan, the secrets and tokens it names and the
 * GitHub App client made from its key. A request takes a reference for as long as it
 * reads it (wh_runtime_get), so a reload swaps one pointer and never waits for requests,
 * and no request sees half of one configuration and half of the next. The last
 * reference frees it. */
typedef struct wh_runtime {
    atomic_int refs;
    struct policy_config *cfg;
    struct sched_plan *plan;
    char **github_secrets; /* one or two (rotation) */
    size_t n_github_secrets;
    char **slack_secrets; /* Slack signing secrets; none without `slack` (endpoint off) */
    size_t n_slack_secrets;
    wh_api_token *api_tokens; /* operator tokens; none means the read API is open */
    size_t n_api_tokens;
    wh_runner_token *runner_tokens;
    size_t n_runner_tokens;
    struct notify_github *github; /* the GitHub App for installation tokens, or NULL */
} wh_runtime;

typedef struct wh_app {
    pthread_mutex_t rt_lock; /* held only to read rt and take a reference */
    wh_runtime *rt;          /* the current one; swapped whole on SIGHUP */
    /* The services, borrowed from the caller of wh_server_listen (cli/serve.c), which
     * starts and stops them; NULL until then. */
    struct sched_store *store;
    struct sched_router *router;        /* the routing thread, or NULL */
    struct sched_inspector *inspector;  /* the inspection workers, or NULL */
    struct notify_outbox *outbox;       /* the delivery workers, or NULL */
    struct notify_redeliver *redeliver; /* delivery recovery, or NULL when off */
    wh_runners *runners;                /* long-polling claims waiting for work */
    struct sched_watch *watch;          /* wakes them when a job becomes claimable anywhere */
    wh_metrics metrics;
} wh_app;

/* The current runtime with a reference taken (never NULL while the server runs), and
 * the reference given back. Any thread; neither waits for anything but a pointer copy. */
wh_runtime *wh_runtime_get(wh_app *app);
void wh_runtime_put(wh_runtime *rt);

/* A decision on job id by actor (a Slack user id, or an operator's name) that every decision
 * path shares: the decider's region time for the cards (from rt, the request's runtime),
 * sched_job_decide, and a router and outbox kick so the build and the cards move at once.
 * approval_region is the job's (NULL: read it here; a caller that read the job already
 * passes it). sched_job_decide's answers. */
int wh_job_decide(wh_app *app, const wh_runtime *rt, const char *id, bool approve,
                  const char *actor, const char *reason, const char *approval_region,
                  char state[32], core_error *err);
/* wh_job_decide for a Slack click whose button carried card_key ("" for none): see
 * sched_job_decide_card (CORE_EAUTH for a card that is out of date). */
int wh_job_decide_card(wh_app *app, const wh_runtime *rt, const char *id, const char *card_key,
                       bool approve, const char *actor, const char *reason,
                       const char *approval_region, char state[32], core_error *err);

void wh_metrics_request(wh_metrics *m, wh_route route, int status, int64_t micros);
void wh_metrics_delivery(wh_metrics *m, wh_event_kind kind, wh_outcome outcome);
wh_event_kind wh_event_kind_of(const char *header);

/* Splits a comma-separated secret list into trimmed, non-empty entries (malloc'd);
 * the caller frees with wh_secrets_free, which wipes them first. */
int wh_secrets_split(const char *list, char ***out, size_t *n, core_error *err);
void wh_secrets_free(char **list, size_t n);

/* Parses api.tokens_env's value: entries "name:TOKEN" separated by commas or newlines
 * (blanks around them ignored); an entry without a ':' is an unnamed token of the old
 * form, named "operator". Names are 1 to 64 of A-Z a-z 0-9 . _ -; a name may hold several
 * tokens (rotation), but one token may not have two names. Messages name the entry by
 * its position, never show it. Free with wh_api_tokens_free, which wipes the tokens. */
#define WH_OPERATOR_DEFAULT_NAME "operator"
int wh_api_tokens_parse(const char *list, wh_api_token **out, size_t *n, core_error *err);
void wh_api_tokens_free(wh_api_token *tokens, size_t n);

/* Parses ZONECI_RUNNER_TOKENS: "tok1,tok2=apac-tokyo|emea-berlin". */
int wh_runner_tokens_parse(const char *list, wh_runner_token **out, size_t *n, core_error *err);
void wh_runner_tokens_free(wh_runner_token *tokens, size_t n);

/* The long-poll registry (webhooks/runners.c). */
int wh_runners_new(wh_runners **out, core_error *err);
/* A job became claimable in region: wakes the claim parked longest there (which passes
 * the wake on if it cannot use it); "" wakes every parked claim. Any thread. */
void wh_runners_wake(const char *region, void *runners);
/* Claims parked now, and claims resumed by a wake so far (this process). */
void wh_runners_stats(wh_runners *r, size_t *parked, uint64_t *woken);
/* Wakes every waiting claim and makes new ones answer at once (shutdown). */
void wh_runners_drain(wh_runners *r);
void wh_runners_free(wh_runners *r);

#endif
