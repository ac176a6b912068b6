/* Schema migrations: the SQL files of schemas/sql/ (NNNN_name.sql), embedded into the binary at
 * build time (schemas/embed_sql.cmake), applied in version order to a PostgreSQL database.
 *
 * Applied versions are recorded in the table schema_migrations (version integer PK, name text,
 * applied_at timestamptz), which the runner creates itself. Each migration runs in its own
 * transaction together with its schema_migrations row, under a transaction-scoped advisory lock
 * (RT_MIGRATE_LOCK_KEY), so two consumers starting at once apply each migration exactly once.
 *
 * Threads: the functions use only the connection they are given; call them from the thread that
 * owns that connection. They block on PostgreSQL. */
#ifndef RT_MIGRATE_H
#define RT_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

/* Key of the pg_advisory_xact_lock that serializes migration runners: "runtrack" in ASCII. */
#define RT_MIGRATE_LOCK_KEY 0x72756e747261636bLL

/* One embedded migration. */
typedef struct rt_migration {
    int version;      /* NNNN of the file name, >= 1, strictly increasing in rt_migrations[] */
    const char *name; /* the file name's "name" part */
    const char *sql;  /* the file's text; may hold several statements */
} rt_migration_t;

/* The embedded migrations in version order (generated from the files in schemas/sql/). */
extern const rt_migration_t rt_migrations[];
extern const size_t rt_migrations_count;

/* Version of the newest embedded migration. */
int rt_migrate_latest_version(void);

/* Applies, in version order, every embedded migration not yet recorded in schema_migrations,
 * each in its own transaction with its schema_migrations row. Idempotent: a second call applies
 * nothing. A version recorded under a different name than the embedded one is an error (the
 * database was migrated by a diverging build). Versions in the database that this build does not
 * know (a newer consumer ran) are left alone.
 * conn must be connected and idle (not inside a transaction); it is left idle on return.
 * *applied (may be NULL) receives the number of migrations this call applied, also on failure
 * (the ones committed before the failing one stay applied).
 * Returns 0, or -1 with a one-line message in errbuf naming the failing migration. */
__attribute__((warn_unused_result)) int rt_migrate_apply(PGconn *conn, int *applied, char *errbuf,
                                                         size_t errsize);

/* rt_migrate_apply with an explicit list (sorted by version); tests use it to exercise failure
 * and divergence handling without touching the real schema. */
__attribute__((warn_unused_result)) int rt_migrate_apply_list(PGconn *conn,
                                                              const rt_migration_t *list,
                                                              size_t count, int *applied,
                                                              char *errbuf, size_t errsize);

/* Reads the state of the database without changing it: *current (may be NULL) receives the
 * highest recorded version (0 if none, including when schema_migrations does not exist yet),
 * *pending (may be NULL) the number of embedded migrations not recorded yet.
 * Returns 0, or -1 with errbuf filled. */
__attribute__((warn_unused_result)) int rt_migrate_status(PGconn *conn, int *current, int *pending,
                                                          char *errbuf, size_t errsize);

#endif
