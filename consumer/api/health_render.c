/* GET /api/health, part 4: the JSON text (docs/api.md#health).
 *
 * Written as text directly: with 200 jobs the report is ~180 KB of ~10,000 values, and building
 * it as jansson objects and dumping them was most of the server's CPU per request (perf:
 * jansson + malloc/free). Numbers are printed as jansson printed them (reals with 15 significant
 * digits and a ".0" when integral), so the bytes are the same. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "health_internal.h"
#include "rt_buf.h"

/* A real as jansson's JSON_REAL_PRECISION(15) wrote it. */
static void add_real(rt_buf_t *b, double v)
{
    char num[40];
    int n = snprintf(num, sizeof num, "%.15g", v);
    if (n < 0 || (size_t)n >= sizeof num - 2)
        return;
    if (!strpbrk(num, ".eE")) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    rt_buf_add(b, num, (size_t)n);
}

/* Each helper below writes key (with its punctuation, e.g. ",\"total\":") and a value. */

/* v rounded to 1/scale when known, else null. */
static void add_rounded(rt_buf_t *b, const char *key, double v, double scale, int known)
{
    rt_buf_adds(b, key);
    if (known)
        add_real(b, round(v * scale) / scale);
    else
        rt_buf_adds(b, "null");
}

/* A percentage with two decimals, or null when negative (unknown). */
static void add_rate(rt_buf_t *b, const char *key, double r)
{
    add_rounded(b, key, r, 100.0, r >= 0);
}

/* A JSON string literal, or null for NULL. */
static void add_str(rt_buf_t *b, const char *key, const char *s)
{
    rt_buf_adds(b, key);
    if (s)
        rt_buf_add_jstr(b, s, strlen(s));
    else
        rt_buf_adds(b, "null");
}

/* A name that needs no escaping (a status, an alert code). */
static void add_name(rt_buf_t *b, const char *key, const char *name)
{
    rt_buf_adds(b, key);
    rt_buf_addc(b, '"');
    rt_buf_adds(b, name);
    rt_buf_addc(b, '"');
}

static void add_int(rt_buf_t *b, const char *key, long v)
{
    rt_buf_adds(b, key);
    rt_buf_add_i64(b, v);
}

static void render_thresholds(rt_buf_t *b, const rt_health_conf_t *hc, double stale_after_s)
{
    const struct {
        const char *key;
        double v;
    } rates[] = {{"{\"success_healthy\":", hc->success_healthy},
                 {",\"success_critical\":", hc->success_critical},
                 {",\"freshness_healthy\":", hc->freshness_healthy},
                 {",\"freshness_critical\":", hc->freshness_critical}},
      secs[] = {{",\"no_success_alert_seconds\":", hc->no_success_alert_s},
                {",\"last_run_alert_seconds\":", hc->last_run_alert_s},
                {",\"stale_after_seconds\":", stale_after_s}};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        rt_buf_adds(b, rates[i].key);
        add_real(b, rates[i].v);
    }
    add_int(b, ",\"failures_alert_24h\":", hc->failures_alert_24h);
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        rt_buf_adds(b, secs[i].key);
        add_real(b, secs[i].v);
    }
    rt_buf_addc(b, '}');
}

static void render_window(rt_buf_t *b, unsigned hours, const rt_health_window_t *w,
                          double freshness, rt_health_status_t status)
{
    const rt_health_counts_t *c = &w->n;
    const struct {
        const char *key;
        long v;
    } f[] = {{"{\"window_hours\":", (long)hours},
             {",\"total\":", c->total},
             {",\"completed\":", c->completed},
             {",\"partial\":", c->partial},
             {",\"failed\":", c->failed},
             {",\"running\":", c->running},
             {",\"stale\":", c->stale}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        add_int(b, f[i].key, f[i].v);
    add_rate(b, ",\"success_rate\":", w->success_rate);
    add_rate(b, ",\"freshness_rate\":", freshness);
    add_name(b, ",\"status\":", rt_health_status_name(status));
    rt_buf_addc(b, '}');
}

static void render_job(rt_buf_t *b, const rt_health_request_t *q, const rt_health_job_t *j)
{
    add_str(b, "{\"job\":", j->job);
    add_name(b, ",\"status\":", rt_health_status_name(j->status));
    add_str(b, ",\"last_run_at\":", j->last_run_at);
    add_str(b, ",\"last_success_at\":", j->last_success_at);
    add_rounded(b, ",\"seconds_since_last_success\":", j->success_age, 1000, j->success_age >= 0);
    add_rounded(b, ",\"expected_interval_seconds\":", j->interval, 1000, j->interval > 0);
    add_str(b, ",\"interval_source\":", j->interval_source);
    add_rate(b, ",\"freshness_rate\":", j->freshness);
    add_int(b, ",\"runs_24h\":", j->runs_24h);
    add_int(b, ",\"failures_24h\":", j->failures_24h);
    rt_buf_adds(b, ",\"windows\":[");
    for (size_t k = 0; k < q->nwindows; k++) {
        if (k)
            rt_buf_addc(b, ',');
        render_window(b, q->windows[k], &j->w[k], j->freshness, j->w[k].status);
    }
    rt_buf_adds(b, "]}");
}

static void render_alert(rt_buf_t *b, const rt_health_alert_t *a)
{
    add_name(b, "{\"severity\":", rt_health_status_name(a->severity));
    add_name(b, ",\"code\":", a->code);
    add_str(b, ",\"job\":", a->job);
    if (a->window_hours)
        add_int(b, ",\"window_hours\":", (long)a->window_hours);
    else
        rt_buf_adds(b, ",\"window_hours\":null");
    add_str(b, ",\"message\":", a->message);
    rt_buf_addc(b, '}');
}

char *rt_health_render(const rt_health_conf_t *hc, double stale_after_s,
                       const rt_health_request_t *q, const rt_health_data_t *d,
                       const rt_health_report_t *rep, const char *now)
{
    rt_buf_t b = {0};
    size_t nw = q->nwindows;
    /* One buffer sized up front (~230 bytes a window, ~400 a job, ~500 an alert): the report
     * is ~180 KB with 200 jobs, and every regrowth cost page faults and a copy per request. */
    (void)rt_buf_reserve(&b, d->njobs * (400 + nw * 230) + rep->nalerts * 500 + 4096);
    /* generated_at = timestamp: when this report was computed (a cached copy keeps it). */
    rt_buf_addf(&b, "{\"timestamp\":\"%s\",\"generated_at\":\"%s\",\"thresholds\":", now, now);
    render_thresholds(&b, hc, stale_after_s);
    /* The counts of the largest window with the worst status of all windows. */
    rt_buf_adds(&b, ",\"overall\":");
    render_window(&b, q->windows[nw - 1], &rep->all[nw - 1], rep->freshness, rep->status);
    rt_buf_adds(&b, ",\"windows\":[");
    for (size_t k = 0; k < nw; k++) {
        if (k)
            rt_buf_addc(&b, ',');
        render_window(&b, q->windows[k], &rep->all[k], rep->freshness, rep->all[k].status);
    }
    rt_buf_adds(&b, "],\"jobs\":[");
    for (size_t i = 0; i < d->njobs; i++) {
        if (i)
            rt_buf_addc(&b, ',');
        render_job(&b, q, &d->jobs[i]);
    }
    add_str(&b, "],\"last_run_at\":", rep->newest_run_at);
    add_int(&b, ",\"runs_24h\":", rep->runs_24h);
    rt_buf_adds(&b, ",\"alerts\":[");
    for (size_t i = 0; i < rep->nalerts; i++) {
        if (i)
            rt_buf_addc(&b, ',');
        render_alert(&b, &rep->alerts[i]);
    }
    rt_buf_adds(&b, "]}");
    if (b.oom) {
        rt_buf_free(&b);
        return NULL;
    }
    return rt_buf_take(&b, NULL);
}
