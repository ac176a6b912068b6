/* Fault test against a private dev broker (RUNTRACK_BROKERS, RUNTRACK_DEVBROKER_CTL,
 * RUNTRACK_DEVBROKER from deploy/devbroker.sh; run by tests/producer/run_and_check.sh
 * --private-broker):
 *   1. outage: all brokers down during a run; every call made meanwhile returns at once (calls
 *      over 50 ms are counted as "blocked"; none allowed); nothing is delivered while down (flush
 *      times out); after `up` every lifecycle event and every log line arrives.
 *   2. queue bound: with log.queue.max lines undelivered, further lines are dropped at once and
 *      counted (return code, stats, run.finished dropped_logs, heartbeat).
 *   3. fatal error: a librdkafka fatal error (injected) makes the client recreate its handle;
 *      events queued on the old handle and recorded later still arrive.
 *   4. the same under live traffic (broker up, 3000 lines): nothing lost, order kept.
 * usage: test_producer_outage EXPECT_JSON_OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devbroker_ctl.h"
#include "internal.h"
#include "producer_test.h"
#include "rt_time.h"
#include "runtrack.h"

#define BLOCKED_US 50000 /* generous: scheduling noise on a shared 2-core machine stays below */

static long g_blocked, g_calls;
static int64_t g_worst;

/* Times one library call; counts it as blocked when it took over BLOCKED_US. */
#define TIMED(expr)                                                                                \
    ({                                                                                             \
        int64_t t0_ = rt_mono_us();                                                                \
        __typeof__(expr) r_ = (expr);                                                              \
        int64_t d_ = rt_mono_us() - t0_;                                                           \
        g_calls++;                                                                                 \
        if (d_ > g_worst)                                                                          \
            g_worst = d_;                                                                          \
        if (d_ > BLOCKED_US)                                                                       \
            g_blocked++;                                                                           \
        r_;                                                                                        \
    })

static runtrack_t *client(const char *log_queue_max)
{
    const char *const settings[] = {
        "log.queue.max", log_queue_max, "heartbeat.interval.ms", "300", "retry.backoff.ms", "100",
        /* Reconnect quickly after `up` so the test does not wait out the 10 s default backoff. */
        "kafka.reconnect.backoff.max.ms", "500", NULL};
    return rt_test_client(rt_test_conf(1, settings));
}

int main(int argc, char **argv)
{
    FILE *out = rt_test_expect_out(argc, argv);
    char err[512];
    uint64_t left = 0;
    runtrack_stats_t st;
    fprintf(out, "{\"runs\": {");

    /* ---- 1. outage */
    runtrack_t *rt = client("1000");
    runtrack_run_t *a = runtrack_run_start(rt, "outage_test", NULL, err, sizeof err);
    EXPECT(a != NULL);
    if (!a)
        return 1;
    EXPECT(runtrack_run_phase(a, "scraping", NULL, 0) == RUNTRACK_OK);
    for (int i = 0; i < 10; i++)
        EXPECT(runtrack_run_logf(a, RUNTRACK_INFO, "before outage %d", i) == RUNTRACK_OK);
    EXPECT(runtrack_flush(rt, 20000, &left) == RUNTRACK_OK);

    rt_test_devbroker_ctl("down -1");
    sleep_ms(300); /* let the client notice the connections are gone */
    EXPECT(TIMED(runtrack_run_phase(a, "matching", NULL, 0)) == RUNTRACK_OK);
    for (int i = 0; i < 300; i++) {
        EXPECT(TIMED(runtrack_run_logf(a, RUNTRACK_WARNING, "during outage %d", i)) == RUNTRACK_OK);
        runtrack_counter_t c[] = {{"sites_completed", i}, {"sites_total", 300}};
        EXPECT(TIMED(runtrack_run_progress(a, c, 2, 10.0, 20.0, NULL, 0)) == RUNTRACK_OK);
    }
    EXPECT(TIMED(runtrack_run_pause(a, "outage", NULL, 0)) == RUNTRACK_OK);
    EXPECT(TIMED(runtrack_run_resume(a, NULL, NULL, 0)) == RUNTRACK_OK);
    runtrack_counter_t fc[] = {{"found", 7}};
    runtrack_finish_opts_t fo = {.counters = fc, .n_counters = 1};
    EXPECT(TIMED(runtrack_run_finish(a, RUNTRACK_COMPLETED, &fo, NULL, 0)) == RUNTRACK_OK);
    runtrack_stats(rt, &st);
    EXPECT(TIMED(runtrack_flush(rt, 0, &left)) == RUNTRACK_ERR_TIMEOUT);
    sleep_ms(1000);
    /* Still down: nothing can have been delivered, so the fault injection really happened. */
    EXPECT(runtrack_flush(rt, 200, &left) == RUNTRACK_ERR_TIMEOUT);
    EXPECT(left >= 305); /* phase, 300 logs, 1 coalesced progress, pause, resume, finish */
    printf("outage: %ld calls, %ld over %d ms, slowest %lld us; %llu undelivered while down\n",
           g_calls, g_blocked, BLOCKED_US / 1000, (long long)g_worst, (unsigned long long)left);
    EXPECT(g_blocked == 0);
    rt_test_devbroker_ctl("up -1");
    EXPECT(runtrack_flush(rt, 40000, &left) == RUNTRACK_OK);
    runtrack_stats(rt, &st);
    EXPECT(st.dropped_logs == 0);
    fprintf(out,
            "\"%s\": {\"lifecycle\": [\"run.started\", \"run.phase\", \"run.phase\", "
            "\"run.paused\", \"run.resumed\", \"run.finished\"], \"logs\": 310, "
            "\"log_messages\": [\"before outage 0\", \"during outage 0\", \"during outage 299\"], "
            "\"status\": \"completed\", \"dropped_logs\": 0, \"counters\": {\"found\": 7, "
            "\"sites_completed\": 299}}",
            runtrack_run_id(a));
    runtrack_run_destroy(a);
    EXPECT(runtrack_destroy(rt, 10000, &left) == RUNTRACK_OK);

    /* ---- 2. queue bound: 100 undelivered lines at most */
    g_calls = g_blocked = 0;
    g_worst = 0;
    rt = client("100");
    runtrack_run_t *b = runtrack_run_start(rt, "bound_test", NULL, err, sizeof err);
    EXPECT(b != NULL);
    if (!b)
        return 1;
    EXPECT(runtrack_flush(rt, 20000, &left) == RUNTRACK_OK);
    rt_test_devbroker_ctl("down -1");
    int ok = 0, full = 0;
    for (int i = 0; i < 1000; i++) {
        runtrack_err_t e = TIMED(runtrack_run_logf(b, RUNTRACK_INFO, "bounded %d", i));
        ok += e == RUNTRACK_OK;
        full += e == RUNTRACK_ERR_QUEUE_FULL;
    }
    EXPECT(ok == 100 && full == 900);
    sleep_ms(700); /* a heartbeat comes due while down, carrying dropped_logs */
    EXPECT(TIMED(runtrack_run_finish(b, RUNTRACK_PARTIAL, NULL, NULL, 0)) == RUNTRACK_OK);
    runtrack_stats(rt, &st);
    EXPECT(st.dropped_logs == 900);
    printf("bound: %d accepted, %d dropped (stats %llu), %ld over %d ms, slowest %lld us\n", ok,
           full, (unsigned long long)st.dropped_logs, g_blocked, BLOCKED_US / 1000,
           (long long)g_worst);
    EXPECT(g_blocked == 0);
    rt_test_devbroker_ctl("up -1");
    EXPECT(runtrack_flush(rt, 40000, &left) == RUNTRACK_OK);
    fprintf(out,
            ", \"%s\": {\"lifecycle\": [\"run.started\", \"run.finished\"], \"logs\": 100, "
            "\"log_messages\": [\"bounded 0\", \"bounded 99\"], \"status\": \"partial\", "
            "\"dropped_logs\": 900, \"min_heartbeats\": 1}",
            runtrack_run_id(b));
    runtrack_run_destroy(b);
    EXPECT(runtrack_destroy(rt, 10000, &left) == RUNTRACK_OK);

    /* ---- 3. fatal error -> handle recreated, nothing lost */
    rt = client("1000");
    runtrack_run_t *c = runtrack_run_start(rt, "fatal_test", NULL, err, sizeof err);
    EXPECT(c != NULL);
    if (!c)
        return 1;
    EXPECT(runtrack_run_phase(c, "one", NULL, 0) == RUNTRACK_OK);
    EXPECT(runtrack_flush(rt, 20000, &left) == RUNTRACK_OK);
    rt_test_devbroker_ctl("down -1"); /* so events are still queued in the handle that dies */
    EXPECT(runtrack_run_phase(c, "two", NULL, 0) == RUNTRACK_OK);
    for (int i = 0; i < 20; i++)
        EXPECT(runtrack_run_logf(c, RUNTRACK_ERROR, "queued before fatal %d", i) == RUNTRACK_OK);
    sleep_ms(200);
    rt_test_inject_fatal(rt);
    for (int i = 0; i < 50 && (runtrack_stats(rt, &st), st.recreations == 0); i++)
        sleep_ms(100);
    EXPECT(st.recreations == 1);
    rt_test_devbroker_ctl("up -1");
    EXPECT(runtrack_run_phase(c, "three", NULL, 0) == RUNTRACK_OK);
    EXPECT(runtrack_run_finish(c, RUNTRACK_COMPLETED, NULL, NULL, 0) == RUNTRACK_OK);
    EXPECT(runtrack_flush(rt, 40000, &left) == RUNTRACK_OK);
    runtrack_stats(rt, &st);
    printf("fatal: recreations %llu, retried %llu, delivered %llu of %llu\n",
           (unsigned long long)st.recreations, (unsigned long long)st.retried,
           (unsigned long long)st.delivered, (unsigned long long)st.recorded);
    fprintf(out,
            ", \"%s\": {\"lifecycle\": [\"run.started\", \"run.phase\", \"run.phase\", "
            "\"run.phase\", \"run.finished\"], \"logs\": 20, \"status\": \"completed\"}",
            runtrack_run_id(c));
    runtrack_run_destroy(c);
    EXPECT(runtrack_destroy(rt, 10000, &left) == RUNTRACK_OK);

    /* ---- 4. fatal error under live traffic: the in-flight and queued events of the dead
     * handle are re-sent (some may arrive twice: same event_id and seq, which the consumer
     * dedups), in seq order, none lost. */
    rt = client("100000");
    runtrack_run_t *d = runtrack_run_start(rt, "fatal_live_test", NULL, err, sizeof err);
    EXPECT(d != NULL);
    if (!d)
        return 1;
    for (int i = 0; i < 3000; i++) {
        if (i == 1000)
            rt_test_inject_fatal(rt);
        if (i % 500 == 0) {
            char ph[16];
            snprintf(ph, sizeof ph, "part%d", i / 500);
            EXPECT(runtrack_run_phase(d, ph, NULL, 0) == RUNTRACK_OK);
        }
        EXPECT(runtrack_run_logf(d, RUNTRACK_INFO, "live %d", i) == RUNTRACK_OK);
    }
    EXPECT(runtrack_run_finish(d, RUNTRACK_COMPLETED, NULL, NULL, 0) == RUNTRACK_OK);
    EXPECT(runtrack_flush(rt, 40000, &left) == RUNTRACK_OK);
    runtrack_stats(rt, &st);
    EXPECT(st.recreations == 1);
    EXPECT(st.dropped_logs == 0);
    printf("fatal live: recreations %llu, retried %llu, delivered %llu of %llu\n",
           (unsigned long long)st.recreations, (unsigned long long)st.retried,
           (unsigned long long)st.delivered, (unsigned long long)st.recorded);
    fprintf(out,
            ", \"%s\": {\"allow_resends\": true, \"logs\": 3000, \"status\": \"completed\", "
            "\"log_messages\": [\"live 0\", \"live 999\", \"live 1000\", \"live 2999\"], "
            "\"lifecycle_counts\": {\"run.started\": 1, \"run.phase\": 6, \"run.finished\": 1}}",
            runtrack_run_id(d));
    runtrack_run_destroy(d);
    EXPECT(runtrack_destroy(rt, 10000, &left) == RUNTRACK_OK);

    fprintf(out, "}}\n");
    fclose(out);
    return g_fail;
}
