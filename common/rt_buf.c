/* The one growable buffer (rt_buf.h). */
#include "rt_buf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_event.h"

void rt_buf_free(rt_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void rt_buf_reset(rt_buf_t *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

int rt_buf_reserve(rt_buf_t *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return -1;
    }
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void rt_buf_add(rt_buf_t *b, const void *s, size_t n)
{
    if (rt_buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rt_buf_adds(rt_buf_t *b, const char *s)
{
    rt_buf_add(b, s, strlen(s));
}

void rt_buf_addc(rt_buf_t *b, char c)
{
    rt_buf_add(b, &c, 1);
}

void rt_buf_add_i64(rt_buf_t *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    if (n > 0)
        rt_buf_add(b, tmp, (size_t)n);
}

void rt_buf_addf(rt_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (rt_buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rt_buf_add_jstr(rt_buf_t *b, const char *s, size_t n)
{
    /* Worst case per input byte: "\u00XX" (6 bytes) or U+FFFD (3 bytes); plus two quotes. */
    if (n > (SIZE_MAX - 3) / 6) {
        b->oom = 1;
        return;
    }
    if (rt_buf_reserve(b, n * 6 + 2) != 0)
        return;
    b->len += rt_json_escape(s, n, b->data + b->len, b->cap - b->len);
}

char *rt_buf_take(rt_buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}

void *rt_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first)
{
    if (n < *cap)
        return arr;
    if (*cap > SIZE_MAX / 2)
        return NULL;
    size_t nc = *cap ? *cap * 2 : first;
    if (nc > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, nc * elem);
    if (p)
        *cap = nc;
    return p;
}
