/* policies/migrations.c: the framework table (a path per framework), policy globs with "**",
 * destructive operations in Ruby, Python, JS/TS, PHP, Elixir, C# and Liquibase XML with
 * their lines (down sections left alone), down scripts, edited and unreadable migrations,
 * the report's JSON and risk, and the Markdown rendering and its cut. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
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
        "Ecto",  "Laravel", "EF Core", "sqitch", "Atlas",
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
    suite_add_tcase(s, tc);
    return s;
}
