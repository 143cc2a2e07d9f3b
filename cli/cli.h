/* Sub-commands of the zoneci program. Each takes the arguments after its name
 * (argv[0] is the sub-command's name) and returns the process exit status. */
#ifndef ZONECI_CLI_H
#define ZONECI_CLI_H

#include <stdint.h>
#include <stdio.h>

struct policy_config;
struct policy_problems;

int cli_serve(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_windows(int argc, char **argv);
int cli_route(int argc, char **argv);
int cli_runner(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_tzdata(int argc, char **argv);
int cli_github_app_manifest(int argc, char **argv);

/* Points ICU at time-zone data generated from the system's (sched_tz_setup), before any
 * ICU call; a failure is printed to stderr as a warning and ICU keeps its own data. */
void cli_tz_setup(const char *cache_dir);

/* Loads and validates a configuration; on failure prints every problem to stderr
 * (FILE:LINE: PATH: message) and returns the loader's negative code. */
int cli_config_load(const char *path, struct policy_config **out);
void cli_problems_print(const char *path, const struct policy_problems *problems);
/* Prints a warning to out for each region whose zone's ICU offsets differ from the system
 * database's within 400 days of `from`; returns how many. Changes TZ while it runs:
 * single-threaded callers only (check-config, start-up). */
int cli_tz_warnings(const struct policy_config *cfg, int64_t from, FILE *out);

#endif
