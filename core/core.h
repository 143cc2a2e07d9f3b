/* core: errors, logging, growable buffers, time and small helpers shared by every
 * zoneci module. It depends on nothing but libc, so every other module may use it. */
#ifndef ZONECI_CORE_H
#define ZONECI_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZONECI_VERSION "0.1.0"

/* ---- errors ----------------------------------------------------------------------------
 * Actions return 0 or a negative CORE_E* code and fill a caller-owned core_error (NULL
 * allowed). Only codes that callers branch on exist. */
enum {
    CORE_OK = 0,
    CORE_EINVAL = -1,       /* bad input: the message names the field or value */
    CORE_ENOTFOUND = -2,    /* the thing asked for does not exist */
    CORE_EAGAIN = -3,       /* transient: retry later */
    CORE_ETOOBIG = -4,      /* input over a hard cap */
    CORE_EUNAVAILABLE = -5, /* a dependency (Redis, a peer) cannot be reached */
    CORE_ENOMEM = -6,       /* allocation failed */
    CORE_ECONFLICT = -7,    /* state changed under us: stale lease, duplicate, lost race */
    CORE_EAUTH = -8,        /* authentication or authorisation failed */
    CORE_EIO = -9,          /* an operating-system call failed */
};

#define CORE_ERROR_MSG_MAX 256

typedef struct core_error {
    int code;
    char msg[CORE_ERROR_MSG_MAX];
} core_error;

/* Records code and a printf-style one-line message in err (if not NULL) and returns code,
 * so that callers can write `return core_error_set(err, CORE_EINVAL, "...")`. Never
 * allocates; a long message is truncated. */
int core_error_set(core_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to err's message, keeping its code; returns the code. */
int core_error_wrap(core_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err (if not NULL). */
void core_error_clear(core_error *err);

/* A stable lower-case name for a code ("invalid", "not_found", ...). */
const char *core_error_name(int code);

/* A broken invariant is a programming error: report and abort. */
#define CORE_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            core_assert_fail(#cond, __FILE__, __LINE__);                                           \
    } while (0)
_Noreturn void core_assert_fail(const char *expr, const char *file, int line);

/* ---- logging ---------------------------------------------------------------------------
 * One line per event on stderr: `ts=... level=info event=name key=value ...`. Callers use
 * CORE_LOG so that the arguments are not evaluated when the level is off. Never pass a
 * secret: messages are written as given. Thread-safe (one write(2) per line). */
typedef enum core_log_level {
    CORE_LOG_DEBUG = 0,
    CORE_LOG_INFO = 1,
    CORE_LOG_WARN = 2,
    CORE_LOG_ERROR = 3,
    CORE_LOG_OFF = 4,
} core_log_level;

void core_log_set_level(core_log_level level);
bool core_log_enabled(core_log_level level);
/* Parses "debug", "info", "warn", "error", "off"; returns false for anything else. */
bool core_log_level_parse(const char *name, core_log_level *out);
/* The line format: CORE_LOG_LOGFMT (the default) writes `key=value` pairs as given;
 * CORE_LOG_JSON writes one JSON object a line, {"ts","level","event", then each key=value
 * pair of the message as a string field}, every value escaped. */
typedef enum core_log_format {
    CORE_LOG_LOGFMT = 0,
    CORE_LOG_JSON = 1,
} core_log_format;

void core_log_set_format(core_log_format format);
/* Parses "logfmt" or "json"; returns false for anything else. */
bool core_log_format_parse(const char *name, core_log_format *out);
void core_log_write(core_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The line core_log_write would write for this message in this format, without the
 * newline, into out (cap bytes, NUL-terminated, cut at a character boundary of its own
 * escapes when too long). Returns its length. For tests and for the writer itself. */
size_t core_log_format_line(core_log_format format, const char *ts, core_log_level level,
                            const char *event, const char *msg, char *out, size_t cap);

#define CORE_LOG(level, event, ...)                                                                \
    do {                                                                                           \
        if (core_log_enabled(level))                                                               \
            core_log_write(level, event, __VA_ARGS__);                                             \
    } while (0)

/* ---- buffers ---------------------------------------------------------------------------
 * A growable byte buffer, always NUL-terminated after a successful append. Zero-initialise
 * (`core_buf b = {0};`) to start; core_buf_free releases the memory.
 *
 * A failure is sticky, as curl's dynbuf: when an append cannot grow the buffer, the
 * buffer frees what it held (never a silently truncated result) and stays failed; every
 * later append is a no-op returning the same code, and core_buf_status reports it once at
 * the end, so a caller that builds a response in many appends checks one result. Only
 * core_buf_free clears the failure. */
typedef struct core_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* 0, or the negative CORE_E* code of the first failure */
} core_buf;

int core_buf_append(core_buf *b, const void *data, size_t len);
int core_buf_puts(core_buf *b, const char *s);
int core_buf_printf(core_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int core_buf_vprintf(core_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s as the inside of a JSON string (quotes not included), escaping as RFC 8259
 * requires; bytes are copied as they are otherwise. */
int core_buf_json_escape(core_buf *b, const char *s, size_t len);
/* Ensures room for `more` bytes beyond len. CORE_ENOMEM (and the buffer failed) when that
 * cannot be allocated or the size would overflow. */
int core_buf_reserve(core_buf *b, size_t more);
/* 0, or the code of the failure that emptied the buffer (every append since was a no-op). */
int core_buf_status(const core_buf *b);
/* Empties the content; a failed buffer stays failed. */
void core_buf_reset(core_buf *b);
/* Frees the memory and clears a failure: b is as zero-initialised. */
void core_buf_free(core_buf *b);
/* Hands the data to the caller (free() it) and leaves b empty; NULL for a failed buffer
 * (which stays failed). */
char *core_buf_steal(core_buf *b);

/* ---- time ------------------------------------------------------------------------------
 * Instants are int64 milliseconds since the Unix epoch (UTC). Time is injected: library
 * code takes an instant argument; only the edges call core_time_now_ms(). */
#define CORE_ISO_MAX 40

int64_t core_time_now_ms(void);
/* Monotonic milliseconds, for durations and timeouts only. */
int64_t core_time_mono_ms(void);
/* Microseconds on the monotonic clock, for latency measurement. */
int64_t core_time_mono_us(void);
/* Formats ms as "2026-03-09T17:30:00Z" (milliseconds shown only when not zero). */
void core_time_format_iso(int64_t ms, char out[CORE_ISO_MAX]);
/* Formats ms as "2026-03-09T17:30:00.000Z", milliseconds always: the one form of every
 * time the HTTP API returns, so that clients parse a single layout. */
void core_time_format_iso_ms(int64_t ms, char out[CORE_ISO_MAX]);
/* A human duration, largest units first: "3h 10m", "2d 4h", "45s". Negative is "0s". */
void core_duration_format(int64_t ms, char out[32]);
/* Formats the wall time of ms at a UTC offset: "2026-03-09T10:30:00-07:00". */
void core_time_format_local(int64_t ms, int32_t offset_ms, char out[CORE_ISO_MAX]);
/* Parses ISO 8601 "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z" or "+HH:MM"/"-HH:MM".
 * A missing offset is an error: an instant must say which one it means. */
int core_time_parse_iso(const char *s, int64_t *out, core_error *err);

/* Weekly working hours: "Mon-Fri 09:00-18:00", "Sat 10:00-14:00", "Mon,Wed,Fri 08:00-12:00",
 * "Fri-Mon 22:00-06:00". Days are bit 0 = Monday .. bit 6 = Sunday. Minutes are local
 * wall-clock minutes since midnight; end may be 1440 ("24:00"). An end not after the
 * start means the window crosses midnight into the next day. */
typedef struct core_hours {
    uint8_t days;
    uint16_t start_min;
    uint16_t end_min;
} core_hours;

int core_hours_parse(const char *spec, core_hours *out, core_error *err);
/* True when the window ends on the day after it starts. */
bool core_hours_crosses_midnight(const core_hours *h);

/* Parses a local date "YYYY-MM-DD" (a holiday) into its parts; validates the calendar. */
int core_date_parse(const char *s, int *year, int *month, int *day, core_error *err);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t core_days_from_civil(int64_t year, int month, int day);
void core_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/* The system time-zone database's folder: $TZDIR, else /usr/share/zoneinfo. */
const char *core_tz_dir(void);
/* The version of the database in dir ("2025b", from its tzdata.zi), or "unknown". */
void core_tz_version_of(const char *dir, char out[32]);
/* The system time-zone database's version, read once, or "unknown". */
const char *core_tz_system_version(void);

/* True when the system time-zone database (/usr/share/zoneinfo, or $TZDIR) has `name`. */
bool core_tz_exists(const char *name);

/* ---- small helpers ---------------------------------------------------------------------- */

/* Compares two byte strings in time that depends only on len, never on where they differ. */
bool core_ct_equal(const void *a, const void *b, size_t len);

/* Fills out with 2*nbytes lower-case hex characters from the kernel CSPRNG plus a NUL;
 * out must hold 2*nbytes+1 bytes. */
int core_random_hex(char *out, size_t nbytes, core_error *err);

/* True for 1..max characters, each an ASCII letter, a digit or one of extra (NUL not
 * allowed in extra): the shape check of ids from outside (delivery GUIDs, names). */
bool core_name_valid(const char *s, size_t max, const char *extra);
/* 64-bit FNV-1a of a string: a stable name for content (cache paths, library versions),
 * not a defence against anyone choosing collisions. */
uint64_t core_fnv1a(const char *s);

/* n decimal digits (1..10, nothing else) at most max into *out; false otherwise. */
bool core_parse_uint(const char *s, size_t n, long max, long *out);

/* The value of one hex digit (either case), or -1. */
int core_hex_digit(char c);

/* Lower-case hex of bytes, out holds 2*len+1. */
void core_hex_encode(const unsigned char *bytes, size_t len, char *out);

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd buffer. */
int core_file_read(const char *path, size_t max, char **out, size_t *len, core_error *err);

/* Overwrites n bytes that held a secret, in a way the compiler cannot drop as a dead store
 * (explicit_bzero). NULL does nothing. */
/* Room for one more element in a growing array of *cap elements of elem bytes, n of them
 * used: when full, the capacity doubles (first when empty). 0, or CORE_ENOMEM with the
 * array as it was (size overflow included). */
int core_array_room(void **items, size_t *cap, size_t n, size_t elem, size_t first);
void core_wipe(void *p, size_t n);
/* Wipes a NUL-terminated secret, then frees it. NULL does nothing. */
void core_wipe_free(char *s);

/* Waits are durations: a condition variable on CLOCK_MONOTONIC, and a deadline ms from now
 * on that clock, so that a wall-clock step never freezes or hurries a worker loop. */
int core_cond_init_monotonic(pthread_cond_t *cv);
struct timespec;
void core_deadline_after(struct timespec *out, int64_t ms);

/* ---- Redis URLs (core/url.c) ------------------------------------------------------------
 * redis://[[user]:password@]host[:port][/db] (IPv6 in brackets, credentials %-escaped) or
 * unix://PATH. One parser for the configuration check and the store's connection. */
typedef struct core_redis_url {
    bool is_unix;
    char *path; /* unix socket path as written (may be relative) */
    char *host; /* without brackets */
    bool ipv6;  /* the host was written in brackets */
    int port;   /* 6379 unless given */
    int db;
    char *user;     /* decoded; NULL when none */
    char *password; /* decoded; NULL when none */
} core_redis_url;

/* Fills out (free with core_redis_url_free, which wipes the credentials). CORE_EINVAL with a
 * message that never repeats the URL (it may hold a password). */
int core_redis_url_parse(const char *url, core_redis_url *out, core_error *err);
void core_redis_url_free(core_redis_url *u);

/* strdup that reports failure as CORE_ENOMEM through a NULL return only. */
char *core_strndup(const char *s, size_t n);

#endif
