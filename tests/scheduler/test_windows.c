/* scheduler/windows.c: table tests computed by hand from the IANA database (gaps,
 * overlaps, odd offsets), and a property test against an oracle built only on
 * glibc (TZ + localtime_r), sharing no code with the engine. */
#define _DEFAULT_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "scheduler/sched_windows.h"
#include "tests/support/support.h"

static const char *fmt(int64_t ms)
{
    static char buf[4][CORE_ISO_MAX];
    static int k;

    k = (k + 1) % 4;
    if (ms == SCHED_NO_INSTANT)
        return "null";
    core_time_format_iso(ms, buf[k]);
    return buf[k];
}

/* Wall time "YYYY-MM-DDTHH:MM" as ms counted as if UTC. */
static int64_t wall(const char *s)
{
    char z[40];

    snprintf(z, sizeof(z), "%sZ", s);
    return ts_iso(z);
}

static sched_windows *make(const char *tz, const char *const *hours, const char *holiday)
{
    core_hours h[8];
    size_t n = 0;
    sched_windows *w;
    core_error err;
    char *hol[1] = {(char *)holiday};

    for (; hours[n]; n++)
        ck_assert_int_eq(core_hours_parse(hours[n], &h[n], NULL), 0);
    ck_assert_msg(sched_windows_new(&w, tz, h, n, hol, holiday ? 1 : 0, &err) == 0, "%s", err.msg);
    return w;
}

START_TEST(offsets_match_iana_table)
{
    static const struct {
        const char *zone, *utc;
        int offset_min;
    } rows[] = {
        {"America/Los_Angeles", "2026-03-08T09:59:59Z", -480},
        {"America/Los_Angeles", "2026-03-08T10:00:00Z", -420},
        {"America/Los_Angeles", "2026-11-01T08:30:00Z", -420},
        {"America/Los_Angeles", "2026-11-01T09:30:00Z", -480},
        {"Europe/Berlin", "2026-03-29T00:59:59Z", 60},
        {"Europe/Berlin", "2026-03-29T01:00:00Z", 120},
        {"Europe/Berlin", "2026-10-25T00:30:00Z", 120},
        {"Europe/Berlin", "2026-10-25T01:30:00Z", 60},
        {"Australia/Lord_Howe", "2026-10-03T15:29:59Z", 630},
        {"Australia/Lord_Howe", "2026-10-03T15:30:00Z", 660},
        {"Australia/Lord_Howe", "2026-04-04T14:45:00Z", 660},
        {"Australia/Lord_Howe", "2026-04-04T15:15:00Z", 630},
        {"Asia/Kathmandu", "2026-06-01T03:15:00Z", 345},
        {"Asia/Kathmandu", "1986-01-01T00:00:00Z", 345},
        {"Asia/Kathmandu", "1985-12-31T18:29:59Z", 330},
        {"Asia/Kolkata", "2026-06-01T03:30:00Z", 330},
        {"America/Sao_Paulo", "2018-11-04T03:00:00Z", -120},
        {"America/Sao_Paulo", "2019-02-17T01:30:00Z", -120},
        {"America/Sao_Paulo", "2019-02-17T02:30:00Z", -180},
        {"America/Sao_Paulo", "2019-11-03T03:00:00Z", -180},
        {"Pacific/Apia", "2011-12-30T09:59:59Z", -600},
        {"Pacific/Apia", "2011-12-30T10:00:00Z", 840},
        {"Pacific/Apia", "2021-06-01T00:00:00Z", 780},
        {"Europe/Dublin", "2026-01-15T09:00:00Z", 0},
        {"Europe/Dublin", "2026-07-15T08:00:00Z", 60},
        {"Pacific/Chatham", "2026-01-15T00:00:00Z", 825},
        {"Pacific/Kiritimati", "2026-01-15T10:00:00Z", 840},
        {"Pacific/Pago_Pago", "2026-01-15T10:00:00Z", -660},
        /* Santiago: DST ends Sun 2026-04-05 00:00 -03 (back to Sat 23:00 -04) and starts
         * Sun 2026-09-06 00:00 -04 (on to 01:00 -03): both at local midnight. */
        {"America/Santiago", "2026-04-05T02:59:59Z", -180},
        {"America/Santiago", "2026-04-05T03:00:00Z", -240},
        {"America/Santiago", "2026-09-06T03:59:59Z", -240},
        {"America/Santiago", "2026-09-06T04:00:00Z", -180},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const sched_zone *z;

        ck_assert_int_eq(sched_zone_get(rows[i].zone, &z, NULL), 0);
        ck_assert_msg(sched_zone_offset_ms(z, ts_iso(rows[i].utc)) == rows[i].offset_min * 60000,
                      "%s at %s: got %d min, want %d", rows[i].zone, rows[i].utc,
                      sched_zone_offset_ms(z, ts_iso(rows[i].utc)) / 60000, rows[i].offset_min);
    }
}
END_TEST

START_TEST(wall_times_resolve_by_spec)
{
    static const struct {
        const char *zone, *wall, *utc;
    } rows[] = {
        {"America/Los_Angeles", "2026-03-09T17:00", "2026-03-10T00:00:00Z"},
        {"America/Los_Angeles", "2026-03-08T02:00", "2026-03-08T10:00:00Z"}, /* gap */
        {"America/Los_Angeles", "2026-03-08T02:30", "2026-03-08T10:00:00Z"}, /* gap */
        {"America/Los_Angeles", "2026-11-01T01:30", "2026-11-01T08:30:00Z"}, /* first */
        {"America/Los_Angeles", "2026-11-01T03:00", "2026-11-01T11:00:00Z"},
        {"Europe/Berlin", "2026-03-29T02:15", "2026-03-29T01:00:00Z"},
        {"Europe/Berlin", "2026-10-25T02:15", "2026-10-25T00:15:00Z"},
        {"Australia/Lord_Howe", "2026-10-04T02:00", "2026-10-03T15:30:00Z"},
        {"Australia/Lord_Howe", "2026-10-04T02:29", "2026-10-03T15:30:00Z"},
        {"Australia/Lord_Howe", "2026-04-05T01:45", "2026-04-04T14:45:00Z"},
        {"America/Sao_Paulo", "2018-11-04T00:00", "2018-11-04T03:00:00Z"},
        {"America/Sao_Paulo", "2019-11-03T00:00", "2019-11-03T03:00:00Z"},
        {"Europe/Dublin", "2026-03-29T01:30", "2026-03-29T01:00:00Z"},
        {"Europe/Dublin", "2026-10-25T01:30", "2026-10-25T00:30:00Z"},
        {"Pacific/Apia", "2011-12-30T09:00", "2011-12-30T10:00:00Z"}, /* a lost day */
        {"Asia/Kathmandu", "2026-06-01T09:00", "2026-06-01T03:15:00Z"},
        {"Europe/Berlin", "2026-03-31T00:00", "2026-03-30T22:00:00Z"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const sched_zone *z;
        int64_t got;

        ck_assert_int_eq(sched_zone_get(rows[i].zone, &z, NULL), 0);
        got = sched_zone_wall_to_utc(z, wall(rows[i].wall));
        ck_assert_msg(got == ts_iso(rows[i].utc), "%s %s: got %s want %s", rows[i].zone,
                      rows[i].wall, fmt(got), rows[i].utc);
    }
}
END_TEST

typedef struct scenario {
    const char *zone;
    const char *hours[4];
    const char *holiday;
    const char *at;
    bool open;
    const char *next_open, *next_close; /* NULL = null */
} scenario;

static void check_scenario(const scenario *c)
{
    sched_windows *w = make(c->zone, c->hours, c->holiday);
    sched_window_state st;
    int64_t want_open = c->next_open ? ts_iso(c->next_open) : SCHED_NO_INSTANT;
    int64_t want_close = c->next_close ? ts_iso(c->next_close) : SCHED_NO_INSTANT;

    sched_windows_eval(w, ts_iso(c->at), &st);
    ck_assert_msg(st.open == c->open, "%s %s at %s: open=%d", c->zone, c->hours[0], c->at, st.open);
    ck_assert_msg(st.next_open == want_open, "%s %s at %s: next_open %s want %s", c->zone,
                  c->hours[0], c->at, fmt(st.next_open), fmt(want_open));
    ck_assert_msg(st.next_close == want_close, "%s %s at %s: next_close %s want %s", c->zone,
                  c->hours[0], c->at, fmt(st.next_close), fmt(want_close));
    sched_windows_free(w);
}

START_TEST(window_scenarios)
{
    static const scenario rows[] = {
        /* Seattle's night shift crosses midnight. */
        {"America/Los_Angeles",
         {"Mon-Fri 17:00-02:00"},
         NULL,
         "2026-03-10T08:59:59Z",
         true,
         "2026-03-11T00:00:00Z",
         "2026-03-10T09:00:00Z"},
        {"America/Los_Angeles",
         {"Mon-Fri 17:00-02:00"},
         NULL,
         "2026-03-14T08:30:00Z",
         true,
         "2026-03-17T00:00:00Z",
         "2026-03-14T09:00:00Z"},
        {"America/Los_Angeles",
         {"Mon-Fri 17:00-02:00"},
         NULL,
         "2026-03-08T09:30:00Z",
         false,
         "2026-03-10T00:00:00Z",
         "2026-03-10T09:00:00Z"},
        {"America/Los_Angeles",
         {"Mon-Fri 17:00-02:00"},
         NULL,
         "2026-03-09T17:30:00Z",
         false,
         "2026-03-10T00:00:00Z",
         "2026-03-10T09:00:00Z"},
        /* Holidays close windows that start on them, not ones that end on them. */
        {"America/Los_Angeles",
         {"Mon-Fri 17:00-02:00"},
         "2026-03-09",
         "2026-03-10T05:00:00Z",
         false,
         "2026-03-11T00:00:00Z",
         "2026-03-11T09:00:00Z"},
        {"America/Los_Angeles",
         {"Mon-Fri 17:00-02:00"},
         "2026-03-10",
         "2026-03-10T08:00:00Z",
         true,
         "2026-03-12T00:00:00Z",
         "2026-03-10T09:00:00Z"},
        /* Always open. */
        {"Asia/Tokyo", {"Mon-Sun 00:00-24:00"}, NULL, "2026-03-09T17:30:00Z", true, NULL, NULL},
        /* Touching windows merge. */
        {"Europe/Berlin",
         {"Mon-Fri 09:00-18:00", "Mon-Fri 18:00-20:00"},
         NULL,
         "2026-03-30T15:00:00Z",
         true,
         "2026-03-31T07:00:00Z",
         "2026-03-30T18:00:00Z"},
        /* Overlapping windows merge. */
        {"Europe/Berlin",
         {"Mon-Fri 09:00-13:00", "Mon-Fri 12:00-18:00"},
         NULL,
         "2026-03-30T08:00:00Z",
         true,
         "2026-03-31T07:00:00Z",
         "2026-03-30T16:00:00Z"},
        /* Berlin's 09:00 moves in UTC across the switch. */
        {"Europe/Berlin",
         {"Mon-Fri 09:00-18:00"},
         NULL,
         "2026-03-27T18:00:00Z",
         false,
         "2026-03-30T07:00:00Z",
         "2026-03-30T16:00:00Z"},
        /* The Apia Friday that never was contributes no window. */
        {"Pacific/Apia",
         {"Mon-Fri 09:00-17:00"},
         NULL,
         "2011-12-30T03:00:00Z",
         false,
         "2012-01-01T19:00:00Z",
         "2012-01-02T03:00:00Z"},
        /* A window wholly inside a DST gap is not open that day. */
        {"America/Los_Angeles",
         {"Sun 02:10-02:50"},
         NULL,
         "2026-03-08T09:00:00Z",
         false,
         "2026-03-15T09:10:00Z",
         "2026-03-15T09:50:00Z"},
        /* Start in the gap: opens at the first instant after it. */
        {"America/Los_Angeles",
         {"Sun 02:30-06:00"},
         NULL,
         "2026-03-08T09:00:00Z",
         false,
         "2026-03-08T10:00:00Z",
         "2026-03-08T13:00:00Z"},
        /* Start in the repeated hour: its first occurrence; 1.5 local hours last 2.5. */
        {"America/Los_Angeles",
         {"Sun 01:30-03:00"},
         NULL,
         "2026-11-01T08:00:00Z",
         false,
         "2026-11-01T08:30:00Z",
         "2026-11-01T11:00:00Z"},
        {"America/Los_Angeles",
         {"Sun 01:30-03:00"},
         NULL,
         "2026-11-01T10:30:00Z",
         true,
         "2026-11-08T09:30:00Z",
         "2026-11-01T11:00:00Z"},
        /* Lord Howe's half-hour DST. */
        {"Australia/Lord_Howe",
         {"Sun 02:00-04:00"},
         NULL,
         "2026-10-03T15:00:00Z",
         false,
         "2026-10-03T15:30:00Z",
         "2026-10-03T17:00:00Z"},
        /* Quarter- and three-quarter-hour offsets. */
        {"Asia/Kathmandu",
         {"Mon-Fri 09:00-18:00"},
         NULL,
         "2026-06-01T03:14:59Z",
         false,
         "2026-06-01T03:15:00Z",
         "2026-06-01T12:15:00Z"},
        {"Pacific/Chatham",
         {"Mon-Fri 09:00-17:00"},
         NULL,
         "2026-01-14T20:15:00Z",
         true,
         "2026-01-15T19:15:00Z",
         "2026-01-15T03:15:00Z"},
        /* +14: Kiritimati's Friday starts while it is Thursday 10:00Z. */
        {"Pacific/Kiritimati",
         {"Fri 00:00-08:00"},
         NULL,
         "2026-01-15T10:00:00Z",
         true,
         "2026-01-22T10:00:00Z",
         "2026-01-15T18:00:00Z"},
        /* 24:00 as an end. */
        {"Europe/Berlin",
         {"Mon 20:00-24:00"},
         NULL,
         "2026-03-30T21:59:59Z",
         true,
         "2026-04-06T18:00:00Z",
         "2026-03-30T22:00:00Z"},
        /* Santiago: midnight does not exist on 2026-09-06, so the window opens at 01:00. */
        {"America/Santiago",
         {"Sun 00:00-02:00"},
         NULL,
         "2026-09-06T03:00:00Z",
         false,
         "2026-09-06T04:00:00Z",
         "2026-09-06T05:00:00Z"},
        /* ...and 23:30 on 2026-04-04 happens twice: the window opens at the first. */
        {"America/Santiago",
         {"Sat 23:30-01:00"},
         NULL,
         "2026-04-05T02:00:00Z",
         false,
         "2026-04-05T02:30:00Z",
         "2026-04-05T05:00:00Z"},
        /* Havana changes its clocks at midnight: the day starts at 01:00. */
        {"America/Havana",
         {"Sun 00:00-03:00"},
         NULL,
         "2026-03-08T04:00:00Z",
         false,
         "2026-03-08T05:00:00Z",
         "2026-03-08T07:00:00Z"},
        /* Open in the 01:30 window while the 02:15 one lies wholly in the gap: the next
         * opening is next Sunday's 01:30 (PDT), not its 02:15. */
        {"America/Los_Angeles",
         {"Sun 01:30-01:45", "Sun 02:15-02:45"},
         NULL,
         "2026-03-08T09:30:00Z",
         true,
         "2026-03-15T08:30:00Z",
         "2026-03-08T09:45:00Z"},
        /* Open on Monday; Tuesday's first window is the next opening, not its second. */
        {"America/Los_Angeles",
         {"Mon 09:00-10:00", "Tue 09:00-10:00", "Tue 11:00-12:00"},
         NULL,
         "2026-03-02T17:30:00Z",
         true,
         "2026-03-03T17:00:00Z",
         "2026-03-02T18:00:00Z"},
        /* Rules changed after ICU 72's data (2022e): Mexico left DST in 2022, Egypt came
         * back to it in 2023, Ciudad Juarez and Coyhaique are zones of their own since. */
        {"America/Mexico_City",
         {"Mon-Fri 09:00-17:00"},
         NULL,
         "2026-07-01T14:59:59Z",
         false,
         "2026-07-01T15:00:00Z",
         "2026-07-01T23:00:00Z"},
        {"Africa/Cairo",
         {"Mon-Fri 09:00-17:00"},
         NULL,
         "2026-07-01T06:00:00Z",
         true,
         "2026-07-02T06:00:00Z",
         "2026-07-01T14:00:00Z"},
        {"America/Ciudad_Juarez",
         {"Mon-Fri 09:00-17:00"},
         NULL,
         "2026-07-01T14:59:59Z",
         false,
         "2026-07-01T15:00:00Z",
         "2026-07-01T23:00:00Z"},
        {"America/Coyhaique",
         {"Mon-Fri 09:00-17:00"},
         NULL,
         "2026-07-01T12:00:00Z",
         true,
         "2026-07-02T12:00:00Z",
         "2026-07-01T20:00:00Z"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_scenario(&rows[i]);
}
END_TEST

START_TEST(unknown_zones_are_errors)
{
    const sched_zone *z;
    core_error err;
    sched_windows *w;
    core_hours h;

    ck_assert_int_eq(sched_zone_get("Mars/Olympus_Mons", &z, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "Mars/Olympus_Mons"));
    ck_assert_ptr_null(z);
    ck_assert_int_eq(sched_zone_get("", &z, &err), CORE_EINVAL);
    ck_assert_int_eq(core_hours_parse("Mon 09:00-10:00", &h, NULL), 0);
    ck_assert_int_eq(sched_windows_new(&w, "Not/AZone", &h, 1, NULL, 0, &err), CORE_EINVAL);
    ck_assert_ptr_null(w);
    ck_assert_str_ne(sched_tz_data_version(), "unknown");
}
END_TEST

/* ---- the glibc oracle ------------------------------------------------------------------ */

static int32_t glibc_offset(int64_t utc_ms)
{
    time_t t = (time_t)(utc_ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    return (int32_t)tm.tm_gmtoff * 1000;
}

/* The first second in (lo, hi] whose glibc offset is not `before` (hi's is not). */
static int64_t first_change(int64_t lo, int64_t hi, int32_t before)
{
    while (hi - lo > 1000) {
        int64_t mid = lo + (hi - lo) / 2;

        mid -= mid % 1000;
        if (mid <= lo)
            mid = lo + 1000;
        if (glibc_offset(mid) == before)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* The distinct offsets glibc shows in the days around `at` (sampled hourly: every
 * offset in force lasts far longer than an hour). */
static size_t oracle_offsets(int64_t at, int32_t *offs, size_t cap)
{
    size_t n = 0;

    for (int64_t u = at - 4 * 86400000LL; u <= at + 3 * 86400000LL; u += 3600000) {
        int32_t o = glibc_offset(u);
        bool seen = false;

        for (size_t i = 0; i < n; i++)
            seen |= offs[i] == o;
        if (!seen && n < cap)
            offs[n++] = o;
    }
    return n;
}

/* The documented meaning of a wall time (docs/scheduler.md, "Working windows"), using only
 * localtime_r. */
static int64_t oracle_wall_to_utc(int64_t w, const int32_t *offs, size_t n)
{
    int64_t best = INT64_MAX;

    for (size_t i = 0; i < n; i++) {
        if (glibc_offset(w - offs[i]) == offs[i] && w - offs[i] < best)
            best = w - offs[i];
    }
    if (best != INT64_MAX)
        return best;
    /* A gap: bisect for the transition between the two sides. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int64_t lo = w - offs[j], hi = w - offs[i]; /* offs[i] before, offs[j] after */

            if (offs[j] <= offs[i] || glibc_offset(lo) != offs[i] || glibc_offset(hi) != offs[j])
                continue;
            return first_change(lo, hi, offs[i]);
        }
    }
    ck_abort_msg("oracle: no meaning for wall time %s", fmt(w));
    return 0;
}

static const char *const prop_hours[] = {"Mon-Fri 09:00-18:00", "Sat 01:30-02:30",
                                         "Sun 22:00-03:00", "Wed 18:00-20:00"};

static bool oracle_open(int64_t at)
{
    int32_t offs[16];
    size_t n = oracle_offsets(at, offs, 16);
    int64_t local = at + glibc_offset(at);
    int64_t today = local / 86400000 - (local < 0 && local % 86400000);

    for (int64_t day = today - 2; day <= today + 1; day++) {
        int wd = (int)(((day + 3) % 7 + 7) % 7);

        for (size_t i = 0; i < sizeof(prop_hours) / sizeof(prop_hours[0]); i++) {
            core_hours h;
            int64_t s, e;

            core_hours_parse(prop_hours[i], &h, NULL);
            if (!(h.days & (1u << wd)))
                continue;
            s = oracle_wall_to_utc(day * 86400000 + h.start_min * 60000LL, offs, n);
            e = oracle_wall_to_utc((h.end_min <= h.start_min ? day + 1 : day) * 86400000 +
                                       h.end_min * 60000LL,
                                   offs, n);
            if (s <= at && at < e)
                return true;
        }
    }
    return false;
}

/* Every id of the system database: tzdata.zi's zones ("Z NAME ...") and links
 * ("L TARGET NAME"). */
static char **system_zone_ids(size_t *n)
{
    char path[512], line[512], **ids = NULL;
    size_t cap = 0;
    FILE *f;

    *n = 0;
    snprintf(path, sizeof(path), "%s/tzdata.zi", core_tz_dir());
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    while (fgets(line, sizeof(line), f)) {
        char a[256], b[256];
        const char *id = NULL;

        if (line[0] == 'Z' && sscanf(line, "Z %255s", a) == 1)
            id = a;
        else if (line[0] == 'L' && sscanf(line, "L %255s %255s", a, b) == 2)
            id = b;
        if (!id)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            ids = realloc(ids, cap * sizeof(*ids));
        }
        ids[(*n)++] = strdup(id);
    }
    fclose(f);
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* The instants (ms) at which glibc's offset changes in [from, to), found by sampling every
 * six hours and bisecting to the second; at most cap. */
static size_t glibc_transitions(int64_t from, int64_t to, int64_t *out, size_t cap)
{
    const int64_t step = 6 * 3600000LL;
    size_t n = 0;

    for (int64_t t = from; t + step <= to && n < cap; t += step) {
        if (glibc_offset(t) != glibc_offset(t + step))
            out[n++] = first_change(t, t + step, glibc_offset(t));
    }
    return n;
}

static int64_t random_instant(unsigned *seed, int64_t from, int64_t to)
{
    uint64_t r = (uint64_t)rand_r(seed) << 31 ^ (uint64_t)rand_r(seed);

    return from + (int64_t)(r % (uint64_t)((to - from) / 1000)) * 1000;
}

/* Every zone and link of the system database is known, and its offsets are the system's
 * on both sides of each change 2026-2028 and at random instants 1901-2099. */
START_TEST(every_system_zone_has_the_systems_offsets)
{
    const int64_t from = ts_iso("2026-01-01T00:00:00Z"), to = ts_iso("2029-01-01T00:00:00Z");
    const int64_t rfrom = ts_iso("1901-01-01T00:00:00Z"), rto = ts_iso("2099-12-31T00:00:00Z");
    unsigned seed = 20261204;
    size_t n, changes = 0;
    char **ids = system_zone_ids(&n);

    ck_assert_int_ge(n, 500);
    for (size_t i = 0; i < n; i++) {
        const sched_zone *z;
        core_error err = {0};
        int64_t tr[64];
        size_t nt;

        ck_assert_msg(sched_zone_get(ids[i], &z, &err) == 0, "%s: %s", ids[i], err.msg);
        ts_tz_use(ids[i]);
        nt = glibc_transitions(from, to, tr, 64);
        changes += nt;
        for (size_t k = 0; k < nt; k++) {
            ck_assert_msg(sched_zone_offset_ms(z, tr[k] - 1000) == glibc_offset(tr[k] - 1000),
                          "%s just before %s: UTC%+d s, system UTC%+d s", ids[i], fmt(tr[k]),
                          sched_zone_offset_ms(z, tr[k] - 1000) / 1000,
                          glibc_offset(tr[k] - 1000) / 1000);
            ck_assert_msg(sched_zone_offset_ms(z, tr[k]) == glibc_offset(tr[k]),
                          "%s at %s: UTC%+d s, system UTC%+d s", ids[i], fmt(tr[k]),
                          sched_zone_offset_ms(z, tr[k]) / 1000, glibc_offset(tr[k]) / 1000);
        }
        for (int k = 0; k < 200; k++) {
            int64_t at = random_instant(&seed, rfrom, rto);

            ck_assert_msg(sched_zone_offset_ms(z, at) == glibc_offset(at),
                          "%s at %s: UTC%+d s, system UTC%+d s", ids[i], fmt(at),
                          sched_zone_offset_ms(z, at) / 1000, glibc_offset(at) / 1000);
        }
    }
    ts_tz_restore();
    free_ids(ids, n);
    ck_assert_int_ge(changes, 500);
    ck_assert_str_eq(sched_tz_data_version(), core_tz_system_version());
}
END_TEST

static void check_against_oracle(const char *id, sched_windows *w, int64_t at)
{
    sched_window_state st;

    sched_windows_eval(w, at, &st);
    ck_assert_msg(st.offset_ms == glibc_offset(at), "%s at %s: offset", id, fmt(at));
    ck_assert_msg(st.open == oracle_open(at), "%s at %s: engine open=%d", id, fmt(at), st.open);
    /* The next changes are real changes, and nothing changes before them. */
    ck_assert(st.next_open != SCHED_NO_INSTANT && st.next_close != SCHED_NO_INSTANT);
    ck_assert_msg(oracle_open(st.next_open) && !oracle_open(st.next_open - 1000),
                  "%s at %s: next_open %s is no opening", id, fmt(at), fmt(st.next_open));
    ck_assert_msg(!oracle_open(st.next_close) && oracle_open(st.next_close - 1000),
                  "%s at %s: next_close %s is no closing", id, fmt(at), fmt(st.next_close));
    {
        int64_t first = st.open ? st.next_close : st.next_open;
        int64_t mid = at + (first - at) / 2;

        ck_assert_msg(oracle_open(mid) == st.open, "%s at %s: changes before %s", id, fmt(at),
                      fmt(first));
    }
}

/* Windows in every zone of the system database, at instants around each zone's changes
 * of 2026-2028 and at random ones, against the glibc oracle: no zone is skipped. */
START_TEST(engine_agrees_with_glibc_oracle)
{
    const int64_t from = ts_iso("2026-01-01T00:00:00Z"), to = ts_iso("2029-01-01T00:00:00Z");
    const int64_t rfrom = ts_iso("2020-01-01T00:00:00Z"), rto = ts_iso("2030-01-01T00:00:00Z");
    static const int64_t around[] = {-5400000, -1000, 0, 1800000, 5400000};
    unsigned seed = 20261124;
    size_t n, instants = 0;
    char **ids = system_zone_ids(&n);
    core_hours h[4];

    for (int i = 0; i < 4; i++)
        core_hours_parse(prop_hours[i], &h[i], NULL);
    for (size_t i = 0; i < n; i++) {
        sched_windows *w;
        int64_t tr[8];
        size_t nt;

        ck_assert_int_eq(sched_windows_new(&w, ids[i], h, 4, NULL, 0, NULL), 0);
        ts_tz_use(ids[i]);
        nt = glibc_transitions(from, to, tr, 2);
        for (size_t k = 0; k < nt; k++) {
            for (size_t a = 0; a < sizeof(around) / sizeof(around[0]); a++, instants++)
                check_against_oracle(ids[i], w, tr[k] + around[a]);
        }
        for (int k = 0; k < 4; k++, instants++)
            check_against_oracle(ids[i], w, random_instant(&seed, rfrom, rto));
        sched_windows_free(w);
    }
    ts_tz_restore();
    free_ids(ids, n);
    ck_assert_int_ge(instants, 3000);
}
END_TEST

Suite *suite_scheduler_windows(void)
{
    Suite *s = suite_create("scheduler_windows");
    TCase *tc = tcase_create("windows");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, offsets_match_iana_table);
    tcase_add_test(tc, wall_times_resolve_by_spec);
    tcase_add_test(tc, window_scenarios);
    tcase_add_test(tc, unknown_zones_are_errors);
    tcase_add_test(tc, every_system_zone_has_the_systems_offsets);
    tcase_add_test(tc, engine_agrees_with_glibc_oracle);
    suite_add_tcase(s, tc);
    return s;
}
