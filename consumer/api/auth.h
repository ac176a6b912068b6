/* API keys: who may use the HTTP API (docs/api.md, Authentication).
 *
 * A key is "rtk_" + 8 public characters (the prefix that finds its row) + "_" + 43 characters
 * of base64url from 32 random bytes. PostgreSQL keeps the prefix and HMAC-SHA256(server
 * secret, whole key), never the key (schemas/sql/0029_api_keys_audit.sql). A presented key is
 * found by its prefix and compared by HMAC in constant time.
 *
 * Callers: the HTTP API's dispatch (server.c) for every request that needs a scope, the keys
 * command and endpoints (keys.h), and whatever else must verify a key (a dashboard login):
 *
 *     rt_auth_secret_t s;
 *     if (rt_auth_load_secret(cfg, &s, err, sizeof err) != 0) ...   // at start
 *     rt_keyring_t *kr = rt_keyring_new(&s, cfg->auth_cache_ms, cfg->auth_touch_s);
 *     rt_principal_t who;
 *     rt_auth_result_t r = rt_keyring_verify(kr, key, my_conn_fn, my_arg, &who);
 *     if (r == RT_AUTH_OK && who.scope >= RT_SCOPE_CONTROL && rt_auth_job_allowed(&who, job)) ...
 *     rt_keyring_free(kr);
 */
#ifndef RT_API_AUTH_H
#define RT_API_AUTH_H

#include <libpq-fe.h>
#include <stddef.h>

#include "config.h"
#include "rt_attr.h"

/* What a route needs, and what a key grants: each scope includes the ones below it. */
typedef enum {
    RT_SCOPE_NONE = 0, /* open: no key needed */
    RT_SCOPE_READ,     /* the API, the dashboard, /metrics when metrics_auth */
    RT_SCOPE_CONTROL,  /* acting on runs (commands, leases, acknowledgements) */
    RT_SCOPE_ADMIN,    /* keys, schedules, alert channels, the audit trail */
} rt_scope_t;

/* "open", "read", "control", "admin". */
const char *rt_scope_name(rt_scope_t s);
/* read, control or admin into *out: 0, or -1 for anything else. */
int rt_scope_parse(const char *s, rt_scope_t *out) RT_MUSTCHECK;

#define RT_KEY_PREFIX_LEN  8   /* public part after "rtk_" */
#define RT_KEY_LEN         56  /* "rtk_" + prefix + "_" + 43 */
#define RT_KEY_NAME_MAX    64  /* a key's name, bytes */
#define RT_KEY_GLOB_MAX    256 /* a key's job glob, bytes */
#define RT_AUTH_HMAC_LEN   32  /* HMAC-SHA256 */
#define RT_AUTH_SECRET_MIN 16
#define RT_AUTH_SECRET_MAX 1024

/* The identity a verified key stands for. */
typedef struct rt_principal {
    long long key_id; /* api_keys.id; 0 = no key (auth off, or the keys command) */
    char name[RT_KEY_NAME_MAX + 1];
    rt_scope_t scope;
    char job_glob[RT_KEY_GLOB_MAX + 1]; /* "" = every job */
} rt_principal_t;

/* Why a presented key was refused. */
typedef enum {
    RT_AUTH_OK = 0,
    RT_AUTH_MISSING,     /* no Authorization: Bearer header */
    RT_AUTH_MALFORMED,   /* not of the key's form */
    RT_AUTH_UNKNOWN,     /* no such key (prefix unknown, or HMAC differs) */
    RT_AUTH_REVOKED,     /* a real key, revoked */
    RT_AUTH_EXPIRED,     /* a real key, past expires_at */
    RT_AUTH_UNAVAILABLE, /* PostgreSQL could not be asked */
} rt_auth_result_t;

/* A client-facing sentence for r; never contains the key. */
const char *rt_auth_result_text(rt_auth_result_t r);

/* The server secret, read once at start. Holds bytes, not a C string; wiped by
 * rt_auth_secret_wipe. */
typedef struct rt_auth_secret {
    unsigned char b[RT_AUTH_SECRET_MAX];
    size_t len; /* 0 = none configured */
} rt_auth_secret_t;

/* 1 when addr is an IPv4 loopback address (127.0.0.0/8). */
int rt_auth_addr_loopback(const char *addr);

/* Whether the HTTP API requires keys under cfg: auth "required", or "auto" with an http_addr
 * that is not a loopback address. Refuses (-1, err) auth "off" on a non-loopback address
 * unless auth_insecure. *insecure_off = 1 when keys are off on a non-loopback address (the
 * caller warns). */
int rt_auth_mode(const rt_config_t *cfg, int *required, int *insecure_off, char *err,
                 size_t errsize) RT_MUSTCHECK;

/* Fills s from auth_secret, else from the file auth_secret_file (one line; trailing newline
 * and whitespace dropped). Both set, an unreadable file or fewer than RT_AUTH_SECRET_MIN bytes:
 * -1 with err (which never holds the secret). Neither set: 0 with s->len 0. */
int rt_auth_load_secret(const rt_config_t *cfg, rt_auth_secret_t *s, char *err,
                        size_t errsize) RT_MUSTCHECK;
/* What to tell an operator who needs a secret (one sentence, for error messages). */
extern const char rt_auth_secret_howto[];
void rt_auth_secret_wipe(rt_auth_secret_t *s);

/* HMAC-SHA256(secret, key) into out. 0, or -1 (no secret, libcrypto failure). */
int rt_auth_hmac(const rt_auth_secret_t *s, const char *key,
                 unsigned char out[RT_AUTH_HMAC_LEN]) RT_MUSTCHECK;

/* A new key from getrandom(2) into key (RT_KEY_LEN + 1 bytes) and its prefix into prefix
 * (RT_KEY_PREFIX_LEN + 1 bytes). 0, or -1 when the kernel gave no randomness. */
int rt_auth_key_generate(char *key, char *prefix) RT_MUSTCHECK;
/* A session id (dashboard login, session.h): 32 bytes from getrandom(2) as RT_TOKEN_LEN
 * base64url characters into token (RT_TOKEN_LEN + 1 bytes). 0, or -1 without randomness. */
#define RT_TOKEN_LEN 43
int rt_auth_token_generate(char *token) RT_MUSTCHECK;
/* 1 when token has the form rt_auth_token_generate gives. */
int rt_auth_token_valid(const char *token);
/* Checks that key has the key's form and copies its prefix out (RT_KEY_PREFIX_LEN + 1 bytes).
 * 0, or -1. */
int rt_auth_key_prefix(const char *key, char *prefix) RT_MUSTCHECK;

/* The key of an Authorization header value "Bearer KEY" (scheme in any case, one or more
 * spaces), or NULL. */
const char *rt_auth_bearer(const char *authorization);

/* 1 when p may act on job: p has no job glob, or job matches it (fnmatch, no flags: '*'
 * matches '/' too, so the glob team_a/STAR covers "team_a/x/y"). */
int rt_auth_job_allowed(const rt_principal_t *p, const char *job);

/* Runs one statement in a read-write transaction on conn (whose sessions may default to read
 * only, as the API pool's do): BEGIN READ WRITE, the statement, COMMIT. Returns the
 * statement's result (caller PQclear's), or NULL with a one-line reason in err (rolled back). */
PGresult *rt_auth_exec_rw(PGconn *conn, const char *sql, int nparams, const char *const *params,
                          char *err, size_t errsize);

/* Verified keys, kept for a short time (auth_cache_ms) so that a request does not cost a
 * PostgreSQL round trip; safe to share between threads. */
typedef struct rt_keyring rt_keyring_t;

/* Copies the secret. cache_ms: how long a verified key is reused (0: never); touch_s: how
 * often last_used_at is written per key. NULL when out of memory. */
rt_keyring_t *rt_keyring_new(const rt_auth_secret_t *s, int cache_ms, int touch_s);
/* Wipes the secret and frees kr. NULL is a no-op. */
void rt_keyring_free(rt_keyring_t *kr);
const rt_auth_secret_t *rt_keyring_secret(const rt_keyring_t *kr);

/* Gives the connection to ask PostgreSQL with, or NULL when there is none (the callee has
 * recorded why). Called at most once per verification, only on a cache miss or a touch. */
typedef PGconn *(*rt_auth_conn_fn)(void *arg);

/* Verifies key: found by its prefix (cache, else PostgreSQL), its HMAC compared in constant
 * time, then revocation and expiry. Fills *who on RT_AUTH_OK. Writes last_used_at when the
 * key's last write is older than touch_s (a failure to write is logged, not fatal).
 * Thread: any; blocks on PostgreSQL on a cache miss. */
rt_auth_result_t rt_keyring_verify(rt_keyring_t *kr, const char *key, rt_auth_conn_fn conn_fn,
                                   void *conn_arg, rt_principal_t *who);

#endif
