/* The HTTP API's PostgreSQL connection pool: a fixed number of read-only sessions
 * (db/connect.h) opened lazily and reopened after a failure, handed to one request at a time. */
#ifndef RT_API_POOL_H
#define RT_API_POOL_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct rt_pool rt_pool_t;
typedef struct rt_pool_slot rt_pool_slot_t;

/* A pool of size sessions on dsn (both read, never copied: they must outlive the pool) with
 * statement_timeout_ms per statement. NULL when out of memory. Connects nothing yet. */
rt_pool_t *rt_pool_new(const char *dsn, unsigned size, unsigned statement_timeout_ms);
/* Closes every session and frees p (no slot may be in use). NULL is a no-op. */
void rt_pool_free(rt_pool_t *p);

/* Takes a free slot, waiting up to the statement timeout, and (re)connects it if needed.
 * Returns it, or NULL with *busy = 1 (every slot stayed in use) or *busy = 0 and a one-line
 * reason in err (PostgreSQL unreachable). Thread: any; blocks. */
rt_pool_slot_t *rt_pool_acquire(rt_pool_t *p, int *busy, char *err, size_t errsize);
/* The slot's open session. */
PGconn *rt_pool_conn(const rt_pool_slot_t *s);
/* Gives the slot back; a session left broken or inside a transaction is closed first, so the
 * next request never inherits its state. NULL is a no-op. */
void rt_pool_release(rt_pool_t *p, rt_pool_slot_t *s);

#endif
