/* pg_out against the real PostgreSQL (RUNTRACK_PG_DSN, a fresh database from with_services.sh):
 * the offsets fence stops a zombie (a consumer that lost its partitions) from writing, a
 * fenced batch leaves no row behind, and a batch applied twice changes nothing; mid-run batches
 * skip unchanged derived rows and update runs without touching its indexes (migration 0022). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "migrate.h"
#include "pg_out.h"

static const char *dsn(void)
{
    const char *d = getenv("RUNTRACK_PG_DSN");
    return d ? d : "";
}

static void msg(rt_in_msg_t *m, int32_t part, int64_t off, int64_t seq, const char *type,
                const char *data, char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-%012lld\",\"run_id\":"
             "\"019a16a0-5ebb-7312-8643-8b2a38836cfd\",\"seq\":%lld,\"ts\":"
             "\"2025-10-24T14:30:%02lld.000000Z\",\"type\":\"%s\",\"job\":\"fb_v2.py\","
             "\"kind\":\"scrape\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":\"0.1.0\"},"
             "\"data\":%s}",
             (long long)seq, (long long)seq, (long long)seq, type, data);
    memset(m, 0, sizeof *m);
    m->partition = part;
    m->offset = off;
    m->kafka_ts_ms = -1;
    m->payload = buf;
    m->len = strlen(buf);
    rt_in_msg_decode(m, 1 << 20);
}

static long count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

static void test_fence(test_state_t *ts)
{
    char err[1024];
    int applied;
    rt_pg_t *a = rt_pg_new(dsn()), *z = rt_pg_new(dsn());
    REQUIRE(ts, a && z);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0);
    REQUIRE(ts, rt_migrate_apply(rt_pg_conn(a), &applied, err, sizeof err) == 0);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0); /* temp tables after the schema */
    REQUIRE(ts, rt_pg_connect(z, err, sizeof err) == 0);

    char b1[1024], b2[1024], b3[1024];
    rt_in_msg_t m[3];
    msg(&m[0], 0, 0, 1, "run.started", "{\"start_counts\":{\"events\":10}}", b1, sizeof b1);
    msg(&m[1], 0, 1, 2, "run.log", "{\"level\":\"info\",\"message\":\"one\"}", b2, sizeof b2);
    msg(&m[2], 0, 2, 3, "run.log", "{\"level\":\"info\",\"message\":\"two\"}", b3, sizeof b3);
    REQUIRE(ts, m[0].ok && m[1].ok && m[2].ok);
    rt_batch_result_t res;

    /* Consumer A owns partition 0 (no stored offset yet) and applies offsets 0..1. */
    rt_part_pos_t pa = {0, -1, 2};
    CHECK(ts, rt_pg_write_batch(a, "g", "t", m, 2, &pa, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, res.runs == 1 && res.logs == 1);

    /* Z read "no offset" before A committed (a zombie from before the rebalance): both its
     * insert-if-absent and an update from a stale expected offset are refused. */
    rt_part_pos_t pz = {0, -1, 3};
    CHECK(ts, rt_pg_write_batch(z, "g", "t", m, 3, &pz, 1, &res, err, sizeof err) == RT_PG_FENCED);
    rt_part_pos_t pz2 = {0, 0, 3};
    CHECK(ts,
          rt_pg_write_batch(z, "g", "t", &m[2], 1, &pz2, 1, &res, err, sizeof err) == RT_PG_FENCED);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM run_logs") == 1);
    CHECK(ts, count(rt_pg_conn(a), "SELECT next_offset FROM consumer_offsets") == 2);

    /* A continues from what it committed. */
    rt_part_pos_t pa2 = {0, 2, 3};
    CHECK(ts, rt_pg_write_batch(a, "g", "t", &m[2], 1, &pa2, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM run_logs") == 2);
    CHECK(ts, count(rt_pg_conn(a), "SELECT next_offset FROM consumer_offsets") == 3);

    /* Another group keeps its own offsets; replay (group NULL) writes none, and re-applying
     * everything changes no row. */
    CHECK(ts, rt_pg_write_batch(a, NULL, "t", m, 3, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM run_logs") == 2);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM consumer_offsets") == 1);
    CHECK(ts, count(rt_pg_conn(a), "SELECT last_seq FROM runs") == 3);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
    rt_pg_free(z);
}

/* One discovery-run event (its own run id, so that it does not meet test_fence's run). */
static void dmsg(rt_in_msg_t *m, int64_t off, int64_t seq, const char *type, const char *data,
                 char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-%012lld\",\"run_id\":"
             "\"019a16a0-5ebb-7312-8643-000000000d15\",\"seq\":%lld,\"ts\":"
             "\"2025-10-24T15:30:%02lld.000000Z\",\"type\":\"%s\",\"job\":\"disc.py\","
             "\"kind\":\"discovery\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":\"0.1.0\"},"
             "\"data\":%s}",
             (long long)(100 + seq), (long long)seq, (long long)seq, type, data);
    memset(m, 0, sizeof *m);
    m->partition = 1;
    m->offset = off;
    m->kafka_ts_ms = -1;
    m->payload = buf;
    m->len = strlen(buf);
    rt_in_msg_decode(m, 1 << 20);
}

static char *text(PGconn *c, const char *sql, char *out, size_t size)
{
    PGresult *r = PQexec(c, sql);
    snprintf(out, size, "%s",
             PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    return out;
}

/* Migration 0022 (ingest cost): a mid-run batch rewrites neither the run's discovery_runs row
 * (equal values are skipped) nor any index of runs (the update is HOT: no index covers
 * last_event_at or another column a running run's events move). */
static void test_ingest_cost(test_state_t *ts)
{
    char err[1024], b1[1024], b2[1024], b3[1024], x1[64], x2[64];
    int applied;
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0);
    REQUIRE(ts, rt_migrate_apply(rt_pg_conn(a), &applied, err, sizeof err) == 0);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    rt_in_msg_t m[3];
    rt_batch_result_t res;
    dmsg(&m[0], 0, 1, "run.started", "{}", b1, sizeof b1);
    dmsg(&m[1], 1, 2, "run.progress", "{\"counters\":{\"found\":1}}", b2, sizeof b2);
    dmsg(&m[2], 2, 3, "run.progress", "{\"counters\":{\"found\":2}}", b3, sizeof b3);
    REQUIRE(ts, m[0].ok && m[1].ok && m[2].ok);
    CHECK(ts, rt_pg_write_batch(a, NULL, "t", m, 1, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    text(c, "SELECT xmin::text FROM discovery_runs", x1, sizeof x1);
    CHECK(ts, rt_pg_write_batch(a, NULL, "t", &m[1], 1, NULL, 0, &res, err, sizeof err) ==
                  RT_PG_OK);
    CHECK(ts, strcmp(text(c, "SELECT xmin::text FROM discovery_runs", x2, sizeof x2), x1) == 0);
    CHECK(ts, count(c, "SELECT count(*) FROM discovery_runs WHERE status = 'running'") == 1);

    /* Table statistics are flushed when the backend goes idle after a forced flush. */
    PQclear(PQexec(c, "SELECT pg_stat_force_next_flush()"));
    long hot0 = count(c, "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'runs'");
    CHECK(ts, rt_pg_write_batch(a, NULL, "t", &m[2], 1, NULL, 0, &res, err, sizeof err) ==
                  RT_PG_OK);
    PQclear(PQexec(c, "SELECT pg_stat_force_next_flush()"));
    long hot1 = count(c, "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'runs'");
    CHECK(ts, hot0 >= 0 && hot1 == hot0 + 1);
    CHECK(ts, count(c, "SELECT (counters->>'found')::int FROM runs WHERE job = 'disc.py'") == 2);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
}

TEST_MAIN(TEST(test_fence), TEST(test_ingest_cost))
