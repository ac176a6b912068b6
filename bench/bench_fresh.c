/* Freshness benchmark (make bench): at a steady RATE events/s spread over RUNS runs, the time
 * from runtrack_run_progress() returning to the new counter value being visible in PostgreSQL
 * (runs.counters), with a runtrack-consumer running against the same topic and database.
 *
 * Each call sets counter "n" of its run to i (1, 2, ...). A poller thread reads
 * (run_id, counters->>'n') of the benchmark's runs every POLL_US; when it sees value v for a
 * run, every call of that run with n <= v not seen before is visible now: its latency is the poll
 * time minus the call's return time. Progress that libruntrack coalesced (replaced by a newer
 * value before it was sent) therefore counts as visible when the newer value is, as a reader
 * would see it. Latencies include up to one poll interval plus the query time.
 * usage: bench_fresh RATE SECONDS RUNS OUT_LATENCIES_FILE
 *   env: RUNTRACK_BROKERS, RUNTRACK_TOPIC, RUNTRACK_PG_DSN, RUNTRACK_KAFKA_* (producer settings)
 * Prints RESULT lines (p50/p90/p99/max ms, count, unseen). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "rt_time.h"
#include "runtrack.h"

#define MAX_RUNS 64
#define POLL_US 1000

typedef struct {
    runtrack_run_t *run;
    char id[40];
    int64_t *ret_us;      /* return time of call n (index n), written by the main thread */
    _Atomic long issued;  /* highest n whose ret_us is written */
    long seen;            /* highest n seen in PostgreSQL (poller only) */
} brun_t;

typedef struct {
    brun_t *runs;
    int nruns;
    PGconn *pg;
    double *lat_ms; /* filled by the poller */
    long nlat, cap;
    _Atomic int stop;
    int err;
} fresh_t;

static long parse_long(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    return v;
}

static void *poller(void *arg)
{
    fresh_t *F = arg;
    const char *ids[MAX_RUNS];
    char arr[MAX_RUNS * 40 + 4];
    size_t off = 0;
    arr[off++] = '{';
    for (int i = 0; i < F->nruns; i++)
        off += (size_t)snprintf(arr + off, sizeof arr - off, "%s%s", i ? "," : "", F->runs[i].id);
    snprintf(arr + off, sizeof arr - off, "}");
    ids[0] = arr;
    for (;;) {
        int last = atomic_load(&F->stop);
        PGresult *r = PQexecParams(F->pg,
                                   "SELECT run_id::text, COALESCE((counters->>'n')::bigint, 0)"
                                   " FROM runs WHERE run_id = ANY($1::uuid[])",
                                   1, NULL, ids, NULL, NULL, 0);
        int64_t now = rt_mono_us();
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench_fresh: poll: %s", PQerrorMessage(F->pg));
            PQclear(r);
            F->err = 1;
            return NULL;
        }
        for (int k = 0; k < PQntuples(r); k++) {
            const char *id = PQgetvalue(r, k, 0);
            long v = strtol(PQgetvalue(r, k, 1), NULL, 10);
            for (int i = 0; i < F->nruns; i++) {
                brun_t *b = &F->runs[i];
                if (strcmp(b->id, id) != 0)
                    continue;
                long issued = atomic_load(&b->issued);
                if (v > issued)
                    v = issued; /* cannot happen; guards the index */
                for (long n = b->seen + 1; n <= v; n++) {
                    if (F->nlat < F->cap)
                        F->lat_ms[F->nlat++] = (double)(now - b->ret_us[n]) / 1000.0;
                }
                if (v > b->seen)
                    b->seen = v;
            }
        }
        PQclear(r);
        if (last)
            return NULL;
        struct timespec ts = {0, POLL_US * 1000};
        nanosleep(&ts, NULL);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long rate = argc == 5 ? parse_long(argv[1], 1, 1000000) : -1;
    long secs = argc == 5 ? parse_long(argv[2], 1, 3600) : -1;
    long nruns = argc == 5 ? parse_long(argv[3], 1, MAX_RUNS) : -1;
    if (rate < 0 || secs < 0 || nruns < 0) {
        fprintf(stderr, "usage: %s RATE SECONDS RUNS(1..%d) OUT_FILE\n", argv[0], MAX_RUNS);
        return 64;
    }
    char err[512];
    int rc = 1;
    long total = rate * secs, per_run = total / nruns + 2;
    brun_t runs[MAX_RUNS];
    memset(runs, 0, sizeof runs);
    fresh_t F = {.runs = runs, .nruns = (int)nruns, .cap = total + 16};
    F.lat_ms = calloc((size_t)F.cap, sizeof *F.lat_ms);
    runtrack_conf_t *conf = runtrack_conf_new();
    runtrack_t *rt = NULL;
    FILE *out = NULL;
    pthread_t th;
    int started = 0;
    if (!F.lat_ms || !conf || runtrack_conf_from_env(conf, err, sizeof err)) {
        fprintf(stderr, "bench_fresh: conf: %s\n", err);
        goto out;
    }
    rt = runtrack_new(conf, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "bench_fresh: %s\n", err);
        goto out;
    }
    F.pg = PQconnectdb(getenv("RUNTRACK_PG_DSN") ? getenv("RUNTRACK_PG_DSN") : "");
    if (PQstatus(F.pg) != CONNECTION_OK) {
        fprintf(stderr, "bench_fresh: %s", PQerrorMessage(F.pg));
        goto out;
    }
    for (int i = 0; i < nruns; i++) {
        runs[i].run = runtrack_run_start(rt, "bench_fresh.py", NULL, err, sizeof err);
        runs[i].ret_us = calloc((size_t)per_run + 1, sizeof(int64_t));
        if (!runs[i].run || !runs[i].ret_us) {
            fprintf(stderr, "bench_fresh: start: %s\n", err);
            goto out;
        }
        snprintf(runs[i].id, sizeof runs[i].id, "%s", runtrack_run_id(runs[i].run));
    }
    /* Wait until every run.started of THIS process is visible (the database may hold runs of
     * earlier settings): the consumer has joined, is assigned and caught up, so group join
     * time is not counted as latency. */
    char arr[MAX_RUNS * 40 + 4];
    size_t off = 0;
    arr[off++] = '{';
    for (int i = 0; i < nruns; i++)
        off += (size_t)snprintf(arr + off, sizeof arr - off, "%s%s", i ? "," : "", runs[i].id);
    snprintf(arr + off, sizeof arr - off, "}");
    const char *wait_ids[1] = {arr};
    for (int tries = 0;; tries++) {
        PGresult *r = PQexecParams(F.pg, "SELECT count(*) FROM runs WHERE run_id = ANY($1::uuid[])",
                                   1, NULL, wait_ids, NULL, NULL, 0);
        long seen = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10)
                                                        : -1;
        PQclear(r);
        if (seen >= nruns)
            break;
        if (tries > 600) {
            fprintf(stderr, "bench_fresh: runs not visible after 60 s (consumer running?)\n");
            goto out;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_create(&th, NULL, poller, &F);
    started = 1;
    /* Steady pacing: call i is due at t0 + i/rate; calls go round-robin over the runs. */
    int64_t t0 = rt_mono_us();
    for (long i = 0; i < total; i++) {
        int64_t due = t0 + (int64_t)((double)i * 1e6 / (double)rate);
        int64_t now = rt_mono_us();
        if (due > now) {
            struct timespec ts = {(due - now) / 1000000, ((due - now) % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        brun_t *b = &runs[i % nruns];
        long n = atomic_load(&b->issued) + 1;
        runtrack_counter_t c = {"n", n};
        if (runtrack_run_progress(b->run, &c, 1, RUNTRACK_PERCENT_UNSET, RUNTRACK_PERCENT_UNSET,
                                  err, sizeof err) != 0) {
            fprintf(stderr, "bench_fresh: progress: %s\n", err);
            goto out;
        }
        b->ret_us[n] = rt_mono_us();
        atomic_store(&b->issued, n);
    }
    double send_s = (double)(rt_mono_us() - t0) / 1e6;
    /* Let the tail become visible (bounded), then stop the poller. */
    for (int tries = 0; tries < 1000; tries++) {
        int done = 1;
        for (int i = 0; i < nruns; i++)
            done &= runs[i].seen >= atomic_load(&runs[i].issued);
        if (done)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&F.stop, 1);
    pthread_join(th, NULL);
    started = 0;
    if (F.err)
        goto out;
    long unseen = total - F.nlat;
    out = fopen(argv[4], "w");
    if (!out) {
        perror(argv[4]);
        goto out;
    }
    for (long i = 0; i < F.nlat; i++)
        fprintf(out, "%.3f\n", F.lat_ms[i]);
    qsort(F.lat_ms, (size_t)F.nlat, sizeof *F.lat_ms, cmp_d);
#define PCT(p) (F.nlat ? F.lat_ms[(long)((double)(F.nlat - 1) * (p))] : -1.0)
    printf("RESULT fresh_calls %ld\nRESULT fresh_unseen %ld\nRESULT fresh_rate %.0f\n"
           "RESULT fresh_p50_ms %.1f\nRESULT fresh_p90_ms %.1f\nRESULT fresh_p99_ms %.1f\n"
           "RESULT fresh_max_ms %.1f\n",
           F.nlat, unseen, (double)total / send_s, PCT(0.50), PCT(0.90), PCT(0.99), PCT(1.0));
    rc = unseen ? 1 : 0;
out:
    if (started) {
        atomic_store(&F.stop, 1);
        pthread_join(th, NULL);
    }
    if (out)
        fclose(out);
    for (int i = 0; i < nruns; i++) {
        if (runs[i].run) {
            runtrack_run_finish(runs[i].run, RUNTRACK_COMPLETED, NULL, NULL, 0);
            runtrack_run_destroy(runs[i].run);
        }
        free(runs[i].ret_us);
    }
    if (rt)
        runtrack_destroy(rt, 10000, NULL);
    else
        runtrack_conf_destroy(conf);
    PQfinish(F.pg);
    free(F.lat_ms);
    return rc;
}
