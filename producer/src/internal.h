/* libruntrack internals shared by conf.c and client.c. Nothing here is exported. */
#ifndef RT_PRODUCER_INTERNAL_H
#define RT_PRODUCER_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "rt_attr.h"
#include "runtrack.h"

/* Settings (pgbouncer-style one table in conf.c); runtrack_conf_t is this plus librdkafka's. */
struct runtrack_conf_s {
    char *brokers;
    char *topic;
    char *host;
    int64_t heartbeat_interval_ms;
    int64_t log_queue_max;
    int64_t retry_backoff_ms;
    int64_t verbose;
    char *spool_dir;           /* NULL: no spool (the library's default) */
    int64_t spool_max_bytes;   /* the spool's size bound (spool.h) */
    int kafka_bootstrap_set;   /* kafka.bootstrap.servers given explicitly: brokers is ignored */
    int kafka_timeout_set;     /* kafka.message.timeout.ms given explicitly */
    int kafka_compression_set; /* kafka.compression.type/codec given explicitly */
    rd_kafka_conf_t *kconf;    /* pass-through properties only */
    runtrack_failure_cb *failure_cb;
    void *failure_opaque;
};

/* Builds a librdkafka conf for a new handle from conf (a copy; caller owns the result).
 * Returns NULL with errstr on failure. */
rd_kafka_conf_t *rt_conf_kafka(const runtrack_conf_t *conf, char *errstr, size_t errstr_size);

/* Writes "fmt" into errstr if there is one. */
void rt_seterr(char *errstr, size_t errstr_size, const char *fmt, ...) RT_PRINTF(3, 4);

/* Sets the phase the run's later log lines carry, without recording run.phase: for a process
 * that attached to a run whose phase another process set (the CLI remembers it per run). */
void rt_run_set_phase(runtrack_run_t *run, const char *phase);

/* Tests only: makes the background thread raise a librdkafka fatal error on its current handle
 * (rd_kafka_test_fatal_error), exercising the handle recreation path. */
void rt_test_inject_fatal(runtrack_t *rt);

/* Tests only: the log-event pools' state (lock taken). Returns the number of pools; fills, for
 * each pool i < n, slot_size[i], total[i] (slots in chunks) and in_use[i] (taken, not yet
 * reclaimed). */
int rt_test_pool_stats(runtrack_t *rt, size_t n, size_t *slot_size, size_t *total, size_t *in_use);

#endif
