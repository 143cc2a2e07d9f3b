/* Structured one-line logging on stderr. Each line is formatted into a stack buffer and
 * written with a single write(2), so lines from different threads never interleave. */
#include "core/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = CORE_LOG_INFO;
static atomic_int log_format = CORE_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void core_log_set_level(core_log_level level)
{
    atomic_store(&log_level, (int)level);
}

bool core_log_enabled(core_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void core_log_set_format(core_log_format format)
{
    atomic_store(&log_format, (int)format);
}

bool core_log_format_parse(const char *name, core_log_format *out)
{
    if (strcmp(name, "logfmt") == 0)
        *out = CORE_LOG_LOGFMT;
    else if (strcmp(name, "json") == 0)
        *out = CORE_LOG_JSON;
    else
        return false;
    return true;
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

/* Appends src[0..len) to out (o bytes in, at most cap) as the inside of a JSON string:
 * quote, backslash and every control byte escaped (other bytes as they are: messages are
 * UTF-8). Stops before an escape that would not fit whole, and then sets *cut. Returns
 * the new length. */
static size_t json_escape(char *out, size_t o, size_t cap, const char *src, size_t len, bool *cut)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        char e[7];
        size_t n = 0;

        if (c == '"' || c == '\\') {
            e[n++] = '\\';
            e[n++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            e[n++] = '\\';
            e[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(e, "\\u00", 4);
            n = 4;
            e[n++] = hex[c >> 4];
            e[n++] = hex[c & 15];
        } else {
            e[n++] = (char)c;
        }
        if (o + n > cap) {
            *cut = true;
            break;
        }
        memcpy(out + o, e, n);
        o += n;
    }
    return o;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Whether p starts a `key=` (the next pair). */
static bool at_key(const char *p)
{
    const char *k = p;

    while (key_char(*k))
        k++;
    return k > p && *k == '=';
}

/* The end of a value that starts at v: a quoted one ends at the quote followed by the
 * end or by " key=" (messages quote free text without escaping its quotes); a bare one
 * at the next space. *inner and *inner_len get the value without its quotes. */
static const char *value_end(const char *v, const char **inner, size_t *inner_len)
{
    if (*v == '"') {
        for (const char *q = strchr(v + 1, '"'); q; q = strchr(q + 1, '"')) {
            if (q[1] == '\0' || (q[1] == ' ' && at_key(q + 2))) {
                *inner = v + 1;
                *inner_len = (size_t)(q - v - 1);
                return q + 1;
            }
        }
    }
    *inner = v;
    *inner_len = strcspn(v, " ");
    return v + *inner_len;
}

/* A JSON line being built into out. Once a piece does not fit (`full`), nothing more is
 * added and the line goes back to its last whole field, then says it was cut: still one
 * valid object. `stop` leaves room for that ending. */
#define JSON_CUT_TAIL ",\"truncated\":\"true\"}"

typedef struct jline {
    char *out;
    size_t o, stop, good; /* good: the end of the last whole field */
    bool full;
} jline;

static void jl_raw(jline *j, const char *s)
{
    size_t l = strlen(s);

    if (j->full || j->o + l > j->stop) {
        j->full = true;
        return;
    }
    memcpy(j->out + j->o, s, l);
    j->o += l;
}

static void jl_text(jline *j, const char *s, size_t len)
{
    if (!j->full)
        j->o = json_escape(j->out, j->o, j->stop, s, len, &j->full);
}

/* One "key":"value" field (key_len bytes of key, value_len of value). */
static void jl_field(jline *j, const char *key, size_t key_len, const char *value, size_t value_len)
{
    jl_raw(j, ",\"");
    jl_text(j, key, key_len);
    jl_raw(j, "\":\"");
    jl_text(j, value, value_len);
    jl_raw(j, "\"");
    if (!j->full)
        j->good = j->o;
}

/* A JSON line: ts, level and event, then each key=value of msg as a string field; text
 * that is not a pair (a message without '=') goes whole into "msg_text". */
static size_t json_line(const char *ts, core_log_level level, const char *event, const char *msg,
                        char *out, size_t cap)
{
    jline j = {.out = out, .stop = cap - sizeof(JSON_CUT_TAIL)};
    const char *p = msg;

    jl_raw(&j, "{\"ts\":\"");
    jl_text(&j, ts, strlen(ts));
    jl_raw(&j, "\"");
    jl_field(&j, "level", 5, level_names[level], strlen(level_names[level]));
    jl_field(&j, "event", 5, event, strlen(event));
    while (*p && !j.full) {
        const char *k, *inner;
        size_t inner_len;

        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (!at_key(p)) {
            jl_field(&j, "msg_text", 8, p, strlen(p));
            break;
        }
        k = p;
        p = strchr(p, '=');
        {
            size_t key_len = (size_t)(p - k);

            p = value_end(p + 1, &inner, &inner_len);
            jl_field(&j, k, key_len, inner, inner_len);
        }
    }
    if (j.full) {
        memcpy(out + j.good, JSON_CUT_TAIL, sizeof(JSON_CUT_TAIL));
        return j.good + sizeof(JSON_CUT_TAIL) - 1;
    }
    out[j.o++] = '}';
    out[j.o] = '\0';
    return j.o;
}

size_t core_log_format_line(core_log_format format, const char *ts, core_log_level level,
                            const char *event, const char *msg, char *out, size_t cap)
{
    size_t n;
    int w;

    CORE_ASSERT(ts && event && msg && out && cap >= 64);
    if (format == CORE_LOG_JSON)
        return json_line(ts, level, event, msg, out, cap - 2);
    w = snprintf(out, cap, "ts=%s level=%s event=%s ", ts, level_names[level], event);
    n = w < 0 ? 0 : (size_t)w;
    if (n > cap - 1)
        n = cap - 1;
    n += escape_controls(out + n, cap - 1 - n, msg, strlen(msg));
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return n;
}

void core_log_write(core_log_level level, const char *event, const char *fmt, ...)
{
    /* A JSON line may escape every byte of the message (up to 6 bytes each). */
    char line[8 * 2048], raw[2048];
    char ts[CORE_ISO_MAX];
    size_t n;
    va_list ap;

    core_time_format_iso(core_time_now_ms(), ts);
    va_start(ap, fmt);
    if (vsnprintf(raw, sizeof(raw), fmt, ap) < 0)
        raw[0] = '\0';
    va_end(ap);
    n = core_log_format_line(
        (core_log_format)atomic_load_explicit(&log_format, memory_order_relaxed), ts, level, event,
        raw, line, sizeof(line) - 1);
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* Nowhere left to report a failure to log. */
    }
}
