/* kafka_in against the dev broker (RUNTRACK_BROKERS, a fresh RUNTRACK_TOPIC from
 * with_services.sh): the memory-bounding librdkafka defaults are applied and a kafka property
 * from the config still overrides them; a batch closes when librdkafka's queue runs empty
 * instead of waiting out batch_max_ms (polled here with a 10-minute batch_max_ms: the old
 * behaviour would run into the ctest timeout), and never holds more than max records. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kafka_in.h"

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
    return rd_kafka_conf_get(rd_kafka_conf(rt_kin_handle(kin)), name, out, &size) ==
                   RD_KAFKA_CONF_OK
               ? 0
               : -1;
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

/* Produces NREC records to partition 0 of the topic and waits for their delivery. */
static int produce(const char *brokers, const char *topic)
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
    for (int i = 0; i < NREC && rc == 0; i++) {
        char val[32];
        int n = snprintf(val, sizeof val, "record %d", i);
        if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(val, (size_t)n),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
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
    rd_kafka_message_t *out[NREC + 8];
    REQUIRE(ts, new_cfg(&cfg) == 0);
    REQUIRE(ts, produce(cfg.brokers, cfg.topic) == 0);
    rt_kin_t *kin = rt_kin_new(&cfg, 0, err, sizeof err);
    REQUIRE(ts, kin != NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, cfg.topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    CHECK(ts, rt_kin_assign(kin, l, err, sizeof err) == 0);
    rd_kafka_topic_partition_list_destroy(l);

    /* max 5: a batch never holds more than max records. */
    size_t n = rt_kin_poll(kin, out, 5, 600000, &stop);
    CHECK(ts, n >= 1 && n <= 5);
    size_t total = n;
    for (size_t i = 0; i < n; i++)
        rd_kafka_message_destroy(out[i]);
    /* The rest with room to spare and a 10-minute window: every call returns once the queue
     * is empty, so this finishes in well under the test's timeout. */
    for (int calls = 0; total < NREC && calls < 50; calls++) {
        n = rt_kin_poll(kin, out, NREC + 8, 600000, &stop);
        CHECK(ts, n >= 1);
        total += n;
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(out[i]);
    }
    CHECK(ts, total == NREC);
    rt_kin_destroy(kin, 1000);
    rt_config_free(&cfg);
}

TEST_MAIN({"defaults", test_defaults},
          {"poll_closes_on_empty_queue", test_poll_closes_on_empty_queue})
