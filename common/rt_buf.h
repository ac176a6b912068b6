/* The growable byte buffer of runtrack: one type for the producer's encoder, the consumer's COPY
 * rows, the API's JSON and Prometheus text and the CLI's HTTP bodies.
 *
 * One owner. Zero-initialise (rt_buf_t b = {0}); free with rt_buf_free. After a failed
 * allocation `oom` is set and every later append is a no-op, so a caller builds a whole text and
 * checks oom once at the end. data is NUL-terminated whenever len > 0.
 *
 * rt_grow, below, is the same doubling growth for arrays of any item. */
#ifndef RT_BUF_H
#define RT_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "rt_attr.h"

typedef struct rt_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} rt_buf_t;

void rt_buf_free(rt_buf_t *b);
/* Empties b and clears oom, keeping its memory for the next text. */
void rt_buf_reset(rt_buf_t *b);
/* Makes room for extra more bytes plus a NUL. Returns 0, or -1 (and sets oom). */
int rt_buf_reserve(rt_buf_t *b, size_t extra);
void rt_buf_add(rt_buf_t *b, const void *s, size_t n);
void rt_buf_adds(rt_buf_t *b, const char *s);
void rt_buf_addc(rt_buf_t *b, char c);
void rt_buf_add_i64(rt_buf_t *b, int64_t v);
/* printf-style append. */
void rt_buf_addf(rt_buf_t *b, const char *fmt, ...) RT_PRINTF(2, 3);
/* A JSON string literal (quotes included) of s[0..n), escaped by rt_json_escape. */
void rt_buf_add_jstr(rt_buf_t *b, const char *s, size_t n);
/* Detaches the data (caller frees; NULL when nothing was added); b is empty afterwards. */
char *rt_buf_take(rt_buf_t *b, size_t *len);

/* The growth of the arrays that sit beside a count (records, positions, alerts, rows): makes
 * room for one more item of size elem in arr, which holds n of *cap. When full it reallocates arr
 * to twice *cap (first items when *cap is 0) and updates *cap. Returns the array to keep using
 * (arr itself when there was room), or NULL when memory or the size ran out: arr is then
 * unchanged and still the caller's. */
void *rt_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first) RT_MUSTCHECK;

#endif
