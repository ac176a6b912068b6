/* The parts of GET /api/health (health.c wires them):
 *   parse  (health_parse.c)  query parameters -> rt_health_request_t, or a 400 answer
 *   query  (health_query.c)  the two SQL statements -> rt_health_data_t (per job, per window)
 *   rules  (health_rules.c)  rates, freshness, statuses and alerts -> rt_health_report_t; pure
 *   render (health_render.c) the JSON text
 * Shared by those files and the unit tests only; the public face is health.h. */
#ifndef RT_HEALTH_INTERNAL_H
#define RT_HEALTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "rt_attr.h"

typedef enum rt_health_status {
    RT_HEALTH_HEALTHY,
    RT_HEALTH_WARNING,
    RT_HEALTH_CRITICAL
} rt_health_status_t;

/* The seed's rule: critical if either rate is below its critical bound, warning if either is
 * below its healthy bound, else healthy. A negative rate is unknown and ignored. */
rt_health_status_t rt_health_classify(const rt_health_conf_t *c, double success_rate,
                                      double freshness_rate);
const char *rt_health_status_name(rt_health_status_t s);

/* Freshness of a job in percent: 100 while its last success is at most one expected interval
 * old, then interval/age (so 70% means 1.43 intervals old). -1 when the interval is unknown;
 * 0 when it never succeeded (age < 0). */
double rt_health_freshness(double interval_s, double age_s);

/* What the request asks for. job and kind point into the request (valid while it is). */
typedef struct rt_health_request {
    unsigned windows[RT_API_MAX_WINDOWS]; /* hours, ascending, distinct */
    size_t nwindows;                      /* 1..RT_API_MAX_WINDOWS */
    const char *job, *kind;               /* NULL: every job / kind */
} rt_health_request_t;

/* Outcome counts of the runs started inside one window. */
typedef struct rt_health_counts {
    long total, completed, partial, failed, running, stale;
} rt_health_counts_t;

/* One window of one job (or of all jobs): counts from the query, the rest from the rules. */
typedef struct rt_health_window {
    rt_health_counts_t n;
    double success_rate;       /* percent; < 0 unknown (no finished or stale run) */
    rt_health_status_t status; /* from success_rate and the freshness of its job (or overall) */
} rt_health_window_t;

typedef struct rt_health_job {
    /* from the query; the strings belong to rt_health_data_t */
    const char *job;
    const char *last_run_at, *last_success_at; /* RFC 3339, or NULL */
    double last_run_age, success_age;          /* seconds; < 0: none */
    double median_interval;                    /* median gap between recent starts; <= 0 unknown */
    long runs_24h, failures_24h;
    rt_health_window_t w[RT_API_MAX_WINDOWS]; /* as rt_health_request_t.windows */
    /* from the rules */
    double interval;             /* expected seconds between runs; <= 0 unknown */
    const char *interval_source; /* "configured", "median" or NULL */
    double freshness;            /* percent; < 0 unknown */
    rt_health_status_t status;   /* the worst of its windows and its freshness */
} rt_health_job_t;

/* The figures the query read. jobs are sorted by name in byte order. */
typedef struct rt_health_data {
    rt_health_job_t *jobs;
    size_t njobs;
    PGresult *owner; /* holds the jobs' strings (NULL when none) */
} rt_health_data_t;

typedef struct rt_health_alert {
    rt_health_status_t severity; /* RT_HEALTH_WARNING or RT_HEALTH_CRITICAL */
    const char *code;            /* static text: "freshness_low", "no_success", ... */
    const char *job;             /* borrowed from the job; NULL for the whole report */
    unsigned window_hours;       /* 0: not about one window */
    char message[400];
} rt_health_alert_t;

/* What the rules concluded over all jobs. Free with rt_health_report_free. */
typedef struct rt_health_report {
    rt_health_window_t all[RT_API_MAX_WINDOWS]; /* the sums over jobs per window */
    double freshness;                           /* mean over jobs that have one; < 0 unknown */
    rt_health_status_t status;                  /* the worst of all windows and the freshness */
    const char *newest_run_at;                  /* of the job whose last run is newest, or NULL */
    double newest_run_age;                      /* < 0: no run */
    long runs_24h;
    rt_health_alert_t *alerts; /* in report order */
    size_t nalerts, alerts_cap;
    int oom; /* an alert could not be stored */
} rt_health_report_t;

/* ---- parse ---- */

/* Reads window / windows / job / kind (defaults from hc) into q. Returns 0, or -1 after setting
 * a 400 answer for an unknown parameter or bad windows. */
int rt_health_parse_request(rt_req_t *req, const rt_health_conf_t *hc, rt_health_request_t *q);

/* ---- query ---- */

/* Runs the two statements for q and fills d (zero it first; free with rt_health_data_free,
 * also after a failure). Returns 0, or -1 after setting a 500/503 answer. */
int rt_health_query(rt_req_t *req, const rt_health_conf_t *hc, double stale_after_s,
                    const rt_health_request_t *q, rt_health_data_t *d);
void rt_health_data_free(rt_health_data_t *d);

/* ---- rules (pure: no I/O, no clock) ---- */

/* (completed + partial) / (completed + partial + failed + stale) in percent, or -1 when the
 * denominator is 0. */
double rt_health_success_rate(const rt_health_counts_t *c);
void rt_health_counts_add(rt_health_counts_t *sum, const rt_health_counts_t *c);

/* The median gap in seconds between start times in microseconds (any order), as
 * percentile_cont(0.5) computes it (interpolating between the two middle gaps); -1 with fewer
 * than two starts. Sorts starts_us and overwrites it with the gaps. */
double rt_health_median_gap_s(int64_t *starts_us, size_t n);

/* Fills the rules' fields of every job in d (whose windows are q's) and rep (zeroed by the
 * caller; free it with rt_health_report_free whatever this returns). Returns 0, or -1 when out
 * of memory for the alerts. */
int rt_health_evaluate(const rt_health_conf_t *hc, const rt_health_request_t *q,
                       rt_health_data_t *d, rt_health_report_t *rep) RT_MUSTCHECK;
void rt_health_report_free(rt_health_report_t *rep);

/* ---- render ---- */

/* The JSON text of the report (docs/api.md#health): malloc'ed, or NULL when out of memory.
 * now is the RFC 3339 time written as timestamp and generated_at. */
char *rt_health_render(const rt_health_conf_t *hc, double stale_after_s,
                       const rt_health_request_t *q, const rt_health_data_t *d,
                       const rt_health_report_t *rep, const char *now);

#endif
