/* The keys command (keys_cli.h). */
#include "keys_cli.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/connect.h"
#include "keys.h"
#include "rt_num.h"

const char rt_keys_cli_usage[] =
    "  keys create --name NAME --scope read|control|admin [--jobs GLOB] [--expires DAYS]\n"
    "                   create an API key and print it (shown only this once)\n"
    "  keys list        list API keys (never the keys themselves)\n"
    "  keys revoke ID|PREFIX\n"
    "                   revoke a key (refused within auth_cache_ms)\n";

/* Audits what the command did as "local" with no key (the operator holds the database). */
static void audit(PGconn *conn, const char *action, const char *target, int result, FILE *e)
{
    char err[256];
    rt_audit_t a = {.action = action, .target = target, .result = result, .remote_addr = "local"};
    if (rt_audit_write(conn, &a, err, sizeof err) != 0)
        fprintf(e, "runtrack-consumer: keys: audit trail not written: %s\n", err);
}

/* keys create: parses options into spec. 0, or 2 after printing why. */
static int parse_create(int argc, char **argv, rt_key_spec_t *spec, FILE *e)
{
    const char *scope = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t days = 0;
        if (!v) {
            fprintf(e, "runtrack-consumer: keys create: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--name")) {
            spec->name = v;
        } else if (!strcmp(a, "--scope")) {
            scope = v;
        } else if (!strcmp(a, "--jobs")) {
            spec->job_glob = v;
        } else if (!strcmp(a, "--expires") && rt_parse_i64(v, 1, 36500, &days) == 0) {
            spec->expires_days = (int)days;
        } else {
            fprintf(e,
                    "runtrack-consumer: keys create: bad argument %s %.80s (--expires: days "
                    "1..36500)\n",
                    a, v);
            return 2;
        }
        i++;
    }
    char err[160];
    if (!scope || rt_scope_parse(scope, &spec->scope) != 0) {
        fprintf(e, "runtrack-consumer: keys create: --scope read, control or admin is needed\n");
        return 2;
    }
    if (rt_key_spec_check(spec, err, sizeof err) != 0) {
        fprintf(e, "runtrack-consumer: keys create: --%s\n", err);
        return 2;
    }
    return 0;
}

static int cmd_create(const rt_config_t *cfg, PGconn *conn, int argc, char **argv, FILE *o, FILE *e)
{
    rt_key_spec_t spec = {0};
    rt_auth_secret_t secret;
    char err[512], key[RT_KEY_LEN + 1], target[128];
    long long id = 0;
    int rc = parse_create(argc, argv, &spec, e);
    if (rc != 0)
        return rc;
    if (rt_auth_load_secret(cfg, &secret, err, sizeof err) != 0) {
        fprintf(e, "runtrack-consumer: keys create: %s\n", err);
        return 1;
    }
    if (secret.len == 0) {
        fprintf(e, "runtrack-consumer: keys create: no server secret is configured: %s\n",
                rt_auth_secret_howto);
        return 1;
    }
    rc = rt_keys_create(conn, &secret, &spec, key, &id, err, sizeof err);
    rt_auth_secret_wipe(&secret);
    if (rc != 0) {
        fprintf(e, "runtrack-consumer: keys create: %s\n", err);
        return rc == -1 ? 2 : 1;
    }
    fprintf(o, "%s\n", key);
    fflush(o);
    OPENSSL_cleanse(key, sizeof key);
    snprintf(target, sizeof target, "key %lld", id);
    audit(conn, "keys.create", target, 200, e);
    fprintf(e, "created API key %lld \"%s\" (scope %s%s%s%s): shown only now, keep it secret\n", id,
            spec.name, rt_scope_name(spec.scope), spec.job_glob ? ", jobs " : "",
            spec.job_glob ? spec.job_glob : "", spec.expires_days ? ", expires" : "");
    return 0;
}

static int cmd_list(PGconn *conn, FILE *o, FILE *e)
{
    char err[256];
    PGresult *r = rt_keys_list(conn, err, sizeof err);
    if (!r) {
        fprintf(e, "runtrack-consumer: keys list: %s\n", err);
        return 1;
    }
    static const char *const head[] = {"id",      "prefix",  "name",    "scope",    "jobs",
                                       "created", "expires", "revoked", "last_used"};
    for (int c = 0; c < 9; c++)
        fprintf(o, "%s%c", head[c], c == 8 ? '\n' : '\t');
    for (int i = 0; i < PQntuples(r); i++)
        for (int c = 0; c < 9; c++)
            fprintf(o, "%s%c", PQgetisnull(r, i, c) ? "-" : PQgetvalue(r, i, c),
                    c == 8 ? '\n' : '\t');
    PQclear(r);
    return 0;
}

static int cmd_revoke(PGconn *conn, int argc, char **argv, FILE *o, FILE *e)
{
    char err[256], target[64], prefix[RT_KEY_PREFIX_LEN + 1] = "";
    int64_t id = 0;
    long long got = 0;
    const char *a = argc == 2 ? argv[1] : "";
    if (!strncmp(a, "rtk_", 4))
        a += 4;
    if (rt_parse_i64(a, 1, INT64_MAX, &id) != 0) {
        if (strlen(a) < RT_KEY_PREFIX_LEN ||
            (a[RT_KEY_PREFIX_LEN] != '\0' && a[RT_KEY_PREFIX_LEN] != '_')) {
            fprintf(e, "runtrack-consumer: keys revoke: give one key id or prefix\n");
            return 2;
        }
        memcpy(prefix, a, RT_KEY_PREFIX_LEN);
    }
    int found = rt_keys_revoke(conn, (long long)id, prefix, &got, err, sizeof err);
    if (found < 0) {
        fprintf(e, "runtrack-consumer: keys revoke: %s\n", err);
        return 1;
    }
    snprintf(target, sizeof target, "key %lld", found ? got : (long long)id);
    audit(conn, "keys.revoke", target, found ? 200 : 404, e);
    if (!found) {
        fprintf(e, "runtrack-consumer: keys revoke: no such key\n");
        return 3;
    }
    fprintf(o, "revoked key %lld\n", got);
    return 0;
}

int rt_keys_cli(const rt_config_t *cfg, int argc, char **argv, FILE *out, FILE *err_out)
{
    const char *sub = argc > 0 ? argv[0] : "";
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fprintf(out, "usage: runtrack-consumer [--config FILE] keys ...\n%s", rt_keys_cli_usage);
            return 0;
        }
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
        fprintf(err_out, "runtrack-consumer: keys: expected create, list or revoke\n");
        return 2;
    }
    char err[512];
    PGconn *conn = rt_db_connect(cfg->pg_dsn, "runtrack-keys", 0, 10000, err, sizeof err);
    if (!conn) {
        fprintf(err_out, "runtrack-consumer: keys: %s\n", err);
        return 1;
    }
    int rc = !strcmp(sub, "create") ? cmd_create(cfg, conn, argc, argv, out, err_out)
             : !strcmp(sub, "list") ? cmd_list(conn, out, err_out)
                                    : cmd_revoke(conn, argc, argv, out, err_out);
    PQfinish(conn);
    return rc;
}
