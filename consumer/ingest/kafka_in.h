/* Kafka side of the consumer: a librdkafka consumer (group member for `run`, plain assign for
 * `replay`), rebalance events handed to the main loop (which reads the PostgreSQL offsets
 * before assigning), batch polling, the offset look-ups replay plans with, and the optional
 * after-the-fact Kafka commit. The only user of librdkafka: the rest of the consumer sees
 * partitions, offsets and records (rt_kin_rec_t), never an rd_kafka_* type. */
#ifndef RT_CONSUMER_KAFKA_IN_H
#define RT_CONSUMER_KAFKA_IN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "parts.h"
#include "ready.h"
#include "rt_attr.h"

typedef struct rt_kin rt_kin_t;

/* librdkafka defaults of ours (a kafka.* property in the config overrides each). They bound the
 * consumer's memory: see rt_kin_new and docs/operations.md ("Memory"). */
#define RT_KIN_QUEUED_MAX_KBYTES       "2048"
#define RT_KIN_FETCH_MESSAGE_MAX_BYTES "262144"
#define RT_KIN_FETCH_WAIT_MAX_MS       "50"
/* Bound of one wake-up request of the waker thread (rt_kin_poll_each), also the longest it can hold
 * up rt_kin_destroy. */
#define RT_KIN_WAKE_TIMEOUT_MS 250
/* How often the waker thread asks the leaders for the high watermarks of the lag gauges when
 * no batch has asked sooner. */
#define RT_KIN_LAG_REFRESH_MS 1000

/* Offsets to assign at besides a real one: the partition's first offset, or its end (only what
 * is produced from now on). Equal to librdkafka's logical offsets. */
#define RT_KIN_OFFSET_BEGINNING (-2)
#define RT_KIN_OFFSET_END       (-1)

/* One polled record, valid during the rt_kin_take_fn call that gets it. */
typedef struct rt_kin_rec {
    int32_t partition;
    int64_t offset;
    int64_t ts_ms; /* the record's timestamp, -1 when it has none */
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *payload; /* NULL: no payload */
    size_t len;
} rt_kin_rec_t;

/* Creates the consumer from cfg (brokers, group, client id, kafka.* pass-through; auto commit
 * off; offsets come from PostgreSQL). use_group 0: no group membership (replay). Returns NULL
 * with err filled on a bad property or failure. */
rt_kin_t *rt_kin_new(const rt_config_t *cfg, int use_group, char *err, size_t errsize);

/* Leaves the group (bounded by timeout_ms) and frees everything. NULL is a no-op. */
void rt_kin_destroy(rt_kin_t *kin, int timeout_ms);

/* The value librdkafka uses for property name (tests: our defaults and overrides). Returns 0,
 * or -1 when unknown or longer than size. */
int rt_kin_conf_get(rt_kin_t *kin, const char *name, char *out, size_t size);

/* Readiness to keep up to date (brokers down/up; see ready.h), or NULL. Before polling. */
void rt_kin_set_ready(rt_kin_t *kin, rt_ready_t *ready);

/* Where to record the lag (runtrack_consumer_lag_messages per assigned partition and the sum),
 * or NULL. From then on a thread of kafka_in asks every partition leader for its high watermark
 * at least every RT_KIN_LAG_REFRESH_MS, whether or not batches commit, and the lag is that minus
 * the next offset PostgreSQL holds (the assigned offset, then rt_kin_note_committed). A
 * partition that leaves the assignment leaves the gauges. Before polling. */
void rt_kin_set_metrics(rt_kin_t *kin, rt_metrics_t *m);

/* PostgreSQL committed pos[0..n): the lag counts from their next offsets. Main thread. */
void rt_kin_note_committed(rt_kin_t *kin, const rt_part_pos_t *pos, size_t n);

/* Joins the group on topic. Returns 0, or -1 with err filled. */
int rt_kin_subscribe(rt_kin_t *kin, const char *topic, char *err, size_t errsize) RT_MUSTCHECK;

/* Takes one polled record (valid only during the call: copy what is kept). Returns 0 to go on,
 * non-zero to close the batch at once. */
typedef int (*rt_kin_take_fn)(void *arg, const rt_kin_rec_t *r);

/* Polls a batch, handing each record to take as it comes so that the caller folds it into its
 * batch while the batch fills: waits up to max_ms for a first record; then the batch closes at
 * max records, max_ms after its first record, or when librdkafka's queue is empty and the batch
 * has been collecting for at least as long as the caller took to process the previous one,
 * whichever is first. Returns early when a rebalance is pending or *stop is set. Error events
 * are logged and dropped. After a batch, at most once a second, it returns free heap pages to
 * the system (glibc malloc_trim), since the caller has freed the previous batch by then.
 * Returns the number of records taken. */
size_t rt_kin_poll_each(rt_kin_t *kin, size_t max, int max_ms, const volatile sig_atomic_t *stop,
                        rt_kin_take_fn take, void *arg);

/* Where the last rt_kin_poll_each spent its time (microseconds), for the pipeline's timing log. */
typedef struct rt_kin_poll_times {
    int64_t trim_us; /* giving free heap back (malloc_trim), 0 when it did not run */
    int64_t wait_us; /* waiting for the first record (all of the poll when none came) */
    int64_t fill_us; /* from the first record until the batch closed */
} rt_kin_poll_times_t;

void rt_kin_last_poll_times(const rt_kin_t *kin, rt_kin_poll_times_t *out);

/* Wake-up requests sent so far: rt_kin_poll_each asks, on a thread of its own, every partition leader
 * for its high watermark after a non-empty batch, because librdkafka 2.0.2 leaves a fetcher
 * parked on a full queue for up to 1 s (see kafka_in.c). */
uint64_t rt_kin_wakes(rt_kin_t *kin);

/* 1 while a rebalance (assign or revoke) is waiting for the main loop. */
int rt_kin_rebalance_pending(rt_kin_t *kin);

/* Takes the pending rebalance: *parts gets the partitions of topic to assign (malloc'd, caller
 * frees; NULL with *n 0 when the last event revoked everything). The revoke itself has already
 * been applied. Returns 0, or -1 when out of memory (nothing assigned then). */
int rt_kin_take_rebalance(rt_kin_t *kin, const char *topic, int32_t **parts, size_t *n);

/* Assigns exactly parts[0..n) of topic at offsets[0..n) (an offset or RT_KIN_OFFSET_*).
 * Returns 0, or -1 with err filled. */
int rt_kin_assign(rt_kin_t *kin, const char *topic, const int32_t *parts, const int64_t *offsets,
                  size_t n, char *err, size_t errsize) RT_MUSTCHECK;

/* Adds parts[0..n) of topic at offsets[0..n) to the assignment, or takes them out (add 0,
 * offsets unused, may be NULL), leaving the other partitions as they are (replay's partition
 * window; no group). Returns 0, or -1 with err filled. */
int rt_kin_assign_change(rt_kin_t *kin, const char *topic, const int32_t *parts,
                         const int64_t *offsets, size_t n, int add, char *err,
                         size_t errsize) RT_MUSTCHECK;

/* The partitions of topic from the cluster's metadata (one request, up to timeout_ms): *parts
 * malloc'd (caller frees) and *n. Returns 0, or -1 with err filled (no such topic, no broker
 * answered...). */
int rt_kin_topic_partitions(rt_kin_t *kin, const char *topic, int timeout_ms, int32_t **parts,
                            size_t *n, char *err, size_t errsize) RT_MUSTCHECK;

/* The low and high watermarks of one partition, asked of its leader. Returns 0, or -1 with err
 * filled. */
int rt_kin_watermarks(rt_kin_t *kin, const char *topic, int32_t partition, int timeout_ms,
                      int64_t *lo, int64_t *hi, char *err, size_t errsize) RT_MUSTCHECK;

/* The first offset of each of parts[0..n) whose timestamp is at or after ts_ms (out[i] = -1: no
 * such record), asking every leader at once. Returns 0, or -1 with err filled when the request
 * or any partition's answer failed. */
int rt_kin_offsets_for_time(rt_kin_t *kin, const char *topic, const int32_t *parts, size_t n,
                            int64_t ts_ms, int64_t *out, int timeout_ms, char *err,
                            size_t errsize) RT_MUSTCHECK;

/* The log start offset of each of parts[0..n) (out[i] = -1 where the leader did not say),
 * asking every leader at once; blocks up to timeout_ms. Returns 0, or -1 when the request
 * failed as a whole. Assigning "beginning" instead makes librdkafka look the offset up itself,
 * one partition at a time as their leaders' connections come up, and retry 500 ms later where
 * a connection was not up yet. */
int rt_kin_earliest(rt_kin_t *kin, const char *topic, const int32_t *parts, size_t n, int64_t *out,
                    int timeout_ms);

/* Async Kafka commit of the PostgreSQL-committed positions (lag tools only). */
void rt_kin_commit(rt_kin_t *kin, const char *topic, const rt_part_pos_t *pos, size_t n);

#endif
