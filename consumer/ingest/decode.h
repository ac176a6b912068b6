/* Bytes of one Kafka record → a validated event, or a dead-letter reason. No I/O, no global
 * state: the fuzzing work calls rt_decode directly. No jansson tree: one pass of consumer/ingest/jscan.c
 * over the record (docs/decisions.md, "Event decoder"). The checks are those of docs/events.md and
 * schemas/events.schema.json, plus the few rules the tables need (a discovery run's params must
 * fit its DATE/TEXT[] columns). */
#ifndef RT_CONSUMER_DECODE_H
#define RT_CONSUMER_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "dead_reason.h"
#include "rt_event.h"
#include "rt_uuid.h"

/* Raw JSON text of an object the consumer only stores (PostgreSQL's jsonb parses it): validated
 * by the decoder, equal in meaning to what jansson would have produced, never holding \u0000.
 * Points into the record (which must outlive the event) or into memory the event owns.
 * p == NULL: the member was absent. Not NUL-terminated. */
typedef struct rt_json_text {
    const char *p;
    size_t n;
} rt_json_text_t;

/* A member of data.counters as the decoder read it: name[0..len) points into the record (the
 * name was written without escapes), value its integer. */
typedef struct rt_counter_ref {
    const char *name;
    size_t len;
    int64_t value;
} rt_counter_ref_t;

/* How many members of data.counters the decoder hands over read (the standard names are 15). */
#define RT_EV_COUNTERS_READ 16

/* A decoded event. Strings are NUL-terminated and unescaped, in memory the event owns (one
 * allocation per event); absent optional members are NULL (has_* flags for numbers). The
 * rt_json_text_t members may point into the record buffer given to rt_decode: keep it alive as
 * long as the event. */
typedef struct rt_event {
    char *mem;     /* owned: the strings below */
    char *norm[2]; /* owned: objects re-encoded because of numbers numeric would refuse (rare) */
    char event_id[RT_UUID_STRLEN];
    char run_id[RT_UUID_STRLEN];
    int64_t seq;
    int64_t ts_us;
    const char *ts; /* the event's own text, "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
    rt_event_type_t type;
    const char *job;
    const char *kind;
    const char *producer_host;
    int64_t producer_pid;
    const char *producer_lib;
    /* run.started */
    rt_json_text_t start_counts, params, planned;
    /* run.phase, run.log */
    const char *phase;
    /* run.progress, run.finished */
    rt_json_text_t counters;
    /* counters' members, read by the decoder when there are at most RT_EV_COUNTERS_READ and no
     * name is escaped (counters_read = 1), so the batch fold need not scan the map again */
    int counters_read;
    size_t ncounters;
    rt_counter_ref_t counter[RT_EV_COUNTERS_READ];
    int has_memory, has_cpu;
    double memory_percent, cpu_percent;
    /* run.log */
    rt_log_level_t level;
    const char *message;
    size_t message_len;
    rt_json_text_t fields;
    /* run.finished */
    rt_run_status_t status;
    rt_json_text_t end_counts;
    const char *error_message;
    rt_json_text_t error_details;
    int finish_wrapper; /* data.source is "wrapper": the finish of the process that ran the run */
    /* run.heartbeat, run.finished */
    int has_dropped_logs;
    int64_t dropped_logs;
} rt_event_t;

/* Decodes buf[0..len). On success returns 0 and fills *ev (release with rt_event_clear). On a
 * bad record returns -1 with *why set and a one-line human explanation in detail; *ev is then
 * empty. max_bytes: records longer than this are rejected as oversize without parsing. */
int rt_decode(const void *buf, size_t len, size_t max_bytes, rt_event_t *ev, rt_dead_reason_t *why,
              char *detail, size_t detail_size);

/* Values the contract allows but a column refuses are bad data too, rejected here (reason
 * schema, detail containing RT_PG_RANGE_MSG) so that one event cannot fail its batch's
 * transaction (docs/events.md, "What PostgreSQL stores"). RT_PG_REAL_FMT is the text the batch
 * sends for a real column (aggregate.c); rt_pg_real_ok(d): 1 when PostgreSQL's real accepts
 * that text for d (float4in: no underflow to 0, no overflow; denormals are kept). */
#define RT_PG_RANGE_MSG "is out of range for PostgreSQL's"
#define RT_PG_REAL_FMT  "%.17g"
int rt_pg_real_ok(double d);

/* Releases what ev owns (safe on a zeroed or already cleared event). */
void rt_event_clear(rt_event_t *ev);

#endif
