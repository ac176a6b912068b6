/* The HTTP server: libmicrohttpd daemon, routing, request limits, JSON errors and the
 * PostgreSQL connection pool the handlers share. */
#include "http_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_runs.h"
#include "health.h"
#include "db/maintenance.h"
#include "prom.h"
#include "rt_time.h"
#include "api/web/web_assets.h"

typedef struct pool_slot {
    PGconn *conn;
    int busy;
} pool_slot_t;

/* The report cache (docs/api.md#report-cache): the last 200 answer per route + query string,
 * reused for cache_ttl_ms and recomputed ahead of time by a refresher thread while clients ask
 * for it. A bounded table: at most RT_CACHE_SLOTS keys and RT_CACHE_BYTES of bodies, the least
 * recently used evicted first. */
#define RT_CACHE_SLOTS 32
#define RT_CACHE_BYTES ((size_t)8 << 20) /* within the consumer's 64 MiB RSS budget */

typedef struct rt_req rt_req_t;

/* A kept answer, shared by the cache and the responses being sent from it (reference counted,
 * so a hit is sent without copying ~180 KB twice: profile of hits under wrk, memmove and fresh
 * pages were most of the HTTP threads' own time). */
typedef struct cache_blob {
    atomic_size_t refs;
    size_t len;
    char data[]; /* len bytes and a NUL */
} cache_blob_t;

typedef struct cache_entry {
    char *key; /* NULL: free slot */
    void (*handler)(rt_req_t *);
    char **args;        /* the query: name, value (may be NULL), name, value, ... */
    size_t nargs;       /* pairs */
    cache_blob_t *blob; /* NULL: no answer yet */
    const char *ctype;  /* a static string (handlers pass literals) */
    int64_t at_us;      /* monotonic time its computation started */
    int computing;      /* being computed; requests without an answer wait (single flight) */
    int64_t since_us;   /* ... since (monotonic) */
    int refresh;        /* the refresher thread should recompute it */
    uint64_t used;      /* LRU tick */
} cache_entry_t;

struct rt_api {
    rt_api_conf_t conf; /* strings below point into this struct's own copies */
    char *listen_addr, *pg_dsn, *bearer_token, *display_tz;
    rt_api_job_interval_t *intervals;
    struct sockaddr_in addr;
    struct MHD_Daemon *mhd;
    rt_maint_t *maint;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    pool_slot_t *slots;
    unsigned nslots;
    pthread_mutex_t cache_mu;
    pthread_cond_t cache_cv;   /* a computation finished */
    pthread_cond_t refresh_cv; /* an entry wants a refresh, or stopping */
    pthread_t refresher;
    int refresher_started, stopping;
    cache_entry_t cache[RT_CACHE_SLOTS];
    size_t cache_bytes;
    uint64_t cache_tick;
};

struct rt_req {
    rt_api_t *api;
    struct MHD_Connection *mhd; /* NULL: a refresh of a cached report, args below */
    char *const *args;          /* ... its query (cache_entry_t's args, nargs pairs) */
    size_t nargs;
    pool_slot_t *slot;
    unsigned status;
    char *body;
    size_t body_len;
    const char *ctype;
    const char *allow; /* Allow header for 405 */
    size_t upload_bytes;
    int too_large;
    const rt_web_asset_t *asset; /* a dashboard file to send instead of body */
    int not_modified;            /* ... as 304: the client's If-None-Match has its ETag */
    int cacheable;               /* a route answered through the report cache */
    cache_blob_t *blob;          /* the answer is this kept one (a reference), not body */
    long age_s;                  /* >= 0: answered from the cache, this many seconds old */
};

/* Every response carries a strict Content-Security-Policy: the dashboard loads only its own
 * scripts, styles and icon and talks only to this server (no inline code, no CDN, no frames). */
static const char csp_header[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void rt_api_conf_defaults(rt_api_conf_t *c)
{
    static const unsigned windows[] = {12, 24, 48, 72};
    memset(c, 0, sizeof *c);
    c->listen_addr = "127.0.0.1";
    c->listen_port = 8080;
    c->pool_size = 4;
    c->threads = 4;
    c->max_connections = 64;
    c->connection_timeout_s = 10;
    c->statement_timeout_ms = 5000;
    c->cache_ttl_ms = 1000;
    c->max_body_bytes = 16384;
    c->max_url_bytes = 4096;
    c->stale_after_s = 300;
    c->stale_close_after_s = 3600;
    c->maintenance_interval_s = 30;
    memcpy(c->health.windows, windows, sizeof windows);
    c->health.nwindows = sizeof windows / sizeof windows[0];
    c->health.success_healthy = 85;
    c->health.success_critical = 70;
    c->health.freshness_healthy = 70;
    c->health.freshness_critical = 50;
    c->health.failures_alert_24h = 5;
    c->health.no_success_alert_s = 86400;
    c->health.last_run_alert_s = 5400;
    c->health.interval_sample = 20;
    c->retention.runs_days = 90;
    c->retention.run_results_days = 90;
    c->retention.discovery_runs_days = 90;
    c->retention.dead_letters_days = 90;
    c->retention.batch_rows = 5000;
}

int rt_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s || *s == ' ' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int rt_api_token_equal(const char *given, const char *expected)
{
    if (!given || !expected)
        return 0;
    size_t gl = strlen(given), el = strlen(expected);
    /* Walk the expected token's length whatever was given, so timing leaks lengths only. */
    unsigned char diff = (unsigned char)(gl != el);
    for (size_t i = 0; i < el; i++) {
        unsigned char g = i < gl ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)expected[i]);
    }
    return diff == 0;
}

int rt_api_check_bearer(const rt_api_t *api, const char *authorization)
{
    if (!api || !api->bearer_token || !*api->bearer_token || !authorization)
        return 0;
    if (strncmp(authorization, "Bearer ", 7) != 0)
        return 0;
    return rt_api_token_equal(authorization + 7, api->bearer_token);
}

unsigned rt_api_port(const rt_api_t *api)
{
    if (!api || !api->mhd)
        return 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/* ---------- PostgreSQL ---------- */

PGconn *rt_api_pg_connect(const char *dsn, int read_only, unsigned statement_timeout_ms, char *err,
                          size_t errsize)
{
    /* Keywords before dbname are defaults the DSN may override (libpq keeps the last value). */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"5", read_only ? "runtrack-api" : "runtrack-maintenance", dsn,
                                NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        snprintf(err, errsize, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(conn);
        snprintf(err, errsize, "cannot connect to PostgreSQL: %.*s", (int)strcspn(m, "\n"), m);
        PQfinish(conn);
        return NULL;
    }
    char stmt[64];
    snprintf(stmt, sizeof stmt, "%u", statement_timeout_ms);
    const char *const params[] = {stmt, read_only ? "on" : "off"};
    PGresult *r = PQexecParams(conn,
                               "SELECT set_config('TimeZone', 'UTC', false),"
                               " set_config('statement_timeout', $1, false),"
                               " set_config('default_transaction_read_only', $2, false)",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errsize, "cannot set up PostgreSQL session: %.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        PQfinish(conn);
        return NULL;
    }
    PQclear(r);
    return conn;
}

/* Takes a free pool slot, waiting up to the statement timeout; (re)connects it if needed.
 * Returns NULL and sets a 503 response when no connection can be had. */
static pool_slot_t *pool_acquire(rt_req_t *req)
{
    rt_api_t *api = req->api;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += api->conf.statement_timeout_ms / 1000 + 1;
    pool_slot_t *slot = NULL;
    pthread_mutex_lock(&api->pool_mu);
    for (;;) {
        for (unsigned i = 0; i < api->nslots; i++)
            if (!api->slots[i].busy) {
                slot = &api->slots[i];
                break;
            }
        if (slot)
            break;
        if (pthread_cond_timedwait(&api->pool_cv, &api->pool_mu, &deadline) == ETIMEDOUT)
            break;
    }
    if (slot)
        slot->busy = 1;
    pthread_mutex_unlock(&api->pool_mu);
    if (!slot) {
        rt_req_error(req, 503, "busy", "all database connections are busy");
        return NULL;
    }
    if (slot->conn && PQstatus(slot->conn) != CONNECTION_OK) {
        PQfinish(slot->conn);
        slot->conn = NULL;
    }
    if (!slot->conn) {
        char err[256];
        slot->conn =
            rt_api_pg_connect(api->pg_dsn, 1, api->conf.statement_timeout_ms, err, sizeof err);
        if (!slot->conn) {
            pthread_mutex_lock(&api->pool_mu);
            slot->busy = 0;
            pthread_cond_signal(&api->pool_cv);
            pthread_mutex_unlock(&api->pool_mu);
            rt_req_error(req, 503, "database_unavailable", "%s", err);
            return NULL;
        }
    }
    return slot;
}

static void pool_release(rt_api_t *api, pool_slot_t *slot)
{
    if (!slot)
        return;
    /* A connection left inside a transaction or broken is not handed to the next request. */
    if (slot->conn && (PQstatus(slot->conn) != CONNECTION_OK ||
                       PQtransactionStatus(slot->conn) != PQTRANS_IDLE)) {
        PQfinish(slot->conn);
        slot->conn = NULL;
    }
    pthread_mutex_lock(&api->pool_mu);
    slot->busy = 0;
    pthread_cond_signal(&api->pool_cv);
    pthread_mutex_unlock(&api->pool_mu);
}

PGconn *rt_req_conn(rt_req_t *req)
{
    if (!req->slot)
        req->slot = pool_acquire(req);
    return req->slot ? req->slot->conn : NULL;
}

PGresult *rt_req_exec(rt_req_t *req, const char *sql, int nparams, const char *const *params)
{
    PGconn *conn = rt_req_conn(req);
    if (!conn)
        return NULL;
    PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* The primary message alone ("invalid byte sequence ..."), without libpq's "ERROR:  ". */
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
    int len = (int)strcspn(msg, "\n");
    if (PQstatus(conn) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0)
        rt_req_error(req, 503, "database_unavailable", "database unreachable: %.*s", len, msg);
    else if (strcmp(state, "57014") == 0)
        rt_req_error(req, 503, "database_timeout", "query took too long: %.*s", len, msg);
    else if (strncmp(state, "22", 2) == 0)
        rt_req_error(req, 400, "bad_parameter", "%.*s", len, msg);
    else
        rt_req_error(req, 500, "database_error", "%.*s", len, msg);
    PQclear(r);
    return NULL;
}

/* ---------- request helpers ---------- */

static void req_set_body(rt_req_t *req, unsigned status, const char *ctype, char *body)
{
    free(req->body);
    req->status = status;
    req->ctype = ctype;
    req->body = body;
    req->body_len = body ? strlen(body) : 0;
}

void rt_req_json(rt_req_t *req, unsigned status, void *json_body)
{
    json_t *j = json_body;
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    if (!s) {
        req_set_body(req, 500, "application/json", NULL);
        return;
    }
    req_set_body(req, status, "application/json", s);
}

void rt_req_error(rt_req_t *req, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt_req_json(req, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void rt_req_text(rt_req_t *req, unsigned status, const char *content_type, char *body)
{
    req_set_body(req, status, content_type, body);
}

const char *rt_req_param(rt_req_t *req, const char *name)
{
    if (!req->mhd) {
        for (size_t i = 0; i < req->nargs; i++)
            if (strcmp(req->args[2 * i], name) == 0)
                return req->args[2 * i + 1];
        return NULL;
    }
    return MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, name);
}

const rt_api_conf_t *rt_req_conf(rt_req_t *req)
{
    return &req->api->conf;
}

rt_metrics_t *rt_req_metrics(rt_req_t *req)
{
    return req->api->conf.metrics;
}

typedef struct param_check {
    const char *const *allowed;
    const char *bad;
    unsigned count;
    size_t total;
} param_check_t;

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    param_check_t *pc = cls;
    pc->count++;
    pc->total += strlen(key) + (value ? strlen(value) : 0) + 2;
    if (!pc->allowed || pc->bad)
        return MHD_YES;
    for (const char *const *a = pc->allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    pc->bad = key;
    return MHD_YES;
}

int rt_req_allow_params(rt_req_t *req, const char *const *allowed)
{
    param_check_t pc = {allowed, NULL, 0, 0};
    if (req->mhd)
        MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, check_param, &pc);
    else
        for (size_t i = 0; i < req->nargs; i++)
            check_param(&pc, MHD_GET_ARGUMENT_KIND, req->args[2 * i], req->args[2 * i + 1]);
    if (pc.bad) {
        rt_req_error(req, 400, "bad_parameter", "unknown parameter '%.64s'", pc.bad);
        return -1;
    }
    return 0;
}

int rt_req_long(rt_req_t *req, const char *name, long min, long max, long *out)
{
    const char *v = rt_req_param(req, name);
    if (!v)
        return 0;
    if (rt_parse_long(v, min, max, out) != 0) {
        rt_req_error(req, 400, "bad_parameter", "%s must be an integer from %ld to %ld", name, min,
                     max);
        return -1;
    }
    return 0;
}

int rt_req_time(rt_req_t *req, const char *name, const char **out_text)
{
    const char *v = rt_req_param(req, name);
    int64_t us;
    if (!v)
        return 0;
    if (rt_time_parse(v, &us) != 0) {
        rt_req_error(req, 400, "bad_parameter",
                     "%s must be an RFC 3339 time like 2026-11-25T11:15:48Z", name);
        return -1;
    }
    *out_text = v;
    return 0;
}

/* ---------- built-in endpoints ---------- */

static void handle_healthz(rt_req_t *req)
{
    rt_req_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void handle_readyz(rt_req_t *req)
{
    PGresult *r = rt_req_exec(req, "SELECT 1", 0, NULL);
    if (!r)
        return; /* 503 set */
    PQclear(r);
    const rt_api_conf_t *c = &req->api->conf;
    if (c->ready_cb) {
        char why[256] = "";
        if (!c->ready_cb(c->ready_arg, why, sizeof why)) {
            rt_req_error(req, 503, "not_ready", "consumer not ready: %s",
                         why[0] ? why : "no reason given");
            return;
        }
    }
    rt_req_json(req, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

/* Settings the dashboard needs: the fixed display time zone (null = the viewer's own zone). */
static void handle_config(rt_req_t *req)
{
    const rt_api_conf_t *c = &req->api->conf;
    const char *tz = c->display_tz && *c->display_tz ? c->display_tz : NULL;
    rt_req_json(
        req, 200,
        json_pack("{s:s?,s:f}", "display_time_zone", tz, "stale_after_seconds", c->stale_after_s));
}

int rt_api_valid_tz(const char *tz)
{
    if (!tz || !*tz)
        return 1; /* unset: the viewer's zone */
    size_t n = strlen(tz);
    if (n > 64 || tz[0] == '/' || tz[n - 1] == '/' || strstr(tz, ".."))
        return 0;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return 0;
    return 1;
}

/* The dashboard: "/" and "/index.html" are the page, "/assets/<file>" its scripts and styles.
 * Returns the embedded file, or NULL when path is not one of them. */
static const rt_web_asset_t *find_asset(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < rt_web_assets_count; i++)
        if (strcmp(rt_web_assets[i].path, path) == 0)
            return &rt_web_assets[i];
    return NULL;
}

static void handle_metrics(rt_req_t *req)
{
    /* Metrics must render even when the database is down, so no 503 here. */
    PGconn *conn = NULL;
    if (!req->slot)
        req->slot = pool_acquire(req);
    if (req->slot)
        conn = req->slot->conn;
    char *text = NULL;
    if (rt_metrics_render(req->api->conf.metrics, conn, req->api->conf.stale_after_s, &text) != 0) {
        rt_req_error(req, 500, "internal", "out of memory");
        return;
    }
    rt_req_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

/* ---------- report cache ---------- */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The cache key of a request (path and query) and a copy of its query, built together. */
typedef struct key_buf {
    char *p;
    size_t len, cap;
    char **args;
    size_t nargs, argcap;
    int oom;
} key_buf_t;

static void key_add(key_buf_t *k, const char *s, size_t n)
{
    if (k->oom)
        return;
    if (k->len + n + 1 > k->cap) {
        size_t cap = k->cap ? k->cap : 256;
        while (cap < k->len + n + 1)
            cap *= 2;
        char *p = realloc(k->p, cap);
        if (!p) {
            k->oom = 1;
            return;
        }
        k->p = p;
        k->cap = cap;
    }
    memcpy(k->p + k->len, s, n);
    k->len += n;
    k->p[k->len] = '\0';
}

/* Each part with its length in front, so no two different queries make the same key whatever
 * bytes their values hold ("a=b&c" vs a value "b&c"). */
static void key_part(key_buf_t *k, const char *s)
{
    char n[24];
    size_t len = s ? strlen(s) : 0;
    int w = s ? snprintf(n, sizeof n, "%zu:", len) : snprintf(n, sizeof n, "-:");
    key_add(k, n, (size_t)w);
    if (s)
        key_add(k, s, len);
}

static void free_args(char **args, size_t nargs)
{
    for (size_t i = 0; args && i < 2 * nargs; i++)
        free(args[i]);
    free(args);
}

static enum MHD_Result key_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    key_buf_t *k = cls;
    key_part(k, key);
    key_part(k, value);
    if (k->oom)
        return MHD_YES;
    if (k->nargs == k->argcap) {
        size_t cap = k->argcap ? 2 * k->argcap : 4;
        char **a = realloc(k->args, 2 * cap * sizeof *a);
        if (!a) {
            k->oom = 1;
            return MHD_YES;
        }
        k->args = a;
        k->argcap = cap;
    }
    char *kc = strdup(key), *vc = value ? strdup(value) : NULL;
    k->args[2 * k->nargs] = kc;
    k->args[2 * k->nargs + 1] = vc;
    k->nargs++;
    if (!kc || (value && !vc))
        k->oom = 1;
    return MHD_YES;
}

/* Drops a reference to a kept answer (MHD calls it when a response sent from it is done). */
static void blob_unref(void *p)
{
    cache_blob_t *b = p;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* Drops an entry's answer (cache_mu held). */
static void cache_drop_blob(rt_api_t *api, cache_entry_t *e)
{
    if (!e->blob)
        return;
    api->cache_bytes -= e->blob->len;
    blob_unref(e->blob);
    e->blob = NULL;
}

/* Frees an entry's key, query and answer (not computing). */
static void cache_clear(rt_api_t *api, cache_entry_t *e)
{
    cache_drop_blob(api, e);
    free(e->key);
    free_args(e->args, e->nargs);
    memset(e, 0, sizeof *e);
}

static cache_entry_t *cache_find(rt_api_t *api, const char *key)
{
    for (size_t i = 0; i < RT_CACHE_SLOTS; i++)
        if (api->cache[i].key && strcmp(api->cache[i].key, key) == 0)
            return &api->cache[i];
    return NULL;
}

/* A slot for a new key: a free one, else the least recently used one not being computed
 * (cleared). NULL when every slot is being computed. */
static cache_entry_t *cache_slot(rt_api_t *api)
{
    cache_entry_t *best = NULL;
    for (size_t i = 0; i < RT_CACHE_SLOTS; i++) {
        cache_entry_t *e = &api->cache[i];
        if (!e->key)
            return e;
        if (!e->computing && (!best || e->used < best->used))
            best = e;
    }
    if (best)
        cache_clear(api, best);
    return best;
}

/* Ends e's computation: keeps a 200 answer of req as e's (evicting least recently used answers
 * while the bodies would exceed RT_CACHE_BYTES; an error or an answer that does not fit keeps
 * the previous one) and wakes the requests waiting for it. Called with cache_mu held. */
static void cache_done(rt_api_t *api, cache_entry_t *e, const rt_req_t *req, int64_t at_us)
{
    e->computing = 0;
    pthread_cond_broadcast(&api->cache_cv);
    if (req->status != 200 || !req->body || req->body_len > RT_CACHE_BYTES / 4)
        return;
    cache_blob_t *b = malloc(sizeof *b + req->body_len + 1);
    if (!b)
        return;
    atomic_init(&b->refs, 1); /* the entry's */
    b->len = req->body_len;
    memcpy(b->data, req->body, req->body_len + 1);
    cache_drop_blob(api, e);
    while (api->cache_bytes + b->len > RT_CACHE_BYTES) {
        cache_entry_t *old = NULL;
        for (size_t i = 0; i < RT_CACHE_SLOTS; i++) {
            cache_entry_t *c = &api->cache[i];
            if (c != e && c->blob && !c->computing && (!old || c->used < old->used))
                old = c;
        }
        if (!old) {
            free(b);
            return;
        }
        cache_clear(api, old);
    }
    e->blob = b;
    e->ctype = req->ctype;
    e->at_us = at_us;
    api->cache_bytes += b->len;
}

/* The refresher thread: recomputes the entries requests marked, so that clients of a report
 * in steady demand never wait for it (a request computing it would block its HTTP worker
 * thread, and every connection that thread serves, for the whole computation). */
static void *cache_refresher(void *arg)
{
    rt_api_t *api = arg;
    pthread_mutex_lock(&api->cache_mu);
    while (!api->stopping) {
        cache_entry_t *e = NULL;
        for (size_t i = 0; i < RT_CACHE_SLOTS && !e; i++)
            if (api->cache[i].key && api->cache[i].refresh && !api->cache[i].computing)
                e = &api->cache[i];
        if (!e) {
            pthread_cond_wait(&api->refresh_cv, &api->cache_mu);
            continue;
        }
        e->refresh = 0;
        e->computing = 1; /* so it is neither evicted nor its query freed meanwhile */
        e->since_us = mono_us();
        rt_req_t req = {.api = api, .args = e->args, .nargs = e->nargs, .age_s = -1};
        void (*h)(rt_req_t *) = e->handler;
        pthread_mutex_unlock(&api->cache_mu);
        int64_t t0 = mono_us();
        h(&req);
        pool_release(api, req.slot);
        pthread_mutex_lock(&api->cache_mu);
        cache_done(api, e, &req, t0);
        free(req.body);
    }
    pthread_mutex_unlock(&api->cache_mu);
    return NULL;
}

/* Answers req with handler h through the cache:
 * - an answer less than cache_ttl_ms old is copied; past half its TTL the refresher thread is
 *   asked to recompute it, and until that is done clients get the old answer, up to twice the
 *   TTL, or statement_timeout_ms past the TTL while the refresh runs (so a report in steady
 *   demand is never waited for, even when the machine is so busy that recomputing it takes
 *   longer than the TTL);
 * - else, when another request is computing the answer, waits for that one (a burst of clients
 *   that miss at once costs one computation), at most twice the statement timeout;
 * - else runs h itself and keeps a 200 answer. Errors are never kept. */
static void cache_serve(rt_req_t *req, const char *path, void (*h)(rt_req_t *))
{
    rt_api_t *api = req->api;
    const int64_t ttl_us = (int64_t)api->conf.cache_ttl_ms * 1000;
    const int64_t stale_us = (int64_t)api->conf.statement_timeout_ms * 1000;
    key_buf_t key = {0};
    cache_entry_t *mine = NULL;
    int waited = 0;
    key_part(&key, path);
    MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, key_arg, &key);
    if (key.oom) {
        free(key.p);
        free_args(key.args, key.nargs);
        h(req); /* no cache without memory for its key */
        return;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 2 * (time_t)(api->conf.statement_timeout_ms / 1000 + 1);

    pthread_mutex_lock(&api->cache_mu);
    for (;;) {
        cache_entry_t *e = cache_find(api, key.p);
        int64_t now = mono_us(), age = e && e->blob ? now - e->at_us : -1;
        int refreshing = e && (e->computing || e->refresh), ahead = api->refresher_started;
        /* Past the TTL the old answer still serves (and asks for a refresh) up to twice the
         * TTL: a refresh that took longer than half the TTL stores an answer already that old,
         * and the request that then computed it in the foreground would stall its thread. */
        if (age >= 0 && (age < ttl_us || (refreshing && age < ttl_us + stale_us) ||
                         (ahead && age < 2 * ttl_us))) {
            if (age >= ttl_us / 2 && !refreshing && ahead) {
                e->refresh = 1;
                pthread_cond_signal(&api->refresh_cv);
            }
            e->used = ++api->cache_tick;
            atomic_fetch_add(&e->blob->refs, 1);
            req->blob = e->blob;
            req->status = 200;
            req->ctype = e->ctype;
            req->age_s = (long)(age / 1000000);
            pthread_mutex_unlock(&api->cache_mu);
            free(key.p);
            free_args(key.args, key.nargs);
            return;
        }
        if (e && e->computing && (!e->blob || now - e->since_us < stale_us)) {
            if (pthread_cond_timedwait(&api->cache_cv, &api->cache_mu, &deadline) == ETIMEDOUT)
                break; /* compute it without waiting longer */
            waited = 1;
            continue;
        }
        if (waited || (e && e->computing))
            break; /* that computation kept nothing (an error, too large), or has been running
                    * for longer than the statement timeout (database down?): no queue */
        if (!e && (e = cache_slot(api)) != NULL) {
            e->key = key.p;
            e->handler = h;
            e->args = key.args;
            e->nargs = key.nargs;
            key.p = NULL;
            key.args = NULL;
        }
        if (e) {
            e->computing = 1;
            e->since_us = now;
            e->refresh = 0;
            e->used = ++api->cache_tick;
            mine = e;
        }
        break;
    }
    pthread_mutex_unlock(&api->cache_mu);
    free(key.p);
    free_args(key.args, key.nargs);

    int64_t t0 = mono_us();
    h(req);
    if (mine) {
        pthread_mutex_lock(&api->cache_mu);
        cache_done(api, mine, req, t0);
        pthread_mutex_unlock(&api->cache_mu);
    }
}

/* ---------- routing ---------- */

typedef void (*handler0_fn)(rt_req_t *);
typedef void (*handler1_fn)(rt_req_t *, const char *);

/* Matches path against the routes; returns 1 and the handler (with its path argument copied
 * into arg) when a route matches. */
static int route(const char *path, handler0_fn *h0, handler1_fn *h1, char *arg, size_t argsize)
{
    static const struct {
        const char *path;
        handler0_fn fn;
    } fixed[] = {
        {"/healthz", handle_healthz},   {"/readyz", handle_readyz},
        {"/metrics", handle_metrics},   {"/api/runs", rt_api_runs_list},
        {"/api/jobs", rt_api_jobs},     {"/api/health", rt_health_handle},
        {"/api/config", handle_config},
    };
    *h0 = NULL;
    *h1 = NULL;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(path, fixed[i].path) == 0) {
            *h0 = fixed[i].fn;
            return 1;
        }
    const char *rest;
    if (strncmp(path, "/api/runs/", 10) == 0) {
        rest = path + 10;
        const char *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (n == 0 || n >= argsize)
            return 0;
        if (!slash)
            *h1 = rt_api_run_detail;
        else if (strcmp(slash, "/logs") == 0)
            *h1 = rt_api_run_logs;
        else
            return 0;
        memcpy(arg, rest, n);
        arg[n] = '\0';
        return 1;
    }
    if (strncmp(path, "/api/jobs/", 10) == 0) {
        /* Match by suffix so job names may contain '/' (e.g. "scrapers/fb_v2.py"). */
        static const struct {
            const char *suffix;
            handler1_fn fn;
        } sub[] = {{"/rollup", rt_api_job_rollup}, {"/last-success", rt_api_job_last_success}};
        rest = path + 10;
        size_t len = strlen(rest);
        for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
            size_t sl = strlen(sub[i].suffix);
            if (len > sl && strcmp(rest + len - sl, sub[i].suffix) == 0 && len - sl < argsize) {
                memcpy(arg, rest, len - sl);
                arg[len - sl] = '\0';
                *h1 = sub[i].fn;
                return 1;
            }
        }
    }
    return 0;
}

static void dispatch(rt_req_t *req, const char *url, const char *method)
{
    const rt_api_conf_t *c = &req->api->conf;
    param_check_t pc = {NULL, NULL, 0, 0};
    MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, check_param, &pc);
    size_t ulen = strlen(url);
    if (ulen + pc.total > c->max_url_bytes) {
        rt_req_error(req, 414, "uri_too_long", "request URI longer than %zu bytes",
                     c->max_url_bytes);
        return;
    }
    if (req->too_large) {
        rt_req_error(req, 413, "too_large", "request body larger than %zu bytes",
                     c->max_body_bytes);
        return;
    }
    char path[1024], arg[512];
    if (ulen >= sizeof path) {
        rt_req_error(req, 404, "not_found", "no such route");
        return;
    }
    memcpy(path, url, ulen + 1);
    if (ulen > 1 && path[ulen - 1] == '/')
        path[ulen - 1] = '\0';
    const rt_web_asset_t *asset = find_asset(path);
    if (asset || strncmp(path, "/assets/", 8) == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            req->allow = "GET, HEAD";
            rt_req_error(req, 405, "method_not_allowed", "%.16s not allowed here", method);
        } else if (!asset) {
            rt_req_error(req, 404, "not_found", "no such file: %.200s", path);
        } else {
            const char *inm = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_IF_NONE_MATCH);
            req->asset = asset;
            req->status = 200;
            /* Weak comparison is enough here: the ETag is a content hash. */
            if (inm && (strstr(inm, asset->etag) || strcmp(inm, "*") == 0)) {
                req->not_modified = 1;
                req->status = 304;
            }
        }
        return;
    }
    handler0_fn h0;
    handler1_fn h1;
    if (!route(path, &h0, &h1, arg, sizeof arg)) {
        rt_req_error(req, 404, "not_found", "no such route: %.200s", path);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        req->allow = "GET, HEAD";
        rt_req_error(req, 405, "method_not_allowed", "%.16s not allowed here; the API is read-only",
                     method);
        return;
    }
    if (h0 && c->cache_ttl_ms && (h0 == rt_health_handle || h0 == rt_api_jobs)) {
        /* The two reports that aggregate many runs (docs/api.md#report-cache). */
        req->cacheable = 1;
        cache_serve(req, path, h0);
    } else if (h0) {
        h0(req);
    } else {
        h1(req, arg);
    }
    if (!req->status)
        rt_req_error(req, 500, "internal", "handler produced no response");
}

static enum MHD_Result send_asset(rt_req_t *req)
{
    const rt_web_asset_t *a = req->asset;
    struct MHD_Response *resp =
        req->not_modified
            ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
    /* Names are not content-hashed, so browsers revalidate each time (a cheap 304). */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", csp_header);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    enum MHD_Result ret = MHD_queue_response(req->mhd, req->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_response(rt_req_t *req)
{
    if (req->asset)
        return send_asset(req);
    const char *body = req->body ? req->body : "";
    struct MHD_Response *resp =
        req->blob
            ? MHD_create_response_from_buffer_with_free_callback_cls(
                  req->blob->len, req->blob->data, blob_unref, req->blob)
            : MHD_create_response_from_buffer(req->body_len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    req->blob = NULL; /* its reference is the response's now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            req->ctype ? req->ctype : "application/json");
    if (req->cacheable && req->status == 200) {
        /* Clients may keep it as long as the server does; Age says how old it already is. */
        char v[32];
        snprintf(v, sizeof v, "max-age=%u", req->api->conf.cache_ttl_ms / 1000);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, v);
        if (req->age_s >= 0) {
            snprintf(v, sizeof v, "%ld", req->age_s);
            MHD_add_response_header(resp, MHD_HTTP_HEADER_AGE, v);
        }
    } else {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    MHD_add_response_header(resp, "Content-Security-Policy", csp_header);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (req->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
    enum MHD_Result ret = MHD_queue_response(req->mhd, req->status ? req->status : 500, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* libmicrohttpd decodes %XX before routing, and a decoded NUL would cut the path short:
 * "/api/runs%00.json" answered as "/api/runs". A path or parameter holding %00 is left undecoded
 * instead, so it matches no route (404) and no valid value (400). */
static size_t unescape_refusing_nul(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    for (const char *p = strchr(s, '%'); p; p = strchr(p + 1, '%'))
        if (p[1] == '0' && p[2] == '0')
            return strlen(s);
    return MHD_http_unescape(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    rt_api_t *api = cls;
    rt_req_t *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->api = api;
        req->mhd = connection;
        req->age_s = -1;
        *con_cls = req;
        const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        long n;
        if (cl &&
            (rt_parse_long(cl, 0, LONG_MAX, &n) != 0 || (size_t)n > api->conf.max_body_bytes)) {
            /* Answer before reading a body we would refuse anyway. */
            req->too_large = 1;
            rt_req_error(req, 413, "too_large", "request body larger than %zu bytes",
                         api->conf.max_body_bytes);
            return send_response(req);
        }
        return MHD_YES;
    }
    if (req->status)
        return MHD_YES; /* already answered; MHD discards the rest */
    if (*upload_data_size) {
        req->upload_bytes += *upload_data_size;
        *upload_data_size = 0;
        if (req->upload_bytes > api->conf.max_body_bytes)
            req->too_large = 1;
        if (req->upload_bytes > 4 * api->conf.max_body_bytes + 65536)
            return MHD_NO; /* a chunked flood: drop the connection */
        return MHD_YES;
    }
    dispatch(req, url, method);
    pool_release(api, req->slot);
    req->slot = NULL;
    return send_response(req);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)connection;
    (void)toe;
    rt_req_t *req = *con_cls;
    if (!req)
        return;
    pool_release(cls, req->slot);
    free(req->body);
    blob_unref(req->blob);
    free(req);
    *con_cls = NULL;
}

/* ---------- lifecycle ---------- */

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static void refresher_stop(rt_api_t *api)
{
    if (!api->refresher_started)
        return;
    pthread_mutex_lock(&api->cache_mu);
    api->stopping = 1;
    pthread_cond_signal(&api->refresh_cv);
    pthread_mutex_unlock(&api->cache_mu);
    pthread_join(api->refresher, NULL);
    api->refresher_started = 0;
}

static void api_free(rt_api_t *api)
{
    if (!api)
        return;
    if (api->intervals)
        for (size_t i = 0; i < api->conf.health.nintervals; i++)
            free((char *)api->intervals[i].job);
    free(api->intervals);
    if (api->slots)
        for (unsigned i = 0; i < api->nslots; i++)
            PQfinish(api->slots[i].conn);
    free(api->slots);
    free(api->listen_addr);
    free(api->pg_dsn);
    free(api->bearer_token);
    free(api->display_tz);
    for (size_t i = 0; i < RT_CACHE_SLOTS; i++)
        cache_clear(api, &api->cache[i]);
    pthread_mutex_destroy(&api->pool_mu);
    pthread_cond_destroy(&api->pool_cv);
    pthread_mutex_destroy(&api->cache_mu);
    pthread_cond_destroy(&api->cache_cv);
    pthread_cond_destroy(&api->refresh_cv);
    free(api);
}

rt_api_t *rt_api_start(const rt_api_conf_t *conf, char *err, size_t errsize)
{
    if (!conf || !conf->pg_dsn || !conf->listen_addr) {
        snprintf(err, errsize, "http api: listen address and database DSN are required");
        return NULL;
    }
    if (conf->listen_port > 65535 || conf->pool_size == 0 || conf->pool_size > 64 ||
        conf->threads == 0 || conf->threads > 64 || conf->max_connections == 0 ||
        conf->health.nwindows == 0 || conf->health.nwindows > RT_API_MAX_WINDOWS ||
        conf->stale_after_s <= 0 || conf->retention.batch_rows == 0) {
        snprintf(err, errsize, "http api: invalid configuration value");
        return NULL;
    }
    if (!rt_api_valid_tz(conf->display_tz)) {
        snprintf(err, errsize,
                 "http api: display time zone '%.80s' is not an IANA zone name like "
                 "Europe/Berlin",
                 conf->display_tz);
        return NULL;
    }
    rt_api_t *api = calloc(1, sizeof *api);
    if (!api) {
        snprintf(err, errsize, "http api: out of memory");
        return NULL;
    }
    pthread_mutex_init(&api->pool_mu, NULL);
    pthread_cond_init(&api->pool_cv, NULL);
    pthread_mutex_init(&api->cache_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* waits survive wall-clock steps */
    pthread_cond_init(&api->cache_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&api->refresh_cv, NULL);
    api->conf = *conf;
    int oom = 0;
    api->listen_addr = dup_or_null(conf->listen_addr, &oom);
    api->pg_dsn = dup_or_null(conf->pg_dsn, &oom);
    api->bearer_token = dup_or_null(conf->bearer_token, &oom);
    api->display_tz = dup_or_null(conf->display_tz, &oom);
    api->conf.display_tz = api->display_tz;
    api->conf.listen_addr = api->listen_addr;
    api->conf.pg_dsn = api->pg_dsn;
    api->conf.bearer_token = api->bearer_token;
    if (conf->health.nintervals) {
        api->intervals = calloc(conf->health.nintervals, sizeof *api->intervals);
        if (!api->intervals)
            oom = 1;
        for (size_t i = 0; api->intervals && i < conf->health.nintervals; i++) {
            api->intervals[i].job = dup_or_null(conf->health.intervals[i].job, &oom);
            api->intervals[i].seconds = conf->health.intervals[i].seconds;
        }
    }
    api->conf.health.intervals = api->intervals;
    api->nslots = conf->pool_size;
    api->slots = calloc(api->nslots, sizeof *api->slots);
    if (oom || !api->slots) {
        snprintf(err, errsize, "http api: out of memory");
        goto fail;
    }
    api->addr.sin_family = AF_INET;
    api->addr.sin_port = htons((uint16_t)conf->listen_port);
    if (inet_pton(AF_INET, conf->listen_addr, &api->addr.sin_addr) != 1) {
        snprintf(err, errsize, "http api: listen address '%s' is not an IPv4 address",
                 conf->listen_addr);
        goto fail;
    }
    if (conf->cache_ttl_ms) {
        int e = pthread_create(&api->refresher, NULL, cache_refresher, api);
        if (e) {
            snprintf(err, errsize, "http api: cannot start the cache thread: %s", strerror(e));
            goto fail;
        }
        api->refresher_started = 1;
    }
    api->mhd = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD, (uint16_t)conf->listen_port, NULL, NULL, on_request, api,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&api->addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)conf->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)conf->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)conf->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(conf->max_url_bytes * 2 + 32768), MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_refusing_nul, NULL, MHD_OPTION_END);
    if (!api->mhd) {
        snprintf(err, errsize, "http api: cannot listen on %s:%u (in use or not permitted)",
                 conf->listen_addr, conf->listen_port);
        goto fail;
    }
    if (conf->maintenance_interval_s) {
        api->maint = rt_maint_start(&api->conf, err, errsize);
        if (!api->maint)
            goto fail;
    }
    return api;
fail:
    if (api->mhd)
        MHD_stop_daemon(api->mhd);
    refresher_stop(api);
    api_free(api);
    return NULL;
}

void rt_api_stop(rt_api_t *api)
{
    if (!api)
        return;
    rt_maint_stop(api->maint);
    if (api->mhd)
        MHD_stop_daemon(api->mhd);
    refresher_stop(api); /* after the server: no request marks entries any more */
    api_free(api);
}
