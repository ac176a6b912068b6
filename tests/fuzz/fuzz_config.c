/* libFuzzer target: the consumer's settings loader (consumer/config.c): the input is written
 * as a config file and loaded, then read again as NUL/newline-separated RUNTRACK_* environment
 * entries. Either may fail (with a message); neither may crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    rt_config_t cfg;
    char err[512];
    if (!path[0])
        /* In the working directory (run.sh runs each target in its own work dir under the
         * build), so nothing is left in /tmp. */
        snprintf(path, sizeof path, "rt-fuzz-config.%ld", (long)getpid());
    if (rt_config_init(&cfg) != 0)
        return 0;
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        err[0] = '\0';
        if (rt_config_load_file(&cfg, path, err, sizeof err) != 0 && !err[0])
            abort(); /* a failure always says why */
    }
    /* Environment form: lines become entries; those without RUNTRACK_ get the prefix. */
    char *copy = malloc(size + 1);
    char *envp[65];
    size_t ne = 0;
    if (copy) {
        memcpy(copy, data, size);
        copy[size] = '\0';
        char *save = NULL;
        for (char *t = strtok_r(copy, "\n", &save); t && ne < 64; t = strtok_r(NULL, "\n", &save))
            envp[ne++] = t;
        envp[ne] = NULL;
        err[0] = '\0';
        if (rt_config_apply_env(&cfg, envp, err, sizeof err) != 0 && !err[0])
            abort();
        free(copy);
    }
    rt_config_free(&cfg);
    return 0;
}
