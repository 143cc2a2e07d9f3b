/* How long libpg_query takes to hand over a parse tree, four ways, on one file: the whole
 * file as JSON read with jansson ("json"), split with the parser then each statement as
 * JSON read with jansson ("splitjson"), and, built with -DHAVE_PROTOBUF_C (needs the
 * protobuf-c header, package libprotobuf-c-dev; libpg_query itself carries the protobuf-c
 * code), the whole file as protobuf unpacked into protobuf-c structs ("pb") and split then
 * each statement as protobuf ("splitpb"). No rule runs: this only compares the ways in.
 * Build and run: see bench/RESULTS.md, "Inspection at scale". */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <pg_query.h>
#ifdef HAVE_PROTOBUF_C
#include <pg_query/pg_query.pb-c.h>
#endif

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(s = malloc((size_t)n + 1)) || fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    } else {
        s[n] = '\0';
    }
    if (f)
        fclose(f);
    return s;
}

/* Statements parsed one by one; returns how many the trees held. */
static size_t each_statement(const char *s, int protobuf)
{
    PgQuerySplitResult sp = pg_query_split_with_parser(s);
    size_t k = 0;

    for (int i = 0; i < sp.n_stmts; i++) {
        char *p = strndup(s + sp.stmts[i]->stmt_location, (size_t)sp.stmts[i]->stmt_len);

        if (!protobuf) {
            PgQueryParseResult r = pg_query_parse(p);
            json_t *j = r.error ? NULL : json_loads(r.parse_tree, 0, NULL);

            k += json_array_size(json_object_get(j, "stmts"));
            json_decref(j);
            pg_query_free_parse_result(r);
        }
#ifdef HAVE_PROTOBUF_C
        else {
            PgQueryProtobufParseResult r = pg_query_parse_protobuf(p);
            PgQuery__ParseResult *q = pg_query__parse_result__unpack(
                NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);

            k += q ? q->n_stmts : 0;
            pg_query__parse_result__free_unpacked(q, NULL);
            pg_query_free_protobuf_parse_result(r);
        }
#endif
        free(p);
    }
    pg_query_free_split_result(sp);
    return k;
}

int main(int argc, char **argv)
{
    char *s = argc == 3 ? slurp(argv[2]) : NULL;
    double t0 = now();
    size_t n = 0;

    if (!s) {
        fprintf(stderr, "usage: parse_probe json|splitjson|pb|splitpb FILE\n");
        return 2;
    }
    if (strcmp(argv[1], "json") == 0) {
        PgQueryParseResult r = pg_query_parse(s);
        json_t *j = r.error ? NULL : json_loads(r.parse_tree, 0, NULL);

        n = json_array_size(json_object_get(j, "stmts"));
        json_decref(j);
        pg_query_free_parse_result(r);
    } else if (strcmp(argv[1], "splitjson") == 0) {
        n = each_statement(s, 0);
#ifdef HAVE_PROTOBUF_C
    } else if (strcmp(argv[1], "pb") == 0) {
        PgQueryProtobufParseResult r = pg_query_parse_protobuf(s);
        PgQuery__ParseResult *p = pg_query__parse_result__unpack(
            NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);

        n = p ? p->n_stmts : 0;
        pg_query__parse_result__free_unpacked(p, NULL);
        pg_query_free_protobuf_parse_result(r);
    } else if (strcmp(argv[1], "splitpb") == 0) {
        n = each_statement(s, 1);
#endif
    } else {
        fprintf(stderr, "parse_probe: unknown way %s\n", argv[1]);
        return 2;
    }
    printf("%s: %zu statements in %.3f s\n", argv[1], n, now() - t0);
    free(s);
    return 0;
}
