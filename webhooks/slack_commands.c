/* POST /webhooks/slack/commands: the `/zoneci` slash command. Signed and dated like a click
 * (wh_slack_request_verified, before a byte of the body is parsed), then answered in the
 * HTTP response itself, ephemeral, within Slack's 3 seconds: the configuration, the clock
 * and at most one read-only Redis round trip, never a call out. Every answer a person
 * reads is a 200 (Slack shows an opaque error for anything else), and everything that came
 * from outside (a PR title, a reason, what was typed) is escaped for mrkdwn. */
#include "webhooks/slack.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_windows.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

#define DEFAULT_WEB_URL "https://github.com"
#define OWNER_MAX 39      /* GitHub's limit for a user or organisation name */
#define REPO_NAME_MAX 100 /* and for a repository's */
#define PR_DIGITS_MAX 18
#define TOP_FINDINGS 5 /* findings listed by `status`; the others are counted */

/* ---- the form ---------------------------------------------------------------------------- */

/* Decodes one application/x-www-form-urlencoded component (n bytes) into out (cap bytes
 * with the NUL). CORE_ETOOBIG when it does not fit, CORE_EINVAL for a bad %-escape or a
 * NUL byte; field names the component in messages. */
static int form_decode(const char *src, size_t n, char *out, size_t cap, const char *field,
                       core_error *err)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return core_error_set(err, CORE_EINVAL, "%s: a %% escape is cut short", field);
            hi = core_hex_digit(src[i + 1]);
            lo = core_hex_digit(src[i + 2]);
            if (hi < 0 || lo < 0)
                return core_error_set(err, CORE_EINVAL, "%s: bad %% escape", field);
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0)
            return core_error_set(err, CORE_EINVAL, "%s: holds a NUL byte", field);
        if (o + 1 >= cap)
            return core_error_set(err, CORE_ETOOBIG, "%s: longer than %zu bytes", field, cap - 1);
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

typedef struct form_field {
    const char *name;
    char *out;
    size_t cap;
    bool seen;
} form_field;

/* Splits the form at '&' and decodes the fields asked for (the first occurrence of each);
 * others are skipped undecoded. */
static int form_read(const char *form, size_t len, form_field *fields, size_t n, core_error *err)
{
    const char *p = form, *end = form + len;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t klen = (size_t)((eq ? eq : stop) - p);

        for (size_t i = 0; i < n; i++) {
            int rc;

            if (fields[i].seen || strlen(fields[i].name) != klen ||
                memcmp(fields[i].name, p, klen) != 0)
                continue;
            rc = eq ? form_decode(eq + 1, (size_t)(stop - eq - 1), fields[i].out, fields[i].cap,
                                  fields[i].name, err)
                    : form_decode("", 0, fields[i].out, fields[i].cap, fields[i].name, err);
            if (rc < 0)
                return rc;
            fields[i].seen = true;
        }
        p = stop + (amp ? 1 : 0);
    }
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Printable ASCII without blanks: a command name or a URL. */
static bool printable_word(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s >= 0x7f)
            return false;
    }
    return true;
}

/* Text a person typed: UTF-8 (each sequence whole; an answer echoes some of it back inside
 * JSON) without control characters other than blanks. */
static bool text_ok(const char *s)
{
    while (*s) {
        unsigned char c = (unsigned char)*s++;
        int more = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : -1;

        if (more < 0 || (c < 0x20 && !is_blank((char)c)) || c == 0x7f)
            return false;
        for (; more > 0; more--) {
            if (((unsigned char)*s++ & 0xC0) != 0x80)
                return false;
        }
    }
    return true;
}

/* ---- the text ---------------------------------------------------------------------------- */

/* The next blank-separated word of *p (advanced past it) into start/len; false at the end. */
static bool next_word(const char **p, const char **start, size_t *len)
{
    const char *s = *p;

    while (*s && is_blank(*s))
        s++;
    if (!*s)
        return false;
    *start = s;
    while (*s && !is_blank(*s))
        s++;
    *len = (size_t)(s - *start);
    *p = s;
    return true;
}

static bool span_chars(const char *s, size_t n, size_t max, bool dots)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || (dots && (c == '.' || c == '_'))))
            return false;
    }
    /* "." and ".." are not repositories. */
    return !(dots && ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')));
}

/* n decimal digits, 1 to PR_DIGITS_MAX of them, not all zero. */
static bool pr_number(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;

    if (n == 0 || n > PR_DIGITS_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v > 0;
}

/* "OWNER/REPO" then `sep` then the number (n bytes in all); the number ends the span or is
 * followed by one of `after`. */
static bool pr_ref(const char *s, size_t n, char sep, const char *after, wh_slack_command *out)
{
    const char *slash = memchr(s, '/', n), *mark, *num_end;
    size_t o_len, r_len;

    if (!slash)
        return false;
    o_len = (size_t)(slash - s);
    mark = memchr(slash + 1, sep, n - o_len - 1);
    if (!mark)
        return false;
    r_len = (size_t)(mark - slash - 1);
    if (!span_chars(s, o_len, OWNER_MAX, false) ||
        !span_chars(slash + 1, r_len, REPO_NAME_MAX, true))
        return false;
    num_end = mark + 1;
    while (num_end < s + n && *num_end >= '0' && *num_end <= '9')
        num_end++;
    if (num_end < s + n && !strchr(after, *num_end))
        return false;
    if (!pr_number(mark + 1, (size_t)(num_end - mark - 1), &out->pr))
        return false;
    memcpy(out->repo, s, o_len + 1 + r_len);
    out->repo[o_len + 1 + r_len] = '\0';
    return true;
}

/* `status`'s argument: OWNER/REPO#PR, or web_url/OWNER/REPO/pull/N with anything after a
 * '/', '?' or '#', either of them maybe in Slack's "<...>" or "<...|label>". */
static bool status_arg(const char *s, size_t n, const char *web_url, wh_slack_command *out)
{
    size_t base;

    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        const char *bar = memchr(s, '|', n);

        n = (size_t)((bar ? bar : s + n - 1) - s) - 1;
        s++;
    }
    base = strlen(web_url);
    while (base > 0 && web_url[base - 1] == '/')
        base--;
    if (n > base + 1 && strncasecmp(s, web_url, base) == 0 && s[base] == '/') {
        const char *path = s + base + 1;
        size_t plen = n - base - 1;
        const char *pull = NULL;

        /* OWNER/REPO/pull/N: "/pull/" after the second segment. */
        for (size_t i = 0; i + 6 <= plen; i++) {
            if (memcmp(path + i, "/pull/", 6) == 0) {
                pull = path + i;
                break;
            }
        }
        if (!pull)
            return false;
        {
            /* Rewrite as OWNER/REPO#N...: pr_ref checks the rest. */
            char ref[WH_SLACK_TEXT_MAX + 1];
            size_t head = (size_t)(pull - path), tail = plen - head - 6;

            memcpy(ref, path, head);
            ref[head] = '#';
            memcpy(ref + head + 1, pull + 6, tail);
            return pr_ref(ref, head + 1 + tail, '#', "/?#", out);
        }
    }
    return pr_ref(s, n, '#', "", out);
}

/* The sub-commands by name; wh_slack_sub indexes sub_names (logs). */
static const char *const sub_names[] = {"help", "windows", "status", "oncall", "unknown"};

static const struct {
    const char *word;
    wh_slack_sub sub;
} subs[] = {{"help", WH_SLACK_SUB_HELP},
            {"windows", WH_SLACK_SUB_WINDOWS},
            {"status", WH_SLACK_SUB_STATUS},
            {"oncall", WH_SLACK_SUB_ONCALL}};

static void text_parse(const char *web_url, wh_slack_command *out)
{
    const char *p = out->text, *w, *arg;
    size_t n, arg_len;

    out->sub = WH_SLACK_SUB_HELP;
    if (!next_word(&p, &w, &n))
        return;
    out->sub = WH_SLACK_SUB_UNKNOWN;
    /* Echoed back: cut to fit, but not inside a UTF-8 sequence. */
    if (n > WH_SLACK_WORD_MAX) {
        n = WH_SLACK_WORD_MAX;
        while (n > 0 && ((unsigned char)w[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out->word, w, n);
    out->word[n] = '\0';
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strlen(subs[i].word) == n && strncasecmp(subs[i].word, w, n) == 0)
            out->sub = subs[i].sub;
    }
    if (out->sub != WH_SLACK_SUB_STATUS)
        return;
    out->bad_arg = !next_word(&p, &arg, &arg_len) || !status_arg(arg, arg_len, web_url, out) ||
                   next_word(&p, &w, &n);
    if (out->bad_arg) {
        out->repo[0] = '\0';
        out->pr = 0;
    }
}

int wh_slack_command_parse(const char *form, size_t len, const char *web_url, wh_slack_command *out,
                           core_error *err)
{
    form_field f[] = {{"command", out->command, sizeof(out->command), false},
                      {"text", out->text, sizeof(out->text), false},
                      {"user_id", out->user, sizeof(out->user), false},
                      {"channel_id", out->channel, sizeof(out->channel), false},
                      {"response_url", out->response_url, sizeof(out->response_url), false}};
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > WH_SLACK_FORM_MAX)
        return core_error_set(err, CORE_ETOOBIG, "form: longer than %d bytes", WH_SLACK_FORM_MAX);
    rc = form_read(form, len, f, sizeof(f) / sizeof(f[0]), err);
    if (rc == 0 &&
        (out->command[0] != '/' || out->command[1] == '\0' || !printable_word(out->command)))
        rc = core_error_set(err, CORE_EINVAL, "command: missing, or not a slash command");
    else if (rc == 0 && !wh_slack_id_valid(out->user))
        rc = core_error_set(err, CORE_EINVAL, "user_id: missing or not a Slack id");
    else if (rc == 0 && !text_ok(out->text))
        rc = core_error_set(err, CORE_EINVAL, "text: not UTF-8, or holds a control character");
    else if (rc == 0 && f[3].seen && !wh_slack_id_valid(out->channel))
        rc = core_error_set(err, CORE_EINVAL, "channel_id: not a Slack id");
    else if (rc == 0 && f[4].seen &&
             (strncmp(out->response_url, "https://", 8) != 0 || !printable_word(out->response_url)))
        rc = core_error_set(err, CORE_EINVAL, "response_url: not an https:// URL");
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    text_parse(web_url ? web_url : DEFAULT_WEB_URL, out);
    return 0;
}

/* ---- the answers ------------------------------------------------------------------------- */

static void esc(core_buf *b, const char *s)
{
    wh_slack_escape(b, s, strlen(s));
}

/* before, s escaped, after: a piece of text from outside inside our own mrkdwn. */
static void esc_in(core_buf *b, const char *before, const char *s, const char *after)
{
    core_buf_puts(b, before);
    esc(b, s);
    core_buf_puts(b, after);
}

static void help(core_buf *b, const char *command)
{
    const char *c = command[0] ? command : "/zoneci";

    core_buf_puts(b, "*zoneci* answers, only to you:\n");
    core_buf_puts(b, "• `");
    esc(b, c);
    core_buf_puts(b, " windows`: the regions now, open or closed, and when that changes\n• `");
    esc(b, c);
    core_buf_puts(b, " status OWNER/REPO#PR`: a pull request's latest job: its state, region, "
                     "reason, findings and who can approve it (the pull request's URL works "
                     "too)\n• `");
    esc(b, c);
    core_buf_puts(b, " oncall`: who is on call in each region, and which region is awake\n• `");
    esc(b, c);
    core_buf_puts(b, " help`: this");
}

static void windows(core_buf *b, const wh_runtime *rt, int64_t now)
{
    core_buf table = {0};

    core_buf_puts(b, "*Working windows now*\n```\n");
    sched_plan_table(rt->plan, now, NULL, &table);
    wh_slack_escape(b, table.data ? table.data : "", table.len);
    core_buf_puts(b, "```");
    if (core_buf_status(&table) < 0)
        core_buf_puts(b, "\n(out of memory: the table is cut short)");
    core_buf_free(&table);
}

static void mentions(core_buf *b, char *const *users, size_t n)
{
    if (n == 0) {
        core_buf_puts(b, "nobody listed");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        core_buf_puts(b, i ? ", <@" : "<@");
        esc(b, users[i]);
        core_buf_puts(b, ">");
    }
}

static void oncall(core_buf *b, const wh_runtime *rt, int64_t now)
{
    const policy_config *cfg = rt->cfg;
    core_buf awake = {0};
    int next = -1;
    sched_region_now next_st = {0};

    core_buf_puts(b, "*On call, by region*\n");
    for (size_t i = 0; i < cfg->n_regions; i++) {
        const policy_region *r = &cfg->regions[i];
        sched_region_now st;

        sched_plan_region_now(rt->plan, i, now, &st);
        core_buf_puts(b, "• *");
        esc(b, r->name);
        core_buf_printf(b, "*: %s (", st.open ? "open" : "closed");
        esc(b, st.change);
        core_buf_puts(b, "); on call: ");
        mentions(b, r->oncall, r->n_oncall);
        core_buf_puts(b, "\n");
        if (st.open) {
            core_buf_puts(&awake, awake.len ? ", *" : "*");
            esc(&awake, r->name);
            core_buf_puts(&awake, "*");
        } else if (st.next_change != SCHED_NO_INSTANT &&
                   (next < 0 || st.next_change < next_st.next_change)) {
            next = (int)i;
            next_st = st;
        }
    }
    if (awake.len > 0) {
        core_buf_puts(b, "Awake now: ");
        core_buf_append(b, awake.data, awake.len);
        core_buf_puts(b, ".");
    } else if (next >= 0) {
        esc_in(b, "No region is awake now; the next to open is *", cfg->regions[next].name, "*: ");
        esc_in(b, "", next_st.change, ".");
    } else {
        core_buf_puts(b, "No region is awake now, and none opens within a year.");
    }
    if (core_buf_status(&awake) < 0)
        core_buf_puts(b, "\n(out of memory: the answer is cut short)");
    core_buf_free(&awake);
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

static int severity_rank(const char *s)
{
    return strcmp(s, "danger") == 0 ? 0 : strcmp(s, "warning") == 0 ? 1 : 2;
}

/* The counts by severity, then the TOP_FINDINGS most severe findings that are not
 * suppressed (most severe first, then in the report's order): rule and path:line. */
static void findings(core_buf *b, const json_t *job)
{
    const json_t *report = json_object_get(job, "report"), *summary, *m, *f;
    const char *state = jstr(job, "state");
    size_t i, j, shown = 0;
    json_int_t total;

    if (!json_is_object(report)) {
        core_buf_puts(b, strcmp(state, "received") == 0 || strcmp(state, "inspecting") == 0
                             ? "Findings: not inspected yet\n"
                             : "Findings: none (nothing inspected)\n");
        return;
    }
    summary = json_object_get(report, "summary");
    total = json_integer_value(json_object_get(summary, "danger")) +
            json_integer_value(json_object_get(summary, "warning")) +
            json_integer_value(json_object_get(summary, "info"));
    core_buf_printf(b, "Findings: %lld danger, %lld warning, %lld info",
                    (long long)json_integer_value(json_object_get(summary, "danger")),
                    (long long)json_integer_value(json_object_get(summary, "warning")),
                    (long long)json_integer_value(json_object_get(summary, "info")));
    if (json_string_value(json_object_get(report, "risk"))) {
        esc_in(b, " (risk ", jstr(report, "risk"), ")");
    }
    core_buf_puts(b, "\n");
    for (int rank = 0; rank < 3 && shown < TOP_FINDINGS; rank++) {
        json_array_foreach(json_object_get(report, "migrations"), i, m)
        {
            json_array_foreach(json_object_get(m, "findings"), j, f)
            {
                if (shown >= TOP_FINDINGS || json_is_true(json_object_get(f, "suppressed")) ||
                    severity_rank(jstr(f, "severity")) != rank)
                    continue;
                esc_in(b, "    • ", jstr(f, "severity"), " `");
                esc_in(b, "", jstr(f, "rule"), "` ");
                esc(b, json_string_value(json_object_get(f, "path")) ? jstr(f, "path")
                                                                     : jstr(m, "path"));
                core_buf_printf(b, ":%lld\n",
                                (long long)json_integer_value(json_object_get(f, "line")));
                shown++;
            }
        }
    }
    if ((json_int_t)shown < total)
        core_buf_printf(b, "    …and %lld more\n", (long long)(total - (json_int_t)shown));
}

/* Who decided, or who may still decide: the policy's approvers the buttons would accept. */
static void approvers(core_buf *b, const wh_runtime *rt, const json_t *job)
{
    const policy_config *cfg = rt->cfg;
    const char *repo = jstr(job, "repo"), *author = jstr(job, "author");
    const char *decision = jstr(job, "decision"), *by = jstr(job, "decided_by");
    const policy_policy *pol = policy_match(cfg, repo);
    size_t k = 0;

    if (decision[0]) {
        bool slack_user = false;

        for (size_t i = 0; pol && i < pol->n_approvers; i++)
            slack_user |= strcmp(pol->approvers[i], by) == 0;
        core_buf_printf(b, "%s by ", strcmp(decision, "approved") == 0 ? "Approved" : "Rejected");
        core_buf_puts(b, slack_user ? "<@" : "");
        esc(b, by);
        core_buf_puts(b, slack_user ? ">\n" : "\n");
        return;
    }
    if (strcmp(jstr(job, "state"), "awaiting_approval") != 0)
        return;
    core_buf_puts(b, "*Waiting for approval* by one of: ");
    for (size_t i = 0; pol && i < pol->n_approvers; i++) {
        if (wh_slack_refusal(cfg, repo, author, pol->approvers[i]))
            continue;
        core_buf_puts(b, k++ ? ", <@" : "<@");
        esc(b, pol->approvers[i]);
        core_buf_puts(b, ">");
    }
    core_buf_puts(b, k ? " (never the pull request's author)\n"
                       : "nobody in Slack: no approver of this repository other than its author "
                         "is known to zoneci (`approvers`, `people`); an operator can decide "
                         "through the API\n");
}

static void status_job(core_buf *b, const wh_runtime *rt, const json_t *job)
{
    const char *url = rt->cfg->server.public_url, *region = jstr(job, "region");
    size_t url_len = url ? strlen(url) : 0;

    core_buf_puts(b, "*");
    esc(b, jstr(job, "repo"));
    core_buf_printf(b, "#%lld*", (long long)json_integer_value(json_object_get(job, "pr")));
    if (jstr(job, "title")[0])
        esc_in(b, " ", jstr(job, "title"), "");
    if (jstr(job, "author")[0])
        esc_in(b, " (by ", jstr(job, "author"), ")");
    esc_in(b, "\nJob ", jstr(job, "id"), ": *");
    esc_in(b, "", jstr(job, "state"), "*, region ");
    if (region[0])
        esc_in(b, "*", region, "*");
    else
        core_buf_puts(b, "not chosen yet");
    if (jstr(job, "approval_region")[0])
        esc_in(b, ", approval asked in *", jstr(job, "approval_region"), "*");
    esc_in(b, "\nReason: ", jstr(job, "reason"), "\n");
    findings(b, job);
    approvers(b, rt, job);
    while (url_len > 0 && url[url_len - 1] == '/')
        url_len--;
    if (url_len > 0) {
        core_buf_puts(b, "<");
        wh_slack_escape(b, url, url_len);
        esc_in(b, "/jobs/", jstr(job, "id"), "|Job page>");
    }
}

/* `status`: one read-only round trip to Redis. */
static void status(core_buf *b, const wh_request *req, const wh_slack_command *cmd)
{
    core_buf doc = {0};
    core_error err = {0};
    json_t *job;
    char pr[WH_SLACK_REPO_MAX + 24];
    int rc;

    if (cmd->bad_arg) {
        core_buf_puts(b, "`status` takes one pull request: `OWNER/REPO#NUMBER` (like "
                         "`acme/app#42`) or its URL (`https://github.com/acme/app/pull/42`).");
        return;
    }
    snprintf(pr, sizeof(pr), "%s#%lld", cmd->repo, (long long)cmd->pr);
    rc = sched_pr_job_json(req->app->store, cmd->repo, cmd->pr, &doc, &err);
    if (rc == CORE_ENOTFOUND) {
        core_buf_puts(b, "zoneci has no job for *");
        esc(b, pr);
        core_buf_puts(b, "*: no pull request event reached it, or its jobs are older than the "
                         "retention period.");
    } else if (rc == CORE_EUNAVAILABLE) {
        core_buf_puts(b, "zoneci cannot reach Redis right now, so it cannot tell how *");
        esc(b, pr);
        core_buf_puts(b, "* stands. Try again in a minute.");
        CORE_LOG(CORE_LOG_WARN, "slack_command_failed", "err=\"%s\"", err.msg);
    } else if (rc < 0) {
        core_buf_puts(b, "zoneci could not read *");
        esc(b, pr);
        core_buf_puts(b, "*: an internal error (logged).");
        CORE_LOG(CORE_LOG_ERROR, "slack_command_failed", "err=\"%s\"", err.msg);
    } else {
        job = json_loadb(doc.data, doc.len, 0, NULL);
        if (job)
            status_job(b, req->rt, job);
        else
            core_buf_puts(b, "zoneci could not read its own job document (logged).");
        json_decref(job);
    }
    core_buf_free(&doc);
}

void wh_slack_commands(const wh_request *req, wh_response *resp)
{
    const wh_runtime *rt = req->rt;
    wh_slack_command *cmd;
    core_buf text = {0};
    core_error err = {0};
    int64_t now = core_time_now_ms();
    int rc;

    if (!wh_slack_request_verified(req, resp))
        return;
    cmd = malloc(sizeof(*cmd));
    if (!cmd) {
        wh_response_error(resp, 500, "internal", "out of memory");
        return;
    }
    rc = wh_slack_command_parse(req->body, req->body_len, rt->cfg->github.web_url, cmd, &err);
    if (rc < 0) {
        wh_response_error(resp, rc == CORE_ETOOBIG ? 413 : 400, "invalid_form", "%s", err.msg);
        goto out;
    }
    CORE_LOG(CORE_LOG_INFO, "slack_command", "user=%s sub=%s", cmd->user, sub_names[cmd->sub]);
    switch (cmd->sub) {
    case WH_SLACK_SUB_WINDOWS:
        windows(&text, rt, now);
        break;
    case WH_SLACK_SUB_STATUS:
        status(&text, req, cmd);
        break;
    case WH_SLACK_SUB_ONCALL:
        oncall(&text, rt, now);
        break;
    case WH_SLACK_SUB_UNKNOWN:
        core_buf_puts(&text, "Unknown sub-command `");
        esc(&text, cmd->word);
        core_buf_puts(&text, "`.\n");
        help(&text, cmd->command);
        break;
    case WH_SLACK_SUB_HELP:
        help(&text, cmd->command);
        break;
    }
    if (core_buf_status(&text) < 0)
        wh_response_error(resp, 500, "internal", "out of memory");
    else
        wh_slack_ephemeral(resp, text.data ? text.data : "");
out:
    core_buf_free(&text);
    free(cmd);
}
