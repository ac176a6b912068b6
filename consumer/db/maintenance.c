/* Stale-run closing and retention, on a schedule in one background thread. */
#include "maintenance.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect.h"
#include "rt_num.h"

struct rt_maint {
    const rt_config_t *cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    PGconn *conn;
};

/* Closing stale runs is SQL of its own (migration 0021) so that the rows it derives
 * (run_results, discovery_runs) come from the same function as the consumer's. */
static const char CLOSE_SQL[] = "SELECT runtrack_close_stale($1::float8)";

typedef struct retention_step {
    const char *name;
    size_t days_off; /* offsetof into rt_config_t of its retention_*_days */
    const char *sql; /* $1 days, $2 batch rows; deletes at most $2 rows */
    size_t stat_off; /* offsetof into rt_maint_stats_t */
} retention_step_t;

/* Logs first (their runs may still exist), then runs: both skip running runs. Rows are picked
 * by ctid in an array so the DELETE is a TID scan of exactly the batch (an IN (subquery) join
 * may scan the whole table). A run's age is when the consumer last received its events
 * (runs.received_at, migration 0025), never its events' own times: a run stamped 1970 by a
 * host without a clock is young while it sends, and one stamped 9999 ages like any other; a
 * log line stays while its run stays. */
static const retention_step_t RETENTION[] = {
    {"run_logs", offsetof(rt_config_t, retention_runs_days),
     "DELETE FROM run_logs WHERE ctid = ANY(ARRAY(SELECT l.ctid FROM run_logs l"
     " WHERE l.ts < now() - make_interval(days => $1::int) AND NOT EXISTS (SELECT 1 FROM runs r"
     " WHERE r.run_id = l.run_id AND (r.status = 'running'"
     " OR r.received_at >= now() - make_interval(days => $1::int))) LIMIT $2::int))",
     offsetof(rt_maint_stats_t, logs_deleted)},
    /* A deleted run leaves a tombstone in the same statement, so that a late event for it is a
     * dead letter (run_removed) and not a phantom running run; tombstones go after as long
     * again (the runs_removed step below). */
    {"runs", offsetof(rt_config_t, retention_runs_days),
     "WITH d AS (DELETE FROM runs WHERE ctid = ANY(ARRAY(SELECT ctid FROM runs"
     " WHERE status <> 'running' AND received_at < now() - make_interval(days => $1::int)"
     " LIMIT $2::int)) RETURNING run_id),"
     " t AS (INSERT INTO runs_removed (run_id) SELECT run_id FROM d"
     " ON CONFLICT (run_id) DO NOTHING)"
     " SELECT count(*) FROM d",
     offsetof(rt_maint_stats_t, runs_deleted)},
    {"runs_removed", offsetof(rt_config_t, retention_runs_days),
     "DELETE FROM runs_removed WHERE ctid = ANY(ARRAY(SELECT ctid FROM runs_removed"
     " WHERE removed_at < now() - make_interval(days => $1::int) LIMIT $2::int))",
     offsetof(rt_maint_stats_t, tombstones_deleted)},
    {"run_results", offsetof(rt_config_t, retention_run_results_days),
     "DELETE FROM run_results WHERE ctid = ANY(ARRAY(SELECT ctid FROM run_results"
     " WHERE time_stamp < (now() AT TIME ZONE 'UTC') - make_interval(days => $1::int)"
     " LIMIT $2::int))",
     offsetof(rt_maint_stats_t, run_results_deleted)},
    {"discovery_runs", offsetof(rt_config_t, retention_discovery_runs_days),
     "DELETE FROM discovery_runs WHERE ctid = ANY(ARRAY(SELECT ctid FROM discovery_runs"
     " WHERE status <> 'running'"
     " AND created_at < (now() AT TIME ZONE 'UTC') - make_interval(days => $1::int)"
     " LIMIT $2::int))",
     offsetof(rt_maint_stats_t, discovery_runs_deleted)},
    {"dead_letters", offsetof(rt_config_t, retention_dead_letters_days),
     "DELETE FROM dead_letters WHERE ctid = ANY(ARRAY(SELECT ctid FROM dead_letters"
     " WHERE received_at < now() - make_interval(days => $1::int) LIMIT $2::int))",
     offsetof(rt_maint_stats_t, dead_letters_deleted)},
};

/* Batches per table per pass, so that one pass stays short; the rest waits for the next. */
#define RETENTION_MAX_BATCHES 200

/* Runs one statement and reads the count it reports: the single value of a SELECT, or the rows
 * an UPDATE/DELETE touched. Both come from PostgreSQL as plain decimal integers. */
static int exec_count(PGconn *conn, const char *sql, int n, const char *const *params, long *count,
                      char *err, size_t errsize)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int64_t v = 0;
    const char *text = st == PGRES_TUPLES_OK   ? PQgetvalue(r, 0, 0)
                       : st == PGRES_COMMAND_OK ? PQcmdTuples(r)
                                                : NULL;
    if (!text) {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errsize, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return -1;
    }
    /* An empty or odd count (none reported) is 0: the statement itself succeeded. */
    if (rt_parse_i64(text, 0, INT64_MAX, &v) != 0)
        v = 0;
    *count = (long)v;
    PQclear(r);
    return 0;
}

/* Deletes one table's rows past days, batch_rows at a time (at most RETENTION_MAX_BATCHES). */
static int retention_step(PGconn *conn, const retention_step_t *s, int days, int batch_rows,
                          rt_maint_stats_t *stats, char *err, size_t errsize)
{
    char dbuf[32], bbuf[32];
    snprintf(dbuf, sizeof dbuf, "%d", days);
    snprintf(bbuf, sizeof bbuf, "%d", batch_rows);
    const char *const p[] = {dbuf, bbuf};
    for (int k = 0; k < RETENTION_MAX_BATCHES; k++) {
        long n = 0;
        if (exec_count(conn, s->sql, 2, p, &n, err, errsize) != 0) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", err);
            snprintf(err, errsize, "retention of %s: %s", s->name, tmp);
            return -1;
        }
        *(long *)((char *)stats + s->stat_off) += n;
        if (n < batch_rows)
            break;
    }
    return 0;
}

int rt_maint_run_once(PGconn *conn, const rt_config_t *cfg, rt_maint_stats_t *stats, char *err,
                      size_t errsize)
{
    if (cfg->stale_close_after_s > 0) {
        char buf[32];
        long n = 0;
        snprintf(buf, sizeof buf, "%d", cfg->stale_close_after_s);
        const char *const p[] = {buf};
        if (exec_count(conn, CLOSE_SQL, 1, p, &n, err, errsize) != 0)
            return -1;
        stats->stale_closed += n;
    }
    for (size_t i = 0; i < sizeof RETENTION / sizeof RETENTION[0]; i++) {
        const retention_step_t *s = &RETENTION[i];
        int days = *(const int *)(const void *)((const char *)cfg + s->days_off);
        /* A per-table 0 falls back to the common retention_days. */
        if (days <= 0)
            days = cfg->retention_days;
        if (days <= 0)
            continue;
        if (retention_step(conn, s, days, cfg->retention_batch_rows, stats, err, errsize) != 0)
            return -1;
    }
    return 0;
}

/* Session advisory lock so that of several consumers sharing a database only one runs a pass
 * at a time (the statements are safe concurrently, but the work would be duplicated). fn is
 * pg_try_advisory_lock or pg_advisory_unlock; returns 1 when it answered true. */
static int maint_lock(PGconn *conn, const char *fn)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT %s(%lld)", fn, RT_MAINT_LOCK_KEY);
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return ok;
}

static void *maint_main(void *arg)
{
    rt_maint_t *m = arg;
    char err[512];
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        pthread_mutex_unlock(&m->mu);
        if (m->conn && PQstatus(m->conn) != CONNECTION_OK) {
            PQfinish(m->conn);
            m->conn = NULL;
        }
        if (!m->conn)
            m->conn = rt_db_connect(m->cfg->pg_dsn, "runtrack-maintenance", 0, 60000, err,
                                    sizeof err);
        if (m->conn && !maint_lock(m->conn, "pg_try_advisory_lock")) {
            /* Another consumer instance is doing this pass; wait for the next one. */
        } else if (m->conn) {
            rt_maint_stats_t st = {0};
            if (rt_maint_run_once(m->conn, m->cfg, &st, err, sizeof err) != 0)
                fprintf(stderr, "runtrack maintenance: %s\n", err);
            maint_lock(m->conn, "pg_advisory_unlock");
            if (st.stale_closed || st.runs_deleted || st.logs_deleted || st.run_results_deleted ||
                st.discovery_runs_deleted || st.dead_letters_deleted)
                fprintf(stderr,
                        "runtrack maintenance: closed %ld stale runs; deleted %ld runs, %ld logs,"
                        " %ld run_results, %ld discovery_runs, %ld dead_letters\n",
                        st.stale_closed, st.runs_deleted, st.logs_deleted, st.run_results_deleted,
                        st.discovery_runs_deleted, st.dead_letters_deleted);
        } else {
            fprintf(stderr, "runtrack maintenance: %s\n", err);
        }
        pthread_mutex_lock(&m->mu);
        if (m->stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += m->cfg->maintenance_interval_s;
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

rt_maint_t *rt_maint_start(const rt_config_t *cfg, char *err, size_t errsize)
{
    rt_maint_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errsize, "maintenance: out of memory");
        return NULL;
    }
    m->cfg = cfg;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
        snprintf(err, errsize, "maintenance: cannot start thread");
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        free(m);
        return NULL;
    }
    return m;
}

void rt_maint_stop(rt_maint_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    PQfinish(m->conn);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}
