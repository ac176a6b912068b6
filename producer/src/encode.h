/* JSON encoding of runtrack events (docs/events.md). Hand-written, append-only into a growable
 * buffer; strings go through rt_json_escape so the output is always valid JSON. Internal to
 * libruntrack (hidden symbols), unit-tested through the static library. */
#ifndef RT_PRODUCER_ENCODE_H
#define RT_PRODUCER_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "rt_buf.h"
#include "rt_event.h"

/* A JSON number for a percentage already checked to be finite. */
void rt_buf_add_pct(rt_buf_t *b, double v);

/* Counter map entries as stored by the library: copied names, absolute values. */
typedef struct rt_ctr {
    char name[RT_COUNTER_NAME_MAX + 1];
    int64_t value;
} rt_ctr_t;

/* One member of a counter map: `"name":value`, preceded by ',' unless i (its index) is 0. The
 * name must be valid (rt_counter_name_valid): it is written unescaped. */
void rt_enc_counter(rt_buf_t *b, size_t i, const char *name, int64_t value);

/* {"a":1,"b":2} */
void rt_enc_counters(rt_buf_t *b, const rt_ctr_t *c, size_t n);

/* The envelope around an already-encoded data object:
 * {"v":1,"event_id":..,"run_id":..,"seq":..,"ts":..,"type":..,<run_tail>,"data":<data>}
 * run_tail is the pre-encoded `"job":..,"kind":..,"producer":{..}` of the run. Returns 0, or -1
 * when the time cannot be formatted. */
int rt_enc_envelope(rt_buf_t *b, const char *event_id, const char *run_id, int64_t seq,
                    int64_t ts_us, const char *type, const char *run_tail, const char *data,
                    size_t data_len);

/* `"job":"..","kind":"..","producer":{"host":"..","pid":N,"lib":".."}` */
void rt_enc_run_tail(rt_buf_t *b, const char *job, const char *kind, const char *host, long pid,
                     const char *lib);

/* Length of s[0..n) cut to at most max bytes without splitting a UTF-8 sequence. */
size_t rt_utf8_cut(const char *s, size_t n, size_t max);

/* Checks that json is one JSON object and appends its compact form to b. Returns 0, or -1 with
 * a message in errstr. */
int rt_enc_json_object(rt_buf_t *b, const char *json, char *errstr, size_t errstr_size);

/* For kind "discovery": naics_codes must be an array of strings and posted_from/posted_to
 * "YYYY-MM-DD" when present (they fill typed discovery_runs columns). 0, or -1 with errstr. */
int rt_check_discovery_params(const char *json, char *errstr, size_t errstr_size);

#endif
