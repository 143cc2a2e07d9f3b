/* notifier/slack.c: the card builder (limits, cuts, escaping, buttons, later states) and
 * chat.postMessage / chat.update against a local ts_peer that plays Slack's Web API and
 * records what it receives. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "tests/support/support.h"

#define BOT_TOKEN "xoxb-1111-2222-SEKRETbotTOKEN"

/* ---- the card ---------------------------------------------------------------------------- */

static const char *const mentions[] = {"U0DBA1", "U0DBA2"};
static const char *const files[] = {"db/migrate/001_users.sql", "db/migrate/002_<orders>.sql"};

static notify_card base_card(void)
{
    notify_card c = {0};

    c.repo = "acme/api";
    c.pr_number = 77;
    c.title = "Add index & drop <legacy> column";
    c.pr_url = "https://github.com/acme/api/pull/77";
    c.author = "octocat";
    c.head_sha = "0123456789abcdef0123456789abcdef01234567";
    c.region = "apac-tokyo";
    c.plan = "apac-tokyo (open until 18:00 JST) -> emea-berlin";
    c.mentions = mentions;
    c.n_mentions = 2;
    c.files = files;
    c.n_files = 2;
    c.job_id = "j-20260309-0001";
    return c;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Walks every "text" string in v: all within Slack's cap; appends them to all. */
static void texts_check(json_t *v, core_buf *all)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, child)
        {
            if (strcmp(key, "text") == 0 && json_is_string(child)) {
                const char *s = json_string_value(child);

                ck_assert_msg(utf8_chars(s) <= NOTIFY_SLACK_MAX_TEXT, "text of %zu characters",
                              utf8_chars(s));
                core_buf_puts(all, s);
                core_buf_puts(all, "\n");
            } else {
                texts_check(child, all);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) texts_check(child, all);
    }
}

/* Builds the card, checks it is a JSON array within the limits, returns it and its text. */
static json_t *card_json(const notify_card *c, core_buf *all)
{
    core_buf b = {0};
    json_t *root;
    json_error_t jerr;

    ck_assert_int_eq(notify_slack_card(c, &b), 0);
    root = json_loadb(b.data, b.len, 0, &jerr);
    ck_assert_msg(root != NULL, "card is not json: %s", jerr.text);
    ck_assert(json_is_array(root));
    ck_assert_uint_le(json_array_size(root), NOTIFY_SLACK_MAX_BLOCKS);
    texts_check(root, all);
    core_buf_free(&b);
    return root;
}

static json_t *actions_of(json_t *blocks)
{
    size_t i;
    json_t *blk;

    json_array_foreach(blocks, i, blk)
    {
        if (strcmp(json_string_value(json_object_get(blk, "type")), "actions") == 0)
            return json_object_get(blk, "elements");
    }
    return NULL;
}

START_TEST(card_shows_everything_with_buttons)
{
    notify_card c = base_card();
    notify_finding f[] = {
        {"lock-table", "warning", "db/migrate/001_users.sql", 3, "LOCK TABLE users;", NULL, NULL,
         NULL},
        {"drop-column", "danger", "db/migrate/002_<orders>.sql", 12,
         "ALTER TABLE orders DROP COLUMN legacy;", "Stop reading the column first, then drop it",
         NULL, NULL},
    };
    core_buf all = {0};
    json_t *root, *el, *approve, *reject, *confirm;
    const char *danger, *warning;

    c.findings = f;
    c.n_findings = 2;
    root = card_json(&c, &all);
    ck_assert_msg(strstr(all.data, "acme/api #77"), "%s", all.data);
    ck_assert(strstr(all.data, "<https://github.com/acme/api/pull/77|#77 "));
    ck_assert(strstr(all.data, "octocat"));
    ck_assert(strstr(all.data, "`0123456`"));
    ck_assert(strstr(all.data, "0123456789") == NULL);
    ck_assert(strstr(all.data, "db/migrate/001_users.sql"));
    ck_assert(strstr(all.data, "apac-tokyo (open until 18:00 JST) -&gt; emea-berlin"));
    ck_assert(strstr(all.data, "<@U0DBA1> <@U0DBA2>"));
    ck_assert(strstr(all.data, "ALTER TABLE orders DROP COLUMN legacy;"));
    ck_assert(strstr(all.data, "Stop reading the column first"));
    ck_assert(strstr(all.data, "`drop-column` in `db/migrate/002_&lt;orders&gt;.sql:12`"));
    /* Most severe first. */
    danger = strstr(all.data, "drop-column");
    warning = strstr(all.data, "lock-table");
    ck_assert(danger && warning && danger < warning);

    el = actions_of(root);
    ck_assert_ptr_nonnull(el);
    ck_assert_uint_eq(json_array_size(el), 2);
    approve = json_array_get(el, 0);
    reject = json_array_get(el, 1);
    ck_assert_str_eq(json_string_value(json_object_get(approve, "action_id")), "zoneci_approve");
    ck_assert_str_eq(json_string_value(json_object_get(approve, "style")), "primary");
    ck_assert_str_eq(json_string_value(json_object_get(approve, "value")), "j-20260309-0001");
    ck_assert_str_eq(json_string_value(json_object_get(reject, "action_id")), "zoneci_reject");
    ck_assert_str_eq(json_string_value(json_object_get(reject, "style")), "danger");
    ck_assert_str_eq(json_string_value(json_object_get(reject, "value")), "j-20260309-0001");
    confirm = json_object_get(reject, "confirm");
    ck_assert_ptr_nonnull(confirm);
    ck_assert_ptr_nonnull(json_object_get(confirm, "title"));
    ck_assert_ptr_nonnull(json_object_get(confirm, "text"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(confirm, "confirm"), "text")), "Reject");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(confirm, "deny"), "text")),
                     "Cancel");
    ck_assert_ptr_null(json_object_get(approve, "confirm"));
    json_decref(root);
    core_buf_free(&all);
}
END_TEST

/* With a card key the buttons carry "JOB:KEY", so a card left over from before a Redis
 * wipe cannot decide the new job that got its id. */
START_TEST(card_buttons_carry_the_card_key)
{
    notify_card c = base_card();
    core_buf all = {0}, b = {0};
    char long_key[300];
    json_t *root, *el;

    c.job_id = "17";
    c.card_key = "0123456789abcdef";
    root = card_json(&c, &all);
    el = actions_of(root);
    ck_assert_ptr_nonnull(el);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(el, 0), "value")),
                     "17:0123456789abcdef");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(el, 1), "value")),
                     "17:0123456789abcdef");
    json_decref(root);
    core_buf_free(&all);

    /* "" is a job from before card keys: the bare id. */
    c.card_key = "";
    root = card_json(&c, &all);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(actions_of(root), 0), "value")), "17");
    json_decref(root);
    core_buf_free(&all);

    /* The whole value keeps to the value rule: 1..255 of [A-Za-z0-9._:-]. */
    c.card_key = "0123 4567";
    ck_assert_int_eq(notify_slack_card(&c, &b), CORE_EINVAL);
    memset(long_key, 'a', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    c.card_key = long_key;
    ck_assert_int_eq(notify_slack_card(&c, &b), CORE_EINVAL);
    long_key[255 - 3] = '\0'; /* "17:" and 252 characters: 255 in all */
    ck_assert_int_eq(notify_slack_card(&c, &b), 0);
    core_buf_free(&b);
}
END_TEST

START_TEST(card_escapes_markup)
{
    notify_card c = base_card();
    notify_finding f = {
        "r",  "danger", "a.sql", 1, "SELECT '<!channel>' & 1 > 0; -- ```x```", "use <b> & co",
        NULL, NULL};
    core_buf all = {0};
    json_t *root;

    c.title = "<!channel> <@U0EVIL> & <https://evil.example|click>";
    c.author = "<!here>";
    c.plan = "a < b && c > d";
    c.pr_url = "https://github.com/acme/api/pull/77?x=1|<evil>";
    c.findings = &f;
    c.n_findings = 1;
    root = card_json(&c, &all);
    ck_assert(strstr(all.data, "<!channel>") == NULL);
    ck_assert(strstr(all.data, "<!here>") == NULL);
    ck_assert(strstr(all.data, "<@U0EVIL>") == NULL);
    ck_assert(strstr(all.data, "<https://evil") == NULL);
    ck_assert(strstr(all.data, "&lt;!channel&gt; &lt;@U0EVIL&gt; &amp; &lt;https://evil.example|"));
    ck_assert(strstr(all.data, "a &lt; b &amp;&amp; c &gt; d"));
    ck_assert(strstr(all.data, "&lt;b&gt; &amp; co"));
    /* The link cannot be ended early by its own URL. */
    ck_assert_msg(strstr(all.data, "<https://github.com/acme/api/pull/77?x=1%7C&lt;evil&gt;|#77"),
                  "%s", all.data);
    /* Code blocks cannot be closed by the statement. */
    ck_assert(strstr(all.data, "'''x'''"));
    json_decref(root);
    core_buf_free(&all);

    /* Ids that would be markup are refused outright. */
    {
        const char *bad[] = {"U0DBA1> <!channel"};
        core_buf b = {0};

        c = base_card();
        c.mentions = bad;
        c.n_mentions = 1;
        ck_assert_int_eq(notify_slack_card(&c, &b), CORE_EINVAL);
        c = base_card();
        c.job_id = "j 1";
        ck_assert_int_eq(notify_slack_card(&c, &b), CORE_EINVAL);
        c.job_id = NULL;
        ck_assert_int_eq(notify_slack_card(&c, &b), CORE_EINVAL);
        c = base_card();
        c.repo = NULL;
        ck_assert_int_eq(notify_slack_card(&c, &b), CORE_EINVAL);
        core_buf_free(&b);
    }
}
END_TEST

START_TEST(card_within_limits_for_200_findings)
{
    notify_card c = base_card();
    notify_finding *f = calloc(200, sizeof(*f));
    const char **many = calloc(400, sizeof(*many));
    const char **people = calloc(300, sizeof(*people));
    char(*paths)[80] = calloc(400, sizeof(*paths));
    char(*ids)[16] = calloc(300, sizeof(*ids));
    char *stmt = malloc(20001), *title = malloc(5001);
    core_buf all = {0};
    json_t *root;
    char more[64];

    memset(stmt, 'x', 20000);
    stmt[20000] = '\0';
    memset(title, 't', 5000);
    title[5000] = '\0';
    for (int i = 0; i < 400; i++) {
        snprintf(paths[i], sizeof(paths[i]), "db/migrate/%04d_a_rather_long_migration_name.sql", i);
        many[i] = paths[i];
    }
    for (int i = 0; i < 300; i++) {
        snprintf(ids[i], sizeof(ids[i]), "U%09d", i);
        people[i] = ids[i];
    }
    for (int i = 0; i < 200; i++)
        f[i] = (notify_finding){
            "big-rewrite", i % 2 ? "danger" : "warning", paths[i], i + 1, stmt, stmt, NULL, NULL};
    c.title = title;
    c.plan = stmt;
    c.findings = f;
    c.n_findings = 200;
    c.files = many;
    c.n_files = 400;
    c.mentions = people;
    c.n_mentions = 300;
    root = card_json(&c, &all);
    snprintf(more, sizeof(more),
             "\xe2\x80\xa6"
             "and %d more findings",
             200 - NOTIFY_SLACK_MAX_FINDINGS);
    ck_assert_msg(strstr(all.data, more), "no '%s'", more);
    ck_assert_msg(strstr(all.data, "more files"), "files not cut");
    ck_assert(strstr(all.data, "\xe2\x80\xa6"
                               "and ") != NULL);
    /* Findings shown are the dangerous ones. */
    ck_assert(strstr(all.data, ":large_orange_circle:") == NULL);
    ck_assert_ptr_nonnull(actions_of(root));
    json_decref(root);
    core_buf_free(&all);
    free(f);
    free(many);
    free(people);
    free(paths);
    free(ids);
    free(stmt);
    free(title);
}
END_TEST

START_TEST(card_counts_what_is_cut)
{
    notify_card c = base_card();
    const char **many = calloc(100, sizeof(*many));
    char(*paths)[300] = calloc(100, sizeof(*paths));
    core_buf all = {0};
    json_t *root;
    const char *p;
    int shown = 0, more = 0;

    /* 100 paths of ~200 characters: about 14 fit in 3,000. */
    for (int i = 0; i < 100; i++) {
        snprintf(paths[i], sizeof(paths[i]), "db/%03d/%0196d.sql", i, 0);
        many[i] = paths[i];
    }
    c.files = many;
    c.n_files = 100;
    root = card_json(&c, &all);
    for (p = all.data; (p = strstr(p, "\xe2\x80\xa2 `db/")); p++)
        shown++;
    p = strstr(all.data, "\xe2\x80\xa6"
                         "and ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p + 3, "and %d more files", &more), 1);
    ck_assert_int_gt(shown, 5);
    ck_assert_int_eq(shown + more, 100);
    json_decref(root);
    core_buf_free(&all);
    free(many);
    free(paths);
}
END_TEST

START_TEST(card_decided_and_escalated)
{
    notify_card c = base_card();
    core_buf b = {0}, all = {0};
    json_t *root;

    ck_assert_int_eq(
        notify_slack_card_decided(&c, NOTIFY_CARD_APPROVED, "U0DBA1", "2026-03-10 10:30 JST", &b),
        0);
    root = json_loads(b.data, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_ptr_null(actions_of(root));
    texts_check(root, &all);
    ck_assert_msg(strstr(all.data, "*Approved* by <@U0DBA1> at 2026-03-10 10:30 JST"), "%s",
                  all.data);
    json_decref(root);
    core_buf_reset(&b);
    core_buf_reset(&all);

    ck_assert_int_eq(
        notify_slack_card_decided(&c, NOTIFY_CARD_REJECTED, "U0DBA2", "2026-03-09 17:30 PST", &b),
        0);
    root = json_loads(b.data, 0, NULL);
    ck_assert_ptr_null(actions_of(root));
    texts_check(root, &all);
    ck_assert(strstr(all.data, "*Rejected* by <@U0DBA2> at 2026-03-09 17:30 PST"));
    json_decref(root);
    core_buf_reset(&b);
    core_buf_reset(&all);

    ck_assert_int_eq(notify_slack_card_escalated(&c, "emea-berlin", &b), 0);
    root = json_loads(b.data, 0, NULL);
    ck_assert_ptr_nonnull(actions_of(root)); /* still decidable */
    texts_check(root, &all);
    ck_assert(strstr(all.data, "Escalated to *emea-berlin*"));
    json_decref(root);

    /* A decider that is not a Slack id (an operator) is text, escaped: it cannot ping. */
    core_buf_reset(&b);
    ck_assert_int_eq(notify_slack_card_decided(&c, NOTIFY_CARD_APPROVED, "<!channel>", "x", &b), 0);
    ck_assert_ptr_null(strstr(b.data, "<!channel>"));
    ck_assert_ptr_nonnull(strstr(b.data, "&lt;!channel&gt; (zoneci API)"));
    ck_assert_int_eq(notify_slack_card_decided(&c, NOTIFY_CARD_APPROVED, "", "x", &b), CORE_EINVAL);
    ck_assert_int_eq(notify_slack_card_decided(&c, NOTIFY_CARD_OPEN, "U1", "x", &b), CORE_EINVAL);
    ck_assert_int_eq(notify_slack_card_escalated(&c, NULL, &b), CORE_EINVAL);
    core_buf_free(&b);
    core_buf_free(&all);
}
END_TEST

/* ---- the Web API --------------------------------------------------------------------------- */

/* What the fake Slack received last, and how it answers next. The peer's lock guards it. */
typedef struct fake {
    ts_peer *peer;
    char api[96];
    int requests;
    char path[128];
    char auth[256];
    char content_type[128];
    core_buf body;
    /* The next answer: ok (with ts), ok:false with error, or a status. */
    const char *error;
    unsigned status;
    const char *retry_after;
    const char *raw;
} fake;

static void play(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    fake *f = ctx;
    char *out = ans->body;
    size_t len = sizeof(ans->body);

    f->requests++;
    snprintf(f->path, sizeof(f->path), "%s", req->url);
    snprintf(f->auth, sizeof(f->auth), "%s", req->authorization);
    snprintf(f->content_type, sizeof(f->content_type), "%s", req->content_type);
    core_buf_reset(&f->body);
    core_buf_append(&f->body, req->body, req->body_len);
    ans->retry_after = f->retry_after;
    if (f->status) {
        ans->status = f->status;
        snprintf(out, len, "%s", f->raw ? f->raw : "{\"ok\":false}");
    } else if (f->raw) {
        snprintf(out, len, "%s", f->raw);
    } else if (f->error) {
        snprintf(out, len, "{\"ok\":false,\"error\":\"%s\"}", f->error);
    } else {
        snprintf(out, len, "%s",
                 "{\"ok\":true,\"channel\":\"C0TOKYO\",\"ts\":\"1773072000.000100\"}");
    }
}

static fake *fake_start(void)
{
    fake *f = calloc(1, sizeof(*f));

    ck_assert_ptr_nonnull(f);
    f->peer = ts_peer_start(play, f);
    snprintf(f->api, sizeof(f->api), "%s/api", ts_peer_base(f->peer));
    return f;
}

static void fake_stop(fake *f)
{
    ts_peer_stop(f->peer);
    core_buf_free(&f->body);
    free(f);
}

static char *card_text(void)
{
    notify_card c = base_card();
    core_buf b = {0};

    ck_assert_int_eq(notify_slack_card(&c, &b), 0);
    return core_buf_steal(&b);
}

START_TEST(post_and_update)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    char ts[NOTIFY_SLACK_TS_MAX], *blocks = card_text(), *decided;
    core_buf b = {0};
    core_error err = {0};
    int retry = -1;
    json_t *root;
    notify_card c = base_card();

    ck_assert_msg(notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks,
                                    "Migration approval: acme/api #77", ts, &retry, &err) == 0,
                  "post: %s", err.msg);
    ck_assert_str_eq(ts, "1773072000.000100");
    ck_assert_int_eq(retry, 0);
    ck_assert_str_eq(f->path, "/api/chat.postMessage");
    ck_assert_str_eq(f->auth, "Bearer " BOT_TOKEN);
    ck_assert(strncmp(f->content_type, "application/json", 16) == 0);
    root = json_loadb(f->body.data, f->body.len, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "channel")), "C0TOKYO");
    ck_assert_str_eq(json_string_value(json_object_get(root, "text")),
                     "Migration approval: acme/api #77");
    ck_assert(json_is_array(json_object_get(root, "blocks")));
    ck_assert_ptr_null(json_object_get(root, "ts"));
    json_decref(root);

    ck_assert_int_eq(
        notify_slack_card_decided(&c, NOTIFY_CARD_APPROVED, "U0DBA1", "2026-03-10 10:30 JST", &b),
        0);
    decided = core_buf_steal(&b);
    ck_assert_msg(notify_slack_update(h, f->api, BOT_TOKEN, "C0TOKYO", ts, decided, "Approved",
                                      &retry, &err) == 0,
                  "update: %s", err.msg);
    ck_assert_str_eq(f->path, "/api/chat.update");
    root = json_loadb(f->body.data, f->body.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(root, "ts")), ts);
    ck_assert_str_eq(json_string_value(json_object_get(root, "channel")), "C0TOKYO");
    ck_assert(strstr(f->body.data, "Approved* by"));
    json_decref(root);
    ck_assert_int_eq(f->requests, 2);
    free(decided);
    free(blocks);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

static void no_secret(const core_error *err)
{
    ck_assert_msg(strstr(err->msg, "SEKRET") == NULL, "token in message: %s", err->msg);
    ck_assert(strstr(err->msg, "xoxb") == NULL);
}

START_TEST(slack_errors_mapped)
{
    fake *f = fake_start();
    notify_http *h = ts_notify_client();
    char ts[NOTIFY_SLACK_TS_MAX], *blocks = card_text();
    core_error err = {0};
    int retry = -1;
    static const struct {
        const char *error;
        int code;
    } cases[] = {
        {"channel_not_found", CORE_ENOTFOUND}, {"invalid_auth", CORE_EAUTH},
        {"not_in_channel", CORE_EAUTH},        {"invalid_blocks", CORE_EINVAL},
        {"internal_error", CORE_EUNAVAILABLE}, {"some_new_error", CORE_EINVAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->error = cases[i].error;
        ck_assert_int_eq(
            notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
            cases[i].code);
        ck_assert_msg(strstr(err.msg, cases[i].error), "message: %s", err.msg);
        ck_assert_str_eq(ts, "");
        no_secret(&err);
    }
    f->error = "message_not_found";
    ck_assert_int_eq(
        notify_slack_update(h, f->api, BOT_TOKEN, "C0TOKYO", "1.2", blocks, "x", &retry, &err),
        CORE_ENOTFOUND);
    ck_assert(strstr(err.msg, "chat.update") && strstr(err.msg, "message_not_found"));

    /* An error code that is not one is not quoted. */
    f->error = "bad\\\"code " BOT_TOKEN;
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EINVAL);
    ck_assert(strstr(err.msg, "unknown_error"));
    no_secret(&err);
    f->error = NULL;

    /* Rate limits: the seconds come back for the caller's retry loop. */
    f->status = 429;
    f->retry_after = "17";
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EAGAIN);
    ck_assert_int_eq(retry, 17);
    ck_assert(strstr(err.msg, "17"));
    no_secret(&err);
    f->retry_after = NULL;
    ck_assert_int_eq(
        notify_slack_update(h, f->api, BOT_TOKEN, "C0TOKYO", "1.2", blocks, "x", &retry, &err),
        CORE_EAGAIN);
    ck_assert_int_eq(retry, 1);
    f->status = 0;
    f->error = "ratelimited";
    f->retry_after = "5";
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EAGAIN);
    ck_assert_int_eq(retry, 5);
    f->error = NULL;
    f->retry_after = NULL;

    f->status = 503;
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EUNAVAILABLE);
    ck_assert_int_eq(retry, 0);
    f->status = 404;
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EINVAL);
    f->status = 0;
    f->raw = "<html>not slack</html>";
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EINVAL);
    f->raw = "{\"ok\":true}";
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EINVAL);
    no_secret(&err);
    f->raw = NULL;
    ck_assert_int_eq(f->requests, 15);

    /* Refused before any request. */
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0TOKYO", "{\"not\":1}", "x", ts, &retry, &err),
        CORE_EINVAL);
    ck_assert_int_eq(notify_slack_post(h, f->api, "xoxb-a\r\nX-Evil: 1", "C0TOKYO", blocks, "x", ts,
                                       &retry, &err),
                     CORE_EINVAL);
    ck_assert(strstr(err.msg, "xoxb") == NULL);
    ck_assert_int_eq(
        notify_slack_post(h, f->api, BOT_TOKEN, "C0 TOKYO", blocks, "x", ts, &retry, &err),
        CORE_EINVAL);
    ck_assert_int_eq(
        notify_slack_update(h, f->api, BOT_TOKEN, "C0TOKYO", "1.2&x=y", blocks, "x", &retry, &err),
        CORE_EINVAL);
    ck_assert_int_eq(
        notify_slack_post(h, "file:///etc", BOT_TOKEN, "C0TOKYO", blocks, "x", ts, NULL, &err),
        CORE_EINVAL);
    ck_assert_int_eq(f->requests, 15);
    free(blocks);
    notify_http_free(h);
    fake_stop(f);
}
END_TEST

START_TEST(slack_unreachable_is_discreet)
{
    notify_http *h = ts_notify_client();
    char api[64], ts[NOTIFY_SLACK_TS_MAX], *blocks = card_text();
    core_error err = {0};

    snprintf(api, sizeof(api), "http://127.0.0.1:%d/api", ts_free_port());
    ck_assert_int_eq(notify_slack_post(h, api, BOT_TOKEN, "C0TOKYO", blocks, "x", ts, NULL, &err),
                     CORE_EUNAVAILABLE);
    ck_assert(strstr(err.msg, "chat.postMessage"));
    no_secret(&err);
    free(blocks);
    notify_http_free(h);
}
END_TEST

Suite *suite_notifier_slack(void)
{
    Suite *s = suite_create("notifier_slack");
    TCase *card = tcase_create("card");
    TCase *api = tcase_create("api");

    tcase_add_test(card, card_shows_everything_with_buttons);
    tcase_add_test(card, card_buttons_carry_the_card_key);
    tcase_add_test(card, card_escapes_markup);
    tcase_add_test(card, card_within_limits_for_200_findings);
    tcase_add_test(card, card_counts_what_is_cut);
    tcase_add_test(card, card_decided_and_escalated);
    tcase_set_timeout(api, 30);
    tcase_add_test(api, post_and_update);
    tcase_add_test(api, slack_errors_mapped);
    tcase_add_test(api, slack_unreachable_is_discreet);
    suite_add_tcase(s, card);
    suite_add_tcase(s, api);
    return s;
}
