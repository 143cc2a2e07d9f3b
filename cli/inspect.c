/* `zoneci inspect --repo DIR --base REV --head REV [--json|--markdown] [--paths GLOB ...]
 * [--pg-version N] [--rule ID=LEVEL ...] [--config FILE [--repo-name OWNER/NAME]]`: the
 * migration report (docs/migrations.md) for any local repository, without Redis or GitHub,
 * so that a developer sees what zoneci will say before pushing. --config reads the
 * policy the server would apply (the one matching --repo-name, or the config's only
 * policy with a `migrations` section): its globs, postgres_version and rules, so the
 * report is the server's. --paths, --pg-version and --rule stand for (or add to) a
 * policy's migrations.paths, postgres_version and rules, checked the same way. Without
 * either, the built-in framework patterns (policies/migrations.c) still apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"

#define PATHS_MAX 64
#define RULES_MAX 256
#define MARKDOWN_DEFAULT_BYTES 65536

static int usage(void)
{
    fprintf(stderr,
            "usage: zoneci inspect --repo DIR --base REV --head REV [--json | --markdown "
            "[--max-bytes N]] [--paths GLOB ...] [--pg-version N] [--rule ID=LEVEL ...]\n"
            "                     [--config FILE [--repo-name OWNER/NAME]]\n"
            "  --config FILE     apply the policy of this zoneci config (its migrations.paths, "
            "postgres_version and rules)\n"
            "  --repo-name NAME  the repository's owner/name, to pick the policy (default: the "
            "config's only policy with migrations)\n"
            "  --pg-version N    the Postgres major version the migrations run on, %d to %d "
            "(default %d)\n"
            "  --rule ID=LEVEL   set a rule to off, info, warning or danger; repeatable, the "
            "last one for a rule wins\n",
            POLICY_PG_MIN, POLICY_PG_MAX, POLICY_PG_DEFAULT);
    return 2;
}

/* --pg-version: digits only, so that "16.2" or "16x" is refused rather than read as 16. */
static bool parse_pg_version(const char *s, int *out)
{
    long v = 0;

    if (!*s || strlen(s) > 4)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < POLICY_PG_MIN || v > POLICY_PG_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* --rule ID=LEVEL into *out (out->rule malloc'd). Returns 0, or 2 (the exit code of a bad
 * argument) after saying what is wrong; 1 when out of memory. */
static int parse_rule(const char *arg, policy_rule_setting *out)
{
    const char *eq = strchr(arg, '=');
    char *id;

    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr,
                "zoneci: inspect: --rule wants ID=LEVEL (LEVEL: off, info, warning or danger), "
                "not \"%s\"\n",
                arg);
        return 2;
    }
    id = core_strndup(arg, (size_t)(eq - arg));
    if (!id) {
        fprintf(stderr, "zoneci: inspect: out of memory\n");
        return 1;
    }
    if (!policy_rule_known(id)) {
        fprintf(stderr,
                "zoneci: inspect: --rule %s: unknown rule \"%s\" (docs/migrations.md lists the "
                "rule ids)\n",
                arg, id);
        free(id);
        return 2;
    }
    if (!policy_rule_level_parse(eq + 1, &out->level)) {
        fprintf(stderr,
                "zoneci: inspect: --rule %s: the level must be off, info, warning or danger, not "
                "\"%s\"\n",
                arg, eq + 1);
        free(id);
        return 2;
    }
    out->rule = id;
    return 0;
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
    if (f->suppressed)
        printf("        suppressed: %s\n", f->suppression ? f->suppression : "");
}

/* The policy of config_path for repo_name (or the only one with a `migrations` section)
 * into *cfg and *pol. Returns 0, or 2 (a bad argument's exit code) after saying why. */
static int load_policy(const char *config_path, const char *repo_name, policy_config **cfg,
                       const policy_policy **pol)
{
    core_error err = {0};
    size_t with = 0;

    if (policy_config_load(config_path, cfg, NULL, &err) < 0) {
        fprintf(stderr, "zoneci: inspect: --config %s: %s (zoneci check-config %s says more)\n",
                config_path, err.msg, config_path);
        return 2;
    }
    if (repo_name) {
        *pol = policy_match(*cfg, repo_name);
        if (!*pol)
            fprintf(stderr, "zoneci: inspect: --config %s: no policy matches %s\n", config_path,
                    repo_name);
        return *pol ? 0 : 2;
    }
    for (size_t i = 0; i < (*cfg)->n_policies; i++) {
        if ((*cfg)->policies[i].has_migrations) {
            *pol = &(*cfg)->policies[i];
            with++;
        }
    }
    if (with == 1)
        return 0;
    fprintf(stderr,
            "zoneci: inspect: --config %s: %s policy has a migrations section: name the "
            "repository with --repo-name OWNER/NAME\n",
            config_path, with ? "more than one" : "no");
    return 2;
}

/* The terminal form: one block per migration, findings as rows. */
static void print_table(const policy_report *r, const policy_diff *d)
{
    size_t counts[3], suppressed;
    char extra[48] = "";

    policy_report_counts(r, counts, &suppressed);
    if (suppressed)
        snprintf(extra, sizeof(extra), ", %zu suppressed", suppressed);
    printf("risk: %s   %zu migration%s, %zu danger, %zu warning, %zu info%s   (merge base %.12s, "
           "head %.12s, %zu changed file%s)\n",
           policy_risk_name(policy_report_risk(r)), r->n_migrations,
           r->n_migrations == 1 ? "" : "s", counts[POLICY_SEVERITY_DANGER],
           counts[POLICY_SEVERITY_WARNING], counts[POLICY_SEVERITY_INFO], extra, d->merge_base,
           d->head, d->n_files + d->n_omitted, d->n_files + d->n_omitted == 1 ? "" : "s");
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
    policy_rule_setting rules[RULES_MAX];
    size_t n_paths = 0, n_rules = 0, max_bytes = MARKDOWN_DEFAULT_BYTES;
    const char *config_path = NULL, *repo_name = NULL;
    policy_config *cfg = NULL;
    const policy_policy *pol = NULL;
    char **all_paths = NULL;               /* the policy's globs, then --paths */
    policy_rule_setting *all_rules = NULL; /* the policy's rules, then --rule: the last wins */
    int pg_version = 0;
    policy_inspect_options opts;
    bool json = false, markdown = false;
    policy_diff *diff = NULL;
    policy_report *report = NULL;
    core_buf out = {0};
    core_error err = {0};
    int rc;
    int code = 0; /* an exit code for a bad argument; every exit goes through out, where
                   * the ids of --rule settings are freed */

    for (int i = 1; i < argc && code == 0; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--markdown") == 0) {
            markdown = true;
        } else if (strcmp(a, "--paths") == 0) {
            /* --paths takes every argument up to the next option. */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                code = usage();
                break;
            }
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (n_paths == PATHS_MAX) {
                    fprintf(stderr, "zoneci: at most %d --paths globs\n", PATHS_MAX);
                    code = 2;
                    break;
                }
                paths[n_paths++] = argv[++i];
            }
        } else if (i + 1 < argc && strcmp(a, "--pg-version") == 0) {
            if (!parse_pg_version(argv[++i], &pg_version)) {
                fprintf(stderr,
                        "zoneci: inspect: --pg-version must be a Postgres major version from %d "
                        "to %d, not \"%s\"\n",
                        POLICY_PG_MIN, POLICY_PG_MAX, argv[i]);
                code = 2;
            }
        } else if (i + 1 < argc && strcmp(a, "--rule") == 0) {
            if (n_rules == RULES_MAX) {
                fprintf(stderr, "zoneci: inspect: at most %d --rule settings\n", RULES_MAX);
                code = 2;
                break;
            }
            code = parse_rule(argv[++i], &rules[n_rules]);
            if (code == 0)
                n_rules++;
        } else if (i + 1 < argc && strcmp(a, "--config") == 0) {
            config_path = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--repo-name") == 0) {
            repo_name = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--repo") == 0) {
            repo = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--base") == 0) {
            base = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--head") == 0) {
            head = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--max-bytes") == 0) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);

            if (*end || v == 0) {
                code = usage();
                break;
            }
            max_bytes = (size_t)v;
        } else {
            code = usage();
        }
    }
    if (code == 0 && (!repo || !base || !head || (json && markdown) || (repo_name && !config_path)))
        code = usage();
    if (code == 0 && config_path)
        code = load_policy(config_path, repo_name, &cfg, &pol);
    if (code != 0) {
        rc = 0;
        goto out;
    }
    opts = (policy_inspect_options){.paths = paths,
                                    .n_paths = n_paths,
                                    .pg_version = pg_version,
                                    .rules = rules,
                                    .n_rules = n_rules};
    if (pol) {
        size_t np = pol->n_migration_paths, nr = pol->n_rule_settings;

        all_paths = calloc(np + n_paths + 1, sizeof(*all_paths));
        all_rules = calloc(nr + n_rules + 1, sizeof(*all_rules));
        if (!all_paths || !all_rules) {
            rc = CORE_ENOMEM;
            fprintf(stderr, "zoneci: inspect: out of memory\n");
            goto out;
        }
        for (size_t i = 0; i < np; i++)
            all_paths[i] = pol->migration_paths[i];
        for (size_t i = 0; i < n_paths; i++)
            all_paths[np + i] = paths[i];
        for (size_t i = 0; i < nr; i++)
            all_rules[i] = pol->rule_settings[i];
        for (size_t i = 0; i < n_rules; i++)
            all_rules[nr + i] = rules[i];
        opts.paths = all_paths;
        opts.n_paths = np + n_paths;
        opts.rules = all_rules;
        opts.n_rules = nr + n_rules;
        if (!pg_version)
            opts.pg_version = pol->pg_version;
    }
    rc = policy_diff_compute(repo, base, head, NULL, &diff, &err);
    if (rc == 0)
        rc = policy_migrations_inspect_with(diff, &opts, &report, &err);
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
    free(all_paths);
    free(all_rules); /* the ids belong to cfg and rules[] */
    policy_config_free(cfg);
    for (size_t i = 0; i < n_rules; i++)
        free(rules[i].rule);
    if (code != 0)
        return code;
    return rc < 0 ? 1 : 0;
}
