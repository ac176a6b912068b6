#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt_event.h"
#include "rt_time.h"

static const char *level_name(rt_loglevel_t l)
{
    switch (l) {
    case RT_L_DEBUG:
        return "debug";
    case RT_L_INFO:
        return "info";
    case RT_L_WARN:
        return "warn";
    case RT_L_ERROR:
        return "error";
    }
    return "?";
}

void rt_log(rt_loglevel_t level, const char *msg, const char *fields_fmt, ...)
{
    char ts[RT_TIME_STRLEN];
    char quoted[1024];
    char fields[1536];
    if (!rt_time_format(rt_now_us(), ts, sizeof ts))
        ts[0] = '\0';
    /* msg is quoted with JSON escaping so that a newline in it cannot split the line. */
    if (rt_json_escape(msg, strlen(msg), quoted, sizeof quoted) >= sizeof quoted)
        quoted[sizeof quoted - 1] = '\0';
    fields[0] = '\0';
    if (fields_fmt) {
        va_list ap;
        va_start(ap, fields_fmt);
        vsnprintf(fields, sizeof fields, fields_fmt, ap);
        va_end(ap);
        for (char *p = fields; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    char line[2700];
    snprintf(line, sizeof line, "ts=%s level=%s msg=%s%s%s\n", ts, level_name(level), quoted,
             fields[0] ? " " : "", fields);
    fputs(line, stderr);
}
