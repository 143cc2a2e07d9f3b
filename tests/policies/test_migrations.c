/* policies/migrations.c: the framework table (a path per framework), policy globs with "**",
 * destructive operations in Ruby, Python, JS/TS, PHP, Elixir, C# and Liquibase XML with
 * their lines (down sections left alone), down scripts, edited and unreadable migrations,
 * the report's JSON and risk, and the Markdown rendering and its cut; rule settings,
 * CONCURRENTLY inside each framework's transaction (and its opt-out), zoneci:ignore
 * comments and suppressed findings in the report. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/inspect.h"
#include "policies/policies.h"
#include "tests/support/support.h"

/* ---- the framework table ----------------------------------------------------------------- */

typedef struct fw_case {
    const char *path;
    const char *content;   /* NULL: none needed */
    const char *framework; /* NULL: not a migration */
} fw_case;

static const fw_case fw_cases[] = {
    {"db/migrate/20240101120000_add_users.rb", NULL, "Rails"},
    {"engines/billing/db/migrate/20240101_x.rb", NULL, "Rails"},
    {"shop/migrations/0002_auto_20240101.py", "from django.db import migrations\n", "Django"},
    {"alembic/versions/3f2a_add_users.py", "from alembic import op\n", "Alembic"},
    {"migrations/versions/3f2a_add_users.py", "\"\"\"revision identifiers, used by Alembic.\"\"\"",
     "Alembic"},
    {"src/main/resources/db/migration/V2__add_users.sql", NULL, "Flyway"},
    {"db/migration/R__views.sql", NULL, "Flyway"},
    {"src/main/resources/db/changelog/db.changelog-master.xml",
     "<?xml version=\"1.0\"?>\n<databaseChangeLog>\n", "Liquibase"},
    {"db/changelog/001-users.sql", "--liquibase formatted sql\n--changeset a:1\n", "Liquibase"},
    {"migrations/000001_create_users.up.sql", NULL, "golang-migrate"},
    {"migrations/000001_create_users.down.sql", NULL, "golang-migrate"},
    {"db/migrations/20240101120000_users.sql", "-- +goose Up\nCREATE TABLE u (id int);\n", "goose"},
    {"db/migrations/20240101120000_users.sql", "-- migrate:up\nCREATE TABLE u (id int);\n",
     "dbmate"},
    {"prisma/migrations/20240101120000_init/migration.sql", NULL, "Prisma"},
    {"migrations/20240101_users.js", "exports.up = function(knex) {\n", "Knex"},
    {"migrations/20240101-create-user.js",
     "module.exports = { up: async (queryInterface, Sequelize) => {", "Sequelize"},
    {"src/migration/1700000000000-Init.ts", "export class Init implements MigrationInterface {",
     "TypeORM"},
    {"priv/repo/migrations/20240101120000_create_users.exs", NULL, "Ecto"},
    {"database/migrations/2024_01_01_000000_create_users_table.php", NULL, "Laravel"},
    {"src/Data/Migrations/20240101120000_Init.cs",
     "protected override void Up(MigrationBuilder migrationBuilder)", "EF Core"},
    {"deploy/users.sql", NULL, "sqitch"},
    {"revert/users.sql", NULL, "sqitch"},
    {"migrations/20220318104614_initial.sql", NULL, "Atlas"},
    {"db/migrate/002_email_varchar.sql", NULL, "SQL"},
    {"migrations/add_users_index.sql", NULL, "SQL"},
    {"services/api/db/migrations/v2/add_users.sql", NULL, "SQL"},
    {"src/main/resources/db/migration/cleanup.sql", NULL, "SQL"},
    /* Not migrations. */
    {"src/Data/Migrations/AppDbContextModelSnapshot.cs",
     "protected override void BuildModel(ModelBuilder modelBuilder)", NULL},
    {"db/seeds.sql", "DROP TABLE users;", NULL},
    {"scripts/cleanup.sql", "DROP TABLE users;", NULL},
    {"CHANGELOG.md", "# changelog", NULL},
    {"migrations/20240101_users.js", "console.log('no framework here')", NULL},
    {"app/models/user.rb", NULL, NULL},
    {"shop/migrations/0002_auto.py", "print('hello')", NULL},
};

START_TEST(framework_recognition)
{
    const fw_case *c = &fw_cases[_i];
    const char *got =
        policy_migration_framework(c->path, c->content, c->content ? strlen(c->content) : 0);

    if (c->framework)
        ck_assert_msg(got && strcmp(got, c->framework) == 0, "%s: got %s, want %s", c->path,
                      got ? got : "none", c->framework);
    else
        ck_assert_msg(got == NULL, "%s: got %s, want none", c->path, got);
}
END_TEST

/* Every built-in framework has at least one recognised path above. */
START_TEST(framework_table_is_covered)
{
    static const char *const names[] = {
        "Rails", "Django",  "Alembic", "Flyway", "Liquibase", "golang-migrate",
        "goose", "dbmate",  "Prisma",  "Knex",   "Sequelize", "TypeORM",
        "Ecto",  "Laravel", "EF Core", "sqitch", "Atlas",     "SQL",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        bool found = false;

        for (size_t k = 0; k < sizeof(fw_cases) / sizeof(fw_cases[0]); k++)
            found =
                found || (fw_cases[k].framework && strcmp(fw_cases[k].framework, names[i]) == 0);
        ck_assert_msg(found, "no case for %s", names[i]);
    }
}
END_TEST

/* ---- inspecting in-memory diffs ---------------------------------------------------------- */

static policy_diff *diff_of(const char *const *files)
{
    policy_diff *d = NULL;

    ck_assert_int_eq(policy_diff_new(&d, NULL), 0);
    for (size_t i = 0; files[i]; i += 2) {
        ck_assert_int_eq(policy_diff_add(d, files[i], NULL, POLICY_CHANGE_ADDED,
                                         POLICY_CONTENT_TEXT, files[i + 1], strlen(files[i + 1]),
                                         NULL),
                         0);
    }
    return d;
}

static policy_report *inspect(const policy_diff *d, char *const *paths, size_t n)
{
    policy_report *r = NULL;
    core_error err = {0};

    ck_assert_msg(policy_migrations_inspect(d, paths, n, &r, &err) == 0, "%s", err.msg);
    return r;
}

static const policy_migration *find_migration(const policy_report *r, const char *path)
{
    for (size_t i = 0; i < r->n_migrations; i++) {
        if (strcmp(r->migrations[i].path, path) == 0)
            return &r->migrations[i];
    }
    return NULL;
}

START_TEST(policy_globs_add_paths)
{
    static const char *const files[] = {
        "db/x.sql",
        "DROP TABLE a;",
        "db/schema/v1/y.sql",
        "CREATE INDEX i ON t (c);",
        "other.sql",
        "DROP TABLE b;",
        "db/notes.txt",
        "drop_table",
        "db/migrate/1_x.rb",
        "remove_column :a, :b",
        NULL,
    };
    char *paths[] = {"db/**/*.sql"};
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, paths, 1);
    const policy_migration *m;

    ck_assert_uint_eq(r->n_migrations, 3);
    m = find_migration(r, "db/x.sql");
    ck_assert_str_eq(m->framework, "custom");
    ck_assert_str_eq(m->findings.items[0].rule, "ban-drop-table");
    ck_assert_str_eq(find_migration(r, "db/schema/v1/y.sql")->framework, "custom");
    ck_assert_str_eq(find_migration(r, "db/migrate/1_x.rb")->framework, "Rails");
    ck_assert_ptr_null(find_migration(r, "other.sql"));
    ck_assert_ptr_null(find_migration(r, "db/notes.txt"));
    policy_report_free(r);
    /* Without the glob only the built-in pattern is left. */
    r = inspect(d, NULL, 0);
    ck_assert_uint_eq(r->n_migrations, 1);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(bad_glob_is_refused)
{
    static const char *const files[] = {"a.sql", "", NULL};
    char *paths[] = {"db/*.sql", ""};
    policy_diff *d = diff_of(files);
    policy_report *r = NULL;
    core_error err = {0};

    ck_assert_int_eq(policy_migrations_inspect(d, paths, 2, &r, &err), CORE_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err.msg, "migrations.paths") != NULL, "%s", err.msg);
    policy_diff_free(d);
}
END_TEST

typedef struct code_case {
    const char *path, *framework, *content;
    const char *rule; /* the one finding expected */
    int line;
    const char *in_message; /* the operation named in the message */
} code_case;

static const code_case code_cases[] = {
    {"db/migrate/20240101_remove_email.rb", "Rails",
     "class RemoveEmail < ActiveRecord::Migration[7.1]\n"
     "  def up\n"
     "    remove_column :users, :email # gone\n"
     "  end\n"
     "\n"
     "  def down\n"
     "    drop_table :users\n"
     "  end\n"
     "end\n",
     "orm-drop-column", 3, "remove_column"},
    {"db/migrate/20240102_rename.rb", "Rails",
     "class Rename < ActiveRecord::Migration[7.1]\n"
     "  # drop_table :old (a comment, not code)\n"
     "  def change\n"
     "    rename_column :users, :name, :full_name\n"
     "  end\n"
     "end\n",
     "orm-rename", 4, "rename_column"},
    {"shop/migrations/0003_remove_price.py", "Django",
     "from django.db import migrations\n"
     "\n"
     "class Migration(migrations.Migration):\n"
     "    operations = [\n"
     "        migrations.RemoveField(model_name='item', name='price'),\n"
     "    ]\n",
     "orm-drop-column", 5, "RemoveField"},
    {"alembic/versions/ab12_drop.py", "Alembic",
     "from alembic import op\n"
     "\n"
     "def upgrade():\n"
     "    op.drop_column('users', 'email')\n"
     "\n"
     "def downgrade():\n"
     "    op.drop_table('users')\n",
     "orm-drop-column", 4, "drop_column"},
    {"migrations/20240101_users.js", "Knex",
     "exports.up = function(knex) {\n"
     "  return knex.schema.dropTable('users');\n"
     "};\n"
     "exports.down = function(knex) {\n"
     "  return knex.schema.dropTable('other');\n"
     "};\n",
     "orm-drop-table", 2, "dropTable"},
    {"migrations/20240101-remove-email.js", "Sequelize",
     "'use strict';\n"
     "module.exports = {\n"
     "  up: async (queryInterface, Sequelize) => {\n"
     "    await queryInterface.removeColumn('Users', 'email');\n"
     "  },\n"
     "  down: async (queryInterface) => {\n"
     "    await queryInterface.dropTable('Users');\n"
     "  }\n"
     "};\n",
     "orm-drop-column", 4, "removeColumn"},
    {"src/migration/1700000000000-DropAge.ts", "TypeORM",
     "import { MigrationInterface, QueryRunner } from 'typeorm';\n"
     "export class DropAge1700000000000 implements MigrationInterface {\n"
     "  public async up(queryRunner: QueryRunner): Promise<void> {\n"
     "    /* the column is unused since v2 */\n"
     "    await queryRunner.query(`ALTER TABLE \"user\" DROP COLUMN \"age\"`);\n"
     "  }\n"
     "  public async down(queryRunner: QueryRunner): Promise<void> {\n"
     "    await queryRunner.dropTable('user');\n"
     "  }\n"
     "}\n",
     "orm-drop-column", 5, "drop column"},
    {"database/migrations/2024_01_01_000000_drop_votes.php", "Laravel",
     "<?php\n"
     "return new class extends Migration\n"
     "{\n"
     "    public function up(): void\n"
     "    {\n"
     "        Schema::table('users', function (Blueprint $table) {\n"
     "            $table->dropColumn('votes');\n"
     "        });\n"
     "    }\n"
     "    public function down(): void\n"
     "    {\n"
     "        Schema::dropIfExists('flights');\n"
     "    }\n"
     "};\n",
     "orm-drop-column", 7, "dropColumn"},
    {"database/migrations/2024_01_02_000000_drop_users.php", "Laravel",
     "<?php\n"
     "// Schema::drop('not_this');\n"
     "public function up(): void { Schema::drop('users'); }\n",
     "orm-drop-table", 3, "drop"},
    {"priv/repo/migrations/20240101_remove_email.exs", "Ecto",
     "defmodule Repo.Migrations.RemoveEmail do\n"
     "  use Ecto.Migration\n"
     "\n"
     "  def change do\n"
     "    alter table(:users) do\n"
     "      remove :email\n"
     "    end\n"
     "  end\n"
     "end\n",
     "orm-drop-column", 6, "remove"},
    {"src/Data/Migrations/20240101_DropEmail.cs", "EF Core",
     "public partial class DropEmail : Migration\n"
     "{\n"
     "    protected override void Up(MigrationBuilder migrationBuilder)\n"
     "    {\n"
     "        migrationBuilder.DropColumn(\n"
     "            name: \"Email\",\n"
     "            table: \"Users\");\n"
     "    }\n"
     "    protected override void Down(MigrationBuilder migrationBuilder)\n"
     "    {\n"
     "        migrationBuilder.DropTable(name: \"Users\");\n"
     "    }\n"
     "}\n",
     "orm-drop-column", 5, "DropColumn"},
    {"db/changelog/db.changelog-2.xml", "Liquibase",
     "<databaseChangeLog>\n"
     "  <changeSet id=\"1\" author=\"a\">\n"
     "    <createTable tableName=\"t\"><column name=\"id\" type=\"int\"/></createTable>\n"
     "    <rollback>\n"
     "      <dropTable tableName=\"t\"/>\n"
     "    </rollback>\n"
     "  </changeSet>\n"
     "  <!-- <dropTable tableName=\"commented\"/> -->\n"
     "  <changeSet id=\"2\" author=\"a\">\n"
     "    <dropColumn tableName=\"u\" columnName=\"c\"/>\n"
     "  </changeSet>\n"
     "</databaseChangeLog>\n",
     "orm-drop-column", 10, "dropColumn"},
};

START_TEST(destructive_code_operations)
{
    const code_case *c = &code_cases[_i];
    const char *files[] = {c->path, c->content, NULL};
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    const policy_finding *f;

    ck_assert_uint_eq(r->n_migrations, 1);
    ck_assert_str_eq(r->migrations[0].framework, c->framework);
    for (size_t i = 0; r->migrations[0].findings.count != 1 && i < r->migrations[0].findings.count;
         i++)
        fprintf(stderr, "  %s:%d %s\n", c->path, r->migrations[0].findings.items[i].line,
                r->migrations[0].findings.items[i].rule);
    ck_assert_uint_eq(r->migrations[0].findings.count, 1);
    f = &r->migrations[0].findings.items[0];
    ck_assert_str_eq(f->rule, c->rule);
    ck_assert_int_eq(f->severity, POLICY_SEVERITY_WARNING);
    ck_assert_int_eq(f->line, c->line);
    ck_assert_msg(strncmp(f->message, c->in_message, strlen(c->in_message)) == 0, "%s", f->message);
    ck_assert(f->statement[0] != '\0');
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_LOW);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(down_scripts_and_sections)
{
    static const char *const files[] = {
        "migrations/000002_users.down.sql",
        "DROP TABLE users;",
        "db/migration/U2__undo.sql",
        "DROP TABLE users;",
        "revert/users.sql",
        "DROP TABLE users;",
        "db/migrations/20240101_goose.sql",
        "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE a (id int);\nDROP TABLE old;\n"
        "-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE a;\n",
        "db/migrations/20240102_dbmate.sql",
        "-- migrate:up\nCREATE TABLE b (id int);\n\n-- migrate:down\nDROP TABLE b;\n",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    const policy_migration *m;

    ck_assert_uint_eq(r->n_migrations, 5);
    for (int i = 0; i < 3; i++) {
        m = find_migration(r, files[2 * i]);
        ck_assert_msg(m && m->down, "%s", files[2 * i]);
        ck_assert_uint_eq(m->findings.count, 0);
    }
    m = find_migration(r, "db/migrations/20240101_goose.sql");
    ck_assert_str_eq(m->framework, "goose");
    ck_assert(!m->down);
    ck_assert_uint_eq(m->findings.count, 2); /* and require-lock-timeout */
    ck_assert_str_eq(m->findings.items[0].rule, "ban-drop-table");
    ck_assert_int_eq(m->findings.items[0].line, 4);
    m = find_migration(r, "db/migrations/20240102_dbmate.sql");
    ck_assert_str_eq(m->framework, "dbmate");
    ck_assert_uint_eq(m->findings.count, 0);
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(edited_and_unreadable_migrations)
{
    policy_diff *d = NULL;
    policy_report *r;
    const policy_migration *m;

    ck_assert_int_eq(policy_diff_new(&d, NULL), 0);
    ck_assert_int_eq(policy_diff_add(d, "db/migration/V1__init.sql", NULL, POLICY_CHANGE_MODIFIED,
                                     POLICY_CONTENT_TEXT, "SELECT 1;", 9, NULL),
                     0);
    ck_assert_int_eq(policy_diff_add(d, "db/migration/R__views.sql", NULL, POLICY_CHANGE_MODIFIED,
                                     POLICY_CONTENT_TEXT, "SELECT 1;", 9, NULL),
                     0);
    ck_assert_int_eq(policy_diff_add(d, "db/migration/V2__new.sql", "db/migration/V1b__new.sql",
                                     POLICY_CHANGE_RENAMED, POLICY_CONTENT_TEXT, "SELECT 1;", 9,
                                     NULL),
                     0);
    ck_assert_int_eq(policy_diff_add(d, "db/migration/V3__big.sql", NULL, POLICY_CHANGE_ADDED,
                                     POLICY_CONTENT_TOO_BIG, NULL, 0, NULL),
                     0);
    ck_assert_int_eq(policy_diff_add(d, "db/migration/V4__bin.sql", NULL, POLICY_CHANGE_ADDED,
                                     POLICY_CONTENT_BINARY, NULL, 0, NULL),
                     0);
    r = inspect(d, NULL, 0);
    ck_assert_uint_eq(r->n_migrations, 5);
    m = find_migration(r, "db/migration/V1__init.sql");
    ck_assert_uint_eq(m->findings.count, 1);
    ck_assert_str_eq(m->findings.items[0].rule, "changed-migration");
    ck_assert_int_eq(m->findings.items[0].severity, POLICY_SEVERITY_WARNING);
    ck_assert_uint_eq(find_migration(r, "db/migration/R__views.sql")->findings.count, 0);
    m = find_migration(r, "db/migration/V2__new.sql");
    ck_assert_uint_eq(m->findings.count, 0);
    ck_assert_str_eq(m->old_path, "db/migration/V1b__new.sql");
    ck_assert_int_eq(m->change, POLICY_CHANGE_RENAMED);
    m = find_migration(r, "db/migration/V3__big.sql");
    ck_assert_str_eq(m->findings.items[0].rule, "unchecked-migration");
    ck_assert_int_eq(m->findings.items[0].severity, POLICY_SEVERITY_DANGER);
    ck_assert_int_eq(m->findings.items[0].line, 0);
    ck_assert_str_eq(find_migration(r, "db/migration/V4__bin.sql")->findings.items[0].rule,
                     "unchecked-migration");
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* ---- JSON and risk ----------------------------------------------------------------------- */

static json_t *report_json(const policy_report *r)
{
    core_buf b = {0};
    json_error_t jerr;
    json_t *root;

    ck_assert_int_eq(policy_report_json(r, &b), 0);
    root = json_loads(b.data, 0, &jerr);
    ck_assert_msg(root != NULL, "invalid JSON (%s): %s", jerr.text, b.data);
    core_buf_free(&b);
    return root;
}

START_TEST(json_shape_and_risk_levels)
{
    static const char *const none[] = {"README.md", "hello", NULL};
    static const char *const low[] = {"db/migration/V5__idx.sql", "CREATE INDEX i ON t (c);", NULL};
    static const char *const high[] = {
        "db/migration/V6__drop.sql",
        "SET lock_timeout = '1s';\n\nDROP TABLE \"a\";\n",
        "db/migration/V7__ok.sql",
        "SELECT 1;",
        NULL,
    };
    const char *const *sets[] = {none, low, high};
    const char *risks[] = {"none", "low", "high"};

    for (int i = 0; i < 3; i++) {
        policy_diff *d = diff_of(sets[i]);
        policy_report *r = inspect(d, NULL, 0);
        json_t *root = report_json(r), *migs = json_object_get(root, "migrations");

        ck_assert_str_eq(json_string_value(json_object_get(root, "risk")), risks[i]);
        ck_assert_str_eq(policy_risk_name(policy_report_risk(r)), risks[i]);
        ck_assert(json_is_array(migs));
        ck_assert_uint_eq(json_array_size(migs), (size_t)i);
        if (i == 2) {
            json_t *m = json_array_get(migs, 0), *f;

            ck_assert_str_eq(json_string_value(json_object_get(m, "path")),
                             "db/migration/V6__drop.sql");
            ck_assert_str_eq(json_string_value(json_object_get(m, "framework")), "Flyway");
            ck_assert_str_eq(json_string_value(json_object_get(m, "change")), "added");
            ck_assert(json_is_null(json_object_get(m, "old_path")));
            f = json_array_get(json_object_get(m, "findings"), 0);
            ck_assert_str_eq(json_string_value(json_object_get(f, "rule")), "ban-drop-table");
            ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "danger");
            ck_assert_str_eq(json_string_value(json_object_get(f, "path")),
                             "db/migration/V6__drop.sql");
            ck_assert_int_eq(json_integer_value(json_object_get(f, "line")), 3);
            ck_assert_str_eq(json_string_value(json_object_get(f, "statement")),
                             "DROP TABLE \"a\"");
            ck_assert_str_eq(json_string_value(json_object_get(f, "lock")), "ACCESS EXCLUSIVE");
            ck_assert(json_is_false(json_object_get(f, "rewrites")));
            ck_assert(json_is_string(json_object_get(f, "message")));
            ck_assert(json_is_string(json_object_get(f, "safer")));
            ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(migs, 1), "findings")),
                              0);
            ck_assert_int_eq(
                json_integer_value(json_object_get(json_object_get(root, "summary"), "danger")), 1);
        }
        json_decref(root);
        policy_report_free(r);
        policy_diff_free(d);
    }
    ck_assert_int_eq(policy_report_risk(NULL), POLICY_RISK_NONE);
}
END_TEST

START_TEST(json_survives_odd_paths)
{
    static const char *const files[] = {
        "db/migration/V1__\"quote\"\n\xff\\.sql",
        "SELECT '\xe2\x82\xac';\nALTER TABLE t DROP COLUMN \"\xc3\xa9\";",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    json_t *root = report_json(r);
    const char *path = json_string_value(
        json_object_get(json_array_get(json_object_get(root, "migrations"), 0), "path"));

    ck_assert_str_eq(path, "db/migration/V1__\"quote\"\n\xef\xbf\xbd\\.sql");
    json_decref(root);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* ---- Markdown ---------------------------------------------------------------------------- */

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(markdown_full_and_cut)
{
    char sql[8192];
    size_t n = (size_t)snprintf(sql, sizeof(sql), "SET lock_timeout = '1s';\n");
    const char *files[] = {"db/migration/V1__idx.sql",
                           "CREATE INDEX i ON t (c);",
                           "db/migration/V2__drops.sql",
                           sql,
                           "db/migration/V3__ok.sql",
                           "SELECT 1;",
                           NULL};
    policy_diff *d;
    policy_report *r;
    core_buf b = {0};
    size_t shown, more;
    const char *tail;

    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(sql + n, sizeof(sql) - n, "DROP TABLE t%d;\n", i);
    d = diff_of(files);
    r = inspect(d, NULL, 0);
    /* Uncut: everything, the dangerous file first. */
    ck_assert_int_eq(policy_report_markdown(r, 1 << 20, &b), 0);
    ck_assert_msg(strncmp(b.data, "**zoneci migration review: risk high**\n", 39) == 0, "%s",
                  b.data);
    ck_assert_uint_eq(count_of(b.data, "  - **"), 41);
    ck_assert_ptr_null(strstr(b.data, "more finding"));
    ck_assert_ptr_nonnull(strstr(b.data, "`db/migration/V3__ok.sql` (Flyway): no findings"));
    ck_assert(strstr(b.data, "V2__drops") < strstr(b.data, "V1__idx"));
    core_buf_free(&b);
    /* Cut: at most max_bytes, and the numbers add up. */
    ck_assert_int_eq(policy_report_markdown(r, 1500, &b), 0);
    ck_assert_uint_le(b.len, 1500);
    shown = count_of(b.data, "  - **");
    tail = strstr(b.data, "…and ");
    ck_assert_msg(tail != NULL, "%s", b.data);
    more = strtoul(tail + strlen("…and "), NULL, 10);
    ck_assert_uint_gt(shown, 0);
    ck_assert_uint_eq(shown + more, 41);
    ck_assert_ptr_nonnull(strstr(tail, "more files"));
    core_buf_free(&b);
    /* A tiny budget still gives a well-formed summary. */
    ck_assert_int_eq(policy_report_markdown(r, 10, &b), 0);
    ck_assert_uint_le(b.len, 256);
    ck_assert_ptr_nonnull(strstr(b.data, "…and 41 more findings in 3 more files"));
    core_buf_free(&b);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(markdown_no_migrations_and_code_spans)
{
    static const char *const files[] = {"db/migration/V1__`tick`.sql", "DROP TABLE `x`;", NULL};
    policy_report empty = {0};
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    core_buf b = {0};

    ck_assert_int_eq(policy_report_markdown(&empty, 4096, &b), 0);
    ck_assert_str_eq(
        b.data, "**zoneci migration review: risk none**\nNo schema migrations in this change.\n");
    core_buf_free(&b);
    ck_assert_int_eq(policy_report_markdown(r, 4096, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "`db/migration/V1__'tick'.sql`"));
    ck_assert_ptr_nonnull(strstr(b.data, "unparsable SQL at line 1"));
    core_buf_free(&b);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* ---- rule settings ----------------------------------------------------------------------- */

START_TEST(rule_levels_and_known_rules)
{
    policy_rule_level level = POLICY_RULE_DEFAULT;
    const policy_rule_setting settings[] = {
        {"ban-drop-table", POLICY_RULE_OFF},
        {"orm-rename", POLICY_RULE_INFO},
        {"ban-drop-table", POLICY_RULE_WARNING},
    };
    const policy_sql_rule *rules;
    size_t n = 0;

    ck_assert(policy_rule_level_parse("off", &level) && level == POLICY_RULE_OFF);
    ck_assert(policy_rule_level_parse("info", &level) && level == POLICY_RULE_INFO);
    ck_assert(policy_rule_level_parse("warning", &level) && level == POLICY_RULE_WARNING);
    ck_assert(policy_rule_level_parse("danger", &level) && level == POLICY_RULE_DANGER);
    ck_assert(!policy_rule_level_parse("Danger", &level));
    ck_assert(!policy_rule_level_parse("default", &level));
    ck_assert(!policy_rule_level_parse("", &level));
    ck_assert(!policy_rule_level_parse(NULL, &level));
    ck_assert_int_eq(level, POLICY_RULE_DANGER); /* untouched by a refusal */

    /* The last setting naming a rule wins; unnamed rules keep the default. */
    ck_assert_int_eq(policy_rule_level_of(settings, 3, "ban-drop-table"), POLICY_RULE_WARNING);
    ck_assert_int_eq(policy_rule_level_of(settings, 1, "ban-drop-table"), POLICY_RULE_OFF);
    ck_assert_int_eq(policy_rule_level_of(settings, 3, "orm-rename"), POLICY_RULE_INFO);
    ck_assert_int_eq(policy_rule_level_of(settings, 3, "ban-truncate"), POLICY_RULE_DEFAULT);
    ck_assert_int_eq(policy_rule_level_of(NULL, 0, "ban-truncate"), POLICY_RULE_DEFAULT);

    rules = policy_sql_rules(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(policy_rule_known(rules[i].id), "%s", rules[i].id);
    ck_assert(policy_rule_known("orm-drop-table"));
    ck_assert(policy_rule_known("orm-truncate"));
    ck_assert(policy_rule_known("changed-migration"));
    ck_assert(policy_rule_known("unchecked-migration"));
    ck_assert(policy_rule_known("suppression-without-reason"));
    ck_assert(policy_rule_known("unknown-rule-in-suppression"));
    ck_assert(policy_rule_known("ban-concurrent-index-creation-in-transaction"));
    ck_assert(!policy_rule_known("ban-drop-tabel"));
    ck_assert(!policy_rule_known("BAN-DROP-TABLE"));
    ck_assert(!policy_rule_known(""));
    ck_assert(!policy_rule_known(NULL));
}
END_TEST

static policy_report *inspect_with(const policy_diff *d, const policy_rule_setting *rules, size_t n)
{
    policy_inspect_options opts = {0};
    policy_report *r = NULL;
    core_error err = {0};

    opts.rules = rules;
    opts.n_rules = n;
    ck_assert_msg(policy_migrations_inspect_with(d, &opts, &r, &err) == 0, "%s", err.msg);
    return r;
}

/* Past the per-file cap findings are not shown, but the summaries count them all, rule
 * settings and suppressions reach them, and a danger among them makes the report high. */
START_TEST(summary_counts_findings_past_the_cap)
{
    enum { INDEXES = 250 };
    core_buf sql = {0}, md = {0};
    const char *set[] = {"db/migration/V9__many.sql", NULL, NULL};
    policy_rule_setting regrade[] = {
        {(char *)"require-concurrent-index-creation", POLICY_RULE_INFO}};
    policy_diff *d;
    policy_report *r;
    json_t *root, *sum;
    size_t counts[3], suppressed;

    ck_assert_int_eq(core_buf_puts(&sql, "SET lock_timeout = '1s';\n"), 0);
    for (int i = 0; i < INDEXES; i++)
        ck_assert_int_eq(core_buf_printf(&sql, "CREATE INDEX i%d ON t (c);\n", i), 0);
    ck_assert_int_eq(core_buf_puts(&sql, "-- zoneci:ignore ban-truncate emptied every night\n"
                                         "TRUNCATE a;\nTRUNCATE b;\nTRUNCATE c;\nTRUNCATE d;\n"),
                     0);
    set[1] = sql.data;
    d = diff_of(set);

    r = inspect(d, NULL, 0);
    ck_assert_uint_eq(r->migrations[0].findings.count, POLICY_FINDINGS_MAX);
    ck_assert_uint_eq(r->migrations[0].findings.n_omitted, INDEXES + 4 - POLICY_FINDINGS_MAX);
    policy_report_counts(r, counts, &suppressed);
    ck_assert_uint_eq(counts[POLICY_SEVERITY_WARNING], INDEXES);
    ck_assert_uint_eq(counts[POLICY_SEVERITY_DANGER], 3);
    ck_assert_uint_eq(suppressed, 1);
    /* Every finding shown is a warning: only the omitted ones make it high. */
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    root = report_json(r);
    sum = json_object_get(root, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "warning")), INDEXES);
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "danger")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "suppressed")), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(json_object_get(root, "migrations"), 0),
                                           "findings_omitted")),
        INDEXES + 4 - POLICY_FINDINGS_MAX);
    ck_assert_str_eq(json_string_value(json_object_get(root, "risk")), "high");
    json_decref(root);
    ck_assert_int_eq(policy_report_markdown(r, 4096, &md), 0);
    ck_assert_msg(strstr(md.data, "3 danger, 250 warning, 0 info, 1 suppressed") != NULL, "%s",
                  md.data);
    core_buf_free(&md);
    policy_report_free(r);

    /* A rule setting regrades the omitted findings too. */
    r = inspect_with(d, regrade, 1);
    policy_report_counts(r, counts, &suppressed);
    ck_assert_uint_eq(counts[POLICY_SEVERITY_WARNING], 0);
    ck_assert_uint_eq(counts[POLICY_SEVERITY_INFO], INDEXES);
    ck_assert_uint_eq(counts[POLICY_SEVERITY_DANGER], 3);
    policy_report_free(r);
    policy_diff_free(d);
    core_buf_free(&sql);
}
END_TEST

static const policy_finding *find_rule(const policy_migration *m, const char *rule)
{
    for (size_t i = 0; m && i < m->findings.count; i++) {
        if (strcmp(m->findings.items[i].rule, rule) == 0)
            return &m->findings.items[i];
    }
    return NULL;
}

START_TEST(rule_settings_turn_off_and_regrade)
{
    static const char *const files[] = {
        "db/migration/V1__drop.sql",
        "SET lock_timeout = '1s';\nDROP TABLE a;\nTRUNCATE b;\n",
        "db/migrate/20240101_rename.rb",
        "def change\n  rename_column :users, :a, :b\nend\n",
        NULL,
    };
    const policy_rule_setting off[] = {{"ban-drop-table", POLICY_RULE_OFF}};
    const policy_rule_setting lower[] = {
        {"ban-drop-table", POLICY_RULE_WARNING},
        {"ban-truncate", POLICY_RULE_OFF},
        {"orm-rename", POLICY_RULE_DANGER},
    };
    const policy_rule_setting last_wins[] = {
        {"ban-drop-table", POLICY_RULE_OFF},
        {"ban-drop-table", POLICY_RULE_INFO},
    };
    policy_diff *d = diff_of(files);
    policy_report *r;
    const policy_migration *sql, *rb;

    /* No settings: both SQL dangers, the Rails warning. */
    r = inspect_with(d, NULL, 0);
    sql = find_migration(r, files[0]);
    rb = find_migration(r, files[2]);
    ck_assert_int_eq(find_rule(sql, "ban-drop-table")->severity, POLICY_SEVERITY_DANGER);
    ck_assert_ptr_nonnull(find_rule(sql, "ban-truncate"));
    ck_assert_int_eq(find_rule(rb, "orm-rename")->severity, POLICY_SEVERITY_WARNING);
    policy_report_free(r);
    /* Off: the finding is gone, the others stay in order. */
    r = inspect_with(d, off, 1);
    sql = find_migration(r, files[0]);
    ck_assert_ptr_null(find_rule(sql, "ban-drop-table"));
    ck_assert_ptr_nonnull(find_rule(sql, "ban-truncate"));
    ck_assert_int_eq(find_rule(sql, "ban-truncate")->line, 3);
    policy_report_free(r);
    /* Severities of their own, for SQL and code rules alike. */
    r = inspect_with(d, lower, 3);
    sql = find_migration(r, files[0]);
    rb = find_migration(r, files[2]);
    ck_assert_int_eq(find_rule(sql, "ban-drop-table")->severity, POLICY_SEVERITY_WARNING);
    ck_assert_ptr_null(find_rule(sql, "ban-truncate"));
    ck_assert_int_eq(find_rule(rb, "orm-rename")->severity, POLICY_SEVERITY_DANGER);
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    policy_report_free(r);
    /* The last setting naming a rule wins. */
    r = inspect_with(d, last_wins, 2);
    ck_assert_int_eq(find_rule(find_migration(r, files[0]), "ban-drop-table")->severity,
                     POLICY_SEVERITY_INFO);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(rule_settings_apply_to_file_rules)
{
    const policy_rule_setting settings[] = {{"changed-migration", POLICY_RULE_OFF}};
    policy_diff *d = NULL;
    policy_report *r;

    ck_assert_int_eq(policy_diff_new(&d, NULL), 0);
    ck_assert_int_eq(policy_diff_add(d, "db/migration/V1__init.sql", NULL, POLICY_CHANGE_MODIFIED,
                                     POLICY_CONTENT_TEXT, "SELECT 1;", 9, NULL),
                     0);
    r = inspect_with(d, NULL, 0);
    ck_assert_ptr_nonnull(find_rule(&r->migrations[0], "changed-migration"));
    policy_report_free(r);
    r = inspect_with(d, settings, 1);
    ck_assert_uint_eq(r->migrations[0].findings.count, 0);
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_LOW);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* policy_findings_apply on findings made by hand: every off_by_default rule of the table is
 * dropped unless a setting gives it a severity. (With a rule table that has no such rule,
 * only the ordinary rule is checked.) */
START_TEST(off_by_default_rules_need_a_setting)
{
    size_t n = 0;
    const policy_sql_rule *rules = policy_sql_rules(&n);

    for (size_t i = 0; i < n; i++) {
        const policy_rule_setting on[] = {{(char *)rules[i].id, POLICY_RULE_WARNING}};
        const policy_rule_setting off[] = {{(char *)rules[i].id, POLICY_RULE_OFF}};
        policy_findings f = {0};

        if (strcmp(rules[i].id, "ban-drop-table") == 0 || strcmp(rules[i].id, "ban-truncate") == 0)
            continue; /* the neighbours below */
        for (int pass = 0; pass < 3; pass++) {
            ck_assert_int_eq(policy_findings_push(&f, "ban-drop-table", POLICY_SEVERITY_DANGER, 1,
                                                  "DROP TABLE a", 12, "m", NULL, NULL, false,
                                                  false),
                             0);
            ck_assert_int_eq(policy_findings_push(&f, rules[i].id, rules[i].severity, 2, "x", 1,
                                                  "m", NULL, NULL, false, false),
                             0);
            ck_assert_int_eq(policy_findings_push(&f, "ban-truncate", POLICY_SEVERITY_DANGER, 3,
                                                  "TRUNCATE b", 10, "m", NULL, NULL, false, false),
                             0);
            if (pass == 0)
                policy_findings_apply(&f, NULL, 0);
            else
                policy_findings_apply(&f, pass == 1 ? on : off, 1);
            if ((pass == 0 && rules[i].off_by_default) || pass == 2) {
                ck_assert_msg(f.count == 2, "%s pass %d: %zu", rules[i].id, pass, f.count);
                ck_assert_int_eq(f.items[1].line, 3);
            } else {
                ck_assert_msg(f.count == 3, "%s pass %d: %zu", rules[i].id, pass, f.count);
                ck_assert_str_eq(f.items[1].rule, rules[i].id);
                ck_assert_int_eq(f.items[1].severity,
                                 pass == 1 ? POLICY_SEVERITY_WARNING : rules[i].severity);
                ck_assert_int_eq(f.items[2].line, 3);
            }
            ck_assert_int_eq(f.items[0].line, 1);
            policy_findings_free(&f);
        }
    }
}
END_TEST

/* ---- transactions of code migrations ----------------------------------------------------- */

typedef struct tx_case {
    const char *path;
    const char *framework;
    const char *in_tx;    /* builds an index CONCURRENTLY inside the tool's transaction ... */
    int line;             /* ... on this line */
    const char *no_tx;    /* the same with the framework's opt-out */
    const char *in_safer; /* the safer way names the opt-out */
} tx_case;

static const tx_case tx_cases[] = {
    {"db/migrate/20240101120000_add_index.rb", "Rails",
     "class AddIndex < ActiveRecord::Migration[7.1]\n"
     "  def change\n"
     "    add_index :users, :email, algorithm: :concurrently\n"
     "  end\n"
     "end\n",
     3,
     "class AddIndex < ActiveRecord::Migration[7.1]\n"
     "  disable_ddl_transaction!\n"
     "\n"
     "  def change\n"
     "    add_index :users, :email, algorithm: :concurrently\n"
     "  end\n"
     "end\n",
     "disable_ddl_transaction!"},
    {"db/migrate/20240101120001_raw.rb", "Rails",
     "class Raw < ActiveRecord::Migration[7.1]\n"
     "  def up\n"
     "    execute <<~SQL\n"
     "      create index concurrently ix on users (email);\n"
     "    SQL\n"
     "  end\n"
     "end\n",
     4,
     "class Raw < ActiveRecord::Migration[7.1]\n"
     "  disable_ddl_transaction!\n"
     "  def up\n"
     "    execute <<~SQL\n"
     "      create index concurrently ix on users (email);\n"
     "    SQL\n"
     "  end\n"
     "end\n",
     "disable_ddl_transaction!"},
    {"shop/migrations/0002_index.py", "Django",
     "from django.contrib.postgres.operations import AddIndexConcurrently\n"
     "from django.db import migrations, models\n"
     "\n"
     "\n"
     "class Migration(migrations.Migration):\n"
     "    operations = [\n"
     "        AddIndexConcurrently(\"user\", models.Index(fields=[\"email\"], name=\"ix\")),\n"
     "    ]\n",
     7,
     "from django.contrib.postgres.operations import AddIndexConcurrently\n"
     "from django.db import migrations, models\n"
     "\n"
     "\n"
     "class Migration(migrations.Migration):\n"
     "    atomic = False\n"
     "    operations = [\n"
     "        AddIndexConcurrently(\"user\", models.Index(fields=[\"email\"], name=\"ix\")),\n"
     "    ]\n",
     "atomic = False"},
    {"alembic/versions/3f2a_index.py", "Alembic",
     "from alembic import op\n"
     "\n"
     "def upgrade():\n"
     "    op.create_index(\"ix\", \"users\", [\"email\"], postgresql_concurrently=True)\n"
     "\n"
     "def downgrade():\n"
     "    op.drop_index(\"ix\", postgresql_concurrently=True)\n",
     4,
     "from alembic import op\n"
     "\n"
     "def upgrade():\n"
     "    with op.get_context().autocommit_block():\n"
     "        op.create_index(\"ix\", \"users\", [\"email\"], postgresql_concurrently=True)\n"
     "\n"
     "def downgrade():\n"
     "    op.drop_index(\"ix\", postgresql_concurrently=True)\n",
     "autocommit_block"},
    {"migrations/20240101_index.js", "Knex",
     "exports.up = function (knex) {\n"
     "  return knex.raw('CREATE INDEX CONCURRENTLY ix ON users (email)');\n"
     "};\n"
     "exports.down = function (knex) {\n"
     "  return knex.raw('DROP INDEX CONCURRENTLY ix');\n"
     "};\n",
     2,
     "exports.up = function (knex) {\n"
     "  return knex.raw('CREATE INDEX CONCURRENTLY ix ON users (email)');\n"
     "};\n"
     "exports.down = function (knex) {\n"
     "  return knex.raw('DROP INDEX CONCURRENTLY ix');\n"
     "};\n"
     "exports.config = { transaction: false };\n",
     "transaction: false"},
    {"priv/repo/migrations/20240101120000_index.exs", "Ecto",
     "defmodule Repo.Migrations.AddIndex do\n"
     "  use Ecto.Migration\n"
     "\n"
     "  def change do\n"
     "    create index(:users, [:email], concurrently: true)\n"
     "  end\n"
     "end\n",
     5,
     "defmodule Repo.Migrations.AddIndex do\n"
     "  use Ecto.Migration\n"
     "  @disable_ddl_transaction true\n"
     "  @disable_migration_lock true\n"
     "\n"
     "  def change do\n"
     "    create index(:users, [:email], concurrently: true)\n"
     "  end\n"
     "end\n",
     "@disable_ddl_transaction true"},
    {"database/migrations/2024_01_01_000000_add_index.php", "Laravel",
     "<?php\n"
     "return new class extends Migration\n"
     "{\n"
     "    public function up(): void\n"
     "    {\n"
     "        DB::statement('CREATE INDEX CONCURRENTLY ix ON users (email)');\n"
     "    }\n"
     "};\n",
     6,
     "<?php\n"
     "return new class extends Migration\n"
     "{\n"
     "    public $withinTransaction = false;\n"
     "\n"
     "    public function up(): void\n"
     "    {\n"
     "        DB::statement('CREATE INDEX CONCURRENTLY ix ON users (email)');\n"
     "    }\n"
     "};\n",
     "$withinTransaction = false"},
    {"src/Data/Migrations/20240101120000_Index.cs", "EF Core",
     "public partial class Index : Migration\n"
     "{\n"
     "    protected override void Up(MigrationBuilder migrationBuilder)\n"
     "    {\n"
     "        migrationBuilder.Sql(\"CREATE INDEX CONCURRENTLY ix ON users (email);\");\n"
     "    }\n"
     "}\n",
     5,
     "public partial class Index : Migration\n"
     "{\n"
     "    protected override void Up(MigrationBuilder migrationBuilder)\n"
     "    {\n"
     "        migrationBuilder.Sql(\"CREATE INDEX CONCURRENTLY ix ON users (email);\",\n"
     "                             suppressTransaction: true);\n"
     "    }\n"
     "}\n",
     "suppressTransaction: true"},
    {"src/migration/1700000000000-Index.ts", "TypeORM",
     "export class Index1700000000000 implements MigrationInterface {\n"
     "    public async up(queryRunner: QueryRunner): Promise<void> {\n"
     "        await queryRunner.query(`CREATE INDEX CONCURRENTLY \"ix\" ON \"users\" "
     "(\"email\")`);\n"
     "    }\n"
     "}\n",
     3,
     "export class Index1700000000000 implements MigrationInterface {\n"
     "    transaction = false;\n"
     "\n"
     "    public async up(queryRunner: QueryRunner): Promise<void> {\n"
     "        await queryRunner.query(`CREATE INDEX CONCURRENTLY \"ix\" ON \"users\" "
     "(\"email\")`);\n"
     "    }\n"
     "}\n",
     "transaction = false"},
    {"db/migrations/20240101120000_index.go", "goose",
     "package migrations\n"
     "\n"
     "func init() {\n"
     "\tgoose.AddMigrationContext(upIndex, downIndex)\n"
     "}\n"
     "\n"
     "func upIndex(ctx context.Context, tx *sql.Tx) error {\n"
     "\t_, err := tx.ExecContext(ctx, \"CREATE INDEX CONCURRENTLY ix ON users (email)\")\n"
     "\treturn err\n"
     "}\n",
     8,
     "package migrations\n"
     "\n"
     "func init() {\n"
     "\tgoose.AddMigrationNoTxContext(upIndex, downIndex)\n"
     "}\n"
     "\n"
     "func upIndex(ctx context.Context, db *sql.DB) error {\n"
     "\t_, err := db.ExecContext(ctx, \"CREATE INDEX CONCURRENTLY ix ON users (email)\")\n"
     "\treturn err\n"
     "}\n",
     "AddMigrationNoTx"},
    {"db/changelog/db.changelog-3.xml", "Liquibase",
     "<databaseChangeLog>\n"
     "  <changeSet id=\"1\" author=\"a\">\n"
     "    <sql>CREATE INDEX CONCURRENTLY ix ON users (email)</sql>\n"
     "  </changeSet>\n"
     "</databaseChangeLog>\n",
     3,
     "<databaseChangeLog>\n"
     "  <changeSet id=\"1\" author=\"a\" runInTransaction=\"false\">\n"
     "    <sql>CREATE INDEX CONCURRENTLY ix ON users (email)</sql>\n"
     "  </changeSet>\n"
     "</databaseChangeLog>\n",
     "runInTransaction"},
};

START_TEST(code_concurrently_in_transaction)
{
    const tx_case *c = &tx_cases[_i];
    const char *with[] = {c->path, c->in_tx, NULL}, *without[] = {c->path, c->no_tx, NULL};
    policy_diff *d = diff_of(with);
    policy_report *r = inspect(d, NULL, 0);
    const policy_finding *f;

    ck_assert_uint_eq(r->n_migrations, 1);
    ck_assert_str_eq(r->migrations[0].framework, c->framework);
    f = find_rule(&r->migrations[0], "ban-concurrent-index-creation-in-transaction");
    ck_assert_msg(f != NULL, "%s: no finding", c->path);
    ck_assert_int_eq(f->severity, POLICY_SEVERITY_DANGER);
    ck_assert_int_eq(f->line, c->line);
    ck_assert_str_eq(f->lock, "SHARE UPDATE EXCLUSIVE");
    ck_assert_msg(strstr(f->message, c->framework) && strstr(f->message, "transaction"), "%s",
                  f->message);
    ck_assert_msg(f->safer && strstr(f->safer, c->in_safer), "%s", f->safer);
    ck_assert(f->statement[0] != '\0');
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    policy_report_free(r);
    policy_diff_free(d);

    d = diff_of(without);
    r = inspect(d, NULL, 0);
    ck_assert_str_eq(r->migrations[0].framework, c->framework);
    ck_assert_msg(!find_rule(&r->migrations[0], "ban-concurrent-index-creation-in-transaction"),
                  "%s: finding despite the opt-out", c->path);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* No finding where there is no transaction, no index, or no code. */
START_TEST(code_concurrently_not_in_transaction)
{
    static const char *const files[] = {
        /* Sequelize runs migrations without a transaction. */
        "migrations/20240101-index.js",
        "module.exports = {\n"
        "  up: async (queryInterface) => {\n"
        "    await queryInterface.sequelize.query('CREATE INDEX CONCURRENTLY ix ON u (e)');\n"
        "  },\n"
        "};\n",
        /* Comments, the down section, and a REFRESH that may run in a transaction. */
        "db/migrate/20240101120000_refresh.rb",
        "class Refresh < ActiveRecord::Migration[7.1]\n"
        "  # add_index :users, :email, algorithm: :concurrently\n"
        "  def up\n"
        "    execute \"REFRESH MATERIALIZED VIEW CONCURRENTLY totals\"\n"
        "  end\n"
        "\n"
        "  def down\n"
        "    remove_index :users, :email, algorithm: :concurrently\n"
        "  end\n"
        "end\n",
        /* An option set to false. */
        "priv/repo/migrations/20240101120000_plain.exs",
        "defmodule Repo.Migrations.Plain do\n"
        "  use Ecto.Migration\n"
        "  def change do\n"
        "    create index(:users, [:email], concurrently: false)\n"
        "  end\n"
        "end\n",
        /* An import is no call. */
        "shop/migrations/0003_noop.py",
        "from django.contrib.postgres.operations import AddIndexConcurrently\n"
        "from django.db import migrations\n"
        "class Migration(migrations.Migration):\n"
        "    operations = []\n",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);

    ck_assert_uint_eq(r->n_migrations, 4);
    for (size_t i = 0; i < r->n_migrations; i++) {
        const policy_migration *m = &r->migrations[i];

        for (size_t k = 0; k < m->findings.count; k++)
            fprintf(stderr, "  %s:%d %s\n", m->path, m->findings.items[k].line,
                    m->findings.items[k].rule);
        ck_assert_msg(m->findings.count == 0, "%s", m->path);
    }
    ck_assert_str_eq(find_migration(r, files[0])->framework, "Sequelize");
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* ---- transactions of SQL migrations -------------------------------------------------------
 * These go through policy_sql_check_with, which reports CONCURRENTLY inside the transaction
 * that implicit_tx says the tool opens: the cases with want == true need sqlrisk.c to honour
 * implicit_tx and tx_autodetect. */

typedef struct sql_tx_case {
    const char *path;
    const char *framework;
    const char *content;
    const char *conf; /* "<path>.conf" in the diff too, or NULL */
    bool want;        /* ban-concurrent-index-creation-in-transaction expected */
    int line;
} sql_tx_case;

#define CONC "CREATE INDEX CONCURRENTLY ix ON users (email);\n"

static const sql_tx_case sql_tx_cases[] = {
    {"db/migrations/20240101120000_ix.sql", "goose", "-- +goose Up\n" CONC, NULL, true, 2},
    {"db/migrations/20240101120000_ix.sql", "goose",
     "-- +goose NO TRANSACTION\n-- +goose Up\n" CONC, NULL, false, 0},
    {"db/migrations/20240101120000_ix.sql", "dbmate", "-- migrate:up\n" CONC, NULL, true, 2},
    {"db/migrations/20240101120000_ix.sql", "dbmate", "-- migrate:up transaction:false\n" CONC,
     NULL, false, 0},
    /* Flyway runs a file of statements that all need to be outside a transaction outside
     * one, but not a file that mixes them with others. */
    {"db/migration/V3__ix.sql", "Flyway", "SET lock_timeout = '1s';\n" CONC, NULL, true, 2},
    {"db/migration/V3__ix.sql", "Flyway", "SET lock_timeout = '1s';\n" CONC,
     "# script config\nexecuteInTransaction=false\n", false, 0},
    {"db/migration/V3__ix.sql", "Flyway", "SET lock_timeout = '1s';\n" CONC,
     "executeInTransaction=true\n", true, 2},
    {"db/changelog/002-ix.sql", "Liquibase", "--liquibase formatted sql\n--changeset a:1\n" CONC,
     NULL, true, 3},
    {"db/changelog/002-ix.sql", "Liquibase",
     "--liquibase formatted sql\n--changeset a:1 runInTransaction:false\n" CONC, NULL, false, 0},
    /* Per changeset: only the second one runs in a transaction. */
    {"db/changelog/003-ix.sql", "Liquibase",
     "--liquibase formatted sql\n--changeset a:1 runInTransaction:false\n" CONC
     "--changeset a:2\n" CONC,
     NULL, true, 5},
    {"migrations/20220318104614_ix.sql", "Atlas", CONC, NULL, true, 1},
    {"migrations/20220318104614_ix.sql", "Atlas", "-- atlas:txmode none\n" CONC, NULL, false, 0},
    /* No implicit transaction. */
    {"prisma/migrations/20240101120000_ix/migration.sql", "Prisma", CONC, NULL, false, 0},
    {"migrations/000002_ix.up.sql", "golang-migrate", CONC, NULL, false, 0},
    {"deploy/ix.sql", "sqitch", CONC, NULL, false, 0},
};

START_TEST(sql_framework_transactions)
{
    const sql_tx_case *c = &sql_tx_cases[_i];
    char conf_path[256];
    const char *files[] = {c->path, c->content, c->conf ? conf_path : NULL, c->conf, NULL};
    policy_diff *d;
    policy_report *r;
    const policy_migration *m;
    size_t n = 0;

    snprintf(conf_path, sizeof(conf_path), "%s.conf", c->path);
    d = diff_of(files);
    r = inspect(d, NULL, 0);
    ck_assert_uint_eq(r->n_migrations, 1); /* the .conf is no migration */
    m = &r->migrations[0];
    ck_assert_str_eq(m->framework, c->framework);
    for (size_t k = 0; k < m->findings.count; k++) {
        const policy_finding *f = &m->findings.items[k];

        if (strcmp(f->rule, "ban-concurrent-index-creation-in-transaction") != 0)
            continue;
        n++;
        ck_assert_msg(c->want && f->line == c->line, "case %d (%s): finding at line %d", _i,
                      c->framework, f->line);
    }
    ck_assert_msg(n == (c->want ? 1u : 0u), "case %d (%s): %zu findings, want %d", _i, c->framework,
                  n, c->want);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* ---- suppressions ------------------------------------------------------------------------ */

START_TEST(suppression_same_line_and_line_before)
{
    static const char *const files[] = {
        "db/migration/V1__same.sql",
        "SET lock_timeout = '1s';\nDROP TABLE a; -- zoneci:ignore ban-drop-table replaced by b in "
        "v2\n",
        "db/migration/V2__before.sql",
        "SET lock_timeout = '1s';\n-- zoneci:ignore ban-drop-table, ban-truncate  emptied, see #12 "
        "\n"
        "DROP TABLE a;\n",
        "db/migrate/20240101120000_drop.rb",
        "def change\n  drop_table :users # zoneci:ignore orm-drop-table unused since 2023\nend\n",
        "migrations/20240101_drop.js",
        "exports.up = function (knex) {\n"
        "  // zoneci:ignore orm-drop-table,orm-drop-column archived in S3\n"
        "  return knex.schema.dropTable('users');\n"
        "};\n",
        "db/migrate/20240101120001_index.rb",
        "def change\n"
        "  # zoneci:ignore ban-concurrent-index-creation-in-transaction run by hand, see runbook\n"
        "  add_index :users, :email, algorithm: :concurrently\n"
        "end\n",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    const policy_finding *f;

    ck_assert_uint_eq(r->n_migrations, 5);
    f = find_rule(find_migration(r, files[0]), "ban-drop-table");
    ck_assert(f && f->suppressed);
    ck_assert_str_eq(f->suppression, "replaced by b in v2");
    f = find_rule(find_migration(r, files[2]), "ban-drop-table");
    ck_assert(f && f->suppressed);
    ck_assert_str_eq(f->suppression, "emptied, see #12");
    f = find_rule(find_migration(r, files[4]), "orm-drop-table");
    ck_assert(f && f->suppressed);
    ck_assert_str_eq(f->suppression, "unused since 2023");
    f = find_rule(find_migration(r, files[6]), "orm-drop-table");
    ck_assert(f && f->suppressed);
    ck_assert_str_eq(f->suppression, "archived in S3");
    f = find_rule(find_migration(r, files[8]), "ban-concurrent-index-creation-in-transaction");
    ck_assert(f && f->suppressed);
    ck_assert_str_eq(f->suppression, "run by hand, see runbook");
    for (size_t i = 0; i < r->n_migrations; i++)
        ck_assert_msg(r->migrations[i].findings.count == 1, "%s: %zu", r->migrations[i].path,
                      r->migrations[i].findings.count);
    /* Suppressed dangers do not make the risk high. */
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_LOW);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(suppression_that_does_not_apply)
{
    static const char *const files[] = {
        /* Two lines before. */
        "db/migration/V1__far.sql",
        "SET lock_timeout = '1s';\n-- zoneci:ignore ban-drop-table legacy\n\nDROP TABLE a;\n",
        /* Another rule. */
        "db/migration/V2__other.sql",
        "SET lock_timeout = '1s';\nDROP TABLE a; -- zoneci:ignore ban-truncate legacy\n",
        /* The keyword is case-sensitive. */
        "db/migration/V3__case.sql",
        "SET lock_timeout = '1s';\nDROP TABLE a; -- ZONECI:IGNORE ban-drop-table legacy\n",
        /* Not in a comment. */
        "db/migrate/20240101120000_drop.rb",
        "def change\n  drop_table :users, comment: 'zoneci:ignore orm-drop-table old'\nend\n",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);

    ck_assert_uint_eq(r->n_migrations, 4);
    for (size_t i = 0; i < r->n_migrations; i++) {
        const policy_migration *m = &r->migrations[i];

        ck_assert_msg(m->findings.count == 1, "%s: %zu", m->path, m->findings.count);
        ck_assert_msg(!m->findings.items[0].suppressed, "%s", m->path);
        ck_assert_ptr_null(m->findings.items[0].suppression);
    }
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(suppression_without_reason_or_with_unknown_rule)
{
    static const char *const files[] = {
        "db/migration/V1__noreason.sql",
        "SET lock_timeout = '1s';\n-- zoneci:ignore ban-drop-table\nDROP TABLE a;\n",
        "db/migration/V2__unknown.sql",
        "SET lock_timeout = '1s';\n-- zoneci:ignore ban-drop-tabel,ban-drop-table typo here\n"
        "DROP TABLE a;\n",
        "db/migrate/20240101120000_drop.rb",
        "def change\n  drop_table :users # zoneci:ignore\nend\n",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    const policy_migration *m;
    const policy_finding *f;

    /* Without a reason: nothing suppressed, and a warning at the comment. */
    m = find_migration(r, files[0]);
    ck_assert_uint_eq(m->findings.count, 2);
    f = find_rule(m, "suppression-without-reason");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->severity, POLICY_SEVERITY_WARNING);
    ck_assert_int_eq(f->line, 2);
    ck_assert(!f->suppressed);
    ck_assert(!find_rule(m, "ban-drop-table")->suppressed);
    /* Findings stay in line order. */
    ck_assert_int_eq(m->findings.items[0].line, 2);
    ck_assert_int_eq(m->findings.items[1].line, 3);
    /* An unknown rule: a warning; the known rule of the same comment is suppressed. */
    m = find_migration(r, files[2]);
    ck_assert_uint_eq(m->findings.count, 2);
    f = find_rule(m, "unknown-rule-in-suppression");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->severity, POLICY_SEVERITY_WARNING);
    ck_assert_int_eq(f->line, 2);
    ck_assert_msg(strstr(f->message, "ban-drop-tabel") != NULL, "%s", f->message);
    f = find_rule(m, "ban-drop-table");
    ck_assert(f->suppressed);
    ck_assert_str_eq(f->suppression, "typo here");
    /* Code: neither rule nor reason. */
    m = find_migration(r, files[4]);
    ck_assert_ptr_nonnull(find_rule(m, "suppression-without-reason"));
    ck_assert(!find_rule(m, "orm-drop-table")->suppressed);
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

/* Rule settings apply to the suppression findings too. */
START_TEST(suppression_findings_obey_settings)
{
    static const char *const files[] = {
        "db/migration/V1__noreason.sql",
        "SET lock_timeout = '1s';\n-- zoneci:ignore no-such-rule\nSELECT 1;\n",
        NULL,
    };
    const policy_rule_setting settings[] = {
        {"unknown-rule-in-suppression", POLICY_RULE_OFF},
        {"suppression-without-reason", POLICY_RULE_DANGER},
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect_with(d, settings, 2);
    const policy_migration *m = &r->migrations[0];

    ck_assert_uint_eq(m->findings.count, 1);
    ck_assert_str_eq(m->findings.items[0].rule, "suppression-without-reason");
    ck_assert_int_eq(m->findings.items[0].severity, POLICY_SEVERITY_DANGER);
    policy_report_free(r);
    policy_diff_free(d);
}
END_TEST

START_TEST(suppressed_findings_in_json_and_markdown)
{
    static const char *const files[] = {
        "db/migration/V1__drop.sql",
        "-- zoneci:ignore ban-drop-table legacy `table`\nDROP TABLE a;\nTRUNCATE b;\n",
        NULL,
    };
    policy_diff *d = diff_of(files);
    policy_report *r = inspect(d, NULL, 0);
    json_t *root = report_json(r), *fs, *summary;
    core_buf b = {0};
    const char *sup, *trunc;

    /* ban-truncate is a danger of its own: still high. */
    ck_assert_str_eq(json_string_value(json_object_get(root, "risk")), "high");
    fs = json_object_get(json_array_get(json_object_get(root, "migrations"), 0), "findings");
    for (size_t i = 0; i < json_array_size(fs); i++) {
        json_t *f = json_array_get(fs, i);
        const char *rule = json_string_value(json_object_get(f, "rule"));

        if (strcmp(rule, "ban-drop-table") == 0) {
            ck_assert(json_is_true(json_object_get(f, "suppressed")));
            ck_assert_str_eq(json_string_value(json_object_get(f, "suppression")),
                             "legacy `table`");
        } else {
            ck_assert_ptr_null(json_object_get(f, "suppressed"));
            ck_assert_ptr_null(json_object_get(f, "suppression"));
        }
    }
    summary = json_object_get(root, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "danger")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "suppressed")), 1);
    json_decref(root);

    ck_assert_int_eq(policy_report_markdown(r, 1 << 20, &b), 0);
    ck_assert_msg(strstr(b.data, "1 danger, 0 warning, 1 info, 1 suppressed") != NULL, "%s",
                  b.data);
    sup = strstr(b.data, "  - suppressed (legacy 'table'): **danger** `ban-drop-table` line 2");
    trunc = strstr(b.data, "**danger** `ban-truncate`");
    ck_assert_msg(sup && trunc && trunc < sup, "%s", b.data);
    /* After the unsuppressed info too. */
    ck_assert_ptr_nonnull(strstr(b.data, "`require-lock-timeout`"));
    ck_assert(strstr(b.data, "`require-lock-timeout`") < sup);
    core_buf_free(&b);
    policy_report_free(r);
    policy_diff_free(d);

    /* With only a suppressed danger the risk is low, and a report without suppressions has
     * no "suppressed" in its summary. */
    {
        static const char *const one[] = {
            "db/migration/V1__drop.sql",
            "SET lock_timeout = '1s';\nDROP TABLE a; -- zoneci:ignore ban-drop-table legacy\n",
            "db/migration/V2__ok.sql",
            "SELECT 1;\n",
            NULL,
        };
        static const char *const none[] = {"db/migration/V2__ok.sql", "SELECT 1;\n", NULL};

        d = diff_of(one);
        r = inspect(d, NULL, 0);
        ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_LOW);
        ck_assert_int_eq(policy_report_markdown(r, 1 << 20, &b), 0);
        ck_assert_msg(strncmp(b.data, "**zoneci migration review: risk low**\n", 38) == 0, "%s",
                      b.data);
        ck_assert_ptr_nonnull(strstr(b.data, "0 danger, 0 warning, 0 info, 1 suppressed"));
        core_buf_free(&b);
        policy_report_free(r);
        policy_diff_free(d);
        d = diff_of(none);
        r = inspect(d, NULL, 0);
        root = report_json(r);
        ck_assert_ptr_null(json_object_get(json_object_get(root, "summary"), "suppressed"));
        json_decref(root);
        policy_report_free(r);
        policy_diff_free(d);
    }
}
END_TEST

/* ---- a real repository, end to end ------------------------------------------------------- */

START_TEST(inspect_real_repository)
{
    char *root = ts_tmpdir(), cmd[2048];
    policy_diff *d = NULL;
    policy_report *r;
    core_error err = {0};
    core_buf b = {0};

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
             "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t"
             " && git init -q -b main && mkdir -p db/migrate db/sql && echo x > README &&"
             " git add -A && git commit -q -m base && git checkout -q -b pr &&"
             " printf 'def change\\n  drop_table :users\\nend\\n' > db/migrate/1_drop.rb &&"
             " printf -- '-- hi\\nALTER TABLE a ALTER COLUMN b SET NOT NULL;\\n' > db/sql/1.sql &&"
             " printf 'DROP TABLE z;\\n' > stray.sql && git add -A && git commit -q -m pr",
             root);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(policy_diff_compute(root, "main", "pr", NULL, &d, &err) == 0, "%s", err.msg);
    {
        char *paths[] = {"db/sql/**"};

        r = inspect(d, paths, 1);
    }
    ck_assert_uint_eq(r->n_migrations, 2);
    ck_assert_str_eq(find_migration(r, "db/migrate/1_drop.rb")->findings.items[0].rule,
                     "orm-drop-table");
    ck_assert_int_eq(find_migration(r, "db/sql/1.sql")->findings.items[0].line, 2);
    ck_assert_int_eq(policy_report_risk(r), POLICY_RISK_HIGH);
    ck_assert_int_eq(policy_report_json(r, &b), 0);
    ck_assert_ptr_null(strstr(b.data, "stray.sql"));
    core_buf_free(&b);
    policy_report_free(r);
    policy_diff_free(d);
    ts_rmtree(root);
    free(root);
}
END_TEST

Suite *suite_policies_migrations(void)
{
    Suite *s = suite_create("policies_migrations");
    TCase *tc = tcase_create("migrations");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, framework_recognition, 0,
                        (int)(sizeof(fw_cases) / sizeof(fw_cases[0])));
    tcase_add_test(tc, framework_table_is_covered);
    tcase_add_test(tc, policy_globs_add_paths);
    tcase_add_test(tc, bad_glob_is_refused);
    tcase_add_loop_test(tc, destructive_code_operations, 0,
                        (int)(sizeof(code_cases) / sizeof(code_cases[0])));
    tcase_add_test(tc, down_scripts_and_sections);
    tcase_add_test(tc, edited_and_unreadable_migrations);
    tcase_add_test(tc, json_shape_and_risk_levels);
    tcase_add_test(tc, json_survives_odd_paths);
    tcase_add_test(tc, markdown_full_and_cut);
    tcase_add_test(tc, markdown_no_migrations_and_code_spans);
    tcase_add_test(tc, inspect_real_repository);
    tcase_add_test(tc, rule_levels_and_known_rules);
    tcase_add_test(tc, rule_settings_turn_off_and_regrade);
    tcase_add_test(tc, rule_settings_apply_to_file_rules);
    tcase_add_test(tc, summary_counts_findings_past_the_cap);
    tcase_add_test(tc, off_by_default_rules_need_a_setting);
    tcase_add_loop_test(tc, code_concurrently_in_transaction, 0,
                        (int)(sizeof(tx_cases) / sizeof(tx_cases[0])));
    tcase_add_test(tc, code_concurrently_not_in_transaction);
    tcase_add_test(tc, suppression_same_line_and_line_before);
    tcase_add_test(tc, suppression_that_does_not_apply);
    tcase_add_test(tc, suppression_without_reason_or_with_unknown_rule);
    tcase_add_test(tc, suppression_findings_obey_settings);
    tcase_add_test(tc, suppressed_findings_in_json_and_markdown);
    suite_add_tcase(s, tc);
    /* Their positive cases need policy_sql_check_with to honour implicit_tx and
     * tx_autodetect (the sqlrisk.c rewrite). */
    tc = tcase_create("sql_transactions");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, sql_framework_transactions, 0,
                        (int)(sizeof(sql_tx_cases) / sizeof(sql_tx_cases[0])));
    suite_add_tcase(s, tc);
    return s;
}
