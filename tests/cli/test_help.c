/* `zoneci help`, `zoneci help COMMAND`, `zoneci COMMAND --help` and the man page
 * docs/zoneci.1, all against the one command table of cli/main.c (read through the real
 * binary's `zoneci help --commands`): a command added to dispatch but left out of the help
 * or the man page, or an option in a command's help that the man page does not describe,
 * fails here, and so does an option that a command's parser takes but its help omits. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/support.h"

#define MAX_COMMANDS 64

static const char *man_path(void)
{
    const char *p = getenv("ZONECI_MAN");

    return p && *p ? p : "docs/zoneci.1";
}

static char *run_ok(char **argv)
{
    char *out = NULL, *err = NULL;
    int rc = ts_zoneci_run(argv, NULL, &out, &err);

    ck_assert_msg(rc == 0, "zoneci %s %s exited %d: %s", argv[0], argv[1] ? argv[1] : "", rc, err);
    free(err);
    return out;
}

/* The dispatch table's names, one a line, split in place. */
static size_t commands(char **names, char **text)
{
    char *argv[] = {"help", "--commands", NULL};
    size_t n = 0;

    *text = run_ok(argv);
    for (char *save = NULL, *line = strtok_r(*text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        ck_assert_uint_lt(n, MAX_COMMANDS);
        names[n++] = line;
    }
    return n;
}

/* name with each '-' written as roff's "\-". */
static void roff_escape(const char *name, char *out, size_t size)
{
    size_t o = 0;

    for (; *name && o + 3 < size; name++) {
        if (*name == '-')
            out[o++] = '\\';
        out[o++] = *name;
    }
    out[o] = '\0';
}

/* The man page's text from `.SS "zoneci NAME"` up to the next heading. */
static char *man_section(const char *man, const char *name)
{
    char head[128];
    const char *start, *end;

    snprintf(head, sizeof(head), "\n.SS \"zoneci %s\"", name);
    start = strstr(man, head);
    if (!start)
        return NULL;
    start += strlen(head);
    end = strstr(start, "\n.S");
    return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

START_TEST(table_has_every_known_command)
{
    char *names[MAX_COMMANDS], *text;
    size_t n = commands(names, &text);
    const char *expected[] = {"serve",   "check-config", "windows", "route", "runner",
                              "inspect", "tzdata",       "version", "help",  "github-app-manifest"};

    /* The check below is only as good as the list it walks: make sure it is the real one. */
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        bool found = false;

        for (size_t j = 0; j < n; j++)
            found |= strcmp(names[j], expected[i]) == 0;
        ck_assert_msg(found, "`zoneci help --commands` lacks %s", expected[i]);
    }
    free(text);
}
END_TEST

START_TEST(every_command_is_in_help_and_the_man_page)
{
    char *names[MAX_COMMANDS], *text;
    size_t n = commands(names, &text);
    char *argv_list[] = {"help", NULL};
    char *list = run_ok(argv_list);
    char *man = ts_read_file(man_path(), NULL);

    ck_assert_msg(man != NULL, "cannot read %s", man_path());
    for (size_t i = 0; i < n; i++) {
        char listed[128], usage[128];
        char *argv_help[] = {"help", names[i], NULL};
        char *argv_flag[] = {names[i], "--help", NULL};
        char *via_help, *via_flag, *section, *opt;

        snprintf(listed, sizeof(listed), "\n  %s ", names[i]);
        ck_assert_msg(strstr(list, listed), "`zoneci help` does not list %s", names[i]);
        via_help = run_ok(argv_help);
        snprintf(usage, sizeof(usage), "usage: zoneci %s", names[i]);
        ck_assert_msg(strncmp(via_help, usage, strlen(usage)) == 0, "`zoneci help %s` printed: %s",
                      names[i], via_help);
        ck_assert_msg(strstr(via_help, "\noptions:\n"), "`zoneci help %s` has no options",
                      names[i]);
        via_flag = run_ok(argv_flag);
        ck_assert_str_eq(via_flag, via_help);
        free(via_flag);
        section = man_section(man, names[i]);
        ck_assert_msg(section, "%s has no .SS \"zoneci %s\" section", man_path(), names[i]);
        /* Every option the help names is described in the man page's section. */
        for (opt = strstr(via_help, "\n  --"); opt; opt = strstr(opt + 1, "\n  --")) {
            char name[64], roff[160];
            size_t len = strcspn(opt + 3, " \n");

            if (len < 3 || len >= sizeof(name))
                continue; /* "--" alone: the runner's COMMAND separator */
            memcpy(name, opt + 3, len);
            name[len] = '\0';
            /* roff writes each hyphen as \- */
            roff_escape(name, roff, sizeof(roff));
            ck_assert_msg(strstr(section, roff), "%s: zoneci %s: option %s is not described",
                          man_path(), names[i], name);
        }
        free(section);
        free(via_help);
    }
    free(man);
    free(list);
    free(text);
}
END_TEST

/* Every option a command's source compares an argument with ("--name" as a whole string
 * literal in cli/<command>.c) is in that command's help: an option added to a parser but
 * not to the table fails here, and the test above carries it on to the man page. */
START_TEST(every_parsed_option_is_in_help)
{
    char *names[MAX_COMMANDS], *text;
    size_t n = commands(names, &text);
    size_t checked = 0;

    for (size_t i = 0; i < n; i++) {
        char path[128], *src, *help;
        char *argv_help[] = {"help", names[i], NULL};

        snprintf(path, sizeof(path), "cli/%s.c", names[i]);
        for (char *c = path; *c; c++)
            *c = *c == '-' ? '_' : *c;
        src = ts_read_file(path, NULL);
        if (!src)
            continue; /* help, version: parsed in main.c and serve.c */
        help = run_ok(argv_help);
        for (const char *q = strstr(src, "\"--"); q; q = strstr(q + 1, "\"--")) {
            char opt[64];
            size_t len = strspn(q + 1, "-abcdefghijklmnopqrstuvwxyz0123456789");

            if (q[1 + len] != '"' || len <= 2 || len >= sizeof(opt))
                continue; /* "--" alone, or a usage text */
            memcpy(opt, q + 1, len);
            opt[len] = '\0';
            if (strcmp(opt, "--help") == 0)
                continue;
            ck_assert_msg(strstr(help, opt), "%s parses %s but `zoneci help %s` omits it", path,
                          opt, names[i]);
            checked++;
        }
        free(help);
        free(src);
    }
    ck_assert_uint_ge(checked, 20); /* the sources were found and read */
    free(text);
}
END_TEST

START_TEST(unknown_command_and_help_topic_exit_2)
{
    char *argv1[] = {"no-such-command", NULL};
    char *argv2[] = {"help", "no-such-command", NULL};
    char *out = NULL, *err = NULL;

    ck_assert_int_eq(ts_zoneci_run(argv1, NULL, &out, &err), 2);
    ck_assert(strstr(err, "unknown command \"no-such-command\""));
    ck_assert(strstr(err, "usage: zoneci COMMAND"));
    free(out);
    free(err);
    ck_assert_int_eq(ts_zoneci_run(argv2, NULL, &out, &err), 2);
    ck_assert(strstr(err, "unknown command \"no-such-command\""));
    free(out);
    free(err);
}
END_TEST

/* --help is answered before the command parses anything: no config is needed, and the
 * runner's COMMAND after "--" keeps its own --help. */
START_TEST(help_flag_wins_before_the_separator_only)
{
    char *argv1[] = {"serve", "--config", "/nonexistent.json", "--help", NULL};
    char *argv2[] = {"runner",      "--server", "http://127.0.0.1:1",
                     "--token-env", "NOPE",     "--region",
                     "x",           "--",       "true",
                     "--help",      NULL};
    char *out = NULL, *err = NULL;

    ck_assert_int_eq(ts_zoneci_run(argv1, NULL, &out, &err), 0);
    ck_assert(strstr(out, "usage: zoneci serve --config FILE"));
    free(out);
    free(err);
    /* NOPE is unset: the runner itself answers, with its argument error. */
    ck_assert_int_eq(ts_zoneci_run(argv2, NULL, &out, &err), 2);
    ck_assert(strstr(err, "NOPE"));
    free(out);
    free(err);
}
END_TEST

Suite *suite_cli_help(void)
{
    Suite *s = suite_create("cli_help");
    TCase *tc = tcase_create("help");

    tcase_add_test(tc, table_has_every_known_command);
    tcase_add_test(tc, every_command_is_in_help_and_the_man_page);
    tcase_add_test(tc, every_parsed_option_is_in_help);
    tcase_add_test(tc, unknown_command_and_help_topic_exit_2);
    tcase_add_test(tc, help_flag_wins_before_the_separator_only);
    suite_add_tcase(s, tc);
    return s;
}
