/* The consumer's previous event decoder, on jansson trees, kept ONLY as the reference the
 * tree-less decoder (consumer/ingest/decode.c) is held to: tests/test_decode_diff.c and
 * tests/fuzz/fuzz_decode.c assert that both give the same verdict, the same dead-letter reason
 * and the same fields on every input. Not linked into runtrack-consumer. */
#include "decode_ref.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_time.h"

/* Failure context: the first failure wins. */
typedef struct dctx {
    rt_dead_reason_t why;
    char *detail;
    size_t detail_size;
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

/* Number of UTF-8 code points (jansson has already checked the encoding): JSON Schema's
 * minLength/maxLength count characters, not bytes. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Rejects members of obj not in the NULL-terminated allowed list (additionalProperties). */
static int only_members(dctx_t *c, json_t *obj, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, key))
                ok = 1;
        if (!ok)
            return fail(c, RT_DEAD_SCHEMA, "%s: unknown member \"%s\"", where, key);
    }
    return 0;
}

/* A string member with a length in characters of lo..hi (hi 0 = no limit). required: absent is
 * an error; otherwise *out stays NULL. */
static int get_string(dctx_t *c, json_t *obj, const char *where, const char *name, size_t lo,
                      size_t hi, int required, const char **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v)
        return required ? fail(c, RT_DEAD_SCHEMA, "%s: missing \"%s\"", where, name) : 0;
    if (!json_is_string(v))
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: must be a string", where, name);
    size_t n = utf8_chars(json_string_value(v), json_string_length(v));
    if (n < lo || (hi && n > hi))
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: length %zu outside %zu..%zu", where, name, n, lo,
                    hi);
    *out = json_string_value(v);
    return 0;
}

static int get_int(dctx_t *c, json_t *obj, const char *where, const char *name, int64_t lo,
                   int64_t hi, int required, int *has, int64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (has)
        *has = 0;
    if (!v)
        return required ? fail(c, RT_DEAD_SCHEMA, "%s: missing \"%s\"", where, name) : 0;
    if (!json_is_integer(v))
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: must be an integer", where, name);
    json_int_t n = json_integer_value(v);
    if (n < lo || n > hi)
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: %lld outside %lld..%lld", where, name, (long long)n,
                    (long long)lo, (long long)hi);
    *out = n;
    if (has)
        *has = 1;
    return 0;
}

static int get_object(dctx_t *c, json_t *obj, const char *where, const char *name, int required,
                      json_t **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v)
        return required ? fail(c, RT_DEAD_SCHEMA, "%s: missing \"%s\"", where, name) : 0;
    if (!json_is_object(v))
        return fail(c, RT_DEAD_SCHEMA, "%s.%s: must be an object", where, name);
    *out = v;
    return 0;
}

static int get_percent(dctx_t *c, json_t *obj, const char *name, int *has, double *out)
{
    json_t *v = json_object_get(obj, name);
    *has = 0;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return fail(c, RT_DEAD_SCHEMA, "data.%s: must be a number", name);
    double d = json_number_value(v);
    if (!(d >= 0 && d <= 100))
        return fail(c, RT_DEAD_SCHEMA, "data.%s: %g outside 0..100", name, d);
    *out = d;
    *has = 1;
    return 0;
}

/* A counter map: names ^[a-z][a-z0-9_]{0,63}$, values integers 0..2^63-1. */
static int get_counters(dctx_t *c, json_t *data, const char *name, json_t **out)
{
    if (get_object(c, data, "data", name, 0, out) != 0 || !*out)
        return c->why ? -1 : 0;
    const char *key;
    json_t *val;
    json_object_foreach(*out, key, val)
    {
        if (!rt_counter_name_valid(key))
            return fail(c, RT_DEAD_SCHEMA, "data.%s: bad counter name \"%.80s\"", name, key);
        if (!json_is_integer(val) || json_integer_value(val) < 0)
            return fail(c, RT_DEAD_SCHEMA, "data.%s.%s: must be an integer >= 0", name, key);
    }
    return 0;
}

/* "YYYY-MM-DD" naming a real date (for discovery_runs.posted_from/posted_to DATE). */
static int valid_date(const char *s)
{
    char buf[32];
    int64_t us;
    if (strlen(s) != 10)
        return 0;
    snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
    return rt_time_parse(buf, &us) == 0;
}

/* discovery runs fill TEXT[] and DATE columns from params: check they fit, so that one bad
 * event cannot make the whole batch's SQL fail. */
static int discovery_params(dctx_t *c, json_t *params)
{
    json_t *v;
    if (!params)
        return 0;
    if ((v = json_object_get(params, "naics_codes"))) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return fail(c, RT_DEAD_SCHEMA, "discovery run: params.naics_codes must be an array");
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return fail(c, RT_DEAD_SCHEMA,
                            "discovery run: params.naics_codes[%zu] must be a string", i);
        }
    }
    static const char *const dates[] = {"posted_from", "posted_to"};
    for (size_t i = 0; i < 2; i++)
        if ((v = json_object_get(params, dates[i])) &&
            (!json_is_string(v) || !valid_date(json_string_value(v))))
            return fail(c, RT_DEAD_SCHEMA, "discovery run: params.%s must be a YYYY-MM-DD date",
                        dates[i]);
    return 0;
}

static int decode_data(dctx_t *c, rt_ref_event_t *ev, json_t *data)
{
    int64_t n;
    const char *s;
    switch (ev->type) {
    case RT_EV_STARTED: {
        static const char *const ok[] = {"start_counts", "params", "planned", NULL};
        if (only_members(c, data, "data", ok) ||
            get_counters(c, data, "start_counts", &ev->start_counts) ||
            get_object(c, data, "data", "params", 0, &ev->params) ||
            get_counters(c, data, "planned", &ev->planned))
            return -1;
        if (!strcmp(ev->kind, "discovery") && discovery_params(c, ev->params))
            return -1;
        return 0;
    }
    case RT_EV_PHASE: {
        static const char *const ok[] = {"phase", NULL};
        return only_members(c, data, "data", ok) ||
                       get_string(c, data, "data", "phase", 1, 64, 1, &ev->phase)
                   ? -1
                   : 0;
    }
    case RT_EV_PROGRESS: {
        static const char *const ok[] = {"counters", "memory_percent", "cpu_percent", NULL};
        if (only_members(c, data, "data", ok) || get_counters(c, data, "counters", &ev->counters) ||
            (!ev->counters && fail(c, RT_DEAD_SCHEMA, "data: missing \"counters\"")) ||
            get_percent(c, data, "memory_percent", &ev->has_memory, &ev->memory_percent) ||
            get_percent(c, data, "cpu_percent", &ev->has_cpu, &ev->cpu_percent))
            return -1;
        return 0;
    }
    case RT_EV_LOG: {
        static const char *const ok[] = {"level", "message", "phase", "fields", NULL};
        json_t *m;
        if (only_members(c, data, "data", ok) ||
            get_string(c, data, "data", "level", 1, 0, 1, &s) ||
            get_string(c, data, "data", "phase", 1, 64, 0, &ev->phase) ||
            get_object(c, data, "data", "fields", 0, &ev->fields))
            return -1;
        if (rt_log_level_from_name(s, &ev->level) != 0)
            return fail(c, RT_DEAD_SCHEMA,
                        "data.level: \"%.40s\" is not info/success/warning/error", s);
        m = json_object_get(data, "message");
        if (!m)
            return fail(c, RT_DEAD_SCHEMA, "data: missing \"message\"");
        if (!json_is_string(m))
            return fail(c, RT_DEAD_SCHEMA, "data.message: must be a string");
        if (json_string_length(m) > 65536)
            return fail(c, RT_DEAD_SCHEMA, "data.message: %zu bytes, more than 65536",
                        json_string_length(m));
        ev->message = json_string_value(m);
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
    case RT_EV_FINISHED: {
        static const char *const ok[] = {
            "status",   "source",        "exit_code",     "signal",       "end_counts",
            "counters", "error_message", "error_details", "dropped_logs", NULL};
        int64_t ended;
        if (only_members(c, data, "data", ok) || get_string(c, data, "data", "status", 1, 0, 1, &s))
            return -1;
        if (rt_run_status_from_name(s, &ev->status) != 0 || !rt_run_status_terminal(ev->status))
            return fail(c, RT_DEAD_SCHEMA, "data.status: \"%.40s\" is not completed/failed/partial",
                        s);
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
            get_object(c, data, "data", "error_details", 0, &ev->error_details) ||
            get_int(c, data, "data", "dropped_logs", 0, INT64_MAX, 0, &ev->has_dropped_logs,
                    &ev->dropped_logs))
            return -1;
        return 0;
    }
    case RT_EV__COUNT:
        break;
    }
    (void)n;
    return fail(c, RT_DEAD_UNKNOWN_TYPE, "unknown type");
}

static int get_uuid(dctx_t *c, json_t *root, const char *name, char out[RT_UUID_STRLEN])
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

int rt_decode_ref(const void *buf, size_t len, size_t max_bytes, rt_ref_event_t *ev,
                  rt_dead_reason_t *why, char *detail, size_t detail_size)
{
    dctx_t c = {RT_DEAD_NONE, detail, detail_size};
    json_error_t jerr;
    json_t *v;
    const char *s;
    int64_t n;

    memset(ev, 0, sizeof *ev);
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
    /* JSON_REJECT_DUPLICATES: {"seq":1,"seq":2} is ambiguous, so it is not an event. NUL inside
     * strings stays rejected (PostgreSQL text cannot hold it). */
    ev->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!ev->root) {
        /* A number too large for int64/double is well-formed JSON outside the contract's
         * ranges (seq, counters <= 2^63-1): a schema error, not a syntax error. */
        fail(&c,
             json_error_code(&jerr) == json_error_numeric_overflow ? RT_DEAD_SCHEMA
                                                                   : RT_DEAD_INVALID_JSON,
             "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        goto bad;
    }
    json_t *root = ev->root;
    if (!json_is_object(root)) {
        fail(&c, RT_DEAD_SCHEMA, "event must be a JSON object");
        goto bad;
    }
    /* Version first: a future version may have a different shape, and must be reported as
     * such rather than as a schema error. */
    v = json_object_get(root, "v");
    if (!v) {
        fail(&c, RT_DEAD_SCHEMA, "event: missing \"v\"");
        goto bad;
    }
    if (!json_is_integer(v)) {
        fail(&c, RT_DEAD_SCHEMA, "v: must be an integer");
        goto bad;
    }
    if (json_integer_value(v) != RT_SCHEMA_VERSION) {
        fail(&c, RT_DEAD_UNSUPPORTED_VERSION, "v: version %lld is not supported (expected %d)",
             (long long)json_integer_value(v), RT_SCHEMA_VERSION);
        goto bad;
    }
    if (get_string(&c, root, "event", "type", 1, 0, 1, &s) != 0)
        goto bad;
    if (rt_event_type_from_name(s, &ev->type) != 0) {
        fail(&c, RT_DEAD_UNKNOWN_TYPE, "type: \"%.64s\" is not a known event type", s);
        goto bad;
    }
    static const char *const top[] = {"v",   "event_id", "run_id", "seq",      "ts", "type",
                                      "job", "kind",     "data",   "producer", NULL};
    if (only_members(&c, root, "event", top) || get_uuid(&c, root, "event_id", ev->event_id) ||
        get_uuid(&c, root, "run_id", ev->run_id) ||
        get_int(&c, root, "event", "seq", 1, INT64_MAX, 1, NULL, &ev->seq) ||
        get_string(&c, root, "event", "ts", 1, 0, 1, &ev->ts) ||
        get_string(&c, root, "event", "job", 1, 200, 1, &ev->job) ||
        get_string(&c, root, "event", "kind", 1, 64, 1, &ev->kind))
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
    json_t *prod;
    if (get_object(&c, root, "event", "producer", 1, &prod) != 0)
        goto bad;
    static const char *const pm[] = {"host", "pid", "lib", NULL};
    /* pid must fit runs.producer_pid (integer). */
    if (only_members(&c, prod, "producer", pm) ||
        get_string(&c, prod, "producer", "host", 0, 255, 1, &ev->producer_host) ||
        get_int(&c, prod, "producer", "pid", 0, INT32_MAX, 1, NULL, &n) ||
        get_string(&c, prod, "producer", "lib", 0, 64, 1, &ev->producer_lib))
        goto bad;
    ev->producer_pid = n;
    json_t *data;
    if (get_object(&c, root, "event", "data", 1, &data) != 0 || decode_data(&c, ev, data) != 0)
        goto bad;
    *why = RT_DEAD_NONE;
    return 0;
bad:
    rt_ref_event_clear(ev);
    *why = c.why == RT_DEAD_NONE ? RT_DEAD_SCHEMA : c.why;
    return -1;
}

void rt_ref_event_clear(rt_ref_event_t *ev)
{
    if (ev->root)
        json_decref(ev->root);
    memset(ev, 0, sizeof *ev);
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The decoder's object text loads (strictly) to a value equal to the reference's. */
static int obj_eq(const rt_json_text_t *t, json_t *ref)
{
    if (!t->p || !ref)
        return !t->p && !ref;
    json_t *j = json_loadb(t->p, t->n, JSON_REJECT_DUPLICATES, NULL);
    int eq = j && json_equal(j, ref);
    json_decref(j);
    return eq;
}

/* The first group of fields in which the two decoded events differ, or NULL. */
static const char *fields_differ(const rt_event_t *e, const rt_ref_event_t *r)
{
#define DIFFERS_IF_NOT(cond, name)                                                                 \
    if (!(cond))                                                                                   \
        return name;
    DIFFERS_IF_NOT(!strcmp(e->event_id, r->event_id) && !strcmp(e->run_id, r->run_id), "ids");
    DIFFERS_IF_NOT(e->seq == r->seq && e->ts_us == r->ts_us && str_eq(e->ts, r->ts), "seq/ts");
    DIFFERS_IF_NOT(e->type == r->type && str_eq(e->job, r->job) && str_eq(e->kind, r->kind),
                   "type/job");
    DIFFERS_IF_NOT(str_eq(e->producer_host, r->producer_host) &&
                       e->producer_pid == r->producer_pid &&
                       str_eq(e->producer_lib, r->producer_lib),
                   "producer");
    DIFFERS_IF_NOT(str_eq(e->phase, r->phase), "phase");
    DIFFERS_IF_NOT(e->has_memory == r->has_memory && e->has_cpu == r->has_cpu &&
                       (!e->has_memory || e->memory_percent == r->memory_percent) &&
                       (!e->has_cpu || e->cpu_percent == r->cpu_percent),
                   "percent");
    DIFFERS_IF_NOT(e->level == r->level && str_eq(e->message, r->message) &&
                       (!e->message || e->message_len == strlen(r->message)),
                   "log");
    DIFFERS_IF_NOT(e->status == r->status && str_eq(e->error_message, r->error_message) &&
                       e->finish_wrapper == r->finish_wrapper,
                   "finished");
    DIFFERS_IF_NOT(e->has_dropped_logs == r->has_dropped_logs && e->dropped_logs == r->dropped_logs,
                   "dropped_logs");
    DIFFERS_IF_NOT(obj_eq(&e->start_counts, r->start_counts) && obj_eq(&e->params, r->params) &&
                       obj_eq(&e->planned, r->planned),
                   "started objects");
    DIFFERS_IF_NOT(obj_eq(&e->counters, r->counters) && obj_eq(&e->end_counts, r->end_counts),
                   "counters");
    DIFFERS_IF_NOT(obj_eq(&e->fields, r->fields) && obj_eq(&e->error_details, r->error_details),
                   "fields/error_details");
#undef DIFFERS_IF_NOT
    return NULL;
}

/* What rt_decode promises on its own: a decoded event carries ids and a time (its strings are
 * read back here), a rejection names a reason and a NUL-terminated detail. NULL when kept. */
static const char *broken_promise(int rc, const rt_event_t *e, rt_dead_reason_t why,
                                  const char *detail, size_t detail_size)
{
    if (rc == 0) {
        size_t n = strlen(e->run_id) + strlen(e->event_id) + strlen(e->ts);
        const char *opt[] = {e->job, e->kind, e->message, e->phase};
        for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
            n += opt[i] ? strlen(opt[i]) : 0;
        return n == 0 || why != RT_DEAD_NONE ? "decoded event" : NULL;
    }
    if (why == RT_DEAD_NONE || why >= RT_DEAD__COUNT || strlen(detail) >= detail_size ||
        !rt_dead_reason_name(why))
        return "rejection";
    return NULL;
}

/* The one known difference, on purpose: jansson skips a NUL byte right after a number or literal
 * (its stream takes NUL for "buffer empty"); rt_decode rejects it with "byte N: NUL byte". When
 * detail says so, returns 1 if jansson gives the same verdict (ref_rc, ref_why) with a space
 * there (it ends the token, then is dropped), else 0; -1 when detail is another rejection. */
static int nul_quirk(const char *p, size_t n, size_t max, const char *detail, int ref_rc,
                     rt_dead_reason_t ref_why)
{
    size_t at;
    if (sscanf(detail, "byte %zu", &at) != 1 || !strstr(detail, ": NUL byte") || at == 0 ||
        at >= n ||
        !((p[at - 1] >= '0' && p[at - 1] <= '9') || (p[at - 1] >= 'a' && p[at - 1] <= 'z')))
        return -1;
    char *q = malloc(n);
    rt_ref_event_t r3;
    rt_dead_reason_t w3 = RT_DEAD_NONE;
    char d3[512];
    int same = 0;
    if (q) {
        memcpy(q, p, n);
        q[at] = ' ';
        int rc3 = rt_decode_ref(q, n, max, &r3, &w3, d3, sizeof d3);
        same = rc3 == ref_rc && w3 == ref_why;
        if (rc3 == 0)
            rt_ref_event_clear(&r3);
        free(q);
    }
    return same;
}

/* The second deliberate difference: values the contract allows but PostgreSQL's columns refuse
 * (a percent that underflows real, a leap second with a fraction) are rejected by rt_decode
 * (schema, detail naming PostgreSQL's range) and accepted by jansson's decoder, which predates
 * the check. Returns 1 when detail d1 claims it and the reference agrees: it decoded the event
 * and holds such a value, or rejected the event as schema too (a later check; rt_decode stops
 * at the first); 0 when the claim does not hold; -1 when d1 is another rejection. */
static int range_quirk(const char *d1, int ref_rc, rt_dead_reason_t ref_why,
                       const rt_ref_event_t *rf)
{
    if (!strstr(d1, RT_PG_RANGE_MSG))
        return -1;
    if (ref_rc != 0)
        return ref_why == RT_DEAD_SCHEMA;
    int leap = rf->ts && strlen(rf->ts) == 27 && rf->ts[17] == '6' &&
               strncmp(rf->ts + 20, "000000", 6) != 0;
    return leap || (rf->has_memory && !rt_pg_real_ok(rf->memory_percent)) ||
           (rf->has_cpu && !rt_pg_real_ok(rf->cpu_percent));
}

const char *rt_decode_compare(const void *buf, size_t len, size_t max_bytes, int details, FILE *log)
{
    const char *p = buf;
    rt_event_t ev;
    rt_ref_event_t rf;
    rt_dead_reason_t w1 = RT_DEAD_NONE, w2 = RT_DEAD_NONE;
    char d1[512] = "", d2[512] = "";
    int r1 = rt_decode(p, len, max_bytes, &ev, &w1, d1, sizeof d1);
    int r2 = rt_decode_ref(p, len, max_bytes, &rf, &w2, d2, sizeof d2);
    const char *what = broken_promise(r1, &ev, w1, d1, sizeof d1);
    int quirk =
        r1 != 0 && w1 == RT_DEAD_INVALID_JSON ? nul_quirk(p, len, max_bytes, d1, r2, w2) : -1;
    int range = r1 != 0 && w1 == RT_DEAD_SCHEMA ? range_quirk(d1, r2, w2, &rf) : -1;
    if (what || quirk >= 0) {
        if (!what && !quirk)
            what = "NUL byte";
    } else if (range >= 0) {
        if (!range)
            what = "storage range";
    } else if (r1 != r2 || w1 != w2) {
        what = "verdict/reason";
        if (log)
            fprintf(log, "new: %s (%s) / ref: %s (%s)\n", rt_dead_reason_name(w1), d1,
                    rt_dead_reason_name(w2), d2);
    } else if (r1 != 0) {
        /* jansson's own parse messages ("line L column C: ...") are not reproduced. */
        if (details && strncmp(d2, "line ", 5) != 0 && strcmp(d1, d2) != 0) {
            what = "detail";
            if (log)
                fprintf(log, "detail: new \"%s\" / ref \"%s\"\n", d1, d2);
        }
    } else {
        what = fields_differ(&ev, &rf);
    }
    if (r1 == 0)
        rt_event_clear(&ev);
    if (r2 == 0)
        rt_ref_event_clear(&rf);
    return what;
}
