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
    char *txt; /* rt_agg_runs_text's buffer, kept across batches */
    size_t txt_len, txt_cap;
    int txt_oom;
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
    free(a->txt);
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
        if (ev->counters.p && (!r->counters || ev->seq > r->counters->seq))
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

/* ---- runs text ---- */

/* Room for n more bytes plus a NUL; 0, or -1 (sets txt_oom) when out of memory. */
static int reserve(rt_agg_t *a, size_t n)
{
    if (a->txt_oom)
        return -1;
    if (a->txt_len + n + 1 > a->txt_cap) {
        size_t nc = a->txt_cap ? a->txt_cap : 16384;
        while (nc < a->txt_len + n + 1)
            nc *= 2;
        char *np = realloc(a->txt, nc);
        if (!np) {
            a->txt_oom = 1;
            return -1;
        }
        a->txt = np;
        a->txt_cap = nc;
    }
    return 0;
}

static void put(rt_agg_t *a, const char *s, size_t n)
{
    if (reserve(a, n))
        return;
    memcpy(a->txt + a->txt_len, s, n);
    a->txt_len += n;
    a->txt[a->txt_len] = '\0';
}

static void put_lit(rt_agg_t *a, const char *s)
{
    put(a, s, strlen(s));
}

/* ,"key": */
static void put_key(rt_agg_t *a, const char *key)
{
    char b[64];
    int n = snprintf(b, sizeof b, ",\"%s\":", key);
    put(a, b, (size_t)n);
}

/* A JSON string literal of the NUL-terminated s (the decoder's unescaped, valid UTF-8 text). */
static void put_jstr(rt_agg_t *a, const char *key, const char *s)
{
    if (!s)
        return;
    put_key(a, key);
    size_t n = strlen(s);
    if (a->txt_oom)
        return;
    /* Write into the room there is; when it was too short, grow to the size it said and
     * write again. */
    size_t need = rt_json_escape(s, n, a->txt + a->txt_len, a->txt_cap - a->txt_len);
    if (need + 1 > a->txt_cap - a->txt_len) {
        if (reserve(a, need))
            return;
        need = rt_json_escape(s, n, a->txt + a->txt_len, a->txt_cap - a->txt_len);
    }
    a->txt_len += need;
}

static void put_int(rt_agg_t *a, const char *key, int64_t v)
{
    char b[32];
    put_key(a, key);
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    put(a, b, (size_t)n);
}

static void put_real(rt_agg_t *a, const char *key, double v)
{
    char b[40];
    put_key(a, key);
    int n = snprintf(b, sizeof b, "%.17g", v);
    put(a, b, (size_t)n);
}

static void put_obj(rt_agg_t *a, const char *key, const rt_json_text_t *j)
{
    if (!j->p)
        return;
    put_key(a, key);
    put(a, j->p, j->n);
}

const char *rt_agg_runs_text(rt_agg_t *a, size_t *nruns)
{
    size_t count = 0;
    a->txt_len = 0;
    a->txt_oom = 0;
    put_lit(a, "[");
    for (size_t i = 0; i < a->cap; i++) {
        const run_acc_t *r = &a->slots[i];
        if (!r->run_id[0] || r->n_events == 0)
            continue;
        /* run_id first so that every later member can start with a comma. */
        put_lit(a, count++ ? ",{\"run_id\":\"" : "{\"run_id\":\"");
        put(a, r->run_id, strlen(r->run_id));
        put_lit(a, "\"");
        put_jstr(a, "job", r->job);
        put_jstr(a, "kind", r->kind);
        put_jstr(a, "min_ts", r->min_ts->ts);
        put_jstr(a, "max_ts", r->max_ts->ts);
        put_int(a, "max_seq", r->max_seq->seq);
        put_jstr(a, "producer_host", r->max_seq->producer_host);
        put_int(a, "producer_pid", r->max_seq->producer_pid);
        put_jstr(a, "producer_lib", r->max_seq->producer_lib);
        if (r->started) {
            put_lit(a, ",\"has_started\":true");
            put_jstr(a, "started_ts", r->started->ts);
            put_obj(a, "start_counts", &r->started->start_counts);
            put_obj(a, "params", &r->started->params);
            put_obj(a, "planned", &r->started->planned);
        }
        if (r->phase) {
            put_int(a, "phase_seq", r->phase->seq);
            put_jstr(a, "phase", r->phase->phase);
        }
        if (r->counters) {
            put_int(a, "counters_seq", r->counters->seq);
            if (r->counters->counters.p)
                put_obj(a, "counters", &r->counters->counters);
            else
                put_lit(a, ",\"counters\":{}");
        }
        if (r->progress) {
            put_int(a, "progress_seq", r->progress->seq);
            if (r->progress->has_memory)
                put_real(a, "memory_percent", r->progress->memory_percent);
            if (r->progress->has_cpu)
                put_real(a, "cpu_percent", r->progress->cpu_percent);
        }
        if (r->pause) {
            put_int(a, "pause_seq", r->pause->seq);
            put_lit(a, r->pause->type == RT_EV_PAUSED ? ",\"paused\":true" : ",\"paused\":false");
        }
        if (r->paused_at)
            put_jstr(a, "paused_at", r->paused_at->ts);
        if (r->resumed_at)
            put_jstr(a, "resumed_at", r->resumed_at->ts);
        if (r->finished) {
            put_jstr(a, "finished_at", r->finished->ts);
            put_jstr(a, "status", rt_run_status_name(r->finished->status));
            put_obj(a, "end_counts", &r->finished->end_counts);
            put_jstr(a, "error_message", r->finished->error_message);
            put_obj(a, "error_details", &r->finished->error_details);
        }
        if (r->has_dropped)
            put_int(a, "dropped_logs", r->dropped);
        put_lit(a, "}");
    }
    put_lit(a, "]");
    if (a->txt_oom)
        return NULL;
    *nruns = count;
    return a->txt;
}
