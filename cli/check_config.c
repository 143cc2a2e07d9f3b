/* `zoneci check-config FILE`: validates a configuration file and prints every problem as
 * FILE:LINE: PATH: message, so that editors and CI can jump to it. Beyond the schema it
 * checks each time zone against ICU (which zoneci computes with) and warns where ICU's
 * time-zone data and the system's disagree in the next 400 days. Reads no secrets. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"

#define TZ_CHECK_DAYS 400

static int usage(void)
{
    fprintf(stderr, "usage: zoneci check-config FILE\n");
    return 2;
}

/* Warns (returns the count) for each zone whose ICU offsets differ from the system's. */
int cli_tz_warnings(const policy_config *cfg, int64_t from, FILE *out)
{
    int warnings = 0;

    for (size_t i = 0; i < cfg->n_regions; i++) {
        const sched_zone *z;
        sched_tz_mismatch mm;
        char at[CORE_ISO_MAX];

        bool seen = false;

        for (size_t j = 0; j < i; j++)
            seen |= strcmp(cfg->regions[j].timezone, cfg->regions[i].timezone) == 0;
        if (seen || sched_zone_get(cfg->regions[i].timezone, &z, NULL) < 0 ||
            sched_zone_check_system(z, from, TZ_CHECK_DAYS, &mm, NULL) < 0 || !mm.differs)
            continue;
        core_time_format_iso(mm.at_ms, at);
        fprintf(out,
                "warning: regions[%zu].timezone: %s: ICU time-zone data %s and the system's %s "
                "disagree from %s (ICU UTC%+.2f h, system UTC%+.2f h)\n",
                i, cfg->regions[i].timezone, sched_tz_data_version(), core_tz_system_version(), at,
                mm.icu_offset_ms / 3600000.0, mm.system_offset_ms / 3600000.0);
        warnings++;
    }
    return warnings;
}

int cli_check_config(int argc, char **argv)
{
    const char *path = NULL;
    policy_config *cfg = NULL;
    sched_plan *plan = NULL;
    core_error err = {0};
    int warnings;

    /* "--config FILE" is accepted too, like the other sub-commands spell it. */
    if (argc == 2 && argv[1][0] != '-')
        path = argv[1];
    else if (argc == 3 && strcmp(argv[1], "--config") == 0)
        path = argv[2];
    if (!path)
        return usage();
    if (cli_config_load(path, &cfg) < 0)
        return 1;
    /* Compiling the plan opens every zone in ICU: an id ICU does not know is an error,
     * never a silent fall back to GMT. */
    if (sched_plan_new(&plan, cfg, &err) < 0) {
        fprintf(stderr, "%s: %s\n1 problem\n", path, err.msg);
        policy_config_free(cfg);
        return 1;
    }
    warnings = cli_tz_warnings(cfg, core_time_now_ms(), stderr);
    printf("%s: ok (%zu region%s, %zu polic%s%s)\n", path, cfg->n_regions,
           cfg->n_regions == 1 ? "" : "s", cfg->n_policies, cfg->n_policies == 1 ? "y" : "ies",
           warnings ? ", time-zone warnings above" : "");
    sched_plan_free(plan);
    policy_config_free(cfg);
    return 0;
}
