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
 * The database part of readiness is checked by the API itself (SELECT 1). */
#ifndef RT_CONSUMER_READY_H
#define RT_CONSUMER_READY_H

#include <stdatomic.h>
#include <stdio.h>

typedef struct rt_ready {
    atomic_int partitions;   /* assigned partitions; -1 until the first assignment */
    atomic_int brokers_down; /* 1 while every broker is known to be unreachable */
} rt_ready_t;

static inline void rt_ready_init(rt_ready_t *r)
{
    atomic_init(&r->partitions, -1);
    atomic_init(&r->brokers_down, 0);
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

/* An rt_api_ready_fn: 1 when ready, else 0 and the reason code in why (brokers_down,
 * no_partitions: what /readyz shows). Never blocks. */
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
    return 1;
}

#endif
