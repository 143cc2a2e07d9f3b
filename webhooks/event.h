/* GitHub webhook event parsing (private to webhooks/). Bodies are parsed with a strict,
 * single-pass JSON scanner (webhooks/jscan.c) that validates the whole document and
 * extracts only the fields zoneci needs, without building a tree: jansson's json_loadb
 * costs ~600 us on a 28 KB payload and would cap intake near 1,500 deliveries/s. */
#ifndef ZONECI_WEBHOOKS_EVENT_H
#define ZONECI_WEBHOOKS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Hard caps on outside input. */
#define WH_JSON_MAX_DEPTH 64

typedef enum wh_pr_action {
    WH_PR_OPENED = 0,
    WH_PR_SYNCHRONIZE,
    WH_PR_REOPENED,
    WH_PR_READY_FOR_REVIEW,
    WH_PR_CLOSED,
    WH_PR_OTHER, /* assigned, labeled, edited, converted_to_draft, ... */
} wh_pr_action;

/* The fields of a pull_request event that zoneci uses. Strings are NUL-terminated,
 * decoded from JSON escapes to UTF-8, and truncated at a character boundary to fit;
 * except head_ref, base_ref and clone_url, which a cut would turn into another name: one
 * too long is refused when the action builds, and left "" otherwise. */
typedef struct wh_pr_event {
    wh_pr_action action;
    char action_name[32];
    int64_t number;          /* "number" (falls back to pull_request.number) */
    bool draft;              /* pull_request.draft (false when absent) */
    char repo[256];          /* repository.full_name, "owner/name" */
    char clone_url[512];     /* repository.clone_url ("" when absent) */
    char head_sha[41];       /* pull_request.head.sha, 40 lower-case hex */
    char base_sha[41];       /* pull_request.base.sha */
    char head_ref[256];      /* pull_request.head.ref */
    char base_ref[256];      /* pull_request.base.ref */
    char title[1024];        /* pull_request.title */
    char author[128];        /* pull_request.user.login */
    char sender[128];        /* sender.login ("" when absent) */
    int64_t installation_id; /* installation.id, 0 when absent */
} wh_pr_event;

/* Parses a pull_request event body. Rejects (CORE_EINVAL) any document that is not valid
 * JSON (RFC 8259, UTF-8, depth <= WH_JSON_MAX_DEPTH) or whose top level is not an object,
 * and any missing or mistyped field that the action needs; err names the field by its
 * path, e.g. "pull_request.head.sha: missing" or "number: must be a positive integer".
 * For WH_PR_OTHER only action, repository.full_name and number are required; for
 * WH_PR_CLOSED also nothing more (their other fields are kept when well formed, else left
 * empty). On failure *out is zeroed. Thread-safe, allocation-free. */
int wh_pr_event_parse(const char *body, size_t len, wh_pr_event *out, core_error *err);

/* The fields of a check_run event that zoneci uses (its "Re-run" button). */
typedef struct wh_check_run_event {
    char action[32];         /* "rerequested", "created", ... */
    char name[128];          /* check_run.name */
    char head_sha[41];       /* check_run.head_sha */
    char external_id[32];    /* check_run.external_id: the job it reported on, "" if none */
    char repo[256];          /* repository.full_name */
    int64_t installation_id; /* installation.id, 0 when absent */
    int64_t app_id;          /* check_run.app.id, 0 when absent: whose run it is */
} wh_check_run_event;

/* Parses a check_run event body: valid JSON whose top level is an object (CORE_EINVAL
 * otherwise, naming the field), with action, check_run.name, check_run.head_sha (40
 * lower-case hex) and repository.full_name. external_id is "" when absent or not a job id
 * (decimal digits). On failure *out is zeroed. Thread-safe. */
int wh_check_run_event_parse(const char *body, size_t len, wh_check_run_event *out,
                             core_error *err);

/* Validates that body is one JSON object (any content), for events zoneci acknowledges
 * without using (ping, installation, ...): a malformed body is still a 400. */
int wh_json_validate_object(const char *body, size_t len, core_error *err);

/* True for actions that create a build: opened, synchronize, reopened, ready_for_review. */
bool wh_pr_action_builds(wh_pr_action action);

#endif
