/* The tree-less decoder (consumer/ingest/decode.c + jscan.c) against the jansson decoder it replaced
 * (tests/decode_ref.c), on every example in schemas/examples/ (single events, each event of the
 * scenarios, the invalid ones) and on thousands of deterministic mutations of them plus a few
 * hand-made edge cases: same verdict, same dead-letter reason, same detail for rule-level
 * rejections, same fields (strings equal; object texts equal to jansson's values by
 * json_equal after loading them).
 *   test_decode_diff SOURCE_DIR [MUTATIONS] */
#include "ingest/decode.h"
#include "decode_ref.h"
#include "harness.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct corpus {
    char **rec;
    size_t *len;
    size_t n, cap;
} corpus_t;

static int add(corpus_t *c, const char *p, size_t n)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        char **r = realloc(c->rec, nc * sizeof *r);
        if (!r)
            return -1;
        c->rec = r;
        size_t *l = realloc(c->len, nc * sizeof *l);
        if (!l)
            return -1;
        c->len = l;
        c->cap = nc;
    }
    char *copy = malloc(n ? n : 1);
    if (!copy)
        return -1;
    memcpy(copy, p, n);
    c->rec[c->n] = copy;
    c->len[c->n++] = n;
    return 0;
}

/* Every .json in dir; scenarios contribute each event (compact). */
static int load_dir(corpus_t *c, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name), len;
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *b = test_read_file(path, &len);
        if (!b)
            continue;
        add(c, b, len);
        json_t *root = json_loadb(b, len, 0, NULL);
        json_t *events = json_object_get(root, "events");
        for (size_t i = 0; i < json_array_size(events); i++) {
            char *one = json_dumps(json_array_get(events, i), JSON_COMPACT);
            if (one)
                add(c, one, strlen(one));
            free(one);
        }
        json_decref(root);
        free(b);
    }
    closedir(d);
    return 0;
}

static void show(const char *p, size_t n)
{
    fputs("  input: ", stderr);
    for (size_t i = 0; i < n && i < 600; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f)
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02x", ch);
    }
    fputc('\n', stderr);
}

/* xorshift64*: deterministic mutations, the same on every run. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static const char *const snippets[] = {
    "\"", "\\", "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u00e9", "\\u0061", "\\/",
    "99999999999999999999", "-9223372036854775808", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "1e999", "-1e999", "1e-999", "0.5", "-0",
    "01", "1.", ".5", "1e", "1e+", "{", "}", "[", "]", ",", ":", "null", "true", "false", "nul",
    "\xff", "\xc3\xa9", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xe2\x82", " ", "\t",
    "\n", "\x01", "\"seq\":1,", ",\"x\":1", "\"v\":1,", "\"type\":\"run.log\",", "\"a\":1,\"a\":2",
    "\"\\u0061\":1,\"a\":2", "{\"a\":1e400}", "{\"a\":1e-400}", "{\"a\":1.5e-350}",
    "{\"a\":123456789012345678901234567890123456789012345678901234567890123456789.5}",
    "[1,2,[3,{\"k\":\"v\"}]]", "\"naics_codes\":[\"1\",2],", "\"posted_from\":\"2025-02-30\",",
    "\"kind\":\"discovery\",", "\"counters\":{\"A\":1},", "\"counters\":{\"a\":-1},",
    "\"memory_percent\":100.5,", "\"level\":\"warn\",", "\"status\":\"running\",",
};
#define NSNIP (sizeof snippets / sizeof snippets[0])

static size_t mutate(uint64_t *s, const char *in, size_t n, char *out, size_t cap)
{
    size_t len = n < cap ? n : cap;
    memcpy(out, in, len);
    int rounds = rnd(s) % 4 ? 1 : 2 + (int)(rnd(s) % 2);
    for (int r = 0; r < rounds; r++) {
        size_t pos = len ? rnd(s) % (len + 1) : 0;
        switch (rnd(s) % 6) {
        case 0: /* replace a byte */
            if (pos < len)
                out[pos] = (char)(rnd(s) & 0xff);
            break;
        case 1: { /* delete a range */
            size_t k = 1 + rnd(s) % 8;
            if (pos + k > len)
                k = len - pos;
            memmove(out + pos, out + pos + k, len - pos - k);
            len -= k;
            break;
        }
        case 2:
        case 3: { /* insert a snippet */
            const char *sn = snippets[rnd(s) % NSNIP];
            size_t k = strlen(sn);
            if (len + k > cap)
                break;
            memmove(out + pos + k, out + pos, len - pos);
            memcpy(out + pos, sn, k);
            len += k;
            break;
        }
        case 4: { /* replace the value after a ':' with a snippet */
            const char *colon = memchr(out + pos, ':', len - pos);
            if (!colon)
                break;
            size_t at = (size_t)(colon - out) + 1, end = at;
            while (end < len && out[end] != ',' && out[end] != '}')
                end++;
            const char *sn = snippets[rnd(s) % NSNIP];
            size_t k = strlen(sn);
            if (len - (end - at) + k > cap)
                break;
            memmove(out + at + k, out + end, len - end);
            memcpy(out + at, sn, k);
            len = len - (end - at) + k;
            break;
        }
        default: { /* repeat the first member of an object at or after pos */
            const char *b = memchr(out + pos, '{', len - pos);
            const char *q = b ? memchr(b, ',', len - (size_t)(b - out)) : NULL;
            char tmp[512];
            size_t k = q ? (size_t)(q - b) : 0; /* the member and its comma: b+1..q */
            if (!q || k > sizeof tmp || len + k > cap)
                break;
            memcpy(tmp, b + 1, k);
            size_t at = (size_t)(b - out) + 1;
            memmove(out + at + k, out + at, len - at);
            memcpy(out + at, tmp, k);
            len += k;
            break;
        }
        }
    }
    return len;
}

static const char *g_src;
static long g_mutations = 20000;

static void test_examples_and_mutations(test_state_t *ts)
{
    corpus_t c = {0};
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/schemas/examples", g_src);
    REQUIRE(ts, load_dir(&c, dir) == 0);
    snprintf(dir, sizeof dir, "%s/schemas/examples/invalid", g_src);
    REQUIRE(ts, load_dir(&c, dir) == 0);
    CHECK(ts, c.n >= 60);
    size_t bad = 0, seeds = c.n;
    const char *what;
    for (size_t i = 0; i < seeds; i++)
        if ((what = rt_decode_compare(c.rec[i], c.len[i], RT_EVENT_MAX_BYTES, 1, stderr)) &&
            bad++ < 10) {
            fprintf(stderr, "example %zu disagrees on %s\n", i, what);
            show(c.rec[i], c.len[i]);
        }
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    size_t cap = 8192;
    char *m = malloc(cap);
    REQUIRE(ts, m != NULL);
    size_t verdicts[RT_DEAD__COUNT] = {0};
    for (long k = 0; k < g_mutations; k++) {
        size_t i = rnd(&s) % seeds;
        size_t n = mutate(&s, c.rec[i], c.len[i], m, cap);
        rt_event_t ev;
        rt_dead_reason_t why;
        /* A small limit sometimes, for the oversize path. */
        size_t max = k % 97 == 0 ? 200 : RT_EVENT_MAX_BYTES;
        if (rt_decode(m, n, max, &ev, &why, NULL, 0) == 0)
            rt_event_clear(&ev);
        verdicts[why]++;
        if ((what = rt_decode_compare(m, n, max, 1, stderr)) && bad++ < 10) {
            fprintf(stderr, "mutation %ld of example %zu disagrees on %s\n", k, i, what);
            show(m, n);
        }
    }
    for (int r = 0; r < RT_DEAD__COUNT; r++)
        fprintf(stderr, "  %s: %zu\n", rt_dead_reason_name((rt_dead_reason_t)r), verdicts[r]);
    /* The mutations reach every verdict the decoder can give (rule, key_mismatch and
     * run_removed are given after decoding, against the record's key or its run). */
    for (int r = 0; r < RT_DEAD__COUNT; r++)
        if (r != RT_DEAD_RULE && r != RT_DEAD_KEY_MISMATCH && r != RT_DEAD_RUN_REMOVED)
            CHECK(ts, verdicts[r] > 0);
    CHECK(ts, bad == 0);
    free(m);
    for (size_t i = 0; i < c.n; i++)
        free(c.rec[i]);
    free(c.rec);
    free(c.len);
}

/* Edge cases mutations rarely hit: nesting at jansson's depth limit, duplicate keys in large
 * objects (sorted path) and spelled with escapes, numbers numeric would refuse. */
static void test_edges(test_state_t *ts)
{
    static const char head[] =
        "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\",\"run_id\":"
        "\"019a16a0-5ebb-7312-8643-8b2a38836cfd\",\"seq\":1,\"ts\":\"2025-10-24T14:30:10.000000Z\","
        "\"job\":\"j\",\"kind\":\"k\",\"producer\":{\"host\":\"h\",\"pid\":1,\"lib\":\"l\"},"
        "\"type\":\"run.started\",\"data\":{\"params\":";
    size_t cap = 20000;
    char *b = malloc(cap);
    REQUIRE(ts, b != NULL);
    /* depth: root(1) data(2) params(3) then k arrays; jansson allows 2048 levels. */
    for (int k = 2040; k <= 2050; k++) {
        size_t o = (size_t)snprintf(b, cap, "%s{\"a\":", head);
        for (int i = 0; i < k; i++)
            b[o++] = '[';
        for (int i = 0; i < k; i++)
            b[o++] = ']';
        o += (size_t)snprintf(b + o, cap - o, "}}}");
        CHECK(ts, !rt_decode_compare(b, o, RT_EVENT_MAX_BYTES, 1, stderr));
    }
    /* 40 keys with a duplicate at various places, plain and escaped. */
    for (int dup = 0; dup < 40; dup += 3) {
        for (int esc = 0; esc < 2; esc++) {
            size_t o = (size_t)snprintf(b, cap, "%s{", head);
            for (int i = 0; i < 40; i++)
                o += (size_t)snprintf(b + o, cap - o, "%s\"k%d\":%d", i ? "," : "",
                                      i == dup && i ? dup - 1 : i, i);
            if (esc)
                o += (size_t)snprintf(b + o, cap - o, ",\"\\u006b7\":1");
            o += (size_t)snprintf(b + o, cap - o, "}}}");
            CHECK(ts, !rt_decode_compare(b, o, RT_EVENT_MAX_BYTES, 1, stderr));
        }
    }
    /* A duplicate key before / after a number out of range. */
    static const char *const order[] = {
        "{\"a\":1,\"a\":2,\"b\":99999999999999999999}", "{\"b\":99999999999999999999,\"a\":1,\"a\":2}",
        "{\"a\":1e999,\"a\":2}", "{\"a\":{\"x\":1,\"x\":2},\"b\":-1e999}",
        "{\"a\":1 99999999999999999999}", "{\"a\":99999999999999999999\xff}",
        "{\"a\":99999999999999999999\xc3\xa9}", "{\"a\":[1,2,]}"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t o = (size_t)snprintf(b, cap, "%s%s}}", head, order[i]);
        CHECK(ts, !rt_decode_compare(b, o, RT_EVENT_MAX_BYTES, 1, stderr));
    }
    /* Reals numeric would refuse are passed on re-encoded, still equal to jansson's values. */
    static const char *const reals[] = {"1e-400", "1e300", "1e-5000", "2.5e+307",
                                        "0.000000000000000000000000000000000000000000000000000000000000000000001"};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        size_t o = (size_t)snprintf(b, cap, "%s{\"x\":[%s]}}}", head, reals[i]);
        CHECK(ts, !rt_decode_compare(b, o, RT_EVENT_MAX_BYTES, 1, stderr));
        rt_event_t ev;
        rt_dead_reason_t why;
        REQUIRE(ts, rt_decode(b, o, RT_EVENT_MAX_BYTES, &ev, &why, NULL, 0) == 0);
        /* what PostgreSQL gets has no exponent beyond +-400 */
        const char *e = memchr(ev.params.p, 'e', ev.params.n);
        CHECK(ts, !e || strtol(e + 1, NULL, 10) < 400);
        CHECK(ts, !e || strtol(e + 1, NULL, 10) > -400);
        rt_event_clear(&ev);
    }
    free(b);
}

/* The storage-range checks, a deliberate difference from the reference decoder (which predates
 * them): rt_decode rejects what PostgreSQL's columns refuse, as schema, and agrees with the
 * reference on the neighbouring values that the columns still take. */
static void test_storage_ranges(test_state_t *ts)
{
    static const struct {
        const char *ts, *data;
        int refused;
    } cases[] = {
        {"2025-10-24T14:30:10.000000Z", "{\"counters\":{},\"memory_percent\":1e-50}", 1},
        {"2025-10-24T14:30:10.000000Z", "{\"counters\":{},\"cpu_percent\":1e-46}", 1},
        {"2025-10-24T14:30:10.000000Z", "{\"counters\":{},\"memory_percent\":1e-40}", 0},
        {"2025-10-24T14:30:10.000000Z", "{\"counters\":{},\"memory_percent\":1.17549435e-38}", 0},
        {"2025-10-24T14:30:10.000000Z", "{\"counters\":{},\"memory_percent\":0.0}", 0},
        {"2025-10-24T14:30:10.000000Z", "{\"counters\":{},\"memory_percent\":1e39}", 1},
        {"2016-12-31T23:59:60.000000Z", "{\"counters\":{}}", 0},
        {"2016-12-31T23:59:60.000001Z", "{\"counters\":{}}", 1},
        {"2016-12-31T23:59:60.500000Z", "{\"counters\":{},\"cpu_percent\":\"x\"}", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char b[1024], detail[256];
        int n = snprintf(b, sizeof b,
                         "{\"v\":1,\"event_id\":\"019a16a0-5ebb-793f-8852-b6294cd8d666\","
                         "\"run_id\":\"019a16a0-5ebb-7312-8643-8b2a38836cfd\",\"seq\":1,"
                         "\"ts\":\"%s\",\"job\":\"j\",\"kind\":\"k\",\"producer\":{\"host\":"
                         "\"h\",\"pid\":1,\"lib\":\"l\"},\"type\":\"run.progress\",\"data\":%s}",
                         cases[i].ts, cases[i].data);
        CHECK(ts, !rt_decode_compare(b, (size_t)n, RT_EVENT_MAX_BYTES, 1, stderr));
        rt_event_t ev;
        rt_dead_reason_t why;
        int rc = rt_decode(b, (size_t)n, RT_EVENT_MAX_BYTES, &ev, &why, detail, sizeof detail);
        /* 1e39 is already outside 0..100: the old rule says so first */
        int range = rc != 0 && strstr(detail, RT_PG_RANGE_MSG) != NULL;
        CHECK(ts, cases[i].refused ? rc != 0 && why == RT_DEAD_SCHEMA : rc == 0);
        CHECK(ts, !cases[i].refused || range || strstr(detail, "outside 0..100"));
        if (rc == 0)
            rt_event_clear(&ev);
    }
    /* The claim is checked: a detail naming PostgreSQL's range is only accepted when the value
     * is really out of range (rt_pg_real_ok is what both sides consult). */
    CHECK(ts, rt_pg_real_ok(1e-40) && rt_pg_real_ok(0) && rt_pg_real_ok(100));
    CHECK(ts, !rt_pg_real_ok(1e-50) && !rt_pg_real_ok(1e39) && !rt_pg_real_ok(-1e-46));
}

int main(int argc, char **argv)
{
    static const test_case_t tests[] = {TEST(test_examples_and_mutations), TEST(test_edges),
                                        TEST(test_storage_ranges)};
    g_src = argc > 1 ? argv[1] : SOURCE_DIR;
    if (argc > 2)
        g_mutations = strtol(argv[2], NULL, 10);
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
