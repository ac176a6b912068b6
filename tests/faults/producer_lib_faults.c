/* Producer faults driven through libruntrack (issue 8; docs/reliability.md), on a private
 * 3-broker dev broker (tests/faults/producer_lib_faults.sh starts it and reads the topic back):
 *   rtt     RTT of several hundred ms on every broker, a small log.queue.max and a small
 *           librdkafka queue, several threads logging into several runs at once;
 *   down    all brokers down for longer than kafka.message.timeout.ms while runs start, log,
 *           report progress, change phase, pause/resume and finish;
 *   errors  Produce request errors (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT; _TRANSPORT with
 *           transport=1) and every partition's leader moved, under the same threaded traffic.
 * Every library call is timed (CLOCK_MONOTONIC around it); one that took longer than
 * BLOCKED_US is "blocked". Writes a ledger (JSON) of what it asked the library to record, what
 * the library refused at the call (QUEUE_FULL) and what the failure callback reported, plus
 * blocked calls, the slowest call and peak memory (VmHWM); producer_lib_check.py compares it
 * with the topic.
 * usage: producer_lib_faults rtt|down|errors LEDGER_OUT [key=value...]
 *   runs threads logs secs queue kafka_queue timeout_ms rtt_ms transport (defaults in main) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devbroker_ctl.h"
#include "runtrack.h"

/* A call over 50 ms blocked the caller: recording is a short lock and a copy (microseconds);
 * 50 ms leaves room for scheduling noise on a shared 2-core machine. */
#define BLOCKED_US 50000
#define MAX_RUNS   16
#define MAX_THR    16

enum { LC_STARTED, LC_PHASE, LC_PAUSED, LC_RESUMED, LC_FINISHED, LC__N };
static const char *const lc_names[LC__N] = {"run.started", "run.phase", "run.paused", "run.resumed",
                                            "run.finished"};

typedef struct failure {
    char run_id[40];
    char type[24];
    int64_t seq;
    int will_retry;
} failure_t;

typedef struct run_rec {
    runtrack_run_t *run;
    char id[40];
    atomic_long logs_ok, logs_full, logs_other, progress_calls, progress_failed;
    atomic_long lc[LC__N];
} run_rec_t;

typedef struct ctx {
    runtrack_t *rt;
    int nruns, nthreads, logs, secs;
    run_rec_t runs[MAX_RUNS];
    atomic_int active_runs; /* threads log only into runs [0, active_runs) */
    /* call timing, merged from the threads */
    pthread_mutex_t mu;
    long calls, blocked;
    atomic_long errors; /* main thread and failure callback */
    int64_t worst_us;
    /* failure callback reports (background thread) */
    failure_t *fail;
    size_t nfail, capfail;
    int64_t final_counter[MAX_THR];
} ctx_t;

typedef struct thr {
    ctx_t *c;
    int id;
    long calls, blocked;
    int64_t worst_us;
    int64_t last_value;
} thr_t;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Accounts one timed call to the caller's counters. */
static void account(long *calls, long *blocked, int64_t *worst, int64_t d)
{
    (*calls)++;
    if (d > *worst)
        *worst = d;
    if (d > BLOCKED_US)
        (*blocked)++;
}

#define TIMED(t, expr)                                                                             \
    ({                                                                                             \
        int64_t t0_ = mono_us();                                                                   \
        __typeof__(expr) r_ = (expr);                                                              \
        account(&(t)->calls, &(t)->blocked, &(t)->worst_us, mono_us() - t0_);                      \
        r_;                                                                                        \
    })

static void ctl(const char *cmd)
{
    rt_test_devbroker_ctl(cmd);
    printf("fault: %s\n", cmd);
    fflush(stdout);
}

/* Background thread: keep every report; the ledger lists them. */
static void on_failure(void *opaque, const char *run_id, const char *type, int64_t seq,
                       const char *reason, int will_retry)
{
    ctx_t *c = opaque;
    (void)reason;
    pthread_mutex_lock(&c->mu);
    if (c->nfail == c->capfail) {
        size_t cap = c->capfail ? c->capfail * 2 : 1024;
        failure_t *n = realloc(c->fail, cap * sizeof *n);
        if (!n) {
            atomic_fetch_add(&c->errors, 1); /* a lost report would look like a silent loss */
            pthread_mutex_unlock(&c->mu);
            return;
        }
        c->fail = n;
        c->capfail = cap;
    }
    failure_t *f = &c->fail[c->nfail++];
    snprintf(f->run_id, sizeof f->run_id, "%s", run_id ? run_id : "");
    snprintf(f->type, sizeof f->type, "%s", type ? type : "");
    f->seq = seq;
    f->will_retry = will_retry;
    pthread_mutex_unlock(&c->mu);
}

static long vmhwm_kb(void)
{
    char line[256];
    long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* One worker: `logs` lines spread over `secs` seconds into the active runs in turn, progress
 * every 25 lines (counter t<ID>), a phase every 1,000 lines. */
static void *worker(void *arg)
{
    thr_t *t = arg;
    ctx_t *c = t->c;
    int per = c->logs / c->nthreads;
    int64_t start = mono_us(), span = (int64_t)c->secs * 1000000;
    char cname[16], msg[96], phase[32];
    snprintf(cname, sizeof cname, "t%d", t->id);
    for (int i = 0; i < per; i++) {
        int nact = atomic_load(&c->active_runs);
        run_rec_t *r = &c->runs[(t->id + i) % nact];
        snprintf(msg, sizeof msg, "t%d i%d", t->id, i);
        runtrack_err_t e = TIMED(t, runtrack_run_log(r->run, RUNTRACK_INFO, msg, NULL));
        if (e == RUNTRACK_OK)
            atomic_fetch_add(&r->logs_ok, 1);
        else if (e == RUNTRACK_ERR_QUEUE_FULL)
            atomic_fetch_add(&r->logs_full, 1);
        else
            atomic_fetch_add(&r->logs_other, 1);
        if (i % 25 == 24) {
            /* Every run gets the value, so each run's final counter t<ID> is known. */
            for (int k = 0; k < nact; k++) {
                runtrack_counter_t cv[] = {{cname, i}};
                run_rec_t *rk = &c->runs[k];
                atomic_fetch_add(&rk->progress_calls, 1);
                if (TIMED(t, runtrack_run_progress(rk->run, cv, 1, 12.5, RUNTRACK_PERCENT_UNSET,
                                                   NULL, 0)) != RUNTRACK_OK)
                    atomic_fetch_add(&rk->progress_failed, 1);
            }
            t->last_value = i;
        }
        if (i % 1000 == 999) {
            snprintf(phase, sizeof phase, "t%d_part%d", t->id, i / 1000);
            if (TIMED(t, runtrack_run_phase(r->run, phase, NULL, 0)) == RUNTRACK_OK)
                atomic_fetch_add(&r->lc[LC_PHASE], 1);
        }
        /* Pace: line i is due at start + span * i / per. */
        if (i % 20 == 19)
            sleep_us(start + span * (i + 1) / per - mono_us());
    }
    return NULL;
}

/* Main-thread calls are timed and counted like the workers'. */
static void merge(ctx_t *c, const thr_t *t)
{
    pthread_mutex_lock(&c->mu);
    c->calls += t->calls;
    c->blocked += t->blocked;
    if (t->worst_us > c->worst_us)
        c->worst_us = t->worst_us;
    pthread_mutex_unlock(&c->mu);
}

static int start_run(ctx_t *c, thr_t *m, int k)
{
    char err[256], job[32];
    runtrack_counter_t sc[] = {{RUNTRACK_EVENTS, 1000 + k}, {RUNTRACK_URLS, 500}};
    runtrack_start_opts_t so = {.kind = "scrape", .start_counts = sc, .n_start_counts = 2};
    snprintf(job, sizeof job, "prodfault_%d.py", k);
    run_rec_t *r = &c->runs[k];
    r->run = TIMED(m, runtrack_run_start(c->rt, job, &so, err, sizeof err));
    if (!r->run) {
        fprintf(stderr, "FAIL: run_start: %s\n", err);
        return -1;
    }
    snprintf(r->id, sizeof r->id, "%s", runtrack_run_id(r->run));
    atomic_fetch_add(&r->lc[LC_STARTED], 1);
    if (TIMED(m, runtrack_run_phase(r->run, "scraping", NULL, 0)) == RUNTRACK_OK)
        atomic_fetch_add(&r->lc[LC_PHASE], 1);
    return 0;
}

static void lifecycle(ctx_t *c, thr_t *m, int k, int which)
{
    run_rec_t *r = &c->runs[k];
    runtrack_err_t e = RUNTRACK_ERR_STATE;
    if (which == LC_PAUSED)
        e = TIMED(m, runtrack_run_pause(r->run, "rate limited", NULL, 0));
    else if (which == LC_RESUMED)
        e = TIMED(m, runtrack_run_resume(r->run, NULL, NULL, 0));
    else if (which == LC_FINISHED) {
        runtrack_counter_t ec[] = {{RUNTRACK_EVENTS, 2000 + k}, {RUNTRACK_URLS, 600}};
        runtrack_finish_opts_t fo = {.end_counts = ec, .n_end_counts = 2};
        e = TIMED(m, runtrack_run_finish(r->run, RUNTRACK_COMPLETED, &fo, NULL, 0));
    }
    if (e == RUNTRACK_OK)
        atomic_fetch_add(&r->lc[which], 1);
    else {
        fprintf(stderr, "FAIL: %s on run %d: %s\n", lc_names[which], k, runtrack_err_name(e));
        atomic_fetch_add(&c->errors, 1);
    }
}

/* Sets the RTT of brokers 1..3 from "MS[,MS[,MS]]" (the last value repeats), or clears it. */
static void rtt_all(const char *ms_list, int clear)
{
    char buf[64], cmd[64];
    snprintf(buf, sizeof buf, "%s", ms_list);
    char *save = NULL, *tok = strtok_r(buf, ",", &save);
    for (int b = 1; b <= 3; b++) {
        snprintf(cmd, sizeof cmd, "rtt %d %s", b, clear || !tok ? "0" : tok);
        ctl(cmd);
        char *next = strtok_r(NULL, ",", &save);
        if (next)
            tok = next;
    }
}

static int opt_int(const char *v, const char *name, int lo, int hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "bad %s=%s (%d..%d)\n", name, v, lo, hi);
        exit(2);
    }
    return (int)n;
}

static void write_ledger(FILE *out, ctx_t *c, const char *scenario, int faults, runtrack_err_t frc,
                         uint64_t left, const runtrack_stats_t *st, long hwm)
{
    fprintf(out,
            "{\"scenario\": \"%s\", \"faults\": %d, \"threshold_us\": %d, \"calls\": %ld, "
            "\"blocked\": %ld, \"max_call_us\": %lld, \"vmhwm_kb\": %ld, \"errors\": %ld, "
            "\"flush\": \"%s\", \"undelivered_at_flush\": %llu,\n",
            scenario, faults, BLOCKED_US, c->calls, c->blocked, (long long)c->worst_us, hwm,
            atomic_load(&c->errors), runtrack_err_name(frc), (unsigned long long)left);
    fprintf(out,
            " \"stats\": {\"recorded\": %llu, \"produced\": %llu, \"delivered\": %llu, "
            "\"failed\": %llu, \"retried\": %llu, \"dropped_logs\": %llu, "
            "\"coalesced_progress\": %llu, \"queued\": %llu, \"recreations\": %llu},\n",
            (unsigned long long)st->recorded, (unsigned long long)st->produced,
            (unsigned long long)st->delivered, (unsigned long long)st->failed,
            (unsigned long long)st->retried, (unsigned long long)st->dropped_logs,
            (unsigned long long)st->coalesced_progress, (unsigned long long)st->queued,
            (unsigned long long)st->recreations);
    fprintf(out, " \"final_counters\": {");
    for (int t = 0; t < c->nthreads; t++)
        fprintf(out, "%s\"t%d\": %lld", t ? ", " : "", t, (long long)c->final_counter[t]);
    fprintf(out, "},\n \"runs\": [");
    for (int k = 0; k < c->nruns; k++) {
        run_rec_t *r = &c->runs[k];
        fprintf(out,
                "%s\n  {\"run_id\": \"%s\", \"logs_ok\": %ld, \"logs_full\": %ld, "
                "\"logs_other\": %ld, \"progress_calls\": %ld, \"progress_failed\": %ld, "
                "\"lifecycle\": {",
                k ? "," : "", r->id, atomic_load(&r->logs_ok), atomic_load(&r->logs_full),
                atomic_load(&r->logs_other), atomic_load(&r->progress_calls),
                atomic_load(&r->progress_failed));
        for (int i = 0; i < LC__N; i++)
            fprintf(out, "%s\"%s\": %ld", i ? ", " : "", lc_names[i], atomic_load(&r->lc[i]));
        fprintf(out, "}}");
    }
    fprintf(out, "],\n \"failures\": [");
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nfail; i++)
        fprintf(out, "%s\n  [\"%s\", \"%s\", %lld, %d]", i ? "," : "", c->fail[i].run_id,
                c->fail[i].type, (long long)c->fail[i].seq, c->fail[i].will_retry);
    pthread_mutex_unlock(&c->mu);
    fprintf(out, "]}\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s rtt|down|errors LEDGER_OUT [key=value...]\n", argv[0]);
        return 2;
    }
    const char *scenario = argv[1];
    int is_rtt = !strcmp(scenario, "rtt"), is_down = !strcmp(scenario, "down"),
        is_err = !strcmp(scenario, "errors");
    if (!is_rtt && !is_down && !is_err) {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        return 2;
    }
    int runs = 4, threads = 4, logs = 20000, secs = 5, timeout_ms = 3000, transport = 0;
    const char *queue = "1000", *kqueue = "1000", *rtt_ms = "500,750,1000";
    for (int i = 3; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "bad argument %s (key=value)\n", argv[i]);
            return 2;
        }
        const char *v = eq + 1;
        size_t kl = (size_t)(eq - argv[i]);
        if (!strncmp(argv[i], "runs", kl) && kl == 4)
            runs = opt_int(v, "runs", 2, MAX_RUNS);
        else if (!strncmp(argv[i], "threads", kl) && kl == 7)
            threads = opt_int(v, "threads", 1, MAX_THR);
        else if (!strncmp(argv[i], "logs", kl) && kl == 4)
            logs = opt_int(v, "logs", 100, 10000000);
        else if (!strncmp(argv[i], "secs", kl) && kl == 4)
            secs = opt_int(v, "secs", 1, 3600);
        else if (!strncmp(argv[i], "timeout_ms", kl) && kl == 10)
            timeout_ms = opt_int(v, "timeout_ms", 1, 3600000);
        else if (!strncmp(argv[i], "transport", kl) && kl == 9)
            transport = opt_int(v, "transport", 0, 1);
        else if (!strncmp(argv[i], "queue", kl) && kl == 5)
            queue = v;
        else if (!strncmp(argv[i], "kafka_queue", kl) && kl == 11)
            kqueue = v;
        else if (!strncmp(argv[i], "rtt_ms", kl) && kl == 6)
            rtt_ms = v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    const char *topic = getenv("RUNTRACK_TOPIC");
    if (!topic) {
        fprintf(stderr, "RUNTRACK_TOPIC not set\n");
        return 2;
    }

    static ctx_t c; /* big (run records); one instance, owned by main */
    c.nruns = runs;
    c.nthreads = threads;
    c.logs = logs;
    c.secs = secs;
    pthread_mutex_init(&c.mu, NULL);
    thr_t m = {.c = &c, .id = -1};
    thr_t th[MAX_THR];
    pthread_t tid[MAX_THR];
    int faults = 0, rc = 1;
    uint64_t left = 0;
    runtrack_stats_t st;
    char err[512], tmo[32];
    FILE *out = NULL;

    runtrack_conf_t *conf = runtrack_conf_new();
    snprintf(tmo, sizeof tmo, "%d", timeout_ms);
    if (!conf || runtrack_conf_from_env(conf, err, sizeof err) ||
        runtrack_conf_set(conf, "log.queue.max", queue, err, sizeof err) ||
        runtrack_conf_set(conf, "heartbeat.interval.ms", "1000", err, sizeof err) ||
        runtrack_conf_set(conf, "retry.backoff.ms", "200", err, sizeof err) ||
        runtrack_conf_set(conf, "kafka.queue.buffering.max.messages", kqueue, err, sizeof err) ||
        /* Reconnect quickly after `up` so the test does not wait out the 10 s default. */
        runtrack_conf_set(conf, "kafka.reconnect.backoff.max.ms", "500", err, sizeof err) ||
        (is_down && runtrack_conf_set(conf, "kafka.message.timeout.ms", tmo, err, sizeof err))) {
        fprintf(stderr, "conf: %s\n", conf ? err : "out of memory");
        runtrack_conf_destroy(conf);
        return 1;
    }
    runtrack_conf_set_failure_cb(conf, on_failure, &c);
    c.rt = runtrack_new(conf, err, sizeof err);
    if (!c.rt) {
        fprintf(stderr, "runtrack_new: %s\n", err);
        runtrack_conf_destroy(conf);
        return 1;
    }

    int first = is_down ? runs / 2 : runs;
    if (is_rtt) {
        rtt_all(rtt_ms, 0);
        faults += 3;
    }
    for (int k = 0; k < first; k++)
        if (start_run(&c, &m, k) != 0)
            goto out;
    atomic_store(&c.active_runs, first);
    if (is_down) {
        /* Healthy first: the outage then hits connections that were up. */
        if (runtrack_flush(c.rt, 30000, &left) != RUNTRACK_OK) {
            fprintf(stderr, "FAIL: first flush, %llu undelivered\n", (unsigned long long)left);
            goto out;
        }
        ctl("down -1");
        faults++;
    }
    int64_t t_fault = mono_us();
    if (is_down) {
        /* Runs that start during the outage. */
        for (int k = first; k < runs; k++)
            if (start_run(&c, &m, k) != 0)
                goto out;
        atomic_store(&c.active_runs, runs);
    }
    for (int t = 0; t < threads; t++) {
        th[t] = (thr_t){.c = &c, .id = t};
        if (pthread_create(&tid[t], NULL, worker, &th[t]) != 0) {
            fprintf(stderr, "FAIL: pthread_create\n");
            exit(1);
        }
    }
    /* Main: pause/resume every run in the middle; faults for `errors` spread over the span. */
    int64_t span = (int64_t)secs * 1000000;
    if (is_err) {
        static const char *const errs[] = {"NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT",
                                           "_TRANSPORT"};
        char cmd[128];
        /* _TRANSPORT (connection closed instead of an answer) only when asked: the dev broker
         * (librdkafka's mock) checks idempotent sequences for transactional producers only, so
         * batches it appended before the close but never acknowledged come back as duplicates
         * when librdkafka retries them; a real broker answers DUPLICATE_SEQUENCE_NUMBER. */
        for (int i = 0; i < 2 + transport; i++) {
            sleep_us(t_fault + span * (i + 1) / 6 - mono_us());
            snprintf(cmd, sizeof cmd, "error 0 %s 3", errs[i]);
            ctl(cmd);
            faults++;
        }
        sleep_us(t_fault + span * 4 / 6 - mono_us());
        for (int p = 0; p < 4; p++) {
            snprintf(cmd, sizeof cmd, "leader %s %d %d", topic, p, (p % 3) + 1);
            ctl(cmd);
            faults++;
        }
    }
    sleep_us(t_fault + span / 3 - mono_us());
    for (int k = 0; k < runs; k++)
        lifecycle(&c, &m, k, LC_PAUSED);
    sleep_us(t_fault + span * 5 / 6 - mono_us());
    for (int k = 0; k < runs; k++)
        lifecycle(&c, &m, k, LC_RESUMED);
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        merge(&c, &th[t]);
        c.final_counter[t] = th[t].last_value;
    }
    for (int k = 0; k < runs; k++)
        lifecycle(&c, &m, k, LC_FINISHED);
    merge(&c, &m);
    runtrack_stats(c.rt, &st);
    printf("%s: %ld calls in %.1f s, %ld over %d ms, slowest %lld us; recorded %llu, "
           "delivered %llu, queued %llu, dropped_logs %llu, failed %llu before the fault ends\n",
           scenario, c.calls, (double)(mono_us() - t_fault) / 1e6, c.blocked, BLOCKED_US / 1000,
           (long long)c.worst_us, (unsigned long long)st.recorded, (unsigned long long)st.delivered,
           (unsigned long long)st.queued, (unsigned long long)st.dropped_logs,
           (unsigned long long)st.failed);
    if (is_rtt)
        rtt_all(rtt_ms, 1);
    if (is_down) {
        /* Keep the brokers down for the whole announced time, then bring them back. */
        sleep_us(t_fault + (int64_t)(secs + 2) * 1000000 - mono_us());
        printf("down for %.1f s (message timeout %d ms)\n", (double)(mono_us() - t_fault) / 1e6,
               timeout_ms);
        ctl("up -1");
    }
    runtrack_err_t frc = runtrack_flush(c.rt, 120000, &left);
    runtrack_stats(c.rt, &st);
    long hwm = vmhwm_kb();
    printf("flush %s (%llu left); stats: recorded %llu produced %llu delivered %llu failed %llu "
           "retried %llu dropped_logs %llu coalesced %llu recreations %llu; failure reports %zu; "
           "VmHWM %ld kB\n",
           runtrack_err_name(frc), (unsigned long long)left, (unsigned long long)st.recorded,
           (unsigned long long)st.produced, (unsigned long long)st.delivered,
           (unsigned long long)st.failed, (unsigned long long)st.retried,
           (unsigned long long)st.dropped_logs, (unsigned long long)st.coalesced_progress,
           (unsigned long long)st.recreations, c.nfail, hwm);
    if (frc != RUNTRACK_OK)
        atomic_fetch_add(&c.errors, 1);
    out = fopen(argv[2], "w");
    if (!out) {
        perror(argv[2]);
        goto out;
    }
    write_ledger(out, &c, scenario, faults, frc, left, &st, hwm);
    if (fclose(out) != 0) {
        perror(argv[2]);
        goto out;
    }
    rc = 0;
out:
    for (int k = 0; k < runs; k++)
        runtrack_run_destroy(c.runs[k].run);
    if (runtrack_destroy(c.rt, 10000, &left) != RUNTRACK_OK)
        fprintf(stderr, "destroy: %llu undelivered\n", (unsigned long long)left);
    free(c.fail);
    pthread_mutex_destroy(&c.mu);
    return rc;
}
