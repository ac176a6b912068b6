/* GET /api/health: seed 002's health report applied to runs (docs/api.md#health). */
#ifndef RT_HEALTH_H
#define RT_HEALTH_H

#include "http_api.h"

typedef enum rt_health_status {
    RT_HEALTH_HEALTHY,
    RT_HEALTH_WARNING,
    RT_HEALTH_CRITICAL
} rt_health_status_t;

void rt_health_handle(rt_req_t *req);

/* The seed's rule: critical if either rate is below its critical bound, warning if either is
 * below its healthy bound, else healthy. A negative rate is unknown and ignored. */
rt_health_status_t rt_health_classify(const rt_health_conf_t *c, double success_rate,
                                      double freshness_rate);
const char *rt_health_status_name(rt_health_status_t s);

/* Freshness of a job in percent: 100 while its last success is at most one expected interval
 * old, then interval/age (so 70% means 1.43 intervals old). -1 when the interval is unknown;
 * 0 when it never succeeded (age < 0). */
double rt_health_freshness(double interval_s, double age_s);

/* Parses "12,24,48" into hours (each 1..8760, at most RT_API_MAX_WINDOWS, duplicates removed,
 * sorted ascending). Returns the count, or -1 on bad input. */
int rt_health_parse_windows(const char *s, unsigned *out, size_t max);

#endif
