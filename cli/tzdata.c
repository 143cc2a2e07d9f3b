/* `zoneci tzdata generate --out DIR [--zoneinfo DIR]`: converts the system's time-zone
 * database into ICU's resource, as `make` does for the build and as zoneci does by itself
 * at start when the system's tzdata is newer than every generated copy. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_windows.h"

static int usage(void)
{
    fprintf(stderr, "usage: zoneci tzdata generate --out DIR [--zoneinfo DIR]\n");
    return 2;
}

int cli_tzdata(int argc, char **argv)
{
    const char *out = NULL, *zoneinfo = core_tz_dir();
    sched_tzdata_stats stats;
    core_error err = {0};
    int64_t t0 = core_time_mono_ms();

    if (argc < 2 || strcmp(argv[1], "generate") != 0)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--zoneinfo") == 0 && i + 1 < argc)
            zoneinfo = argv[++i];
        else
            return usage();
    }
    if (!out)
        return usage();
    if (sched_tzdata_generate(zoneinfo, out, &stats, &err) < 0) {
        fprintf(stderr, "zoneci: cannot generate time-zone data: %s\n", err.msg);
        return 1;
    }
    printf("time-zone data %s: %zu zones and %zu links from %s into %s in %lld ms\n", stats.version,
           stats.zones, stats.links, zoneinfo, out, (long long)(core_time_mono_ms() - t0));
    return 0;
}

void cli_tz_setup(const char *cache_dir)
{
    sched_tz_setup_info info;

    sched_tz_setup(cache_dir, &info);
    if (info.error[0])
        fprintf(stderr,
                "zoneci: warning: %s; computing with %s, time-zone data %s (the system has "
                "%s)\n",
                info.error, info.system ? "an older generated copy" : "ICU's bundled data",
                info.version, core_tz_system_version());
}
