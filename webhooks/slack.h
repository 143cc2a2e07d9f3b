/* Slack interactions (private to webhooks/): what POST /webhooks/slack/interactions reads
 * from a click, exposed for its tests and its fuzz target. */
#ifndef ZONECI_WEBHOOKS_SLACK_H
#define ZONECI_WEBHOOKS_SLACK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

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

#endif
