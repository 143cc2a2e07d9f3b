/* Slack interactions (private to webhooks/): what POST /webhooks/slack/interactions reads
 * from a click, exposed for its tests and its fuzz target. */
#ifndef ZONECI_WEBHOOKS_SLACK_H
#define ZONECI_WEBHOOKS_SLACK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

#define WH_SLACK_USER_MAX 32 /* characters of a Slack user id */
#define WH_SLACK_JOB_MAX 20  /* digits of a job id */

/* Who clicked which button of which job. */
typedef struct wh_slack_click {
    char user[WH_SLACK_USER_MAX + 1];
    char job[WH_SLACK_JOB_MAX + 1];
    bool approve;
} wh_slack_click;

/* Reads a click from the form's `payload` (block_actions JSON, len bytes, need not be
 * NUL-terminated): user.id (letters and digits), actions[0].action_id (zoneci_approve or
 * zoneci_reject) and actions[0].value (the job id, digits). CORE_EINVAL with the field
 * named when anything is missing or of the wrong shape. Pure; any thread. */
int wh_slack_click_parse(const char *payload, size_t len, wh_slack_click *out, core_error *err);

#endif
