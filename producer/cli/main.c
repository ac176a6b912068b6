/* runtrack: emit run events from shell scripts, wrap any program as a tracked run, and read
 * runs back from the runtrack API. Each invocation is a short process; the command table
 * (commands.c) says which file handles a command. An event command records its event, waits
 * (bounded by --timeout) until the broker acknowledged it and exits 0, or exits 69 saying the
 * event was not delivered. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static int is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_err("no command given (see 'runtrack --help')");
        return EX_USAGE_;
    }
    const char *name = argv[1];
    if (is_help(name)) {
        /* `runtrack help COMMAND` is `runtrack COMMAND --help`. */
        const cli_command_t *cmd = argc > 2 ? cli_command_find(argv[2]) : NULL;
        if (cmd)
            cli_command_help(cmd);
        else
            cli_commands_help(stdout);
        return EX_OK_;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("runtrack %s\n", runtrack_version());
        return EX_OK_;
    }
    const cli_command_t *cmd = cli_command_find(name);
    if (!cmd) {
        cli_err("unknown command \"%s\" (see 'runtrack --help')", name);
        return EX_USAGE_;
    }
    return cmd->handler(cmd, argc - 1, argv + 1);
}
