/* The runtrack HTTP API: a JSON API over the aggregated tables and the dashboard,
 * served by libmicrohttpd from inside runtrack-consumer (or alone, by tests/api_server_main.c),
 * so that no scraper or dashboard needs database credentials.
 *
 * Routes need the scope of an API key their row of the route table names (auth.h, server.c),
 * and state-changing ones are audited (keys.h).
 *
 * It reads the one settings struct (config.h: http_*, stale_after_s, health_*, display_tz) and
 * has its own small PostgreSQL connection pool (read-only sessions, statement timeout, pool.h);
 * it never touches the consumer's ingest connection. Endpoints: docs/api.md.
 *
 * Lifecycle (consumer main):
 *     rt_api_hooks_t hooks = {.metrics = metrics, .ready_cb = my_ready, .ready_arg = ctx};
 *     rt_api_t *api = rt_api_start(&cfg, &hooks, err, sizeof err);   // NULL + err on failure
 *     ...
 *     rt_api_stop(api);                // before rt_metrics_destroy(metrics), rt_config_free
 */
#ifndef RT_API_H
#define RT_API_H

#include <semaphore.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "metrics.h"
#include "rt_attr.h"

typedef struct rt_api rt_api_t;

/* Readiness of the consumer for GET /readyz: return 1 when ready, else 0 and a reason code in
 * why (1..47 of [a-z0-9_], e.g. "brokers_down"), which /readyz shows; any other text is logged
 * but shown as "not_ready". Called from API threads; must not block for long. */
typedef int (*rt_api_ready_fn)(void *arg, char *why, size_t whysize);

/* What the API is handed at run time besides the settings. */
typedef struct rt_api_hooks {
    rt_metrics_t *metrics;    /* consumer metrics for /metrics; may be NULL */
    rt_api_ready_fn ready_cb; /* may be NULL (then only the database decides) */
    void *ready_arg;
    /* Posted (a signal handler may: sem_post is async-signal-safe) to re-read the TLS
     * certificate and key files; NULL = never. Must outlive the server. */
    sem_t *reload_sem;
} rt_api_hooks_t;

/* Checks the health_* settings beyond what the settings table checks alone (rt_api_conf_init:
 * the windows list, the order of the bounds), so that the consumer refuses them at start like
 * any bad setting. Returns 0, or -1 with a one-line reason naming the setting. */
int rt_api_check_settings(const rt_config_t *cfg, char *err, size_t errsize) RT_MUSTCHECK;

/* Starts the server. cfg is read, never copied: it must outlive the server, as must metrics
 * and ready_arg (hooks may be NULL). Returns NULL and a one-line reason in err on failure (bad
 * settings, port in use). The database need not be up: requests answer 503 until it is.
 * Thread: any; does not block beyond binding the socket. */
rt_api_t *rt_api_start(const rt_config_t *cfg, const rt_api_hooks_t *hooks, char *err,
                       size_t errsize);

/* The bound TCP port (useful with http_port 0). */
unsigned rt_api_port(const rt_api_t *api);

/* 1 when the server speaks HTTPS (http_tls_cert_file/http_tls_key_file), so that cookies
 * it sets can be marked Secure; 0 for plain HTTP or NULL. */
int rt_api_is_tls(const rt_api_t *api);

/* Re-reads the TLS certificate and key files and serves new connections with them: the
 * listening socket passes to a new daemon (no connection is refused meanwhile), connections
 * already open finish on the old one. A file that does not load leaves the running
 * certificate in place. Returns 0, 1 when not serving HTTPS (nothing to do), or -1 with a
 * one-line reason (never the files' contents). Thread: any but a request handler; blocks
 * while the old daemon's requests finish. */
int rt_api_tls_reload(rt_api_t *api, char *err, size_t errsize) RT_MUSTCHECK;

/* Stops accepting, waits for running requests (bounded by the statement timeout), closes
 * connections and frees api. NULL is a no-op. */
void rt_api_stop(rt_api_t *api);

/* Writes docs/api.md's scope table: every route, the scope it needs, its audit action
 * (`runtrack-consumer scopes-doc`). */
void rt_api_print_scopes(FILE *f);

/* The Host rule of every request (docs/api.md#host-header): 1 when host, a Host header value
 * ("name" or "address", optional ":port", which is not compared), names bind_addr, a name of
 * the comma-separated allowed list (any case; "*" allows every Host), localhost / 127.0.0.1 /
 * [::1] when bind_addr is a loopback address, or localhost or any IP literal when bind_addr
 * is 0.0.0.0. 0 for anything else, a malformed value or NULL. */
int rt_api_host_allowed(const char *host, const char *bind_addr, const char *allowed);

/* 1 when tz is NULL, empty, or looks like an IANA zone name (letters, digits, '/', '_', '-',
 * '+'; the browser decides whether the zone exists). */
int rt_api_valid_tz(const char *tz);

#endif
