/* The event vocabulary shared by producer and consumer: one list each of event types, log
 * levels, run statuses and standard counters, from which the enums and their names come.
 * docs/events.md and schemas/events.schema.json describe the same lists; append, never renumber. */
#ifndef RT_EVENT_H
#define RT_EVENT_H

#include <stddef.h>

/* Version of the envelope ("v"). A consumer dead-letters events with a higher version. */
#define RT_SCHEMA_VERSION 1

/* Largest event the producer emits and the consumer accepts (bytes of JSON). */
#define RT_EVENT_MAX_BYTES (1024 * 1024)

/* Field limits of the event contract (docs/events.md), in bytes: the producer refuses longer
 * values at the call and the consumer dead-letters them (schema). */
#define RT_JOB_MAX          200   /* job, e.g. "fb_v2.py" */
#define RT_KIND_MAX         64    /* kind, e.g. "scrape" */
#define RT_PHASE_MAX        64    /* run.phase and a log line's phase */
#define RT_LIB_MAX          64    /* producer.lib */
#define RT_COUNTER_NAME_MAX 64    /* a counter's name */
#define RT_LOG_MESSAGE_MAX  65536 /* a run.log message (the producer cuts longer ones) */

#define RT_EVENT_TYPES(X)                                                                          \
    X(STARTED, "run.started")                                                                      \
    X(PHASE, "run.phase")                                                                          \
    X(PROGRESS, "run.progress")                                                                    \
    X(LOG, "run.log")                                                                              \
    X(PAUSED, "run.paused")                                                                        \
    X(RESUMED, "run.resumed")                                                                      \
    X(HEARTBEAT, "run.heartbeat")                                                                  \
    X(FINISHED, "run.finished")

#define RT_LOG_LEVELS(X)                                                                           \
    X(INFO, "info")                                                                                \
    X(SUCCESS, "success")                                                                          \
    X(WARNING, "warning")                                                                          \
    X(ERROR, "error")

#define RT_RUN_STATUSES(X)                                                                         \
    X(RUNNING, "running")                                                                          \
    X(COMPLETED, "completed")                                                                      \
    X(FAILED, "failed")                                                                            \
    X(PARTIAL, "partial")

/* The seeds' standard counters (absolute values). Any other [a-z0-9_]{1,64} name is allowed too. */
#define RT_STD_COUNTERS(X)                                                                         \
    X(BATCHES_TOTAL, "batches_total")                                                              \
    X(BATCH_CURRENT, "batch_current")                                                              \
    X(SITES_TOTAL, "sites_total")                                                                  \
    X(SITES_COMPLETED, "sites_completed")                                                          \
    X(SITES_IN_PROGRESS, "sites_in_progress")                                                      \
    X(SITES_FAILED, "sites_failed")                                                                \
    X(SITES_PENDING, "sites_pending")                                                              \
    X(API_CALLS, "api_calls")                                                                      \
    X(FOUND, "found")                                                                              \
    X(NEW, "new")                                                                                  \
    X(UPDATED, "updated")                                                                          \
    X(UNCHANGED, "unchanged")                                                                      \
    X(EVALUATIONS_CREATED, "evaluations_created")                                                  \
    X(EVENTS, "events")                                                                            \
    X(URLS, "urls")


typedef enum rt_event_type {
#define X(n, s) RT_EV_##n,
    RT_EVENT_TYPES(X)
#undef X
        RT_EV__COUNT
} rt_event_type_t;

typedef enum rt_log_level {
#define X(n, s) RT_LOG_##n,
    RT_LOG_LEVELS(X)
#undef X
        RT_LOG__COUNT
} rt_log_level_t;

typedef enum rt_run_status {
#define X(n, s) RT_STATUS_##n,
    RT_RUN_STATUSES(X)
#undef X
        RT_STATUS__COUNT
} rt_run_status_t;

typedef enum rt_std_counter {
#define X(n, s) RT_CTR_##n,
    RT_STD_COUNTERS(X)
#undef X
        RT_CTR__COUNT
} rt_std_counter_t;

/* Names for each value; NULL for out-of-range values. */
const char *rt_event_type_name(rt_event_type_t t);
const char *rt_log_level_name(rt_log_level_t l);
const char *rt_run_status_name(rt_run_status_t s);
const char *rt_std_counter_name(rt_std_counter_t c);

/* Reverse lookups: return 0 and set *out, or -1 for an unknown name. */
int rt_event_type_from_name(const char *s, rt_event_type_t *out);
int rt_log_level_from_name(const char *s, rt_log_level_t *out);
int rt_run_status_from_name(const char *s, rt_run_status_t *out);

/* 1 if s is a valid counter name ([a-z0-9_], 1..64 characters, starting with a letter). */
int rt_counter_name_valid(const char *s);

/* 1 if the status ends a run (completed, failed, partial). */
int rt_run_status_terminal(rt_run_status_t s);

/* Appends s to buf as a JSON string literal (quotes included), escaping as RFC 8259 requires;
 * invalid UTF-8 bytes are replaced with U+FFFD so that the output is always valid JSON. Writes at
 * most size-1 bytes plus NUL; returns the length the full output needs (like snprintf). */
size_t rt_json_escape(const char *s, size_t len, char *buf, size_t size);

#endif
