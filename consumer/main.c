/* runtrack-consumer: wires config, the pipeline (kafka_in → decode → aggregate → pg_out) and
 * the subcommands. All behaviour lives in the modules. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "ingest/pipeline.h"
#include "ready.h"
#include "rt_time.h"
#include "api/health.h"
#include "api/http_api.h"
#include "db/migrate_wait.h"
#include "metrics.h"

extern char **environ;

#ifndef RUNTRACK_VERSION_STRING
#define RUNTRACK_VERSION_STRING "0.0.0"
#endif

/* The only mutable globals: what a signal handler may touch. */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_grace_s = 12;

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop) {
        /* Second signal: the operator insists. */
        _exit(130);
    }
    g_stop = 1;
    /* Last-resort bound on the shutdown: a hung socket cannot keep us past the grace time. */
    alarm((unsigned)g_grace_s);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: runtrack-consumer [--config FILE] [COMMAND] [OPTIONS]\n"
            "\n"
            "Aggregates runtrack events from Kafka into PostgreSQL, exactly once.\n"
            "\n"
            "Commands:\n"
            "  run              consume as a member of the consumer group (default)\n"
            "  migrate          apply pending schema migrations and exit\n"
            "  replay           re-read the topic without a group and re-apply it (idempotent)\n"
            "  config-sample    print a sample configuration file with every setting\n"
            "  config-doc       print the settings as a Markdown table\n"
            "\n"
            "Options:\n"
            "  --config FILE          libconfig file (also RUNTRACK_CONFIG); env overrides it\n"
            "  --exit-when-idle MS    exit 0 after MS ms without records (tests, backfills)\n"
            "  --from-beginning       replay: start at each partition's first offset (default)\n"
            "  --from-time ISO        replay: start at the first record at/after this UTC time\n"
            "  --to-end               replay: stop at the high watermarks seen at start\n"
            "  -h, --help             this text\n"
            "  -V, --version          print the version\n"
            "\n");
    rt_config_print_help(f);
}

/* A per-table retention of 0 falls back to the common retention_days. */
static unsigned retention_or(int days, int common)
{
    return (unsigned)(days > 0 ? days : common);
}

/* Maps the API-related settings into ac (after rt_api_conf_defaults). Returns 0, or -1 with a
 * one-line reason in err for values the settings table cannot check alone. */
static int api_conf_from(const rt_config_t *cfg, rt_api_conf_t *ac, char *err, size_t errsize)
{
    ac->listen_addr = cfg->http_addr;
    ac->listen_port = cfg->http_port > 0 ? (unsigned)cfg->http_port : 0;
    ac->pg_dsn = cfg->pg_dsn;
    ac->stale_after_s = cfg->stale_after_s;
    ac->cache_ttl_ms = (unsigned)cfg->http_cache_ms;
    ac->stale_close_after_s = cfg->stale_close_after_s;
    ac->display_tz = cfg->display_tz;
    ac->maintenance_interval_s = (unsigned)cfg->maintenance_interval_s;
    ac->retention.runs_days = retention_or(cfg->retention_runs_days, cfg->retention_days);
    ac->retention.run_results_days =
        retention_or(cfg->retention_run_results_days, cfg->retention_days);
    ac->retention.discovery_runs_days =
        retention_or(cfg->retention_discovery_runs_days, cfg->retention_days);
    ac->retention.dead_letters_days =
        retention_or(cfg->retention_dead_letters_days, cfg->retention_days);
    int nw = rt_health_parse_windows(cfg->health_windows, ac->health.windows, RT_API_MAX_WINDOWS);
    if (nw <= 0) {
        snprintf(err, errsize,
                 "health_windows: expected comma-separated hours 1..8760 (at most %d), got \"%s\"",
                 RT_API_MAX_WINDOWS, cfg->health_windows);
        return -1;
    }
    ac->health.nwindows = (size_t)nw;
    if (cfg->health_success_critical > cfg->health_success_healthy ||
        cfg->health_freshness_critical > cfg->health_freshness_healthy) {
        snprintf(err, errsize, "health_*_critical must not be above the matching "
                               "health_*_healthy bound");
        return -1;
    }
    ac->health.success_healthy = cfg->health_success_healthy;
    ac->health.success_critical = cfg->health_success_critical;
    ac->health.freshness_healthy = cfg->health_freshness_healthy;
    ac->health.freshness_critical = cfg->health_freshness_critical;
    ac->health.failures_alert_24h = cfg->health_failures_alert_24h;
    ac->health.no_success_alert_s = cfg->health_no_success_alert_s;
    ac->health.last_run_alert_s = cfg->health_last_run_alert_s;
    return 0;
}

static int parse_ms(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* glibc's malloc gives each thread that allocates its own arena (librdkafka runs one thread per
 * broker) and, once a large block has been freed, serves blocks up to 32 MiB from the arenas
 * instead of mmap. Fetch responses and decompressed record batches are such blocks: they stay
 * behind in the arenas after use. Two arenas and a fixed 256 KiB mmap threshold keep the
 * consumer's peak RSS near its live data (200k-event run: 110 -> 78 MiB together with the
 * smaller prefetch, docs/operations.md "Memory"). MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_
 * in the environment still win. Called first in main, before any thread exists. */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

int main(int argc, char **argv)
{
    tune_malloc();
    const char *config_path = getenv("RUNTRACK_CONFIG");
    const char *cmd = "run";
    rt_opts_t opts = {.mode = RT_MODE_RUN, .exit_when_idle_ms = -1, .from_time_us = -1};
    int rc = 2;
    rt_config_t cfg;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("runtrack-consumer %s\n", RUNTRACK_VERSION_STRING);
            return 0;
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strcmp(a, "--exit-when-idle") && i + 1 < argc) {
            if (parse_ms(argv[++i], &opts.exit_when_idle_ms) != 0) {
                fprintf(stderr, "runtrack-consumer: --exit-when-idle: not a number of ms: %s\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--from-beginning")) {
            opts.from_time_us = -1;
        } else if (!strcmp(a, "--from-time") && i + 1 < argc) {
            if (rt_time_parse(argv[++i], &opts.from_time_us) != 0 || opts.from_time_us < 0) {
                fprintf(stderr,
                        "runtrack-consumer: --from-time: not an RFC 3339 time: %s "
                        "(e.g. 2026-11-25T11:15:48Z)\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--to-end")) {
            opts.to_end = 1;
        } else if (a[0] != '-' && (!strcmp(a, "run") || !strcmp(a, "migrate") ||
                                   !strcmp(a, "replay") || !strcmp(a, "config-sample") ||
                                   !strcmp(a, "config-doc"))) {
            cmd = a;
        } else {
            fprintf(stderr, "runtrack-consumer: unknown argument \"%s\" (try --help)\n", a);
            return 2;
        }
    }
    if (!strcmp(cmd, "config-sample")) {
        rt_config_print_sample(stdout);
        return 0;
    }
    if (!strcmp(cmd, "config-doc")) {
        rt_config_print_markdown(stdout);
        return 0;
    }

    if (rt_config_init(&cfg) != 0) {
        fprintf(stderr, "runtrack-consumer: out of memory\n");
        return 1;
    }
    char err[512];
    if (config_path && rt_config_load_file(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "runtrack-consumer: %s\n", err);
        goto out;
    }
    if (rt_config_apply_env(&cfg, environ, err, sizeof err) != 0) {
        fprintf(stderr, "runtrack-consumer: %s\n", err);
        goto out;
    }
    rt_api_conf_t ac;
    rt_api_conf_defaults(&ac);
    if (api_conf_from(&cfg, &ac, err, sizeof err) != 0) {
        fprintf(stderr, "runtrack-consumer: %s\n", err);
        goto out;
    }
    g_grace_s = (sig_atomic_t)(cfg.shutdown_timeout_ms / 1000 + 2);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Settings are read once at start (no reload yet): a stray SIGHUP (closed terminal) must
     * not kill the consumer. */
    signal(SIGHUP, SIG_IGN);

    rt_log(RT_L_INFO, "runtrack-consumer starting", "version=%s command=%s pid=%d",
           RUNTRACK_VERSION_STRING, cmd, (int)getpid());
    rt_config_log(&cfg);
    /* One set of counters for the whole process: the pipeline records, /metrics and the exit
     * summary read them. */
    rt_metrics_t *metrics = rt_metrics_new();
    if (!metrics) {
        rt_log(RT_L_ERROR, "out of memory", NULL);
        rc = 1;
    } else if (!strcmp(cmd, "migrate")) {
        rc = rt_db_migrate_wait(&cfg, NULL, &g_stop) == 0 ? 0 : 1;
    } else {
        rt_ready_t ready;
        rt_ready_init(&ready);
        if (!strcmp(cmd, "replay"))
            opts.mode = RT_MODE_REPLAY;
        /* The HTTP API runs beside the live consumer only. It failing to start (port taken) is
         * logged, not fatal: ingesting matters more than serving. */
        rt_api_t *api = NULL;
        opts.metrics = metrics;
        if (opts.mode == RT_MODE_RUN && cfg.http_port >= 0) {
            ac.metrics = metrics;
            /* /readyz: brokers reachable and partitions assigned, kept by the ingest loop. */
            ac.ready_cb = rt_ready_check;
            ac.ready_arg = &ready;
            opts.ready = &ready;
            if (!(api = rt_api_start(&ac, err, sizeof err)))
                rt_log(RT_L_ERROR, "HTTP API not started", "error=\"%s\"", err);
            else
                rt_log(RT_L_INFO, "HTTP API listening", "addr=%s port=%u", cfg.http_addr,
                       rt_api_port(api));
        }
        /* Stopped before PostgreSQL was reached (1): a clean stop. */
        if (cfg.migrate_on_start && (rc = rt_db_migrate_wait(&cfg, metrics, &g_stop)) != 0)
            rc = rc > 0 ? 0 : 1;
        else
            rc = rt_pipeline_run(&cfg, &opts, &g_stop);
        rt_api_stop(api);
    }
    rt_metrics_destroy(metrics);
    rt_log(rc == 0 ? RT_L_INFO : RT_L_ERROR, "runtrack-consumer exiting", "status=%d", rc);
out:
    rt_config_free(&cfg);
    return rc;
}
