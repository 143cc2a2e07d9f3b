/* A strict, single-pass JSON scanner (private to webhooks/). It validates a whole document
 * and records where the values at a few dotted paths are, without building a tree and
 * without allocating, so that a 28 KB webhook body costs tens of microseconds. */
#ifndef ZONECI_WEBHOOKS_JSCAN_H
#define ZONECI_WEBHOOKS_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

/* At most this many paths per scan, each of at most this many segments (keys) of at most
 * this many bytes. */
#define WH_JSCAN_MAX_FIELDS 64
#define WH_JSCAN_MAX_SEGMENTS 8
#define WH_JSCAN_MAX_SEGMENT_LEN 127

typedef enum wh_jscan_type {
    WH_JSCAN_MISSING = 0, /* the path is not in the document */
    WH_JSCAN_NULL,
    WH_JSCAN_FALSE,
    WH_JSCAN_TRUE,
    WH_JSCAN_NUMBER,
    WH_JSCAN_STRING,
    WH_JSCAN_OBJECT,
    WH_JSCAN_ARRAY,
} wh_jscan_type;

/* One requested path. `path` is set by the caller: keys joined by dots, e.g.
 * "pull_request.head.sha" (a key that itself contains a dot cannot be named). The scanner
 * fills the rest: the value's type and its raw token, pointing into the scanned buffer
 * (quotes included for a string, brackets for an object or array). Paths go through
 * objects only, never into arrays. */
typedef struct wh_jscan_field {
    const char *path;
    wh_jscan_type type;
    const char *raw;
    size_t raw_len;
} wh_jscan_field;

/* Validates buf[0..len) and fills fields[0..nfields) (fields may be NULL when nfields is
 * 0). The document must be one JSON object: RFC 8259 text (no comments, trailing commas,
 * leading zeros, NaN; whitespace is space, tab, CR, LF), strict UTF-8 (no overlong forms,
 * no encoded surrogates, nothing above U+10FFFF), escapes well formed with surrogate pairs
 * paired, nesting at most WH_JSON_MAX_DEPTH. Like jansson (flags 0) it also rejects
 * \u0000, integers outside int64 and reals that overflow a double, and lets the last of
 * duplicate keys win. Returns 0, or CORE_EINVAL with "invalid JSON at byte N: why" in err
 * (the fields are then unspecified). Paths must be non-empty, with non-empty segments
 * within the limits above (asserted). Reentrant, allocation-free; uses about 5 KB of
 * stack. */
int wh_jscan_scan(const char *buf, size_t len, wh_jscan_field *fields, size_t nfields,
                  core_error *err);

/* Decodes a string token as recorded by wh_jscan_scan (quotes included) to UTF-8 into
 * out, which holds cap >= 1 bytes, and NUL-terminates it. Text that does not fit is cut at
 * a character boundary and *truncated (if not NULL) is set, else cleared. Returns the
 * number of bytes written before the NUL. Given any other bytes it stays inside both
 * buffers, but what it writes is unspecified. */
size_t wh_jscan_string_decode(const char *raw, size_t raw_len, char *out, size_t cap,
                              bool *truncated);

#endif
