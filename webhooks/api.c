/* The operators' read API: GET /api/v1/jobs and GET /api/v1/jobs/{id}. When operator
 * tokens are configured every call needs one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/scheduler.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static bool authorized(const wh_request *req, wh_response *resp)
{
    if (req->app->n_api_tokens == 0 ||
        wh_bearer_matches(req, req->app->api_tokens, req->app->n_api_tokens))
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
