/* Runs, logs and jobs endpoints. The JSON of each row is built by PostgreSQL
 * (json_build_object), so types (jsonb counters, numbers, booleans, NULLs) come out right
 * without per-column C code; C assembles the envelope, the cursor and the ETA. */
#include "api_runs.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_event.h"
#include "rt_num.h"
#include "rt_time.h"
#include "rt_uuid.h"

/* A timestamptz column as RFC 3339 UTC with microseconds, like event ts. */
#define TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* Seconds a run of alias a has lasted (to now() while running), clamped for a run whose
 * producer clock is off (runs.clock_skew_s; migration 0025). */
#define RUN_SECONDS(a)                                                                             \
    "runtrack_run_seconds(" a ".started_at, " a ".finished_at, " a ".first_received_at, " a        \
    ".received_at, " a ".clock_skew_s)"

/* Fields shared by the list and the detail; $1 is stale_after_s. Staleness is judged by when
 * the consumer last received the run's events (received_at), never by the events' own times;
 * elapsed_seconds of a run flagged for clock skew is clamped (migration 0025). */
/* clang-format off */
#define RUN_JSON_FIELDS                                                                            \
    "'run_id', r.run_id, 'job', r.job, 'kind', r.kind, 'status', r.status, 'phase', r.phase,"      \
    " 'started_at', " TS("r.started_at") ", 'finished_at', " TS("r.finished_at") ","               \
    " 'last_event_at', " TS("r.last_event_at") ","                                                 \
    " 'elapsed_seconds', round(" RUN_SECONDS("r") ", 3),"                                          \
    " 'stale', (r.status = 'running' AND r.received_at < now() - make_interval(secs => $1)),"     \
    " 'counters', r.counters, 'paused', r.paused, 'paused_at', " TS("r.paused_at") ","             \
    " 'resumed_at', " TS("r.resumed_at") ", 'error_message', r.error_message,"                     \
    " 'status_reason', r.status_reason, 'memory_percent', r.memory_percent,"                       \
    " 'cpu_percent', r.cpu_percent, 'has_started', r.has_started, 'last_seq', r.last_seq,"         \
    " 'received_at', " TS("r.received_at") ", 'clock_skew_s', r.clock_skew_s"
/* clang-format on */

#define LOG_JSON                                                                                   \
    "json_build_object('seq', l.seq, 'ts', " TS(                                                   \
        "l.ts") ", 'level', l.level, 'phase', l.phase,"                                            \
                " 'message', l.message, 'fields', l.fields, 'event_id', l.event_id)"

/* ---------- a small builder for statements with optional filters ---------- */

#define SQL_MAX_PARAMS 16

typedef struct sqlb {
    char sql[4096];
    size_t len;
    int overflow;
    const char *params[SQL_MAX_PARAMS];
    char store[SQL_MAX_PARAMS][64]; /* backing for formatted parameters */
    int n;
} sqlb_t;

static void sqlb_add(sqlb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sqlb_add(sqlb_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->sql + b->len, sizeof b->sql - b->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof b->sql - b->len)
        b->overflow = 1;
    else
        b->len += (size_t)w;
}

/* Adds a parameter and returns its $ number. */
static int sqlb_param(sqlb_t *b, const char *value)
{
    if (b->n >= SQL_MAX_PARAMS) {
        b->overflow = 1;
        return 1;
    }
    b->params[b->n] = value;
    return ++b->n;
}

static int sqlb_paramf(sqlb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sqlb_paramf(sqlb_t *b, const char *fmt, ...)
{
    if (b->n >= SQL_MAX_PARAMS) {
        b->overflow = 1;
        return 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->store[b->n], sizeof b->store[b->n], fmt, ap);
    va_end(ap);
    return sqlb_param(b, b->store[b->n]);
}

static PGresult *sqlb_exec(rt_req_t *req, sqlb_t *b)
{
    if (b->overflow) {
        rt_req_error(req, 500, "internal", "statement too long");
        return NULL;
    }
    return rt_req_exec(req, b->sql, b->n, b->params);
}

/* ---------- cursor ---------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int rt_cursor_encode(int64_t started_us, const char *run_id, char *out, size_t size)
{
    char raw[80];
    int n = snprintf(raw, sizeof raw, "%" PRId64 ".%s", started_us, run_id);
    if (n < 0 || (size_t)n >= sizeof raw || !rt_uuid_valid(run_id))
        return -1;
    size_t o = 0;
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        int k = n - i;
        if (k > 1)
            v |= (unsigned char)raw[i + 1] << 8;
        if (k > 2)
            v |= (unsigned char)raw[i + 2];
        int chars = k >= 3 ? 4 : k + 1;
        for (int c = 0; c < chars; c++) {
            if (o + 1 >= size)
                return -1;
            out[o++] = b64url[(v >> (18 - 6 * c)) & 63];
        }
    }
    out[o] = '\0';
    return 0;
}

int rt_cursor_decode(const char *cursor, int64_t *started_us, char run_id[37])
{
    char raw[80];
    size_t len = strlen(cursor), o = 0;
    if (len == 0 || len > 100 || len % 4 == 1)
        return -1;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64url, cursor[i]);
        if (!p || !cursor[i])
            return -1;
        v = (v << 6) | (unsigned)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= sizeof raw)
                return -1;
            raw[o++] = (char)((v >> bits) & 0xff);
        }
    }
    raw[o] = '\0';
    if (strlen(raw) != o)
        return -1;
    char *dot = strchr(raw, '.');
    if (!dot || dot == raw || strlen(dot + 1) != 36)
        return -1;
    *dot = '\0';
    char *end;
    errno = 0;
    long long us = strtoll(raw, &end, 10);
    if (errno || *end || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')))
        return -1;
    if (!rt_uuid_valid(dot + 1))
        return -1;
    *started_us = (int64_t)us;
    memcpy(run_id, dot + 1, 37);
    return 0;
}

/* ---------- ETA ---------- */

void rt_eta_compute(int64_t sites_completed, int64_t sites_total, int64_t batch_current,
                    int64_t batches_total, double elapsed_s, int running, rt_eta_t *out)
{
    memset(out, 0, sizeof *out);
    out->average_seconds_per_unit = -1;
    out->estimated_remaining_seconds = -1;
    if (sites_total > 0) {
        out->unit = "sites";
        out->total = sites_total;
        out->done = sites_completed > 0 ? sites_completed : 0;
    } else if (batches_total > 0) {
        out->unit = "batches";
        out->total = batches_total;
        /* batch_current is the batch in progress (seed 004: "Batch 1 of 2", in_progress). */
        int64_t cur = batch_current > 0 ? batch_current : 0;
        out->done = running ? (cur > 0 ? cur - 1 : 0) : cur;
    } else {
        return;
    }
    if (out->done > out->total)
        out->done = out->total;
    out->percent = 100.0 * (double)out->done / (double)out->total;
    if (out->done > 0 && elapsed_s >= 0) {
        out->average_seconds_per_unit = elapsed_s / (double)out->done;
        if (running)
            out->estimated_remaining_seconds =
                out->average_seconds_per_unit * (double)(out->total - out->done);
    }
}

/* ---------- handlers ---------- */

static double round3(double v)
{
    return (double)(long long)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0;
}

static int64_t counter(json_t *counters, const char *name)
{
    json_t *v = json_object_get(counters, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static int valid_status_filter(const char *s)
{
    rt_run_status_t st;
    return strcmp(s, "stale") == 0 || rt_run_status_from_name(s, &st) == 0;
}

void rt_api_runs_list(rt_req_t *req)
{
    static const char *const allowed[] = {"status", "phase",  "job",   "kind", "since",
                                          "until",  "cursor", "limit", NULL};
    const rt_api_conf_t *conf = rt_req_conf(req);
    sqlb_t b = {.len = 0};
    char *body = NULL;
    PGresult *r = NULL;
    long limit = 50;
    const char *since = NULL, *until = NULL;
    if (rt_req_allow_params(req, allowed) || rt_req_long(req, "limit", 1, 500, &limit) ||
        rt_req_time(req, "since", &since) || rt_req_time(req, "until", &until))
        return;
    const char *status = rt_req_param(req, "status");
    if (status && !valid_status_filter(status)) {
        rt_req_error(req, 400, "bad_parameter",
                     "status must be running, completed, failed, partial or stale");
        return;
    }
    sqlb_add(&b, "SELECT json_build_object(" RUN_JSON_FIELDS ")::text,"
                 " (extract(epoch FROM r.started_at) * 1000000)::bigint, r.run_id::text"
                 " FROM runs r WHERE true");
    sqlb_paramf(&b, "%.3f", conf->stale_after_s);
    if (status && strcmp(status, "stale") == 0)
        sqlb_add(&b, " AND r.status = 'running' AND r.received_at < now() - make_interval(secs"
                     " => $1)");
    else if (status)
        sqlb_add(&b, " AND r.status = $%d", sqlb_param(&b, status));
    static const char *const eq[] = {"phase", "job", "kind"};
    for (size_t i = 0; i < sizeof eq / sizeof eq[0]; i++) {
        const char *v = rt_req_param(req, eq[i]);
        if (v)
            sqlb_add(&b, " AND r.%s = $%d", eq[i], sqlb_param(&b, v));
    }
    if (since)
        sqlb_add(&b, " AND r.started_at >= $%d::timestamptz", sqlb_param(&b, since));
    if (until)
        sqlb_add(&b, " AND r.started_at < $%d::timestamptz", sqlb_param(&b, until));
    const char *cursor = rt_req_param(req, "cursor");
    if (cursor) {
        int64_t cus;
        char cid[37], cts[RT_TIME_STRLEN];
        if (rt_cursor_decode(cursor, &cus, cid) != 0 || !rt_time_format(cus, cts, sizeof cts)) {
            rt_req_error(req, 400, "bad_parameter", "cursor is not one this API returned");
            return;
        }
        int pt = sqlb_paramf(&b, "%s", cts);
        int pi = sqlb_paramf(&b, "%s", cid);
        /* A row comparison walks the (started_at DESC, run_id DESC) index from the cursor. */
        sqlb_add(&b, " AND (r.started_at, r.run_id) < ($%d::timestamptz, $%d::uuid)", pt, pi);
    }
    sqlb_add(&b, " ORDER BY r.started_at DESC, r.run_id DESC LIMIT $%d",
             sqlb_paramf(&b, "%ld", limit + 1));
    r = sqlb_exec(req, &b);
    if (!r)
        goto out;
    int rows = PQntuples(r), shown = rows < limit ? rows : (int)limit;
    char cur[RT_CURSOR_MAX];
    cur[0] = '\0';
    if (rows > limit) {
        int64_t us = strtoll(PQgetvalue(r, (int)limit - 1, 1), NULL, 10);
        if (rt_cursor_encode(us, PQgetvalue(r, (int)limit - 1, 2), cur, sizeof cur) != 0)
            cur[0] = '\0';
    }
    /* The rows are already JSON text from PostgreSQL: splice them into the envelope as they
     * are. Parsing each row into jansson and dumping it again was most of the server's CPU per
     * page (the cursor is base64url, so it needs no escaping). */
    size_t size = sizeof "{\"runs\":[],\"next_cursor\":null}" + strlen(cur) + (size_t)shown;
    for (int i = 0; i < shown; i++)
        size += (size_t)PQgetlength(r, i, 0);
    body = malloc(size);
    if (!body) {
        rt_req_error(req, 500, "internal", "out of memory");
        goto out;
    }
    size_t o = 9;
    memcpy(body, "{\"runs\":[", o);
    for (int i = 0; i < shown; i++) {
        if (i)
            body[o++] = ',';
        size_t len = (size_t)PQgetlength(r, i, 0);
        memcpy(body + o, PQgetvalue(r, i, 0), len);
        o += len;
    }
    snprintf(body + o, size - o, cur[0] ? "],\"next_cursor\":\"%s\"}" : "],\"next_cursor\":null}",
             cur);
    rt_req_text(req, 200, "application/json", body);
    body = NULL;
out:
    free(body);
    PQclear(r);
}

void rt_api_run_detail(rt_req_t *req, const char *run_id)
{
    static const char *const allowed[] = {"log_limit", NULL};
    const rt_api_conf_t *conf = rt_req_conf(req);
    PGresult *r = NULL, *lr = NULL;
    json_t *run = NULL;
    long log_limit = 50;
    if (rt_req_allow_params(req, allowed) || rt_req_long(req, "log_limit", 0, 1000, &log_limit))
        return;
    if (!rt_uuid_valid(run_id)) {
        rt_req_error(req, 400, "bad_parameter", "run id must be a UUID");
        return;
    }
    char stale[32], lim[32];
    snprintf(stale, sizeof stale, "%.3f", conf->stale_after_s);
    snprintf(lim, sizeof lim, "%ld", log_limit);
    const char *const params[] = {stale, run_id};
    r = rt_req_exec(req,
                    "SELECT json_build_object(" RUN_JSON_FIELDS
                    ", 'params', r.params, 'planned', r.planned,"
                    " 'start_counts', r.start_counts, 'end_counts', r.end_counts,"
                    " 'error_details', r.error_details, 'dropped_logs', r.dropped_logs,"
                    " 'producer', json_build_object('host', r.producer_host, 'pid', r.producer_pid,"
                    " 'lib', r.producer_lib))::text,"
                    " " RUN_SECONDS("r") " FROM runs r WHERE r.run_id = $2::uuid",
                    2, params);
    if (!r)
        goto out;
    if (PQntuples(r) == 0) {
        rt_req_error(req, 404, "not_found", "no run %s", run_id);
        goto out;
    }
    run = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    if (!run) {
        rt_req_error(req, 500, "internal", "bad row JSON from database");
        goto out;
    }
    double elapsed = strtod(PQgetvalue(r, 0, 1), NULL);
    json_t *counters = json_object_get(run, "counters");
    const char *status = json_string_value(json_object_get(run, "status"));
    int running = status && strcmp(status, "running") == 0;
    rt_eta_t eta;
    rt_eta_compute(counter(counters, "sites_completed"), counter(counters, "sites_total"),
                   counter(counters, "batch_current"), counter(counters, "batches_total"), elapsed,
                   running, &eta);
    json_t *progress = json_object();
    json_object_set_new(progress, "unit", eta.unit ? json_string(eta.unit) : json_null());
    json_object_set_new(progress, "done", eta.unit ? json_integer(eta.done) : json_null());
    json_object_set_new(progress, "total", eta.unit ? json_integer(eta.total) : json_null());
    json_object_set_new(progress, "percent",
                        eta.unit ? json_real(round3(eta.percent)) : json_null());
    json_object_set_new(progress, "average_seconds_per_unit",
                        eta.average_seconds_per_unit >= 0
                            ? json_real(round3(eta.average_seconds_per_unit))
                            : json_null());
    json_object_set_new(progress, "estimated_remaining_seconds",
                        eta.estimated_remaining_seconds >= 0
                            ? json_real(round3(eta.estimated_remaining_seconds))
                            : json_null());
    json_object_set_new(run, "progress", progress);
    int64_t bc = counter(counters, "batch_current"), bt = counter(counters, "batches_total");
    json_object_set_new(run, "batch",
                        bt >= 0 || bc >= 0
                            ? json_pack("{s:o,s:o}", "current",
                                        bc >= 0 ? json_integer(bc) : json_null(), "total",
                                        bt >= 0 ? json_integer(bt) : json_null())
                            : json_null());
    const char *const lparams[] = {run_id, lim};
    lr = rt_req_exec(req,
                     "SELECT coalesce(json_agg(x.j ORDER BY x.seq), '[]')::text FROM"
                     " (SELECT l.seq, " LOG_JSON " AS j FROM run_logs l WHERE l.run_id = $1::uuid"
                     " ORDER BY l.seq DESC LIMIT $2::int) x",
                     2, lparams);
    if (!lr)
        goto out;
    json_t *logs = json_loads(PQgetvalue(lr, 0, 0), 0, NULL);
    json_object_set_new(run, "logs", logs ? logs : json_array());
    rt_req_json(req, 200, run);
    run = NULL;
out:
    json_decref(run);
    PQclear(r);
    PQclear(lr);
}

void rt_api_run_logs(rt_req_t *req, const char *run_id)
{
    static const char *const allowed[] = {"after_seq", "level", "phase", "limit", NULL};
    sqlb_t b = {.len = 0};
    PGresult *r = NULL;
    long after = 0, limit = 100;
    if (rt_req_allow_params(req, allowed) ||
        rt_req_long(req, "after_seq", 0, 9007199254740991L, &after) ||
        rt_req_long(req, "limit", 1, 1000, &limit))
        return;
    if (!rt_uuid_valid(run_id)) {
        rt_req_error(req, 400, "bad_parameter", "run id must be a UUID");
        return;
    }
    const char *level = rt_req_param(req, "level"), *phase = rt_req_param(req, "phase");
    rt_log_level_t lv;
    if (level && rt_log_level_from_name(level, &lv) != 0) {
        rt_req_error(req, 400, "bad_parameter", "level must be info, success, warning or error");
        return;
    }
    const char *const eparams[] = {run_id};
    r = rt_req_exec(req,
                    "SELECT EXISTS (SELECT 1 FROM runs WHERE run_id = $1::uuid)"
                    " OR EXISTS (SELECT 1 FROM run_logs WHERE run_id = $1::uuid)",
                    1, eparams);
    if (!r)
        return;
    int exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    r = NULL;
    if (!exists) {
        rt_req_error(req, 404, "not_found", "no run %s", run_id);
        return;
    }
    sqlb_add(&b,
             "SELECT coalesce(json_agg(x.j ORDER BY x.seq), '[]')::text, max(x.seq) FROM"
             " (SELECT l.seq, " LOG_JSON " AS j FROM run_logs l WHERE l.run_id = $%d::uuid",
             sqlb_param(&b, run_id));
    sqlb_add(&b, " AND l.seq > $%d::bigint", sqlb_paramf(&b, "%ld", after));
    if (level)
        sqlb_add(&b, " AND l.level = $%d", sqlb_param(&b, level));
    if (phase)
        sqlb_add(&b, " AND l.phase = $%d", sqlb_param(&b, phase));
    sqlb_add(&b, " ORDER BY l.seq LIMIT $%d::int) x", sqlb_paramf(&b, "%ld", limit));
    r = sqlb_exec(req, &b);
    if (!r)
        return;
    json_t *logs = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    int64_t next = after;
    /* A bigint seq from PostgreSQL; one out of JSON's exact range keeps the cursor where it was. */
    if (!PQgetisnull(r, 0, 1) &&
        rt_parse_i64(PQgetvalue(r, 0, 1), 0, 9007199254740991LL, &next) != 0)
        next = after;
    rt_req_json(req, 200,
                json_pack("{s:s,s:o,s:I}", "run_id", run_id, "logs", logs ? logs : json_array(),
                          "next_after_seq", (json_int_t)next));
    PQclear(r);
}

/* Runs per job read from the top of an index to find its last run or success by report time. */
#define LAST_PROBE "8"

void rt_api_jobs(rt_req_t *req)
{
    static const char *const allowed[] = {NULL};
    if (rt_req_allow_params(req, allowed))
        return;
    char stale[32];
    snprintf(stale, sizeof stale, "%.3f", rt_req_conf(req)->stale_after_s);
    const char *const params[] = {stale};
    /* Status counts come from runs; events/urls added and the average duration are seed 000's
     * summary query over run_results (which also holds rows imported from the old system).
     * Rows the consumer did not write (run_results.imported, migration 0028: an old tracker's
     * INSERT or an import) are runs nobody else counts: they add to runs and to the average
     * duration, weighted by how many runs each side averaged. Their elapsed_time may be any
     * text, so it is read through runtrack_elapsed_seconds (NULL when not a duration).
     * The ids of each job's last run and last success are index probes per job: taking them
     * with array_agg(... ORDER BY) sorted every run and kept the aggregate from hashing in
     * parallel (EXPLAIN ANALYZE on 100,000 runs: 470 -> ~150 ms). */
    /* (clang-format would split the TS() concatenations across the page) */
    /* clang-format off */
    PGresult *r = rt_req_exec(
        req,
        "WITH a AS ("
        "  SELECT job, min(kind) AS kind, count(*) AS runs,"
        "   count(*) FILTER (WHERE status = 'completed') AS completed,"
        "   count(*) FILTER (WHERE status = 'failed') AS failed,"
        "   count(*) FILTER (WHERE status = 'partial') AS partial,"
        "   count(*) FILTER (WHERE status = 'running') AS running,"
        "   count(*) FILTER (WHERE status = 'running'"
        "     AND received_at < now() - make_interval(secs => $1)) AS stale,"
        /* durations and report times of runs whose producer clock is off come from the
         * consumer's receive times (migration 0025): one run stamped 9999 cannot be the
         * job's last run for ever */
        "   avg(" RUN_SECONDS("runs") ") FILTER (WHERE finished_at IS NOT NULL) AS avg_duration,"
        "   count(*) FILTER (WHERE finished_at IS NOT NULL) AS finished"
        "  FROM runs GROUP BY job),"
        " r AS ("
        "  SELECT a.*, lr.run_id AS last_run_id, lr.at AS last_run_at,"
        "   ls.run_id AS last_success_run_id, ls.at AS last_success_at FROM a"
        /* the newest by the index (DESC: nulls first), then by report time among the first
         * few, so that up to LAST_PROBE - 1 runs stamped in the future cannot hide the rest */
        "  LEFT JOIN LATERAL (SELECT * FROM (SELECT run_id,"
        "   runtrack_report_ts(started_at, first_received_at, clock_skew_s) AS at"
        "   FROM runs WHERE job = a.job ORDER BY started_at DESC LIMIT " LAST_PROBE ") x"
        "   ORDER BY at DESC LIMIT 1) lr ON true"
        "  LEFT JOIN LATERAL (SELECT * FROM (SELECT run_id,"
        "   runtrack_report_ts(finished_at, received_at, clock_skew_s) AS at"
        "   FROM runs WHERE job = a.job AND status = 'completed'"
        "   ORDER BY finished_at DESC LIMIT " LAST_PROBE ") x"
        "   ORDER BY at DESC NULLS LAST LIMIT 1) ls ON true),"
        " rr AS ("
        "  SELECT file_name AS job, count(*) AS results, sum(new_events_in_db) AS events_added,"
        "   sum(new_urls_in_db) AS urls_added,"
        "   avg(CASE WHEN imported THEN runtrack_elapsed_seconds(elapsed_time)::numeric"
        "    ELSE extract(epoch FROM elapsed_time::interval) END) AS avg_duration,"
        "   count(*) FILTER (WHERE imported) AS imported,"
        "   sum(runtrack_elapsed_seconds(elapsed_time)) FILTER (WHERE imported) AS imp_dur_sum,"
        "   count(runtrack_elapsed_seconds(elapsed_time)) FILTER (WHERE imported) AS imp_dur_n"
        "  FROM run_results WHERE file_name IS NOT NULL GROUP BY file_name)"
        " SELECT coalesce(json_agg(json_build_object("
        "  'job', job, 'kind', r.kind,"
        "  'runs', coalesce(r.runs + rr.imported, r.runs, rr.results),"
        "  'imported', coalesce(rr.imported, 0),"
        "  'completed', coalesce(r.completed, 0), 'failed', coalesce(r.failed, 0),"
        "  'partial', coalesce(r.partial, 0), 'running', coalesce(r.running, 0),"
        "  'stale', coalesce(r.stale, 0),"
        "  'last_run', CASE WHEN r.last_run_id IS NULL THEN NULL ELSE json_build_object("
        "    'run_id', r.last_run_id, 'started_at', " TS("r.last_run_at") ") END,"
        "  'last_success', CASE WHEN r.last_success_run_id IS NULL THEN NULL ELSE"
        "    json_build_object('run_id', r.last_success_run_id,"
        "    'finished_at', " TS("r.last_success_at") ") END,"
        "  'average_duration_seconds', round(coalesce((coalesce(r.avg_duration * r.finished, 0)"
        "    + coalesce(rr.imp_dur_sum, 0)) / nullif(coalesce(r.finished, 0)"
        "    + coalesce(rr.imp_dur_n, 0), 0), rr.avg_duration)::numeric, 3),"
        "  'events_added', coalesce(rr.events_added, 0),"
        "  'urls_added', coalesce(rr.urls_added, 0))"
        "  ORDER BY job), '[]')::text"
        " FROM r FULL JOIN rr USING (job)",
        1, params);
    /* clang-format on */
    if (!r)
        return;
    json_t *jobs = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    char now[RT_TIME_STRLEN];
    rt_time_format(rt_now_us(), now, sizeof now);
    /* generated_at: when computed (answers come from the report cache for http_cache_ms). */
    rt_req_json(req, 200,
                json_pack("{s:s,s:o}", "generated_at", now, "jobs", jobs ? jobs : json_array()));
}

void rt_api_job_rollup(rt_req_t *req, const char *job)
{
    static const char *const allowed[] = {"period", "since", "until", "limit", NULL};
    sqlb_t b = {.len = 0};
    long limit = 0;
    const char *since = NULL, *until = NULL;
    if (rt_req_allow_params(req, allowed) || rt_req_long(req, "limit", 1, 1000, &limit) ||
        rt_req_time(req, "since", &since) || rt_req_time(req, "until", &until))
        return;
    const char *period = rt_req_param(req, "period");
    if (!period)
        period = "day";
    int week = strcmp(period, "week") == 0;
    if (!week && strcmp(period, "day") != 0) {
        rt_req_error(req, 400, "bad_parameter", "period must be day or week");
        return;
    }
    if (!limit)
        limit = week ? 26 : 30;
    sqlb_add(&b,
             "SELECT coalesce(json_agg(json_build_object("
             " 'period_start', to_char(v.period_start, 'YYYY-MM-DD'), 'runs', v.runs,"
             " 'completed', v.completed, 'partial', v.partial, 'failed', v.failed,"
             " 'running', v.running, 'duration_avg_seconds', round(v.duration_avg_s::numeric, 3),"
             " 'duration_p50_seconds', round(v.duration_p50_s::numeric, 3),"
             " 'duration_p90_seconds', round(v.duration_p90_s::numeric, 3),"
             " 'duration_p99_seconds', round(v.duration_p99_s::numeric, 3),"
             " 'events_added', v.events_added, 'urls_added', v.urls_added)"
             " ORDER BY v.period_start DESC), '[]')::text FROM"
             " (SELECT * FROM %s WHERE job = $%d",
             week ? "run_rollup_weekly" : "run_rollup_daily", sqlb_param(&b, job));
    /* Periods are UTC days/weeks (ISO weeks start Monday); since/until select periods whose
     * start lies in [since, until). */
    if (since)
        sqlb_add(&b, " AND period_start >= ($%d::timestamptz AT TIME ZONE 'UTC')",
                 sqlb_param(&b, since));
    if (until)
        sqlb_add(&b, " AND period_start < ($%d::timestamptz AT TIME ZONE 'UTC')",
                 sqlb_param(&b, until));
    sqlb_add(&b, " ORDER BY period_start DESC LIMIT $%d::int) v", sqlb_paramf(&b, "%ld", limit));
    PGresult *r = sqlb_exec(req, &b);
    if (!r)
        return;
    json_t *rows = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    rt_req_json(req, 200,
                json_pack("{s:s,s:s,s:o}", "job", job, "period", week ? "week" : "day", "rollup",
                          rows ? rows : json_array()));
}

void rt_api_job_last_success(rt_req_t *req, const char *job)
{
    static const char *const allowed[] = {NULL};
    if (rt_req_allow_params(req, allowed))
        return;
    const char *const params[] = {job};
    /* Seed 001 AC3: the newest completed run and its completed_at, for incremental fetching. */
    PGresult *r = rt_req_exec(
        req,
        "SELECT json_build_object('run_id', r.run_id, 'job', r.job, 'kind', r.kind,"
        " 'status', r.status, 'started_at', " TS(
            "r.started_at") ","
                            " 'completed_at', " TS("r.finished_at") ", 'finished_at', " TS(
                                "r.finished_at") ","
                                                 " 'elapsed_seconds', round(" RUN_SECONDS("r") ", 3),"
                                                 " 'counters', r.counters, 'params', "
                                                 "r.params)::text, " TS(
                                                     "r.finished_at") " FROM runs r WHERE r.job = "
                                                                      "$1 AND r.status = "
                                                                      "'completed' AND "
                                                                      "r.finished_at IS NOT NULL"
                                                                      " ORDER BY r.finished_at "
                                                                      "DESC LIMIT 1",
        1, params);
    if (!r)
        return;
    json_t *body;
    if (PQntuples(r) == 0) {
        body = json_pack("{s:s,s:n,s:n}", "job", job, "last_success", "completed_at");
    } else {
        json_t *run = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        body = json_pack("{s:s,s:o,s:s}", "job", job, "last_success", run ? run : json_null(),
                         "completed_at", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    rt_req_json(req, 200, body);
}
