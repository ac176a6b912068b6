/* Applying the pending migrations at start (`runtrack-consumer migrate`, and `run` with
 * migrate_on_start): over a connection of its own, waiting out a PostgreSQL that is not up yet
 * or goes away meanwhile (capped back-off, backoff.h). */
#ifndef RT_DB_MIGRATE_WAIT_H
#define RT_DB_MIGRATE_WAIT_H

#include <signal.h>

#include "config.h"
#include "metrics.h"
#include "rt_attr.h"

/* Connects to cfg->pg_dsn (retrying until it works or *stop) and applies the pending
 * migrations (rt_migrate_apply), reconnecting and retrying while the connection is lost. Failed
 * attempts count in m (may be NULL). Returns 0 when applied; 1 when stopped before PostgreSQL
 * was reached; -1 when a migration failed or a stop came while retrying one. Blocks; main
 * thread. */
int rt_db_migrate_wait(const rt_config_t *cfg, rt_metrics_t *m,
                       const volatile sig_atomic_t *stop) RT_MUSTCHECK;

#endif
