#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define REPLAY_TIMEOUT_MS 10000

/* The topic's partitions; the broker may be coming up: retried every second until it answers
 * or *stop. */
static int partitions(rt_kin_t *kin, const char *topic, const volatile sig_atomic_t *stop,
                      int32_t **ids, size_t *n, char *err, size_t errsize)
{
    char why[256];
    while (rt_kin_topic_partitions(kin, topic, REPLAY_TIMEOUT_MS, ids, n, why, sizeof why) != 0) {
        if (*stop) {
            snprintf(err, errsize, "metadata for %s: %s", topic, why);
            return -1;
        }
        rt_log(RT_L_WARN, "replay: topic metadata unavailable, retrying", "topic=%s error=\"%s\"",
               topic, why);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int rt_replay_plan(rt_kin_t *kin, const char *topic, int64_t from_time_us,
                   const volatile sig_atomic_t *stop, rt_replay_part_t **out, size_t *n, char *err,
                   size_t errsize)
{
    int32_t *ids = NULL;
    int64_t *at = NULL;
    rt_replay_part_t *parts = NULL;
    size_t cnt = 0;
    int rc = -1;
    *out = NULL;
    *n = 0;
    if (partitions(kin, topic, stop, &ids, &cnt, err, errsize) != 0)
        return -1;
    parts = calloc(cnt, sizeof *parts);
    at = calloc(cnt, sizeof *at);
    if (!parts || !at) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cnt; i++) {
        parts[i].partition = ids[i];
        if (rt_kin_watermarks(kin, topic, ids[i], REPLAY_TIMEOUT_MS, &parts[i].start,
                              &parts[i].end, err, errsize) != 0)
            goto out;
    }
    if (from_time_us >= 0) {
        if (rt_kin_offsets_for_time(kin, topic, ids, cnt, from_time_us / 1000, at,
                                    REPLAY_TIMEOUT_MS, err, errsize) != 0)
            goto out;
        for (size_t i = 0; i < cnt; i++) {
            /* No offset for the time: either nothing was written since, or the broker cannot
             * look timestamps up (the dev broker). Read the partition from its start then;
             * the pipeline skips records older than the time, so both cases come out right. */
            if (at[i] < 0 && parts[i].end > parts[i].start)
                rt_log(RT_L_INFO, "replay: no offset for the time, scanning the partition",
                       "partition=%d", (int)parts[i].partition);
            else
                parts[i].start = at[i];
        }
    }
    *out = parts;
    *n = cnt;
    parts = NULL;
    rc = 0;
out:
    free(parts);
    free(at);
    free(ids);
    return rc;
}

int rt_replay_start(rt_kin_t *kin, const char *topic, int64_t from_time_us, int to_end,
                    const volatile sig_atomic_t *stop, rt_parts_t *ps, char *err, size_t errsize)
{
    rt_replay_part_t *rp = NULL;
    size_t nrp = 0;
    int32_t *ids = NULL;
    int64_t *from = NULL;
    int rc = -1;
    if (rt_replay_plan(kin, topic, from_time_us, stop, &rp, &nrp, err, errsize) != 0)
        return -1;
    ps->v = calloc(nrp ? nrp : 1, sizeof *ps->v);
    ids = calloc(nrp ? nrp : 1, sizeof *ids);
    from = calloc(nrp ? nrp : 1, sizeof *from);
    if (!ps->v || !ids || !from) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nrp; i++) {
        rt_part_t *pt = &ps->v[i];
        pt->partition = ids[i] = rp[i].partition;
        pt->expected = rp[i].start;
        pt->end = to_end ? rp[i].end : -1;
        if (to_end && (rp[i].start < 0 || rp[i].start >= rp[i].end))
            pt->expected = pt->end; /* nothing to read */
        from[i] = rp[i].start >= 0 ? rp[i].start : RT_KIN_OFFSET_END;
        rt_log(RT_L_INFO, "replay partition", "partition=%d from=%lld to=%lld",
               (int)rp[i].partition, (long long)rp[i].start, (long long)pt->end);
    }
    ps->n = nrp;
    /* --to-end reads a window of partitions at a time; otherwise all of them follow. */
    rc = to_end ? rt_replay_window(kin, topic, ps, err, errsize)
                : rt_kin_assign(kin, topic, ids, from, nrp, err, errsize);
out:
    free(rp);
    free(ids);
    free(from);
    return rc;
}

/* Incremental, so the partitions being read keep their fetch position and prefetched records
 * (pausing instead would drop a partition's prefetched records before its first poll, and not
 * fetch them again). */
int rt_replay_window(rt_kin_t *kin, const char *topic, rt_parts_t *ps, char *err, size_t errsize)
{
    size_t n = ps->n ? ps->n : 1, ndone = 0, nadd = 0, reading = 0;
    int32_t *done = calloc(n, sizeof *done), *add = calloc(n, sizeof *add);
    int64_t *at = calloc(n, sizeof *at);
    int rc = -1;
    if (!done || !add || !at) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ps->n; i++) {
        rt_part_t *pt = &ps->v[i];
        if (pt->reading && pt->expected >= pt->end) {
            pt->reading = 0;
            done[ndone++] = pt->partition;
        } else if (pt->reading) {
            reading++;
        }
    }
    for (size_t i = 0; i < ps->n && reading < RT_REPLAY_PARTITIONS_IN_FLIGHT; i++) {
        rt_part_t *pt = &ps->v[i];
        if (pt->reading || pt->expected >= pt->end)
            continue; /* being read, or done (or nothing to read) */
        pt->reading = 1;
        add[nadd] = pt->partition;
        at[nadd++] = pt->expected;
        reading++;
    }
    rc = 0;
    if (ndone)
        rc = rt_kin_assign_change(kin, topic, done, NULL, ndone, 0, err, errsize);
    if (rc == 0 && nadd)
        rc = rt_kin_assign_change(kin, topic, add, at, nadd, 1, err, errsize);
    if (rc == 0 && (ndone || nadd))
        rt_log(RT_L_INFO, "replay window", "added=%zu done=%zu reading=%zu", nadd, ndone, reading);
out:
    free(done);
    free(add);
    free(at);
    return rc;
}

int rt_replay_at_end(const rt_parts_t *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].end >= 0 && ps->v[i].expected < ps->v[i].end)
            return 0;
    return 1;
}
