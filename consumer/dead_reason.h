/* Why a Kafka record became a dead letter: one list, from which the enum, the names stored in
 * dead_letters.reason and the /metrics labels all come. Header-only so that the metrics
 * counters (metrics.h) and the decoder (ingest/decode.h) share it without linking each other. Append,
 * never renumber. The identity reasons (docs/decisions.md, "A run's identity"): key_mismatch, the
 * Kafka key is not the body's run_id (or is missing); nil_run_id, the run_id is the nil UUID;
 * run_removed, the run was deleted by retention and a late event must not recreate it. */
#ifndef RT_CONSUMER_DEAD_REASON_H
#define RT_CONSUMER_DEAD_REASON_H

#define RT_DEAD_REASONS(X)                                                                         \
    X(NONE, "none")                                                                                \
    X(INVALID_JSON, "invalid_json")                                                                \
    X(SCHEMA, "schema")                                                                            \
    X(UNKNOWN_TYPE, "unknown_type")                                                                \
    X(UNSUPPORTED_VERSION, "unsupported_version")                                                  \
    X(OVERSIZE, "oversize")                                                                        \
    X(RULE, "rule")                                                                                \
    X(KEY_MISMATCH, "key_mismatch")                                                                \
    X(NIL_RUN_ID, "nil_run_id")                                                                    \
    X(RUN_REMOVED, "run_removed")

typedef enum rt_dead_reason {
#define X(n, s) RT_DEAD_##n,
    RT_DEAD_REASONS(X)
#undef X
        RT_DEAD__COUNT
} rt_dead_reason_t;

/* The reason's name ("invalid_json", ...), "unknown" for an out-of-range value. */
static inline const char *rt_dead_reason_name(rt_dead_reason_t r)
{
    static const char *const names[] = {
#define X(n, s) s,
        RT_DEAD_REASONS(X)
#undef X
    };
    return (unsigned)r < RT_DEAD__COUNT ? names[r] : "unknown";
}

#endif
