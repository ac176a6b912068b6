/* Rows in PostgreSQL's COPY text format for the tables the consumer COPYs into (run_logs and
 * the runs and dead-letter staging tables), in a growable buffer. Built on the main thread as
 * records arrive (batch.c) and again by the record-by-record path (pg_out.c). */
#ifndef RT_CONSUMER_COPY_ROWS_H
#define RT_CONSUMER_COPY_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "rt_buf.h"

/* A COPY text field: s[0..n) with backslash, tab, newline and CR escaped. */
void rt_copy_text(rt_buf_t *b, const char *s, size_t n);
/* A NULL field (\N). */
void rt_copy_null(rt_buf_t *b);

/* One run_logs row (run_id, seq, ts, level, phase, message, fields, event_id) of a run.log. */
void rt_copy_log_row(rt_buf_t *b, const rt_event_t *ev);

/* One dead-letter row (topic, partition, offset, msg_key, payload, payload_size, reason,
 * detail, kafka_ts) with the raw bytes; key/payload may be NULL; kafka_ts_ms -1: none. */
void rt_copy_dead_row(rt_buf_t *b, const char *topic, int32_t partition, int64_t offset,
                      const void *key, size_t key_len, const void *payload, size_t len,
                      int64_t kafka_ts_ms, rt_dead_reason_t why, const char *detail);

#endif
