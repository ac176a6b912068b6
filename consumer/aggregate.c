#include "aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_acc {
    char run_id[RT_UUID_STRLEN];  /* "" = free slot */
    char *known_job, *known_kind; /* owned: what PostgreSQL holds */
    const char *job, *kind;       /* the run's job/kind (known, else first event's) */
    size_t n_events;
    const rt_event_t *min_ts, *max_ts, *max_seq;
    const rt_event_t *started;  /* earliest ts (then lowest seq) */
    const rt_event_t *phase;    /* highest seq run.phase */
    const rt_event_t *counters; /* highest seq run.progress / run.finished with counters */
    const rt_event_t *progress; /* highest seq run.progress (memory/cpu readings) */
    const rt_event_t *pause;    /* highest seq run.paused / run.resumed */
    const rt_event_t *paused_at, *resumed_at; /* latest ts of each */
    const rt_event_t *finished;               /* earliest ts (then lowest seq) */
    int has_dropped;
    int64_t dropped;
} run_acc_t;

struct rt_agg {
    run_acc_t *slots;
    size_t cap; /* power of two */
    size_t used;
};

rt_agg_t *rt_agg_new(void)
{
    rt_agg_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cap = 256;
    a->slots = calloc(a->cap, sizeof *a->slots);
    if (!a->slots) {
        free(a);
        return NULL;
    }
    return a;
}

static void clear_slots(rt_agg_t *a)
{
    for (size_t i = 0; i < a->cap; i++) {
        free(a->slots[i].known_job);
        free(a->slots[i].known_kind);
    }
    memset(a->slots, 0, a->cap * sizeof *a->slots);
    a->used = 0;
}

void rt_agg_free(rt_agg_t *a)
{
    if (!a)
        return;
    clear_slots(a);
    free(a->slots);
    free(a);
}

void rt_agg_reset(rt_agg_t *a)
{
    clear_slots(a);
}

size_t rt_agg_count(const rt_agg_t *a)
{
    return a->used;
}

/* FNV-1a over the id text. */
static size_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static run_acc_t *find(rt_agg_t *a, const char *id, int create)
{
    if (create && (a->used + 1) * 2 > a->cap) {
        /* Grow at half load: rehash into a table twice as large. */
        size_t ncap = a->cap * 2;
        run_acc_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < a->cap; i++) {
            if (!a->slots[i].run_id[0])
                continue;
            size_t j = hash_id(a->slots[i].run_id) & (ncap - 1);
            while (ns[j].run_id[0])
                j = (j + 1) & (ncap - 1);
            ns[j] = a->slots[i];
        }
        free(a->slots);
        a->slots = ns;
        a->cap = ncap;
    }
    size_t i = hash_id(id) & (a->cap - 1);
    while (a->slots[i].run_id[0]) {
        if (!strcmp(a->slots[i].run_id, id))
            return &a->slots[i];
        i = (i + 1) & (a->cap - 1);
    }
    if (!create)
        return NULL;
    snprintf(a->slots[i].run_id, sizeof a->slots[i].run_id, "%s", id);
    a->used++;
    return &a->slots[i];
}

int rt_agg_touch(rt_agg_t *a, const char *run_id)
{
    return find(a, run_id, 1) ? 0 : -1;
}

int rt_agg_set_known(rt_agg_t *a, const char *run_id, const char *job, const char *kind)
{
    run_acc_t *r = find(a, run_id, 1);
    if (!r)
        return -1;
    free(r->known_job);
    free(r->known_kind);
    r->known_job = strdup(job);
    r->known_kind = strdup(kind);
    if (!r->known_job || !r->known_kind)
        return -1;
    r->job = r->known_job;
    r->kind = r->known_kind;
    return 0;
}

/* a precedes b by (ts, seq). */
static int earlier(const rt_event_t *a, const rt_event_t *b)
{
    return a->ts_us < b->ts_us || (a->ts_us == b->ts_us && a->seq < b->seq);
}

int rt_agg_add(rt_agg_t *a, const rt_event_t *ev, char *detail, size_t detail_size)
{
    run_acc_t *r = find(a, ev->run_id, 1);
    if (!r)
        return -2;
    if (!r->job) {
        r->job = ev->job;
        r->kind = ev->kind;
    } else if (strcmp(r->job, ev->job) != 0 || strcmp(r->kind, ev->kind) != 0) {
        /* One run is one job of one kind; a second job under the same id is a producer bug
         * (or an id collision) and must not be merged into the first. */
        snprintf(detail, detail_size,
                 "run %s is job \"%.60s\" kind \"%.30s\" but this event says job \"%.60s\" kind "
                 "\"%.30s\"",
                 ev->run_id, r->job, r->kind, ev->job, ev->kind);
        return -1;
    }
    r->n_events++;
    if (!r->min_ts || ev->ts_us < r->min_ts->ts_us)
        r->min_ts = ev;
    if (!r->max_ts || ev->ts_us > r->max_ts->ts_us)
        r->max_ts = ev;
    if (!r->max_seq || ev->seq > r->max_seq->seq)
        r->max_seq = ev;
    switch (ev->type) {
    case RT_EV_STARTED:
        if (!r->started || earlier(ev, r->started))
            r->started = ev;
        break;
    case RT_EV_PHASE:
        if (!r->phase || ev->seq > r->phase->seq)
            r->phase = ev;
        break;
    case RT_EV_PROGRESS:
        if (!r->counters || ev->seq > r->counters->seq)
            r->counters = ev;
        if (!r->progress || ev->seq > r->progress->seq)
            r->progress = ev;
        break;
    case RT_EV_PAUSED:
    case RT_EV_RESUMED:
        if (!r->pause || ev->seq > r->pause->seq)
            r->pause = ev;
        if (ev->type == RT_EV_PAUSED && (!r->paused_at || ev->ts_us > r->paused_at->ts_us))
            r->paused_at = ev;
        if (ev->type == RT_EV_RESUMED && (!r->resumed_at || ev->ts_us > r->resumed_at->ts_us))
            r->resumed_at = ev;
        break;
    case RT_EV_FINISHED:
        if (!r->finished || earlier(ev, r->finished))
            r->finished = ev;
        /* A finished event's counters are the run's final absolute values: applied like a last
         * progress event. */
        if (ev->counters && (!r->counters || ev->seq > r->counters->seq))
            r->counters = ev;
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
    for (size_t i = 0; i < a->cap; i++) {
        if (!a->slots[i].run_id[0])
            continue;
        if (o > 1)
            s[o++] = ',';
        memcpy(s + o, a->slots[i].run_id, 36);
        o += 36;
    }
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}
static int set_int(json_t *o, const char *k, int64_t v)
{
    return json_object_set_new(o, k, json_integer(v));
}
static int set_obj(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set(o, k, v) : 0;
}

json_t *rt_agg_runs_json(const rt_agg_t *a)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < a->cap; i++) {
        const run_acc_t *r = &a->slots[i];
        if (!r->run_id[0] || r->n_events == 0)
            continue;
        json_t *o = json_object();
        int bad = !o;
        bad = bad || set_str(o, "run_id", r->run_id) || set_str(o, "job", r->job) ||
              set_str(o, "kind", r->kind) || set_str(o, "min_ts", r->min_ts->ts) ||
              set_str(o, "max_ts", r->max_ts->ts) || set_int(o, "max_seq", r->max_seq->seq) ||
              set_str(o, "producer_host", r->max_seq->producer_host) ||
              set_int(o, "producer_pid", r->max_seq->producer_pid) ||
              set_str(o, "producer_lib", r->max_seq->producer_lib);
        if (!bad && r->started)
            bad = json_object_set_new(o, "has_started", json_true()) ||
                  set_str(o, "started_ts", r->started->ts) ||
                  set_obj(o, "start_counts", r->started->start_counts) ||
                  set_obj(o, "params", r->started->params) ||
                  set_obj(o, "planned", r->started->planned);
        if (!bad && r->phase)
            bad = set_int(o, "phase_seq", r->phase->seq) || set_str(o, "phase", r->phase->phase);
        if (!bad && r->counters)
            bad = set_int(o, "counters_seq", r->counters->seq) ||
                  (r->counters->counters ? set_obj(o, "counters", r->counters->counters)
                                         : json_object_set_new(o, "counters", json_object()));
        if (!bad && r->progress) {
            bad = set_int(o, "progress_seq", r->progress->seq);
            if (!bad && r->progress->has_memory)
                bad = json_object_set_new(o, "memory_percent",
                                          json_real(r->progress->memory_percent));
            if (!bad && r->progress->has_cpu)
                bad = json_object_set_new(o, "cpu_percent", json_real(r->progress->cpu_percent));
        }
        if (!bad && r->pause)
            bad = set_int(o, "pause_seq", r->pause->seq) ||
                  json_object_set_new(o, "paused", json_boolean(r->pause->type == RT_EV_PAUSED));
        if (!bad && r->paused_at)
            bad = set_str(o, "paused_at", r->paused_at->ts);
        if (!bad && r->resumed_at)
            bad = set_str(o, "resumed_at", r->resumed_at->ts);
        if (!bad && r->finished)
            bad = set_str(o, "finished_at", r->finished->ts) ||
                  set_str(o, "status", rt_run_status_name(r->finished->status)) ||
                  set_obj(o, "end_counts", r->finished->end_counts) ||
                  set_str(o, "error_message", r->finished->error_message) ||
                  set_obj(o, "error_details", r->finished->error_details);
        if (!bad && r->has_dropped)
            bad = set_int(o, "dropped_logs", r->dropped);
        if (bad) {
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
        if (json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
