/* Reference decoder (the jansson-tree version of consumer/ingest/decode.c), for tests only: see
 * tests/decode_ref.c. */
#ifndef RT_TESTS_DECODE_REF_H
#define RT_TESTS_DECODE_REF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ingest/decode.h"

/* The old rt_event_t: strings and json_t pointers borrowed from root. */
typedef struct rt_ref_event {
    json_t *root;
    char event_id[RT_UUID_STRLEN];
    char run_id[RT_UUID_STRLEN];
    int64_t seq;
    int64_t ts_us;
    const char *ts;
    rt_event_type_t type;
    const char *job;
    const char *kind;
    const char *producer_host;
    int64_t producer_pid;
    const char *producer_lib;
    json_t *start_counts, *params, *planned;
    const char *phase;
    json_t *counters;
    int has_memory, has_cpu;
    double memory_percent, cpu_percent;
    rt_log_level_t level;
    const char *message;
    json_t *fields;
    rt_run_status_t status;
    json_t *end_counts;
    const char *error_message;
    json_t *error_details;
    int finish_wrapper;
    int has_dropped_logs;
    int64_t dropped_logs;
} rt_ref_event_t;

int rt_decode_ref(const void *buf, size_t len, size_t max_bytes, rt_ref_event_t *ev,
                  rt_dead_reason_t *why, char *detail, size_t detail_size);
void rt_ref_event_clear(rt_ref_event_t *ev);

/* Runs both decoders on buf[0..len) with limit max_bytes and holds the new one to the reference.
 * Returns NULL when they agree, else what differs: "verdict/reason", "detail" (only when details
 * is non-zero: the same text for every rejection but jansson's own parse messages, which are not
 * reproduced), "NUL byte", "storage range" (the two deliberate differences, when their claim does
 * not hold: see decode_ref.c), a group of fields ("ids", "seq/ts", ...), or a broken promise of
 * rt_decode alone ("decoded event", "rejection"). Agreement means the same verdict, the same
 * dead-letter reason and, for decoded events, the same fields (strings equal; object texts load,
 * strictly, to values equal to jansson's). Every string of a decoded event is read back, so a
 * sanitizer sees any dangling pointer. With log non-NULL, a difference of verdict or detail is
 * described there. */
const char *rt_decode_compare(const void *buf, size_t len, size_t max_bytes, int details,
                              FILE *log);

#endif
