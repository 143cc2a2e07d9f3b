/* webhooks/slack_commands.c: reading a `/zoneci` slash command's form and text, pure; and
 * the mrkdwn escaping every Slack answer uses (webhooks/slack.c). The handler is tested end
 * to end in tests/e2e/test_slash.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/slack.h"

static int parse(const char *form, wh_slack_command *c, core_error *err)
{
    return wh_slack_command_parse(form, strlen(form), NULL, c, err);
}

/* A form with Slack's usual fields around text (already URL-encoded). */
static int parse_text(const char *encoded_text, wh_slack_command *c)
{
    char form[8192];
    core_error err = {0};
    int rc;

    snprintf(form, sizeof(form),
             "token=x&team_id=T1&team_domain=acme&channel_id=C0123&channel_name=ops&"
             "user_id=U0DBA1&user_name=dba&command=%%2Fzoneci&text=%s&api_app_id=A1&"
             "response_url=https%%3A%%2F%%2Fhooks.slack.com%%2Fcommands%%2F1&trigger_id=1.2",
             encoded_text);
    rc = parse(form, c, &err);
    ck_assert_msg(rc == 0, "form refused: %s", err.msg);
    return rc;
}

START_TEST(form_fields_are_decoded)
{
    wh_slack_command c;

    parse_text("status+acme%2Fapp%2342", &c);
    ck_assert_str_eq(c.command, "/zoneci");
    ck_assert_str_eq(c.user, "U0DBA1");
    ck_assert_str_eq(c.channel, "C0123");
    ck_assert_str_eq(c.response_url, "https://hooks.slack.com/commands/1");
    ck_assert_str_eq(c.text, "status acme/app#42");
    ck_assert_int_eq(c.sub, WH_SLACK_SUB_STATUS);
    ck_assert_str_eq(c.repo, "acme/app");
    ck_assert_int_eq(c.pr, 42);
    ck_assert(!c.bad_arg);
}
END_TEST

START_TEST(sub_commands_ignore_case_and_blanks)
{
    static const struct {
        const char *text;
        wh_slack_sub sub;
    } cases[] = {
        {"", WH_SLACK_SUB_HELP},
        {"+++", WH_SLACK_SUB_HELP},
        {"help", WH_SLACK_SUB_HELP},
        {"HeLp", WH_SLACK_SUB_HELP},
        {"windows", WH_SLACK_SUB_WINDOWS},
        {"++WINDOWS%09%0A", WH_SLACK_SUB_WINDOWS},
        {"oncall", WH_SLACK_SUB_ONCALL},
        {"OnCall+extra+words", WH_SLACK_SUB_ONCALL},
        {"status+a%2Fb%231", WH_SLACK_SUB_STATUS},
        {"Status+++a%2Fb%231++", WH_SLACK_SUB_STATUS},
        {"deploy", WH_SLACK_SUB_UNKNOWN},
        {"windowsx", WH_SLACK_SUB_UNKNOWN},
        {"win", WH_SLACK_SUB_UNKNOWN},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wh_slack_command c;

        parse_text(cases[i].text, &c);
        ck_assert_msg(c.sub == cases[i].sub, "case %zu (%s): sub %d, want %d", i, cases[i].text,
                      (int)c.sub, (int)cases[i].sub);
    }
}
END_TEST

START_TEST(unknown_word_is_kept_cut_whole)
{
    wh_slack_command c;
    char text[200] = "", enc[800] = "";

    parse_text("Deploy%3Cnow%3E+please", &c);
    ck_assert_int_eq(c.sub, WH_SLACK_SUB_UNKNOWN);
    ck_assert_str_eq(c.word, "Deploy<now>");
    /* 31 ASCII bytes then "é" (2 bytes): the cut falls inside it, so it goes whole. */
    memset(text, 'x', 31);
    snprintf(enc, sizeof(enc), "%s%%C3%%A9yz", text);
    parse_text(enc, &c);
    ck_assert_int_eq(c.sub, WH_SLACK_SUB_UNKNOWN);
    ck_assert_int_eq(strlen(c.word), 31);
}
END_TEST

START_TEST(status_reads_refs_and_urls)
{
    static const struct {
        const char *text, *repo;
        int64_t pr;
    } ok[] = {
        {"status+acme%2Fapp%2342", "acme/app", 42},
        {"status+Acme-Corp%2Fmy.app_2%237", "Acme-Corp/my.app_2", 7},
        {"status+https%3A%2F%2Fgithub.com%2Facme%2Fapp%2Fpull%2F42", "acme/app", 42},
        {"status+https%3A%2F%2Fgithub.com%2Facme%2Fapp%2Fpull%2F42%2Ffiles", "acme/app", 42},
        {"status+https%3A%2F%2FGitHub.com%2Facme%2Fapp%2Fpull%2F9%23discussion", "acme/app", 9},
        {"status+%3Chttps%3A%2F%2Fgithub.com%2Facme%2Fapp%2Fpull%2F5%3E", "acme/app", 5},
        {"status+%3Chttps%3A%2F%2Fgithub.com%2Facme%2Fapp%2Fpull%2F5%7Cacme%2Fapp%235%3E",
         "acme/app", 5},
    };
    static const char *const bad[] = {
        "status",
        "status+acme%2Fapp",
        "status+acme%2Fapp%23",
        "status+acme%2Fapp%230",
        "status+acme%2Fapp%2342x",
        "status+acme%23app%2F42",
        "status+acme%2Fapp%2342+extra",
        "status+%2Fapp%2342",
        "status+acme%2F%2342",
        "status+acme%2F..%2342",
        "status+ac_me%2Fapp%2342",
        "status+acme%2Fa%2Fb%2342",
        "status+acme%2Fapp%231234567890123456789",
        "status+https%3A%2F%2Fevil.example%2Facme%2Fapp%2Fpull%2F42",
        "status+https%3A%2F%2Fgithub.com%2Facme%2Fapp%2Fissues%2F42",
        "status+https%3A%2F%2Fgithub.com%2Facme%2Fapp%2Fpull%2F",
        "status+https%3A%2F%2Fgithub.com%2Facme%2Fx%2Fy%2Fpull%2F4",
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        wh_slack_command c;

        parse_text(ok[i].text, &c);
        ck_assert_msg(c.sub == WH_SLACK_SUB_STATUS && !c.bad_arg, "ok case %zu refused", i);
        ck_assert_str_eq(c.repo, ok[i].repo);
        ck_assert_int_eq(c.pr, ok[i].pr);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_slack_command c;

        parse_text(bad[i], &c);
        ck_assert_int_eq(c.sub, WH_SLACK_SUB_STATUS);
        ck_assert_msg(c.bad_arg, "bad case %zu (%s) read as %s#%lld", i, bad[i], c.repo,
                      (long long)c.pr);
        ck_assert_str_eq(c.repo, "");
    }
}
END_TEST

START_TEST(status_urls_follow_web_url)
{
    const char *form = "command=%2Fzoneci&user_id=U1&text=status+https%3A%2F%2Fghe.example.com"
                       "%2Facme%2Fapp%2Fpull%2F3";
    wh_slack_command c;
    core_error err = {0};

    ck_assert_int_eq(
        wh_slack_command_parse(form, strlen(form), "https://ghe.example.com/", &c, &err), 0);
    ck_assert(!c.bad_arg);
    ck_assert_str_eq(c.repo, "acme/app");
    ck_assert_int_eq(c.pr, 3);
    ck_assert_int_eq(parse(form, &c, &err), 0);
    ck_assert(c.bad_arg);
}
END_TEST

START_TEST(form_refuses_what_it_cannot_trust)
{
    static const struct {
        const char *form, *field;
        int rc;
    } bad[] = {
        {"text=help", "command", CORE_EINVAL},
        {"command=zoneci&user_id=U1", "command", CORE_EINVAL},
        {"command=%2F&user_id=U1", "command", CORE_EINVAL},
        {"command=%2Fzo+neci&user_id=U1", "command", CORE_EINVAL},
        {"command=%2Fzoneci", "user_id", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U-1", "user_id", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&text=a%00b", "text", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&text=a%1Bb", "text", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&text=%C3", "text", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&text=%FFx", "text", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&text=50%", "text", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&text=%zz", "text", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&channel_id=C%3B1", "channel_id", CORE_EINVAL},
        {"command=%2Fzoneci&user_id=U1&response_url=http%3A%2F%2Fx", "response_url", CORE_EINVAL},
        {"command=%2Fzoneci%2Fzoneci%2Fzoneci%2Fzoneci%2Fzoneci&user_id=U1", "command",
         CORE_ETOOBIG},
        {"command=%2Fzoneci&user_id=U123456789012345678901234567890123", "user_id", CORE_ETOOBIG},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wh_slack_command c;
        core_error err = {0};

        ck_assert_msg(parse(bad[i].form, &c, &err) == bad[i].rc, "case %zu: got \"%s\"", i,
                      err.msg);
        ck_assert_msg(strstr(err.msg, bad[i].field), "case %zu: \"%s\" does not name %s", i,
                      err.msg, bad[i].field);
        ck_assert_str_eq(c.user, "");
    }
}
END_TEST

START_TEST(text_is_bounded)
{
    size_t n = WH_SLACK_TEXT_MAX + 1;
    char *form = malloc(n + 64),
         *text = form + sprintf(form, "command=%%2Fzoneci&user_id=U1&text=");
    wh_slack_command c;
    core_error err = {0};

    memset(text, 'a', n);
    text[n] = '\0';
    ck_assert_int_eq(parse(form, &c, &err), CORE_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "text"));
    text[n - 1] = '\0';
    ck_assert_int_eq(parse(form, &c, &err), 0);
    ck_assert_int_eq(strlen(c.text), WH_SLACK_TEXT_MAX);
    ck_assert_int_eq(c.sub, WH_SLACK_SUB_UNKNOWN);
    free(form);
    /* The whole form is capped too, whatever it holds. */
    form = calloc(1, WH_SLACK_FORM_MAX + 2);
    memset(form, 'x', WH_SLACK_FORM_MAX + 1);
    ck_assert_int_eq(wh_slack_command_parse(form, WH_SLACK_FORM_MAX + 1, NULL, &c, &err),
                     CORE_ETOOBIG);
    free(form);
}
END_TEST

START_TEST(first_occurrence_wins_and_others_are_ignored)
{
    wh_slack_command c;
    core_error err = {0};

    ck_assert_int_eq(parse("x=%zz&command=%2Fzoneci&user_id=U1&user_id=U2&text=oncall&"
                           "text=windows&&=&user_idx=bad",
                           &c, &err),
                     0);
    ck_assert_str_eq(c.user, "U1");
    ck_assert_int_eq(c.sub, WH_SLACK_SUB_ONCALL);
    ck_assert_str_eq(c.channel, "");
    /* A form not even NUL-terminated where it ends. */
    {
        const char form[] = "command=%2Fzoneci&user_id=U9&text=helpXXXX";

        ck_assert_int_eq(wh_slack_command_parse(form, strlen(form) - 4, NULL, &c, &err), 0);
        ck_assert_str_eq(c.text, "help");
    }
}
END_TEST

START_TEST(escape_makes_mrkdwn_inert)
{
    core_buf b = {0};
    const char s[] = "<!channel> & <@U1|x> <https://evil|click> a&amp;b";

    ck_assert_int_eq(wh_slack_escape(&b, s, strlen(s)), 0);
    ck_assert_str_eq(b.data, "&lt;!channel&gt; &amp; &lt;@U1|x&gt; &lt;https://evil|click&gt; "
                             "a&amp;amp;b");
    core_buf_reset(&b);
    ck_assert_int_eq(wh_slack_escape(&b, "plain", 5), 0);
    ck_assert_str_eq(b.data, "plain");
    core_buf_free(&b);
}
END_TEST

Suite *suite_webhooks_slack_commands(void)
{
    Suite *s = suite_create("webhooks_slack_commands");
    TCase *tc = tcase_create("command");

    tcase_add_test(tc, form_fields_are_decoded);
    tcase_add_test(tc, sub_commands_ignore_case_and_blanks);
    tcase_add_test(tc, unknown_word_is_kept_cut_whole);
    tcase_add_test(tc, status_reads_refs_and_urls);
    tcase_add_test(tc, status_urls_follow_web_url);
    tcase_add_test(tc, form_refuses_what_it_cannot_trust);
    tcase_add_test(tc, text_is_bounded);
    tcase_add_test(tc, first_occurrence_wins_and_others_are_ignored);
    tcase_add_test(tc, escape_makes_mrkdwn_inert);
    suite_add_tcase(s, tc);
    return s;
}
