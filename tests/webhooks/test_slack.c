/* webhooks/slack.c: reading a click from Slack's block_actions payload. The form around
 * it is decoded by libmicrohttpd's post processor, end to end in tests/e2e. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/slack.h"

static int parse(const char *json, wh_slack_click *c, core_error *err)
{
    return wh_slack_click_parse(json, strlen(json), c, err);
}

START_TEST(click_reads_user_action_and_job)
{
    wh_slack_click c;
    core_error err = {0};

    ck_assert_int_eq(parse("{\"type\":\"block_actions\",\"user\":{\"id\":\"U0DBA1\"},"
                           "\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"42\"},"
                           "{\"action_id\":\"zoneci_reject\",\"value\":\"7\"}]}",
                           &c, &err),
                     0);
    ck_assert_str_eq(c.user, "U0DBA1");
    ck_assert_str_eq(c.job, "42");
    ck_assert(c.approve);
    ck_assert_int_eq(parse("{\"user\":{\"id\":\"W1\"},\"actions\":[{\"action_id\":"
                           "\"zoneci_reject\",\"value\":\"12345678901234567890\"}]}",
                           &c, &err),
                     0);
    ck_assert(!c.approve);
    ck_assert_str_eq(c.job, "12345678901234567890");
    ck_assert_str_eq(c.key, "");
    ck_assert_str_eq(c.response_url, "");
}
END_TEST

/* response_url is read as it is (whose host it is, is checked where it is used), within
 * its bound and printable. */
START_TEST(click_reads_the_response_url)
{
    char json[WH_SLACK_URL_MAX + 256], url[WH_SLACK_URL_MAX + 2];
    wh_slack_click c;
    core_error err = {0};

    ck_assert_int_eq(parse("{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":"
                           "\"zoneci_approve\",\"value\":\"4\"}],\"response_url\":"
                           "\"https:\\/\\/hooks.slack.com\\/actions\\/T1\\/2\\/x\"}",
                           &c, &err),
                     0);
    ck_assert_str_eq(c.response_url, "https://hooks.slack.com/actions/T1/2/x");
    /* Exactly at the bound, then one over. */
    memset(url, 'a', WH_SLACK_URL_MAX);
    url[WH_SLACK_URL_MAX] = '\0';
    snprintf(json, sizeof(json),
             "{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\","
             "\"value\":\"4\"}],\"response_url\":\"%s\"}",
             url);
    ck_assert_int_eq(parse(json, &c, &err), 0);
    ck_assert_uint_eq(strlen(c.response_url), WH_SLACK_URL_MAX);
    url[WH_SLACK_URL_MAX] = 'a';
    url[WH_SLACK_URL_MAX + 1] = '\0';
    snprintf(json, sizeof(json),
             "{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\","
             "\"value\":\"4\"}],\"response_url\":\"%s\"}",
             url);
    ck_assert_int_eq(parse(json, &c, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "response_url"));
    ck_assert_str_eq(c.response_url, "");
}
END_TEST

START_TEST(click_reads_the_card_key)
{
    static const char *const keys[] = {
        "0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    char json[512];
    wh_slack_click c;
    core_error err = {0};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(json, sizeof(json),
                 "{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_reject\","
                 "\"value\":\"42:%s\"}]}",
                 keys[i]);
        ck_assert_int_eq(parse(json, &c, &err), 0);
        ck_assert_str_eq(c.job, "42");
        ck_assert_str_eq(c.key, keys[i]);
        ck_assert(!c.approve);
    }
}
END_TEST

START_TEST(click_refuses_what_it_cannot_trust)
{
    static const struct {
        const char *json;
        const char *field;
    } bad[] = {
        {"", "payload"},
        {"[1]", "payload"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\"", "payload"},
        {"{\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1\"}]}", "user.id"},
        {"{\"user\":{\"id\":\"U 1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}]}",
         "user.id"},
        {"{\"user\":{\"id\":\"U123456789012345678901234567890123\"},\"actions\":[{\"action_id\":"
         "\"zoneci_approve\",\"value\":\"1\"}]}",
         "user.id"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[]}", "action_id"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_maybe\",\"value\":\"1\"}]"
         "}",
         "action_id"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1a\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"123456789012345678901\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":1}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"\"}]"
         "}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\":"
         "0123456789abcdef\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "0123456789abcde\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "0123456789ABCDEF\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "0123456789abcdeg\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "0123456789abcdef:0123456789abcdef\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1a:"
         "0123456789abcdef\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "00000000000000000000000000000000000000000000000000000000000000000\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"123456789012345678901:0123456789abcdef\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1::"
         "0123456789abcdef\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"1:"
         "0123456789abcdef \"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":\"-1:"
         "0123456789abcdef\"}]}",
         "value"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}],\"response_url\":7}",
         "response_url"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}],\"response_url\":\"\"}",
         "response_url"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}],\"response_url\":\"https://hooks.slack.com/a b\"}",
         "response_url"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}],\"response_url\":\"https://hooks.slack.com/a\\r\\nX: 1\"}",
         "response_url"},
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}],\"response_url\":\"https://hooks.slack.com/a\\u0000b\"}",
         "payload"}, /* jansson refuses NUL in a string outright */
        {"{\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"zoneci_approve\",\"value\":"
         "\"1\"}],\"response_url\":\"https://hooks.sl\\u00e4ck.com/a\"}",
         "response_url"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_slack_click c;
        core_error err = {0};

        ck_assert_int_eq(parse(bad[i].json, &c, &err), CORE_EINVAL);
        ck_assert_msg(strstr(err.msg, bad[i].field), "case %zu: \"%s\" does not name %s", i,
                      err.msg, bad[i].field);
    }
}
END_TEST

Suite *suite_webhooks_slack(void)
{
    Suite *s = suite_create("webhooks_slack");
    TCase *tc = tcase_create("click");

    tcase_add_test(tc, click_reads_user_action_and_job);
    tcase_add_test(tc, click_reads_the_card_key);
    tcase_add_test(tc, click_reads_the_response_url);
    tcase_add_test(tc, click_refuses_what_it_cannot_trust);
    suite_add_tcase(s, tc);
    return s;
}
