/* The HTTP API's view of the settings (settings.h). */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "health_parse.h"
#include "tls.h"

/* Appends one health_job_intervals pair to c's array (rt_config_job_intervals' callback). */
static int add_interval(void *arg, const char *job, size_t job_len, int64_t seconds)
{
    rt_api_conf_t *c = arg;
    rt_api_job_interval_t *a =
        realloc((void *)c->health.intervals, (c->health.nintervals + 1) * sizeof *a);
    if (!a)
        return -1;
    c->health.intervals = a;
    char *name = strndup(job, job_len);
    if (!name)
        return -1;
    a[c->health.nintervals].job = name;
    a[c->health.nintervals].seconds = (double)seconds;
    c->health.nintervals++;
    return 0;
}

int rt_api_conf_init(rt_api_conf_t *c, const rt_config_t *cfg, char *err, size_t errsize)
{
    rt_health_conf_t *h = &c->health;
    memset(c, 0, sizeof *c);
    c->settings = cfg;
    c->stale_after_s = cfg->stale_after_s;
    int nw = rt_health_parse_windows(cfg->health_windows, h->windows, RT_API_MAX_WINDOWS);
    if (nw <= 0) {
        snprintf(err, errsize,
                 "health_windows: expected comma-separated hours 1..8760 (at most %d), got \"%s\"",
                 RT_API_MAX_WINDOWS, cfg->health_windows);
        return -1;
    }
    h->nwindows = (size_t)nw;
    if (cfg->health_success_critical > cfg->health_success_healthy ||
        cfg->health_freshness_critical > cfg->health_freshness_healthy) {
        snprintf(err, errsize,
                 "health_*_critical must not be above the matching "
                 "health_*_healthy bound");
        return -1;
    }
    h->success_healthy = cfg->health_success_healthy;
    h->success_critical = cfg->health_success_critical;
    h->freshness_healthy = cfg->health_freshness_healthy;
    h->freshness_critical = cfg->health_freshness_critical;
    h->failures_alert_24h = cfg->health_failures_alert_24h;
    h->no_success_alert_s = cfg->health_no_success_alert_s;
    h->last_run_alert_s = cfg->health_last_run_alert_s;
    h->interval_sample = (unsigned)cfg->health_interval_sample;
    char why[320];
    if (rt_config_job_intervals(cfg->health_job_intervals, add_interval, c, why, sizeof why) != 0) {
        snprintf(err, errsize, "health_job_intervals: %s", why);
        return -1;
    }
    return 0;
}

void rt_api_conf_free(rt_api_conf_t *c)
{
    for (size_t i = 0; i < c->health.nintervals; i++)
        free((char *)c->health.intervals[i].job);
    free((void *)c->health.intervals);
    c->health.intervals = NULL;
    c->health.nintervals = 0;
}

int rt_api_valid_tz(const char *tz)
{
    if (!tz || !*tz)
        return 1; /* unset: the viewer's zone */
    size_t n = strlen(tz);
    if (n > 64 || tz[0] == '/' || tz[n - 1] == '/' || strstr(tz, ".."))
        return 0;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return 0;
    return 1;
}

int rt_api_check_settings(const rt_config_t *cfg, char *err, size_t errsize)
{
    rt_api_conf_t c;
    int rc = rt_api_conf_init(&c, cfg, err, errsize);
    rt_api_conf_free(&c);
    /* HTTPS files: refused at start like any bad setting, not found missing by a first client. */
    if (rc == 0 && cfg->http_port >= 0)
        rc = rt_tls_check_settings(cfg, err, errsize);
    if (rc == 0 && cfg->http_port >= 0)
        rc = rt_api_auth_settings(cfg, NULL, NULL, err, errsize);
    return rc;
}

int rt_api_auth_settings(const rt_config_t *cfg, int *required, rt_auth_secret_t *secret,
                         char *err, size_t errsize)
{
    int req = 0, insecure = 0;
    rt_auth_secret_t local;
    rt_auth_secret_t *s = secret ? secret : &local;
    if (rt_auth_mode(cfg, &req, &insecure, err, errsize) != 0 ||
        rt_auth_load_secret(cfg, s, err, errsize) != 0)
        return -1;
    int missing = req && s->len == 0;
    if (!secret)
        rt_auth_secret_wipe(&local);
    if (missing) {
        snprintf(err, errsize,
                 "auth is required (setting auth = %s, http_addr %.64s) but no server secret is "
                 "set: %s",
                 cfg->auth, cfg->http_addr, rt_auth_secret_howto);
        return -1;
    }
    if (required)
        *required = req;
    return 0;
}
