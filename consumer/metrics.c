/* Consumer metrics and their Prometheus text rendering (format 0.0.4). */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_event.h"

typedef struct lag_entry {
    char topic[128];
    int32_t partition;
    int64_t lag;
} lag_entry_t;

struct rt_metrics {
    atomic_uint_fast64_t events[RT_EV__COUNT + 1]; /* last slot: unknown type */
    pthread_mutex_t mu;                            /* guards everything below */
    char reasons[RT_METRICS_MAX_REASONS][48];
    uint64_t reason_count[RT_METRICS_MAX_REASONS];
    size_t nreasons;
    uint64_t size_buckets[RT_METRICS_BATCH_SIZE_NBUCKETS];
    uint64_t batches;
    double size_sum;
    uint64_t lat_buckets[RT_METRICS_LATENCY_NBUCKETS];
    double lat_sum;
    lag_entry_t lags[RT_METRICS_MAX_PARTITIONS];
    size_t nlags;
    uint64_t db_errors;
};

rt_metrics_t *rt_metrics_new(void)
{
    rt_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    for (size_t i = 0; i <= RT_EV__COUNT; i++)
        atomic_init(&m->events[i], 0);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void rt_metrics_destroy(rt_metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void rt_metrics_event(rt_metrics_t *m, const char *type)
{
    if (!m)
        return;
    rt_event_type_t t;
    size_t slot = type && rt_event_type_from_name(type, &t) == 0 ? (size_t)t : RT_EV__COUNT;
    atomic_fetch_add_explicit(&m->events[slot], 1, memory_order_relaxed);
}

void rt_metrics_dead_letter(rt_metrics_t *m, const char *reason)
{
    if (!m)
        return;
    if (!reason || !*reason || strlen(reason) >= sizeof m->reasons[0])
        reason = "other";
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->nreasons; i++)
        if (strcmp(m->reasons[i], reason) == 0)
            break;
    if (i == m->nreasons) {
        if (m->nreasons == RT_METRICS_MAX_REASONS) {
            /* Table full: fold into the last slot, renamed "other". */
            i = RT_METRICS_MAX_REASONS - 1;
            snprintf(m->reasons[i], sizeof m->reasons[i], "other");
        } else {
            snprintf(m->reasons[i], sizeof m->reasons[i], "%s", reason);
            m->nreasons++;
        }
    }
    m->reason_count[i]++;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_batch(rt_metrics_t *m, size_t events, double latency_s)
{
    static const double sb[] = RT_METRICS_BATCH_SIZE_BUCKETS;
    static const double lb[] = RT_METRICS_LATENCY_BUCKETS;
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->batches++;
    m->size_sum += (double)events;
    m->lat_sum += latency_s;
    /* Buckets are stored non-cumulatively and summed when rendered. */
    for (size_t i = 0; i < RT_METRICS_BATCH_SIZE_NBUCKETS; i++)
        if ((double)events <= sb[i]) {
            m->size_buckets[i]++;
            break;
        }
    for (size_t i = 0; i < RT_METRICS_LATENCY_NBUCKETS; i++)
        if (latency_s <= lb[i]) {
            m->lat_buckets[i]++;
            break;
        }
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_lag(rt_metrics_t *m, const char *topic, int32_t partition, int64_t lag)
{
    if (!m || !topic || strlen(topic) >= sizeof m->lags[0].topic)
        return;
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->nlags; i++)
        if (m->lags[i].partition == partition && strcmp(m->lags[i].topic, topic) == 0)
            break;
    if (lag < 0) {
        if (i < m->nlags)
            m->lags[i] = m->lags[--m->nlags];
    } else if (i < m->nlags) {
        m->lags[i].lag = lag;
    } else if (m->nlags < RT_METRICS_MAX_PARTITIONS) {
        snprintf(m->lags[i].topic, sizeof m->lags[i].topic, "%s", topic);
        m->lags[i].partition = partition;
        m->lags[i].lag = lag;
        m->nlags++;
    }
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_db_error(rt_metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->db_errors++;
    pthread_mutex_unlock(&m->mu);
}

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

/* A growing output buffer; oom sticks so callers check once at the end. */
typedef struct obuf {
    char *s;
    size_t len, cap;
    int oom;
} obuf_t;

static void ob_printf(obuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ob_printf(obuf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* Appends an escaped label value. */
static void ob_label(obuf_t *b, const char *v)
{
    char small[256];
    size_t need = rt_metrics_escape_label(v, small, sizeof small);
    if (need < sizeof small) {
        ob_printf(b, "%s", small);
        return;
    }
    char *big = malloc(need + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    rt_metrics_escape_label(v, big, need + 1);
    ob_printf(b, "%s", big);
    free(big);
}

static void render_histogram(obuf_t *b, const char *name, const char *help, const double *bounds,
                             const uint64_t *buckets, size_t n, uint64_t count, double sum)
{
    ob_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += buckets[i];
        ob_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    ob_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
              (unsigned long long)count, name, sum, name, (unsigned long long)count);
}

static void render_consumer(obuf_t *b, rt_metrics_t *m)
{
    static const double sb[] = RT_METRICS_BATCH_SIZE_BUCKETS;
    static const double lb[] = RT_METRICS_LATENCY_BUCKETS;
    ob_printf(b, "# HELP runtrack_events_consumed_total Events consumed, by type.\n"
                 "# TYPE runtrack_events_consumed_total counter\n");
    for (size_t i = 0; i <= RT_EV__COUNT; i++) {
        const char *name = i < RT_EV__COUNT ? rt_event_type_name((rt_event_type_t)i) : "other";
        ob_printf(b, "runtrack_events_consumed_total{type=\"%s\"} %llu\n", name,
                  (unsigned long long)atomic_load_explicit(&m->events[i], memory_order_relaxed));
    }
    pthread_mutex_lock(&m->mu);
    ob_printf(b, "# HELP runtrack_dead_letters_total Messages dead-lettered, by reason.\n"
                 "# TYPE runtrack_dead_letters_total counter\n");
    for (size_t i = 0; i < m->nreasons; i++) {
        ob_printf(b, "runtrack_dead_letters_total{reason=\"");
        ob_label(b, m->reasons[i]);
        ob_printf(b, "\"} %llu\n", (unsigned long long)m->reason_count[i]);
    }
    render_histogram(b, "runtrack_batch_size_events", "Events per batch written to PostgreSQL.", sb,
                     m->size_buckets, RT_METRICS_BATCH_SIZE_NBUCKETS, m->batches, m->size_sum);
    render_histogram(b, "runtrack_batch_latency_seconds",
                     "Time from a batch's first message to its commit.", lb, m->lat_buckets,
                     RT_METRICS_LATENCY_NBUCKETS, m->batches, m->lat_sum);
    ob_printf(b, "# HELP runtrack_consumer_lag_messages Messages behind the high watermark.\n"
                 "# TYPE runtrack_consumer_lag_messages gauge\n");
    for (size_t i = 0; i < m->nlags; i++) {
        ob_printf(b, "runtrack_consumer_lag_messages{topic=\"");
        ob_label(b, m->lags[i].topic);
        ob_printf(b, "\",partition=\"%d\"} %lld\n", (int)m->lags[i].partition,
                  (long long)m->lags[i].lag);
    }
    ob_printf(b,
              "# HELP runtrack_db_errors_total Failed database statements on the ingest path.\n"
              "# TYPE runtrack_db_errors_total counter\nruntrack_db_errors_total %llu\n",
              (unsigned long long)m->db_errors);
    pthread_mutex_unlock(&m->mu);
}

/* A gauge with one sample per row of r: name{job="<column 0>"} <column col>. */
static void render_job_gauge(obuf_t *b, const char *name, const char *help, PGresult *r, int col)
{
    ob_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (int i = 0; i < PQntuples(r); i++) {
        ob_printf(b, "%s{job=\"", name);
        ob_label(b, PQgetvalue(r, i, 0));
        ob_printf(b, "\"} %s\n", PQgetvalue(r, i, col));
    }
}

/* The SQL part; returns 0, or -1 when a query failed (the caller reports db down). */
static int render_sql(obuf_t *b, PGconn *conn, double stale_after_s)
{
    char stale[32];
    snprintf(stale, sizeof stale, "%.3f", stale_after_s);
    const char *const params[] = {stale};
    PGresult *r = PQexecParams(
        conn,
        "SELECT job, count(*) FILTER (WHERE last_event_at >= now() - make_interval(secs =>"
        " $1::float8)), count(*) FILTER (WHERE last_event_at < now() - make_interval(secs =>"
        " $1::float8)) FROM runs WHERE status = 'running' GROUP BY job ORDER BY job",
        1, NULL, params, NULL, NULL, 0);
    PGresult *r2 = NULL;
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto out;
    r2 = PQexec(conn, "SELECT job, extract(epoch FROM now() - max(finished_at)) FROM runs"
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
    obuf_t b = {NULL, 0, 0, 0};
    obuf_t sql = {NULL, 0, 0, 0};
    *out = NULL;
    if (m)
        render_consumer(&b, m);
    int db_up = conn && render_sql(&sql, conn, stale_after_s) == 0;
    if (db_up && sql.s)
        ob_printf(&b, "%s", sql.s);
    ob_printf(&b,
              "# HELP runtrack_api_db_up Whether the API could query PostgreSQL.\n"
              "# TYPE runtrack_api_db_up gauge\nruntrack_api_db_up %d\n",
              db_up);
    free(sql.s);
    if (b.oom || sql.oom) {
        free(b.s);
        return -1;
    }
    *out = b.s;
    return 0;
}
