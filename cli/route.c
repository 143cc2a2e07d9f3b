/* `zoneci route --config F --event PAYLOAD.json [--at ISO8601] [--json]`: explains where
 * a pull request's build would go at an instant, without touching Redis (so every region
 * counts as idle and empty: order breaks ties). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "policies/policies.h"
#include "scheduler/sched_windows.h"
#include "scheduler/sched_route.h"

typedef struct event_facts {
    const char *repo;
    json_int_t pr;
    const char *head_sha;
} event_facts;

static int read_event(json_t *root, event_facts *ev, core_error *err)
{
    json_t *pr = json_object_get(root, "pull_request");

    ev->repo = json_string_value(json_object_get(json_object_get(root, "repository"), "full_name"));
    ev->pr = json_integer_value(json_object_get(root, "number"));
    ev->head_sha = json_string_value(json_object_get(json_object_get(pr, "head"), "sha"));
    if (!ev->repo)
        return core_error_set(err, CORE_EINVAL, "repository.full_name: missing");
    if (!ev->head_sha)
        ev->head_sha = "";
    return 0;
}

static json_t *instant_or_null(int64_t ms)
{
    char iso[CORE_ISO_MAX];

    if (ms == SCHED_NO_INSTANT)
        return json_null();
    core_time_format_iso(ms, iso);
    return json_string(iso);
}

static void print_decision(const sched_plan *plan, const event_facts *ev, int64_t at,
                           const sched_decision *d, bool as_json)
{
    const policy_config *cfg = sched_plan_config(plan);
    const char *region = d->region >= 0 ? cfg->regions[d->region].name : NULL;
    char iso[CORE_ISO_MAX];

    core_time_format_iso(at, iso);
    if (as_json) {
        json_t *o = json_pack(
            "{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:s}", "repo", ev->repo, "pr", ev->pr, "head_sha",
            ev->head_sha, "at", iso, "decision", d->kind == SCHED_ROUTE_QUEUE ? "queue" : "defer",
            "region", region ? json_string(region) : json_null(), "release_at",
            d->kind == SCHED_ROUTE_DEFER ? instant_or_null(d->release_at) : json_null(), "reason",
            d->reason);
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

        printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    printf("%s#%lld (%.7s) at %s\n  %s\n", ev->repo, (long long)ev->pr, ev->head_sha, iso,
           d->reason);
    if (d->kind == SCHED_ROUTE_DEFER) {
        core_time_format_iso(d->release_at, iso);
        printf("  released for routing at %s\n", iso);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: zoneci route --config FILE --event PAYLOAD.json [--at ISO8601] "
                    "[--json]\n");
    return 2;
}

int cli_route(int argc, char **argv)
{
    const char *path = NULL, *event_path = NULL, *at_text = NULL;
    bool as_json = false;
    policy_config *cfg = NULL;
    sched_plan *plan = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    event_facts ev;
    sched_decision d;
    core_error err = {0};
    int64_t at = core_time_now_ms();
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--event") == 0 && i + 1 < argc)
            event_path = argv[++i];
        else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
            at_text = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            as_json = true;
        else
            return usage();
    }
    if (!path || !event_path)
        return usage();
    if (at_text && core_time_parse_iso(at_text, &at, &err) < 0) {
        fprintf(stderr, "zoneci: --at: %s\n", err.msg);
        return 2;
    }
    root = json_load_file(event_path, 0, &jerr);
    if (!root) {
        fprintf(stderr, "zoneci: %s:%d: %s\n", event_path, jerr.line, jerr.text);
        return 1;
    }
    if (read_event(root, &ev, &err) < 0) {
        fprintf(stderr, "zoneci: %s: %s\n", event_path, err.msg);
        goto out;
    }
    if (cli_config_load(path, &cfg) < 0)
        goto out;
    if (sched_plan_new(&plan, cfg, &err) < 0 ||
        sched_route_decide(plan, ev.repo, at, NULL, &d, &err) < 0) {
        fprintf(stderr, "zoneci: %s\n", err.msg);
        goto out;
    }
    print_decision(plan, &ev, at, &d, as_json);
    rc = 0;
out:
    sched_plan_free(plan);
    policy_config_free(cfg);
    json_decref(root);
    return rc;
}
