/* start, phase, progress, log, pause, resume, heartbeat, finish (events.h): each attaches to
 * (or, for start, creates) a run, records one event and waits for its delivery. */
#include "events.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "options.h"
#include "rt_buf.h"
#include "state.h"

/* The commands that take no arguments and record one event with no values of their own. */
typedef enum mark { MARK_PAUSE, MARK_RESUME, MARK_HEARTBEAT } mark_t;

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
    /* Log lines carry the phase an earlier `runtrack phase` recorded for the run (state.c). */
    char phase[RT_PHASE_MAX + 1];
    if (cli_phase_recall(o, o->run_id, phase, sizeof phase) == 0)
        rt_run_set_phase(run, phase);
    *rtp = rt;
    return run;
}

/* Ends a single-event subcommand: report a recording error, else wait for delivery. */
static int done(runtrack_t *rt, runtrack_run_t *run, runtrack_err_t err, const char *errstr,
                const cli_opts_t *o)
{
    if (err != RUNTRACK_OK) {
        cli_err("%s", errstr && *errstr ? errstr : runtrack_strerror(err));
        runtrack_run_destroy(run);
        runtrack_destroy(rt, 0, NULL);
        return err == RUNTRACK_ERR_NOMEM ? EX_SOFTWARE_ : EX_DATAERR_;
    }
    runtrack_run_destroy(run);
    return cli_finish_client(o, rt);
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
    return done(rt, run, e, err, o);
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
        if (cli_add_counter(o, cs->c, &cs->n, argv[i]) != 0)
            return -1;
    return 0;
}

/* A word of the command line and the enum value it stands for. */
typedef struct name_value {
    const char *name;
    int value;
} name_value_t;

/* The value of name in table (n entries); when it is not there, -1 after printing
 * `<what> "<name>": expected <the table's words>`. */
static int lookup(const name_value_t *table, size_t n, const char *name, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].value;
    rt_buf_t words = {0};
    for (size_t i = 0; i < n; i++) {
        if (i)
            rt_buf_adds(&words, i + 1 < n ? ", " : " or ");
        rt_buf_adds(&words, table[i].name);
    }
    cli_err("%s \"%s\": expected %s", what, name, words.oom ? "another value" : words.data);
    rt_buf_free(&words);
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

/* Records run.started and prints the id (or, with --export, shell export lines for eval) --
 * only once delivered, so a script never carries on with a run nobody recorded. */
static int do_start(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
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
    code = cli_finish_client(o, rt);
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

static int do_phase(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (argc != 1) {
        cli_err("phase: expected exactly one PHASE argument (see 'runtrack phase --help')");
        return EX_USAGE_;
    }
    int code = emit(o, emit_phase, argv[0]);
    if (code == EX_OK_)
        cli_phase_remember(o, o->run_id, argv[0]);
    return code;
}

static runtrack_err_t emit_progress(runtrack_run_t *run, const cli_opts_t *o, const void *arg,
                                    char *err, size_t err_size)
{
    const counters_t *cs = arg;
    return runtrack_run_progress(run, cs->c, cs->n, o->memory_pct, o->cpu_pct, err, err_size);
}

static int do_progress(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
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

static int do_log(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
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
    int level = lookup(levels, sizeof levels / sizeof levels[0], o->level, "log: --level");
    if (level < 0)
        return EX_DATAERR_;
    log_args_t la = {.level = (runtrack_level_t)level};
    /* MESSAGE words are joined with spaces, like echo. */
    rt_buf_t msg = {0};
    for (int i = 0; i < argc; i++) {
        if (i)
            rt_buf_addc(&msg, ' ');
        rt_buf_adds(&msg, argv[i]);
    }
    int code;
    json_error_t je;
    int fields_ok = o->fields_json ? json_object_check(o->fields_json, &je) : 1;
    if (msg.oom) {
        cli_err("out of memory");
        code = EX_SOFTWARE_;
    } else if (fields_ok != 1) {
        cli_err("log: --fields-json must be a JSON object%s%s", fields_ok == 0 ? "" : ": ",
                fields_ok == 0 ? "" : je.text);
        code = EX_DATAERR_;
    } else {
        la.msg = msg.data ? msg.data : "";
        code = emit(o, emit_log, &la);
    }
    rt_buf_free(&msg);
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
    }
    snprintf(err, err_size, "internal: no event for this command");
    return RUNTRACK_ERR_INVALID_ARG;
}

/* pause, resume, heartbeat: no arguments, one event, named by the command. */
static int do_mark(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)argv;
    static const name_value_t marks[] = {
        {"pause", MARK_PAUSE}, {"resume", MARK_RESUME}, {"heartbeat", MARK_HEARTBEAT}};
    if (no_args(argc, cmd->name))
        return EX_USAGE_;
    int m = lookup(marks, sizeof marks / sizeof marks[0], cmd->name, "internal: command");
    if (m < 0)
        return EX_SOFTWARE_;
    mark_t mark = (mark_t)m;
    return emit(o, emit_mark, &mark);
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

static int do_finish(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (!o->status) {
        cli_err("finish: --status completed|failed|partial is required");
        return EX_USAGE_;
    }
    static const name_value_t statuses[] = {{"completed", RUNTRACK_COMPLETED},
                                            {"failed", RUNTRACK_FAILED},
                                            {"partial", RUNTRACK_PARTIAL}};
    int status =
        lookup(statuses, sizeof statuses / sizeof statuses[0], o->status, "finish: --status");
    if (status < 0)
        return EX_DATAERR_;
    finish_args_t fa = {.status = (runtrack_status_t)status};
    if (parse_counter_args(o, argc, argv, &fa.counters) != 0)
        return EX_DATAERR_;
    json_error_t je;
    if (o->error_details_json && json_object_check(o->error_details_json, &je) != 1) {
        cli_err("finish: --error-details-json must be a JSON object");
        return EX_DATAERR_;
    }
    int code = emit(o, emit_finish, &fa);
    if (code == EX_OK_)
        cli_phase_forget(o, o->run_id);
    return code;
}

/* ------------------------------------------------------------------------ entry point */

/* Each event command by its name in the command table: what its positional arguments are and
 * the function that checks them and records the event. */
static const struct event_command {
    const char *name;
    cli_args_t args;
    cli_event_fn fn;
} event_commands[] = {
    {"start", CLI_ARGS_PARAMS, do_start},      {"phase", CLI_ARGS_PLAIN, do_phase},
    {"progress", CLI_ARGS_PLAIN, do_progress}, {"log", CLI_ARGS_PLAIN, do_log},
    {"pause", CLI_ARGS_PLAIN, do_mark},        {"resume", CLI_ARGS_PLAIN, do_mark},
    {"heartbeat", CLI_ARGS_PLAIN, do_mark},    {"finish", CLI_ARGS_PLAIN, do_finish},
};

int cli_cmd_event(const cli_command_t *cmd, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof event_commands / sizeof event_commands[0]; i++)
        if (strcmp(event_commands[i].name, cmd->name) == 0)
            return cli_event_main(cmd, argc, argv, event_commands[i].args, event_commands[i].fn);
    cli_err("internal: %s is not an event command", cmd->name);
    return EX_SOFTWARE_;
}
