/* The consumer's counters, kept once: the ingest pipeline records into them (events by type,
 * dead letters by reason, batches, failed database attempts, fences, rebalances, lag), the exit
 * summary in the log reads them, and the HTTP API renders them at GET /metrics (api/prom.c).
 *
 * main owns one rt_metrics_t (rt_metrics_new, rt_metrics_destroy after the pipeline and the API
 * have stopped) and always creates it, so the log and /metrics read the same numbers. Counters
 * are indexed by the enums of the event vocabulary (rt_event.h) and the dead-letter reasons
 * (dead_reason.h), so no name is looked up on the way in. Recording takes a short mutex
 * and never blocks on I/O; any thread may record or read. No libpq, no HTTP here. */
#ifndef RT_METRICS_H
#define RT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "dead_reason.h"
#include "rt_event.h"

typedef struct rt_metrics rt_metrics_t;

/* Histogram bucket upper bounds (the +Inf bucket is implicit). */
#define RT_METRICS_BATCH_SIZE_BUCKETS                                                              \
    {                                                                                              \
        1, 10, 50, 100, 250, 500, 1000, 5000                                                       \
    }
#define RT_METRICS_BATCH_SIZE_NBUCKETS 8
#define RT_METRICS_LATENCY_BUCKETS                                                                 \
    {                                                                                              \
        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5                                        \
    }
#define RT_METRICS_LATENCY_NBUCKETS 10

/* (topic, partition) lag entries kept, and the longest topic name kept: more partitions are
 * dropped and a longer topic is not recorded, so that the label set stays bounded. */
#define RT_METRICS_MAX_PARTITIONS 512
#define RT_METRICS_TOPIC_MAX      128

/* Returns a zeroed metrics object, or NULL when out of memory. */
rt_metrics_t *rt_metrics_new(void);
/* Frees m; NULL is a no-op. Nobody may record into or read m afterwards. */
void rt_metrics_destroy(rt_metrics_t *m);

/* n events of type t committed; a t outside the vocabulary counts as "other". */
void rt_metrics_events(rt_metrics_t *m, rt_event_type_t t, uint64_t n);
/* n records dead-lettered with reason why; an out-of-range reason counts as "other". */
void rt_metrics_dead_letters(rt_metrics_t *m, rt_dead_reason_t why, uint64_t n);
/* One batch committed to PostgreSQL: its number of records and the time its write took, in
 * seconds. */
void rt_metrics_batch(rt_metrics_t *m, size_t records, double latency_s);
/* Current lag (high watermark - next offset) of one partition; -1 forgets it. */
void rt_metrics_lag(rt_metrics_t *m, const char *topic, int32_t partition, int64_t lag);
/* Lag summed over the assigned partitions (-1: unknown), for the log. */
void rt_metrics_lag_total(rt_metrics_t *m, int64_t lag);
/* One failed database attempt on the ingest path that is waited out (connection, server,
 * locks...): /metrics' runtrack_db_errors_total. */
void rt_metrics_db_error(rt_metrics_t *m);
/* Since when (rt_mono_us) records have waited without a commit; 0: nothing waits. /metrics
 * shows the seconds since as runtrack_ingest_stalled_seconds. */
void rt_metrics_ingest_wait(rt_metrics_t *m, int64_t since_us);
/* One batch dropped because the offsets fence failed. */
void rt_metrics_fenced(rt_metrics_t *m);
/* One rebalance (assign or revoke) handled. */
void rt_metrics_rebalance(rt_metrics_t *m);
/* n dead letters stored without their payload: the day's dead-letter cap was reached. */
void rt_metrics_dead_payload_dropped(rt_metrics_t *m, uint64_t n);

/* A consistent copy of the counters. events[RT_EV__COUNT] and dead[RT_DEAD__COUNT] are the
 * "other" slots; dead_order lists the reasons (slots of dead[]) in the order they were first
 * recorded, which is the order /metrics shows them in. Buckets are not cumulative. */
typedef struct rt_metrics_counts {
    uint64_t events[RT_EV__COUNT + 1];
    uint64_t dead[RT_DEAD__COUNT + 1];
    unsigned char dead_order[RT_DEAD__COUNT + 1];
    size_t ndead;
    uint64_t batches;
    uint64_t records; /* records committed: the sum of the batch sizes */
    uint64_t size_buckets[RT_METRICS_BATCH_SIZE_NBUCKETS];
    uint64_t lat_buckets[RT_METRICS_LATENCY_NBUCKETS];
    double lat_sum;
    uint64_t db_errors;
    uint64_t fenced;
    uint64_t rebalances;
    int64_t lag_total;
    int64_t wait_since_us; /* rt_metrics_ingest_wait; 0: nothing waits */
    uint64_t dead_payload_dropped; /* dead letters stored without payload (daily cap) */
} rt_metrics_counts_t;

void rt_metrics_counts(rt_metrics_t *m, rt_metrics_counts_t *out);

/* One partition's lag as rt_metrics_lag last recorded it. */
typedef struct rt_metrics_lag {
    char topic[RT_METRICS_TOPIC_MAX];
    int32_t partition;
    int64_t lag;
} rt_metrics_lag_t;

/* Copies up to max lag entries (in the order they were first recorded) into out; returns how
 * many. */
size_t rt_metrics_lags(rt_metrics_t *m, rt_metrics_lag_t *out, size_t max);

#endif
