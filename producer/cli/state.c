/* The CLI's state directory (state.h): remembered phases and the spool commands. */
#include "state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"
#include "rt_uuid.h"
#include "spool.h"

/* DIR/phase/RUN for a well-formed run id (so it can name no other file). Returns 0 or -1. */
static int phase_path(const cli_opts_t *o, const char *run_id, char *path, size_t size, char *sub,
                      size_t sub_size)
{
    char dir[4096];
    if (!run_id || !rt_uuid_valid(run_id) || cli_state_dir(o, dir, sizeof dir) != 0)
        return -1;
    int n = snprintf(sub, sub_size, "%s/phase", dir);
    int m = snprintf(path, size, "%s/phase/%s", dir, run_id);
    return n < 0 || (size_t)n >= sub_size || m < 0 || (size_t)m >= size ? -1 : 0;
}

void cli_phase_remember(const cli_opts_t *o, const char *run_id, const char *phase)
{
    char path[4200], sub[4200], tmp[4300];
    if (phase_path(o, run_id, path, sizeof path, sub, sizeof sub) != 0)
        return;
    /* mkdir -p: $XDG_STATE_HOME itself may not exist yet. */
    for (char *s = sub + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(sub, 0700) != 0 && errno != EEXIST)
            return;
        *s = c;
        if (!c)
            break;
    }
    /* Written aside and renamed, so a concurrent `runtrack log` reads the old or the new. */
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    int ok = fputs(phase, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

int cli_phase_recall(const cli_opts_t *o, const char *run_id, char *buf, size_t size)
{
    char path[4200], sub[4200];
    if (size == 0 || phase_path(o, run_id, path, sizeof path, sub, sizeof sub) != 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

void cli_phase_forget(const cli_opts_t *o, const char *run_id)
{
    char path[4200], sub[4200];
    if (phase_path(o, run_id, path, sizeof path, sub, sizeof sub) == 0)
        (void)unlink(path);
}

/* ------------------------------------------------------------------------ runtrack spool */

/* What waits for one run. */
typedef struct spool_run {
    const rt_spool_rec_t *first;
    char job[RT_JOB_MAX + 1];
    unsigned long long events, logs, bytes;
} spool_run_t;

/* Adds the records of d to runs (grown as needed). Returns 0, or -1 when memory ran out. */
static int tally(const rt_spool_data_t *d, spool_run_t **runs, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < d->n; i++) {
        const rt_spool_rec_t *r = &d->recs[i];
        size_t k = 0;
        while (k < *n && !((*runs)[k].first->key_len == r->key_len &&
                           memcmp((*runs)[k].first->key, r->key, r->key_len) == 0))
            k++;
        if (k == *n) {
            spool_run_t *g = rt_grow(*runs, *n, cap, sizeof **runs, 8);
            if (!g)
                return -1;
            *runs = g;
            g[k] = (spool_run_t){.first = r};
            json_t *ev = json_loadb(r->value, r->value_len, 0, NULL);
            const char *job = json_string_value(json_object_get(ev, "job"));
            snprintf(g[k].job, sizeof g[k].job, "%s", job ? job : "?");
            json_decref(ev);
            (*n)++;
        }
        (*runs)[k].events++;
        (*runs)[k].logs += r->kind == RT_SPOOL_LOG;
        (*runs)[k].bytes += r->raw_len;
    }
    return 0;
}

/* Prints one table row per run and a summary line. */
static int spool_status(const char *dir)
{
    rt_spool_data_t sending, waiting;
    size_t torn = 0, n = 0, cap = 0;
    char err[512];
    if (rt_spool_load(dir, &sending, &waiting, &torn, err, sizeof err) != 0) {
        cli_err("spool: %s", err);
        return EX_IOERR_;
    }
    spool_run_t *runs = NULL;
    int code = EX_OK_;
    if (tally(&sending, &runs, &n, &cap) != 0 || tally(&waiting, &runs, &n, &cap) != 0) {
        cli_err("out of memory");
        code = EX_SOFTWARE_;
        goto out;
    }
    unsigned long long events = 0, bytes = 0;
    if (n)
        printf("%-36s  %-24s  %7s  %7s  %10s\n", "RUN", "JOB", "EVENTS", "LOGS", "BYTES");
    for (size_t k = 0; k < n; k++) {
        printf("%-36.*s  %-24s  %7llu  %7llu  %10llu\n", (int)runs[k].first->key_len,
               runs[k].first->key, runs[k].job, runs[k].events, runs[k].logs, runs[k].bytes);
        events += runs[k].events;
        bytes += runs[k].bytes;
    }
    if (n)
        printf("%llu event(s) of %zu run(s), %llu bytes, waiting in %s\n", events, n, bytes, dir);
    else
        printf("nothing waiting in %s\n", dir);
    if (torn)
        printf("%zu byte(s) of a torn record (a writer died mid-write) are skipped\n", torn);
    if (fflush(stdout) != 0)
        code = EX_IOERR_;
out:
    free(runs);
    rt_spool_data_free(&sending);
    rt_spool_data_free(&waiting);
    return code;
}

/* Sends what waits, for at most --timeout. */
static int spool_flush(const cli_opts_t *o, const char *dir)
{
    int code = EX_OK_;
    runtrack_conf_t *conf = cli_conf(o, &code);
    if (!conf)
        return code;
    char err[512];
    rt_spool_deliver_res_t res;
    int r = rt_spool_deliver(conf, dir, o->timeout_ms, &res, err, sizeof err);
    runtrack_conf_destroy(conf);
    if (r < 0) {
        cli_err("spool: %s", err);
        return EX_IOERR_;
    }
    if (res.busy) {
        cli_err("spool: another runtrack process is delivering it; try again later");
        return EX_TEMPFAIL_;
    }
    if (r > 0) {
        cli_err("broker unreachable: %llu event(s) delivered, %llu still spooled in %s",
                (unsigned long long)res.delivered, (unsigned long long)res.left, dir);
        return EX_UNAVAILABLE_;
    }
    printf("%llu event(s) delivered from %s\n", (unsigned long long)res.delivered, dir);
    return fflush(stdout) != 0 ? EX_IOERR_ : EX_OK_;
}

static int spool_main(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (argc != 1 || (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "flush") != 0)) {
        cli_err("spool: expected status or flush (see 'runtrack spool --help')");
        return EX_USAGE_;
    }
    char dir[4096];
    if (cli_state_dir(o, dir, sizeof dir) != 0) {
        cli_err("spool: no spool directory: set RUNTRACK_SPOOL_DIR (or HOME)");
        return EX_CONFIG_;
    }
    return strcmp(argv[0], "status") == 0 ? spool_status(dir) : spool_flush(o, dir);
}

int cli_cmd_spool(const cli_command_t *cmd, int argc, char **argv)
{
    return cli_event_main(cmd, argc, argv, CLI_ARGS_PLAIN, spool_main);
}
