/* core/url.c: the one Redis URL parser that the configuration check and the store share. */
#include <check.h>
#include <string.h>

#include "core/core.h"

START_TEST(redis_urls_read_as_redis_cli_reads_them)
{
    core_redis_url u;
    core_error err = {0};

    ck_assert_int_eq(core_redis_url_parse("redis://127.0.0.1", &u, &err), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_ptr_null(u.user);
    core_redis_url_free(&u);
    /* An ACL user, a %-escaped password with '@' in it, a database. */
    ck_assert_int_eq(core_redis_url_parse("redis://app:p%40ss@[::1]:6380/2", &u, &err), 0);
    ck_assert_str_eq(u.user, "app");
    ck_assert_str_eq(u.password, "p@ss");
    ck_assert_str_eq(u.host, "::1");
    ck_assert(u.ipv6);
    ck_assert_int_eq(u.port, 6380);
    ck_assert_int_eq(u.db, 2);
    core_redis_url_free(&u);
    /* A bare userinfo is the password, as redis-cli has it. */
    ck_assert_int_eq(core_redis_url_parse("redis://secret@h:1", &u, &err), 0);
    ck_assert_ptr_null(u.user);
    ck_assert_str_eq(u.password, "secret");
    core_redis_url_free(&u);
    ck_assert_int_eq(core_redis_url_parse("unix://run/redis.sock", &u, &err), 0);
    ck_assert(u.is_unix);
    ck_assert_str_eq(u.path, "run/redis.sock");
    core_redis_url_free(&u);
}
END_TEST

START_TEST(bad_redis_urls_name_the_problem_not_the_secret)
{
    static const struct {
        const char *url, *msg;
    } bad[] = {
        {"", "empty"},
        {"http://h:1", "must be redis://"},
        {"rediss://h:1", "TLS"},
        {"redis://h:0", "1 to 65535"},
        {"redis://h:99999", "1 to 65535"},
        {"redis://:hunter2@h:1/x", "database"},
        {"redis://:hunter%zz@h:1", "bad %-escape"},
        {"redis://:hunter2@", "missing host"},
        {"redis://::1:6379", "brackets"},
        {"redis://[::1:6379", "unterminated"},
        {"redis://h 1", "control characters"},
        {"unix://", "socket path"},
    };
    core_redis_url u;
    core_error err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(core_redis_url_parse(bad[i].url, &u, &err), CORE_EINVAL);
        ck_assert_msg(strstr(err.msg, bad[i].msg), "%s: %s", bad[i].url, err.msg);
        ck_assert_ptr_null(strstr(err.msg, "hunter"));
        ck_assert_ptr_null(u.password);
    }
}
END_TEST

Suite *suite_core_url(void)
{
    Suite *s = suite_create("core_url");
    TCase *tc = tcase_create("url");

    tcase_add_test(tc, redis_urls_read_as_redis_cli_reads_them);
    tcase_add_test(tc, bad_redis_urls_name_the_problem_not_the_secret);
    suite_add_tcase(s, tc);
    return s;
}
