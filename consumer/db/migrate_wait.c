/* Migrations at start, waiting for PostgreSQL (migrate_wait.h). */
#include "migrate_wait.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "log.h"
#include "migrate.h"

/* A new connection to dsn, or NULL with err filled. */
static PGconn *connect_db(const char *dsn, char *err, size_t errsize)
{
    PGconn *c = PQconnectdb(dsn);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    snprintf(err, errsize, "connect: %s", c ? PQerrorMessage(c) : "out of memory");
    /* libpq's messages end with a newline; the log line is one line. */
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = *(p + 1) ? ' ' : '\0';
    PQfinish(c);
    return NULL;
}

int rt_db_migrate_wait(const rt_config_t *cfg, rt_metrics_t *m, const volatile sig_atomic_t *stop)
{
    rt_backoff_t bo;
    PGconn *conn = NULL;
    char err[512];
    int rc = 1;
    rt_backoff_init(&bo, cfg->retry_min_ms, cfg->retry_max_ms, stop);
    while (!*stop && !(conn = connect_db(cfg->pg_dsn, err, sizeof err)))
        rt_backoff_failed(&bo, m, "postgresql unreachable, retrying", NULL, err);
    if (!conn)
        return rc;
    rt_backoff_reset(&bo);
    rc = -1;
    while (!*stop) {
        int applied = 0;
        if (conn && rt_migrate_apply(conn, &applied, err, sizeof err) == 0) {
            rt_log(RT_L_INFO, "schema migrations applied", "applied=%d", applied);
            rc = 0;
            break;
        }
        if (conn && PQstatus(conn) == CONNECTION_OK) {
            rt_log(RT_L_ERROR, "schema migration failed", "error=\"%s\"", err);
            break;
        }
        rt_backoff_failed(&bo, m, "postgresql failed, retrying", "migrate", "not connected");
        PQfinish(conn);
        if (*stop)
            conn = NULL;
        else if ((conn = connect_db(cfg->pg_dsn, err, sizeof err)))
            rt_log(RT_L_INFO, "postgresql reconnected", NULL);
        else
            rt_log(RT_L_WARN, "postgresql reconnect failed", "error=\"%s\"", err);
    }
    PQfinish(conn);
    return rc;
}
