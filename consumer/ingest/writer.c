/* The writer thread and the PostgreSQL retries of the pipeline (writer.h). */
#include "writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt_buf.h"
#include "rt_time.h"

struct rt_writer {
    rt_store_t *s;
    const char *group; /* NULL in replay: no offsets written */
    const char *topic;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_job_t *job; /* submitted, not yet done */
    int done;      /* the last submitted job is finished */
    int quit;
    pthread_t th;
};

void rt_store_wait(rt_store_t *s, int64_t since_us)
{
    s->wait_since = since_us;
    rt_ready_set_wait_since(s->ready, since_us);
    if (s->m)
        rt_metrics_ingest_wait(s->m, since_us);
}

/* A failed attempt: /readyz says so, and records wait (if they did not already). */
static void store_failed(rt_store_t *s)
{
    rt_ready_set_db_error(s->ready, 1);
    if (!s->wait_since)
        rt_store_wait(s, rt_mono_us());
}

void rt_store_ok(rt_store_t *s)
{
    rt_backoff_reset(&s->bo);
    rt_ready_set_db_error(s->ready, 0);
}

int rt_store_connect(rt_store_t *s)
{
    char err[512];
    while (!*s->stop) {
        if (rt_pg_connect(s->pg, err, sizeof err) == 0) {
            rt_store_ok(s);
            return 0;
        }
        store_failed(s);
        rt_backoff_failed(&s->bo, s->m, "postgresql unreachable, retrying", NULL, err);
    }
    return -1;
}

void rt_store_retry(rt_store_t *s, const char *what, const char *err)
{
    store_failed(s);
    rt_backoff_failed(&s->bo, s->m, "postgresql failed, retrying", what, err);
    if (!rt_pg_conn(s->pg) && !*s->stop) {
        char e[512];
        if (rt_pg_connect(s->pg, e, sizeof e) == 0)
            rt_log(RT_L_INFO, "postgresql reconnected", NULL);
        else
            rt_log(RT_L_WARN, "postgresql reconnect failed", "error=\"%s\"", e);
    }
}

int rt_job_init(rt_job_t *j, const char *topic, size_t max_event_bytes)
{
    memset(j, 0, sizeof *j);
    j->b = rt_batch_new(topic, max_event_bytes);
    return j->b ? 0 : -1;
}

void rt_job_free(rt_job_t *j)
{
    rt_batch_free(j->b);
    free(j->pos);
}

int rt_job_note_position(rt_job_t *j, int32_t p, int64_t offset)
{
    size_t k = 0;
    /* Records come in runs of one partition: the last entry is the likely one. */
    if (j->npos && j->pos[j->npos - 1].partition == p)
        k = j->npos - 1;
    else
        while (k < j->npos && j->pos[k].partition != p)
            k++;
    if (k == j->npos) {
        rt_part_pos_t *np = rt_grow(j->pos, j->npos, &j->pos_cap, sizeof *np, 64);
        if (!np)
            return -1;
        j->pos = np;
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
    to->dead_payload_dropped += r->dead_payload_dropped;
}

/* The outcome of an attempt that committed n records (RT_PG_OK: results into j) or met the
 * fence (RT_PG_FENCED). */
static rt_apply_t written(rt_writer_t *w, rt_job_t *j, rt_pg_rc_t rc, size_t n,
                          const rt_batch_result_t *res, int64_t t0, const char *err)
{
    if (rc == RT_PG_FENCED) {
        /* Another consumer moved these offsets: it owns the partition now, or we raced it
         * after a rebalance. Drop the batch and continue from what PostgreSQL says. */
        rt_log(RT_L_WARN, "offsets fence failed, dropping batch and re-reading offsets",
               "error=\"%s\"", err);
        return RT_APPLY_FENCED;
    }
    rt_store_ok(w->s);
    /* Progress: whatever still waits has waited since now. */
    rt_store_wait(w->s, rt_mono_us());
    add_result(&j->res, res);
    j->records += n;
    j->write_s += (double)(rt_mono_us() - t0) / 1e6;
    rt_log(RT_L_DEBUG, "batch committed", "records=%zu runs=%zu logs=%zu dead=%zu ms=%lld", n,
           res->runs, res->logs, res->dead, (long long)((rt_mono_us() - t0) / 1000));
    return RT_APPLY_OK;
}

static rt_apply_t write_msgs(rt_writer_t *w, rt_job_t *j, rt_in_msg_t *msgs, size_t n,
                             const rt_part_pos_t *pp, size_t npos, int *refused);

/* The fence positions of a part of a batch, msgs[0..n): each partition among them moves from
 * where cur says PostgreSQL holds it to just past the part's last record of it, so that a crash
 * between two parts resumes right after the last committed one. out has room for ncur entries
 * (cur lists every partition of the batch). Returns the number of entries. */
static size_t part_positions(const rt_in_msg_t *msgs, size_t n, const rt_part_pos_t *cur,
                             size_t ncur, rt_part_pos_t *out)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < np && out[k].partition != msgs[i].partition)
            k++;
        if (k == np) {
            size_t c = 0;
            while (c < ncur && cur[c].partition != msgs[i].partition)
                c++;
            if (np == ncur) /* a record of a partition the batch did not note: cannot happen */
                continue;
            out[np++] = (rt_part_pos_t){msgs[i].partition, c < ncur ? cur[c].expected : -1,
                                        msgs[i].offset + 1};
        } else if (msgs[i].offset + 1 > out[k].next) {
            out[k].next = msgs[i].offset + 1;
        }
    }
    return np;
}

/* msgs[0..n) (n >= 2) were rejected by the database as a whole with a data error, fenced from
 * cur[0..ncur) (updated here as parts commit): bisection. Each half is written as one
 * transaction, and only a half the database rejects is split again, down to the one record it
 * refuses, which becomes a dead letter: one poison record costs about 1.5 log2(n)
 * transactions instead of one per record. */
static rt_apply_t write_split(rt_writer_t *w, rt_job_t *j, rt_in_msg_t *msgs, size_t n,
                              rt_part_pos_t *cur, size_t ncur)
{
    rt_part_pos_t *pos = malloc((ncur ? ncur : 1) * sizeof *pos);
    if (!pos)
        return RT_APPLY_FATAL;
    rt_apply_t arc = RT_APPLY_OK;
    size_t h = n / 2;
    int left_refused = 1;
    rt_log(RT_L_DEBUG, "splitting a rejected part", "records=%zu partition=%d offset=%lld", n,
           (int)msgs[0].partition, (long long)msgs[0].offset);
    for (int half = 0; half < 2 && arc == RT_APPLY_OK; half++) {
        rt_in_msg_t *m = half ? msgs + h : msgs;
        size_t k = half ? n - h : h;
        size_t np = part_positions(m, k, cur, ncur, pos);
        /* The whole was refused and the left half went in as it was: what the database refuses
         * is on the right, and trying that half whole again would be a transaction lost. */
        if (half && !left_refused && k > 1)
            arc = write_split(w, j, m, k, pos, np);
        else
            arc = write_msgs(w, j, m, k, pos, np, half ? NULL : &left_refused);
        for (size_t p = 0; arc == RT_APPLY_OK && p < np; p++)
            for (size_t c = 0; c < ncur; c++)
                if (cur[c].partition == pos[p].partition)
                    cur[c].expected = pos[p].next;
    }
    free(pos);
    return arc;
}

/* Writes msgs[0..n) fenced at pp[0..npos) as one transaction, with retries; results go into j.
 * A data error splits them (write_split), or dead-letters a single record; *refused (when not
 * NULL) says whether either happened. Touches no state the main thread uses while a job is in
 * flight. */
static rt_apply_t write_msgs(rt_writer_t *w, rt_job_t *j, rt_in_msg_t *msgs, size_t n,
                             const rt_part_pos_t *pp, size_t npos, int *refused)
{
    int rejected_once = 0;
    if (refused)
        *refused = 0;
    while (1) {
        char err[1024];
        rt_batch_result_t res;
        int64_t t0 = rt_mono_us();
        rt_pg_rc_t rc = rt_pg_write_msgs(w->s->pg, w->group, w->topic, msgs, n, pp, npos, &res,
                                         err, sizeof err);
        if (rc == RT_PG_OK || rc == RT_PG_FENCED)
            return written(w, j, rc, n, &res, t0, err);
        if ((rc == RT_PG_DATA || rc == RT_PG_CONFLICT) && !rejected_once) {
            /* CONFLICT: not from this path. A data error: split, down to the one record. */
            if (n > 1) {
                rt_log(RT_L_WARN, "records rejected by postgresql, splitting them",
                       "error=\"%s\" records=%zu", err, n);
                if (refused)
                    *refused = 1;
                rt_part_pos_t *cur = malloc((npos ? npos : 1) * sizeof *cur);
                if (!cur)
                    return RT_APPLY_FATAL;
                memcpy(cur, pp, npos * sizeof *cur);
                rt_apply_t arc = write_split(w, j, msgs, n, cur, npos);
                free(cur);
                return arc;
            }
            char detail[300];
            snprintf(detail, sizeof detail, "database rejected the event: %.250s", err);
            rt_log(RT_L_WARN, "record rejected by postgresql, dead-lettering it",
                   "partition=%d offset=%lld error=\"%s\"", (int)msgs[0].partition,
                   (long long)msgs[0].offset, err);
            for (size_t i = 0; i < n; i++)
                rt_in_msg_reject(&msgs[i], RT_DEAD_RULE, detail);
            rejected_once = 1;
            if (refused)
                *refused = 1;
            continue;
        }
        /* The environment failed (also: the dead letter itself refused, which no value of the
         * event can cause): the same records are written again once it recovers. */
        if (rc == RT_PG_DATA || rc == RT_PG_CONFLICT)
            rt_log(RT_L_ERROR, "postgresql rejects even the dead letter, retrying",
                   "error=\"%s\" partition=%d offset=%lld", err, (int)msgs[0].partition,
                   (long long)msgs[0].offset);
        rt_store_retry(w->s, "write batch", err);
        if (*w->s->stop)
            return RT_APPLY_STOPPED;
    }
}

/* Writes the folded batch of j fenced at its positions, with retries. A run that PostgreSQL
 * holds under another job sends the batch down the record-by-record path, which decides event
 * by event; data the database rejects, down the bisection (write_split). */
static rt_apply_t write_job(rt_writer_t *w, rt_job_t *j)
{
    while (1) {
        char err[1024];
        rt_batch_result_t res;
        int64_t t0 = rt_mono_us();
        rt_pg_rc_t rc = rt_pg_write_batch(w->s->pg, w->group, w->topic, j->b, j->pos, j->npos,
                                          &res, err, sizeof err);
        if (rc == RT_PG_OK || rc == RT_PG_FENCED)
            return written(w, j, rc, rt_batch_count(j->b), &res, t0, err);
        if (rc == RT_PG_CONFLICT || rc == RT_PG_DATA) {
            rt_log(rc == RT_PG_DATA ? RT_L_WARN : RT_L_INFO,
                   rc == RT_PG_DATA ? "batch rejected by postgresql, splitting it"
                                    : "batch holds a run stored under another job, deciding "
                                      "event by event",
                   "error=\"%s\" records=%zu", err, rt_batch_count(j->b));
            rt_in_msg_t *msgs = NULL;
            size_t n = rt_batch_msgs(j->b, &msgs);
            if (n == (size_t)-1)
                return RT_APPLY_FATAL;
            /* A data error: the batch as it was folded is refused, so it is split at once;
             * a conflict: the records are decided against the stored job, all in one go. */
            rt_apply_t arc = RT_APPLY_FATAL;
            rt_part_pos_t *cur = malloc((j->npos ? j->npos : 1) * sizeof *cur);
            if (cur) {
                memcpy(cur, j->pos, j->npos * sizeof *cur);
                arc = rc == RT_PG_DATA && n > 1 ? write_split(w, j, msgs, n, cur, j->npos)
                                                : write_msgs(w, j, msgs, n, cur, j->npos, NULL);
                free(cur);
            }
            for (size_t i = 0; i < n; i++)
                rt_in_msg_clear(&msgs[i]);
            free(msgs);
            return arc;
        }
        rt_store_retry(w->s, "write batch", err);
        if (*w->s->stop)
            return RT_APPLY_STOPPED;
    }
}

/* The writer thread: one job at a time; decoding the next batch (main thread) overlaps with
 * this one's PostgreSQL round trips. Emptying the batch here also takes that off the main
 * thread; its positions stay for the main thread to read. */
static void *writer_main(void *arg)
{
    rt_writer_t *w = arg;
    int64_t idle_from = rt_mono_us();
    pthread_mutex_lock(&w->mu);
    while (1) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        rt_job_t *j = w->job;
        pthread_mutex_unlock(&w->mu);
        int64_t t0 = rt_mono_us();
        if (!w->s->wait_since)
            rt_store_wait(w->s, t0); /* records wait from now (else since the last commit) */
        j->w_idle_us = t0 - idle_from;
        j->arc = write_job(w, j);
        int64_t t1 = rt_mono_us();
        rt_batch_reset(j->b);
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

rt_writer_t *rt_writer_start(rt_store_t *s, const char *group, const char *topic)
{
    rt_writer_t *w = calloc(1, sizeof *w);
    int mu = 0, cv = 0;
    if (!w)
        return NULL;
    w->s = s;
    w->group = group;
    w->topic = topic;
    w->done = 1;
    if ((mu = pthread_mutex_init(&w->mu, NULL) == 0) && (cv = pthread_cond_init(&w->cv, NULL) == 0) &&
        pthread_create(&w->th, NULL, writer_main, w) == 0)
        return w;
    if (cv)
        pthread_cond_destroy(&w->cv);
    if (mu)
        pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
}

void rt_writer_submit(rt_writer_t *w, rt_job_t *j)
{
    j->arc = RT_APPLY_FATAL;
    memset(&j->res, 0, sizeof j->res);
    j->records = 0;
    j->write_s = 0;
    j->w_idle_us = j->w_busy_us = j->w_release_us = 0;
    pthread_mutex_lock(&w->mu);
    w->job = j;
    w->done = 0;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void rt_writer_wait(rt_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void rt_writer_stop(rt_writer_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
