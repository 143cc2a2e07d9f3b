/* libFuzzer target for the webhook JSON path: runs wh_pr_event_parse,
 * wh_check_run_event_parse and wh_json_validate_object on the input and aborts when they disagree
 * with jansson (json_loadb, flags 0, top level an object, nesting within WH_JSON_MAX_DEPTH) about
 * validity (a key repeated on a path the event reads is refused on purpose), or with
 * jansson's reading of the fields they extract. Run with
 * -artifact_prefix=build/ so that crash files stay out of the tree. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "webhooks/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_webhook: %s (%s)\n", what, detail ? detail : "");
    abort();
}

/* Containers on the deepest path, the value itself counted. */
static int depth_of(json_t *v)
{
    int deepest = 0;

    if (json_is_object(v)) {
        const char *key;
        json_t *child;

        json_object_foreach(v, key, child)
        {
            int d = depth_of(child);

            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *child;

        json_array_foreach(v, i, child)
        {
            int d = depth_of(child);

            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

static json_t *at(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(root, a);

    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return v;
}

/* ours (a buffer of cap bytes) against jansson's string: equal when it fits, otherwise a
 * prefix cut at a character boundary less than 4 bytes short; "" when left out. */
static void same_string(const char *name, const char *ours, size_t cap, json_t *v)
{
    const char *want = json_string_value(v);
    size_t n = strlen(ours), wlen;

    if (n >= cap)
        die("string not terminated", name);
    if (!want) {
        if (n != 0)
            die("string where jansson has none", name);
        return;
    }
    wlen = json_string_length(v);
    if (wlen < cap) {
        if (strcmp(ours, want) != 0)
            die("string differs from jansson", name);
        return;
    }
    if (n == 0)
        return; /* too long to keep: left out */
    if (memcmp(ours, want, n) != 0 || n + 4 < cap || ((unsigned char)want[n] & 0xC0) == 0x80)
        die("bad truncation", name);
}

static void check_fields(const wh_pr_event *ev, json_t *root)
{
    json_t *num = json_object_get(root, "number");
    json_t *v;

    if (!num)
        num = at(root, "pull_request", "number", NULL);
    if (!json_is_integer(num) || json_integer_value(num) != ev->number || ev->number < 1)
        die("number differs from jansson", NULL);
    same_string("action", ev->action_name, sizeof(ev->action_name), at(root, "action", 0, 0));
    if (!json_is_string(at(root, "action", 0, 0)))
        die("action is not a string for jansson", NULL);
    v = at(root, "repository", "full_name", NULL);
    if (!json_is_string(v) || strcmp(ev->repo, json_string_value(v)) != 0)
        die("repository.full_name differs", NULL);
    same_string("title", ev->title, sizeof(ev->title), at(root, "pull_request", "title", 0));
    same_string("author", ev->author, sizeof(ev->author),
                at(root, "pull_request", "user", "login"));
    same_string("sender", ev->sender, sizeof(ev->sender), at(root, "sender", "login", NULL));
    same_string("head_ref", ev->head_ref, sizeof(ev->head_ref),
                at(root, "pull_request", "head", "ref"));
    same_string("clone_url", ev->clone_url, sizeof(ev->clone_url),
                at(root, "repository", "clone_url", NULL));
    if (ev->draft != json_is_true(at(root, "pull_request", "draft", NULL)))
        die("draft differs", NULL);
    v = at(root, "pull_request", "head", "sha");
    if (ev->head_sha[0]) {
        if (!json_is_string(v) || strlen(ev->head_sha) != 40 ||
            strncasecmp(ev->head_sha, json_string_value(v), 41) != 0)
            die("head sha differs", NULL);
    } else if (wh_pr_action_builds(ev->action)) {
        die("building action without a head sha", NULL);
    }
    v = at(root, "installation", "id", NULL);
    if (ev->installation_id != 0 && ev->installation_id != json_integer_value(v))
        die("installation id differs", NULL);
}

/* A check_run event parsed from a document the scanner calls invalid, a head sha that is
 * not 40 hex digits or an external id that is not a job id would reach the store. */
static void check_run(const char *body, size_t size, bool valid)
{
    wh_check_run_event cr;
    core_error err = {0};
    size_t n;

    if (wh_check_run_event_parse(body, size, &cr, &err) < 0) {
        if (err.code != CORE_EINVAL)
            die("check_run: unexpected error code", err.msg);
        return;
    }
    if (!valid)
        die("check_run parsed from an invalid document", NULL);
    if (strlen(cr.head_sha) != 40 || strspn(cr.head_sha, "0123456789abcdef") != 40)
        die("check_run: bad head sha accepted", cr.head_sha);
    n = strlen(cr.external_id);
    if (strspn(cr.external_id, "0123456789") != n)
        die("check_run: external id not a job id", cr.external_id);
    if (!cr.action[0] || !cr.name[0] || !cr.repo[0] || cr.installation_id < 0)
        die("check_run: a required field is empty", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    wh_pr_event ev;
    core_error err = {0}, verr = {0};
    json_error_t jerr;
    json_t *root;
    bool valid, jansson_valid;
    int rc;

    rc = wh_pr_event_parse(body, size, &ev, &err);
    valid = wh_json_validate_object(body, size, &verr) == 0;
    root = json_loadb(body, size, 0, &jerr);
    /* jansson's own nesting cap is 2048; ours is lower, on purpose. */
    jansson_valid = root && json_is_object(root) && depth_of(root) <= WH_JSON_MAX_DEPTH;

    /* A NUL byte is never valid JSON, but jansson drops one that follows a literal or a
     * number (stream_unget leaves it looking like an empty buffer): "{"a":true\0}" loads.
     * Only the scanner's answer is checked then. */
    if (memchr(data, 0, size)) {
        if (valid || rc == 0)
            die("scanner accepts a NUL byte", NULL);
        jansson_valid = false;
    }
    if (valid != jansson_valid)
        die(valid ? "scanner accepts what jansson rejects" : "scanner rejects what jansson accepts",
            valid ? jerr.text : verr.msg);
    if (rc == 0 && !valid)
        die("event parsed from an invalid document", NULL);
    if (rc < 0 && err.code != CORE_EINVAL)
        die("unexpected error code", err.msg);
    /* A key repeated on the way to a field the event reads is refused on purpose; jansson
     * told to reject duplicates must then find one too. */
    if (rc < 0 && strstr(err.msg, "duplicate key")) {
        json_t *strict = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);

        if (strict) {
            json_decref(strict);
            die("duplicate key reported where jansson finds none", err.msg);
        }
    } else if (rc < 0 && valid && strncmp(err.msg, "invalid JSON", 12) == 0) {
        die("valid document reported as invalid JSON", err.msg);
    }
    if (!valid && strncmp(verr.msg, "invalid JSON at byte ", 21) != 0)
        die("invalid document without a byte offset", verr.msg);
    if (rc == 0)
        check_fields(&ev, root);
    check_run(body, size, valid);
    json_decref(root);
    return 0;
}
