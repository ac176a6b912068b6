/* Compiler attributes, spelled once for producer, consumer and tests (pgbouncer's _MUSTCHECK).
 * The public header runtrack.h keeps its own RUNTRACK_* spelling: it must stand alone. */
#ifndef RT_ATTR_H
#define RT_ATTR_H

/* The caller must look at the result (a code that says whether the call failed). */
#define RT_MUSTCHECK __attribute__((warn_unused_result))
/* printf-style format checking: argument fmt_idx is the format, first_arg the first value. */
#define RT_PRINTF(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))

#endif
