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

void core_log_write(core_log_level level, const char *event, const char *fmt, ...)
{
    char line[2048];
    char ts[CORE_ISO_MAX];
    size_t n;
    int w;
    va_list ap;

    core_time_format_iso(core_time_now_ms(), ts);
    w = snprintf(line, sizeof(line), "ts=%s level=%s event=%s ", ts, level_names[level], event);
    n = w < 0 ? 0 : (size_t)w;
    if (n < sizeof(line)) {
        va_start(ap, fmt);
        w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        n += w < 0 ? 0 : (size_t)w;
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* Nowhere left to report a failure to log. */
    }
}
