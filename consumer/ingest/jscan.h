/* A JSON scanner for the consumer's hot path: one pass over a record that checks it exactly as
 * jansson's json_loadb(JSON_REJECT_DUPLICATES) would (same accepted inputs, same split between
 * syntax errors and numbers out of range, first error in document order) and produces a flat
 * array of tokens pointing into the input instead of a tree of allocations. docs/decisions.md
 * ("Event decoder") says why it exists; tests/test_decode_diff.c and tests/fuzz/fuzz_decode.c
 * hold it to jansson's verdicts. No global state. */
#ifndef RT_CONSUMER_JSCAN_H
#define RT_CONSUMER_JSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum rt_jt {
    RT_JT_OBJECT = 1,
    RT_JT_ARRAY,
    RT_JT_STRING,
    RT_JT_INTEGER,
    RT_JT_REAL,
    RT_JT_TRUE,
    RT_JT_FALSE,
    RT_JT_NULL
} rt_jt_t;

/* One value (or object key). Objects are laid out as: the object, then key, value subtree, key,
 * value subtree...; arrays as the array then each element's subtree. skip = index just past the
 * token's subtree, so the next member's key of an object is tok[value].skip. */
typedef struct rt_jtok {
    uint8_t type;   /* rt_jt_t */
    uint8_t esc;    /* string: contains backslash escapes (the body is not the value) */
    uint8_t odd;    /* real: text PostgreSQL's numeric might refuse (huge exponent/length) */
    uint32_t start; /* string: first byte after the quote; others: first byte */
    uint32_t end;   /* string: the closing quote; others: one past the last byte */
    uint32_t skip;
    uint32_t n;     /* string: bytes of the unescaped value; object/array: members/elements */
    uint32_t chars; /* string: characters (UTF-8 code points) of the value */
    union {
        int64_t i;  /* integer */
        double d;   /* real */
        uint64_t h; /* string: hash of the unescaped value (duplicate keys) */
    } v;
} rt_jtok_t;

typedef enum rt_jscan_err {
    RT_JSCAN_OK = 0,
    RT_JSCAN_SYNTAX,   /* not JSON as jansson reads it (incl. duplicate keys, \u0000, depth) */
    RT_JSCAN_OVERFLOW, /* a number too large for int64/double (jansson: numeric overflow) */
    RT_JSCAN_NOMEM
} rt_jscan_err_t;

typedef struct rt_jscan {
    const unsigned char *p;
    size_t len;
    rt_jtok_t *tok;
    size_t ntok, cap;
    rt_jtok_t *inline_tok; /* caller's storage used first; heap growth beyond it */
    rt_jscan_err_t err;
    size_t err_pos; /* byte offset of the token that failed */
    char msg[96];
} rt_jscan_t;

/* Scans buf[0..len) into tokens (tok[0] is the root). Storage: inline[0..ninline) first, then
 * the heap (release with rt_jscan_free). Returns 0, or -1 with s->err/err_pos/msg set. Inputs
 * larger than 4 GiB are refused. */
int rt_jscan(rt_jscan_t *s, const void *buf, size_t len, rt_jtok_t *inline_tok, size_t ninline);
void rt_jscan_free(rt_jscan_t *s);

/* Index of the value of member name in object obj, or 0 when absent (0 is the root, never a
 * member). */
size_t rt_jscan_get(const rt_jscan_t *s, size_t obj, const char *name);

/* Writes the unescaped value of string token t to out (NUL-terminated, truncated to size-1
 * bytes). Returns the full unescaped length. */
size_t rt_jscan_string(const rt_jscan_t *s, size_t t, char *out, size_t size);

/* 1 when string token t's unescaped value equals the NUL-terminated lit. */
int rt_jscan_streq(const rt_jscan_t *s, size_t t, const char *lit);

/* 1 when tokens t..t.skip contain a real marked odd. */
int rt_jscan_has_odd(const rt_jscan_t *s, size_t t);

#endif
