/* The verified-key cache and rt_keyring_verify (auth.h). */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "log.h"
#include "rt_num.h"

/* Enough for every key a fleet uses at once; past it the entry verified longest ago goes. */
#define KEYRING_SLOTS 64

/* One key as PostgreSQL last described it. */
typedef struct key_entry {
    char prefix[RT_KEY_PREFIX_LEN + 1]; /* "" = free slot */
    unsigned char hmac[RT_AUTH_HMAC_LEN];
    rt_principal_t who;
    int revoked;
    double expires_at; /* wall clock, s; 0 = never */
    double fetched;    /* monotonic s when read from PostgreSQL */
    double touched;    /* monotonic s of the last last_used_at write; 0 = not yet */
} key_entry_t;

struct rt_keyring {
    rt_auth_secret_t secret;
    double cache_s, touch_s;
    pthread_mutex_t mu;
    key_entry_t slots[KEYRING_SLOTS];
};

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

rt_keyring_t *rt_keyring_new(const rt_auth_secret_t *s, int cache_ms, int touch_s)
{
    rt_keyring_t *kr = calloc(1, sizeof *kr);
    if (!kr)
        return NULL;
    kr->secret = *s;
    kr->cache_s = cache_ms / 1000.0;
    kr->touch_s = touch_s;
    pthread_mutex_init(&kr->mu, NULL);
    return kr;
}

void rt_keyring_free(rt_keyring_t *kr)
{
    if (!kr)
        return;
    pthread_mutex_destroy(&kr->mu);
    OPENSSL_cleanse(kr, sizeof *kr);
    free(kr);
}

const rt_auth_secret_t *rt_keyring_secret(const rt_keyring_t *kr)
{
    return &kr->secret;
}

/* Reads the row of prefix into e. 1 found, 0 no such prefix, -1 PostgreSQL failed. */
static int fetch_key(PGconn *conn, const char *prefix, key_entry_t *e)
{
    const char *params[1] = {prefix};
    PGresult *r =
        PQexecParams(conn,
                     "SELECT id, encode(hmac, 'hex'), name, scope, coalesce(job_glob, ''), "
                     "revoked_at IS NOT NULL, coalesce(extract(epoch FROM expires_at)::float8, 0) "
                     "FROM api_keys WHERE prefix = $1",
                     1, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rt_log(RT_L_WARN, "api keys: lookup failed", "error=\"%.*s\"",
               (int)strcspn(PQerrorMessage(conn), "\n\""), PQerrorMessage(conn));
        goto out;
    }
    rc = 0;
    if (PQntuples(r) != 1)
        goto out;
    memset(e, 0, sizeof *e);
    int64_t id = 0;
    const char *hex = PQgetvalue(r, 0, 1);
    if (rt_parse_i64(PQgetvalue(r, 0, 0), 1, INT64_MAX, &id) != 0 ||
        strlen(hex) != 2 * RT_AUTH_HMAC_LEN ||
        rt_scope_parse(PQgetvalue(r, 0, 3), &e->who.scope) != 0) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < RT_AUTH_HMAC_LEN; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        e->hmac[i] = (unsigned char)v;
    }
    e->who.key_id = (long long)id;
    snprintf(e->who.name, sizeof e->who.name, "%s", PQgetvalue(r, 0, 2));
    snprintf(e->who.job_glob, sizeof e->who.job_glob, "%s", PQgetvalue(r, 0, 4));
    e->revoked = PQgetvalue(r, 0, 5)[0] == 't';
    e->expires_at = strtod(PQgetvalue(r, 0, 6), NULL);
    snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
    rc = 1;
out:
    PQclear(r);
    return rc;
}

/* The slot of prefix however old, or NULL. Under kr->mu. */
static key_entry_t *find_slot(rt_keyring_t *kr, const char *prefix)
{
    for (size_t i = 0; i < KEYRING_SLOTS; i++)
        if (!strcmp(kr->slots[i].prefix, prefix))
            return &kr->slots[i];
    return NULL;
}

/* The slot of prefix when fresh enough to answer from, or NULL. Under kr->mu. */
static key_entry_t *cached(rt_keyring_t *kr, const char *prefix, double mono)
{
    key_entry_t *s = find_slot(kr, prefix);
    return s && mono - s->fetched < kr->cache_s ? s : NULL;
}

/* Keeps e (replacing the slot of its prefix, else a free or the oldest one); returns the
 * touch time the kept slot had. Under kr->mu. */
static double keep(rt_keyring_t *kr, const key_entry_t *e)
{
    key_entry_t *slot = &kr->slots[0];
    for (size_t i = 0; i < KEYRING_SLOTS; i++) {
        key_entry_t *s = &kr->slots[i];
        if (!strcmp(s->prefix, e->prefix)) {
            slot = s;
            break;
        }
        if (!s->prefix[0] || s->fetched < slot->fetched)
            slot = s;
    }
    double touched = !strcmp(slot->prefix, e->prefix) ? slot->touched : 0;
    *slot = *e;
    slot->touched = touched;
    return touched;
}

/* Writes last_used_at of key id (failures are logged: a use is not refused for it). */
static void touch(PGconn *conn, long long id)
{
    char idtext[24], err[256];
    snprintf(idtext, sizeof idtext, "%lld", id);
    const char *params[1] = {idtext};
    PGresult *r = rt_auth_exec_rw(conn, "UPDATE api_keys SET last_used_at = now() WHERE id = $1", 1,
                                  params, err, sizeof err);
    if (!r)
        rt_log(RT_L_WARN, "api keys: last_used_at not written", "key_id=%lld error=\"%s\"", id,
               err);
    PQclear(r);
}

rt_auth_result_t rt_keyring_verify(rt_keyring_t *kr, const char *key, rt_auth_conn_fn conn_fn,
                                   void *conn_arg, rt_principal_t *who)
{
    char prefix[RT_KEY_PREFIX_LEN + 1];
    unsigned char mac[RT_AUTH_HMAC_LEN];
    if (!key)
        return RT_AUTH_MISSING;
    if (rt_auth_key_prefix(key, prefix) != 0)
        return RT_AUTH_MALFORMED;
    if (rt_auth_hmac(&kr->secret, key, mac) != 0)
        return RT_AUTH_UNAVAILABLE;
    double mono = now_s(CLOCK_MONOTONIC);
    key_entry_t e;
    PGconn *conn = NULL;
    pthread_mutex_lock(&kr->mu);
    key_entry_t *hit = cached(kr, prefix, mono);
    if (hit)
        e = *hit;
    pthread_mutex_unlock(&kr->mu);
    if (!hit) {
        int found = (conn = conn_fn(conn_arg)) ? fetch_key(conn, prefix, &e) : -1;
        if (found < 0)
            return RT_AUTH_UNAVAILABLE;
        if (found == 0)
            return RT_AUTH_UNKNOWN;
        e.fetched = mono;
        pthread_mutex_lock(&kr->mu);
        e.touched = keep(kr, &e);
        pthread_mutex_unlock(&kr->mu);
    }
    /* Constant time: a guess learns nothing from how long the comparison took. */
    if (CRYPTO_memcmp(mac, e.hmac, sizeof mac) != 0)
        return RT_AUTH_UNKNOWN;
    if (e.revoked)
        return RT_AUTH_REVOKED;
    if (e.expires_at > 0 && now_s(CLOCK_REALTIME) >= e.expires_at)
        return RT_AUTH_EXPIRED;
    *who = e.who;
    if (e.touched == 0 || mono - e.touched >= kr->touch_s) {
        pthread_mutex_lock(&kr->mu);
        key_entry_t *s = find_slot(kr, prefix);
        if (s)
            s->touched = mono;
        pthread_mutex_unlock(&kr->mu);
        if (conn || (conn = conn_fn(conn_arg)))
            touch(conn, e.who.key_id);
    }
    return RT_AUTH_OK;
}
