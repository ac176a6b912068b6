/* The HTTP API's view of the one settings struct (config.h): what handlers read through
 * rt_req_conf, computed once when the API starts (settings.h). Types only. */
#ifndef RT_API_VIEW_H
#define RT_API_VIEW_H

#include <stddef.h>

#include "config.h"

/* An expected interval between runs of one job, for the health report's freshness. */
typedef struct rt_api_job_interval {
    const char *job;
    double seconds;
} rt_api_job_interval_t;

#define RT_API_MAX_WINDOWS 16

/* The health_* settings as the health report reads them (filled by rt_api_conf_init). */
typedef struct rt_health_conf {
    unsigned windows[RT_API_MAX_WINDOWS]; /* health_windows: default report windows in hours */
    size_t nwindows;
    double success_healthy;  /* % success rate at or above: healthy */
    double success_critical; /* % below: critical */
    double freshness_healthy;
    double freshness_critical;
    long failures_alert_24h;                /* alert when a job failed more often in 24 h */
    double no_success_alert_s;              /* alert when a job's last success is older */
    double last_run_alert_s;                /* alert when the newest run started longer ago */
    unsigned interval_sample;               /* run starts used for the median interval */
    const rt_api_job_interval_t *intervals; /* health_job_intervals (override the median) */
    size_t nintervals;
} rt_health_conf_t;

/* The API's view of the one settings struct, computed once at start: the parsed forms of the
 * settings that are text (windows, per-job intervals) and the numbers handlers format into SQL
 * as float8. Every other setting is read from settings itself. */
typedef struct rt_api_conf {
    const rt_config_t *settings; /* owned by the caller of rt_api_start */
    double stale_after_s;        /* settings->stale_after_s */
    rt_health_conf_t health;
} rt_api_conf_t;

#endif
