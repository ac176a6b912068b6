/* runtrack-consumer settings: one table (config.c) from which the libconfig file keys, the
 * RUNTRACK_* environment overrides, --help and the sample file all come (pgbouncer's CF_ABS). */
#ifndef RT_CONSUMER_CONFIG_H
#define RT_CONSUMER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rt_attr.h"

typedef struct rt_config {
    char *pg_dsn;      /* libpq conninfo; "" = libpq's PG* environment defaults */
    char *brokers;     /* bootstrap.servers */
    char *topic;       /* topic to consume */
    char *group;       /* consumer group id, also the consumer_offsets.group_id */
    char *client_id;   /* client.id */
    int batch_max_events;
    int batch_max_ms;
    int max_event_bytes;
    int retry_min_ms;
    int retry_max_ms;
    int shutdown_timeout_ms;
    int migrate_on_start;
    int kafka_commit;  /* also commit offsets to Kafka (async, after PG) for lag tools */
    char *http_addr;   /* HTTP API bind address */
    int http_port;     /* HTTP API port; -1 = no HTTP API */
    int http_cache_ms; /* /api/health and /api/jobs answers are reused this long; 0 = off */
    int http_pool_size;            /* PostgreSQL connections for requests */
    int http_threads;              /* HTTP worker threads */
    int http_max_connections;      /* concurrent HTTP connections */
    int http_connection_timeout_s; /* idle/slow client timeout */
    int http_statement_timeout_ms; /* per SQL statement of a request */
    int http_max_body_bytes;       /* larger request bodies get 413 */
    int http_max_url_bytes;        /* longer path + query gets 414 */
    char *http_allowed_hosts;      /* Host names served besides the bind address; "*" = any */
    int stale_after_s; /* a running run without events for this long is reported stale */
    int stale_close_after_s; /* ... and closed as failed after this long (0 = never) */
    int retention_days;      /* rows older than this are deleted by the maintenance thread */
    int retention_runs_days; /* per-table retention; 0 = retention_days */
    int retention_run_results_days;
    int retention_discovery_runs_days;
    int retention_dead_letters_days;
    int retention_batch_rows;   /* rows per retention DELETE statement */
    int maintenance_interval_s; /* stale closing + retention period; 0 = no maintenance */
    char *health_windows;       /* default /api/health windows, hours "12,24,48,72" */
    int health_success_healthy; /* success rate (%) bounds of the health status */
    int health_success_critical;
    int health_freshness_healthy; /* freshness (%) bounds */
    int health_freshness_critical;
    int health_failures_alert_24h; /* alert thresholds of the health report */
    int health_no_success_alert_s;
    int health_last_run_alert_s;
    int health_interval_sample; /* run-start gaps for a job's median interval */
    char *health_job_intervals; /* expected intervals "job=seconds,..." (override the median) */
    char *display_tz;        /* dashboard time zone (IANA name); "" = the viewer's zone */
    /* Producer clocks: how far (s) an event's ts may be from the consumer's clock before its
     * run is flagged and its durations clamped; 0 = no check. */
    int max_clock_skew_s;
    /* Poison isolation: dead-letter payload KiB stored per UTC day, all consumers (0 = no cap). */
    int dead_letters_max_kib_per_day;
    /* librdkafka properties passed through verbatim (kafka group / RUNTRACK_KAFKA_*). */
    size_t n_kafka;
    char **kafka_names;
    char **kafka_values;
    /* Environment errors waited out, stalls visible. */
    int pg_lock_timeout_ms;      /* lock_timeout of the ingest session; 0 = none */
    int pg_statement_timeout_ms; /* statement_timeout of the ingest session; 0 = none */
    int ready_stall_s;           /* /readyz 503 after this long without progress; 0 = off */
    /* HTTPS: PEM certificate chain and key files ("" both = plain HTTP), re-read on SIGHUP. */
    char *http_tls_cert_file;
    char *http_tls_key_file;
    /* API keys, scopes and the audit trail (api/auth.h). */
    char *auth;             /* "required", "off", "auto" (required unless http_addr is loopback) */
    int auth_insecure;      /* allow auth off on a non-loopback address (warned at every start) */
    char *auth_secret;      /* server secret keying the stored HMACs; never shown */
    char *auth_secret_file; /* ... or the file holding it */
    int auth_cache_ms;      /* verified keys reused this long; revocation takes effect within */
    int auth_touch_s;       /* last_used_at written at most this often per key */
    int metrics_auth;       /* /metrics needs a read key when auth is required */
    /* Dashboard login (api/session.c). */
    char *http_cookie_secure;   /* "auto" (Secure under HTTPS), "true", "false" */
    int session_idle_s;         /* a session ends after this long unused */
    int session_max_s;          /* ... and this long after its login */
    int login_failures_per_min; /* failed logins per remote address per minute, then 429 */
} rt_config_t;

/* Fills every setting with its default. Returns 0, or -1 when out of memory. */
int rt_config_init(rt_config_t *cfg) RT_MUSTCHECK;

/* Frees everything cfg owns; cfg may then be re-initialised. */
void rt_config_free(rt_config_t *cfg);

/* Reads a libconfig file over the current values. Unknown keys and wrongly typed values are
 * errors (so typos are not ignored). Returns 0, or -1 with err filled. */
int rt_config_load_file(rt_config_t *cfg, const char *path, char *err, size_t errsize) RT_MUSTCHECK;

/* Applies RUNTRACK_* overrides from envp (NULL-terminated "NAME=value" list, e.g. environ):
 * one variable per setting, plus RUNTRACK_KAFKA_<NAME> → librdkafka property <name> with '_'
 * turned into '.' and lower-cased. Returns 0, or -1 with err filled. */
int rt_config_apply_env(rt_config_t *cfg, char *const *envp, char *err, size_t errsize) RT_MUSTCHECK;

/* Sets one setting by its key from text, as the config file would (checked against the table).
 * Returns 0, or -1 with err filled (unknown key, bad value, out of memory). */
int rt_config_set(rt_config_t *cfg, const char *name, const char *value, char *err,
                  size_t errsize) RT_MUSTCHECK;

/* Longest expected interval of health_job_intervals: ten years, in seconds. */
#define RT_CONFIG_JOB_INTERVAL_MAX_S 315360000

/* Walks a health_job_intervals text ("job_a=3600,job_b=86400"; "" = none): each pair is a job
 * name (the text before the pair's last '=', 1..RT_JOB_MAX bytes, no ',') and whole seconds
 * 1..RT_CONFIG_JOB_INTERVAL_MAX_S; a job may be named once. Calls fn (when not NULL) for each
 * pair in order; a non-zero return of fn stops the walk as out of memory. Returns 0, or -1 with
 * a one-line reason in err naming the bad pair. */
typedef int (*rt_config_interval_fn)(void *arg, const char *job, size_t job_len, int64_t seconds);
int rt_config_job_intervals(const char *s, rt_config_interval_fn fn, void *arg, char *err,
                            size_t errsize) RT_MUSTCHECK;

/* Sets one librdkafka pass-through property (replacing an earlier value). Returns 0 or -1. */
int rt_config_set_kafka(rt_config_t *cfg, const char *name, const char *value) RT_MUSTCHECK;

/* Writes the settings table as --help text, as a commented sample libconfig file, or as a
 * Markdown table (docs/consumer.md). */
void rt_config_print_help(FILE *f);
void rt_config_print_sample(FILE *f);
void rt_config_print_markdown(FILE *f);

/* Logs the effective settings on one line each; secrets (the DSN's password options, Kafka
 * properties rt_config_kafka_secret names) are masked. */
void rt_config_log(const rt_config_t *cfg);

/* 1 if a librdkafka property name (any case) may hold a secret that must never be printed:
 * every name containing "password", "secret", "passphrase", "key" or ".pem", the JAAS
 * config, and the properties whose value is free text that may embed credentials
 * (sasl.oauthbearer.config, sasl.oauthbearer.extensions, sasl.kerberos.kinit.cmd). */
int rt_config_kafka_secret(const char *name);

/* What rt_config_mask_dsn prints for a DSN libpq cannot parse. */
#define RT_CONFIG_DSN_UNPARSEABLE "<unparseable DSN, not shown>"

/* Writes a printable form of dsn into out (truncated to size): libpq parses it
 * (PQconninfoParse: keyword=value or URI form, percent-decoding included) and the options it
 * holds are written back as keyword=value pairs, each option libpq marks as a password (and
 * password, sslpassword by name) as ****. A DSN libpq refuses is shown as
 * RT_CONFIG_DSN_UNPARSEABLE, never as its text; "" stays "". Control characters in values
 * are written as \xHH so that one setting stays one log line. */
void rt_config_mask_dsn(const char *dsn, char *out, size_t size);

#endif
