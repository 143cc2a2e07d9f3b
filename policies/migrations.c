/* Migration recognition and the report: which changed files are schema migrations (a table
 * of framework patterns plus the policy's globs), what their non-SQL code destroys (by the
 * names of the framework's operations), and the JSON and Markdown forms of the result.
 * SQL files are handed to policy_sql_check (sqlrisk.c); globs are git pathspecs (gitdiff.c). */
#include "policies/policies.h"

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

int policy_findings_push(policy_findings *f, const char *rule, policy_severity severity, int line,
                         const char *statement, size_t stmt_len, const char *message,
                         const char *safer, const char *lock, bool rewrites, bool scans)
{
    policy_finding *items, *it;

    CORE_ASSERT(f && rule && message);
    if (f->count >= POLICY_FINDINGS_MAX) {
        f->n_omitted++;
        return 0;
    }
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
    }
    free(f->items);
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

typedef struct framework {
    const char *name;
    const char *up[PATTERNS_MAX]; /* git pathspecs, case-insensitive */
    const char *down[2];          /* down/revert scripts: recognised, not graded */
    const char *markers[3];       /* when set, one must appear in the file (any case) */
    const char *edits_ok[2];      /* files meant to be edited (no changed-migration) */
    const op *ops;
} framework;

/* Order matters: the first framework that claims a file wins, so frameworks recognised by
 * content come before the ones that share their folder names. */
static const framework frameworks[] = {
    {"Prisma", {"**/prisma/migrations/*/migration.sql"}, {NULL}, {NULL}, {NULL}, NULL},
    {"golang-migrate", {"**/[0-9]*_*.up.sql"}, {"**/[0-9]*_*.down.sql"}, {NULL}, {NULL}, NULL},
    {"goose",
     {"**/[0-9]*_*.sql", "**/[0-9]*_*.go"},
     {NULL},
     {"+goose up", "goose.AddMigration"},
     {NULL},
     NULL},
    {"dbmate", {"**/migrations/*.sql"}, {NULL}, {"-- migrate:up"}, {NULL}, NULL},
    {"Flyway",
     {"**/V[0-9]*__*.sql", "**/R__*.sql"},
     {"**/U[0-9]*__*.sql"},
     {NULL},
     {"**/R__*.sql"},
     NULL},
    {"Liquibase",
     {"**/*changelog*", "**/changelog/*", "**/changelogs/*", "**/changesets/*", "**/liquibase/*"},
     {NULL},
     {"databaseChangeLog", "liquibase formatted sql"},
     {"**"},
     ops_liquibase},
    {"sqitch", {"**/deploy/*.sql"}, {"**/revert/*.sql"}, {NULL}, {NULL}, NULL},
    {"Atlas", {"**/migrations/[0-9]*.sql"}, {NULL}, {NULL}, {NULL}, NULL},
    {"Rails", {"**/db/migrate/*.rb"}, {NULL}, {NULL}, {NULL}, ops_rails},
    {"Alembic", {"**/versions/*.py"}, {NULL}, {"alembic"}, {NULL}, ops_alembic},
    {"Django", {"**/migrations/[0-9]*.py"}, {NULL}, {"django"}, {NULL}, ops_django},
    {"TypeORM",
     {"**/migration/*.ts", "**/migrations/*.ts", "**/migration/*.js", "**/migrations/*.js"},
     {NULL},
     {"MigrationInterface", "QueryRunner"},
     {NULL},
     ops_typeorm},
    {"Sequelize",
     {"**/migrations/*.js", "**/migrations/*.cjs", "**/migrations/*.ts"},
     {NULL},
     {"queryInterface", "sequelize"},
     {NULL},
     ops_sequelize},
    {"Knex",
     {"**/migrations/*.js", "**/migrations/*.cjs", "**/migrations/*.mjs", "**/migrations/*.ts"},
     {NULL},
     {"knex"},
     {NULL},
     ops_knex},
    {"Ecto",
     {"**/priv/*/migrations/*.exs", "**/priv/*/migrations/*.ex"},
     {NULL},
     {NULL},
     {NULL},
     ops_ecto},
    {"Laravel", {"**/database/migrations/*.php"}, {NULL}, {NULL}, {NULL}, ops_laravel},
    {"EF Core", {"**/Migrations/*.cs"}, {NULL}, {"MigrationBuilder"}, {NULL}, ops_efcore},
};

#define N_FRAMEWORKS (sizeof(frameworks) / sizeof(frameworks[0]))

static const framework custom_framework = {"custom", {NULL}, {NULL}, {NULL}, {NULL}, ops_custom};

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
    for (size_t i = 0; i + n <= len; i++) {
        if (strncasecmp(text + i, needle, n) == 0)
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

static int scan_code(const framework *fw, const char *path, const char *text, size_t len,
                     policy_findings *out)
{
    scanner sc = {style_of(extension(path)), false, false};
    char *clean = malloc(SCAN_LINE_MAX + 1);
    size_t pos = 0;
    int line = 0, rc = 0;

    if (!clean)
        return CORE_ENOMEM;
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
        }
        pos = end + 1;
    }
    free(clean);
    return rc;
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

static int grade(const framework *fw, bool edits_ok, const policy_diff_file *df,
                 policy_migration *m, core_error *err)
{
    char msg[MESSAGE_MAX];
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
        rc = policy_sql_check(df->content, sql_up_length(df->content, df->content_len),
                              &m->findings, err);
        if (rc == CORE_ETOOBIG) {
            rc = file_finding(&m->findings, "unchecked-migration", POLICY_SEVERITY_DANGER,
                              "migration not checked: it is over the size cap");
            if (rc < 0)
                return core_error_set(err, rc, "out of memory");
        }
        return rc;
    }
    rc = scan_code(fw, df->path, df->content, df->content_len, &m->findings);
    return rc < 0 ? core_error_set(err, rc, "out of memory") : 0;
}

int policy_migrations_inspect(const policy_diff *diff, char *const *paths, size_t n_paths,
                              policy_report **out, core_error *err)
{
    policy_report *r = NULL;
    matcher m;
    int rc;

    CORE_ASSERT(diff && out && (paths || n_paths == 0));
    *out = NULL;
    rc = matcher_init(&m, paths, n_paths, err);
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
            rc = grade(fw, edits_ok, df, mig, err);
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
            if (f->items[k].severity == POLICY_SEVERITY_DANGER)
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

static int count_severity(const policy_report *r, policy_severity s)
{
    int n = 0;

    for (size_t i = 0; i < r->n_migrations; i++) {
        for (size_t k = 0; k < r->migrations[i].findings.count; k++)
            n += r->migrations[i].findings.items[k].severity == s;
    }
    return n;
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
            : core_buf_printf(b, ",\"rewrites\":%s,\"scans\":%s}", f->rewrites ? "true" : "false",
                              f->scans ? "true" : "false");
    return rc;
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
                             "],\"summary\":{\"migrations\":%zu,\"danger\":%d,\"warning\":%d,"
                             "\"info\":%d},\"risk\":\"%s\"}",
                             report->n_migrations, count_severity(report, POLICY_SEVERITY_DANGER),
                             count_severity(report, POLICY_SEVERITY_WARNING),
                             count_severity(report, POLICY_SEVERITY_INFO),
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
        if (m->findings.items[k].severity > s)
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

    if (fa->severity != fb->severity)
        return (int)fb->severity - (int)fa->severity;
    if (fa->line != fb->line)
        return fa->line < fb->line ? -1 : 1;
    return fa < fb ? -1 : fa > fb;
}

static int md_finding(core_buf *b, const policy_finding *f)
{
    int rc = core_buf_printf(b, "  - **%s** `%s`", policy_severity_name(f->severity), f->rule);

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
    rc = core_buf_printf(out, "%zu migration%s: %d danger, %d warning, %d info\n\n",
                         report->n_migrations, report->n_migrations == 1 ? "" : "s",
                         count_severity(report, POLICY_SEVERITY_DANGER),
                         count_severity(report, POLICY_SEVERITY_WARNING),
                         count_severity(report, POLICY_SEVERITY_INFO));
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
