/* ts_peer: a local libmicrohttpd server that plays an outside service for the tests.
 * Bodies are read whole, then one handler call at a time under the peer's lock, so the
 * handler and the test share what it records without locks of their own. */
#define _GNU_SOURCE
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "tests/support/support.h"

#define PEER_MAX_BODY (4u * 1024 * 1024)

struct ts_peer {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t mu;
    ts_peer_handler handler;
    void *ctx;
};

typedef struct pending {
    core_buf body;
    bool too_big;
} pending;

static enum MHD_Result reply(struct MHD_Connection *conn, const ts_peer_answer *ans)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(ans->body), (void *)ans->body,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ok;

    MHD_add_response_header(r, "Content-Type", ans->content_type);
    if (ans->retry_after)
        MHD_add_response_header(r, "Retry-After", ans->retry_after);
    ok = MHD_queue_response(conn, ans->status, r);
    MHD_destroy_response(r);
    return ok;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    return v ? v : "";
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_ctx)
{
    ts_peer *p = cls;
    pending *pd = *req_ctx;
    ts_peer_answer ans = {.status = 200, .content_type = "application/json"};
    ts_peer_request req;

    (void)version;
    if (!pd) {
        *req_ctx = calloc(1, sizeof(pending));
        return *req_ctx ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        if (pd->body.len + *upload_size > PEER_MAX_BODY)
            pd->too_big = true;
        else
            core_buf_append(&pd->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (pd->too_big) {
        ans.status = 413;
        return reply(conn, &ans);
    }
    req = (ts_peer_request){method,
                            url,
                            pd->body.data ? pd->body.data : "",
                            pd->body.len,
                            header(conn, "Authorization"),
                            header(conn, "Content-Type")};
    pthread_mutex_lock(&p->mu);
    p->handler(p->ctx, &req, &ans);
    pthread_mutex_unlock(&p->mu);
    if (ans.delay_ms > 0)
        poll(NULL, 0, ans.delay_ms);
    return reply(conn, &ans);
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

ts_peer *ts_peer_start(ts_peer_handler handler, void *ctx)
{
    ts_peer *p = calloc(1, sizeof(*p));

    ck_assert_ptr_nonnull(p);
    pthread_mutex_init(&p->mu, NULL);
    p->handler = handler;
    p->ctx = ctx;
    /* A port free a moment ago may be taken by now: try a few. */
    for (int tries = 0; !p->d && tries < 5; tries++) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

        p->port = ts_free_port();
        sa.sin_port = htons((uint16_t)p->port);
        p->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                (uint16_t)p->port, NULL, NULL, handle, p, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, p,
                                MHD_OPTION_END);
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
    MHD_stop_daemon(p->d);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
