/* PostgreSQL side of the consumer: one transaction per batch holding the rows the batch produced
 * and the Kafka offsets after it (fenced), with a constant number of set-based statements. */
#ifndef RT_CONSUMER_PG_OUT_H
#define RT_CONSUMER_PG_OUT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"

typedef struct rt_pg rt_pg_t;

typedef enum rt_pg_rc {
    RT_PG_OK = 0,
    RT_PG_FENCED,    /* the stored offsets moved: another consumer owns the partition now */
    RT_PG_TRANSIENT, /* connection lost, server restarting, deadlock...: retry the same batch */
    RT_PG_DATA       /* the server rejected the data: retrying the same batch cannot help */
} rt_pg_rc_t;

/* One Kafka record of a batch. key/payload are borrowed (the Kafka message owns them). */
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
    /* Per write attempt: the event broke a rule against the stored run (→ dead letter). */
    int rule_dead;
    char rule_detail[256];
} rt_in_msg_t;

/* Decodes m->payload into m->ev (or a dead-letter reason). */
void rt_in_msg_decode(rt_in_msg_t *m, size_t max_bytes);
/* Turns an undecodable/rejected message into a dead letter with the given reason. */
void rt_in_msg_reject(rt_in_msg_t *m, rt_dead_reason_t why, const char *detail);
void rt_in_msg_clear(rt_in_msg_t *m);

/* Offsets of one partition for the fence: the batch moves next_offset from expected (-1: no
 * row yet, insert it) to next. */
typedef struct rt_part_pos {
    int32_t partition;
    int64_t expected;
    int64_t next;
} rt_part_pos_t;

/* What a committed batch contained, for the counters in rt_stats. */
typedef struct rt_batch_result {
    size_t runs;
    size_t logs;
    size_t dead;
    size_t by_type[RT_EV__COUNT];
    size_t dead_by_reason[RT_DEAD__COUNT];
} rt_batch_result_t;

/* A handle on one connection; does not connect yet. Returns NULL when out of memory. */
rt_pg_t *rt_pg_new(const char *dsn);
void rt_pg_free(rt_pg_t *pg);

/* (Re)connects and prepares the session (temp tables). Returns 0, or -1 with err filled. */
int rt_pg_connect(rt_pg_t *pg, char *err, size_t errsize) RT_MUSTCHECK;

/* The live connection (NULL when not connected); for the migration runner. */
PGconn *rt_pg_conn(rt_pg_t *pg);

/* Reads consumer_offsets for the n partitions: next[i] = stored next_offset, or -1. */
rt_pg_rc_t rt_pg_read_offsets(rt_pg_t *pg, const char *group, const char *topic,
                              const int32_t *parts, size_t n, int64_t *next, char *err,
                              size_t errsize) RT_MUSTCHECK;

/* Applies msgs[0..n) in one transaction. With group != NULL the offsets in pos[0..npos) are
 * fenced and moved in the same transaction (RT_PG_FENCED when any expected value no longer
 * matches: nothing is written). group NULL (replay): offsets untouched. On any failure the
 * transaction is rolled back and the batch may be retried. */
rt_pg_rc_t rt_pg_write_batch(rt_pg_t *pg, const char *group, const char *topic, rt_in_msg_t *msgs,
                             size_t n, const rt_part_pos_t *pos, size_t npos,
                             rt_batch_result_t *res, char *err, size_t errsize) RT_MUSTCHECK;

#endif
