/* runtrack: emit run events from shell scripts and wrap any program as a tracked run.
 * Each invocation is a short process: it records its event, waits (bounded by --timeout) until
 * the broker acknowledged it and exits 0, or exits 69 saying the event was not delivered. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "query.h"

/* The subcommands that take no arguments and record one event with no values of their own. */
typedef enum mark { MARK_NONE, MARK_PAUSE, MARK_RESUME, MARK_HEARTBEAT } mark_t;

struct command;
typedef int (*cmd_fn)(const struct command *c, cli_opts_t *o, int argc, char **argv);

typedef struct command {
    const char *name;
    const char *allowed; /* short option letters this subcommand accepts */
    cmd_fn fn;
    const char *synopsis;
    const char *help;
    mark_t mark; /* the event cmd_mark records */
} command_t;

/* Long options shared by all subcommands; each subcommand lists which it accepts. */
static const struct option long_opts[] = {
    {"run", required_argument, NULL, 'r'},
    {"job", required_argument, NULL, 'j'},
    {"kind", required_argument, NULL, 'k'},
    {"brokers", required_argument, NULL, 'b'},
    {"topic", required_argument, NULL, 't'},
    {"timeout", required_argument, NULL, 'T'},
    {"set", required_argument, NULL, 's'},
    {"param", required_argument, NULL, 'p'},
    {"params-json", required_argument, NULL, 'P'},
    {"count", required_argument, NULL, 'c'},
    {"planned", required_argument, NULL, 'n'},
    {"level", required_argument, NULL, 'l'},
    {"fields-json", required_argument, NULL, 'F'},
    {"memory", required_argument, NULL, 'm'},
    {"cpu", required_argument, NULL, 'u'},
    {"reason", required_argument, NULL, 'R'},
    {"status", required_argument, NULL, 'S'},
    {"error", required_argument, NULL, 'e'},
    {"error-details-json", required_argument, NULL, 'E'},
    {"export", no_argument, NULL, 'x'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define COMMON_HELP                                                                                \
    "Common options:\n"                                                                            \
    "  --run ID          run id (default $RUNTRACK_RUN_ID)\n"                                      \
    "  --job NAME        job name, e.g. fb_v2.py (default $RUNTRACK_JOB)\n"                        \
    "  --kind KIND       scrape, discovery, metrics, pipeline... (default $RUNTRACK_KIND or "      \
    "scrape)\n"                                                                                    \
    "  --brokers LIST    Kafka bootstrap servers (default $RUNTRACK_BROKERS)\n"                    \
    "  --topic NAME      topic (default $RUNTRACK_TOPIC or runtrack.events)\n"                     \
    "  --timeout SEC     how long to wait for delivery (default 10; $RUNTRACK_TIMEOUT)\n"          \
    "  --set KEY=VALUE   any libruntrack setting, e.g. kafka.security.protocol=ssl (repeatable)\n" \
    "  -h, --help        this help\n"

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("runtrack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------------ value parsing */

/* Parses "name=value" with a valid counter name and a whole non-negative 64-bit value; the name
 * is kept in o->counter_names. */
static int parse_counter(cli_opts_t *o, const char *arg, runtrack_counter_t *c)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        cli_err("counter \"%s\": expected NAME=VALUE", arg);
        return -1;
    }
    size_t used = o->n_counter_names;
    size_t n = (size_t)(eq - arg);
    if (n > 64 || used == sizeof o->counter_names / sizeof o->counter_names[0]) {
        cli_err("counter \"%s\": name longer than 64 characters or too many counters", arg);
        return -1;
    }
    memcpy(o->counter_names[used], arg, n);
    o->counter_names[used][n] = '\0';
    const char *v = eq + 1;
    char *end = NULL;
    errno = 0;
    long long val = strtoll(v, &end, 10);
    if (*v == '\0' || errno != 0 || *end != '\0' || val < 0) {
        cli_err("counter \"%s\": value must be a whole number 0..9223372036854775807", arg);
        return -1;
    }
    c->name = o->counter_names[used];
    o->n_counter_names++;
    c->value = val;
    return 0;
}

static int add_counter(cli_opts_t *o, runtrack_counter_t *arr, size_t *n, const char *arg)
{
    if (*n == RUNTRACK_MAX_COUNTERS) {
        cli_err("more than %d counters", RUNTRACK_MAX_COUNTERS);
        return -1;
    }
    if (parse_counter(o, arg, &arr[*n]) != 0)
        return -1;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(arr[i].name, arr[*n].name) == 0) {
            arr[i].value = arr[*n].value; /* last one wins */
            return 0;
        }
    }
    (*n)++;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || errno != 0 || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A percentage 0..100. */
static int parse_pct(const char *arg, double *out)
{
    if (cli_parse_double(arg, 0, 100, out) != 0) {
        cli_err("\"%s\" is not a percentage 0..100", arg);
        return -1;
    }
    return 0;
}

/* Seconds (decimal allowed) to milliseconds, 0..86400. */
static int parse_timeout(const char *arg, int *ms)
{
    double v;
    if (cli_parse_double(arg, 0, 86400, &v) != 0) {
        cli_err("--timeout \"%s\": expected seconds 0..86400", arg);
        return -1;
    }
    *ms = (int)(v * 1000.0);
    return 0;
}

/* Adds --param KEY=VALUE to the params object: VALUE is used as JSON when it parses as a JSON
 * value (number, array, true...), otherwise as a string. */
static int add_param(json_t *params, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        cli_err("--param \"%s\": expected KEY=VALUE", arg);
        return -1;
    }
    char key[256];
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof key) {
        cli_err("--param: key longer than 255 bytes");
        return -1;
    }
    memcpy(key, arg, n);
    key[n] = '\0';
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (!v || json_is_string(v)) {
        json_decref(v);
        v = json_string(eq + 1);
        if (!v) {
            cli_err("--param %s: value is not valid UTF-8", key);
            return -1;
        }
    }
    json_object_set_new(params, key, v);
    return 0;
}

/* ------------------------------------------------------------------------ client helpers */

runtrack_t *cli_client(const cli_opts_t *o, int *exit_code)
{
    char err[512];
    runtrack_conf_t *conf = runtrack_conf_new();
    if (!conf) {
        cli_err("out of memory");
        *exit_code = EX_SOFTWARE_;
        return NULL;
    }
    if (runtrack_conf_from_env(conf, err, sizeof err) != RUNTRACK_OK)
        goto conf_fail;
    if (o->brokers && runtrack_conf_set(conf, "brokers", o->brokers, err, sizeof err))
        goto conf_fail;
    if (o->topic && runtrack_conf_set(conf, "topic", o->topic, err, sizeof err))
        goto conf_fail;
    for (int i = 0; i < o->n_sets; i++) {
        const char *eq = strchr(o->sets[i], '=');
        char key[256];
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof key) {
            snprintf(err, sizeof err, "--set \"%s\": expected KEY=VALUE", o->sets[i]);
            goto conf_fail;
        }
        memcpy(key, o->sets[i], (size_t)(eq - o->sets[i]));
        key[eq - o->sets[i]] = '\0';
        if (runtrack_conf_set(conf, key, eq + 1, err, sizeof err))
            goto conf_fail;
    }
    runtrack_t *rt = runtrack_new(conf, err, sizeof err);
    if (!rt) {
        runtrack_conf_destroy(conf);
        cli_err("cannot create client: %s", err);
        *exit_code = EX_CONFIG_;
        return NULL;
    }
    return rt;
conf_fail:
    runtrack_conf_destroy(conf);
    cli_err("configuration: %s", err);
    *exit_code = EX_CONFIG_;
    return NULL;
}

int cli_finish_client(runtrack_t *rt, int timeout_ms)
{
    uint64_t left = 0;
    runtrack_err_t err = runtrack_destroy(rt, timeout_ms, &left);
    if (err == RUNTRACK_OK)
        return EX_OK_;
    cli_err("broker unreachable: %llu event(s) not delivered within %d.%03d s",
            (unsigned long long)left, timeout_ms / 1000, timeout_ms % 1000);
    return EX_UNAVAILABLE_;
}

/* Attaches to the run named by --run/RUNTRACK_RUN_ID, creating the client. */
static runtrack_run_t *attach(const cli_opts_t *o, runtrack_t **rtp, int *exit_code)
{
    if (!o->run_id || !*o->run_id) {
        cli_err("no run id: pass --run ID or set RUNTRACK_RUN_ID");
        *exit_code = EX_USAGE_;
        return NULL;
    }
    if (!o->job || !*o->job) {
        cli_err("no job name: pass --job NAME or set RUNTRACK_JOB");
        *exit_code = EX_USAGE_;
        return NULL;
    }
    runtrack_t *rt = cli_client(o, exit_code);
    if (!rt)
        return NULL;
    char err[512];
    runtrack_run_t *run = runtrack_run_attach(rt, o->run_id, o->job, o->kind, err, sizeof err);
    if (!run) {
        cli_err("%s", err);
        runtrack_destroy(rt, 0, NULL);
        *exit_code = EX_DATAERR_;
        return NULL;
    }
    *rtp = rt;
    return run;
}

int cli_check_opt(const char *cmd, int c, const char *common, const char *allowed,
                  const struct option *opts, char **argv)
{
    if (c == '?') {
        cli_err("%s: unknown option \"%s\" (see 'runtrack %s --help')", cmd, argv[optind - 1], cmd);
        return -1;
    }
    if (c == ':') {
        cli_err("%s: option \"%s\" needs a value", cmd, argv[optind - 1]);
        return -1;
    }
    if (!strchr(common, c) && !strchr(allowed, c)) {
        const char *oname = "?";
        for (const struct option *lo = opts; lo->name; lo++)
            if (lo->val == c)
                oname = lo->name;
        cli_err("%s: option \"--%s\" does not apply (see 'runtrack %s --help')", cmd, oname, cmd);
        return -1;
    }
    return 0;
}

/* Ends a single-event subcommand: report a recording error, else wait for delivery. */
static int done(runtrack_t *rt, runtrack_run_t *run, runtrack_err_t err, const char *errstr,
                int timeout_ms)
{
    if (err != RUNTRACK_OK) {
        cli_err("%s", errstr && *errstr ? errstr : runtrack_strerror(err));
        runtrack_run_destroy(run);
        runtrack_destroy(rt, 0, NULL);
        return err == RUNTRACK_ERR_NOMEM ? EX_SOFTWARE_ : EX_DATAERR_;
    }
    runtrack_run_destroy(run);
    return cli_finish_client(rt, timeout_ms);
}

/* Records one event into an attached run; arg is the subcommand's own value. */
typedef runtrack_err_t (*emit_fn)(runtrack_run_t *run, const cli_opts_t *o, const void *arg,
                                  char *err, size_t err_size);

/* The common tail of the single-event subcommands (all but start and run): attach to the run,
 * record the event with fn, wait for delivery. Returns the exit code. */
static int emit(const cli_opts_t *o, emit_fn fn, const void *arg)
{
    int code = 0;
    runtrack_t *rt = NULL;
    runtrack_run_t *run = attach(o, &rt, &code);
    if (!run)
        return code;
    char err[512] = "";
    runtrack_err_t e = fn(run, o, arg, err, sizeof err);
    return done(rt, run, e, err, o->timeout_ms);
}

static int no_args(int argc, const char *cmd)
{
    if (argc > 0) {
        cli_err("%s: unexpected argument (see 'runtrack %s --help')", cmd, cmd);
        return -1;
    }
    return 0;
}

/* Counters given as NAME=VALUE arguments (progress, finish). */
typedef struct counters {
    runtrack_counter_t c[RUNTRACK_MAX_COUNTERS];
    size_t n;
} counters_t;

static int parse_counter_args(cli_opts_t *o, int argc, char **argv, counters_t *cs)
{
    cs->n = 0;
    for (int i = 0; i < argc; i++)
        if (add_counter(o, cs->c, &cs->n, argv[i]) != 0)
            return -1;
    return 0;
}

/* A word of the command line and the enum value it stands for. */
typedef struct name_value {
    const char *name;
    int value;
} name_value_t;

/* The value of name in table (n entries), or -1 when it is not there. */
static int lookup(const name_value_t *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].value;
    return -1;
}

/* 1 when text is a JSON object, 0 when it is other JSON, -1 when it is not JSON (*je says why). */
static int json_object_check(const char *text, json_error_t *je)
{
    json_t *v = json_loads(text, 0, je);
    int r = !v ? -1 : json_is_object(v) ? 1 : 0;
    json_decref(v);
    return r;
}

/* ------------------------------------------------------------------------ subcommands */

runtrack_run_t *cli_start_run(const cli_opts_t *o, const char *cmd, runtrack_t **rtp,
                              int *exit_code)
{
    runtrack_t *rt = cli_client(o, exit_code);
    if (!rt)
        return NULL;
    runtrack_start_opts_t so = {.kind = o->kind,
                                .start_counts = o->counts,
                                .n_start_counts = o->n_counts,
                                .params_json = o->params_json,
                                .planned = o->planned,
                                .n_planned = o->n_planned};
    char err[512] = "";
    runtrack_run_t *run = runtrack_run_start(rt, o->job, &so, err, sizeof err);
    if (!run) {
        cli_err("%s: %s", cmd, err);
        runtrack_destroy(rt, 0, NULL);
        *exit_code = EX_DATAERR_;
        return NULL;
    }
    *rtp = rt;
    return run;
}

/* Records run.started and prints the id (or, with --export, shell export lines for eval) --
 * only once delivered, so a script never carries on with a run nobody recorded. */
static int cmd_start(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)argv;
    if (no_args(argc, cmd->name))
        return EX_USAGE_;
    if (!o->job || !*o->job) {
        cli_err("start: --job NAME is required (or RUNTRACK_JOB)");
        return EX_USAGE_;
    }
    if (o->export_env && (strchr(o->job, '\'') || (o->kind && strchr(o->kind, '\'')))) {
        cli_err("start --export: job names with a single quote cannot be exported");
        return EX_DATAERR_;
    }
    int code = 0;
    runtrack_t *rt = NULL;
    runtrack_run_t *run = cli_start_run(o, cmd->name, &rt, &code);
    if (!run)
        return code;
    char id[40];
    snprintf(id, sizeof id, "%s", runtrack_run_id(run));
    runtrack_run_destroy(run);
    code = cli_finish_client(rt, o->timeout_ms);
    if (code != 0)
        return code;
    if (!o->export_env)
        return printf("%s\n", id) < 0 ? EX_SOFTWARE_ : EX_OK_;
    printf("export RUNTRACK_RUN_ID='%s'\nexport RUNTRACK_JOB='%s'\nexport RUNTRACK_KIND='%s'\n", id,
           o->job, o->kind ? o->kind : "scrape");
    return EX_OK_;
}

static runtrack_err_t emit_phase(runtrack_run_t *run, const cli_opts_t *o, const void *arg,
                                 char *err, size_t err_size)
{
    (void)o;
    return runtrack_run_phase(run, arg, err, err_size);
}

static int cmd_phase(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (argc != 1) {
        cli_err("phase: expected exactly one PHASE argument (see 'runtrack phase --help')");
        return EX_USAGE_;
    }
    return emit(o, emit_phase, argv[0]);
}

static runtrack_err_t emit_progress(runtrack_run_t *run, const cli_opts_t *o, const void *arg,
                                    char *err, size_t err_size)
{
    const counters_t *cs = arg;
    return runtrack_run_progress(run, cs->c, cs->n, o->memory_pct, o->cpu_pct, err, err_size);
}

static int cmd_progress(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    counters_t cs;
    if (parse_counter_args(o, argc, argv, &cs) != 0)
        return EX_DATAERR_;
    if (cs.n == 0 && o->memory_pct < 0 && o->cpu_pct < 0) {
        cli_err("progress: give at least one NAME=VALUE counter, --memory or --cpu");
        return EX_USAGE_;
    }
    return emit(o, emit_progress, &cs);
}

typedef struct log_args {
    runtrack_level_t level;
    const char *msg;
} log_args_t;

static runtrack_err_t emit_log(runtrack_run_t *run, const cli_opts_t *o, const void *arg, char *err,
                               size_t err_size)
{
    (void)err;
    (void)err_size;
    const log_args_t *la = arg;
    return runtrack_run_log(run, la->level, la->msg, o->fields_json);
}

static int cmd_log(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (argc < 1) {
        cli_err("log: expected a MESSAGE (see 'runtrack log --help')");
        return EX_USAGE_;
    }
    static const name_value_t levels[] = {{"info", RUNTRACK_INFO},
                                          {"success", RUNTRACK_SUCCESS},
                                          {"warning", RUNTRACK_WARNING},
                                          {"error", RUNTRACK_ERROR}};
    int level = lookup(levels, sizeof levels / sizeof levels[0], o->level);
    if (level < 0) {
        cli_err("log: --level \"%s\": expected info, success, warning or error", o->level);
        return EX_DATAERR_;
    }
    log_args_t la = {.level = (runtrack_level_t)level};
    /* MESSAGE words are joined with spaces, like echo. */
    size_t len = 0;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *msg = malloc(len + 1);
    if (!msg) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    msg[0] = '\0';
    size_t off = 0;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (i)
            msg[off++] = ' ';
        memcpy(msg + off, argv[i], l);
        off += l;
    }
    msg[off] = '\0';
    int code;
    json_error_t je;
    int fields_ok = o->fields_json ? json_object_check(o->fields_json, &je) : 1;
    if (fields_ok != 1) {
        cli_err("log: --fields-json must be a JSON object%s%s", fields_ok == 0 ? "" : ": ",
                fields_ok == 0 ? "" : je.text);
        code = EX_DATAERR_;
        goto out;
    }
    la.msg = msg;
    code = emit(o, emit_log, &la);
out:
    free(msg);
    return code;
}

static runtrack_err_t emit_mark(runtrack_run_t *run, const cli_opts_t *o, const void *arg,
                                char *err, size_t err_size)
{
    switch (*(const mark_t *)arg) {
    case MARK_PAUSE:
        return runtrack_run_pause(run, o->reason, err, err_size);
    case MARK_RESUME:
        return runtrack_run_resume(run, o->reason, err, err_size);
    case MARK_HEARTBEAT:
        return runtrack_run_heartbeat(run, err, err_size);
    case MARK_NONE:
        break;
    }
    snprintf(err, err_size, "internal: no event for this command");
    return RUNTRACK_ERR_INVALID_ARG;
}

/* pause, resume, heartbeat: no arguments, one event (see the command table). */
static int cmd_mark(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)argv;
    if (no_args(argc, cmd->name))
        return EX_USAGE_;
    return emit(o, emit_mark, &cmd->mark);
}

typedef struct finish_args {
    runtrack_status_t status;
    counters_t counters;
} finish_args_t;

static runtrack_err_t emit_finish(runtrack_run_t *run, const cli_opts_t *o, const void *arg,
                                  char *err, size_t err_size)
{
    const finish_args_t *fa = arg;
    runtrack_finish_opts_t fo = {.end_counts = o->counts,
                                 .n_end_counts = o->n_counts,
                                 .counters = fa->counters.c,
                                 .n_counters = fa->counters.n,
                                 .error_message = o->error,
                                 .error_details_json = o->error_details_json};
    return runtrack_run_finish(run, fa->status, &fo, err, err_size);
}

static int cmd_finish(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (!o->status) {
        cli_err("finish: --status completed|failed|partial is required");
        return EX_USAGE_;
    }
    static const name_value_t statuses[] = {{"completed", RUNTRACK_COMPLETED},
                                            {"failed", RUNTRACK_FAILED},
                                            {"partial", RUNTRACK_PARTIAL}};
    int status = lookup(statuses, sizeof statuses / sizeof statuses[0], o->status);
    if (status < 0) {
        cli_err("finish: --status \"%s\": expected completed, failed or partial", o->status);
        return EX_DATAERR_;
    }
    finish_args_t fa = {.status = (runtrack_status_t)status};
    if (parse_counter_args(o, argc, argv, &fa.counters) != 0)
        return EX_DATAERR_;
    json_error_t je;
    if (o->error_details_json && json_object_check(o->error_details_json, &je) != 1) {
        cli_err("finish: --error-details-json must be a JSON object");
        return EX_DATAERR_;
    }
    return emit(o, emit_finish, &fa);
}

static int cmd_run(const command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (argc < 1) {
        cli_err("run: expected -- COMMAND [ARGS...] (see 'runtrack run --help')");
        return EX_USAGE_;
    }
    if (!o->job || !*o->job) {
        cli_err("run: --job NAME is required (or RUNTRACK_JOB)");
        return EX_USAGE_;
    }
    return cli_wrap(o, argv);
}

#define CONN "bTsh"
static const command_t commands[] = {
    {"start", "jkpPcnx" CONN, cmd_start,
     "start --job NAME [--kind K] [--count NAME=N]... [--planned NAME=N]... [--params-json JSON] "
     "[--export] [KEY=VALUE...]",
     "Records run.started for a new run and prints its id (after delivery).\n"
     "  --count NAME=N        start counts, e.g. --count events=1000 --count urls=500\n"
     "  --planned NAME=N      planned totals, e.g. --planned sites_total=15\n"
     "  KEY=VALUE, --param KEY=VALUE   a run parameter (VALUE used as JSON if it parses, else\n"
     "                        a string), e.g. naics_codes='[\"541511\"]' posted_from=2025-10-01\n"
     "  --params-json JSON    all parameters as one JSON object\n"
     "  --export              print export lines for RUNTRACK_RUN_ID/JOB/KIND (use with eval)\n",
     MARK_NONE},
    {"phase", "rjk" CONN, cmd_phase, "phase [--run ID] PHASE",
     "Records run.phase, e.g. runtrack phase scraping.\n", MARK_NONE},
    {"progress", "rjkmu" CONN, cmd_progress,
     "progress [--run ID] [--memory PCT] [--cpu PCT] NAME=VALUE...",
     "Records run.progress with absolute counters, e.g. sites_completed=5 sites_total=15.\n"
     "  --memory PCT, --cpu PCT   resource use 0..100\n",
     MARK_NONE},
    {"log", "rjklF" CONN, cmd_log,
     "log [--run ID] [--level info|success|warning|error] [--fields-json JSON] MESSAGE...",
     "Records run.log (words are joined with spaces).\n", MARK_NONE},
    {"pause", "rjkR" CONN, cmd_mark, "pause [--run ID] [--reason TEXT]", "Records run.paused.\n",
     MARK_PAUSE},
    {"resume", "rjkR" CONN, cmd_mark, "resume [--run ID] [--reason TEXT]", "Records run.resumed.\n",
     MARK_RESUME},
    {"heartbeat", "rjk" CONN, cmd_mark, "heartbeat [--run ID]",
     "Records run.heartbeat (keeps the run from being reported stale).\n", MARK_HEARTBEAT},
    {"finish", "rjkSeEc" CONN, cmd_finish,
     "finish [--run ID] --status completed|failed|partial [--count NAME=N]... [--error MSG] "
     "[--error-details-json JSON] [NAME=VALUE...]",
     "Records run.finished.\n"
     "  --count NAME=N        end counts, e.g. --count events=1050 --count urls=525\n"
     "  NAME=VALUE            final counters (found=120 new=30 ...)\n"
     "  --error MSG           error message; --error-details-json JSON: details object\n",
     MARK_NONE},
    {"run", "jkpPcn" CONN, cmd_run,
     "run --job NAME [--kind K] [start options] -- COMMAND [ARGS...]",
     "Wraps COMMAND as a run: starts it, forwards its output lines as logs (stdout info, stderr\n"
     "warning; a line starting with ERROR:, WARNING:, SUCCESS: or INFO: gets that level) while\n"
     "still printing them, heartbeats, passes SIGINT/SIGTERM/SIGHUP on, finishes completed\n"
     "(exit 0) or failed, and exits with COMMAND's status (128+N for signal N). COMMAND sees\n"
     "RUNTRACK_RUN_ID, RUNTRACK_JOB and RUNTRACK_KIND, so it can call runtrack progress itself.\n",
     MARK_NONE},
};
#undef CONN

static void global_help(FILE *f)
{
    fprintf(f,
            "usage: runtrack COMMAND [OPTIONS] [ARGS]\n\n"
            "Reports scraper runs to Kafka (libruntrack %s). Commands:\n",
            runtrack_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].synopsis);
    fprintf(f, "\nReads runs back from the runtrack HTTP API (--api URL, $RUNTRACK_API):\n");
    cli_query_synopses(f);
    fprintf(
        f, "\n" COMMON_HELP
           "\n'runtrack COMMAND --help' describes one command. Exit codes: 0 ok, 64 usage, 65 bad\n"
           "value, 69 broker unreachable (event not delivered within --timeout), 70 internal\n"
           "error, 75 temporary failure, 78 bad configuration. Query commands: see\n"
           "'runtrack runs --help' (66 no such run, 69 API unreachable).\n");
}

static void command_help(const command_t *c)
{
    printf("usage: runtrack %s\n\n%s\n" COMMON_HELP, c->synopsis, c->help);
}

int main(int argc, char **argv)
{
    int rc = EX_OK_;
    json_t *params = NULL;
    cli_opts_t o;
    memset(&o, 0, sizeof o);
    o.level = "info";
    o.memory_pct = RUNTRACK_PERCENT_UNSET;
    o.cpu_pct = RUNTRACK_PERCENT_UNSET;
    if (argc < 2) {
        cli_err("no command given (see 'runtrack --help')");
        return EX_USAGE_;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    command_help(&commands[i]);
                    return EX_OK_;
                }
            if (cli_query_help(argv[2]) == 0)
                return EX_OK_;
        }
        global_help(stdout);
        return EX_OK_;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("runtrack %s\n", runtrack_version());
        return EX_OK_;
    }
    if (cli_query_is_command(name))
        return cli_query_main(argc - 1, argv + 1); /* runs, show, logs...: read the HTTP API */
    const command_t *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        cli_err("unknown command \"%s\" (see 'runtrack --help')", name);
        return EX_USAGE_;
    }

    o.run_id = getenv("RUNTRACK_RUN_ID");
    o.job = getenv("RUNTRACK_JOB");
    o.kind = getenv("RUNTRACK_KIND");
    if (o.kind && !*o.kind)
        o.kind = NULL;
    o.timeout_ms = 10000;
    const char *tenv = getenv("RUNTRACK_TIMEOUT");
    if (tenv && *tenv && parse_timeout(tenv, &o.timeout_ms) != 0)
        return EX_CONFIG_;

    /* Parse options after the command name; `run` stops at the first non-option ("+") so the
     * wrapped command's own options are left alone. */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 0; /* full re-initialisation (GNU) */
    opterr = 0;
    const char *shortopts = strcmp(cmd->name, "run") == 0 ? "+:h" : ":h";
    int c;
    while ((c = getopt_long(sub_argc, sub_argv, shortopts, long_opts, NULL)) != -1) {
        if (cli_check_opt(cmd->name, c, "", cmd->allowed, long_opts, sub_argv) != 0) {
            rc = EX_USAGE_;
            goto out;
        }
        switch (c) {
        case 'h':
            command_help(cmd);
            goto out;
        case 'r':
            o.run_id = optarg;
            break;
        case 'j':
            o.job = optarg;
            break;
        case 'k':
            o.kind = optarg;
            break;
        case 'b':
            o.brokers = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'T':
            if (parse_timeout(optarg, &o.timeout_ms) != 0) {
                rc = EX_USAGE_;
                goto out;
            }
            break;
        case 's':
            if (o.n_sets == CLI_MAX_SETS) {
                cli_err("too many --set options");
                rc = EX_USAGE_;
                goto out;
            }
            o.sets[o.n_sets++] = optarg;
            break;
        case 'p':
            if (!params && !(params = json_object())) {
                rc = EX_SOFTWARE_;
                goto out;
            }
            if (add_param(params, optarg) != 0) {
                rc = EX_DATAERR_;
                goto out;
            }
            break;
        case 'P': {
            json_error_t je;
            json_t *pj = json_loads(optarg, 0, &je);
            if (!pj || !json_is_object(pj)) {
                cli_err("--params-json: %s", pj ? "must be a JSON object" : je.text);
                json_decref(pj);
                rc = EX_DATAERR_;
                goto out;
            }
            if (!params) {
                params = pj;
            } else {
                json_object_update(params, pj);
                json_decref(pj);
            }
            break;
        }
        case 'c':
            if (add_counter(&o, o.counts, &o.n_counts, optarg) != 0) {
                rc = EX_DATAERR_;
                goto out;
            }
            break;
        case 'n':
            if (add_counter(&o, o.planned, &o.n_planned, optarg) != 0) {
                rc = EX_DATAERR_;
                goto out;
            }
            break;
        case 'l':
            o.level = optarg;
            break;
        case 'F':
            o.fields_json = optarg;
            break;
        case 'm':
            if (parse_pct(optarg, &o.memory_pct) != 0) {
                rc = EX_DATAERR_;
                goto out;
            }
            break;
        case 'u':
            if (parse_pct(optarg, &o.cpu_pct) != 0) {
                rc = EX_DATAERR_;
                goto out;
            }
            break;
        case 'R':
            o.reason = optarg;
            break;
        case 'S':
            o.status = optarg;
            break;
        case 'e':
            o.error = optarg;
            break;
        case 'E':
            o.error_details_json = optarg;
            break;
        case 'x':
            o.export_env = 1;
            break;
        default:
            cli_err("internal: unhandled option");
            rc = EX_SOFTWARE_;
            goto out;
        }
    }
    if (strcmp(cmd->name, "start") == 0) {
        /* `runtrack start --job j KEY=VALUE...`: positional arguments are parameters. */
        for (; optind < sub_argc; optind++) {
            if (!params && !(params = json_object())) {
                rc = EX_SOFTWARE_;
                goto out;
            }
            if (add_param(params, sub_argv[optind]) != 0) {
                rc = EX_DATAERR_;
                goto out;
            }
        }
    }
    if (params) {
        o.params_json = json_dumps(params, JSON_COMPACT);
        if (!o.params_json) {
            cli_err("out of memory");
            rc = EX_SOFTWARE_;
            goto out;
        }
    }
    rc = cmd->fn(cmd, &o, sub_argc - optind, sub_argv + optind);
out:
    free(o.params_json);
    json_decref(params);
    return rc;
}
