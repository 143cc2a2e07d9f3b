/* ICU's time-zone data generated from the system's: every TZif file under the zoneinfo
 * folder becomes a zone of ICU's zoneinfo64 resource (transitions, type offsets and, from
 * the POSIX footer, a final rule), every link an alias, and genrb compiles the text. At
 * start the newest generated copy is chosen, or the system's tzdata regenerated when it is
 * newer than all of them, and ICU is pointed at it before its first time-zone call.
 *
 * How TZif maps onto ICU: ICU splits each offset into a raw part and a daylight part, which
 * TZif does not record. A daylight type's raw part is the offset of the nearest standard
 * type; where that would make daylight saving negative (Ireland's winter "GMT", Morocco's
 * Ramadan hour) the pair is flipped as tzdata's rearguard format does, since ICU's rules
 * take positive savings only. The final rule is one of ICU's SimpleTimeZone rules; a POSIX
 * rule whose time of day is outside 0-24 h ("M3.4.4/26", "M3.5.0/-1") is restated in UTC
 * or standard time, or on a shifted day, and one that fits none of these is expanded into
 * explicit transitions up to 2200 instead. */
#define _DEFAULT_SOURCE /* realpath, lstat, mkdtemp */
#include "scheduler/sched_windows.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scheduler/tz.h"

#ifndef ZONECI_TZDATA_INSTALL_DIR
#define ZONECI_TZDATA_INSTALL_DIR "/usr/local/share/zoneci/tzdata"
#endif

#define SECS_PER_DAY 86400
#define MAX_TZIF_BYTES (1 << 20)
#define MAX_IDS 4000
#define EXPAND_TO_YEAR 2200
#define STAMP_NAME "zoneci-tzdata.stamp"

/* ---- the ids: zones, links, regions ------------------------------------------------------ */

typedef struct tz_id {
    char *name;
    char *target; /* NULL for a zone of its own, else the zone it names */
    char region[4];
    int index;
} tz_id;

typedef struct tz_set {
    tz_id *ids;
    size_t n, cap;
} tz_set;

static void set_free(tz_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ids[i].name);
        free(s->ids[i].target);
    }
    free(s->ids);
}

static tz_id *set_find(const tz_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->ids[i].name, name) == 0)
            return &s->ids[i];
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const tz_id *)a)->name, ((const tz_id *)b)->name);
}

/* A sorted set: binary search. ICU searches its Names the same way. */
static tz_id *sorted_find(const tz_set *s, const char *name)
{
    tz_id key = {.name = (char *)name};

    return bsearch(&key, s->ids, s->n, sizeof(*s->ids), cmp_id);
}

static bool id_valid(const char *name)
{
    if (!*name || strlen(name) >= 120)
        return false;
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              strchr("/_-+", *c)))
            return false;
    }
    return true;
}

static int set_add(tz_set *s, const char *name, const char *target, core_error *err)
{
    tz_id *id;

    if (s->n == MAX_IDS)
        return core_error_set(err, CORE_EINVAL, "more than %d time-zone ids", MAX_IDS);
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 512;
        tz_id *p = realloc(s->ids, ncap * sizeof(*p));

        if (!p)
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        s->ids = p;
        s->cap = ncap;
    }
    id = &s->ids[s->n];
    memset(id, 0, sizeof(*id));
    id->name = strdup(name);
    id->target = target ? strdup(target) : NULL;
    if (!id->name || (target && !id->target)) {
        free(id->name);
        free(id->target);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    s->n++;
    return 0;
}

static bool is_tzif(const char *path)
{
    char magic[4];
    FILE *f = fopen(path, "rb");
    bool ok;

    if (!f)
        return false;
    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

/* Folders and files of the zoneinfo tree that are not zone ids. */
static bool skipped_top(const char *name)
{
    static const char *const skip[] = {"posix", "right", "posixrules", "localtime", NULL};

    for (size_t i = 0; skip[i]; i++) {
        if (strcmp(name, skip[i]) == 0)
            return true;
    }
    return false;
}

typedef struct walk_ctx {
    const char *root;
    char root_real[PATH_MAX];
    tz_set *set;
} walk_ctx;

static int walk(walk_ctx *w, const char *rel, int depth, core_error *err)
{
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *de;
    int rc = 0;

    snprintf(dir, sizeof(dir), "%s%s%s", w->root, *rel ? "/" : "", rel);
    d = opendir(dir);
    if (!d)
        return core_error_set(err, CORE_EIO, "cannot read %.200s: %s", dir, strerror(errno));
    while (rc == 0 && (de = readdir(d))) {
        char relp[256], path[PATH_MAX], real[PATH_MAX];
        struct stat st;

        if (de->d_name[0] == '.' || (depth == 0 && skipped_top(de->d_name)))
            continue;
        if (strlen(rel) + strlen(de->d_name) + 2 > sizeof(relp))
            continue;
        snprintf(relp, sizeof(relp), "%.120s%s%.120s", rel, *rel ? "/" : "", de->d_name);
        snprintf(path, sizeof(path), "%.3000s/%s", w->root, relp);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 4)
                rc = walk(w, relp, depth + 1, err);
            continue;
        }
        if (!id_valid(relp) || !is_tzif(path))
            continue;
        if (S_ISLNK(st.st_mode)) {
            size_t rl = strlen(w->root_real);

            /* A link to a file elsewhere (outside the tree) is taken as a zone of its own. */
            if (realpath(path, real) && strncmp(real, w->root_real, rl) == 0 && real[rl] == '/' &&
                strcmp(real + rl + 1, relp) != 0) {
                rc = set_add(w->set, relp, real + rl + 1, err);
                continue;
            }
        }
        if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
            rc = set_add(w->set, relp, NULL, err);
    }
    closedir(d);
    return rc;
}

/* tzdata.zi says which ids are links ("L TARGET NAME"), also where the tree holds copies
 * or hard links instead of symbolic links. */
static void apply_zi_links(const char *root, tz_set *set)
{
    char path[PATH_MAX], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/tzdata.zi", root);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        char target[256], name[256];
        tz_id *id, *t;

        if (line[0] != 'L' || sscanf(line, "L %255s %255s", target, name) != 2)
            continue;
        id = set_find(set, name);
        t = set_find(set, target);
        if (id && t && !id->target && t != id) {
            char *copy = strdup(target);

            if (copy)
                id->target = copy;
        }
    }
    fclose(f);
}

/* Links point at zones of their own: chains are followed, loops broken. */
static void resolve_links(tz_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        tz_id *id = &set->ids[i];
        int hops = 0;

        while (id->target && hops++ < 8) {
            tz_id *t = set_find(set, id->target);

            if (!t || !t->target || t == &set->ids[i])
                break;
            free(id->target);
            id->target = strdup(t->target);
        }
        if (id->target && (!set_find(set, id->target) || set_find(set, id->target)->target)) {
            free(id->target); /* dangling or looping: keep the file as a zone */
            id->target = NULL;
        }
    }
}

typedef struct legacy_ctx {
    tz_set *set;
    tz_set extra;
    int rc;
    core_error *err;
} legacy_ctx;

/* Ids only ICU knows ("PST", "SystemV/AST4", "US/Pacific-New") stay valid as aliases of
 * the zone ICU says they mean, so that no configuration that worked stops working. */
static void add_legacy(const char *id, const char *canonical, void *ctx)
{
    legacy_ctx *l = ctx;
    tz_id *t;

    if (l->rc < 0 || !id_valid(id) || set_find(l->set, id) || set_find(&l->extra, id))
        return;
    t = set_find(l->set, canonical);
    if (!t)
        return;
    l->rc = set_add(&l->extra, id, t->target ? t->target : t->name, l->err);
}

/* Regions: zone.tab's country for the id, else its target's, else "001" (the world). */
static void assign_regions(const char *root, tz_set *set)
{
    char path[PATH_MAX], line[1024];
    FILE *f;

    for (size_t i = 0; i < set->n; i++)
        snprintf(set->ids[i].region, sizeof(set->ids[i].region), "001");
    snprintf(path, sizeof(path), "%s/zone.tab", root);
    f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            char cc[8], coord[64], name[256];
            tz_id *id;

            if (line[0] == '#' || sscanf(line, "%7s %63s %255s", cc, coord, name) != 3)
                continue;
            id = sorted_find(set, name);
            if (id && strlen(cc) == 2)
                snprintf(id->region, sizeof(id->region), "%s", cc);
        }
        fclose(f);
    }
    for (size_t i = 0; i < set->n; i++) {
        tz_id *id = &set->ids[i], *t;

        if (id->target && strcmp(id->region, "001") == 0 && (t = sorted_find(set, id->target)))
            memcpy(id->region, t->region, sizeof(id->region));
    }
}

/* ---- one zone in ICU's terms ------------------------------------------------------------- */

typedef struct entry {
    int64_t t;
    int32_t utoff;
    bool isdst;
    int32_t raw, dst; /* ICU's split of utoff */
} entry;

typedef struct icu_zone {
    entry init;
    entry *e;
    size_t n, cap;
    bool has_final;
    int rule[11];
    int32_t final_raw;
    int64_t final_year;
} icu_zone;

static int zone_push(icu_zone *z, int64_t t, int32_t utoff, bool isdst)
{
    const entry *last = z->n ? &z->e[z->n - 1] : &z->init;

    if (last->utoff == utoff && last->isdst == isdst)
        return 0;
    void *p = z->e;
    int rc = core_array_room(&p, &z->cap, z->n, sizeof(*z->e), 64);

    z->e = p;
    if (rc < 0)
        return rc;
    z->e[z->n++] = (entry){.t = t, .utoff = utoff, .isdst = isdst};
    return 0;
}

static int64_t year_of(int64_t secs)
{
    int64_t y;
    int m, d;
    int64_t days = secs / SECS_PER_DAY - (secs % SECS_PER_DAY < 0);

    core_civil_from_days(days, &y, &m, &d);
    return y;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The footer's transitions in (from, until), appended in order. A transition to daylight
 * is stored as t*2+1, to standard as t*2, so one sort keeps both. */
static int expand_footer(icu_zone *z, const sched_posix_tz *tz, int64_t from, int64_t until)
{
    int64_t y0 = year_of(from) - 1, y1 = year_of(until) + 1;

    for (int64_t y = y0; y <= y1; y++) {
        int64_t ev[2], to_dst, to_std;

        sched_posix_tz_year(tz, y, &to_dst, &to_std);
        ev[0] = to_dst * 2 + 1;
        ev[1] = to_std * 2;
        qsort(ev, 2, sizeof(ev[0]), cmp_i64);
        for (int i = 0; i < 2; i++) {
            int64_t t = (ev[i] - (ev[i] & 1)) / 2;
            bool dst = ev[i] & 1;

            if (t <= from || t >= until)
                continue;
            if (zone_push(z, t, dst ? tz->dst_utoff : tz->std_utoff, dst) < 0)
                return CORE_ENOMEM;
        }
    }
    return 0;
}

/* The date of rule r moved by `shift` days, as ICU's (month, day, day-of-week) triple:
 * day-of-week 0 = that day of the month; d > 0 = the day-th d (-1 = last); d < 0 = the
 * first -d on or after day, or (day < 0) on or before -day. Sunday is 1. */
static bool encode_date(const sched_tz_rule *r, int shift, int out[3])
{
    if (r->kind == 'M') {
        int month_len = sched_days_in_month(2001, r->month); /* February: 28 */
        int wd = ((r->wday + shift) % 7 + 7) % 7;

        out[0] = r->month - 1;
        if (shift == 0) {
            out[1] = r->week == 5 ? -1 : r->week;
            out[2] = r->wday + 1;
            return true;
        }
        if (r->week < 5) {
            int dom = 1 + 7 * (r->week - 1) + shift;

            if (dom < 1 || dom + 6 > month_len)
                return false;
            out[1] = dom;
            out[2] = -(wd + 1);
            return true;
        }
        if (shift < 0 && r->month != 2 && month_len + shift >= 7) {
            out[1] = -(month_len + shift);
            out[2] = -(wd + 1);
            return true;
        }
        return false;
    }
    {
        /* 'J' names the same month and day every year; 'D' does only before March. */
        int n = r->kind == 'J' ? r->day - 1 + shift : r->day + shift;
        int month = 1;

        if (r->kind == 'D' && r->day >= 59)
            return false;
        if (n < 0 || n > 364)
            return false;
        while (n >= sched_days_in_month(2001, month)) {
            n -= sched_days_in_month(2001, month);
            month++;
        }
        out[0] = month - 1;
        out[1] = n + 1;
        out[2] = 0;
        return true;
    }
}

/* One transition of ICU's rule: {month, day, dow, seconds, mode}; mode 0 wall, 1 standard,
 * 2 UTC. before is the offset in force before the change; save the daylight amount. */
static bool encode_transition(const sched_tz_rule *r, int32_t raw, int32_t before, int out[5])
{
    int32_t t = r->time;

    if (t >= 0 && t < SECS_PER_DAY && encode_date(r, 0, out)) {
        out[3] = t;
        out[4] = 0;
        return true;
    }
    if (t - before >= 0 && t - before < SECS_PER_DAY && encode_date(r, 0, out)) {
        out[3] = t - before;
        out[4] = 2;
        return true;
    }
    if (before != raw && t - (before - raw) >= 0 && t - (before - raw) < SECS_PER_DAY &&
        encode_date(r, 0, out)) {
        out[3] = t - (before - raw);
        out[4] = 1;
        return true;
    }
    {
        int shift = (int)((t - ((t % SECS_PER_DAY + SECS_PER_DAY) % SECS_PER_DAY)) / SECS_PER_DAY);

        if (encode_date(r, shift, out)) {
            out[3] = t - shift * SECS_PER_DAY;
            out[4] = 0;
            return true;
        }
    }
    return false;
}

/* The footer as ICU's final rule. A footer whose daylight offset is below its standard one
 * (Ireland: "IST-1GMT0,...") is stated the other way round: ICU's savings are positive. */
static bool encode_final(const sched_posix_tz *tz, icu_zone *z)
{
    const sched_tz_rule *on, *off;
    int32_t raw, save;

    if (tz->dst_utoff > tz->std_utoff) {
        raw = tz->std_utoff;
        save = tz->dst_utoff - tz->std_utoff;
        on = &tz->start;
        off = &tz->end;
    } else if (tz->dst_utoff < tz->std_utoff) {
        raw = tz->dst_utoff;
        save = tz->std_utoff - tz->dst_utoff;
        on = &tz->end;
        off = &tz->start;
    } else {
        return false;
    }
    if (!encode_transition(on, raw, raw, z->rule) ||
        !encode_transition(off, raw, raw + save, z->rule + 5))
        return false;
    z->rule[10] = save;
    z->final_raw = raw;
    return true;
}

/* The offset of the standard-time entry nearest to i (before it first), or false. */
static bool nearest_standard(const icu_zone *z, long i, int32_t *out)
{
    for (long j = i - 1; j >= -1; j--) {
        const entry *e = j < 0 ? &z->init : &z->e[j];

        if (!e->isdst) {
            *out = e->utoff;
            return true;
        }
    }
    for (size_t j = (size_t)(i + 1); j < z->n; j++) {
        if (!z->e[j].isdst) {
            *out = z->e[j].utoff;
            return true;
        }
    }
    return false;
}

static entry *entry_at(icu_zone *z, long i)
{
    return i < 0 ? &z->init : &z->e[i];
}

static void split_offsets(icu_zone *z)
{
    long n = (long)z->n;

    for (long i = -1; i < n; i++) {
        entry *e = entry_at(z, i);
        int32_t std;

        e->raw = e->utoff;
        e->dst = 0;
        if (e->isdst && nearest_standard(z, i, &std) && e->utoff > std) {
            e->raw = std;
            e->dst = e->utoff - std;
        }
    }
    /* Negative saving: a daylight entry below its standard neighbours becomes standard
     * time, and those neighbours daylight time over it. */
    for (long i = -1; i < n; i++) {
        entry *e = entry_at(z, i);
        int32_t std;

        if (!e->isdst || !nearest_standard(z, i, &std) || e->utoff >= std)
            continue;
        for (long j = i - 1; j <= i + 1; j += 2) {
            entry *nb;

            if (j < -1 || j >= n)
                continue;
            nb = entry_at(z, j);
            if (!nb->isdst && nb->utoff > e->utoff) {
                nb->raw = e->utoff;
                nb->dst = nb->utoff - e->utoff;
            }
        }
    }
}

static int64_t jan1(int64_t year)
{
    return core_days_from_civil(year, 1, 1) * SECS_PER_DAY;
}

/* True when, from `from` to the final rule's start, the footer alone gives exactly the
 * table's transitions z->e[k..] and the table's state just before them. */
static bool footer_reproduces(const icu_zone *z, const sched_posix_tz *tz, size_t k, int64_t from)
{
    icu_zone alone = {0};
    bool same;

    alone.init = z->e[k - 1];
    if (expand_footer(&alone, tz, from - 1, jan1(z->final_year)) < 0) {
        free(alone.e);
        return false;
    }
    same = alone.n == z->n - k;
    for (size_t i = 0; same && i < alone.n; i++)
        same = alone.e[i].t == z->e[k + i].t && alone.e[i].utoff == z->e[k + i].utoff &&
               alone.e[i].isdst == z->e[k + i].isdst;
    free(alone.e);
    return same;
}

/* Fat TZif files spell out the footer's transitions up to 2037. ICU walks explicit
 * transitions one by one, so the table ends at the earliest January 1 from which the footer
 * alone reproduces it, and the final rule takes over there, as ICU's own data does. */
static void hand_over_early(icu_zone *z, const sched_posix_tz *tz)
{
    int64_t best = z->final_year;
    size_t keep = z->n;

    for (int64_t y = z->final_year - 1; y >= 1900; y--) {
        int64_t from = jan1(y);
        size_t k = 0;
        int32_t utoff;
        bool isdst;

        while (k < z->n && z->e[k].t < from)
            k++;
        if (k == 0)
            break;
        /* The footer's own state at `from` must be the table's there. */
        utoff = sched_tzif_utoff_at(&(sched_tzif){0}, tz, from);
        isdst = utoff != tz->std_utoff;
        if (utoff != z->e[k - 1].utoff || isdst != z->e[k - 1].isdst ||
            !footer_reproduces(z, tz, k, from))
            break;
        best = y;
        keep = k;
    }
    z->n = keep;
    z->final_year = best;
}

static int zone_from_tzif(const sched_tzif *f, icu_zone *z, core_error *err)
{
    sched_posix_tz tz;
    int64_t last, year;

    memset(z, 0, sizeof(*z));
    z->init.utoff = f->types[0].utoff;
    z->init.isdst = f->types[0].isdst;
    for (size_t i = 0; i < f->n_trans; i++) {
        const sched_tzif_type *ty = &f->types[f->type_of[i]];

        if (zone_push(z, f->trans[i], ty->utoff, ty->isdst) < 0)
            return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    if (f->footer[0] && sched_posix_tz_parse(f->footer, &tz, NULL) == 0 && tz.has_dst) {
        last = f->n_trans ? f->trans[f->n_trans - 1] : INT64_MIN / 4;
        year = f->n_trans ? year_of(last) : 1900;
        if (year < 1900)
            year = 1900;
        /* The table covers everything before January 1 of the final rule's first year. */
        if (expand_footer(z, &tz, last, core_days_from_civil(year + 1, 1, 1) * SECS_PER_DAY) < 0)
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        if (encode_final(&tz, z)) {
            z->has_final = true;
            z->final_year = year + 1;
            hand_over_early(z, &tz);
        } else if (expand_footer(z, &tz, core_days_from_civil(year + 1, 1, 1) * SECS_PER_DAY - 1,
                                 core_days_from_civil(EXPAND_TO_YEAR, 1, 1) * SECS_PER_DAY) < 0) {
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        }
    }
    split_offsets(z);
    return 0;
}

/* ---- writing ICU's resource text ---------------------------------------------------------- */

typedef struct rule_list {
    int (*rules)[11];
    size_t n, cap;
} rule_list;

static int rule_index(rule_list *rl, const int rule[11], size_t *out)
{
    for (size_t i = 0; i < rl->n; i++) {
        if (memcmp(rl->rules[i], rule, sizeof(rl->rules[i])) == 0) {
            *out = i;
            return 0;
        }
    }
    if (rl->n == rl->cap) {
        size_t ncap = rl->cap ? rl->cap * 2 : 32;
        int(*p)[11] = realloc(rl->rules, ncap * sizeof(*p));

        if (!p)
            return CORE_ENOMEM;
        rl->rules = p;
        rl->cap = ncap;
    }
    memcpy(rl->rules[rl->n], rule, sizeof(rl->rules[0]));
    *out = rl->n++;
    return 0;
}

static void put_ints(core_buf *b, const char *key, const int64_t *v, size_t n)
{
    core_buf_printf(b, "    %s:intvector { ", key);
    for (size_t i = 0; i < n; i++)
        core_buf_printf(b, "%s%lld", i ? ", " : "", (long long)v[i]);
    core_buf_puts(b, " }\n");
}

/* Transitions go in three vectors: before -2^31 and after 2^31-1 as (high, low) halves. */
static int put_transitions(core_buf *b, const icu_zone *z)
{
    size_t cap = z->n < 100000 ? z->n * 2 + 1 : 1;
    int64_t *pre = calloc(cap, sizeof(*pre)), *mid = calloc(cap, sizeof(*mid)),
            *post = calloc(cap, sizeof(*post));
    size_t npre = 0, nmid = 0, npost = 0;

    if (!pre || !mid || !post || z->n >= 100000) {
        free(pre);
        free(mid);
        free(post);
        return CORE_ENOMEM;
    }
    for (size_t i = 0; i < z->n; i++) {
        int64_t t = z->e[i].t;

        if (t < INT32_MIN || t > INT32_MAX) {
            int64_t *v = t < INT32_MIN ? pre : post;
            size_t *k = t < INT32_MIN ? &npre : &npost;

            v[(*k)++] = (int32_t)(uint32_t)((uint64_t)t >> 32);
            v[(*k)++] = (int32_t)(uint32_t)((uint64_t)t & 0xffffffffu);
        } else {
            mid[nmid++] = t;
        }
    }
    if (npre)
        put_ints(b, "transPre32", pre, npre);
    if (nmid)
        put_ints(b, "trans", mid, nmid);
    if (npost)
        put_ints(b, "transPost32", post, npost);
    free(pre);
    free(mid);
    free(post);
    return 0;
}

static int put_zone(core_buf *b, const tz_id *id, const icu_zone *z, const tz_set *set,
                    rule_list *rules, core_error *err)
{
    int32_t pairs[256][2];
    size_t npairs = 0, rule_at;
    int64_t ints[512];
    size_t nlinks = 0;

    core_buf_printf(b, "  /* %s */ :table {\n", id->name);
    if (put_transitions(b, z) < 0)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    /* Pair 0 is the type before the first transition. */
    for (long i = -1; i < (long)z->n; i++) {
        const entry *e = i < 0 ? &z->init : &z->e[i];
        size_t k = 0;

        while (k < npairs && (pairs[k][0] != e->raw || pairs[k][1] != e->dst))
            k++;
        if (k < npairs)
            continue;
        if (npairs == 256)
            return core_error_set(err, CORE_EINVAL, "%s: more than 256 offsets", id->name);
        pairs[npairs][0] = e->raw;
        pairs[npairs][1] = e->dst;
        npairs++;
    }
    core_buf_puts(b, "    typeOffsets:intvector { ");
    for (size_t k = 0; k < npairs; k++)
        core_buf_printf(b, "%s%d, %d", k ? ", " : "", pairs[k][0], pairs[k][1]);
    core_buf_puts(b, " }\n");
    if (z->n) {
        core_buf_puts(b, "    typeMap:bin { \"");
        for (size_t i = 0; i < z->n; i++) {
            const entry *e = &z->e[i];
            size_t k = 0;

            while (k < npairs && (pairs[k][0] != e->raw || pairs[k][1] != e->dst))
                k++;
            core_buf_printf(b, "%02zx", k);
        }
        core_buf_puts(b, "\" }\n");
    }
    if (z->has_final) {
        if (rule_index(rules, z->rule, &rule_at) < 0)
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        core_buf_printf(b, "    finalRule { \"R%zu\" }\n", rule_at);
        core_buf_printf(b, "    finalRaw:int { %d }\n", z->final_raw);
        core_buf_printf(b, "    finalYear:int { %lld }\n", (long long)z->final_year);
    }
    for (size_t i = 0; i < set->n && nlinks < 512; i++) {
        const tz_id *o = &set->ids[i];

        if (o == id || (o->target && strcmp(o->target, id->name) == 0))
            ints[nlinks++] = o->index;
    }
    if (nlinks > 1)
        put_ints(b, "links", ints, nlinks);
    core_buf_printf(b, "  } //Z#%d\n", id->index);
    return 0;
}

static int convert_zone(const char *root, const tz_id *id, const tz_set *set, rule_list *rules,
                        core_buf *b, core_error *err)
{
    char path[PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    sched_tzif f;
    icu_zone z = {0};
    int rc;

    snprintf(path, sizeof(path), "%s/%s", root, id->name);
    rc = core_file_read(path, MAX_TZIF_BYTES, &data, &len, err);
    if (rc < 0)
        return rc;
    rc = sched_tzif_parse((const uint8_t *)data, len, &f, err);
    free(data);
    if (rc < 0)
        return core_error_wrap(err, "%s", id->name);
    rc = zone_from_tzif(&f, &z, err);
    if (rc == 0)
        rc = put_zone(b, id, &z, set, rules, err);
    sched_tzif_free(&f);
    free(z.e);
    return rc;
}

static int write_text(const char *root, const char *version, tz_set *set, const char *path,
                      core_error *err)
{
    core_buf b = {0};
    rule_list rules = {0};
    FILE *f;
    int rc = 0;

    core_buf_printf(&b,
                    "// Generated by zoneci from the TZif files in %s. Do not edit.\n"
                    "zoneinfo64:table(nofallback) {\n TZVersion { \"%s\" }\n Zones:array {\n",
                    root, version);
    for (size_t i = 0; rc == 0 && i < set->n; i++) {
        const tz_id *id = &set->ids[i];

        if (id->target)
            core_buf_printf(&b, "  /* %s */ :int { %d } //Z#%zu\n", id->name,
                            sorted_find(set, id->target)->index, i);
        else
            rc = convert_zone(root, id, set, &rules, &b, err);
    }
    if (rc == 0) {
        core_buf_puts(&b, " }\n Names {\n");
        for (size_t i = 0; i < set->n; i++)
            core_buf_printf(&b, "  \"%s\",\n", set->ids[i].name);
        core_buf_puts(&b, " }\n Rules {\n");
        for (size_t i = 0; i < rules.n; i++) {
            core_buf_printf(&b, "  R%zu:intvector { ", i);
            for (int k = 0; k < 11; k++)
                core_buf_printf(&b, "%s%d", k ? ", " : "", rules.rules[i][k]);
            core_buf_puts(&b, " }\n");
        }
        core_buf_puts(&b, " }\n Regions:array {\n");
        for (size_t i = 0; i < set->n; i++)
            core_buf_printf(&b, "  \"%s\",\n", set->ids[i].region);
        if (core_buf_puts(&b, " }\n}\n") < 0)
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        f = fopen(path, "w");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
            if (f)
                fclose(f);
            rc = core_error_set(err, CORE_EIO, "cannot write %.200s: %s", path, strerror(errno));
        }
    }
    free(rules.rules);
    core_buf_free(&b);
    return rc;
}

/* genrb, with its output in a log whose first line becomes the error. */
static int run_genrb(const char *out_dir, const char *txt, core_error *err)
{
    char log[PATH_MAX], line[200] = "";
    int status = 0;
    pid_t pid;
    FILE *f;

    snprintf(log, sizeof(log), "%s/genrb.log", out_dir);
    pid = fork();
    if (pid < 0)
        return core_error_set(err, CORE_EIO, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("genrb", "genrb", "-q", "-d", out_dir, txt, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        unlink(log);
        return 0;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return core_error_set(err, CORE_EIO, "genrb not found (install icu-devtools)");
    f = fopen(log, "r");
    if (f) {
        if (fgets(line, sizeof(line), f))
            line[strcspn(line, "\n")] = '\0';
        fclose(f);
    }
    return core_error_set(err, CORE_EIO, "genrb failed: %s", line[0] ? line : "no output");
}

static int mkdirs(const char *path, core_error *err)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return core_error_set(err, CORE_EIO, "cannot create %.200s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return core_error_set(err, CORE_EIO, "cannot create %.200s: %s", p, strerror(errno));
    return 0;
}

static int collect_ids(const char *root, tz_set *set, core_error *err)
{
    walk_ctx w = {.root = root, .set = set};
    legacy_ctx l = {.set = set, .err = err};
    int rc;

    if (!realpath(root, w.root_real))
        return core_error_set(err, CORE_EIO, "cannot read %.200s: %s", root, strerror(errno));
    rc = walk(&w, "", 0, err);
    if (rc < 0)
        return rc;
    if (set->n == 0)
        return core_error_set(err, CORE_EINVAL, "no TZif files in %.200s", root);
    apply_zi_links(root, set);
    resolve_links(set);
    rc = tz_icu_each_id(add_legacy, &l, err);
    for (size_t i = 0; rc == 0 && l.rc == 0 && i < l.extra.n; i++)
        rc = set_add(set, l.extra.ids[i].name, l.extra.ids[i].target, err);
    set_free(&l.extra);
    if (rc == 0 && l.rc < 0)
        rc = l.rc;
    if (rc < 0)
        return rc;
    qsort(set->ids, set->n, sizeof(*set->ids), cmp_id);
    for (size_t i = 0; i < set->n; i++)
        set->ids[i].index = (int)i;
    assign_regions(root, set);
    return 0;
}

int sched_tzdata_generate(const char *zoneinfo_dir, const char *out_dir, sched_tzdata_stats *stats,
                          core_error *err)
{
    tz_set set = {0};
    char txt[PATH_MAX], stamp[PATH_MAX], version[32];
    FILE *f;
    int rc;

    if (stats)
        memset(stats, 0, sizeof(*stats));
    core_tz_version_of(zoneinfo_dir, version);
    rc = mkdirs(out_dir, err);
    if (rc < 0)
        return rc;
    snprintf(stamp, sizeof(stamp), "%s/%s", out_dir, STAMP_NAME);
    unlink(stamp); /* the directory is incomplete until the stamp is written again */
    rc = collect_ids(zoneinfo_dir, &set, err);
    if (rc < 0)
        goto out;
    snprintf(txt, sizeof(txt), "%s/zoneinfo64.txt", out_dir);
    rc = write_text(zoneinfo_dir, version, &set, txt, err);
    if (rc < 0)
        goto out;
    rc = run_genrb(out_dir, txt, err);
    if (rc < 0)
        goto out;
    f = fopen(stamp, "w");
    if (!f || fprintf(f, "version %s\nsource %s\n", version, zoneinfo_dir) < 0 || fclose(f) != 0) {
        rc = core_error_set(err, CORE_EIO, "cannot write %.200s", stamp);
        goto out;
    }
    if (stats) {
        for (size_t i = 0; i < set.n; i++)
            set.ids[i].target ? stats->links++ : stats->zones++;
        snprintf(stats->version, sizeof(stats->version), "%s", version);
    }
out:
    set_free(&set);
    return rc;
}

/* ---- choosing the data at start ----------------------------------------------------------- */

static bool stamp_read(const char *dir, char version[32], char source[512])
{
    char path[PATH_MAX], line[600];
    bool have_v = false, have_s = false;
    FILE *f;

    snprintf(path, sizeof(path), "%s/zoneinfo64.res", dir);
    if (access(path, R_OK) != 0)
        return false;
    snprintf(path, sizeof(path), "%s/%s", dir, STAMP_NAME);
    f = fopen(path, "r");
    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "version ", 8) == 0 && strlen(line + 8) < 32) {
            snprintf(version, 32, "%s", line + 8);
            have_v = true;
        } else if (strncmp(line, "source ", 7) == 0) {
            snprintf(source, 512, "%.511s", line + 7);
            have_s = true;
        }
    }
    fclose(f);
    return have_v && have_s;
}

/* tzdata versions: a year, then letters ("2025b" < "2025c" < "2026a"). */
static int version_cmp(const char *a, const char *b)
{
    long ya = strtol(a, NULL, 10), yb = strtol(b, NULL, 10);
    const char *sa = a, *sb = b;

    if (ya != yb)
        return ya < yb ? -1 : 1;
    while (*sa >= '0' && *sa <= '9')
        sa++;
    while (*sb >= '0' && *sb <= '9')
        sb++;
    if (strlen(sa) != strlen(sb))
        return strlen(sa) < strlen(sb) ? -1 : 1;
    return strcmp(sa, sb);
}

static bool writable_dir(const char *dir)
{
    return mkdirs(dir, NULL) == 0 && access(dir, W_OK) == 0;
}

static void default_cache_dir(char out[512])
{
    const char *env = getenv("ZONECI_CACHE_DIR"), *home = getenv("HOME");
    const char *xdg = getenv("XDG_CACHE_HOME");

    if (env && *env)
        snprintf(out, 512, "%s", env);
    else if (writable_dir("/var/cache/zoneci"))
        snprintf(out, 512, "/var/cache/zoneci");
    else if (xdg && *xdg)
        snprintf(out, 512, "%s/zoneci", xdg);
    else if (home && *home)
        snprintf(out, 512, "%s/.cache/zoneci", home);
    else
        out[0] = '\0';
}

static void exe_tzdata_dir(char out[512])
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    out[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash) {
        *slash = '\0';
        snprintf(out, 512, "%.490s/tzdata", exe);
    }
}

/* Generates into a private folder and renames it into place, so that processes starting
 * together never read a half-written copy; the loser of the rename uses the winner's. */
static int regenerate(const char *source, const char *final_dir, core_error *err)
{
    char tmp[PATH_MAX], version[32], src[512];
    int rc;

    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", final_dir, (long)getpid());
    rc = sched_tzdata_generate(source, tmp, NULL, err);
    if (rc == 0 && rename(tmp, final_dir) != 0) {
        if (!stamp_read(final_dir, version, src))
            rc = core_error_set(err, CORE_EIO, "cannot move %.200s into place: %s", tmp,
                                strerror(errno));
    }
    if (access(tmp, F_OK) == 0) {
        char path[PATH_MAX];
        static const char *const files[] = {"zoneinfo64.txt", "zoneinfo64.res", "genrb.log",
                                            STAMP_NAME, NULL};

        for (size_t i = 0; files[i]; i++) {
            snprintf(path, sizeof(path), "%.4000s/%s", tmp, files[i]);
            unlink(path);
        }
        rmdir(tmp);
    }
    return rc;
}

static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static bool setup_done;
static sched_tz_setup_info setup_info;

static void use_dir(sched_tz_setup_info *info, const char *dir, const char *version)
{
    core_error err = {0};

    if (tz_icu_use_dir(dir, version, &err) < 0) {
        snprintf(info->error, sizeof(info->error), "%s", err.msg);
        tz_icu_use_dir(NULL, NULL, NULL);
        return;
    }
    info->system = true;
    snprintf(info->dir, sizeof(info->dir), "%s", dir);
}

static void decide(const char *cache_dir, sched_tz_setup_info *info)
{
    const char *source = core_tz_dir();
    char sysver[32], cache[512], cand[4][512], best[512] = "", best_ver[32] = "";
    int64_t t0 = core_time_mono_ms();
    const char *env = getenv("ZONECI_TZDATA_DIR");

    memset(info, 0, sizeof(*info));
    core_tz_version_of(source, sysver);
    if (cache_dir && *cache_dir)
        snprintf(cache, sizeof(cache), "%s", cache_dir);
    else
        default_cache_dir(cache);
    snprintf(cand[0], 512, "%.400s/tzdata/%s", cache, sysver);
    snprintf(cand[1], 512, "%s", env && *env ? env : "");
    snprintf(cand[2], 512, "%s", ZONECI_TZDATA_INSTALL_DIR);
    exe_tzdata_dir(cand[3]);
    for (int i = 0; i < 4; i++) {
        char v[32], src[512];

        if (!cand[i][0] || (i == 0 && !cache[0]) || !stamp_read(cand[i], v, src) ||
            strcmp(src, source) != 0)
            continue;
        if (!best[0] || version_cmp(v, best_ver) > 0) {
            snprintf(best, sizeof(best), "%.511s", cand[i]);
            snprintf(best_ver, sizeof(best_ver), "%s", v);
        }
    }
    if (best[0] && version_cmp(best_ver, sysver) >= 0) {
        use_dir(info, best, best_ver);
    } else {
        core_error err = {0};
        char parent[512];

        snprintf(parent, sizeof(parent), "%.400s/tzdata", cache);
        if (!cache[0])
            core_error_set(&err, CORE_EIO, "no cache directory to generate into");
        if (!cache[0] || mkdirs(parent, &err) < 0 || regenerate(source, cand[0], &err) < 0) {
            snprintf(info->error, sizeof(info->error),
                     "cannot generate time-zone data from %.60s: %.130s", source, err.msg);
            if (best[0]) /* an older generated copy is still newer than ICU's own */
                use_dir(info, best, best_ver);
        } else {
            info->regenerated = true;
            use_dir(info, cand[0], sysver);
        }
    }
    snprintf(info->version, sizeof(info->version), "%s", tz_icu_version());
    info->elapsed_ms = core_time_mono_ms() - t0;
}

void sched_tz_setup(const char *cache_dir, sched_tz_setup_info *out)
{
    pthread_mutex_lock(&setup_lock);
    if (!setup_done) {
        decide(cache_dir, &setup_info);
        setup_done = true;
    }
    if (out)
        *out = setup_info;
    pthread_mutex_unlock(&setup_lock);
}

const char *sched_tz_data_source(void)
{
    sched_tz_setup(NULL, NULL);
    return setup_info.system ? "generated from the system's tzdata" : "ICU's bundled data";
}
