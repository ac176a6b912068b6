/* runtrack-consumer: wires the settings, the pipeline (kafka_in → decode → aggregate → pg_out),
 * the HTTP API, maintenance and the subcommands. All behaviour lives in the modules. */
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
/* (after a libc header, which defines __GLIBC__) */
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "ingest/pipeline.h"
#include "ready.h"
#include "rt_num.h"
#include "rt_time.h"
#include "api/api.h"
#include "api/keys_cli.h"
#include "db/maintenance.h"
#include "db/migrate_wait.h"
#include "metrics.h"

extern char **environ;

#ifndef RUNTRACK_VERSION_STRING
#define RUNTRACK_VERSION_STRING "0.0.0"
#endif

/* The only mutable globals: what a signal handler may touch. */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_grace_s = 12;
/* Posted on SIGHUP: the HTTP API re-reads its TLS certificate and key (api.h hooks). */
static sem_t g_reload;

static void on_hup(int sig)
{
    (void)sig;
    sem_post(&g_reload); /* async-signal-safe */
}

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
            "  scopes-doc       print the HTTP API's routes and the scope each needs (Markdown)\n"
            "%s"
            "\n"
            "Options:\n"
            "  --config FILE          libconfig file (also RUNTRACK_CONFIG); env overrides it\n"
            "  --exit-when-idle MS    exit 0 after MS ms without records (tests, backfills)\n"
            "  --from-beginning       replay: start at each partition's first offset (default)\n"
            "  --from-time ISO        replay: start at the first record at/after this UTC time\n"
            "  --to-end               replay: stop at the high watermarks seen at start\n"
            "  -h, --help             this text\n"
            "  -V, --version          print the version\n"
            "\n",
            rt_keys_cli_usage);
    rt_config_print_help(f);
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

/* The command line: which command, the settings file and the pipeline's options. */
typedef struct cli {
    const char *config_path;
    const char *cmd;
    rt_opts_t opts;
    int sub_argc; /* keys: the words after the command */
    char **sub_argv;
} cli_t;

static int is_command(const char *a)
{
    static const char *const cmds[] = {"run",        "migrate",    "replay", "config-sample",
                                       "config-doc", "scopes-doc", "keys"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(a, cmds[i]))
            return 1;
    return 0;
}

/* Reads argv into cli. Returns -1 to go on, or the exit status (after --help, --version or a
 * one-line error). */
static int parse_args(int argc, char **argv, cli_t *cli)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("runtrack-consumer %s\n", RUNTRACK_VERSION_STRING);
            return 0;
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            cli->config_path = argv[++i];
        } else if (!strcmp(a, "--exit-when-idle") && i + 1 < argc) {
            if (rt_parse_i64(argv[++i], 0, INT64_MAX, &cli->opts.exit_when_idle_ms) != 0) {
                fprintf(stderr, "runtrack-consumer: --exit-when-idle: not a number of ms: %s\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--from-beginning")) {
            cli->opts.from_time_us = -1;
        } else if (!strcmp(a, "--from-time") && i + 1 < argc) {
            if (rt_time_parse(argv[++i], &cli->opts.from_time_us) != 0 ||
                cli->opts.from_time_us < 0) {
                fprintf(stderr,
                        "runtrack-consumer: --from-time: not an RFC 3339 time: %s "
                        "(e.g. 2026-11-25T11:15:48Z)\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--to-end")) {
            cli->opts.to_end = 1;
        } else if (a[0] != '-' && is_command(a)) {
            cli->cmd = a;
            if (!strcmp(a, "keys")) { /* the rest is the keys command's own */
                cli->sub_argc = argc - i - 1;
                cli->sub_argv = argv + i + 1;
                return -1;
            }
        } else {
            fprintf(stderr, "runtrack-consumer: unknown argument \"%s\" (try --help)\n", a);
            return 2;
        }
    }
    return -1;
}

/* Settings: defaults, then the file, then RUNTRACK_* (config.h), then what the API checks
 * beyond the table. Returns 0, or -1 after printing the one-line reason. */
static int load_settings(rt_config_t *cfg, const char *path)
{
    char err[512];
    if ((path && rt_config_load_file(cfg, path, err, sizeof err) != 0) ||
        rt_config_apply_env(cfg, environ, err, sizeof err) != 0 ||
        rt_api_check_settings(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "runtrack-consumer: %s\n", err);
        return -1;
    }
    return 0;
}

static void install_signals(const rt_config_t *cfg)
{
    g_grace_s = (sig_atomic_t)(cfg->shutdown_timeout_ms / 1000 + 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* SIGHUP re-reads the HTTPS certificate and key (the other settings are read once at
     * start), and never kills the consumer (a closed terminal). SA_RESTART: the threads it
     * lands in (librdkafka's, libpq's) see no EINTR from it where the kernel can restart. */
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
}

/* The HTTP API (with /readyz answered from ready) and the maintenance thread run beside the
 * live consumer only, when the HTTP API is configured. Either failing to start is logged, not
 * fatal: ingesting matters more than serving. */
static void start_beside(const rt_config_t *cfg, rt_metrics_t *metrics, rt_ready_t *ready,
                         rt_api_t **api, rt_maint_t **maint)
{
    char err[512];
    rt_api_hooks_t hooks = {.metrics = metrics,
                            .ready_cb = rt_ready_check,
                            .ready_arg = ready,
                            .reload_sem = &g_reload};
    if (!(*api = rt_api_start(cfg, &hooks, err, sizeof err)))
        rt_log(RT_L_ERROR, "HTTP API not started", "error=\"%s\"", err);
    else
        rt_log(RT_L_INFO, "HTTP API listening", "addr=%s port=%u scheme=%s", cfg->http_addr,
               rt_api_port(*api), rt_api_is_tls(*api) ? "https" : "http");
    if (cfg->maintenance_interval_s > 0 && !(*maint = rt_maint_start(cfg, err, sizeof err)))
        rt_log(RT_L_ERROR, "maintenance not started", "error=\"%s\"", err);
}

/* run and replay: the pending migrations when migrate_on_start, then the pipeline until it
 * stops, with the parts beside it. */
static int run_pipeline(const rt_config_t *cfg, rt_opts_t *opts, rt_metrics_t *metrics)
{
    rt_ready_t ready;
    rt_api_t *api = NULL;
    rt_maint_t *maint = NULL;
    int rc;
    rt_ready_init(&ready);
    opts->metrics = metrics;
    if (opts->mode == RT_MODE_RUN && cfg->http_port >= 0) {
        /* /readyz: brokers reachable and partitions assigned, kept by the ingest loop. */
        opts->ready = &ready;
        start_beside(cfg, metrics, &ready, &api, &maint);
    }
    /* Stopped before PostgreSQL was reached (1): a clean stop. */
    if (cfg->migrate_on_start && (rc = rt_db_migrate_wait(cfg, metrics, &g_stop)) != 0)
        rc = rc > 0 ? 0 : 1;
    else
        rc = rt_pipeline_run(cfg, opts, &g_stop);
    rt_maint_stop(maint);
    rt_api_stop(api);
    return rc;
}

int main(int argc, char **argv)
{
    tune_malloc();
    cli_t cli = {.config_path = getenv("RUNTRACK_CONFIG"),
                 .cmd = "run",
                 .opts = {.mode = RT_MODE_RUN, .exit_when_idle_ms = -1, .from_time_us = -1}};
    int rc = parse_args(argc, argv, &cli);
    if (rc >= 0)
        return rc;
    if (!strcmp(cli.cmd, "config-sample")) {
        rt_config_print_sample(stdout);
        return 0;
    }
    if (!strcmp(cli.cmd, "config-doc")) {
        rt_config_print_markdown(stdout);
        return 0;
    }
    if (!strcmp(cli.cmd, "scopes-doc")) {
        rt_api_print_scopes(stdout);
        return 0;
    }
    rt_config_t cfg;
    if (rt_config_init(&cfg) != 0) {
        fprintf(stderr, "runtrack-consumer: out of memory\n");
        return 1;
    }
    rc = 2;
    if (load_settings(&cfg, cli.config_path) != 0)
        goto out;
    if (!strcmp(cli.cmd, "keys")) {
        /* No start-up log: its output is the key, and settings are not news here. */
        rc = rt_keys_cli(&cfg, cli.sub_argc, cli.sub_argv, stdout, stderr);
        goto out;
    }
    if (sem_init(&g_reload, 0, 0) != 0) {
        fprintf(stderr, "runtrack-consumer: cannot create a semaphore\n");
        rc = 1;
        goto out;
    }
    install_signals(&cfg);
    rt_log(RT_L_INFO, "runtrack-consumer starting", "version=%s command=%s pid=%d",
           RUNTRACK_VERSION_STRING, cli.cmd, (int)getpid());
    rt_config_log(&cfg);
    /* One set of counters for the whole process: the pipeline records, /metrics and the exit
     * summary read them. */
    rt_metrics_t *metrics = rt_metrics_new();
    if (!metrics) {
        rt_log(RT_L_ERROR, "out of memory", NULL);
        rc = 1;
    } else if (!strcmp(cli.cmd, "migrate")) {
        rc = rt_db_migrate_wait(&cfg, NULL, &g_stop) == 0 ? 0 : 1;
    } else {
        if (!strcmp(cli.cmd, "replay"))
            cli.opts.mode = RT_MODE_REPLAY;
        rc = run_pipeline(&cfg, &cli.opts, metrics);
    }
    rt_metrics_destroy(metrics);
    rt_log(rc == 0 ? RT_L_INFO : RT_L_ERROR, "runtrack-consumer exiting", "status=%d", rc);
    signal(SIGHUP, SIG_IGN); /* before the semaphore it posts goes */
    sem_destroy(&g_reload);
out:
    rt_config_free(&cfg);
    return rc;
}
