/* rt_api_serve: the HTTP API alone, against RUNTRACK_PG_DSN, for tests and demos without the
 * consumer. Prints "listening HOST:PORT" on stdout once serving; runs until SIGTERM/SIGINT.
 *
 *   rt_api_serve [--migrate] [--port N] [--stale-after S] [--stale-close-after S]
 *                [--maintenance-interval S] [--retention-days D] [--windows 12,24]
 *                [--interval JOB=SECONDS]... [--token T] [--fake-metrics]
 *                [--not-ready REASON] [--pool N] [--statement-timeout-ms N]
 *                [--retention-batch ROWS] [--cache-ttl-ms MS] */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/health.h"
#include "api/http_api.h"
#include "metrics.h"
#include "db/migrate.h"

static int not_ready(void *arg, char *why, size_t whysize)
{
    snprintf(why, whysize, "%s", (const char *)arg);
    return 0;
}

static int num_arg(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "rt_api_serve: --%s: expected a number from %g to %g, got '%s'\n", opt, min,
                max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
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
        {"token", required_argument, NULL, 't'},
        {"fake-metrics", no_argument, NULL, 'f'},
        {"not-ready", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'P'},
        {"statement-timeout-ms", required_argument, NULL, 'T'},
        {"retention-batch", required_argument, NULL, 'b'},
        {"cache-ttl-ms", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    rt_api_conf_t conf;
    rt_api_job_interval_t intervals[16];
    size_t nintervals = 0;
    int migrate = 0, fake = 0, rc = 1;
    double v;
    rt_metrics_t *metrics = NULL;
    rt_api_t *api = NULL;
    char err[512];

    rt_api_conf_defaults(&conf);
    conf.listen_port = 0;
    conf.pg_dsn = getenv("RUNTRACK_PG_DSN");
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            migrate = 1;
            break;
        case 'p':
            if (num_arg("port", optarg, 0, 65535, &v))
                return 2;
            conf.listen_port = (unsigned)v;
            break;
        case 's':
            if (num_arg("stale-after", optarg, 0.001, 1e9, &conf.stale_after_s))
                return 2;
            break;
        case 'c':
            if (num_arg("stale-close-after", optarg, 0, 1e9, &conf.stale_close_after_s))
                return 2;
            break;
        case 'i':
            if (num_arg("maintenance-interval", optarg, 0, 86400, &v))
                return 2;
            conf.maintenance_interval_s = (unsigned)v;
            break;
        case 'r':
            if (num_arg("retention-days", optarg, 0, 100000, &v))
                return 2;
            conf.retention.runs_days = conf.retention.run_results_days =
                conf.retention.discovery_runs_days = conf.retention.dead_letters_days = (unsigned)v;
            break;
        case 'w': {
            int n = rt_health_parse_windows(optarg, conf.health.windows, RT_API_MAX_WINDOWS);
            if (n <= 0) {
                fprintf(stderr, "rt_api_serve: --windows: bad list '%s'\n", optarg);
                return 2;
            }
            conf.health.nwindows = (size_t)n;
            break;
        }
        case 'j': {
            char *eq = strchr(optarg, '=');
            if (!eq || nintervals == sizeof intervals / sizeof intervals[0] ||
                num_arg("interval", eq + 1, 0.001, 1e9, &v))
                return 2;
            *eq = '\0';
            intervals[nintervals].job = optarg;
            intervals[nintervals++].seconds = v;
            break;
        }
        case 't':
            conf.bearer_token = optarg;
            break;
        case 'f':
            fake = 1;
            break;
        case 'n':
            conf.ready_cb = not_ready;
            conf.ready_arg = optarg;
            break;
        case 'P':
            if (num_arg("pool", optarg, 1, 64, &v))
                return 2;
            conf.pool_size = (unsigned)v;
            break;
        case 'T':
            if (num_arg("statement-timeout-ms", optarg, 1, 600000, &v))
                return 2;
            conf.statement_timeout_ms = (unsigned)v;
            break;
        case 'b':
            if (num_arg("retention-batch", optarg, 1, 1e6, &v))
                return 2;
            conf.retention.batch_rows = (unsigned)v;
            break;
        case 'C':
            if (num_arg("cache-ttl-ms", optarg, 0, 86400000, &v))
                return 2;
            conf.cache_ttl_ms = (unsigned)v;
            break;
        default:
            fprintf(stderr, "usage: see the comment at the top of tests/api_server_main.c\n");
            return 2;
        }
    }
    conf.health.intervals = intervals;
    conf.health.nintervals = nintervals;
    if (!conf.pg_dsn) {
        fprintf(stderr, "rt_api_serve: RUNTRACK_PG_DSN is not set\n");
        return 2;
    }
    if (migrate) {
        PGconn *pg = PQconnectdb(conf.pg_dsn);
        int applied = 0;
        if (PQstatus(pg) != CONNECTION_OK) {
            fprintf(stderr, "rt_api_serve: %s", PQerrorMessage(pg));
            PQfinish(pg);
            return 1;
        }
        if (rt_migrate_apply(pg, &applied, err, sizeof err) != 0) {
            fprintf(stderr, "rt_api_serve: migrate: %s\n", err);
            PQfinish(pg);
            return 1;
        }
        PQfinish(pg);
    }

    /* Signals are taken synchronously by sigwait, so no handler runs in an API thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (fake) {
        metrics = rt_metrics_new();
        if (!metrics)
            goto out;
        rt_metrics_events(metrics, RT_EV_STARTED, 1);
        rt_metrics_events(metrics, RT_EV_LOG, 2);
        rt_metrics_dead_letters(metrics, RT_DEAD_INVALID_JSON, 1);
        rt_metrics_batch(metrics, 42, 0.03);
        rt_metrics_lag(metrics, "runtrack.events", 0, 5);
        rt_metrics_lag(metrics, "we\"ird\\topic\n", 1, 3); /* a label that needs escaping */
        rt_metrics_db_error(metrics);
    }
    conf.metrics = metrics;
    api = rt_api_start(&conf, err, sizeof err);
    if (!api) {
        fprintf(stderr, "rt_api_serve: %s\n", err);
        goto out;
    }
    printf("listening %s:%u\n", conf.listen_addr, rt_api_port(api));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    rc = 0;
out:
    rt_api_stop(api);
    rt_metrics_destroy(metrics);
    return rc;
}
