/* Time zones (read from ICU once, cached for the process), the system time-zone data and
 * working windows. Zones are owned by the process-wide cache and never freed by callers;
 * a sched_windows is the caller's (sched_windows_free); a parsed sched_tzif is freed with
 * sched_tzif_free. */
#ifndef ZONECI_SCHEDULER_SCHED_WINDOWS_H
#define ZONECI_SCHEDULER_SCHED_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- working windows (scheduler/windows.c, ICU) ---------------------------------------
 * A zone is a time zone's UTC-offset history read from ICU once and cached for the life
 * of the process: lookups are lock-free and safe on any thread. Instants are UTC ms;
 * "wall" times are local wall-clock ms counted as if the zone were UTC. */
typedef struct sched_zone sched_zone;

#define SCHED_NO_INSTANT INT64_MIN

/* The zone for an IANA id. CORE_EINVAL, naming the id and ICU's data version, when ICU
 * does not know it (never a silent fallback to GMT). *out is owned by the cache. */
int sched_zone_get(const char *tzid, const sched_zone **out, core_error *err);
const char *sched_zone_id(const sched_zone *zone);
/* A short name for the zone's time at utc_ms: "PDT", "CET", else "UTC+9", "UTC+5:45". */
void sched_zone_abbrev(const sched_zone *zone, int64_t utc_ms, char out[16]);
/* UTC offset (ms) in force at utc_ms. */
int32_t sched_zone_offset_ms(const sched_zone *zone, int64_t utc_ms);
/* The instant a local wall time means: a time that occurs twice means its first
 * occurrence; a time a DST jump skips means the first instant after the gap. */
int64_t sched_zone_wall_to_utc(const sched_zone *zone, int64_t wall_ms);
/* ICU's time-zone data version, e.g. "2022e". */
const char *sched_tz_data_version(void);

/* ---- the system's time-zone data (scheduler/tzif.c, scheduler/tzdata.c) ----------------
 * ICU ships a copy of the IANA database frozen when it was built. zoneci computes with the
 * system's instead: the TZif files under /usr/share/zoneinfo (or $TZDIR) are converted into
 * ICU's zoneinfo64 resource (compiled with genrb) and ICU is pointed at it before its first
 * time-zone call, so every ICU answer (windows, local times, holidays) follows current law. */

/* One local time type of a TZif file. */
typedef struct sched_tzif_type {
    int32_t utoff; /* seconds east of UTC */
    bool isdst;
    char abbr[16];
} sched_tzif_type;

/* A parsed TZif file (RFC 8536). types[0] is in force before the first transition; the
 * footer, when not "", is a POSIX TZ string for the instants after the last one. */
typedef struct sched_tzif {
    int64_t *trans;   /* seconds since the epoch, strictly increasing */
    uint8_t *type_of; /* the type in force from trans[i] on */
    size_t n_trans;
    sched_tzif_type *types;
    size_t n_types;
    char footer[128];
} sched_tzif;

/* Parses a whole TZif file (versions 1 to 4; the 64-bit block when there is one). Files
 * with leap seconds ("right/" zones) are refused: they do not count civil time. CORE_EINVAL
 * names what is malformed; *out is zeroed and needs sched_tzif_free only on success. */
int sched_tzif_parse(const uint8_t *data, size_t len, sched_tzif *out, core_error *err);
void sched_tzif_free(sched_tzif *z);

/* A POSIX TZ transition rule: 'M' (month.week.weekday, week 5 = last, Sunday = 0), 'J'
 * (day 1..365, February 29 never counted) or 'D' (day 0..365), at `time` seconds of local
 * time (-167 h .. 167 h) in the offset in force before the change. */
typedef struct sched_tz_rule {
    char kind;
    int month, week, wday, day;
    int32_t time;
} sched_tz_rule;

typedef struct sched_posix_tz {
    int32_t std_utoff, dst_utoff; /* seconds east of UTC */
    bool has_dst;
    sched_tz_rule start, end; /* into daylight time, back to standard time */
} sched_posix_tz;

/* Parses "PST8PDT,M3.2.0,M11.1.0", "<+0545>-5:45", "IST-1GMT0,M10.5.0,M3.5.0/1", ... */
int sched_posix_tz_parse(const char *s, sched_posix_tz *out, core_error *err);
/* The instant (seconds) a rule names in `year`, its local time read at utoff_before. */
int64_t sched_tz_rule_utc(const sched_tz_rule *r, int64_t year, int32_t utoff_before);
/* The instants of `year` at which tz goes to daylight and back to standard time. */
void sched_posix_tz_year(const sched_posix_tz *tz, int64_t year, int64_t *to_dst, int64_t *to_std);
int sched_days_in_month(int64_t year, int month);
/* The UTC offset (seconds) z gives instant t (seconds), the footer (parsed from z->footer,
 * or NULL) ruling after the last transition. Pure; any thread. */
int32_t sched_tzif_utoff_at(const sched_tzif *z, const sched_posix_tz *footer, int64_t t);

typedef struct sched_tzdata_stats {
    size_t zones; /* TZif files converted */
    size_t links; /* ids that name another zone: the system's links and ICU's old ids */
    char version[32];
} sched_tzdata_stats;

/* Converts the TZif database under zoneinfo_dir into ICU's zoneinfo64 resource in out_dir
 * (zoneinfo64.txt, zoneinfo64.res through genrb, and a stamp naming the version and the
 * source). out_dir is created; what it held is replaced. CORE_EINVAL for unreadable data,
 * CORE_EIO when genrb is missing or fails (the message says which). Uses ICU's own data
 * for the ids only ICU knows ("PST", "SystemV/..."): call it before sched_tz_setup or in a
 * process of its own. Not thread-safe. */
int sched_tzdata_generate(const char *zoneinfo_dir, const char *out_dir, sched_tzdata_stats *stats,
                          core_error *err);

/* What ICU computes with, decided once per process by sched_tz_setup. */
typedef struct sched_tz_setup_info {
    bool system;        /* data generated from the system's tzdata (else ICU's own) */
    bool regenerated;   /* generated during this start, because the system's was newer */
    char version[32];   /* the version ICU computes with, "2025b" */
    char dir[512];      /* the generated data in use; "" for ICU's own */
    char error[256];    /* why the system's data could not be used; "" when it is */
    int64_t elapsed_ms; /* time spent choosing and (re)generating */
} sched_tz_setup_info;

/* Points ICU at data generated from the system's tzdata, before any ICU time-zone call:
 * the newest of <cache_dir>/tzdata/<version>, $ZONECI_TZDATA_DIR, the installed copy and
 * the copy next to the executable; when the system's tzdata is newer than all of them it
 * is regenerated into <cache_dir>/tzdata/<version> (cache_dir NULL: $ZONECI_CACHE_DIR,
 * /var/cache/zoneci, ~/.cache/zoneci). On failure ICU keeps its own data and out->error
 * says why. The first call decides; later calls return the same answer. Call it at start,
 * before threads; zone lookups call it with NULL if nobody has. */
void sched_tz_setup(const char *cache_dir, sched_tz_setup_info *out);
/* "generated from the system's tzdata" or "ICU's bundled data", for logs and metrics. */
const char *sched_tz_data_source(void);

typedef struct sched_tz_mismatch {
    bool differs;
    int64_t at_ms; /* first instant checked where the offsets differ */
    int32_t icu_offset_ms;
    int32_t system_offset_ms;
} sched_tz_mismatch;

/* Compares ICU's offsets with the system database's (the zone's TZif file, read directly)
 * every 15 minutes over [from_ms, from_ms + days). Touches no process state (no TZ, no
 * tzset), so a reload may call it while other threads run. */
int sched_zone_check_system(const sched_zone *zone, int64_t from_ms, int days,
                            sched_tz_mismatch *out, core_error *err);

/* A region's working windows: weekly hours in a zone, minus holidays (local dates; a
 * holiday closes the windows that start on it). Immutable once made; any thread. */
typedef struct sched_windows sched_windows;

typedef struct sched_window_state {
    bool open;
    int32_t offset_ms;  /* UTC offset at the instant */
    int64_t next_open;  /* first instant after `at` going closed -> open, or SCHED_NO_INSTANT */
    int64_t next_close; /* first instant after `at` going open -> closed, or SCHED_NO_INSTANT */
} sched_window_state;

/* hours and holidays ("YYYY-MM-DD") are copied. */
int sched_windows_new(sched_windows **out, const char *tzid, const core_hours *hours,
                      size_t n_hours, char *const *holidays, size_t n_holidays, core_error *err);
void sched_windows_free(sched_windows *w);
const sched_zone *sched_windows_zone(const sched_windows *w);
/* Open or not at `at`, and the next changes within a year (docs/scheduler.md, "Working windows").
 * Windows that touch or overlap are one open span. Allocation-free. */
void sched_windows_eval(const sched_windows *w, int64_t at, sched_window_state *out);

#endif
