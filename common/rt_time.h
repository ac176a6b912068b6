/* UTC wall-clock time in microseconds and its one text form in events. */
#ifndef RT_TIME_H
#define RT_TIME_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-25T11:15:48.123456Z": 27 characters plus NUL. */
#define RT_TIME_STRLEN 28

/* Microseconds since the Unix epoch, CLOCK_REALTIME. */
int64_t rt_now_us(void);

/* Monotonic microseconds, for intervals and timeouts only. */
int64_t rt_mono_us(void);

/* Formats us as RFC 3339 UTC with exactly six fractional digits and a 'Z'.
 * buf must hold RT_TIME_STRLEN bytes. Returns the length written (27), or 0 when the time is
 * outside years 0001..9999. */
size_t rt_time_format(int64_t us, char *buf, size_t size);

/* Parses RFC 3339 date-time ("YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+hh:mm|-hh:mm)", 'T' or ' ',
 * 'z' accepted) into microseconds since the epoch. Returns 0, or -1 for anything else
 * (including out-of-range fields and more than six fractional digits). */
int rt_time_parse(const char *s, int64_t *us);

#endif
