/* policies/sqlrisk.c: every rule with a bad and a safer example (most from the
 * project's rule reference, docs/migrations.md), asserting rule, severity, line and lock;
 * statement lines past comments and blank lines; unparsable SQL; multi-statement files;
 * the caps; and several threads checking at once. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "policies/inspect.h"
#include "policies/policies.h"

static void check_sql(const char *sql, policy_findings *out)
{
    core_error err = {0};

    memset(out, 0, sizeof(*out));
    ck_assert_msg(policy_sql_check(sql, strlen(sql), out, &err) == 0, "%s", err.msg);
}

/* Grades with options; every off_by_default rule switched on when all_rules. */
static void check_sql_opts(const char *sql, policy_sql_options opts, bool all_rules,
                           policy_findings *out)
{
    static policy_rule_setting every[64];
    size_t n;
    const policy_sql_rule *rules = policy_sql_rules(&n);
    core_error err = {0};

    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++) {
        every[i].rule = (char *)rules[i].id;
        every[i].level = POLICY_RULE_WARNING;
    }
    if (all_rules) {
        opts.rules = every;
        opts.n_rules = n;
    }
    memset(out, 0, sizeof(*out));
    ck_assert_msg(policy_sql_check_with(sql, strlen(sql), &opts, out, &err) == 0, "%s", err.msg);
}

static const policy_finding *find_rule(const policy_findings *f, const char *rule)
{
    for (size_t i = 0; i < f->count; i++) {
        if (strcmp(f->items[i].rule, rule) == 0)
            return &f->items[i];
    }
    return NULL;
}

static void dump(const char *sql, const policy_findings *f)
{
    fprintf(stderr, "findings for: %s\n", sql);
    for (size_t i = 0; i < f->count; i++)
        fprintf(stderr, "  %d %s %s [%s]\n", f->items[i].line, f->items[i].rule,
                policy_severity_name(f->items[i].severity), f->items[i].statement);
}

typedef struct rule_case {
    const char *rule;
    policy_severity severity;
    const char *lock; /* NULL: none */
    const char *bad;
    int line;         /* where the bad example's finding must be */
    const char *safe; /* must not raise this rule */
} rule_case;

#define DANGER POLICY_SEVERITY_DANGER
#define WARNING POLICY_SEVERITY_WARNING
#define INFO POLICY_SEVERITY_INFO
#define AE "ACCESS EXCLUSIVE"

static const rule_case rule_cases[] = {
    {"unparsable-sql", DANGER, NULL, "SELECT 1;\nALTER TABLE;\n", 2, "SELECT 1;\n"},
    {"ban-drop-database", DANGER, NULL, "DROP DATABASE analytics;", 1,
     "-- no migration-safe alternative; do it out of band, with a backup\n"},
    {"ban-drop-schema", DANGER, AE, "DROP SCHEMA legacy CASCADE;", 1,
     "CREATE SCHEMA IF NOT EXISTS legacy;"},
    {"ban-drop-table", DANGER, AE, "DROP TABLE audit_log;", 1,
     "-- stop using the table first; later: DROP TABLE IF EXISTS audit_log; (after a backup)\n"},
    {"ban-drop-column", DANGER, AE, "ALTER TABLE users DROP COLUMN email;", 1,
     "-- stop using the column in application code first; drop it in a later release\n"},
    {"renaming-table", DANGER, AE, "ALTER TABLE user_stars RENAME TO user_favorites;", 1,
     "CREATE VIEW user_favorites AS SELECT * FROM user_stars;"},
    {"renaming-column", DANGER, AE, "ALTER TABLE users RENAME COLUMN name TO full_name;", 1,
     "ALTER TABLE users ADD COLUMN full_name text;"},
    {"changing-column-type", DANGER, AE, "ALTER TABLE events ALTER COLUMN user_id TYPE bigint;", 1,
     "ALTER TABLE events ADD COLUMN user_id_new bigint;"},
    {"adding-required-field", DANGER, AE, "ALTER TABLE accounts ADD COLUMN tier text NOT NULL;", 1,
     "ALTER TABLE accounts ADD COLUMN tier text NOT NULL DEFAULT 'free';"},
    {"adding-field-with-default", DANGER, AE,
     "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();", 1,
     "ALTER TABLE orders ADD COLUMN token uuid;\n"
     "ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();\n"},
    {"adding-not-nullable-field", DANGER, AE,
     "ALTER TABLE accounts ALTER COLUMN region SET NOT NULL;", 1,
     "ALTER TABLE accounts ADD CONSTRAINT accounts_region_nn CHECK (region IS NOT NULL) NOT "
     "VALID;\n"
     "ALTER TABLE accounts VALIDATE CONSTRAINT accounts_region_nn;\n"
     "-- PG12+: this now skips the scan because the validated CHECK proves it\n"
     "ALTER TABLE accounts ALTER COLUMN region SET NOT NULL;\n"},
    {"adding-foreign-key-constraint", WARNING, "SHARE ROW EXCLUSIVE",
     "ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) "
     "REFERENCES customers (id);",
     1,
     "ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer_id) "
     "REFERENCES customers (id) NOT VALID;\n"
     "ALTER TABLE invoices VALIDATE CONSTRAINT invoices_customer_fk;\n"},
    {"constraint-missing-not-valid", DANGER, AE,
     "ALTER TABLE accounts ADD CONSTRAINT balance_nonneg CHECK (balance >= 0);", 1,
     "ALTER TABLE accounts ADD CONSTRAINT balance_nonneg CHECK (balance >= 0) NOT VALID;\n"
     "-- separate transaction:\n"
     "ALTER TABLE accounts VALIDATE CONSTRAINT balance_nonneg;\n"},
    {"disallowed-unique-constraint", DANGER, AE,
     "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);", 1,
     "CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email);\n"
     "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;\n"},
    {"adding-primary-key-constraint", DANGER, AE, "ALTER TABLE events ADD PRIMARY KEY (id);", 1,
     "CREATE UNIQUE INDEX CONCURRENTLY events_pkey_idx ON events (id);\n"
     "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey_idx;\n"},
    {"changing-primary-key", DANGER, AE, "ALTER TABLE events DROP CONSTRAINT events_pkey;", 1,
     "ALTER TABLE events DROP CONSTRAINT events_amount_check;"},
    {"require-concurrent-index-creation", WARNING, "SHARE", "CREATE INDEX i ON t (c);", 1,
     "CREATE INDEX CONCURRENTLY i ON t (c);"},
    {"require-concurrent-index-deletion", WARNING, AE, "DROP INDEX users_email_idx;", 1,
     "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;"},
    {"ban-concurrent-index-creation-in-transaction", DANGER, "SHARE UPDATE EXCLUSIVE",
     "BEGIN;\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\nCOMMIT;\n", 2,
     "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"},
    {"ban-truncate", DANGER, AE, "TRUNCATE audit_log;", 1,
     "DELETE FROM audit_log WHERE created_at < now() - interval '90 days';"},
    {"ban-truncate-cascade", DANGER, AE, "TRUNCATE customers CASCADE;", 1,
     "TRUNCATE customers;  -- fails loudly if referenced; truncate dependants explicitly"},
    {"delete-without-where", DANGER, "ROW EXCLUSIVE", "DELETE FROM sessions;", 1,
     "DELETE FROM sessions WHERE expires_at < now();"},
    {"update-without-where", DANGER, "ROW EXCLUSIVE", "UPDATE users SET active = true;", 1,
     "UPDATE users SET active = true WHERE id BETWEEN 1 AND 1000;"},
    {"require-lock-timeout", INFO, AE, "ALTER TABLE t ADD COLUMN c boolean;", 1,
     "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c boolean;\n"},
    {"ban-drop-not-null", WARNING, AE, "ALTER TABLE users ALTER COLUMN created_at DROP NOT NULL;",
     1, "-- keep NOT NULL; use a sentinel value, or add a new nullable column\n"},
    {"require-concurrent-partition-detach", WARNING, AE,
     "ALTER TABLE measurements DETACH PARTITION measurements_2020;", 1,
     "ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;"},
    {"require-concurrent-reindex", DANGER, AE, "REINDEX TABLE orders;", 1,
     "REINDEX TABLE CONCURRENTLY orders;"},
    {"prefer-repack", DANGER, AE, "VACUUM FULL events;", 1, "VACUUM (ANALYZE) events;"},
    {"ban-alter-domain-with-add-constraint", WARNING, "SHARE",
     "ALTER DOMAIN us_zip ADD CONSTRAINT zip_len CHECK (length(VALUE) = 5);", 1,
     "ALTER TABLE addresses ADD CONSTRAINT addresses_zip_len CHECK (length(zip) = 5) NOT VALID;\n"
     "ALTER TABLE addresses VALIDATE CONSTRAINT addresses_zip_len;\n"},
    {"ban-uncommitted-transaction", WARNING, NULL, "BEGIN;\nCREATE TABLE users (id bigint);\n", 1,
     "BEGIN;\nCREATE TABLE users (id bigint);\nCOMMIT;\n"},
    {"transaction-nesting", WARNING, NULL,
     "BEGIN;\nBEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;\nCOMMIT;\n", 2,
     "BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;\n"},
    {"ban-duplicate-column-assignments", DANGER, NULL,
     "UPDATE users SET plan = 'pro', plan = 'team' WHERE id = 1;", 1,
     "UPDATE users SET scores[1] = 1, scores[2] = 2 WHERE id = 1;"},
    {"identifier-too-long", WARNING, NULL,
     "CREATE INDEX CONCURRENTLY "
     "index_on_customer_subscriptions_by_billing_account_and_period_start_2026 ON s (a);",
     1, "CREATE INDEX CONCURRENTLY customer_subscriptions_billing_period_idx ON s (a);"},
    {"ban-create-domain-with-constraint", WARNING, NULL,
     "CREATE DOMAIN us_zip AS text CHECK (length(VALUE) = 5);", 1, "CREATE DOMAIN us_zip AS text;"},
    {"requires-newer-postgres", DANGER, NULL,
     "SET lock_timeout = '1s';\nALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY;\n", 2,
     "ALTER TABLE m DETACH PARTITION m_2020;"},
    {"prefer-robust-stmts", WARNING, NULL, "CREATE INDEX CONCURRENTLY i ON t (c);", 1,
     "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);"},
    {"require-statement-timeout", WARNING, NULL, "ALTER TABLE t ADD COLUMN c boolean;", 1,
     "SET statement_timeout = '5s';\nALTER TABLE t ADD COLUMN c boolean;\n"},
    {"prefer-bigint-over-int", WARNING, NULL, "CREATE TABLE t (id integer PRIMARY KEY);", 1,
     "CREATE TABLE t (id bigint PRIMARY KEY);"},
    {"prefer-bigint-over-smallint", WARNING, NULL, "CREATE TABLE t (n smallint);", 1,
     "CREATE TABLE t (n bigint);"},
    {"prefer-identity", WARNING, NULL, "CREATE TABLE t (id bigserial PRIMARY KEY);", 1,
     "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);"},
    {"prefer-text-field", WARNING, NULL, "ALTER TABLE t ADD COLUMN name varchar(100);", 1,
     "ALTER TABLE t ADD COLUMN name text;"},
    {"prefer-timestamptz", WARNING, NULL, "CREATE TABLE t (at timestamp);", 1,
     "CREATE TABLE t (at timestamptz);"},
    {"ban-char-field", WARNING, NULL, "CREATE TABLE t (code char(3));", 1,
     "CREATE TABLE t (code text);"},
};

#define N_RULE_CASES (sizeof(rule_cases) / sizeof(rule_cases[0]))

START_TEST(rule_bad_example)
{
    const rule_case *c = &rule_cases[_i];
    policy_findings f;
    const policy_finding *hit;
    policy_sql_options opts = {.pg_version = 13}; /* 13: DETACH ... CONCURRENTLY needs 14 */

    check_sql_opts(c->bad, opts, true, &f);
    hit = find_rule(&f, c->rule);
    if (!hit)
        dump(c->bad, &f);
    ck_assert_msg(hit != NULL, "%s: no finding", c->rule);
    ck_assert_msg(hit->severity == c->severity, "%s: severity %s", c->rule,
                  policy_severity_name(hit->severity));
    ck_assert_msg(hit->line == c->line, "%s: line %d, want %d", c->rule, hit->line, c->line);
    if (c->lock)
        ck_assert_msg(hit->lock && strcmp(hit->lock, c->lock) == 0, "%s: lock %s", c->rule,
                      hit->lock ? hit->lock : "(none)");
    else
        ck_assert_ptr_null(hit->lock);
    ck_assert(hit->message[0] != '\0');
    ck_assert_ptr_nonnull(hit->safer);
    ck_assert(hit->statement[0] != '\0');
    policy_findings_free(&f);
}
END_TEST

START_TEST(rule_safe_example)
{
    const rule_case *c = &rule_cases[_i];
    policy_findings f;
    policy_sql_options opts = {0};

    check_sql_opts(c->safe, opts, true, &f);
    if (find_rule(&f, c->rule))
        dump(c->safe, &f);
    ck_assert_msg(find_rule(&f, c->rule) == NULL, "%s fired on its safe example", c->rule);
    ck_assert_msg(find_rule(&f, "unparsable-sql") == NULL, "safe example of %s unparsable",
                  c->rule);
    policy_findings_free(&f);
}
END_TEST

/* Every rule in the table has a case above, and the table itself is consistent. */
START_TEST(every_rule_is_tested)
{
    size_t n;
    const policy_sql_rule *rules = policy_sql_rules(&n);

    ck_assert_uint_eq(n, N_RULE_CASES);
    for (size_t i = 0; i < n; i++) {
        bool found = false;

        for (size_t k = 0; k < N_RULE_CASES; k++)
            found = found || strcmp(rule_cases[k].rule, rules[i].id) == 0;
        ck_assert_msg(found, "rule %s has no test case", rules[i].id);
        ck_assert(rules[i].message && rules[i].message[0]);
        ck_assert(rules[i].safer && rules[i].safer[0]);
        ck_assert(!rules[i].rewrites || rules[i].scans);
        for (size_t k = 0; k < i; k++)
            ck_assert_str_ne(rules[k].id, rules[i].id);
    }
}
END_TEST

START_TEST(rewrite_and_scan_flags)
{
    policy_findings f;
    const policy_finding *hit;

    check_sql("ALTER TABLE e ALTER COLUMN x TYPE bigint;", &f);
    hit = find_rule(&f, "changing-column-type");
    ck_assert(hit->rewrites && hit->scans);
    policy_findings_free(&f);
    check_sql("CREATE INDEX i ON t (c);", &f);
    hit = find_rule(&f, "require-concurrent-index-creation");
    ck_assert(!hit->rewrites && hit->scans);
    policy_findings_free(&f);
    check_sql("DROP TABLE t;", &f);
    hit = find_rule(&f, "ban-drop-table");
    ck_assert(!hit->rewrites && !hit->scans);
    policy_findings_free(&f);
}
END_TEST

/* ---- details of single rules ------------------------------------------------------------- */

static policy_findings graded(const char *sql, policy_sql_options opts)
{
    policy_findings f;

    check_sql_opts(sql, opts, false, &f);
    return f;
}

/* The rule fires (want) or not on sql graded with opts; the first hit is returned. */
static void expect(const char *sql, policy_sql_options opts, const char *rule, bool want, int line)
{
    policy_findings f = graded(sql, opts);
    const policy_finding *hit = find_rule(&f, rule);

    if ((hit != NULL) != want)
        dump(sql, &f);
    ck_assert_msg((hit != NULL) == want, "%s %s on: %s", rule, want ? "missing" : "fired", sql);
    if (want && line)
        ck_assert_msg(hit->line == line, "%s: line %d, want %d", rule, hit->line, line);
    policy_findings_free(&f);
}

static const policy_sql_options defaults;

START_TEST(option_values_are_read)
{
    expect("VACUUM (FULL false) events;", defaults, "prefer-repack", false, 0);
    expect("VACUUM (FULL 0) events;", defaults, "prefer-repack", false, 0);
    expect("VACUUM (FULL true) events;", defaults, "prefer-repack", true, 1);
    expect("VACUUM (FULL) events;", defaults, "prefer-repack", true, 1);
    expect("REINDEX (CONCURRENTLY false) TABLE orders;", defaults, "require-concurrent-reindex",
           true, 1);
    expect("REINDEX (CONCURRENTLY true) TABLE orders;", defaults, "require-concurrent-reindex",
           false, 0);
}
END_TEST

START_TEST(reindex_system_is_not_told_concurrently)
{
    policy_findings f = graded("REINDEX SYSTEM app;", defaults);
    const policy_finding *hit = find_rule(&f, "require-concurrent-reindex");

    ck_assert_ptr_nonnull(hit);
    ck_assert_int_eq(hit->severity, POLICY_SEVERITY_DANGER);
    ck_assert_ptr_null(strstr(hit->safer, "CONCURRENTLY"));
    ck_assert_ptr_nonnull(strstr(hit->message, "cannot run CONCURRENTLY"));
    policy_findings_free(&f);
    expect("REINDEX DATABASE CONCURRENTLY app;", defaults, "require-concurrent-reindex", false, 0);
}
END_TEST

START_TEST(transactions)
{
    policy_sql_options implicit = {.implicit_tx = true};
    policy_sql_options flyway = {.implicit_tx = true, .tx_autodetect = true};

    /* NOT VALID then VALIDATE: fine in separate transactions, not in the same one. */
    expect("BEGIN;\nALTER TABLE a ADD CONSTRAINT c CHECK (x > 0) NOT VALID;\n"
           "ALTER TABLE a VALIDATE CONSTRAINT c;\nCOMMIT;\n",
           defaults, "constraint-missing-not-valid", true, 3);
    expect("BEGIN;\nALTER TABLE a ADD CONSTRAINT c CHECK (x > 0) NOT VALID;\nCOMMIT;\n"
           "BEGIN;\nALTER TABLE a VALIDATE CONSTRAINT c;\nCOMMIT;\n",
           defaults, "constraint-missing-not-valid", false, 0);
    expect("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id) NOT VALID;\n"
           "ALTER TABLE a VALIDATE CONSTRAINT f;\n",
           implicit, "adding-foreign-key-constraint", true, 2);
    expect("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id) NOT VALID;\n"
           "ALTER TABLE a VALIDATE CONSTRAINT f;\n",
           defaults, "adding-foreign-key-constraint", false, 0);
    /* COMMIT with nothing open, and COMMIT twice. */
    expect("CREATE TABLE a (id bigint);\nCOMMIT;\n", defaults, "transaction-nesting", true, 2);
    expect("BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;\nCOMMIT;\n", defaults,
           "transaction-nesting", true, 4);
    expect("ROLLBACK;\n", defaults, "transaction-nesting", true, 1);
    expect("BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;\n", defaults, "transaction-nesting", false,
           0);
    /* A tool that wraps the file: CONCURRENTLY fails, and BEGIN/COMMIT of its own nest. */
    expect("CREATE INDEX CONCURRENTLY i ON t (c);", implicit,
           "ban-concurrent-index-creation-in-transaction", true, 1);
    expect("CREATE INDEX CONCURRENTLY i ON t (c);", defaults,
           "ban-concurrent-index-creation-in-transaction", false, 0);
    expect("DROP INDEX CONCURRENTLY i;", implicit, "ban-concurrent-index-creation-in-transaction",
           true, 1);
    expect("BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;\n", implicit, "transaction-nesting", true,
           1);
    expect("CREATE TABLE a (id bigint);\n", implicit, "ban-uncommitted-transaction", false, 0);
    /* Flyway runs a file of CONCURRENTLY statements alone outside a transaction. */
    expect("CREATE INDEX CONCURRENTLY i ON t (c);\nCREATE INDEX CONCURRENTLY j ON t (d);\n", flyway,
           "ban-concurrent-index-creation-in-transaction", false, 0);
    {
        policy_findings f = graded("ALTER TABLE t ADD COLUMN c int;\n"
                                   "CREATE INDEX CONCURRENTLY i ON t (c);\n",
                                   flyway);
        const policy_finding *hit = find_rule(&f, "ban-concurrent-index-creation-in-transaction");

        ck_assert_ptr_nonnull(hit);
        ck_assert_int_eq(hit->line, 2);
        ck_assert_ptr_nonnull(strstr(hit->message, "Flyway"));
        policy_findings_free(&f);
    }
}
END_TEST

START_TEST(safe_recipes_stay_quiet)
{
    policy_sql_options pg11 = {.pg_version = 11};

    /* The constraint was added NOT VALID in an earlier migration and is validated here. */
    expect("ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\n"
           "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
           "ALTER TABLE users DROP CONSTRAINT users_email_not_null;\n",
           defaults, "adding-not-nullable-field", false, 0);
    expect("ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\n"
           "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;\n",
           defaults, "adding-not-nullable-field", true, 2);
    /* Before PG 12 SET NOT NULL scans anyway. */
    expect("ALTER TABLE users ADD CONSTRAINT nn CHECK (email IS NOT NULL) NOT VALID;\n"
           "ALTER TABLE users VALIDATE CONSTRAINT nn;\n"
           "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
           pg11, "adding-not-nullable-field", true, 3);
    /* The atomic primary-key swap. */
    expect("ALTER TABLE items DROP CONSTRAINT items_pkey, "
           "ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_id_big_idx;",
           defaults, "changing-primary-key", false, 0);
    expect("ALTER TABLE items DROP CONSTRAINT items_pkey;", defaults, "changing-primary-key", true,
           1);
}
END_TEST

START_TEST(if_not_exists_tables_may_hold_data)
{
    expect("CREATE TABLE IF NOT EXISTS t (id bigint);\n"
           "ALTER TABLE t ADD COLUMN c text NOT NULL;\n",
           defaults, "adding-required-field", true, 2);
    expect("CREATE TABLE t (id bigint);\nALTER TABLE t ADD COLUMN c text NOT NULL;\n", defaults,
           "adding-required-field", false, 0);
}
END_TEST

START_TEST(postgres_versions)
{
    policy_sql_options pg10 = {.pg_version = 10}, pg11 = {.pg_version = 11};
    policy_sql_options pg13 = {.pg_version = 13}, pg14 = {.pg_version = 14};

    expect("ALTER TABLE t ADD COLUMN c int DEFAULT 0;", pg10, "adding-field-with-default", true, 1);
    expect("ALTER TABLE t ADD COLUMN c int DEFAULT 0;", pg11, "adding-field-with-default", false,
           0);
    expect("ALTER TABLE t ADD COLUMN c int DEFAULT NULL;", pg10, "adding-field-with-default", false,
           0);
    expect("REINDEX INDEX CONCURRENTLY i;", pg11, "requires-newer-postgres", true, 1);
    expect("REINDEX INDEX CONCURRENTLY i;", defaults, "requires-newer-postgres", false, 0);
    expect("ALTER TABLE m DETACH PARTITION p CONCURRENTLY;", pg13, "requires-newer-postgres", true,
           1);
    expect("ALTER TABLE m DETACH PARTITION p CONCURRENTLY;", pg14, "requires-newer-postgres", false,
           0);
}
END_TEST

START_TEST(hygiene_rules_are_off_by_default)
{
    policy_rule_setting on[] = {{"prefer-bigint-over-int", POLICY_RULE_INFO}};
    policy_rule_setting off[] = {{"prefer-bigint-over-int", POLICY_RULE_OFF}};
    policy_sql_options with_on = {.rules = on, .n_rules = 1};
    policy_sql_options with_off = {.rules = off, .n_rules = 1};

    expect("CREATE TABLE t (id int, at timestamp, name varchar(9));", defaults,
           "prefer-bigint-over-int", false, 0);
    expect("CREATE TABLE t (id int);", with_off, "prefer-bigint-over-int", false, 0);
    expect("CREATE TABLE t (id int);", with_on, "prefer-bigint-over-int", true, 1);
    expect("CREATE TABLE t (id int);", with_on, "prefer-timestamptz", false, 0);
    {
        size_t n, off_count = 0;
        const policy_sql_rule *rules = policy_sql_rules(&n);

        for (size_t i = 0; i < n; i++)
            off_count += rules[i].off_by_default;
        ck_assert_uint_eq(off_count, 8);
    }
}
END_TEST

START_TEST(volatile_defaults)
{
    static const struct {
        const char *sql;
        bool rewrites;
    } cases[] = {
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now();", false},
        {"ALTER TABLE t ADD COLUMN c int DEFAULT 0 NOT NULL;", false},
        {"ALTER TABLE t ADD COLUMN c float8 DEFAULT random() * 10;", true},
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp();", true},
        {"ALTER TABLE t ADD COLUMN id bigserial;", true},
        {"ALTER TABLE t ADD COLUMN id bigint GENERATED BY DEFAULT AS IDENTITY;", true},
        {"ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;", true},
        {"ALTER TABLE t ADD COLUMN n bigint DEFAULT nextval('s');", true},
        /* Unknown functions are volatile, whoever wrote them. */
        {"ALTER TABLE t ADD COLUMN u uuid DEFAULT uuid();", true},
        {"ALTER TABLE t ADD COLUMN j jsonb DEFAULT myjsonb();", true},
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now(123);", true},
        {"ALTER TABLE t ADD COLUMN u uuid DEFAULT uuidv7();", true},
        {"ALTER TABLE t ADD COLUMN u uuid DEFAULT uuidv4();", true},
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT app.now();", true},
        {"ALTER TABLE t ADD COLUMN c text DEFAULT lower(gen_random_uuid()::text);", true},
        {"ALTER TABLE t ADD COLUMN c int DEFAULT CASE WHEN random() > 0.5 THEN 1 END;", true},
        /* Constants, casts, CURRENT_*, operators and documented stable built-ins. */
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT CURRENT_TIMESTAMP;", false},
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT pg_catalog.now();", false},
        {"ALTER TABLE t ADD COLUMN c date DEFAULT CURRENT_DATE;", false},
        {"ALTER TABLE t ADD COLUMN j jsonb DEFAULT '{}'::jsonb;", false},
        {"ALTER TABLE t ADD COLUMN s text DEFAULT 'pending' NOT NULL;", false},
        {"ALTER TABLE t ADD COLUMN a int[] DEFAULT ARRAY[1, 2];", false},
        {"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now() + interval '1 day';", false},
        {"ALTER TABLE t ADD COLUMN j jsonb DEFAULT jsonb_build_object('a', 1);", false},
        {"ALTER TABLE t ADD COLUMN c text DEFAULT NULL;", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy_findings f;

        check_sql(cases[i].sql, &f);
        ck_assert_msg((find_rule(&f, "adding-field-with-default") != NULL) == cases[i].rewrites,
                      "%s", cases[i].sql);
        ck_assert_ptr_null(find_rule(&f, "adding-required-field"));
        policy_findings_free(&f);
    }
}
END_TEST

START_TEST(new_tables_are_not_busy)
{
    policy_findings f;
    const char *sql = "CREATE TABLE public.widgets (id bigint, name text);\n"
                      "CREATE INDEX widgets_name ON widgets (name);\n"
                      "ALTER TABLE widgets ADD CONSTRAINT widgets_pkey PRIMARY KEY (id);\n"
                      "ALTER TABLE widgets ALTER COLUMN name SET NOT NULL;\n"
                      "CREATE INDEX other_name ON other (name);\n";

    check_sql(sql, &f);
    if (f.count != 1)
        dump(sql, &f);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_str_eq(f.items[0].rule, "require-concurrent-index-creation");
    ck_assert_int_eq(f.items[0].line, 5);
    policy_findings_free(&f);
}
END_TEST

START_TEST(lock_timeout_once_and_reset)
{
    policy_findings f;

    /* Reported once per file, at the first statement that needs it. */
    check_sql("CREATE TABLE x (id int);\nALTER TABLE a ADD COLUMN b int;\nDROP TABLE c;\n", &f);
    ck_assert_int_eq(find_rule(&f, "require-lock-timeout")->line, 2);
    ck_assert_uint_eq(f.count, 2);
    policy_findings_free(&f);
    /* SET to 0 or RESET switches it off again. */
    check_sql("SET lock_timeout = '1s';\nRESET lock_timeout;\nALTER TABLE a ADD COLUMN b int;\n",
              &f);
    ck_assert_int_eq(find_rule(&f, "require-lock-timeout")->line, 3);
    policy_findings_free(&f);
    check_sql("SET LOCAL lock_timeout TO 0;\nALTER TABLE a ADD COLUMN b int;\n", &f);
    ck_assert_ptr_nonnull(find_rule(&f, "require-lock-timeout"));
    policy_findings_free(&f);
    /* Statements weaker than ACCESS EXCLUSIVE do not need it. */
    check_sql("ALTER TABLE a VALIDATE CONSTRAINT c;\nCREATE INDEX CONCURRENTLY i ON a (b);\n"
              "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES c (id) NOT VALID;\n",
              &f);
    ck_assert_uint_eq(f.count, 0);
    policy_findings_free(&f);
}
END_TEST

START_TEST(several_commands_in_one_alter)
{
    policy_findings f;

    check_sql("SET lock_timeout = '2s';\n\nALTER TABLE t\n  DROP COLUMN a,\n  ALTER COLUMN b TYPE "
              "text,\n  ADD COLUMN c int NOT NULL;\n",
              &f);
    ck_assert_uint_eq(f.count, 3);
    for (size_t i = 0; i < f.count; i++)
        ck_assert_int_eq(f.items[i].line, 3);
    ck_assert_str_eq(f.items[0].rule, "ban-drop-column");
    ck_assert_str_eq(f.items[1].rule, "changing-column-type");
    ck_assert_str_eq(f.items[2].rule, "adding-required-field");
    ck_assert_str_eq(
        f.items[0].statement,
        "ALTER TABLE t DROP COLUMN a, ALTER COLUMN b TYPE text, ADD COLUMN c int NOT NULL");
    policy_findings_free(&f);
}
END_TEST

/* ---- lines and statements ---------------------------------------------------------------- */

START_TEST(statement_line_skips_comments_and_blanks)
{
    policy_findings f;
    const char *sql = "-- migration 42\n"
                      "SET lock_timeout = '1s';\n"
                      "\n"
                      "/* a block comment\n"
                      "   /* nested */ still comment;\n"
                      "*/\n"
                      "\n"
                      "   -- just before\n"
                      "   DROP TABLE a;   -- trailing\n"
                      "\n"
                      "\tTRUNCATE b;\n"
                      "DELETE FROM c; UPDATE d SET x = 1;\n";

    check_sql(sql, &f);
    if (f.count != 4)
        dump(sql, &f);
    ck_assert_uint_eq(f.count, 4);
    ck_assert_str_eq(f.items[0].rule, "ban-drop-table");
    ck_assert_int_eq(f.items[0].line, 9);
    ck_assert_str_eq(f.items[0].statement, "DROP TABLE a");
    ck_assert_str_eq(f.items[1].rule, "ban-truncate");
    ck_assert_int_eq(f.items[1].line, 11);
    ck_assert_str_eq(f.items[1].statement, "TRUNCATE b");
    ck_assert_str_eq(f.items[2].rule, "delete-without-where");
    ck_assert_int_eq(f.items[2].line, 12);
    ck_assert_str_eq(f.items[3].rule, "update-without-where");
    ck_assert_int_eq(f.items[3].line, 12);
    ck_assert_str_eq(f.items[3].statement, "UPDATE d SET x = 1");
    policy_findings_free(&f);
}
END_TEST

START_TEST(crlf_and_last_statement_without_semicolon)
{
    policy_findings f;

    check_sql("SET lock_timeout = '1s';\r\n\r\n-- x\r\nDROP TABLE z", &f);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_int_eq(f.items[0].line, 4);
    ck_assert_str_eq(f.items[0].statement, "DROP TABLE z");
    policy_findings_free(&f);
}
END_TEST

START_TEST(long_statement_is_cut)
{
    policy_findings f;
    char sql[1200];
    size_t n;

    n = (size_t)snprintf(sql, sizeof(sql), "SET lock_timeout = '1s'; DROP TABLE ");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(sql + n, sizeof(sql) - n, "tableé%02d, ", i);
    snprintf(sql + n, sizeof(sql) - n, "last;");
    check_sql(sql, &f);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_le(strlen(f.items[0].statement), POLICY_STATEMENT_MAX + strlen("…"));
    ck_assert_msg(strstr(f.items[0].statement, "…") != NULL, "%s", f.items[0].statement);
    ck_assert(strncmp(f.items[0].statement, "DROP TABLE tableé00, ", 22) == 0);
    policy_findings_free(&f);
}
END_TEST

/* ---- unparsable input -------------------------------------------------------------------- */

START_TEST(unparsable_statement_then_more)
{
    policy_findings f;
    const char *sql = "SET lock_timeout = '1s';\n"
                      "CREATE TABLE ok (id int);\n"
                      "\n"
                      "-- the broken one\n"
                      "ALTER TABLE users ADD COLUMN;\n"
                      "SELECT 'a;b' AS \"x;y\", $$ ; $$, $tag$ ; $tag$;\n"
                      "DROP TABLE users;\n"
                      "CREATE TABEL nope (id int);\n";

    check_sql(sql, &f);
    if (f.count != 3)
        dump(sql, &f);
    ck_assert_uint_eq(f.count, 3);
    ck_assert_str_eq(f.items[0].rule, "unparsable-sql");
    ck_assert_int_eq(f.items[0].severity, POLICY_SEVERITY_DANGER);
    ck_assert_int_eq(f.items[0].line, 5);
    ck_assert_msg(strncmp(f.items[0].message, "unparsable SQL at line 5", 24) == 0, "%s",
                  f.items[0].message);
    ck_assert_str_eq(f.items[1].rule, "ban-drop-table");
    ck_assert_int_eq(f.items[1].line, 7);
    ck_assert_str_eq(f.items[2].rule, "unparsable-sql");
    ck_assert_int_eq(f.items[2].line, 8);
    policy_findings_free(&f);
}
END_TEST

START_TEST(unparsable_oddities)
{
    static const struct {
        const char *sql;
        size_t len; /* 0: strlen */
        int line;
    } cases[] = {
        {"SELECT 'never closed;\nDROP TABLE a;\n", 0, 1},
        {"SELECT 1;\n/* never closed\nDROP TABLE a;\n", 0, 2},
        {"SELECT 1;\nSELECT $$x;\n", 0, 2},
        {"SELECT 1;\nSELECT '\xff\xfe';\n", 0, 2},
        {"SELECT 1;\n\nSELECT 2\0;\n", 22, 3},
        {"\\connect other\nSELECT 1;\n", 0, 1},
        {"CREATE TABLE `mysql` (id int);", 0, 1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy_findings f = {0};
        core_error err = {0};
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].sql);

        ck_assert_int_eq(policy_sql_check(cases[i].sql, len, &f, &err), 0);
        ck_assert_msg(f.count >= 1, "case %zu: no finding", i);
        ck_assert_msg(strcmp(f.items[0].rule, "unparsable-sql") == 0, "case %zu: %s", i,
                      f.items[0].rule);
        ck_assert_msg(f.items[0].line == cases[i].line, "case %zu: line %d", i, f.items[0].line);
        policy_findings_free(&f);
    }
}
END_TEST

START_TEST(deeply_nested_does_not_crash)
{
    enum { DEPTH = 20000 };
    char *sql = malloc(2 * DEPTH + 32);
    size_t n = 0;
    policy_findings f = {0};
    core_error err = {0};

    n += (size_t)sprintf(sql, "SELECT ");
    for (int i = 0; i < DEPTH; i++)
        sql[n++] = '(';
    sql[n++] = '1';
    for (int i = 0; i < DEPTH; i++)
        sql[n++] = ')';
    sql[n] = '\0';
    ck_assert_int_eq(policy_sql_check(sql, n, &f, &err), 0);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_str_eq(f.items[0].rule, "unparsable-sql");
    policy_findings_free(&f);
    free(sql);
}
END_TEST

START_TEST(empty_and_comment_only)
{
    policy_findings f;
    core_error err = {0};

    check_sql("", &f);
    ck_assert_uint_eq(f.count, 0);
    check_sql("-- nothing\n/* at all */\n;;\n", &f);
    ck_assert_uint_eq(f.count, 0);
    ck_assert_int_eq(policy_sql_check(NULL, 0, &f, &err), 0);
    ck_assert_uint_eq(f.count, 0);
}
END_TEST

/* Large files are split a chunk (64 KiB) at a time: a chunk that ends inside a BEGIN ATOMIC
 * body, or at a syntax error, must not change what is found or where. */
START_TEST(large_files_split_in_chunks)
{
    core_buf sql = {0};
    policy_findings f;
    int lines = 0;

    /* Long statements: after a parse error at most 5000 are read one by one. */
    for (; sql.len < 262000; lines++)
        ck_assert_int_eq(core_buf_printf(&sql, "SELECT '%090d';\n", lines), 0);
    /* The fourth chunk's first ';' past 64 KiB (near 256 KiB) is inside this body. */
    ck_assert_int_eq(
        core_buf_puts(&sql, "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n"), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(core_buf_puts(&sql, "  SELECT 2;\n"), 0);
    ck_assert_int_eq(core_buf_puts(&sql, "END;\nDROP TABLE x;\n"), 0);
    lines += 102;
    check_sql(sql.data, &f);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.items[0].rule, "ban-drop-table");
    ck_assert_int_eq(f.items[0].line, lines + 1);
    ck_assert_str_eq(f.items[1].rule, "require-lock-timeout");
    policy_findings_free(&f);

    /* A syntax error far past the first chunk: the file is read statement by statement
     * with zoneci's own splitter (which cuts the BEGIN ATOMIC body apart, hence unparsable
     * pieces there), the broken statement is reported and the one after it graded. */
    ck_assert_int_eq(core_buf_puts(&sql, "select (;\nTRUNCATE z;\n"), 0);
    check_sql(sql.data, &f);
    ck_assert_uint_ge(f.count, 4);
    ck_assert_str_eq(f.items[f.count - 4].rule, "ban-drop-table");
    ck_assert_int_eq(f.items[f.count - 4].line, lines + 1);
    ck_assert_str_eq(f.items[f.count - 2].rule, "unparsable-sql");
    ck_assert_int_eq(f.items[f.count - 2].line, lines + 2);
    ck_assert_str_eq(f.items[f.count - 1].rule, "ban-truncate");
    ck_assert_int_eq(f.items[f.count - 1].line, lines + 3);
    policy_findings_free(&f);
    core_buf_free(&sql);
}
END_TEST

/* The statements of sql_gen(i): context-free risky ones among padding. */
static const char *gen_statement(int i, char *buf, size_t size)
{
    switch (i % 7) {
    case 0:
        snprintf(buf, size, "DROP TABLE d%d;\n", i);
        break;
    case 1:
        snprintf(buf, size, "-- truncating\nTRUNCATE tr%d;\n", i);
        break;
    case 2:
        snprintf(buf, size, "DELETE FROM del%d;\n", i);
        break;
    case 3:
        snprintf(buf, size, "ALTER TABLE a%d\n  RENAME COLUMN x TO y;\n", i);
        break;
    default:
        snprintf(buf, size, "INSERT INTO pad VALUES (%d, '%0200d');\n", i, i);
    }
    return buf;
}

/* Appends to want what statement, graded alone, gives when it starts at line first_line
 * of a file (the per-file lock_timeout reminder aside). */
static void expect_alone(const char *statement, int first_line, policy_findings *want)
{
    policy_findings f;

    check_sql(statement, &f);
    for (size_t i = 0; i < f.count; i++) {
        const policy_finding *it = &f.items[i];

        if (strstr(it->rule, "timeout"))
            continue;
        ck_assert_int_eq(policy_findings_push(
                             want, it->rule, it->severity, first_line - 1 + it->line, it->statement,
                             strlen(it->statement), it->message, NULL, NULL, false, false),
                         0);
    }
    policy_findings_free(&f);
}

/* The line of b's end, counting on from *line at byte *from. */
static int line_at_end(const core_buf *b, size_t *from, int *line)
{
    for (; *from < b->len; (*from)++)
        *line += b->data[*from] == '\n';
    return *line;
}

/* A file of several chunks, one of whose boundaries falls past a dollar-quoted body holding
 * ';' and (loop 0) another inside a BEGIN ATOMIC body, so that the first chunk does not
 * parse and is tried again twice as long; loop 1 has every chunk parse (and, on a machine
 * of several processors, parsed on worker threads). Its findings are, in order, those of
 * its statements graded one at a time: the chunks a file is parsed in must not show. */
START_TEST(chunks_grade_as_statements_alone)
{
    core_buf sql = {0};
    policy_findings want = {0}, got;
    char buf[512];
    size_t kept = 0, counted = 0;
    int line = 1;
    bool atomic = _i == 1, dollar = false;

    for (int i = 0; sql.len < 1500000; i++) {
        if (!atomic && sql.len > 250000) {
            /* 250 to 322 KB, longer than a chunk: a chunk's end falls inside this body. */
            atomic = true;
            ck_assert_int_eq(core_buf_puts(&sql, "CREATE FUNCTION fa() RETURNS int LANGUAGE sql "
                                                 "BEGIN ATOMIC\n"),
                             0);
            for (int k = 0; k < 6000; k++)
                ck_assert_int_eq(core_buf_puts(&sql, "  SELECT 2;\n"), 0);
            ck_assert_int_eq(core_buf_puts(&sql, "END;\n"), 0);
        } else if (!dollar && sql.len > 700000) {
            /* 700 to 800 KB: a body holding ';' across the next chunk's end. */
            dollar = true;
            ck_assert_int_eq(core_buf_puts(&sql, "CREATE FUNCTION fd() RETURNS void AS $body$\n"),
                             0);
            for (int k = 0; k < 3000; k++)
                ck_assert_int_eq(core_buf_puts(&sql, "  DROP TABLE inside; TRUNCATE t;\n"), 0);
            ck_assert_int_eq(core_buf_puts(&sql, "$body$ LANGUAGE plpgsql;\n"), 0);
        }
        gen_statement(i, buf, sizeof(buf));
        expect_alone(buf, line_at_end(&sql, &counted, &line), &want);
        ck_assert_int_eq(core_buf_puts(&sql, buf), 0);
    }
    check_sql(sql.data, &got);
    ck_assert(atomic && dollar);
    ck_assert_uint_gt(want.n_omitted, 100);
    /* Findings then the briefs past the cap, in order, the lock_timeout reminder aside. */
    for (size_t i = 0, k = 0; i < got.count + got.n_omitted; i++) {
        bool gi = i < got.count, wi = k < want.count;
        const char *grule = gi ? got.items[i].rule : got.omitted[i - got.count].rule;

        if (strstr(grule, "timeout"))
            continue;
        ck_assert_uint_lt(k, want.count + want.n_omitted);
        ck_assert_str_eq(grule, wi ? want.items[k].rule : want.omitted[k - want.count].rule);
        ck_assert_int_eq(gi ? got.items[i].line : got.omitted[i - got.count].line,
                         wi ? want.items[k].line : want.omitted[k - want.count].line);
        if (gi && wi) {
            ck_assert_str_eq(got.items[i].statement, want.items[k].statement);
            ck_assert_str_eq(got.items[i].message, want.items[k].message);
        }
        kept = ++k;
    }
    ck_assert_uint_eq(kept, want.count + want.n_omitted);
    policy_findings_free(&got);
    policy_findings_free(&want);
    core_buf_free(&sql);
}
END_TEST

START_TEST(caps)
{
    size_t big = POLICY_SQL_MAX + 1;
    char *sql = malloc(big + 1);
    policy_findings f = {0};
    core_error err = {0};
    size_t n = 0;

    memset(sql, ' ', big);
    sql[big] = '\0';
    ck_assert_int_eq(policy_sql_check(sql, big, &f, &err), CORE_ETOOBIG);
    ck_assert_uint_eq(f.count, 0);
    /* At most POLICY_FINDINGS_MAX kept; the rest counted. */
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(sql + n, "TRUNCATE t%d;\n", i);
    ck_assert_int_eq(policy_sql_check(sql, n, &f, &err), 0);
    ck_assert_uint_eq(f.count, POLICY_FINDINGS_MAX);
    ck_assert_uint_eq(f.count + f.n_omitted, 301); /* 300 truncates and one lock_timeout */
    policy_findings_free(&f);
    free(sql);
}
END_TEST

/* ---- threads ----------------------------------------------------------------------------- */

static void *check_many(void *arg)
{
    const char *sql = "BEGIN;\nALTER TABLE a DROP COLUMN b;\nselect (;\nCOMMIT;\n";
    long bad = 0;

    (void)arg;
    for (int i = 0; i < 200; i++) {
        policy_findings f = {0};

        if (policy_sql_check(sql, strlen(sql), &f, NULL) != 0 || f.count != 3 ||
            strcmp(f.items[0].rule, "ban-drop-column") != 0 || f.items[2].line != 3)
            bad++;
        policy_findings_free(&f);
    }
    return (void *)bad;
}

START_TEST(threads_check_at_once)
{
    pthread_t t[4];

    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, check_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;

        ck_assert_int_eq(pthread_join(t[i], &bad), 0);
        ck_assert_ptr_null(bad);
    }
}
END_TEST

Suite *suite_policies_sqlrisk(void)
{
    Suite *s = suite_create("policies_sqlrisk");
    TCase *tc = tcase_create("sqlrisk");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, rule_bad_example, 0, (int)N_RULE_CASES);
    tcase_add_loop_test(tc, rule_safe_example, 0, (int)N_RULE_CASES);
    tcase_add_test(tc, every_rule_is_tested);
    tcase_add_test(tc, rewrite_and_scan_flags);
    tcase_add_test(tc, volatile_defaults);
    tcase_add_test(tc, option_values_are_read);
    tcase_add_test(tc, reindex_system_is_not_told_concurrently);
    tcase_add_test(tc, transactions);
    tcase_add_test(tc, safe_recipes_stay_quiet);
    tcase_add_test(tc, if_not_exists_tables_may_hold_data);
    tcase_add_test(tc, postgres_versions);
    tcase_add_test(tc, hygiene_rules_are_off_by_default);
    tcase_add_test(tc, new_tables_are_not_busy);
    tcase_add_test(tc, lock_timeout_once_and_reset);
    tcase_add_test(tc, several_commands_in_one_alter);
    tcase_add_test(tc, statement_line_skips_comments_and_blanks);
    tcase_add_test(tc, crlf_and_last_statement_without_semicolon);
    tcase_add_test(tc, long_statement_is_cut);
    tcase_add_test(tc, unparsable_statement_then_more);
    tcase_add_test(tc, unparsable_oddities);
    tcase_add_test(tc, deeply_nested_does_not_crash);
    tcase_add_test(tc, empty_and_comment_only);
    tcase_add_test(tc, caps);
    tcase_add_test(tc, large_files_split_in_chunks);
    tcase_add_loop_test(tc, chunks_grade_as_statements_alone, 0, 2);
    tcase_add_test(tc, threads_check_at_once);
    suite_add_tcase(s, tc);
    return s;
}
