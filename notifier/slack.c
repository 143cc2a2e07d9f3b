/* Slack approval cards: Block Kit JSON built from plain text within Slack's limits, posted
 * with chat.postMessage and changed with chat.update through notify_http.
 *
 * jansson's rules, stated once: json_object_set_new and json_array_append_new steal the
 * value's reference (even on failure), json_object_get borrows, json_string returns NULL
 * for invalid UTF-8 (notify_text cleans every text first), json_dumps is malloc'd. */
#include "notifier/notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/core.h"
#include "notifier/text.h"

#define HEADER_MAX 150 /* characters in a header block's text */
#define TITLE_MAX 250  /* characters of a PR title shown */
#define PATH_MAX_SHOWN 200
#define SAFER_MAX 1000
#define MORE_RESERVE 40 /* room kept for "\n…and N more" */
#define CONFIRM_TEXT_MAX 300
#define URL_MAX 2048
#define TOKEN_MAX 512
#define SLACK_ERROR_MAX 64

/* The card under construction: the first failure sticks and later calls do nothing. */
typedef struct cardb {
    json_t *blocks;
    size_t n;
    int rc;
} cardb;

static void block_add(cardb *b, json_t *block)
{
    if (b->rc < 0) {
        json_decref(block);
        return;
    }
    if (!block) {
        b->rc = CORE_ENOMEM;
        return;
    }
    /* The layout never comes near the cap; this keeps it a guarantee, not a hope. */
    if (b->n >= NOTIFY_SLACK_MAX_BLOCKS) {
        json_decref(block);
        b->rc = CORE_ETOOBIG;
        return;
    }
    if (json_array_append_new(b->blocks, block) < 0) {
        b->rc = CORE_ENOMEM;
        return;
    }
    b->n++;
}

static json_t *text_obj(const char *type, const char *text)
{
    json_t *o = json_string(text);

    if (!o)
        return NULL;
    if (strcmp(type, "plain_text") == 0)
        return json_pack("{s:s, s:o, s:b}", "type", type, "text", o, "emoji", 1);
    return json_pack("{s:s, s:o}", "type", type, "text", o);
}

static json_t *section(const char *mrkdwn)
{
    json_t *t = text_obj("mrkdwn", mrkdwn);

    return t ? json_pack("{s:s, s:o}", "type", "section", "text", t) : NULL;
}

static json_t *context(const char *mrkdwn)
{
    json_t *t = text_obj("mrkdwn", mrkdwn);

    return t ? json_pack("{s:s, s:[o]}", "type", "context", "elements", t) : NULL;
}

/* Adds a section (or context) block holding t's text; frees t. */
static void add_text_block(cardb *b, notify_text *t, bool as_context)
{
    if (b->rc == 0 && !t->buf.data && core_buf_puts(&t->buf, "") < 0)
        b->rc = CORE_ENOMEM;
    if (b->rc == 0)
        block_add(b, as_context ? context(t->buf.data) : section(t->buf.data));
    notify_text_free(t);
}

/* Sticky helpers over notify_text for the card: a cut is fine, only ENOMEM is an error. */
static void put(cardb *b, notify_text *t, const char *s, int flags, size_t max)
{
    int rc;

    if (b->rc < 0)
        return;
    rc = notify_text_add(t, s, flags, max);
    if (rc < 0)
        b->rc = rc;
}

/* Appends s, itself cut to its own cap of `cap` characters, if the result fits in max. */
static bool put_capped(cardb *b, notify_text *t, const char *s, int flags, size_t cap, size_t max)
{
    notify_text part = {{0}, 0};
    int rc;

    if (b->rc < 0)
        return false;
    rc = notify_text_add_cut(&part, s, flags, cap);
    if (rc < 0) {
        b->rc = rc;
    } else if (t->chars + part.chars <= max) {
        if (core_buf_append(&t->buf, part.buf.data ? part.buf.data : "", part.buf.len) < 0)
            b->rc = CORE_ENOMEM;
        t->chars += part.chars;
        notify_text_free(&part);
        return true;
    }
    notify_text_free(&part);
    return false;
}

static void put_more(cardb *b, notify_text *t, size_t more, const char *what)
{
    char line[80];

    snprintf(line, sizeof(line), "%s" NOTIFY_TEXT_ELLIPSIS "and %zu more%s%s", t->chars ? "\n" : "",
             more, what ? " " : "", what ? what : "");
    put(b, t, line, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
}

static bool id_valid(const char *s, const char *extra, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              (extra && *p && strchr(extra, *p))))
            return false;
    }
    return true;
}

static bool job_id_valid(const char *s)
{
    return id_valid(s, "abcdefghijklmnopqrstuvwxyz._:-", 255);
}

/* The buttons' value: "JOB_ID" or "JOB_ID:CARD_KEY" (see notify_card.card_key). false when
 * it does not fit the value rule. */
static bool button_value(const notify_card *c, char out[256])
{
    int n;

    if (c->card_key && *c->card_key)
        n = snprintf(out, 256, "%s:%s", c->job_id ? c->job_id : "", c->card_key);
    else
        n = snprintf(out, 256, "%s", c->job_id ? c->job_id : "");
    return n > 0 && n < 256 && job_id_valid(c->job_id) && job_id_valid(out);
}

static bool user_valid(const char *s)
{
    return id_valid(s, NULL, 32);
}

static int severity_rank(const char *s)
{
    if (s && strcmp(s, "danger") == 0)
        return 0;
    if (s && strcmp(s, "warning") == 0)
        return 1;
    if (s && strcmp(s, "info") == 0)
        return 2;
    return 3;
}

static const char *severity_icon(const char *s)
{
    static const char *const icons[] = {
        ":red_circle:", ":large_orange_circle:", ":large_blue_circle:", ":white_circle:"};

    return icons[severity_rank(s)];
}

/* A link target for <url|text>: only http(s), and none of the characters that end it. */
static void put_url(cardb *b, notify_text *t, const char *url)
{
    char enc[4];

    for (const char *p = url; *p && b->rc == 0; p++) {
        if (*p == '|' || *p == ' ' || *p == '"') {
            snprintf(enc, sizeof(enc), "%%%02X", (unsigned char)*p);
            put(b, t, enc, NOTIFY_TEXT_PLAIN, URL_MAX + 1000);
        } else {
            char one[2] = {*p, '\0'};

            put(b, t, one, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, URL_MAX + 1000);
        }
    }
}

static void header_block(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};
    char num[32];
    json_t *text;

    snprintf(num, sizeof(num), " #%d", c->pr_number);
    put(b, &t, "Migration approval: ", NOTIFY_TEXT_PLAIN, HEADER_MAX);
    if (b->rc == 0 && notify_text_add_cut(&t, c->repo, NOTIFY_TEXT_ONELINE, HEADER_MAX - 12) < 0)
        b->rc = CORE_ENOMEM;
    put(b, &t, num, NOTIFY_TEXT_PLAIN, HEADER_MAX);
    if (b->rc == 0) {
        text = text_obj("plain_text", t.buf.data);
        block_add(b, text ? json_pack("{s:s, s:o}", "type", "header", "text", text) : NULL);
    }
    notify_text_free(&t);
}

static void summary_block(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};
    char num[32], sha[8] = "";
    const int md = NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE;
    bool link = c->pr_url &&
                (strncmp(c->pr_url, "https://", 8) == 0 || strncmp(c->pr_url, "http://", 7) == 0) &&
                strlen(c->pr_url) < URL_MAX;

    snprintf(num, sizeof(num), "#%d ", c->pr_number);
    put(b, &t, link ? "*<" : "*", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    if (link) {
        put_url(b, &t, c->pr_url);
        put(b, &t, "|", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    }
    put(b, &t, num, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    /* '|' would not end a link's text, but '*' inside *...* ends the bold: keep it. */
    put_capped(b, &t, c->title, md, TITLE_MAX, NOTIFY_SLACK_MAX_TEXT);
    put(b, &t, link ? ">*\n" : "*\n", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    put(b, &t, "*Repository:* ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    put_capped(b, &t, c->repo, md, 200, NOTIFY_SLACK_MAX_TEXT);
    if (c->author && *c->author) {
        put(b, &t, "   *Author:* ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, c->author, md, 100, NOTIFY_SLACK_MAX_TEXT);
    }
    if (c->head_sha && *c->head_sha) {
        snprintf(sha, sizeof(sha), "%.7s", c->head_sha);
        put(b, &t, "   *Head:* `", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put(b, &t, sha, md | NOTIFY_TEXT_NOTICKS, NOTIFY_SLACK_MAX_TEXT);
        put(b, &t, "`", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    }
    if (c->region && *c->region) {
        put(b, &t, "   *Region:* ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, c->region, md, 100, NOTIFY_SLACK_MAX_TEXT);
    }
    add_text_block(b, &t, false);
}

static void files_block(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};
    char head[64];
    size_t i;
    const int code = NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE | NOTIFY_TEXT_NOTICKS;

    snprintf(head, sizeof(head), "*Migration files* (%zu)", c->n_files);
    put(b, &t, head, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    for (i = 0; i < c->n_files && b->rc == 0; i++) {
        notify_text line = {{0}, 0};
        bool fit;

        put(b, &line, "\n\xe2\x80\xa2 `", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        if (b->rc == 0 && notify_text_add_cut(&line, c->files[i], code, PATH_MAX_SHOWN) < 0)
            b->rc = CORE_ENOMEM;
        put(b, &line, "`", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        fit = line.buf.data &&
              put_capped(b, &t, line.buf.data, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT,
                         NOTIFY_SLACK_MAX_TEXT - MORE_RESERVE);
        notify_text_free(&line);
        if (!fit)
            break;
    }
    if (i < c->n_files)
        put_more(b, &t, c->n_files - i, "files");
    add_text_block(b, &t, false);
}

static void finding_block(cardb *b, const notify_finding *f)
{
    notify_text t = {{0}, 0};
    char where[32];
    const int md = NOTIFY_TEXT_MRKDWN;
    const int code = NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_NOTICKS;

    put(b, &t, severity_icon(f->severity), NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    put(b, &t, " *", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    put_capped(b, &t, f->severity && *f->severity ? f->severity : "finding",
               md | NOTIFY_TEXT_ONELINE, 20, NOTIFY_SLACK_MAX_TEXT);
    put(b, &t, "* `", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    put_capped(b, &t, f->rule, code | NOTIFY_TEXT_ONELINE, 80, NOTIFY_SLACK_MAX_TEXT);
    put(b, &t, "` in `", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    put_capped(b, &t, f->path, code | NOTIFY_TEXT_ONELINE, PATH_MAX_SHOWN, NOTIFY_SLACK_MAX_TEXT);
    if (f->line > 0) {
        snprintf(where, sizeof(where), ":%d", f->line);
        put(b, &t, where, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    }
    put(b, &t, "`", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    if (f->suppression) {
        put(b, &t, "\n_Suppressed:_ ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, f->suppression, md | NOTIFY_TEXT_ONELINE, SAFER_MAX,
                   NOTIFY_SLACK_MAX_TEXT);
    }
    if (f->statement && *f->statement) {
        put(b, &t, "\n```", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, f->statement, code, NOTIFY_SLACK_MAX_EXCERPT, NOTIFY_SLACK_MAX_TEXT);
        put(b, &t, "```", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    }
    if (f->safer && *f->safer) {
        put(b, &t, "\n*Safer:* ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, f->safer, md, SAFER_MAX, NOTIFY_SLACK_MAX_TEXT);
    }
    add_text_block(b, &t, false);
}

static void findings_blocks(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};
    char head[64];
    size_t shown = 0;

    snprintf(head, sizeof(head), c->n_findings ? "*Findings* (%zu)" : "*Findings:* none",
             c->n_findings);
    put(b, &t, head, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    add_text_block(b, &t, false);
    /* Most severe first, each severity in input order: a pass per rank keeps it stable
     * without copying or sorting the caller's array. */
    for (int rank = 0; rank <= 4 && shown < NOTIFY_SLACK_MAX_FINDINGS; rank++) {
        for (size_t i = 0; i < c->n_findings && shown < NOTIFY_SLACK_MAX_FINDINGS; i++) {
            /* Suppressed findings were reviewed already: after every other. */
            int r = c->findings[i].suppression ? 4 : severity_rank(c->findings[i].severity);

            if (r != rank)
                continue;
            finding_block(b, &c->findings[i]);
            shown++;
        }
    }
    if (shown < c->n_findings) {
        put_more(b, &t, c->n_findings - shown, "findings");
        add_text_block(b, &t, true);
    }
}

static void plan_block(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};

    if (!c->plan || !*c->plan)
        return;
    put(b, &t, "*Routing plan*\n", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    if (b->rc == 0 &&
        notify_text_add_cut(&t, c->plan, NOTIFY_TEXT_MRKDWN, NOTIFY_SLACK_MAX_TEXT) < 0)
        b->rc = CORE_ENOMEM;
    add_text_block(b, &t, false);
}

static void oncall_block(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};
    size_t i;

    put(b, &t, "*On call", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    if (c->region && *c->region) {
        put(b, &t, " in ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, c->region, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, 100,
                   NOTIFY_SLACK_MAX_TEXT);
    }
    put(b, &t, ":*", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    if (c->n_mentions == 0)
        put(b, &t, " nobody listed", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    for (i = 0; i < c->n_mentions && b->rc == 0; i++) {
        char m[48];

        snprintf(m, sizeof(m), " <@%s>", c->mentions[i]);
        if (!put_capped(b, &t, m, NOTIFY_TEXT_PLAIN, sizeof(m),
                        NOTIFY_SLACK_MAX_TEXT - MORE_RESERVE))
            break;
    }
    if (i < c->n_mentions)
        put_more(b, &t, c->n_mentions - i, NULL);
    add_text_block(b, &t, false);
}

static void state_blocks(cardb *b, const notify_card *c)
{
    notify_text t = {{0}, 0};
    char who[48];

    if (c->escalated_to && *c->escalated_to) {
        put(b, &t, ":arrow_double_up: Escalated to *", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, c->escalated_to, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, 100,
                   NOTIFY_SLACK_MAX_TEXT);
        put(b, &t, "*: no decision here in time. A decision on either card counts.",
            NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        add_text_block(b, &t, true);
    }
    if (c->decision == NOTIFY_CARD_OPEN && c->closed && *c->closed) {
        put(b, &t, ":heavy_minus_sign: *No decision needed:* ", NOTIFY_TEXT_PLAIN,
            NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, c->closed, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, 200,
                   NOTIFY_SLACK_MAX_TEXT);
        add_text_block(b, &t, false);
        return;
    }
    if (c->decision == NOTIFY_CARD_OPEN)
        return;
    put(b, &t,
        c->decision == NOTIFY_CARD_APPROVED ? ":white_check_mark: *Approved* by "
                                            : ":no_entry: *Rejected* by ",
        NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    if (user_valid(c->decided_by)) {
        snprintf(who, sizeof(who), "<@%s>", c->decided_by);
        put(b, &t, who, NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    } else {
        /* Decided through the operator API: a name, not a Slack user. */
        put_capped(b, &t, c->decided_by, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, 100,
                   NOTIFY_SLACK_MAX_TEXT);
        put(b, &t, " (zoneci API)", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
    }
    if (c->decided_at && *c->decided_at) {
        put(b, &t, " at ", NOTIFY_TEXT_PLAIN, NOTIFY_SLACK_MAX_TEXT);
        put_capped(b, &t, c->decided_at, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, 100,
                   NOTIFY_SLACK_MAX_TEXT);
    }
    add_text_block(b, &t, false);
}

static void actions_block(cardb *b, const notify_card *c)
{
    notify_text confirm = {{0}, 0};
    json_t *approve, *reject;
    char value[256];

    if (!button_value(c, value)) {
        b->rc = CORE_EINVAL; /* notify_slack_card checked it already */
        return;
    }

    put(b, &confirm, "The job for *", NOTIFY_TEXT_PLAIN, CONFIRM_TEXT_MAX);
    put_capped(b, &confirm, c->repo, NOTIFY_TEXT_MRKDWN | NOTIFY_TEXT_ONELINE, 200,
               CONFIRM_TEXT_MAX);
    put(b, &confirm, "* will not run.", NOTIFY_TEXT_PLAIN, CONFIRM_TEXT_MAX);
    if (b->rc < 0) {
        notify_text_free(&confirm);
        return;
    }
    approve = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s}", "type", "button", "action_id",
                        NOTIFY_SLACK_ACTION_APPROVE, "text", "type", "plain_text", "text",
                        "Approve", "style", "primary", "value", value);
    reject =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}, "
                  "s:{s:s, s:s}, s:{s:s, s:s}, s:s}}",
                  "type", "button", "action_id", NOTIFY_SLACK_ACTION_REJECT, "text", "type",
                  "plain_text", "text", "Reject", "style", "danger", "value", value, "confirm",
                  "title", "type", "plain_text", "text", "Reject this migration?", "text", "type",
                  "mrkdwn", "text", confirm.buf.data, "confirm", "type", "plain_text", "text",
                  "Reject", "deny", "type", "plain_text", "text", "Cancel", "style", "danger");
    notify_text_free(&confirm);
    if (!approve || !reject) {
        json_decref(approve);
        json_decref(reject);
        b->rc = CORE_ENOMEM;
        return;
    }
    block_add(b, json_pack("{s:s, s:s, s:[o, o]}", "type", "actions", "block_id", "zoneci_decision",
                           "elements", approve, reject));
}

int notify_slack_card(const notify_card *c, core_buf *out)
{
    cardb b = {0};
    char *json, value[256];

    CORE_ASSERT(c && out);
    if (!c->repo || !*c->repo || !button_value(c, value))
        return CORE_EINVAL;
    if ((c->n_files && !c->files) || (c->n_findings && !c->findings) ||
        (c->n_mentions && !c->mentions))
        return CORE_EINVAL;
    for (size_t i = 0; i < c->n_mentions; i++) {
        if (!user_valid(c->mentions[i]))
            return CORE_EINVAL;
    }
    if (c->decision != NOTIFY_CARD_OPEN &&
        ((c->decision != NOTIFY_CARD_APPROVED && c->decision != NOTIFY_CARD_REJECTED) ||
         !c->decided_by || !*c->decided_by))
        return CORE_EINVAL;
    b.blocks = json_array();
    if (!b.blocks)
        return CORE_ENOMEM;
    header_block(&b, c);
    summary_block(&b, c);
    files_block(&b, c);
    findings_blocks(&b, c);
    plan_block(&b, c);
    oncall_block(&b, c);
    state_blocks(&b, c);
    if (c->decision == NOTIFY_CARD_OPEN && !(c->closed && *c->closed))
        actions_block(&b, c);
    if (b.rc == 0) {
        json = json_dumps(b.blocks, JSON_COMPACT);
        if (!json || core_buf_puts(out, json) < 0)
            b.rc = CORE_ENOMEM;
        free(json);
    }
    json_decref(b.blocks);
    return b.rc;
}

int notify_slack_card_decided(const notify_card *card, notify_card_decision decision,
                              const char *decider, const char *when_local, core_buf *out)
{
    notify_card c;

    CORE_ASSERT(card && out);
    if (decision != NOTIFY_CARD_APPROVED && decision != NOTIFY_CARD_REJECTED)
        return CORE_EINVAL;
    c = *card;
    c.decision = decision;
    c.decided_by = decider;
    c.decided_at = when_local;
    return notify_slack_card(&c, out);
}

int notify_slack_card_escalated(const notify_card *card, const char *region, core_buf *out)
{
    notify_card c;

    CORE_ASSERT(card && out);
    if (!region || !*region)
        return CORE_EINVAL;
    c = *card;
    c.escalated_to = region;
    return notify_slack_card(&c, out);
}

/* ---- the Web API ------------------------------------------------------------------------ */

/* Slack's error code, kept only if it looks like one: it goes into our messages. */
static void slack_error_code(json_t *root, char out[SLACK_ERROR_MAX])
{
    const char *e = json_string_value(json_object_get(root, "error"));
    size_t n = 0;

    for (; e && e[n] && n < SLACK_ERROR_MAX - 1; n++) {
        char ch = e[n];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            break;
        out[n] = ch;
    }
    if (e && e[n] == '\0' && n > 0) {
        out[n] = '\0';
        return;
    }
    snprintf(out, SLACK_ERROR_MAX, "unknown_error");
}

static int slack_error_to_code(const char *e)
{
    static const struct {
        const char *name;
        int code;
    } table[] = {
        {"invalid_auth", CORE_EAUTH},           {"not_authed", CORE_EAUTH},
        {"account_inactive", CORE_EAUTH},       {"token_revoked", CORE_EAUTH},
        {"token_expired", CORE_EAUTH},          {"no_permission", CORE_EAUTH},
        {"missing_scope", CORE_EAUTH},          {"not_allowed_token_type", CORE_EAUTH},
        {"not_in_channel", CORE_EAUTH},         {"restricted_action", CORE_EAUTH},
        {"ekm_access_denied", CORE_EAUTH},      {"channel_not_found", CORE_ENOTFOUND},
        {"message_not_found", CORE_ENOTFOUND},  {"ratelimited", CORE_EAGAIN},
        {"rate_limited", CORE_EAGAIN},          {"internal_error", CORE_EUNAVAILABLE},
        {"fatal_error", CORE_EUNAVAILABLE},     {"service_unavailable", CORE_EUNAVAILABLE},
        {"request_timeout", CORE_EUNAVAILABLE}, {"team_added_to_org", CORE_EUNAVAILABLE},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(e, table[i].name) == 0)
            return table[i].code;
    }
    /* invalid_blocks, msg_too_long, is_archived, cant_update_message...: resending the
     * same request will not help. */
    return CORE_EINVAL;
}

static bool name_valid(const char *s, size_t max, const char *extra)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(extra, *p)))
            return false;
    }
    return true;
}

/* One Web API call: method is "chat.postMessage" or "chat.update"; ts is NULL for a post.
 * Returns the answer's ts in ts_out (NULL allowed). */
static int slack_call(notify_http *http, const char *method, const char *api_url,
                      const char *bot_token, const char *channel, const char *ts,
                      const char *blocks_json, const char *fallback_text, char *ts_out,
                      int *retry_after_s, core_error *err)
{
    char url[URL_MAX], auth[TOKEN_MAX + 32], code_name[SLACK_ERROR_MAX];
    const char *headers[4];
    notify_http_response r = {0};
    json_t *req = NULL, *blocks, *root = NULL, *ok;
    notify_text fallback = {{0}, 0};
    char *body = NULL;
    const char *got_ts;
    size_t n;
    int rc = 0, secs;

    if (retry_after_s)
        *retry_after_s = 0;
    n = strlen(api_url);
    while (n > 0 && api_url[n - 1] == '/')
        n--;
    if ((strncmp(api_url, "https://", 8) != 0 && strncmp(api_url, "http://", 7) != 0) ||
        n > URL_MAX - 64)
        return core_error_set(err, CORE_EINVAL, "slack %s: api_url must be an http(s) url", method);
    if (!bot_token || !*bot_token || strlen(bot_token) > TOKEN_MAX || strpbrk(bot_token, " \t\r\n"))
        return core_error_set(err, CORE_EINVAL, "slack %s: the bot token is malformed", method);
    if (!name_valid(channel, 80, "_-#."))
        return core_error_set(err, CORE_EINVAL, "slack %s: bad channel", method);
    if (ts && !name_valid(ts, NOTIFY_SLACK_TS_MAX - 1, "."))
        return core_error_set(err, CORE_EINVAL, "slack %s: bad message ts", method);
    blocks = json_loads(blocks_json, 0, NULL);
    if (!json_is_array(blocks)) {
        json_decref(blocks);
        return core_error_set(err, CORE_EINVAL, "slack %s: blocks are not a json array", method);
    }
    if (notify_text_add_cut(&fallback, fallback_text, NOTIFY_TEXT_MRKDWN, NOTIFY_SLACK_MAX_TEXT) <
        0) {
        json_decref(blocks);
        return core_error_set(err, CORE_ENOMEM, "out of memory");
    }
    req =
        json_pack("{s:s, s:o, s:s, s:b, s:b}", "channel", channel, "blocks", blocks, "text",
                  fallback.buf.data ? fallback.buf.data : "", "unfurl_links", 0, "unfurl_media", 0);
    notify_text_free(&fallback);
    if (req && ts && json_object_set_new(req, "ts", json_string(ts)) < 0) {
        json_decref(req);
        req = NULL;
    }
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    if (!body) {
        rc = core_error_set(err, CORE_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(url, sizeof(url), "%.*s/%s", (int)n, api_url, method);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bot_token);
    headers[0] = auth;
    headers[1] = "Content-Type: application/json; charset=utf-8";
    headers[2] = "User-Agent: zoneci";
    headers[3] = NULL;
    rc = notify_http_request(http, "POST", url, headers, body, strlen(body),
                             NOTIFY_SLACK_TIMEOUT_MS, &r, err);
    if (rc < 0) {
        core_error_wrap(err, "slack %s", method);
        goto out;
    }
    if (r.status == 429) {
        secs = notify_http_retry_after_seconds(r.retry_after);
        if (retry_after_s)
            *retry_after_s = secs;
        rc = core_error_set(err, CORE_EAGAIN, "slack %s: rate limited, retry after %d s", method,
                            secs);
        goto out;
    }
    if (r.status != 200) {
        rc = core_error_set(err,
                            r.status >= 500                      ? CORE_EUNAVAILABLE
                            : r.status == 401 || r.status == 403 ? CORE_EAUTH
                                                                 : CORE_EINVAL,
                            "slack %s: http status %ld", method, r.status);
        goto out;
    }
    root = json_loadb(r.body.data, r.body.len, 0, NULL);
    ok = json_object_get(root, "ok");
    if (!json_is_boolean(ok)) {
        rc = core_error_set(err, CORE_EINVAL, "slack %s: the answer is not slack's json", method);
        goto out;
    }
    if (!json_is_true(ok)) {
        slack_error_code(root, code_name);
        rc = slack_error_to_code(code_name);
        if (rc == CORE_EAGAIN) {
            secs = notify_http_retry_after_seconds(r.retry_after);
            if (retry_after_s)
                *retry_after_s = secs;
        }
        rc = core_error_set(err, rc, "slack %s failed: %s", method, code_name);
        goto out;
    }
    got_ts = json_string_value(json_object_get(root, "ts"));
    if (ts_out) {
        if (!got_ts || !name_valid(got_ts, NOTIFY_SLACK_TS_MAX - 1, ".")) {
            rc = core_error_set(err, CORE_EINVAL, "slack %s: the answer has no valid ts", method);
            goto out;
        }
        snprintf(ts_out, NOTIFY_SLACK_TS_MAX, "%s", got_ts);
    }
out:
    json_decref(root);
    json_decref(req);
    free(body);
    notify_http_response_free(&r);
    core_wipe(auth, sizeof(auth));
    return rc;
}

int notify_slack_post(notify_http *http, const char *api_url, const char *bot_token,
                      const char *channel, const char *blocks_json, const char *fallback_text,
                      char ts_out[NOTIFY_SLACK_TS_MAX], int *retry_after_s, core_error *err)
{
    CORE_ASSERT(http && api_url && blocks_json && ts_out);
    ts_out[0] = '\0';
    return slack_call(http, "chat.postMessage", api_url, bot_token, channel, NULL, blocks_json,
                      fallback_text, ts_out, retry_after_s, err);
}

int notify_slack_update(notify_http *http, const char *api_url, const char *bot_token,
                        const char *channel, const char *ts, const char *blocks_json,
                        const char *fallback_text, int *retry_after_s, core_error *err)
{
    CORE_ASSERT(http && api_url && ts && blocks_json);
    return slack_call(http, "chat.update", api_url, bot_token, channel, ts, blocks_json,
                      fallback_text, NULL, retry_after_s, err);
}
