/* `zoneci runner ... -- COMMAND ARGS...`: the reference build runner. It long-polls the
 * server for a job of its region, runs COMMAND for it in a process group of its own with
 * the job in the environment, renews the lease while the command runs and reports how it
 * ended. One thread: stop signals and SIGCHLD stay blocked and are taken with sigtimedwait,
 * so no handler ever runs and no call is ever interrupted. docs/runner.md is the contract. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/core.h"
#include "notifier/notifier.h"

extern char **environ;

#define WAIT_SECONDS_MAX 30
#define LABELS_MAX 32
#define FIELD_MAX 64          /* a region, a label */
#define SERVER_MAX 1024       /* --server's length */
#define TOKEN_MAX 4096        /* the token's length */
#define JOB_ID_MAX 64         /* a job id, which goes into URL paths */
#define LEASE_ID_MAX 128      /* a lease id */
#define LEASE_DEFAULT_S 120   /* when the claim answer does not say */
#define CLAIM_SLACK_MS 15000  /* beyond wait_seconds, for the server and the network */
#define CALL_TIMEOUT_MS 10000 /* heartbeat and complete, at most */
#define MIN_CLAIM_GAP_MS 1000 /* between claims that come back empty at once */
#define BACKOFF_FIRST_MS 200  /* retry delays double from here... */
#define BACKOFF_MAX_MS 10000  /* ...up to here */
#define REPORT_MIN_MS 30000   /* a completion is retried at least this long */
#define KILL_GRACE_MS 10000   /* SIGTERM, then SIGKILL this much later */
#define WAIT_SLICE_MS 60000   /* longest sigtimedwait, as a backstop */
#define RELEASE_TRIES 3       /* giving back a job granted while stopping */

static const char usage_text[] =
    "usage: zoneci runner --server URL --token-env VAR --region REGION [--labels a,b]\n"
    "                     [--name NAME] [--wait-seconds N] [--once] -- COMMAND [ARGS...]\n";

typedef struct options {
    char server[SERVER_MAX + 1]; /* without trailing slashes */
    const char *token_env;
    const char *token;
    const char *region;
    const char *labels[LABELS_MAX];
    size_t n_labels;
    char *labels_copy; /* labels point into it */
    char name[256];
    int wait_seconds;
    bool once;
    char **command;
} options;

typedef struct runner {
    options opt;
    notify_http *http;
    char *auth;       /* "Authorization: Bearer TOKEN": never logged */
    char *claim_body; /* the same for every claim */
    sigset_t stop_set;
    sigset_t wait_set; /* stop_set and SIGCHLD */
    int stops;         /* stop signals taken so far */
    bool claiming;     /* a first stop signal cuts a claim short, not a job's calls */
    uint64_t rng;
} runner;

/* What a claim hands over. The strings point into root. */
typedef struct job {
    json_t *root;
    char id[JOB_ID_MAX + 1];
    char lease_id[LEASE_ID_MAX + 1];
    const char *repo, *head_sha, *base_sha, *head_ref, *clone_url, *lease_expires;
    json_int_t pr, attempts, fencing_token, lease_seconds;
    pid_t pid;
    int64_t lease_end; /* monotonic ms by which the lease, as last renewed, runs out */
    int exit_code;     /* of the command, or -1 when a signal ended it */
    int term_signal;   /* the signal that ended it, or 0 */
} job;

enum { CLAIM_JOB, CLAIM_NONE, CLAIM_RETRY, CLAIM_REFUSED, CLAIM_STOPPED };
enum { HB_OK, HB_CANCEL, HB_LOST, HB_RETRY };
enum { END_EXITED, END_CANCELLED, END_LEASE_LOST, END_FORCED };
enum { RUN_REPORTED, RUN_UNREPORTED, RUN_FATAL };

/* ---- arguments -------------------------------------------------------------------------- */

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("zoneci runner: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(usage_text, stderr);
    return 2;
}

static bool chars_in(const char *s, const char *extra, bool upper, bool lower)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (!(isdigit(c) || (upper && isupper(c)) || (lower && islower(c)) || strchr(extra, c)))
            return false;
    }
    return true;
}

/* Printable ASCII without spaces: what fits in a log line unquoted and in a header. */
static bool visible(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s >= 127)
            return false;
    }
    return true;
}

static int check_server(options *o, const char *url)
{
    size_t len = strlen(url);
    const char *host;

    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return bad_usage("--server: \"%.64s\" is not an http:// or https:// URL", url);
    if (len > SERVER_MAX || !visible(url))
        return bad_usage("--server: must be at most %d printable characters without spaces",
                         SERVER_MAX);
    if (*host == '\0' || *host == '/')
        return bad_usage("--server: the URL has no host");
    if (strpbrk(url, "?#"))
        return bad_usage("--server: the URL must not have a query or a fragment");
    while (len > 0 && url[len - 1] == '/')
        len--;
    memcpy(o->server, url, len);
    o->server[len] = '\0';
    return 0;
}

static int check_token(options *o)
{
    if (!o->token_env)
        return bad_usage("--token-env VAR is required (the environment variable holding the "
                         "runner token)");
    if (!*o->token_env || strlen(o->token_env) > 128 || isdigit((unsigned char)*o->token_env) ||
        !chars_in(o->token_env, "_", true, true))
        /* Not echoed: someone who passed the token itself would see it in the logs. */
        return bad_usage("--token-env: the value is not an environment variable name "
                         "([A-Za-z_][A-Za-z0-9_]*); pass the variable's name, not the token");
    o->token = getenv(o->token_env);
    if (!o->token)
        return bad_usage("environment variable %s (named by --token-env) is not set", o->token_env);
    if (!*o->token)
        return bad_usage("environment variable %s (named by --token-env) is empty", o->token_env);
    /* Never print it: only say what is wrong with it. */
    if (strlen(o->token) > TOKEN_MAX || !visible(o->token))
        return bad_usage("environment variable %s holds characters a token cannot have "
                         "(spaces, control characters) or is over %d bytes",
                         o->token_env, TOKEN_MAX);
    return 0;
}

static int check_labels(options *o, const char *arg)
{
    char *save = NULL;

    free(o->labels_copy);
    o->n_labels = 0;
    o->labels_copy = strdup(arg);
    if (!o->labels_copy)
        return bad_usage("out of memory");
    if (!*arg)
        return 0;
    /* strtok_r would skip empty labels; "a,,b" is a typo worth reporting. */
    for (char *p = o->labels_copy;; p = save + 1) {
        save = strchr(p, ',');
        if (save)
            *save = '\0';
        if (!*p)
            return bad_usage("--labels: empty label in \"%.64s\"", arg);
        if (strlen(p) > FIELD_MAX || !visible(p))
            return bad_usage("--labels: \"%.64s\" must be 1-%d printable characters without "
                             "spaces",
                             p, FIELD_MAX);
        if (o->n_labels == LABELS_MAX)
            return bad_usage("--labels: more than %d labels", LABELS_MAX);
        o->labels[o->n_labels++] = p;
        if (!save)
            return 0;
    }
}

static int check_wait(options *o, const char *arg)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (!*arg || *end || errno || v < 0 || v > WAIT_SECONDS_MAX)
        return bad_usage("--wait-seconds: \"%.32s\" must be a whole number from 0 to %d", arg,
                         WAIT_SECONDS_MAX);
    o->wait_seconds = (int)v;
    return 0;
}

/* True when execvp would find an executable for name. */
static bool command_found(const char *name)
{
    const char *path = getenv("PATH");
    char full[PATH_MAX];
    struct stat st;

    if (strchr(name, '/'))
        return access(name, X_OK) == 0 && stat(name, &st) == 0 && !S_ISDIR(st.st_mode);
    if (!path)
        path = "/usr/bin:/bin";
    for (const char *p = path;; p++) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        int n = dlen ? snprintf(full, sizeof(full), "%.*s/%s", (int)dlen, p, name)
                     : snprintf(full, sizeof(full), "%s", name);

        if (n > 0 && (size_t)n < sizeof(full) && access(full, X_OK) == 0 && stat(full, &st) == 0 &&
            !S_ISDIR(st.st_mode))
            return true;
        if (!colon)
            return false;
        p = colon;
    }
}

static void default_name(options *o)
{
    if (gethostname(o->name, sizeof(o->name) - 1) != 0 || !o->name[0] || !visible(o->name))
        snprintf(o->name, sizeof(o->name), "runner-%ld", (long)getpid());
    o->name[sizeof(o->name) - 1] = '\0';
}

/* Fills o from argv; returns 0, 2 after printing what is wrong, or -1 after printing the
 * usage for --help. */
static int parse_args(int argc, char **argv, options *o)
{
    enum { SERVER, TOKEN_ENV, REGION, LABELS, WAIT, NAME, N_VALUED };
    static const char *const with_value[N_VALUED] = {
        [SERVER] = "--server", [TOKEN_ENV] = "--token-env", [REGION] = "--region",
        [LABELS] = "--labels", [WAIT] = "--wait-seconds",   [NAME] = "--name"};
    const char *value[N_VALUED] = {0};
    int rc;

    o->wait_seconds = WAIT_SECONDS_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t k, n = N_VALUED;

        if (strcmp(a, "--") == 0) {
            o->command = argv + i + 1;
            break;
        }
        if (strcmp(a, "--once") == 0) {
            o->once = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return -1;
        }
        for (k = 0; k < n; k++) {
            size_t len = strlen(with_value[k]);

            if (strncmp(a, with_value[k], len) != 0)
                continue;
            if (a[len] == '=') {
                value[k] = a + len + 1;
                break;
            }
            if (a[len] == '\0') {
                if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)
                    return bad_usage("%s needs a value", a);
                value[k] = argv[++i];
                break;
            }
        }
        if (k < n)
            continue;
        if (a[0] == '-')
            return bad_usage("unknown option \"%.64s\"", a);
        return bad_usage("unexpected \"%.64s\": put the command to run after --", a);
    }

    if (!value[SERVER])
        return bad_usage("--server URL is required");
    rc = check_server(o, value[SERVER]);
    if (rc)
        return rc;
    o->token_env = value[TOKEN_ENV];
    rc = check_token(o);
    if (rc)
        return rc;
    o->region = value[REGION];
    if (!o->region)
        return bad_usage("--region REGION is required");
    if (!*o->region || strlen(o->region) > 63 || !chars_in(o->region, "-", false, true))
        return bad_usage("--region: \"%.64s\" must be 1-63 characters of a-z 0-9 - (like "
                         "apac-tokyo)",
                         o->region);
    if (value[LABELS]) {
        rc = check_labels(o, value[LABELS]);
        if (rc)
            return rc;
    }
    if (value[WAIT]) {
        rc = check_wait(o, value[WAIT]);
        if (rc)
            return rc;
    }
    if (value[NAME]) {
        if (!*value[NAME] || strlen(value[NAME]) >= sizeof(o->name) || !visible(value[NAME]))
            return bad_usage("--name: must be 1-%zu printable characters without spaces",
                             sizeof(o->name) - 1);
        snprintf(o->name, sizeof(o->name), "%s", value[NAME]);
    } else {
        default_name(o);
    }
    if (!o->command || !o->command[0])
        return bad_usage("no COMMAND: put the command to run after --");
    if (!o->command[0][0] || !command_found(o->command[0]))
        return bad_usage("COMMAND \"%.200s\" is not an executable file or in PATH", o->command[0]);
    return 0;
}

/* ---- signals, time, randomness -------------------------------------------------------- */

static void on_stop_signal(runner *r, int sig)
{
    r->stops++;
    CORE_LOG(CORE_LOG_INFO, "signal", "signal=%s stops=%d action=%s",
             sig == SIGINT ? "INT" : "TERM", r->stops,
             r->stops == 1 ? "drain" : "stop_job_and_exit");
}

/* Takes the stop signals already pending, without waiting. */
static void take_stop_signals(runner *r)
{
    struct timespec zero = {0, 0};
    int sig;

    while ((sig = sigtimedwait(&r->stop_set, NULL, &zero)) > 0)
        on_stop_signal(r, sig);
}

static struct timespec ms_to_ts(int64_t ms)
{
    struct timespec ts;

    if (ms < 0)
        ms = 0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    return ts;
}

/* Waits ms, or less when the count of stop signals reaches until_stops. */
static void pause_ms(runner *r, int64_t ms, int until_stops)
{
    int64_t end = core_time_mono_ms() + ms;

    while (r->stops < until_stops) {
        int64_t left = end - core_time_mono_ms();
        struct timespec ts;
        int sig;

        if (left <= 0)
            return;
        ts = ms_to_ts(left);
        sig = sigtimedwait(&r->stop_set, NULL, &ts);
        if (sig > 0)
            on_stop_signal(r, sig);
    }
}

/* Called by libcurl about once a second during a request. */
static bool should_abort(void *ctx)
{
    runner *r = ctx;

    take_stop_signals(r);
    return r->stops >= 2 || (r->claiming && r->stops >= 1);
}

static uint64_t next_random(runner *r)
{
    /* xorshift64: the jitter only has to differ between runners, not be secret. */
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

static void seed_random(runner *r)
{
    char hex[17];

    if (core_random_hex(hex, 8, NULL) == 0)
        r->rng = strtoull(hex, NULL, 16);
    if (!r->rng)
        r->rng = (uint64_t)core_time_now_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15u;
}

/* The delay before retry number step (0, 1, ...): 200 ms doubling to 10 s, half of it
 * random so that runners that lost the server together do not return together. */
static int64_t backoff_ms(runner *r, int step)
{
    int64_t base = BACKOFF_FIRST_MS;

    for (int i = 0; i < step && base < BACKOFF_MAX_MS; i++)
        base *= 2;
    if (base > BACKOFF_MAX_MS)
        base = BACKOFF_MAX_MS;
    return base / 2 + (int64_t)(next_random(r) % (uint64_t)(base / 2 + 1));
}

/* A Retry-After in seconds lengthens a delay, up to the backoff's cap. */
static int64_t honour_retry_after(int64_t delay, const char *retry_after)
{
    char *end = NULL;
    long s;

    if (!retry_after[0])
        return delay;
    s = strtol(retry_after, &end, 10);
    if (*end || s <= 0)
        return delay;
    if (s > BACKOFF_MAX_MS / 1000)
        s = BACKOFF_MAX_MS / 1000;
    return s * 1000 > delay ? s * 1000 : delay;
}

/* ---- the server's API ------------------------------------------------------------------- */

/* A value from the server made safe for a log field: unquoted (no spaces) or quoted. */
static const char *loggable(const char *s, bool quoted, char *out, size_t len)
{
    size_t i = 0;

    for (; s && *s && i + 1 < len; s++) {
        bool bad = *s < ' ' || *s >= 127 || *s == '"' || *s == '\\' || (!quoted && *s == ' ');

        out[i++] = bad ? '_' : *s;
    }
    out[i] = '\0';
    return out;
}

static int api_post(runner *r, const char *path, const char *body, long timeout_ms,
                    notify_http_response *out, core_error *err)
{
    const char *headers[] = {r->auth, "Content-Type: application/json", "Accept: application/json",
                             NULL};
    char url[SERVER_MAX + 128];

    snprintf(url, sizeof(url), "%s%s", r->opt.server, path);
    return notify_http_request(r->http, "POST", url, headers, body, strlen(body), timeout_ms, out,
                               err);
}

/* The string at key, or "" when it is absent or not a string. */
static const char *str_or_empty(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

static int job_parse(job *j, const core_buf *body, core_error *err)
{
    json_error_t jerr;
    json_t *o, *id, *lease, *fencing, *secs;
    const char *s;

    j->root = json_loadb(body->data, body->len, 0, &jerr);
    if (!j->root || !json_is_object(j->root))
        return core_error_set(err, CORE_EINVAL, "claim answer is not a json object");
    o = json_object_get(j->root, "job");
    if (!json_is_object(o))
        return core_error_set(err, CORE_EINVAL, "claim answer: job: missing");
    id = json_object_get(o, "id");
    if (json_is_integer(id))
        snprintf(j->id, sizeof(j->id), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else if (json_is_string(id) && json_string_length(id) <= JOB_ID_MAX)
        snprintf(j->id, sizeof(j->id), "%s", json_string_value(id));
    /* The id goes into URL paths. */
    if (!j->id[0] || !chars_in(j->id, "-_.", true, true))
        return core_error_set(err, CORE_EINVAL, "claim answer: job.id: missing or malformed");
    lease = json_object_get(j->root, "lease_id");
    s = json_string_value(lease);
    if (!s || !*s || json_string_length(lease) > LEASE_ID_MAX || !visible(s))
        return core_error_set(err, CORE_EINVAL, "claim answer: lease_id: missing or malformed");
    snprintf(j->lease_id, sizeof(j->lease_id), "%s", s);
    fencing = json_object_get(j->root, "fencing_token");
    if (!json_is_integer(fencing))
        return core_error_set(err, CORE_EINVAL, "claim answer: fencing_token: missing");
    j->fencing_token = json_integer_value(fencing);
    secs = json_object_get(j->root, "lease_seconds");
    j->lease_seconds = json_integer_value(secs);
    if (!json_is_integer(secs) || j->lease_seconds < 1 || j->lease_seconds > 86400)
        j->lease_seconds = LEASE_DEFAULT_S;
    j->lease_expires = str_or_empty(j->root, "lease_expires");
    j->repo = str_or_empty(o, "repo");
    j->head_sha = str_or_empty(o, "head_sha");
    j->base_sha = str_or_empty(o, "base_sha");
    j->head_ref = str_or_empty(o, "head_ref");
    j->clone_url = str_or_empty(o, "clone_url");
    j->pr = json_integer_value(json_object_get(o, "pr"));
    j->attempts = json_integer_value(json_object_get(o, "attempts"));
    return 0;
}

static void job_free(job *j)
{
    json_decref(j->root);
    memset(j, 0, sizeof(*j));
}

static int claim(runner *r, job *j, notify_http_response *resp, core_error *err)
{
    char code[64], detail[160];
    json_t *answer;
    int rc;

    r->claiming = true;
    rc = api_post(r, "/api/v1/runners/claim", r->claim_body,
                  r->opt.wait_seconds * 1000L + CLAIM_SLACK_MS, resp, err);
    r->claiming = false;
    if (rc == CORE_EAGAIN && r->stops)
        return CLAIM_STOPPED;
    if (rc < 0)
        return CLAIM_RETRY;
    switch (resp->status) {
    case 200:
        rc = job_parse(j, &resp->body, err);
        if (rc < 0) {
            job_free(j);
            return CLAIM_RETRY;
        }
        return CLAIM_JOB;
    case 204:
        return CLAIM_NONE;
    case 400:
    case 401:
    case 403:
        /* What the server says is wrong; it never echoes the token. */
        answer = json_loadb(resp->body.data, resp->body.len, 0, NULL);
        CORE_LOG(CORE_LOG_ERROR, "claim_refused", "status=%ld region=%s error=%s detail=\"%s\"",
                 resp->status, r->opt.region,
                 loggable(json_string_value(json_object_get(answer, "error")), false, code,
                          sizeof(code)),
                 loggable(json_string_value(json_object_get(answer, "detail")), true, detail,
                          sizeof(detail)));
        json_decref(answer);
        return CLAIM_REFUSED;
    default:
        core_error_set(err, CORE_EUNAVAILABLE, "server answered %ld", resp->status);
        return CLAIM_RETRY;
    }
}

static char *lease_body(const job *j, const char *status)
{
    json_t *o = status ? json_pack("{s:s, s:s}", "lease_id", j->lease_id, "status", status)
                       : json_pack("{s:s}", "lease_id", j->lease_id);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

static int heartbeat(runner *r, job *j, core_error *err)
{
    int64_t interval = j->lease_seconds * 1000 / 3;
    long timeout = interval < 2000              ? 2000
                   : interval > CALL_TIMEOUT_MS ? CALL_TIMEOUT_MS
                                                : (long)interval;
    int64_t sent = core_time_mono_ms();
    notify_http_response resp;
    char path[JOB_ID_MAX + 64];
    char *body = lease_body(j, NULL);
    json_t *answer;
    int rc, hb = HB_RETRY;

    if (!body) {
        core_error_set(err, CORE_ENOMEM, "out of memory");
        return HB_RETRY;
    }
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/heartbeat", j->id);
    rc = api_post(r, path, body, timeout, &resp, err);
    free(body);
    if (rc < 0)
        return HB_RETRY;
    if (resp.status == 409) {
        hb = HB_LOST;
    } else if (resp.status == 200) {
        /* Renewed when asked, so the lease runs out no sooner than this. */
        j->lease_end = sent + j->lease_seconds * 1000;
        answer = json_loadb(resp.body.data, resp.body.len, 0, NULL);
        hb = json_is_true(json_object_get(answer, "cancel")) ? HB_CANCEL : HB_OK;
        json_decref(answer);
    } else {
        core_error_set(err, CORE_EUNAVAILABLE, "server answered %ld", resp.status);
    }
    notify_http_response_free(&resp);
    return hb;
}

/* Reports how the job ended; returns 0 once the server has it. Transient failures are
 * retried until the lease has run out (at least REPORT_MIN_MS): after that the server has
 * given the job to someone else and would answer 409 anyway. */
static int complete(runner *r, job *j, bool success)
{
    const char *status = success ? "success" : "failure";
    int64_t give_up = core_time_mono_ms() + REPORT_MIN_MS;
    char path[JOB_ID_MAX + 64];
    char *body = lease_body(j, status);
    int rc = -1;

    if (!body) {
        CORE_LOG(CORE_LOG_ERROR, "complete_failed", "job=%s err=\"out of memory\"", j->id);
        return -1;
    }
    if (j->lease_end > give_up)
        give_up = j->lease_end;
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/complete", j->id);
    for (int step = 0;; step++) {
        notify_http_response resp;
        core_error err = {0};
        int64_t delay;

        if (api_post(r, path, body, CALL_TIMEOUT_MS, &resp, &err) == 0) {
            long code = resp.status;
            /* 409 already_completed: a report of ours got through before (its answer was
             * lost, or a replica did not acknowledge it in time), and this retry is told so. */
            bool done_before = code == 409 && resp.body.data &&
                               strstr(resp.body.data, "\"already_completed\"") != NULL;

            delay = honour_retry_after(backoff_ms(r, step), resp.retry_after);
            notify_http_response_free(&resp);
            if (code == 200 || done_before) {
                CORE_LOG(CORE_LOG_INFO, "job_done", "job=%s status=%s", j->id, status);
                rc = 0;
                break;
            }
            if (code == 409) {
                CORE_LOG(CORE_LOG_WARN, "lease_lost", "job=%s during=complete status=%s", j->id,
                         status);
                break;
            }
            if (code >= 400 && code < 500 && code != 408 && code != 429) {
                CORE_LOG(CORE_LOG_ERROR, "complete_refused", "job=%s status=%s http_status=%ld",
                         j->id, status, code);
                break;
            }
            core_error_set(&err, CORE_EUNAVAILABLE, "server answered %ld", code);
        } else {
            delay = backoff_ms(r, step);
        }
        if (r->stops >= 2) {
            CORE_LOG(CORE_LOG_WARN, "complete_abandoned", "job=%s status=%s reason=signal", j->id,
                     status);
            break;
        }
        if (core_time_mono_ms() + delay > give_up) {
            CORE_LOG(CORE_LOG_ERROR, "complete_gave_up", "job=%s status=%s err=\"%s\"", j->id,
                     status, err.msg);
            break;
        }
        CORE_LOG(CORE_LOG_WARN, "complete_failed", "job=%s status=%s err=\"%s\" retry_in_ms=%lld",
                 j->id, status, err.msg, (long long)delay);
        pause_ms(r, delay, 2);
    }
    free(body);
    return rc;
}

/* Gives back a job that was granted as the runner was told to stop, before it started it:
 * the server queues it again at once and does not count the attempt (otherwise it would
 * sit for the whole lease and cost one). A few quick tries; if they fail, the lease runs
 * out as before. A second stop signal cuts it short. */
static void release(runner *r, const job *j)
{
    json_t *o = json_pack("{s:s, s:I}", "lease_id", j->lease_id, "fencing_token",
                          (json_int_t)j->fencing_token);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    char path[JOB_ID_MAX + 64];
    core_error err = {0};

    json_decref(o);
    if (!body) {
        CORE_LOG(CORE_LOG_WARN, "release_failed", "job=%s err=\"out of memory\"", j->id);
        return;
    }
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/release", j->id);
    for (int step = 0; step < RELEASE_TRIES && r->stops < 2; step++) {
        notify_http_response resp;
        long code;

        if (step)
            pause_ms(r, backoff_ms(r, step), 2);
        if (api_post(r, path, body, CALL_TIMEOUT_MS, &resp, &err) < 0)
            continue;
        code = resp.status;
        notify_http_response_free(&resp);
        if (code == 200) {
            CORE_LOG(CORE_LOG_INFO, "job_released", "job=%s fencing_token=%" JSON_INTEGER_FORMAT,
                     j->id, j->fencing_token);
            free(body);
            return;
        }
        core_error_set(&err, CORE_EUNAVAILABLE, "server answered %ld", code);
        if (code >= 400 && code < 500 && code != 408 && code != 429)
            break; /* 409: the lease is not ours any more; nothing to give back */
    }
    CORE_LOG(CORE_LOG_WARN, "release_failed", "job=%s err=\"%s\"", j->id, err.msg);
    free(body);
}

/* ---- the command ------------------------------------------------------------------------ */

typedef struct env_list {
    char **v;
    size_t inherited; /* v[0..inherited) are environ's, the rest ours */
    size_t n;
} env_list;

static void env_free(env_list *e)
{
    for (size_t i = e->inherited; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

static int env_add(env_list *e, const char *name, const char *value)
{
    core_buf b = {0};

    if (core_buf_printf(&b, "%s=%s", name, value) < 0)
        return CORE_ENOMEM;
    e->v[e->n++] = core_buf_steal(&b);
    return 0;
}

/* The runner's environment without the token's variable (the command runs a pull
 * request's code, which must never see it) and without inherited ZONECI_* variables, plus
 * the job's. */
static int env_build(const runner *r, const job *j, env_list *e)
{
    size_t n = 0, tlen = strlen(r->opt.token_env);
    char pr[32], attempt[32], fencing[32];
    int rc = 0;

    while (environ[n])
        n++;
    e->v = calloc(n + 16, sizeof(char *));
    if (!e->v)
        return CORE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *kv = environ[i];

        if (strncmp(kv, "ZONECI_", 7) == 0 ||
            (strncmp(kv, r->opt.token_env, tlen) == 0 && kv[tlen] == '='))
            continue;
        e->v[e->n++] = environ[i];
    }
    e->inherited = e->n;
    snprintf(pr, sizeof(pr), "%" JSON_INTEGER_FORMAT, j->pr);
    snprintf(attempt, sizeof(attempt), "%" JSON_INTEGER_FORMAT, j->attempts);
    snprintf(fencing, sizeof(fencing), "%" JSON_INTEGER_FORMAT, j->fencing_token);
    rc |= env_add(e, "ZONECI_JOB_ID", j->id);
    rc |= env_add(e, "ZONECI_REPO", j->repo);
    rc |= env_add(e, "ZONECI_PR", pr);
    rc |= env_add(e, "ZONECI_HEAD_SHA", j->head_sha);
    rc |= env_add(e, "ZONECI_BASE_SHA", j->base_sha);
    rc |= env_add(e, "ZONECI_HEAD_REF", j->head_ref);
    rc |= env_add(e, "ZONECI_CLONE_URL", j->clone_url);
    rc |= env_add(e, "ZONECI_FENCING_TOKEN", fencing);
    rc |= env_add(e, "ZONECI_ATTEMPT", attempt);
    rc |= env_add(e, "ZONECI_REGION", r->opt.region);
    rc |= env_add(e, "ZONECI_LEASE_EXPIRES", j->lease_expires);
    return rc ? CORE_ENOMEM : 0;
}

/* Starts the command in a process group of its own (so that a stop reaches everything it
 * started) with stdin on /dev/null. A command that cannot be executed is an error here,
 * not an exit status: the child tells us through a close-on-exec pipe. */
static int job_spawn(const runner *r, job *j, char **envp, core_error *err)
{
    int fds[2], child_errno = 0;
    ssize_t got;
    sigset_t none;
    pid_t pid;

    if (pipe(fds) < 0)
        return core_error_set(err, CORE_EIO, "pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    sigemptyset(&none);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return core_error_set(err, CORE_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_RDONLY);

        setpgid(0, 0);
        /* What a command expects: SIGPIPE kills, nothing blocked. */
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fd > 0) {
            dup2(fd, STDIN_FILENO);
            close(fd);
        }
        environ = envp;
        execvp(r->opt.command[0], r->opt.command);
        child_errno = errno;
        if (write(fds[1], &child_errno, sizeof(child_errno)) < 0) {
            /* The parent sees EOF and then exit status 127. */
        }
        _exit(127);
    }
    /* Both sides set the group, so that it exists before either relies on it. */
    setpgid(pid, pid);
    close(fds[1]);
    do {
        got = read(fds[0], &child_errno, sizeof(child_errno));
    } while (got < 0 && errno == EINTR);
    close(fds[0]);
    if (got == (ssize_t)sizeof(child_errno)) {
        waitpid(pid, NULL, 0);
        return core_error_set(err, CORE_EIO, "cannot execute %s: %s", r->opt.command[0],
                              strerror(child_errno));
    }
    j->pid = pid;
    return 0;
}

static const char *end_name(int end)
{
    switch (end) {
    case END_CANCELLED:
        return "cancelled";
    case END_LEASE_LOST:
        return "lease_lost";
    case END_FORCED:
        return "runner_stopping";
    default:
        return "exited";
    }
}

/* Waits for the command, renewing the lease every lease_seconds/3 and stopping the command
 * when the server cancels the job, the lease is lost, or a second stop signal comes. */
static int job_wait(runner *r, job *j)
{
    int64_t interval = j->lease_seconds * 1000 / 3;
    int64_t next_beat = core_time_mono_ms() + interval;
    int64_t kill_at = 0; /* when SIGKILL follows SIGTERM; 0 once sent */
    int end = END_EXITED, beat_failures = 0, stops_when_stopping = 0, status = 0;
    bool stopping = false;

    for (;;) {
        siginfo_t si;
        int64_t now, wait;
        struct timespec ts;
        int sig;

        /* Looked at, not reaped: a zombie leader keeps its group id from being reused. */
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR) {
            CORE_LOG(CORE_LOG_ERROR, "job_lost", "job=%s err=\"waitid: %s\"", j->id,
                     strerror(errno));
            j->exit_code = 127;
            return end;
        }
        if (si.si_pid == j->pid)
            break;
        now = core_time_mono_ms();
        if (!stopping && r->stops >= 2)
            end = END_FORCED;
        if (!stopping && end != END_EXITED) {
            stopping = true;
            stops_when_stopping = r->stops;
            kill_at = now + KILL_GRACE_MS;
            kill(-j->pid, SIGTERM);
            CORE_LOG(CORE_LOG_WARN, "job_stopping", "job=%s reason=%s signal=TERM grace_ms=%d",
                     j->id, end_name(end), KILL_GRACE_MS);
            continue;
        }
        /* Yet another stop signal while stopping: no more grace. */
        if (stopping && kill_at && r->stops >= 2 && r->stops > stops_when_stopping)
            kill_at = now;
        if (stopping && kill_at && now >= kill_at) {
            kill(-j->pid, SIGKILL);
            kill_at = 0;
            CORE_LOG(CORE_LOG_WARN, "job_killed", "job=%s signal=KILL", j->id);
            continue;
        }
        if (!stopping && now >= next_beat) {
            core_error err = {0};
            int hb = heartbeat(r, j, &err);

            now = core_time_mono_ms();
            if (hb == HB_RETRY && r->stops >= 2)
                continue; /* cut short by the signal: stop the job instead */
            if (hb == HB_OK) {
                beat_failures = 0;
                next_beat = now + interval;
            } else if (hb == HB_CANCEL) {
                CORE_LOG(CORE_LOG_INFO, "job_cancelled", "job=%s", j->id);
                end = END_CANCELLED;
            } else if (hb == HB_LOST) {
                CORE_LOG(CORE_LOG_WARN, "lease_lost", "job=%s during=heartbeat", j->id);
                end = END_LEASE_LOST;
            } else {
                int64_t delay = backoff_ms(r, beat_failures++);

                if (delay > interval)
                    delay = interval;
                next_beat = now + delay;
                CORE_LOG(CORE_LOG_WARN, "heartbeat_failed", "job=%s err=\"%s\" retry_in_ms=%lld",
                         j->id, err.msg, (long long)delay);
            }
            continue;
        }
        wait = stopping ? (kill_at ? kill_at - now : WAIT_SLICE_MS) : next_beat - now;
        if (wait > WAIT_SLICE_MS)
            wait = WAIT_SLICE_MS;
        ts = ms_to_ts(wait);
        sig = sigtimedwait(&r->wait_set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            on_stop_signal(r, sig);
        /* SIGCHLD, a timeout or EINTR: the top of the loop looks again. */
    }
    /* Whatever the command left behind in its group goes with it. The leader is not
     * reaped yet, so the group id cannot have been reused. */
    kill(-j->pid, SIGKILL);
    while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
        ;
    j->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    j->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return end;
}

static int job_run(runner *r, job *j)
{
    env_list env = {0};
    core_error err = {0};
    char repo[128];
    int end, rc;
    bool success;

    j->lease_end = core_time_mono_ms() + j->lease_seconds * 1000;
    CORE_LOG(CORE_LOG_INFO, "job_claimed",
             "job=%s repo=%s pr=%" JSON_INTEGER_FORMAT " attempt=%" JSON_INTEGER_FORMAT
             " fencing_token=%" JSON_INTEGER_FORMAT " lease_seconds=%" JSON_INTEGER_FORMAT,
             j->id, loggable(j->repo, false, repo, sizeof(repo)), j->pr, j->attempts,
             j->fencing_token, j->lease_seconds);
    if (env_build(r, j, &env) < 0) {
        env_free(&env);
        CORE_LOG(CORE_LOG_ERROR, "job_not_started", "job=%s err=\"out of memory\"", j->id);
        return RUN_UNREPORTED;
    }
    rc = job_spawn(r, j, env.v, &err);
    env_free(&env);
    if (rc < 0) {
        /* Not reported: a runner that cannot run its command must not fail every job it
         * claims. The lease runs out and the job goes to another runner. */
        CORE_LOG(CORE_LOG_ERROR, "job_not_started", "job=%s err=\"%s\"", j->id, err.msg);
        return RUN_FATAL;
    }
    CORE_LOG(CORE_LOG_INFO, "job_started", "job=%s pid=%ld", j->id, (long)j->pid);
    end = job_wait(r, j);
    success = end == END_EXITED && j->exit_code == 0;
    if (j->term_signal)
        CORE_LOG(CORE_LOG_INFO, "job_exited", "job=%s signal=%d outcome=%s", j->id, j->term_signal,
                 end_name(end));
    else
        CORE_LOG(CORE_LOG_INFO, "job_exited", "job=%s exit_code=%d outcome=%s", j->id, j->exit_code,
                 end_name(end));
    if (end == END_FORCED)
        return RUN_FATAL;
    if (end != END_EXITED)
        return RUN_UNREPORTED;
    return complete(r, j, success) == 0 ? RUN_REPORTED : RUN_UNREPORTED;
}

/* ---- the loop --------------------------------------------------------------------------- */

static int run(runner *r)
{
    int failures = 0;

    for (;;) {
        notify_http_response resp;
        core_error err = {0};
        job j = {0};
        int64_t started, delay;
        int c, ran;

        take_stop_signals(r);
        if (r->stops)
            return 0;
        started = core_time_mono_ms();
        c = claim(r, &j, &resp, &err);
        delay =
            c == CLAIM_RETRY ? honour_retry_after(backoff_ms(r, failures), resp.retry_after) : 0;
        notify_http_response_free(&resp);
        switch (c) {
        case CLAIM_JOB:
            failures = 0;
            /* Told to stop while the claim was in flight, and a job came anyway (the grant
             * raced the signal): it was not started, so give it back rather than run it. */
            take_stop_signals(r);
            if (r->stops) {
                release(r, &j);
                job_free(&j);
                return 0;
            }
            ran = job_run(r, &j);
            job_free(&j);
            /* A second stop signal ends the runner with the job unreported, however the
             * job itself ended. */
            if (ran == RUN_FATAL || r->stops >= 2)
                return 1;
            if (r->opt.once)
                return ran == RUN_REPORTED ? 0 : 1;
            break;
        case CLAIM_NONE:
            failures = 0;
            CORE_LOG(CORE_LOG_DEBUG, "claim_empty", "region=%s", r->opt.region);
            if (r->opt.once)
                return 3;
            /* A server that answers at once (or --wait-seconds 0) must not make us spin. */
            if (core_time_mono_ms() - started < MIN_CLAIM_GAP_MS)
                pause_ms(r, MIN_CLAIM_GAP_MS - (core_time_mono_ms() - started), 1);
            break;
        case CLAIM_REFUSED:
            return 1;
        case CLAIM_STOPPED:
            break;
        default:
            failures++;
            CORE_LOG(CORE_LOG_WARN, "claim_failed", "err=\"%s\" retry_in_ms=%lld", err.msg,
                     (long long)delay);
            pause_ms(r, delay, 1);
        }
    }
}

static void noop_handler(int sig)
{
    (void)sig;
}

static void log_start(const runner *r)
{
    const char *server = r->opt.server;
    const char *host = strstr(server, "://") + 3; /* check_server saw it */
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    char labels[LABELS_MAX * (FIELD_MAX + 1) + 1] = "";

    for (size_t i = 0; i < r->opt.n_labels; i++) {
        strcat(labels, i ? "," : "");
        strcat(labels, r->opt.labels[i]);
    }
    /* The URL's user info, if any, is a credential: left out. */
    CORE_LOG(CORE_LOG_INFO, "runner_start",
             "version=%s server=%.*s%s name=%s region=%s labels=%s wait_seconds=%d once=%s",
             ZONECI_VERSION, (int)(host - server), server,
             at && (!slash || at < slash) ? at + 1 : host, r->opt.name, r->opt.region,
             labels[0] ? labels : "-", r->opt.wait_seconds, r->opt.once ? "true" : "false");
}

static int setup(runner *r, core_error *err)
{
    struct sigaction sa;
    json_t *labels, *body;
    core_buf auth = {0};

    /* A handler, not SIG_IGN, so that children are not reaped behind our back; blocked,
     * so that it never runs and SIGCHLD waits for sigtimedwait. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = noop_handler;
    sa.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&r->stop_set);
    sigaddset(&r->stop_set, SIGTERM);
    sigaddset(&r->stop_set, SIGINT);
    r->wait_set = r->stop_set;
    sigaddset(&r->wait_set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &r->wait_set, NULL);
    seed_random(r);

    if (notify_http_new(&r->http, err) < 0)
        return err ? err->code : CORE_EIO;
    notify_http_set_abort(r->http, should_abort, r);
    if (core_buf_printf(&auth, "Authorization: Bearer %s", r->opt.token) < 0)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    r->auth = core_buf_steal(&auth);
    labels = json_array();
    for (size_t i = 0; labels && i < r->opt.n_labels; i++)
        json_array_append_new(labels, json_string(r->opt.labels[i]));
    body = json_pack("{s:s, s:s, s:o, s:i}", "runner", r->opt.name, "region", r->opt.region,
                     "labels", labels, "wait_seconds", r->opt.wait_seconds);
    r->claim_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!r->claim_body)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    return 0;
}

int cli_runner(int argc, char **argv)
{
    runner r;
    core_error err = {0};
    int rc;

    memset(&r, 0, sizeof(r));
    rc = parse_args(argc, argv, &r.opt);
    if (rc) {
        free(r.opt.labels_copy);
        return rc < 0 ? 0 : rc;
    }
    if (setup(&r, &err) < 0) {
        fprintf(stderr, "zoneci runner: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    log_start(&r);
    rc = run(&r);
    CORE_LOG(CORE_LOG_INFO, "runner_stop", "exit_code=%d", rc);
out:
    notify_http_free(r.http);
    free(r.auth);
    free(r.claim_body);
    free(r.opt.labels_copy);
    return rc;
}
