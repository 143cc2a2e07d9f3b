/* End to end, the status page and the read-only job page over real HTTP: a real
 * redis-server, a real git repository with a risky migration and `zoneci serve`. The page
 * asks for an operator token, holds it in an HttpOnly SameSite=Strict cookie, renders the
 * regions, the job awaiting approval with its findings and the recent jobs with every
 * hostile string escaped, and takes a decision only with the session's CSRF token. The job
 * page needs no token and shows neither findings nor who decided. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tests/support/support.h"

#define GH_SECRET "page-secret"
#define DBA_TOKEN "dba-lead-token-0123"
#define ONCALL "UONCALLPAGE1"
#define HOSTILE "<script>alert(1)</script>"

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    char *config;
    char base[64];
    char repo[600];
    char *main_sha, *risky_sha;
} env;

static void env_start_with(env *e, bool tokens)
{
    char *argv[] = {"serve", "--config", NULL, NULL};
    char *envp[] = {"ZT_GH_SECRET=" GH_SECRET, "ZT_API_TOKENS=dba-lead:" DBA_TOKEN, NULL};
    char *text = NULL;
    int port;

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    snprintf(e->repo, sizeof(e->repo), "%s/app", e->dir);
    ts_sh("git init -q -b main '%s' && cd '%s' && git config user.email t@example.com && "
          "git config user.name t && mkdir -p db && "
          "printf 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\\n' > db/001_users.sql "
          "&& git add . && git commit -q -m base && git checkout -q -b risky && "
          "printf 'ALTER TABLE users DROP COLUMN email;\\n' > db/002_drop_email.sql && "
          "git add . && git commit -q -m risky && git checkout -q main",
          e->repo, e->repo);
    e->main_sha = ts_git_rev(e->repo, "main");
    e->risky_sha = ts_git_rev(e->repo, "risky");
    port = ts_free_port();
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    ck_assert(asprintf(&text,
                       "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 4,\n"
                       "   \"public_url\": \"https://zoneci.example\"},\n"
                       " \"redis\": {\"url\": \"%s\", \"prefix\": \"pg\"},\n"
                       " \"cache_dir\": \"%s/cache\",\n"
                       " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\",\n"
                       "   \"allow_local_repos\": true},\n"
                       "%s"
                       " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                       "   \"hours\": [\"Mon-Sun 00:00-24:00\"], \"oncall\": [\"" ONCALL "\"]},\n"
                       "  {\"name\": \"tokyo\", \"timezone\": \"Asia/Tokyo\",\n"
                       "   \"hours\": [\"Mon-Fri 09:00-18:00\"]}],\n"
                       " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"],\n"
                       "   \"migrations\": {\"paths\": [\"db/**/*.sql\"], \"approval\": "
                       "\"risky\", \"approvers\": [\"" ONCALL "\"]}}]}\n",
                       port, e->redis->url, e->dir,
                       tokens ? " \"api\": {\"tokens_env\": \"ZT_API_TOKENS\"},\n" : "") > 0);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    argv[2] = e->config;
    e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
}

static void env_start(env *e)
{
    env_start_with(e, true);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
    free(e->config);
    free(e->main_sha);
    free(e->risky_sha);
}

/* Posts PR `number` with a hostile title and waits until its job is in `state`. */
static void post_pr(env *e, int number, const char *sha, const char *state, char id[32])
{
    char *body = NULL, *resp = NULL, delivery[32], url[700];
    json_t *j;

    snprintf(url, sizeof(url), "file://%s", e->repo);
    ck_assert(asprintf(&body,
                       "{\"action\":\"opened\",\"number\":%d,\"pull_request\":{\"number\":%d,"
                       "\"title\":\"drop email " HOSTILE "\",\"user\":{\"login\":\"octocat\"},"
                       "\"head\":{\"sha\":\"%s\",\"ref\":\"f\"},\"base\":{\"sha\":\"%s\","
                       "\"ref\":\"main\"}},\"repository\":{\"full_name\":\"acme/app\","
                       "\"clone_url\":\"%s\"},\"installation\":{\"id\":42}}",
                       number, number, sha, e->main_sha, url) > 0);
    snprintf(delivery, sizeof(delivery), "pg-%d", number);
    ck_assert_int_eq(
        ts_post_github(e->base, "pull_request", delivery, body, strlen(body), GH_SECRET, &resp),
        202);
    j = json_loads(resp, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    free(body);
    free(resp);
    ck_assert_msg(ts_job_wait_state(e->base, id, DBA_TOKEN, state, 30000),
                  "job %s never reached %s", id, state);
}

static long get(env *e, const char *path, const char *cookie, ts_response *r)
{
    char url[256], h[1200];
    const char *headers[] = {h, NULL};

    snprintf(url, sizeof(url), "%s%s", e->base, path);
    snprintf(h, sizeof(h), "Cookie: %s", cookie ? cookie : "");
    ck_assert_int_eq(ts_http("GET", url, cookie ? headers : NULL, NULL, 0, r), 0);
    return r->status;
}

/* Signs in with token: the status, and the session cookie "zoneci_session=..." in cookie. */
static long login(env *e, const char *token, char cookie[1024], ts_response *r)
{
    char url[256], body[256];
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const char *sc, *end;

    snprintf(url, sizeof(url), "%s/login", e->base);
    snprintf(body, sizeof(body), "token=%s", token);
    ck_assert_int_eq(ts_http("POST", url, headers, body, strlen(body), r), 0);
    cookie[0] = '\0';
    sc = r->headers ? strcasestr(r->headers, "Set-Cookie: ") : NULL;
    if (sc) {
        sc += strlen("Set-Cookie: ");
        end = sc + strcspn(sc, ";\r\n");
        snprintf(cookie, 1024, "%.*s", (int)(end - sc), sc);
    }
    return r->status;
}

/* The CSRF token the page carries for its session. */
static void csrf_of_page(const char *html, char out[128])
{
    const char *m = strstr(html, "name=\"csrf-token\" content=\"");

    ck_assert_ptr_nonnull(m);
    m += strlen("name=\"csrf-token\" content=\"");
    snprintf(out, 128, "%.*s", (int)strcspn(m, "\""), m);
    ck_assert_uint_eq(strlen(out), 64);
}

static long decide(env *e, const char *id, const char *cookie, const char *csrf)
{
    char url[256], hc[1100], hx[200];
    const char *headers[] = {hc, "Content-Type: application/json", csrf ? hx : NULL, NULL};
    ts_response r;
    long status;

    snprintf(url, sizeof(url), "%s/api/v1/jobs/%s/approve", e->base, id);
    snprintf(hc, sizeof(hc), "Cookie: %s", cookie);
    snprintf(hx, sizeof(hx), "X-CSRF-Token: %s", csrf ? csrf : "");
    ck_assert_int_eq(ts_http("POST", url, headers, "{}", 2, &r), 0);
    status = r.status;
    ts_response_free(&r);
    return status;
}

static const char *field_of(env *e, const char *id, const char *field, char out[64])
{
    json_t *j = ts_job_get(e->base, id, DBA_TOKEN);
    const char *v = json_string_value(json_object_get(j, field));

    snprintf(out, 64, "%s", v ? v : "(null)");
    json_decref(j);
    return out;
}

START_TEST(page_asks_for_a_token_and_sets_a_strict_cookie)
{
    env e;
    ts_response r;
    char cookie[1024];

    env_start(&e);
    ck_assert_int_eq(get(&e, "/", NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "action=\"/login\""));
    ck_assert_ptr_null(strstr(r.body, "id=\"regions\""));
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Content-Type: text/html"));
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Content-Security-Policy: default-src 'none'"));
    ts_response_free(&r);

    ck_assert_int_eq(login(&e, "not-a-token", cookie, &r), 401);
    ck_assert_str_eq(cookie, "");
    ts_response_free(&r);

    ck_assert_int_eq(login(&e, DBA_TOKEN, cookie, &r), 303);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "Location: /"));
    ck_assert_ptr_nonnull(strstr(r.headers, "HttpOnly"));
    ck_assert_ptr_nonnull(strstr(r.headers, "SameSite=Strict"));
    ck_assert_ptr_nonnull(strstr(r.headers, "Path=/"));
    /* The token never travels in clear text after the login form. */
    ck_assert_ptr_null(strstr(r.headers, DBA_TOKEN));
    ck_assert_int_eq(strncmp(cookie, "zoneci_session=", 15), 0);
    ts_response_free(&r);

    ck_assert_int_eq(get(&e, "/", cookie, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"operator\">dba-lead<"));
    ck_assert_ptr_null(strstr(r.body, DBA_TOKEN));
    ts_response_free(&r);

    /* The cookie also reads the API, as a bearer token would. */
    ck_assert_int_eq(get(&e, "/api/v1/jobs", cookie, &r), 200);
    ts_response_free(&r);
    ck_assert_int_eq(get(&e, "/api/v1/jobs", "zoneci_session=00.00", &r), 401);
    ts_response_free(&r);

    /* Logging out clears it. */
    {
        char url[256];

        snprintf(url, sizeof(url), "%s/logout", e.base);
        ck_assert_int_eq(ts_http("POST", url, NULL, "", 0, &r), 0);
        ck_assert_int_eq(r.status, 303);
        ck_assert_ptr_nonnull(strstr(r.headers, "zoneci_session=;"));
        ck_assert_ptr_nonnull(strstr(r.headers, "Max-Age=0"));
        ts_response_free(&r);
    }
    env_stop(&e);
}
END_TEST

START_TEST(page_renders_escaped_and_decides_only_with_csrf)
{
    env e;
    ts_response r;
    char cookie[1024], csrf[128], id[32], queued[32], state[64], row[128];
    const char *always;

    env_start(&e);
    post_pr(&e, 7, e.risky_sha, "awaiting_approval", id);
    /* A pull request without migrations waits in the open region's queue (no runner). */
    post_pr(&e, 6, e.main_sha, "queued", queued);
    ck_assert_int_eq(login(&e, DBA_TOKEN, cookie, &r), 303);
    ts_response_free(&r);

    ck_assert_int_eq(get(&e, "/", cookie, &r), 200);
    /* Regions with their state and on-call, the timeline, the tz data. */
    ck_assert_ptr_nonnull(strstr(r.body, "data-region=\"always\""));
    ck_assert_ptr_nonnull(strstr(r.body, "data-region=\"tokyo\""));
    ck_assert_ptr_nonnull(strstr(r.body, "<td class=\"state open\">open</td>"));
    always = strstr(r.body, "data-region=\"always\"");
    ck_assert_ptr_nonnull(always);
    ck_assert_msg(strncmp(strstr(always, "class=\"depth\">"), "class=\"depth\">1<",
                          strlen("class=\"depth\">1<")) == 0,
                  "%.600s", always);
    ck_assert_ptr_nonnull(strstr(r.body, ONCALL));
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"timeline\""));
    ck_assert_ptr_nonnull(strstr(r.body, " now\"></td>"));
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"tzdata\""));
    /* The approval with its findings and buttons. */
    snprintf(row, sizeof(row), "class=\"approval\" data-job=\"%s\"", id);
    ck_assert_ptr_nonnull(strstr(r.body, row));
    ck_assert_ptr_nonnull(strstr(r.body, "DROP COLUMN email"));
    ck_assert_ptr_nonnull(strstr(r.body, "class=\"rule\""));
    ck_assert_ptr_nonnull(strstr(r.body, "data-action=\"approve\""));
    /* The recent jobs, with history. */
    snprintf(row, sizeof(row), "class=\"job\" data-job=\"%s\"", id);
    ck_assert_ptr_nonnull(strstr(r.body, row));
    ck_assert_ptr_nonnull(strstr(r.body, "class=\"history\""));
    /* The hostile title is text, never markup. */
    ck_assert_ptr_null(strstr(r.body, HOSTILE));
    ck_assert_ptr_nonnull(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    csrf_of_page(r.body, csrf);
    ts_response_free(&r);

    /* The cookie alone decides nothing, nor a wrong CSRF token, nor a GET. */
    ck_assert_int_eq(decide(&e, id, cookie, NULL), 401);
    ck_assert_int_eq(decide(&e, id, cookie,
                            "0000000000000000000000000000000000000000000000000000"
                            "000000000000"),
                     401);
    {
        char path[64];

        snprintf(path, sizeof(path), "/api/v1/jobs/%s/approve", id);
        ck_assert_int_eq(get(&e, path, cookie, &r), 405);
        ts_response_free(&r);
    }
    ck_assert_str_eq(field_of(&e, id, "state", state), "awaiting_approval");
    ck_assert_str_eq(field_of(&e, id, "decision", state), "(null)");
    /* With it, the decision is the operator's. */
    ck_assert_int_eq(decide(&e, id, cookie, csrf), 200);
    ck_assert_str_eq(field_of(&e, id, "decision", state), "approved");
    ck_assert_str_eq(field_of(&e, id, "decided_by", state), "dba-lead");
    env_stop(&e);
}
END_TEST

START_TEST(job_page_is_public_and_reveals_only_the_summary)
{
    env e;
    ts_response r;
    char cookie[1024], csrf[128], id[32], path[64];

    env_start(&e);
    post_pr(&e, 8, e.risky_sha, "awaiting_approval", id);
    snprintf(path, sizeof(path), "/jobs/%s", id);
    ck_assert_int_eq(get(&e, path, NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"state\">awaiting_approval<"));
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"summary\""));
    ck_assert_ptr_nonnull(strstr(r.body, "&lt;script&gt;"));
    ck_assert_ptr_null(strstr(r.body, HOSTILE));
    /* No statement, no Slack id, no token, no clone URL. */
    ck_assert_ptr_null(strstr(r.body, "DROP COLUMN"));
    ck_assert_ptr_null(strstr(r.body, ONCALL));
    ck_assert_ptr_null(strstr(r.body, "file://"));
    ts_response_free(&r);

    /* After a decision: who decided stays off it. */
    ck_assert_int_eq(login(&e, DBA_TOKEN, cookie, &r), 303);
    ts_response_free(&r);
    ck_assert_int_eq(get(&e, "/", cookie, &r), 200);
    csrf_of_page(r.body, csrf);
    ts_response_free(&r);
    ck_assert_int_eq(decide(&e, id, cookie, csrf), 200);
    ck_assert_int_eq(get(&e, path, NULL, &r), 200);
    ck_assert_msg(strstr(r.body, "</b>: approved</li>") != NULL, "%s", r.body);
    ck_assert_ptr_null(strstr(r.body, "dba-lead"));
    ts_response_free(&r);

    ck_assert_int_eq(get(&e, "/jobs/999999", NULL, &r), 404);
    ts_response_free(&r);
    ck_assert_int_eq(get(&e, "/jobs/%3Cx%3E", NULL, &r), 404);
    ck_assert_ptr_null(strstr(r.body, "<x>"));
    ts_response_free(&r);
    env_stop(&e);
}
END_TEST

START_TEST(without_tokens_the_page_is_open_and_decides_nothing)
{
    env e;
    ts_response r;
    char id[32], path[128];

    env_start_with(&e, false);
    snprintf(id, sizeof(id), "1");
    ck_assert_int_eq(get(&e, "/", NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"regions\""));
    ck_assert_ptr_null(strstr(r.body, "action=\"/login\""));
    ck_assert_ptr_null(strstr(r.body, "class=\"decide\""));
    ck_assert_ptr_null(strstr(r.body, "csrf-token"));
    ts_response_free(&r);
    snprintf(path, sizeof(path), "%s/login", e.base);
    ck_assert_int_eq(ts_http("POST", path, NULL, "token=x", 7, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ts_response_free(&r);
    ck_assert_int_eq(decide(&e, id, "zoneci_session=x", "y"), 401);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_page(void)
{
    Suite *s = suite_create("e2e_page");
    TCase *tc = tcase_create("page");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, page_asks_for_a_token_and_sets_a_strict_cookie);
    tcase_add_test(tc, page_renders_escaped_and_decides_only_with_csrf);
    tcase_add_test(tc, job_page_is_public_and_reveals_only_the_summary);
    tcase_add_test(tc, without_tokens_the_page_is_open_and_decides_nothing);
    suite_add_tcase(s, tc);
    return s;
}
