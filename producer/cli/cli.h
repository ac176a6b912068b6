/* The runtrack CLI: the command table's entry, the exit codes, the options of the commands that
 * record events, and the helpers every group of commands shares (common.c). */
#ifndef RT_CLI_H
#define RT_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "rt_attr.h"
#include "rt_event.h"
#include "runtrack.h"

/* sysexits.h values, spelled out so the meaning is next to the use. */
#define EX_OK_          0
#define EX_USAGE_       64 /* bad command line structure */
#define EX_DATAERR_     65 /* a malformed value: counter, JSON, status, level, run id */
#define EX_NOINPUT_     66 /* query: no such run */
#define EX_UNAVAILABLE_ 69 /* broker unreachable: event not delivered in --timeout */
#define EX_SOFTWARE_    70 /* internal error */
#define EX_IOERR_       74 /* query: stdout could not be written */
#define EX_TEMPFAIL_    75 /* temporary failure (fork/pipe resources) */
#define EX_PROTOCOL_    76 /* query: the API's TLS certificate could not be verified */
#define EX_NOPERM_      77 /* query: the API refused the token */
#define EX_CONFIG_      78 /* bad configuration (RUNTRACK_* environment, --set) */

typedef struct cli_command cli_command_t;

/* A command's entry point: argv[0] is the command's name, argv[1..argc-1] its options and
 * arguments. Returns the exit code. */
typedef int (*cli_handler_fn)(const cli_command_t *cmd, int argc, char **argv);

/* One entry of the command table (commands.c). */
struct cli_command {
    const char *name;
    const char *allowed; /* option letters of the command's group that this command takes */
    const char *synopsis;
    const char *help;
    const char *options_help; /* the group's options, printed after help */
    int reads_api;            /* 1: a query command (listed apart in `runtrack --help`) */
    cli_handler_fn handler;
};

#define CLI_MAX_SETS 64

/* The options of the commands that record events (options.c parses them). */
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
    int no_spool;   /* --no-spool: an undelivered event fails the command (69) */
    int run_given;  /* --run was passed: start takes it as the new run's id ($RUNTRACK_RUN_ID,
                     * a run this shell may already be in, is not) */
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
    char counter_names[4 * RUNTRACK_MAX_COUNTERS][RT_COUNTER_NAME_MAX + 1];
    size_t n_counter_names;
} cli_opts_t;

/* Prints "runtrack: <msg>" on stderr (one line). */
void cli_err(const char *fmt, ...) RT_PRINTF(1, 2);

/* Checks what getopt_long returned for command cmd: '?' (unknown option), ':' (no value), or
 * an option letter (of opts) in neither common nor allowed. Returns 0 when c is one the command
 * takes, else prints the one-line usage message and returns -1. argv is what getopt_long parses. */
int cli_check_opt(const char *cmd, int c, const char *common, const char *allowed,
                  const struct option *opts, char **argv) RT_MUSTCHECK;

/* Prints `runtrack COMMAND --help`: synopsis, help and the group's options, on stdout. */
void cli_command_help(const cli_command_t *c);

/* The CLI's state directory, which holds the spool and the runs' remembered phases (state.c):
 * --set spool.dir=DIR, else $RUNTRACK_SPOOL_DIR, else $XDG_STATE_HOME/runtrack, else
 * ~/.local/state/runtrack. Returns 0, or -1 (buf empty) when none can be named (no HOME). */
int cli_state_dir(const cli_opts_t *o, char *buf, size_t size) RT_MUSTCHECK;

/* The library configuration from environment + options, with the spool in the state directory
 * unless --no-spool; on failure prints the reason and returns NULL with *exit_code set. */
runtrack_conf_t *cli_conf(const cli_opts_t *o, int *exit_code) RT_MUSTCHECK;

/* Creates the client from environment + options; on failure prints the reason and returns NULL
 * with *exit_code set. */
runtrack_t *cli_client(const cli_opts_t *o, int *exit_code) RT_MUSTCHECK;

/* Flushes and destroys the client. Returns 0 when everything was delivered, and also when what
 * was not is in the spool (with a warning on stderr); EX_UNAVAILABLE_ (with a message) when
 * events were lost: not delivered within the timeout and not spooled (--no-spool, spool error). */
int cli_finish_client(const cli_opts_t *o, runtrack_t *rt) RT_MUSTCHECK;

/* Creates the client and records run.started from o's start options (job, kind, counts,
 * planned, params). On success *rtp owns the client and the caller the run; on failure prints
 * "<cmd>: <reason>", frees everything and returns NULL with *exit_code set. */
runtrack_run_t *cli_start_run(const cli_opts_t *o, const char *cmd, runtrack_t **rtp,
                              int *exit_code) RT_MUSTCHECK;

#endif
