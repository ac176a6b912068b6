/* runtrack runs/show/logs/last-success/health: read the consumer's HTTP API (docs/api.md) and
 * print aligned tables for people (local times, human durations, status colours on a terminal)
 * or, with --json, the API's JSON. Every failure is one line on stderr and a sysexits code. */
#include "query.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "format.h"
#include "http_get.h"
#include "rt_num.h"
#include "rt_time.h"
#include "rt_uuid.h"

#define DEFAULT_API     "http://127.0.0.1:8080"
#define RUNS_PAGE_MAX   500  /* the API's largest /api/runs page */
#define LOGS_PAGE_MAX   1000 /* the API's largest /api/runs/{id}/logs page */
#define FOLLOW_POLL_SEC 1
#define FOLLOW_WAIT_MS  250 /* how often logs --follow asks again for a run not stored yet */

/* What a query command was asked: the API to read and the command's filters. */
typedef struct q {
    cli_api_t api; /* api.base is api_buf */
    char api_buf[2048];
    int json;
    int color;
    const char *status, *job, *kind, *phase, *level;
    long limit; /* 0: the command's default */
    int all;
    int follow;
    long window;          /* 0: the API's default windows */
    const char *key_file; /* --api-key-file */
    int allow_http;       /* --allow-http: a key may go over plain http to another host */
} q_t;

/* What a person should see as a run's state: stale and paused are running runs. */
static const char *shown_status(json_t *run)
{
    const char *st = fmt_jstr(run, "status");
    if (st && strcmp(st, "running") == 0) {
        if (json_is_true(json_object_get(run, "stale")))
            return "stale";
        if (json_is_true(json_object_get(run, "paused")))
            return "paused";
    }
    return st ? st : "?";
}

/* ------------------------------------------------------------------------ runs */

/* What runs has read from /api/runs so far, page after page. */
typedef struct runs_pages {
    json_t *runs; /* every run, in the API's order */
    json_t *page; /* the last page */
    char *raw;    /* the last page as received */
    char *cursor; /* where the next page starts; NULL after the last one */
    int pages;
} runs_pages_t;

/* The path of the next page of at most left runs. Returns 0, or -1 when it does not fit. */
static int runs_path(const q_t *q, long left, const char *cursor, char *path, size_t size)
{
    char lim[24];
    snprintf(path, size, "/api/runs");
    snprintf(lim, sizeof lim, "%ld", left < RUNS_PAGE_MAX ? left : RUNS_PAGE_MAX);
    if (api_qs_add(path, size, "status", q->status) || api_qs_add(path, size, "job", q->job) ||
        api_qs_add(path, size, "kind", q->kind) || api_qs_add(path, size, "phase", q->phase) ||
        api_qs_add(path, size, "limit", lim) || api_qs_add(path, size, "cursor", cursor))
        return -1;
    return 0;
}

/* Reads one more page into rp. Returns the exit code; *last says whether it was the last. */
static int runs_next_page(const q_t *q, const char *path, runs_pages_t *rp, int *last)
{
    json_decref(rp->page);
    free(rp->raw);
    rp->page = NULL;
    rp->raw = NULL;
    int rc = api_get(&q->api, path, NULL, &rp->page, &rp->raw);
    if (rc != EX_OK_)
        return rc;
    rp->pages++;
    json_t *arr = json_object_get(rp->page, "runs");
    json_t *next = json_object_get(rp->page, "next_cursor");
    if (!json_is_array(arr) || !(json_is_null(next) || json_is_string(next))) {
        cli_err("bad answer from %s: no runs array / next_cursor", q->api.base);
        return EX_DATAERR_;
    }
    if (json_array_extend(rp->runs, arr) != 0)
        goto oom;
    if (json_is_string(next) && rp->cursor && strcmp(json_string_value(next), rp->cursor) == 0) {
        /* The same page again would never end an --all. */
        cli_err("bad answer from %s: next_cursor does not move", q->api.base);
        return EX_DATAERR_;
    }
    free(rp->cursor);
    rp->cursor = NULL;
    *last = json_is_null(next) || json_array_size(arr) == 0;
    if (!*last && !(rp->cursor = strdup(json_string_value(next))))
        goto oom;
    return EX_OK_;
oom:
    cli_err("out of memory");
    return EX_SOFTWARE_;
}

/* Reads pages until want runs (-1: all of them) or the last page. Returns the exit code. */
static int runs_read(const q_t *q, long want, runs_pages_t *rp)
{
    for (;;) {
        long left = want < 0 ? RUNS_PAGE_MAX : want - (long)json_array_size(rp->runs);
        if (left <= 0)
            return EX_OK_;
        char path[4096];
        if (runs_path(q, left, rp->cursor, path, sizeof path) != 0) {
            cli_err("runs: filter values too long");
            return EX_USAGE_;
        }
        int last = 0;
        int rc = runs_next_page(q, path, rp, &last);
        if (rc != EX_OK_ || last)
            return rc;
    }
}

/* --json: the one answer as received, or the pages' runs joined into one answer. */
static int runs_print_json(const runs_pages_t *rp)
{
    if (rp->pages == 1) {
        api_print_raw(rp->raw); /* one request: exactly what the API said */
        return EX_OK_;
    }
    json_t *all = json_pack("{s:O,s:s?}", "runs", rp->runs, "next_cursor", rp->cursor);
    if (!all) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    int rc = api_print_json(all);
    json_decref(all);
    return rc;
}

/* The runs as a table ("No runs." when there are none). Returns the exit code. */
static int runs_print_table(const q_t *q, json_t *runs)
{
    table_t t = {
        .ncols = 8,
        .color_col = 3,
        .head = {"RUN ID", "JOB", "KIND", "STATUS", "PHASE", "STARTED", "DURATION", "COUNTERS"}};
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        char started[64], dur[32];
        int ok;
        fmt_time(fmt_jstr(r, "started_at"), started, sizeof started);
        double el = fmt_jnum(r, "elapsed_seconds", &ok);
        fmt_dur(el, ok, dur, sizeof dur);
        char *kv = fmt_kv(json_object_get(r, "counters"), 60);
        const char *vals[8] = {fmt_jstr(r, "run_id"),
                               fmt_jstr(r, "job"),
                               fmt_jstr(r, "kind"),
                               shown_status(r),
                               fmt_jstr(r, "phase"),
                               started,
                               dur,
                               kv};
        int e = !kv || table_add(&t, vals);
        free(kv);
        if (e) {
            table_free(&t);
            cli_err("out of memory");
            return EX_SOFTWARE_;
        }
    }
    if (t.nrows == 0)
        puts("No runs.");
    else
        table_print(q->color, &t, "");
    table_free(&t);
    return EX_OK_;
}

static int cmd_runs(q_t *q, int argc, char **argv)
{
    if (argc > 0) {
        cli_err("runs: unexpected argument \"%s\" (see 'runtrack runs --help')", argv[0]);
        return EX_USAGE_;
    }
    if (q->all && q->limit) {
        cli_err("runs: give --limit N or --all, not both");
        return EX_USAGE_;
    }
    long want = q->all ? -1 : (q->limit ? q->limit : 50);
    runs_pages_t rp = {.runs = json_array()};
    int rc = EX_SOFTWARE_;
    if (!rp.runs) {
        cli_err("out of memory");
        goto out;
    }
    if ((rc = runs_read(q, want, &rp)) != EX_OK_)
        goto out;
    if (q->json) {
        rc = runs_print_json(&rp);
        goto out;
    }
    rc = runs_print_table(q, rp.runs);
    if (rc == EX_OK_ && rp.cursor && !q->all)
        fprintf(stderr, "runtrack: more runs match (use --limit N or --all)\n");
out:
    free(rp.cursor);
    free(rp.raw);
    json_decref(rp.page);
    json_decref(rp.runs);
    return rc;
}

/* ------------------------------------------------------------------------ show */

static int check_run_id(const char *cmd, int argc, char **argv)
{
    if (argc != 1) {
        cli_err("%s: expected exactly one RUN id (see 'runtrack %s --help')", cmd, cmd);
        return EX_USAGE_;
    }
    if (!rt_uuid_valid(argv[0])) {
        cli_err("%s: \"%s\" is not a run id (a UUID like 0193b0c4-...)", cmd, argv[0]);
        return EX_DATAERR_;
    }
    return EX_OK_;
}

/* One log line for people: time, level (coloured), [phase] message {fields}. */
static void print_log_line(const q_t *q, json_t *l)
{
    char ts[64];
    fmt_time(fmt_jstr(l, "ts"), ts, sizeof ts);
    const char *lvl = fmt_jstr(l, "level");
    const char *ph = fmt_jstr(l, "phase");
    char *msg = fmt_printable(fmt_jstr(l, "message"));
    char *ph_p = ph ? fmt_printable(ph) : NULL;
    char *fields = NULL;
    json_t *f = json_object_get(l, "fields");
    if (json_is_object(f) && json_object_size(f) > 0) {
        char *d = json_dumps(f, JSON_COMPACT);
        fields = d ? fmt_printable(d) : NULL;
        free(d);
    }
    printf("%s  ", ts);
    fmt_cell(q->color, lvl ? lvl : "?", 9, 1);
    printf("%s%s%s%s%s%s\n", ph_p ? "[" : "", ph_p ? ph_p : "", ph_p ? "] " : "", msg ? msg : "?",
           fields ? "  " : "", fields ? fields : "");
    free(fields);
    free(ph_p);
    free(msg);
}

/* show: Run, Job, Kind, Status (with its reason), Phase and the run's times. */
static void show_identity(const q_t *q, json_t *r)
{
    char b[256];
    int ok;
    fmt_kv_line("Run", fmt_jstr(r, "run_id"));
    fmt_kv_line("Job", fmt_jstr(r, "job"));
    fmt_kv_line("Kind", fmt_jstr(r, "kind"));
    printf("%-14s", "Status");
    fmt_cell(q->color, shown_status(r), 0, 1);
    const char *reason = fmt_jstr(r, "status_reason");
    if (reason) {
        char *p = fmt_printable(reason);
        printf(" (%s)", p ? p : "?");
        free(p);
    }
    putchar('\n');
    if (fmt_jstr(r, "phase"))
        fmt_kv_line("Phase", fmt_jstr(r, "phase"));
    fmt_time(fmt_jstr(r, "started_at"), b, sizeof b);
    fmt_kv_line(json_is_false(json_object_get(r, "has_started")) ? "First event" : "Started", b);
    if (fmt_jstr(r, "finished_at")) {
        fmt_time(fmt_jstr(r, "finished_at"), b, sizeof b);
        fmt_kv_line("Finished", b);
    }
    double elapsed = fmt_jnum(r, "elapsed_seconds", &ok);
    fmt_dur(elapsed, ok, b, sizeof b);
    fmt_kv_line("Elapsed", b);
    fmt_time(fmt_jstr(r, "last_event_at"), b, sizeof b);
    fmt_kv_line("Last event", b);
}

/* "5 of 15 sites (33.3%), 12.0s per site, about 2m 00s left" from the run's progress object
 * (unit is its unit); "-" when done or total is missing. */
static void progress_text(json_t *pr, const char *unit, char *b, size_t size)
{
    char d[64];
    int okd, okt, okp, oka, oke;
    double done = fmt_jnum(pr, "done", &okd), total = fmt_jnum(pr, "total", &okt),
           pct = fmt_jnum(pr, "percent", &okp),
           avg = fmt_jnum(pr, "average_seconds_per_unit", &oka),
           eta = fmt_jnum(pr, "estimated_remaining_seconds", &oke);
    int n = snprintf(b, size, "%.0f of %.0f %s", done, total, unit);
    if (okp && n > 0 && (size_t)n < size)
        n += snprintf(b + n, size - (size_t)n, " (%.1f%%)", pct);
    if (oka && n > 0 && (size_t)n < size) {
        fmt_dur(avg, 1, d, sizeof d);
        const char *one = strcmp(unit, "sites") == 0     ? "site"
                          : strcmp(unit, "batches") == 0 ? "batch"
                                                         : unit;
        n += snprintf(b + n, size - (size_t)n, ", %s per %s", d, one);
    }
    if (oke && n > 0 && (size_t)n < size) {
        fmt_dur(eta, 1, d, sizeof d);
        snprintf(b + n, size - (size_t)n, ", about %s left", d);
    }
    if (!okd || !okt)
        snprintf(b, size, "-");
}

/* show: Progress, Batch and Paused, each when the run has it. */
static void show_progress(json_t *r)
{
    char b[256];
    json_t *pr = json_object_get(r, "progress");
    const char *unit = fmt_jstr(pr, "unit");
    if (unit) {
        progress_text(pr, unit, b, sizeof b);
        fmt_kv_line("Progress", b);
    }
    json_t *batch = json_object_get(r, "batch");
    if (json_is_object(batch)) {
        char c[32], t[32];
        fmt_int(batch, "current", c, sizeof c);
        fmt_int(batch, "total", t, sizeof t);
        snprintf(b, sizeof b, "%s of %s", c, t);
        fmt_kv_line("Batch", b);
    }
    if (fmt_jstr(r, "paused_at") || json_is_true(json_object_get(r, "paused"))) {
        char pa[64], ra[64];
        fmt_time(fmt_jstr(r, "paused_at"), pa, sizeof pa);
        fmt_time(fmt_jstr(r, "resumed_at"), ra, sizeof ra);
        snprintf(b, sizeof b, "%s (paused %s, resumed %s)",
                 json_is_true(json_object_get(r, "paused")) ? "yes" : "no", pa, ra);
        fmt_kv_line("Paused", b);
    }
}

/* Prints the line key with obj as "k=v k=v". 0, or -1 when memory ran out. */
static int kv_map_line(const char *key, json_t *obj)
{
    char *s = fmt_kv(obj, 0);
    if (!s)
        return -1;
    fmt_kv_line(key, s);
    free(s);
    return 0;
}

/* show: Counters, Start counts, End counts, Resources and Params. 0, or -1 (memory). */
static int show_counters(json_t *r)
{
    char *s[3] = {fmt_kv(json_object_get(r, "counters"), 0),
                  fmt_kv(json_object_get(r, "start_counts"), 0),
                  fmt_kv(json_object_get(r, "end_counts"), 0)};
    int rc = s[0] && s[1] && s[2] ? 0 : -1;
    if (rc == 0) {
        fmt_kv_line("Counters", s[0]);
        fmt_kv_line("Start counts", s[1]);
        fmt_kv_line("End counts", s[2]);
    }
    for (int i = 0; i < 3; i++)
        free(s[i]);
    if (rc != 0)
        return rc;
    int okm, okc;
    double mem = fmt_jnum(r, "memory_percent", &okm), cpu = fmt_jnum(r, "cpu_percent", &okc);
    if (okm || okc) {
        char b[256];
        snprintf(b, sizeof b, "memory %.1f%%, cpu %.1f%%", mem, cpu);
        fmt_kv_line("Resources", b);
    }
    json_t *params = json_object_get(r, "params");
    return json_is_object(params) ? kv_map_line("Params", params) : 0;
}

/* show: Error, Error details, Producer, Dropped logs and the newest log lines. 0, or -1 when
 * memory ran out. */
static int show_outcome(const q_t *q, json_t *r)
{
    char b[256];
    if (fmt_jstr(r, "error_message"))
        fmt_kv_line("Error", fmt_jstr(r, "error_message"));
    json_t *ed = json_object_get(r, "error_details");
    if (json_is_object(ed)) {
        char *s = json_dumps(ed, JSON_COMPACT);
        if (!s)
            return -1;
        fmt_kv_line("Error details", s);
        free(s);
    }
    json_t *prod = json_object_get(r, "producer");
    if (json_is_object(prod)) {
        char pid[32];
        fmt_int(prod, "pid", pid, sizeof pid);
        snprintf(b, sizeof b, "host %s, pid %s, libruntrack %s",
                 fmt_jstr(prod, "host") ? fmt_jstr(prod, "host") : "-", pid,
                 fmt_jstr(prod, "lib") ? fmt_jstr(prod, "lib") : "-");
        fmt_kv_line("Producer", b);
    }
    json_t *dl = json_object_get(r, "dropped_logs");
    if (json_is_integer(dl) && json_integer_value(dl) > 0) {
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(dl));
        fmt_kv_line("Dropped logs", b);
    }
    json_t *logs = json_object_get(r, "logs");
    if (json_is_array(logs) && json_array_size(logs) > 0) {
        printf("\nNewest log lines:\n");
        size_t i;
        json_t *l;
        json_array_foreach(logs, i, l) print_log_line(q, l);
    }
    return 0;
}

static int cmd_show(q_t *q, int argc, char **argv)
{
    int rc = check_run_id("show", argc, argv);
    if (rc)
        return rc;
    char path[256], what[128];
    long log_limit = q->limit < 0 ? 0 : (q->limit ? q->limit : 10);
    snprintf(path, sizeof path, "/api/runs/%s?log_limit=%ld", argv[0], log_limit);
    snprintf(what, sizeof what, "no such run: %s", argv[0]);
    json_t *r = NULL;
    char *raw = NULL;
    if ((rc = api_get(&q->api, path, what, &r, &raw)) != EX_OK_)
        goto out;
    if (q->json) {
        api_print_raw(raw);
        goto out;
    }
    show_identity(q, r);
    show_progress(r);
    if (show_counters(r) != 0 || show_outcome(q, r) != 0) {
        cli_err("out of memory");
        rc = EX_SOFTWARE_;
    }
out:
    free(raw);
    json_decref(r);
    return rc;
}

/* ------------------------------------------------------------------------ logs */

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* Prints every log line after *after_seq (all pages), moving *after_seq on. *printed counts. */
static int logs_drain(const q_t *q, const char *run, int64_t *after_seq, size_t *printed)
{
    char what[128];
    snprintf(what, sizeof what, "no such run: %s", run);
    for (;;) {
        char path[1024], a[32], lim[16];
        snprintf(path, sizeof path, "/api/runs/%s/logs", run);
        snprintf(a, sizeof a, "%" PRId64, *after_seq);
        snprintf(lim, sizeof lim, "%d", LOGS_PAGE_MAX);
        if (api_qs_add(path, sizeof path, "after_seq", a) ||
            api_qs_add(path, sizeof path, "limit", lim) ||
            api_qs_add(path, sizeof path, "level", q->level) ||
            api_qs_add(path, sizeof path, "phase", q->phase)) {
            cli_err("logs: filter values too long");
            return EX_USAGE_;
        }
        json_t *page = NULL;
        int rc = api_get(&q->api, path, what, &page, NULL);
        if (rc)
            return rc;
        json_t *logs = json_object_get(page, "logs");
        json_t *next = json_object_get(page, "next_after_seq");
        if (!json_is_array(logs) || !json_is_integer(next)) {
            json_decref(page);
            cli_err("bad answer from %s: no logs array / next_after_seq", q->api.base);
            return EX_DATAERR_;
        }
        size_t i, n = json_array_size(logs);
        json_t *l;
        json_array_foreach(logs, i, l)
        {
            if (q->json)
                rc = api_print_json(l);
            else
                print_log_line(q, l);
        }
        *printed += n;
        int64_t nx = (int64_t)json_integer_value(next);
        int more = n == LOGS_PAGE_MAX && nx > *after_seq;
        *after_seq = nx > *after_seq ? nx : *after_seq;
        json_decref(page);
        fflush(stdout);
        if (rc)
            return rc;
        if (!more)
            return EX_OK_;
    }
}

/* Sleeps ms milliseconds, returning early on SIGINT. */
static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (!g_interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int cmd_logs(q_t *q, int argc, char **argv)
{
    int rc = check_run_id("logs", argc, argv);
    if (rc)
        return rc;
    if (q->level && strcmp(q->level, "info") != 0 && strcmp(q->level, "success") != 0 &&
        strcmp(q->level, "warning") != 0 && strcmp(q->level, "error") != 0) {
        cli_err("logs: --level \"%s\": expected info, success, warning or error", q->level);
        return EX_USAGE_;
    }
    int64_t after = 0;
    size_t printed = 0;
    if (!q->follow) {
        rc = logs_drain(q, argv[0], &after, &printed);
        if (rc == EX_OK_ && printed == 0 && !q->json)
            fprintf(stderr, "runtrack: no log lines\n");
        return rc;
    }
    /* Follow: the run's status is read before each drain, so once it reads terminal, the drain
     * after it has every line (the consumer commits a run's earlier events no later than its
     * run.finished). */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    char path[256];
    snprintf(path, sizeof path, "/api/runs/%s?log_limit=0", argv[0]);
    /* A run nobody has stored yet (`runtrack start` is acknowledged by the broker, then the
     * consumer writes it within its batch time) is waited for, up to --timeout, before it is
     * "no such run". */
    int64_t give_up = rt_mono_us() + (int64_t)q->api.timeout_ms * 1000;
    int seen = 0;
    while (!g_interrupted) {
        json_t *run = NULL;
        rc = api_get(&q->api, path, "", &run, NULL);
        if (rc == EX_NOINPUT_ && !seen && rt_mono_us() < give_up) {
            nap(FOLLOW_WAIT_MS);
            continue;
        }
        if (rc == EX_NOINPUT_)
            cli_err("no such run: %s%s", argv[0], seen ? "" : " (waited --timeout for it)");
        if (rc != EX_OK_)
            break;
        seen = 1;
        const char *st = fmt_jstr(run, "status");
        int terminal = st && strcmp(st, "running") != 0;
        json_decref(run);
        if ((rc = logs_drain(q, argv[0], &after, &printed)) != EX_OK_ || terminal)
            break;
        nap(FOLLOW_POLL_SEC * 1000L);
    }
    sigaction(SIGINT, &old, NULL);
    return rc; /* Ctrl-C is how a follow of a live run ends: exit 0 */
}

/* ------------------------------------------------------------------------ last-success */

static int cmd_last_success(q_t *q, int argc, char **argv)
{
    if (argc != 1 || !*argv[0]) {
        cli_err("last-success: expected exactly one JOB name (see 'runtrack last-success "
                "--help')");
        return EX_USAGE_;
    }
    char *job = rt_http_escape(argv[0]);
    if (!job) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    size_t n = strlen(job) + 64;
    char *path = malloc(n);
    json_t *a = NULL;
    char *raw = NULL;
    int rc;
    if (!path) {
        cli_err("out of memory");
        rc = EX_SOFTWARE_;
        goto out;
    }
    snprintf(path, n, "/api/jobs/%s/last-success", job);
    if ((rc = api_get(&q->api, path, NULL, &a, &raw)) != EX_OK_)
        goto out;
    if (q->json) {
        api_print_raw(raw);
        goto out;
    }
    json_t *ls = json_object_get(a, "last_success");
    if (!json_is_object(ls)) {
        char *p = fmt_printable(argv[0]);
        printf("%s: no successful run on record\n", p ? p : "?");
        free(p);
        goto out;
    }
    char b[256], c[64];
    int ok;
    fmt_kv_line("Job", argv[0]);
    fmt_time(fmt_jstr(a, "completed_at"), b, sizeof b);
    int64_t us;
    if (fmt_jstr(a, "completed_at") && rt_time_parse(fmt_jstr(a, "completed_at"), &us) == 0) {
        fmt_dur((double)(rt_now_us() - us) / 1e6, 1, c, sizeof c);
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, " (%s ago)", c);
    }
    fmt_kv_line("Completed", b);
    fmt_kv_line("Run", fmt_jstr(ls, "run_id"));
    fmt_time(fmt_jstr(ls, "started_at"), b, sizeof b);
    fmt_kv_line("Started", b);
    double elapsed_seconds_s = fmt_jnum(ls, "elapsed_seconds", &ok);
    fmt_dur(elapsed_seconds_s, ok, b, sizeof b);
    fmt_kv_line("Elapsed", b);
    char *kv = fmt_kv(json_object_get(ls, "counters"), 0);
    fmt_kv_line("Counters", kv ? kv : "?");
    free(kv);
    if (json_is_object(json_object_get(ls, "params"))) {
        kv = fmt_kv(json_object_get(ls, "params"), 0);
        fmt_kv_line("Params", kv ? kv : "?");
        free(kv);
    }
out:
    free(raw);
    json_decref(a);
    free(path);
    free(job);
    return rc;
}

/* ------------------------------------------------------------------------ health */

static int add_window_row(table_t *t, json_t *w)
{
    char wh[16], tot[24], co[24], pa[24], fa[24], ru[24], sta[24], sr[16], fr[16];
    fmt_int(w, "window_hours", wh, sizeof wh - 1);
    strncat(wh, "h", sizeof wh - strlen(wh) - 1);
    fmt_int(w, "total", tot, sizeof tot);
    fmt_int(w, "completed", co, sizeof co);
    fmt_int(w, "partial", pa, sizeof pa);
    fmt_int(w, "failed", fa, sizeof fa);
    fmt_int(w, "running", ru, sizeof ru);
    fmt_int(w, "stale", sta, sizeof sta);
    fmt_pct(w, "success_rate", sr, sizeof sr);
    fmt_pct(w, "freshness_rate", fr, sizeof fr);
    const char *vals[10] = {wh, tot, co, pa, fa, ru, sta, sr, fr, fmt_jstr(w, "status")};
    return table_add(t, vals);
}

static int cmd_health(q_t *q, int argc, char **argv)
{
    if (argc > 0) {
        cli_err("health: unexpected argument \"%s\" (see 'runtrack health --help')", argv[0]);
        return EX_USAGE_;
    }
    char path[2048] = "/api/health", win[24];
    snprintf(win, sizeof win, "%ld", q->window);
    if (api_qs_add(path, sizeof path, "window", q->window ? win : NULL) ||
        api_qs_add(path, sizeof path, "job", q->job) ||
        api_qs_add(path, sizeof path, "kind", q->kind)) {
        cli_err("health: filter values too long");
        return EX_USAGE_;
    }
    json_t *h = NULL;
    char *raw = NULL;
    table_t tw = {.ncols = 10,
                  .color_col = 9,
                  .head = {"WINDOW", "TOTAL", "COMPLETED", "PARTIAL", "FAILED", "RUNNING", "STALE",
                           "SUCCESS", "FRESHNESS", "STATUS"}};
    table_t tj = {.ncols = 8,
                  .color_col = 1,
                  .head = {"JOB", "STATUS", "LAST RUN", "LAST SUCCESS", "RUNS 24H", "FAILED 24H",
                           "FRESHNESS", "INTERVAL"}};
    table_t ta = {.ncols = 4, .color_col = 0, .head = {"SEVERITY", "ALERT", "JOB", "MESSAGE"}};
    int rc = api_get(&q->api, path, NULL, &h, &raw);
    if (rc)
        goto out;
    if (q->json) {
        api_print_raw(raw);
        goto out;
    }
    char ts[64];
    fmt_time(fmt_jstr(h, "timestamp"), ts, sizeof ts);
    json_t *ov = json_object_get(h, "overall");
    printf("Health at %s: ", ts);
    fmt_cell(q->color, fmt_jstr(ov, "status") ? fmt_jstr(ov, "status") : "-", 0, 1);
    char lr[64];
    fmt_time(fmt_jstr(h, "last_run_at"), lr, sizeof lr);
    char r24[24];
    fmt_int(h, "runs_24h", r24, sizeof r24);
    printf("  (last run %s, %s runs in 24 h)\n\n", lr, r24);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(h, "windows"), i, v) if (add_window_row(&tw, v)) goto oom;
    table_print(q->color, &tw, "");
    json_array_foreach(json_object_get(h, "jobs"), i, v)
    {
        char last[64], succ[64], n24[24], f24[24], fr[16], iv[64];
        fmt_time(fmt_jstr(v, "last_run_at"), last, sizeof last);
        if (fmt_jstr(v, "last_success_at"))
            fmt_time(fmt_jstr(v, "last_success_at"), succ, sizeof succ);
        else
            snprintf(succ, sizeof succ, "never");
        fmt_int(v, "runs_24h", n24, sizeof n24);
        fmt_int(v, "failures_24h", f24, sizeof f24);
        fmt_pct(v, "freshness_rate", fr, sizeof fr);
        int ok;
        double sec = fmt_jnum(v, "expected_interval_seconds", &ok);
        fmt_dur(sec, ok, iv, sizeof iv);
        if (ok && fmt_jstr(v, "interval_source")) {
            size_t l = strlen(iv);
            snprintf(iv + l, sizeof iv - l, " (%s)", fmt_jstr(v, "interval_source"));
        }
        const char *vals[8] = {
            fmt_jstr(v, "job"), fmt_jstr(v, "status"), last, succ, n24, f24, fr, iv};
        if (table_add(&tj, vals))
            goto oom;
    }
    if (tj.nrows) {
        putchar('\n');
        table_print(q->color, &tj, "");
    }
    json_array_foreach(json_object_get(h, "alerts"), i, v)
    {
        const char *vals[4] = {fmt_jstr(v, "severity"), fmt_jstr(v, "code"), fmt_jstr(v, "job"),
                               fmt_jstr(v, "message")};
        if (table_add(&ta, vals))
            goto oom;
    }
    putchar('\n');
    if (ta.nrows)
        table_print(q->color, &ta, "");
    else
        puts("No alerts.");
    goto out;
oom:
    cli_err("out of memory");
    rc = EX_SOFTWARE_;
out:
    table_free(&tw);
    table_free(&tj);
    table_free(&ta);
    free(raw);
    json_decref(h);
    return rc;
}

/* ------------------------------------------------------------------------ options */

const char cli_query_options_help[] =
    "Query options:\n"
    "  --api URL         the runtrack API (default $RUNTRACK_API or " DEFAULT_API ")\n"
    "  --json            print the API's JSON instead of a table\n"
    "  --timeout SEC     HTTP timeout (default 10)\n"
    "  --cacert FILE     PEM CA verifying an https API (default $RUNTRACK_API_CA, else the\n"
    "                    system's CAs)\n"
    "  --api-key-file F  the API key is F's first line (default $RUNTRACK_API_KEY_FILE)\n"
    "  --allow-http      send the key over plain http to a non-loopback host too\n"
    "  -h, --help        this help\n"
    "$RUNTRACK_API_KEY (or a key file) is sent as a bearer token. Times are shown in the local\n"
    "zone (TZ). Exit codes: 0 ok, 64 usage or a parameter the API refused, 65 malformed run id\n"
    "or a bad answer, 66 no such run, 69 API unreachable or unavailable (503), 76 the API's TLS\n"
    "certificate not verified, 77 key refused, 78 unreadable CA or key file, key over http.\n";

static const struct option qlong[] = {
    {"api", required_argument, NULL, 'a'},
    {"json", no_argument, NULL, 'J'},
    {"timeout", required_argument, NULL, 'T'},
    {"status", required_argument, NULL, 'S'},
    {"job", required_argument, NULL, 'j'},
    {"kind", required_argument, NULL, 'k'},
    {"phase", required_argument, NULL, 'P'},
    {"limit", required_argument, NULL, 'n'},
    {"all", no_argument, NULL, 'A'},
    {"level", required_argument, NULL, 'l'},
    {"follow", no_argument, NULL, 'f'},
    {"window", required_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    {"cacert", required_argument, NULL, 'C'},
    {"api-key-file", required_argument, NULL, 'K'},
    {"allow-http", no_argument, NULL, 'H'},
    {NULL, 0, NULL, 0},
};

/* A whole number in [lo, hi] for --opt. Returns 0, or -1 after a message. */
static int parse_whole(const char *opt, const char *s, long lo, long hi, long *out)
{
    int64_t v;
    if (rt_parse_i64(s, lo, hi, &v) != 0) {
        cli_err("--%s \"%s\": expected a whole number %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/* Applies option c (value arg) of command cmd to q; --api goes to *api. Returns the exit
 * code: EX_OK_, or the failure's after a message. */
static int take_option(q_t *q, const char **api, const cli_command_t *cmd, int c, const char *arg)
{
    int show = strcmp(cmd->name, "show") == 0;
    double sec;
    switch (c) {
    case 'a':
        *api = arg;
        return EX_OK_;
    case 'J':
        q->json = 1;
        return EX_OK_;
    case 'T':
        /* Seconds, decimals allowed, like the event commands' --timeout. */
        if (rt_parse_double(arg, 0.001, 3600, &sec) != 0) {
            cli_err("--timeout \"%s\": expected seconds 0.001..3600", arg);
            return EX_USAGE_;
        }
        q->api.timeout_ms = (long)(sec * 1000.0);
        return EX_OK_;
    case 'S':
        q->status = arg;
        return EX_OK_;
    case 'j':
        q->job = arg;
        return EX_OK_;
    case 'k':
        q->kind = arg;
        return EX_OK_;
    case 'P':
        q->phase = arg;
        return EX_OK_;
    case 'n':
        if (parse_whole("limit", arg, show ? 0 : 1, show ? 1000 : 1000000, &q->limit))
            return EX_USAGE_;
        if (q->limit == 0)
            q->limit = -1; /* show --limit 0: no log lines (0 means "default") */
        return EX_OK_;
    case 'A':
        q->all = 1;
        return EX_OK_;
    case 'l':
        q->level = arg;
        return EX_OK_;
    case 'f':
        q->follow = 1;
        return EX_OK_;
    case 'w':
        return parse_whole("window", arg, 1, 8784, &q->window) ? EX_USAGE_ : EX_OK_;
    case 'C':
        q->api.cacert = arg;
        return EX_OK_;
    case 'K':
        q->key_file = arg;
        return EX_OK_;
    case 'H':
        q->allow_http = 1;
        return EX_OK_;
    }
    cli_err("internal: unhandled option");
    return EX_SOFTWARE_;
}

/* Sets the API's base URL (api without trailing '/'). Returns the exit code. */
static int set_api(q_t *q, const char *api)
{
    size_t alen = strlen(api);
    while (alen > 0 && api[alen - 1] == '/')
        alen--;
    if (alen == 0 || alen >= sizeof q->api_buf) {
        cli_err("bad API URL \"%s\" (set --api or RUNTRACK_API)", api);
        return EX_USAGE_;
    }
    memcpy(q->api_buf, api, alen);
    q->api_buf[alen] = '\0';
    q->api.base = q->api_buf;
    return EX_OK_;
}

typedef int (*query_fn)(q_t *q, int argc, char **argv);

/* Reads the environment and the options of query command cmd (argv[0] is its name), then runs
 * fn with the HTTP client set up. Returns the exit code. */
static int query_main(const cli_command_t *cmd, int argc, char **argv, query_fn fn)
{
    q_t q;
    memset(&q, 0, sizeof q);
    q.api.timeout_ms = 10000;
    const char *api = getenv("RUNTRACK_API");
    if (!api || !*api)
        api = DEFAULT_API;
    optind = 0; /* full re-initialisation (GNU) */
    opterr = 0;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":h", qlong, NULL)) != -1) {
        if (cli_check_opt(cmd->name, c, "aJThCKH", cmd->allowed, qlong, argv) != 0)
            return EX_USAGE_;
        if (c == 'h') {
            cli_command_help(cmd);
            return EX_OK_;
        }
        if ((rc = take_option(&q, &api, cmd, c, optarg)) != EX_OK_)
            return rc;
    }
    if ((rc = set_api(&q, api)) != EX_OK_ ||
        (rc = api_setup(&q.api, q.key_file, q.allow_http)) != EX_OK_)
        return rc;
    const char *term = getenv("TERM"), *nc = getenv("NO_COLOR");
    q.color = isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

    if (rt_http_global_init() != 0) {
        cli_err("cannot initialise the HTTP client");
        return EX_SOFTWARE_;
    }
    rc = fn(&q, argc - optind, argv + optind);
    rt_http_global_cleanup();
    if (fflush(stdout) != 0 && rc == EX_OK_) {
        cli_err("cannot write the output: %s", strerror(errno));
        rc = EX_IOERR_;
    }
    return rc;
}

/* ------------------------------------------------------------------------ entry points */

int cli_cmd_runs(const cli_command_t *cmd, int argc, char **argv)
{
    return query_main(cmd, argc, argv, cmd_runs);
}

int cli_cmd_show(const cli_command_t *cmd, int argc, char **argv)
{
    return query_main(cmd, argc, argv, cmd_show);
}

int cli_cmd_logs(const cli_command_t *cmd, int argc, char **argv)
{
    return query_main(cmd, argc, argv, cmd_logs);
}

int cli_cmd_last_success(const cli_command_t *cmd, int argc, char **argv)
{
    return query_main(cmd, argc, argv, cmd_last_success);
}

int cli_cmd_health(const cli_command_t *cmd, int argc, char **argv)
{
    return query_main(cmd, argc, argv, cmd_health);
}
