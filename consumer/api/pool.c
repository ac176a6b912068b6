/* The HTTP API's connection pool (pool.h). */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "db/connect.h"

struct rt_pool_slot {
    PGconn *conn;
    int busy;
};

struct rt_pool {
    const char *dsn;
    unsigned statement_timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot was released */
    rt_pool_slot_t *slots;
    unsigned nslots;
};

rt_pool_t *rt_pool_new(const char *dsn, unsigned size, unsigned statement_timeout_ms)
{
    rt_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->slots = calloc(size, sizeof *p->slots);
    if (!p->slots) {
        free(p);
        return NULL;
    }
    p->dsn = dsn;
    p->nslots = size;
    p->statement_timeout_ms = statement_timeout_ms;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p;
}

void rt_pool_free(rt_pool_t *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->nslots; i++)
        PQfinish(p->slots[i].conn);
    free(p->slots);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static void slot_free(rt_pool_t *p, rt_pool_slot_t *s)
{
    pthread_mutex_lock(&p->mu);
    s->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

rt_pool_slot_t *rt_pool_acquire(rt_pool_t *p, int *busy, char *err, size_t errsize)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += p->statement_timeout_ms / 1000 + 1;
    rt_pool_slot_t *slot = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (unsigned i = 0; i < p->nslots; i++)
            if (!p->slots[i].busy) {
                slot = &p->slots[i];
                break;
            }
        if (slot)
            break;
        if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT)
            break;
    }
    if (slot)
        slot->busy = 1;
    pthread_mutex_unlock(&p->mu);
    *busy = !slot;
    if (!slot)
        return NULL;
    if (slot->conn && PQstatus(slot->conn) != CONNECTION_OK) {
        PQfinish(slot->conn);
        slot->conn = NULL;
    }
    if (!slot->conn) {
        slot->conn =
            rt_db_connect(p->dsn, "runtrack-api", 1, p->statement_timeout_ms, err, errsize);
        if (!slot->conn) {
            slot_free(p, slot);
            return NULL;
        }
    }
    return slot;
}

PGconn *rt_pool_conn(const rt_pool_slot_t *s)
{
    return s->conn;
}

void rt_pool_release(rt_pool_t *p, rt_pool_slot_t *s)
{
    if (!s)
        return;
    if (s->conn &&
        (PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) != PQTRANS_IDLE)) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    slot_free(p, s);
}
