/* Private to notifier/: the outbox's github_check message, delivered from the job as Redis
 * holds it (the pure builders are in notifier.h). */
#ifndef ZONECI_NOTIFIER_CHECKS_H
#define ZONECI_NOTIFIER_CHECKS_H

#include "core/core.h"
#include "notifier/notifier.h"
#include "scheduler/sched_store.h"

/* Brings job_id's check run up to date: creates it in progress while the job is inspected
 * (once: a job that has a run id is left alone until its inspection ends), else creates or
 * completes it with the report and sends the annotations not yet counted in the job, a
 * batch per request, counting each batch once GitHub took it. public_url (NULL or "" for
 * none) is the base of the details link. Errors of notify_github_check_run and of the
 * store; CORE_EINVAL for a job without an installation. The thread that owns http. */
int notify_check_deliver(notify_http *http, notify_github *gh, sched_store *store,
                         const char *public_url, const char *job_id, int64_t now_ms,
                         int *retry_after_s, core_error *err);

#endif
