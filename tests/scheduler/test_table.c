/* scheduler/table.c: the regions' table that `zoneci windows` prints and `/zoneci windows`
 * shows, and one region's state in words, at injected instants. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_windows.h"
#include "tests/support/support.h"

/* Tokyo 09-18 JST, Berlin 09-18 CET/CEST, Seattle 08-17 PST/PDT (examples/zoneci.json's). */
static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"regions\": [\n"
    "  {\"name\": \"apac-tokyo\", \"timezone\": \"Asia/Tokyo\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"]},\n"
    "  {\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"]},\n"
    "  {\"name\": \"a-region-name-longer-than-sixteen\", \"timezone\": \"America/Los_Angeles\", "
    "\"hours\": [\"Mon-Fri 08:00-17:00\"]},\n"
    "  {\"name\": \"always\", \"timezone\": \"Etc/UTC\", \"hours\": [\"Mon-Sun 00:00-24:00\"]}],\n"
    " \"policies\": [{\"repos\": [\"acme/*\"], \"regions\": [\"apac-tokyo\"]}]}\n";

static policy_config *cfg;
static sched_plan *plan;

static void setup(void)
{
    policy_problems problems = {0};
    core_error err;

    ck_assert_msg(policy_config_parse(config_text, strlen(config_text), "table-test", &cfg,
                                      &problems, &err) == 0,
                  "%s (%s)", err.msg, problems.count ? problems.items[0].msg : "");
    ck_assert_msg(sched_plan_new(&plan, cfg, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
    sched_plan_free(plan);
    policy_config_free(cfg);
}

START_TEST(table_rows_say_state_and_next_change)
{
    core_buf b = {0};
    char want[256];

    /* Monday 2026-03-09 01:00Z: 10:00 in Tokyo, 02:00 in Berlin, Sunday 18:00 PDT. */
    ck_assert_int_eq(sched_plan_table(plan, ts_iso("2026-03-09T01:00:00Z"), NULL, &b), 0);
    snprintf(want, sizeof(want), "at 2026-03-09T01:00:00Z (time-zone data %s)\n\n",
             sched_tz_data_version());
    ck_assert_int_eq(strncmp(b.data, want, strlen(want)), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "REGION           ZONE                   LOCAL TIME       "
                                         "      STATE    NEXT CHANGE\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "apac-tokyo       Asia/Tokyo             2026-03-09 10:00 "
                                         "UTC+9 open     closes 18:00 UTC+9, in 8h\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "emea-berlin      Europe/Berlin          2026-03-09 02:00 "
                                         "UTC+1 closed   opens 09:00 UTC+1, in 7h\n"));
    /* A long name is cut to its column. */
    ck_assert_ptr_nonnull(strstr(b.data, "a-region-name-lo America/Los_Angeles    2026-03-08 18:00 "
                                         "PDT   closed   opens 08:00 PDT, in 14h\n"));
    ck_assert_ptr_nonnull(strstr(b.data, " open     none within a year\n"));
    ck_assert_ptr_null(strstr(b.data, "\033"));
    core_buf_free(&b);
}
END_TEST

START_TEST(paint_colours_only_the_state)
{
    const sched_paint paint = {"<G>", "", "<Y>", "<D>", "<R>"};
    core_buf b = {0};

    ck_assert_int_eq(sched_plan_table(plan, ts_iso("2026-03-09T01:00:00Z"), &paint, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "<G>open    <R> closes 18:00"));
    ck_assert_ptr_nonnull(strstr(b.data, "<D>closed  <R> opens 09:00"));
    core_buf_free(&b);
}
END_TEST

START_TEST(region_now_in_words)
{
    sched_region_now now;

    sched_plan_region_now(plan, 1, ts_iso("2026-03-09T09:30:00Z"), &now);
    ck_assert(now.open);
    ck_assert_int_eq(now.next_change, ts_iso("2026-03-09T17:00:00Z"));
    ck_assert_str_eq(now.change, "closes 18:00 UTC+1, in 7h 30m");
    ck_assert_str_eq(now.abbr, "UTC+1");
    ck_assert_int_eq(strncmp(now.local, "2026-03-09T10:30", 16), 0);
    sched_plan_region_now(plan, 3, ts_iso("2026-03-09T09:30:00Z"), &now);
    ck_assert(now.open);
    ck_assert(now.next_change == SCHED_NO_INSTANT);
    ck_assert_str_eq(now.change, "none within a year");
}
END_TEST

Suite *suite_scheduler_table(void)
{
    Suite *s = suite_create("scheduler_table");
    TCase *tc = tcase_create("table");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, table_rows_say_state_and_next_change);
    tcase_add_test(tc, paint_colours_only_the_state);
    tcase_add_test(tc, region_now_in_words);
    suite_add_tcase(s, tc);
    return s;
}
