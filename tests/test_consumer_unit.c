/* Unit tests of the consumer's pure modules: the decoder against the contract's examples
 * (schemas/examples: every valid one decodes, every invalid one is dead-lettered with the right
 * reason) and hand-made bad records, the batch aggregation rules, and the settings table. */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/aggregate.h"
#include "ingest/batch.h"
#include "config.h"
#include "ready.h"
#include "ingest/decode.h"
#include "ingest/pg_out.h"
#include "harness.h"

#ifndef SOURCE_DIR
#error SOURCE_DIR must be defined
#endif

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int decode_str(const char *s, rt_event_t *ev, rt_dead_reason_t *why, char *detail)
{
    return rt_decode(s, strlen(s), RT_EVENT_MAX_BYTES, ev, why, detail, 256);
}

/* Calls check(ts, name, bytes, len) for every *.json file of dir; returns how many it read. */
typedef void (*json_file_fn)(test_state_t *ts, const char *name, const char *buf, size_t len);
static int each_json_file(test_state_t *ts, const char *dir, json_file_fn check)
{
    DIR *d = opendir(dir);
    CHECK(ts, d != NULL);
    if (!d)
        return 0;
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *buf = slurp(path, &len);
        CHECK(ts, buf != NULL);
        if (!buf)
            continue;
        files++;
        check(ts, e->d_name, buf, len);
        free(buf);
    }
    closedir(d);
    return files;
}

static void valid_example(test_state_t *ts, const char *name, const char *buf, size_t len)
{
    json_t *root = json_loadb(buf, len, 0, NULL);
    json_t *events = json_object_get(root, "events");
    size_t n = events ? json_array_size(events) : 1;
    for (size_t i = 0; i < n; i++) {
        char *one = events ? json_dumps(json_array_get(events, i), JSON_COMPACT) : strdup(buf);
        rt_event_t ev;
        rt_dead_reason_t why;
        char detail[256];
        int rc = decode_str(one, &ev, &why, detail);
        if (rc != 0)
            fprintf(stderr, "%s[%zu]: %s: %s\n", name, i, rt_dead_reason_name(why), detail);
        CHECK(ts, rc == 0);
        rt_event_clear(&ev);
        free(one);
    }
    json_decref(root);
}

/* Every valid example decodes; scenario files hold {"events": [...]}. */
static void test_valid_examples(test_state_t *ts)
{
    CHECK(ts, each_json_file(ts, SOURCE_DIR "/schemas/examples", valid_example) >= 10);
}

static void invalid_example(test_state_t *ts, const char *name, const char *buf, size_t len)
{
    rt_event_t ev;
    rt_dead_reason_t why = RT_DEAD_NONE;
    char detail[256] = "";
    int rc = rt_decode(buf, len, RT_EVENT_MAX_BYTES, &ev, &why, detail, sizeof detail);
    if (rc == 0)
        fprintf(stderr, "%s: accepted but is invalid\n", name);
    CHECK(ts, rc == -1);
    CHECK(ts, detail[0] != '\0');
    CHECK(ts, ev.mem == NULL && ev.fields.p == NULL);
    rt_dead_reason_t want = RT_DEAD_SCHEMA;
    if (strstr(name, "future_version"))
        want = RT_DEAD_UNSUPPORTED_VERSION;
    else if (!strcmp(name, "unknown_type.json"))
        want = RT_DEAD_UNKNOWN_TYPE;
    else if (!strcmp(name, "nil_run_id.json"))
        want = RT_DEAD_NIL_RUN_ID;
    if (why != want)
        fprintf(stderr, "%s: reason %s (%s), expected %s\n", name, rt_dead_reason_name(why),
                detail, rt_dead_reason_name(want));
    CHECK(ts, why == want);
}

/* Every invalid example is rejected; version and type errors carry their own reason. */
static void test_invalid_examples(test_state_t *ts)
{
    CHECK(ts, each_json_file(ts, SOURCE_DIR "/schemas/examples/invalid", invalid_example) >= 20);
}

#define GOOD_HEAD                                                                                  \
    "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\",\"run_id\":"                   \
    "\"019A16A0-5EBB-7312-8643-8B2A38836CFD\",\"seq\":3,\"ts\":\"2025-10-24T14:30:00.123456Z\","   \
    "\"job\":\"fb_v2.py\",\"kind\":\"scrape\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":"     \
    "\"0.1.0\"},"

static rt_dead_reason_t reason_of(const char *s, size_t len, size_t max)
{
    rt_event_t ev;
    rt_dead_reason_t why = RT_DEAD_NONE;
    char detail[256];
    if (rt_decode(s, len, max, &ev, &why, detail, sizeof detail) == 0)
        rt_event_clear(&ev);
    return why;
}

static void test_bad_records(test_state_t *ts)
{
    const char *log =
        GOOD_HEAD "\"type\":\"run.log\",\"data\":{\"level\":\"info\",\"message\":\"hi\"}}";
    rt_event_t ev;
    rt_dead_reason_t why;
    char detail[256];
    REQUIRE(ts, decode_str(log, &ev, &why, detail) == 0);
    /* ids are stored lower-case so one run is one run whatever case the producer used */
    CHECK_STR(ts, ev.run_id, "019a16a0-5ebb-7312-8643-8b2a38836cfd");
    CHECK(ts, ev.type == RT_EV_LOG && ev.level == RT_LOG_INFO && ev.seq == 3);
    CHECK_STR(ts, ev.message, "hi");
    rt_event_clear(&ev);

    CHECK(ts, reason_of("", 0, 100) == RT_DEAD_INVALID_JSON);
    CHECK(ts, reason_of("{\"v\":1", 6, 100) == RT_DEAD_INVALID_JSON);
    CHECK(ts, reason_of("\xff\xfe{}", 4, 100) == RT_DEAD_INVALID_JSON);
    CHECK(ts, reason_of("{} trailing", 11, 100) == RT_DEAD_INVALID_JSON);
    CHECK(ts, reason_of("{\"v\":1,\"v\":1}", 13, 100) == RT_DEAD_INVALID_JSON); /* duplicates */
    CHECK(ts, reason_of(log, strlen(log), 50) == RT_DEAD_OVERSIZE);
    CHECK(ts, reason_of("42", 2, 100) == RT_DEAD_INVALID_JSON);
    /* NUL inside a string cannot be stored in PostgreSQL text */
    const char nul[] =
        GOOD_HEAD "\"type\":\"run.log\",\"data\":{\"level\":\"info\",\"message\":\"a\\u0000b\"}}";
    CHECK(ts, reason_of(nul, strlen(nul), RT_EVENT_MAX_BYTES) == RT_DEAD_INVALID_JSON);
    /* impossible calendar date that the schema's pattern lets through */
    const char feb30[] =
        "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\",\"run_id\":"
        "\"019a16a0-5ebb-7312-8643-8b2a38836cfd\",\"seq\":3,\"ts\":\"2025-02-30T14:30:00.123456Z\","
        "\"job\":\"j\",\"kind\":\"k\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":\"l\"},"
        "\"type\":\"run.heartbeat\",\"data\":{}}";
    CHECK(ts, reason_of(feb30, strlen(feb30), RT_EVENT_MAX_BYTES) == RT_DEAD_SCHEMA);
    /* message over 65536 bytes (but fewer characters) */
    size_t big = 70000;
    char *msg = malloc(big + 512);
    REQUIRE(ts, msg != NULL);
    int o = snprintf(msg, 512,
                     GOOD_HEAD "\"type\":\"run.log\",\"data\":{\"level\":\"info\",\"message\":\"");
    for (size_t i = 0; i < 22000; i++) { /* 3 bytes, 1 character each: 66000 bytes */
        memcpy(msg + o, "\xe2\x82\xac", 3);
        o += 3;
    }
    memcpy(msg + o, "\"}}", 4);
    CHECK(ts, reason_of(msg, strlen(msg), RT_EVENT_MAX_BYTES) == RT_DEAD_SCHEMA);
    free(msg);
    /* producer pid must fit the integer column */
    const char pid[] =
        "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\",\"run_id\":"
        "\"019a16a0-5ebb-7312-8643-8b2a38836cfd\",\"seq\":3,\"ts\":\"2025-02-03T14:30:00.123456Z\","
        "\"job\":\"j\",\"kind\":\"k\",\"producer\":{\"host\":\"h\",\"pid\":4294967296,\"lib\":"
        "\"l\"},"
        "\"type\":\"run.heartbeat\",\"data\":{}}";
    CHECK(ts, reason_of(pid, strlen(pid), RT_EVENT_MAX_BYTES) == RT_DEAD_SCHEMA);
}

/* Values the contract lets through but a PostgreSQL column refuses are dead letters (schema)
 * before they reach a batch: each would fail its whole batch's transaction (docs/events.md,
 * "What PostgreSQL stores"). Their neighbours of the same shape still decode. */
static void test_storage_ranges(test_state_t *ts)
{
    static const struct {
        const char *ts, *data;
        rt_dead_reason_t want;
    } cases[] = {
        /* real (runs.memory_percent, cpu_percent): underflow to 0 is refused, denormals kept */
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{},\"memory_percent\":1e-50", RT_DEAD_SCHEMA},
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{},\"cpu_percent\":7e-46", RT_DEAD_SCHEMA},
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{},\"memory_percent\":1e-40", RT_DEAD_NONE},
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{},\"memory_percent\":1e39", RT_DEAD_SCHEMA},
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{},\"cpu_percent\":0", RT_DEAD_NONE},
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{},\"cpu_percent\":99.99999999999999", RT_DEAD_NONE},
        /* timestamptz: second 60 is the next minute; with a fraction PostgreSQL refuses it */
        {"2016-12-31T23:59:60.000000Z", "\"counters\":{},\"cpu_percent\":1", RT_DEAD_NONE},
        {"2016-12-31T23:59:60.000001Z", "\"counters\":{},\"cpu_percent\":1", RT_DEAD_SCHEMA},
        {"0001-01-01T00:00:00.000000Z", "\"counters\":{},\"cpu_percent\":1", RT_DEAD_NONE},
        {"0000-12-31T23:59:59.000000Z", "\"counters\":{},\"cpu_percent\":1", RT_DEAD_SCHEMA},
        /* NUL cannot be in text or jsonb (here escaped in a counter name) */
        {"2025-10-24T14:30:10.000000Z", "\"counters\":{\"a\\u0000\":1}", RT_DEAD_INVALID_JSON},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char b[1024], detail[256];
        int n = snprintf(b, sizeof b,
                         "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\","
                         "\"run_id\":\"019a16a0-5ebb-7312-8643-8b2a38836cfd\",\"seq\":1,"
                         "\"ts\":\"%s\",\"job\":\"j\",\"kind\":\"k\",\"producer\":{\"host\":"
                         "\"h\",\"pid\":1,\"lib\":\"l\"},\"type\":\"run.progress\","
                         "\"data\":{%s}}",
                         cases[i].ts, cases[i].data);
        rt_event_t ev;
        rt_dead_reason_t why = RT_DEAD__COUNT;
        int rc = rt_decode(b, (size_t)n, RT_EVENT_MAX_BYTES, &ev, &why, detail, sizeof detail);
        if (why != cases[i].want)
            fprintf(stderr, "case %zu: %s -> %s (%s)\n", i, b, rt_dead_reason_name(why), detail);
        CHECK(ts, why == cases[i].want && (rc == 0) == (cases[i].want == RT_DEAD_NONE));
        if (rc == 0)
            rt_event_clear(&ev);
    }
    char detail[256];
    rt_event_t ev;
    rt_dead_reason_t why;
    const char *under = GOOD_HEAD "\"type\":\"run.progress\",\"data\":{\"counters\":{},"
                                  "\"memory_percent\":1e-50}}";
    REQUIRE(ts, decode_str(under, &ev, &why, detail) != 0);
    CHECK(ts, strstr(detail, "memory_percent") && strstr(detail, RT_PG_RANGE_MSG " real"));
    /* The dead letter's Kafka timestamp: any int64 a producer set, never text PostgreSQL
     * refuses (beyond year 9999 or microseconds' range: NULL). */
    static const int64_t kts[] = {INT64_MAX, INT64_MAX / 1000 + 1, 253402300800000LL, 0};
    for (size_t i = 0; i < sizeof kts / sizeof kts[0]; i++) {
        rt_buf_t row = {0};
        rt_copy_dead_row(&row, "t", 0, 1, NULL, 0, "x", 1, kts[i], RT_DEAD_SCHEMA, "d");
        REQUIRE(ts, row.data != NULL);
        CHECK(ts, (kts[i] == 0) == (strstr(row.data, "\t1970-01-01T00:00:00.000000Z\n") != NULL));
        CHECK(ts, (kts[i] == 0) != (strstr(row.data, "\t\\N\n") != NULL));
        rt_buf_free(&row);
    }
}

/* buf (1024 bytes) holds the record: the event's objects point into it, so it must outlive
 * the event. */
static void make(rt_event_t *ev, char *buf, const char *run, const char *job, int64_t seq,
                 int64_t sec, const char *type, const char *data)
{
    rt_dead_reason_t why;
    char detail[256];
    snprintf(buf, 1024,
             "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\",\"run_id\":\"%s\","
             "\"seq\":%lld,\"ts\":\"2025-10-24T14:30:%02lld.000000Z\",\"job\":\"%s\",\"kind\":"
             "\"scrape\",\"producer\":{\"host\":\"h\",\"pid\":%lld,\"lib\":\"l\"},\"type\":\"%s\","
             "\"data\":%s}",
             run, (long long)seq, (long long)sec, job, (long long)seq, type, data);
    if (rt_decode(buf, strlen(buf), RT_EVENT_MAX_BYTES, ev, &why, detail, sizeof detail) != 0)
        fprintf(stderr, "make: %s\n", detail);
}

/* The runs upsert's input rows (COPY text, the rt_in_runs columns) as a JSON array of objects,
 * NULL fields left out, so that the merge inputs can be checked by name. */
static json_t *runs_rows(const char *txt)
{
    static const char *const cols[] = {
        "run_id", "job", "kind", "min_ts",
        "max_ts", "max_seq", "producer_host", "producer_pid",
        "producer_lib", "has_started", "started_ts", "start_counts",
        "params", "planned", "phase_seq", "phase",
        "counters_seq", "counters", "counter_seqs", "counter_keys",
        "progress_seq", "memory_seq", "memory_percent", "cpu_seq",
        "cpu_percent", "pause_seq", "paused", "paused_at",
        "resumed_at", "finished_at", "status", "end_counts",
        "end_counts_rank", "end_counts_at", "error_message", "error_details", "dropped_logs", "clock_skew_s",
        "finished_by_wrapper", "identity_conflict"};
    /* i: integer, b: boolean, r: real, j: JSON, s: text */
    static const char types[] = "sssssisisbsjjjisijjsiiriribssssjissjiibb";
    json_t *arr = json_array();
    while (*txt) {
        const char *eol = strchr(txt, '\n');
        if (!eol)
            break;
        json_t *o = json_object();
        size_t c = 0;
        for (const char *f = txt; f <= eol && c < sizeof cols / sizeof cols[0]; c++) {
            const char *end = f;
            while (end < eol && *end != '\t')
                end++;
            char v[2048];
            size_t n = 0;
            for (const char *q = f; q < end && n + 1 < sizeof v; q++) {
                if (*q == '\\' && q + 1 < end) {
                    q++;
                    v[n++] = *q == 't' ? '\t' : *q == 'n' ? '\n' : *q == 'r' ? '\r' : *q;
                } else {
                    v[n++] = *q;
                }
            }
            v[n] = '\0';
            int null = end - f == 2 && f[0] == '\\' && f[1] == 'N';
            if (!null) {
                json_t *val = types[c] == 'i'   ? json_integer(strtoll(v, NULL, 10))
                              : types[c] == 'b' ? json_boolean(v[0] == 't')
                              : types[c] == 'r' ? json_real(strtod(v, NULL))
                              : types[c] == 'j' ? json_loads(v, 0, NULL)
                                                : json_string(v);
                json_object_set_new(o, cols[c], val);
            }
            f = end + 1;
        }
        json_array_append_new(arr, o);
        txt = eol + 1;
    }
    return arr;
}

static json_t *find_run(json_t *arr, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (!strcmp(json_string_value(json_object_get(o, "run_id")), id))
            return o;
    }
    return NULL;
}

/* The nine events of test_aggregate, decoded from records in recs. */
static void make_nine(rt_event_t ev[9], char recs[9][1024], const char *A, const char *B)
{
    make(&ev[0], recs[0], A, "j", 1, 10, "run.started", "{\"start_counts\":{\"events\":1}}");
    make(&ev[1], recs[1], A, "j", 2, 11, "run.phase", "{\"phase\":\"scraping\"}");
    make(&ev[2], recs[2], A, "j", 3, 12, "run.progress",
         "{\"counters\":{\"x\":1},\"memory_percent\":5}");
    make(&ev[3], recs[3], A, "j", 4, 13, "run.phase", "{\"phase\":\"matching\"}");
    make(&ev[4], recs[4], A, "j", 5, 14, "run.paused", "{}");
    make(&ev[5], recs[5], A, "j", 6, 15, "run.resumed", "{}");
    make(&ev[6], recs[6], A, "j", 7, 16, "run.finished",
         "{\"status\":\"failed\",\"dropped_logs\":3}");
    make(&ev[7], recs[7], A, "other", 8, 17, "run.heartbeat", "{}");
    make(&ev[8], recs[8], B, "j", 2, 5, "run.log", "{\"level\":\"info\",\"message\":\"m\"}");
}

/* The batch folds events by the same rules as the SQL merge, in any arrival order, and keeps
 * its own copies: the events and their records are gone before the runs text is written. */
static void test_aggregate(test_state_t *ts)
{
    const char *A = "019a16a0-5ebb-7312-8643-8b2a38836cfd";
    const char *B = "019a16a0-5ebb-7312-8643-8b2a38836cfe";
    rt_event_t ev[9];
    static char recs[9][1024];
    static const int orders[2][9] = {{0, 1, 2, 3, 4, 5, 6, 7, 8}, {6, 5, 8, 3, 2, 1, 4, 0, 7}};
    for (int o = 0; o < 2; o++) {
        rt_agg_t *agg = rt_agg_new();
        REQUIRE(ts, agg != NULL);
        char detail[256];
        int rule = 0;
        make_nine(ev, recs, A, B);
        for (int i = 0; i < 9; i++)
            if (rt_agg_add(agg, &ev[orders[o][i]], detail, sizeof detail) == -1)
                rule++;
        for (int i = 0; i < 9; i++) {
            rt_event_clear(&ev[i]);
            memset(recs[i], 'x', sizeof recs[i]);
        }
        /* order 0: job "other" arrives after "j" and is the rule violation; order 1 the same
         * because "j" events come first too */
        CHECK(ts, rule == 1);
        CHECK(ts, rt_agg_count(agg) == 2);
        CHECK(ts, rt_agg_flags(agg, A) == (RT_AGG_STARTED | RT_AGG_FINISHED | RT_AGG_COUNTERS));
        CHECK(ts, rt_agg_flags(agg, B) == 0);
        /* The runs rows (the events' own objects as they came) hold the merge inputs. */
        rt_buf_t rows = {0};
        size_t nr = rt_agg_runs_copy(agg, &rows);
        REQUIRE(ts, nr != (size_t)-1 && rows.data != NULL);
        json_t *runs = runs_rows(rows.data);
        rt_buf_free(&rows);
        CHECK(ts, nr == 2 && json_array_size(runs) == 2);
        json_t *a = find_run(runs, A), *b = find_run(runs, B);
        REQUIRE(ts, a && b);
        json_t *want_sc = json_pack("{s:i}", "events", 1), *want_c = json_pack("{s:i}", "x", 1);
        CHECK(ts, json_equal(json_object_get(a, "start_counts"), want_sc));
        CHECK(ts, json_equal(json_object_get(a, "counters"), want_c));
        CHECK(ts, json_number_value(json_object_get(a, "memory_percent")) == 5.0);
        CHECK(ts, json_object_get(a, "cpu_percent") == NULL);
        CHECK_STR(ts, json_string_value(json_object_get(a, "job")), "j");
        json_decref(want_sc);
        json_decref(want_c);
        CHECK_STR(ts, json_string_value(json_object_get(a, "phase")), "matching");
        CHECK(ts, json_integer_value(json_object_get(a, "phase_seq")) == 4);
        CHECK(ts, json_integer_value(json_object_get(a, "counters_seq")) == 3);
        CHECK(ts, json_is_false(json_object_get(a, "paused")));
        CHECK(ts, json_integer_value(json_object_get(a, "pause_seq")) == 6);
        CHECK_STR(ts, json_string_value(json_object_get(a, "status")), "failed");
        CHECK_STR(ts, json_string_value(json_object_get(a, "min_ts")),
                  "2025-10-24T14:30:10.000000Z");
        CHECK_STR(ts, json_string_value(json_object_get(a, "max_ts")),
                  "2025-10-24T14:30:16.000000Z");
        CHECK(ts, json_integer_value(json_object_get(a, "max_seq")) == 7);
        CHECK(ts, json_integer_value(json_object_get(a, "producer_pid")) == 7);
        CHECK(ts, json_integer_value(json_object_get(a, "dropped_logs")) == 3);
        CHECK(ts, json_is_true(json_object_get(a, "has_started")));
        CHECK(ts, json_object_get(b, "has_started") == NULL);
        char *ids = rt_agg_run_ids(agg);
        CHECK(ts, ids && strlen(ids) == 2 + 36 * 2 + 1);
        free(ids);
        json_decref(runs);
        /* The next batch reuses the slots: nothing of this one shows through. */
        rt_agg_reset(agg);
        make(&ev[0], recs[0], B, "j", 9, 20, "run.heartbeat", "{}");
        CHECK(ts, rt_agg_add(agg, &ev[0], detail, sizeof detail) == 0);
        rt_event_clear(&ev[0]);
        nr = rt_agg_runs_copy(agg, &rows);
        runs = rows.data ? runs_rows(rows.data) : NULL;
        CHECK(ts, nr == 1 && json_array_size(runs) == 1);
        json_t *only = json_array_get(runs, 0);
        /* ids, times, seq, producer, clock_skew_s 0, identity_conflict: nothing else */
        CHECK(ts, json_object_size(only) == 11);
        CHECK(ts, json_is_false(json_object_get(only, "identity_conflict")));
        CHECK(ts,
              json_object_get(only, "counters") == NULL && json_object_get(only, "status") == NULL);
        json_decref(runs);
        rt_buf_free(&rows);
        rt_agg_free(agg);
    }
    make_nine(ev, recs, A, B);
    /* a run PostgreSQL already knows under another job: every event of it is a rule breach */
    rt_agg_t *agg = rt_agg_new();
    char detail[256];
    CHECK(ts, rt_agg_set_known(agg, A, "stored.py", "scrape", 1) == 0);
    CHECK(ts, rt_agg_add(agg, &ev[1], detail, sizeof detail) == -1);
    CHECK(ts, strstr(detail, "stored.py") != NULL);
    rt_agg_free(agg);
    /* stored without its run.started: the job is provisional, a run.started of another job
     * takes the run (flagged), and from then on the other job is the rule breach */
    agg = rt_agg_new();
    CHECK(ts, rt_agg_set_known(agg, A, "stored.py", "scrape", 0) == 0);
    CHECK(ts, rt_agg_add(agg, &ev[7], detail, sizeof detail) == 0); /* "other": accepted */
    CHECK(ts, rt_agg_add(agg, &ev[0], detail, sizeof detail) == 0); /* run.started of "j" */
    CHECK(ts, rt_agg_add(agg, &ev[7], detail, sizeof detail) == -1);
    CHECK(ts, rt_agg_add(agg, &ev[1], detail, sizeof detail) == 0);
    rt_buf_t rows = {0};
    json_t *runs = rt_agg_runs_copy(agg, &rows) == 1 ? runs_rows(rows.data) : NULL;
    json_t *a = runs ? find_run(runs, A) : NULL;
    CHECK(ts, a && !strcmp(json_string_value(json_object_get(a, "job")), "j") &&
                  json_is_true(json_object_get(a, "identity_conflict")));
    json_decref(runs);
    rt_buf_free(&rows);
    rt_agg_free(agg);
    /* a log line of another job ahead of the run.started in one batch: the same */
    agg = rt_agg_new();
    CHECK(ts, rt_agg_add(agg, &ev[7], detail, sizeof detail) == 0);
    CHECK(ts, rt_agg_add(agg, &ev[0], detail, sizeof detail) == 0);
    CHECK(ts, rt_agg_add(agg, &ev[1], detail, sizeof detail) == 0);
    CHECK(ts, rt_agg_add(agg, &ev[7], detail, sizeof detail) == -1);
    runs = rt_agg_runs_copy(agg, &rows) == 1 ? runs_rows(rows.data) : NULL;
    a = runs ? find_run(runs, A) : NULL;
    CHECK(ts, a && !strcmp(json_string_value(json_object_get(a, "job")), "j") &&
                  json_is_true(json_object_get(a, "identity_conflict")));
    json_decref(runs);
    rt_buf_free(&rows);
    rt_agg_free(agg);
    /* a run retention deleted: every event of it is a dead letter (run_removed) */
    agg = rt_agg_new();
    CHECK(ts, rt_agg_set_removed(agg, A) == 0);
    CHECK(ts, rt_agg_add(agg, &ev[1], detail, sizeof detail) == -3);
    CHECK(ts, strstr(detail, "retention") != NULL);
    CHECK(ts, rt_agg_runs_copy(agg, &rows) == 0);
    rt_buf_free(&rows);
    rt_agg_free(agg);
    /* growth past the initial table */
    agg = rt_agg_new();
    for (int i = 0; i < 1000; i++) {
        char id[40];
        snprintf(id, sizeof id, "019a16a0-5ebb-7312-8643-%012d", i);
        CHECK(ts, rt_agg_touch(agg, id) == 0);
    }
    CHECK(ts, rt_agg_count(agg) == 1000);
    rt_agg_free(agg);
    for (int i = 0; i < 9; i++)
        rt_event_clear(&ev[i]);
}

/* An event of run A for fold_runs: make()'s seq, second, type and data. */
typedef struct fold_ev {
    int64_t seq, sec;
    const char *type, *data;
} fold_ev_t;

/* Folds evs[order[0]], evs[order[1]]... (up to n, or a negative index) of run A into a new
 * aggregate; returns its runs rows (caller decrefs), each event accepted. */
static json_t *fold_runs(test_state_t *ts, const fold_ev_t *evs, const int *order, size_t n)
{
    const char *A = "019a16a0-5ebb-7312-8643-8b2a38836cfd";
    rt_agg_t *agg = rt_agg_new();
    char detail[256];
    if (!agg)
        return json_array();
    for (size_t i = 0; i < n && order[i] >= 0; i++) {
        const fold_ev_t *e = &evs[order[i]];
        rt_event_t ev;
        char rec[1024];
        make(&ev, rec, A, "j", e->seq, e->sec, e->type, e->data);
        CHECK(ts, rt_agg_add(agg, &ev, detail, sizeof detail) == 0);
        rt_event_clear(&ev);
    }
    rt_buf_t rows = {0};
    CHECK(ts, rt_agg_runs_copy(agg, &rows) == 1);
    json_t *runs = runs_rows(rows.data ? rows.data : "");
    rt_buf_free(&rows);
    rt_agg_free(agg);
    return runs;
}

/* Two run.finished of one run, folded in every arrival order (and duplicated): the winner is
 * the same. data[k] is sent at seq 3 + k, 14:30:(20 + k); want_*: the winning finish. */
static void finish_pair(test_state_t *ts, const char *const data[2], const char *want_status,
                        int want_wrapper, const char *want_at, const char *want_error)
{
    static const int orders[][4] = {{0, 1, -1, -1}, {1, 0, -1, -1}, {1, 0, 1, 0}, {0, 0, 1, 1}};
    const fold_ev_t evs[2] = {{3, 20, "run.finished", data[0]}, {4, 21, "run.finished", data[1]}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        json_t *runs = fold_runs(ts, evs, orders[o], 4);
        json_t *a = json_array_get(runs, 0);
        REQUIRE(ts, a != NULL);
        CHECK_STR(ts, json_string_value(json_object_get(a, "status")), want_status);
        CHECK_STR(ts, json_string_value(json_object_get(a, "finished_at")), want_at);
        CHECK(ts, json_is_true(json_object_get(a, "finished_by_wrapper")) == want_wrapper);
        CHECK_STR(ts, json_string_value(json_object_get(a, "error_message")), want_error);
        json_decref(runs);
    }
}

/* Counter maps merge per counter (docs/events.md, Counters): a counter an event does not name
 * keeps its value, per counter the newest seq wins (a late older event cannot roll one back),
 * memory and cpu keep their last value; any arrival order gives the same row, and the row says
 * which counters an older event set (counter_seqs, migration 0027). */
static void test_aggregate_counters(test_state_t *ts)
{
    const char *A = "019a16a0-5ebb-7312-8643-8b2a38836cfd";
    static const fold_ev_t evs[] = {
        {1, 11, "run.progress",
         "{\"counters\":{\"a\":1,\"b\":1},\"memory_percent\":7.5,\"cpu_percent\":20}"},
        {3, 13, "run.progress", "{\"counters\":{\"a\":3}}"},
        {2, 12, "run.progress", "{\"counters\":{\"b\":2,\"\\u0063\":9},\"cpu_percent\":30}"},
        {4, 14, "run.finished", "{\"status\":\"completed\",\"counters\":{\"found\":120}}"},
    };
    static const int orders[][5] = {{0, 1, 2, 3, -1}, {3, 2, 1, 0, -1}, {2, 0, 3, 1, 2},
                                    {1, 3, 0, 2, 0}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        json_t *runs = fold_runs(ts, evs, orders[o], 5);
        json_t *a = json_array_get(runs, 0);
        REQUIRE(ts, a != NULL);
        json_t *want = json_pack("{s:i,s:i,s:i,s:i}", "a", 3, "b", 2, "c", 9, "found", 120);
        json_t *want_seqs = json_pack("{s:i,s:i,s:i}", "a", 3, "b", 2, "c", 2);
        CHECK(ts, json_equal(json_object_get(a, "counters"), want));
        CHECK(ts, json_equal(json_object_get(a, "counter_seqs"), want_seqs));
        CHECK(ts, json_integer_value(json_object_get(a, "counters_seq")) == 4);
        CHECK_STR(ts, json_string_value(json_object_get(a, "counter_keys")), "a,b,c,found");
        CHECK(ts, json_number_value(json_object_get(a, "memory_percent")) == 7.5);
        CHECK(ts, json_integer_value(json_object_get(a, "memory_seq")) == 1);
        CHECK(ts, json_number_value(json_object_get(a, "cpu_percent")) == 30);
        CHECK(ts, json_integer_value(json_object_get(a, "cpu_seq")) == 2);
        CHECK(ts, json_integer_value(json_object_get(a, "progress_seq")) == 3);
        json_decref(want);
        json_decref(want_seqs);
        json_decref(runs);
    }
    /* One event's whole map: counter_seqs is {} (all at counters_seq); an empty map is {} and
     * moves no seq. */
    rt_agg_t *agg = rt_agg_new();
    REQUIRE(ts, agg != NULL);
    char detail[256], rec[1024];
    rt_event_t ev;
    make(&ev, rec, A, "j", 5, 15, "run.progress", "{\"counters\":{}}");
    CHECK(ts, rt_agg_add(agg, &ev, detail, sizeof detail) == 0);
    rt_event_clear(&ev);
    rt_buf_t rows = {0};
    json_t *runs = rt_agg_runs_copy(agg, &rows) == 1 ? runs_rows(rows.data) : NULL;
    json_t *a = runs ? json_array_get(runs, 0) : NULL;
    CHECK(ts, a && json_object_size(json_object_get(a, "counters")) == 0 &&
                  json_object_size(json_object_get(a, "counter_seqs")) == 0 &&
                  json_object_get(a, "counters_seq") == NULL &&
                  json_object_get(a, "memory_percent") == NULL);
    json_decref(runs);
    rt_buf_reset(&rows);
    make(&ev, rec, A, "j", 6, 16, "run.progress", "{\"counters\":{\"x\":1,\"y\":2}}");
    CHECK(ts, rt_agg_add(agg, &ev, detail, sizeof detail) == 0);
    rt_event_clear(&ev);
    runs = rt_agg_runs_copy(agg, &rows) == 1 ? runs_rows(rows.data) : NULL;
    a = runs ? json_array_get(runs, 0) : NULL;
    CHECK(ts, a && json_object_size(json_object_get(a, "counters")) == 2 &&
                  json_object_size(json_object_get(a, "counter_seqs")) == 0 &&
                  json_integer_value(json_object_get(a, "counters_seq")) == 6);
    json_decref(runs);
    rt_buf_reset(&rows);
    /* More counters than the decoder hands over (RT_EV_COUNTERS_READ), in reverse order: read
     * again from the map's text, sorted, merged with the run's. */
    char data[512] = "{\"counters\":{";
    for (int i = 19; i >= 0; i--)
        snprintf(data + strlen(data), sizeof data - strlen(data), "\"k%02d\":%d%s", i, i,
                 i ? "," : "}}");
    make(&ev, rec, A, "j", 7, 17, "run.progress", data);
    CHECK(ts, !ev.counters_read && rt_agg_add(agg, &ev, detail, sizeof detail) == 0);
    rt_event_clear(&ev);
    runs = rt_agg_runs_copy(agg, &rows) == 1 ? runs_rows(rows.data) : NULL;
    a = runs ? json_array_get(runs, 0) : NULL;
    json_t *c = a ? json_object_get(a, "counters") : NULL;
    CHECK(ts, json_object_size(c) == 22 && json_integer_value(json_object_get(c, "k07")) == 7 &&
                  json_integer_value(json_object_get(c, "y")) == 2);
    CHECK(ts, a && json_object_size(json_object_get(a, "counter_seqs")) == 2 &&
                  !strncmp(json_string_value(json_object_get(a, "counter_keys")), "k00,k01,", 8));
    json_decref(runs);
    rt_buf_free(&rows);
    rt_agg_free(agg);
}

/* The finish precedence (docs/consumer.md, merge rules): a child that reports completed and
 * then exits 3 is failed, whichever finish arrives first; a plain double finish keeps the
 * earliest; a wrapper's completed (exit 0) leaves the child's own failure standing. */
static void test_aggregate_finish(test_state_t *ts)
{
    const char *const child_then_exit3[2] = {
        "{\"status\":\"completed\",\"error_message\":\"child\"}",
        "{\"status\":\"failed\",\"source\":\"wrapper\",\"exit_code\":3,"
        "\"error_message\":\"sh exited with status 3\",\"error_details\":{\"exit_code\":3}}"};
    finish_pair(ts, child_then_exit3, "failed", 1, "2025-10-24T14:30:21.000000Z",
                "sh exited with status 3");
    const char *const plain_twice[2] = {"{\"status\":\"completed\",\"error_message\":\"first\"}",
                                        "{\"status\":\"failed\",\"error_message\":\"second\"}"};
    finish_pair(ts, plain_twice, "completed", 0, "2025-10-24T14:30:20.000000Z", "first");
    const char *const failed_then_exit0[2] = {
        "{\"status\":\"failed\",\"error_message\":\"HTTP 503\"}",
        "{\"status\":\"completed\",\"source\":\"wrapper\",\"exit_code\":0,"
        "\"error_message\":\"wrapper\"}"};
    finish_pair(ts, failed_then_exit0, "failed", 0, "2025-10-24T14:30:20.000000Z", "HTTP 503");
    const char *const two_wrappers[2] = {
        "{\"status\":\"failed\",\"source\":\"wrapper\",\"signal\":15,\"error_message\":\"w1\"}",
        "{\"status\":\"failed\",\"source\":\"wrapper\",\"exit_code\":1,\"error_message\":\"w2\"}"};
    finish_pair(ts, two_wrappers, "failed", 1, "2025-10-24T14:30:20.000000Z", "w1");
}

/* end_counts come from the best finish that carries them (docs/decisions.md 61), not from the
 * finish that wins on status: a child that finishes twice with end counts and then exits 3
 * keeps its first finish's counts under the wrapper's failure, in any order and duplicated;
 * a plain run whose first finish has none takes its second's. */
static void test_aggregate_end_counts(test_state_t *ts)
{
    static const fold_ev_t evs[] = {
        {3, 20, "run.finished", "{\"status\":\"completed\",\"end_counts\":{\"events\":1050}}"},
        {4, 21, "run.finished", "{\"status\":\"completed\",\"end_counts\":{\"events\":1200}}"},
        {5, 22, "run.finished",
         "{\"status\":\"failed\",\"source\":\"wrapper\",\"exit_code\":3,"
         "\"error_message\":\"sh exited with status 3\"}"},
    };
    static const int orders[][6] = {{0, 1, 2, -1, -1, -1}, {2, 1, 0, -1, -1, -1},
                                    {1, 2, 0, -1, -1, -1}, {2, 0, 1, 2, 1, 0}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        json_t *runs = fold_runs(ts, evs, orders[o], 6);
        json_t *a = json_array_get(runs, 0);
        REQUIRE(ts, a != NULL);
        json_t *want = json_pack("{s:i}", "events", 1050);
        CHECK_STR(ts, json_string_value(json_object_get(a, "status")), "failed");
        CHECK_STR(ts, json_string_value(json_object_get(a, "error_message")),
                  "sh exited with status 3");
        CHECK(ts, json_equal(json_object_get(a, "end_counts"), want));
        CHECK(ts, json_integer_value(json_object_get(a, "end_counts_rank")) == 1);
        CHECK_STR(ts, json_string_value(json_object_get(a, "end_counts_at")),
                  "2025-10-24T14:30:20.000000Z");
        json_decref(want);
        json_decref(runs);
    }
    static const fold_ev_t plain[] = {
        {3, 20, "run.finished", "{\"status\":\"completed\"}"},
        {4, 21, "run.finished", "{\"status\":\"failed\",\"end_counts\":{\"events\":17}}"},
    };
    static const int plain_orders[][2] = {{0, 1}, {1, 0}};
    for (size_t o = 0; o < 2; o++) {
        json_t *runs = fold_runs(ts, plain, plain_orders[o], 2);
        json_t *a = json_array_get(runs, 0);
        REQUIRE(ts, a != NULL);
        json_t *want = json_pack("{s:i}", "events", 17);
        CHECK_STR(ts, json_string_value(json_object_get(a, "status")), "completed");
        CHECK(ts, json_equal(json_object_get(a, "end_counts"), want));
        json_decref(want);
        json_decref(runs);
    }
}

/* A batch folds records as they come and copies what it keeps: the records' bytes can go at
 * once. Log lines become run_logs COPY rows, bad records and rule breaches dead-letter rows with
 * the raw bytes, and the kept bytes decode again for the record-by-record path. */
static void test_batch(test_state_t *ts)
{
    const char *A = "019a16a0-5ebb-7312-8643-8b2a38836cfd";
    static char recs[4][1024];
    rt_event_t ev;
    rt_batch_t *b = rt_batch_new("events", RT_EVENT_MAX_BYTES);
    REQUIRE(ts, b != NULL);
    make(&ev, recs[0], A, "j", 1, 10, "run.started", "{\"start_counts\":{\"events\":7}}");
    rt_event_clear(&ev);
    make(&ev, recs[1], A, "j", 2, 11, "run.log", "{\"level\":\"warning\",\"message\":\"a\\tb\"}");
    rt_event_clear(&ev);
    make(&ev, recs[2], A, "other", 3, 12, "run.heartbeat", "{}");
    rt_event_clear(&ev);
    snprintf(recs[3], sizeof recs[3], "{not json");
    for (int i = 0; i < 4; i++) {
        char copy[1024];
        size_t n = strlen(recs[i]);
        memcpy(copy, recs[i], n + 1);
        CHECK(ts, rt_batch_add(b, 3, 100 + i, 1700000000000LL, A, 36, copy, n) == 0);
        memset(copy, 'x', sizeof copy); /* the Kafka message is freed right after */
    }
    const rt_batch_result_t *res = rt_batch_result(b);
    CHECK(ts, rt_batch_count(b) == 4);
    CHECK(ts, res->by_type[RT_EV_STARTED] == 1 && res->by_type[RT_EV_LOG] == 1 && res->logs == 1);
    CHECK(ts, res->dead == 2 && res->dead_by_reason[RT_DEAD_RULE] == 1 &&
                  res->dead_by_reason[RT_DEAD_INVALID_JSON] == 1);
    CHECK(ts, strstr(rt_batch_logs(b)->data, "\twarning\t") && strstr(rt_batch_logs(b)->data, "a\\tb"));
    CHECK(ts, strstr(rt_batch_dead(b)->data, "events\t3\t102\t") &&
                  strstr(rt_batch_dead(b)->data, "\trule\t"));
    rt_buf_t rows = {0};
    CHECK(ts, rt_agg_runs_copy(rt_batch_agg(b), &rows) == 1 && strstr(rows.data, "{\"events\":7}"));
    rt_buf_free(&rows);
    int32_t p;
    int64_t off;
    rt_batch_position(b, 3, &p, &off);
    CHECK(ts, p == 3 && off == 103);
    rt_in_msg_t *m = NULL;
    size_t n = rt_batch_msgs(b, &m);
    REQUIRE(ts, n == 4 && m != NULL);
    CHECK(ts, m[0].ok && m[1].ok && m[2].ok && !m[3].ok && m[3].why == RT_DEAD_INVALID_JSON);
    CHECK(ts,
          m[1].ev.type == RT_EV_LOG && m[2].offset == 102 && m[0].kafka_ts_ms == 1700000000000LL);
    CHECK(ts, m[0].key_len == 36 && memcmp(m[0].key, A, 36) == 0 && m[3].len == strlen(recs[3]));
    for (size_t i = 0; i < n; i++)
        rt_in_msg_clear(&m[i]);
    free(m);
    rt_batch_reset(b);
    CHECK(ts, rt_batch_count(b) == 0 && rt_batch_logs(b)->len == 0 &&
                  rt_batch_result(b)->dead == 0 && rt_agg_count(rt_batch_agg(b)) == 0);
    /* A record without key or payload (a Kafka tombstone) is a dead letter too. */
    CHECK(ts, rt_batch_add(b, 0, 1, -1, NULL, 0, NULL, 0) == 0);
    CHECK(ts, rt_batch_result(b)->dead == 1 && strstr(rt_batch_dead(b)->data, "\\N"));
    n = rt_batch_msgs(b, &m);
    CHECK(ts, n == 1 && m && !m[0].ok && m[0].payload == NULL && m[0].key == NULL);
    if (m)
        rt_in_msg_clear(&m[0]);
    free(m);
    rt_batch_free(b);
}

static void test_config(test_state_t *ts)
{
    rt_config_t cfg;
    char err[256];
    REQUIRE(ts, rt_config_init(&cfg) == 0);
    CHECK_STR(ts, cfg.topic, "runtrack.events");
    CHECK_STR(ts, cfg.group, "runtrack-consumer");
    CHECK(ts, cfg.batch_max_events == 10000 && cfg.max_event_bytes == 1048576);
    const char *path = "test_consumer_unit.conf";
    FILE *f = fopen(path, "w");
    REQUIRE(ts, f != NULL);
    fprintf(f, "topic = \"t1\";\nbatch_max_events = 7;\nmigrate_on_start = false;\n"
               "kafka = ( \"security.protocol=SASL_SSL\", \"sasl.password=hunter2\" );\n");
    fclose(f);
    CHECK(ts, rt_config_load_file(&cfg, path, err, sizeof err) == 0);
    CHECK_STR(ts, cfg.topic, "t1");
    CHECK(ts, cfg.batch_max_events == 7 && cfg.migrate_on_start == 0);
    CHECK(ts, cfg.n_kafka == 2);
    char *env[] = {"RUNTRACK_TOPIC=t2", "RUNTRACK_KAFKA_SASL_USERNAME=bob",
                   "RUNTRACK_BATCH_MAX_MS=250", "RUNTRACK_KAFKA_COMMIT=false", NULL};
    CHECK(ts, rt_config_apply_env(&cfg, env, err, sizeof err) == 0);
    CHECK_STR(ts, cfg.topic, "t2");
    CHECK(ts, cfg.batch_max_ms == 250 && cfg.kafka_commit == 0);
    int found = 0;
    for (size_t i = 0; i < cfg.n_kafka; i++)
        if (!strcmp(cfg.kafka_names[i], "sasl.username") && !strcmp(cfg.kafka_values[i], "bob"))
            found = 1;
    CHECK(ts, found);
    CHECK(ts, rt_config_kafka_secret("sasl.password") && !rt_config_kafka_secret("sasl.username"));
    char *bad[] = {"RUNTRACK_BATCH_MAX_EVENTS=12x", NULL};
    CHECK(ts, rt_config_apply_env(&cfg, bad, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "RUNTRACK_BATCH_MAX_EVENTS") != NULL);
    f = fopen(path, "w");
    fprintf(f, "topik = \"typo\";\n");
    fclose(f);
    CHECK(ts, rt_config_load_file(&cfg, path, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "topik") != NULL);
    remove(path);
    /* DSN masking: tests/test_config.c. */
    rt_config_free(&cfg);
}

/* New settings: per-table retention and maintenance from env; readiness rule of /readyz. */
static void test_config_api_and_ready(test_state_t *ts)
{
    rt_config_t cfg;
    char err[256];
    CHECK(ts, rt_config_init(&cfg) == 0);
    CHECK(ts, cfg.maintenance_interval_s == 30 && cfg.retention_days == 90);
    CHECK(ts, cfg.retention_runs_days == 0 && cfg.retention_dead_letters_days == 0);
    CHECK_STR(ts, cfg.health_windows, "12,24,48,72");
    CHECK(ts, cfg.health_success_healthy == 85 && cfg.health_freshness_critical == 50);
    char *env[] = {"RUNTRACK_MAINTENANCE_INTERVAL_S=5", "RUNTRACK_RETENTION_RUN_RESULTS_DAYS=7",
                   "RUNTRACK_HEALTH_WINDOWS=6,24", NULL};
    CHECK(ts, rt_config_apply_env(&cfg, env, err, sizeof err) == 0);
    CHECK(ts, cfg.maintenance_interval_s == 5 && cfg.retention_run_results_days == 7);
    CHECK_STR(ts, cfg.health_windows, "6,24");
    char *bad[] = {"RUNTRACK_HEALTH_SUCCESS_HEALTHY=101", NULL};
    CHECK(ts, rt_config_apply_env(&cfg, bad, err, sizeof err) == -1);
    rt_config_free(&cfg);

    rt_ready_t r;
    char why[64] = "";
    rt_ready_init(&r);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 0);
    CHECK_STR(ts, why, "no_partitions");
    rt_ready_set_partitions(&r, 2);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 1);
    rt_ready_set_brokers_down(&r, 1);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 0);
    CHECK_STR(ts, why, "brokers_down");
    rt_ready_set_brokers_down(&r, 0);
    rt_ready_set_partitions(&r, 0);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 0);
    rt_ready_set_partitions(NULL, 1); /* no API: a no-op */
    CHECK(ts, rt_ready_brokers_down(NULL) == 0);
}

/* Only the event's own values are bad data (SQLSTATE classes 22, 23); a privilege, a missing
 * table, a read-only server, a full disk, a lock or statement timeout and anything unknown are
 * the environment: waited out, never a dead letter. And /readyz says so, by code. */
static void test_env_errors_and_stalls(test_state_t *ts)
{
    static const char *const data[] = {"22P02", "22003", "22021", "23505", "23514"};
    /* ...and anything not listed, or not a SQLSTATE at all. */
    static const char *const env[] = {"42501", "42P01", "25006", "53100", "55P03", "57014",
                                      "08006", "28000", "40P01", "54000", "58030", "XX000",
                                      "0A000", "P0001", "HV000", "2",     "223",   "22"};
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
        CHECK(ts, rt_pg_classify_sqlstate(data[i]) == RT_PG_DATA);
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        CHECK(ts, rt_pg_classify_sqlstate(env[i]) == RT_PG_TRANSIENT);
    CHECK(ts, rt_pg_classify_sqlstate(NULL) == RT_PG_TRANSIENT);

    rt_config_t cfg;
    CHECK(ts, rt_config_init(&cfg) == 0);
    CHECK(ts, cfg.pg_lock_timeout_ms == 10000 && cfg.pg_statement_timeout_ms == 60000);
    CHECK(ts, cfg.ready_stall_s == 60);
    rt_config_free(&cfg);

    rt_ready_t r;
    char why[64] = "";
    rt_ready_init(&r);
    rt_ready_set_partitions(&r, 1);
    rt_ready_set_stall_s(&r, 1);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 1);
    rt_ready_set_db_error(&r, 1);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 0);
    CHECK_STR(ts, why, "database_error");
    rt_ready_set_wait_since(&r, rt_mono_us() - 2000000); /* waiting for 2 s > 1 s */
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 0);
    CHECK_STR(ts, why, "ingest_stalled");
    rt_ready_set_db_error(&r, 0);
    rt_ready_set_stall_s(&r, 0); /* the stall check off */
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 1);
    rt_ready_set_stall_s(&r, 1);
    rt_ready_set_wait_since(&r, 0);
    CHECK(ts, rt_ready_check(&r, why, sizeof why) == 1);
    rt_ready_set_db_error(NULL, 1); /* no API: a no-op */
}

TEST_MAIN(TEST(test_valid_examples), TEST(test_invalid_examples), TEST(test_bad_records),
          TEST(test_storage_ranges), TEST(test_aggregate), TEST(test_aggregate_finish),
          TEST(test_aggregate_counters), TEST(test_aggregate_end_counts),
          TEST(test_batch), TEST(test_config), TEST(test_config_api_and_ready),
          TEST(test_env_errors_and_stalls))
