/* ts_peer: a local libmicrohttpd server that plays an outside service for the tests.
 * Bodies are read whole, then one handler call at a time under the peer's lock, so the
 * handler and the test share what it records without locks of their own. */
#include "tests/support/support.h"

#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/core.h"

#define PEER_MAX_BODY (4u * 1024 * 1024)
#define PEER_START_TRIES 5

struct ts_peer {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t mu;
    pthread_cond_t wake; /* ends delays early once stopping is set */
    bool stopping;
    atomic_uint connections;
    ts_peer_handler handler;
    void *ctx;
};

/* One request while its body arrives. refuse is the status it gets instead of the
 * handler's answer: 413 past PEER_MAX_BODY, 500 when the body could not be kept. */
typedef struct pending {
    core_buf body;
    unsigned refuse;
} pending;

/* A copy of an answer's bytes, streamed out without Content-Length. */
typedef struct stream {
    size_t len;
    char data[];
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    const stream *s = cls;

    if (pos >= s->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > s->len - pos)
        max = s->len - pos;
    memcpy(buf, s->data + pos, max);
    return (ssize_t)max;
}

static struct MHD_Response *stream_response(const char *data, size_t len)
{
    stream *s = malloc(sizeof(*s) + len);
    struct MHD_Response *r;

    if (!s)
        return NULL;
    s->len = len;
    memcpy(s->data, data, len);
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s, free);
    if (!r)
        free(s);
    return r;
}

/* Builds the response at once, so that ans->data only has to outlive the handler call. */
static struct MHD_Response *response_of(const ts_peer_answer *ans)
{
    const char *data = ans->data ? ans->data : ans->body;
    size_t len = ans->data ? ans->data_len : strlen(ans->body);
    struct MHD_Response *r;

    if (ans->chunked)
        r = stream_response(data, len);
    else
        r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return NULL;
    MHD_add_response_header(r, "Content-Type", ans->content_type);
    if (ans->retry_after)
        MHD_add_response_header(r, "Retry-After", ans->retry_after);
    if (ans->link[0])
        MHD_add_response_header(r, "Link", ans->link);
    return r;
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, unsigned status,
                                   struct MHD_Response *r)
{
    enum MHD_Result ok;

    if (!r)
        return MHD_NO;
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Called with p->mu held. Sleeping on the condition variable lets go of the lock while
 * waiting, and ts_peer_stop can end the wait: a test that provokes a client timeout with
 * a long delay does not also make the stop wait the delay out. */
static void delay_locked(ts_peer *p, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->mu, &until) == 0)
        continue;
}

static const char *lookup_header(const ts_peer_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static const char *lookup_arg(const ts_peer_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header_or_empty(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    return v ? v : "";
}

static unsigned connection_number(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? (unsigned)(uintptr_t)ci->socket_context : 0;
}

/* Hands the whole request to the handler and answers as it says. */
static enum MHD_Result answer(ts_peer *p, struct MHD_Connection *conn, const char *url,
                              const char *method, const pending *pd)
{
    ts_peer_answer ans = {.status = 200, .content_type = "application/json"};
    ts_peer_request req = {.method = method,
                           .url = url,
                           .body = pd->body.data ? pd->body.data : "",
                           .body_len = pd->body.len,
                           .authorization = header_or_empty(conn, "Authorization"),
                           .content_type = header_or_empty(conn, "Content-Type"),
                           .header = lookup_header,
                           .arg = lookup_arg,
                           .connection = connection_number(conn),
                           .conn = conn};
    struct MHD_Response *r;

    pthread_mutex_lock(&p->mu);
    p->handler(p->ctx, &req, &ans);
    r = response_of(&ans);
    if (ans.delay_ms > 0)
        delay_locked(p, ans.delay_ms);
    pthread_mutex_unlock(&p->mu);
    return send_answer(conn, ans.status, r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_ctx)
{
    pending *pd = *req_ctx;
    ts_peer_answer refused = {.content_type = "application/json"};

    (void)version;
    if (!pd) {
        *req_ctx = calloc(1, sizeof(pending));
        return *req_ctx ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        /* A refused body is still read to its end, so that the client sees the status. */
        if (!pd->refuse && pd->body.len + *upload_size > PEER_MAX_BODY)
            pd->refuse = 413;
        if (!pd->refuse && core_buf_append(&pd->body, upload, *upload_size) < 0)
            pd->refuse = 500;
        *upload_size = 0;
        return MHD_YES;
    }
    if (pd->refuse)
        return send_answer(conn, pd->refuse, response_of(&refused));
    return answer(cls, conn, url, method, pd);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_ctx,
                      enum MHD_RequestTerminationCode code)
{
    pending *pd = *req_ctx;

    (void)cls;
    (void)conn;
    (void)code;
    if (pd) {
        core_buf_free(&pd->body);
        free(pd);
        *req_ctx = NULL;
    }
}

static void connection_event(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                             enum MHD_ConnectionNotificationCode code)
{
    ts_peer *p = cls;

    (void)conn;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        *socket_ctx = (void *)(uintptr_t)(atomic_fetch_add(&p->connections, 1) + 1);
}

static struct MHD_Daemon *daemon_start(ts_peer *p)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    sa.sin_port = htons((uint16_t)p->port);
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            (uint16_t)p->port, NULL, NULL, handle, p, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, p,
                            MHD_OPTION_NOTIFY_CONNECTION, connection_event, p, MHD_OPTION_END);
}

ts_peer *ts_peer_start(ts_peer_handler handler, void *ctx)
{
    ts_peer *p = calloc(1, sizeof(*p));
    pthread_condattr_t ca;

    ck_assert_ptr_nonnull(p);
    pthread_mutex_init(&p->mu, NULL);
    /* Delays are measured on the monotonic clock: a wall clock step must not stretch them. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&p->connections, 0);
    p->handler = handler;
    p->ctx = ctx;
    /* A port free a moment ago may be taken by now: try a few. */
    for (int tries = 0; !p->d && tries < PEER_START_TRIES; tries++) {
        p->port = ts_free_port();
        p->d = daemon_start(p);
    }
    ck_assert_msg(p->d != NULL, "cannot start a test peer");
    snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%d", p->port);
    return p;
}

const char *ts_peer_base(const ts_peer *p)
{
    return p->base;
}

int ts_peer_port(const ts_peer *p)
{
    return p->port;
}

void ts_peer_lock(ts_peer *p)
{
    pthread_mutex_lock(&p->mu);
}

void ts_peer_unlock(ts_peer *p)
{
    pthread_mutex_unlock(&p->mu);
}

void ts_peer_stop(ts_peer *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    /* Joins every connection thread: no handler runs and no delay waits after this. */
    MHD_stop_daemon(p->d);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
