/* Routing (docs/scheduler.md, "Routing and the router") as a pure function of the configuration, an
 * instant and the regions' load: freezes first (deny beats allow), then the policy's regions in
 * order, the open ones by idle runners, queue length and order, else `when_closed`. Every decision
 * carries its reason in words. Nothing here touches Redis: the store applies decisions, and `zoneci
 * route` prints them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/policies.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_windows.h"

struct sched_plan {
    const policy_config *cfg;
    sched_windows **windows; /* one per cfg->regions[i] */
    int64_t *freeze_from;    /* UTC, one per cfg->freezes[i] */
    int64_t *freeze_to;
};

static int freeze_bound(const policy_freeze *f, const char *local, int64_t *out, core_error *err)
{
    const sched_zone *z;
    char iso[40];
    int64_t wall;
    int rc;

    rc = sched_zone_get(f->timezone, &z, err);
    if (rc < 0)
        return rc;
    /* "YYYY-MM-DDTHH:MM" local: read it as a UTC wall, then let the zone place it. */
    snprintf(iso, sizeof(iso), "%.20sZ", local);
    rc = core_time_parse_iso(iso, &wall, err);
    if (rc < 0)
        return core_error_wrap(err, "freeze \"%s\"", f->name);
    *out = sched_zone_wall_to_utc(z, wall);
    return 0;
}

int sched_plan_new(sched_plan **out, const policy_config *cfg, core_error *err)
{
    sched_plan *p = calloc(1, sizeof(*p));
    int rc = 0;

    *out = NULL;
    if (!p)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    p->cfg = cfg;
    p->windows = calloc(cfg->n_regions ? cfg->n_regions : 1, sizeof(*p->windows));
    p->freeze_from = calloc(cfg->n_freezes ? cfg->n_freezes : 1, sizeof(int64_t));
    p->freeze_to = calloc(cfg->n_freezes ? cfg->n_freezes : 1, sizeof(int64_t));
    if (!p->windows || !p->freeze_from || !p->freeze_to) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_regions; i++) {
        const policy_region *r = &cfg->regions[i];

        rc = sched_windows_new(&p->windows[i], r->timezone, r->hours, r->n_hours, r->holidays,
                               r->n_holidays, err);
        if (rc < 0) {
            core_error_wrap(err, "regions[%zu] (%s)", i, r->name);
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->n_freezes; i++) {
        rc = freeze_bound(&cfg->freezes[i], cfg->freezes[i].from, &p->freeze_from[i], err);
        if (rc == 0)
            rc = freeze_bound(&cfg->freezes[i], cfg->freezes[i].to, &p->freeze_to[i], err);
        if (rc < 0)
            goto fail;
    }
    *out = p;
    return 0;
fail:
    sched_plan_free(p);
    return rc;
}

void sched_plan_free(sched_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->windows && i < p->cfg->n_regions; i++)
        sched_windows_free(p->windows[i]);
    free(p->windows);
    free(p->freeze_from);
    free(p->freeze_to);
    free(p);
}

const policy_config *sched_plan_config(const sched_plan *p)
{
    return p->cfg;
}

const sched_windows *sched_plan_windows(const sched_plan *p, size_t region)
{
    return region < p->cfg->n_regions ? p->windows[region] : NULL;
}

int sched_plan_region_index(const sched_plan *p, const char *name)
{
    for (size_t i = 0; i < p->cfg->n_regions; i++) {
        if (strcmp(p->cfg->regions[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* "09:00 JST, in 3h 10m" for an instant in a region's zone. */
void sched_plan_describe_instant(const sched_plan *p, size_t region, int64_t when, int64_t at,
                                 char *out, size_t len)
{
    const sched_zone *z = sched_windows_zone(p->windows[region]);
    int32_t off = sched_zone_offset_ms(z, when);
    int64_t wall = when + off;
    int64_t mins = ((wall / 60000) % 1440 + 1440) % 1440;
    char abbr[16], dur[32];

    sched_zone_abbrev(z, when, abbr);
    core_duration_format(when - at, dur);
    snprintf(out, len, "%02d:%02d %s, in %s", (int)(mins / 60), (int)(mins % 60), abbr, dur);
}

static bool repo_matches(char *const *patterns, size_t n, const char *repo)
{
    policy_policy one = {.repos = (char **)patterns, .n_repos = n};
    policy_config cfg = {.policies = &one, .n_policies = 1};

    return policy_match(&cfg, repo) != NULL;
}

/* A freeze covering `at` for repo: the one ending last wins, so the job is not released
 * into a second freeze that overlaps the first. */
static bool frozen(const sched_plan *p, const char *repo, int64_t at, sched_decision *out)
{
    int best = -1;

    for (size_t i = 0; i < p->cfg->n_freezes; i++) {
        const policy_freeze *f = &p->cfg->freezes[i];

        if (at < p->freeze_from[i] || at >= p->freeze_to[i] ||
            !repo_matches(f->repos, f->n_repos, repo))
            continue;
        if (best < 0 || p->freeze_to[i] > p->freeze_to[best])
            best = (int)i;
    }
    if (best < 0)
        return false;
    {
        char until[CORE_ISO_MAX], dur[32];

        core_time_format_iso(p->freeze_to[best], until);
        core_duration_format(p->freeze_to[best] - at, dur);
        out->kind = SCHED_ROUTE_DEFER;
        out->region = -1;
        out->release_at = p->freeze_to[best];
        snprintf(out->reason, sizeof(out->reason),
                 "deferred: freeze \"%s\" until %s (%s local, in %s)", p->cfg->freezes[best].name,
                 until, p->cfg->freezes[best].to, dur);
    }
    return true;
}

/* Better candidate: more idle runners, then fewer queued jobs, then earlier in order. */
static bool better(const sched_region_load *loads, int a, int b)
{
    if (!loads)
        return false;
    if (loads[a].idle_runners != loads[b].idle_runners)
        return loads[a].idle_runners > loads[b].idle_runners;
    return loads[a].queued < loads[b].queued;
}

static void route_open(const sched_plan *p, const policy_policy *pol, int64_t at,
                       const sched_region_load *loads, int chosen, int n_open, sched_decision *out)
{
    const sched_zone *z = sched_windows_zone(p->windows[chosen]);
    char abbr[16];
    int64_t wall = at + sched_zone_offset_ms(z, at);
    int64_t mins = ((wall / 60000) % 1440 + 1440) % 1440;

    (void)pol;
    sched_zone_abbrev(z, at, abbr);
    out->kind = SCHED_ROUTE_QUEUE;
    out->region = chosen;
    out->release_at = at;
    if (loads)
        snprintf(out->reason, sizeof(out->reason),
                 "queued in %s: open (%02d:%02d %s); %d idle runners, %d queued; %d of the "
                 "policy's regions open",
                 p->cfg->regions[chosen].name, (int)(mins / 60), (int)(mins % 60), abbr,
                 loads[chosen].idle_runners, loads[chosen].queued, n_open);
    else
        snprintf(out->reason, sizeof(out->reason), "queued in %s: open (%02d:%02d %s)",
                 p->cfg->regions[chosen].name, (int)(mins / 60), (int)(mins % 60), abbr);
}

int sched_route_decide(const sched_plan *p, const char *repo, int64_t at,
                       const sched_region_load *loads, sched_decision *out, core_error *err)
{
    const policy_policy *pol = policy_match(p->cfg, repo);
    int chosen = -1, first = -1, n_open = 0;
    int64_t first_open = SCHED_NO_INSTANT;
    char when[96];

    memset(out, 0, sizeof(*out));
    out->region = -1;
    if (!pol)
        return core_error_set(err, CORE_ENOTFOUND, "no policy matches repository %s", repo);
    for (size_t i = 0, n = 0; i < pol->n_labels; i++) {
        int w = snprintf(out->labels + n, sizeof(out->labels) - n, "%s%s", i ? "," : "",
                         pol->labels[i]);

        if (w < 0 || (size_t)w >= sizeof(out->labels) - n)
            break;
        n += (size_t)w;
    }
    if (frozen(p, repo, at, out))
        return 0;
    for (size_t i = 0; i < pol->n_regions; i++) {
        int r = sched_plan_region_index(p, pol->regions[i]);
        sched_window_state st;

        if (r < 0)
            continue;
        sched_windows_eval(p->windows[r], at, &st);
        if (st.open) {
            n_open++;
            if (chosen < 0 || better(loads, r, chosen))
                chosen = r;
        } else if (st.next_open != SCHED_NO_INSTANT &&
                   (first_open == SCHED_NO_INSTANT || st.next_open < first_open)) {
            first_open = st.next_open;
            first = r;
        }
    }
    out->n_open = n_open;
    if (chosen >= 0) {
        route_open(p, pol, at, loads, chosen, n_open, out);
        return 0;
    }
    if (first >= 0)
        sched_plan_describe_instant(p, (size_t)first, first_open, at, when, sizeof(when));
    switch (pol->when_closed) {
    case POLICY_WHEN_CLOSED_FALLBACK:
        out->kind = SCHED_ROUTE_QUEUE;
        out->region = sched_plan_region_index(p, pol->fallback_region);
        out->release_at = at;
        snprintf(out->reason, sizeof(out->reason),
                 "queued in %s: no policy region open; fallback region", pol->fallback_region);
        return 0;
    case POLICY_WHEN_CLOSED_QUEUE:
        if (first < 0)
            break;
        out->kind = SCHED_ROUTE_QUEUE;
        out->region = first;
        out->release_at = at;
        snprintf(out->reason, sizeof(out->reason),
                 "queued in %s: no region open; it opens first (%s)", p->cfg->regions[first].name,
                 when);
        return 0;
    case POLICY_WHEN_CLOSED_DEFER:
        if (first < 0)
            break;
        out->kind = SCHED_ROUTE_DEFER;
        out->region = first;
        out->release_at = first_open;
        snprintf(out->reason, sizeof(out->reason), "deferred: no region open; %s opens %s",
                 p->cfg->regions[first].name, when);
        return 0;
    }
    out->kind = SCHED_ROUTE_DEFER;
    out->release_at = at + 86400000LL;
    snprintf(out->reason, sizeof(out->reason),
             "deferred: none of the policy's regions opens within a year; checking again "
             "in a day");
    return 0;
}

void sched_route_spec(const sched_plan *p, const char *repo, int64_t at, char *out, size_t size)
{
    const char *region = "";
    sched_decision d;
    core_error e = {0};
    int rc = sched_route_decide(p, repo, at, NULL, &d, &e);

    out[0] = '\0';
    if (rc == 0 && d.region >= 0 && (size_t)d.region < p->cfg->n_regions)
        region = p->cfg->regions[d.region].name;
    /* The spec is tab-separated: names with a tab (never valid) go the long way. */
    if (rc == 0 && !(d.kind == SCHED_ROUTE_QUEUE && (d.n_open > 1 || !region[0])) &&
        !strchr(region, '\t') && !strchr(d.labels, '\t'))
        snprintf(out, size, "%s\t%s\t%lld\t%s\t%s", d.kind == SCHED_ROUTE_QUEUE ? "queue" : "defer",
                 region, (long long)d.release_at, d.labels, d.reason);
}

bool sched_plan_inspects(const sched_plan *p, const char *repo)
{
    const policy_policy *pol = policy_match(p->cfg, repo);

    return !pol || pol->has_migrations;
}
