/* notifier: zoneci's outbound HTTP. notify_http is a small synchronous client (Slack cards,
 * GitHub statuses, the runner's calls to the server) that keeps connections alive between
 * requests; notifier/http.c is the only file in zoneci that includes libcurl. */
#ifndef ZONECI_NOTIFIER_H
#define ZONECI_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

/* Hard caps on what a caller or a peer can make a request hold. */
#define NOTIFY_HTTP_MAX_BODY (4u * 1024 * 1024) /* response body bytes */
#define NOTIFY_HTTP_MAX_HEADERS 32              /* request headers given by the caller */
#define NOTIFY_HTTP_CONNECT_TIMEOUT_MS 10000L   /* at most; never more than the total */

/* One client per thread: a notify_http must not be used by two threads at once. It keeps
 * the connections of earlier requests open (HTTP/1.1 keep-alive, TCP keepalive probes on)
 * and reuses them for later requests to the same host.
 *
 * libcurl's rules, stated once: curl_global_init runs once, on the first notify_http_new;
 * no signal is used for timeouts (CURLOPT_NOSIGNAL), so a process that uses TLS must
 * ignore or block SIGPIPE itself; redirects are never followed (a 3xx is returned as it
 * is, so an Authorization header never travels to another host). */
typedef struct notify_http notify_http;

/* A response: status is the HTTP status; body holds at most NOTIFY_HTTP_MAX_BODY bytes and
 * is NUL-terminated (body.data is never NULL after a success); retry_after is the
 * value of the Retry-After header as sent (seconds or an HTTP date), or "" if absent or
 * too long to keep. */
typedef struct notify_http_response {
    long status;
    core_buf body;
    char retry_after[32];
} notify_http_response;

/* Creates a client. On failure *out stays NULL: CORE_ENOMEM, or CORE_EIO if libcurl cannot
 * be initialised. Any thread. */
int notify_http_new(notify_http **out, core_error *err);

/* Closes the client's connections and frees it; NULL does nothing. */
void notify_http_free(notify_http *h);

/* Lets the caller cut a request short: while a request is in flight, should_abort(ctx) is
 * called from the request's own thread about once a second (more often while data flows);
 * when it returns true the request fails with CORE_EAGAIN. NULL removes it. The callback
 * must not use h. */
void notify_http_set_abort(notify_http *h, bool (*should_abort)(void *ctx), void *ctx);

/* Performs one request and waits for the whole response.
 *
 * method is "GET", "POST", "PUT", "PATCH", "DELETE" or "HEAD"; url is http:// or
 * https://. headers is NULL or a NULL-terminated list of at most NOTIFY_HTTP_MAX_HEADERS
 * "Name: value" strings (no CR or LF); "Expect: 100-continue" is never sent, and no
 * Content-Type is made up: a body is sent without one unless the caller sets it. body
 * (len bytes, not copied, NULL for none) is sent as it is; POST, PUT and PATCH always
 * carry a Content-Length (0 without a body). Redirects are not followed. timeout_ms
 * (> 0) bounds the whole request, connection included.
 *
 * Returns 0 when a response arrived, whatever its status, and fills *out (free it with
 * notify_http_response_free). Otherwise *out is left empty (status 0) and:
 * CORE_EINVAL     bad method, URL or header;
 * CORE_EUNAVAILABLE the peer could not be reached, the connection broke, or timeout_ms
 *                 passed; the message names the host, never the URL's path, query or
 *                 credentials, nor any header value;
 * CORE_ETOOBIG    the response body is over NOTIFY_HTTP_MAX_BODY;
 * CORE_EAGAIN     the abort callback asked to stop;
 * CORE_ENOMEM.
 * The thread that owns h only. */
int notify_http_request(notify_http *h, const char *method, const char *url,
                        const char *const *headers, const char *body, size_t len, long timeout_ms,
                        notify_http_response *out, core_error *err);

/* Frees the body and empties r; an empty or zeroed response is fine. */
void notify_http_response_free(notify_http_response *r);

#endif
