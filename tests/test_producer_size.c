/* Event size against the dev broker (RUNTRACK_BROKERS, RUNTRACK_TOPIC; run by
 * tests/producer/run_and_check.sh, which reads the topic back with kcat and checks it): the
 * contract allows 1 MiB (RT_EVENT_MAX_BYTES) per event.
 *   1. run.started of ~1,040,000 and ~1,047,000 bytes (params), a run.log of ~1,040,000 bytes
 *      (fields) and a run.finished of ~1,040,000 bytes (error details) are delivered: flush
 *      returns OK within its timeout (no endless re-send) and nothing failed.
 *   2. the same calls over 1 MiB are refused at the call (RUNTRACK_ERR_TOO_LARGE, or NULL +
 *      errstr for run_start), record nothing, and leave the run usable.
 * usage: test_producer_size EXPECT_JSON_OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "producer_test.h"
#include "rt_event.h"
#include "runtrack.h"

/* {"blob":"xxxx..."} of exactly n bytes (n > 12); letters vary so lz4 cannot hide the size.
 * Caller frees. */
static char *json_of(size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        exit(1);
    memcpy(s, "{\"blob\":\"", 9);
    unsigned x = 12345;
    for (size_t i = 9; i < n - 2; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = (char)('a' + (x >> 16) % 26);
    }
    memcpy(s + n - 2, "\"}", 3);
    return s;
}

static runtrack_run_t *start(runtrack_t *rt, size_t params, char *err, size_t err_size)
{
    char *p = json_of(params);
    runtrack_start_opts_t so = {.params_json = p};
    runtrack_run_t *run = runtrack_run_start(rt, "size_test", &so, err, err_size);
    free(p);
    return run;
}

int main(int argc, char **argv)
{
    FILE *out = rt_test_expect_out(argc, argv);
    char err[512];
    uint64_t left = 0;
    /* Uncompressed: the broker sees the events' full size. */
    static const char *const uncompressed[] = {"kafka.compression.type", "none", NULL};
    runtrack_conf_t *conf = rt_test_conf(1, uncompressed);
    /* The library refuses a librdkafka limit that would not let 1 MiB events through. */
    EXPECT(runtrack_conf_set(conf, "kafka.message.max.bytes", "1000000", err, sizeof err) ==
           RUNTRACK_ERR_CONF);
    runtrack_t *rt = rt_test_client(conf);

    /* ---- 1. inside the contract: delivered */
    runtrack_run_t *a = start(rt, 1040000, err, sizeof err);
    runtrack_run_t *b = start(rt, 1047000, err, sizeof err);
    EXPECT(a && b);
    if (!a || !b)
        return 1;
    char *fields = json_of(1040000);
    EXPECT(runtrack_run_log(a, RUNTRACK_INFO, "big fields", fields) == RUNTRACK_OK);
    free(fields);
    char *details = json_of(1040000);
    runtrack_finish_opts_t fo = {.error_message = "big details", .error_details_json = details};
    EXPECT(runtrack_run_finish(b, RUNTRACK_FAILED, &fo, err, sizeof err) == RUNTRACK_OK);
    free(details);

    /* ---- 2. over the contract: refused at the call, nothing recorded */
    err[0] = '\0';
    EXPECT(start(rt, RT_EVENT_MAX_BYTES, err, sizeof err) == NULL);
    EXPECT(strstr(err, "limit") != NULL);
    fields = json_of(RT_EVENT_MAX_BYTES - 100);
    EXPECT(runtrack_run_log(a, RUNTRACK_INFO, "too big", fields) == RUNTRACK_ERR_TOO_LARGE);
    free(fields);
    details = json_of(RT_EVENT_MAX_BYTES);
    fo.error_details_json = details;
    EXPECT(runtrack_run_finish(a, RUNTRACK_FAILED, &fo, err, sizeof err) == RUNTRACK_ERR_TOO_LARGE);
    free(details);
    /* The run is still open after the refused finish. */
    EXPECT(runtrack_run_log(a, RUNTRACK_INFO, "after refusals", NULL) == RUNTRACK_OK);
    EXPECT(runtrack_run_finish(a, RUNTRACK_COMPLETED, NULL, err, sizeof err) == RUNTRACK_OK);

    /* Bounded: an event librdkafka or the broker refused would be re-sent until this times out. */
    EXPECT(runtrack_flush(rt, 30000, &left) == RUNTRACK_OK);
    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    EXPECT(st.failed == 0 && st.retried == 0);
    printf("size: recorded %llu, delivered %llu, failed %llu, retried %llu, left %llu\n",
           (unsigned long long)st.recorded, (unsigned long long)st.delivered,
           (unsigned long long)st.failed, (unsigned long long)st.retried, (unsigned long long)left);
    fprintf(out,
            "{\"runs\": {\"%s\": {\"lifecycle\": [\"run.started\", \"run.finished\"], \"logs\": 2, "
            "\"log_messages\": [\"big fields\", \"after refusals\"], \"status\": \"completed\"}, "
            "\"%s\": {\"lifecycle\": [\"run.started\", \"run.finished\"], \"status\": \"failed\", "
            "\"finished\": {\"error_message\": \"big details\"}}}}\n",
            runtrack_run_id(a), runtrack_run_id(b));
    fclose(out);
    runtrack_run_destroy(a);
    runtrack_run_destroy(b);
    EXPECT(runtrack_destroy(rt, 5000, &left) == RUNTRACK_OK);
    return g_fail;
}
