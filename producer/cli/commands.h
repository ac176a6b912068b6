/* The CLI's one command table (commands.c): every command, its help and its handler. */
#ifndef RT_CLI_COMMANDS_H
#define RT_CLI_COMMANDS_H

#include <stdio.h>

#include "cli.h"

/* The command called name, or NULL. */
const cli_command_t *cli_command_find(const char *name);

/* `runtrack --help`: usage, every command's synopsis, the common options, the exit codes. */
void cli_commands_help(FILE *f);

#endif
