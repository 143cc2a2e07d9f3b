/* Regional working windows. The only file that includes ICU's calendar API.
 *
 * Opening an ICU calendar costs tens of microseconds and a UCalendar is not thread-safe,
 * so each zone's UTC-offset history is read out of ICU once — every transition from 1900
 * to 2100 via ucal_getTimeZoneTransitionDate — into an immutable table cached for the
 * life of the process. Every evaluation after that is arithmetic on the table: no lock,
 * no allocation, safe on any server thread.
 *
 * ICU rules kept here: UErrorCode starts at U_ZERO_ERROR and is checked after each call;
 * an unknown zone id makes ucal_open quietly return a GMT calendar, so ids are validated
 * with ucal_getCanonicalTimeZoneID first and U_USING_DEFAULT_WARNING is an error too. */
#include "scheduler/sched_windows.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unicode/ucal.h>
#include <unicode/uclean.h>
#include <unicode/putil.h>
#include <unicode/uenum.h>
#include <unicode/ustring.h>

#include "scheduler/tz.h"

#define DAY_MS 86400000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define TABLE_FROM_MS (-2208988800000LL) /* 1900-01-01T00:00:00Z */
#define TABLE_TO_MS 4102444800000LL      /* 2100-01-01T00:00:00Z */
#define HORIZON_DAYS 366
#define MAX_ZONE_ID 128

typedef struct segment {
    int64_t start; /* UTC ms from which offset applies */
    int32_t offset;
    bool dst;
} segment;

struct sched_zone {
    char *id;
    char abbrev[2][16]; /* ICU's short name, standard and daylight; "" when it has none */
    segment *seg;       /* seg[0].start is INT64_MIN */
    size_t n;
    struct sched_zone *next;
};

struct sched_windows {
    const sched_zone *zone;
    core_hours *hours;
    size_t n_hours;
    int64_t *holidays; /* local day numbers (days since 1970-01-01), sorted */
    size_t n_holidays;
};

static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;
static sched_zone *zones; /* published list; entries are never changed or freed */

static int32_t calendar_offset(UCalendar *cal, UErrorCode *st)
{
    return ucal_get(cal, UCAL_ZONE_OFFSET, st) + ucal_get(cal, UCAL_DST_OFFSET, st);
}

static bool calendar_dst(UCalendar *cal, UErrorCode *st)
{
    return ucal_get(cal, UCAL_DST_OFFSET, st) != 0;
}

/* ICU's US-English short names: "PST"/"PDT" where one is in common use, else "GMT+9"
 * style, which we leave out in favour of our own uniform "UTC+9". */
static void read_abbrevs(UCalendar *cal, sched_zone *z)
{
    static const UCalendarDisplayNameType types[2] = {UCAL_SHORT_STANDARD, UCAL_SHORT_DST};

    for (int i = 0; i < 2; i++) {
        UChar name[16];
        UErrorCode st = U_ZERO_ERROR;
        int32_t n = ucal_getTimeZoneDisplayName(cal, types[i], "en_US", name, 16, &st);

        z->abbrev[i][0] = '\0';
        if (U_SUCCESS(st) && n > 0 && n < 16) {
            u_austrncpy(z->abbrev[i], name, 15);
            z->abbrev[i][15] = '\0';
            if (strncmp(z->abbrev[i], "GMT", 3) == 0 && z->abbrev[i][3] != '\0')
                z->abbrev[i][0] = '\0';
        }
    }
}

static int push_segment(sched_zone *z, size_t *cap, int64_t start, int32_t offset, bool dst)
{
    if (z->n && z->seg[z->n - 1].offset == offset && z->seg[z->n - 1].dst == dst)
        return 0; /* a change of name only: the clock did not move */
    if (z->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        segment *p = realloc(z->seg, ncap * sizeof(*p));

        if (!p)
            return CORE_ENOMEM;
        z->seg = p;
        *cap = ncap;
    }
    z->seg[z->n].start = start;
    z->seg[z->n].offset = offset;
    z->seg[z->n].dst = dst;
    z->n++;
    return 0;
}

static int zone_validate(const char *tzid, UChar *uid, core_error *err)
{
    UChar canon[MAX_ZONE_ID];
    UBool is_system = 0;
    UErrorCode st = U_ZERO_ERROR;

    if (strlen(tzid) >= MAX_ZONE_ID)
        return core_error_set(err, CORE_EINVAL, "time zone id too long");
    u_uastrncpy(uid, tzid, MAX_ZONE_ID);
    ucal_getCanonicalTimeZoneID(uid, -1, canon, MAX_ZONE_ID, &is_system, &st);
    if (U_FAILURE(st) || !is_system)
        return core_error_set(err, CORE_EINVAL,
                              "unknown time zone \"%.80s\" (ICU time-zone data %s)", tzid,
                              sched_tz_data_version());
    return 0;
}

static int zone_build(const char *tzid, sched_zone **out, core_error *err)
{
    UChar uid[MAX_ZONE_ID];
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = NULL;
    sched_zone *z = NULL;
    size_t cap = 0;
    UDate t;
    int rc;

    rc = zone_validate(tzid, uid, err);
    if (rc < 0)
        return rc;
    cal = ucal_open(uid, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st) || st == U_USING_DEFAULT_WARNING) {
        rc = core_error_set(err, CORE_EINVAL, "ICU cannot open time zone \"%.80s\": %s", tzid,
                            u_errorName(st));
        goto out;
    }
    z = calloc(1, sizeof(*z));
    if (!z || !(z->id = strdup(tzid))) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    read_abbrevs(cal, z);
    ucal_setMillis(cal, (UDate)TABLE_FROM_MS, &st);
    rc = push_segment(z, &cap, INT64_MIN, calendar_offset(cal, &st), calendar_dst(cal, &st));
    while (rc == 0 && U_SUCCESS(st) &&
           ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_NEXT, &t, &st) &&
           t < (UDate)TABLE_TO_MS) {
        ucal_setMillis(cal, t, &st);
        rc = push_segment(z, &cap, (int64_t)t, calendar_offset(cal, &st), calendar_dst(cal, &st));
    }
    if (rc == 0 && U_FAILURE(st))
        rc = core_error_set(err, CORE_EINVAL, "ICU failed on time zone \"%.80s\": %s", tzid,
                            u_errorName(st));
    if (rc < 0 && rc != CORE_EINVAL)
        core_error_set(err, rc, "out of memory");
out:
    if (cal)
        ucal_close(cal);
    if (rc < 0 && z) {
        free(z->seg);
        free(z->id);
        free(z);
        z = NULL;
    }
    *out = z;
    return rc;
}

static sched_zone *zone_find(const char *tzid)
{
    for (sched_zone *z = zones; z; z = z->next) {
        if (strcmp(z->id, tzid) == 0)
            return z;
    }
    return NULL;
}

int sched_zone_get(const char *tzid, const sched_zone **out, core_error *err)
{
    sched_zone *z;
    int rc = 0;

    *out = NULL;
    sched_tz_setup(NULL, NULL);
    pthread_mutex_lock(&zones_lock);
    z = zone_find(tzid);
    if (!z) {
        rc = zone_build(tzid, &z, err);
        if (rc == 0) {
            z->next = zones;
            zones = z;
        }
    }
    pthread_mutex_unlock(&zones_lock);
    *out = z;
    return rc;
}

const char *sched_zone_id(const sched_zone *zone)
{
    return zone->id;
}

const char *tz_icu_version(void)
{
    UErrorCode st = U_ZERO_ERROR;
    const char *v = ucal_getTZDataVersion(&st);

    return U_SUCCESS(st) && v ? v : "unknown";
}

const char *sched_tz_data_version(void)
{
    sched_tz_setup(NULL, NULL);
    return tz_icu_version();
}

int tz_icu_each_id(tz_icu_id_fn fn, void *ctx, core_error *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UEnumeration *ids = ucal_openTimeZones(&st);
    const char *id;
    int32_t len;

    if (U_FAILURE(st))
        return core_error_set(err, CORE_EIO, "ICU cannot list its time zones: %s", u_errorName(st));
    while ((id = uenum_next(ids, &len, &st)) && U_SUCCESS(st)) {
        UChar uid[MAX_ZONE_ID], canon[MAX_ZONE_ID];
        char canonical[MAX_ZONE_ID];
        UBool is_system = 0;
        UErrorCode cst = U_ZERO_ERROR;

        if (len >= MAX_ZONE_ID)
            continue;
        u_uastrncpy(uid, id, MAX_ZONE_ID);
        len = ucal_getCanonicalTimeZoneID(uid, -1, canon, MAX_ZONE_ID, &is_system, &cst);
        if (U_FAILURE(cst) || !is_system || len >= MAX_ZONE_ID)
            continue;
        u_austrncpy(canonical, canon, MAX_ZONE_ID - 1);
        canonical[len] = '\0';
        fn(id, canonical, ctx);
    }
    uenum_close(ids);
    return 0;
}

int tz_icu_use_dir(const char *dir, const char *version, core_error *err)
{
    UErrorCode st = U_ZERO_ERROR;

    /* ICU caches what it has opened; the generator may have listed ICU's own ids. */
    u_cleanup();
    u_setTimeZoneFilesDirectory(dir ? dir : "", &st);
    if (U_FAILURE(st))
        return core_error_set(err, CORE_EIO, "ICU refuses time-zone folder %.200s: %s",
                              dir ? dir : "", u_errorName(st));
    if (version && strcmp(tz_icu_version(), version) != 0)
        return core_error_set(err, CORE_EIO,
                              "ICU did not load the time-zone data in %.200s (it reports %s, "
                              "expected %s)",
                              dir ? dir : "", tz_icu_version(), version);
    return 0;
}

/* Index of the segment in force at utc: the last one whose start <= utc. */
static size_t segment_at(const sched_zone *z, int64_t utc)
{
    size_t lo = 0, hi = z->n;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (z->seg[mid].start <= utc)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void sched_zone_abbrev(const sched_zone *zone, int64_t utc_ms, char out[16])
{
    const segment *sg = &zone->seg[segment_at(zone, utc_ms)];
    const char *name = zone->abbrev[sg->dst ? 1 : 0];
    int32_t m = (sg->offset < 0 ? -sg->offset : sg->offset) / 60000;

    if (*name) {
        snprintf(out, 16, "%s", name);
    } else if (m % 60) {
        snprintf(out, 16, "UTC%c%d:%02d", sg->offset < 0 ? '-' : '+', m / 60, m % 60);
    } else {
        snprintf(out, 16, "UTC%c%d", sg->offset < 0 ? '-' : '+', m / 60);
    }
}

int32_t sched_zone_offset_ms(const sched_zone *zone, int64_t utc_ms)
{
    return zone->seg[segment_at(zone, utc_ms)].offset;
}

int64_t sched_zone_wall_to_utc(const sched_zone *zone, int64_t wall_ms)
{
    /* Every offset on Earth lies within [-15h, +15h], so the instant lies in this range. */
    size_t i = segment_at(zone, wall_ms - 15 * HOUR_MS);

    for (size_t j = i; j < zone->n && zone->seg[j].start <= wall_ms + 15 * HOUR_MS; j++) {
        int64_t utc = wall_ms - zone->seg[j].offset;
        int64_t end = j + 1 < zone->n ? zone->seg[j + 1].start : INT64_MAX;

        /* Segments are in time order, so the first fit is the first occurrence. */
        if (utc >= zone->seg[j].start && utc < end)
            return utc;
        /* A gap: the wall time falls between what the clock showed just before the
         * transition and what it showed just after. It means the transition itself. */
        if (j + 1 < zone->n && wall_ms >= zone->seg[j + 1].start + zone->seg[j].offset &&
            wall_ms < zone->seg[j + 1].start + zone->seg[j + 1].offset)
            return zone->seg[j + 1].start;
    }
    return wall_ms - zone->seg[segment_at(zone, wall_ms)].offset;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Monday = 0 .. Sunday = 6; day 0 (1970-01-01) was a Thursday. */
static int weekday_of_day(int64_t day)
{
    return (int)(((day + 3) % 7 + 7) % 7);
}

static bool is_holiday(const sched_windows *w, int64_t day)
{
    size_t lo = 0, hi = w->n_holidays;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (w->holidays[mid] == day)
            return true;
        if (w->holidays[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_hours_start(const void *a, const void *b)
{
    const core_hours *x = a, *y = b;

    return (int)x->start_min - (int)y->start_min;
}

int sched_windows_new(sched_windows **out, const char *tzid, const core_hours *hours,
                      size_t n_hours, char *const *holidays, size_t n_holidays, core_error *err)
{
    sched_windows *w = calloc(1, sizeof(*w));
    int rc;

    *out = NULL;
    if (!w)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    rc = sched_zone_get(tzid, &w->zone, err);
    if (rc < 0)
        goto fail;
    w->hours = malloc((n_hours ? n_hours : 1) * sizeof(*w->hours));
    w->holidays = malloc((n_holidays ? n_holidays : 1) * sizeof(*w->holidays));
    if (!w->hours || !w->holidays) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto fail;
    }
    if (n_hours)
        memcpy(w->hours, hours, n_hours * sizeof(*hours));
    w->n_hours = n_hours;
    /* Windows of one day are generated in start order, which merging relies on. */
    qsort(w->hours, n_hours, sizeof(*w->hours), cmp_hours_start);
    for (size_t i = 0; i < n_holidays; i++) {
        int y, m, d;

        rc = core_date_parse(holidays[i], &y, &m, &d, err);
        if (rc < 0)
            goto fail;
        w->holidays[i] = core_days_from_civil(y, m, d);
    }
    w->n_holidays = n_holidays;
    qsort(w->holidays, n_holidays, sizeof(*w->holidays), cmp_i64);
    *out = w;
    return 0;
fail:
    sched_windows_free(w);
    return rc;
}

void sched_windows_free(sched_windows *w)
{
    if (!w)
        return;
    free(w->hours);
    free(w->holidays);
    free(w);
}

const sched_zone *sched_windows_zone(const sched_windows *w)
{
    return w->zone;
}

/* The merging scan: windows are produced in order of start, day by day from a little
 * before `at`, and folded into open spans (windows that touch or overlap are one span).
 * The scan stops as soon as the span holding `at` (or the first after it) and the one
 * after that are known, or the horizon is passed. */
typedef struct scan {
    int64_t at;
    int64_t horizon;
    bool have_span;
    int64_t span_start, span_end;
    bool open;
    int64_t next_open, next_close;
    bool done;
} scan;

static void scan_close_span(scan *s)
{
    if (!s->have_span || s->span_end <= s->at)
        return;
    if (s->span_start <= s->at) {
        s->open = true;
        s->next_close = s->span_end;
    } else if (s->next_open == SCHED_NO_INSTANT) {
        s->next_open = s->span_start;
        if (s->next_close == SCHED_NO_INSTANT)
            s->next_close = s->span_end;
        s->done = true;
    }
}

static void scan_add(scan *s, int64_t start, int64_t end)
{
    if (start >= end)
        return; /* both ends fell into one DST gap: not open that day */
    if (s->have_span && start <= s->span_end) {
        if (end > s->span_end)
            s->span_end = end;
        return;
    }
    scan_close_span(s);
    s->have_span = true;
    s->span_start = start;
    s->span_end = end;
}

static void scan_day(const sched_windows *w, scan *s, int64_t day)
{
    int wd = weekday_of_day(day);

    if (is_holiday(w, day))
        return;
    for (size_t i = 0; i < w->n_hours; i++) {
        const core_hours *h = &w->hours[i];
        int64_t wall_start, wall_end;

        if (!(h->days & (1u << wd)))
            continue;
        wall_start = day * DAY_MS + h->start_min * MIN_MS;
        wall_end = (core_hours_crosses_midnight(h) ? day + 1 : day) * DAY_MS + h->end_min * MIN_MS;
        scan_add(s, sched_zone_wall_to_utc(w->zone, wall_start),
                 sched_zone_wall_to_utc(w->zone, wall_end));
    }
}

void sched_windows_eval(const sched_windows *w, int64_t at, sched_window_state *out)
{
    scan s = {.at = at,
              .horizon = at + HORIZON_DAYS * DAY_MS,
              .next_open = SCHED_NO_INSTANT,
              .next_close = SCHED_NO_INSTANT};
    int32_t offset = sched_zone_offset_ms(w->zone, at);
    int64_t today = floor_div(at + offset, DAY_MS);

    /* A window starting two local days back may still be open (it crosses midnight and
     * a DST change can stretch it); earlier ones cannot reach `at`. */
    for (int64_t day = today - 2; !s.done; day++) {
        if (day * DAY_MS - 15 * HOUR_MS > s.horizon)
            break;
        scan_day(w, &s, day);
        /* Once open, the next opening is the start of the span after the current one,
         * unless closing that span (a later window of the same day) already said so. */
        if (!s.done && s.open && s.have_span && s.span_start > s.next_close) {
            s.next_open = s.span_start;
            s.done = true;
        }
    }
    if (!s.done)
        scan_close_span(&s);
    /* A span still growing at the horizon has no known end within a year. */
    if (s.open && s.have_span && s.span_start <= at && s.span_end > s.horizon)
        s.next_close = SCHED_NO_INSTANT;
    if (s.next_open != SCHED_NO_INSTANT && s.next_open > s.horizon)
        s.next_open = SCHED_NO_INSTANT;
    if (s.next_close != SCHED_NO_INSTANT && s.next_close > s.horizon)
        s.next_close = SCHED_NO_INSTANT;
    out->open = s.open;
    out->offset_ms = offset;
    out->next_open = s.next_open;
    out->next_close = s.next_close;
}

/* The system database's zone, read from its TZif file (no TZ, no tzset: other threads
 * may be using the C library's local time). */
typedef struct system_zone {
    sched_tzif tzif;
    sched_posix_tz footer;
    bool has_footer;
} system_zone;

static int system_zone_load(const char *id, system_zone *out, core_error *err)
{
    char path[512];
    char *data = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!core_tz_exists(id))
        return core_error_set(err, CORE_ENOTFOUND,
                              "time zone \"%.80s\" is not in the system database", id);
    snprintf(path, sizeof(path), "%s/%s", core_tz_dir(), id);
    rc = core_file_read(path, 1 << 20, &data, &len, err);
    if (rc < 0)
        return rc;
    rc = sched_tzif_parse((const uint8_t *)data, len, &out->tzif, err);
    free(data);
    if (rc < 0)
        return rc;
    out->has_footer =
        out->tzif.footer[0] && sched_posix_tz_parse(out->tzif.footer, &out->footer, NULL) == 0;
    return 0;
}

static int32_t system_offset_ms(const system_zone *sz, int64_t utc_ms)
{
    int64_t secs = utc_ms / 1000 - (utc_ms % 1000 < 0);

    return sched_tzif_utoff_at(&sz->tzif, sz->has_footer ? &sz->footer : NULL, secs) * 1000;
}

int sched_zone_check_system(const sched_zone *zone, int64_t from_ms, int days,
                            sched_tz_mismatch *out, core_error *err)
{
    const int64_t step = 15 * MIN_MS;
    system_zone sz;
    int64_t prev;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = system_zone_load(zone->id, &sz, err);
    if (rc < 0)
        return rc;
    from_ms -= from_ms % 1000;
    prev = from_ms;
    for (int64_t t = from_ms; t < from_ms + days * DAY_MS; prev = t, t += step) {
        if (system_offset_ms(&sz, t) == sched_zone_offset_ms(zone, t))
            continue;
        /* Narrow down to the first differing second after the last agreeing sample. */
        if (t > from_ms) {
            int64_t lo = prev, hi = t;

            while (hi - lo > 1000) {
                int64_t mid = lo + (hi - lo) / 2;

                mid -= mid % 1000;
                if (mid <= lo)
                    mid = lo + 1000;
                if (system_offset_ms(&sz, mid) == sched_zone_offset_ms(zone, mid))
                    lo = mid;
                else
                    hi = mid;
            }
            t = hi;
        }
        out->differs = true;
        out->at_ms = t;
        out->icu_offset_ms = sched_zone_offset_ms(zone, t);
        out->system_offset_ms = system_offset_ms(&sz, t);
        break;
    }
    sched_tzif_free(&sz.tzif);
    return 0;
}
