/* Lookups on a loaded configuration: the policy of a repository, a region by name, the
 * Slack user of a GitHub login. All are read-only and safe from any thread. */
#define _GNU_SOURCE /* FNM_CASEFOLD: GitHub owner and repository names ignore case */
#include "policies/policies.h"

#include <fnmatch.h>
#include <string.h>
#include <strings.h>

const policy_policy *policy_match(const policy_config *cfg, const char *repo)
{
    CORE_ASSERT(cfg != NULL);
    if (!repo)
        return NULL;
    for (size_t i = 0; i < cfg->n_policies; i++) {
        const policy_policy *p = &cfg->policies[i];

        for (size_t j = 0; j < p->n_repos; j++) {
            /* FNM_PATHNAME: a wildcard never crosses the slash, so a pattern names one owner. */
            if (fnmatch(p->repos[j], repo, FNM_PATHNAME | FNM_CASEFOLD) == 0)
                return p;
        }
    }
    return NULL;
}

const policy_region *policy_region_find(const policy_config *cfg, const char *name)
{
    CORE_ASSERT(cfg != NULL);
    if (!name)
        return NULL;
    for (size_t i = 0; i < cfg->n_regions; i++) {
        if (strcmp(cfg->regions[i].name, name) == 0)
            return &cfg->regions[i];
    }
    return NULL;
}

const char *policy_person_slack(const policy_config *cfg, const char *github_login)
{
    CORE_ASSERT(cfg != NULL);
    if (!github_login)
        return NULL;
    for (size_t i = 0; i < cfg->n_people; i++) {
        if (strcasecmp(cfg->people[i].github, github_login) == 0)
            return cfg->people[i].slack;
    }
    return NULL;
}

const char *policy_person_github(const policy_config *cfg, const char *slack_user)
{
    CORE_ASSERT(cfg != NULL);
    if (!slack_user)
        return NULL;
    for (size_t i = 0; i < cfg->n_people; i++) {
        if (cfg->people[i].slack && strcmp(cfg->people[i].slack, slack_user) == 0)
            return cfg->people[i].github;
    }
    return NULL;
}
