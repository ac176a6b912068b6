/* Example: a batched multi-site scraper (seed 004's shape) reporting through libruntrack.
 * Configuration comes from the environment (RUNTRACK_BROKERS, RUNTRACK_TOPIC, ...).
 * usage: c_scraper [SITES] [MS_PER_SITE]   prints the run id; exit 0 when everything was delivered.
 *
 * The pattern: one client per process, a run per job execution, absolute counters for progress,
 * logs with levels, and a flush with a timeout before exit. No call here ever blocks on Kafka. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtrack.h"

static long arg_long(const char *s, long def, long max)
{
    if (!s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > max) {
        fprintf(stderr, "c_scraper: \"%s\" is not a number 0..%ld\n", s, max);
        exit(64);
    }
    return v;
}

int main(int argc, char **argv)
{
    long sites = arg_long(argc > 1 ? argv[1] : NULL, 15, 10000);
    long ms = arg_long(argc > 2 ? argv[2] : NULL, 20, 60000);
    const long batch_size = 10;
    long batches = (sites + batch_size - 1) / batch_size;
    char err[512];

    runtrack_t *rt = runtrack_new(NULL, err, sizeof err); /* defaults + RUNTRACK_* environment */
    if (!rt) {
        fprintf(stderr, "c_scraper: %s\n", err);
        return 78;
    }
    runtrack_counter_t start_counts[] = {{RUNTRACK_EVENTS, 1000}, {RUNTRACK_URLS, 500}};
    runtrack_counter_t planned[] = {{RUNTRACK_SITES_TOTAL, sites},
                                    {RUNTRACK_BATCHES_TOTAL, batches}};
    runtrack_start_opts_t so = {.kind = "scrape",
                                .start_counts = start_counts,
                                .n_start_counts = 2,
                                .params_json = "{\"batch_size\": 10}",
                                .planned = planned,
                                .n_planned = 2};
    runtrack_run_t *run = runtrack_run_start(rt, "c_scraper", &so, err, sizeof err);
    if (!run) {
        fprintf(stderr, "c_scraper: %s\n", err);
        runtrack_destroy(rt, 0, NULL);
        return 65;
    }
    printf("%s\n", runtrack_run_id(run));
    runtrack_run_phase(run, "scraping", NULL, 0);

    long done = 0, failed = 0, events = 1000;
    for (long b = 0; b < batches; b++) {
        long in_batch = sites - b * batch_size < batch_size ? sites - b * batch_size : batch_size;
        runtrack_run_logf(run, RUNTRACK_INFO, "Batch %ld of %ld started (%ld sites)", b + 1,
                          batches, in_batch);
        for (long s = 0; s < in_batch; s++) {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            long site = b * batch_size + s;
            if (site % 7 == 6) {
                failed++;
                runtrack_run_logf(run, RUNTRACK_WARNING, "site %ld: HTTP 503, giving up", site);
            } else {
                done++;
                events += 3;
            }
            runtrack_counter_t c[] = {{RUNTRACK_BATCH_CURRENT, b + 1},
                                      {RUNTRACK_SITES_COMPLETED, done},
                                      {RUNTRACK_SITES_FAILED, failed},
                                      {RUNTRACK_SITES_IN_PROGRESS, in_batch - s - 1},
                                      {RUNTRACK_SITES_PENDING, sites - done - failed},
                                      {"pages_fetched", (done + failed) * 4}};
            runtrack_run_progress(run, c, 6, 5.2, 12.3, NULL, 0);
        }
        runtrack_run_logf(run, RUNTRACK_SUCCESS, "Batch %ld of %ld done", b + 1, batches);
    }

    runtrack_counter_t end_counts[] = {{RUNTRACK_EVENTS, events}, {RUNTRACK_URLS, 500 + done}};
    runtrack_finish_opts_t fo = {.end_counts = end_counts,
                                 .n_end_counts = 2,
                                 .error_message = failed ? "some sites failed" : NULL};
    runtrack_run_finish(run, failed ? RUNTRACK_PARTIAL : RUNTRACK_COMPLETED, &fo, NULL, 0);
    runtrack_run_destroy(run);

    uint64_t left = 0;
    if (runtrack_destroy(rt, 10000, &left) != RUNTRACK_OK) {
        fprintf(stderr, "c_scraper: %llu events not delivered (broker unreachable?)\n",
                (unsigned long long)left);
        return 69;
    }
    return 0;
}
