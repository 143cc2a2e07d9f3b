/* webhooks/signature.c: GitHub's documented HMAC vector, rotation, malformed headers,
 * and the vectors derived from the shared fixtures when they are present; Slack's
 * documented v0 vector, its replay window and tampering. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/support.h"
#include "webhooks/signature.h"

static char secret_doc[] = "It's a Secret to Everybody";
static char secret_other[] = "another secret";
static const char body[] = "Hello, World!";
static const char good[] =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

START_TEST(github_documented_vector)
{
    char *one[] = {secret_doc};

    ck_assert(wh_github_signature_valid(good, body, strlen(body), one, 1));
    /* Upper-case hex is the same MAC. */
    ck_assert(wh_github_signature_valid(
        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", body,
        strlen(body), one, 1));
}
END_TEST

START_TEST(github_rotation_accepts_either)
{
    char *old_first[] = {secret_other, secret_doc};
    char *new_first[] = {secret_doc, secret_other};
    char *neither[] = {secret_other};

    ck_assert(wh_github_signature_valid(good, body, strlen(body), old_first, 2));
    ck_assert(wh_github_signature_valid(good, body, strlen(body), new_first, 2));
    ck_assert(!wh_github_signature_valid(good, body, strlen(body), neither, 1));
}
END_TEST

START_TEST(github_rejects_malformed)
{
    char *one[] = {secret_doc};
    char flipped[sizeof(good)];

    memcpy(flipped, good, sizeof(good));
    flipped[sizeof(good) - 2] = flipped[sizeof(good) - 2] == '7' ? '8' : '7';
    ck_assert(!wh_github_signature_valid(flipped, body, strlen(body), one, 1));
    ck_assert(!wh_github_signature_valid(NULL, body, strlen(body), one, 1));
    ck_assert(!wh_github_signature_valid("", body, strlen(body), one, 1));
    ck_assert(!wh_github_signature_valid("sha1=757107ea0eb2509fc211221cce984b8a37570b6d", body,
                                         strlen(body), one, 1));
    /* Truncated, extended, non-hex. */
    ck_assert(!wh_github_signature_valid(
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", body,
        strlen(body), one, 1));
    ck_assert(!wh_github_signature_valid(
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e170", body,
        strlen(body), one, 1));
    ck_assert(!wh_github_signature_valid(
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", body,
        strlen(body), one, 1));
    /* A body one byte longer. */
    ck_assert(!wh_github_signature_valid(good, "Hello, World!\n", 14, one, 1));
    ck_assert(!wh_github_signature_valid(good, body, strlen(body), one, 0));
}
END_TEST

/* The fixtures' derived vectors: each names a file under shared/ and its signature. */
START_TEST(github_fixture_vectors)
{
    const char *dir = ts_fixtures_dir();
    char path[1024];
    json_t *root, *vectors;
    json_error_t jerr;
    size_t i, checked = 0;
    json_t *v;

    if (!dir) {
        fprintf(stderr, "skip: github_fixture_vectors: no shared fixtures folder\n");
        return;
    }
    snprintf(path, sizeof(path), "%s/signatures.json", dir);
    root = json_load_file(path, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", path, jerr.text);
    vectors = json_object_get(json_object_get(root, "derived_github_vectors"), "vectors");
    json_array_foreach(vectors, i, v)
    {
        const char *file = json_string_value(json_object_get(v, "file"));
        const char *sig = json_string_value(json_object_get(v, "x_hub_signature_256"));
        char secret[128];
        char *secrets[] = {secret};
        char fpath[1024];
        size_t len;
        char *data;

        snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(v, "secret")));
        /* "shared/fixtures/x" is relative to the folder holding shared/. */
        snprintf(fpath, sizeof(fpath), "%s/%s", dir, file + strlen("shared/fixtures/"));
        data = ts_read_file(fpath, &len);
        ck_assert_msg(data != NULL, "cannot read %s", fpath);
        ck_assert_msg(wh_github_signature_valid(sig, data, len, secrets, 1), "vector %s", file);
        data[len / 2] ^= 1;
        ck_assert(!wh_github_signature_valid(sig, data, len, secrets, 1));
        free(data);
        checked++;
    }
    ck_assert_uint_gt(checked, 0);
    json_decref(root);
}
END_TEST

/* Slack's documented walk-through: the secret, timestamp and signature are Slack's; the
 * body is read from the shared fixtures (verified against them there). */
static char slack_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char slack_ts[] = "1531420618";
static const char slack_sig[] =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
#define SLACK_NOW_MS (1531420618LL * 1000)

static char *slack_fixture_body(void)
{
    const char *dir = ts_fixtures_dir();
    char path[1024];
    json_t *root;
    char *out;

    if (!dir)
        return NULL;
    snprintf(path, sizeof(path), "%s/signatures.json", dir);
    root = json_load_file(path, 0, NULL);
    ck_assert_msg(root != NULL, "cannot parse %s", path);
    out = strdup(json_string_value(json_object_get(json_object_get(root, "slack"), "body")));
    json_decref(root);
    return out;
}

START_TEST(slack_documented_vector)
{
    char *one[] = {slack_secret};
    char *rotation[] = {secret_other, slack_secret};
    char *body_doc = slack_fixture_body();

    if (!body_doc) {
        fprintf(stderr, "skip: slack_documented_vector: no shared fixtures folder\n");
        return;
    }
    ck_assert(wh_slack_signature_valid(slack_ts, slack_sig, body_doc, strlen(body_doc), one, 1,
                                       SLACK_NOW_MS));
    ck_assert(wh_slack_signature_valid(slack_ts, slack_sig, body_doc, strlen(body_doc), rotation, 2,
                                       SLACK_NOW_MS + 60000));
    /* Within the window either way, up to its edge. */
    ck_assert(wh_slack_signature_valid(slack_ts, slack_sig, body_doc, strlen(body_doc), one, 1,
                                       SLACK_NOW_MS + 5 * 60 * 1000));
    ck_assert(wh_slack_signature_valid(slack_ts, slack_sig, body_doc, strlen(body_doc), one, 1,
                                       SLACK_NOW_MS - 5 * 60 * 1000));
    free(body_doc);
}
END_TEST

START_TEST(slack_refuses_old_or_future_timestamp)
{
    char *one[] = {slack_secret};
    char sig[80];
    const char *b = "payload=%7B%7D";

    ts_slack_signature(slack_secret, slack_ts, b, strlen(b), sig);
    ck_assert(wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    /* Correctly signed, but replayed ten minutes later, or from the future. */
    ck_assert(
        !wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1, SLACK_NOW_MS + 600000));
    ck_assert(!wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1,
                                        SLACK_NOW_MS + 5 * 60 * 1000 + 1));
    ck_assert(
        !wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1, SLACK_NOW_MS - 600000));
    /* Malformed timestamps. */
    ck_assert(!wh_slack_signature_valid(NULL, sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid("", sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid("+1531420618", sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid("1531420618 ", sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(
        !wh_slack_signature_valid("99999999999999999999", sig, b, strlen(b), one, 1, SLACK_NOW_MS));
}
END_TEST

START_TEST(slack_refuses_tampered)
{
    char *one[] = {slack_secret};
    char *other[] = {secret_other};
    char sig[80];
    char b[] = "payload=%7B%22a%22%3A1%7D";

    ts_slack_signature(slack_secret, slack_ts, b, strlen(b), sig);
    ck_assert(wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid(slack_ts, sig, b, strlen(b), other, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 0, SLACK_NOW_MS));
    /* The timestamp is part of what is signed. */
    ck_assert(!wh_slack_signature_valid("1531420619", sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid(slack_ts, sig, b, strlen(b) - 1, one, 1, SLACK_NOW_MS));
    b[10] ^= 1;
    ck_assert(!wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1, SLACK_NOW_MS));
    b[10] ^= 1;
    /* Header shapes. */
    ck_assert(!wh_slack_signature_valid(slack_ts, NULL, b, strlen(b), one, 1, SLACK_NOW_MS));
    ck_assert(!wh_slack_signature_valid(slack_ts, sig + 3, b, strlen(b), one, 1, SLACK_NOW_MS));
    sig[strlen(sig) - 1] = '\0';
    ck_assert(!wh_slack_signature_valid(slack_ts, sig, b, strlen(b), one, 1, SLACK_NOW_MS));
}
END_TEST

Suite *suite_webhooks_signature(void)
{
    Suite *s = suite_create("webhooks_signature");
    TCase *tc = tcase_create("github");

    tcase_add_test(tc, github_documented_vector);
    tcase_add_test(tc, github_rotation_accepts_either);
    tcase_add_test(tc, github_rejects_malformed);
    tcase_add_test(tc, github_fixture_vectors);
    suite_add_tcase(s, tc);
    tc = tcase_create("slack");
    tcase_add_test(tc, slack_documented_vector);
    tcase_add_test(tc, slack_refuses_old_or_future_timestamp);
    tcase_add_test(tc, slack_refuses_tampered);
    suite_add_tcase(s, tc);
    return s;
}
