/* libFuzzer target for the SQL rule engine: any bytes must give findings (at least one for
 * text that does not parse), never a crash, a leak or an unbounded cost, and every finding
 * must be well formed. The same input is also graded as a migration, through the report
 * and its JSON and Markdown forms. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One libgit2 reference for the whole run, so that each input does not start it again. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return policy_git_init();
}

static void check_findings(const policy_findings *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const policy_finding *it = &f->items[i];

        CORE_ASSERT(it->rule && it->rule[0]);
        CORE_ASSERT(it->message && it->message[0]);
        CORE_ASSERT(it->statement);
        CORE_ASSERT(strlen(it->statement) <= 200 + strlen("…"));
        CORE_ASSERT(it->line >= 1);
        CORE_ASSERT(it->severity <= POLICY_SEVERITY_DANGER);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy_findings f = {0};
    policy_diff *diff = NULL;
    policy_report *report = NULL;
    core_buf b = {0};
    int prev_line = 0;

    if (policy_sql_check((const char *)data, size, &f, NULL) == 0) {
        check_findings(&f);
        for (size_t i = 0; i < f.count; i++) {
            /* Statement order, except the uncommitted BEGIN reported at the end. */
            if (strcmp(f.items[i].rule, "ban-uncommitted-transaction") != 0) {
                CORE_ASSERT(f.items[i].line >= prev_line);
                prev_line = f.items[i].line;
            }
        }
    }
    policy_findings_free(&f);

    if (policy_diff_new(&diff, NULL) == 0 &&
        policy_diff_add(diff, "db/migration/V1__fuzz.sql", NULL, POLICY_CHANGE_MODIFIED,
                        POLICY_CONTENT_TEXT, (const char *)data, size, NULL) == 0 &&
        policy_diff_add(diff, "db/migrate/1_fuzz.rb", NULL, POLICY_CHANGE_ADDED,
                        POLICY_CONTENT_TEXT, (const char *)data, size, NULL) == 0 &&
        policy_migrations_inspect(diff, NULL, 0, &report, NULL) == 0) {
        CORE_ASSERT(report->n_migrations == 2);
        CORE_ASSERT(policy_report_json(report, &b) == 0);
        core_buf_reset(&b);
        CORE_ASSERT(policy_report_markdown(report, 600, &b) == 0);
        CORE_ASSERT(b.len <= 600);
    }
    core_buf_free(&b);
    policy_report_free(report);
    policy_diff_free(diff);
    return 0;
}
