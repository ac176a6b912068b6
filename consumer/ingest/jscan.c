#include "jscan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH: every value (scalars too) counts one level. */
#define MAX_DEPTH 2048

enum { TK_EOF = 0, TK_INVALID = -1, TK_STRING = 256, TK_INTEGER, TK_REAL, TK_TRUE, TK_FALSE,
       TK_NULL };

typedef struct lex {
    rt_jscan_t *s;
    size_t pos;
    size_t depth;
    int tk;
    rt_jtok_t cur; /* the current token's fields, pushed when the parser accepts it */
} lex_t;

__attribute__((format(printf, 4, 5))) static void set_err(rt_jscan_t *s, rt_jscan_err_t e,
                                                          size_t pos, const char *fmt, ...)
{
    va_list ap;
    if (s->err != RT_JSCAN_OK)
        return; /* the first error wins, as in jansson */
    s->err = e;
    s->err_pos = pos;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at p[i] (2..4), or 0 — jansson's utf8_check_first/full:
 * no overlongs, no surrogates, nothing above U+10FFFF, no truncation. */
static size_t utf8_seq(const unsigned char *p, size_t len, size_t i)
{
    unsigned c = p[i];
    size_t n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > len)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[i + k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i + k] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || (v >= 0xD800 && v <= 0xDFFF) ||
        v > 0x10FFFF)
        return 0;
    return n;
}

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

/* Four hex digits at p[i..i+4) as a code unit, or -1. */
static int32_t hex4(const unsigned char *p, size_t len, size_t i)
{
    int32_t v = 0;
    if (i + 4 > len)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(p[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8_len_of(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* A string token starting at the quote p[pos]. */
static void lex_string(lex_t *L)
{
    rt_jscan_t *s = L->s;
    const unsigned char *p = s->p;
    size_t len = s->len, i = L->pos + 1, n = 0, chars = 0;
    int esc = 0;
    L->tk = TK_INVALID;
    for (;;) {
        /* Fast path: plain ASCII. */
        while (i < len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
            i++;
            n++;
            chars++;
        }
        if (i >= len) {
            set_err(s, RT_JSCAN_SYNTAX, L->pos, "premature end of input in a string");
            return;
        }
        unsigned c = p[i];
        if (c == '"')
            break;
        if (c < 0x20) {
            set_err(s, RT_JSCAN_SYNTAX, L->pos, "control character 0x%x in a string", c);
            return;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(p, len, i);
            if (!k) {
                set_err(s, RT_JSCAN_SYNTAX, L->pos, "invalid UTF-8 byte 0x%x", c);
                return;
            }
            i += k;
            n += k;
            chars++;
            continue;
        }
        /* backslash */
        esc = 1;
        if (i + 1 >= len) {
            set_err(s, RT_JSCAN_SYNTAX, L->pos, "premature end of input in a string");
            return;
        }
        unsigned e = p[i + 1];
        if (e == 'u') {
            int32_t v = hex4(p, len, i + 2);
            if (v < 0) {
                set_err(s, RT_JSCAN_SYNTAX, L->pos, "invalid escape");
                return;
            }
            i += 6;
            if (v >= 0xD800 && v <= 0xDBFF) {
                int32_t v2 = (i + 1 < len && p[i] == '\\' && p[i + 1] == 'u')
                                 ? hex4(p, len, i + 2)
                                 : -1;
                if (v2 < 0xDC00 || v2 > 0xDFFF) {
                    set_err(s, RT_JSCAN_SYNTAX, L->pos, "invalid Unicode surrogate");
                    return;
                }
                i += 6;
                v = ((v - 0xD800) << 10) + (v2 - 0xDC00) + 0x10000;
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                set_err(s, RT_JSCAN_SYNTAX, L->pos, "invalid Unicode surrogate");
                return;
            } else if (v == 0) {
                /* jansson without JSON_ALLOW_NUL; PostgreSQL text cannot hold it either. */
                set_err(s, RT_JSCAN_SYNTAX, L->pos, "\\u0000 is not allowed");
                return;
            }
            n += utf8_len_of((uint32_t)v);
            chars++;
            continue;
        }
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
            e == 't') {
            i += 2;
            n++;
            chars++;
            continue;
        }
        set_err(s, RT_JSCAN_SYNTAX, L->pos, "invalid escape");
        return;
    }
    memset(&L->cur, 0, sizeof L->cur);
    L->cur.type = RT_JT_STRING;
    L->cur.esc = (uint8_t)esc;
    L->cur.start = (uint32_t)(L->pos + 1);
    L->cur.end = (uint32_t)i;
    L->cur.n = (uint32_t)n;
    L->cur.chars = (uint32_t)chars;
    L->tk = TK_STRING;
    L->pos = i + 1;
}

static int is_digit(const unsigned char *p, size_t len, size_t i)
{
    return i < len && p[i] >= '0' && p[i] <= '9';
}

/* A number at p[pos] ('-' or a digit), by jansson's grammar: integers must fit int64, reals
 * must not overflow a double; underflow is accepted. */
static void lex_number(lex_t *L)
{
    rt_jscan_t *s = L->s;
    const unsigned char *p = s->p;
    size_t len = s->len, i = L->pos;
    int real = 0;
    long expo = 0;
    L->tk = TK_INVALID;
    if (p[i] == '-')
        i++;
    if (i < len && p[i] == '0') {
        i++;
        if (is_digit(p, len, i))
            return;
    } else if (is_digit(p, len, i)) {
        while (is_digit(p, len, i))
            i++;
    } else {
        return;
    }
    if (i < len && p[i] == '.') {
        i++;
        if (!is_digit(p, len, i))
            return;
        while (is_digit(p, len, i))
            i++;
        real = 1;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        if (!is_digit(p, len, i))
            return;
        while (is_digit(p, len, i)) {
            if (expo < 100000)
                expo = expo * 10 + (p[i] - '0');
            i++;
        }
        if (eneg)
            expo = -expo;
        real = 1;
    }
    /* jansson reads the byte after the number before converting it: a broken UTF-8 sequence
     * there is reported first. */
    if (i < len && p[i] >= 0x80 && !utf8_seq(p, len, i)) {
        set_err(s, RT_JSCAN_SYNTAX, i, "invalid UTF-8 byte 0x%x", p[i]);
        return;
    }
    memset(&L->cur, 0, sizeof L->cur);
    L->cur.start = (uint32_t)L->pos;
    L->cur.end = (uint32_t)i;
    if (!real) {
        /* Accumulate negatively so that INT64_MIN fits. */
        int64_t v = 0;
        size_t k = L->pos + (p[L->pos] == '-');
        for (; k < i; k++) {
            int d = p[k] - '0';
            if (v < (INT64_MIN + d) / 10) {
                set_err(s, RT_JSCAN_OVERFLOW, L->pos, "integer out of range");
                return;
            }
            v = v * 10 - d;
        }
        if (p[L->pos] != '-') {
            if (v == INT64_MIN) {
                set_err(s, RT_JSCAN_OVERFLOW, L->pos, "integer out of range");
                return;
            }
            v = -v;
        }
        L->cur.type = RT_JT_INTEGER;
        L->cur.v.i = v;
    } else {
        char small[128], *t = small;
        size_t tl = i - L->pos;
        if (tl >= sizeof small && !(t = malloc(tl + 1))) {
            set_err(s, RT_JSCAN_NOMEM, L->pos, "out of memory");
            return;
        }
        memcpy(t, p + L->pos, tl);
        t[tl] = '\0';
        errno = 0;
        double d = strtod(t, NULL);
        int over = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
        if (t != small)
            free(t);
        if (over) {
            set_err(s, RT_JSCAN_OVERFLOW, L->pos, "real number out of range");
            return;
        }
        L->cur.type = RT_JT_REAL;
        L->cur.v.d = d;
        /* numeric accepts exponents within +-1000 and a bounded scale: keep raw text only when
         * clearly inside (decode.c re-encodes the rest as jansson would have). */
        L->cur.odd = tl > 64 || expo > 300 || expo < -300;
    }
    L->tk = real ? TK_REAL : TK_INTEGER;
    L->pos = i;
}

static int lex(lex_t *L)
{
    rt_jscan_t *s = L->s;
    const unsigned char *p = s->p;
    while (L->pos < s->len &&
           (p[L->pos] == ' ' || p[L->pos] == '\t' || p[L->pos] == '\n' || p[L->pos] == '\r'))
        L->pos++;
    if (L->pos >= s->len)
        return L->tk = TK_EOF;
    unsigned c = p[L->pos];
    switch (c) {
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
        memset(&L->cur, 0, sizeof L->cur);
        L->cur.start = (uint32_t)L->pos;
        L->pos++;
        return L->tk = (int)c;
    case '"':
        lex_string(L);
        return L->tk;
    default:
        break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        lex_number(L);
        return L->tk;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        size_t i = L->pos;
        while (i < s->len && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')))
            i++;
        size_t n = i - L->pos;
        int tk = TK_INVALID;
        if (n == 4 && !memcmp(p + L->pos, "true", 4))
            tk = TK_TRUE;
        else if (n == 5 && !memcmp(p + L->pos, "false", 5))
            tk = TK_FALSE;
        else if (n == 4 && !memcmp(p + L->pos, "null", 4))
            tk = TK_NULL;
        /* jansson reads one byte past the identifier: a broken UTF-8 sequence there is an
         * error too (only ever a syntax error, whichever comes first). */
        memset(&L->cur, 0, sizeof L->cur);
        L->cur.start = (uint32_t)L->pos;
        L->cur.end = (uint32_t)i;
        L->cur.type = tk == TK_TRUE ? RT_JT_TRUE : tk == TK_FALSE ? RT_JT_FALSE : RT_JT_NULL;
        if (tk != TK_INVALID)
            L->pos = i;
        return L->tk = tk;
    }
    /* A raw NUL is never JSON. (jansson skips one right after a number or literal: its stream
     * takes NUL for "buffer empty"; we do not copy that.) */
    if (c == 0)
        set_err(s, RT_JSCAN_SYNTAX, L->pos, "NUL byte");
    else if (c >= 0x80 && !utf8_seq(p, s->len, L->pos))
        set_err(s, RT_JSCAN_SYNTAX, L->pos, "invalid UTF-8 byte 0x%x", c);
    return L->tk = TK_INVALID;
}

static int push(lex_t *L)
{
    rt_jscan_t *s = L->s;
    if (s->ntok == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        rt_jtok_t *nt;
        if (s->tok == s->inline_tok) {
            nt = malloc(nc * sizeof *nt);
            if (nt && s->ntok)
                memcpy(nt, s->tok, s->ntok * sizeof *nt);
        } else {
            nt = realloc(s->tok, nc * sizeof *nt);
        }
        if (!nt) {
            set_err(s, RT_JSCAN_NOMEM, L->pos, "out of memory");
            return -1;
        }
        s->tok = nt;
        s->cap = nc;
    }
    s->tok[s->ntok] = L->cur;
    s->tok[s->ntok].skip = (uint32_t)(s->ntok + 1);
    s->ntok++;
    return 0;
}

static int parse_value(lex_t *L);

static void syntax(lex_t *L, const char *what)
{
    set_err(L->s, RT_JSCAN_SYNTAX, L->cur.start ? L->cur.start : L->pos, "%s", what);
}

static int parse_object(lex_t *L)
{
    rt_jscan_t *s = L->s;
    size_t o = s->ntok;
    uint32_t members = 0;
    int rc = -1;
    L->cur.type = RT_JT_OBJECT;
    if (push(L))
        return -1;
    lex(L);
    if (L->tk != '}') {
        for (;;) {
            if (L->tk != TK_STRING) {
                syntax(L, "string or '}' expected");
                goto out;
            }
            if (push(L))
                goto out;
            lex(L);
            if (L->tk != ':') {
                syntax(L, "':' expected");
                goto out;
            }
            lex(L);
            if (parse_value(L))
                goto out;
            members++;
            lex(L);
            if (L->tk != ',')
                break;
            lex(L);
        }
        if (L->tk != '}') {
            syntax(L, "'}' expected");
            goto out;
        }
    }
    s->tok[o].end = (uint32_t)L->pos;
    rc = 0;
out:
    s->tok[o].n = members;
    s->tok[o].skip = (uint32_t)s->ntok;
    return rc;
}

static int parse_array(lex_t *L)
{
    rt_jscan_t *s = L->s;
    size_t a = s->ntok;
    uint32_t elems = 0;
    int rc = -1;
    L->cur.type = RT_JT_ARRAY;
    if (push(L))
        return -1;
    lex(L);
    if (L->tk != ']') {
        while (L->tk != TK_EOF) {
            if (parse_value(L))
                goto out;
            elems++;
            lex(L);
            if (L->tk != ',')
                break;
            lex(L);
        }
        if (L->tk != ']') {
            syntax(L, "']' expected");
            goto out;
        }
    }
    s->tok[a].end = (uint32_t)L->pos;
    rc = 0;
out:
    s->tok[a].n = elems;
    s->tok[a].skip = (uint32_t)s->ntok;
    return rc;
}

static int parse_value(lex_t *L)
{
    if (++L->depth > MAX_DEPTH) {
        syntax(L, "maximum parsing depth reached");
        return -1;
    }
    int rc;
    switch (L->tk) {
    case TK_STRING:
    case TK_INTEGER:
    case TK_REAL:
    case TK_TRUE:
    case TK_FALSE:
    case TK_NULL:
        rc = push(L);
        break;
    case '{':
        rc = parse_object(L);
        break;
    case '[':
        rc = parse_array(L);
        break;
    case TK_INVALID:
        syntax(L, "invalid token");
        return -1;
    default:
        syntax(L, "unexpected token");
        return -1;
    }
    if (rc)
        return -1;
    L->depth--;
    return 0;
}

/* Writes the unescaped value of string token t to out (no NUL); out has room for t.n bytes. */
static void unescape(const rt_jscan_t *s, const rt_jtok_t *t, char *out)
{
    const unsigned char *p = s->p;
    size_t i = t->start, o = 0;
    if (!t->esc) {
        memcpy(out, p + i, t->end - i);
        return;
    }
    while (i < t->end) {
        if (p[i] != '\\') {
            out[o++] = (char)p[i++];
            continue;
        }
        unsigned e = p[i + 1];
        if (e != 'u') {
            out[o++] = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r'
                       : e == 't' ? '\t' : (char)e;
            i += 2;
            continue;
        }
        uint32_t v = (uint32_t)hex4(p, s->len, i + 2);
        i += 6;
        if (v >= 0xD800 && v <= 0xDBFF) {
            v = ((v - 0xD800) << 10) + ((uint32_t)hex4(p, s->len, i + 2) - 0xDC00) + 0x10000;
            i += 6;
        }
        if (v < 0x80) {
            out[o++] = (char)v;
        } else if (v < 0x800) {
            out[o++] = (char)(0xC0 | (v >> 6));
            out[o++] = (char)(0x80 | (v & 0x3F));
        } else if (v < 0x10000) {
            out[o++] = (char)(0xE0 | (v >> 12));
            out[o++] = (char)(0x80 | ((v >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (v & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (v >> 18));
            out[o++] = (char)(0x80 | ((v >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((v >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (v & 0x3F));
        }
    }
}

size_t rt_jscan_string(const rt_jscan_t *s, size_t t, char *out, size_t size)
{
    const rt_jtok_t *k = &s->tok[t];
    if (!size)
        return k->n;
    if (k->n < size) {
        unescape(s, k, out);
        out[k->n] = '\0';
        return k->n;
    }
    char *tmp = malloc(k->n ? k->n : 1);
    if (!tmp) {
        out[0] = '\0';
        return k->n;
    }
    unescape(s, k, tmp);
    memcpy(out, tmp, size - 1);
    out[size - 1] = '\0';
    free(tmp);
    return k->n;
}

/* 1 when two string tokens have the same value; -1 when out of memory. */
static int key_eq(const rt_jscan_t *s, const rt_jtok_t *a, const rt_jtok_t *b)
{
    if (a->n != b->n)
        return 0;
    if (!a->esc && !b->esc)
        return memcmp(s->p + a->start, s->p + b->start, a->n) == 0;
    char sa[256], sb[256], *ha = sa, *hb = sb;
    int eq = -1;
    if (a->n > sizeof sa && (!(ha = malloc(a->n)) || !(hb = malloc(b->n))))
        goto out;
    unescape(s, a, ha);
    unescape(s, b, hb);
    eq = memcmp(ha, hb, a->n) == 0;
out:
    if (ha != sa)
        free(ha);
    if (hb != sb)
        free(hb);
    return eq;
}

static uint64_t key_hash(const rt_jscan_t *s, const rt_jtok_t *t)
{
    uint64_t h = 1469598103934665603ULL;
    char small[256], *b = small;
    if (t->esc) {
        if (t->n > sizeof small && !(b = malloc(t->n)))
            return 0; /* everything collides: still correct, only slower */
        unescape(s, t, b);
    } else {
        b = (char *)(s->p + t->start);
    }
    for (size_t i = 0; i < t->n; i++)
        h = (h ^ (unsigned char)b[i]) * 1099511628211ULL;
    if (t->esc && b != small)
        free(b);
    return h;
}

typedef struct keyref {
    uint64_t h;
    uint32_t start;
    uint32_t idx;
} keyref_t;

static int keyref_cmp(const void *x, const void *y)
{
    const keyref_t *a = x, *b = y;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* Offset of the earliest key (in document order) that repeats an earlier key of its object —
 * where jansson's JSON_REJECT_DUPLICATES stops — or SIZE_MAX. -2 (as size_t) on OOM. */
static size_t first_duplicate(rt_jscan_t *s)
{
    size_t best = SIZE_MAX;
    keyref_t small[32], *refs = small;
    size_t cap = sizeof small / sizeof small[0];
    for (size_t o = 0; o < s->ntok; o++) {
        if (s->tok[o].type != RT_JT_OBJECT || s->tok[o].skip <= o + 2)
            continue;
        size_t m = 0;
        for (size_t k = o + 1; k < s->tok[o].skip;) {
            if (m == cap) {
                keyref_t *nr = refs == small ? malloc(cap * 2 * sizeof *nr)
                                             : realloc(refs, cap * 2 * sizeof *nr);
                if (!nr) {
                    best = (size_t)-2;
                    goto out;
                }
                if (refs == small)
                    memcpy(nr, small, sizeof small);
                refs = nr;
                cap *= 2;
            }
            refs[m].idx = (uint32_t)k;
            refs[m].start = s->tok[k].start;
            refs[m].h = 0;
            m++;
            if (k + 1 >= s->tok[o].skip)
                break;
            k = s->tok[k + 1].skip;
        }
        if (m < 2)
            continue;
        /* Pairwise is cheaper than hashing and sorting for the small objects events have. */
        if (m > 24) {
            for (size_t i = 0; i < m; i++)
                refs[i].h = key_hash(s, &s->tok[refs[i].idx]);
            qsort(refs, m, sizeof *refs, keyref_cmp);
        }
        /* Pairwise within runs of equal hash (the whole object when small); lengths first. */
        for (size_t j = 1; j < m; j++) {
            if (refs[j].start >= best)
                continue;
            for (size_t i = j; i-- > 0 && refs[i].h == refs[j].h;) {
                if (s->tok[refs[i].idx].n != s->tok[refs[j].idx].n)
                    continue;
                int eq = key_eq(s, &s->tok[refs[i].idx], &s->tok[refs[j].idx]);
                if (eq < 0) {
                    best = (size_t)-2;
                    goto out;
                }
                if (eq) {
                    size_t second = refs[i].start > refs[j].start ? refs[i].start : refs[j].start;
                    if (second < best)
                        best = second;
                    break;
                }
            }
        }
    }
out:
    if (refs != small)
        free(refs);
    return best;
}

int rt_jscan(rt_jscan_t *s, const void *buf, size_t len, rt_jtok_t *inline_tok, size_t ninline)
{
    lex_t L;
    memset(s, 0, sizeof *s);
    s->p = buf;
    s->len = len;
    s->tok = s->inline_tok = inline_tok;
    s->cap = inline_tok ? ninline : 0;
    if (len >= UINT32_MAX) {
        set_err(s, RT_JSCAN_SYNTAX, 0, "record too large");
        return -1;
    }
    memset(&L, 0, sizeof L);
    L.s = s;
    lex(&L);
    if (L.tk != '{' && L.tk != '[')
        syntax(&L, "'[' or '{' expected");
    else if (parse_value(&L) == 0 && lex(&L) != TK_EOF)
        syntax(&L, "end of file expected");
    if (s->err == RT_JSCAN_OK || s->err == RT_JSCAN_OVERFLOW) {
        size_t d = first_duplicate(s);
        if (d == (size_t)-2) {
            s->err = RT_JSCAN_OK;
            set_err(s, RT_JSCAN_NOMEM, 0, "out of memory");
        } else if (d != SIZE_MAX && (s->err == RT_JSCAN_OK || d < s->err_pos)) {
            s->err = RT_JSCAN_OK;
            set_err(s, RT_JSCAN_SYNTAX, d, "duplicate object key");
        }
    }
    return s->err == RT_JSCAN_OK ? 0 : -1;
}

void rt_jscan_free(rt_jscan_t *s)
{
    if (s->tok && s->tok != s->inline_tok)
        free(s->tok);
    s->tok = NULL;
    s->ntok = s->cap = 0;
}

/* string token k equals lit[0..n) */
static int lit_eq(const rt_jscan_t *s, const rt_jtok_t *k, const char *lit, size_t n)
{
    if (k->type != RT_JT_STRING || k->n != n)
        return 0;
    if (!k->esc)
        return memcmp(s->p + k->start, lit, n) == 0;
    char b[256];
    if (n >= sizeof b)
        return 0;
    unescape(s, k, b);
    return memcmp(b, lit, n) == 0;
}

int rt_jscan_streq(const rt_jscan_t *s, size_t t, const char *lit)
{
    return lit_eq(s, &s->tok[t], lit, strlen(lit));
}

size_t rt_jscan_get(const rt_jscan_t *s, size_t obj, const char *name)
{
    const rt_jtok_t *o = &s->tok[obj];
    size_t n = strlen(name);
    if (o->type != RT_JT_OBJECT)
        return 0;
    for (size_t k = obj + 1; k + 1 < o->skip; k = s->tok[k + 1].skip)
        if (lit_eq(s, &s->tok[k], name, n))
            return k + 1;
    return 0;
}

int rt_jscan_has_odd(const rt_jscan_t *s, size_t t)
{
    for (size_t i = t; i < s->tok[t].skip; i++)
        if (s->tok[i].odd)
            return 1;
    return 0;
}
