/* Lookups on a loaded configuration: the policy of a repository, a region by name, the
 * people behind a GitHub login, a Slack user or an operator token's name; and which clone
 * URLs the inspector may fetch. All are read-only and safe from any thread. */
#define _GNU_SOURCE /* FNM_CASEFOLD: GitHub owner and repository names ignore case */
#include "policies/policies.h"

#include <ctype.h>
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

const char *policy_person_operator(const policy_config *cfg, const char *name)
{
    CORE_ASSERT(cfg != NULL);
    if (!name)
        return NULL;
    for (size_t i = 0; i < cfg->n_people; i++) {
        const char *op = cfg->people[i].operator_name;

        if (op && strcasecmp(op, name) == 0)
            return cfg->people[i].github;
    }
    return NULL;
}

bool policy_operator_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > POLICY_OPERATOR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* The authority of an https URL (what follows "https://" up to the path), lower-cased and
 * without a default ":443", into out; false when there is none, it holds credentials or
 * escapes (a '@' or '%' could make libgit2 and this check disagree on the host), or it
 * does not fit. *rest points after it. */
static bool https_authority(const char *url, char *out, size_t size, const char **rest)
{
    size_t n;

    if (strncasecmp(url, "https://", 8) != 0)
        return false;
    url += 8;
    n = strcspn(url, "/?#");
    if (n == 0 || n >= size || memchr(url, '@', n) || memchr(url, '%', n))
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)url[i]);
    out[n] = '\0';
    if (n > 4 && strcmp(out + n - 4, ":443") == 0)
        out[n - 4] = '\0';
    *rest = url + n;
    return true;
}

bool policy_clone_url_allowed(const char *web_url, bool allow_local, const char *clone_url)
{
    char want[256], got[256];
    const char *rest;

    if (!clone_url || !*clone_url)
        return false;
    /* No spaces, control characters or backslashes: a URL GitHub sends has none, and
     * each is a way for two URL parsers to read different hosts. */
    for (const char *p = clone_url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '\\')
            return false;
    }
    if (allow_local && (clone_url[0] == '/' || strncmp(clone_url, "file:///", 8) == 0))
        return true;
    if (!web_url || !https_authority(web_url, want, sizeof(want), &rest))
        return false;
    if (!https_authority(clone_url, got, sizeof(got), &rest))
        return false;
    /* A repository path, not the bare host. */
    if (rest[0] != '/' || !rest[1])
        return false;
    return strcmp(want, got) == 0;
}
