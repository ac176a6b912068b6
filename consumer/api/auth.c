/* API keys: form, HMAC, the server secret, the auth mode and the verified-key cache (auth.h). */
#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "rt_num.h"

const char rt_auth_secret_howto[] =
    "create one with 'head -c 32 /dev/urandom | base64 > /etc/runtrack/auth_secret' (mode 0600) "
    "and set auth_secret_file (RUNTRACK_AUTH_SECRET_FILE) or RUNTRACK_AUTH_SECRET";

static const char *const scope_names[] = {"open", "read", "control", "admin"};

const char *rt_scope_name(rt_scope_t s)
{
    return (unsigned)s < sizeof scope_names / sizeof scope_names[0] ? scope_names[s] : "?";
}

int rt_scope_parse(const char *s, rt_scope_t *out)
{
    for (int i = RT_SCOPE_READ; i <= RT_SCOPE_ADMIN; i++)
        if (s && !strcmp(s, scope_names[i])) {
            *out = (rt_scope_t)i;
            return 0;
        }
    return -1;
}

const char *rt_auth_result_text(rt_auth_result_t r)
{
    switch (r) {
    case RT_AUTH_OK:
        return "ok";
    case RT_AUTH_MISSING:
        return "an API key is required: send Authorization: Bearer KEY";
    case RT_AUTH_MALFORMED:
        return "the Authorization header holds no API key of the form rtk_...";
    case RT_AUTH_UNKNOWN:
        return "unknown API key";
    case RT_AUTH_REVOKED:
        return "this API key has been revoked";
    case RT_AUTH_EXPIRED:
        return "this API key has expired";
    case RT_AUTH_UNAVAILABLE:
        return "API keys cannot be checked: database unreachable";
    }
    return "?";
}

int rt_auth_addr_loopback(const char *addr)
{
    struct in_addr a;
    return addr && inet_pton(AF_INET, addr, &a) == 1 && ntohl(a.s_addr) >> 24 == 127;
}

int rt_auth_mode(const rt_config_t *cfg, int *required, int *insecure_off, char *err,
                 size_t errsize)
{
    int loopback = rt_auth_addr_loopback(cfg->http_addr);
    const char *mode = cfg->auth ? cfg->auth : "auto";
    *insecure_off = 0;
    if (!strcmp(mode, "required") || (!strcmp(mode, "auto") && !loopback)) {
        *required = 1;
        return 0;
    }
    *required = 0;
    if (loopback || strcmp(mode, "off") != 0)
        return 0;
    if (!cfg->auth_insecure) {
        snprintf(err, errsize,
                 "auth = off on http_addr %.64s, which is not a loopback address: anyone who "
                 "reaches the port could read every run and log; use auth = required, or set "
                 "auth_insecure = true to accept that",
                 cfg->http_addr);
        return -1;
    }
    *insecure_off = 1;
    return 0;
}

/* Reads the first line of path into s (trailing whitespace dropped). 0, or -1 with err. */
static int secret_from_file(const char *path, rt_auth_secret_t *s, char *err, size_t errsize)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsize, "auth_secret_file %.200s: cannot read it (%s)", path,
                 strerror(errno));
        return -1;
    }
    size_t n = fread(s->b, 1, sizeof s->b, f);
    int too_long = n == sizeof s->b && fgetc(f) != EOF;
    fclose(f);
    if (too_long) {
        OPENSSL_cleanse(s->b, sizeof s->b);
        snprintf(err, errsize, "auth_secret_file %.200s: longer than %d bytes", path,
                 RT_AUTH_SECRET_MAX - 1);
        return -1;
    }
    size_t line = 0;
    while (line < n && s->b[line] != '\n')
        line++;
    while (line > 0 && isspace(s->b[line - 1]))
        line--;
    OPENSSL_cleanse(s->b + line, sizeof s->b - line);
    s->len = line;
    return 0;
}

int rt_auth_load_secret(const rt_config_t *cfg, rt_auth_secret_t *s, char *err, size_t errsize)
{
    const char *inline_secret = cfg->auth_secret ? cfg->auth_secret : "";
    const char *file = cfg->auth_secret_file ? cfg->auth_secret_file : "";
    memset(s, 0, sizeof *s);
    if (*inline_secret && *file) {
        snprintf(err, errsize, "auth_secret and auth_secret_file are both set: keep one");
        return -1;
    }
    if (*inline_secret) {
        size_t n = strlen(inline_secret);
        if (n >= sizeof s->b) {
            snprintf(err, errsize, "auth_secret: longer than %d bytes", RT_AUTH_SECRET_MAX - 1);
            return -1;
        }
        memcpy(s->b, inline_secret, n);
        s->len = n;
    } else if (*file && secret_from_file(file, s, err, errsize) != 0) {
        return -1;
    }
    if (s->len > 0 && s->len < RT_AUTH_SECRET_MIN) {
        rt_auth_secret_wipe(s);
        snprintf(err, errsize, "the server secret (%s) is shorter than %d bytes; %s",
                 *file ? "auth_secret_file" : "auth_secret", RT_AUTH_SECRET_MIN,
                 rt_auth_secret_howto);
        return -1;
    }
    return 0;
}

void rt_auth_secret_wipe(rt_auth_secret_t *s)
{
    OPENSSL_cleanse(s, sizeof *s);
}

int rt_auth_hmac(const rt_auth_secret_t *s, const char *key, unsigned char out[RT_AUTH_HMAC_LEN])
{
    unsigned int len = 0;
    if (!s || s->len == 0)
        return -1;
    if (!HMAC(EVP_sha256(), s->b, (int)s->len, (const unsigned char *)key, strlen(key), out,
              &len) ||
        len != RT_AUTH_HMAC_LEN)
        return -1;
    return 0;
}

static const char prefix_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* n random bytes as base64url without padding into out (4 * n / 3 + 2 bytes). */
static void b64url_encode(const unsigned char *b, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | b[i];
        bits += 8;
        while (bits >= 6) {
            *out++ = b64url[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits)
        *out++ = b64url[(acc << (6 - bits)) & 63];
    *out = '\0';
}

int rt_auth_key_generate(char *key, char *prefix)
{
    unsigned char r[RT_KEY_PREFIX_LEN + 33];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    /* 252 = 7 * 36: bytes at or above it are redrawn so every prefix character is uniform. */
    for (size_t i = 0; i < RT_KEY_PREFIX_LEN; i++) {
        while (r[i] >= 252)
            if (getrandom(&r[i], 1, 0) != 1)
                return -1;
        prefix[i] = prefix_chars[r[i] % 36];
    }
    prefix[RT_KEY_PREFIX_LEN] = '\0';
    char *p = key + snprintf(key, RT_KEY_LEN + 1, "rtk_%s_", prefix);
    /* 32 random bytes (256 bits) as 43 base64url characters, no padding. */
    b64url_encode(r + RT_KEY_PREFIX_LEN, 32, p);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

int rt_auth_token_generate(char *token)
{
    unsigned char r[32];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    b64url_encode(r, sizeof r, token);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

int rt_auth_token_valid(const char *token)
{
    return token && strlen(token) == RT_TOKEN_LEN && strspn(token, b64url) == RT_TOKEN_LEN;
}

int rt_auth_key_prefix(const char *key, char *prefix)
{
    if (!key || strlen(key) != RT_KEY_LEN || strncmp(key, "rtk_", 4) != 0 ||
        key[4 + RT_KEY_PREFIX_LEN] != '_')
        return -1;
    for (size_t i = 0; i < RT_KEY_PREFIX_LEN; i++)
        if (!strchr(prefix_chars, key[4 + i]) || !key[4 + i])
            return -1;
    const char *rest = key + 5 + RT_KEY_PREFIX_LEN;
    if (strspn(rest, b64url) != strlen(rest))
        return -1;
    memcpy(prefix, key + 4, RT_KEY_PREFIX_LEN);
    prefix[RT_KEY_PREFIX_LEN] = '\0';
    return 0;
}

const char *rt_auth_bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *k = authorization + 7;
    while (*k == ' ')
        k++;
    return *k ? k : NULL;
}

int rt_auth_job_allowed(const rt_principal_t *p, const char *job)
{
    return !p->job_glob[0] || (job && fnmatch(p->job_glob, job, 0) == 0);
}

PGresult *rt_auth_exec_rw(PGconn *conn, const char *sql, int nparams, const char *const *params,
                          char *err, size_t errsize)
{
    PGresult *r = PQexec(conn, "BEGIN READ WRITE");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errsize, "%.*s", (int)strcspn(PQerrorMessage(conn), "\n"),
                 PQerrorMessage(conn));
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        r = PQexec(conn, "COMMIT");
        st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_COMMAND_OK)
            return res;
    }
    const char *msg = PQerrorMessage(conn);
    snprintf(err, errsize, "%.*s", (int)strcspn(msg, "\n"), msg);
    PQclear(res);
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return NULL;
}
