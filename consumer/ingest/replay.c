#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define REPLAY_TIMEOUT_MS 10000

int rt_replay_plan(rt_kin_t *kin, const char *topic, int64_t from_time_us, int to_end,
                   const volatile sig_atomic_t *stop, rt_replay_part_t **out, size_t *n, char *err,
                   size_t errsize)
{
    rd_kafka_t *rk = rt_kin_handle(kin);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *times = NULL;
    rt_replay_part_t *parts = NULL;
    int rc = -1;
    (void)to_end;
    *out = NULL;
    *n = 0;
    if (!rkt) {
        snprintf(err, errsize, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    /* The broker may be coming up: retry the metadata request until it answers. */
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, REPLAY_TIMEOUT_MS);
        if (!e && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
            break;
        const char *why = e                    ? rd_kafka_err2str(e)
                          : md->topic_cnt != 1 ? "no such topic"
                                               : rd_kafka_err2str(md->topics[0].err);
        if (md) {
            rd_kafka_metadata_destroy(md);
            md = NULL;
        }
        if (*stop) {
            snprintf(err, errsize, "metadata for %s: %s", topic, why);
            goto out;
        }
        rt_log(RT_L_WARN, "replay: topic metadata unavailable, retrying", "topic=%s error=\"%s\"",
               topic, why);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    int cnt = md->topics[0].partition_cnt;
    parts = calloc((size_t)cnt, sizeof *parts);
    times = rd_kafka_topic_partition_list_new(cnt);
    if (!parts || !times) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    for (int i = 0; i < cnt; i++) {
        int64_t lo = 0, hi = 0;
        parts[i].partition = md->topics[0].partitions[i].id;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, parts[i].partition, &lo,
                                                                 &hi, REPLAY_TIMEOUT_MS);
        if (e) {
            snprintf(err, errsize, "watermarks of %s [%d]: %s", topic, (int)parts[i].partition,
                     rd_kafka_err2str(e));
            goto out;
        }
        parts[i].start = lo;
        parts[i].end = hi;
        rd_kafka_topic_partition_list_add(times, topic, parts[i].partition)->offset =
            from_time_us / 1000;
    }
    if (from_time_us >= 0) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, times, REPLAY_TIMEOUT_MS);
        if (e) {
            snprintf(err, errsize, "offsets for time: %s", rd_kafka_err2str(e));
            goto out;
        }
        for (int i = 0; i < cnt; i++) {
            rd_kafka_topic_partition_t *t =
                rd_kafka_topic_partition_list_find(times, topic, parts[i].partition);
            if (!t || t->err) {
                snprintf(err, errsize, "offsets for time [%d]: %s", (int)parts[i].partition,
                         t ? rd_kafka_err2str(t->err) : "missing");
                goto out;
            }
            /* No offset for the time: either nothing was written since, or the broker cannot
             * look timestamps up (the dev broker). Read the partition from its start then;
             * the pipeline skips records older than the time, so both cases come out right. */
            if (t->offset < 0 && parts[i].end > parts[i].start)
                rt_log(RT_L_INFO, "replay: no offset for the time, scanning the partition",
                       "partition=%d", (int)parts[i].partition);
            else
                parts[i].start = t->offset >= 0 ? t->offset : -1;
        }
    }
    *out = parts;
    *n = (size_t)cnt;
    parts = NULL;
    rc = 0;
out:
    free(parts);
    if (times)
        rd_kafka_topic_partition_list_destroy(times);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}
