/* Producer benchmark (make bench_producer; not run by ctest): cost of libruntrack's recording
 * calls next to raw rd_kafka_producev of the same payload bytes, in the same process, against
 * the broker in RUNTRACK_BROKERS (e.g. a dev broker: deploy/devbroker.sh start DIR).
 *
 * For 1 and 2 threads it times CALLS calls per thread of: runtrack_run_progress (one shared
 * run, so coalescing and lock contention are included), runtrack_run_log and runtrack_run_logf,
 * and rd_kafka_producev (F_COPY) of a pre-encoded run.log event. Queues are sized so nothing is
 * dropped; after each case everything is flushed (untimed except for the delivery rate column).
 * "cpu ns/call" is the calling threads' own CPU time per call (CLOCK_THREAD_CPUTIME_ID): on a
 * shared machine the wall-clock rate also counts the time the caller waited for a core.
 * usage: bench_producer [CALLS_PER_THREAD]   (default 200000) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "rt_time.h"
#include "runtrack.h"

typedef enum { K_PROGRESS, K_LOG, K_LOGF, K_RAW } kind_t;
static const char *const kind_names[] = {"runtrack_run_progress", "runtrack_run_log",
                                         "runtrack_run_logf", "rd_kafka_producev (raw)"};

static runtrack_t *g_rt;
static runtrack_run_t *g_run;
static rd_kafka_t *g_rk;
static rd_kafka_topic_t *g_rkt;
static char g_payload[1024];
static size_t g_payload_len;
static const char *g_key;
static long g_calls = 200000;
static double g_cpu_ns_call[4][3];

typedef struct job {
    kind_t kind;
    int id;
    int64_t ns;
    int64_t cpu_ns; /* the calling thread's CPU time: its own cost, without preemption */
    long errors;
} job_t;

/* Waits for everything produced so far; a timeout would skew the rates, so it is said. */
static void flush_or_warn(int timeout_ms)
{
    uint64_t left = 0;
    if (runtrack_flush(g_rt, timeout_ms, &left) != RUNTRACK_OK)
        fprintf(stderr, "bench_producer: %llu event(s) still undelivered after %d ms\n",
                (unsigned long long)left, timeout_ms);
}

static int64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *worker(void *arg)
{
    job_t *j = arg;
    char cname[16];
    snprintf(cname, sizeof cname, "w%d", j->id);
    int64_t t0 = rt_mono_us(), c0 = thread_cpu_ns();
    for (long i = 0; i < g_calls; i++) {
        int bad = 0;
        switch (j->kind) {
        case K_PROGRESS: {
            runtrack_counter_t c[3] = {{"sites_completed", i}, {"api_calls", i * 2}, {cname, i}};
            bad = runtrack_run_progress(g_run, c, 3, 5.0, RUNTRACK_PERCENT_UNSET, NULL, 0) != 0;
            break;
        }
        case K_LOG:
            bad = runtrack_run_log(g_run, RUNTRACK_INFO, "Batch 1 of 2: site example.com scraped",
                                   NULL) != 0;
            break;
        case K_LOGF:
            bad = runtrack_run_logf(g_run, RUNTRACK_INFO, "Batch %d of %d: site %s scraped", 1, 2,
                                    "example.com") != 0;
            break;
        case K_RAW:
            bad = rd_kafka_producev(g_rk, RD_KAFKA_V_RKT(g_rkt), RD_KAFKA_V_KEY(g_key, 36),
                                    RD_KAFKA_V_VALUE(g_payload, g_payload_len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != 0;
            break;
        }
        j->errors += bad;
    }
    j->ns = (rt_mono_us() - t0) * 1000;
    j->cpu_ns = thread_cpu_ns() - c0;
    return NULL;
}

/* Runs one case on n threads; prints a row; returns aggregate calls/s. */
/* Steady state: CALLS calls on one thread in chunks of 1000, each drained (untimed) before the
 * next, so the queue never grows beyond a chunk and the heap is reused as in a scraper that
 * does not outrun its broker. Prints a row; returns calls/s. */
static double run_steady(kind_t kind)
{
    job_t j = {.kind = kind};
    long total = g_calls;
    int64_t ns = 0, cpu_ns = 0;
    g_calls = 1000;
    for (long done = 0; done < total; done += 1000) {
        worker(&j);
        ns += j.ns;
        cpu_ns += j.cpu_ns;
        if (kind == K_RAW)
            rd_kafka_flush(g_rk, 120000);
        else
            flush_or_warn(120000);
    }
    g_calls = total;
    double rate = (double)total / ((double)ns / 1e9);
    printf("%-26s %7s %14.0f %10.1f %14s %9s %7ld %12.1f\n", kind_names[kind], "1 (st)", rate,
           (double)ns / (double)total, "-", "-", j.errors, (double)cpu_ns / (double)total);
    return rate;
}

static double run_case(kind_t kind, int n)
{
    pthread_t th[2];
    job_t jobs[2];
    for (int i = 0; i < n; i++) {
        jobs[i] = (job_t){.kind = kind, .id = i};
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    int64_t worst_ns = 0, cpu_ns = 0;
    long errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].ns > worst_ns)
            worst_ns = jobs[i].ns;
        cpu_ns += jobs[i].cpu_ns;
        errors += jobs[i].errors;
    }
    double per_thread = (double)g_calls / ((double)worst_ns / 1e9);
    double ns_call = (double)worst_ns / (double)g_calls;
    /* Delivery: wait for everything this case produced, and time it. */
    int64_t t0 = rt_mono_us();
    if (kind == K_RAW)
        rd_kafka_flush(g_rk, 120000);
    else
        flush_or_warn(120000);
    double drain_s = (double)(rt_mono_us() - t0) / 1e6;
    double cpu_call = (double)cpu_ns / (double)n / (double)g_calls;
    printf("%-26s %7d %14.0f %10.1f %14.0f %9.2f %7ld %12.1f\n", kind_names[kind], n, per_thread,
           ns_call, per_thread * n, drain_s, errors, cpu_call);
    g_cpu_ns_call[kind][n] = cpu_call;
    return per_thread * n;
}

static void dr_count(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        fprintf(stderr, "raw delivery failed: %s\n", rd_kafka_err2str(m->err));
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        char *end;
        errno = 0;
        g_calls = strtol(argv[1], &end, 10);
        if (errno || *end || g_calls < 1000 || g_calls > 100000000) {
            fprintf(stderr, "usage: %s [CALLS_PER_THREAD 1000..100000000]\n", argv[0]);
            return 64;
        }
    }
    const char *brokers = getenv("RUNTRACK_BROKERS");
    if (!brokers || !*brokers) {
        fprintf(stderr, "bench_producer: set RUNTRACK_BROKERS (e.g. from deploy/devbroker.sh)\n");
        return 64;
    }
    const char *topic = getenv("RUNTRACK_TOPIC");
    if (!topic || !*topic)
        topic = "runtrack.bench";
    char err[512];
    runtrack_conf_t *conf = runtrack_conf_new();
    if (!conf || runtrack_conf_from_env(conf, err, sizeof err) ||
        runtrack_conf_set(conf, "topic", topic, err, sizeof err) ||
        runtrack_conf_set(conf, "log.queue.max", "100000000", err, sizeof err) ||
        runtrack_conf_set(conf, "kafka.queue.buffering.max.messages", "10000000", err,
                          sizeof err)) {
        fprintf(stderr, "conf: %s\n", err);
        return 78;
    }
    g_rt = runtrack_new(conf, err, sizeof err);
    if (!g_rt) {
        fprintf(stderr, "runtrack_new: %s\n", err);
        return 69;
    }
    g_run = runtrack_run_start(g_rt, "bench_producer", NULL, err, sizeof err);
    if (!g_run) {
        fprintf(stderr, "start: %s\n", err);
        return 70;
    }

    /* The raw producer is configured as libruntrack configures its own handle. */
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kc, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(kc, "enable.idempotence", "true", err, sizeof err) ||
        rd_kafka_conf_set(kc, "message.timeout.ms", "0", err, sizeof err) ||
        rd_kafka_conf_set(kc, "compression.type", "lz4", err, sizeof err) ||
        rd_kafka_conf_set(kc, "queue.buffering.max.messages", "10000000", err, sizeof err)) {
        fprintf(stderr, "raw conf: %s\n", err);
        return 78;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, dr_count);
    g_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    if (!g_rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        return 69;
    }
    g_rkt = rd_kafka_topic_new(g_rk, topic, NULL);
    /* The same bytes libruntrack sends for the runtrack_run_log case. */
    char ts[RT_TIME_STRLEN];
    rt_time_format(rt_now_us(), ts, sizeof ts);
    int n =
        snprintf(g_payload, sizeof g_payload,
                 "{\"v\":1,\"event_id\":\"01a21278-39f3-73ba-a03e-d6ca34d6a73f\",\"run_id\":\"%s\","
                 "\"seq\":123456,\"ts\":\"%s\",\"type\":\"run.log\",\"job\":\"bench_producer\","
                 "\"kind\":\"scrape\",\"producer\":{\"host\":\"vm\",\"pid\":1234,\"lib\":\"%s\"},"
                 "\"data\":{\"level\":\"info\",\"message\":\"Batch 1 of 2: site example.com "
                 "scraped\"}}",
                 runtrack_run_id(g_run), ts, runtrack_version());
    g_payload_len = (size_t)n;
    g_key = strstr(g_payload, runtrack_run_id(g_run)); /* the key: the run id, as ours */
    flush_or_warn(30000);
    rd_kafka_flush(g_rk, 30000);

    printf("bench_producer: %ld calls per thread, payload %zu bytes, brokers %s, topic %s\n",
           g_calls, g_payload_len, brokers, topic);
    printf("%-26s %7s %14s %10s %14s %9s %7s %12s\n", "call", "threads", "calls/s/thread",
           "ns/call", "calls/s total", "drain s", "errors", "cpu ns/call");
    double r[4][3] = {{0}};
    for (int threads = 1; threads <= 2; threads++) {
        r[K_RAW][threads] = run_case(K_RAW, threads);
        r[K_PROGRESS][threads] = run_case(K_PROGRESS, threads);
        r[K_LOG][threads] = run_case(K_LOG, threads);
        r[K_LOGF][threads] = run_case(K_LOGF, threads);
    }
    double raw_st = run_steady(K_RAW), log_st = run_steady(K_LOG), logf_st = run_steady(K_LOGF);
    printf("\nratio to raw rd_kafka_producev (calls/s):\n");
    printf("  steady (1 thread, chunks of 1000 drained between): log %.2fx, logf %.2fx\n",
           log_st / raw_st, logf_st / raw_st);
    for (int threads = 1; threads <= 2; threads++)
        printf("  %d thread(s): progress %.2fx, log %.2fx, logf %.2fx\n", threads,
               r[K_PROGRESS][threads] / r[K_RAW][threads], r[K_LOG][threads] / r[K_RAW][threads],
               r[K_LOGF][threads] / r[K_RAW][threads]);
    /* Machine-readable lines for bench/run.sh. */
    static const char *const keys[] = {"progress", "log", "logf", "raw"};
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < 4; k++)
            printf("RESULT prod_%s_t%d %.0f\nRESULT prod_%s_t%d_cpu_ns %.1f\n", keys[k], threads,
                   r[k][threads], keys[k], threads, g_cpu_ns_call[k][threads]);
    printf("RESULT prod_raw_steady %.0f\nRESULT prod_log_steady %.0f\n"
           "RESULT prod_logf_steady %.0f\n",
           raw_st, log_st, logf_st);
    runtrack_stats_t st;
    runtrack_stats(g_rt, &st);
    printf("libruntrack stats: recorded %llu delivered %llu failed %llu dropped %llu coalesced "
           "%llu\n",
           (unsigned long long)st.recorded, (unsigned long long)st.delivered,
           (unsigned long long)st.failed, (unsigned long long)st.dropped_logs,
           (unsigned long long)st.coalesced_progress);
    runtrack_run_finish(g_run, RUNTRACK_COMPLETED, NULL, NULL, 0);
    runtrack_run_destroy(g_run);
    runtrack_destroy(g_rt, 30000, NULL);
    rd_kafka_topic_destroy(g_rkt);
    rd_kafka_destroy(g_rk);
    return 0;
}
