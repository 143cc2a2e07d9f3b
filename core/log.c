/* Structured one-line logging on stderr. Each line is formatted into a stack buffer and
 * written with a single write(2), so lines from different threads never interleave. */
#include "core/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = CORE_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void core_log_set_level(core_log_level level)
{
    atomic_store(&log_level, (int)level);
}

bool core_log_enabled(core_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool core_log_level_parse(const char *name, core_log_level *out)
{
    for (int i = 0; i <= CORE_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (core_log_level)i;
            return true;
        }
    }
    return false;
}

/* Copies src into dst (cap bytes, no NUL needed) with every control byte written as an
 * escape: a value that holds "\n" (a URL's %0a decoded, a header, a peer's error text) can
 * never start a line of its own and forge an entry. Returns the bytes written. */
static size_t escape_controls(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];

        if (c >= 0x20 && c != 0x7f) {
            if (o + 1 > cap)
                break;
            dst[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            if (o + 2 > cap)
                break;
            dst[o++] = '\\';
            dst[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else {
            if (o + 4 > cap)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    return o;
}

void core_log_write(core_log_level level, const char *event, const char *fmt, ...)
{
    char line[2048], raw[2048];
    char ts[CORE_ISO_MAX];
    size_t n, r = 0;
    int w;
    va_list ap;

    core_time_format_iso(core_time_now_ms(), ts);
    w = snprintf(line, sizeof(line), "ts=%s level=%s event=%s ", ts, level_names[level], event);
    n = w < 0 ? 0 : (size_t)w;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    va_start(ap, fmt);
    w = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    if (w > 0)
        r = (size_t)w < sizeof(raw) ? (size_t)w : sizeof(raw) - 1;
    n += escape_controls(line + n, sizeof(line) - 2 - n, raw, r);
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* Nowhere left to report a failure to log. */
    }
}
