/* The commands that record one event of a run: start, phase, progress, log, pause, resume,
 * heartbeat, finish. Each returns only once the event is delivered (bounded by --timeout):
 * 0, or 69 when it was not, 64/65/78 for bad input (see `runtrack --help`). */
#ifndef RT_CLI_EVENTS_H
#define RT_CLI_EVENTS_H

#include "cli.h"

/* The entry point of all eight: the command's name (cmd->name) says which event it records. */
int cli_cmd_event(const cli_command_t *cmd, int argc, char **argv);

#endif
