/* Migration recognition and the report: which changed files are schema migrations (a table
 * of framework patterns plus the policy's globs), what their non-SQL code destroys (by the
 * names of the framework's operations), whether the framework's tool runs them inside a
 * transaction, the zoneci:ignore comments and the policy's rule settings, and the JSON and
 * Markdown forms of the result. SQL files are handed to policy_sql_check_with (sqlrisk.c);
 * globs are git pathspecs (gitdiff.c). */
#include "policies/policies.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "policies/inspect.h"

#define MESSAGE_MAX 300
#define SCAN_LINE_MAX 4096
#define MD_STATEMENT_MAX 80

/* ---- findings ---------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (avail bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned cp;
    size_t n;

    if (avail == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* A copy of s (len bytes) with runs of blanks made one space, cut to at most max bytes at a
 * character boundary with "…" after a cut. Invalid bytes are kept: the writers replace them. */
static char *collapse(const char *s, size_t len, size_t max)
{
    char *out = malloc(max + sizeof("…"));
    size_t o = 0, i = 0;
    bool space = false;

    if (!out)
        return NULL;
    while (i < len && s[i] && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    while (i < len && s[i]) {
        unsigned char c = (unsigned char)s[i];
        size_t n;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = true;
            i++;
            continue;
        }
        n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            n = 1;
        if (o + (space ? 1 : 0) + n > max) {
            memcpy(out + o, "…", sizeof("…"));
            return out;
        }
        if (space && o > 0)
            out[o++] = ' ';
        space = false;
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* Keeps a finding past the cap briefly: counted and graded, not shown. */
static int brief_push(policy_findings *f, policy_finding_brief b)
{
    policy_finding_brief *om;

    /* Doubling: a file of many megabytes may hold tens of thousands of findings. */
    if ((f->n_omitted & (f->n_omitted - 1)) == 0) {
        om = realloc(f->omitted, (f->n_omitted ? f->n_omitted * 2 : 16) * sizeof(*om));
        if (!om)
            return CORE_ENOMEM;
        f->omitted = om;
    }
    f->omitted[f->n_omitted++] = b;
    return 0;
}

int policy_findings_push(policy_findings *f, const char *rule, policy_severity severity, int line,
                         const char *statement, size_t stmt_len, const char *message,
                         const char *safer, const char *lock, bool rewrites, bool scans)
{
    policy_finding *items, *it;

    CORE_ASSERT(f && rule && message);
    if (f->count >= POLICY_FINDINGS_MAX)
        return brief_push(f, (policy_finding_brief){rule, severity, line, false});
    items = realloc(f->items, (f->count + 1) * sizeof(*items));
    if (!items)
        return CORE_ENOMEM;
    f->items = items;
    it = &items[f->count];
    memset(it, 0, sizeof(*it));
    it->statement =
        collapse(statement ? statement : "", statement ? stmt_len : 0, POLICY_STATEMENT_MAX);
    it->message = collapse(message, strlen(message), MESSAGE_MAX);
    if (!it->statement || !it->message) {
        free(it->statement);
        free(it->message);
        return CORE_ENOMEM;
    }
    it->rule = rule;
    it->severity = severity;
    it->line = line;
    it->safer = safer;
    it->lock = lock;
    it->rewrites = rewrites;
    it->scans = scans;
    f->count++;
    return 0;
}

void policy_findings_free(policy_findings *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++) {
        free(f->items[i].statement);
        free(f->items[i].message);
        free(f->items[i].suppression);
    }
    free(f->items);
    free(f->omitted);
    memset(f, 0, sizeof(*f));
}

const char *policy_severity_name(policy_severity s)
{
    switch (s) {
    case POLICY_SEVERITY_DANGER:
        return "danger";
    case POLICY_SEVERITY_WARNING:
        return "warning";
    default:
        return "info";
    }
}

const char *policy_risk_name(policy_risk risk)
{
    switch (risk) {
    case POLICY_RISK_HIGH:
        return "high";
    case POLICY_RISK_LOW:
        return "low";
    default:
        return "none";
    }
}

/* ---- destructive operations in code ------------------------------------------------------ */

typedef enum op_kind {
    K_DROP_TABLE = 0,
    K_DROP_COLUMN,
    K_DROP_SCHEMA,
    K_RENAME,
    K_CHANGE_COLUMN,
    K_TRUNCATE,
    K_COUNT
} op_kind;

typedef struct op {
    const char *token; /* an identifier, matched as a whole word (case-sensitive) */
    op_kind kind;
    bool call; /* only when followed by "(": the word alone is too common */
} op;

static const struct {
    const char *rule;
    const char *what; /* after the operation's name: "drop_table drops a table..." */
    const char *safer;
    bool rewrites;
} op_kinds[K_COUNT] = {
    [K_DROP_TABLE] = {"orm-drop-table",
                      "drops a table: its data is lost and clients that still use it break",
                      "stop using the table in code first; drop it in a later release, after a "
                      "backup",
                      false},
    [K_DROP_COLUMN] = {"orm-drop-column",
                       "drops a column: its data is lost and clients that still use it break",
                       "stop using the column in code first (tell the ORM to ignore it); drop it "
                       "in a later release",
                       false},
    [K_DROP_SCHEMA] = {"orm-drop-schema", "drops a schema and everything in it",
                       "drop schemas out of band, after a backup", false},
    [K_RENAME] = {"orm-rename",
                  "renames a table or column: clients that use the old name break during the "
                  "deploy",
                  "add the new name alongside (a view or a new column), move code over, remove "
                  "the old one later",
                  false},
    [K_CHANGE_COLUMN] = {"orm-change-column",
                         "changes a column (type, null or default), which can rewrite or scan "
                         "the table under ACCESS EXCLUSIVE",
                         "add a new column, backfill in batches, switch over; NOT NULL via a NOT "
                         "VALID CHECK",
                         false},
    [K_TRUNCATE] = {"orm-truncate", "deletes every row of a table",
                    "delete only the rows you mean to, in batches", false},
};

#define OPS_END                                                                                    \
    {                                                                                              \
        NULL, K_DROP_TABLE, false                                                                  \
    }

static const op ops_rails[] = {
    {"drop_table", K_DROP_TABLE, false},
    {"drop_join_table", K_DROP_TABLE, false},
    {"remove_column", K_DROP_COLUMN, false},
    {"remove_columns", K_DROP_COLUMN, false},
    {"remove_reference", K_DROP_COLUMN, false},
    {"remove_belongs_to", K_DROP_COLUMN, false},
    {"remove_timestamps", K_DROP_COLUMN, false},
    {"rename_table", K_RENAME, false},
    {"rename_column", K_RENAME, false},
    {"change_column", K_CHANGE_COLUMN, false},
    {"change_column_null", K_CHANGE_COLUMN, false},
    OPS_END,
};
static const op ops_django[] = {
    {"DeleteModel", K_DROP_TABLE, false},   {"RemoveField", K_DROP_COLUMN, false},
    {"RenameModel", K_RENAME, false},       {"RenameField", K_RENAME, false},
    {"AlterField", K_CHANGE_COLUMN, false}, OPS_END,
};
static const op ops_alembic[] = {
    {"drop_table", K_DROP_TABLE, false},   {"drop_column", K_DROP_COLUMN, false},
    {"rename_table", K_RENAME, false},     {"alter_column", K_CHANGE_COLUMN, false},
    {"drop_schema", K_DROP_SCHEMA, false}, OPS_END,
};
static const op ops_knex[] = {
    {"dropTable", K_DROP_TABLE, false},
    {"dropTableIfExists", K_DROP_TABLE, false},
    {"dropColumn", K_DROP_COLUMN, false},
    {"dropColumns", K_DROP_COLUMN, false},
    {"renameColumn", K_RENAME, false},
    {"renameTable", K_RENAME, false},
    {"dropSchema", K_DROP_SCHEMA, false},
    {"dropSchemaIfExists", K_DROP_SCHEMA, false},
    OPS_END,
};
static const op ops_sequelize[] = {
    {"dropTable", K_DROP_TABLE, false},
    {"dropAllTables", K_DROP_TABLE, false},
    {"removeColumn", K_DROP_COLUMN, false},
    {"renameColumn", K_RENAME, false},
    {"renameTable", K_RENAME, false},
    {"changeColumn", K_CHANGE_COLUMN, false},
    {"dropSchema", K_DROP_SCHEMA, false},
    {"bulkDelete", K_TRUNCATE, false},
    OPS_END,
};
static const op ops_typeorm[] = {
    {"dropTable", K_DROP_TABLE, false},        {"dropColumn", K_DROP_COLUMN, false},
    {"dropColumns", K_DROP_COLUMN, false},     {"renameColumn", K_RENAME, false},
    {"renameTable", K_RENAME, false},          {"changeColumn", K_CHANGE_COLUMN, false},
    {"changeColumns", K_CHANGE_COLUMN, false}, {"dropSchema", K_DROP_SCHEMA, false},
    {"clearTable", K_TRUNCATE, false},         OPS_END,
};
static const op ops_laravel[] = {
    {"drop", K_DROP_TABLE, true},
    {"dropIfExists", K_DROP_TABLE, false},
    {"dropColumn", K_DROP_COLUMN, false},
    {"dropMorphs", K_DROP_COLUMN, false},
    {"dropTimestamps", K_DROP_COLUMN, false},
    {"dropSoftDeletes", K_DROP_COLUMN, false},
    {"renameColumn", K_RENAME, false},
    {"rename", K_RENAME, true},
    {"change", K_CHANGE_COLUMN, true},
    {"truncate", K_TRUNCATE, true},
    OPS_END,
};
static const op ops_ecto[] = {
    {"drop", K_DROP_TABLE, false},
    {"drop_if_exists", K_DROP_TABLE, false},
    {"remove", K_DROP_COLUMN, false},
    {"remove_if_exists", K_DROP_COLUMN, false},
    {"rename", K_RENAME, false},
    {"modify", K_CHANGE_COLUMN, false},
    OPS_END,
};
static const op ops_efcore[] = {
    {"DropTable", K_DROP_TABLE, false},
    {"DropColumn", K_DROP_COLUMN, false},
    {"RenameTable", K_RENAME, false},
    {"RenameColumn", K_RENAME, false},
    {"AlterColumn", K_CHANGE_COLUMN, false},
    {"DropSchema", K_DROP_SCHEMA, false},
    OPS_END,
};
static const op ops_liquibase[] = {
    {"dropTable", K_DROP_TABLE, false},
    {"dropColumn", K_DROP_COLUMN, false},
    {"renameTable", K_RENAME, false},
    {"renameColumn", K_RENAME, false},
    {"modifyDataType", K_CHANGE_COLUMN, false},
    {"addNotNullConstraint", K_CHANGE_COLUMN, false},
    OPS_END,
};
/* For files that only a policy glob names: the unambiguous names of every framework. */
static const op ops_custom[] = {
    {"drop_table", K_DROP_TABLE, false},     {"dropTable", K_DROP_TABLE, false},
    {"DropTable", K_DROP_TABLE, false},      {"DeleteModel", K_DROP_TABLE, false},
    {"dropIfExists", K_DROP_TABLE, false},   {"drop_column", K_DROP_COLUMN, false},
    {"remove_column", K_DROP_COLUMN, false}, {"dropColumn", K_DROP_COLUMN, false},
    {"removeColumn", K_DROP_COLUMN, false},  {"DropColumn", K_DROP_COLUMN, false},
    {"RemoveField", K_DROP_COLUMN, false},   {"rename_column", K_RENAME, false},
    {"renameColumn", K_RENAME, false},       {"RenameColumn", K_RENAME, false},
    {"rename_table", K_RENAME, false},       {"renameTable", K_RENAME, false},
    {"RenameTable", K_RENAME, false},        OPS_END,
};

/* Raw SQL inside code (execute "...", queryRunner.query(`...`)): case-insensitive words. */
static const op raw_sql[] = {
    {"drop table", K_DROP_TABLE, false},      {"drop column", K_DROP_COLUMN, false},
    {"drop schema", K_DROP_SCHEMA, false},    {"rename column", K_RENAME, false},
    {"rename to", K_RENAME, false},           {"truncate table", K_TRUNCATE, false},
    {"alter column", K_CHANGE_COLUMN, false}, OPS_END,
};

/* ---- the framework table ----------------------------------------------------------------- */

#define PATTERNS_MAX 6

/* How a SQL file tells its tool not to wrap it in a transaction. */
typedef enum sql_opt_out {
    SQL_OPT_NONE = 0,
    SQL_OPT_GOOSE,     /* a "-- +goose NO TRANSACTION" line */
    SQL_OPT_DBMATE,    /* "transaction:false" on the "-- migrate:up" line */
    SQL_OPT_FLYWAY,    /* executeInTransaction=false in the script's "<file>.conf" */
    SQL_OPT_LIQUIBASE, /* runInTransaction:false on a "--changeset" line, per changeset */
    SQL_OPT_ATLAS,     /* a "-- atlas:txmode none" line */
} sql_opt_out;

/* A setting in code: key as a whole word (case-sensitive), then blanks, "=", ":", "=>" or
 * nothing, blanks, an optional quote and value (any case; a value that ends in a letter ends
 * a word). value NULL: the key alone. */
typedef struct setting_pat {
    const char *key;
    const char *value;
} setting_pat;

#define SETTINGS_MAX 3

/* What a framework's tool does with transactions, as its documentation says. */
typedef struct txinfo {
    bool sql;            /* each SQL file (or changeset) runs inside a transaction ... */
    sql_opt_out sql_out; /* ... unless the file says otherwise this way */
    bool autodetect;     /* statements that cannot run in a transaction are run outside one */
    bool code;           /* each migration written in code runs inside a transaction ... */
    setting_pat code_out[SETTINGS_MAX]; /* ... unless one of these appears in it */
    /* The framework's own ways of asking for CONCURRENTLY (raw SQL is recognised for all). */
    setting_pat concurrent[SETTINGS_MAX];
    const char *safer; /* the opt-out, said for a finding in a code migration */
} txinfo;

typedef struct framework {
    const char *name;
    const char *up[PATTERNS_MAX]; /* git pathspecs, case-insensitive */
    const char *down[2];          /* down/revert scripts: recognised, not graded */
    const char *markers[3];       /* when set, one must appear in the file (any case) */
    const char *edits_ok[2];      /* files meant to be edited (no changed-migration) */
    const op *ops;
    const txinfo *tx; /* NULL: the tool runs migrations as they are, no transaction assumed */
} framework;

static const txinfo tx_goose = {
    .sql = true,
    .sql_out = SQL_OPT_GOOSE,
    .code = true,
    .code_out = {{"AddMigrationNoTx", NULL}, {"AddMigrationNoTxContext", NULL}},
    .safer = "register the migration with goose.AddMigrationNoTxContext (and keep the concurrent "
             "step alone in it)",
};
static const txinfo tx_dbmate = {.sql = true, .sql_out = SQL_OPT_DBMATE};
static const txinfo tx_flyway = {.sql = true, .sql_out = SQL_OPT_FLYWAY, .autodetect = true};
static const txinfo tx_liquibase = {
    .sql = true,
    .sql_out = SQL_OPT_LIQUIBASE,
    .code = true,
    .code_out = {{"runInTransaction", "false"}},
    .safer = "set runInTransaction=\"false\" on the changeset (and keep the concurrent step alone "
             "in it)",
};
static const txinfo tx_atlas = {.sql = true, .sql_out = SQL_OPT_ATLAS};
static const txinfo tx_rails = {
    .code = true,
    .code_out = {{"disable_ddl_transaction!", NULL}},
    .concurrent = {{"algorithm", ":concurrently"}},
    .safer = "add disable_ddl_transaction! to the migration class (and keep the concurrent step "
             "alone in that migration)",
};
static const txinfo tx_alembic = {
    .code = true,
    .code_out = {{"autocommit_block", NULL}},
    .concurrent = {{"postgresql_concurrently", "True"}},
    .safer = "run it inside `with op.get_context().autocommit_block():`",
};
static const txinfo tx_django = {
    .code = true,
    .code_out = {{"atomic", "False"}},
    /* Called, not imported. */
    .concurrent = {{"AddIndexConcurrently", "("}, {"RemoveIndexConcurrently", "("}},
    .safer = "set atomic = False on the Migration class (and keep the concurrent step alone in "
             "it)",
};
static const txinfo tx_typeorm = {
    .code = true,
    .code_out = {{"transaction", "false"}},
    .safer = "set transaction = false on the migration class (and keep the concurrent step alone "
             "in it)",
};
static const txinfo tx_knex = {
    .code = true,
    .code_out = {{"transaction", "false"}},
    .safer = "export config = { transaction: false } from the migration (and keep the concurrent "
             "step alone in it)",
};
static const txinfo tx_ecto = {
    .code = true,
    .code_out = {{"disable_ddl_transaction", "true"}},
    .concurrent = {{"concurrently", "true"}},
    .safer = "add @disable_ddl_transaction true and @disable_migration_lock true to the "
             "migration module",
};
static const txinfo tx_laravel = {
    .code = true,
    .code_out = {{"withinTransaction", "false"}},
    .safer = "set protected $withinTransaction = false; on the migration class (and keep the "
             "concurrent step alone in it)",
};
static const txinfo tx_efcore = {
    .code = true,
    .code_out = {{"suppressTransaction", "true"}},
    .safer = "pass suppressTransaction: true to migrationBuilder.Sql(...)",
};

/* Order matters: the first framework that claims a file wins, so frameworks recognised by
 * content come before the ones that share their folder names. */
static const framework frameworks[] = {
    {"Prisma", {"**/prisma/migrations/*/migration.sql"}, {NULL}, {NULL}, {NULL}, NULL, NULL},
    {"golang-migrate",
     {"**/[0-9]*_*.up.sql"},
     {"**/[0-9]*_*.down.sql"},
     {NULL},
     {NULL},
     NULL,
     NULL},
    {"goose",
     {"**/[0-9]*_*.sql", "**/[0-9]*_*.go"},
     {NULL},
     {"+goose up", "goose.AddMigration"},
     {NULL},
     NULL,
     &tx_goose},
    {"dbmate", {"**/migrations/*.sql"}, {NULL}, {"-- migrate:up"}, {NULL}, NULL, &tx_dbmate},
    {"Flyway",
     {"**/V[0-9]*__*.sql", "**/R__*.sql"},
     {"**/U[0-9]*__*.sql"},
     {NULL},
     {"**/R__*.sql"},
     NULL,
     &tx_flyway},
    {"Liquibase",
     {"**/*changelog*", "**/changelog/*", "**/changelogs/*", "**/changesets/*", "**/liquibase/*"},
     {NULL},
     {"databaseChangeLog", "liquibase formatted sql"},
     {"**"},
     ops_liquibase,
     &tx_liquibase},
    {"sqitch", {"**/deploy/*.sql"}, {"**/revert/*.sql"}, {NULL}, {NULL}, NULL, NULL},
    {"Atlas", {"**/migrations/[0-9]*.sql"}, {NULL}, {NULL}, {NULL}, NULL, &tx_atlas},
    {"Rails", {"**/db/migrate/*.rb"}, {NULL}, {NULL}, {NULL}, ops_rails, &tx_rails},
    {"Alembic", {"**/versions/*.py"}, {NULL}, {"alembic"}, {NULL}, ops_alembic, &tx_alembic},
    {"Django", {"**/migrations/[0-9]*.py"}, {NULL}, {"django"}, {NULL}, ops_django, &tx_django},
    {"TypeORM",
     {"**/migration/*.ts", "**/migrations/*.ts", "**/migration/*.js", "**/migrations/*.js"},
     {NULL},
     {"MigrationInterface", "QueryRunner"},
     {NULL},
     ops_typeorm,
     &tx_typeorm},
    {"Sequelize",
     {"**/migrations/*.js", "**/migrations/*.cjs", "**/migrations/*.ts"},
     {NULL},
     {"queryInterface", "sequelize"},
     {NULL},
     ops_sequelize,
     NULL},
    {"Knex",
     {"**/migrations/*.js", "**/migrations/*.cjs", "**/migrations/*.mjs", "**/migrations/*.ts"},
     {NULL},
     {"knex"},
     {NULL},
     ops_knex,
     &tx_knex},
    {"Ecto",
     {"**/priv/*/migrations/*.exs", "**/priv/*/migrations/*.ex"},
     {NULL},
     {NULL},
     {NULL},
     ops_ecto,
     &tx_ecto},
    {"Laravel", {"**/database/migrations/*.php"}, {NULL}, {NULL}, {NULL}, ops_laravel, &tx_laravel},
    {"EF Core",
     {"**/Migrations/*.cs"},
     {NULL},
     {"MigrationBuilder"},
     {NULL},
     ops_efcore,
     &tx_efcore},
    /* Plain SQL files in the folders most tools and hand-run schemes use, so that `zoneci
     * inspect` without a policy, and a policy without `paths`, still see them. Last, so
     * that every framework above claims its own files first. */
    {"SQL",
     {"**/db/migrate/**/*.sql", "**/db/migrations/**/*.sql", "**/migrations/**/*.sql",
      "**/migration/**/*.sql"},
     {NULL},
     {NULL},
     {NULL},
     NULL,
     NULL},
};

#define N_FRAMEWORKS (sizeof(frameworks) / sizeof(frameworks[0]))

static const framework custom_framework = {"custom", {NULL},     {NULL}, {NULL},
                                           {NULL},   ops_custom, NULL};

/* SQL lines that end the "up" part of a file holding both directions. */
static const char *const sql_down_markers[] = {"-- +goose down", "-- migrate:down"};

typedef struct compiled {
    policy_pathspec *up, *down, *edits_ok;
} compiled;

typedef struct matcher {
    compiled fw[N_FRAMEWORKS];
    policy_pathspec *policy;
} matcher;

static size_t count_patterns(const char *const *p, size_t max)
{
    size_t n = 0;

    while (n < max && p[n])
        n++;
    return n;
}

static void matcher_free(matcher *m)
{
    for (size_t i = 0; i < N_FRAMEWORKS; i++) {
        policy_pathspec_free(m->fw[i].up);
        policy_pathspec_free(m->fw[i].down);
        policy_pathspec_free(m->fw[i].edits_ok);
    }
    policy_pathspec_free(m->policy);
    memset(m, 0, sizeof(*m));
}

static int matcher_init(matcher *m, char *const *paths, size_t n_paths, core_error *err)
{
    int rc = 0;

    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < N_FRAMEWORKS && rc == 0; i++) {
        const framework *f = &frameworks[i];

        /* The table's strings are never written: the casts only satisfy the char *const *
         * that policy_pathspec_new shares with the policy's globs. */
        rc = policy_pathspec_new((char *const *)f->up, count_patterns(f->up, PATTERNS_MAX), true,
                                 &m->fw[i].up, err);
        if (rc == 0)
            rc = policy_pathspec_new((char *const *)f->down, count_patterns(f->down, 2), true,
                                     &m->fw[i].down, err);
        if (rc == 0)
            rc = policy_pathspec_new((char *const *)f->edits_ok, count_patterns(f->edits_ok, 2),
                                     true, &m->fw[i].edits_ok, err);
    }
    if (rc == 0 && n_paths > 0) {
        rc = policy_pathspec_new(paths, n_paths, false, &m->policy, err);
        if (rc < 0)
            core_error_wrap(err, "migrations.paths");
    }
    if (rc < 0)
        matcher_free(m);
    return rc;
}

/* Case-insensitive search of needle in text (len bytes). */
static bool contains_ci(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    if (!text || n == 0 || n > len)
        return false;
    /* The first byte is compared inline: strncasecmp called at every offset of a file of
     * megabytes was a tenth of inspecting it. */
    for (size_t i = 0; i + n <= len; i++) {
        if (tolower((unsigned char)text[i]) == tolower((unsigned char)needle[0]) &&
            strncasecmp(text + i, needle, n) == 0)
            return true;
    }
    return false;
}

static bool markers_hold(const framework *f, const char *content, size_t len)
{
    if (!f->markers[0])
        return true;
    for (size_t i = 0; i < sizeof(f->markers) / sizeof(f->markers[0]) && f->markers[i]; i++) {
        if (contains_ci(content, len, f->markers[i]))
            return true;
    }
    return false;
}

/* The framework of path (NULL when none), and whether it is a down script. */
static const framework *matcher_find(const matcher *m, const char *path, const char *content,
                                     size_t len, size_t *index, bool *down)
{
    for (size_t i = 0; i < N_FRAMEWORKS; i++) {
        bool up = policy_pathspec_matches(m->fw[i].up, path);
        bool dn = !up && policy_pathspec_matches(m->fw[i].down, path);

        if ((up || dn) && markers_hold(&frameworks[i], content, len)) {
            *index = i;
            *down = dn;
            return &frameworks[i];
        }
    }
    return NULL;
}

const char *policy_migration_framework(const char *path, const char *content, size_t len)
{
    matcher m;
    const framework *f;
    size_t index;
    bool down;

    CORE_ASSERT(path);
    if (matcher_init(&m, NULL, 0, NULL) < 0)
        return NULL;
    f = matcher_find(&m, path, content, content ? len : 0, &index, &down);
    matcher_free(&m);
    return f ? f->name : NULL;
}

/* ---- scanning code ----------------------------------------------------------------------- */

typedef enum style { S_HASH, S_SLASH, S_PHP, S_XML, S_DATA } style;

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static style style_of(const char *ext)
{
    if (!strcasecmp(ext, "rb") || !strcasecmp(ext, "py") || !strcasecmp(ext, "ex") ||
        !strcasecmp(ext, "exs"))
        return S_HASH;
    if (!strcasecmp(ext, "php"))
        return S_PHP;
    if (!strcasecmp(ext, "xml"))
        return S_XML;
    if (!strcasecmp(ext, "yaml") || !strcasecmp(ext, "yml") || !strcasecmp(ext, "json"))
        return S_DATA;
    return S_SLASH; /* js, ts, cs, go and anything else */
}

static bool ident_char(char c)
{
    return c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Where word occurs in line as a whole word (case-insensitively if ci), or NULL. */
static const char *find_word(const char *line, const char *word, bool ci)
{
    size_t n = strlen(word);

    for (const char *p = line; *p; p++) {
        if ((ci ? strncasecmp(p, word, n) : strncmp(p, word, n)) != 0)
            continue;
        if ((p == line || !ident_char(p[-1])) && !ident_char(p[n]))
            return p;
    }
    return NULL;
}

/* True when the line opens a section named like one of words: "def down", "down(",
 * "down: async", "exports.down =", "void Down(", "def down do". */
static bool opens_section(const char *line, const char *const *words)
{
    for (size_t i = 0; words[i]; i++) {
        const char *p = line;

        while ((p = find_word(p, words[i], true)) != NULL) {
            const char *after = p + strlen(words[i]), *before = p;

            while (*after == ' ' || *after == '\t')
                after++;
            while (before > line && (before[-1] == ' ' || before[-1] == '\t'))
                before--;
            if (*after == '(' || *after == ':' || *after == '=' || *after == '\0' ||
                strncmp(after, "do", 2) == 0 ||
                (before - line >= 3 && strncmp(before - 3, "def", 3) == 0))
                return true;
            p = after;
        }
    }
    return false;
}

typedef struct scanner {
    style st;
    bool in_comment; /* inside a block comment that spans lines */
    bool down;       /* inside a down / rollback section */
} scanner;

/* Copies line into out with comments removed (block comments may span lines). */
static void strip_comments(scanner *sc, const char *line, size_t len, char *out)
{
    bool blocks = sc->st == S_SLASH || sc->st == S_PHP || sc->st == S_XML;
    const char *open = sc->st == S_XML ? "<!--" : "/*", *close = sc->st == S_XML ? "-->" : "*/";
    size_t ol = strlen(open), cl = strlen(close), o = 0;

    for (size_t i = 0; i < len;) {
        char c = line[i], next = i + 1 < len ? line[i + 1] : '\0';

        if (sc->in_comment) {
            if (i + cl <= len && memcmp(line + i, close, cl) == 0) {
                sc->in_comment = false;
                i += cl;
            } else {
                i++;
            }
            continue;
        }
        if (blocks && i + ol <= len && memcmp(line + i, open, ol) == 0) {
            sc->in_comment = true;
            i += ol;
            continue;
        }
        if ((sc->st == S_HASH || sc->st == S_PHP) && c == '#')
            break;
        if ((sc->st == S_SLASH || sc->st == S_PHP) && c == '/' && next == '/')
            break;
        if (sc->st == S_DATA && c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'))
            break;
        out[o++] = c ? c : ' ';
        i++;
    }
    out[o] = '\0';
}

static const char *const down_words[] = {"down", "downgrade", NULL};
static const char *const up_words[] = {"up", "upgrade", "change", NULL};

/* Updates the section state from a comment-free line; true when the line itself is skipped. */
static bool in_down_section(scanner *sc, const char *clean)
{
    if (sc->st == S_XML) {
        if (strstr(clean, "<rollback")) {
            sc->down = strstr(clean, "</rollback>") == NULL && !strstr(clean, "/>");
            return true;
        }
        if (sc->down && strstr(clean, "</rollback>")) {
            sc->down = false;
            return true;
        }
        return sc->down;
    }
    if (sc->st == S_DATA) {
        if (find_word(clean, "rollback", false)) {
            sc->down = true;
            return true;
        }
        if (find_word(clean, "changeSet", false))
            sc->down = false;
        return sc->down;
    }
    if (opens_section(clean, down_words))
        sc->down = true;
    else if (opens_section(clean, up_words))
        sc->down = false;
    return sc->down;
}

static const op *match_ops(const op *ops, const char *clean, bool ci)
{
    for (size_t i = 0; ops && ops[i].token; i++) {
        const char *p = find_word(clean, ops[i].token, ci);

        if (!p)
            continue;
        if (ops[i].call) {
            p += strlen(ops[i].token);
            while (*p == ' ')
                p++;
            if (*p != '(')
                continue;
        }
        return &ops[i];
    }
    return NULL;
}

/* Bytes of SQL before a line that starts the down part ("-- +goose Down"), or len. */
static size_t sql_up_length(const char *text, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, s = pos;

        while (s < end && (text[s] == ' ' || text[s] == '\t'))
            s++;
        for (size_t i = 0; i < sizeof(sql_down_markers) / sizeof(sql_down_markers[0]); i++) {
            size_t ml = strlen(sql_down_markers[i]);

            if (end - s >= ml && strncasecmp(text + s, sql_down_markers[i], ml) == 0)
                return pos;
        }
        pos = end + 1;
    }
    return len;
}

/* ---- rule settings ----------------------------------------------------------------------- */

/* Rules that concern a whole file or a zoneci:ignore comment rather than a statement. */
static const char *const file_rules[] = {
    "changed-migration",
    "unchecked-migration",
    "suppression-without-reason",
    "unknown-rule-in-suppression",
};

bool policy_rule_level_parse(const char *name, policy_rule_level *out)
{
    static const struct {
        const char *name;
        policy_rule_level level;
    } names[] = {
        {"off", POLICY_RULE_OFF},
        {"info", POLICY_RULE_INFO},
        {"warning", POLICY_RULE_WARNING},
        {"danger", POLICY_RULE_DANGER},
    };

    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            if (out)
                *out = names[i].level;
            return true;
        }
    }
    return false;
}

policy_rule_level policy_rule_level_of(const policy_rule_setting *settings, size_t n,
                                       const char *rule)
{
    /* The last setting wins, as with any key written twice in a configuration. */
    for (size_t i = n; settings && rule && i > 0; i--) {
        if (settings[i - 1].rule && strcmp(settings[i - 1].rule, rule) == 0)
            return settings[i - 1].level;
    }
    return POLICY_RULE_DEFAULT;
}

/* The SQL rule table's entry for rule, or NULL. */
static const policy_sql_rule *sql_rule(const char *rule)
{
    size_t n = 0;
    const policy_sql_rule *t = policy_sql_rules(&n);

    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].id, rule) == 0)
            return &t[i];
    }
    return NULL;
}

bool policy_rule_known(const char *rule)
{
    if (!rule || !rule[0])
        return false;
    if (sql_rule(rule))
        return true;
    for (size_t i = 0; i < K_COUNT; i++) {
        if (strcmp(op_kinds[i].rule, rule) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof(file_rules) / sizeof(file_rules[0]); i++) {
        if (strcmp(file_rules[i], rule) == 0)
            return true;
    }
    return false;
}

static void finding_clear(policy_finding *f)
{
    free(f->statement);
    free(f->message);
    free(f->suppression);
}

/* Gives a finding of rule the severity settings name; false when they turn it off. */
static bool level_apply(const policy_rule_setting *settings, size_t n, const char *rule,
                        policy_severity *severity)
{
    policy_rule_level level = policy_rule_level_of(settings, n, rule);
    const policy_sql_rule *sr;

    if (level == POLICY_RULE_DEFAULT) {
        /* A hygiene rule reports only when a policy names a severity for it. */
        sr = sql_rule(rule);
        if (sr && sr->off_by_default)
            level = POLICY_RULE_OFF;
    }
    if (level == POLICY_RULE_OFF)
        return false;
    if (level == POLICY_RULE_INFO)
        *severity = POLICY_SEVERITY_INFO;
    else if (level == POLICY_RULE_WARNING)
        *severity = POLICY_SEVERITY_WARNING;
    else if (level == POLICY_RULE_DANGER)
        *severity = POLICY_SEVERITY_DANGER;
    return true;
}

void policy_findings_apply(policy_findings *f, const policy_rule_setting *settings, size_t n)
{
    size_t kept = 0;

    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++) {
        policy_finding *it = &f->items[i];

        if (!level_apply(settings, n, it->rule, &it->severity)) {
            finding_clear(it);
            continue;
        }
        if (kept != i)
            f->items[kept] = *it;
        kept++;
    }
    f->count = kept;
    if (kept == 0) {
        free(f->items);
        f->items = NULL;
    }
    kept = 0;
    for (size_t i = 0; i < f->n_omitted; i++) {
        policy_finding_brief *b = &f->omitted[i];

        if (!level_apply(settings, n, b->rule, &b->severity))
            continue;
        f->omitted[kept++] = *b;
    }
    f->n_omitted = kept;
}

/* ---- transactions ------------------------------------------------------------------------ */

#define CONCURRENT_RULE "ban-concurrent-index-creation-in-transaction"

/* The next line of text (len bytes) from *pos: its start and length; false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *ll)
{
    const char *nl;
    size_t end;

    if (*pos >= len)
        return false;
    nl = memchr(text + *pos, '\n', len - *pos);
    end = nl ? (size_t)(nl - text) : len;
    *line = text + *pos;
    *ll = end - *pos;
    if (*ll > 0 && (*line)[*ll - 1] == '\r')
        (*ll)--;
    *pos = end + 1;
    return true;
}

static size_t skip_blanks(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* True for a SQL comment line "-- WORD ..." (blanks optional after "--", WORD in any case);
 * *rest receives the offset after WORD and its blanks. */
static bool sql_directive(const char *line, size_t ll, const char *word, size_t *rest)
{
    size_t i = skip_blanks(line, 0, ll), wl = strlen(word);

    if (i + 2 > ll || line[i] != '-' || line[i + 1] != '-')
        return false;
    i = skip_blanks(line, i + 2, ll);
    if (i + wl > ll || strncasecmp(line + i, word, wl) != 0)
        return false;
    *rest = skip_blanks(line, i + wl, ll);
    return true;
}

/* True when line (ll bytes) holds "-- WORD VALUE..." (VALUE at the start of the rest). */
static bool sql_directive_is(const char *line, size_t ll, const char *word, const char *value)
{
    size_t rest, vl = strlen(value);

    return sql_directive(line, ll, word, &rest) && ll - rest >= vl &&
           strncasecmp(line + rest, value, vl) == 0;
}

/* Whether a setting (see setting_pat) appears in the NUL-terminated line. */
static bool setting_found(const char *line, const setting_pat *s)
{
    size_t kl = strlen(s->key);

    for (const char *p = line; (p = find_word(p, s->key, false)) != NULL; p += kl) {
        const char *v = p + kl;
        size_t vl;

        if (!s->value)
            return true;
        while (*v == ' ' || *v == '\t')
            v++;
        if (v[0] == '=' && v[1] == '>')
            v += 2;
        else if (*v == '=' || *v == ':')
            v++;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '"' || *v == '\'')
            v++;
        vl = strlen(s->value);
        if (strncasecmp(v, s->value, vl) == 0 &&
            (!ident_char(s->value[vl - 1]) || !ident_char(v[vl])))
            return true;
    }
    return false;
}

static bool settings_found(const char *line, const setting_pat *pats)
{
    for (size_t i = 0; i < SETTINGS_MAX && pats[i].key; i++) {
        if (setting_found(line, &pats[i]))
            return true;
    }
    return false;
}

/* True when a comment-free line of code asks for an index built, dropped or reindexed, or a
 * partition detached, CONCURRENTLY: the framework's own option, or raw SQL. Raw SQL needs
 * "index" or "detach" on the same line, because REFRESH MATERIALIZED VIEW CONCURRENTLY may
 * run in a transaction; a "concurrently:" or "concurrently =" option is not SQL. */
static bool asks_concurrently(const txinfo *tx, const char *clean)
{
    size_t len = strlen(clean);

    if (settings_found(clean, tx->concurrent))
        return true;
    if (!contains_ci(clean, len, "index") && !contains_ci(clean, len, "detach"))
        return false;
    for (const char *p = clean; (p = find_word(p, "concurrently", true)) != NULL;) {
        const char *after = p + strlen("concurrently");

        p = after;
        while (*after == ' ' || *after == '\t')
            after++;
        if (*after != ':' && *after != '=')
            return true;
    }
    return false;
}

/* Whether Flyway's script configuration "<path>.conf", when the diff holds it, says
 * executeInTransaction=false. Without it in the diff, Flyway's default (a transaction) is
 * assumed. */
static bool flyway_conf_no_tx(const policy_diff *diff, const char *path)
{
    static const setting_pat pat = {"executeInTransaction", "false"};
    size_t pl = strlen(path);

    for (size_t i = 0; i < diff->n_files; i++) {
        const policy_diff_file *df = &diff->files[i];
        const char *line;
        size_t pos = 0, ll;

        if (strncmp(df->path, path, pl) != 0 || strcmp(df->path + pl, ".conf") != 0)
            continue;
        if (df->kind != POLICY_CONTENT_TEXT || !df->content)
            return false;
        while (next_line(df->content, df->content_len, &pos, &line, &ll)) {
            char buf[256];
            size_t s = skip_blanks(line, 0, ll);

            if (s >= ll || line[s] == '#' || line[s] == '!' || ll - s >= sizeof(buf))
                continue;
            memcpy(buf, line + s, ll - s);
            buf[ll - s] = '\0';
            if (strncmp(buf, "executeInTransaction", strlen("executeInTransaction")) == 0 &&
                setting_found(buf, &pat))
                return true;
        }
        return false;
    }
    return false;
}

/* Whether the tool runs a whole SQL file (not one of Liquibase's changesets) in a
 * transaction, given the file's own opt-out. */
static bool sql_file_in_tx(const framework *fw, const policy_diff *diff, const policy_diff_file *df)
{
    const char *line;
    size_t pos = 0, ll, rest;

    if (!fw->tx || !fw->tx->sql)
        return false;
    switch (fw->tx->sql_out) {
    case SQL_OPT_FLYWAY:
        return !flyway_conf_no_tx(diff, df->path);
    case SQL_OPT_GOOSE:
    case SQL_OPT_DBMATE:
    case SQL_OPT_ATLAS:
        while (next_line(df->content, df->content_len, &pos, &line, &ll)) {
            if (fw->tx->sql_out == SQL_OPT_GOOSE && sql_directive(line, ll, "+goose", &rest) &&
                ll - rest >= 2 && strncasecmp(line + rest, "no", 2) == 0) {
                size_t t = skip_blanks(line, rest + 2, ll);

                if (t > rest + 2 && ll - t >= 11 && strncasecmp(line + t, "transaction", 11) == 0)
                    return false;
            }
            if (fw->tx->sql_out == SQL_OPT_DBMATE && sql_directive(line, ll, "migrate:up", &rest))
                return !contains_ci(line + rest, ll - rest, "transaction:false");
            if (fw->tx->sql_out == SQL_OPT_ATLAS &&
                sql_directive_is(line, ll, "atlas:txmode", "none"))
                return false;
        }
        return true;
    default:
        return true;
    }
}

/* True when a code migration says, outside comments and in either direction, that its tool
 * must not wrap it in a transaction (Knex's config often follows exports.down). */
static bool code_opts_out(const txinfo *tx, style st, const char *text, size_t len, char *clean)
{
    scanner sc = {st, false, false};
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, ll = end - pos;

        strip_comments(&sc, text + pos, ll > SCAN_LINE_MAX ? SCAN_LINE_MAX : ll, clean);
        if (settings_found(clean, tx->code_out))
            return true;
        pos = end + 1;
    }
    return false;
}

static int scan_code(const framework *fw, const char *path, const char *text, size_t len,
                     policy_findings *out)
{
    scanner sc = {style_of(extension(path)), false, false};
    char *clean = malloc(SCAN_LINE_MAX + 1);
    size_t pos = 0;
    int line = 0, rc = 0;
    bool in_tx;

    if (!clean)
        return CORE_ENOMEM;
    in_tx = fw->tx && fw->tx->code && !code_opts_out(fw->tx, sc.st, text, len, clean);
    while (pos < len && rc == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, ll = end - pos;
        const op *hit;

        line++;
        /* Only the start of a very long line is looked at. */
        strip_comments(&sc, text + pos, ll > SCAN_LINE_MAX ? SCAN_LINE_MAX : ll, clean);
        if (!in_down_section(&sc, clean)) {
            hit = match_ops(fw->ops, clean, false);
            if (!hit)
                hit = match_ops(raw_sql, clean, true);
            if (hit) {
                char msg[MESSAGE_MAX];

                snprintf(msg, sizeof(msg), "%s %s", hit->token, op_kinds[hit->kind].what);
                rc = policy_findings_push(out, op_kinds[hit->kind].rule, POLICY_SEVERITY_WARNING,
                                          line, text + pos, ll, msg, op_kinds[hit->kind].safer,
                                          "ACCESS EXCLUSIVE", op_kinds[hit->kind].rewrites, false);
            }
            if (rc == 0 && in_tx && asks_concurrently(fw->tx, clean)) {
                char msg[MESSAGE_MAX];

                snprintf(msg, sizeof(msg),
                         "%s runs this migration inside a transaction, where CONCURRENTLY is "
                         "refused: the migration fails at deploy time",
                         fw->name);
                rc = policy_findings_push(out, CONCURRENT_RULE, POLICY_SEVERITY_DANGER, line,
                                          text + pos, ll, msg, fw->tx->safer,
                                          "SHARE UPDATE EXCLUSIVE", false, false);
            }
        }
        pos = end + 1;
    }
    free(clean);
    return rc;
}

/* ---- suppressions ------------------------------------------------------------------------ */

#define IGNORE_WORD "zoneci:ignore"
#define IGNORE_RULES_MAX 16
#define RULE_ID_MAX 96

/* Moves findings into order of line, keeping the order of equal lines (at most
 * POLICY_FINDINGS_MAX of them: insertion sort is enough). */
static void sort_by_line(policy_findings *f)
{
    for (size_t i = 1; i < f->count; i++) {
        policy_finding it = f->items[i];
        size_t k = i;

        while (k > 0 && f->items[k - 1].line > it.line) {
            f->items[k] = f->items[k - 1];
            k--;
        }
        f->items[k] = it;
    }
}

/* Where "zoneci:ignore" starts in a comment of line (ll bytes), or -1: after "--" in SQL,
 * after "#", "//" or "<!--" in code. */
static long ignore_at(bool sql, const char *line, size_t ll)
{
    size_t wl = strlen(IGNORE_WORD);

    for (size_t i = 0; i + wl <= ll; i++) {
        bool opened = false;

        if (memcmp(line + i, IGNORE_WORD, wl) != 0)
            continue;
        if (i + wl < ll && line[i + wl] != ' ' && line[i + wl] != '\t')
            continue;
        for (size_t k = 0; k < i && !opened; k++) {
            if (sql)
                opened = line[k] == '-' && line[k + 1] == '-';
            else
                opened = line[k] == '#' || (line[k] == '/' && line[k + 1] == '/') ||
                         (k + 4 <= i && memcmp(line + k, "<!--", 4) == 0);
        }
        return opened ? (long)i : -1;
    }
    return -1;
}

/* Applies one line's zoneci:ignore comment to the first n findings of f (those of the line
 * and of the next one), and appends findings for a comment without a reason or naming an
 * unknown rule. *added is set when it appends. */
static int suppress_line(bool sql, const char *line, size_t ll, int lineno, policy_findings *f,
                         size_t n, size_t n_om, bool *added)
{
    struct {
        const char *s;
        size_t len;
    } rules[IGNORE_RULES_MAX];
    size_t n_rules = 0, i, reason_len;
    const char *reason;
    long at = ignore_at(sql, line, ll);
    char msg[MESSAGE_MAX];
    int rc = 0;

    if (at < 0)
        return 0;
    i = skip_blanks(line, (size_t)at + strlen(IGNORE_WORD), ll);
    /* RULE[,RULE...], blanks allowed after a comma. */
    while (i < ll && line[i] != ' ' && line[i] != '\t') {
        size_t start = i;

        while (i < ll && line[i] != ',' && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i > start && n_rules < IGNORE_RULES_MAX) {
            rules[n_rules].s = line + start;
            rules[n_rules++].len = i - start;
        }
        if (i < ll && line[i] == ',')
            i = skip_blanks(line, i + 1, ll);
    }
    i = skip_blanks(line, i, ll);
    reason = line + i;
    reason_len = ll - i;
    if (!sql && reason_len >= 3 && memcmp(reason + reason_len - 3, "-->", 3) == 0)
        reason_len -= 3; /* the end of an XML comment is no part of the reason */
    while (reason_len > 0 && (reason[reason_len - 1] == ' ' || reason[reason_len - 1] == '\t'))
        reason_len--;
    for (size_t r = 0; r < n_rules && rc == 0; r++) {
        char id[RULE_ID_MAX];
        bool known = rules[r].len < sizeof(id);

        if (known) {
            memcpy(id, rules[r].s, rules[r].len);
            id[rules[r].len] = '\0';
            known = policy_rule_known(id);
        }
        if (!known) {
            snprintf(msg, sizeof(msg),
                     "zoneci:ignore names \"%.*s\", which is no rule of zoneci: it suppresses "
                     "nothing",
                     (int)(rules[r].len > 80 ? 80 : rules[r].len), rules[r].s);
            rc = policy_findings_push(
                f, "unknown-rule-in-suppression", POLICY_SEVERITY_WARNING, lineno, line, ll, msg,
                "name the rule as the finding's \"rule\" shows it", NULL, false, false);
            *added = true;
            continue;
        }
        for (size_t k = 0; k < n && reason_len > 0; k++) {
            policy_finding *it = &f->items[k];

            if (it->suppressed || (it->line != lineno && it->line != lineno + 1) ||
                strcmp(it->rule, id) != 0)
                continue;
            it->suppression = collapse(reason, reason_len, POLICY_STATEMENT_MAX);
            if (!it->suppression)
                return CORE_ENOMEM;
            it->suppressed = true;
        }
        for (size_t k = 0; k < n_om && reason_len > 0; k++) {
            policy_finding_brief *b = &f->omitted[k];

            if ((b->line == lineno || b->line == lineno + 1) && strcmp(b->rule, id) == 0)
                b->suppressed = true;
        }
    }
    if (rc == 0 && reason_len == 0) {
        /* A reason is what a reviewer reads later: without one the comment does not count. */
        rc = policy_findings_push(f, "suppression-without-reason", POLICY_SEVERITY_WARNING, lineno,
                                  line, ll, "zoneci:ignore without a reason suppresses nothing",
                                  "say why after the rule ids: zoneci:ignore RULE reason", NULL,
                                  false, false);
        *added = true;
    }
    return rc;
}

/* Applies the zoneci:ignore comments of text (len bytes) to the findings already in f. */
static int apply_suppressions(bool sql, const char *text, size_t len, policy_findings *f)
{
    size_t pos = 0, ll, n = f->count, n_om = f->n_omitted;
    const char *line;
    int lineno = 0, rc = 0;
    bool added = false;

    while (rc == 0 && next_line(text, len, &pos, &line, &ll))
        rc = suppress_line(sql, line, ll, ++lineno, f, n, n_om, &added);
    if (added)
        sort_by_line(f);
    return rc;
}

/* ---- inspecting a diff ------------------------------------------------------------------- */

static void migration_clear(policy_migration *m)
{
    free(m->path);
    free(m->old_path);
    policy_findings_free(&m->findings);
}

void policy_report_free(policy_report *report)
{
    if (!report)
        return;
    for (size_t i = 0; i < report->n_migrations; i++)
        migration_clear(&report->migrations[i]);
    free(report->migrations);
    free(report);
}

static int file_finding(policy_findings *f, const char *rule, policy_severity sev,
                        const char *message)
{
    return policy_findings_push(f, rule, sev, 0, NULL, 0, message, NULL, NULL, false, false);
}

/* Appends src's findings to dst (up to the cap) and leaves src empty. */
static int findings_take(policy_findings *dst, policy_findings *src)
{
    int rc = 0;

    for (size_t i = 0; i < src->count; i++) {
        policy_finding *items, *it = &src->items[i];

        if (rc < 0 || dst->count >= POLICY_FINDINGS_MAX) {
            if (rc == 0)
                rc = brief_push(
                    dst, (policy_finding_brief){it->rule, it->severity, it->line, it->suppressed});
            finding_clear(it);
            continue;
        }
        items = realloc(dst->items, (dst->count + 1) * sizeof(*items));
        if (!items) {
            rc = CORE_ENOMEM;
            finding_clear(&src->items[i]);
            continue;
        }
        dst->items = items;
        items[dst->count++] = src->items[i];
    }
    for (size_t i = 0; i < src->n_omitted && rc == 0; i++)
        rc = brief_push(dst, src->omitted[i]);
    free(src->items);
    free(src->omitted);
    memset(src, 0, sizeof(*src));
    return rc;
}

/* Liquibase runs each changeset of a formatted SQL file in a transaction of its own unless
 * its "--changeset" line says runInTransaction:false. A file whose changesets agree is
 * checked once; one that mixes both is checked once per kind with the changesets of the
 * other kind blanked out (newlines kept, so lines stay right), and the findings merged in
 * line order. */
static int grade_liquibase(const char *text, size_t len, policy_sql_options *so,
                           policy_findings *out, core_error *err)
{
    const char *line;
    size_t pos = 0, ll, rest;
    bool has_tx = false, has_no_tx = false, cur = true;
    char *buf;
    int rc = 0;

    while (next_line(text, len, &pos, &line, &ll)) {
        if (sql_directive(line, ll, "changeset", &rest)) {
            cur = !contains_ci(line + rest, ll - rest, "runInTransaction:false");
            has_tx = has_tx || cur;
            has_no_tx = has_no_tx || !cur;
        }
    }
    if (!has_tx || !has_no_tx) {
        so->implicit_tx = !has_no_tx;
        return policy_sql_check_with(text, len, so, out, err);
    }
    buf = malloc(len + 1);
    if (!buf)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        policy_findings part = {0};

        memcpy(buf, text, len);
        buf[len] = '\0';
        pos = 0;
        cur = true;
        while (next_line(text, len, &pos, &line, &ll)) {
            if (sql_directive(line, ll, "changeset", &rest))
                cur = !contains_ci(line + rest, ll - rest, "runInTransaction:false");
            if (cur != (pass == 0)) {
                for (size_t k = (size_t)(line - text); k < (size_t)(line - text) + ll; k++)
                    buf[k] = buf[k] == '\r' ? '\r' : ' ';
            }
        }
        so->implicit_tx = pass == 0;
        rc = policy_sql_check_with(buf, len, so, &part, err);
        if (rc == 0 && findings_take(out, &part) < 0)
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        policy_findings_free(&part);
    }
    free(buf);
    if (rc == 0)
        sort_by_line(out);
    return rc;
}

static int grade_sql(const framework *fw, const policy_diff *diff, const policy_diff_file *df,
                     size_t len, const policy_inspect_options *opts, policy_findings *out,
                     core_error *err)
{
    policy_sql_options so = {0};

    so.pg_version = opts->pg_version;
    so.rules = opts->rules;
    so.n_rules = opts->n_rules;
    if (fw->tx && fw->tx->sql && fw->tx->sql_out == SQL_OPT_LIQUIBASE)
        return grade_liquibase(df->content, len, &so, out, err);
    so.implicit_tx = sql_file_in_tx(fw, diff, df);
    so.tx_autodetect = so.implicit_tx && fw->tx->autodetect;
    return policy_sql_check_with(df->content, len, &so, out, err);
}

static int grade_file(const framework *fw, bool edits_ok, const policy_diff *diff,
                      const policy_diff_file *df, const policy_inspect_options *opts,
                      policy_migration *m, core_error *err)
{
    char msg[MESSAGE_MAX];
    size_t len;
    int rc = 0;

    if (df->kind != POLICY_CONTENT_TEXT || !df->content) {
        snprintf(msg, sizeof(msg), "migration not checked: %s",
                 df->kind == POLICY_CONTENT_BINARY    ? "it is a binary file"
                 : df->kind == POLICY_CONTENT_TOO_BIG ? "it is over the size cap"
                                                      : "its content was not read");
        rc = file_finding(&m->findings, "unchecked-migration", POLICY_SEVERITY_DANGER, msg);
        return rc < 0 ? core_error_set(err, rc, "out of memory") : 0;
    }
    if (df->change == POLICY_CHANGE_MODIFIED && !edits_ok) {
        rc = file_finding(&m->findings, "changed-migration", POLICY_SEVERITY_WARNING,
                          "an existing migration was edited: databases that already ran it will "
                          "not run it again");
        if (rc < 0)
            return core_error_set(err, rc, "out of memory");
    }
    if (strcasecmp(extension(df->path), "sql") == 0) {
        len = sql_up_length(df->content, df->content_len);
        rc = grade_sql(fw, diff, df, len, opts, &m->findings, err);
        if (rc == CORE_ETOOBIG) {
            rc = file_finding(&m->findings, "unchecked-migration", POLICY_SEVERITY_DANGER,
                              "migration not checked: it is over the size cap");
            return rc < 0 ? core_error_set(err, rc, "out of memory") : 0;
        }
        if (rc < 0)
            return rc;
        rc = apply_suppressions(true, df->content, len, &m->findings);
    } else {
        rc = scan_code(fw, df->path, df->content, df->content_len, &m->findings);
        if (rc == 0)
            rc = apply_suppressions(false, df->content, df->content_len, &m->findings);
    }
    return rc < 0 ? core_error_set(err, rc, "out of memory") : 0;
}

static int grade(const framework *fw, bool edits_ok, const policy_diff *diff,
                 const policy_diff_file *df, const policy_inspect_options *opts,
                 policy_migration *m, core_error *err)
{
    int rc = grade_file(fw, edits_ok, diff, df, opts, m, err);

    if (rc == 0)
        policy_findings_apply(&m->findings, opts->rules, opts->n_rules);
    return rc;
}

int policy_migrations_inspect(const policy_diff *diff, char *const *paths, size_t n_paths,
                              policy_report **out, core_error *err)
{
    policy_inspect_options opts = {0};

    opts.paths = paths;
    opts.n_paths = n_paths;
    return policy_migrations_inspect_with(diff, &opts, out, err);
}

int policy_migrations_inspect_with(const policy_diff *diff, const policy_inspect_options *opts,
                                   policy_report **out, core_error *err)
{
    static const policy_inspect_options defaults = {0};
    policy_report *r = NULL;
    matcher m;
    int rc;

    if (!opts)
        opts = &defaults;
    CORE_ASSERT(diff && out && (opts->paths || opts->n_paths == 0) &&
                (opts->rules || opts->n_rules == 0));
    *out = NULL;
    rc = matcher_init(&m, opts->paths, opts->n_paths, err);
    if (rc < 0)
        return rc;
    r = calloc(1, sizeof(*r));
    if (!r) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < diff->n_files && rc == 0; i++) {
        const policy_diff_file *df = &diff->files[i];
        const char *content = df->kind == POLICY_CONTENT_TEXT ? df->content : NULL;
        size_t index = 0, len = content ? df->content_len : 0;
        bool down = false, edits_ok = false;
        const framework *fw = matcher_find(&m, df->path, content, len, &index, &down);
        policy_migration *grown, *mig;

        if (fw)
            edits_ok = policy_pathspec_matches(m.fw[index].edits_ok, df->path);
        else if (policy_pathspec_matches(m.policy, df->path))
            fw = &custom_framework;
        else
            continue;
        grown = realloc(r->migrations, (r->n_migrations + 1) * sizeof(*grown));
        if (!grown) {
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            break;
        }
        r->migrations = grown;
        mig = &grown[r->n_migrations];
        memset(mig, 0, sizeof(*mig));
        mig->path = strdup(df->path);
        mig->old_path = df->old_path ? strdup(df->old_path) : NULL;
        if (!mig->path || (df->old_path && !mig->old_path)) {
            migration_clear(mig);
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            break;
        }
        r->n_migrations++;
        mig->framework = fw->name;
        mig->change = df->change;
        mig->down = down;
        if (!down)
            rc = grade(fw, edits_ok, diff, df, opts, mig, err);
        if (rc < 0)
            core_error_wrap(err, "%s", df->path);
    }
out:
    matcher_free(&m);
    if (rc < 0) {
        policy_report_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

policy_risk policy_report_risk(const policy_report *report)
{
    if (!report || report->n_migrations == 0)
        return POLICY_RISK_NONE;
    for (size_t i = 0; i < report->n_migrations; i++) {
        const policy_findings *f = &report->migrations[i].findings;

        for (size_t k = 0; k < f->count; k++) {
            if (f->items[k].severity == POLICY_SEVERITY_DANGER && !f->items[k].suppressed)
                return POLICY_RISK_HIGH;
        }
        for (size_t k = 0; k < f->n_omitted; k++) {
            if (f->omitted[k].severity == POLICY_SEVERITY_DANGER && !f->omitted[k].suppressed)
                return POLICY_RISK_HIGH;
        }
    }
    return POLICY_RISK_LOW;
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* Appends s as a JSON string, invalid UTF-8 replaced by U+FFFD; NULL becomes null. */
static int json_str(core_buf *b, const char *s)
{
    size_t len, i = 0;
    int rc;

    if (!s)
        return core_buf_puts(b, "null");
    len = strlen(s);
    rc = core_buf_puts(b, "\"");
    while (rc == 0 && i < len) {
        size_t run = i, n;

        while (run < len && (n = utf8_seq((const unsigned char *)s + run, len - run)) > 0)
            run += n;
        if (run > i)
            rc = core_buf_json_escape(b, s + i, run - i);
        if (rc == 0 && run < len) {
            rc = core_buf_puts(b, "\\ufffd");
            run++;
        }
        i = run;
    }
    if (rc == 0)
        rc = core_buf_puts(b, "\"");
    return rc;
}

static const char *change_name(policy_change c)
{
    return c == POLICY_CHANGE_RENAMED    ? "renamed"
           : c == POLICY_CHANGE_MODIFIED ? "modified"
                                         : "added";
}

/* Findings of severity s that are not suppressed, past the cap too: summaries give the
 * true totals. */
static size_t count_severity(const policy_report *r, policy_severity s)
{
    size_t counts[3];

    policy_report_counts(r, counts, NULL);
    return counts[s];
}

static size_t count_suppressed(const policy_report *r)
{
    size_t n;

    policy_report_counts(r, NULL, &n);
    return n;
}

void policy_report_counts(const policy_report *r, size_t by_severity[3], size_t *suppressed)
{
    size_t c[3] = {0, 0, 0}, sup = 0;

    for (size_t i = 0; r && i < r->n_migrations; i++) {
        const policy_findings *f = &r->migrations[i].findings;

        for (size_t k = 0; k < f->count; k++) {
            if (f->items[k].suppressed)
                sup++;
            else
                c[f->items[k].severity]++;
        }
        for (size_t k = 0; k < f->n_omitted; k++) {
            if (f->omitted[k].suppressed)
                sup++;
            else
                c[f->omitted[k].severity]++;
        }
    }
    if (by_severity)
        memcpy(by_severity, c, sizeof(c));
    if (suppressed)
        *suppressed = sup;
}

static int finding_json(core_buf *b, const policy_finding *f, const char *path)
{
    int rc = core_buf_puts(b, "{\"rule\":");

    rc = rc ? rc : json_str(b, f->rule);
    rc = rc ? rc
            : core_buf_printf(b,
                              ",\"severity\":\"%s\",\"path\":", policy_severity_name(f->severity));
    rc = rc ? rc : json_str(b, path);
    rc = rc ? rc : core_buf_printf(b, ",\"line\":%d,\"statement\":", f->line);
    rc = rc ? rc : json_str(b, f->statement);
    rc = rc ? rc : core_buf_puts(b, ",\"message\":");
    rc = rc ? rc : json_str(b, f->message);
    rc = rc ? rc : core_buf_puts(b, ",\"safer\":");
    rc = rc ? rc : json_str(b, f->safer);
    rc = rc ? rc : core_buf_puts(b, ",\"lock\":");
    rc = rc ? rc : json_str(b, f->lock);
    rc = rc ? rc
            : core_buf_printf(b, ",\"rewrites\":%s,\"scans\":%s", f->rewrites ? "true" : "false",
                              f->scans ? "true" : "false");
    if (rc == 0 && f->suppressed) {
        rc = core_buf_puts(b, ",\"suppressed\":true,\"suppression\":");
        rc = rc ? rc : json_str(b, f->suppression ? f->suppression : "");
    }
    return rc ? rc : core_buf_puts(b, "}");
}

int policy_report_json(const policy_report *report, core_buf *out)
{
    int rc;

    CORE_ASSERT(report && out);
    rc = core_buf_puts(out, "{\"migrations\":[");
    for (size_t i = 0; rc == 0 && i < report->n_migrations; i++) {
        const policy_migration *m = &report->migrations[i];

        rc = core_buf_puts(out, i ? ",{\"path\":" : "{\"path\":");
        rc = rc ? rc : json_str(out, m->path);
        rc = rc ? rc : core_buf_puts(out, ",\"framework\":");
        rc = rc ? rc : json_str(out, m->framework);
        rc = rc ? rc
                : core_buf_printf(out, ",\"change\":\"%s\",\"old_path\":", change_name(m->change));
        rc = rc ? rc : json_str(out, m->old_path);
        rc = rc ? rc
                : core_buf_printf(out, ",\"down\":%s,\"findings\":[", m->down ? "true" : "false");
        for (size_t k = 0; rc == 0 && k < m->findings.count; k++) {
            if (k)
                rc = core_buf_puts(out, ",");
            rc = rc ? rc : finding_json(out, &m->findings.items[k], m->path);
        }
        rc = rc ? rc : core_buf_printf(out, "],\"findings_omitted\":%zu}", m->findings.n_omitted);
    }
    if (rc == 0)
        rc = core_buf_printf(out,
                             "],\"summary\":{\"migrations\":%zu,\"danger\":%zu,\"warning\":%zu,"
                             "\"info\":%zu",
                             report->n_migrations, count_severity(report, POLICY_SEVERITY_DANGER),
                             count_severity(report, POLICY_SEVERITY_WARNING),
                             count_severity(report, POLICY_SEVERITY_INFO));
    /* The severities count what is not suppressed; the rest is counted apart, and only when
     * there is any, so that a report without suppressions keeps its shape. */
    if (rc == 0 && count_suppressed(report) > 0)
        rc = core_buf_printf(out, ",\"suppressed\":%zu", count_suppressed(report));
    if (rc == 0)
        rc = core_buf_printf(out, "},\"risk\":\"%s\"}",
                             policy_risk_name(policy_report_risk(report)));
    return rc < 0 ? CORE_ENOMEM : 0;
}

/* ---- Markdown ---------------------------------------------------------------------------- */

/* Appends s for use inside `code`: no backticks, no control characters, valid UTF-8, at most
 * max bytes (then "…"). */
static int md_code(core_buf *b, const char *s, size_t max)
{
    size_t len = strlen(s), i = 0, o = 0;
    int rc = 0;

    while (rc == 0 && i < len) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);

        if (o + (n ? n : 3) > max)
            return core_buf_puts(b, "…");
        if (n == 0) {
            rc = core_buf_puts(b, "\xef\xbf\xbd");
            o += 3;
            i++;
        } else if (n == 1 && (s[i] == '`' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)) {
            rc = core_buf_append(b, s[i] == '`' ? "'" : "?", 1);
            o++;
            i++;
        } else {
            rc = core_buf_append(b, s + i, n);
            o += n;
            i += n;
        }
    }
    return rc;
}

static policy_severity migration_max(const policy_migration *m)
{
    policy_severity s = POLICY_SEVERITY_INFO;

    for (size_t k = 0; k < m->findings.count; k++) {
        if (m->findings.items[k].severity > s && !m->findings.items[k].suppressed)
            s = m->findings.items[k].severity;
    }
    return s;
}

/* Sorting pointers into the report: ties keep array order through the addresses, and no
 * comparison needs a context, so rendering stays thread-safe. */
static int cmp_migration(const void *a, const void *b)
{
    const policy_migration *ma = *(const policy_migration *const *)a;
    const policy_migration *mb = *(const policy_migration *const *)b;
    int sa = (int)migration_max(ma) + (ma->findings.count > 0);
    int sb = (int)migration_max(mb) + (mb->findings.count > 0);

    if (sa != sb)
        return sb - sa;
    return ma < mb ? -1 : ma > mb;
}

static int cmp_finding(const void *a, const void *b)
{
    const policy_finding *fa = *(const policy_finding *const *)a;
    const policy_finding *fb = *(const policy_finding *const *)b;

    /* Suppressed findings come last: they are shown so that the reason can be read. */
    if (fa->suppressed != fb->suppressed)
        return fa->suppressed ? 1 : -1;
    if (fa->severity != fb->severity)
        return (int)fb->severity - (int)fa->severity;
    if (fa->line != fb->line)
        return fa->line < fb->line ? -1 : 1;
    return fa < fb ? -1 : fa > fb;
}

static int md_finding(core_buf *b, const policy_finding *f)
{
    int rc = core_buf_puts(b, "  - ");

    if (rc == 0 && f->suppressed) {
        rc = core_buf_puts(b, "suppressed (");
        rc = rc ? rc : md_code(b, f->suppression ? f->suppression : "", MD_STATEMENT_MAX);
        rc = rc ? rc : core_buf_puts(b, "): ");
    }
    rc = rc ? rc : core_buf_printf(b, "**%s** `%s`", policy_severity_name(f->severity), f->rule);

    if (rc == 0 && f->line > 0)
        rc = core_buf_printf(b, " line %d", f->line);
    rc = rc ? rc : core_buf_puts(b, ": ");
    rc = rc ? rc : md_code(b, f->message, MESSAGE_MAX);
    if (rc == 0 && f->statement[0]) {
        rc = core_buf_puts(b, " `");
        rc = rc ? rc : md_code(b, f->statement, MD_STATEMENT_MAX);
        rc = rc ? rc : core_buf_puts(b, "`");
    }
    if (rc == 0 && f->lock)
        rc = core_buf_printf(b, " (%s%s%s)", f->lock, f->rewrites ? ", rewrites" : "",
                             !f->rewrites && f->scans ? ", scans" : "");
    if (rc == 0 && f->safer) {
        rc = core_buf_puts(b, " Safer: ");
        rc = rc ? rc : md_code(b, f->safer, MESSAGE_MAX);
    }
    return rc ? rc : core_buf_puts(b, "\n");
}

static int md_header(core_buf *b, const policy_migration *m)
{
    int rc = core_buf_puts(b, "- `");

    rc = rc ? rc : md_code(b, m->path, 160);
    rc = rc ? rc
            : core_buf_printf(b, "` (%s%s%s)", m->framework, m->down ? ", down" : "",
                              m->change == POLICY_CHANGE_RENAMED ? ", renamed" : "");
    if (rc == 0 && m->findings.count == 0 && m->findings.n_omitted == 0)
        rc = core_buf_puts(b, m->down ? ": not graded" : ": no findings");
    return rc ? rc : core_buf_puts(b, "\n");
}

/* True when the rendered line in tmp fits under limit. */
static bool md_fits(core_buf *out, const core_buf *tmp, size_t limit)
{
    return out->len + tmp->len <= limit;
}

int policy_report_markdown(const policy_report *report, size_t max_bytes, core_buf *out)
{
    /* The tail "\n…and N more findings in M more files\n" never needs more than this. */
    const size_t reserve = 96;
    const policy_migration **order = NULL;
    const policy_finding **forder = NULL;
    size_t limit, left_findings = 0, left_files = 0, most = 1;
    core_buf tmp = {0};
    bool cut = false;
    int rc;

    CORE_ASSERT(report && out);
    if (max_bytes < POLICY_MARKDOWN_MIN)
        max_bytes = POLICY_MARKDOWN_MIN;
    limit = out->len + max_bytes - reserve;
    rc = core_buf_printf(out, "**zoneci migration review: risk %s**\n",
                         policy_risk_name(policy_report_risk(report)));
    if (rc == 0 && report->n_migrations == 0)
        rc = core_buf_puts(out, "No schema migrations in this change.\n");
    if (rc < 0 || report->n_migrations == 0)
        return rc < 0 ? CORE_ENOMEM : 0;
    for (size_t i = 0; i < report->n_migrations; i++) {
        if (report->migrations[i].findings.count > most)
            most = report->migrations[i].findings.count;
    }
    rc = core_buf_printf(out, "%zu migration%s: %zu danger, %zu warning, %zu info",
                         report->n_migrations, report->n_migrations == 1 ? "" : "s",
                         count_severity(report, POLICY_SEVERITY_DANGER),
                         count_severity(report, POLICY_SEVERITY_WARNING),
                         count_severity(report, POLICY_SEVERITY_INFO));
    if (rc == 0 && count_suppressed(report) > 0)
        rc = core_buf_printf(out, ", %zu suppressed", count_suppressed(report));
    rc = rc ? rc : core_buf_puts(out, "\n\n");
    order = malloc(report->n_migrations * sizeof(*order));
    forder = malloc(most * sizeof(*forder));
    if (rc < 0 || !order || !forder) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < report->n_migrations; i++)
        order[i] = &report->migrations[i];
    qsort(order, report->n_migrations, sizeof(*order), cmp_migration);
    for (size_t i = 0; i < report->n_migrations && rc == 0; i++) {
        const policy_migration *m = order[i];
        size_t nf = m->findings.count;

        left_findings += m->findings.n_omitted;
        for (size_t k = 0; k < nf; k++)
            forder[k] = &m->findings.items[k];
        qsort(forder, nf, sizeof(*forder), cmp_finding);
        /* A file is shown with its first finding or not at all. */
        if (!cut) {
            core_buf_reset(&tmp);
            rc = md_header(&tmp, m);
            if (rc == 0 && nf > 0)
                rc = md_finding(&tmp, forder[0]);
            cut = rc == 0 && !md_fits(out, &tmp, limit);
        }
        if (rc < 0)
            break;
        if (cut) {
            left_files++;
            left_findings += nf;
            continue;
        }
        rc = core_buf_append(out, tmp.data, tmp.len);
        for (size_t k = 1; k < nf && rc == 0; k++) {
            if (!cut) {
                core_buf_reset(&tmp);
                rc = md_finding(&tmp, forder[k]);
                cut = rc == 0 && !md_fits(out, &tmp, limit);
            }
            if (rc == 0 && cut)
                left_findings++;
            else if (rc == 0)
                rc = core_buf_append(out, tmp.data, tmp.len);
        }
    }
    if (rc == 0 && (left_findings || left_files)) {
        rc = core_buf_printf(out, "\n…and %zu more finding%s", left_findings,
                             left_findings == 1 ? "" : "s");
        if (rc == 0 && left_files)
            rc =
                core_buf_printf(out, " in %zu more file%s", left_files, left_files == 1 ? "" : "s");
        rc = rc ? rc : core_buf_puts(out, "\n");
    }
out:
    core_buf_free(&tmp);
    free(order);
    free(forder);
    return rc < 0 ? CORE_ENOMEM : 0;
}
