/* Sub-commands of the zoneci program. Each takes the arguments after its name
 * (argv[0] is the sub-command's name) and returns the process exit status. */
#ifndef ZONECI_CLI_H
#define ZONECI_CLI_H

int cli_serve(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_version(int argc, char **argv);

#endif
