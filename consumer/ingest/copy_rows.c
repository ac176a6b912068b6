#include "copy_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_time.h"

void rt_copy_text(rt_buf_t *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            break;
        }
        if (esc) {
            rt_buf_add(b, s + start, i - start);
            rt_buf_adds(b, esc);
            start = i + 1;
        }
    }
    rt_buf_add(b, s + start, n - start);
}

/* Text that must be valid UTF-8 (details quote cut-off event text): invalid bytes become '?'. */
static void copy_text_utf8(rt_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    char *t = malloc(n + 1);
    if (!t) {
        b->oom = 1;
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = u[i] < 0x80         ? 1
                     : (u[i] >> 5) == 6  ? 2
                     : (u[i] >> 4) == 14 ? 3
                     : (u[i] >> 3) == 30 ? 4
                                         : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (ok && len == 1 && u[i] == 0)
            ok = 0;
        if (ok) {
            memcpy(t + i, s + i, len);
            i += len;
        } else {
            t[i++] = '?';
        }
    }
    t[n] = '\0';
    rt_copy_text(b, t, n);
    free(t);
}

void rt_copy_null(rt_buf_t *b)
{
    rt_buf_adds(b, "\\N");
}

/* bytea in COPY text: "\x" + hex, with the backslash itself escaped for COPY. */
static void copy_bytea(rt_buf_t *b, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = p;
    char chunk[512];
    size_t o = 0;
    rt_buf_adds(b, "\\\\x");
    for (size_t i = 0; i < n; i++) {
        chunk[o++] = hex[u[i] >> 4];
        chunk[o++] = hex[u[i] & 15];
        if (o == sizeof chunk) {
            rt_buf_add(b, chunk, o);
            o = 0;
        }
    }
    rt_buf_add(b, chunk, o);
}

void rt_copy_dead_row(rt_buf_t *b, const char *topic, int32_t partition, int64_t offset,
                      const void *key, size_t key_len, const void *payload, size_t len,
                      int64_t kafka_ts_ms, rt_dead_reason_t why, const char *detail)
{
    char num[64];
    copy_text_utf8(b, topic);
    snprintf(num, sizeof num, "\t%d\t%lld\t", (int)partition, (long long)offset);
    rt_buf_adds(b, num);
    if (key)
        copy_bytea(b, key, key_len);
    else
        rt_copy_null(b);
    rt_buf_adds(b, "\t");
    if (payload)
        copy_bytea(b, payload, len);
    else
        rt_copy_null(b);
    snprintf(num, sizeof num, "\t%zu\t%s\t", len, rt_dead_reason_name(why));
    rt_buf_adds(b, num);
    copy_text_utf8(b, detail);
    rt_buf_adds(b, "\t");
    char ts[RT_TIME_STRLEN];
    /* Any int64 a producer set: beyond microseconds' range (or year 9999) it is stored as NULL,
     * never as text PostgreSQL would refuse for the whole batch. */
    if (kafka_ts_ms >= 0 && kafka_ts_ms <= INT64_MAX / 1000 &&
        rt_time_format(kafka_ts_ms * 1000, ts, sizeof ts))
        rt_buf_adds(b, ts);
    else
        rt_copy_null(b);
    rt_buf_adds(b, "\n");
}

void rt_copy_log_row(rt_buf_t *b, const rt_event_t *ev)
{
    char num[32];
    rt_buf_adds(b, ev->run_id);
    snprintf(num, sizeof num, "\t%lld\t", (long long)ev->seq);
    rt_buf_adds(b, num);
    rt_buf_adds(b, ev->ts);
    rt_buf_adds(b, "\t");
    rt_buf_adds(b, rt_log_level_name(ev->level));
    rt_buf_adds(b, "\t");
    if (ev->phase)
        rt_copy_text(b, ev->phase, strlen(ev->phase));
    else
        rt_copy_null(b);
    rt_buf_adds(b, "\t");
    rt_copy_text(b, ev->message, ev->message_len);
    rt_buf_adds(b, "\t");
    /* The record's own text of the object: jsonb parses it (COPY escapes its whitespace). */
    if (ev->fields.p)
        rt_copy_text(b, ev->fields.p, ev->fields.n);
    else
        rt_copy_null(b);
    rt_buf_adds(b, "\t");
    rt_buf_adds(b, ev->event_id);
    rt_buf_adds(b, "\n");
}
