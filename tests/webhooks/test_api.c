/* webhooks/common.c: the operator-token list of api.tokens_env — named entries, the old
 * unnamed form, separators, and refusals that never show a token. */
#include <check.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/app.h"

START_TEST(named_and_unnamed_tokens)
{
    wh_api_token *t = NULL;
    size_t n = 0;
    core_error err = {0};

    ck_assert_int_eq(wh_api_tokens_parse(" dba-lead:tok-a ,legacy-tok\n ops.2_x:tok:with:colons\r\n"
                                         "\n,dba-lead:tok-b",
                                         &t, &n, &err),
                     0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(t[0].name, "dba-lead");
    ck_assert_str_eq(t[0].token, "tok-a");
    ck_assert_str_eq(t[1].name, WH_OPERATOR_DEFAULT_NAME);
    ck_assert_str_eq(t[1].token, "legacy-tok");
    ck_assert_str_eq(t[2].name, "ops.2_x");
    ck_assert_str_eq(t[2].token, "tok:with:colons");
    ck_assert_str_eq(t[3].name, "dba-lead"); /* two tokens of one name: rotation */
    ck_assert_str_eq(t[3].token, "tok-b");
    wh_api_tokens_free(t, n);
}
END_TEST

START_TEST(bad_lists_are_refused_without_showing_tokens)
{
    static const struct {
        const char *list, *msg;
    } cases[] = {
        {"dba lead:secret-1", "entry 1: the name before ':'"},
        {"ok:x,:secret-2", "entry 2: the name before ':'"},
        {"a123456789012345678901234567890123456789012345678901234567890123x:secret-3", "entry 1"},
        {"dba-lead:", "entry 1: no token after the name"},
        {"a:secret-4,b:secret-4", "entries 1 and 2: one token under two names"},
        {"secret-5,ops:secret-5", "one token under two names"},
        {" , \n ", "holds no token"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wh_api_token *t = NULL;
        size_t n = 0;
        core_error err = {0};

        ck_assert_msg(wh_api_tokens_parse(cases[i].list, &t, &n, &err) < 0, "%s accepted",
                      cases[i].list);
        ck_assert_ptr_null(t);
        ck_assert_uint_eq(n, 0);
        ck_assert_msg(strstr(err.msg, cases[i].msg), "\"%s\": \"%s\"", cases[i].list, err.msg);
        ck_assert_msg(!strstr(err.msg, "secret"), "message shows a token: %s", err.msg);
    }
}
END_TEST

Suite *suite_webhooks_api(void)
{
    Suite *s = suite_create("webhooks_api");
    TCase *tc = tcase_create("tokens");

    tcase_add_test(tc, named_and_unnamed_tokens);
    tcase_add_test(tc, bad_lists_are_refused_without_showing_tokens);
    suite_add_tcase(s, tc);
    return s;
}
