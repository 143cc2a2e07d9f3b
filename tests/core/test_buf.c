/* core/buf.c: growth, JSON escaping, and the sticky failure a response builder relies on
 * (as curl's dynbuf: after a failure every append is a no-op and the failure is reported
 * once, never a truncated result). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* core_array_room: doubles from the first capacity, leaves a full array alone on an
 * overflowing size, and keeps what was stored. */
START_TEST(array_room_doubles_and_refuses_overflow)
{
    int *a = NULL;
    void *p = NULL;
    size_t cap = 0, n = 0;

    for (int i = 0; i < 100; i++) {
        p = a;
        ck_assert_int_eq(core_array_room(&p, &cap, n, sizeof(*a), 4), 0);
        a = p;
        a[n++] = i;
    }
    ck_assert_uint_eq(cap, 128);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(a[i], i);
    {
        size_t huge = SIZE_MAX / 2;

        p = a;
        ck_assert_int_eq(core_array_room(&p, &huge, huge, sizeof(*a), 4), CORE_ENOMEM);
        ck_assert_ptr_eq(p, a);
        ck_assert_uint_eq(huge, SIZE_MAX / 2);
    }
    free(a);
}
END_TEST

START_TEST(appends_grow_and_stay_terminated)
{
    core_buf b = {0};
    char *s;

    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(core_buf_printf(&b, "%03d,", i % 1000), 0);
    ck_assert_uint_eq(b.len, 4000);
    ck_assert_int_eq(b.data[b.len], '\0');
    ck_assert(strncmp(b.data + 3996, "999,", 4) == 0);
    ck_assert_int_eq(core_buf_json_escape(&b, "a\"\n\x01", 4), 0);
    ck_assert_str_eq(b.data + 4000, "a\\\"\\n\\u0001");
    ck_assert_int_eq(core_buf_status(&b), 0);
    s = core_buf_steal(&b);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(b.data);
    free(s);
}
END_TEST

/* A size that cannot be allocated (it would overflow) stands in for malloc failing: the
 * buffer empties, every later append is a no-op with the same code, and the end result
 * reports the failure instead of the part built before it. */
START_TEST(a_failure_is_sticky_and_reported_once)
{
    core_buf b = {0};

    ck_assert_int_eq(core_buf_puts(&b, "{\"jobs\":["), 0);
    ck_assert_int_eq(core_buf_reserve(&b, SIZE_MAX - 1), CORE_ENOMEM);
    ck_assert_int_eq(core_buf_status(&b), CORE_ENOMEM);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(core_buf_puts(&b, "1]}"), CORE_ENOMEM);
    ck_assert_int_eq(core_buf_printf(&b, "%d", 2), CORE_ENOMEM);
    ck_assert_int_eq(core_buf_json_escape(&b, "x", 1), CORE_ENOMEM);
    ck_assert_int_eq(core_buf_append(&b, "", 0), CORE_ENOMEM);
    ck_assert_ptr_null(b.data);
    /* A reset keeps the failure: the response is still broken. */
    core_buf_reset(&b);
    ck_assert_int_eq(core_buf_status(&b), CORE_ENOMEM);
    ck_assert_ptr_null(core_buf_steal(&b));
    ck_assert_int_eq(core_buf_status(&b), CORE_ENOMEM);
    /* Only free starts over. */
    core_buf_free(&b);
    ck_assert_int_eq(core_buf_status(&b), 0);
    ck_assert_int_eq(core_buf_puts(&b, "ok"), 0);
    ck_assert_str_eq(b.data, "ok");
    core_buf_free(&b);
}
END_TEST

/* len + more + 1 must not wrap around to a small number that looks like it fits. */
START_TEST(an_overflowing_reserve_is_refused_on_a_grown_buffer)
{
    core_buf b = {0};

    ck_assert_int_eq(core_buf_puts(&b, "0123456789"), 0);
    ck_assert_int_eq(core_buf_reserve(&b, SIZE_MAX - 5), CORE_ENOMEM);
    ck_assert_int_eq(core_buf_status(&b), CORE_ENOMEM);
    core_buf_free(&b);
}
END_TEST

Suite *suite_core_buf(void)
{
    Suite *s = suite_create("core_buf");
    TCase *tc = tcase_create("buf");

    tcase_add_test(tc, appends_grow_and_stay_terminated);
    tcase_add_test(tc, array_room_doubles_and_refuses_overflow);
    tcase_add_test(tc, a_failure_is_sticky_and_reported_once);
    tcase_add_test(tc, an_overflowing_reserve_is_refused_on_a_grown_buffer);
    suite_add_tcase(s, tc);
    return s;
}
