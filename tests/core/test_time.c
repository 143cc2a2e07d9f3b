/* core/time.c: ISO 8601 instants, hour specs and dates; core/log.c: one line per entry. */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

START_TEST(iso_round_trip)
{
    int64_t ms;
    char out[CORE_ISO_MAX];

    ck_assert_int_eq(core_time_parse_iso("2026-03-09T17:30:00Z", &ms, NULL), 0);
    ck_assert_int_eq(ms, 1773077400000LL);
    core_time_format_iso(ms, out);
    ck_assert_str_eq(out, "2026-03-09T17:30:00Z");
    ck_assert_int_eq(core_time_parse_iso("2026-03-09T10:30:00-07:00", &ms, NULL), 0);
    ck_assert_int_eq(ms, 1773077400000LL);
    ck_assert_int_eq(core_time_parse_iso("2026-03-09T23:15:30.250+05:45", &ms, NULL), 0);
    core_time_format_iso(ms, out);
    ck_assert_str_eq(out, "2026-03-09T17:30:30.250Z");
    core_time_format_iso(-1, out);
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(iso_rejects)
{
    int64_t ms;
    core_error err;

    ck_assert_int_eq(core_time_parse_iso("2026-03-09T17:30:00", &ms, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no UTC offset"));
    ck_assert_int_eq(core_time_parse_iso("2026-02-29T00:00Z", &ms, &err), CORE_EINVAL);
    ck_assert_int_eq(core_time_parse_iso("2026-13-01T00:00Z", &ms, &err), CORE_EINVAL);
    ck_assert_int_eq(core_time_parse_iso("2026-03-09T24:00Z", &ms, &err), CORE_EINVAL);
    ck_assert_int_eq(core_time_parse_iso("2026-03-09T17:30:00Zjunk", &ms, &err), CORE_EINVAL);
    ck_assert_int_eq(core_time_parse_iso("", &ms, &err), CORE_EINVAL);
    ck_assert_int_eq(core_time_parse_iso("2028-02-29T00:00Z", &ms, &err), 0);
}
END_TEST

START_TEST(hours_specs)
{
    core_hours h;
    core_error err;

    ck_assert_int_eq(core_hours_parse("Mon-Fri 09:00-18:00", &h, &err), 0);
    ck_assert_int_eq(h.days, 0x1f);
    ck_assert_int_eq(h.start_min, 540);
    ck_assert_int_eq(h.end_min, 1080);
    ck_assert(!core_hours_crosses_midnight(&h));
    ck_assert_int_eq(core_hours_parse("Fri-Mon 22:00-06:00", &h, &err), 0);
    ck_assert_int_eq(h.days, (1 << 4) | (1 << 5) | (1 << 6) | 1);
    ck_assert(core_hours_crosses_midnight(&h));
    ck_assert_int_eq(core_hours_parse("Mon,Wed,Fri 08:00-24:00", &h, &err), 0);
    ck_assert_int_eq(h.days, 1 | 4 | 16);
    ck_assert_int_eq(h.end_min, 1440);
    ck_assert_int_eq(core_hours_parse("Sat 10:00-14:00", &h, &err), 0);
    ck_assert_int_eq(h.days, 32);
    ck_assert_int_eq(core_hours_parse("Mon-Sun 00:00-24:00", &h, &err), 0);
    ck_assert_int_eq(h.days, 0x7f);

    ck_assert_int_eq(core_hours_parse("Mon-Fry 09:00-18:00", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri 9:00-18:00", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri 09:00-25:00", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri 09:60-18:00", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri 24:00-02:00", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri 09:00-09:00", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri", &h, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon-Fri 09:00-18:00 ", &h, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "end time"));
}
END_TEST

START_TEST(dates_and_zones)
{
    int y, m, d;

    ck_assert_int_eq(core_date_parse("2027-01-01", &y, &m, &d, NULL), 0);
    ck_assert_int_eq(y * 10000 + m * 100 + d, 20270101);
    ck_assert_int_eq(core_date_parse("2027-02-29", &y, &m, &d, NULL), CORE_EINVAL);
    ck_assert_int_eq(core_date_parse("2027-1-01", &y, &m, &d, NULL), CORE_EINVAL);
    ck_assert(core_tz_exists("Asia/Tokyo"));
    ck_assert(core_tz_exists("Asia/Kathmandu"));
    ck_assert(!core_tz_exists("Mars/Olympus_Mons"));
    ck_assert(!core_tz_exists("../../etc/passwd"));
    ck_assert(!core_tz_exists(""));
}
END_TEST

START_TEST(ct_equal_and_buf)
{
    core_buf b = {0};

    ck_assert(core_ct_equal("abcdef", "abcdef", 6));
    ck_assert(!core_ct_equal("abcdef", "abcdeg", 6));
    ck_assert_int_eq(core_buf_json_escape(&b, "a\"b\\c\n\x01", 7), 0);
    ck_assert_str_eq(b.data, "a\\\"b\\\\c\\n\\u0001");
    core_buf_reset(&b);
    ck_assert_int_eq(core_buf_printf(&b, "%d-%s", 42, "x"), 0);
    ck_assert_str_eq(b.data, "42-x");
    core_buf_free(&b);
}
END_TEST

/* A logged value holding a line break cannot start a forged line of its own. */
START_TEST(log_values_cannot_forge_lines)
{
    int fds[2], saved = dup(STDERR_FILENO);
    char out[4096];
    ssize_t n;

    ck_assert_int_eq(pipe(fds), 0);
    dup2(fds[1], STDERR_FILENO);
    core_log_write(CORE_LOG_WARN, "request", "path=%s",
                   "/x\nts=2026-01-01T00:00:00Z level=error event=forged\r\x01");
    dup2(saved, STDERR_FILENO);
    close(fds[1]);
    n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    close(saved);
    ck_assert_int_gt(n, 0);
    out[n] = '\0';
    ck_assert_ptr_nonnull(strstr(out, "path=/x\\nts=2026-01-01T00:00:00Z level=error"));
    ck_assert_ptr_nonnull(strstr(out, "\\r\\x01"));
    ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1); /* one line */
}
END_TEST

Suite *suite_core_time(void)
{
    Suite *s = suite_create("core_time");
    TCase *tc = tcase_create("time");

    tcase_add_test(tc, iso_round_trip);
    tcase_add_test(tc, iso_rejects);
    tcase_add_test(tc, hours_specs);
    tcase_add_test(tc, dates_and_zones);
    tcase_add_test(tc, ct_equal_and_buf);
    tcase_add_test(tc, log_values_cannot_forge_lines);
    suite_add_tcase(s, tc);
    return s;
}
