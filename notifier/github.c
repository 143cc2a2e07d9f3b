/* GitHub App authentication (a JWT signed with libjwt, exchanged for installation tokens
 * that are cached) and commit statuses. The only file in zoneci that includes libjwt.
 *
 * libjwt's rules, stated once: jwt_set_alg copies the key and scrubs its copy on
 * jwt_free; jwt_encode_str returns a malloc'd string (free()) or NULL with errno set.
 * jansson's: json_loadb returns a new reference (json_decref), json_object_get borrows. */
#include "notifier/notifier.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>

#include "core/core.h"
#include "notifier/text.h"

/* A token is used only while it has more than this left: a request that starts with a
 * token about to expire may arrive after it did. */
#define TOKEN_MARGIN_MS (5 * 60 * 1000)
#define JWT_BACKDATE_S 60 /* iat in the past: GitHub's clock may be behind ours */
#define JWT_LIFETIME_S 600
#define URL_MAX 2048
#define TOKEN_MAX 512
#define GH_MESSAGE_MAX 120

typedef struct cached_token {
    int64_t installation_id;
    char *token;
    int64_t expires_ms;
} cached_token;

struct notify_github {
    char *api_url; /* without a trailing '/' */
    int64_t app_id;
    unsigned char *key;
    size_t key_len;
    pthread_mutex_t mu; /* guards cache and n_cache */
    cached_token cache[NOTIFY_GITHUB_CACHE_MAX];
    size_t n_cache;
};

static void free_secret(char *s)
{
    if (s) {
        core_wipe(s, strlen(s));
        free(s);
    }
}

static bool http_url(const char *u)
{
    return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

/* Signs a JWT for the App at now_s into a malloc'd string. */
static int jwt_make(const notify_github *gh, int64_t now_s, char **out, core_error *err)
{
    jwt_t *jwt = NULL;
    int rc = 0;

    *out = NULL;
    if (jwt_new(&jwt) != 0)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    if (jwt_add_grant_int(jwt, "iat", (long)(now_s - JWT_BACKDATE_S)) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now_s + JWT_LIFETIME_S)) != 0 ||
        jwt_add_grant_int(jwt, "iss", (long)gh->app_id) != 0) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    if (jwt_set_alg(jwt, JWT_ALG_RS256, gh->key, (int)gh->key_len) != 0) {
        rc = core_error_set(err, CORE_EINVAL, "github app private key cannot be used for RS256");
        goto out;
    }
    /* libjwt reads the PEM only now: a key that is not RSA, or not a key, fails here. */
    *out = jwt_encode_str(jwt);
    if (!*out)
        rc = core_error_set(err, errno == ENOMEM ? CORE_ENOMEM : CORE_EINVAL,
                            "github app private key is not a usable rsa pem key");
out:
    jwt_free(jwt);
    return rc;
}

int notify_github_new(notify_github **out, const char *api_url, int64_t app_id,
                      const char *private_key_pem, size_t key_len, core_error *err)
{
    notify_github *gh;
    char *probe = NULL;
    size_t n;
    int rc;

    CORE_ASSERT(out && api_url && private_key_pem);
    *out = NULL;
    n = strlen(api_url);
    while (n > 0 && api_url[n - 1] == '/')
        n--;
    if (!http_url(api_url) || n >= URL_MAX / 2 || strpbrk(api_url, " \r\n?#"))
        return core_error_set(err, CORE_EINVAL, "github api_url must be an http(s) url");
    if (app_id <= 0 || app_id > INT32_MAX)
        return core_error_set(err, CORE_EINVAL, "github app_id must be a positive integer");
    if (key_len == 0 || key_len > NOTIFY_GITHUB_KEY_MAX)
        return core_error_set(err, CORE_EINVAL, "github app private key is empty or over %u bytes",
                              (unsigned)NOTIFY_GITHUB_KEY_MAX);
    gh = calloc(1, sizeof(*gh));
    if (!gh)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    pthread_mutex_init(&gh->mu, NULL);
    gh->api_url = core_strndup(api_url, n);
    gh->key = malloc(key_len + 1);
    if (!gh->api_url || !gh->key) {
        notify_github_free(gh);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    memcpy(gh->key, private_key_pem, key_len);
    gh->key[key_len] = '\0';
    gh->key_len = key_len;
    gh->app_id = app_id;
    rc = jwt_make(gh, 0, &probe, err);
    free(probe);
    if (rc < 0) {
        notify_github_free(gh);
        return rc;
    }
    *out = gh;
    return 0;
}

void notify_github_free(notify_github *gh)
{
    if (!gh)
        return;
    for (size_t i = 0; i < gh->n_cache; i++)
        free_secret(gh->cache[i].token);
    if (gh->key) {
        core_wipe(gh->key, gh->key_len);
        free(gh->key);
    }
    pthread_mutex_destroy(&gh->mu);
    free(gh->api_url);
    free(gh);
}

/* A copy of the cached token if it has more than TOKEN_MARGIN_MS left; NULL otherwise. */
static char *cache_get(notify_github *gh, int64_t id, int64_t now_ms, bool *nomem)
{
    char *tok = NULL;

    *nomem = false;
    pthread_mutex_lock(&gh->mu);
    for (size_t i = 0; i < gh->n_cache; i++) {
        if (gh->cache[i].installation_id != id)
            continue;
        if (now_ms < gh->cache[i].expires_ms - TOKEN_MARGIN_MS) {
            tok = strdup(gh->cache[i].token);
            *nomem = tok == NULL;
        }
        break;
    }
    pthread_mutex_unlock(&gh->mu);
    return tok;
}

/* Takes ownership of token. When full, the entry closest to expiry gives way. */
static void cache_put(notify_github *gh, int64_t id, char *token, int64_t expires_ms)
{
    size_t slot = 0;

    pthread_mutex_lock(&gh->mu);
    for (slot = 0; slot < gh->n_cache; slot++) {
        if (gh->cache[slot].installation_id == id)
            break;
    }
    if (slot == gh->n_cache) {
        if (gh->n_cache < NOTIFY_GITHUB_CACHE_MAX) {
            gh->n_cache++;
        } else {
            slot = 0;
            for (size_t i = 1; i < gh->n_cache; i++) {
                if (gh->cache[i].expires_ms < gh->cache[slot].expires_ms)
                    slot = i;
            }
        }
        gh->cache[slot].token = NULL;
    }
    free_secret(gh->cache[slot].token);
    gh->cache[slot].installation_id = id;
    gh->cache[slot].token = token;
    gh->cache[slot].expires_ms = expires_ms;
    pthread_mutex_unlock(&gh->mu);
}

void notify_github_token_forget(notify_github *gh, int64_t installation_id)
{
    CORE_ASSERT(gh);
    pthread_mutex_lock(&gh->mu);
    for (size_t i = 0; i < gh->n_cache; i++) {
        if (gh->cache[i].installation_id != installation_id)
            continue;
        free_secret(gh->cache[i].token);
        gh->cache[i] = gh->cache[--gh->n_cache];
        break;
    }
    pthread_mutex_unlock(&gh->mu);
}

/* GitHub's "message" from an error body, made safe for a one-line message. */
static void gh_message(const notify_http_response *r, char *out, size_t len)
{
    json_t *root = json_loadb(r->body.data, r->body.len, 0, NULL);
    const char *m = json_string_value(json_object_get(root, "message"));
    notify_text t = {{0}, 0};

    out[0] = '\0';
    if (m && notify_text_add_cut(&t, m, NOTIFY_TEXT_ONELINE, GH_MESSAGE_MAX) >= 0 && t.buf.data)
        snprintf(out, len, ": %s", t.buf.data);
    notify_text_free(&t);
    json_decref(root);
}

/* Maps a non-2xx answer to a code and a message naming what was asked (what); a rate
 * limit's Retry-After goes to *retry_after_s (NULL allowed). */
static int status_error(const notify_http_response *r, const char *what, int *retry_after_s,
                        core_error *err)
{
    char msg[GH_MESSAGE_MAX * 3 + 8];
    int code;

    gh_message(r, msg, sizeof(msg));
    if (r->status == 429 || (r->status == 403 && r->retry_after[0])) {
        if (retry_after_s)
            *retry_after_s = notify_http_retry_after_seconds(r->retry_after);
        return core_error_set(err, CORE_EAGAIN, "%s: github rate limit (%ld), retry after %s s%s",
                              what, r->status, r->retry_after[0] ? r->retry_after : "?", msg);
    }
    if (r->status == 401 || r->status == 403)
        code = CORE_EAUTH;
    else if (r->status == 404)
        code = CORE_ENOTFOUND;
    else if (r->status >= 500)
        code = CORE_EUNAVAILABLE;
    else
        code = CORE_EINVAL;
    return core_error_set(err, code, "%s: github answered %ld%s", what, r->status, msg);
}

/* One request authenticated as the App itself (its JWT), for the /app endpoints. */
static int app_request(notify_github *gh, notify_http *http, const char *method, const char *url,
                       int64_t now_ms, notify_http_response *r, core_error *err)
{
    char auth[4096], *jwt = NULL;
    const char *headers[5];
    int rc;

    rc = jwt_make(gh, now_ms / 1000, &jwt, err);
    if (rc < 0)
        return rc;
    if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", jwt) >= sizeof(auth)) {
        rc = core_error_set(err, CORE_EINVAL, "github app jwt is too long (key too big?)");
        goto out;
    }
    headers[0] = auth;
    headers[1] = "Accept: application/vnd.github+json";
    headers[2] = "User-Agent: zoneci";
    headers[3] = "X-GitHub-Api-Version: 2022-11-28";
    headers[4] = NULL;
    rc = notify_http_request(http, method, url, headers, NULL, 0, NOTIFY_GITHUB_TIMEOUT_MS, r, err);
out:
    core_wipe(auth, sizeof(auth));
    free_secret(jwt);
    return rc;
}

int notify_github_installation_token(notify_github *gh, notify_http *http, int64_t installation_id,
                                     int64_t now_ms, char **token_out, core_error *err)
{
    char url[URL_MAX], *token = NULL, *copy = NULL;
    notify_http_response r = {0};
    json_t *root = NULL;
    const char *tok, *exp;
    int64_t expires_ms;
    bool nomem;
    int rc;

    CORE_ASSERT(gh && http && token_out);
    *token_out = NULL;
    if (installation_id <= 0)
        return core_error_set(err, CORE_EINVAL, "github installation id must be positive");
    token = cache_get(gh, installation_id, now_ms, &nomem);
    if (nomem)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    if (token) {
        *token_out = token;
        return 0;
    }
    snprintf(url, sizeof(url), "%s/app/installations/%" PRId64 "/access_tokens", gh->api_url,
             installation_id);
    rc = app_request(gh, http, "POST", url, now_ms, &r, err);
    if (rc < 0) {
        core_error_wrap(err, "github installation token");
        goto out;
    }
    if (r.status != 201 && r.status != 200) {
        rc = status_error(&r, "github installation token", NULL, err);
        goto out;
    }
    root = json_loadb(r.body.data, r.body.len, 0, NULL);
    tok = json_string_value(json_object_get(root, "token"));
    exp = json_string_value(json_object_get(root, "expires_at"));
    if (!tok || !*tok || strlen(tok) > TOKEN_MAX || strpbrk(tok, "\r\n ") || !exp ||
        core_time_parse_iso(exp, &expires_ms, NULL) < 0) {
        rc = core_error_set(err, CORE_EINVAL,
                            "github installation token: answer lacks a token or expires_at");
        goto out;
    }
    token = strdup(tok);
    copy = strdup(tok);
    if (!token || !copy) {
        free_secret(token);
        free_secret(copy);
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    cache_put(gh, installation_id, token, expires_ms);
    *token_out = copy;
out:
    if (root)
        json_decref(root);
    if (r.body.data)
        core_wipe(r.body.data, r.body.len); /* it held the token */
    notify_http_response_free(&r);
    return rc;
}

int notify_github_status_body(const char *state, const char *description, const char *target_url,
                              core_buf *out)
{
    static const char *const states[] = {"pending", "success", "failure", "error"};
    notify_text t = {{0}, 0};
    bool known = false;
    int rc;

    CORE_ASSERT(state && out);
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        known |= strcmp(state, states[i]) == 0;
    if (!known)
        return CORE_EINVAL;
    if (target_url && *target_url && (!http_url(target_url) || strlen(target_url) >= URL_MAX))
        return CORE_EINVAL;
    rc = notify_text_add_cut(&t, description, NOTIFY_TEXT_ONELINE, NOTIFY_GITHUB_DESC_MAX);
    if (rc < 0)
        goto out;
    rc = CORE_ENOMEM;
    if (core_buf_printf(out, "{\"state\":\"%s\",\"context\":\"zoneci\",\"description\":\"", state) <
            0 ||
        core_buf_json_escape(out, t.buf.data, t.buf.len) < 0 || core_buf_puts(out, "\"") < 0)
        goto out;
    if (target_url && *target_url &&
        (core_buf_puts(out, ",\"target_url\":\"") < 0 ||
         core_buf_json_escape(out, target_url, strlen(target_url)) < 0 ||
         core_buf_puts(out, "\"") < 0))
        goto out;
    rc = core_buf_puts(out, "}") < 0 ? CORE_ENOMEM : 0;
out:
    notify_text_free(&t);
    return rc;
}

/* "owner/name": GitHub's characters for both, one slash. */
static bool repo_valid(const char *repo)
{
    const char *slash = strchr(repo, '/');
    size_t n = strlen(repo);

    if (!slash || slash == repo || !slash[1] || strchr(slash + 1, '/') || n > 200)
        return false;
    for (const char *p = repo; *p; p++) {
        if (p == slash)
            continue;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    }
    return strcmp(slash + 1, ".") != 0 && strcmp(slash + 1, "..") != 0;
}

static bool sha_valid(const char *sha)
{
    size_t n = strlen(sha);

    if (n != 40 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (core_hex_digit(sha[i]) < 0)
            return false;
    }
    return true;
}

/* One request with the installation's token: method on {api_url}{path} with a JSON body.
 * A 401 forgets the cached token, so that a retry fetches a new one; any answer but one of
 * the two ok statuses becomes status_error's code, named by what. The response is the
 * caller's (free it) when rc is 0. */
static int install_request(notify_github *gh, notify_http *http, int64_t installation_id,
                           const char *method, const char *path, const char *body, int64_t now_ms,
                           const char *what, long ok1, long ok2, notify_http_response *r,
                           int *retry_after_s, core_error *err)
{
    char url[URL_MAX], auth[TOKEN_MAX + 32], *token = NULL;
    const char *headers[6];
    int rc;

    rc = notify_github_installation_token(gh, http, installation_id, now_ms, &token, err);
    if (rc < 0)
        return rc;
    snprintf(url, sizeof(url), "%s%s", gh->api_url, path);
    snprintf(auth, sizeof(auth), "Authorization: token %s", token);
    headers[0] = auth;
    headers[1] = "Accept: application/vnd.github+json";
    headers[2] = "User-Agent: zoneci";
    headers[3] = "Content-Type: application/json";
    headers[4] = "X-GitHub-Api-Version: 2022-11-28";
    headers[5] = NULL;
    rc = notify_http_request(http, method, url, headers, body, strlen(body),
                             NOTIFY_GITHUB_TIMEOUT_MS, r, err);
    if (rc < 0) {
        core_error_wrap(err, "%s", what);
    } else {
        if (r->status == 401)
            notify_github_token_forget(gh, installation_id);
        if (r->status != ok1 && r->status != ok2) {
            rc = status_error(r, what, retry_after_s, err);
            notify_http_response_free(r);
        }
    }
    core_wipe(auth, sizeof(auth));
    free_secret(token);
    return rc;
}

int notify_github_post_status(notify_github *gh, notify_http *http, int64_t installation_id,
                              const char *repo, const char *sha, const char *body, int64_t now_ms,
                              int *retry_after_s, core_error *err)
{
    char path[URL_MAX];
    notify_http_response r = {0};
    int rc;

    CORE_ASSERT(gh && http && repo && sha && body);
    if (retry_after_s)
        *retry_after_s = 0;
    if (!repo_valid(repo))
        return core_error_set(err, CORE_EINVAL, "github status: repo must be owner/name");
    if (!sha_valid(sha))
        return core_error_set(err, CORE_EINVAL, "github status: sha must be 40 hex digits");
    snprintf(path, sizeof(path), "/repos/%s/statuses/%s", repo, sha);
    rc = install_request(gh, http, installation_id, "POST", path, body, now_ms, "github status",
                         201, 200, &r, retry_after_s, err);
    notify_http_response_free(&r);
    return rc;
}

int notify_github_check_run(notify_github *gh, notify_http *http, int64_t installation_id,
                            const char *repo, int64_t run_id, const char *body, int64_t now_ms,
                            int64_t *run_id_out, int *retry_after_s, core_error *err)
{
    char path[URL_MAX];
    notify_http_response r = {0};
    json_t *root = NULL;
    json_int_t id;
    int rc;

    CORE_ASSERT(gh && http && repo && body);
    if (retry_after_s)
        *retry_after_s = 0;
    if (run_id_out)
        *run_id_out = run_id;
    if (!repo_valid(repo))
        return core_error_set(err, CORE_EINVAL, "github check run: repo must be owner/name");
    if (run_id > 0)
        snprintf(path, sizeof(path), "/repos/%s/check-runs/%" PRId64, repo, run_id);
    else
        snprintf(path, sizeof(path), "/repos/%s/check-runs", repo);
    rc = install_request(gh, http, installation_id, run_id > 0 ? "PATCH" : "POST", path, body,
                         now_ms, "github check run", 201, 200, &r, retry_after_s, err);
    if (rc < 0 || run_id > 0)
        goto out;
    root = json_loadb(r.body.data, r.body.len, 0, NULL);
    id = json_integer_value(json_object_get(root, "id"));
    if (id <= 0)
        rc = core_error_set(err, CORE_EINVAL, "github check run: the answer has no id");
    else if (run_id_out)
        *run_id_out = (int64_t)id;
out:
    json_decref(root);
    notify_http_response_free(&r);
    return rc;
}

/* The URL of rel="next" in a Link header ("<u1>; rel="next", <u2>; rel="last""), or "". */
static void link_next(const char *link, char *out, size_t len)
{
    const char *p = link;

    out[0] = '\0';
    while ((p = strchr(p, '<')) != NULL) {
        const char *close = strchr(p, '>');
        const char *comma;

        if (!close)
            return;
        comma = strchr(close, ',');
        /* The parameters of this link run to the next comma (URLs never hold a raw one
         * here: GitHub's cursors are base64url-ish). */
        {
            size_t plen = comma ? (size_t)(comma - close) : strlen(close);
            const char *rel = strstr(close, "rel=\"next\"");

            if (rel && (size_t)(rel - close) < plen) {
                if ((size_t)(close - p - 1) < len) {
                    memcpy(out, p + 1, (size_t)(close - p - 1));
                    out[close - p - 1] = '\0';
                }
                return;
            }
        }
        if (!comma)
            return;
        p = comma;
    }
}

/* One entry of the list into *d; false when it lacks what recovery needs. */
static bool delivery_read(json_t *o, notify_github_delivery *d)
{
    json_t *id = json_object_get(o, "id"), *code = json_object_get(o, "status_code");
    const char *guid = json_string_value(json_object_get(o, "guid"));
    const char *event = json_string_value(json_object_get(o, "event"));
    const char *action = json_string_value(json_object_get(o, "action"));
    const char *at = json_string_value(json_object_get(o, "delivered_at"));

    memset(d, 0, sizeof(*d));
    if (!json_is_integer(id) || json_integer_value(id) <= 0 || !guid ||
        !core_name_valid(guid, NOTIFY_GITHUB_GUID_MAX, "-_.") || !event ||
        strlen(event) >= sizeof(d->event) || !at ||
        core_time_parse_iso(at, &d->delivered_ms, NULL) < 0)
        return false;
    d->id = (int64_t)json_integer_value(id);
    snprintf(d->guid, sizeof(d->guid), "%s", guid);
    snprintf(d->event, sizeof(d->event), "%s", event);
    if (action && strlen(action) < sizeof(d->action))
        snprintf(d->action, sizeof(d->action), "%s", action);
    if (json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) < 1000)
        d->status_code = (int)json_integer_value(code);
    d->redelivery = json_is_true(json_object_get(o, "redelivery"));
    return true;
}

int notify_github_deliveries_page(notify_github *gh, notify_http *http, const char *page_url,
                                  int64_t now_ms, notify_github_delivery **items, size_t *n,
                                  char *next_url, int *retry_after_s, core_error *err)
{
    char url[NOTIFY_HTTP_LINK_MAX], prefix[URL_MAX];
    notify_http_response r = {0};
    notify_github_delivery *out = NULL;
    json_t *root = NULL, *o;
    size_t i, k = 0;
    int rc;

    CORE_ASSERT(gh && http && items && n && next_url);
    *items = NULL;
    *n = 0;
    next_url[0] = '\0';
    if (retry_after_s)
        *retry_after_s = 0;
    snprintf(prefix, sizeof(prefix), "%s/app/hook/deliveries", gh->api_url);
    if (!page_url || !*page_url) {
        snprintf(url, sizeof(url), "%s?per_page=%d", prefix, NOTIFY_GITHUB_DELIVERIES_PER_PAGE);
    } else {
        size_t pn = strlen(prefix);

        /* The JWT only ever goes to the App's own deliveries endpoint. */
        if (strncmp(page_url, prefix, pn) != 0 || (page_url[pn] != '?' && page_url[pn] != '\0') ||
            strlen(page_url) >= sizeof(url) || strpbrk(page_url, " \r\n#"))
            return core_error_set(err, CORE_EINVAL,
                                  "github deliveries: next link is not under api_url");
        snprintf(url, sizeof(url), "%s", page_url);
    }
    rc = app_request(gh, http, "GET", url, now_ms, &r, err);
    if (rc < 0) {
        core_error_wrap(err, "github deliveries");
        return rc;
    }
    if (r.status != 200) {
        rc = status_error(&r, "github deliveries", retry_after_s, err);
        goto out;
    }
    root = json_loadb(r.body.data, r.body.len, 0, NULL);
    if (!json_is_array(root)) {
        rc = core_error_set(err, CORE_EINVAL, "github deliveries: answer is not a json array");
        goto out;
    }
    if (json_array_size(root) > 0) {
        out = calloc(json_array_size(root), sizeof(*out));
        if (!out) {
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            goto out;
        }
    }
    json_array_foreach(root, i, o)
    {
        if (delivery_read(o, &out[k]))
            k++;
    }
    link_next(r.link, next_url, NOTIFY_HTTP_LINK_MAX);
    *items = out;
    *n = k;
    out = NULL;
out:
    free(out);
    if (root)
        json_decref(root);
    notify_http_response_free(&r);
    return rc;
}

int notify_github_redeliver(notify_github *gh, notify_http *http, int64_t delivery_id,
                            int64_t now_ms, int *retry_after_s, core_error *err)
{
    char url[URL_MAX];
    notify_http_response r = {0};
    int rc;

    CORE_ASSERT(gh && http);
    if (retry_after_s)
        *retry_after_s = 0;
    if (delivery_id <= 0)
        return core_error_set(err, CORE_EINVAL, "github redelivery: id must be positive");
    snprintf(url, sizeof(url), "%s/app/hook/deliveries/%" PRId64 "/attempts", gh->api_url,
             delivery_id);
    rc = app_request(gh, http, "POST", url, now_ms, &r, err);
    if (rc < 0) {
        core_error_wrap(err, "github redelivery");
        return rc;
    }
    if (r.status < 200 || r.status > 299)
        rc = status_error(&r, "github redelivery", retry_after_s, err);
    notify_http_response_free(&r);
    return rc;
}
