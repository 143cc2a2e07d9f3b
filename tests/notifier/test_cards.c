/* notifier/cards.c: approval cards rendered from a job as the scheduler stores it — the
 * report's files and findings, the card's own region and mentions, escalation, the
 * decision by a Slack user or an operator, and the PR link from the clone URL. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "core/core.h"
#include "notifier/cards.h"

static const char report[] =
    "{\"migrations\":[{\"path\":\"db/002_drop.sql\",\"framework\":\"custom\",\"change\":"
    "\"added\",\"old_path\":null,\"down\":false,\"findings\":[{\"rule\":\"ban-drop-column\","
    "\"severity\":\"danger\",\"path\":\"db/002_drop.sql\",\"line\":3,\"statement\":\"ALTER "
    "TABLE users DROP COLUMN email\",\"message\":\"m\",\"safer\":\"stop reading it first\","
    "\"lock\":\"ACCESS EXCLUSIVE\",\"rewrites\":false,\"scans\":false}],\"findings_omitted\":0},"
    "{\"path\":\"db/003_index.sql\",\"findings\":[]}],\"summary\":{},\"risk\":\"high\"}";

static sched_card_view view(void)
{
    sched_card_view v = {.state = "awaiting_approval",
                         .repo = "acme/api",
                         .pr = 7,
                         .title = "Drop email",
                         .author = "octocat",
                         .head_sha = "0123456789abcdef0123456789abcdef01234567",
                         .clone_url = "https://ghe.example.com/acme/api.git",
                         .report = report,
                         .plan = "once approved: queued in apac-tokyo",
                         .decision = "",
                         .decided_by = "",
                         .decided_local = "",
                         .n_cards = 1};

    v.cards[0].region = "apac-tokyo";
    v.cards[0].channel = "CTOKYO";
    v.cards[0].mentions = "U0DBA1,U0DBA2";
    v.cards[0].ts = "";
    return v;
}

/* Renders card index and checks it: a JSON array holding every string of has (NULL
 * ended) and none of lacks; text, when not NULL, is the notification text. */
static void expect_card(const sched_card_view *v, size_t index, const char *text,
                        const char *const *has, const char *const *lacks)
{
    core_buf blocks = {0}, t = {0};
    json_t *j;

    ck_assert_int_eq(notify_card_render(v, "12", index, &blocks, &t), 0);
    j = json_loads(blocks.data, 0, NULL);
    ck_assert_msg(json_is_array(j), "not a JSON array: %s", blocks.data);
    json_decref(j);
    for (size_t i = 0; has && has[i]; i++)
        ck_assert_msg(strstr(blocks.data, has[i]), "card %zu lacks \"%s\": %s", index, has[i],
                      blocks.data);
    for (size_t i = 0; lacks && lacks[i]; i++)
        ck_assert_msg(!strstr(blocks.data, lacks[i]), "card %zu has \"%s\": %s", index, lacks[i],
                      blocks.data);
    if (text)
        ck_assert_str_eq(t.data, text);
    core_buf_free(&blocks);
    core_buf_free(&t);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(open_card_shows_the_job)
{
    sched_card_view v = view();

    expect_card(&v, 0, "Approval needed for acme/api #7: Drop email",
                LIST("https://ghe.example.com/acme/api/pull/7", "db/002_drop.sql",
                     "db/003_index.sql", "ban-drop-column", "stop reading it first", "<@U0DBA1>",
                     "<@U0DBA2>", "once approved: queued in apac-tokyo", "zoneci_approve",
                     "\"value\":\"12\""),
                LIST("Escalated"));
}
END_TEST

/* A suppressed finding is shown as such, with its reason, after the ones that count. */
START_TEST(suppressed_findings_are_shown_last)
{
    static const char suppressed_report[] =
        "{\"migrations\":[{\"path\":\"db/004.sql\",\"findings\":["
        "{\"rule\":\"ban-drop-column\",\"severity\":\"danger\",\"path\":\"db/004.sql\","
        "\"line\":2,\"statement\":\"ALTER TABLE u DROP COLUMN legacy\",\"suppressed\":true,"
        "\"suppression\":\"unused since release 41\"},"
        "{\"rule\":\"ban-truncate\",\"severity\":\"danger\",\"path\":\"db/004.sql\","
        "\"line\":5,\"statement\":\"TRUNCATE sessions\"}]}],\"risk\":\"high\"}";
    sched_card_view v = view();
    core_buf blocks = {0}, t = {0};
    const char *truncate, *dropped;

    v.report = suppressed_report;
    expect_card(&v, 0, NULL, LIST("Suppressed:", "unused since release 41", "ban-truncate"), NULL);
    ck_assert_int_eq(notify_card_render(&v, "12", 0, &blocks, &t), 0);
    truncate = strstr(blocks.data, "ban-truncate");
    dropped = strstr(blocks.data, "ban-drop-column");
    ck_assert_ptr_nonnull(truncate);
    ck_assert_ptr_nonnull(dropped);
    ck_assert_msg(truncate < dropped, "the suppressed finding comes first: %s", blocks.data);
    core_buf_free(&blocks);
    core_buf_free(&t);
    /* Without the flag there is no "Suppressed" line. */
    v.report = report;
    expect_card(&v, 0, NULL, NULL, LIST("Suppressed:"));
}
END_TEST

START_TEST(escalated_and_decided_cards)
{
    sched_card_view v = view();

    v.n_cards = 2;
    v.cards[1].region = "emea-berlin";
    v.cards[1].channel = "CBERLIN";
    v.cards[1].mentions = "U0DBA3";
    v.cards[1].ts = "";
    /* The first card says where it went and keeps its buttons; the second is open. */
    expect_card(&v, 0, NULL, LIST("Escalated to *emea-berlin*", "zoneci_approve"), NULL);
    expect_card(&v, 1, NULL, LIST("<@U0DBA3>"), LIST("Escalated", "<@U0DBA1>"));
    /* Decided in Slack: who and when, no buttons, on every card. */
    v.decision = "approved";
    v.decided_by = "U0DBA3";
    v.decided_local = "2026-03-02 02:40 UTC+1";
    for (size_t i = 0; i < 2; i++)
        expect_card(&v, i, "Approved: acme/api #7: Drop email",
                    LIST("Approved* by <@U0DBA3> at 2026-03-02 02:40 UTC+1"),
                    LIST("zoneci_approve"));
    /* Superseded before anyone decided: no buttons, and why. */
    v.decision = "";
    v.state = "superseded";
    expect_card(&v, 0, NULL, LIST("No decision needed:* superseded by a newer push"),
                LIST("zoneci_approve"));
    v.state = "awaiting_approval";
    /* Rejected through the operator API: a name, not a mention. */
    v.decision = "rejected";
    v.decided_by = "operator";
    expect_card(&v, 0, NULL, LIST("Rejected* by operator (zoneci API)"), LIST("<@operator>"));
}
END_TEST

START_TEST(odd_jobs_still_render)
{
    sched_card_view v = view();
    core_buf b = {0}, t = {0};

    /* No report (the diff could not be read), a local clone URL, no mentions. */
    v.report = "";
    v.clone_url = "/srv/git/api.git";
    v.cards[0].mentions = "";
    expect_card(&v, 0, NULL, LIST("zoneci_approve"), LIST("/pull/"));
    /* A report that is not JSON is shown as no report, not as an error. */
    v.report = "{nope";
    expect_card(&v, 0, NULL, LIST("zoneci_approve"), NULL);
    /* No such card; a mention that is not a Slack id. */
    ck_assert_int_eq(notify_card_render(&v, "12", 1, &b, &t), CORE_EINVAL);
    v.cards[0].mentions = "U1,<!channel>";
    ck_assert_int_eq(notify_card_render(&v, "12", 0, &b, &t), CORE_EINVAL);
    core_buf_free(&b);
    core_buf_free(&t);
}
END_TEST

Suite *suite_notifier_cards(void)
{
    Suite *s = suite_create("notifier_cards");
    TCase *tc = tcase_create("cards");

    tcase_add_test(tc, open_card_shows_the_job);
    tcase_add_test(tc, escalated_and_decided_cards);
    tcase_add_test(tc, suppressed_findings_are_shown_last);
    tcase_add_test(tc, odd_jobs_still_render);
    suite_add_tcase(s, tc);
    return s;
}
