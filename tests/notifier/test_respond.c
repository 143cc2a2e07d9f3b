/* notifier/respond.c: which response_urls a click's answer may go to (the URL is outside
 * input: only Slack's hosts, or the configured api_url's exact origin), and the POST itself
 * against a local peer: the body Slack wants, no credentials, and what each answer means. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "tests/support/support.h"

#define API "https://slack.com/api"

static bool ok(const char *url, const char *api)
{
    return notify_slack_response_url_ok(url, api, NULL);
}

START_TEST(slack_hosts_accepted)
{
    const char *why = "x";

    ck_assert(notify_slack_response_url_ok("https://hooks.slack.com/actions/T0/1/abc", API, &why));
    ck_assert_ptr_null(why);
    ck_assert(ok("https://hooks.slack.com/app/T111/123/xyz", NULL));
    ck_assert(ok("https://hooks.slack-gov.com/actions/T0/1/abc", NULL));
    ck_assert(ok("https://HOOKS.Slack.COM/actions/T0/1/abc", NULL));
    ck_assert(ok("https://hooks.slack.com:443/actions/T0/1/abc", NULL));
    ck_assert(ok("https://hooks.slack.com/actions/T0/1/a%2Fb?x=1", NULL));
}
END_TEST

START_TEST(other_hosts_refused)
{
    const char *why = NULL;

    ck_assert(!notify_slack_response_url_ok("https://hooks.slack.com.evil.com/a", API, &why));
    ck_assert_ptr_nonnull(why);
    ck_assert(strstr(why, "not Slack's host"));
    ck_assert(!ok("https://evil.com/hooks.slack.com/a", API));
    ck_assert(!ok("https://evilhooks.slack.com/a", API));
    ck_assert(!ok("https://slack.com/api/chat.postMessage", NULL)); /* no api_url given */
    ck_assert(!ok("https://hooks.slack.com./a", API));              /* trailing dot */
    ck_assert(!ok("https://.hooks.slack.com/a", API));
    ck_assert(!ok("https://127.0.0.1/a", API));  /* IP literals */
    ck_assert(!ok("https://2130706433/a", API)); /* 127.0.0.1 as one number */
    ck_assert(!ok("https://[::1]/a", API));
    ck_assert(!ok("https://169.254.169.254/latest/meta-data", API));
}
END_TEST

START_TEST(schemes_and_ports)
{
    ck_assert(!ok("http://hooks.slack.com/a", API)); /* Slack's hosts: https only */
    ck_assert(!ok("https://hooks.slack.com:8443/a", API));
    ck_assert(!ok("https://hooks.slack.com:80/a", API));
    ck_assert(!ok("https://hooks.slack.com:/a", API));
    ck_assert(!ok("https://hooks.slack.com:443x/a", API));
    ck_assert(!ok("https://hooks.slack.com:99999/a", API));
    ck_assert(!ok("https://hooks.slack.com:000000443/a", API));
    ck_assert(!ok("ftp://hooks.slack.com/a", API));
    ck_assert(!ok("HTTPS://hooks.slack.com/a", API));
    ck_assert(!ok("//hooks.slack.com/a", API));
    ck_assert(!ok("hooks.slack.com/a", API));
    ck_assert(!ok("javascript:alert(1)", API));
    ck_assert(!ok("file:///etc/passwd", API));
}
END_TEST

START_TEST(userinfo_and_encoding_tricks_refused)
{
    ck_assert(!ok("https://hooks.slack.com@evil.com/a", API));
    ck_assert(!ok("https://user:pw@hooks.slack.com/a", API));
    ck_assert(!ok("https://evil.com#@hooks.slack.com/a", API));
    ck_assert(!ok("https://evil.com\\@hooks.slack.com/a", API));
    ck_assert(!ok("https://hooks%2eslack.com/a", API));
    ck_assert(!ok("https://hooks.slack.com%00.evil.com/a", API));
    ck_assert(!ok("https://hooks.slack.com%2F@evil.com/a", API));
    ck_assert(!ok("https://hooks.slack.com /a", API));
    ck_assert(!ok("https://hooks.slack.com/a b", API));
    ck_assert(!ok("https://hooks.slack.com/a\r\nX-Evil: 1", API));
    ck_assert(!ok("https://hooks.slack.com\t/a", API));
    ck_assert(!ok("https://hooks.slack.com/a#frag", API));
    ck_assert(!ok("https://hooks.slack.com", API)); /* no path */
    ck_assert(!ok("https://hooks.slack.com?x=1", API));
    ck_assert(!ok("https://hooks.sl\xc3\xa4"
                  "ck.com/a",
                  API));
    ck_assert(!ok("", API));
    ck_assert(!ok(NULL, API));
}
END_TEST

START_TEST(length_is_bounded)
{
    char url[NOTIFY_SLACK_RESPONSE_URL_MAX + 2];
    size_t n = strlen("https://hooks.slack.com/");

    memcpy(url, "https://hooks.slack.com/", n);
    memset(url + n, 'a', sizeof(url) - n - 1);
    url[NOTIFY_SLACK_RESPONSE_URL_MAX] = '\0';
    ck_assert(ok(url, API));
    url[NOTIFY_SLACK_RESPONSE_URL_MAX] = 'a';
    url[NOTIFY_SLACK_RESPONSE_URL_MAX + 1] = '\0';
    ck_assert(!ok(url, API));
}
END_TEST

/* The configured api_url's origin (a proxy, a gateway, a test peer): scheme, host and port
 * all equal, the path anything. */
START_TEST(api_url_origin_accepted_exactly)
{
    const char *local = "http://127.0.0.1:8099/slack";

    ck_assert(ok("http://127.0.0.1:8099/respond/1", local));
    ck_assert(!ok("http://127.0.0.1:8098/respond/1", local));
    ck_assert(!ok("https://127.0.0.1:8099/respond/1", local));
    ck_assert(!ok("http://127.0.0.2:8099/respond/1", local));
    ck_assert(!ok("http://localhost:8099/respond/1", local));
    ck_assert(!ok("http://127.0.0.1/respond/1", local));
    ck_assert(ok("https://slack.example.com/r/1", "https://slack.example.com/api"));
    ck_assert(ok("https://slack.example.com:443/r/1", "https://SLACK.example.com/api/"));
    ck_assert(!ok("https://slack.example.com.evil/r/1", "https://slack.example.com/api"));
    ck_assert(!ok("http://slack.example.com/r/1", "https://slack.example.com/api"));
    /* An api_url that is itself not a plain origin grants nothing. */
    ck_assert(!ok("https://evil.com/r/1", "https://user@evil.com/api"));
    ck_assert(!ok("https://evil.com/r/1", "not a url"));
}
END_TEST

/* ---- the POST against a local peer ---------------------------------------------------- */

typedef struct seen {
    int calls;
    unsigned answer;
    char body[1024];
    char auth[128];
    char content_type[128];
} seen;

static void play(void *ctx, const ts_peer_request *req, ts_peer_answer *ans)
{
    seen *s = ctx;

    s->calls++;
    snprintf(s->body, sizeof(s->body), "%s", req->body);
    snprintf(s->auth, sizeof(s->auth), "%s", req->authorization);
    snprintf(s->content_type, sizeof(s->content_type), "%s", req->content_type);
    ans->status = s->answer ? s->answer : 200;
    ans->retry_after = ans->status == 429 ? "7" : NULL;
    snprintf(ans->body, sizeof(ans->body), "%s", ans->status == 200 ? "ok" : "expired_url");
}

START_TEST(respond_posts_what_slack_wants)
{
    seen *s = calloc(1, sizeof(*s));
    ts_peer *p = ts_peer_start(play, s);
    notify_http *h = NULL;
    char url[128], api[128];
    core_error err = {0};
    int retry = -1;
    json_t *j;

    ck_assert_int_eq(notify_http_new(&h, &err), 0);
    snprintf(url, sizeof(url), "%s/respond/T1/2/abc", ts_peer_base(p));
    snprintf(api, sizeof(api), "%s/slack", ts_peer_base(p));
    ck_assert_msg(notify_slack_respond(h, url, api, "Nothing <changed> & \"so\"", &retry, &err) ==
                      0,
                  "%s", err.msg);
    ck_assert_int_eq(retry, 0);
    ts_peer_lock(p);
    ck_assert_int_eq(s->calls, 1);
    ck_assert_str_eq(s->auth, "");
    ck_assert_ptr_nonnull(strstr(s->content_type, "application/json"));
    j = json_loads(s->body, 0, NULL);
    ts_peer_unlock(p);
    ck_assert_str_eq(json_string_value(json_object_get(j, "response_type")), "ephemeral");
    ck_assert(json_is_false(json_object_get(j, "replace_original")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "text")), "Nothing <changed> & \"so\"");
    json_decref(j);

    s->answer = 404;
    ck_assert_int_eq(notify_slack_respond(h, url, api, "x", &retry, &err), CORE_ENOTFOUND);
    s->answer = 429;
    ck_assert_int_eq(notify_slack_respond(h, url, api, "x", &retry, &err), CORE_EAGAIN);
    ck_assert_int_eq(retry, 7);
    s->answer = 503;
    ck_assert_int_eq(notify_slack_respond(h, url, api, "x", &retry, &err), CORE_EUNAVAILABLE);
    s->answer = 400;
    ck_assert_int_eq(notify_slack_respond(h, url, api, "x", &retry, &err), CORE_EINVAL);
    ck_assert_int_eq(s->calls, 5);

    /* Refused before any request: without the peer's api_url, the peer is not Slack. */
    ck_assert_int_eq(notify_slack_respond(h, url, API, "x", &retry, &err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "refused"));
    ck_assert_int_eq(notify_slack_respond(h, url, api, "", &retry, &err), CORE_EINVAL);
    ck_assert_int_eq(s->calls, 5);
    notify_http_free(h);
    ts_peer_stop(p);
    free(s);
}
END_TEST

Suite *suite_notifier_respond(void)
{
    Suite *s = suite_create("notifier_respond");
    TCase *tc = tcase_create("respond");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, slack_hosts_accepted);
    tcase_add_test(tc, other_hosts_refused);
    tcase_add_test(tc, schemes_and_ports);
    tcase_add_test(tc, userinfo_and_encoding_tricks_refused);
    tcase_add_test(tc, length_is_bounded);
    tcase_add_test(tc, api_url_origin_accepted_exactly);
    tcase_add_test(tc, respond_posts_what_slack_wants);
    suite_add_tcase(s, tc);
    return s;
}
