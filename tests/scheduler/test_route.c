/* scheduler/route.c: every routing rule (docs/scheduler.md, "Routing and the router"), with
 * injected instants. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_route.h"
#include "tests/support/support.h"

/* Tokyo 09-18 JST (00-09Z), Berlin 09-18 CET (08-17Z in winter), Seattle 17-02 PST
 * (01-10Z in winter). Monday 2026-01-12. */
static const char config_text[] =
    "{\"server\": {\"listen\": \"127.0.0.1:8080\"},\n"
    " \"redis\": {\"url\": \"redis://127.0.0.1:6379/0\"},\n"
    " \"regions\": [\n"
    "  {\"name\": \"apac-tokyo\", \"timezone\": \"Asia/Tokyo\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"],\n"
    "   \"holidays\": [\"2026-01-13\"]},\n"
    "  {\"name\": \"emea-berlin\", \"timezone\": \"Europe/Berlin\", \"hours\": [\"Mon-Fri "
    "09:00-18:00\"]},\n"
    "  {\"name\": \"amer-seattle\", \"timezone\": \"America/Los_Angeles\", \"hours\": [\"Mon-Fri "
    "17:00-02:00\"]}],\n"
    " \"policies\": [\n"
    "  {\"repos\": [\"acme/fallback\"], \"regions\": [\"apac-tokyo\", \"emea-berlin\"],\n"
    "   \"when_closed\": \"fallback:amer-seattle\"},\n"
    "  {\"repos\": [\"acme/queue\"], \"regions\": [\"apac-tokyo\", \"emea-berlin\"], "
    "\"when_closed\": \"queue\"},\n"
    "  {\"repos\": [\"acme/*\"], \"regions\": [\"apac-tokyo\", \"emea-berlin\", "
    "\"amer-seattle\"]}],\n"
    " \"freezes\": [{\"name\": \"year-end\", \"repos\": [\"acme/payments\"],\n"
    "   \"from\": \"2026-12-24T00:00\", \"to\": \"2027-01-02T00:00\", \"timezone\": "
    "\"Europe/Berlin\"}]}\n";

static policy_config *cfg;
static sched_plan *plan;

static void setup(void)
{
    policy_problems problems = {0};
    core_error err;

    ck_assert_msg(policy_config_parse(config_text, strlen(config_text), "route-test", &cfg,
                                      &problems, &err) == 0,
                  "%s (%s)", err.msg, problems.count ? problems.items[0].msg : "");
    ck_assert_msg(sched_plan_new(&plan, cfg, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
    sched_plan_free(plan);
    policy_config_free(cfg);
}

static sched_decision decide(const char *repo, const char *at, const sched_region_load *loads)
{
    sched_decision d;
    core_error err;

    ck_assert_msg(sched_route_decide(plan, repo, ts_iso(at), loads, &d, &err) == 0, "%s", err.msg);
    return d;
}

static const char *region_of(const sched_decision *d)
{
    return d->region >= 0 ? cfg->regions[d->region].name : "(none)";
}

START_TEST(first_open_region_in_policy_order)
{
    /* 08:30Z Monday: Tokyo (17:30 JST) and Berlin (09:30 CET) both open. */
    sched_decision d = decide("acme/api", "2026-01-12T08:30:00Z", NULL);

    ck_assert_int_eq(d.kind, SCHED_ROUTE_QUEUE);
    ck_assert_str_eq(region_of(&d), "apac-tokyo");
    ck_assert_ptr_nonnull(strstr(d.reason, "queued in apac-tokyo: open (17:30"));
}
END_TEST

START_TEST(idle_runners_then_queue_length_break_ties)
{
    sched_region_load loads[3] = {{1, 0}, {4, 9}, {0, 0}};
    sched_decision d = decide("acme/api", "2026-01-12T08:30:00Z", loads);

    ck_assert_str_eq(region_of(&d), "emea-berlin");
    ck_assert_ptr_nonnull(strstr(d.reason, "4 idle runners"));
    loads[0] = (sched_region_load){4, 2};
    loads[1] = (sched_region_load){4, 1};
    d = decide("acme/api", "2026-01-12T08:30:00Z", loads);
    ck_assert_str_eq(region_of(&d), "emea-berlin");
    loads[1] = (sched_region_load){4, 2};
    d = decide("acme/api", "2026-01-12T08:30:00Z", loads);
    ck_assert_str_eq(region_of(&d), "apac-tokyo");
}
END_TEST

START_TEST(closed_regions_are_skipped)
{
    /* 12:00Z Monday: only Berlin (13:00 CET). */
    sched_decision d = decide("acme/api", "2026-01-12T12:00:00Z", NULL);

    ck_assert_str_eq(region_of(&d), "emea-berlin");
    /* 03:00Z Tuesday: Tokyo on holiday, Berlin asleep, Seattle's Monday night shift
     * (19:00 PST) is open. */
    d = decide("acme/api", "2026-01-13T03:00:00Z", NULL);
    ck_assert_str_eq(region_of(&d), "amer-seattle");
}
END_TEST

START_TEST(defer_until_earliest_opening_with_reason)
{
    /* Saturday 2026-01-17 12:00Z: everyone is off until Monday 09:00 JST = Sun 24:00Z. */
    sched_decision d = decide("acme/api", "2026-01-17T12:00:00Z", NULL);

    ck_assert_int_eq(d.kind, SCHED_ROUTE_DEFER);
    ck_assert_int_eq(d.release_at, ts_iso("2026-01-19T00:00:00Z"));
    ck_assert_str_eq(region_of(&d), "apac-tokyo");
    ck_assert_str_eq(d.reason, "deferred: no region open; apac-tokyo opens 09:00 UTC+9, in 1d 12h");
}
END_TEST

START_TEST(fallback_and_queue_modes)
{
    /* Monday 20:00Z: Tokyo (05:00) and Berlin (21:00) closed. */
    sched_decision d = decide("acme/fallback", "2026-01-12T20:00:00Z", NULL);

    ck_assert_int_eq(d.kind, SCHED_ROUTE_QUEUE);
    ck_assert_str_eq(region_of(&d), "amer-seattle");
    ck_assert_ptr_nonnull(strstr(d.reason, "fallback"));
    d = decide("acme/queue", "2026-01-12T20:00:00Z", NULL);
    ck_assert_int_eq(d.kind, SCHED_ROUTE_QUEUE);
    /* Tuesday is Tokyo's holiday, so Berlin (Tue 09:00 CET = 08:00Z) opens first. */
    ck_assert_str_eq(region_of(&d), "emea-berlin");
    ck_assert_ptr_nonnull(strstr(d.reason, "opens first (09:00"));
}
END_TEST

START_TEST(freezes_beat_open_windows)
{
    /* Mon 2026-12-28 09:00Z: Berlin is open, but payments is frozen until
     * 2027-01-02 00:00 CET = 2027-01-01T23:00Z. */
    sched_decision d = decide("acme/payments", "2026-12-28T09:00:00Z", NULL);

    ck_assert_int_eq(d.kind, SCHED_ROUTE_DEFER);
    ck_assert_int_eq(d.release_at, ts_iso("2027-01-01T23:00:00Z"));
    ck_assert_ptr_nonnull(strstr(d.reason, "freeze \"year-end\""));
    /* Other repositories are not frozen. */
    d = decide("acme/api", "2026-12-28T09:00:00Z", NULL);
    ck_assert_int_eq(d.kind, SCHED_ROUTE_QUEUE);
    /* And the freeze ends: the first instant after it routes normally. */
    d = decide("acme/payments", "2027-01-04T09:00:00Z", NULL);
    ck_assert_int_eq(d.kind, SCHED_ROUTE_QUEUE);
}
END_TEST

START_TEST(no_policy_is_an_error)
{
    sched_decision d;
    core_error err;

    ck_assert_int_eq(sched_route_decide(plan, "other/repo", 0, NULL, &d, &err), CORE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "other/repo"));
}
END_TEST

Suite *suite_scheduler_route(void)
{
    Suite *s = suite_create("scheduler_route");
    TCase *tc = tcase_create("route");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, first_open_region_in_policy_order);
    tcase_add_test(tc, idle_runners_then_queue_length_break_ties);
    tcase_add_test(tc, closed_regions_are_skipped);
    tcase_add_test(tc, defer_until_earliest_opening_with_reason);
    tcase_add_test(tc, fallback_and_queue_modes);
    tcase_add_test(tc, freezes_beat_open_windows);
    tcase_add_test(tc, no_policy_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}
