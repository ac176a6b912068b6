/* Background maintenance of the run tables, on a schedule in its own thread with its own
 * read-write PostgreSQL connection: closing stale runs and deleting rows past retention.
 *
 * Stale closing uses now() and is therefore NOT replay-deterministic (everything the consumer
 * writes from events is): replaying a topic into an empty database re-closes the same runs
 * only if the same time has passed. */
#ifndef RT_MAINTENANCE_H
#define RT_MAINTENANCE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "config.h"

typedef struct rt_maint rt_maint_t;

/* Session advisory lock key held by the maintenance thread during a pass ("rtmaint" in ASCII),
 * so that several consumers on one database take turns. */
#define RT_MAINT_LOCK_KEY 0x72746d61696e74LL

typedef struct rt_maint_stats {
    long stale_closed; /* runs closed as failed */
    long runs_deleted; /* runs past retention */
    long logs_deleted; /* run_logs rows */
    long run_results_deleted;
    long discovery_runs_deleted;
    long dead_letters_deleted;
    long tombstones_deleted; /* runs_removed rows (ids of runs retention deleted) */
} rt_maint_stats_t;

/* Starts the thread (first pass immediately, then every maintenance_interval_s, which must be
 * > 0) with its own read-write session on cfg->pg_dsn. cfg is read, never copied: it must
 * outlive the thread. NULL + err on failure. */
rt_maint_t *rt_maint_start(const rt_config_t *cfg, char *err, size_t errsize);
/* Wakes and joins the thread, closes its connection. NULL is a no-op. */
void rt_maint_stop(rt_maint_t *m);

/* One pass with conn: closes runs the consumer has received no event of for
 * stale_close_after_s (runs.received_at; 0: none; as failed, filling run_results and
 * discovery_runs like a normal failure), then deletes rows past each table's retention_*_days
 * (0: retention_days; finished runs by received_at) in batches of retention_batch_rows, each
 * its own short transaction. A deleted run leaves its id in runs_removed (same statement), kept
 * for retention_runs_days more. Adds to *stats. Returns 0, or -1 with a reason in err (what was
 * committed before stays). */
int rt_maint_run_once(PGconn *conn, const rt_config_t *cfg, rt_maint_stats_t *stats, char *err,
                      size_t errsize);

#endif
