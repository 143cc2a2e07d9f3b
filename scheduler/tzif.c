/* The system's compiled time-zone data, read without ICU: TZif files (RFC 8536, version 1
 * to 4) and the POSIX TZ strings in their footers, which give the rules for every instant
 * after the last transition. Pure functions on bytes: the generator in tzdata.c turns
 * what they return into ICU's resource text, and the fuzz target feeds them anything. */
#include "scheduler/sched_windows.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZIF_HEADER 44
#define TZIF_MAX_TRANS 60000
#define TZIF_MAX_TYPES 256
#define SECS_PER_DAY 86400

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_counts;

static void read_counts(const uint8_t *h, tzif_counts *c)
{
    c->isutcnt = be32(h + 20);
    c->isstdcnt = be32(h + 24);
    c->leapcnt = be32(h + 28);
    c->timecnt = be32(h + 32);
    c->typecnt = be32(h + 36);
    c->charcnt = be32(h + 40);
}

/* Bytes of one data block whose times are `tsize` bytes wide. */
static size_t block_size(const tzif_counts *c, size_t tsize)
{
    return (size_t)c->timecnt * tsize + c->timecnt + (size_t)c->typecnt * 6 + c->charcnt +
           (size_t)c->leapcnt * (tsize + 4) + c->isstdcnt + c->isutcnt;
}

static int read_block(const uint8_t *p, const tzif_counts *c, size_t tsize, sched_tzif *out,
                      core_error *err)
{
    const uint8_t *idx = p + (size_t)c->timecnt * tsize;
    const uint8_t *types = idx + c->timecnt;
    const char *chars = (const char *)(types + (size_t)c->typecnt * 6);

    if (c->typecnt == 0 || c->typecnt > TZIF_MAX_TYPES || c->timecnt > TZIF_MAX_TRANS)
        return core_error_set(err, CORE_EINVAL, "tzif: %u types and %u transitions", c->typecnt,
                              c->timecnt);
    out->trans = calloc(c->timecnt ? c->timecnt : 1, sizeof(*out->trans));
    out->type_of = calloc(c->timecnt ? c->timecnt : 1, 1);
    out->types = calloc(c->typecnt, sizeof(*out->types));
    if (!out->trans || !out->type_of || !out->types)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < c->timecnt; i++) {
        out->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
        out->type_of[i] = idx[i];
        if (idx[i] >= c->typecnt)
            return core_error_set(err, CORE_EINVAL, "tzif: transition %u names type %u of %u", i,
                                  idx[i], c->typecnt);
        if (i > 0 && out->trans[i] <= out->trans[i - 1])
            return core_error_set(err, CORE_EINVAL, "tzif: transitions out of order at %u", i);
    }
    out->n_trans = c->timecnt;
    for (uint32_t i = 0; i < c->typecnt; i++) {
        const uint8_t *t = types + i * 6;
        int32_t utoff = (int32_t)be32(t);
        uint8_t ai = t[5];

        if (utoff <= -25 * 3600 || utoff >= 26 * 3600 || t[4] > 1 || ai >= c->charcnt)
            return core_error_set(err, CORE_EINVAL, "tzif: local time type %u is malformed", i);
        out->types[i].utoff = utoff;
        out->types[i].isdst = t[4] == 1;
        /* The designation runs to the next NUL, which must lie inside the block. */
        if (!memchr(chars + ai, '\0', c->charcnt - ai))
            return core_error_set(err, CORE_EINVAL, "tzif: unterminated designation");
        snprintf(out->types[i].abbr, sizeof(out->types[i].abbr), "%s", chars + ai);
    }
    out->n_types = c->typecnt;
    return 0;
}

int sched_tzif_parse(const uint8_t *data, size_t len, sched_tzif *out, core_error *err)
{
    tzif_counts c1, c2;
    size_t v1, need;
    const uint8_t *p;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len < TZIF_HEADER || memcmp(data, "TZif", 4) != 0)
        return core_error_set(err, CORE_EINVAL, "not a TZif file");
    read_counts(data, &c1);
    v1 = block_size(&c1, 4);
    if (c1.timecnt > TZIF_MAX_TRANS || c1.typecnt > TZIF_MAX_TYPES || c1.leapcnt > 10000 ||
        c1.charcnt > 10000 || v1 > len - TZIF_HEADER)
        return core_error_set(err, CORE_EINVAL, "tzif: truncated version 1 block");
    if (data[4] == '\0') {
        /* Version 1: 32-bit times and no footer. */
        if (c1.leapcnt)
            return core_error_set(err, CORE_EINVAL, "tzif: leap-second data is not civil time");
        rc = read_block(data + TZIF_HEADER, &c1, 4, out, err);
        if (rc < 0)
            sched_tzif_free(out);
        return rc;
    }
    p = data + TZIF_HEADER + v1;
    if ((size_t)(p - data) + TZIF_HEADER > len || memcmp(p, "TZif", 4) != 0)
        return core_error_set(err, CORE_EINVAL, "tzif: missing version 2 header");
    read_counts(p, &c2);
    if (c2.timecnt > TZIF_MAX_TRANS || c2.typecnt > TZIF_MAX_TYPES || c2.leapcnt > 10000 ||
        c2.charcnt > 10000)
        return core_error_set(err, CORE_EINVAL, "tzif: version 2 counts out of range");
    need = block_size(&c2, 8);
    p += TZIF_HEADER;
    if (need > len - (size_t)(p - data))
        return core_error_set(err, CORE_EINVAL, "tzif: truncated version 2 block");
    if (c2.leapcnt)
        return core_error_set(err, CORE_EINVAL, "tzif: leap-second data is not civil time");
    rc = read_block(p, &c2, 8, out, err);
    if (rc < 0) {
        sched_tzif_free(out);
        return rc;
    }
    p += need;
    /* The footer: "\n" TZ-string "\n". */
    if (p < data + len && *p == '\n') {
        const char *start = (const char *)p + 1;
        const char *end = memchr(start, '\n', len - (size_t)(p + 1 - data));

        if (!end || (size_t)(end - start) >= sizeof(out->footer)) {
            sched_tzif_free(out);
            return core_error_set(err, CORE_EINVAL, "tzif: footer unterminated or too long");
        }
        memcpy(out->footer, start, (size_t)(end - start));
        out->footer[end - start] = '\0';
    }
    return 0;
}

void sched_tzif_free(sched_tzif *z)
{
    if (!z)
        return;
    free(z->trans);
    free(z->type_of);
    free(z->types);
    z->trans = NULL;
    z->type_of = NULL;
    z->types = NULL;
    z->n_trans = z->n_types = 0;
}

/* ---- POSIX TZ strings ------------------------------------------------------------------ */

static const char *parse_name(const char *s)
{
    const char *p = s;

    if (*p == '<') {
        for (p++; *p && *p != '>'; p++) {
            if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-')
                return NULL;
        }
        return *p == '>' && p - s >= 4 ? p + 1 : NULL;
    }
    while (isalpha((unsigned char)*p))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh at most max_hours; seconds into *out. */
static const char *parse_hms(const char *s, int max_hours, int32_t *out)
{
    int sign = 1, part[3] = {0, 0, 0};

    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        int n = 0, digits = 0;

        if (i > 0) {
            if (*s != ':')
                break;
            s++;
        }
        while (isdigit((unsigned char)*s) && digits < 3) {
            n = n * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0 || (i > 0 && n > 59) || (i == 0 && n > max_hours))
            return NULL;
        part[i] = n;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return s;
}

static const char *parse_int(const char *s, int lo, int hi, int *out)
{
    int n = 0, digits = 0;

    while (isdigit((unsigned char)*s) && digits < 4) {
        n = n * 10 + (*s++ - '0');
        digits++;
    }
    if (digits == 0 || n < lo || n > hi)
        return NULL;
    *out = n;
    return s;
}

static const char *parse_rule(const char *s, sched_tz_rule *r)
{
    if (*s == 'M') {
        r->kind = 'M';
        s = parse_int(s + 1, 1, 12, &r->month);
        if (!s || *s != '.' || !(s = parse_int(s + 1, 1, 5, &r->week)) || *s != '.' ||
            !(s = parse_int(s + 1, 0, 6, &r->wday)))
            return NULL;
    } else if (*s == 'J') {
        r->kind = 'J';
        s = parse_int(s + 1, 1, 365, &r->day);
    } else {
        r->kind = 'D';
        s = parse_int(s, 0, 365, &r->day);
    }
    if (!s)
        return NULL;
    r->time = 2 * 3600;
    if (*s == '/')
        s = parse_hms(s + 1, 167, &r->time);
    return s;
}

int sched_posix_tz_parse(const char *s, sched_posix_tz *out, core_error *err)
{
    const char *p = parse_name(s);
    int32_t off;

    memset(out, 0, sizeof(*out));
    if (!p)
        return core_error_set(err, CORE_EINVAL, "tz string \"%.60s\": bad standard name", s);
    p = parse_hms(p, 24, &off);
    if (!p)
        return core_error_set(err, CORE_EINVAL, "tz string \"%.60s\": bad standard offset", s);
    /* POSIX offsets count hours west of Greenwich; ours count east. */
    out->std_utoff = -off;
    out->dst_utoff = out->std_utoff;
    if (*p == '\0')
        return 0;
    p = parse_name(p);
    if (!p)
        return core_error_set(err, CORE_EINVAL, "tz string \"%.60s\": bad daylight name", s);
    out->has_dst = true;
    out->dst_utoff = out->std_utoff + 3600;
    if (*p && *p != ',') {
        p = parse_hms(p, 24, &off);
        if (!p)
            return core_error_set(err, CORE_EINVAL, "tz string \"%.60s\": bad daylight offset", s);
        out->dst_utoff = -off;
    }
    if (*p == '\0') {
        /* No rules: glibc's default, the United States' rules since 2007. */
        out->start = (sched_tz_rule){'M', 3, 2, 0, 0, 7200};
        out->end = (sched_tz_rule){'M', 11, 1, 0, 0, 7200};
        return 0;
    }
    if (*p != ',' || !(p = parse_rule(p + 1, &out->start)) || *p != ',' ||
        !(p = parse_rule(p + 1, &out->end)) || *p != '\0')
        return core_error_set(err, CORE_EINVAL, "tz string \"%.60s\": bad rule", s);
    return 0;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int sched_days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of the local date the rule names in `year`. */
static int64_t rule_day(const sched_tz_rule *r, int64_t year)
{
    int64_t jan1 = core_days_from_civil(year, 1, 1);

    if (r->kind == 'J') {
        /* 1..365, February 29 never counted. */
        return jan1 + r->day - 1 + (is_leap(year) && r->day > 59);
    }
    if (r->kind == 'D')
        return jan1 + r->day;
    {
        int64_t first = core_days_from_civil(year, r->month, 1);
        int wd_first = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday (4) */
        int64_t day = first + (r->wday - wd_first + 7) % 7 + 7 * (r->week - 1);
        int64_t last = first + sched_days_in_month(year, r->month) - 1;

        while (day > last)
            day -= 7;
        return day;
    }
}

int64_t sched_tz_rule_utc(const sched_tz_rule *r, int64_t year, int32_t utoff_before)
{
    return rule_day(r, year) * SECS_PER_DAY + r->time - utoff_before;
}

void sched_posix_tz_year(const sched_posix_tz *tz, int64_t year, int64_t *to_dst, int64_t *to_std)
{
    *to_dst = sched_tz_rule_utc(&tz->start, year, tz->std_utoff);
    *to_std = sched_tz_rule_utc(&tz->end, year, tz->dst_utoff);
}

int32_t sched_tzif_utoff_at(const sched_tzif *z, const sched_posix_tz *footer, int64_t t)
{
    size_t lo = 0, hi = z->n_trans;
    int64_t y, best = INT64_MIN;
    int32_t utoff;

    if (z->n_trans == 0 || t < z->trans[0]) {
        /* With no transitions at all the footer, when there is one, rules every instant. */
        if (z->n_trans == 0 && footer && !footer->has_dst)
            return footer->std_utoff;
        if (z->n_trans > 0 || !footer)
            return z->types[0].utoff;
    } else {
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;

            if (z->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        utoff = z->types[z->type_of[lo]].utoff;
        if (lo + 1 < z->n_trans || !footer)
            return utoff;
        if (!footer->has_dst)
            return footer->std_utoff;
    }
    /* After the last transition: the footer's latest change at or before t. */
    utoff = footer->std_utoff;
    {
        int m, d;

        core_civil_from_days(t / SECS_PER_DAY - (t % SECS_PER_DAY < 0), &y, &m, &d);
    }
    for (int64_t year = y - 1; year <= y + 1; year++) {
        int64_t on, off;

        sched_posix_tz_year(footer, year, &on, &off);
        if (on <= t && on > best) {
            best = on;
            utoff = footer->dst_utoff;
        }
        if (off <= t && off > best) {
            best = off;
            utoff = footer->std_utoff;
        }
    }
    return utoff;
}
