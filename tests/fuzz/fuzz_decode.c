/* libFuzzer target: the consumer's event decoder (consumer/ingest/decode.c + jscan.c) on arbitrary
 * bytes, differentially against the jansson decoder it replaced (tests/decode_ref.c). Every
 * input must either decode in both with the same fields (the event's strings are read back,
 * so ASan sees any dangling pointer; object texts must load to jansson's values) or be rejected
 * by both with the same reason and a NUL-terminated detail. The one deliberate difference: a
 * raw NUL byte right after a number or literal, which jansson skips and we reject — checked by
 * asking jansson about the same input with a space there. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/decode.h"
#include "decode_ref.h"

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int obj_eq(const rt_json_text_t *t, json_t *ref)
{
    if (!t->p || !ref)
        return !t->p && !ref;
    json_t *j = json_loadb(t->p, t->n, JSON_REJECT_DUPLICATES, NULL);
    int eq = j && json_equal(j, ref);
    json_decref(j);
    return eq;
}

static int same_event(const rt_event_t *e, const rt_ref_event_t *r)
{
    return !strcmp(e->event_id, r->event_id) && !strcmp(e->run_id, r->run_id) &&
           e->seq == r->seq && e->ts_us == r->ts_us && str_eq(e->ts, r->ts) &&
           e->type == r->type && str_eq(e->job, r->job) && str_eq(e->kind, r->kind) &&
           str_eq(e->producer_host, r->producer_host) && e->producer_pid == r->producer_pid &&
           str_eq(e->producer_lib, r->producer_lib) && str_eq(e->phase, r->phase) &&
           e->has_memory == r->has_memory && e->has_cpu == r->has_cpu &&
           (!e->has_memory || e->memory_percent == r->memory_percent) &&
           (!e->has_cpu || e->cpu_percent == r->cpu_percent) && e->level == r->level &&
           str_eq(e->message, r->message) && (!e->message || e->message_len == strlen(r->message)) &&
           e->status == r->status && str_eq(e->error_message, r->error_message) &&
           e->has_dropped_logs == r->has_dropped_logs && e->dropped_logs == r->dropped_logs &&
           obj_eq(&e->start_counts, r->start_counts) && obj_eq(&e->params, r->params) &&
           obj_eq(&e->planned, r->planned) && obj_eq(&e->counters, r->counters) &&
           obj_eq(&e->end_counts, r->end_counts) && obj_eq(&e->fields, r->fields) &&
           obj_eq(&e->error_details, r->error_details);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_event_t ev;
    rt_ref_event_t rf;
    rt_dead_reason_t why = RT_DEAD_NONE, rwhy = RT_DEAD_NONE;
    char detail[512], rdetail[512];
    /* A small limit too, so the oversize path is fuzzed as well. */
    size_t max = (size > 0 && data[0] == 'X') ? 64 : 1 << 20;
    detail[0] = '\0';
    int rc = rt_decode(data, size, max, &ev, &why, detail, sizeof detail);
    int rrc = rt_decode_ref(data, size, max, &rf, &rwhy, rdetail, sizeof rdetail);
    size_t nul;
    const char *d = strstr(detail, ": NUL byte");
    if (rc != 0 && why == RT_DEAD_INVALID_JSON && d && sscanf(detail, "byte %zu", &nul) == 1 &&
        nul > 0 && nul < size &&
        ((data[nul - 1] >= '0' && data[nul - 1] <= '9') ||
         (data[nul - 1] >= 'a' && data[nul - 1] <= 'z'))) {
        uint8_t *q = malloc(size);
        rt_ref_event_t r3;
        rt_dead_reason_t w3 = RT_DEAD_NONE;
        char d3[512];
        if (!q)
            abort();
        memcpy(q, data, size);
        q[nul] = ' ';
        int rc3 = rt_decode_ref(q, size, max, &r3, &w3, d3, sizeof d3);
        if (rc3 != rrc || w3 != rwhy)
            abort(); /* not the known jansson quirk */
        if (rc3 == 0)
            rt_ref_event_clear(&r3);
        free(q);
    } else if (rc != rrc || why != rwhy) {
        abort(); /* different verdicts */
    }
    if (rc == 0) {
        size_t n = strlen(ev.run_id) + strlen(ev.event_id) + strlen(ev.ts);
        if (ev.job)
            n += strlen(ev.job);
        if (ev.kind)
            n += strlen(ev.kind);
        if (ev.message)
            n += strlen(ev.message);
        if (ev.phase)
            n += strlen(ev.phase);
        if (n == 0 || why != RT_DEAD_NONE)
            abort(); /* decoded events always carry ids and a time */
        if (rrc == 0 && !same_event(&ev, &rf))
            abort(); /* same verdict, different fields */
        rt_event_clear(&ev);
    } else {
        if (why == RT_DEAD_NONE || why >= RT_DEAD__COUNT || strlen(detail) >= sizeof detail)
            abort(); /* a rejection always says why */
        if (!rt_dead_reason_name(why))
            abort();
    }
    if (rrc == 0)
        rt_ref_event_clear(&rf);
    return 0;
}
