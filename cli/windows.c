/* `zoneci windows --config F [--at ISO8601] [--json]`: which regions are at work, when
 * that changes, and a 24-hour UTC timeline an on-call engineer can read at a glance. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"

#define SLOT_MS (30 * 60000LL)
#define DAY_MS 86400000LL

static void set_json_instant(json_t *obj, const char *key, int64_t ms)
{
    char iso[CORE_ISO_MAX];

    if (ms == SCHED_NO_INSTANT) {
        json_object_set_new(obj, key, json_null());
        return;
    }
    core_time_format_iso(ms, iso);
    json_object_set_new(obj, key, json_string(iso));
}

static json_t *region_json(const policy_region *r, const sched_windows *w, int64_t at)
{
    sched_window_state st;
    char local[CORE_ISO_MAX];
    json_t *o = json_object();

    sched_windows_eval(w, at, &st);
    core_time_format_local(at, st.offset_ms, local);
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "timezone", json_string(r->timezone));
    json_object_set_new(o, "open", json_boolean(st.open));
    json_object_set_new(o, "local_time", json_string(local));
    set_json_instant(o, "next_open", st.next_open);
    set_json_instant(o, "next_close", st.next_close);
    return o;
}

static void print_json(const sched_plan *plan, int64_t at)
{
    const policy_config *cfg = sched_plan_config(plan);
    json_t *root = json_object(), *regions = json_array();
    char iso[CORE_ISO_MAX];
    char *text;

    core_time_format_iso(at, iso);
    json_object_set_new(root, "at", json_string(iso));
    json_object_set_new(root, "tz_data_version", json_string(sched_tz_data_version()));
    for (size_t i = 0; i < cfg->n_regions; i++)
        json_array_append_new(regions,
                              region_json(&cfg->regions[i], sched_plan_windows(plan, i), at));
    json_object_set_new(root, "regions", regions);
    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
    json_decref(root);
}

/* The table is the scheduler's (sched_plan_table), which Slack's `/zoneci windows` shows too. */
static int print_table(const sched_plan *plan, int64_t at, const sched_paint *c)
{
    core_buf b = {0};
    int rc = sched_plan_table(plan, at, c, &b);

    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    core_buf_free(&b);
    return rc;
}

/* One row per region, one column per half hour of the UTC day holding `at`. */
static void print_timeline(const sched_plan *plan, int64_t at, const sched_paint *c)
{
    const policy_config *cfg = sched_plan_config(plan);
    int64_t day = at - ((at % DAY_MS) + DAY_MS) % DAY_MS;
    int now_col = (int)((at - day) / SLOT_MS);

    printf("\n%-16s ", "UTC");
    for (int h = 0; h < 24; h += 3)
        printf("%-6.2d", h);
    printf("\n%-16s ", "");
    for (int col = 0; col < 48; col++)
        fputs(col == now_col ? "v" : " ", stdout);
    printf("\n");
    for (size_t i = 0; i < cfg->n_regions; i++) {
        const sched_windows *w = sched_plan_windows(plan, i);

        printf("%-16.16s ", cfg->regions[i].name);
        for (int col = 0; col < 48; col++) {
            sched_window_state st;

            /* The middle of the slot, so a window from 03:15Z shows from the 03:00 slot. */
            sched_windows_eval(w, day + col * SLOT_MS + SLOT_MS / 2, &st);
            if (col == now_col)
                printf("%s%s%s", c->now, st.open ? "#" : "|", c->reset);
            else if (st.open)
                printf("%s#%s", c->open, c->reset);
            else
                printf("%s.%s", c->dim, c->reset);
        }
        printf("\n");
    }
    printf("%-16s # open   . closed   v now\n", "");
}

static int usage(void)
{
    fprintf(stderr, "usage: zoneci windows --config FILE [--at ISO8601] [--json]\n");
    return 2;
}

int cli_windows(int argc, char **argv)
{
    const char *path = NULL, *at_text = NULL;
    bool json = false;
    policy_config *cfg = NULL;
    sched_plan *plan = NULL;
    core_error err = {0};
    int64_t at = core_time_now_ms();
    bool tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    sched_paint colours = {"\033[32m", "", "\033[1;33m", "\033[2m", "\033[0m"};
    sched_paint plain = {"", "", "", "", ""};
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
            at_text = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return usage();
    }
    if (!path)
        return usage();
    if (at_text && core_time_parse_iso(at_text, &at, &err) < 0) {
        fprintf(stderr, "zoneci: --at: %s\n", err.msg);
        return 2;
    }
    if (cli_config_load(path, &cfg) < 0)
        return 1;
    if (sched_plan_new(&plan, cfg, &err) < 0) {
        fprintf(stderr, "zoneci: %s\n", err.msg);
        goto out;
    }
    if (json) {
        print_json(plan, at);
    } else {
        if (print_table(plan, at, tty ? &colours : &plain) < 0) {
            fprintf(stderr, "zoneci: out of memory\n");
            goto out;
        }
        print_timeline(plan, at, tty ? &colours : &plain);
    }
    rc = 0;
out:
    sched_plan_free(plan);
    policy_config_free(cfg);
    return rc;
}
