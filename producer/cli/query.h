/* The runtrack CLI's query commands (runs, show, logs, last-success, health): they read the
 * consumer's HTTP API (docs/api.md) and print tables for people or the JSON answer. Each
 * returns the exit code (sysexits: 0, 64 usage, 65 bad value or bad answer, 66 no such run,
 * 69 API unreachable/unavailable, 70 internal, 74 output not written, 77 not authorised).
 * Main thread only; `logs --follow` installs a SIGINT handler. */
#ifndef RT_CLI_QUERY_H
#define RT_CLI_QUERY_H

#include "cli.h"

/* The query options' help, printed after each query command's help. */
extern const char cli_query_options_help[];

int cli_cmd_runs(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_show(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_logs(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_last_success(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_health(const cli_command_t *cmd, int argc, char **argv);

#endif
