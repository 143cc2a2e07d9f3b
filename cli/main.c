/* zoneci command line: wires the modules together and dispatches sub-commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"serve", cli_serve, "serve --config FILE       run the webhook endpoint and API"},
    {"check-config", cli_check_config, "check-config FILE         validate a configuration file"},
    {"windows", cli_windows, "windows --config FILE [--at ISO8601] [--json]   regions at work"},
    {"route", cli_route,
     "route --config FILE --event PAYLOAD.json [--at ISO8601] [--json]   explain routing"},
    {"runner", cli_runner,
     "runner --server URL --token-env VAR --region R [--labels a,b] [--name N] [--once] -- COMMAND "
     "ARGS...   run jobs"},
    {"inspect", cli_inspect,
     "inspect --repo DIR --base REV --head REV [--json] [--pg-version N] [--rule ID=LEVEL ...]   "
     "migration report"},
    {"tzdata", cli_tzdata,
     "tzdata generate --out DIR [--zoneinfo DIR]   ICU time-zone data from the system's"},
    {"version", cli_version, "version [--config FILE]   print versions and the time-zone data"},
};

static int usage(FILE *out)
{
    fprintf(out, "usage: zoneci COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].help);
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0)
        return usage(stdout);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "zoneci: unknown command \"%s\"\n", argv[1]);
    return usage(stderr);
}
