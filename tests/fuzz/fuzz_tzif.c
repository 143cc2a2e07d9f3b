/* libFuzzer target for the time-zone data readers: any bytes given as a TZif file must be
 * read whole or refused, never read past their end; a footer that parses, and any input
 * taken as a POSIX TZ string, must give rule instants in order for any year. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "scheduler/sched_windows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tz_string(const char *s)
{
    sched_posix_tz tz;

    if (sched_posix_tz_parse(s, &tz, NULL) < 0 || !tz.has_dst)
        return;
    for (int64_t y = 1900; y <= 2200; y += 37) {
        int64_t on, off;

        sched_posix_tz_year(&tz, y, &on, &off);
        /* Each instant lies within its year, give or take the hours a rule may add. */
        CORE_ASSERT(on > core_days_from_civil(y, 1, 1) * 86400 - 9 * 86400);
        CORE_ASSERT(off < core_days_from_civil(y + 1, 1, 1) * 86400 + 9 * 86400);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sched_tzif z;
    char text[160];

    if (sched_tzif_parse(data, size, &z, NULL) == 0) {
        CORE_ASSERT(z.n_types > 0);
        for (size_t i = 0; i < z.n_trans; i++) {
            CORE_ASSERT(z.type_of[i] < z.n_types);
            CORE_ASSERT(i == 0 || z.trans[i] > z.trans[i - 1]);
        }
        check_tz_string(z.footer);
        sched_tzif_free(&z);
    }
    if (size < sizeof(text)) {
        memcpy(text, data, size);
        text[size] = '\0';
        check_tz_string(text);
    }
    return 0;
}
