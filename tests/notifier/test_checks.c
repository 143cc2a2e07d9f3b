/* The check run's body, built without GitHub: its conclusion for each state of a job, the
 * batches of at most 50 annotations and their levels, Markdown escaping of what came from
 * a migration, and GitHub's size caps. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier/notifier.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

static notify_check_job job_of(const notify_finding *f, size_t n, const char *state)
{
    static const char *const files[] = {"db/002_drops.sql"};

    return (notify_check_job){.job_id = "12",
                              .head_sha = SHA,
                              .state = state,
                              .decision = "",
                              .reason = "awaiting approval",
                              .approval_region = "tokyo",
                              .approval_oncall = "@dba-one, 1 more in Slack",
                              .details_url = "https://ci.example/jobs/12",
                              .files = files,
                              .n_files = 1,
                              .findings = f,
                              .n_findings = n,
                              .completed_at = "2026-12-04T10:00:00.000Z"};
}

static json_t *body_of(const notify_check_job *j, bool create, size_t first, size_t *n)
{
    core_buf b = {0};
    json_t *root;

    ck_assert_int_eq(notify_check_body(j, create, first, &b, n), 0);
    root = json_loads(b.data, 0, NULL);
    ck_assert_msg(root != NULL, "not JSON: %s", b.data);
    core_buf_free(&b);
    return root;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);

    return json_string_value(b ? json_object_get(v, b) : v);
}

START_TEST(conclusion_follows_the_job)
{
    notify_check_job j = job_of(NULL, 0, "inspecting");

    ck_assert_ptr_null(notify_check_conclusion(&j));
    j.state = "awaiting_approval";
    ck_assert_str_eq(notify_check_conclusion(&j), "action_required");
    j.decision = "approved";
    ck_assert_str_eq(notify_check_conclusion(&j), "success");
    j.state = "queued";
    ck_assert_str_eq(notify_check_conclusion(&j), "success");
    j.state = "superseded";
    ck_assert_str_eq(notify_check_conclusion(&j), "success");
    j.decision = "";
    ck_assert_str_eq(notify_check_conclusion(&j), "cancelled");
    j.state = "rejected";
    j.decision = "rejected";
    ck_assert_str_eq(notify_check_conclusion(&j), "failure");
    j.state = "failed"; /* the build failed: the migrations' check still passed */
    j.decision = "";
    ck_assert_str_eq(notify_check_conclusion(&j), "success");
}
END_TEST

START_TEST(in_progress_create_names_the_commit_and_job)
{
    notify_check_job j = job_of(NULL, 0, "inspecting");
    size_t n = 99;
    json_t *b = body_of(&j, true, 0, &n);

    ck_assert_str_eq(str_at(b, "name", NULL), "zoneci / migrations");
    ck_assert_str_eq(str_at(b, "head_sha", NULL), SHA);
    ck_assert_str_eq(str_at(b, "external_id", NULL), "12");
    ck_assert_str_eq(str_at(b, "status", NULL), "in_progress");
    ck_assert_ptr_null(json_object_get(b, "conclusion"));
    ck_assert_ptr_null(json_object_get(json_object_get(b, "output"), "annotations"));
    ck_assert_uint_eq(n, 0);
    json_decref(b);
    /* An update does not repeat what cannot change. */
    j.state = "awaiting_approval";
    b = body_of(&j, false, 0, &n);
    ck_assert_ptr_null(json_object_get(b, "name"));
    ck_assert_ptr_null(json_object_get(b, "head_sha"));
    ck_assert_str_eq(str_at(b, "conclusion", NULL), "action_required");
    json_decref(b);
    j.head_sha = "not-a-sha";
    {
        core_buf out = {0};

        ck_assert_int_eq(notify_check_body(&j, true, 0, &out, &n), CORE_EINVAL);
        core_buf_free(&out);
    }
}
END_TEST

START_TEST(annotations_go_in_batches_of_fifty_with_their_levels)
{
    enum { N = 123 };
    notify_finding f[N];
    static const char *const sev[] = {"danger", "warning", "info"};
    size_t n, seen = 0;

    for (int i = 0; i < N; i++)
        f[i] = (notify_finding){"ban-drop-column",
                                sev[i % 3],
                                "db/002_drops.sql",
                                i + 1,
                                "ALTER TABLE users DROP COLUMN c",
                                "drop it later",
                                NULL,
                                "dropping a column loses its data"};
    f[5].suppression = "reviewed"; /* not annotated */
    f[6].line = 0;                 /* unknown line: the file's first */
    {
        notify_check_job j = job_of(f, N, "awaiting_approval");

        ck_assert_uint_eq(notify_check_annotation_count(&j), N - 1);
        for (size_t first = 0; first < N - 1; first += n) {
            json_t *b = body_of(&j, first == 0, first, &n), *a;
            size_t k;

            ck_assert_uint_eq(n, first + 50 <= N - 1 ? 50 : N - 1 - first);
            json_array_foreach(json_object_get(json_object_get(b, "output"), "annotations"), k, a)
            {
                int line = (int)json_integer_value(json_object_get(a, "start_line"));
                int i = line - 1;
                const char *level = json_string_value(json_object_get(a, "annotation_level"));

                if (line == 1 && seen > 0) /* the one without a line goes on the first */
                    i = 6;
                ck_assert_int_ne(i, 5);
                ck_assert_str_eq(level, i % 3 == 0 ? "failure" : i % 3 == 1 ? "warning" : "notice");
                ck_assert_str_eq(json_string_value(json_object_get(a, "title")), "ban-drop-column");
                ck_assert_ptr_nonnull(
                    strstr(json_string_value(json_object_get(a, "message")), "Safer: drop it"));
                seen++;
            }
            json_decref(b);
        }
        ck_assert_uint_eq(seen, N - 1);
        /* Past the end: the state again, no annotation. */
        json_decref(body_of(&j, false, N - 1, &n));
        ck_assert_uint_eq(n, 0);
    }
}
END_TEST

START_TEST(markdown_from_a_migration_is_escaped)
{
    notify_finding f = {"r|x",
                        "danger",
                        "db/a|b.sql",
                        3,
                        "SELECT '<img src=x onerror=alert(1)>' | `x`\n# heading [l](http://e)",
                        "use *this*",
                        NULL,
                        "m"};
    notify_check_job j = job_of(&f, 1, "awaiting_approval");
    size_t n;
    json_t *b = body_of(&j, false, 0, &n);
    const char *sum = str_at(b, "output", "summary");

    for (const char *p = strchr(sum, '<'); p; p = strchr(p + 1, '<'))
        ck_assert_msg(p > sum && p[-1] == '\\', "an unescaped < in %s", sum);
    ck_assert_ptr_nonnull(strstr(sum, "\\<img src\\=x onerror\\=alert\\(1\\)\\>"));
    ck_assert_ptr_nonnull(strstr(sum, "r\\|x"));
    ck_assert_ptr_nonnull(strstr(sum, "db\\/a\\|b\\.sql\\:3"));
    ck_assert_ptr_null(strstr(sum, "\n# heading")); /* the newline is a space: one row */
    ck_assert_ptr_nonnull(strstr(sum, "\\[l\\]\\(http\\:\\/\\/e\\)"));
    ck_assert_ptr_nonnull(strstr(sum, "\\*this\\*"));
    ck_assert_ptr_nonnull(strstr(sum, "Asked in region **tokyo**"));
    json_decref(b);
}
END_TEST

START_TEST(summary_stays_within_githubs_cap)
{
    enum { N = 3000 };
    notify_finding *f = calloc(N, sizeof(*f));
    char stmt[260], safer[400];
    size_t n, chars = 0;
    json_t *b;
    const char *sum;

    memset(stmt, 'x', sizeof(stmt) - 1);
    stmt[sizeof(stmt) - 1] = '\0';
    memset(safer, '|', sizeof(safer) - 1);
    safer[sizeof(safer) - 1] = '\0';
    for (int i = 0; i < N; i++)
        f[i] = (notify_finding){
            "ban-drop-column", "danger", "db/002_drops.sql", i + 1, stmt, safer, NULL, "m"};
    {
        notify_check_job j = job_of(f, N, "awaiting_approval");

        b = body_of(&j, false, 0, &n);
    }
    sum = str_at(b, "output", "summary");
    for (const unsigned char *p = (const unsigned char *)sum; *p; p++)
        chars += (*p & 0xc0) != 0x80;
    ck_assert_uint_le(chars, 65535);
    ck_assert_ptr_nonnull(strstr(sum, "more"));
    ck_assert_uint_eq(n, 50);
    json_decref(b);
    free(f);
}
END_TEST

Suite *suite_notifier_checks(void)
{
    Suite *s = suite_create("notifier_checks");
    TCase *tc = tcase_create("body");

    tcase_add_test(tc, conclusion_follows_the_job);
    tcase_add_test(tc, in_progress_create_names_the_commit_and_job);
    tcase_add_test(tc, annotations_go_in_batches_of_fifty_with_their_levels);
    tcase_add_test(tc, markdown_from_a_migration_is_escaped);
    tcase_add_test(tc, summary_stays_within_githubs_cap);
    suite_add_tcase(s, tc);
    return s;
}
