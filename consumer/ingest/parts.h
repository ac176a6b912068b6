/* Where the consumer is in each partition: the fence positions a batch moves (rt_part_pos_t:
 * Kafka in, PostgreSQL out and the pipeline share it, so it lives with neither), and the
 * pipeline's per-partition state of the current assignment (rt_part_t). */
#ifndef RT_CONSUMER_PARTS_H
#define RT_CONSUMER_PARTS_H

#include <stddef.h>
#include <stdint.h>

/* Offsets of one partition for the fence: the batch moves next_offset from expected (-1: no
 * row yet, insert it) to next. */
typedef struct rt_part_pos {
    int32_t partition;
    int64_t expected;
    int64_t next;
} rt_part_pos_t;

/* One partition of the current assignment. */
typedef struct rt_part {
    int32_t partition;
    int64_t expected; /* next offset PostgreSQL holds (-1: no row yet); replay: next to apply */
    int64_t end;      /* replay --to-end: stop when expected reaches this (-1: no target) */
    int reading;      /* replay --to-end: in the assignment now (it leaves at its end) */
} rt_part_t;

/* The partitions of the current assignment (v[0..n), malloc'd, owned by the pipeline). */
typedef struct rt_parts {
    rt_part_t *v;
    size_t n;
} rt_parts_t;

/* The entry of partition p, or NULL when it is not assigned. */
static inline rt_part_t *rt_parts_find(const rt_parts_t *ps, int32_t p)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].partition == p)
            return &ps->v[i];
    return NULL;
}

#endif
