/* Redis URLs, parsed once for everyone: the configuration checks them and the store
 * connects with them, so both must read the same string the same way (ACL users
 * included). Pure string work; messages never repeat a credential. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 4096
#define SUN_PATH_MAX 107 /* sizeof(sockaddr_un.sun_path) - 1; hiredis would truncate */

/* Percent-decodes s[0..n) into a new string; NULL for a bad escape or no memory (*bad
 * says which). User names and passwords may hold '@', ':' or '/' only this way. */
static char *pct_decode(const char *s, size_t n, bool *bad)
{
    char *out = malloc(n + 1);
    size_t j = 0;

    *bad = false;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[j++] = s[i];
            continue;
        }
        /* A NUL would cut the credential short without a word: refuse it. */
        if (i + 2 >= n || core_hex_digit(s[i + 1]) < 0 || core_hex_digit(s[i + 2]) < 0 ||
            (core_hex_digit(s[i + 1]) == 0 && core_hex_digit(s[i + 2]) == 0)) {
            *bad = true;
            core_wipe(out, j);
            free(out);
            return NULL;
        }
        out[j++] = (char)(core_hex_digit(s[i + 1]) * 16 + core_hex_digit(s[i + 2]));
        i += 2;
    }
    out[j] = '\0';
    return out;
}

/* userinfo is "password", ":password" or "user:password" (as redis-cli reads it). */
static int parse_userinfo(core_redis_url *u, const char *ui, size_t n, core_error *err)
{
    const char *colon = memchr(ui, ':', n);
    const char *pw = colon ? colon + 1 : ui;
    size_t pwlen = colon ? n - (size_t)(pw - ui) : n;
    bool bad = false;

    if (colon && colon > ui) {
        u->user = pct_decode(ui, (size_t)(colon - ui), &bad);
        if (!u->user)
            goto fail;
    }
    if (pwlen > 0) {
        u->password = pct_decode(pw, pwlen, &bad);
        if (!u->password)
            goto fail;
    }
    return 0;
fail:
    /* Never echo the text: it is a credential. */
    return bad ? core_error_set(err, CORE_EINVAL, "bad %%-escape in user or password")
               : core_error_set(err, CORE_ENOMEM, "out of memory");
}

static int parse_tcp(core_redis_url *u, const char *rest, core_error *err)
{
    const char *at = strrchr(rest, '@');
    const char *hp = at ? at + 1 : rest;
    const char *slash = strchr(hp, '/');
    const char *end = slash ? slash : hp + strlen(hp);
    const char *host = hp, *host_end, *port_s = NULL;
    long port = 6379, db = 0;
    int rc;

    if (at) {
        rc = parse_userinfo(u, rest, (size_t)(at - rest), err);
        if (rc < 0)
            return rc;
    }
    if (hp < end && *hp == '[') {
        const char *close = memchr(hp, ']', (size_t)(end - hp));

        if (!close)
            return core_error_set(err, CORE_EINVAL, "unterminated [ in host");
        host = hp + 1;
        host_end = close;
        if (close + 1 < end) {
            if (close[1] != ':')
                return core_error_set(err, CORE_EINVAL, "junk after ] in host");
            port_s = close + 2;
        }
        u->ipv6 = true;
    } else {
        const char *colon = memchr(hp, ':', (size_t)(end - hp));

        host_end = colon ? colon : end;
        if (colon) {
            if (memchr(colon + 1, ':', (size_t)(end - colon - 1)))
                return core_error_set(err, CORE_EINVAL,
                                      "an IPv6 host must be written in [brackets]");
            port_s = colon + 1;
        }
    }
    if (host_end == host)
        return core_error_set(err, CORE_EINVAL, "missing host");
    if (port_s && (!core_parse_uint(port_s, (size_t)(end - port_s), 65535, &port) || port < 1))
        return core_error_set(err, CORE_EINVAL, "port must be a number from 1 to 65535");
    if (slash && slash[1] && !core_parse_uint(slash + 1, strlen(slash + 1), 1000000, &db))
        return core_error_set(err, CORE_EINVAL, "database must be a number (/0, /1, ...)");
    u->host = core_strndup(host, (size_t)(host_end - host));
    if (!u->host)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    u->port = (int)port;
    u->db = (int)db;
    return 0;
}

int core_redis_url_parse(const char *url, core_redis_url *out, core_error *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!url || !*url)
        return core_error_set(err, CORE_EINVAL, "empty");
    if (strlen(url) > URL_MAX)
        return core_error_set(err, CORE_EINVAL, "longer than %d bytes", URL_MAX);
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return core_error_set(err, CORE_EINVAL,
                                  "spaces and control characters must be %%-escaped");
    }
    if (strncmp(url, "unix://", 7) == 0) {
        if (!url[7])
            return core_error_set(err, CORE_EINVAL,
                                  "unix:// needs a socket path, like unix:///run/redis/redis.sock");
        if (strlen(url + 7) > SUN_PATH_MAX)
            return core_error_set(err, CORE_EINVAL,
                                  "socket path longer than %d bytes (the limit of a unix socket "
                                  "address)",
                                  SUN_PATH_MAX);
        out->is_unix = true;
        out->path = core_strndup(url + 7, strlen(url + 7));
        return out->path ? 0 : core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    if (strncmp(url, "rediss://", 9) == 0)
        return core_error_set(err, CORE_EINVAL, "TLS (rediss://) is not supported");
    if (strncmp(url, "redis://", 8) != 0)
        return core_error_set(err, CORE_EINVAL,
                              "must be redis://[[user]:password@]host[:port][/db] or unix://PATH");
    rc = parse_tcp(out, url + 8, err);
    if (rc < 0)
        core_redis_url_free(out);
    return rc;
}

void core_redis_url_free(core_redis_url *u)
{
    if (!u)
        return;
    free(u->host);
    free(u->path);
    core_wipe_free(u->user);
    core_wipe_free(u->password);
    memset(u, 0, sizeof(*u));
}
