/* Private to policies/: the seams between gitdiff.c (libgit2), sqlrisk.c (libpg_query) and
 * migrations.c (recognition and the report). Nothing outside policies/ includes this. */
#ifndef ZONECI_POLICIES_INSPECT_H
#define ZONECI_POLICIES_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "policies/policies.h"

/* Findings kept whole per file; the rest are kept briefly in omitted (n_omitted of them). */
#define POLICY_FINDINGS_MAX 200
/* Bytes of a statement kept in a finding (before the "…"). */
#define POLICY_STATEMENT_MAX 200
/* The smallest max_bytes policy_report_markdown honours. */
#define POLICY_MARKDOWN_MIN 256
/* The largest SQL text policy_sql_check reads. */
#define POLICY_SQL_MAX (16 * 1024 * 1024)

/* ---- gitdiff.c: git pathspecs, so that globs mean what they mean to git ------------------ */

typedef struct policy_pathspec policy_pathspec;

/* Compiles patterns into one pathspec. A "**" + "/" in a pattern also matches no folder at
 * all ("db/" "**" "/x.sql" matches "db/x.sql"), as in .gitignore: each such pattern is added
 * once more without it (at most 4 per pattern). Takes a libgit2 reference, dropped by
 * policy_pathspec_free. CORE_EINVAL for a pattern libgit2 refuses. */
int policy_pathspec_new(char *const *patterns, size_t n, bool ignore_case, policy_pathspec **out,
                        core_error *err);
/* True when path matches any pattern. Read-only: any number of threads may share ps. */
bool policy_pathspec_matches(const policy_pathspec *ps, const char *path);
void policy_pathspec_free(policy_pathspec *ps);

/* ---- migrations.c: appending findings ---------------------------------------------------- */

/* Appends a finding; statement (stmt_len bytes, may be NULL) has its blanks collapsed and is
 * cut to POLICY_STATEMENT_MAX at a UTF-8 boundary; message is copied. Past
 * POLICY_FINDINGS_MAX it only counts. 0 or CORE_ENOMEM. */
int policy_findings_push(policy_findings *f, const char *rule, policy_severity severity, int line,
                         const char *statement, size_t stmt_len, const char *message,
                         const char *safer, const char *lock, bool rewrites, bool scans);

/* ---- sqltree.c: libpg_query's JSON parse tree, read-only, in one arena ------------------- */

typedef enum sql_node_kind {
    SQL_NODE_NULL = 0,
    SQL_NODE_FALSE,
    SQL_NODE_TRUE,
    SQL_NODE_INT,
    SQL_NODE_REAL,
    SQL_NODE_STRING,
    SQL_NODE_ARRAY,
    SQL_NODE_OBJECT,
} sql_node_kind;

/* One value. An object's members are its items, each with its key. Owned by the tree. */
typedef struct sql_node {
    sql_node_kind kind;
    const char *key;        /* as a member of an object; NULL otherwise */
    const char *s;          /* SQL_NODE_STRING */
    long long i;            /* SQL_NODE_INT */
    struct sql_node *items; /* SQL_NODE_ARRAY, SQL_NODE_OBJECT */
    size_t n;
} sql_node;

typedef struct sql_tree sql_tree;

/* Reads json (NUL-terminated). 0 and a new tree in *out (free with sql_tree_free);
 * CORE_EINVAL for text it cannot read or nesting deeper than 2048; CORE_ENOMEM. */
int sql_tree_parse(const char *json, sql_tree **out);
const sql_node *sql_tree_root(const sql_tree *t);
void sql_tree_free(sql_tree *t);
/* The member key of an object, or NULL (o may be NULL or no object). */
const sql_node *sql_node_get(const sql_node *o, const char *key);
/* An array's length (0 for anything else) and its item i (NULL past the end). */
size_t sql_node_size(const sql_node *a);
const sql_node *sql_node_at(const sql_node *a, size_t i);

#endif
