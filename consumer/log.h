/* The consumer's own log lines on stderr: one line per event, logfmt style, e.g.
 *   ts=2026-11-25T11:15:48.123456Z level=info msg="batch committed" events=5000 ms=41 */
#ifndef RT_CONSUMER_LOG_H
#define RT_CONSUMER_LOG_H

typedef enum { RT_L_DEBUG, RT_L_INFO, RT_L_WARN, RT_L_ERROR } rt_loglevel_t;

/* Writes one line: ts, level, msg (quoted), then the printf-formatted key=value fields (may be
 * NULL). Thread-safe in the sense that each line is a single fputs. */
void rt_log(rt_loglevel_t level, const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
