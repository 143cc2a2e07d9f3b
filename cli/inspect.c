/* `zoneci inspect --repo DIR --base REV --head REV [--json|--markdown] [--paths GLOB ...]`:
 * the migration report of SPEC section 6 for any local repository, without Redis, GitHub or
 * a config file, so that a developer sees what zoneci will say before pushing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"

#define PATHS_MAX 64
#define MARKDOWN_DEFAULT_BYTES 65536

static int usage(void)
{
    fprintf(stderr, "usage: zoneci inspect --repo DIR --base REV --head REV [--json | --markdown "
                    "[--max-bytes N]] [--paths GLOB ...]\n");
    return 2;
}

static void print_finding(const policy_finding *f)
{
    printf("  %-5d %-8s %-45s %s\n", f->line, policy_severity_name(f->severity), f->rule,
           f->lock ? f->lock : "-");
    if (f->statement[0])
        printf("        %s\n", f->statement);
    printf("        %s%s%s\n", f->message, f->rewrites ? " [rewrites table]" : "",
           !f->rewrites && f->scans ? " [scans table]" : "");
    if (f->safer)
        printf("        safer: %s\n", f->safer);
}

/* The terminal form: one block per migration, findings as rows. */
static void print_table(const policy_report *r, const policy_diff *d)
{
    size_t counts[3] = {0, 0, 0};

    for (size_t i = 0; i < r->n_migrations; i++) {
        for (size_t k = 0; k < r->migrations[i].findings.count; k++)
            counts[r->migrations[i].findings.items[k].severity]++;
    }
    printf("risk: %s   %zu migration%s, %zu danger, %zu warning, %zu info   (merge base %.12s, "
           "head %.12s, %zu changed file%s)\n",
           policy_risk_name(policy_report_risk(r)), r->n_migrations,
           r->n_migrations == 1 ? "" : "s", counts[POLICY_SEVERITY_DANGER],
           counts[POLICY_SEVERITY_WARNING], counts[POLICY_SEVERITY_INFO], d->merge_base, d->head,
           d->n_files + d->n_omitted, d->n_files + d->n_omitted == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_migrations; i++) {
        const policy_migration *m = &r->migrations[i];

        printf("\n%s  [%s%s]", m->path, m->framework, m->down ? ", down: not graded" : "");
        if (m->old_path)
            printf("  (renamed from %s)", m->old_path);
        printf("\n");
        if (m->findings.count == 0 && !m->down)
            printf("  no findings\n");
        else if (m->findings.count > 0)
            printf("  %-5s %-8s %-45s %s\n", "LINE", "SEVERITY", "RULE", "LOCK");
        for (size_t k = 0; k < m->findings.count; k++)
            print_finding(&m->findings.items[k]);
        if (m->findings.n_omitted)
            printf("  …and %zu more findings\n", m->findings.n_omitted);
    }
}

int cli_inspect(int argc, char **argv)
{
    const char *repo = NULL, *base = NULL, *head = NULL;
    char *paths[PATHS_MAX];
    size_t n_paths = 0, max_bytes = MARKDOWN_DEFAULT_BYTES;
    bool json = false, markdown = false;
    policy_diff *diff = NULL;
    policy_report *report = NULL;
    core_buf out = {0};
    core_error err = {0};
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--markdown") == 0) {
            markdown = true;
        } else if (strcmp(a, "--paths") == 0) {
            /* --paths takes every argument up to the next option. */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return usage();
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (n_paths == PATHS_MAX) {
                    fprintf(stderr, "zoneci: at most %d --paths globs\n", PATHS_MAX);
                    return 2;
                }
                paths[n_paths++] = argv[++i];
            }
        } else if (i + 1 < argc && strcmp(a, "--repo") == 0) {
            repo = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--base") == 0) {
            base = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--head") == 0) {
            head = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--max-bytes") == 0) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);

            if (*end || v == 0)
                return usage();
            max_bytes = (size_t)v;
        } else {
            return usage();
        }
    }
    if (!repo || !base || !head || (json && markdown))
        return usage();
    rc = policy_diff_compute(repo, base, head, NULL, &diff, &err);
    if (rc == 0)
        rc = policy_migrations_inspect(diff, paths, n_paths, &report, &err);
    if (rc < 0) {
        fprintf(stderr, "zoneci: inspect: %s\n", err.msg);
        goto out;
    }
    if (json) {
        rc = policy_report_json(report, &out);
        if (rc == 0)
            printf("%s\n", out.data);
    } else if (markdown) {
        rc = policy_report_markdown(report, max_bytes, &out);
        if (rc == 0)
            fputs(out.data, stdout);
    } else {
        print_table(report, diff);
    }
    if (rc < 0)
        fprintf(stderr, "zoneci: inspect: out of memory\n");
out:
    core_buf_free(&out);
    policy_report_free(report);
    policy_diff_free(diff);
    return rc < 0 ? 1 : 0;
}
