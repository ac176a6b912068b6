/* Schema migration runner: applies the embedded schemas/sql/ migrations in version order. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version integer PRIMARY KEY,"
                                       " name text NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now())";

/* Writes "prefix: detail" into errbuf as one line: PostgreSQL messages end in a newline and may
 * carry DETAIL/HINT lines, which become spaces so that logs keep one line per error. */
static void set_err(char *errbuf, size_t errsize, const char *prefix, const char *detail)
{
    if (!errbuf || errsize == 0)
        return;
    snprintf(errbuf, errsize, "%s%s%s", prefix, detail && *detail ? ": " : "",
             detail ? detail : "");
    size_t len = strlen(errbuf);
    while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == ' '))
        errbuf[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (errbuf[i] == '\n' || errbuf[i] == '\t')
            errbuf[i] = ' ';
}

/* The server's message for a failed result, or the connection's when there is no result (out of
 * memory, lost connection). */
static const char *result_error(PGconn *conn, const PGresult *res)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    return msg && *msg ? msg : PQerrorMessage(conn);
}

/* Runs sql (no parameters; may hold several statements). Returns 0 if the last statement
 * succeeded, -1 with errbuf = "what: server message" otherwise. */
static int exec_cmd(PGconn *conn, const char *sql, const char *what, char *errbuf, size_t errsize)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        set_err(errbuf, errsize, what, result_error(conn, res));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* Opens a transaction holding the migration advisory lock. Notices are silenced for the
 * transaction so that "relation already exists, skipping" does not reach the consumer's stderr. */
static int begin_locked(PGconn *conn, char *errbuf, size_t errsize)
{
    char lock_sql[96];
    snprintf(lock_sql, sizeof lock_sql, "SELECT pg_advisory_xact_lock(%lld)",
             (long long)RT_MIGRATE_LOCK_KEY);
    if (exec_cmd(conn, "BEGIN", "migrate: BEGIN", errbuf, errsize) < 0)
        return -1;
    if (exec_cmd(conn, "SET LOCAL client_min_messages = warning", "migrate: SET", errbuf, errsize) <
        0)
        return -1;
    return exec_cmd(conn, lock_sql, "migrate: advisory lock", errbuf, errsize);
}

/* Checks the list is usable: versions >= 1 and strictly increasing, names and SQL present. */
static int check_list(const rt_migration_t *list, size_t count, char *errbuf, size_t errsize)
{
    for (size_t i = 0; i < count; i++) {
        if (list[i].version < 1 || !list[i].name || !list[i].sql ||
            (i > 0 && list[i].version <= list[i - 1].version)) {
            char msg[80];
            snprintf(msg, sizeof msg,
                     "migrate: embedded migration #%zu is malformed or out of order", i);
            set_err(errbuf, errsize, msg, NULL);
            return -1;
        }
    }
    return 0;
}

/* Applies one migration inside an open, locked transaction unless it is already recorded.
 * Sets *did to 1 when it ran the SQL. Returns 0 or -1 (transaction left for the caller to roll
 * back). */
static int apply_one(PGconn *conn, const rt_migration_t *m, int *did, char *errbuf, size_t errsize)
{
    char version[16], prefix[160];
    const char *params[2] = {version, m->name};
    PGresult *res = NULL;
    int rc = -1;

    *did = 0;
    snprintf(version, sizeof version, "%d", m->version);
    snprintf(prefix, sizeof prefix, "migration %04d_%s", m->version, m->name);

    res = PQexecParams(conn, "SELECT name FROM schema_migrations WHERE version = $1::integer", 1,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        set_err(errbuf, errsize, "migrate: reading schema_migrations", result_error(conn, res));
        goto out;
    }
    if (PQntuples(res) == 1) {
        /* Recorded already; the same version under another name means the database was
         * migrated by a build whose migrations diverge from ours: refuse rather than guess. */
        if (strcmp(PQgetvalue(res, 0, 0), m->name) != 0) {
            char detail[160];
            snprintf(detail, sizeof detail, "database records version %d as \"%.64s\"", m->version,
                     PQgetvalue(res, 0, 0));
            set_err(errbuf, errsize, prefix, detail);
            goto out;
        }
        rc = 0;
        goto out;
    }
    PQclear(res);
    res = NULL;

    if (exec_cmd(conn, m->sql, prefix, errbuf, errsize) < 0)
        goto out;

    res =
        PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)",
                     2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_err(errbuf, errsize, "migrate: recording migration", result_error(conn, res));
        goto out;
    }
    *did = 1;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* Rolls back whatever transaction a failure left open so the connection is idle again. */
static void rollback_if_open(PGconn *conn)
{
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}

int rt_migrate_apply_list(PGconn *conn, const rt_migration_t *list, size_t count, int *applied,
                          char *errbuf, size_t errsize)
{
    int n = 0, rc = -1;

    if (applied)
        *applied = 0;
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        set_err(errbuf, errsize, "migrate: no usable PostgreSQL connection",
                conn ? PQerrorMessage(conn) : NULL);
        return -1;
    }
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        set_err(errbuf, errsize, "migrate: connection is busy or inside a transaction", NULL);
        return -1;
    }
    if (check_list(list, count, errbuf, errsize) < 0)
        return -1;

    /* Creating the bookkeeping table under the lock too: concurrent CREATE TABLE IF NOT EXISTS
     * can otherwise fail with a unique violation in the catalog. */
    if (begin_locked(conn, errbuf, errsize) < 0 ||
        exec_cmd(conn, create_table_sql, "migrate: creating schema_migrations", errbuf, errsize) <
            0 ||
        exec_cmd(conn, "COMMIT", "migrate: COMMIT", errbuf, errsize) < 0)
        goto out;

    for (size_t i = 0; i < count; i++) {
        int did = 0;
        if (begin_locked(conn, errbuf, errsize) < 0 ||
            apply_one(conn, &list[i], &did, errbuf, errsize) < 0 ||
            exec_cmd(conn, "COMMIT", "migrate: COMMIT", errbuf, errsize) < 0)
            goto out;
        n += did;
    }
    rc = 0;
out:
    if (rc < 0)
        rollback_if_open(conn);
    if (applied)
        *applied = n;
    return rc;
}

int rt_migrate_apply(PGconn *conn, int *applied, char *errbuf, size_t errsize)
{
    return rt_migrate_apply_list(conn, rt_migrations, rt_migrations_count, applied, errbuf,
                                 errsize);
}

int rt_migrate_latest_version(void)
{
    return rt_migrations_count ? rt_migrations[rt_migrations_count - 1].version : 0;
}

int rt_migrate_status(PGconn *conn, int *current, int *pending, char *errbuf, size_t errsize)
{
    PGresult *res = NULL;
    int rc = -1, cur = 0, pend = 0;

    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        set_err(errbuf, errsize, "migrate: no usable PostgreSQL connection",
                conn ? PQerrorMessage(conn) : NULL);
        return -1;
    }
    res = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        set_err(errbuf, errsize, "migrate: looking up schema_migrations", result_error(conn, res));
        goto out;
    }
    int exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    res = NULL;

    if (exists) {
        res = PQexec(conn, "SELECT version FROM schema_migrations ORDER BY version");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            set_err(errbuf, errsize, "migrate: reading schema_migrations", result_error(conn, res));
            goto out;
        }
    }
    /* Both lists are sorted, so one merge pass counts the embedded versions not recorded. */
    int rows = res ? PQntuples(res) : 0, r = 0;
    for (size_t i = 0; i < rt_migrations_count; i++) {
        int want = rt_migrations[i].version;
        while (r < rows) {
            long v = strtol(PQgetvalue(res, r, 0), NULL, 10);
            if (v >= want)
                break;
            r++;
        }
        if (r >= rows || strtol(PQgetvalue(res, r, 0), NULL, 10) != want)
            pend++;
    }
    if (rows > 0) {
        /* An integer column, so the text is always a valid int. */
        cur = (int)strtol(PQgetvalue(res, rows - 1, 0), NULL, 10);
    }
    rc = 0;
out:
    PQclear(res);
    if (rc == 0) {
        if (current)
            *current = cur;
        if (pending)
            *pending = pend;
    }
    return rc;
}
