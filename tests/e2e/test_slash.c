/* End to end `/zoneci` slash commands: a real redis-server, a real git repository and
 * `zoneci serve`, reached over HTTP with libcurl and signed as Slack signs. A signed command
 * is answered in the response, ephemeral; a forged or stale one gets 401 and no answer.
 * Each sub-command's answer is read: the regions (windows always open, never open, and
 * opening at a UTC midnight, so nothing depends on the hour the test runs), a PR awaiting
 * approval with its findings and who may approve it (not its author), an unknown PR, the
 * on-call people, the help; a hostile PR title arrives escaped; with Redis gone the answer
 * is still a 200 that says so. */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "tests/support/support.h"

#define GH_SECRET "slash-gh-secret"
#define SLACK_SECRET "slash-signing-secret"
#define APPROVER "UAPPROVER1"
#define AUTHOR "UAUTHOR1"
#define ONCALL "UONCALL1"
#define OTHER "UOTHER1"
#define DAY_MS 86400000LL
#define HOSTILE_TITLE "<!channel> drop & <https://evil.example|click me>"

typedef struct env {
    char *dir;
    ts_redis *redis;
    ts_proc *srv;
    char *config;
    char base[64];
    char repo[600];
    char *main_sha, *risky_sha;
} env;

enum { WITH_ALWAYS, NONE_OPEN, NO_SLACK };

/* main with a users table; branch "risky" drops a column (danger). */
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

/* "[\"D1\", \"D2\", ...]": the UTC dates from today + from to today + to, as holidays. */
static char *dates(int from, int to)
{
    core_buf b = {0};
    int64_t now = core_time_now_ms();

    core_buf_puts(&b, "[");
    for (int d = from; d <= to; d++) {
        char iso[CORE_ISO_MAX];

        core_time_format_iso(now + d * DAY_MS, iso);
        core_buf_printf(&b, "%s\"%.10s\"", d > from ? ", " : "", iso);
    }
    core_buf_puts(&b, "]");
    ck_assert_int_eq(core_buf_status(&b), 0);
    return core_buf_steal(&b);
}

/* Regions, all in Etc/UTC and open all day but on holidays: "always" (WITH_ALWAYS only),
 * "never" (a holiday every day for more than a year) and "later" (holidays from yesterday
 * to tomorrow, so it opens at a UTC midnight however the test straddles one). */
static void env_start(env *e, int mode)
{
    char *text = NULL, *never = dates(-2, 400), *later = dates(-1, 1);
    int port;

    memset(e, 0, sizeof(*e));
    e->dir = ts_tmpdir();
    e->redis = ts_redis_start(false);
    make_repo(e);
    port = ts_free_port();
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", port);
    ck_assert(
        asprintf(&text,
                 "{\"server\": {\"listen\": \"127.0.0.1:%d\", \"threads\": 4,\n"
                 "   \"public_url\": \"https://zoneci.example/\"},\n"
                 " \"redis\": {\"url\": \"%s\", \"prefix\": \"sl\"},\n"
                 " \"cache_dir\": \"%s/cache\",\n"
                 " \"github\": {\"webhook_secret_env\": \"ZT_GH_SECRET\", \"allow_local_repos\": "
                 "true},\n"
                 "%s"
                 " \"regions\": [%s\n"
                 "   {\"name\": \"never\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun "
                 "00:00-24:00\"],"
                 "    \"holidays\": %s},\n"
                 "   {\"name\": \"later\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun "
                 "00:00-24:00\"],"
                 "    \"holidays\": %s, \"oncall\": [\"" APPROVER "\"]}],\n"
                 " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"%s\"],\n"
                 "   \"migrations\": {\"paths\": [\"db/**/*.sql\"], \"approval\": \"risky\",\n"
                 "     \"approvers\": [\"" APPROVER "\", \"" AUTHOR "\", \"" ONCALL "\"]}}],\n"
                 " \"people\": [{\"github\": \"octocat\", \"slack\": \"" AUTHOR "\"},\n"
                 "   {\"github\": \"dba\", \"slack\": \"" ONCALL "\"}]}\n",
                 port, e->redis->url, e->dir,
                 mode == NO_SLACK ? ""
                                  : " \"slack\": {\"signing_secret_env\": \"ZT_SLACK_SECRET\"},\n",
                 mode == WITH_ALWAYS ? "\n   {\"name\": \"always\", \"timezone\": \"Etc/UTC\", "
                                       "\"hours\": [\"Mon-Sun 00:00-24:00\"], "
                                       "\"oncall\": [\"" ONCALL "\", \"" APPROVER "\"]},"
                                     : "",
                 never, later, mode == WITH_ALWAYS ? "always" : "later") > 0);
    e->config = ts_write_file(e->dir, "zoneci.json", text);
    free(text);
    free(never);
    free(later);
    {
        char *argv[] = {"serve", "--config", e->config, NULL};
        char *envp[] = {"ZT_GH_SECRET=" GH_SECRET, "ZT_SLACK_SECRET=" SLACK_SECRET, NULL};

        e->srv = ts_zoneci_spawn(argv, envp, e->dir, e->base);
    }
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

/* Posts PR `number` of acme/app (risky head, author octocat, title `title`) and waits until
 * its job awaits approval; its id goes into id. */
static void risky_job(env *e, int number, const char *title, char id[32])
{
    char *body = NULL, *resp = NULL, delivery[32], url[700];
    json_t *j, *pr;

    snprintf(url, sizeof(url), "file://%s", e->repo);
    pr = json_pack("{s:s, s:i, s:{s:i, s:s, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s}},"
                   " s:{s:s, s:s}, s:{s:i}}",
                   "action", "opened", "number", number, "pull_request", "number", number, "title",
                   title, "user", "login", "octocat", "head", "sha", e->risky_sha, "ref", "f",
                   "base", "sha", e->main_sha, "ref", "main", "repository", "full_name", "acme/app",
                   "clone_url", url, "installation", "id", 42);
    ck_assert_ptr_nonnull(pr);
    body = json_dumps(pr, JSON_COMPACT);
    json_decref(pr);
    snprintf(delivery, sizeof(delivery), "slash-%d", number);
    ck_assert_int_eq(
        ts_post_github(e->base, "pull_request", delivery, body, strlen(body), GH_SECRET, &resp),
        202);
    j = json_loads(resp, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    free(body);
    free(resp);
    ck_assert_msg(ts_job_wait_state(e->base, id, NULL, "awaiting_approval", 30000),
                  "job %s never awaited approval", id);
}

/* application/x-www-form-urlencoded escaping of s. */
static void form_escape(core_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || c == '.')
            core_buf_printf(b, "%c", c);
        else if (c == ' ')
            core_buf_puts(b, "+");
        else
            core_buf_printf(b, "%%%02X", c);
    }
}

/* POSTs `/zoneci TEXT` as user, as Slack does, signed with secret at now + skew_s; returns
 * the status and the body (malloc'd) in out. */
static long command_raw(env *e, const char *user, const char *text, const char *secret, long skew_s,
                        char **out)
{
    char url[128], ts[32], sig[80], h_ts[96], h_sig[120];
    const char *headers[] = {h_ts, h_sig, "Content-Type: application/x-www-form-urlencoded", NULL};
    core_buf form = {0};
    ts_response r;
    long status;

    core_buf_puts(&form, "token=legacy&team_id=T1&team_domain=acme&channel_id=C0123&"
                         "channel_name=ops&user_id=");
    form_escape(&form, user);
    core_buf_puts(&form, "&user_name=someone&command=%2Fzoneci&text=");
    form_escape(&form, text);
    core_buf_puts(&form, "&api_app_id=A1&is_enterprise_install=false&"
                         "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx&"
                         "trigger_id=1.2.3");
    ck_assert_int_eq(core_buf_status(&form), 0);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) + skew_s);
    ts_slack_signature(secret, ts, form.data, form.len, sig);
    snprintf(h_ts, sizeof(h_ts), "X-Slack-Request-Timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "X-Slack-Signature: %s", sig);
    snprintf(url, sizeof(url), "%s/webhooks/slack/commands", e->base);
    ck_assert_int_eq(ts_http("POST", url, headers, form.data, form.len, &r), 0);
    status = r.status;
    *out = strdup(r.body ? r.body : "");
    ts_response_free(&r);
    core_buf_free(&form);
    return status;
}

/* A signed command's answer: checks that it is a 200 ephemeral answer and returns its text
 * (malloc'd). */
static char *command(env *e, const char *user, const char *text)
{
    char *body = NULL, *out;
    json_t *j;
    long status = command_raw(e, user, text, SLACK_SECRET, 0, &body);

    ck_assert_msg(status == 200, "/zoneci %s: %ld %s", text, status, body);
    j = json_loads(body, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", body);
    ck_assert_str_eq(json_string_value(json_object_get(j, "response_type")), "ephemeral");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "text")));
    out = strdup(json_string_value(json_object_get(j, "text")));
    json_decref(j);
    free(body);
    return out;
}

/* Approve job id as Slack user `user` clicking its card's button (its card key read from
 * Redis), as tests/e2e/test_approvals.c does. */
static void approve_by_click(env *e, const char *id, const char *user)
{
    char args[128], *key, *value = NULL, url[128], ts[32], sig[80], h_ts[96], h_sig[120];
    const char *headers[] = {h_ts, h_sig, NULL};
    core_buf form = {0};
    json_t *payload;
    char *json;
    ts_response r;

    snprintf(args, sizeof(args), "HGET '{sl}:job:%s' card_key", id);
    key = ts_redis_cli(e->redis, args);
    ck_assert(asprintf(&value, "%s:%s", id, key) > 0);
    payload = json_pack("{s:s, s:{s:s}, s:[{s:s, s:s}]}", "type", "block_actions", "user", "id",
                        user, "actions", "action_id", "zoneci_approve", "value", value);
    json = json_dumps(payload, JSON_COMPACT);
    core_buf_puts(&form, "payload=");
    form_escape(&form, json);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    ts_slack_signature(SLACK_SECRET, ts, form.data, form.len, sig);
    snprintf(h_ts, sizeof(h_ts), "X-Slack-Request-Timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "X-Slack-Signature: %s", sig);
    snprintf(url, sizeof(url), "%s/webhooks/slack/interactions", e->base);
    ck_assert_int_eq(ts_http("POST", url, headers, form.data, form.len, &r), 0);
    ck_assert_msg(r.status == 200 && strstr(r.body, "approved"), "click: %ld %s", r.status, r.body);
    ts_response_free(&r);
    core_buf_free(&form);
    free(json);
    json_decref(payload);
    free(value);
    free(key);
}

#define ASSERT_HAS(text, want)                                                                     \
    ck_assert_msg(strstr((text), (want)) != NULL, "\"%s\" not in:\n%s", (want), (text))
#define ASSERT_LACKS(text, unwanted)                                                               \
    ck_assert_msg(strstr((text), (unwanted)) == NULL, "\"%s\" in:\n%s", (unwanted), (text))

/* The line of text that starts with prefix (malloc'd), or NULL. */
static char *line_of(const char *text, const char *prefix)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return strndup(p, strcspn(p, "\n"));
    }
    return NULL;
}

static void assert_help(const char *text)
{
    ASSERT_HAS(text, "`/zoneci windows`");
    ASSERT_HAS(text, "`/zoneci status OWNER/REPO#PR`");
    ASSERT_HAS(text, "`/zoneci oncall`");
    ASSERT_HAS(text, "`/zoneci help`");
}

START_TEST(signed_commands_are_answered_forged_and_stale_are_not)
{
    env e;
    char *body = NULL, *text;

    env_start(&e, WITH_ALWAYS);
    text = command(&e, APPROVER, "help");
    assert_help(text);
    free(text);
    /* Empty text, and any case with blanks around, is the help too. */
    text = command(&e, APPROVER, "");
    assert_help(text);
    free(text);
    text = command(&e, APPROVER, "  HELP  ");
    assert_help(text);
    free(text);

    ck_assert_int_eq(command_raw(&e, APPROVER, "help", "not-the-secret", 0, &body), 401);
    ASSERT_HAS(body, "bad_signature");
    ASSERT_LACKS(body, "response_type");
    ASSERT_LACKS(body, "windows");
    free(body);
    ck_assert_int_eq(command_raw(&e, APPROVER, "help", SLACK_SECRET, -301, &body), 401);
    ASSERT_HAS(body, "bad_signature");
    ASSERT_LACKS(body, "response_type");
    free(body);
    ck_assert_int_eq(command_raw(&e, APPROVER, "help", SLACK_SECRET, 301, &body), 401);
    ASSERT_LACKS(body, "response_type");
    free(body);
    /* Inside the window it is fine. */
    ck_assert_int_eq(command_raw(&e, APPROVER, "help", SLACK_SECRET, -240, &body), 200);
    ASSERT_HAS(body, "ephemeral");
    free(body);
    /* Signed, but not a command Slack would send. */
    {
        char url[128], ts[32], sig[80], h_ts[96], h_sig[120];
        const char *headers[] = {h_ts, h_sig, NULL};
        const char form[] = "text=help&command=%2Fzoneci";
        ts_response r;

        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
        ts_slack_signature(SLACK_SECRET, ts, form, strlen(form), sig);
        snprintf(h_ts, sizeof(h_ts), "X-Slack-Request-Timestamp: %s", ts);
        snprintf(h_sig, sizeof(h_sig), "X-Slack-Signature: %s", sig);
        snprintf(url, sizeof(url), "%s/webhooks/slack/commands", e.base);
        ck_assert_int_eq(ts_http("POST", url, headers, form, strlen(form), &r), 0);
        ck_assert_int_eq(r.status, 400);
        ASSERT_HAS(r.body, "user_id");
        ts_response_free(&r);
    }
    env_stop(&e);
}
END_TEST

START_TEST(unknown_sub_commands_get_the_help)
{
    env e;
    char *text;

    env_start(&e, WITH_ALWAYS);
    text = command(&e, APPROVER, "deploy <!here> & now");
    ASSERT_HAS(text, "Unknown sub-command `deploy`");
    assert_help(text);
    free(text);
    /* What is echoed back is escaped. */
    text = command(&e, APPROVER, "<!here>&x");
    ASSERT_HAS(text, "`&lt;!here&gt;&amp;x`");
    ASSERT_LACKS(text, "<!here>");
    assert_help(text);
    free(text);
    env_stop(&e);
}
END_TEST

START_TEST(windows_lists_every_region)
{
    env e;
    char *text, *row;

    env_start(&e, WITH_ALWAYS);
    text = command(&e, OTHER, "  Windows ");
    ASSERT_HAS(text, "```");
    ASSERT_HAS(text, "REGION");
    ASSERT_HAS(text, "NEXT CHANGE");
    row = line_of(text, "always ");
    ck_assert_msg(row != NULL, "no row for always in:\n%s", text);
    ASSERT_HAS(row, "Etc/UTC");
    ASSERT_HAS(row, " open ");
    ASSERT_HAS(row, "none within a year");
    free(row);
    row = line_of(text, "never ");
    ck_assert_msg(row != NULL, "no row for never in:\n%s", text);
    ASSERT_HAS(row, " closed ");
    ASSERT_HAS(row, "none within a year");
    free(row);
    row = line_of(text, "later ");
    ck_assert_msg(row != NULL, "no row for later in:\n%s", text);
    ASSERT_HAS(row, " closed ");
    ASSERT_HAS(row, "opens 00:00 UTC, in ");
    free(row);
    /* The same table as `zoneci windows` prints (its rows, past the instant line). */
    {
        char *argv[] = {"windows", "--config", e.config, NULL}, *out = NULL, *err = NULL;

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 0);
        row = line_of(out, "never ");
        ck_assert_ptr_nonnull(row);
        ASSERT_HAS(text, row);
        free(row);
        row = line_of(out, "REGION ");
        ASSERT_HAS(text, row);
        free(row);
        free(out);
        free(err);
    }
    free(text);
    env_stop(&e);
}
END_TEST

START_TEST(status_tells_what_a_pr_waits_for)
{
    env e;
    char id[32], *text, want[160];

    env_start(&e, WITH_ALWAYS);
    risky_job(&e, 42, HOSTILE_TITLE, id);
    text = command(&e, OTHER, "status acme/app#42");
    ASSERT_HAS(text, "*acme/app#42*");
    /* The title, escaped: no broadcast, no link. */
    ASSERT_HAS(text, "&lt;!channel&gt; drop &amp; &lt;https://evil.example|click me&gt;");
    ASSERT_LACKS(text, "<!channel>");
    ASSERT_LACKS(text, "<https://evil");
    ASSERT_HAS(text, "(by octocat)");
    snprintf(want, sizeof(want),
             "Job %s: *awaiting_approval*, region not chosen yet, approval asked in *always*\n",
             id);
    ASSERT_HAS(text, want);
    ASSERT_HAS(text, "Reason: awaiting approval: high-risk migration");
    ASSERT_HAS(text, "Findings: 1 danger, 0 warning, 1 info (risk high)");
    /* Most severe first, each with its rule and place. */
    ASSERT_HAS(text, "• danger `ban-drop-column` db/002_drop_email.sql:1\n");
    ck_assert(strstr(text, "• info `") && strstr(text, "• danger") < strstr(text, "• info `"));
    /* Who can approve: the approvers the buttons accept, never the author (UAUTHOR1 is
     * octocat through `people`). */
    ASSERT_HAS(text, "*Waiting for approval* by one of: <@" APPROVER ">, <@" ONCALL ">");
    ASSERT_LACKS(text, AUTHOR);
    snprintf(want, sizeof(want), "<https://zoneci.example/jobs/%s|Job page>", id);
    ASSERT_HAS(text, want);
    free(text);

    /* The pull request's URL, in Slack's link brackets too, says the same. */
    text = command(&e, OTHER, "STATUS <https://github.com/acme/app/pull/42>");
    snprintf(want, sizeof(want), "Job %s: *awaiting_approval*", id);
    ASSERT_HAS(text, want);
    free(text);

    /* After a click on the card's Approve: who decided, as a mention. */
    approve_by_click(&e, id, APPROVER);
    text = command(&e, OTHER, "status acme/app#42");
    ASSERT_HAS(text, "Approved by <@" APPROVER ">");
    ASSERT_LACKS(text, "Waiting for approval");
    free(text);
    env_stop(&e);
}
END_TEST

START_TEST(status_of_unknown_or_malformed_prs)
{
    env e;
    char *text;

    env_start(&e, WITH_ALWAYS);
    text = command(&e, OTHER, "status acme/app#999");
    ASSERT_HAS(text, "no job for *acme/app#999*");
    free(text);
    text = command(&e, OTHER, "status acme/app");
    ASSERT_HAS(text, "`OWNER/REPO#NUMBER`");
    ASSERT_HAS(text, "https://github.com/acme/app/pull/42");
    free(text);
    text = command(&e, OTHER, "status");
    ASSERT_HAS(text, "`OWNER/REPO#NUMBER`");
    free(text);
    env_stop(&e);
}
END_TEST

START_TEST(oncall_names_people_and_the_awake_region)
{
    env e;
    char *text, *row;

    env_start(&e, WITH_ALWAYS);
    text = command(&e, OTHER, "oncall");
    row = line_of(text, "• *always*");
    ck_assert_msg(row != NULL, "no always in:\n%s", text);
    ASSERT_HAS(row, "open (none within a year)");
    ASSERT_HAS(row, "on call: <@" ONCALL ">, <@" APPROVER ">");
    free(row);
    row = line_of(text, "• *never*");
    ck_assert_msg(row != NULL, "no never in:\n%s", text);
    ASSERT_HAS(row, "closed (none within a year)");
    ASSERT_HAS(row, "on call: nobody listed");
    free(row);
    row = line_of(text, "• *later*");
    ck_assert_msg(row != NULL, "no later in:\n%s", text);
    ASSERT_HAS(row, "closed (opens 00:00 UTC, in ");
    ASSERT_HAS(row, "on call: <@" APPROVER ">");
    free(row);
    ASSERT_HAS(text, "Awake now: *always*.");
    free(text);
    env_stop(&e);
}
END_TEST

START_TEST(oncall_with_every_region_closed_says_which_opens_next)
{
    env e;
    char *text;

    env_start(&e, NONE_OPEN);
    text = command(&e, OTHER, "oncall");
    ASSERT_HAS(text, "No region is awake now; the next to open is *later*: opens 00:00 UTC, in ");
    ASSERT_LACKS(text, "Awake now");
    free(text);
    env_stop(&e);
}
END_TEST

START_TEST(without_slack_the_endpoint_is_off)
{
    env e;
    char *body = NULL;

    env_start(&e, NO_SLACK);
    ck_assert_int_eq(command_raw(&e, OTHER, "help", SLACK_SECRET, 0, &body), 404);
    ASSERT_HAS(body, "slack_disabled");
    free(body);
    env_stop(&e);
}
END_TEST

START_TEST(redis_down_is_still_an_answer)
{
    env e;
    char *text;

    env_start(&e, WITH_ALWAYS);
    ts_redis_stop(e.redis);
    text = command(&e, OTHER, "status acme/app#42");
    ASSERT_HAS(text, "zoneci cannot reach Redis right now");
    ASSERT_HAS(text, "*acme/app#42*");
    free(text);
    /* What needs no Redis still works. */
    text = command(&e, OTHER, "windows");
    ASSERT_HAS(text, "REGION");
    free(text);
    env_stop(&e);
}
END_TEST

Suite *suite_e2e_slash(void)
{
    Suite *s = suite_create("e2e_slash");
    TCase *tc = tcase_create("slash");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, signed_commands_are_answered_forged_and_stale_are_not);
    tcase_add_test(tc, unknown_sub_commands_get_the_help);
    tcase_add_test(tc, windows_lists_every_region);
    tcase_add_test(tc, status_tells_what_a_pr_waits_for);
    tcase_add_test(tc, status_of_unknown_or_malformed_prs);
    tcase_add_test(tc, oncall_names_people_and_the_awake_region);
    tcase_add_test(tc, oncall_with_every_region_closed_says_which_opens_next);
    tcase_add_test(tc, without_slack_the_endpoint_is_off);
    tcase_add_test(tc, redis_down_is_still_an_answer);
    suite_add_tcase(s, tc);
    return s;
}
