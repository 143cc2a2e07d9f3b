/* notifier/github.c against a local ts_peer that plays GitHub: it verifies the App's JWT
 * with the public half of a key made by the test, hands out installation tokens, and
 * records commit statuses. Time is injected, so cache expiry needs no sleep. */
#include <check.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "tests/support/support.h"

#define APP_ID 12345
#define T0 1773072000000LL /* 2026-03-09T16:00:00Z */
#define MINUTE 60000LL
#define SHA "0123456789abcdef0123456789abcdef01234567"

typedef struct keypair {
    char *priv; /* PEM */
    char *pub;
} keypair;

/* The server: routes under prefix, records the last request. The peer's lock guards it. */
typedef struct fake {
    ts_peer *peer;
    char base[128];
    char prefix[32];
    const keypair *key;
    int token_requests;
    int status_requests;
    int issued; /* tokens handed out: ghs_fake_<n> */
    /* What the last request looked like. */
    char method[16];
    char path[256];
    char auth[1024];
    char accept[128];
    char user_agent[64];
    char content_type[128];
    core_buf body;
    bool jwt_ok;
    long iat, exp, iss;
    /* How to answer status calls: 0 = 201. */
    unsigned status_code;
    const char *status_body;
    const char *retry_after;
} fake;

static void keypair_make(keypair *k)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    BIO *a = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_s_mem());
    char *p;
    long n;

    ck_assert_ptr_nonnull(pkey);
    ck_assert_int_eq(PEM_write_bio_PrivateKey(a, pkey, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(PEM_write_bio_PUBKEY(b, pkey), 1);
    n = BIO_get_mem_data(a, &p);
    k->priv = core_strndup(p, (size_t)n);
    n = BIO_get_mem_data(b, &p);
    k->pub = core_strndup(p, (size_t)n);
    BIO_free(a);
    BIO_free(b);
    EVP_PKEY_free(pkey);
}

/* One key for the whole run: RSA key generation is the slow part of these tests. */
static const keypair *test_key(void)
{
    static keypair k;

    if (!k.priv)
        keypair_make(&k);
    return &k;
}

static void copy_header(const ts_peer_request *req, const char *name, char *dst, size_t len)
{
    const char *v = req->header(req, name);

    snprintf(dst, len, "%s", v ? v : "");
}

static void answer(ts_peer_answer *ans, unsigned status, const char *body, const char *retry_after)
{
    ans->status = status;
    ans->retry_after = retry_after;
    snprintf(ans->body, sizeof(ans->body), "%s", body);
}

/* Checks the JWT in "Bearer X" against the public key; records its claims. */
static bool jwt_check(fake *f, const char *auth)
{
    jwt_t *jwt = NULL;
    bool ok;

    if (strncmp(auth, "Bearer ", 7) != 0)
        return false;
    if (jwt_decode(&jwt, auth + 7, (const unsigned char *)f->key->pub, (int)strlen(f->key->pub)) !=
        0)
        return false;
    ok = jwt_get_alg(jwt) == JWT_ALG_RS256;
    f->iat = jwt_get_grant_int(jwt, "iat");
    f->exp = jwt_get_grant_int(jwt, "exp");
    f->iss = jwt_get_grant_int(jwt, "iss");
    jwt_free(jwt);
    return ok;
}

static void record(fake *f, const ts_peer_request *req)
{
    snprintf(f->method, sizeof(f->method), "%s", req->method);
    snprintf(f->path, sizeof(f->path), "%s", req->url);
    snprintf(f->auth, sizeof(f->auth), "%s", req->authorization);
    copy_header(req, "Accept", f->accept, sizeof(f->accept));
    copy_header(req, "User-Agent", f->user_agent, sizeof(f->user_agent));
    snprintf(f->content_type, sizeof(f->content_type), "%s", req->content_type);
    core_buf_reset(&f->body);
    core_buf_append(&f->body, req->body, req->body_len);
}

static void access_token(fake *f, long long id, ts_peer_answer *ans)
{
    char out[512], iso[CORE_ISO_MAX];

    f->token_requests++;
    f->jwt_ok = jwt_check(f, f->auth);
    if (!f->jwt_ok) {
        answer(ans, 401, "{\"message\":\"A JSON web token could not be decoded\"}", NULL);
    } else if (id == 404) {
        answer(ans, 404, "{\"message\":\"Not Found\"}", NULL);
    } else {
        /* GitHub's tokens live an hour from when it saw the JWT (iat + 60 s). */
        core_time_format_iso(((int64_t)f->iat + 60 + 3600) * 1000, iso);
        snprintf(out, sizeof(out), "{\"token\":\"ghs_fake_%d\",\"expires_at\":\"%s\"}", ++f->issued,
                 iso);
        answer(ans, 201, out, NULL);
    }
}

static void commit_status(fake *f, ts_peer_answer *ans)
{
    char expect[128];

    f->status_requests++;
    snprintf(expect, sizeof(expect), "token ghs_fake_%d", f->issued);
    if (strcmp(f->auth, expect) != 0)
        answer(ans, 401, "{\"message\":\"Bad credentials\"}", NULL);
    else
        answer(ans, f->status_code ? f->status_code : 201,
               f->status_body ? f->status_body : "{\"id\":1}", f->retry_after);
}

static void play(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    fake *f = ctx;
    size_t plen = strlen(f->prefix);
    const char *route;
    long long id;

    record(f, req);
    if (strncmp(req->url, f->prefix, plen) != 0) {
        answer(ans, 404, "{\"message\":\"Not Found\"}", NULL);
        return;
    }
    route = req->url + plen;
    if (sscanf(route, "/app/installations/%lld/access_tokens", &id) == 1)
        access_token(f, id, ans);
    else if (strncmp(route, "/repos/", 7) == 0 && strstr(route, "/statuses/"))
        commit_status(f, ans);
    else
        answer(ans, 404, "{\"message\":\"Not Found\"}", NULL);
}

static fake *fake_start(const char *prefix)
{
    fake *f = calloc(1, sizeof(*f));

    ck_assert_ptr_nonnull(f);
    f->key = test_key();
    snprintf(f->prefix, sizeof(f->prefix), "%s", prefix);
    f->peer = ts_peer_start(play, f);
    snprintf(f->base, sizeof(f->base), "%s%s", ts_peer_base(f->peer), prefix);
    return f;
}

static void fake_stop(fake *f)
{
    ts_peer_stop(f->peer);
    core_buf_free(&f->body);
    free(f);
}

static notify_github *github(const char *base)
{
    notify_github *gh = NULL;
    core_error err = {0};
    const keypair *k = test_key();

    ck_assert_msg(notify_github_new(&gh, base, APP_ID, k->priv, strlen(k->priv), &err) == 0,
                  "notify_github_new: %s", err.msg);
    ck_assert_ptr_nonnull(gh);
    return gh;
}

static char *token_at(notify_github *gh, notify_http *h, int64_t id, int64_t now)
{
    char *tok = NULL;
    core_error err = {0};

    ck_assert_msg(notify_github_installation_token(gh, h, id, now, &tok, &err) == 0, "token: %s",
                  err.msg);
    ck_assert_ptr_nonnull(tok);
    return tok;
}

START_TEST(token_signed_exchanged_and_cached)
{
    fake *f = fake_start("");
    notify_http *h = ts_notify_client();
    notify_github *gh = github(f->base);
    char *a, *b, *c, *d;

    a = token_at(gh, h, 42, T0);
    ck_assert_str_eq(a, "ghs_fake_1");
    ck_assert_int_eq(f->token_requests, 1);
    ck_assert_str_eq(f->method, "POST");
    ck_assert_str_eq(f->path, "/app/installations/42/access_tokens");
    ck_assert_str_eq(f->accept, "application/vnd.github+json");
    ck_assert_str_eq(f->user_agent, "zoneci");
    ck_assert_msg(f->jwt_ok, "the fake could not verify the jwt");
    ck_assert_int_eq(f->iat, T0 / 1000 - 60);
    ck_assert_int_eq(f->exp, T0 / 1000 + 600);
    ck_assert_int_eq(f->iss, APP_ID);

    /* Cached: no request, up to five minutes before the hour is out. */
    b = token_at(gh, h, 42, T0 + MINUTE);
    ck_assert_str_eq(b, "ghs_fake_1");
    free(b);
    b = token_at(gh, h, 42, T0 + 54 * MINUTE);
    ck_assert_str_eq(b, "ghs_fake_1");
    ck_assert_int_eq(f->token_requests, 1);

    /* At +56 min fewer than five minutes are left: a new JWT, a new token. */
    c = token_at(gh, h, 42, T0 + 56 * MINUTE);
    ck_assert_str_eq(c, "ghs_fake_2");
    ck_assert_int_eq(f->token_requests, 2);
    ck_assert_int_eq(f->iat, (T0 + 56 * MINUTE) / 1000 - 60);

    /* Another installation has its own token. */
    d = token_at(gh, h, 43, T0 + 56 * MINUTE);
    ck_assert_str_eq(d, "ghs_fake_3");
    ck_assert_str_eq(f->path, "/app/installations/43/access_tokens");
    free(d);
    d = token_at(gh, h, 42, T0 + 57 * MINUTE);
    ck_assert_str_eq(d, "ghs_fake_2");
    ck_assert_int_eq(f->token_requests, 3);

    /* Forgetting one makes the next call fetch. */
    notify_github_token_forget(gh, 42);
    free(d);
    d = token_at(gh, h, 42, T0 + 57 * MINUTE);
    ck_assert_str_eq(d, "ghs_fake_4");
    free(a);
    free(b);
    free(c);
    free(d);
    notify_github_free(gh);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(enterprise_base_url_with_prefix)
{
    fake *f = fake_start("/api/v3");
    notify_http *h = ts_notify_client();
    char base[160];
    notify_github *gh;
    core_buf body = {0};
    core_error err = {0};

    /* A trailing slash is ignored. */
    snprintf(base, sizeof(base), "%s/", f->base);
    gh = github(base);
    ck_assert_int_eq(notify_github_status_body("pending", "Queued in apac-tokyo", NULL, &body), 0);
    ck_assert_msg(notify_github_post_status(gh, h, 7, "acme/api", SHA, body.data, T0, NULL, &err) ==
                      0,
                  "post: %s", err.msg);
    ck_assert_int_eq(f->token_requests, 1);
    ck_assert_int_eq(f->status_requests, 1);
    ck_assert_str_eq(f->path, "/api/v3/repos/acme/api/statuses/" SHA);
    core_buf_free(&body);
    notify_github_free(gh);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(status_posted_with_token)
{
    fake *f = fake_start("");
    notify_http *h = ts_notify_client();
    notify_github *gh = github(f->base);
    core_buf body = {0};
    core_error err = {0};
    json_t *root;

    ck_assert_int_eq(
        notify_github_status_body("success", "Succeeded", "https://ci.example.com/jobs/j-1", &body),
        0);
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err), 0);
    ck_assert_str_eq(f->method, "POST");
    ck_assert_str_eq(f->path, "/repos/acme/api/statuses/" SHA);
    ck_assert_str_eq(f->auth, "token ghs_fake_1");
    ck_assert_str_eq(f->accept, "application/vnd.github+json");
    ck_assert_str_eq(f->user_agent, "zoneci");
    ck_assert_str_eq(f->content_type, "application/json");
    root = json_loadb(f->body.data, f->body.len, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "state")), "success");
    ck_assert_str_eq(json_string_value(json_object_get(root, "context")), "zoneci");
    ck_assert_str_eq(json_string_value(json_object_get(root, "description")), "Succeeded");
    ck_assert_str_eq(json_string_value(json_object_get(root, "target_url")),
                     "https://ci.example.com/jobs/j-1");
    json_decref(root);

    /* The second status reuses the token. */
    ck_assert_int_eq(notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data,
                                               T0 + 10 * MINUTE, NULL, &err),
                     0);
    ck_assert_int_eq(f->token_requests, 1);
    ck_assert_int_eq(f->status_requests, 2);
    core_buf_free(&body);
    notify_github_free(gh);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static char *description_of(const char *state, const char *desc, const char *url)
{
    core_buf b = {0};
    json_t *root;
    char *out;

    ck_assert_int_eq(notify_github_status_body(state, desc, url, &b), 0);
    root = json_loadb(b.data, b.len, 0, NULL);
    ck_assert_msg(root != NULL, "not json: %s", b.data);
    ck_assert_str_eq(json_string_value(json_object_get(root, "context")), "zoneci");
    ck_assert_ptr_null(json_object_get(root, url ? "nothing" : "target_url"));
    out = strdup(json_string_value(json_object_get(root, "description")));
    json_decref(root);
    core_buf_free(&b);
    return out;
}

START_TEST(status_body_cut_at_140_characters)
{
    char ascii[200], utf[600], *d;
    core_buf b = {0};

    memset(ascii, 'a', 140);
    ascii[140] = '\0';
    d = description_of("pending", ascii, NULL);
    ck_assert_str_eq(d, ascii); /* exactly 140: whole */
    free(d);
    ascii[140] = 'b';
    ascii[141] = '\0';
    d = description_of("pending", ascii, NULL);
    ck_assert_uint_eq(utf8_chars(d), 140);
    ck_assert_uint_eq(strlen(d), 139 + 3);
    ck_assert_str_eq(d + 139, "\xe2\x80\xa6");
    free(d);

    /* 200 two-byte characters: cut on a character boundary, counted in characters. */
    for (int i = 0; i < 200; i++)
        memcpy(utf + 2 * i, "\xc3\xa9", 2);
    utf[400] = '\0';
    d = description_of("failure", utf, "https://ci.example.com/j/1");
    ck_assert_uint_eq(utf8_chars(d), 140);
    ck_assert_uint_eq(strlen(d), 139 * 2 + 3);
    free(d);

    /* Newlines become spaces, control characters go, invalid UTF-8 is replaced. */
    d = description_of("error",
                       "a\nb\x01"
                       "c\xff"
                       "d \"q\"",
                       NULL);
    ck_assert_str_eq(d, "a bc\xef\xbf\xbd"
                        "d \"q\"");
    free(d);
    d = description_of("success", NULL, "");
    ck_assert_str_eq(d, "");
    free(d);

    ck_assert_int_eq(notify_github_status_body("done", "x", NULL, &b), CORE_EINVAL);
    ck_assert_int_eq(notify_github_status_body("pending", "x", "javascript:alert(1)", &b),
                     CORE_EINVAL);
    core_buf_free(&b);
}
END_TEST

START_TEST(errors_mapped)
{
    fake *f = fake_start("");
    notify_http *h = ts_notify_client();
    notify_github *gh = github(f->base), *other;
    keypair wrong;
    core_buf body = {0};
    core_error err = {0};
    char *tok = NULL;

    /* No such installation. */
    ck_assert_int_eq(notify_github_installation_token(gh, h, 404, T0, &tok, &err), CORE_ENOTFOUND);
    ck_assert_ptr_null(tok);
    ck_assert_msg(strstr(err.msg, "404") && strstr(err.msg, "Not Found"), "msg: %s", err.msg);

    /* A JWT signed with another key is refused; the message never quotes it. */
    keypair_make(&wrong);
    ck_assert_int_eq(
        notify_github_new(&other, f->base, APP_ID, wrong.priv, strlen(wrong.priv), &err), 0);
    ck_assert_int_eq(notify_github_installation_token(other, h, 42, T0, &tok, &err), CORE_EAUTH);
    ck_assert(!f->jwt_ok);
    ck_assert_msg(strstr(err.msg, "401"), "msg: %s", err.msg);
    ck_assert(strstr(err.msg, "eyJ") == NULL);
    ck_assert(strstr(err.msg, "PRIVATE") == NULL);
    notify_github_free(other);
    free(wrong.priv);
    free(wrong.pub);

    ck_assert_int_eq(notify_github_status_body("pending", "x", NULL, &body), 0);
    f->status_code = 422;
    f->status_body = "{\"message\":\"No commit found for SHA: 0123\"}";
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err),
        CORE_EINVAL);
    ck_assert_msg(strstr(err.msg, "422") && strstr(err.msg, "No commit found"), "msg: %s", err.msg);
    ck_assert(strstr(err.msg, "ghs_") == NULL);
    f->status_code = 404;
    f->status_body = "{\"message\":\"Not Found\"}";
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err),
        CORE_ENOTFOUND);
    f->status_code = 502;
    f->status_body = "<html>bad gateway</html>";
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err),
        CORE_EUNAVAILABLE);
    f->status_code = 403;
    f->status_body = "{\"message\":\"You have exceeded a secondary rate limit\"}";
    f->retry_after = "30";
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err),
        CORE_EAGAIN);
    ck_assert_msg(strstr(err.msg, "30"), "msg: %s", err.msg);
    f->retry_after = NULL;
    f->status_body = "{\"message\":\"Resource not accessible by integration\"}";
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err),
        CORE_EAUTH);
    ck_assert_int_eq(f->token_requests, 3); /* 404, the wrong key, then one for 42 */

    /* A revoked token (401 on the status call) is forgotten: the next call fetches one. */
    f->status_code = 0;
    f->status_body = NULL;
    f->issued += 10; /* the fake no longer accepts ghs_fake_1 */
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err),
        CORE_EAUTH);
    ck_assert_int_eq(f->token_requests, 3);
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", SHA, body.data, T0, NULL, &err), 0);
    ck_assert_int_eq(f->token_requests, 4);

    /* Bad input is refused before any request. */
    ck_assert_int_eq(notify_github_post_status(gh, h, 42, "acme", SHA, body.data, T0, NULL, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/../x", SHA, body.data, T0, NULL, &err),
        CORE_EINVAL);
    ck_assert_int_eq(
        notify_github_post_status(gh, h, 42, "acme/api", "abc123", body.data, T0, NULL, &err),
        CORE_EINVAL);
    ck_assert_int_eq(notify_github_installation_token(gh, h, 0, T0, &tok, &err), CORE_EINVAL);
    ck_assert_int_eq(f->status_requests, 7);
    core_buf_free(&body);
    notify_github_free(gh);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(bad_configuration_refused)
{
    notify_github *gh = (notify_github *)1;
    core_error err = {0};
    const char *junk = "-----BEGIN PRIVATE KEY-----\nTOPSECRETNOTAKEY\n-----END PRIVATE KEY-----\n";
    const keypair *k = test_key();

    ck_assert_int_eq(
        notify_github_new(&gh, "https://api.github.com", APP_ID, junk, strlen(junk), &err),
        CORE_EINVAL);
    ck_assert_ptr_null(gh);
    ck_assert(strstr(err.msg, "TOPSECRET") == NULL);
    ck_assert_int_eq(notify_github_new(&gh, "ftp://x", APP_ID, k->priv, strlen(k->priv), &err),
                     CORE_EINVAL);
    ck_assert_int_eq(
        notify_github_new(&gh, "https://api.github.com", 0, k->priv, strlen(k->priv), &err),
        CORE_EINVAL);
    ck_assert_int_eq(notify_github_new(&gh, "https://api.github.com", APP_ID, k->priv, 0, &err),
                     CORE_EINVAL);
    ck_assert_ptr_null(gh);
    notify_github_free(NULL);
}
END_TEST

START_TEST(unreachable_github)
{
    notify_http *h = ts_notify_client();
    char base[64], *tok = NULL;
    notify_github *gh;
    core_error err = {0};

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", ts_free_port());
    gh = github(base);
    ck_assert_int_eq(notify_github_installation_token(gh, h, 42, T0, &tok, &err),
                     CORE_EUNAVAILABLE);
    ck_assert_ptr_null(tok);
    ck_assert_msg(strstr(err.msg, "github installation token"), "msg: %s", err.msg);
    notify_github_free(gh);
    notify_http_free(h);
}
END_TEST

typedef struct worker {
    notify_github *gh;
    int64_t id;
    int ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    notify_http *h = NULL;
    core_error err = {0};

    if (notify_http_new(&h, &err) < 0)
        return NULL;
    for (int i = 0; i < 20; i++) {
        char *tok = NULL;

        if (notify_github_installation_token(w->gh, h, w->id + i % 3, T0 + i * MINUTE, &tok,
                                             &err) == 0 &&
            strncmp(tok, "ghs_fake_", 9) == 0)
            w->ok++;
        free(tok);
    }
    notify_http_free(h);
    return NULL;
}

START_TEST(shared_by_threads)
{
    fake *f = fake_start("");
    notify_github *gh = github(f->base);
    pthread_t t[4];
    worker w[4];

    for (int i = 0; i < 4; i++) {
        w[i] = (worker){gh, 100, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].ok, 20);
    }
    /* Three installations; a race may fetch one twice, never once per call. */
    ck_assert_int_ge(f->token_requests, 3);
    ck_assert_int_le(f->token_requests, 12);
    notify_github_free(gh);
    fake_stop(f);
}
END_TEST

Suite *suite_notifier_github(void)
{
    Suite *s = suite_create("notifier_github");
    TCase *tc = tcase_create("github");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, token_signed_exchanged_and_cached);
    tcase_add_test(tc, enterprise_base_url_with_prefix);
    tcase_add_test(tc, status_posted_with_token);
    tcase_add_test(tc, status_body_cut_at_140_characters);
    tcase_add_test(tc, errors_mapped);
    tcase_add_test(tc, bad_configuration_refused);
    tcase_add_test(tc, unreachable_github);
    tcase_add_test(tc, shared_by_threads);
    suite_add_tcase(s, tc);
    return s;
}
