/* Pieces shared by the sub-commands: loading a configuration and reporting its problems
 * the way compilers do (FILE:LINE: PATH: message), so editors and CI can jump to them. */
#include <stdio.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"

void cli_problems_print(const char *path, const policy_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++) {
        const policy_problem *p = &problems->items[i];

        fprintf(stderr, "%s:", path);
        if (p->line > 0)
            fprintf(stderr, "%d:", p->line);
        fprintf(stderr, " %s%s%s\n", p->path, p->path[0] ? ": " : "", p->msg);
    }
    fprintf(stderr, "%zu problem%s\n", problems->count, problems->count == 1 ? "" : "s");
}

int cli_config_load(const char *path, policy_config **out)
{
    policy_problems problems = {0};
    core_error err = {0};
    int rc = policy_config_load(path, out, &problems, &err);

    if (rc < 0) {
        if (problems.count)
            cli_problems_print(path, &problems);
        else
            fprintf(stderr, "zoneci: %s\n", err.msg);
    }
    policy_problems_free(&problems);
    if (rc == 0)
        cli_tz_setup((*out)->cache_dir);
    return rc;
}
