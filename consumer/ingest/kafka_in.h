/* Kafka side of the consumer: a librdkafka consumer (group member for `run`, plain assign for
 * `replay`), rebalance events handed to the main loop (which reads the PostgreSQL offsets
 * before assigning), batch polling and the optional after-the-fact Kafka commit. */
#ifndef RT_CONSUMER_KAFKA_IN_H
#define RT_CONSUMER_KAFKA_IN_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "pg_out.h"
#include "ready.h"

typedef struct rt_kin rt_kin_t;

/* librdkafka defaults of ours (a kafka.* property in the config overrides each). They bound the
 * consumer's memory: see rt_kin_new and docs/operations.md ("Memory"). */
#define RT_KIN_QUEUED_MAX_KBYTES       "2048"
#define RT_KIN_FETCH_MESSAGE_MAX_BYTES "262144"
#define RT_KIN_FETCH_WAIT_MAX_MS       "50"
/* Bound of one wake-up request of the waker thread (rt_kin_poll), also the longest it can hold
 * up rt_kin_destroy. */
#define RT_KIN_WAKE_TIMEOUT_MS 250

/* Creates the consumer from cfg (brokers, group, client id, kafka.* pass-through; auto commit
 * off; offsets come from PostgreSQL). use_group 0: no group membership (replay). Returns NULL
 * with err filled on a bad property or failure. */
rt_kin_t *rt_kin_new(const rt_config_t *cfg, int use_group, char *err, size_t errsize);

/* Leaves the group (bounded by timeout_ms) and frees everything. NULL is a no-op. */
void rt_kin_destroy(rt_kin_t *kin, int timeout_ms);

rd_kafka_t *rt_kin_handle(rt_kin_t *kin);

/* Readiness to keep up to date (brokers down/up; see ready.h), or NULL. Before polling. */
void rt_kin_set_ready(rt_kin_t *kin, rt_ready_t *ready);

/* Joins the group on topic. Returns 0, or -1 with err filled. */
int rt_kin_subscribe(rt_kin_t *kin, const char *topic, char *err, size_t errsize) RT_MUSTCHECK;

/* Polls a batch into out[] (the caller destroys the records with rd_kafka_message_destroy):
 * waits up to max_ms for a first record; then the batch closes at max records, max_ms after its
 * first record, or when librdkafka's queue is empty and the batch has been collecting for at
 * least as long as the caller took to process the previous one, whichever is first. Returns
 * early when a rebalance is pending or *stop is set. Error events are logged and dropped.
 * After a batch, at most once a second, it returns free heap pages to the system (glibc
 * malloc_trim), since the caller has freed the previous batch by then. */
size_t rt_kin_poll(rt_kin_t *kin, rd_kafka_message_t **out, size_t max, int max_ms,
                   const volatile sig_atomic_t *stop);

/* Takes one record polled by rt_kin_poll_each and owns it from then on (destroys it with
 * rd_kafka_message_destroy). Returns 0 to go on, non-zero to close the batch at once. */
typedef int (*rt_kin_take_fn)(void *arg, rd_kafka_message_t *m);

/* rt_kin_poll handing each record to take as it comes instead of collecting them, so that the
 * caller can fold it into its batch and free it while the batch fills. Returns the number of
 * records taken. */
size_t rt_kin_poll_each(rt_kin_t *kin, size_t max, int max_ms, const volatile sig_atomic_t *stop,
                        rt_kin_take_fn take, void *arg);

/* Where the last rt_kin_poll spent its time (microseconds), for the pipeline's timing log. */
typedef struct rt_kin_poll_times {
    int64_t trim_us; /* giving free heap back (malloc_trim), 0 when it did not run */
    int64_t wait_us; /* waiting for the first record (all of the poll when none came) */
    int64_t fill_us; /* from the first record until the batch closed */
} rt_kin_poll_times_t;

void rt_kin_last_poll_times(const rt_kin_t *kin, rt_kin_poll_times_t *out);

/* Wake-up requests sent so far: rt_kin_poll asks, on a thread of its own, every partition leader
 * for its high watermark after a non-empty batch, because librdkafka 2.0.2 leaves a fetcher
 * parked on a full queue for up to 1 s (see kafka_in.c). */
uint64_t rt_kin_wakes(rt_kin_t *kin);

/* 1 while a rebalance (assign or revoke) is waiting for the main loop. */
int rt_kin_rebalance_pending(rt_kin_t *kin);

/* Takes the pending rebalance: returns the partitions to assign (caller destroys the list) or
 * NULL when the last event revoked everything. The revoke itself has already been applied. */
rd_kafka_topic_partition_list_t *rt_kin_take_rebalance(rt_kin_t *kin);

/* Assigns exactly parts (offsets set by the caller). Returns 0, or -1 with err filled. */
int rt_kin_assign(rt_kin_t *kin, const rd_kafka_topic_partition_list_t *parts, char *err,
                  size_t errsize) RT_MUSTCHECK;

/* Adds parts (at their offsets) to the assignment, or takes them out (add 0), leaving the
 * other partitions as they are (replay's partition window; no group). Returns 0, or -1 with
 * err filled. */
int rt_kin_assign_change(rt_kin_t *kin, const rd_kafka_topic_partition_list_t *parts, int add,
                         char *err, size_t errsize) RT_MUSTCHECK;

/* The log start offset of each of parts[0..n) (out[i] = -1 where the leader did not say),
 * asking every leader at once; blocks up to timeout_ms. Returns 0, or -1 when the request
 * failed as a whole. Assigning "beginning" instead makes librdkafka look the offset up itself,
 * one partition at a time as their leaders' connections come up, and retry 500 ms later where
 * a connection was not up yet. */
int rt_kin_earliest(rt_kin_t *kin, const char *topic, const int32_t *parts, size_t n, int64_t *out,
                    int timeout_ms);

/* Async Kafka commit of the PostgreSQL-committed positions (lag tools only). */
void rt_kin_commit(rt_kin_t *kin, const char *topic, const rt_part_pos_t *pos, size_t n);

/* Sum over the partitions in pos of (cached high watermark - next), or -1 when unknown. */
int64_t rt_kin_lag(rt_kin_t *kin, const char *topic, const int32_t *parts, const int64_t *next,
                   size_t n);

#endif
