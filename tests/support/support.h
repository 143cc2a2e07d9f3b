/* Test support: throwaway redis-server and zoneci processes, temp dirs, a libcurl client,
 * and signing helpers. Everything here is real: real processes, real sockets. */
#ifndef ZONECI_TEST_SUPPORT_H
#define ZONECI_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A fresh temporary directory (mkdtemp under $TMPDIR); the caller frees the string and
 * may remove the tree with ts_rmtree. Aborts the test on failure. */
char *ts_tmpdir(void);
void ts_rmtree(const char *dir);
/* Writes content to dir/name; returns the malloc'd path. */
char *ts_write_file(const char *dir, const char *name, const char *content);
/* Reads a file into a malloc'd NUL-terminated string, or NULL. */
char *ts_read_file(const char *path, size_t *len);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int ts_free_port(void);
/* Polls pred(ctx) every few milliseconds until it is true or timeout_ms passes. */
bool ts_wait_until(bool (*pred)(void *ctx), void *ctx, int timeout_ms);

/* A redis-server on a unix socket in its own temp dir (AOF optional). */
typedef struct ts_redis {
    pid_t pid;
    char *dir;
    char url[600]; /* unix:///.../redis.sock */
    char socket[512];
    bool aof;
} ts_redis;

ts_redis *ts_redis_start(bool aof);
void ts_redis_stop(ts_redis *r);   /* SIGKILL and wait; the dir stays */
void ts_redis_resume(ts_redis *r); /* start again in the same dir */
void ts_redis_free(ts_redis *r);   /* stop if running and remove the dir */
/* Runs one redis-cli command against r and returns its trimmed output (malloc'd). */
char *ts_redis_cli(ts_redis *r, const char *args);

/* A `zoneci` child process (ZONECI_BIN, default build/zoneci). */
typedef struct ts_proc {
    pid_t pid;
    char log[512]; /* stderr of the child */
} ts_proc;

/* Starts `zoneci ARGV...` with extra environment entries (NULL-terminated "K=V" list).
 * For `serve`, waits until GET base_url/healthz answers 200. */
ts_proc *ts_zoneci_spawn(char *const argv[], char *const env[], const char *log_dir,
                         const char *wait_url);
/* Sends sig and waits for exit; returns the exit status as waitpid gives it. */
int ts_proc_signal_wait(ts_proc *p, int sig);
void ts_proc_free(ts_proc *p);
/* Runs `zoneci ARGV...` to completion, capturing stdout and stderr (malloc'd) and the
 * exit code. */
int ts_zoneci_run(char *const argv[], char *const env[], char **out, char **errout);

/* HTTP through libcurl. */
typedef struct ts_response {
    long status;
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
    char *headers;
} ts_response;

/* headers is a NULL-terminated list of "Name: value". Returns 0, or -1 if the request
 * could not be made (connection refused...). */
int ts_http(const char *method, const char *url, const char *const *headers, const char *body,
            size_t len, ts_response *out);
void ts_response_free(ts_response *r);

/* A new notifier HTTP client (notify_http_free it); aborts the test when it cannot. */
struct notify_http;
struct notify_http *ts_notify_client(void);

/* GET base/api/v1/jobs/ID, with "Authorization: Bearer token" unless token is NULL: the
 * job's JSON, parsed (json_decref it). Aborts the test unless the answer is 200 JSON. */
struct json_t;
struct json_t *ts_job_get(const char *base, const char *id, const char *token);
/* Polls the job until its state is `state`; false after timeout_ms. */
bool ts_job_wait_state(const char *base, const char *id, const char *token, const char *state,
                       int timeout_ms);

/* "sha256=<hex>" of HMAC-SHA256(secret, body) into out (at least 72 bytes). */
void ts_github_signature(const char *secret, const char *body, size_t len, char *out);
/* "v0=<hex>" of HMAC-SHA256(secret, "v0:" ts ":" body) into out (at least 72 bytes). */
void ts_slack_signature(const char *secret, const char *ts, const char *body, size_t len,
                        char *out);

/* A pull_request payload (title with a quote and a newline, installation 42). */
char *ts_pr_payload(const char *action, int number, const char *sha, bool draft, const char *repo);
/* POSTs body to base/webhooks/github as a GitHub delivery of event, signed with secret
 * (NULL: no signature header), with delivery id (NULL: none); returns the status and,
 * when body_out is not NULL, the response body (malloc'd). Aborts the test if the
 * request cannot be made. */
long ts_post_github(const char *base, const char *event, const char *delivery, const char *body,
                    size_t len, const char *secret, char **body_out);

/* Runs a shell command built with printf; aborts the test when it fails. */
void ts_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `git -C repo rev-parse name`: the commit id (malloc'd). */
char *ts_git_rev(const char *repo, const char *name);

/* A scheduler on a throwaway redis-server: a store whose keys start with "{prefix}:", the
 * configuration parsed from config_text (a JSON object; "cache_dir" is added, a fresh
 * temp dir) and its routing plan. Aborts the test on any failure. */
struct sched_store;
struct policy_config;
struct sched_plan;
typedef struct ts_sched {
    ts_redis *redis;
    struct sched_store *store;
    struct policy_config *cfg;
    struct sched_plan *plan;
    char *dir;
} ts_sched;

void ts_sched_start(ts_sched *s, const char *prefix, const char *config_text);
void ts_sched_stop(ts_sched *s);

/* Points glibc's local time at tz (setenv TZ + tzset), remembering the TZ in force the first
 * time; ts_tz_restore puts it back. Single-threaded tests only. */
void ts_tz_use(const char *tz);
void ts_tz_restore(void);

/* The instant an ISO 8601 string names ("2026-03-09T01:00:00Z"); aborts the test when it
 * does not parse. */
int64_t ts_iso(const char *s);

/* A 2048-bit RSA private key in PEM (a GitHub App's), made once per process. */
const char *ts_rsa_key_pem(void);

/* Path of the shared fixtures (ZONECI_FIXTURES or ../shared/fixtures); NULL if absent. */
const char *ts_fixtures_dir(void);

/* A local HTTP server that plays an outside service (GitHub, Slack, the zoneci API for
 * the runner): zoneci reaches it through its production code path by base URL. Every
 * request is read whole, then handed to the handler, one request at a time (the peer's
 * lock is held: a handler may read and write the ctx it shares with the test, and the
 * test takes the same lock with ts_peer_lock). */
typedef struct ts_peer ts_peer;
struct MHD_Connection;

typedef struct ts_peer_request {
    const char *method;
    const char *url;  /* the path, without the query */
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    const char *authorization; /* the Authorization header, or "" */
    const char *content_type;  /* the Content-Type header, or "" */
    /* Any request header by name (case-insensitive), or NULL when the request has none. */
    const char *(*header)(const struct ts_peer_request *req, const char *name);
    /* A query argument by name (?cursor=...), or NULL when the URL has none. */
    const char *(*arg)(const struct ts_peer_request *req, const char *name);
    /* The peer numbers its connections 1, 2, ... as it accepts them: requests that share a
     * number came on one (reused) connection. */
    unsigned connection;
    struct MHD_Connection *conn; /* what header reads; handlers need not touch it */
} ts_peer_request;

typedef struct ts_peer_answer {
    unsigned status;          /* 200 unless the handler says otherwise */
    char body[8192];          /* "" unless the handler writes one */
    const char *content_type; /* "application/json" unless set */
    const char *retry_after;  /* a Retry-After header, or NULL */
    char link[512];           /* a Link header (GitHub's paging), or "" */
    int delay_ms;             /* wait this long before answering (timeouts) */
    /* Bytes of any size to send instead of body (NULL: body). Copied when the handler
     * returns: data may point into req or the handler's ctx. */
    const void *data;
    size_t data_len;
    bool chunked; /* send without Content-Length, as a stream of unknown size */
} ts_peer_answer;

typedef void (*ts_peer_handler)(void *ctx, const ts_peer_request *req, ts_peer_answer *ans);

/* Starts a peer on a free port of 127.0.0.1; aborts the test when it cannot. */
ts_peer *ts_peer_start(ts_peer_handler handler, void *ctx);
/* "http://127.0.0.1:PORT" (no trailing slash). */
const char *ts_peer_base(const ts_peer *p);
int ts_peer_port(const ts_peer *p);
/* The lock the handler runs under, for tests that read what it recorded. */
void ts_peer_lock(ts_peer *p);
void ts_peer_unlock(ts_peer *p);
/* Stops the server (waits for requests in flight) and frees it; NULL does nothing.
 * An answer still in its delay_ms goes out at once, so stopping never waits a delay out. */
void ts_peer_stop(ts_peer *p);

#endif
