/* POST /webhooks/slack/interactions: the Approve / Reject buttons of an approval card.
 * The v0 signature and its timestamp are checked before a byte of the body is parsed;
 * then the form's `payload` (block_actions JSON) names the clicker and the job. Only the
 * policy's approvers may decide, never the PR's author; every refusal is a 200 with an
 * ephemeral message, because Slack shows nothing for an error status. The decision is
 * one Lua script (the first click wins); nothing slow happens on this thread. */
#include "webhooks/slack.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/sched_lease.h"
#include "webhooks/app.h"
#include "webhooks/http.h"
#include "webhooks/signature.h"

/* A block_actions payload holds the card's blocks: generous, but bounded. */
#define PAYLOAD_MAX (256 * 1024)
#define PAYLOAD_DEPTH 32
#define REPO_MAX 256
#define AUTHOR_MAX 257
#define REGION_MAX 128

/* ---- what interactions and commands share ------------------------------------------- */

bool wh_slack_request_verified(const wh_request *req, wh_response *resp)
{
    const wh_runtime *rt = req->rt;

    if (rt->n_slack_secrets == 0) {
        wh_response_error(resp, 404, "slack_disabled",
                          "slack is off: no slack signing secret is configured");
        return false;
    }
    if (!wh_slack_signature_valid(wh_request_header(req, "X-Slack-Request-Timestamp"),
                                  wh_request_header(req, "X-Slack-Signature"), req->body,
                                  req->body_len, rt->slack_secrets, rt->n_slack_secrets,
                                  core_time_now_ms())) {
        wh_response_error(resp, 401, "bad_signature",
                          "X-Slack-Signature does not match, or X-Slack-Request-Timestamp is "
                          "more than 5 minutes off");
        CORE_LOG(CORE_LOG_WARN, "slack_refused", "path=%s reason=\"bad signature or timestamp\"",
                 req->path);
        return false;
    }
    return true;
}

void wh_slack_ephemeral(wh_response *resp, const char *text)
{
    resp->status = 200;
    core_buf_reset(&resp->body);
    core_buf_puts(&resp->body, "{\"response_type\":\"ephemeral\",\"replace_original\":false,"
                               "\"text\":\"");
    core_buf_json_escape(&resp->body, text, strlen(text));
    core_buf_puts(&resp->body, "\"}");
}

int wh_slack_escape(core_buf *b, const char *s, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        const char *entity = s[i] == '&'   ? "&amp;"
                             : s[i] == '<' ? "&lt;"
                             : s[i] == '>' ? "&gt;"
                                           : NULL;

        if (!entity)
            continue;
        core_buf_append(b, s + start, i - start);
        core_buf_puts(b, entity);
        start = i + 1;
    }
    core_buf_append(b, s + start, len - start);
    return core_buf_status(b);
}

/* ---- the handler ----------------------------------------------------------------------- */

/* A 200 with a message only the clicker sees. */
static void ephemeral(wh_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ephemeral(wh_response *resp, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    wh_slack_ephemeral(resp, text);
}

/* Letters and digits (or digits only), 1 to max of them. */
static bool token_ok(const char *s, size_t max, bool digits_only)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool digit = c >= '0' && c <= '9';

        if (digits_only ? !digit : !(digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

bool wh_slack_id_valid(const char *s)
{
    return token_ok(s, WH_SLACK_USER_MAX, false);
}

/* "JOB" or "JOB:KEY" (see wh_slack_click_parse) into job and key. */
static bool value_ok(const char *value, char job[WH_SLACK_JOB_MAX + 1],
                     char key[WH_SLACK_KEY_MAX + 1])
{
    const char *colon = value ? strchr(value, ':') : NULL;
    size_t n_job = colon ? (size_t)(colon - value) : (value ? strlen(value) : 0), n_key;

    if (n_job == 0 || n_job > WH_SLACK_JOB_MAX)
        return false;
    memcpy(job, value, n_job);
    job[n_job] = '\0';
    key[0] = '\0';
    if (!token_ok(job, WH_SLACK_JOB_MAX, true))
        return false;
    if (!colon)
        return true;
    n_key = strlen(colon + 1);
    if (n_key < WH_SLACK_KEY_MIN || n_key > WH_SLACK_KEY_MAX)
        return false;
    for (size_t i = 0; i < n_key; i++) {
        char c = colon[1 + i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    memcpy(key, colon + 1, n_key + 1);
    return true;
}

int wh_slack_click_parse(const char *payload, size_t len, wh_slack_click *out, core_error *err)
{
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL), *action;
    const char *user, *action_id, *value;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(root)) {
        json_decref(root);
        return core_error_set(err, CORE_EINVAL, "payload: not a JSON object");
    }
    user = json_string_value(json_object_get(json_object_get(root, "user"), "id"));
    action = json_array_get(json_object_get(root, "actions"), 0);
    action_id = json_string_value(json_object_get(action, "action_id"));
    value = json_string_value(json_object_get(action, "value"));
    if (!token_ok(user, WH_SLACK_USER_MAX, false))
        rc = core_error_set(err, CORE_EINVAL, "user.id: missing or not a Slack id");
    else if (!action_id || (strcmp(action_id, NOTIFY_SLACK_ACTION_APPROVE) != 0 &&
                            strcmp(action_id, NOTIFY_SLACK_ACTION_REJECT) != 0))
        rc = core_error_set(err, CORE_EINVAL,
                            "actions[0].action_id: expected zoneci_approve or zoneci_reject");
    else if (!value_ok(value, out->job, out->key))
        rc = core_error_set(err, CORE_EINVAL,
                            "actions[0].value: missing, or not a job id and its card key");
    if (rc == 0) {
        snprintf(out->user, sizeof(out->user), "%s", user);
        out->approve = strcmp(action_id, NOTIFY_SLACK_ACTION_APPROVE) == 0;
    }
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    json_decref(root);
    return rc;
}

static void store_failed(wh_response *resp, int rc, const core_error *err)
{
    if (rc == CORE_EUNAVAILABLE) {
        strcpy(resp->retry_after, "5");
        wh_response_error(resp, 503, "redis_unavailable", "%s", err->msg);
    } else {
        wh_response_error(resp, 500, "internal", "%s", err->msg);
    }
}

const char *wh_slack_refusal(const policy_config *cfg, const char *repo, const char *author,
                             const char *user)
{
    const policy_policy *pol = policy_match(cfg, repo);
    const char *author_slack, *login;
    bool listed = false;

    for (size_t i = 0; pol && i < pol->n_approvers; i++)
        listed |= strcmp(pol->approvers[i], user) == 0;
    if (!listed)
        return "you are not an approver of this repository's migrations";
    /* Fail closed: a job whose author is unknown cannot prove the clicker is someone else. */
    if (!author[0])
        return "this pull request's author is unknown, so no one can approve it in Slack";
    author_slack = policy_person_slack(cfg, author);
    if (author_slack)
        return strcmp(author_slack, user) == 0 ? "you opened this pull request" : NULL;
    login = policy_person_github(cfg, user);
    if (!login)
        return "the pull request's author has no Slack user in `people` and neither do you, "
               "so zoneci cannot tell you apart";
    return strcasecmp(login, author) == 0 ? "you opened this pull request" : NULL;
}

void wh_slack_interactions(const wh_request *req, wh_response *resp)
{
    wh_app *app = req->app;
    const wh_runtime *rt = req->rt;
    char *payload = NULL;
    char repo[REPO_MAX], author[AUTHOR_MAX], region[REGION_MAX], state[32], reason[96];
    char key[WH_SLACK_KEY_MAX + 2];
    const char *why;
    size_t payload_len = 0;
    core_error err = {0};
    wh_slack_click c;
    int rc;

    if (!wh_slack_request_verified(req, resp))
        return;
    payload = malloc(PAYLOAD_MAX);
    if (!payload) {
        wh_response_error(resp, 500, "internal", "out of memory");
        return;
    }
    rc = wh_request_form_value(req, "payload", payload, PAYLOAD_MAX, &payload_len, &err);
    if (rc < 0) {
        wh_response_error(resp, rc == CORE_ETOOBIG ? 413 : 400, "invalid_form", "%s", err.msg);
        goto out;
    }
    if (wh_slack_click_parse(payload, payload_len, &c, &err) < 0) {
        wh_response_error(resp, 400, "invalid_payload", "%s", err.msg);
        goto out;
    }
    {
        sched_field f[] = {{"repo", repo, sizeof(repo)},
                           {"author", author, sizeof(author)},
                           {"approval_region", region, sizeof(region)},
                           {"card_key", key, sizeof(key)}};

        rc = sched_job_fields(app->store, c.job, f, 4, &err);
    }
    if (rc == CORE_ENOTFOUND) {
        ephemeral(resp, "Job %s does not exist (any more).", c.job);
        goto out;
    }
    if (rc < 0) {
        store_failed(resp, rc, &err);
        goto out;
    }
    /* A card whose key is not the job's was posted for an earlier job with this id (ids
     * restart at 1 when Redis is wiped): say nothing of the job that has the id now. The
     * decision script checks the key again, atomically. */
    if (strcmp(key, c.key) != 0) {
        CORE_LOG(CORE_LOG_INFO, "slack_refused", "job=%s user=%s reason=\"card out of date\"",
                 c.job, c.user);
        ephemeral(resp,
                  "This card is out of date: it was posted for an earlier job %s, not the "
                  "one that has this id now. Nothing changed.",
                  c.job);
        goto out;
    }
    why = wh_slack_refusal(rt->cfg, repo, author, c.user);
    if (why) {
        CORE_LOG(CORE_LOG_INFO, "slack_refused", "job=%s user=%s reason=\"%s\"", c.job, c.user,
                 why);
        ephemeral(resp, "You cannot decide job %s: %s.", c.job, why);
        goto out;
    }
    snprintf(reason, sizeof(reason), "%s by %s", c.approve ? "approved" : "rejected", c.user);
    rc = wh_job_decide_card(app, rt, c.job, c.key, c.approve, c.user, reason, region, state, &err);
    if (rc == CORE_EAUTH) {
        ephemeral(resp, "Nothing changed: %s.", err.msg);
        goto out;
    }
    if (rc == CORE_ECONFLICT) {
        ephemeral(resp, "Nothing changed, already decided: %s.", err.msg);
        goto out;
    }
    if (rc == CORE_ENOTFOUND) {
        ephemeral(resp, "Job %s does not exist (any more).", c.job);
        goto out;
    }
    if (rc < 0) {
        store_failed(resp, rc, &err);
        goto out;
    }
    ephemeral(resp, "Job %s %s by <@%s>%s.", c.job, c.approve ? "approved" : "rejected", c.user,
              c.approve ? "; it goes to routing now" : "");
out:
    free(payload);
}
