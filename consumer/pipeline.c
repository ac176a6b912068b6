#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_in.h"
#include "log.h"
#include "pg_out.h"
#include "replay.h"
#include "rt_time.h"
#ifdef RT_HAVE_MIGRATE
#include "migrate.h"
#endif
#ifdef RT_HAVE_API
#include "metrics.h"
#endif

/* Per-partition state of the current assignment. */
typedef struct part {
    int32_t partition;
    int64_t expected; /* next offset PostgreSQL holds (-1: no row yet); replay: next to apply */
    int64_t end;      /* replay --to-end: stop when expected reaches this (-1: no target) */
} part_t;

typedef struct loop {
    const rt_config_t *cfg;
    const rt_opts_t *opts;
    const volatile sig_atomic_t *stop;
    rt_stats_t *stats;
    rt_pg_t *pg;
    rt_kin_t *kin;
    const char *group; /* NULL in replay: no offsets written */
    part_t *parts;
    size_t nparts;
    int64_t backoff_ms;
} loop_t;

/* Sleeps ms in small steps so that a stop request is honoured promptly. */
static void nap(const volatile sig_atomic_t *stop, int64_t ms)
{
    int64_t end = rt_mono_us() + ms * 1000;
    while (!*stop && rt_mono_us() < end) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* After a failure: wait (doubling, capped) and make sure the connection is up again. */
static void metrics_db_error(loop_t *L);

static void backoff(loop_t *L, const char *what, const char *err)
{
    L->stats->db_errors++;
    metrics_db_error(L);
    if (L->backoff_ms < L->cfg->retry_min_ms)
        L->backoff_ms = L->cfg->retry_min_ms;
    rt_log(RT_L_WARN, "postgresql failed, retrying", "op=\"%s\" error=\"%s\" backoff_ms=%lld", what,
           err, (long long)L->backoff_ms);
    nap(L->stop, L->backoff_ms);
    L->backoff_ms *= 2;
    if (L->backoff_ms > L->cfg->retry_max_ms)
        L->backoff_ms = L->cfg->retry_max_ms;
    if (!rt_pg_conn(L->pg) && !*L->stop) {
        char e[512];
        if (rt_pg_connect(L->pg, e, sizeof e) == 0)
            rt_log(RT_L_INFO, "postgresql reconnected", NULL);
        else
            rt_log(RT_L_WARN, "postgresql reconnect failed", "error=\"%s\"", e);
    }
}

static part_t *find_part(loop_t *L, int32_t p)
{
    for (size_t i = 0; i < L->nparts; i++)
        if (L->parts[i].partition == p)
            return &L->parts[i];
    return NULL;
}

/* Reads the stored offsets of the current partitions (retrying until it works or stop).
 * Returns 0, or -1 when stopped. */
static int read_offsets(loop_t *L)
{
    int32_t *ps = calloc(L->nparts ? L->nparts : 1, sizeof *ps);
    int64_t *next = calloc(L->nparts ? L->nparts : 1, sizeof *next);
    int rc = -1;
    if (!ps || !next)
        goto out;
    for (size_t i = 0; i < L->nparts; i++)
        ps[i] = L->parts[i].partition;
    while (!*L->stop) {
        char err[512];
        if (rt_pg_read_offsets(L->pg, L->group, L->cfg->topic, ps, L->nparts, next, err,
                               sizeof err) == RT_PG_OK) {
            for (size_t i = 0; i < L->nparts; i++)
                L->parts[i].expected = next[i];
            L->backoff_ms = 0;
            rc = 0;
            break;
        }
        backoff(L, "read offsets", err);
    }
out:
    free(ps);
    free(next);
    return rc;
}

/* Assigns the current partitions at their stored offsets (no row: from the beginning). */
static int assign_stored(loop_t *L)
{
    if (read_offsets(L) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)L->nparts);
    for (size_t i = 0; i < L->nparts; i++) {
        rd_kafka_topic_partition_list_add(l, L->cfg->topic, L->parts[i].partition)->offset =
            L->parts[i].expected >= 0 ? L->parts[i].expected : RD_KAFKA_OFFSET_BEGINNING;
        rt_log(RT_L_INFO, "partition start", "topic=%s partition=%d offset=%lld", L->cfg->topic,
               (int)L->parts[i].partition, (long long)L->parts[i].expected);
    }
    char err[256];
    int rc = rt_kin_assign(L->kin, l, err, sizeof err);
    if (rc != 0)
        rt_log(RT_L_ERROR, "assign failed", "error=\"%s\"", err);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static void handle_rebalance(loop_t *L)
{
    rd_kafka_topic_partition_list_t *l = rt_kin_take_rebalance(L->kin);
    L->stats->rebalances++;
    L->nparts = 0;
    rt_ready_set_partitions(L->opts->ready, 0);
    if (!l)
        return;
    part_t *np = realloc(L->parts, (size_t)(l->cnt ? l->cnt : 1) * sizeof *np);
    if (!np) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    L->parts = np;
    for (int i = 0; i < l->cnt; i++) {
        if (strcmp(l->elems[i].topic, L->cfg->topic) != 0)
            continue;
        L->parts[L->nparts].partition = l->elems[i].partition;
        L->parts[L->nparts].expected = -1;
        L->parts[L->nparts].end = -1;
        L->nparts++;
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (assign_stored(L) == 0)
        rt_ready_set_partitions(L->opts->ready, (int)L->nparts);
}

/* Feeds the HTTP API's /metrics (when it runs in this process). */
static void metrics_batch(loop_t *L, const rt_batch_result_t *res, size_t n, double latency_s)
{
#ifdef RT_HAVE_API
    rt_metrics_t *m = L->opts ? L->opts->metrics : NULL;
    if (!m)
        return;
    for (int t = 0; t < RT_EV__COUNT; t++)
        for (size_t i = 0; i < res->by_type[t]; i++)
            rt_metrics_event(m, rt_event_type_name((rt_event_type_t)t));
    for (int d = 0; d < RT_DEAD__COUNT; d++)
        for (size_t i = 0; i < res->dead_by_reason[d]; i++)
            rt_metrics_dead_letter(m, rt_dead_reason_name((rt_dead_reason_t)d));
    rt_metrics_batch(m, n, latency_s);
#else
    (void)L;
    (void)res;
    (void)n;
    (void)latency_s;
#endif
}

static void metrics_db_error(loop_t *L)
{
#ifdef RT_HAVE_API
    if (L->opts && L->opts->metrics)
        rt_metrics_db_error(L->opts->metrics);
#else
    (void)L;
#endif
}

static void metrics_lag(loop_t *L)
{
#ifdef RT_HAVE_API
    if (!L->opts || !L->opts->metrics)
        return;
    for (size_t i = 0; i < L->nparts; i++) {
        int32_t p = L->parts[i].partition;
        int64_t nx = L->parts[i].expected;
        int64_t lag = rt_kin_lag(L->kin, L->cfg->topic, &p, &nx, 1);
        if (lag >= 0)
            rt_metrics_lag(L->opts->metrics, L->cfg->topic, p, lag);
    }
#else
    (void)L;
#endif
}

static void account(loop_t *L, const rt_batch_result_t *res)
{
    for (int t = 0; t < RT_EV__COUNT; t++)
        L->stats->events_by_type[t] += res->by_type[t];
    for (int d = 0; d < RT_DEAD__COUNT; d++)
        L->stats->dead_by_reason[d] += res->dead_by_reason[d];
    L->stats->batches++;
}

typedef enum { APPLY_OK, APPLY_FENCED, APPLY_STOPPED, APPLY_FATAL } apply_rc_t;

/* Writes msgs[0..n) with retries. split: on a data error, apply one record per transaction
 * so that only the record the database rejects becomes a dead letter. */
static apply_rc_t apply(loop_t *L, rt_in_msg_t *msgs, size_t n, int split)
{
    rt_part_pos_t pos[64];
    rt_part_pos_t *pp = pos;
    size_t npos = 0, cap = sizeof pos / sizeof pos[0];
    apply_rc_t arc = APPLY_FATAL;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < npos; k++)
            if (pp[k].partition == msgs[i].partition)
                break;
        if (k == npos) {
            if (npos == cap) {
                rt_part_pos_t *np = malloc(cap * 2 * sizeof *np);
                if (!np)
                    return APPLY_FATAL;
                memcpy(np, pp, npos * sizeof *np);
                if (pp != pos)
                    free(pp);
                pp = np;
                cap *= 2;
            }
            part_t *pt = find_part(L, msgs[i].partition);
            pp[npos].partition = msgs[i].partition;
            pp[npos].expected = pt ? pt->expected : -1;
            pp[npos].next = msgs[i].offset + 1;
            npos++;
        } else if (msgs[i].offset + 1 > pp[k].next) {
            pp[k].next = msgs[i].offset + 1;
        }
    }
    int rejected_once = 0;
    while (1) {
        char err[1024];
        rt_batch_result_t res;
        int64_t t0 = rt_mono_us();
        rt_pg_rc_t rc = rt_pg_write_batch(L->pg, L->group, L->cfg->topic, msgs, n, pp, npos, &res,
                                          err, sizeof err);
        if (rc == RT_PG_OK) {
            L->backoff_ms = 0;
            for (size_t k = 0; k < npos; k++) {
                part_t *pt = find_part(L, pp[k].partition);
                if (pt && (L->group || pp[k].next > pt->expected))
                    pt->expected = pp[k].next;
            }
            account(L, &res);
            metrics_batch(L, &res, n, (double)(rt_mono_us() - t0) / 1e6);
            L->stats->records += n;
            if (L->group && L->cfg->kafka_commit)
                rt_kin_commit(L->kin, L->cfg->topic, pp, npos);
            rt_log(RT_L_DEBUG, "batch committed", "records=%zu runs=%zu logs=%zu dead=%zu ms=%lld",
                   n, res.runs, res.logs, res.dead, (long long)((rt_mono_us() - t0) / 1000));
            arc = APPLY_OK;
            break;
        }
        if (rc == RT_PG_FENCED) {
            /* Another consumer moved these offsets: it owns the partition now, or we raced it
             * after a rebalance. Drop the batch and continue from what PostgreSQL says. */
            L->stats->fenced++;
            rt_log(RT_L_WARN, "offsets fence failed, dropping batch and re-reading offsets",
                   "error=\"%s\"", err);
            arc = APPLY_FENCED;
            break;
        }
        if (rc == RT_PG_DATA) {
            L->stats->db_errors++;
            if (!split && n > 1) {
                rt_log(RT_L_WARN, "batch rejected by postgresql, applying record by record",
                       "error=\"%s\" records=%zu", err, n);
                arc = APPLY_OK;
                for (size_t i = 0; i < n && arc == APPLY_OK; i++)
                    arc = apply(L, &msgs[i], 1, 1);
                break;
            }
            if (rejected_once) {
                rt_log(RT_L_ERROR, "postgresql rejects even the dead letter, giving up",
                       "error=\"%s\" partition=%d offset=%lld", err, (int)msgs[0].partition,
                       (long long)msgs[0].offset);
                arc = APPLY_FATAL;
                break;
            }
            char detail[300];
            snprintf(detail, sizeof detail, "database rejected the event: %.250s", err);
            rt_log(RT_L_WARN, "record rejected by postgresql, dead-lettering it",
                   "partition=%d offset=%lld error=\"%s\"", (int)msgs[0].partition,
                   (long long)msgs[0].offset, err);
            for (size_t i = 0; i < n; i++)
                rt_in_msg_reject(&msgs[i], RT_DEAD_RULE, detail);
            rejected_once = 1;
            continue;
        }
        backoff(L, "write batch", err);
        if (*L->stop) {
            arc = APPLY_STOPPED;
            break;
        }
    }
    if (pp != pos)
        free(pp);
    return arc;
}

/* Replay --to-end: done when every partition reached its end offset. */
static int at_end(const loop_t *L)
{
    for (size_t i = 0; i < L->nparts; i++)
        if (L->parts[i].end >= 0 && L->parts[i].expected < L->parts[i].end)
            return 0;
    return 1;
}

static int connect_pg(loop_t *L)
{
    char err[512];
    while (!*L->stop) {
        if (rt_pg_connect(L->pg, err, sizeof err) == 0) {
            L->backoff_ms = 0;
            return 0;
        }
        L->stats->db_errors++;
        metrics_db_error(L);
        if (L->backoff_ms < L->cfg->retry_min_ms)
            L->backoff_ms = L->cfg->retry_min_ms;
        rt_log(RT_L_WARN, "postgresql unreachable, retrying", "error=\"%s\" backoff_ms=%lld", err,
               (long long)L->backoff_ms);
        nap(L->stop, L->backoff_ms);
        L->backoff_ms =
            L->backoff_ms * 2 > L->cfg->retry_max_ms ? L->cfg->retry_max_ms : L->backoff_ms * 2;
    }
    return -1;
}

static int migrate(loop_t *L)
{
#ifdef RT_HAVE_MIGRATE
    while (!*L->stop) {
        char err[512];
        int applied = 0;
        if (rt_pg_conn(L->pg) &&
            rt_migrate_apply(rt_pg_conn(L->pg), &applied, err, sizeof err) == 0) {
            rt_log(RT_L_INFO, "schema migrations applied", "applied=%d", applied);
            return 0;
        }
        if (rt_pg_conn(L->pg)) {
            rt_log(RT_L_ERROR, "schema migration failed", "error=\"%s\"", err);
            return -1;
        }
        backoff(L, "migrate", "not connected");
    }
    return -1;
#else
    (void)L;
    rt_log(RT_L_WARN, "this build has no migration runner", NULL);
    return 0;
#endif
}

int rt_pipeline_migrate(const rt_config_t *cfg, const volatile sig_atomic_t *stop)
{
    rt_stats_t stats;
    memset(&stats, 0, sizeof stats);
    loop_t L = {.cfg = cfg, .stop = stop, .stats = &stats};
    int rc = 1;
    if (!(L.pg = rt_pg_new(cfg->pg_dsn)))
        return 1;
    if (connect_pg(&L) == 0 && migrate(&L) == 0)
        rc = 0;
    rt_pg_free(L.pg);
    return rc;
}

static void log_stats(const rt_stats_t *s)
{
    char types[512] = "", dead[512] = "";
    size_t o = 0;
    for (int t = 0; t < RT_EV__COUNT; t++)
        o += (size_t)snprintf(types + o, o < sizeof types ? sizeof types - o : 0, " %s=%llu",
                              rt_event_type_name((rt_event_type_t)t),
                              (unsigned long long)s->events_by_type[t]);
    o = 0;
    for (int d = 1; d < RT_DEAD__COUNT; d++)
        o += (size_t)snprintf(dead + o, o < sizeof dead ? sizeof dead - o : 0, " dead.%s=%llu",
                              rt_dead_reason_name((rt_dead_reason_t)d),
                              (unsigned long long)s->dead_by_reason[d]);
    rt_log(RT_L_INFO, "counters",
           "records=%llu batches=%llu db_errors=%llu fenced=%llu rebalances=%llu lag=%lld%s%s",
           (unsigned long long)s->records, (unsigned long long)s->batches,
           (unsigned long long)s->db_errors, (unsigned long long)s->fenced,
           (unsigned long long)s->rebalances, (long long)s->lag, types, dead);
}

int rt_pipeline_run(const rt_config_t *cfg, const rt_opts_t *opts,
                    const volatile sig_atomic_t *stop, rt_stats_t *stats)
{
    loop_t L = {.cfg = cfg, .opts = opts, .stop = stop, .stats = stats};
    int replay = opts->mode == RT_MODE_REPLAY;
    int rc = 1;
    char err[512];
    rd_kafka_message_t **raw = NULL;
    rt_in_msg_t *msgs = NULL;
    size_t max = (size_t)cfg->batch_max_events;

    memset(stats, 0, sizeof *stats);
    stats->lag = -1;
    L.group = replay ? NULL : cfg->group;
    raw = calloc(max, sizeof *raw);
    msgs = calloc(max, sizeof *msgs);
    if (!raw || !msgs || !(L.pg = rt_pg_new(cfg->pg_dsn))) {
        rt_log(RT_L_ERROR, "out of memory", NULL);
        goto out;
    }
    if (connect_pg(&L) != 0) {
        rc = 0;
        goto out;
    }
    if (cfg->migrate_on_start && migrate(&L) != 0)
        goto out;
    if (!(L.kin = rt_kin_new(cfg, !replay, err, sizeof err))) {
        rt_log(RT_L_ERROR, "kafka setup failed", "error=\"%s\"", err);
        goto out;
    }
    rt_kin_set_ready(L.kin, opts->ready);
    if (replay) {
        rt_replay_part_t *rp = NULL;
        size_t nrp = 0;
        if (rt_replay_plan(L.kin, cfg->topic, opts->from_time_us, opts->to_end, stop, &rp, &nrp,
                           err, sizeof err) != 0) {
            rt_log(RT_L_ERROR, "replay setup failed", "error=\"%s\"", err);
            goto out;
        }
        L.parts = calloc(nrp ? nrp : 1, sizeof *L.parts);
        if (!L.parts) {
            free(rp);
            goto out;
        }
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)nrp);
        for (size_t i = 0; i < nrp; i++) {
            L.parts[i].partition = rp[i].partition;
            L.parts[i].expected = rp[i].start;
            L.parts[i].end = opts->to_end ? rp[i].end : -1;
            if (rp[i].start >= 0 && opts->to_end && rp[i].start >= rp[i].end)
                L.parts[i].expected = rp[i].end; /* nothing to read */
            if (rp[i].start < 0 && opts->to_end)
                L.parts[i].expected = L.parts[i].end;
            rd_kafka_topic_partition_list_add(l, cfg->topic, rp[i].partition)->offset =
                rp[i].start >= 0 ? rp[i].start : RD_KAFKA_OFFSET_END;
            rt_log(RT_L_INFO, "replay partition", "partition=%d from=%lld to=%lld",
                   (int)rp[i].partition, (long long)rp[i].start, (long long)L.parts[i].end);
        }
        L.nparts = nrp;
        free(rp);
        int arc = rt_kin_assign(L.kin, l, err, sizeof err);
        rd_kafka_topic_partition_list_destroy(l);
        if (arc != 0) {
            rt_log(RT_L_ERROR, "replay assign failed", "error=\"%s\"", err);
            goto out;
        }
    } else if (rt_kin_subscribe(L.kin, cfg->topic, err, sizeof err) != 0) {
        rt_log(RT_L_ERROR, "kafka subscribe failed", "error=\"%s\"", err);
        goto out;
    }
    rt_log(RT_L_INFO, replay ? "replaying" : "consuming", "topic=%s group=%s", cfg->topic,
           replay ? "(none)" : cfg->group);

    int64_t last_activity = rt_mono_us(), last_stats = rt_mono_us();
    int assigned_once = replay;
    rc = 0;
    while (!*stop) {
        if (replay && opts->to_end && at_end(&L)) {
            rt_log(RT_L_INFO, "replay reached the end offsets", NULL);
            break;
        }
        if (!replay && rt_kin_rebalance_pending(L.kin)) {
            handle_rebalance(&L);
            assigned_once = 1;
            last_activity = rt_mono_us();
        }
        size_t n = rt_kin_poll(L.kin, raw, max, cfg->batch_max_ms, stop);
        size_t m = 0;
        /* A rebalance during the poll: partitions may have moved, and the new assignment
         * restarts every partition from its stored offset, so the batch is simply dropped. */
        int drop = !replay && rt_kin_rebalance_pending(L.kin);
        for (size_t i = 0; i < n && !drop; i++) {
            part_t *pt = find_part(&L, raw[i]->partition);
            /* Records of partitions we no longer own, or before the stored offset (already
             * applied), are skipped. */
            if (!pt || (pt->expected >= 0 && raw[i]->offset < pt->expected) ||
                (pt->end >= 0 && raw[i]->offset >= pt->end))
                continue;
            if (replay && opts->from_time_us >= 0) {
                /* --from-time: records older than the time are passed over (they count as read
                 * for --to-end). */
                rd_kafka_timestamp_type_t tt;
                int64_t ms = rd_kafka_message_timestamp(raw[i], &tt);
                if (ms >= 0 && ms * 1000 < opts->from_time_us) {
                    if (raw[i]->offset + 1 > pt->expected)
                        pt->expected = raw[i]->offset + 1;
                    continue;
                }
            }
            rt_in_msg_t *mm = &msgs[m++];
            memset(mm, 0, sizeof *mm);
            mm->partition = raw[i]->partition;
            mm->offset = raw[i]->offset;
            rd_kafka_timestamp_type_t tst;
            mm->kafka_ts_ms = rd_kafka_message_timestamp(raw[i], &tst);
            mm->key = raw[i]->key;
            mm->key_len = raw[i]->key_len;
            mm->payload = raw[i]->payload;
            mm->len = raw[i]->len;
            rt_in_msg_decode(mm, (size_t)cfg->max_event_bytes);
        }
        if (m > 0) {
            last_activity = rt_mono_us();
            apply_rc_t arc = apply(&L, msgs, m, 0);
            if (arc == APPLY_FENCED) {
                if (assign_stored(&L) != 0 && !*stop)
                    rt_log(RT_L_ERROR, "could not re-assign after a fence", NULL);
            } else if (arc == APPLY_FATAL) {
                rc = 1;
            }
            /* Time spent waiting for PostgreSQL is not idleness. */
            last_activity = rt_mono_us();
            if (arc == APPLY_OK) {
                int32_t ps[256];
                int64_t nx[256];
                size_t k = 0;
                for (; k < L.nparts && k < 256; k++) {
                    ps[k] = L.parts[k].partition;
                    nx[k] = L.parts[k].expected;
                }
                stats->lag = rt_kin_lag(L.kin, cfg->topic, ps, nx, k);
                metrics_lag(&L);
            }
        }
        for (size_t i = 0; i < m; i++)
            rt_in_msg_clear(&msgs[i]);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(raw[i]);
        if (rc != 0)
            break;
        if (rt_mono_us() - last_stats > 10 * 1000000LL) {
            log_stats(stats);
            last_stats = rt_mono_us();
        }
        if (opts->exit_when_idle_ms >= 0 && assigned_once && n == 0 &&
            rt_mono_us() - last_activity > opts->exit_when_idle_ms * 1000) {
            rt_log(RT_L_INFO, "idle, exiting", "idle_ms=%lld", (long long)opts->exit_when_idle_ms);
            break;
        }
    }
    log_stats(stats);
out:
    rt_kin_destroy(L.kin, cfg->shutdown_timeout_ms);
    rt_pg_free(L.pg);
    free(L.parts);
    free(raw);
    free(msgs);
    return rc;
}
