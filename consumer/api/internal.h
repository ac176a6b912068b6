/* Inside the HTTP API only (server.c, request.c, cache.c, auth.c): the server and the request
 * as those files share them. Handler modules use request.h. */
#ifndef RT_API_INTERNAL_H
#define RT_API_INTERNAL_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api.h"
#include "auth.h"
#include "rt_buf.h"
#include "view.h"
#include "pool.h"
#include "tls.h"
#include "api/web/web_assets.h"

typedef struct rt_req rt_req_t;
struct rt_cache;
struct rt_cache_blob;

/* A condition the API reports in the log rather than to clients (a client sees a reason code
 * only): its detail is logged when the reason changes, so a poller cannot flood the log. */
typedef struct rt_api_state {
    pthread_mutex_t mu;
    atomic_int set;   /* 1 while reason is not empty: lets the healthy path skip the lock */
    char reason[48];  /* "" = well */
    const char *what; /* the subject in the log line: "database", "readiness" */
} rt_api_state_t;

/* Notes reason (NULL or "" = well again) with a detail for the log; logs on a change only. */
void rt_api_state_note(rt_api_state_t *st, const char *reason, const char *detail);

struct rt_api {
    const rt_config_t *cfg; /* the caller's settings */
    rt_api_conf_t conf;     /* their parsed view (handlers' rt_req_conf) */
    rt_api_hooks_t hooks;
    int auth_required;      /* rt_auth_mode: routes need their scope's key */
    rt_keyring_t *keyring;  /* NULL when no server secret is configured (then auth is off) */
    struct sockaddr_in addr;
    struct MHD_Daemon *mhd;
    rt_pool_t *pool;
    struct rt_cache *cache; /* NULL when http_cache_ms is 0 */
    rt_api_state_t db;      /* the pool's PostgreSQL: reachable or why not */
    rt_api_state_t ready;   /* the consumer's readiness as /readyz last saw it */
    /* HTTPS (tls.h; reload in server.c). A reload replaces the daemon (under mhd_mu), so nothing
     * but start, reload and stop touches mhd; handlers reach the api through their cls. */
    int tls;            /* 1: serving HTTPS (rt_api_is_tls: Secure cookies) */
    unsigned port;      /* the bound port, kept across daemon replacements */
    rt_tls_cred_t cred; /* what the running daemon was started with (it keeps pointers) */
    pthread_mutex_t mhd_mu;
    pthread_t reload_thread;
    int reload_started;
    atomic_int stopping;                           /* tells the reload thread to end */
    atomic_ulong tls_reloads, tls_reload_failures; /* /metrics */
    struct rt_login_limit *logins; /* failed logins per remote address (session.h) */
};

struct rt_req {
    rt_api_t *api;
    struct MHD_Connection *mhd; /* NULL: a refresh of a cached report, args below */
    char *const *args;          /* ... its query (name, value, ... nargs pairs) */
    size_t nargs;
    rt_pool_slot_t *slot;
    unsigned status;
    const char *error_code; /* the code of the last rt_req_error (a literal), or NULL */
    char *body;
    size_t body_len;
    const char *ctype;
    const char *allow; /* Allow header for 405 */
    size_t upload_bytes;
    int too_large;
    const rt_web_asset_t *asset; /* a dashboard file to send instead of body */
    int not_modified;            /* ... as 304: the client's If-None-Match has its ETag */
    int cacheable;               /* a route answered through the report cache */
    struct rt_cache_blob *blob;  /* the answer is this kept one (a reference), not body */
    long age_s;                  /* >= 0: answered from the cache, this many seconds old */
    rt_buf_t upload;             /* the request body (up to http_max_body_bytes) */
    rt_principal_t who;          /* the verified key (key_id 0: none, auth off) */
    char audit_target[128];      /* what a state-changing handler acted on, for the audit */
    int conn_failed;             /* rt_gate's connection attempt failed (auth: 503) */
    int www_authenticate;        /* a 401: say which scheme (WWW-Authenticate: Bearer) */
    /* The dashboard login (session.h). */
    struct {
        long long id;                  /* api_sessions.id of the cookie's session; 0 = none */
        char token[RT_TOKEN_LEN + 1];  /* its id as the cookie gave it (wiped at the end) */
        char expires_at[40];           /* RFC 3339 UTC */
    } session;
    char set_cookie[160]; /* a Set-Cookie header to send, "" = none (never logged) */
    int retry_after_s;    /* > 0: a Retry-After header (429) */
};

/* One route: method and path (a "{name}" segment is the handler's argument), the scope it
 * needs, and for a state-changing one its audit action. The one table of them (server.c) is
 * what docs/api.md's scope table is checked against (rt_api_print_scopes). */
typedef void (*rt_handler0_fn)(rt_req_t *);
typedef void (*rt_handler1_fn)(rt_req_t *, const char *);
#define RT_ROUTE_JOB_ARG 1u   /* the argument is a job: a key's job glob must match it */
#define RT_ROUTE_ARG_SLASH 2u /* the argument may contain '/' (job names) */
#define RT_ROUTE_METRICS 4u   /* open unless metrics_auth */
typedef struct rt_route {
    const char *method; /* "GET" (HEAD too), "POST", "DELETE" */
    const char *path;
    rt_scope_t scope;
    unsigned flags;
    const char *action; /* audit action; NULL for reads */
    rt_handler0_fn h0;  /* exactly one of h0 (no argument) and h1 */
    rt_handler1_fn h1;
} rt_route_t;

/* Authorizes req for route (arg: its path argument or NULL): fills req->who, or sets the
 * 401/403/503 answer and returns -1 (gate.c). */
int rt_gate_check(rt_req_t *req, const rt_route_t *route, const char *arg);
/* req's pooled connection, acquired without setting an answer (the gate answers 503 itself,
 * and the audit must not replace the handler's answer); arg is the rt_req_t. NULL when none
 * (req->conn_failed set when PostgreSQL was unreachable). (request.c) */
PGconn *rt_req_conn_quiet(void *arg);
/* The client's address as text ("-" when unknown) (request.c). */
void rt_req_remote_addr(rt_req_t *req, char *out, size_t size);
/* Records a state-changing request in the audit trail, whatever its result (gate.c). */
void rt_gate_audit(rt_req_t *req, const rt_route_t *route, const char *arg);

/* Gives req's pooled connection back (if it holds one). */
void rt_req_release_conn(rt_req_t *req);

/* Bytes of the query parameters (names, values and separators), for the URI length limit. */
size_t rt_req_query_bytes(rt_req_t *req);

#endif
