/* Test support implementation: processes are forked and exec'd for real; waits poll a
 * condition (a socket that answers, a health endpoint) instead of sleeping blindly. */
#define _GNU_SOURCE
#include "tests/support/support.h"

#include "core/core.h"
#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_route.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *ts_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    char *dir;

    snprintf(tmpl, sizeof(tmpl), "%s/zoneci-test-XXXXXX", base && *base ? base : "/tmp");
    dir = mkdtemp(tmpl);
    ck_assert_msg(dir != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void ts_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *ts_write_file(const char *dir, const char *name, const char *content)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    FILE *f;

    sprintf(path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "open %s", path);
    fwrite(content, 1, strlen(content), f);
    fclose(f);
    return path;
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t n = 0, cap = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            data = realloc(data, cap);
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

int ts_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    ck_assert(fd >= 0);
    ck_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

bool ts_wait_until(bool (*pred)(void *ctx), void *ctx, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        if (pred(ctx))
            return true;
        poll(NULL, 0, 5);
    }
    return pred(ctx);
}

static bool unix_socket_answers(void *ctx)
{
    ts_redis *r = ctx;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    bool ok;
    char reply[16] = {0};

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", r->socket);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (ok) {
        /* Connected is not enough: while loading the AOF Redis answers -LOADING. */
        ok = write(fd, "PING\r\n", 6) == 6 && read(fd, reply, sizeof(reply) - 1) > 0 &&
             strncmp(reply, "+PONG", 5) == 0;
    }
    close(fd);
    return ok;
}

static void redis_exec(ts_redis *r)
{
    char logpath[600];
    pid_t pid = fork();

    ck_assert(pid >= 0);
    if (pid == 0) {
        snprintf(logpath, sizeof(logpath), "%s/redis.log", r->dir);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->socket,
               "--unixsocketperm", "700", "--dir", r->dir, "--save", "", "--appendonly",
               r->aof ? "yes" : "no", "--appendfsync", "always", "--logfile", logpath,
               (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    ck_assert_msg(ts_wait_until(unix_socket_answers, r, 10000), "redis-server did not start");
}

ts_redis *ts_redis_start(bool aof)
{
    ts_redis *r = calloc(1, sizeof(*r));

    r->dir = ts_tmpdir();
    r->aof = aof;
    snprintf(r->socket, sizeof(r->socket), "%s/redis.sock", r->dir);
    snprintf(r->url, sizeof(r->url), "unix://%s", r->socket);
    redis_exec(r);
    return r;
}

void ts_redis_stop(ts_redis *r)
{
    if (r && r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
        unlink(r->socket);
    }
}

void ts_redis_resume(ts_redis *r)
{
    redis_exec(r);
}

void ts_redis_free(ts_redis *r)
{
    if (!r)
        return;
    ts_redis_stop(r);
    ts_rmtree(r->dir);
    free(r->dir);
    free(r);
}

char *ts_redis_cli(ts_redis *r, const char *args)
{
    char cmd[2048];
    FILE *p;
    char *out = calloc(1, 65536);
    size_t n;

    snprintf(cmd, sizeof(cmd), "redis-cli -s '%s' %s 2>&1", r->socket, args);
    p = popen(cmd, "r");
    ck_assert(p != NULL);
    n = fread(out, 1, 65535, p);
    pclose(p);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    return out;
}

static const char *zoneci_bin(void)
{
    const char *bin = getenv("ZONECI_BIN");

    return bin && *bin ? bin : "build/zoneci";
}

/* environ plus extra, extra entries winning. */
static char **merged_env(char *const extra[])
{
    size_t n = 0, m = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    env = calloc(n + m + 1, sizeof(*env));
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);

        for (size_t j = 0; j < m; j++)
            overridden |= strncmp(environ[i], extra[j], klen) == 0;
        if (!overridden)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = extra[j];
    return env;
}

static pid_t spawn(char *const argv[], char *const env[], int out_fd, int err_fd)
{
    size_t argc = 0;
    char **full;
    char **envp = merged_env(env);
    pid_t pid;

    while (argv[argc])
        argc++;
    full = calloc(argc + 2, sizeof(*full));
    full[0] = (char *)zoneci_bin();
    for (size_t i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (out_fd >= 0)
            dup2(out_fd, STDOUT_FILENO);
        if (err_fd >= 0)
            dup2(err_fd, STDERR_FILENO);
        execve(full[0], full, envp);
        _exit(127);
    }
    free(full);
    free(envp);
    return pid;
}

typedef struct health_wait {
    const char *url;
    pid_t pid;
} health_wait;

static bool healthy(void *ctx)
{
    health_wait *w = ctx;
    ts_response r;
    bool ok;

    if (waitpid(w->pid, NULL, WNOHANG) == w->pid)
        return true; /* exited: stop waiting, the caller's request will fail visibly */
    ok = ts_http("GET", w->url, NULL, NULL, 0, &r) == 0 && r.status == 200;
    if (ok)
        ts_response_free(&r);
    return ok;
}

ts_proc *ts_zoneci_spawn(char *const argv[], char *const env[], const char *log_dir,
                         const char *wait_url)
{
    ts_proc *p = calloc(1, sizeof(*p));
    static int serial;
    int fd;

    snprintf(p->log, sizeof(p->log), "%s/zoneci-%d-%d.log", log_dir, (int)getpid(), ++serial);
    fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(fd >= 0);
    p->pid = spawn(argv, env, -1, fd);
    close(fd);
    if (wait_url) {
        char url[600];
        health_wait w = {url, p->pid};

        snprintf(url, sizeof(url), "%s/healthz", wait_url);
        ck_assert_msg(ts_wait_until(healthy, &w, 15000), "zoneci did not become healthy");
    }
    return p;
}

int ts_proc_signal_wait(ts_proc *p, int sig)
{
    int status = 0;

    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
    return status;
}

void ts_proc_free(ts_proc *p)
{
    if (!p)
        return;
    if (p->pid > 0)
        ts_proc_signal_wait(p, SIGKILL);
    free(p);
}

static char *slurp_fd(int fd)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t got;

    for (;;) {
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    return buf;
}

int ts_zoneci_run(char *const argv[], char *const env[], char **out, char **errout)
{
    char tmpl_out[] = "/tmp/zoneci-out-XXXXXX";
    char tmpl_err[] = "/tmp/zoneci-err-XXXXXX";
    int ofd = mkstemp(tmpl_out), efd = mkstemp(tmpl_err);
    int status = 0;
    pid_t pid;

    ck_assert(ofd >= 0 && efd >= 0);
    unlink(tmpl_out);
    unlink(tmpl_err);
    pid = spawn(argv, env, ofd, efd);
    waitpid(pid, &status, 0);
    lseek(ofd, 0, SEEK_SET);
    lseek(efd, 0, SEEK_SET);
    if (out)
        *out = slurp_fd(ofd);
    if (errout)
        *errout = slurp_fd(efd);
    close(ofd);
    close(efd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t collect(char *data, size_t size, size_t nmemb, void *ctx)
{
    char **buf = ctx;
    size_t old = *buf ? strlen(*buf) : 0;
    size_t n = size * nmemb;

    *buf = realloc(*buf, old + n + 1);
    memcpy(*buf + old, data, n);
    (*buf)[old + n] = '\0';
    return n;
}

int ts_http(const char *method, const char *url, const char *const *headers, const char *body,
            size_t len, ts_response *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    /* Send bodies as they are: no "Expect: 100-continue" round trip. */
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!out->body)
        out->body = calloc(1, 1);
    out->len = strlen(out->body);
    if (rc != CURLE_OK) {
        ts_response_free(out);
        out->status = 0;
        return -1;
    }
    return 0;
}

void ts_response_free(ts_response *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

static void hmac_hex(const char *secret, const unsigned char *msg, size_t len, char *hex)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    static const char digits[] = "0123456789abcdef";

    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, len, mac, &maclen);
    for (unsigned int i = 0; i < maclen; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[2 * maclen] = '\0';
}

void ts_github_signature(const char *secret, const char *body, size_t len, char *out)
{
    strcpy(out, "sha256=");
    hmac_hex(secret, (const unsigned char *)body, len, out + 7);
}

void ts_slack_signature(const char *secret, const char *ts, const char *body, size_t len, char *out)
{
    size_t tl = strlen(ts);
    unsigned char *msg = malloc(3 + tl + 1 + len);

    memcpy(msg, "v0:", 3);
    memcpy(msg + 3, ts, tl);
    msg[3 + tl] = ':';
    memcpy(msg + 4 + tl, body, len);
    strcpy(out, "v0=");
    hmac_hex(secret, msg, 4 + tl + len, out + 3);
    free(msg);
}

const char *ts_fixtures_dir(void)
{
    const char *dir = getenv("ZONECI_FIXTURES");
    struct stat st;

    if (!dir || !*dir)
        dir = "../shared/fixtures";
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

char *ts_pr_payload(const char *action, int number, const char *sha, bool draft, const char *repo)
{
    char *p = NULL;

    if (asprintf(
            &p,
            "{\"action\":\"%s\",\"number\":%d,\"pull_request\":{\"number\":%d,"
            "\"title\":\"Add \\\"users\\\" table\\nand index\",\"draft\":%s,"
            "\"user\":{\"login\":\"octocat\"},\"head\":{\"sha\":\"%s\",\"ref\":\"feature\"},"
            "\"base\":{\"sha\":\"cccccccccccccccccccccccccccccccccccccccc\",\"ref\":\"main\"}},"
            "\"repository\":{\"full_name\":\"%s\","
            "\"clone_url\":\"https://github.com/%s.git\"},"
            "\"installation\":{\"id\":42},\"sender\":{\"login\":\"octocat\"}}",
            action, number, number, draft ? "true" : "false", sha, repo, repo) < 0)
        ck_abort_msg("asprintf");
    return p;
}

long ts_post_github(const char *base, const char *event, const char *delivery, const char *body,
                    size_t len, const char *secret, char **body_out)
{
    char url[256], sig[128], h_sig[160], h_event[96], h_delivery[160];
    const char *headers[6];
    int n = 0;
    ts_response r;
    long status;

    snprintf(url, sizeof(url), "%s/webhooks/github", base);
    headers[n++] = "Content-Type: application/json";
    if (event) {
        snprintf(h_event, sizeof(h_event), "X-GitHub-Event: %s", event);
        headers[n++] = h_event;
    }
    if (delivery) {
        snprintf(h_delivery, sizeof(h_delivery), "X-GitHub-Delivery: %s", delivery);
        headers[n++] = h_delivery;
    }
    if (secret) {
        ts_github_signature(secret, body, len, sig);
        snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", sig);
        headers[n++] = h_sig;
    }
    headers[n] = NULL;
    ck_assert_int_eq(ts_http("POST", url, headers, body, len, &r), 0);
    status = r.status;
    if (body_out) {
        *body_out = r.body;
        r.body = NULL;
    }
    ts_response_free(&r);
    return status;
}

const char *ts_rsa_key_pem(void)
{
    static char *pem;

    if (!pem) {
        EVP_PKEY *pkey = EVP_RSA_gen(2048);
        BIO *b = BIO_new(BIO_s_mem());
        char *p;
        long n;

        ck_assert_ptr_nonnull(pkey);
        ck_assert_int_eq(PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL), 1);
        n = BIO_get_mem_data(b, &p);
        pem = strndup(p, (size_t)n);
        BIO_free(b);
        EVP_PKEY_free(pkey);
    }
    return pem;
}

int64_t ts_iso(const char *s)
{
    int64_t ms;
    core_error err = {0};

    ck_assert_msg(core_time_parse_iso(s, &ms, &err) == 0, "%s: %s", s, err.msg);
    return ms;
}

void ts_sched_start(ts_sched *s, const char *prefix, const char *config_text)
{
    sched_store_options so = {.prefix = prefix, .pool_size = 2};
    policy_problems problems = {0};
    core_error err = {0};
    const char *end = strrchr(config_text, '}');
    char *text = NULL;

    memset(s, 0, sizeof(*s));
    ck_assert_ptr_nonnull(end);
    s->redis = ts_redis_start(false);
    s->dir = ts_tmpdir();
    so.url = s->redis->url;
    ck_assert_msg(sched_store_new(&s->store, &so, &err) == 0, "store: %s", err.msg);
    ck_assert(asprintf(&text, "%.*s, \"cache_dir\": \"%s/cache\"}\n", (int)(end - config_text),
                       config_text, s->dir) > 0);
    ck_assert_msg(policy_config_parse(text, strlen(text), "test", &s->cfg, &problems, &err) == 0,
                  "config: %s: %s", err.msg, problems.count ? problems.items[0].msg : "");
    free(text);
    ck_assert_msg(sched_plan_new(&s->plan, s->cfg, &err) == 0, "plan: %s", err.msg);
}

void ts_sched_stop(ts_sched *s)
{
    sched_plan_free(s->plan);
    policy_config_free(s->cfg);
    sched_store_free(s->store);
    ts_redis_free(s->redis);
    ts_rmtree(s->dir);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

void ts_sh(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    ck_assert(vasprintf(&cmd, fmt, ap) > 0);
    va_end(ap);
    rc = system(cmd);
    ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
    free(cmd);
}

char *ts_git_rev(const char *repo, const char *name)
{
    char *cmd = NULL, out[80] = "";
    FILE *p;

    ck_assert(asprintf(&cmd, "git -C '%s' rev-parse '%s'", repo, name) > 0);
    p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen: %s", cmd);
    ck_assert_msg(fgets(out, sizeof(out), p) != NULL, "no output from %s", cmd);
    pclose(p);
    free(cmd);
    out[strcspn(out, "\n")] = '\0';
    return strdup(out);
}

json_t *ts_job_get(const char *base, const char *id, const char *token)
{
    char url[256], auth[300];
    const char *headers[] = {auth, NULL};
    ts_response r;
    json_t *j;

    snprintf(url, sizeof(url), "%s/api/v1/jobs/%s", base, id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    ck_assert_int_eq(ts_http("GET", url, token ? headers : NULL, NULL, 0, &r), 0);
    ck_assert_msg(r.status == 200, "GET %s: %ld %s", url, r.status, r.body);
    j = json_loads(r.body, 0, NULL);
    ts_response_free(&r);
    ck_assert_ptr_nonnull(j);
    return j;
}

typedef struct job_wait {
    const char *base, *id, *token, *state;
} job_wait;

static bool job_in_state(void *ctx)
{
    job_wait *w = ctx;
    json_t *j = ts_job_get(w->base, w->id, w->token);
    const char *st = json_string_value(json_object_get(j, "state"));
    bool ok = st && strcmp(st, w->state) == 0;

    json_decref(j);
    return ok;
}

bool ts_job_wait_state(const char *base, const char *id, const char *token, const char *state,
                       int timeout_ms)
{
    job_wait w = {base, id, token, state};

    return ts_wait_until(job_in_state, &w, timeout_ms);
}

notify_http *ts_notify_client(void)
{
    notify_http *h = NULL;
    core_error err = {0};

    ck_assert_msg(notify_http_new(&h, &err) == 0, "notify_http_new: %s", err.msg);
    ck_assert_ptr_nonnull(h);
    return h;
}

static bool tz_saved;
static char *tz_before;

void ts_tz_use(const char *tz)
{
    if (!tz_saved) {
        tz_before = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
        tz_saved = true;
    }
    setenv("TZ", tz, 1);
    tzset();
}

void ts_tz_restore(void)
{
    if (!tz_saved)
        return;
    if (tz_before)
        setenv("TZ", tz_before, 1);
    else
        unsetenv("TZ");
    tzset();
    free(tz_before);
    tz_before = NULL;
    tz_saved = false;
}
