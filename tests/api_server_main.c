/* rt_api_serve: the HTTP API alone, against RUNTRACK_PG_DSN, for tests and demos without the
 * consumer. Prints "listening HOST:PORT" on stdout once serving; runs until SIGTERM/SIGINT.
 *
 *   rt_api_serve [--migrate] [--port N] [--stale-after S] [--stale-close-after S]
 *                [--maintenance-interval S] [--retention-days D] [--windows 12,24]
 *                [--interval JOB=SECONDS]... [--set NAME=VALUE]... [--fake-metrics]
 *                [--not-ready REASON] [--pool N] [--statement-timeout-ms N]
 *                [--retention-batch ROWS] [--cache-ttl-ms MS] [--addr IPV4]
 *                [--allowed-hosts NAMES]
 *
 * Each value option sets one consumer setting (config.h, checked by the settings table); --set
 * sets any (e.g. --set auth=required --set auth_secret=...); the others default as in
 * runtrack-consumer, except http_port (0: a free port). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "config.h"
#include "db/maintenance.h"
#include "db/migrate.h"
#include "metrics.h"
#include "rt_buf.h"

static int not_ready(void *arg, char *why, size_t whysize)
{
    snprintf(why, whysize, "%s", (const char *)arg);
    return 0;
}

/* The options that set one setting each, by getopt value. */
static const struct {
    int opt;
    const char *setting;
} SETTING_OPTS[] = {
    {'p', "http_port"},
    {'s', "stale_after_s"},
    {'c', "stale_close_after_s"},
    {'i', "maintenance_interval_s"},
    {'r', "retention_days"},
    {'w', "health_windows"},
    {'P', "http_pool_size"},
    {'T', "http_statement_timeout_ms"},
    {'b', "retention_batch_rows"},
    {'C', "http_cache_ms"},
    {'A', "http_addr"},
    {'H', "http_allowed_hosts"},
};

static const char *setting_of(int opt)
{
    for (size_t i = 0; i < sizeof SETTING_OPTS / sizeof SETTING_OPTS[0]; i++)
        if (SETTING_OPTS[i].opt == opt)
            return SETTING_OPTS[i].setting;
    return NULL;
}

typedef struct serve_opts {
    int migrate, fake_metrics;
    rt_api_hooks_t hooks;
} serve_opts_t;

/* Reads argv into cfg and o. Returns 0, or 2 after printing why. */
static int parse_args(int argc, char **argv, rt_config_t *cfg, serve_opts_t *o)
{
    static const struct option opts[] = {
        {"migrate", no_argument, NULL, 'm'},
        {"port", required_argument, NULL, 'p'},
        {"stale-after", required_argument, NULL, 's'},
        {"stale-close-after", required_argument, NULL, 'c'},
        {"maintenance-interval", required_argument, NULL, 'i'},
        {"retention-days", required_argument, NULL, 'r'},
        {"windows", required_argument, NULL, 'w'},
        {"interval", required_argument, NULL, 'j'},
        {"set", required_argument, NULL, 'S'},
        {"fake-metrics", no_argument, NULL, 'f'},
        {"not-ready", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'P'},
        {"statement-timeout-ms", required_argument, NULL, 'T'},
        {"retention-batch", required_argument, NULL, 'b'},
        {"cache-ttl-ms", required_argument, NULL, 'C'},
        {"addr", required_argument, NULL, 'A'},
        {"allowed-hosts", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    rt_buf_t intervals = {0}; /* --interval pairs, as health_job_intervals */
    char err[512];
    int c, rc = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *setting = setting_of(c);
        if (setting) {
            if (rt_config_set(cfg, setting, optarg, err, sizeof err) != 0) {
                fprintf(stderr, "rt_api_serve: %s\n", err);
                goto out;
            }
        } else if (c == 'm') {
            o->migrate = 1;
        } else if (c == 'j') {
            rt_buf_addf(&intervals, "%s%s", intervals.len ? "," : "", optarg);
        } else if (c == 'S') {
            char name[64];
            const char *eq = strchr(optarg, '=');
            size_t n = eq ? (size_t)(eq - optarg) : 0;
            if (!eq || n == 0 || n >= sizeof name) {
                fprintf(stderr, "rt_api_serve: --set NAME=VALUE, got %s\n", optarg);
                goto out;
            }
            memcpy(name, optarg, n);
            name[n] = '\0';
            if (rt_config_set(cfg, name, eq + 1, err, sizeof err) != 0) {
                fprintf(stderr, "rt_api_serve: %s\n", err);
                goto out;
            }
        } else if (c == 'f') {
            o->fake_metrics = 1;
        } else if (c == 'n') {
            o->hooks.ready_cb = not_ready;
            o->hooks.ready_arg = optarg;
        } else {
            fprintf(stderr, "usage: see the comment at the top of tests/api_server_main.c\n");
            goto out;
        }
    }
    if (intervals.oom || (intervals.len && rt_config_set(cfg, "health_job_intervals",
                                                         intervals.data, err, sizeof err) != 0)) {
        fprintf(stderr, "rt_api_serve: --interval: %s\n", intervals.oom ? "out of memory" : err);
        goto out;
    }
    rc = 0;
out:
    rt_buf_free(&intervals);
    return rc;
}

static int migrate(const char *dsn)
{
    char err[512];
    int applied = 0, rc = 0;
    PGconn *pg = PQconnectdb(dsn);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "rt_api_serve: %s", PQerrorMessage(pg));
        rc = 1;
    } else if (rt_migrate_apply(pg, &applied, err, sizeof err) != 0) {
        fprintf(stderr, "rt_api_serve: migrate: %s\n", err);
        rc = 1;
    }
    PQfinish(pg);
    return rc;
}

static rt_metrics_t *fake_metrics(void)
{
    rt_metrics_t *m = rt_metrics_new();
    if (!m)
        return NULL;
    rt_metrics_events(m, RT_EV_STARTED, 1);
    rt_metrics_events(m, RT_EV_LOG, 2);
    rt_metrics_dead_letters(m, RT_DEAD_INVALID_JSON, 1);
    rt_metrics_batch(m, 42, 0.03);
    rt_metrics_lag(m, "runtrack.events", 0, 5);
    rt_metrics_lag(m, "we\"ird\\topic\n", 1, 3); /* a label that needs escaping */
    rt_metrics_db_error(m);
    return m;
}

int main(int argc, char **argv)
{
    rt_config_t cfg;
    serve_opts_t o = {0};
    rt_api_t *api = NULL;
    rt_maint_t *maint = NULL;
    char err[512];
    int rc = 2;
    const char *dsn = getenv("RUNTRACK_PG_DSN");
    if (rt_config_init(&cfg) != 0)
        return 1;
    if (rt_config_set(&cfg, "http_port", "0", err, sizeof err) != 0 ||
        parse_args(argc, argv, &cfg, &o) != 0)
        goto out;
    if (!dsn) {
        fprintf(stderr, "rt_api_serve: RUNTRACK_PG_DSN is not set\n");
        goto out;
    }
    rc = 1;
    if (rt_config_set(&cfg, "pg_dsn", dsn, err, sizeof err) != 0 || (o.migrate && migrate(dsn)))
        goto out;

    /* Signals are taken synchronously by sigwait, so no handler runs in an API thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (o.fake_metrics && !(o.hooks.metrics = fake_metrics()))
        goto out;
    if (!(api = rt_api_start(&cfg, &o.hooks, err, sizeof err)) ||
        (cfg.maintenance_interval_s > 0 && !(maint = rt_maint_start(&cfg, err, sizeof err)))) {
        fprintf(stderr, "rt_api_serve: %s\n", err);
        goto out;
    }
    printf("listening %s:%u\n", cfg.http_addr, rt_api_port(api));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    rc = 0;
out:
    rt_maint_stop(maint);
    rt_api_stop(api);
    rt_metrics_destroy(o.hooks.metrics);
    rt_config_free(&cfg);
    return rc;
}
