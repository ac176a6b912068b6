/* The helpers every group of CLI commands shares: messages, option checks, help, and the
 * libruntrack client made from the event options. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("runtrack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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

void cli_command_help(const cli_command_t *c)
{
    printf("usage: runtrack %s\n\n%s\n%s", c->synopsis, c->help, c->options_help);
}

int cli_state_dir(const cli_opts_t *o, char *buf, size_t size)
{
    const char *dir = getenv("RUNTRACK_SPOOL_DIR");
    if (dir && !*dir)
        dir = NULL;
    for (int i = 0; i < o->n_sets; i++) /* the last --set wins, as in cli_conf */
        if (strncmp(o->sets[i], "spool.dir=", 10) == 0)
            dir = o->sets[i] + 10;
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (dir)
        n = snprintf(buf, size, "%s", dir);
    else if (xdg && *xdg == '/') /* the XDG spec: a relative path is to be ignored */
        n = snprintf(buf, size, "%s/runtrack", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.local/state/runtrack", home);
    else
        n = -1;
    if (n < 0 || (size_t)n >= size) {
        if (size)
            buf[0] = '\0';
        return -1;
    }
    return 0;
}

/* Applies the --set KEY=VALUE options to conf. Returns 0, or -1 with err. */
static int apply_sets(const cli_opts_t *o, runtrack_conf_t *conf, char *err, size_t err_size)
{
    for (int i = 0; i < o->n_sets; i++) {
        const char *eq = strchr(o->sets[i], '=');
        char key[256];
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof key) {
            snprintf(err, err_size, "--set \"%s\": expected KEY=VALUE", o->sets[i]);
            return -1;
        }
        memcpy(key, o->sets[i], (size_t)(eq - o->sets[i]));
        key[eq - o->sets[i]] = '\0';
        if (runtrack_conf_set(conf, key, eq + 1, err, err_size))
            return -1;
    }
    return 0;
}

runtrack_conf_t *cli_conf(const cli_opts_t *o, int *exit_code)
{
    char err[512], dir[4096];
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
    if (apply_sets(o, conf, err, sizeof err) != 0)
        goto conf_fail;
    /* The library's spool is opt-in; the CLI's is on unless --no-spool: a shell script has no
     * process that could hold an undelivered event until the broker is back. */
    if (o->no_spool || cli_state_dir(o, dir, sizeof dir) != 0)
        dir[0] = '\0'; /* "": no spool */
    if (runtrack_conf_set(conf, "spool.dir", dir, err, sizeof err))
        goto conf_fail;
    return conf;
conf_fail:
    runtrack_conf_destroy(conf);
    cli_err("configuration: %s", err);
    *exit_code = EX_CONFIG_;
    return NULL;
}

runtrack_t *cli_client(const cli_opts_t *o, int *exit_code)
{
    char err[512];
    runtrack_conf_t *conf = cli_conf(o, exit_code);
    if (!conf)
        return NULL;
    runtrack_t *rt = runtrack_new(conf, err, sizeof err);
    if (!rt) {
        runtrack_conf_destroy(conf);
        cli_err("cannot create client: %s", err);
        *exit_code = EX_CONFIG_;
        return NULL;
    }
    return rt;
}

int cli_finish_client(const cli_opts_t *o, runtrack_t *rt)
{
    uint64_t left = 0;
    int ms = o->timeout_ms;
    runtrack_err_t err = runtrack_destroy(rt, ms, &left);
    if (err == RUNTRACK_OK)
        return EX_OK_;
    char dir[4096];
    if (err == RUNTRACK_ERR_SPOOLED) {
        if (cli_state_dir(o, dir, sizeof dir) != 0)
            snprintf(dir, sizeof dir, "(spool.dir)");
        cli_err("warning: broker unreachable: %llu event(s) not delivered within %d.%03d s are "
                "spooled in %s; the next runtrack call that reaches the broker (or 'runtrack "
                "spool flush') sends them",
                (unsigned long long)left, ms / 1000, ms % 1000, dir);
        return EX_OK_;
    }
    cli_err("broker unreachable: %llu event(s) not delivered within %d.%03d s%s",
            (unsigned long long)left, ms / 1000, ms % 1000,
            o->no_spool ? "" : " and not spooled (RUNTRACK_VERBOSE=1 says why)");
    return EX_UNAVAILABLE_;
}

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
    runtrack_run_t *run =
        o->run_given ? runtrack_run_start_with_id(rt, o->job, o->run_id, &so, err, sizeof err)
                     : runtrack_run_start(rt, o->job, &so, err, sizeof err);
    if (!run) {
        cli_err("%s: %s", cmd, err);
        runtrack_destroy(rt, 0, NULL);
        *exit_code = EX_DATAERR_;
        return NULL;
    }
    *rtp = rt;
    return run;
}
