/* notifier: zoneci's outbound HTTP. notify_http is a small synchronous client (Slack cards,
 * GitHub statuses, the runner's calls to the server) that keeps connections alive between
 * requests; notifier/http.c is the only file in zoneci that includes libcurl. */
#ifndef ZONECI_NOTIFIER_H
#define ZONECI_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

/* Hard caps on what a caller or a peer can make a request hold. */
#define NOTIFY_HTTP_MAX_BODY (4u * 1024 * 1024) /* response body bytes */
#define NOTIFY_HTTP_MAX_HEADERS 32              /* request headers given by the caller */
#define NOTIFY_HTTP_CONNECT_TIMEOUT_MS 10000L   /* at most; never more than the total */

/* One client per thread: a notify_http must not be used by two threads at once. It keeps
 * the connections of earlier requests open (HTTP/1.1 keep-alive, TCP keepalive probes on)
 * and reuses them for later requests to the same host.
 *
 * libcurl's rules, stated once: curl_global_init runs once, on the first notify_http_new;
 * no signal is used for timeouts (CURLOPT_NOSIGNAL), so a process that uses TLS must
 * ignore or block SIGPIPE itself; redirects are never followed (a 3xx is returned as it
 * is, so an Authorization header never travels to another host). */
typedef struct notify_http notify_http;

/* A response: status is the HTTP status; body holds at most NOTIFY_HTTP_MAX_BODY bytes and
 * is NUL-terminated (body.data is never NULL after a success); retry_after is the
 * value of the Retry-After header as sent (seconds or an HTTP date), or "" if absent or
 * too long to keep; link is the Link header (GitHub's paging), or "" likewise. */
#define NOTIFY_HTTP_LINK_MAX 2048
typedef struct notify_http_response {
    long status;
    core_buf body;
    char retry_after[32];
    char link[NOTIFY_HTTP_LINK_MAX];
} notify_http_response;

/* Creates a client. On failure *out stays NULL: CORE_ENOMEM, or CORE_EIO if libcurl cannot
 * be initialised. Any thread. */
int notify_http_new(notify_http **out, core_error *err);

/* Closes the client's connections and frees it; NULL does nothing. */
void notify_http_free(notify_http *h);

/* Lets the caller cut a request short: while a request is in flight, should_abort(ctx) is
 * called from the request's own thread about once a second (more often while data flows);
 * when it returns true the request fails with CORE_EAGAIN. Once the final response's
 * status line has arrived it is no longer asked: the server has acted on the request, and
 * its answer is read to the end. NULL removes it. The callback must not use h. */
void notify_http_set_abort(notify_http *h, bool (*should_abort)(void *ctx), void *ctx);

/* Performs one request and waits for the whole response.
 *
 * method is "GET", "POST", "PUT", "PATCH", "DELETE" or "HEAD"; url is http:// or
 * https://. headers is NULL or a NULL-terminated list of at most NOTIFY_HTTP_MAX_HEADERS
 * "Name: value" strings (no CR or LF); "Expect: 100-continue" is never sent, and no
 * Content-Type is made up: a body is sent without one unless the caller sets it. body
 * (len bytes, not copied, NULL for none) is sent as it is; POST, PUT and PATCH always
 * carry a Content-Length (0 without a body). Redirects are not followed. timeout_ms
 * (> 0) bounds the whole request, connection included.
 *
 * Returns 0 when a response arrived, whatever its status, and fills *out (free it with
 * notify_http_response_free). Otherwise *out is left empty (status 0) and:
 * CORE_EINVAL     bad method, URL or header;
 * CORE_EUNAVAILABLE the peer could not be reached, the connection broke, or timeout_ms
 *                 passed; the message names the host, never the URL's path, query or
 *                 credentials, nor any header value;
 * CORE_ETOOBIG    the response body is over NOTIFY_HTTP_MAX_BODY;
 * CORE_EAGAIN     the abort callback asked to stop;
 * CORE_ENOMEM.
 * The thread that owns h only. */
int notify_http_request(notify_http *h, const char *method, const char *url,
                        const char *const *headers, const char *body, size_t len, long timeout_ms,
                        notify_http_response *out, core_error *err);

/* Frees the body and empties r; an empty or zeroed response is fine. */
void notify_http_response_free(notify_http_response *r);

/* A Retry-After value (retry_after above) in seconds: at least 1, at most
 * NOTIFY_HTTP_RETRY_AFTER_MAX_S; an HTTP date or garbage counts as 1. Pure. */
#define NOTIFY_HTTP_RETRY_AFTER_MAX_S 3600
int notify_http_retry_after_seconds(const char *value);

/* ---- GitHub App: installation tokens and commit statuses (notifier/github.c) -----------
 * libjwt signs the App's JWT (RS256); jansson reads GitHub's answers. Neither appears in
 * this header. Every request goes through a caller's notify_http, so a notify_github may
 * be shared by threads that each bring their own client. */
typedef struct notify_github notify_github;

#define NOTIFY_GITHUB_DESC_MAX 140        /* characters in a status description (GitHub's cap) */
#define NOTIFY_GITHUB_KEY_MAX (16 * 1024) /* bytes of the App's PEM private key */
#define NOTIFY_GITHUB_CACHE_MAX 1024      /* installations whose token is kept */
#define NOTIFY_GITHUB_TIMEOUT_MS 15000L

/* Creates a client for one GitHub App. api_url is the REST API's base, "https://api.github.com"
 * or a GitHub Enterprise Server's "https://ghe.example.com/api/v3" (a trailing "/" is
 * ignored); app_id > 0 is the JWT's issuer; private_key_pem (key_len bytes, copied, wiped
 * on free) is the App's RSA private key in PEM. The key is tried once here, so a bad one
 * fails now: CORE_EINVAL (the message never quotes the key), CORE_ENOMEM. On failure *out
 * stays NULL. Any thread. */
int notify_github_new(notify_github **out, const char *api_url, int64_t app_id,
                      const char *private_key_pem, size_t key_len, core_error *err);

/* Wipes the key and the cached tokens and frees gh; NULL does nothing. No call on gh may
 * be running. */
void notify_github_free(notify_github *gh);

/* An installation token for installation_id, from the cache while it has more than five
 * minutes left at now_ms (Unix ms, injected so that tests can move time), else from
 * POST {api_url}/app/installations/{id}/access_tokens with a fresh JWT (iat now-60 s, exp
 * now+600 s, iss app_id), which is then cached. *token_out is malloc'd: the caller wipes
 * and frees it. Any thread, each with its own http; the cache is locked but no lock is
 * held during the request, so two threads may both fetch a token, and both are good.
 * Errors (*token_out NULL): those of notify_http_request, and CORE_EAUTH (401, 403: the
 * JWT was refused), CORE_ENOTFOUND (404: no such installation), CORE_EAGAIN (429, or 403
 * with Retry-After: rate-limited), CORE_EUNAVAILABLE (5xx), CORE_EINVAL (any other status,
 * or an answer without a token or a valid expires_at). Messages name the status and
 * GitHub's own message, never a token or the JWT. */
int notify_github_installation_token(notify_github *gh, notify_http *http, int64_t installation_id,
                                     int64_t now_ms, char **token_out, core_error *err);

/* Forgets the cached token of installation_id (after a 401 with it, say). Any thread. */
void notify_github_token_forget(notify_github *gh, int64_t installation_id);

/* Writes the JSON body of a commit status into out (appended to; core_buf rules): state
 * is "pending", "success", "failure" or "error"; description (NULL is "") is cleaned
 * (control characters dropped, invalid UTF-8 replaced, newlines made spaces) and cut to
 * NOTIFY_GITHUB_DESC_MAX characters, ending in "…" when cut; target_url (NULL or "" for
 * none) is the job's page; the context is always "zoneci". Returns 0, CORE_EINVAL (bad
 * state, or a target_url that is not http(s)), CORE_ENOMEM. Pure; any thread. */
int notify_github_status_body(const char *state, const char *description, const char *target_url,
                              core_buf *out);

/* POSTs body (from notify_github_status_body) to {api_url}/repos/{owner}/{repo}/statuses/
 * {sha} with the installation's token (fetched or cached as above). repo is "owner/name";
 * sha is 40 (or 64) hex digits. Errors: CORE_EINVAL for a bad repo or sha (before any
 * request), those of notify_github_installation_token, and for the status call itself
 * CORE_EAUTH (401: the cached token is forgotten, so a retry fetches a new one; 403),
 * CORE_ENOTFOUND (404: the App cannot see the repository), CORE_EINVAL (422: GitHub does
 * not know the sha, or refused the body), CORE_EAGAIN (429, or 403 with Retry-After:
 * *retry_after_s, NULL allowed, holds the seconds; 0 otherwise), CORE_EUNAVAILABLE (5xx).
 * Any thread, each with its own http. */
int notify_github_post_status(notify_github *gh, notify_http *http, int64_t installation_id,
                              const char *repo, const char *sha, const char *body, int64_t now_ms,
                              int *retry_after_s, core_error *err);

/* Creates (run_id 0: POST {api_url}/repos/{repo}/check-runs, *run_id_out receives the new
 * run's id) or updates (PATCH .../check-runs/{run_id}) a check run with body, a JSON object
 * as notify_check_body builds. Errors as notify_github_post_status's, plus CORE_EINVAL for
 * a created run whose answer has no id. Any thread, each with its own http. */
int notify_github_check_run(notify_github *gh, notify_http *http, int64_t installation_id,
                            const char *repo, int64_t run_id, const char *body, int64_t now_ms,
                            int64_t *run_id_out, int *retry_after_s, core_error *err);

/* ---- GitHub App: its webhook deliveries (notifier/github.c) -----------------------------
 * GitHub keeps an App's deliveries for 3 days and never retries a failed one by itself.
 * Both calls authenticate with the App's JWT (no installation token, no permission). */
#define NOTIFY_GITHUB_GUID_MAX 128
#define NOTIFY_GITHUB_DELIVERIES_PER_PAGE 100

/* One delivery of the list, as GitHub describes it. */
typedef struct notify_github_delivery {
    int64_t id;                            /* the delivery's id (grows with time) */
    char guid[NOTIFY_GITHUB_GUID_MAX + 1]; /* X-GitHub-Delivery; a redelivery keeps it */
    char event[64];                        /* "pull_request", ... */
    char action[64];                       /* "opened", ...; "" when none */
    int status_code;                       /* the answer it got; 0 when none */
    bool redelivery;
    int64_t delivered_ms; /* delivered_at, Unix ms */
} notify_github_delivery;

/* GETs one page of the App's deliveries, newest first: {api_url}/app/hook/deliveries?
 * per_page=100 when page_url is NULL or "", else page_url, the next link of an earlier
 * page, which must start with {api_url}/app/hook/deliveries (the JWT goes nowhere else:
 * CORE_EINVAL). *items (malloc'd, free() it; NULL when *n is 0) holds the entries that
 * have an id, a delivery-id-shaped guid, an event and a delivered_at; others are left
 * out. next_url (NOTIFY_HTTP_LINK_MAX bytes) receives the Link header's rel="next", or
 * "" on the last page. Errors as notify_github_post_status's (a 401 is CORE_EAUTH), and
 * CORE_EINVAL for an answer that is not a JSON array. The thread that owns http. */
int notify_github_deliveries_page(notify_github *gh, notify_http *http, const char *page_url,
                                  int64_t now_ms, notify_github_delivery **items, size_t *n,
                                  char *next_url, int *retry_after_s, core_error *err);

/* POSTs {api_url}/app/hook/deliveries/{id}/attempts: GitHub sends delivery id again, with
 * its original GUID and payload. 0 on 202 (or any 2xx); errors as above. */
int notify_github_redeliver(notify_github *gh, notify_http *http, int64_t delivery_id,
                            int64_t now_ms, int *retry_after_s, core_error *err);

/* ---- Slack: approval cards (notifier/slack.c) -------------------------------------------
 * Cards are Block Kit JSON posted with chat.postMessage and changed with chat.update, with
 * the bot token. Builders are pure; the calls go through a caller's notify_http. */
#define NOTIFY_SLACK_MAX_BLOCKS 50   /* Slack's cap per message */
#define NOTIFY_SLACK_MAX_TEXT 3000   /* characters in a section's text (Slack's cap) */
#define NOTIFY_SLACK_MAX_FINDINGS 10 /* findings shown; the rest are counted */
#define NOTIFY_SLACK_MAX_EXCERPT 300 /* characters of a statement shown */
#define NOTIFY_SLACK_TS_MAX 32       /* a message's ts ("1712345678.123456") plus NUL */
#define NOTIFY_SLACK_TIMEOUT_MS 15000L
#define NOTIFY_SLACK_ACTION_APPROVE "zoneci_approve"
#define NOTIFY_SLACK_ACTION_REJECT "zoneci_reject"

/* One finding of the migration inspection, as plain text. */
typedef struct notify_finding {
    const char *rule;        /* e.g. "add-column-default" */
    const char *severity;    /* "danger", "warning", "info" */
    const char *path;        /* the migration file */
    int line;                /* 1-based; 0 when unknown */
    const char *statement;   /* the statement (an excerpt is shown) */
    const char *safer;       /* the safer alternative; NULL when none */
    const char *suppression; /* the reason of a "zoneci:ignore" that covers it; NULL if none */
    const char *message;     /* why it is risky; NULL when not known (cards do not show it) */
} notify_finding;

typedef enum notify_card_decision {
    NOTIFY_CARD_OPEN = 0, /* buttons shown */
    NOTIFY_CARD_APPROVED,
    NOTIFY_CARD_REJECTED,
} notify_card_decision;

/* Everything a card shows, as plain text: the builder escapes what Slack would read as
 * markup. Pointers are borrowed for the call. */
typedef struct notify_card {
    const char *repo; /* "owner/name" */
    int pr_number;
    const char *title;
    const char *pr_url;
    const char *author;          /* GitHub login */
    const char *head_sha;        /* shown as its first 7 characters */
    const char *region;          /* the approving region */
    const char *plan;            /* the routing plan, free text (may hold newlines) */
    const char *const *mentions; /* Slack user ids of the region's on-call people */
    size_t n_mentions;
    const char *const *files; /* migration files */
    size_t n_files;
    const notify_finding *findings; /* most severe first, suppressed last, else in order */
    size_t n_findings;
    const char *job_id;   /* the buttons' value: 1..255 characters of [A-Za-z0-9._:-] */
    const char *card_key; /* the job's random card key, or NULL / "" (a job from before
                           * card keys): the value is then "JOB_ID:CARD_KEY", so a card
                           * still in a channel after Redis was wiped cannot decide a new
                           * job that got the same id */
    /* Later states of the card. */
    notify_card_decision decision;
    const char *decided_by;   /* Slack user id of the decider (a mention), or another name
                               * (an operator token's name: decided through the API), shown
                               * as text */
    const char *decided_at;   /* pre-formatted, in the decider's region time */
    const char *escalated_to; /* the region it was escalated to, or NULL */
    const char *closed;       /* why no decision is needed any more ("superseded by a newer
                               * push"), or NULL: an open card then shows it, no buttons */
} notify_card;

/* Appends the card's Block Kit blocks (a JSON array) to out. Lists and texts are cut to
 * fit Slack's limits (NOTIFY_SLACK_MAX_BLOCKS blocks, NOTIFY_SLACK_MAX_TEXT characters per
 * text) and say "…and N more" when cut. An open card ends with Approve (primary, action
 * NOTIFY_SLACK_ACTION_APPROVE) and Reject (danger, with a confirm dialog, action
 * NOTIFY_SLACK_ACTION_REJECT) buttons whose value is job_id, or "job_id:card_key" with a
 * card key (the whole value within the job_id rule); a decided card shows who
 * decided and when instead; an escalated one says where it went. Returns 0, CORE_EINVAL
 * (no repo or job_id, a job_id or mention of the wrong shape, a decision without a
 * decider), CORE_ENOMEM. Pure;
 * any thread. */
int notify_slack_card(const notify_card *card, core_buf *out);

/* The card once decided: a copy of card with decision (NOTIFY_CARD_APPROVED or
 * NOTIFY_CARD_REJECTED), decider (as decided_by) and when_local (e.g. "2026-03-09 10:30
 * PST") set, built as notify_slack_card does. */
int notify_slack_card_decided(const notify_card *card, notify_card_decision decision,
                              const char *decider, const char *when_local, core_buf *out);

/* The original card once escalated to region, with its buttons still there: a decision
 * on either card counts. Built as notify_slack_card does. */
int notify_slack_card_escalated(const notify_card *card, const char *region, core_buf *out);

/* POSTs {api_url}/chat.postMessage (api_url like "https://slack.com/api", trailing "/"
 * ignored) with the bot token as a Bearer token: channel, blocks_json (a JSON array, as
 * built above) and fallback_text (notifications and screen readers). On success writes
 * the message's ts into ts_out, to update it later. retry_after_s (NULL allowed) is set
 * to 0, or to the seconds Slack asked to wait.
 * Errors: CORE_EINVAL (blocks_json not a JSON array, or Slack refused the message:
 * invalid_blocks, msg_too_long...), CORE_EAUTH (invalid_auth, not_in_channel,
 * missing_scope...), CORE_ENOTFOUND (channel_not_found), CORE_EAGAIN (429 or ratelimited:
 * *retry_after_s holds Retry-After, at least 1), CORE_EUNAVAILABLE (5xx, internal_error),
 * and those of notify_http_request. Slack's error code is in the message; the token never
 * is. The thread that owns http. */
int notify_slack_post(notify_http *http, const char *api_url, const char *bot_token,
                      const char *channel, const char *blocks_json, const char *fallback_text,
                      char ts_out[NOTIFY_SLACK_TS_MAX], int *retry_after_s, core_error *err);

/* POSTs {api_url}/chat.update for the message ts in channel with new blocks and text; the
 * same errors as notify_slack_post, plus CORE_ENOTFOUND for message_not_found. */
int notify_slack_update(notify_http *http, const char *api_url, const char *bot_token,
                        const char *channel, const char *ts, const char *blocks_json,
                        const char *fallback_text, int *retry_after_s, core_error *err);

/* ---- Slack: answers to a click through its response_url (notifier/respond.c) -----------
 * Slack shows nothing that comes back in the HTTP answer to a block_actions click; what
 * the clicker should read (why a click was refused, or came too late) is POSTed to the
 * click's response_url as {"response_type":"ephemeral","replace_original":false,"text"}.
 * Slack takes up to 5 of these per URL within 30 minutes of the click, without any
 * Authorization header (the URL is the credential). */
#define NOTIFY_SLACK_RESPONSE_URL_MAX 1024
/* How long an answer is worth sending: under response_url's 30 minutes, so that a retry
 * never knocks on a URL Slack has already expired, and a clicker never reads an answer
 * about a click they made half an hour ago. */
#define NOTIFY_SLACK_RESPONSE_TTL_MS (20LL * 60 * 1000)
/* Deliveries tried at most: Slack's 5 uses of a response_url. */
#define NOTIFY_SLACK_RESPONSE_ATTEMPTS 5

/* Whether url may receive a click's answer: an https URL on Slack's response_url hosts
 * (hooks.slack.com, hooks.slack-gov.com; port 443 only), or one whose scheme, host and
 * port are exactly those of api_url (the configured Slack Web API: a proxy, a gateway, a
 * test peer; NULL for none). Always refused: anything over NOTIFY_SLACK_RESPONSE_URL_MAX,
 * control characters, spaces, backslashes and non-ASCII bytes, userinfo ("user@"),
 * percent signs or brackets in the host, a trailing dot, no path, a fragment. why (NULL
 * allowed) receives a static phrase saying what is wrong. Pure; any thread. */
bool notify_slack_response_url_ok(const char *url, const char *api_url, const char **why);

/* POSTs text as an ephemeral answer to url, after checking it with
 * notify_slack_response_url_ok (CORE_EINVAL before any request when refused). 0 on a 2xx;
 * CORE_EAGAIN on 429 (*retry_after_s, NULL allowed, holds Retry-After), CORE_ENOTFOUND on
 * 404 or 410 (expired or used up), CORE_EUNAVAILABLE on 5xx, CORE_EINVAL on any other
 * status, and those of notify_http_request. The thread that owns http. */
int notify_slack_respond(notify_http *http, const char *url, const char *api_url, const char *text,
                         int *retry_after_s, core_error *err);

/* ---- GitHub App: the migrations check run (notifier/checks.c) ---------------------------
 * A job's inspection shows on its pull request as the check run NOTIFY_CHECK_NAME on the
 * head SHA: in progress while zoneci reads the diff, then completed with the report, a
 * Markdown summary and one annotation per finding on its file and line. */
#define NOTIFY_CHECK_NAME "zoneci / migrations"
#define NOTIFY_CHECK_ANNOTATIONS_PER_REQUEST 50 /* GitHub's cap per create or update */
#define NOTIFY_CHECK_SUMMARY_MAX 65535          /* characters of output.summary (GitHub's cap) */
#define NOTIFY_CHECK_TITLE_MAX 255              /* characters of a title (ours) */
#define NOTIFY_CHECK_MESSAGE_MAX 4000           /* characters of an annotation's message */

/* A job as its check run shows it; everything borrowed, "" or NULL when absent. */
typedef struct notify_check_job {
    const char *job_id;   /* the run's external_id */
    const char *head_sha; /* 40 or 64 hex digits */
    const char *state;    /* the job's state */
    const char *decision; /* "approved", "rejected" or "" */
    const char *reason;   /* the job's reason: GitHub words ("approved by @octocat") */
    const char *approval_region, *approval_oncall; /* who is asked; on-call as GitHub words */
    const char *plan;                              /* the routing plan once approved */
    const char *details_url;                       /* the job's page, or NULL */
    const char *const *files;                      /* the migration files */
    size_t n_files;
    const notify_finding *findings; /* every finding, suppressed ones too, report order */
    size_t n_findings;
    const char *completed_at; /* ISO 8601 UTC, for a completed run */
} notify_check_job;

/* The conclusion job's run takes: NULL while it is inspected (received, inspecting: the
 * run is in progress), "action_required" while it awaits a decision, "failure" when
 * rejected, "cancelled" when superseded or cancelled before a decision, else "success"
 * (nothing risky, or approved). Pure. */
const char *notify_check_conclusion(const notify_check_job *job);

/* The annotations a completed run carries: the findings that are not suppressed. Pure. */
size_t notify_check_annotation_count(const notify_check_job *job);

/* Appends the JSON body of one check-run request to out. create adds name, head_sha,
 * external_id and details_url (a PATCH repeats only what changes). The run is in progress
 * or completed (then with its conclusion, completed_at and output: title, the Markdown
 * summary of NOTIFY_CHECK_SUMMARY_MAX characters at most, and annotations first ..
 * first+NOTIFY_CHECK_ANNOTATIONS_PER_REQUEST-1 of notify_check_annotation_count's, whose
 * number goes to *n_annotations). Every text from outside is escaped for Markdown and cut
 * at a character. 0, CORE_EINVAL (no job id or a bad head sha), CORE_ENOMEM. Pure. */
int notify_check_body(const notify_check_job *job, bool create, size_t first, core_buf *out,
                      size_t *n_annotations);

/* ---- the outbox's delivery workers (notifier/outbox.c) ----------------------------------
 * A pool of threads, in every zoneci process, that delivers the messages the scheduler
 * records in its outbox (scheduler.h, sched_outbox_*): each worker owns a notify_http
 * (connections reused), takes one due message at a time under a lease, delivers it by
 * kind and marks it done, or fails it with exponential backoff and full jitter (a
 * peer's Retry-After wins when longer) until max_attempts, when it is dead-lettered.
 * Kinds and their JSON payloads:
 *   github_status  {"installation_id", "repo", "sha", "state", "description"?, "target_url"?}
 *   slack_post     {"channel", "blocks" (array, or its JSON text), "text"}
 *   slack_update   {"channel", "ts", "blocks", "text"}
 *   slack_card     {"job_id", "card"}: card N of a job awaiting approval, rendered from
 *                  the job when delivered (scheduler.h, approvals); its ts is kept
 *   slack_card_update {"job_id", "cards"}: the job's first N cards, rendered again
 *   github_check   {"job_id"}: the job's check run brought up to date with the job as it
 *                  is when delivered: created in progress while inspected, then completed
 *                  (created so if need be) with the report; the annotations go out in
 *                  batches of NOTIFY_CHECK_ANNOTATIONS_PER_REQUEST, each counted in the job
 *                  once GitHub took it, so a retry sends only the rest
 *   slack_response {"url", "text"}: an ephemeral answer to a click (notify_slack_respond);
 *                  the URL is checked again before sending (Redis is not trusted with
 *                  where zoneci sends things), at most NOTIFY_SLACK_RESPONSE_ATTEMPTS tries,
 *                  and dead once NOTIFY_SLACK_RESPONSE_TTL_MS old instead of sent late
 * A payload that is not valid for its kind, one the peer refuses as invalid (CORE_EINVAL:
 * a 422, Slack's invalid_blocks) or whose target is not there (CORE_ENOTFOUND) is dead at
 * once: retrying cannot help. */
struct sched_store;
typedef struct notify_outbox notify_outbox;

typedef struct notify_outbox_config {
    const char *github_api_url; /* NULL: github_status messages fail (not configured) */
    int64_t github_app_id;
    const char *github_private_key; /* PEM bytes, copied; NULL: not configured */
    size_t github_key_len;
    const char *slack_api_url;   /* e.g. "https://slack.com/api"; NULL: not configured */
    const char *slack_bot_token; /* copied; NULL: slack messages fail (not configured) */
    size_t n_workers;            /* threads; 0 means 2 */
    int max_attempts;            /* deliveries tried before a message is dead; 0 means 10 */
    int lease_ms;                /* how long a taken message is a worker's; 0 means 60000 */
    int poll_ms;                 /* how often an idle worker looks for due messages; 0: 1000 */
    const char *public_url;      /* base of job pages for check runs' details; NULL: none */
} notify_outbox_config;

/* Counters since start, for /metrics. */
typedef struct notify_outbox_stats {
    uint64_t delivered;
    uint64_t retried;
    uint64_t dead;
} notify_outbox_stats;

/* Starts the pool. store is borrowed and must outlive the pool; cfg's strings are copied.
 * Fails with CORE_EINVAL for a private key notify_github_new refuses, CORE_ENOMEM,
 * CORE_EIO (a thread could not start). On failure *out stays NULL. */
int notify_outbox_start(notify_outbox **out, struct sched_store *store,
                        const notify_outbox_config *cfg, core_error *err);
/* Replaces the credentials (cfg's github_*, slack_* and public_url, copied; the other fields are
 * ignored): deliveries in flight finish with the old ones, the next ones use these. Never
 * waits for a delivery. CORE_EINVAL (a key notify_github_new refuses) or CORE_ENOMEM
 * leave the old ones in force. Any thread. */
int notify_outbox_set_credentials(notify_outbox *ob, const notify_outbox_config *cfg,
                                  core_error *err);
/* A message was put: wake a worker now instead of at its next poll. Never blocks for
 * long: safe on request threads. */
void notify_outbox_kick(notify_outbox *ob);
/* Counters so far. Any thread. */
void notify_outbox_stats_get(notify_outbox *ob, notify_outbox_stats *out);
/* Stops the workers (a request in flight is cut short and its message handed back, due
 * at once), joins them and frees the pool. NULL does nothing. */
void notify_outbox_stop(notify_outbox *ob);

/* ---- delivery recovery (notifier/redeliver.c) -------------------------------------------
 * GitHub does not retry a failed delivery. A run lists the App's recent deliveries (newest
 * first, paging through Link: rel="next") back to the high-water mark of the last complete
 * run, and never further than 3 days; each pull_request delivery that failed (no answer,
 * 408, 429 or 5xx) and whose GUID intake never recorded, nor an earlier run asked for, is
 * asked for again (POST .../attempts), at most max_per_run per run with pause_ms between
 * two. One run at a time across every process (sched_redelivery_lock). A GitHub refusal
 * (4xx, 5xx, 429 with its Retry-After) ends the run; the GUID it was about is asked for
 * again next run. The mark moves only after a complete run, and never past a delivery
 * less than 5 minutes old (one started before it may not be listed yet). */
#define NOTIFY_REDELIVER_MAX_PER_RUN 20
#define NOTIFY_REDELIVER_PAUSE_MS 250
#define NOTIFY_REDELIVER_MAX_PAGES 30
#define NOTIFY_REDELIVER_LOOKBACK_MS (3LL * 24 * 3600 * 1000)

typedef struct notify_redeliver_limits {
    int max_per_run; /* 0 means NOTIFY_REDELIVER_MAX_PER_RUN */
    int pause_ms;    /* 0 means NOTIFY_REDELIVER_PAUSE_MS; negative: none */
    int max_pages;   /* 0 means NOTIFY_REDELIVER_MAX_PAGES */
    /* Polled between requests and during pauses: true ends the run early (shutdown). */
    bool (*should_stop)(void *ctx);
    void *stop_ctx;
} notify_redeliver_limits;

typedef enum notify_redeliver_outcome {
    NOTIFY_REDELIVER_COMPLETE = 0, /* reached the mark, 3 days back or the list's end */
    NOTIFY_REDELIVER_PARTIAL,      /* stopped at max_per_run or max_pages (or stop asked) */
    NOTIFY_REDELIVER_FAILED,       /* GitHub or Redis refused: try next time */
    NOTIFY_REDELIVER_LOCKED,       /* another process is running one */
    NOTIFY_REDELIVER_OUTCOMES
} notify_redeliver_outcome;

typedef struct notify_redeliver_result {
    notify_redeliver_outcome outcome;
    int pages;
    int examined;      /* deliveries newer than the mark and the 3-day bound */
    int accepted;      /* failed deliveries whose GUID intake recorded after all */
    int asked_before;  /* failed deliveries asked for by an earlier run (or this one) */
    int requested;     /* redeliveries GitHub accepted in this run */
    int refused;       /* redelivery requests GitHub refused (at most 1: the run stops) */
    int retry_after_s; /* GitHub's Retry-After on a rate limit, else 0 */
    int64_t mark;      /* the high-water mark after the run */
} notify_redeliver_result;

/* One run at now_ms (Unix ms; the 3-day bound and the JWT use it). Logs one line per
 * redelivery and one for the run. Returns 0 for COMPLETE, PARTIAL and LOCKED; the error
 * that ended a FAILED run otherwise (*out is filled either way). The thread that owns
 * http. */
int notify_redeliver_run(struct sched_store *store, notify_github *gh, notify_http *http,
                         const notify_redeliver_limits *limits, int64_t now_ms,
                         notify_redeliver_result *out, core_error *err);

/* A thread per process that runs at start, after Redis comes back from errors (the
 * store's error count moved and a PING answers again), and every check_seconds. */
typedef struct notify_redeliver notify_redeliver;

typedef struct notify_redeliver_stats {
    uint64_t runs[NOTIFY_REDELIVER_OUTCOMES];
    uint64_t requested; /* redeliveries GitHub accepted */
    uint64_t refused;   /* requests GitHub refused (retried next run) */
} notify_redeliver_stats;

/* Starts the thread. store and gh are borrowed and must outlive it; check_seconds > 0.
 * CORE_ENOMEM, CORE_EIO (no thread). */
int notify_redeliver_start(notify_redeliver **out, struct sched_store *store, notify_github *gh,
                           int check_seconds, const notify_redeliver_limits *limits,
                           core_error *err);
void notify_redeliver_stats_get(notify_redeliver *rd, notify_redeliver_stats *out);
/* Ends a run in flight early, joins the thread and frees it. NULL does nothing. */
void notify_redeliver_stop(notify_redeliver *rd);

#endif
