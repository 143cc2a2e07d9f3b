/* The configuration file (docs/configuration.md): parsed with jansson, validated key by key, and
 * turned into a plain policy_config. Every problem is collected with its JSON path and,
 * when it can be found in the text, its line, so that one run of check-config shows all.
 *
 * jansson rules used here: json_loadb hands us the only owned reference (the root, released
 * once at the end); json_object_get and json_array_get return borrowed references; object
 * keys iterate in the order they appear in the file, which locate() relies on. */
#include "policies/policies.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/core.h"

/* Hard caps on what the file may hold. A config is written by people: these are far above
 * any real one and keep a hostile file from costing more than a few milliseconds. */
#define CONFIG_MAX_BYTES (1024 * 1024)
#define PROBLEMS_MAX 200 /* the last slot says that we stopped */
#define STRING_MAX 4096
#define MAX_REGIONS 256
#define MAX_HOURS 64
#define MAX_LIST 1000
#define MAX_PEOPLE 10000
#define PATH_DEPTH 8 /* policies[i].migrations.paths[j] is the deepest: 5 */

#define NOT_THERE ((size_t)-1)

/* One step of a JSON path: an object key (with its ordinal among the object's keys, so
 * that locate() can find it in the text) or an array index. */
typedef struct seg {
    const char *key; /* NULL for an array index */
    size_t pos;      /* ordinal or index; NOT_THERE for a key that is missing */
} seg;

typedef struct vctx {
    const char *text; /* the document, for line numbers */
    size_t len;
    policy_config *cfg;
    policy_problems *out; /* may be NULL: then only counted */
    size_t found;
    policy_problem first; /* for the error message */
    bool full;
    bool nomem;
    seg path[PATH_DEPTH];
    size_t depth;
} vctx;

typedef bool (*str_check)(vctx *c, const char *s);

/* ---- small helpers ------------------------------------------------------------------- */

/* Copies s into buf for a message: control characters become '?', a long value is cut at
 * a character boundary and marked with "...". */
static const char *show(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    size_t len = strlen(s);
    bool cut = len > size - 1;
    size_t room = cut ? size - 4 : size - 1;

    while (n < room && s[n]) {
        unsigned char ch = (unsigned char)s[n];
        buf[n] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
        n++;
    }
    if (cut) {
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s);
    size_t lx = strlen(suffix);

    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0)
            return true;
    }
    return false;
}

static bool all_chars(const char *s, const char *extra, bool upper, bool lower)
{
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;

        if (isdigit(ch) || (upper && isupper(ch)) || (lower && islower(ch)) ||
            strchr(extra, ch) != NULL)
            continue;
        return false;
    }
    return true;
}

static char *dup(vctx *c, const char *s)
{
    char *d = core_strndup(s, strlen(s));

    if (!d)
        c->nomem = true;
    return d;
}

static void set_str(vctx *c, char **dst, const char *s)
{
    char *d = dup(c, s);

    if (d) {
        free(*dst);
        *dst = d;
    }
}

/* ---- where a problem is in the text --------------------------------------------------- */

typedef struct scan {
    const char *p;
    const char *end;
    int line;
} scan;

static void scan_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        if (*s->p == '\n')
            s->line++;
        s->p++;
    }
}

static bool scan_char(scan *s, char ch)
{
    scan_ws(s);
    if (s->p < s->end && *s->p == ch) {
        s->p++;
        return true;
    }
    return false;
}

static bool scan_string(scan *s)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    s->p++;
    while (s->p < s->end) {
        if (*s->p == '\\') {
            s->p += 2;
            continue;
        }
        if (*s->p++ == '"')
            return true;
    }
    return false;
}

/* Skips one value without recursion: nesting is counted, strings are skipped whole. */
static bool scan_value(scan *s)
{
    size_t depth = 0;

    scan_ws(s);
    if (s->p >= s->end)
        return false;
    if (*s->p == '"')
        return scan_string(s);
    if (*s->p != '{' && *s->p != '[') {
        while (s->p < s->end && *s->p != ',' && *s->p != ']' && *s->p != '}' && *s->p != ' ' &&
               *s->p != '\t' && *s->p != '\n' && *s->p != '\r')
            s->p++;
        return true;
    }
    while (s->p < s->end) {
        char ch = *s->p;

        if (ch == '"') {
            if (!scan_string(s))
                return false;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0) {
                s->p++;
                return true;
            }
        } else if (ch == '\n') {
            s->line++;
        }
        s->p++;
    }
    return false;
}

/* The line of the current path in the text: the key's line for a key, the value's line for
 * an array element, the enclosing value's line for a missing key; 0 when unknown. The text
 * parsed, so this only skips; it still stops safely at the end of anything unexpected. */
static int locate(const vctx *c)
{
    scan s = {c->text, c->text + c->len, 1};

    if (!c->text)
        return 0;
    scan_ws(&s);
    for (size_t i = 0; i < c->depth; i++) {
        const seg *g = &c->path[i];

        if (g->pos == NOT_THERE)
            return i == 0 ? 0 : s.line;
        if (g->key) {
            if (!scan_char(&s, '{'))
                return 0;
            for (size_t k = 0; k < g->pos; k++) {
                scan_ws(&s);
                if (!scan_string(&s) || !scan_char(&s, ':') || !scan_value(&s) ||
                    !scan_char(&s, ','))
                    return 0;
            }
            scan_ws(&s);
            if (i + 1 == c->depth)
                return s.line;
            if (!scan_string(&s) || !scan_char(&s, ':'))
                return 0;
        } else {
            if (!scan_char(&s, '['))
                return 0;
            for (size_t k = 0; k < g->pos; k++) {
                if (!scan_value(&s) || !scan_char(&s, ','))
                    return 0;
            }
        }
        scan_ws(&s);
    }
    return s.line;
}

/* ---- problems and the path ------------------------------------------------------------ */

static void push(vctx *c, const char *key, size_t pos)
{
    CORE_ASSERT(c->depth < PATH_DEPTH);
    c->path[c->depth].key = key;
    c->path[c->depth].pos = pos;
    c->depth++;
}

static void push_index(vctx *c, size_t i)
{
    push(c, NULL, i);
}

static void pop(vctx *c)
{
    CORE_ASSERT(c->depth > 0);
    c->depth--;
}

static size_t key_pos(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    size_t pos = 0;

    json_object_foreach(obj, k, v)
    {
        if (strcmp(k, key) == 0)
            return pos;
        pos++;
    }
    return NOT_THERE;
}

static void path_format(const vctx *c, char *buf, size_t size)
{
    core_buf b = {0};

    buf[0] = '\0';
    for (size_t i = 0; i < c->depth; i++) {
        const seg *g = &c->path[i];
        char shown[80];
        int rc;

        if (g->key)
            rc = core_buf_printf(&b, "%s%s", i ? "." : "", show(shown, sizeof(shown), g->key));
        else
            rc = core_buf_printf(&b, "[%zu]", g->pos);
        if (rc < 0)
            break;
    }
    if (b.data)
        show(buf, size, b.data);
    core_buf_free(&b);
}

static void record(vctx *c, const policy_problem *p)
{
    policy_problem *items;

    c->found++;
    if (c->found == 1)
        c->first = *p;
    if (!c->out)
        return;
    items = realloc(c->out->items, (c->out->count + 1) * sizeof(*items));
    if (!items) {
        c->nomem = true;
        return;
    }
    items[c->out->count++] = *p;
    c->out->items = items;
}

static void problem(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a problem at the current path. */
static void problem(vctx *c, const char *fmt, ...)
{
    policy_problem p;
    va_list ap;

    if (c->full)
        return;
    memset(&p, 0, sizeof(p));
    if (c->found + 1 == PROBLEMS_MAX) {
        /* A file can hold thousands of mistakes; the list stays bounded and says so. */
        snprintf(p.msg, sizeof(p.msg), "too many problems; stopped after %d", PROBLEMS_MAX - 1);
        c->full = true;
        record(c, &p);
        return;
    }
    path_format(c, p.path, sizeof(p.path));
    p.line = locate(c);
    va_start(ap, fmt);
    vsnprintf(p.msg, sizeof(p.msg), fmt, ap);
    va_end(ap);
    record(c, &p);
}

void policy_problems_free(policy_problems *p)
{
    if (!p)
        return;
    free(p->items);
    p->items = NULL;
    p->count = 0;
}

/* ---- typed access --------------------------------------------------------------------- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static bool want(vctx *c, json_t *v, json_type t)
{
    const char *wanted = t == JSON_OBJECT ? "an object" : t == JSON_ARRAY ? "an array" : "a string";

    if (json_typeof(v) == t)
        return true;
    problem(c, "must be %s, not %s", wanted, type_name(v));
    return false;
}

/* A non-empty string without control characters, or NULL after a problem. */
static const char *want_str(vctx *c, json_t *v)
{
    const char *s;

    if (!want(c, v, JSON_STRING))
        return NULL;
    s = json_string_value(v);
    if (!*s) {
        problem(c, "must not be empty");
        return NULL;
    }
    if (strlen(s) > STRING_MAX) {
        problem(c, "longer than %d bytes", STRING_MAX);
        return NULL;
    }
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            problem(c, "must not contain control characters");
            return NULL;
        }
    }
    return s;
}

static bool want_array(vctx *c, json_t *v, bool nonempty, size_t max)
{
    if (!want(c, v, JSON_ARRAY))
        return false;
    if (nonempty && json_array_size(v) == 0) {
        problem(c, "must not be empty");
        return false;
    }
    if (json_array_size(v) > max) {
        problem(c, "more than %zu entries", max);
        return false;
    }
    return true;
}

/* Pushes key onto the path (the caller pops it with leave) and returns its value, or NULL
 * when it is absent, which is a problem only when required. */
static json_t *enter(vctx *c, json_t *obj, const char *key, bool required)
{
    json_t *v = json_object_get(obj, key);

    push(c, key, v ? key_pos(obj, key) : NOT_THERE);
    if (!v && required)
        problem(c, "missing (required)");
    return v;
}

static void leave(vctx *c)
{
    pop(c);
}

/* A string member, checked by check (if any) and copied into *dst, replacing a default.
 * Returns true when it was stored. */
static bool str_field(vctx *c, json_t *obj, const char *key, bool required, str_check check,
                      char **dst)
{
    json_t *v = enter(c, obj, key, required);
    const char *s = v ? want_str(c, v) : NULL;
    bool ok = false;

    if (s && (!check || check(c, s))) {
        set_str(c, dst, s);
        ok = true;
    }
    leave(c);
    return ok;
}

/* An integer member in [min, max]. Returns true when it was present and valid. */
static bool int_field(vctx *c, json_t *obj, const char *key, json_int_t min, json_int_t max,
                      json_int_t *out)
{
    json_t *v = enter(c, obj, key, false);
    bool ok = false;

    if (v && !json_is_integer(v)) {
        problem(c, "must be an integer, not %s", type_name(v));
    } else if (v) {
        json_int_t n = json_integer_value(v);

        if (n < min || n > max)
            problem(c,
                    "must be from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
                    ", not %" JSON_INTEGER_FORMAT,
                    min, max, n);
        else
            ok = true;
        *out = n;
    }
    leave(c);
    return ok;
}

/* An array of strings, each checked; required means present and not empty. Entries that
 * fail stay NULL (the config is discarded anyway when there is a problem). */
static void str_array(vctx *c, json_t *obj, const char *key, bool required, size_t max,
                      str_check check, char ***dst, size_t *n)
{
    json_t *v = enter(c, obj, key, required);

    if (v && want_array(c, v, required, max) && json_array_size(v) > 0) {
        size_t len = json_array_size(v);
        char **items = calloc(len, sizeof(*items));

        if (!items) {
            c->nomem = true;
        } else {
            *dst = items;
            *n = len;
        }
        for (size_t i = 0; items && i < len; i++) {
            const char *s;

            push_index(c, i);
            s = want_str(c, json_array_get(v, i));
            if (s && (!check || check(c, s)))
                items[i] = dup(c, s);
            pop(c);
        }
    }
    leave(c);
}

/* ---- unknown keys --------------------------------------------------------------------- */

/* Up to 64 bytes: the longest rule ids ("ban-concurrent-index-creation-in-transaction")
 * are past 32, and a typo in one deserves a suggestion too. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];

    if (la > 64 || lb > 64)
        return NOT_THERE;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static bool looks_secret(const char *key)
{
    static const char *const words[] = {"secret", "token",   "password",   "passwd", "private_key",
                                        "apikey", "api_key", "credential", NULL};
    char low[64];
    size_t n = 0;

    for (; key[n] && n < sizeof(low) - 1; n++)
        low[n] = (char)tolower((unsigned char)key[n]);
    low[n] = '\0';
    if (ends_with(low, "_env") || ends_with(low, "_file"))
        return false;
    for (size_t i = 0; words[i]; i++) {
        if (strstr(low, words[i]))
            return true;
    }
    return false;
}

/* A secret written into the file: say where it should come from instead, never echo it. */
static void inline_secret(vctx *c, const char *key, const char *const *known)
{
    char base[80], cand[96], shown[64];
    size_t kl = strlen(key);
    core_buf envs = {0};

    if (c->depth == 2 && c->path[0].key && strcmp(c->path[0].key, "redis") == 0) {
        problem(c, "secrets must not be in the config file; a Redis password goes in redis.url "
                   "(redis://:PASSWORD@host:port)");
        return;
    }
    for (int variant = 0; variant < 3 && kl < 64; variant++) {
        snprintf(base, sizeof(base), "%s%s", key, variant == 1 ? "s" : "");
        if (variant == 2 && kl > 1 && key[kl - 1] == 's')
            base[kl - 1] = '\0';
        snprintf(cand, sizeof(cand), "%s_env", base);
        if (in_list(cand, known)) {
            problem(c, "secrets must not be in the config file; use %s_env or %s_file",
                    show(shown, sizeof(shown), base), shown);
            return;
        }
        snprintf(cand, sizeof(cand), "%s_file", base);
        if (in_list(cand, known)) {
            problem(c, "secrets must not be in the config file; use %s", cand);
            return;
        }
    }
    for (size_t i = 0; known[i]; i++) {
        if (ends_with(known[i], "_env"))
            core_buf_printf(&envs, "%s%s", envs.len ? " or " : "", known[i]);
    }
    if (envs.len)
        problem(c, "secrets must not be in the config file; use %s (or its _file form)", envs.data);
    else
        problem(c, "secrets must not be in the config file; name an environment variable "
                   "(*_env) or a file (*_file) that holds it");
    core_buf_free(&envs);
}

/* Reports every key of obj that the schema does not know. */
static void check_keys(vctx *c, json_t *obj, const char *const *known)
{
    const char *key;
    json_t *v;
    size_t pos = 0;

    json_object_foreach(obj, key, v)
    {
        if (!in_list(key, known)) {
            const char *best = NULL;
            size_t best_d = 3;

            push(c, key, pos);
            for (size_t i = 0; known[i]; i++) {
                size_t d = edit_distance(key, known[i]);

                if (d < best_d && d < strlen(key)) {
                    best = known[i];
                    best_d = d;
                }
            }
            if (looks_secret(key))
                inline_secret(c, key, known);
            else if (best)
                problem(c, "unknown key (did you mean \"%s\"?)", best);
            else
                problem(c, "unknown key");
            pop(c);
        }
        pos++;
    }
}

/* ---- value checks (each reports at the current path) ---------------------------------- */

static bool valid_port(const char *s, int *port)
{
    long v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 5 || !all_chars(s, "", false, false))
        return false;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

static bool valid_hostname(const char *h)
{
    size_t label = 0;
    size_t n = strlen(h);

    if (n == 0 || n > 253)
        return false;
    if (all_chars(h, ".", false, false)) {
        struct in_addr a4;

        return inet_pton(AF_INET, h, &a4) == 1;
    }
    for (size_t i = 0; i <= n; i++) {
        char ch = h[i];

        if (ch == '.' || ch == '\0') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)ch) && ch != '-')
            return false;
        if (label == 0 && ch == '-')
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

/* Splits "host:port", "[v6]:port" (or, when port is optional, the same without ":port").
 * host receives the address without brackets. Returns NULL or what is wrong. */
static const char *hostport_parse(const char *s, size_t len, bool port_required, char *host,
                                  size_t host_size, int *port)
{
    char buf[300];
    const char *colon;
    size_t hl;

    if (len >= sizeof(buf))
        return "host name too long";
    memcpy(buf, s, len);
    buf[len] = '\0';
    *port = 0;
    if (buf[0] == '[') {
        struct in6_addr a6;
        char *close = strchr(buf, ']');

        if (!close)
            return "missing ']' after the IPv6 address";
        hl = (size_t)(close - buf - 1);
        if (hl == 0 || hl >= host_size)
            return "bad IPv6 address";
        memcpy(host, buf + 1, hl);
        host[hl] = '\0';
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return "bad IPv6 address";
        if (close[1] == '\0')
            colon = NULL;
        else if (close[1] == ':')
            colon = close + 1;
        else
            return "expected ':' and a port after ']'";
    } else {
        colon = strrchr(buf, ':');
        hl = colon ? (size_t)(colon - buf) : len;
        if (memchr(buf, ':', hl))
            return "an IPv6 address goes in brackets, like [::1]:8080";
        if (hl == 0)
            return "missing host before the port (0.0.0.0 means every interface)";
        if (hl >= host_size)
            return "host name too long";
        memcpy(host, buf, hl);
        host[hl] = '\0';
        if (!valid_hostname(host))
            return "host is not an IPv4 address, [IPv6] address or host name";
    }
    if (!colon)
        return port_required ? "missing :port" : NULL;
    if (!valid_port(colon + 1, port))
        return "port must be a number from 1 to 65535";
    return NULL;
}

static bool check_listen(vctx *c, const char *s)
{
    char host[256];
    int port;
    const char *why = hostport_parse(s, strlen(s), true, host, sizeof(host), &port);

    if (why) {
        problem(c, "%s (expected host:port, like 127.0.0.1:8080 or [::1]:8080)", why);
        return false;
    }
    set_str(c, &c->cfg->server.host, host);
    c->cfg->server.port = port;
    return true;
}

static bool check_health_listen(vctx *c, const char *s)
{
    char host[256];
    int port;
    const char *why = hostport_parse(s, strlen(s), true, host, sizeof(host), &port);

    if (why) {
        problem(c, "%s (expected host:port, like 127.0.0.1:8081 or [::1]:8081)", why);
        return false;
    }
    set_str(c, &c->cfg->server.health_host, host);
    c->cfg->server.health_port = port;
    return true;
}

static bool check_http_url(vctx *c, const char *u)
{
    const char *p;
    size_t alen;
    char host[256];
    int port;
    const char *why;

    if (starts_with(u, "https://")) {
        p = u + 8;
    } else if (starts_with(u, "http://")) {
        p = u + 7;
    } else {
        problem(c, "must be an http:// or https:// URL");
        return false;
    }
    if (strchr(u, ' ')) {
        problem(c, "must not contain spaces");
        return false;
    }
    alen = strcspn(p, "/?#");
    if (memchr(p, '@', alen)) {
        problem(c, "must not hold credentials; secrets come from *_env or *_file keys");
        return false;
    }
    why = alen ? hostport_parse(p, alen, false, host, sizeof(host), &port) : "missing host";
    if (why) {
        problem(c, "%s", why);
        return false;
    }
    return true;
}

/* The store reads the URL with the same parser (core_redis_url_parse): what passes here
 * connects there. Its messages never repeat the URL, which may hold a password. */
static bool check_redis_url(vctx *c, const char *u)
{
    core_redis_url parsed;
    core_error err = {0};

    if (core_redis_url_parse(u, &parsed, &err) < 0) {
        problem(c, "%s", err.msg);
        return false;
    }
    core_redis_url_free(&parsed);
    return true;
}

static bool check_prefix(vctx *c, const char *s)
{
    if (strlen(s) > 64 || !all_chars(s, "_.-", true, true)) {
        problem(c, "must be 1-64 characters of A-Z a-z 0-9 _ . - (braces would break the "
                   "hash tags)");
        return false;
    }
    return true;
}

/* The value may be a secret pasted into the wrong key: never repeat it. */
static bool check_env_name(vctx *c, const char *s)
{
    if (strlen(s) > 128 || isdigit((unsigned char)s[0]) || !all_chars(s, "_", true, false)) {
        problem(c, "must name an environment variable ([A-Z_][A-Z0-9_]*), not hold the "
                   "secret itself");
        return false;
    }
    return true;
}

static bool check_region_name(vctx *c, const char *s)
{
    char shown[64];

    if (strlen(s) > 63 || !all_chars(s, "-", false, true)) {
        problem(c, "\"%s\" must be 1-63 characters of a-z 0-9 - (like apac-tokyo)",
                show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

static bool check_timezone(vctx *c, const char *s)
{
    char shown[64];

    if (!core_tz_exists(s)) {
        problem(c, "unknown time zone \"%s\"", show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

static bool check_date(vctx *c, const char *s)
{
    core_error e;
    int y, m, d;

    if (core_date_parse(s, &y, &m, &d, &e) < 0) {
        problem(c, "%s", e.msg);
        return false;
    }
    return true;
}

/* A local wall-clock time "YYYY-MM-DDTHH:MM". */
static bool check_local_time(vctx *c, const char *s)
{
    char date[11], shown[64];
    int y, m, d;
    const char *t;

    if (strlen(s) != 16 || s[10] != 'T')
        goto bad;
    t = s + 11;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (core_date_parse(date, &y, &m, &d, NULL) < 0)
        goto bad;
    if (!isdigit((unsigned char)t[0]) || !isdigit((unsigned char)t[1]) || t[2] != ':' ||
        !isdigit((unsigned char)t[3]) || !isdigit((unsigned char)t[4]))
        goto bad;
    if ((t[0] - '0') * 10 + (t[1] - '0') > 23 || t[3] > '5')
        goto bad;
    return true;
bad:
    problem(c, "\"%s\" is not a local time (YYYY-MM-DDTHH:MM)", show(shown, sizeof(shown), s));
    return false;
}

static bool check_slack_user(vctx *c, const char *s)
{
    char shown[64];
    size_t n = strlen(s);

    if (n < 3 || n > 32 || (s[0] != 'U' && s[0] != 'W') || !all_chars(s, "", true, false)) {
        problem(c, "\"%s\" is not a Slack user id (like U0DBA1)", show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

/* github.web_url: where GitHub (or a GitHub Enterprise Server) serves repositories, so
 * https and a bare host: clone URLs are compared with its host and port. */
static bool check_web_url(vctx *c, const char *s)
{
    const char *p;

    if (!starts_with(s, "https://")) {
        problem(c, "must be an https:// URL (GitHub's web address, like https://github.com)");
        return false;
    }
    if (!check_http_url(c, s))
        return false;
    p = s + 8 + strcspn(s + 8, "/?#");
    if (*p && strcmp(p, "/") != 0) {
        problem(c, "must be a host only, like https://ghe.example.com, without a path");
        return false;
    }
    return true;
}

static bool check_operator_name(vctx *c, const char *s)
{
    char shown[64];

    if (!policy_operator_name_valid(s, strlen(s))) {
        problem(c, "\"%s\" is not an operator name (1 to %d of A-Z a-z 0-9 . _ -)",
                show(shown, sizeof(shown), s), POLICY_OPERATOR_NAME_MAX);
        return false;
    }
    return true;
}

/* An optional boolean member. Returns true when it was present and valid. */
static bool bool_field(vctx *c, json_t *obj, const char *key, bool *dst)
{
    json_t *v = enter(c, obj, key, false);
    bool ok = false;

    if (v && !json_is_boolean(v)) {
        problem(c, "must be true or false, not %s", type_name(v));
    } else if (v) {
        *dst = json_is_true(v);
        ok = true;
    }
    leave(c);
    return ok;
}

static bool check_github_login(vctx *c, const char *s)
{
    char login[40], shown[64];
    size_t n = strlen(s);

    if (ends_with(s, "[bot]"))
        n -= 5;
    if (n == 0 || n > 39)
        goto bad;
    memcpy(login, s, n);
    login[n] = '\0';
    if (login[0] == '-' || !all_chars(login, "-", true, true))
        goto bad;
    return true;
bad:
    problem(c, "\"%s\" is not a GitHub login", show(shown, sizeof(shown), s));
    return false;
}

/* "owner/name" with fnmatch(3) wildcards; exactly one '/', since it must match a repo. */
static bool check_repo_pattern(vctx *c, const char *s)
{
    const char *slash = strchr(s, '/');
    char shown[64];

    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || strchr(s, ' ') ||
        strlen(s) > 200) {
        problem(c, "\"%s\" is not an owner/name pattern (like acme/* or */*)",
                show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

static bool check_log_level(vctx *c, const char *s)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    char shown[64];

    if (!in_list(s, levels)) {
        problem(c, "must be debug, info, warn or error, not \"%s\"", show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

static bool check_log_format(vctx *c, const char *s)
{
    static const char *const formats[] = {"logfmt", "json", NULL};
    char shown[64];

    if (!in_list(s, formats)) {
        problem(c, "must be logfmt (key=value, the default) or json, not \"%s\"",
                show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

static bool region_named(const policy_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_regions; i++) {
        if (cfg->regions[i].name && strcmp(cfg->regions[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Without any region loaded (the section is missing or broken) a reference cannot be
 * checked, and saying "no region named" for each would only bury the real problem. */
static bool check_region_ref(vctx *c, const char *s)
{
    char shown[64];

    if (c->cfg->n_regions > 0 && !region_named(c->cfg, s)) {
        problem(c, "no region named \"%s\"", show(shown, sizeof(shown), s));
        return false;
    }
    return true;
}

/* ---- sections ------------------------------------------------------------------------- */

/* A section that names its own secret replaces the default reference entirely. */
static void clear_ref(policy_secret_ref *ref)
{
    free(ref->env);
    free(ref->file);
    ref->env = ref->file = NULL;
}

/* Reads NAME_env and NAME_file of obj into ref. With neither, ref keeps the default that
 * set_defaults gave it, or gets default_env. */
static void secret_ref(vctx *c, json_t *obj, const char *name, policy_secret_ref *ref,
                       const char *default_env)
{
    char env_key[64], file_key[64];

    snprintf(env_key, sizeof(env_key), "%s_env", name);
    snprintf(file_key, sizeof(file_key), "%s_file", name);
    if (json_object_get(obj, env_key) || json_object_get(obj, file_key)) {
        clear_ref(ref);
        str_field(c, obj, env_key, false, check_env_name, &ref->env);
        str_field(c, obj, file_key, false, NULL, &ref->file);
    } else if (!ref->env && !ref->file && default_env) {
        set_str(c, &ref->env, default_env);
    }
}

static void load_server(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"listen",
                                        "threads",
                                        "max_body_bytes",
                                        "public_url",
                                        "max_connections",
                                        "max_connections_per_ip",
                                        "request_timeout_seconds",
                                        "health_listen",
                                        NULL};
    json_int_t n;

    check_keys(c, o, known);
    str_field(c, o, "listen", true, check_listen, &cfg->server.listen);
    if (int_field(c, o, "threads", 1, 256, &n))
        cfg->server.threads = (int)n;
    if (int_field(c, o, "max_body_bytes", 1024, 1024LL * 1024 * 1024, &n))
        cfg->server.max_body_bytes = (size_t)n;
    str_field(c, o, "public_url", false, check_http_url, &cfg->server.public_url);
    if (int_field(c, o, "max_connections", 16, 1000000, &n))
        cfg->server.max_connections = (int)n;
    /* 0 turns the per-address limit off: behind a proxy every client has its address. */
    if (int_field(c, o, "max_connections_per_ip", 0, 1000000, &n))
        cfg->server.max_connections_per_ip = (int)n;
    if (int_field(c, o, "request_timeout_seconds", 1, 3600, &n))
        cfg->server.request_timeout_seconds = (int)n;
    str_field(c, o, "health_listen", false, check_health_listen, &cfg->server.health_listen);
}

static bool check_sentinel_node(vctx *c, const char *s)
{
    char host[256];
    int port;
    const char *why = hostport_parse(s, strlen(s), true, host, sizeof(host), &port);

    if (why)
        problem(c, "%s (expected host:port of a sentinel, like 127.0.0.1:26379)", why);
    return !why;
}

static bool check_master_name(vctx *c, const char *s)
{
    if (strlen(s) > 255 || !all_chars(s, "._-", true, true)) {
        problem(c, "must be the master's name as the sentinels know it: letters, digits, "
                   "'.', '_' and '-', at most 255");
        return false;
    }
    return true;
}

static void load_sentinel(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"master",
                                        "nodes",
                                        "username",
                                        "password_env",
                                        "password_file",
                                        "sentinel_password_env",
                                        "sentinel_password_file",
                                        "db",
                                        NULL};
    json_int_t n;

    cfg->redis.sentinel.present = true;
    check_keys(c, o, known);
    str_field(c, o, "master", true, check_master_name, &cfg->redis.sentinel.master);
    str_array(c, o, "nodes", true, 16, check_sentinel_node, &cfg->redis.sentinel.nodes,
              &cfg->redis.sentinel.n_nodes);
    str_field(c, o, "username", false, NULL, &cfg->redis.sentinel.username);
    secret_ref(c, o, "password", &cfg->redis.sentinel.password, NULL);
    secret_ref(c, o, "sentinel_password", &cfg->redis.sentinel.sentinel_password, NULL);
    if (int_field(c, o, "db", 0, 1000000, &n))
        cfg->redis.sentinel.db = (int)n;
}

static void load_redis(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"url", "sentinel", "prefix", "wait_replica_ms", NULL};
    bool has_url = json_object_get(o, "url") != NULL;
    bool has_sentinel = json_object_get(o, "sentinel") != NULL;
    json_int_t n;

    check_keys(c, o, known);
    if (has_url && has_sentinel) {
        json_t *v = enter(c, o, "sentinel", false);

        (void)v;
        problem(c, "give redis.url or redis.sentinel, not both");
        leave(c);
    } else if (!has_url && !has_sentinel) {
        json_t *v = enter(c, o, "url", false);

        (void)v;
        problem(c, "missing (required unless redis.sentinel is given)");
        leave(c);
    }
    str_field(c, o, "url", false, check_redis_url, &cfg->redis.url);
    {
        json_t *v = enter(c, o, "sentinel", false);

        if (v && want(c, v, JSON_OBJECT))
            load_sentinel(c, v, cfg);
        leave(c);
    }
    str_field(c, o, "prefix", false, check_prefix, &cfg->redis.prefix);
    if (int_field(c, o, "wait_replica_ms", 0, 60000, &n))
        cfg->redis.wait_replica_ms = (int)n;
}

static void load_github(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"webhook_secret_env",
                                        "webhook_secret_file",
                                        "app_id",
                                        "private_key_file",
                                        "api_url",
                                        "redelivery_check_seconds",
                                        "web_url",
                                        "allow_local_repos",
                                        NULL};
    json_int_t n;
    bool has_id = json_object_get(o, "app_id") != NULL;
    bool has_key = json_object_get(o, "private_key_file") != NULL;

    cfg->github.present = true;
    check_keys(c, o, known);
    secret_ref(c, o, "webhook_secret", &cfg->github.webhook_secret, "ZONECI_GITHUB_SECRET");
    if (int_field(c, o, "app_id", 1, INT64_MAX, &n))
        cfg->github.app_id = n;
    str_field(c, o, "private_key_file", false, NULL, &cfg->github.private_key_file);
    str_field(c, o, "api_url", false, check_http_url, &cfg->github.api_url);
    str_field(c, o, "web_url", false, check_web_url, &cfg->github.web_url);
    bool_field(c, o, "allow_local_repos", &cfg->github.allow_local_repos);
    /* 0 turns delivery recovery off; a day at most, or a missed delivery could wait
     * longer than GitHub keeps it (3 days) before anyone looks. */
    if (int_field(c, o, "redelivery_check_seconds", 0, 86400, &n))
        cfg->github.redelivery_check_seconds = (int)n;
    /* One without the other cannot sign a JWT; better said now than at the first status. */
    if (has_id != has_key) {
        enter(c, o, has_id ? "app_id" : "private_key_file", false);
        problem(c, has_id ? "needs private_key_file too (the GitHub App's key)"
                          : "needs app_id too (the GitHub App's id)");
        leave(c);
    }
}

static void load_slack(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"signing_secret_env",
                                        "signing_secret_file",
                                        "bot_token_env",
                                        "bot_token_file",
                                        "api_url",
                                        NULL};

    cfg->slack.present = true;
    check_keys(c, o, known);
    secret_ref(c, o, "signing_secret", &cfg->slack.signing_secret, "ZONECI_SLACK_SIGNING_SECRET");
    secret_ref(c, o, "bot_token", &cfg->slack.bot_token, "ZONECI_SLACK_TOKEN");
    str_field(c, o, "api_url", false, check_http_url, &cfg->slack.api_url);
}

static void load_runners(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"tokens_env", "tokens_file", "lease_seconds",
                                        "max_attempts", NULL};
    json_int_t n;

    check_keys(c, o, known);
    secret_ref(c, o, "tokens", &cfg->runners.tokens, "ZONECI_RUNNER_TOKENS");
    if (int_field(c, o, "lease_seconds", 5, 86400, &n))
        cfg->runners.lease_seconds = (int)n;
    if (int_field(c, o, "max_attempts", 1, 100, &n))
        cfg->runners.max_attempts = (int)n;
}

static void load_api(vctx *c, json_t *o, policy_config *cfg)
{
    static const char *const known[] = {"tokens_env", "tokens_file", NULL};

    cfg->api.present = true;
    check_keys(c, o, known);
    secret_ref(c, o, "tokens", &cfg->api.tokens, "ZONECI_API_TOKENS");
}

static void load_hours(vctx *c, json_t *o, policy_region *r)
{
    json_t *v = enter(c, o, "hours", true);

    if (v && want_array(c, v, true, MAX_HOURS)) {
        size_t n = json_array_size(v);
        char **text = calloc(n, sizeof(*text));
        core_hours *hours = calloc(n, sizeof(*hours));

        if (!text || !hours) {
            free(text);
            free(hours);
            c->nomem = true;
            leave(c);
            return;
        }
        r->hours_text = text;
        r->hours = hours;
        r->n_hours = n;
        for (size_t i = 0; i < n; i++) {
            const char *s;
            core_error e;

            push_index(c, i);
            s = want_str(c, json_array_get(v, i));
            if (s && core_hours_parse(s, &hours[i], &e) < 0)
                problem(c, "%s", e.msg);
            else if (s)
                text[i] = dup(c, s);
            pop(c);
        }
    }
    leave(c);
}

static void load_region(vctx *c, json_t *o, policy_region *r)
{
    static const char *const known[] = {"name",          "timezone", "hours", "holidays",
                                        "slack_channel", "oncall",   NULL};
    json_t *v;
    const char *s;

    check_keys(c, o, known);
    /* The name is kept even when malformed, so that policies naming it report nothing more. */
    v = enter(c, o, "name", true);
    s = v ? want_str(c, v) : NULL;
    if (s) {
        r->name = dup(c, s);
        check_region_name(c, s);
    }
    leave(c);
    str_field(c, o, "timezone", true, check_timezone, &r->timezone);
    load_hours(c, o, r);
    str_array(c, o, "holidays", false, MAX_LIST, check_date, &r->holidays, &r->n_holidays);
    str_field(c, o, "slack_channel", false, NULL, &r->slack_channel);
    str_array(c, o, "oncall", false, MAX_LIST, check_slack_user, &r->oncall, &r->n_oncall);
}

static void load_regions(vctx *c, json_t *root, policy_config *cfg)
{
    json_t *list = enter(c, root, "regions", true);

    if (list && want_array(c, list, true, MAX_REGIONS)) {
        size_t n = json_array_size(list);

        cfg->regions = calloc(n, sizeof(*cfg->regions));
        if (!cfg->regions) {
            c->nomem = true;
            n = 0;
        }
        cfg->n_regions = n;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(list, i);

            push_index(c, i);
            if (want(c, o, JSON_OBJECT))
                load_region(c, o, &cfg->regions[i]);
            pop(c);
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < i && cfg->regions[i].name; j++) {
                char shown[64];

                if (!cfg->regions[j].name || strcmp(cfg->regions[i].name, cfg->regions[j].name))
                    continue;
                push_index(c, i);
                enter(c, json_array_get(list, i), "name", false);
                problem(c, "duplicate region name \"%s\" (also regions[%zu])",
                        show(shown, sizeof(shown), cfg->regions[i].name), j);
                leave(c);
                pop(c);
                break;
            }
        }
    }
    leave(c);
}

/* migrations.postgres_version: a bare integer only. A string like "16" is refused rather
 * than converted, so that every number in the file is written one way; the message says
 * how to write it. */
static void load_pg_version(vctx *c, json_t *o, policy_policy *p)
{
    json_t *v = enter(c, o, "postgres_version", false);

    if (v && json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        if (n < POLICY_PG_MIN || n > POLICY_PG_MAX)
            problem(c, "must be a Postgres major version from %d to %d, not %" JSON_INTEGER_FORMAT,
                    POLICY_PG_MIN, POLICY_PG_MAX, n);
        else
            p->pg_version = (int)n;
    } else if (v && json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 2 &&
               all_chars(json_string_value(v), "", false, false) &&
               atoi(json_string_value(v)) >= POLICY_PG_MIN &&
               atoi(json_string_value(v)) <= POLICY_PG_MAX) {
        /* The likeliest slip: the version quoted. Say exactly what to write. */
        problem(c, "must be an integer from %d to %d, not a string: write %s, not \"%s\"",
                POLICY_PG_MIN, POLICY_PG_MAX, json_string_value(v), json_string_value(v));
    } else if (v) {
        problem(c, "must be an integer from %d to %d (a Postgres major version), not %s",
                POLICY_PG_MIN, POLICY_PG_MAX, type_name(v));
    }
    leave(c);
}

/* The known rule id closest to rule, or NULL when none is close enough to be the one
 * meant. The candidates are the SQL rule table and the file-level rules, each confirmed by
 * policy_rule_known so that only ids it accepts are ever suggested. Comparing in lower
 * case catches "Ban-Drop-Table"; longer ids allow a little more distance. */
static const char *closest_rule(const char *rule)
{
    static const char *const file_rules[] = {"changed-migration", "unchecked-migration",
                                             "suppression-without-reason",
                                             "unknown-rule-in-suppression"};
    const policy_sql_rule *rules;
    size_t n = 0, len = strlen(rule);
    size_t best_d = len >= 12 ? 5 : 3;
    const char *best = NULL;
    char low[65];

    if (len >= sizeof(low))
        return NULL;
    for (size_t i = 0; i <= len; i++)
        low[i] = (char)tolower((unsigned char)rule[i]);
    rules = policy_sql_rules(&n);
    for (size_t i = 0; i < n + sizeof(file_rules) / sizeof(file_rules[0]); i++) {
        const char *cand = i < n ? rules[i].id : file_rules[i - n];
        size_t d = edit_distance(low, cand);

        if (d < best_d && d < len && policy_rule_known(cand)) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}

/* migrations.rules: {"rule-id": "off" | "info" | "warning" | "danger", ...}, kept in file
 * order, as written (JSON_REJECT_DUPLICATES has already refused a rule named twice, so the
 * "last setting wins" of policy_rule_level_of never has to choose here). Each key and each
 * value is checked on its own, so one run reports every misspelt rule and every bad level. */
static void load_rules(vctx *c, json_t *o, policy_policy *p)
{
    json_t *v = enter(c, o, "rules", false);
    const char *key;
    json_t *level_v;
    size_t pos = 0;

    if (!v || !want(c, v, JSON_OBJECT)) {
        leave(c);
        return;
    }
    if (json_object_size(v) > MAX_LIST) {
        problem(c, "more than %d entries", MAX_LIST);
        leave(c);
        return;
    }
    if (json_object_size(v) > 0) {
        p->rule_settings = calloc(json_object_size(v), sizeof(*p->rule_settings));
        if (!p->rule_settings) {
            c->nomem = true;
            leave(c);
            return;
        }
    }
    json_object_foreach(v, key, level_v)
    {
        char shown[80], shown_level[64];
        bool known = policy_rule_known(key);
        const char *s;
        policy_rule_level level;

        push(c, key, pos++);
        if (!known) {
            const char *best = closest_rule(key);

            if (best)
                problem(c, "unknown rule \"%s\" (did you mean \"%s\"?)",
                        show(shown, sizeof(shown), key), best);
            else
                problem(c, "unknown rule \"%s\" (docs/migrations.md lists the rule ids)",
                        show(shown, sizeof(shown), key));
        }
        s = json_string_value(level_v);
        if (!s) {
            problem(c, "must be off, info, warning or danger (a string), not %s",
                    type_name(level_v));
        } else if (!policy_rule_level_parse(s, &level)) {
            problem(c, "must be off, info, warning or danger, not \"%s\"",
                    show(shown_level, sizeof(shown_level), s));
        } else if (known) {
            policy_rule_setting *rs = &p->rule_settings[p->n_rule_settings];

            rs->rule = dup(c, key);
            rs->level = level;
            if (rs->rule)
                p->n_rule_settings++;
        }
        pop(c);
    }
    leave(c);
}

static void load_migrations(vctx *c, json_t *o, policy_policy *p)
{
    static const char *const known[] = {
        "paths", "approval", "approvers", "escalate_after_minutes", "postgres_version",
        "rules", NULL};
    json_t *v;
    const char *s;
    json_int_t n;

    p->has_migrations = true;
    check_keys(c, o, known);
    str_array(c, o, "paths", false, MAX_LIST, NULL, &p->migration_paths, &p->n_migration_paths);
    v = enter(c, o, "approval", false);
    s = v ? want_str(c, v) : NULL;
    if (s) {
        char shown[64];

        if (strcmp(s, "never") == 0)
            p->approval = POLICY_APPROVAL_NEVER;
        else if (strcmp(s, "risky") == 0)
            p->approval = POLICY_APPROVAL_RISKY;
        else if (strcmp(s, "always") == 0)
            p->approval = POLICY_APPROVAL_ALWAYS;
        else
            problem(c, "must be never, risky or always, not \"%s\"", show(shown, sizeof(shown), s));
    }
    leave(c);
    str_array(c, o, "approvers", false, MAX_LIST, check_slack_user, &p->approvers, &p->n_approvers);
    if (int_field(c, o, "escalate_after_minutes", 1, 10080, &n))
        p->escalate_after_minutes = (int)n;
    load_pg_version(c, o, p);
    load_rules(c, o, p);
}

static void load_when_closed(vctx *c, json_t *o, policy_policy *p)
{
    json_t *v = enter(c, o, "when_closed", false);
    const char *s = v ? want_str(c, v) : NULL;
    char shown[64];

    if (!s) {
        leave(c);
        return;
    }
    if (strcmp(s, "defer") == 0) {
        p->when_closed = POLICY_WHEN_CLOSED_DEFER;
    } else if (strcmp(s, "queue") == 0) {
        p->when_closed = POLICY_WHEN_CLOSED_QUEUE;
    } else if (starts_with(s, "fallback:")) {
        p->when_closed = POLICY_WHEN_CLOSED_FALLBACK;
        if (!s[9])
            problem(c, "fallback needs a region: \"fallback:NAME\"");
        else if (check_region_ref(c, s + 9))
            p->fallback_region = dup(c, s + 9);
    } else {
        problem(c, "must be \"defer\", \"queue\" or \"fallback:REGION\", not \"%s\"",
                show(shown, sizeof(shown), s));
    }
    leave(c);
}

static void load_policy(vctx *c, json_t *o, policy_policy *p)
{
    static const char *const known[] = {"repos",  "regions",    "when_closed",
                                        "labels", "migrations", NULL};
    json_t *v;

    check_keys(c, o, known);
    str_array(c, o, "repos", true, MAX_LIST, check_repo_pattern, &p->repos, &p->n_repos);
    str_array(c, o, "regions", true, MAX_REGIONS, check_region_ref, &p->regions, &p->n_regions);
    for (size_t i = 0; i < p->n_regions; i++) {
        for (size_t j = 0; j < i && p->regions[i]; j++) {
            char shown[64];

            if (!p->regions[j] || strcmp(p->regions[i], p->regions[j]) != 0)
                continue;
            enter(c, o, "regions", false);
            push_index(c, i);
            problem(c, "region \"%s\" is listed twice", show(shown, sizeof(shown), p->regions[i]));
            pop(c);
            leave(c);
            break;
        }
    }
    load_when_closed(c, o, p);
    str_array(c, o, "labels", false, MAX_LIST, NULL, &p->labels, &p->n_labels);
    v = enter(c, o, "migrations", false);
    if (v && want(c, v, JSON_OBJECT))
        load_migrations(c, v, p);
    leave(c);
}

static void load_policies(vctx *c, json_t *root, policy_config *cfg)
{
    json_t *list = enter(c, root, "policies", true);

    if (list && want_array(c, list, true, MAX_LIST)) {
        size_t n = json_array_size(list);

        cfg->policies = calloc(n, sizeof(*cfg->policies));
        if (!cfg->policies) {
            c->nomem = true;
            n = 0;
        }
        cfg->n_policies = n;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(list, i);
            policy_policy *p = &cfg->policies[i];

            p->when_closed = POLICY_WHEN_CLOSED_DEFER;
            p->approval = POLICY_APPROVAL_RISKY;
            p->escalate_after_minutes = 30;
            /* Also without a migrations section: whoever grades a diff for this policy
             * reads the version from here. */
            p->pg_version = POLICY_PG_DEFAULT;
            push_index(c, i);
            if (want(c, o, JSON_OBJECT))
                load_policy(c, o, p);
            pop(c);
        }
    }
    leave(c);
}

static void load_people(vctx *c, json_t *root, policy_config *cfg)
{
    static const char *const known[] = {"github", "slack", "operator", NULL};
    json_t *list = enter(c, root, "people", false);

    if (list && want_array(c, list, false, MAX_PEOPLE) && json_array_size(list) > 0) {
        size_t n = json_array_size(list);

        cfg->people = calloc(n, sizeof(*cfg->people));
        if (!cfg->people) {
            c->nomem = true;
            n = 0;
        }
        cfg->n_people = n;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(list, i);
            policy_person *p = &cfg->people[i];
            char shown[64];

            push_index(c, i);
            if (want(c, o, JSON_OBJECT)) {
                bool has_operator = json_object_get(o, "operator") != NULL;

                check_keys(c, o, known);
                str_field(c, o, "github", true, check_github_login, &p->github);
                /* Someone who decides only through the API needs no Slack user. */
                str_field(c, o, "slack", !has_operator, check_slack_user, &p->slack);
                str_field(c, o, "operator", false, check_operator_name, &p->operator_name);
            }
            for (size_t j = 0; j < i && p->operator_name; j++) {
                if (!cfg->people[j].operator_name ||
                    strcasecmp(p->operator_name, cfg->people[j].operator_name) != 0)
                    continue;
                enter(c, o, "operator", false);
                problem(c, "duplicate operator name \"%s\" (also people[%zu])",
                        show(shown, sizeof(shown), p->operator_name), j);
                leave(c);
                break;
            }
            for (size_t j = 0; j < i && p->github; j++) {
                if (!cfg->people[j].github || strcasecmp(p->github, cfg->people[j].github))
                    continue;
                enter(c, o, "github", false);
                problem(c, "duplicate GitHub login \"%s\" (also people[%zu])",
                        show(shown, sizeof(shown), p->github), j);
                leave(c);
                break;
            }
            pop(c);
        }
    }
    leave(c);
}

static void load_freeze(vctx *c, json_t *o, policy_freeze *f)
{
    static const char *const known[] = {"name", "repos", "from", "to", "timezone", NULL};
    bool from_ok, to_ok;

    check_keys(c, o, known);
    str_field(c, o, "name", true, NULL, &f->name);
    str_array(c, o, "repos", true, MAX_LIST, check_repo_pattern, &f->repos, &f->n_repos);
    from_ok = str_field(c, o, "from", true, check_local_time, &f->from);
    to_ok = str_field(c, o, "to", true, check_local_time, &f->to);
    str_field(c, o, "timezone", true, check_timezone, &f->timezone);
    /* Both have the same fixed-width form, so text order is time order. */
    if (from_ok && to_ok && strcmp(f->to, f->from) <= 0) {
        enter(c, o, "to", false);
        problem(c, "must be after from (%s)", f->from);
        leave(c);
    }
}

static void load_freezes(vctx *c, json_t *root, policy_config *cfg)
{
    json_t *list = enter(c, root, "freezes", false);

    if (list && want_array(c, list, false, MAX_LIST) && json_array_size(list) > 0) {
        size_t n = json_array_size(list);

        cfg->freezes = calloc(n, sizeof(*cfg->freezes));
        if (!cfg->freezes) {
            c->nomem = true;
            n = 0;
        }
        cfg->n_freezes = n;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(list, i);

            push_index(c, i);
            if (want(c, o, JSON_OBJECT))
                load_freeze(c, o, &cfg->freezes[i]);
            pop(c);
        }
    }
    leave(c);
}

typedef void (*section_fn)(vctx *c, json_t *o, policy_config *cfg);

static void section(vctx *c, json_t *root, const char *key, bool required, section_fn fn)
{
    json_t *v = enter(c, root, key, required);

    if (v && want(c, v, JSON_OBJECT))
        fn(c, v, c->cfg);
    leave(c);
}

static void load_root(vctx *c, json_t *root, policy_config *cfg)
{
    static const char *const known[] = {"server",     "redis",          "cache_dir", "github",
                                        "slack",      "runners",        "api",       "regions",
                                        "policies",   "people",         "freezes",   "log_level",
                                        "log_format", "retention_days", NULL};
    json_int_t n;

    check_keys(c, root, known);
    section(c, root, "server", true, load_server);
    section(c, root, "redis", true, load_redis);
    str_field(c, root, "cache_dir", false, NULL, &cfg->cache_dir);
    str_field(c, root, "log_level", false, check_log_level, &cfg->log_level);
    str_field(c, root, "log_format", false, check_log_format, &cfg->log_format);
    if (int_field(c, root, "retention_days", 1, 3650, &n))
        cfg->retention_days = (int)n;
    section(c, root, "github", false, load_github);
    section(c, root, "slack", false, load_slack);
    section(c, root, "runners", false, load_runners);
    section(c, root, "api", false, load_api);
    /* Regions first: policies refer to them. */
    load_regions(c, root, cfg);
    load_policies(c, root, cfg);
    load_people(c, root, cfg);
    load_freezes(c, root, cfg);
    CORE_ASSERT(c->depth == 0);
}

/* The defaults that hold whether or not their section is present. */
static void set_defaults(vctx *c, policy_config *cfg)
{
    cfg->server.threads = 4;
    cfg->server.max_body_bytes = 26214400;
    cfg->server.max_connections = 10000;
    cfg->server.max_connections_per_ip = 64;
    cfg->server.request_timeout_seconds = 10;
    set_str(c, &cfg->redis.prefix, "zoneci");
    cfg->redis.wait_replica_ms = 500;
    set_str(c, &cfg->cache_dir, "/var/cache/zoneci");
    set_str(c, &cfg->github.webhook_secret.env, "ZONECI_GITHUB_SECRET");
    set_str(c, &cfg->github.api_url, "https://api.github.com");
    set_str(c, &cfg->github.web_url, "https://github.com");
    cfg->github.redelivery_check_seconds = 300;
    set_str(c, &cfg->slack.api_url, "https://slack.com/api");
    set_str(c, &cfg->runners.tokens.env, "ZONECI_RUNNER_TOKENS");
    cfg->runners.lease_seconds = 120;
    cfg->runners.max_attempts = 3;
    cfg->retention_days = 30;
}

int policy_config_parse(const char *text, size_t len, const char *source, policy_config **out,
                        policy_problems *problems, core_error *err)
{
    vctx c;
    json_error_t jerr;
    json_t *root = NULL;
    policy_config *cfg = NULL;
    int rc = 0;

    CORE_ASSERT(out != NULL);
    CORE_ASSERT(text != NULL || len == 0);
    *out = NULL;
    if (!source)
        source = "<config>";
    if (len > CONFIG_MAX_BYTES)
        return core_error_set(err, CORE_ETOOBIG, "%s: larger than %d bytes", source,
                              CONFIG_MAX_BYTES);
    memset(&c, 0, sizeof(c));
    c.text = text ? text : "";
    c.len = len;
    c.out = problems;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return core_error_set(err, CORE_ENOMEM, "%s: out of memory", source);
    c.cfg = cfg;
    cfg->source = dup(&c, source);
    set_defaults(&c, cfg);

    root = json_loadb(c.text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        policy_problem p;
        char shown[JSON_ERROR_TEXT_LENGTH];

        memset(&p, 0, sizeof(p));
        p.line = jerr.line > 0 ? jerr.line : 0;
        snprintf(p.msg, sizeof(p.msg), "invalid JSON: %s", show(shown, sizeof(shown), jerr.text));
        record(&c, &p);
    } else if (!json_is_object(root)) {
        problem(&c, "the configuration must be a JSON object, not %s", type_name(root));
    } else {
        load_root(&c, root, cfg);
    }

    if (c.nomem) {
        rc = core_error_set(err, CORE_ENOMEM, "%s: out of memory", source);
        goto out;
    }
    if (c.found > 0) {
        rc = core_error_set(err, CORE_EINVAL, "%s: %zu problem%s; first: %s%s%s", source, c.found,
                            c.found == 1 ? "" : "s", c.first.path, c.first.path[0] ? ": " : "",
                            c.first.msg);
        goto out;
    }
    *out = cfg;
    cfg = NULL;
out:
    json_decref(root);
    policy_config_free(cfg);
    return rc;
}

int policy_config_load(const char *path, policy_config **out, policy_problems *problems,
                       core_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    CORE_ASSERT(path != NULL && out != NULL);
    *out = NULL;
    rc = core_file_read(path, CONFIG_MAX_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = policy_config_parse(text, len, path, out, problems, err);
    /* The text may hold the Redis password. */
    core_wipe(text, len);
    free(text);
    return rc;
}

/* ---- freeing -------------------------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void policy_config_free(policy_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->source);
    free(cfg->server.listen);
    free(cfg->server.host);
    free(cfg->server.public_url);
    free(cfg->server.health_listen);
    free(cfg->server.health_host);
    core_wipe_free(cfg->redis.url);
    free(cfg->redis.prefix);
    free(cfg->redis.sentinel.master);
    for (size_t i = 0; i < cfg->redis.sentinel.n_nodes; i++)
        free(cfg->redis.sentinel.nodes[i]);
    free(cfg->redis.sentinel.nodes);
    free(cfg->redis.sentinel.username);
    clear_ref(&cfg->redis.sentinel.password);
    clear_ref(&cfg->redis.sentinel.sentinel_password);
    free(cfg->cache_dir);
    free(cfg->log_level);
    free(cfg->log_format);
    clear_ref(&cfg->github.webhook_secret);
    free(cfg->github.private_key_file);
    free(cfg->github.api_url);
    free(cfg->github.web_url);
    clear_ref(&cfg->slack.signing_secret);
    clear_ref(&cfg->slack.bot_token);
    free(cfg->slack.api_url);
    clear_ref(&cfg->runners.tokens);
    clear_ref(&cfg->api.tokens);
    for (size_t i = 0; i < cfg->n_regions; i++) {
        policy_region *r = &cfg->regions[i];

        free(r->name);
        free(r->timezone);
        strv_free(r->hours_text, r->n_hours);
        free(r->hours);
        strv_free(r->holidays, r->n_holidays);
        free(r->slack_channel);
        strv_free(r->oncall, r->n_oncall);
    }
    free(cfg->regions);
    for (size_t i = 0; i < cfg->n_policies; i++) {
        policy_policy *p = &cfg->policies[i];

        strv_free(p->repos, p->n_repos);
        strv_free(p->regions, p->n_regions);
        free(p->fallback_region);
        strv_free(p->labels, p->n_labels);
        strv_free(p->migration_paths, p->n_migration_paths);
        strv_free(p->approvers, p->n_approvers);
        for (size_t j = 0; j < p->n_rule_settings; j++)
            free(p->rule_settings[j].rule);
        free(p->rule_settings);
    }
    free(cfg->policies);
    for (size_t i = 0; i < cfg->n_people; i++) {
        free(cfg->people[i].github);
        free(cfg->people[i].slack);
        free(cfg->people[i].operator_name);
    }
    free(cfg->people);
    for (size_t i = 0; i < cfg->n_freezes; i++) {
        policy_freeze *f = &cfg->freezes[i];

        free(f->name);
        strv_free(f->repos, f->n_repos);
        free(f->from);
        free(f->to);
        free(f->timezone);
    }
    free(cfg->freezes);
    free(cfg);
}
