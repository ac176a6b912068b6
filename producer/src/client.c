/* The runtrack client: callers record events under one short lock; one background thread per
 * client encodes them, hands them to librdkafka, polls delivery reports, sends heartbeats,
 * re-sends failed lifecycle events and recreates the Kafka handle after fatal errors.
 *
 * Ordering: seq is assigned and the event appended to the client's FIFO under the same lock, and
 * the background thread sends the FIFO in order, so per run send order equals seq order.
 * Progress is one "marker" event per run in the FIFO; later updates change the run's pending
 * counters in place (coalescing) and the marker is encoded with the newest value when sent. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "encode.h"
#include "internal.h"
#include "pool.h"
#include "spool.h"
#include "rt_event.h"
#include "rt_time.h"
#include "rt_uuid.h"

typedef struct rt_ev rt_ev_t;
typedef struct runtrack_run_s rt_run_t;

struct rt_ev {
    rt_ev_t *next;
    rt_run_t *run; /* holds a reference until the event is freed */
    int64_t seq;
    int64_t ts_us;
    int64_t retry_at; /* monotonic us; 0 = at once */
    char *data;       /* pre-encoded data object (lifecycle), owned */
    size_t data_len;
    /* run.log: pointers into inline storage after the struct */
    size_t msg_len;
    const char *msg;
    const char *phase;  /* NULL = none */
    const char *fields; /* compact JSON object or NULL */
    rt_event_type_t type;
    int level;
    char event_id[RT_UUID_STRLEN]; /* empty until first encoded; re-sends keep it */
    unsigned char cls; /* 0 = malloc'ed, else 1 + index of the rt->pools slot it lives in */
    char inline_[];
};

/* Log events live in pool slots of these sizes (the smallest that fits message, phase and
 * fields); bigger ones are malloc'ed. 192 leaves 56 bytes for text (a short line), 512 leaves
 * 376. Small slots matter: in a burst, fresh memory for the queue is the main cost. */
#define RT_POOLS 2
static const size_t pool_slot_size[RT_POOLS] = {192, 512};
_Static_assert(sizeof(rt_ev_t) + 56 <= 192, "log-event header grew: revisit pool_slot_size");

struct runtrack_run_s {
    runtrack_t *rt;
    rt_run_t *next;  /* client's run list (under lock) */
    atomic_int refs; /* list membership + handles; freed when 1 and no event is left (gc) */
    int64_t ev_enq;  /* events queued (lock held) */
    char id[RT_UUID_STRLEN];
    char *tail;       /* pre-encoded "job":..,"kind":..,"producer":{..} */
    size_t env_base;  /* bytes of this run's envelope without seq, type and data (event_size) */
    int64_t start_us; /* from the UUIDv7 time: seqs are microseconds since then */
    int64_t last_seq;
    int started_here; /* heartbeats only for runs this client started */
    int finished;
    int released; /* handle destroyed */
    char phase[RT_PHASE_MAX + 1];
    rt_ctr_t ctr[RUNTRACK_MAX_COUNTERS];
    size_t n_ctr;
    double mem, cpu;     /* < 0 = unset */
    int progress_queued; /* a progress marker is in the FIFO */
    int64_t progress_ts;
    uint64_t dropped_logs;
    int hb_outstanding;
    int64_t last_hb_mono;
    char pad_[64];   /* keeps ev_done off the lines callers write for every event */
    int64_t ev_done; /* events freed (the background thread only); gc frees at ev_done == ev_enq */
};

struct runtrack_s {
    runtrack_conf_t *conf;
    /* RT_FORK_*: read without the lock on every call (one relaxed load), changed under it. */
    atomic_int fork_state;
    runtrack_t *fork_next; /* the fork handlers' client list (g_clients_lock) */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int thread_started;
    /* under lock */
    int stop;
    int bg_sleeping;
    rt_ev_t *q_head, *q_tail;
    rt_run_t *runs;
    rt_rng_t id_rng;
    /* background thread only */
    rt_ev_t *retry_head, *retry_tail;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rt_rng_t bg_rng;
    rt_buf_t buf;
    rt_buf_t data_buf;
    int recreating;
    rt_buf_t *spool; /* runtrack_destroy with spool.dir: purged events are framed here (spool.h) */
    uint64_t spool_n;
    int64_t next_hb_check;
    atomic_int test_fatal; /* rt_test_inject_fatal: raise a librdkafka fatal error (tests) */
    /* log-event slots: get/put under lock, put_deferred from the background thread (pool.h) */
    rt_pool_t pools[RT_POOLS];
    /* any thread */
    /* Counters, split by writer onto separate cache lines: in a burst every call and every sent
     * event updates them, and one line written from both sides bounced between the cores on
     * each call (a third of a log call's time). Queued = enq_* - done_*. */
    char pad_callers_[64];
    /* written by callers under lock; read by anyone */
    atomic_llong enq_events, enq_logs; /* ever queued (enq_events is stats.recorded) */
    atomic_ullong st_dropped, st_coalesced;
    char pad_bg_[64];
    /* written by the background thread (or runtrack_destroy after joining it); read by anyone */
    atomic_llong done_events, done_logs;    /* freed, published by publish_done */
    long long bg_done_events, bg_done_logs; /* freed, not yet published */
    atomic_ullong st_produced, st_delivered, st_failed, st_retried, st_recreations;
    char host[256];
    long pid;
};

/* Slots pool i may hold (lock held): all pools together stay within log.queue.max slots. */
static size_t pool_cap_locked(runtrack_t *rt, int i)
{
    size_t others = 0;
    for (int k = 0; k < RT_POOLS; k++)
        if (k != i)
            others += rt->pools[k].total;
    size_t cap = (size_t)rt->conf->log_queue_max;
    return others >= cap ? 0 : cap - others;
}

RUNTRACK_API const char *runtrack_version(void)
{
    return RUNTRACK_VERSION_STR;
}

RUNTRACK_API int runtrack_version_hex(void)
{
    return RUNTRACK_VERSION_HEX;
}

RUNTRACK_API const char *runtrack_strerror(runtrack_err_t err)
{
    switch (err) {
#define RUNTRACK_X_(name, code, msg)                                                               \
    case RUNTRACK_ERR_##name:                                                                      \
        return msg;
        RUNTRACK_ERRNO_MAP(RUNTRACK_X_)
#undef RUNTRACK_X_
    }
    return "unknown error";
}

RUNTRACK_API const char *runtrack_err_name(runtrack_err_t err)
{
    switch (err) {
#define RUNTRACK_X_(name, code, msg)                                                               \
    case RUNTRACK_ERR_##name:                                                                      \
        return "RUNTRACK_ERR_" #name;
        RUNTRACK_ERRNO_MAP(RUNTRACK_X_)
#undef RUNTRACK_X_
    }
    return "RUNTRACK_ERR_UNKNOWN";
}

static int is_lifecycle(rt_event_type_t t)
{
    return t == RT_EV_STARTED || t == RT_EV_PHASE || t == RT_EV_PAUSED || t == RT_EV_RESUMED ||
           t == RT_EV_FINISHED;
}

static void run_unref(rt_run_t *run)
{
    atomic_fetch_sub(&run->refs, 1);
}

/* Events queued and not yet freed (any thread; done_* may lag by one background batch). */
static long long outstanding(runtrack_t *rt)
{
    long long done = atomic_load(&rt->done_events);
    return atomic_load(&rt->enq_events) - done;
}

static long long log_pending(runtrack_t *rt)
{
    long long done = atomic_load_explicit(&rt->done_logs, memory_order_relaxed);
    return atomic_load_explicit(&rt->enq_logs, memory_order_relaxed) - done;
}

/* Publishes what ev_free counted (background thread, or runtrack_destroy after joining it):
 * once per batch, not per event, so callers' reads of done_* mostly hit their cache. */
static void publish_done(runtrack_t *rt)
{
    atomic_store(&rt->done_logs, rt->bg_done_logs);
    atomic_store(&rt->done_events, rt->bg_done_events);
}

/* Frees an event and releases what it counts for (its run's event count, the outstanding count
 * and, for logs, the log queue slot; the counts are published by publish_done). Only the background
 * thread (or runtrack_destroy after joining it) frees queued events: pooled ones are parked for the
 * next rt_pool_reclaim. */
static void ev_free(runtrack_t *rt, rt_ev_t *ev)
{
    if (ev->type == RT_EV_LOG)
        rt->bg_done_logs++;
    if (ev->type == RT_EV_HEARTBEAT) {
        pthread_mutex_lock(&rt->lock);
        ev->run->hb_outstanding = 0;
        pthread_mutex_unlock(&rt->lock);
    }
    ev->run->ev_done++;
    rt->bg_done_events++;
    free(ev->data);
    if (ev->cls)
        rt_pool_put_deferred(&rt->pools[ev->cls - 1], ev);
    else
        free(ev);
}

/* The seq an event of the run recorded at now_us gets (lock held): microseconds since the run's
 * start, but always > the last. */
static int64_t seq_at(const rt_run_t *run, int64_t now_us)
{
    int64_t s = now_us - run->start_us;
    return s <= run->last_seq ? run->last_seq + 1 : s;
}

/* Next seq of a run (lock held). */
static int64_t next_seq(rt_run_t *run, int64_t now_us)
{
    run->last_seq = seq_at(run, now_us);
    return run->last_seq;
}

/* Bytes of the run's event of this type, seq and data object (data_len 0: "{}"): what
 * rt_enc_envelope will write, so a call can refuse an event over RT_EVENT_MAX_BYTES. */
static size_t event_size(const rt_run_t *run, rt_event_type_t type, int64_t seq, size_t data_len)
{
    size_t digits = 1;
    for (int64_t v = seq; v >= 10 || v <= -10; v /= 10)
        digits++;
    return run->env_base + digits + (seq < 0) + strlen(rt_event_type_name(type)) +
           (data_len ? data_len : 2);
}

/* Appends ev to the FIFO (lock held), taking a run reference and waking the background thread
 * if it sleeps. */
static void enqueue_locked(runtrack_t *rt, rt_ev_t *ev)
{
    ev->next = NULL;
    ev->run->ev_enq++;
    /* Only writers hold the lock: a plain increment, published with a relaxed store. */
    atomic_store_explicit(&rt->enq_events,
                          atomic_load_explicit(&rt->enq_events, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (ev->type == RT_EV_LOG)
        atomic_store_explicit(&rt->enq_logs,
                              atomic_load_explicit(&rt->enq_logs, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    if (rt->q_tail)
        rt->q_tail->next = ev;
    else
        rt->q_head = ev;
    rt->q_tail = ev;
    if (rt->bg_sleeping) {
        rt->bg_sleeping = 0;
        pthread_cond_signal(&rt->wake);
    }
}

/* A zeroed event of run (not yet stamped or queued); NULL when memory is short. */
static rt_ev_t *ev_new(rt_run_t *run, rt_event_type_t type)
{
    rt_ev_t *ev = calloc(1, sizeof *ev);
    if (ev) {
        ev->type = type;
        ev->run = run;
    }
    return ev;
}

/* Stamps and queues the heartbeat ev of run (lock held); no other heartbeat of the run is sent
 * by the background thread until this one is out of the FIFO. */
static void enqueue_heartbeat_locked(runtrack_t *rt, rt_ev_t *ev, int64_t now_mono)
{
    rt_run_t *run = ev->run;
    ev->ts_us = rt_now_us();
    ev->seq = next_seq(run, ev->ts_us);
    run->hb_outstanding = 1;
    run->last_hb_mono = now_mono;
    enqueue_locked(rt, ev);
}

static void retry_push(runtrack_t *rt, rt_ev_t *ev)
{
    ev->next = NULL;
    if (rt->retry_tail)
        rt->retry_tail->next = ev;
    else
        rt->retry_head = ev;
    rt->retry_tail = ev;
}

/* ---------------------------------------------------------------- background thread: encode */

/* A run.log data object; phase and fields (compact JSON) may be NULL. */
static void enc_log_data(rt_buf_t *d, int level, const char *msg, size_t msg_len,
                         const char *phase, const char *fields)
{
    rt_buf_adds(d, "{\"level\":\"");
    rt_buf_adds(d, rt_log_level_name((rt_log_level_t)level));
    rt_buf_adds(d, "\",\"message\":");
    rt_buf_add_jstr(d, msg, msg_len);
    if (phase) {
        rt_buf_adds(d, ",\"phase\":");
        rt_buf_add_jstr(d, phase, strlen(phase));
    }
    if (fields) {
        rt_buf_adds(d, ",\"fields\":");
        rt_buf_adds(d, fields);
    }
    rt_buf_addc(d, '}');
}

/* Encodes ev's data object into rt->data_buf. Progress markers take the run's newest counters
 * (and mark the run as having no queued marker, so the next update queues a new one). */
static void encode_data(runtrack_t *rt, rt_ev_t *ev)
{
    rt_buf_t *d = &rt->data_buf;
    rt_buf_reset(d);
    switch (ev->type) {
    case RT_EV_LOG:
        enc_log_data(d, ev->level, ev->msg, ev->msg_len, ev->phase, ev->fields);
        break;
    case RT_EV_PROGRESS: {
        rt_ctr_t ctr[RUNTRACK_MAX_COUNTERS];
        size_t n;
        double mem, cpu;
        pthread_mutex_lock(&rt->lock);
        rt_run_t *run = ev->run;
        n = run->n_ctr;
        memcpy(ctr, run->ctr, n * sizeof ctr[0]);
        mem = run->mem;
        cpu = run->cpu;
        ev->ts_us = run->progress_ts;
        run->progress_queued = 0;
        pthread_mutex_unlock(&rt->lock);
        rt_buf_adds(d, "{\"counters\":");
        rt_enc_counters(d, ctr, n);
        if (mem >= 0) {
            rt_buf_adds(d, ",\"memory_percent\":");
            rt_buf_add_pct(d, mem);
        }
        if (cpu >= 0) {
            rt_buf_adds(d, ",\"cpu_percent\":");
            rt_buf_add_pct(d, cpu);
        }
        rt_buf_addc(d, '}');
        break;
    }
    case RT_EV_HEARTBEAT: {
        pthread_mutex_lock(&rt->lock);
        uint64_t dropped = ev->run->dropped_logs;
        pthread_mutex_unlock(&rt->lock);
        rt_buf_adds(d, "{\"dropped_logs\":");
        rt_buf_add_i64(d, (int64_t)dropped);
        rt_buf_addc(d, '}');
        break;
    }
    case RT_EV_STARTED:
    case RT_EV_PHASE:
    case RT_EV_PAUSED:
    case RT_EV_RESUMED:
    case RT_EV_FINISHED:
    case RT_EV__COUNT:
        if (ev->data)
            rt_buf_add(d, ev->data, ev->data_len);
        else
            rt_buf_adds(d, "{}");
        break;
    }
}

static void report_failure(runtrack_t *rt, rt_ev_t *ev, const char *reason, int will_retry)
{
    if (rt->conf->failure_cb)
        rt->conf->failure_cb(rt->conf->failure_opaque, ev->run->id, rt_event_type_name(ev->type),
                             ev->seq, reason, will_retry);
}

/* Encodes ev's whole event into rt->buf. Returns 0, or -1 after reporting the failure and
 * freeing ev (an event that cannot be encoded can never be sent). */
static int encode_event(runtrack_t *rt, rt_ev_t *ev)
{
    if (!ev->event_id[0])
        rt_uuid_v7(&rt->bg_rng, ev->ts_us, ev->event_id);
    encode_data(rt, ev);
    rt_buf_t *b = &rt->buf;
    rt_buf_reset(b);
    if (rt->data_buf.oom ||
        rt_enc_envelope(b, ev->event_id, ev->run->id, ev->seq, ev->ts_us,
                        rt_event_type_name(ev->type), ev->run->tail, rt->data_buf.data,
                        rt->data_buf.len) != 0 ||
        b->oom) {
        atomic_fetch_add(&rt->st_failed, 1);
        report_failure(rt, ev, "could not encode event (out of memory or time out of range)", 0);
        ev_free(rt, ev);
        return -1;
    }
    if (b->len > RT_EVENT_MAX_BYTES) {
        atomic_fetch_add(&rt->st_failed, 1);
        report_failure(rt, ev, "event larger than 1 MiB", 0);
        ev_free(rt, ev);
        return -1;
    }
    return 0;
}

/* Encodes and produces one event. Returns 0 when handed to librdkafka (or finally failed and
 * freed), 1 when librdkafka's queue is full (the caller keeps ev and retries later). */
static int produce_one(runtrack_t *rt, rt_ev_t *ev)
{
    if (encode_event(rt, ev) != 0)
        return 0;
    rt_buf_t *b = &rt->buf;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rt->rk, RD_KAFKA_V_RKT(rt->rkt), RD_KAFKA_V_KEY(ev->run->id, 36),
        RD_KAFKA_V_VALUE(b->data, b->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(ev), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return 1;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        /* The handle is dead; the fatal check after this batch replaces it and the retry list
         * (sorted by seq) goes out first on the new one. Nothing is given up for this. */
        atomic_fetch_add(&rt->st_retried, 1);
        ev->retry_at = 0;
        retry_push(rt, ev);
        return 0;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        /* librdkafka refuses it locally, so every re-send would fail too. The library's
         * message.max.bytes admits any event up to RT_EVENT_MAX_BYTES (conf.c) and calls
         * refuse larger ones, so this is a backstop against re-sending it forever. */
        atomic_fetch_add(&rt->st_failed, 1);
        report_failure(rt, ev, rd_kafka_err2str(err), 0);
        ev_free(rt, ev);
        return 0;
    }
    if (err) {
        /* Not queued at all: treat like a failed delivery. */
        atomic_fetch_add(&rt->st_failed, 1);
        if (is_lifecycle(ev->type) || rt->recreating) {
            report_failure(rt, ev, rd_kafka_err2str(err), 1);
            atomic_fetch_add(&rt->st_retried, 1);
            ev->retry_at = rt_mono_us() + rt->conf->retry_backoff_ms * 1000;
            retry_push(rt, ev);
        } else {
            report_failure(rt, ev, rd_kafka_err2str(err), 0);
            ev_free(rt, ev);
        }
        return 0;
    }
    atomic_fetch_add(&rt->st_produced, 1);
    return 0;
}

/* Frames ev's encoded event (value[0..len)) onto the spool batch runtrack_destroy writes. */
static void spool_add(runtrack_t *rt, const rt_ev_t *ev, const void *value, size_t len)
{
    rt_spool_encode(rt->spool, ev->type == RT_EV_LOG ? RT_SPOOL_LOG : RT_SPOOL_KEEP, ev->seq,
                    rt->conf->topic, ev->run->id, strlen(ev->run->id), value, len);
    rt->spool_n++;
}

/* librdkafka delivery report (background thread, inside rd_kafka_poll). */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    runtrack_t *rt = opaque;
    rt_ev_t *ev = m->_private;
    if (!ev)
        return;
    if (!m->err) {
        atomic_fetch_add(&rt->st_delivered, 1);
        ev_free(rt, ev);
        return;
    }
    atomic_fetch_add(&rt->st_failed, 1);
    int purged =
        m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
    if (purged && rt->spool) {
        /* runtrack_destroy is spooling: keep the bytes librdkafka held. An in-flight one may
         * have arrived after all; a second copy is harmless (same event_id and seq). */
        spool_add(rt, ev, m->payload, m->len);
        ev_free(rt, ev);
        return;
    }
    if (purged && rt->recreating) {
        /* We purged it to replace the handle: send it again on the new one, at once. */
        atomic_fetch_add(&rt->st_retried, 1);
        ev->retry_at = 0;
        retry_push(rt, ev);
        return;
    }
    if (is_lifecycle(ev->type) && !purged) {
        report_failure(rt, ev, rd_kafka_err2str(m->err), 1);
        atomic_fetch_add(&rt->st_retried, 1);
        ev->retry_at = rt_mono_us() + rt->conf->retry_backoff_ms * 1000;
        retry_push(rt, ev);
        return;
    }
    report_failure(rt, ev, rd_kafka_err2str(m->err), 0);
    ev_free(rt, ev);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    runtrack_t *rt = rd_kafka_opaque(rk);
    if (rt && rt->conf->verbose)
        fprintf(stderr, "runtrack: librdkafka %d %s: %s\n", level, fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)err;
    runtrack_t *rt = opaque;
    if (rt->conf->verbose)
        fprintf(stderr, "runtrack: librdkafka error: %s\n", reason);
}

/* Creates rt->rk/rt->rkt. Returns 0, or -1 with errstr. */
static int kafka_open(runtrack_t *rt, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rt_conf_kafka(rt->conf, errstr, errstr_size);
    if (!kc)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_log_cb(kc, log_cb);
    rd_kafka_conf_set_opaque(kc, rt);
    char kerr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(kc); /* rd_kafka_new frees it only on success */
        rt_seterr(errstr, errstr_size, "librdkafka: %s", kerr);
        return -1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, rt->conf->topic, NULL);
    if (!rkt) {
        rt_seterr(errstr, errstr_size, "librdkafka topic \"%s\": %s", rt->conf->topic,
                  rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(rk);
        return -1;
    }
    rt->rk = rk;
    rt->rkt = rkt;
    return 0;
}

/* Purges everything librdkafka still holds; with rt->recreating set the delivery reports put the
 * events on the retry list, otherwise they are reported failed and freed. */
static void kafka_close(runtrack_t *rt)
{
    if (!rt->rk)
        return;
    rd_kafka_purge(rt->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* Purged messages come back as delivery reports on the next polls. */
    for (int i = 0; i < 200 && rd_kafka_outq_len(rt->rk) > 0; i++)
        rd_kafka_poll(rt->rk, 10);
    rd_kafka_poll(rt->rk, 0);
    rd_kafka_topic_destroy(rt->rkt);
    rd_kafka_destroy_flags(rt->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    rt->rk = NULL;
    rt->rkt = NULL;
}

/* Stable merge sort of an event list by seq. */
static rt_ev_t *sort_by_seq(rt_ev_t *head)
{
    if (!head || !head->next)
        return head;
    rt_ev_t *slow = head, *fast = head->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    rt_ev_t *b = slow->next;
    slow->next = NULL;
    rt_ev_t *a = sort_by_seq(head);
    b = sort_by_seq(b);
    rt_ev_t *out = NULL, **tail = &out;
    while (a && b) {
        rt_ev_t **take = b->seq < a->seq ? &b : &a;
        *tail = *take;
        tail = &(*take)->next;
        *take = (*take)->next;
    }
    *tail = a ? a : b;
    return out;
}

/* librdkafka fatal error (e.g. idempotent sequence desynchronisation): the handle can't produce
 * any more, so move what it holds onto the retry list and start a fresh handle. */
static void kafka_recreate(runtrack_t *rt, const char *why)
{
    if (rt->conf->verbose)
        fprintf(stderr, "runtrack: recreating Kafka handle after fatal error: %s\n", why);
    rt->recreating = 1;
    kafka_close(rt);
    /* Purge reports do not come back in send order (queued and in-flight messages are purged
     * separately). Everything on the retry list is older than anything still in the FIFO, and
     * within a run seq order is send order, so sorting by seq restores each run's order. */
    rt->retry_head = sort_by_seq(rt->retry_head);
    rt->retry_tail = NULL;
    for (rt_ev_t *ev = rt->retry_head; ev; ev = ev->next) {
        ev->retry_at = 0;
        rt->retry_tail = ev;
    }
    char err[512];
    while (kafka_open(rt, err, sizeof err) != 0) {
        /* Configuration worked before, so this is transient (memory, threads): wait and retry. */
        if (rt->conf->verbose)
            fprintf(stderr, "runtrack: %s\n", err);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    rt->recreating = 0;
    atomic_fetch_add(&rt->st_recreations, 1);
}

/* Queues heartbeats for open runs that are due (lock held). */
static void heartbeats_locked(runtrack_t *rt, int64_t now_mono)
{
    int64_t ivl = rt->conf->heartbeat_interval_ms * 1000;
    if (ivl <= 0)
        return;
    for (rt_run_t *r = rt->runs; r; r = r->next) {
        if (!r->started_here || r->finished || r->released || r->hb_outstanding)
            continue;
        if (now_mono - r->last_hb_mono < ivl)
            continue;
        rt_ev_t *ev = ev_new(r, RT_EV_HEARTBEAT);
        if (!ev)
            return;
        enqueue_heartbeat_locked(rt, ev, now_mono);
    }
}

static void run_free(rt_run_t *r)
{
    free(r->tail);
    free(r);
}

/* Frees released runs nothing refers to any more (lock held). Only the list reference left
 * means no queued event and no handle, so nobody can add one. */
static void gc_runs_locked(runtrack_t *rt)
{
    rt_run_t **pp = &rt->runs;
    while (*pp) {
        rt_run_t *r = *pp;
        if (r->released && !r->progress_queued && atomic_load(&r->refs) == 1 &&
            r->ev_enq == r->ev_done) {
            *pp = r->next;
            run_free(r);
        } else {
            pp = &r->next;
        }
    }
}

/* Makes the next chunk of each pool that grew, so that the caller who exhausts the current one
 * finds it ready (background thread, lock not held: mapping fresh memory is slow). */
static void pools_prepare(runtrack_t *rt)
{
    for (int i = 0; i < RT_POOLS; i++) {
        rt_pool_t *p = &rt->pools[i];
        if (!atomic_load_explicit(&p->want_spare, memory_order_relaxed))
            continue;
        pthread_mutex_lock(&rt->lock);
        size_t n = rt_pool_spare_wanted(p, pool_cap_locked(rt, i));
        pthread_mutex_unlock(&rt->lock);
        rt_pool_chunk_t *c = n ? rt_pool_chunk_new(p->slot_size, n) : NULL;
        if (!c)
            continue;
        pthread_mutex_lock(&rt->lock);
        rt_pool_spare_set(p, c);
        pthread_mutex_unlock(&rt->lock);
    }
}

static void *bg_main(void *arg)
{
    runtrack_t *rt = arg;
    for (;;) {
        publish_done(rt); /* before a possible sleep: runtrack_flush waits on it */
        int64_t now = rt_mono_us();
        pthread_mutex_lock(&rt->lock);
        for (int i = 0; i < RT_POOLS; i++)
            rt_pool_reclaim(&rt->pools[i]);
        if (now >= rt->next_hb_check) {
            /* Both walk every run: a few times a second is enough. */
            heartbeats_locked(rt, now);
            gc_runs_locked(rt);
            /* Pool memory goes back after ~30 s without log calls. */
            for (int i = 0; i < RT_POOLS; i++)
                rt_pool_tick(&rt->pools[i], 150);
            rt->next_hb_check = now + 200000;
        }
        int retry_due = rt->retry_head && rt->retry_head->retry_at <= now;
        if (!rt->q_head && !retry_due && !rt->stop && rd_kafka_outq_len(rt->rk) == 0) {
            /* Idle: sleep until an event arrives, a heartbeat or retry is due. */
            int64_t until = now + 200000;
            if (rt->retry_head && rt->retry_head->retry_at < until)
                until = rt->retry_head->retry_at;
            int64_t wall = rt_now_us() + (until - now);
            struct timespec ts = {(time_t)(wall / 1000000), (long)(wall % 1000000) * 1000};
            rt->bg_sleeping = 1;
            pthread_cond_timedwait(&rt->wake, &rt->lock, &ts);
            rt->bg_sleeping = 0;
        }
        if (rt->stop) {
            /* runtrack_destroy frees what is left in the FIFO. */
            pthread_mutex_unlock(&rt->lock);
            break;
        }
        rt_ev_t *batch = rt->q_head;
        rt->q_head = rt->q_tail = NULL;
        pthread_mutex_unlock(&rt->lock);

        /* Due retries first: they are older than anything in the FIFO. */
        now = rt_mono_us();
        rt_ev_t *due = NULL, **due_tail = &due;
        while (rt->retry_head && rt->retry_head->retry_at <= now) {
            rt_ev_t *ev = rt->retry_head;
            rt->retry_head = ev->next;
            if (!rt->retry_head)
                rt->retry_tail = NULL;
            ev->next = NULL;
            *due_tail = ev;
            due_tail = &ev->next;
        }
        *due_tail = batch;
        batch = due;

        int full = 0;
        unsigned sent = 0;
        pools_prepare(rt);
        while (batch) {
            rt_ev_t *ev = batch;
            rt_ev_t *next = ev->next;
            if (produce_one(rt, ev)) {
                full = 1;
                break;
            }
            batch = next;
            /* A burst may outrun the chunks made ahead while we send a long batch. */
            pools_prepare(rt);
            if (++sent % 32 == 0)
                publish_done(rt);
        }
        if (full && batch) {
            /* librdkafka's queue is full: put the rest back in front of the FIFO, in order. */
            rt_ev_t *last = batch;
            while (last->next)
                last = last->next;
            pthread_mutex_lock(&rt->lock);
            last->next = rt->q_head;
            rt->q_head = batch;
            if (!rt->q_tail)
                rt->q_tail = last;
            pthread_mutex_unlock(&rt->lock);
        }
        rd_kafka_poll(rt->rk, full ? 50 : (rd_kafka_outq_len(rt->rk) > 0 ? 2 : 0));
        publish_done(rt);

        if (atomic_exchange(&rt->test_fatal, 0))
            rd_kafka_test_fatal_error(rt->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                      "runtrack test: injected fatal error");
        char ferr[512];
        if (rd_kafka_fatal_error(rt->rk, ferr, sizeof ferr) != RD_KAFKA_RESP_ERR_NO_ERROR)
            kafka_recreate(rt, ferr);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ fork */

/* After fork() only the forking thread exists in the child: the background thread is gone and
 * the librdkafka handle is the parent's (librdkafka forbids using or destroying it in a child).
 * The child's first recording call makes the client its own (runtrack.h, "fork()").
 *   RT_FORK_NONE       the thread and handle are this process's
 *   RT_FORK_INHERITED  set in the child by fork_child: everything in flight is the parent's
 *   RT_FORK_IDLE       the child dropped the parent's share; no thread or handle yet */
enum { RT_FORK_NONE = 0, RT_FORK_INHERITED, RT_FORK_IDLE };

/* Process-wide state, because pthread_atfork handlers take no argument: the list of live
 * clients, which fork_prepare locks so that the child's copy of each is consistent and
 * fork_child can mark it. g_atfork_err is the registration's result (set once, under
 * g_atfork_once). Nothing else in the library is global. */
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
static int g_atfork_err;
static pthread_mutex_t g_clients_lock = PTHREAD_MUTEX_INITIALIZER;
static runtrack_t *g_clients; /* linked by fork_next, under g_clients_lock */

/* Before fork(): hold every client's lock, so no caller or background thread is half-way
 * through a change the child would inherit. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&g_clients_lock);
    for (runtrack_t *rt = g_clients; rt; rt = rt->fork_next)
        pthread_mutex_lock(&rt->lock);
}

static void fork_parent(void)
{
    for (runtrack_t *rt = g_clients; rt; rt = rt->fork_next)
        pthread_mutex_unlock(&rt->lock);
    pthread_mutex_unlock(&g_clients_lock);
}

/* In the child, still alone: the locks fork_prepare took are made new (their owner was a thread
 * of the parent), and so is the condition variable, which may count the parent's sleeping
 * background thread as a waiter. */
static void fork_child(void)
{
    for (runtrack_t *rt = g_clients; rt; rt = rt->fork_next) {
        pthread_mutex_init(&rt->lock, NULL);
        pthread_cond_init(&rt->wake, NULL);
        atomic_store(&rt->fork_state, RT_FORK_INHERITED);
    }
    pthread_mutex_init(&g_clients_lock, NULL);
}

static void atfork_register(void)
{
    g_atfork_err = pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Registers the fork handlers once per process. Returns 0 or an errno. */
static int fork_handlers(void)
{
    pthread_once(&g_atfork_once, atfork_register);
    return g_atfork_err;
}

/* Puts rt on the fork handlers' list. */
static void fork_track(runtrack_t *rt)
{
    pthread_mutex_lock(&g_clients_lock);
    rt->fork_next = g_clients;
    g_clients = rt;
    pthread_mutex_unlock(&g_clients_lock);
}

static void fork_untrack(runtrack_t *rt)
{
    pthread_mutex_lock(&g_clients_lock);
    for (runtrack_t **pp = &g_clients; *pp; pp = &(*pp)->fork_next) {
        if (*pp == rt) {
            *pp = rt->fork_next;
            break;
        }
    }
    pthread_mutex_unlock(&g_clients_lock);
}

/* Makes each run's pre-encoded producer.pid this process's (lock held, no background thread).
 * Inside a JSON string every '"' is escaped, so the first `,"pid":` is the field. Out of
 * memory keeps the old tail: still a valid event, with the parent's pid. */
static void fork_retag_runs_locked(runtrack_t *rt)
{
    for (rt_run_t *r = rt->runs; r; r = r->next) {
        const char *p = strstr(r->tail, ",\"pid\":");
        if (!p)
            continue;
        const char *num = p + strlen(",\"pid\":"), *end = num;
        while (*end >= '0' && *end <= '9')
            end++;
        rt_buf_t b = {0};
        rt_buf_add(&b, r->tail, (size_t)(num - r->tail));
        rt_buf_add_i64(&b, rt->pid);
        rt_buf_adds(&b, end);
        if (b.oom) {
            rt_buf_free(&b);
            continue;
        }
        size_t old_len = strlen(r->tail);
        free(r->tail);
        r->tail = rt_buf_take(&b, NULL);
        r->env_base = r->env_base - old_len + strlen(r->tail);
    }
}

/* In a child, drops the parent's share of rt (lock held; RT_FORK_INHERITED -> RT_FORK_IDLE).
 * Queued events are the parent's to send. The FIFO, consistent under the lock, is freed; what
 * the background thread held outside it (the batch it was sending, the retry list, its
 * buffers, slots parked for reclaim) may have been mid-change at the fork and is abandoned
 * with the parent's librdkafka handle and thread (their slots stay taken until rt_pool_free).
 * Counting restarts from "nothing outstanding"; the ids' generators are reseeded (copies
 * would repeat the parent's event and run ids). */
static void fork_forget_locked(runtrack_t *rt)
{
    for (rt_ev_t *ev = rt->q_head; ev;) {
        rt_ev_t *next = ev->next;
        free(ev->data);
        if (ev->cls)
            rt_pool_put(&rt->pools[ev->cls - 1], ev);
        else
            free(ev);
        ev = next;
    }
    rt->q_head = rt->q_tail = NULL;
    rt->retry_head = rt->retry_tail = NULL;
    rt->rk = NULL;
    rt->rkt = NULL;
    rt->thread_started = rt->stop = rt->bg_sleeping = rt->recreating = 0;
    memset(&rt->buf, 0, sizeof rt->buf);
    memset(&rt->data_buf, 0, sizeof rt->data_buf);
    for (int i = 0; i < RT_POOLS; i++) {
        rt->pools[i].ret_head = rt->pools[i].ret_tail = NULL;
        rt->pools[i].ret_n = 0;
    }
    rt->bg_done_events = atomic_load(&rt->enq_events);
    rt->bg_done_logs = atomic_load(&rt->enq_logs);
    publish_done(rt);
    for (rt_run_t *r = rt->runs; r; r = r->next) {
        r->ev_done = r->ev_enq;
        r->progress_queued = 0;
        r->hb_outstanding = 0;
        r->started_here = 0; /* the parent heartbeats the runs it started */
    }
    rt_rng_seed(&rt->id_rng);
    rt_rng_seed(&rt->bg_rng);
    rt->pid = (long)getpid();
    fork_retag_runs_locked(rt);
    atomic_store(&rt->fork_state, RT_FORK_IDLE);
}

/* Lock held. In a child, drops the parent's share and, when `start` is set, gives rt a
 * librdkafka handle and a background thread of its own. Returns RUNTRACK_OK (also when there
 * was nothing to do), or KAFKA / SYSTEM with errstr; the next call tries again. */
static runtrack_err_t fork_adopt_locked(runtrack_t *rt, int start, char *errstr,
                                        size_t errstr_size)
{
    if (atomic_load(&rt->fork_state) == RT_FORK_INHERITED)
        fork_forget_locked(rt);
    if (!start || atomic_load(&rt->fork_state) == RT_FORK_NONE)
        return RUNTRACK_OK;
    if (kafka_open(rt, errstr, errstr_size) != 0)
        return RUNTRACK_ERR_KAFKA;
    int e = pthread_create(&rt->thread, NULL, bg_main, rt);
    if (e != 0) {
        rt_seterr(errstr, errstr_size, "cannot start background thread: %s", strerror(e));
        rd_kafka_topic_destroy(rt->rkt);
        rd_kafka_destroy(rt->rk);
        rt->rk = NULL;
        rt->rkt = NULL;
        return RUNTRACK_ERR_SYSTEM;
    }
    rt->thread_started = 1;
    atomic_store(&rt->fork_state, RT_FORK_NONE);
    return RUNTRACK_OK;
}

/* Every call's fork check: one relaxed load while the client is this process's. Recording
 * calls pass start = 1 (they need the thread); flush, stats and destroy pass 0. */
static runtrack_err_t fork_check(runtrack_t *rt, int start, char *errstr, size_t errstr_size)
{
    if (__builtin_expect(atomic_load_explicit(&rt->fork_state, memory_order_relaxed) ==
                             RT_FORK_NONE,
                         1))
        return RUNTRACK_OK;
    pthread_mutex_lock(&rt->lock);
    runtrack_err_t err = fork_adopt_locked(rt, start, errstr, errstr_size);
    pthread_mutex_unlock(&rt->lock);
    return err;
}

/* ------------------------------------------------------------------------------ client API */

static void client_free(runtrack_t *rt)
{
    for (int i = 0; i < RT_POOLS; i++)
        rt_pool_free(&rt->pools[i]);
    rt_buf_free(&rt->buf);
    rt_buf_free(&rt->data_buf);
    pthread_mutex_destroy(&rt->lock);
    pthread_cond_destroy(&rt->wake);
    free(rt);
}

RUNTRACK_API runtrack_t *runtrack_new(runtrack_conf_t *conf, char *errstr, size_t errstr_size)
{
    runtrack_conf_t *own = NULL;
    if (!conf) {
        own = runtrack_conf_new();
        if (!own) {
            rt_seterr(errstr, errstr_size, "out of memory");
            return NULL;
        }
        if (runtrack_conf_from_env(own, errstr, errstr_size) != RUNTRACK_OK) {
            runtrack_conf_destroy(own);
            return NULL;
        }
        conf = own;
    }
    runtrack_t *rt = calloc(1, sizeof *rt);
    if (!rt) {
        rt_seterr(errstr, errstr_size, "out of memory");
        goto fail_conf;
    }
    pthread_mutex_init(&rt->lock, NULL);
    pthread_cond_init(&rt->wake, NULL);
    for (int i = 0; i < RT_POOLS; i++)
        rt_pool_init(&rt->pools[i], pool_slot_size[i]);
    rt->conf = conf;
    rt->pid = (long)getpid();
    if (conf->host)
        snprintf(rt->host, sizeof rt->host, "%s", conf->host);
    else if (gethostname(rt->host, sizeof rt->host - 1) != 0 || !rt->host[0])
        snprintf(rt->host, sizeof rt->host, "unknown");
    rt_rng_seed(&rt->id_rng);
    rt_rng_seed(&rt->bg_rng);
    int e = fork_handlers();
    if (e != 0) {
        rt_seterr(errstr, errstr_size, "cannot register fork handlers: %s", strerror(e));
        goto fail;
    }
    if (kafka_open(rt, errstr, errstr_size) != 0)
        goto fail;
    e = pthread_create(&rt->thread, NULL, bg_main, rt);
    if (e != 0) {
        rt_seterr(errstr, errstr_size, "cannot start background thread: %s", strerror(e));
        rd_kafka_topic_destroy(rt->rkt);
        rd_kafka_destroy(rt->rk);
        goto fail;
    }
    rt->thread_started = 1;
    fork_track(rt);
    return rt;
fail:
    rt->conf = NULL;
    client_free(rt);
fail_conf:
    runtrack_conf_destroy(own);
    return NULL;
}

RUNTRACK_API runtrack_err_t runtrack_flush(runtrack_t *rt, int timeout_ms, uint64_t *undelivered)
{
    if (!rt)
        return RUNTRACK_ERR_INVALID_ARG;
    (void)fork_check(rt, 0, NULL, 0); /* in a child: nothing of the parent's to wait for */
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : rt_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        long long left = outstanding(rt);
        if (left <= 0) {
            if (undelivered)
                *undelivered = 0;
            return RUNTRACK_OK;
        }
        if (rt_mono_us() >= deadline) {
            if (undelivered)
                *undelivered = (uint64_t)left;
            return RUNTRACK_ERR_TIMEOUT;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* runtrack_destroy with a spool, after the flush timed out: appends the framed leftovers
 * (rt->spool) to the spool. Returns RUNTRACK_ERR_SPOOLED with *undelivered = the events
 * spooled, or RUNTRACK_ERR_TIMEOUT when the spool could not take them (they are lost). */
static runtrack_err_t spool_write(runtrack_t *rt, uint64_t *undelivered)
{
    char err[512] = "";
    rt_spool_append_res_t res = {0};
    if (rt->spool->oom) {
        snprintf(err, sizeof err, "out of memory");
    } else if (rt_spool_append(rt->conf->spool_dir, rt->conf->spool_max_bytes, rt->spool->data,
                               rt->spool->len, &res, err, sizeof err) == 0) {
        if (undelivered)
            *undelivered = res.written;
        return RUNTRACK_ERR_SPOOLED;
    }
    if (rt->conf->verbose)
        fprintf(stderr, "runtrack: %llu event(s) could not be spooled: %s\n",
                (unsigned long long)rt->spool_n, err);
    if (undelivered)
        *undelivered = rt->spool_n;
    return RUNTRACK_ERR_TIMEOUT;
}

/* runtrack_destroy with a spool, after everything of this client was delivered (the broker is
 * reachable): sends what earlier processes spooled, for at most timeout_ms (-1: 30 s). What is
 * not delivered stays spooled; nothing is reported (this client's own events are all out). */
static void spool_send(runtrack_t *rt, int timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 30000;
    if (timeout_ms < 50)
        return; /* too little time to send anything: it would only go back into the spool */
    char err[512];
    rt_spool_deliver_res_t res;
    if (rt_spool_deliver(rt->conf, rt->conf->spool_dir, timeout_ms, &res, err, sizeof err) < 0 &&
        rt->conf->verbose)
        fprintf(stderr, "runtrack: spool: %s\n", err);
}

RUNTRACK_API runtrack_err_t runtrack_destroy(runtrack_t *rt, int timeout_ms, uint64_t *undelivered)
{
    if (!rt) {
        if (undelivered)
            *undelivered = 0;
        return RUNTRACK_OK;
    }
    /* In a child that never recorded, this leaves no thread to join and no handle to close:
     * destroy returns at once without touching the parent's. */
    fork_untrack(rt);
    (void)fork_check(rt, 0, NULL, 0);
    int64_t t0 = rt_mono_us();
    runtrack_err_t err = runtrack_flush(rt, timeout_ms, undelivered);
    pthread_mutex_lock(&rt->lock);
    rt->stop = 1;
    pthread_cond_signal(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
    if (rt->thread_started)
        pthread_join(rt->thread, NULL);
    /* What is left is lost (freed), or spooled. Purged messages come back through dr_cb and are
     * freed there (recreating is 0, so nothing is re-queued), or framed onto the spool batch. */
    rt_buf_t spool = {0};
    if (err == RUNTRACK_ERR_TIMEOUT && rt->conf->spool_dir)
        rt->spool = &spool;
    kafka_close(rt);
    rt_ev_t *lists[2] = {rt->retry_head, rt->q_head};
    for (int i = 0; i < 2; i++) {
        for (rt_ev_t *ev = lists[i]; ev;) {
            rt_ev_t *next = ev->next;
            /* Never produced (or failed and waiting): encoded here as they would have been. */
            if (rt->spool && encode_event(rt, ev) == 0) {
                spool_add(rt, ev, rt->buf.data, rt->buf.len);
                ev_free(rt, ev);
            } else if (!rt->spool) {
                ev_free(rt, ev);
            }
            ev = next;
        }
    }
    if (rt->spool)
        err = spool_write(rt, undelivered);
    else if (err == RUNTRACK_OK && rt->conf->spool_dir)
        spool_send(rt, timeout_ms < 0 ? -1 : timeout_ms - (int)((rt_mono_us() - t0) / 1000));
    rt_buf_free(&spool);
    rt->spool = NULL;
    for (rt_run_t *r = rt->runs; r;) {
        rt_run_t *next = r->next;
        run_free(r);
        r = next;
    }
    runtrack_conf_destroy(rt->conf);
    client_free(rt);
    return err;
}

void rt_test_inject_fatal(runtrack_t *rt)
{
    atomic_store(&rt->test_fatal, 1);
    pthread_mutex_lock(&rt->lock);
    pthread_cond_signal(&rt->wake);
    pthread_mutex_unlock(&rt->lock);
}

int rt_test_pool_stats(runtrack_t *rt, size_t n, size_t *slot_size, size_t *total, size_t *in_use)
{
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < n && i < RT_POOLS; i++) {
        slot_size[i] = rt->pools[i].slot_size;
        total[i] = rt->pools[i].total;
        in_use[i] = rt->pools[i].in_use;
    }
    pthread_mutex_unlock(&rt->lock);
    return RT_POOLS;
}

RUNTRACK_API void runtrack_stats(runtrack_t *rt, runtrack_stats_t *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!rt)
        return;
    (void)fork_check(rt, 0, NULL, 0);
    st->recorded = (uint64_t)atomic_load(&rt->enq_events);
    st->produced = atomic_load(&rt->st_produced);
    st->delivered = atomic_load(&rt->st_delivered);
    st->failed = atomic_load(&rt->st_failed);
    st->retried = atomic_load(&rt->st_retried);
    st->dropped_logs = atomic_load(&rt->st_dropped);
    st->coalesced_progress = atomic_load(&rt->st_coalesced);
    long long q = outstanding(rt);
    st->queued = q > 0 ? (uint64_t)q : 0;
    st->recreations = atomic_load(&rt->st_recreations);
}

/* --------------------------------------------------------------------------------- run API */

/* Checks a 1..max byte string. */
static int str_ok(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, max + 1);
    return n >= 1 && n <= max;
}

/* Validates a counter array; returns 0 or -1 with errstr. */
static int counters_ok(const runtrack_counter_t *c, size_t n, const char *what, char *errstr,
                       size_t errstr_size)
{
    if (n && !c) {
        rt_seterr(errstr, errstr_size, "%s: NULL array with %zu entries", what, n);
        return -1;
    }
    if (n > RUNTRACK_MAX_COUNTERS) {
        rt_seterr(errstr, errstr_size, "%s: more than %d counters", what, RUNTRACK_MAX_COUNTERS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!c[i].name || !rt_counter_name_valid(c[i].name)) {
            rt_seterr(errstr, errstr_size,
                      "%s: invalid counter name \"%s\" (want [a-z][a-z0-9_]{0,63})", what,
                      c[i].name ? c[i].name : "(null)");
            return -1;
        }
        if (c[i].value < 0) {
            rt_seterr(errstr, errstr_size, "%s: counter %s is negative", what, c[i].name);
            return -1;
        }
    }
    return 0;
}

/* Encodes a counter array as a JSON object (names already validated). */
static void enc_counter_arg(rt_buf_t *b, const runtrack_counter_t *c, size_t n)
{
    rt_buf_addc(b, '{');
    for (size_t i = 0; i < n; i++)
        rt_enc_counter(b, i, c[i].name, c[i].value);
    rt_buf_addc(b, '}');
}

/* Merges counters into the run's map (lock held). Returns 0, or -1 when the map is full. */
static int merge_counters_locked(rt_run_t *run, const runtrack_counter_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < run->n_ctr; k++)
            if (strcmp(run->ctr[k].name, c[i].name) == 0)
                break;
        if (k == run->n_ctr) {
            if (run->n_ctr == RUNTRACK_MAX_COUNTERS)
                return -1;
            snprintf(run->ctr[k].name, sizeof run->ctr[k].name, "%s", c[i].name);
            run->n_ctr++;
        }
        run->ctr[k].value = c[i].value;
    }
    return 0;
}

static int64_t uuid_ms(const char *id)
{
    /* UUIDv7: the first 48 bits (12 hex digits, with a '-' after 8) are Unix milliseconds. */
    int64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8)
            continue;
        char c = id[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 0;
        ms = ms * 16 + v;
    }
    return ms;
}

/* Bytes of the envelope around a run tail without its seq, type and data (see event_size), or
 * 0 when out of memory. Measured with the encoder itself, so the two cannot disagree. */
static size_t envelope_base(const char *tail)
{
    char id[RT_UUID_STRLEN];
    memset(id, '0', RT_UUID_STRLEN - 1);
    id[RT_UUID_STRLEN - 1] = '\0';
    rt_buf_t b = {0};
    size_t n = 0;
    if (rt_enc_envelope(&b, id, id, 0, 0, "", tail, NULL, 0) == 0 && !b.oom)
        n = b.len - strlen("0") - strlen("{}");
    rt_buf_free(&b);
    return n;
}

static rt_run_t *run_new(runtrack_t *rt, const char *id, const char *job, const char *kind,
                         char *errstr, size_t errstr_size)
{
    rt_run_t *run = calloc(1, sizeof *run);
    if (!run) {
        rt_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    rt_buf_t b = {0};
    rt_enc_run_tail(&b, job, kind, rt->host, rt->pid, RUNTRACK_VERSION_STR);
    run->env_base = b.oom ? 0 : envelope_base(b.data);
    if (b.oom || !run->env_base) {
        rt_buf_free(&b);
        free(run);
        rt_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    run->tail = rt_buf_take(&b, NULL);
    run->rt = rt;
    snprintf(run->id, sizeof run->id, "%s", id);
    /* A UUIDv7 carries the run's start: seqs are microseconds since it. Another version (a
     * caller's own id, runtrack_run_start_with_id) carries no time, so seqs are microseconds
     * since the Unix epoch: every process of the run derives them alike from its clock, as it
     * does from a v7's time, and they stay far below 2^53 (JSON's exact integers). */
    run->start_us = id[14] == '7' ? uuid_ms(id) * 1000 : 0;
    run->last_seq = 1;
    run->mem = run->cpu = -1;
    atomic_init(&run->refs, 1); /* the client's list */
    return run;
}

static int check_job_kind(const char *job, const char *kind, char *errstr, size_t errstr_size)
{
    if (!str_ok(job, RT_JOB_MAX)) {
        rt_seterr(errstr, errstr_size, "job must be 1..%d bytes", RT_JOB_MAX);
        return -1;
    }
    if (!str_ok(kind, RT_KIND_MAX)) {
        rt_seterr(errstr, errstr_size, "kind must be 1..%d bytes", RT_KIND_MAX);
        return -1;
    }
    return 0;
}

/* Encodes run.started's data object for opts into d. Returns 0, or -1 with errstr filled. */
static int start_data(rt_buf_t *d, const char *kind, const runtrack_start_opts_t *opts,
                      char *errstr, size_t errstr_size)
{
    rt_buf_addc(d, '{');
    int first = 1;
    if (opts->n_start_counts) {
        rt_buf_adds(d, "\"start_counts\":");
        enc_counter_arg(d, opts->start_counts, opts->n_start_counts);
        first = 0;
    }
    if (opts->params_json) {
        rt_buf_adds(d, first ? "\"params\":" : ",\"params\":");
        char jerr[200];
        if (rt_enc_json_object(d, opts->params_json, jerr, sizeof jerr) != 0 ||
            (strcmp(kind, "discovery") == 0 &&
             rt_check_discovery_params(opts->params_json, jerr, sizeof jerr) != 0)) {
            rt_seterr(errstr, errstr_size, "params: %s", jerr);
            return -1;
        }
        first = 0;
    }
    if (opts->n_planned) {
        rt_buf_adds(d, first ? "\"planned\":" : ",\"planned\":");
        enc_counter_arg(d, opts->planned, opts->n_planned);
    }
    rt_buf_addc(d, '}');
    return 0;
}

/* Checks a caller's run id and writes it lowercased into id: any canonical UUID but the nil
 * one (which names no run: the consumer dead-letters it). Returns 0, or -1 with errstr. */
static int take_run_id(const char *run_id, char id[RT_UUID_STRLEN], char *errstr,
                       size_t errstr_size)
{
    if (!run_id || !rt_uuid_valid(run_id)) {
        rt_seterr(errstr, errstr_size, "run id \"%.64s\" is not a UUID (8-4-4-4-12 hex digits)",
                  run_id ? run_id : "(null)");
        return -1;
    }
    for (int i = 0; i < 36; i++)
        id[i] = (run_id[i] >= 'A' && run_id[i] <= 'F') ? (char)(run_id[i] - 'A' + 'a') : run_id[i];
    id[36] = '\0';
    if (strcmp(id, "00000000-0000-0000-0000-000000000000") == 0) {
        rt_seterr(errstr, errstr_size, "the nil UUID is not a run id");
        return -1;
    }
    return 0;
}

/* Whether this client holds run id under another job or kind (lock held): its events would be
 * dead letters at the consumer (docs/decisions.md, "A run's identity"), so the start is
 * refused here, where it is known. The pre-encoded tails differ exactly when job or kind do
 * (host, pid and version are the client's). */
static const rt_run_t *other_identity_locked(const runtrack_t *rt, const char *id,
                                             const rt_run_t *mine)
{
    for (const rt_run_t *r = rt->runs; r; r = r->next)
        if (r != mine && strcmp(r->id, id) == 0 && strcmp(r->tail, mine->tail) != 0)
            return r;
    return NULL;
}

/* runtrack_run_start and runtrack_run_start_with_id: run_id NULL picks a UUIDv7. */
static rt_run_t *run_start(runtrack_t *rt, const char *job, const char *run_id,
                           const runtrack_start_opts_t *opts, char *errstr, size_t errstr_size)
{
    runtrack_start_opts_t none = {0};
    if (!opts)
        opts = &none;
    const char *kind = opts->kind ? opts->kind : "scrape";
    rt_buf_t d = {0};
    rt_run_t *run = NULL;
    rt_ev_t *ev = NULL;
    char id[RT_UUID_STRLEN];
    if (!rt) {
        rt_seterr(errstr, errstr_size, "client is NULL");
        return NULL;
    }
    if (fork_check(rt, 1, errstr, errstr_size) != RUNTRACK_OK)
        return NULL;
    if ((run_id && take_run_id(run_id, id, errstr, errstr_size)) ||
        check_job_kind(job, kind, errstr, errstr_size) ||
        counters_ok(opts->start_counts, opts->n_start_counts, "start_counts", errstr,
                    errstr_size) ||
        counters_ok(opts->planned, opts->n_planned, "planned", errstr, errstr_size) ||
        start_data(&d, kind, opts, errstr, errstr_size))
        goto fail;
    ev = calloc(1, sizeof *ev);
    if (d.oom || !ev) {
        rt_seterr(errstr, errstr_size, "out of memory");
        goto fail;
    }
    int64_t now = rt_now_us();
    if (!run_id) {
        pthread_mutex_lock(&rt->lock);
        rt_uuid_v7(&rt->id_rng, now, id);
        pthread_mutex_unlock(&rt->lock);
    }
    run = run_new(rt, id, job, kind, errstr, errstr_size);
    if (!run)
        goto fail;
    size_t size = event_size(run, RT_EV_STARTED, 1, d.len);
    if (size > RT_EVENT_MAX_BYTES) {
        rt_seterr(errstr, errstr_size, "run.started would be %zu bytes, over the %d-byte limit",
                  size, RT_EVENT_MAX_BYTES);
        goto fail;
    }
    run->started_here = 1;
    run->last_hb_mono = rt_mono_us();
    ev->type = RT_EV_STARTED;
    ev->ts_us = now;
    ev->seq = 1;
    ev->run = run;
    pthread_mutex_lock(&rt->lock);
    if (run_id && other_identity_locked(rt, id, run)) {
        pthread_mutex_unlock(&rt->lock);
        rt_seterr(errstr, errstr_size,
                  "run %s was started in this client under another job or kind; a run id names "
                  "one run of one job",
                  id);
        goto fail;
    }
    atomic_fetch_add(&run->refs, 1); /* the caller's handle */
    ev->data = rt_buf_take(&d, &ev->data_len);
    run->next = rt->runs;
    rt->runs = run;
    enqueue_locked(rt, ev);
    pthread_mutex_unlock(&rt->lock);
    return run;
fail:
    if (run)
        run_free(run);
    rt_buf_free(&d);
    free(ev);
    return NULL;
}

RUNTRACK_API runtrack_run_t *runtrack_run_start(runtrack_t *rt, const char *job,
                                                const runtrack_start_opts_t *opts, char *errstr,
                                                size_t errstr_size)
{
    return run_start(rt, job, NULL, opts, errstr, errstr_size);
}

RUNTRACK_API runtrack_run_t *runtrack_run_start_with_id(runtrack_t *rt, const char *job,
                                                        const char *run_id,
                                                        const runtrack_start_opts_t *opts,
                                                        char *errstr, size_t errstr_size)
{
    if (!run_id) {
        rt_seterr(errstr, errstr_size, "run id is NULL (runtrack_run_start picks one)");
        return NULL;
    }
    return run_start(rt, job, run_id, opts, errstr, errstr_size);
}

RUNTRACK_API runtrack_run_t *runtrack_run_attach(runtrack_t *rt, const char *run_id,
                                                 const char *job, const char *kind, char *errstr,
                                                 size_t errstr_size)
{
    if (!rt) {
        rt_seterr(errstr, errstr_size, "client is NULL");
        return NULL;
    }
    if (!kind)
        kind = "scrape";
    char id[RT_UUID_STRLEN];
    if (take_run_id(run_id, id, errstr, errstr_size) ||
        check_job_kind(job, kind, errstr, errstr_size) ||
        fork_check(rt, 0, errstr, errstr_size) != RUNTRACK_OK)
        return NULL;
    rt_run_t *run = run_new(rt, id, job, kind, errstr, errstr_size);
    if (!run)
        return NULL;
    atomic_fetch_add(&run->refs, 1);
    pthread_mutex_lock(&rt->lock);
    run->next = rt->runs;
    rt->runs = run;
    pthread_mutex_unlock(&rt->lock);
    return run;
}

RUNTRACK_API const char *runtrack_run_id(const runtrack_run_t *run)
{
    return run ? run->id : NULL;
}

/* Records a lifecycle event with pre-encoded data (taken over from d). */
static runtrack_err_t record_lifecycle(rt_run_t *run, rt_event_type_t type, rt_buf_t *d,
                                       const char *phase, int finish, char *errstr,
                                       size_t errstr_size)
{
    runtrack_t *rt = run->rt;
    runtrack_err_t err = fork_check(rt, 1, errstr, errstr_size);
    if (err != RUNTRACK_OK) {
        rt_buf_free(d);
        return err;
    }
    /* No size check: phase (64 bytes) and reason (1 KiB) keep these events far below 1 MiB. */
    rt_ev_t *ev = ev_new(run, type);
    if (!ev || d->oom) {
        free(ev);
        rt_buf_free(d);
        rt_seterr(errstr, errstr_size, "out of memory");
        return RUNTRACK_ERR_NOMEM;
    }
    ev->data = d->len ? rt_buf_take(d, &ev->data_len) : NULL;
    rt_buf_free(d);
    pthread_mutex_lock(&rt->lock);
    if (run->finished) {
        pthread_mutex_unlock(&rt->lock);
        free(ev->data);
        free(ev);
        rt_seterr(errstr, errstr_size, "run %s is already finished", run->id);
        return RUNTRACK_ERR_STATE;
    }
    ev->ts_us = rt_now_us();
    ev->seq = next_seq(run, ev->ts_us);
    if (phase)
        snprintf(run->phase, sizeof run->phase, "%s", phase);
    if (finish)
        run->finished = 1;
    enqueue_locked(rt, ev);
    pthread_mutex_unlock(&rt->lock);
    return RUNTRACK_OK;
}

RUNTRACK_API runtrack_err_t runtrack_run_phase(runtrack_run_t *run, const char *phase, char *errstr,
                                               size_t errstr_size)
{
    if (!run || !str_ok(phase, RT_PHASE_MAX)) {
        rt_seterr(errstr, errstr_size, "phase must be 1..%d bytes", RT_PHASE_MAX);
        return RUNTRACK_ERR_INVALID_ARG;
    }
    rt_buf_t d = {0};
    rt_buf_adds(&d, "{\"phase\":");
    rt_buf_add_jstr(&d, phase, strlen(phase));
    rt_buf_addc(&d, '}');
    return record_lifecycle(run, RT_EV_PHASE, &d, phase, 0, errstr, errstr_size);
}

void rt_run_set_phase(runtrack_run_t *run, const char *phase)
{
    if (!run || !str_ok(phase, RT_PHASE_MAX))
        return;
    pthread_mutex_lock(&run->rt->lock);
    snprintf(run->phase, sizeof run->phase, "%s", phase);
    pthread_mutex_unlock(&run->rt->lock);
}

static int pct_ok(double v)
{
    return v == RUNTRACK_PERCENT_UNSET || (isfinite(v) && v >= 0 && v <= 100);
}

RUNTRACK_API runtrack_err_t runtrack_run_progress(runtrack_run_t *run,
                                                  const runtrack_counter_t *counters, size_t n,
                                                  double memory_percent, double cpu_percent,
                                                  char *errstr, size_t errstr_size)
{
    if (!run) {
        rt_seterr(errstr, errstr_size, "run is NULL");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    if (counters_ok(counters, n, "counters", errstr, errstr_size))
        return RUNTRACK_ERR_INVALID_ARG;
    if (!pct_ok(memory_percent) || !pct_ok(cpu_percent)) {
        rt_seterr(errstr, errstr_size, "memory/cpu percent must be 0..100");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    runtrack_t *rt = run->rt;
    runtrack_err_t err = fork_check(rt, 1, errstr, errstr_size);
    if (err != RUNTRACK_OK)
        return err;
    rt_ev_t *ev = NULL;
    pthread_mutex_lock(&rt->lock);
    if (run->finished) {
        pthread_mutex_unlock(&rt->lock);
        rt_seterr(errstr, errstr_size, "run %s is already finished", run->id);
        return RUNTRACK_ERR_STATE;
    }
    if (merge_counters_locked(run, counters, n) != 0) {
        pthread_mutex_unlock(&rt->lock);
        rt_seterr(errstr, errstr_size, "run %s would have more than %d counters", run->id,
                  RUNTRACK_MAX_COUNTERS);
        return RUNTRACK_ERR_LIMIT;
    }
    if (memory_percent >= 0)
        run->mem = memory_percent;
    if (cpu_percent >= 0)
        run->cpu = cpu_percent;
    int64_t now = rt_now_us();
    run->progress_ts = now;
    if (run->progress_queued) {
        pthread_mutex_unlock(&rt->lock);
        atomic_fetch_add(&rt->st_coalesced, 1);
        return RUNTRACK_OK;
    }
    pthread_mutex_unlock(&rt->lock);
    /* Allocate outside the lock, then re-check: another thread may have queued a marker. */
    ev = ev_new(run, RT_EV_PROGRESS);
    if (!ev) {
        rt_seterr(errstr, errstr_size, "out of memory");
        return RUNTRACK_ERR_NOMEM;
    }
    pthread_mutex_lock(&rt->lock);
    if (run->progress_queued || run->finished) {
        pthread_mutex_unlock(&rt->lock);
        free(ev);
        atomic_fetch_add(&rt->st_coalesced, 1);
        return RUNTRACK_OK;
    }
    ev->ts_us = now;
    ev->seq = next_seq(run, now);
    run->progress_queued = 1;
    enqueue_locked(rt, ev);
    pthread_mutex_unlock(&rt->lock);
    return RUNTRACK_OK;
}

RUNTRACK_API runtrack_err_t runtrack_run_counter(runtrack_run_t *run, const char *name,
                                                 int64_t value)
{
    runtrack_counter_t c = {name, value};
    return runtrack_run_progress(run, &c, 1, RUNTRACK_PERCENT_UNSET, RUNTRACK_PERCENT_UNSET, NULL,
                                 0);
}

/* Takes a slot for a log event needing `need` inline bytes (lock held): from the smallest pool
 * whose slots fit it, else NULL. */
static rt_ev_t *log_slot_get_locked(runtrack_t *rt, size_t need)
{
    for (int i = 0; i < RT_POOLS; i++) {
        if (need > pool_slot_size[i] - sizeof(rt_ev_t))
            continue;
        rt_ev_t *ev = rt_pool_get(&rt->pools[i], pool_cap_locked(rt, i));
        if (ev)
            ev->cls = (unsigned char)(i + 1);
        return ev;
    }
    return NULL;
}

/* Exact bytes of a run.log event recorded at now (lock held: the run's phase is part of it),
 * or SIZE_MAX when out of memory. Only for the rare line whose fields approach 1 MiB. */
static size_t log_size_locked(const rt_run_t *run, int level, const char *msg, size_t len,
                              const char *fields, int64_t now)
{
    rt_buf_t d = {0};
    enc_log_data(&d, level, msg ? msg : "", len, run->phase[0] ? run->phase : NULL, fields);
    size_t n = d.oom ? SIZE_MAX : event_size(run, RT_EV_LOG, seq_at(run, now), d.len);
    rt_buf_free(&d);
    return n;
}

/* Records a log line of len bytes (copied). fields is compact JSON or NULL.
 * In steady use this allocates nothing: the event goes into a recycled pool slot, taken and
 * filled in one critical section (the copy is a few hundred bytes at most). Messages too long
 * for a slot are malloc'ed before the lock; the event is malloc'ed under the lock when message
 * and phase just miss the largest slot, or when the pools may not grow (log.queue.max slots
 * exist but some still wait to be reclaimed). */
static runtrack_err_t record_log(rt_run_t *run, runtrack_level_t level, const char *msg, size_t len,
                                 const char *fields, size_t fields_len)
{
    if (!run || (int)level < 0 || (int)level >= RT_LOG__COUNT || (!msg && len))
        return RUNTRACK_ERR_INVALID_ARG;
    runtrack_t *rt = run->rt;
    runtrack_err_t err = fork_check(rt, 1, NULL, 0);
    if (err != RUNTRACK_OK)
        return err;
    /* Cheap early drop without locking the queue when the bound is reached. */
    if (log_pending(rt) >= rt->conf->log_queue_max)
        goto drop;
    len = rt_utf8_cut(msg ? msg : "", len, RT_LOG_MESSAGE_MAX);
    /* Only huge fields can take a line over 1 MiB: the message is cut to 64 KiB (at most 6
     * bytes of JSON per byte) and the rest is under 512 bytes. Those lines are measured. */
    int measure = fields_len + 6 * len + run->env_base + 512 > RT_EVENT_MAX_BYTES;
    size_t base = len + 1 + (fields ? fields_len + 1 : 0);
    size_t heap_size = sizeof(rt_ev_t) + base + sizeof run->phase;
    rt_ev_t *ev = NULL;
    /* Too long for any slot even without a phase: malloc before locking. (With the phase, known
     * only under the lock, a line can still miss the slots; it is malloc'ed there.) */
    if (base > pool_slot_size[RT_POOLS - 1] - sizeof(rt_ev_t)) {
        ev = malloc(heap_size);
        if (!ev)
            return RUNTRACK_ERR_NOMEM;
        ev->cls = 0;
    }
    pthread_mutex_lock(&rt->lock);
    if (run->finished) {
        pthread_mutex_unlock(&rt->lock);
        free(ev);
        return RUNTRACK_ERR_STATE;
    }
    int64_t now = rt_now_us();
    size_t size = measure ? log_size_locked(run, (int)level, msg, len, fields, now) : 0;
    if (size > RT_EVENT_MAX_BYTES) {
        pthread_mutex_unlock(&rt->lock);
        free(ev);
        return size == SIZE_MAX ? RUNTRACK_ERR_NOMEM : RUNTRACK_ERR_TOO_LARGE;
    }
    if (log_pending(rt) >= rt->conf->log_queue_max) {
        run->dropped_logs++;
        pthread_mutex_unlock(&rt->lock);
        free(ev);
        atomic_fetch_add(&rt->st_dropped, 1);
        return RUNTRACK_ERR_QUEUE_FULL;
    }
    size_t phase_len = run->phase[0] ? strlen(run->phase) + 1 : 0;
    if (!ev)
        ev = log_slot_get_locked(rt, base + phase_len);
    if (!ev) {
        ev = malloc(heap_size);
        if (!ev) {
            pthread_mutex_unlock(&rt->lock);
            return RUNTRACK_ERR_NOMEM;
        }
        ev->cls = 0;
    }
    unsigned char cls = ev->cls;
    memset(ev, 0, sizeof *ev);
    ev->cls = cls;
    char *p = ev->inline_;
    if (len)
        memcpy(p, msg, len);
    p[len] = '\0';
    ev->msg = p;
    ev->msg_len = len;
    p += len + 1;
    if (fields) {
        memcpy(p, fields, fields_len);
        p[fields_len] = '\0';
        ev->fields = p;
        p += fields_len + 1;
    }
    if (phase_len) {
        memcpy(p, run->phase, phase_len);
        ev->phase = p;
    }
    ev->type = RT_EV_LOG;
    ev->level = (int)level;
    ev->run = run;
    ev->ts_us = now;
    ev->seq = next_seq(run, now);
    enqueue_locked(rt, ev);
    pthread_mutex_unlock(&rt->lock);
    return RUNTRACK_OK;
drop:
    pthread_mutex_lock(&rt->lock);
    int finished = run->finished;
    if (!finished)
        run->dropped_logs++;
    pthread_mutex_unlock(&rt->lock);
    if (finished)
        return RUNTRACK_ERR_STATE;
    atomic_fetch_add(&rt->st_dropped, 1);
    return RUNTRACK_ERR_QUEUE_FULL;
}

RUNTRACK_API runtrack_err_t runtrack_run_log(runtrack_run_t *run, runtrack_level_t level,
                                             const char *message, const char *fields_json)
{
    if (!message)
        return RUNTRACK_ERR_INVALID_ARG;
    if (!fields_json)
        return record_log(run, level, message, strlen(message), NULL, 0);
    rt_buf_t f = {0};
    if (rt_enc_json_object(&f, fields_json, NULL, 0) != 0 || f.oom) {
        rt_buf_free(&f);
        return RUNTRACK_ERR_JSON;
    }
    runtrack_err_t err = record_log(run, level, message, strlen(message), f.data, f.len);
    rt_buf_free(&f);
    return err;
}

RUNTRACK_API runtrack_err_t runtrack_run_vlogf(runtrack_run_t *run, runtrack_level_t level,
                                               const char *fmt, va_list ap)
{
    if (!fmt)
        return RUNTRACK_ERR_INVALID_ARG;
    char stack[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return RUNTRACK_ERR_INVALID_ARG;
    }
    if ((size_t)n < sizeof stack) {
        va_end(ap2);
        return record_log(run, level, stack, (size_t)n, NULL, 0);
    }
    char *heap = malloc((size_t)n + 1);
    if (!heap) {
        va_end(ap2);
        return RUNTRACK_ERR_NOMEM;
    }
    vsnprintf(heap, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    runtrack_err_t err = record_log(run, level, heap, (size_t)n, NULL, 0);
    free(heap);
    return err;
}

RUNTRACK_API runtrack_err_t runtrack_run_logf(runtrack_run_t *run, runtrack_level_t level,
                                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    runtrack_err_t err = runtrack_run_vlogf(run, level, fmt, ap);
    va_end(ap);
    return err;
}

static runtrack_err_t pause_resume(rt_run_t *run, rt_event_type_t type, const char *reason,
                                   char *errstr, size_t errstr_size)
{
    if (!run) {
        rt_seterr(errstr, errstr_size, "run is NULL");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    rt_buf_t d = {0};
    if (reason) {
        rt_buf_adds(&d, "{\"reason\":");
        rt_buf_add_jstr(&d, reason, rt_utf8_cut(reason, strlen(reason), 1024));
        rt_buf_addc(&d, '}');
    }
    return record_lifecycle(run, type, &d, NULL, 0, errstr, errstr_size);
}

RUNTRACK_API runtrack_err_t runtrack_run_pause(runtrack_run_t *run, const char *reason,
                                               char *errstr, size_t errstr_size)
{
    return pause_resume(run, RT_EV_PAUSED, reason, errstr, errstr_size);
}

RUNTRACK_API runtrack_err_t runtrack_run_resume(runtrack_run_t *run, const char *reason,
                                                char *errstr, size_t errstr_size)
{
    return pause_resume(run, RT_EV_RESUMED, reason, errstr, errstr_size);
}

RUNTRACK_API runtrack_err_t runtrack_run_heartbeat(runtrack_run_t *run, char *errstr,
                                                   size_t errstr_size)
{
    if (!run) {
        rt_seterr(errstr, errstr_size, "run is NULL");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    runtrack_t *rt = run->rt;
    runtrack_err_t err = fork_check(rt, 1, errstr, errstr_size);
    if (err != RUNTRACK_OK)
        return err;
    rt_ev_t *ev = ev_new(run, RT_EV_HEARTBEAT);
    if (!ev) {
        rt_seterr(errstr, errstr_size, "out of memory");
        return RUNTRACK_ERR_NOMEM;
    }
    pthread_mutex_lock(&rt->lock);
    if (run->finished) {
        pthread_mutex_unlock(&rt->lock);
        free(ev);
        rt_seterr(errstr, errstr_size, "run %s is already finished", run->id);
        return RUNTRACK_ERR_STATE;
    }
    enqueue_heartbeat_locked(rt, ev, rt_mono_us());
    pthread_mutex_unlock(&rt->lock);
    return RUNTRACK_OK;
}

/* run.finished's data (lock held: the final counter map and dropped_logs are the run's state at
 * the moment it finished). how: NULL for the process's own finish, else the wrapper's (with
 * no_exit when the process never started or was lost). details: the encoded error details. */
static void enc_finish_data_locked(rt_buf_t *d, rt_run_t *run, const char *st,
                                   const runtrack_finish_opts_t *opts, const rt_buf_t *details,
                                   const runtrack_exit_t *how)
{
    rt_buf_adds(d, "{\"status\":\"");
    rt_buf_adds(d, st);
    rt_buf_addc(d, '"');
    if (how) {
        rt_buf_adds(d, ",\"source\":\"wrapper\"");
        if (how->exit_code >= 0) {
            rt_buf_adds(d, ",\"exit_code\":");
            rt_buf_add_i64(d, how->exit_code);
        } else if (how->signal > 0) {
            rt_buf_adds(d, ",\"signal\":");
            rt_buf_add_i64(d, how->signal);
        }
    }
    if (opts->n_end_counts) {
        rt_buf_adds(d, ",\"end_counts\":");
        enc_counter_arg(d, opts->end_counts, opts->n_end_counts);
    }
    if (run->n_ctr) {
        rt_buf_adds(d, ",\"counters\":");
        rt_enc_counters(d, run->ctr, run->n_ctr);
    }
    if (opts->error_message) {
        rt_buf_adds(d, ",\"error_message\":");
        rt_buf_add_jstr(
            d, opts->error_message,
            rt_utf8_cut(opts->error_message, strlen(opts->error_message), RT_LOG_MESSAGE_MAX));
    }
    if (details->len) {
        rt_buf_adds(d, ",\"error_details\":");
        rt_buf_add(d, details->data, details->len);
    }
    rt_buf_adds(d, ",\"dropped_logs\":");
    rt_buf_add_i64(d, (int64_t)run->dropped_logs);
    rt_buf_addc(d, '}');
}

/* Checks the arguments of a finish; returns its status name, or NULL with errstr set. */
static const char *finish_args_ok(runtrack_status_t status, const runtrack_finish_opts_t *opts,
                                  const runtrack_exit_t *how, char *errstr, size_t errstr_size)
{
    const char *st = status == RUNTRACK_COMPLETED ? "completed"
                     : status == RUNTRACK_FAILED  ? "failed"
                     : status == RUNTRACK_PARTIAL ? "partial"
                                                  : NULL;
    if (!st) {
        rt_seterr(errstr, errstr_size, "status must be completed, failed or partial");
        return NULL;
    }
    if (how && (how->exit_code < -1 || how->exit_code > 255 || how->signal < 0 ||
                how->signal > 127 || (how->exit_code >= 0 && how->signal > 0))) {
        rt_seterr(errstr, errstr_size,
                  "exit: an exit code 0..255 or a signal 1..127, not both (got %d and %d)",
                  how->exit_code, how->signal);
        return NULL;
    }
    if (counters_ok(opts->end_counts, opts->n_end_counts, "end_counts", errstr, errstr_size) ||
        counters_ok(opts->counters, opts->n_counters, "counters", errstr, errstr_size))
        return NULL;
    return st;
}

/* runtrack_run_finish and runtrack_run_finish_wrapped: how is NULL for the former; for the
 * latter it points to the process's end (no_exit when there is none to tell). */
static runtrack_err_t finish_run(runtrack_run_t *run, runtrack_status_t status,
                                 const runtrack_finish_opts_t *opts, const runtrack_exit_t *how,
                                 char *errstr, size_t errstr_size)
{
    runtrack_finish_opts_t none = {0};
    if (!opts)
        opts = &none;
    if (!run) {
        rt_seterr(errstr, errstr_size, "run is NULL");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    const char *st = finish_args_ok(status, opts, how, errstr, errstr_size);
    if (!st)
        return RUNTRACK_ERR_INVALID_ARG;
    runtrack_err_t err = fork_check(run->rt, 1, errstr, errstr_size);
    if (err != RUNTRACK_OK)
        return err;
    rt_buf_t details = {0};
    if (opts->error_details_json) {
        char jerr[200];
        if (rt_enc_json_object(&details, opts->error_details_json, jerr, sizeof jerr) != 0) {
            rt_buf_free(&details);
            rt_seterr(errstr, errstr_size, "error details: %s", jerr);
            return RUNTRACK_ERR_JSON;
        }
    }
    runtrack_t *rt = run->rt;
    rt_ev_t *ev = ev_new(run, RT_EV_FINISHED);
    if (!ev || details.oom) {
        free(ev);
        rt_buf_free(&details);
        rt_seterr(errstr, errstr_size, "out of memory");
        return RUNTRACK_ERR_NOMEM;
    }
    /* Encoded under the lock: the final counter map and dropped_logs must be the run's state at
     * the moment it finished. Rare call, so the longer hold is fine. */
    rt_buf_t d = {0};
    pthread_mutex_lock(&rt->lock);
    if (run->finished) {
        err = RUNTRACK_ERR_STATE;
        rt_seterr(errstr, errstr_size, "run %s is already finished", run->id);
        goto unlock;
    }
    if (merge_counters_locked(run, opts->counters, opts->n_counters) != 0) {
        err = RUNTRACK_ERR_LIMIT;
        rt_seterr(errstr, errstr_size, "run %s would have more than %d counters", run->id,
                  RUNTRACK_MAX_COUNTERS);
        goto unlock;
    }
    enc_finish_data_locked(&d, run, st, opts, &details, how);
    if (d.oom) {
        err = RUNTRACK_ERR_NOMEM;
        rt_seterr(errstr, errstr_size, "out of memory");
        goto unlock;
    }
    int64_t now = rt_now_us();
    size_t size = event_size(run, RT_EV_FINISHED, seq_at(run, now), d.len);
    if (size > RT_EVENT_MAX_BYTES) {
        err = RUNTRACK_ERR_TOO_LARGE;
        rt_seterr(errstr, errstr_size, "run.finished would be %zu bytes, over the %d-byte limit",
                  size, RT_EVENT_MAX_BYTES);
        goto unlock;
    }
    ev->data = rt_buf_take(&d, &ev->data_len);
    ev->ts_us = now;
    ev->seq = next_seq(run, now);
    run->finished = 1;
    enqueue_locked(rt, ev);
    ev = NULL;
unlock:
    pthread_mutex_unlock(&rt->lock);
    free(ev);
    rt_buf_free(&d);
    rt_buf_free(&details);
    return err;
}

RUNTRACK_API runtrack_err_t runtrack_run_finish(runtrack_run_t *run, runtrack_status_t status,
                                                const runtrack_finish_opts_t *opts, char *errstr,
                                                size_t errstr_size)
{
    return finish_run(run, status, opts, NULL, errstr, errstr_size);
}

RUNTRACK_API runtrack_err_t runtrack_run_finish_wrapped(runtrack_run_t *run,
                                                        runtrack_status_t status,
                                                        const runtrack_finish_opts_t *opts,
                                                        const runtrack_exit_t *how, char *errstr,
                                                        size_t errstr_size)
{
    /* The wrapper's finish without an exit to tell (the process never started, or was lost). */
    static const runtrack_exit_t no_exit = {-1, 0};
    return finish_run(run, status, opts, how ? how : &no_exit, errstr, errstr_size);
}

RUNTRACK_API void runtrack_run_destroy(runtrack_run_t *run)
{
    if (!run)
        return;
    runtrack_t *rt = run->rt;
    pthread_mutex_lock(&rt->lock);
    run->released = 1;
    pthread_mutex_unlock(&rt->lock);
    run_unref(run);
}
