/* Opening a PostgreSQL session for the parts that read or tend the tables beside ingestion: the
 * HTTP API's pool (read-only) and the maintenance thread (read-write). */
#ifndef RT_DB_CONNECT_H
#define RT_DB_CONNECT_H

#include <libpq-fe.h>
#include <stddef.h>

/* Connects with dsn and sets the session up: connect_timeout 5 s and application_name app_name
 * unless the DSN says otherwise, TimeZone UTC, statement_timeout statement_timeout_ms, and
 * default_transaction_read_only when read_only. Returns the connection (caller PQfinish'es), or
 * NULL and a one-line reason in err. Thread: any; blocks up to the connect timeout. */
PGconn *rt_db_connect(const char *dsn, const char *app_name, int read_only,
                      unsigned statement_timeout_ms, char *err, size_t errsize);

#endif
