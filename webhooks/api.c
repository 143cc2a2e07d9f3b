/* The operators' API: GET /api/v1/jobs and GET /api/v1/jobs/{id}, which need a token when
 * operator tokens are configured, and POST /api/v1/jobs/{id}/approve | reject, which
 * always do. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/scheduler.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static bool authorized(const wh_request *req, wh_response *resp)
{
    if (req->rt->n_api_tokens == 0 ||
        wh_bearer_matches(req, req->rt->api_tokens, req->rt->n_api_tokens))
        return true;
    wh_response_error(resp, 401, "unauthorized", "an operator token is required "
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
    root = json_loadb(req->body, req->body_len, 0, &jerr);
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

void wh_api_job_decide(const wh_request *req, wh_response *resp, const char *id, bool approve)
{
    const char *verb = approve ? "approved" : "rejected";
    char note[DECIDE_NOTE_MAX], reason[DECIDE_NOTE_MAX + 64], state[32];
    core_error err = {0};
    int rc;

    /* Unlike the read API, deciding is never open: no tokens configured means no one. */
    if (req->rt->n_api_tokens == 0 ||
        !wh_bearer_matches(req, req->rt->api_tokens, req->rt->n_api_tokens)) {
        wh_response_error(resp, 401, "unauthorized",
                          req->rt->n_api_tokens == 0
                              ? "approving or rejecting needs an operator token, and none is "
                                "configured (api.tokens_env)"
                              : "an operator token is required (Authorization: Bearer TOKEN)");
        return;
    }
    if (!decide_note(req, resp, note))
        return;
    if (note[0])
        snprintf(reason, sizeof(reason), "%s by operator: %s", verb, note);
    else
        snprintf(reason, sizeof(reason), "%s by operator", verb);
    rc = wh_job_decide(req->app, req->rt, id, approve, "operator", reason, NULL, state, &err);
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
