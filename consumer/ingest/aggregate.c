#include "aggregate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_rows.h"
#include "jscan.h"
#include "rt_buf.h"
#include "rt_time.h"
#include "runs_cols.h"

/* Owned bytes copied from an event; the buffer is kept when the slot is reused by the next
 * batch, so a steady stream allocates almost nothing. set == 0: absent (NULL). Not an rt_buf_t:
 * a slot holds a dozen of these per run and keeps them across batches, and rt_buf_t's first
 * allocation is 256 bytes where these texts (job, kind, host, phase...) are mostly under 32,
 * which would multiply the aggregate's memory per run by about eight. */
typedef struct text {
    char *p;
    size_t n, cap;
    int set;
} text_t;

/* One counter of a run: its value and the seq of the event that set it. The name is
 * ctr_names.p[off, off + len) of the run (not NUL-terminated; [a-z][a-z0-9_]*, so it needs no
 * escaping in JSON or COPY text). */
typedef struct ctr {
    int64_t value, seq;
    uint32_t off, len;
} ctr_t;

/* An event's time: its own text (always 27 characters, decode.c) and value. */
typedef struct stamp {
    int64_t us;
    int64_t seq;
    char ts[RT_TIME_STRLEN];
} stamp_t;

typedef struct run_acc {
    char run_id[RT_UUID_STRLEN];
    int known;        /* job/kind are what PostgreSQL holds */
    text_t job, kind; /* the run's job/kind (known, else the first event's; a run.started's) */
    int firm;         /* job/kind came from a run.started (stored, or in this batch) */
    int conflict;     /* events of more than one job/kind were accepted (before any run.started) */
    int removed;      /* retention deleted the run (runs_removed): its events are dead letters */
    size_t n_events;
    unsigned flags; /* RT_AGG_* */
    int has_min;
    stamp_t min_ts, max_ts; /* smallest ts (first wins), largest ts (first wins) */
    int64_t max_seq;        /* and the envelope of that event: */
    text_t producer_host, producer_lib;
    int64_t producer_pid;
    int has_started; /* earliest ts (then lowest seq) */
    stamp_t started;
    text_t start_counts, params, planned;
    int has_phase; /* highest seq run.phase */
    int64_t phase_seq;
    text_t phase;
    int has_counters; /* a counter map (run.progress / run.finished), even an empty one */
    ctr_t *ctr;       /* the counters merged per counter (ctr_merge), sorted by name */
    size_t nctr, ctr_cap;
    text_t ctr_names; /* the names of ctr[] back to back (n = bytes used) */
    int has_progress; /* highest seq run.progress */
    int64_t progress_seq;
    int has_memory, has_cpu; /* each reading from the highest seq run.progress carrying it */
    int64_t memory_seq, cpu_seq;
    double memory_percent, cpu_percent;
    int has_pause; /* highest seq run.paused / run.resumed */
    int64_t pause_seq;
    int paused;
    int has_paused_at, has_resumed_at; /* latest ts of each */
    stamp_t paused_at, resumed_at;
    int has_finished; /* highest finish_rank, then earliest ts, then lowest seq */
    stamp_t finished;
    int finish_wrapper; /* the finish is the wrapper's (data.source) */
    rt_run_status_t status;
    text_t error_message, error_details; /* of that finish, also when it has none */
    /* end_counts (set: some finish carried them) come from the finish that ranks highest among
     * those that carry them, the same order (docs/decisions.md 61): a wrapper's finish that
     * wins on status carries none and must not take the child's away. */
    text_t end_counts;
    int end_counts_rank;
    stamp_t end_counts_from;
    int has_dropped;
    int64_t dropped;
    int skewed; /* an event's ts was more than clock_skew_s off the consumer's clock */
} run_acc_t;

/* The texts of a slot, to reset and free them together. */
#define RUN_TEXTS(X)                                                                               \
    X(job)                                                                                         \
    X(kind)                                                                                        \
    X(producer_host)                                                                               \
    X(producer_lib)                                                                                \
    X(start_counts) X(params) X(planned) X(phase) X(ctr_names) X(end_counts) X(error_message)      \
        X(error_details)

struct rt_agg {
    run_acc_t *runs; /* dense, in order of first appearance; [used, cap) keep their buffers */
    size_t used, runs_cap;
    int32_t *index; /* open addressing over runs[]: -1 free; size a power of two */
    size_t index_cap;
    int clock_skew_s; /* max_clock_skew_s; 0: events' times are not checked */
    /* Scratch of fold_counters, kept across events: an event's counters when the decoder did
     * not read them (names unescaped into in_names), the counters new to a run, and the merged
     * array (swapped with the run's). */
    rt_counter_ref_t *in, *fresh;
    size_t in_cap, fresh_cap;
    rt_buf_t in_names;
    ctr_t *merged;
    size_t merged_cap;
};

rt_agg_t *rt_agg_new(void)
{
    rt_agg_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->index_cap = 256;
    a->index = malloc(a->index_cap * sizeof *a->index);
    if (!a->index) {
        free(a);
        return NULL;
    }
    memset(a->index, 0xff, a->index_cap * sizeof *a->index);
    return a;
}

void rt_agg_free(rt_agg_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->runs_cap; i++) {
#define X(f) free(a->runs[i].f.p);
        RUN_TEXTS(X)
#undef X
        free(a->runs[i].ctr);
    }
    free(a->runs);
    free(a->in);
    free(a->fresh);
    rt_buf_free(&a->in_names);
    free(a->merged);
    free(a->index);
    free(a);
}

void rt_agg_reset(rt_agg_t *a)
{
    a->used = 0;
    memset(a->index, 0xff, a->index_cap * sizeof *a->index);
}

size_t rt_agg_count(const rt_agg_t *a)
{
    return a->used;
}

/* Room for n bytes and a NUL in t. Returns 0, or -1 when out of memory. */
static int text_reserve(text_t *t, size_t n)
{
    if (n + 1 > t->cap) {
        size_t nc = t->cap ? t->cap : 32;
        while (nc < n + 1)
            nc *= 2;
        char *np = realloc(t->p, nc);
        if (!np)
            return -1;
        t->p = np;
        t->cap = nc;
    }
    return 0;
}

/* Copies s[0..n) (NUL-terminated) into t. Returns 0, or -1 when out of memory. */
static int text_set(text_t *t, const char *s, size_t n)
{
    if (text_reserve(t, n) != 0)
        return -1;
    memcpy(t->p, s, n);
    t->p[n] = '\0';
    t->n = n;
    t->set = 1;
    return 0;
}

/* A NUL-terminated string, or NULL (unset). */
static int text_str(text_t *t, const char *s)
{
    if (!s) {
        t->set = 0;
        return 0;
    }
    return text_set(t, s, strlen(s));
}

/* An event's object text, or absent (unset). */
static int text_obj(text_t *t, const rt_json_text_t *j)
{
    if (!j->p) {
        t->set = 0;
        return 0;
    }
    return text_set(t, j->p, j->n);
}

static void stamp(stamp_t *s, const rt_event_t *ev)
{
    s->us = ev->ts_us;
    s->seq = ev->seq;
    snprintf(s->ts, sizeof s->ts, "%s", ev->ts);
}

/* FNV-1a over the id text. */
static size_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

/* Index slot of id: the one holding it, or the free one where it goes. */
static size_t probe(const rt_agg_t *a, const char *id)
{
    size_t i = hash_id(id) & (a->index_cap - 1);
    while (a->index[i] >= 0 && strcmp(a->runs[a->index[i]].run_id, id) != 0)
        i = (i + 1) & (a->index_cap - 1);
    return i;
}

static const run_acc_t *lookup(const rt_agg_t *a, const char *id)
{
    int32_t k = a->index[probe(a, id)];
    return k >= 0 ? &a->runs[k] : NULL;
}

/* The slot of id, created when missing; NULL when out of memory. */
static run_acc_t *slot(rt_agg_t *a, const char *id)
{
    int32_t k = a->index[probe(a, id)];
    if (k >= 0)
        return &a->runs[k];
    if ((a->used + 1) * 2 > a->index_cap) { /* grow at half load */
        size_t ncap = a->index_cap * 2;
        int32_t *ni = malloc(ncap * sizeof *ni);
        if (!ni)
            return NULL;
        memset(ni, 0xff, ncap * sizeof *ni);
        for (size_t r = 0; r < a->used; r++) {
            size_t j = hash_id(a->runs[r].run_id) & (ncap - 1);
            while (ni[j] >= 0)
                j = (j + 1) & (ncap - 1);
            ni[j] = (int32_t)r;
        }
        free(a->index);
        a->index = ni;
        a->index_cap = ncap;
    }
    size_t old_cap = a->runs_cap;
    run_acc_t *nr = rt_grow(a->runs, a->used, &a->runs_cap, sizeof *nr, 128);
    if (!nr)
        return NULL;
    memset(nr + old_cap, 0, (a->runs_cap - old_cap) * sizeof *nr); /* new slots start empty */
    a->runs = nr;
    run_acc_t *r = &a->runs[a->used];
    /* A slot of an earlier batch: keep its buffers, forget the rest. */
    run_acc_t keep = *r;
    memset(r, 0, sizeof *r);
#define X(f) r->f.p = keep.f.p, r->f.cap = keep.f.cap;
    RUN_TEXTS(X)
#undef X
    r->ctr = keep.ctr;
    r->ctr_cap = keep.ctr_cap;
    snprintf(r->run_id, sizeof r->run_id, "%s", id);
    a->index[probe(a, id)] = (int32_t)a->used++;
    return r;
}

int rt_agg_touch(rt_agg_t *a, const char *run_id)
{
    return slot(a, run_id) ? 0 : -1;
}

int rt_agg_set_known(rt_agg_t *a, const char *run_id, const char *job, const char *kind,
                     int started)
{
    run_acc_t *r = slot(a, run_id);
    if (!r || text_str(&r->job, job) || text_str(&r->kind, kind))
        return -1;
    r->known = 1;
    r->firm = started;
    return 0;
}

int rt_agg_set_removed(rt_agg_t *a, const char *run_id)
{
    run_acc_t *r = slot(a, run_id);
    if (!r)
        return -1;
    r->removed = 1;
    return 0;
}

void rt_agg_set_clock_skew(rt_agg_t *a, int max_skew_s)
{
    a->clock_skew_s = max_skew_s > 0 ? max_skew_s : 0;
}

/* Whether ev's ts is more than clock_skew_s away from the consumer's wall clock now, when it
 * is folded: the receive time in C (the stored received_at is PostgreSQL's now() of the batch,
 * which is not known yet). A consumer behind by more than the bound (a long outage, a replay
 * of old records) sees honest events as skewed too: they are only flagged, and their
 * durations clamped against their receive span (docs/decisions.md). */
static int skewed(const rt_agg_t *a, const rt_event_t *ev)
{
    if (a->clock_skew_s <= 0)
        return 0;
    int64_t d = ev->ts_us - rt_now_us();
    int64_t bound = (int64_t)a->clock_skew_s * 1000000;
    return d > bound || d < -bound;
}

unsigned rt_agg_flags(const rt_agg_t *a, const char *run_id)
{
    const run_acc_t *r = lookup(a, run_id);
    return r ? r->flags : 0;
}

/* ev precedes s by (ts, seq). */
static int earlier(const rt_event_t *ev, const stamp_t *s)
{
    return ev->ts_us < s->us || (ev->ts_us == s->us && ev->seq < s->seq);
}

/* Precedence of a run.finished (docs/consumer.md, merge rules; SQL_RUNS's FIN_RANK in pg_out.c
 * is the same): the wrapper's finish carries the process's real end, so its failure overrules
 * the run's own finish (a child that said completed and then exited 3 failed); a wrapper's
 * completed only says the process exited 0, which contradicts no finish of the run's own. */
static int finish_rank(int wrapper, rt_run_status_t status)
{
    if (!wrapper)
        return 1;
    return status == RT_STATUS_COMPLETED ? 0 : 2;
}

/* ev (a run.finished) wins over the run's finish so far: higher rank, then earlier (ts, seq). */
static int finish_beats(const rt_event_t *ev, const run_acc_t *r)
{
    if (!r->has_finished)
        return 1;
    int a = finish_rank(ev->finish_wrapper, ev->status),
        b = finish_rank(r->finish_wrapper, r->status);
    return a != b ? a > b : earlier(ev, &r->finished);
}

/* The run.finished ev into r: the winner (finish_beats) sets status, finished_at and the error;
 * end_counts, when ev carries them, by the same order among the finishes that carried any. The
 * upsert applies both against the stored row (SQL_RUNS's FIN_WINS and EC_WINS in pg_out.c).
 * Returns 0, or -1 when out of memory. */
static int fold_finish(run_acc_t *r, const rt_event_t *ev)
{
    int rank = finish_rank(ev->finish_wrapper, ev->status);
    if (ev->end_counts.p &&
        (!r->end_counts.set || rank > r->end_counts_rank ||
         (rank == r->end_counts_rank && earlier(ev, &r->end_counts_from)))) {
        if (text_obj(&r->end_counts, &ev->end_counts))
            return -1;
        r->end_counts_rank = rank;
        stamp(&r->end_counts_from, ev);
    }
    if (!finish_beats(ev, r))
        return 0;
    r->has_finished = 1;
    stamp(&r->finished, ev);
    r->finish_wrapper = ev->finish_wrapper;
    r->status = ev->status;
    return text_str(&r->error_message, ev->error_message) ||
                   text_obj(&r->error_details, &ev->error_details)
               ? -1
               : 0;
}

/* The rule of counter maps and resource readings, per counter (docs/events.md, Counters): a
 * value set by the event of seq replaces the one set at seq `than` only when it is newer; on
 * equal seqs the one applied first stays. The upsert applies the same rule to the stored row
 * (SQL_RUNS in pg_out.c and runtrack_counters_merge, migration 0027), so the result does not
 * depend on how a run's events were split into batches or ordered. */
static int ctr_newer(int64_t seq, int64_t than)
{
    return seq > than;
}

/* Byte order of two names, then the shorter first. */
static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int ref_cmp(const void *x, const void *y)
{
    const rt_counter_ref_t *a = x, *b = y;
    return name_cmp(a->name, a->len, b->name, b->len);
}

/* The members of ev's counter map: those the decoder read (decode.h), or else (more of them,
 * an escaped name) read here from its text, which the decoder checked (names, integer values,
 * no duplicates). Returns 0, or -1 when out of memory. */
static int ctr_read(rt_agg_t *a, const rt_event_t *ev, const rt_counter_ref_t **in, size_t *n)
{
    rt_jtok_t inline_tok[64];
    rt_jscan_t s;
    int rc = 0;
    *in = ev->counter;
    *n = ev->ncounters;
    if (ev->counters_read)
        return 0;
    *in = a->in;
    *n = 0;
    rt_buf_reset(&a->in_names);
    if (rt_jscan(&s, ev->counters.p, ev->counters.n, inline_tok,
                 sizeof inline_tok / sizeof inline_tok[0]) != 0 ||
        rt_buf_reserve(&a->in_names, (size_t)s.tok[0].n * RT_COUNTER_NAME_MAX) != 0)
        rc = -1; /* checked text: only memory can fail; names never move once reserved */
    for (size_t k = 1; rc == 0 && k + 1 < s.tok[0].skip; k = s.tok[k + 1].skip) {
        rt_counter_ref_t *arr = rt_grow(a->in, *n, &a->in_cap, sizeof *arr, 16);
        if (!arr) {
            rc = -1;
            break;
        }
        *in = a->in = arr;
        rt_counter_ref_t *c = &arr[(*n)++];
        c->value = s.tok[k + 1].v.i;
        c->name = ev->counters.p + s.tok[k].start;
        c->len = s.tok[k].n;
        if (s.tok[k].esc) { /* "\u0061pi_calls" */
            char name[RT_COUNTER_NAME_MAX + 1];
            c->len = rt_jscan_string(&s, k, name, sizeof name);
            c->name = a->in_names.data + a->in_names.len;
            rt_buf_add(&a->in_names, name, c->len);
        }
    }
    rt_jscan_free(&s);
    return rc;
}

/* r's counter named name[0..len), or NULL (binary search: r->ctr is sorted by name). */
static ctr_t *ctr_find(run_acc_t *r, const char *name, size_t len)
{
    size_t lo = 0, hi = r->nctr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(r->ctr_names.p + r->ctr[mid].off, r->ctr[mid].len, name, len);
        if (c == 0)
            return &r->ctr[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Adds the counters fresh[0..n) (not yet r's, set by the event of seq) to r: sorted, then one
 * merge pass with r's sorted counters into the scratch array, which becomes r's. O(n log n)
 * however many and in whatever order. Returns 0, or -1 when out of memory. */
static int ctr_add(rt_agg_t *a, run_acc_t *r, int64_t seq, rt_counter_ref_t *fresh, size_t n)
{
    size_t i = 0, k = 0, o = 0;
    qsort(fresh, n, sizeof *fresh, ref_cmp);
    if (r->nctr + n > a->merged_cap) {
        ctr_t *nm = realloc(a->merged, (r->nctr + n) * sizeof *nm);
        if (!nm)
            return -1;
        a->merged = nm;
        a->merged_cap = r->nctr + n;
    }
    while (i < r->nctr || k < n) {
        if (k == n || (i < r->nctr && name_cmp(r->ctr_names.p + r->ctr[i].off, r->ctr[i].len,
                                               fresh[k].name, fresh[k].len) < 0)) {
            a->merged[o++] = r->ctr[i++];
            continue;
        }
        if (text_reserve(&r->ctr_names, r->ctr_names.n + fresh[k].len) != 0)
            return -1;
        a->merged[o++] =
            (ctr_t){fresh[k].value, seq, (uint32_t)r->ctr_names.n, (uint32_t)fresh[k].len};
        memcpy(r->ctr_names.p + r->ctr_names.n, fresh[k].name, fresh[k].len);
        r->ctr_names.n += fresh[k++].len;
    }
    ctr_t *old = r->ctr;
    size_t old_cap = r->ctr_cap;
    r->ctr = a->merged;
    r->ctr_cap = a->merged_cap;
    r->nctr = o;
    a->merged = old;
    a->merged_cap = old_cap;
    return 0;
}

/* The counter map of ev (run.progress, or run.finished with counters) merged into r's counters:
 * a counter the map does not name keeps its value, one it names takes the map's value when ev
 * is newer than the event that set it (ctr_newer), a new one is added. Returns 0, or -1 when
 * out of memory. */
static int fold_counters(rt_agg_t *a, run_acc_t *r, const rt_event_t *ev)
{
    const rt_counter_ref_t *in;
    size_t m, nfresh = 0;
    r->flags |= RT_AGG_COUNTERS;
    r->has_counters = 1;
    if (ctr_read(a, ev, &in, &m) != 0)
        return -1;
    for (size_t k = 0; k < m; k++) {
        ctr_t *c = ctr_find(r, in[k].name, in[k].len);
        if (c && ctr_newer(ev->seq, c->seq)) {
            c->value = in[k].value;
            c->seq = ev->seq;
        } else if (!c) {
            rt_counter_ref_t *f = rt_grow(a->fresh, nfresh, &a->fresh_cap, sizeof *f, 16);
            if (!f)
                return -1;
            a->fresh = f;
            f[nfresh++] = in[k];
        }
    }
    return nfresh ? ctr_add(a, r, ev->seq, a->fresh, nfresh) : 0;
}

/* The identity rule (docs/decisions.md, "A run's identity"): whether ev may join run r, and
 * r's job/kind after it. Returns 0; -1 (rule) or -3 (run removed) with detail; -2 on OOM. */
static int identity(run_acc_t *r, const rt_event_t *ev, char *detail, size_t detail_size)
{
    if (r->removed) {
        snprintf(detail, detail_size,
                 "run %s was deleted by retention; a late event does not bring it back",
                 ev->run_id);
        return -3;
    }
    if (!r->job.set) {
        if (text_str(&r->job, ev->job) || text_str(&r->kind, ev->kind))
            return -2;
    } else if (strcmp(r->job.p, ev->job) != 0 || strcmp(r->kind.p, ev->kind) != 0) {
        /* One run is one job of one kind, and its run.started says which (docs/decisions.md,
         * "A run's identity"). Once that is known, an event of another job is a producer bug or
         * an id collision and must not be merged into the run. Before it, nobody can tell the
         * genuine events from the impostor: all are kept, the run is flagged, and the
         * run.started, when it comes, names the run. */
        if (r->firm && ev->type == RT_EV_STARTED) {
            /* A second start under the same id (runtrack start --run ID): say what the reuse
             * is, not only that the jobs differ. */
            snprintf(detail, detail_size,
                     "run.started as job \"%.40s\" kind \"%.20s\" refused: run %s was started "
                     "as job \"%.40s\" kind \"%.20s\" (a run id names one run)",
                     ev->job, ev->kind, ev->run_id, r->job.p, r->kind.p);
            return -1;
        }
        if (r->firm) {
            snprintf(detail, detail_size,
                     "run %s is job \"%.60s\" kind \"%.30s\" but this event says job \"%.60s\" "
                     "kind \"%.30s\"",
                     ev->run_id, r->job.p, r->kind.p, ev->job, ev->kind);
            return -1;
        }
        r->conflict = 1;
        if (ev->type == RT_EV_STARTED &&
            (text_str(&r->job, ev->job) || text_str(&r->kind, ev->kind)))
            return -2;
    }
    if (ev->type == RT_EV_STARTED)
        r->firm = 1;
    return 0;
}

int rt_agg_add(rt_agg_t *a, const rt_event_t *ev, char *detail, size_t detail_size)
{
    run_acc_t *r = slot(a, ev->run_id);
    if (!r)
        return -2;
    int id = identity(r, ev, detail, detail_size);
    if (id != 0)
        return id;
    r->n_events++;
    if (!r->skewed && skewed(a, ev))
        r->skewed = 1;
    if (!r->has_min || ev->ts_us < r->min_ts.us)
        stamp(&r->min_ts, ev);
    if (!r->has_min || ev->ts_us > r->max_ts.us)
        stamp(&r->max_ts, ev);
    if (!r->has_min || ev->seq > r->max_seq) {
        r->max_seq = ev->seq;
        r->producer_pid = ev->producer_pid;
        if (text_str(&r->producer_host, ev->producer_host) ||
            text_str(&r->producer_lib, ev->producer_lib))
            return -2;
    }
    r->has_min = 1;
    switch (ev->type) {
    case RT_EV_STARTED:
        r->flags |= RT_AGG_STARTED;
        if (!r->has_started || earlier(ev, &r->started)) {
            r->has_started = 1;
            stamp(&r->started, ev);
            if (text_obj(&r->start_counts, &ev->start_counts) ||
                text_obj(&r->params, &ev->params) || text_obj(&r->planned, &ev->planned))
                return -2;
        }
        break;
    case RT_EV_PHASE:
        if (!r->has_phase || ev->seq > r->phase_seq) {
            r->has_phase = 1;
            r->phase_seq = ev->seq;
            if (text_str(&r->phase, ev->phase))
                return -2;
        }
        break;
    case RT_EV_PROGRESS:
        if (fold_counters(a, r, ev))
            return -2;
        if (!r->has_progress || ev->seq > r->progress_seq) {
            r->has_progress = 1;
            r->progress_seq = ev->seq;
        }
        /* A reading the event does not carry keeps its last value. */
        if (ev->has_memory && (!r->has_memory || ctr_newer(ev->seq, r->memory_seq))) {
            r->has_memory = 1;
            r->memory_seq = ev->seq;
            r->memory_percent = ev->memory_percent;
        }
        if (ev->has_cpu && (!r->has_cpu || ctr_newer(ev->seq, r->cpu_seq))) {
            r->has_cpu = 1;
            r->cpu_seq = ev->seq;
            r->cpu_percent = ev->cpu_percent;
        }
        break;
    case RT_EV_PAUSED:
    case RT_EV_RESUMED:
        if (!r->has_pause || ev->seq > r->pause_seq) {
            r->has_pause = 1;
            r->pause_seq = ev->seq;
            r->paused = ev->type == RT_EV_PAUSED;
        }
        if (ev->type == RT_EV_PAUSED && (!r->has_paused_at || ev->ts_us > r->paused_at.us)) {
            r->has_paused_at = 1;
            stamp(&r->paused_at, ev);
        }
        if (ev->type == RT_EV_RESUMED && (!r->has_resumed_at || ev->ts_us > r->resumed_at.us)) {
            r->has_resumed_at = 1;
            stamp(&r->resumed_at, ev);
        }
        break;
    case RT_EV_FINISHED:
        r->flags |= RT_AGG_FINISHED;
        if (fold_finish(r, ev))
            return -2;
        /* A finished event's counters are the run's final absolute values: merged like those
         * of a progress event. */
        if (ev->counters.p && fold_counters(a, r, ev))
            return -2;
        break;
    case RT_EV_LOG:
    case RT_EV_HEARTBEAT:
    case RT_EV__COUNT:
        break;
    }
    if (ev->has_dropped_logs && (!r->has_dropped || ev->dropped_logs > r->dropped)) {
        r->has_dropped = 1;
        r->dropped = ev->dropped_logs;
    }
    return 0;
}

char *rt_agg_run_ids(const rt_agg_t *a)
{
    size_t size = 3 + a->used * 37;
    char *s = malloc(size);
    if (!s)
        return NULL;
    size_t o = 0;
    s[o++] = '{';
    for (size_t i = 0; i < a->used; i++) {
        if (o > 1)
            s[o++] = ',';
        memcpy(s + o, a->runs[i].run_id, 36);
        o += 36;
    }
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* ---- the runs upsert's input: the columns of runs_cols.h ---- */

static const text_t none = {0};

/* A text field, or NULL when unset. */
static void col_text(rt_buf_t *b, const text_t *t)
{
    if (t->set)
        rt_copy_text(b, t->p, t->n);
    else
        rt_copy_null(b);
}

/* A field that needs no COPY escaping (times, numbers, booleans, names), or NULL unless has. */
static void col(rt_buf_t *b, int has, const char *v)
{
    if (has)
        rt_buf_adds(b, v);
    else
        rt_copy_null(b);
}

static void col_ts(rt_buf_t *b, int has, const stamp_t *s)
{
    col(b, has, s->ts);
}

static void col_int(rt_buf_t *b, int has, int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    col(b, has, num);
}

static void col_real(rt_buf_t *b, int has, double v)
{
    char num[40];
    snprintf(num, sizeof num, RT_PG_REAL_FMT, v); /* rt_pg_real_ok checked it */
    col(b, has, num);
}

static void col_bool(rt_buf_t *b, int has, int v)
{
    col(b, has, v ? "t" : "f");
}

/* The highest seq among r's counters (runs.counters_seq); 0 when it has none. */
static int64_t ctr_top(const run_acc_t *r)
{
    int64_t top = 0;
    for (size_t i = 0; i < r->nctr; i++)
        if (r->ctr[i].seq > top)
            top = r->ctr[i].seq;
    return top;
}

/* r's merged counters as a JSON object {"name":value,...} ("{}" after only empty maps), or NULL
 * when the batch held no counter map. seqs: runs.counter_seqs instead (migration 0027): the
 * counters set by an event older than ctr_top, with their seq; {} when one event set them all.
 * Names are [a-z][a-z0-9_]*: nothing to escape. */
static void col_counters(rt_buf_t *b, const run_acc_t *r, int seqs)
{
    if (!r->has_counters) {
        rt_copy_null(b);
        return;
    }
    int64_t top = seqs ? ctr_top(r) : 0;
    int first = 1;
    rt_buf_addc(b, '{');
    for (size_t i = 0; i < r->nctr; i++) {
        const ctr_t *c = &r->ctr[i];
        if (seqs && c->seq == top)
            continue;
        if (!first)
            rt_buf_addc(b, ',');
        first = 0;
        rt_buf_addc(b, '"');
        rt_buf_add(b, r->ctr_names.p + c->off, c->len);
        rt_buf_adds(b, "\":");
        rt_buf_add_i64(b, seqs ? c->seq : c->value);
    }
    rt_buf_addc(b, '}');
}

/* runs.counter_keys: r's counter names, sorted bytewise (ctr[] is) and joined by commas; NULL
 * when the batch held no counter map. */
static void col_counter_keys(rt_buf_t *b, const run_acc_t *r)
{
    if (!r->has_counters) {
        rt_copy_null(b);
        return;
    }
    for (size_t i = 0; i < r->nctr; i++) {
        if (i)
            rt_buf_addc(b, ',');
        rt_buf_add(b, r->ctr_names.p + r->ctr[i].off, r->ctr[i].len);
    }
}

size_t rt_agg_runs_copy(const rt_agg_t *a, rt_buf_t *b)
{
    size_t count = 0;
    for (size_t i = 0; i < a->used; i++) {
        const run_acc_t *r = &a->runs[i];
        if (r->n_events == 0)
            continue;
        count++;
        rt_buf_adds(b, r->run_id);
#define X(name, type, write)                                                                       \
    rt_buf_addc(b, '\t');                                                                         \
    write;
        RT_RUNS_COLS(X)
#undef X
        rt_buf_addc(b, '\n');
    }
    return b->oom ? (size_t)-1 : count;
}
