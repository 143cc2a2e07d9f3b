/* policies: the configuration file (docs/configuration.md) — loading, validation with JSON paths,
 * secrets from the environment or files — and matching a repository to its policy.
 * The loaded configuration is plain read-only data: any thread may read it; it is freed
 * only by its owner (the server swaps whole configs on SIGHUP). */
#ifndef ZONECI_POLICIES_H
#define ZONECI_POLICIES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct policy_region {
    char *name;
    char *timezone;    /* IANA id, validated against the system database */
    char **hours_text; /* as written, e.g. "Mon-Fri 09:00-18:00" */
    core_hours *hours; /* parsed, same order */
    size_t n_hours;
    char **holidays; /* "YYYY-MM-DD" local dates, validated */
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
    int pg_version;             /* migrations.postgres_version; default POLICY_PG_DEFAULT */
    struct policy_rule_setting *rule_settings; /* migrations.rules, in file order */
    size_t n_rule_settings;
} policy_policy;

/* A person: their GitHub login, and their Slack user and operator-token name when they
 * have one (at least one of the two). Both map back to the login, so that nobody
 * approves their own pull request, neither in Slack nor through the API. */
typedef struct policy_person {
    char *github;
    char *slack;         /* NULL when absent */
    char *operator_name; /* their operator token's name (api.tokens_env); NULL when absent */
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
    char *source;     /* the path it was loaded from */
    char *log_level;  /* "debug" | "info" | "warn" | "error"; NULL = info */
    char *log_format; /* "logfmt" | "json"; NULL = logfmt */
    struct {
        char *listen; /* "host:port" as written */
        char *host;
        int port;
        int threads;                 /* default 4, 1..256 */
        size_t max_body_bytes;       /* default 26214400 */
        char *public_url;            /* base for links to job pages; optional */
        int max_connections;         /* open connections in all; default 10000 */
        int max_connections_per_ip;  /* per client address; default 64, 0 = no limit */
        int request_timeout_seconds; /* to receive a request whole; default 10 */
        char *health_listen;         /* "host:port" of a second listener for /healthz and /readyz */
        char *health_host;           /* health_listen split; NULL without it */
        int health_port;
    } server;
    struct {
        char *url;    /* redis://[:password@]host:port[/db] or unix:///path; NULL with sentinel */
        char *prefix; /* default "zoneci" */
        int wait_replica_ms; /* WAIT for a replica after acknowledged writes; default 500, 0 off */
        struct {
            bool present; /* redis.sentinel given (then url is NULL) */
            char *master; /* the name the sentinels monitor */
            char **nodes; /* "host:port" */
            size_t n_nodes;
            char *username;                      /* the primary's ACL user; NULL when absent */
            policy_secret_ref password;          /* the primary's password; none when absent */
            policy_secret_ref sentinel_password; /* the sentinels' password; none when absent */
            int db;
        } sentinel;
    } redis;
    char *cache_dir;    /* default "/var/cache/zoneci" */
    int retention_days; /* finished jobs, audit entries, dead letters kept; default 30, 1..3650 */
    struct {
        bool present;
        policy_secret_ref webhook_secret; /* default env ZONECI_GITHUB_SECRET */
        int64_t app_id;                   /* 0 when absent */
        char *private_key_file;           /* NULL when absent */
        char *api_url;                    /* default https://api.github.com */
        int redelivery_check_seconds;     /* delivery recovery period; 0 off; default 300 */
        char *web_url;                    /* https://HOST[:PORT]: the only host clone URLs may name;
                                           * default https://github.com */
        bool allow_local_repos; /* local paths and file:// clone URLs too (tests, demos) */
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
/* The GitHub login of a Slack user id through `people`, or NULL. */
const char *policy_person_github(const policy_config *cfg, const char *slack_user);
/* The GitHub login of an operator-token name through `people` (names compared ignoring
 * case), or NULL. */
const char *policy_person_operator(const policy_config *cfg, const char *name);

/* An operator-token name: 1 to POLICY_OPERATOR_NAME_MAX of A-Z a-z 0-9 . _ - */
#define POLICY_OPERATOR_NAME_MAX 64
bool policy_operator_name_valid(const char *name, size_t len);

/* Whether the inspector may fetch clone_url (a pull_request payload's, so anyone who can
 * send a signed webhook chooses it): an https:// URL whose host and port are web_url's
 * (github.web_url), without credentials; with allow_local also an absolute local path or
 * a file:/// URL. Anything else (another host, http://, ssh, git://) is refused. */
bool policy_clone_url_allowed(const char *web_url, bool allow_local, const char *clone_url);

/* Reads a secret: the environment variable if set and not empty, else the file (trailing
 * newline removed). CORE_ENOTFOUND when neither holds a value. *out is malloc'd; the
 * caller wipes and frees it. The message names the variable or file, never the value. */
int policy_secret_read(const policy_secret_ref *ref, char **out, core_error *err);

/* ---- migration inspection (docs/migrations.md) ----------------------------------------------
 * Reading a pull request's diff, recognising the schema migrations in it and grading their
 * SQL. Three files sit behind these declarations: policies/gitdiff.c alone includes libgit2,
 * policies/sqlrisk.c alone includes libpg_query, policies/migrations.c recognises frameworks
 * and builds the report. No type of either library appears here.
 *
 * libgit2 keeps reference-counted global state. policy_git_init() / policy_git_shutdown()
 * bracket a process (or a test); every function below that uses libgit2 also takes and drops
 * a reference of its own, so it works without them, only slower. Each call opens and closes
 * its own repository objects: threads may work on different repositories at once, but one
 * mirror must have one writer at a time (see policy_mirror_fetch).
 * libpg_query is thread-safe per call; each thread keeps a parser memory context that is
 * released when the thread exits. Results here are plain data owned by the caller. */

/* Takes a reference on libgit2's global state; 0, or CORE_EUNAVAILABLE if it cannot start.
 * Pair each success with policy_git_shutdown(). Any thread. */
int policy_git_init(void);
void policy_git_shutdown(void);

/* Caps on one fetch; a zero field means its default. */
typedef struct policy_fetch_limits {
    int64_t timeout_ms; /* the whole fetch, checked from libgit2's progress callbacks; 120 s */
    size_t max_bytes;   /* bytes received from the remote; 512 MiB */
    /* When set and it becomes non-zero, the fetch stops at its next progress callback with
     * CORE_EAGAIN ("cancelled"): a draining process does not wait out a slow remote. */
    const atomic_int *cancel;
} policy_fetch_limits;

/* The mirror's path for clone_url under cache_dir: "<cache_dir>/<name>-<hash>.git", where
 * <name> is the URL's last component made safe and <hash> is taken over the URL without any
 * user:password part. *out is malloc'd. CORE_EINVAL for an empty URL. */
int policy_mirror_path(const char *cache_dir, const char *clone_url, char **out, core_error *err);

/* Brings the bare mirror of clone_url under cache_dir up to date and returns its path in
 * *out (malloc'd; pass it to policy_diff_compute). clone_url is a local path, a file:// URL
 * or an https:// URL; token (may be NULL) is sent only to https URLs, and only to the URL's
 * own host, as the password of user "x-access-token" (GitHub's installation tokens). The
 * mirror is created on first use; one that cannot be opened or whose refs point at missing
 * objects is deleted and cloned again, and so is one whose fetch fails with a repository or
 * object-database error. All branches are fetched, and refs/pull/<pr>/head too when pr > 0
 * (a fork's head is on no branch of the base repository); then head_sha (40 hex, may be
 * NULL) must be in the mirror.
 * Returns 0; CORE_ENOTFOUND when the remote does not exist or head_sha cannot be found,
 * CORE_EAUTH when the remote refuses the credentials, CORE_EAGAIN when the time limit
 * passes, CORE_ETOOBIG past max_bytes, CORE_EUNAVAILABLE for other network failures,
 * CORE_EIO for local file-system failures. *out stays NULL on failure. Messages never hold
 * the token or a password from the URL.
 * Not serialised here: the caller makes sure that one process and one thread at a time
 * fetch into a given mirror (a Redis lock per repository), because two concurrent fetches
 * may each decide to re-clone it. Blocking; call it from a worker thread. */
int policy_mirror_fetch(const char *cache_dir, const char *clone_url, const char *token,
                        const char *head_sha, int64_t pr, const policy_fetch_limits *limits,
                        char **out, core_error *err);

typedef enum policy_change {
    POLICY_CHANGE_ADDED = 0, /* also a copy */
    POLICY_CHANGE_MODIFIED,  /* also a type change */
    POLICY_CHANGE_RENAMED,   /* old_path says from where; the content may have changed too */
} policy_change;

typedef enum policy_content {
    POLICY_CONTENT_TEXT = 0, /* read: content holds it */
    POLICY_CONTENT_BINARY,   /* listed, not read */
    POLICY_CONTENT_TOO_BIG,  /* over max_file_bytes: listed, not read */
    POLICY_CONTENT_SKIPPED,  /* a symbolic link, or past max_total_bytes: listed, not read */
} policy_content;

typedef struct policy_diff_file {
    char *path;     /* path at head */
    char *old_path; /* at the merge base, for a rename; NULL otherwise */
    policy_change change;
    policy_content kind;
    size_t size;   /* blob size in bytes */
    char *content; /* NUL-terminated text when kind is TEXT, else NULL */
    size_t content_len;
} policy_diff_file;

/* The files that a pull request adds, modifies or renames: the tree of the merge base of
 * base and head against the tree of head (deleted files are not listed). */
typedef struct policy_diff {
    char merge_base[41]; /* hex, "" for a diff built in memory */
    char head[41];
    policy_diff_file *files; /* in path order */
    size_t n_files;
    size_t n_omitted; /* changed files past max_files, not listed */
} policy_diff;

/* Caps on one diff; a zero field means its default. */
typedef struct policy_diff_limits {
    size_t max_files;       /* 5000 */
    size_t max_file_bytes;  /* 16 MiB: bigger files are TOO_BIG */
    size_t max_total_bytes; /* 32 MiB of content in all */
} policy_diff_limits;

/* Diffs head against the merge base of base and head in the repository at repo_path (a bare
 * mirror or a working repository; its work tree is not looked at), with rename detection.
 * base and head are any revision git understands ("main", "HEAD~2", a SHA). Text files are
 * read within the limits; binary files (as libgit2 judges them: a NUL byte, a UTF-16 BOM or
 * mostly control characters in the first 8000 bytes) are not.
 * Returns 0 and a new diff in *out (free with policy_diff_free); CORE_ENOTFOUND for a
 * missing repository or revision, or when base and head share no history; CORE_EIO for a
 * broken repository. Any thread (it opens its own handle). */
int policy_diff_compute(const char *repo_path, const char *base, const char *head,
                        const policy_diff_limits *limits, policy_diff **out, core_error *err);
/* An empty diff to fill with policy_diff_add (tests, or a diff taken from an API). */
int policy_diff_new(policy_diff **out, core_error *err);
/* Appends a copy of one text file (content may hold len bytes, NULL for an unread file of
 * the given kind). old_path may be NULL. */
int policy_diff_add(policy_diff *diff, const char *path, const char *old_path, policy_change change,
                    policy_content kind, const char *content, size_t len, core_error *err);
void policy_diff_free(policy_diff *diff);

typedef enum policy_severity {
    POLICY_SEVERITY_INFO = 0,
    POLICY_SEVERITY_WARNING,
    POLICY_SEVERITY_DANGER,
} policy_severity;

/* "info", "warning", "danger". */
const char *policy_severity_name(policy_severity s);

/* One risky statement or operation. Strings marked static point into the rule table and
 * live for the whole program; the others belong to the finding. */
typedef struct policy_finding {
    const char *rule; /* static: "ban-drop-table", "unparsable-sql", ... */
    policy_severity severity;
    int line;          /* 1-based line where the statement starts; 0 for the whole file */
    char *statement;   /* the statement, blanks collapsed, at most ~200 bytes; may be "" */
    char *message;     /* one line */
    const char *safer; /* static: the safer way, or NULL */
    const char *lock;  /* static: "ACCESS EXCLUSIVE", "SHARE", ...; NULL when none applies */
    bool rewrites;     /* the statement rewrites the whole table */
    bool scans;        /* it reads the whole table while holding the lock */
    bool suppressed;   /* a "zoneci:ignore RULE reason" comment covers it: shown, not counted */
    char *suppression; /* that comment's reason when suppressed, else NULL */
} policy_finding;

/* A finding past the per-file cap: not shown, but still counted (summaries give the true
 * totals), still subject to rule settings and suppressions, and still able to make a report
 * high risk. */
typedef struct policy_finding_brief {
    const char *rule; /* static, as in policy_finding */
    policy_severity severity;
    int line;
    bool suppressed;
} policy_finding_brief;

typedef struct policy_findings {
    policy_finding *items;
    size_t count;
    size_t n_omitted;              /* findings past the cap of 200 per file, not kept whole */
    policy_finding_brief *omitted; /* those n_omitted findings, briefly */
} policy_findings;

/* Releases the findings and leaves f empty. */
void policy_findings_free(policy_findings *f);

/* One entry of the SQL rule table (docs/migrations.md lists it too). */
typedef struct policy_sql_rule {
    const char *id;
    policy_severity severity;
    const char *lock; /* NULL when none applies */
    bool rewrites;
    bool scans;
    const char *message;
    const char *safer;
    bool off_by_default; /* a hygiene or style rule: reported only when a policy turns it on */
} policy_sql_rule;

/* Postgres major versions a policy may name, and the default: the oldest release still
 * supported upstream (14 reached its end of life in November 2026). */
#define POLICY_PG_MIN 10
#define POLICY_PG_MAX 19
#define POLICY_PG_DEFAULT 15

/* What a policy says of one rule (migrations.rules): off, or a severity of its own. */
typedef enum policy_rule_level {
    POLICY_RULE_DEFAULT = 0, /* as the rule table says (off for off_by_default rules) */
    POLICY_RULE_OFF,
    POLICY_RULE_INFO,
    POLICY_RULE_WARNING,
    POLICY_RULE_DANGER,
} policy_rule_level;

typedef struct policy_rule_setting {
    char *rule; /* a rule id that policy_rule_known accepts */
    policy_rule_level level;
} policy_rule_setting;

/* "off", "info", "warning", "danger" -> level; false for anything else. */
bool policy_rule_level_parse(const char *name, policy_rule_level *out);
/* The level settings give rule (the last setting naming it wins), or POLICY_RULE_DEFAULT. */
policy_rule_level policy_rule_level_of(const policy_rule_setting *settings, size_t n,
                                       const char *rule);
/* True for every rule id zoneci can report: the SQL rules, the rules of migrations written
 * in code, and the file-level ones ("changed-migration", "unchecked-migration", ...). */
bool policy_rule_known(const char *rule);

/* How to grade one SQL file; all zero means the defaults. */
typedef struct policy_sql_options {
    int pg_version;   /* the Postgres major version it runs on; 0 for POLICY_PG_DEFAULT */
    bool implicit_tx; /* the migration tool runs the whole file inside one transaction */
    /* Flyway: a file whose statements all must run outside a transaction is run outside
     * one; a file that mixes them with others fails. */
    bool tx_autodetect;
    const policy_rule_setting *rules; /* turns off_by_default rules on; may be NULL */
    size_t n_rules;
} policy_sql_options;

/* The rule table; *count receives its length. Static data. */
const policy_sql_rule *policy_sql_rules(size_t *count);

/* Grades every statement of a PostgreSQL migration (len bytes, at most 16 MiB; NUL bytes and
 * invalid UTF-8 make it unparsable) and appends findings to out, in statement order. A
 * statement that libpg_query cannot parse becomes an "unparsable-sql" finding at its line
 * and checking goes on with the next one. Returns 0, CORE_ETOOBIG over 16 MiB (no findings),
 * CORE_ENOMEM. Thread-safe. */
int policy_sql_check(const char *sql, size_t len, policy_findings *out, core_error *err);
/* The same with options (opts NULL: the defaults). Rules turned off and severities set by
 * opts->rules are applied by the caller (policy_findings_apply); here they only switch
 * on the off_by_default rules. */
int policy_sql_check_with(const char *sql, size_t len, const policy_sql_options *opts,
                          policy_findings *out, core_error *err);

/* The built-in framework ("Rails", "Flyway", ...) whose migration files look like path
 * (and, for frameworks that share folder names, whose markers appear in content; content
 * may be NULL), or NULL. Static string. Thread-safe. */
const char *policy_migration_framework(const char *path, const char *content, size_t len);

typedef struct policy_migration {
    char *path;
    char *old_path;        /* for a rename, else NULL */
    const char *framework; /* static: a framework name, or "custom" for a policy glob only */
    policy_change change;
    bool down; /* a down/revert script: recognised, not graded */
    policy_findings findings;
} policy_migration;

typedef enum policy_risk {
    POLICY_RISK_NONE = 0, /* no migration */
    POLICY_RISK_LOW,      /* migrations with at most warnings and infos */
    POLICY_RISK_HIGH,     /* any danger */
} policy_risk;

typedef struct policy_report {
    policy_migration *migrations; /* in diff (path) order */
    size_t n_migrations;
} policy_report;

/* Picks the migrations out of diff (built-in patterns plus the policy's `paths` globs,
 * git pathspecs where `**` also stands for no folder at all; paths may be NULL when
 * n_paths is 0) and grades each one. A file outside every pattern is not a migration,
 * whatever its extension. Returns 0 and a new report in *out (free with
 * policy_report_free); CORE_EINVAL for a glob that cannot be compiled; CORE_ENOMEM.
 * Thread-safe. */
int policy_migrations_inspect(const policy_diff *diff, char *const *paths, size_t n_paths,
                              policy_report **out, core_error *err);
/* How to inspect a diff; all zero means the built-in patterns and the defaults. */
typedef struct policy_inspect_options {
    char *const *paths; /* the policy's extra globs; may be NULL when n_paths is 0 */
    size_t n_paths;
    int pg_version; /* 0 for POLICY_PG_DEFAULT */
    const policy_rule_setting *rules;
    size_t n_rules;
} policy_inspect_options;

/* policy_migrations_inspect with a policy's version and rule settings: each migration is
 * graded knowing whether its tool wraps it in a transaction (and the file's own opt-out),
 * "zoneci:ignore" comments mark findings suppressed, and the rule settings are applied.
 * opts may be NULL. */
int policy_migrations_inspect_with(const policy_diff *diff, const policy_inspect_options *opts,
                                   policy_report **out, core_error *err);
/* Drops the findings of rules set off (and of off_by_default rules not turned on) and gives
 * the others the severity their setting names. */
void policy_findings_apply(policy_findings *f, const policy_rule_setting *settings, size_t n);

/* HIGH with any danger finding that is not suppressed, LOW with migrations but no such
 * danger, NONE without any. */
policy_risk policy_report_risk(const policy_report *report);
/* "none", "low", "high". */
const char *policy_risk_name(policy_risk risk);
/* The report's findings that are not suppressed, by severity (indexed by policy_severity),
 * and the suppressed ones; those past the per-file cap are counted too. Either out may be
 * NULL. */
void policy_report_counts(const policy_report *report, size_t by_severity[3], size_t *suppressed);
/* Appends the report's JSON (docs/migrations.md) to out; invalid UTF-8 becomes U+FFFD. */
int policy_report_json(const policy_report *report, core_buf *out);
/* Appends a Markdown rendering for cards and statuses: a summary line, then the migrations
 * with their findings, most severe first, cut to at most max_bytes (values under 256 count
 * as 256) with "…and N more findings [in M more files]". */
int policy_report_markdown(const policy_report *report, size_t max_bytes, core_buf *out);
void policy_report_free(policy_report *report);

#endif
