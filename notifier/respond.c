/* Answers to a Slack click through the click's response_url: an ephemeral message only the
 * clicker sees. Slack shows nothing that comes back in the HTTP answer to a block_actions
 * click, so this is the only way a refused or late clicker learns why. The URL comes from
 * outside input (the click's payload, then a record in Redis), so it is checked here against
 * the few hosts Slack uses before anything is sent to it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "notifier/notifier.h"

/* Slack's hosts for response_url: commercial Slack, and GovSlack. */
static const char *const SLACK_HOSTS[] = {"hooks.slack.com", "hooks.slack-gov.com"};

/* The parts of an absolute http(s) URL that decide where a request goes. */
typedef struct origin {
    bool https;
    const char *host; /* not NUL-terminated */
    size_t host_len;
    int port; /* the default one when none is written */
} origin;

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* Splits url into its origin; *rest points at what follows the authority ('/', '?', '#'
 * or the end). False for anything but a plain "scheme://host[:port]": userinfo, percent
 * signs, brackets (IPv6 literals), backslashes, an empty host, a port out of range. */
static bool origin_of(const char *url, origin *o, const char **rest)
{
    const char *p, *end, *colon = NULL;
    size_t n;

    if (strncmp(url, "https://", 8) == 0) {
        o->https = true;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        o->https = false;
        p = url + 7;
    } else {
        return false;
    }
    end = p + strcspn(p, "/?#");
    for (const char *q = p; q < end; q++) {
        if (*q == ':' && !colon)
            colon = q;
        else if (colon ? !(*q >= '0' && *q <= '9') : !host_char(*q))
            return false; /* '@', '%', '[', '\\', a second ':', spaces, ... */
    }
    o->host = p;
    o->host_len = (size_t)((colon ? colon : end) - p);
    o->port = o->https ? 443 : 80;
    if (o->host_len == 0 || o->host[o->host_len - 1] == '.' || o->host[0] == '.')
        return false;
    if (colon) {
        n = (size_t)(end - colon - 1);
        if (n == 0 || n > 5)
            return false;
        o->port = atoi(colon + 1);
        if (o->port < 1 || o->port > 65535)
            return false;
    }
    *rest = end;
    return true;
}

bool notify_slack_response_url_ok(const char *url, const char *api_url, const char **why)
{
    const char *rest, *api_rest, *dummy;
    origin u, api;
    size_t n = url ? strlen(url) : 0;

    if (!why)
        why = &dummy;
    *why = NULL;
    if (n == 0 || n > NOTIFY_SLACK_RESPONSE_URL_MAX) {
        *why = "empty or too long";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c <= 0x20 || c >= 0x7f || c == '\\') {
            *why = "holds a space, a control character, a backslash or a non-ASCII byte";
            return false;
        }
    }
    if (!origin_of(url, &u, &rest)) {
        *why = "not an http(s) URL with a plain host (no credentials, no percent signs)";
        return false;
    }
    if (*rest != '/') {
        *why = "has no path";
        return false;
    }
    if (strchr(rest, '#')) {
        *why = "has a fragment";
        return false;
    }
    for (size_t i = 0; i < sizeof(SLACK_HOSTS) / sizeof(SLACK_HOSTS[0]); i++) {
        if (u.https && u.port == 443 && strlen(SLACK_HOSTS[i]) == u.host_len &&
            strncasecmp(u.host, SLACK_HOSTS[i], u.host_len) == 0)
            return true;
    }
    /* The configured Web API's own origin (a proxy, an Enterprise gateway, a test peer):
     * the same scheme, host and port, exactly. */
    if (api_url && origin_of(api_url, &api, &api_rest) && api.https == u.https &&
        api.port == u.port && api.host_len == u.host_len &&
        strncasecmp(api.host, u.host, u.host_len) == 0)
        return true;
    *why = "not Slack's host (hooks.slack.com, hooks.slack-gov.com) nor the slack api_url's";
    return false;
}

int notify_slack_respond(notify_http *http, const char *url, const char *api_url, const char *text,
                         int *retry_after_s, core_error *err)
{
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", "User-Agent: zoneci",
                             NULL};
    notify_http_response r = {0};
    const char *why;
    json_t *msg;
    char *body;
    int rc = 0;

    if (retry_after_s)
        *retry_after_s = 0;
    if (!notify_slack_response_url_ok(url, api_url, &why))
        return core_error_set(err, CORE_EINVAL, "slack response_url refused: %s", why);
    if (!text || !*text)
        return core_error_set(err, CORE_EINVAL, "slack response: empty text");
    msg = json_pack("{s:s, s:b, s:s}", "response_type", "ephemeral", "replace_original", 0, "text",
                    text);
    body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!body)
        return core_error_set(err, CORE_EINVAL, "slack response: text is not UTF-8");
    /* No Authorization header: the URL is the credential. Redirects are never followed. */
    rc = notify_http_request(http, "POST", url, headers, body, strlen(body),
                             NOTIFY_SLACK_TIMEOUT_MS, &r, err);
    free(body);
    if (rc < 0) {
        core_error_wrap(err, "slack response");
        return rc;
    }
    if (r.status == 429) {
        int secs = notify_http_retry_after_seconds(r.retry_after);

        if (retry_after_s)
            *retry_after_s = secs;
        rc = core_error_set(err, CORE_EAGAIN, "slack response: rate limited, retry after %d s",
                            secs);
    } else if (r.status == 404 || r.status == 410) {
        /* expired_url, used_url, no such URL: it will not come back. */
        rc = core_error_set(err, CORE_ENOTFOUND, "slack response: http status %ld (%.60s)",
                            r.status, r.body.data ? r.body.data : "");
    } else if (r.status >= 500) {
        rc = core_error_set(err, CORE_EUNAVAILABLE, "slack response: http status %ld", r.status);
    } else if (r.status < 200 || r.status > 299) {
        rc = core_error_set(err, CORE_EINVAL, "slack response: http status %ld (%.60s)", r.status,
                            r.body.data ? r.body.data : "");
    }
    notify_http_response_free(&r);
    return rc;
}
