/* Fixed-size slot pool for queued log events; see pool.h for the threading contract. */
#include "pool.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define RT_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_POOL_ASAN 1
#endif
#endif

#ifdef RT_POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(a, n)   ASAN_POISON_MEMORY_REGION((a), (n))
#define UNPOISON(a, n) ASAN_UNPOISON_MEMORY_REGION((a), (n))
#else
#define POISON(a, n)   ((void)(a), (void)(n))
#define UNPOISON(a, n) ((void)(a), (void)(n))
#endif

#define CHUNK_MIN  32
#define SPARES_MAX 2 /* chunks made ahead: one was not enough to stay ahead of a burst */
#define CHUNK_HUGE ((size_t)2 << 20) /* a transparent huge page */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL and we fault lazily */
#endif

struct rt_pool_chunk {
    rt_pool_chunk_t *next;
    size_t bytes; /* mapping size */
    size_t n;     /* slots in this chunk */
    size_t used;  /* slots handed out at least once (bump index) */
    _Alignas(16) unsigned char slots[];
};

/* A free slot keeps only its link word readable: anything else touching it is a bug. */
static void poison_free_slot(const rt_pool_t *p, void *slot)
{
    POISON((char *)slot + sizeof(void *), p->slot_size - sizeof(void *));
    (void)p;
    (void)slot;
}

void rt_pool_init(rt_pool_t *p, size_t slot_size)
{
    *p = (rt_pool_t){0};
    atomic_init(&p->want_spare, 0);
    p->slot_size = (slot_size + 15) & ~(size_t)15;
}

/* Maps `bytes` of fresh memory with every page already present, or returns NULL.
 *
 * Why not malloc: the first write to each fresh 4 KiB page traps (in a VM with shadow paging it
 * costs ~15 us even after MAP_POPULATE), and during a burst those traps were most of a log
 * call's time, on the caller's thread. So: chunks of 2 MiB are aligned and advised as a huge
 * page (one fault instead of 512), and all chunks are populated here, in one call, while the
 * chunk is created. */
static void *map_chunk(size_t bytes)
{
    if (bytes != CHUNK_HUGE)
        return mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                    -1, 0);
    /* Over-map by 2 MiB and trim to a 2 MiB-aligned window. */
    char *m =
        mmap(NULL, 2 * CHUNK_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return MAP_FAILED;
    uintptr_t a = ((uintptr_t)m + CHUNK_HUGE - 1) & ~(uintptr_t)(CHUNK_HUGE - 1);
    size_t head = (size_t)(a - (uintptr_t)m);
    if (head)
        munmap(m, head);
    if (CHUNK_HUGE - head)
        munmap((char *)a + CHUNK_HUGE, CHUNK_HUGE - head);
    void *c = (void *)a;
    (void)madvise(c, CHUNK_HUGE, MADV_HUGEPAGE); /* a hint: without THP we get 4 KiB pages */
    (void)madvise(c, CHUNK_HUGE, MADV_POPULATE_WRITE);
    return c;
}

/* Slots in the next chunk of a pool of `total` slots, at most room (0 = none). Chunks double
 * with the pool up to 2 MiB. */
static size_t next_chunk_slots(size_t slot_size, size_t total, size_t room)
{
    size_t huge_n = (CHUNK_HUGE - sizeof(rt_pool_chunk_t)) / slot_size;
    size_t n = total < CHUNK_MIN ? CHUNK_MIN : total;
    if (n >= huge_n / 2)
        n = huge_n;
    return n > room ? room : n;
}

rt_pool_chunk_t *rt_pool_chunk_new(size_t slot_size, size_t n)
{
    size_t huge_n = (CHUNK_HUGE - sizeof(rt_pool_chunk_t)) / slot_size;
    size_t bytes = n == huge_n ? CHUNK_HUGE : sizeof(rt_pool_chunk_t) + n * slot_size;
    void *m = map_chunk(bytes);
    if (m == MAP_FAILED)
        return NULL;
    rt_pool_chunk_t *c = m;
    c->bytes = bytes;
    c->next = NULL;
    c->n = n;
    c->used = 0;
    POISON(c->slots, n * slot_size);
    return c;
}

size_t rt_pool_spare_wanted(rt_pool_t *p, size_t max_total)
{
    atomic_store(&p->want_spare, 0);
    size_t planned = p->total; /* as if the spares were in use already */
    int n = 0;
    for (rt_pool_chunk_t *c = p->spare; c; c = c->next, n++)
        planned += c->n;
    if (n >= SPARES_MAX || planned >= max_total)
        return 0;
    return next_chunk_slots(p->slot_size, planned, max_total - planned);
}

void rt_pool_spare_set(rt_pool_t *p, rt_pool_chunk_t *c)
{
    /* Appended: the oldest (smallest) spare is used first. */
    rt_pool_chunk_t **pp = &p->spare;
    int n = 0;
    for (; *pp; pp = &(*pp)->next)
        n++;
    c->next = NULL;
    *pp = c;
    if (n + 1 < SPARES_MAX)
        atomic_store(&p->want_spare, 1); /* and the one after */
}

/* Adds a chunk of at most room slots (the oldest spare if it fits), handed out by bumping
 * chunk->used, and asks for another spare. Returns 0, or -1 (no room, no memory). */
static int grow(rt_pool_t *p, size_t room)
{
    rt_pool_chunk_t *c = NULL;
    if (p->spare && p->spare->n <= room) {
        c = p->spare;
        p->spare = c->next;
    } else {
        size_t n = next_chunk_slots(p->slot_size, p->total, room);
        if (n == 0 || !(c = rt_pool_chunk_new(p->slot_size, n)))
            return -1;
    }
    c->next = p->chunks;
    p->chunks = c;
    p->total += c->n;
    if (room > c->n) /* more may come: make the next chunk ahead */
        atomic_store(&p->want_spare, 1);
    return 0;
}

void *rt_pool_get(rt_pool_t *p, size_t max_total)
{
    void *s = p->free;
    if (s) {
        UNPOISON(s, p->slot_size);
        p->free = *(void **)s;
        goto out;
    }
    rt_pool_chunk_t *c = p->chunks;
    if (!c || c->used == c->n) {
        if (p->total >= max_total || grow(p, max_total - p->total) != 0)
            return NULL;
        c = p->chunks;
    }
    s = c->slots + c->used * p->slot_size;
    c->used++;
    UNPOISON(s, p->slot_size);
    if (c->used < c->n) {
        /* The next fresh slot is cold (populated long ago, on another core): start loading its
         * lines now so the next caller's writes do not stall on them. */
        const char *next = (const char *)s + p->slot_size;
        for (size_t off = 0; off < p->slot_size; off += 64)
            __builtin_prefetch(next + off, 1);
    }
out:
    p->in_use++;
    p->gets++;
    return s;
}

void rt_pool_put(rt_pool_t *p, void *slot)
{
    *(void **)slot = p->free;
    p->free = slot;
    poison_free_slot(p, slot);
    p->in_use--;
}

void rt_pool_put_deferred(rt_pool_t *p, void *slot)
{
    *(void **)slot = NULL;
    if (p->ret_tail)
        *(void **)p->ret_tail = slot;
    else
        p->ret_head = slot;
    p->ret_tail = slot;
    p->ret_n++;
    poison_free_slot(p, slot);
}

void rt_pool_reclaim(rt_pool_t *p)
{
    if (!p->ret_head)
        return;
    *(void **)p->ret_tail = p->free;
    p->free = p->ret_head;
    p->in_use -= p->ret_n;
    p->ret_head = p->ret_tail = NULL;
    p->ret_n = 0;
}

size_t rt_pool_tick(rt_pool_t *p, int idle_ticks)
{
    rt_pool_reclaim(p);
    if (p->in_use || p->gets != p->gets_seen) {
        p->gets_seen = p->gets;
        p->quiet_ticks = 0;
        return 0;
    }
    if (!p->chunks || ++p->quiet_ticks < idle_ticks)
        return 0;
    /* Idle for a while: a burst is over, give its memory back (the next log grows a small
     * chunk again). */
    size_t n = p->total;
    rt_pool_free(p);
    return n;
}

/* Unmaps every chunk of a list of slot_size-byte slots. */
static void unmap_chunks(rt_pool_chunk_t *c, size_t slot_size)
{
    while (c) {
        rt_pool_chunk_t *next = c->next;
        UNPOISON(c->slots, c->n * slot_size);
        munmap(c, c->bytes);
        c = next;
    }
}

void rt_pool_free(rt_pool_t *p)
{
    unmap_chunks(p->chunks, p->slot_size);
    p->chunks = NULL;
    unmap_chunks(p->spare, p->slot_size);
    p->spare = NULL;
    atomic_store(&p->want_spare, 0);
    p->free = p->ret_head = p->ret_tail = NULL;
    p->total = p->in_use = p->ret_n = 0;
    p->quiet_ticks = 0;
}
