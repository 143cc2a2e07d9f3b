/* Small pieces shared by the handlers: secret lists, bearer tokens, health answers. */
#include <stdlib.h>
#include <string.h>

#include "notifier/notifier.h"
#include "scheduler/scheduler.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

int wh_secrets_split(const char *list, char ***out, size_t *n, core_error *err)
{
    char **items = NULL;
    size_t count = 0;
    const char *p = list;

    *out = NULL;
    *n = 0;
    while (*p) {
        const char *start = p, *end;
        char **grown;

        while (*p && *p != ',')
            p++;
        end = p;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
            end--;
        if (*p == ',')
            p++;
        if (end == start)
            continue;
        grown = realloc(items, (count + 1) * sizeof(*items));
        if (!grown || !(grown[count] = core_strndup(start, (size_t)(end - start)))) {
            wh_secrets_free(grown ? grown : items, count);
            return core_error_set(err, CORE_ENOMEM, "out of memory");
        }
        items = grown;
        count++;
    }
    if (!count)
        return core_error_set(err, CORE_ENOTFOUND, "the value holds no secret");
    *out = items;
    *n = count;
    return 0;
}

void wh_secrets_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        volatile char *p = list[i];

        while (*p)
            *p++ = '\0';
        free(list[i]);
    }
    free(list);
}

bool wh_bearer_matches(const wh_request *req, char *const *tokens, size_t n_tokens)
{
    const char *auth = wh_request_header(req, "Authorization");
    bool match = false;
    size_t len;

    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    auth += 7;
    len = strlen(auth);
    /* Every token is compared, so the time taken does not tell which one matched. */
    for (size_t i = 0; i < n_tokens; i++) {
        size_t tl = strlen(tokens[i]);

        match |= tl == len && core_ct_equal(auth, tokens[i], len);
    }
    return match;
}

void wh_health_live(const wh_request *req, wh_response *resp)
{
    (void)req;
    wh_response_json(resp, 200, "{\"status\":\"ok\"}");
}

void wh_health_ready(const wh_request *req, wh_response *resp)
{
    core_error err = {0};

    if (sched_store_ping(req->app->store, &err) < 0) {
        strcpy(resp->retry_after, "5");
        wh_response_error(resp, 503, "redis_unavailable", "%s", err.msg);
        return;
    }
    wh_response_json(resp, 200, "{\"status\":\"ready\"}");
}

int wh_job_decide(wh_app *app, const wh_runtime *rt, const char *id, bool approve,
                  const char *actor, const char *reason, const char *approval_region,
                  char state[32], core_error *err)
{
    return wh_job_decide_card(app, rt, id, NULL, approve, actor, reason, approval_region, state,
                              err);
}

int wh_job_decide_card(wh_app *app, const wh_runtime *rt, const char *id, const char *card_key,
                       bool approve, const char *actor, const char *reason,
                       const char *approval_region, char state[32], core_error *err)
{
    char region[128] = "", when[64];
    int64_t now = core_time_now_ms();
    core_error ignored = {0};
    int rc;

    /* The approving region is only a fallback for the time zone: missing is fine. */
    if (!approval_region) {
        sched_job_field(app->store, id, "approval_region", region, sizeof(region), &ignored);
        approval_region = region;
    }
    sched_approval_local_time(rt->plan, actor, approval_region[0] ? approval_region : NULL, now,
                              when);
    rc = sched_job_decide_card(app->store, id, card_key, approve, actor, reason, when, now, state,
                               err);
    if (rc < 0)
        return rc;
    if (approve && app->router)
        sched_router_kick(app->router);
    if (app->outbox)
        notify_outbox_kick(app->outbox);
    CORE_LOG(CORE_LOG_INFO, "job_decided", "job=%s decision=%s actor=%s", id,
             approve ? "approved" : "rejected", actor);
    return 0;
}
