/* The gate every routed request passes: the key its route's scope needs (401/403), and the
 * audit trail of state-changing requests (internal.h; docs/api.md, Authentication). */
#include <string.h>

#include "internal.h"
#include "keys.h"
#include "log.h"
#include "request.h"
#include "session.h"

int rt_gate_check(rt_req_t *req, const rt_route_t *route, const char *arg)
{
    rt_api_t *api = req->api;
    rt_scope_t need = route->scope;
    memset(&req->who, 0, sizeof req->who);
    if ((route->flags & RT_ROUTE_METRICS) && !api->cfg->metrics_auth)
        need = RT_SCOPE_NONE;
    if (!api->auth_required || need == RT_SCOPE_NONE)
        return 0;
    const char *hdr =
        MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    /* A Bearer key wins over a cookie: no browser sends it on its own, so it needs no CSRF
     * token. */
    const char *cookie =
        hdr ? NULL : MHD_lookup_connection_value(req->mhd, MHD_COOKIE_KIND, RT_SESSION_COOKIE);
    const char *key = rt_auth_bearer(hdr);
    rt_auth_result_t r = cookie       ? rt_session_verify(req, cookie)
                         : hdr && !key ? RT_AUTH_MALFORMED
                                       : rt_keyring_verify(api->keyring, key, rt_req_conn_quiet, req,
                                                           &req->who);
    if (r == RT_AUTH_UNAVAILABLE) {
        memset(&req->who, 0, sizeof req->who);
        if (req->conn_failed)
            rt_req_error(req, 503, "database_unavailable", "database unreachable");
        else
            rt_req_error(req, 503, "auth_unavailable", "%s", rt_auth_result_text(r));
        return -1;
    }
    if (r != RT_AUTH_OK) {
        memset(&req->who, 0, sizeof req->who);
        req->www_authenticate = 1;
        if (cookie)
            rt_req_error(req, 401, "unauthorized",
                         "no valid session (logged out, expired, or its key revoked): log in "
                         "again (POST /api/session)");
        else
            rt_req_error(req, 401, "unauthorized", "%s", rt_auth_result_text(r));
        return -1;
    }
    if (req->session.id && strcmp(route->method, "GET") != 0 && rt_session_csrf_check(req) != 0)
        return -1;
    if (req->who.scope < need) {
        rt_req_error(req, 403, "forbidden", "this key has scope %s; %s %s needs scope %s",
                     rt_scope_name(req->who.scope), route->method, route->path,
                     rt_scope_name(need));
        return -1;
    }
    if ((route->flags & RT_ROUTE_JOB_ARG) && !rt_auth_job_allowed(&req->who, arg)) {
        rt_req_error(req, 403, "forbidden", "this key is limited to jobs matching \"%.200s\"",
                     req->who.job_glob);
        return -1;
    }
    return 0;
}

void rt_gate_audit(rt_req_t *req, const rt_route_t *route, const char *arg)
{
    char remote[INET6_ADDRSTRLEN + 1], err[256];
    rt_req_remote_addr(req, remote, sizeof remote);
    rt_audit_t a = {.who = &req->who,
                    .action = route->action,
                    .target = req->audit_target[0] ? req->audit_target : arg,
                    .result = (int)req->status,
                    .remote_addr = remote};
    PGconn *conn = rt_req_conn_quiet(req);
    if (!conn || rt_audit_write(conn, &a, err, sizeof err) != 0)
        rt_log(RT_L_ERROR, "audit trail: entry not written", "action=%s result=%u error=\"%s\"",
               route->action, req->status, conn ? err : "database unreachable");
}
