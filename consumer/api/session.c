/* The dashboard login: sessions, their CSRF token and the failed-login limit (session.h). */
#include "session.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "keys.h"
#include "log.h"
#include "request.h"
#include "rt_num.h"

/* ---------- failed logins per remote address ---------- */

/* Addresses tracked at once; past it the one idle longest is forgotten (an attacker rotating
 * through more addresses than this gets a fresh bucket for each: docs/api.md says so). */
#define LOGIN_SLOTS 256

typedef struct login_bucket {
    char addr[48]; /* "" = free */
    double tokens; /* failures still allowed, refilled at per_min per minute */
    double at;     /* monotonic s of the last refill */
} login_bucket_t;

struct rt_login_limit {
    pthread_mutex_t mu;
    double per_min;
    login_bucket_t slots[LOGIN_SLOTS];
};

rt_login_limit_t *rt_login_limit_new(int per_min)
{
    rt_login_limit_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->per_min = per_min > 0 ? per_min : 1;
    return l;
}

void rt_login_limit_free(rt_login_limit_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The bucket of addr refilled to now, or NULL (create: a free or the longest idle slot, full).
 * Under l->mu. */
static login_bucket_t *bucket(rt_login_limit_t *l, const char *addr, double now, int create)
{
    login_bucket_t *b = NULL, *spare = &l->slots[0];
    for (size_t i = 0; i < LOGIN_SLOTS && !b; i++) {
        login_bucket_t *s = &l->slots[i];
        if (!strcmp(s->addr, addr) && s->addr[0])
            b = s;
        else if (!s->addr[0] || (spare->addr[0] && s->at < spare->at))
            spare = s;
    }
    if (!b) {
        if (!create)
            return NULL;
        b = spare;
        snprintf(b->addr, sizeof b->addr, "%s", addr);
        b->tokens = l->per_min;
        b->at = now;
    }
    b->tokens = fmin(l->per_min, b->tokens + (now - b->at) * l->per_min / 60.0);
    b->at = now;
    return b;
}

int rt_login_limit_wait(rt_login_limit_t *l, const char *addr, double now)
{
    pthread_mutex_lock(&l->mu);
    login_bucket_t *b = bucket(l, addr, now, 0);
    int wait = b && b->tokens < 1.0 ? (int)ceil((1.0 - b->tokens) * 60.0 / l->per_min) : 0;
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void rt_login_limit_fail(rt_login_limit_t *l, const char *addr, double now)
{
    pthread_mutex_lock(&l->mu);
    login_bucket_t *b = bucket(l, addr, now, 1);
    b->tokens = fmax(0.0, b->tokens - 1.0);
    pthread_mutex_unlock(&l->mu);
}

/* ---------- tokens ---------- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* HMAC-SHA256(secret, prefix + token) as hex into out (RT_CSRF_LEN + 1 bytes). 0, or -1. */
static int token_mac(rt_req_t *req, const char *prefix, const char *token, char *out)
{
    char msg[16 + RT_TOKEN_LEN];
    unsigned char mac[RT_AUTH_HMAC_LEN];
    snprintf(msg, sizeof msg, "%s%s", prefix, token);
    int rc = req->api->keyring ? rt_auth_hmac(rt_keyring_secret(req->api->keyring), msg, mac) : -1;
    if (rc == 0)
        hex(mac, sizeof mac, out);
    OPENSSL_cleanse(msg, sizeof msg);
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

/* The stored form of a session id ("sid:" keeps it apart from every other HMAC of the secret). */
static int session_hmac(rt_req_t *req, const char *token, char *out)
{
    return token_mac(req, "sid:", token, out);
}

static int csrf_token(rt_req_t *req, char *out)
{
    return token_mac(req, "csrf:", req->session.token, out);
}

/* ---------- verifying a cookie ---------- */

/* Writes last_seen_at of session id (a failure is logged: the request is not refused for it). */
static void session_touch(PGconn *conn, const char *id)
{
    char err[256];
    const char *params[1] = {id};
    PGresult *r = rt_auth_exec_rw(conn, "UPDATE api_sessions SET last_seen_at = now() WHERE id = $1",
                                  1, params, err, sizeof err);
    if (!r)
        rt_log(RT_L_WARN, "sessions: last_seen_at not written", "session=%s error=\"%s\"", id, err);
    PQclear(r);
}

rt_auth_result_t rt_session_verify(rt_req_t *req, const char *cookie)
{
    const rt_config_t *cfg = req->api->cfg;
    char mac[RT_CSRF_LEN + 1], idle[16], touch[16];
    if (!rt_auth_token_valid(cookie))
        return RT_AUTH_UNKNOWN;
    if (session_hmac(req, cookie, mac) != 0)
        return RT_AUTH_UNAVAILABLE;
    PGconn *conn = rt_req_conn_quiet(req);
    if (!conn)
        return RT_AUTH_UNAVAILABLE;
    snprintf(idle, sizeof idle, "%d", cfg->session_idle_s);
    snprintf(touch, sizeof touch, "%d", cfg->auth_touch_s);
    const char *params[3] = {mac, idle, touch};
    /* The key is checked on every request, so revoking it ends its sessions at once. */
    PGresult *r = PQexecParams(
        conn,
        "SELECT s.id, s.key_id, k.name, s.scope, coalesce(s.job_glob, ''), " RT_SQL_TS(
            "s.expires_at") ", s.last_seen_at <= now() - make_interval(secs => $3::int) "
                            "FROM api_sessions s JOIN api_keys k ON k.id = s.key_id "
                            "WHERE s.token_hmac = decode($1, 'hex') AND s.revoked_at IS NULL "
                            "AND s.expires_at > now() "
                            "AND s.last_seen_at > now() - make_interval(secs => $2::int) "
                            "AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())",
        3, NULL, params, NULL, NULL, 0);
    rt_auth_result_t res = RT_AUTH_UNAVAILABLE;
    int64_t id = 0, key_id = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rt_log(RT_L_WARN, "sessions: lookup failed", "error=\"%.*s\"",
               (int)strcspn(PQerrorMessage(conn), "\n\""), PQerrorMessage(conn));
    } else if (PQntuples(r) != 1) {
        res = RT_AUTH_UNKNOWN;
    } else if (rt_parse_i64(PQgetvalue(r, 0, 0), 1, INT64_MAX, &id) == 0 &&
               rt_parse_i64(PQgetvalue(r, 0, 1), 1, INT64_MAX, &key_id) == 0 &&
               rt_scope_parse(PQgetvalue(r, 0, 3), &req->who.scope) == 0) {
        req->who.key_id = (long long)key_id;
        snprintf(req->who.name, sizeof req->who.name, "%s", PQgetvalue(r, 0, 2));
        snprintf(req->who.job_glob, sizeof req->who.job_glob, "%s", PQgetvalue(r, 0, 4));
        snprintf(req->session.expires_at, sizeof req->session.expires_at, "%s",
                 PQgetvalue(r, 0, 5));
        snprintf(req->session.token, sizeof req->session.token, "%s", cookie);
        req->session.id = (long long)id;
        res = RT_AUTH_OK;
        if (PQgetvalue(r, 0, 6)[0] == 't')
            session_touch(conn, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return res;
}

/* 1 when the Origin header value names the site of the Host header (scheme ignored: the
 * scheme is the one this server speaks). Used only when the browser sends no Sec-Fetch-Site,
 * which it computes itself and which does not depend on a proxy passing Host through. */
static int origin_matches_host(const char *origin, const char *host)
{
    const char *o = !strncasecmp(origin, "https://", 8)  ? origin + 8
                    : !strncasecmp(origin, "http://", 7) ? origin + 7
                                                         : NULL;
    return o && host && !strcasecmp(o, host);
}

int rt_session_csrf_check(rt_req_t *req)
{
    char want[RT_CSRF_LEN + 1];
    const char *got = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, RT_CSRF_HEADER);
    const char *origin = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *host = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *why = NULL;
    if (!got)
        why = "a state-changing request with a session cookie needs the " RT_CSRF_HEADER
              " header (the csrf_token of POST or GET /api/session)";
    else if (csrf_token(req, want) != 0 || strlen(got) != RT_CSRF_LEN ||
             CRYPTO_memcmp(got, want, RT_CSRF_LEN) != 0)
        why = "the " RT_CSRF_HEADER " header does not match this session";
    else if (site ? strcasecmp(site, "same-origin") != 0
                  : origin && !origin_matches_host(origin, host))
        why = "a state-changing request from another site is refused";
    OPENSSL_cleanse(want, sizeof want);
    if (!why)
        return 0;
    rt_req_error(req, 403, "csrf_failed", "%s", why);
    return -1;
}

/* ---------- the endpoints ---------- */

static int cookie_secure(const rt_api_t *api)
{
    const char *s = api->cfg->http_cookie_secure;
    return !strcmp(s, "true") || (!strcmp(s, "auto") && api->tls);
}

/* Sets the session cookie (token, for max_age s) or, token NULL, its removal. */
static void set_cookie(rt_req_t *req, const char *token, int max_age)
{
    snprintf(req->set_cookie, sizeof req->set_cookie,
             RT_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
             token ? token : "", token ? max_age : 0, cookie_secure(req->api) ? "; Secure" : "");
}

/* The key of a login body: {"key": KEY} (JSON) or key=KEY (an HTML form). Points into *doc
 * (JSON, caller json_decref's) or into the body; NULL with a 400 answer. */
static const char *login_key(rt_req_t *req, json_t **doc, char *form, size_t formsize)
{
    size_t len;
    const char *body = rt_req_body(req, &len);
    const char *ct =
        MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *key = NULL;
    if (ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
        /* A key is base64url and '_': nothing in it is percent-encoded. */
        for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
            size_t n = strncmp(p, "key=", 4) ? formsize : strcspn(p + 4, "&");
            if (n < formsize) {
                memcpy(form, p + 4, n);
                form[n] = '\0';
                key = form;
            }
        }
    } else {
        json_error_t jerr;
        *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (*doc && json_unpack_ex(*doc, &jerr, JSON_STRICT, "{s:s}", "key", &key) != 0)
            key = NULL;
    }
    if (!key)
        rt_req_error(req, 400, "bad_parameter",
                     "expected a JSON object {\"key\": \"rtk_...\"} or a form field key");
    return key;
}

/* Refuses a login posted from another site (login CSRF: a page logging the victim in as the
 * attacker). 1 when refused (answer set). */
static int login_cross_site(rt_req_t *req)
{
    const char *origin = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *host = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (site ? strcasecmp(site, "same-origin") && strcasecmp(site, "none")
             : origin && !origin_matches_host(origin, host)) {
        rt_req_error(req, 403, "csrf_failed", "a login from another site is refused");
        return 1;
    }
    return 0;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *login_conn(void *arg)
{
    return rt_req_conn(arg);
}

/* Stores a new session of who; fills req->session. 0, or -1 with the answer set. */
static int session_create(rt_req_t *req, const rt_principal_t *who, const char *remote)
{
    char mac[RT_CSRF_LEN + 1], key_id[24], max[16], err[256];
    if (rt_auth_token_generate(req->session.token) != 0 ||
        session_hmac(req, req->session.token, mac) != 0) {
        rt_req_error(req, 503, "auth_unavailable", "no randomness for a session id");
        return -1;
    }
    PGconn *conn = rt_req_conn(req);
    if (!conn)
        return -1;
    snprintf(key_id, sizeof key_id, "%lld", who->key_id);
    snprintf(max, sizeof max, "%d", req->api->cfg->session_max_s);
    const char *params[6] = {mac, key_id, rt_scope_name(who->scope), who->job_glob, max, remote};
    /* Sessions that ended over a day ago go with each login, so the table stays small. */
    PGresult *r = rt_auth_exec_rw(
        conn,
        "WITH gone AS (DELETE FROM api_sessions WHERE expires_at < now() - interval '1 day' "
        "OR revoked_at < now() - interval '1 day') "
        "INSERT INTO api_sessions (token_hmac, key_id, scope, job_glob, expires_at, remote_addr) "
        "VALUES (decode($1, 'hex'), $2, $3, nullif($4, ''), now() + make_interval(secs => $5::int), "
        "$6) RETURNING id, " RT_SQL_TS("expires_at"),
        6, params, err, sizeof err);
    if (!r) {
        rt_req_error(req, 500, "database_error", "session not stored: %s", err);
        return -1;
    }
    req->session.id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(req->session.expires_at, sizeof req->session.expires_at, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

/* {"key_id", "key_name", "scope", "jobs", "via", "csrf_token", "expires_at", ...} of req. */
static json_t *whoami(rt_req_t *req)
{
    char csrf[RT_CSRF_LEN + 1];
    int session = req->session.id != 0 && csrf_token(req, csrf) == 0;
    json_t *j = json_pack(
        "{s:b,s:s?,s:I,s:s,s:s,s:s?,s:s?,s:s?,s:i}", "auth_required", req->api->auth_required,
        "via", session ? "session" : req->who.key_id ? "key" : NULL, "key_id",
        (json_int_t)req->who.key_id, "key_name", req->who.name, "scope",
        rt_scope_name(req->who.scope), "jobs", req->who.job_glob[0] ? req->who.job_glob : NULL,
        "csrf_token", session ? csrf : NULL, "expires_at",
        session ? req->session.expires_at : NULL, "idle_timeout_s", req->api->cfg->session_idle_s);
    OPENSSL_cleanse(csrf, sizeof csrf);
    return j;
}

void rt_api_session_login(rt_req_t *req)
{
    rt_api_t *api = req->api;
    char remote[64], form[RT_KEY_LEN + 8];
    json_t *doc = NULL;
    rt_principal_t who = {0};
    rt_req_remote_addr(req, remote, sizeof remote);
    if (login_cross_site(req))
        return;
    int wait = rt_login_limit_wait(api->logins, remote, mono_now());
    if (wait > 0) {
        req->retry_after_s = wait;
        rt_req_error(req, 429, "too_many_logins",
                     "too many failed logins from this address; try again in %d s", wait);
        return;
    }
    if (!api->keyring) {
        rt_req_error(req, 503, "auth_unavailable",
                     "no server secret is configured (auth_secret_file), so no key can log in");
        return;
    }
    const char *key = login_key(req, &doc, form, sizeof form);
    rt_auth_result_t r =
        key ? rt_keyring_verify(api->keyring, key, login_conn, req, &who) : RT_AUTH_OK;
    if (!key) {
        /* answered (400) */
    } else if (r == RT_AUTH_UNAVAILABLE) {
        if (!req->status)
            rt_req_error(req, 503, "auth_unavailable", "%s", rt_auth_result_text(r));
    } else if (r != RT_AUTH_OK) {
        rt_login_limit_fail(api->logins, remote, mono_now());
        rt_req_error(req, 401, "unauthorized", "%s", rt_auth_result_text(r));
    } else if (session_create(req, &who, remote) == 0) {
        req->who = who; /* the audit trail names the key that logged in */
        rt_req_audit_target(req, "key %lld", who.key_id);
        set_cookie(req, req->session.token, api->cfg->session_max_s);
        rt_req_json(req, 200, whoami(req));
    }
    OPENSSL_cleanse(form, sizeof form);
    json_decref(doc);
}

void rt_api_session_info(rt_req_t *req)
{
    static const char *const none[] = {NULL};
    if (rt_req_allow_params(req, none) == 0)
        rt_req_json(req, 200, whoami(req));
}

void rt_api_session_logout(rt_req_t *req)
{
    char id[24], err[256];
    rt_req_audit_target(req, "key %lld", req->who.key_id);
    if (!req->session.id) {
        /* Bearer (or keys off): no session to end; a stale cookie is cleared all the same. */
        set_cookie(req, NULL, 0);
        rt_req_json(req, 200, json_pack("{s:b}", "logged_out", 0));
        return;
    }
    PGconn *conn = rt_req_conn(req);
    if (!conn)
        return;
    snprintf(id, sizeof id, "%lld", req->session.id);
    const char *params[1] = {id};
    PGresult *r = rt_auth_exec_rw(
        conn, "UPDATE api_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", 1,
        params, err, sizeof err);
    if (!r) {
        rt_req_error(req, 500, "database_error", "session not ended: %s", err);
        return;
    }
    PQclear(r);
    set_cookie(req, NULL, 0);
    rt_req_json(req, 200, json_pack("{s:b}", "logged_out", 1));
}
