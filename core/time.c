/* Instants, ISO 8601 text, weekly hour specs and holiday dates. Calendar arithmetic is
 * done here by hand (proleptic Gregorian, days from civil) so that it needs neither TZ
 * nor timegm(3); time-zone rules live in scheduler/windows.c (ICU). */
#include "core/core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t core_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t core_time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t core_time_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
int64_t core_days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void core_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void core_time_format_iso(int64_t ms, char out[CORE_ISO_MAX])
{
    int64_t days = ms / 86400000;
    int64_t rem = ms % 86400000;
    int64_t y;
    int m, d;
    int h, mi, s, milli;

    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    core_civil_from_days(days, &y, &m, &d);
    h = (int)(rem / 3600000);
    mi = (int)(rem / 60000 % 60);
    s = (int)(rem / 1000 % 60);
    milli = (int)(rem % 1000);
    if (milli)
        snprintf(out, CORE_ISO_MAX, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d, h,
                 mi, s, milli);
    else
        snprintf(out, CORE_ISO_MAX, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, h, mi,
                 s);
}

void core_time_format_iso_ms(int64_t ms, char out[CORE_ISO_MAX])
{
    size_t n;

    core_time_format_iso(ms, out);
    n = strlen(out);
    if (n >= 5 && out[n - 5] != '.') /* whole seconds: "...:00Z" becomes "...:00.000Z" */
        snprintf(out + n - 1, CORE_ISO_MAX - (n - 1), ".000Z");
}

void core_duration_format(int64_t ms, char out[32])
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

    if (d)
        snprintf(out, 32, h ? "%lldd %lldh" : "%lldd", (long long)d, (long long)h);
    else if (h)
        snprintf(out, 32, m ? "%lldh %lldm" : "%lldh", (long long)h, (long long)m);
    else if (m)
        snprintf(out, 32, "%lldm", (long long)m);
    else
        snprintf(out, 32, "%llds", (long long)s);
}

void core_time_format_local(int64_t ms, int32_t offset_ms, char out[CORE_ISO_MAX])
{
    int32_t m = (offset_ms < 0 ? -offset_ms : offset_ms) / 60000;
    size_t n;

    core_time_format_iso(ms - ms % 1000 + offset_ms, out);
    n = strlen(out) - 1; /* drop the Z */
    snprintf(out + n, CORE_ISO_MAX - n, "%c%02d:%02d", offset_ms < 0 ? '-' : '+', m / 60, m % 60);
}

static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dim[m - 1];
}

int core_date_parse(const char *s, int *year, int *month, int *day, core_error *err)
{
    const char *p = s;
    int y, m, d;

    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &m) || *p++ != '-' ||
        !read_digits(&p, 2, &d) || *p != '\0')
        return core_error_set(err, CORE_EINVAL, "\"%.40s\" is not a date (YYYY-MM-DD)", s);
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return core_error_set(err, CORE_EINVAL, "\"%.40s\" is not a calendar date", s);
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

int core_time_parse_iso(const char *s, int64_t *out, core_error *err)
{
    const char *p = s;
    int y, mo, d, h, mi, sec = 0, milli = 0, oh = 0, om = 0, sign = 1;

    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
        !read_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        goto bad;
    p++;
    if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi))
        goto bad;
    if (*p == ':') {
        p++;
        if (!read_digits(&p, 2, &sec))
            goto bad;
        if (*p == '.') {
            int scale = 100;
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad;
            while (isdigit((unsigned char)*p)) {
                milli += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (!read_digits(&p, 2, &oh))
            goto bad;
        if (*p == ':')
            p++;
        if (!read_digits(&p, 2, &om))
            goto bad;
    } else {
        return core_error_set(err, CORE_EINVAL, "\"%.40s\" has no UTC offset (add Z or +HH:MM)", s);
    }
    if (*p != '\0')
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59)
        goto bad;
    *out = (core_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
            sign * (oh * 3600 + om * 60)) *
               1000 +
           milli;
    return 0;
bad:
    return core_error_set(err, CORE_EINVAL,
                          "\"%.40s\" is not an ISO 8601 instant (YYYY-MM-DDTHH:MM:SSZ)", s);
}

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

static int parse_day(const char **p)
{
    for (int i = 0; i < 7; i++) {
        if (strncmp(*p, day_names[i], 3) == 0) {
            *p += 3;
            return i;
        }
    }
    return -1;
}

static bool parse_clock(const char **p, uint16_t *out)
{
    int h, m;

    if (!read_digits(p, 2, &h) || **p != ':')
        return false;
    (*p)++;
    if (!read_digits(p, 2, &m) || m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    *out = (uint16_t)(h * 60 + m);
    return true;
}

/* Days part: "Mon", "Mon-Fri", "Fri-Mon" (wraps), "Mon,Wed,Fri", or a mix "Mon-Wed,Sat". */
static bool parse_days(const char **p, uint8_t *mask)
{
    *mask = 0;
    for (;;) {
        int from = parse_day(p), to;

        if (from < 0)
            return false;
        to = from;
        if (**p == '-') {
            (*p)++;
            to = parse_day(p);
            if (to < 0)
                return false;
        }
        for (int d = from;; d = (d + 1) % 7) {
            *mask |= (uint8_t)(1u << d);
            if (d == to)
                break;
        }
        if (**p != ',')
            return true;
        (*p)++;
    }
}

int core_hours_parse(const char *spec, core_hours *out, core_error *err)
{
    const char *p = spec;
    core_hours h;

    if (!parse_days(&p, &h.days))
        return core_error_set(err, CORE_EINVAL,
                              "\"%.60s\": expected days like Mon-Fri, Sat or Mon,Wed,Fri", spec);
    if (*p != ' ')
        return core_error_set(err, CORE_EINVAL,
                              "\"%.60s\": expected a space then HH:MM-HH:MM after the days", spec);
    while (*p == ' ')
        p++;
    if (!parse_clock(&p, &h.start_min) || *p != '-')
        return core_error_set(err, CORE_EINVAL, "\"%.60s\": bad start time (HH:MM, 00:00-23:59)",
                              spec);
    p++;
    if (!parse_clock(&p, &h.end_min) || *p != '\0')
        return core_error_set(err, CORE_EINVAL, "\"%.60s\": bad end time (HH:MM, 00:00-24:00)",
                              spec);
    if (h.start_min >= 1440)
        return core_error_set(err, CORE_EINVAL, "\"%.60s\": a window cannot start at 24:00", spec);
    if (h.start_min == h.end_min)
        return core_error_set(err, CORE_EINVAL,
                              "\"%.60s\": start equals end; use 00:00-24:00 for a whole day", spec);
    *out = h;
    return 0;
}

bool core_hours_crosses_midnight(const core_hours *h)
{
    return h->end_min <= h->start_min;
}

const char *core_tz_dir(void)
{
    const char *dir = getenv("TZDIR");

    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

void core_tz_version_of(const char *dir, char out[32])
{
    char path[512], line[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/tzdata.zi", dir);
    f = fopen(path, "r");
    if (f && fgets(line, sizeof(line), f) && strncmp(line, "# version ", 10) == 0) {
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(out, 32, "%.30s", line + 10);
    } else {
        snprintf(out, 32, "unknown");
    }
    if (f)
        fclose(f);
}

const char *core_tz_system_version(void)
{
    static char version[32];

    if (!version[0])
        core_tz_version_of(core_tz_dir(), version);
    return version;
}

bool core_tz_exists(const char *name)
{
    char path[512];
    char magic[4];
    FILE *f;
    bool ok;

    if (!name || !*name || name[0] == '/' || strstr(name, "..") || strlen(name) > 200)
        return false;
    for (const char *c = name; *c; c++) {
        if (!isalnum((unsigned char)*c) && !strchr("/_-+", *c))
            return false;
    }
    snprintf(path, sizeof(path), "%s/%s", core_tz_dir(), name);
    f = fopen(path, "rb");
    if (!f)
        return false;
    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}
