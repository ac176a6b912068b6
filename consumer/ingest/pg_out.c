#include "pg_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "rt_num.h"
#include "runs_cols.h"

struct rt_pg {
    char *dsn;
    PGconn *conn;
    int lock_timeout_ms, statement_timeout_ms; /* session settings; -1: the server's */
    int logs_staged_left; /* batches to stage log rows before trying COPY into run_logs again */
    /* The batch statements prepared on this connection (index = statement name "rt_N"):
     * planned once instead of on every batch; emptied on (re)connect. */
    const char *prepared[8];
    size_t nprepared;
    rt_buf_t runs; /* the batch's rt_in_runs rows (COPY text), kept across batches */
    int clock_skew_s; /* max_clock_skew_s for the batches of the record-by-record path */
    int64_t dead_cap; /* dead-letter payload bytes stored per UTC day; 0 = no cap */
};

/* After a batch's log rows met rows already stored (a re-send, a replay over a filled
 * database), this many batches take the staging path straight away: a replay conflicts on
 * every batch, and each failed direct COPY would be work thrown away. */
#define LOGS_STAGED_AFTER_CONFLICT 64

rt_pg_t *rt_pg_new(const char *dsn)
{
    rt_pg_t *pg = calloc(1, sizeof *pg);
    if (!pg)
        return NULL;
    pg->lock_timeout_ms = pg->statement_timeout_ms = -1;
    pg->dsn = strdup(dsn ? dsn : "");
    if (!pg->dsn) {
        rt_pg_free(pg);
        return NULL;
    }
    return pg;
}

void rt_pg_free(rt_pg_t *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    rt_buf_free(&pg->runs);
    free(pg->dsn);
    free(pg);
}

void rt_pg_set_timeouts(rt_pg_t *pg, int lock_timeout_ms, int statement_timeout_ms)
{
    pg->lock_timeout_ms = lock_timeout_ms;
    pg->statement_timeout_ms = statement_timeout_ms;
}

void rt_pg_set_clock_skew(rt_pg_t *pg, int max_skew_s)
{
    pg->clock_skew_s = max_skew_s;
}

void rt_pg_set_dead_letter_cap(rt_pg_t *pg, int64_t bytes_per_day)
{
    pg->dead_cap = bytes_per_day > 0 ? bytes_per_day : 0;
}

PGconn *rt_pg_conn(rt_pg_t *pg)
{
    return pg->conn && PQstatus(pg->conn) == CONNECTION_OK ? pg->conn : NULL;
}

static void set_err(char *err, size_t errsize, const char *what, PGconn *c, PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = c ? PQerrorMessage(c) : "no connection";
    snprintf(err, errsize, "%s: %s", what, m);
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

rt_pg_rc_t rt_pg_classify_sqlstate(const char *st)
{
    /* Only an error about the values themselves is the event's fault: class 22 (data exception:
     * bad text representation, out of range, bad encoding...) and 23 (integrity constraint).
     * Every other class is the environment and goes away once someone fixes it: 08 connection,
     * 25 transaction state (read-only), 28 authorization, 40 serialization/deadlock, 42
     * privilege or missing object, 53 resources (disk full), 54 limits, 55 object state (lock
     * not available), 57 operator intervention (shutdown, statement timeout), 58 system, XX
     * internal, and whatever PostgreSQL may add: the unknown waits rather than turning valid
     * events into dead letters. */
    if (st && strlen(st) == 5 && (!strncmp(st, "22", 2) || !strncmp(st, "23", 2)))
        return RT_PG_DATA;
    return RT_PG_TRANSIENT;
}

/* Whether a failure is about the data or the environment (retry the batch). */
static rt_pg_rc_t classify(PGconn *c, PGresult *r)
{
    if (!c || PQstatus(c) != CONNECTION_OK || !r)
        return RT_PG_TRANSIENT;
    return rt_pg_classify_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE));
}

/* A failed statement: err says what failed and why; returns the classification. Clears r. */
static rt_pg_rc_t failed(rt_pg_t *pg, const char *what, PGresult *r, char *err, size_t errsize)
{
    set_err(err, errsize, what, pg->conn, r);
    rt_pg_rc_t rc = classify(pg->conn, r);
    PQclear(r);
    return rc;
}

/* Out of memory in the middle of a batch: the attempt fails and the batch is retried. */
static rt_pg_rc_t out_of_memory(char *err, size_t errsize)
{
    snprintf(err, errsize, "out of memory");
    return RT_PG_TRANSIENT;
}

/* The rt_in_runs staging table, column for column from runs_cols.h. */
#define DDL_COL(name, type, write) ", " #name " " type
#define SQL_RUNS_STAGING                                                                           \
    "CREATE TEMP TABLE IF NOT EXISTS rt_in_runs (run_id uuid" RT_RUNS_COLS(DDL_COL)                \
    ") ON COMMIT DELETE ROWS;"

/* lock_timeout and statement_timeout of the session (those set): a batch that waits on a lock
 * (LOCK TABLE runs, a long migration) or a statement that hangs fails after them instead of
 * stalling ingestion silently; the writer then retries with back-off, counted in db_errors.
 * Returns the result of the SET (caller clears it), or NULL when they are not set. */
static PGresult *set_timeouts(rt_pg_t *pg)
{
    char lt[24], st[24];
    if (pg->lock_timeout_ms < 0 || pg->statement_timeout_ms < 0)
        return NULL;
    snprintf(lt, sizeof lt, "%dms", pg->lock_timeout_ms);
    snprintf(st, sizeof st, "%dms", pg->statement_timeout_ms);
    const char *p[2] = {lt, st};
    return PQexecParams(pg->conn,
                        "SELECT set_config('lock_timeout', $1, false),"
                        " set_config('statement_timeout', $2, false)",
                        2, NULL, p, NULL, NULL, 0);
}

int rt_pg_connect(rt_pg_t *pg, char *err, size_t errsize)
{
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->nprepared = 0;
    pg->conn = PQconnectdb(pg->dsn);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        set_err(err, errsize, "connect", pg->conn, NULL);
        if (pg->conn)
            PQfinish(pg->conn);
        pg->conn = NULL;
        return -1;
    }
    /* Staging tables for COPY; ON COMMIT DELETE ROWS empties them after every batch. UTC so
     * that text conversions of timestamptz never depend on the server's zone. */
    /* idle_in_transaction_session_timeout: a consumer stopped or stalled inside a batch's
     * transaction (SIGSTOP, a frozen VM) holds the consumer_offsets row locks, and the member
     * that took its partitions would wait on them forever; the server ends such a session, the
     * stalled consumer's batch fails, and when it wakes its retry meets the fence. A batch never
     * idles that long between its statements. */
    static const char *const setup =
        "SET TIME ZONE 'UTC';"
        "SET application_name = 'runtrack-consumer';"
        "SET idle_in_transaction_session_timeout = '15s';"
        "CREATE TEMP TABLE IF NOT EXISTS rt_in_logs (run_id uuid, seq bigint, ts timestamptz,"
        " level text, phase text, message text, fields jsonb, event_id uuid)"
        " ON COMMIT DELETE ROWS;"
        SQL_RUNS_STAGING
        "CREATE TEMP TABLE IF NOT EXISTS rt_in_dead (topic text, partition integer,"
        " \"offset\" bigint, msg_key bytea, payload bytea, payload_size integer, reason text,"
        " detail text, kafka_ts timestamptz) ON COMMIT DELETE ROWS;";
    PGresult *r = PQexec(pg->conn, setup);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        goto fail;
    PQclear(r);
    r = NULL;
    if ((r = set_timeouts(pg)) && PQresultStatus(r) != PGRES_TUPLES_OK)
        goto fail;
    PQclear(r);
    return 0;
fail:
    set_err(err, errsize, "session setup", pg->conn, r);
    PQclear(r);
    PQfinish(pg->conn);
    pg->conn = NULL;
    return -1;
}

rt_pg_rc_t rt_pg_read_offsets(rt_pg_t *pg, const char *group, const char *topic,
                              const int32_t *parts, size_t n, int64_t *next, char *err,
                              size_t errsize)
{
    if (!rt_pg_conn(pg)) {
        snprintf(err, errsize, "read offsets: not connected");
        return RT_PG_TRANSIENT;
    }
    for (size_t i = 0; i < n; i++)
        next[i] = -1;
    const char *params[2] = {group, topic};
    PGresult *r = PQexecParams(pg->conn,
                               "SELECT partition, next_offset FROM consumer_offsets"
                               " WHERE group_id = $1 AND topic = $2",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return failed(pg, "read offsets", r, err, errsize);
    rt_pg_rc_t rc = RT_PG_OK;
    for (int row = 0; row < PQntuples(r) && rc == RT_PG_OK; row++) {
        int64_t p = 0, o = 0;
        if (rt_parse_i64(PQgetvalue(r, row, 0), INT32_MIN, INT32_MAX, &p) != 0 ||
            rt_parse_i64(PQgetvalue(r, row, 1), INT64_MIN, INT64_MAX, &o) != 0) {
            snprintf(err, errsize, "read offsets: not a partition and offset: %s %s",
                     PQgetvalue(r, row, 0), PQgetvalue(r, row, 1));
            rc = RT_PG_DATA;
        }
        for (size_t i = 0; rc == RT_PG_OK && i < n; i++)
            if (parts[i] == p)
                next[i] = o;
    }
    PQclear(r);
    return rc;
}

/* ---- the batch statements ---- */

static const char SQL_FENCE[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($3::jsonb)"
    "   AS x(p integer, expected bigint, next bigint)),"
    " upd AS (UPDATE consumer_offsets c SET next_offset = x.next, updated_at = now() FROM x"
    "   WHERE c.group_id = $1 AND c.topic = $2 AND c.partition = x.p"
    "   AND x.expected IS NOT NULL AND c.next_offset = x.expected RETURNING 1),"
    " ins AS (INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
    "   SELECT $1, $2, x.p, x.next FROM x WHERE x.expected IS NULL"
    "   ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)";

/* What PostgreSQL holds for the batch's runs: job/kind, whether a run.started set them, and
 * the runs retention deleted (runs_removed; job/kind NULL). */
static const char SQL_KNOWN[] =
    "SELECT run_id::text, job, kind, has_started, false FROM runs WHERE run_id = ANY($1::uuid[])"
    " UNION ALL SELECT run_id::text, NULL, NULL, false, true FROM runs_removed"
    " WHERE run_id = ANY($1::uuid[])";

static const char SQL_LOGS[] =
    "INSERT INTO run_logs (run_id, seq, ts, level, phase, message, fields, event_id)"
    " SELECT run_id, seq, ts, level, phase, message, fields, event_id FROM rt_in_logs"
    " ON CONFLICT (run_id, seq) DO NOTHING";

/* The day's dead-letter payload total (migration 0023), locked until the batch commits so that
 * concurrent consumers add up instead of each reading the same total. now() is the
 * transaction's start, so both statements name the same day. */
static const char SQL_DEAD_DAY[] =
    "INSERT INTO dead_letter_days AS d (day) VALUES ((now() AT TIME ZONE 'UTC')::date)"
    " ON CONFLICT (day) DO UPDATE SET day = d.day RETURNING payload_bytes";

/* The batch's dead letters, in offset order: a payload is kept while the day's total ($2 bytes
 * before this batch, plus the payloads before it in the batch) stays within the cap ($1, 0 =
 * none); past it the row keeps everything but the payload and says so. Returns how many
 * payloads were dropped. A payload dropped here has payload_size > 0 and payload NULL. */
static const char SQL_DEAD[] =
    "WITH x AS (SELECT t.*, ($1::bigint = 0 OR coalesce(length(t.payload), 0) = 0 OR $2::bigint"
    "   + sum(coalesce(length(t.payload), 0)) OVER (ORDER BY t.partition, t.\"offset\")"
    "   <= $1::bigint) AS keep FROM rt_in_dead t),"
    " ins AS (INSERT INTO dead_letters (topic, partition, \"offset\", msg_key, payload,"
    "   payload_size, reason, detail, kafka_ts)"
    "   SELECT topic, partition, \"offset\", msg_key, CASE WHEN keep THEN payload END,"
    "   payload_size, reason, CASE WHEN keep THEN detail"
    "   ELSE 'payload dropped: daily cap; ' || coalesce(detail, '') END, kafka_ts FROM x"
    "   ON CONFLICT (topic, partition, \"offset\") DO NOTHING"
    "   RETURNING coalesce(length(payload), 0) AS kept, payload IS NULL AND payload_size > 0"
    "   AS dropped),"
    " s AS (SELECT coalesce(sum(kept), 0) AS kept, count(*) FILTER (WHERE dropped) AS dropped"
    "   FROM ins)"
    " UPDATE dead_letter_days d SET payload_bytes = d.payload_bytes + s.kept,"
    "  payload_dropped = d.payload_dropped + s.dropped FROM s"
    " WHERE d.day = (now() AT TIME ZONE 'UTC')::date RETURNING s.dropped";

/* Every merge rule lives here, against the stored row r and the batch's row EXCLUDED, so that
 * any split of a run's events into batches, in any order, with duplicates, converges on the same
 * row: started = earliest run.started; phase/pause = highest seq; counters, memory and cpu = per
 * counter (per reading) the highest seq; finished = the
 * run.finished of highest FIN_RANK, then earliest (a terminal status is never replaced by a
 * non-terminal one, and a stale-close by the consumer gives way to the real finish), and
 * end_counts = of the finish first in that order among those that carried them (EC_WINS);
 * times and seqs = min/max. */
/* A finish's precedence, aggregate.c's finish_rank: a wrapper's failure (2) over the run's own
 * finish (1) over a wrapper's completed (0). status is the finish's own while finished_at is set
 * and status_reason is not. */
#define FIN_RANK(t)                                                                                \
    "(CASE WHEN NOT " t ".finished_by_wrapper THEN 1 WHEN " t ".status = 'completed' THEN 0"       \
    " ELSE 2 END)"
#define FIN_RANK_NEW FIN_RANK("EXCLUDED")
#define FIN_RANK_OLD FIN_RANK("r")
#define FIN_WINS                                                                                   \
    "(EXCLUDED.finished_at IS NOT NULL AND (r.finished_at IS NULL OR r.status_reason IS NOT NULL"  \
    " OR " FIN_RANK_NEW " > " FIN_RANK_OLD " OR (" FIN_RANK_NEW " = " FIN_RANK_OLD                 \
    " AND EXCLUDED.finished_at < r.finished_at)))"
/* end_counts (migration 0031): from the finish of highest FIN_RANK, then earliest, among those
 * that carried any, so a finish that wins on status without end_counts (the wrapper's) keeps
 * the other's; the batch's row says which finish its end_counts came from. Scalars only: no
 * jsonb is read. */
#define EC_WINS                                                                                    \
    "(EXCLUDED.end_counts IS NOT NULL AND (r.end_counts IS NULL"                                  \
    " OR EXCLUDED.end_counts_rank > r.end_counts_rank OR (EXCLUDED.end_counts_rank"                \
    " = r.end_counts_rank AND EXCLUDED.end_counts_at < r.end_counts_at)))"
/* The counter maps (migration 0027): per counter the newest seq wins (aggregate.c, ctr_newer).
 * Decided on scalars, the batch's map is taken as it is when the row has no counter yet, or when
 * the batch's counters were all set by one event newer than every stored one (counter_seqs '{}',
 * counters_seq higher) and name the same counters (counter_keys): the case of producers that
 * send their whole map. Anything else (a partial map, a new counter, an older event
 * re-delivered) is merged counter by counter by runtrack_counters_merge (measured: about 5
 * times the CPU of the row's other work, on those rows only). A batch without a counter has
 * counters_seq 0. */
#define CTR_KEEP "EXCLUDED.counters_seq = 0"
#define CTR_TAKE                                                                                   \
    "(r.counters_seq = 0 OR (EXCLUDED.counters_seq > r.counters_seq"                               \
    " AND EXCLUDED.counter_keys = r.counter_keys AND EXCLUDED.counter_seqs = '{}'))"
#define CTR_MERGE(want_seqs)                                                                       \
    "runtrack_counters_merge(r.counters, r.counter_seqs, r.counters_seq, EXCLUDED.counters,"       \
    " EXCLUDED.counter_seqs, EXCLUDED.counters_seq, " want_seqs ")"
#define START_WINS                                                                                 \
    "(EXCLUDED.has_started AND (NOT r.has_started OR EXCLUDED.started_at < r.started_at))"
static const char SQL_RUNS[] =
    "INSERT INTO runs AS r (run_id, job, kind, status, phase, phase_seq, has_started, started_at,"
    " finished_at, last_event_at, last_seq, counters, counters_seq, counter_seqs, counter_keys,"
    " progress_seq,"
    " memory_seq, memory_percent, cpu_seq, cpu_percent,"
    " start_counts, end_counts, end_counts_rank, end_counts_at, params, planned, paused,"
    " pause_seq, paused_at, resumed_at,"
    " error_message, error_details, dropped_logs, producer_host, producer_pid, producer_lib,"
    " clock_skew_s, finished_by_wrapper, identity_conflict)"
    " SELECT x.run_id, x.job, x.kind, COALESCE(x.status, 'running'), x.phase,"
    "  COALESCE(x.phase_seq, 0), COALESCE(x.has_started, false),"
    "  CASE WHEN x.has_started THEN x.started_ts ELSE x.min_ts END, x.finished_at, x.max_ts,"
    "  x.max_seq, COALESCE(x.counters, '{}'), COALESCE(x.counters_seq, 0),"
    "  COALESCE(x.counter_seqs, '{}'), COALESCE(x.counter_keys, ''), COALESCE(x.progress_seq, 0),"
    "  COALESCE(x.memory_seq, 0),"
    "  x.memory_percent, COALESCE(x.cpu_seq, 0), x.cpu_percent, x.start_counts, x.end_counts,"
    "  x.end_counts_rank, x.end_counts_at, x.params, x.planned,"
    "  COALESCE(x.paused, false), COALESCE(x.pause_seq, 0), x.paused_at, x.resumed_at,"
    "  x.error_message, x.error_details, COALESCE(x.dropped_logs, 0), x.producer_host,"
    "  x.producer_pid, x.producer_lib, x.clock_skew_s, COALESCE(x.finished_by_wrapper, false),"
    "  x.identity_conflict"
    " FROM rt_in_runs x"
    /* A run retention deleted is not recreated by a late event: not returned, and the writer
     * then decides event by event (dead letters, reason run_removed). */
    " WHERE NOT EXISTS (SELECT 1 FROM runs_removed t WHERE t.run_id = x.run_id)"
    " ON CONFLICT (run_id) DO UPDATE SET"
    /* Identity (docs/decisions.md, "A run's identity"): job/kind are provisional until a
     * run.started is stored, which then sets them; a run that holds events of more than one
     * job/kind is flagged. */
    "  job = CASE WHEN NOT r.has_started AND EXCLUDED.has_started THEN EXCLUDED.job ELSE r.job END,"
    "  kind = CASE WHEN NOT r.has_started AND EXCLUDED.has_started THEN EXCLUDED.kind"
    "   ELSE r.kind END,"
    "  identity_conflict = r.identity_conflict OR EXCLUDED.identity_conflict"
    "   OR r.job <> EXCLUDED.job OR r.kind <> EXCLUDED.kind,"
    "  has_started = r.has_started OR EXCLUDED.has_started,"
    "  started_at = CASE WHEN " START_WINS " THEN EXCLUDED.started_at"
    "   WHEN r.has_started THEN r.started_at ELSE LEAST(r.started_at, EXCLUDED.started_at) END,"
    "  start_counts = CASE WHEN " START_WINS " THEN EXCLUDED.start_counts ELSE r.start_counts END,"
    "  params = CASE WHEN " START_WINS " THEN EXCLUDED.params ELSE r.params END,"
    "  planned = CASE WHEN " START_WINS " THEN EXCLUDED.planned ELSE r.planned END,"
    "  phase = CASE WHEN EXCLUDED.phase_seq > r.phase_seq THEN EXCLUDED.phase ELSE r.phase END,"
    "  phase_seq = GREATEST(r.phase_seq, EXCLUDED.phase_seq),"
    "  counters = CASE WHEN " CTR_KEEP " THEN r.counters WHEN " CTR_TAKE " THEN EXCLUDED.counters"
    "   ELSE " CTR_MERGE("false") " END,"
    "  counter_seqs = CASE WHEN " CTR_KEEP " THEN r.counter_seqs WHEN " CTR_TAKE
    "   THEN EXCLUDED.counter_seqs ELSE " CTR_MERGE("true") " END,"
    "  counter_keys = CASE WHEN " CTR_KEEP " THEN r.counter_keys WHEN " CTR_TAKE
    "   THEN EXCLUDED.counter_keys ELSE runtrack_counter_keys(r.counters || EXCLUDED.counters) END,"
    "  counters_seq = GREATEST(r.counters_seq, EXCLUDED.counters_seq),"
    /* Each reading keeps its last value when a progress event does not carry it. */
    "  memory_percent = CASE WHEN EXCLUDED.memory_seq > r.memory_seq"
    "   THEN EXCLUDED.memory_percent ELSE r.memory_percent END,"
    "  memory_seq = GREATEST(r.memory_seq, EXCLUDED.memory_seq),"
    "  cpu_percent = CASE WHEN EXCLUDED.cpu_seq > r.cpu_seq THEN EXCLUDED.cpu_percent"
    "   ELSE r.cpu_percent END,"
    "  cpu_seq = GREATEST(r.cpu_seq, EXCLUDED.cpu_seq),"
    "  progress_seq = GREATEST(r.progress_seq, EXCLUDED.progress_seq),"
    "  paused = CASE WHEN EXCLUDED.pause_seq > r.pause_seq THEN EXCLUDED.paused ELSE r.paused END,"
    "  pause_seq = GREATEST(r.pause_seq, EXCLUDED.pause_seq),"
    "  paused_at = GREATEST(r.paused_at, EXCLUDED.paused_at),"
    "  resumed_at = GREATEST(r.resumed_at, EXCLUDED.resumed_at),"
    "  status = CASE WHEN " FIN_WINS " THEN EXCLUDED.status ELSE r.status END,"
    "  finished_at = CASE WHEN " FIN_WINS " THEN EXCLUDED.finished_at ELSE r.finished_at END,"
    "  end_counts = CASE WHEN " EC_WINS " THEN EXCLUDED.end_counts ELSE r.end_counts END,"
    "  end_counts_rank = CASE WHEN " EC_WINS " THEN EXCLUDED.end_counts_rank"
    "   ELSE r.end_counts_rank END,"
    "  end_counts_at = CASE WHEN " EC_WINS " THEN EXCLUDED.end_counts_at ELSE r.end_counts_at END,"
    "  error_message = CASE WHEN " FIN_WINS " THEN EXCLUDED.error_message"
    "   ELSE r.error_message END,"
    "  error_details = CASE WHEN " FIN_WINS " THEN EXCLUDED.error_details"
    "   ELSE r.error_details END,"
    "  finished_by_wrapper = CASE WHEN " FIN_WINS " THEN EXCLUDED.finished_by_wrapper"
    "   ELSE r.finished_by_wrapper END,"
    "  status_reason = CASE WHEN " FIN_WINS " THEN NULL ELSE r.status_reason END,"
    "  last_event_at = GREATEST(r.last_event_at, EXCLUDED.last_event_at),"
    "  last_seq = GREATEST(r.last_seq, EXCLUDED.last_seq),"
    "  producer_host = CASE WHEN EXCLUDED.last_seq > r.last_seq THEN EXCLUDED.producer_host"
    "   ELSE r.producer_host END,"
    "  producer_pid = CASE WHEN EXCLUDED.last_seq > r.last_seq THEN EXCLUDED.producer_pid"
    "   ELSE r.producer_pid END,"
    "  producer_lib = CASE WHEN EXCLUDED.last_seq > r.last_seq THEN EXCLUDED.producer_lib"
    "   ELSE r.producer_lib END,"
    "  dropped_logs = GREATEST(r.dropped_logs, EXCLUDED.dropped_logs),"
    /* The consumer's receive time (the column default on insert), never the events' own
     * times: staleness and retention judge a run by it (migration 0025). */
    "  received_at = GREATEST(r.received_at, now()),"
    "  clock_skew_s = GREATEST(r.clock_skew_s, EXCLUDED.clock_skew_s)"
    /* A run is one job of one kind: a row whose run.started is stored is left alone and not
     * returned when the batch holds events of another job (its identity differs, or it mixes
     * jobs), and the writer then decides event by event (rt_pg_write_batch). */
    " WHERE NOT r.has_started"
    "  OR (r.job = EXCLUDED.job AND r.kind = EXCLUDED.kind AND NOT EXCLUDED.identity_conflict)"
    /* What the derived tables need (derive_list): whether they hold the run at all
     * (run_results ended runs, discovery_runs every discovery run), whether the row's times
     * can still move whatever the batch held, and whether it has ended. */
    /* identity_conflict: a run first seen as a discovery run may have another kind now, and
     * its discovery_runs row goes (SQL_DERIVE). */
    " RETURNING run_id::text, status <> 'running' OR kind = 'discovery' OR identity_conflict,"
    "  NOT has_started OR (status <> 'running' AND finished_at IS NULL), status <> 'running'";

/* run_results and discovery_runs are derived from the merged runs rows by one SQL function
 * (migration 0021), shared with the stale-run closer, so they are right whatever order started
 * and finished arrived in, and identical however a run ended. */
static const char SQL_DERIVE[] =
    "WITH gone AS (DELETE FROM discovery_runs d USING runs r WHERE d.id = ANY($1::uuid[])"
    " AND r.run_id = d.id AND r.kind <> 'discovery')"
    " SELECT runtrack_derive_results($1::uuid[])";

/* Runs one statement expecting status want; on failure fills err and returns the
 * classification. np >= 0: one of the batch's statements (SQL_*), prepared on first use on
 * this connection and then only executed; np < 0: a plain command (BEGIN, SAVEPOINT...). */
static rt_pg_rc_t exec(rt_pg_t *pg, const char *what, const char *sql, int np,
                       const char *const *params, ExecStatusType want, PGresult **out, char *err,
                       size_t errsize)
{
    PGresult *r;
    if (np >= 0) {
        char name[16];
        size_t i = 0;
        while (i < pg->nprepared && pg->prepared[i] != sql)
            i++;
        snprintf(name, sizeof name, "rt_%zu", i);
        if (i == pg->nprepared) {
            if (i == sizeof pg->prepared / sizeof pg->prepared[0]) {
                snprintf(err, errsize, "%s: too many prepared statements", what);
                return RT_PG_DATA;
            }
            r = PQprepare(pg->conn, name, sql, np, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return failed(pg, what, r, err, errsize);
            PQclear(r);
            pg->prepared[pg->nprepared++] = sql;
        }
        r = PQexecPrepared(pg->conn, name, np, params, NULL, NULL, 0);
    } else {
        r = PQexec(pg->conn, sql);
    }
    if (PQresultStatus(r) != want)
        return failed(pg, what, r, err, errsize);
    if (out)
        *out = r;
    else
        PQclear(r);
    return RT_PG_OK;
}

static rt_pg_rc_t copy_in(rt_pg_t *pg, const char *what, const char *sql, const rt_buf_t *b,
                          char *err, size_t errsize)
{
    PGresult *r = PQexec(pg->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return failed(pg, what, r, err, errsize);
    PQclear(r);
    int ok = PQputCopyData(pg->conn, b->data, (int)b->len) == 1 && PQputCopyEnd(pg->conn, NULL) == 1;
    rt_pg_rc_t rc = RT_PG_OK;
    while ((r = PQgetResult(pg->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == RT_PG_OK) {
            set_err(err, errsize, what, pg->conn, r);
            rc = classify(pg->conn, r);
        }
        PQclear(r);
    }
    if (!ok && rc == RT_PG_OK) {
        set_err(err, errsize, what, pg->conn, NULL);
        rc = RT_PG_TRANSIENT;
    }
    return rc;
}

static void rollback(rt_pg_t *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
        PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(pg->conn, "ROLLBACK");
        PQclear(r);
    }
}

/* Log rows go straight into run_logs with COPY (PostgreSQL's fastest path) inside a savepoint.
 * A row already stored (or twice in the batch) makes that COPY fail as a whole: roll back to
 * the savepoint and take the staging path, whose ON CONFLICT DO NOTHING keeps the first copy of
 * each row, exactly as every batch did before. Any other data error also falls back, so the
 * staging path decides what it always decided. */
static rt_pg_rc_t write_logs(rt_pg_t *pg, const rt_buf_t *logs, char *err, size_t errsize)
{
    rt_pg_rc_t rc;
    if (pg->logs_staged_left > 0) {
        pg->logs_staged_left--;
    } else {
        if ((rc = exec(pg, "savepoint", "SAVEPOINT rt_logs", -1, NULL, PGRES_COMMAND_OK, NULL, err,
                       errsize)))
            return rc;
        rc = copy_in(pg, "copy logs into run_logs",
                     "COPY run_logs (run_id, seq, ts, level, phase, message, fields, event_id)"
                     " FROM STDIN",
                     logs, err, errsize);
        if (rc == RT_PG_OK)
            return exec(pg, "release savepoint", "RELEASE SAVEPOINT rt_logs", -1, NULL,
                        PGRES_COMMAND_OK, NULL, err, errsize);
        if (rc != RT_PG_DATA)
            return rc;
        if ((rc = exec(pg, "rollback to savepoint", "ROLLBACK TO SAVEPOINT rt_logs", -1, NULL,
                       PGRES_COMMAND_OK, NULL, err, errsize)))
            return rc;
        pg->logs_staged_left = LOGS_STAGED_AFTER_CONFLICT;
    }
    if ((rc = copy_in(pg, "copy logs", "COPY rt_in_logs FROM STDIN", logs, err, errsize)))
        return rc;
    return exec(pg, "insert logs", SQL_LOGS, 0, NULL, PGRES_COMMAND_OK, NULL, err, errsize);
}

/* The fence: moves the stored offsets of pos[0..npos) from expected to next, in the open
 * transaction; RT_PG_FENCED when any of them is not where this batch expects. */
static rt_pg_rc_t fence(rt_pg_t *pg, const char *group, const char *topic, const rt_part_pos_t *pos,
                        size_t npos, char *err, size_t errsize)
{
    rt_buf_t b = {0};
    PGresult *r = NULL;
    rt_pg_rc_t rc;
    rt_buf_adds(&b, "[");
    for (size_t i = 0; i < npos; i++) {
        char row[128];
        if (pos[i].expected >= 0)
            snprintf(row, sizeof row, "%s{\"p\":%d,\"expected\":%lld,\"next\":%lld}", i ? "," : "",
                     (int)pos[i].partition, (long long)pos[i].expected, (long long)pos[i].next);
        else
            snprintf(row, sizeof row, "%s{\"p\":%d,\"next\":%lld}", i ? "," : "",
                     (int)pos[i].partition, (long long)pos[i].next);
        rt_buf_adds(&b, row);
    }
    rt_buf_adds(&b, "]");
    if (b.oom) {
        rc = out_of_memory(err, errsize);
        goto out;
    }
    const char *fp[3] = {group, topic, b.data};
    if ((rc = exec(pg, "fence offsets", SQL_FENCE, 3, fp, PGRES_TUPLES_OK, &r, err, errsize)))
        goto out;
    int64_t moved = -1;
    if (rt_parse_i64(PQgetvalue(r, 0, 0), 0, INT64_MAX, &moved) != 0 || moved != (int64_t)npos) {
        snprintf(err, errsize, "offsets fence: %lld of %zu partitions at the expected offset",
                 (long long)moved, npos);
        rc = RT_PG_FENCED;
    }
out:
    if (r)
        PQclear(r);
    rt_buf_free(&b);
    return rc;
}

/* Whether a merged runs row needs run_results/discovery_runs derived again after this batch.
 * They are functions of the row's started_at, start_counts, params, status, finished_at,
 * end_counts, error fields and (once ended) counters; those change only through a run.started
 * or run.finished in the batch, or a counter map once the run has ended, or, before the run
 * has started, through started_at following the earliest event. Deriving a running discovery
 * run on every batch of progress was most of the derive's cost, and wrote nothing. */
static int needs_derive(const rt_agg_t *agg, PGresult *r, int row)
{
    if (strcmp(PQgetvalue(r, row, 1), "t") != 0)
        return 0; /* neither table holds it */
    if (strcmp(PQgetvalue(r, row, 2), "t") == 0)
        return 1;
    unsigned f = rt_agg_flags(agg, PQgetvalue(r, row, 0));
    int ended = strcmp(PQgetvalue(r, row, 3), "t") == 0;
    return (f & (RT_AGG_STARTED | RT_AGG_FINISHED)) || (ended && (f & RT_AGG_COUNTERS));
}

/* The batch's dead-letter rows (COPY text), in the open transaction, within the daily payload
 * cap: *dropped = rows stored without their payload. */
static rt_pg_rc_t write_dead(rt_pg_t *pg, const rt_buf_t *dead, size_t *dropped, char *err,
                             size_t errsize)
{
    PGresult *r = NULL;
    rt_pg_rc_t rc;
    char cap[32], used[32] = "0";
    int64_t n = 0;
    snprintf(cap, sizeof cap, "%lld", (long long)pg->dead_cap);
    if ((rc = copy_in(pg, "copy dead letters", "COPY rt_in_dead FROM STDIN", dead, err, errsize)) ||
        (rc = exec(pg, "dead-letter day", SQL_DEAD_DAY, 0, NULL, PGRES_TUPLES_OK, &r, err,
                   errsize)))
        return rc;
    snprintf(used, sizeof used, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "0");
    PQclear(r);
    const char *dp[2] = {cap, used};
    if ((rc = exec(pg, "insert dead letters", SQL_DEAD, 2, dp, PGRES_TUPLES_OK, &r, err, errsize)))
        return rc;
    if (PQntuples(r) == 1 && rt_parse_i64(PQgetvalue(r, 0, 0), 0, INT64_MAX, &n) == 0)
        *dropped = (size_t)n;
    PQclear(r);
    return RT_PG_OK;
}

/* A batch's rows, in its open transaction: log rows, dead letters, the runs upsert, then the
 * derived tables. *nruns = runs upserted, *dropped = dead letters stored without their payload
 * (daily cap). When the upsert leaves runs alone because PostgreSQL holds them under another
 * job or kind, returns RT_PG_CONFLICT. */
static rt_pg_rc_t write_rows(rt_pg_t *pg, rt_batch_t *b, size_t *nruns, size_t *dropped,
                             char *err, size_t errsize)
{
    rt_agg_t *agg = rt_batch_agg(b);
    const rt_buf_t *logs = rt_batch_logs(b), *dead = rt_batch_dead(b);
    rt_pg_rc_t rc = RT_PG_OK;
    rt_buf_t derive = {0};
    PGresult *r = NULL;

    *nruns = 0;
    if (logs->len && (rc = write_logs(pg, logs, err, errsize)))
        goto out;
    if (dead->len && (rc = write_dead(pg, dead, dropped, err, errsize)))
        goto out;
    rt_buf_reset(&pg->runs);
    if ((*nruns = rt_agg_runs_copy(agg, &pg->runs)) == (size_t)-1) {
        *nruns = 0;
        goto oom;
    }
    if (*nruns == 0)
        goto out;
    if ((rc = copy_in(pg, "copy runs", "COPY rt_in_runs FROM STDIN", &pg->runs, err, errsize)) ||
        (rc = exec(pg, "upsert runs", SQL_RUNS, 0, NULL, PGRES_TUPLES_OK, &r, err, errsize)))
        goto out;
    if ((size_t)PQntuples(r) != *nruns) {
        snprintf(err, errsize,
                 "upsert runs: %zu of %zu runs are stored under another job/kind or were removed",
                 *nruns - (size_t)PQntuples(r), *nruns);
        rc = RT_PG_CONFLICT;
        goto out;
    }
    rt_buf_adds(&derive, "{");
    for (int row = 0; row < PQntuples(r); row++) {
        if (!needs_derive(agg, r, row))
            continue;
        if (derive.len > 1)
            rt_buf_adds(&derive, ",");
        rt_buf_adds(&derive, PQgetvalue(r, row, 0));
    }
    rt_buf_adds(&derive, "}");
    if (derive.oom)
        goto oom;
    const char *ip[1] = {derive.data};
    if (derive.len > 2)
        rc = exec(pg, "derive run_results and discovery_runs", SQL_DERIVE, 1, ip, PGRES_TUPLES_OK,
                  NULL, err, errsize);
    goto out;
oom:
    rc = out_of_memory(err, errsize);
out:
    if (r)
        PQclear(r);
    rt_buf_free(&derive);
    return rc;
}

/* The job/kind PostgreSQL already holds for the runs of b's aggregate (their slots made by
 * rt_agg_touch), in the open transaction: an event of another job is then a rule breach
 * wherever it is in the batch. */
static rt_pg_rc_t read_known(rt_pg_t *pg, rt_agg_t *agg, char *err, size_t errsize)
{
    PGresult *r = NULL;
    char *ids = rt_agg_run_ids(agg);
    if (!ids)
        return out_of_memory(err, errsize);
    const char *kp[1] = {ids};
    rt_pg_rc_t rc = exec(pg, "read runs", SQL_KNOWN, 1, kp, PGRES_TUPLES_OK, &r, err, errsize);
    for (int row = 0; rc == RT_PG_OK && row < PQntuples(r); row++) {
        const char *id = PQgetvalue(r, row, 0);
        int removed = strcmp(PQgetvalue(r, row, 4), "t") == 0;
        if (removed ? rt_agg_set_removed(agg, id) != 0
                    : rt_agg_set_known(agg, id, PQgetvalue(r, row, 1), PQgetvalue(r, row, 2),
                                       strcmp(PQgetvalue(r, row, 3), "t") == 0) != 0)
            rc = out_of_memory(err, errsize);
    }
    if (r)
        PQclear(r);
    free(ids);
    return rc;
}

/* One transaction: BEGIN, the fence (first: the UPDATE locks the offset rows, so a consumer
 * that lost the partition waits here and then finds next_offset moved, instead of writing rows
 * twice), the rows of b, COMMIT; rolled back on any failure. msgs[0..n) (the record-by-record
 * path): folded into b first, against the job/kind PostgreSQL holds for their runs. */
static rt_pg_rc_t write_tx(rt_pg_t *pg, const char *group, const char *topic, rt_batch_t *b,
                           rt_in_msg_t *msgs, size_t n, const rt_part_pos_t *pos, size_t npos,
                           rt_batch_result_t *res, char *err, size_t errsize)
{
    rt_pg_rc_t rc;
    size_t nruns = 0, dropped = 0;
    memset(res, 0, sizeof *res);
    if (!rt_pg_conn(pg)) {
        snprintf(err, errsize, "not connected");
        return RT_PG_TRANSIENT;
    }
    if ((rc = exec(pg, "begin", "BEGIN", -1, NULL, PGRES_COMMAND_OK, NULL, err, errsize)))
        goto out;
    if (group && npos && (rc = fence(pg, group, topic, pos, npos, err, errsize)))
        goto out;
    if (msgs && rt_agg_count(rt_batch_agg(b)) &&
        (rc = read_known(pg, rt_batch_agg(b), err, errsize)))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (rt_batch_fold(b, &msgs[i]) != 0) {
            rc = out_of_memory(err, errsize);
            goto out;
        }
    rc = write_rows(pg, b, &nruns, &dropped, err, errsize);
    /* The record-by-record path read the stored job/kind above: a row stored under another
     * job since then (another writer) is read by retrying. */
    if (msgs && rc == RT_PG_CONFLICT)
        rc = RT_PG_TRANSIENT;
    if (rc == RT_PG_OK)
        rc = exec(pg, "commit", "COMMIT", -1, NULL, PGRES_COMMAND_OK, NULL, err, errsize);
out:
    if (rc != RT_PG_OK) {
        rollback(pg);
    } else {
        *res = *rt_batch_result(b);
        res->runs = nruns;
        res->dead_payload_dropped = dropped;
    }
    return rc;
}

rt_pg_rc_t rt_pg_write_batch(rt_pg_t *pg, const char *group, const char *topic, rt_batch_t *b,
                             const rt_part_pos_t *pos, size_t npos, rt_batch_result_t *res,
                             char *err, size_t errsize)
{
    return write_tx(pg, group, topic, b, NULL, 0, pos, npos, res, err, errsize);
}

rt_pg_rc_t rt_pg_write_msgs(rt_pg_t *pg, const char *group, const char *topic, rt_in_msg_t *msgs,
                            size_t n, const rt_part_pos_t *pos, size_t npos, rt_batch_result_t *res,
                            char *err, size_t errsize)
{
    rt_batch_t *b = rt_batch_new(topic, 0);
    rt_pg_rc_t rc = RT_PG_OK;
    memset(res, 0, sizeof *res);
    if (!b)
        return out_of_memory(err, errsize);
    rt_batch_set_clock_skew(b, pg->clock_skew_s);
    /* Every run of the records gets its slot first, so that their stored job/kind can be read
     * in one statement before any event is folded. */
    for (size_t i = 0; rc == RT_PG_OK && i < n; i++)
        if (msgs[i].ok && rt_agg_touch(rt_batch_agg(b), msgs[i].ev.run_id) != 0)
            rc = out_of_memory(err, errsize);
    if (rc == RT_PG_OK)
        rc = write_tx(pg, group, topic, b, msgs, n, pos, npos, res, err, errsize);
    rt_batch_free(b);
    return rc;
}
