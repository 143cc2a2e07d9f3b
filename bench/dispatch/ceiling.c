/* The ceiling for bench/dispatch: what the dispatch protocol itself costs over HTTP on this
 * machine, with nothing behind it. A libmicrohttpd server configured like zoneci's (thread
 * pool, epoll, suspended long-polls) that keeps its queue in memory and checks nothing:
 *   POST /webhooks/github               -> a job queued; 202 {"job_id":"N","state":"queued"}
 *   POST /api/v1/runners/claim          -> the oldest job (200, the fields bench-dispatch
 *                                          reads), or the claim waits parked until a job
 *                                          comes (the oldest parked claim is woken) or its
 *                                          2 s are up (204)
 *   POST /api/v1/jobs/ID/complete       -> 200
 * No signature, no JSON parsing, no Redis, no lease: any server that speaks this protocol
 * (one delivery, one claim, one completion per job, each its own HTTP request) does at
 * least this work, so bench-dispatch against it gives the most jobs/s that protocol can
 * carry here, as the bare server does for bench/webhook.
 * usage: bench-ceiling PORT THREADS */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#define WAIT_MS 2000

typedef struct job {
    long id;
    int64_t queued_ms;
    struct job *next;
} job;

/* One request: its kind, and for a parked claim, its place in the parked list. */
typedef struct request {
    enum { R_DELIVERY, R_CLAIM, R_COMPLETE, R_OTHER } kind;
    struct MHD_Connection *conn;
    int64_t deadline_ms;
    bool parked, woken;
    struct request *next;
} request;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static job *head, *tail;
static request *parked_head, *parked_tail;
static long next_id;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso(int64_t ms, char out[80])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000) % 1000);
}

/* Takes the oldest parked claim off the list (mu held); NULL when none waits. */
static request *unpark_oldest(void)
{
    request *r = parked_head;

    if (r) {
        parked_head = r->next;
        if (!parked_head)
            parked_tail = NULL;
        r->next = NULL;
        r->parked = false;
    }
    return r;
}

static void unpark(request *r)
{
    request **p = &parked_head, *prev = NULL;

    while (*p && *p != r) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return;
    *p = r->next;
    if (parked_tail == r)
        parked_tail = prev;
    r->next = NULL;
    r->parked = false;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned int status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ok;

    MHD_add_response_header(r, "Content-Type", "application/json");
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result deliver(struct MHD_Connection *conn)
{
    job *j = malloc(sizeof(*j));
    request *w;
    char body[96];

    if (!j)
        return MHD_NO;
    pthread_mutex_lock(&mu);
    j->id = ++next_id;
    j->queued_ms = now_ms();
    j->next = NULL;
    if (tail)
        tail->next = j;
    else
        head = j;
    tail = j;
    w = unpark_oldest();
    if (w) {
        w->woken = true;
        MHD_resume_connection(w->conn);
    }
    snprintf(body, sizeof(body), "{\"job_id\":\"%ld\",\"state\":\"queued\"}", j->id);
    pthread_mutex_unlock(&mu);
    return answer(conn, 202, body);
}

static enum MHD_Result claim(struct MHD_Connection *conn, request *rq)
{
    job *j;
    char body[640], at[80];

    pthread_mutex_lock(&mu);
    j = head;
    if (j) {
        head = j->next;
        if (!head)
            tail = NULL;
    } else if (!rq->deadline_ms || now_ms() < rq->deadline_ms) {
        if (!rq->deadline_ms)
            rq->deadline_ms = now_ms() + WAIT_MS;
        rq->parked = true;
        rq->woken = false;
        if (parked_tail)
            parked_tail->next = rq;
        else
            parked_head = rq;
        parked_tail = rq;
        MHD_suspend_connection(conn);
        pthread_mutex_unlock(&mu);
        return MHD_YES;
    }
    pthread_mutex_unlock(&mu);
    if (!j)
        return answer(conn, 204, "");
    iso(j->queued_ms, at);
    snprintf(body, sizeof(body),
             "{\"job\":{\"id\":\"%ld\",\"state\":\"leased\",\"created_at\":\"%s\",\"history\":"
             "[{\"at\":\"%s\",\"state\":\"queued\"}]},\"lease_id\":\"l%ld\",\"fencing_token\":%ld}",
             j->id, at, at, j->id, j->id);
    free(j);
    return answer(conn, 200, body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    request *rq = *con_cls;
    size_t n = strlen(url);

    (void)cls, (void)method, (void)version, (void)upload_data;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        rq->conn = conn;
        if (strcmp(url, "/webhooks/github") == 0)
            rq->kind = R_DELIVERY;
        else if (strcmp(url, "/api/v1/runners/claim") == 0)
            rq->kind = R_CLAIM;
        else if (n > 9 && strcmp(url + n - 9, "/complete") == 0)
            rq->kind = R_COMPLETE;
        else
            rq->kind = R_OTHER;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (rq->kind) {
    case R_DELIVERY:
        return deliver(conn);
    case R_CLAIM:
        return claim(conn, rq);
    case R_COMPLETE:
        return answer(conn, 200, "{\"ok\":true}");
    default:
        return answer(conn, 404, "{\"error\":\"not_found\"}");
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    request *rq = *con_cls;

    (void)cls, (void)conn, (void)why;
    if (!rq)
        return;
    pthread_mutex_lock(&mu);
    if (rq->parked)
        unpark(rq);
    pthread_mutex_unlock(&mu);
    free(rq);
    *con_cls = NULL;
}

/* Wakes parked claims whose wait is over, so they answer 204 as zoneci's do. */
static void *deadlines(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 50 * 1000000L};
        int64_t t;

        nanosleep(&ts, NULL);
        t = now_ms();
        pthread_mutex_lock(&mu);
        while (parked_head && parked_head->deadline_ms <= t) {
            request *r = unpark_oldest();

            MHD_resume_connection(r->conn);
        }
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8099;
    unsigned int threads = argc > 2 ? (unsigned int)atoi(argv[2]) : 4;
    struct MHD_Daemon *d;
    pthread_t timer;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                             MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC,
                         (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE,
                         threads, MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, NULL, MHD_OPTION_END);
    if (!d)
        return 1;
    if (pthread_create(&timer, NULL, deadlines, NULL) != 0)
        return 1;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
