/* webhooks/slack.c: the bounded form decoder that reads Slack's `payload` field. */
#include <check.h>
#include <string.h>

#include "webhooks/slack.h"

START_TEST(form_decodes_value)
{
    const char *body = "token=x&payload=%7B%22a%22%3A+1%7D&other=2";
    char out[64];
    size_t n = 99;

    ck_assert_int_eq(wh_form_value(body, strlen(body), "payload", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "{\"a\": 1}");
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(wh_form_value(body, strlen(body), "other", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "2");
    ck_assert_int_eq(wh_form_value(body, strlen(body), "token", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "x");
    /* Empty value, field without '=', first occurrence wins, lower-case hex. */
    ck_assert_int_eq(wh_form_value("a=&payload", 10, "payload", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(
        wh_form_value("payload=1&payload=2", 19, "payload", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "1");
    ck_assert_int_eq(wh_form_value("payload=%7b", 11, "payload", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "{");
}
END_TEST

START_TEST(form_refuses_bad_input)
{
    char out[8];
    size_t n;
    core_error err = {0};

    ck_assert_int_eq(
        wh_form_value("payloads=1&xpayload=2", 21, "payload", out, sizeof(out), &n, &err),
        CORE_ENOTFOUND);
    ck_assert_int_eq(wh_form_value("", 0, "payload", out, sizeof(out), &n, NULL), CORE_ENOTFOUND);
    /* Truncated or non-hex escapes, a decoded NUL. */
    ck_assert_int_eq(wh_form_value("payload=%7", 10, "payload", out, sizeof(out), &n, NULL),
                     CORE_EINVAL);
    ck_assert_int_eq(wh_form_value("payload=%", 9, "payload", out, sizeof(out), &n, NULL),
                     CORE_EINVAL);
    ck_assert_int_eq(wh_form_value("payload=%zz", 11, "payload", out, sizeof(out), &n, NULL),
                     CORE_EINVAL);
    ck_assert_int_eq(wh_form_value("payload=%00", 11, "payload", out, sizeof(out), &n, NULL),
                     CORE_EINVAL);
    /* An escape cut by the end of the field is not read past '&'. */
    ck_assert_int_eq(wh_form_value("payload=%7&x=bb", 15, "payload", out, sizeof(out), &n, NULL),
                     CORE_EINVAL);
    /* Exactly cap - 1 fits; one more does not. */
    ck_assert_int_eq(wh_form_value("payload=1234567", 15, "payload", out, sizeof(out), &n, NULL),
                     0);
    ck_assert_str_eq(out, "1234567");
    ck_assert_int_eq(wh_form_value("payload=12345678", 16, "payload", out, sizeof(out), &n, &err),
                     CORE_ETOOBIG);
    /* len bounds the read: the value stops at len even without a NUL. */
    ck_assert_int_eq(wh_form_value("payload=abcdef", 11, "payload", out, sizeof(out), &n, NULL), 0);
    ck_assert_str_eq(out, "abc");
}
END_TEST

Suite *suite_webhooks_slack(void)
{
    Suite *s = suite_create("webhooks_slack");
    TCase *tc = tcase_create("form");

    tcase_add_test(tc, form_decodes_value);
    tcase_add_test(tc, form_refuses_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
