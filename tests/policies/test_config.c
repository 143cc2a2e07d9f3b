/* policies/config.c, match.c, secret.c: every validation error path with its JSON path, the
 * defaults, the specification's example, the shipped examples, matching order and secret reading.
 * Test documents are written with ' for " (see json()) so that they stay readable. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "policies/policies.h"
#include "tests/support/support.h"

/* Returns a malloc'd copy of s with every ' turned into ". */
static char *json(const char *s)
{
    char *d = strdup(s);

    ck_assert_ptr_nonnull(d);
    for (char *p = d; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    return d;
}

static int parse(const char *doc, policy_config **cfg, policy_problems *pr, core_error *err)
{
    char *text = json(doc);
    int rc = policy_config_parse(text, strlen(text), "test.json", cfg, pr, err);

    free(text);
    return rc;
}

static const policy_problem *find_problem(const policy_problems *pr, const char *path)
{
    for (size_t i = 0; i < pr->count; i++) {
        if (strcmp(pr->items[i].path, path) == 0)
            return &pr->items[i];
    }
    return NULL;
}

static void dump(const policy_problems *pr)
{
    for (size_t i = 0; i < pr->count; i++)
        fprintf(stderr, "  problem %d %s: %s\n", pr->items[i].line, pr->items[i].path,
                pr->items[i].msg);
}

/* Asserts that pr holds a problem at exactly path whose message contains msg. */
static void assert_problem(const policy_problems *pr, const char *path, const char *msg)
{
    const policy_problem *p = find_problem(pr, path);

    if (!p)
        dump(pr);
    ck_assert_msg(p != NULL, "no problem at \"%s\"", path);
    ck_assert_msg(strstr(p->msg, msg) != NULL, "problem at %s is \"%s\", wanted \"%s\"", path,
                  p->msg, msg);
}

/* ---- one case per error path ------------------------------------------------------------ */

#define SERVER "{'listen':'127.0.0.1:8080'}"
#define REDIS "{'url':'redis://127.0.0.1:6379/0'}"
#define REGIONS                                                                                    \
    "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon-Fri 09:00-18:00']},"                   \
    "{'name':'berlin','timezone':'Europe/Berlin','hours':['Mon-Fri 09:00-18:00']}]"
#define POLICIES "[{'repos':['acme/*'],'regions':['tokyo','berlin']}]"
#define OMIT "-"

/* A document made of the minimal valid sections, each replaceable (OMIT leaves it out), plus
 * extra top-level members. */
typedef struct bad_case {
    const char *server, *redis, *regions, *policies, *extra;
    const char *path; /* the problem expected there */
    const char *msg;  /* a substring of its message */
} bad_case;

static const bad_case bad_cases[] = {
    /* unknown keys at every depth */
    {.extra = "'listn':1", .path = "listn", .msg = "unknown key"},
    {.server = "{'listen':'127.0.0.1:8080','listn':'x'}",
     .path = "server.listn",
     .msg = "unknown key (did you mean \"listen\"?)"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-10:00'],'hourz':1}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].hourz",
     .msg = "unknown key"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'aproval':'risky'}}]",
     .path = "policies[0].migrations.aproval",
     .msg = "did you mean \"approval\""},
    {.extra = "'people':[{'github':'octocat','slack':'U0OCTO','email':'x@y'}]",
     .path = "people[0].email",
     .msg = "unknown key"},
    /* missing required sections and keys */
    {.server = OMIT, .path = "server", .msg = "missing"},
    {.redis = OMIT, .path = "redis", .msg = "missing"},
    {.regions = OMIT,
     .policies = "[{'repos':['a/b'],'regions':['x']}]",
     .path = "regions",
     .msg = "missing"},
    {.policies = OMIT, .path = "policies", .msg = "missing"},
    {.server = "{'threads':4}", .path = "server.listen", .msg = "missing"},
    {.redis = "{}", .path = "redis.url", .msg = "missing"},
    {.regions = "[{'name':'tokyo','hours':['Mon 09:00-10:00']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].timezone",
     .msg = "missing"},
    {.extra = "'people':[{'github':'octocat'}]", .path = "people[0].slack", .msg = "missing"},
    /* wrong types */
    {.server = "[]", .path = "server", .msg = "must be an object, not an array"},
    {.server = "{'listen':'127.0.0.1:8080','threads':'4'}",
     .path = "server.threads",
     .msg = "must be an integer, not a string"},
    {.server = "{'listen':'127.0.0.1:8080','threads':4.5}",
     .path = "server.threads",
     .msg = "must be an integer"},
    {.server = "{'listen':8080}", .path = "server.listen", .msg = "must be a string"},
    {.regions = "{'name':'tokyo'}", .path = "regions", .msg = "must be an array"},
    {.regions = "[]", .path = "regions", .msg = "must not be empty"},
    {.policies = "['acme/*']", .path = "policies[0]", .msg = "must be an object, not a string"},
    {.policies = "[{'repos':['a/b',7],'regions':['tokyo']}]",
     .path = "policies[0].repos[1]",
     .msg = "must be a string, not an integer"},
    {.extra = "'cache_dir':''", .path = "cache_dir", .msg = "must not be empty"},
    {.extra = "'cache_dir':null", .path = "cache_dir", .msg = "not null"},
    /* ranges */
    {.server = "{'listen':'127.0.0.1:8080','threads':0}",
     .path = "server.threads",
     .msg = "from 1 to 256"},
    {.server = "{'listen':'127.0.0.1:8080','threads':257}",
     .path = "server.threads",
     .msg = "from 1 to 256"},
    {.server = "{'listen':'127.0.0.1:8080','max_body_bytes':1023}",
     .path = "server.max_body_bytes",
     .msg = "from 1024 to 1073741824"},
    {.server = "{'listen':'127.0.0.1:8080','max_body_bytes':1073741825}",
     .path = "server.max_body_bytes",
     .msg = "from 1024"},
    {.server = "{'listen':'127.0.0.1:8080','max_connections_per_ip':-1}",
     .path = "server.max_connections_per_ip",
     .msg = "from 0 to 1000000"},
    {.server = "{'listen':'127.0.0.1:8080','max_connections_per_ip':'64'}",
     .path = "server.max_connections_per_ip",
     .msg = "must be an integer"},
    {.server = "{'listen':'127.0.0.1:8080','max_connections':15}",
     .path = "server.max_connections",
     .msg = "from 16 to 1000000"},
    {.server = "{'listen':'127.0.0.1:8080','request_timeout_seconds':0}",
     .path = "server.request_timeout_seconds",
     .msg = "from 1 to 3600"},
    {.server = "{'listen':'127.0.0.1:8080','health_listen':'127.0.0.1'}",
     .path = "server.health_listen",
     .msg = "missing :port"},
    {.server = "{'listen':'127.0.0.1:8080','health_listen':8081}",
     .path = "server.health_listen",
     .msg = "must be a string"},
    {.extra = "'runners':{'lease_seconds':4}",
     .path = "runners.lease_seconds",
     .msg = "from 5 to 86400"},
    {.extra = "'runners':{'lease_seconds':86401}",
     .path = "runners.lease_seconds",
     .msg = "from 5 to 86400"},
    {.extra = "'runners':{'max_attempts':0}",
     .path = "runners.max_attempts",
     .msg = "from 1 to 100"},
    {.extra = "'runners':{'max_attempts':101}",
     .path = "runners.max_attempts",
     .msg = "from 1 to 100"},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'escalate_after_minutes':0}}]",
     .path = "policies[0].migrations.escalate_after_minutes",
     .msg = "from 1 to 10080"},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'escalate_after_minutes':10081}}]",
     .path = "policies[0].migrations.escalate_after_minutes",
     .msg = "from 1 to 10080"},
    {.extra = "'github':{'app_id':0,'private_key_file':'k.pem'}",
     .path = "github.app_id",
     .msg = "from 1"},
    /* listen */
    {.server = "{'listen':'127.0.0.1'}", .path = "server.listen", .msg = "missing :port"},
    {.server = "{'listen':'127.0.0.1:0'}", .path = "server.listen", .msg = "1 to 65535"},
    {.server = "{'listen':'127.0.0.1:65536'}", .path = "server.listen", .msg = "1 to 65535"},
    {.server = "{'listen':'127.0.0.1:http'}", .path = "server.listen", .msg = "1 to 65535"},
    {.server = "{'listen':'::1:8080'}", .path = "server.listen", .msg = "in brackets"},
    {.server = "{'listen':'[::g]:8080'}", .path = "server.listen", .msg = "bad IPv6"},
    {.server = "{'listen':'300.1.1.1:8080'}", .path = "server.listen", .msg = "not an IPv4"},
    {.server = "{'listen':'bad_host:8080'}", .path = "server.listen", .msg = "host name"},
    {.server = "{'listen':':8080'}", .path = "server.listen", .msg = "missing host"},
    {.server = "{'listen':'127.0.0.1:8080','public_url':'zoneci.example'}",
     .path = "server.public_url",
     .msg = "http:// or https://"},
    /* redis */
    {.redis = "{'url':'http://127.0.0.1:6379'}", .path = "redis.url", .msg = "redis://"},
    {.redis = "{'url':'redis://127.0.0.1:0'}", .path = "redis.url", .msg = "1 to 65535"},
    {.redis = "{'url':'redis://127.0.0.1:6379/x'}", .path = "redis.url", .msg = "database"},
    {.redis = "{'url':'redis://app:s%zzecret@127.0.0.1:6379'}",
     .path = "redis.url",
     .msg = "bad %-escape"},
    {.redis = "{'url':'unix://'}", .path = "redis.url", .msg = "socket path"},
    {.redis = "{'url':'unix:///run/r.sock','prefix':'zone{ci}'}",
     .path = "redis.prefix",
     .msg = "braces"},
    /* redis.sentinel: exactly one of url and sentinel, well-formed nodes */
    {.redis = "{'prefix':'z'}", .path = "redis.url", .msg = "unless redis.sentinel"},
    {.redis = "{'url':'redis://127.0.0.1:6379','sentinel':{'master':'m','nodes':['h:26379']}}",
     .path = "redis.sentinel",
     .msg = "not both"},
    {.redis = "{'sentinel':{'nodes':['h:26379']}}",
     .path = "redis.sentinel.master",
     .msg = "missing"},
    {.redis = "{'sentinel':{'master':'my master','nodes':['h:26379']}}",
     .path = "redis.sentinel.master",
     .msg = "letters, digits"},
    {.redis = "{'sentinel':{'master':'m'}}", .path = "redis.sentinel.nodes", .msg = "missing"},
    {.redis = "{'sentinel':{'master':'m','nodes':[]}}",
     .path = "redis.sentinel.nodes",
     .msg = "must not be empty"},
    {.redis = "{'sentinel':{'master':'m','nodes':'h:26379'}}",
     .path = "redis.sentinel.nodes",
     .msg = "must be an array"},
    {.redis = "{'sentinel':{'master':'m','nodes':['h:26379','h']}}",
     .path = "redis.sentinel.nodes[1]",
     .msg = "host:port of a sentinel"},
    {.redis = "{'sentinel':{'master':'m','nodes':['h:99999']}}",
     .path = "redis.sentinel.nodes[0]",
     .msg = "host:port of a sentinel"},
    {.redis = "{'sentinel':{'master':'m','nodes':['h:1'],'password':'x'}}",
     .path = "redis.sentinel.password",
     .msg = "password_env"},
    {.redis = "{'sentinel':{'master':'m','nodes':['h:1'],'db':-1}}",
     .path = "redis.sentinel.db",
     .msg = "from 0"},
    {.redis = "{'sentinel':{'master':'m','nodes':['h:1'],'mastr':'m'}}",
     .path = "redis.sentinel.mastr",
     .msg = "did you mean \"master\""},
    {.redis = "{'sentinel':'m'}", .path = "redis.sentinel", .msg = "must be an object"},
    {.redis = "{'url':'unix:///run/r.sock','wait_replica_ms':-5}",
     .path = "redis.wait_replica_ms",
     .msg = "from 0 to 60000"},
    /* github, slack, api */
    {.extra = "'github':{'app_id':12345}", .path = "github.app_id", .msg = "private_key_file"},
    {.extra = "'github':{'private_key_file':'/etc/zoneci/app.pem'}",
     .path = "github.private_key_file",
     .msg = "app_id"},
    {.extra = "'github':{'redelivery_check_seconds':-1}",
     .path = "github.redelivery_check_seconds",
     .msg = "from 0 to 86400"},
    {.extra = "'github':{'redelivery_check_seconds':86401}",
     .path = "github.redelivery_check_seconds",
     .msg = "not 86401"},
    {.extra = "'github':{'redelivery_check_seconds':'300'}",
     .path = "github.redelivery_check_seconds",
     .msg = "integer"},
    {.extra = "'github':{'api_url':'ftp://github.example'}",
     .path = "github.api_url",
     .msg = "http:// or https://"},
    {.extra = "'github':{'api_url':'https://me:pw@github.example/api/v3'}",
     .path = "github.api_url",
     .msg = "credentials"},
    {.extra = "'github':{'webhook_secret_env':'zoneci_secret'}",
     .path = "github.webhook_secret_env",
     .msg = "environment variable"},
    {.extra = "'slack':{'bot_token_env':'1TOKEN'}",
     .path = "slack.bot_token_env",
     .msg = "environment variable"},
    {.extra = "'api':{'token_file':'/x'}",
     .path = "api.token_file",
     .msg = "did you mean \"tokens_file\""},
    /* inline secrets */
    {.extra = "'github':{'webhook_secret':'hunter2'}",
     .path = "github.webhook_secret",
     .msg = "use webhook_secret_env or webhook_secret_file"},
    {.extra = "'runners':{'token':'hunter2'}",
     .path = "runners.token",
     .msg = "use tokens_env or tokens_file"},
    {.extra = "'slack':{'signing_secret':'hunter2'}",
     .path = "slack.signing_secret",
     .msg = "use signing_secret_env or signing_secret_file"},
    {.extra = "'slack':{'bot_token':'xoxb-1'}",
     .path = "slack.bot_token",
     .msg = "use bot_token_env"},
    {.extra = "'github':{'private_key':'-----BEGIN'}",
     .path = "github.private_key",
     .msg = "use private_key_file"},
    {.extra = "'api':{'tokens':['a']}", .path = "api.tokens", .msg = "use tokens_env"},
    {.redis = "{'url':'redis://127.0.0.1:6379','password':'hunter2'}",
     .path = "redis.password",
     .msg = "redis.url"},
    {.extra = "'github_token':'ghp_x'",
     .path = "github_token",
     .msg = "secrets must not be in the config file"},
    /* regions */
    {.regions = "[{'name':'tokyo','timezone':'Mars/Base','hours':['Mon 09:00-10:00']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].timezone",
     .msg = "unknown time zone \"Mars/Base\""},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon-Fri 09:00-18:00',"
                "'Mon-Fry 09:00-18:00']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].hours[1]",
     .msg = "expected days"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-09:00']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].hours[0]",
     .msg = "start equals end"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':[]}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].hours",
     .msg = "must not be empty"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-10:00'],"
                "'holidays':['2027-01-01','2027-02-30']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].holidays[1]",
     .msg = "not a calendar date"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-10:00'],"
                "'holidays':['01/01/2027']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].holidays[0]",
     .msg = "not a date"},
    {.regions = "[{'name':'Tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-10:00']}]",
     .policies = "[{'repos':['a/b'],'regions':['Tokyo']}]",
     .path = "regions[0].name",
     .msg = "a-z 0-9"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-10:00']},"
                "{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Tue 09:00-10:00']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[1].name",
     .msg = "duplicate region name \"tokyo\" (also regions[0])"},
    {.regions = "[{'name':'tokyo','timezone':'Asia/Tokyo','hours':['Mon 09:00-10:00'],"
                "'oncall':['@alice']}]",
     .policies = "[{'repos':['a/b'],'regions':['tokyo']}]",
     .path = "regions[0].oncall[0]",
     .msg = "not a Slack user id"},
    /* policies */
    {.policies = "[{'repos':['acme/*'],'regions':['tokyo','berlin','mars']}]",
     .path = "policies[0].regions[2]",
     .msg = "no region named \"mars\""},
    {.policies = "[{'repos':['acme/*'],'regions':['tokyo','berlin','tokyo']}]",
     .path = "policies[0].regions[2]",
     .msg = "listed twice"},
    {.policies = "[{'repos':['acme/*'],'regions':[]}]",
     .path = "policies[0].regions",
     .msg = "must not be empty"},
    {.policies = "[{'repos':[],'regions':['tokyo']}]",
     .path = "policies[0].repos",
     .msg = "must not be empty"},
    {.policies = "[{'regions':['tokyo']}]", .path = "policies[0].repos", .msg = "missing"},
    {.policies = "[{'repos':['acme'],'regions':['tokyo']}]",
     .path = "policies[0].repos[0]",
     .msg = "owner/name"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'when_closed':'fallback:mars'}]",
     .path = "policies[0].when_closed",
     .msg = "no region named \"mars\""},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'when_closed':'fallback:'}]",
     .path = "policies[0].when_closed",
     .msg = "fallback:NAME"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'when_closed':'later'}]",
     .path = "policies[0].when_closed",
     .msg = "\"defer\", \"queue\" or \"fallback:REGION\""},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'approval':'sometimes'}}]",
     .path = "policies[0].migrations.approval",
     .msg = "never, risky or always"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'approvers':['bob']}}]",
     .path = "policies[0].migrations.approvers[0]",
     .msg = "Slack user id"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':['db/**']}]",
     .path = "policies[0].migrations",
     .msg = "must be an object"},
    /* migrations.postgres_version: an integer in POLICY_PG_MIN..POLICY_PG_MAX only */
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':9}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "must be a Postgres major version from 10 to 19, not 9"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':20}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "from 10 to 19, not 20"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':-16}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "from 10 to 19, not -16"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':'16'}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "must be an integer from 10 to 19, not a string: write 16, not \"16\""},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':'99'}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "must be an integer from 10 to 19 (a Postgres major version), not a string"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':'16.2'}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "not a string"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':16.0}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "from 10 to 19 (a Postgres major version), not a fractional number"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_version':null}}]",
     .path = "policies[0].migrations.postgres_version",
     .msg = "not null"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'postgres_versions':16}}]",
     .path = "policies[0].migrations.postgres_versions",
     .msg = "unknown key (did you mean \"postgres_version\"?)"},
    /* migrations.rules: known rule ids, each set to off, info, warning or danger */
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':['ban-drop-table']}}]",
     .path = "policies[0].migrations.rules",
     .msg = "must be an object, not an array"},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'ban-drop-colum':'off'}}}]",
     .path = "policies[0].migrations.rules.ban-drop-colum",
     .msg = "unknown rule \"ban-drop-colum\" (did you mean \"ban-drop-column\"?)"},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'Ban-Drop-Table':'off'}}}]",
     .path = "policies[0].migrations.rules.Ban-Drop-Table",
     .msg = "(did you mean \"ban-drop-table\"?)"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':"
                 "{'ban-concurrent-index-creation-in-transactions':'info'}}}]",
     .path = "policies[0].migrations.rules.ban-concurrent-index-creation-in-transactions",
     .msg = "did you mean \"ban-concurrent-index-creation-in-transaction\""},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':"
                 "{'changed-migrations':'off'}}}]",
     .path = "policies[0].migrations.rules.changed-migrations",
     .msg = "did you mean \"changed-migration\""},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'no-such-rule':'off'}}}]",
     .path = "policies[0].migrations.rules.no-such-rule",
     .msg = "unknown rule \"no-such-rule\" (docs/migrations.md lists the rule ids)"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'':'off'}}}]",
     .path = "policies[0].migrations.rules.",
     .msg = "unknown rule \"\""},
    {.policies = "[{'repos':['a/"
                 "b'],'regions':['tokyo'],'migrations':{'rules':{'ban-drop-table':'error'}}}]",
     .path = "policies[0].migrations.rules.ban-drop-table",
     .msg = "must be off, info, warning or danger, not \"error\""},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'ban-drop-table':'OFF'}}}]",
     .path = "policies[0].migrations.rules.ban-drop-table",
     .msg = "not \"OFF\""},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'ban-drop-table':''}}}]",
     .path = "policies[0].migrations.rules.ban-drop-table",
     .msg = "not \"\""},
    {.policies =
         "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':{'ban-drop-table':false}}}]",
     .path = "policies[0].migrations.rules.ban-drop-table",
     .msg = "must be off, info, warning or danger (a string), not a boolean"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'migrations':{'rules':"
                 "{'ban-drop-table':{'level':'off'}}}}]",
     .path = "policies[0].migrations.rules.ban-drop-table",
     .msg = "(a string), not an object"},
    {.policies = "[{'repos':['a/b'],'regions':['tokyo'],'labels':['linux','']}]",
     .path = "policies[0].labels[1]",
     .msg = "must not be empty"},
    /* people */
    {.extra = "'people':[{'github':'octocat','slack':'U0OCTO'},{'github':'OctoCat','slack':"
              "'U0TWO'}]",
     .path = "people[1].github",
     .msg = "duplicate GitHub login"},
    {.extra = "'people':[{'github':'octo cat','slack':'U0OCTO'}]",
     .path = "people[0].github",
     .msg = "not a GitHub login"},
    {.extra = "'people':[{'github':'octocat','operator':'dba lead'}]",
     .path = "people[0].operator",
     .msg = "not an operator name"},
    {.extra = "'people':[{'github':'octocat','operator':'ops:1'}]",
     .path = "people[0].operator",
     .msg = "not an operator name"},
    {.extra = "'people':[{'github':'octocat','operator':'"
              "a1234567890123456789012345678901234567890123456789012345678901234'}]",
     .path = "people[0].operator",
     .msg = "not an operator name"},
    {.extra = "'people':[{'github':'octocat','operator':'dba-lead'},{'github':'hubot',"
              "'operator':'DBA-Lead'}]",
     .path = "people[1].operator",
     .msg = "duplicate operator name"},
    {.extra = "'people':[{'github':'octocat','operator':7}]",
     .path = "people[0].operator",
     .msg = "must be a string"},
    /* github: where clone URLs may come from */
    {.extra = "'github':{'web_url':'http://github.com'}",
     .path = "github.web_url",
     .msg = "must be an https:// URL"},
    {.extra = "'github':{'web_url':'https://ghe.example.com/org'}",
     .path = "github.web_url",
     .msg = "without a path"},
    {.extra = "'github':{'web_url':'https://user:pw@ghe.example.com'}",
     .path = "github.web_url",
     .msg = "must not hold credentials"},
    {.extra = "'github':{'allow_local_repos':'yes'}",
     .path = "github.allow_local_repos",
     .msg = "must be true or false, not a string"},
    {.extra = "'github':{'allow_local_repo':true}",
     .path = "github.allow_local_repo",
     .msg = "did you mean \"allow_local_repos\""},
    /* freezes */
    {.extra = "'freezes':[{'name':'x','repos':['a/b'],'from':'2027-01-02T00:00','to':"
              "'2026-12-24T00:00','timezone':'Europe/Berlin'}]",
     .path = "freezes[0].to",
     .msg = "must be after from"},
    {.extra = "'freezes':[{'name':'x','repos':['a/b'],'from':'2026-12-24','to':"
              "'2027-01-02T00:00','timezone':'Europe/Berlin'}]",
     .path = "freezes[0].from",
     .msg = "not a local time"},
    {.extra = "'freezes':[{'name':'x','repos':['a/b'],'from':'2026-12-24T24:00','to':"
              "'2027-01-02T00:00','timezone':'Europe/Berlin'}]",
     .path = "freezes[0].from",
     .msg = "not a local time"},
    {.extra = "'freezes':[{'name':'x','repos':['a/b'],'from':'2026-12-24T00:00','to':"
              "'2027-01-02T00:00','timezone':'Europe/Paris2'}]",
     .path = "freezes[0].timezone",
     .msg = "unknown time zone"},
    {.extra = "'freezes':[{'repos':['a/b'],'from':'2026-12-24T00:00','to':"
              "'2027-01-02T00:00','timezone':'UTC'}]",
     .path = "freezes[0].name",
     .msg = "missing"},
    /* the rest of the top level */
    {.extra = "'log_level':'loud'", .path = "log_level", .msg = "debug, info, warn or error"},
    {.extra = "'log_format':'xml'",
     .path = "log_format",
     .msg = "must be logfmt (key=value, the default) or json, not \"xml\""},
    {.extra = "'cache_dir':'/var/cache/zone\\u0001ci'",
     .path = "cache_dir",
     .msg = "control characters"},
    {.extra = "'retention_days':0", .path = "retention_days", .msg = "from 1 to 3650, not 0"},
    {.extra = "'retention_days':3651", .path = "retention_days", .msg = "not 3651"},
    {.extra = "'retention_days':-5", .path = "retention_days", .msg = "not -5"},
    {.extra = "'retention_days':'30'", .path = "retention_days", .msg = "integer"},
    {.extra = "'retention_days':7.5", .path = "retention_days", .msg = "integer"},
    {.extra = "'retention_day':30", .path = "retention_day", .msg = "\"retention_days\""},
};

static char *bad_doc(const bad_case *b)
{
    const char *parts[][2] = {{"server", b->server ? b->server : SERVER},
                              {"redis", b->redis ? b->redis : REDIS},
                              {"regions", b->regions ? b->regions : REGIONS},
                              {"policies", b->policies ? b->policies : POLICIES}};
    core_buf buf = {0};

    core_buf_puts(&buf, "{");
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(parts[i][1], OMIT) == 0)
            continue;
        core_buf_printf(&buf, "%s'%s':%s", buf.len > 1 ? "," : "", parts[i][0], parts[i][1]);
    }
    if (b->extra)
        core_buf_printf(&buf, ",%s", b->extra);
    core_buf_puts(&buf, "}");
    return core_buf_steal(&buf);
}

START_TEST(bad_config)
{
    const bad_case *b = &bad_cases[_i];
    char *doc = bad_doc(b);
    policy_config *cfg = (policy_config *)1;
    policy_problems pr = {0};
    core_error err = {0};

    ck_assert_int_eq(parse(doc, &cfg, &pr, &err), CORE_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(err.code, CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "test.json: "));
    assert_problem(&pr, b->path, b->msg);
    /* A secret written into the file is never repeated back. */
    for (size_t i = 0; i < pr.count; i++)
        ck_assert_ptr_null(strstr(pr.items[i].msg, "hunter2"));
    policy_problems_free(&pr);
    ck_assert_ptr_null(pr.items);
    free(doc);
}
END_TEST

/* The base document of the table is itself valid, or every case above would pass by luck. */
START_TEST(bad_case_base_is_valid)
{
    bad_case b = {0};
    char *doc = bad_doc(&b);
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err = {0};
    int rc = parse(doc, &cfg, &pr, &err);

    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(pr.count, 0);
    policy_config_free(cfg);
    free(doc);
}
END_TEST

/* ---- syntax -------------------------------------------------------------------------------- */

START_TEST(syntax_error_has_line)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    ck_assert_int_eq(
        parse("{\n  'server': {\n    'listen': '127.0.0.1:8080',,\n  }\n}", &cfg, &pr, &err),
        CORE_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(pr.count, 1);
    ck_assert_str_eq(pr.items[0].path, "");
    ck_assert_int_eq(pr.items[0].line, 3);
    ck_assert_ptr_nonnull(strstr(pr.items[0].msg, "invalid JSON"));
    policy_problems_free(&pr);

    ck_assert_int_eq(parse("", &cfg, &pr, &err), CORE_EINVAL);
    ck_assert_int_eq(pr.count, 1);
    ck_assert_ptr_nonnull(strstr(pr.items[0].msg, "invalid JSON"));
    policy_problems_free(&pr);
}
END_TEST

START_TEST(duplicate_key_rejected)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    ck_assert_int_eq(parse("{'server': {'listen': '127.0.0.1:8080'},\n'redis': {},\n"
                           "'server': {'listen': '127.0.0.1:9090'}}",
                           &cfg, &pr, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(pr.count, 1);
    ck_assert_int_eq(pr.items[0].line, 3);
    ck_assert_ptr_nonnull(strstr(pr.items[0].msg, "duplicate object key"));
    policy_problems_free(&pr);
}
END_TEST

START_TEST(root_not_object)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    ck_assert_int_eq(parse("[1, 2]", &cfg, &pr, &err), CORE_EINVAL);
    ck_assert_int_eq(pr.count, 1);
    ck_assert_str_eq(pr.items[0].path, "");
    ck_assert_ptr_nonnull(strstr(pr.items[0].msg, "must be a JSON object, not an array"));
    policy_problems_free(&pr);
}
END_TEST

/* Problems found after parsing carry the line of their key. */
START_TEST(problem_lines)
{
    const char *doc = "{\n"
                      "  'server': {'listen': '127.0.0.1:8080'},\n"
                      "  'redis': {'url': 'redis://127.0.0.1:6379'},\n"
                      "  'regions': [\n"
                      "    {'name': 'tokyo', 'timezone': 'Asia/Tokyo',\n"
                      "     'hours': ['Mon 09:00-10:00',\n"
                      "               'Tue 09:00']},\n"
                      "    {'name': 'x',\n"
                      "     'timezone': 'Nowhere/Land', 'hours': ['Mon 09:00-10:00']}\n"
                      "  ],\n"
                      "  'policies': [{'repos': ['a/b'], 'regions': ['tokyo'],\n"
                      "                'extra': {'deep': [1, {'x': 2}]}, 'labelz': []}]\n"
                      "}\n";
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    ck_assert_int_eq(parse(doc, &cfg, &pr, &err), CORE_EINVAL);
    ck_assert_int_eq(pr.count, 4);
    ck_assert_int_eq(find_problem(&pr, "regions[0].hours[1]")->line, 7);
    ck_assert_int_eq(find_problem(&pr, "regions[1].timezone")->line, 9);
    ck_assert_int_eq(find_problem(&pr, "policies[0].extra")->line, 12);
    ck_assert_int_eq(find_problem(&pr, "policies[0].labelz")->line, 12);
    policy_problems_free(&pr);

    /* A missing key points at its enclosing object; a missing section at no line. */
    ck_assert_int_eq(parse("{'server': {'listen': '127.0.0.1:8080'},\n'regions': [\n\n"
                           "  {'name': 'tokyo', 'hours': ['Mon 09:00-10:00']}]}",
                           &cfg, &pr, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(find_problem(&pr, "regions[0].timezone")->line, 4);
    ck_assert_int_eq(find_problem(&pr, "redis")->line, 0);
    ck_assert_int_eq(find_problem(&pr, "policies")->line, 0);
    policy_problems_free(&pr);

    /* A key whose value starts on a later line is reported on the key's line. */
    ck_assert_int_eq(
        parse("{'server':\n  {'listen':\n   '127.0.0.1:8080',\n   'threads':\n\n   0}}", &cfg, &pr,
              &err),
        CORE_EINVAL);
    ck_assert_int_eq(find_problem(&pr, "server.threads")->line, 4);
    policy_problems_free(&pr);
}
END_TEST

START_TEST(every_problem_reported)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    ck_assert_int_eq(parse("{'server': {'listen': '127.0.0.1', 'threads': 0},"
                           " 'redis': {'url': 'redis://h:6379', 'prefx': 'z'},"
                           " 'regions': [{'name': 'tokyo', 'timezone': 'Mars/Base',"
                           "   'hours': ['Mon 09:00-10:00', 'Sun 25:00-26:00']}],"
                           " 'policies': [{'repos': ['a/b'], 'regions': ['tokyo', 'mars']}]}",
                           &cfg, &pr, &err),
                     CORE_EINVAL);
    ck_assert_int_eq(pr.count, 6);
    assert_problem(&pr, "server.listen", "port");
    assert_problem(&pr, "server.threads", "from 1 to 256");
    assert_problem(&pr, "redis.prefx", "did you mean \"prefix\"");
    assert_problem(&pr, "regions[0].timezone", "Mars/Base");
    assert_problem(&pr, "regions[0].hours[1]", "bad start time");
    assert_problem(&pr, "policies[0].regions[1]", "no region named \"mars\"");
    ck_assert_ptr_nonnull(strstr(err.msg, "6 problems"));
    policy_problems_free(&pr);

    /* Without a problem list the error still says how many and which came first. */
    ck_assert_int_eq(parse("{'server': 1, 'redis': 2}", &cfg, NULL, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "4 problems; first: server: must be an object"));
    /* ... and a NULL err is allowed. */
    ck_assert_int_eq(parse("{}", &cfg, NULL, NULL), CORE_EINVAL);
}
END_TEST

START_TEST(problems_are_capped)
{
    core_buf doc = {0};
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    core_buf_puts(&doc, "{");
    for (int i = 0; i < 500; i++)
        core_buf_printf(&doc, "%s'unknown%d': %d", i ? ", " : "", i, i);
    core_buf_puts(&doc, "}");
    ck_assert_int_eq(parse(doc.data, &cfg, &pr, &err), CORE_EINVAL);
    ck_assert_int_eq(pr.count, 200);
    ck_assert_str_eq(pr.items[0].path, "unknown0");
    ck_assert_str_eq(pr.items[198].path, "unknown198");
    ck_assert_ptr_nonnull(strstr(pr.items[199].msg, "too many problems"));
    policy_problems_free(&pr);
    core_buf_free(&doc);
}
END_TEST

/* ---- valid configurations ------------------------------------------------------------------ */

/* The product specification's example configuration, verbatim (docs/configuration.md). */
static const char spec_example[] =
    "{\n"
    "  'server':  {'listen': '127.0.0.1:8080', 'threads': 4, 'max_body_bytes': 26214400},\n"
    "  'redis':   {'url': 'redis://127.0.0.1:6379/0', 'prefix': 'zoneci'},\n"
    "  'cache_dir': '/var/cache/zoneci',\n"
    "  'github':  {'webhook_secret_env': 'ZONECI_GITHUB_SECRET', 'app_id': 12345,\n"
    "              'private_key_file': '/etc/zoneci/app.pem', 'api_url': "
    "'https://api.github.com'},\n"
    "  'slack':   {'signing_secret_env': 'ZONECI_SLACK_SIGNING_SECRET', 'bot_token_env': "
    "'ZONECI_SLACK_TOKEN',\n"
    "              'api_url': 'https://slack.com/api'},\n"
    "  'runners': {'tokens_env': 'ZONECI_RUNNER_TOKENS', 'lease_seconds': 120, 'max_attempts': "
    "3},\n"
    "  'regions': [\n"
    "    {'name': 'apac-tokyo', 'timezone': 'Asia/Tokyo', 'hours': ['Mon-Fri 09:00-18:00'],\n"
    "     'holidays': ['2027-01-01'], 'slack_channel': 'C0TOKYO', 'oncall': ['U0DBA1']},\n"
    "    {'name': 'emea-berlin', 'timezone': 'Europe/Berlin', 'hours': ['Mon-Fri "
    "09:00-18:00']},\n"
    "    {'name': 'amer-seattle', 'timezone': 'America/Los_Angeles', 'hours': ['Mon-Fri "
    "17:00-02:00']}\n"
    "  ],\n"
    "  'policies': [\n"
    "    {'repos': ['acme/*'], 'regions': ['apac-tokyo', 'emea-berlin', 'amer-seattle'],\n"
    "     'when_closed': 'defer',\n"
    "     'migrations': {'paths': ['db/**/*.sql'], 'approval': 'risky', 'approvers': "
    "['U0DBA1'],\n"
    "                    'escalate_after_minutes': 30}}\n"
    "  ],\n"
    "  'people': [{'github': 'octocat', 'slack': 'U0OCTO'}],\n"
    "  'freezes': [{'name': 'year-end', 'repos': ['acme/payments'],\n"
    "               'from': '2026-12-24T00:00', 'to': '2027-01-02T00:00', 'timezone': "
    "'Europe/Berlin'}]\n"
    "}\n";

START_TEST(spec_example_loads)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    int rc = parse(spec_example, &cfg, &pr, &err);
    const policy_region *r;
    const policy_policy *p;

    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(pr.count, 0);
    ck_assert_str_eq(cfg->source, "test.json");
    ck_assert_str_eq(cfg->server.listen, "127.0.0.1:8080");
    ck_assert_str_eq(cfg->server.host, "127.0.0.1");
    ck_assert_int_eq(cfg->server.port, 8080);
    ck_assert_int_eq(cfg->server.threads, 4);
    ck_assert_uint_eq(cfg->server.max_body_bytes, 26214400);
    ck_assert_str_eq(cfg->redis.url, "redis://127.0.0.1:6379/0");
    ck_assert(cfg->github.present);
    ck_assert_int_eq(cfg->github.app_id, 12345);
    ck_assert_str_eq(cfg->github.private_key_file, "/etc/zoneci/app.pem");
    ck_assert_str_eq(cfg->github.webhook_secret.env, "ZONECI_GITHUB_SECRET");
    ck_assert_ptr_null(cfg->github.webhook_secret.file);
    ck_assert(cfg->slack.present);
    ck_assert_str_eq(cfg->slack.signing_secret.env, "ZONECI_SLACK_SIGNING_SECRET");
    ck_assert_str_eq(cfg->slack.bot_token.env, "ZONECI_SLACK_TOKEN");
    ck_assert(!cfg->api.present);
    ck_assert_int_eq(cfg->n_regions, 3);
    r = &cfg->regions[0];
    ck_assert_str_eq(r->name, "apac-tokyo");
    ck_assert_str_eq(r->timezone, "Asia/Tokyo");
    ck_assert_int_eq(r->n_hours, 1);
    ck_assert_str_eq(r->hours_text[0], "Mon-Fri 09:00-18:00");
    ck_assert_int_eq(r->hours[0].days, 0x1f);
    ck_assert_int_eq(r->hours[0].start_min, 540);
    ck_assert_int_eq(r->n_holidays, 1);
    ck_assert_str_eq(r->holidays[0], "2027-01-01");
    ck_assert_str_eq(r->slack_channel, "C0TOKYO");
    ck_assert_int_eq(r->n_oncall, 1);
    ck_assert_ptr_null(cfg->regions[1].slack_channel);
    ck_assert_int_eq(cfg->regions[2].hours[0].end_min, 120);
    ck_assert_int_eq(cfg->n_policies, 1);
    p = &cfg->policies[0];
    ck_assert_int_eq(p->n_regions, 3);
    ck_assert_str_eq(p->regions[2], "amer-seattle");
    ck_assert_int_eq(p->when_closed, POLICY_WHEN_CLOSED_DEFER);
    ck_assert(p->has_migrations);
    ck_assert_int_eq(p->n_migration_paths, 1);
    ck_assert_int_eq(p->approval, POLICY_APPROVAL_RISKY);
    ck_assert_str_eq(p->approvers[0], "U0DBA1");
    ck_assert_int_eq(p->escalate_after_minutes, 30);
    ck_assert_int_eq(cfg->n_people, 1);
    ck_assert_int_eq(cfg->n_freezes, 1);
    ck_assert_str_eq(cfg->freezes[0].from, "2026-12-24T00:00");
    ck_assert_str_eq(cfg->freezes[0].timezone, "Europe/Berlin");
    policy_config_free(cfg);
}
END_TEST

START_TEST(defaults_applied)
{
    policy_config *cfg = NULL;
    core_error err;

    ck_assert_int_eq(parse("{'server': {'listen': '[::1]:9000'},"
                           " 'redis': {'url': 'unix:///run/redis/redis.sock'},"
                           " 'regions': [{'name': 'utc', 'timezone': 'UTC',"
                           "   'hours': ['Mon-Sun 00:00-24:00']}],"
                           " 'policies': [{'repos': ['*/*'], 'regions': ['utc'],"
                           "   'migrations': {}}]}",
                           &cfg, NULL, &err),
                     0);
    ck_assert_str_eq(cfg->server.host, "::1");
    ck_assert_int_eq(cfg->server.port, 9000);
    ck_assert_int_eq(cfg->server.threads, 4);
    ck_assert_uint_eq(cfg->server.max_body_bytes, 26214400);
    ck_assert_int_eq(cfg->server.max_connections, 10000);
    ck_assert_int_eq(cfg->server.max_connections_per_ip, 64);
    ck_assert_int_eq(cfg->server.request_timeout_seconds, 10);
    ck_assert_ptr_null(cfg->server.health_listen);
    ck_assert_ptr_null(cfg->server.health_host);
    ck_assert_ptr_null(cfg->server.public_url);
    ck_assert_str_eq(cfg->redis.prefix, "zoneci");
    ck_assert_str_eq(cfg->cache_dir, "/var/cache/zoneci");
    ck_assert_ptr_null(cfg->log_level);
    ck_assert_ptr_null(cfg->log_format);
    ck_assert(!cfg->github.present);
    ck_assert_str_eq(cfg->github.webhook_secret.env, "ZONECI_GITHUB_SECRET");
    ck_assert_int_eq(cfg->github.app_id, 0);
    ck_assert_ptr_null(cfg->github.private_key_file);
    ck_assert_str_eq(cfg->github.api_url, "https://api.github.com");
    ck_assert_int_eq(cfg->github.redelivery_check_seconds, 300);
    ck_assert_int_eq(cfg->retention_days, 30);
    ck_assert_str_eq(cfg->github.web_url, "https://github.com");
    ck_assert(!cfg->github.allow_local_repos);
    ck_assert(!cfg->slack.present);
    ck_assert_str_eq(cfg->slack.api_url, "https://slack.com/api");
    ck_assert_str_eq(cfg->runners.tokens.env, "ZONECI_RUNNER_TOKENS");
    ck_assert_int_eq(cfg->runners.lease_seconds, 120);
    ck_assert_int_eq(cfg->runners.max_attempts, 3);
    ck_assert(!cfg->api.present);
    ck_assert_int_eq(cfg->policies[0].when_closed, POLICY_WHEN_CLOSED_DEFER);
    ck_assert_ptr_null(cfg->policies[0].fallback_region);
    ck_assert(cfg->policies[0].has_migrations);
    ck_assert_int_eq(cfg->policies[0].approval, POLICY_APPROVAL_RISKY);
    ck_assert_int_eq(cfg->policies[0].escalate_after_minutes, 30);
    ck_assert_int_eq(cfg->policies[0].pg_version, POLICY_PG_DEFAULT);
    ck_assert_ptr_null(cfg->policies[0].rule_settings);
    ck_assert_uint_eq(cfg->policies[0].n_rule_settings, 0);
    ck_assert_int_eq(cfg->n_people, 0);
    ck_assert_int_eq(cfg->n_freezes, 0);
    policy_config_free(cfg);
}
END_TEST

START_TEST(overrides_applied)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    int rc = parse("{'server': {'listen': 'ci.example.com:443', 'threads': 256,"
                   "   'max_body_bytes': 1024, 'public_url': 'https://ci.example.com/zoneci'},"
                   " 'redis': {'url': 'redis://:pw@[::1]:6380/3', 'prefix': 'zci.test-1'},"
                   " 'log_level': 'debug', 'log_format': 'json', 'cache_dir': 'run/cache', "
                   "'retention_days': 3650,"
                   " 'github': {'webhook_secret_file': '/run/secrets/gh',"
                   "   'api_url': 'https://ghe.example.com/api/v3', 'redelivery_check_seconds': 0},"
                   " 'slack': {'signing_secret_file': '/run/secrets/sl', 'bot_token_env': 'T'},"
                   " 'runners': {'tokens_file': '/run/secrets/rt', 'lease_seconds': 5,"
                   "   'max_attempts': 100},"
                   " 'api': {},"
                   " 'regions': [{'name': 'a', 'timezone': 'UTC', 'hours': ['Mon 09:00-10:00']},"
                   "   {'name': 'b', 'timezone': 'UTC', 'hours': ['Tue 09:00-10:00']}],"
                   " 'policies': [{'repos': ['x/y'], 'regions': ['a'], 'when_closed': "
                   "'fallback:b', 'labels': ['linux', 'gpu']},"
                   "   {'repos': ['x/*'], 'regions': ['b', 'a'], 'when_closed': 'queue',"
                   "    'migrations': {'approval': 'always', 'escalate_after_minutes': 10080}},"
                   "   {'repos': ['z/*'], 'regions': ['b'],"
                   "    'migrations': {'approval': 'never'}}]}",
                   &cfg, &pr, &err);

    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(cfg->server.host, "ci.example.com");
    ck_assert_int_eq(cfg->server.port, 443);
    ck_assert_int_eq(cfg->server.threads, 256);
    ck_assert_uint_eq(cfg->server.max_body_bytes, 1024);
    ck_assert_str_eq(cfg->server.public_url, "https://ci.example.com/zoneci");
    ck_assert_str_eq(cfg->redis.prefix, "zci.test-1");
    ck_assert_str_eq(cfg->log_level, "debug");
    ck_assert_str_eq(cfg->log_format, "json");
    ck_assert_str_eq(cfg->cache_dir, "run/cache");
    ck_assert_int_eq(cfg->retention_days, 3650);
    /* A file alone replaces the default variable rather than joining it. */
    ck_assert_ptr_null(cfg->github.webhook_secret.env);
    ck_assert_str_eq(cfg->github.webhook_secret.file, "/run/secrets/gh");
    ck_assert_str_eq(cfg->github.api_url, "https://ghe.example.com/api/v3");
    ck_assert_int_eq(cfg->github.redelivery_check_seconds, 0);
    ck_assert_ptr_null(cfg->slack.signing_secret.env);
    ck_assert_str_eq(cfg->slack.signing_secret.file, "/run/secrets/sl");
    ck_assert_str_eq(cfg->slack.bot_token.env, "T");
    ck_assert_ptr_null(cfg->runners.tokens.env);
    ck_assert_str_eq(cfg->runners.tokens.file, "/run/secrets/rt");
    ck_assert_int_eq(cfg->runners.lease_seconds, 5);
    ck_assert_int_eq(cfg->runners.max_attempts, 100);
    ck_assert(cfg->api.present);
    ck_assert_str_eq(cfg->api.tokens.env, "ZONECI_API_TOKENS");
    ck_assert_int_eq(cfg->policies[0].when_closed, POLICY_WHEN_CLOSED_FALLBACK);
    ck_assert_str_eq(cfg->policies[0].fallback_region, "b");
    ck_assert(!cfg->policies[0].has_migrations);
    ck_assert_int_eq(cfg->policies[0].n_labels, 2);
    ck_assert_int_eq(cfg->policies[1].when_closed, POLICY_WHEN_CLOSED_QUEUE);
    ck_assert_int_eq(cfg->policies[1].approval, POLICY_APPROVAL_ALWAYS);
    ck_assert_int_eq(cfg->policies[1].escalate_after_minutes, 10080);
    ck_assert_int_eq(cfg->policies[2].approval, POLICY_APPROVAL_NEVER);
    policy_config_free(cfg);
}
END_TEST

/* migrations.postgres_version and migrations.rules as written, and their defaults. */
START_TEST(migration_settings_applied)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    const policy_policy *p;
    int rc =
        parse("{'server': {'listen': '127.0.0.1:8080'},"
              " 'redis': {'url': 'redis://127.0.0.1:6379'},"
              " 'regions': [{'name': 'a', 'timezone': 'UTC', 'hours': ['Mon 09:00-10:00']}],"
              " 'policies': ["
              "   {'repos': ['x/y'], 'regions': ['a'],"
              "    'migrations': {'postgres_version': 17, 'rules': {"
              "      'ban-drop-column': 'off', 'require-lock-timeout': 'danger',"
              "      'adding-foreign-key-constraint': 'info', 'changed-migration': 'warning',"
              "      'unchecked-migration': 'off', 'suppression-without-reason': 'danger',"
              "      'unknown-rule-in-suppression': 'info'}}},"
              "   {'repos': ['x/*'], 'regions': ['a'],"
              "    'migrations': {'postgres_version': 10, 'rules': {}}},"
              "   {'repos': ['y/*'], 'regions': ['a'], 'migrations': {'postgres_version': 19}},"
              "   {'repos': ['z/*'], 'regions': ['a'], 'migrations': {'approval': 'never'}},"
              "   {'repos': ['w/*'], 'regions': ['a']}]}",
              &cfg, &pr, &err);

    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(cfg->n_policies, 5);
    p = &cfg->policies[0];
    ck_assert_int_eq(p->pg_version, 17);
    /* In file order, exactly as written. */
    ck_assert_uint_eq(p->n_rule_settings, 7);
    ck_assert_str_eq(p->rule_settings[0].rule, "ban-drop-column");
    ck_assert_int_eq(p->rule_settings[0].level, POLICY_RULE_OFF);
    ck_assert_str_eq(p->rule_settings[1].rule, "require-lock-timeout");
    ck_assert_int_eq(p->rule_settings[1].level, POLICY_RULE_DANGER);
    ck_assert_str_eq(p->rule_settings[2].rule, "adding-foreign-key-constraint");
    ck_assert_int_eq(p->rule_settings[2].level, POLICY_RULE_INFO);
    ck_assert_str_eq(p->rule_settings[3].rule, "changed-migration");
    ck_assert_int_eq(p->rule_settings[3].level, POLICY_RULE_WARNING);
    ck_assert_str_eq(p->rule_settings[4].rule, "unchecked-migration");
    ck_assert_int_eq(p->rule_settings[4].level, POLICY_RULE_OFF);
    ck_assert_str_eq(p->rule_settings[6].rule, "unknown-rule-in-suppression");
    /* The bounds themselves are allowed; an empty rules object sets nothing. */
    ck_assert_int_eq(cfg->policies[1].pg_version, POLICY_PG_MIN);
    ck_assert_uint_eq(cfg->policies[1].n_rule_settings, 0);
    ck_assert_ptr_null(cfg->policies[1].rule_settings);
    ck_assert_int_eq(cfg->policies[2].pg_version, POLICY_PG_MAX);
    /* The default with a migrations section that does not name a version, and without one. */
    ck_assert_int_eq(cfg->policies[3].pg_version, POLICY_PG_DEFAULT);
    ck_assert_uint_eq(cfg->policies[3].n_rule_settings, 0);
    ck_assert(!cfg->policies[4].has_migrations);
    ck_assert_int_eq(cfg->policies[4].pg_version, POLICY_PG_DEFAULT);
    ck_assert_ptr_null(cfg->policies[4].rule_settings);
    policy_config_free(cfg);
}
END_TEST

/* Every id of the SQL rule table may be set, to every level. */
START_TEST(every_sql_rule_settable)
{
    static const char *const levels[] = {"off", "info", "warning", "danger"};
    const policy_sql_rule *rules;
    size_t n = 0;
    core_buf doc = {0};
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    int rc;

    rules = policy_sql_rules(&n);
    ck_assert_uint_gt(n, 0);
    core_buf_puts(&doc,
                  "{'server': {'listen': '127.0.0.1:8080'},"
                  " 'redis': {'url': 'redis://127.0.0.1:6379'},"
                  " 'regions': [{'name': 'a', 'timezone': 'UTC', 'hours': ['Mon 09:00-10:00']}],"
                  " 'policies': [{'repos': ['x/y'], 'regions': ['a'], 'migrations': {'rules': {");
    for (size_t i = 0; i < n; i++)
        core_buf_printf(&doc, "%s'%s': '%s'", i ? ", " : "", rules[i].id, levels[i % 4]);
    core_buf_puts(&doc, "}}}]}");
    rc = parse(doc.data, &cfg, &pr, &err);
    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(cfg->policies[0].n_rule_settings, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(cfg->policies[0].rule_settings[i].rule, rules[i].id);
        ck_assert_int_eq(cfg->policies[0].rule_settings[i].level, POLICY_RULE_OFF + (int)(i % 4));
    }
    policy_config_free(cfg);
    core_buf_free(&doc);
}
END_TEST

/* One run reports every bad rule and level with its own path and line; a rule named twice
 * is a JSON error of its own. */
START_TEST(migration_settings_every_problem)
{
    const char *doc =
        "{'server': {'listen': '127.0.0.1:8080'},\n"
        " 'redis': {'url': 'redis://127.0.0.1:6379'},\n"
        " 'regions': [{'name': 'a', 'timezone': 'UTC', 'hours': ['Mon 09:00-10:00']}],\n"
        " 'policies': [{'repos': ['x/y'], 'regions': ['a'],\n"
        "   'migrations': {\n"
        "     'postgres_version': 9,\n"
        "     'rules': {\n"
        "       'ban-drop-table': 'off',\n"
        "       'ban-drop-colum': 'off',\n"
        "       'ban-truncate': 'loud',\n"
        "       'no-such-rule': 3}}}]}\n";
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;

    ck_assert_int_eq(parse(doc, &cfg, &pr, &err), CORE_EINVAL);
    ck_assert_ptr_null(cfg);
    if (pr.count != 5)
        dump(&pr);
    ck_assert_int_eq(pr.count, 5);
    assert_problem(&pr, "policies[0].migrations.postgres_version", "from 10 to 19, not 9");
    ck_assert_int_eq(find_problem(&pr, "policies[0].migrations.postgres_version")->line, 6);
    assert_problem(&pr, "policies[0].migrations.rules.ban-drop-colum",
                   "did you mean \"ban-drop-column\"");
    ck_assert_int_eq(find_problem(&pr, "policies[0].migrations.rules.ban-drop-colum")->line, 9);
    assert_problem(&pr, "policies[0].migrations.rules.ban-truncate", "not \"loud\"");
    ck_assert_int_eq(find_problem(&pr, "policies[0].migrations.rules.ban-truncate")->line, 10);
    /* An unknown rule with a bad level: both are said. */
    ck_assert_str_eq(pr.items[3].path, "policies[0].migrations.rules.no-such-rule");
    ck_assert_ptr_nonnull(strstr(pr.items[3].msg, "unknown rule \"no-such-rule\""));
    ck_assert_int_eq(pr.items[3].line, 11);
    ck_assert_str_eq(pr.items[4].path, "policies[0].migrations.rules.no-such-rule");
    ck_assert_ptr_nonnull(strstr(pr.items[4].msg, "not an integer"));
    ck_assert_ptr_null(find_problem(&pr, "policies[0].migrations.rules.ban-drop-table"));
    ck_assert_ptr_nonnull(strstr(err.msg, "5 problems; first: "
                                          "policies[0].migrations.postgres_version: "));
    policy_problems_free(&pr);

    ck_assert_int_eq(
        parse("{'server': {'listen': '127.0.0.1:8080'},"
              " 'redis': {'url': 'redis://127.0.0.1:6379'},"
              " 'regions': [{'name': 'a', 'timezone': 'UTC', 'hours': ['Mon 09:00-10:00']}],"
              " 'policies': [{'repos': ['x/y'], 'regions': ['a'], 'migrations': {"
              "   'rules': {'ban-drop-table': 'off',\n'ban-drop-table': 'danger'}}}]}",
              &cfg, &pr, &err),
        CORE_EINVAL);
    ck_assert_int_eq(pr.count, 1);
    ck_assert_int_eq(pr.items[0].line, 2);
    ck_assert_ptr_nonnull(strstr(pr.items[0].msg, "duplicate object key"));
    policy_problems_free(&pr);
}
END_TEST

START_TEST(examples_load)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    int rc = policy_config_load("examples/zoneci.json", &cfg, &pr, &err);

    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        dump(&pr);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(cfg->source, "examples/zoneci.json");
    ck_assert_str_eq(cfg->server.listen, "127.0.0.1:8080");
    ck_assert_str_eq(cfg->redis.url, "unix://run/redis.sock");
    ck_assert_str_eq(cfg->cache_dir, "run/cache");
    ck_assert_int_eq(cfg->n_regions, 3);
    ck_assert_str_eq(cfg->regions[2].name, "amer-seattle");
    ck_assert_int_eq(cfg->n_policies, 1);
    ck_assert_ptr_eq(policy_match(cfg, "anyone/anything"), &cfg->policies[0]);
    ck_assert_int_eq(cfg->policies[0].n_migration_paths, 2);
    ck_assert_int_eq(cfg->github.app_id, 0);
    ck_assert(!cfg->slack.present);
    policy_config_free(cfg);

    rc = policy_config_load("examples/invalid.json", &cfg, &pr, &err);
    ck_assert_int_eq(rc, CORE_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_ge(pr.count, 10);
    assert_problem(&pr, "server.listn", "unknown key");
    assert_problem(&pr, "regions[1].timezone", "unknown time zone \"Mars/Base\"");
    assert_problem(&pr, "policies[0].regions[1]", "no region named");
    for (size_t i = 0; i < pr.count; i++) {
        ck_assert_int_gt(pr.items[i].line, 0);
        ck_assert_ptr_null(strstr(pr.items[i].msg, "do-not-put-secrets-here"));
    }
    policy_problems_free(&pr);
}
END_TEST

START_TEST(load_errors)
{
    policy_config *cfg = (policy_config *)1;
    policy_problems pr = {0};
    core_error err;
    char *dir = ts_tmpdir();

    ck_assert_int_eq(policy_config_load("/nonexistent/zoneci.json", &cfg, &pr, &err),
                     CORE_ENOTFOUND);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(pr.count, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/zoneci.json"));
    /* A directory is not a config file. */
    ck_assert_int_lt(policy_config_load(dir, &cfg, &pr, &err), 0);
    ck_assert_ptr_null(cfg);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- lookups ------------------------------------------------------------------------------- */

/* github.web_url, allow_local_repos and people[].operator load, and the lookups on them. */
START_TEST(clone_url_and_operator_settings)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    int rc = parse("{'server': " SERVER ", 'redis': " REDIS ", 'regions': " REGIONS
                   ", 'policies': " POLICIES ","
                   " 'github': {'web_url': 'https://GHE.example.com/', 'allow_local_repos': true},"
                   " 'people': [{'github': 'octocat', 'slack': 'U0OCTO', 'operator': 'octo.ops'},"
                   "            {'github': 'dba', 'operator': 'dba-lead'}]}",
                   &cfg, &pr, &err);

    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(cfg->github.web_url, "https://GHE.example.com/");
    ck_assert(cfg->github.allow_local_repos);
    ck_assert_str_eq(policy_person_operator(cfg, "dba-lead"), "dba");
    ck_assert_str_eq(policy_person_operator(cfg, "OCTO.OPS"), "octocat");
    ck_assert_ptr_null(policy_person_operator(cfg, "operator"));
    ck_assert_ptr_null(policy_person_slack(cfg, "dba"));
    ck_assert_ptr_null(policy_person_github(cfg, "dba-lead"));
    policy_config_free(cfg);
    policy_problems_free(&pr);
}
END_TEST

START_TEST(clone_urls_only_from_github)
{
    static const struct {
        const char *web, *url;
        bool local, ok;
    } cases[] = {
        {"https://github.com", "https://github.com/acme/app.git", false, true},
        {"https://github.com", "https://GitHub.com:443/acme/app.git", false, true},
        {"https://github.com/", "https://github.com/acme/app.git", false, true},
        {"https://ghe.example.com", "https://ghe.example.com/acme/app.git", false, true},
        {"https://ghe.example.com:8443", "https://ghe.example.com:8443/acme/app.git", false, true},
        {"https://ghe.example.com:8443", "https://ghe.example.com/acme/app.git", false, false},
        {"https://github.com", "https://ghe.example.com/acme/app.git", false, false},
        {"https://github.com", "http://github.com/acme/app.git", false, false},
        {"https://github.com", "git://github.com/acme/app.git", false, false},
        {"https://github.com", "ssh://git@github.com/acme/app.git", false, false},
        {"https://github.com", "git@github.com:acme/app.git", false, false},
        {"https://github.com", "https://github.com@evil.example/acme/app.git", false, false},
        {"https://github.com", "https://evil.example#@github.com/acme/app.git", false, false},
        {"https://github.com", "https://github.com.evil.example/acme/app.git", false, false},
        {"https://github.com", "https://github%2ecom/acme/app.git", false, false},
        {"https://github.com", "https://github.com", false, false},
        {"https://github.com", "https://github.com/", false, false},
        {"https://github.com", "https://github.com\\@evil.example/a.git", false, false},
        {"https://github.com", "https://github.com/a b.git", false, false},
        {"https://github.com", "https://127.0.0.1:6379/acme/app.git", false, false},
        {"https://github.com", "/srv/git/app.git", false, false},
        {"https://github.com", "file:///srv/git/app.git", false, false},
        {"https://github.com", "/srv/git/app.git", true, true},
        {"https://github.com", "file:///srv/git/app.git", true, true},
        {"https://github.com", "https://github.com/acme/app.git", true, true},
        {"https://github.com", "file://host/srv/git/app.git", true, false},
        {"https://github.com", "relative/app.git", true, false},
        {"https://github.com", "https://example.com/acme/app.git", true, false},
        {"https://github.com", "", true, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(policy_clone_url_allowed(cases[i].web, cases[i].local, cases[i].url) ==
                          cases[i].ok,
                      "%s (web %s, local %d): expected %s", cases[i].url, cases[i].web,
                      cases[i].local, cases[i].ok ? "allowed" : "refused");
    ck_assert(!policy_clone_url_allowed(NULL, false, "https://github.com/a/b.git"));
    ck_assert(!policy_clone_url_allowed("https://github.com", false, NULL));
    ck_assert(policy_operator_name_valid("dba-lead", 8));
    ck_assert(policy_operator_name_valid("A.b_c-9", 7));
    ck_assert(!policy_operator_name_valid("", 0));
    ck_assert(!policy_operator_name_valid("dba lead", 8));
    ck_assert(!policy_operator_name_valid("dba:lead", 8));
}
END_TEST

START_TEST(match_first_wins)
{
    policy_config *cfg = NULL;
    core_error err;
    const policy_region *r;

    ck_assert_int_eq(parse("{'server': {'listen': '127.0.0.1:8080'},"
                           " 'redis': {'url': 'redis://127.0.0.1:6379'},"
                           " 'regions': [{'name': 'a', 'timezone': 'UTC', 'hours': ['Mon "
                           "09:00-10:00']}],"
                           " 'policies': [{'repos': ['acme/payments', 'acme/ledger'], "
                           "'regions': ['a']},"
                           "   {'repos': ['acme/*'], 'regions': ['a']},"
                           "   {'repos': ['acme/payments-[0-9]'], 'regions': ['a']},"
                           "   {'repos': ['*/.github', 'oss-?/*'], 'regions': ['a']}],"
                           " 'people': [{'github': 'OctoCat', 'slack': 'U0OCTO'}]}",
                           &cfg, NULL, &err),
                     0);
    ck_assert_ptr_eq(policy_match(cfg, "acme/payments"), &cfg->policies[0]);
    ck_assert_ptr_eq(policy_match(cfg, "acme/ledger"), &cfg->policies[0]);
    ck_assert_ptr_eq(policy_match(cfg, "ACME/Payments"), &cfg->policies[0]);
    /* The earlier, broader pattern wins over a later, narrower one. */
    ck_assert_ptr_eq(policy_match(cfg, "acme/payments-2"), &cfg->policies[1]);
    ck_assert_ptr_eq(policy_match(cfg, "acme/web"), &cfg->policies[1]);
    ck_assert_ptr_eq(policy_match(cfg, "other/.github"), &cfg->policies[3]);
    ck_assert_ptr_eq(policy_match(cfg, "oss-1/lib"), &cfg->policies[3]);
    ck_assert_ptr_null(policy_match(cfg, "oss-12/lib"));
    ck_assert_ptr_null(policy_match(cfg, "other/web"));
    /* A '*' does not cross the '/'. */
    ck_assert_ptr_null(policy_match(cfg, "acme/web/extra"));
    ck_assert_ptr_null(policy_match(cfg, NULL));

    r = policy_region_find(cfg, "a");
    ck_assert_ptr_eq(r, &cfg->regions[0]);
    ck_assert_ptr_null(policy_region_find(cfg, "b"));
    ck_assert_ptr_null(policy_region_find(cfg, NULL));
    ck_assert_str_eq(policy_person_slack(cfg, "octocat"), "U0OCTO");
    ck_assert_ptr_null(policy_person_slack(cfg, "hubot"));
    ck_assert_ptr_null(policy_person_slack(cfg, NULL));
    policy_config_free(cfg);
    policy_config_free(NULL);
    policy_problems_free(NULL);
}
END_TEST

/* ---- secrets ------------------------------------------------------------------------------- */

START_TEST(sentinel_settings_applied)
{
    policy_config *cfg = NULL;
    policy_problems pr = {0};
    core_error err;
    char doc[1024];
    int rc;

    snprintf(doc, sizeof(doc),
             "{'server':%s,'redis':{'sentinel':{'master':'zoneci-main','nodes':['10.0.0.1:26379',"
             "'[::1]:26380','sentinel-3.internal:26381'],'username':'zoneci',"
             "'password_env':'ZT_REDIS_PW','sentinel_password_file':'/etc/zoneci/sentinel.pw',"
             "'db':3},'wait_replica_ms':0},'regions':%s,'policies':%s}",
             SERVER, REGIONS, POLICIES);
    rc = parse(doc, &cfg, &pr, &err);
    if (rc != 0)
        dump(&pr);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_null(cfg->redis.url);
    ck_assert(cfg->redis.sentinel.present);
    ck_assert_str_eq(cfg->redis.sentinel.master, "zoneci-main");
    ck_assert_uint_eq(cfg->redis.sentinel.n_nodes, 3);
    ck_assert_str_eq(cfg->redis.sentinel.nodes[1], "[::1]:26380");
    ck_assert_str_eq(cfg->redis.sentinel.username, "zoneci");
    ck_assert_str_eq(cfg->redis.sentinel.password.env, "ZT_REDIS_PW");
    ck_assert_ptr_null(cfg->redis.sentinel.password.file);
    ck_assert_ptr_null(cfg->redis.sentinel.sentinel_password.env);
    ck_assert_str_eq(cfg->redis.sentinel.sentinel_password.file, "/etc/zoneci/sentinel.pw");
    ck_assert_int_eq(cfg->redis.sentinel.db, 3);
    ck_assert_int_eq(cfg->redis.wait_replica_ms, 0);
    policy_config_free(cfg);
    policy_problems_free(&pr);

    /* With a url: no sentinel, and WAIT on by default. */
    snprintf(doc, sizeof(doc), "{'server':%s,'redis':%s,'regions':%s,'policies':%s}", SERVER, REDIS,
             REGIONS, POLICIES);
    ck_assert_int_eq(parse(doc, &cfg, &pr, &err), 0);
    ck_assert(!cfg->redis.sentinel.present);
    ck_assert_ptr_null(cfg->redis.sentinel.password.env);
    ck_assert_int_eq(cfg->redis.wait_replica_ms, 500);
    policy_config_free(cfg);
    policy_problems_free(&pr);
}
END_TEST

START_TEST(secret_from_env_and_file)
{
    char *dir = ts_tmpdir();
    char *file = ts_write_file(dir, "secret", "from-file-value\n");
    char *empty = ts_write_file(dir, "empty", "\n");
    char var[64];
    policy_secret_ref ref = {.env = var, .file = file};
    char *value = NULL;
    core_error err;

    /* A name that nothing else in the environment uses. */
    snprintf(var, sizeof(var), "ZONECI_TEST_SECRET_%ld", (long)getpid());
    unsetenv(var);

    ck_assert_int_eq(setenv(var, "from-env-value", 1), 0);
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), 0);
    ck_assert_str_eq(value, "from-env-value");
    free(value);

    /* An empty variable counts as unset: the file is read, its newline dropped. */
    ck_assert_int_eq(setenv(var, "", 1), 0);
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), 0);
    ck_assert_str_eq(value, "from-file-value");
    free(value);
    unsetenv(var);
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), 0);
    ck_assert_str_eq(value, "from-file-value");
    free(value);

    /* Neither holds a value: the message names the variable, never a value. */
    ref.file = NULL;
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), CORE_ENOTFOUND);
    ck_assert_ptr_null(value);
    ck_assert_ptr_nonnull(strstr(err.msg, var));

    ref.file = empty;
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), CORE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    ck_assert_ptr_nonnull(strstr(err.msg, empty));

    ref.env = NULL;
    ref.file = NULL;
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), CORE_ENOTFOUND);

    free(file);
    free(empty);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(secret_file_errors)
{
    char *dir = ts_tmpdir();
    char *big_text = malloc(64 * 1024 + 2);
    char *big, *missing;
    policy_secret_ref ref = {0};
    char *value = NULL;
    core_error err;

    memset(big_text, 'k', 64 * 1024 + 1);
    big_text[64 * 1024 + 1] = '\0';
    big = ts_write_file(dir, "big", big_text);
    ref.file = big;
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), CORE_ETOOBIG);
    ck_assert_ptr_null(value);
    ck_assert_ptr_nonnull(strstr(err.msg, big));
    ck_assert_ptr_null(strstr(err.msg, "kkkk"));

    /* Exactly 64 KiB is allowed. */
    big_text[64 * 1024] = '\0';
    free(big);
    big = ts_write_file(dir, "big", big_text);
    ref.file = big;
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), 0);
    ck_assert_uint_eq(strlen(value), 64 * 1024);
    free(value);

    missing = ts_write_file(dir, "gone", "x");
    unlink(missing);
    ref.file = missing;
    ck_assert_int_eq(policy_secret_read(&ref, &value, &err), CORE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));

    free(missing);
    free(big);
    free(big_text);
    ts_rmtree(dir);
    free(dir);
}
END_TEST

Suite *suite_policies_config(void)
{
    Suite *s = suite_create("policies_config");
    TCase *tc = tcase_create("validate");
    TCase *ok = tcase_create("load");
    TCase *look = tcase_create("lookups");

    tcase_add_test(tc, bad_case_base_is_valid);
    tcase_add_loop_test(tc, bad_config, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, syntax_error_has_line);
    tcase_add_test(tc, duplicate_key_rejected);
    tcase_add_test(tc, root_not_object);
    tcase_add_test(tc, problem_lines);
    tcase_add_test(tc, every_problem_reported);
    tcase_add_test(tc, problems_are_capped);
    suite_add_tcase(s, tc);
    tcase_add_test(ok, spec_example_loads);
    tcase_add_test(ok, defaults_applied);
    tcase_add_test(ok, overrides_applied);
    tcase_add_test(ok, migration_settings_applied);
    tcase_add_test(ok, every_sql_rule_settable);
    tcase_add_test(tc, migration_settings_every_problem);
    tcase_add_test(ok, examples_load);
    tcase_add_test(ok, load_errors);
    suite_add_tcase(s, ok);
    tcase_add_test(look, match_first_wins);
    tcase_add_test(ok, sentinel_settings_applied);
    tcase_add_test(look, clone_url_and_operator_settings);
    tcase_add_test(look, clone_urls_only_from_github);
    tcase_add_test(look, secret_from_env_and_file);
    tcase_add_test(look, secret_file_errors);
    suite_add_tcase(s, look);
    return s;
}
