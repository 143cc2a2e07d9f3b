/* Approval cards, rendered from the job and sent: the outbox's slack_card and
 * slack_card_update messages carry only the job id, so what Slack shows is always what
 * Redis holds when the message goes out. */
#include "notifier/cards.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MENTIONS 64

/* What a card borrows while it is built: the parsed report and the split mentions. */
typedef struct card_parts {
    notify_report_view report;
    char *mentions_buf;
    const char *mentions[MAX_MENTIONS];
    size_t n_mentions;
    char pr_url[600];
} card_parts;

static void parts_free(card_parts *p)
{
    notify_report_view_free(&p->report);
    free(p->mentions_buf);
}

static const char *jstr(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

void notify_report_view_free(notify_report_view *v)
{
    json_decref(v->root);
    free(v->files);
    free(v->findings);
    memset(v, 0, sizeof(*v));
}

int notify_report_read(const char *report, notify_report_view *v)
{
    json_t *migrations;
    size_t n_findings = 0, i, k;
    json_t *m, *f;

    memset(v, 0, sizeof(*v));
    v->root = report && report[0] ? json_loads(report, 0, NULL) : NULL;
    migrations = json_object_get(v->root, "migrations");
    if (!json_is_array(migrations))
        return 0;
    json_array_foreach(migrations, i, m) n_findings +=
        json_array_size(json_object_get(m, "findings"));
    v->files = calloc(json_array_size(migrations) + 1, sizeof(*v->files));
    v->findings = calloc(n_findings + 1, sizeof(*v->findings));
    if (!v->files || !v->findings) {
        notify_report_view_free(v);
        return CORE_ENOMEM;
    }
    json_array_foreach(migrations, i, m)
    {
        if (jstr(m, "path"))
            v->files[v->n_files++] = jstr(m, "path");
        json_array_foreach(json_object_get(m, "findings"), k, f)
        {
            notify_finding *nf = &v->findings[v->n_findings++];

            nf->rule = jstr(f, "rule");
            nf->severity = jstr(f, "severity");
            nf->path = jstr(f, "path");
            nf->line = (int)json_integer_value(json_object_get(f, "line"));
            nf->statement = jstr(f, "statement");
            nf->safer = jstr(f, "safer");
            nf->message = jstr(f, "message");
            if (json_is_true(json_object_get(f, "suppressed")))
                nf->suppression = jstr(f, "suppression") ? jstr(f, "suppression") : "";
        }
    }
    return 0;
}

static int parts_mentions(card_parts *p, const char *csv)
{
    char *save = NULL, *tok;

    p->mentions_buf = core_strndup(csv, strlen(csv));
    if (!p->mentions_buf)
        return CORE_ENOMEM;
    for (tok = strtok_r(p->mentions_buf, ",", &save); tok && p->n_mentions < MAX_MENTIONS;
         tok = strtok_r(NULL, ",", &save))
        p->mentions[p->n_mentions++] = tok;
    return 0;
}

/* The PR's page from its clone URL ("https://github.com/acme/api.git"), which also holds
 * for GitHub Enterprise Server; none for other URLs. */
static void pr_url(const sched_card_view *v, char *out, size_t len)
{
    size_t n = strlen(v->clone_url);

    out[0] = '\0';
    if (strncmp(v->clone_url, "https://", 8) != 0)
        return;
    if (n > 4 && strcmp(v->clone_url + n - 4, ".git") == 0)
        n -= 4;
    snprintf(out, len, "%.*s/pull/%lld", (int)n, v->clone_url, (long long)v->pr);
}

int notify_card_render(const sched_card_view *v, const char *job_id, size_t index, core_buf *blocks,
                       core_buf *text)
{
    card_parts p = {0};
    notify_card c = {0};
    int rc;

    if (index >= v->n_cards)
        return CORE_EINVAL;
    rc = notify_report_read(v->report, &p.report);
    if (rc == 0)
        rc = parts_mentions(&p, v->cards[index].mentions);
    if (rc < 0) {
        parts_free(&p);
        return rc;
    }
    pr_url(v, p.pr_url, sizeof(p.pr_url));
    c.repo = v->repo;
    c.pr_number = (int)v->pr;
    c.title = v->title;
    c.pr_url = p.pr_url[0] ? p.pr_url : NULL;
    c.author = v->author;
    c.head_sha = v->head_sha;
    c.region = v->cards[index].region;
    c.plan = v->plan;
    c.mentions = p.mentions;
    c.n_mentions = p.n_mentions;
    c.files = p.report.files;
    c.n_files = p.report.n_files;
    c.findings = p.report.findings;
    c.n_findings = p.report.n_findings;
    c.job_id = job_id;
    c.card_key = v->card_key;
    if (index + 1 < v->n_cards)
        c.escalated_to = v->cards[index + 1].region;
    if (strcmp(v->state, "superseded") == 0)
        c.closed = "superseded by a newer push to the pull request";
    else if (strcmp(v->state, "cancelled") == 0)
        c.closed = "the pull request was closed";
    if (strcmp(v->decision, "approved") == 0 || strcmp(v->decision, "rejected") == 0) {
        c.decision = v->decision[0] == 'a' ? NOTIFY_CARD_APPROVED : NOTIFY_CARD_REJECTED;
        c.decided_by = v->decided_by;
        c.decided_at = v->decided_local;
    }
    rc = notify_slack_card(&c, blocks);
    if (rc == 0)
        rc = core_buf_printf(text, "%s %s #%lld: %s",
                             c.decision == NOTIFY_CARD_OPEN       ? "Approval needed for"
                             : c.decision == NOTIFY_CARD_APPROVED ? "Approved:"
                                                                  : "Rejected:",
                             v->repo, (long long)v->pr, v->title);
    parts_free(&p);
    return rc;
}

static int render_or_fail(const sched_card_view *v, const char *job_id, size_t index,
                          core_buf *blocks, core_buf *text, core_error *err)
{
    int rc = notify_card_render(v, job_id, index, blocks, text);

    if (rc == CORE_ENOMEM)
        return core_error_set(err, rc, "out of memory");
    if (rc < 0)
        return core_error_set(err, rc, "card %zu of job %s cannot be built (a bad mention?)", index,
                              job_id);
    return 0;
}

int notify_card_post(notify_http *http, const notify_slack_target *slack, sched_store *store,
                     const char *job_id, size_t index, int *retry_after_s, core_error *err)
{
    sched_card_view v;
    core_buf blocks = {0}, text = {0};
    char ts[NOTIFY_SLACK_TS_MAX];
    bool first;
    int rc = sched_card_view_get(store, job_id, &v, err);

    if (rc < 0)
        return rc;
    if (index >= v.n_cards) {
        rc = core_error_set(err, CORE_ENOTFOUND, "job %s has no card %zu", job_id, index);
        goto out;
    }
    if (v.cards[index].ts[0] || !v.cards[index].channel[0])
        goto out; /* posted already, or nowhere to post */
    rc = render_or_fail(&v, job_id, index, &blocks, &text, err);
    if (rc == 0)
        rc = notify_slack_post(http, slack->api_url, slack->token, v.cards[index].channel,
                               blocks.data, text.data, ts, retry_after_s, err);
    if (rc == 0)
        rc = sched_card_posted(store, job_id, index, ts, &first, err);
out:
    core_buf_free(&blocks);
    core_buf_free(&text);
    sched_card_view_free(&v);
    return rc;
}

int notify_card_update(notify_http *http, const notify_slack_target *slack, sched_store *store,
                       const char *job_id, size_t upto, int *retry_after_s, core_error *err)
{
    sched_card_view v;
    int rc = sched_card_view_get(store, job_id, &v, err);

    if (rc < 0)
        return rc;
    if (upto > v.n_cards)
        upto = v.n_cards;
    for (size_t i = 0; rc == 0 && i < upto; i++) {
        core_buf blocks = {0}, text = {0};

        if (!v.cards[i].channel[0])
            continue;
        if (!v.cards[i].ts[0]) {
            rc =
                core_error_set(err, CORE_EAGAIN, "card %zu of job %s is not posted yet", i, job_id);
            break;
        }
        rc = render_or_fail(&v, job_id, i, &blocks, &text, err);
        if (rc == 0)
            rc = notify_slack_update(http, slack->api_url, slack->token, v.cards[i].channel,
                                     v.cards[i].ts, blocks.data, text.data, retry_after_s, err);
        core_buf_free(&blocks);
        core_buf_free(&text);
    }
    sched_card_view_free(&v);
    return rc;
}
