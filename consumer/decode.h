/* Bytes of one Kafka record → a validated event, or a dead-letter reason. No I/O, no global
 * state: the fuzzing work calls rt_decode directly. The checks are those of docs/events.md and
 * schemas/events.schema.json, plus the few rules the tables need (a discovery run's params must
 * fit its DATE/TEXT[] columns). */
#ifndef RT_CONSUMER_DECODE_H
#define RT_CONSUMER_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_event.h"
#include "rt_uuid.h"

#define RT_DEAD_REASONS(X)                                                                         \
    X(NONE, "none")                                                                                \
    X(INVALID_JSON, "invalid_json")                                                                \
    X(SCHEMA, "schema")                                                                            \
    X(UNKNOWN_TYPE, "unknown_type")                                                                \
    X(UNSUPPORTED_VERSION, "unsupported_version")                                                  \
    X(OVERSIZE, "oversize")                                                                        \
    X(RULE, "rule")

typedef enum rt_dead_reason {
#define X(n, s) RT_DEAD_##n,
    RT_DEAD_REASONS(X)
#undef X
        RT_DEAD__COUNT
} rt_dead_reason_t;

const char *rt_dead_reason_name(rt_dead_reason_t r);

/* A decoded event. Strings and json_t pointers are borrowed from root (owned by the event);
 * absent optional members are NULL (has_* flags for numbers). */
typedef struct rt_event {
    json_t *root;
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
    json_t *start_counts, *params, *planned;
    /* run.phase, run.log */
    const char *phase;
    /* run.progress, run.finished */
    json_t *counters;
    int has_memory, has_cpu;
    double memory_percent, cpu_percent;
    /* run.log */
    rt_log_level_t level;
    const char *message;
    json_t *fields;
    /* run.finished */
    rt_run_status_t status;
    json_t *end_counts;
    const char *error_message;
    json_t *error_details;
    /* run.heartbeat, run.finished */
    int has_dropped_logs;
    int64_t dropped_logs;
} rt_event_t;

/* Decodes buf[0..len). On success returns 0 and fills *ev (release with rt_event_clear). On a
 * bad record returns -1 with *why set and a one-line human explanation in detail; *ev is then
 * empty. max_bytes: records longer than this are rejected as oversize without parsing. */
int rt_decode(const void *buf, size_t len, size_t max_bytes, rt_event_t *ev, rt_dead_reason_t *why,
              char *detail, size_t detail_size);

/* Releases what ev owns (safe on a zeroed or already cleared event). */
void rt_event_clear(rt_event_t *ev);

#endif
