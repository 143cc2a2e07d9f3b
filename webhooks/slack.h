/* Slack (private to webhooks/): what POST /webhooks/slack/interactions reads from a click
 * and POST /webhooks/slack/commands from a `/zoneci` slash command, exposed for their tests
 * and fuzz targets, and what the two handlers share: the check that comes before any
 * parsing, the ephemeral answer and mrkdwn escaping (webhooks/slack.c). */
#ifndef ZONECI_WEBHOOKS_SLACK_H
#define ZONECI_WEBHOOKS_SLACK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

struct policy_config;
struct wh_request;
struct wh_response;

#define WH_SLACK_USER_MAX 32 /* characters of a Slack user id */
#define WH_SLACK_JOB_MAX 20  /* digits of a job id */
#define WH_SLACK_KEY_MIN 16  /* lower-case hex characters of a card key */
#define WH_SLACK_KEY_MAX 64
#define WH_SLACK_URL_MAX 1024 /* bytes of a response_url (NOTIFY_SLACK_RESPONSE_URL_MAX) */

/* Who clicked which button of which job, and the card key the button carried. */
typedef struct wh_slack_click {
    char user[WH_SLACK_USER_MAX + 1];
    char job[WH_SLACK_JOB_MAX + 1];
    char key[WH_SLACK_KEY_MAX + 1]; /* "" for a card from before card keys */
    bool approve;
    /* Where Slack takes an answer only the clicker sees ("" when the payload has none):
     * printable ASCII, at most WH_SLACK_URL_MAX bytes. Whose host it is, is checked where
     * it is used (notify_slack_response_url_ok). */
    char response_url[WH_SLACK_URL_MAX + 1];
} wh_slack_click;

/* Reads a click from the form's `payload` (block_actions JSON, len bytes, need not be
 * NUL-terminated): user.id (letters and digits), actions[0].action_id (zoneci_approve or
 * zoneci_reject) and actions[0].value: "JOB:KEY" (the job id, digits, and its card key,
 * WH_SLACK_KEY_MIN to WH_SLACK_KEY_MAX lower-case hex characters), or the bare job id of
 * a card posted before card keys; and response_url when present (a string of 1 to
 * WH_SLACK_URL_MAX printable ASCII characters, no spaces). CORE_EINVAL with the field
 * named when anything is missing or of the wrong shape. Pure; any thread. */
int wh_slack_click_parse(const char *payload, size_t len, wh_slack_click *out, core_error *err);

/* ---- what both endpoints share (webhooks/slack.c) ------------------------------------ */

/* The check before a byte of a Slack request's body is parsed: 404 slack_disabled when no
 * signing secret is configured; 401 bad_signature when X-Slack-Signature does not match
 * or X-Slack-Request-Timestamp is more than 5 minutes off (logged). True when the request
 * may be read; false when resp holds the answer. */
bool wh_slack_request_verified(const struct wh_request *req, struct wh_response *resp);

/* Sets resp to a 200 {"response_type":"ephemeral","replace_original":false,"text":text}:
 * a message only the command's caller sees. Slack shows an opaque error for anything but a
 * 200, so every answer a person should read goes this way. For a button click Slack shows
 * none of the HTTP answer: what the clicker must read goes through the click's response_url
 * as well (slack.c, respond_later). text is mrkdwn the caller has escaped (wh_slack_escape). */
void wh_slack_ephemeral(struct wh_response *resp, const char *text);

/* Appends s (len bytes) to b with Slack's three mrkdwn control characters escaped (&amp;
 * &lt; &gt;), so text from outside (a PR title, a reason, what a user typed) cannot become a
 * mention, a link or a broadcast. Returns core_buf_status. */
int wh_slack_escape(core_buf *b, const char *s, size_t len);

/* A Slack user or channel id: 1 to WH_SLACK_USER_MAX letters and digits. */
bool wh_slack_id_valid(const char *s);

/* Why Slack user `user` may not decide a job of repo opened by GitHub login `author` ("" when
 * unknown), as a sentence for them, or NULL when they may: they must be one of the policy's
 * approvers and must not be the author (through `people`); an unknown author fails closed.
 * The buttons and `/zoneci status`'s "who can approve" both ask this. */
const char *wh_slack_refusal(const struct policy_config *cfg, const char *repo, const char *author,
                             const char *user);

/* ---- the slash command (webhooks/slack_commands.c) ------------------------------------ */

#define WH_SLACK_FORM_MAX (64 * 1024) /* bytes of a command's form body */
#define WH_SLACK_COMMAND_MAX 32       /* "/zoneci" or whatever the app names it */
#define WH_SLACK_TEXT_MAX 4000        /* what Slack lets a person type after it */
#define WH_SLACK_CHANNEL_MAX 32
#define WH_SLACK_RESPONSE_URL_MAX 1024
#define WH_SLACK_WORD_MAX 32  /* a sub-command as typed, cut to this for the answer */
#define WH_SLACK_REPO_MAX 140 /* "owner/name": 39 + 1 + 100 */

typedef enum wh_slack_sub {
    WH_SLACK_SUB_HELP = 0, /* also for empty text */
    WH_SLACK_SUB_WINDOWS,
    WH_SLACK_SUB_STATUS,
    WH_SLACK_SUB_ONCALL,
    WH_SLACK_SUB_UNKNOWN, /* `word` holds what was typed */
} wh_slack_sub;

/* A slash command as Slack posts it (application/x-www-form-urlencoded), and what its text
 * asks for. */
typedef struct wh_slack_command {
    char command[WH_SLACK_COMMAND_MAX + 1];
    char text[WH_SLACK_TEXT_MAX + 1];
    char user[WH_SLACK_USER_MAX + 1];
    char channel[WH_SLACK_CHANNEL_MAX + 1];           /* "" when absent */
    char response_url[WH_SLACK_RESPONSE_URL_MAX + 1]; /* "" when absent */
    wh_slack_sub sub;
    char word[WH_SLACK_WORD_MAX + 1]; /* the sub-command as typed (UNKNOWN) */
    /* STATUS: the pull request, or bad_arg when the argument is not OWNER/REPO#PR nor a
     * pull request's URL (then repo is "" and pr 0). */
    char repo[WH_SLACK_REPO_MAX + 1];
    int64_t pr;
    bool bad_arg;
} wh_slack_command;

/* Reads a slash command's form (len bytes, need not be NUL-terminated; at most
 * WH_SLACK_FORM_MAX): `command` (required, "/" and up to WH_SLACK_COMMAND_MAX - 1
 * printable characters), `user_id` (required, letters and digits), `text` (optional, at
 * most WH_SLACK_TEXT_MAX bytes, no control characters but blanks), `channel_id` and
 * `response_url` (optional, bounded); other fields are ignored and the first occurrence of
 * a field wins. Then the text: a sub-command (case-insensitive; blanks around and between
 * words tolerated) and, for `status`, OWNER/REPO#PR or web_url + "/OWNER/REPO/pull/N"
 * (web_url NULL: https://github.com; Slack's "<URL>" or "<URL|label>" accepted).
 * CORE_EINVAL naming the field, CORE_ETOOBIG for a form or field over its cap; *out is
 * zeroed then. Pure; any thread. */
int wh_slack_command_parse(const char *form, size_t len, const char *web_url, wh_slack_command *out,
                           core_error *err);

#endif
