/* Capped exponential back-off (backoff.h). */
#include "backoff.h"

#include <time.h>

#include "log.h"
#include "rt_time.h"

void rt_backoff_init(rt_backoff_t *b, int64_t min_ms, int64_t max_ms,
                     const volatile sig_atomic_t *stop)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->ms = 0;
    b->stop = stop;
}

void rt_backoff_reset(rt_backoff_t *b)
{
    b->ms = 0;
}

/* Sleeps ms in small steps so that a stop request is honoured promptly. */
static void nap(const volatile sig_atomic_t *stop, int64_t ms)
{
    int64_t end = rt_mono_us() + ms * 1000;
    while (!*stop && rt_mono_us() < end) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void rt_backoff_failed(rt_backoff_t *b, rt_metrics_t *m, const char *msg, const char *op,
                       const char *err)
{
    if (m)
        rt_metrics_db_error(m);
    if (b->ms < b->min_ms)
        b->ms = b->min_ms;
    if (op)
        rt_log(RT_L_WARN, msg, "op=\"%s\" error=\"%s\" backoff_ms=%lld", op, err,
               (long long)b->ms);
    else
        rt_log(RT_L_WARN, msg, "error=\"%s\" backoff_ms=%lld", err, (long long)b->ms);
    nap(b->stop, b->ms);
    b->ms = b->ms * 2 > b->max_ms ? b->max_ms : b->ms * 2;
}
