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

/* Renders card index and returns the blocks as one string (malloc'd); text in *text. */
static char *render(const sched_card_view *v, size_t index, char **text)
{
    core_buf blocks = {0}, t = {0};
    json_t *j;

    ck_assert_int_eq(notify_card_render(v, "12", index, &blocks, &t), 0);
    j = json_loads(blocks.data, 0, NULL);
    ck_assert_msg(json_is_array(j), "not a JSON array: %s", blocks.data);
    json_decref(j);
    *text = t.data;
    return blocks.data;
}

START_TEST(open_card_shows_the_job)
{
    sched_card_view v = view();
    char *text, *b = render(&v, 0, &text);

    ck_assert_str_eq(text, "Approval needed for acme/api #7: Drop email");
    ck_assert_ptr_nonnull(strstr(b, "https://ghe.example.com/acme/api/pull/7"));
    ck_assert_ptr_nonnull(strstr(b, "db/002_drop.sql"));
    ck_assert_ptr_nonnull(strstr(b, "db/003_index.sql"));
    ck_assert_ptr_nonnull(strstr(b, "ban-drop-column"));
    ck_assert_ptr_nonnull(strstr(b, "stop reading it first"));
    ck_assert_ptr_nonnull(strstr(b, "<@U0DBA1>"));
    ck_assert_ptr_nonnull(strstr(b, "<@U0DBA2>"));
    ck_assert_ptr_nonnull(strstr(b, "once approved: queued in apac-tokyo"));
    ck_assert_ptr_nonnull(strstr(b, "zoneci_approve"));
    ck_assert_ptr_nonnull(strstr(b, "\"value\":\"12\""));
    ck_assert_ptr_null(strstr(b, "Escalated"));
    free(b);
    free(text);
}
END_TEST

START_TEST(escalated_and_decided_cards)
{
    sched_card_view v = view();
    char *text, *b;

    v.n_cards = 2;
    v.cards[1].region = "emea-berlin";
    v.cards[1].channel = "CBERLIN";
    v.cards[1].mentions = "U0DBA3";
    v.cards[1].ts = "";
    /* The first card says where it went and keeps its buttons; the second is open. */
    b = render(&v, 0, &text);
    ck_assert_ptr_nonnull(strstr(b, "Escalated to *emea-berlin*"));
    ck_assert_ptr_nonnull(strstr(b, "zoneci_approve"));
    free(b);
    free(text);
    b = render(&v, 1, &text);
    ck_assert_ptr_null(strstr(b, "Escalated"));
    ck_assert_ptr_nonnull(strstr(b, "<@U0DBA3>"));
    ck_assert_ptr_null(strstr(b, "<@U0DBA1>"));
    free(b);
    free(text);
    /* Decided in Slack: who and when, no buttons, on every card. */
    v.decision = "approved";
    v.decided_by = "U0DBA3";
    v.decided_local = "2026-03-02 02:40 UTC+1";
    for (size_t i = 0; i < 2; i++) {
        b = render(&v, i, &text);
        ck_assert_ptr_nonnull(strstr(b, "Approved* by <@U0DBA3> at 2026-03-02 02:40 UTC+1"));
        ck_assert_ptr_null(strstr(b, "zoneci_approve"));
        ck_assert_str_eq(text, "Approved: acme/api #7: Drop email");
        free(b);
        free(text);
    }
    /* Superseded before anyone decided: no buttons, and why. */
    v.decision = "";
    v.state = "superseded";
    b = render(&v, 0, &text);
    ck_assert_ptr_nonnull(strstr(b, "No decision needed:* superseded by a newer push"));
    ck_assert_ptr_null(strstr(b, "zoneci_approve"));
    free(b);
    free(text);
    v.state = "awaiting_approval";
    /* Rejected through the operator API: a name, not a mention. */
    v.decision = "rejected";
    v.decided_by = "operator";
    b = render(&v, 0, &text);
    ck_assert_ptr_nonnull(strstr(b, "Rejected* by operator (zoneci API)"));
    ck_assert_ptr_null(strstr(b, "<@operator>"));
    free(b);
    free(text);
}
END_TEST

START_TEST(odd_jobs_still_render)
{
    sched_card_view v = view();
    core_buf b = {0}, t = {0};
    char *text, *out;

    /* No report (the diff could not be read), a local clone URL, no mentions. */
    v.report = "";
    v.clone_url = "/srv/git/api.git";
    v.cards[0].mentions = "";
    out = render(&v, 0, &text);
    ck_assert_ptr_null(strstr(out, "/pull/"));
    ck_assert_ptr_nonnull(strstr(out, "zoneci_approve"));
    free(out);
    free(text);
    /* A report that is not JSON is shown as no report, not as an error. */
    v.report = "{nope";
    out = render(&v, 0, &text);
    free(out);
    free(text);
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
    tcase_add_test(tc, odd_jobs_still_render);
    suite_add_tcase(s, tc);
    return s;
}
