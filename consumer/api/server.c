/* The HTTP server: libmicrohttpd daemon, routing, request limits, the built-in endpoints
 * (/healthz, /readyz, /metrics, /api/config, the dashboard's files) and start/stop (api.h). */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "api_runs.h"
#include "cache.h"
#include "health.h"
#include "internal.h"
#include "log.h"
#include "prom.h"
#include "rt_buf.h"
#include "session.h"
#include "settings.h"

/* Every response carries a strict Content-Security-Policy: the dashboard loads only its own
 * scripts, styles and icon and talks only to this server (no inline code, no CDN, no frames). */
static const char csp_header[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

unsigned rt_api_port(const rt_api_t *api)
{
    return api ? api->port : 0;
}

int rt_api_is_tls(const rt_api_t *api)
{
    return api ? api->tls : 0;
}

/* ---------- built-in endpoints ---------- */

static void handle_healthz(rt_req_t *req)
{
    rt_req_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* 1 when s is a reason code as /readyz shows it: 1..47 of [a-z0-9_]. */
static int is_reason_code(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
    return n > 0 && n < 48 && s[n] == '\0';
}

/* Answers 503 {"status":"not ready","reason":reason,"error":{...}}: the fields of the ready
 * answer beside the error object every other failure has (docs/api.md, /readyz). */
static void readyz_refuse(rt_req_t *req, const char *code, const char *reason)
{
    char msg[96];
    snprintf(msg, sizeof msg, "consumer not ready: %s", reason);
    rt_req_json(req, 503,
                json_pack("{s:s,s:s,s:{s:s,s:s}}", "status", "not ready", "reason", reason, "error",
                          "code", code, "message", msg));
}

/* /readyz tells anyone who asks whether to send traffic here, so it answers with a reason
 * code only; libpq's text (host, port, user) and the consumer's own words go to the log, once
 * per change of reason (rt_api_state_note). */
static void handle_readyz(rt_req_t *req)
{
    rt_api_t *api = req->api;
    PGresult *r = rt_req_exec(req, "SELECT 1", 0, NULL);
    if (!r) {
        const char *c = req->error_code ? req->error_code : "";
        readyz_refuse(req, *c ? c : "internal",
                      !strcmp(c, "database_unavailable") ? "database_unreachable"
                      : !strcmp(c, "database_timeout")   ? "database_timeout"
                      : !strcmp(c, "busy")               ? "database_busy"
                                                         : "database_error");
        return;
    }
    PQclear(r);
    const rt_api_hooks_t *hk = &api->hooks;
    char why[256] = "";
    if (hk->ready_cb && !hk->ready_cb(hk->ready_arg, why, sizeof why)) {
        const char *reason = is_reason_code(why) ? why : "not_ready";
        rt_api_state_note(&api->ready, reason, why);
        readyz_refuse(req, "not_ready", reason);
        return;
    }
    if (atomic_load(&api->ready.set))
        rt_api_state_note(&api->ready, NULL, NULL);
    rt_req_json(req, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

/* Settings the dashboard needs: the fixed display time zone (null = the viewer's own zone). */
static void handle_config(rt_req_t *req)
{
    const rt_api_conf_t *c = &req->api->conf;
    const char *tz = *c->settings->display_tz ? c->settings->display_tz : NULL;
    rt_req_json(
        req, 200,
        json_pack("{s:s?,s:f}", "display_time_zone", tz, "stale_after_seconds", c->stale_after_s));
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
    /* Metrics must render even when the database is down: the 503 rt_req_conn sets without a
     * connection is replaced by the text below. */
    PGconn *conn = rt_req_conn(req);
    char *text = NULL;
    rt_buf_t b = {0};
    if (rt_metrics_render(req->api->hooks.metrics, conn, req->api->conf.stale_after_s, &text) ==
        0) {
        rt_buf_adds(&b, text);
        if (req->api->tls)
            rt_tls_metrics(&b, atomic_load(&req->api->tls_reloads),
                           atomic_load(&req->api->tls_reload_failures));
    }
    free(text);
    if (!(text = rt_buf_take(&b, NULL)) || b.oom) {
        rt_buf_free(&b);
        free(text);
        rt_req_error(req, 500, "internal", "out of memory");
        return;
    }
    rt_req_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

/* ---------- Host header (DNS rebinding) ---------- */

/* Length of the host part of a Host header value ("name", "1.2.3.4", "[::1]", each with an
 * optional ":port" of digits), or 0 when the value is malformed. */
static size_t host_part(const char *h)
{
    size_t n;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close)
            return 0;
        n = (size_t)(close - h) + 1;
    } else {
        n = strcspn(h, ":");
    }
    if (n == 0 || n > 255)
        return 0;
    if (h[n] == '\0')
        return n;
    const char *port = h + n + 1;
    size_t digits = strspn(port, "0123456789");
    return h[n] == ':' && digits <= 5 && port[digits] == '\0' ? n : 0;
}

static int host_is(const char *h, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(h, name, n) == 0;
}

/* 1 when the n bytes at h are an IPv4 literal or a bracketed IPv6 literal. */
static int host_ip_literal(const char *h, size_t n)
{
    char lit[64];
    unsigned char addr[sizeof(struct in6_addr)];
    int v6 = h[0] == '[';
    if (n - 2 * (size_t)v6 >= sizeof lit)
        return 0;
    memcpy(lit, h + v6, n - 2 * (size_t)v6);
    lit[n - 2 * (size_t)v6] = '\0';
    return inet_pton(v6 ? AF_INET6 : AF_INET, lit, addr) == 1;
}

int rt_api_host_allowed(const char *host, const char *bind_addr, const char *allowed)
{
    struct in_addr bind;
    if (allowed && strcmp(allowed, "*") == 0)
        return 1;
    size_t n = host ? host_part(host) : 0;
    if (n == 0)
        return 0;
    if (host_is(host, n, bind_addr))
        return 1;
    for (const char *p = allowed ? allowed : ""; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncasecmp(p, host, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    if (inet_pton(AF_INET, bind_addr, &bind) != 1)
        return 0;
    uint32_t b = ntohl(bind.s_addr);
    int loopback_name =
        host_is(host, n, "localhost") || host_is(host, n, "127.0.0.1") || host_is(host, n, "[::1]");
    if (b >> 24 == 127)
        return loopback_name;
    /* Bound to every address: a client may name any of them, and an IP literal (like
     * localhost) is no name an attacker's DNS answers for, which is what rebinding needs. */
    if (b == INADDR_ANY)
        return loopback_name || host_ip_literal(host, n);
    return 0;
}

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
        (*(unsigned *)cls)++;
    return MHD_YES;
}

/* Refuses a request whose Host header is missing (HTTP/1.1), repeated, or names a site this
 * server does not serve: a page on evil.example whose name the attacker re-points at
 * 127.0.0.1 (DNS rebinding) would otherwise read the API as if it were same-origin. Sets the
 * answer and returns 1 when refused (docs/api.md#host-header). */
static int refuse_host(rt_req_t *req, const char *version)
{
    const rt_config_t *c = req->api->cfg;
    unsigned hosts = 0;
    MHD_get_connection_values(req->mhd, MHD_HEADER_KIND, count_host, &hosts);
    const char *host = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (hosts > 1) {
        rt_req_error(req, 400, "bad_request", "more than one Host header");
    } else if (!host && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
        rt_req_error(req, 400, "bad_request", "an HTTP/1.1 request needs a Host header");
    } else if (host && !rt_api_host_allowed(host, c->http_addr, c->http_allowed_hosts)) {
        rt_req_error(req, 421, "misdirected_request",
                     "this server does not answer for that Host (setting http_allowed_hosts)");
    }
    return req->status != 0;
}

/* ---------- routing ---------- */

/* Every route, the scope it needs and, for a state-changing one, its audit action: the one
 * source of docs/api.md's scope table (rt_api_print_scopes; the integration.api.auth test
 * compares the two and walks every row allowed and denied). Scopes include the ones below. */
static const rt_route_t routes[] = {
    {"GET", "/healthz", RT_SCOPE_NONE, 0, NULL, handle_healthz, NULL},
    {"GET", "/readyz", RT_SCOPE_NONE, 0, NULL, handle_readyz, NULL},
    {"GET", "/metrics", RT_SCOPE_READ, RT_ROUTE_METRICS, NULL, handle_metrics, NULL},
    {"GET", "/api/config", RT_SCOPE_READ, 0, NULL, handle_config, NULL},
    {"GET", "/api/runs", RT_SCOPE_READ, 0, NULL, rt_api_runs_list, NULL},
    {"GET", "/api/runs/{run_id}", RT_SCOPE_READ, 0, NULL, NULL, rt_api_run_detail},
    {"GET", "/api/runs/{run_id}/logs", RT_SCOPE_READ, 0, NULL, NULL, rt_api_run_logs},
    {"GET", "/api/jobs", RT_SCOPE_READ, 0, NULL, rt_api_jobs, NULL},
    {"GET", "/api/jobs/{job}/rollup", RT_SCOPE_READ, RT_ROUTE_JOB_ARG | RT_ROUTE_ARG_SLASH, NULL,
     NULL, rt_api_job_rollup},
    {"GET", "/api/jobs/{job}/last-success", RT_SCOPE_READ, RT_ROUTE_JOB_ARG | RT_ROUTE_ARG_SLASH,
     NULL, NULL, rt_api_job_last_success},
    {"GET", "/api/health", RT_SCOPE_READ, 0, NULL, rt_health_handle, NULL},
    {"GET", "/api/keys", RT_SCOPE_ADMIN, 0, NULL, rt_api_keys_list, NULL},
    {"POST", "/api/keys", RT_SCOPE_ADMIN, 0, "keys.create", rt_api_keys_create, NULL},
    {"DELETE", "/api/keys/{id}", RT_SCOPE_ADMIN, 0, "keys.revoke", NULL, rt_api_keys_revoke},
    {"GET", "/api/audit", RT_SCOPE_ADMIN, 0, NULL, rt_api_audit, NULL},
    /* The dashboard login (session.h): the login itself needs no key, it takes one. */
    {"GET", "/api/session", RT_SCOPE_READ, 0, NULL, rt_api_session_info, NULL},
    {"POST", "/api/session", RT_SCOPE_NONE, 0, "session.login", rt_api_session_login, NULL},
    {"POST", "/api/session/logout", RT_SCOPE_READ, 0, "session.logout", rt_api_session_logout,
     NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* 1 when path matches the route's path, with its "{name}" segment (if any) copied into arg. */
static int route_match(const rt_route_t *r, const char *path, char *arg, size_t argsize)
{
    const char *open = strchr(r->path, '{');
    if (!open)
        return strcmp(path, r->path) == 0;
    size_t pre = (size_t)(open - r->path);
    const char *suffix = strchr(open, '}') + 1;
    size_t len = strlen(path), sl = strlen(suffix);
    if (len <= pre + sl || strncmp(path, r->path, pre) != 0 || strcmp(path + len - sl, suffix))
        return 0;
    size_t n = len - pre - sl;
    if (n >= argsize || (!(r->flags & RT_ROUTE_ARG_SLASH) && memchr(path + pre, '/', n)))
        return 0;
    memcpy(arg, path + pre, n);
    arg[n] = '\0';
    return 1;
}

/* The route for method and path, or NULL with a 404 or a 405 (Allow: the path's methods)
 * answer set. */
static const rt_route_t *route_find(rt_req_t *req, const char *path, const char *method,
                                    char *arg, size_t argsize)
{
    static const char *const allows[] = {"GET, HEAD", "GET, HEAD, POST", "DELETE"};
    int get = 0, post = 0, del = 0;
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!route_match(&routes[i], path, arg, argsize))
            continue;
        if (strcmp(routes[i].method, m) == 0)
            return &routes[i];
        get |= !strcmp(routes[i].method, "GET");
        post |= !strcmp(routes[i].method, "POST");
        del |= !strcmp(routes[i].method, "DELETE");
    }
    if (!get && !post && !del) {
        rt_req_error(req, 404, "not_found", "no such route: %.200s", path);
        return NULL;
    }
    req->allow = del ? allows[2] : post ? allows[1] : allows[0];
    rt_req_error(req, 405, "method_not_allowed", "%.16s not allowed here", method);
    return NULL;
}

void rt_api_print_scopes(FILE *f)
{
    fprintf(f, "| method | path | scope | audited as |\n|---|---|---|---|\n");
    fprintf(f, "| `GET` | `/`, `/index.html`, `/assets/{file}` | open | |\n");
    for (size_t i = 0; i < NROUTES; i++) {
        const rt_route_t *r = &routes[i];
        fprintf(f, "| `%s` | `%s` | %s%s%s |%s%s%s|\n", r->method, r->path,
                rt_scope_name(r->scope),
                r->flags & RT_ROUTE_METRICS ? " when `metrics_auth`, else open" : "",
                r->flags & RT_ROUTE_JOB_ARG ? ", within the key's job glob" : "",
                r->action ? " `" : " ", r->action ? r->action : "", r->action ? "` " : "");
    }
}

/* The dashboard's files: open to anyone (they hold no data; what they fetch needs a key). */
static void serve_asset(rt_req_t *req, const char *path, const char *method)
{
    const rt_web_asset_t *asset = find_asset(path);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        req->allow = "GET, HEAD";
        rt_req_error(req, 405, "method_not_allowed", "%.16s not allowed here", method);
    } else if (!asset) {
        rt_req_error(req, 404, "not_found", "no such file: %.200s", path);
    } else {
        const char *inm =
            MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        req->asset = asset;
        req->status = 200;
        /* Weak comparison is enough here: the ETag is a content hash. */
        if (inm && (strstr(inm, asset->etag) || strcmp(inm, "*") == 0)) {
            req->not_modified = 1;
            req->status = 304;
        }
    }
}

/* Runs the route's handler once the gate let req through. */
static void run_handler(rt_req_t *req, const rt_route_t *r, const char *path, const char *arg)
{
    if (r->h0 && req->api->cache && (r->h0 == rt_health_handle || r->h0 == rt_api_jobs)) {
        /* The two reports that aggregate many runs (docs/api.md#report-cache). */
        req->cacheable = 1;
        rt_cache_serve(req->api->cache, req, path, r->h0);
    } else if (r->h0) {
        r->h0(req);
    } else {
        r->h1(req, arg);
    }
}

static void dispatch(rt_req_t *req, const char *url, const char *method)
{
    const rt_config_t *c = req->api->cfg;
    size_t ulen = strlen(url);
    if (ulen + rt_req_query_bytes(req) > (size_t)c->http_max_url_bytes) {
        rt_req_error(req, 414, "uri_too_long", "request URI longer than %d bytes",
                     c->http_max_url_bytes);
        return;
    }
    if (req->too_large) {
        rt_req_error(req, 413, "too_large", "request body larger than %d bytes",
                     c->http_max_body_bytes);
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
    if (find_asset(path) || strncmp(path, "/assets/", 8) == 0) {
        serve_asset(req, path, method);
        return;
    }
    const rt_route_t *r = route_find(req, path, method, arg, sizeof arg);
    if (!r)
        return;
    const char *a = r->h1 ? arg : NULL;
    if (rt_gate_check(req, r, a) == 0)
        run_handler(req, r, path, a);
    if (!req->status)
        rt_req_error(req, 500, "internal", "handler produced no response");
    if (r->action)
        rt_gate_audit(req, r, a);
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
    size_t len = req->body_len;
    if (req->blob)
        body = rt_cache_blob_data(req->blob, &len);
    struct MHD_Response *resp =
        req->blob ? MHD_create_response_from_buffer_with_free_callback_cls(
                        len, (void *)body, rt_cache_blob_unref, req->blob)
                  : MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    req->blob = NULL; /* its reference is the response's now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            req->ctype ? req->ctype : "application/json");
    if (req->cacheable && req->status == 200) {
        /* Clients may keep it as long as the server does; Age says how old it already is. */
        char v[32];
        /* Behind a key, no shared cache may hand the answer to someone without one. */
        snprintf(v, sizeof v, "%smax-age=%d", req->api->auth_required ? "private, " : "",
                 req->api->cfg->http_cache_ms / 1000);
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
    if (req->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"runtrack\"");
    if (req->set_cookie[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, req->set_cookie);
    if (req->retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", req->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
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
    rt_api_t *api = cls;
    rt_req_t *req = *con_cls;
    const long max_body = api->cfg->http_max_body_bytes;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->api = api;
        req->mhd = connection;
        req->age_s = -1;
        *con_cls = req;
        if (refuse_host(req, version))
            return send_response(req); /* before reading a body, as for 413 below */
        const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        long n;
        if (cl && (rt_parse_long(cl, 0, LONG_MAX, &n) != 0 || n > max_body)) {
            /* Answer before reading a body we would refuse anyway. */
            req->too_large = 1;
            rt_req_error(req, 413, "too_large", "request body larger than %ld bytes", max_body);
            return send_response(req);
        }
        return MHD_YES;
    }
    if (req->status)
        return MHD_YES; /* already answered; MHD discards the rest */
    if (*upload_data_size) {
        req->upload_bytes += *upload_data_size;
        if (req->upload_bytes <= (size_t)max_body)
            rt_buf_add(&req->upload, upload_data, *upload_data_size); /* admin.c reads it */
        *upload_data_size = 0;
        if (req->upload_bytes > (size_t)max_body || req->upload.oom)
            req->too_large = 1;
        if (req->upload_bytes > 4 * (size_t)max_body + 65536)
            return MHD_NO; /* a chunked flood: drop the connection */
        return MHD_YES;
    }
    dispatch(req, url, method);
    rt_req_release_conn(req);
    return send_response(req);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    rt_req_t *req = *con_cls;
    if (!req)
        return;
    rt_req_release_conn(req);
    free(req->body);
    rt_cache_blob_unref(req->blob);
    rt_buf_free(&req->upload);
    /* The session id and its cookie line are secrets: not left in freed memory. */
    OPENSSL_cleanse(&req->session, sizeof req->session);
    OPENSSL_cleanse(req->set_cookie, sizeof req->set_cookie);
    free(req);
    *con_cls = NULL;
}

/* ---------- lifecycle ---------- */

static void api_free(rt_api_t *api)
{
    if (!api)
        return;
    rt_cache_free(api->cache); /* after the server: no request marks entries any more */
    rt_pool_free(api->pool);
    rt_api_conf_free(&api->conf);
    rt_tls_cred_free(&api->cred);
    pthread_mutex_destroy(&api->mhd_mu);
    rt_keyring_free(api->keyring);
    rt_login_limit_free(api->logins);
    pthread_mutex_destroy(&api->db.mu);
    pthread_mutex_destroy(&api->ready.mu);
    free(api);
}

/* A daemon serving api with api->cred when api->tls: listening on api->addr (listen_fd
 * MHD_INVALID_SOCKET) or on a socket handed over by a quiesced daemon. NULL with err. */
static struct MHD_Daemon *daemon_new(rt_api_t *api, MHD_socket listen_fd, char *err, size_t errsize)
{
    const rt_config_t *cfg = api->cfg;
    /* ITC: a reload quiesces the daemon to hand its listening socket to the next one. */
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | (api->tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, cfg->http_threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, cfg->http_max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->http_connection_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->http_max_url_bytes * 2 + 32768, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, api},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_refusing_nul, NULL},
        listen_fd == MHD_INVALID_SOCKET
            ? (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &api->addr}
            : (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
        /* plain HTTP: the list ends here, before the TLS options */
        {api->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, api->cred.cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, api->cred.key},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)cfg->http_port, NULL, NULL, on_request,
                                            api, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d && listen_fd == MHD_INVALID_SOCKET)
        snprintf(err, errsize, "http api: cannot listen on %s:%d (in use or not permitted)",
                 cfg->http_addr, cfg->http_port);
    else if (!d)
        snprintf(err, errsize, "http api: cannot start serving the listening socket again");
    return d;
}

/* ---------- HTTPS certificate reload ---------- */

/* libmicrohttpd 0.9.75 cannot change a running daemon's certificate (its certificate callback
 * would mean a GnuTLS credential swapped under handshakes in flight), so a reload starts a
 * second daemon with the new files on the same listening socket and stops the first:
 * MHD_quiesce_daemon hands the socket over, so no connection is refused meanwhile and the port
 * never changes (docs/decisions.md). */
/* Lets a quiesced daemon's connections end on their own (requests in flight answered, clients
 * closing), for at most wait_ms (the statement timeout, which bounds a request), then stops
 * it; idle keep-alive connections still open then are closed, and their clients reconnect to
 * the new daemon. It does not close the listening socket it gave away. */
static void drain_and_stop(struct MHD_Daemon *d, int wait_ms)
{
    for (int waited = 0; waited < wait_ms; waited += 50) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!i || i->num_connections == 0)
            break;
        usleep(50 * 1000);
    }
    MHD_stop_daemon(d);
}

int rt_api_tls_reload(rt_api_t *api, char *err, size_t errsize)
{
    if (!api || !api->tls)
        return 1;
    rt_tls_cred_t cred;
    if (rt_tls_load(api->cfg, &cred, err, errsize) != 0) {
        atomic_fetch_add(&api->tls_reload_failures, 1);
        return -1;
    }
    pthread_mutex_lock(&api->mhd_mu);
    struct MHD_Daemon *old = api->mhd;
    MHD_socket fd = old ? MHD_quiesce_daemon(old) : MHD_INVALID_SOCKET;
    if (fd == MHD_INVALID_SOCKET) {
        pthread_mutex_unlock(&api->mhd_mu);
        rt_tls_cred_free(&cred);
        snprintf(err, errsize, "http api: cannot hand the listening socket over");
        atomic_fetch_add(&api->tls_reload_failures, 1);
        return -1;
    }
    rt_tls_cred_t old_cred = api->cred;
    api->cred = cred;
    int rc = 0;
    if (!(api->mhd = daemon_new(api, fd, err, errsize))) {
        /* The quiesced daemon cannot take the socket back: serve it again with the old files. */
        rt_tls_cred_free(&api->cred);
        api->cred = old_cred;
        memset(&old_cred, 0, sizeof old_cred);
        char err2[256];
        if (!(api->mhd = daemon_new(api, fd, err2, sizeof err2)))
            close(fd); /* nothing serves it any more: the log says so (caller) */
        rc = -1;
    }
    pthread_mutex_unlock(&api->mhd_mu);
    drain_and_stop(old, api->cfg->http_statement_timeout_ms);
    rt_tls_cred_free(&old_cred);
    if (rc == 0)
        atomic_fetch_add(&api->tls_reloads, 1);
    else
        atomic_fetch_add(&api->tls_reload_failures, 1);
    return rc;
}

/* The reload thread (only when serving HTTPS and hooks.reload_sem is set): one reload per post
 * of the semaphore until the API stops. */
static void *reload_main(void *arg)
{
    rt_api_t *api = arg;
    for (;;) {
        while (sem_wait(api->hooks.reload_sem) != 0 && errno == EINTR)
            ;
        if (atomic_load(&api->stopping))
            break;
        char err[512];
        int rc = rt_api_tls_reload(api, err, sizeof err);
        if (rc == 0)
            rt_log(RT_L_INFO, "HTTPS certificate reloaded", "sha256=%s not_after=%s",
                   api->cred.sha256, api->cred.not_after);
        else if (rc < 0)
            rt_log(RT_L_ERROR, "HTTPS certificate not reloaded", "error=\"%s\" serving=%s", err,
                   api->mhd ? "previous certificate" : "nothing");
    }
    return NULL;
}

static int reload_thread_start(rt_api_t *api, char *err, size_t errsize)
{
    if (!api->tls || !api->hooks.reload_sem)
        return 0;
    if (pthread_create(&api->reload_thread, NULL, reload_main, api) != 0) {
        snprintf(err, errsize, "http api: cannot start the certificate reload thread");
        return -1;
    }
    api->reload_started = 1;
    return 0;
}

static void reload_thread_stop(rt_api_t *api)
{
    if (!api->reload_started)
        return;
    atomic_store(&api->stopping, 1);
    sem_post(api->hooks.reload_sem);
    pthread_join(api->reload_thread, NULL);
    api->reload_started = 0;
}

/* The auth settings (settings.h) into api: whether keys are required, and the keyring when a
 * server secret is set. A required auth without a secret, or auth off on a non-loopback
 * address without auth_insecure, fails the start. */
static int auth_start(rt_api_t *api, char *err, size_t errsize)
{
    rt_auth_secret_t secret;
    char why[480];
    const rt_config_t *cfg = api->cfg;
    int rc = rt_api_auth_settings(cfg, &api->auth_required, &secret, why, sizeof why);
    if (rc == 0 && ((secret.len && !(api->keyring = rt_keyring_new(&secret, cfg->auth_cache_ms,
                                                                    cfg->auth_touch_s))) ||
                    !(api->logins = rt_login_limit_new(cfg->login_failures_per_min)))) {
        snprintf(why, sizeof why, "out of memory");
        rc = -1;
    }
    rt_auth_secret_wipe(&secret);
    if (rc != 0) {
        snprintf(err, errsize, "http api: %s", why);
        return -1;
    }
    if (!api->auth_required && strcmp(cfg->auth, "off") == 0 && !rt_auth_addr_loopback(cfg->http_addr))
        rt_log(RT_L_WARN, "http api: authentication is OFF on a non-loopback address",
               "http_addr=%s detail=\"auth = off with auth_insecure: anyone who reaches the port "
               "reads every run and log, and manages keys\"",
               cfg->http_addr);
    else
        rt_log(RT_L_INFO, "http api: authentication", "auth=%s metrics_auth=%s",
               api->auth_required ? "required" : "off",
               api->auth_required && cfg->metrics_auth ? "on" : "off");
    return 0;
}

rt_api_t *rt_api_start(const rt_config_t *cfg, const rt_api_hooks_t *hooks, char *err,
                       size_t errsize)
{
    if (!cfg || cfg->http_port < 0) {
        snprintf(err, errsize, "http api: settings with an http_port are required");
        return NULL;
    }
    if (!rt_api_valid_tz(cfg->display_tz)) {
        snprintf(err, errsize,
                 "http api: display time zone '%.80s' is not an IANA zone name like "
                 "Europe/Berlin",
                 cfg->display_tz);
        return NULL;
    }
    rt_api_t *api = calloc(1, sizeof *api);
    if (!api) {
        snprintf(err, errsize, "http api: out of memory");
        return NULL;
    }
    api->cfg = cfg;
    pthread_mutex_init(&api->db.mu, NULL);
    pthread_mutex_init(&api->ready.mu, NULL);
    pthread_mutex_init(&api->mhd_mu, NULL);
    api->db.what = "database";
    api->ready.what = "readiness";
    if (hooks)
        api->hooks = *hooks;
    if (rt_api_conf_init(&api->conf, cfg, err, errsize) != 0)
        goto fail;
    api->pool = rt_pool_new(cfg->pg_dsn, (unsigned)cfg->http_pool_size,
                            (unsigned)cfg->http_statement_timeout_ms);
    if (!api->pool) {
        snprintf(err, errsize, "http api: out of memory");
        goto fail;
    }
    api->addr.sin_family = AF_INET;
    api->addr.sin_port = htons((uint16_t)cfg->http_port);
    if (inet_pton(AF_INET, cfg->http_addr, &api->addr.sin_addr) != 1) {
        snprintf(err, errsize, "http api: listen address '%s' is not an IPv4 address",
                 cfg->http_addr);
        goto fail;
    }
    if (auth_start(api, err, errsize) != 0)
        goto fail;
    if (cfg->http_cache_ms && !(api->cache = rt_cache_new(api, err, errsize)))
        goto fail;
    if ((api->tls = rt_tls_wanted(cfg)) && rt_tls_load(cfg, &api->cred, err, errsize) != 0)
        goto fail;
    if (api->tls)
        rt_log(RT_L_INFO, "HTTPS certificate loaded", "file=%s sha256=%s not_after=%s",
               cfg->http_tls_cert_file, api->cred.sha256, api->cred.not_after);
    if (!(api->mhd = daemon_new(api, MHD_INVALID_SOCKET, err, errsize)))
        goto fail;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : 0;
    if (reload_thread_start(api, err, errsize) != 0)
        goto fail;
    return api;
fail:
    if (api->mhd)
        MHD_stop_daemon(api->mhd);
    api_free(api);
    return NULL;
}

void rt_api_stop(rt_api_t *api)
{
    if (!api)
        return;
    reload_thread_stop(api); /* no reload may replace the daemon from here on */
    if (api->mhd)
        MHD_stop_daemon(api->mhd);
    api_free(api);
}
