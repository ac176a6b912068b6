/* `runtrack-consumer keys ...`: create, list and revoke API keys from the command line (the
 * first admin key has no other way in). docs/operations.md, "API keys". */
#ifndef RT_API_KEYS_CLI_H
#define RT_API_KEYS_CLI_H

#include <stdio.h>

#include "config.h"

/* Runs the keys command with the words after "keys" (argv[0] is the subcommand). Connects
 * with cfg->pg_dsn; create needs the server secret (auth_secret / auth_secret_file). Output
 * on out, one-line errors on err_out. Returns the exit status: 0 done, 1 environment
 * (database, secret), 2 bad arguments, 3 no such key (revoke). */
int rt_keys_cli(const rt_config_t *cfg, int argc, char **argv, FILE *out, FILE *err_out);

/* The usage lines of the keys command (part of --help). */
extern const char rt_keys_cli_usage[];

#endif
