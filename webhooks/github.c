/* POST /webhooks/github: verify, then dispatch on X-GitHub-Event. The signature is
 * checked before a single byte of the body is parsed. Nothing slow happens here: a
 * pull_request event becomes one Lua script in Redis (dedup + job creation) and the
 * answer; inspection and routing happen later, in workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier/notifier.h"
#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_inspector.h"
#include "scheduler/sched_route.h"
#include "webhooks/app.h"
#include "webhooks/event.h"
#include "webhooks/http.h"
#include "webhooks/signature.h"

#define DELIVERY_ID_MAX 128

typedef struct delivery {
    const wh_request *req;
    wh_response *resp;
    wh_event_kind kind;
    const char *event;
    const char *id;
} delivery;

static void finish(const delivery *d, wh_outcome outcome, const char *job_id, const char *why)
{
    static const char *const names[WH_OUTCOME_COUNT] = {"accepted",  "duplicate",  "cancelled",
                                                        "ignored",   "invalid",    "unauthorized",
                                                        "too_large", "unavailable"};

    wh_metrics_delivery(&d->req->app->metrics, d->kind, outcome);
    CORE_LOG(outcome >= WH_OUTCOME_INVALID ? CORE_LOG_WARN : CORE_LOG_INFO, "github_delivery",
             "delivery=%.64s gh_event=%.40s outcome=%s status=%d job=%s reason=\"%s\"",
             d->id ? d->id : "-", d->event ? d->event : "-", names[outcome], d->resp->status,
             job_id && *job_id ? job_id : "-", why ? why : "");
}

/* A body GitHub would never send: 400 naming what is wrong. */
static void invalid_payload(const delivery *d, const char *why)
{
    wh_response_error(d->resp, 400, "invalid_payload", "%s", why);
    finish(d, WH_OUTCOME_INVALID, NULL, why);
}

static bool delivery_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > DELIVERY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void store_failed(const delivery *d, int rc, const core_error *err)
{
    if (rc == CORE_EUNAVAILABLE) {
        strcpy(d->resp->retry_after, "10");
        /* GitHub never retries a failed delivery by itself: say who will. */
        if (d->req->app->redeliver)
            wh_response_error(d->resp, 503, "redis_unavailable",
                              "state store unreachable; this delivery will be recovered through "
                              "the GitHub App's deliveries API once it is back: %s",
                              err->msg);
        else
            wh_response_error(d->resp, 503, "redis_unavailable",
                              "state store unreachable; GitHub does not retry: redeliver this "
                              "delivery from the GitHub App's settings (Advanced, Recent "
                              "deliveries) once it is back: %s",
                              err->msg);
        finish(d, WH_OUTCOME_UNAVAILABLE, NULL, err->msg);
        return;
    }
    if (rc == CORE_EINVAL) {
        /* The store refuses what GitHub never sends (odd repository names, non-hex SHAs). */
        invalid_payload(d, err->msg);
        return;
    }
    wh_response_error(d->resp, 500, "internal", "%s", err->msg);
    finish(d, WH_OUTCOME_UNAVAILABLE, NULL, err->msg);
}

static void ignore(const delivery *d, const char *why)
{
    core_buf *b = &d->resp->body;

    d->resp->status = 200;
    core_buf_reset(b);
    core_buf_puts(b, "{\"ignored\":true,\"reason\":\"");
    core_buf_json_escape(b, why, strlen(why));
    core_buf_puts(b, "\"}");
    finish(d, WH_OUTCOME_IGNORED, NULL, why);
}

static void answer_intake(const delivery *d, const sched_intake *in)
{
    switch (in->outcome) {
    case SCHED_INTAKE_CREATED:
        if (strcmp(in->state, "received") == 0)
            sched_inspector_kick(d->req->app->inspector);
        wh_response_json(d->resp, 202, "{\"job_id\":\"%s\",\"state\":\"%s\"%s%s%s}", in->job_id,
                         in->state, in->superseded_id[0] ? ",\"superseded\":\"" : "",
                         in->superseded_id, in->superseded_id[0] ? "\"" : "");
        finish(d, WH_OUTCOME_ACCEPTED, in->job_id, "job created");
        break;
    case SCHED_INTAKE_DUPLICATE:
        wh_response_json(d->resp, 200, "{\"duplicate\":true,\"job_id\":\"%s\"}", in->job_id);
        finish(d, WH_OUTCOME_DUPLICATE, in->job_id, "delivery seen before");
        break;
    case SCHED_INTAKE_LIVE:
        wh_response_json(d->resp, 200, "{\"duplicate\":true,\"existing\":true,\"job_id\":\"%s\"}",
                         in->job_id);
        finish(d, WH_OUTCOME_DUPLICATE, in->job_id, "commit already has a live job");
        break;
    case SCHED_INTAKE_CLOSED:
        wh_response_json(d->resp, 200, "{\"cancelled\":%d}", in->cancelled);
        finish(d, WH_OUTCOME_CANCELLED, NULL, "pull request closed");
        break;
    case SCHED_INTAKE_STALE:
        ignore(d, "a newer job exists for this pull request: re-run its check instead");
        break;
    }
}

/* Creates the job of ref (a pull_request delivery, or a check run's re-run) and answers.
 * A repository whose policy checks no migrations has nothing to inspect: its job is
 * routed in the intake step when the choice needs no region loads. */
static void intake(const delivery *d, sched_pr_ref *ref)
{
    const wh_request *req = d->req;
    char route[SCHED_ROUTE_SPEC_MAX];
    int64_t now = core_time_now_ms();
    sched_intake in = {0};
    core_error err = {0};
    int rc;

    if (!sched_plan_inspects(req->rt->plan, ref->repo)) {
        sched_route_spec(req->rt->plan, ref->repo, now, route, sizeof(route));
        ref->route = route;
    }
    rc = sched_intake_pull_request(req->app->store, d->id, ref, now, &in, &err);
    if (rc < 0)
        store_failed(d, rc, &err);
    else
        answer_intake(d, &in);
}

static bool delivery_checked(const delivery *d)
{
    if (delivery_id_valid(d->id))
        return true;
    wh_response_error(d->resp, 400, "invalid_delivery",
                      "X-GitHub-Delivery header is missing or malformed");
    finish(d, WH_OUTCOME_INVALID, NULL, "bad delivery id");
    return false;
}

static void handle_pull_request(const delivery *d)
{
    const wh_request *req = d->req;
    wh_pr_event ev;
    core_error err = {0};
    sched_intake in = {0};
    sched_pr_ref ref;
    char reason[128];
    int rc;

    if (!delivery_checked(d))
        return;
    if (wh_pr_event_parse(req->body, req->body_len, &ev, &err) < 0) {
        invalid_payload(d, err.msg);
        return;
    }
    if (!policy_match(req->rt->cfg, ev.repo)) {
        char why[320];

        snprintf(why, sizeof(why), "no policy matches repository %s", ev.repo);
        ignore(d, why);
        return;
    }
    if (ev.action == WH_PR_CLOSED) {
        rc = sched_intake_pr_closed(req->app->store, d->id, ev.repo, ev.number, core_time_now_ms(),
                                    &in, &err);
        if (rc < 0)
            store_failed(d, rc, &err);
        else
            answer_intake(d, &in);
        return;
    }
    if (!wh_pr_action_builds(ev.action)) {
        char why[80];

        snprintf(why, sizeof(why), "action %s does not start a build", ev.action_name);
        ignore(d, why);
        return;
    }
    if (ev.draft) {
        ignore(d, "draft pull requests are not built");
        return;
    }
    snprintf(reason, sizeof(reason), "pull request #%lld %s at %.7s", (long long)ev.number,
             ev.action_name, ev.head_sha);
    ref = (sched_pr_ref){.reason = reason,
                         .repo = ev.repo,
                         .pr = ev.number,
                         .head_sha = ev.head_sha,
                         .base_sha = ev.base_sha,
                         .head_ref = ev.head_ref,
                         .base_ref = ev.base_ref,
                         .title = ev.title,
                         .author = ev.author,
                         .clone_url = ev.clone_url,
                         .installation_id = ev.installation_id};
    intake(d, &ref);
}

/* The pull request fields of the job a check run reported on, for its re-run. */
typedef struct rerun_job {
    char repo[256], pr[24], head_sha[48], base_sha[48], head_ref[256], base_ref[256];
    char title[1024], author[128], clone_url[512], installation[24];
} rerun_job;

static int rerun_job_read(const delivery *d, const char *id, rerun_job *j, core_error *err)
{
    sched_field f[] = {{"repo", j->repo, sizeof(j->repo)},
                       {"pr", j->pr, sizeof(j->pr)},
                       {"head_sha", j->head_sha, sizeof(j->head_sha)},
                       {"base_sha", j->base_sha, sizeof(j->base_sha)},
                       {"head_ref", j->head_ref, sizeof(j->head_ref)},
                       {"base_ref", j->base_ref, sizeof(j->base_ref)},
                       {"title", j->title, sizeof(j->title)},
                       {"author", j->author, sizeof(j->author)},
                       {"clone_url", j->clone_url, sizeof(j->clone_url)},
                       {"installation_id", j->installation, sizeof(j->installation)}};

    return sched_job_fields(d->req->app->store, id, f, sizeof(f) / sizeof(f[0]), err);
}

/* check_run "rerequested": someone pressed "Re-run" on zoneci's check run. The run's
 * external_id names the job it reported on; a new job inspects that commit again. */
static void handle_check_run(const delivery *d)
{
    const wh_request *req = d->req;
    wh_check_run_event ev;
    core_error err = {0};
    rerun_job j;
    sched_pr_ref ref;
    char reason[128];
    int rc;

    if (!delivery_checked(d))
        return;
    if (wh_check_run_event_parse(req->body, req->body_len, &ev, &err) < 0) {
        invalid_payload(d, err.msg);
        return;
    }
    if (strcmp(ev.action, "rerequested") != 0) {
        ignore(d, "only a check run's re-run (rerequested) is used");
        return;
    }
    /* An App that may write checks gets every App's check_run events: only ours count. */
    if (strcmp(ev.name, NOTIFY_CHECK_NAME) != 0 || !ev.external_id[0] ||
        (req->rt->cfg->github.app_id && ev.app_id != req->rt->cfg->github.app_id)) {
        ignore(d, "not zoneci's check run");
        return;
    }
    if (!policy_match(req->rt->cfg, ev.repo)) {
        ignore(d, "no policy matches this repository");
        return;
    }
    rc = rerun_job_read(d, ev.external_id, &j, &err);
    if (rc == CORE_ENOTFOUND) {
        ignore(d, "the job this check run reported on no longer exists");
        return;
    }
    if (rc < 0) {
        store_failed(d, rc, &err);
        return;
    }
    if (strcmp(j.repo, ev.repo) != 0 || strcmp(j.head_sha, ev.head_sha) != 0) {
        ignore(d, "the check run's repository or commit is not its job's");
        return;
    }
    snprintf(reason, sizeof(reason), "check run re-run at %.7s (job %s)", ev.head_sha,
             ev.external_id);
    ref = (sched_pr_ref){.reason = reason,
                         .repo = j.repo,
                         .pr = strtoll(j.pr, NULL, 10),
                         .head_sha = j.head_sha,
                         .base_sha = j.base_sha,
                         .head_ref = j.head_ref,
                         .base_ref = j.base_ref,
                         .title = j.title,
                         .author = j.author,
                         .clone_url = j.clone_url,
                         .installation_id = ev.installation_id ? ev.installation_id
                                                               : strtoll(j.installation, NULL, 10),
                         .rerun_of = ev.external_id};
    intake(d, &ref);
}

static bool is_json_content_type(const char *ct)
{
    /* Absent is accepted: some proxies drop it; the body is still validated as JSON. */
    return !ct || strncmp(ct, "application/json", 16) == 0;
}

void wh_github_handle(const wh_request *req, wh_response *resp)
{
    const char *sig = wh_request_header(req, "X-Hub-Signature-256");
    delivery d = {.req = req, .resp = resp};
    core_error err = {0};

    d.event = wh_request_header(req, "X-GitHub-Event");
    d.id = wh_request_header(req, "X-GitHub-Delivery");
    d.kind = wh_event_kind_of(d.event);
    if (!sig) {
        wh_response_error(resp, 401, "missing_signature", "X-Hub-Signature-256 header is missing");
        finish(&d, WH_OUTCOME_UNAUTHORIZED, NULL, "no signature");
        return;
    }
    if (!wh_github_signature_valid(sig, req->body, req->body_len, req->rt->github_secrets,
                                   req->rt->n_github_secrets)) {
        wh_response_error(resp, 401, "bad_signature",
                          "X-Hub-Signature-256 does not match the body for any configured secret");
        finish(&d, WH_OUTCOME_UNAUTHORIZED, NULL, "signature mismatch");
        return;
    }
    if (!d.event || !*d.event) {
        wh_response_error(resp, 400, "missing_event", "X-GitHub-Event header is missing");
        finish(&d, WH_OUTCOME_INVALID, NULL, "no event header");
        return;
    }
    if (!is_json_content_type(wh_request_header(req, "Content-Type"))) {
        wh_response_error(resp, 415, "unsupported_media_type",
                          "set the webhook content type to application/json");
        finish(&d, WH_OUTCOME_INVALID, NULL, "not json");
        return;
    }
    switch (d.kind) {
    case WH_EVENT_PULL_REQUEST:
        handle_pull_request(&d);
        return;
    case WH_EVENT_CHECK_RUN:
        handle_check_run(&d);
        return;
    case WH_EVENT_PING:
    case WH_EVENT_INSTALLATION:
    case WH_EVENT_INSTALLATION_REPOSITORIES:
        if (wh_json_validate_object(req->body, req->body_len, &err) < 0) {
            invalid_payload(&d, err.msg);
            return;
        }
        wh_response_json(resp, 200, "{\"ok\":true,\"event\":\"%s\"}", d.event);
        finish(&d, WH_OUTCOME_IGNORED, NULL, "acknowledged");
        return;
    default:
        ignore(&d, "event not used by zoneci");
        return;
    }
}
