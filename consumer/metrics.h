/* Consumer metrics that the HTTP API exposes at GET /metrics (Prometheus text format 0.0.4).
 *
 * The consumer owns one rt_metrics_t (rt_metrics_new in main, rt_metrics_destroy after
 * rt_api_stop) and records into it from any thread; the API reads it when /metrics is scraped
 * and adds figures it queries from PostgreSQL (runs running per job, seconds since each job's
 * last success). Recording never blocks on I/O: event counts are atomics, the rest takes a
 * short mutex. */
#ifndef RT_METRICS_H
#define RT_METRICS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_metrics rt_metrics_t;

/* Histogram bucket upper bounds (the +Inf bucket is implicit). */
#define RT_METRICS_BATCH_SIZE_BUCKETS                                                              \
    {                                                                                              \
        1, 10, 50, 100, 250, 500, 1000, 5000                                                       \
    }
#define RT_METRICS_BATCH_SIZE_NBUCKETS 8
#define RT_METRICS_LATENCY_BUCKETS                                                                 \
    {                                                                                              \
        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5                                        \
    }
#define RT_METRICS_LATENCY_NBUCKETS 10

/* Distinct dead-letter reasons and (topic, partition) lag entries kept; more are folded into
 * reason "other" / dropped, so that a misbehaving input cannot grow memory without bound. */
#define RT_METRICS_MAX_REASONS    32
#define RT_METRICS_MAX_PARTITIONS 512

/* Returns a zeroed metrics object, or NULL when out of memory. Thread: any. */
rt_metrics_t *rt_metrics_new(void);
/* Frees m; NULL is a no-op. Nobody may record into or render m afterwards. */
void rt_metrics_destroy(rt_metrics_t *m);

/* One consumed event of this type name ("run.started", ...); unknown names count as "other".
 * Lock-free. NULL m is a no-op (for all recording functions). */
void rt_metrics_event(rt_metrics_t *m, const char *type);
/* One dead-lettered message with this reason code ("invalid_json", "schema", ...). */
void rt_metrics_dead_letter(rt_metrics_t *m, const char *reason);
/* One batch written to PostgreSQL: its number of events and the time from the first message's
 * arrival to the commit, in seconds. */
void rt_metrics_batch(rt_metrics_t *m, size_t events, double latency_s);
/* Current consumer lag (high watermark - next offset) of one partition; -1 forgets it (for
 * partitions revoked in a rebalance). */
void rt_metrics_lag(rt_metrics_t *m, const char *topic, int32_t partition, int64_t lag);
/* One failed database statement/transaction on the ingest path. */
void rt_metrics_db_error(rt_metrics_t *m);

/* Appends the Prometheus text of m (may be NULL: then only the SQL part) and, when conn is not
 * NULL, of the per-job run figures read with conn, to a malloc'ed string in *out (caller frees).
 * stale_after_s marks which running runs count as stale. Returns 0, or -1 when out of memory.
 * A database error does not fail the call: it sets runtrack_api_db_up 0 and skips the SQL part. */
int rt_metrics_render(rt_metrics_t *m, PGconn *conn, double stale_after_s, char **out);

/* Escapes a Prometheus label value (backslash, double quote, newline) into buf like snprintf
 * (returns the full length needed). Exposed for tests. */
size_t rt_metrics_escape_label(const char *s, char *buf, size_t size);

#endif
