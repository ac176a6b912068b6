#include "config.h"

#include <ctype.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt_buf.h"
#include "rt_event.h"
#include "rt_num.h"

typedef enum { CF_STR, CF_INT, CF_BOOL } cf_type_t;

/* cf_entry.secret: 1 = a DSN (its password options masked), RT_CF_SECRET_WHOLE = a secret
 * shown only as "****" when set. */
#define RT_CF_SECRET_WHOLE 2

/* One row per setting. reload: whether a future SIGHUP reload may change it (informational for
 * now; the consumer applies settings at start). */
typedef struct cf_entry {
    const char *name;
    cf_type_t type;
    size_t off;
    const char *def;
    const char *env;
    int reload;
    int secret;
    long min, max;
    /* A string setting's own syntax check (NULL: any text): 0, or -1 with err filled. */
    int (*check)(const char *v, char *err, size_t errsize);
    const char *help;
} cf_entry_t;

#define CF_S(n, def, env, reload, secret, help)                                                    \
    {#n, CF_STR, offsetof(rt_config_t, n), def, env, reload, secret, 0, 0, NULL, help}
#define CF_SC(n, def, env, reload, check, help)                                                    \
    {#n, CF_STR, offsetof(rt_config_t, n), def, env, reload, 0, 0, 0, check, help}
#define CF_I(n, def, env, reload, lo, hi, help)                                                    \
    {#n, CF_INT, offsetof(rt_config_t, n), def, env, reload, 0, lo, hi, NULL, help}
#define CF_B(n, def, env, reload, help)                                                            \
    {#n, CF_BOOL, offsetof(rt_config_t, n), def, env, reload, 0, 0, 1, NULL, help}

static int check_job_intervals(const char *v, char *err, size_t errsize)
{
    return rt_config_job_intervals(v, NULL, NULL, err, errsize);
}

/* http_allowed_hosts: "*" alone, or comma-separated host names / IPv4 literals / bracketed
 * IPv6 literals, without ports (a Host header's port is not compared, docs/api.md#host). */
static int check_allowed_hosts(const char *v, char *err, size_t errsize)
{
    if (!strcmp(v, "*") || !*v)
        return 0;
    for (const char *p = v;;) {
        size_t len = strcspn(p, ",");
        int bracket = len > 2 && p[0] == '[' && p[len - 1] == ']';
        size_t bad = bracket ? strspn(p + 1, "0123456789abcdefABCDEF:.") + 1
                             : strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789.-_");
        if (len == 0 || len > 253 || (bracket ? bad != len - 1 : bad != len)) {
            snprintf(err, errsize,
                     "expected \"*\" or comma-separated host names or IP literals without a "
                     "port, got \"%.*s\"",
                     (int)(len > 80 ? 80 : len), p);
            return -1;
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* auth: one of the three modes (rt_auth_mode resolves auto against http_addr). */
static int check_auth_mode(const char *v, char *err, size_t errsize)
{
    if (!strcmp(v, "auto") || !strcmp(v, "required") || !strcmp(v, "off"))
        return 0;
    snprintf(err, errsize, "expected required, off or auto, got \"%.40s\"", v);
    return -1;
}

/* http_cookie_secure: auto, true or false. */
static int check_cookie_secure(const char *v, char *err, size_t errsize)
{
    if (!strcmp(v, "auto") || !strcmp(v, "true") || !strcmp(v, "false"))
        return 0;
    snprintf(err, errsize, "expected auto, true or false, got \"%.40s\"", v);
    return -1;
}

static const cf_entry_t cf_table[] = {
    CF_S(pg_dsn, "", "RUNTRACK_PG_DSN", 0, 1,
         "PostgreSQL connection string (libpq conninfo or URI); empty uses the PG* environment"),
    CF_S(brokers, "localhost:9092", "RUNTRACK_BROKERS", 0, 0,
         "Kafka bootstrap servers, comma-separated host:port"),
    CF_S(topic, "runtrack.events", "RUNTRACK_TOPIC", 0, 0, "Kafka topic holding the run events"),
    CF_S(group, "runtrack-consumer", "RUNTRACK_GROUP", 0, 0,
         "Consumer group id; also the group_id key of the consumer_offsets table"),
    CF_S(client_id, "runtrack-consumer", "RUNTRACK_CLIENT_ID", 0, 0, "Kafka client.id"),
    CF_I(batch_max_events, "10000", "RUNTRACK_BATCH_MAX_EVENTS", 1, 1, 1000000,
         "Largest number of Kafka records applied in one PostgreSQL transaction; a batch keeps "
         "each record's bytes (~0.5 KB per event) and one row per run, two batches in flight"),
    CF_I(batch_max_ms, "100", "RUNTRACK_BATCH_MAX_MS", 1, 1, 60000,
         "Longest time (ms) a batch collects after its first record; it closes earlier when "
         "no more records are waiting (see docs/operations.md, Latency and throughput)"),
    CF_I(max_event_bytes, "1048576", "RUNTRACK_MAX_EVENT_BYTES", 1, 64, 67108864,
         "Records larger than this (bytes) are dead-lettered with reason oversize"),
    CF_I(retry_min_ms, "100", "RUNTRACK_RETRY_MIN_MS", 1, 1, 60000,
         "First back-off (ms) after a PostgreSQL failure; doubles up to retry_max_ms"),
    CF_I(retry_max_ms, "5000", "RUNTRACK_RETRY_MAX_MS", 1, 1, 600000,
         "Largest back-off (ms) between PostgreSQL retries"),
    CF_I(shutdown_timeout_ms, "10000", "RUNTRACK_SHUTDOWN_TIMEOUT_MS", 1, 100, 600000,
         "On SIGTERM/SIGINT, how long (ms) leaving the group may take before the process exits"),
    CF_B(migrate_on_start, "true", "RUNTRACK_MIGRATE_ON_START", 0,
         "Apply pending schema migrations when 'run' starts"),
    CF_B(kafka_commit, "true", "RUNTRACK_KAFKA_COMMIT", 1,
         "Also commit offsets to Kafka (async, after PostgreSQL) so lag tools see progress; "
         "PostgreSQL stays the source of truth"),
    CF_S(http_addr, "127.0.0.1", "RUNTRACK_HTTP_ADDR", 0, 0, "HTTP API bind address (IPv4)"),
    CF_I(http_port, "8080", "RUNTRACK_HTTP_PORT", 0, -1, 65535,
         "HTTP API port (runs, logs, health, /metrics); -1 disables the HTTP API, 0 picks a free port"),
    CF_I(http_cache_ms, "1000", "RUNTRACK_HTTP_CACHE_MS", 0, 0, 60000,
         "How long (ms) an answer of GET /api/health or /api/jobs is reused (refreshed ahead while "
         "in demand; docs/api.md#report-cache); 0 computes every request"),
    CF_I(http_pool_size, "4", "RUNTRACK_HTTP_POOL_SIZE", 0, 1, 64,
         "PostgreSQL connections (read-only sessions) the HTTP API's requests share"),
    CF_I(http_threads, "4", "RUNTRACK_HTTP_THREADS", 0, 1, 64, "HTTP API worker threads"),
    CF_I(http_max_connections, "64", "RUNTRACK_HTTP_MAX_CONNECTIONS", 0, 1, 10000,
         "Concurrent HTTP connections; more are refused"),
    CF_I(http_connection_timeout_s, "10", "RUNTRACK_HTTP_CONNECTION_TIMEOUT_S", 0, 1, 3600,
         "An idle or slow HTTP client is disconnected after this long (s)"),
    CF_I(http_statement_timeout_ms, "5000", "RUNTRACK_HTTP_STATEMENT_TIMEOUT_MS", 0, 1, 600000,
         "Longest run (ms) of one SQL statement of an HTTP request, and the longest wait for a "
         "pooled connection; past it the request answers 503"),
    CF_I(http_max_body_bytes, "16384", "RUNTRACK_HTTP_MAX_BODY_BYTES", 0, 0, 1048576,
         "HTTP requests with a larger body (bytes) are answered 413"),
    CF_I(http_max_url_bytes, "4096", "RUNTRACK_HTTP_MAX_URL_BYTES", 0, 256, 65536,
         "HTTP requests with a longer path and query (bytes) are answered 414"),
    CF_SC(http_allowed_hosts, "", "RUNTRACK_HTTP_ALLOWED_HOSTS", 0, check_allowed_hosts,
          "Host names (comma-separated, no port) the HTTP API answers besides its bind address; "
          "other Host headers get 421 (docs/api.md#host-header). \"*\" turns the check off, "
          "for a proxy that rewrites Host"),
    CF_I(stale_after_s, "300", "RUNTRACK_STALE_AFTER_S", 0, 1, 86400 * 30,
         "A running run without any event for this long (s) is reported stale"),
    CF_I(stale_close_after_s, "3600", "RUNTRACK_STALE_CLOSE_AFTER_S", 0, 0, 86400 * 365,
         "A stale run is closed as failed after this long (s) without events; 0 never closes"),
    CF_S(display_tz, "", "RUNTRACK_DISPLAY_TZ", 0, 0,
         "Fixed IANA time zone for the web dashboard's times (e.g. America/New_York); empty "
         "shows each viewer's own zone"),
    CF_I(retention_days, "90", "RUNTRACK_RETENTION_DAYS", 0, 1, 36500,
         "Runs, logs, results, discovery runs and dead letters older than this (days) are "
         "deleted; the default of the retention_*_days settings below"),
    CF_I(retention_runs_days, "0", "RUNTRACK_RETENTION_RUNS_DAYS", 0, 0, 36500,
         "Retention (days) of finished runs and their run_logs; 0 uses retention_days "
         "(running runs are never deleted)"),
    CF_I(retention_run_results_days, "0", "RUNTRACK_RETENTION_RUN_RESULTS_DAYS", 0, 0, 36500,
         "Retention (days) of run_results rows, by time_stamp; 0 uses retention_days"),
    CF_I(retention_discovery_runs_days, "0", "RUNTRACK_RETENTION_DISCOVERY_RUNS_DAYS", 0, 0,
         36500, "Retention (days) of discovery_runs rows, by created_at; 0 uses retention_days"),
    CF_I(retention_dead_letters_days, "0", "RUNTRACK_RETENTION_DEAD_LETTERS_DAYS", 0, 0, 36500,
         "Retention (days) of dead_letters rows, by received_at; 0 uses retention_days"),
    CF_I(retention_batch_rows, "5000", "RUNTRACK_RETENTION_BATCH_ROWS", 0, 1, 1000000,
         "Rows deleted per retention statement (each its own short transaction)"),
    CF_I(maintenance_interval_s, "30", "RUNTRACK_MAINTENANCE_INTERVAL_S", 0, 0, 86400,
         "How often (s) the maintenance thread closes stale runs and deletes rows past "
         "retention; 0 turns maintenance off"),
    CF_S(health_windows, "12,24,48,72", "RUNTRACK_HEALTH_WINDOWS", 0, 0,
         "Default windows (hours, comma-separated, 1..8760, at most 16) of GET /api/health"),
    CF_I(health_success_healthy, "85", "RUNTRACK_HEALTH_SUCCESS_HEALTHY", 0, 0, 100,
         "Health: a success rate (%) at or above this is healthy"),
    CF_I(health_success_critical, "70", "RUNTRACK_HEALTH_SUCCESS_CRITICAL", 0, 0, 100,
         "Health: a success rate (%) below this is critical (between the two: warning)"),
    CF_I(health_freshness_healthy, "70", "RUNTRACK_HEALTH_FRESHNESS_HEALTHY", 0, 0, 100,
         "Health: a freshness (%) at or above this is healthy"),
    CF_I(health_freshness_critical, "50", "RUNTRACK_HEALTH_FRESHNESS_CRITICAL", 0, 0, 100,
         "Health: a freshness (%) below this is critical (between the two: warning)"),
    CF_I(health_failures_alert_24h, "5", "RUNTRACK_HEALTH_FAILURES_ALERT_24H", 0, 0, 1000000,
         "Health: alert when a job failed more often than this in 24 hours"),
    CF_I(health_no_success_alert_s, "86400", "RUNTRACK_HEALTH_NO_SUCCESS_ALERT_S", 0, 1,
         86400 * 365, "Health: alert when a job's last successful run is older than this (s)"),
    CF_I(health_last_run_alert_s, "5400", "RUNTRACK_HEALTH_LAST_RUN_ALERT_S", 0, 1, 86400 * 365,
         "Health: alert when the newest run started longer ago than this (s)"),
    CF_I(health_interval_sample, "20", "RUNTRACK_HEALTH_INTERVAL_SAMPLE", 0, 1, 1000,
         "Health: a job's expected interval is the median gap between its last this many + 1 "
         "run starts (unless health_job_intervals names the job)"),
    CF_SC(health_job_intervals, "", "RUNTRACK_HEALTH_JOB_INTERVALS", 0, check_job_intervals,
          "Health: expected interval (s) per job, overriding the median, as comma-separated "
          "job=seconds pairs (e.g. \"job_a=3600,job_b=86400\"); empty: the median for every job"),
    /* Environment errors are waited out, and stalls are visible (lock/statement timeouts of
     * the ingest session, /readyz after no progress). */
    CF_I(pg_lock_timeout_ms, "10000", "RUNTRACK_PG_LOCK_TIMEOUT_MS", 0, 0, 3600000,
         "Longest wait (ms) of an ingest statement for a lock (a table locked by a migration or "
         "by hand); past it the batch is retried with back-off and counted in db_errors; 0 waits "
         "forever"),
    CF_I(pg_statement_timeout_ms, "60000", "RUNTRACK_PG_STATEMENT_TIMEOUT_MS", 0, 0, 3600000,
         "Longest run (ms) of one ingest statement; past it the batch is retried with back-off; "
         "0 = no limit"),
    CF_I(ready_stall_s, "60", "RUNTRACK_READY_STALL_S", 0, 0, 86400,
         "GET /readyz answers 503 ingest_stalled once records have waited this long (s) without "
         "a commit; 0 turns the check off"),
    /* Producer clocks: the bound of the accepted skew between an event's ts and the consumer. */
    CF_I(max_clock_skew_s, "86400", "RUNTRACK_MAX_CLOCK_SKEW_S", 0, 0, 86400 * 3650,
         "An event whose ts is further than this (s) from the consumer's clock when it arrives "
         "is kept, but its run is flagged (runs.clock_skew_s) and the run's durations are "
         "clamped to its receive span +- twice this; 0 checks nothing (docs/events.md)"),
    /* Poison isolation: the dead-letter payload cap (bounded per day, not only by age). */
    CF_I(dead_letters_max_kib_per_day, "1048576", "RUNTRACK_DEAD_LETTERS_MAX_KIB_PER_DAY", 0, 0,
         INT_MAX,
         "Dead-letter payload stored per UTC day (KiB), all consumers together: past it, dead "
         "letters keep reason, key, position, size and detail but not the payload (counted in "
         "runtrack_dead_letters_payload_dropped_total); 0 = no cap"),
    /* HTTPS (issue: API keys, dashboard login, HTTPS, audit trail): docs/operations.md#https. */
    CF_S(http_tls_cert_file, "", "RUNTRACK_HTTP_TLS_CERT_FILE", 0, 0,
         "PEM certificate chain (server certificate first) the HTTP API serves HTTPS with; set "
         "together with http_tls_key_file, both empty = plain HTTP. Both files are read again on "
         "SIGHUP"),
    CF_S(http_tls_key_file, "", "RUNTRACK_HTTP_TLS_KEY_FILE", 0, 0,
         "PEM private key (unencrypted) of http_tls_cert_file; keep it readable by the consumer's "
         "user only"),
    /* API keys, scopes and the audit trail (docs/api.md, Authentication). */
    CF_SC(auth, "auto", "RUNTRACK_AUTH", 0, check_auth_mode,
          "HTTP API authentication: required (Bearer API key), off, or auto = required unless "
          "http_addr is a loopback address; off on any other address needs auth_insecure"),
    CF_B(auth_insecure, "false", "RUNTRACK_AUTH_INSECURE", 0,
         "Allow auth = off on a non-loopback http_addr (anyone who reaches the port can read "
         "everything); a warning is logged at every start"),
    CF_S(auth_secret, "", "RUNTRACK_AUTH_SECRET", 0, RT_CF_SECRET_WHOLE,
         "Server secret (16+ bytes) keying the HMAC-SHA256 under which API keys are stored; "
         "never shown. Prefer auth_secret_file"),
    CF_S(auth_secret_file, "", "RUNTRACK_AUTH_SECRET_FILE", 0, 0,
         "File holding the server secret (one line; e.g. head -c 32 /dev/urandom | base64); "
         "used when auth_secret is empty"),
    CF_I(auth_cache_ms, "5000", "RUNTRACK_AUTH_CACHE_MS", 0, 0, 300000,
         "How long (ms) a verified API key is reused without asking PostgreSQL; a revoked key "
         "is refused at most this long after its revocation; 0 checks every request"),
    CF_I(auth_touch_s, "60", "RUNTRACK_AUTH_TOUCH_S", 0, 0, 86400,
         "api_keys.last_used_at is written at most this often (s) per key; 0 on every use"),
    CF_B(metrics_auth, "false", "RUNTRACK_METRICS_AUTH", 0,
         "GET /metrics needs a read key (Prometheus: authorization credentials) when auth is "
         "required; false leaves it open like /healthz"),
    /* Dashboard login (issue: API keys, dashboard login, HTTPS, audit trail): docs/api.md#sessions. */
    CF_SC(http_cookie_secure, "auto", "RUNTRACK_HTTP_COOKIE_SECURE", 0, check_cookie_secure,
          "Whether the dashboard's session cookie is marked Secure (sent over HTTPS only): auto = "
          "when this server serves HTTPS, true = always (a TLS-terminating proxy is in front), "
          "false = never"),
    CF_I(session_idle_s, "3600", "RUNTRACK_SESSION_IDLE_S", 0, 60, 2592000,
         "A dashboard session ends after this many seconds without a request (an open dashboard "
         "polls, so it stays alive); last use is written at most every auth_touch_s"),
    CF_I(session_max_s, "43200", "RUNTRACK_SESSION_MAX_S", 0, 60, 2592000,
         "A dashboard session ends this many seconds after the login, however busy"),
    CF_I(login_failures_per_min, "10", "RUNTRACK_LOGIN_FAILURES_PER_MIN", 0, 1, 10000,
         "Failed logins (POST /api/session) one remote address may make per minute (token "
         "bucket of this size refilled over a minute); past it every login attempt from that "
         "address gets 429 with Retry-After"),
};
#define CF_N (sizeof cf_table / sizeof cf_table[0])

static char **str_at(rt_config_t *cfg, const cf_entry_t *e)
{
    return (char **)(void *)((char *)cfg + e->off);
}
static int *int_at(rt_config_t *cfg, const cf_entry_t *e)
{
    return (int *)(void *)((char *)cfg + e->off);
}

/* Parses a setting's text value (default, env) into cfg. */
static int set_from_text(rt_config_t *cfg, const cf_entry_t *e, const char *v, char *err,
                         size_t errsize)
{
    switch (e->type) {
    case CF_STR: {
        if (e->check) {
            char why[256];
            if (e->check(v, why, sizeof why) != 0) {
                snprintf(err, errsize, "%s: %s", e->name, why);
                return -1;
            }
        }
        char *dup = strdup(v);
        if (!dup) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        free(*str_at(cfg, e));
        *str_at(cfg, e) = dup;
        return 0;
    }
    case CF_INT: {
        int64_t n;
        if (rt_parse_i64(v, e->min, e->max, &n) != 0) {
            snprintf(err, errsize, "%s: expected an integer %ld..%ld, got \"%s\"", e->name,
                     e->min, e->max, v);
            return -1;
        }
        *int_at(cfg, e) = (int)n;
        return 0;
    }
    case CF_BOOL:
        if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
            !strcasecmp(v, "on")) {
            *int_at(cfg, e) = 1;
        } else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
                   !strcasecmp(v, "off")) {
            *int_at(cfg, e) = 0;
        } else {
            snprintf(err, errsize, "%s: expected true or false, got \"%s\"", e->name, v);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const cf_entry_t *find_entry(const char *name)
{
    for (size_t i = 0; i < CF_N; i++)
        if (!strcmp(cf_table[i].name, name))
            return &cf_table[i];
    return NULL;
}

int rt_config_set(rt_config_t *cfg, const char *name, const char *value, char *err,
                  size_t errsize)
{
    const cf_entry_t *e = find_entry(name);
    if (!e) {
        snprintf(err, errsize, "unknown setting \"%s\"", name);
        return -1;
    }
    return set_from_text(cfg, e, value, err, errsize);
}

/* 1 when the pairs of s before stop already name job. */
static int job_listed_before(const char *s, const char *stop, const char *job, size_t job_len)
{
    while (s < stop) {
        const char *eq = NULL;
        const char *p = s;
        for (; p < stop && *p != ','; p++)
            if (*p == '=')
                eq = p;
        if (eq && (size_t)(eq - s) == job_len && !memcmp(s, job, job_len))
            return 1;
        s = p + 1;
    }
    return 0;
}

int rt_config_job_intervals(const char *s, rt_config_interval_fn fn, void *arg, char *err,
                            size_t errsize)
{
    const char *p = s;
    if (!s || !*s)
        return 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *eq = NULL;
        for (const char *q = p; q < p + len; q++)
            if (*q == '=')
                eq = q;
        size_t job_len = eq ? (size_t)(eq - p) : 0;
        char num[24];
        int64_t seconds = 0;
        if (eq && len - job_len - 1 < sizeof num) {
            memcpy(num, eq + 1, len - job_len - 1);
            num[len - job_len - 1] = '\0';
        } else {
            num[0] = '\0';
        }
        if (job_len == 0 || job_len > RT_JOB_MAX ||
            rt_parse_i64(num, 1, RT_CONFIG_JOB_INTERVAL_MAX_S, &seconds) != 0) {
            snprintf(err, errsize,
                     "expected comma-separated job=seconds pairs (seconds 1..%d), got \"%.*s\"",
                     RT_CONFIG_JOB_INTERVAL_MAX_S, (int)(len > 120 ? 120 : len), p);
            return -1;
        }
        if (job_listed_before(s, p, p, job_len)) {
            snprintf(err, errsize, "job \"%.*s\" is given more than one interval",
                     (int)job_len, p);
            return -1;
        }
        if (fn && fn(arg, p, job_len, seconds) != 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

int rt_config_init(rt_config_t *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CF_N; i++)
        if (set_from_text(cfg, &cf_table[i], cf_table[i].def, err, sizeof err) != 0) {
            rt_config_free(cfg);
            return -1;
        }
    return 0;
}

void rt_config_free(rt_config_t *cfg)
{
    for (size_t i = 0; i < CF_N; i++)
        if (cf_table[i].type == CF_STR) {
            free(*str_at(cfg, &cf_table[i]));
            *str_at(cfg, &cf_table[i]) = NULL;
        }
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka_names[i]);
        free(cfg->kafka_values[i]);
    }
    free(cfg->kafka_names);
    free(cfg->kafka_values);
    cfg->kafka_names = cfg->kafka_values = NULL;
    cfg->n_kafka = 0;
}

int rt_config_set_kafka(rt_config_t *cfg, const char *name, const char *value)
{
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (!strcmp(cfg->kafka_names[i], name)) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(cfg->kafka_values[i]);
            cfg->kafka_values[i] = v;
            return 0;
        }
    char **nn = realloc(cfg->kafka_names, (cfg->n_kafka + 1) * sizeof *nn);
    if (!nn)
        return -1;
    cfg->kafka_names = nn;
    char **nv = realloc(cfg->kafka_values, (cfg->n_kafka + 1) * sizeof *nv);
    if (!nv)
        return -1;
    cfg->kafka_values = nv;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    cfg->kafka_names[cfg->n_kafka] = n;
    cfg->kafka_values[cfg->n_kafka] = v;
    cfg->n_kafka++;
    return 0;
}

/* "name=value" → kafka property. */
static int kafka_from_pair(rt_config_t *cfg, const char *pair, char *err, size_t errsize)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair) {
        snprintf(err, errsize, "kafka: expected \"name=value\", got \"%s\"", pair);
        return -1;
    }
    char name[256];
    size_t n = (size_t)(eq - pair);
    if (n >= sizeof name) {
        snprintf(err, errsize, "kafka: property name too long");
        return -1;
    }
    memcpy(name, pair, n);
    name[n] = '\0';
    if (rt_config_set_kafka(cfg, name, eq + 1) != 0) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

/* libconfig names cannot contain dots, so a group member "security_protocol" stands for the
 * property "security.protocol" (as the RUNTRACK_KAFKA_* variables do). */
static void underscore_to_dot(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = in[i] == '_' ? '.' : (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static int load_kafka(rt_config_t *cfg, config_setting_t *k, char *err, size_t errsize)
{
    int n = config_setting_length(k);
    for (int i = 0; i < n; i++) {
        config_setting_t *m = config_setting_get_elem(k, (unsigned)i);
        const char *v = config_setting_get_string(m);
        if (config_setting_is_group(k)) {
            char name[256], num[64];
            underscore_to_dot(config_setting_name(m), name, sizeof name);
            if (!v && config_setting_type(m) == CONFIG_TYPE_INT) {
                snprintf(num, sizeof num, "%d", config_setting_get_int(m));
                v = num;
            } else if (!v && config_setting_type(m) == CONFIG_TYPE_BOOL) {
                v = config_setting_get_bool(m) ? "true" : "false";
            }
            if (!v) {
                snprintf(err, errsize, "kafka.%s: expected a string, number or boolean",
                         config_setting_name(m));
                return -1;
            }
            if (rt_config_set_kafka(cfg, name, v) != 0) {
                snprintf(err, errsize, "out of memory");
                return -1;
            }
        } else {
            if (!v) {
                snprintf(err, errsize, "kafka: list members must be \"name=value\" strings");
                return -1;
            }
            if (kafka_from_pair(cfg, v, err, errsize) != 0)
                return -1;
        }
    }
    return 0;
}

int rt_config_load_file(rt_config_t *cfg, const char *path, char *err, size_t errsize)
{
    config_t lc;
    int rc = -1;
    config_init(&lc);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            snprintf(err, errsize, "%s: cannot read file", path);
        else
            snprintf(err, errsize, "%s:%d: %s", path, config_error_line(&lc),
                     config_error_text(&lc));
        goto out;
    }
    config_setting_t *root = config_root_setting(&lc);
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (!strcmp(name, "kafka")) {
            if (!config_setting_is_aggregate(s)) {
                snprintf(err, errsize, "%s: kafka must be a group or a list of \"name=value\"",
                         path);
                goto out;
            }
            if (load_kafka(cfg, s, err, errsize) != 0)
                goto out;
            continue;
        }
        const cf_entry_t *e = find_entry(name);
        if (!e) {
            snprintf(err, errsize, "%s:%u: unknown setting \"%s\"", path,
                     config_setting_source_line(s), name);
            goto out;
        }
        char num[64];
        const char *text = NULL;
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_STRING:
            text = config_setting_get_string(s);
            break;
        case CONFIG_TYPE_INT:
            snprintf(num, sizeof num, "%d", config_setting_get_int(s));
            text = num;
            break;
        case CONFIG_TYPE_INT64:
            snprintf(num, sizeof num, "%lld", config_setting_get_int64(s));
            text = num;
            break;
        case CONFIG_TYPE_BOOL:
            text = config_setting_get_bool(s) ? "true" : "false";
            break;
        default:
            break;
        }
        if (!text || (e->type == CF_STR && config_setting_type(s) != CONFIG_TYPE_STRING) ||
            (e->type == CF_BOOL && config_setting_type(s) != CONFIG_TYPE_BOOL)) {
            snprintf(err, errsize, "%s:%u: %s: wrong type (expected %s)", path,
                     config_setting_source_line(s), name,
                     e->type == CF_STR ? "a string" : e->type == CF_INT ? "an integer" : "true/false");
            goto out;
        }
        if (set_from_text(cfg, e, text, err, errsize) != 0)
            goto out;
    }
    rc = 0;
out:
    config_destroy(&lc);
    return rc;
}

int rt_config_apply_env(rt_config_t *cfg, char *const *envp, char *err, size_t errsize)
{
    static const char kpfx[] = "RUNTRACK_KAFKA_";
    for (size_t i = 0; i < CF_N; i++) {
        const char *v = NULL;
        size_t el = strlen(cf_table[i].env);
        for (char *const *p = envp; p && *p; p++)
            if (!strncmp(*p, cf_table[i].env, el) && (*p)[el] == '=')
                v = *p + el + 1;
        if (v && set_from_text(cfg, &cf_table[i], v, err, errsize) != 0) {
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s", err);
            snprintf(err, errsize, "%s: %s", cf_table[i].env, tmp);
            return -1;
        }
    }
    for (char *const *p = envp; p && *p; p++) {
        if (strncmp(*p, kpfx, sizeof kpfx - 1) != 0)
            continue;
        /* RUNTRACK_KAFKA_COMMIT is a setting of ours, not a librdkafka property. */
        if (!strncmp(*p, "RUNTRACK_KAFKA_COMMIT=", 22))
            continue;
        const char *eq = strchr(*p, '=');
        char raw[256], name[256];
        size_t n = (size_t)(eq - (*p + sizeof kpfx - 1));
        if (!eq || n == 0 || n >= sizeof raw)
            continue;
        memcpy(raw, *p + sizeof kpfx - 1, n);
        raw[n] = '\0';
        underscore_to_dot(raw, name, sizeof name);
        if (rt_config_set_kafka(cfg, name, eq + 1) != 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
    }
    return 0;
}

int rt_config_kafka_secret(const char *name)
{
    /* Substrings first (existing rule, deliberately broad: a key's path or a public
     * certificate masked is a smaller loss than a private one shown), then the free-text
     * properties whose values may carry credentials among other things. */
    static const char *const parts[] = {"password",  "secret", "passphrase",
                                        "sasl.jaas", ".pem",   "key"};
    static const char *const whole[] = {"sasl.oauthbearer.config", "sasl.oauthbearer.extensions",
                                        "sasl.kerberos.kinit.cmd"};
    char low[256];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    if (name[i])
        return 1; /* a name this long is no librdkafka property; show nothing of it */
    for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(low, parts[i]))
            return 1;
    for (i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (!strcmp(low, whole[i]))
            return 1;
    return 0;
}

/* 1 for a libpq option whose value must not be printed: libpq's own mark ("*": "password
 * field - hide value", PQconndefaults) or a name known to carry one. */
static int dsn_option_secret(const PQconninfoOption *o)
{
    return (o->dispchar && o->dispchar[0] == '*') || !strcmp(o->keyword, "password") ||
           !strcmp(o->keyword, "sslpassword");
}

/* Appends v as a conninfo value: bare when it is plain, else single-quoted with \ and '
 * escaped; control characters as \xHH (display only: one setting, one log line). */
static void dsn_add_value(rt_buf_t *b, const char *v)
{
    int quote = !*v || v[strcspn(v, " \t\n\r\f\v'\\\"")] != '\0';
    if (quote)
        rt_buf_addc(b, '\'');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            rt_buf_addf(b, "\\x%02x", *p);
        else if (*p == '\'' || *p == '\\')
            rt_buf_addf(b, "\\%c", *p);
        else
            rt_buf_addc(b, (char)*p);
    }
    if (quote)
        rt_buf_addc(b, '\'');
}

void rt_config_mask_dsn(const char *dsn, char *out, size_t size)
{
    char *perr = NULL;
    rt_buf_t b = {0};
    if (size == 0)
        return;
    out[0] = '\0';
    if (!dsn || !*dsn)
        return;
    /* Parsing, not pattern matching: whatever spelling libpq accepts (whitespace of any kind
     * between pairs, quoting, URI userinfo, percent-encoded keys and values) reaches the same
     * option, so a password cannot slip past in a form the mask did not foresee. */
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    if (!opts) {
        snprintf(out, size, "%s", RT_CONFIG_DSN_UNPARSEABLE);
        goto out;
    }
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue; /* not given in dsn (PQconninfoParse adds no defaults) */
        if (b.len)
            rt_buf_addc(&b, ' ');
        rt_buf_addf(&b, "%s=", o->keyword);
        if (dsn_option_secret(o))
            rt_buf_adds(&b, "****");
        else
            dsn_add_value(&b, o->val);
    }
    snprintf(out, size, "%s", b.oom ? "<out of memory>" : b.len ? b.data : "");
out:
    rt_buf_free(&b);
    PQconninfoFree(opts);
    PQfreemem(perr);
}

void rt_config_log(const rt_config_t *cfg)
{
    rt_config_t *c = (rt_config_t *)cfg;
    for (size_t i = 0; i < CF_N; i++) {
        const cf_entry_t *e = &cf_table[i];
        if (e->type == CF_STR) {
            const char *v = *str_at(c, e);
            char masked[512];
            if (e->secret == RT_CF_SECRET_WHOLE) {
                v = v && *v ? "****" : ""; /* shown only as set or not */
            } else if (e->secret) {
                rt_config_mask_dsn(v ? v : "", masked, sizeof masked);
                v = masked;
            }
            rt_log(RT_L_INFO, "setting", "name=%s value=\"%s\"", e->name, v ? v : "");
        } else {
            rt_log(RT_L_INFO, "setting", "name=%s value=%d", e->name, *int_at(c, e));
        }
    }
    for (size_t i = 0; i < cfg->n_kafka; i++)
        rt_log(RT_L_INFO, "setting", "name=kafka.%s value=\"%s\"", cfg->kafka_names[i],
               rt_config_kafka_secret(cfg->kafka_names[i]) ? "****" : cfg->kafka_values[i]);
}

static const char *type_name(cf_type_t t)
{
    switch (t) {
    case CF_STR:
        return "string";
    case CF_INT:
        return "integer";
    case CF_BOOL:
        return "boolean";
    }
    return "?";
}

void rt_config_print_help(FILE *f)
{
    fprintf(f, "Settings (config file key / environment variable, default):\n");
    for (size_t i = 0; i < CF_N; i++) {
        const cf_entry_t *e = &cf_table[i];
        fprintf(f, "  %-20s %-30s %s, default \"%s\"%s\n      %s\n", e->name, e->env,
                type_name(e->type), e->def, e->reload ? "" : " (restart)", e->help);
    }
    fprintf(f, "  kafka                RUNTRACK_KAFKA_<NAME>          librdkafka properties "
               "(e.g. RUNTRACK_KAFKA_SASL_USERNAME -> sasl.username)\n");
}

void rt_config_print_sample(FILE *f)
{
    fprintf(f, "# runtrack-consumer configuration (libconfig syntax). Generated from the settings\n"
               "# table: runtrack-consumer config-sample. Every key may be overridden by the\n"
               "# environment variable named beside it. Values shown are the defaults.\n\n");
    for (size_t i = 0; i < CF_N; i++) {
        const cf_entry_t *e = &cf_table[i];
        fprintf(f, "# %s\n# env %s, %s%s\n", e->help, e->env, type_name(e->type),
                e->reload ? "" : ", needs restart");
        if (e->type == CF_STR)
            fprintf(f, "%s = \"%s\";\n\n", e->name, e->def);
        else
            fprintf(f, "%s = %s;\n\n", e->name, e->def);
    }
    fprintf(f, "# librdkafka properties passed through verbatim (TLS, SASL, tuning). libconfig names\n"
               "# cannot contain dots, so give a list of \"name=value\" strings (or a group whose\n"
               "# member names use '_' for '.'). Env: RUNTRACK_KAFKA_<NAME>, '_' -> '.', lower-cased.\n"
               "# Secrets (sasl.password, ssl.key.password, ...) are never logged.\n"
               "kafka = (\n"
               "    # \"security.protocol=SASL_SSL\",\n"
               "    # \"sasl.mechanisms=SCRAM-SHA-512\",\n"
               "    # \"sasl.username=runtrack\",\n"
               "    # \"sasl.password=secret\",\n"
               "    \"socket.keepalive.enable=true\"\n"
               ");\n");
}

void rt_config_print_markdown(FILE *f)
{
    fprintf(f, "| key | environment | type | default | reload | meaning |\n"
               "|-----|-------------|------|---------|--------|---------|\n");
    for (size_t i = 0; i < CF_N; i++) {
        const cf_entry_t *e = &cf_table[i];
        fprintf(f, "| `%s` | `%s` | %s | `%s` | %s | %s |\n", e->name, e->env, type_name(e->type),
                e->def, e->reload ? "yes" : "no", e->help);
    }
    fprintf(f, "| `kafka` | `RUNTRACK_KAFKA_<NAME>` | list | | no | librdkafka properties, "
               "`\"name=value\"` strings |\n");
}
