/* The consumer's counters (metrics.h). One mutex guards them all: each is touched a few times
 * per batch, never per record. */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rt_metrics {
    pthread_mutex_t mu;
    rt_metrics_counts_t c;
    rt_metrics_lag_t lags[RT_METRICS_MAX_PARTITIONS];
    size_t nlags;
};

rt_metrics_t *rt_metrics_new(void)
{
    rt_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    m->c.lag_total = -1;
    return m;
}

void rt_metrics_destroy(rt_metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void rt_metrics_events(rt_metrics_t *m, rt_event_type_t t, uint64_t n)
{
    size_t slot = (unsigned)t < RT_EV__COUNT ? (size_t)t : RT_EV__COUNT;
    pthread_mutex_lock(&m->mu);
    m->c.events[slot] += n;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_dead_letters(rt_metrics_t *m, rt_dead_reason_t why, uint64_t n)
{
    size_t slot = (unsigned)why < RT_DEAD__COUNT ? (size_t)why : RT_DEAD__COUNT;
    if (n == 0)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->c.dead[slot] == 0)
        m->c.dead_order[m->c.ndead++] = (unsigned char)slot;
    m->c.dead[slot] += n;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_batch(rt_metrics_t *m, size_t records, double latency_s)
{
    static const double sb[] = RT_METRICS_BATCH_SIZE_BUCKETS;
    static const double lb[] = RT_METRICS_LATENCY_BUCKETS;
    pthread_mutex_lock(&m->mu);
    m->c.batches++;
    m->c.records += records;
    m->c.lat_sum += latency_s;
    /* Buckets are kept non-cumulative and summed when rendered. */
    for (size_t i = 0; i < RT_METRICS_BATCH_SIZE_NBUCKETS; i++)
        if ((double)records <= sb[i]) {
            m->c.size_buckets[i]++;
            break;
        }
    for (size_t i = 0; i < RT_METRICS_LATENCY_NBUCKETS; i++)
        if (latency_s <= lb[i]) {
            m->c.lat_buckets[i]++;
            break;
        }
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_lag(rt_metrics_t *m, const char *topic, int32_t partition, int64_t lag)
{
    if (!topic || strlen(topic) >= RT_METRICS_TOPIC_MAX)
        return;
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->nlags; i++)
        if (m->lags[i].partition == partition && strcmp(m->lags[i].topic, topic) == 0)
            break;
    if (lag < 0) {
        if (i < m->nlags)
            m->lags[i] = m->lags[--m->nlags];
    } else if (i < m->nlags) {
        m->lags[i].lag = lag;
    } else if (m->nlags < RT_METRICS_MAX_PARTITIONS) {
        snprintf(m->lags[i].topic, sizeof m->lags[i].topic, "%s", topic);
        m->lags[i].partition = partition;
        m->lags[i].lag = lag;
        m->nlags++;
    }
    pthread_mutex_unlock(&m->mu);
}

/* One more of a counter, under the lock. */
static void bump(rt_metrics_t *m, uint64_t *counter)
{
    pthread_mutex_lock(&m->mu);
    (*counter)++;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_db_error(rt_metrics_t *m)
{
    bump(m, &m->c.db_errors);
}

void rt_metrics_fenced(rt_metrics_t *m)
{
    bump(m, &m->c.fenced);
}

void rt_metrics_rebalance(rt_metrics_t *m)
{
    bump(m, &m->c.rebalances);
}

void rt_metrics_dead_payload_dropped(rt_metrics_t *m, uint64_t n)
{
    pthread_mutex_lock(&m->mu);
    m->c.dead_payload_dropped += n;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_lag_total(rt_metrics_t *m, int64_t lag)
{
    pthread_mutex_lock(&m->mu);
    m->c.lag_total = lag;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_ingest_wait(rt_metrics_t *m, int64_t since_us)
{
    pthread_mutex_lock(&m->mu);
    m->c.wait_since_us = since_us;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_counts(rt_metrics_t *m, rt_metrics_counts_t *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->c;
    pthread_mutex_unlock(&m->mu);
}

size_t rt_metrics_lags(rt_metrics_t *m, rt_metrics_lag_t *out, size_t max)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->nlags < max ? m->nlags : max;
    memcpy(out, m->lags, n * sizeof *out);
    pthread_mutex_unlock(&m->mu);
    return n;
}
