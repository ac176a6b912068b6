/* GET /api/health: seed 002's metrics-health report, applied to runs.
 *
 * Per window (hours back from now(), by started_at): total, completed, partial, failed,
 * running (with recent events), stale (running without events for stale_after_s).
 * success_rate = (completed + partial) / (completed + partial + failed + stale): partial runs
 * delivered their data (seed 001: "completed but with some errors"), a stale run is presumed
 * dead, and a live running run has no outcome yet so it is left out. Unknown (null) when the
 * window has no finished or stale run.
 * freshness_rate (per job) = 100 while the last completed/partial run finished at most one
 * expected interval ago, then interval/age; the interval is configured per job or the median
 * gap between the job's recent run starts. The overall freshness is the mean over jobs. */
#include "health.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_event.h"
#include "rt_time.h"

rt_health_status_t rt_health_classify(const rt_health_conf_t *c, double success_rate,
                                      double freshness_rate)
{
    int s_known = success_rate >= 0, f_known = freshness_rate >= 0;
    if ((s_known && success_rate < c->success_critical) ||
        (f_known && freshness_rate < c->freshness_critical))
        return RT_HEALTH_CRITICAL;
    if ((s_known && success_rate < c->success_healthy) ||
        (f_known && freshness_rate < c->freshness_healthy))
        return RT_HEALTH_WARNING;
    return RT_HEALTH_HEALTHY;
}

const char *rt_health_status_name(rt_health_status_t s)
{
    switch (s) {
    case RT_HEALTH_HEALTHY:
        return "healthy";
    case RT_HEALTH_WARNING:
        return "warning";
    case RT_HEALTH_CRITICAL:
        return "critical";
    }
    return "unknown";
}

double rt_health_freshness(double interval_s, double age_s)
{
    if (!(interval_s > 0))
        return -1;
    if (age_s < 0)
        return 0;
    if (age_s <= interval_s)
        return 100;
    return 100.0 * interval_s / age_s;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int rt_health_parse_windows(const char *s, unsigned *out, size_t max)
{
    size_t n = 0;
    const char *p = s;
    if (!s || !*s)
        return -1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char num[16];
        long v;
        if (len == 0 || len >= sizeof num)
            return -1;
        memcpy(num, p, len);
        num[len] = '\0';
        if (rt_parse_long(num, 1, 8760, &v) != 0)
            return -1;
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= out[i] == (unsigned)v;
        if (!dup) {
            if (n >= max)
                return -1;
            out[n++] = (unsigned)v;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    qsort(out, n, sizeof *out, cmp_unsigned);
    return (int)n;
}

typedef struct counts {
    long total, completed, partial, failed, running, stale;
} counts_t;

typedef struct job_info {
    char *job;
    char *last_run_at, *last_success_at; /* RFC 3339, or NULL */
    double last_run_age, success_age;    /* < 0: none */
    long runs_24h, failures_24h;
    double interval; /* <= 0: unknown */
    const char *interval_source;
    double freshness;
    rt_health_status_t status; /* the worst of its windows */
    counts_t w[RT_API_MAX_WINDOWS];
} job_info_t;

static double success_rate(const counts_t *c)
{
    long den = c->completed + c->partial + c->failed + c->stale;
    return den ? 100.0 * (double)(c->completed + c->partial) / (double)den : -1;
}

/* ---------- a growable JSON text buffer ----------
 * The report is written as text directly: with 200 jobs it is ~180 KB of ~10,000 values, and
 * building it as jansson objects and dumping them was most of the server's CPU per request
 * (perf: jansson + malloc/free). Numbers are printed as jansson printed them (reals with 15
 * significant digits and a ".0" when integral), so the bytes are the same. */
typedef struct sb {
    char *p;
    size_t len, cap;
    int oom;
} sb_t;

static int sb_reserve(sb_t *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void sb_add(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb_t *b, const char *fmt, ...)
{
    if (sb_reserve(b, 256) != 0) /* most pieces fit: one vsnprintf, not a sizing pass first */
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->p[b->len] = '\0';
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        if (sb_reserve(b, (size_t)n) != 0)
            return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* A string literal without its NUL. */
#define SB_LIT(b, lit) sb_raw((b), (lit), sizeof(lit) - 1)

static void sb_raw(sb_t *b, const char *s, size_t n)
{
    if (sb_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* A JSON string literal, or null for NULL. */
static void sb_str(sb_t *b, const char *s)
{
    if (!s) {
        SB_LIT(b, "null");
        return;
    }
    size_t n = strlen(s), need = rt_json_escape(s, n, NULL, 0);
    if (sb_reserve(b, need) != 0)
        return;
    rt_json_escape(s, n, b->p + b->len, b->cap - b->len);
    b->len += need;
}

/* A real as jansson's JSON_REAL_PRECISION(15) wrote it. */
static void sb_real(sb_t *b, double v)
{
    char num[40];
    int n = snprintf(num, sizeof num, "%.15g", v);
    if (n < 0 || (size_t)n >= sizeof num - 2)
        return;
    if (!strpbrk(num, ".eE")) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    sb_raw(b, num, (size_t)n);
}

static void sb_rate(sb_t *b, double r)
{
    if (r >= 0)
        sb_real(b, round(r * 100.0) / 100.0);
    else
        SB_LIT(b, "null");
}

static void window_sb(sb_t *b, const rt_health_conf_t *hc, unsigned hours, const counts_t *c,
                      double freshness, const char *status_override, rt_health_status_t *st_out)
{
    double sr = success_rate(c);
    rt_health_status_t st = rt_health_classify(hc, sr, freshness);
    if (st_out)
        *st_out = st;
    sb_add(b,
           "{\"window_hours\":%u,\"total\":%ld,\"completed\":%ld,\"partial\":%ld,\"failed\":%ld,"
           "\"running\":%ld,\"stale\":%ld,\"success_rate\":",
           hours, c->total, c->completed, c->partial, c->failed, c->running, c->stale);
    sb_rate(b, sr);
    SB_LIT(b, ",\"freshness_rate\":");
    sb_rate(b, freshness);
    sb_add(b, ",\"status\":\"%s\"}", status_override ? status_override : rt_health_status_name(st));
}

static void add_alert(sb_t *alerts, const char *severity, const char *code, const char *job,
                      unsigned window, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add_alert(sb_t *alerts, const char *severity, const char *code, const char *job,
                      unsigned window, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sb_add(alerts, "%s{\"severity\":\"%s\",\"code\":\"%s\",\"job\":", alerts->len ? "," : "",
           severity, code);
    sb_str(alerts, job);
    if (window)
        sb_add(alerts, ",\"window_hours\":%u,\"message\":", window);
    else
        SB_LIT(alerts, ",\"window_hours\":null,\"message\":");
    sb_str(alerts, msg);
    SB_LIT(alerts, "}");
}

static int cmp_job(const void *key, const void *elem)
{
    return strcmp(key, ((const job_info_t *)elem)->job);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median gap in seconds between the start times in a PostgreSQL bigint[] text of
 * microseconds ("{t1,t2,...}", any order), as percentile_cont(0.5) over the gaps computes it
 * (interpolating between the two middle gaps). -1 with fewer than two starts or bad text, -2 out
 * of memory. */
static double median_gap_s(const char *arr)
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
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno)
            goto out;
        v[n++] = (int64_t)x;
        p = *end == ',' ? end + 1 : end;
    }
    if (n < 2)
        goto out;
    qsort(v, n, sizeof v[0], cmp_i64);
    for (size_t i = 0; i + 1 < n; i++)
        v[i] = v[i + 1] - v[i]; /* gaps of ascending starts */
    n--;
    qsort(v, n, sizeof v[0], cmp_i64);
    double lo = (double)v[(n - 1) / 2] / 1e6, hi = (double)v[n / 2] / 1e6;
    res = (n % 2) ? lo : lo + (hi - lo) * 0.5;
out:
    free(v);
    return res;
}

static double num_or(const PGresult *r, int row, int col, double dflt)
{
    return PQgetisnull(r, row, col) ? dflt : strtod(PQgetvalue(r, row, col), NULL);
}

void rt_health_handle(rt_req_t *req)
{
    static const char *const allowed[] = {"window", "windows", "job", "kind", NULL};
    const rt_api_conf_t *conf = rt_req_conf(req);
    const rt_health_conf_t *hc = &conf->health;
    unsigned windows[RT_API_MAX_WINDOWS];
    size_t nw = hc->nwindows;
    job_info_t *jobs = NULL;
    int njobs = 0;
    PGresult *r = NULL;
    sb_t body = {0}, wins = {0}, alerts = {0};

    if (rt_req_allow_params(req, allowed))
        return;
    const char *wone = rt_req_param(req, "window"), *wlist = rt_req_param(req, "windows");
    if (wone && wlist) {
        rt_req_error(req, 400, "bad_parameter", "give either window or windows, not both");
        return;
    }
    memcpy(windows, hc->windows, sizeof windows);
    if (wone || wlist) {
        const char *s = wone ? wone : wlist;
        int n = rt_health_parse_windows(s, windows, wone ? 1 : RT_API_MAX_WINDOWS);
        if (n <= 0) {
            rt_req_error(req, 400, "bad_parameter", "%s must be hours from 1 to 8760%s",
                         wone ? "window" : "windows", wone ? "" : ", comma-separated, at most 16");
            return;
        }
        nw = (size_t)n;
    }
    const char *job = rt_req_param(req, "job"), *kind = rt_req_param(req, "kind");

    char warr[RT_API_MAX_WINDOWS * 6 + 4], stale[32], sample[16], span[16];
    size_t o = 0;
    warr[o++] = '{';
    for (size_t i = 0; i < nw; i++)
        o += (size_t)snprintf(warr + o, sizeof warr - o, "%s%u", i ? "," : "", windows[i]);
    snprintf(warr + o, sizeof warr - o, "}");
    snprintf(stale, sizeof stale, "%.3f", conf->stale_after_s);
    snprintf(sample, sizeof sample, "%u", hc->interval_sample ? hc->interval_sample : 20);
    unsigned largest = 24; /* the 24 h figures need at least that */
    for (size_t i = 0; i < nw; i++)
        largest = windows[i] > largest ? windows[i] : largest;
    snprintf(span, sizeof span, "%u", largest);
    const char *const params[] = {warr, stale, job, kind, sample, span};

    /* Per job: last run, last success and the median gap between recent starts. Index probes
     * per job, never an aggregate over all runs: the job list is a loose index scan of runs
     * (job, started_at DESC) (one descent per distinct job), the last run and the recent starts
     * come from the same index, the last success from the partial index runs_job_last_ok_idx
     * (migration 0101). So the cost grows with jobs, not with runs. With a kind filter a job
     * that has no run of that kind is probed to the end of its runs (jobs normally have one
     * kind). */
    r = rt_req_exec(
        req,
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
        " CROSS JOIN LATERAL (SELECT started_at FROM runs WHERE job = j.job"
        "   AND ($4::text IS NULL OR kind = $4) ORDER BY started_at DESC LIMIT 1) lr"
        " CROSS JOIN LATERAL (SELECT max(finished_at) AS finished_at FROM runs WHERE job = j.job"
        "   AND status IN ('completed', 'partial') AND ($4::text IS NULL OR kind = $4)) ls"
        /* The recent starts as microseconds; C takes the median gap (median_gap_s): the
         * window function, sort and percentile per job were half of this statement. */
        " CROSS JOIN LATERAL (SELECT array_agg((extract(epoch FROM s.started_at) * 1000000)"
        "   ::bigint) AS starts FROM (SELECT started_at FROM runs WHERE job = j.job"
        "   ORDER BY started_at DESC LIMIT $5::int + 1) s) g"
        " WHERE j.job IS NOT NULL AND $1::int[] IS NOT NULL AND $2::float8 IS NOT NULL"
        " ORDER BY j.job COLLATE \"C\"",
        5, params);
    if (!r)
        goto out;
    njobs = PQntuples(r);
    jobs = calloc(njobs ? (size_t)njobs : 1, sizeof *jobs);
    if (!jobs) {
        rt_req_error(req, 500, "internal", "out of memory");
        goto out;
    }
    for (int i = 0; i < njobs; i++) {
        job_info_t *j = &jobs[i];
        j->job = strdup(PQgetvalue(r, i, 0));
        if (!j->job) {
            njobs = i;
            rt_req_error(req, 500, "internal", "out of memory");
            goto out;
        }
        j->last_run_at = PQgetisnull(r, i, 1) ? NULL : strdup(PQgetvalue(r, i, 1));
        j->last_run_age = num_or(r, i, 2, -1);
        j->last_success_at = PQgetisnull(r, i, 3) ? NULL : strdup(PQgetvalue(r, i, 3));
        if ((!PQgetisnull(r, i, 1) && !j->last_run_at) ||
            (!PQgetisnull(r, i, 3) && !j->last_success_at)) {
            njobs = i + 1;
            rt_req_error(req, 500, "internal", "out of memory");
            goto out;
        }
        j->success_age = num_or(r, i, 4, -1);
        j->interval = PQgetisnull(r, i, 5) ? -1 : median_gap_s(PQgetvalue(r, i, 5));
        if (j->interval == -2) {
            njobs = i + 1;
            rt_req_error(req, 500, "internal", "out of memory");
            goto out;
        }
        j->interval_source = j->interval > 0 ? "median" : NULL;
        for (size_t k = 0; k < hc->nintervals; k++)
            if (hc->intervals[k].job && strcmp(hc->intervals[k].job, j->job) == 0 &&
                hc->intervals[k].seconds > 0) {
                j->interval = hc->intervals[k].seconds;
                j->interval_source = "configured";
            }
        j->freshness = rt_health_freshness(j->interval, j->success_age);
    }
    PQclear(r);

    /* Per job: outcome counts of the runs started inside each window, and the 24 h figures.
     * One range scan of runs_started_at_idx over the largest window (or 24 h); width_bucket
     * puts each run in the smallest window it started in (wmin), and C adds its counts to every
     * window at least that large — each run is read and counted once, whatever the windows. */
    r = rt_req_exec(req,
                    "WITH ws AS (SELECT array_agg(w ORDER BY w DESC) AS w,"
                    "   array_agg(now() - make_interval(hours => w) ORDER BY w DESC) AS t"
                    "  FROM (SELECT DISTINCT unnest($1::int[] || 24) AS w) x)"
                    " SELECT ws.w[width_bucket(r.started_at, ws.t)], r.job, count(*),"
                    " count(*) FILTER (WHERE r.status = 'completed'),"
                    " count(*) FILTER (WHERE r.status = 'partial'),"
                    " count(*) FILTER (WHERE r.status = 'failed'),"
                    " count(*) FILTER (WHERE r.status = 'running'"
                    "   AND r.last_event_at >= now() - make_interval(secs => $2::float8)),"
                    " count(*) FILTER (WHERE r.status = 'running'"
                    "   AND r.last_event_at < now() - make_interval(secs => $2::float8))"
                    " FROM runs r, ws"
                    /* the bound as a parameter, not ws.t[1], so the planner estimates the
                     * range (an index scan) instead of guessing a third of the table */
                    " WHERE r.started_at >= now() - make_interval(hours => $6::int)"
                    "   AND ($3::text IS NULL OR r.job = $3) AND ($4::text IS NULL OR r.kind = $4)"
                    "   AND $5::int IS NOT NULL"
                    " GROUP BY 1, 2",
                    6, params);
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        long wmin = strtol(PQgetvalue(r, i, 0), NULL, 10);
        job_info_t *j = bsearch(PQgetvalue(r, i, 1), jobs, (size_t)njobs, sizeof *jobs, cmp_job);
        if (!j)
            continue; /* a job that appeared between the two statements */
        counts_t c = {
            .total = strtol(PQgetvalue(r, i, 2), NULL, 10),
            .completed = strtol(PQgetvalue(r, i, 3), NULL, 10),
            .partial = strtol(PQgetvalue(r, i, 4), NULL, 10),
            .failed = strtol(PQgetvalue(r, i, 5), NULL, 10),
            .running = strtol(PQgetvalue(r, i, 6), NULL, 10),
            .stale = strtol(PQgetvalue(r, i, 7), NULL, 10),
        };
        for (size_t k = 0; k < nw; k++)
            if (windows[k] >= (unsigned long)wmin) {
                counts_t *w = &j->w[k];
                w->total += c.total;
                w->completed += c.completed;
                w->partial += c.partial;
                w->failed += c.failed;
                w->running += c.running;
                w->stale += c.stale;
            }
        if (wmin <= 24) {
            j->runs_24h += c.total;
            j->failures_24h += c.failed;
        }
    }

    /* Assemble: job statuses, overall sums and alerts first, then the body in one buffer sized
     * up front (~230 bytes a window, ~400 a job): the report is ~180 KB with 200 jobs, and
     * every extra buffer of that size cost page faults and a copy per request (perf). */
    counts_t all[RT_API_MAX_WINDOWS];
    memset(all, 0, sizeof all);
    double fresh_sum = 0, newest_age = -1;
    int fresh_n = 0;
    long runs_24h = 0;
    const char *newest_at = NULL;
    for (int i = 0; i < njobs; i++) {
        job_info_t *j = &jobs[i];
        j->status = rt_health_classify(hc, -1, j->freshness);
        for (size_t k = 0; k < nw; k++) {
            rt_health_status_t st = rt_health_classify(hc, success_rate(&j->w[k]), j->freshness);
            if (st > j->status)
                j->status = st;
            all[k].total += j->w[k].total;
            all[k].completed += j->w[k].completed;
            all[k].partial += j->w[k].partial;
            all[k].failed += j->w[k].failed;
            all[k].running += j->w[k].running;
            all[k].stale += j->w[k].stale;
        }
        if (j->freshness >= 0) {
            fresh_sum += j->freshness;
            fresh_n++;
        }
        runs_24h += j->runs_24h;
        if (j->last_run_age >= 0 && (newest_age < 0 || j->last_run_age < newest_age)) {
            newest_age = j->last_run_age;
            newest_at = j->last_run_at;
        }
        if (j->freshness >= 0 && j->freshness < hc->freshness_healthy && j->success_age >= 0)
            add_alert(&alerts, j->freshness < hc->freshness_critical ? "critical" : "warning",
                      "freshness_low", j->job, 0,
                      "%s: freshness %.1f%% below %.0f%% (last success %.0f s ago, expected every"
                      " %.0f s)",
                      j->job, j->freshness, hc->freshness_healthy, j->success_age, j->interval);
        else if (j->freshness >= 0 && j->freshness < hc->freshness_healthy)
            add_alert(&alerts, "critical", "freshness_low", j->job, 0,
                      "%s: freshness 0%% (no successful run on record, expected every %.0f s)",
                      j->job, j->interval);
        if (j->failures_24h > hc->failures_alert_24h)
            add_alert(&alerts, "warning", "failures_24h", j->job, 24,
                      "%s: %ld failed runs in the last 24 h (more than %ld)", j->job,
                      j->failures_24h, hc->failures_alert_24h);
        if (j->success_age < 0)
            add_alert(&alerts, "critical", "no_success", j->job, 0,
                      "%s: no successful run on record", j->job);
        else if (j->success_age > hc->no_success_alert_s)
            add_alert(&alerts, "critical", "no_success", j->job, 0,
                      "%s: no successful run for %.0f s (threshold %.0f s)", j->job, j->success_age,
                      hc->no_success_alert_s);
    }
    double fresh_all = fresh_n ? fresh_sum / fresh_n : -1;
    rt_health_status_t overall_st = rt_health_classify(hc, -1, fresh_all);
    for (size_t k = 0; k < nw; k++) {
        rt_health_status_t st;
        if (k)
            SB_LIT(&wins, ",");
        window_sb(&wins, hc, windows[k], &all[k], fresh_all, NULL, &st);
        if (st > overall_st)
            overall_st = st;
        double sr = success_rate(&all[k]);
        if (sr >= 0 && sr < hc->success_healthy)
            add_alert(&alerts, sr < hc->success_critical ? "critical" : "warning",
                      "success_rate_low", NULL, windows[k],
                      "success rate %.1f%% below %.0f%% in the last %u h", sr, hc->success_healthy,
                      windows[k]);
    }
    if (fresh_all >= 0 && fresh_all < hc->freshness_healthy)
        add_alert(&alerts, fresh_all < hc->freshness_critical ? "critical" : "warning",
                  "freshness_low", NULL, 0, "overall freshness %.1f%% below %.0f%%", fresh_all,
                  hc->freshness_healthy);
    if (newest_age < 0)
        add_alert(&alerts, "warning", "no_runs", NULL, 0, "no runs on record");
    else if (newest_age > hc->last_run_alert_s)
        add_alert(&alerts, "warning", "last_run_old", NULL, 0,
                  "last run started %.0f s ago (threshold %.0f s)", newest_age,
                  hc->last_run_alert_s);

    char now[RT_TIME_STRLEN];
    rt_time_format(rt_now_us(), now, sizeof now);
    (void)sb_reserve(&body, (size_t)njobs * (400 + nw * 230) + alerts.len + 4096);
    /* generated_at = timestamp: when this report was computed (a cached copy keeps it). */
    sb_add(&body,
           "{\"timestamp\":\"%s\",\"generated_at\":\"%s\",\"thresholds\":{"
           "\"success_healthy\":",
           now, now);
    sb_real(&body, hc->success_healthy);
    SB_LIT(&body, ",\"success_critical\":");
    sb_real(&body, hc->success_critical);
    SB_LIT(&body, ",\"freshness_healthy\":");
    sb_real(&body, hc->freshness_healthy);
    SB_LIT(&body, ",\"freshness_critical\":");
    sb_real(&body, hc->freshness_critical);
    sb_add(&body, ",\"failures_alert_24h\":%ld,\"no_success_alert_seconds\":",
           hc->failures_alert_24h);
    sb_real(&body, hc->no_success_alert_s);
    SB_LIT(&body, ",\"last_run_alert_seconds\":");
    sb_real(&body, hc->last_run_alert_s);
    SB_LIT(&body, ",\"stale_after_seconds\":");
    sb_real(&body, conf->stale_after_s);
    SB_LIT(&body, "},\"overall\":");
    /* The counts of the largest window with the worst status of all windows. */
    window_sb(&body, hc, windows[nw - 1], &all[nw - 1], fresh_all,
              rt_health_status_name(overall_st), NULL);
    SB_LIT(&body, ",\"windows\":[");
    if (wins.len)
        sb_raw(&body, wins.p, wins.len);
    SB_LIT(&body, "],\"jobs\":[");
    for (int i = 0; i < njobs; i++) {
        const job_info_t *j = &jobs[i];
        sb_add(&body, "%s{\"job\":", i ? "," : "");
        sb_str(&body, j->job);
        sb_add(&body, ",\"status\":\"%s\",\"last_run_at\":", rt_health_status_name(j->status));
        sb_str(&body, j->last_run_at);
        SB_LIT(&body, ",\"last_success_at\":");
        sb_str(&body, j->last_success_at);
        SB_LIT(&body, ",\"seconds_since_last_success\":");
        if (j->success_age >= 0)
            sb_real(&body, round(j->success_age * 1000) / 1000);
        else
            SB_LIT(&body, "null");
        SB_LIT(&body, ",\"expected_interval_seconds\":");
        if (j->interval > 0)
            sb_real(&body, round(j->interval * 1000) / 1000);
        else
            SB_LIT(&body, "null");
        SB_LIT(&body, ",\"interval_source\":");
        sb_str(&body, j->interval_source);
        SB_LIT(&body, ",\"freshness_rate\":");
        sb_rate(&body, j->freshness);
        sb_add(&body, ",\"runs_24h\":%ld,\"failures_24h\":%ld,\"windows\":[", j->runs_24h,
               j->failures_24h);
        for (size_t k = 0; k < nw; k++) {
            if (k)
                SB_LIT(&body, ",");
            window_sb(&body, hc, windows[k], &j->w[k], j->freshness, NULL, NULL);
        }
        SB_LIT(&body, "]}");
    }
    SB_LIT(&body, "],\"last_run_at\":");
    sb_str(&body, newest_at);
    sb_add(&body, ",\"runs_24h\":%ld,\"alerts\":[", runs_24h);
    if (alerts.len)
        sb_raw(&body, alerts.p, alerts.len);
    SB_LIT(&body, "]}");
    if (body.oom || wins.oom || alerts.oom) {
        rt_req_error(req, 500, "internal", "out of memory");
        goto out;
    }
    rt_req_text(req, 200, "application/json", body.p);
    body.p = NULL;
out:
    PQclear(r);
    for (int i = 0; jobs && i < njobs; i++) {
        free(jobs[i].job);
        free(jobs[i].last_run_at);
        free(jobs[i].last_success_at);
    }
    free(jobs);
    free(body.p);
    free(wins.p);
    free(alerts.p);
}
