/* scheduler/approval.c against a real redis-server, with injected instants: the region
 * that approves (open now, else opening first), the card a job awaiting approval records
 * with its outbox message, escalation to the next region after escalate_after_minutes
 * (once, however many processes race), the decision ending it, and the decider's local
 * time. A clone URL that cannot be fetched makes the inspection fail safe into
 * approval, so no git repository is needed here (tests/e2e has the real ones). */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_approval.h"
#include "scheduler/sched_outbox.h"
#include "tests/support/support.h"

#define RACERS 8

/* Winter: Tokyo 09-18 JST = 00-09Z; Berlin 09-18 CET = 08-17Z; Seattle 09-17 PST =
 * 17-01Z. Monday 2026-03-02. */
static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"slack\": {\"signing_secret_env\": \"X\", \"bot_token_env\": \"Y\"},\n"
    " \"github\": {\"allow_local_repos\": true},\n"
    " \"regions\": [\n"
    "  {\"name\": \"apac-tokyo\", \"timezone\": \"Asia/Tokyo\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"],\n"
    "   \"slack_channel\": \"CTOKYO\", \"oncall\": [\"UDBA1\", \"UDBA9\"]},\n"
    "  {\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"],\n"
    "   \"slack_channel\": \"CBERLIN\", \"oncall\": [\"UDBA2\"]},\n"
    "  {\"name\": \"amer-seattle\", \"timezone\": \"America/Los_Angeles\",\n"
    "   \"hours\": [\"Mon-Fri 09:00-17:00\"], \"oncall\": [\"UDBA3\"]}],\n"
    " \"policies\": [{\"repos\": [\"acme/*\"],\n"
    "   \"regions\": [\"apac-tokyo\", \"emea-berlin\", \"amer-seattle\"],\n"
    "   \"migrations\": {\"paths\": [\"db/*.sql\"], \"approval\": \"always\",\n"
    "                  \"approvers\": [\"UDBA1\", \"UDBA2\"], \"escalate_after_minutes\": 30}}],\n"
    " \"people\": [{\"github\": \"dba-one\", \"slack\": \"UDBA1\"}]}\n";

static ts_sched fx;

static void setup(void)
{
    ts_sched_start(&fx, "ap", config_text);
}

static void teardown(void)
{
    ts_sched_stop(&fx);
}

/* A job of a repository that cannot be fetched: after its retries (1 s, 2 s) the
 * inspection fails safe and the job awaits approval, from `at` + 3 s on. */
static void awaiting_job(const char *at, char id[32])
{
    sched_pr_ref ref = {.installation_id = 42,
                        .repo = "acme/api",
                        .pr = 7,
                        .head_sha = "abc1234abc1234abc1234abc1234abc1234abc1",
                        .base_sha = "def5678def5678def5678def5678def5678def5",
                        .title = "Drop a column",
                        .author = "octocat",
                        .clone_url = "/nonexistent/zoneci-test-repo.git"};
    sched_inspect_result res;
    sched_intake in;
    core_error err;
    int64_t t = ts_iso(at);

    ck_assert_int_eq(sched_intake_pull_request(fx.store, "d-1", &ref, t, &in, &err), 0);
    memcpy(id, in.job_id, 32);
    for (int64_t step = 0; step <= 3000; step += 1000) {
        ck_assert_msg(sched_inspect_one(fx.store, (const sched_plan *const *)&fx.plan, NULL, NULL,
                                        t + step, &res, &err) == 0,
                      "%s", err.msg);
    }
    ck_assert_str_eq(res.outcome, "approve");
}

static char *hget(const char *id, const char *field)
{
    char args[128];

    snprintf(args, sizeof(args), "HGET '{ap}:job:%s' '%s'", id, field);
    return ts_redis_cli(fx.redis, args);
}

static void assert_field(const char *id, const char *field, const char *want)
{
    char *got = hget(id, field);

    ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", field, got, want);
    free(got);
}

/* Payloads of the pending outbox messages of kind, one per line, oldest first. */
static char *outbox_of(const char *kind)
{
    char *ids = ts_redis_cli(fx.redis, "ZRANGE '{ap}:outbox:due' 0 -1");
    core_buf out = {0};
    char *save = NULL;

    for (char *id = strtok_r(ids, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
        char args[96], *k, *p;

        snprintf(args, sizeof(args), "HGET '{ap}:outbox:%s' kind", id);
        k = ts_redis_cli(fx.redis, args);
        if (strcmp(k, kind) == 0) {
            snprintf(args, sizeof(args), "HGET '{ap}:outbox:%s' payload", id);
            p = ts_redis_cli(fx.redis, args);
            core_buf_printf(&out, "%s\n", p);
            free(p);
        }
        free(k);
    }
    free(ids);
    return out.data ? out.data : strdup("");
}

static size_t escalate_all(const char *at)
{
    size_t n = 0;
    core_error err;

    ck_assert_msg(sched_escalate_due(fx.store, fx.plan, ts_iso(at), &n, &err) == 0, "%s", err.msg);
    return n;
}

START_TEST(approving_region_is_open_now_else_opens_first)
{
    int64_t opens;
    bool skip[3] = {true, false, false};

    /* Monday 10:00 JST: Tokyo is open. */
    ck_assert_int_eq(
        sched_approval_region(fx.plan, "acme/api", ts_iso("2026-03-02T01:00:00Z"), NULL, &opens),
        0);
    ck_assert_int_eq(opens, ts_iso("2026-03-02T01:00:00Z"));
    /* Monday 12:00Z: Tokyo closed, Berlin open though second in the policy. */
    ck_assert_int_eq(
        sched_approval_region(fx.plan, "acme/api", ts_iso("2026-03-02T12:00:00Z"), NULL, &opens),
        1);
    /* Saturday: none open; Tokyo opens first (Monday 00:00Z), before Berlin and Seattle. */
    ck_assert_int_eq(
        sched_approval_region(fx.plan, "acme/api", ts_iso("2026-03-07T12:00:00Z"), NULL, &opens),
        0);
    ck_assert_int_eq(opens, ts_iso("2026-03-09T00:00:00Z"));
    /* Tokyo asked already, Monday 01:00Z: Berlin opens at 08:00Z, Seattle at 17:00Z. */
    ck_assert_int_eq(
        sched_approval_region(fx.plan, "acme/api", ts_iso("2026-03-02T01:00:00Z"), skip, &opens),
        1);
    ck_assert_int_eq(opens, ts_iso("2026-03-02T08:00:00Z"));
    ck_assert_int_eq(
        sched_approval_region(fx.plan, "other/repo", ts_iso("2026-03-02T01:00:00Z"), NULL, &opens),
        -1);
}
END_TEST

START_TEST(awaiting_job_records_its_card_and_posts_it)
{
    char id[32], *cards, *statuses, want[128];

    awaiting_job("2026-03-02T01:00:00Z", id);
    assert_field(id, "state", "awaiting_approval");
    assert_field(id, "cards", "1");
    assert_field(id, "card:0:region", "apac-tokyo");
    assert_field(id, "card:0:channel", "CTOKYO");
    assert_field(id, "card:0:mentions", "UDBA1,UDBA9");
    assert_field(id, "approval_region", "apac-tokyo");
    assert_field(id, "approval_oncall", "@dba-one, 1 more in Slack");
    {
        char *reason = hget(id, "reason"), *plan = hget(id, "approval_plan");

        ck_assert_msg(strstr(reason, "card to apac-tokyo (open now)"), "%s", reason);
        ck_assert_msg(strstr(plan, "once approved: queued in apac-tokyo"), "%s", plan);
        free(reason);
        free(plan);
    }
    cards = outbox_of("slack_card");
    snprintf(want, sizeof(want), "{\"job_id\":\"%s\",\"card\":0}\n", id);
    ck_assert_str_eq(cards, want);
    /* No GitHub App configured (config:statuses unset): no statuses. */
    statuses = outbox_of("github_status");
    ck_assert_str_eq(statuses, "");
    free(cards);
    free(statuses);
}
END_TEST

START_TEST(escalates_once_to_the_next_region_then_stops)
{
    char id[32], *cards, *updates, *due, args[64];
    core_buf b = {0};
    int escalations = 0;
    pid_t kids[RACERS];

    awaiting_job("2026-03-02T01:00:00Z", id);
    snprintf(args, sizeof(args), "ZSCORE '{ap}:escalate' %s", id);
    due = ts_redis_cli(fx.redis, args);
    ck_assert_int_eq(strtoll(due, NULL, 10), ts_iso("2026-03-02T01:30:03Z"));
    free(due);
    ck_assert_int_eq(escalate_all("2026-03-02T01:30:00Z"), 0);
    /* Due now: processes race, one escalates. */
    for (int k = 0; k < RACERS; k++) {
        kids[k] = fork();
        ck_assert(kids[k] >= 0);
        if (kids[k] == 0) {
            sched_store *s;
            sched_store_options so = {.url = fx.redis->url, .prefix = "ap", .pool_size = 1};
            size_t n = 0;

            if (sched_store_new(&s, &so, NULL) < 0 ||
                sched_escalate_due(s, fx.plan, ts_iso("2026-03-02T01:31:00Z"), &n, NULL) < 0)
                _exit(255);
            sched_store_free(s);
            _exit((int)n);
        }
    }
    for (int k = 0; k < RACERS; k++) {
        int st;

        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 255);
        escalations += WEXITSTATUS(st);
    }
    ck_assert_int_eq(escalations, 1);
    assert_field(id, "cards", "2");
    assert_field(id, "card:1:region", "emea-berlin");
    assert_field(id, "card:1:channel", "CBERLIN");
    assert_field(id, "approval_region", "emea-berlin");
    cards = outbox_of("slack_card");
    updates = outbox_of("slack_card_update");
    ck_assert_msg(strstr(cards, "\"card\":1}"), "%s", cards);
    /* The first card is updated to say where it went. */
    snprintf(args, sizeof(args), "{\"job_id\":\"%s\",\"cards\":1}\n", id);
    ck_assert_str_eq(updates, args);
    free(cards);
    free(updates);
    ck_assert_int_eq(sched_job_json(fx.store, id, &b, NULL), 0);
    ck_assert_msg(strstr(b.data, "escalated: no decision after 30 minutes in apac-tokyo; asking "
                                 "emea-berlin (opens 09:00 UTC+1, in 6h 29m)"),
                  "%s", b.data);
    core_buf_free(&b);
    /* Next: Seattle, which has no channel: recorded, not posted. Then nowhere left. */
    ck_assert_int_eq(escalate_all("2026-03-02T02:02:00Z"), 1);
    assert_field(id, "card:2:region", "amer-seattle");
    assert_field(id, "card:2:channel", "");
    ck_assert_int_eq(escalate_all("2026-03-02T02:33:00Z"), 0);
    due = ts_redis_cli(fx.redis, "ZCARD '{ap}:escalate'");
    ck_assert_str_eq(due, "0");
    free(due);
    assert_field(id, "cards", "3");
}
END_TEST

START_TEST(decision_updates_cards_and_ends_escalation)
{
    char id[32], state[32], when[64], *updates, *due, want[96];
    core_error err;

    awaiting_job("2026-03-02T01:00:00Z", id);
    ck_assert_int_eq(escalate_all("2026-03-02T01:31:00Z"), 1);
    sched_approval_local_time(fx.plan, "UDBA2", "emea-berlin", ts_iso("2026-03-02T01:40:00Z"),
                              when);
    ck_assert_str_eq(when, "2026-03-02 02:40 UTC+1");
    ck_assert_msg(sched_job_decide(fx.store, id, true, "UDBA2", "approved by UDBA2", when,
                                   ts_iso("2026-03-02T01:40:00Z"), state, &err) == 0,
                  "%s", err.msg);
    assert_field(id, "decision", "approved");
    assert_field(id, "decided_by", "UDBA2");
    assert_field(id, "decided_local", "2026-03-02 02:40 UTC+1");
    due = ts_redis_cli(fx.redis, "ZCARD '{ap}:escalate'");
    ck_assert_str_eq(due, "0");
    free(due);
    updates = outbox_of("slack_card_update");
    snprintf(want, sizeof(want), "{\"job_id\":\"%s\",\"cards\":2}\n", id);
    ck_assert_msg(strstr(updates, want), "%s", updates);
    free(updates);
    /* Later passes change nothing. */
    ck_assert_int_eq(escalate_all("2026-03-02T05:00:00Z"), 0);
    assert_field(id, "cards", "2");
}
END_TEST

/* The card key is checked inside the decide script: a card of an earlier job with the
 * same id (Redis wiped since) or an old card without a key decides nothing. */
START_TEST(decision_needs_the_card_key)
{
    char id[32], state[32], *key, wrong[SCHED_CARD_KEY_LEN + 1], args[96], *v;
    core_error err = {0};
    int64_t at = ts_iso("2026-03-02T01:40:00Z");

    awaiting_job("2026-03-02T01:00:00Z", id);
    key = hget(id, "card_key");
    ck_assert_uint_eq(strlen(key), SCHED_CARD_KEY_LEN);
    ck_assert_uint_eq(strspn(key, "0123456789abcdef"), SCHED_CARD_KEY_LEN);
    snprintf(wrong, sizeof(wrong), "%s", key);
    wrong[0] = wrong[0] == '0' ? '1' : '0';

    ck_assert_int_eq(sched_job_decide_card(fx.store, id, wrong, true, "UDBA2", "approved by UDBA2",
                                           "x", at, state, &err),
                     CORE_EAUTH);
    ck_assert_msg(strstr(err.msg, "out of date"), "%s", err.msg);
    ck_assert_str_eq(state, "awaiting_approval");
    ck_assert_int_eq(sched_job_decide_card(fx.store, id, "", false, "UDBA2", "rejected by UDBA2",
                                           "x", at, state, &err),
                     CORE_EAUTH);
    assert_field(id, "decision", "");
    v = ts_redis_cli(fx.redis, "SCARD '{ap}:routing'");
    ck_assert_str_eq(v, "0");
    free(v);

    ck_assert_msg(sched_job_decide_card(fx.store, id, key, true, "UDBA2", "approved by UDBA2", "x",
                                        at, state, &err) == 0,
                  "%s", err.msg);
    assert_field(id, "decision", "approved");
    /* Still out of date after the decision: the key is checked first. */
    ck_assert_int_eq(
        sched_job_decide_card(fx.store, id, wrong, false, "UDBA2", "r", "x", at, state, &err),
        CORE_EAUTH);
    free(key);

    /* A job from before card keys (Redis wiped, the job made again without one): only a
     * card without a key decides it. */
    v = ts_redis_cli(fx.redis, "FLUSHALL");
    free(v);
    awaiting_job("2026-03-02T01:00:00Z", id);
    snprintf(args, sizeof(args), "HDEL '{ap}:job:%s' card_key", id);
    v = ts_redis_cli(fx.redis, args);
    free(v);
    ck_assert_int_eq(
        sched_job_decide_card(fx.store, id, wrong, false, "UDBA2", "r", "x", at, state, &err),
        CORE_EAUTH);
    ck_assert_msg(sched_job_decide_card(fx.store, id, "", false, "UDBA2", "rejected by UDBA2", "x",
                                        at, state, &err) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(state, "rejected");
}
END_TEST

START_TEST(decider_local_time)
{
    char when[64];
    int64_t t = ts_iso("2026-03-30T10:30:00Z"); /* Berlin on summer time since 03-29 */

    /* On call in Tokyo (and the approving region is Berlin): their own region wins only
     * when they are not on call where the card is. */
    sched_approval_local_time(fx.plan, "UDBA1", "emea-berlin", t, when);
    ck_assert_str_eq(when, "2026-03-30 19:30 UTC+9");
    sched_approval_local_time(fx.plan, "UDBA2", "apac-tokyo", t, when);
    ck_assert_str_eq(when, "2026-03-30 12:30 UTC+2");
    /* Not on call anywhere: the approving region's time, else UTC. */
    sched_approval_local_time(fx.plan, "UNOBODY", "amer-seattle", t, when);
    ck_assert_str_eq(when, "2026-03-30 03:30 PDT");
    sched_approval_local_time(fx.plan, "operator", NULL, t, when);
    ck_assert_str_eq(when, "2026-03-30 10:30 UTC");
}
END_TEST

/* Takes the next message at `at`; its kind and payload, or "" when nothing is due. */
static void take(const char *at, sched_outbox_msg *m)
{
    core_error err;

    ck_assert_msg(sched_outbox_take(fx.store, ts_iso(at), 60000, m, &err) == 0, "%s", err.msg);
}

START_TEST(statuses_of_one_commit_go_out_in_order)
{
    static const char *const want[] = {
        "Pull request #7 at abc1234", "Reading the pull request diff",
        "Awaiting approval in apac-tokyo (on call: @dba-one, 1 more in Slack)"};
    char id[32], first_id[32] = "", first_token[40] = "", *v;
    sched_outbox_msg m;
    size_t n_status = 0, n_card = 0, n_check = 0;
    core_error err;

    v = ts_redis_cli(fx.redis, "SET '{ap}:config:statuses' 1");
    free(v);
    v = ts_redis_cli(fx.redis, "SET '{ap}:config:public_url' https://ci.example");
    free(v);
    awaiting_job("2026-03-02T01:00:00Z", id);
    /* Everything is due, but of the three statuses only the oldest can go; the card has
     * an order of its own, and so have the check run's two messages (only the first can
     * go). */
    for (int i = 0; i < 4; i++) {
        take("2026-03-02T01:00:05Z", &m);
        if (!m.found)
            break;
        if (strcmp(m.kind, "github_status") == 0) {
            ck_assert_msg(strstr(m.payload, want[0]), "%s", m.payload);
            {
                /* Details opens the read-only job page, not the operators' API. */
                char url_plain[64], url_esc[64];

                snprintf(url_plain, sizeof(url_plain), "ci.example/jobs/%s\"", id);
                snprintf(url_esc, sizeof(url_esc), "ci.example\\/jobs\\/%s\"", id);
                ck_assert_msg(strstr(m.payload, url_plain) || strstr(m.payload, url_esc), "%s",
                              m.payload);
            }
            memcpy(first_id, m.id, sizeof(first_id));
            memcpy(first_token, m.token, sizeof(m.token));
            n_status++;
        } else if (strcmp(m.kind, "github_check") == 0) {
            char want_job[48];

            snprintf(want_job, sizeof(want_job), "{\"job_id\":\"%s\"}", id);
            ck_assert_str_eq(m.payload, want_job);
            n_check++;
        } else {
            ck_assert_str_eq(m.kind, "slack_card");
            n_card++;
        }
        sched_outbox_msg_free(&m);
    }
    ck_assert_int_eq(n_status, 1);
    ck_assert_int_eq(n_card, 1);
    ck_assert_int_eq(n_check, 1);
    /* Done with the first: the second, and only then the third. */
    ck_assert_msg(sched_outbox_done(fx.store, first_id, first_token, ts_iso("2026-03-02T01:00:06Z"),
                                    &err) == 0,
                  "%s", err.msg);
    for (int i = 1; i < 3; i++) {
        sched_outbox_msg next;

        take("2026-03-02T01:00:07Z", &m);
        ck_assert(m.found);
        ck_assert_msg(strstr(m.payload, want[i]), "want %s: %s", want[i], m.payload);
        take("2026-03-02T01:00:07Z", &next);
        ck_assert_msg(!next.found, "a later status was taken before %s", want[i]);
        ck_assert_int_eq(
            sched_outbox_done(fx.store, m.id, m.token, ts_iso("2026-03-02T01:00:08Z"), &err), 0);
        sched_outbox_msg_free(&m);
    }
}
END_TEST

START_TEST(superseded_job_updates_its_cards_and_stops_escalating)
{
    sched_pr_ref newer = {.repo = "acme/api",
                          .pr = 7,
                          .head_sha = "fff1234fff1234fff1234fff1234fff1234fff12",
                          .base_sha = "def5678def5678def5678def5678def5678def5",
                          .title = "Drop a column, take 2",
                          .author = "octocat"};
    char id[32], want[96], *updates, *due;
    sched_intake in;
    core_error err;

    awaiting_job("2026-03-02T01:00:00Z", id);
    ck_assert_int_eq(sched_intake_pull_request(fx.store, "d-2", &newer,
                                               ts_iso("2026-03-02T01:10:00Z"), &in, &err),
                     0);
    ck_assert_str_eq(in.superseded_id, id);
    assert_field(id, "state", "superseded");
    updates = outbox_of("slack_card_update");
    snprintf(want, sizeof(want), "{\"job_id\":\"%s\",\"cards\":1}\n", id);
    ck_assert_str_eq(updates, want);
    free(updates);
    due = ts_redis_cli(fx.redis, "ZCARD '{ap}:escalate'");
    ck_assert_str_eq(due, "0");
    free(due);
}
END_TEST

/* The same configuration without its `slack` section. */
static void setup_no_slack(void)
{
    const char *line = strstr(config_text, " \"slack\":");
    const char *end = strchr(line, '\n') + 1;
    char text[sizeof(config_text)];

    snprintf(text, sizeof(text), "%.*s%s", (int)(line - config_text), config_text, end);
    ck_assert_ptr_null(strstr(text, "\"slack\": {"));
    ts_sched_start(&fx, "ap", text);
}

/* Without Slack no card is queued, and neither escalation, a decision nor (next test) a
 * superseding push queues a card update (each would retry ten times and die): the regions asked are
 * still recorded, the job's JSON says `cards: 0`, and an operator decides through the API. */
START_TEST(without_slack_no_card_work_is_queued)
{
    char id[32], state[32], *cards, *updates, *reason;
    core_error err;
    core_buf json = {0};
    json_t *j;

    awaiting_job("2026-03-02T01:00:00Z", id);
    assert_field(id, "cards", "1");
    assert_field(id, "cards_sent", "0");
    assert_field(id, "card:0:region", "apac-tokyo");
    assert_field(id, "card:0:channel", "");
    reason = hget(id, "reason");
    ck_assert_msg(strstr(reason, "no slack is configured"), "%s", reason);
    free(reason);
    ck_assert_int_eq(escalate_all("2026-03-02T01:31:00Z"), 1);
    assert_field(id, "cards", "2");
    assert_field(id, "card:1:region", "emea-berlin");
    ck_assert_msg(sched_job_json(fx.store, id, &json, &err) == 0, "%s", err.msg);
    j = json_loads(json.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cards")), 0);
    json_decref(j);
    core_buf_free(&json);
    ck_assert_msg(sched_job_decide(fx.store, id, true, "dba-lead (API)",
                                   "approved by dba-lead (API)", "2026-03-02 10:40 UTC+9",
                                   ts_iso("2026-03-02T01:40:00Z"), state, &err) == 0,
                  "%s", err.msg);
    assert_field(id, "decision", "approved");
    cards = outbox_of("slack_card");
    updates = outbox_of("slack_card_update");
    ck_assert_str_eq(cards, "");
    ck_assert_str_eq(updates, "");
    free(cards);
    free(updates);
}
END_TEST

START_TEST(without_slack_superseding_queues_no_card_update)
{
    sched_pr_ref newer = {.installation_id = 42,
                          .repo = "acme/api",
                          .pr = 7,
                          .head_sha = "fff1234abc1234abc1234abc1234abc1234abc1",
                          .base_sha = "def5678def5678def5678def5678def5678def5",
                          .title = "Drop a column, again",
                          .author = "octocat",
                          .clone_url = "/nonexistent/zoneci-test-repo.git"};
    char id[32], *updates;
    sched_intake in;
    core_error err;

    awaiting_job("2026-03-02T01:00:00Z", id);
    ck_assert_int_eq(sched_intake_pull_request(fx.store, "d-2", &newer,
                                               ts_iso("2026-03-02T01:10:00Z"), &in, &err),
                     0);
    ck_assert_str_eq(in.superseded_id, id);
    assert_field(id, "state", "superseded");
    updates = outbox_of("slack_card_update");
    ck_assert_str_eq(updates, "");
    free(updates);
}
END_TEST

Suite *suite_scheduler_approval(void)
{
    Suite *s = suite_create("scheduler_approval");
    TCase *tc = tcase_create("approval");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, approving_region_is_open_now_else_opens_first);
    tcase_add_test(tc, awaiting_job_records_its_card_and_posts_it);
    tcase_add_test(tc, escalates_once_to_the_next_region_then_stops);
    tcase_add_test(tc, decision_updates_cards_and_ends_escalation);
    tcase_add_test(tc, decision_needs_the_card_key);
    tcase_add_test(tc, decider_local_time);
    tcase_add_test(tc, statuses_of_one_commit_go_out_in_order);
    tcase_add_test(tc, superseded_job_updates_its_cards_and_stops_escalating);
    suite_add_tcase(s, tc);
    tc = tcase_create("without_slack");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup_no_slack, teardown);
    tcase_add_test(tc, without_slack_no_card_work_is_queued);
    tcase_add_test(tc, without_slack_superseding_queues_no_card_update);
    suite_add_tcase(s, tc);
    return s;
}
