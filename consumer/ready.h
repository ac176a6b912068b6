/* Readiness of the live consumer for GET /readyz: written by the ingest thread (rebalances,
 * librdkafka's error callback, consumed records), read by API threads. Lock-free C11 atomics;
 * main owns the struct and passes it to the pipeline (rt_opts_t.ready) and the API (ready_arg).
 *
 * Rule (docs/api.md#get-healthz-and-get-readyz):
 *   - partitions: the number of partitions assigned to this consumer, set on every assign and
 *     revoke (-1 before the first rebalance). 0 or -1 is "no partitions assigned".
 *   - brokers_down: set by librdkafka's RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN error; cleared by
 *     anything that proves a broker answered: a consumed record, a group assignment, or the
 *     metadata probe the poll loop sends about once a second while the flag is set.
 *   - db_error_since_us: set by the ingest path when an attempt on PostgreSQL fails for an
 *     environment reason (privilege, read-only, lock timeout, connection...) and is about to
 *     be retried; 0 again after the next success. Non-zero: "database_error".
 *   - wait_since_us: since when records have waited without a commit (0: nothing waits);
 *     older than stall_s (ready_stall_s, 0 = off): "ingest_stalled".
 * The reasons are codes ([a-z_]), the API shows them as they are. The database part of
 * readiness is checked by the API itself (SELECT 1). */
#ifndef RT_CONSUMER_READY_H
#define RT_CONSUMER_READY_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "rt_time.h"

typedef struct rt_ready {
    atomic_int partitions;   /* assigned partitions; -1 until the first assignment */
    atomic_int brokers_down; /* 1 while every broker is known to be unreachable */
    /* Ingest progress (rt_mono_us() times, 0 = none): see the rule above. */
    atomic_llong db_error_since_us;
    atomic_llong wait_since_us;
    atomic_int stall_s;
} rt_ready_t;

static inline void rt_ready_init(rt_ready_t *r)
{
    atomic_init(&r->partitions, -1);
    atomic_init(&r->brokers_down, 0);
    atomic_init(&r->db_error_since_us, 0);
    atomic_init(&r->wait_since_us, 0);
    atomic_init(&r->stall_s, 0);
}

/* Each setter accepts NULL (no API in this process) so callers need no checks. */
static inline void rt_ready_set_partitions(rt_ready_t *r, int n)
{
    if (r)
        atomic_store(&r->partitions, n);
}

static inline void rt_ready_set_brokers_down(rt_ready_t *r, int down)
{
    if (r)
        atomic_store(&r->brokers_down, down ? 1 : 0);
}

static inline int rt_ready_brokers_down(rt_ready_t *r)
{
    return r ? atomic_load(&r->brokers_down) : 0;
}

static inline void rt_ready_set_stall_s(rt_ready_t *r, int stall_s)
{
    if (r)
        atomic_store(&r->stall_s, stall_s);
}

/* failing 1: an ingest attempt on PostgreSQL failed (the first failure of a run is kept);
 * 0: one succeeded. */
static inline void rt_ready_set_db_error(rt_ready_t *r, int failing)
{
    if (!r)
        return;
    if (!failing)
        atomic_store(&r->db_error_since_us, 0);
    else if (atomic_load(&r->db_error_since_us) == 0)
        atomic_store(&r->db_error_since_us, (long long)rt_mono_us());
}

static inline void rt_ready_set_wait_since(rt_ready_t *r, int64_t since_us)
{
    if (r)
        atomic_store(&r->wait_since_us, (long long)since_us);
}

/* The ingest path's reason not to be ready, or NULL: no progress for stall_s while records
 * wait (the worse news), else a database failure being retried. */
static inline const char *rt_ready_ingest(rt_ready_t *r)
{
    long long since = atomic_load(&r->wait_since_us);
    int stall_s = atomic_load(&r->stall_s);
    if (since && stall_s > 0 && rt_mono_us() - since >= (int64_t)stall_s * 1000000)
        return "ingest_stalled";
    return atomic_load(&r->db_error_since_us) ? "database_error" : NULL;
}

/* An rt_api_ready_fn: 1 when ready, else 0 and the reason code in why (brokers_down,
 * no_partitions, ingest_stalled, database_error: what /readyz shows). Never blocks. */
static inline int rt_ready_check(void *arg, char *why, size_t whysize)
{
    rt_ready_t *r = arg;
    if (atomic_load(&r->brokers_down)) {
        snprintf(why, whysize, "brokers_down");
        return 0;
    }
    if (atomic_load(&r->partitions) <= 0) {
        snprintf(why, whysize, "no_partitions");
        return 0;
    }
    const char *ingest = rt_ready_ingest(r);
    if (ingest) {
        snprintf(why, whysize, "%s", ingest);
        return 0;
    }
    return 1;
}

#endif
