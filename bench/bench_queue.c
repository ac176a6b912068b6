/* Producer memory while the broker is down (make bench): records EVENTS run.log lines into one
 * run while no broker answers, then reports the process's RSS before and after, and what
 * libruntrack kept queued or dropped. The bound is log.queue.max (RUNTRACK_LOG_QUEUE_MAX):
 * run it once with the queue large enough to hold everything and once with the default.
 * usage: bench_queue EVENTS      (env: RUNTRACK_BROKERS pointing at stopped/down brokers)
 * Prints RESULT lines: queue_rss_before_kib, queue_rss_after_kib, queue_hwm_kib,
 * queue_recorded, queue_dropped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtrack.h"

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    errno = 0;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || errno || *end || n < 1 || n > 10000000) {
        fprintf(stderr, "usage: %s EVENTS (1..10000000)\n", argv[0]);
        return 64;
    }
    char err[512];
    runtrack_t *rt = runtrack_new(NULL, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "bench_queue: %s\n", err);
        return 69;
    }
    runtrack_run_t *run = runtrack_run_start(rt, "bench_queue.py", NULL, err, sizeof err);
    if (!run) {
        fprintf(stderr, "bench_queue: start: %s\n", err);
        runtrack_destroy(rt, 0, NULL);
        return 70;
    }
    long before = status_kib("VmRSS");
    for (long i = 0; i < n; i++)
        runtrack_run_logf(run, RUNTRACK_INFO, "site s%ld: %ld listings scraped", i % 15, i);
    long after = status_kib("VmRSS"), hwm = status_kib("VmHWM");
    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    printf("RESULT queue_rss_before_kib %ld\nRESULT queue_rss_after_kib %ld\n"
           "RESULT queue_hwm_kib %ld\nRESULT queue_recorded %llu\nRESULT queue_delivered %llu\n"
           "RESULT queue_dropped %llu\n",
           before, after, hwm, (unsigned long long)st.recorded,
           (unsigned long long)st.delivered, (unsigned long long)st.dropped_logs);
    runtrack_run_destroy(run);
    runtrack_destroy(rt, 0, NULL);
    return 0;
}
