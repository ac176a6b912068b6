/* Baseline (a) of make bench: the seeds' write pattern — one INSERT or UPDATE per event, each
 * in its own autocommit transaction through libpq, the way the Python trackers write — applied
 * to the same event lines the consumer benchmark uses ("run_id<TAB>json", bench/gen_fleet.py).
 * usage: bench_seeds FILE      (RUNTRACK_PG_DSN: a migrated, empty database)
 * Prints "RESULT seeds_events N", "RESULT seeds_seconds S", "RESULT seeds_events_per_s R". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "rt_time.h"

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Sub-object as JSON text (NULL when absent); caller frees. */
static char *sub(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v ? json_dumps(v, JSON_COMPACT) : NULL;
}

static int exec(PGconn *c, const char *sql, int n, const char *const *v)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bench_seeds: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static int apply(PGconn *c, json_t *e)
{
    const char *type = str(e, "type"), *rid = str(e, "run_id"), *ts = str(e, "ts");
    json_t *d = json_object_get(e, "data");
    char seq[32];
    snprintf(seq, sizeof seq, "%lld", (long long)json_integer_value(json_object_get(e, "seq")));
    char *a = NULL, *b = NULL, *cc = NULL;
    int rc = 0;
    if (strcmp(type, "run.started") == 0) {
        a = sub(d, "start_counts"), b = sub(d, "params"), cc = sub(d, "planned");
        const char *v[] = {rid, str(e, "job"), str(e, "kind"), ts, seq, a, b, cc};
        rc = exec(c,
                  "INSERT INTO runs (run_id, job, kind, has_started, started_at, last_event_at,"
                  " last_seq, start_counts, params, planned) VALUES ($1, $2, $3, true, $4, $4,"
                  " $5, $6, $7, $8)",
                  8, v);
        if (rc == 0 && strcmp(str(e, "kind"), "discovery") == 0) {
            const char *w[] = {rid, ts};
            rc = exec(c,
                      "INSERT INTO discovery_runs (id, started_at, created_at, status) VALUES"
                      " ($1, ($2::timestamptz AT TIME ZONE 'UTC'), ($2::timestamptz AT TIME ZONE"
                      " 'UTC'), 'running')",
                      2, w);
        }
    } else if (strcmp(type, "run.progress") == 0) {
        a = sub(d, "counters"), b = sub(d, "memory_percent"), cc = sub(d, "cpu_percent");
        const char *v[] = {rid, ts, seq, a, b, cc};
        rc = exec(c,
                  "UPDATE runs SET counters = $4, memory_percent = $5, cpu_percent = $6,"
                  " last_event_at = $2, last_seq = $3 WHERE run_id = $1",
                  6, v);
    } else if (strcmp(type, "run.phase") == 0) {
        const char *v[] = {rid, ts, seq, str(d, "phase")};
        rc = exec(c,
                  "UPDATE runs SET phase = $4, last_event_at = $2, last_seq = $3 WHERE run_id ="
                  " $1",
                  4, v);
    } else if (strcmp(type, "run.log") == 0) {
        a = sub(d, "fields");
        const char *v[] = {rid, seq, ts, str(d, "level"), str(d, "phase"), str(d, "message"), a,
                           str(e, "event_id")};
        rc = exec(c,
                  "INSERT INTO run_logs (run_id, seq, ts, level, phase, message, fields, event_id)"
                  " VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8)",
                  8, v);
    } else if (strcmp(type, "run.finished") == 0) {
        a = sub(d, "end_counts"), b = sub(d, "counters");
        const char *v[] = {rid, ts, seq, str(d, "status"), a, b, str(d, "error_message")};
        rc = exec(c,
                  "UPDATE runs SET status = $4, finished_at = $2, end_counts = $5,"
                  " counters = COALESCE($6, counters), error_message = NULLIF($7, ''),"
                  " last_event_at = $2, last_seq = $3 WHERE run_id = $1",
                  7, v);
        if (rc == 0) {
            const char *w[] = {rid};
            rc = exec(c,
                      "INSERT INTO run_results (run_id, file_name, start_time_df,"
                      " events_count_start, urls_count_start, events_count_end, urls_count_end,"
                      " new_events_in_db, new_urls_in_db, time_stamp, elapsed_time)"
                      " SELECT run_id, job, to_char(started_at AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), (start_counts->>'events')::int,"
                      " (start_counts->>'urls')::int, (end_counts->>'events')::int,"
                      " (end_counts->>'urls')::int, (end_counts->>'events')::int -"
                      " (start_counts->>'events')::int, (end_counts->>'urls')::int -"
                      " (start_counts->>'urls')::int, finished_at AT TIME ZONE 'UTC',"
                      " (finished_at - started_at)::text FROM runs WHERE run_id = $1",
                      1, w);
        }
    }
    free(a);
    free(b);
    free(cc);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s EVENTS_FILE (RUNTRACK_PG_DSN: migrated empty database)\n",
                argv[0]);
        return 64;
    }
    const char *dsn = getenv("RUNTRACK_PG_DSN");
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 66;
    }
    PGconn *c = PQconnectdb(dsn ? dsn : "");
    int rc = 1;
    char *line = NULL;
    size_t cap = 0;
    long n = 0, bad = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_seeds: %s", PQerrorMessage(c));
        goto out;
    }
    int64_t t0 = rt_mono_us();
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        char *tab = strchr(line, '\t');
        json_error_t je;
        json_t *e = tab ? json_loads(tab + 1, 0, &je) : NULL;
        if (!e || apply(c, e) != 0)
            bad++;
        json_decref(e);
        n++;
    }
    double s = (double)(rt_mono_us() - t0) / 1e6;
    printf("RESULT seeds_events %ld\nRESULT seeds_failed %ld\nRESULT seeds_seconds %.3f\n"
           "RESULT seeds_events_per_s %.0f\n",
           n, bad, s, (double)n / s);
    rc = bad ? 1 : 0;
out:
    free(line);
    if (f)
        fclose(f);
    PQfinish(c);
    return rc;
}
