/* End to end check runs: a real redis-server, a real git repository and `zoneci serve`,
 * with a local peer playing GitHub that records every check-run call. A risky pull
 * request gets "zoneci / migrations" created in progress on its head SHA, then completed
 * with action_required and one annotation per finding on its file and line, in batches
 * of at most 50 (a batch GitHub failed once is sent again, none twice); a decision
 * completes the run again (success or failure) without repeating an annotation; the
 * run's "Re-run" inspects the commit again, and only this App's run of the PR's newest
 * job can. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tests/support/support.h"

#define GH_SECRET "checks-secret"
#define API_TOKEN "dba-lead-token-0123"
#define DROPS 120 /* dangerous statements in the big migration: 3 batches with 2 more */

/* One check-run call as the peer saw it. */
typedef struct call {
    char method[8];
    long run; /* the run's id (a create: the id it was given) */
    json_t *body;
} call;

/* What the peer playing GitHub saw; guarded by the peer's lock. */
typedef struct gh_log {
    call calls[64];
    int n;
    int fail_patch; /* answer the PATCH numbered fail_patch (1-based) 502, once */
    int patches;
    int runs_created;
} gh_log;

typedef struct env {
    char *dir, *config, *main_sha, *big_sha, *small_sha;
    ts_redis *redis;
    ts_proc *srv;
    ts_peer *peer;
    gh_log *log; /* on the heap: a failed test may leave the peer running */
    char base[64], repo[600];
} env;

static void play_github(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    gh_log *log = ctx;
    const char *runs = strstr(req->url, "/check-runs");

    if (strstr(req->url, "/access_tokens")) {
        char iso[CORE_ISO_MAX];

        core_time_format_iso(core_time_now_ms() + 3600 * 1000, iso);
        ans->status = 201;
        snprintf(ans->body, sizeof(ans->body), "{\"token\":\"ghs_checks\",\"expires_at\":\"%s\"}",
                 iso);
    } else if (strstr(req->url, "/statuses/")) {
        ans->status = 201;
        snprintf(ans->body, sizeof(ans->body), "{\"id\":1}");
    } else if (runs && strcmp(req->authorization, "token ghs_checks") == 0 && log->n < 64) {
        bool patch = strcmp(req->method, "PATCH") == 0;

        if (patch && ++log->patches == log->fail_patch) {
            ans->status = 502;
            return;
        }
        call *c = &log->calls[log->n++];

        snprintf(c->method, sizeof(c->method), "%s", req->method);
        c->run =
            patch ? strtol(runs + strlen("/check-runs/"), NULL, 10) : 7000L + ++log->runs_created;
        c->body = json_loads(req->body, 0, NULL);
        ans->status = patch ? 200 : 201;
        snprintf(ans->body, sizeof(ans->body), "{\"id\":%ld}", c->run);
    } else {
        ans->status = 404;
    }
}

static void make_repo(env *e)
{
    snprintf(e->repo, sizeof(e->repo), "%s/app", e->dir);
    ts_sh("git init -q -b main '%s' && cd '%s' && git config user.email t@example.com && "
          "git config user.name t && mkdir -p db && "
          "printf 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\\n' > db/001_users.sql "
          "&& git add . && git commit -q -m base",
          e->repo, e->repo);
    /* Lines 1..DROPS drop a column (danger; line 1 also gets require-lock-timeout, info);
     * the next line builds an index without CONCURRENTLY (warning). */
    ts_sh("cd '%s' && git checkout -q -b big main && "
          "for i in $(seq 1 %d); do echo \"ALTER TABLE users DROP COLUMN c$i;\"; done "
          "> db/002_drops.sql && echo 'CREATE INDEX users_email ON users (email);' >> "
          "db/002_drops.sql && git add . && git commit -q -m big && "
          "git checkout -q -b small main && "
          "printf 'SELECT 1;\\nALTER TABLE users DROP COLUMN email;\\n' > db/003_drop.sql && "
          "git add . && git commit -q -m small && git checkout -q main",
          e->repo, DROPS);
    e->main_sha = ts_git_rev(e->repo, "main");
    e->big_sha = ts_git_rev(e->repo, "big");
    e->small_sha = ts_git_rev(e->repo, "small");
}

static void env_start(env *e)
{
    char *text = NULL, *key_path;
    char *argv[] = {"serve", "--config", NULL, NULL};
    char *envp[] = {"ZT_GH_SECRET=" GH_SECRET, "ZT_API_TOKENS=dba-lead:" API_TOKEN, NULL};
    int port = ts_free_port();

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    make_repo(e);
    e->log = calloc(1, sizeof(*e->log));
    ck_assert_ptr_nonnull(e->log);
    e->peer = ts_peer_start(play_github, e->log);
    key_path = ts_write_file(e->dir, "app.pem", ts_rsa_key_pem());
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    ck_assert(asprintf(&text,
                       "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 4,\n"
                       "   \"public_url\": \"https://zoneci.example\"},\n"
                       " \"redis\": {\"url\": \"%s\", \"prefix\": \"chk\"},\n"
                       " \"cache_dir\": \"%s/cache\",\n"
                       " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\", \"app_id\": 4242,\n"
                       "   \"private_key_file\": \"%s\", \"api_url\": \"%s/gh\",\n"
                       "   \"allow_local_repos\": true},\n"
                       " \"api\": {\"tokens_env\": \"ZT_API_TOKENS\"},\n"
                       " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                       "   \"hours\": [\"Mon-Sun 00:00-24:00\"], \"oncall\": [\"UDBA\"]}],\n"
                       " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"],\n"
                       "   \"migrations\": {\"paths\": [\"db/**/*.sql\"], \"approval\": "
                       "\"risky\", \"approvers\": [\"UDBA\"]}}],\n"
                       " \"people\": [{\"github\": \"dba\", \"slack\": \"UDBA\", "
                       "\"operator\": \"dba-lead\"}]}\n",
                       port, e->redis->url, e->dir, key_path, ts_peer_base(e->peer)) > 0);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    free(key_path);
    argv[2] = e->config;
    e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_peer_stop(e->peer);
    for (int i = 0; i < e->log->n; i++)
        json_decref(e->log->calls[i].body);
    free(e->log);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
    free(e->config);
    free(e->main_sha);
    free(e->big_sha);
    free(e->small_sha);
}

/* Posts PR `number` at head sha and waits for its job to await approval. */
static void risky_pr(env *e, int number, const char *sha, char id[32])
{
    char *body = NULL, *resp = NULL, delivery[32];
    json_t *j;

    ck_assert(asprintf(&body,
                       "{\"action\":\"opened\",\"number\":%d,\"pull_request\":{\"number\":%d,"
                       "\"title\":\"t\",\"user\":{\"login\":\"octocat\"},"
                       "\"head\":{\"sha\":\"%s\",\"ref\":\"f\"},\"base\":{\"sha\":\"%s\","
                       "\"ref\":\"main\"}},\"repository\":{\"full_name\":\"acme/app\","
                       "\"clone_url\":\"file://%s\"},\"installation\":{\"id\":42}}",
                       number, number, sha, e->main_sha, e->repo) > 0);
    snprintf(delivery, sizeof(delivery), "chk-%d", number);
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

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

/* Waits until the peer has seen a PATCH of run `run` whose conclusion is `conclusion` and
 * after which `annotations` annotations in all were sent to it. */
typedef struct until {
    env *e;
    long run;
    const char *conclusion;
    size_t annotations;
} until;

static size_t annotations_of(gh_log *log, long run)
{
    size_t n = 0;

    for (int i = 0; i < log->n; i++) {
        json_t *a = json_object_get(json_object_get(log->calls[i].body, "output"), "annotations");

        if (log->calls[i].run == run)
            n += json_array_size(a);
    }
    return n;
}

static bool completed(void *ctx)
{
    until *u = ctx;
    bool done = false;

    ts_peer_lock(u->e->peer);
    for (int i = 0; i < u->e->log->n && !done; i++)
        done = u->e->log->calls[i].run == u->run &&
               strcmp(jstr(u->e->log->calls[i].body, "conclusion"), u->conclusion) == 0;
    done = done && annotations_of(u->e->log, u->run) == u->annotations;
    ts_peer_unlock(u->e->peer);
    return done;
}

static long decide(env *e, const char *id, const char *how)
{
    char url[160];
    char auth[] = "Authorization: Bearer " API_TOKEN;
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    ts_response r = {0};
    long status;

    snprintf(url, sizeof(url), "%s/api/v1/jobs/%s/%s", e->base, id, how);
    ck_assert_int_eq(ts_http("POST", url, headers, "{}", 2, &r), 0);
    status = r.status;
    ts_response_free(&r);
    return status;
}

START_TEST(the_run_annotates_every_finding_once_and_follows_the_decision)
{
    env e;
    char id[32];
    until u;
    bool seen[DROPS + 2][3] = {{false}};
    int total = 0;

    env_start(&e);
    e.log->fail_patch = 2; /* the second batch fails once: it must go again, once */
    risky_pr(&e, 7, e.big_sha, id);
    u = (until){&e, 7001, "action_required", DROPS + 2};
    ck_assert_msg(ts_wait_until(completed, &u, 30000), "the run never completed with %zu notes",
                  u.annotations);
    ts_peer_lock(e.peer);
    /* Created once, first, on the head SHA, with the job as its external id: in progress
     * if the message went out while the job was inspected, else already completed (a
     * message renders the job as it is when it goes out). */
    ck_assert_str_eq(e.log->calls[0].method, "POST");
    ck_assert_str_eq(jstr(e.log->calls[0].body, "name"), "zoneci / migrations");
    ck_assert_str_eq(jstr(e.log->calls[0].body, "head_sha"), e.big_sha);
    ck_assert_str_eq(jstr(e.log->calls[0].body, "external_id"), id);
    if (strcmp(jstr(e.log->calls[0].body, "status"), "in_progress") == 0)
        ck_assert_ptr_null(json_object_get(e.log->calls[0].body, "conclusion"));
    else
        ck_assert_str_eq(jstr(e.log->calls[0].body, "status"), "completed");
    for (int i = 0; i < e.log->n; i++) {
        json_t *out = json_object_get(e.log->calls[i].body, "output"), *a;
        size_t k;

        ck_assert_str_eq(e.log->calls[i].method, i ? "PATCH" : "POST");
        ck_assert_int_eq(e.log->calls[i].run, 7001);
        if (strcmp(jstr(e.log->calls[i].body, "status"), "in_progress") == 0)
            continue;
        ck_assert_str_eq(jstr(e.log->calls[i].body, "conclusion"), "action_required");
        ck_assert_ptr_nonnull(strstr(jstr(e.log->calls[i].body, "details_url"), "/jobs/"));
        ck_assert_str_eq(strstr(jstr(e.log->calls[i].body, "details_url"), "/jobs/") + 6, id);
        ck_assert_uint_le(json_array_size(json_object_get(out, "annotations")), 50);
        ck_assert_uint_le(strlen(jstr(out, "summary")), 65535);
        json_array_foreach(json_object_get(out, "annotations"), k, a)
        {
            int line = (int)json_integer_value(json_object_get(a, "start_line"));
            const char *level = jstr(a, "annotation_level");
            int lv = strcmp(level, "failure") == 0 ? 0 : strcmp(level, "warning") == 0 ? 1 : 2;

            ck_assert_str_eq(jstr(a, "path"), "db/002_drops.sql");
            ck_assert_int_eq(json_integer_value(json_object_get(a, "end_line")), line);
            ck_assert_int_ge(line, 1);
            ck_assert_int_le(line, DROPS + 1);
            ck_assert_msg(!seen[line][lv], "line %d %s annotated twice", line, level);
            seen[line][lv] = true;
            total++;
        }
    }
    /* Every drop is a failure on its own line, the index a warning, the lock timeout a
     * notice; nothing else. */
    for (int line = 1; line <= DROPS; line++)
        ck_assert_msg(seen[line][0], "line %d has no failure annotation", line);
    ck_assert(seen[DROPS + 1][1]);
    ck_assert(seen[1][2]);
    ck_assert_int_eq(total, DROPS + 2);
    /* The failed batch was answered 502 and sent again. */
    ck_assert_int_eq(e.log->patches, e.log->n - 1 + 1);
    {
        json_t *out = json_object_get(e.log->calls[e.log->n - 1].body, "output");

        ck_assert_ptr_nonnull(strstr(jstr(out, "title"), "approval needed"));
        ck_assert_ptr_nonnull(strstr(jstr(out, "summary"), "| Severity | Rule |"));
        ck_assert_ptr_nonnull(strstr(jstr(out, "summary"), "ban\\-drop\\-column"));
        ck_assert_ptr_nonnull(strstr(jstr(out, "summary"), "Asked in region **always**"));
    }
    ts_peer_unlock(e.peer);

    /* The decision completes the run again: success, said by GitHub login, and not one
     * annotation more. */
    ck_assert_int_eq(decide(&e, id, "approve"), 200);
    u = (until){&e, 7001, "success", DROPS + 2};
    ck_assert_msg(ts_wait_until(completed, &u, 30000), "the run never turned success");
    ts_peer_lock(e.peer);
    {
        json_t *out = json_object_get(e.log->calls[e.log->n - 1].body, "output");

        ck_assert_msg(strstr(jstr(out, "title"), "approved by dba-lead (API)"), "title: %s",
                      jstr(out, "title"));
        ck_assert_ptr_null(strstr(jstr(out, "summary"), "UDBA"));
    }
    ts_peer_unlock(e.peer);
    env_stop(&e);
}
END_TEST

static long post_rerun(env *e, const char *delivery, const char *job, const char *sha, int app,
                       char **resp)
{
    char *body = NULL;
    long status;

    ck_assert(asprintf(&body,
                       "{\"action\":\"rerequested\",\"check_run\":{\"id\":7001,\"name\":"
                       "\"zoneci / migrations\",\"head_sha\":\"%s\",\"external_id\":\"%s\","
                       "\"app\":{\"id\":%d},\"pull_requests\":[{\"number\":8}]},"
                       "\"repository\":{\"full_name\":\"acme/app\"},\"installation\":{\"id\":42},"
                       "\"sender\":{\"login\":\"octocat\"}}",
                       sha, job, app) > 0);
    status = ts_post_github(e->base, "check_run", delivery, body, strlen(body), GH_SECRET, resp);
    free(body);
    return status;
}

static int runs_created_for(env *e, const char *job)
{
    int n = 0;

    ts_peer_lock(e->peer);
    for (int i = 0; i < e->log->n; i++)
        n += strcmp(e->log->calls[i].method, "POST") == 0 &&
             strcmp(jstr(e->log->calls[i].body, "external_id"), job) == 0;
    ts_peer_unlock(e->peer);
    return n;
}

START_TEST(rejection_fails_the_run_and_rerun_inspects_again)
{
    env e;
    char id[32], again[32], *resp = NULL;
    until u;
    json_t *j;

    env_start(&e);
    risky_pr(&e, 8, e.small_sha, id);
    ck_assert_int_eq(decide(&e, id, "reject"), 200);
    u = (until){&e, 7001, "failure", 2}; /* the drop (danger) and its lock timeout (info) */
    ck_assert_msg(ts_wait_until(completed, &u, 30000), "the run never failed");

    /* Another App's run with our name, or ours with an unknown job: ignored. */
    ck_assert_int_eq(post_rerun(&e, "rr-1", id, e.small_sha, 999, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "not zoneci's check run"));
    free(resp);
    ck_assert_int_eq(post_rerun(&e, "rr-2", "999", e.small_sha, 4242, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "no longer exists"));
    free(resp);

    /* Re-run: a new job inspects the same commit and gets a run of its own. */
    ck_assert_int_eq(post_rerun(&e, "rr-3", id, e.small_sha, 4242, &resp), 202);
    j = json_loads(resp, 0, NULL);
    snprintf(again, sizeof(again), "%s", jstr(j, "job_id"));
    json_decref(j);
    free(resp);
    ck_assert_str_ne(again, id);
    ck_assert(ts_job_wait_state(e.base, again, API_TOKEN, "awaiting_approval", 30000));
    u = (until){&e, 7002, "action_required", 2};
    ck_assert_msg(ts_wait_until(completed, &u, 30000), "the re-run's run never completed");
    ck_assert_int_eq(runs_created_for(&e, again), 1);
    /* The same delivery again is a duplicate; a re-run of the older job is refused now
     * that a newer one exists. */
    ck_assert_int_eq(post_rerun(&e, "rr-3", id, e.small_sha, 4242, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "duplicate"));
    free(resp);
    ck_assert_int_eq(post_rerun(&e, "rr-4", id, e.small_sha, 4242, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "newer job"));
    free(resp);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_checks(void)
{
    Suite *s = suite_create("e2e_checks");
    TCase *tc = tcase_create("checks");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_run_annotates_every_finding_once_and_follows_the_decision);
    tcase_add_test(tc, rejection_fails_the_run_and_rerun_inspects_again);
    suite_add_tcase(s, tc);
    return s;
}
