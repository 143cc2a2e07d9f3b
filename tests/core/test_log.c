/* core/log.c: the line each format writes. logfmt is the message as given after ts, level
 * and event, control bytes escaped; json is one object a line whose fields are ts, level,
 * event and each key=value pair of the message (quoted values unquoted), every string
 * escaped, and that stays one valid object when the line is cut. Lines are parsed back
 * with jansson, an independent JSON parser. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define TS "2026-12-04T16:03:00.123Z"

static json_t *json_of(const char *msg, char *line, size_t cap)
{
    json_error_t e;
    json_t *j;

    core_log_format_line(CORE_LOG_JSON, TS, CORE_LOG_WARN, "github_delivery", msg, line, cap);
    j = json_loads(line, 0, &e);
    ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, line);
    ck_assert_msg(!strchr(line, '\n'), "a newline inside the line: %s", line);
    return j;
}

static const char *field(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

START_TEST(logfmt_is_the_message_as_given)
{
    char line[512];

    core_log_format_line(CORE_LOG_LOGFMT, TS, CORE_LOG_INFO, "start", "port=8080 msg=\"a b\" ",
                         line, sizeof(line));
    ck_assert_str_eq(line, "ts=" TS " level=info event=start port=8080 msg=\"a b\"");
    core_log_format_line(CORE_LOG_LOGFMT, TS, CORE_LOG_INFO, "x", "v=a\nlevel=error", line,
                         sizeof(line));
    ck_assert_str_eq(line, "ts=" TS " level=info event=x v=a\\nlevel=error");
}
END_TEST

START_TEST(json_has_the_fixed_fields_and_each_pair)
{
    char line[1024];
    json_t *j = json_of("delivery=d-1 outcome=accepted status=202 job=7 "
                        "reason=\"job created\" url=http://x/?a=b",
                        line, sizeof(line));

    ck_assert_str_eq(field(j, "ts"), TS);
    ck_assert_str_eq(field(j, "level"), "warn");
    ck_assert_str_eq(field(j, "event"), "github_delivery");
    ck_assert_str_eq(field(j, "delivery"), "d-1");
    ck_assert_str_eq(field(j, "outcome"), "accepted");
    ck_assert_str_eq(field(j, "status"), "202");
    ck_assert_str_eq(field(j, "job"), "7");
    ck_assert_str_eq(field(j, "reason"), "job created");
    ck_assert_str_eq(field(j, "url"), "http://x/?a=b");
    ck_assert_uint_eq(json_object_size(j), 9);
    /* The first key is ts, so that lines sort and read like the logfmt ones. */
    ck_assert(strncmp(line, "{\"ts\":\"" TS "\",", strlen(TS) + 9) == 0);
    json_decref(j);
}
END_TEST

START_TEST(json_escapes_quotes_backslashes_and_controls)
{
    char line[1024];
    json_t *j = json_of("msg=\"say \"hi\" to C:\\tmp\" raw=a\"b ctl=\x01\x7f "
                        "nl=\"x\ny\" utf=Z\xc3\xbcrich",
                        line, sizeof(line));

    ck_assert_str_eq(field(j, "msg"), "say \"hi\" to C:\\tmp");
    ck_assert_str_eq(field(j, "raw"), "a\"b");
    ck_assert_str_eq(field(j, "ctl"), "\x01\x7f");
    ck_assert_str_eq(field(j, "nl"), "x\ny");
    ck_assert_str_eq(field(j, "utf"), "Z\xc3\xbcrich");
    json_decref(j);
}
END_TEST

START_TEST(json_keeps_text_that_is_not_a_pair)
{
    char line[512];
    json_t *j = json_of("just words, no pairs", line, sizeof(line));

    ck_assert_str_eq(field(j, "msg_text"), "just words, no pairs");
    json_decref(j);
    j = json_of("", line, sizeof(line));
    ck_assert_uint_eq(json_object_size(j), 3);
    json_decref(j);
}
END_TEST

/* Cut anywhere, a line is still one object: whole fields, then "truncated". */
START_TEST(json_cut_short_stays_one_object)
{
    char msg[600], line[400];

    memset(msg, 0, sizeof(msg));
    strcpy(msg, "a=1 b=\"");
    memset(msg + strlen(msg), '"', 300);
    strcat(msg, "\" c=3");
    for (size_t cap = 110; cap <= sizeof(line); cap += 7) {
        json_t *j = json_of(msg, line, cap);

        ck_assert_msg(strlen(line) < cap, "cap %zu: %zu bytes", cap, strlen(line));
        ck_assert_str_eq(field(j, "event"), "github_delivery");
        ck_assert_str_eq(field(j, "a"), "1");
        ck_assert_str_eq(field(j, "truncated"), "true");
        json_decref(j);
    }
}
END_TEST

START_TEST(format_names)
{
    core_log_format f = CORE_LOG_JSON;

    ck_assert(core_log_format_parse("logfmt", &f));
    ck_assert_int_eq(f, CORE_LOG_LOGFMT);
    ck_assert(core_log_format_parse("json", &f));
    ck_assert_int_eq(f, CORE_LOG_JSON);
    ck_assert(!core_log_format_parse("JSON", &f));
    ck_assert(!core_log_format_parse("", &f));
}
END_TEST

Suite *suite_core_log(void)
{
    Suite *s = suite_create("core_log");
    TCase *tc = tcase_create("log");

    tcase_add_test(tc, logfmt_is_the_message_as_given);
    tcase_add_test(tc, json_has_the_fixed_fields_and_each_pair);
    tcase_add_test(tc, json_escapes_quotes_backslashes_and_controls);
    tcase_add_test(tc, json_keeps_text_that_is_not_a_pair);
    tcase_add_test(tc, json_cut_short_stays_one_object);
    tcase_add_test(tc, format_names);
    suite_add_tcase(s, tc);
    return s;
}
