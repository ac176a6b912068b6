/* GET /api/health, part 2: the two statements and their figures per job and window.
 *
 * Per window (hours back from now(), by started_at): total, completed, partial, failed,
 * running (with recent events), stale (running without events for stale_after_s). Per job: the
 * last run, the last success and the median gap between its recent run starts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_internal.h"
#include "rt_num.h"

/* The text parameters both statements share ($1..$6). */
typedef struct query_params {
    char windows[RT_API_MAX_WINDOWS * 6 + 4]; /* int[] text: "{12,24}" */
    char stale[32], sample[16], span[16];
    const char *v[6];
} query_params_t;

static void query_params(query_params_t *p, const rt_health_conf_t *hc, double stale_after_s,
                         const rt_health_request_t *q)
{
    size_t o = 0;
    unsigned largest = 24; /* the 24 h figures need at least that */
    p->windows[o++] = '{';
    for (size_t i = 0; i < q->nwindows; i++) {
        o += (size_t)snprintf(p->windows + o, sizeof p->windows - o, "%s%u", i ? "," : "",
                              q->windows[i]);
        largest = q->windows[i] > largest ? q->windows[i] : largest;
    }
    snprintf(p->windows + o, sizeof p->windows - o, "}");
    snprintf(p->stale, sizeof p->stale, "%.3f", stale_after_s);
    snprintf(p->sample, sizeof p->sample, "%u", hc->interval_sample ? hc->interval_sample : 20);
    snprintf(p->span, sizeof p->span, "%u", largest);
    p->v[0] = p->windows;
    p->v[1] = p->stale;
    p->v[2] = q->job;
    p->v[3] = q->kind;
    p->v[4] = p->sample;
    p->v[5] = p->span;
}

/* A count or a window's hours read back from PostgreSQL: an integer column it computed, so
 * anything else (a SQL NULL reads as "") counts as 0. */
static long col_long(const PGresult *r, int row, int col)
{
    int64_t v = 0;
    if (rt_parse_i64(PQgetvalue(r, row, col), INT64_MIN, INT64_MAX, &v) != 0)
        return 0;
    return (long)v;
}

/* A float8 column (seconds), or dflt when it is NULL. */
static double col_double(const PGresult *r, int row, int col, double dflt)
{
    double v = dflt;
    if (!PQgetisnull(r, row, col) &&
        rt_parse_double(PQgetvalue(r, row, col), -1e300, 1e300, &v) != 0)
        v = 0; /* never: PostgreSQL prints finite float8 in strtod's syntax */
    return v;
}

static const char *col_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* The median gap in seconds between the starts in a PostgreSQL bigint[] text of microseconds
 * ("{t1,t2,...}"). -1 with fewer than two starts or bad text, -2 out of memory. */
static double starts_median_gap_s(const char *arr)
{
    size_t cap = 1, n = 0;
    double res = -1;
    for (const char *c = arr; *c; c++)
        cap += *c == ',';
    int64_t *v = malloc(cap * sizeof *v);
    if (!v)
        return -2;
    const char *p = arr;
    if (*p++ != '{')
        goto out;
    while (*p && *p != '}' && n < cap) {
        size_t len = strcspn(p, ",}");
        char num[24];
        if (len == 0 || len >= sizeof num)
            goto out;
        memcpy(num, p, len);
        num[len] = '\0';
        if (rt_parse_i64(num, INT64_MIN, INT64_MAX, &v[n]) != 0)
            goto out;
        n++;
        p += len + (p[len] == ',');
    }
    res = rt_health_median_gap_s(v, n);
out:
    free(v);
    return res;
}

/* Per job: last run, last success and the median gap between recent starts. Index probes per
 * job, never an aggregate over all runs: the job list is a loose index scan of runs (job,
 * started_at DESC) (one descent per distinct job), the last run and the recent starts come from
 * the same index, the last success from the partial index runs_job_last_ok_idx (migration 0101).
 * So the cost grows with jobs, not with runs. With a kind filter a job that has no run of that
 * kind is probed to the end of its runs (jobs normally have one kind). */
static const char sql_jobs[] =
    "WITH RECURSIVE jobs(job) AS ("
    "  (SELECT job FROM runs WHERE $3::text IS NULL OR job = $3 ORDER BY job LIMIT 1)"
    "  UNION ALL"
    "  SELECT (SELECT r.job FROM runs r WHERE r.job > j.job AND ($3::text IS NULL OR r.job = $3)"
    "    ORDER BY r.job LIMIT 1) FROM jobs j WHERE j.job IS NOT NULL)"
    " SELECT j.job, to_char(lr.started_at AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " extract(epoch FROM now() - lr.started_at),"
    " to_char(ls.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " extract(epoch FROM now() - ls.finished_at), g.starts"
    " FROM jobs j"
    /* Report times (migration 0025): a run whose producer clock is off counts at the
     * consumer's receive times, so a run stamped 9999 is neither the last run for ever nor a
     * success in the future. The newest few by the index, then by report time: up to 7 such
     * runs cannot hide the real last run. */
    " CROSS JOIN LATERAL (SELECT max(runtrack_report_ts(started_at, first_received_at,"
    "   clock_skew_s)) AS started_at FROM (SELECT * FROM runs WHERE job = j.job"
    "   AND ($4::text IS NULL OR kind = $4) ORDER BY started_at DESC LIMIT 8) x"
    /* no row (the job drops out) when it has no run of the kind, as with LIMIT 1 before */
    "   HAVING count(*) > 0) lr"
    /* The newest success: one probe of runs_job_last_ok_idx (max() lets the planner walk it;
     * an ORDER BY ... LIMIT over report times made it walk runs_finished_at_idx across every
     * job). A success stamped in the future (a producer clock ahead) is not a success time
     * yet, so a run stamped 9999 cannot stand as the last success for ever. */
    " CROSS JOIN LATERAL (SELECT max(finished_at) AS finished_at FROM runs WHERE job = j.job"
    "   AND status IN ('completed', 'partial') AND ($4::text IS NULL OR kind = $4)"
    "   AND finished_at <= now()) ls"
    /* The recent starts as microseconds; C takes the median gap (rt_health_median_gap_s): the
     * window function, sort and percentile per job were half of this statement. */
    " CROSS JOIN LATERAL (SELECT array_agg((extract(epoch FROM runtrack_report_ts(s.started_at,"
    "   s.first_received_at, s.clock_skew_s)) * 1000000)::bigint) AS starts"
    "   FROM (SELECT started_at, first_received_at, clock_skew_s FROM runs WHERE job = j.job"
    "   ORDER BY started_at DESC LIMIT $5::int + 1) s) g"
    " WHERE j.job IS NOT NULL AND $1::int[] IS NOT NULL AND $2::float8 IS NOT NULL"
    " ORDER BY j.job COLLATE \"C\"";

/* Per job: outcome counts of the runs started inside each window, and the 24 h figures. One
 * range scan of runs_started_at_idx over the largest window (or 24 h); width_bucket puts each
 * run in the smallest window it started in (wmin), and C adds its counts to every window at
 * least that large — each run is read and counted once, whatever the windows. */
static const char sql_counts[] =
    "WITH ws AS (SELECT array_agg(w ORDER BY w DESC) AS w,"
    "   array_agg(now() - make_interval(hours => w) ORDER BY w DESC) AS t"
    "  FROM (SELECT DISTINCT unnest($1::int[] || 24) AS w) x)"
    " SELECT ws.w[width_bucket(r.started_at, ws.t)], r.job, count(*),"
    " count(*) FILTER (WHERE r.status = 'completed'),"
    " count(*) FILTER (WHERE r.status = 'partial'),"
    " count(*) FILTER (WHERE r.status = 'failed'),"
    " count(*) FILTER (WHERE r.status = 'running'"
    "   AND r.received_at >= now() - make_interval(secs => $2::float8)),"
    " count(*) FILTER (WHERE r.status = 'running'"
    "   AND r.received_at < now() - make_interval(secs => $2::float8))"
    " FROM runs r, ws"
    /* the bound as a parameter, not ws.t[1], so the planner estimates the range (an index
     * scan) instead of guessing a third of the table */
    " WHERE r.started_at >= now() - make_interval(hours => $6::int)"
    "   AND ($3::text IS NULL OR r.job = $3) AND ($4::text IS NULL OR r.kind = $4)"
    "   AND $5::int IS NOT NULL"
    " GROUP BY 1, 2";

/* Fills d's jobs from the first statement; d keeps r. */
static int read_jobs(rt_req_t *req, PGresult *r, rt_health_data_t *d)
{
    int n = PQntuples(r);
    d->owner = r;
    d->jobs = calloc(n ? (size_t)n : 1, sizeof *d->jobs);
    if (!d->jobs) {
        rt_req_error(req, 500, "internal", "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        rt_health_job_t *j = &d->jobs[d->njobs++];
        j->job = PQgetvalue(r, i, 0);
        j->last_run_at = col_text(r, i, 1);
        j->last_run_age = col_double(r, i, 2, -1);
        j->last_success_at = col_text(r, i, 3);
        j->success_age = col_double(r, i, 4, -1);
        j->median_interval = PQgetisnull(r, i, 5) ? -1 : starts_median_gap_s(PQgetvalue(r, i, 5));
        if (j->median_interval == -2) {
            rt_req_error(req, 500, "internal", "out of memory");
            return -1;
        }
    }
    return 0;
}

static int cmp_job(const void *key, const void *elem)
{
    return strcmp(key, ((const rt_health_job_t *)elem)->job);
}

/* Adds the second statement's rows to the windows of d's jobs. */
static void read_counts(const PGresult *r, const rt_health_request_t *q, rt_health_data_t *d)
{
    for (int i = 0; i < PQntuples(r); i++) {
        long wmin = col_long(r, i, 0);
        rt_health_job_t *j =
            bsearch(PQgetvalue(r, i, 1), d->jobs, d->njobs, sizeof *d->jobs, cmp_job);
        if (!j)
            continue; /* a job that appeared between the two statements */
        rt_health_counts_t c = {
            .total = col_long(r, i, 2),
            .completed = col_long(r, i, 3),
            .partial = col_long(r, i, 4),
            .failed = col_long(r, i, 5),
            .running = col_long(r, i, 6),
            .stale = col_long(r, i, 7),
        };
        for (size_t k = 0; k < q->nwindows; k++)
            if (q->windows[k] >= (unsigned long)wmin)
                rt_health_counts_add(&j->w[k].n, &c);
        if (wmin <= 24) {
            j->runs_24h += c.total;
            j->failures_24h += c.failed;
        }
    }
}

int rt_health_query(rt_req_t *req, const rt_health_conf_t *hc, double stale_after_s,
                    const rt_health_request_t *q, rt_health_data_t *d)
{
    query_params_t p;
    query_params(&p, hc, stale_after_s, q);
    PGresult *r = rt_req_exec(req, sql_jobs, 5, p.v);
    if (!r || read_jobs(req, r, d) != 0)
        return -1;
    r = rt_req_exec(req, sql_counts, 6, p.v);
    if (!r)
        return -1;
    read_counts(r, q, d);
    PQclear(r);
    return 0;
}

void rt_health_data_free(rt_health_data_t *d)
{
    free(d->jobs);
    PQclear(d->owner);
    memset(d, 0, sizeof *d);
}
