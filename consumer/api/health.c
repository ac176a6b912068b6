/* GET /api/health: seed 002's metrics-health report, applied to runs (docs/api.md#health).
 * The request is parsed (health_parse.c), its figures read (health_query.c), judged
 * (health_rules.c) and written as JSON (health_render.c). */
#include "health.h"

#include "health_internal.h"
#include "rt_time.h"

void rt_health_handle(rt_req_t *req)
{
    const rt_health_conf_t *hc = &rt_req_conf(req)->health;
    double stale_after_s = rt_req_conf(req)->stale_after_s;
    rt_health_request_t q;
    rt_health_data_t d = {0};
    rt_health_report_t rep = {0};
    char now[RT_TIME_STRLEN], *body;

    if (rt_health_parse_request(req, hc, &q) != 0)
        return;
    if (rt_health_query(req, hc, stale_after_s, &q, &d) != 0)
        goto out;
    if (rt_health_evaluate(hc, &q, &d, &rep) != 0) {
        rt_req_error(req, 500, "internal", "out of memory");
        goto out;
    }
    rt_time_format(rt_now_us(), now, sizeof now);
    body = rt_health_render(hc, stale_after_s, &q, &d, &rep, now);
    if (!body) {
        rt_req_error(req, 500, "internal", "out of memory");
        goto out;
    }
    rt_req_text(req, 200, "application/json", body);
out:
    rt_health_report_free(&rep);
    rt_health_data_free(&d);
}
