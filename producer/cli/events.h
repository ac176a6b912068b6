/* The commands that record one event of a run: start, phase, progress, log, pause, resume,
 * heartbeat, finish. Each returns only once the event is delivered (bounded by --timeout):
 * 0, or 69 when it was not, 64/65/78 for bad input (see `runtrack --help`). */
#ifndef RT_CLI_EVENTS_H
#define RT_CLI_EVENTS_H

#include "cli.h"

int cli_cmd_start(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_phase(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_progress(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_log(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_pause(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_resume(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_heartbeat(const cli_command_t *cmd, int argc, char **argv);
int cli_cmd_finish(const cli_command_t *cmd, int argc, char **argv);

#endif
