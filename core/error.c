/* Error values: a code and a fixed-size message, filled without allocating so that any
 * thread (libmicrohttpd's pool, curl callbacks) can report a failure safely. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int core_error_set(core_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

int core_error_wrap(core_error *err, const char *fmt, ...)
{
    char prefix[CORE_ERROR_MSG_MAX];
    char joined[2 * CORE_ERROR_MSG_MAX + 4];
    va_list ap;

    if (!err)
        return CORE_EINVAL;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
    memcpy(err->msg, joined, sizeof(err->msg) - 1);
    err->msg[sizeof(err->msg) - 1] = '\0';
    return err->code;
}

void core_error_clear(core_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *core_error_name(int code)
{
    switch (code) {
    case CORE_OK:
        return "ok";
    case CORE_EINVAL:
        return "invalid";
    case CORE_ENOTFOUND:
        return "not_found";
    case CORE_EAGAIN:
        return "try_again";
    case CORE_ETOOBIG:
        return "too_big";
    case CORE_EUNAVAILABLE:
        return "unavailable";
    case CORE_ENOMEM:
        return "out_of_memory";
    case CORE_ECONFLICT:
        return "conflict";
    case CORE_EAUTH:
        return "unauthorized";
    case CORE_EIO:
        return "io";
    default:
        return "unknown";
    }
}

void core_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "level=fatal event=assert expr=\"%s\" at=%s:%d\n", expr, file, line);
    abort();
}
