/* libFuzzer target: libruntrack's configuration parsing (producer/src/conf.c,
 * runtrack_conf_set): the input is "key=value" lines (first '=' splits); every call either
 * succeeds or returns an error with a message, and never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtrack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    runtrack_conf_t *conf = runtrack_conf_new();
    char *copy = malloc(size + 1);
    char err[512];
    if (!conf || !copy)
        goto out;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        err[0] = '\0';
        runtrack_err_t rc = runtrack_conf_set(conf, line, eq + 1, err, sizeof err);
        if (rc != RUNTRACK_OK && !err[0])
            abort();
        if (!runtrack_strerror(rc))
            abort();
    }
out:
    free(copy);
    runtrack_conf_destroy(conf);
    return 0;
}
