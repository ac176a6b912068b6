/* The CLI's one command table: every command with its options, help and handler, in the
 * order `runtrack --help` lists them. */
#include "commands.h"

#include <string.h>

#include "events.h"
#include "options.h"
#include "query.h"
#include "state.h"
#include "wrap.h"

/* Each group's options help, and whether its commands read the API (listed apart). */
#define EVENT_OPTS cli_event_options_help, 0
#define QUERY_OPTS cli_query_options_help, 1
/* The options every event command takes: --brokers, --timeout, --set, --help. */
#define CONN "bTshN"

static const cli_command_t commands[] = {
    {"start", "rjkpPcnx" CONN,
     "start --job NAME [--run ID] [--kind K] [--count NAME=N]... [--planned NAME=N]... "
     "[--params-json JSON] [--export] [KEY=VALUE...]",
     "Records run.started for a new run and prints its id (after delivery).\n"
     "  --run ID              the run's id, a UUID chosen by the caller (default: a new UUIDv7;\n"
     "                        $RUNTRACK_RUN_ID is not used). Starting the same id again is\n"
     "                        idempotent; under another job the consumer refuses it.\n"
     "  --count NAME=N        start counts, e.g. --count events=1000 --count urls=500\n"
     "  --planned NAME=N      planned totals, e.g. --planned sites_total=15\n"
     "  KEY=VALUE, --param KEY=VALUE   a run parameter (VALUE used as JSON if it parses, else\n"
     "                        a string), e.g. naics_codes='[\"541511\"]' posted_from=2025-10-01\n"
     "  --params-json JSON    all parameters as one JSON object\n"
     "  --export              print export lines for RUNTRACK_RUN_ID/JOB/KIND (use with eval)\n",
     EVENT_OPTS, cli_cmd_event},
    {"phase", "rjk" CONN, "phase [--run ID] PHASE",
     "Records run.phase, e.g. runtrack phase scraping.\n", EVENT_OPTS, cli_cmd_event},
    {"progress", "rjkmu" CONN, "progress [--run ID] [--memory PCT] [--cpu PCT] NAME=VALUE...",
     "Records run.progress with absolute counters, e.g. sites_completed=5 sites_total=15.\n"
     "  --memory PCT, --cpu PCT   resource use 0..100\n",
     EVENT_OPTS, cli_cmd_event},
    {"log", "rjklF" CONN,
     "log [--run ID] [--level info|success|warning|error] [--fields-json JSON] MESSAGE...",
     "Records run.log (words are joined with spaces).\n", EVENT_OPTS, cli_cmd_event},
    {"pause", "rjkR" CONN, "pause [--run ID] [--reason TEXT]", "Records run.paused.\n", EVENT_OPTS,
     cli_cmd_event},
    {"resume", "rjkR" CONN, "resume [--run ID] [--reason TEXT]", "Records run.resumed.\n",
     EVENT_OPTS, cli_cmd_event},
    {"heartbeat", "rjk" CONN, "heartbeat [--run ID]",
     "Records run.heartbeat (keeps the run from being reported stale).\n", EVENT_OPTS,
     cli_cmd_event},
    {"finish", "rjkSeEc" CONN,
     "finish [--run ID] --status completed|failed|partial [--count NAME=N]... [--error MSG] "
     "[--error-details-json JSON] [NAME=VALUE...]",
     "Records run.finished.\n"
     "  --count NAME=N        end counts, e.g. --count events=1050 --count urls=525\n"
     "  NAME=VALUE            final counters (found=120 new=30 ...)\n"
     "  --error MSG           error message; --error-details-json JSON: details object\n",
     EVENT_OPTS, cli_cmd_event},
    {"run", "jkpPcn" CONN, "run --job NAME [--kind K] [start options] -- COMMAND [ARGS...]",
     "Wraps COMMAND as a run: starts it, forwards its output lines as logs (stdout info, stderr\n"
     "warning; a line starting with ERROR:, WARNING:, SUCCESS: or INFO: gets that level) while\n"
     "still printing them, heartbeats, passes SIGINT/SIGTERM/SIGHUP on, finishes completed\n"
     "(exit 0) or failed, and exits with COMMAND's status (128+N for signal N). COMMAND sees\n"
     "RUNTRACK_RUN_ID, RUNTRACK_JOB and RUNTRACK_KIND, so it can call runtrack progress itself.\n",
     EVENT_OPTS, cli_cmd_run},
    {"spool", CONN, "spool status|flush",
     "The spool: events a runtrack call could not deliver within --timeout, kept on disk\n"
     "(default $XDG_STATE_HOME/runtrack, else ~/.local/state/runtrack; RUNTRACK_SPOOL_DIR or\n"
     "--set spool.dir=DIR change it) until a later call reaches the broker.\n"
     "  status       lists what waits, per run\n"
     "  flush        sends it now (exit 69 when some is still undelivered after --timeout)\n",
     EVENT_OPTS, cli_cmd_spool},
    {"runs", "SjkPnA", "runs [--status S] [--job J] [--kind K] [--phase P] [--limit N | --all]",
     "Lists runs, newest first.\n"
     "  --status S   running, completed, failed, partial or stale\n"
     "  --job J, --kind K, --phase P   exact matches\n"
     "  --limit N    at most N runs (default 50); --all: every matching run\n"
     "STATUS shows 'stale' for a running run without events for the API's stale time and\n"
     "'paused' for a paused one.\n",
     QUERY_OPTS, cli_cmd_runs},
    {"show", "n", "show RUN [--limit N]",
     "Everything about one run: timing, progress and ETA, counters, pause state, error, and\n"
     "its newest log lines.\n"
     "  --limit N    newest log lines to include (default 10, 0..1000)\n",
     QUERY_OPTS, cli_cmd_show},
    {"logs", "lfP", "logs RUN [--level L] [--phase P] [--follow]",
     "Prints a run's log lines in order (with --json: one JSON object per line).\n"
     "  --level L    info, success, warning or error\n"
     "  --follow     keep polling every second for new lines until the run finishes (or\n"
     "               Ctrl-C, which exits 0); a run not stored yet (just started) is waited\n"
     "               for up to --timeout before it is 'no such run' (66)\n",
     QUERY_OPTS, cli_cmd_logs},
    {"last-success", "", "last-success JOB",
     "The newest completed run of JOB and when it completed (for incremental fetching);\n"
     "says so, and exits 0, when there has never been one.\n",
     QUERY_OPTS, cli_cmd_last_success},
    {"health", "wjk", "health [--window H] [--job J] [--kind K]",
     "The health report: per time window (default 12, 24, 48 and 72 h) the run outcomes,\n"
     "success rate, freshness and status (healthy / warning / critical), per job, and alerts.\n"
     "  --window H   one window of H hours\n",
     QUERY_OPTS, cli_cmd_health},
};

#undef CONN
#undef QUERY_OPTS
#undef EVENT_OPTS

const cli_command_t *cli_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void cli_commands_help(FILE *f)
{
    fprintf(f,
            "usage: runtrack COMMAND [OPTIONS] [ARGS]\n\n"
            "Reports scraper runs to Kafka (libruntrack %s). Commands:\n",
            runtrack_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (commands[i].reads_api && (i == 0 || !commands[i - 1].reads_api))
            fprintf(f,
                    "\nReads runs back from the runtrack HTTP API (--api URL, $RUNTRACK_API):\n");
        fprintf(f, "  %s\n", commands[i].synopsis);
    }
    fprintf(
        f,
        "\n%s"
        "\n'runtrack COMMAND --help' describes one command. Exit codes: 0 ok, 64 usage, 65 bad\n"
        "value, 69 broker unreachable (event not delivered within --timeout and, with --no-spool\n"
        "or a spool error, lost), 70 internal error, 74 spool I/O error, 75 temporary failure,\n"
        "78 bad configuration. Query commands: see\n"
        "'runtrack runs --help' (66 no such run, 69 API unreachable).\n",
        cli_event_options_help);
}
