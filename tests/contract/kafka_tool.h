/* What the contract's Kafka test tools (topic_dump.c, topic_produce.c) share: making their
 * librdkafka client from a few settings. Header-only: each tool is one source file. */
#ifndef RT_TESTS_KAFKA_TOOL_H
#define RT_TESTS_KAFKA_TOOL_H

#include <stdio.h>

#include <librdkafka/rdkafka.h>

/* A client of type for brokers (bootstrap.servers) with settings, {name, value} pairs ending at
 * a NULL name, and dr_msg_cb when non-NULL. On failure prints "prog: reason" on stderr and
 * returns NULL. The caller owns the client. */
static inline rd_kafka_t *kafka_tool_client(const char *prog, rd_kafka_type_t type,
                                            const char *brokers, const char *const settings[][2],
                                            void (*dr_msg_cb)(rd_kafka_t *,
                                                              const rd_kafka_message_t *, void *))
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err);
    for (size_t i = 0; res == RD_KAFKA_CONF_OK && settings[i][0]; i++)
        res = rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof err);
    rd_kafka_t *rk = NULL;
    if (res == RD_KAFKA_CONF_OK) {
        if (dr_msg_cb)
            rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
        rk = rd_kafka_new(type, conf, err, sizeof err); /* takes conf on success */
    }
    if (!rk) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

#endif
