/* Test helper: one command to the dev broker's control socket (deploy/devbroker), e.g.
 * "down -1", "up -1", "rtt 1 500". The paths come from the services' environment
 * (RUNTRACK_DEVBROKER, RUNTRACK_DEVBROKER_CTL); any failure ends the test. */
#ifndef RT_TEST_DEVBROKER_CTL_H
#define RT_TEST_DEVBROKER_CTL_H

#include <stdio.h>
#include <stdlib.h>

static inline void rt_test_devbroker_ctl(const char *cmd)
{
    const char *bin = getenv("RUNTRACK_DEVBROKER"), *sock = getenv("RUNTRACK_DEVBROKER_CTL");
    char line[1024];
    if (!bin || !sock) {
        fprintf(stderr, "FAIL: RUNTRACK_DEVBROKER / RUNTRACK_DEVBROKER_CTL not set\n");
        exit(1);
    }
    snprintf(line, sizeof line, "'%s' ctl '%s' %s >/dev/null", bin, sock, cmd);
    if (system(line) != 0) {
        fprintf(stderr, "FAIL: devbroker ctl %s\n", cmd);
        exit(1);
    }
}

#endif
