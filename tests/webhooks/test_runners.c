/* webhooks/runners.c: the runner token list. A token with '=' and no region after it is
 * refused when the list is loaded (it used to allow every region); the error names the
 * entry's position, never the token. */
#include <check.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/app.h"

static int parse(const char *list, core_error *err)
{
    wh_runner_token *t = NULL;
    size_t n = 0;
    int rc = wh_runner_tokens_parse(list, &t, &n, err);

    wh_runner_tokens_free(t, n);
    return rc;
}

START_TEST(empty_region_list_is_refused)
{
    core_error err = {0};
    static const char *const bad[] = {"s3cretA=", "ok1,s3cretA=", "ok1=eu,s3cretA=|eu",
                                      "ok1,s3cretA=eu|", "ok1,s3cretA=eu||us"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        ck_assert_int_eq(parse(bad[i], &err), CORE_EINVAL);
        ck_assert_msg(strstr(err.msg, i == 0 ? "entry 1" : "entry 2"), "%s: %s", bad[i], err.msg);
        ck_assert_msg(!strstr(err.msg, "s3cretA"), "the token leaked: %s", err.msg);
    }
}
END_TEST

START_TEST(regions_and_every_region_still_parse)
{
    wh_runner_token *t = NULL;
    size_t n = 0;
    core_error err = {0};

    ck_assert_msg(wh_runner_tokens_parse("all1,eu1=emea|apac", &t, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(t[0].n_regions, 0);
    ck_assert_str_eq(t[1].token, "eu1");
    ck_assert_uint_eq(t[1].n_regions, 2);
    ck_assert_str_eq(t[1].regions[1], "apac");
    wh_runner_tokens_free(t, n);
}
END_TEST

Suite *suite_webhooks_runners(void)
{
    Suite *s = suite_create("webhooks_runners");
    TCase *tc = tcase_create("tokens");

    tcase_add_test(tc, empty_region_list_is_refused);
    tcase_add_test(tc, regions_and_every_region_still_parse);
    suite_add_tcase(s, tc);
    return s;
}
