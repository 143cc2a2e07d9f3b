/* Private to notifier/: approval cards rendered from the job in Redis and sent to Slack,
 * for the outbox's "slack_card" and "slack_card_update" messages. A card is rendered when
 * it is delivered, from the job as it is then, so a late delivery never shows old news. */
#ifndef ZONECI_NOTIFIER_CARDS_H
#define ZONECI_NOTIFIER_CARDS_H

#include <stddef.h>

#include "core/core.h"
#include "notifier/notifier.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_approval.h"

/* Slack's Web API and the bot token; both borrowed. */
typedef struct notify_slack_target {
    const char *api_url;
    const char *token;
} notify_slack_target;

/* The report JSON a job holds (policies/ wrote it), read for cards and check runs: the
 * migration files and every finding, suppressed ones included, in the report's order.
 * The strings point into root. A missing or unreadable report reads as an empty one
 * (a card or a check run without findings is better than none). 0 or CORE_ENOMEM. */
typedef struct notify_report_view {
    struct json_t *root;
    const char **files;
    size_t n_files;
    notify_finding *findings;
    size_t n_findings;
} notify_report_view;

int notify_report_read(const char *report_json, notify_report_view *out);
void notify_report_view_free(notify_report_view *v);

/* Renders card `index` of job_id from view: the Block Kit array into blocks and the
 * notification text into text (both appended to). CORE_EINVAL (a card the builder
 * refuses), CORE_ENOMEM. */
int notify_card_render(const sched_card_view *view, const char *job_id, size_t index,
                       core_buf *blocks, core_buf *text);

/* Posts card `index` of job_id to its channel and records its ts in the job, unless it
 * has one already (a retried delivery) or has no channel: then nothing is sent. Errors
 * of notify_slack_post and of the store; *retry_after_s as there. */
int notify_card_post(notify_http *http, const notify_slack_target *slack, sched_store *store,
                     const char *job_id, size_t index, int *retry_after_s, core_error *err);

/* Updates the first `upto` cards of job_id to show the job as it is now. A card that has
 * a channel but no ts yet (its post is still in the outbox) fails the whole update with
 * CORE_EAGAIN, to be retried: the post renders the current state anyway, but an update
 * that skipped it could be overtaken by an older render. */
int notify_card_update(notify_http *http, const notify_slack_target *slack, sched_store *store,
                       const char *job_id, size_t upto, int *retry_after_s, core_error *err);

#endif
