/* Prometheus text rendering of the consumer's counters and the per-job run figures (prom.h). */
#include "prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_buf.h"
#include "rt_time.h"

size_t rt_metrics_escape_label(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    for (; *s; s++) {
        const char *rep = NULL;
        char one[2] = {*s, 0};
        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '"')
            rep = "\\\"";
        else if (*s == '\n')
            rep = "\\n";
        else
            rep = one;
        for (; *rep; rep++, o++)
            if (o + 1 < size)
                buf[o] = *rep;
    }
    if (size)
        buf[o < size ? o : size - 1] = '\0';
    return o;
}

/* Appends an escaped label value. */
static void add_label(rt_buf_t *b, const char *v)
{
    char small[256];
    size_t need = rt_metrics_escape_label(v, small, sizeof small);
    if (need < sizeof small) {
        rt_buf_adds(b, small);
        return;
    }
    if (rt_buf_reserve(b, need) != 0)
        return;
    rt_metrics_escape_label(v, b->data + b->len, need + 1);
    b->len += need;
}

static void render_histogram(rt_buf_t *b, const char *name, const char *help, const double *bounds,
                             const uint64_t *buckets, size_t n, uint64_t count, double sum)
{
    rt_buf_addf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += buckets[i];
        rt_buf_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    rt_buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                (unsigned long long)count, name, sum, name, (unsigned long long)count);
}

static void render_lags(rt_buf_t *b, rt_metrics_t *m)
{
    rt_buf_adds(b, "# HELP runtrack_consumer_lag_messages Messages behind the high watermark.\n"
                   "# TYPE runtrack_consumer_lag_messages gauge\n");
    rt_metrics_lag_t *lags = malloc(RT_METRICS_MAX_PARTITIONS * sizeof *lags);
    if (!lags) {
        b->oom = 1;
        return;
    }
    size_t n = rt_metrics_lags(m, lags, RT_METRICS_MAX_PARTITIONS);
    for (size_t i = 0; i < n; i++) {
        rt_buf_adds(b, "runtrack_consumer_lag_messages{topic=\"");
        add_label(b, lags[i].topic);
        rt_buf_addf(b, "\",partition=\"%d\"} %lld\n", (int)lags[i].partition,
                    (long long)lags[i].lag);
    }
    free(lags);
}

static void render_consumer(rt_buf_t *b, rt_metrics_t *m)
{
    static const double sb[] = RT_METRICS_BATCH_SIZE_BUCKETS;
    static const double lb[] = RT_METRICS_LATENCY_BUCKETS;
    rt_metrics_counts_t c;
    rt_metrics_counts(m, &c);
    rt_buf_adds(b, "# HELP runtrack_events_consumed_total Events consumed, by type.\n"
                   "# TYPE runtrack_events_consumed_total counter\n");
    for (size_t i = 0; i <= RT_EV__COUNT; i++)
        rt_buf_addf(b, "runtrack_events_consumed_total{type=\"%s\"} %llu\n",
                    i < RT_EV__COUNT ? rt_event_type_name((rt_event_type_t)i) : "other",
                    (unsigned long long)c.events[i]);
    rt_buf_adds(b, "# HELP runtrack_dead_letters_total Messages dead-lettered, by reason.\n"
                   "# TYPE runtrack_dead_letters_total counter\n");
    for (size_t k = 0; k < c.ndead; k++) {
        size_t d = c.dead_order[k];
        rt_buf_adds(b, "runtrack_dead_letters_total{reason=\"");
        add_label(b, d < RT_DEAD__COUNT ? rt_dead_reason_name((rt_dead_reason_t)d) : "other");
        rt_buf_addf(b, "\"} %llu\n", (unsigned long long)c.dead[d]);
    }
    rt_buf_addf(b,
                "# HELP runtrack_dead_letters_payload_dropped_total Dead letters stored without "
                "their payload: the day's dead-letter cap was reached.\n"
                "# TYPE runtrack_dead_letters_payload_dropped_total counter\n"
                "runtrack_dead_letters_payload_dropped_total %llu\n",
                (unsigned long long)c.dead_payload_dropped);
    render_histogram(b, "runtrack_batch_size_events", "Events per batch written to PostgreSQL.", sb,
                     c.size_buckets, RT_METRICS_BATCH_SIZE_NBUCKETS, c.batches, (double)c.records);
    render_histogram(b, "runtrack_batch_latency_seconds",
                     "Time from a batch's first message to its commit.", lb, c.lat_buckets,
                     RT_METRICS_LATENCY_NBUCKETS, c.batches, c.lat_sum);
    render_lags(b, m);
    rt_buf_addf(b,
                "# HELP runtrack_db_errors_total Failed database statements on the ingest path.\n"
                "# TYPE runtrack_db_errors_total counter\nruntrack_db_errors_total %llu\n",
                (unsigned long long)c.db_errors);
    int64_t waited = c.wait_since_us ? rt_mono_us() - c.wait_since_us : 0;
    rt_buf_addf(b,
                "# HELP runtrack_ingest_stalled_seconds Seconds since the last commit while records"
                " wait (0 when nothing waits).\n"
                "# TYPE runtrack_ingest_stalled_seconds gauge\n"
                "runtrack_ingest_stalled_seconds %.3f\n",
                waited > 0 ? (double)waited / 1e6 : 0.0);
}

/* A gauge with one sample per row of r: name{job="<column 0>"} <column col>. */
static void render_job_gauge(rt_buf_t *b, const char *name, const char *help, PGresult *r, int col)
{
    rt_buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (int i = 0; i < PQntuples(r); i++) {
        rt_buf_addf(b, "%s{job=\"", name);
        add_label(b, PQgetvalue(r, i, 0));
        rt_buf_addf(b, "\"} %s\n", PQgetvalue(r, i, col));
    }
}

/* The SQL part; returns 0, or -1 when a query failed (the caller reports db down). */
static int render_sql(rt_buf_t *b, PGconn *conn, double stale_after_s)
{
    char stale[32];
    snprintf(stale, sizeof stale, "%.3f", stale_after_s);
    const char *const params[] = {stale};
    PGresult *r = PQexecParams(
        conn,
        "SELECT job, count(*) FILTER (WHERE received_at >= now() - make_interval(secs =>"
        " $1::float8)), count(*) FILTER (WHERE received_at < now() - make_interval(secs =>"
        " $1::float8)) FROM runs WHERE status = 'running' GROUP BY job ORDER BY job",
        1, NULL, params, NULL, NULL, 0);
    PGresult *r2 = NULL;
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto out;
    /* staleness by the consumer's receive time, ages by report time (migration 0025) */
    r2 = PQexec(conn, "SELECT job, extract(epoch FROM now() - max(runtrack_report_ts(finished_at,"
                      " received_at, clock_skew_s))) FROM runs"
                      " WHERE status = 'completed' AND finished_at IS NOT NULL"
                      " GROUP BY job ORDER BY job");
    if (PQresultStatus(r2) != PGRES_TUPLES_OK)
        goto out;
    render_job_gauge(b, "runtrack_runs_running", "Runs in status running (stale ones excluded).", r,
                     1);
    render_job_gauge(b, "runtrack_runs_stale", "Running runs without events for stale_after.", r,
                     2);
    render_job_gauge(b, "runtrack_job_last_success_age_seconds",
                     "Seconds since the job's last completed run finished.", r2, 1);
    rc = 0;
out:
    PQclear(r);
    PQclear(r2);
    return rc;
}

int rt_metrics_render(rt_metrics_t *m, PGconn *conn, double stale_after_s, char **out)
{
    rt_buf_t b = {0}, sql = {0};
    int rc = -1;
    *out = NULL;
    if (m)
        render_consumer(&b, m);
    int db_up = conn && render_sql(&sql, conn, stale_after_s) == 0;
    if (db_up)
        rt_buf_add(&b, sql.data, sql.len);
    rt_buf_addf(&b,
                "# HELP runtrack_api_db_up Whether the API could query PostgreSQL.\n"
                "# TYPE runtrack_api_db_up gauge\nruntrack_api_db_up %d\n",
                db_up);
    if (b.oom || sql.oom)
        goto out;
    *out = rt_buf_take(&b, NULL);
    rc = 0;
out:
    rt_buf_free(&b);
    rt_buf_free(&sql);
    return rc;
}
