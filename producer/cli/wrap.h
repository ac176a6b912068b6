/* `runtrack run -- COMMAND`: runs any program as a tracked run (wrap.c). */
#ifndef RT_CLI_WRAP_H
#define RT_CLI_WRAP_H

#include "cli.h"

/* Starts a run, runs COMMAND with its output passed through and recorded as logs, finishes the
 * run from COMMAND's exit; returns COMMAND's exit code (128+N for signal N), or the CLI's own
 * (64, 65, 69, 75, 78) when it could not track it. */
int cli_cmd_run(const cli_command_t *cmd, int argc, char **argv);

#endif
