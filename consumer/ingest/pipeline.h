/* The consumer's main loop, shared by `run` (group member, fenced PostgreSQL offsets) and
 * `replay` (plain assign, no offsets): poll a batch, decode, write it in one transaction, retry
 * on PostgreSQL failures with capped back-off, re-read offsets when fenced. */
#ifndef RT_CONSUMER_PIPELINE_H
#define RT_CONSUMER_PIPELINE_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "ready.h"

/* Internal counters, for logs now and the /metrics endpoint later. */
typedef struct rt_stats {
    uint64_t events_by_type[RT_EV__COUNT];
    uint64_t dead_by_reason[RT_DEAD__COUNT];
    uint64_t records;   /* Kafka records applied (events + dead letters) */
    uint64_t batches;   /* committed transactions */
    uint64_t db_errors; /* failed batch attempts */
    uint64_t fenced;    /* batches dropped because the offsets fence failed */
    uint64_t rebalances;
    int64_t lag; /* records behind the high watermarks after the last batch (-1 unknown) */
} rt_stats_t;

typedef enum { RT_MODE_RUN, RT_MODE_REPLAY } rt_mode_t;

typedef struct rt_opts {
    rt_mode_t mode;
    int64_t exit_when_idle_ms; /* -1: never; else exit 0 after this long without records */
    /* replay */
    int64_t from_time_us; /* -1: from the beginning */
    int to_end;           /* stop at the high watermarks captured at start */
    /* rt_metrics_t * of the HTTP API (metrics.h) when it runs in-process, else NULL; the
     * pipeline records events, dead letters, batches, lag and db errors into it. */
    void *metrics;
    /* Readiness for /readyz (assigned partitions, brokers down), or NULL: see ready.h. */
    rt_ready_t *ready;
} rt_opts_t;

/* Runs until *stop is set (or idle/to-end). Returns 0 on a clean stop, 1 on a fatal error. */
int rt_pipeline_run(const rt_config_t *cfg, const rt_opts_t *opts,
                    const volatile sig_atomic_t *stop, rt_stats_t *stats);

/* Applies pending migrations over dsn, retrying while PostgreSQL is unreachable. */
int rt_pipeline_migrate(const rt_config_t *cfg, const volatile sig_atomic_t *stop);

#endif
