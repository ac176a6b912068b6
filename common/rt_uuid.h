/* UUIDs for run and event ids: version 7 (RFC 9562), time-ordered so that ids sort by
 * creation time and B-tree inserts stay local. */
#ifndef RT_UUID_H
#define RT_UUID_H

#include <stdint.h>

#define RT_UUID_STRLEN 37 /* 36 characters plus NUL */

/* A small non-cryptographic generator (xoshiro256**) owned by its caller; not thread-safe,
 * so each owner (a client, under its lock, or a thread) keeps its own. */
typedef struct rt_rng {
    uint64_t s[4];
} rt_rng_t;

/* Seeds from getrandom(2). Returns 0, or -1 if the kernel gave no entropy (then it is seeded
 * from time and pid, which is still unique enough for ids but says so to the caller). */
int rt_rng_seed(rt_rng_t *rng);
uint64_t rt_rng_next(rt_rng_t *rng);

/* Writes a lowercase UUIDv7 for the time now_us into out (RT_UUID_STRLEN bytes). */
void rt_uuid_v7(rt_rng_t *rng, int64_t now_us, char out[RT_UUID_STRLEN]);

/* 1 if s is a canonical 8-4-4-4-12 hex UUID (either case), else 0. */
int rt_uuid_valid(const char *s);

#endif
