/* The migrations check run: what a reviewer reads in the pull request's Checks tab and, as
 * annotations, next to the risky line in "Files changed". Like the cards, the outbox's
 * github_check message carries only the job id: the run is brought up to date with the
 * job as Redis holds it when the message goes out, so a late delivery never shows old
 * news, and a retry finishes what an earlier attempt started. */
#include "notifier/checks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier/cards.h"
#include "notifier/text.h"
#include "scheduler/sched_jobs.h"

#define EXCERPT_MAX 120      /* characters of a statement in the summary's table */
#define RAW_DETAILS_MAX 4000 /* characters of a statement in an annotation */
#define TABLE_ROWS_MAX 200   /* findings listed in the summary; the rest are counted */
#define SUMMARY_ROOM 2000    /* kept free for what follows the table */

/* ---- the run's words ------------------------------------------------------------------ */

static bool is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static bool undecided_end(const notify_check_job *j)
{
    return (is(j->state, "superseded") || is(j->state, "cancelled")) &&
           !is(j->decision, "approved");
}

const char *notify_check_conclusion(const notify_check_job *j)
{
    if (is(j->state, "received") || is(j->state, "inspecting"))
        return NULL;
    if (is(j->decision, "rejected") || is(j->state, "rejected"))
        return "failure";
    if (undecided_end(j))
        return "cancelled";
    if (is(j->state, "awaiting_approval") && !is(j->decision, "approved"))
        return "action_required";
    return "success";
}

/* A finding that becomes an annotation: not suppressed, and on a file. */
static bool annotated(const notify_finding *f)
{
    return !f->suppression && f->path && f->path[0];
}

size_t notify_check_annotation_count(const notify_check_job *j)
{
    size_t n = 0;

    for (size_t i = 0; i < j->n_findings; i++)
        n += annotated(&j->findings[i]);
    return n;
}

static const char *level(const char *severity)
{
    return is(severity, "danger") ? "failure" : is(severity, "warning") ? "warning" : "notice";
}

static size_t count_severity(const notify_check_job *j, const char *severity)
{
    size_t n = 0;

    for (size_t i = 0; i < j->n_findings; i++)
        n += annotated(&j->findings[i]) && is(j->findings[i].severity, severity);
    return n;
}

/* Appends s to t for Markdown: every ASCII punctuation character backslash-escaped (so
 * nothing from a migration or a PR can become a link, an image, a table cell, HTML or a
 * mention), newlines made spaces, cut at max_chars with "…". */
static int md_add(notify_text *t, const char *s, size_t max_chars)
{
    notify_text plain = {{0}, 0};
    int rc = notify_text_add_cut(&plain, s, NOTIFY_TEXT_ONELINE, max_chars);

    for (size_t i = 0; rc >= 0 && plain.buf.data && i < plain.buf.len; i++) {
        char c = plain.buf.data[i];
        bool punct = (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
                     (c >= '{' && c <= '~');

        if ((punct && core_buf_append(&t->buf, "\\", 1) < 0) || core_buf_append(&t->buf, &c, 1) < 0)
            rc = CORE_ENOMEM;
    }
    notify_text_free(&plain);
    return rc < 0 ? rc : 0;
}

static int title_words(const notify_check_job *j, const char *conclusion, notify_text *t)
{
    size_t danger = count_severity(j, "danger"), warning = count_severity(j, "warning");
    char head[160];

    if (!conclusion)
        snprintf(head, sizeof(head), "Inspecting the migrations");
    else if (j->n_files == 0)
        snprintf(head, sizeof(head), "No migrations in this pull request");
    else if (danger + warning == 0)
        snprintf(head, sizeof(head), "%zu migration%s, nothing risky", j->n_files,
                 j->n_files == 1 ? "" : "s");
    else
        snprintf(head, sizeof(head), "%zu dangerous, %zu warning%s", danger, warning,
                 warning == 1 ? "" : "s");
    if (core_buf_puts(&t->buf, head) < 0)
        return CORE_ENOMEM;
    t->chars = strlen(head);
    if (is(conclusion, "action_required"))
        return core_buf_puts(&t->buf, ": approval needed") < 0 ? CORE_ENOMEM : 0;
    if (is(conclusion, "failure") || is(conclusion, "cancelled") ||
        (is(conclusion, "success") && (is(j->decision, "approved")))) {
        /* The reason names the decider as GitHub knows them ("approved by @octocat"). */
        if (core_buf_puts(&t->buf, ": ") < 0)
            return CORE_ENOMEM;
        t->chars += 2;
        return notify_text_add_cut(t, j->reason, NOTIFY_TEXT_ONELINE, NOTIFY_CHECK_TITLE_MAX) < 0
                   ? CORE_ENOMEM
                   : 0;
    }
    return 0;
}

/* ---- the summary ---------------------------------------------------------------------- */

static int md_line(core_buf *b, const char *s)
{
    return core_buf_puts(b, s) < 0 ? CORE_ENOMEM : 0;
}

static int md_text(core_buf *b, const char *s, size_t max_chars)
{
    notify_text t = {{0}, 0};
    int rc = md_add(&t, s, max_chars);

    if (rc == 0 && t.buf.len && core_buf_append(b, t.buf.data, t.buf.len) < 0)
        rc = CORE_ENOMEM;
    notify_text_free(&t);
    return rc;
}

static int findings_table(core_buf *b, const notify_check_job *j)
{
    size_t rows = 0, total = notify_check_annotation_count(j), suppressed = j->n_findings - total;
    int rc = md_line(b, "\n### Findings\n\n| Severity | Rule | Where | Statement | Safer way |\n"
                        "|---|---|---|---|---|\n");

    for (size_t i = 0; rc == 0 && i < j->n_findings; i++) {
        const notify_finding *f = &j->findings[i];

        if (!annotated(f))
            continue;
        if (rows == TABLE_ROWS_MAX || b->len + SUMMARY_ROOM > NOTIFY_CHECK_SUMMARY_MAX / 2)
            break;
        rows++;
        rc = md_line(b, "| ");
        if (rc == 0)
            rc = md_text(b, f->severity, 16);
        if (rc == 0)
            rc = md_line(b, " | ");
        if (rc == 0)
            rc = md_text(b, f->rule, 64);
        if (rc == 0)
            rc = md_line(b, " | ");
        if (rc == 0)
            rc = md_text(b, f->path, 200);
        if (rc == 0 && f->line > 0 && core_buf_printf(b, "\\:%d", f->line) < 0)
            rc = CORE_ENOMEM;
        if (rc == 0)
            rc = md_line(b, " | ");
        if (rc == 0)
            rc = md_text(b, f->statement, EXCERPT_MAX);
        if (rc == 0)
            rc = md_line(b, " | ");
        if (rc == 0)
            rc = md_text(b, f->safer ? f->safer : "", 300);
        if (rc == 0)
            rc = md_line(b, " |\n");
    }
    if (rc == 0 && rows < total && core_buf_printf(b, "\n…and %zu more\n", total - rows) < 0)
        rc = CORE_ENOMEM;
    if (rc == 0 && suppressed > 0 &&
        core_buf_printf(b, "\n%zu more suppressed by `zoneci:ignore`\n", suppressed) < 0)
        rc = CORE_ENOMEM;
    return rc;
}

static int files_list(core_buf *b, const notify_check_job *j)
{
    size_t shown = 0;
    int rc = md_line(b, "\n### Migration files\n\n");

    for (size_t i = 0; rc == 0 && i < j->n_files; i++) {
        if (shown == 50) {
            rc = core_buf_printf(b, "- …and %zu more\n", j->n_files - shown) < 0 ? CORE_ENOMEM : 0;
            break;
        }
        shown++;
        rc = md_line(b, "- ");
        if (rc == 0)
            rc = md_text(b, j->files[i], 300);
        if (rc == 0)
            rc = md_line(b, "\n");
    }
    return rc;
}

static int approval_words(core_buf *b, const notify_check_job *j, const char *conclusion)
{
    int rc = 0;

    if (j->approval_region && j->approval_region[0]) {
        rc = md_line(b, "\n### Approval\n\nAsked in region **");
        if (rc == 0)
            rc = md_text(b, j->approval_region, 100);
        rc = rc ? rc : md_line(b, "**");
        if (rc == 0 && j->approval_oncall && j->approval_oncall[0]) {
            rc = md_line(b, " (on call: ");
            rc = rc ? rc : md_text(b, j->approval_oncall, 300);
            rc = rc ? rc : md_line(b, ")");
        }
        rc = rc ? rc : md_line(b, ".\n");
    }
    if (rc == 0 && (j->decision[0] || is(conclusion, "cancelled")) && j->reason && j->reason[0]) {
        rc = md_line(b, "\n**");
        rc = rc ? rc : md_text(b, j->reason, 200);
        rc = rc ? rc : md_line(b, "**\n");
    }
    if (rc == 0 && j->plan && j->plan[0]) {
        rc = md_line(b, "\n### Routing\n\n");
        rc = rc ? rc : md_text(b, j->plan, 500);
        rc = rc ? rc : md_line(b, "\n");
    }
    return rc;
}

static int summary(core_buf *b, const notify_check_job *j, const char *conclusion)
{
    int rc;

    if (!conclusion)
        return md_line(b, "zoneci is reading the pull request's diff and grading its migrations.");
    if (j->n_files == 0)
        return md_line(b, "This pull request changes no migration.");
    rc = md_line(b, is(conclusion, "action_required")
                        ? "**A risky migration needs an on-call approval before the build runs.**\n"
                        : "");
    rc = rc ? rc : files_list(b, j);
    if (rc == 0 && j->n_findings > 0)
        rc = findings_table(b, j);
    rc = rc ? rc : approval_words(b, j, conclusion);
    if (rc == 0 && j->details_url && j->details_url[0])
        rc = core_buf_printf(b, "\nThe job's history: %s\n", j->details_url) < 0 ? CORE_ENOMEM : 0;
    return rc;
}

/* ---- the body ------------------------------------------------------------------------- */

static int json_str(core_buf *b, const char *key, const char *value)
{
    if (core_buf_printf(b, ",\"%s\":\"", key) < 0 ||
        core_buf_json_escape(b, value, strlen(value)) < 0 || core_buf_puts(b, "\"") < 0)
        return CORE_ENOMEM;
    return 0;
}

static int annotation(core_buf *b, const notify_finding *f, bool first)
{
    notify_text msg = {{0}, 0}, raw = {{0}, 0};
    int line = f->line > 0 ? f->line : 1, rc = 0;

    if (notify_text_add_cut(&msg, f->message && f->message[0] ? f->message : f->rule, 0,
                            NOTIFY_CHECK_MESSAGE_MAX / 2) < 0 ||
        (f->safer && f->safer[0] &&
         (notify_text_add(&msg, "\n\nSafer: ", 0, NOTIFY_CHECK_MESSAGE_MAX) < 0 ||
          notify_text_add_cut(&msg, f->safer, 0, NOTIFY_CHECK_MESSAGE_MAX) < 0)) ||
        notify_text_add_cut(&raw, f->statement, 0, RAW_DETAILS_MAX) < 0)
        rc = CORE_ENOMEM;
    if (rc == 0 && (core_buf_printf(b, "%s{\"path\":\"", first ? "" : ",") < 0 ||
                    core_buf_json_escape(b, f->path, strlen(f->path)) < 0 ||
                    core_buf_printf(b, "\",\"start_line\":%d,\"end_line\":%d", line, line) < 0 ||
                    json_str(b, "annotation_level", level(f->severity)) < 0 ||
                    json_str(b, "title", f->rule) < 0 ||
                    json_str(b, "message", msg.buf.data ? msg.buf.data : "") < 0 ||
                    json_str(b, "raw_details", raw.buf.data ? raw.buf.data : "") < 0 ||
                    core_buf_puts(b, "}") < 0))
        rc = CORE_ENOMEM;
    notify_text_free(&msg);
    notify_text_free(&raw);
    return rc;
}

static int annotations(core_buf *b, const notify_check_job *j, size_t first, size_t *n)
{
    size_t seen = 0;
    int rc = core_buf_puts(b, ",\"annotations\":[") < 0 ? CORE_ENOMEM : 0;

    *n = 0;
    for (size_t i = 0; rc == 0 && i < j->n_findings; i++) {
        const notify_finding *f = &j->findings[i];

        if (!annotated(f) || seen++ < first)
            continue;
        if (*n == NOTIFY_CHECK_ANNOTATIONS_PER_REQUEST)
            break;
        rc = annotation(b, f, *n == 0);
        (*n)++;
    }
    if (rc == 0 && core_buf_puts(b, "]") < 0)
        rc = CORE_ENOMEM;
    return rc;
}

int notify_check_body(const notify_check_job *j, bool create, size_t first, core_buf *out,
                      size_t *n_annotations)
{
    const char *conclusion = notify_check_conclusion(j);
    notify_text title = {{0}, 0};
    core_buf md = {0};
    notify_text sum = {{0}, 0};
    size_t sha_len = j->head_sha ? strlen(j->head_sha) : 0;
    int rc;

    *n_annotations = 0;
    if (!j->job_id || !j->job_id[0] || (sha_len != 40 && sha_len != 64))
        return CORE_EINVAL;
    for (size_t i = 0; i < sha_len; i++)
        if (core_hex_digit(j->head_sha[i]) < 0)
            return CORE_EINVAL;
    rc = title_words(j, conclusion, &title);
    rc = rc ? rc : summary(&md, j, conclusion);
    if (rc == 0 && md.len && notify_text_add_cut(&sum, md.data, 0, NOTIFY_CHECK_SUMMARY_MAX) < 0)
        rc = CORE_ENOMEM;
    if (rc == 0 &&
        core_buf_printf(out, "{\"status\":\"%s\"", conclusion ? "completed" : "in_progress") < 0)
        rc = CORE_ENOMEM;
    if (rc == 0 && create) {
        rc = json_str(out, "name", NOTIFY_CHECK_NAME);
        rc = rc ? rc : json_str(out, "head_sha", j->head_sha);
        rc = rc ? rc : json_str(out, "external_id", j->job_id);
    }
    if (rc == 0 && j->details_url && j->details_url[0])
        rc = json_str(out, "details_url", j->details_url);
    if (rc == 0 && conclusion) {
        rc = json_str(out, "conclusion", conclusion);
        if (rc == 0 && j->completed_at && j->completed_at[0])
            rc = json_str(out, "completed_at", j->completed_at);
    }
    if (rc == 0 && core_buf_puts(out, ",\"output\":{\"title\":\"") < 0)
        rc = CORE_ENOMEM;
    if (rc == 0 &&
        (core_buf_json_escape(out, title.buf.data ? title.buf.data : "", title.buf.len) < 0 ||
         core_buf_puts(out, "\"") < 0 ||
         json_str(out, "summary", sum.buf.data ? sum.buf.data : "") < 0))
        rc = CORE_ENOMEM;
    if (rc == 0 && conclusion)
        rc = annotations(out, j, first, n_annotations);
    if (rc == 0 && core_buf_puts(out, "}}") < 0)
        rc = CORE_ENOMEM;
    notify_text_free(&title);
    notify_text_free(&sum);
    core_buf_free(&md);
    return rc;
}

/* ---- delivery ------------------------------------------------------------------------- */

int notify_check_deliver(notify_http *http, notify_github *gh, sched_store *store,
                         const char *public_url, const char *job_id, int64_t now_ms,
                         int *retry_after_s, core_error *err)
{
    sched_card_view v;
    notify_report_view report = {0};
    notify_check_job j = {0};
    char details[1024] = "", when[40];
    int64_t run_id;
    size_t sent, total;
    int rc = sched_card_view_get(store, job_id, &v, err);

    if (rc < 0)
        return rc;
    if (v.installation_id <= 0) {
        rc = core_error_set(err, CORE_EINVAL, "github_check: job %s has no installation", job_id);
        goto out;
    }
    if (notify_report_read(v.report, &report) < 0) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    if (public_url && public_url[0])
        snprintf(details, sizeof(details), "%s/jobs/%s", public_url, job_id);
    core_time_format_iso(now_ms, when);
    /* A decision's own words ("approved by @octocat"): the job's reason moves on once the
     * router places it. */
    j = (notify_check_job){job_id,
                           v.head_sha,
                           v.state,
                           v.decision,
                           v.decided_reason[0] ? v.decided_reason : v.reason,
                           v.approval_region,
                           v.approval_oncall,
                           v.plan,
                           details,
                           report.files,
                           report.n_files,
                           report.findings,
                           report.n_findings,
                           when};
    run_id = v.check_run_id;
    sent = v.check_annotated;
    total = notify_check_annotation_count(&j);
    if (run_id > 0 && !notify_check_conclusion(&j))
        goto out; /* created already; still being inspected: nothing new to say */
    /* One request at least (the state), then one per batch of annotations left. Each is
     * recorded once GitHub took it, so a retry goes on from there. */
    do {
        core_buf body = {0};
        size_t n = 0;

        rc = notify_check_body(&j, run_id <= 0, sent, &body, &n);
        if (rc < 0) {
            core_buf_free(&body);
            rc = core_error_set(err, rc, "github_check: job %s: %s", job_id,
                                rc == CORE_ENOMEM ? "out of memory" : "no head sha");
            break;
        }
        rc = notify_github_check_run(gh, http, v.installation_id, v.repo, run_id, body.data, now_ms,
                                     &run_id, retry_after_s, err);
        core_buf_free(&body);
        if (rc == 0) {
            sent += n;
            rc = sched_job_check_run(store, job_id, run_id, sent, err);
        }
    } while (rc == 0 && notify_check_conclusion(&j) && sent < total);
out:
    notify_report_view_free(&report);
    sched_card_view_free(&v);
    return rc;
}
