/* The helpers every group of CLI commands shares: messages, option checks, help, and the
 * libruntrack client made from the event options. */
#include <stdarg.h>
#include <stdio.h>
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
