/* End to end approvals: a real redis-server, real git repositories and `zoneci serve`. A
 * PR with a risky migration waits for approval; a signed Slack click by an approver (or an
 * operator through the API) decides it once, whoever else clicks, and a refusal, a bad
 * signature or a stale timestamp records nothing. With a local peer playing Slack and
 * GitHub: the card reaches the region's channel even when Slack fails at first (and
 * across a restart of zoneci), the click updates it, and the commit status follows the
 * job from awaiting approval to success; what a refused or late clicker should read
 * reaches the click's response_url as an ephemeral message (never a response_url on
 * another host), and GitHub names the decider by login, never by Slack id. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "tests/support/support.h"

#define GH_SECRET "approvals-secret"
#define SLACK_SECRET "slack-signing-secret"
#define API_TOKEN "operator-token"
/* Named operator tokens: dba-lead is `people`'s dba, octo-ops is octocat (the author). */
#define DBA_TOKEN "dba-lead-token-0123"
#define OCTO_TOKEN "octo-ops-token-4567"
#define API_TOKENS API_TOKEN ",dba-lead:" DBA_TOKEN "\n octo-ops:" OCTO_TOKEN
#define APPROVER "UAPPROVER1"
#define AUTHOR "UAUTHOR1"
#define OTHER "UOTHER1"
#define ONCALL "UONCALL1"
#define RUNNER_TOKEN "runner-token"

/* What the peer playing Slack and GitHub saw; guarded by the peer's lock. */
typedef struct peer_log {
    int slack_fail;         /* answer the next slack_fail chat.postMessage calls 500 */
    bool slack_down;        /* answer every Slack call 500 */
    int posts;              /* chat.postMessage answered ok */
    int failed_posts;       /* chat.postMessage answered 500 */
    int updates;            /* chat.update answered ok */
    core_buf cards;         /* bodies of the ok posts and updates, one per line */
    core_buf statuses;      /* "state|description|authorization" per status, in order */
    int responses;          /* POSTs to /respond/... (clicks' response_urls) */
    core_buf ephemeral;     /* their bodies, one per line */
    char respond_auth[128]; /* the Authorization of the last of them */
    int token_requests;
    char jwt[2048]; /* the last App JWT */
} peer_log;

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    char *config;
    ts_peer *peer;
    /* On the heap: with CK_FORK=no a failed test leaves its peer running, and the peer
     * must not then write into a dead stack frame. */
    peer_log *log;
    char base[64];
    char repo[600];
    char *main_sha, *risky_sha;
    /* The response_url clicks carry: on the peer (/respond/N) when there is one, else on
     * Slack's configured api_url (127.0.0.1:1, where nothing listens): never the real
     * hooks.slack.com from a test. */
    char respond_url[128];
} env;

/* main with a users table; branch "risky" drops a column. */
static void make_repo(env *e)
{
    snprintf(e->repo, sizeof(e->repo), "%s/app", e->dir);
    ts_sh("git init -q -b main '%s' && cd '%s' && git config user.email t@example.com && "
          "git config user.name t && mkdir -p db && "
          "printf 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\\n' > db/001_users.sql "
          "&& git add . && git commit -q -m base",
          e->repo, e->repo);
    ts_sh("cd '%s' && git checkout -q -b risky main && "
          "printf 'ALTER TABLE users DROP COLUMN email;\\n' > db/002_drop_email.sql && "
          "git add . && git commit -q -m risky && git checkout -q main",
          e->repo);
    e->main_sha = ts_git_rev(e->repo, "main");
    e->risky_sha = ts_git_rev(e->repo, "risky");
}

/* Plays Slack (/slack/chat.*) and GitHub (/gh/...): records what zoneci sends. */
static void play_peers(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    peer_log *log = ctx;

    if (strncmp(req->url, "/respond/", 9) == 0) {
        log->responses++;
        snprintf(log->respond_auth, sizeof(log->respond_auth), "%s", req->authorization);
        core_buf_printf(&log->ephemeral, "%s\n", req->body);
        snprintf(ans->body, sizeof(ans->body), "ok");
    } else if (strncmp(req->url, "/slack/", 7) == 0) {
        bool post = strcmp(req->url, "/slack/chat.postMessage") == 0;

        if (log->slack_down || (post && log->slack_fail > 0)) {
            log->slack_fail -= post && log->slack_fail > 0;
            log->failed_posts += post;
            ans->status = 500;
            snprintf(ans->body, sizeof(ans->body), "{\"ok\":false,\"error\":\"fatal_error\"}");
            return;
        }
        core_buf_printf(&log->cards, "%s\n", req->body);
        if (post)
            snprintf(ans->body, sizeof(ans->body), "{\"ok\":true,\"ts\":\"1712345678.%06d\"}",
                     ++log->posts);
        else
            snprintf(ans->body, sizeof(ans->body), "{\"ok\":true,\"ts\":\"%d\"}", ++log->updates);
    } else if (strstr(req->url, "/access_tokens")) {
        char iso[CORE_ISO_MAX];

        log->token_requests++;
        snprintf(log->jwt, sizeof(log->jwt), "%s", req->authorization);
        core_time_format_iso(core_time_now_ms() + 3600 * 1000, iso);
        ans->status = 201;
        snprintf(ans->body, sizeof(ans->body), "{\"token\":\"ghs_e2e\",\"expires_at\":\"%s\"}",
                 iso);
    } else if (strstr(req->url, "/statuses/")) {
        json_t *j = json_loads(req->body, 0, NULL);

        core_buf_printf(&log->statuses, "%s|%s|%s\n",
                        json_string_value(json_object_get(j, "state")),
                        json_string_value(json_object_get(j, "description")), req->authorization);
        json_decref(j);
        ans->status = 201;
        snprintf(ans->body, sizeof(ans->body), "{\"id\":1}");
    } else {
        ans->status = 404;
    }
}

static void serve_start(env *e)
{
    char *argv[] = {"serve", "--config", e->config, NULL};
    char *envp[] = {"ZT_GH_SECRET=" GH_SECRET,        "ZT_SLACK_SECRET=" SLACK_SECRET,
                    "ZT_API_TOKENS=" API_TOKENS,      "ZT_SLACK_TOKEN=xoxb-e2e",
                    "ZT_RUNNER_TOKENS=" RUNNER_TOKEN, NULL};

    e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
}

enum { PLAIN, WITH_API, WITH_PEERS };

/* WITH_API: operator tokens and Slack's signing secret configured (PLAIN: neither).
 * WITH_PEERS: also Slack's Web API and the GitHub App, played by a local peer; the
 * region has a channel and an on-call person. UAUTHOR1 is an approver too, so that only
 * the author rule can refuse them. */
static void env_start(env *e, int mode)
{
    char *text = NULL, *key_path, peers[1400] = "", region_extra[128] = "";
    int port;

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    make_repo(e);
    port = ts_free_port();
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    if (mode == WITH_PEERS) {
        e->log = calloc(1, sizeof(*e->log));
        ck_assert_ptr_nonnull(e->log);
        e->peer = ts_peer_start(play_peers, e->log);
        key_path = ts_write_file(e->dir, "app.pem", ts_rsa_key_pem());
        snprintf(peers, sizeof(peers),
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\", \"app_id\": 4242,\n"
                 "   \"private_key_file\": \"%s\", \"api_url\": \"%s/gh\",\n"
                 "   \"allow_local_repos\": true},\n"
                 " \"slack\": {\"signing_secret_env\": \"ZT_SLACK_SECRET\",\n"
                 "   \"bot_token_env\": \"ZT_SLACK_TOKEN\", \"api_url\": \"%s/slack\"},\n"
                 " \"api\": {\"tokens_env\": \"ZT_API_TOKENS\"},\n"
                 " \"runners\": {\"tokens_env\": \"ZT_RUNNER_TOKENS\"},\n",
                 key_path, ts_peer_base(e->peer), ts_peer_base(e->peer));
        free(key_path);
        snprintf(region_extra, sizeof(region_extra),
                 ", \"slack_channel\": \"CALWAYS\", \"oncall\": [\"" ONCALL "\"]");
        snprintf(e->respond_url, sizeof(e->respond_url), "%s/respond/T1/1/abc",
                 ts_peer_base(e->peer));
    } else {
        snprintf(e->respond_url, sizeof(e->respond_url), "http://127.0.0.1:1/respond/T1/1/abc");
        snprintf(peers, sizeof(peers),
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\",\n"
                 "   \"allow_local_repos\": true},\n%s",
                 mode == WITH_API ? " \"slack\": {\"signing_secret_env\": \"ZT_SLACK_SECRET\", "
                                    "\"api_url\": \"http://127.0.0.1:1\"},\n"
                                    " \"api\": {\"tokens_env\": \"ZT_API_TOKENS\"},\n"
                                  : "");
    }
    ck_assert(asprintf(&text,
                       "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 4,\n"
                       "   \"public_url\": \"https://zoneci.example\"},\n"
                       " \"redis\": {\"url\": \"%s\", \"prefix\": \"apv\"},\n"
                       " \"cache_dir\": \"%s/cache\",\n"
                       "%s"
                       " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                       "   \"hours\": [\"Mon-Sun 00:00-24:00\"]%s}],\n"
                       " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"],\n"
                       "   \"migrations\": {\"paths\": [\"db/**/*.sql\"], \"approval\": "
                       "\"risky\", \"approvers\": [\"" APPROVER "\", \"" AUTHOR "\", \"" ONCALL
                       "\"]}}],\n"
                       " \"people\": [{\"github\": \"octocat\", \"slack\": \"" AUTHOR "\",\n"
                       "               \"operator\": \"octo-ops\"},\n"
                       "   {\"github\": \"dba\", \"slack\": \"" ONCALL "\", "
                       "\"operator\": \"dba-lead\"}]}\n",
                       port, e->redis->url, e->dir, peers, region_extra) > 0);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    serve_start(e);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_peer_stop(e->peer);
    if (e->log) {
        core_buf_free(&e->log->cards);
        core_buf_free(&e->log->statuses);
        core_buf_free(&e->log->ephemeral);
        free(e->log);
    }
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
    free(e->config);
    free(e->main_sha);
    free(e->risky_sha);
}

static json_t *get_job(env *e, const char *id)
{
    return ts_job_get(e->base, id, API_TOKEN);
}

static const char *state_of(env *e, const char *id, char out[32])
{
    json_t *j = get_job(e, id);

    snprintf(out, 32, "%s", json_string_value(json_object_get(j, "state")));
    json_decref(j);
    return out;
}

/* Posts PR `number` (risky head, author octocat) and waits until its job awaits approval. */
static void risky_job(env *e, int number, char id[32])
{
    char *body = NULL, *resp = NULL, delivery[32], url[700];
    json_t *j;

    snprintf(url, sizeof(url), "file://%s", e->repo);
    ck_assert(asprintf(&body,
                       "{\"action\":\"opened\",\"number\":%d,\"pull_request\":{\"number\":%d,"
                       "\"title\":\"t\",\"user\":{\"login\":\"octocat\"},"
                       "\"head\":{\"sha\":\"%s\",\"ref\":\"f\"},\"base\":{\"sha\":\"%s\","
                       "\"ref\":\"main\"}},\"repository\":{\"full_name\":\"acme/app\","
                       "\"clone_url\":\"%s\"},\"installation\":{\"id\":42}}",
                       number, number, e->risky_sha, e->main_sha, url) > 0);
    snprintf(delivery, sizeof(delivery), "apv-%d", number);
    ck_assert_int_eq(
        ts_post_github(e->base, "pull_request", delivery, body, strlen(body), GH_SECRET, &resp),
        202);
    j = json_loads(resp, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    free(body);
    free(resp);
    ck_assert_msg(ts_job_wait_state(e->base, id, API_TOKEN, "awaiting_approval", 30000),
                  "job %s never awaited approval", id);
}

/* How many history entries are human decisions ("approved by ..." / "rejected by ...",
 * or "... in Slack" for a Slack user who has no GitHub login in `people`). */
static int decisions(env *e, const char *id)
{
    json_t *j = get_job(e, id), *h;
    size_t i;
    int n = 0;

    json_array_foreach(json_object_get(j, "history"), i, h)
    {
        const char *reason = json_string_value(json_object_get(h, "reason"));

        if (reason && (strstr(reason, "approved by") || strstr(reason, "rejected by") ||
                       strstr(reason, "approved in Slack") || strstr(reason, "rejected in Slack")))
            n++;
    }
    json_decref(j);
    return n;
}

static char *hget(env *e, const char *id, const char *field)
{
    char args[128];

    snprintf(args, sizeof(args), "HGET '{apv}:job:%s' %s", id, field);
    return ts_redis_cli(e->redis, args);
}

/* "payload=" and the URL-encoded block_actions JSON, with response_url. */
static char *slack_form_url(const char *user, const char *action, const char *job,
                            const char *response_url)
{
    char *json = NULL, *form;
    size_t o = 0;

    ck_assert(asprintf(&json,
                       "{\"type\":\"block_actions\",\"user\":{\"id\":\"%s\",\"username\":\"x\"},"
                       "\"actions\":[{\"action_id\":\"%s\",\"value\":\"%s\",\"type\":\"button\"}]"
                       ",\"response_url\":\"%s\"}",
                       user, action, job, response_url) > 0);
    form = malloc(strlen(json) * 3 + 16);
    o = (size_t)sprintf(form, "payload=");
    for (const char *p = json; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-' || *p == '.')
            form[o++] = *p;
        else if (*p == ' ')
            form[o++] = '+';
        else
            o += (size_t)sprintf(form + o, "%%%02X", (unsigned char)*p);
    }
    form[o] = '\0';
    free(json);
    return form;
}

static char *slack_form(const env *e, const char *user, const char *action, const char *job)
{
    return slack_form_url(user, action, job, e->respond_url);
}

/* POSTs a Slack click signed with secret at now + skew_s; returns the status, body in out
 * (malloc'd) when not NULL. */
static long slack_post_raw(const char *base, const char *form, const char *secret, long skew_s,
                           char **out)
{
    char url[128], ts[32], sig[80], h_ts[96], h_sig[120];
    const char *headers[] = {h_ts, h_sig, "Content-Type: application/x-www-form-urlencoded", NULL};
    ts_response r;
    long status;

    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) + skew_s);
    ts_slack_signature(secret, ts, form, strlen(form), sig);
    snprintf(h_ts, sizeof(h_ts), "X-Slack-Request-Timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "X-Slack-Signature: %s", sig);
    snprintf(url, sizeof(url), "%s/webhooks/slack/interactions", base);
    ck_assert_int_eq(ts_http("POST", url, headers, form, strlen(form), &r), 0);
    status = r.status;
    if (out)
        *out = strdup(r.body ? r.body : "");
    ts_response_free(&r);
    return status;
}

/* What job's card buttons carry: "ID:CARD_KEY", or the bare id of a job without a key. */
static void card_value(env *e, const char *job, char out[128])
{
    char *key = hget(e, job, "card_key");

    snprintf(out, 128, "%s%s%s", job, key && *key ? ":" : "", key ? key : "");
    free(key);
}

/* A click with exactly value as the button's value. */
static long slack_click_value(env *e, const char *user, const char *action, const char *value,
                              char **out)
{
    char *form = slack_form(e, user, action, value);
    long status = slack_post_raw(e->base, form, SLACK_SECRET, 0, out);

    free(form);
    return status;
}

/* A click on job's card as it is now (its card key looked up). */
static long slack_click(env *e, const char *user, const char *action, const char *job, char **out)
{
    char value[128];

    card_value(e, job, value);
    return slack_click_value(e, user, action, value, out);
}

/* Checks an ephemeral answer and that its text holds want. */
static void assert_ephemeral(const char *body, const char *want)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *text;

    ck_assert_msg(j != NULL, "not JSON: %s", body);
    ck_assert_str_eq(json_string_value(json_object_get(j, "response_type")), "ephemeral");
    text = json_string_value(json_object_get(j, "text"));
    ck_assert_msg(text && strstr(text, want), "\"%s\" not in: %s", want, body);
    json_decref(j);
}

static long api_decide(env *e, const char *id, const char *verb, const char *token,
                       const char *body, char **out)
{
    char url[160], auth[128];
    const char *headers[] = {auth, NULL};
    ts_response r;
    long status;

    snprintf(url, sizeof(url), "%s/api/v1/jobs/%s/%s", e->base, id, verb);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    ck_assert_int_eq(
        ts_http("POST", url, token ? headers : NULL, body, body ? strlen(body) : 0, &r), 0);
    status = r.status;
    if (out)
        *out = strdup(r.body ? r.body : "");
    ts_response_free(&r);
    return status;
}

START_TEST(slack_approve_once_then_nothing_changes)
{
    env e;
    char id[32], id2[32], st[32], *body = NULL, *v;

    env_start(&e, WITH_API);
    risky_job(&e, 1, id);
    risky_job(&e, 2, id2);

    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id, &body), 200);
    assert_ephemeral(body, "approved");
    free(body);
    ck_assert_msg(ts_job_wait_state(e.base, id, API_TOKEN, "queued", 15000),
                  "approved job never queued");
    v = hget(&e, id, "decided_by");
    ck_assert_str_eq(v, APPROVER);
    free(v);
    v = hget(&e, id, "decision");
    ck_assert_str_eq(v, "approved");
    free(v);
    v = hget(&e, id, "decided_at");
    ck_assert_int_gt(strlen(v), 10);
    free(v);
    {
        json_t *j = get_job(&e, id), *h;
        size_t i;
        bool found = false;

        json_array_foreach(json_object_get(j, "history"), i, h)
        {
            /* APPROVER has no GitHub login in `people`: the reason (a commit status on
             * GitHub) says where, the actor (operators' history) says who. */
            if (strcmp(json_string_value(json_object_get(h, "reason")), "approved in Slack") == 0) {
                ck_assert_str_eq(json_string_value(json_object_get(h, "actor")), APPROVER);
                found = true;
            }
        }
        ck_assert(found);
        /* decided_at (epoch ms in the hash) in the API's one time form. */
        {
            const char *at = json_string_value(json_object_get(j, "decided_at"));
            int64_t t;

            ck_assert_msg(at && strlen(at) == 24 && at[19] == '.' && at[23] == 'Z' &&
                              core_time_parse_iso(at, &t, NULL) == 0,
                          "decided_at: %s", at ? at : "null");
        }
        json_decref(j);
    }

    /* A second click, either button, changes nothing. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id, &body), 200);
    assert_ephemeral(body, "already decided");
    free(body);
    ck_assert_int_eq(slack_click(&e, AUTHOR "X", "zoneci_reject", id, NULL), 200);
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_reject", id, &body), 200);
    assert_ephemeral(body, "already decided");
    free(body);
    ck_assert_str_eq(state_of(&e, id, st), "queued");
    ck_assert_int_eq(decisions(&e, id), 1);

    /* Reject ends the other job. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_reject", id2, &body), 200);
    assert_ephemeral(body, "rejected");
    free(body);
    ck_assert_str_eq(state_of(&e, id2, st), "rejected");
    {
        json_t *j = get_job(&e, id2);

        ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "rejected in Slack");
        json_decref(j);
    }
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id2, &body), 200);
    assert_ephemeral(body, "already decided");
    free(body);
    ck_assert_str_eq(state_of(&e, id2, st), "rejected");
    ck_assert_int_eq(decisions(&e, id2), 1);
    env_stop(&e);
}
END_TEST

START_TEST(slack_refusals_record_nothing)
{
    env e;
    char id[32], st[32], *body = NULL, *form, *v;

    env_start(&e, WITH_API);
    risky_job(&e, 3, id);

    /* Not an approver; the PR's author (an approver too). */
    ck_assert_int_eq(slack_click(&e, OTHER, "zoneci_approve", id, &body), 200);
    assert_ephemeral(body, "not an approver");
    free(body);
    ck_assert_int_eq(slack_click(&e, AUTHOR, "zoneci_approve", id, &body), 200);
    assert_ephemeral(body, "you opened this pull request");
    free(body);
    ck_assert_int_eq(slack_click(&e, AUTHOR, "zoneci_reject", id, &body), 200);
    assert_ephemeral(body, "you opened this pull request");
    free(body);

    /* Bad signature, a stale or future timestamp: 401 before anything is read. */
    form = slack_form(&e, APPROVER, "zoneci_approve", id);
    ck_assert_int_eq(slack_post_raw(e.base, form, "wrong-secret", 0, NULL), 401);
    ck_assert_int_eq(slack_post_raw(e.base, form, SLACK_SECRET, -600, NULL), 401);
    ck_assert_int_eq(slack_post_raw(e.base, form, SLACK_SECRET, 600, NULL), 401);
    free(form);
    /* Malformed: no payload, payload not JSON, unknown action, no user. */
    ck_assert_int_eq(slack_post_raw(e.base, "nothing=1", SLACK_SECRET, 0, NULL), 400);
    ck_assert_int_eq(slack_post_raw(e.base, "payload=%7Bnope", SLACK_SECRET, 0, NULL), 400);
    form = slack_form(&e, APPROVER, "zoneci_maybe", id);
    ck_assert_int_eq(slack_post_raw(e.base, form, SLACK_SECRET, 0, NULL), 400);
    free(form);
    form = slack_form(&e, "", "zoneci_approve", id);
    ck_assert_int_eq(slack_post_raw(e.base, form, SLACK_SECRET, 0, NULL), 400);
    free(form);
    /* An unknown job is a refusal, not an error. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", "99999", &body), 200);
    assert_ephemeral(body, "does not exist");
    free(body);

    ck_assert_str_eq(state_of(&e, id, st), "awaiting_approval");
    ck_assert_int_eq(decisions(&e, id), 0);
    v = hget(&e, id, "decision");
    ck_assert_str_eq(v, "");
    free(v);
    v = ts_redis_cli(e.redis, "SCARD '{apv}:routing'");
    ck_assert_str_eq(v, "0");
    free(v);

    /* The approver still can. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id, NULL), 200);
    ck_assert_int_eq(decisions(&e, id), 1);
    env_stop(&e);
}
END_TEST

/* Job ids restart at 1 when Redis is wiped: a card still in the channel from before must
 * not decide the new job that got its id. */
START_TEST(card_of_a_wiped_job_decides_nothing)
{
    env e;
    char id[32], id2[32], id3[32], old_value[128], st[32], *body = NULL, *v;

    env_start(&e, WITH_API);
    risky_job(&e, 20, id);
    card_value(&e, id, old_value);
    ck_assert_msg(strchr(old_value, ':') != NULL, "job %s has no card key", id);

    v = ts_redis_cli(e.redis, "FLUSHALL");
    free(v);
    risky_job(&e, 21, id2);
    ck_assert_str_eq(id2, id); /* the same id, another job */

    /* The old card's buttons, a bare id (a card from before card keys) and a made-up key
     * are all out of date, for either button, and change nothing. */
    ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_approve", old_value, &body), 200);
    assert_ephemeral(body, "out of date");
    free(body);
    ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_reject", old_value, &body), 200);
    assert_ephemeral(body, "out of date");
    free(body);
    ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_approve", id2, &body), 200);
    assert_ephemeral(body, "out of date");
    free(body);
    {
        char forged[128];

        snprintf(forged, sizeof(forged), "%s:0123456789abcdef", id2);
        ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_approve", forged, &body), 200);
        assert_ephemeral(body, "out of date");
        free(body);
    }
    ck_assert_str_eq(state_of(&e, id2, st), "awaiting_approval");
    ck_assert_int_eq(decisions(&e, id2), 0);
    v = hget(&e, id2, "decision");
    ck_assert_str_eq(v, "");
    free(v);
    v = ts_redis_cli(e.redis, "SCARD '{apv}:routing'");
    ck_assert_str_eq(v, "0");
    free(v);

    /* The new card decides. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id2, &body), 200);
    assert_ephemeral(body, "approved");
    free(body);
    ck_assert_int_eq(decisions(&e, id2), 1);

    /* A job from before card keys (none stored) is decided by its card's bare id only. */
    risky_job(&e, 22, id3);
    {
        char keyed[128], args[96];

        snprintf(args, sizeof(args), "HDEL '{apv}:job:%s' card_key", id3);
        v = ts_redis_cli(e.redis, args);
        free(v);

        snprintf(keyed, sizeof(keyed), "%s:0123456789abcdef", id3);
        ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_reject", keyed, &body), 200);
        assert_ephemeral(body, "out of date");
        free(body);
    }
    ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_reject", id3, &body), 200);
    assert_ephemeral(body, "rejected");
    free(body);
    ck_assert_str_eq(state_of(&e, id3, st), "rejected");
    env_stop(&e);
}
END_TEST

START_TEST(operator_api_decides_with_a_token)
{
    env e;
    char id[32], id2[32], st[32], *body = NULL;
    json_t *j;

    env_start(&e, WITH_API);
    risky_job(&e, 4, id);
    risky_job(&e, 5, id2);

    ck_assert_int_eq(api_decide(&e, id, "approve", NULL, NULL, NULL), 401);
    ck_assert_int_eq(api_decide(&e, id, "approve", "wrong", NULL, NULL), 401);
    ck_assert_int_eq(api_decide(&e, id, "approve", API_TOKEN, "{\"reason\":", NULL), 400);
    ck_assert_int_eq(decisions(&e, id), 0);
    ck_assert_int_eq(api_decide(&e, id, "approve", API_TOKEN, "{\"reason\":\"looks fine\"}", &body),
                     200);
    j = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "awaiting_approval");
    ck_assert_str_eq(json_string_value(json_object_get(j, "decision")), "approved");
    json_decref(j);
    free(body);
    ck_assert_msg(ts_job_wait_state(e.base, id, API_TOKEN, "queued", 15000),
                  "approved job never queued");
    ck_assert_int_eq(api_decide(&e, id, "approve", API_TOKEN, NULL, NULL), 409);
    ck_assert_int_eq(api_decide(&e, id, "reject", API_TOKEN, NULL, &body), 409);
    ck_assert_ptr_nonnull(strstr(body, "already approved by operator"));
    free(body);
    ck_assert_int_eq(decisions(&e, id), 1);

    ck_assert_int_eq(api_decide(&e, id2, "reject", API_TOKEN, NULL, &body), 200);
    j = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "rejected");
    json_decref(j);
    free(body);
    ck_assert_str_eq(state_of(&e, id2, st), "rejected");
    ck_assert_int_eq(api_decide(&e, id2, "approve", API_TOKEN, NULL, NULL), 409);

    ck_assert_int_eq(api_decide(&e, "99999", "approve", API_TOKEN, NULL, NULL), 404);
    ck_assert_int_eq(api_decide(&e, "abc", "reject", API_TOKEN, NULL, NULL), 404);
    env_stop(&e);
}
END_TEST

/* The entry of job id's history whose reason is reason, or NULL (json_decref j). */
static json_t *history_entry(env *e, const char *id, const char *reason, json_t **j)
{
    json_t *h;
    size_t i;

    *j = get_job(e, id);
    json_array_foreach(json_object_get(*j, "history"), i, h)
    {
        const char *r = json_string_value(json_object_get(h, "reason"));

        if (r && strcmp(r, reason) == 0)
            return h;
    }
    return NULL;
}

/* Named tokens: the decision, the history and the audit stream say who (never the
 * token); an operator whom `people` maps to the author may reject, not approve; and the
 * first decision wins between the API and a Slack click, either way round. */
START_TEST(named_operators_follow_slack_rules)
{
    env e;
    char id[32], id2[32], id3[32], id4[32], *body = NULL, *v;
    json_t *j, *h;

    env_start(&e, WITH_API);
    risky_job(&e, 11, id);
    risky_job(&e, 12, id2);

    /* octocat opened the PR: octo-ops may not approve it, and nothing is recorded. */
    ck_assert_int_eq(api_decide(&e, id, "approve", OCTO_TOKEN, NULL, &body), 403);
    ck_assert_msg(strstr(body, "opened this pull request") && strstr(body, "octo-ops"), "%s", body);
    ck_assert_ptr_null(strstr(body, OCTO_TOKEN));
    free(body);
    ck_assert_int_eq(decisions(&e, id), 0);
    v = hget(&e, id, "decision");
    ck_assert_str_eq(v, "");
    free(v);

    ck_assert_int_eq(api_decide(&e, id, "approve", DBA_TOKEN, "{\"reason\":\"reviewed\"}", NULL),
                     200);
    v = hget(&e, id, "decided_by");
    ck_assert_str_eq(v, "dba-lead");
    free(v);
    h = history_entry(&e, id, "approved by dba-lead (API): reviewed", &j);
    ck_assert_msg(h != NULL, "no history entry for dba-lead's approval");
    ck_assert_str_eq(json_string_value(json_object_get(h, "actor")), "dba-lead");
    json_decref(j);
    /* A decided job answers 409 and names the decider, whoever asks. */
    ck_assert_int_eq(api_decide(&e, id, "reject", OCTO_TOKEN, NULL, &body), 409);
    ck_assert_ptr_nonnull(strstr(body, "already approved by dba-lead"));
    free(body);

    /* Rejecting one's own PR is allowed. */
    ck_assert_int_eq(api_decide(&e, id2, "reject", OCTO_TOKEN, NULL, NULL), 200);
    h = history_entry(&e, id2, "rejected by octo-ops (API)", &j);
    ck_assert_msg(h != NULL, "no history entry for octo-ops's rejection");
    json_decref(j);

    v = ts_redis_cli(e.redis, "XRANGE '{apv}:audit' - +");
    ck_assert_ptr_nonnull(strstr(v, "approved by dba-lead (API): reviewed"));
    ck_assert_ptr_nonnull(strstr(v, "rejected by octo-ops (API)"));
    ck_assert_ptr_null(strstr(v, DBA_TOKEN));
    ck_assert_ptr_null(strstr(v, OCTO_TOKEN));
    free(v);

    /* First decision wins: a click after the API, the API after a click. */
    risky_job(&e, 13, id3);
    risky_job(&e, 14, id4);
    ck_assert_int_eq(api_decide(&e, id3, "reject", DBA_TOKEN, NULL, NULL), 200);
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id3, &body), 200);
    assert_ephemeral(body, "already rejected by dba-lead");
    free(body);
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id4, NULL), 200);
    ck_assert_int_eq(api_decide(&e, id4, "reject", DBA_TOKEN, NULL, &body), 409);
    ck_assert_ptr_nonnull(strstr(body, "already approved by " APPROVER));
    free(body);
    ck_assert_int_eq(decisions(&e, id3), 1);
    ck_assert_int_eq(decisions(&e, id4), 1);
    env_stop(&e);
}
END_TEST

START_TEST(no_tokens_no_slack_no_decisions)
{
    env e;
    char id[32], st[32], *body = NULL;
    const char *headers[] = {NULL};
    char url[160];
    ts_response r;

    env_start(&e, PLAIN);
    risky_job(&e, 6, id);
    /* The read API is open without tokens; deciding never is. */
    snprintf(url, sizeof(url), "%s/api/v1/jobs/%s", e.base, id);
    ck_assert_int_eq(ts_http("GET", url, headers, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    ck_assert_int_eq(api_decide(&e, id, "approve", NULL, NULL, NULL), 401);
    ck_assert_int_eq(api_decide(&e, id, "reject", API_TOKEN, NULL, &body), 401);
    ck_assert_ptr_nonnull(strstr(body, "none is configured"));
    free(body);
    /* Without `slack` the interactions endpoint is off, and says so. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id, &body), 404);
    ck_assert_ptr_nonnull(strstr(body, "no slack signing secret"));
    free(body);
    ck_assert_str_eq(state_of(&e, id, st), "awaiting_approval");
    ck_assert_int_eq(decisions(&e, id), 0);
    /* Without Slack no card is sent, and the job says how to decide instead. */
    {
        json_t *j = get_job(&e, id);
        const char *reason = json_string_value(json_object_get(j, "reason"));

        ck_assert_msg(strstr(reason, "no slack card (no slack is configured): approve through "
                                     "the API"),
                      "%s", reason);
        ck_assert_str_eq(json_string_value(json_object_get(j, "approval_region")), "always");
        json_decref(j);
    }
    env_stop(&e);
}
END_TEST

typedef struct racer {
    env *e;
    const char *id;
    int kind;        /* 0 slack approve, 1 slack reject, 2 api approve, 3 api reject */
    char value[128]; /* the card's button value, looked up before the race */
    pthread_barrier_t *go;
    long status;
    char *body;
} racer;

static void *race(void *arg)
{
    racer *r = arg;

    pthread_barrier_wait(r->go);
    if (r->kind < 2)
        /* Two approvers click at the same instant, one approving, one rejecting. */
        r->status = r->kind == 0
                        ? slack_click_value(r->e, APPROVER, "zoneci_approve", r->value, &r->body)
                        : slack_click_value(r->e, ONCALL, "zoneci_reject", r->value, &r->body);
    else
        r->status =
            api_decide(r->e, r->id, r->kind == 2 ? "approve" : "reject", API_TOKEN, NULL, &r->body);
    return NULL;
}

START_TEST(concurrent_decisions_record_one)
{
    enum { N = 6 };
    env e;
    char id[32], *v;
    pthread_t t[N];
    pthread_barrier_t go;
    racer r[N];
    int won = 0;

    env_start(&e, WITH_API);
    risky_job(&e, 7, id);
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){&e, id, i % 4, "", &go, 0, NULL};
        card_value(&e, id, r[i].value);
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < N; i++) {
        bool slack = r[i].kind < 2;

        if (slack) {
            ck_assert_int_eq(r[i].status, 200);
            won += strstr(r[i].body, "already decided") == NULL;
        } else {
            ck_assert_msg(r[i].status == 200 || r[i].status == 409, "status %ld", r[i].status);
            won += r[i].status == 200;
        }
        free(r[i].body);
    }
    ck_assert_int_eq(won, 1);
    ck_assert_int_eq(decisions(&e, id), 1);
    v = ts_redis_cli(e.redis, "XLEN '{apv}:audit'");
    ck_assert_int_gt(atoi(v), 0);
    free(v);
    env_stop(&e);
}
END_TEST

/* ---- with Slack and GitHub played by a local peer ---------------------------------- */

typedef struct log_wait {
    env *e;
    int posts, failed_posts, updates;
    const char *status; /* a status line part to wait for, or NULL */
} log_wait;

static bool log_reached(void *ctx)
{
    log_wait *w = ctx;
    peer_log *l = w->e->log;
    bool ok;

    ts_peer_lock(w->e->peer);
    ok = l->posts >= w->posts && l->failed_posts >= w->failed_posts && l->updates >= w->updates &&
         (!w->status || (l->statuses.data && strstr(l->statuses.data, w->status)));
    ts_peer_unlock(w->e->peer);
    return ok;
}

static void wait_log_ms(env *e, int posts, int failed_posts, int updates, const char *status,
                        int timeout_ms)
{
    log_wait w = {e, posts, failed_posts, updates, status};

    ck_assert_msg(ts_wait_until(log_reached, &w, timeout_ms),
                  "peer never saw posts>=%d failed>=%d updates>=%d status \"%s\"; it saw %d %d "
                  "%d and statuses:\n%s",
                  posts, failed_posts, updates, status ? status : "", e->log->posts,
                  e->log->failed_posts, e->log->updates,
                  e->log->statuses.data ? e->log->statuses.data : "");
}

static void wait_log(env *e, int posts, int failed_posts, int updates, const char *status)
{
    wait_log_ms(e, posts, failed_posts, updates, status, 20000);
}

/* A runner's claim and report through the runner API. */
static void run_job(env *e, const char *id, bool success)
{
    const char *headers[] = {"Authorization: Bearer " RUNNER_TOKEN,
                             "Content-Type: application/json", NULL};
    char url[160], body[256];
    ts_response r;
    json_t *j;

    snprintf(url, sizeof(url), "%s/api/v1/runners/claim", e->base);
    snprintf(body, sizeof(body),
             "{\"runner\":\"r1\",\"region\":\"always\",\"labels\":[],\"wait_seconds\":5}");
    ck_assert_int_eq(ts_http("POST", url, headers, body, strlen(body), &r), 0);
    ck_assert_msg(r.status == 200, "claim: %ld %s", r.status, r.body);
    j = json_loads(r.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "job"), "id")), id);
    snprintf(body, sizeof(body), "{\"lease_id\":\"%s\",\"status\":\"%s\"}",
             json_string_value(json_object_get(j, "lease_id")), success ? "success" : "failure");
    json_decref(j);
    ts_response_free(&r);
    snprintf(url, sizeof(url), "%s/api/v1/jobs/%s/complete", e->base, id);
    ck_assert_int_eq(ts_http("POST", url, headers, body, strlen(body), &r), 0);
    ck_assert_msg(r.status == 200, "complete: %ld %s", r.status, r.body);
    ts_response_free(&r);
}

/* The descriptions of the statuses sent, in order, each line "state: description". */
static char *status_story(env *e)
{
    core_buf out = {0};
    char *copy, *save = NULL;

    ts_peer_lock(e->peer);
    copy = strdup(e->log->statuses.data ? e->log->statuses.data : "");
    ts_peer_unlock(e->peer);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *desc = strchr(line, '|'), *auth = desc ? strchr(desc + 1, '|') : NULL;

        ck_assert_msg(auth, "bad status line %s", line);
        *desc++ = '\0';
        *auth++ = '\0';
        /* Every status call carries the installation token, never the JWT. */
        ck_assert_str_eq(auth, "token ghs_e2e");
        core_buf_printf(&out, "%s: %s\n", line, desc);
    }
    free(copy);
    return out.data ? out.data : strdup("");
}

/* Each of want appears in story, in this order. */
static void assert_in_order(const char *story, const char *const *want, size_t n)
{
    const char *at = story;

    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(at, want[i]);

        ck_assert_msg(hit, "\"%s\" missing (or out of order) in:\n%s", want[i], story);
        at = hit + strlen(want[i]);
    }
}

START_TEST(card_click_release_and_statuses)
{
    static const char *const story_want[] = {
        "pending: Awaiting approval in always (on call: @dba)",
        "pending: Approved by @dba",
        "pending: Queued in always",
        "pending: Running on r1 in always",
        "success: Succeeded on r1",
    };
    env e;
    char id[32], value[128], needle[160], *body = NULL, *form, *story;

    env_start(&e, WITH_PEERS);
    ts_peer_lock(e.peer);
    e.log->slack_fail = 2; /* Slack is down at first */
    ts_peer_unlock(e.peer);
    risky_job(&e, 11, id);

    /* The card arrives once, after two failures, in the region's channel. */
    wait_log(&e, 1, 2, 0, "Awaiting approval");
    ts_peer_lock(e.peer);
    ck_assert_int_eq(e.log->posts, 1);
    ck_assert_ptr_nonnull(strstr(e.log->cards.data, "\"channel\":\"CALWAYS\""));
    ck_assert_ptr_nonnull(strstr(e.log->cards.data, "<@" ONCALL ">"));
    ck_assert_ptr_nonnull(strstr(e.log->cards.data, "db/002_drop_email.sql"));
    ck_assert_ptr_nonnull(strstr(e.log->cards.data, "acme/app"));
    ck_assert_ptr_nonnull(strstr(e.log->cards.data, "zoneci_approve"));
    /* The buttons carry the job id and its card key. */
    card_value(&e, id, value);
    ck_assert_int_eq(strlen(value), strlen(id) + 1 + 16);
    snprintf(needle, sizeof(needle), "\"value\":\"%s\"", value);
    ck_assert_ptr_nonnull(strstr(e.log->cards.data, needle));
    /* The App's JWT: three base64url parts, sent only to the token endpoint. */
    ck_assert_int_ge(e.log->token_requests, 1);
    ck_assert_msg(strncmp(e.log->jwt, "Bearer ey", 9) == 0 &&
                      strchr(strchr(e.log->jwt, '.') + 1, '.'),
                  "%s", e.log->jwt);
    ts_peer_unlock(e.peer);

    /* A forged click and a non-approver's change nothing, and update no card. */
    form = slack_form(&e, ONCALL, "zoneci_approve", id);
    ck_assert_int_eq(slack_post_raw(e.base, form, "forged-secret", 0, NULL), 401);
    free(form);
    ck_assert_int_eq(slack_click(&e, OTHER, "zoneci_approve", id, &body), 200);
    assert_ephemeral(body, "not an approver");
    free(body);
    ck_assert_int_eq(decisions(&e, id), 0);

    /* The on-call approver's click releases the build and updates the card. */
    ck_assert_int_eq(slack_click(&e, ONCALL, "zoneci_approve", id, &body), 200);
    assert_ephemeral(body, "approved");
    free(body);
    wait_log(&e, 1, 2, 1, NULL);
    ts_peer_lock(e.peer);
    ck_assert_ptr_nonnull(
        strstr(strrchr(e.log->cards.data, '\n') ? e.log->cards.data : "", "Approved"));
    ck_assert_int_eq(e.log->posts, 1);
    ts_peer_unlock(e.peer);
    ck_assert_msg(ts_job_wait_state(e.base, id, API_TOKEN, "queued", 15000),
                  "approved job never queued");
    run_job(&e, id, true);
    wait_log(&e, 1, 2, 1, "success|");
    story = status_story(&e);
    assert_in_order(story, story_want, sizeof(story_want) / sizeof(story_want[0]));
    /* The last word is success. */
    ck_assert_msg(strstr(story, "success: Succeeded on r1\n") ==
                      story + strlen(story) - strlen("success: Succeeded on r1\n"),
                  "%s", story);
    free(story);
    env_stop(&e);
}
END_TEST

START_TEST(pending_card_survives_a_restart_and_goes_once)
{
    env e;
    char id[32], key[96], *v;
    int posts;

    env_start(&e, WITH_PEERS);
    ts_peer_lock(e.peer);
    e.log->slack_down = true;
    ts_peer_unlock(e.peer);
    risky_job(&e, 12, id);
    wait_log(&e, 0, 1, 0, NULL);
    /* zoneci dies with the card undelivered; Slack comes back; a new zoneci delivers. */
    ts_proc_signal_wait(e.srv, SIGKILL);
    ts_proc_free(e.srv);
    ts_peer_lock(e.peer);
    e.log->slack_down = false;
    ts_peer_unlock(e.peer);
    serve_start(&e);
    /* Killed mid-delivery, the card stays leased to the dead process until its lease
     * (60 s) runs out: that is how a crashed worker's message comes back. */
    wait_log_ms(&e, 1, 1, 0, NULL, 75000);
    /* Nothing of the card's order is left to send: it went exactly once. */
    snprintf(key, sizeof(key), "LLEN '{apv}:outbox:order:card:%s'", id);
    v = ts_redis_cli(e.redis, key);
    ck_assert_str_eq(v, "0");
    free(v);
    v = hget(&e, id, "card:0:ts");
    ck_assert_str_eq(v, "1712345678.000001");
    free(v);
    ts_peer_lock(e.peer);
    posts = e.log->posts;
    ts_peer_unlock(e.peer);
    ck_assert_int_eq(posts, 1);
    env_stop(&e);
}
END_TEST

/* ---- what a clicker reads, through the click's response_url ------------------------- */

typedef struct resp_wait {
    env *e;
    int n;
} resp_wait;

static bool responses_reached(void *ctx)
{
    resp_wait *w = ctx;
    bool ok;

    ts_peer_lock(w->e->peer);
    ok = w->e->log->responses >= w->n;
    ts_peer_unlock(w->e->peer);
    return ok;
}

static void wait_responses(env *e, int n)
{
    resp_wait w = {e, n};

    ck_assert_msg(ts_wait_until(responses_reached, &w, 20000),
                  "the peer never got %d ephemeral answers; it got %d:\n%s", n, e->log->responses,
                  e->log->ephemeral.data ? e->log->ephemeral.data : "");
}

/* Ephemeral answer number i (1-based) as Slack would take it; returns its text (static). */
static const char *ephemeral_text(env *e, int i)
{
    static char text[512];
    char *copy, *save = NULL, *line;
    json_t *j;

    ts_peer_lock(e->peer);
    copy = strdup(e->log->ephemeral.data ? e->log->ephemeral.data : "");
    ck_assert_str_eq(e->log->respond_auth, ""); /* the URL is the credential */
    ts_peer_unlock(e->peer);
    line = strtok_r(copy, "\n", &save);
    for (int k = 1; line && k < i; k++)
        line = strtok_r(NULL, "\n", &save);
    ck_assert_msg(line, "no ephemeral answer %d", i);
    j = json_loads(line, 0, NULL);
    ck_assert_msg(j, "not JSON: %s", line);
    ck_assert_str_eq(json_string_value(json_object_get(j, "response_type")), "ephemeral");
    ck_assert(json_is_false(json_object_get(j, "replace_original")));
    snprintf(text, sizeof(text), "%s", json_string_value(json_object_get(j, "text")));
    json_decref(j);
    free(copy);
    return text;
}

typedef struct log_has {
    const char *path, *needle;
} log_has;

static bool log_contains(void *ctx)
{
    log_has *h = ctx;
    char *text = ts_read_file(h->path, NULL);
    bool ok = text && strstr(text, h->needle);

    free(text);
    return ok;
}

/* Slack shows nothing of a click's HTTP answer: the refused clicker, the author and the
 * late clicker read why in an ephemeral message posted to the click's response_url; the
 * decider gets none (the card's update says it). A response_url on another host is never
 * contacted. */
START_TEST(refusals_reach_the_clicker_through_response_url)
{
    env e;
    char id[32], value[128], other_url[160], *body = NULL, *form;
    peer_log *olog = calloc(1, sizeof(*olog));
    ts_peer *other;
    const char *text;

    ck_assert_ptr_nonnull(olog);
    env_start(&e, WITH_PEERS);
    risky_job(&e, 31, id);
    wait_log(&e, 1, 0, 0, "Awaiting approval");

    ck_assert_int_eq(slack_click(&e, OTHER, "zoneci_approve", id, NULL), 200);
    wait_responses(&e, 1);
    text = ephemeral_text(&e, 1);
    ck_assert_msg(strstr(text, "not an approver") && strstr(text, id), "%s", text);
    ck_assert_int_eq(slack_click(&e, AUTHOR, "zoneci_approve", id, NULL), 200);
    wait_responses(&e, 2);
    text = ephemeral_text(&e, 2);
    ck_assert_msg(strstr(text, "you opened this pull request"), "%s", text);

    /* The decision: no ephemeral. The late click after it: who decided, as a mention. */
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id, NULL), 200);
    ck_assert_int_eq(slack_click(&e, ONCALL, "zoneci_reject", id, NULL), 200);
    wait_responses(&e, 3);
    text = ephemeral_text(&e, 3);
    ck_assert_msg(strstr(text, "already decided") && strstr(text, "approved by <@" APPROVER ">"),
                  "%s", text);
    /* A job that is not there (any more). */
    ck_assert_int_eq(slack_click_value(&e, APPROVER, "zoneci_approve", "99999", NULL), 200);
    wait_responses(&e, 4);
    text = ephemeral_text(&e, 4);
    ck_assert_msg(strstr(text, "does not exist"), "%s", text);

    /* A response_url on another host (another port of this one) is refused at the click,
     * logged, and never contacted; the HTTP answer still says why. */
    other = ts_peer_start(play_peers, olog);
    snprintf(other_url, sizeof(other_url), "%s/respond/T1/1/abc", ts_peer_base(other));
    card_value(&e, id, value);
    form = slack_form_url(OTHER, "zoneci_approve", value, other_url);
    ck_assert_int_eq(slack_post_raw(e.base, form, SLACK_SECRET, 0, &body), 200);
    assert_ephemeral(body, "not an approver");
    free(body);
    free(form);
    {
        log_has h = {e.srv->log, "event=slack_response_refused"};

        ck_assert_msg(ts_wait_until(log_contains, &h, 20000), "no slack_response_refused logged");
    }
    /* A later click's answer arrives at the right peer; the other one saw nothing. */
    ck_assert_int_eq(slack_click(&e, OTHER, "zoneci_reject", id, NULL), 200);
    wait_responses(&e, 5);
    ts_peer_lock(other);
    ck_assert_int_eq(olog->responses, 0);
    ck_assert_int_eq(olog->posts + olog->updates + olog->failed_posts, 0);
    ts_peer_unlock(other);
    ts_peer_stop(other);
    core_buf_free(&olog->ephemeral);
    core_buf_free(&olog->cards);
    free(olog);
    env_stop(&e);
}
END_TEST

/* GitHub and the public job page name people as people: "Approved by @dba" for a decider
 * `people` maps to a login, "Approved in Slack" / "Rejected in Slack" for one it does not;
 * never a raw Slack id. The operators' history keeps who decided (the Slack id, as actor). */
START_TEST(github_and_the_job_page_never_show_a_slack_id)
{
    static const char *const ids[] = {APPROVER, ONCALL, AUTHOR, OTHER};
    env e;
    char id[32], id2[32], id3[32], url[160], *story, *v;
    ts_response r;

    env_start(&e, WITH_PEERS);
    risky_job(&e, 41, id);
    risky_job(&e, 42, id2);
    risky_job(&e, 43, id3);
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_approve", id, NULL), 200);
    ck_assert_int_eq(slack_click(&e, APPROVER, "zoneci_reject", id2, NULL), 200);
    ck_assert_int_eq(slack_click(&e, ONCALL, "zoneci_reject", id3, NULL), 200);
    wait_log(&e, 3, 0, 0, "Approved in Slack");
    wait_log(&e, 3, 0, 0, "failure|Rejected in Slack");
    wait_log(&e, 3, 0, 0, "failure|Rejected by @dba");
    story = status_story(&e);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        ck_assert_msg(!strstr(story, ids[i]), "%s on GitHub:\n%s", ids[i], story);
    free(story);
    /* The operators still know who: the actor of the decision, and decided_by. */
    v = hget(&e, id, "decided_by");
    ck_assert_str_eq(v, APPROVER);
    free(v);
    {
        json_t *j, *h = history_entry(&e, id2, "rejected in Slack", &j);

        ck_assert_ptr_nonnull(h);
        ck_assert_str_eq(json_string_value(json_object_get(h, "actor")), APPROVER);
        json_decref(j);
    }
    /* The job page, which anyone with the link reads. */
    for (int k = 0; k < 3; k++) {
        snprintf(url, sizeof(url), "%s/jobs/%s", e.base, k == 0 ? id : k == 1 ? id2 : id3);
        ck_assert_int_eq(ts_http("GET", url, NULL, NULL, 0, &r), 0);
        ck_assert_int_eq(r.status, 200);
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
            ck_assert_msg(!strstr(r.body, ids[i]), "%s on the job page:\n%s", ids[i], r.body);
        ck_assert_ptr_nonnull(strstr(r.body, k == 0 ? "approved" : "rejected"));
        ts_response_free(&r);
    }
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_approvals(void)
{
    Suite *s = suite_create("e2e_approvals");
    TCase *tc = tcase_create("approvals");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, slack_approve_once_then_nothing_changes);
    tcase_add_test(tc, slack_refusals_record_nothing);
    tcase_add_test(tc, card_of_a_wiped_job_decides_nothing);
    tcase_add_test(tc, operator_api_decides_with_a_token);
    tcase_add_test(tc, named_operators_follow_slack_rules);
    tcase_add_test(tc, no_tokens_no_slack_no_decisions);
    tcase_add_test(tc, concurrent_decisions_record_one);
    tcase_add_test(tc, card_click_release_and_statuses);
    tcase_add_test(tc, pending_card_survives_a_restart_and_goes_once);
    tcase_add_test(tc, refusals_reach_the_clicker_through_response_url);
    tcase_add_test(tc, github_and_the_job_page_never_show_a_slack_id);
    suite_add_tcase(s, tc);
    return s;
}
