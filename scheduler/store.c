/* The Redis adapter, the only file that includes hiredis: URL parsing, a small pool of
 * synchronous connections, FCALL with the function library loaded again when a server
 * lacks it, and replies copied out into plain C data (store.h).
 *
 * hiredis rules kept here: a redisContext is used by one thread at a time; once its err is
 * set it is unusable and is freed; every reply is freed with freeReplyObject. */
#include "scheduler/store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "core/core.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_redelivery.h"
#include "scheduler/scripts.h"

#define POOL_MAX 1024
#define PREFIX_MAX 64
#define SUN_PATH_MAX 107 /* sizeof(sockaddr_un.sun_path) - 1; hiredis would truncate */
#define DEFAULT_CONNECT_MS 1000
#define DEFAULT_COMMAND_MS 2000
#define DEFAULT_DEDUP_TTL 86400
#define TIMEOUT_MAX_MS 600000
#define SENTINELS_MAX 16
#define WAIT_MAX_MS 60000

typedef struct conn {
    redisContext *ctx; /* NULL until connected, and again after any error */
    unsigned gen;      /* the store's gen when it connected (Sentinel) */
    bool replicas;     /* the primary had replicas when this connection opened */
    bool to_sentinel;  /* a short-lived connection to a sentinel, not to a data node */
} conn;

struct sched_store {
    char *prefix; /* "{P}:" */
    char *target; /* "host:port" or "unix:/path", for messages: never the password */
    bool is_unix;
    char *host;
    int port;
    char *path;
    char *user;     /* NULL: AUTH with the password alone */
    char *password; /* NULL: no AUTH */
    int db;
    /* Sentinel: host and port above are unused; the primary is asked for on every connect. */
    bool sentinel;
    char *master_name;
    char *sentinel_host[SENTINELS_MAX];
    int sentinel_port[SENTINELS_MAX];
    size_t n_sentinels;
    char *sentinel_password;
    atomic_uint sentinel_next; /* the sentinel that answered last: asked first */
    /* Bumped when a connection fails or the server says it is not the primary: every
     * pooled connection opened before is dropped on its next use and asks again, so all
     * threads follow a failover, not only the one that noticed it. */
    atomic_uint gen;
    int wait_ms;
    struct timeval connect_tv;
    struct timeval command_tv;
    int command_ms;
    int pool_wait_ms;
    int dedup_ttl;
    bool dedup_explicit; /* dedup_ttl_seconds was given: deliveries use it too */

    pthread_mutex_t mu; /* guards idle / n_idle */
    pthread_cond_t cv;  /* signalled when a connection is given back */
    bool sync_ready;
    conn *conns;
    conn **idle;
    size_t n_idle;
    size_t pool_size;

    atomic_uint_least64_t errors;
};

/* ---- options and URL ---------------------------------------------------------------- */

static char *str_concat(const char *a, size_t alen, const char *b, size_t blen)
{
    char *s = malloc(alen + blen + 1);

    if (!s)
        return NULL;
    memcpy(s, a, alen);
    memcpy(s + alen, b, blen);
    s[alen + blen] = '\0';
    return s;
}

static int parse_url(sched_store *s, const char *url, core_error *err)
{
    core_redis_url u;
    char cwd[4096];
    int rc = core_redis_url_parse(url, &u, err);

    if (rc < 0)
        return core_error_wrap(err, "redis url");
    s->is_unix = u.is_unix;
    s->port = u.port;
    s->db = u.db;
    /* The store keeps the credentials; u's copies are wiped below. */
    s->user = u.user;
    s->password = u.password;
    u.user = u.password = NULL;
    if (u.is_unix && u.path[0] != '/') {
        /* Resolved now, so that a later chdir cannot move the socket. */
        if (!getcwd(cwd, sizeof(cwd))) {
            rc = core_error_set(err, CORE_EINVAL, "redis url: cannot resolve relative path: %s",
                                strerror(errno));
            goto out;
        }
        s->path = str_concat(cwd, strlen(cwd), "/", 1);
        if (s->path) {
            char *full = str_concat(s->path, strlen(s->path), u.path, strlen(u.path));

            free(s->path);
            s->path = full;
        }
    } else if (u.is_unix) {
        s->path = core_strndup(u.path, strlen(u.path));
    } else {
        s->host = core_strndup(u.host, strlen(u.host));
    }
    if (u.is_unix ? !s->path : !s->host) {
        rc = core_error_set(err, CORE_ENOMEM, "redis url: out of memory");
        goto out;
    }
    if (u.is_unix && strlen(s->path) > SUN_PATH_MAX) {
        rc = core_error_set(err, CORE_EINVAL, "redis url: socket path longer than %d bytes",
                            SUN_PATH_MAX);
        goto out;
    }
    if (u.is_unix) {
        s->target = str_concat("unix:", 5, s->path, strlen(s->path));
    } else {
        size_t n = strlen(s->host) + 16;

        s->target = malloc(n);
        if (s->target)
            snprintf(s->target, n, u.ipv6 ? "[%s]:%d" : "%s:%d", s->host, s->port);
    }
    if (!s->target)
        rc = core_error_set(err, CORE_ENOMEM, "redis url: out of memory");
out:
    core_redis_url_free(&u);
    return rc;
}

/* A sentinel node: "host:port" or "[v6]:port", the port required. */
static int parse_node(const char *node, char **host, int *port, core_error *err)
{
    const char *colon = node ? strrchr(node, ':') : NULL;
    const char *h = node;
    size_t hlen;
    long p;

    if (!node || !*node || strlen(node) > 300)
        return core_error_set(err, CORE_EINVAL, "redis sentinel: a node must be host:port");
    if (!colon || !core_parse_uint(colon + 1, strlen(colon + 1), 65535, &p) || p < 1)
        return core_error_set(err, CORE_EINVAL,
                              "redis sentinel: node \"%s\": needs a port from 1 to 65535", node);
    hlen = (size_t)(colon - node);
    if (hlen >= 2 && node[0] == '[' && node[hlen - 1] == ']') {
        h = node + 1;
        hlen -= 2;
    } else if (memchr(node, ':', hlen)) {
        return core_error_set(err, CORE_EINVAL,
                              "redis sentinel: node \"%s\": write an IPv6 host in [brackets]",
                              node);
    }
    if (hlen == 0)
        return core_error_set(err, CORE_EINVAL, "redis sentinel: node \"%s\": missing host", node);
    *host = core_strndup(h, hlen);
    if (!*host)
        return core_error_set(err, CORE_ENOMEM, "redis sentinel: out of memory");
    *port = (int)p;
    return 0;
}

static char *dup_opt(const char *v, bool *nomem)
{
    char *d;

    if (!v)
        return NULL;
    d = core_strndup(v, strlen(v));
    if (!d)
        *nomem = true;
    return d;
}

static int setup_sentinel(sched_store *s, const sched_store_sentinel *o, core_error *err)
{
    bool nomem = false;
    int rc;

    if (!o->master || !*o->master || strlen(o->master) > 255)
        return core_error_set(err, CORE_EINVAL,
                              "redis sentinel: master name must be 1 to 255 "
                              "bytes");
    for (const char *p = o->master; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return core_error_set(err, CORE_EINVAL,
                                  "redis sentinel: master name without spaces or controls");
    }
    if (o->n_nodes < 1 || o->n_nodes > SENTINELS_MAX)
        return core_error_set(err, CORE_EINVAL, "redis sentinel: 1 to %d nodes", SENTINELS_MAX);
    if (o->db < 0 || o->db > 1000000)
        return core_error_set(err, CORE_EINVAL, "redis sentinel: db must be 0 to 1000000");
    for (size_t i = 0; i < o->n_nodes; i++) {
        rc = parse_node(o->nodes[i], &s->sentinel_host[i], &s->sentinel_port[i], err);
        if (rc < 0)
            return rc;
        s->n_sentinels = i + 1;
    }
    s->sentinel = true;
    s->db = o->db;
    s->master_name = dup_opt(o->master, &nomem);
    s->user = dup_opt(o->username, &nomem);
    s->password = dup_opt(o->password, &nomem);
    s->sentinel_password = dup_opt(o->sentinel_password, &nomem);
    s->target = malloc(strlen(o->master) + 16);
    if (nomem || !s->master_name || !s->target)
        return core_error_set(err, CORE_ENOMEM, "redis sentinel: out of memory");
    /* Messages name the master as the sentinels know it, and the address when one is known. */
    sprintf(s->target, "master %s", o->master);
    return 0;
}

static int check_prefix(const char *prefix, core_error *err)
{
    size_t n = prefix ? strlen(prefix) : 0;

    if (n == 0 || n > PREFIX_MAX)
        return core_error_set(err, CORE_EINVAL, "redis prefix: must be 1 to %d characters",
                              PREFIX_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)prefix[i];

        /* A brace would move the hash tag and split the keys over cluster slots. */
        if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}')
            return core_error_set(err, CORE_EINVAL,
                                  "redis prefix: printable ASCII only, no spaces or braces");
    }
    return 0;
}

static int check_timeout(const char *name, int ms, core_error *err)
{
    if (ms < 0 || ms > TIMEOUT_MAX_MS)
        return core_error_set(err, CORE_EINVAL, "redis %s: must be 0 (default) to %d ms", name,
                              TIMEOUT_MAX_MS);
    return 0;
}

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    return tv;
}

void sched_store_free(sched_store *store)
{
    if (!store)
        return;
    if (store->sync_ready) {
        /* Freeing a store while a call is running is a use-after-free in the making. */
        CORE_ASSERT(store->n_idle == store->pool_size);
        pthread_mutex_destroy(&store->mu);
        pthread_cond_destroy(&store->cv);
    }
    for (size_t i = 0; store->conns && i < store->pool_size; i++) {
        if (store->conns[i].ctx)
            redisFree(store->conns[i].ctx);
    }
    free(store->conns);
    free(store->idle);
    free(store->prefix);
    free(store->target);
    free(store->host);
    free(store->path);
    free(store->user);
    core_wipe_free(store->password);
    free(store->master_name);
    for (size_t i = 0; i < store->n_sentinels; i++)
        free(store->sentinel_host[i]);
    core_wipe_free(store->sentinel_password);
    free(store);
}

static int sync_init(sched_store *s)
{
    /* Pool waits are durations: immune to wall-clock jumps. */
    if (core_cond_init_monotonic(&s->cv) < 0)
        return CORE_ENOMEM;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        pthread_cond_destroy(&s->cv);
        return CORE_ENOMEM;
    }
    s->sync_ready = true;
    return 0;
}

int sched_store_new(sched_store **out, const sched_store_options *opts, core_error *err)
{
    sched_store *s = NULL;
    int connect_ms, rc;

    CORE_ASSERT(out && opts);
    *out = NULL;
    rc = check_prefix(opts->prefix, err);
    if (rc < 0)
        return rc;
    if (opts->pool_size < 1 || opts->pool_size > POOL_MAX)
        return core_error_set(err, CORE_EINVAL, "redis pool_size: must be 1 to %d", POOL_MAX);
    rc = check_timeout("connect_timeout_ms", opts->connect_timeout_ms, err);
    if (rc == 0)
        rc = check_timeout("command_timeout_ms", opts->command_timeout_ms, err);
    if (rc < 0)
        return rc;
    if (opts->dedup_ttl_seconds < 0)
        return core_error_set(err, CORE_EINVAL, "redis dedup_ttl_seconds: must not be negative");

    s = calloc(1, sizeof(*s));
    if (!s)
        return core_error_set(err, CORE_ENOMEM, "redis store: out of memory");
    atomic_init(&s->errors, 0);
    atomic_init(&s->gen, 0);
    atomic_init(&s->sentinel_next, 0);
    if (opts->sentinel && opts->url)
        rc = core_error_set(err, CORE_EINVAL, "redis: a url or a sentinel, not both");
    else if (opts->sentinel)
        rc = setup_sentinel(s, opts->sentinel, err);
    else
        rc = parse_url(s, opts->url, err);
    if (rc < 0)
        goto out;
    if (opts->wait_replica_ms < 0 || opts->wait_replica_ms > WAIT_MAX_MS) {
        rc =
            core_error_set(err, CORE_EINVAL, "redis wait_replica_ms: must be 0 to %d", WAIT_MAX_MS);
        goto out;
    }
    s->wait_ms = opts->wait_replica_ms;
    s->prefix = malloc(strlen(opts->prefix) + 4);
    s->conns = calloc(opts->pool_size, sizeof(*s->conns));
    s->idle = calloc(opts->pool_size, sizeof(*s->idle));
    if (!s->prefix || !s->conns || !s->idle) {
        rc = core_error_set(err, CORE_ENOMEM, "redis store: out of memory");
        goto out;
    }
    sprintf(s->prefix, "{%s}:", opts->prefix);
    s->pool_size = opts->pool_size;
    for (size_t i = 0; i < s->pool_size; i++)
        s->idle[i] = &s->conns[i];
    s->n_idle = s->pool_size;
    connect_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_MS;
    s->command_ms = opts->command_timeout_ms ? opts->command_timeout_ms : DEFAULT_COMMAND_MS;
    s->connect_tv = ms_to_tv(connect_ms);
    s->command_tv = ms_to_tv(s->command_ms);
    /* A call holds a connection for at most a connect plus a few commands; waiting longer
     * than that for one means Redis is too slow to be useful. */
    s->pool_wait_ms = connect_ms + 2 * s->command_ms;
    s->dedup_ttl = opts->dedup_ttl_seconds ? opts->dedup_ttl_seconds : DEFAULT_DEDUP_TTL;
    s->dedup_explicit = opts->dedup_ttl_seconds != 0;
    if (sync_init(s) < 0) {
        rc = core_error_set(err, CORE_ENOMEM, "redis store: cannot create locks");
        goto out;
    }
    *out = s;
    s = NULL;
out:
    sched_store_free(s);
    return rc;
}

const char *sched_store_prefix(const sched_store *store)
{
    return store->prefix;
}

int sched_store_dedup_ttl(const sched_store *store)
{
    return store->dedup_ttl;
}

int sched_store_delivery_ttl(const sched_store *store)
{
    /* Delivery recovery asks GitHub for the deliveries of the last 3 days and must know
     * every one of them that was accepted: a delivery id outlives the 24 h default. */
    return store->dedup_explicit ? store->dedup_ttl : SCHED_DELIVERY_TTL_DEFAULT;
}

uint64_t sched_store_error_count(const sched_store *store)
{
    return atomic_load(&store->errors);
}

int sched_store_key(const sched_store *store, char out[SCHED_KEY_MAX], core_error *err,
                    const char *fmt, ...)
{
    size_t plen = strlen(store->prefix);
    va_list ap;
    int n;

    if (plen >= SCHED_KEY_MAX)
        return core_error_set(err, CORE_ETOOBIG, "redis key longer than %d bytes", SCHED_KEY_MAX);
    memcpy(out, store->prefix, plen);
    va_start(ap, fmt);
    n = vsnprintf(out + plen, SCHED_KEY_MAX - plen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= SCHED_KEY_MAX - plen)
        return core_error_set(err, CORE_ETOOBIG, "redis key longer than %d bytes", SCHED_KEY_MAX);
    return 0;
}

/* ---- failures ---------------------------------------------------------------------- */

/* Counts a Redis failure and records it; returns code. */
static int fail(sched_store *s, core_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(sched_store *s, core_error *err, int code, const char *fmt, ...)
{
    char msg[CORE_ERROR_MSG_MAX];
    va_list ap;

    atomic_fetch_add(&s->errors, 1);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return core_error_set(err, code, "%s", msg);
}

/* Error replies that mean "this server cannot serve us right now" rather than "the
 * command is wrong": the caller should retry later (GitHub redelivers, the API says 503). */
static bool error_transient(const char *msg)
{
    static const char *const codes[] = {"LOADING",    "BUSY",       "READONLY",
                                        "MASTERDOWN", "TRYAGAIN",   "CLUSTERDOWN",
                                        "OOM",        "NOREPLICAS", "NOMASTERLINK"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        size_t n = strlen(codes[i]);

        if (strncmp(msg, codes[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0'))
            return true;
    }
    return false;
}

static void conn_drop(conn *c)
{
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
}

/* A connection that failed, or whose server said it cannot serve writes. With Sentinel the
 * primary may have moved: every connection opened before asks the sentinels again. */
static void conn_lost(sched_store *s, conn *c)
{
    unsigned g = c->gen;

    conn_drop(c);
    if (s->sentinel && !c->to_sentinel)
        atomic_compare_exchange_strong(&s->gen, &g, g + 1);
}

/* ---- one command on one connection -------------------------------------------------- */

/* A write to a socket the server has closed raises SIGPIPE, which kills a process that
 * did not ignore it. As libpq does, block it around our I/O and swallow one that we
 * caused; when the caller already blocks it (zoneci serve does) nothing changes. */
typedef struct pipe_guard {
    sigset_t old;
    bool active;
    bool was_pending;
} pipe_guard;

static void pipe_guard_begin(pipe_guard *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    g->active = false;
    if (pthread_sigmask(SIG_BLOCK, &set, &g->old) != 0)
        return;
    if (sigismember(&g->old, SIGPIPE) == 1)
        return;
    g->active = true;
    g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

static void pipe_guard_end(pipe_guard *g)
{
    sigset_t set, pending;
    struct timespec zero = {0, 0};

    if (!g->active)
        return;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
        sigtimedwait(&set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Sends one command and reads its reply: NULL when the connection failed (ctx->err and
 * *saved_errno say why). */
static redisReply *ctx_call(redisContext *ctx, size_t argc, const char **argv, const size_t *lens,
                            int *saved_errno)
{
    pipe_guard g;
    redisReply *r;

    pipe_guard_begin(&g);
    errno = 0;
    r = redisCommandArgv(ctx, (int)argc, argv, lens);
    *saved_errno = errno;
    pipe_guard_end(&g);
    return r;
}

static void describe_io(const sched_store *s, const redisContext *ctx, int saved_errno, char *out,
                        size_t cap)
{
    if (ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
        snprintf(out, cap, "no answer within %d ms", s->command_ms);
    else if (ctx->err == REDIS_ERR_EOF)
        snprintf(out, cap, "connection closed by the server");
    else
        snprintf(out, cap, "%s", ctx->errstr[0] ? ctx->errstr : "i/o error");
}

/* Runs argv on c. An I/O failure drops the connection (the next call reconnects) and is
 * counted; an error reply is returned as a reply for the caller to judge. */
static int conn_call(sched_store *s, conn *c, size_t argc, const char **argv, redisReply **out,
                     core_error *err)
{
    size_t lens[SCHED_STORE_ARGS_MAX];
    char why[160];
    int saved_errno;
    int rc;

    CORE_ASSERT(argc <= SCHED_STORE_ARGS_MAX);
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    *out = ctx_call(c->ctx, argc, argv, lens, &saved_errno);
    if (*out)
        return 0;
    describe_io(s, c->ctx, saved_errno, why, sizeof(why));
    rc = fail(s, err, CORE_EUNAVAILABLE, "redis %s: %s: %s", s->target, argv[0], why);
    conn_lost(s, c);
    return rc;
}

/* Turns an error reply into a code; a transient one also drops the connection, which
 * may point at a server that has just become a replica. */
static int reply_check(sched_store *s, conn *c, const redisReply *r, const char *what,
                       core_error *err)
{
    if (r->type != REDIS_REPLY_ERROR)
        return 0;
    if (error_transient(r->str)) {
        conn_lost(s, c);
        return fail(s, err, CORE_EUNAVAILABLE, "redis %s: %s: %s", s->target, what, r->str);
    }
    return fail(s, err, CORE_EIO, "redis %s: %s: %s", s->target, what, r->str);
}

/* Connects c to host:port (or the socket) with both timeouts set. */
static int ctx_connect(sched_store *s, conn *c, const char *host, int port, core_error *err)
{
    int rc;

    c->ctx = s->is_unix ? redisConnectUnixWithTimeout(s->path, s->connect_tv)
                        : redisConnectWithTimeout(host, port, s->connect_tv);
    if (!c->ctx)
        return fail(s, err, CORE_EUNAVAILABLE, "redis %s: connect: out of memory", s->target);
    if (c->ctx->err) {
        rc = fail(s, err, CORE_EUNAVAILABLE, "redis %s: connect to %s:%d: %s", s->target,
                  s->is_unix ? s->path : host, port, c->ctx->errstr);
        conn_drop(c);
        return rc;
    }
    if (redisSetTimeout(c->ctx, s->command_tv) != REDIS_OK) {
        rc = fail(s, err, CORE_EUNAVAILABLE, "redis %s: cannot set the command timeout", s->target);
        conn_drop(c);
        return rc;
    }
    return 0;
}

/* AUTH [user] password on a fresh connection; the connection is dropped on failure. */
static int conn_auth(sched_store *s, conn *c, const char *user, const char *password,
                     core_error *err)
{
    const char *argv[3];
    size_t argc = 0;
    redisReply *r = NULL;
    int rc;

    argv[argc++] = "AUTH";
    if (user)
        argv[argc++] = user;
    argv[argc++] = password;
    rc = conn_call(s, c, argc, argv, &r, err);
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_ERROR) {
        /* The server's words ("WRONGPASS invalid username-password pair") never hold
         * the password; ours do not either. */
        rc = fail(s, err, CORE_EUNAVAILABLE, "redis %s: authentication failed: %s", s->target,
                  r->str);
        conn_drop(c);
    }
    freeReplyObject(r);
    return rc;
}

/* Asks the sentinels in turn, the one that answered last first, where the primary is. */
static int sentinel_ask(sched_store *s, unsigned skip, char *host, size_t cap, int *port,
                        core_error *err)
{
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", s->master_name};
    unsigned first = atomic_load(&s->sentinel_next) + skip;
    char last[CORE_ERROR_MSG_MAX + 320] = "";
    core_error e = {0};

    for (size_t k = 0; k < s->n_sentinels; k++) {
        size_t i = (first + k) % s->n_sentinels;
        conn sc = {.to_sentinel = true};
        redisReply *r = NULL;

        /* Each failure is counted; the message of the last one is kept for the answer. */
        if (ctx_connect(s, &sc, s->sentinel_host[i], s->sentinel_port[i], &e) < 0 ||
            (s->sentinel_password && conn_auth(s, &sc, NULL, s->sentinel_password, &e) < 0) ||
            conn_call(s, &sc, 3, argv, &r, &e) < 0) {
            snprintf(last, sizeof(last), "sentinel %s:%d: %s", s->sentinel_host[i],
                     s->sentinel_port[i], e.msg);
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < cap &&
            atoi(r->element[1]->str) > 0 && atoi(r->element[1]->str) <= 65535) {
            memcpy(host, r->element[0]->str, r->element[0]->len + 1);
            *port = atoi(r->element[1]->str);
            atomic_store(&s->sentinel_next, (unsigned)i);
            freeReplyObject(r);
            conn_drop(&sc);
            return 0;
        }
        snprintf(last, sizeof(last), "sentinel %s:%d: %s", s->sentinel_host[i], s->sentinel_port[i],
                 r->type == REDIS_REPLY_ERROR ? r->str : "does not know this master");
        freeReplyObject(r);
        conn_drop(&sc);
    }
    return fail(s, err, CORE_EUNAVAILABLE, "redis %s: no sentinel named the primary; last: %s",
                s->target, last);
}

/* ROLE: whether the server is a primary and how many replicas it has now. An error reply
 * (an ACL without ROLE) counts as a primary without replicas. */
static int conn_role(sched_store *s, conn *c, bool *primary, size_t *replicas, core_error *err)
{
    const char *argv[1] = {"ROLE"};
    redisReply *r = NULL;
    int rc;

    *primary = true;
    *replicas = 0;
    rc = conn_call(s, c, 1, argv, &r, err);
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        *primary = strcmp(r->element[0]->str, "master") == 0;
        if (*primary && r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
            *replicas = r->element[2]->elements;
    }
    freeReplyObject(r);
    return 0;
}

static int conn_open(sched_store *s, conn *c, core_error *err)
{
    const char *argv[2];
    redisReply *r = NULL;
    char host[256];
    int port = s->port;
    bool primary = true;
    size_t replicas = 0;
    int rc;

    c->gen = atomic_load(&s->gen);
    c->replicas = false;
    /* Sentinel: a sentinel may name a server that has just been demoted (its view lags a
     * failover by a moment), so ROLE is checked and the next sentinel asked. */
    for (unsigned attempt = 0;; attempt++) {
        if (s->sentinel) {
            rc = sentinel_ask(s, attempt, host, sizeof(host), &port, err);
            if (rc < 0)
                return rc;
        }
        rc = ctx_connect(s, c, s->sentinel ? host : s->host, port, err);
        if (rc == 0 && s->password)
            rc = conn_auth(s, c, s->user, s->password, err);
        if (rc < 0)
            return rc;
        if (!s->sentinel && s->wait_ms == 0)
            break;
        rc = conn_role(s, c, &primary, &replicas, err);
        if (rc < 0)
            return rc;
        if (primary || !s->sentinel)
            break;
        conn_drop(c);
        if (attempt + 1 >= s->n_sentinels + 1)
            return fail(s, err, CORE_EUNAVAILABLE,
                        "redis %s: the sentinels name %s:%d, which is not a primary", s->target,
                        host, port);
    }
    c->replicas = primary && replicas > 0;
    if (s->db) {
        char db[16];

        snprintf(db, sizeof(db), "%d", s->db);
        argv[0] = "SELECT";
        argv[1] = db;
        rc = conn_call(s, c, 2, argv, &r, err);
        if (rc < 0)
            return rc;
        rc = reply_check(s, c, r, "SELECT", err);
        freeReplyObject(r);
        if (rc < 0) {
            conn_drop(c);
            return rc;
        }
    }
    return 0;
}

/* ---- the pool ------------------------------------------------------------------------ */

/* An idle connection has nothing to read: if poll says otherwise the server closed it
 * (restart, timeout, kill) and using it would fail one call for nothing. */
static bool ctx_idle_ok(const redisContext *ctx)
{
    struct pollfd p = {.fd = ctx->fd, .events = POLLIN};

    return poll(&p, 1, 0) == 0;
}

static void give_back(sched_store *s, conn *c)
{
    pthread_mutex_lock(&s->mu);
    s->idle[s->n_idle++] = c;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int borrow(sched_store *s, conn **out, core_error *err)
{
    struct timespec deadline;
    conn *c = NULL;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += s->pool_wait_ms / 1000;
    deadline.tv_nsec += (long)(s->pool_wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->n_idle == 0) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT)
            break;
    }
    /* Last in, first out: the connection most recently used is the likeliest to be open. */
    if (s->n_idle > 0)
        c = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->mu);
    if (!c)
        return core_error_set(err, CORE_EUNAVAILABLE,
                              "redis %s: all %zu connections busy for %d ms", s->target,
                              s->pool_size, s->pool_wait_ms);
    if (c->ctx &&
        (c->ctx->err || !ctx_idle_ok(c->ctx) || (s->sentinel && c->gen != atomic_load(&s->gen))))
        conn_drop(c);
    if (!c->ctx) {
        rc = conn_open(s, c, err);
        if (rc < 0) {
            give_back(s, c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* ---- replies --------------------------------------------------------------------------- */

static void reply_measure(const redisReply *r, size_t *nodes, size_t *bytes)
{
    (*nodes)++;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        *bytes += r->len + 1;
        break;
    case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; i++)
            reply_measure(r->element[i], nodes, bytes);
        break;
    default:
        break;
    }
}

typedef struct reply_fill_state {
    sched_reply *node; /* next free node */
    char *byte;        /* next free string byte */
} reply_fill_state;

/* Children of an array sit next to each other, so elem can be indexed. */
static void reply_fill(const redisReply *r, sched_reply *dst, reply_fill_state *st)
{
    memset(dst, 0, sizeof(*dst));
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        dst->type = SCHED_REPLY_INT;
        dst->integer = r->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        dst->type = r->type == REDIS_REPLY_ERROR ? SCHED_REPLY_ERROR : SCHED_REPLY_STR;
        if (r->len)
            memcpy(st->byte, r->str, r->len);
        st->byte[r->len] = '\0';
        dst->str = st->byte;
        dst->len = r->len;
        st->byte += r->len + 1;
        break;
    case REDIS_REPLY_ARRAY: {
        sched_reply *kids = st->node;

        dst->type = SCHED_REPLY_ARRAY;
        dst->n = r->elements;
        dst->elem = kids;
        st->node += r->elements;
        for (size_t i = 0; i < r->elements; i++)
            reply_fill(r->element[i], &kids[i], st);
        break;
    }
    default:
        dst->type = SCHED_REPLY_NIL;
    }
}

static int reply_copy(const redisReply *r, sched_reply **out, core_error *err)
{
    size_t nodes = 0, bytes = 0;
    reply_fill_state st;
    sched_reply *root;

    reply_measure(r, &nodes, &bytes);
    if (nodes > (SIZE_MAX - bytes) / sizeof(sched_reply))
        return core_error_set(err, CORE_ENOMEM, "redis reply too large");
    root = malloc(nodes * sizeof(sched_reply) + bytes);
    if (!root)
        return core_error_set(err, CORE_ENOMEM, "redis reply: out of memory");
    st.node = root + 1;
    st.byte = (char *)(root + nodes);
    reply_fill(r, root, &st);
    *out = root;
    return 0;
}

const sched_reply *sched_reply_item(const sched_reply *r, size_t i)
{
    return r && r->type == SCHED_REPLY_ARRAY && i < r->n ? &r->elem[i] : NULL;
}

int64_t sched_reply_int(const sched_reply *v)
{
    if (!v)
        return 0;
    if (v->type == SCHED_REPLY_INT)
        return v->integer;
    if (v->type == SCHED_REPLY_STR)
        return strtoll(v->str, NULL, 10);
    return 0;
}

void sched_reply_free(sched_reply *reply)
{
    free(reply);
}

/* ---- public calls ------------------------------------------------------------------------ */

/* FUNCTION LOAD REPLACE: the same text under the same name, so racing loaders and a
 * library already there are harmless. */
static int library_load(sched_store *s, conn *c, core_error *err)
{
    const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", sched_script_library()};
    redisReply *r;
    int rc;

    rc = conn_call(s, c, 4, argv, &r, err);
    if (rc < 0)
        return rc;
    rc = reply_check(s, c, r, "FUNCTION LOAD", err);
    freeReplyObject(r);
    return rc;
}

static bool is_function_missing(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strstr(r->str, "Function not found") != NULL;
}

/* Runs the script on the borrowed connection c. */
static int eval_on(sched_store *store, conn *c, sched_script script, const char *const *keys,
                   size_t nkeys, const char *const *args, size_t nargs, sched_reply **out,
                   core_error *err)
{
    const char *argv[SCHED_STORE_ARGS_MAX];
    char nk[24];
    char what[48];
    redisReply *r = NULL;
    size_t argc = 0;
    int rc;

    CORE_ASSERT(store && out && (unsigned)script < SCHED_SCRIPT_COUNT);
    CORE_ASSERT(nkeys + nargs + 3 <= SCHED_STORE_ARGS_MAX);
    *out = NULL;
    snprintf(nk, sizeof(nk), "%zu", nkeys);
    snprintf(what, sizeof(what), "script %s", sched_script_name(script));
    argv[argc++] = "FCALL";
    argv[argc++] = sched_script_function(script);
    argv[argc++] = nk;
    for (size_t i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (size_t i = 0; i < nargs; i++)
        argv[argc++] = args[i];

    rc = conn_call(store, c, argc, argv, &r, err);
    if (rc == 0 && is_function_missing(r)) {
        /* A new, restarted or failed-over server without persistence, or FUNCTION FLUSH:
         * load and run again. The function did not run, so running it now cannot run it
         * twice. */
        CORE_LOG(CORE_LOG_INFO, "redis_functions_load", "target=%s", store->target);
        freeReplyObject(r);
        r = NULL;
        rc = library_load(store, c, err);
        if (rc == 0)
            rc = conn_call(store, c, argc, argv, &r, err);
    }
    if (rc == 0)
        rc = reply_check(store, c, r, what, err);
    if (rc == 0)
        rc = reply_copy(r, out, err);
    if (r)
        freeReplyObject(r);
    return rc;
}

int sched_store_eval(sched_store *store, sched_script script, const char *const *keys, size_t nkeys,
                     const char *const *args, size_t nargs, sched_reply **out, core_error *err)
{
    conn *c;
    int rc;

    *out = NULL;
    rc = borrow(store, &c, err);
    if (rc < 0)
        return rc;
    rc = eval_on(store, c, script, keys, nkeys, args, nargs, out, err);
    give_back(store, c);
    return rc;
}

/* The barrier and WAIT of sched_store_eval_acked on c. */
static int wait_replica(sched_store *s, conn *c, core_error *err)
{
    char key[SCHED_KEY_MAX];
    char ms[16];
    const char *incr[3] = {"INCRBY", key, "0"};
    const char *wait[3] = {"WAIT", "1", ms};
    struct timeval tv;
    redisReply *r = NULL;
    long long acked;
    int rc;

    if (s->wait_ms == 0 || !c->replicas || !c->ctx)
        return 0;
    rc = sched_store_key(s, key, err, "wait");
    if (rc < 0)
        return rc;
    /* INCRBY 0 changes nothing but is replicated like any write, so the WAIT below covers
     * all that came before it in the replication stream, not only this connection's. */
    rc = conn_call(s, c, 3, incr, &r, err);
    if (rc == 0)
        rc = reply_check(s, c, r, "INCRBY", err);
    if (r)
        freeReplyObject(r);
    r = NULL;
    if (rc < 0)
        return rc;
    snprintf(ms, sizeof(ms), "%d", s->wait_ms);
    /* WAIT blocks up to wait_ms: the socket's timeout must outlast it. */
    tv = ms_to_tv(s->wait_ms + s->command_ms);
    if (redisSetTimeout(c->ctx, tv) != REDIS_OK)
        return fail(s, err, CORE_EUNAVAILABLE, "redis %s: cannot set the WAIT timeout", s->target);
    rc = conn_call(s, c, 3, wait, &r, err);
    if (rc < 0)
        return rc;
    rc = reply_check(s, c, r, "WAIT", err);
    acked = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (rc < 0)
        return rc;
    if (c->ctx && redisSetTimeout(c->ctx, s->command_tv) != REDIS_OK)
        conn_drop(c);
    if (acked < 1) {
        /* The replica may be gone for good: a new connection asks ROLE again, and without
         * replicas it no longer waits. */
        conn_drop(c);
        return fail(s, err, CORE_EUNAVAILABLE,
                    "redis %s: no replica acknowledged the write within %d ms", s->target,
                    s->wait_ms);
    }
    return 0;
}

int sched_store_eval_acked(sched_store *store, sched_script script, const char *const *keys,
                           size_t nkeys, const char *const *args, size_t nargs, sched_reply **out,
                           core_error *err)
{
    conn *c;
    int rc;

    *out = NULL;
    rc = borrow(store, &c, err);
    if (rc < 0)
        return rc;
    rc = eval_on(store, c, script, keys, nkeys, args, nargs, out, err);
    if (rc == 0)
        rc = wait_replica(store, c, err);
    if (rc < 0 && *out) {
        sched_reply_free(*out);
        *out = NULL;
    }
    give_back(store, c);
    return rc;
}

int sched_store_command(sched_store *store, const char *const *argv, size_t argc, sched_reply **out,
                        core_error *err)
{
    const char *copy[SCHED_STORE_ARGS_MAX];
    redisReply *r = NULL;
    conn *c;
    int rc;

    CORE_ASSERT(store && out && argc >= 1 && argc <= SCHED_STORE_ARGS_MAX);
    *out = NULL;
    memcpy(copy, argv, argc * sizeof(*argv));
    rc = borrow(store, &c, err);
    if (rc < 0)
        return rc;
    rc = conn_call(store, c, argc, copy, &r, err);
    if (rc == 0)
        rc = reply_check(store, c, r, argv[0], err);
    if (rc == 0)
        rc = reply_copy(r, out, err);
    if (r)
        freeReplyObject(r);
    give_back(store, c);
    return rc;
}

int sched_store_ping(sched_store *store, core_error *err)
{
    const char *argv[1] = {"PING"};
    sched_reply *r;
    int rc;

    rc = sched_store_command(store, argv, 1, &r, err);
    if (rc < 0)
        return rc;
    if (r->type != SCHED_REPLY_STR || strcmp(r->str, "PONG") != 0)
        rc = fail(store, err, CORE_EIO, "redis %s: PING: unexpected answer", store->target);
    sched_reply_free(r);
    return rc;
}

int sched_store_job_key(const sched_store *store, const char *id, char key[SCHED_KEY_MAX],
                        core_error *err)
{
    if (!sched_job_id_valid(id))
        return core_error_set(err, CORE_ENOTFOUND, "job not found: ids are decimal digits");
    return sched_store_key(store, key, err, "job:%s", id);
}

int sched_store_job_keys(const sched_store *store, const char *id, char job[SCHED_KEY_MAX],
                         char history[SCHED_KEY_MAX], char audit[SCHED_KEY_MAX], core_error *err)
{
    int rc = sched_store_key(store, job, err, "job:%s", id);

    if (rc == 0)
        rc = sched_store_key(store, history, err, "job:%s:history", id);
    if (rc == 0)
        rc = sched_store_key(store, audit, err, "audit");
    return rc;
}

/* ---- watching for claimable jobs (pub/sub) ---------------------------------------------
 * A subscribed connection cannot serve other commands, so the watch has its own, outside
 * the pool. It polls the socket with a short timeout instead of using a hiredis read
 * timeout (which would leave the context unusable), so that stopping takes at most one
 * poll interval. After every (re)subscription the callback hears "" (any region): a
 * message may have been missed while the connection was down. */
#define WATCH_POLL_MS 200

struct sched_watch {
    sched_store *store;
    void (*on_ready)(const char *region, void *ctx);
    void *ctx;
    atomic_bool stop;
    pthread_t thread;
    conn c;
};

static bool watch_subscribe(sched_watch *w)
{
    char channel[SCHED_KEY_MAX];
    redisReply *r;

    if (conn_open(w->store, &w->c, NULL) < 0)
        return false;
    if (sched_store_key(w->store, channel, NULL, "ready") < 0)
        return false;
    r = redisCommand(w->c.ctx, "SUBSCRIBE %s", channel);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        conn_drop(&w->c);
        return false;
    }
    freeReplyObject(r);
    w->on_ready("", w->ctx);
    return true;
}

static void watch_deliver(sched_watch *w, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "message") == 0 &&
        r->element[2]->type == REDIS_REPLY_STRING)
        w->on_ready(r->element[2]->str, w->ctx);
}

static void *watch_main(void *arg)
{
    sched_watch *w = arg;

    while (!atomic_load(&w->stop)) {
        void *reply = NULL;
        struct pollfd p;

        /* Another connection saw the primary move: follow it here too. */
        if (w->c.ctx && w->store->sentinel && w->c.gen != atomic_load(&w->store->gen))
            conn_drop(&w->c);
        if (!w->c.ctx && !watch_subscribe(w)) {
            poll(NULL, 0, WATCH_POLL_MS);
            continue;
        }
        /* Replies already buffered first: a read may have brought several. */
        if (redisGetReplyFromReader(w->c.ctx, &reply) == REDIS_ERR) {
            conn_drop(&w->c);
            continue;
        }
        if (reply) {
            watch_deliver(w, reply);
            freeReplyObject(reply);
            continue;
        }
        p.fd = w->c.ctx->fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, WATCH_POLL_MS) <= 0)
            continue;
        if (redisBufferRead(w->c.ctx) == REDIS_ERR) {
            atomic_fetch_add(&w->store->errors, 1);
            conn_drop(&w->c);
        }
    }
    conn_drop(&w->c);
    return NULL;
}

int sched_watch_start(sched_watch **out, sched_store *store,
                      void (*on_ready)(const char *region, void *ctx), void *ctx, core_error *err)
{
    sched_watch *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (!w)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    w->store = store;
    w->on_ready = on_ready;
    w->ctx = ctx;
    atomic_init(&w->stop, false);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        free(w);
        return core_error_set(err, CORE_EIO, "cannot start the watch thread");
    }
    *out = w;
    return 0;
}

void sched_watch_stop(sched_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    free(w);
}
