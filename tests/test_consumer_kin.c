/* kafka_in against the dev broker (RUNTRACK_BROKERS, a fresh RUNTRACK_TOPIC from
 * with_services.sh): the memory-bounding librdkafka defaults are applied and a kafka property
 * from the config still overrides them; a batch closes when librdkafka's queue runs empty
 * instead of waiting out batch_max_ms (polled here with a 10-minute batch_max_ms: the old
 * behaviour would run into the ctest timeout), and never holds more than max records; a backlog
 * larger than the fetch queue is read without the ~1 s stalls of librdkafka 2.0.2's parked
 * fetchers (the waker thread of kafka_in.c). */
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "ingest/kafka_in.h"

#define NREC 20

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int new_cfg(rt_config_t *cfg)
{
    if (rt_config_init(cfg) != 0)
        return -1;
    free(cfg->brokers);
    free(cfg->topic);
    cfg->brokers = strdup(env_or("RUNTRACK_BROKERS", "localhost:9092"));
    cfg->topic = strdup(env_or("RUNTRACK_TOPIC", "test_consumer_kin"));
    return cfg->brokers && cfg->topic ? 0 : -1;
}

static int prop(rt_kin_t *kin, const char *name, char *out, size_t size)
{
    return rt_kin_conf_get(kin, name, out, size);
}

/* A poll's taker that only counts the records (kafka_in frees them). */
static int count_rec(void *arg, const rt_kin_rec_t *r)
{
    (void)r;
    (*(size_t *)arg)++;
    return 0;
}

/* rt_kin_poll_each counting what it hands over; checks the two counts agree. */
static size_t poll_n(test_state_t *ts, rt_kin_t *kin, size_t max, int max_ms,
                     const volatile sig_atomic_t *stop)
{
    size_t got = 0;
    size_t n = rt_kin_poll_each(kin, max, max_ms, stop, count_rec, &got);
    CHECK(ts, got == n);
    return n;
}

static void test_defaults(test_state_t *ts)
{
    rt_config_t cfg;
    char err[512], v[64];
    REQUIRE(ts, new_cfg(&cfg) == 0);
    rt_kin_t *kin = rt_kin_new(&cfg, 0, err, sizeof err);
    REQUIRE(ts, kin != NULL);
    CHECK(ts, prop(kin, "queued.max.messages.kbytes", v, sizeof v) == 0);
    CHECK_STR(ts, v, RT_KIN_QUEUED_MAX_KBYTES);
    CHECK(ts, prop(kin, "fetch.message.max.bytes", v, sizeof v) == 0);
    CHECK_STR(ts, v, RT_KIN_FETCH_MESSAGE_MAX_BYTES);
    CHECK(ts, prop(kin, "fetch.wait.max.ms", v, sizeof v) == 0);
    CHECK_STR(ts, v, RT_KIN_FETCH_WAIT_MAX_MS);
    rt_kin_destroy(kin, 1000);

    /* An operator's kafka property wins over our default. */
    CHECK(ts, rt_config_set_kafka(&cfg, "queued.max.messages.kbytes", "12345") == 0);
    CHECK(ts, rt_config_set_kafka(&cfg, "fetch.message.max.bytes", "3000000") == 0);
    kin = rt_kin_new(&cfg, 0, err, sizeof err);
    REQUIRE(ts, kin != NULL);
    CHECK(ts, prop(kin, "queued.max.messages.kbytes", v, sizeof v) == 0);
    CHECK_STR(ts, v, "12345");
    CHECK(ts, prop(kin, "fetch.message.max.bytes", v, sizeof v) == 0);
    CHECK_STR(ts, v, "3000000");
    rt_kin_destroy(kin, 1000);
    rt_config_free(&cfg);
}

/* Produces n records of size bytes to partitions first..first+nparts-1 of the topic (round
 * robin) and waits for their delivery. */
static int produce_n(const char *brokers, const char *topic, int n, size_t size, int first,
                     int nparts)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(c);
        return -1;
    }
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!p) {
        rd_kafka_conf_destroy(c);
        return -1;
    }
    int rc = 0;
    char val[2048];
    if (size > sizeof val)
        size = sizeof val;
    for (int i = 0; i < n && rc == 0; i++) {
        memset(val, 'x', size);
        int len = snprintf(val, sizeof val, "record %d", i);
        size_t vl = size > (size_t)len ? size : (size_t)len;
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_PARTITION(first + i % nparts),
                                      RD_KAFKA_V_VALUE(val, vl),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        if (e)
            rc = -1;
    }
    if (rd_kafka_flush(p, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_outq_len(p) != 0)
        rc = -1;
    rd_kafka_destroy(p);
    return rc;
}

static void test_poll_closes_on_empty_queue(test_state_t *ts)
{
    rt_config_t cfg;
    char err[512];
    volatile sig_atomic_t stop = 0;
    REQUIRE(ts, new_cfg(&cfg) == 0);
    REQUIRE(ts, produce_n(cfg.brokers, cfg.topic, NREC, 0, 0, 1) == 0);
    rt_kin_t *kin = rt_kin_new(&cfg, 0, err, sizeof err);
    REQUIRE(ts, kin != NULL);
    int32_t p0 = 0;
    int64_t from0 = RT_KIN_OFFSET_BEGINNING;
    CHECK(ts, rt_kin_assign(kin, cfg.topic, &p0, &from0, 1, err, sizeof err) == 0);

    /* max 5: a batch never holds more than max records. */
    size_t n = poll_n(ts, kin, 5, 600000, &stop);
    CHECK(ts, n >= 1 && n <= 5);
    size_t total = n;
    /* The rest with room to spare and a 10-minute window: every call returns once the queue
     * is empty, so this finishes in well under the test's timeout. */
    for (int calls = 0; total < NREC && calls < 50; calls++) {
        n = poll_n(ts, kin, NREC + 8, 600000, &stop);
        CHECK(ts, n >= 1);
        total += n;
    }
    CHECK(ts, total == NREC);
    rt_kin_destroy(kin, 1000);
    rt_config_free(&cfg);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* NBIG records of 1 KiB (~2 MB) through a 64 KiB fetch queue: the queue fills again and again,
 * and each time librdkafka 2.0.2 parks the partitions' fetchers with no wake-up time. The whole
 * backlog must arrive, and the poll after a non-empty batch must have sent the waker's request
 * that wakes the parked fetchers. (Time to read it on a quiet machine, printed: 0.5 s with the
 * wake-ups, 1.6-2.5 s without; 200k-event consumer run: 11.5 -> 6.4 s; not asserted.) */
#define NBIG 2000
static void test_backlog_not_starved(test_state_t *ts)
{
    rt_config_t cfg;
    char err[512];
    volatile sig_atomic_t stop = 0;
    REQUIRE(ts, new_cfg(&cfg) == 0);
    /* Partitions 1-3 (the test above reads partition 0). */
    REQUIRE(ts, produce_n(cfg.brokers, cfg.topic, NBIG, 1024, 1, 3) == 0);
    CHECK(ts, rt_config_set_kafka(&cfg, "queued.max.messages.kbytes", "64") == 0);
    CHECK(ts, rt_config_set_kafka(&cfg, "fetch.message.max.bytes", "16384") == 0);
    rt_kin_t *kin = rt_kin_new(&cfg, 0, err, sizeof err);
    REQUIRE(ts, kin != NULL);
    int32_t ps[3] = {1, 2, 3};
    int64_t from[3] = {RT_KIN_OFFSET_BEGINNING, RT_KIN_OFFSET_BEGINNING, RT_KIN_OFFSET_BEGINNING};
    CHECK(ts, rt_kin_assign(kin, cfg.topic, ps, from, 3, err, sizeof err) == 0);

    double t0 = now_s();
    size_t total = 0;
    while (total < NBIG && now_s() - t0 < 25) {
        total += poll_n(ts, kin, 500, 100, &stop);
    }
    CHECK(ts, total == NBIG);
    /* The request is sent on the waker thread: give it a moment to complete. */
    for (int i = 0; i < 250 && rt_kin_wakes(kin) == 0; i++) {
        struct timespec sl = {0, 20 * 1000 * 1000};
        nanosleep(&sl, NULL);
    }
    CHECK(ts, rt_kin_wakes(kin) > 0);
    rt_kin_destroy(kin, 1000);
    rt_config_free(&cfg);
}

TEST_MAIN({"defaults", test_defaults},
          {"poll_closes_on_empty_queue", test_poll_closes_on_empty_queue},
          {"backlog_not_starved", test_backlog_not_starved})
