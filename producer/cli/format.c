/* Formatting of the API's JSON for people (format.h). */
#include "format.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_buf.h"
#include "rt_time.h"

/* Display width of UTF-8 text: one column per code point (good enough for names and logs). */
static size_t disp_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

char *fmt_printable(const char *s)
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

const char *fmt_jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

double fmt_jnum(json_t *o, const char *key, int *ok)
{
    json_t *v = json_object_get(o, key);
    *ok = json_is_number(v);
    return *ok ? json_number_value(v) : 0.0;
}

void fmt_time(const char *rfc, char *buf, size_t size)
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

void fmt_dur(double s, int ok, char *buf, size_t size)
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

void fmt_pct(json_t *o, const char *key, char *buf, size_t size)
{
    int ok;
    double v = fmt_jnum(o, key, &ok);
    if (ok)
        snprintf(buf, size, "%.1f%%", v);
    else
        snprintf(buf, size, "-");
}

void fmt_int(json_t *o, const char *key, char *buf, size_t size)
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

char *fmt_kv(json_t *obj, size_t max)
{
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return strdup("-");
    size_t nk = 0;
    const char **keys = calloc(json_object_size(obj), sizeof *keys);
    if (!keys)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) keys[nk++] = k;
    qsort(keys, nk, sizeof *keys, cmp_str);
    rt_buf_t b = {0};
    int failed = 0;
    for (size_t i = 0; i < nk && !failed; i++) {
        v = json_object_get(obj, keys[i]);
        char *dumped = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        const char *vs = json_is_string(v) ? json_string_value(v) : dumped;
        if (vs)
            rt_buf_addf(&b, "%s%s=%s", i ? " " : "", keys[i], vs);
        failed = !vs || b.oom;
        free(dumped);
    }
    free(keys);
    if (failed) {
        rt_buf_free(&b);
        return NULL;
    }
    size_t len;
    char *s = rt_buf_take(&b, &len);
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

void fmt_cell(int color, const char *text, size_t width, int colored)
{
    const char *c = color && colored ? status_color(text) : NULL;
    fputs(c ? c : "", stdout);
    fputs(text, stdout);
    fputs(c ? "\033[0m" : "", stdout);
    for (size_t w = disp_width(text); w < width; w++)
        putchar(' ');
}

/* ------------------------------------------------------------------------ tables */

void table_free(table_t *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

int table_add(table_t *t, const char *const *vals)
{
    char **p = rt_grow(t->cells, t->nrows, &t->cap, (size_t)t->ncols * sizeof *p, 16);
    if (!p)
        return -1;
    t->cells = p;
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        row[i] = fmt_printable(vals[i] ? vals[i] : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

void table_print(int color, const table_t *t, const char *indent)
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
        fmt_cell(color, t->head[c], last ? 0 : w[c] + 2, 0);
    }
    putchar('\n');
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent, stdout);
        for (int c = 0; c < t->ncols; c++) {
            int last = c == t->ncols - 1;
            fmt_cell(color, t->cells[r * (size_t)t->ncols + (size_t)c], last ? 0 : w[c] + 2,
                     c == t->color_col);
        }
        putchar('\n');
    }
}

void fmt_kv_line(const char *key, const char *val)
{
    char *p = fmt_printable(val ? val : "-");
    printf("%-14s%s\n", key, p ? p : "?");
    free(p);
}
