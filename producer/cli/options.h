/* The options of the commands that record events (start, phase, progress, log, pause, resume,
 * heartbeat, finish) and of `run`: one set of long options, each command taking the letters its
 * table entry allows, read into a cli_opts_t over the RUNTRACK_* environment. */
#ifndef RT_CLI_OPTIONS_H
#define RT_CLI_OPTIONS_H

#include <stddef.h>

#include "cli.h"

/* The options' help, printed after each command's help and in `runtrack --help`. */
extern const char cli_event_options_help[];

/* What a command's positional arguments are. */
typedef enum cli_args {
    CLI_ARGS_PLAIN,   /* the command's own (PHASE, NAME=VALUE counters, MESSAGE words) */
    CLI_ARGS_PARAMS,  /* KEY=VALUE run parameters, like --param (start) */
    CLI_ARGS_COMMAND, /* a command line to run: options end at the first argument (run) */
} cli_args_t;

/* The body of a command once its options are read: argv[0..argc-1] are the positional
 * arguments. Returns the exit code. */
typedef int (*cli_event_fn)(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv);

/* Reads the environment and the options of cmd (argv[0] is its name), then runs fn. Prints
 * the command's help for -h. Returns the exit code: 64, 65, 70 or 78 for bad options, else
 * fn's. */
int cli_event_main(const cli_command_t *cmd, int argc, char **argv, cli_args_t args,
                   cli_event_fn fn) RT_MUSTCHECK;

/* Adds a NAME=VALUE counter (a name of 1..RT_COUNTER_NAME_MAX bytes, whose characters the
 * library checks, and a whole value 0..INT64_MAX) to arr, which holds *n entries; the name is
 * stored in o. A name given twice keeps the last value. Returns 0, or -1 after printing why. */
int cli_add_counter(cli_opts_t *o, runtrack_counter_t *arr, size_t *n,
                    const char *arg) RT_MUSTCHECK;

#endif
