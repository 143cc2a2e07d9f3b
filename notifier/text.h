/* Private to notifier/: bounded UTF-8 text for GitHub statuses and Slack cards. Both count
 * characters (code points), not bytes, and both reject invalid UTF-8, so text from the
 * outside (a PR title, an SQL statement) is cleaned and cut here, never mid-character. */
#ifndef ZONECI_NOTIFIER_TEXT_H
#define ZONECI_NOTIFIER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/core.h"

#define NOTIFY_TEXT_ELLIPSIS "\xe2\x80\xa6"    /* U+2026, one character */
#define NOTIFY_TEXT_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 if it is not one:
 * overlong forms, surrogates and code points past U+10FFFF are invalid. */
static inline size_t notify_utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Text whose length is counted in characters while it is built. */
typedef struct notify_text {
    core_buf buf;
    size_t chars;
} notify_text;

/* What to do with a character on its way in. */
enum {
    NOTIFY_TEXT_PLAIN = 0,   /* as it is */
    NOTIFY_TEXT_MRKDWN = 1,  /* Slack's control characters &, <, > escaped */
    NOTIFY_TEXT_ONELINE = 2, /* CR, LF and tabs become spaces */
    NOTIFY_TEXT_NOTICKS = 4, /* ` becomes ' (text inside a code span or block) */
};

/* Appends s (NULL is ""), cleaned as flags say, other control characters dropped and
 * invalid UTF-8 replaced by U+FFFD, but only as far as max_chars allows in total: a
 * character (or an escape like "&amp;", counted as its own length) that does not fit is
 * not appended, and neither is anything after it. Returns 1 when all of s went in, 0 when
 * it was cut, CORE_ENOMEM. */
static inline int notify_text_add(notify_text *t, const char *s, int flags, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);

    while (n > 0) {
        size_t len = notify_utf8_seq(p, n), step = len ? len : 1;
        const char *out = (const char *)p;
        size_t out_len = len, out_chars = 1;
        char one;

        if (len == 0) {
            out = NOTIFY_TEXT_REPLACEMENT;
            out_len = 3;
        } else if (len == 1) {
            one = (char)*p;
            if ((flags & NOTIFY_TEXT_MRKDWN) && (one == '&' || one == '<' || one == '>')) {
                out = one == '&' ? "&amp;" : one == '<' ? "&lt;" : "&gt;";
                out_len = out_chars = strlen(out);
            } else if ((flags & NOTIFY_TEXT_ONELINE) &&
                       (one == '\n' || one == '\r' || one == '\t')) {
                out = " ";
            } else if ((flags & NOTIFY_TEXT_NOTICKS) && one == '`') {
                out = "'";
            } else if ((unsigned char)one < 0x20 && one != '\n' && one != '\t') {
                out_len = out_chars = 0;
            } else if (one == 0x7f) {
                out_len = out_chars = 0;
            }
        }
        if (t->chars + out_chars > max_chars)
            return 0;
        if (out_len && core_buf_append(&t->buf, out, out_len) < 0)
            return CORE_ENOMEM;
        t->chars += out_chars;
        p += step;
        n -= step;
    }
    if (!t->buf.data && core_buf_append(&t->buf, "", 0) < 0)
        return CORE_ENOMEM;
    return 1;
}

/* Appends s whole if it fits in max_chars, else as much as leaves room for "…" and then
 * "…". Returns 1 when whole, 0 when cut, CORE_ENOMEM. max_chars must be at least 1 more
 * than t->chars. */
static inline int notify_text_add_cut(notify_text *t, const char *s, int flags, size_t max_chars)
{
    notify_text trial = {{0}, 0};
    int rc;

    /* Try it whole on the side first: cutting must leave room for the ellipsis, which a
     * text that fits exactly does not need. */
    rc = notify_text_add(&trial, s, flags, max_chars - t->chars);
    if (rc == 1) {
        rc = core_buf_append(&t->buf, trial.buf.data, trial.buf.len) < 0 ? CORE_ENOMEM : 1;
        t->chars += trial.chars;
        core_buf_free(&trial.buf);
        return rc;
    }
    core_buf_free(&trial.buf);
    if (rc < 0)
        return rc;
    rc = notify_text_add(t, s, flags, max_chars - 1);
    if (rc < 0)
        return rc;
    if (core_buf_puts(&t->buf, NOTIFY_TEXT_ELLIPSIS) < 0)
        return CORE_ENOMEM;
    t->chars++;
    return 0;
}

static inline void notify_text_free(notify_text *t)
{
    core_buf_free(&t->buf);
    t->chars = 0;
}

#endif
