/* The runtrack CLI's query commands (runs, show, logs, last-success, health): they read the
 * consumer's HTTP API (docs/api.md) and print tables for people or the JSON answer. */
#ifndef RT_CLI_QUERY_H
#define RT_CLI_QUERY_H

#include <stdio.h>

/* 1 when name is a query command. */
int cli_query_is_command(const char *name);

/* Runs query command argv[0] with its options argv[1..argc-1]; returns the exit code (sysexits:
 * 0, 64 usage, 65 bad value or bad answer, 66 no such run, 69 API unreachable/unavailable,
 * 70 internal, 77 not authorised). Main thread only; installs a SIGINT handler for
 * `logs --follow`. */
int cli_query_main(int argc, char **argv);

/* Prints one synopsis line per query command (for `runtrack --help`). */
void cli_query_synopses(FILE *f);

/* Prints the help of one query command; returns 0, or -1 when name is not one. */
int cli_query_help(const char *name);

#endif
