/* The spool module alone (producer/src/spool.h), no broker: framing, a torn tail (cut by the
 * next appender, never read as a record), the size bound (log lines dropped oldest first, a
 * cumulative dropped_logs heartbeat per run, other events kept), many processes appending at
 * once (every record intact, none lost), and runtrack_destroy spooling what it could not
 * deliver (RUNTRACK_ERR_SPOOLED, the exact event bytes). */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "spool.h"

#define RUN_A "01a25305-2064-7881-8dfd-20f2b705121b"
#define RUN_B "01a25305-2064-7881-8dfd-20f2b705121c"

static void tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "%s/rt-spool.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* A run.log-like event of run with seq and a message of n bytes. */
static void event_json(rt_buf_t *b, const char *run, const char *type, int64_t seq, size_t n)
{
    rt_buf_reset(b);
    rt_buf_addf(b,
                "{\"v\":1,\"event_id\":\"01a25305-2064-7000-8000-%012lld\",\"run_id\":\"%s\","
                "\"seq\":%lld,\"ts\":\"2026-12-08T00:00:00Z\",\"type\":\"%s\",\"job\":\"j\","
                "\"kind\":\"scrape\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":\"t\"},"
                "\"data\":{\"message\":\"",
                (long long)seq, run, (long long)seq, type);
    for (size_t i = 0; i < n; i++)
        rt_buf_addc(b, 'x');
    rt_buf_adds(b, "\"}}");
}

static int append_one(const char *dir, int64_t max, int kind, const char *run, int64_t seq,
                      size_t n, rt_spool_append_res_t *res)
{
    rt_buf_t ev = {0}, batch = {0};
    event_json(&ev, run, kind == RT_SPOOL_LOG ? "run.log" : "run.progress", seq, n);
    rt_spool_encode(&batch, kind, seq, "t", run, 36, ev.data, ev.len);
    char err[512];
    int r = rt_spool_append(dir, max, batch.data, batch.len, res, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "append: %s\n", err);
    rt_buf_free(&ev);
    rt_buf_free(&batch);
    return r;
}

static void load(const char *dir, rt_spool_data_t *s, rt_spool_data_t *w, size_t *torn)
{
    char err[512];
    if (rt_spool_load(dir, s, w, torn, err, sizeof err) != 0) {
        fprintf(stderr, "load: %s\n", err);
        exit(1);
    }
}

static void test_framing_and_torn_tail(test_state_t *ts)
{
    char dir[256], path[300];
    tmpdir(dir, sizeof dir);
    rt_spool_append_res_t res;
    for (int i = 1; i <= 3; i++)
        REQUIRE(ts, append_one(dir, 0, RT_SPOOL_LOG, RUN_A, i, 10, &res) == 0);
    CHECK(ts, res.written == 1);
    rt_spool_data_t s, w;
    size_t torn;
    load(dir, &s, &w, &torn);
    REQUIRE(ts, w.n == 3 && torn == 0 && s.n == 0);
    CHECK(ts, w.recs[2].seq == 3 && w.recs[2].kind == RT_SPOOL_LOG);
    CHECK(ts, w.recs[0].key_len == 36 && memcmp(w.recs[0].key, RUN_A, 36) == 0);
    CHECK(ts, w.recs[0].topic_len == 1 && w.recs[0].topic[0] == 't');
    CHECK(ts, memchr(w.recs[1].value, '{', 1) != NULL);
    size_t good = w.len;
    /* A writer died after half of a record: readers skip it, the next append cuts it. */
    snprintf(path, sizeof path, "%s/events.spool", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    REQUIRE(ts, fd >= 0);
    CHECK(ts, write(fd, w.recs[0].raw, w.recs[0].raw_len / 2) > 0);
    close(fd);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    load(dir, &s, &w, &torn);
    CHECK(ts, w.n == 3 && torn > 0);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    /* A flipped byte inside the last record is caught by the CRC. */
    REQUIRE(ts, append_one(dir, 0, RT_SPOOL_LOG, RUN_A, 4, 10, &res) == 0);
    load(dir, &s, &w, &torn);
    CHECK(ts, w.n == 4 && torn == 0 && w.len > good);
    size_t last_off = (size_t)(w.recs[3].raw - w.buf);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    fd = open(path, O_RDWR);
    REQUIRE(ts, fd >= 0);
    CHECK(ts, pwrite(fd, "Z", 1, (off_t)last_off + 40) == 1);
    close(fd);
    load(dir, &s, &w, &torn);
    CHECK(ts, w.n == 3 && torn > 0);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    REQUIRE(ts, append_one(dir, 0, RT_SPOOL_LOG, RUN_A, 5, 10, &res) == 0);
    load(dir, &s, &w, &torn);
    CHECK(ts, w.n == 4 && torn == 0 && w.recs[3].seq == 5);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    rmtree(dir);
}

/* dropped_logs of the run's dropped-count heartbeat in w, or -1. */
static long long dropped_in(const rt_spool_data_t *w, const char *run, int *count)
{
    long long v = -1;
    *count = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->recs[i].kind != RT_SPOOL_DROPCOUNT || memcmp(w->recs[i].key, run, 36) != 0)
            continue;
        json_t *ev = json_loadb(w->recs[i].value, w->recs[i].value_len, 0, NULL);
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && strcmp(type, "run.heartbeat") == 0)
            v = json_integer_value(json_object_get(json_object_get(ev, "data"), "dropped_logs"));
        json_decref(ev);
        (*count)++;
    }
    return v;
}

static void test_size_bound(test_state_t *ts)
{
    char dir[256];
    tmpdir(dir, sizeof dir);
    rt_spool_append_res_t res;
    const int64_t max = 20000;
    uint64_t dropped = 0;
    /* Progress (kept) and logs (droppable) of two runs, ~1 KB each, 60 KB in all. */
    for (int i = 1; i <= 60; i++) {
        int kind = i % 10 == 0 ? RT_SPOOL_KEEP : RT_SPOOL_LOG;
        REQUIRE(ts, append_one(dir, max, kind, i % 2 ? RUN_A : RUN_B, i, 1000, &res) == 0);
        dropped += res.dropped_logs;
    }
    rt_spool_data_t s, w;
    size_t torn;
    load(dir, &s, &w, &torn);
    CHECK(ts, w.len <= (size_t)max + 2000); /* + the dropped-count heartbeats */
    CHECK(ts, dropped > 30);
    size_t keep = 0, logs = 0;
    int64_t first_log = 0;
    for (size_t i = 0; i < w.n; i++) {
        keep += w.recs[i].kind == RT_SPOOL_KEEP;
        if (w.recs[i].kind == RT_SPOOL_LOG && !logs++)
            first_log = w.recs[i].seq;
    }
    CHECK(ts, keep == 6); /* never dropped */
    CHECK(ts, logs + dropped == 54);
    CHECK(ts, first_log > 30); /* the oldest went first */
    int na, nb;
    long long da = dropped_in(&w, RUN_A, &na), db = dropped_in(&w, RUN_B, &nb);
    CHECK(ts, na == 1 && nb == 1); /* one heartbeat per run, replaced as the count grows */
    CHECK(ts, (uint64_t)(da + db) == dropped);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    rmtree(dir);
}

/* 8 processes append 150 records each at once: all 1200 are there, intact. */
static void test_concurrent_appends(test_state_t *ts)
{
    char dir[256];
    tmpdir(dir, sizeof dir);
    enum { PROCS = 8, EACH = 150 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        REQUIRE(ts, pids[p] >= 0);
        if (pids[p] == 0) {
            rt_spool_append_res_t res;
            for (int i = 0; i < EACH; i++)
                if (append_one(dir, 0, RT_SPOOL_LOG, RUN_A, p * 1000 + i, 50 + (size_t)i, &res))
                    _exit(1);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        CHECK(ts, waitpid(pids[p], &st, 0) == pids[p] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    rt_spool_data_t s, w;
    size_t torn;
    load(dir, &s, &w, &torn);
    CHECK(ts, w.n == PROCS * EACH && torn == 0);
    char seen[PROCS][EACH] = {{0}};
    for (size_t i = 0; i < w.n; i++) {
        int64_t q = w.recs[i].seq;
        if (q / 1000 < PROCS && q % 1000 < EACH)
            seen[q / 1000][q % 1000]++;
    }
    int once = 1;
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < EACH; i++)
            once &= seen[p][i] == 1;
    CHECK(ts, once);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    rmtree(dir);
}

/* A client with spool.dir and no broker: destroy spools every event with the bytes it would have
 * sent, and says so. */
static void test_destroy_spools(test_state_t *ts)
{
    char dir[256], err[512];
    tmpdir(dir, sizeof dir);
    runtrack_conf_t *conf = runtrack_conf_new();
    REQUIRE(ts, conf);
    CHECK(ts, runtrack_conf_set(conf, "brokers", "127.0.0.1:1", err, sizeof err) == RUNTRACK_OK);
    CHECK(ts, runtrack_conf_set(conf, "spool.dir", dir, err, sizeof err) == RUNTRACK_OK);
    CHECK(ts, runtrack_conf_set(conf, "spool.dir", "", err, sizeof err) == RUNTRACK_OK);
    CHECK(ts, conf->spool_dir == NULL); /* "" turns it off (the CLI's --no-spool) */
    CHECK(ts, runtrack_conf_set(conf, "spool.dir", dir, err, sizeof err) == RUNTRACK_OK);
    CHECK(ts,
          runtrack_conf_set(conf, "spool.max.bytes", "100", err, sizeof err) == RUNTRACK_ERR_CONF);
    CHECK(ts,
          runtrack_conf_set(conf, "heartbeat.interval.ms", "0", err, sizeof err) == RUNTRACK_OK);
    runtrack_t *rt = runtrack_new(conf, err, sizeof err);
    REQUIRE(ts, rt);
    runtrack_run_t *run = runtrack_run_start(rt, "spool.c", NULL, err, sizeof err);
    REQUIRE(ts, run);
    CHECK(ts, runtrack_run_phase(run, "scraping", err, sizeof err) == RUNTRACK_OK);
    for (int i = 0; i < 5; i++)
        CHECK(ts, runtrack_run_logf(run, RUNTRACK_INFO, "line %d", i) == RUNTRACK_OK);
    CHECK(ts, runtrack_run_finish(run, RUNTRACK_COMPLETED, NULL, err, sizeof err) == RUNTRACK_OK);
    char id[40];
    snprintf(id, sizeof id, "%s", runtrack_run_id(run));
    runtrack_run_destroy(run);
    uint64_t left = 0;
    CHECK(ts, runtrack_destroy(rt, 300, &left) == RUNTRACK_ERR_SPOOLED);
    CHECK(ts, left == 8);
    rt_spool_data_t s, w;
    size_t torn;
    load(dir, &s, &w, &torn);
    REQUIRE(ts, w.n == 8);
    size_t logs = 0, first = w.n;
    for (size_t i = 0; i < w.n; i++) {
        logs += w.recs[i].kind == RT_SPOOL_LOG;
        if (w.recs[i].seq == 1)
            first = i;
        json_t *ev = json_loadb(w.recs[i].value, w.recs[i].value_len, 0, NULL);
        CHECK(ts, json_is_object(ev));
        CHECK_STR(ts, json_string_value(json_object_get(ev, "run_id")), id);
        CHECK(ts, json_integer_value(json_object_get(ev, "seq")) == w.recs[i].seq);
        json_decref(ev);
    }
    CHECK(ts, logs == 5);
    REQUIRE(ts, first < w.n); /* run.started */
    CHECK(ts, w.recs[first].key_len == 36 && memcmp(w.recs[first].key, id, 36) == 0);
    rt_spool_data_free(&s);
    rt_spool_data_free(&w);
    rmtree(dir);
}

int main(void)
{
    static const test_case_t tests[] = {
        {"framing_and_torn_tail", test_framing_and_torn_tail},
        {"size_bound", test_size_bound},
        {"concurrent_appends", test_concurrent_appends},
        {"destroy_spools", test_destroy_spools},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
