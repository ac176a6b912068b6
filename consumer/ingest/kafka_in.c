#include "kafka_in.h"

#include <librdkafka/rdkafka.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "rt_time.h"

_Static_assert(RT_KIN_OFFSET_BEGINNING == RD_KAFKA_OFFSET_BEGINNING, "logical offset");
_Static_assert(RT_KIN_OFFSET_END == RD_KAFKA_OFFSET_END, "logical offset");

/* One assigned partition's lag, under wmu: where PostgreSQL holds it and its high watermark as
 * last asked (-1: not known yet). */
typedef struct lag_part {
    int32_t partition;
    int64_t next;
    int64_t hw;
} lag_part_t;

struct rt_kin {
    rd_kafka_t *rk;
    int use_group;
    int pending;                                     /* rebalance waiting for the main loop */
    rd_kafka_topic_partition_list_t *pending_assign; /* NULL: revoked */
    rt_ready_t *ready;                               /* readiness for /readyz, may be NULL */
    int64_t next_probe_us;     /* while all brokers are down: when to probe for them again */
    int64_t last_batch_us;     /* when the previous non-empty batch was handed to the caller */
    int64_t last_trim_us;      /* when free heap pages were last given back (malloc_trim) */
    rt_kin_poll_times_t times; /* of the last rt_kin_poll_each */
    /* The waker thread (see waker_main): asks each partition leader for its high watermark when
     * the main loop signals, so that broker threads parked on a full fetch queue wake up. */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    pthread_t wth;
    int w_init, w_started;
    int w_want, w_quit;
    rd_kafka_topic_partition_list_t *w_parts; /* copy of the current assignment, under wmu */
    uint64_t kicks;                           /* requests sent (tests, logs) */
    /* Lag for /metrics (rt_kin_set_metrics), under wmu: the waker thread refreshes the high
     * watermarks every RT_KIN_LAG_REFRESH_MS whether or not batches commit, so the gauges
     * show a backlog that a stalled PostgreSQL holds back. */
    rt_metrics_t *lag_m;
    lag_part_t *lp;
    size_t nlp;
    char lp_topic[RT_METRICS_TOPIC_MAX];
};

/* The lag gauges from lp (wmu held): hw - next per partition where both are known, and their
 * sum (-1 when none is known). */
static void publish_lag(rt_kin_t *kin)
{
    if (!kin->lag_m)
        return;
    int64_t total = kin->nlp ? -1 : 0;
    for (size_t i = 0; i < kin->nlp; i++) {
        const lag_part_t *p = &kin->lp[i];
        if (p->next < 0 || p->hw < 0)
            continue;
        int64_t lag = p->hw > p->next ? p->hw - p->next : 0;
        rt_metrics_lag(kin->lag_m, kin->lp_topic, p->partition, lag);
        total = (total < 0 ? 0 : total) + lag;
    }
    rt_metrics_lag_total(kin->lag_m, total);
}

static lag_part_t *lag_find(rt_kin_t *kin, int32_t partition)
{
    for (size_t i = 0; i < kin->nlp; i++)
        if (kin->lp[i].partition == partition)
            return &kin->lp[i];
    return NULL;
}

/* The lag partitions become those of parts (NULL: none; wmu held): a partition that stays
 * keeps what is known of it unless parts holds a real offset for it; one that left leaves the
 * gauges. */
static void lag_set_parts(rt_kin_t *kin, const rd_kafka_topic_partition_list_t *parts)
{
    size_t n = parts ? (size_t)parts->cnt : 0;
    lag_part_t *np = n ? calloc(n, sizeof *np) : NULL;
    size_t k = 0;
    for (size_t i = 0; np && i < n; i++) {
        const rd_kafka_topic_partition_t *t = &parts->elems[i];
        const lag_part_t *old = lag_find(kin, t->partition);
        np[k].partition = t->partition;
        np[k].next = t->offset >= 0 ? t->offset : old ? old->next : -1;
        np[k].hw = old ? old->hw : -1;
        k++;
    }
    for (size_t i = 0; kin->lag_m && i < kin->nlp; i++) {
        size_t j = 0;
        while (j < k && np[j].partition != kin->lp[i].partition)
            j++;
        if (j == k)
            rt_metrics_lag(kin->lag_m, kin->lp_topic, kin->lp[i].partition, -1);
    }
    if (n && parts->elems[0].topic)
        snprintf(kin->lp_topic, sizeof kin->lp_topic, "%s", parts->elems[0].topic);
    free(kin->lp);
    kin->lp = np;
    kin->nlp = k;
    publish_lag(kin);
}

/* The high watermarks a waker request returned (l: offsets asked as "latest"; wmu held). */
static void lag_note_watermarks(rt_kin_t *kin, const rd_kafka_topic_partition_list_t *l)
{
    for (int i = 0; i < l->cnt; i++) {
        lag_part_t *p = lag_find(kin, l->elems[i].partition);
        if (p && !l->elems[i].err && l->elems[i].offset >= 0)
            p->hw = l->elems[i].offset;
    }
    publish_lag(kin);
}

/* Waits on wcv (wmu held) until signalled or the monotonic time until_us. */
static void waker_wait(rt_kin_t *kin, int64_t until_us)
{
    int64_t left = until_us - rt_mono_us();
    if (left <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(left / 1000000);
    ts.tv_nsec += (long)(left % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&kin->wcv, &kin->wmu, &ts);
}

/* (wmu held) librdkafka gives the group's partitions up by itself when the main loop has not
 * polled for max.poll.interval.ms (PostgreSQL held a batch that long) or the session timed out;
 * the revoke reaches rebalance_cb only at the next poll. Another member may own them already:
 * their lag is not this instance's to report, so they leave the gauges (and the waker's list)
 * now, not when the main loop gets back, and /readyz says no_partitions. The revoke and the
 * next assign then go as usual (librdkafka clears the flag before that assign, and the main
 * loop's waker_set_parts waits for wmu, so a new assignment is never dropped here). */
static void waker_check_lost(rt_kin_t *kin)
{
    if (!kin->use_group || !kin->w_parts || !rd_kafka_assignment_lost(kin->rk))
        return;
    rt_log(RT_L_WARN, "partitions lost to the group, dropping their lag",
           "count=%d reason=\"max.poll.interval.ms exceeded or session timed out\"",
           kin->w_parts->cnt);
    rd_kafka_topic_partition_list_destroy(kin->w_parts);
    kin->w_parts = NULL;
    lag_set_parts(kin, NULL);
    rt_ready_set_partitions(kin->ready, 0);
}

/* librdkafka 2.0.2 parks a partition's fetcher without a wake-up time once the consumer queue
 * holds queued.max.messages.kbytes; the broker thread then sleeps until some other event on
 * its connection or its 1 s idle timer, even after the application has drained the queue (its
 * fetch.queue.backoff.ms appeared in 2.2). Under a backlog that left the queue empty ~half of
 * the time (200k-event run: 11.5 s -> 6.4 s with these wake-ups, same 2 MiB queue). A ListOffsets
 * request (rd_kafka_offsets_for_times) to every leader is the cheapest public call that wakes
 * each broker thread, which then re-decides its fetches. It blocks for a round trip, hence this
 * thread; requests coalesce (at most one in flight). */
static void *waker_main(void *arg)
{
    rt_kin_t *kin = arg;
    int64_t refresh_at = rt_mono_us() + RT_KIN_LAG_REFRESH_MS * 1000LL;
    pthread_mutex_lock(&kin->wmu);
    while (1) {
        /* Without metrics there is no lag to refresh: only kicks wake the thread. */
        while (!kin->w_want && !kin->w_quit && (!kin->lag_m || rt_mono_us() < refresh_at)) {
            if (kin->lag_m)
                waker_wait(kin, refresh_at);
            else
                pthread_cond_wait(&kin->wcv, &kin->wmu);
        }
        if (kin->w_quit)
            break;
        int kicked = kin->w_want;
        kin->w_want = 0;
        refresh_at = rt_mono_us() + RT_KIN_LAG_REFRESH_MS * 1000LL;
        waker_check_lost(kin);
        rd_kafka_topic_partition_list_t *l =
            kin->w_parts ? rd_kafka_topic_partition_list_copy(kin->w_parts) : NULL;
        pthread_mutex_unlock(&kin->wmu);
        int sent = 0;
        if (l && l->cnt > 0) {
            for (int i = 0; i < l->cnt; i++)
                l->elems[i].offset = RD_KAFKA_OFFSET_END; /* "latest": the high watermark */
            /* Errors (a broker down) need no handling: the fetcher reports them itself, and
             * the lag keeps the watermarks last known. */
            (void)rd_kafka_offsets_for_times(kin->rk, l, RT_KIN_WAKE_TIMEOUT_MS);
            sent = 1;
        }
        pthread_mutex_lock(&kin->wmu);
        if (sent)
            lag_note_watermarks(kin, l);
        if (l)
            rd_kafka_topic_partition_list_destroy(l);
        kin->kicks += (uint64_t)(sent && kicked);
    }
    pthread_mutex_unlock(&kin->wmu);
    return NULL;
}

static void waker_kick(rt_kin_t *kin)
{
    if (!kin->w_started)
        return;
    pthread_mutex_lock(&kin->wmu);
    kin->w_want = 1;
    pthread_cond_signal(&kin->wcv);
    pthread_mutex_unlock(&kin->wmu);
}

/* Replaces the waker's copy of the assignment (NULL: none), and the lag's partitions with it. */
static void waker_set_parts(rt_kin_t *kin, const rd_kafka_topic_partition_list_t *parts)
{
    if (!kin->w_init)
        return;
    rd_kafka_topic_partition_list_t *c = parts ? rd_kafka_topic_partition_list_copy(parts) : NULL;
    pthread_mutex_lock(&kin->wmu);
    if (kin->w_parts)
        rd_kafka_topic_partition_list_destroy(kin->w_parts);
    kin->w_parts = c;
    lag_set_parts(kin, parts);
    pthread_mutex_unlock(&kin->wmu);
}

static void waker_stop(rt_kin_t *kin)
{
    if (kin->w_started) {
        pthread_mutex_lock(&kin->wmu);
        kin->w_quit = 1;
        pthread_cond_signal(&kin->wcv);
        pthread_mutex_unlock(&kin->wmu);
        pthread_join(kin->wth, NULL);
        kin->w_started = 0;
    }
    if (kin->w_init) {
        if (kin->w_parts)
            rd_kafka_topic_partition_list_destroy(kin->w_parts);
        kin->w_parts = NULL;
        free(kin->lp);
        kin->lp = NULL;
        kin->nlp = 0;
        pthread_mutex_destroy(&kin->wmu);
        pthread_cond_destroy(&kin->wcv);
        kin->w_init = 0;
    }
}

/* Called from rd_kafka_consumer_poll (main thread). A revoke is applied at once (the partitions
 * are gone either way); an assign is only recorded: the main loop first reads the stored
 * offsets from PostgreSQL, which may take retries, then assigns with them. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    rt_kin_t *kin = opaque;
    if (kin->pending_assign) {
        rd_kafka_topic_partition_list_destroy(kin->pending_assign);
        kin->pending_assign = NULL;
    }
    kin->pending = 1;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        kin->pending_assign = rd_kafka_topic_partition_list_copy(parts);
        /* The group coordinator answered: a broker is reachable. */
        rt_ready_set_brokers_down(kin->ready, 0);
        rt_log(RT_L_INFO, "partitions assigned by the group", "count=%d", parts->cnt);
    } else {
        rt_log(RT_L_INFO, "partitions revoked", "count=%d reason=\"%s\"", parts ? parts->cnt : 0,
               rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
        waker_set_parts(kin, NULL);
    }
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    rt_log(level <= 3   ? RT_L_ERROR
           : level <= 4 ? RT_L_WARN
                        : RT_L_INFO,
           buf, "source=librdkafka facility=%s", fac);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    rt_kin_t *kin = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        rt_ready_set_brokers_down(kin->ready, 1);
    /* librdkafka reconnects by itself; this only tells the operator what is going on. */
    rt_log(RT_L_WARN, reason, "source=librdkafka error=%s", rd_kafka_err2name(err));
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
               size_t errsize)
{
    char e[256];
    if (rd_kafka_conf_set(conf, name, value, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errsize, "kafka property %s: %s", name, e);
        return -1;
    }
    return 0;
}

rt_kin_t *rt_kin_new(const rt_config_t *cfg, int use_group, char *err, size_t errsize)
{
    rt_kin_t *kin = calloc(1, sizeof *kin);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[512];
    if (!kin || !conf) {
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    kin->use_group = use_group;
    /* Replay never joins: a private group id keeps it away from the live group's offsets. */
    snprintf(group, sizeof group, "%s%s", cfg->group, use_group ? "" : "-replay");
    if (set(conf, "bootstrap.servers", cfg->brokers, err, errsize) ||
        set(conf, "group.id", group, err, errsize) ||
        set(conf, "client.id", cfg->client_id, err, errsize) ||
        set(conf, "enable.auto.commit", "false", err, errsize) ||
        set(conf, "enable.auto.offset.store", "false", err, errsize) ||
        set(conf, "auto.offset.reset", "earliest", err, errsize) ||
        set(conf, "enable.partition.eof", "false", err, errsize) ||
        /* librdkafka prefetches up to 64 MiB by default, which alone broke the 64 MiB RSS
         * target; 2 MiB is about one default batch ahead, enough while PostgreSQL writes the
         * current one (200k-event backlog: peak RSS 110 -> 88 MiB next to 8 MiB). */
        set(conf, "queued.max.messages.kbytes", RT_KIN_QUEUED_MAX_KBYTES, err, errsize) ||
        /* The first fetch size per partition (librdkafka: 1 MiB). A fetch response holds up to
         * this per partition, so 64 partitions on 3 brokers meant ~21 MiB responses plus their
         * decompressed copies during replay. librdkafka grows it by itself for a larger record,
         * so a 10 MB record still reaches the decoder (and becomes an oversize dead letter). */
        set(conf, "fetch.message.max.bytes", RT_KIN_FETCH_MESSAGE_MAX_BYTES, err, errsize) ||
        /* A broker that holds an empty fetch for librdkafka's default 500 ms puts that much on
         * the freshness p99 (make bench: p99 720 -> 304 ms at 20 ms); 50 ms costs an idle
         * consumer ~20 small requests/s per broker. Overridable like the ones above. */
        set(conf, "fetch.wait.max.ms", RT_KIN_FETCH_WAIT_MAX_MS, err, errsize))
        goto fail;
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (set(conf, cfg->kafka_names[i], cfg->kafka_values[i], err, errsize))
            goto fail;
    rd_kafka_conf_set_opaque(conf, kin);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (use_group)
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    char e[512];
    kin->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!kin->rk) {
        snprintf(err, errsize, "kafka consumer: %s", e);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    rd_kafka_poll_set_consumer(kin->rk);
    if (pthread_mutex_init(&kin->wmu, NULL) != 0) {
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    if (pthread_cond_init(&kin->wcv, NULL) != 0) {
        pthread_mutex_destroy(&kin->wmu);
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    kin->w_init = 1;
    if (pthread_create(&kin->wth, NULL, waker_main, kin) != 0) {
        snprintf(err, errsize, "could not start the fetch waker thread");
        goto fail;
    }
    kin->w_started = 1;
    if (use_group && strcmp(rd_kafka_rebalance_protocol(kin->rk), "COOPERATIVE") == 0) {
        snprintf(err, errsize,
                 "partition.assignment.strategy: cooperative rebalancing is not "
                 "supported; use range or roundrobin");
        goto fail;
    }
    return kin;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (kin)
        waker_stop(kin);
    if (kin && kin->rk)
        rd_kafka_destroy(kin->rk);
    free(kin);
    return NULL;
}

void rt_kin_destroy(rt_kin_t *kin, int timeout_ms)
{
    if (!kin)
        return;
    waker_stop(kin); /* before the handle it uses goes away */
    if (kin->rk) {
        /* Leave the group through the async close so that a dead broker cannot hold the exit
         * past timeout_ms. */
        rd_kafka_queue_t *q = rd_kafka_queue_new(kin->rk);
        rd_kafka_error_t *e = rd_kafka_consumer_close_queue(kin->rk, q);
        int64_t deadline = rt_mono_us() + (int64_t)timeout_ms * 1000;
        if (e) {
            rt_log(RT_L_WARN, "consumer close failed", "error=\"%s\"", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        } else {
            while (!rd_kafka_consumer_closed(kin->rk) && rt_mono_us() < deadline) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
                if (!ev)
                    continue;
                if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                    rt_log(RT_L_INFO, "partitions revoked", "reason=close");
                    rd_kafka_assign(kin->rk, NULL);
                }
                rd_kafka_event_destroy(ev);
            }
        }
        int closed = rd_kafka_consumer_closed(kin->rk);
        rd_kafka_queue_destroy(q);
        if (closed) {
            rt_log(RT_L_INFO, "left the consumer group", NULL);
            rd_kafka_destroy(kin->rk);
        } else {
            rt_log(RT_L_WARN, "leaving the consumer group timed out", "timeout_ms=%d", timeout_ms);
            rd_kafka_destroy_flags(kin->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        }
    }
    if (kin->pending_assign)
        rd_kafka_topic_partition_list_destroy(kin->pending_assign);
    free(kin);
}

int rt_kin_conf_get(rt_kin_t *kin, const char *name, char *out, size_t size)
{
    return rd_kafka_conf_get(rd_kafka_conf(kin->rk), name, out, &size) == RD_KAFKA_CONF_OK ? 0
                                                                                           : -1;
}

/* A partition list of topic's parts[0..n), at offsets[i] when offsets is not NULL. */
static rd_kafka_topic_partition_list_t *plist(const char *topic, const int32_t *parts,
                                              const int64_t *offsets, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)(n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_add(l, topic, parts[i]);
        if (offsets)
            t->offset = offsets[i];
    }
    return l;
}

int rt_kin_subscribe(rt_kin_t *kin, const char *topic, char *err, size_t errsize)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(kin->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errsize, "subscribe %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void rt_kin_set_ready(rt_kin_t *kin, rt_ready_t *ready)
{
    kin->ready = ready;
}

void rt_kin_set_metrics(rt_kin_t *kin, rt_metrics_t *m)
{
    pthread_mutex_lock(&kin->wmu);
    kin->lag_m = m;
    pthread_cond_signal(&kin->wcv); /* the waker starts its refresh timer */
    pthread_mutex_unlock(&kin->wmu);
}

void rt_kin_note_committed(rt_kin_t *kin, const rt_part_pos_t *pos, size_t n)
{
    pthread_mutex_lock(&kin->wmu);
    for (size_t i = 0; i < n; i++) {
        lag_part_t *p = lag_find(kin, pos[i].partition);
        if (p && pos[i].next > p->next)
            p->next = pos[i].next;
    }
    publish_lag(kin);
    pthread_mutex_unlock(&kin->wmu);
}

/* librdkafka reports "all brokers down" but not their return, and an idle consumer may fetch
 * nothing for a long time: while the flag is set, ask for metadata (any broker answers) at most
 * once a second, waiting at most 500 ms, so /readyz turns ready again soon after an outage. */
static void probe_brokers(rt_kin_t *kin)
{
    if (!rt_ready_brokers_down(kin->ready) || rt_mono_us() < kin->next_probe_us)
        return;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(kin->rk, 0, NULL, &md, 500);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rt_ready_set_brokers_down(kin->ready, 0);
        rt_log(RT_L_INFO, "brokers reachable again", NULL);
    }
    kin->next_probe_us = rt_mono_us() + 1000000;
}

/* Waits up to max_ms for the first record, then closes the batch at max records, max_ms after
 * its FIRST record, or as soon as librdkafka's queue is empty once the batch has been open at
 * least as long as the caller spent on the previous batch, whichever comes first.
 * Waiting out max_ms while a few records sit in the batch only adds latency; closing at the
 * first empty queue does too, differently: each transaction has a fixed cost (~25 ms on the
 * loaded bench machine), and 60-record batches kept the consumer ~85% busy, so records queued
 * behind commits (2,000 events/s: p50 145 -> 90 ms but p99 230 -> 300+ ms). Collecting for at
 * least the previous batch's processing time keeps the loop at most about half busy. Under a
 * backlog the queue is never empty, so batches still fill to max. */
size_t rt_kin_poll_each(rt_kin_t *kin, size_t max, int max_ms, const volatile sig_atomic_t *stop,
                        rt_kin_take_fn take, void *arg)
{
    size_t n = 0;
    int64_t t0 = rt_mono_us();
    int64_t deadline = t0 + (int64_t)max_ms * 1000;
    /* Time the caller spent on the previous batch (decode, PostgreSQL), or 0 after an idle poll. */
    int64_t busy = kin->last_batch_us > 0 ? t0 - kin->last_batch_us : 0;
    int64_t min_close = t0 + busy;
    int64_t first_us = -1;
    memset(&kin->times, 0, sizeof kin->times);
    probe_brokers(kin);
    /* Records came last time: a backlog may have filled the fetch queue and parked the broker
     * threads; the previous batch has been taken off the queue since, so wake them now. */
    if (busy > 0)
        waker_kick(kin);
#ifdef __GLIBC__
    /* The previous batch (records, decoded events, SQL buffers) has just been freed: give the
     * free pages back, at most once a second (a few ms). Fragmented free heap otherwise piles
     * up over a long run (1M-event replay: peak RSS 63-65 -> 56 MiB). */
    if (busy > 0 && t0 - kin->last_trim_us > 1000000) {
        malloc_trim(0);
        kin->last_trim_us = t0;
        kin->times.trim_us = rt_mono_us() - t0;
    }
#endif
    while (n < max && !*stop && !kin->pending) {
        int64_t now = rt_mono_us();
        int64_t until = n == 0 ? deadline : min_close < deadline ? min_close : deadline;
        if (n > 0 && now >= deadline)
            break;
        int64_t left = (until - now + 999) / 1000;
        int timeout = left <= 0 ? 0 : left > 100 ? 100 : (int)left;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(kin->rk, timeout);
        if (!m) {
            if (n > 0)
                waker_kick(kin); /* drained mid-batch: the fetchers may be parked */
            if (rt_mono_us() >= until)
                break; /* queue drained and the batch is old enough, or nothing came */
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rt_log(RT_L_WARN, "kafka consume error", "error=%s detail=\"%s\"",
                       rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (n == 0) {
            rt_ready_set_brokers_down(kin->ready, 0); /* a broker delivered records */
            now = rt_mono_us();
            first_us = now;
            deadline = now + (int64_t)max_ms * 1000;
        }
        n++;
        rd_kafka_timestamp_type_t tst;
        rt_kin_rec_t rec = {.partition = m->partition,
                            .offset = m->offset,
                            .ts_ms = rd_kafka_message_timestamp(m, &tst),
                            .key = m->key,
                            .key_len = m->key_len,
                            .payload = m->payload,
                            .len = m->len};
        int close = take(arg, &rec);
        rd_kafka_message_destroy(m);
        if (close)
            break;
        /* A batch larger than the fetch queue: wake parked fetchers as it drains, not after. */
        if (n % 1024 == 0)
            waker_kick(kin);
    }
    int64_t end = rt_mono_us();
    kin->last_batch_us = n > 0 ? end : 0;
    kin->times.wait_us = (first_us >= 0 ? first_us : end) - t0 - kin->times.trim_us;
    kin->times.fill_us = first_us >= 0 ? end - first_us : 0;
    return n;
}

void rt_kin_last_poll_times(const rt_kin_t *kin, rt_kin_poll_times_t *out)
{
    *out = kin->times;
}

uint64_t rt_kin_wakes(rt_kin_t *kin)
{
    pthread_mutex_lock(&kin->wmu);
    uint64_t n = kin->kicks;
    pthread_mutex_unlock(&kin->wmu);
    return n;
}

int rt_kin_rebalance_pending(rt_kin_t *kin)
{
    return kin->pending;
}

int rt_kin_take_rebalance(rt_kin_t *kin, const char *topic, int32_t **parts, size_t *n)
{
    rd_kafka_topic_partition_list_t *l = kin->pending_assign;
    int rc = 0;
    kin->pending_assign = NULL;
    kin->pending = 0;
    *parts = NULL;
    *n = 0;
    if (!l)
        return 0;
    if (!(*parts = malloc((size_t)(l->cnt ? l->cnt : 1) * sizeof **parts)))
        rc = -1;
    for (int i = 0; rc == 0 && i < l->cnt; i++)
        if (strcmp(l->elems[i].topic, topic) == 0)
            (*parts)[(*n)++] = l->elems[i].partition;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int rt_kin_assign(rt_kin_t *kin, const char *topic, const int32_t *parts, const int64_t *offsets,
                  size_t n, char *err, size_t errsize)
{
    rd_kafka_topic_partition_list_t *l = plist(topic, parts, offsets, n);
    rd_kafka_resp_err_t e = rd_kafka_assign(kin->rk, l);
    int rc = 0;
    if (e) {
        snprintf(err, errsize, "assign: %s", rd_kafka_err2str(e));
        rc = -1;
    } else {
        waker_set_parts(kin, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ListOffsets for parts[0..n) of topic with the same query (a timestamp in ms, or
 * RD_KAFKA_OFFSET_BEGINNING: the log start), one request to every leader: out[i] = the offset,
 * -1 where the answer had none. strict: a partition's error fails the call (err names it);
 * otherwise its out[i] stays -1. Returns 0, or -1 with err filled. */
static int offsets_query(rt_kin_t *kin, const char *topic, const int32_t *parts, size_t n,
                         int64_t query, int64_t *out, int timeout_ms, int strict, char *err,
                         size_t errsize)
{
    rd_kafka_topic_partition_list_t *l = plist(topic, parts, NULL, n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = -1;
        l->elems[i].offset = query;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(kin->rk, l, timeout_ms);
    if (e) {
        snprintf(err, errsize, "offsets for time: %s", rd_kafka_err2str(e));
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(l, topic, parts[i]);
        if (strict && (!t || t->err)) {
            snprintf(err, errsize, "offsets for time [%d]: %s", (int)parts[i],
                     t ? rd_kafka_err2str(t->err) : "missing");
            rc = -1;
        } else if (t && !t->err && t->offset >= 0) {
            out[i] = t->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int rt_kin_earliest(rt_kin_t *kin, const char *topic, const int32_t *parts, size_t n, int64_t *out,
                    int timeout_ms)
{
    char err[256];
    /* "earliest" as the timestamp: the log start offset of each partition. */
    return offsets_query(kin, topic, parts, n, RD_KAFKA_OFFSET_BEGINNING, out, timeout_ms, 0, err,
                         sizeof err);
}

int rt_kin_offsets_for_time(rt_kin_t *kin, const char *topic, const int32_t *parts, size_t n,
                            int64_t ts_ms, int64_t *out, int timeout_ms, char *err, size_t errsize)
{
    return offsets_query(kin, topic, parts, n, ts_ms, out, timeout_ms, 1, err, errsize);
}

int rt_kin_assign_change(rt_kin_t *kin, const char *topic, const int32_t *parts,
                         const int64_t *offsets, size_t n, int add, char *err, size_t errsize)
{
    rd_kafka_topic_partition_list_t *l = plist(topic, parts, add ? offsets : NULL, n);
    rd_kafka_error_t *e =
        add ? rd_kafka_incremental_assign(kin->rk, l) : rd_kafka_incremental_unassign(kin->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errsize, "%s: %s", add ? "incremental assign" : "incremental unassign",
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    /* The waker asks the leaders of what is assigned now. */
    rd_kafka_topic_partition_list_t *now = NULL;
    if (rd_kafka_assignment(kin->rk, &now) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        waker_set_parts(kin, now);
        rd_kafka_topic_partition_list_destroy(now);
    }
    return 0;
}

int rt_kin_topic_partitions(rt_kin_t *kin, const char *topic, int timeout_ms, int32_t **parts,
                            size_t *n, char *err, size_t errsize)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(kin->rk, topic, NULL);
    int rc = -1;
    *parts = NULL;
    *n = 0;
    if (!rkt) {
        snprintf(err, errsize, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_metadata(kin->rk, 0, rkt, &md, timeout_ms);
    if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
        snprintf(err, errsize, "%s",
                 e                    ? rd_kafka_err2str(e)
                 : md->topic_cnt != 1 ? "no such topic"
                                      : rd_kafka_err2str(md->topics[0].err));
        goto out;
    }
    int cnt = md->topics[0].partition_cnt;
    if (!(*parts = malloc((size_t)cnt * sizeof **parts))) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    for (int i = 0; i < cnt; i++)
        (*parts)[i] = md->topics[0].partitions[i].id;
    *n = (size_t)cnt;
    rc = 0;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int rt_kin_watermarks(rt_kin_t *kin, const char *topic, int32_t partition, int timeout_ms,
                      int64_t *lo, int64_t *hi, char *err, size_t errsize)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(kin->rk, topic, partition, lo, hi, timeout_ms);
    if (e) {
        snprintf(err, errsize, "watermarks of %s [%d]: %s", topic, (int)partition,
                 rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void rt_kin_commit(rt_kin_t *kin, const char *topic, const rt_part_pos_t *pos, size_t n)
{
    if (!kin->use_group || n == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, pos[i].partition)->offset = pos[i].next;
    rd_kafka_resp_err_t e = rd_kafka_commit(kin->rk, l, 1);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        rt_log(RT_L_WARN, "kafka commit (lag tools only) failed", "error=%s", rd_kafka_err2name(e));
    rd_kafka_topic_partition_list_destroy(l);
}
