/* The main loop (pipeline.h): poll and fold on the main thread, write on the writer thread
 * (writer.c), replay's partitions planned and windowed by replay.c. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_in.h"
#include "log.h"
#include "parts.h"
#include "replay.h"
#include "rt_time.h"
#include "writer.h"

/* Where the wall time goes (microseconds), summed over the run and logged with the counters:
 * the main thread polls (trim, wait for a first record, fill), decodes, then waits for the
 * writer (handoff); the writer writes or idles. */
typedef struct timing {
    int64_t trim, wait, fill, decode, handoff; /* main thread */
    int64_t w_busy, w_release, w_idle;         /* writer thread */
} timing_t;

typedef struct loop {
    const rt_config_t *cfg;
    const rt_opts_t *opts;
    const volatile sig_atomic_t *stop;
    rt_metrics_t *m;
    int replay;
    const char *group; /* NULL in replay: no offsets written */
    rt_store_t store;  /* the writer's while a job is in flight, else the main thread's */
    rt_kin_t *kin;
    rt_writer_t *w;
    rt_parts_t parts;
    /* Double buffering: the main thread polls and folds into jobs[cur] while the writer
     * thread writes jobs[cur ^ 1] (when inflight). */
    rt_job_t jobs[2];
    int cur, inflight;
    int assigned_once;
    int64_t last_activity, last_stats;
    timing_t tm;
} loop_t;

/* Reads the stored offsets of the current partitions (retrying until it works or stop).
 * Returns 0, or -1 when stopped. */
static int read_offsets(loop_t *L)
{
    size_t n = L->parts.n ? L->parts.n : 1;
    int32_t *ps = calloc(n, sizeof *ps);
    int64_t *next = calloc(n, sizeof *next);
    int rc = -1;
    if (!ps || !next)
        goto out;
    for (size_t i = 0; i < L->parts.n; i++)
        ps[i] = L->parts.v[i].partition;
    while (!*L->stop) {
        char err[512];
        if (rt_pg_read_offsets(L->store.pg, L->group, L->cfg->topic, ps, L->parts.n, next, err,
                               sizeof err) == RT_PG_OK) {
            for (size_t i = 0; i < L->parts.n; i++)
                L->parts.v[i].expected = next[i];
            rt_store_ok(&L->store);
            rc = 0;
            break;
        }
        rt_store_retry(&L->store, "read offsets", err);
    }
out:
    free(ps);
    free(next);
    return rc;
}

/* Assigns the current partitions at their stored offsets. Partitions without a row start at
 * their log start offset, looked up for all of them at once: left to librdkafka ("beginning"),
 * the lookup waits for each leader's connection and, where one was not up yet, retries 500 ms
 * later, which held a new group's first half second of a backlog to one broker's partitions. */
static int assign_stored(loop_t *L)
{
    if (read_offsets(L) != 0)
        return -1;
    size_t n = L->parts.n ? L->parts.n : 1, nnew = 0;
    int32_t *ids = calloc(n, sizeof *ids), *fresh = calloc(n, sizeof *fresh);
    int64_t *from = calloc(n, sizeof *from), *start = calloc(n, sizeof *start);
    char err[256] = "out of memory";
    int rc = -1;
    if (!ids || !fresh || !from || !start)
        goto out;
    for (size_t i = 0; i < L->parts.n; i++)
        if (L->parts.v[i].expected < 0)
            fresh[nnew++] = L->parts.v[i].partition;
    if (nnew && rt_kin_earliest(L->kin, L->cfg->topic, fresh, nnew, start, 2000) != 0)
        nnew = 0; /* librdkafka looks them up itself */
    for (size_t i = 0; i < L->parts.n; i++) {
        const rt_part_t *pt = &L->parts.v[i];
        ids[i] = pt->partition;
        from[i] = pt->expected >= 0 ? pt->expected : RT_KIN_OFFSET_BEGINNING;
        for (size_t k = 0; k < nnew && pt->expected < 0; k++)
            if (fresh[k] == pt->partition && start[k] >= 0)
                from[i] = start[k];
        rt_log(RT_L_INFO, "partition start", "topic=%s partition=%d offset=%lld from=%lld",
               L->cfg->topic, (int)pt->partition, (long long)pt->expected, (long long)from[i]);
    }
    rc = rt_kin_assign(L->kin, L->cfg->topic, ids, from, L->parts.n, err, sizeof err);
out:
    if (rc != 0)
        rt_log(RT_L_ERROR, "assign failed", "error=\"%s\"", err);
    free(ids);
    free(fresh);
    free(from);
    free(start);
    return rc;
}

static void handle_rebalance(loop_t *L)
{
    int32_t *ps = NULL;
    size_t n = 0;
    int rc = rt_kin_take_rebalance(L->kin, L->cfg->topic, &ps, &n);
    rt_metrics_rebalance(L->m);
    L->parts.n = 0;
    rt_ready_set_partitions(L->opts->ready, 0);
    if (rc != 0 || !ps) /* out of memory, or everything revoked */
        goto out;
    rt_part_t *np = realloc(L->parts.v, (n ? n : 1) * sizeof *np);
    if (!np)
        goto out;
    L->parts.v = np;
    for (size_t i = 0; i < n; i++)
        np[i] = (rt_part_t){.partition = ps[i], .expected = -1, .end = -1};
    L->parts.n = n;
    if (assign_stored(L) == 0)
        rt_ready_set_partitions(L->opts->ready, (int)n);
out:
    free(ps);
}

/* What a job committed, into the counters. */
static void count_job(loop_t *L, const rt_job_t *j)
{
    for (int t = 0; t < RT_EV__COUNT; t++)
        if (j->res.by_type[t])
            rt_metrics_events(L->m, (rt_event_type_t)t, j->res.by_type[t]);
    for (int d = 0; d < RT_DEAD__COUNT; d++)
        rt_metrics_dead_letters(L->m, (rt_dead_reason_t)d, j->res.dead_by_reason[d]);
    if (j->res.dead_payload_dropped)
        rt_metrics_dead_payload_dropped(L->m, j->res.dead_payload_dropped);
    rt_metrics_batch(L->m, (size_t)j->records, j->write_s);
}

/* Waits for the job in flight and applies its outcome to the loop's state (offsets, counters,
 * the Kafka commit). */
static rt_apply_t finish(loop_t *L, rt_job_t *j)
{
    rt_writer_wait(L->w);
    rt_apply_t arc = j->arc;
    L->tm.w_idle += j->w_idle_us;
    L->tm.w_busy += j->w_busy_us;
    L->tm.w_release += j->w_release_us;
    if (j->records) /* what committed, also when a record-by-record pass stopped midway */
        count_job(L, j);
    if (arc == RT_APPLY_OK) {
        for (size_t k = 0; k < j->npos; k++) {
            rt_part_t *pt = rt_parts_find(&L->parts, j->pos[k].partition);
            if (pt && (L->group || j->pos[k].next > pt->expected))
                pt->expected = j->pos[k].next;
        }
        /* The lag gauges count from here (the waker thread refreshes the high watermarks). */
        rt_kin_note_committed(L->kin, j->pos, j->npos);
        if (L->group && L->cfg->kafka_commit)
            rt_kin_commit(L->kin, L->cfg->topic, j->pos, j->npos);
    } else if (arc == RT_APPLY_FENCED) {
        rt_metrics_fenced(L->m);
    }
    return arc;
}

/* Waits for the job in flight (if any) and acts on its outcome: a fence re-reads and
 * re-assigns the stored offsets (which also makes librdkafka drop what it fetched beyond
 * them). Returns the outcome (RT_APPLY_OK when nothing was in flight). */
static rt_apply_t settle(loop_t *L)
{
    if (!L->inflight)
        return RT_APPLY_OK;
    L->inflight = 0;
    rt_apply_t arc = finish(L, &L->jobs[L->cur ^ 1]);
    if (arc == RT_APPLY_FENCED && assign_stored(L) != 0 && !*L->stop)
        rt_log(RT_L_ERROR, "could not re-assign after a fence", NULL);
    return arc;
}

/* The fence's expected offsets (once the previous batch has settled): where PostgreSQL holds
 * each partition of the batch now. */
static void fill_expected(loop_t *L, rt_job_t *j)
{
    for (size_t k = 0; k < j->npos; k++) {
        rt_part_t *pt = rt_parts_find(&L->parts, j->pos[k].partition);
        j->pos[k].expected = pt ? pt->expected : -1;
    }
}

/* What the poll's record taker needs (main thread). */
typedef struct take_ctx {
    loop_t *L;
    rt_job_t *j;
    int oom;
    int64_t fold_us; /* time spent decoding and folding */
} take_ctx_t;

/* Takes one polled record: filters it (partitions we no longer own, records already applied,
 * beyond --to-end, before --from-time) and folds it into the batch. */
static int take_record(void *arg, const rt_kin_rec_t *r)
{
    take_ctx_t *tc = arg;
    loop_t *L = tc->L;
    int64_t t0 = rt_mono_us();
    rt_part_t *pt = rt_parts_find(&L->parts, r->partition);
    /* With a batch in flight, expected lags behind it, but the records polled now come after
     * that batch's in their partitions. */
    if (!pt || (pt->expected >= 0 && r->offset < pt->expected) ||
        (pt->end >= 0 && r->offset >= pt->end))
        goto out;
    if (L->replay && L->opts->from_time_us >= 0 && r->ts_ms >= 0 &&
        r->ts_ms * 1000 < L->opts->from_time_us) {
        /* --from-time: records older than the time are passed over (they count as read for
         * --to-end). */
        if (r->offset + 1 > pt->expected)
            pt->expected = r->offset + 1;
        goto out;
    }
    if (rt_job_note_position(tc->j, r->partition, r->offset) != 0 ||
        rt_batch_add(tc->j->b, r->partition, r->offset, r->ts_ms, r->key, r->key_len, r->payload,
                     r->len) != 0)
        tc->oom = 1;
out:
    tc->fold_us += rt_mono_us() - t0;
    return tc->oom;
}

static void log_counters(loop_t *L)
{
    rt_metrics_counts_t c;
    rt_buf_t types = {0}, dead = {0};
    rt_metrics_counts(L->m, &c);
    for (int t = 0; t < RT_EV__COUNT; t++)
        rt_buf_addf(&types, " %s=%llu", rt_event_type_name((rt_event_type_t)t),
                    (unsigned long long)c.events[t]);
    for (int d = 1; d < RT_DEAD__COUNT; d++)
        rt_buf_addf(&dead, " dead.%s=%llu", rt_dead_reason_name((rt_dead_reason_t)d),
                    (unsigned long long)c.dead[d]);
    rt_buf_addf(&dead, " dead.payload_dropped=%llu", (unsigned long long)c.dead_payload_dropped);
    rt_log(RT_L_INFO, "counters",
           "records=%llu batches=%llu db_errors=%llu fenced=%llu rebalances=%llu lag=%lld%s%s",
           (unsigned long long)c.records, (unsigned long long)c.batches,
           (unsigned long long)c.db_errors, (unsigned long long)c.fenced,
           (unsigned long long)c.rebalances, (long long)c.lag_total,
           types.data ? types.data : "", dead.data ? dead.data : "");
    rt_buf_free(&types);
    rt_buf_free(&dead);
}

static void log_timing(const timing_t *t)
{
    rt_log(RT_L_INFO, "pipeline time",
           "trim_ms=%lld poll_wait_ms=%lld poll_fill_ms=%lld decode_ms=%lld handoff_ms=%lld "
           "writer_busy_ms=%lld writer_release_ms=%lld writer_idle_ms=%lld",
           (long long)(t->trim / 1000), (long long)(t->wait / 1000), (long long)(t->fill / 1000),
           (long long)(t->decode / 1000), (long long)(t->handoff / 1000),
           (long long)(t->w_busy / 1000), (long long)(t->w_release / 1000),
           (long long)(t->w_idle / 1000));
}

/* Adds one poll's main-thread time to the totals, and logs it with what the previous batch's
 * writer did (debug). */
static void note_timing(loop_t *L, size_t n, const take_ctx_t *tc, int64_t handoff_us,
                        const rt_job_t *prev)
{
    rt_kin_poll_times_t ptm;
    rt_kin_last_poll_times(L->kin, &ptm);
    L->tm.trim += ptm.trim_us;
    L->tm.wait += ptm.wait_us;
    L->tm.fill += ptm.fill_us - tc->fold_us;
    L->tm.decode += tc->fold_us;
    L->tm.handoff += handoff_us;
    if (n > 0 || prev)
        rt_log(RT_L_DEBUG, "batch timing",
               "records=%zu trim_us=%lld wait_us=%lld fill_us=%lld decode_us=%lld "
               "handoff_us=%lld prev_records=%zu prev_idle_us=%lld prev_busy_us=%lld "
               "prev_release_us=%lld",
               n, (long long)ptm.trim_us, (long long)ptm.wait_us,
               (long long)(ptm.fill_us - tc->fold_us), (long long)tc->fold_us,
               (long long)handoff_us, prev ? (size_t)prev->records : 0,
               (long long)(prev ? prev->w_idle_us : 0), (long long)(prev ? prev->w_busy_us : 0),
               (long long)(prev ? prev->w_release_us : 0));
}

/* Before a poll: replay's end and window, a pending rebalance. Returns 0 to poll, 1 when the
 * run is done, -1 on a fatal error. */
static int before_poll(loop_t *L)
{
    char err[512];
    if (L->replay && L->opts->to_end && rt_replay_at_end(&L->parts)) {
        rt_log(RT_L_INFO, "replay reached the end offsets", NULL);
        return 1;
    }
    if (L->replay && L->opts->to_end &&
        rt_replay_window(L->kin, L->cfg->topic, &L->parts, err, sizeof err) != 0) {
        rt_log(RT_L_ERROR, "replay assign failed", "error=\"%s\"", err);
        return -1;
    }
    if (!L->replay && rt_kin_rebalance_pending(L->kin)) {
        /* The rebalance reads offsets over the writer's connection: drain it first. */
        if (settle(L) == RT_APPLY_FATAL)
            return -1;
        handle_rebalance(L);
        L->assigned_once = 1;
        L->last_activity = rt_mono_us();
    }
    return 0;
}

/* One poll: fold a batch into jobs[cur], settle the previous one, hand this one to the writer.
 * Returns 0 to go on, 1 when the run is done, -1 on a fatal error. */
static int poll_once(loop_t *L)
{
    rt_job_t *j = &L->jobs[L->cur];
    take_ctx_t tc = {.L = L, .j = j};
    j->npos = 0;
    size_t n = rt_kin_poll_each(L->kin, (size_t)L->cfg->batch_max_events, L->cfg->batch_max_ms,
                                L->stop, take_record, &tc);
    if (tc.oom) {
        rt_log(RT_L_ERROR, "out of memory", NULL);
        return -1;
    }
    /* A rebalance during the poll: partitions may have moved, and the new assignment
     * restarts every partition from its stored offset, so the batch is simply dropped. */
    if (!L->replay && rt_kin_rebalance_pending(L->kin)) {
        rt_batch_reset(j->b);
        j->npos = 0;
    }
    size_t m = rt_batch_count(j->b);
    int64_t t_decoded = rt_mono_us();
    /* The previous batch must be committed before this one is fenced from its offsets. */
    const rt_job_t *pj = L->inflight ? &L->jobs[L->cur ^ 1] : NULL;
    rt_apply_t prev = settle(L);
    note_timing(L, n, &tc, rt_mono_us() - t_decoded, pj);
    if (m > 0)
        L->last_activity = rt_mono_us();
    if (m > 0 && prev == RT_APPLY_OK && !*L->stop) {
        fill_expected(L, j);
        rt_writer_submit(L->w, j);
        L->inflight = 1;
        L->cur ^= 1;
    } else {
        rt_batch_reset(j->b); /* dropped (fence, stop, rebalance) or empty */
    }
    /* Caught up: nothing polled waits, nothing is in flight. */
    if (m == 0 && !L->inflight && L->store.wait_since)
        rt_store_wait(&L->store, 0);
    if (prev == RT_APPLY_FATAL)
        return -1;
    if (rt_mono_us() - L->last_stats > 10 * 1000000LL) {
        log_counters(L);
        L->last_stats = rt_mono_us();
    }
    if (L->opts->exit_when_idle_ms >= 0 && L->assigned_once && n == 0 && !L->inflight &&
        rt_mono_us() - L->last_activity > L->opts->exit_when_idle_ms * 1000) {
        rt_log(RT_L_INFO, "idle, exiting", "idle_ms=%lld", (long long)L->opts->exit_when_idle_ms);
        return 1;
    }
    return 0;
}

/* Connects, creates the Kafka consumer, subscribes (run) or plans and assigns the replay, and
 * starts the writer. Returns 0, 1 on a fatal error, -1 when stopped while connecting. */
static int start(loop_t *L)
{
    char err[512];
    if (rt_job_init(&L->jobs[0], L->cfg->topic, (size_t)L->cfg->max_event_bytes) != 0 ||
        rt_job_init(&L->jobs[1], L->cfg->topic, (size_t)L->cfg->max_event_bytes) != 0 ||
        !(L->store.pg = rt_pg_new(L->cfg->pg_dsn))) {
        rt_log(RT_L_ERROR, "out of memory", NULL);
        return 1;
    }
    rt_pg_set_timeouts(L->store.pg, L->cfg->pg_lock_timeout_ms, L->cfg->pg_statement_timeout_ms);
    rt_batch_set_clock_skew(L->jobs[0].b, L->cfg->max_clock_skew_s);
    rt_batch_set_clock_skew(L->jobs[1].b, L->cfg->max_clock_skew_s);
    rt_pg_set_clock_skew(L->store.pg, L->cfg->max_clock_skew_s);
    rt_pg_set_dead_letter_cap(L->store.pg, (int64_t)L->cfg->dead_letters_max_kib_per_day * 1024);
    if (rt_store_connect(&L->store) != 0)
        return -1;
    if (!(L->kin = rt_kin_new(L->cfg, !L->replay, err, sizeof err))) {
        rt_log(RT_L_ERROR, "kafka setup failed", "error=\"%s\"", err);
        return 1;
    }
    rt_kin_set_ready(L->kin, L->opts->ready);
    rt_kin_set_metrics(L->kin, L->m);
    if (L->replay) {
        if (rt_replay_start(L->kin, L->cfg->topic, L->opts->from_time_us, L->opts->to_end,
                            L->stop, &L->parts, err, sizeof err) != 0) {
            rt_log(RT_L_ERROR, "replay setup failed", "error=\"%s\"", err);
            return 1;
        }
    } else if (rt_kin_subscribe(L->kin, L->cfg->topic, err, sizeof err) != 0) {
        rt_log(RT_L_ERROR, "kafka subscribe failed", "error=\"%s\"", err);
        return 1;
    }
    rt_log(RT_L_INFO, L->replay ? "replaying" : "consuming", "topic=%s group=%s", L->cfg->topic,
           L->replay ? "(none)" : L->cfg->group);
    if (!(L->w = rt_writer_start(&L->store, L->group, L->cfg->topic))) {
        rt_log(RT_L_ERROR, "could not start the writer thread", NULL);
        return 1;
    }
    return 0;
}

int rt_pipeline_run(const rt_config_t *cfg, const rt_opts_t *opts,
                    const volatile sig_atomic_t *stop)
{
    loop_t L = {.cfg = cfg, .opts = opts, .stop = stop, .m = opts->metrics};
    L.replay = opts->mode == RT_MODE_REPLAY;
    L.group = L.replay ? NULL : cfg->group;
    L.store.m = opts->metrics;
    L.store.ready = opts->ready;
    L.store.stop = stop;
    rt_ready_set_stall_s(opts->ready, cfg->ready_stall_s);
    rt_backoff_init(&L.store.bo, cfg->retry_min_ms, cfg->retry_max_ms, stop);
    int rc = start(&L);
    if (rc == 0) {
        L.last_activity = L.last_stats = rt_mono_us();
        L.assigned_once = L.replay;
        int r = 0;
        while (!*stop && (r = before_poll(&L)) == 0 && (r = poll_once(&L)) == 0)
            ;
        rc = r < 0;
        /* The batch in flight is finished (or abandoned by the writer when stopping
         * mid-retry). */
        if (settle(&L) == RT_APPLY_FATAL)
            rc = 1;
        log_counters(&L);
        log_timing(&L.tm);
    }
    rt_writer_stop(L.w);
    rt_kin_destroy(L.kin, cfg->shutdown_timeout_ms);
    rt_pg_free(L.store.pg);
    free(L.parts.v);
    rt_job_free(&L.jobs[0]);
    rt_job_free(&L.jobs[1]);
    return rc < 0 ? 0 : rc;
}
