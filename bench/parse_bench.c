/* bench/parse_bench.c: wh_pr_event_parse against jansson's json_loadb on a generated
 * pull_request payload of about 28 KB, pretty-printed as in GitHub's documentation and
 * compact as deliveries arrive. A standalone program, never part of the tests:
 *
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -I. bench/parse_bench.c core/?*.c \
 *      webhooks/jscan.c webhooks/event.c -ljansson -o build/parse_bench
 *   build/parse_bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/core.h"
#include "webhooks/event.h"

#define SHA_HEAD "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
#define SHA_BASE "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"

static void put(core_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(core_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (core_buf_vprintf(b, fmt, ap) < 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    va_end(ap);
}

static void user(core_buf *b, const char *login, long id)
{
    static const char *const urls[] = {
        "followers",      "following{/other_user}", "gists{/gist_id}", "starred{/owner}{/repo}",
        "subscriptions",  "organizations",          "repos",           "events{/privacy}",
        "received_events"};

    put(b,
        "{\"login\":\"%s\",\"id\":%ld,\"node_id\":\"MDQ6VXNlcjIxMDMxMDY3\","
        "\"avatar_url\":\"https://avatars1.githubusercontent.com/u/%ld?v=4\","
        "\"gravatar_id\":\"\",\"url\":\"https://api.github.com/users/%s\","
        "\"html_url\":\"https://github.com/%s\"",
        login, id, id, login, login);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char key[32];

        snprintf(key, sizeof(key), "%.*s_url", (int)strcspn(urls[i], "{"), urls[i]);
        put(b, ",\"%s\":\"https://api.github.com/users/%s/%s\"", key, login, urls[i]);
    }
    put(b, ",\"type\":\"User\",\"site_admin\":false}");
}

static void repo(core_buf *b, const char *owner, const char *name, long id)
{
    static const char *const urls[] = {"forks",
                                       "keys{/key_id}",
                                       "collaborators{/collaborator}",
                                       "teams",
                                       "hooks",
                                       "issues/events{/number}",
                                       "events",
                                       "assignees{/user}",
                                       "branches{/branch}",
                                       "tags",
                                       "blobs{/sha}",
                                       "git/tags{/sha}",
                                       "git/refs{/sha}",
                                       "git/trees{/sha}",
                                       "statuses/{sha}",
                                       "languages",
                                       "stargazers",
                                       "contributors",
                                       "subscribers",
                                       "subscription",
                                       "commits{/sha}",
                                       "git/commits{/sha}",
                                       "comments{/number}",
                                       "issues/comments{/number}",
                                       "contents/{+path}",
                                       "compare/{base}...{head}",
                                       "merges",
                                       "{archive_format}{/ref}",
                                       "downloads",
                                       "issues{/number}",
                                       "pulls{/number}",
                                       "milestones{/number}",
                                       "notifications{?since,all,participating}",
                                       "labels{/name}",
                                       "releases{/id}",
                                       "deployments"};

    put(b,
        "{\"id\":%ld,\"node_id\":\"MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=\",\"name\":\"%s\","
        "\"full_name\":\"%s/%s\",\"private\":false,\"owner\":",
        id, name, owner, name);
    user(b, owner, 21031067);
    put(b,
        ",\"html_url\":\"https://github.com/%s/%s\",\"description\":\"A service that "
        "schedules builds across regions \\u2014 see \\\"docs/\\\"\",\"fork\":false,"
        "\"url\":\"https://api.github.com/repos/%s/%s\"",
        owner, name, owner, name);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char key[48];
        size_t n = strcspn(urls[i], "{/");

        snprintf(key, sizeof(key), "%.*s_url", (int)(n ? n : 7), n ? urls[i] : "archive");
        put(b, ",\"%s\":\"https://api.github.com/repos/%s/%s/%s\"", key, owner, name, urls[i]);
    }
    put(b,
        ",\"created_at\":\"2019-05-15T15:19:25Z\",\"updated_at\":\"2019-05-15T15:21:03Z\","
        "\"pushed_at\":\"2019-05-15T15:20:57Z\",\"git_url\":\"git://github.com/%s/%s.git\","
        "\"ssh_url\":\"git@github.com:%s/%s.git\",\"clone_url\":\"https://github.com/%s/%s.git\","
        "\"svn_url\":\"https://github.com/%s/%s\",\"homepage\":null,\"size\":0,"
        "\"stargazers_count\":0,\"watchers_count\":0,\"language\":\"C\",\"has_issues\":true,"
        "\"has_projects\":true,\"has_downloads\":true,\"has_wiki\":true,\"has_pages\":true,"
        "\"forks_count\":0,\"mirror_url\":null,\"archived\":false,\"disabled\":false,"
        "\"open_issues_count\":2,\"license\":null,\"forks\":0,\"open_issues\":2,"
        "\"watchers\":0,\"default_branch\":\"main\",\"topics\":[\"ci\",\"scheduler\","
        "\"time-zones\"],\"allow_squash_merge\":true,\"allow_merge_commit\":true,"
        "\"allow_rebase_merge\":true,\"delete_branch_on_merge\":false}",
        owner, name, owner, name, owner, name, owner, name);
}

static void branch(core_buf *b, const char *ref, const char *sha)
{
    put(b, "{\"label\":\"acme:%s\",\"ref\":\"%s\",\"sha\":\"%s\",\"user\":", ref, ref, sha);
    user(b, "acme", 21031067);
    put(b, ",\"repo\":");
    repo(b, "acme", "payments", 186853002);
    put(b, "}");
}

/* The PR description: prose with the escapes and non-ASCII text people paste. */
static void body_text(core_buf *b, size_t target)
{
    static const char *const lines[] = {
        "This change adds an index on users.email so that the login lookup stops scanning "
        "the whole table.\\r\\n",
        "- Migration: `CREATE INDEX CONCURRENTLY users_email_idx ON users (email);`\\r\\n",
        "- Rolled out behind the \\\"fast-login\\\" flag; see the runbook at "
        "https://wiki.example.com/runbooks/login\\r\\n",
        "\\tTested on a copy of production (12.4 M rows): p99 went from 840 ms to 3 ms.\\r\\n",
        "Reviewed with Zoë and José \\u2014 thanks! Tokyo on-call: \xe7\x94\xb0\xe4\xb8\xad\\r\\n",
        "Rollback: `DROP INDEX CONCURRENTLY users_email_idx;` (safe, no lock on writes)\\r\\n",
    };
    size_t start = b->len;

    for (size_t i = 0; b->len - start < target; i++)
        put(b, "%s", lines[i % (sizeof(lines) / sizeof(lines[0]))]);
}

static void payload(core_buf *b, size_t body_len)
{
    static const char *const labels[] = {"bug",         "database",    "needs-review",
                                         "performance", "region/apac", "size/M"};

    put(b, "{\"action\":\"opened\",\"number\":2,\"pull_request\":{"
           "\"url\":\"https://api.github.com/repos/acme/payments/pulls/2\","
           "\"id\":279147437,\"node_id\":\"MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3\","
           "\"html_url\":\"https://github.com/acme/payments/pull/2\","
           "\"diff_url\":\"https://github.com/acme/payments/pull/2.diff\","
           "\"patch_url\":\"https://github.com/acme/payments/pull/2.patch\","
           "\"issue_url\":\"https://api.github.com/repos/acme/payments/issues/2\","
           "\"number\":2,\"state\":\"open\",\"locked\":false,"
           "\"title\":\"Add users.email index \\u2014 \\\"fast login\\\"\",\"user\":");
    user(b, "mei-tanaka", 21031067);
    put(b, ",\"body\":\"");
    body_text(b, body_len);
    put(b, "\",\"created_at\":\"2019-05-15T15:20:33Z\",\"updated_at\":\"2019-05-15T15:20:33Z\","
           "\"closed_at\":null,\"merged_at\":null,\"merge_commit_sha\":null,\"assignee\":null,"
           "\"assignees\":[],\"requested_reviewers\":[");
    user(b, "jose-garcia", 583231);
    put(b, ",");
    user(b, "zoe-martin", 583232);
    put(b, "],\"requested_teams\":[],\"labels\":[");
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        put(b,
            "%s{\"id\":%zu,\"node_id\":\"MDU6TGFiZWwxMzYyOTM0Mzg5\","
            "\"url\":\"https://api.github.com/repos/acme/payments/labels/%s\",\"name\":\"%s\","
            "\"color\":\"d73a4a\",\"default\":%s,\"description\":\"Label %s, set by triage\"}",
            i ? "," : "", 1362934389 + i, labels[i], labels[i], i == 0 ? "true" : "false",
            labels[i]);
    }
    put(b, "],\"milestone\":null,\"draft\":false,"
           "\"commits_url\":\"https://api.github.com/repos/acme/payments/pulls/2/commits\","
           "\"review_comments_url\":\"https://api.github.com/repos/acme/payments/pulls/2/"
           "comments\",\"statuses_url\":\"https://api.github.com/repos/acme/payments/"
           "statuses/" SHA_HEAD "\",\"head\":");
    branch(b, "add-email-index", SHA_HEAD);
    put(b, ",\"base\":");
    branch(b, "main", SHA_BASE);
    put(b, ",\"_links\":{\"self\":{\"href\":\"https://api.github.com/repos/acme/payments/pulls/"
           "2\"},\"html\":{\"href\":\"https://github.com/acme/payments/pull/2\"}},"
           "\"author_association\":\"OWNER\",\"auto_merge\":null,\"active_lock_reason\":null,"
           "\"merged\":false,\"mergeable\":null,\"rebaseable\":null,\"mergeable_state\":"
           "\"unknown\",\"merged_by\":null,\"comments\":0,\"review_comments\":0,"
           "\"maintainer_can_modify\":false,\"commits\":3,\"additions\":42,\"deletions\":7,"
           "\"changed_files\":3},\"repository\":");
    repo(b, "acme", "payments", 186853002);
    put(b, ",\"installation\":{\"id\":2311213,\"node_id\":\"MDIzOkludGVncmF0aW9uMjMxMTIxMw==\"},"
           "\"sender\":");
    user(b, "mei-tanaka", 21031067);
    put(b, "}");
}

/* Re-indents compact JSON with two spaces, as GitHub's documented samples are. */
static void pretty(const core_buf *in, core_buf *out)
{
    int depth = 0;
    bool in_str = false;

    for (size_t i = 0; i < in->len; i++) {
        char c = in->data[i];

        if (in_str) {
            put(out, "%c", c);
            if (c == '\\')
                put(out, "%c", in->data[++i]);
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            put(out, "%c", c);
            break;
        case '{':
        case '[':
            if (in->data[i + 1] == (c == '{' ? '}' : ']')) {
                put(out, "%c%c", c, in->data[++i]);
                break;
            }
            depth++;
            put(out, "%c\n%*s", c, depth * 2, "");
            break;
        case '}':
        case ']':
            depth--;
            put(out, "\n%*s%c", depth * 2, "", c);
            break;
        case ',':
            put(out, ",\n%*s", depth * 2, "");
            break;
        case ':':
            put(out, ": ");
            break;
        default:
            put(out, "%c", c);
        }
    }
    put(out, "\n");
}

static void run(const char *label, const core_buf *doc, int iterations)
{
    wh_pr_event ev;
    core_error err;
    json_error_t jerr;
    int64_t t0, t_scan, t_jansson;
    double mb = (double)doc->len / 1e6;

    /* Both must agree that the document is good before timing anything. */
    if (wh_pr_event_parse(doc->data, doc->len, &ev, &err) < 0) {
        fprintf(stderr, "%s: wh_pr_event_parse: %s\n", label, err.msg);
        exit(1);
    }
    json_decref(json_loadb(doc->data, doc->len, 0, &jerr));

    t0 = core_time_mono_us();
    for (int i = 0; i < iterations; i++) {
        if (wh_pr_event_parse(doc->data, doc->len, &ev, &err) < 0)
            exit(1);
    }
    t_scan = core_time_mono_us() - t0;

    t0 = core_time_mono_us();
    for (int i = 0; i < iterations; i++) {
        json_t *root = json_loadb(doc->data, doc->len, 0, &jerr);

        if (!root) {
            fprintf(stderr, "%s: jansson: %s\n", label, jerr.text);
            exit(1);
        }
        json_decref(root);
    }
    t_jansson = core_time_mono_us() - t0;

    printf("%-8s %6zu bytes  wh_pr_event_parse %8.2f us %8.1f MB/s   json_loadb %8.2f us "
           "%7.1f MB/s   x%.1f\n",
           label, doc->len, (double)t_scan / iterations, mb * iterations / (t_scan / 1e6),
           (double)t_jansson / iterations, mb * iterations / (t_jansson / 1e6),
           (double)t_jansson / (double)t_scan);
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 20000;
    core_buf compact = {0}, indented = {0};
    size_t body_len = 512;

    if (iterations < 1) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    /* Grow the description until the pretty form is about 28 KB, a typical delivery. */
    payload(&compact, body_len);
    pretty(&compact, &indented);
    if (indented.len < 28 * 1024) {
        body_len += 28 * 1024 - indented.len;
        core_buf_reset(&compact);
        core_buf_reset(&indented);
        payload(&compact, body_len);
        pretty(&compact, &indented);
    }
    printf("%d iterations\n", iterations);
    run("pretty", &indented, iterations);
    run("compact", &compact, iterations);
    core_buf_free(&compact);
    core_buf_free(&indented);
    return 0;
}
