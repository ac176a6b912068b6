/* Integration test of consumer/db/migrate.c and schemas/sql/ against a real PostgreSQL
 * (RUNTRACK_PG_DSN; the test owns the database it points to and drops what it creates).
 * What users rely on: the migrations apply once and only once, run_results and discovery_runs
 * are the seeds' tables column for column, and the seeds' own queries run unchanged. */
#include "harness.h"
#include "db/migrate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static PGconn *connect_db(void)
{
    const char *dsn = getenv("RUNTRACK_PG_DSN");
    if (!dsn || !*dsn) {
        fprintf(stderr, "RUNTRACK_PG_DSN is not set\n");
        return NULL;
    }
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Runs sql; returns 1 if it succeeded (any result rows are discarded). */
static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "SQL failed: %s\n  %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* First column of the first row of sql as text, copied into buf ("" and 0 on failure or no
 * row, "(null)" for NULL). */
static int query_value(PGconn *c, const char *sql, char *buf, size_t size)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1;
    if (ok)
        snprintf(buf, size, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    else {
        fprintf(stderr, "query failed: %s\n  %s", sql, PQresultErrorMessage(r));
        buf[0] = '\0';
    }
    PQclear(r);
    return ok;
}

/* Starts from an empty public schema so the test does not depend on what ran before. */
static int reset_schema(PGconn *c)
{
    return exec_ok(c, "SET client_min_messages = warning") &&
           exec_ok(c, "DROP SCHEMA IF EXISTS public CASCADE") && exec_ok(c, "CREATE SCHEMA public");
}

/* A connection to an empty schema with every migration applied; NULL (having said why) when
 * any step failed. */
static PGconn *migrated_db(void)
{
    char err[512] = "";
    int applied = -1;
    PGconn *c = connect_db();
    if (c && reset_schema(c) && rt_migrate_apply(c, &applied, err, sizeof err) == 0)
        return c;
    if (c)
        fprintf(stderr, "migrate: %s\n", err[0] ? err : "could not reset the schema");
    PQfinish(c);
    return NULL;
}

/* The embedded table is what the build produced from schemas/sql/: sorted, named, non-empty, and
 * starting with the agreed tables in their agreed order. */
static void test_embedded_list(test_state_t *ts)
{
    static const char *const tables[] = {"run_results", "discovery_runs", "runs",
                                         "run_logs",    "dead_letters",   "consumer_offsets"};
    REQUIRE(ts, rt_migrations_count >= 6);
    for (size_t i = 0; i < rt_migrations_count; i++) {
        CHECK(ts, rt_migrations[i].version >= 1);
        CHECK(ts, i == 0 || rt_migrations[i].version > rt_migrations[i - 1].version);
        CHECK(ts, rt_migrations[i].name && rt_migrations[i].name[0]);
        CHECK(ts, rt_migrations[i].sql && rt_migrations[i].sql[0]);
    }
    for (size_t i = 0; i < 6; i++) {
        CHECK(ts, rt_migrations[i].version == (int)i + 1);
        CHECK_STR(ts, rt_migrations[i].name, tables[i]);
    }
    CHECK(ts, rt_migrate_latest_version() == rt_migrations[rt_migrations_count - 1].version);
}

/* Applying twice applies everything once, then nothing; status agrees. */
static void test_apply_idempotent(test_state_t *ts)
{
    char err[512] = "";
    int applied = -1, current = -1, pending = -1;
    PGconn *c = connect_db();
    REQUIRE(ts, c != NULL);
    REQUIRE(ts, reset_schema(c));

    CHECK(ts, rt_migrate_status(c, &current, &pending, err, sizeof err) == 0);
    CHECK(ts, current == 0);
    CHECK(ts, pending == (int)rt_migrations_count);

    int rc = rt_migrate_apply(c, &applied, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "first apply: %s\n", err);
    CHECK(ts, rc == 0);
    CHECK(ts, applied == (int)rt_migrations_count);
    CHECK(ts, PQtransactionStatus(c) == PQTRANS_IDLE);

    applied = -1;
    rc = rt_migrate_apply(c, &applied, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "second apply: %s\n", err);
    CHECK(ts, rc == 0);
    CHECK(ts, applied == 0);

    CHECK(ts, rt_migrate_status(c, &current, &pending, err, sizeof err) == 0);
    CHECK(ts, current == rt_migrate_latest_version());
    CHECK(ts, pending == 0);

    char buf[64];
    CHECK(ts, query_value(c, "SELECT count(*) FROM schema_migrations", buf, sizeof buf));
    CHECK(ts, strtol(buf, NULL, 10) == (long)rt_migrations_count);
    CHECK(ts,
          query_value(c, "SELECT name FROM schema_migrations WHERE version = 3", buf, sizeof buf));
    CHECK_STR(ts, buf, "runs");
    PQfinish(c);
}

/* The lock key really is exclusive between sessions while a runner holds it. */
static void test_lock_key(test_state_t *ts)
{
    char sql[96], buf[16];
    PGconn *a = connect_db(), *b = connect_db();
    REQUIRE(ts, a != NULL && b != NULL);
    REQUIRE(ts, exec_ok(a, "BEGIN"));
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", (long long)RT_MIGRATE_LOCK_KEY);
    CHECK(ts, exec_ok(a, sql));
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_xact_lock(%lld)",
             (long long)RT_MIGRATE_LOCK_KEY);
    CHECK(ts, query_value(b, sql, buf, sizeof buf));
    CHECK_STR(ts, buf, "f");
    CHECK(ts, exec_ok(a, "COMMIT"));
    PQfinish(a);
    PQfinish(b);
}

typedef struct runner {
    PGconn *conn;
    pthread_barrier_t *start;
    int rc, applied;
    char err[512];
} runner_t;

static void *runner_main(void *arg)
{
    runner_t *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = rt_migrate_apply(r->conn, &r->applied, r->err, sizeof r->err);
    return NULL;
}

/* Two consumers starting at once on an empty database (two threads, two connections, released
 * together): both succeed and every migration is applied exactly once in total. Without the
 * advisory lock one of them fails with "relation already exists". */
static void test_concurrent_runners(test_state_t *ts)
{
    enum { ROUNDS = 5 };
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_t start;
        runner_t r[2];
        pthread_t th[2];
        memset(r, 0, sizeof r);
        PGconn *admin = connect_db();
        REQUIRE(ts, admin != NULL);
        REQUIRE(ts, reset_schema(admin));
        PQfinish(admin);
        REQUIRE(ts, pthread_barrier_init(&start, NULL, 2) == 0);
        for (int i = 0; i < 2; i++) {
            r[i].conn = connect_db();
            r[i].start = &start;
        }
        if (!r[0].conn || !r[1].conn) {
            PQfinish(r[0].conn);
            PQfinish(r[1].conn);
            pthread_barrier_destroy(&start);
            REQUIRE(ts, 0);
        }
        for (int i = 0; i < 2; i++)
            REQUIRE(ts, pthread_create(&th[i], NULL, runner_main, &r[i]) == 0);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start);
        for (int i = 0; i < 2; i++) {
            if (r[i].rc != 0)
                fprintf(stderr, "round %d runner %d: %s\n", round, i, r[i].err);
            CHECK(ts, r[i].rc == 0);
            PQfinish(r[i].conn);
        }
        CHECK(ts, r[0].applied + r[1].applied == (int)rt_migrations_count);
    }
}

/* A failing migration leaves nothing behind (its own statements and its schema_migrations row
 * roll back together), keeps the ones before it, names itself in the error, and leaves the
 * connection idle. A version recorded under another name is refused. */
static void test_failure_and_divergence(test_state_t *ts)
{
    static const rt_migration_t good[] = {
        {1, "one", "CREATE TABLE mig_one (a int)"},
        {2, "two", "CREATE TABLE mig_two (a int); CREATE TABLE mig_two_b (a int)"},
    };
    static const rt_migration_t bad[] = {
        {1, "one", "CREATE TABLE mig_one (a int)"},
        {2, "two", "CREATE TABLE mig_two (a int); CREATE TABLE mig_two_b (a int)"},
        {3, "three", "CREATE TABLE mig_three (a int); SELECT no_such_column FROM mig_one"},
    };
    static const rt_migration_t renamed[] = {
        {1, "uno", "CREATE TABLE mig_one (a int)"},
    };
    static const rt_migration_t unsorted[] = {
        {2, "two", "SELECT 1"},
        {1, "one", "SELECT 1"},
    };
    char err[512] = "", buf[64];
    int applied = -1;
    PGconn *c = connect_db();
    REQUIRE(ts, c != NULL);
    REQUIRE(ts, reset_schema(c));

    CHECK(ts, rt_migrate_apply_list(c, good, 2, &applied, err, sizeof err) == 0);
    CHECK(ts, applied == 2);

    err[0] = '\0';
    CHECK(ts, rt_migrate_apply_list(c, bad, 3, &applied, err, sizeof err) == -1);
    CHECK(ts, applied == 0);
    CHECK(ts, strstr(err, "0003_three") != NULL);
    CHECK(ts, strstr(err, "no_such_column") != NULL);
    CHECK(ts, strchr(err, '\n') == NULL);
    CHECK(ts, PQtransactionStatus(c) == PQTRANS_IDLE);
    CHECK(ts, query_value(c, "SELECT to_regclass('mig_three') IS NULL", buf, sizeof buf));
    CHECK_STR(ts, buf, "t");
    CHECK(ts, query_value(c, "SELECT count(*) FROM schema_migrations", buf, sizeof buf));
    CHECK_STR(ts, buf, "2");
    CHECK(ts, query_value(c, "SELECT to_regclass('mig_two_b') IS NOT NULL", buf, sizeof buf));
    CHECK_STR(ts, buf, "t");

    err[0] = '\0';
    CHECK(ts, rt_migrate_apply_list(c, renamed, 1, &applied, err, sizeof err) == -1);
    CHECK(ts, strstr(err, "\"one\"") != NULL);
    CHECK(ts, PQtransactionStatus(c) == PQTRANS_IDLE);

    err[0] = '\0';
    CHECK(ts, rt_migrate_apply_list(c, unsorted, 2, &applied, err, sizeof err) == -1);
    CHECK(ts, err[0] != '\0');

    /* A caller inside a transaction is refused rather than having its transaction committed. */
    REQUIRE(ts, exec_ok(c, "BEGIN"));
    CHECK(ts, rt_migrate_apply_list(c, good, 2, &applied, err, sizeof err) == -1);
    CHECK(ts, PQtransactionStatus(c) == PQTRANS_INTRANS);
    CHECK(ts, exec_ok(c, "ROLLBACK"));

    CHECK(ts, rt_migrate_apply(NULL, &applied, err, sizeof err) == -1);
    PQfinish(c);
}

/* Expected catalog rows: column name, formatted type (format_type), NOT NULL, default (NULL
 * when none), exactly as the seeds' CREATE TABLE statements produce them. */
typedef struct col {
    const char *name, *type;
    int not_null;
    const char *def;
} col_t;

static const col_t run_results_cols[] = {
    {"run_result_id", "integer", 1, "nextval('run_results_run_result_id_seq'::regclass)"},
    {"file_name", "text", 0, NULL},
    {"start_time_df", "text", 0, NULL},
    {"events_count_start", "integer", 0, NULL},
    {"urls_count_start", "integer", 0, NULL},
    {"events_count_end", "integer", 0, NULL},
    {"urls_count_end", "integer", 0, NULL},
    {"new_events_in_db", "integer", 0, NULL},
    {"new_urls_in_db", "integer", 0, NULL},
    {"time_stamp", "timestamp without time zone", 0, NULL},
    {"elapsed_time", "text", 0, NULL},
    {"run_id", "uuid", 1, NULL},
    {"imported", "boolean", 1, "false"},
};

static const col_t discovery_runs_cols[] = {
    {"id", "uuid", 1, "gen_random_uuid()"},
    {"started_at", "timestamp without time zone", 1, "now()"},
    {"completed_at", "timestamp without time zone", 0, NULL},
    {"duration_seconds", "numeric(10,2)", 0, NULL},
    {"status", "character varying(20)", 1, "'running'::character varying"},
    {"naics_codes", "text[]", 0, NULL},
    {"posted_from", "date", 0, NULL},
    {"posted_to", "date", 0, NULL},
    {"api_calls_made", "integer", 0, "0"},
    {"opportunities_found", "integer", 0, "0"},
    {"opportunities_new", "integer", 0, "0"},
    {"opportunities_updated", "integer", 0, "0"},
    {"opportunities_unchanged", "integer", 0, "0"},
    {"evaluations_created", "integer", 0, "0"},
    {"error_message", "text", 0, NULL},
    {"error_details", "jsonb", 0, NULL},
    {"created_at", "timestamp without time zone", 0, "now()"},
};

/* Compares a table's columns (in order) with the expected list via pg_attribute, which gives the
 * exact declared types (numeric(10,2), character varying(20)) that information_schema splits. */
static void check_columns(test_state_t *ts, PGconn *c, const char *table, const col_t *want,
                          size_t n)
{
    const char *params[1] = {table};
    PGresult *r =
        PQexecParams(c,
                     "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                     "       pg_get_expr(d.adbin, d.adrelid)"
                     "  FROM pg_attribute a LEFT JOIN pg_attrdef d"
                     "    ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                     " WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped"
                     " ORDER BY a.attnum",
                     1, NULL, params, NULL, NULL, 0);
    REQUIRE(ts, PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(ts, PQntuples(r) == (int)n);
    for (int i = 0; i < PQntuples(r) && i < (int)n; i++) {
        CHECK_STR(ts, PQgetvalue(r, i, 0), want[i].name);
        CHECK_STR(ts, PQgetvalue(r, i, 1), want[i].type);
        CHECK(ts, (strcmp(PQgetvalue(r, i, 2), "t") == 0) == want[i].not_null);
        CHECK_STR(ts, PQgetisnull(r, i, 3) ? "(none)" : PQgetvalue(r, i, 3),
                  want[i].def ? want[i].def : "(none)");
    }
    PQclear(r);

    /* information_schema agrees on names and order (what ORMs and pandas read). */
    r = PQexecParams(c,
                     "SELECT column_name FROM information_schema.columns"
                     " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                     1, NULL, params, NULL, NULL, 0);
    REQUIRE(ts, PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(ts, PQntuples(r) == (int)n);
    for (int i = 0; i < PQntuples(r) && i < (int)n; i++)
        CHECK_STR(ts, PQgetvalue(r, i, 0), want[i].name);
    PQclear(r);
}

static void test_seed_tables(test_state_t *ts)
{
    char buf[512];
    PGconn *c = migrated_db();
    REQUIRE(ts, c != NULL);

    check_columns(ts, c, "run_results", run_results_cols,
                  sizeof run_results_cols / sizeof run_results_cols[0]);
    check_columns(ts, c, "discovery_runs", discovery_runs_cols,
                  sizeof discovery_runs_cols / sizeof discovery_runs_cols[0]);

    /* Seed 001's index, verbatim. */
    CHECK(ts, query_value(c,
                          "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"
                          " AND indexname = 'idx_discovery_runs_status_completed'",
                          buf, sizeof buf));
    CHECK_STR(ts, buf,
              "CREATE INDEX idx_discovery_runs_status_completed ON public.discovery_runs "
              "USING btree (status, completed_at DESC)");
    /* The idempotence key of run_results. */
    CHECK(ts, query_value(c,
                          "SELECT indexdef FROM pg_indexes WHERE tablename = 'run_results'"
                          " AND indexdef LIKE 'CREATE UNIQUE INDEX%(run_id)'",
                          buf, sizeof buf));
    CHECK(ts, buf[0] != '\0');
    /* The runs listing indexes named in the contract. */
    CHECK(ts,
          query_value(c,
                      "SELECT count(*) FROM pg_indexes WHERE tablename = 'runs' AND indexdef IN ("
                      "'CREATE INDEX runs_started_at_idx ON public.runs USING btree "
                      "(started_at DESC, run_id DESC)',"
                      "'CREATE INDEX runs_job_started_at_idx ON public.runs USING btree "
                      "(job, started_at DESC)',"
                      "'CREATE INDEX runs_running_idx ON public.runs USING btree "
                      "(job) WHERE (status = ''running''::text)')",
                      buf, sizeof buf));
    CHECK_STR(ts, buf, "3");
    /* Every other agreed table exists, and the column comments say what fills them. */
    CHECK(ts, query_value(
                  c,
                  "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename"
                  " IN ('runs','run_logs','dead_letters','consumer_offsets','schema_migrations')",
                  buf, sizeof buf));
    CHECK_STR(ts, buf, "5");
    CHECK(ts, query_value(c,
                          "SELECT count(*) FROM information_schema.columns col"
                          " WHERE col.table_schema = 'public' AND col.table_name IN ('run_results',"
                          " 'discovery_runs','runs','run_logs','dead_letters','consumer_offsets')"
                          " AND col_description(('public.' || col.table_name)::regclass,"
                          "                     col.ordinal_position::int) IS NULL",
                          buf, sizeof buf));
    CHECK_STR(ts, buf, "0");
    PQfinish(c);
}

/* The seeds' queries, unchanged, on rows in the format the consumer writes. */
static void test_seed_queries(test_state_t *ts)
{
    char buf[256];
    PGconn *c = migrated_db();
    REQUIRE(ts, c != NULL);

    REQUIRE(ts,
            exec_ok(c, "INSERT INTO run_results (file_name, start_time_df, events_count_start,"
                       " urls_count_start, events_count_end, urls_count_end, new_events_in_db,"
                       " new_urls_in_db, time_stamp, elapsed_time, run_id) VALUES"
                       " ('fb_v2.py', '2025-10-24T14:30:00.123456', 1000, 500, 1050, 525, 50, 25,"
                       "  '2025-10-24 15:00:45.246912', '0 days 00:30:45.123456',"
                       "  '019a1b2c-3d4e-7f00-8a1b-2c3d4e5f6071'),"
                       " ('fb_v2.py', '2025-10-25T14:30:00.000000', 1050, 525, 1060, 530, 10, 5,"
                       "  '2025-10-26 16:30:00.000000', '1 days 02:00:00.000000',"
                       "  '019a1b2c-3d4e-7f00-8a1b-2c3d4e5f6072')"));
    /* Seed 000's summary query, verbatim. */
    PGresult *r = PQexec(c, "\n    SELECT\n        file_name,\n        COUNT(*) as num_runs,\n"
                            "        SUM(new_events_in_db) as total_events_added,\n"
                            "        SUM(new_urls_in_db) as total_urls_added,\n"
                            "        AVG(EXTRACT(EPOCH FROM elapsed_time::interval)) as "
                            "avg_duration_seconds\n    FROM run_results\n    GROUP BY file_name\n"
                            "    ORDER BY num_runs DESC\n");
    REQUIRE(ts, PQresultStatus(r) == PGRES_TUPLES_OK);
    REQUIRE(ts, PQntuples(r) == 1);
    CHECK_STR(ts, PQgetvalue(r, 0, 0), "fb_v2.py");
    CHECK_STR(ts, PQgetvalue(r, 0, 1), "2");
    CHECK_STR(ts, PQgetvalue(r, 0, 2), "60");
    CHECK_STR(ts, PQgetvalue(r, 0, 3), "30");
    /* (1845.123456 + 93600) / 2 */
    CHECK(ts, strtod(PQgetvalue(r, 0, 4), NULL) > 47722.561727 &&
                  strtod(PQgetvalue(r, 0, 4), NULL) < 47722.561729);
    PQclear(r);
    /* Seed 000's tracker INSERT, without a run id (migration 0028): kept, with a generated id,
     * marked imported, next to the rows that name their run. */
    REQUIRE(ts, exec_ok(c, "INSERT INTO run_results (file_name, start_time_df, events_count_start,"
                           " urls_count_start, events_count_end, urls_count_end, new_events_in_db,"
                           " new_urls_in_db, time_stamp, elapsed_time) VALUES ('ebs.py',"
                           " '2025-10-27T09:00:00.000000', 7, 3, 9, 4, 2, 1,"
                           " '2025-10-27 09:01:00', '0:01:00')"));
    CHECK(ts,
          query_value(c,
                      "SELECT count(*) || '|' || bool_and(imported) || '|' ||"
                      " bool_and(run_id IS NOT NULL) FROM run_results WHERE file_name = 'ebs.py'",
                      buf, sizeof buf));
    CHECK_STR(ts, buf, "1|true|true");
    /* the two rows above name runs that no runs row has: imported too */
    CHECK(ts, query_value(c, "SELECT count(*) FROM run_results WHERE imported", buf, sizeof buf));
    CHECK_STR(ts, buf, "3");
    CHECK(ts, exec_ok(c, "DELETE FROM run_results WHERE file_name = 'ebs.py'"));
    /* Seed 000's other queries. */
    CHECK(ts, query_value(c, "SELECT count(*) FROM run_results WHERE file_name = 'fb_v2.py'", buf,
                          sizeof buf));
    CHECK_STR(ts, buf, "2");
    CHECK(ts, exec_ok(c, "SELECT * FROM run_results WHERE time_stamp > NOW() - INTERVAL '1 day'"));

    /* Seed 001: a completed, a later failed and an earlier completed discovery run; the last
     * successful one is the completed run with the latest completed_at. */
    REQUIRE(ts,
            exec_ok(c, "INSERT INTO discovery_runs (id, started_at, completed_at, duration_seconds,"
                       " status, naics_codes, posted_from, posted_to, api_calls_made,"
                       " opportunities_found, created_at) VALUES"
                       " ('019a0000-0000-7000-8000-000000000001', '2025-10-23 10:00:00',"
                       "  '2025-10-23 10:05:00', 300.00, 'completed', '{541511}', '2025-10-01',"
                       "  '2025-10-23', 10, 5, '2025-10-23 10:00:00'),"
                       " ('019a0000-0000-7000-8000-000000000002', '2025-10-24 10:00:00',"
                       "  '2025-10-24 10:02:30.25', 150.25, 'completed', '{541511,541512}',"
                       "  '2025-10-01', '2025-10-24', 42, 120, '2025-10-24 10:00:00'),"
                       " ('019a0000-0000-7000-8000-000000000003', '2025-10-25 10:00:00',"
                       "  '2025-10-25 10:00:07', 7.00, 'failed', '{541511}', '2025-10-01',"
                       "  '2025-10-25', 1, 0, '2025-10-25 10:00:00')"));
    /* get_last_successful_run as SQLAlchemy emits it: filter status, order by completed_at desc,
     * LIMIT 1 (.first()). */
    CHECK(ts,
          query_value(c,
                      "SELECT discovery_runs.id, discovery_runs.completed_at FROM discovery_runs"
                      " WHERE discovery_runs.status = 'completed'"
                      " ORDER BY discovery_runs.completed_at DESC LIMIT 1",
                      buf, sizeof buf));
    CHECK_STR(ts, buf, "019a0000-0000-7000-8000-000000000002");
    /* cleanup_old_runs: DELETE ... WHERE created_at < cutoff. */
    CHECK(ts, exec_ok(c, "DELETE FROM discovery_runs WHERE created_at < '2025-10-24 00:00:00'"));
    CHECK(ts, query_value(c, "SELECT count(*) FROM discovery_runs", buf, sizeof buf));
    CHECK_STR(ts, buf, "2");
    PQfinish(c);
}

TEST_MAIN(TEST(test_embedded_list), TEST(test_apply_idempotent), TEST(test_lock_key),
          TEST(test_concurrent_runners),

          TEST(test_failure_and_divergence), TEST(test_seed_tables), TEST(test_seed_queries))
