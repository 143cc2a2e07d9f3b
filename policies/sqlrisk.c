/* SQL risk rules: every statement of a PostgreSQL migration, parsed with libpg_query and
 * graded against a table of rules (what it locks, whether it rewrites or scans the table,
 * what to do instead). This is the only file that includes libpg_query; its rules: each
 * pg_query_* result is released with its own pg_query_free_* function, error or not; calls
 * are thread-safe; locations in the parse tree are byte offsets into the input. The tree
 * comes as JSON, read into a small read-only tree (policies/sqltree.c), released with
 * sql_tree_free. */
#include "policies/policies.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <pg_query.h>

#include "core/core.h"
#include "policies/inspect.h"

/* Relations created earlier in the same file: rules about locking busy tables skip them. */
#define CREATED_MAX 256
/* CHECK (col IS NOT NULL) constraints remembered so that a later SET NOT NULL can rely on
 * them (PG 12+ skips its scan when a validated one proves the column has no NULL). */
#define PROOFS_MAX 64
/* After a parse error each statement is parsed alone; stop after this many. */
#define PIECES_MAX 5000

#define AE "ACCESS EXCLUSIVE"

enum {
    R_UNPARSABLE,
    R_DROP_DATABASE,
    R_DROP_SCHEMA,
    R_DROP_TABLE,
    R_DROP_COLUMN,
    R_RENAME_TABLE,
    R_RENAME_COLUMN,
    R_COLUMN_TYPE,
    R_REQUIRED_FIELD,
    R_VOLATILE_DEFAULT,
    R_SET_NOT_NULL,
    R_FOREIGN_KEY,
    R_CHECK,
    R_UNIQUE,
    R_PRIMARY_KEY,
    R_CHANGE_PK,
    R_INDEX_CREATE,
    R_INDEX_DROP,
    R_CONCURRENT_IN_TX,
    R_TRUNCATE,
    R_TRUNCATE_CASCADE,
    R_DELETE_ALL,
    R_UPDATE_ALL,
    R_LOCK_TIMEOUT,
    R_DROP_NOT_NULL,
    R_DETACH,
    R_REINDEX,
    R_REPACK,
    R_DOMAIN_CHECK,
    R_UNCOMMITTED,
    R_NESTED_TX,
    R_DUP_ASSIGN,
    R_LONG_IDENT,
    R_CREATE_DOMAIN_CHECK,
    R_NEEDS_NEWER_PG,
    /* Hygiene and style, off unless a policy turns them on (Squawk's ids). */
    R_ROBUST,
    R_STATEMENT_TIMEOUT,
    R_BIGINT_OVER_INT,
    R_BIGINT_OVER_SMALLINT,
    R_IDENTITY,
    R_TEXT_FIELD,
    R_TIMESTAMPTZ,
    R_CHAR_FIELD,
    R_COUNT
};

#define D POLICY_SEVERITY_DANGER
#define W POLICY_SEVERITY_WARNING
#define I POLICY_SEVERITY_INFO

/* Severity: danger loses data, breaks running clients, fails at run time, or blocks reads
 * (ACCESS EXCLUSIVE) for as long as the table takes to scan or rewrite; warning blocks writes
 * for that long, or takes ACCESS EXCLUSIVE only briefly; info is hygiene. */
static const policy_sql_rule rules[R_COUNT] = {
    [R_UNPARSABLE] = {"unparsable-sql", D, NULL, false, false,
                      "libpg_query cannot parse this statement, so nothing in it was checked",
                      "fix the syntax (PostgreSQL 15 grammar); SQL in another dialect needs a "
                      "human reviewer"},
    [R_DROP_DATABASE] = {"ban-drop-database", D, NULL, false, false,
                         "dropping a database destroys everything in it for every client",
                         "do it out of band, after a backup, never in a migration"},
    [R_DROP_SCHEMA] = {"ban-drop-schema", D, AE, false, false,
                       "dropping a schema drops its objects (all of them with CASCADE) and breaks "
                       "clients that use them",
                       "stop using the schema's objects first; drop it out of band after a backup"},
    [R_DROP_TABLE] = {"ban-drop-table", D, AE, false, false,
                      "dropping a table loses its data and breaks clients that still use it",
                      "stop using the table in code first; drop it in a later release, after a "
                      "backup"},
    [R_DROP_COLUMN] = {"ban-drop-column", D, AE, false, false,
                       "dropping a column loses its data and breaks clients that still read or "
                       "write it",
                       "stop using the column in code first (tell the ORM to ignore it); drop it "
                       "in a later release"},
    [R_RENAME_TABLE] = {"renaming-table", D, AE, false, false,
                        "renaming a table breaks clients that use the old name during the deploy",
                        "create a view under the new name, move code over, rename in a later "
                        "release"},
    [R_RENAME_COLUMN] = {"renaming-column", D, AE, false, false,
                         "renaming a column breaks clients that use the old name during the "
                         "deploy",
                         "add the new column, dual-write and backfill, switch readers, drop the "
                         "old column later"},
    [R_COLUMN_TYPE] = {"changing-column-type", D, AE, true, true,
                       "changing a column's type usually rewrites the table and its indexes "
                       "under ACCESS EXCLUSIVE",
                       "add a column of the new type, dual-write with a trigger, backfill in "
                       "batches, then swap names"},
    [R_REQUIRED_FIELD] = {"adding-required-field", D, AE, false, false,
                          "adding a NOT NULL column without a default fails on a non-empty table "
                          "and breaks inserts that do not set it",
                          "add it with a constant DEFAULT (no rewrite since PG 11), or nullable, "
                          "then backfill"},
    [R_VOLATILE_DEFAULT] = {"adding-field-with-default", D, AE, true, true,
                            "a column with a volatile default (random(), gen_random_uuid(), "
                            "nextval(), serial, identity, stored generated) rewrites the table "
                            "under ACCESS EXCLUSIVE",
                            "add the column without a default, SET DEFAULT separately, backfill "
                            "existing rows in batches"},
    [R_SET_NOT_NULL] = {"adding-not-nullable-field", D, AE, false, true,
                        "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE (and fails if "
                        "a NULL exists)",
                        "ADD CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL "
                        "(PG 12+ skips the scan)"},
    [R_FOREIGN_KEY] = {"adding-foreign-key-constraint", W, "SHARE ROW EXCLUSIVE", false, true,
                       "a new foreign key is validated by a scan while writes to both tables are "
                       "blocked",
                       "add it NOT VALID, then VALIDATE CONSTRAINT in a separate transaction"},
    [R_CHECK] = {"constraint-missing-not-valid", D, AE, false, true,
                 "a new CHECK constraint is validated by scanning the table under ACCESS "
                 "EXCLUSIVE",
                 "add it NOT VALID, then VALIDATE CONSTRAINT in a separate transaction"},
    [R_UNIQUE] = {"disallowed-unique-constraint", D, AE, false, true,
                  "ADD UNIQUE builds its index while holding ACCESS EXCLUSIVE",
                  "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX"},
    [R_PRIMARY_KEY] = {"adding-primary-key-constraint", D, AE, false, true,
                       "ADD PRIMARY KEY builds its index (and checks NOT NULL) while holding "
                       "ACCESS EXCLUSIVE",
                       "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY "
                       "USING INDEX"},
    [R_CHANGE_PK] = {"changing-primary-key", D, AE, false, false,
                     "dropping a primary key breaks foreign keys, logical replication and code "
                     "that relies on it",
                     "build the new key alongside (unique index, concurrently), move references, "
                     "drop the old key last"},
    [R_INDEX_CREATE] = {"require-concurrent-index-creation", W, "SHARE", false, true,
                        "CREATE INDEX without CONCURRENTLY blocks writes to the table for the "
                        "whole build",
                        "CREATE INDEX CONCURRENTLY, outside a transaction"},
    [R_INDEX_DROP] = {"require-concurrent-index-deletion", W, AE, false, false,
                      "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
                      "DROP INDEX CONCURRENTLY IF EXISTS, outside a transaction"},
    [R_CONCURRENT_IN_TX] = {"ban-concurrent-index-creation-in-transaction", D,
                            "SHARE UPDATE EXCLUSIVE", false, false,
                            "CONCURRENTLY cannot run inside a transaction block: the migration "
                            "fails at run time",
                            "run it on its own, outside BEGIN ... COMMIT (most tools have a "
                            "no-transaction switch)"},
    [R_TRUNCATE] = {"ban-truncate", D, AE, false, false, "TRUNCATE deletes every row of the table",
                    "delete only the rows you mean to, with a WHERE clause, in batches; archive "
                    "first"},
    [R_TRUNCATE_CASCADE] = {"ban-truncate-cascade", D, AE, false, false,
                            "TRUNCATE ... CASCADE also empties every table that references this "
                            "one, transitively",
                            "truncate each table explicitly, without CASCADE, so that a reference "
                            "fails loudly"},
    [R_DELETE_ALL] = {"delete-without-where", D, "ROW EXCLUSIVE", false, true,
                      "DELETE without WHERE deletes every row of the table",
                      "add a WHERE clause; delete large sets in batches"},
    [R_UPDATE_ALL] = {"update-without-where", D, "ROW EXCLUSIVE", true, true,
                      "UPDATE without WHERE rewrites every row of the table in one long "
                      "transaction",
                      "add a WHERE clause, or backfill in batches of a few thousand rows"},
    [R_LOCK_TIMEOUT] = {"require-lock-timeout", I, AE, false, false,
                        "an ACCESS EXCLUSIVE statement without lock_timeout can queue behind a "
                        "long transaction and block all traffic behind it",
                        "SET lock_timeout = '2s'; before it, and retry the migration when it "
                        "times out"},
    [R_DROP_NOT_NULL] = {"ban-drop-not-null", W, AE, false, false,
                         "dropping NOT NULL lets NULLs in where code assumes there are none",
                         "keep NOT NULL; add a new nullable column if the meaning changed"},
    [R_DETACH] = {"require-concurrent-partition-detach", W, AE, false, false,
                  "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the parent",
                  "DETACH PARTITION ... CONCURRENTLY (PG 14+), outside a transaction"},
    [R_REINDEX] = {"require-concurrent-reindex", D, AE, false, true,
                   "REINDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on each index (SHARE on "
                   "the table): writes, and every query that would use the index, wait for the "
                   "whole build",
                   "REINDEX ... CONCURRENTLY (PG 12+), outside a transaction"},
    [R_REPACK] = {"prefer-repack", D, AE, true, true,
                  "VACUUM FULL and CLUSTER rewrite the whole table under ACCESS EXCLUSIVE",
                  "use pg_repack (or REPACK CONCURRENTLY on PG 19+), outside the migration"},
    [R_DOMAIN_CHECK] = {"ban-alter-domain-with-add-constraint", W, "SHARE", false, true,
                        "adding a constraint to a domain re-checks every column of that domain "
                        "in every table",
                        "add NOT VALID CHECK constraints to the tables instead, then VALIDATE "
                        "them"},
    [R_UNCOMMITTED] = {"ban-uncommitted-transaction", W, NULL, false, false,
                       "BEGIN without COMMIT: the changes are rolled back when the session ends",
                       "end the transaction with COMMIT"},
    [R_NESTED_TX] = {"transaction-nesting", W, NULL, false, false,
                     "BEGIN inside an open transaction does not nest: the first COMMIT ends both",
                     "one BEGIN ... COMMIT (or SAVEPOINT); check whether the tool already wraps "
                     "each migration in a transaction"},
    [R_DUP_ASSIGN] = {"ban-duplicate-column-assignments", D, NULL, false, false,
                      "the same column is assigned twice in one UPDATE: PostgreSQL refuses the "
                      "statement at run time (multiple assignments to same column)",
                      "assign each column once"},
    [R_LONG_IDENT] = {"identifier-too-long", W, NULL, false, false,
                      "an identifier over 63 bytes is silently truncated by PostgreSQL, so the "
                      "object gets another name than the one written (and two may collide)",
                      "use a name of at most 63 bytes"},
    [R_CREATE_DOMAIN_CHECK] = {"ban-create-domain-with-constraint", W, NULL, false, false,
                               "a domain's CHECK constraint is hard to change later: altering it "
                               "re-checks every column of that domain in every table",
                               "put CHECK constraints on the tables' columns, where they can be "
                               "added NOT VALID and validated online"},
    [R_NEEDS_NEWER_PG] = {"requires-newer-postgres", D, NULL, false, false,
                          "this form does not exist on the PostgreSQL version the policy names: "
                          "the migration fails at run time",
                          "use the form the version supports, or raise "
                          "migrations.postgres_version if the database is newer"},
    [R_ROBUST] = {"prefer-robust-stmts", W, NULL, false, false,
                  "a statement that fails when run twice leaves a migration that ran halfway "
                  "outside a transaction impossible to re-run",
                  "IF NOT EXISTS / IF EXISTS, or run the migration in a transaction", true},
    [R_STATEMENT_TIMEOUT] = {"require-statement-timeout", W, NULL, false, false,
                             "a statement that takes a heavy lock without statement_timeout can "
                             "hold it far longer than planned",
                             "SET statement_timeout = '5s'; before it (and lock_timeout)", true},
    [R_BIGINT_OVER_INT] = {"prefer-bigint-over-int", W, NULL, false, false,
                           "an integer id runs out at 2,147,483,647 and widening it later "
                           "rewrites the table",
                           "bigint (8 bytes) from the start", true},
    [R_BIGINT_OVER_SMALLINT] = {"prefer-bigint-over-smallint", W, NULL, false, false,
                                "a smallint runs out at 32,767 and widening it later rewrites "
                                "the table",
                                "bigint (or integer when the range is known to be small)", true},
    [R_IDENTITY] = {"prefer-identity", W, NULL, false, false,
                    "serial columns own a sequence with awkward permissions and dump semantics",
                    "bigint GENERATED BY DEFAULT AS IDENTITY", true},
    [R_TEXT_FIELD] = {"prefer-text-field", W, NULL, false, false,
                      "changing a varchar(n) limit later takes ACCESS EXCLUSIVE (and may rewrite)",
                      "text with a CHECK (length(col) <= n) constraint added NOT VALID", true},
    [R_TIMESTAMPTZ] = {"prefer-timestamptz", W, NULL, false, false,
                       "timestamp without time zone stores wall time with no zone: instants are "
                       "ambiguous across DST and regions",
                       "timestamptz", true},
    [R_CHAR_FIELD] = {"ban-char-field", W, NULL, false, false,
                      "char(n) pads with blanks and is never faster than text", "text (or varchar)",
                      true},
};

#undef D
#undef W
#undef I

const policy_sql_rule *policy_sql_rules(size_t *count)
{
    if (count)
        *count = R_COUNT;
    return rules;
}

/* ---- the checker ------------------------------------------------------------------------- */

typedef struct span {
    size_t start, end; /* byte offsets of the statement without leading comments */
    int line;
} span;

typedef struct checker {
    const char *text;
    size_t len;
    policy_findings *out;
    policy_sql_options opts; /* pg_version always set */
    int rc;                  /* first CORE_ENOMEM */
    size_t line_pos;         /* line counting resumes here */
    int line_no;             /* the line of line_pos */
    span cur;                /* the statement being graded */
    int tx_depth;
    bool tx_implicit; /* the open transaction is the one the migration tool wraps the file in */
    bool tx_mixed;    /* Flyway: non-transactional statements beside transactional ones */
    span tx_begin;
    bool lock_timeout;
    bool lock_timeout_reported;
    bool statement_timeout;
    bool statement_timeout_reported;
    /* Constraints added NOT VALID in the open transaction: validating one there keeps the
     * ADD's lock through the validation scan. */
    struct {
        char table[64], constraint[64];
        int rule;
    } not_valid[PROOFS_MAX];
    size_t n_not_valid;
    char *created_schema[CREATED_MAX];
    char *created_name[CREATED_MAX];
    size_t n_created;
    struct {
        char table[64], constraint[64], column[64];
        bool validated;
    } proofs[PROOFS_MAX];
    size_t n_proofs;
} checker;

static int line_at(checker *ck, size_t pos)
{
    if (pos < ck->line_pos) {
        ck->line_pos = 0;
        ck->line_no = 1;
    }
    for (; ck->line_pos < pos && ck->line_pos < ck->len; ck->line_pos++) {
        if (ck->text[ck->line_pos] == '\n')
            ck->line_no++;
    }
    return ck->line_no;
}

/* Skips blanks, "--" comments and nested block comments from pos. */
static size_t skip_blank(const char *s, size_t len, size_t pos)
{
    while (pos < len) {
        char c = s[pos];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            pos++;
        } else if (c == '-' && pos + 1 < len && s[pos + 1] == '-') {
            while (pos < len && s[pos] != '\n')
                pos++;
        } else if (c == '/' && pos + 1 < len && s[pos + 1] == '*') {
            size_t depth = 0, open = pos;

            do {
                if (s[pos] == '/' && pos + 1 < len && s[pos + 1] == '*') {
                    depth++;
                    pos += 2;
                } else if (s[pos] == '*' && pos + 1 < len && s[pos + 1] == '/') {
                    depth--;
                    pos += 2;
                } else {
                    pos++;
                }
            } while (depth > 0 && pos < len);
            /* An unterminated comment is left in place for the parser to refuse. */
            if (depth > 0)
                return open;
        } else {
            break;
        }
    }
    return pos;
}

/* When s[pos] opens a dollar quote ($$ or $tag$), the offset just past its closing tag (or
 * len when it never closes); 0 when it is no dollar quote ($1 is a parameter). */
static size_t dollar_quote_end(const char *s, size_t len, size_t pos)
{
    size_t t = pos + 1, tag, j;

    while (t < len &&
           (s[t] == '_' || (s[t] >= '0' && s[t] <= '9' && t > pos + 1) ||
            ((s[t] | 0x20) >= 'a' && (s[t] | 0x20) <= 'z') || (unsigned char)s[t] >= 0x80))
        t++;
    if (t >= len || s[t] != '$')
        return 0;
    tag = t + 1 - pos;
    for (j = t + 1; j + tag <= len; j++) {
        if (memcmp(s + j, s + pos, tag) == 0)
            return j + tag;
    }
    return len;
}

static void set_span(checker *ck, size_t loc, size_t end)
{
    if (end > ck->len)
        end = ck->len;
    ck->cur.start = skip_blank(ck->text, end, loc < end ? loc : end);
    while (end > ck->cur.start && strchr(" \t\r\n\f\v", ck->text[end - 1]) != NULL &&
           ck->text[end - 1] != '\0')
        end--;
    ck->cur.end = end;
    ck->cur.line = line_at(ck, ck->cur.start);
}

/* Rules off by default report only when the policy gives them a level. */
static bool rule_on(const checker *ck, int r)
{
    if (!rules[r].off_by_default)
        return true;
    for (size_t i = ck->opts.n_rules; i-- > 0;) {
        if (strcmp(ck->opts.rules[i].rule, rules[r].id) == 0)
            return ck->opts.rules[i].level >= POLICY_RULE_INFO;
    }
    return false;
}

static void push_full(checker *ck, int r, const span *sp, const char *message, const char *safer)
{
    const policy_sql_rule *rule = &rules[r];
    int rc;

    if (ck->rc < 0 || !rule_on(ck, r))
        return;
    rc = policy_findings_push(ck->out, rule->id, rule->severity, sp->line, ck->text + sp->start,
                              sp->end - sp->start, message ? message : rule->message,
                              safer ? safer : rule->safer, rule->lock, rule->rewrites, rule->scans);
    if (rc < 0)
        ck->rc = rc;
}

static void push_at(checker *ck, int r, const span *sp, const char *message)
{
    push_full(ck, r, sp, message, NULL);
}

static void push(checker *ck, int r)
{
    push_at(ck, r, &ck->cur, NULL);
}

static void push_msg(checker *ck, int r, const char *message)
{
    push_at(ck, r, &ck->cur, message);
}

static void push_unparsable(checker *ck, const char *why)
{
    char msg[300];

    snprintf(msg, sizeof(msg), "unparsable SQL at line %d: %s", ck->cur.line, why);
    push_at(ck, R_UNPARSABLE, &ck->cur, msg);
}

/* ---- reading the tree -------------------------------------------------------------------- */

#define node_foreach(list, i, w) for ((i) = 0; ((w) = sql_node_at((list), (i))) != NULL; (i)++)

static bool node_object(const sql_node *n)
{
    return n && n->kind == SQL_NODE_OBJECT;
}

static bool node_true(const sql_node *n)
{
    return n && n->kind == SQL_NODE_TRUE;
}

static long long node_int(const sql_node *n)
{
    return n && n->kind == SQL_NODE_INT ? n->i : 0;
}

static const char *node_string(const sql_node *n)
{
    return n && n->kind == SQL_NODE_STRING ? n->s : NULL;
}

/* A wrapper object's only member ({"IndexStmt": {...}}): its key names the node type. */
static const sql_node *first_member(const sql_node *n)
{
    return node_object(n) && n->n > 0 ? &n->items[0] : NULL;
}

static const sql_node *field(const sql_node *o, const char *k)
{
    return node_object(o) ? sql_node_get(o, k) : NULL;
}

static const char *sfield(const sql_node *o, const char *k)
{
    const char *s = node_string(field(o, k));

    return s ? s : "";
}

static bool bfield(const sql_node *o, const char *k)
{
    return node_true(field(o, k));
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* {"Type": {...}} -> the inner object when the wrapper holds that type. */
static const sql_node *unwrap(const sql_node *w, const char *type)
{
    const sql_node *in = field(w, type);

    return node_object(in) ? in : NULL;
}

/* The last name of a qualified name list [{"String":{"sval":"pg_catalog"}},{"String":...}]. */
static const char *last_name(const sql_node *list)
{
    size_t n = sql_node_size(list);

    return n ? sfield(unwrap(sql_node_at(list, n - 1), "String"), "sval") : "";
}

static bool created_has_name(const checker *ck, const char *schema, const char *name)
{
    if (!name[0])
        return false;
    for (size_t i = 0; i < ck->n_created; i++) {
        if (strcmp(ck->created_name[i], name) == 0 &&
            (!schema[0] || !ck->created_schema[i][0] || strcmp(ck->created_schema[i], schema) == 0))
            return true;
    }
    return false;
}

static bool created_has(const checker *ck, const sql_node *rangevar)
{
    return created_has_name(ck, sfield(rangevar, "schemaname"), sfield(rangevar, "relname"));
}

static void created_add(checker *ck, const sql_node *rangevar)
{
    const char *name = sfield(rangevar, "relname");

    if (!name[0] || ck->n_created >= CREATED_MAX || created_has(ck, rangevar))
        return;
    ck->created_schema[ck->n_created] = strdup(sfield(rangevar, "schemaname"));
    ck->created_name[ck->n_created] = strdup(name);
    if (!ck->created_schema[ck->n_created] || !ck->created_name[ck->n_created]) {
        free(ck->created_schema[ck->n_created]);
        free(ck->created_name[ck->n_created]);
        ck->rc = CORE_ENOMEM;
        return;
    }
    ck->n_created++;
}

/* Built-in functions documented as IMMUTABLE or STABLE: a default made only of them and of
 * constants is evaluated once, so ADD COLUMN stores it in the catalog (PG 11+) instead of
 * rewriting the table. Anything not listed (uuid(), a user's function, a function of an
 * extension, PG 18's uuidv7()) is taken as volatile: a linter that guesses "safe" for a
 * function it does not know lets a table rewrite through. `args` is the number of
 * arguments the entry is known for; -1 means any. */
static const struct {
    const char *name;
    int args;
} stable_functions[] = {
    {"now", 0},
    {"transaction_timestamp", 0},
    {"statement_timestamp", 0},
    {"timezone", -1},
    {"date_trunc", -1},
    {"date_part", -1},
    {"make_date", -1},
    {"make_time", -1},
    {"make_timestamp", -1},
    {"make_timestamptz", -1},
    {"make_interval", -1},
    {"to_timestamp", -1},
    {"to_date", -1},
    {"to_char", -1},
    {"to_number", -1},
    {"lower", 1},
    {"upper", 1},
    {"btrim", -1},
    {"ltrim", -1},
    {"rtrim", -1},
    {"concat", -1},
    {"concat_ws", -1},
    {"length", 1},
    {"char_length", 1},
    {"substr", -1},
    {"substring", -1},
    {"replace", 3},
    {"left", 2},
    {"right", 2},
    {"lpad", -1},
    {"rpad", -1},
    {"md5", 1},
    {"abs", 1},
    {"round", -1},
    {"floor", 1},
    {"ceil", 1},
    {"ceiling", 1},
    {"trunc", -1},
    {"jsonb_build_object", -1},
    {"json_build_object", -1},
    {"jsonb_build_array", -1},
    {"json_build_array", -1},
    {"to_jsonb", 1},
    {"to_json", 1},
    {"array_fill", -1},
    {"int4range", -1},
    {"int8range", -1},
    {"numrange", -1},
    {"tsrange", -1},
    {"tstzrange", -1},
    {"daterange", -1},
    {"current_setting", 1},
    {"current_schema", 0},
    {"current_database", 0},
};

static bool stable_function(const sql_node *fc)
{
    const sql_node *names = field(fc, "funcname");
    size_t n = sql_node_size(names);
    const char *name = last_name(names);
    int args = (int)sql_node_size(field(fc, "args"));

    /* pg_catalog.now() is the built-in; myschema.now() is someone's function. */
    if (n == 0 || n > 2 ||
        (n == 2 && !is(sfield(unwrap(sql_node_at(names, 0), "String"), "sval"), "pg_catalog")))
        return false;
    if (field(fc, "agg_star") || field(fc, "over") || field(fc, "agg_order"))
        return false;
    for (size_t i = 0; i < sizeof(stable_functions) / sizeof(stable_functions[0]); i++) {
        if (strcasecmp(name, stable_functions[i].name) == 0)
            return stable_functions[i].args < 0 || stable_functions[i].args == args;
    }
    return false;
}

static bool all_non_volatile(const sql_node *list, const char **culprit, int depth);

/* True when the expression is known not to be volatile: constants, casts, CURRENT_* values,
 * operators, CASE/COALESCE/GREATEST/arrays of such, and the functions listed above. The
 * first function that is not known is left in *culprit. */
static bool non_volatile(const sql_node *node, const char **culprit, int depth)
{
    const char *type;
    const sql_node *in = first_member(node);

    if (!node || node->kind == SQL_NODE_NULL)
        return true;
    if (depth > 64 || !in)
        return false;
    type = in->key;
    if (is(type, "A_Const") || is(type, "SQLValueFunction"))
        return true;
    if (is(type, "TypeCast"))
        return non_volatile(field(in, "arg"), culprit, depth + 1);
    if (is(type, "FuncCall")) {
        if (!stable_function(in)) {
            if (!*culprit)
                *culprit = last_name(field(in, "funcname"));
            return false;
        }
        return all_non_volatile(field(in, "args"), culprit, depth + 1);
    }
    if (is(type, "A_Expr"))
        return non_volatile(field(in, "lexpr"), culprit, depth + 1) &&
               non_volatile(field(in, "rexpr"), culprit, depth + 1);
    if (is(type, "BoolExpr") || is(type, "CoalesceExpr") || is(type, "MinMaxExpr") ||
        is(type, "RowExpr"))
        return all_non_volatile(field(in, "args"), culprit, depth + 1);
    if (is(type, "A_ArrayExpr"))
        return all_non_volatile(field(in, "elements"), culprit, depth + 1);
    if (is(type, "NullTest") || is(type, "BooleanTest"))
        return non_volatile(field(in, "arg"), culprit, depth + 1);
    if (is(type, "CaseExpr")) {
        size_t i;
        const sql_node *w;

        node_foreach(field(in, "args"), i, w)
        {
            const sql_node *when = unwrap(w, "CaseWhen");

            if (!non_volatile(field(when, "expr"), culprit, depth + 1) ||
                !non_volatile(field(when, "result"), culprit, depth + 1))
                return false;
        }
        return non_volatile(field(in, "arg"), culprit, depth + 1) &&
               non_volatile(field(in, "defresult"), culprit, depth + 1);
    }
    return false;
}

static bool all_non_volatile(const sql_node *list, const char **culprit, int depth)
{
    size_t i;
    const sql_node *w;

    node_foreach(list, i, w)
    {
        if (!non_volatile(w, culprit, depth))
            return false;
    }
    return true;
}

/* A NULL default: the same as none. */
static bool is_null_const(const sql_node *expr)
{
    return bfield(unwrap(expr, "A_Const"), "isnull");
}

static bool in_tx(const checker *ck)
{
    return ck->tx_depth > 0;
}

/* Called for each statement that takes ACCESS EXCLUSIVE on an existing table. */
static void needs_lock_timeout(checker *ck)
{
    if (!ck->lock_timeout && !ck->lock_timeout_reported) {
        ck->lock_timeout_reported = true;
        push(ck, R_LOCK_TIMEOUT);
    }
    if (!ck->statement_timeout && !ck->statement_timeout_reported) {
        ck->statement_timeout_reported = true;
        push(ck, R_STATEMENT_TIMEOUT);
    }
}

static void concurrent_in_tx(checker *ck);

static void check_constraint(checker *ck, const sql_node *con)
{
    const char *ct = sfield(con, "contype");

    if (is(ct, "CONSTR_FOREIGN") && !bfield(con, "skip_validation"))
        push(ck, R_FOREIGN_KEY);
    else if (is(ct, "CONSTR_CHECK") && !bfield(con, "skip_validation"))
        push(ck, R_CHECK);
    else if (is(ct, "CONSTR_UNIQUE") && !sfield(con, "indexname")[0])
        push(ck, R_UNIQUE);
    else if (is(ct, "CONSTR_PRIMARY") && !sfield(con, "indexname")[0])
        push(ck, R_PRIMARY_KEY);
}

/* The style rules on a column's type (off unless a policy turns them on). */
static void check_column_type(checker *ck, const sql_node *coldef)
{
    const char *type = last_name(field(field(coldef, "typeName"), "names"));

    if (!type[0])
        return;
    if (strcasecmp(type, "int4") == 0 || strcasecmp(type, "serial") == 0 ||
        strcasecmp(type, "serial4") == 0)
        push(ck, R_BIGINT_OVER_INT);
    if (strcasecmp(type, "int2") == 0 || strcasecmp(type, "smallserial") == 0 ||
        strcasecmp(type, "serial2") == 0)
        push(ck, R_BIGINT_OVER_SMALLINT);
    if (strncasecmp(type, "serial", 6) == 0 || strcasecmp(type, "bigserial") == 0 ||
        strcasecmp(type, "smallserial") == 0)
        push(ck, R_IDENTITY);
    if (strcasecmp(type, "varchar") == 0)
        push(ck, R_TEXT_FIELD);
    if (strcasecmp(type, "timestamp") == 0)
        push(ck, R_TIMESTAMPTZ);
    if (strcasecmp(type, "bpchar") == 0)
        push(ck, R_CHAR_FIELD);
}

static void check_add_column(checker *ck, const sql_node *coldef)
{
    static const char *const serials[] = {"smallserial", "serial",  "bigserial",
                                          "serial2",     "serial4", "serial8"};
    const char *type = last_name(field(field(coldef, "typeName"), "names"));
    const char *culprit = NULL, *why = NULL;
    bool not_null = false, has_default = false, rewrite = false;
    char msg[300];
    size_t i;
    const sql_node *w;

    check_column_type(ck, coldef);
    for (size_t k = 0; k < sizeof(serials) / sizeof(serials[0]); k++) {
        if (strcasecmp(type, serials[k]) == 0) {
            rewrite = true;
            why = "a serial column's default, nextval(), is volatile";
        }
    }
    node_foreach(field(coldef, "constraints"), i, w)
    {
        const sql_node *con = unwrap(w, "Constraint");
        const char *ct = sfield(con, "contype");

        if (is(ct, "CONSTR_NOTNULL")) {
            not_null = true;
        } else if (is(ct, "CONSTR_DEFAULT")) {
            const sql_node *expr = field(con, "raw_expr");

            has_default = !is_null_const(expr);
            if (ck->opts.pg_version < 11 && has_default) {
                rewrite = true;
                why = "before PostgreSQL 11 any default rewrites the table";
            } else if (!non_volatile(expr, &culprit, 0)) {
                rewrite = true;
                if (culprit) {
                    snprintf(msg, sizeof(msg),
                             "DEFAULT %.60s(...) is not a function known to be non-volatile, so "
                             "the default is computed for every existing row",
                             culprit);
                    why = msg;
                } else {
                    why = "the default is not known to be non-volatile, so it is computed for "
                          "every existing row";
                }
            }
        } else if (is(ct, "CONSTR_GENERATED") || is(ct, "CONSTR_IDENTITY")) {
            rewrite = true;
            why = is(ct, "CONSTR_GENERATED") ? "a stored generated column is computed for every "
                                               "existing row"
                                             : "an identity column fills every existing row";
        } else {
            check_constraint(ck, con);
        }
    }
    if (rewrite) {
        char full[400];

        snprintf(full, sizeof(full), "%s: the table is rewritten under ACCESS EXCLUSIVE", why);
        push_msg(ck, R_VOLATILE_DEFAULT, full);
    } else if (not_null && !has_default) {
        push(ck, R_REQUIRED_FIELD);
    }
}

/* Whether one ALTER TABLE sub-command takes ACCESS EXCLUSIVE (PostgreSQL's
 * AlterTableGetLockLevel, reduced to the cases that take something weaker). */
static bool cmd_takes_access_exclusive(const char *sub, const sql_node *cmd)
{
    static const char *const weaker[] = {
        "AT_SetStatistics",   "AT_ClusterOn",       "AT_DropCluster",      "AT_SetRelOptions",
        "AT_ResetRelOptions", "AT_SetOptions",      "AT_ResetOptions",     "AT_ValidateConstraint",
        "AT_AttachPartition", "AT_EnableTrig",      "AT_EnableAlwaysTrig", "AT_EnableReplicaTrig",
        "AT_EnableTrigAll",   "AT_EnableTrigUser",  "AT_DisableTrig",      "AT_DisableTrigAll",
        "AT_DisableTrigUser", "AT_ReplicaIdentity",
    };

    for (size_t i = 0; i < sizeof(weaker) / sizeof(weaker[0]); i++) {
        if (is(sub, weaker[i]))
            return false;
    }
    if (is(sub, "AT_AddConstraint"))
        return !is(sfield(unwrap(field(cmd, "def"), "Constraint"), "contype"), "CONSTR_FOREIGN");
    if (is(sub, "AT_DetachPartition"))
        return !bfield(unwrap(field(cmd, "def"), "PartitionCmd"), "concurrent");
    return true;
}

/* Remembers ADD CONSTRAINT name CHECK (col IS NOT NULL) on table. */
static void proof_add(checker *ck, const char *table, const sql_node *con)
{
    const sql_node *nt = unwrap(field(con, "raw_expr"), "NullTest");
    const sql_node *fields = field(unwrap(field(nt, "arg"), "ColumnRef"), "fields");

    if (!nt || !is(sfield(nt, "nulltesttype"), "IS_NOT_NULL") || sql_node_size(fields) != 1 ||
        ck->n_proofs >= PROOFS_MAX)
        return;
    snprintf(ck->proofs[ck->n_proofs].table, sizeof(ck->proofs[0].table), "%s", table);
    snprintf(ck->proofs[ck->n_proofs].constraint, sizeof(ck->proofs[0].constraint), "%s",
             sfield(con, "conname"));
    snprintf(ck->proofs[ck->n_proofs].column, sizeof(ck->proofs[0].column), "%s",
             last_name(fields));
    ck->proofs[ck->n_proofs].validated = !bfield(con, "skip_validation");
    ck->n_proofs++;
}

/* A VALIDATE of a constraint added in an earlier migration: its expression is not in this
 * file, so it is remembered by name; a name that spells the column ("users_email_not_null")
 * lets a later SET NOT NULL on that column rely on it, as the documented recipe does. */
static void proof_validate(checker *ck, const char *table, const char *constraint)
{
    bool known = false;

    for (size_t i = 0; i < ck->n_proofs; i++) {
        if (is(ck->proofs[i].table, table) && is(ck->proofs[i].constraint, constraint)) {
            ck->proofs[i].validated = true;
            known = true;
        }
    }
    if (known || ck->n_proofs >= PROOFS_MAX)
        return;
    snprintf(ck->proofs[ck->n_proofs].table, sizeof(ck->proofs[0].table), "%s", table);
    snprintf(ck->proofs[ck->n_proofs].constraint, sizeof(ck->proofs[0].constraint), "%s",
             constraint);
    ck->proofs[ck->n_proofs].column[0] = '\0';
    ck->proofs[ck->n_proofs].validated = true;
    ck->n_proofs++;
}

/* True when name holds column as a word of its own ("t_email_not_null" holds "email"). */
static bool name_mentions(const char *name, const char *column)
{
    size_t n = strlen(column);

    if (n == 0)
        return false;
    for (const char *p = name; *p; p++) {
        bool left = p == name || p[-1] == '_';

        if (left && strncasecmp(p, column, n) == 0 && (p[n] == '\0' || p[n] == '_'))
            return true;
    }
    return false;
}

static bool proof_holds(const checker *ck, const char *table, const char *column)
{
    /* Before PG 12 SET NOT NULL scans whatever constraints exist. */
    if (ck->opts.pg_version < 12)
        return false;
    for (size_t i = 0; i < ck->n_proofs; i++) {
        if (!ck->proofs[i].validated || !is(ck->proofs[i].table, table))
            continue;
        if (is(ck->proofs[i].column, column) ||
            (!ck->proofs[i].column[0] && name_mentions(ck->proofs[i].constraint, column)))
            return true;
    }
    return false;
}

static void not_valid_add(checker *ck, const char *table, const sql_node *con)
{
    const char *ct = sfield(con, "contype");

    if (!in_tx(ck) || !bfield(con, "skip_validation") || ck->n_not_valid >= PROOFS_MAX ||
        !(is(ct, "CONSTR_CHECK") || is(ct, "CONSTR_FOREIGN")))
        return;
    snprintf(ck->not_valid[ck->n_not_valid].table, sizeof(ck->not_valid[0].table), "%s", table);
    snprintf(ck->not_valid[ck->n_not_valid].constraint, sizeof(ck->not_valid[0].constraint), "%s",
             sfield(con, "conname"));
    ck->not_valid[ck->n_not_valid].rule = is(ct, "CONSTR_CHECK") ? R_CHECK : R_FOREIGN_KEY;
    ck->n_not_valid++;
}

static void validate_in_same_tx(checker *ck, const char *table, const char *constraint)
{
    for (size_t i = 0; in_tx(ck) && i < ck->n_not_valid; i++) {
        if (is(ck->not_valid[i].table, table) && is(ck->not_valid[i].constraint, constraint)) {
            push_msg(ck, ck->not_valid[i].rule,
                     ck->tx_implicit
                         ? "VALIDATE CONSTRAINT in the transaction the migration tool wraps the "
                           "file in, the one that added it NOT VALID: the ADD's lock is held "
                           "through the whole validation scan"
                         : "VALIDATE CONSTRAINT in the transaction that added it NOT VALID: the "
                           "ADD's lock is held through the whole validation scan");
            return;
        }
    }
}

/* An ALTER TABLE that drops the primary key and adds one USING INDEX (built concurrently
 * before) swaps keys atomically: the documented way, not a dropped key. */
static bool adds_primary_key_using_index(const sql_node *cmds)
{
    size_t i;
    const sql_node *w;

    node_foreach(cmds, i, w)
    {
        const sql_node *cmd = unwrap(w, "AlterTableCmd");
        const sql_node *con = unwrap(field(cmd, "def"), "Constraint");

        if (is(sfield(cmd, "subtype"), "AT_AddConstraint") &&
            is(sfield(con, "contype"), "CONSTR_PRIMARY") && sfield(con, "indexname")[0])
            return true;
    }
    return false;
}

static void check_alter_table(checker *ck, const sql_node *st)
{
    const char *table = sfield(field(st, "relation"), "relname");
    bool fresh = created_has(ck, field(st, "relation")), exclusive = false;
    size_t i;
    const sql_node *w;

    if (!is(sfield(st, "objtype"), "OBJECT_TABLE"))
        return;
    if (fresh) {
        /* A table made in this file is empty: only the style rules apply. */
        node_foreach(field(st, "cmds"), i, w)
        {
            const sql_node *cmd = unwrap(w, "AlterTableCmd");

            if (is(sfield(cmd, "subtype"), "AT_AddColumn"))
                check_column_type(ck, unwrap(field(cmd, "def"), "ColumnDef"));
        }
        return;
    }
    node_foreach(field(st, "cmds"), i, w)
    {
        const sql_node *cmd = unwrap(w, "AlterTableCmd");
        const sql_node *def = field(cmd, "def");
        const char *sub = sfield(cmd, "subtype");

        if (cmd_takes_access_exclusive(sub, cmd))
            exclusive = true;
        if (is(sub, "AT_DropColumn")) {
            push(ck, R_DROP_COLUMN);
            if (!bfield(cmd, "missing_ok") && !in_tx(ck))
                push(ck, R_ROBUST);
        } else if (is(sub, "AT_AlterColumnType")) {
            push(ck, R_COLUMN_TYPE);
            check_column_type(ck, unwrap(def, "ColumnDef"));
        } else if (is(sub, "AT_SetNotNull")) {
            if (!proof_holds(ck, table, sfield(cmd, "name")))
                push(ck, R_SET_NOT_NULL);
        } else if (is(sub, "AT_DropNotNull")) {
            push(ck, R_DROP_NOT_NULL);
        } else if (is(sub, "AT_AddColumn")) {
            check_add_column(ck, unwrap(def, "ColumnDef"));
            if (!bfield(cmd, "missing_ok") && !in_tx(ck))
                push(ck, R_ROBUST);
        } else if (is(sub, "AT_AddConstraint")) {
            proof_add(ck, table, unwrap(def, "Constraint"));
            not_valid_add(ck, table, unwrap(def, "Constraint"));
            check_constraint(ck, unwrap(def, "Constraint"));
        } else if (is(sub, "AT_ValidateConstraint")) {
            validate_in_same_tx(ck, table, sfield(cmd, "name"));
            proof_validate(ck, table, sfield(cmd, "name"));
        } else if (is(sub, "AT_DropConstraint")) {
            const char *name = sfield(cmd, "name");
            size_t n = strlen(name);

            if (n >= 4 && strcasecmp(name + n - 4, "pkey") == 0 &&
                !adds_primary_key_using_index(field(st, "cmds")))
                push(ck, R_CHANGE_PK);
        } else if (is(sub, "AT_DetachPartition")) {
            if (!bfield(unwrap(def, "PartitionCmd"), "concurrent"))
                push(ck, R_DETACH);
            else if (ck->opts.pg_version < 14)
                push_msg(ck, R_NEEDS_NEWER_PG,
                         "DETACH PARTITION ... CONCURRENTLY needs PostgreSQL 14 or later");
            else
                concurrent_in_tx(ck);
        }
    }
    if (exclusive)
        needs_lock_timeout(ck);
}

/* True when every object of a DROP TABLE was created earlier in this file. */
static bool drop_all_created(checker *ck, const sql_node *objects)
{
    size_t i;
    const sql_node *w;

    if (sql_node_size(objects) == 0)
        return false;
    node_foreach(objects, i, w)
    {
        const sql_node *items = field(unwrap(w, "List"), "items");
        size_t n = sql_node_size(items);
        const char *schema = "";

        if (n >= 2)
            schema = sfield(unwrap(sql_node_at(items, n - 2), "String"), "sval");
        if (!created_has_name(ck, schema, last_name(items)))
            return false;
    }
    return true;
}

static void check_drop(checker *ck, const sql_node *st)
{
    const char *type = sfield(st, "removeType");
    bool concurrent = bfield(st, "concurrent");

    if ((is(type, "OBJECT_TABLE") || is(type, "OBJECT_INDEX")) && !bfield(st, "missing_ok") &&
        !in_tx(ck))
        push(ck, R_ROBUST);
    if (is(type, "OBJECT_TABLE")) {
        if (!drop_all_created(ck, field(st, "objects"))) {
            push(ck, R_DROP_TABLE);
            needs_lock_timeout(ck);
        }
    } else if (is(type, "OBJECT_SCHEMA")) {
        push(ck, R_DROP_SCHEMA);
        needs_lock_timeout(ck);
    } else if (is(type, "OBJECT_INDEX")) {
        if (!concurrent) {
            push(ck, R_INDEX_DROP);
            needs_lock_timeout(ck);
        } else {
            concurrent_in_tx(ck);
        }
    }
}

static bool all_created(checker *ck, const sql_node *relations)
{
    size_t i;
    const sql_node *w;

    if (sql_node_size(relations) == 0)
        return false;
    node_foreach(relations, i, w)
    {
        if (!created_has(ck, unwrap(w, "RangeVar")))
            return false;
    }
    return true;
}

/* True when the option list turns name on: "FULL", "FULL true", "(FULL 1)", "(FULL on)";
 * "(FULL false)" and "(FULL 0)" turn it off. */
static bool option_on(const sql_node *list, const char *name)
{
    bool on = false;
    size_t i;
    const sql_node *w;

    node_foreach(list, i, w)
    {
        const sql_node *de = unwrap(w, "DefElem");
        const sql_node *arg = field(de, "arg");
        const char *sv;

        if (strcasecmp(sfield(de, "defname"), name) != 0)
            continue;
        if (!arg) {
            on = true;
            continue;
        }
        if (unwrap(arg, "Integer")) {
            on = node_int(field(unwrap(arg, "Integer"), "ival")) != 0;
            continue;
        }
        if (unwrap(arg, "Boolean")) {
            on = bfield(unwrap(arg, "Boolean"), "boolval");
            continue;
        }
        sv = sfield(unwrap(arg, "String"), "sval");
        on = !(strcasecmp(sv, "false") == 0 || strcasecmp(sv, "off") == 0 ||
               strcasecmp(sv, "no") == 0 || strcmp(sv, "0") == 0);
    }
    return on;
}

static const char *const tool_tx_safer =
    "turn the tool's transaction off for this migration alone (goose: -- +goose NO "
    "TRANSACTION; dbmate: transaction:false; Flyway: executeInTransaction=false or a "
    "migration of its own; Liquibase: runInTransaction:false; Atlas: -- atlas:txmode none)";

/* CONCURRENTLY where a transaction is open: the statement fails at run time. */
static void concurrent_in_tx(checker *ck)
{
    if (!in_tx(ck))
        return;
    if (ck->tx_implicit && ck->tx_mixed)
        push_full(ck, R_CONCURRENT_IN_TX, &ck->cur,
                  "Flyway runs this file in a transaction because its other statements need "
                  "one: CONCURRENTLY fails at run time",
                  "put the CONCURRENTLY statement in a migration of its own (Flyway then runs "
                  "it outside a transaction)");
    else if (ck->tx_implicit)
        push_full(ck, R_CONCURRENT_IN_TX, &ck->cur,
                  "the migration tool runs this file inside a transaction: CONCURRENTLY fails "
                  "at run time",
                  tool_tx_safer);
    else
        push(ck, R_CONCURRENT_IN_TX);
}

static void tx_end(checker *ck)
{
    ck->tx_depth = 0;
    ck->tx_implicit = false;
    ck->n_not_valid = 0;
}

static void check_transaction(checker *ck, const sql_node *st)
{
    const char *kind = sfield(st, "kind");

    if (is(kind, "TRANS_STMT_BEGIN") || is(kind, "TRANS_STMT_START")) {
        if (ck->tx_implicit)
            push_msg(ck, R_NESTED_TX,
                     "BEGIN inside the transaction the migration tool already wraps this file "
                     "in: it does not nest, and the file's COMMIT ends the tool's transaction");
        else if (in_tx(ck))
            push(ck, R_NESTED_TX);
        else
            ck->tx_begin = ck->cur;
        ck->tx_depth++;
    } else if (is(kind, "TRANS_STMT_COMMIT") || is(kind, "TRANS_STMT_ROLLBACK") ||
               is(kind, "TRANS_STMT_PREPARE")) {
        if (!in_tx(ck))
            push_msg(ck, R_NESTED_TX,
                     "COMMIT or ROLLBACK with no transaction open: it does nothing here, so "
                     "the statements before it were not in the transaction the author meant");
        else if (ck->tx_implicit)
            push_msg(ck, R_NESTED_TX,
                     "COMMIT or ROLLBACK ends the transaction the migration tool wraps this "
                     "file in: what follows runs outside it, and the tool's own COMMIT finds "
                     "none");
        /* The first COMMIT ends the transaction however many BEGINs came before. */
        tx_end(ck);
    }
}

static void check_set(checker *ck, const sql_node *st)
{
    const char *kind = sfield(st, "kind"), *name = sfield(st, "name");
    bool *flag;
    const sql_node *arg;

    if (is(kind, "VAR_RESET_ALL")) {
        ck->lock_timeout = false;
        ck->statement_timeout = false;
        return;
    }
    if (strcasecmp(name, "lock_timeout") == 0)
        flag = &ck->lock_timeout;
    else if (strcasecmp(name, "statement_timeout") == 0)
        flag = &ck->statement_timeout;
    else
        return;
    if (!is(kind, "VAR_SET_VALUE")) {
        *flag = false;
        return;
    }
    /* 0 (as a number or a string) switches the timeout off. */
    arg = unwrap(sql_node_at(field(st, "args"), 0), "A_Const");
    if (field(arg, "ival"))
        *flag = node_int(field(field(arg, "ival"), "ival")) != 0;
    else
        *flag = !is(sfield(field(arg, "sval"), "sval"), "0");
}

/* UPDATE t SET a = 1, a = 2: PostgreSQL refuses it ("multiple assignments to same column");
 * assignments to different subscripts or fields of one column are allowed. */
static void check_update_targets(checker *ck, const sql_node *targets)
{
    size_t n = sql_node_size(targets);

    for (size_t i = 0; i < n; i++) {
        const sql_node *a = unwrap(sql_node_at(targets, i), "ResTarget");

        if (field(a, "indirection"))
            continue;
        for (size_t j = 0; j < i; j++) {
            const sql_node *b = unwrap(sql_node_at(targets, j), "ResTarget");

            if (!field(b, "indirection") && is(sfield(a, "name"), sfield(b, "name"))) {
                push(ck, R_DUP_ASSIGN);
                return;
            }
        }
    }
}

static bool word_char(char c)
{
    return c == '_' || c == '$' || (c >= '0' && c <= '9') ||
           ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (unsigned char)c >= 0x80;
}

/* An identifier over 63 bytes (NAMEDATALEN - 1) in the statement's text. The parse tree
 * cannot tell: PostgreSQL's scanner, and so libpg_query's, truncates names as it reads
 * them. Strings, dollar quotes and comments are skipped; a bare word that long can only be
 * a name, since no keyword is. */
static bool long_identifier(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        char c = s[i];

        if ((c == '-' && i + 1 < len && s[i + 1] == '-') ||
            (c == '/' && i + 1 < len && s[i + 1] == '*')) {
            size_t next = skip_blank(s, len, i);

            i = next > i ? next : len;
        } else if (c == '\'') {
            for (i++; i < len && s[i] != '\''; i++)
                ;
            i++;
        } else if (c == '"') {
            size_t n = 0;

            for (i++; i < len; i++) {
                if (s[i] == '"' && i + 1 < len && s[i + 1] == '"') {
                    i++;
                } else if (s[i] == '"') {
                    break;
                }
                n++;
            }
            if (n > 63)
                return true;
            i++;
        } else if (c == '$' && (i == 0 || !word_char(s[i - 1]))) {
            size_t end = dollar_quote_end(s, len, i);

            i = end ? end : i + 1; /* not a quote: $1, a parameter */
        } else if (word_char(c)) {
            size_t start = i;

            while (i < len && word_char(s[i]))
                i++;
            if (i - start > 63)
                return true;
        } else {
            i++;
        }
    }
    return false;
}

/* Statements that cannot run inside a transaction block. */
static bool non_transactional(const sql_node *wrapper)
{
    const sql_node *st;

    if ((st = unwrap(wrapper, "IndexStmt")))
        return bfield(st, "concurrent");
    if ((st = unwrap(wrapper, "DropStmt")))
        return bfield(st, "concurrent");
    if ((st = unwrap(wrapper, "ReindexStmt")))
        return option_on(field(st, "params"), "concurrently");
    if (unwrap(wrapper, "VacuumStmt") || unwrap(wrapper, "CreatedbStmt") ||
        unwrap(wrapper, "DropdbStmt") || unwrap(wrapper, "AlterSystemStmt"))
        return true;
    if ((st = unwrap(wrapper, "AlterTableStmt"))) {
        size_t i;
        const sql_node *w;

        node_foreach(field(st, "cmds"), i, w)
        {
            const sql_node *cmd = unwrap(w, "AlterTableCmd");

            if (is(sfield(cmd, "subtype"), "AT_DetachPartition") &&
                bfield(unwrap(field(cmd, "def"), "PartitionCmd"), "concurrent"))
                return true;
        }
    }
    return false;
}

static void check_reindex(checker *ck, const sql_node *st)
{
    bool concurrent = option_on(field(st, "params"), "concurrently");

    if (is(sfield(st, "kind"), "REINDEX_OBJECT_SYSTEM")) {
        push_full(ck, R_REINDEX, &ck->cur,
                  "REINDEX SYSTEM rebuilds every system catalog index under exclusive locks, "
                  "and cannot run CONCURRENTLY",
                  "run it by hand in a maintenance window, outside the migration");
        return;
    }
    if (!concurrent) {
        if (!created_has(ck, field(st, "relation"))) {
            push(ck, R_REINDEX);
            needs_lock_timeout(ck);
        }
    } else if (ck->opts.pg_version < 12) {
        push_msg(ck, R_NEEDS_NEWER_PG, "REINDEX ... CONCURRENTLY needs PostgreSQL 12 or later");
    } else {
        concurrent_in_tx(ck);
    }
}

static void check_create_table(checker *ck, const sql_node *st)
{
    size_t i;
    const sql_node *w;

    node_foreach(field(st, "tableElts"), i, w)
    {
        const sql_node *col = unwrap(w, "ColumnDef");

        if (col)
            check_column_type(ck, col);
    }
    /* IF NOT EXISTS may find the table there already, full of data: later statements on it
     * are graded as on any existing table. */
    if (bfield(st, "if_not_exists"))
        return;
    if (!in_tx(ck))
        push(ck, R_ROBUST);
    created_add(ck, field(st, "relation"));
}

static void check_statement(checker *ck, const sql_node *wrapper)
{
    const sql_node *st = first_member(wrapper);
    const char *type;

    if (!st)
        return;
    type = st->key;
    if (long_identifier(ck->text + ck->cur.start, ck->cur.end - ck->cur.start))
        push(ck, R_LONG_IDENT);
    if (is(type, "AlterTableStmt")) {
        check_alter_table(ck, st);
    } else if (is(type, "DropStmt")) {
        check_drop(ck, st);
    } else if (is(type, "DropdbStmt")) {
        push(ck, R_DROP_DATABASE);
    } else if (is(type, "TruncateStmt")) {
        if (!all_created(ck, field(st, "relations"))) {
            push(ck, is(sfield(st, "behavior"), "DROP_CASCADE") ? R_TRUNCATE_CASCADE : R_TRUNCATE);
            needs_lock_timeout(ck);
        }
    } else if (is(type, "DeleteStmt")) {
        if (!field(st, "whereClause") && !created_has(ck, field(st, "relation")))
            push(ck, R_DELETE_ALL);
    } else if (is(type, "UpdateStmt")) {
        check_update_targets(ck, field(st, "targetList"));
        if (!field(st, "whereClause") && !created_has(ck, field(st, "relation")))
            push(ck, R_UPDATE_ALL);
    } else if (is(type, "IndexStmt")) {
        if (!bfield(st, "if_not_exists") && !in_tx(ck))
            push(ck, R_ROBUST);
        if (bfield(st, "concurrent"))
            concurrent_in_tx(ck);
        else if (!created_has(ck, field(st, "relation")))
            push(ck, R_INDEX_CREATE);
    } else if (is(type, "RenameStmt")) {
        const char *rt = sfield(st, "renameType");

        if (created_has(ck, field(st, "relation")))
            return;
        if (is(rt, "OBJECT_TABLE"))
            push(ck, R_RENAME_TABLE);
        else if (is(rt, "OBJECT_COLUMN") && is(sfield(st, "relationType"), "OBJECT_TABLE"))
            push(ck, R_RENAME_COLUMN);
        if (field(st, "relation"))
            needs_lock_timeout(ck);
    } else if (is(type, "ReindexStmt")) {
        check_reindex(ck, st);
    } else if (is(type, "VacuumStmt")) {
        if (option_on(field(st, "options"), "full")) {
            push(ck, R_REPACK);
            needs_lock_timeout(ck);
        }
    } else if (is(type, "ClusterStmt")) {
        push(ck, R_REPACK);
        needs_lock_timeout(ck);
    } else if (is(type, "AlterDomainStmt")) {
        const sql_node *con = unwrap(field(st, "def"), "Constraint");

        if (is(sfield(st, "subtype"), "C") && con && !bfield(con, "skip_validation"))
            push(ck, R_DOMAIN_CHECK);
    } else if (is(type, "CreateDomainStmt")) {
        size_t i;
        const sql_node *w;

        node_foreach(field(st, "constraints"), i, w)
        {
            if (is(sfield(unwrap(w, "Constraint"), "contype"), "CONSTR_CHECK")) {
                push(ck, R_CREATE_DOMAIN_CHECK);
                break;
            }
        }
    } else if (is(type, "TransactionStmt")) {
        check_transaction(ck, st);
    } else if (is(type, "VariableSetStmt")) {
        check_set(ck, st);
    } else if (is(type, "CreateStmt")) {
        check_create_table(ck, st);
    }
}

/* Grades the statements of one parse tree whose text starts at base and spans len bytes. */
static void grade_tree(checker *ck, const sql_tree *root, size_t base, size_t len)
{
    const sql_node *w;
    size_t i;

    node_foreach(field(sql_tree_root(root), "stmts"), i, w)
    {
        long long loc = node_int(field(w, "stmt_location"));
        long long slen = node_int(field(w, "stmt_len"));
        size_t start, end;

        if (loc < 0 || (size_t)loc > len || slen < 0)
            continue;
        start = base + (size_t)loc;
        end = slen == 0 || (size_t)slen > len - (size_t)loc ? base + len : start + (size_t)slen;
        set_span(ck, start, end);
        check_statement(ck, field(w, "stmt"));
        if (ck->rc < 0)
            break;
    }
}

/* Grades the statements of one parse tree (libpg_query's JSON) whose text starts at base
 * and spans len bytes. Returns 1 when the tree cannot be read (too deep for jansson) and
 * nothing was graded. */
static int check_tree(checker *ck, const char *tree, size_t base, size_t len)
{
    sql_tree *root;

    if (sql_tree_parse(tree, &root) != 0)
        return 1;
    grade_tree(ck, root, base, len);
    sql_tree_free(root);
    return 0;
}

/* Parses the len bytes at start alone (the caller's split says they hold one statement) and
 * grades them. Parsing statement by statement keeps one small tree in memory at a time, so
 * that a file of many megabytes costs no more memory than its largest statement. */
static void check_one(checker *ck, size_t start, size_t len)
{
    PgQueryParseResult r;
    char *piece = core_strndup(ck->text + start, len);

    if (!piece) {
        ck->rc = CORE_ENOMEM;
        return;
    }
    r = pg_query_parse(piece);
    if (r.error) {
        set_span(ck, start, start + len);
        push_unparsable(ck, r.error->message ? r.error->message : "syntax error");
    } else if (check_tree(ck, r.parse_tree, start, len) != 0) {
        set_span(ck, start, start + len);
        push_unparsable(ck, "statement nested too deeply to check");
    }
    pg_query_free_parse_result(r);
    free(piece);
}

/* Offset of the ';' that ends the statement starting at pos (or len): quoted text, quoted
 * names, dollar quotes and comments are skipped. Used only after a parse error, to go on
 * with the statements that follow a broken one. */
static size_t statement_end(const char *s, size_t len, size_t pos)
{
    size_t i = pos;

    while (i < len) {
        char c = s[i];
        bool ident_before = i > pos && (s[i - 1] == '_' || s[i - 1] == '$' ||
                                        (s[i - 1] >= '0' && s[i - 1] <= '9') ||
                                        ((s[i - 1] | 0x20) >= 'a' && (s[i - 1] | 0x20) <= 'z'));

        if (c == ';')
            return i;
        if ((c == '-' && i + 1 < len && s[i + 1] == '-') ||
            (c == '/' && i + 1 < len && s[i + 1] == '*')) {
            size_t next = skip_blank(s, len, i);

            i = next > i ? next : i + 1;
        } else if (c == '\'' || c == '"') {
            /* E'...' strings take backslash escapes; '' and "" are a quote inside. */
            bool esc = c == '\'' && i > pos && (s[i - 1] | 0x20) == 'e' &&
                       (i - 1 == pos || !((s[i - 2] | 0x20) >= 'a' && (s[i - 2] | 0x20) <= 'z'));

            for (i++; i < len && s[i] != c; i++) {
                if (esc && s[i] == '\\' && i + 1 < len)
                    i++;
            }
            i++;
        } else if (c == '$' && !ident_before) {
            size_t end = dollar_quote_end(s, len, i);

            i = end ? end : i + 1;
        } else {
            i++;
        }
    }
    return len;
}

/* Statements as libpg_query's parser split the file: byte offsets into it. */
typedef struct stmt_span {
    size_t loc, len;
} stmt_span;

typedef struct stmt_spans {
    stmt_span *items;
    size_t count, cap;
} stmt_spans;

/* The file is parsed this many bytes at a time (more when a statement is longer): parsing
 * builds the raw tree and the JSON tree of all it is given, each many times the text's size.
 * 64 KiB inspected a 5 MB file as fast as 256 KiB did, with half the peak memory. */
#define SPLIT_CHUNK ((size_t)64 * 1024)

static int spans_push(stmt_spans *sp, size_t loc, size_t len)
{
    void *items = sp->items;
    int rc = core_array_room(&items, &sp->cap, sp->count, sizeof(*sp->items), 256);

    sp->items = items;
    if (rc < 0)
        return rc;
    sp->items[sp->count++] = (stmt_span){loc, len};
    return 0;
}

/* Splits the file's bytes [start, end) with the parser and appends their statements to sp.
 * 0; 1 when they do not parse (nothing appended); CORE_ENOMEM. */
static int split_range(const checker *ck, size_t start, size_t end, stmt_spans *sp)
{
    char *piece = core_strndup(ck->text + start, end - start);
    PgQuerySplitResult r;
    int rc = 0;

    if (!piece)
        return CORE_ENOMEM;
    r = pg_query_split_with_parser(piece);
    if (r.error)
        rc = 1;
    for (int i = 0; rc == 0 && i < r.n_stmts; i++) {
        size_t loc = (size_t)r.stmts[i]->stmt_location, len = (size_t)r.stmts[i]->stmt_len;

        if (r.stmts[i]->stmt_location < 0 || r.stmts[i]->stmt_len < 0 || loc > end - start)
            continue;
        if (len == 0 || len > end - start - loc)
            len = end - start - loc;
        rc = spans_push(sp, start + loc, len);
    }
    pg_query_free_split_result(r);
    free(piece);
    return rc;
}

/* Where a chunk from start of at least want bytes ends: just after a statement's ';' as
 * statement_end sees it, or at the end of the file. */
static size_t chunk_end(const checker *ck, size_t start, size_t want)
{
    size_t pos = start;

    while (pos < ck->len && pos - start < want) {
        size_t s = skip_blank(ck->text, ck->len, pos);

        if (s >= ck->len)
            return ck->len;
        pos = statement_end(ck->text, ck->len, s) + 1;
    }
    return pos < ck->len ? pos : ck->len;
}

/* Splits the whole file into sp, a chunk at a time. A chunk whose split fails (a ';' that
 * statement_end took for an end but the grammar does not, as in a BEGIN ATOMIC body, or a
 * real syntax error) is tried again twice as long, up to the end of the file. Returns 1
 * when the rest of the file does not parse; CORE_ENOMEM. */
static int split_file(const checker *ck, stmt_spans *sp)
{
    size_t start = 0;

    while (start < ck->len) {
        size_t want = SPLIT_CHUNK, end, before = sp->count;
        int rc;

        for (;;) {
            end = chunk_end(ck, start, want);
            rc = split_range(ck, start, end, sp);
            if (rc != 1 || end >= ck->len)
                break;
            sp->count = before;
            want *= 2;
        }
        if (rc != 0)
            return rc;
        start = end;
    }
    return 0;
}

/* Whether the len bytes at start (one statement) cannot run inside a transaction block. */
static bool piece_non_transactional(const checker *ck, size_t start, size_t len)
{
    PgQueryParseResult r;
    char *piece = core_strndup(ck->text + start, len);
    bool outside = false;

    if (!piece)
        return false;
    r = pg_query_parse(piece);
    if (!r.error) {
        sql_tree *root = NULL;
        const sql_node *w;
        size_t i;

        if (sql_tree_parse(r.parse_tree, &root) == 0) {
            node_foreach(field(sql_tree_root(root), "stmts"), i, w)
            {
                outside |= non_transactional(field(w, "stmt"));
            }
        }
        sql_tree_free(root);
    }
    pg_query_free_parse_result(r);
    free(piece);
    return outside;
}

/* Flyway runs a file made only of statements that must run outside a transaction outside
 * one; a file that mixes them with others is flagged. Decided once for the whole file,
 * before any statement is graded, hence a pass of its own (Flyway files only). */
static void autodetect_tx(checker *ck, const stmt_spans *sp)
{
    size_t outside = 0;

    for (size_t i = 0; i < sp->count; i++)
        outside += piece_non_transactional(ck, sp->items[i].loc, sp->items[i].len);
    if (outside > 0 && outside == sp->count)
        tx_end(ck);
    else if (outside > 0)
        ck->tx_mixed = true;
    ck->opts.tx_autodetect = false;
}

/* Grades the statements that libpg_query's parser split the file into, each parsed again
 * alone: for Flyway files, whose transaction is decided from every statement before any is
 * graded. Returns 1 when the file does not parse as a whole (nothing graded). */
static int check_spans(checker *ck)
{
    stmt_spans sp = {0};
    int rc = split_file(ck, &sp);

    if (rc == CORE_ENOMEM)
        ck->rc = rc;
    if (rc != 0) {
        free(sp.items);
        return rc == 1;
    }
    if (ck->opts.tx_autodetect && ck->tx_implicit)
        autodetect_tx(ck, &sp);
    for (size_t i = 0; i < sp.count && ck->rc == 0; i++)
        check_one(ck, sp.items[i].loc, sp.items[i].len);
    free(sp.items);
    return 0;
}

/* Parses the file's bytes [start, end) once and grades their statements from that one
 * tree: the statements' offsets are in it, so the parser need not split them first and
 * then read each again. 0; 1 when the bytes do not parse (nothing graded). A tree too
 * deep to read is graded statement by statement instead (split, then each parsed alone). */
static int check_range(checker *ck, size_t start, size_t end)
{
    char *piece = core_strndup(ck->text + start, end - start);
    PgQueryParseResult r;
    int rc = 0;

    if (!piece) {
        ck->rc = CORE_ENOMEM;
        return 0;
    }
    r = pg_query_parse(piece);
    if (r.error) {
        rc = 1;
    } else if (check_tree(ck, r.parse_tree, start, end - start) != 0) {
        stmt_spans sp = {0};

        rc = split_range(ck, start, end, &sp);
        if (rc == CORE_ENOMEM)
            ck->rc = rc;
        for (size_t i = 0; rc == 0 && i < sp.count && ck->rc == 0; i++)
            check_one(ck, sp.items[i].loc, sp.items[i].len);
        free(sp.items);
        rc = rc == 1;
    }
    pg_query_free_parse_result(r);
    free(piece);
    return rc;
}

/* Drops what the findings gained since they held count findings and n_omitted briefs. */
static void findings_truncate(policy_findings *f, size_t count, size_t n_omitted)
{
    for (size_t i = count; i < f->count; i++) {
        free(f->items[i].statement);
        free(f->items[i].message);
        free(f->items[i].suppression);
    }
    f->count = count;
    f->n_omitted = n_omitted;
}

/* Puts the checker and its findings back as they were before anything was graded. */
static void undo_grading(checker *ck, const checker *before, size_t count, size_t n_omitted)
{
    findings_truncate(ck->out, count, n_omitted);
    for (size_t i = before->n_created; i < ck->n_created; i++) {
        free(ck->created_schema[i]);
        free(ck->created_name[i]);
    }
    *ck = *before;
}

/* ---- chunks parsed on worker threads ---------------------------------------------------- */

/* Parser threads at most, and chunks parsed ahead of the grading at most: each parsed
 * chunk holds its tree (about 2 MB for 64 KiB of SQL) until it is graded. */
#define PARSE_THREADS_MAX 4
#define PARSE_AHEAD 4

typedef struct parsed_chunk {
    size_t start, end;
    sql_tree *root; /* NULL when the chunk does not parse or its tree cannot be read */
    bool done;
} parsed_chunk;

/* Shared by the grading thread and the parser threads; mu guards next, graded, stop and
 * each chunk's done (a chunk's root belongs to the worker that took it until done). */
typedef struct parse_pool {
    const char *text;
    parsed_chunk *chunks;
    size_t n, next, graded;
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t parsed; /* a chunk is done */
    pthread_cond_t room;   /* a chunk was graded, or stop */
} parse_pool;

/* The tree of text's bytes [start, end), or NULL when they do not parse, the tree cannot be
 * read or memory runs out (the sequential path then finds out which). */
static sql_tree *parse_chunk(const char *text, size_t start, size_t end)
{
    char *piece = core_strndup(text + start, end - start);
    PgQueryParseResult r;
    sql_tree *root = NULL;

    if (!piece)
        return NULL;
    r = pg_query_parse(piece);
    if (!r.error && sql_tree_parse(r.parse_tree, &root) != 0)
        root = NULL;
    pg_query_free_parse_result(r);
    free(piece);
    return root;
}

/* A parser thread: takes the next chunk not yet taken, no more than PARSE_AHEAD past the
 * last one graded. libpg_query keeps a memory context per thread, which it frees itself
 * when the thread exits (pg_query.h); nothing of it outlives the thread. */
static void *parse_worker(void *arg)
{
    parse_pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        parsed_chunk *c;

        while (!p->stop && p->next < p->n && p->next >= p->graded + PARSE_AHEAD)
            pthread_cond_wait(&p->room, &p->mu);
        if (p->stop || p->next >= p->n)
            break;
        c = &p->chunks[p->next++];
        pthread_mutex_unlock(&p->mu);
        c->root = parse_chunk(p->text, c->start, c->end);
        pthread_mutex_lock(&p->mu);
        c->done = true;
        pthread_cond_broadcast(&p->parsed);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* How many parser threads: the online processors, at most PARSE_THREADS_MAX. */
static size_t parse_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > PARSE_THREADS_MAX ? PARSE_THREADS_MAX : (size_t)n;
}

/* Grades the chunks in order on this thread while nthreads threads parse the next ones.
 * 0: all graded (or memory ran out, in ck->rc); 1: a chunk did not parse or its tree
 * could not be read, and grading stopped there (the caller undoes it and goes the
 * sequential way, which knows what to do then); 2: nothing done (one chunk, or no thread
 * could start). The chunks end where the sequential path's first try ends them. */
static int check_parallel(checker *ck, size_t nthreads)
{
    parse_pool p = {.text = ck->text};
    pthread_t threads[PARSE_THREADS_MAX];
    size_t started = 0, cap = 0, start = 0;
    int rc = 0;

    while (start < ck->len) {
        void *items = p.chunks;
        size_t end = chunk_end(ck, start, SPLIT_CHUNK);

        rc = core_array_room(&items, &cap, p.n, sizeof(*p.chunks), 16);
        p.chunks = items;
        if (rc < 0) {
            free(p.chunks);
            return 2;
        }
        p.chunks[p.n++] = (parsed_chunk){start, end, NULL, false};
        start = end;
    }
    if (p.n < 2) {
        free(p.chunks);
        return 2;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.parsed, NULL);
    pthread_cond_init(&p.room, NULL);
    for (; started < nthreads && started < PARSE_THREADS_MAX; started++) {
        if (pthread_create(&threads[started], NULL, parse_worker, &p) != 0)
            break;
    }
    rc = started == 0 ? 2 : 0;
    for (size_t i = 0; rc == 0 && i < p.n && ck->rc == 0; i++) {
        parsed_chunk *c = &p.chunks[i];

        pthread_mutex_lock(&p.mu);
        while (!c->done)
            pthread_cond_wait(&p.parsed, &p.mu);
        pthread_mutex_unlock(&p.mu);
        if (!c->root) {
            rc = 1;
            break;
        }
        grade_tree(ck, c->root, c->start, c->end - c->start);
        sql_tree_free(c->root);
        c->root = NULL;
        pthread_mutex_lock(&p.mu);
        p.graded = i + 1;
        pthread_cond_broadcast(&p.room);
        pthread_mutex_unlock(&p.mu);
    }
    pthread_mutex_lock(&p.mu);
    p.stop = true;
    pthread_cond_broadcast(&p.room);
    pthread_mutex_unlock(&p.mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < p.n; i++)
        sql_tree_free(p.chunks[i].root);
    pthread_cond_destroy(&p.room);
    pthread_cond_destroy(&p.parsed);
    pthread_mutex_destroy(&p.mu);
    free(p.chunks);
    return rc;
}

/* Grades the file a chunk at a time (SPLIT_CHUNK bytes ending after a ';', twice as long
 * when a chunk does not parse, as split_file cuts them), each chunk parsed once; on a
 * machine of several processors, chunks are parsed on worker threads ahead of the grading,
 * which stays in order on this thread. Grading goes along with parsing, but a file that
 * turns out not to parse as a whole must be graded as if nothing had been: what was
 * graded is then undone. Returns 1 when the file does not parse as a whole (nothing
 * graded). */
static int check_split(checker *ck)
{
    checker before = *ck;
    size_t count = ck->out->count, n_omitted = ck->out->n_omitted, start = 0, nthreads;
    int rc = 0;

    if (ck->opts.tx_autodetect && ck->tx_implicit)
        return check_spans(ck);
    nthreads = parse_threads();
    if (nthreads > 1) {
        rc = check_parallel(ck, nthreads);
        if (rc == 0)
            return 0;
        /* A chunk that does not parse: twice as long, or a parse error; both are rare. */
        if (rc == 1)
            undo_grading(ck, &before, count, n_omitted);
    }
    rc = 0;
    while (start < ck->len && ck->rc == 0) {
        size_t want = SPLIT_CHUNK, end;

        for (;;) {
            end = chunk_end(ck, start, want);
            rc = check_range(ck, start, end);
            if (rc != 1 || end >= ck->len)
                break;
            want *= 2;
        }
        if (rc == 1)
            break;
        start = end;
    }
    if (rc != 1 || ck->rc < 0)
        return 0;
    undo_grading(ck, &before, count, n_omitted);
    return 1;
}

/* After a parse error: each statement parsed alone, so that one broken statement becomes a
 * finding at its own line and the ones after it are still graded. */
static void check_pieces(checker *ck)
{
    size_t pos = 0, pieces = 0;

    while (pos < ck->len && ck->rc == 0) {
        size_t start = skip_blank(ck->text, ck->len, pos), end;
        PgQueryParseResult r;
        char *piece;

        if (start >= ck->len)
            break;
        end = statement_end(ck->text, ck->len, start);
        pos = end + 1;
        if (end == start)
            continue;
        set_span(ck, start, end);
        if (++pieces > PIECES_MAX) {
            push_unparsable(ck, "too many statements after a parse error; the rest was not read");
            break;
        }
        piece = core_strndup(ck->text + start, end - start);
        if (!piece) {
            ck->rc = CORE_ENOMEM;
            break;
        }
        r = pg_query_parse(piece);
        if (r.error) {
            push_unparsable(ck, r.error->message ? r.error->message : "syntax error");
        } else if (check_tree(ck, r.parse_tree, start, end - start) != 0) {
            set_span(ck, start, end);
            push_unparsable(ck, "statement nested too deeply to check");
        }
        pg_query_free_parse_result(r);
        free(piece);
    }
}

/* The offset of the first NUL byte or invalid UTF-8 sequence, or len. */
static size_t first_bad_byte(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;

        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (n >= len - i)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += n + 1;
    }
    return len;
}

int policy_sql_check(const char *sql, size_t len, policy_findings *out, core_error *err)
{
    return policy_sql_check_with(sql, len, NULL, out, err);
}

int policy_sql_check_with(const char *sql, size_t len, const policy_sql_options *opts,
                          policy_findings *out, core_error *err)
{
    checker ck = {0};
    char *text = NULL;
    size_t bad;

    CORE_ASSERT(out && (sql || len == 0));
    if (opts)
        ck.opts = *opts;
    if (ck.opts.pg_version == 0)
        ck.opts.pg_version = POLICY_PG_DEFAULT;
    if (ck.opts.implicit_tx) {
        ck.tx_depth = 1;
        ck.tx_implicit = true;
    }
    if (len > POLICY_SQL_MAX)
        return core_error_set(err, CORE_ETOOBIG, "sql of %zu bytes is over %d", len,
                              POLICY_SQL_MAX);
    ck.len = len;
    ck.out = out;
    ck.line_no = 1;
    ck.text = sql ? sql : "";
    bad = first_bad_byte((const unsigned char *)ck.text, len);
    if (bad < len) {
        set_span(&ck, bad, bad);
        push_unparsable(&ck, ck.text[bad] ? "not valid UTF-8 text" : "a NUL byte in the text");
        goto out;
    }
    /* libpg_query reads a C string; sql need not be one. */
    text = core_strndup(ck.text, len);
    if (!text) {
        ck.rc = CORE_ENOMEM;
        goto out;
    }
    ck.text = text;
    if (check_split(&ck) != 0) {
        /* statement by statement, the file's content is not known as a whole */
        ck.opts.tx_autodetect = false;
        check_pieces(&ck);
    }
    if (ck.tx_depth > 0 && !ck.tx_implicit && ck.rc == 0)
        push_at(&ck, R_UNCOMMITTED, &ck.tx_begin, NULL);
out:
    for (size_t i = 0; i < ck.n_created; i++) {
        free(ck.created_schema[i]);
        free(ck.created_name[i]);
    }
    free(text);
    if (ck.rc < 0)
        return core_error_set(err, ck.rc, "out of memory");
    return 0;
}
