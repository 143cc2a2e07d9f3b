/* Small helpers: constant-time comparison, random identifiers, hex, whole-file reads,
 * wiping secrets, monotonic deadlines. */
#define _DEFAULT_SOURCE /* getrandom(2), explicit_bzero(3) */
#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

bool core_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char diff = 0;

    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

void core_wipe(void *p, size_t n)
{
    /* memset before free is a dead store the optimiser may drop; explicit_bzero is not. */
    if (p)
        explicit_bzero(p, n);
}

void core_wipe_free(char *s)
{
    if (s) {
        core_wipe(s, strlen(s));
        free(s);
    }
}

int core_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_condattr_init(&attr) != 0)
        return CORE_ENOMEM;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? 0 : CORE_ENOMEM;
}

void core_deadline_after(struct timespec *out, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, out);
    out->tv_sec += (time_t)(ms / 1000);
    out->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}

uint64_t core_fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

bool core_name_valid(const char *s, size_t max, const char *extra)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr(extra, c)))
            return false;
    }
    return true;
}

bool core_parse_uint(const char *s, size_t n, long max, long *out)
{
    long v = 0;

    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

int core_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void core_hex_encode(const unsigned char *bytes, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

int core_random_hex(char *out, size_t nbytes, core_error *err)
{
    unsigned char raw[64];
    size_t got = 0;

    CORE_ASSERT(nbytes <= sizeof(raw));
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return core_error_set(err, CORE_EIO, "getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    core_hex_encode(raw, nbytes, out);
    return 0;
}

int core_file_read(const char *path, size_t max, char **out, size_t *len, core_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *data = NULL;
    size_t n;
    int rc = 0;

    *out = NULL;
    if (!f)
        return core_error_set(err, errno == ENOENT ? CORE_ENOTFOUND : CORE_EIO, "%s: %s", path,
                              strerror(errno));
    if (fstat(fileno(f), &st) != 0) {
        rc = core_error_set(err, CORE_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = core_error_set(err, CORE_EINVAL, "%s: not a regular file", path);
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = core_error_set(err, CORE_ETOOBIG, "%s: larger than %zu bytes", path, max);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = core_error_set(err, CORE_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    n = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        rc = core_error_set(err, CORE_EIO, "%s: read failed", path);
        goto out;
    }
    data[n] = '\0';
    if (len)
        *len = n;
    *out = data;
    data = NULL;
out:
    free(data);
    fclose(f);
    return rc;
}

char *core_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int core_array_room(void **items, size_t *cap, size_t n, size_t elem, size_t first)
{
    size_t want;
    void *p;

    if (n < *cap)
        return 0;
    want = *cap ? *cap : first;
    if (*cap && want > SIZE_MAX / 2 / elem)
        return CORE_ENOMEM;
    if (*cap)
        want *= 2;
    if (want > SIZE_MAX / elem)
        return CORE_ENOMEM;
    p = realloc(*items, want * elem);
    if (!p)
        return CORE_ENOMEM;
    *items = p;
    *cap = want;
    return 0;
}
