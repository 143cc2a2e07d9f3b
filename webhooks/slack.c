/* POST /webhooks/slack/interactions: the Approve / Reject buttons of an approval card.
 * The v0 signature and its timestamp are checked before a byte of the body is parsed;
 * then the form's `payload` (block_actions JSON) names the clicker and the job. Only the
 * policy's approvers may decide, never the PR's author. Every refusal is a 200 (Slack
 * shows nothing for an error status), and since Slack shows nothing of a block_actions
 * click's HTTP answer either, what the clicker should read goes to the click's
 * response_url as an ephemeral message, through the outbox (slack_response). The decision
 * is one Lua script (the first click wins); nothing slow happens on this thread. */
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
#include "scheduler/sched_outbox.h"
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

/* Who is being answered: the request (for the store, the outbox and the configured Slack
 * api_url) and the click (for its response_url). */
typedef struct answer {
    const wh_request *req;
    const wh_slack_click *click;
    wh_response *resp;
} answer;

/* Queues text for the clicker's response_url (slack_response), when the click has one
 * that Slack's hosts (or the configured api_url's) serve; logs why not otherwise. A
 * failure to queue is logged: the click itself has been handled either way. */
static void respond_later(const answer *a, const char *text)
{
    const wh_slack_click *c = a->click;
    const policy_config *cfg = a->req->rt->cfg;
    const char *why = NULL;
    core_error err = {0};
    char id[32];
    json_t *msg;
    char *payload;

    if (!c->response_url[0])
        return;
    if (!notify_slack_response_url_ok(c->response_url, cfg->slack.api_url, &why)) {
        CORE_LOG(CORE_LOG_WARN, "slack_response_refused", "job=%s user=%s reason=\"%s\"", c->job,
                 c->user, why);
        return;
    }
    msg = json_pack("{s:s, s:s}", "url", c->response_url, "text", text);
    payload = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!payload || sched_outbox_put(a->req->app->store, "slack_response", payload, NULL,
                                     core_time_now_ms(), id, &err) < 0) {
        CORE_LOG(CORE_LOG_WARN, "slack_response_lost", "job=%s user=%s msg=\"%s\"", c->job, c->user,
                 payload ? err.msg : "out of memory");
        free(payload);
        return;
    }
    free(payload);
    if (a->req->app->outbox)
        notify_outbox_kick(a->req->app->outbox);
}

/* A message only the clicker sees, which they do see: through response_url (see
 * respond_later), and in the HTTP answer too. */
static void ephemeral(const answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ephemeral(const answer *a, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    wh_slack_ephemeral(a->resp, text);
    respond_later(a, text);
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

/* A response_url's shape: printable ASCII without spaces, bounded. */
static bool url_ok(const json_t *url)
{
    const char *s = json_string_value(url);
    size_t n = s ? json_string_length(url) : 0;

    if (n == 0 || n > WH_SLACK_URL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

int wh_slack_click_parse(const char *payload, size_t len, wh_slack_click *out, core_error *err)
{
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL), *action;
    const char *user, *action_id, *value;
    json_t *url;
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
    url = json_object_get(root, "response_url");
    if (!token_ok(user, WH_SLACK_USER_MAX, false))
        rc = core_error_set(err, CORE_EINVAL, "user.id: missing or not a Slack id");
    else if (!action_id || (strcmp(action_id, NOTIFY_SLACK_ACTION_APPROVE) != 0 &&
                            strcmp(action_id, NOTIFY_SLACK_ACTION_REJECT) != 0))
        rc = core_error_set(err, CORE_EINVAL,
                            "actions[0].action_id: expected zoneci_approve or zoneci_reject");
    else if (!value_ok(value, out->job, out->key))
        rc = core_error_set(err, CORE_EINVAL,
                            "actions[0].value: missing, or not a job id and its card key");
    else if (url && !url_ok(url))
        rc = core_error_set(err, CORE_EINVAL,
                            "response_url: not a string of 1 to %d printable characters",
                            WH_SLACK_URL_MAX);
    if (rc == 0) {
        if (url)
            memcpy(out->response_url, json_string_value(url), json_string_length(url) + 1);
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

/* The decision's reason, which becomes the commit status's words on GitHub ("Approved by
 * @octocat") and the job's reason: the decider's GitHub login through `people`, or "in
 * Slack" when they have none there. Never the Slack id: GitHub readers cannot resolve it,
 * and it is not theirs to see. The history and the audit keep the Slack id as the actor. */
static void decision_words(const policy_config *cfg, const char *user, bool approve, char *out,
                           size_t len)
{
    const char *login = policy_person_github(cfg, user);

    if (login)
        snprintf(out, len, "%s by @%s", approve ? "approved" : "rejected", login);
    else
        snprintf(out, len, "%s in Slack", approve ? "approved" : "rejected");
}

/* Whether name is one of the operator tokens' names (a decision through the API). */
static bool operator_named(const wh_runtime *rt, const char *name)
{
    for (size_t i = 0; i < rt->n_api_tokens; i++)
        if (rt->api_tokens[i].name && strcmp(rt->api_tokens[i].name, name) == 0)
            return true;
    return false;
}

/* A click on a job that no longer awaits a decision: who decided, as Slack shows people
 * (a mention for a Slack user, the operator's name for a decision through the API). */
static void already_decided(const answer *a, const core_error *conflict)
{
    const wh_slack_click *c = a->click;
    char decision[16] = "", by[WH_SLACK_USER_MAX + 72] = "";
    sched_field f[] = {{"decision", decision, sizeof(decision)}, {"decided_by", by, sizeof(by)}};
    core_error err = {0};

    if (sched_job_fields(a->req->app->store, c->job, f, 2, &err) < 0 || !decision[0] || !by[0]) {
        ephemeral(a, "Nothing changed: %s.", conflict->msg);
        return;
    }
    if (!operator_named(a->req->rt, by) && token_ok(by, WH_SLACK_USER_MAX, false))
        ephemeral(a, "Nothing changed, already decided: job %s was already %s by <@%s>.", c->job,
                  decision, by);
    else
        ephemeral(a,
                  "Nothing changed, already decided: job %s was already %s by %s (through "
                  "the API).",
                  c->job, decision, by);
}

void wh_slack_interactions(const wh_request *req, wh_response *resp)
{
    wh_app *app = req->app;
    const wh_runtime *rt = req->rt;
    char *payload = NULL;
    char repo[REPO_MAX], author[AUTHOR_MAX], region[REGION_MAX], state[32], reason[160];
    char key[WH_SLACK_KEY_MAX + 2];
    const char *why;
    size_t payload_len = 0;
    core_error err = {0};
    wh_slack_click c;
    answer a = {req, &c, resp};
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
        ephemeral(&a, "Job %s does not exist (any more).", c.job);
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
        ephemeral(&a,
                  "This card is out of date: it was posted for an earlier job %s, not the "
                  "one that has this id now. Nothing changed.",
                  c.job);
        goto out;
    }
    why = wh_slack_refusal(rt->cfg, repo, author, c.user);
    if (why) {
        CORE_LOG(CORE_LOG_INFO, "slack_refused", "job=%s user=%s reason=\"%s\"", c.job, c.user,
                 why);
        ephemeral(&a, "You cannot decide job %s: %s.", c.job, why);
        goto out;
    }
    decision_words(rt->cfg, c.user, c.approve, reason, sizeof(reason));
    rc = wh_job_decide_card(app, rt, c.job, c.key, c.approve, c.user, reason, region, state, &err);
    if (rc == CORE_EAUTH) {
        ephemeral(&a, "Nothing changed: %s.", err.msg);
        goto out;
    }
    if (rc == CORE_ECONFLICT) {
        already_decided(&a, &err);
        goto out;
    }
    if (rc == CORE_ENOTFOUND) {
        ephemeral(&a, "Job %s does not exist (any more).", c.job);
        goto out;
    }
    if (rc < 0) {
        store_failed(resp, rc, &err);
        goto out;
    }
    {
        char text[256];

        snprintf(text, sizeof(text), "Job %s %s by <@%s>%s.", c.job,
                 c.approve ? "approved" : "rejected", c.user,
                 c.approve ? "; it goes to routing now" : "");
        wh_slack_ephemeral(resp, text); /* the card's update shows everyone */
    }
out:
    free(payload);
}
