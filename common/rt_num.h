/* The one checked number parser: a whole string, decimal, within bounds (curl's checksrc bans
 * atoi; strtol's end pointer and errno are easy to forget). Used for settings, command-line
 * options, query parameters and values read back from PostgreSQL. */
#ifndef RT_NUM_H
#define RT_NUM_H

#include <stdint.h>

#include "rt_attr.h"

/* Parses s (optional sign, decimal digits, nothing else: no spaces, no trailing text) into
 * *out when the value lies in [min, max]. Returns 0, or -1 and leaves *out untouched. */
int rt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) RT_MUSTCHECK;

/* The same for a finite decimal number (strtod's syntax, no NaN or infinity). */
int rt_parse_double(const char *s, double min, double max, double *out) RT_MUSTCHECK;

#endif
