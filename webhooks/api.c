/* The operators' API: GET /api/v1/jobs and GET /api/v1/jobs/{id}, which need a token when
 * operator tokens are configured, and POST /api/v1/jobs/{id}/approve | reject, which
 * always do. Each token has a name (api.tokens_env holds name:TOKEN entries): decisions
 * record the name, and follow a Slack click's rules — the first decision wins, and an
 * operator whom `people` maps to the pull request's author may reject it but not approve. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_outbox.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static bool authorized(const wh_request *req, wh_response *resp)
{
    if (req->rt->n_api_tokens == 0 || wh_operator_name(req, false))
        return true;
    wh_response_error(resp, 401, "unauthorized",
                      "an operator token is required "
                      "(Authorization: Bearer TOKEN)");
    return false;
}

static void store_error(wh_response *resp, int rc, const core_error *err)
{
    switch (rc) {
    case CORE_EINVAL:
        wh_response_error(resp, 400, "invalid_request", "%s", err->msg);
        break;
    case CORE_ENOTFOUND:
        wh_response_error(resp, 404, "not_found", "%s", err->msg);
        break;
    case CORE_EUNAVAILABLE:
        strcpy(resp->retry_after, "5");
        wh_response_error(resp, 503, "redis_unavailable", "%s", err->msg);
        break;
    default:
        wh_response_error(resp, 500, "internal", "%s", err->msg);
    }
}

void wh_api_jobs_list(const wh_request *req, wh_response *resp)
{
    const char *state = wh_request_query(req, "state");
    const char *cursor = wh_request_query(req, "cursor");
    const char *limit_s = wh_request_query(req, "limit");
    core_error err = {0};
    long limit = LIST_DEFAULT;
    int rc;

    if (!authorized(req, resp))
        return;
    if (limit_s) {
        char *end;

        errno = 0;
        limit = strtol(limit_s, &end, 10);
        if (errno || *end || end == limit_s || limit < 1 || limit > LIST_MAX) {
            wh_response_error(resp, 400, "invalid_request",
                              "limit: must be a whole number from 1 to %d", LIST_MAX);
            return;
        }
    }
    if (state && !*state)
        state = NULL;
    if (cursor && !*cursor)
        cursor = NULL;
    core_buf_reset(&resp->body);
    rc = sched_job_list_json(req->app->store, state, cursor, (size_t)limit, &resp->body, &err);
    if (rc < 0) {
        store_error(resp, rc, &err);
        return;
    }
    resp->status = 200;
}

void wh_api_job_get(const wh_request *req, wh_response *resp, const char *id)
{
    core_error err = {0};
    int rc;

    if (!authorized(req, resp))
        return;
    core_buf_reset(&resp->body);
    rc = sched_job_json(req->app->store, id, &resp->body, &err);
    if (rc < 0) {
        store_error(resp, rc, &err);
        return;
    }
    resp->status = 200;
}

#define DECIDE_NOTE_MAX 512

/* The optional {"reason":"..."} of a decision into note ("" when absent). */
static bool decide_note(const wh_request *req, wh_response *resp, char note[DECIDE_NOTE_MAX])
{
    json_error_t jerr;
    json_t *root, *v;

    note[0] = '\0';
    if (req->body_len == 0)
        return true;
    root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        wh_response_error(resp, 400, "invalid_json",
                          "body: expected a JSON object like {\"reason\":\"...\"}");
        return false;
    }
    v = json_object_get(root, "reason");
    if (v && (!json_is_string(v) || json_string_length(v) >= DECIDE_NOTE_MAX ||
              strlen(json_string_value(v)) != json_string_length(v))) {
        json_decref(root);
        wh_response_error(resp, 400, "invalid_request",
                          "reason: must be a string shorter than %d bytes", DECIDE_NOTE_MAX);
        return false;
    }
    if (v)
        snprintf(note, DECIDE_NOTE_MAX, "%s", json_string_value(v));
    json_decref(root);
    return true;
}

/* Whether operator op may approve job id: not when `people` maps their name to the pull
 * request's author (as a Slack click may not). An operator whose name `people` does not
 * list is not checked: the token is the authority. False after answering. */
static bool operator_may_approve(const wh_request *req, wh_response *resp, const char *id,
                                 const char *op)
{
    const char *login = policy_person_operator(req->rt->cfg, op);
    char author[257], state[32];
    sched_field f[] = {{"state", state, sizeof(state)}, {"author", author, sizeof(author)}};
    core_error err = {0};
    int rc;

    if (!login)
        return true;
    rc = sched_job_fields(req->app->store, id, f, 2, &err);
    if (rc < 0) {
        store_error(resp, rc, &err);
        return false;
    }
    /* An author nobody recorded cannot be compared: as with an operator `people` omits. */
    if (!author[0] || strcasecmp(login, author) != 0)
        return true;
    CORE_LOG(CORE_LOG_INFO, "api_refused", "job=%s operator=%s reason=\"author\"", id, op);
    wh_response_error(resp, 403, "forbidden",
                      "operator %s is %s in `people`, who opened this pull request: someone else "
                      "must approve it (rejecting it is allowed)",
                      op, login);
    return false;
}

void wh_api_job_decide(const wh_request *req, wh_response *resp, const char *id, bool approve)
{
    const char *verb = approve ? "approved" : "rejected";
    char note[DECIDE_NOTE_MAX], reason[DECIDE_NOTE_MAX + 128], state[32];
    const char *op;
    core_error err = {0};
    int rc;

    /* Unlike the read API, deciding is never open: no tokens configured means no one. */
    op = wh_operator_name(req, true);
    if (!op) {
        wh_response_error(resp, 401, "unauthorized",
                          req->rt->n_api_tokens == 0
                              ? "approving or rejecting needs an operator token, and none is "
                                "configured (api.tokens_env)"
                              : "an operator token is required (Authorization: Bearer TOKEN)");
        return;
    }
    if (!decide_note(req, resp, note))
        return;
    if (approve && !operator_may_approve(req, resp, id, op))
        return;
    /* The name, never the token: "approved by dba-lead (API)". */
    if (note[0])
        snprintf(reason, sizeof(reason), "%s by %s (API): %s", verb, op, note);
    else
        snprintf(reason, sizeof(reason), "%s by %s (API)", verb, op);
    rc = wh_job_decide(req->app, req->rt, id, approve, op, reason, NULL, state, &err);
    if (rc == CORE_ECONFLICT) {
        wh_response_error(resp, 409, "conflict", "%s", err.msg);
        return;
    }
    if (rc < 0) {
        store_error(resp, rc, &err);
        return;
    }
    wh_response_json(resp, 200, "{\"id\":\"%s\",\"state\":\"%s\",\"decision\":\"%s\"}", id, state,
                     verb);
}

void wh_api_outbox_dead(const wh_request *req, wh_response *resp)
{
    core_error err = {0};
    int rc;

    if (!authorized(req, resp))
        return;
    core_buf_reset(&resp->body);
    rc = sched_outbox_dead_list(req->app->store, LIST_MAX, &resp->body, &err);
    if (rc < 0) {
        store_error(resp, rc, &err);
        return;
    }
    resp->status = 200;
}
