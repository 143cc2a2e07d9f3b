/* SQL risk rules: every statement of a PostgreSQL migration, parsed with libpg_query and
 * graded against a table of rules (what it locks, whether it rewrites or scans the table,
 * what to do instead). This is the only file that includes libpg_query; its rules: each
 * pg_query_* result is released with its own pg_query_free_* function, error or not; calls
 * are thread-safe; locations in the parse tree are byte offsets into the input. The tree
 * comes as JSON, read here with jansson (json_decref releases what json_loads returns). */
#include "policies/policies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
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
    [R_REINDEX] = {"require-concurrent-reindex", W, "SHARE", false, true,
                   "REINDEX without CONCURRENTLY blocks writes, and reads that use the index, "
                   "for the whole build",
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
    int rc;          /* first CORE_ENOMEM */
    size_t line_pos; /* line counting resumes here */
    int line_no;     /* the line of line_pos */
    span cur;        /* the statement being graded */
    int tx_depth;
    span tx_begin;
    bool lock_timeout;
    bool lock_timeout_reported;
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

static void push_at(checker *ck, int r, const span *sp, const char *message)
{
    const policy_sql_rule *rule = &rules[r];
    int rc;

    if (ck->rc < 0)
        return;
    rc = policy_findings_push(ck->out, rule->id, rule->severity, sp->line, ck->text + sp->start,
                              sp->end - sp->start, message ? message : rule->message, rule->safer,
                              rule->lock, rule->rewrites, rule->scans);
    if (rc < 0)
        ck->rc = rc;
}

static void push(checker *ck, int r)
{
    push_at(ck, r, &ck->cur, NULL);
}

static void push_unparsable(checker *ck, const char *why)
{
    char msg[300];

    snprintf(msg, sizeof(msg), "unparsable SQL at line %d: %s", ck->cur.line, why);
    push_at(ck, R_UNPARSABLE, &ck->cur, msg);
}

/* ---- reading the tree -------------------------------------------------------------------- */

static json_t *field(json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static const char *sfield(json_t *o, const char *k)
{
    const char *s = json_string_value(field(o, k));

    return s ? s : "";
}

static bool bfield(json_t *o, const char *k)
{
    return json_is_true(field(o, k));
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* {"Type": {...}} -> the inner object when the wrapper holds that type. */
static json_t *unwrap(json_t *w, const char *type)
{
    json_t *in = field(w, type);

    return json_is_object(in) ? in : NULL;
}

/* The last name of a qualified name list [{"String":{"sval":"pg_catalog"}},{"String":...}]. */
static const char *last_name(json_t *list)
{
    size_t n = json_array_size(list);

    return n ? sfield(unwrap(json_array_get(list, n - 1), "String"), "sval") : "";
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

static bool created_has(const checker *ck, json_t *rangevar)
{
    return created_has_name(ck, sfield(rangevar, "schemaname"), sfield(rangevar, "relname"));
}

static void created_add(checker *ck, json_t *rangevar)
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

/* Functions whose value changes per row, so that a default made of them fills every existing
 * row with its own value: a rewrite. now() and friends are STABLE and do not count. */
static bool volatile_function(const char *name)
{
    static const char *const names[] = {
        "random",           "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
        "uuid_generate_v4", "clock_timestamp", "timeofday",        "nextval",
        "gen_random_bytes", "txid_current",    "random_normal",    "uuid_generate_v7",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* True when any FuncCall in the expression tree calls a volatile function. The tree's depth
 * is bounded by jansson's parser (2048 levels). */
static bool expr_volatile(json_t *node)
{
    if (json_is_object(node)) {
        const char *key;
        json_t *val;
        json_t *fc = unwrap(node, "FuncCall");

        if (fc && volatile_function(last_name(field(fc, "funcname"))))
            return true;
        json_object_foreach(node, key, val)
        {
            if (expr_volatile(val))
                return true;
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *val;

        json_array_foreach(node, i, val)
        {
            if (expr_volatile(val))
                return true;
        }
    }
    return false;
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
}

static void check_constraint(checker *ck, json_t *con)
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

static void check_add_column(checker *ck, json_t *coldef)
{
    static const char *const serials[] = {"smallserial", "serial",  "bigserial",
                                          "serial2",     "serial4", "serial8"};
    const char *type = last_name(field(field(coldef, "typeName"), "names"));
    bool not_null = false, has_default = false, rewrite = false;
    size_t i;
    json_t *w;

    for (size_t k = 0; k < sizeof(serials) / sizeof(serials[0]); k++) {
        if (strcasecmp(type, serials[k]) == 0)
            rewrite = true;
    }
    json_array_foreach(field(coldef, "constraints"), i, w)
    {
        json_t *con = unwrap(w, "Constraint");
        const char *ct = sfield(con, "contype");

        if (is(ct, "CONSTR_NOTNULL")) {
            not_null = true;
        } else if (is(ct, "CONSTR_DEFAULT")) {
            has_default = true;
            if (expr_volatile(field(con, "raw_expr")))
                rewrite = true;
        } else if (is(ct, "CONSTR_GENERATED") || is(ct, "CONSTR_IDENTITY")) {
            rewrite = true;
        } else {
            check_constraint(ck, con);
        }
    }
    if (rewrite)
        push(ck, R_VOLATILE_DEFAULT);
    else if (not_null && !has_default)
        push(ck, R_REQUIRED_FIELD);
}

/* Whether one ALTER TABLE sub-command takes ACCESS EXCLUSIVE (PostgreSQL's
 * AlterTableGetLockLevel, reduced to the cases that take something weaker). */
static bool cmd_takes_access_exclusive(const char *sub, json_t *cmd)
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
static void proof_add(checker *ck, const char *table, json_t *con)
{
    json_t *nt = unwrap(field(con, "raw_expr"), "NullTest");
    json_t *fields = field(unwrap(field(nt, "arg"), "ColumnRef"), "fields");

    if (!nt || !is(sfield(nt, "nulltesttype"), "IS_NOT_NULL") || json_array_size(fields) != 1 ||
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

static void proof_validate(checker *ck, const char *table, const char *constraint)
{
    for (size_t i = 0; i < ck->n_proofs; i++) {
        if (is(ck->proofs[i].table, table) && is(ck->proofs[i].constraint, constraint))
            ck->proofs[i].validated = true;
    }
}

static bool proof_holds(const checker *ck, const char *table, const char *column)
{
    for (size_t i = 0; i < ck->n_proofs; i++) {
        if (ck->proofs[i].validated && is(ck->proofs[i].table, table) &&
            is(ck->proofs[i].column, column))
            return true;
    }
    return false;
}

static void check_alter_table(checker *ck, json_t *st)
{
    const char *table = sfield(field(st, "relation"), "relname");
    bool fresh = created_has(ck, field(st, "relation")), exclusive = false;
    size_t i;
    json_t *w;

    if (!is(sfield(st, "objtype"), "OBJECT_TABLE") || fresh)
        return;
    json_array_foreach(field(st, "cmds"), i, w)
    {
        json_t *cmd = unwrap(w, "AlterTableCmd");
        json_t *def = field(cmd, "def");
        const char *sub = sfield(cmd, "subtype");

        if (cmd_takes_access_exclusive(sub, cmd))
            exclusive = true;
        if (is(sub, "AT_DropColumn")) {
            push(ck, R_DROP_COLUMN);
        } else if (is(sub, "AT_AlterColumnType")) {
            push(ck, R_COLUMN_TYPE);
        } else if (is(sub, "AT_SetNotNull")) {
            if (!proof_holds(ck, table, sfield(cmd, "name")))
                push(ck, R_SET_NOT_NULL);
        } else if (is(sub, "AT_DropNotNull")) {
            push(ck, R_DROP_NOT_NULL);
        } else if (is(sub, "AT_AddColumn")) {
            check_add_column(ck, unwrap(def, "ColumnDef"));
        } else if (is(sub, "AT_AddConstraint")) {
            proof_add(ck, table, unwrap(def, "Constraint"));
            check_constraint(ck, unwrap(def, "Constraint"));
        } else if (is(sub, "AT_ValidateConstraint")) {
            proof_validate(ck, table, sfield(cmd, "name"));
        } else if (is(sub, "AT_DropConstraint")) {
            const char *name = sfield(cmd, "name");
            size_t n = strlen(name);

            if (n >= 4 && strcasecmp(name + n - 4, "pkey") == 0)
                push(ck, R_CHANGE_PK);
        } else if (is(sub, "AT_DetachPartition")) {
            if (!bfield(unwrap(def, "PartitionCmd"), "concurrent"))
                push(ck, R_DETACH);
            else if (in_tx(ck))
                push(ck, R_CONCURRENT_IN_TX);
        }
    }
    if (exclusive)
        needs_lock_timeout(ck);
}

/* True when every object of a DROP TABLE was created earlier in this file. */
static bool drop_all_created(checker *ck, json_t *objects)
{
    size_t i;
    json_t *w;

    if (json_array_size(objects) == 0)
        return false;
    json_array_foreach(objects, i, w)
    {
        json_t *items = field(unwrap(w, "List"), "items");
        size_t n = json_array_size(items);
        const char *schema = "";

        if (n >= 2)
            schema = sfield(unwrap(json_array_get(items, n - 2), "String"), "sval");
        if (!created_has_name(ck, schema, last_name(items)))
            return false;
    }
    return true;
}

static void check_drop(checker *ck, json_t *st)
{
    const char *type = sfield(st, "removeType");
    bool concurrent = bfield(st, "concurrent");

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
        } else if (in_tx(ck)) {
            push(ck, R_CONCURRENT_IN_TX);
        }
    }
}

static bool all_created(checker *ck, json_t *relations)
{
    size_t i;
    json_t *w;

    if (json_array_size(relations) == 0)
        return false;
    json_array_foreach(relations, i, w)
    {
        if (!created_has(ck, unwrap(w, "RangeVar")))
            return false;
    }
    return true;
}

static bool has_option(json_t *list, const char *name)
{
    size_t i;
    json_t *w;

    json_array_foreach(list, i, w)
    {
        if (strcasecmp(sfield(unwrap(w, "DefElem"), "defname"), name) == 0)
            return true;
    }
    return false;
}

static void check_transaction(checker *ck, json_t *st)
{
    const char *kind = sfield(st, "kind");

    if (is(kind, "TRANS_STMT_BEGIN") || is(kind, "TRANS_STMT_START")) {
        if (in_tx(ck))
            push(ck, R_NESTED_TX);
        else
            ck->tx_begin = ck->cur;
        ck->tx_depth++;
    } else if (is(kind, "TRANS_STMT_COMMIT") || is(kind, "TRANS_STMT_ROLLBACK") ||
               is(kind, "TRANS_STMT_PREPARE")) {
        /* The first COMMIT ends the transaction however many BEGINs came before. */
        ck->tx_depth = 0;
    }
}

static void check_set(checker *ck, json_t *st)
{
    const char *kind = sfield(st, "kind");
    json_t *arg;

    if (is(kind, "VAR_RESET_ALL")) {
        ck->lock_timeout = false;
        return;
    }
    if (strcasecmp(sfield(st, "name"), "lock_timeout") != 0)
        return;
    if (!is(kind, "VAR_SET_VALUE")) {
        ck->lock_timeout = false;
        return;
    }
    /* 0 (as a number or a string) switches the timeout off. */
    arg = unwrap(json_array_get(field(st, "args"), 0), "A_Const");
    if (field(arg, "ival"))
        ck->lock_timeout = json_integer_value(field(field(arg, "ival"), "ival")) != 0;
    else
        ck->lock_timeout = !is(sfield(field(arg, "sval"), "sval"), "0");
}

static void check_statement(checker *ck, json_t *wrapper)
{
    const char *type = NULL;
    json_t *st = NULL;
    void *iter = json_object_iter(wrapper);

    if (!iter)
        return;
    type = json_object_iter_key(iter);
    st = json_object_iter_value(iter);
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
        if (!field(st, "whereClause") && !created_has(ck, field(st, "relation")))
            push(ck, R_UPDATE_ALL);
    } else if (is(type, "IndexStmt")) {
        if (bfield(st, "concurrent")) {
            if (in_tx(ck))
                push(ck, R_CONCURRENT_IN_TX);
        } else if (!created_has(ck, field(st, "relation"))) {
            push(ck, R_INDEX_CREATE);
        }
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
        if (!has_option(field(st, "params"), "concurrently")) {
            push(ck, R_REINDEX);
        } else if (in_tx(ck)) {
            push(ck, R_CONCURRENT_IN_TX);
        }
    } else if (is(type, "VacuumStmt")) {
        if (has_option(field(st, "options"), "full")) {
            push(ck, R_REPACK);
            needs_lock_timeout(ck);
        }
    } else if (is(type, "ClusterStmt")) {
        push(ck, R_REPACK);
        needs_lock_timeout(ck);
    } else if (is(type, "AlterDomainStmt")) {
        json_t *con = unwrap(field(st, "def"), "Constraint");

        if (is(sfield(st, "subtype"), "C") && con && !bfield(con, "skip_validation"))
            push(ck, R_DOMAIN_CHECK);
    } else if (is(type, "TransactionStmt")) {
        check_transaction(ck, st);
    } else if (is(type, "VariableSetStmt")) {
        check_set(ck, st);
    } else if (is(type, "CreateStmt")) {
        created_add(ck, field(st, "relation"));
    }
}

/* Grades the statements of one parse tree whose text starts at base and spans len bytes.
 * Returns 1 when the tree cannot be read (too deep for jansson) and nothing was graded. */
static int check_tree(checker *ck, const char *tree, size_t base, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loads(tree, 0, &jerr);
    json_t *stmts, *w;
    size_t i;

    if (!root)
        return 1;
    stmts = field(root, "stmts");
    json_array_foreach(stmts, i, w)
    {
        json_int_t loc = json_integer_value(field(w, "stmt_location"));
        json_int_t slen = json_integer_value(field(w, "stmt_len"));
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
    json_decref(root);
    return 0;
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
            size_t t = i + 1;

            while (t < len && (s[t] == '_' || (s[t] >= '0' && s[t] <= '9' && t > i + 1) ||
                               ((s[t] | 0x20) >= 'a' && (s[t] | 0x20) <= 'z')))
                t++;
            if (t < len && s[t] == '$') {
                size_t tag = t + 1 - i, j = t + 1;

                while (j + tag <= len && memcmp(s + j, s + i, tag) != 0)
                    j++;
                i = j + tag <= len ? j + tag : len;
            } else {
                i++;
            }
        } else {
            i++;
        }
    }
    return len;
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
    checker ck = {0};
    PgQueryParseResult r;
    char *text = NULL;
    size_t bad;

    CORE_ASSERT(out && (sql || len == 0));
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
    r = pg_query_parse(text);
    if (r.error || check_tree(&ck, r.parse_tree, 0, len) != 0)
        check_pieces(&ck);
    pg_query_free_parse_result(r);
    if (ck.tx_depth > 0 && ck.rc == 0)
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
