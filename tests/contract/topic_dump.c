/* topic_dump BROKERS TOPIC: prints every record of TOPIC (all partitions, from the beginning up
 * to the end as of now) as "partition<TAB>key<TAB>value" lines, then exits 0. Exits 1 if the
 * topic cannot be read within 30 s. A test tool: the contract test feeds what the real producer
 * wrote through the JSON Schema. Values must not contain raw newlines (compact JSON never does);
 * a record that does is reported and counted as an error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka_tool.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = NULL;
    int rc = 1, nparts = 0, eofs = 0, bad = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: topic_dump BROKERS TOPIC\n");
        return 64;
    }
    static const char *const settings[][2] = {{"group.id", "runtrack-topic-dump"},
                                               {"enable.auto.commit", "false"},
                                               {"enable.partition.eof", "true"},
                                               {NULL, NULL}};
    rk = kafka_tool_client("topic_dump", RD_KAFKA_CONSUMER, argv[1], settings, NULL);
    if (!rk)
        return 1;
    rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "topic_dump: metadata for %s: %s\n", argv[2],
                rd_kafka_err2str(e                    ? e
                                 : md->topic_cnt == 1 ? md->topics[0].err
                                                      : RD_KAFKA_RESP_ERR_UNKNOWN));
        goto out;
    }
    nparts = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(parts, argv[2], md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if ((e = rd_kafka_assign(rk, parts))) {
        fprintf(stderr, "topic_dump: assign: %s\n", rd_kafka_err2str(e));
        goto out;
    }
    int64_t deadline = now_ms() + 30000;
    while (eofs < nparts) {
        if (now_ms() > deadline) {
            fprintf(stderr, "topic_dump: timed out (%d of %d partitions read to the end)\n", eofs,
                    nparts);
            goto out;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            fprintf(stderr, "topic_dump: %s\n", rd_kafka_message_errstr(m));
        } else if (memchr(m->payload, '\n', m->len) ||
                   (m->key && memchr(m->key, '\n', m->key_len))) {
            fprintf(stderr,
                    "topic_dump: partition %" PRId32 " offset %" PRId64 ": raw newline in record\n",
                    m->partition, m->offset);
            bad++;
        } else {
            printf("%" PRId32 "\t%.*s\t%.*s\n", m->partition, (int)m->key_len,
                   m->key ? (const char *)m->key : "", (int)m->len,
                   m->payload ? (const char *)m->payload : "");
        }
        rd_kafka_message_destroy(m);
    }
    rc = bad ? 1 : 0;
out:
    fflush(stdout);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return rc;
}
