/* Hand-written JSON encoder for runtrack events: every string goes through rt_json_escape
 * (common/), numbers through snprintf, user JSON through jansson (validated, compacted). */
#include "encode.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_event.h"
#include "rt_time.h"

void rt_buf_add_pct(rt_buf_t *b, double v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.3f", v);
    if (n > 0)
        rt_buf_add(b, tmp, (size_t)n);
}

void rt_enc_counter(rt_buf_t *b, size_t i, const char *name, int64_t value)
{
    if (i)
        rt_buf_addc(b, ',');
    /* Names are validated [a-z0-9_] so they need no escaping. */
    rt_buf_addc(b, '"');
    rt_buf_adds(b, name);
    rt_buf_add(b, "\":", 2);
    rt_buf_add_i64(b, value);
}

void rt_enc_counters(rt_buf_t *b, const rt_ctr_t *c, size_t n)
{
    rt_buf_addc(b, '{');
    for (size_t i = 0; i < n; i++)
        rt_enc_counter(b, i, c[i].name, c[i].value);
    rt_buf_addc(b, '}');
}

int rt_enc_envelope(rt_buf_t *b, const char *event_id, const char *run_id, int64_t seq,
                    int64_t ts_us, const char *type, const char *run_tail, const char *data,
                    size_t data_len)
{
    char ts[RT_TIME_STRLEN];
    if (rt_time_format(ts_us, ts, sizeof ts) == 0)
        return -1;
    rt_buf_adds(b, "{\"v\":1,\"event_id\":\"");
    rt_buf_adds(b, event_id);
    rt_buf_adds(b, "\",\"run_id\":\"");
    rt_buf_adds(b, run_id);
    rt_buf_adds(b, "\",\"seq\":");
    rt_buf_add_i64(b, seq);
    rt_buf_adds(b, ",\"ts\":\"");
    rt_buf_adds(b, ts);
    rt_buf_adds(b, "\",\"type\":\"");
    rt_buf_adds(b, type);
    rt_buf_adds(b, "\",");
    rt_buf_adds(b, run_tail);
    rt_buf_adds(b, ",\"data\":");
    if (data && data_len)
        rt_buf_add(b, data, data_len);
    else
        rt_buf_add(b, "{}", 2);
    rt_buf_addc(b, '}');
    return 0;
}

void rt_enc_run_tail(rt_buf_t *b, const char *job, const char *kind, const char *host, long pid,
                     const char *lib)
{
    rt_buf_adds(b, "\"job\":");
    rt_buf_add_jstr(b, job, strlen(job));
    rt_buf_adds(b, ",\"kind\":");
    rt_buf_add_jstr(b, kind, strlen(kind));
    rt_buf_adds(b, ",\"producer\":{\"host\":");
    rt_buf_add_jstr(b, host, strlen(host));
    rt_buf_adds(b, ",\"pid\":");
    rt_buf_add_i64(b, pid);
    rt_buf_adds(b, ",\"lib\":");
    rt_buf_add_jstr(b, lib, strlen(lib));
    rt_buf_addc(b, '}');
}

size_t rt_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t cut = max;
    /* Step back over continuation bytes (10xxxxxx) so the cut falls before a lead byte. */
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80 && max - cut < 4)
        cut--;
    return cut;
}

int rt_enc_json_object(rt_buf_t *b, const char *json, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    int rc = -1;
    char *out = NULL;
    json_t *v = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "invalid JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(v)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "JSON must be an object ({...})");
        goto out;
    }
    out = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!out) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "out of memory encoding JSON");
        goto out;
    }
    rt_buf_adds(b, out);
    rc = 0;
out:
    free(out);
    json_decref(v);
    return rc;
}

/* 1 if s is YYYY-MM-DD with a plausible month/day (the schema's "date" pattern). */
static int date_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

int rt_check_discovery_params(const char *json, char *errstr, size_t errstr_size)
{
    int rc = -1;
    json_t *v = json_loads(json, 0, NULL);
    if (!v || !json_is_object(v)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "params must be a JSON object");
        goto out;
    }
    json_t *codes = json_object_get(v, "naics_codes");
    if (codes) {
        size_t i;
        json_t *c;
        int ok = json_is_array(codes);
        json_array_foreach(codes, i, c) ok = ok && json_is_string(c);
        if (!ok) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size,
                         "discovery params: naics_codes must be an array of "
                         "strings");
            goto out;
        }
    }
    static const char *const dates[] = {"posted_from", "posted_to"};
    for (size_t k = 0; k < 2; k++) {
        json_t *d = json_object_get(v, dates[k]);
        if (d && (!json_is_string(d) || !date_ok(json_string_value(d)))) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "discovery params: %s must be \"YYYY-MM-DD\"",
                         dates[k]);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(v);
    return rc;
}
