/* Growable, NUL-terminated byte buffers used to build responses, keys and payloads. */
#include "core/core.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first failure empties the buffer: a later reader never mistakes a truncated result
 * for a whole one, and the code is kept for core_buf_status. */
static int fail(core_buf *b, int code)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = code;
    return code;
}

int core_buf_reserve(core_buf *b, size_t more)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return b->failed;
    if (more > SIZE_MAX - b->len - 1)
        return fail(b, CORE_ENOMEM);
    need = b->len + more + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return fail(b, CORE_ENOMEM);
    b->data = p;
    b->cap = cap;
    return 0;
}

int core_buf_status(const core_buf *b)
{
    return b->failed;
}

int core_buf_append(core_buf *b, const void *data, size_t len)
{
    int rc = core_buf_reserve(b, len);

    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int core_buf_puts(core_buf *b, const char *s)
{
    return core_buf_append(b, s, strlen(s));
}

int core_buf_vprintf(core_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    int n;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (b->failed)
        return b->failed;
    if (n < 0)
        return fail(b, CORE_EINVAL);
    if (core_buf_reserve(b, (size_t)n) < 0)
        return b->failed;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int core_buf_printf(core_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = core_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int core_buf_json_escape(core_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    if (core_buf_reserve(b, len) < 0)
        return b->failed;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (core_buf_append(b, s + run, i - run) < 0)
            return b->failed;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (core_buf_append(b, esc, n) < 0)
            return b->failed;
        run = i + 1;
    }
    return core_buf_append(b, s + run, len - run);
}

void core_buf_reset(core_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void core_buf_free(core_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

char *core_buf_steal(core_buf *b)
{
    char *p = b->data;

    if (b->failed)
        return NULL;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
