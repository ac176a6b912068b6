/* replay/backfill: which partitions of the topic to read and from/to where. The records are
 * then applied by the same pipeline as `run` (pipeline.c), without a group and without
 * touching consumer_offsets; every rule being idempotent, replaying into an empty or an
 * existing database yields the tables the live consumer wrote. */
#ifndef RT_CONSUMER_REPLAY_H
#define RT_CONSUMER_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka_in.h"

typedef struct rt_replay_part {
    int32_t partition;
    int64_t start; /* first offset to read; -1: nothing at or after the requested time */
    int64_t end;   /* high watermark when the replay started */
} rt_replay_part_t;

/* Looks up the topic's partitions (retrying while the broker is unreachable, until *stop),
 * their high watermarks, and the start offsets: the low watermark, or with from_time_us >= 0
 * the first offset whose timestamp is >= that time (rd_kafka_offsets_for_times). On success
 * returns 0 and a malloc'd array in *out (caller frees); -1 with err filled. */
int rt_replay_plan(rt_kin_t *kin, const char *topic, int64_t from_time_us, int to_end,
                   const volatile sig_atomic_t *stop, rt_replay_part_t **out, size_t *n, char *err,
                   size_t errsize);

#endif
