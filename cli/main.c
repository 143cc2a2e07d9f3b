/* zoneci command line: wires the modules together and dispatches sub-commands.
 *
 * One table holds every command with its usage and options, so that dispatch, `zoneci
 * help`, `zoneci help COMMAND` and `zoneci COMMAND --help` cannot drift apart; the man page
 * (docs/zoneci.1) is checked against the same table by tests/cli/test_help.c through
 * `zoneci help --commands`. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis; /* after "zoneci " */
    const char *summary;  /* one line for the command list */
    const char *options;  /* one option a line, indented; NULL when it takes none */
} command;

static const command commands[] = {
    {"serve", cli_serve, "serve --config FILE",
     "run the webhook endpoint, the HTTP API and the scheduler",
     "  --config FILE   the configuration (JSON); SIGHUP reloads it\n"},
    {"check-config", cli_check_config, "check-config FILE",
     "validate a configuration file (reads no secrets)",
     "  FILE            the configuration; --config FILE is accepted too\n"},
    {"windows", cli_windows, "windows --config FILE [--at ISO8601] [--json]",
     "which regions are at work, and a 24-hour timeline",
     "  --config FILE   the configuration whose regions to show\n"
     "  --at ISO8601    the instant to show instead of now\n"
     "  --json          machine-readable output\n"},
    {"route", cli_route, "route --config FILE --event PAYLOAD.json [--at ISO8601] [--json]",
     "explain where and when a pull_request event would run",
     "  --config FILE   the configuration\n"
     "  --event FILE    a GitHub pull_request payload\n"
     "  --at ISO8601    the instant to route at instead of now\n"
     "  --json          machine-readable output\n"},
    {"runner", cli_runner,
     "runner --server URL --token-env VAR --region REGION [--labels a,b] [--name NAME] "
     "[--wait-seconds N] [--once] -- COMMAND [ARGS...]",
     "claim jobs of a region and run COMMAND for each",
     "  --server URL        the zoneci server (http:// or https://)\n"
     "  --token-env VAR     the environment variable holding the runner token\n"
     "  --region REGION     the region whose jobs to claim\n"
     "  --labels a,b        labels this runner offers\n"
     "  --name NAME         this runner's name (default: the host name)\n"
     "  --wait-seconds N    long-poll length of a claim, 0 to 30\n"
     "  --once              handle one claim, then exit (3: no job was waiting)\n"
     "  -- COMMAND ARGS     the build command, run with the job in ZONECI_* variables\n"},
    {"inspect", cli_inspect,
     "inspect --repo DIR --base REV --head REV [--json | --markdown [--max-bytes N]] "
     "[--paths GLOB ...] [--pg-version N] [--rule ID=LEVEL ...] "
     "[--config FILE [--repo-name OWNER/NAME]]",
     "report the risky statements of a change's SQL migrations",
     "  --repo DIR        the git repository\n"
     "  --base REV        the revision the change starts from\n"
     "  --head REV        the revision of the change\n"
     "  --json            machine-readable output\n"
     "  --markdown        the report as posted on a pull request\n"
     "  --max-bytes N     the Markdown report's size limit\n"
     "  --paths GLOB ...  which files are migrations (every argument up to the next option)\n"
     "  --pg-version N    the Postgres major version the migrations run on\n"
     "  --rule ID=LEVEL   set a rule to off, info, warning or danger; repeatable\n"
     "  --config FILE     apply the policy the server would: its migration globs,\n"
     "                    postgres_version and rules (without it or --paths, the\n"
     "                    built-in framework patterns apply)\n"
     "  --repo-name O/N   which policy of the config (default: its only migration policy)\n"},
    {"tzdata", cli_tzdata, "tzdata generate --out DIR [--zoneinfo DIR]",
     "generate ICU time-zone data from the system's tzdata",
     "  --out DIR        where to write zoneinfo64.res and its stamp\n"
     "  --zoneinfo DIR   the tzdata to read (default: TZDIR or /usr/share/zoneinfo)\n"},
    {"github-app-manifest", cli_github_app_manifest, "github-app-manifest --url URL [--name NAME]",
     "print the manifest that registers zoneci's GitHub App (URL, events, permissions)",
     "  --url URL     zoneci's public base URL (https://...); the webhook is URL/webhooks/github\n"
     "  --name NAME   the App's name on GitHub (default zoneci, at most 34 characters)\n"},
    {"version", cli_version, "version [--config FILE]",
     "print the version and the time-zone data in use",
     "  --config FILE   use the configuration's cache_dir to find the time-zone data\n"},
    {"help", NULL, "help [COMMAND]", "print the commands, or one command's usage and options",
     "  COMMAND   the command to describe\n"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    }
    return NULL;
}

static int usage(FILE *out)
{
    fprintf(out, "usage: zoneci COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`zoneci help COMMAND` or `zoneci COMMAND --help` describes one; "
                 "`man zoneci` says more.\n");
    return out == stdout ? 0 : 2;
}

static int describe(const command *c)
{
    printf("usage: zoneci %s\n\n%s\n", c->synopsis, c->summary);
    if (c->options)
        printf("\noptions:\n%s", c->options);
    return 0;
}

static int help(int argc, char **argv)
{
    const command *c;

    if (argc < 3)
        return usage(stdout);
    /* The names alone, one a line: what the tests check the man page against. */
    if (strcmp(argv[2], "--commands") == 0) {
        for (size_t i = 0; i < N_COMMANDS; i++)
            printf("%s\n", commands[i].name);
        return 0;
    }
    c = find(strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0 ? "help" : argv[2]);
    if (!c) {
        fprintf(stderr, "zoneci: help: unknown command \"%s\"\n", argv[2]);
        return usage(stderr);
    }
    return describe(c);
}

/* True when an argument before "--" (after which the runner's COMMAND begins) asks for
 * help: such a request is answered here, before the command parses anything. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    const command *c;

    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0)
        return help(argc, argv);
    c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "zoneci: unknown command \"%s\"\n", argv[1]);
        return usage(stderr);
    }
    if (wants_help(argc, argv) || !c->run)
        return describe(c);
    return c->run(argc - 1, argv + 1);
}
