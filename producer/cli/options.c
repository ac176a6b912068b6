/* The options of the event commands and `run` (options.h): parsed with getopt_long over one
 * long-option table, values checked here so a bad one fails before any client exists. */
#include "options.h"

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_num.h"

/* Long options shared by all event commands; each command lists which it accepts. */
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
    {"no-spool", no_argument, NULL, 'N'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

const char cli_event_options_help[] =
    "Common options:\n"
    "  --run ID          run id (default $RUNTRACK_RUN_ID)\n"
    "  --job NAME        job name, e.g. fb_v2.py (default $RUNTRACK_JOB)\n"
    "  --kind KIND       scrape, discovery, metrics, pipeline... (default $RUNTRACK_KIND or "
    "scrape)\n"
    "  --brokers LIST    Kafka bootstrap servers (default $RUNTRACK_BROKERS)\n"
    "  --topic NAME      topic (default $RUNTRACK_TOPIC or runtrack.events)\n"
    "  --timeout SEC     how long to wait for delivery (default 10; $RUNTRACK_TIMEOUT)\n"
    "  --set KEY=VALUE   any libruntrack setting, e.g. kafka.security.protocol=ssl (repeatable)\n"
    "  --no-spool        exit 69 when the event is not delivered in time, instead of keeping it\n"
    "                    in the spool ($RUNTRACK_SPOOL_DIR, else $XDG_STATE_HOME/runtrack) for\n"
    "                    the next runtrack call that reaches the broker\n"
    "  -h, --help        this help\n";

/* ------------------------------------------------------------------------ values */

/* Parses "name=value" with a name of at most RT_COUNTER_NAME_MAX bytes and a whole
 * non-negative 64-bit value; the name is kept in o->counter_names. */
static int parse_counter(cli_opts_t *o, const char *arg, runtrack_counter_t *c)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        cli_err("counter \"%s\": expected NAME=VALUE", arg);
        return -1;
    }
    size_t used = o->n_counter_names;
    size_t n = (size_t)(eq - arg);
    if (n > RT_COUNTER_NAME_MAX || used == sizeof o->counter_names / sizeof o->counter_names[0]) {
        cli_err("counter \"%s\": name longer than %d characters or too many counters", arg,
                RT_COUNTER_NAME_MAX);
        return -1;
    }
    int64_t val;
    if (rt_parse_i64(eq + 1, 0, INT64_MAX, &val) != 0) {
        cli_err("counter \"%s\": value must be a whole number 0..9223372036854775807", arg);
        return -1;
    }
    memcpy(o->counter_names[used], arg, n);
    o->counter_names[used][n] = '\0';
    c->name = o->counter_names[used];
    o->n_counter_names++;
    c->value = val;
    return 0;
}

int cli_add_counter(cli_opts_t *o, runtrack_counter_t *arr, size_t *n, const char *arg)
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

/* A percentage 0..100. */
static int parse_pct(const char *arg, double *out)
{
    if (rt_parse_double(arg, 0, 100, out) != 0) {
        cli_err("\"%s\" is not a percentage 0..100", arg);
        return -1;
    }
    return 0;
}

/* Seconds (decimal allowed) to milliseconds, 0..86400. */
static int parse_timeout(const char *arg, int *ms)
{
    double v;
    if (rt_parse_double(arg, 0, 86400, &v) != 0) {
        cli_err("--timeout \"%s\": expected seconds 0..86400", arg);
        return -1;
    }
    *ms = (int)(v * 1000.0);
    return 0;
}

/* Adds --param KEY=VALUE to the params object (made on first use): VALUE is used as JSON when
 * it parses as a JSON value (number, array, true...), otherwise as a string. Returns the exit
 * code. */
static int add_param(json_t **params, const char *arg)
{
    if (!*params && !(*params = json_object()))
        return EX_SOFTWARE_;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        cli_err("--param \"%s\": expected KEY=VALUE", arg);
        return EX_DATAERR_;
    }
    char key[256];
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof key) {
        cli_err("--param: key longer than 255 bytes");
        return EX_DATAERR_;
    }
    memcpy(key, arg, n);
    key[n] = '\0';
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (!v || json_is_string(v)) {
        json_decref(v);
        v = json_string(eq + 1);
        if (!v) {
            cli_err("--param %s: value is not valid UTF-8", key);
            return EX_DATAERR_;
        }
    }
    json_object_set_new(*params, key, v);
    return EX_OK_;
}

/* --params-json: a JSON object whose members join (and override) the parameters so far.
 * Returns the exit code. */
static int add_params_json(json_t **params, const char *arg)
{
    json_error_t je;
    json_t *pj = json_loads(arg, 0, &je);
    if (!pj || !json_is_object(pj)) {
        cli_err("--params-json: %s", pj ? "must be a JSON object" : je.text);
        json_decref(pj);
        return EX_DATAERR_;
    }
    if (!*params) {
        *params = pj;
    } else {
        json_object_update(*params, pj);
        json_decref(pj);
    }
    return EX_OK_;
}

/* ------------------------------------------------------------------------ options */

/* The field of an option whose value is kept as given, or NULL for the others. */
static const char **text_field(cli_opts_t *o, int c)
{
    switch (c) {
    case 'r':
        return &o->run_id;
    case 'j':
        return &o->job;
    case 'k':
        return &o->kind;
    case 'b':
        return &o->brokers;
    case 't':
        return &o->topic;
    case 'l':
        return &o->level;
    case 'F':
        return &o->fields_json;
    case 'R':
        return &o->reason;
    case 'S':
        return &o->status;
    case 'e':
        return &o->error;
    case 'E':
        return &o->error_details_json;
    }
    return NULL;
}

/* Applies option c with value arg to o (and the run parameters in *params). Returns the exit
 * code: EX_OK_, or the failure's after a message. */
static int take_option(cli_opts_t *o, json_t **params, int c, const char *arg)
{
    const char **text = text_field(o, c);
    if (c == 'r')
        o->run_given = 1;
    if (text) {
        *text = arg;
        return EX_OK_;
    }
    switch (c) {
    case 'T':
        return parse_timeout(arg, &o->timeout_ms) != 0 ? EX_USAGE_ : EX_OK_;
    case 's':
        if (o->n_sets == CLI_MAX_SETS) {
            cli_err("too many --set options");
            return EX_USAGE_;
        }
        o->sets[o->n_sets++] = arg;
        return EX_OK_;
    case 'p':
        return add_param(params, arg);
    case 'P':
        return add_params_json(params, arg);
    case 'c':
        return cli_add_counter(o, o->counts, &o->n_counts, arg) != 0 ? EX_DATAERR_ : EX_OK_;
    case 'n':
        return cli_add_counter(o, o->planned, &o->n_planned, arg) != 0 ? EX_DATAERR_ : EX_OK_;
    case 'm':
        return parse_pct(arg, &o->memory_pct) != 0 ? EX_DATAERR_ : EX_OK_;
    case 'u':
        return parse_pct(arg, &o->cpu_pct) != 0 ? EX_DATAERR_ : EX_OK_;
    case 'x':
        o->export_env = 1;
        return EX_OK_;
    case 'N':
        o->no_spool = 1;
        return EX_OK_;
    }
    cli_err("internal: unhandled option");
    return EX_SOFTWARE_;
}

/* Defaults and the RUNTRACK_* environment, which options override. Returns the exit code. */
static int opts_from_env(cli_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->level = "info";
    o->memory_pct = RUNTRACK_PERCENT_UNSET;
    o->cpu_pct = RUNTRACK_PERCENT_UNSET;
    o->run_id = getenv("RUNTRACK_RUN_ID");
    o->job = getenv("RUNTRACK_JOB");
    o->kind = getenv("RUNTRACK_KIND");
    if (o->kind && !*o->kind)
        o->kind = NULL;
    o->timeout_ms = 10000;
    const char *tenv = getenv("RUNTRACK_TIMEOUT");
    if (tenv && *tenv && parse_timeout(tenv, &o->timeout_ms) != 0)
        return EX_CONFIG_;
    return EX_OK_;
}

int cli_event_main(const cli_command_t *cmd, int argc, char **argv, cli_args_t args,
                   cli_event_fn fn)
{
    cli_opts_t o;
    json_t *params = NULL;
    int rc = opts_from_env(&o);
    if (rc != EX_OK_)
        return rc;
    /* `run` stops at the first non-option ("+") so the wrapped command's own options are left
     * alone. */
    const char *shortopts = args == CLI_ARGS_COMMAND ? "+:h" : ":h";
    optind = 0; /* full re-initialisation (GNU) */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, long_opts, NULL)) != -1) {
        if (cli_check_opt(cmd->name, c, "", cmd->allowed, long_opts, argv) != 0) {
            rc = EX_USAGE_;
            goto out;
        }
        if (c == 'h') {
            cli_command_help(cmd);
            goto out;
        }
        if ((rc = take_option(&o, &params, c, optarg)) != EX_OK_)
            goto out;
    }
    /* `runtrack start --job j KEY=VALUE...`: positional arguments are parameters. */
    for (; args == CLI_ARGS_PARAMS && optind < argc; optind++)
        if ((rc = add_param(&params, argv[optind])) != EX_OK_)
            goto out;
    if (params && !(o.params_json = json_dumps(params, JSON_COMPACT))) {
        cli_err("out of memory");
        rc = EX_SOFTWARE_;
        goto out;
    }
    rc = fn(cmd, &o, argc - optind, argv + optind);
out:
    free(o.params_json);
    json_decref(params);
    return rc;
}
