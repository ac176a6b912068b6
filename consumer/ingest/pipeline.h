/* The consumer's main loop, shared by `run` (group member, fenced PostgreSQL offsets) and
 * `replay` (plain assign, no offsets): poll a batch while folding it, hand it to the writer
 * thread (writer.h), which writes it in one transaction and retries PostgreSQL failures with
 * capped back-off, and re-read offsets when fenced. */
#ifndef RT_CONSUMER_PIPELINE_H
#define RT_CONSUMER_PIPELINE_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "ready.h"

typedef enum { RT_MODE_RUN, RT_MODE_REPLAY } rt_mode_t;

typedef struct rt_opts {
    rt_mode_t mode;
    int64_t exit_when_idle_ms; /* -1: never; else exit 0 after this long without records */
    /* replay */
    int64_t from_time_us; /* -1: from the beginning */
    int to_end;           /* stop at the high watermarks captured at start */
    /* The counters (never NULL): events, dead letters, batches, lag, db errors, fences and
     * rebalances are recorded there; /metrics and the log's summary read them. */
    rt_metrics_t *metrics;
    /* Readiness for /readyz (assigned partitions, brokers down), or NULL: see ready.h. */
    rt_ready_t *ready;
} rt_opts_t;

/* Runs until *stop is set (or idle/to-end). Returns 0 on a clean stop, 1 on a fatal error. */
int rt_pipeline_run(const rt_config_t *cfg, const rt_opts_t *opts,
                    const volatile sig_atomic_t *stop);

#endif
