/* Small pieces shared by the handlers: secret lists, bearer tokens, health answers. */
#include <stdlib.h>
#include <string.h>

#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/sched_store.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_approval.h"
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
    for (size_t i = 0; i < n; i++)
        core_wipe_free(list[i]);
    free(list);
}

/* One entry of an operator-token list, [start, end) trimmed, into t. */
static int api_token_entry(const char *start, const char *end, size_t index, wh_api_token *t,
                           core_error *err)
{
    const char *colon = memchr(start, ':', (size_t)(end - start));
    const char *name = WH_OPERATOR_DEFAULT_NAME, *tok = start;
    size_t name_len = strlen(WH_OPERATOR_DEFAULT_NAME);

    if (colon) {
        name = start;
        name_len = (size_t)(colon - start);
        tok = colon + 1;
        if (!policy_operator_name_valid(name, name_len))
            return core_error_set(err, CORE_EINVAL,
                                  "entry %zu: the name before ':' must be 1 to %d of "
                                  "A-Z a-z 0-9 . _ - (name:TOKEN)",
                                  index + 1, POLICY_OPERATOR_NAME_MAX);
        if (tok == end)
            return core_error_set(err, CORE_EINVAL, "entry %zu: no token after the name",
                                  index + 1);
    }
    t->name = core_strndup(name, name_len);
    t->token = core_strndup(tok, (size_t)(end - tok));
    if (!t->name || !t->token)
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    return 0;
}

static bool list_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int wh_api_tokens_parse(const char *list, wh_api_token **out, size_t *n, core_error *err)
{
    wh_api_token *items = NULL;
    size_t count = 0;
    const char *p = list;
    int rc = 0;

    *out = NULL;
    *n = 0;
    while (*p && rc == 0) {
        const char *start = p, *end;
        wh_api_token *grown;

        while (*p && *p != ',' && *p != '\n')
            p++;
        end = p;
        if (*p)
            p++;
        while (start < end && list_blank(*start))
            start++;
        while (end > start && list_blank(end[-1]))
            end--;
        if (end == start)
            continue;
        grown = realloc(items, (count + 1) * sizeof(*items));
        if (!grown) {
            rc = core_error_set(err, CORE_ENOMEM, "out of memory");
            break;
        }
        items = grown;
        memset(&items[count], 0, sizeof(items[count]));
        rc = api_token_entry(start, end, count, &items[count], err);
        count++;
    }
    /* One token under two names would make the record say either. */
    for (size_t i = 0; rc == 0 && i < count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(items[i].token, items[j].token) == 0 &&
                strcmp(items[i].name, items[j].name) != 0) {
                rc = core_error_set(err, CORE_EINVAL,
                                    "entries %zu and %zu: one token under two names", j + 1, i + 1);
                break;
            }
        }
    }
    if (rc == 0 && !count)
        rc = core_error_set(err, CORE_ENOTFOUND, "the value holds no token");
    if (rc < 0) {
        wh_api_tokens_free(items, count);
        return rc;
    }
    *out = items;
    *n = count;
    return 0;
}

void wh_api_tokens_free(wh_api_token *tokens, size_t n)
{
    for (size_t i = 0; tokens && i < n; i++) {
        free(tokens[i].name);
        if (tokens[i].token)
            core_wipe_free(tokens[i].token);
    }
    free(tokens);
}

const char *wh_api_token_name(const wh_request *req, const wh_api_token *tokens, size_t n)
{
    const char *auth = wh_request_header(req, "Authorization");
    const char *name = NULL;
    size_t len;

    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    len = strlen(auth);
    /* Every token is compared, so the time taken does not tell which one matched. */
    for (size_t i = 0; i < n; i++) {
        size_t tl = strlen(tokens[i].token);
        bool match = tl == len && core_ct_equal(auth, tokens[i].token, len);

        if (match && !name)
            name = tokens[i].name;
    }
    return name;
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
