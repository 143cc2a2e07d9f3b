/* The operator's status page (GET /) and the read-only job page (GET /jobs/{id}), HTML
 * rendered here. Every string that comes from Redis, the configuration or GitHub is
 * untrusted and goes through html(); the page has no external assets, and its one script
 * runs under a per-response CSP nonce.
 *
 * Sessions: with operator tokens configured, POST /login checks a token (constant time)
 * and holds it in an HttpOnly, SameSite=Strict cookie "NONCE.HEX(TOKEN)"; the CSRF token
 * of that session is HMAC-SHA256(token, nonce), written into the page and required in an
 * X-CSRF-Token header for a decision made with the cookie. The token never appears in a
 * URL, a page or a log line. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policies/policies.h"
#include "scheduler/sched_jobs.h"
#include "scheduler/sched_lease.h"
#include "scheduler/sched_outbox.h"
#include "scheduler/sched_metrics.h"
#include "scheduler/sched_route.h"
#include "scheduler/sched_windows.h"
#include "webhooks/app.h"
#include "webhooks/http.h"

#define COOKIE_NAME "zoneci_session"
#define NONCE_BYTES 16
#define CSRF_HEX (2 * 32 + 1)
#define TOKEN_MAX 512
#define SLOT_MS (30 * 60000LL)
#define DAY_MS 86400000LL
#define RECENT_JOBS 25
#define APPROVALS_MAX 50
#define DEAD_MAX 20
#define REFRESH_SECONDS 15

static const char HTML_TYPE[] = "text/html; charset=utf-8";

/* ---- escaping ------------------------------------------------------------------------ */

static void html_n(core_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            core_buf_puts(b, "&amp;");
            break;
        case '<':
            core_buf_puts(b, "&lt;");
            break;
        case '>':
            core_buf_puts(b, "&gt;");
            break;
        case '"':
            core_buf_puts(b, "&quot;");
            break;
        case '\'':
            core_buf_puts(b, "&#39;");
            break;
        default:
            core_buf_append(b, &s[i], 1);
        }
    }
}

static void html(core_buf *b, const char *s)
{
    if (s)
        html_n(b, s, strlen(s));
}

/* A JSON member as escaped text: strings as they are, numbers printed, null as "". */
static void html_json(core_buf *b, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (json_is_string(v))
        html_n(b, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        core_buf_printf(b, "%lld", (long long)json_integer_value(v));
}

static const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

/* ---- sessions ------------------------------------------------------------------------ */

static void csrf_of(const char *token, const char *nonce, char out[CSRF_HEX])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    HMAC(EVP_sha256(), token, (int)strlen(token), (const unsigned char *)nonce, strlen(nonce), mac,
         &len);
    core_hex_encode(mac, len, out);
}

/* The session cookie's nonce and token, decoded; false when there is none or it is
 * malformed. */
static bool session_of(const wh_request *req, char nonce[2 * NONCE_BYTES + 1],
                       char token[TOKEN_MAX])
{
    const char *cookie = wh_request_header(req, "Cookie");
    const char *p, *dot, *end;
    size_t hex_len;

    for (p = cookie; p && (p = strstr(p, COOKIE_NAME "=")) != NULL; p++)
        if (p == cookie || p[-1] == ' ' || p[-1] == ';')
            break;
    if (!p)
        return false;
    p += sizeof(COOKIE_NAME);
    end = p + strcspn(p, ";");
    dot = memchr(p, '.', (size_t)(end - p));
    if (!dot || dot - p != 2 * NONCE_BYTES)
        return false;
    hex_len = (size_t)(end - dot - 1);
    if (hex_len == 0 || hex_len % 2 || hex_len / 2 >= TOKEN_MAX)
        return false;
    memcpy(nonce, p, 2 * NONCE_BYTES);
    nonce[2 * NONCE_BYTES] = '\0';
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = core_hex_digit(dot[1 + 2 * i]), lo = core_hex_digit(dot[2 + 2 * i]);

        if (hi < 0 || lo < 0)
            return false;
        token[i] = (char)(hi * 16 + lo);
    }
    token[hex_len / 2] = '\0';
    return strlen(token) == hex_len / 2;
}

/* The name of the operator token equal to token (each compared in constant time). */
static const char *token_name(const wh_runtime *rt, const char *token)
{
    size_t len = strlen(token);
    const char *name = NULL;

    for (size_t i = 0; i < rt->n_api_tokens; i++) {
        const char *t = rt->api_tokens[i].token;
        bool match = strlen(t) == len && core_ct_equal(token, t, len);

        if (match && !name)
            name = rt->api_tokens[i].name;
    }
    return name;
}

/* The session's operator and its CSRF token (csrf may be NULL). */
static const char *session_operator(const wh_request *req, char csrf[CSRF_HEX])
{
    char nonce[2 * NONCE_BYTES + 1], token[TOKEN_MAX];
    const char *name;

    if (req->rt->n_api_tokens == 0 || !session_of(req, nonce, token))
        return NULL;
    name = token_name(req->rt, token);
    if (name && csrf)
        csrf_of(token, nonce, csrf);
    core_wipe(token, sizeof(token));
    return name;
}

const char *wh_operator_name(const wh_request *req, bool decision)
{
    char csrf[CSRF_HEX];
    const char *name, *sent;

    if (req->rt->n_api_tokens == 0)
        return NULL;
    name = wh_api_token_name(req, req->rt->api_tokens, req->rt->n_api_tokens);
    if (name || !wh_request_header(req, "Cookie"))
        return name;
    name = session_operator(req, csrf);
    if (!name || !decision)
        return name;
    /* The cookie rides along on any request the browser makes: a decision must also
     * carry what only the page itself could read. */
    sent = wh_request_header(req, "X-CSRF-Token");
    if (!sent || strlen(sent) != strlen(csrf) || !core_ct_equal(sent, csrf, strlen(csrf)))
        return NULL;
    return name;
}

/* ---- page frame ---------------------------------------------------------------------- */

static void page_start(wh_response *resp, const char *title, bool refresh)
{
    core_buf *b = &resp->body;

    resp->status = 200;
    resp->content_type = HTML_TYPE;
    core_buf_reset(b);
    core_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\">");
    if (refresh)
        core_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">", REFRESH_SECONDS);
    core_buf_puts(b, "<title>");
    html(b, title);
    core_buf_puts(b, "</title><style>"
                     "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
                     "table{border-collapse:collapse;margin:.5em 0 1.5em}"
                     "th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;"
                     "vertical-align:top}"
                     "td.o{background:#2a9d4b}td.c{background:#eee}td.o,td.c{width:.7em;padding:0;"
                     "border:0}td.now{outline:2px solid #d4a017}"
                     ".open{color:#1d7a3a;font-weight:600}.closed{color:#777}"
                     ".danger{color:#b00020}.warning{color:#9a6700}code{background:#f4f4f4}"
                     "button{margin-right:.4em}.muted{color:#777}"
                     "</style></head><body>\n");
}

static void page_end(wh_response *resp)
{
    core_buf_puts(&resp->body, "</body></html>\n");
}

static void page_error(wh_response *resp, int status, const char *what)
{
    page_start(resp, "zoneci", false);
    core_buf_puts(&resp->body, "<h1>zoneci</h1><p>");
    html(&resp->body, what);
    core_buf_puts(&resp->body, "</p>");
    page_end(resp);
    resp->status = status;
}

static void login_form(wh_response *resp, int status, const char *note)
{
    core_buf *b = &resp->body;

    page_start(resp, "zoneci: sign in", false);
    core_buf_puts(b, "<h1>zoneci</h1><p>This page needs an operator token "
                     "(one of <code>api.tokens_env</code>).</p>");
    if (note) {
        core_buf_puts(b, "<p class=\"danger\" id=\"login-error\">");
        html(b, note);
        core_buf_puts(b, "</p>");
    }
    core_buf_puts(b, "<form method=\"post\" action=\"/login\"><label>Operator token "
                     "<input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" "
                     "required></label> <button type=\"submit\" id=\"login\">Sign in</button>"
                     "</form>");
    page_end(resp);
    resp->status = status;
}

/* ---- status page sections ------------------------------------------------------------ */

static void section_timeline(core_buf *b, const wh_runtime *rt, int64_t now)
{
    const policy_config *cfg = rt->cfg;
    int64_t day = now - ((now % DAY_MS) + DAY_MS) % DAY_MS;
    int now_col = (int)((now - day) / SLOT_MS);

    core_buf_puts(b, "<h2>Working windows (UTC day)</h2><table id=\"timeline\"><tr><th>UTC"
                     "</th>");
    for (int h = 0; h < 24; h += 3)
        core_buf_printf(b, "<th colspan=\"6\">%02d:00</th>", h);
    core_buf_puts(b, "</tr>");
    for (size_t i = 0; i < cfg->n_regions; i++) {
        const sched_windows *w = sched_plan_windows(rt->plan, i);

        core_buf_puts(b, "<tr><th>");
        html(b, cfg->regions[i].name);
        core_buf_puts(b, "</th>");
        for (int col = 0; col < 48; col++) {
            sched_window_state st;

            /* The middle of the slot, as `zoneci windows` draws it. */
            sched_windows_eval(w, day + col * SLOT_MS + SLOT_MS / 2, &st);
            core_buf_printf(b, "<td class=\"%s%s\"></td>", st.open ? "o" : "c",
                            col == now_col ? " now" : "");
        }
        core_buf_puts(b, "</tr>");
    }
    core_buf_puts(b, "</table>");
}

/* A wait in whole minutes; "-" when nothing waits (age_ms < 0). */
static void minutes_waited(core_buf *b, int64_t age_ms)
{
    if (age_ms < 0) {
        core_buf_puts(b, "-");
        return;
    }
    core_buf_printf(b, "%lld min", (long long)(age_ms / 60000));
}

static int section_regions(core_buf *b, const wh_request *req, int64_t now, core_error *err)
{
    const policy_config *cfg = req->rt->cfg;
    const char *names[SCHED_METRICS_REGIONS_MAX];
    size_t parked = 0, n = cfg->n_regions < SCHED_METRICS_REGIONS_MAX ? cfg->n_regions
                                                                      : SCHED_METRICS_REGIONS_MAX;
    uint64_t woken = 0;
    sched_metrics m;
    int rc;

    /* The queues' figures for every region in one round trip: the read /metrics makes. */
    for (size_t i = 0; i < n; i++)
        names[i] = cfg->regions[i].name;
    rc = sched_metrics_read(req->app->store, names, n, now, now - SCHED_IDLE_WINDOW_MS, &m, err);
    if (rc < 0)
        return rc;
    wh_runners_stats(req->app->runners, &parked, &woken);
    core_buf_puts(b, "<h2>Regions</h2><table id=\"regions\"><tr><th>Region</th><th>Zone</th>"
                     "<th>Local time</th><th>State</th><th>Next change</th><th>Queued</th>"
                     "<th>Oldest wait</th><th>Runners polling</th><th>On call</th></tr>");
    for (size_t i = 0; i < cfg->n_regions; i++) {
        const policy_region *r = &cfg->regions[i];
        /* Regions past the read's bound show no queue figures rather than wrong ones. */
        const sched_metrics_region none = {-1, -1, -1};
        const sched_metrics_region *q = i < n ? &m.region[i] : &none;
        sched_window_state st;
        char local[CORE_ISO_MAX], change[96] = "none within a year";
        int64_t next;

        sched_windows_eval(sched_plan_windows(req->rt->plan, i), now, &st);
        core_time_format_local(now, st.offset_ms, local);
        next = st.open ? st.next_close : st.next_open;
        if (next != SCHED_NO_INSTANT) {
            char when[80];

            sched_plan_describe_instant(req->rt->plan, i, next, now, when, sizeof(when));
            snprintf(change, sizeof(change), "%s %s", st.open ? "closes" : "opens", when);
        }
        core_buf_puts(b, "<tr data-region=\"");
        html(b, r->name);
        core_buf_puts(b, "\"><td>");
        html(b, r->name);
        core_buf_puts(b, "</td><td>");
        html(b, r->timezone);
        core_buf_puts(b, "</td><td>");
        html(b, local);
        core_buf_printf(b, "</td><td class=\"state %s\">%s</td><td>", st.open ? "open" : "closed",
                        st.open ? "open" : "closed");
        html(b, change);
        core_buf_printf(b, "</td><td class=\"depth\">%lld</td><td>", (long long)q->depth);
        minutes_waited(b, q->oldest_ms);
        core_buf_printf(b, "</td><td>%lld</td><td>", (long long)q->idle);
        for (size_t k = 0; k < r->n_oncall; k++) {
            if (k)
                core_buf_puts(b, ", ");
            html(b, r->oncall[k]);
        }
        core_buf_puts(b, "</td></tr>");
    }
    core_buf_printf(b,
                    "</table><p class=\"muted\">Claims parked on this server now: %zu. "
                    "Runners polling: runners whose last claim, in the last minute, found "
                    "nothing to do.</p>",
                    parked);
    return 0;
}

static void findings_list(core_buf *b, const json_t *report)
{
    const json_t *migs = json_object_get(report, "migrations"), *m, *f;
    size_t i, j;

    core_buf_puts(b, "<ul class=\"findings\">");
    json_array_foreach(migs, i, m)
    {
        json_array_foreach(json_object_get(m, "findings"), j, f)
        {
            core_buf_puts(b, "<li class=\"finding\"><span class=\"");
            html(b, jstr(f, "severity"));
            core_buf_puts(b, "\">");
            html_json(b, f, "severity");
            core_buf_puts(b, "</span> <b class=\"rule\">");
            html_json(b, f, "rule");
            core_buf_puts(b, "</b> ");
            html_json(b, f, "path");
            core_buf_puts(b, ":");
            html_json(b, f, "line");
            core_buf_puts(b, "<br><code class=\"statement\">");
            html_json(b, f, "statement");
            core_buf_puts(b, "</code><br>");
            html_json(b, f, "message");
            if (json_is_string(json_object_get(f, "safer"))) {
                core_buf_puts(b, "<br>Safer: ");
                html_json(b, f, "safer");
            }
            core_buf_puts(b, "</li>");
        }
    }
    core_buf_puts(b, "</ul>");
}

/* A page of jobs from sched_job_list_json, parsed (NULL after failing). */
static json_t *jobs_page(const wh_request *req, const char *state, size_t limit, int *rc,
                         core_error *err)
{
    core_buf raw = {0};
    json_t *root = NULL;

    *rc = sched_job_list_json(req->app->store, state, NULL, limit, &raw, err);
    if (*rc == 0) {
        root = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
        if (!root)
            *rc = core_error_set(err, CORE_EIO, "the job list is not JSON");
    }
    core_buf_free(&raw);
    return root;
}

static int section_approvals(core_buf *b, const wh_request *req, bool can_decide, core_error *err)
{
    json_t *root, *job;
    size_t i;
    int rc;

    root = jobs_page(req, "awaiting_approval", APPROVALS_MAX, &rc, err);
    if (!root)
        return rc;
    core_buf_puts(b, "<h2>Awaiting approval</h2>");
    if (json_array_size(json_object_get(root, "jobs")) == 0)
        core_buf_puts(b, "<p class=\"muted\" id=\"no-approvals\">Nothing waits for a decision."
                         "</p>");
    if (!can_decide)
        core_buf_puts(b, "<p class=\"muted\">Deciding from this page needs operator tokens "
                         "(<code>api.tokens_env</code>).</p>");
    json_array_foreach(json_object_get(root, "jobs"), i, job)
    {
        core_buf_puts(b, "<div class=\"approval\" data-job=\"");
        html_json(b, job, "id");
        core_buf_puts(b, "\"><h3><a href=\"/jobs/");
        html_json(b, job, "id");
        core_buf_puts(b, "\">job ");
        html_json(b, job, "id");
        core_buf_puts(b, "</a> ");
        html_json(b, job, "repo");
        core_buf_puts(b, "#");
        html_json(b, job, "pr");
        core_buf_puts(b, ": <span class=\"title\">");
        html_json(b, job, "title");
        core_buf_puts(b, "</span></h3><p>by ");
        html_json(b, job, "author");
        core_buf_puts(b, ", risk <b>");
        html_json(b, job, "risk");
        core_buf_puts(b, "</b>; ");
        html_json(b, job, "reason");
        core_buf_puts(b, "</p>");
        findings_list(b, json_object_get(job, "report"));
        if (can_decide) {
            core_buf_puts(b, "<p><button class=\"decide\" data-action=\"approve\" data-id=\"");
            html_json(b, job, "id");
            core_buf_puts(b, "\">Approve</button><button class=\"decide\" "
                             "data-action=\"reject\" data-id=\"");
            html_json(b, job, "id");
            core_buf_puts(b, "\">Reject</button> <span class=\"outcome\"></span></p>");
        }
        core_buf_puts(b, "</div>");
    }
    json_decref(root);
    return 0;
}

static void history_list(core_buf *b, const json_t *job, bool reasons)
{
    const json_t *h;
    size_t i;

    core_buf_puts(b, "<ol class=\"history\">");
    json_array_foreach(json_object_get(job, "history"), i, h)
    {
        core_buf_puts(b, "<li><time>");
        html_json(b, h, "at");
        core_buf_puts(b, "</time> <b>");
        html_json(b, h, "state");
        core_buf_puts(b, "</b>");
        if (reasons) {
            core_buf_puts(b, " by ");
            html_json(b, h, "actor");
            core_buf_puts(b, ": ");
            html_json(b, h, "reason");
        }
        core_buf_puts(b, "</li>");
    }
    core_buf_puts(b, "</ol>");
}

static int section_recent(core_buf *b, const wh_request *req, core_error *err)
{
    json_t *root, *job;
    size_t i;
    int rc;

    root = jobs_page(req, NULL, RECENT_JOBS, &rc, err);
    if (!root)
        return rc;
    core_buf_puts(b, "<h2>Recent jobs</h2><table id=\"jobs\"><tr><th>Job</th><th>Pull request"
                     "</th><th>State</th><th>Region</th><th>Reason</th><th>Updated</th></tr>");
    json_array_foreach(json_object_get(root, "jobs"), i, job)
    {
        core_buf_puts(b, "<tr class=\"job\" data-job=\"");
        html_json(b, job, "id");
        core_buf_puts(b, "\"><td><a href=\"/jobs/");
        html_json(b, job, "id");
        core_buf_puts(b, "\">");
        html_json(b, job, "id");
        core_buf_puts(b, "</a></td><td>");
        html_json(b, job, "repo");
        core_buf_puts(b, "#");
        html_json(b, job, "pr");
        core_buf_puts(b, " <span class=\"title\">");
        html_json(b, job, "title");
        core_buf_puts(b, "</span></td><td class=\"state\">");
        html_json(b, job, "state");
        core_buf_puts(b, "</td><td>");
        html_json(b, job, "region");
        core_buf_puts(b, "</td><td><details><summary>");
        html_json(b, job, "reason");
        core_buf_puts(b, "</summary>");
        history_list(b, job, true);
        core_buf_puts(b, "</details></td><td>");
        html_json(b, job, "updated_at");
        core_buf_puts(b, "</td></tr>");
    }
    core_buf_puts(b, "</table>");
    json_decref(root);
    return 0;
}

static int section_dead(core_buf *b, const wh_request *req, core_error *err)
{
    core_buf raw = {0};
    json_t *root, *d;
    size_t i;
    int rc = sched_outbox_dead_list(req->app->store, DEAD_MAX, &raw, err);

    if (rc < 0) {
        core_buf_free(&raw);
        return rc;
    }
    root = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
    core_buf_free(&raw);
    if (!root)
        return core_error_set(err, CORE_EIO, "the dead-letter list is not JSON");
    core_buf_puts(b, "<h2>Dead letters</h2>");
    if (json_array_size(json_object_get(root, "dead")) == 0)
        core_buf_puts(b, "<p class=\"muted\">None: every outbound message was delivered or is "
                         "still being tried.</p>");
    else
        core_buf_puts(b, "<table id=\"dead\"><tr><th>Message</th><th>Kind</th><th>Attempts"
                         "</th><th>Last error</th></tr>");
    json_array_foreach(json_object_get(root, "dead"), i, d)
    {
        core_buf_puts(b, "<tr><td>");
        html_json(b, d, "id");
        core_buf_puts(b, "</td><td>");
        html_json(b, d, "kind");
        core_buf_puts(b, "</td><td>");
        html_json(b, d, "attempts");
        core_buf_puts(b, "</td><td>");
        html_json(b, d, "last_error");
        core_buf_puts(b, "</td></tr>");
    }
    if (json_array_size(json_object_get(root, "dead")) > 0)
        core_buf_puts(b, "</table>");
    json_decref(root);
    return 0;
}

/* The decision buttons: POST the API route with the session's CSRF token, then reload. */
static const char DECIDE_JS[] =
    "document.querySelectorAll('button.decide').forEach(function(btn){"
    "btn.addEventListener('click',function(){"
    "var out=btn.parentNode.querySelector('.outcome');"
    "var csrf=document.querySelector('meta[name=csrf-token]').content;"
    "btn.disabled=true;"
    "fetch('/api/v1/jobs/'+encodeURIComponent(btn.dataset.id)+'/'+btn.dataset.action,"
    "{method:'POST',credentials:'same-origin',headers:{'Content-Type':'application/json',"
    "'X-CSRF-Token':csrf},body:'{}'}).then(function(r){return r.json().then(function(j){"
    "out.textContent=r.ok?j.decision:(j.detail||j.error);"
    "out.id=r.ok?'decided-'+btn.dataset.id:'';"
    "if(r.ok)setTimeout(function(){location.reload();},1500);else btn.disabled=false;});})"
    ".catch(function(e){out.textContent=String(e);btn.disabled=false;});});});";

void wh_page_status(const wh_request *req, wh_response *resp)
{
    char csrf[CSRF_HEX] = "", nonce[33], iso[CORE_ISO_MAX];
    const char *op = NULL;
    int64_t now = core_time_now_ms();
    core_error err = {0};
    core_buf *b = &resp->body;
    int rc;

    if (req->rt->n_api_tokens) {
        op = session_operator(req, csrf);
        if (!op) {
            login_form(resp, 200, NULL);
            return;
        }
    }
    if (core_random_hex(nonce, 16, &err) < 0) {
        page_error(resp, 500, err.msg);
        return;
    }
    page_start(resp, "zoneci status", false);
    if (op) {
        core_buf_puts(b, "<meta name=\"csrf-token\" content=\"");
        html(b, csrf);
        core_buf_puts(b, "\">");
    }
    core_time_format_iso(now, iso);
    core_buf_puts(b, "<h1>zoneci</h1><p>At <time id=\"now\">");
    html(b, iso);
    core_buf_puts(b, "</time>; time-zone data <b id=\"tzdata\">");
    html(b, sched_tz_data_version());
    core_buf_puts(b, "</b> (");
    html(b, sched_tz_data_source());
    core_buf_puts(b, ").");
    if (op) {
        core_buf_puts(b, " Signed in as <b id=\"operator\">");
        html(b, op);
        core_buf_puts(b, "</b>. <form method=\"post\" action=\"/logout\" style=\"display:inline\">"
                         "<button id=\"logout\">Sign out</button></form>");
    }
    core_buf_puts(b, "</p>");
    section_timeline(b, req->rt, now);
    rc = section_regions(b, req, now, &err);
    if (rc == 0)
        rc = section_approvals(b, req, op != NULL, &err);
    if (rc == 0)
        rc = section_recent(b, req, &err);
    if (rc == 0)
        rc = section_dead(b, req, &err);
    if (rc < 0) {
        page_error(resp, rc == CORE_EUNAVAILABLE ? 503 : 500, err.msg);
        if (rc == CORE_EUNAVAILABLE)
            strcpy(resp->retry_after, "5");
        return;
    }
    /* Reloads itself, but never while a decision is on its way. */
    core_buf_printf(b,
                    "<script nonce=\"%s\">%ssetTimeout(function(){"
                    "if(!document.querySelector('button.decide:disabled'))location.reload();}"
                    ",%d);</script>",
                    nonce, op ? DECIDE_JS : "", REFRESH_SECONDS * 1000);
    page_end(resp);
    /* server.c names it in the answer's Content-Security-Policy. */
    snprintf(resp->csp_nonce, sizeof(resp->csp_nonce), "%s", nonce);
}

/* ---- login and logout ---------------------------------------------------------------- */

static bool over_https(const wh_request *req)
{
    const char *proto = wh_request_header(req, "X-Forwarded-Proto");

    return proto && strcasecmp(proto, "https") == 0;
}

void wh_page_login(const wh_request *req, wh_response *resp)
{
    char token[TOKEN_MAX], nonce[2 * NONCE_BYTES + 1], hex[2 * TOKEN_MAX + 1];
    const char *name;
    size_t len = 0;
    core_error err = {0};

    if (req->rt->n_api_tokens == 0) {
        page_error(resp, 404,
                   "No operator tokens are configured (api.tokens_env): the page is "
                   "open and has no sign-in.");
        return;
    }
    if (wh_request_form_value(req, "token", token, sizeof(token), &len, &err) < 0) {
        login_form(resp, 400, "Send the token in the form's token field.");
        return;
    }
    name = token_name(req->rt, token);
    if (!name || core_random_hex(nonce, NONCE_BYTES, &err) < 0) {
        core_wipe(token, sizeof(token));
        CORE_LOG(CORE_LOG_INFO, "page_login", "ok=false");
        login_form(resp, 401, "That token is not one of this server's operator tokens.");
        return;
    }
    /* Hex keeps any byte of a token out of the cookie's syntax. */
    core_hex_encode((const unsigned char *)token, len, hex);
    core_wipe(token, sizeof(token));
    if ((size_t)snprintf(resp->set_cookie, sizeof(resp->set_cookie),
                         COOKIE_NAME "=%s.%s; Path=/; HttpOnly; SameSite=Strict%s", nonce, hex,
                         over_https(req) ? "; Secure" : "") >= sizeof(resp->set_cookie)) {
        resp->set_cookie[0] = '\0';
        core_wipe(hex, sizeof(hex));
        login_form(resp, 400, "That token is too long to hold in a cookie; use the API.");
        return;
    }
    core_wipe(hex, sizeof(hex));
    CORE_LOG(CORE_LOG_INFO, "page_login", "ok=true operator=%s", name);
    page_error(resp, 303, "Signed in.");
    resp->location = "/";
}

void wh_page_logout(const wh_request *req, wh_response *resp)
{
    snprintf(resp->set_cookie, sizeof(resp->set_cookie),
             COOKIE_NAME "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
             over_https(req) ? "; Secure" : "");
    page_error(resp, 303, "Signed out.");
    resp->location = "/";
}

/* ---- the read-only job page ---------------------------------------------------------- */

/* What a history entry may say on a page anyone can read: zoneci's own words about
 * routing, inspection and builds, but not who decided (an operator's name or a Slack
 * id) nor where an approval card went. */
static const char *public_reason(const char *state, const char *reason)
{
    if (strcmp(state, "approved") == 0 || strncmp(reason, "approved", 8) == 0)
        return "approved";
    if (strcmp(state, "rejected") == 0 || strncmp(reason, "rejected", 8) == 0)
        return "rejected";
    if (strcmp(state, "awaiting_approval") == 0)
        return "waits for an approver";
    return reason;
}

static void job_summary(core_buf *b, const json_t *report)
{
    const json_t *s = json_object_get(report, "summary");

    if (!json_is_object(s))
        return;
    core_buf_puts(b, "<p id=\"summary\">Migrations checked: ");
    html_json(b, s, "migrations");
    core_buf_puts(b, "; findings: ");
    html_json(b, s, "danger");
    core_buf_puts(b, " danger, ");
    html_json(b, s, "warning");
    core_buf_puts(b, " warning, ");
    html_json(b, s, "info");
    core_buf_puts(b, " info.</p>");
}

void wh_page_job(const wh_request *req, wh_response *resp, const char *id)
{
    core_buf raw = {0}, *b = &resp->body;
    core_error err = {0};
    json_t *job, *h;
    size_t i;
    int rc = sched_job_json(req->app->store, id, &raw, &err);

    if (rc < 0) {
        core_buf_free(&raw);
        page_error(resp,
                   rc == CORE_ENOTFOUND      ? 404
                   : rc == CORE_EUNAVAILABLE ? 503
                                             : 500,
                   rc == CORE_ENOTFOUND ? "No such job." : err.msg);
        return;
    }
    job = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
    core_buf_free(&raw);
    if (!job) {
        page_error(resp, 500, "the job is not JSON");
        return;
    }
    page_start(resp, "zoneci job", true);
    core_buf_puts(b, "<h1>zoneci job ");
    html_json(b, job, "id");
    core_buf_puts(b, "</h1><p>");
    html_json(b, job, "repo");
    core_buf_puts(b, "#");
    html_json(b, job, "pr");
    core_buf_puts(b, " <span class=\"title\">");
    html_json(b, job, "title");
    core_buf_puts(b, "</span> at <code>");
    html_n(b, jstr(job, "head_sha"), strnlen(jstr(job, "head_sha"), 12));
    core_buf_puts(b, "</code></p><table><tr><th>State</th><td id=\"state\">");
    html_json(b, job, "state");
    core_buf_puts(b, "</td></tr><tr><th>Region</th><td id=\"region\">");
    html_json(b, job, "region");
    core_buf_puts(b, "</td></tr><tr><th>Reason</th><td id=\"reason\">");
    html(b, public_reason(jstr(job, "state"), jstr(job, "reason")));
    core_buf_puts(b, "</td></tr><tr><th>Migration risk</th><td id=\"risk\">");
    html_json(b, job, "risk");
    core_buf_puts(b, "</td></tr><tr><th>Created</th><td>");
    html_json(b, job, "created_at");
    core_buf_puts(b, "</td></tr><tr><th>Updated</th><td>");
    html_json(b, job, "updated_at");
    core_buf_puts(b, "</td></tr></table>");
    job_summary(b, json_object_get(job, "report"));
    core_buf_puts(b, "<h2>History</h2><ol class=\"history\">");
    json_array_foreach(json_object_get(job, "history"), i, h)
    {
        core_buf_puts(b, "<li><time>");
        html_json(b, h, "at");
        core_buf_puts(b, "</time> <b>");
        html_json(b, h, "state");
        core_buf_puts(b, "</b>: ");
        html(b, public_reason(jstr(h, "state"), jstr(h, "reason")));
        core_buf_puts(b, "</li>");
    }
    core_buf_puts(b, "</ol><p class=\"muted\">A read-only view for the pull request's "
                     "developers; operators see more on the status page.</p>");
    page_end(resp);
    json_decref(job);
}
