/* pg_out against the real PostgreSQL (RUNTRACK_PG_DSN, a fresh database from with_services.sh),
 * on both write paths (the folded batch and record by record): the offsets fence stops a zombie
 * (a consumer that lost its partitions) from writing, a fenced batch leaves no row behind, and a
 * batch applied twice changes nothing; mid-run batches skip unchanged derived rows and update
 * runs without touching its indexes (migration 0022); a batch holding a run stored under
 * another job writes nothing on the folded path and is decided event by event on the other;
 * the derived tables are derived only when a batch could change them, and always right. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "db/migrate.h"
#include "ingest/pg_out.h"

static const char *dsn(void)
{
    const char *d = getenv("RUNTRACK_PG_DSN");
    return d ? d : "";
}

/* Any event of any run in partition part, at 2025-10-24T14:00:00 + sec seconds. */
static void emsg(rt_in_msg_t *m, int32_t part, int64_t off, const char *run, const char *job,
                 const char *kind, int64_t seq, int sec, const char *type, const char *data,
                 char *buf, size_t size)
{
    snprintf(buf, size,
             "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-%012lld\",\"run_id\":\"%s\","
             "\"seq\":%lld,\"ts\":\"2025-10-24T%02d:%02d:%02d.000000Z\",\"type\":\"%s\",\"job\":"
             "\"%s\",\"kind\":\"%s\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":\"0.1.0\"},"
             "\"data\":%s}",
             (long long)(1000 * part + off), run, (long long)seq, 14 + sec / 3600, sec / 60 % 60,
             sec % 60, type, job, kind, data);
    memset(m, 0, sizeof *m);
    m->partition = part;
    m->offset = off;
    m->kafka_ts_ms = -1;
    m->key = run; /* the producers' key: the run_id */
    m->key_len = strlen(run);
    m->payload = buf;
    m->len = strlen(buf);
    rt_in_msg_decode(m, 1 << 20);
}

/* An event of test_fence's run, at 14:30:seq. */
static void msg(rt_in_msg_t *m, int32_t part, int64_t off, int64_t seq, const char *type,
                const char *data, char *buf, size_t size)
{
    emsg(m, part, off, "019a16a0-5ebb-7312-8643-8b2a38836cfd", "fb_v2.py", "scrape", seq,
         1800 + (int)seq, type, data, buf, size);
}

/* Which write path a test goes through. */
typedef enum { PATH_BATCH, PATH_MSGS } path_t;

/* Writes msgs[0..n) through path: as a folded batch built from their records, or as they are. */
static rt_pg_rc_t write_path(path_t path, rt_pg_t *pg, const char *group, rt_in_msg_t *msgs,
                             size_t n, const rt_part_pos_t *pos, size_t npos,
                             rt_batch_result_t *res, char *err, size_t errsize)
{
    if (path == PATH_MSGS)
        return rt_pg_write_msgs(pg, group, "t", msgs, n, pos, npos, res, err, errsize);
    rt_batch_t *b = rt_batch_new("t", 1 << 20);
    if (!b)
        return RT_PG_TRANSIENT;
    for (size_t i = 0; i < n; i++)
        if (rt_batch_add(b, msgs[i].partition, msgs[i].offset, msgs[i].kafka_ts_ms, msgs[i].key,
                         msgs[i].key_len, msgs[i].payload, msgs[i].len) != 0) {
            rt_batch_free(b);
            return RT_PG_TRANSIENT;
        }
    rt_pg_rc_t rc = rt_pg_write_batch(pg, group, "t", b, pos, npos, res, err, errsize);
    rt_batch_free(b);
    return rc;
}

/* Empties every table a batch writes (each test starts from nothing). */
static void empty_tables(PGconn *c)
{
    PQclear(PQexec(c, "TRUNCATE runs, run_logs, run_results, discovery_runs, dead_letters,"
                      " consumer_offsets, runs_removed"));
}

static long count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

static void fence_on(test_state_t *ts, path_t path)
{
    char err[1024];
    int applied;
    rt_pg_t *a = rt_pg_new(dsn()), *z = rt_pg_new(dsn());
    REQUIRE(ts, a && z);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0);
    REQUIRE(ts, rt_migrate_apply(rt_pg_conn(a), &applied, err, sizeof err) == 0);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0); /* temp tables after the schema */
    REQUIRE(ts, rt_pg_connect(z, err, sizeof err) == 0);
    empty_tables(rt_pg_conn(a));

    char b1[1024], b2[1024], b3[1024];
    rt_in_msg_t m[3];
    msg(&m[0], 0, 0, 1, "run.started", "{\"start_counts\":{\"events\":10}}", b1, sizeof b1);
    msg(&m[1], 0, 1, 2, "run.log", "{\"level\":\"info\",\"message\":\"one\"}", b2, sizeof b2);
    msg(&m[2], 0, 2, 3, "run.log", "{\"level\":\"info\",\"message\":\"two\"}", b3, sizeof b3);
    REQUIRE(ts, m[0].ok && m[1].ok && m[2].ok);
    rt_batch_result_t res;

    /* Consumer A owns partition 0 (no stored offset yet) and applies offsets 0..1. */
    rt_part_pos_t pa = {0, -1, 2};
    CHECK(ts, write_path(path, a, "g", m, 2, &pa, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, res.runs == 1 && res.logs == 1);

    /* Z read "no offset" before A committed (a zombie from before the rebalance): both its
     * insert-if-absent and an update from a stale expected offset are refused. */
    rt_part_pos_t pz = {0, -1, 3};
    CHECK(ts, write_path(path, z, "g", m, 3, &pz, 1, &res, err, sizeof err) == RT_PG_FENCED);
    rt_part_pos_t pz2 = {0, 0, 3};
    CHECK(ts, write_path(path, z, "g", &m[2], 1, &pz2, 1, &res, err, sizeof err) == RT_PG_FENCED);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM run_logs") == 1);
    CHECK(ts, count(rt_pg_conn(a), "SELECT next_offset FROM consumer_offsets") == 2);

    /* A continues from what it committed. */
    rt_part_pos_t pa2 = {0, 2, 3};
    CHECK(ts, write_path(path, a, "g", &m[2], 1, &pa2, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM run_logs") == 2);
    CHECK(ts, count(rt_pg_conn(a), "SELECT next_offset FROM consumer_offsets") == 3);

    /* Another group keeps its own offsets; replay (group NULL) writes none, and re-applying
     * everything changes no row. */
    CHECK(ts, write_path(path, a, NULL, m, 3, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM run_logs") == 2);
    CHECK(ts, count(rt_pg_conn(a), "SELECT count(*) FROM consumer_offsets") == 1);
    CHECK(ts, count(rt_pg_conn(a), "SELECT last_seq FROM runs") == 3);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
    rt_pg_free(z);
}

static void test_fence(test_state_t *ts)
{
    fence_on(ts, PATH_BATCH);
    fence_on(ts, PATH_MSGS);
}

/* One discovery-run event (its own run id, so that it does not meet test_fence's run), at
 * 15:30:seq. */
static void dmsg(rt_in_msg_t *m, int64_t off, int64_t seq, const char *type, const char *data,
                 char *buf, size_t size)
{
    emsg(m, 1, off, "019a16a0-5ebb-7312-8643-000000000d15", "disc.py", "discovery", seq,
         5400 + (int)seq, type, data, buf, size);
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
static void ingest_cost_on(test_state_t *ts, path_t path)
{
    char err[1024], b1[1024], b2[1024], b3[1024], x1[64], x2[64];
    int applied;
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0);
    REQUIRE(ts, rt_migrate_apply(rt_pg_conn(a), &applied, err, sizeof err) == 0);
    REQUIRE(ts, rt_pg_connect(a, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    empty_tables(c);
    rt_in_msg_t m[3];
    rt_batch_result_t res;
    dmsg(&m[0], 0, 1, "run.started", "{}", b1, sizeof b1);
    dmsg(&m[1], 1, 2, "run.progress", "{\"counters\":{\"found\":1}}", b2, sizeof b2);
    dmsg(&m[2], 2, 3, "run.progress", "{\"counters\":{\"found\":2}}", b3, sizeof b3);
    REQUIRE(ts, m[0].ok && m[1].ok && m[2].ok);
    CHECK(ts, write_path(path, a, NULL, m, 1, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    text(c, "SELECT xmin::text FROM discovery_runs", x1, sizeof x1);
    CHECK(ts, write_path(path, a, NULL, &m[1], 1, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, strcmp(text(c, "SELECT xmin::text FROM discovery_runs", x2, sizeof x2), x1) == 0);
    CHECK(ts, count(c, "SELECT count(*) FROM discovery_runs WHERE status = 'running'") == 1);

    /* Table statistics are flushed when the backend goes idle after a forced flush. */
    PQclear(PQexec(c, "SELECT pg_stat_force_next_flush()"));
    long hot0 = count(c, "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'runs'");
    CHECK(ts, write_path(path, a, NULL, &m[2], 1, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    PQclear(PQexec(c, "SELECT pg_stat_force_next_flush()"));
    long hot1 = count(c, "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'runs'");
    CHECK(ts, hot0 >= 0 && hot1 == hot0 + 1);
    CHECK(ts, count(c, "SELECT (counters->>'found')::int FROM runs WHERE job = 'disc.py'") == 2);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
}

static void test_ingest_cost(test_state_t *ts)
{
    ingest_cost_on(ts, PATH_BATCH);
    ingest_cost_on(ts, PATH_MSGS);
}

#define RUN_R "019a16a0-5ebb-7312-8643-0000000000a1"
#define RUN_Q "019a16a0-5ebb-7312-8643-0000000000a2"

#define RUN_I "019a16a0-5ebb-7312-8643-0000000000b1"
#define RUN_X "019a16a0-5ebb-7312-8643-0000000000b2"

/* A run's identity comes from its run.started (docs/decisions.md, "A run's identity"): a log
 * line of another job stored first leaves the job provisional, the run.started (a later batch,
 * folded path) takes the run and flags it, and from then on the other job is a rule dead letter
 * (folded path: CONFLICT; record by record: the dead letter). A run retention deleted
 * (runs_removed) is not recreated: CONFLICT, then a run_removed dead letter. */
static void test_identity(test_state_t *ts)
{
    char err[1024], b[3][1024];
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a && rt_pg_connect(a, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    empty_tables(c);
    rt_in_msg_t m[3];
    rt_batch_result_t res;
    const char *ll = "{\"level\":\"info\",\"message\":\"x\"}";
    emsg(&m[0], 0, 0, RUN_I, "impostor.py", "discovery", 5, 0, "run.log", ll, b[0], sizeof b[0]);
    rt_part_pos_t p0 = {0, -1, 1};
    CHECK(ts, write_path(PATH_BATCH, a, "g", m, 1, &p0, 1, &res, err, sizeof err) == RT_PG_OK);
    rt_in_msg_clear(&m[0]);
    CHECK(ts, count(c, "SELECT count(*) FROM discovery_runs") == 1);

    emsg(&m[0], 0, 1, RUN_I, "fb_v2.py", "scrape", 1, 1, "run.started", "{}", b[0], sizeof b[0]);
    emsg(&m[1], 0, 2, RUN_I, "fb_v2.py", "scrape", 2, 2, "run.log", ll, b[1], sizeof b[1]);
    rt_part_pos_t p1 = {0, 1, 3};
    CHECK(ts, write_path(PATH_BATCH, a, "g", m, 2, &p1, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, res.dead == 0);
    CHECK(ts, count(c, "SELECT count(*) FROM runs WHERE job = 'fb_v2.py' AND kind = 'scrape'"
                       " AND has_started AND identity_conflict") == 1);
    /* the provisional kind's discovery_runs row goes with it */
    CHECK(ts, count(c, "SELECT count(*) FROM discovery_runs") == 0);
    for (int i = 0; i < 2; i++)
        rt_in_msg_clear(&m[i]);

    emsg(&m[0], 0, 3, RUN_I, "impostor.py", "discovery", 6, 6, "run.log", ll, b[0], sizeof b[0]);
    emsg(&m[1], 0, 4, RUN_X, "gone.py", "scrape", 9, 9, "run.log", ll, b[1], sizeof b[1]);
    emsg(&m[2], 0, 5, RUN_I, "fb_v2.py", "scrape", 7, 7, "run.log", ll, b[2], sizeof b[2]);
    PQclear(PQexec(c, "INSERT INTO runs_removed (run_id) VALUES ('" RUN_X "')"));
    rt_part_pos_t p2 = {0, 3, 6};
    CHECK(ts,
          write_path(PATH_BATCH, a, "g", m, 3, &p2, 1, &res, err, sizeof err) == RT_PG_CONFLICT);
    CHECK(ts, write_path(PATH_MSGS, a, "g", m, 3, &p2, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, res.dead == 2 && res.dead_by_reason[RT_DEAD_RULE] == 1 &&
                  res.dead_by_reason[RT_DEAD_RUN_REMOVED] == 1 && res.logs == 1);
    CHECK(ts, count(c, "SELECT count(*) FROM runs") == 1);
    CHECK(ts, count(c, "SELECT count(*) FROM run_logs") == 3);
    CHECK(ts, count(c, "SELECT count(*) FROM dead_letters WHERE reason = 'run_removed'"
                       " AND \"offset\" = 4") == 1);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    empty_tables(c);
    rt_pg_free(a);
}

/* A batch holding a run that PostgreSQL stores under another job: the folded path writes
 * nothing and says so (RT_PG_CONFLICT), offsets included; record by record, the other job's
 * event becomes a rule dead letter and everything else is applied. */
static void test_conflict(test_state_t *ts)
{
    char err[1024], b[3][1024];
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a && rt_pg_connect(a, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    empty_tables(c);
    rt_in_msg_t m[3];
    rt_batch_result_t res;
    emsg(&m[0], 0, 0, RUN_R, "fb_v2.py", "scrape", 1, 7200 + 0, "run.started", "{}", b[0],
         sizeof b[0]);
    rt_part_pos_t p0 = {0, -1, 1};
    CHECK(ts, write_path(PATH_BATCH, a, "g", m, 1, &p0, 1, &res, err, sizeof err) == RT_PG_OK);
    rt_in_msg_clear(&m[0]);

    emsg(&m[0], 0, 1, RUN_Q, "q.py", "scrape", 1, 7200 + 1, "run.started", "{}", b[0], sizeof b[0]);
    emsg(&m[1], 0, 2, RUN_R, "other.py", "scrape", 2, 7200 + 2, "run.log",
         "{\"level\":\"info\",\"message\":\"x\"}", b[1], sizeof b[1]);
    emsg(&m[2], 0, 3, RUN_Q, "q.py", "scrape", 2, 7200 + 3, "run.log",
         "{\"level\":\"info\",\"message\":\"y\"}", b[2], sizeof b[2]);
    REQUIRE(ts, m[0].ok && m[1].ok && m[2].ok);
    rt_part_pos_t p1 = {0, 1, 4};
    CHECK(ts,
          write_path(PATH_BATCH, a, "g", m, 3, &p1, 1, &res, err, sizeof err) == RT_PG_CONFLICT);
    CHECK(ts, strstr(err, "another job") != NULL);
    CHECK(ts, count(c, "SELECT count(*) FROM runs") == 1);
    CHECK(ts, count(c, "SELECT count(*) FROM run_logs") == 0);
    CHECK(ts, count(c, "SELECT next_offset FROM consumer_offsets") == 1);

    CHECK(ts, write_path(PATH_MSGS, a, "g", m, 3, &p1, 1, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts, res.dead == 1 && res.dead_by_reason[RT_DEAD_RULE] == 1 && res.logs == 1);
    CHECK(ts, count(c, "SELECT count(*) FROM runs") == 2);
    CHECK(ts, count(c, "SELECT count(*) FROM run_logs") == 1);
    CHECK(ts,
          count(c, "SELECT count(*) FROM dead_letters WHERE reason = 'rule' AND \"offset\" = 2") ==
              1);
    CHECK(ts, count(c, "SELECT count(*) FROM runs WHERE run_id = '" RUN_R
                       "' AND job = 'fb_v2.py'") == 1);
    CHECK(ts, count(c, "SELECT next_offset FROM consumer_offsets") == 4);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
}

/* Calls of runtrack_derive_results so far (the session tracks function calls). */
static long derive_calls(PGconn *c)
{
    PQclear(PQexec(c, "SELECT pg_stat_force_next_flush()"));
    return count(c, "SELECT COALESCE(sum(calls), 0) FROM pg_stat_user_functions"
                    " WHERE funcname = 'runtrack_derive_results'");
}

/* 1 when deriving every run again would change run_results or discovery_runs (rolled back). */
static int stale_derived(PGconn *c)
{
    static const char sum[] =
        "SELECT md5(COALESCE((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM run_results x),"
        " '') || COALESCE((SELECT string_agg(y::text, ',' ORDER BY y::text) FROM discovery_runs y),"
        " ''))";
    char before[64], after[64];
    PQclear(PQexec(c, "BEGIN"));
    text(c, sum, before, sizeof before);
    PQclear(PQexec(c, "SELECT runtrack_derive_results(array_agg(run_id)) FROM runs"));
    text(c, sum, after, sizeof after);
    PQclear(PQexec(c, "ROLLBACK"));
    return strcmp(before, after) != 0;
}

/* run_results and discovery_runs are derived only for runs a batch could have changed in them
 * (a running discovery run's progress changes neither), in any arrival order, and are always
 * what deriving every run would give. */
static void derive_on(test_state_t *ts, path_t path)
{
    char err[1024], b[1024];
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a && rt_pg_connect(a, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    empty_tables(c);
    PQclear(PQexec(c, "SET track_functions = 'all'"));
    static const struct {
        const char *run, *job, *kind;
        int seq;
        const char *type, *data;
        int derives; /* does this batch need the derived tables written? */
    } steps[] = {
        {RUN_R, "d.py", "discovery", 1, "run.started",
         "{\"params\":{\"posted_from\":\"2025-10-01\"}}", 1},
        {RUN_R, "d.py", "discovery", 2, "run.progress", "{\"counters\":{\"found\":3}}", 0},
        {RUN_R, "d.py", "discovery", 3, "run.log", "{\"level\":\"info\",\"message\":\"m\"}", 0},
        {RUN_R, "d.py", "discovery", 5, "run.finished",
         "{\"status\":\"completed\",\"counters\":{\"found\":9}}", 1},
        /* a progress event of a higher seq after the end: the final counters move */
        {RUN_R, "d.py", "discovery", 6, "run.progress", "{\"counters\":{\"found\":11}}", 1},
        {RUN_R, "d.py", "discovery", 7, "run.log", "{\"level\":\"info\",\"message\":\"late\"}", 0},
        /* a scrape run whose finish arrives before its start */
        {RUN_Q, "s.py", "scrape", 9, "run.finished",
         "{\"status\":\"failed\",\"end_counts\":{\"events\":5}}", 1},
        {RUN_Q, "s.py", "scrape", 3, "run.progress", "{\"counters\":{\"events\":4}}", 1},
        {RUN_Q, "s.py", "scrape", 1, "run.started", "{\"start_counts\":{\"events\":2}}", 1},
        {RUN_Q, "s.py", "scrape", 4, "run.phase", "{\"phase\":\"matching\"}", 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        rt_in_msg_t m;
        rt_batch_result_t res;
        emsg(&m, 0, (int64_t)i, steps[i].run, steps[i].job, steps[i].kind, steps[i].seq,
             7200 + 10 * steps[i].seq, steps[i].type, steps[i].data, b, sizeof b);
        REQUIRE(ts, m.ok);
        long before = derive_calls(c);
        CHECK(ts, write_path(path, a, NULL, &m, 1, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
        long calls = derive_calls(c) - before;
        if (calls != steps[i].derives)
            fprintf(stderr, "step %zu (%s): %ld derive calls\n", i, steps[i].type, calls);
        CHECK(ts, calls == steps[i].derives);
        CHECK(ts, !stale_derived(c));
        rt_in_msg_clear(&m);
    }
    CHECK(ts, count(c, "SELECT opportunities_found FROM discovery_runs") == 11);
    CHECK(ts, count(c, "SELECT events_count_start FROM run_results WHERE file_name = 's.py'") == 2);
    rt_pg_free(a);
}

static void test_derive(test_state_t *ts)
{
    derive_on(ts, PATH_BATCH);
    derive_on(ts, PATH_MSGS);
}

#define RUN_W "019a16a0-5ebb-7312-8643-0000000000b1"

/* The run's row after the finish precedence: status|error_message|exit code|by wrapper|ended. */
static char *finish_row(PGconn *c, char *out, size_t size)
{
    return text(c,
                "SELECT r.status || '|' || r.error_message || '|' ||"
                " COALESCE(r.error_details->>'exit_code', '-') || '|' || r.finished_by_wrapper ||"
                " '|' || to_char(r.finished_at AT TIME ZONE 'UTC', 'HH24:MI:SS') || '|' ||"
                " rr.time_stamp::text FROM runs r JOIN run_results rr USING (run_id)"
                " WHERE r.run_id = '" RUN_W "'",
                out, size);
}

/* Two run.finished of one run in separate batches, first then second, then both again (a
 * replay): the stored row compares each batch's finish with the stored one by the same
 * precedence as the fold (a wrapper's failure first, then the earliest). data[0] at 16:00:05,
 * data[1] at 16:00:06. */
static void finish_batches(test_state_t *ts, path_t path, const char *const data[2], int first,
                           const char *want)
{
    char err[1024], b[3][1024], out[256];
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a && rt_pg_connect(a, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    empty_tables(c);
    rt_in_msg_t m[3];
    rt_batch_result_t res;
    emsg(&m[0], 0, 0, RUN_W, "wrapped.sh", "scrape", 1, 7200, "run.started", "{}", b[0],
         sizeof b[0]);
    for (int k = 0; k < 2; k++)
        emsg(&m[1 + k], 0, 1 + k, RUN_W, "wrapped.sh", "scrape", 2 + k, 7205 + k, "run.finished",
             data[k], b[1 + k], sizeof b[1 + k]);
    REQUIRE(ts, m[0].ok && m[1].ok && m[2].ok);
    rt_in_msg_t one[2] = {m[0], m[1 + first]};
    CHECK(ts, write_path(path, a, NULL, one, 2, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    CHECK(ts,
          write_path(path, a, NULL, &m[2 - first], 1, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    CHECK_STR(ts, finish_row(c, out, sizeof out), want);
    CHECK(ts, write_path(path, a, NULL, m, 3, NULL, 0, &res, err, sizeof err) == RT_PG_OK);
    CHECK_STR(ts, finish_row(c, out, sizeof out), want);
    for (int i = 0; i < 3; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
}

/* `runtrack run -- sh -c 'runtrack finish --status completed; exit 3'`: the child's completed
 * and the wrapper's failed arrive in separate batches, in either order, on both write paths:
 * the run is failed with exit code 3. Two finishes of the run's own keep the earliest; a
 * wrapper's completed (exit 0) leaves the child's failure standing. */
static void test_finish_precedence(test_state_t *ts)
{
    const char *const exit3[2] = {
        "{\"status\":\"completed\",\"error_message\":\"child\"}",
        "{\"status\":\"failed\",\"source\":\"wrapper\",\"exit_code\":3,"
        "\"error_message\":\"sh exited with status 3\",\"error_details\":{\"exit_code\":3}}"};
    const char *const plain[2] = {"{\"status\":\"completed\",\"error_message\":\"first\"}",
                                  "{\"status\":\"failed\",\"error_message\":\"second\"}"};
    const char *const exit0[2] = {
        "{\"status\":\"failed\",\"error_message\":\"HTTP 503\"}",
        "{\"status\":\"completed\",\"source\":\"wrapper\",\"exit_code\":0,"
        "\"error_message\":\"w\"}"};
    for (int p = 0; p < 2; p++)
        for (int first = 0; first < 2; first++) {
            finish_batches(ts, (path_t)p, exit3, first,
                           "failed|sh exited with status 3|3|true|16:00:06|2025-10-24 16:00:06");
            finish_batches(ts, (path_t)p, plain, first,
                           "completed|first|-|false|16:00:05|2025-10-24 16:00:05");
            finish_batches(ts, (path_t)p, exit0, first,
                           "failed|HTTP 503|-|false|16:00:05|2025-10-24 16:00:05");
        }
}

/* The runs rows reach PostgreSQL as COPY text: objects as the producer wrote them (with raw
 * newlines and tabs between tokens) and strings holding backslashes, tabs and quotes arrive as
 * they were sent. */
static void test_copy_text(test_state_t *ts)
{
    char err[1024], b[2][1024];
    int applied;
    rt_pg_t *a = rt_pg_new(dsn());
    REQUIRE(ts, a && rt_pg_connect(a, err, sizeof err) == 0);
    REQUIRE(ts, rt_migrate_apply(rt_pg_conn(a), &applied, err, sizeof err) == 0);
    PGconn *c = rt_pg_conn(a);
    empty_tables(c);
    rt_in_msg_t m[2];
    rt_batch_result_t res;
    /* job: back\slash<TAB>"job"; phase: a\b<LF>c */
    emsg(&m[0], 0, 0, RUN_R, "back\\\\slash\\t\\\"job\\\"", "scrape", 1, 0, "run.started",
         "{\"start_counts\":\n\t{\"events\" :\r\n 3}}", b[0], sizeof b[0]);
    emsg(&m[1], 0, 1, RUN_R, "back\\\\slash\\t\\\"job\\\"", "scrape", 2, 1, "run.phase",
         "{\"phase\":\"a\\\\b\\nc\"}", b[1], sizeof b[1]);
    REQUIRE(ts, m[0].ok && m[1].ok);
    if (write_path(PATH_BATCH, a, NULL, m, 2, NULL, 0, &res, err, sizeof err) != RT_PG_OK)
        fprintf(stderr, "test_copy_text: %s\n", err);
    CHECK(ts, res.runs == 1);
    char out[256];
    CHECK_STR(ts, text(c, "SELECT job FROM runs", out, sizeof out), "back\\slash\t\"job\"");
    CHECK_STR(ts, text(c, "SELECT phase FROM runs", out, sizeof out), "a\\b\nc");
    CHECK(ts, count(c, "SELECT (start_counts->>'events')::int FROM runs") == 3);
    for (int i = 0; i < 2; i++)
        rt_in_msg_clear(&m[i]);
    rt_pg_free(a);
}

TEST_MAIN(TEST(test_copy_text), TEST(test_fence), TEST(test_ingest_cost), TEST(test_conflict),
          TEST(test_identity), TEST(test_derive), TEST(test_finish_precedence))
