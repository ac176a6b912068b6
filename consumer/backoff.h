/* Capped exponential back-off for waiting out a bad environment (PostgreSQL unreachable,
 * restarting, locked...): each failure is counted (runtrack_db_errors_total), logged with the
 * delay, and waited out, doubling from retry_min_ms up to retry_max_ms; a success starts over.
 * Used by the ingest pipeline and the migration runner alike. The wait ends early once *stop is
 * set. One rt_backoff_t per retrying loop; not thread-safe (the pipeline's main thread and its
 * writer never retry at the same time). */
#ifndef RT_CONSUMER_BACKOFF_H
#define RT_CONSUMER_BACKOFF_H

#include <signal.h>
#include <stdint.h>

#include "metrics.h"

typedef struct rt_backoff {
    int64_t min_ms, max_ms;
    int64_t ms; /* the next delay; 0 after a success */
    const volatile sig_atomic_t *stop;
} rt_backoff_t;

void rt_backoff_init(rt_backoff_t *b, int64_t min_ms, int64_t max_ms,
                     const volatile sig_atomic_t *stop);

/* After a success: the next failure waits min_ms again. */
void rt_backoff_reset(rt_backoff_t *b);

/* One failure: counts it in m (may be NULL), logs msg at warning level with op (may be NULL),
 * err and the delay, then sleeps the delay (returning early on stop) and doubles it. */
void rt_backoff_failed(rt_backoff_t *b, rt_metrics_t *m, const char *msg, const char *op,
                       const char *err);

#endif
