#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_buf.h"

/* Where a record's bytes are in the batch's byte store. */
typedef struct rec {
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms;
    size_t at;      /* key bytes, then payload bytes */
    size_t key_len; /* SIZE_MAX: no key */
    size_t len;     /* SIZE_MAX: no payload */
} rec_t;

struct rt_batch {
    char *topic;
    size_t max_event_bytes;
    rec_t *recs;
    size_t n, recs_cap;
    rt_buf_t bytes; /* the records' keys and payloads */
    rt_agg_t *agg;
    rt_buf_t logs, dead;
    rt_batch_result_t res;
};

/* Whether the record's Kafka key names the event's run: producers key by run_id (the library,
 * the CLI, docs/events.md), which is what keeps one run's events on one partition and in order.
 * A record keyed otherwise (or not at all) may sit on another partition than its run's other
 * events, so its place among them is unknown: it is not trusted to touch the run. The decoder
 * stores run_id in lower case; the key may be in either case. */
static int key_names_run(const rt_in_msg_t *m)
{
    if (!m->key || m->key_len != 36)
        return 0;
    const char *k = m->key;
    for (size_t i = 0; i < 36; i++) {
        char c = (k[i] >= 'A' && k[i] <= 'F') ? (char)(k[i] - 'A' + 'a') : k[i];
        if (c != m->ev.run_id[i])
            return 0;
    }
    return 1;
}

void rt_in_msg_decode(rt_in_msg_t *m, size_t max_bytes)
{
    m->ok =
        rt_decode(m->payload, m->len, max_bytes, &m->ev, &m->why, m->detail, sizeof m->detail) == 0;
    if (m->ok && !key_names_run(m)) {
        char detail[160];
        if (!m->key)
            snprintf(detail, sizeof detail, "the record has no Kafka key; run_id is %s",
                     m->ev.run_id);
        else
            snprintf(detail, sizeof detail,
                     "the Kafka key (%zu bytes) is not the run_id %s the event carries", m->key_len,
                     m->ev.run_id);
        rt_in_msg_reject(m, RT_DEAD_KEY_MISMATCH, detail);
    }
}

void rt_in_msg_reject(rt_in_msg_t *m, rt_dead_reason_t why, const char *detail)
{
    rt_event_clear(&m->ev);
    m->ok = 0;
    m->why = why;
    snprintf(m->detail, sizeof m->detail, "%s", detail);
}

void rt_in_msg_clear(rt_in_msg_t *m)
{
    rt_event_clear(&m->ev);
}

rt_batch_t *rt_batch_new(const char *topic, size_t max_event_bytes)
{
    rt_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->topic = strdup(topic ? topic : "");
    b->agg = rt_agg_new();
    b->max_event_bytes = max_event_bytes;
    if (!b->topic || !b->agg) {
        rt_batch_free(b);
        return NULL;
    }
    return b;
}

void rt_batch_free(rt_batch_t *b)
{
    if (!b)
        return;
    free(b->topic);
    free(b->recs);
    rt_buf_free(&b->bytes);
    rt_agg_free(b->agg);
    rt_buf_free(&b->logs);
    rt_buf_free(&b->dead);
    free(b);
}

void rt_batch_reset(rt_batch_t *b)
{
    b->n = 0;
    rt_buf_reset(&b->bytes);
    rt_agg_reset(b->agg);
    rt_buf_reset(&b->logs);
    rt_buf_reset(&b->dead);
    memset(&b->res, 0, sizeof b->res);
}

/* The fold, the one place a record turns into the batch's rows: a decoded event goes into its
 * run's aggregate (and run_logs for a run.log), unless it breaks a rule against the run; a
 * record that could not be decoded, or broke the rule, becomes a dead-letter row. Returns 0, or
 * -1 when out of memory. */
int rt_batch_fold(rt_batch_t *b, rt_in_msg_t *m)
{
    rt_dead_reason_t why = m->ok ? RT_DEAD_NONE : m->why;
    m->rule_dead = 0;
    if (m->ok) {
        int a = rt_agg_add(b->agg, &m->ev, m->rule_detail, sizeof m->rule_detail);
        if (a == -2)
            return -1;
        if (a == -1 || a == -3) {
            m->rule_dead = 1;
            why = a == -1 ? RT_DEAD_RULE : RT_DEAD_RUN_REMOVED;
        } else {
            b->res.by_type[m->ev.type]++;
            if (m->ev.type == RT_EV_LOG) {
                rt_copy_log_row(&b->logs, &m->ev);
                b->res.logs++;
            }
        }
    }
    if (why != RT_DEAD_NONE) {
        rt_copy_dead_row(&b->dead, b->topic, m->partition, m->offset, m->key, m->key_len,
                         m->payload, m->len, m->kafka_ts_ms, why,
                         m->rule_dead ? m->rule_detail : m->detail);
        b->res.dead++;
        b->res.dead_by_reason[why]++;
    }
    return b->logs.oom || b->dead.oom ? -1 : 0;
}

int rt_batch_add(rt_batch_t *b, int32_t partition, int64_t offset, int64_t kafka_ts_ms,
                 const void *key, size_t key_len, const void *payload, size_t len)
{
    rec_t *nr = rt_grow(b->recs, b->n, &b->recs_cap, sizeof *nr, 1024);
    if (!nr)
        return -1;
    b->recs = nr;
    rec_t *r = &b->recs[b->n];
    r->partition = partition;
    r->offset = offset;
    r->kafka_ts_ms = kafka_ts_ms;
    r->at = b->bytes.len;
    r->key_len = key ? key_len : SIZE_MAX;
    r->len = payload ? len : SIZE_MAX;
    if (key)
        rt_buf_add(&b->bytes, key, key_len);
    if (payload)
        rt_buf_add(&b->bytes, payload, len);
    if (b->bytes.oom)
        return -1;
    b->n++;

    /* Decoded from the caller's bytes: the event's object texts point into them, and the
     * aggregate copies what it keeps before they go. */
    rt_in_msg_t m;
    m.partition = partition;
    m.offset = offset;
    m.kafka_ts_ms = kafka_ts_ms;
    m.key = key;
    m.key_len = key_len;
    m.payload = payload;
    m.len = len;
    memset(&m.ev, 0, sizeof m.ev);
    rt_in_msg_decode(&m, b->max_event_bytes);
    int rc = rt_batch_fold(b, &m);
    rt_in_msg_clear(&m);
    return rc;
}

void rt_batch_set_clock_skew(rt_batch_t *b, int max_skew_s)
{
    rt_agg_set_clock_skew(b->agg, max_skew_s);
}

size_t rt_batch_count(const rt_batch_t *b)
{
    return b->n;
}

void rt_batch_position(const rt_batch_t *b, size_t i, int32_t *partition, int64_t *offset)
{
    *partition = b->recs[i].partition;
    *offset = b->recs[i].offset;
}

rt_agg_t *rt_batch_agg(rt_batch_t *b)
{
    return b->agg;
}

const rt_buf_t *rt_batch_logs(const rt_batch_t *b)
{
    return &b->logs;
}

const rt_buf_t *rt_batch_dead(const rt_batch_t *b)
{
    return &b->dead;
}

const rt_batch_result_t *rt_batch_result(const rt_batch_t *b)
{
    return &b->res;
}

size_t rt_batch_msgs(const rt_batch_t *b, rt_in_msg_t **out)
{
    rt_in_msg_t *m = calloc(b->n ? b->n : 1, sizeof *m);
    if (!m)
        return (size_t)-1;
    for (size_t i = 0; i < b->n; i++) {
        const rec_t *r = &b->recs[i];
        /* bytes.data is NULL only when no record had a key or payload */
        const char *at = b->bytes.data ? b->bytes.data + r->at : NULL;
        m[i].partition = r->partition;
        m[i].offset = r->offset;
        m[i].kafka_ts_ms = r->kafka_ts_ms;
        if (r->key_len != SIZE_MAX) {
            m[i].key = at;
            m[i].key_len = r->key_len;
            at += r->key_len;
        }
        if (r->len != SIZE_MAX) {
            m[i].payload = at;
            m[i].len = r->len;
        }
        rt_in_msg_decode(&m[i], b->max_event_bytes);
    }
    *out = m;
    return b->n;
}
