/* The health_windows setting's syntax, shared by the settings view (settings.c) and the
 * request parser (health_parse.c). */
#ifndef RT_HEALTH_PARSE_H
#define RT_HEALTH_PARSE_H

#include <stddef.h>

/* Parses "12,24,48" into hours (each 1..8760, at most RT_API_MAX_WINDOWS, duplicates removed,
 * sorted ascending). Returns the count, or -1 on bad input. */
int rt_health_parse_windows(const char *s, unsigned *out, size_t max);

#endif
