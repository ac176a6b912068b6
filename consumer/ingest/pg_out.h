/* PostgreSQL side of the consumer: one transaction per batch holding the rows the batch produced
 * and the Kafka offsets after it (fenced), with a constant number of set-based statements. */
#ifndef RT_CONSUMER_PG_OUT_H
#define RT_CONSUMER_PG_OUT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "parts.h"
#include "rt_attr.h"

typedef struct rt_pg rt_pg_t;

typedef enum rt_pg_rc {
    RT_PG_OK = 0,
    RT_PG_FENCED,    /* the stored offsets moved: another consumer owns the partition now */
    RT_PG_TRANSIENT, /* the environment failed (connection, privilege, missing table, read-only,
                      * disk full, lock or statement timeout, deadlock...): retry the same batch
                      * with back-off; never a dead letter, never an offset moved */
    RT_PG_DATA,      /* the server rejected the values (SQLSTATE class 22 or 23): retrying the
                      * same batch cannot help; the record-by-record path dead-letters the one
                      * record that causes it */
    RT_PG_CONFLICT   /* rt_pg_write_batch: a run is stored under another job or kind; write the
                      * batch with rt_pg_write_msgs, which decides event by event */
} rt_pg_rc_t;

/* A handle on one connection; does not connect yet. Returns NULL when out of memory. */
rt_pg_t *rt_pg_new(const char *dsn);
/* max_clock_skew_s for the batches rt_pg_write_msgs folds itself (rt_batch_set_clock_skew). */
void rt_pg_set_clock_skew(rt_pg_t *pg, int max_skew_s);
void rt_pg_free(rt_pg_t *pg);

/* lock_timeout and statement_timeout (ms, 0 = none) of the sessions rt_pg_connect opens from
 * now on; not called: the server's settings. */
void rt_pg_set_timeouts(rt_pg_t *pg, int lock_timeout_ms, int statement_timeout_ms);

/* What a failed statement's SQLSTATE means for the batch: RT_PG_DATA for classes 22 and 23 (the
 * values), RT_PG_TRANSIENT for any other or none (the environment, also the unknown). */
rt_pg_rc_t rt_pg_classify_sqlstate(const char *sqlstate);
/* Caps the dead-letter payload bytes stored per UTC day, across restarts and consumers (the
 * total is kept in dead_letter_days): past it, dead letters are stored without their payload.
 * 0 = no cap (the default). */
void rt_pg_set_dead_letter_cap(rt_pg_t *pg, int64_t bytes_per_day);

/* (Re)connects and prepares the session (temp tables). Returns 0, or -1 with err filled. */
int rt_pg_connect(rt_pg_t *pg, char *err, size_t errsize) RT_MUSTCHECK;

/* The live connection (NULL when not connected); for the migration runner. */
PGconn *rt_pg_conn(rt_pg_t *pg);

/* Reads consumer_offsets for the n partitions: next[i] = stored next_offset, or -1. */
rt_pg_rc_t rt_pg_read_offsets(rt_pg_t *pg, const char *group, const char *topic,
                              const int32_t *parts, size_t n, int64_t *next, char *err,
                              size_t errsize) RT_MUSTCHECK;

/* Applies the folded batch b in one transaction. With group != NULL the offsets in
 * pos[0..npos) are fenced and moved in the same transaction (RT_PG_FENCED when any expected
 * value no longer matches: nothing is written). group NULL (replay): offsets untouched. On any
 * failure the transaction is rolled back and the batch may be retried; on RT_PG_CONFLICT and
 * RT_PG_DATA, with rt_pg_write_msgs. *res: what was committed (on RT_PG_OK). */
rt_pg_rc_t rt_pg_write_batch(rt_pg_t *pg, const char *group, const char *topic, rt_batch_t *b,
                             const rt_part_pos_t *pos, size_t npos, rt_batch_result_t *res,
                             char *err, size_t errsize) RT_MUSTCHECK;

/* The same for records decoded one by one (rt_batch_msgs), checking each event against the
 * job/kind PostgreSQL holds for its run: an event of another job becomes a dead letter (rule)
 * while the run's other events are applied. The records are folded into a batch of their own
 * by rt_batch_fold, the fold of rt_batch_add, and written with rt_pg_write_batch's statements.
 * The pipeline's writer calls it when a batch holds a run stored under another job, and for the
 * parts of a batch the database rejected (bisection, down to one record). */
rt_pg_rc_t rt_pg_write_msgs(rt_pg_t *pg, const char *group, const char *topic, rt_in_msg_t *msgs,
                            size_t n, const rt_part_pos_t *pos, size_t npos, rt_batch_result_t *res,
                            char *err, size_t errsize) RT_MUSTCHECK;

#endif
