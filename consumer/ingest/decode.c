#include "decode.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "rt_time.h"

/* Decoding context; the first failure wins. The checks, their order and their messages are
 * those of the jansson decoder this one replaced (tests/decode_ref.c), which the differential
 * test and the fuzz target compare it with. */
typedef struct dctx {
    rt_dead_reason_t why;
    char *detail;
    size_t detail_size;
    const rt_jscan_t *s;
    rt_event_t *ev;
    size_t mem_used;
    size_t nnorm;
} dctx_t;

__attribute__((format(printf, 3, 4))) static int fail(dctx_t *c, rt_dead_reason_t why,
                                                      const char *fmt, ...)
{
    va_list ap;
    c->why = why;
    if (c->detail_size) {
        va_start(ap, fmt);
        vsnprintf(c->detail, c->detail_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const rt_jtok_t *T(const dctx_t *c, size_t t)
{
    return &c->s->tok[t];
}

/* The unescaped value of string token t, NUL-terminated, in the event's memory: one
 * allocation of the record's size holds every string (each token's value is shorter than its
 * quoted text, and tokens do not overlap). NULL when out of memory. */
static const char *str(dctx_t *c, size_t t)
{
    rt_event_t *ev = c->ev;
    size_t n = T(c, t)->n;
    if (!ev->mem && !(ev->mem = malloc(c->s->len + 1)))
        return NULL;
    if (c->mem_used + n + 1 > c->s->len + 1)
        return NULL; /* cannot happen (see above); refuse rather than overrun */
    char *out = ev->mem + c->mem_used;
    rt_jscan_string(c->s, t, out, n + 1);
    c->mem_used += n + 1;
    return out;
}

static int nomem(dctx_t *c)
{
    return fail(c, RT_DEAD_INVALID_JSON, "out of memory while decoding");
}

/* The raw text of object token t. Numbers PostgreSQL's numeric would refuse (exponents beyond
 * +-1000, huge scales) are re-encoded the way jansson's json_dumps wrote them before, so the
 * batch's jsonb cast cannot fail on one event. */
static int slice(dctx_t *c, size_t t, rt_json_text_t *out)
{
    const rt_jtok_t *k = T(c, t);
    out->p = (const char *)c->s->p + k->start;
    out->n = k->end - k->start;
    if (!rt_jscan_has_odd(c->s, t))
        return 0;
    json_t *j = json_loadb(out->p, out->n, 0, NULL);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt || c->nnorm >= sizeof c->ev->norm / sizeof c->ev->norm[0]) {
        free(txt);
        return nomem(c);
    }
    c->ev->norm[c->nnorm++] = txt;
    out->p = txt;
    out->n = strlen(txt);
    return 0;
}

/* Rejects members of obj not in the NULL-terminated allowed list (additionalProperties). */
static int only_members(dctx_t *c, size_t obj, const char *where, const char *const *allowed)
{
    const rt_jtok_t *o = T(c, obj);
    for (size_t k = obj + 1; k + 1 < o->skip; k = T(c, k + 1)->skip) {
        int ok = 0;
        const rt_jtok_t *kt = T(c, k);
        /* the first byte rules out most names cheaply (escaped keys take the full path) */
        unsigned char first = kt->n && !kt->esc ? c->s->p[kt->start] : 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = (!first || (unsigned char)**a == first) && rt_jscan_streq(c->s, k, *a);
        if (!ok) {
            char key[1024];
            rt_jscan_string(c->s, k, key, sizeof key);
            return fail(c, RT_DEAD_SCHEMA, "%s: unknown member \"%s\"", where, key);
        }
    }
    return 0;
}

/* A string member with a length in characters of lo..hi (hi 0 = no limit). required: absent is
 * an error; otherwise *out stays NULL. */
static int get_string(dctx_t *c, size_t obj, const char *where, const char *name, size_t lo,
                      size_t hi, int required, const char **out)
{
    size_t v = rt_jscan_get(c->s, obj, name);
    *out = NULL;
    if (!v)
        return required ? fail(c, RT_DEAD_SCHEMA, "%s: missing \"%s\"", where, name) : 0;
    if (T(c, v)->type != RT_JT_STRING)
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: must be a string", where, name);
    size_t n = T(c, v)->chars;
    if (n < lo || (hi && n > hi))
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: length %zu outside %zu..%zu", where, name, n, lo,
                    hi);
    if (!(*out = str(c, v)))
        return nomem(c);
    return 0;
}

static int get_int(dctx_t *c, size_t obj, const char *where, const char *name, int64_t lo,
                   int64_t hi, int required, int *has, int64_t *out)
{
    size_t v = rt_jscan_get(c->s, obj, name);
    if (has)
        *has = 0;
    if (!v)
        return required ? fail(c, RT_DEAD_SCHEMA, "%s: missing \"%s\"", where, name) : 0;
    if (T(c, v)->type != RT_JT_INTEGER)
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: must be an integer", where, name);
    int64_t n = T(c, v)->v.i;
    if (n < lo || n > hi)
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: %lld outside %lld..%lld", where, name, (long long)n,
                    (long long)lo, (long long)hi);
    *out = n;
    if (has)
        *has = 1;
    return 0;
}

/* An object member: *idx = its token (0 when absent), *out = its text when out != NULL. */
static int get_object(dctx_t *c, size_t obj, const char *where, const char *name, int required,
                      size_t *idx, rt_json_text_t *out)
{
    size_t v = rt_jscan_get(c->s, obj, name);
    *idx = 0;
    if (!v)
        return required ? fail(c, RT_DEAD_SCHEMA, "%s: missing \"%s\"", where, name) : 0;
    if (T(c, v)->type != RT_JT_OBJECT)
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: must be an object", where, name);
    *idx = v;
    return out ? slice(c, v, out) : 0;
}

int rt_pg_real_ok(double d)
{
    char t[40];
    snprintf(t, sizeof t, RT_PG_REAL_FMT, d);
    errno = 0;
    float f = strtof(t, NULL);
    /* float4in: ERANGE alone is a denormal, which it keeps; 0 or infinity is out of range. */
    return !(errno == ERANGE && (f == 0 || isinf(f)));
}

static int get_percent(dctx_t *c, size_t obj, const char *name, int *has, double *out)
{
    size_t v = rt_jscan_get(c->s, obj, name);
    *has = 0;
    if (!v)
        return 0;
    const rt_jtok_t *k = T(c, v);
    if (k->type != RT_JT_INTEGER && k->type != RT_JT_REAL)
        return fail(c, RT_DEAD_SCHEMA, "data.%s: must be a number", name);
    double d = k->type == RT_JT_INTEGER ? (double)k->v.i : k->v.d;
    if (!(d >= 0 && d <= 100))
        return fail(c, RT_DEAD_SCHEMA, "data.%s: %g outside 0..100", name, d);
    if (!rt_pg_real_ok(d))
        return fail(c, RT_DEAD_SCHEMA, "data.%s: %g " RT_PG_RANGE_MSG " real (underflow)", name,
                    d);
    *out = d;
    *has = 1;
    return 0;
}

/* A counter map: names ^[a-z][a-z0-9_]{0,63}$, values integers 0..2^63-1. */
static int get_counters(dctx_t *c, size_t data, const char *name, rt_json_text_t *out)
{
    size_t o;
    if (get_object(c, data, "data", name, 0, &o, NULL) != 0)
        return -1;
    if (!o)
        return 0;
    /* data.counters' members are handed to the batch fold as read here (decode.h) */
    rt_event_t *ev = out == &c->ev->counters ? c->ev : NULL;
    if (ev)
        ev->counters_read = 1;
    for (size_t k = o + 1; k + 1 < T(c, o)->skip; k = T(c, k + 1)->skip) {
        char key[128];
        size_t n = rt_jscan_string(c->s, k, key, sizeof key);
        if (n > RT_COUNTER_NAME_MAX || !rt_counter_name_valid(key))
            return fail(c, RT_DEAD_SCHEMA, "data.%s: bad counter name \"%.80s\"", name, key);
        const rt_jtok_t *v = T(c, k + 1);
        if (v->type != RT_JT_INTEGER || v->v.i < 0)
            return fail(c, RT_DEAD_SCHEMA, "data.%s.%s: must be an integer >= 0", name, key);
        if (ev && (T(c, k)->esc || ev->ncounters == RT_EV_COUNTERS_READ))
            ev->counters_read = 0;
        if (ev && ev->counters_read)
            ev->counter[ev->ncounters++] =
                (rt_counter_ref_t){(const char *)c->s->p + T(c, k)->start, n, v->v.i};
    }
    return slice(c, o, out);
}

/* "YYYY-MM-DD" naming a real date (for discovery_runs.posted_from/posted_to DATE). */
static int valid_date(const dctx_t *c, size_t t)
{
    char s[16], buf[32];
    int64_t us;
    if (rt_jscan_string(c->s, t, s, sizeof s) != 10)
        return 0;
    snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
    return rt_time_parse(buf, &us) == 0;
}

/* discovery runs fill TEXT[] and DATE columns from params: check they fit, so that one bad
 * event cannot make the whole batch's SQL fail. */
static int discovery_params(dctx_t *c, size_t params)
{
    size_t v;
    if (!params)
        return 0;
    if ((v = rt_jscan_get(c->s, params, "naics_codes"))) {
        if (T(c, v)->type != RT_JT_ARRAY)
            return fail(c, RT_DEAD_SCHEMA, "discovery run: params.naics_codes must be an array");
        size_t i = 0;
        for (size_t e = v + 1; e < T(c, v)->skip; e = T(c, e)->skip, i++)
            if (T(c, e)->type != RT_JT_STRING)
                return fail(c, RT_DEAD_SCHEMA,
                            "discovery run: params.naics_codes[%zu] must be a string", i);
    }
    static const char *const dates[] = {"posted_from", "posted_to"};
    for (size_t i = 0; i < 2; i++)
        if ((v = rt_jscan_get(c->s, params, dates[i])) &&
            (T(c, v)->type != RT_JT_STRING || !valid_date(c, v)))
            return fail(c, RT_DEAD_SCHEMA, "discovery run: params.%s must be a YYYY-MM-DD date",
                        dates[i]);
    return 0;
}

static int decode_finished(dctx_t *c, rt_event_t *ev, size_t data)
{
    static const char *const ok[] = {"status",       "source",   "exit_code",     "signal",
                                     "end_counts",   "counters", "error_message", "error_details",
                                     "dropped_logs", NULL};
    const char *s;
    size_t o;
    int64_t ended; /* exit_code / signal: checked, not kept (error_details tells them) */
    if (only_members(c, data, "data", ok) || get_string(c, data, "data", "status", 1, 0, 1, &s))
        return -1;
    if (rt_run_status_from_name(s, &ev->status) != 0 || !rt_run_status_terminal(ev->status))
        return fail(c, RT_DEAD_SCHEMA, "data.status: \"%.40s\" is not completed/failed/partial", s);
    if (get_string(c, data, "data", "source", 0, 0, 0, &s))
        return -1;
    if (s && strcmp(s, "wrapper") != 0)
        return fail(c, RT_DEAD_SCHEMA, "data.source: \"%.40s\" is not wrapper", s);
    ev->finish_wrapper = s != NULL;
    if (get_int(c, data, "data", "exit_code", 0, 255, 0, NULL, &ended) ||
        get_int(c, data, "data", "signal", 1, 127, 0, NULL, &ended) ||
        get_counters(c, data, "end_counts", &ev->end_counts) ||
        get_counters(c, data, "counters", &ev->counters) ||
        get_string(c, data, "data", "error_message", 0, 0, 0, &ev->error_message) ||
        get_object(c, data, "data", "error_details", 0, &o, &ev->error_details) ||
        get_int(c, data, "data", "dropped_logs", 0, INT64_MAX, 0, &ev->has_dropped_logs,
                &ev->dropped_logs))
        return -1;
    return 0;
}

static int decode_data(dctx_t *c, rt_event_t *ev, size_t data)
{
    const char *s;
    size_t o;
    switch (ev->type) {
    case RT_EV_STARTED: {
        static const char *const ok[] = {"start_counts", "params", "planned", NULL};
        if (only_members(c, data, "data", ok) ||
            get_counters(c, data, "start_counts", &ev->start_counts) ||
            get_object(c, data, "data", "params", 0, &o, &ev->params) ||
            get_counters(c, data, "planned", &ev->planned))
            return -1;
        if (!strcmp(ev->kind, "discovery") && discovery_params(c, o))
            return -1;
        return 0;
    }
    case RT_EV_PHASE: {
        static const char *const ok[] = {"phase", NULL};
        return only_members(c, data, "data", ok) ||
                       get_string(c, data, "data", "phase", 1, RT_PHASE_MAX, 1, &ev->phase)
                   ? -1
                   : 0;
    }
    case RT_EV_PROGRESS: {
        static const char *const ok[] = {"counters", "memory_percent", "cpu_percent", NULL};
        if (only_members(c, data, "data", ok) || get_counters(c, data, "counters", &ev->counters) ||
            (!ev->counters.p && fail(c, RT_DEAD_SCHEMA, "data: missing \"counters\"")) ||
            get_percent(c, data, "memory_percent", &ev->has_memory, &ev->memory_percent) ||
            get_percent(c, data, "cpu_percent", &ev->has_cpu, &ev->cpu_percent))
            return -1;
        return 0;
    }
    case RT_EV_LOG: {
        static const char *const ok[] = {"level", "message", "phase", "fields", NULL};
        if (only_members(c, data, "data", ok) ||
            get_string(c, data, "data", "level", 1, 0, 1, &s) ||
            get_string(c, data, "data", "phase", 1, RT_PHASE_MAX, 0, &ev->phase) ||
            get_object(c, data, "data", "fields", 0, &o, &ev->fields))
            return -1;
        if (rt_log_level_from_name(s, &ev->level) != 0)
            return fail(c, RT_DEAD_SCHEMA,
                        "data.level: \"%.40s\" is not info/success/warning/error", s);
        size_t m = rt_jscan_get(c->s, data, "message");
        if (!m)
            return fail(c, RT_DEAD_SCHEMA, "data: missing \"message\"");
        if (T(c, m)->type != RT_JT_STRING)
            return fail(c, RT_DEAD_SCHEMA, "data.message: must be a string");
        if (T(c, m)->n > RT_LOG_MESSAGE_MAX)
            return fail(c, RT_DEAD_SCHEMA, "data.message: %zu bytes, more than %d",
                        (size_t)T(c, m)->n, RT_LOG_MESSAGE_MAX);
        if (!(ev->message = str(c, m)))
            return nomem(c);
        ev->message_len = T(c, m)->n;
        return 0;
    }
    case RT_EV_PAUSED:
    case RT_EV_RESUMED: {
        static const char *const ok[] = {"reason", NULL};
        return only_members(c, data, "data", ok) ||
                       get_string(c, data, "data", "reason", 0, 0, 0, &s)
                   ? -1
                   : 0;
    }
    case RT_EV_HEARTBEAT: {
        static const char *const ok[] = {"dropped_logs", NULL};
        return only_members(c, data, "data", ok) ||
                       get_int(c, data, "data", "dropped_logs", 0, INT64_MAX, 0,
                               &ev->has_dropped_logs, &ev->dropped_logs)
                   ? -1
                   : 0;
    }
    case RT_EV_FINISHED:
        return decode_finished(c, ev, data);
    case RT_EV__COUNT:
        break;
    }
    return fail(c, RT_DEAD_UNKNOWN_TYPE, "unknown type");
}

static int get_uuid(dctx_t *c, size_t root, const char *name, char out[RT_UUID_STRLEN])
{
    const char *s;
    if (get_string(c, root, "event", name, 1, 0, 1, &s) != 0)
        return -1;
    if (!rt_uuid_valid(s))
        return fail(c, RT_DEAD_SCHEMA, "%s: \"%.40s\" is not a UUID", name, s);
    /* Lower-case so that the same run written in either case is one run. */
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 'a' : s[i]);
    out[36] = '\0';
    return 0;
}

/* Tokens of a typical event fit on the stack; larger records grow on the heap. */
#define INLINE_TOKENS 160

int rt_decode(const void *buf, size_t len, size_t max_bytes, rt_event_t *ev, rt_dead_reason_t *why,
              char *detail, size_t detail_size)
{
    rt_jtok_t inl[INLINE_TOKENS];
    rt_jscan_t s;
    dctx_t c = {RT_DEAD_NONE, detail, detail_size, &s, ev, 0, 0};
    const char *str_v;
    int64_t n;
    size_t v;

    memset(ev, 0, sizeof *ev);
    memset(&s, 0, sizeof s);
    if (detail_size)
        detail[0] = '\0';
    if (len > max_bytes) {
        fail(&c, RT_DEAD_OVERSIZE, "record of %zu bytes exceeds the limit of %zu", len, max_bytes);
        goto bad;
    }
    if (!buf || len == 0) {
        fail(&c, RT_DEAD_INVALID_JSON, "empty record");
        goto bad;
    }
    /* Duplicate keys (at any depth) are rejected: {"seq":1,"seq":2} is ambiguous. NUL inside
     * strings stays rejected (PostgreSQL text cannot hold it). */
    if (rt_jscan(&s, buf, len, inl, INLINE_TOKENS) != 0) {
        /* A number too large for int64/double is well-formed JSON outside the contract's
         * ranges (seq, counters <= 2^63-1): a schema error, not a syntax error. */
        fail(&c, s.err == RT_JSCAN_OVERFLOW ? RT_DEAD_SCHEMA : RT_DEAD_INVALID_JSON,
             "byte %zu: %s", s.err_pos, s.msg);
        goto bad;
    }
    if (s.tok[0].type != RT_JT_OBJECT) {
        fail(&c, RT_DEAD_SCHEMA, "event must be a JSON object");
        goto bad;
    }
    /* Version first: a future version may have a different shape, and must be reported as
     * such rather than as a schema error. */
    v = rt_jscan_get(&s, 0, "v");
    if (!v) {
        fail(&c, RT_DEAD_SCHEMA, "event: missing \"v\"");
        goto bad;
    }
    if (s.tok[v].type != RT_JT_INTEGER) {
        fail(&c, RT_DEAD_SCHEMA, "v: must be an integer");
        goto bad;
    }
    if (s.tok[v].v.i != RT_SCHEMA_VERSION) {
        fail(&c, RT_DEAD_UNSUPPORTED_VERSION, "v: version %lld is not supported (expected %d)",
             (long long)s.tok[v].v.i, RT_SCHEMA_VERSION);
        goto bad;
    }
    if (get_string(&c, 0, "event", "type", 1, 0, 1, &str_v) != 0)
        goto bad;
    if (rt_event_type_from_name(str_v, &ev->type) != 0) {
        fail(&c, RT_DEAD_UNKNOWN_TYPE, "type: \"%.64s\" is not a known event type", str_v);
        goto bad;
    }
    static const char *const top[] = {"v",   "event_id", "run_id", "seq",      "ts", "type",
                                      "job", "kind",     "data",   "producer", NULL};
    if (only_members(&c, 0, "event", top) || get_uuid(&c, 0, "event_id", ev->event_id) ||
        get_uuid(&c, 0, "run_id", ev->run_id) ||
        get_int(&c, 0, "event", "seq", 1, INT64_MAX, 1, NULL, &ev->seq) ||
        get_string(&c, 0, "event", "ts", 1, 0, 1, &ev->ts) ||
        get_string(&c, 0, "event", "job", 1, RT_JOB_MAX, 1, &ev->job) ||
        get_string(&c, 0, "event", "kind", 1, RT_KIND_MAX, 1, &ev->kind))
        goto bad;
    /* The nil UUID names no run: a producer that never set its run id (zeroed memory) would
     * merge all of its runs into one. */
    if (strcmp(ev->run_id, "00000000-0000-0000-0000-000000000000") == 0) {
        fail(&c, RT_DEAD_NIL_RUN_ID, "run_id: the nil UUID names no run");
        goto bad;
    }
    /* Exactly the contract's form: 27 characters, six fraction digits, 'Z'. */
    if (strlen(ev->ts) != 27 || ev->ts[10] != 'T' || ev->ts[19] != '.' || ev->ts[26] != 'Z' ||
        rt_time_parse(ev->ts, &ev->ts_us) != 0) {
        fail(&c, RT_DEAD_SCHEMA, "ts: \"%.40s\" is not YYYY-MM-DDTHH:MM:SS.ffffffZ", ev->ts);
        goto bad;
    }
    /* A leap second is a time PostgreSQL stores (as the next minute), but not with a fraction:
     * its timestamptz input refuses ":60.000001" (22008), which would fail the whole batch. */
    if (ev->ts[17] == '6' && strncmp(ev->ts + 20, "000000", 6) != 0) {
        fail(&c, RT_DEAD_SCHEMA, "ts: \"%.40s\" " RT_PG_RANGE_MSG " timestamptz (second 60 "
             "with a fraction)", ev->ts);
        goto bad;
    }
    size_t prod;
    if (get_object(&c, 0, "event", "producer", 1, &prod, NULL) != 0)
        goto bad;
    static const char *const pm[] = {"host", "pid", "lib", NULL};
    /* pid must fit runs.producer_pid (integer). */
    if (only_members(&c, prod, "producer", pm) ||
        get_string(&c, prod, "producer", "host", 0, 255, 1, &ev->producer_host) ||
        get_int(&c, prod, "producer", "pid", 0, INT32_MAX, 1, NULL, &n) ||
        get_string(&c, prod, "producer", "lib", 0, RT_LIB_MAX, 1, &ev->producer_lib))
        goto bad;
    ev->producer_pid = n;
    size_t data;
    if (get_object(&c, 0, "event", "data", 1, &data, NULL) != 0 || decode_data(&c, ev, data) != 0)
        goto bad;
    rt_jscan_free(&s);
    *why = RT_DEAD_NONE;
    return 0;
bad:
    rt_jscan_free(&s);
    rt_event_clear(ev);
    *why = c.why == RT_DEAD_NONE ? RT_DEAD_SCHEMA : c.why;
    return -1;
}

void rt_event_clear(rt_event_t *ev)
{
    free(ev->mem);
    for (size_t i = 0; i < sizeof ev->norm / sizeof ev->norm[0]; i++)
        free(ev->norm[i]);
    memset(ev, 0, sizeof *ev);
}
