/* Stale-run closing and retention, on a schedule in one background thread. */
#include "maintenance.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rt_maint {
    const rt_api_conf_t *conf;
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
    size_t days_off; /* offsetof into rt_retention_conf_t */
    const char *sql; /* $1 days, $2 batch rows; deletes at most $2 rows */
    size_t stat_off; /* offsetof into rt_maint_stats_t */
} retention_step_t;

/* Logs first (their runs may still exist), then runs: both skip running runs. Rows are picked
 * by ctid in an array so the DELETE is a TID scan of exactly the batch (an IN (subquery) join
 * may scan the whole table). */
static const retention_step_t RETENTION[] = {
    {"run_logs", offsetof(rt_retention_conf_t, runs_days),
     "DELETE FROM run_logs WHERE ctid = ANY(ARRAY(SELECT l.ctid FROM run_logs l"
     " WHERE l.ts < now() - make_interval(days => $1::int) AND NOT EXISTS (SELECT 1 FROM runs r"
     " WHERE r.run_id = l.run_id AND r.status = 'running') LIMIT $2::int))",
     offsetof(rt_maint_stats_t, logs_deleted)},
    {"runs", offsetof(rt_retention_conf_t, runs_days),
     "DELETE FROM runs WHERE ctid = ANY(ARRAY(SELECT ctid FROM runs WHERE status <> 'running'"
     " AND finished_at < now() - make_interval(days => $1::int) LIMIT $2::int))",
     offsetof(rt_maint_stats_t, runs_deleted)},
    {"run_results", offsetof(rt_retention_conf_t, run_results_days),
     "DELETE FROM run_results WHERE ctid = ANY(ARRAY(SELECT ctid FROM run_results"
     " WHERE time_stamp < (now() AT TIME ZONE 'UTC') - make_interval(days => $1::int)"
     " LIMIT $2::int))",
     offsetof(rt_maint_stats_t, run_results_deleted)},
    {"discovery_runs", offsetof(rt_retention_conf_t, discovery_runs_days),
     "DELETE FROM discovery_runs WHERE ctid = ANY(ARRAY(SELECT ctid FROM discovery_runs"
     " WHERE status <> 'running'"
     " AND created_at < (now() AT TIME ZONE 'UTC') - make_interval(days => $1::int)"
     " LIMIT $2::int))",
     offsetof(rt_maint_stats_t, discovery_runs_deleted)},
    {"dead_letters", offsetof(rt_retention_conf_t, dead_letters_days),
     "DELETE FROM dead_letters WHERE ctid = ANY(ARRAY(SELECT ctid FROM dead_letters"
     " WHERE received_at < now() - make_interval(days => $1::int) LIMIT $2::int))",
     offsetof(rt_maint_stats_t, dead_letters_deleted)},
};

/* Batches per table per pass, so that one pass stays short; the rest waits for the next. */
#define RETENTION_MAX_BATCHES 200

static int exec_count(PGconn *conn, const char *sql, int n, const char *const *params, long *count,
                      char *err, size_t errsize)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
        *count = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    } else if (st == PGRES_COMMAND_OK) {
        *count = strtol(PQcmdTuples(r), NULL, 10);
    } else {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errsize, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int rt_maint_run_once(PGconn *conn, const rt_api_conf_t *conf, rt_maint_stats_t *stats, char *err,
                      size_t errsize)
{
    char buf[64];
    long n = 0;
    if (conf->stale_close_after_s > 0) {
        snprintf(buf, sizeof buf, "%.3f", conf->stale_close_after_s);
        const char *const p[] = {buf};
        if (exec_count(conn, CLOSE_SQL, 1, p, &n, err, errsize) != 0)
            return -1;
        stats->stale_closed += n;
    }
    char batch[32];
    snprintf(batch, sizeof batch, "%u", conf->retention.batch_rows);
    for (size_t i = 0; i < sizeof RETENTION / sizeof RETENTION[0]; i++) {
        const retention_step_t *s = &RETENTION[i];
        unsigned days = *(const unsigned *)((const char *)&conf->retention + s->days_off);
        if (!days)
            continue;
        snprintf(buf, sizeof buf, "%u", days);
        const char *const p[] = {buf, batch};
        for (int k = 0; k < RETENTION_MAX_BATCHES; k++) {
            if (exec_count(conn, s->sql, 2, p, &n, err, errsize) != 0) {
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s", err);
                snprintf(err, errsize, "retention of %s: %s", s->name, tmp);
                return -1;
            }
            *(long *)((char *)stats + s->stat_off) += n;
            if (n < (long)conf->retention.batch_rows)
                break;
        }
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
            m->conn = rt_api_pg_connect(m->conf->pg_dsn, 0, 60000, err, sizeof err);
        if (m->conn && !maint_lock(m->conn, "pg_try_advisory_lock")) {
            /* Another consumer instance is doing this pass; wait for the next one. */
        } else if (m->conn) {
            rt_maint_stats_t st = {0};
            if (rt_maint_run_once(m->conn, m->conf, &st, err, sizeof err) != 0)
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
        until.tv_sec += m->conf->maintenance_interval_s;
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

rt_maint_t *rt_maint_start(const rt_api_conf_t *conf, char *err, size_t errsize)
{
    rt_maint_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errsize, "maintenance: out of memory");
        return NULL;
    }
    m->conf = conf;
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
