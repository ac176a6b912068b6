#include "pipeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_in.h"
#include "log.h"
#include "pg_out.h"
#include "replay.h"
#include "rt_time.h"
#include "db/migrate.h"
#include "metrics.h"

/* Per-partition state of the current assignment. */
typedef struct part {
    int32_t partition;
    int64_t expected; /* next offset PostgreSQL holds (-1: no row yet); replay: next to apply */
    int64_t end;      /* replay --to-end: stop when expected reaches this (-1: no target) */
    int reading;      /* replay --to-end: in the assignment now (it leaves at its end) */
} part_t;

/* replay --to-end reads this many partitions at a time, the others waiting outside the
 * assignment: librdkafka holds a decompressed producer batch for every partition it is reading
 * (docs/operations.md, "Where the memory goes"), so a replay of 1M events in 64 partitions
 * peaked at 90-97 MiB with all of them assigned; 8 at a time: 36 MiB, 390k events/s; 16: 43
 * MiB, 420-445k events/s (all 64: 420k). */
#define REPLAY_PARTITIONS_IN_FLIGHT 16

/* One batch handed to the writer thread: the records folded as they were polled (the Kafka
 * messages are gone by then), and the fence positions: next per partition collected while
 * polling, expected filled in by the main thread from the offsets PostgreSQL holds after the
 * previous batch. */
typedef struct job {
    rt_batch_t *b;
    rt_part_pos_t *pos;
    size_t npos, pos_cap;
    /* Results, read by the main thread once the writer signalled done. */
    int arc; /* apply_rc_t */
    rt_batch_result_t res;
    uint64_t records;   /* records committed */
    uint64_t db_errors; /* failed attempts */
    double write_s;     /* time of the committing attempt(s) */
    /* Writer thread timing (microseconds), read by the main thread with the results. */
    int64_t w_idle_us;    /* writer idle before it took this job */
    int64_t w_busy_us;    /* all attempts, retries and back-off included */
    int64_t w_release_us; /* freeing the batch afterwards */
} job_t;

/* Where the wall time goes (microseconds), summed over the run and logged with the counters:
 * the main thread polls (trim, wait for a first record, fill), decodes, then waits for the
 * writer (handoff); the writer writes or idles. */
typedef struct timing {
    int64_t trim, wait, fill, decode, handoff; /* main thread */
    int64_t w_busy, w_release, w_idle;         /* writer thread */
} timing_t;

/* The writer thread owns the PostgreSQL connection while a job is in flight; the main thread
 * touches the connection only when no job is (handoff depth 1, under mu). */
typedef struct writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *job; /* submitted, not yet done */
    int done;   /* the last submitted job is finished */
    int quit;
    int started;
    pthread_t th;
} writer_t;

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
    writer_t w;
    timing_t tm;
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

/* errors: the counter to bump (the stats on the main thread, the job's in the writer). */
static void backoff(loop_t *L, uint64_t *errors, const char *what, const char *err)
{
    (*errors)++;
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
        backoff(L, &L->stats->db_errors, "read offsets", err);
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
    size_t n = L->nparts ? L->nparts : 1, nnew = 0;
    int32_t *fresh = calloc(n, sizeof *fresh);
    int64_t *start = calloc(n, sizeof *start);
    for (size_t i = 0; fresh && start && i < L->nparts; i++)
        if (L->parts[i].expected < 0)
            fresh[nnew++] = L->parts[i].partition;
    if (nnew &&
        (!fresh || !start || rt_kin_earliest(L->kin, L->cfg->topic, fresh, nnew, start, 2000) != 0))
        nnew = 0; /* librdkafka looks them up itself */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)L->nparts);
    for (size_t i = 0; i < L->nparts; i++) {
        int64_t from = L->parts[i].expected >= 0 ? L->parts[i].expected : RD_KAFKA_OFFSET_BEGINNING;
        for (size_t k = 0; k < nnew && L->parts[i].expected < 0; k++)
            if (fresh[k] == L->parts[i].partition && start[k] >= 0)
                from = start[k];
        rd_kafka_topic_partition_list_add(l, L->cfg->topic, L->parts[i].partition)->offset = from;
        rt_log(RT_L_INFO, "partition start", "topic=%s partition=%d offset=%lld from=%lld",
               L->cfg->topic, (int)L->parts[i].partition, (long long)L->parts[i].expected,
               (long long)from);
    }
    char err[256];
    int rc = rt_kin_assign(L->kin, l, err, sizeof err);
    if (rc != 0)
        rt_log(RT_L_ERROR, "assign failed", "error=\"%s\"", err);
    rd_kafka_topic_partition_list_destroy(l);
    free(fresh);
    free(start);
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
}

static void metrics_db_error(loop_t *L)
{
    if (L->opts && L->opts->metrics)
        rt_metrics_db_error(L->opts->metrics);
}

static void metrics_lag(loop_t *L)
{
    if (!L->opts || !L->opts->metrics)
        return;
    for (size_t i = 0; i < L->nparts; i++) {
        int32_t p = L->parts[i].partition;
        int64_t nx = L->parts[i].expected;
        int64_t lag = rt_kin_lag(L->kin, L->cfg->topic, &p, &nx, 1);
        if (lag >= 0)
            rt_metrics_lag(L->opts->metrics, L->cfg->topic, p, lag);
    }
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

/* The fence's expected offsets (main thread, once the previous batch has settled): where
 * PostgreSQL holds each partition of the batch now (parts[].expected). */
static void fill_expected(loop_t *L, job_t *j)
{
    for (size_t k = 0; k < j->npos; k++) {
        part_t *pt = find_part(L, j->pos[k].partition);
        j->pos[k].expected = pt ? pt->expected : -1;
    }
}

/* Notes that the batch holds record offset of partition p: the fence moves p past it. */
static int note_position(job_t *j, int32_t p, int64_t offset)
{
    size_t k = 0;
    /* Records come in runs of one partition: the last entry is the likely one. */
    if (j->npos && j->pos[j->npos - 1].partition == p)
        k = j->npos - 1;
    else
        while (k < j->npos && j->pos[k].partition != p)
            k++;
    if (k == j->npos) {
        if (j->npos == j->pos_cap) {
            size_t nc = j->pos_cap ? j->pos_cap * 2 : 64;
            rt_part_pos_t *np = realloc(j->pos, nc * sizeof *np);
            if (!np)
                return -1;
            j->pos = np;
            j->pos_cap = nc;
        }
        j->pos[k].partition = p;
        j->pos[k].expected = -1;
        j->pos[k].next = offset + 1;
        j->npos++;
    } else if (offset + 1 > j->pos[k].next) {
        j->pos[k].next = offset + 1;
    }
    return 0;
}

static void add_result(rt_batch_result_t *to, const rt_batch_result_t *r)
{
    to->runs += r->runs;
    to->logs += r->logs;
    to->dead += r->dead;
    for (int t = 0; t < RT_EV__COUNT; t++)
        to->by_type[t] += r->by_type[t];
    for (int d = 0; d < RT_DEAD__COUNT; d++)
        to->dead_by_reason[d] += r->dead_by_reason[d];
}

/* Writer thread: the outcome of an attempt that committed n records (RT_PG_OK: results into j)
 * or met the fence (RT_PG_FENCED). */
static apply_rc_t written(loop_t *L, job_t *j, rt_pg_rc_t rc, size_t n,
                          const rt_batch_result_t *res, int64_t t0, const char *err)
{
    if (rc == RT_PG_FENCED) {
        /* Another consumer moved these offsets: it owns the partition now, or we raced it
         * after a rebalance. Drop the batch and continue from what PostgreSQL says. */
        rt_log(RT_L_WARN, "offsets fence failed, dropping batch and re-reading offsets",
               "error=\"%s\"", err);
        return APPLY_FENCED;
    }
    L->backoff_ms = 0;
    add_result(&j->res, res);
    j->records += n;
    j->write_s += (double)(rt_mono_us() - t0) / 1e6;
    rt_log(RT_L_DEBUG, "batch committed", "records=%zu runs=%zu logs=%zu dead=%zu ms=%lld", n,
           res->runs, res->logs, res->dead, (long long)((rt_mono_us() - t0) / 1000));
    return APPLY_OK;
}

/* Writer thread, record-by-record path: writes msgs[0..n) fenced at pp[0..npos) with retries;
 * results go into j. split: on a data error, apply one record per transaction so that only the
 * record the database rejects becomes a dead letter. Touches no loop state the main thread
 * uses while a job is in flight (parts, stats, the Kafka handle). */
static apply_rc_t write_msgs(loop_t *L, job_t *j, rt_in_msg_t *msgs, size_t n,
                             const rt_part_pos_t *pp, size_t npos, int split)
{
    int rejected_once = 0;
    while (1) {
        char err[1024];
        rt_batch_result_t res;
        int64_t t0 = rt_mono_us();
        rt_pg_rc_t rc = rt_pg_write_msgs(L->pg, L->group, L->cfg->topic, msgs, n, pp, npos, &res,
                                         err, sizeof err);
        if (rc == RT_PG_OK || rc == RT_PG_FENCED)
            return written(L, j, rc, n, &res, t0, err);
        if (rc == RT_PG_DATA || rc == RT_PG_CONFLICT) { /* CONFLICT: not from this path */
            j->db_errors++;
            if (!split && n > 1) {
                rt_log(RT_L_WARN, "batch rejected by postgresql, applying record by record",
                       "error=\"%s\" records=%zu", err, n);
                /* Each record moves its partition from where the previous one left it. */
                rt_part_pos_t *cur = malloc((npos ? npos : 1) * sizeof *cur);
                if (!cur)
                    return APPLY_FATAL;
                memcpy(cur, pp, npos * sizeof *cur);
                apply_rc_t arc = APPLY_OK;
                for (size_t i = 0; i < n && arc == APPLY_OK; i++) {
                    size_t k = 0;
                    while (k < npos && cur[k].partition != msgs[i].partition)
                        k++;
                    rt_part_pos_t one = {msgs[i].partition, k < npos ? cur[k].expected : -1,
                                         msgs[i].offset + 1};
                    arc = write_msgs(L, j, &msgs[i], 1, &one, 1, 1);
                    if (arc == APPLY_OK && k < npos)
                        cur[k].expected = one.next;
                }
                free(cur);
                return arc;
            }
            if (rejected_once) {
                rt_log(RT_L_ERROR, "postgresql rejects even the dead letter, giving up",
                       "error=\"%s\" partition=%d offset=%lld", err, (int)msgs[0].partition,
                       (long long)msgs[0].offset);
                return APPLY_FATAL;
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
        backoff(L, &j->db_errors, "write batch", err);
        if (*L->stop)
            return APPLY_STOPPED;
    }
}

/* Writer thread: writes the folded batch j fenced at its positions, with retries. A run that
 * PostgreSQL holds under another job, or data the database rejects, sends the batch down the
 * record-by-record path, which decides event by event. */
static apply_rc_t write_job(loop_t *L, job_t *j)
{
    while (1) {
        char err[1024];
        rt_batch_result_t res;
        int64_t t0 = rt_mono_us();
        rt_pg_rc_t rc = rt_pg_write_batch(L->pg, L->group, L->cfg->topic, j->b, j->pos, j->npos,
                                          &res, err, sizeof err);
        if (rc == RT_PG_OK || rc == RT_PG_FENCED)
            return written(L, j, rc, rt_batch_count(j->b), &res, t0, err);
        if (rc == RT_PG_CONFLICT || rc == RT_PG_DATA) {
            if (rc == RT_PG_DATA)
                j->db_errors++;
            rt_log(rc == RT_PG_DATA ? RT_L_WARN : RT_L_INFO,
                   rc == RT_PG_DATA ? "batch rejected by postgresql, deciding record by record"
                                    : "batch holds a run stored under another job, deciding "
                                      "event by event",
                   "error=\"%s\" records=%zu", err, rt_batch_count(j->b));
            rt_in_msg_t *msgs = NULL;
            size_t n = rt_batch_msgs(j->b, &msgs);
            if (n == (size_t)-1)
                return APPLY_FATAL;
            apply_rc_t arc = write_msgs(L, j, msgs, n, j->pos, j->npos, 0);
            for (size_t i = 0; i < n; i++)
                rt_in_msg_clear(&msgs[i]);
            free(msgs);
            return arc;
        }
        backoff(L, &j->db_errors, "write batch", err);
        if (*L->stop)
            return APPLY_STOPPED;
    }
}

/* Empties a batch for reuse (whichever thread holds it). Its positions stay: the main thread
 * reads them when the job settles, and starts them afresh before the next poll. */
static void job_release(job_t *j)
{
    rt_batch_reset(j->b);
}

/* The writer thread: one job at a time; decoding the next batch (main thread) overlaps with
 * this one's PostgreSQL round trips. Freeing the batch here also takes that off the main
 * thread. */
static void *writer_main(void *arg)
{
    loop_t *L = arg;
    writer_t *w = &L->w;
    int64_t idle_from = rt_mono_us();
    pthread_mutex_lock(&w->mu);
    while (1) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        job_t *j = w->job;
        pthread_mutex_unlock(&w->mu);
        int64_t t0 = rt_mono_us();
        j->w_idle_us = t0 - idle_from;
        j->arc = write_job(L, j);
        int64_t t1 = rt_mono_us();
        job_release(j);
        idle_from = rt_mono_us();
        j->w_busy_us = t1 - t0;
        j->w_release_us = idle_from - t1;
        pthread_mutex_lock(&w->mu);
        w->job = NULL;
        w->done = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writer_submit(loop_t *L, job_t *j)
{
    j->arc = APPLY_FATAL;
    memset(&j->res, 0, sizeof j->res);
    j->records = j->db_errors = 0;
    j->write_s = 0;
    j->w_idle_us = j->w_busy_us = j->w_release_us = 0;
    pthread_mutex_lock(&L->w.mu);
    L->w.job = j;
    L->w.done = 0;
    pthread_cond_broadcast(&L->w.cv);
    pthread_mutex_unlock(&L->w.mu);
}

static void writer_wait(loop_t *L)
{
    pthread_mutex_lock(&L->w.mu);
    while (!L->w.done)
        pthread_cond_wait(&L->w.cv, &L->w.mu);
    pthread_mutex_unlock(&L->w.mu);
}

/* Main thread: waits for the job in flight and applies its outcome to the loop's state
 * (offsets, counters, metrics, the Kafka commit). */
static apply_rc_t finish(loop_t *L, job_t *j)
{
    writer_wait(L);
    apply_rc_t arc = (apply_rc_t)j->arc;
    L->stats->db_errors += j->db_errors;
    L->tm.w_idle += j->w_idle_us;
    L->tm.w_busy += j->w_busy_us;
    L->tm.w_release += j->w_release_us;
    if (j->records) { /* what committed, also when a record-by-record pass stopped midway */
        account(L, &j->res);
        metrics_batch(L, &j->res, (size_t)j->records, j->write_s);
        L->stats->records += j->records;
    }
    if (arc == APPLY_OK) {
        for (size_t k = 0; k < j->npos; k++) {
            part_t *pt = find_part(L, j->pos[k].partition);
            if (pt && (L->group || j->pos[k].next > pt->expected))
                pt->expected = j->pos[k].next;
        }
        if (L->group && L->cfg->kafka_commit)
            rt_kin_commit(L->kin, L->cfg->topic, j->pos, j->npos);
    } else if (arc == APPLY_FENCED) {
        L->stats->fenced++;
    }
    return arc;
}

/* Replay --to-end: takes the partitions that reached their end offset out of the assignment
 * and adds waiting ones, in partition order, up to REPLAY_PARTITIONS_IN_FLIGHT. Incremental, so
 * the partitions being read keep their fetch position and prefetched records (pausing instead
 * would drop a partition's prefetched records before its first poll, and not fetch them again).
 * Returns 0, or -1 when librdkafka refused (err filled). */
static int replay_window(loop_t *L, char *err, size_t errsize)
{
    rd_kafka_topic_partition_list_t *done = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(4);
    size_t reading = 0;
    int rc = 0;
    for (size_t i = 0; i < L->nparts; i++) {
        part_t *pt = &L->parts[i];
        if (pt->reading && pt->expected >= pt->end) {
            pt->reading = 0;
            rd_kafka_topic_partition_list_add(done, L->cfg->topic, pt->partition);
        } else if (pt->reading) {
            reading++;
        }
    }
    for (size_t i = 0; i < L->nparts && reading < REPLAY_PARTITIONS_IN_FLIGHT; i++) {
        part_t *pt = &L->parts[i];
        if (pt->reading || pt->expected >= pt->end)
            continue; /* being read, or done (or nothing to read) */
        pt->reading = 1;
        rd_kafka_topic_partition_list_add(add, L->cfg->topic, pt->partition)->offset = pt->expected;
        reading++;
    }
    if (done->cnt)
        rc = rt_kin_assign_change(L->kin, done, 0, err, errsize);
    if (rc == 0 && add->cnt)
        rc = rt_kin_assign_change(L->kin, add, 1, err, errsize);
    if (rc == 0 && (done->cnt || add->cnt))
        rt_log(RT_L_INFO, "replay window", "added=%d done=%d reading=%zu", add->cnt, done->cnt,
               reading);
    rd_kafka_topic_partition_list_destroy(done);
    rd_kafka_topic_partition_list_destroy(add);
    return rc;
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
        backoff(L, &L->stats->db_errors, "migrate", "not connected");
    }
    return -1;
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

/* After a batch was written (OK): lag for the logs and /metrics. */
static void update_lag(loop_t *L)
{
    int32_t ps[256];
    int64_t nx[256];
    size_t k = 0;
    for (; k < L->nparts && k < 256; k++) {
        ps[k] = L->parts[k].partition;
        nx[k] = L->parts[k].expected;
    }
    L->stats->lag = rt_kin_lag(L->kin, L->cfg->topic, ps, nx, k);
    metrics_lag(L);
}

/* Waits for the job in flight (if any) and acts on its outcome: a fence re-reads and
 * re-assigns the stored offsets (which also makes librdkafka drop what it fetched beyond
 * them). Returns the outcome (APPLY_OK when nothing was in flight). */
static apply_rc_t settle(loop_t *L, job_t *j, int *inflight)
{
    if (!*inflight)
        return APPLY_OK;
    *inflight = 0;
    apply_rc_t arc = finish(L, j);
    if (arc == APPLY_OK)
        update_lag(L);
    else if (arc == APPLY_FENCED && assign_stored(L) != 0 && !*L->stop)
        rt_log(RT_L_ERROR, "could not re-assign after a fence", NULL);
    return arc;
}

static int job_alloc(job_t *j, const rt_config_t *cfg)
{
    memset(j, 0, sizeof *j);
    j->b = rt_batch_new(cfg->topic, (size_t)cfg->max_event_bytes);
    return j->b ? 0 : -1;
}

static void job_free(job_t *j)
{
    rt_batch_free(j->b);
    free(j->pos);
}

/* What the poll's record taker needs (main thread). */
typedef struct take_ctx {
    loop_t *L;
    job_t *j;
    int replay;
    int oom;
    int64_t fold_us; /* time spent decoding and folding */
} take_ctx_t;

/* Takes one polled record: filters it (partitions we no longer own, records already applied,
 * beyond --to-end, before --from-time), folds it into the batch, and frees it. */
static int take_record(void *arg, rd_kafka_message_t *rm)
{
    take_ctx_t *tc = arg;
    loop_t *L = tc->L;
    int64_t t0 = rt_mono_us();
    part_t *pt = find_part(L, rm->partition);
    /* With a batch in flight, expected lags behind it, but the records polled now come after
     * that batch's in their partitions. */
    if (!pt || (pt->expected >= 0 && rm->offset < pt->expected) ||
        (pt->end >= 0 && rm->offset >= pt->end))
        goto out;
    rd_kafka_timestamp_type_t tst;
    int64_t ts_ms = rd_kafka_message_timestamp(rm, &tst);
    if (tc->replay && L->opts->from_time_us >= 0 && ts_ms >= 0 &&
        ts_ms * 1000 < L->opts->from_time_us) {
        /* --from-time: records older than the time are passed over (they count as read for
         * --to-end). */
        if (rm->offset + 1 > pt->expected)
            pt->expected = rm->offset + 1;
        goto out;
    }
    if (note_position(tc->j, rm->partition, rm->offset) != 0 ||
        rt_batch_add(tc->j->b, rm->partition, rm->offset, ts_ms, rm->key, rm->key_len, rm->payload,
                     rm->len) != 0)
        tc->oom = 1;
out:
    rd_kafka_message_destroy(rm);
    tc->fold_us += rt_mono_us() - t0;
    return tc->oom;
}

int rt_pipeline_run(const rt_config_t *cfg, const rt_opts_t *opts,
                    const volatile sig_atomic_t *stop, rt_stats_t *stats)
{
    loop_t L = {.cfg = cfg, .opts = opts, .stop = stop, .stats = stats};
    int replay = opts->mode == RT_MODE_REPLAY;
    int rc = 1;
    char err[512];
    size_t max = (size_t)cfg->batch_max_events;
    /* Double buffering: the main thread polls and decodes into jobs[cur] while the writer
     * thread writes jobs[cur ^ 1]. */
    job_t jobs[2];
    int cur = 0, inflight = 0, w_init = 0;

    memset(stats, 0, sizeof *stats);
    memset(jobs, 0, sizeof jobs);
    stats->lag = -1;
    L.group = replay ? NULL : cfg->group;
    if (job_alloc(&jobs[0], cfg) != 0 || job_alloc(&jobs[1], cfg) != 0 ||
        !(L.pg = rt_pg_new(cfg->pg_dsn))) {
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
        /* --to-end reads a window of partitions at a time; otherwise all of them follow. */
        int arc = opts->to_end ? replay_window(&L, err, sizeof err)
                               : rt_kin_assign(L.kin, l, err, sizeof err);
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

    pthread_mutex_init(&L.w.mu, NULL);
    pthread_cond_init(&L.w.cv, NULL);
    L.w.done = 1;
    w_init = 1;
    if (pthread_create(&L.w.th, NULL, writer_main, &L) != 0) {
        rt_log(RT_L_ERROR, "could not start the writer thread", NULL);
        goto out;
    }
    L.w.started = 1;

    int64_t last_activity = rt_mono_us(), last_stats = rt_mono_us();
    int assigned_once = replay;
    rc = 0;
    while (!*stop) {
        if (replay && opts->to_end && at_end(&L)) {
            rt_log(RT_L_INFO, "replay reached the end offsets", NULL);
            break;
        }
        if (replay && opts->to_end && replay_window(&L, err, sizeof err) != 0) {
            rt_log(RT_L_ERROR, "replay assign failed", "error=\"%s\"", err);
            rc = 1;
            break;
        }
        if (!replay && rt_kin_rebalance_pending(L.kin)) {
            /* The rebalance reads offsets over the writer's connection: drain it first. */
            if (settle(&L, &jobs[cur ^ 1], &inflight) == APPLY_FATAL) {
                rc = 1;
                break;
            }
            handle_rebalance(&L);
            assigned_once = 1;
            last_activity = rt_mono_us();
        }
        job_t *j = &jobs[cur];
        take_ctx_t tc = {.L = &L, .j = j, .replay = replay};
        j->npos = 0;
        size_t n = rt_kin_poll_each(L.kin, max, cfg->batch_max_ms, stop, take_record, &tc);
        rt_kin_poll_times_t ptm;
        rt_kin_last_poll_times(L.kin, &ptm);
        if (tc.oom) {
            rt_log(RT_L_ERROR, "out of memory", NULL);
            rc = 1;
            break;
        }
        /* A rebalance during the poll: partitions may have moved, and the new assignment
         * restarts every partition from its stored offset, so the batch is simply dropped. */
        if (!replay && rt_kin_rebalance_pending(L.kin)) {
            job_release(j);
            j->npos = 0;
        }
        size_t m = rt_batch_count(j->b);
        int64_t t_decoded = rt_mono_us();
        /* The previous batch must be committed before this one is fenced from its offsets. */
        int was_inflight = inflight;
        job_t *pj = &jobs[cur ^ 1];
        apply_rc_t prev = settle(&L, pj, &inflight);
        int64_t t_settled = rt_mono_us();
        L.tm.trim += ptm.trim_us;
        L.tm.wait += ptm.wait_us;
        L.tm.fill += ptm.fill_us - tc.fold_us;
        L.tm.decode += tc.fold_us;
        L.tm.handoff += t_settled - t_decoded;
        if (n > 0 || was_inflight)
            rt_log(RT_L_DEBUG, "batch timing",
                   "records=%zu trim_us=%lld wait_us=%lld fill_us=%lld decode_us=%lld "
                   "handoff_us=%lld prev_records=%zu prev_idle_us=%lld prev_busy_us=%lld "
                   "prev_release_us=%lld",
                   n, (long long)ptm.trim_us, (long long)ptm.wait_us,
                   (long long)(ptm.fill_us - tc.fold_us), (long long)tc.fold_us,
                   (long long)(t_settled - t_decoded), was_inflight ? (size_t)pj->records : 0,
                   (long long)(was_inflight ? pj->w_idle_us : 0),
                   (long long)(was_inflight ? pj->w_busy_us : 0),
                   (long long)(was_inflight ? pj->w_release_us : 0));
        if (prev == APPLY_FATAL)
            rc = 1;
        if (m > 0)
            last_activity = rt_mono_us();
        int handed = 0;
        if (m > 0 && rc == 0 && prev != APPLY_FENCED && prev != APPLY_STOPPED && !*stop) {
            fill_expected(&L, j);
            writer_submit(&L, j);
            handed = inflight = 1;
            cur ^= 1;
        }
        if (!handed)
            job_release(j); /* dropped (fence, stop, rebalance) or empty */
        if (rc != 0)
            break;
        if (rt_mono_us() - last_stats > 10 * 1000000LL) {
            log_stats(stats);
            last_stats = rt_mono_us();
        }
        if (opts->exit_when_idle_ms >= 0 && assigned_once && n == 0 && !inflight &&
            rt_mono_us() - last_activity > opts->exit_when_idle_ms * 1000) {
            rt_log(RT_L_INFO, "idle, exiting", "idle_ms=%lld", (long long)opts->exit_when_idle_ms);
            break;
        }
    }
    /* The batch in flight is finished (or abandoned by the writer when stopping mid-retry). */
    if (settle(&L, &jobs[cur ^ 1], &inflight) == APPLY_FATAL)
        rc = 1;
    log_stats(stats);
    log_timing(&L.tm);
out:
    if (L.w.started) {
        pthread_mutex_lock(&L.w.mu);
        L.w.quit = 1;
        pthread_cond_broadcast(&L.w.cv);
        pthread_mutex_unlock(&L.w.mu);
        pthread_join(L.w.th, NULL);
    }
    if (w_init) {
        pthread_mutex_destroy(&L.w.mu);
        pthread_cond_destroy(&L.w.cv);
    }
    rt_kin_destroy(L.kin, cfg->shutdown_timeout_ms);
    rt_pg_free(L.pg);
    free(L.parts);
    job_free(&jobs[0]);
    job_free(&jobs[1]);
    return rc;
}
