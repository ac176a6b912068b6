/* The pipeline's PostgreSQL side: the connection with its retry state (rt_store_t), the batches
 * handed to PostgreSQL (rt_job_t) and the writer thread that writes them, one at a time, while
 * the main thread polls and folds the next one (handoff depth 1). */
#ifndef RT_CONSUMER_WRITER_H
#define RT_CONSUMER_WRITER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "batch.h"
#include "metrics.h"
#include "parts.h"
#include "pg_out.h"
#include "ready.h"
#include "rt_attr.h"

/* The connection and its back-off. The writer thread uses it while a job is in flight, the
 * main thread only when none is. */
typedef struct rt_store {
    rt_pg_t *pg;
    rt_backoff_t bo;
    rt_metrics_t *m;
    rt_ready_t *ready; /* may be NULL (replay, no API) */
    const volatile sig_atomic_t *stop;
    int64_t wait_since; /* rt_store_wait: since when records wait uncommitted, 0: none */
} rt_store_t;

/* Records have waited without a commit since since_us (rt_mono_us; 0: nothing waits): kept for
 * /metrics (runtrack_ingest_stalled_seconds) and /readyz (ingest_stalled). */
void rt_store_wait(rt_store_t *s, int64_t since_us);

/* Connects, retrying with back-off until it works or *stop. Returns 0, or -1 when stopped. */
int rt_store_connect(rt_store_t *s) RT_MUSTCHECK;

/* After a failed attempt at what (err: why), an environment error: counts it, shows it in
 * /readyz (database_error) until rt_store_ok, waits the back-off, and reconnects when the
 * connection is down. Ingestion waits while it fails, so the stall clock runs. */
void rt_store_retry(rt_store_t *s, const char *what, const char *err);

/* After a successful attempt: the back-off starts over and /readyz forgets the failure. */
void rt_store_ok(rt_store_t *s);

/* What became of a job. */
typedef enum { RT_APPLY_OK, RT_APPLY_FENCED, RT_APPLY_STOPPED, RT_APPLY_FATAL } rt_apply_t;

/* One batch handed to the writer thread: the records folded as they were polled (the Kafka
 * messages are gone by then), and the fence positions: next per partition collected while
 * polling, expected filled in by the main thread from the offsets PostgreSQL holds after the
 * previous batch. */
typedef struct rt_job {
    rt_batch_t *b;
    rt_part_pos_t *pos;
    size_t npos, pos_cap;
    /* Results, read by the main thread once the writer is done with the job. */
    rt_apply_t arc;
    rt_batch_result_t res;
    uint64_t records; /* records committed */
    double write_s;   /* time of the committing attempt(s) */
    /* Writer thread timing (microseconds). */
    int64_t w_idle_us;    /* writer idle before it took this job */
    int64_t w_busy_us;    /* all attempts, retries and back-off included */
    int64_t w_release_us; /* freeing the batch afterwards */
} rt_job_t;

/* An empty job for records of topic. Returns 0, or -1 when out of memory (rt_job_free it). */
int rt_job_init(rt_job_t *j, const char *topic, size_t max_event_bytes) RT_MUSTCHECK;
void rt_job_free(rt_job_t *j);
/* Notes that the job holds record offset of partition p: the fence moves p past it. Returns 0,
 * or -1 when out of memory. */
int rt_job_note_position(rt_job_t *j, int32_t p, int64_t offset) RT_MUSTCHECK;

typedef struct rt_writer rt_writer_t;

/* Starts the writer thread over s, writing offsets for group (NULL: replay, none) on topic.
 * Returns NULL when the thread could not start. */
rt_writer_t *rt_writer_start(rt_store_t *s, const char *group, const char *topic);
/* Hands j over (the previous job must be finished: rt_writer_wait). Main thread. */
void rt_writer_submit(rt_writer_t *w, rt_job_t *j);
/* Waits until the job handed over last is finished (its results are then in it). */
void rt_writer_wait(rt_writer_t *w);
/* Stops the thread (after the job in flight) and frees w. NULL is a no-op. */
void rt_writer_stop(rt_writer_t *w);

#endif
