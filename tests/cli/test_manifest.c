/* `zoneci github-app-manifest`: the manifest GitHub's App-from-manifest flow reads, run
 * through the real binary and read back with jansson. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/support.h"

static json_t *manifest_for(const char *url)
{
    char *argv[] = {"github-app-manifest", "--url", (char *)url, NULL};
    char *out = NULL, *err = NULL;
    json_error_t jerr;
    json_t *m;

    ck_assert_msg(ts_zoneci_run(argv, NULL, &out, &err) == 0, "exit: %s", err);
    m = json_loads(out, 0, &jerr);
    ck_assert_msg(m, "not JSON (%s): %s", jerr.text, out);
    free(out);
    free(err);
    return m;
}

START_TEST(webhook_events_and_least_permissions)
{
    json_t *m = manifest_for("https://ci.example.com/");
    json_t *perms = json_object_get(m, "default_permissions");
    json_t *events = json_object_get(m, "default_events");
    const char *key;
    json_t *v;

    /* The trailing slash is dropped, so the webhook path is not doubled. */
    ck_assert_str_eq(json_string_value(json_object_get(m, "url")), "https://ci.example.com");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(m, "hook_attributes"), "url")),
        "https://ci.example.com/webhooks/github");
    ck_assert(json_is_true(json_object_get(json_object_get(m, "hook_attributes"), "active")));
    ck_assert(json_is_false(json_object_get(m, "public")));
    ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "zoneci");
    /* Exactly what zoneci uses, nothing to write but statuses and checks. */
    ck_assert_uint_eq(json_object_size(perms), 5);
    ck_assert_str_eq(json_string_value(json_object_get(perms, "statuses")), "write");
    ck_assert_str_eq(json_string_value(json_object_get(perms, "checks")), "write");
    ck_assert_str_eq(json_string_value(json_object_get(perms, "contents")), "read");
    ck_assert_str_eq(json_string_value(json_object_get(perms, "pull_requests")), "read");
    ck_assert_str_eq(json_string_value(json_object_get(perms, "metadata")), "read");
    json_object_foreach(perms, key, v)
    {
        if (strcmp(key, "statuses") != 0 && strcmp(key, "checks") != 0)
            ck_assert_msg(strcmp(json_string_value(v), "read") == 0, "%s is not read-only", key);
    }
    ck_assert_uint_eq(json_array_size(events), 2);
    ck_assert_str_eq(json_string_value(json_array_get(events, 0)), "pull_request");
    ck_assert_str_eq(json_string_value(json_array_get(events, 1)), "check_run");
    json_decref(m);
}
END_TEST

START_TEST(bad_urls_and_names_are_refused_with_the_reason)
{
    static const struct {
        const char *arg, *value, *why;
    } bad[] = {
        {"--url", "ftp://ci.example.com", "must start with https://"},
        {"--url", "https://", "has no host"},
        {"--url", "https://ci.example.com/?x=1", "query"},
        {"--url", "https://user:pw@ci.example.com", "user name"},
        {"--url", "https://ci example.com", "blank"},
        {"--name", "", "1 to 34"},
        {"--name", "a-name-far-longer-than-github-allows", "1 to 34"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {"github-app-manifest",    "--url",
                        "https://ci.example.com", (char *)bad[i].arg,
                        (char *)bad[i].value,     NULL};
        char *out = NULL, *err = NULL;

        ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 2);
        ck_assert_msg(strstr(err, bad[i].why), "%s %s: %s", bad[i].arg, bad[i].value, err);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
}
END_TEST

START_TEST(url_is_required)
{
    char *argv[] = {"github-app-manifest", NULL};
    char *out = NULL, *err = NULL;

    ck_assert_int_eq(ts_zoneci_run(argv, NULL, &out, &err), 2);
    ck_assert(strstr(err, "--url is required"));
    free(out);
    free(err);
}
END_TEST

/* The Slack app's manifest in examples/ points at the routes the server registers for
 * clicks and for the slash command, and asks for the scopes the cards and the command
 * need. */
START_TEST(slack_manifest_names_the_interactions_route)
{
    char *y = ts_read_file("examples/slack-app-manifest.yaml", NULL);

    ck_assert_msg(y, "examples/slack-app-manifest.yaml is missing");
    ck_assert(strstr(y, "request_url: https://zoneci.example.com/webhooks/slack/interactions\n"));
    ck_assert(strstr(y, "is_enabled: true"));
    ck_assert(strstr(y, "- chat:write\n"));
    /* The slash command, at the route the server registers for it, with its scope. */
    ck_assert(strstr(y, "- command: /zoneci\n"));
    ck_assert(strstr(y, "url: https://zoneci.example.com/webhooks/slack/commands\n"));
    ck_assert(strstr(y, "should_escape: false\n"));
    ck_assert(strstr(y, "usage_hint: "));
    ck_assert(strstr(y, "- commands\n"));
    free(y);
}
END_TEST

Suite *suite_cli_manifest(void)
{
    Suite *s = suite_create("cli_manifest");
    TCase *tc = tcase_create("manifest");

    tcase_add_test(tc, webhook_events_and_least_permissions);
    tcase_add_test(tc, bad_urls_and_names_are_refused_with_the_reason);
    tcase_add_test(tc, url_is_required);
    tcase_add_test(tc, slack_manifest_names_the_interactions_route);
    suite_add_tcase(s, tc);
    return s;
}
