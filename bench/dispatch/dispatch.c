/* bench/dispatch: the load client of bench/dispatch/run.sh. Drives a running `zoneci serve`
 * through the whole dispatch path with no build in it:
 *
 *  - one sender thread posts N signed pull_request deliveries (PREFIX.tpl / PREFIX.idx from
 *    bench/webhook/gen_bodies.py), keeping INFLIGHT of them in flight with libcurl multi,
 *    like BullMQ's producer keeping 64 adds in flight; each creates a job that the server
 *    inspects and routes to `queued`;
 *  - RUNNERS threads, one per runner, each with its own kept-alive connection, long-poll
 *    POST /api/v1/runners/claim and at once POST /api/v1/jobs/ID/complete (success).
 *
 * It stops when every accepted delivery's job was completed and prints:
 *  jobs_per_s: jobs completed / (last completion - first delivery sent), end to end;
 *  queued_to_claim p50/p99: from the job's own `queued` history entry (server clock, ms) to
 *    the moment this client had the whole claim answer (its clock; same host, same clock);
 *  received_to_claim p50/p99: the same from the job's created_at (the intake's own stamp).
 * Exits 1 when a step fails, a claim is refused (400, 401, 403) or nothing progresses for
 * STALL_S seconds after the last delivery.
 * usage: bench-dispatch URL TOKEN REGION PREFIX N [RUNNERS] [INFLIGHT] [DELIVERY_TAG] */
#define _DEFAULT_SOURCE /* timegm */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STALL_S 60
#define CLAIM_WAIT_S 2

typedef struct {
    char *data;
    size_t len, cap;
} buf;

static struct {
    const char *url, *token, *region, *tag;
    char *tpl;
    size_t tpl_len;
    char (*number)[16], (*sha)[48], (*sig)[80];
    long n, runners, inflight;
} cfg;

static atomic_long accepted, rejected, completed, failures;
static atomic_bool senders_done, stop_all;
static _Atomic int64_t first_send_ms, last_answer_ms, last_complete_ms, last_progress_ms;
static int64_t *lat_queued, *lat_received; /* one slot per completed job, by completion */
static atomic_long n_lat;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-dispatch: %s\n", what);
    exit(1);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* ---- the inputs ---------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)size + 1);
    if (!d || fread(d, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(d);
        return NULL;
    }
    fclose(f);
    d[size] = '\0';
    *len = (size_t)size;
    return d;
}

static void load_inputs(const char *prefix)
{
    char path[4096];
    char line[256];
    long i = 0;

    snprintf(path, sizeof path, "%s.tpl", prefix);
    cfg.tpl = read_file(path, &cfg.tpl_len);
    if (!cfg.tpl)
        die("cannot read the template");
    cfg.number = calloc((size_t)cfg.n, sizeof *cfg.number);
    cfg.sha = calloc((size_t)cfg.n, sizeof *cfg.sha);
    cfg.sig = calloc((size_t)cfg.n, sizeof *cfg.sig);
    snprintf(path, sizeof path, "%s.idx", prefix);
    FILE *f = fopen(path, "r");
    if (!f || !cfg.number || !cfg.sha || !cfg.sig)
        die("cannot read the index");
    while (i < cfg.n && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15s %47s %79s", cfg.number[i], cfg.sha[i], cfg.sig[i]) != 3)
            die("bad index line");
        i++;
    }
    fclose(f);
    if (i < cfg.n)
        die("fewer bodies in the index than jobs asked for");
}

/* The body of delivery i: the template with \x01 = PR number and \x02 = head SHA. */
static char *make_body(long i, size_t *len)
{
    size_t cap = cfg.tpl_len + 64 * 8, o = 0;
    char *b = malloc(cap);
    if (!b)
        die("out of memory");
    for (size_t k = 0; k < cfg.tpl_len; k++) {
        const char *s = NULL;
        if (cfg.tpl[k] == '\1')
            s = cfg.number[i];
        else if (cfg.tpl[k] == '\2')
            s = cfg.sha[i];
        if (o + 64 > cap) {
            cap *= 2;
            b = realloc(b, cap);
            if (!b)
                die("out of memory");
        }
        if (s) {
            memcpy(b + o, s, strlen(s));
            o += strlen(s);
        } else {
            b[o++] = cfg.tpl[k];
        }
    }
    *len = o;
    return b;
}

/* ---- the sender ------------------------------------------------------------------------ */

typedef struct {
    CURL *h;
    struct curl_slist *hdr;
    char *body;
    buf resp;
} delivery;

static void delivery_start(CURLM *m, delivery *d, long i)
{
    char url[1024], h[256];
    size_t len;

    d->body = make_body(i, &len);
    d->resp.len = 0;
    d->hdr = curl_slist_append(NULL, "Content-Type: application/json");
    d->hdr = curl_slist_append(d->hdr, "X-GitHub-Event: pull_request");
    snprintf(h, sizeof h, "X-Hub-Signature-256: %s", cfg.sig[i]);
    d->hdr = curl_slist_append(d->hdr, h);
    snprintf(h, sizeof h, "X-GitHub-Delivery: %s-%ld", cfg.tag, i);
    d->hdr = curl_slist_append(d->hdr, h);
    d->hdr = curl_slist_append(d->hdr, "Expect:");
    snprintf(url, sizeof url, "%s/webhooks/github", cfg.url);
    curl_easy_setopt(d->h, CURLOPT_URL, url);
    curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->hdr);
    curl_easy_setopt(d->h, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(d->h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(d->h, CURLOPT_WRITEDATA, &d->resp);
    curl_easy_setopt(d->h, CURLOPT_PRIVATE, d);
    curl_easy_setopt(d->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d->h, CURLOPT_TIMEOUT, 30L);
    curl_multi_add_handle(m, d->h);
}

static void delivery_end(CURLM *m, delivery *d, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(m, d->h);
    curl_slist_free_all(d->hdr);
    free(d->body);
    d->hdr = NULL;
    d->body = NULL;
    if (rc == CURLE_OK && status == 202) {
        atomic_fetch_add(&accepted, 1);
    } else {
        atomic_fetch_add(&rejected, 1);
        if (atomic_load(&rejected) <= 5)
            fprintf(stderr, "bench-dispatch: delivery answered %ld (%s)\n", status,
                    curl_easy_strerror(rc));
    }
    atomic_store(&last_answer_ms, now_ms());
}

static void *sender_main(void *arg)
{
    (void)arg;
    CURLM *m = curl_multi_init();
    delivery *slots = calloc((size_t)cfg.inflight, sizeof *slots);
    delivery **idle = calloc((size_t)cfg.inflight, sizeof *idle);
    long next = 0, n_idle = cfg.inflight, running = 0;

    if (!m || !slots || !idle)
        die("out of memory");
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, cfg.inflight);
    for (long k = 0; k < cfg.inflight; k++) {
        slots[k].h = curl_easy_init();
        idle[k] = &slots[k];
    }
    atomic_store(&first_send_ms, now_ms());
    while (next < cfg.n || running > 0) {
        while (n_idle > 0 && next < cfg.n) {
            delivery_start(m, idle[--n_idle], next++);
            running++;
        }
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *p = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
            delivery *d = (delivery *)(void *)p;
            delivery_end(m, d, msg->data.result);
            idle[n_idle++] = d;
            running--;
        }
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (long k = 0; k < cfg.inflight; k++) {
        curl_easy_cleanup(slots[k].h);
        free(slots[k].resp.data);
    }
    curl_multi_cleanup(m);
    free(slots);
    free(idle);
    atomic_store(&senders_done, true);
    return NULL;
}

/* ---- the runners ----------------------------------------------------------------------- */

/* ISO 8601 UTC as the server writes it, "2026-12-04T14:17:51.770Z", or without the
 * fraction on a whole second ("2026-12-04T14:17:52Z"), to ms since the epoch. */
static int64_t iso_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0, n;
    if (!s)
        return -1;
    n = sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms);
    if (n != 7 && n != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static long post(CURL *h, const char *url, const char *body, buf *resp, long timeout_s)
{
    long status = 0;
    resp->len = 0;
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    if (curl_easy_perform(h) != CURLE_OK)
        return -1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static bool finished(void)
{
    return atomic_load(&stop_all) ||
           (atomic_load(&senders_done) && atomic_load(&completed) >= atomic_load(&accepted));
}

/* One claim answer: note the latencies, report the job complete. */
static void handle_job(CURL *h, const buf *resp, int64_t answered_ms)
{
    json_error_t jerr;
    json_t *root = json_loads(resp->data, 0, &jerr);
    json_t *job = json_object_get(root, "job");
    json_t *hist = json_object_get(job, "history");
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *lease = json_string_value(json_object_get(root, "lease_id"));
    int64_t queued = -1, created = iso_ms(json_string_value(json_object_get(job, "created_at")));
    char url[1024], body[256];
    buf r = {0};
    size_t i;
    json_t *e;

    if (!id || !lease) {
        atomic_fetch_add(&failures, 1);
        json_decref(root);
        return;
    }
    for (i = 0; i < json_array_size(hist); i++) {
        e = json_array_get(hist, i);
        const char *st = json_string_value(json_object_get(e, "state"));
        if (st && strcmp(st, "queued") == 0)
            queued = iso_ms(json_string_value(json_object_get(e, "at")));
    }
    snprintf(url, sizeof url, "%s/api/v1/jobs/%s/complete", cfg.url, id);
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"status\":\"success\"}", lease);
    long st = post(h, url, body, &r, 30);
    free(r.data);
    json_decref(root);
    if (st != 200) {
        fprintf(stderr, "bench-dispatch: complete answered %ld\n", st);
        atomic_fetch_add(&failures, 1);
        return;
    }
    long k = atomic_fetch_add(&n_lat, 1);
    if (k < cfg.n) {
        lat_queued[k] = queued >= 0 ? answered_ms - queued : -1;
        lat_received[k] = created >= 0 ? answered_ms - created : -1;
    }
    int64_t t = now_ms();
    atomic_store(&last_complete_ms, t);
    atomic_store(&last_progress_ms, t);
    atomic_fetch_add(&completed, 1);
}

static void *runner_main(void *arg)
{
    long me = (long)(intptr_t)arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char auth[512], url[1024], body[512];
    buf resp = {0};

    if (!h)
        die("curl_easy_init");
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg.token);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    snprintf(url, sizeof url, "%s/api/v1/runners/claim", cfg.url);
    snprintf(body, sizeof body,
             "{\"runner\":\"bench-%03ld\",\"region\":\"%s\",\"labels\":[],\"wait_seconds\":%d}", me,
             cfg.region, CLAIM_WAIT_S);
    while (!finished()) {
        long st = post(h, url, body, &resp, CLAIM_WAIT_S + 15);
        if (st == 200) {
            handle_job(h, &resp, now_ms());
            continue;
        }
        if (st == 204)
            continue;
        atomic_fetch_add(&failures, 1);
        fprintf(stderr, "bench-dispatch: claim answered %ld: %s\n", st, resp.data ? resp.data : "");
        if (st == 400 || st == 401 || st == 403) { /* a bad token or region: retrying cannot help */
            atomic_store(&stop_all, true);
            break;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(resp.data);
    return NULL;
}

/* ---- figures --------------------------------------------------------------------------- */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void percentiles(const char *name, int64_t *v, long n)
{
    long k = 0;
    for (long i = 0; i < n; i++)
        if (v[i] >= 0)
            v[k++] = v[i];
    if (k == 0) {
        printf("%s_ms p50 - p99 - (no samples)\n", name);
        return;
    }
    qsort(v, (size_t)k, sizeof *v, cmp64);
    printf("%s_ms p50 %lld p99 %lld max %lld (%ld jobs)\n", name, (long long)v[(k - 1) / 2],
           (long long)v[(k * 99 - 1) / 100], (long long)v[k - 1], k);
}

int main(int argc, char **argv)
{
    pthread_t sender, *runners;

    if (argc < 6) {
        fprintf(stderr, "usage: bench-dispatch URL TOKEN REGION PREFIX N [RUNNERS] [INFLIGHT] "
                        "[DELIVERY_TAG]\n");
        return 2;
    }
    cfg.url = argv[1];
    cfg.token = argv[2];
    cfg.region = argv[3];
    cfg.n = atol(argv[5]);
    cfg.runners = argc > 6 ? atol(argv[6]) : 50;
    cfg.inflight = argc > 7 ? atol(argv[7]) : 64;
    cfg.tag = argc > 8 ? argv[8] : "dispatch";
    if (cfg.n <= 0 || cfg.runners <= 0 || cfg.inflight <= 0)
        die("N, RUNNERS and INFLIGHT must be positive");
    load_inputs(argv[4]);
    lat_queued = calloc((size_t)cfg.n, sizeof *lat_queued);
    lat_received = calloc((size_t)cfg.n, sizeof *lat_received);
    runners = calloc((size_t)cfg.runners, sizeof *runners);
    if (!lat_queued || !lat_received || !runners)
        die("out of memory");
    curl_global_init(CURL_GLOBAL_ALL);
    atomic_store(&last_progress_ms, now_ms());
    /* Runners first, so they are parked when the first job becomes ready. */
    for (long i = 0; i < cfg.runners; i++)
        if (pthread_create(&runners[i], NULL, runner_main, (void *)(intptr_t)i) != 0)
            die("pthread_create");
    struct timespec settle = {0, 300 * 1000000L};
    nanosleep(&settle, NULL);
    if (pthread_create(&sender, NULL, sender_main, NULL) != 0)
        die("pthread_create");
    while (!finished()) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        if (now_ms() - atomic_load(&last_progress_ms) > STALL_S * 1000 &&
            atomic_load(&senders_done)) {
            fprintf(stderr, "bench-dispatch: no job completed for %d s (%ld of %ld)\n", STALL_S,
                    atomic_load(&completed), atomic_load(&accepted));
            atomic_store(&stop_all, true);
        }
    }
    pthread_join(sender, NULL);
    for (long i = 0; i < cfg.runners; i++)
        pthread_join(runners[i], NULL);
    curl_global_cleanup();

    int64_t t0 = atomic_load(&first_send_ms);
    int64_t t_end = atomic_load(&last_complete_ms);
    double secs = t_end > t0 ? (double)(t_end - t0) / 1000.0 : 0.0;
    double dsecs = (double)(atomic_load(&last_answer_ms) - t0) / 1000.0;
    long done = atomic_load(&completed);
    printf("deliveries %ld accepted %ld rejected %ld in %.2f s (%.0f/s)\n", cfg.n,
           atomic_load(&accepted), atomic_load(&rejected), dsecs,
           dsecs > 0 ? (double)atomic_load(&accepted) / dsecs : 0.0);
    printf("completed %ld in %.2f s, %ld runners, %ld deliveries in flight, failures %ld\n", done,
           secs, cfg.runners, cfg.inflight, atomic_load(&failures));
    printf("jobs_per_s %.1f\n", secs > 0 ? (double)done / secs : 0.0);
    long n = atomic_load(&n_lat) < cfg.n ? atomic_load(&n_lat) : cfg.n;
    percentiles("queued_to_claim", lat_queued, n);
    percentiles("received_to_claim", lat_received, n);
    fflush(stdout);
    free(runners);
    free(lat_queued);
    free(lat_received);
    free(cfg.number);
    free(cfg.sha);
    free(cfg.sig);
    free(cfg.tpl);
    return atomic_load(&stop_all) || atomic_load(&rejected) > 0 || atomic_load(&failures) > 0;
}
