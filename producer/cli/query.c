/* runtrack runs/show/logs/last-success/health: read the consumer's HTTP API (docs/api.md) and
 * print aligned tables for people (local times, human durations, status colours on a terminal)
 * or, with --json, the API's JSON. Every failure is one line on stderr and a sysexits code. */
#include "query.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "http_get.h"
#include "rt_time.h"
#include "rt_uuid.h"

#define EX_NOINPUT_ 66 /* no such run */
#define EX_IOERR_   74 /* stdout could not be written */
#define EX_NOPERM_  77 /* the API refused the token */

#define DEFAULT_API     "http://127.0.0.1:8080"
#define RUNS_PAGE_MAX   500  /* the API's largest /api/runs page */
#define LOGS_PAGE_MAX   1000 /* the API's largest /api/runs/{id}/logs page */
#define FOLLOW_POLL_SEC 1

typedef struct q {
    const char *api; /* base URL without a trailing '/' (owned by q.api_buf) */
    char api_buf[2048];
    const char *token;
    long timeout_ms;
    int json;
    int color;
    const char *status, *job, *kind, *phase, *level;
    long limit; /* 0: the command's default */
    int all;
    int follow;
    long window; /* 0: the API's default windows */
} q_t;

/* ------------------------------------------------------------------------ small helpers */

/* Display width of UTF-8 text: one column per code point (good enough for names and logs). */
static size_t disp_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* Copies s with control characters replaced, so API text can never drive the terminal:
 * newline/tab/CR become a space, other C0 bytes and DEL a '?'. Returns malloc'd text or NULL. */
static char *printable(const char *s)
{
    char *o = strdup(s ? s : "");
    if (!o)
        return NULL;
    for (char *p = o; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n' || c == '\t' || c == '\r')
            *p = ' ';
        else if (c < 0x20 || c == 0x7f)
            *p = '?';
    }
    return o;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A JSON number (integer or real) as double; 0 and *ok = 0 when absent/null/not a number. */
static double jnum(json_t *o, const char *key, int *ok)
{
    json_t *v = json_object_get(o, key);
    *ok = json_is_number(v);
    return *ok ? json_number_value(v) : 0.0;
}

/* RFC 3339 from the API → "YYYY-MM-DD HH:MM:SS" in the local zone (TZ); "-" when null. */
static void fmt_time(const char *rfc, char *buf, size_t size)
{
    int64_t us;
    if (!rfc || rt_time_parse(rfc, &us) != 0) {
        snprintf(buf, size, "%s", rfc ? rfc : "-");
        return;
    }
    time_t t = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, size, "%s", rfc);
}

/* Seconds → "850ms", "12.3s", "5m 03s", "2h 05m", "3d 04h"; "-" when unknown. */
static void fmt_dur(double s, int ok, char *buf, size_t size)
{
    if (!ok || !isfinite(s)) {
        snprintf(buf, size, "-");
        return;
    }
    const char *sign = s < 0 ? "-" : "";
    s = fabs(s);
    if (s < 1.0)
        snprintf(buf, size, "%s%.0fms", sign, s * 1000.0);
    else if (s < 60.0)
        snprintf(buf, size, "%s%.1fs", sign, s);
    else if (s < 3600.0)
        snprintf(buf, size, "%s%dm %02ds", sign, (int)(s / 60), (int)fmod(s, 60.0));
    else if (s < 86400.0)
        snprintf(buf, size, "%s%dh %02dm", sign, (int)(s / 3600), (int)fmod(s, 3600.0) / 60);
    else
        snprintf(buf, size, "%s%.0fd %02dh", sign, floor(s / 86400), (int)fmod(s, 86400.0) / 3600);
}

static void fmt_pct(json_t *o, const char *key, char *buf, size_t size)
{
    int ok;
    double v = jnum(o, key, &ok);
    if (ok)
        snprintf(buf, size, "%.1f%%", v);
    else
        snprintf(buf, size, "-");
}

static void fmt_int(json_t *o, const char *key, char *buf, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, size, "-");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v k=v" of a flat JSON object by key name (values in JSON form; PostgreSQL's jsonb keeps
 * its own key order), cut to max bytes with "..." (0: no cut); "-" when empty or null. Returns
 * malloc'd text or NULL. */
static char *fmt_kv(json_t *obj, size_t max)
{
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return strdup("-");
    size_t cap = 256, len = 0, nk = 0;
    char *s = malloc(cap);
    const char **keys = calloc(json_object_size(obj), sizeof *keys);
    if (!s || !keys) {
        free(s);
        free(keys);
        return NULL;
    }
    s[0] = '\0';
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) keys[nk++] = k;
    qsort(keys, nk, sizeof *keys, cmp_str);
    for (size_t i = 0; i < nk; i++) {
        k = keys[i];
        v = json_object_get(obj, k);
        char *vs = json_is_string(v) ? strdup(json_string_value(v))
                                     : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!vs) {
            free(keys);
            free(s);
            return NULL;
        }
        size_t need = len + strlen(k) + strlen(vs) + 3;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *p = realloc(s, cap);
            if (!p) {
                free(vs);
                free(keys);
                free(s);
                return NULL;
            }
            s = p;
        }
        len += (size_t)snprintf(s + len, cap - len, "%s%s=%s", len ? " " : "", k, vs);
        free(vs);
    }
    free(keys);
    if (max >= 4 && len > max) {
        size_t cut = max - 3;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--; /* never split a UTF-8 sequence */
        memcpy(s + cut, "...", 4);
    }
    return s;
}

/* ------------------------------------------------------------------------ colours */

static const char *status_color(const char *st)
{
    if (!st)
        return NULL;
    if (strcmp(st, "completed") == 0 || strcmp(st, "healthy") == 0 || strcmp(st, "success") == 0)
        return "\033[32m"; /* green */
    if (strcmp(st, "failed") == 0 || strcmp(st, "critical") == 0 || strcmp(st, "error") == 0)
        return "\033[31m"; /* red */
    if (strcmp(st, "partial") == 0 || strcmp(st, "warning") == 0 || strcmp(st, "stale") == 0)
        return "\033[33m"; /* yellow */
    if (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0)
        return "\033[36m"; /* cyan */
    return NULL;
}

/* Writes text padded to width columns, coloured when colour is on and the text has one. */
static void put_cell(const q_t *q, const char *text, size_t width, int colored)
{
    const char *c = q->color && colored ? status_color(text) : NULL;
    fputs(c ? c : "", stdout);
    fputs(text, stdout);
    fputs(c ? "\033[0m" : "", stdout);
    for (size_t w = disp_width(text); w < width; w++)
        putchar(' ');
}

/* ------------------------------------------------------------------------ tables */

#define TABLE_MAX_COLS 12

typedef struct table {
    int ncols;
    const char *head[TABLE_MAX_COLS];
    int color_col; /* column whose values are statuses to colour, or -1 */
    char **cells;  /* nrows * ncols, each owned */
    size_t nrows, cap;
} table_t;

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* Adds a row of ncols texts (copied, made printable; NULL prints "-"). 0 or -1 (memory). */
static int table_add(table_t *t, const char *const *vals)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * (size_t)t->ncols * sizeof *p);
        if (!p)
            return -1;
        t->cells = p;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        row[i] = printable(vals[i] ? vals[i] : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

/* Prints the header and rows, columns two spaces apart, the last column unpadded. */
static void table_print(const q_t *q, const table_t *t, const char *indent)
{
    size_t w[TABLE_MAX_COLS];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = disp_width(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = disp_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (cw > w[c])
                w[c] = cw;
        }
    }
    fputs(indent, stdout);
    for (int c = 0; c < t->ncols; c++) {
        int last = c == t->ncols - 1;
        put_cell(q, t->head[c], last ? 0 : w[c] + 2, 0);
    }
    putchar('\n');
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent, stdout);
        for (int c = 0; c < t->ncols; c++) {
            int last = c == t->ncols - 1;
            put_cell(q, t->cells[r * (size_t)t->ncols + (size_t)c], last ? 0 : w[c] + 2,
                     c == t->color_col);
        }
        putchar('\n');
    }
}

/* ------------------------------------------------------------------------ HTTP + JSON */

/* Appends "&name=escaped(value)" (or "?..." for the first) to a query string buffer; skips NULL
 * values. 0, or -1 when the buffer is full or memory ran out. */
static int qs_add(char *buf, size_t size, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *e = rt_http_escape(value);
    if (!e)
        return -1;
    size_t len = strlen(buf);
    int n = snprintf(buf + len, size - len, "%c%s=%s", strchr(buf, '?') ? '&' : '?', name, e);
    free(e);
    return n < 0 || (size_t)n >= size - len ? -1 : 0;
}

/* GETs base + path and parses the JSON object answer. On 2xx returns 0 with *json (and *raw when
 * raw is not NULL) owned by the caller. Otherwise prints one line and returns the exit code:
 * 69 unreachable or 503, 64 for a 400 (a parameter the API refused), 66 with what404 for a 404
 * when what404 is given, 77 for 401/403, 65 for anything else unexpected. */
static int api_get(const q_t *q, const char *path, const char *what404, json_t **json, char **raw)
{
    *json = NULL;
    if (raw)
        *raw = NULL;
    size_t n = strlen(q->api) + strlen(path) + 1;
    char *url = malloc(n);
    if (!url) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    snprintf(url, n, "%s%s", q->api, path);
    char err[512];
    rt_http_resp_t r;
    rt_http_err_t he = rt_http_get(url, q->token, q->timeout_ms, &r, err, sizeof err);
    int rc = EX_OK_;
    json_t *j = NULL;
    char *msg = NULL;
    switch (he) {
    case RT_HTTP_OK:
        break;
    case RT_HTTP_BAD_URL:
        cli_err("bad API URL \"%s\": %s (set --api or RUNTRACK_API)", q->api, err);
        rc = EX_USAGE_;
        goto out;
    case RT_HTTP_UNREACHABLE:
        cli_err("API unreachable at %s: %s", q->api, err);
        rc = EX_UNAVAILABLE_;
        goto out;
    case RT_HTTP_TOO_LARGE:
        cli_err("bad answer from %s: %s", url, err);
        rc = EX_DATAERR_;
        goto out;
    case RT_HTTP_INTERNAL:
        cli_err("HTTP client: %s", err);
        rc = EX_SOFTWARE_;
        goto out;
    }
    json_error_t je;
    j = json_loadb(r.body, r.len, 0, &je);
    if (json_is_object(j) && jstr(json_object_get(j, "error"), "message"))
        msg =
            printable(jstr(json_object_get(j, "error"), "message")); /* stderr is a terminal too */
    if (r.status >= 200 && r.status < 300) {
        if (!json_is_object(j)) {
            cli_err("bad answer from %s: %s", url, j ? "not a JSON object" : je.text);
            rc = EX_DATAERR_;
            goto out;
        }
        *json = j;
        j = NULL;
        if (raw) {
            *raw = r.body;
            r.body = NULL;
        }
        goto out;
    }
    if (r.status == 404 && what404) {
        cli_err("%s", what404);
        rc = EX_NOINPUT_;
    } else if (r.status == 400) {
        cli_err("the API refused the request: %s", msg ? msg : "bad parameter");
        rc = EX_USAGE_;
    } else if (r.status == 401 || r.status == 403) {
        cli_err("the API refused access (HTTP %ld)%s%s; set RUNTRACK_API_TOKEN", r.status,
                msg ? ": " : "", msg ? msg : "");
        rc = EX_NOPERM_;
    } else if (r.status == 503) {
        cli_err("API unavailable at %s: %s", q->api, msg ? msg : "HTTP 503");
        rc = EX_UNAVAILABLE_;
    } else {
        cli_err("bad answer from %s: HTTP %ld%s%s", url, r.status, msg ? ": " : "", msg ? msg : "");
        rc = EX_DATAERR_;
    }
out:
    free(msg);
    json_decref(j);
    free(r.body);
    free(url);
    return rc;
}

/* Prints a JSON value on one line (the API's form, for --json). */
static int print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        cli_err("out of memory");
        return EX_SOFTWARE_;
    }
    puts(s);
    free(s);
    return EX_OK_;
}

/* The API's body as received, newline-terminated. */
static void print_raw(const char *raw)
{
    size_t n = strlen(raw);
    fputs(raw, stdout);
    if (n == 0 || raw[n - 1] != '\n')
        putchar('\n');
}

/* What a person should see as a run's state: stale and paused are running runs. */
static const char *shown_status(json_t *run)
{
    const char *st = jstr(run, "status");
    if (st && strcmp(st, "running") == 0) {
        if (json_is_true(json_object_get(run, "stale")))
            return "stale";
        if (json_is_true(json_object_get(run, "paused")))
            return "paused";
    }
    return st ? st : "?";
}

/* ------------------------------------------------------------------------ runs */

static int cmd_runs(q_t *q, int argc, char **argv)
{
    (void)argv;
    if (argc > 0) {
        cli_err("runs: unexpected argument \"%s\" (see 'runtrack runs --help')", argv[0]);
        return EX_USAGE_;
    }
    if (q->all && q->limit) {
        cli_err("runs: give --limit N or --all, not both");
        return EX_USAGE_;
    }
    long want = q->all ? -1 : (q->limit ? q->limit : 50);
    int rc = EX_OK_;
    json_t *runs = json_array(), *page = NULL;
    char *raw = NULL, *cursor = NULL;
    int pages = 0;
    table_t t = {
        .ncols = 8,
        .color_col = 3,
        .head = {"RUN ID", "JOB", "KIND", "STATUS", "PHASE", "STARTED", "DURATION", "COUNTERS"}};
    if (!runs)
        goto oom;
    for (;;) {
        long left = want < 0 ? RUNS_PAGE_MAX : want - (long)json_array_size(runs);
        if (left <= 0)
            break;
        char path[4096] = "/api/runs", lim[24];
        snprintf(lim, sizeof lim, "%ld", left < RUNS_PAGE_MAX ? left : RUNS_PAGE_MAX);
        if (qs_add(path, sizeof path, "status", q->status) ||
            qs_add(path, sizeof path, "job", q->job) ||
            qs_add(path, sizeof path, "kind", q->kind) ||
            qs_add(path, sizeof path, "phase", q->phase) ||
            qs_add(path, sizeof path, "limit", lim) ||
            qs_add(path, sizeof path, "cursor", cursor)) {
            cli_err("runs: filter values too long");
            rc = EX_USAGE_;
            goto out;
        }
        json_decref(page);
        free(raw);
        page = NULL;
        raw = NULL;
        if ((rc = api_get(q, path, NULL, &page, &raw)) != EX_OK_)
            goto out;
        pages++;
        json_t *arr = json_object_get(page, "runs");
        json_t *next = json_object_get(page, "next_cursor");
        if (!json_is_array(arr) || !(json_is_null(next) || json_is_string(next))) {
            cli_err("bad answer from %s: no runs array / next_cursor", q->api);
            rc = EX_DATAERR_;
            goto out;
        }
        if (json_array_extend(runs, arr) != 0)
            goto oom;
        if (json_is_string(next) && cursor && strcmp(json_string_value(next), cursor) == 0) {
            /* The same page again would never end an --all. */
            cli_err("bad answer from %s: next_cursor does not move", q->api);
            rc = EX_DATAERR_;
            goto out;
        }
        free(cursor);
        cursor = NULL;
        if (json_is_null(next) || json_array_size(arr) == 0)
            break;
        if (!(cursor = strdup(json_string_value(next))))
            goto oom;
    }
    if (q->json) {
        if (pages == 1) {
            print_raw(raw); /* one request: exactly what the API said */
        } else {
            json_t *all = json_pack("{s:O,s:s?}", "runs", runs, "next_cursor", cursor);
            if (!all)
                goto oom;
            rc = print_json(all);
            json_decref(all);
        }
        goto out;
    }
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        char started[64], dur[32];
        int ok;
        fmt_time(jstr(r, "started_at"), started, sizeof started);
        double el = jnum(r, "elapsed_seconds", &ok);
        fmt_dur(el, ok, dur, sizeof dur);
        char *kv = fmt_kv(json_object_get(r, "counters"), 60);
        if (!kv)
            goto oom;
        const char *vals[8] = {jstr(r, "run_id"),
                               jstr(r, "job"),
                               jstr(r, "kind"),
                               shown_status(r),
                               jstr(r, "phase"),
                               started,
                               dur,
                               kv};
        int e = table_add(&t, vals);
        free(kv);
        if (e)
            goto oom;
    }
    if (t.nrows == 0)
        puts("No runs.");
    else
        table_print(q, &t, "");
    if (cursor && !q->all)
        fprintf(stderr, "runtrack: more runs match (use --limit N or --all)\n");
    goto out;
oom:
    cli_err("out of memory");
    rc = EX_SOFTWARE_;
out:
    table_free(&t);
    free(cursor);
    free(raw);
    json_decref(page);
    json_decref(runs);
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

static void kv_line(const char *key, const char *val)
{
    char *p = printable(val ? val : "-");
    printf("%-14s%s\n", key, p ? p : "?");
    free(p);
}

/* One log line for people: time, level (coloured), [phase] message {fields}. */
static void print_log_line(const q_t *q, json_t *l)
{
    char ts[64];
    fmt_time(jstr(l, "ts"), ts, sizeof ts);
    const char *lvl = jstr(l, "level");
    const char *ph = jstr(l, "phase");
    char *msg = printable(jstr(l, "message"));
    char *ph_p = ph ? printable(ph) : NULL;
    char *fields = NULL;
    json_t *f = json_object_get(l, "fields");
    if (json_is_object(f) && json_object_size(f) > 0) {
        char *d = json_dumps(f, JSON_COMPACT);
        fields = d ? printable(d) : NULL;
        free(d);
    }
    printf("%s  ", ts);
    put_cell(q, lvl ? lvl : "?", 9, 1);
    printf("%s%s%s%s%s%s\n", ph_p ? "[" : "", ph_p ? ph_p : "", ph_p ? "] " : "", msg ? msg : "?",
           fields ? "  " : "", fields ? fields : "");
    free(fields);
    free(ph_p);
    free(msg);
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
    char *s1 = NULL, *s2 = NULL, *s3 = NULL;
    if ((rc = api_get(q, path, what, &r, &raw)) != EX_OK_)
        goto out;
    if (q->json) {
        print_raw(raw);
        goto out;
    }
    char b1[256], b2[64];
    int ok;
    kv_line("Run", jstr(r, "run_id"));
    kv_line("Job", jstr(r, "job"));
    kv_line("Kind", jstr(r, "kind"));
    const char *st = shown_status(r);
    printf("%-14s", "Status");
    put_cell(q, st, 0, 1);
    const char *reason = jstr(r, "status_reason");
    if (reason) {
        char *p = printable(reason);
        printf(" (%s)", p ? p : "?");
        free(p);
    }
    putchar('\n');
    if (jstr(r, "phase"))
        kv_line("Phase", jstr(r, "phase"));
    fmt_time(jstr(r, "started_at"), b1, sizeof b1);
    kv_line(json_is_false(json_object_get(r, "has_started")) ? "First event" : "Started", b1);
    if (jstr(r, "finished_at")) {
        fmt_time(jstr(r, "finished_at"), b1, sizeof b1);
        kv_line("Finished", b1);
    }
    double elapsed_seconds_s = jnum(r, "elapsed_seconds", &ok);
    fmt_dur(elapsed_seconds_s, ok, b1, sizeof b1);
    kv_line("Elapsed", b1);
    fmt_time(jstr(r, "last_event_at"), b1, sizeof b1);
    kv_line("Last event", b1);

    json_t *pr = json_object_get(r, "progress");
    const char *unit = jstr(pr, "unit");
    if (unit) {
        int okd, okt, okp, oka, oke;
        double done = jnum(pr, "done", &okd), total = jnum(pr, "total", &okt),
               pct = jnum(pr, "percent", &okp), avg = jnum(pr, "average_seconds_per_unit", &oka),
               eta = jnum(pr, "estimated_remaining_seconds", &oke);
        int n = snprintf(b1, sizeof b1, "%.0f of %.0f %s", done, total, unit);
        if (okp && n > 0 && (size_t)n < sizeof b1)
            n += snprintf(b1 + n, sizeof b1 - (size_t)n, " (%.1f%%)", pct);
        if (oka && n > 0 && (size_t)n < sizeof b1) {
            fmt_dur(avg, 1, b2, sizeof b2);
            const char *one = strcmp(unit, "sites") == 0     ? "site"
                              : strcmp(unit, "batches") == 0 ? "batch"
                                                             : unit;
            n += snprintf(b1 + n, sizeof b1 - (size_t)n, ", %s per %s", b2, one);
        }
        if (oke && n > 0 && (size_t)n < sizeof b1) {
            fmt_dur(eta, 1, b2, sizeof b2);
            snprintf(b1 + n, sizeof b1 - (size_t)n, ", about %s left", b2);
        }
        if (!okd || !okt)
            snprintf(b1, sizeof b1, "-");
        kv_line("Progress", b1);
    }
    json_t *batch = json_object_get(r, "batch");
    if (json_is_object(batch)) {
        char c[32], t[32];
        fmt_int(batch, "current", c, sizeof c);
        fmt_int(batch, "total", t, sizeof t);
        snprintf(b1, sizeof b1, "%s of %s", c, t);
        kv_line("Batch", b1);
    }
    if (jstr(r, "paused_at") || json_is_true(json_object_get(r, "paused"))) {
        char pa[64], ra[64];
        fmt_time(jstr(r, "paused_at"), pa, sizeof pa);
        fmt_time(jstr(r, "resumed_at"), ra, sizeof ra);
        snprintf(b1, sizeof b1, "%s (paused %s, resumed %s)",
                 json_is_true(json_object_get(r, "paused")) ? "yes" : "no", pa, ra);
        kv_line("Paused", b1);
    }
    if (!(s1 = fmt_kv(json_object_get(r, "counters"), 0)) ||
        !(s2 = fmt_kv(json_object_get(r, "start_counts"), 0)) ||
        !(s3 = fmt_kv(json_object_get(r, "end_counts"), 0)))
        goto oom;
    kv_line("Counters", s1);
    kv_line("Start counts", s2);
    kv_line("End counts", s3);
    int okm, okc;
    double mem = jnum(r, "memory_percent", &okm), cpu = jnum(r, "cpu_percent", &okc);
    if (okm || okc) {
        snprintf(b1, sizeof b1, "memory %.1f%%, cpu %.1f%%", mem, cpu);
        kv_line("Resources", b1);
    }
    json_t *params = json_object_get(r, "params");
    if (json_is_object(params)) {
        free(s1);
        if (!(s1 = fmt_kv(params, 0)))
            goto oom;
        kv_line("Params", s1);
    }
    if (jstr(r, "error_message"))
        kv_line("Error", jstr(r, "error_message"));
    json_t *ed = json_object_get(r, "error_details");
    if (json_is_object(ed)) {
        free(s1);
        if (!(s1 = json_dumps(ed, JSON_COMPACT)))
            goto oom;
        kv_line("Error details", s1);
    }
    json_t *prod = json_object_get(r, "producer");
    if (json_is_object(prod)) {
        char pid[32];
        fmt_int(prod, "pid", pid, sizeof pid);
        snprintf(b1, sizeof b1, "host %s, pid %s, libruntrack %s",
                 jstr(prod, "host") ? jstr(prod, "host") : "-", pid,
                 jstr(prod, "lib") ? jstr(prod, "lib") : "-");
        kv_line("Producer", b1);
    }
    json_t *dl = json_object_get(r, "dropped_logs");
    if (json_is_integer(dl) && json_integer_value(dl) > 0) {
        snprintf(b1, sizeof b1, "%" JSON_INTEGER_FORMAT, json_integer_value(dl));
        kv_line("Dropped logs", b1);
    }
    json_t *logs = json_object_get(r, "logs");
    if (json_is_array(logs) && json_array_size(logs) > 0) {
        printf("\nNewest log lines:\n");
        size_t i;
        json_t *l;
        json_array_foreach(logs, i, l) print_log_line(q, l);
    }
    goto out;
oom:
    cli_err("out of memory");
    rc = EX_SOFTWARE_;
out:
    free(s1);
    free(s2);
    free(s3);
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
        if (qs_add(path, sizeof path, "after_seq", a) || qs_add(path, sizeof path, "limit", lim) ||
            qs_add(path, sizeof path, "level", q->level) ||
            qs_add(path, sizeof path, "phase", q->phase)) {
            cli_err("logs: filter values too long");
            return EX_USAGE_;
        }
        json_t *page = NULL;
        int rc = api_get(q, path, what, &page, NULL);
        if (rc)
            return rc;
        json_t *logs = json_object_get(page, "logs");
        json_t *next = json_object_get(page, "next_after_seq");
        if (!json_is_array(logs) || !json_is_integer(next)) {
            json_decref(page);
            cli_err("bad answer from %s: no logs array / next_after_seq", q->api);
            return EX_DATAERR_;
        }
        size_t i, n = json_array_size(logs);
        json_t *l;
        json_array_foreach(logs, i, l)
        {
            if (q->json)
                rc = print_json(l);
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

/* Sleeps seconds, returning early on SIGINT. */
static void nap(int seconds)
{
    struct timespec ts = {seconds, 0};
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
    char path[256], what[128];
    snprintf(path, sizeof path, "/api/runs/%s?log_limit=0", argv[0]);
    snprintf(what, sizeof what, "no such run: %s", argv[0]);
    while (!g_interrupted) {
        json_t *run = NULL;
        if ((rc = api_get(q, path, what, &run, NULL)) != EX_OK_)
            break;
        const char *st = jstr(run, "status");
        int terminal = st && strcmp(st, "running") != 0;
        json_decref(run);
        if ((rc = logs_drain(q, argv[0], &after, &printed)) != EX_OK_ || terminal)
            break;
        nap(FOLLOW_POLL_SEC);
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
    if ((rc = api_get(q, path, NULL, &a, &raw)) != EX_OK_)
        goto out;
    if (q->json) {
        print_raw(raw);
        goto out;
    }
    json_t *ls = json_object_get(a, "last_success");
    if (!json_is_object(ls)) {
        char *p = printable(argv[0]);
        printf("%s: no successful run on record\n", p ? p : "?");
        free(p);
        goto out;
    }
    char b[256], c[64];
    int ok;
    kv_line("Job", argv[0]);
    fmt_time(jstr(a, "completed_at"), b, sizeof b);
    int64_t us;
    if (jstr(a, "completed_at") && rt_time_parse(jstr(a, "completed_at"), &us) == 0) {
        fmt_dur((double)(rt_now_us() - us) / 1e6, 1, c, sizeof c);
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, " (%s ago)", c);
    }
    kv_line("Completed", b);
    kv_line("Run", jstr(ls, "run_id"));
    fmt_time(jstr(ls, "started_at"), b, sizeof b);
    kv_line("Started", b);
    double elapsed_seconds_s = jnum(ls, "elapsed_seconds", &ok);
    fmt_dur(elapsed_seconds_s, ok, b, sizeof b);
    kv_line("Elapsed", b);
    char *kv = fmt_kv(json_object_get(ls, "counters"), 0);
    kv_line("Counters", kv ? kv : "?");
    free(kv);
    if (json_is_object(json_object_get(ls, "params"))) {
        kv = fmt_kv(json_object_get(ls, "params"), 0);
        kv_line("Params", kv ? kv : "?");
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
    const char *vals[10] = {wh, tot, co, pa, fa, ru, sta, sr, fr, jstr(w, "status")};
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
    if (qs_add(path, sizeof path, "window", q->window ? win : NULL) ||
        qs_add(path, sizeof path, "job", q->job) || qs_add(path, sizeof path, "kind", q->kind)) {
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
    int rc = api_get(q, path, NULL, &h, &raw);
    if (rc)
        goto out;
    if (q->json) {
        print_raw(raw);
        goto out;
    }
    char ts[64];
    fmt_time(jstr(h, "timestamp"), ts, sizeof ts);
    json_t *ov = json_object_get(h, "overall");
    printf("Health at %s: ", ts);
    put_cell(q, jstr(ov, "status") ? jstr(ov, "status") : "-", 0, 1);
    char lr[64];
    fmt_time(jstr(h, "last_run_at"), lr, sizeof lr);
    char r24[24];
    fmt_int(h, "runs_24h", r24, sizeof r24);
    printf("  (last run %s, %s runs in 24 h)\n\n", lr, r24);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(h, "windows"), i, v) if (add_window_row(&tw, v)) goto oom;
    table_print(q, &tw, "");
    json_array_foreach(json_object_get(h, "jobs"), i, v)
    {
        char last[64], succ[64], n24[24], f24[24], fr[16], iv[64];
        fmt_time(jstr(v, "last_run_at"), last, sizeof last);
        if (jstr(v, "last_success_at"))
            fmt_time(jstr(v, "last_success_at"), succ, sizeof succ);
        else
            snprintf(succ, sizeof succ, "never");
        fmt_int(v, "runs_24h", n24, sizeof n24);
        fmt_int(v, "failures_24h", f24, sizeof f24);
        fmt_pct(v, "freshness_rate", fr, sizeof fr);
        int ok;
        double sec = jnum(v, "expected_interval_seconds", &ok);
        fmt_dur(sec, ok, iv, sizeof iv);
        if (ok && jstr(v, "interval_source")) {
            size_t l = strlen(iv);
            snprintf(iv + l, sizeof iv - l, " (%s)", jstr(v, "interval_source"));
        }
        const char *vals[8] = {jstr(v, "job"), jstr(v, "status"), last, succ, n24, f24, fr, iv};
        if (table_add(&tj, vals))
            goto oom;
    }
    if (tj.nrows) {
        putchar('\n');
        table_print(q, &tj, "");
    }
    json_array_foreach(json_object_get(h, "alerts"), i, v)
    {
        const char *vals[4] = {jstr(v, "severity"), jstr(v, "code"), jstr(v, "job"),
                               jstr(v, "message")};
        if (table_add(&ta, vals))
            goto oom;
    }
    putchar('\n');
    if (ta.nrows)
        table_print(q, &ta, "");
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

/* ------------------------------------------------------------------------ dispatch */

typedef int (*qcmd_fn)(q_t *q, int argc, char **argv);

typedef struct qcommand {
    const char *name;
    const char *allowed; /* option letters besides the common ones */
    qcmd_fn fn;
    const char *synopsis;
    const char *help;
} qcommand_t;

static const qcommand_t qcommands[] = {
    {"runs", "SjkPnA", cmd_runs,
     "runs [--status S] [--job J] [--kind K] [--phase P] [--limit N | --all]",
     "Lists runs, newest first.\n"
     "  --status S   running, completed, failed, partial or stale\n"
     "  --job J, --kind K, --phase P   exact matches\n"
     "  --limit N    at most N runs (default 50); --all: every matching run\n"
     "STATUS shows 'stale' for a running run without events for the API's stale time and\n"
     "'paused' for a paused one.\n"},
    {"show", "n", cmd_show, "show RUN [--limit N]",
     "Everything about one run: timing, progress and ETA, counters, pause state, error, and\n"
     "its newest log lines.\n"
     "  --limit N    newest log lines to include (default 10, 0..1000)\n"},
    {"logs", "lfP", cmd_logs, "logs RUN [--level L] [--phase P] [--follow]",
     "Prints a run's log lines in order (with --json: one JSON object per line).\n"
     "  --level L    info, success, warning or error\n"
     "  --follow     keep polling every second for new lines until the run finishes (or\n"
     "               Ctrl-C, which exits 0)\n"},
    {"last-success", "", cmd_last_success, "last-success JOB",
     "The newest completed run of JOB and when it completed (for incremental fetching);\n"
     "says so, and exits 0, when there has never been one.\n"},
    {"health", "wjk", cmd_health, "health [--window H] [--job J] [--kind K]",
     "The health report: per time window (default 12, 24, 48 and 72 h) the run outcomes,\n"
     "success rate, freshness and status (healthy / warning / critical), per job, and alerts.\n"
     "  --window H   one window of H hours\n"},
};

#define QUERY_HELP                                                                                 \
    "Query options:\n"                                                                             \
    "  --api URL         the runtrack API (default $RUNTRACK_API or " DEFAULT_API ")\n"            \
    "  --json            print the API's JSON instead of a table\n"                                \
    "  --timeout SEC     HTTP timeout (default 10)\n"                                              \
    "  -h, --help        this help\n"                                                              \
    "$RUNTRACK_API_TOKEN is sent as a bearer token when set. Times are shown in the local zone\n"  \
    "(TZ). Exit codes: 0 ok, 64 usage or a parameter the API refused, 65 malformed run id or a\n"  \
    "bad answer, 66 no such run, 69 API unreachable or unavailable (503), 77 token refused.\n"

static const struct option qlong[] = {
    {"api", required_argument, NULL, 'a'},     {"json", no_argument, NULL, 'J'},
    {"timeout", required_argument, NULL, 'T'}, {"status", required_argument, NULL, 'S'},
    {"job", required_argument, NULL, 'j'},     {"kind", required_argument, NULL, 'k'},
    {"phase", required_argument, NULL, 'P'},   {"limit", required_argument, NULL, 'n'},
    {"all", no_argument, NULL, 'A'},           {"level", required_argument, NULL, 'l'},
    {"follow", no_argument, NULL, 'f'},        {"window", required_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
};

static const qcommand_t *find_qcommand(const char *name)
{
    for (size_t i = 0; i < sizeof qcommands / sizeof qcommands[0]; i++)
        if (strcmp(qcommands[i].name, name) == 0)
            return &qcommands[i];
    return NULL;
}

int cli_query_is_command(const char *name)
{
    return find_qcommand(name) != NULL;
}

void cli_query_synopses(FILE *f)
{
    for (size_t i = 0; i < sizeof qcommands / sizeof qcommands[0]; i++)
        fprintf(f, "  %s\n", qcommands[i].synopsis);
}

int cli_query_help(const char *name)
{
    const qcommand_t *c = find_qcommand(name);
    if (!c)
        return -1;
    printf("usage: runtrack %s\n\n%s\n" QUERY_HELP, c->synopsis, c->help);
    return 0;
}

/* strtol with checks: a whole number in [lo, hi]. */
static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || errno != 0 || *end != '\0' || v < lo || v > hi) {
        cli_err("--%s \"%s\": expected a whole number %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_query_main(int argc, char **argv)
{
    const qcommand_t *cmd = find_qcommand(argv[0]);
    if (!cmd) {
        cli_err("unknown command \"%s\"", argv[0]);
        return EX_USAGE_;
    }
    q_t q;
    memset(&q, 0, sizeof q);
    q.timeout_ms = 10000;
    q.token = getenv("RUNTRACK_API_TOKEN");
    const char *api = getenv("RUNTRACK_API");
    if (!api || !*api)
        api = DEFAULT_API;

    optind = 0; /* full re-initialisation (GNU) */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", qlong, NULL)) != -1) {
        if (cli_check_opt(cmd->name, c, "aJTh", cmd->allowed, qlong, argv) != 0)
            return EX_USAGE_;
        switch (c) {
        case 'h':
            cli_query_help(cmd->name);
            return EX_OK_;
        case 'a':
            api = optarg;
            break;
        case 'J':
            q.json = 1;
            break;
        case 'T': {
            /* Seconds, decimals allowed, like the other subcommands' --timeout. */
            double sec;
            if (cli_parse_double(optarg, 0.001, 3600, &sec) != 0) {
                cli_err("--timeout \"%s\": expected seconds 0.001..3600", optarg);
                return EX_USAGE_;
            }
            q.timeout_ms = (long)(sec * 1000.0);
            break;
        }
        case 'S':
            q.status = optarg;
            break;
        case 'j':
            q.job = optarg;
            break;
        case 'k':
            q.kind = optarg;
            break;
        case 'P':
            q.phase = optarg;
            break;
        case 'n':
            if (parse_long("limit", optarg, strcmp(cmd->name, "show") == 0 ? 0 : 1,
                           strcmp(cmd->name, "show") == 0 ? 1000 : 1000000, &q.limit))
                return EX_USAGE_;
            if (q.limit == 0)
                q.limit = -1; /* show --limit 0: no log lines (0 means "default") */
            break;
        case 'A':
            q.all = 1;
            break;
        case 'l':
            q.level = optarg;
            break;
        case 'f':
            q.follow = 1;
            break;
        case 'w':
            if (parse_long("window", optarg, 1, 8784, &q.window))
                return EX_USAGE_;
            break;
        default:
            cli_err("internal: unhandled option");
            return EX_SOFTWARE_;
        }
    }
    size_t alen = strlen(api);
    while (alen > 0 && api[alen - 1] == '/')
        alen--;
    if (alen == 0 || alen >= sizeof q.api_buf) {
        cli_err("bad API URL \"%s\" (set --api or RUNTRACK_API)", api);
        return EX_USAGE_;
    }
    memcpy(q.api_buf, api, alen);
    q.api_buf[alen] = '\0';
    q.api = q.api_buf;
    const char *term = getenv("TERM"), *nc = getenv("NO_COLOR");
    q.color = isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

    if (rt_http_global_init() != 0) {
        cli_err("cannot initialise the HTTP client");
        return EX_SOFTWARE_;
    }
    int rc = cmd->fn(&q, argc - optind, argv + optind);
    rt_http_global_cleanup();
    if (fflush(stdout) != 0 && rc == EX_OK_) {
        cli_err("cannot write the output: %s", strerror(errno));
        rc = EX_IOERR_;
    }
    return rc;
}
