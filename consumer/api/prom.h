/* GET /metrics: the consumer's counters (metrics.h) and per-job run figures read from
 * PostgreSQL, in the Prometheus text format 0.0.4. */
#ifndef RT_API_PROM_H
#define RT_API_PROM_H

#include <libpq-fe.h>
#include <stddef.h>

#include "metrics.h"

/* Renders the text of m (may be NULL: then only the SQL part) and, when conn is not NULL, of the
 * per-job run figures read with conn, into a malloc'ed string in *out (caller frees).
 * stale_after_s marks which running runs count as stale. Returns 0, or -1 when out of memory.
 * A database error does not fail the call: it sets runtrack_api_db_up 0 and skips the SQL part.
 * Thread: any (reads m under its lock; uses conn alone). */
int rt_metrics_render(rt_metrics_t *m, PGconn *conn, double stale_after_s, char **out);

/* Escapes a Prometheus label value (backslash, double quote, newline) into buf like snprintf
 * (returns the full length needed). Exposed for tests. */
size_t rt_metrics_escape_label(const char *s, char *buf, size_t size);

#endif
