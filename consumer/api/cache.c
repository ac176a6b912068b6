/* The report cache of GET /api/health and /api/jobs (cache.h, docs/api.md#report-cache). */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rt_buf.h"

/* At most RT_CACHE_SLOTS keys and RT_CACHE_BYTES of bodies. */
#define RT_CACHE_SLOTS 32
#define RT_CACHE_BYTES ((size_t)8 << 20) /* within the consumer's 64 MiB RSS budget */

/* A kept answer, shared by the cache and the responses being sent from it (reference counted,
 * so a hit is sent without copying ~180 KB twice: profile of hits under wrk, memmove and fresh
 * pages were most of the HTTP threads' own time). */
struct rt_cache_blob {
    atomic_size_t refs;
    size_t len;
    char data[]; /* len bytes and a NUL */
};

typedef struct cache_entry {
    char *key; /* NULL: free slot */
    void (*handler)(rt_req_t *);
    char **args;           /* the query: name, value (may be NULL), name, value, ... */
    size_t nargs;          /* pairs */
    rt_cache_blob_t *blob; /* NULL: no answer yet */
    const char *ctype;     /* a static string (handlers pass literals) */
    int64_t at_us;         /* monotonic time its computation started */
    int computing;         /* being computed; requests without an answer wait (single flight) */
    int64_t since_us;      /* ... since (monotonic) */
    int refresh;           /* the refresher thread should recompute it */
    uint64_t used;         /* LRU tick */
} cache_entry_t;

struct rt_cache {
    rt_api_t *api;
    int64_t ttl_us;   /* http_cache_ms */
    int64_t stale_us; /* http_statement_timeout_ms: how long a refresh may run */
    pthread_mutex_t mu;
    pthread_cond_t done_cv;    /* a computation finished */
    pthread_cond_t refresh_cv; /* an entry wants a refresh, or stopping */
    pthread_t refresher;
    int stopping;
    cache_entry_t slots[RT_CACHE_SLOTS];
    size_t bytes;
    uint64_t tick;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The cache key of a request (path and query) and a copy of its query, built together. */
typedef struct cache_key {
    rt_buf_t text;
    char **args;
    size_t nargs, argcap;
    int oom;
} cache_key_t;

/* Each part with its length in front, so no two different queries make the same key whatever
 * bytes their values hold ("a=b&c" vs a value "b&c"). */
static void key_part(cache_key_t *k, const char *s)
{
    if (!s) {
        rt_buf_adds(&k->text, "-:");
        return;
    }
    size_t len = strlen(s);
    rt_buf_addf(&k->text, "%zu:", len);
    rt_buf_add(&k->text, s, len);
}

static void free_args(char **args, size_t nargs)
{
    for (size_t i = 0; args && i < 2 * nargs; i++)
        free(args[i]);
    free(args);
}

static void key_free(cache_key_t *k)
{
    rt_buf_free(&k->text);
    free_args(k->args, k->nargs);
}

static enum MHD_Result key_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    cache_key_t *k = cls;
    key_part(k, key);
    key_part(k, value);
    if (k->oom)
        return MHD_YES;
    char **a = rt_grow(k->args, k->nargs, &k->argcap, 2 * sizeof *a, 4); /* key, value pairs */
    if (!a) {
        k->oom = 1;
        return MHD_YES;
    }
    k->args = a;
    char *kc = strdup(key), *vc = value ? strdup(value) : NULL;
    k->args[2 * k->nargs] = kc;
    k->args[2 * k->nargs + 1] = vc;
    k->nargs++;
    if (!kc || (value && !vc))
        k->oom = 1;
    return MHD_YES;
}

const char *rt_cache_blob_data(const rt_cache_blob_t *b, size_t *len)
{
    *len = b->len;
    return b->data;
}

void rt_cache_blob_unref(void *p)
{
    rt_cache_blob_t *b = p;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* Drops an entry's answer (mu held). */
static void cache_drop_blob(rt_cache_t *c, cache_entry_t *e)
{
    if (!e->blob)
        return;
    c->bytes -= e->blob->len;
    rt_cache_blob_unref(e->blob);
    e->blob = NULL;
}

/* Frees an entry's key, query and answer (not computing). */
static void cache_clear(rt_cache_t *c, cache_entry_t *e)
{
    cache_drop_blob(c, e);
    free(e->key);
    free_args(e->args, e->nargs);
    memset(e, 0, sizeof *e);
}

static cache_entry_t *cache_find(rt_cache_t *c, const char *key)
{
    for (size_t i = 0; i < RT_CACHE_SLOTS; i++)
        if (c->slots[i].key && strcmp(c->slots[i].key, key) == 0)
            return &c->slots[i];
    return NULL;
}

/* A slot for a new key: a free one, else the least recently used one not being computed
 * (cleared). NULL when every slot is being computed. */
static cache_entry_t *cache_slot(rt_cache_t *c)
{
    cache_entry_t *best = NULL;
    for (size_t i = 0; i < RT_CACHE_SLOTS; i++) {
        cache_entry_t *e = &c->slots[i];
        if (!e->key)
            return e;
        if (!e->computing && (!best || e->used < best->used))
            best = e;
    }
    if (best)
        cache_clear(c, best);
    return best;
}

/* Ends e's computation: keeps a 200 answer of req as e's (evicting least recently used answers
 * while the bodies would exceed RT_CACHE_BYTES; an error or an answer that does not fit keeps
 * the previous one) and wakes the requests waiting for it. Called with mu held. */
static void cache_done(rt_cache_t *c, cache_entry_t *e, const rt_req_t *req, int64_t at_us)
{
    e->computing = 0;
    pthread_cond_broadcast(&c->done_cv);
    if (req->status != 200 || !req->body || req->body_len > RT_CACHE_BYTES / 4)
        return;
    rt_cache_blob_t *b = malloc(sizeof *b + req->body_len + 1);
    if (!b)
        return;
    atomic_init(&b->refs, 1); /* the entry's */
    b->len = req->body_len;
    memcpy(b->data, req->body, req->body_len + 1);
    cache_drop_blob(c, e);
    while (c->bytes + b->len > RT_CACHE_BYTES) {
        cache_entry_t *old = NULL;
        for (size_t i = 0; i < RT_CACHE_SLOTS; i++) {
            cache_entry_t *o = &c->slots[i];
            if (o != e && o->blob && !o->computing && (!old || o->used < old->used))
                old = o;
        }
        if (!old) {
            free(b);
            return;
        }
        cache_clear(c, old);
    }
    e->blob = b;
    e->ctype = req->ctype;
    e->at_us = at_us;
    c->bytes += b->len;
}

/* The refresher thread: recomputes the entries requests marked, so that clients of a report
 * in steady demand never wait for it (a request computing it would block its HTTP worker
 * thread, and every connection that thread serves, for the whole computation). */
static void *cache_refresher(void *arg)
{
    rt_cache_t *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        cache_entry_t *e = NULL;
        for (size_t i = 0; i < RT_CACHE_SLOTS && !e; i++)
            if (c->slots[i].key && c->slots[i].refresh && !c->slots[i].computing)
                e = &c->slots[i];
        if (!e) {
            pthread_cond_wait(&c->refresh_cv, &c->mu);
            continue;
        }
        e->refresh = 0;
        e->computing = 1; /* so it is neither evicted nor its query freed meanwhile */
        e->since_us = mono_us();
        rt_req_t req = {.api = c->api, .args = e->args, .nargs = e->nargs, .age_s = -1};
        void (*h)(rt_req_t *) = e->handler;
        pthread_mutex_unlock(&c->mu);
        int64_t t0 = mono_us();
        h(&req);
        rt_req_release_conn(&req);
        pthread_mutex_lock(&c->mu);
        cache_done(c, e, &req, t0);
        free(req.body);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

rt_cache_t *rt_cache_new(rt_api_t *api, char *err, size_t errsize)
{
    rt_cache_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errsize, "http api: out of memory");
        return NULL;
    }
    c->api = api;
    c->ttl_us = (int64_t)api->cfg->http_cache_ms * 1000;
    c->stale_us = (int64_t)api->cfg->http_statement_timeout_ms * 1000;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* waits survive wall-clock steps */
    pthread_cond_init(&c->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&c->refresh_cv, NULL);
    int e = pthread_create(&c->refresher, NULL, cache_refresher, c);
    if (e) {
        snprintf(err, errsize, "http api: cannot start the cache thread: %s", strerror(e));
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->done_cv);
        pthread_cond_destroy(&c->refresh_cv);
        free(c);
        return NULL;
    }
    return c;
}

void rt_cache_free(rt_cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_signal(&c->refresh_cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->refresher, NULL);
    for (size_t i = 0; i < RT_CACHE_SLOTS; i++)
        cache_clear(c, &c->slots[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->done_cv);
    pthread_cond_destroy(&c->refresh_cv);
    free(c);
}

/* Hands e's kept answer to req (a reference; mu held) and asks for a refresh when due. */
static void cache_hit(rt_cache_t *c, cache_entry_t *e, rt_req_t *req, int64_t age, int refreshing)
{
    if (age >= c->ttl_us / 2 && !refreshing) {
        e->refresh = 1;
        pthread_cond_signal(&c->refresh_cv);
    }
    e->used = ++c->tick;
    atomic_fetch_add(&e->blob->refs, 1);
    req->blob = e->blob;
    req->status = 200;
    req->ctype = e->ctype;
    req->age_s = (long)(age / 1000000);
}

/* Answers req with handler h through the cache:
 * - an answer less than the TTL old is copied; past half its TTL the refresher thread is asked
 *   to recompute it, and until that is done clients get the old answer, up to twice the TTL,
 *   or the statement timeout past the TTL while the refresh runs (so a report in steady demand
 *   is never waited for, even when the machine is so busy that recomputing it takes longer
 *   than the TTL);
 * - else, when another request is computing the answer, waits for that one (a burst of clients
 *   that miss at once costs one computation), at most twice the statement timeout;
 * - else runs h itself and keeps a 200 answer. Errors are never kept. */
void rt_cache_serve(rt_cache_t *c, rt_req_t *req, const char *path, void (*h)(rt_req_t *))
{
    cache_key_t key = {0};
    cache_entry_t *mine = NULL;
    int waited = 0;
    key_part(&key, path);
    MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, key_arg, &key);
    if (key.oom || key.text.oom) {
        key_free(&key);
        h(req); /* no cache without memory for its key */
        return;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 2 * (time_t)(c->stale_us / 1000000 + 1);

    pthread_mutex_lock(&c->mu);
    for (;;) {
        cache_entry_t *e = cache_find(c, key.text.data);
        int64_t now = mono_us(), age = e && e->blob ? now - e->at_us : -1;
        int refreshing = e && (e->computing || e->refresh);
        /* Past the TTL the old answer still serves (and asks for a refresh) up to twice the
         * TTL: a refresh that took longer than half the TTL stores an answer already that old,
         * and the request that then computed it in the foreground would stall its thread. */
        if (age >= 0 && (age < 2 * c->ttl_us || (refreshing && age < c->ttl_us + c->stale_us))) {
            cache_hit(c, e, req, age, refreshing);
            pthread_mutex_unlock(&c->mu);
            key_free(&key);
            return;
        }
        if (e && e->computing && (!e->blob || now - e->since_us < c->stale_us)) {
            if (pthread_cond_timedwait(&c->done_cv, &c->mu, &deadline) == ETIMEDOUT)
                break; /* compute it without waiting longer */
            waited = 1;
            continue;
        }
        if (waited || (e && e->computing))
            break; /* that computation kept nothing (an error, too large), or has been running
                    * for longer than the statement timeout (database down?): no queue */
        if (!e && (e = cache_slot(c)) != NULL) {
            e->key = rt_buf_take(&key.text, NULL);
            e->handler = h;
            e->args = key.args;
            e->nargs = key.nargs;
            key.args = NULL;
            key.nargs = 0;
        }
        if (e) {
            e->computing = 1;
            e->since_us = now;
            e->refresh = 0;
            e->used = ++c->tick;
            mine = e;
        }
        break;
    }
    pthread_mutex_unlock(&c->mu);
    key_free(&key);

    int64_t t0 = mono_us();
    h(req);
    if (mine) {
        pthread_mutex_lock(&c->mu);
        cache_done(c, mine, req, t0);
        pthread_mutex_unlock(&c->mu);
    }
}
