/* What the libruntrack test programs share (tests/test_producer_*.c): the EXPECT verdict, the
 * client built from the environment plus the test's own settings, and the file in which a
 * program run by tests/producer/run_and_check.sh writes what the topic must hold. Any failure to
 * set up ends the program (exit 1, or 2 for a wrong command line) with the reason on stderr. */
#ifndef RT_TEST_PRODUCER_TEST_H
#define RT_TEST_PRODUCER_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtrack.h"

/* The program's verdict: 0 while every EXPECT held. (Unused in the unit tests, which count
 * their checks with harness.h.) */
static int g_fail __attribute__((unused));

/* Records a failure and goes on (the pid tells a forked child's failures from its parent's). */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d (pid %ld): %s\n", __FILE__, __LINE__, (long)getpid(),      \
                    #cond);                                                                        \
            g_fail = 1;                                                                            \
        }                                                                                          \
    } while (0)

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A conf: the RUNTRACK_* environment when from_env (unit tests leave it out, so a developer's
 * shell cannot change them), then settings, "key", "value" pairs ending with NULL, which win
 * over the environment. The caller owns the conf until it hands it to rt_test_client. */
static inline runtrack_conf_t *rt_test_conf(int from_env, const char *const *settings)
{
    char err[512] = "out of memory";
    runtrack_conf_t *conf = runtrack_conf_new();
    int bad = !conf || (from_env && runtrack_conf_from_env(conf, err, sizeof err) != RUNTRACK_OK);
    for (size_t i = 0; !bad && settings && settings[i]; i += 2)
        bad = runtrack_conf_set(conf, settings[i], settings[i + 1], err, sizeof err) != RUNTRACK_OK;
    if (bad) {
        fprintf(stderr, "conf: %s\n", err);
        exit(1);
    }
    return conf;
}

/* The client of conf (which it takes over). */
static inline runtrack_t *rt_test_client(runtrack_conf_t *conf)
{
    char err[512];
    runtrack_t *rt = runtrack_new(conf, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "runtrack_new: %s\n", err);
        exit(1);
    }
    return rt;
}

/* The file named by the program's one argument, EXPECT_JSON_OUT, opened for writing: what
 * run_and_check.sh must find in the topic. */
static inline FILE *rt_test_expect_out(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXPECT_JSON_OUT\n", argv[0]);
        exit(2);
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        exit(1);
    }
    return out;
}

#endif
