/* Reference decoder (the jansson-tree version of consumer/ingest/decode.c), for tests only: see
 * tests/decode_ref.c. */
#ifndef RT_TESTS_DECODE_REF_H
#define RT_TESTS_DECODE_REF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

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
    int has_dropped_logs;
    int64_t dropped_logs;
} rt_ref_event_t;

int rt_decode_ref(const void *buf, size_t len, size_t max_bytes, rt_ref_event_t *ev,
                  rt_dead_reason_t *why, char *detail, size_t detail_size);
void rt_ref_event_clear(rt_ref_event_t *ev);

#endif
