/* The consumer's decoder (consumer/ingest/decode.c) agrees with the contract's data-driven cases:
 * every valid example in schemas/examples/ (single events and each event of the scenarios)
 * decodes, and every schemas/examples/invalid/ file is rejected with the dead-letter reason in
 * column 5 of REASONS.tsv. The same files are checked against the JSON Schema by
 * tests/contract/check_examples.py, so schema and consumer cannot drift apart silently.
 *   test_contract_decode SOURCE_DIR */
#include "ingest/decode.h"
#include "harness.h"
#include "rt_event.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_src;

/* Decodes one record; returns the reason (RT_DEAD_NONE when it decoded). */
static rt_dead_reason_t decode_one(const char *buf, size_t len, char *detail, size_t size)
{
    rt_event_t ev;
    rt_dead_reason_t why = RT_DEAD_NONE;
    if (rt_decode(buf, len, RT_EVENT_MAX_BYTES, &ev, &why, detail, size) == 0) {
        rt_event_clear(&ev);
        return RT_DEAD_NONE;
    }
    return why;
}

static void check_valid_record(test_state_t *ts, const char *name, int idx, const char *buf,
                               size_t len)
{
    char detail[256] = "";
    rt_dead_reason_t why = decode_one(buf, len, detail, sizeof detail);
    if (why != RT_DEAD_NONE)
        fprintf(stderr, "valid example %s[%d] rejected (%s): %s\n", name, idx,
                rt_dead_reason_name(why), detail);
    CHECK(ts, why == RT_DEAD_NONE);
}

static void test_valid_examples(test_state_t *ts)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/schemas/examples", g_src);
    DIR *d = opendir(dir);
    REQUIRE(ts, d != NULL);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0)
            continue;
        char path[8192];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *buf = test_read_file(path, &len);
        CHECK(ts, buf != NULL);
        if (!buf)
            continue;
        files++;
        json_error_t jerr;
        json_t *doc = json_loadb(buf, len, 0, &jerr);
        json_t *events = doc && json_is_object(doc) ? json_object_get(doc, "events") : NULL;
        if (json_is_array(events)) {
            /* A scenario: decode each event as the producer would send it (compact JSON). */
            size_t i;
            json_t *e;
            json_array_foreach(events, i, e)
            {
                char *one = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
                CHECK(ts, one != NULL);
                if (one)
                    check_valid_record(ts, de->d_name, (int)i, one, strlen(one));
                free(one);
            }
        } else {
            /* A single event: decode the file's exact bytes. */
            check_valid_record(ts, de->d_name, 0, buf, len);
        }
        json_decref(doc);
        free(buf);
    }
    closedir(d);
    CHECK(ts, files >= 8);
}

static void test_invalid_examples(test_state_t *ts)
{
    char path[4096];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/schemas/examples/invalid/REASONS.tsv", g_src);
    char *tsv = test_read_file(path, &len);
    REQUIRE(ts, tsv != NULL);
    int cases = 0;
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        /* file \t path \t keyword \t reason \t dead-letter reason */
        char *cols[5] = {0};
        int n = 0;
        for (char *p = line; n < 5; n++) {
            cols[n] = p;
            char *tab = strchr(p, '\t');
            if (!tab) {
                n++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        CHECK(ts, n == 5);
        if (n != 5)
            continue;
        char file[8192];
        size_t flen = 0;
        snprintf(file, sizeof file, "%s/schemas/examples/invalid/%s", g_src, cols[0]);
        char *buf = test_read_file(file, &flen);
        CHECK(ts, buf != NULL);
        if (!buf)
            continue;
        char detail[256] = "";
        rt_dead_reason_t why = decode_one(buf, flen, detail, sizeof detail);
        const char *got = why == RT_DEAD_NONE ? "(accepted)" : rt_dead_reason_name(why);
        if (strcmp(got, cols[4]) != 0)
            fprintf(stderr, "invalid/%s: expected %s (%s), got %s: %s\n", cols[0], cols[4], cols[3],
                    got, detail);
        CHECK_STR(ts, got, cols[4]);
        /* Every rejection explains itself in one line. */
        CHECK(ts, why == RT_DEAD_NONE || (detail[0] && !strchr(detail, '\n')));
        free(buf);
        cases++;
    }
    free(tsv);
    CHECK(ts, cases >= 40);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_contract_decode SOURCE_DIR\n");
        return 64;
    }
    g_src = argv[1];
    static const test_case_t tests[] = {TEST(test_valid_examples), TEST(test_invalid_examples)};
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
