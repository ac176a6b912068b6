/* The runtrack HTTP API: a read-only JSON API over the aggregated tables, served by
 * libmicrohttpd from inside runtrack-consumer (or alone, by tests/api_server_main.c), so that
 * no scraper or dashboard needs database credentials.
 *
 * It has its own small PostgreSQL connection pool (read-only sessions, statement timeout) and a
 * maintenance thread with one read-write connection (stale runs, retention; see maintenance.h);
 * it never touches the consumer's ingest connection. Endpoints: docs/api.md.
 *
 * Lifecycle (consumer main):
 *     rt_api_conf_t ac;
 *     rt_api_conf_defaults(&ac);
 *     ac.listen_addr = ...; ac.listen_port = ...; ac.pg_dsn = ...;
 *     ac.metrics = metrics;            // rt_metrics_new(), owned by main
 *     ac.ready_cb = my_ready; ac.ready_arg = ctx;
 *     rt_api_t *api = rt_api_start(&ac, err, sizeof err);   // NULL + err on failure
 *     ...
 *     rt_api_stop(api);                // before rt_metrics_destroy(metrics)
 */
#ifndef RT_HTTP_API_H
#define RT_HTTP_API_H

#include <libpq-fe.h>
#include <stddef.h>

#include "metrics.h"

typedef struct rt_api rt_api_t;

/* An expected interval between runs of one job, for the health report's freshness. */
typedef struct rt_api_job_interval {
    const char *job;
    double seconds;
} rt_api_job_interval_t;

#define RT_API_MAX_WINDOWS 16

typedef struct rt_health_conf {
    unsigned windows[RT_API_MAX_WINDOWS]; /* default report windows in hours */
    size_t nwindows;                      /* default 4: 12, 24, 48, 72 */
    double success_healthy;               /* % success rate at or above: healthy (85) */
    double success_critical;              /* % below: critical (70) */
    double freshness_healthy;             /* 70 */
    double freshness_critical;            /* 50 */
    long failures_alert_24h;              /* alert when a job failed more often in 24 h (5) */
    double no_success_alert_s;            /* alert when a job's last success is older (86400) */
    double last_run_alert_s;              /* alert when the newest run started longer ago (5400) */
    unsigned interval_sample;             /* run starts used for the median interval (20) */
    const rt_api_job_interval_t *intervals; /* configured per-job intervals (override median) */
    size_t nintervals;
} rt_health_conf_t;

/* Retention in days per table; 0 keeps forever. Running runs are never deleted. */
typedef struct rt_retention_conf {
    unsigned runs_days;           /* runs + run_logs (90) */
    unsigned run_results_days;    /* by time_stamp (90) */
    unsigned discovery_runs_days; /* by created_at (90) */
    unsigned dead_letters_days;   /* by received_at (90) */
    unsigned batch_rows;          /* rows per DELETE statement (5000) */
} rt_retention_conf_t;

/* Readiness of the consumer for GET /readyz: return 1 when ready, else 0 and a reason in why.
 * Called from API threads; must not block for long. */
typedef int (*rt_api_ready_fn)(void *arg, char *why, size_t whysize);

typedef struct rt_api_conf {
    const char *listen_addr;         /* IPv4 address to bind ("127.0.0.1") */
    unsigned listen_port;            /* 0 picks a free port: see rt_api_port (8080) */
    const char *pg_dsn;              /* libpq connection string (required) */
    unsigned pool_size;              /* PostgreSQL connections for requests (4) */
    unsigned threads;                /* MHD worker threads (4) */
    unsigned max_connections;        /* concurrent HTTP connections (64) */
    unsigned connection_timeout_s;   /* idle/slow client timeout (10) */
    unsigned statement_timeout_ms;   /* per SQL statement (5000) */
    unsigned cache_ttl_ms;           /* reuse a /api/health or /api/jobs answer (1000; 0 off) */
    size_t max_body_bytes;           /* larger request bodies get 413 (16384) */
    size_t max_url_bytes;            /* longer path+query gets 414 (4096) */
    double stale_after_s;            /* running run without events for longer is stale (300) */
    double stale_close_after_s;      /* ... and is closed as failed after this (3600; 0 never) */
    unsigned maintenance_interval_s; /* stale closing + retention period (30; 0 = no thread) */
    rt_health_conf_t health;
    rt_retention_conf_t retention;
    const char *bearer_token; /* for future state-changing endpoints; NULL = none allowed */
    const char *display_tz;   /* dashboard's fixed IANA time zone; NULL/"" = viewer's zone */
    rt_metrics_t *metrics;    /* consumer metrics for /metrics; may be NULL */
    rt_api_ready_fn ready_cb; /* may be NULL (then only the database decides) */
    void *ready_arg;
} rt_api_conf_t;

/* Fills c with the defaults noted above (pg_dsn NULL). */
void rt_api_conf_defaults(rt_api_conf_t *c);

/* Starts the server (and the maintenance thread). Copies every string/array of conf; metrics
 * and ready_arg stay owned by the caller and must outlive the server. Returns NULL and a
 * one-line reason in err on failure (bad conf, port in use). The database need not be up:
 * requests answer 503 until it is. Thread: any; does not block beyond binding the socket. */
rt_api_t *rt_api_start(const rt_api_conf_t *conf, char *err, size_t errsize);

/* The bound TCP port (useful with listen_port 0). */
unsigned rt_api_port(const rt_api_t *api);

/* Stops accepting, waits for running requests and the maintenance thread (bounded by the
 * statement timeout), closes connections and frees api. NULL is a no-op. */
void rt_api_stop(rt_api_t *api);

/* Authorization check for state-changing endpoints: 1 when authorization is exactly
 * "Bearer <configured token>", compared in constant time; 0 otherwise, and always 0 when no
 * token is configured. */
int rt_api_check_bearer(const rt_api_t *api, const char *authorization);

/* Constant-time comparison of a presented token with the expected one (time depends only on
 * the lengths). 1 when equal. */
int rt_api_token_equal(const char *given, const char *expected);

/* ---- for the handler modules (api_runs.c, health.c, metrics.c) ---- */

/* One request being answered. Handlers read parameters with rt_req_param, run SQL with
 * rt_req_exec (which acquires a pooled connection on first use) and set the response with
 * rt_req_json / rt_req_error / rt_req_text. */
typedef struct rt_req rt_req_t;

/* The URL-decoded query parameter, or NULL when absent. */
const char *rt_req_param(rt_req_t *req, const char *name);
/* Checks that every query parameter is in the NULL-terminated allowed list; otherwise sets a
 * 400 error and returns -1. */
int rt_req_allow_params(rt_req_t *req, const char *const *allowed);
const rt_api_conf_t *rt_req_conf(rt_req_t *req);
rt_metrics_t *rt_req_metrics(rt_req_t *req);

/* Runs a parameterized statement (text parameters, NULL = SQL NULL, text results). Returns the
 * tuples result (caller PQclear's), or NULL after setting the response: 503 when the database
 * is unreachable, busy or the statement timed out, 500 for other errors. */
PGresult *rt_req_exec(rt_req_t *req, const char *sql, int nparams, const char *const *params);
/* The pooled connection (acquired if needed), or NULL (response already set to 503). */
PGconn *rt_req_conn(rt_req_t *req);

/* Sets a JSON response; takes ownership of body (a jansson json_t *, passed as void * so this
 * header does not need jansson). */
void rt_req_json(rt_req_t *req, unsigned status, void *json_body);
/* Sets {"error": {"code": code, "message": printf-formatted message}}. */
void rt_req_error(rt_req_t *req, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets a plain-text response; takes ownership of the malloc'ed body. */
void rt_req_text(rt_req_t *req, unsigned status, const char *content_type, char *body);

/* Parameter parsing shared by handlers; each sets a 400 error naming the parameter and
 * returns -1 on bad input, or returns 0 and leaves *out untouched when the parameter is
 * absent (so callers preset defaults). */
int rt_req_long(rt_req_t *req, const char *name, long min, long max, long *out);
int rt_req_time(rt_req_t *req, const char *name, const char **out_text); /* RFC 3339 */

/* Opens a session for the API: connect_timeout 5 s unless the DSN says otherwise, TimeZone
 * UTC, statement_timeout, and default_transaction_read_only when read_only. Returns NULL and a
 * one-line reason in err on failure. */
PGconn *rt_api_pg_connect(const char *dsn, int read_only, unsigned statement_timeout_ms, char *err,
                          size_t errsize);

/* 1 when tz is NULL, empty, or looks like an IANA zone name (letters, digits, '/', '_', '-',
 * '+'; the browser decides whether the zone exists). */
int rt_api_valid_tz(const char *tz);

/* Pure helpers (unit-tested): parse a decimal integer in [min, max] (whole string). */
int rt_parse_long(const char *s, long min, long max, long *out);

#endif
