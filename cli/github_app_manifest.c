/* `zoneci github-app-manifest --url URL [--name NAME]`: the manifest for GitHub's "create
 * a GitHub App from a manifest" flow, so that an App is registered with exactly the
 * webhook URL, events and permissions zoneci uses, and nothing more (least privilege):
 *   pull_requests: read   to receive pull_request events (GitHub ties the event to it);
 *   contents: read        to fetch the head commit of a private repository for inspection;
 *   statuses: write       the commit statuses zoneci puts on the head commit;
 *   checks: write         the "zoneci / migrations" check run with its annotations, and
 *                         the check_run events of its "Re-run" button;
 *   metadata: read        which every App has.
 * The webhook secret is not in a manifest: GitHub generates one and returns it with the
 * App's credentials at the end of the flow. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define URL_MAX 2048
#define NAME_MAX_LEN 34 /* GitHub's limit on an App's name */

/* Why url cannot be the App's base URL, or NULL when it can: http(s), a host, no user
 * name, query or fragment (GitHub would post to the query too), no blanks. */
static const char *url_problem(const char *url)
{
    const char *host;

    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return "must start with https:// (or http:// behind a proxy that adds TLS)";
    if (!*host || *host == '/')
        return "has no host";
    if (strlen(url) >= URL_MAX)
        return "is too long";
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "contains a blank or a control character";
    }
    if (strpbrk(url, "?#"))
        return "must not have a query or a fragment";
    if (strchr(host, '@'))
        return "must not carry a user name or password";
    return NULL;
}

static json_t *manifest(const char *base, const char *name)
{
    char hook[URL_MAX + 32];

    snprintf(hook, sizeof(hook), "%s/webhooks/github", base);
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:b}, s:b, s:{s:s, s:s, s:s, s:s, s:s}, s:[s, s]}",
                     "name", name, "url", base, "description",
                     "Time-zone-aware CI: risky migrations approved by the region awake now, "
                     "builds routed to the regions at work.",
                     "hook_attributes", "url", hook, "active", 1, "public", 0,
                     "default_permissions", "contents", "read", "metadata", "read", "pull_requests",
                     "read", "statuses", "write", "checks", "write", "default_events",
                     "pull_request", "check_run");
}

int cli_github_app_manifest(int argc, char **argv)
{
    const char *url = NULL, *name = "zoneci", *why;
    char base[URL_MAX];
    size_t n;
    json_t *m;
    char *text;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else {
            fprintf(stderr,
                    "zoneci: github-app-manifest: unexpected argument \"%s\"\n"
                    "usage: zoneci github-app-manifest --url URL [--name NAME]\n",
                    argv[i]);
            return 2;
        }
    }
    if (!url) {
        fprintf(stderr, "zoneci: github-app-manifest: --url is required (zoneci's public "
                        "base URL, e.g. https://ci.example.com)\n");
        return 2;
    }
    why = url_problem(url);
    if (why) {
        fprintf(stderr, "zoneci: github-app-manifest: --url \"%s\" %s\n", url, why);
        return 2;
    }
    n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN) {
        fprintf(stderr, "zoneci: github-app-manifest: --name must be 1 to %d characters\n",
                NAME_MAX_LEN);
        return 2;
    }
    snprintf(base, sizeof(base), "%s", url);
    for (n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        base[n - 1] = '\0';
    m = manifest(base, name);
    text = m ? json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    if (!text) {
        fprintf(stderr, "zoneci: github-app-manifest: out of memory\n");
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}
