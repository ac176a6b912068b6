/* The runtrack CLI: shared option state and helpers between main.c (subcommands) and wrap.c
 * (`runtrack run`). */
#ifndef RT_CLI_H
#define RT_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "runtrack.h"

/* sysexits.h values, spelled out so the meaning is next to the use. */
#define EX_OK_          0
#define EX_USAGE_       64 /* bad command line structure */
#define EX_DATAERR_     65 /* a malformed value: counter, JSON, status, level, run id */
#define EX_UNAVAILABLE_ 69 /* broker unreachable: event not delivered in --timeout */
#define EX_SOFTWARE_    70 /* internal error */
#define EX_TEMPFAIL_    75 /* temporary failure (fork/pipe resources) */
#define EX_CONFIG_      78 /* bad configuration (RUNTRACK_* environment, --set) */

#define CLI_MAX_SETS 64

typedef struct cli_opts {
    const char *run_id;
    const char *job;
    const char *kind;
    const char *brokers;
    const char *topic;
    int timeout_ms;
    const char *sets[CLI_MAX_SETS]; /* "key=value" for runtrack_conf_set */
    int n_sets;
    /* start / run */
    char *params_json; /* owned: built from --param or copied from --params-json */
    runtrack_counter_t counts[RUNTRACK_MAX_COUNTERS];
    size_t n_counts;
    runtrack_counter_t planned[RUNTRACK_MAX_COUNTERS];
    size_t n_planned;
    int export_env; /* start --export */
    /* progress: resource use, RUNTRACK_PERCENT_UNSET when not given */
    double memory_pct;
    double cpu_pct;
    const char *level;       /* log: info (default), success, warning, error */
    const char *fields_json; /* log */
    const char *reason;      /* pause, resume */
    /* finish */
    const char *status;
    const char *error;
    const char *error_details_json;
    /* Storage for the counter names of --count, --planned and NAME=VALUE arguments (the
     * runtrack_counter_t entries point into it). */
    char counter_names[4 * RUNTRACK_MAX_COUNTERS][65];
    size_t n_counter_names;
} cli_opts_t;

/* Prints "runtrack: <msg>" on stderr (one line). */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks what getopt_long returned for subcommand cmd: '?' (unknown option), ':' (no value), or
 * an option letter (of opts) in neither common nor allowed. Returns 0 when c is one the command
 * takes, else prints the one-line usage message and returns -1. argv is what getopt_long parses. */
int cli_check_opt(const char *cmd, int c, const char *common, const char *allowed,
                  const struct option *opts, char **argv);

/* strtod with checks: s is a finite number in [lo, hi] (decimals allowed). Returns 0 with
 * *out set, or -1 (no message). */
int cli_parse_double(const char *s, double lo, double hi, double *out);

/* Creates the client from environment + options; on failure prints the reason and returns NULL
 * with *exit_code set. */
runtrack_t *cli_client(const cli_opts_t *o, int *exit_code);

/* Flushes and destroys the client; returns 0 or EX_UNAVAILABLE_ (with a message) when events
 * could not be delivered within the timeout. */
int cli_finish_client(runtrack_t *rt, int timeout_ms);

/* Creates the client and records run.started from o's start options (job, kind, counts,
 * planned, params). On success *rtp owns the client and the caller the run; on failure prints
 * "<cmd>: <reason>", frees everything and returns NULL with *exit_code set. */
runtrack_run_t *cli_start_run(const cli_opts_t *o, const char *cmd, runtrack_t **rtp,
                              int *exit_code);

/* `runtrack run`: argv is the command after "--". Returns the exit code. */
int cli_wrap(cli_opts_t *o, char **argv);

#endif
