/* A tiny test harness: CHECK records a failure and goes on, REQUIRE stops the test function.
 * Each test binary ends with TEST_MAIN(list of test functions), or calls run_tests from its own
 * main when it takes arguments. */
#ifndef RT_TEST_HARNESS_H
#define RT_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_state {
    int failures;
    int checks;
} test_state_t;

/* One check: counts it, and on failure counts the failure, says where, and does on_fail. */
#define CHECK_OR_(ts, cond, kind, on_fail)                                                         \
    do {                                                                                           \
        (ts)->checks++;                                                                            \
        if (!(cond)) {                                                                             \
            (ts)->failures++;                                                                      \
            fprintf(stderr, "%s:%d: " kind " failed: %s\n", __FILE__, __LINE__, #cond);            \
            on_fail;                                                                               \
        }                                                                                          \
    } while (0)
#define CHECK(ts, cond)   CHECK_OR_(ts, cond, "CHECK", (void)0)
#define REQUIRE(ts, cond) CHECK_OR_(ts, cond, "REQUIRE", return)

#define CHECK_STR(ts, a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        (ts)->checks++;                                                                            \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            (ts)->failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,     \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
        }                                                                                          \
    } while (0)

typedef void (*test_fn)(test_state_t *);
typedef struct test_case {
    const char *name;
    test_fn fn;
} test_case_t;

/* Runs the n tests, one line each on stdout; returns the process exit code (1 if any failed). */
static inline int run_tests(const test_case_t *tests, size_t n)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        test_state_t ts = {0, 0};
        tests[i].fn(&ts);
        printf("%s %s (%d checks)\n", ts.failures ? "FAIL" : "ok  ", tests[i].name, ts.checks);
        failed += ts.failures != 0;
    }
    return failed ? 1 : 0;
}

/* Reads a whole file into a NUL-terminated buffer the caller frees, its size in *len; NULL on
 * any error (nothing to free then). */
static inline char *test_read_file(const char *path, size_t *len)
{
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0)
        goto out;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)n + 1);
    if (!buf)
        goto out;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
    *len = (size_t)n;
out:
    fclose(f);
    return buf;
}

/* main for a test binary that takes no arguments. */
#define TEST_MAIN(...)                                                                             \
    int main(void)                                                                                 \
    {                                                                                              \
        static const test_case_t tests_[] = {__VA_ARGS__};                                         \
        return run_tests(tests_, sizeof tests_ / sizeof tests_[0]);                                \
    }
#define TEST(fn) {#fn, fn}

#endif
