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

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    json_t *last_run_at, *last_success_at; /* strings or null */
    double last_run_age, success_age;      /* < 0: none */
    long runs_24h, failures_24h;
    double interval; /* <= 0: unknown */
    const char *interval_source;
    double freshness;
    counts_t w[RT_API_MAX_WINDOWS];
} job_info_t;

static double success_rate(const counts_t *c)
{
    long den = c->completed + c->partial + c->failed + c->stale;
    return den ? 100.0 * (double)(c->completed + c->partial) / (double)den : -1;
}

static json_t *rate_json(double r)
{
    return r >= 0 ? json_real(round(r * 100.0) / 100.0) : json_null();
}

static json_t *window_json(const rt_health_conf_t *hc, unsigned hours, const counts_t *c,
                           double freshness, rt_health_status_t *st_out)
{
    double sr = success_rate(c);
    rt_health_status_t st = rt_health_classify(hc, sr, freshness);
    if (st_out)
        *st_out = st;
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:s}", "window_hours", (json_int_t)hours,
                     "total", (json_int_t)c->total, "completed", (json_int_t)c->completed,
                     "partial", (json_int_t)c->partial, "failed", (json_int_t)c->failed, "running",
                     (json_int_t)c->running, "stale", (json_int_t)c->stale, "success_rate",
                     rate_json(sr), "freshness_rate", rate_json(freshness), "status",
                     rt_health_status_name(st));
}

static void add_alert(json_t *alerts, const char *severity, const char *code, const char *job,
                      unsigned window, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add_alert(json_t *alerts, const char *severity, const char *code, const char *job,
                      unsigned window, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(alerts,
                          json_pack("{s:s,s:s,s:o,s:o,s:s}", "severity", severity, "code", code,
                                    "job", job ? json_string(job) : json_null(), "window_hours",
                                    window ? json_integer(window) : json_null(), "message", msg));
}

static int cmp_job(const void *key, const void *elem)
{
    return strcmp(key, ((const job_info_t *)elem)->job);
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
    json_t *body = NULL;

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

    char warr[RT_API_MAX_WINDOWS * 6 + 4], stale[32], sample[16], wmax[16];
    size_t o = 0;
    warr[o++] = '{';
    for (size_t i = 0; i < nw; i++)
        o += (size_t)snprintf(warr + o, sizeof warr - o, "%s%u", i ? "," : "", windows[i]);
    snprintf(warr + o, sizeof warr - o, "}");
    snprintf(stale, sizeof stale, "%.3f", conf->stale_after_s);
    snprintf(sample, sizeof sample, "%u", hc->interval_sample ? hc->interval_sample : 20);
    unsigned largest = 0;
    for (size_t i = 0; i < nw; i++)
        largest = windows[i] > largest ? windows[i] : largest;
    snprintf(wmax, sizeof wmax, "%u", largest);
    const char *const params[] = {warr, stale, job, kind, sample, wmax};

    /* Per job: last run, last success, 24 h figures and the median gap between recent starts.
     * Index probes per job, never an aggregate over all runs: the job list is a loose index scan
     * of runs (job, started_at DESC) (one descent per distinct job), the last run and the 24 h
     * counts come from the same index, the last success from the partial index
     * runs_job_last_ok_idx (migration 0101). So the cost grows with jobs, not with runs. With a
     * kind filter a job that has no run of that kind is probed to the end of its runs (jobs
     * normally have one kind). */
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
        " extract(epoch FROM now() - ls.finished_at), d.runs_24h, d.failures_24h, g.median_gap"
        " FROM jobs j"
        " CROSS JOIN LATERAL (SELECT started_at FROM runs WHERE job = j.job"
        "   AND ($4::text IS NULL OR kind = $4) ORDER BY started_at DESC LIMIT 1) lr"
        " CROSS JOIN LATERAL (SELECT max(finished_at) AS finished_at FROM runs WHERE job = j.job"
        "   AND status IN ('completed', 'partial') AND ($4::text IS NULL OR kind = $4)) ls"
        " CROSS JOIN LATERAL (SELECT count(*) AS runs_24h,"
        "   count(*) FILTER (WHERE status = 'failed') AS failures_24h FROM runs WHERE job = j.job"
        "   AND started_at >= now() - interval '24 hours' AND ($4::text IS NULL OR kind = $4)) d"
        " LEFT JOIN LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x.gap) AS "
        "median_gap"
        "  FROM (SELECT extract(epoch FROM s.started_at - lag(s.started_at)"
        "     OVER (ORDER BY s.started_at))::float8 AS gap"
        "   FROM (SELECT started_at FROM runs WHERE job = j.job ORDER BY started_at DESC"
        "     LIMIT $5::int + 1) s) x WHERE x.gap IS NOT NULL) g ON true"
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
        j->last_run_at = PQgetisnull(r, i, 1) ? json_null() : json_string(PQgetvalue(r, i, 1));
        j->last_run_age = num_or(r, i, 2, -1);
        j->last_success_at = PQgetisnull(r, i, 3) ? json_null() : json_string(PQgetvalue(r, i, 3));
        j->success_age = num_or(r, i, 4, -1);
        j->runs_24h = (long)num_or(r, i, 5, 0);
        j->failures_24h = (long)num_or(r, i, 6, 0);
        j->interval = num_or(r, i, 7, -1);
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

    /* Per window and job: outcome counts of the runs started inside the window. One range scan
     * of runs_started_at_idx over the largest window (materialized, so the planner cannot turn
     * it into one scan per window), then each row counted in every window it falls in. */
    r = rt_req_exec(req,
                    "WITH r AS MATERIALIZED (SELECT job, status, started_at, last_event_at"
                    "  FROM runs WHERE started_at >= now() - make_interval(hours => $6::int)"
                    "   AND ($3::text IS NULL OR job = $3) AND ($4::text IS NULL OR kind = $4))"
                    " SELECT w, r.job, count(*),"
                    " count(*) FILTER (WHERE r.status = 'completed'),"
                    " count(*) FILTER (WHERE r.status = 'partial'),"
                    " count(*) FILTER (WHERE r.status = 'failed'),"
                    " count(*) FILTER (WHERE r.status = 'running'"
                    "   AND r.last_event_at >= now() - make_interval(secs => $2::float8)),"
                    " count(*) FILTER (WHERE r.status = 'running'"
                    "   AND r.last_event_at < now() - make_interval(secs => $2::float8))"
                    " FROM unnest($1::int[]) AS w"
                    " JOIN r ON r.started_at >= now() - make_interval(hours => w)"
                    " WHERE $5::int IS NOT NULL"
                    " GROUP BY w, r.job",
                    6, params);
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        long w = strtol(PQgetvalue(r, i, 0), NULL, 10);
        job_info_t *j = bsearch(PQgetvalue(r, i, 1), jobs, (size_t)njobs, sizeof *jobs, cmp_job);
        if (!j)
            continue; /* a job that appeared between the two statements */
        for (size_t k = 0; k < nw; k++)
            if (windows[k] == (unsigned)w) {
                counts_t *c = &j->w[k];
                c->total = strtol(PQgetvalue(r, i, 2), NULL, 10);
                c->completed = strtol(PQgetvalue(r, i, 3), NULL, 10);
                c->partial = strtol(PQgetvalue(r, i, 4), NULL, 10);
                c->failed = strtol(PQgetvalue(r, i, 5), NULL, 10);
                c->running = strtol(PQgetvalue(r, i, 6), NULL, 10);
                c->stale = strtol(PQgetvalue(r, i, 7), NULL, 10);
            }
    }

    /* Assemble: overall windows, jobs, alerts. */
    counts_t all[RT_API_MAX_WINDOWS];
    memset(all, 0, sizeof all);
    double fresh_sum = 0, newest_age = -1;
    int fresh_n = 0;
    long runs_24h = 0;
    json_t *newest_at = json_null();
    json_t *jobs_json = json_array(), *alerts = json_array(), *wjson = json_array();
    for (int i = 0; i < njobs; i++) {
        job_info_t *j = &jobs[i];
        json_t *jw = json_array();
        rt_health_status_t worst = rt_health_classify(hc, -1, j->freshness);
        for (size_t k = 0; k < nw; k++) {
            rt_health_status_t st;
            json_array_append_new(jw, window_json(hc, windows[k], &j->w[k], j->freshness, &st));
            if (st > worst)
                worst = st;
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
            json_decref(newest_at);
            newest_at = json_incref(j->last_run_at);
        }
        json_array_append_new(
            jobs_json,
            json_pack("{s:s,s:s,s:O,s:O,s:o,s:o,s:s?,s:o,s:I,s:I,s:o}", "job", j->job, "status",
                      rt_health_status_name(worst), "last_run_at", j->last_run_at,
                      "last_success_at", j->last_success_at, "seconds_since_last_success",
                      j->success_age >= 0 ? json_real(round(j->success_age * 1000) / 1000)
                                          : json_null(),
                      "expected_interval_seconds",
                      j->interval > 0 ? json_real(round(j->interval * 1000) / 1000) : json_null(),
                      "interval_source", j->interval_source, "freshness_rate",
                      rate_json(j->freshness), "runs_24h", (json_int_t)j->runs_24h, "failures_24h",
                      (json_int_t)j->failures_24h, "windows", jw));
        if (j->freshness >= 0 && j->freshness < hc->freshness_healthy && j->success_age >= 0)
            add_alert(alerts, j->freshness < hc->freshness_critical ? "critical" : "warning",
                      "freshness_low", j->job, 0,
                      "%s: freshness %.1f%% below %.0f%% (last success %.0f s ago, expected every"
                      " %.0f s)",
                      j->job, j->freshness, hc->freshness_healthy, j->success_age, j->interval);
        else if (j->freshness >= 0 && j->freshness < hc->freshness_healthy)
            add_alert(alerts, "critical", "freshness_low", j->job, 0,
                      "%s: freshness 0%% (no successful run on record, expected every %.0f s)",
                      j->job, j->interval);
        if (j->failures_24h > hc->failures_alert_24h)
            add_alert(alerts, "warning", "failures_24h", j->job, 24,
                      "%s: %ld failed runs in the last 24 h (more than %ld)", j->job,
                      j->failures_24h, hc->failures_alert_24h);
        if (j->success_age < 0)
            add_alert(alerts, "critical", "no_success", j->job, 0,
                      "%s: no successful run on record", j->job);
        else if (j->success_age > hc->no_success_alert_s)
            add_alert(alerts, "critical", "no_success", j->job, 0,
                      "%s: no successful run for %.0f s (threshold %.0f s)", j->job, j->success_age,
                      hc->no_success_alert_s);
    }
    double fresh_all = fresh_n ? fresh_sum / fresh_n : -1;
    rt_health_status_t overall_st = rt_health_classify(hc, -1, fresh_all);
    for (size_t k = 0; k < nw; k++) {
        rt_health_status_t st;
        json_array_append_new(wjson, window_json(hc, windows[k], &all[k], fresh_all, &st));
        if (st > overall_st)
            overall_st = st;
        double sr = success_rate(&all[k]);
        if (sr >= 0 && sr < hc->success_healthy)
            add_alert(alerts, sr < hc->success_critical ? "critical" : "warning",
                      "success_rate_low", NULL, windows[k],
                      "success rate %.1f%% below %.0f%% in the last %u h", sr, hc->success_healthy,
                      windows[k]);
    }
    if (fresh_all >= 0 && fresh_all < hc->freshness_healthy)
        add_alert(alerts, fresh_all < hc->freshness_critical ? "critical" : "warning",
                  "freshness_low", NULL, 0, "overall freshness %.1f%% below %.0f%%", fresh_all,
                  hc->freshness_healthy);
    if (newest_age < 0)
        add_alert(alerts, "warning", "no_runs", NULL, 0, "no runs on record");
    else if (newest_age > hc->last_run_alert_s)
        add_alert(alerts, "warning", "last_run_old", NULL, 0,
                  "last run started %.0f s ago (threshold %.0f s)", newest_age,
                  hc->last_run_alert_s);

    json_t *overall = window_json(hc, windows[nw - 1], &all[nw - 1], fresh_all, NULL);
    json_object_set_new(overall, "status", json_string(rt_health_status_name(overall_st)));
    char now[RT_TIME_STRLEN];
    rt_time_format(rt_now_us(), now, sizeof now);
    body = json_pack("{s:s,s:{s:f,s:f,s:f,s:f,s:I,s:f,s:f,s:f},s:o,s:o,s:o,s:o,s:I,s:o}",
                     "timestamp", now, "thresholds", "success_healthy", hc->success_healthy,
                     "success_critical", hc->success_critical, "freshness_healthy",
                     hc->freshness_healthy, "freshness_critical", hc->freshness_critical,
                     "failures_alert_24h", (json_int_t)hc->failures_alert_24h,
                     "no_success_alert_seconds", hc->no_success_alert_s, "last_run_alert_seconds",
                     hc->last_run_alert_s, "stale_after_seconds", conf->stale_after_s, "overall",
                     overall, "windows", wjson, "jobs", jobs_json, "last_run_at", newest_at,
                     "runs_24h", (json_int_t)runs_24h, "alerts", alerts);
    rt_req_json(req, 200, body);
out:
    PQclear(r);
    for (int i = 0; jobs && i < njobs; i++) {
        free(jobs[i].job);
        json_decref(jobs[i].last_run_at);
        json_decref(jobs[i].last_success_at);
    }
    free(jobs);
}
