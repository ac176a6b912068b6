/* The rt_req_* helpers handlers answer a request with (request.h). */
#include "request.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "rt_num.h"
#include "rt_time.h"

int rt_parse_long(const char *s, long min, long max, long *out)
{
    int64_t v;
    /* The API has always refused "+5": one spelling per number keeps cache keys and logs plain. */
    if (!s || *s == '+' || rt_parse_i64(s, min, max, &v) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

void rt_api_state_note(rt_api_state_t *st, const char *reason, const char *detail)
{
    char d[256];
    size_t n = 0;
    /* One logfmt value: libpq's text quotes the host ("at \"db\", port 5432") and may run over
     * several lines. */
    for (const char *p = detail ? detail : ""; *p && n + 1 < sizeof d; p++)
        d[n++] = *p == '"' ? '\'' : (unsigned char)*p < 0x20 ? ' ' : *p;
    d[n] = '\0';
    if (!reason)
        reason = "";
    pthread_mutex_lock(&st->mu);
    if (strcmp(st->reason, reason) != 0) {
        if (*reason)
            rt_log(RT_L_WARN, "http api: problem", "what=%s reason=%s detail=\"%s\"", st->what,
                   reason, d);
        else
            rt_log(RT_L_INFO, "http api: recovered", "what=%s was=%s", st->what, st->reason);
        snprintf(st->reason, sizeof st->reason, "%s", reason);
        atomic_store(&st->set, *reason != '\0');
    }
    pthread_mutex_unlock(&st->mu);
}

/* Clients learn that the database is unreachable, never libpq's text (host, port, user,
 * server messages): that goes to the log, once per change. */
static void req_db_unreachable(rt_req_t *req, const char *detail)
{
    rt_api_state_note(&req->api->db, "database_unreachable", detail);
    rt_req_error(req, 503, "database_unavailable", "database unreachable");
}

PGconn *rt_req_conn(rt_req_t *req)
{
    if (!req->slot) {
        char err[256];
        int busy = 0;
        req->slot = rt_pool_acquire(req->api->pool, &busy, err, sizeof err);
        if (!req->slot && busy)
            rt_req_error(req, 503, "busy", "all database connections are busy");
        else if (!req->slot)
            req_db_unreachable(req, err);
        else if (atomic_load(&req->api->db.set))
            rt_api_state_note(&req->api->db, NULL, NULL);
    }
    return req->slot ? rt_pool_conn(req->slot) : NULL;
}

void rt_req_release_conn(rt_req_t *req)
{
    rt_pool_release(req->api->pool, req->slot);
    req->slot = NULL;
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
        req_db_unreachable(req, msg);
    else if (strcmp(state, "57014") == 0)
        rt_req_error(req, 503, "database_timeout", "query took too long: %.*s", len, msg);
    else if (strncmp(state, "22", 2) == 0)
        rt_req_error(req, 400, "bad_parameter", "%.*s", len, msg);
    else
        rt_req_error(req, 500, "database_error", "%.*s", len, msg);
    PQclear(r);
    return NULL;
}

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
    req->error_code = code;
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
    return req->api->hooks.metrics;
}

typedef struct param_check {
    const char *const *allowed; /* NULL: only count */
    const char *bad;
    size_t total;
} param_check_t;

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    param_check_t *pc = cls;
    pc->total += strlen(key) + (value ? strlen(value) : 0) + 2;
    if (!pc->allowed || pc->bad)
        return MHD_YES;
    for (const char *const *a = pc->allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    pc->bad = key;
    return MHD_YES;
}

/* Runs check_param over every query parameter of req. */
static void check_params(rt_req_t *req, param_check_t *pc)
{
    if (req->mhd)
        MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, check_param, pc);
    else
        for (size_t i = 0; i < req->nargs; i++)
            check_param(pc, MHD_GET_ARGUMENT_KIND, req->args[2 * i], req->args[2 * i + 1]);
}

size_t rt_req_query_bytes(rt_req_t *req)
{
    param_check_t pc = {NULL, NULL, 0};
    check_params(req, &pc);
    return pc.total;
}

int rt_req_allow_params(rt_req_t *req, const char *const *allowed)
{
    param_check_t pc = {allowed, NULL, 0};
    check_params(req, &pc);
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

const char *rt_req_body(rt_req_t *req, size_t *len)
{
    *len = req->upload.len;
    return req->upload.len ? req->upload.data : "";
}

void rt_req_audit_target(rt_req_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->audit_target, sizeof req->audit_target, fmt, ap);
    va_end(ap);
}

struct rt_keyring *rt_req_keyring(rt_req_t *req)
{
    return req->api->keyring;
}

const struct rt_principal *rt_req_principal(rt_req_t *req)
{
    return &req->who;
}

PGconn *rt_req_conn_quiet(void *arg)
{
    rt_req_t *req = arg;
    if (!req->slot) {
        char err[256];
        int busy = 0;
        req->slot = rt_pool_acquire(req->api->pool, &busy, err, sizeof err);
        if (!req->slot) {
            req->conn_failed = 1;
            if (!busy)
                rt_api_state_note(&req->api->db, "database_unreachable", err);
            return NULL;
        }
    }
    return rt_pool_conn(req->slot);
}

void rt_req_remote_addr(rt_req_t *req, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, size, "-");
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                  out, (socklen_t)size);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, out,
                  (socklen_t)size);
}
