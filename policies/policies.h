/* policies: the configuration file (SPEC section 10) — loading, validation with JSON paths,
 * secrets from the environment or files — and matching a repository to its policy.
 * The loaded configuration is plain read-only data: any thread may read it; it is freed
 * only by its owner (the server swaps whole configs on SIGHUP). */
#ifndef ZONECI_POLICIES_H
#define ZONECI_POLICIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct policy_region {
    char *name;
    char *timezone;      /* IANA id, validated against the system database */
    char **hours_text;   /* as written, e.g. "Mon-Fri 09:00-18:00" */
    core_hours *hours;   /* parsed, same order */
    size_t n_hours;
    char **holidays;     /* "YYYY-MM-DD" local dates, validated */
    size_t n_holidays;
    char *slack_channel; /* NULL when absent */
    char **oncall;       /* Slack user ids */
    size_t n_oncall;
} policy_region;

typedef enum policy_when_closed {
    POLICY_WHEN_CLOSED_DEFER = 0,
    POLICY_WHEN_CLOSED_FALLBACK,
    POLICY_WHEN_CLOSED_QUEUE,
} policy_when_closed;

typedef enum policy_approval {
    POLICY_APPROVAL_NEVER = 0,
    POLICY_APPROVAL_RISKY,
    POLICY_APPROVAL_ALWAYS,
} policy_approval;

typedef struct policy_policy {
    char **repos; /* fnmatch(3) patterns on "owner/name", e.g. "acme/" followed by a star */
    size_t n_repos;
    char **regions; /* names of configured regions, in order of preference */
    size_t n_regions;
    policy_when_closed when_closed;
    char *fallback_region; /* for "fallback:NAME"; NULL otherwise */
    char **labels;         /* runner labels every job of this policy requires (optional) */
    size_t n_labels;
    bool has_migrations;
    char **migration_paths; /* globs with ** */
    size_t n_migration_paths;
    policy_approval approval; /* default risky */
    char **approvers;         /* Slack user ids */
    size_t n_approvers;
    int escalate_after_minutes; /* default 30 */
} policy_policy;

typedef struct policy_person {
    char *github;
    char *slack;
} policy_person;

typedef struct policy_freeze {
    char *name;
    char **repos;
    size_t n_repos;
    char *from; /* local "YYYY-MM-DDTHH:MM" in timezone */
    char *to;
    char *timezone;
} policy_freeze;

/* A secret is named by an environment variable or a file, never held in the file. */
typedef struct policy_secret_ref {
    char *env;  /* variable name, or NULL */
    char *file; /* path, or NULL */
} policy_secret_ref;

typedef struct policy_config {
    char *source;    /* the path it was loaded from */
    char *log_level; /* "debug" | "info" | "warn" | "error"; NULL = info */
    struct {
        char *listen; /* "host:port" as written */
        char *host;
        int port;
        int threads;           /* default 4, 1..256 */
        size_t max_body_bytes; /* default 26214400 */
        char *public_url;      /* base for links to job pages; optional */
    } server;
    struct {
        char *url;    /* redis://[:password@]host:port[/db] or unix:///path */
        char *prefix; /* default "zoneci" */
    } redis;
    char *cache_dir; /* default "/var/cache/zoneci" */
    struct {
        bool present;
        policy_secret_ref webhook_secret; /* default env ZONECI_GITHUB_SECRET */
        int64_t app_id;                   /* 0 when absent */
        char *private_key_file;           /* NULL when absent */
        char *api_url;                    /* default https://api.github.com */
    } github;
    struct {
        bool present;
        policy_secret_ref signing_secret;
        policy_secret_ref bot_token;
        char *api_url; /* default https://slack.com/api */
    } slack;
    struct {
        policy_secret_ref tokens; /* default env ZONECI_RUNNER_TOKENS */
        int lease_seconds;        /* default 120 */
        int max_attempts;         /* default 3 */
    } runners;
    struct {
        bool present;
        policy_secret_ref tokens;
    } api;
    policy_region *regions;
    size_t n_regions;
    policy_policy *policies;
    size_t n_policies;
    policy_person *people;
    size_t n_people;
    policy_freeze *freezes;
    size_t n_freezes;
} policy_config;

/* One problem found while loading: where (JSON path like "regions[1].hours[0]", and the
 * line of its key, or of the enclosing object for a missing key; 0 when unknown) and
 * what. Problem lists are appended to: start from a zeroed policy_problems. */
typedef struct policy_problem {
    char path[160];
    int line;
    char msg[240];
} policy_problem;

typedef struct policy_problems {
    policy_problem *items;
    size_t count;
} policy_problems;

void policy_problems_free(policy_problems *p);

/* Loads and validates the whole file. Every problem is collected into problems (if not
 * NULL) rather than stopping at the first. Returns 0 and a new config in *out (free with
 * policy_config_free), or CORE_EINVAL when there is any problem (err says how many),
 * CORE_ENOTFOUND / CORE_EIO when the file cannot be read; *out stays NULL then. */
int policy_config_load(const char *path, policy_config **out, policy_problems *problems,
                       core_error *err);
/* The same for text in memory (source is used in messages only). */
int policy_config_parse(const char *text, size_t len, const char *source, policy_config **out,
                        policy_problems *problems, core_error *err);
void policy_config_free(policy_config *cfg);

/* The first policy whose repos pattern matches "owner/name", or NULL. */
const policy_policy *policy_match(const policy_config *cfg, const char *repo);
const policy_region *policy_region_find(const policy_config *cfg, const char *name);
/* The Slack user of a GitHub login through `people`, or NULL. */
const char *policy_person_slack(const policy_config *cfg, const char *github_login);

/* Reads a secret: the environment variable if set and not empty, else the file (trailing
 * newline removed). CORE_ENOTFOUND when neither holds a value. *out is malloc'd; the
 * caller wipes and frees it. The message names the variable or file, never the value. */
int policy_secret_read(const policy_secret_ref *ref, char **out, core_error *err);

#endif
