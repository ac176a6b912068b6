/* A slab of fixed-size slots for queued log events, owned by one client handle.
 *
 * Why: a scraper that logs faster than the broker drains queues tens of thousands of events;
 * with one malloc per event and the free on another thread, glibc grows and trims the caller's
 * arena over and over (sysmalloc + page faults were ~40% of a burst). Slots are carved from
 * chunks that stay mapped while they are used, and recycled without touching the allocator.
 *
 * Threads: everything marked "lock held" runs under the owner's lock (runtrack_s.lock).
 * rt_pool_put_deferred is for the one thread that frees events (the client's background thread,
 * or the destroying thread after it joined): it parks slots on a private list that
 * rt_pool_reclaim (lock held) splices back, so freeing needs no lock per event.
 *
 * Memory: the slots of a pool never exceed the max_total the caller passes to rt_pool_get, and
 * all chunks are given back once the pool was idle for a while (rt_pool_tick) or at
 * rt_pool_free. Under AddressSanitizer, free slots are poisoned (all but their link word), so
 * a use after recycling is still reported. */
#ifndef RT_PRODUCER_POOL_H
#define RT_PRODUCER_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_pool_chunk rt_pool_chunk_t;

typedef struct rt_pool {
    size_t slot_size; /* bytes per slot, a multiple of 16 */
    /* lock held */
    void *free;              /* recycled slots, linked through their first word */
    rt_pool_chunk_t *chunks; /* newest first; only the newest has never-used slots */
    size_t total;            /* slots in all chunks */
    size_t in_use;           /* handed out, not yet back on free */
    uint64_t gets, gets_seen;
    int quiet_ticks;
    rt_pool_chunk_t *spare; /* chunks made ahead by the freeing thread (not in total) */
    atomic_int want_spare;  /* the pool grew: the freeing thread should make the next chunk */
    /* the freeing thread only */
    void *ret_head, *ret_tail;
    size_t ret_n;
} rt_pool_t;

/* Sets up an empty pool of slot_size-byte slots (rounded up to 16). Allocates nothing. */
void rt_pool_init(rt_pool_t *p, size_t slot_size);

/* Lock held. Returns a slot (contents undefined), or NULL when the pool has no free slot and
 * may not grow (total would exceed max_total) or memory is short; the caller falls back to
 * malloc. Grows by a chunk of about the slots it already has (at least 32, at most 2 MiB). */
void *rt_pool_get(rt_pool_t *p, size_t max_total);

/* Growing ahead: mapping and populating a chunk is the expensive part of growth (fresh pages),
 * so when a caller grows the pool it sets want_spare, and the freeing thread, which is not
 * timed by anyone, makes the next chunk: rt_pool_spare_wanted (lock held) says how many slots
 * (0 = none needed; clears want_spare), rt_pool_chunk_new (no lock) makes it and
 * rt_pool_spare_set (lock held) installs it; the next growth takes it at no cost. At most two
 * spare chunks (up to 2 MiB each) exist per pool, beyond max_total slots. */
size_t rt_pool_spare_wanted(rt_pool_t *p, size_t max_total);
rt_pool_chunk_t *rt_pool_chunk_new(size_t slot_size, size_t n);
void rt_pool_spare_set(rt_pool_t *p, rt_pool_chunk_t *c);

/* Lock held. Returns a slot obtained from rt_pool_get and never handed on. */
void rt_pool_put(rt_pool_t *p, void *slot);

/* The freeing thread (see above). Parks a slot until the next rt_pool_reclaim. */
void rt_pool_put_deferred(rt_pool_t *p, void *slot);

/* Lock held, called by the freeing thread: puts the parked slots back on the free list. */
void rt_pool_reclaim(rt_pool_t *p);

/* Lock held, called by the freeing thread a few times a second: reclaims, and gives every
 * chunk back once no slot was in use and none was taken for idle_ticks calls in a row.
 * Returns the number of slots released. */
size_t rt_pool_tick(rt_pool_t *p, int idle_ticks);

/* Frees every chunk and the spare (all slots must be unused or abandoned). The pool can be used
 * again. */
void rt_pool_free(rt_pool_t *p);

#endif
