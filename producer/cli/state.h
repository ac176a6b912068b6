/* The CLI's state directory (cli_state_dir): the spool commands (`runtrack spool status|flush`)
 * and each run's current phase, remembered between CLI processes so that `runtrack log` lines
 * carry the phase the last `runtrack phase` set, as the library's do. */
#ifndef RT_CLI_STATE_H
#define RT_CLI_STATE_H

#include <stddef.h>

#include "cli.h"

/* Remembers phase as run_id's current phase (DIR/phase/RUN). Best effort: a failure only means
 * later log lines carry no phase, so it is not reported. */
void cli_phase_remember(const cli_opts_t *o, const char *run_id, const char *phase);

/* The remembered phase of run_id into buf. Returns 0, or -1 when there is none. */
int cli_phase_recall(const cli_opts_t *o, const char *run_id, char *buf, size_t size);

/* Forgets run_id's phase (the run finished). */
void cli_phase_forget(const cli_opts_t *o, const char *run_id);

/* `runtrack spool status|flush`: the command table's entry. */
int cli_cmd_spool(const cli_command_t *cmd, int argc, char **argv);

#endif
