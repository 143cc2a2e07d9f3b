/* webhooks/event.c: every action, drafts, each missing or mistyped field named by its
 * path, decoding and truncation of strings, duplicate keys, and the shared GitHub
 * fixtures (when present) compared field by field with jansson's reading of them. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tests/support/support.h"
#include "webhooks/event.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define SHA_HEAD "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
#define SHA_BASE "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"

/* Marks a member to leave out of the generated payload. */
static const char OMIT[] = "<omit>";

/* The JSON text of each member of a pull_request payload; NULL takes the default. */
typedef struct parts {
    const char *action, *number, *pr_number, *draft, *title, *login, *head_sha, *head_ref,
        *base_sha, *base_ref, *full_name, *clone_url, *sender, *installation;
} parts;

/* Appends ,"key":value (the fallback when value is NULL), or nothing for OMIT. */
static void member(core_buf *b, const char *key, const char *value, const char *fallback)
{
    if (value == OMIT)
        return;
    ck_assert_int_eq(core_buf_printf(b, ",\"%s\":%s", key, value ? value : fallback), 0);
}

/* A pull_request payload shaped like GitHub's (much shortened). Each object opens with a
 * member that is always there, so that every optional one can be left out. */
static char *payload(const parts *p)
{
    core_buf b = {0};

    ck_assert_int_eq(core_buf_puts(&b, "{\"zoneci_test\":true"), 0);
    member(&b, "action", p->action, "\"opened\"");
    member(&b, "number", p->number, "17");
    ck_assert_int_eq(core_buf_puts(&b,
                                   ",\"pull_request\":{\"url\":\"https://api.github.com/repos/acme/"
                                   "api/pulls/17\",\"id\":279147437"),
                     0);
    member(&b, "number", p->pr_number, "17");
    member(&b, "title", p->title, "\"Add users.email index\"");
    ck_assert_int_eq(core_buf_puts(&b, ",\"user\":{\"id\":1"), 0);
    member(&b, "login", p->login, "\"mei-tanaka\"");
    ck_assert_int_eq(core_buf_puts(&b, "},\"body\":null"), 0);
    member(&b, "draft", p->draft, "false");
    ck_assert_int_eq(core_buf_puts(&b, ",\"head\":{\"label\":\"acme:feature\""), 0);
    member(&b, "ref", p->head_ref, "\"feature/email-index\"");
    member(&b, "sha", p->head_sha, "\"" SHA_HEAD "\"");
    ck_assert_int_eq(core_buf_puts(&b, "},\"base\":{\"label\":\"acme:main\""), 0);
    member(&b, "ref", p->base_ref, "\"main\"");
    member(&b, "sha", p->base_sha, "\"" SHA_BASE "\"");
    ck_assert_int_eq(core_buf_puts(&b, "}},\"repository\":{\"id\":9"), 0);
    member(&b, "full_name", p->full_name, "\"acme/api\"");
    member(&b, "clone_url", p->clone_url, "\"https://github.com/acme/api.git\"");
    ck_assert_int_eq(core_buf_puts(&b, "}"), 0);
    if (p->installation != OMIT) {
        ck_assert_int_eq(core_buf_puts(&b, ",\"installation\":{\"node_id\":\"MDIz\""), 0);
        member(&b, "id", p->installation, "42");
        ck_assert_int_eq(core_buf_puts(&b, "}"), 0);
    }
    ck_assert_int_eq(core_buf_puts(&b, ",\"sender\":{\"id\":2"), 0);
    member(&b, "login", p->sender, "\"octocat\"");
    ck_assert_int_eq(core_buf_puts(&b, "}}"), 0);
    return core_buf_steal(&b);
}

static int parse_str(const char *text, wh_pr_event *ev, core_error *err)
{
    return wh_pr_event_parse(text, strlen(text), ev, err);
}

/* Parses the payload built from p, which must be accepted. */
static void parse_ok(const parts *p, wh_pr_event *ev)
{
    char *text = payload(p);
    core_error err = {0};
    int rc = parse_str(text, ev, &err);

    ck_assert_msg(rc == 0, "rejected: %s\n%s", err.msg, text);
    free(text);
}

/* Parses the payload built from p, which must be refused with exactly msg. */
static void parse_fails(const parts *p, const char *msg)
{
    char *text = payload(p);
    core_error err = {0};
    wh_pr_event ev;
    int rc = parse_str(text, &ev, &err);

    ck_assert_msg(rc == CORE_EINVAL, "accepted, want \"%s\"\n%s", msg, text);
    ck_assert_int_eq(err.code, CORE_EINVAL);
    ck_assert_msg(strcmp(err.msg, msg) == 0, "got \"%s\", want \"%s\"\n%s", err.msg, msg, text);
    /* Nothing half-filled is left behind. */
    ck_assert_str_eq(ev.repo, "");
    ck_assert_int_eq(ev.number, 0);
    free(text);
}

START_TEST(parses_all_fields)
{
    wh_pr_event ev;

    parse_ok(&(parts){0}, &ev);
    ck_assert_int_eq(ev.action, WH_PR_OPENED);
    ck_assert_str_eq(ev.action_name, "opened");
    ck_assert_int_eq(ev.number, 17);
    ck_assert(!ev.draft);
    ck_assert_str_eq(ev.repo, "acme/api");
    ck_assert_str_eq(ev.clone_url, "https://github.com/acme/api.git");
    ck_assert_str_eq(ev.head_sha, SHA_HEAD);
    ck_assert_str_eq(ev.base_sha, SHA_BASE);
    ck_assert_str_eq(ev.head_ref, "feature/email-index");
    ck_assert_str_eq(ev.base_ref, "main");
    ck_assert_str_eq(ev.title, "Add users.email index");
    ck_assert_str_eq(ev.author, "mei-tanaka");
    ck_assert_str_eq(ev.sender, "octocat");
    ck_assert_int_eq(ev.installation_id, 42);
}
END_TEST

START_TEST(every_action)
{
    static const struct {
        const char *name;
        wh_pr_action action;
        bool builds;
    } cases[] = {
        {"opened", WH_PR_OPENED, true},
        {"synchronize", WH_PR_SYNCHRONIZE, true},
        {"reopened", WH_PR_REOPENED, true},
        {"ready_for_review", WH_PR_READY_FOR_REVIEW, true},
        {"closed", WH_PR_CLOSED, false},
        {"assigned", WH_PR_OTHER, false},
        {"unassigned", WH_PR_OTHER, false},
        {"labeled", WH_PR_OTHER, false},
        {"unlabeled", WH_PR_OTHER, false},
        {"edited", WH_PR_OTHER, false},
        {"converted_to_draft", WH_PR_OTHER, false},
        {"review_requested", WH_PR_OTHER, false},
        {"review_request_removed", WH_PR_OTHER, false},
        {"locked", WH_PR_OTHER, false},
        {"unlocked", WH_PR_OTHER, false},
        {"auto_merge_enabled", WH_PR_OTHER, false},
        {"auto_merge_disabled", WH_PR_OTHER, false},
        {"milestoned", WH_PR_OTHER, false},
        {"demilestoned", WH_PR_OTHER, false},
        {"enqueued", WH_PR_OTHER, false},
        {"dequeued", WH_PR_OTHER, false},
        /* Near misses are not the real thing. */
        {"Opened", WH_PR_OTHER, false},
        {"opened ", WH_PR_OTHER, false},
        {"synchronized", WH_PR_OTHER, false},
        {"close", WH_PR_OTHER, false},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char action[64];
        wh_pr_event ev;

        snprintf(action, sizeof(action), "\"%s\"", cases[i].name);
        parse_ok(&(parts){.action = action}, &ev);
        ck_assert_msg(ev.action == cases[i].action, "%s: %d", cases[i].name, (int)ev.action);
        ck_assert_str_eq(ev.action_name, cases[i].name);
        ck_assert_msg(wh_pr_action_builds(ev.action) == cases[i].builds, "%s", cases[i].name);
    }
    ck_assert(wh_pr_action_builds(WH_PR_OPENED));
    ck_assert(wh_pr_action_builds(WH_PR_SYNCHRONIZE));
    ck_assert(wh_pr_action_builds(WH_PR_REOPENED));
    ck_assert(wh_pr_action_builds(WH_PR_READY_FOR_REVIEW));
    ck_assert(!wh_pr_action_builds(WH_PR_CLOSED));
    ck_assert(!wh_pr_action_builds(WH_PR_OTHER));
}
END_TEST

START_TEST(long_action_name_is_other)
{
    wh_pr_event ev;

    parse_ok(&(parts){.action = "\"opened_and_then_some_more_words_here_x\""}, &ev);
    ck_assert_int_eq(ev.action, WH_PR_OTHER);
    ck_assert_uint_eq(strlen(ev.action_name), sizeof(ev.action_name) - 1);
    parse_ok(&(parts){.action = "\"opened\\u0020\""}, &ev);
    ck_assert_int_eq(ev.action, WH_PR_OTHER);
    /* An escaped spelling is the same name. */
    parse_ok(&(parts){.action = "\"\\u006fpened\""}, &ev);
    ck_assert_int_eq(ev.action, WH_PR_OPENED);
}
END_TEST

START_TEST(drafts)
{
    wh_pr_event ev;

    parse_ok(&(parts){.draft = "true"}, &ev);
    ck_assert(ev.draft);
    ck_assert(wh_pr_action_builds(ev.action));
    parse_ok(&(parts){.draft = "false"}, &ev);
    ck_assert(!ev.draft);
    parse_ok(&(parts){.draft = OMIT}, &ev);
    ck_assert(!ev.draft);
    parse_ok(&(parts){.draft = "null"}, &ev);
    ck_assert(!ev.draft);
    parse_ok(&(parts){.action = "\"converted_to_draft\"", .draft = "true"}, &ev);
    ck_assert(ev.draft);
    ck_assert_int_eq(ev.action, WH_PR_OTHER);
    parse_ok(&(parts){.action = "\"ready_for_review\"", .draft = "false"}, &ev);
    ck_assert_int_eq(ev.action, WH_PR_READY_FOR_REVIEW);
    ck_assert(!ev.draft);
    parse_fails(&(parts){.draft = "\"true\""}, "pull_request.draft: must be a boolean");
    parse_fails(&(parts){.draft = "1"}, "pull_request.draft: must be a boolean");
    /* An action that does not build does not care. */
    parse_ok(&(parts){.action = "\"closed\"", .draft = "1"}, &ev);
    ck_assert(!ev.draft);
}
END_TEST

START_TEST(missing_and_mistyped_fields)
{
    static const struct {
        parts p;
        const char *msg;
    } cases[] = {
        {{.action = OMIT}, "action: missing"},
        {{.action = "7"}, "action: must be a string"},
        {{.action = "null"}, "action: must be a string"},
        {{.action = "[\"opened\"]"}, "action: must be a string"},
        {{.action = "\"\""}, "action: must not be empty"},
        {{.number = OMIT, .pr_number = OMIT}, "number: missing"},
        {{.number = "\"17\""}, "number: must be a positive integer"},
        {{.number = "0"}, "number: must be a positive integer"},
        {{.number = "-3"}, "number: must be a positive integer"},
        {{.number = "1.5"}, "number: must be a positive integer"},
        {{.number = "2.0"}, "number: must be a positive integer"},
        {{.number = "1e2"}, "number: must be a positive integer"},
        {{.number = "null"}, "number: must be a positive integer"},
        {{.number = "true"}, "number: must be a positive integer"},
        {{.number = "9007199254740993"}, "number: must be a positive integer"},
        {{.number = "9223372036854775807"}, "number: must be a positive integer"},
        {{.number = OMIT, .pr_number = "\"x\""}, "pull_request.number: must be a positive integer"},
        {{.full_name = OMIT}, "repository.full_name: missing"},
        {{.full_name = "null"}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "3"}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"acme\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"acme/\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"/api\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"a/b/c\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"acme/..\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"./api\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"ac me/api\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"acme/api\\n\""}, "repository.full_name: must be \"owner/name\""},
        {{.full_name = "\"acme/caf\xc3\xa9\""}, "repository.full_name: must be \"owner/name\""},
        {{.head_sha = OMIT}, "pull_request.head.sha: missing"},
        {{.head_sha = "null"}, "pull_request.head.sha: must be a 40-character hex string"},
        {{.head_sha = "\"abc\""}, "pull_request.head.sha: must be a 40-character hex string"},
        {{.head_sha = "\"" SHA_HEAD "0\""},
         "pull_request.head.sha: must be a 40-character hex string"},
        {{.head_sha = "\"ec26c3e57ca3a959ca5aad62de7213c562f8c82g\""},
         "pull_request.head.sha: must be a 40-character hex string"},
        {{.head_sha = "1234"}, "pull_request.head.sha: must be a 40-character hex string"},
        {{.base_sha = OMIT}, "pull_request.base.sha: missing"},
        {{.base_sha = "{}"}, "pull_request.base.sha: must be a 40-character hex string"},
        {{.head_ref = "5"}, "pull_request.head.ref: must be a string"},
        {{.base_ref = "[]"}, "pull_request.base.ref: must be a string"},
        {{.title = "7"}, "pull_request.title: must be a string"},
        {{.login = "false"}, "pull_request.user.login: must be a string"},
        {{.clone_url = "{}"}, "repository.clone_url: must be a string"},
        {{.sender = "1"}, "sender.login: must be a string"},
        {{.installation = "\"42\""}, "installation.id: must be a positive integer"},
        {{.installation = "-1"}, "installation.id: must be a positive integer"},
        /* The first problem, in a fixed order, is the one reported. */
        {{.action = "1", .number = "0"}, "action: must be a string"},
        {{.head_sha = OMIT, .base_sha = OMIT}, "pull_request.head.sha: missing"},
        {{.full_name = OMIT, .head_sha = OMIT}, "repository.full_name: missing"},
        {{.action = "\"synchronize\"", .head_sha = "\"\""},
         "pull_request.head.sha: must be a 40-character hex string"},
        {{.action = "\"reopened\"", .base_sha = OMIT}, "pull_request.base.sha: missing"},
        {{.action = "\"ready_for_review\"", .head_sha = OMIT}, "pull_request.head.sha: missing"},
        {{.action = "\"closed\"", .number = OMIT, .pr_number = OMIT}, "number: missing"},
        {{.action = "\"closed\"", .full_name = OMIT}, "repository.full_name: missing"},
        {{.action = "\"labeled\"", .full_name = "\"x\""},
         "repository.full_name: must be \"owner/name\""},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++)
        parse_fails(&cases[i].p, cases[i].msg);
}
END_TEST

START_TEST(number_forms)
{
    wh_pr_event ev;

    parse_ok(&(parts){.number = "1"}, &ev);
    ck_assert_int_eq(ev.number, 1);
    parse_ok(&(parts){.number = "9007199254740992"}, &ev);
    ck_assert_int_eq(ev.number, INT64_C(9007199254740992));
    /* Falls back to pull_request.number; the top-level one wins when both are there. */
    parse_ok(&(parts){.number = OMIT, .pr_number = "23"}, &ev);
    ck_assert_int_eq(ev.number, 23);
    parse_ok(&(parts){.number = "5", .pr_number = "\"junk\""}, &ev);
    ck_assert_int_eq(ev.number, 5);
    parse_ok(&(parts){.installation = "null"}, &ev);
    ck_assert_int_eq(ev.installation_id, 0);
    parse_ok(&(parts){.installation = "9223372036854775807"}, &ev);
    ck_assert_int_eq(ev.installation_id, INT64_MAX);
    {
        /* No installation object at all. */
        char *text = payload(&(parts){.installation = OMIT});
        core_error err = {0};

        ck_assert_int_eq(parse_str(text, &ev, &err), 0);
        ck_assert_int_eq(ev.installation_id, 0);
        free(text);
    }
}
END_TEST

/* closed and the other actions need only action, number and repository.full_name. */
START_TEST(closed_and_other_need_little)
{
    static const char *const actions[] = {"closed", "labeled", "edited", "converted_to_draft"};

    for (size_t i = 0; i < N_ELEMS(actions); i++) {
        char body[256];
        wh_pr_event ev;
        core_error err = {0};

        snprintf(body, sizeof(body),
                 "{\"action\":\"%s\",\"number\":8,\"repository\":{\"full_name\":\"acme/api\"}}",
                 actions[i]);
        ck_assert_msg(parse_str(body, &ev, &err) == 0, "%s: %s", actions[i], err.msg);
        ck_assert_int_eq(ev.number, 8);
        ck_assert_str_eq(ev.repo, "acme/api");
        ck_assert_str_eq(ev.head_sha, "");
        ck_assert(!wh_pr_action_builds(ev.action));
    }
    {
        /* Mistyped fields that a build would need are left out, not refused. */
        wh_pr_event ev;

        parse_ok(&(parts){.action = "\"closed\"",
                          .head_sha = "\"nothex\"",
                          .base_sha = "7",
                          .title = "[]",
                          .head_ref = "1",
                          .installation = "\"x\""},
                 &ev);
        ck_assert_int_eq(ev.action, WH_PR_CLOSED);
        ck_assert_str_eq(ev.head_sha, "");
        ck_assert_str_eq(ev.base_sha, "");
        ck_assert_str_eq(ev.title, "");
        ck_assert_str_eq(ev.head_ref, "");
        ck_assert_int_eq(ev.installation_id, 0);
        ck_assert_str_eq(ev.repo, "acme/api");
    }
    {
        char body[] = "{\"action\":\"opened\",\"number\":8,\"repository\":{\"full_name\":\"a/b\"}}";
        wh_pr_event ev;
        core_error err = {0};

        ck_assert_int_eq(parse_str(body, &ev, &err), CORE_EINVAL);
        ck_assert_str_eq(err.msg, "pull_request.head.sha: missing");
    }
}
END_TEST

START_TEST(optional_fields)
{
    wh_pr_event ev;

    parse_ok(&(parts){.title = "null",
                      .clone_url = OMIT,
                      .sender = OMIT,
                      .login = OMIT,
                      .head_ref = OMIT,
                      .base_ref = "null"},
             &ev);
    ck_assert_str_eq(ev.title, "");
    ck_assert_str_eq(ev.clone_url, "");
    ck_assert_str_eq(ev.sender, "");
    ck_assert_str_eq(ev.author, "");
    ck_assert_str_eq(ev.head_ref, "");
    ck_assert_str_eq(ev.base_ref, "");
    ck_assert_str_eq(ev.head_sha, SHA_HEAD);
    /* Commit ids are stored lower-case. */
    parse_ok(&(parts){.head_sha = "\"EC26C3E57CA3A959CA5AAD62DE7213C562F8C821\""}, &ev);
    ck_assert_str_eq(ev.head_sha, SHA_HEAD);
    /* Escapes are decoded before the check, as for any string. */
    parse_ok(&(parts){.head_sha = "\"\\u0065c26c3e57ca3a959ca5aad62de7213c562f8c821\""}, &ev);
    ck_assert_str_eq(ev.head_sha, SHA_HEAD);
    /* Owner and name may hold '-', '_' and '.'. */
    parse_ok(&(parts){.full_name = "\"my-org_1/repo.name-2_x\""}, &ev);
    ck_assert_str_eq(ev.repo, "my-org_1/repo.name-2_x");
    parse_ok(&(parts){.full_name = "\"a/.github\""}, &ev);
    ck_assert_str_eq(ev.repo, "a/.github");
}
END_TEST

START_TEST(titles_decode_escapes)
{
    static const struct {
        const char *json;
        const char *text;
    } cases[] = {
        {"\"Add \\\"users\\\" table\\nand index\"", "Add \"users\" table\nand index"},
        {"\"tab\\there \\\\ slash\\/\"", "tab\there \\ slash/"},
        {"\"caf\\u00e9 \\u20ac5\"", "caf\xc3\xa9 \xe2\x82\xac"
                                    "5"},
        {"\"rocket \\ud83d\\ude80 clef \\uD834\\uDD1E\"",
         "rocket \xf0\x9f\x9a\x80 clef \xf0\x9d\x84\x9e"},
        {"\"raw \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"",
         "raw \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
        {"\"\"", ""},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        wh_pr_event ev;

        parse_ok(&(parts){.title = cases[i].json}, &ev);
        ck_assert_str_eq(ev.title, cases[i].text);
    }
}
END_TEST

START_TEST(long_strings)
{
    core_buf title = {0}, ref = {0};
    wh_pr_event ev;

    /* 1022 ASCII bytes then a two-byte character: 1024 bytes do not fit in 1023. */
    ck_assert_int_eq(core_buf_puts(&title, "\""), 0);
    for (int i = 0; i < 1022; i++)
        ck_assert_int_eq(core_buf_puts(&title, "a"), 0);
    ck_assert_int_eq(core_buf_puts(&title, "\\u00e9tail\""), 0);
    parse_ok(&(parts){.title = title.data}, &ev);
    ck_assert_uint_eq(strlen(ev.title), 1022);
    ck_assert_int_eq(ev.title[1021], 'a');

    /* 1021 bytes, then a four-byte character written raw: also cut before it. */
    core_buf_reset(&title);
    ck_assert_int_eq(core_buf_puts(&title, "\""), 0);
    for (int i = 0; i < 1021; i++)
        ck_assert_int_eq(core_buf_puts(&title, "b"), 0);
    ck_assert_int_eq(core_buf_puts(&title, "\xf0\x9f\x98\x80\""), 0);
    parse_ok(&(parts){.title = title.data}, &ev);
    ck_assert_uint_eq(strlen(ev.title), 1021);

    /* Exactly full. */
    core_buf_reset(&title);
    ck_assert_int_eq(core_buf_puts(&title, "\""), 0);
    for (int i = 0; i < 1020; i++)
        ck_assert_int_eq(core_buf_puts(&title, "c"), 0);
    ck_assert_int_eq(core_buf_puts(&title, "\xe2\x82\xac\""), 0);
    parse_ok(&(parts){.title = title.data}, &ev);
    ck_assert_uint_eq(strlen(ev.title), 1023);
    ck_assert_str_eq(ev.title + 1020, "\xe2\x82\xac");

    /* A ref that does not fit would name another branch: refused, not cut. */
    ck_assert_int_eq(core_buf_puts(&ref, "\""), 0);
    for (int i = 0; i < 256; i++)
        ck_assert_int_eq(core_buf_puts(&ref, "r"), 0);
    ck_assert_int_eq(core_buf_puts(&ref, "\""), 0);
    parse_fails(&(parts){.head_ref = ref.data}, "pull_request.head.ref: longer than 255 bytes");
    ref.data[256] = '"';
    ref.data[257] = '\0';
    parse_ok(&(parts){.head_ref = ref.data}, &ev);
    ck_assert_uint_eq(strlen(ev.head_ref), 255);
    core_buf_free(&title);
    core_buf_free(&ref);
}
END_TEST

/* Duplicate keys on the fields a delivery is read by are refused with a reason (400): a
 * proxy that takes the first "action" and zoneci the last must not see two events. */
START_TEST(duplicate_keys_refused)
{
    static const char body[] =
        "{\"action\":\"closed\",\"number\":1,\"action\":\"synchronize\",\"number\":2,"
        "\"pull_request\":{\"head\":{\"sha\":\"" SHA_HEAD "\"},\"base\":{\"sha\":\"" SHA_BASE
        "\"}},\"repository\":{\"full_name\":\"acme/api\"}}";
    static const char nested[] =
        "{\"action\":\"opened\",\"number\":3,\"repository\":{\"full_name\":\"acme/api\"},"
        "\"pull_request\":{\"head\":{\"sha\":\"" SHA_HEAD "\"},\"base\":{\"sha\":\"" SHA_BASE
        "\"},\"draft\":true,\"draft\":false}}";
    wh_pr_event ev;
    core_error err = {0};

    ck_assert_int_eq(parse_str(body, &ev, &err), CORE_EINVAL);
    ck_assert_msg(strstr(err.msg, "duplicate key") != NULL, "%s", err.msg);
    ck_assert_int_eq(parse_str(nested, &ev, &err), CORE_EINVAL);
    ck_assert_msg(strstr(err.msg, "duplicate key") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(invalid_json_is_named)
{
    static const struct {
        const char *body;
        size_t len;
        const char *msg;
    } cases[] = {
        {"", 0, "invalid JSON at byte 0: empty body"},
        {"{not json", 9, "invalid JSON at byte 1: expected a string key"},
        {"[1,2]", 5, "invalid JSON at byte 0: top level must be an object"},
        {"{\"action\":\"opened\",}", 20, "invalid JSON at byte 19: expected a string key"},
        {"{\"action\":\"op\\u0000\"}", 21, "invalid JSON at byte 13: \\u0000 is not allowed"},
        {"{\"action\":\"\xff\"}", 14, "invalid JSON at byte 11: invalid UTF-8"},
        {"{\"number\":007}", 14, "invalid JSON at byte 10: leading zero in number"},
        {"{\"a\":1} trailing", 16,
         "invalid JSON at byte 8: unexpected data after the "
         "top-level object"},
    };

    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        wh_pr_event ev;
        core_error err = {0};

        ck_assert_int_eq(wh_pr_event_parse(cases[i].body, cases[i].len, &ev, &err), CORE_EINVAL);
        ck_assert_str_eq(err.msg, cases[i].msg);
        ck_assert_int_eq(wh_json_validate_object(cases[i].body, cases[i].len, &err), CORE_EINVAL);
        ck_assert_str_eq(err.msg, cases[i].msg);
    }
    /* A NULL error is allowed. */
    {
        wh_pr_event ev;

        ck_assert_int_eq(wh_pr_event_parse("{}", 2, &ev, NULL), CORE_EINVAL);
    }
}
END_TEST

START_TEST(validate_object)
{
    static const char *const good[] = {
        "{}",
        "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1,\"hook\":{\"events\":[\"*\"]}}",
        " {\"action\":\"created\",\"installation\":{\"id\":1},\"repositories\":[]}\n",
    };
    core_error err = {0};

    for (size_t i = 0; i < N_ELEMS(good); i++)
        ck_assert_msg(wh_json_validate_object(good[i], strlen(good[i]), &err) == 0, "%s: %s",
                      good[i], err.msg);
    ck_assert_int_eq(wh_json_validate_object("[]", 2, &err), CORE_EINVAL);
    ck_assert_int_eq(wh_json_validate_object("{\"a\":1,}", 8, &err), CORE_EINVAL);
    ck_assert_int_eq(wh_json_validate_object("{}", 1, &err), CORE_EINVAL);
    /* The body need not be NUL-terminated: only len bytes are read. */
    ck_assert_int_eq(wh_json_validate_object("{}garbage", 2, &err), 0);
}
END_TEST

/* jansson's view of a string at a path, or NULL. */
static const char *jstr(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(root, a);

    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static void check_fixture(const char *path)
{
    char *data;
    size_t len;
    json_t *root, *pr, *num;
    json_error_t jerr;
    wh_pr_event ev;
    core_error err = {0};
    const char *title;

    data = ts_read_file(path, &len);
    ck_assert_msg(data != NULL, "cannot read %s", path);
    root = json_loadb(data, len, 0, &jerr);
    ck_assert_msg(root && json_is_object(root), "%s: jansson: %s", path, jerr.text);
    ck_assert_msg(wh_pr_event_parse(data, len, &ev, &err) == 0, "%s: %s", path, err.msg);
    pr = json_object_get(root, "pull_request");
    num = json_object_get(root, "number");
    if (!num)
        num = json_object_get(pr, "number");

    ck_assert_str_eq(ev.action_name, jstr(root, "action", NULL, NULL));
    ck_assert_int_eq(ev.number, json_integer_value(num));
    ck_assert_str_eq(ev.repo, jstr(root, "repository", "full_name", NULL));
    ck_assert_str_eq(ev.head_sha, jstr(root, "pull_request", "head", "sha"));
    ck_assert_str_eq(ev.base_sha, jstr(root, "pull_request", "base", "sha"));
    ck_assert_str_eq(ev.head_ref, jstr(root, "pull_request", "head", "ref"));
    ck_assert_str_eq(ev.base_ref, jstr(root, "pull_request", "base", "ref"));
    ck_assert_str_eq(ev.author, jstr(root, "pull_request", "user", "login"));
    ck_assert_int_eq(ev.draft, json_is_true(json_object_get(pr, "draft")));
    title = jstr(root, "pull_request", "title", NULL);
    ck_assert_str_eq(ev.title, title ? title : "");
    ck_assert_int_eq(ev.installation_id, json_integer_value(json_object_get(
                                             json_object_get(root, "installation"), "id")));
    ck_assert_int_eq(wh_json_validate_object(data, len, &err), 0);
    /* Any one byte flipped to a quote must leave both parsers agreeing on validity. */
    for (size_t i = 0; i < len; i += 211) {
        char saved = data[i];
        json_t *broken;
        bool ours;

        data[i] = '"';
        broken = json_loadb(data, len, 0, &jerr);
        ours = wh_json_validate_object(data, len, NULL) == 0;
        ck_assert_msg(ours == (broken && json_is_object(broken)), "%s: byte %zu", path, i);
        json_decref(broken);
        data[i] = saved;
    }
    json_decref(root);
    free(data);
}

START_TEST(github_fixtures_match_jansson)
{
    const char *base = ts_fixtures_dir();
    char dir[1024];
    DIR *d;
    struct dirent *de;
    size_t checked = 0;

    if (!base) {
        fprintf(stderr, "skip: github_fixtures_match_jansson: no shared fixtures folder "
                        "(set ZONECI_FIXTURES)\n");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/github/pull_request", base);
    d = opendir(dir);
    if (!d) {
        fprintf(stderr, "skip: github_fixtures_match_jansson: no %s\n", dir);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        char path[2048];

        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        check_fixture(path);
        checked++;
    }
    closedir(d);
    ck_assert_msg(checked > 0, "no *.json in %s", dir);
}
END_TEST

Suite *suite_webhooks_event(void)
{
    Suite *s = suite_create("webhooks_event");
    TCase *tc = tcase_create("pull_request");
    TCase *fx = tcase_create("fixtures");

    tcase_add_test(tc, parses_all_fields);
    tcase_add_test(tc, every_action);
    tcase_add_test(tc, long_action_name_is_other);
    tcase_add_test(tc, drafts);
    tcase_add_test(tc, missing_and_mistyped_fields);
    tcase_add_test(tc, number_forms);
    tcase_add_test(tc, closed_and_other_need_little);
    tcase_add_test(tc, optional_fields);
    tcase_add_test(tc, titles_decode_escapes);
    tcase_add_test(tc, long_strings);
    tcase_add_test(tc, duplicate_keys_refused);
    tcase_add_test(tc, invalid_json_is_named);
    tcase_add_test(tc, validate_object);
    suite_add_tcase(s, tc);
    tcase_add_test(fx, github_fixtures_match_jansson);
    tcase_set_timeout(fx, 60);
    suite_add_tcase(s, fx);
    return s;
}
