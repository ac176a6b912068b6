/* The dashboard login (docs/api.md, Sessions): a browser exchanges an API key for a session
 * cookie, and every state-changing request it makes with that cookie carries the session's
 * CSRF token.
 *
 *   POST /api/session          {"key": KEY} or key=KEY   -> Set-Cookie + {"csrf_token", ...}
 *   GET  /api/session          who am I (key name, scope, CSRF token of a cookie session)
 *   POST /api/session/logout   ends the cookie's session
 *
 * The cookie holds a random session id (rt_auth_token_generate); api_sessions keeps only
 * HMAC-SHA256(server secret, id) (schemas/sql/0030_api_sessions.sql). The CSRF token is
 * HMAC-SHA256(server secret, "csrf:" + id): tied to the session, never stored, recomputed for a
 * page reload. Failed logins are limited per remote address (rt_login_limit_*). Inside the HTTP
 * API only (server.c, gate.c). */
#ifndef RT_API_SESSION_H
#define RT_API_SESSION_H

#include "auth.h"
#include "rt_attr.h"

#define RT_SESSION_COOKIE "runtrack_session"
#define RT_CSRF_HEADER "X-CSRF-Token"
#define RT_CSRF_LEN (2 * RT_AUTH_HMAC_LEN) /* hex */

typedef struct rt_req rt_req_t;

/* Failed logins per remote address: a token bucket of per_min tokens refilled over a minute;
 * a failure takes one, and an address with none left waits. Thread-safe. */
typedef struct rt_login_limit rt_login_limit_t;
/* NULL when out of memory. */
rt_login_limit_t *rt_login_limit_new(int per_min);
void rt_login_limit_free(rt_login_limit_t *l);
/* Seconds addr must wait before its next login attempt (0: may try now). now: monotonic s. */
int rt_login_limit_wait(rt_login_limit_t *l, const char *addr, double now);
/* Counts a failed login of addr. */
void rt_login_limit_fail(rt_login_limit_t *l, const char *addr, double now);

/* Verifies the session id of req's cookie: fills req->who and req->session on RT_AUTH_OK
 * (RT_AUTH_UNKNOWN for a malformed, unknown, logged out, idle, expired session or one whose key
 * was revoked or expired; RT_AUTH_UNAVAILABLE when PostgreSQL could not be asked). */
rt_auth_result_t rt_session_verify(rt_req_t *req, const char *cookie);
/* For a state-changing request of a cookie session: 0 when it carries the session's CSRF
 * token (X-CSRF-Token, compared in constant time) and no Origin or Sec-Fetch-Site header
 * names another site; else -1 with the 403 csrf_failed answer set. */
int rt_session_csrf_check(rt_req_t *req) RT_MUSTCHECK;

/* The route handlers (server.c's route table). */
void rt_api_session_login(rt_req_t *req);
void rt_api_session_info(rt_req_t *req);
void rt_api_session_logout(rt_req_t *req);

#endif
