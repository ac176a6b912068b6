/* replay/backfill: which partitions of the topic to read and from/to where, and the partition
 * window of --to-end. The records are then applied by the same pipeline as `run` (pipeline.c),
 * without a group and without touching consumer_offsets; every rule being idempotent,
 * replaying into an empty or an existing database yields the tables the live consumer wrote. */
#ifndef RT_CONSUMER_REPLAY_H
#define RT_CONSUMER_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka_in.h"
#include "parts.h"
#include "rt_attr.h"

/* replay --to-end reads this many partitions at a time, the others waiting outside the
 * assignment: librdkafka holds a decompressed producer batch for every partition it is reading
 * (docs/operations.md, "Where the memory goes"), so a replay of 1M events in 64 partitions
 * peaked at 90-97 MiB with all of them assigned; 8 at a time: 36 MiB, 390k events/s; 16: 43
 * MiB, 420-445k events/s (all 64: 420k). */
#define RT_REPLAY_PARTITIONS_IN_FLIGHT 16

typedef struct rt_replay_part {
    int32_t partition;
    int64_t start; /* first offset to read; -1: nothing at or after the requested time */
    int64_t end;   /* high watermark when the replay started */
} rt_replay_part_t;

/* Looks up the topic's partitions (retrying while the broker is unreachable, until *stop),
 * their high watermarks, and the start offsets: the low watermark, or with from_time_us >= 0
 * the first offset whose timestamp is >= that time. On success returns 0 and a malloc'd array
 * in *out (caller frees); -1 with err filled. */
int rt_replay_plan(rt_kin_t *kin, const char *topic, int64_t from_time_us,
                   const volatile sig_atomic_t *stop, rt_replay_part_t **out, size_t *n, char *err,
                   size_t errsize) RT_MUSTCHECK;

/* Plans the replay and assigns it: fills ps (its v malloc'd, owned by the caller) with every
 * partition from its start (to its end with to_end), and assigns them all, or with to_end the
 * first window of them (rt_replay_window). Returns 0, or -1 with err filled. */
int rt_replay_start(rt_kin_t *kin, const char *topic, int64_t from_time_us, int to_end,
                    const volatile sig_atomic_t *stop, rt_parts_t *ps, char *err,
                    size_t errsize) RT_MUSTCHECK;

/* Replay --to-end: takes the partitions that reached their end offset out of the assignment
 * and adds waiting ones, in partition order, up to RT_REPLAY_PARTITIONS_IN_FLIGHT. Returns 0, or
 * -1 when librdkafka refused (err filled). */
int rt_replay_window(rt_kin_t *kin, const char *topic, rt_parts_t *ps, char *err,
                     size_t errsize) RT_MUSTCHECK;

/* Replay --to-end: 1 when every partition reached its end offset. */
int rt_replay_at_end(const rt_parts_t *ps);

#endif
