/* GET /api/health, part 3: seed 002's metrics-health rules applied to runs. Pure functions: the
 * figures come in (health_query.c), statuses and alerts go out (health_render.c writes them).
 *
 * success_rate = (completed + partial) / (completed + partial + failed + stale): partial runs
 * delivered their data (seed 001: "completed but with some errors"), a stale run is presumed
 * dead, and a live running run has no outcome yet so it is left out. Unknown (null) when the
 * window has no finished or stale run.
 * freshness_rate (per job) = 100 while the last completed/partial run finished at most one
 * expected interval ago, then interval/age; the interval is configured per job or the median
 * gap between the job's recent run starts. The overall freshness is the mean over jobs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_internal.h"
#include "rt_buf.h"

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

double rt_health_success_rate(const rt_health_counts_t *c)
{
    long den = c->completed + c->partial + c->failed + c->stale;
    return den ? 100.0 * (double)(c->completed + c->partial) / (double)den : -1;
}

void rt_health_counts_add(rt_health_counts_t *sum, const rt_health_counts_t *c)
{
    sum->total += c->total;
    sum->completed += c->completed;
    sum->partial += c->partial;
    sum->failed += c->failed;
    sum->running += c->running;
    sum->stale += c->stale;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

double rt_health_median_gap_s(int64_t *v, size_t n)
{
    if (n < 2)
        return -1;
    qsort(v, n, sizeof v[0], cmp_i64);
    for (size_t i = 0; i + 1 < n; i++)
        v[i] = v[i + 1] - v[i]; /* gaps of ascending starts */
    n--;
    qsort(v, n, sizeof v[0], cmp_i64);
    double lo = (double)v[(n - 1) / 2] / 1e6, hi = (double)v[n / 2] / 1e6;
    return (n % 2) ? lo : lo + (hi - lo) * 0.5;
}

static void add_alert(rt_health_report_t *rep, rt_health_status_t severity, const char *code,
                      const char *job, unsigned window, const char *fmt, ...) RT_PRINTF(6, 7);
static void add_alert(rt_health_report_t *rep, rt_health_status_t severity, const char *code,
                      const char *job, unsigned window, const char *fmt, ...)
{
    if (rep->oom)
        return;
    rt_health_alert_t *all = rt_grow(rep->alerts, rep->nalerts, &rep->alerts_cap, sizeof *all, 16);
    if (!all) {
        rep->oom = 1;
        return;
    }
    rep->alerts = all;
    rt_health_alert_t *a = &rep->alerts[rep->nalerts++];
    a->severity = severity;
    a->code = code;
    a->job = job;
    a->window_hours = window;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

/* The expected interval of j: a configured one (the last entry naming it wins) over the median
 * of its starts; then its freshness. */
static void job_interval(const rt_health_conf_t *hc, rt_health_job_t *j)
{
    j->interval = j->median_interval;
    j->interval_source = j->interval > 0 ? "median" : NULL;
    for (size_t k = 0; k < hc->nintervals; k++)
        if (hc->intervals[k].job && strcmp(hc->intervals[k].job, j->job) == 0 &&
            hc->intervals[k].seconds > 0) {
            j->interval = hc->intervals[k].seconds;
            j->interval_source = "configured";
        }
    j->freshness = rt_health_freshness(j->interval, j->success_age);
}

/* The success rates and statuses of windows w[0..n) judged with freshness; returns the worst
 * of their statuses and the freshness' own. */
static rt_health_status_t judge_windows(const rt_health_conf_t *hc, rt_health_window_t *w, size_t n,
                                        double freshness)
{
    rt_health_status_t worst = rt_health_classify(hc, -1, freshness);
    for (size_t k = 0; k < n; k++) {
        w[k].success_rate = rt_health_success_rate(&w[k].n);
        w[k].status = rt_health_classify(hc, w[k].success_rate, freshness);
        if (w[k].status > worst)
            worst = w[k].status;
    }
    return worst;
}

static void job_alerts(const rt_health_conf_t *hc, const rt_health_job_t *j,
                       rt_health_report_t *rep)
{
    if (j->freshness >= 0 && j->freshness < hc->freshness_healthy && j->success_age >= 0)
        add_alert(rep,
                  j->freshness < hc->freshness_critical ? RT_HEALTH_CRITICAL : RT_HEALTH_WARNING,
                  "freshness_low", j->job, 0,
                  "%s: freshness %.1f%% below %.0f%% (last success %.0f s ago, expected every"
                  " %.0f s)",
                  j->job, j->freshness, hc->freshness_healthy, j->success_age, j->interval);
    else if (j->freshness >= 0 && j->freshness < hc->freshness_healthy)
        add_alert(rep, RT_HEALTH_CRITICAL, "freshness_low", j->job, 0,
                  "%s: freshness 0%% (no successful run on record, expected every %.0f s)", j->job,
                  j->interval);
    if (j->failures_24h > hc->failures_alert_24h)
        add_alert(rep, RT_HEALTH_WARNING, "failures_24h", j->job, 24,
                  "%s: %ld failed runs in the last 24 h (more than %ld)", j->job, j->failures_24h,
                  hc->failures_alert_24h);
    if (j->success_age < 0)
        add_alert(rep, RT_HEALTH_CRITICAL, "no_success", j->job, 0,
                  "%s: no successful run on record", j->job);
    else if (j->success_age > hc->no_success_alert_s)
        add_alert(rep, RT_HEALTH_CRITICAL, "no_success", j->job, 0,
                  "%s: no successful run for %.0f s (threshold %.0f s)", j->job, j->success_age,
                  hc->no_success_alert_s);
}

/* The sums over jobs: windows, overall freshness and status, and their alerts. */
static void overall(const rt_health_conf_t *hc, size_t nwindows, const unsigned *hours,
                    rt_health_report_t *rep)
{
    rep->status = judge_windows(hc, rep->all, nwindows, rep->freshness);
    for (size_t k = 0; k < nwindows; k++) {
        double sr = rep->all[k].success_rate;
        if (sr >= 0 && sr < hc->success_healthy)
            add_alert(rep, sr < hc->success_critical ? RT_HEALTH_CRITICAL : RT_HEALTH_WARNING,
                      "success_rate_low", NULL, hours[k],
                      "success rate %.1f%% below %.0f%% in the last %u h", sr, hc->success_healthy,
                      hours[k]);
    }
    double f = rep->freshness;
    if (f >= 0 && f < hc->freshness_healthy)
        add_alert(rep, f < hc->freshness_critical ? RT_HEALTH_CRITICAL : RT_HEALTH_WARNING,
                  "freshness_low", NULL, 0, "overall freshness %.1f%% below %.0f%%", f,
                  hc->freshness_healthy);
    if (rep->newest_run_age < 0)
        add_alert(rep, RT_HEALTH_WARNING, "no_runs", NULL, 0, "no runs on record");
    else if (rep->newest_run_age > hc->last_run_alert_s)
        add_alert(rep, RT_HEALTH_WARNING, "last_run_old", NULL, 0,
                  "last run started %.0f s ago (threshold %.0f s)", rep->newest_run_age,
                  hc->last_run_alert_s);
}

int rt_health_evaluate(const rt_health_conf_t *hc, const rt_health_request_t *q,
                       rt_health_data_t *d, rt_health_report_t *rep)
{
    double fresh_sum = 0;
    int fresh_n = 0;
    rep->newest_run_age = -1;
    for (size_t i = 0; i < d->njobs; i++) {
        rt_health_job_t *j = &d->jobs[i];
        job_interval(hc, j);
        j->status = judge_windows(hc, j->w, q->nwindows, j->freshness);
        for (size_t k = 0; k < q->nwindows; k++)
            rt_health_counts_add(&rep->all[k].n, &j->w[k].n);
        if (j->freshness >= 0) {
            fresh_sum += j->freshness;
            fresh_n++;
        }
        rep->runs_24h += j->runs_24h;
        if (j->last_run_age >= 0 &&
            (rep->newest_run_age < 0 || j->last_run_age < rep->newest_run_age)) {
            rep->newest_run_age = j->last_run_age;
            rep->newest_run_at = j->last_run_at;
        }
        job_alerts(hc, j, rep);
    }
    rep->freshness = fresh_n ? fresh_sum / fresh_n : -1;
    overall(hc, q->nwindows, q->windows, rep);
    return rep->oom ? -1 : 0;
}

void rt_health_report_free(rt_health_report_t *rep)
{
    free(rep->alerts);
    memset(rep, 0, sizeof *rep);
}
