/* 8 threads x 20,000 log/progress calls into two shared runs, with phase changes and
 * pause/resume from several threads, against the real dev broker (RUNTRACK_BROKERS,
 * RUNTRACK_TOPIC). Every call must succeed, everything must be delivered (flush), no delivery
 * may fail, and (checked by the reader, tests/producer/check_events.py) every event validates,
 * per-run seq is strictly increasing and all lifecycle events and log lines arrived, and the
 * messages around libruntrack's slot sizes (pooled small/large, malloc'ed) arrive intact.
 * usage: test_producer_threads EXPECT_JSON_OUT */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer_test.h"
#include "runtrack.h"

#define THREADS 8
#define CALLS   20000

/* Message lengths at the edges of the log-event slots with a 9-byte phase ("phase_tN"): 46/47
 * fill / overflow a 192-byte slot, 366/367 a 512-byte one, 1500 is malloc'ed. */
static const size_t edge_lens[] = {46, 47, 366, 367, 1500};
#define N_EDGE (sizeof edge_lens / sizeof edge_lens[0])

/* The edge message k of thread t: "t<t> k<k> " then a letter pattern, len bytes in all. */
static void edge_message(char *buf, int t, size_t k)
{
    size_t len = edge_lens[k];
    int n = snprintf(buf, len + 1, "t%d k%zu ", t, k);
    for (size_t i = (size_t)n; i < len; i++)
        buf[i] = (char)('a' + (int)((i + (size_t)t) % 26));
    buf[len] = '\0';
}

static runtrack_run_t *g_runs[2];

typedef struct worker {
    int id;
    long failures;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    runtrack_run_t *run = g_runs[w->id % 2];
    char name[16], phase[16];
    snprintf(name, sizeof name, "t%d", w->id);
    snprintf(phase, sizeof phase, "phase_t%d", w->id);
    if (runtrack_run_phase(run, phase, NULL, 0) != RUNTRACK_OK)
        w->failures++;
    char edge[1501];
    for (size_t k = 0; k < N_EDGE; k++) {
        edge_message(edge, w->id, k);
        if (runtrack_run_log(run, RUNTRACK_INFO, edge, k % 2 ? "{\"k\":1}" : NULL) != RUNTRACK_OK)
            w->failures++;
    }
    for (int i = 0; i < CALLS; i++) {
        runtrack_err_t e;
        if (i % 2 == 0) {
            e = runtrack_run_logf(run, (runtrack_level_t)(i % 4), "thread %d line %d \"q\"", w->id,
                                  i);
        } else {
            runtrack_counter_t c[2] = {{name, i}, {"sites_completed", i}};
            e = runtrack_run_progress(run, c, 2, (i % 100) * 1.0, RUNTRACK_PERCENT_UNSET, NULL, 0);
        }
        if (e != RUNTRACK_OK)
            w->failures++;
        if (i == CALLS / 2 && w->id < 2) {
            if (runtrack_run_pause(run, "half way", NULL, 0) != RUNTRACK_OK ||
                runtrack_run_resume(run, NULL, NULL, 0) != RUNTRACK_OK)
                w->failures++;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    FILE *f = rt_test_expect_out(argc, argv);
    char err[512];
    static const char *const big_queue[] = {"log.queue.max", "1000000", NULL};
    runtrack_t *rt = rt_test_client(rt_test_conf(1, big_queue));
    for (int r = 0; r < 2; r++) {
        runtrack_counter_t sc[] = {{"events", 100}, {"urls", 50}};
        runtrack_start_opts_t so = {.start_counts = sc, .n_start_counts = 2};
        g_runs[r] = runtrack_run_start(rt, "threads_test", &so, err, sizeof err);
        if (!g_runs[r]) {
            fprintf(stderr, "start: %s\n", err);
            return 1;
        }
    }
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.id = i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    long failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    for (int r = 0; r < 2; r++) {
        runtrack_counter_t ec[] = {{"events", 200}, {"urls", 60}};
        runtrack_finish_opts_t fo = {.end_counts = ec, .n_end_counts = 2};
        if (runtrack_run_finish(g_runs[r], RUNTRACK_COMPLETED, &fo, err, sizeof err))
            failures++;
    }
    uint64_t left = 0;
    runtrack_err_t fe = runtrack_flush(rt, 60000, &left);
    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    printf("recorded %llu produced %llu delivered %llu failed %llu dropped %llu coalesced %llu "
           "queued %llu\n",
           (unsigned long long)st.recorded, (unsigned long long)st.produced,
           (unsigned long long)st.delivered, (unsigned long long)st.failed,
           (unsigned long long)st.dropped_logs, (unsigned long long)st.coalesced_progress,
           (unsigned long long)st.queued);
    if (failures) {
        fprintf(stderr, "FAIL: %ld calls did not return RUNTRACK_OK\n", failures);
        g_fail = 1;
    }
    if (fe != RUNTRACK_OK) {
        fprintf(stderr, "FAIL: flush: %llu events undelivered\n", (unsigned long long)left);
        g_fail = 1;
    }
    if (st.failed || st.dropped_logs || st.delivered != st.recorded) {
        fprintf(stderr, "FAIL: failed %llu dropped %llu delivered %llu of %llu\n",
                (unsigned long long)st.failed, (unsigned long long)st.dropped_logs,
                (unsigned long long)st.delivered, (unsigned long long)st.recorded);
        g_fail = 1;
    }
    fprintf(f, "{\"runs\": {");
    for (int r = 0; r < 2; r++) {
        /* Threads r, r+2, r+4, r+6 each log N_EDGE + CALLS/2 lines and change the phase once;
         * threads 0 and 1 pause and resume their run once. */
        fprintf(f, "%s\"%s\": {\"log_messages\": [", r ? ", " : "", runtrack_run_id(g_runs[r]));
        char edge[1501];
        for (int t = r; t < THREADS; t += 2)
            for (size_t k = 0; k < N_EDGE; k++) {
                edge_message(edge, t, k);
                fprintf(f, "%s\"%s\"", t == r && k == 0 ? "" : ", ", edge);
            }
        fprintf(f,
                "], \"logs\": %d, \"status\": \"completed\", \"dropped_logs\": 0, "
                "\"lifecycle_counts\": {\"run.started\": 1, \"run.phase\": %d, \"run.paused\": 1, "
                "\"run.resumed\": 1, \"run.finished\": 1}, "
                "\"finished\": {\"end_counts\": {\"events\": 200, \"urls\": 60}}, "
                "\"counters\": {\"sites_completed\": %d}}",
                (int)(THREADS / 2 * (CALLS / 2 + N_EDGE)), THREADS / 2, CALLS - 1);
    }
    fprintf(f, "}}\n");
    fclose(f);
    for (int r = 0; r < 2; r++)
        runtrack_run_destroy(g_runs[r]);
    if (runtrack_destroy(rt, 10000, &left) != RUNTRACK_OK) {
        fprintf(stderr, "FAIL: destroy: %llu undelivered\n", (unsigned long long)left);
        g_fail = 1;
    }
    return g_fail;
}
