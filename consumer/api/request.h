/* What a handler module (api_runs.c, health.c) needs to answer one request: the settings as
 * the API reads them, and the rt_req_* helpers for parameters, SQL and the response. */
#ifndef RT_API_REQUEST_H
#define RT_API_REQUEST_H

#include <libpq-fe.h>
#include <stddef.h>

#include "view.h"
#include "metrics.h"
#include "rt_attr.h"

/* One request being answered. Handlers read parameters with rt_req_param, run SQL with
 * rt_req_exec (which acquires a pooled connection on first use) and set the response with
 * rt_req_json / rt_req_error / rt_req_text. */
typedef struct rt_req rt_req_t;

/* The URL-decoded query parameter, or NULL when absent. */
const char *rt_req_param(rt_req_t *req, const char *name);
/* Checks that every query parameter is in the NULL-terminated allowed list; otherwise sets a
 * 400 error and returns -1. */
int rt_req_allow_params(rt_req_t *req, const char *const *allowed);
const rt_api_conf_t *rt_req_conf(rt_req_t *req);
rt_metrics_t *rt_req_metrics(rt_req_t *req);

/* Runs a parameterized statement (text parameters, NULL = SQL NULL, text results). Returns the
 * tuples result (caller PQclear's), or NULL after setting the response: 503 when the database
 * is unreachable, busy or the statement timed out, 500 for other errors. */
PGresult *rt_req_exec(rt_req_t *req, const char *sql, int nparams, const char *const *params);
/* The pooled connection (acquired if needed), or NULL (response already set to 503). */
PGconn *rt_req_conn(rt_req_t *req);

/* Sets a JSON response; takes ownership of body (a jansson json_t *, passed as void * so this
 * header does not need jansson). */
void rt_req_json(rt_req_t *req, unsigned status, void *json_body);
/* Sets {"error": {"code": code, "message": printf-formatted message}}. */
void rt_req_error(rt_req_t *req, unsigned status, const char *code, const char *fmt, ...)
    RT_PRINTF(4, 5);
/* Sets a plain-text response; takes ownership of the malloc'ed body. */
void rt_req_text(rt_req_t *req, unsigned status, const char *content_type, char *body);

/* The request body as received (NUL-terminated; "" when none) and its length. */
const char *rt_req_body(rt_req_t *req, size_t *len);
/* Names what a state-changing handler acted on, for the audit trail (never a key). */
void rt_req_audit_target(rt_req_t *req, const char *fmt, ...) RT_PRINTF(2, 3);
/* The key the request came with (key_id 0 and scope open when keys are off). The gate has
 * already checked the route's scope; a handler acting on a job it found itself (a run's job)
 * checks rt_auth_job_allowed(rt_req_principal(req), job) (auth.h). */
const struct rt_principal *rt_req_principal(rt_req_t *req);
/* The server secret's keyring, or NULL when none is configured. */
struct rt_keyring *rt_req_keyring(rt_req_t *req);

/* Parameter parsing shared by handlers; each sets a 400 error naming the parameter and
 * returns -1 on bad input, or returns 0 and leaves *out untouched when the parameter is
 * absent (so callers preset defaults). */
int rt_req_long(rt_req_t *req, const char *name, long min, long max, long *out);
int rt_req_time(rt_req_t *req, const char *name, const char **out_text); /* RFC 3339 */

/* A decimal integer in [min, max] as the API takes it from a query or a header: digits with an
 * optional '-' (rt_parse_i64 without its '+'). Returns 0, or -1 and leaves *out untouched. */
int rt_parse_long(const char *s, long min, long max, long *out);

#endif
