/* docs/openapi.yaml against the routes the server registers (wh_route_at): every route is
 * documented with its method, and every documented path and method is a route. The YAML
 * is read by layout, which the file keeps on purpose: a path is a line "  /...:" and its
 * operations are the lines "    get:", "    head:" or "    post:" under it. HEAD is
 * answered wherever GET is, so a documented head needs a get beside it. The file's
 * structure (OpenAPI 3.1, every $ref resolving) is checked by tests/docs/check_openapi.py. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "webhooks/webhooks.h"

#define MAX_OPS 64

typedef struct doc_op {
    char method[8]; /* "GET", "HEAD", "POST", ... */
    char path[128];
    int seen; /* matched by a route */
} doc_op;

/* Reads the operations of openapi's `paths:`; returns their count, -1 if unreadable. */
static int read_doc_ops(const char *file, doc_op *ops, int max)
{
    FILE *f = fopen(file, "r");
    char line[512], path[128] = "";
    int n = 0, in_paths = 0;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");

        line[len] = '\0';
        if (line[0] != ' ' && line[0] != '#' && line[0] != '\0') {
            in_paths = strcmp(line, "paths:") == 0;
            continue;
        }
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0 && line[len - 1] == ':') {
            snprintf(path, sizeof(path), "%.*s", (int)(len - 3), line + 2);
        } else if (strncmp(line, "    ", 4) == 0 && line[4] != ' ' && line[len - 1] == ':' &&
                   path[0] && n < max) {
            const char *m = line + 4;
            size_t mlen = len - 5;

            if (mlen >= sizeof(ops[n].method) ||
                (strncmp(m, "get", mlen) != 0 && strncmp(m, "head", mlen) != 0 &&
                 strncmp(m, "post", mlen) != 0 && strncmp(m, "put", mlen) != 0 &&
                 strncmp(m, "delete", mlen) != 0 && strncmp(m, "patch", mlen) != 0))
                continue; /* "parameters:", "summary:" and the like */
            for (size_t i = 0; i < mlen; i++)
                ops[n].method[i] = (char)toupper((unsigned char)m[i]);
            ops[n].method[mlen] = '\0';
            snprintf(ops[n].path, sizeof(ops[n].path), "%s", path);
            ops[n].seen = 0;
            n++;
        }
    }
    fclose(f);
    return n;
}

static doc_op *find_op(doc_op *ops, int n, const char *method, const char *path)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(ops[i].method, method) == 0 && strcmp(ops[i].path, path) == 0)
            return &ops[i];
    }
    return NULL;
}

START_TEST(openapi_paths_equal_server_routes)
{
    doc_op ops[MAX_OPS];
    int n = read_doc_ops("docs/openapi.yaml", ops, MAX_OPS);
    const char *method, *pattern;
    size_t routes = 0, used = 0;
    char diff[2048] = "";

    /* Every difference at once, so that one run tells what to fix. */
#define DIFF(...)                                                                                  \
    do {                                                                                           \
        if (used < sizeof(diff))                                                                   \
            used += (size_t)snprintf(diff + used, sizeof(diff) - used, __VA_ARGS__);               \
    } while (0)
    ck_assert_msg(n > 0, "docs/openapi.yaml: unreadable or no paths (run from the tree's root)");
    for (size_t i = 0; wh_route_at(i, &method, &pattern); i++) {
        doc_op *op = find_op(ops, n, method, pattern);

        routes++;
        if (op)
            op->seen = 1;
        else
            DIFF("\n  route %s %s is not in docs/openapi.yaml", method, pattern);
    }
    for (int i = 0; i < n; i++) {
        doc_op *get;

        if (ops[i].seen)
            continue;
        get = find_op(ops, n, "GET", ops[i].path);
        if (strcmp(ops[i].method, "HEAD") == 0 && get && get->seen)
            continue;
        DIFF("\n  docs/openapi.yaml has %s %s, which the server does not route", ops[i].method,
             ops[i].path);
    }
#undef DIFF
    ck_assert_msg(diff[0] == '\0', "openapi.yaml and the server's routes differ:%s", diff);
    ck_assert_uint_ge(routes, 14);
}
END_TEST

/* The reader itself: a document missing a route, or adding one, must fail the check
 * above, so the reader must see both. */
START_TEST(reader_sees_paths_and_methods_only)
{
    char file[] = "/tmp/zoneci-openapi-XXXXXX";
    int fd = mkstemp(file);
    FILE *f;
    doc_op ops[MAX_OPS];
    int n;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs("openapi: 3.1.0\npaths:\n  /a/{id}:\n    parameters:\n      - $ref: x\n"
          "    get:\n      summary: s\n    head:\n      summary: h\n  /b:\n    post:\n"
          "      responses: {}\ncomponents:\n  /c:\n    get:\n",
          f);
    fclose(f);
    n = read_doc_ops(file, ops, MAX_OPS);
    unlink(file);
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_nonnull(find_op(ops, n, "GET", "/a/{id}"));
    ck_assert_ptr_nonnull(find_op(ops, n, "HEAD", "/a/{id}"));
    ck_assert_ptr_nonnull(find_op(ops, n, "POST", "/b"));
    ck_assert_ptr_null(find_op(ops, n, "GET", "/c"));
}
END_TEST

Suite *suite_webhooks_routes(void)
{
    Suite *s = suite_create("webhooks_routes");
    TCase *tc = tcase_create("openapi");

    tcase_add_test(tc, openapi_paths_equal_server_routes);
    tcase_add_test(tc, reader_sees_paths_and_methods_only);
    suite_add_tcase(s, tc);
    return s;
}
