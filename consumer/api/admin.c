/* Admin endpoints: API keys (GET/POST /api/keys, DELETE /api/keys/{id}) and the audit trail
 * (GET /api/audit). The scope each needs is in the route table (server.c). */
#include "admin.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "keys.h"
#include "request.h"

/* A list column as a JSON value: NULL stays null. */
static json_t *text_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

void rt_api_keys_list(rt_req_t *req)
{
    static const char *const none[] = {NULL};
    char err[256];
    if (rt_req_allow_params(req, none) != 0)
        return;
    PGconn *conn = rt_req_conn(req);
    if (!conn)
        return;
    PGresult *r = rt_keys_list(conn, err, sizeof err);
    if (!r) {
        rt_req_error(req, 500, "database_error", "%s", err);
        return;
    }
    static const char *const names[] = {"prefix",     "name",       "scope",      "jobs",
                                        "created_at", "expires_at", "revoked_at", "last_used_at"};
    json_t *keys = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *k = json_pack("{s:I}", "id", (json_int_t)strtoll(PQgetvalue(r, i, 0), NULL, 10));
        for (int c = 0; c < 8; c++)
            json_object_set_new(k, names[c], text_or_null(r, i, c + 1));
        json_array_append_new(keys, k);
    }
    PQclear(r);
    rt_req_json(req, 200, json_pack("{s:o}", "keys", keys));
}

/* Reads {"name", "scope", "jobs"?, "expires_days"?} from the body into spec (pointing into
 * *doc, which the caller json_decref's). 0, or -1 with a 400 answer. */
static int read_spec(rt_req_t *req, rt_key_spec_t *spec, json_t **doc)
{
    size_t len;
    const char *body = rt_req_body(req, &len);
    json_error_t jerr;
    const char *scope = NULL;
    json_int_t days = 0;
    *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*doc ||
        json_unpack_ex(*doc, &jerr, JSON_STRICT, "{s:s,s:s,s?s,s?I}", "name", &spec->name, "scope",
                       &scope, "jobs", &spec->job_glob, "expires_days", &days) != 0) {
        rt_req_error(req, 400, "bad_parameter",
                     "expected a JSON object {\"name\": ..., \"scope\": \"read|control|admin\", "
                     "\"jobs\": GLOB?, \"expires_days\": N?}: %.120s",
                     jerr.text);
        return -1;
    }
    char err[160];
    if (rt_scope_parse(scope, &spec->scope) != 0) {
        rt_req_error(req, 400, "bad_parameter", "scope must be read, control or admin");
        return -1;
    }
    spec->expires_days = days < 0 || days > 36500 ? -1 : (int)days;
    if (rt_key_spec_check(spec, err, sizeof err) != 0) {
        rt_req_error(req, 400, "bad_parameter", "%s", err);
        return -1;
    }
    return 0;
}

void rt_api_keys_create(rt_req_t *req)
{
    rt_key_spec_t spec = {0};
    json_t *doc = NULL;
    char key[RT_KEY_LEN + 1], err[256];
    long long id = 0;
    rt_keyring_t *kr = rt_req_keyring(req);
    if (read_spec(req, &spec, &doc) != 0)
        goto out;
    if (!kr) {
        rt_req_error(req, 503, "auth_unavailable",
                     "no server secret is configured (auth_secret_file), so no key can be made");
        goto out;
    }
    PGconn *conn = rt_req_conn(req);
    if (!conn)
        goto out;
    int rc = rt_keys_create(conn, rt_keyring_secret(kr), &spec, key, &id, err, sizeof err);
    if (rc != 0) {
        rt_req_error(req, rc == -1 ? 400 : 500, rc == -1 ? "bad_parameter" : "database_error", "%s",
                     err);
        goto out;
    }
    rt_req_audit_target(req, "key %lld", id);
    /* The only time the key is shown; the answer is never cached (Cache-Control: no-store). */
    rt_req_json(req, 201,
                json_pack("{s:I,s:s,s:s%,s:s,s:s,s:s?,s:i}", "id", (json_int_t)id, "key", key,
                          "prefix", key + 4, (size_t)RT_KEY_PREFIX_LEN, "name", spec.name, "scope",
                          rt_scope_name(spec.scope), "jobs",
                          spec.job_glob && *spec.job_glob ? spec.job_glob : NULL, "expires_days",
                          spec.expires_days));
    OPENSSL_cleanse(key, sizeof key);
out:
    json_decref(doc);
}

void rt_api_keys_revoke(rt_req_t *req, const char *arg)
{
    long id = 0;
    long long got = 0;
    char err[256];
    if (rt_parse_long(arg, 1, LONG_MAX, &id) != 0) {
        rt_req_error(req, 400, "bad_parameter", "a key id is a positive integer");
        return;
    }
    PGconn *conn = rt_req_conn(req);
    if (!conn)
        return;
    rt_req_audit_target(req, "key %ld", id);
    int found = rt_keys_revoke(conn, id, NULL, &got, err, sizeof err);
    if (found < 0)
        rt_req_error(req, 500, "database_error", "%s", err);
    else if (!found)
        rt_req_error(req, 404, "not_found", "no key %ld", id);
    else
        rt_req_json(req, 200, json_pack("{s:I,s:b}", "id", (json_int_t)got, "revoked", 1));
}

void rt_api_audit(rt_req_t *req)
{
    static const char *const allowed[] = {"limit", "before", NULL};
    long limit = 100, before = 0;
    if (rt_req_allow_params(req, allowed) != 0 || rt_req_long(req, "limit", 1, 1000, &limit) ||
        rt_req_long(req, "before", 1, LONG_MAX, &before))
        return;
    char l[24], b[24];
    snprintf(l, sizeof l, "%ld", limit);
    snprintf(b, sizeof b, "%ld", before);
    const char *params[2] = {l, before ? b : NULL};
    /* Newest first, keyset-paginated by id (next page: before = the last id). */
    PGresult *r = rt_req_exec(
        req,
        "SELECT coalesce(json_agg(json_build_object('id', id, 'at', " RT_SQL_TS("at") ", "
        "'key_id', key_id, 'key_name', key_name, "
        "'action', action, 'target', target, 'result', result, 'remote_addr', remote_addr) "
        "ORDER BY id DESC), '[]'), min(id) FROM (SELECT * FROM audit_log WHERE $2::bigint IS "
        "NULL OR id < $2::bigint ORDER BY id DESC LIMIT $1::int) a",
        2, params);
    if (!r)
        return;
    json_t *entries = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    long long next = PQgetisnull(r, 0, 1) ? 0 : strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    int full = entries && (long)json_array_size(entries) == limit;
    PQclear(r);
    if (!entries) {
        rt_req_error(req, 500, "internal", "audit entries unreadable");
        return;
    }
    rt_req_json(req, 200,
                json_pack("{s:o,s:o}", "entries", entries, "next_before",
                          full ? json_integer(next) : json_null()));
}
