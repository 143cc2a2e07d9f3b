/* End to end inspection: real git repositories (file:// clone URLs), a real redis-server
 * and `zoneci serve`. A PR with a risky migration waits for approval with its findings;
 * a safe one is routed; a repository that cannot be read fails safe after its retries.
 * `zoneci check-config` and `zoneci inspect` report bad migration settings. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/support.h"

#define SECRET "inspect-secret"

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    char base[64];
    char repo[600];
} env;

/* main with a users table; branch "risky" drops a column; branch "safe" adds an index
 * concurrently. */
static void make_repo(env *e)
{
    snprintf(e->repo, sizeof(e->repo), "%s/app", e->dir);
    ts_sh("git init -q -b main '%s' && cd '%s' && git config user.email t@example.com && "
          "git config user.name t && mkdir -p db && "
          "printf 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\\n' > db/001_users.sql "
          "&& git add . && git commit -q -m base",
          e->repo, e->repo);
    ts_sh("cd '%s' && git checkout -q -b risky main && "
          "printf -- '-- remove the old column\\n\\nALTER TABLE users DROP COLUMN email;\\n' > "
          "db/002_drop_email.sql && git add . && git commit -q -m risky",
          e->repo);
    ts_sh("cd '%s' && git checkout -q -b safe main && "
          "printf 'SET lock_timeout = '\"'\"'2s'\"'\"';\\nCREATE INDEX CONCURRENTLY users_email "
          "ON users (email);\\n' > db/002_index.sql && git add . && git commit -q -m safe && "
          "git checkout -q main",
          e->repo);
}

/* github_extra: more members of the config's "github" object (", \"k\": v"). */
static void env_start_with(env *e, const char *github_extra)
{
    char *text = NULL, *config;
    char *argv[] = {"serve", "--config", NULL, NULL};
    char *envp[] = {"ZT_GH_SECRET=" SECRET, NULL};
    int port;

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    make_repo(e);
    port = ts_free_port();
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    ck_assert(asprintf(&text,
                       "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 2},\n"
                       " \"redis\": {\"url\": \"%s\", \"prefix\": \"ins\"},\n"
                       " \"cache_dir\": \"%s/cache\",\n"
                       " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\"%s},\n"
                       " \"regions\": [{\"name\": \"always\", \"timezone\": \"Etc/UTC\",\n"
                       "   \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
                       " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"always\"],\n"
                       "   \"migrations\": {\"paths\": [\"db/**/*.sql\"], \"approval\": "
                       "\"risky\", \"postgres_version\": 16,\n"
                       "     \"rules\": {\"changed-migration\": \"warning\"}}}]}\n",
                       port, e->redis->url, e->dir, github_extra) > 0);
    config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    argv[2] = config;
    e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
    free(config);
}

/* Local repositories are these tests' GitHub. */
static void env_start(env *e)
{
    env_start_with(e, ", \"allow_local_repos\": true");
}

static void env_stop(env *e)
{
    ts_proc_free(e->srv);
    ts_redis_free(e->redis);
    ts_rmtree(e->dir);
    free(e->dir);
}

/* Posts a pull_request "opened" for head against base with the given clone URL. */
static void post_pr(env *e, int number, const char *base_sha, const char *head_sha,
                    const char *clone_url, char id[32])
{
    char *body = NULL, *resp = NULL, delivery[32];
    json_t *j;

    ck_assert(asprintf(&body,
                       "{\"action\":\"opened\",\"number\":%d,\"pull_request\":{\"number\":%d,"
                       "\"title\":\"t\",\"user\":{\"login\":\"octocat\"},"
                       "\"head\":{\"sha\":\"%s\",\"ref\":\"f\"},\"base\":{\"sha\":\"%s\","
                       "\"ref\":\"main\"}},\"repository\":{\"full_name\":\"acme/app\","
                       "\"clone_url\":\"%s\"}}",
                       number, number, head_sha, base_sha, clone_url) > 0);
    snprintf(delivery, sizeof(delivery), "ins-%d", number);
    ck_assert_int_eq(
        ts_post_github(e->base, "pull_request", delivery, body, strlen(body), SECRET, &resp), 202);
    j = json_loads(resp, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    free(body);
    free(resp);
}

static json_t *get_job(env *e, const char *id)
{
    return ts_job_get(e->base, id, NULL);
}

START_TEST(risky_migration_waits_for_approval_safe_one_is_routed)
{
    env e;
    char *main_sha, *risky, *safe, url[700], id_risky[32], id_safe[32];
    json_t *j, *report, *finding;

    env_start(&e);
    main_sha = ts_git_rev(e.repo, "main");
    risky = ts_git_rev(e.repo, "risky");
    safe = ts_git_rev(e.repo, "safe");
    snprintf(url, sizeof(url), "file://%s", e.repo);
    post_pr(&e, 1, main_sha, risky, url, id_risky);
    post_pr(&e, 2, main_sha, safe, e.repo, id_safe); /* a plain path works too */

    ck_assert_msg(ts_job_wait_state(e.base, id_risky, NULL, "awaiting_approval", 30000),
                  "risky job never awaited approval");
    j = get_job(&e, id_risky);
    ck_assert_str_eq(json_string_value(json_object_get(j, "risk")), "high");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(j, "reason")), "db/002_drop_email.sql line 3"));
    report = json_object_get(j, "report");
    ck_assert_str_eq(json_string_value(json_object_get(report, "risk")), "high");
    ck_assert_uint_eq(json_array_size(json_object_get(report, "migrations")), 1);
    finding = json_array_get(
        json_object_get(json_array_get(json_object_get(report, "migrations"), 0), "findings"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(finding, "line")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(finding, "severity")), "danger");
    json_decref(j);

    ck_assert_msg(ts_job_wait_state(e.base, id_safe, NULL, "queued", 30000),
                  "safe job never routed");
    j = get_job(&e, id_safe);
    ck_assert_str_ne(json_string_value(json_object_get(j, "risk")), "high");
    json_decref(j);

    free(main_sha);
    free(risky);
    free(safe);
    env_stop(&e);
}
END_TEST

/* A migration whose only dangers are past the per-file cap of 200 findings still waits
 * for approval, and the reason counts them and names the first. */
START_TEST(danger_past_the_cap_waits_for_approval)
{
    env e;
    char *main_sha, *head, url[700], id[32];

    env_start(&e);
    /* 210 warnings (indexes without CONCURRENTLY), then 3 truncates on line 212 and on. */
    ts_sh("cd '%s' && git checkout -q -b late main && "
          "{ printf 'SET lock_timeout = 1000;\\n'; "
          "for i in $(seq 210); do printf 'CREATE INDEX i%%d ON users (email);\\n' $i; done; "
          "printf 'TRUNCATE a;\\nTRUNCATE b;\\nTRUNCATE c;\\n'; } > db/002_late.sql && "
          "git add . && git commit -q -m late && git checkout -q main",
          e.repo);
    main_sha = ts_git_rev(e.repo, "main");
    head = ts_git_rev(e.repo, "late");
    snprintf(url, sizeof(url), "file://%s", e.repo);
    post_pr(&e, 3, main_sha, head, url, id);
    ck_assert_msg(ts_job_wait_state(e.base, id, NULL, "awaiting_approval", 30000),
                  "job never awaited approval");
    {
        json_t *j = get_job(&e, id);
        const char *reason = json_string_value(json_object_get(j, "reason"));

        ck_assert_str_eq(json_string_value(json_object_get(j, "risk")), "high");
        ck_assert_msg(reason && strstr(reason, "(3 danger findings; first: db/002_late.sql line "
                                               "212, ban-truncate)"),
                      "reason \"%s\"", reason ? reason : "(null)");
        json_decref(j);
    }
    free(main_sha);
    free(head);
    env_stop(&e);
}
END_TEST

START_TEST(unreadable_repository_fails_safe)
{
    env e;
    char id[32], missing[700];
    json_t *j;

    env_start(&e);
    snprintf(missing, sizeof(missing), "file://%s/no-such-repo", e.dir);
    post_pr(&e, 3, "1111111111111111111111111111111111111111",
            "2222222222222222222222222222222222222222", missing, id);
    /* Two retries (1 s, 2 s), then a human must decide. */
    ck_assert_msg(ts_job_wait_state(e.base, id, NULL, "awaiting_approval", 30000),
                  "job never failed safe");
    j = get_job(&e, id);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "reason")),
                                 "cannot fetch the repository after 3 attempts"));
    /* libgit2's message names the path it tried: the log's business, not the job's. */
    ck_assert_ptr_null(strstr(json_string_value(json_object_get(j, "reason")), "no-such-repo"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "risk")), "unknown");
    json_decref(j);
    env_stop(&e);
}
END_TEST

/* The reason of job id contains want and none of the words in hide (NULL-terminated). */
static void assert_reason(env *e, const char *id, const char *want, const char *const *hide)
{
    json_t *j = get_job(e, id);
    const char *reason = json_string_value(json_object_get(j, "reason"));

    ck_assert_msg(reason && strstr(reason, want), "reason \"%s\", wanted \"%s\"",
                  reason ? reason : "(null)", want);
    for (size_t i = 0; hide && hide[i]; i++)
        ck_assert_msg(!strstr(reason, hide[i]), "reason \"%s\" shows \"%s\"", reason, hide[i]);
    ck_assert_str_eq(json_string_value(json_object_get(j, "risk")), "unknown");
    json_decref(j);
}

/* Whether cache_dir holds any repository mirror ("*.git"). */
static bool has_mirror(env *e)
{
    char cache[700];
    DIR *d;
    struct dirent *de;
    bool found = false;

    snprintf(cache, sizeof(cache), "%s/cache", e->dir);
    d = opendir(cache);
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);

        found |= n > 4 && strcmp(de->d_name + n - 4, ".git") == 0;
    }
    if (d)
        closedir(d);
    return found;
}

static bool log_has(env *e, const char *needle)
{
    char *log = ts_read_file(e->srv->log, NULL);
    bool found = log && strstr(log, needle);

    free(log);
    return found;
}

/* Without github.allow_local_repos only github.web_url's host is fetched: another host and
 * a local path (a repository that exists) both wait for approval at once, unfetched. */
START_TEST(clone_url_off_github_is_refused)
{
    static const char *const hide[] = {"evil.example", "/app", "file:", NULL};
    env e;
    char *main_sha, *risky, url[700], id_host[32], id_path[32], id_file[32];

    env_start_with(&e, "");
    main_sha = ts_git_rev(e.repo, "main");
    risky = ts_git_rev(e.repo, "risky");
    post_pr(&e, 4, main_sha, risky, "https://evil.example/acme/app.git", id_host);
    post_pr(&e, 5, main_sha, risky, e.repo, id_path);
    snprintf(url, sizeof(url), "file://%s", e.repo);
    post_pr(&e, 6, main_sha, risky, url, id_file);
    ck_assert(ts_job_wait_state(e.base, id_host, NULL, "awaiting_approval", 10000));
    ck_assert(ts_job_wait_state(e.base, id_path, NULL, "awaiting_approval", 10000));
    ck_assert(ts_job_wait_state(e.base, id_file, NULL, "awaiting_approval", 10000));
    assert_reason(&e, id_host, "awaiting approval: clone URL not on the configured GitHub host",
                  hide);
    assert_reason(&e, id_path, "clone URL not on the configured GitHub host", hide);
    assert_reason(&e, id_file, "clone URL not on the configured GitHub host", hide);
    ck_assert_msg(!has_mirror(&e), "a mirror was made for a refused URL");
    ck_assert(log_has(&e, "event=inspect_refused"));
    ck_assert(!log_has(&e, "evil.example"));
    free(main_sha);
    free(risky);
    env_stop(&e);
}
END_TEST

/* A GitHub Enterprise Server's host is fetched (here nothing answers on it): the failure
 * is retried, then fails safe with a plain reason, and libgit2's words (the host, the
 * port, "connect") are in the log only. */
START_TEST(fetch_errors_stay_in_the_log)
{
    static const char *const hide[] = {"127.0.0.1", "connect", "refused", "failed to", NULL};
    env e;
    char github[128], url[128], id[32];
    int port = ts_free_port();

    snprintf(github, sizeof(github), ", \"web_url\": \"https://127.0.0.1:%d\"", port);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/acme/app.git", port);
    env_start_with(&e, github);
    post_pr(&e, 7, "1111111111111111111111111111111111111111",
            "2222222222222222222222222222222222222222", url, id);
    ck_assert_msg(ts_job_wait_state(e.base, id, NULL, "awaiting_approval", 30000),
                  "job never failed safe");
    assert_reason(&e, id, "awaiting approval: cannot fetch the repository after 3 attempts", hide);
    ck_assert(log_has(&e, "event=inspect_failed"));
    ck_assert(log_has(&e, "cannot fetch the repository: "));
    env_stop(&e);
}
END_TEST

static bool contains(const char *hay, const char *needle)
{
    if (hay && strstr(hay, needle))
        return true;
    fprintf(stderr, "wanted \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
    return false;
}

/* check-config prints every bad migration setting as FILE:LINE: PATH: message. */
START_TEST(check_config_reports_migration_settings)
{
    char *dir = ts_tmpdir();
    char *config = ts_write_file(
        dir, "zoneci.json",
        "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
        " \"redis\": {\"url\": \"redis://127.0.0.1:6379\"},\n"
        " \"regions\": [{\"name\": \"a\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon "
        "09:00-10:00\"]}],\n"
        " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"a\"],\n"
        "   \"migrations\": {\"postgres_version\": \"16\",\n"
        "     \"rules\": {\"ban-drop-colum\": \"off\",\n"
        "               \"ban-truncate\": \"loud\"}}}]}\n");
    char *argv[] = {"check-config", config, NULL};
    char *out = NULL, *err = NULL;
    char want[700];

    ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 1);
    snprintf(want, sizeof(want),
             "%s:5: policies[0].migrations.postgres_version: must be an integer from 10 to 19, "
             "not a string: write 16, not \"16\"",
             config);
    ck_assert(contains(err, want));
    snprintf(want, sizeof(want),
             "%s:6: policies[0].migrations.rules.ban-drop-colum: unknown rule \"ban-drop-colum\" "
             "(did you mean \"ban-drop-column\"?)",
             config);
    ck_assert(contains(err, want));
    snprintf(want, sizeof(want),
             "%s:7: policies[0].migrations.rules.ban-truncate: must be off, info, warning or "
             "danger, not \"loud\"",
             config);
    ck_assert(contains(err, want));
    ck_assert(contains(err, "3 problems"));
    free(out);
    free(err);
    free(config);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

/* inspect --pg-version and --rule: bad values exit 2 with what is wrong; good ones run. */
START_TEST(inspect_cli_migration_options)
{
    static const struct {
        const char *opt, *val, *msg;
    } bad[] = {
        {"--pg-version", "9",
         "--pg-version must be a Postgres major version from 10 to 19, "
         "not \"9\""},
        {"--pg-version", "16.2", "not \"16.2\""},
        {"--rule", "ban-drop-column", "--rule wants ID=LEVEL"},
        {"--rule", "ban-drop-colum=off", "unknown rule \"ban-drop-colum\""},
        {"--rule", "ban-drop-column=loud",
         "the level must be off, info, warning or danger, not \"loud\""},
    };
    env e;
    char *out = NULL, *err = NULL;

    memset(&e, 0, sizeof(e));
    e.dir = ts_tmpdir();
    make_repo(&e);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {
            "inspect",          "--repo",           e.repo, "--base", "main", "--head", "risky",
            (char *)bad[i].opt, (char *)bad[i].val, NULL};

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 2);
        ck_assert(contains(err, bad[i].msg));
        free(out);
        free(err);
    }
    {
        char *argv[] = {"inspect",
                        "--repo",
                        e.repo,
                        "--base",
                        "main",
                        "--head",
                        "risky",
                        "--json",
                        "--paths",
                        "db/**/*.sql",
                        "--pg-version",
                        "16",
                        "--rule",
                        "changed-migration=warning",
                        "--rule",
                        "ban-drop-table=danger",
                        NULL};

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 0);
        ck_assert(contains(out, "db/002_drop_email.sql"));
        ck_assert(contains(out, "ban-drop-column"));
        free(out);
        free(err);
    }
    ts_rmtree(e.dir);
    free(e.dir);
}
END_TEST

/* inspect --config: the policy's migrations.paths (a db/ glob no built-in pattern
 * covers) and rules apply, as the server would apply them; --repo-name picks the policy,
 * and one that matches nothing exits 2 saying so. */
START_TEST(inspect_cli_reads_the_policy_of_a_config)
{
    static const char config_text[] =
        "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
        " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
        " \"regions\": [{\"name\": \"r\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun "
        "00:00-24:00\"]}],\n"
        " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"r\"],\n"
        "   \"migrations\": {\"paths\": [\"db/**/*.sql\"],\n"
        "                  \"rules\": {\"ban-drop-column\": \"warning\"}}}]}\n";
    env e;
    char *out = NULL, *err = NULL, *config;

    memset(&e, 0, sizeof(e));
    e.dir = ts_tmpdir();
    make_repo(&e);
    config = ts_write_file(e.dir, "zoneci.json", config_text);
    {
        char *argv[] = {"inspect", "--repo", e.repo, "--base", "main", "--head", "risky", NULL};

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 0);
        ck_assert_msg(contains(out, "risk: none"), "%s", out);
        free(out);
        free(err);
    }
    {
        char *argv[] = {"inspect", "--repo", e.repo,     "--base", "main", "--head",
                        "risky",   "--json", "--config", config,   NULL};

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 0);
        ck_assert_msg(contains(out, "db/002_drop_email.sql"), "%s", out);
        ck_assert(contains(out, "\"rule\":\"ban-drop-column\""));
        /* The policy's rules too: ban-drop-column lowered to a warning. */
        ck_assert_msg(contains(out, "\"risk\":\"low\""), "%s", out);
        free(out);
        free(err);
    }
    {
        char *argv[] = {"inspect", "--repo",   e.repo, "--base",      "main",      "--head",
                        "risky",   "--config", config, "--repo-name", "other/app", NULL};

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 2);
        ck_assert_msg(contains(err, "no policy matches other/app"), "%s", err);
        free(out);
        free(err);
    }
    ts_rmtree(e.dir);
    free(e.dir);
    free(config);
}
END_TEST

/* The CLI's first line and its JSON count every finding, those past the per-file cap of
 * 200 too; the table says how many it does not list. */
START_TEST(inspect_cli_counts_past_the_cap)
{
    env e;
    char *out = NULL, *err = NULL;
    char *argv[] = {"inspect", "--repo", NULL,      "--base",   "main",
                    "--head",  "many",   "--paths", "db/*.sql", NULL};
    char *jargv[] = {"inspect", "--repo", NULL,      "--base",   "main", "--head",
                     "many",    "--json", "--paths", "db/*.sql", NULL};

    memset(&e, 0, sizeof(e));
    e.dir = ts_tmpdir();
    make_repo(&e);
    argv[2] = jargv[2] = e.repo;
    /* 260 indexes built without CONCURRENTLY: 260 warnings, 60 past the cap. */
    ts_sh("cd '%s' && git checkout -q -b many main && "
          "for i in $(seq 260); do printf 'CREATE INDEX i%%d ON users (email);\\n' $i; done "
          "> db/002_many.sql && git add . && git commit -q -m many && git checkout -q main",
          e.repo);
    ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 0);
    ck_assert_msg(contains(out, "1 migration, 0 danger, 260 warning, 0 info"), "%s", out);
    ck_assert_msg(contains(out, "…and 60 more findings"), "%s", out);
    free(out);
    free(err);
    ck_assert_int_eq(ts_zoneci_run(jargv, NULL, &out, &err), 0);
    ck_assert_msg(contains(out, "\"warning\":260"), "%s", out);
    ck_assert_msg(contains(out, "\"findings_omitted\":60"), "%s", out);
    free(out);
    free(err);
    ts_rmtree(e.dir);
    free(e.dir);
}
END_TEST

Suite *suite_e2e_inspection(void)
{
    Suite *s = suite_create("e2e_inspection");
    TCase *tc = tcase_create("inspection");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, risky_migration_waits_for_approval_safe_one_is_routed);
    tcase_add_test(tc, danger_past_the_cap_waits_for_approval);
    tcase_add_test(tc, unreadable_repository_fails_safe);
    tcase_add_test(tc, clone_url_off_github_is_refused);
    tcase_add_test(tc, fetch_errors_stay_in_the_log);
    tcase_add_test(tc, check_config_reports_migration_settings);
    tcase_add_test(tc, inspect_cli_migration_options);
    tcase_add_test(tc, inspect_cli_reads_the_policy_of_a_config);
    tcase_add_test(tc, inspect_cli_counts_past_the_cap);
    suite_add_tcase(s, tc);
    return s;
}
