/* One way to open an API or maintenance session (connect.h). */
#include "connect.h"

#include <stdio.h>
#include <string.h>

PGconn *rt_db_connect(const char *dsn, const char *app_name, int read_only,
                      unsigned statement_timeout_ms, char *err, size_t errsize)
{
    /* Keywords before dbname are defaults the DSN may override (libpq keeps the last value). */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"5", app_name, dsn, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        snprintf(err, errsize, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(conn);
        snprintf(err, errsize, "cannot connect to PostgreSQL: %.*s", (int)strcspn(m, "\n"), m);
        PQfinish(conn);
        return NULL;
    }
    char stmt[64];
    snprintf(stmt, sizeof stmt, "%u", statement_timeout_ms);
    const char *const params[] = {stmt, read_only ? "on" : "off"};
    PGresult *r = PQexecParams(conn,
                               "SELECT set_config('TimeZone', 'UTC', false),"
                               " set_config('statement_timeout', $1, false),"
                               " set_config('default_transaction_read_only', $2, false)",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errsize, "cannot set up PostgreSQL session: %.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        PQfinish(conn);
        return NULL;
    }
    PQclear(r);
    return conn;
}
