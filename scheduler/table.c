/* The regions' table as `zoneci windows` prints it and Slack's `/zoneci windows` shows it:
 * one renderer, so that the terminal and the chat never disagree on what "open" means or
 * on when it changes. Pure: a plan, an instant and a buffer. */
#include <stdio.h>
#include <string.h>

#include "policies/policies.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_windows.h"

void sched_plan_region_now(const sched_plan *plan, size_t region, int64_t at, sched_region_now *out)
{
    const sched_windows *w = sched_plan_windows(plan, region);
    sched_window_state st;

    memset(out, 0, sizeof(*out));
    sched_windows_eval(w, at, &st);
    out->open = st.open;
    out->next_change = st.open ? st.next_close : st.next_open;
    core_time_format_local(at, st.offset_ms, out->local);
    sched_zone_abbrev(sched_windows_zone(w), at, out->abbr);
    if (out->next_change == SCHED_NO_INSTANT) {
        snprintf(out->change, sizeof(out->change), "none within a year");
    } else {
        char when[80];

        sched_plan_describe_instant(plan, region, out->next_change, at, when, sizeof(when));
        snprintf(out->change, sizeof(out->change), "%s %s", st.open ? "closes" : "opens", when);
    }
}

int sched_plan_table(const sched_plan *plan, int64_t at, const sched_paint *paint, core_buf *out)
{
    static const sched_paint plain = {"", "", "", "", ""};
    const policy_config *cfg = sched_plan_config(plan);
    const sched_paint *c = paint ? paint : &plain;
    char iso[CORE_ISO_MAX];

    core_time_format_iso(at, iso);
    core_buf_printf(out, "at %s (time-zone data %s)\n\n", iso, sched_tz_data_version());
    core_buf_printf(out, "%-16s %-22s %-22s %-8s %s\n", "REGION", "ZONE", "LOCAL TIME", "STATE",
                    "NEXT CHANGE");
    for (size_t i = 0; i < cfg->n_regions; i++) {
        sched_region_now now;

        sched_plan_region_now(plan, i, at, &now);
        /* "2026-03-09 10:30 PDT" reads better than the ISO form in a table. */
        now.local[10] = ' ';
        now.local[16] = '\0';
        core_buf_printf(out, "%-16.16s %-22.22s %-16s %-5s %s%-8s%s %s\n", cfg->regions[i].name,
                        cfg->regions[i].timezone, now.local, now.abbr, now.open ? c->open : c->dim,
                        now.open ? "open" : "closed", c->reset, now.change);
    }
    return core_buf_status(out);
}
