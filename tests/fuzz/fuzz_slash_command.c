/* libFuzzer target for the `/zoneci` slash command (webhooks/slack_commands.c): the form
 * parser on any body, and the text parser on any text (the input percent-encoded into a
 * form, so every byte reaches it), then mrkdwn escaping (webhooks/slack.c) of what was
 * read. Aborts when a parse that succeeds yields a field of the wrong shape (a command, a
 * user id, text over its cap or with a control character, a pull request that is not
 * OWNER/REPO and a positive number), or when escaped text still holds '<' or '>'. Run with
 * -artifact_prefix=build/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/slack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_chars(const char *s, size_t min, size_t max, const char *allowed)
{
    size_t n = strlen(s);

    if (n < min || n > max || strspn(s, allowed) != n)
        abort();
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static void check(const wh_slack_command *c)
{
    core_buf b = {0};

    if (c->command[0] != '/' || strlen(c->command) < 2 || strlen(c->command) > 32)
        abort();
    for (const char *p = c->command; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            abort();
    }
    check_chars(c->user, 1, WH_SLACK_USER_MAX, ALNUM);
    check_chars(c->channel, 0, WH_SLACK_USER_MAX, ALNUM);
    if (strlen(c->text) > WH_SLACK_TEXT_MAX || strlen(c->word) > WH_SLACK_WORD_MAX)
        abort();
    for (const char *p = c->text; *p; p++) {
        if (((unsigned char)*p < 0x20 && !strchr(" \t\r\n", *p)) || *p == 0x7f)
            abort();
    }
    if ((unsigned)c->sub > WH_SLACK_SUB_UNKNOWN)
        abort();
    if (c->sub == WH_SLACK_SUB_STATUS && !c->bad_arg) {
        const char *slash = strchr(c->repo, '/');

        if (!slash || c->pr <= 0 || strchr(slash + 1, '/'))
            abort();
        check_chars(c->repo, 3, WH_SLACK_REPO_MAX, ALNUM "-._/");
    } else if (c->repo[0] || c->pr != 0) {
        abort();
    }
    if (wh_slack_escape(&b, c->text, strlen(c->text)) == 0 && b.data &&
        (strchr(b.data, '<') || strchr(b.data, '>')))
        abort();
    core_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char head[] = "command=%2Fzoneci&user_id=U0FUZZ&text=";
    wh_slack_command *c = malloc(sizeof(*c));
    char *form;
    size_t n = size > WH_SLACK_TEXT_MAX ? WH_SLACK_TEXT_MAX : size, o;

    if (!c)
        return 0;
    if (wh_slack_command_parse((const char *)data, size, NULL, c, NULL) == 0)
        check(c);
    /* The input as the text. */
    form = malloc(sizeof(head) + 3 * n);
    if (form) {
        memcpy(form, head, sizeof(head) - 1);
        o = sizeof(head) - 1;
        for (size_t i = 0; i < n; i++)
            o += (size_t)sprintf(form + o, "%%%02X", data[i]);
        if (wh_slack_command_parse(form, o, "https://ghe.example.com/", c, NULL) == 0)
            check(c);
        free(form);
    }
    free(c);
    return 0;
}
