/* `zoneci check-config FILE`: validates a configuration file and prints every problem as
 * FILE:LINE: PATH: message, so that editors and CI can jump to it. Reads no secrets. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"

static int usage(void)
{
    fprintf(stderr, "usage: zoneci check-config FILE\n");
    return 2;
}

int cli_check_config(int argc, char **argv)
{
    const char *path = NULL;
    policy_config *cfg = NULL;
    policy_problems problems = {0};
    core_error err = {0};
    int rc;

    /* "--config FILE" is accepted too, like the other sub-commands spell it. */
    if (argc == 2 && argv[1][0] != '-')
        path = argv[1];
    else if (argc == 3 && strcmp(argv[1], "--config") == 0)
        path = argv[2];
    if (!path)
        return usage();

    rc = policy_config_load(path, &cfg, &problems, &err);
    if (rc == 0) {
        printf("%s: ok (%zu region%s, %zu polic%s)\n", path, cfg->n_regions,
               cfg->n_regions == 1 ? "" : "s", cfg->n_policies, cfg->n_policies == 1 ? "y" : "ies");
        policy_config_free(cfg);
        return 0;
    }
    if (problems.count == 0) {
        /* Unreadable, too big, out of memory: err holds the one reason. */
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < problems.count; i++) {
        const policy_problem *p = &problems.items[i];

        fprintf(stderr, "%s:", path);
        if (p->line > 0)
            fprintf(stderr, "%d:", p->line);
        fprintf(stderr, " %s%s%s\n", p->path, p->path[0] ? ": " : "", p->msg);
    }
    fprintf(stderr, "%zu problem%s\n", problems.count, problems.count == 1 ? "" : "s");
    policy_problems_free(&problems);
    return 1;
}
