/* GET /api/health, part 1: the query parameters (docs/api.md#health). */
#include "health_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "health_internal.h"
#include "rt_num.h"

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
        int64_t v;
        if (len == 0 || len >= sizeof num)
            return -1;
        memcpy(num, p, len);
        num[len] = '\0';
        /* digits only: no "+12" (the API never took a sign) */
        if (num[0] == '+' || rt_parse_i64(num, 1, 8760, &v) != 0)
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

int rt_health_parse_request(rt_req_t *req, const rt_health_conf_t *hc, rt_health_request_t *q)
{
    static const char *const allowed[] = {"window", "windows", "job", "kind", NULL};
    if (rt_req_allow_params(req, allowed))
        return -1;
    const char *wone = rt_req_param(req, "window"), *wlist = rt_req_param(req, "windows");
    if (wone && wlist) {
        rt_req_error(req, 400, "bad_parameter", "give either window or windows, not both");
        return -1;
    }
    memcpy(q->windows, hc->windows, sizeof q->windows);
    q->nwindows = hc->nwindows;
    if (wone || wlist) {
        int n =
            rt_health_parse_windows(wone ? wone : wlist, q->windows, wone ? 1 : RT_API_MAX_WINDOWS);
        if (n <= 0) {
            rt_req_error(req, 400, "bad_parameter", "%s must be hours from 1 to 8760%s",
                         wone ? "window" : "windows", wone ? "" : ", comma-separated, at most 16");
            return -1;
        }
        q->nwindows = (size_t)n;
    }
    q->job = rt_req_param(req, "job");
    q->kind = rt_req_param(req, "kind");
    return 0;
}
