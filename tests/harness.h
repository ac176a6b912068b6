/* A tiny test harness: CHECK records a failure and goes on, REQUIRE stops the test function.
 * Each test binary ends with TEST_MAIN(list of test functions). */
#ifndef RT_TEST_HARNESS_H
#define RT_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

typedef struct test_state {
    int failures;
    int checks;
} test_state_t;

#define CHECK(ts, cond)                                                                            \
    do {                                                                                           \
        (ts)->checks++;                                                                            \
        if (!(cond)) {                                                                             \
            (ts)->failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define REQUIRE(ts, cond)                                                                          \
    do {                                                                                           \
        (ts)->checks++;                                                                            \
        if (!(cond)) {                                                                             \
            (ts)->failures++;                                                                      \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

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

#define TEST_MAIN(...)                                                                             \
    int main(void)                                                                                 \
    {                                                                                              \
        static const struct {                                                                      \
            const char *name;                                                                      \
            test_fn fn;                                                                            \
        } tests_[] = {__VA_ARGS__};                                                                \
        int failed = 0;                                                                            \
        for (size_t i = 0; i < sizeof tests_ / sizeof tests_[0]; i++) {                            \
            test_state_t ts = {0, 0};                                                              \
            tests_[i].fn(&ts);                                                                     \
            printf("%s %s (%d checks)\n", ts.failures ? "FAIL" : "ok  ", tests_[i].name,          \
                   ts.checks);                                                                     \
            failed += ts.failures != 0;                                                            \
        }                                                                                          \
        return failed ? 1 : 0;                                                                     \
    }
#define TEST(fn) {#fn, fn}

#endif
