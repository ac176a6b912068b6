/* Unit tests of libruntrack without a broker: the JSON encoder (escaping, counters, envelope,
 * UTF-8 cutting, user JSON), configuration parsing (keys, numbers, environment, librdkafka
 * pass-through), error names, the run API's argument checks and recording, and the log-event
 * slot pool (pool.c alone, then inside a client: growth, recycling, the queue bound, threads). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "encode.h"
#include "harness.h"
#include "internal.h"
#include "pool.h"
#include "producer_test.h"
#include "runtrack.h"

/* A broker address where nothing listens: the clients of these tests never deliver. */
#define NO_BROKER "127.0.0.1:1"

/* Parses b as JSON; NULL if invalid. */
static json_t *parse(const rt_buf_t *b)
{
    return json_loadb(b->data, b->len, JSON_DECODE_ANY, NULL);
}

static void test_escape(test_state_t *ts)
{
    rt_buf_t b = {0};
    const char in[] = "q\" b\\ n\n t\t c\x01 \xc3\xa9 bad\xff end";
    rt_buf_add_jstr(&b, in, sizeof in - 1);
    REQUIRE(ts, !b.oom);
    CHECK_STR(ts, b.data, "\"q\\\" b\\\\ n\\n t\\t c\\u0001 \xc3\xa9 bad\xef\xbf\xbd end\"");
    json_t *v = parse(&b);
    CHECK(ts, v && json_is_string(v));
    json_decref(v);
    rt_buf_free(&b);
}

static void test_counters(test_state_t *ts)
{
    rt_ctr_t c[3] = {{"sites_completed", 5}, {"api_calls", 0}, {"big", INT64_MAX}};
    rt_buf_t b = {0};
    rt_enc_counters(&b, c, 3);
    CHECK_STR(ts, b.data, "{\"sites_completed\":5,\"api_calls\":0,\"big\":9223372036854775807}");
    rt_buf_reset(&b);
    rt_enc_counters(&b, c, 0);
    CHECK_STR(ts, b.data, "{}");
    rt_buf_free(&b);
}

static void test_envelope(test_state_t *ts)
{
    rt_buf_t tail = {0}, b = {0};
    const char *data = "{\"level\":\"info\",\"message\":\"\"}";
    rt_enc_run_tail(&tail, "fb \"v2\".py", "scrape", "host\n1", 42, "0.1.0");
    int rc = rt_enc_envelope(&b, "01a21278-39f3-73ba-a03e-d6ca34d6a73f",
                             "01a21278-39f3-76ca-a73a-3dc99a615f1c", 7, 1764069348123456LL,
                             "run.log", tail.data, data, strlen(data));
    CHECK(ts, rc == 0);
    json_t *v = parse(&b);
    REQUIRE(ts, v != NULL);
    CHECK(ts, json_integer_value(json_object_get(v, "v")) == 1);
    CHECK(ts, json_integer_value(json_object_get(v, "seq")) == 7);
    CHECK_STR(ts, json_string_value(json_object_get(v, "ts")), "2025-11-25T11:15:48.123456Z");
    CHECK_STR(ts, json_string_value(json_object_get(v, "job")), "fb \"v2\".py");
    CHECK_STR(ts, json_string_value(json_object_get(json_object_get(v, "producer"), "host")),
              "host\n1");
    CHECK(ts, json_integer_value(json_object_get(json_object_get(v, "producer"), "pid")) == 42);
    CHECK(ts, json_is_object(json_object_get(v, "data")));
    json_decref(v);
    /* data NULL -> {} */
    rt_buf_reset(&b);
    rt_enc_envelope(&b, "e", "r", 1, 0, "run.resumed", tail.data, NULL, 0);
    CHECK(ts, strstr(b.data, "\"data\":{}}") != NULL);
    rt_buf_free(&b);
    rt_buf_free(&tail);
}

static void test_utf8_cut(test_state_t *ts)
{
    const char s[] = "ab\xc3\xa9"; /* 4 bytes, é at 2..3 */
    CHECK(ts, rt_utf8_cut(s, 4, 10) == 4);
    CHECK(ts, rt_utf8_cut(s, 4, 3) == 2); /* would split é */
    CHECK(ts, rt_utf8_cut(s, 4, 2) == 2);
    const char e[] = "\xe2\x82\xac\xe2\x82\xac"; /* two euro signs */
    CHECK(ts, rt_utf8_cut(e, 6, 4) == 3);
    CHECK(ts, rt_utf8_cut(e, 6, 5) == 3);
}

static void test_json_object(test_state_t *ts)
{
    rt_buf_t b = {0};
    char err[200];
    CHECK(ts, rt_enc_json_object(&b, "{ \"a\" : [1, 2], \"b\": \"x\" }", err, sizeof err) == 0);
    CHECK_STR(ts, b.data, "{\"a\":[1,2],\"b\":\"x\"}");
    rt_buf_reset(&b);
    CHECK(ts, rt_enc_json_object(&b, "[1]", err, sizeof err) == -1);
    CHECK(ts, rt_enc_json_object(&b, "{\"a\":", err, sizeof err) == -1);
    CHECK(ts, strstr(err, "invalid JSON") != NULL);
    CHECK(ts, rt_enc_json_object(&b, "{\"a\":1,\"a\":2}", err, sizeof err) == -1);
    CHECK(ts, rt_check_discovery_params("{\"naics_codes\":[\"1\"],\"posted_from\":\"2025-10-01\"}",
                                        err, sizeof err) == 0);
    CHECK(ts, rt_check_discovery_params("{\"naics_codes\":[1]}", err, sizeof err) == -1);
    CHECK(ts, rt_check_discovery_params("{\"posted_to\":\"2025-13-01\"}", err, sizeof err) == -1);
    rt_buf_free(&b);
}

static void test_conf(test_state_t *ts)
{
    char err[512];
    runtrack_conf_t *c = runtrack_conf_new();
    REQUIRE(ts, c != NULL);
    CHECK_STR(ts, c->topic, "runtrack.events");
    CHECK(ts, c->heartbeat_interval_ms == 10000);
    CHECK(ts, runtrack_conf_set(c, "topic", "t1", err, sizeof err) == RUNTRACK_OK);
    CHECK_STR(ts, c->topic, "t1");
    CHECK(ts, runtrack_conf_set(c, "heartbeat.interval.ms", "250", err, sizeof err) == RUNTRACK_OK);
    CHECK(ts, c->heartbeat_interval_ms == 250);
    CHECK(ts, runtrack_conf_set(c, "heartbeat.interval.ms", "25x", err, sizeof err) ==
                  RUNTRACK_ERR_CONF);
    CHECK(ts, runtrack_conf_set(c, "log.queue.max", "-1", err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, runtrack_conf_set(c, "log.queue.max", "99999999999999999999", err, sizeof err) ==
                  RUNTRACK_ERR_CONF);
    CHECK(ts, c->heartbeat_interval_ms == 250); /* unchanged by the failures */
    CHECK(ts, runtrack_conf_set(c, "nosuch", "1", err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, strstr(err, "nosuch") != NULL);
    CHECK(ts, runtrack_conf_set(c, "topic", "", err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, runtrack_conf_set(c, "kafka.linger.ms", "20", err, sizeof err) == RUNTRACK_OK);
    CHECK(ts,
          runtrack_conf_set(c, "kafka.no.such.prop", "1", err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, runtrack_conf_set(c, "kafka.enable.idempotence", "false", err, sizeof err) ==
                  RUNTRACK_ERR_CONF);
    CHECK(ts, runtrack_conf_set(c, "kafka.", "1", err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, runtrack_conf_set(NULL, "topic", "x", err, sizeof err) == RUNTRACK_ERR_INVALID_ARG);

    /* Environment: plain settings and RUNTRACK_KAFKA_* -> lower-case dotted properties. */
    setenv("RUNTRACK_TOPIC", "from_env", 1);
    setenv("RUNTRACK_HEARTBEAT_INTERVAL_MS", "1500", 1);
    setenv("RUNTRACK_KAFKA_CLIENT_ID", "envclient", 1);
    setenv("RUNTRACK_KAFKA_SASL_USERNAME", "alice", 1);
    CHECK(ts, runtrack_conf_from_env(c, err, sizeof err) == RUNTRACK_OK);
    CHECK_STR(ts, c->topic, "from_env");
    CHECK(ts, c->heartbeat_interval_ms == 1500);
    char val[128];
    size_t vs = sizeof val;
    CHECK(ts, rd_kafka_conf_get(c->kconf, "client.id", val, &vs) == RD_KAFKA_CONF_OK);
    CHECK_STR(ts, val, "envclient");
    vs = sizeof val;
    CHECK(ts, rd_kafka_conf_get(c->kconf, "sasl.username", val, &vs) == RD_KAFKA_CONF_OK);
    CHECK_STR(ts, val, "alice");
    setenv("RUNTRACK_KAFKA_NOT_A_PROPERTY", "1", 1);
    CHECK(ts, runtrack_conf_from_env(c, err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, strstr(err, "RUNTRACK_KAFKA_NOT_A_PROPERTY") != NULL);
    unsetenv("RUNTRACK_KAFKA_NOT_A_PROPERTY");
    setenv("RUNTRACK_LOG_QUEUE_MAX", "ten", 1);
    CHECK(ts, runtrack_conf_from_env(c, err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts, strstr(err, "RUNTRACK_LOG_QUEUE_MAX") != NULL);
    unsetenv("RUNTRACK_LOG_QUEUE_MAX");
    unsetenv("RUNTRACK_TOPIC");
    unsetenv("RUNTRACK_HEARTBEAT_INTERVAL_MS");
    unsetenv("RUNTRACK_KAFKA_CLIENT_ID");
    unsetenv("RUNTRACK_KAFKA_SASL_USERNAME");

    /* The librdkafka conf the library builds forces idempotence and infinite message timeout. */
    rd_kafka_conf_t *kc = rt_conf_kafka(c, err, sizeof err);
    REQUIRE(ts, kc != NULL);
    vs = sizeof val;
    CHECK(ts, rd_kafka_conf_get(kc, "enable.idempotence", val, &vs) == RD_KAFKA_CONF_OK);
    CHECK_STR(ts, val, "true");
    vs = sizeof val;
    CHECK(ts, rd_kafka_conf_get(kc, "message.timeout.ms", val, &vs) == RD_KAFKA_CONF_OK);
    CHECK_STR(ts, val, "0");
    vs = sizeof val;
    CHECK(ts, rd_kafka_conf_get(kc, "linger.ms", val, &vs) == RD_KAFKA_CONF_OK);
    CHECK_STR(ts, val, "20");
    rd_kafka_conf_destroy(kc);
    runtrack_conf_destroy(c);
    runtrack_conf_destroy(NULL);
}

static void test_errors_and_version(test_state_t *ts)
{
    CHECK(ts, RUNTRACK_OK == 0);
    CHECK_STR(ts, runtrack_err_name(RUNTRACK_ERR_TIMEOUT), "RUNTRACK_ERR_TIMEOUT");
    CHECK_STR(ts, runtrack_strerror(RUNTRACK_OK), "success");
    CHECK_STR(ts, runtrack_err_name((runtrack_err_t)999), "RUNTRACK_ERR_UNKNOWN");
    CHECK_STR(ts, runtrack_version(), RUNTRACK_VERSION_STR);
    CHECK(ts, runtrack_version_hex() == RUNTRACK_VERSION_HEX);
    CHECK(ts, runtrack_destroy(NULL, 0, NULL) == RUNTRACK_OK);
    runtrack_run_destroy(NULL);
}

/* The run API against a client whose broker does not exist: every call returns at once,
 * invalid input is refused with a message, and destroy reports what was never delivered. */
static void test_run_api_offline(test_state_t *ts)
{
    char err[512];
    static const char *const set[] = {"brokers", NO_BROKER, "log.queue.max", "3", NULL};
    runtrack_t *rt = rt_test_client(rt_test_conf(0, set));

    CHECK(ts, runtrack_run_start(rt, "", NULL, err, sizeof err) == NULL);
    CHECK(ts, strstr(err, "job") != NULL);
    runtrack_counter_t bad[] = {{"Bad-Name", 1}};
    runtrack_start_opts_t so = {.start_counts = bad, .n_start_counts = 1};
    CHECK(ts, runtrack_run_start(rt, "j", &so, err, sizeof err) == NULL);
    so = (runtrack_start_opts_t){.params_json = "[1,2]"};
    CHECK(ts, runtrack_run_start(rt, "j", &so, err, sizeof err) == NULL);
    CHECK(ts, runtrack_run_attach(rt, "not-a-uuid", "j", NULL, err, sizeof err) == NULL);

    runtrack_counter_t sc[] = {{"events", 10}, {"urls", 5}};
    so = (runtrack_start_opts_t){
        .start_counts = sc, .n_start_counts = 2, .params_json = "{\"a\":1}"};
    runtrack_run_t *run = runtrack_run_start(rt, "unit.py", &so, err, sizeof err);
    REQUIRE(ts, run != NULL);
    CHECK(ts, strlen(runtrack_run_id(run)) == 36);
    CHECK(ts, runtrack_run_phase(run, "", err, sizeof err) == RUNTRACK_ERR_INVALID_ARG);
    CHECK(ts, runtrack_run_phase(run, "scraping", err, sizeof err) == RUNTRACK_OK);
    runtrack_counter_t neg[] = {{"found", -1}};
    CHECK(ts,
          runtrack_run_progress(run, neg, 1, -1, -1, err, sizeof err) == RUNTRACK_ERR_INVALID_ARG);
    CHECK(ts, runtrack_run_progress(run, NULL, 0, 101.0, -1, err, sizeof err) ==
                  RUNTRACK_ERR_INVALID_ARG);
    CHECK(ts, runtrack_run_counter(run, "found", 1) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_counter(run, "found", 2) == RUNTRACK_OK); /* coalesced */
    CHECK(ts, runtrack_run_log(run, RUNTRACK_INFO, "a", "{\"k\":1}") == RUNTRACK_OK);
    CHECK(ts, runtrack_run_log(run, RUNTRACK_INFO, "a", "nope") == RUNTRACK_ERR_JSON);
    CHECK(ts, runtrack_run_log(run, (runtrack_level_t)9, "a", NULL) == RUNTRACK_ERR_INVALID_ARG);
    CHECK(ts, runtrack_run_logf(run, RUNTRACK_WARNING, "n=%d", 2) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_logf(run, RUNTRACK_ERROR, "%s", "three") == RUNTRACK_OK);
    CHECK(ts, runtrack_run_logf(run, RUNTRACK_ERROR, "four") == RUNTRACK_ERR_QUEUE_FULL);
    CHECK(ts, runtrack_run_pause(run, "why", NULL, 0) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_resume(run, NULL, NULL, 0) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_finish(run, (runtrack_status_t)0, NULL, err, sizeof err) ==
                  RUNTRACK_ERR_INVALID_ARG);
    runtrack_finish_opts_t fo = {.error_details_json = "{"};
    CHECK(ts, runtrack_run_finish(run, RUNTRACK_FAILED, &fo, err, sizeof err) == RUNTRACK_ERR_JSON);
    /* a wrapper's finish tells one way the process ended, in range */
    static const runtrack_exit_t bad_exits[] = {{3, 9}, {256, 0}, {-2, 0}, {-1, 128}, {-1, -1}};
    for (size_t i = 0; i < sizeof bad_exits / sizeof bad_exits[0]; i++)
        CHECK(ts, runtrack_run_finish_wrapped(run, RUNTRACK_FAILED, NULL, &bad_exits[i], err,
                                              sizeof err) == RUNTRACK_ERR_INVALID_ARG);
    CHECK(ts, runtrack_run_finish(run, RUNTRACK_COMPLETED, NULL, err, sizeof err) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_finish(run, RUNTRACK_COMPLETED, NULL, err, sizeof err) ==
                  RUNTRACK_ERR_STATE);
    CHECK(ts, runtrack_run_log(run, RUNTRACK_INFO, "late", NULL) == RUNTRACK_ERR_STATE);

    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    CHECK(ts, st.dropped_logs == 1);
    CHECK(ts, st.coalesced_progress >= 1);
    CHECK(ts, st.delivered == 0);
    CHECK(ts, st.queued >= 9);
    runtrack_run_destroy(run);

    uint64_t left = 0;
    CHECK(ts, runtrack_flush(rt, 0, &left) == RUNTRACK_ERR_TIMEOUT);
    CHECK(ts, left >= 9);
    CHECK(ts, runtrack_destroy(rt, 100, &left) == RUNTRACK_ERR_TIMEOUT);
    CHECK(ts, left >= 9);
}

typedef struct fail_counts {
    int logs_dropped;      /* will_retry == 0 */
    int lifecycle_retried; /* will_retry == 1 */
} fail_counts_t;

static void on_failure(void *opaque, const char *run_id, const char *type, int64_t seq,
                       const char *reason, int will_retry)
{
    fail_counts_t *fc = opaque;
    (void)run_id;
    (void)seq;
    (void)reason;
    if (!will_retry && strcmp(type, "run.log") == 0)
        fc->logs_dropped++;
    if (will_retry && strcmp(type, "run.started") == 0)
        fc->lifecycle_retried++;
}

/* With a short librdkafka message timeout and no broker, deliveries fail: log lines are given up
 * (callback with will_retry 0, stats.failed), lifecycle events are kept and retried. */
static void test_delivery_failure(test_state_t *ts)
{
    char err[512];
    fail_counts_t fc = {0, 0};
    static const char *const set[] = {
        "brokers", NO_BROKER, "kafka.message.timeout.ms", "100", "retry.backoff.ms", "20", NULL};
    runtrack_conf_t *c = rt_test_conf(0, set);
    runtrack_conf_set_failure_cb(c, on_failure, &fc);
    runtrack_t *rt = rt_test_client(c);
    runtrack_run_t *run = runtrack_run_start(rt, "fail.py", NULL, err, sizeof err);
    REQUIRE(ts, run != NULL);
    for (int i = 0; i < 3; i++)
        CHECK(ts, runtrack_run_logf(run, RUNTRACK_INFO, "line %d", i) == RUNTRACK_OK);
    runtrack_stats_t st;
    /* Waits for the failures to happen (a bounded poll, not a timing assertion). */
    for (int i = 0; i < 500; i++) {
        runtrack_stats(rt, &st);
        if (st.retried >= 2 && st.failed >= 5)
            break;
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    uint64_t left = 0;
    CHECK(ts, runtrack_flush(rt, 0, &left) == RUNTRACK_ERR_TIMEOUT);
    CHECK(ts, left == 1); /* only run.started is still kept */
    CHECK(ts, st.retried >= 2);
    CHECK(ts, st.delivered == 0);
    runtrack_run_destroy(run);
    CHECK(ts, runtrack_destroy(rt, 0, &left) == RUNTRACK_ERR_TIMEOUT);
    CHECK(ts, fc.logs_dropped == 3);
    CHECK(ts, fc.lifecycle_retried >= 2);
}

/* The seqs the failure callback saw for log lines, per run id (test_run_start_with_id). */
typedef struct seq_seen {
    const char *run_id;
    int64_t log_seq;   /* 0: none seen */
    int started_seq_1; /* a run.started of run_id came with seq 1 */
} seq_seen_t;

static void on_failure_seq(void *opaque, const char *run_id, const char *type, int64_t seq,
                           const char *reason, int will_retry)
{
    seq_seen_t *s = opaque;
    (void)reason;
    (void)will_retry;
    for (; s->run_id; s++) {
        if (strcmp(s->run_id, run_id) != 0)
            continue;
        if (strcmp(type, "run.log") == 0)
            s->log_seq = seq;
        if (strcmp(type, "run.started") == 0 && seq == 1)
            s->started_seq_1 = 1;
    }
}

/* runtrack_run_start_with_id: a caller's UUID of any version (lowercased) is the run's id; bad
 * and nil ids are refused; the same id under another job in one client is refused, under the
 * same job it is accepted again; attach takes any UUID too. Seqs: run.started is 1, later events
 * are microseconds since a v7's time, or since the Unix epoch for another version. */
static void test_run_start_with_id(test_state_t *ts)
{
    char err[512];
    const char *v4 = "6F1C2E3A-9B4D-4C5E-8F60-718293A4B5C6",
               *v4l = "6f1c2e3a-9b4d-4c5e-8f60-718293a4b5c6";
    /* a UUIDv7 whose time is 2025-01-01T00:00:00Z (1735689600000 ms = 0x0194_1f29_7c00) */
    const char *v7 = "01941f29-7c00-7abc-8def-0123456789ab";
    seq_seen_t seen[] = {{v4l, 0, 0}, {v7, 0, 0}, {NULL, 0, 0}};
    static const char *const set[] = {
        "brokers", NO_BROKER, "kafka.message.timeout.ms", "100", "retry.backoff.ms", "20", NULL};
    runtrack_conf_t *c = rt_test_conf(0, set);
    runtrack_conf_set_failure_cb(c, on_failure_seq, seen);
    runtrack_t *rt = rt_test_client(c);

    CHECK(ts, runtrack_run_start_with_id(rt, "j", NULL, NULL, err, sizeof err) == NULL);
    CHECK(ts, runtrack_run_start_with_id(rt, "j", "not-a-uuid", NULL, err, sizeof err) == NULL);
    CHECK(ts, strstr(err, "not a UUID") != NULL);
    CHECK(ts, runtrack_run_start_with_id(rt, "j", "00000000-0000-0000-0000-000000000000", NULL, err,
                                         sizeof err) == NULL);
    CHECK(ts, strstr(err, "nil") != NULL);
    CHECK(ts, runtrack_run_start_with_id(rt, "", v4, NULL, err, sizeof err) == NULL);

    runtrack_run_t *a = runtrack_run_start_with_id(rt, "ids.py", v4, NULL, err, sizeof err);
    REQUIRE(ts, a != NULL);
    CHECK_STR(ts, runtrack_run_id(a), v4l);
    /* the same id again: accepted (the consumer keeps the earliest start) */
    runtrack_run_t *again = runtrack_run_start_with_id(rt, "ids.py", v4l, NULL, err, sizeof err);
    CHECK(ts, again != NULL);
    runtrack_run_destroy(again);
    /* under another job or kind: refused, the client knows the run */
    CHECK(ts, runtrack_run_start_with_id(rt, "other.py", v4, NULL, err, sizeof err) == NULL);
    CHECK(ts, strstr(err, "another job") != NULL && strstr(err, v4l) != NULL);
    runtrack_start_opts_t disc = {.kind = "discovery"};
    CHECK(ts, runtrack_run_start_with_id(rt, "ids.py", v4, &disc, err, sizeof err) == NULL);
    runtrack_run_t *att = runtrack_run_attach(rt, v4, "ids.py", NULL, err, sizeof err);
    CHECK(ts, att != NULL);
    runtrack_run_destroy(att);

    runtrack_run_t *b = runtrack_run_start_with_id(rt, "ids7.py", v7, NULL, err, sizeof err);
    REQUIRE(ts, b != NULL);
    int64_t before = (int64_t)time(NULL) * 1000000;
    CHECK(ts, runtrack_run_log(a, RUNTRACK_INFO, "v4", NULL) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_log(b, RUNTRACK_INFO, "v7", NULL) == RUNTRACK_OK);
    for (int i = 0; i < 500 && !(seen[0].log_seq && seen[1].log_seq && seen[0].started_seq_1 &&
                                 seen[1].started_seq_1);
         i++) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    int64_t after = (int64_t)time(NULL) * 1000000 + 1000000;
    CHECK(ts, seen[0].started_seq_1 && seen[1].started_seq_1);
    /* v4: Unix microseconds; v7: microseconds since its time */
    CHECK(ts, seen[0].log_seq >= before && seen[0].log_seq <= after);
    int64_t v7_us = 1735689600000LL * 1000;
    CHECK(ts, seen[1].log_seq >= before - v7_us && seen[1].log_seq <= after - v7_us);
    runtrack_run_destroy(a);
    runtrack_run_destroy(b);
    uint64_t left = 0;
    CHECK(ts, runtrack_destroy(rt, 0, &left) == RUNTRACK_ERR_TIMEOUT);
}

/* pool.c alone: slots are distinct and aligned, growth stops at max_total, returned slots are
 * reused (directly or parked and reclaimed), a spare chunk is used by the next growth, and an
 * idle pool gives its chunks back. */
static void test_pool(test_state_t *ts)
{
    rt_pool_t p;
    rt_pool_init(&p, 100);
    CHECK(ts, p.slot_size == 112);
    enum { N = 100 };
    char *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = rt_pool_get(&p, N);
        REQUIRE(ts, s[i] != NULL);
        CHECK(ts, ((uintptr_t)s[i] & 15) == 0);
        memset(s[i], i, p.slot_size); /* whole slot writable (ASan: unpoisoned) */
    }
    CHECK(ts, p.total == N);
    CHECK(ts, p.in_use == N);
    CHECK(ts, rt_pool_get(&p, N) == NULL); /* bound reached */
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            CHECK(ts, s[i] != s[j]);
    rt_pool_put(&p, s[7]);
    CHECK(ts, rt_pool_get(&p, N) == s[7]); /* reused, no growth */
    for (int i = 0; i < 10; i++)
        rt_pool_put_deferred(&p, s[i]);
    CHECK(ts, p.in_use == N);              /* parked slots count until reclaimed */
    CHECK(ts, rt_pool_get(&p, N) == NULL); /* and cannot be taken yet */
    rt_pool_reclaim(&p);
    CHECK(ts, p.in_use == N - 10);
    for (int i = 0; i < 10; i++)
        CHECK(ts, rt_pool_get(&p, N) != NULL);
    CHECK(ts, p.total == N);

    /* Growth asked for spares; the oldest spare made ahead is what the next growth uses. */
    CHECK(ts, atomic_load(&p.want_spare) == 1);
    size_t want = rt_pool_spare_wanted(&p, 1000);
    CHECK(ts, want >= 32);
    rt_pool_chunk_t *c = rt_pool_chunk_new(p.slot_size, want);
    REQUIRE(ts, c != NULL);
    rt_pool_spare_set(&p, c);
    CHECK(ts, atomic_load(&p.want_spare) == 1); /* and one more */
    size_t want2 = rt_pool_spare_wanted(&p, 1000);
    CHECK(ts, want2 >= want);
    rt_pool_chunk_t *c2 = rt_pool_chunk_new(p.slot_size, want2);
    REQUIRE(ts, c2 != NULL);
    rt_pool_spare_set(&p, c2);
    CHECK(ts, rt_pool_spare_wanted(&p, 1000) == 0);     /* two spares at most */
    CHECK(ts, rt_pool_spare_wanted(&p, N + want) == 0); /* nor beyond max_total */
    char *x = rt_pool_get(&p, 1000);
    REQUIRE(ts, x != NULL);
    CHECK(ts, x > (char *)c && x < (char *)c + 64 + want * p.slot_size);
    CHECK(ts, p.spare == c2);
    CHECK(ts, p.total == N + want);

    /* Idle: nothing in use and nothing taken for 3 ticks gives everything back. */
    rt_pool_put(&p, x);
    for (int i = 0; i < N; i++)
        rt_pool_put(&p, s[i]);
    CHECK(ts, p.in_use == 0);
    CHECK(ts, rt_pool_tick(&p, 3) == 0); /* gets since the last tick: not idle yet */
    CHECK(ts, rt_pool_tick(&p, 3) == 0);
    CHECK(ts, rt_pool_tick(&p, 3) == 0);
    CHECK(ts, rt_pool_tick(&p, 3) == N + want);
    CHECK(ts, p.total == 0 && p.chunks == NULL);
    CHECK(ts, rt_pool_get(&p, 10) != NULL); /* usable again */
    rt_pool_free(&p);
}

static void pool_totals(runtrack_t *rt, size_t *total, size_t *in_use)
{
    size_t sz[4], t[4], u[4];
    int n = rt_test_pool_stats(rt, 4, sz, t, u);
    *total = *in_use = 0;
    for (int i = 0; i < n; i++) {
        *total += t[i];
        *in_use += u[i];
    }
}

/* Bounded poll (not a timing assertion): until cond(rt) or ~10 s. */
static int wait_for(runtrack_t *rt, int (*cond)(runtrack_t *, long), long arg)
{
    for (int i = 0; i < 1000; i++) {
        if (cond(rt, arg))
            return 1;
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    return cond(rt, arg);
}

static int failed_at_least(runtrack_t *rt, long n)
{
    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    return st.failed >= (uint64_t)n;
}

static int pool_idle(runtrack_t *rt, long unused)
{
    (void)unused;
    size_t total, in_use;
    pool_totals(rt, &total, &in_use);
    return in_use == 0;
}

typedef struct pool_worker {
    runtrack_run_t *run;
    int id;
    long ok, full, other;
} pool_worker_t;

/* Logs messages of every storage class (short, medium, at the slot boundaries, long) and
 * with fields, until the queue bound refuses 200 in a row. */
static void *pool_work(void *arg)
{
    pool_worker_t *w = arg;
    static const size_t lens[] = {1, 40, 46, 47, 100, 366, 367, 1000, 5000};
    char *buf = malloc(5001);
    if (!buf)
        return NULL;
    long refused = 0;
    for (long i = 0; refused < 200 && i < 100000; i++) {
        size_t len = lens[(size_t)(i + w->id) % (sizeof lens / sizeof lens[0])];
        memset(buf, 'a' + (int)(i % 26), len);
        buf[len] = '\0';
        runtrack_err_t e = i % 5 == 0 ? runtrack_run_log(w->run, RUNTRACK_INFO, buf, "{\"i\":1}")
                                      : runtrack_run_log(w->run, RUNTRACK_INFO, buf, NULL);
        if (e == RUNTRACK_OK) {
            w->ok++;
            refused = 0;
        } else if (e == RUNTRACK_ERR_QUEUE_FULL) {
            w->full++;
            refused++;
        } else {
            w->other++;
        }
    }
    free(buf);
    return NULL;
}

/* The pool inside a client with no broker: 4 threads fill the log queue with every message
 * size; exactly log.queue.max lines are accepted and the pools never hold more slots. When the
 * lines fail (short message timeout) their slots come back, and a second round reuses them
 * without growing. */
static void test_pool_client(test_state_t *ts)
{
    char err[512];
    static const char *const set[] = {
        "brokers", NO_BROKER, "log.queue.max", "3000", "kafka.message.timeout.ms", "300", NULL};
    runtrack_t *rt = rt_test_client(rt_test_conf(0, set));
    runtrack_run_t *run = runtrack_run_start(rt, "pool.py", NULL, err, sizeof err);
    REQUIRE(ts, run != NULL);
    CHECK(ts, runtrack_run_phase(run, "scraping", err, sizeof err) == RUNTRACK_OK);

    size_t total1 = 0, in_use;
    for (int round = 0; round < 2; round++) {
        pthread_t th[4];
        pool_worker_t w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (pool_worker_t){.run = run, .id = i};
            REQUIRE(ts, pthread_create(&th[i], NULL, pool_work, &w[i]) == 0);
        }
        long ok = 0, full = 0, other = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            ok += w[i].ok;
            full += w[i].full;
            other += w[i].other;
        }
        CHECK(ts, other == 0);
        CHECK(ts, full >= 200);
        /* Lines fail (and free their slots) while the threads log, so more than the bound may
         * be accepted in all; never more slots than the bound. */
        CHECK(ts, ok >= 3000);
        size_t total;
        pool_totals(rt, &total, &in_use);
        CHECK(ts, total <= 3000);
        CHECK(ts, total > 0);
        runtrack_stats_t st;
        runtrack_stats(rt, &st);
        CHECK(ts,
              wait_for(rt, failed_at_least, (long)(st.recorded - 2))); /* all but started, phase */
        CHECK(ts, wait_for(rt, pool_idle, 0));
        pool_totals(rt, &total, &in_use);
        printf("     round %d: %ld accepted, %ld refused, %zu pool slots\n", round, ok, full,
               total);
        if (round == 0)
            total1 = total;
        else
            CHECK(ts, total == total1); /* recycled: the second round did not grow the pools */
    }
    runtrack_run_destroy(run);
    uint64_t left = 0;
    runtrack_destroy(rt, 0, &left);
}

TEST_MAIN(TEST(test_escape), TEST(test_counters), TEST(test_envelope), TEST(test_utf8_cut),
          TEST(test_json_object), TEST(test_conf), TEST(test_errors_and_version),
          TEST(test_run_api_offline), TEST(test_delivery_failure), TEST(test_run_start_with_id),
          TEST(test_pool), TEST(test_pool_client))
