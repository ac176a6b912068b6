/* API keys in PostgreSQL and the audit trail (keys.h). */
#include "keys.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* 1 when s is 1..max bytes, none of them a control character. */
static int printable(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int rt_key_spec_check(const rt_key_spec_t *spec, char *err, size_t errsize)
{
    if (!printable(spec->name, RT_KEY_NAME_MAX)) {
        snprintf(err, errsize, "name: 1 to %d characters, no control characters", RT_KEY_NAME_MAX);
        return -1;
    }
    if (spec->scope < RT_SCOPE_READ || spec->scope > RT_SCOPE_ADMIN) {
        snprintf(err, errsize, "scope: read, control or admin");
        return -1;
    }
    if (spec->job_glob && *spec->job_glob && !printable(spec->job_glob, RT_KEY_GLOB_MAX)) {
        snprintf(err, errsize, "jobs: a glob of 1 to %d characters, no control characters",
                 RT_KEY_GLOB_MAX);
        return -1;
    }
    if (spec->expires_days < 0 || spec->expires_days > 36500) {
        snprintf(err, errsize, "expires: 1 to 36500 days (0 or absent: never)");
        return -1;
    }
    return 0;
}

int rt_keys_create(PGconn *conn, const rt_auth_secret_t *secret, const rt_key_spec_t *spec,
                   char *key, long long *id, char *err, size_t errsize)
{
    char prefix[RT_KEY_PREFIX_LEN + 1], hex[2 * RT_AUTH_HMAC_LEN + 1], days[16];
    unsigned char mac[RT_AUTH_HMAC_LEN];
    if (rt_key_spec_check(spec, err, errsize) != 0)
        return -1;
    if (!secret || secret->len == 0) {
        snprintf(err, errsize, "no server secret is configured: %s", rt_auth_secret_howto);
        return -2;
    }
    snprintf(days, sizeof days, "%d", spec->expires_days);
    const char *params[6] = {prefix,
                             hex,
                             spec->name,
                             rt_scope_name(spec->scope),
                             spec->job_glob && *spec->job_glob ? spec->job_glob : NULL,
                             days};
    /* A prefix already taken (1 in 2.8e12 per key) is drawn again. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (rt_auth_key_generate(key, prefix) != 0 || rt_auth_hmac(secret, key, mac) != 0) {
            snprintf(err, errsize, "cannot generate a key (no randomness or no HMAC)");
            return -2;
        }
        for (size_t i = 0; i < RT_AUTH_HMAC_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        PGresult *r = rt_auth_exec_rw(
            conn,
            "INSERT INTO api_keys (prefix, hmac, name, scope, job_glob, expires_at) "
            "VALUES ($1, decode($2, 'hex'), $3, $4, $5, CASE WHEN $6::int > 0 "
            "THEN now() + make_interval(days => $6::int) END) "
            "ON CONFLICT (prefix) DO NOTHING RETURNING id",
            6, params, err, errsize);
        OPENSSL_cleanse(hex, sizeof hex);
        if (!r) {
            OPENSSL_cleanse(key, RT_KEY_LEN + 1);
            return -2;
        }
        int got = PQntuples(r) == 1;
        if (got)
            *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (got)
            return 0;
    }
    OPENSSL_cleanse(key, RT_KEY_LEN + 1);
    snprintf(err, errsize, "no free key prefix after 3 draws");
    return -2;
}

int rt_keys_revoke(PGconn *conn, long long id, const char *prefix, long long *out_id, char *err,
                   size_t errsize)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", id);
    const char *params[2] = {id ? idtext : NULL, id ? NULL : prefix};
    /* coalesce keeps the first revocation time: revoking twice says done, changes nothing. */
    PGresult *r = rt_auth_exec_rw(conn,
                                  "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
                                  "WHERE id = $1::bigint OR prefix = $2 RETURNING id",
                                  2, params, err, errsize);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found)
        *out_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return found;
}

PGresult *rt_keys_list(PGconn *conn, char *err, size_t errsize)
{
    PGresult *r = PQexec(
        conn,
        "SELECT id, prefix, name, scope, job_glob, " RT_SQL_TS("created_at") ", " RT_SQL_TS(
            "expires_at") ", " RT_SQL_TS("revoked_at") ", " RT_SQL_TS("last_used_at") " FROM api_keys "
                                                                                "ORDER BY id DESC");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQerrorMessage(conn);
        snprintf(err, errsize, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

int rt_audit_write(PGconn *conn, const rt_audit_t *a, char *err, size_t errsize)
{
    char idtext[24], result[16];
    int who = a->who && a->who->key_id;
    snprintf(idtext, sizeof idtext, "%lld", who ? a->who->key_id : 0);
    snprintf(result, sizeof result, "%d", a->result);
    const char *params[6] = {
        who ? idtext : NULL, who ? a->who->name : NULL, a->action, a->target, result,
        a->remote_addr};
    PGresult *r = rt_auth_exec_rw(conn,
                                  "INSERT INTO audit_log (key_id, key_name, action, target, "
                                  "result, remote_addr) VALUES ($1::bigint, $2, $3, $4, $5, $6)",
                                  6, params, err, errsize);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}
