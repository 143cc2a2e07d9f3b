/* The outbound HTTP client over one libcurl easy handle per notify_http. The handle is
 * reset before each request but keeps its connection cache, which is what makes a second
 * request to the same host skip the TCP (and TLS) handshake. */
#include "notifier/notifier.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/core.h"

#define HOST_MAX 128

struct notify_http {
    CURL *curl;
    bool (*should_abort)(void *ctx);
    void *abort_ctx;
};

/* What the callbacks of one request share. */
typedef struct transfer {
    notify_http *h;
    notify_http_response *out;
    bool too_big;
    bool nomem;
    bool aborted;
    bool answering; /* the response's status line has arrived */
} transfer;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int notify_http_new(notify_http **out, core_error *err)
{
    notify_http *h;

    CORE_ASSERT(out);
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return core_error_set(err, CORE_EIO, "cannot initialise libcurl: %s",
                              curl_easy_strerror(global_rc));
    h = calloc(1, sizeof(*h));
    if (!h)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return core_error_set(err, CORE_ENOMEM, "cannot create a libcurl handle");
    }
    *out = h;
    return 0;
}

void notify_http_free(notify_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void notify_http_set_abort(notify_http *h, bool (*should_abort)(void *ctx), void *ctx)
{
    CORE_ASSERT(h);
    h->should_abort = should_abort;
    h->abort_ctx = ctx;
}

void notify_http_response_free(notify_http_response *r)
{
    if (!r)
        return;
    core_buf_free(&r->body);
    r->status = 0;
    r->retry_after[0] = '\0';
    r->link[0] = '\0';
}

/* Checks the URL and writes "host:port" for messages: never the path, the query or the
 * user info, any of which may hold a secret (a Slack webhook URL is one). */
static int url_check(const char *url, char *host, size_t len, core_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *name = NULL, *port = NULL;
    int rc = 0;

    snprintf(host, len, "(unknown host)");
    if (!u)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &name, 0) != CURLUE_OK) {
        rc = core_error_set(err, CORE_EINVAL, "url is not a valid absolute http(s) url");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        rc = core_error_set(err, CORE_EINVAL, "url scheme must be http or https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        snprintf(host, len, "%s:%s", name, port);
    else
        snprintf(host, len, "%s", name);
out:
    curl_free(scheme);
    curl_free(name);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static bool method_known(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(m, known[i]) == 0)
            return true;
    }
    return false;
}

/* A header is "Name: value" with a token for a name; CR or LF anywhere would let a value
 * smuggle in a header (or a request) of its own. */
static bool header_valid(const char *hdr)
{
    const char *colon = strchr(hdr, ':');

    if (!colon || colon == hdr || strpbrk(hdr, "\r\n"))
        return false;
    for (const char *p = hdr; p < colon; p++) {
        if (*p <= ' ' || *p >= 127)
            return false;
    }
    return true;
}

static int headers_build(const char *const *headers, struct curl_slist **out, core_error *err)
{
    struct curl_slist *list = NULL, *next;
    bool has_type = false;
    size_t n = 0;

    *out = NULL;
    for (; headers && headers[n]; n++) {
        if (n == NOTIFY_HTTP_MAX_HEADERS) {
            curl_slist_free_all(list);
            return core_error_set(err, CORE_EINVAL, "more than %d request headers",
                                  NOTIFY_HTTP_MAX_HEADERS);
        }
        if (!header_valid(headers[n])) {
            curl_slist_free_all(list);
            /* The index, not the header: its value may be a credential. */
            return core_error_set(err, CORE_EINVAL, "request header %zu is malformed", n);
        }
        has_type |= strncasecmp(headers[n], "Content-Type:", 13) == 0;
        next = curl_slist_append(list, headers[n]);
        if (!next)
            goto nomem;
        list = next;
    }
    /* A body goes at once, without a 100-continue round trip (which costs a second when
     * the peer ignores it); and no Content-Type is made up for the caller. */
    next = curl_slist_append(list, "Expect:");
    if (!next)
        goto nomem;
    list = next;
    if (!has_type) {
        next = curl_slist_append(list, "Content-Type:");
        if (!next)
            goto nomem;
        list = next;
    }
    *out = list;
    return 0;
nomem:
    curl_slist_free_all(list);
    return core_error_set(err, CORE_ENOMEM, "out of memory");
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    transfer *t = ctx;
    size_t n = size * nmemb;

    /* Returning a short count makes libcurl stop with CURLE_WRITE_ERROR. */
    if (n > NOTIFY_HTTP_MAX_BODY - t->out->body.len) {
        t->too_big = true;
        return 0;
    }
    if (core_buf_append(&t->out->body, data, n) < 0) {
        t->nomem = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ctx)
{
    transfer *t = ctx;
    size_t n = size * nitems;
    const char *v, *end = line + n;
    char *dst = t->out->retry_after;
    size_t cap = sizeof(t->out->retry_after);

    /* A status line starts a new response (after a 1xx): forget the previous headers. */
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', n);

        dst[0] = '\0';
        t->out->link[0] = '\0';
        /* "HTTP/1.1 200 ...": anything but a 1xx is the final response. */
        t->answering = sp && sp + 1 < end && sp[1] != '1';
        return n;
    }
    if (n >= 5 && strncasecmp(line, "Link:", 5) == 0) {
        v = line + 5;
        dst = t->out->link;
        cap = sizeof(t->out->link);
    } else if (n >= 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
        v = line + 12;
    } else {
        return n;
    }
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    /* A value too long for the field is not a value anyone sends: drop it, never cut it. */
    if ((size_t)(end - v) < cap) {
        memcpy(dst, v, (size_t)(end - v));
        dst[end - v] = '\0';
    } else {
        dst[0] = '\0';
    }
    return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    transfer *t = ctx;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    /* An answer that has begun to arrive is read to its end (bounded by the size cap and
     * the timeout): the server has already acted on the request, and cutting the answer
     * would lose what it did (a job granted to a runner that is stopping). */
    if (t->answering)
        return 0;
    if (t->h->should_abort(t->h->abort_ctx)) {
        t->aborted = true;
        return 1;
    }
    return 0;
}

/* Sets the method and body. libcurl sends POSTFIELDS with any custom method; a PUT or
 * PATCH without a body still says Content-Length: 0, which GitHub requires. */
static void method_set(CURL *c, const char *method, const char *body, size_t len)
{
    bool with_body = body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                     strcmp(method, "PATCH") == 0;

    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POST, 1L);
    else if (strcmp(method, "GET") != 0 || with_body)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    else
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (with_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    }
}

static int failure(CURL *c, CURLcode cc, const transfer *t, const char *host, long timeout_ms,
                   core_error *err)
{
    long os_errno = 0;
    char why[96] = "";

    if (t->too_big || cc == CURLE_FILESIZE_EXCEEDED)
        return core_error_set(err, CORE_ETOOBIG, "response from %s is over %u bytes", host,
                              NOTIFY_HTTP_MAX_BODY);
    if (t->nomem || cc == CURLE_OUT_OF_MEMORY)
        return core_error_set(err, CORE_ENOMEM, "out of memory reading from %s", host);
    if (t->aborted || cc == CURLE_ABORTED_BY_CALLBACK)
        return core_error_set(err, CORE_EAGAIN, "request to %s aborted", host);
    if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
        return core_error_set(err, CORE_EINVAL, "cannot use the url for %s: %s", host,
                              curl_easy_strerror(cc));
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return core_error_set(err, CORE_EUNAVAILABLE, "%s did not answer within %ld ms", host,
                              timeout_ms);
    /* libcurl's own messages may quote the URL; its code names and errno's do not. */
    if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0) {
        char sys[64];

        if (strerror_r((int)os_errno, sys, sizeof(sys)) == 0)
            snprintf(why, sizeof(why), " (%s)", sys);
    }
    return core_error_set(err, CORE_EUNAVAILABLE, "cannot reach %s: %s%s", host,
                          curl_easy_strerror(cc), why);
}

int notify_http_request(notify_http *h, const char *method, const char *url,
                        const char *const *headers, const char *body, size_t len, long timeout_ms,
                        notify_http_response *out, core_error *err)
{
    transfer t = {.h = h, .out = out};
    struct curl_slist *list = NULL;
    char host[HOST_MAX];
    CURL *c;
    CURLcode cc;
    int rc;

    CORE_ASSERT(h && method && url && out);
    c = h->curl;
    memset(out, 0, sizeof(*out));
    if (timeout_ms <= 0)
        return core_error_set(err, CORE_EINVAL, "timeout must be positive");
    if (!method_known(method))
        return core_error_set(err, CORE_EINVAL, "unsupported http method");
    if (strcmp(method, "HEAD") == 0 && body)
        return core_error_set(err, CORE_EINVAL, "a HEAD request has no body");
    rc = url_check(url, host, sizeof(host), err);
    if (rc < 0)
        return rc;
    rc = headers_build(headers, &list, err);
    if (rc < 0)
        return rc;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Timeouts by poll, never by SIGALRM: this runs in MHD's and the router's threads. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < NOTIFY_HTTP_CONNECT_TIMEOUT_MS ? timeout_ms
                                                                 : NOTIFY_HTTP_CONNECT_TIMEOUT_MS);
    /* Kept-alive connections sit idle between requests; probes find the dead ones (a
     * NAT or load balancer that forgot them) before a request is sent down one. */
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "zoneci/" ZONECI_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)NOTIFY_HTTP_MAX_BODY);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    if (h->should_abort) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    method_set(c, method, body, len);

    cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        /* An empty body is still a string. */
        if (!out->body.data && core_buf_reserve(&out->body, 0) < 0)
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        else
            out->body.data[out->body.len] = '\0';
    } else {
        rc = failure(c, cc, &t, host, timeout_ms, err);
    }
    /* The list must outlive the transfer, not the handle: the next request resets it. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (rc < 0)
        notify_http_response_free(out);
    return rc;
}

int notify_http_retry_after_seconds(const char *value)
{
    char *end;
    long s;

    if (!value || !*value)
        return 1;
    s = strtol(value, &end, 10);
    if (end == value || *end != '\0' || s < 1)
        return 1;
    return s > NOTIFY_HTTP_RETRY_AFTER_MAX_S ? NOTIFY_HTTP_RETRY_AFTER_MAX_S : (int)s;
}
