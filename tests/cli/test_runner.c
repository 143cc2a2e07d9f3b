/* cli/runner.c, the real `zoneci runner` process: argument checks, and its behaviour
 * against a scripted stand-in for the server's runner API (claim, heartbeat, complete)
 * played by a local ts_peer. The end-to-end tests against `zoneci serve` live in
 * tests/e2e. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "tests/support/support.h"

#define TOKEN "tok-s3cret-value"
#define TOKEN_ENV "ZONECI_TEST_RUNNER_TOKEN=" TOKEN

/* ---- a scripted runner API -------------------------------------------------------------- */

typedef struct api {
    ts_peer *peer; /* its lock guards what follows */
    char base[80];
    /* the script */
    int claim_fail;       /* 503 to this many claims first */
    int claim_status;     /* then: 200 hands out the job once (204 after), or this status */
    int lease_seconds;    /* in the claim answer */
    int heartbeat_status; /* 200 unless set */
    bool cancel;          /* heartbeats answer {"cancel":true} */
    int complete_fail;    /* 503 to this many completes first */
    /* what came */
    bool job_given;
    int claims, heartbeats, completes;
    char auth[256];
    char claim_body[1024];
    char complete_body[256];
    char heartbeat_body[256];
} api;

/* The handler: runs under the peer's lock. */
static void api_answer(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    api *a = ctx;
    const char *url = req->url, *body = req->body;
    char job[1024];
    unsigned status = 200;
    const char *answer = "{}";

    snprintf(a->auth, sizeof(a->auth), "%s", req->authorization);
    if (strcmp(url, "/api/v1/runners/claim") == 0) {
        a->claims++;
        snprintf(a->claim_body, sizeof(a->claim_body), "%s", body);
        if (a->claims <= a->claim_fail) {
            status = 503;
            answer = "{\"error\":\"redis_unavailable\",\"detail\":\"down\"}";
        } else if (a->claim_status == 200 && !a->job_given) {
            a->job_given = true;
            snprintf(job, sizeof(job),
                     "{\"job\":{\"id\":\"7\",\"state\":\"leased\",\"repo\":\"acme/api\",\"pr\":12,"
                     "\"head_sha\":\"abc123\",\"base_sha\":\"def456\",\"head_ref\":\"feature/x\","
                     "\"clone_url\":\"https://github.com/acme/api.git\",\"attempts\":2},"
                     "\"lease_id\":\"deadbeef01\",\"lease_expires\":\"2030-01-01T00:02:00Z\","
                     "\"lease_seconds\":%d,\"fencing_token\":42}",
                     a->lease_seconds ? a->lease_seconds : 120);
            answer = job;
        } else if (a->claim_status == 200 || a->claim_status == 204) {
            status = 204;
            answer = "";
        } else {
            status = (unsigned)a->claim_status;
            answer = "{\"error\":\"unauthorized\",\"detail\":\"a runner token is required\"}";
        }
    } else if (strcmp(url, "/api/v1/jobs/7/heartbeat") == 0) {
        a->heartbeats++;
        snprintf(a->heartbeat_body, sizeof(a->heartbeat_body), "%s", body);
        if (a->heartbeat_status && a->heartbeat_status != 200) {
            status = (unsigned)a->heartbeat_status;
            answer = "{\"error\":\"lease_lost\",\"detail\":\"stale lease\"}";
        } else {
            answer = a->cancel ? "{\"cancel\":true}"
                               : "{\"cancel\":false,\"lease_expires\":\"2030-01-01T00:04:00Z\"}";
        }
    } else if (strcmp(url, "/api/v1/jobs/7/complete") == 0) {
        a->completes++;
        snprintf(a->complete_body, sizeof(a->complete_body), "%s", body);
        if (a->completes <= a->complete_fail) {
            status = 503;
            answer = "{\"error\":\"redis_unavailable\",\"detail\":\"down\"}";
        } else {
            answer = "{\"state\":\"succeeded\"}";
        }
    } else {
        status = 404;
        answer = "{\"error\":\"not_found\"}";
    }
    ans->status = status;
    snprintf(ans->body, sizeof(ans->body), "%s", answer);
}

/* A scripted API whose claims go as claim_status says (see the script above). */
static api *api_start(int claim_status)
{
    api *a = calloc(1, sizeof(*a));

    ck_assert_ptr_nonnull(a);
    a->claim_status = claim_status;
    a->peer = ts_peer_start(api_answer, a);
    snprintf(a->base, sizeof(a->base), "%s/", ts_peer_base(a->peer));
    return a;
}

static void api_stop(api *a)
{
    ts_peer_stop(a->peer);
    free(a);
}

/* ---- running the runner ----------------------------------------------------------------- */

static char *const runner_env[] = {TOKEN_ENV, "ZONECI_INHERITED=leak", NULL};

/* `zoneci runner --server BASE --token-env ... --region apac-tokyo --once -- CMD...` to the
 * end; returns the exit code, with stderr in *log (free it). */
static int run_once(api *a, const char *const *cmd, char **log)
{
    char *argv[32] = {
        "runner",   "--server",       a->base,    "--token-env", "ZONECI_TEST_RUNNER_TOKEN",
        "--region", "apac-tokyo",     "--labels", "linux,gpu",   "--name",
        "r1",       "--wait-seconds", "0",        "--once",      "--"};
    size_t n = 15;
    int code;

    for (size_t i = 0; cmd[i]; i++)
        argv[n++] = (char *)cmd[i];
    argv[n] = NULL;
    code = ts_zoneci_run(argv, runner_env, NULL, log);
    return code;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* Reads KEY's value from an `env` dump. */
static const char *env_value(const char *dump, const char *key, char *out, size_t len)
{
    char pat[64];
    const char *p;
    size_t n = 0;

    snprintf(pat, sizeof(pat), "\n%s=", key);
    p = strstr(dump, pat);
    out[0] = '\0';
    if (!p)
        return NULL;
    p += strlen(pat);
    while (p[n] && p[n] != '\n' && n + 1 < len)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* ---- argument checks -------------------------------------------------------------------- */

typedef struct bad_case {
    const char *args[16];
    const char *says;
} bad_case;

START_TEST(bad_arguments_exit_2)
{
    static const bad_case cases[] = {
        {{NULL}, "--server URL is required"},
        {{"--server", "ftp://x", "--token-env", "T", "--region", "r", "--", "true", NULL},
         "--server: \"ftp://x\" is not an http:// or https:// URL"},
        {{"--server", "http://", "--token-env", "T", "--region", "r", "--", "true", NULL},
         "--server: the URL has no host"},
        {{"--server", "http://h/?q=1", "--token-env", "T", "--region", "r", "--", "true", NULL},
         "query"},
        {{"--server", "http://h", "--region", "r", "--", "true", NULL},
         "--token-env VAR is required"},
        {{"--server", "http://h", "--token-env", TOKEN, "--region", "r", "--", "true", NULL},
         "is not an environment variable name"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_UNSET_VAR", "--region", "r", "--",
          "true", NULL},
         "environment variable ZONECI_TEST_UNSET_VAR (named by --token-env) is not set"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_EMPTY", "--region", "r", "--", "true",
          NULL},
         "environment variable ZONECI_TEST_EMPTY (named by --token-env) is empty"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--", "true", NULL},
         "--region REGION is required"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region",
          "Tokyo Office", "--", "true", NULL},
         "--region: \"Tokyo Office\" must be 1-63 characters of a-z 0-9 -"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r",
          "--labels", "a,,b", "--", "true", NULL},
         "--labels: empty label in \"a,,b\""},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r",
          "--wait-seconds", "31", "--", "true", NULL},
         "--wait-seconds: \"31\" must be a whole number from 0 to 30"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r",
          "--wait-seconds", "5s", "--", "true", NULL},
         "--wait-seconds: \"5s\""},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r",
          "--name", "", "--", "true", NULL},
         "--name: must be"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r", NULL},
         "no COMMAND: put the command to run after --"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r", "--",
          NULL},
         "no COMMAND"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r", "--",
          "zoneci-no-such-command", NULL},
         "COMMAND \"zoneci-no-such-command\" is not an executable file or in PATH"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r", "--",
          "/etc/passwd", NULL},
         "COMMAND \"/etc/passwd\""},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r",
          "--frobnicate", "--", "true", NULL},
         "unknown option \"--frobnicate\""},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "r",
          "make", "test", NULL},
         "unexpected \"make\": put the command to run after --"},
        {{"--server", NULL}, "--server needs a value"},
        {{"--server", "http://h", "--token-env", "ZONECI_TEST_RUNNER_TOKEN", "--region", "--",
          "true", NULL},
         "--region needs a value"},
    };
    char *const env[] = {TOKEN_ENV, "ZONECI_TEST_EMPTY=", NULL};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[20] = {"runner"};
        char *out = NULL, *err = NULL;
        size_t n = 1;
        int code;

        for (size_t k = 0; cases[i].args[k]; k++)
            argv[n++] = (char *)cases[i].args[k];
        code = ts_zoneci_run(argv, env, &out, &err);
        ck_assert_msg(code == 2, "case %zu: exit %d, stderr: %s", i, code, err);
        ck_assert_msg(contains(err, cases[i].says), "case %zu: stderr lacks \"%s\": %s", i,
                      cases[i].says, err);
        ck_assert_msg(contains(err, "usage: zoneci runner"), "case %zu: no usage", i);
        ck_assert_msg(!contains(err, TOKEN), "case %zu: the token is printed", i);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
}
END_TEST

START_TEST(help_exits_0)
{
    char *argv[] = {"runner", "--help", NULL};
    char *out = NULL, *err = NULL;

    ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 0);
    ck_assert(contains(out, "usage: zoneci runner --server URL --token-env VAR --region"));
    free(out);
    free(err);
}
END_TEST

/* ---- against the scripted API ----------------------------------------------------------- */

START_TEST(once_without_job_exits_3)
{
    api *a = api_start(204);
    const char *cmd[] = {"true", NULL};
    char *log = NULL;
    json_t *body;

    ck_assert_int_eq(run_once(a, cmd, &log), 3);
    ck_assert_int_eq(a->claims, 1);
    ck_assert_str_eq(a->auth, "Bearer " TOKEN);
    body = json_loads(a->claim_body, 0, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(json_string_value(json_object_get(body, "runner")), "r1");
    ck_assert_str_eq(json_string_value(json_object_get(body, "region")), "apac-tokyo");
    ck_assert_int_eq(json_integer_value(json_object_get(body, "wait_seconds")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(body, "labels")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(body, "labels"), 1)), "gpu");
    ck_assert_msg(contains(log, "event=runner_start"), "%s", log);
    ck_assert(!contains(log, TOKEN));
    json_decref(body);
    free(log);
    api_stop(a);
}
END_TEST

START_TEST(job_runs_with_env_and_success_is_reported)
{
    api *a = api_start(200);
    char *dir = ts_tmpdir();
    char envfile[600], v[256];
    const char *cmd[] = {"sh", "-c", "env > \"$0\"", envfile, NULL};
    char *log = NULL, *dump;
    json_t *body;

    snprintf(envfile, sizeof(envfile), "%s/env.txt", dir);
    ck_assert_int_eq(run_once(a, cmd, &log), 0);
    ck_assert_int_eq(a->claims, 1);
    ck_assert_int_eq(a->completes, 1);
    body = json_loads(a->complete_body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(body, "lease_id")), "deadbeef01");
    ck_assert_str_eq(json_string_value(json_object_get(body, "status")), "success");
    json_decref(body);
    ck_assert_msg(contains(log, "event=job_claimed job=7 "), "%s", log);
    ck_assert_msg(contains(log, "fencing_token=42"), "%s", log);
    ck_assert_msg(contains(log, "event=job_done job=7 status=success"), "%s", log);
    ck_assert(!contains(log, TOKEN));

    dump = ts_read_file(envfile, NULL);
    ck_assert_ptr_nonnull(dump);
    ck_assert_str_eq(env_value(dump, "ZONECI_JOB_ID", v, sizeof(v)), "7");
    ck_assert_str_eq(env_value(dump, "ZONECI_REPO", v, sizeof(v)), "acme/api");
    ck_assert_str_eq(env_value(dump, "ZONECI_PR", v, sizeof(v)), "12");
    ck_assert_str_eq(env_value(dump, "ZONECI_HEAD_SHA", v, sizeof(v)), "abc123");
    ck_assert_str_eq(env_value(dump, "ZONECI_BASE_SHA", v, sizeof(v)), "def456");
    ck_assert_str_eq(env_value(dump, "ZONECI_HEAD_REF", v, sizeof(v)), "feature/x");
    ck_assert_str_eq(env_value(dump, "ZONECI_CLONE_URL", v, sizeof(v)),
                     "https://github.com/acme/api.git");
    ck_assert_str_eq(env_value(dump, "ZONECI_FENCING_TOKEN", v, sizeof(v)), "42");
    ck_assert_str_eq(env_value(dump, "ZONECI_ATTEMPT", v, sizeof(v)), "2");
    ck_assert_str_eq(env_value(dump, "ZONECI_REGION", v, sizeof(v)), "apac-tokyo");
    ck_assert_str_eq(env_value(dump, "ZONECI_LEASE_EXPIRES", v, sizeof(v)), "2030-01-01T00:02:00Z");
    /* The pull request's code never sees the runner's token, nor inherited ZONECI_*. */
    ck_assert(!contains(dump, TOKEN));
    ck_assert(!contains(dump, "ZONECI_TEST_RUNNER_TOKEN"));
    ck_assert(!contains(dump, "ZONECI_INHERITED"));
    ck_assert(contains(dump, "\nPATH="));
    free(dump);
    free(log);
    ts_rmtree(dir);
    free(dir);
    api_stop(a);
}
END_TEST

START_TEST(failure_is_reported)
{
    api *a = api_start(200);
    const char *cmd[] = {"sh", "-c", "exit 3", NULL};
    char *log = NULL;

    ck_assert_int_eq(run_once(a, cmd, &log), 0);
    ck_assert_int_eq(a->completes, 1);
    ck_assert(contains(a->complete_body, "\"status\":\"failure\""));
    ck_assert_msg(contains(log, "event=job_exited job=7 exit_code=3"), "%s", log);
    ck_assert_msg(contains(log, "event=job_done job=7 status=failure"), "%s", log);
    free(log);
    api_stop(a);
}
END_TEST

START_TEST(lost_lease_stops_the_job)
{
    api *a = api_start(200);
    const char *cmd[] = {"sleep", "60", NULL};
    char *log = NULL;
    int64_t start = core_time_mono_ms();

    /* lease_seconds 3: the first heartbeat goes after one second. */
    a->lease_seconds = 3;
    a->heartbeat_status = 409;
    ck_assert_int_eq(run_once(a, cmd, &log), 1);
    ck_assert_int_lt(core_time_mono_ms() - start, 8000);
    ck_assert_int_eq(a->heartbeats, 1);
    ck_assert_str_eq(a->heartbeat_body, "{\"lease_id\":\"deadbeef01\"}");
    ck_assert_int_eq(a->completes, 0);
    ck_assert_msg(contains(log, "event=lease_lost job=7"), "%s", log);
    ck_assert_msg(contains(log, "event=job_stopping job=7 reason=lease_lost signal=TERM"), "%s",
                  log);
    ck_assert_msg(contains(log, "event=job_exited job=7 signal=15"), "%s", log);
    free(log);
    api_stop(a);
}
END_TEST

START_TEST(cancel_stops_the_job)
{
    api *a = api_start(200);
    const char *cmd[] = {"sleep", "60", NULL};
    char *log = NULL;

    a->lease_seconds = 3;
    a->cancel = true;
    ck_assert_int_eq(run_once(a, cmd, &log), 1);
    ck_assert_int_eq(a->completes, 0);
    ck_assert_msg(contains(log, "event=job_cancelled job=7"), "%s", log);
    ck_assert_msg(contains(log, "reason=cancelled"), "%s", log);
    free(log);
    api_stop(a);
}
END_TEST

START_TEST(transient_errors_are_retried)
{
    api *a = api_start(200);
    const char *cmd[] = {"true", NULL};
    char *log = NULL;

    a->claim_fail = 2;
    a->complete_fail = 1;
    ck_assert_int_eq(run_once(a, cmd, &log), 0);
    ck_assert_int_eq(a->claims, 3);
    ck_assert_int_eq(a->completes, 2);
    ck_assert_msg(contains(log, "event=claim_failed err=\"server answered 503\" retry_in_ms="),
                  "%s", log);
    ck_assert_msg(contains(log, "event=complete_failed job=7"), "%s", log);
    ck_assert_msg(contains(log, "event=job_done job=7 status=success"), "%s", log);
    free(log);
    api_stop(a);
}
END_TEST

START_TEST(refused_claim_exits_1)
{
    api *a = api_start(401);
    const char *cmd[] = {"true", NULL};
    char *log = NULL;

    ck_assert_int_eq(run_once(a, cmd, &log), 1);
    ck_assert_int_eq(a->claims, 1);
    ck_assert_msg(contains(log, "event=claim_refused status=401 region=apac-tokyo "
                                "error=unauthorized"),
                  "%s", log);
    ck_assert(!contains(log, TOKEN));
    free(log);
    api_stop(a);
}
END_TEST

/* A job that waits on a FIFO, so that the test decides when it ends. */
typedef struct fifo_job {
    char *dir;
    char path[600];
    int fd; /* the write end, once the job has opened the read end */
    ts_proc *p;
} fifo_job;

static bool fifo_reader_there(void *ctx)
{
    fifo_job *f = ctx;

    f->fd = open(f->path, O_WRONLY | O_NONBLOCK);
    return f->fd >= 0;
}

static bool log_has_signal(void *ctx)
{
    fifo_job *f = ctx;
    char *log = ts_read_file(f->p->log, NULL);
    bool seen = contains(log, "event=signal");

    free(log);
    return seen;
}

static bool two_heartbeats(void *ctx)
{
    api *a = ctx;
    bool done;

    ts_peer_lock(a->peer);
    done = a->heartbeats >= 2;
    ts_peer_unlock(a->peer);
    return done;
}

static bool claimed(void *ctx)
{
    api *a = ctx;
    bool done;

    ts_peer_lock(a->peer);
    done = a->claims >= 1;
    ts_peer_unlock(a->peer);
    return done;
}

/* Starts a runner (--once if asked) whose job ends when the test writes to the FIFO. */
static void fifo_job_start(fifo_job *f, api *a, bool once)
{
    char *argv[] = {"runner",
                    "--server",
                    a->base,
                    "--token-env",
                    "ZONECI_TEST_RUNNER_TOKEN",
                    "--region",
                    "apac-tokyo",
                    "--wait-seconds",
                    "1",
                    "--",
                    "sh",
                    "-c",
                    "read line < \"$0\"",
                    f->path,
                    NULL,
                    NULL};

    if (once) {
        /* "--once" before "--": shift the command one place right. */
        memmove(argv + 10, argv + 9, 5 * sizeof(char *));
        argv[9] = "--once";
    }

    f->dir = ts_tmpdir();
    snprintf(f->path, sizeof(f->path), "%s/go", f->dir);
    ck_assert_int_eq(mkfifo(f->path, 0600), 0);
    f->fd = -1;
    f->p = ts_zoneci_spawn(argv, runner_env, f->dir, NULL);
    ck_assert_msg(ts_wait_until(fifo_reader_there, f, 10000), "the job did not start");
}

static void fifo_job_free(fifo_job *f)
{
    if (f->fd >= 0)
        close(f->fd);
    ts_proc_free(f->p);
    ts_rmtree(f->dir);
    free(f->dir);
}

START_TEST(sigterm_lets_the_job_finish)
{
    api *a = api_start(200);
    fifo_job f;
    char *log;
    int status;

    fifo_job_start(&f, a, false);
    kill(f.p->pid, SIGTERM);
    ck_assert(ts_wait_until(log_has_signal, &f, 10000));
    ck_assert_int_eq(write(f.fd, "go\n", 3), 3);
    status = ts_proc_signal_wait(f.p, 0);
    log = ts_read_file(f.p->log, NULL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, log);
    ck_assert_int_eq(a->claims, 1);
    ck_assert_int_eq(a->completes, 1);
    ck_assert(contains(a->complete_body, "\"status\":\"success\""));
    ck_assert_msg(contains(log, "event=signal signal=TERM stops=1 action=drain"), "%s", log);
    ck_assert_msg(contains(log, "event=runner_stop exit_code=0"), "%s", log);
    free(log);
    fifo_job_free(&f);
    api_stop(a);
}
END_TEST

START_TEST(second_sigterm_stops_the_job)
{
    api *a = api_start(200);
    fifo_job f;
    char *log;
    int status;

    fifo_job_start(&f, a, false);
    kill(f.p->pid, SIGTERM);
    ck_assert(ts_wait_until(log_has_signal, &f, 10000));
    status = ts_proc_signal_wait(f.p, SIGTERM);
    log = ts_read_file(f.p->log, NULL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, log);
    ck_assert_int_eq(a->completes, 0);
    ck_assert_msg(contains(log, "reason=runner_stopping signal=TERM"), "%s", log);
    free(log);
    fifo_job_free(&f);
    api_stop(a);
}
END_TEST

START_TEST(heartbeats_keep_the_job)
{
    api *a = api_start(200);
    fifo_job f;
    int status;

    /* lease_seconds 3: a heartbeat a second. */
    a->lease_seconds = 3;
    fifo_job_start(&f, a, true);
    ck_assert(ts_wait_until(two_heartbeats, a, 10000));
    ck_assert_int_eq(write(f.fd, "go\n", 3), 3);
    status = ts_proc_signal_wait(f.p, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(a->completes, 1);
    ck_assert(contains(a->complete_body, "\"status\":\"success\""));
    ck_assert_str_eq(a->heartbeat_body, "{\"lease_id\":\"deadbeef01\"}");
    fifo_job_free(&f);
    api_stop(a);
}
END_TEST

START_TEST(sigterm_while_idle_exits_0)
{
    /* Every claim comes back empty at once: the runner must neither spin nor linger. */
    api *a = api_start(204);
    fifo_job f = {.fd = -1};
    char *argv[] = {
        "runner",   "--server",   a->base,          "--token-env", "ZONECI_TEST_RUNNER_TOKEN",
        "--region", "apac-tokyo", "--wait-seconds", "0",           "--",
        "true",     NULL};
    int status;

    f.dir = ts_tmpdir();
    f.p = ts_zoneci_spawn(argv, runner_env, f.dir, NULL);
    /* Once it claims, its signals are set up. */
    ck_assert(ts_wait_until(claimed, a, 10000));
    kill(f.p->pid, SIGTERM);
    status = ts_proc_signal_wait(f.p, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_le(a->claims, 2);
    fifo_job_free(&f);
    api_stop(a);
}
END_TEST

Suite *suite_cli_runner(void)
{
    Suite *s = suite_create("cli_runner");
    TCase *args = tcase_create("arguments");
    TCase *api_tc = tcase_create("api");

    tcase_add_test(args, bad_arguments_exit_2);
    tcase_add_test(args, help_exits_0);
    tcase_set_timeout(api_tc, 30);
    tcase_add_test(api_tc, once_without_job_exits_3);
    tcase_add_test(api_tc, job_runs_with_env_and_success_is_reported);
    tcase_add_test(api_tc, failure_is_reported);
    tcase_add_test(api_tc, lost_lease_stops_the_job);
    tcase_add_test(api_tc, cancel_stops_the_job);
    tcase_add_test(api_tc, heartbeats_keep_the_job);
    tcase_add_test(api_tc, transient_errors_are_retried);
    tcase_add_test(api_tc, refused_claim_exits_1);
    tcase_add_test(api_tc, sigterm_lets_the_job_finish);
    tcase_add_test(api_tc, second_sigterm_stops_the_job);
    tcase_add_test(api_tc, sigterm_while_idle_exits_0);
    suite_add_tcase(s, args);
    suite_add_tcase(s, api_tc);
    return s;
}
