/* Managing API keys and writing the audit trail, on a given PostgreSQL connection: shared by
 * the keys command (keys_cli.c), the admin endpoints (admin.c) and, for the audit trail, every
 * state-changing request of the HTTP API and of later commands. */
#ifndef RT_API_KEYS_H
#define RT_API_KEYS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "auth.h"
#include "rt_attr.h"

/* A timestamptz column as RFC 3339 UTC with microseconds, as the API writes every time. */
#define RT_SQL_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* A key to create. */
typedef struct rt_key_spec {
    const char *name;     /* 1..RT_KEY_NAME_MAX printable bytes */
    rt_scope_t scope;     /* read, control or admin */
    const char *job_glob; /* NULL or "" = every job; else 1..RT_KEY_GLOB_MAX printable bytes */
    int expires_days;     /* 0 = never; else 1..36500 */
} rt_key_spec_t;

/* Checks spec as a user gave it: 0, or -1 with a one-line reason naming the field. */
int rt_key_spec_check(const rt_key_spec_t *spec, char *err, size_t errsize) RT_MUSTCHECK;

/* Creates a key: generates it, stores its prefix and HMAC (never the key). Fills key
 * (RT_KEY_LEN + 1 bytes; the caller shows it once and wipes it) and *id. Returns 0, -1 with err
 * (bad spec: err starts with the field name), or -2 with err (database, randomness). */
int rt_keys_create(PGconn *conn, const rt_auth_secret_t *secret, const rt_key_spec_t *spec,
                   char *key, long long *id, char *err, size_t errsize) RT_MUSTCHECK;

/* Revokes the key with id (or, when id is 0, with prefix). Returns 1 revoked (now or before),
 * 0 no such key, -1 with err. *out_id gets the key's id. */
int rt_keys_revoke(PGconn *conn, long long id, const char *prefix, long long *out_id, char *err,
                   size_t errsize) RT_MUSTCHECK;

/* The keys, newest first: columns id, prefix, name, scope, job_glob (NULL = every job),
 * created_at, expires_at, revoked_at, last_used_at (RFC 3339 UTC text or NULL). Returns the
 * result (caller PQclear's) or NULL with err. */
PGresult *rt_keys_list(PGconn *conn, char *err, size_t errsize);

/* One state-changing request, as the audit trail records it. */
typedef struct rt_audit {
    const rt_principal_t *who; /* NULL or key_id 0 = no valid key */
    const char *action;        /* e.g. "keys.create" */
    const char *target;        /* what it acted on (may be NULL) */
    int result;                /* HTTP status (the keys command: 200 done, 404, 500) */
    const char *remote_addr;   /* client address, "local" for the keys command */
} rt_audit_t;

/* Appends a to audit_log in its own read-write transaction. 0, or -1 with err. Never pass a
 * key or secret in target. */
int rt_audit_write(PGconn *conn, const rt_audit_t *a, char *err, size_t errsize) RT_MUSTCHECK;

#endif
