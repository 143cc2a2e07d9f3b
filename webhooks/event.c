/* webhooks/event.c: turns a GitHub pull_request body into a wh_pr_event. One pass of the
 * JSON scanner validates the document and finds the fields; this file only checks their
 * types and formats and copies them out, naming the JSON path of anything wrong. */
#include "webhooks/event.h"

#include <jansson.h>
#include <string.h>

#include "webhooks/jscan.h"

/* The paths zoneci reads; the order is also the order in which errors are reported. */
enum {
    F_ACTION,
    F_NUMBER,
    F_PR_NUMBER,
    F_REPO,
    F_HEAD_SHA,
    F_BASE_SHA,
    F_HEAD_REF,
    F_BASE_REF,
    F_DRAFT,
    F_TITLE,
    F_AUTHOR,
    F_CLONE_URL,
    F_SENDER,
    F_INSTALLATION,
    F_COUNT
};

static const char *const field_paths[F_COUNT] = {
    [F_ACTION] = "action",
    [F_NUMBER] = "number",
    [F_PR_NUMBER] = "pull_request.number",
    [F_REPO] = "repository.full_name",
    [F_HEAD_SHA] = "pull_request.head.sha",
    [F_BASE_SHA] = "pull_request.base.sha",
    [F_HEAD_REF] = "pull_request.head.ref",
    [F_BASE_REF] = "pull_request.base.ref",
    [F_DRAFT] = "pull_request.draft",
    [F_TITLE] = "pull_request.title",
    [F_AUTHOR] = "pull_request.user.login",
    [F_CLONE_URL] = "repository.clone_url",
    [F_SENDER] = "sender.login",
    [F_INSTALLATION] = "installation.id",
};

static const struct {
    const char *name;
    wh_pr_action action;
} action_names[] = {
    {"opened", WH_PR_OPENED},     {"synchronize", WH_PR_SYNCHRONIZE},
    {"reopened", WH_PR_REOPENED}, {"ready_for_review", WH_PR_READY_FOR_REVIEW},
    {"closed", WH_PR_CLOSED},
};

/* GitHub's JavaScript consumers cannot count past 2^53; neither will a PR number. */
#define PR_NUMBER_MAX (INT64_C(1) << 53)

bool wh_pr_action_builds(wh_pr_action action)
{
    switch (action) {
    case WH_PR_OPENED:
    case WH_PR_SYNCHRONIZE:
    case WH_PR_REOPENED:
    case WH_PR_READY_FOR_REVIEW:
        return true;
    case WH_PR_CLOSED:
    case WH_PR_OTHER:
        break;
    }
    return false;
}

/* A JSON integer token in 1..max (the scanner has checked the syntax; a real such as 2.0
 * is not an integer, as for jansson). */
static bool positive_int(const wh_jscan_field *f, int64_t max, int64_t *out)
{
    int64_t v = 0;

    if (f->type != WH_JSCAN_NUMBER || f->raw_len > 19)
        return false;
    for (size_t i = 0; i < f->raw_len; i++) {
        char c = f->raw[i];

        if (c < '0' || c > '9')
            return false;
        if (v > (max - (c - '0')) / 10)
            return false;
        v = v * 10 + (c - '0');
    }
    if (v < 1)
        return false;
    *out = v;
    return true;
}

static int field_error(core_error *err, int id, const char *what)
{
    return core_error_set(err, CORE_EINVAL, "%s: %s", field_paths[id], what);
}

/* Copies an optional string field into dst: absent or null leave "". Anything but a string
 * is an error when strict, else ignored. Text that does not fit is cut at a character
 * boundary, unless must_fit: then it is an error when strict, else left out. */
static int take_string(const wh_jscan_field *fields, int id, char *dst, size_t cap, bool strict,
                       bool must_fit, core_error *err)
{
    const wh_jscan_field *f = &fields[id];
    bool cut;

    dst[0] = '\0';
    if (f->type == WH_JSCAN_MISSING || f->type == WH_JSCAN_NULL)
        return 0;
    if (f->type != WH_JSCAN_STRING)
        return strict ? field_error(err, id, "must be a string") : 0;
    wh_jscan_string_decode(f->raw, f->raw_len, dst, cap, &cut);
    if (cut && must_fit) {
        dst[0] = '\0';
        if (strict)
            return core_error_set(err, CORE_EINVAL, "%s: longer than %zu bytes", field_paths[id],
                                  cap - 1);
    }
    return 0;
}

/* A commit id: 40 hex digits, stored lower-case. Required when the action builds; otherwise
 * kept only if well formed. */
static int take_sha(const wh_jscan_field *fields, int id, char out[41], bool required,
                    core_error *err)
{
    const wh_jscan_field *f = &fields[id];
    char text[42];
    bool cut = true;
    size_t n = 0;

    out[0] = '\0';
    if (f->type == WH_JSCAN_MISSING)
        return required ? field_error(err, id, "missing") : 0;
    if (f->type == WH_JSCAN_STRING)
        n = wh_jscan_string_decode(f->raw, f->raw_len, text, sizeof(text), &cut);
    if (!cut && n == 40 && strspn(text, "0123456789abcdefABCDEF") == 40) {
        for (size_t i = 0; i < 40; i++)
            out[i] = text[i] >= 'A' && text[i] <= 'F' ? (char)(text[i] - 'A' + 'a') : text[i];
        out[40] = '\0';
        return 0;
    }
    return required ? field_error(err, id, "must be a 40-character hex string") : 0;
}

static bool repo_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* "owner/name" as GitHub spells them: letters, digits, '-', '_', '.'; neither part empty,
 * "." or "..". The name ends up in Redis keys and log lines, so nothing else passes. */
static bool repo_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    size_t owner, name;

    if (!slash || strchr(slash + 1, '/'))
        return false;
    owner = (size_t)(slash - s);
    name = strlen(slash + 1);
    if (owner == 0 || name == 0)
        return false;
    if ((owner <= 2 && strspn(s, ".") == owner) || (name <= 2 && strspn(slash + 1, ".") == name))
        return false;
    for (const char *p = s; *p; p++) {
        if (p != slash && !repo_char(*p))
            return false;
    }
    return true;
}

static int take_number(const wh_jscan_field *fields, int64_t *out, core_error *err)
{
    int id = fields[F_NUMBER].type != WH_JSCAN_MISSING ? F_NUMBER : F_PR_NUMBER;

    if (fields[id].type == WH_JSCAN_MISSING)
        return field_error(err, F_NUMBER, "missing");
    if (!positive_int(&fields[id], PR_NUMBER_MAX, out))
        return field_error(err, id, "must be a positive integer");
    return 0;
}

static int take_action(const wh_jscan_field *fields, wh_pr_event *out, core_error *err)
{
    const wh_jscan_field *f = &fields[F_ACTION];
    bool cut;

    if (f->type == WH_JSCAN_MISSING)
        return field_error(err, F_ACTION, "missing");
    if (f->type != WH_JSCAN_STRING)
        return field_error(err, F_ACTION, "must be a string");
    wh_jscan_string_decode(f->raw, f->raw_len, out->action_name, sizeof(out->action_name), &cut);
    if (out->action_name[0] == '\0')
        return field_error(err, F_ACTION, "must not be empty");
    /* A name too long for action_name is none of ours: it stays WH_PR_OTHER. */
    out->action = WH_PR_OTHER;
    for (size_t i = 0; !cut && i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcmp(out->action_name, action_names[i].name) == 0)
            out->action = action_names[i].action;
    }
    return 0;
}

static int take_repo(const wh_jscan_field *fields, char *dst, size_t cap, core_error *err)
{
    const wh_jscan_field *f = &fields[F_REPO];
    bool cut = false;

    if (f->type == WH_JSCAN_MISSING)
        return field_error(err, F_REPO, "missing");
    if (f->type == WH_JSCAN_STRING)
        wh_jscan_string_decode(f->raw, f->raw_len, dst, cap, &cut);
    if (f->type != WH_JSCAN_STRING || cut || !repo_valid(dst)) {
        dst[0] = '\0';
        return field_error(err, F_REPO, "must be \"owner/name\"");
    }
    return 0;
}

/* Absent and null mean false. */
static int take_draft(const wh_jscan_field *fields, bool strict, bool *out, core_error *err)
{
    switch (fields[F_DRAFT].type) {
    case WH_JSCAN_TRUE:
        *out = true;
        return 0;
    case WH_JSCAN_MISSING:
    case WH_JSCAN_NULL:
    case WH_JSCAN_FALSE:
        *out = false;
        return 0;
    default:
        *out = false;
        return strict ? field_error(err, F_DRAFT, "must be a boolean") : 0;
    }
}

/* Absent and null mean 0. */
static int take_installation(const wh_jscan_field *fields, bool strict, int64_t *out,
                             core_error *err)
{
    const wh_jscan_field *f = &fields[F_INSTALLATION];

    *out = 0;
    if (f->type == WH_JSCAN_MISSING || f->type == WH_JSCAN_NULL || positive_int(f, INT64_MAX, out))
        return 0;
    *out = 0;
    return strict ? field_error(err, F_INSTALLATION, "must be a positive integer") : 0;
}

/* Fills out from the scanned fields, or returns the first problem. Fields that a build
 * needs are checked strictly only when the action builds; for the others, what is well
 * formed is kept and the rest left empty. */
static int take_fields(const wh_jscan_field *f, wh_pr_event *out, core_error *err)
{
    bool builds;
    int rc;

    rc = take_action(f, out, err);
    if (rc < 0)
        return rc;
    builds = wh_pr_action_builds(out->action);
    rc = take_number(f, &out->number, err);
    if (rc < 0)
        return rc;
    rc = take_repo(f, out->repo, sizeof(out->repo), err);
    if (rc < 0)
        return rc;
    rc = take_sha(f, F_HEAD_SHA, out->head_sha, builds, err);
    if (rc < 0)
        return rc;
    rc = take_sha(f, F_BASE_SHA, out->base_sha, builds, err);
    if (rc < 0)
        return rc;
    /* A cut ref or URL would name something else: refused. Display strings are cut. */
    rc = take_string(f, F_HEAD_REF, out->head_ref, sizeof(out->head_ref), builds, true, err);
    if (rc < 0)
        return rc;
    rc = take_string(f, F_BASE_REF, out->base_ref, sizeof(out->base_ref), builds, true, err);
    if (rc < 0)
        return rc;
    rc = take_string(f, F_CLONE_URL, out->clone_url, sizeof(out->clone_url), builds, true, err);
    if (rc < 0)
        return rc;
    rc = take_draft(f, builds, &out->draft, err);
    if (rc < 0)
        return rc;
    /* GitHub sends null for an empty body and, in old payloads, an empty title. */
    rc = take_string(f, F_TITLE, out->title, sizeof(out->title), builds, false, err);
    if (rc < 0)
        return rc;
    rc = take_string(f, F_AUTHOR, out->author, sizeof(out->author), builds, false, err);
    if (rc < 0)
        return rc;
    rc = take_string(f, F_SENDER, out->sender, sizeof(out->sender), builds, false, err);
    if (rc < 0)
        return rc;
    return take_installation(f, builds, &out->installation_id, err);
}

int wh_pr_event_parse(const char *body, size_t len, wh_pr_event *out, core_error *err)
{
    wh_jscan_field f[F_COUNT];
    int rc;

    CORE_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < F_COUNT; i++)
        f[i].path = field_paths[i];
    rc = wh_jscan_scan(body, len, f, F_COUNT, err);
    if (rc == 0)
        rc = take_fields(f, out, err);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int wh_json_validate_object(const char *body, size_t len, core_error *err)
{
    return wh_jscan_scan(body, len, NULL, 0, err);
}

/* ---- check_run ------------------------------------------------------------------------
 * Rare (a person pressed "Re-run"), so jansson's tree is fine here. */

static bool copy_string(json_t *v, char *out, size_t cap)
{
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;

    if (!s || n == 0 || n >= cap || memchr(s, '\0', n))
        return false;
    memcpy(out, s, n + 1);
    return true;
}

static bool all_digits(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool lower_hex40(const char *s)
{
    if (strlen(s) != 40)
        return false;
    for (size_t i = 0; i < 40; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int wh_check_run_event_parse(const char *body, size_t len, wh_check_run_event *out, core_error *err)
{
    json_error_t jerr;
    json_t *root, *run, *inst, *app;
    char ext[64] = "";
    int rc = 0;

    memset(out, 0, sizeof(*out));
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return core_error_set(err, CORE_EINVAL, "body: not a JSON object");
    }
    run = json_object_get(root, "check_run");
    inst = json_object_get(json_object_get(root, "installation"), "id");
    if (!copy_string(json_object_get(root, "action"), out->action, sizeof(out->action)))
        rc = core_error_set(err, CORE_EINVAL, "action: missing or not a short string");
    else if (!json_is_object(run))
        rc = core_error_set(err, CORE_EINVAL, "check_run: missing or not an object");
    else if (!copy_string(json_object_get(run, "name"), out->name, sizeof(out->name)))
        rc = core_error_set(err, CORE_EINVAL, "check_run.name: missing or not a short string");
    else if (!copy_string(json_object_get(run, "head_sha"), out->head_sha, sizeof(out->head_sha)) ||
             !lower_hex40(out->head_sha))
        rc = core_error_set(err, CORE_EINVAL, "check_run.head_sha: missing or not 40 hex digits");
    else if (!copy_string(json_object_get(json_object_get(root, "repository"), "full_name"),
                          out->repo, sizeof(out->repo)))
        rc = core_error_set(err, CORE_EINVAL, "repository.full_name: missing or too long");
    else if (inst && (!json_is_integer(inst) || json_integer_value(inst) <= 0))
        rc = core_error_set(err, CORE_EINVAL, "installation.id: not a positive integer");
    if (rc == 0) {
        if (copy_string(json_object_get(run, "external_id"), ext, sizeof(ext)) &&
            all_digits(ext, sizeof(out->external_id) - 1))
            memcpy(out->external_id, ext, strlen(ext) + 1);
        out->installation_id = inst ? (int64_t)json_integer_value(inst) : 0;
        app = json_object_get(json_object_get(run, "app"), "id");
        out->app_id = json_is_integer(app) ? (int64_t)json_integer_value(app) : 0;
    } else {
        memset(out, 0, sizeof(*out));
    }
    json_decref(root);
    return rc;
}
