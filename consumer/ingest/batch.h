/* One batch of Kafka records, folded as the records arrive (main thread): each record is
 * decoded once, its event merged into the batch's per-run aggregate, its log row or dead-letter
 * row appended as COPY text, and the record's bytes kept compactly so that the Kafka message
 * can be freed at once. What a batch costs is then the record bytes plus per-run state, not a
 * decoded event per record, which is what lets batches be large (docs/consumer.md, "Batches").
 * The kept bytes serve the rare record-by-record path: a run PostgreSQL holds under another
 * job, or a batch the database rejects (rt_batch_msgs). */
#ifndef RT_CONSUMER_BATCH_H
#define RT_CONSUMER_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "copy_rows.h"
#include "decode.h"
#include "rt_attr.h"

/* One Kafka record of a batch, decoded on its own (the record-by-record path). key/payload are
 * borrowed (from the batch, or the Kafka message, which must outlive it). */
typedef struct rt_in_msg {
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms; /* -1: none */
    const void *key;
    size_t key_len;
    const void *payload;
    size_t len;
    /* Filled by rt_in_msg_decode: ok=1 and ev, or ok=0 and why/detail. */
    int ok;
    rt_event_t ev;
    rt_dead_reason_t why;
    char detail[256];
    /* Set by the fold (rt_batch_add, rt_batch_fold): the event broke a rule against its run
     * (another job or kind than its run.started's, or a run retention deleted) and became a
     * dead letter. */
    int rule_dead;
    char rule_detail[256];
} rt_in_msg_t;

/* Decodes m->payload into m->ev (or a dead-letter reason); an event whose record's Kafka key is
 * not its run_id (or is missing) is a dead letter too (key_mismatch). */
void rt_in_msg_decode(rt_in_msg_t *m, size_t max_bytes);
/* Turns an undecodable/rejected message into a dead letter with the given reason. */
void rt_in_msg_reject(rt_in_msg_t *m, rt_dead_reason_t why, const char *detail);
void rt_in_msg_clear(rt_in_msg_t *m);

/* What a committed batch contained, for the counters (metrics.h). */
typedef struct rt_batch_result {
    size_t runs;
    size_t logs;
    size_t dead;
    size_t by_type[RT_EV__COUNT];
    size_t dead_by_reason[RT_DEAD__COUNT];
    size_t dead_payload_dropped; /* dead letters stored without their payload (daily cap) */
} rt_batch_result_t;

typedef struct rt_batch rt_batch_t;

/* A new empty batch for records of topic (copied; named in dead-letter rows); records longer
 * than max_event_bytes are dead letters (oversize). NULL when out of memory. */
rt_batch_t *rt_batch_new(const char *topic, size_t max_event_bytes);
void rt_batch_free(rt_batch_t *b);
/* Empties b for the next batch, keeping its memory. */
void rt_batch_reset(rt_batch_t *b);

/* Adds one record (the bytes are copied; the caller may free them right after). Returns 0, or
 * -1 when out of memory (the batch must then be dropped: rt_batch_reset). */
int rt_batch_add(rt_batch_t *b, int32_t partition, int64_t offset, int64_t kafka_ts_ms,
                 const void *key, size_t key_len, const void *payload, size_t len) RT_MUSTCHECK;

/* Folds one record decoded on its own (the record-by-record path, rt_batch_msgs) the way
 * rt_batch_add folds a polled one, without keeping its bytes: a good event into the aggregate
 * and its log row, a bad one or one that breaks a rule against its run (m->rule_dead, detail in
 * m->rule_detail) into a dead-letter row. Job/kind PostgreSQL holds can be set first on the
 * aggregate (rt_agg_set_known). Returns 0, or -1 when out of memory (drop the batch). */
int rt_batch_fold(rt_batch_t *b, rt_in_msg_t *m) RT_MUSTCHECK;

/* Flags runs whose events are more than max_skew_s off the consumer's clock when folded
 * (rt_agg_set_clock_skew; 0: none). Kept across rt_batch_reset. */
void rt_batch_set_clock_skew(rt_batch_t *b, int max_skew_s);

/* Records added since the last reset (rt_batch_add; rt_batch_fold keeps none). */
size_t rt_batch_count(const rt_batch_t *b);
/* Partition and offset of record i (< rt_batch_count). */
void rt_batch_position(const rt_batch_t *b, size_t i, int32_t *partition, int64_t *offset);

/* The folded batch, for the writer: the aggregate of its good events; the run_logs rows and
 * the dead-letter rows as COPY text; what it holds by type and dead-letter reason (runs is
 * filled in by the writer). */
rt_agg_t *rt_batch_agg(rt_batch_t *b);
const rt_buf_t *rt_batch_logs(const rt_batch_t *b);
const rt_buf_t *rt_batch_dead(const rt_batch_t *b);
const rt_batch_result_t *rt_batch_result(const rt_batch_t *b);

/* The batch's records decoded one by one, for the record-by-record path: *out gets n messages
 * whose key/payload point into b (valid until b is reset or freed). Returns n, with *out owned
 * by the caller (rt_in_msg_clear each, then free), or (size_t)-1 when out of memory. */
size_t rt_batch_msgs(const rt_batch_t *b, rt_in_msg_t **out);

#endif
