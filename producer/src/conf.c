/* Configuration: one table of settings (name, environment variable, type, range, default) from
 * which runtrack_conf_set, runtrack_conf_from_env and the docs come, plus librdkafka properties
 * passed through under "kafka." / RUNTRACK_KAFKA_*. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rt_event.h"
#include "rt_num.h"

/* librdkafka's message.max.bytes for the producer: the largest event the contract allows plus
 * the record's framing (the 36-byte key and librdkafka's per-record overhead bound, under 100
 * bytes). librdkafka's default, 1,000,000, refused events of 1,000,001..1 MiB at produce time. */
#define RT_KAFKA_MESSAGE_MAX_BYTES (RT_EVENT_MAX_BYTES + 1024)

extern char **environ;

void rt_seterr(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

typedef enum { SET_STR, SET_INT } set_type_t;

typedef struct setting {
    const char *name;
    const char *env;
    set_type_t type;
    size_t offset;
    int64_t min, max;
    const char *def;
} setting_t;

#define OFF(f) offsetof(struct runtrack_conf_s, f)
static const setting_t settings[] = {
    {"brokers", "RUNTRACK_BROKERS", SET_STR, OFF(brokers), 0, 0, "localhost:9092"},
    {"topic", "RUNTRACK_TOPIC", SET_STR, OFF(topic), 0, 0, "runtrack.events"},
    {"host", "RUNTRACK_HOST", SET_STR, OFF(host), 0, 0, NULL},
    {"heartbeat.interval.ms", "RUNTRACK_HEARTBEAT_INTERVAL_MS", SET_INT, OFF(heartbeat_interval_ms),
     0, 86400000, "10000"},
    {"log.queue.max", "RUNTRACK_LOG_QUEUE_MAX", SET_INT, OFF(log_queue_max), 0, 100000000, "50000"},
    {"retry.backoff.ms", "RUNTRACK_RETRY_BACKOFF_MS", SET_INT, OFF(retry_backoff_ms), 1, 3600000,
     "1000"},
    {"verbose", "RUNTRACK_VERBOSE", SET_INT, OFF(verbose), 0, 1, "0"},
    {"spool.dir", "RUNTRACK_SPOOL_DIR", SET_STR, OFF(spool_dir), 0, 0, NULL},
    {"spool.max.bytes", "RUNTRACK_SPOOL_MAX_BYTES", SET_INT, OFF(spool_max_bytes), 4096,
     INT64_C(1) << 40, "67108864"},
};
#undef OFF

/* Applies one table setting. Returns 0, or -1 with errstr (source names where it came from). */
static int apply_setting(runtrack_conf_t *conf, const setting_t *st, const char *value,
                         const char *source, char *errstr, size_t errstr_size)
{
    char *base = (char *)conf;
    if (st->type == SET_STR) {
        char **slot = (char **)(base + st->offset);
        if (!*value && !st->def) {
            /* Optional settings (host, spool.dir): "" puts back "not set". */
            free(*slot);
            *slot = NULL;
            return 0;
        }
        if (strlen(value) == 0 || strlen(value) > 1024) {
            rt_seterr(errstr, errstr_size, "%s: must be 1..1024 characters", source);
            return -1;
        }
        char *copy = strdup(value);
        if (!copy) {
            rt_seterr(errstr, errstr_size, "%s: out of memory", source);
            return -1;
        }
        free(*slot);
        *slot = copy;
        return 0;
    }
    int64_t v;
    if (rt_parse_i64(value, st->min, st->max, &v) != 0) {
        rt_seterr(errstr, errstr_size, "%s: \"%s\" is not an integer in %lld..%lld", source, value,
                  (long long)st->min, (long long)st->max);
        return -1;
    }
    *(int64_t *)(base + st->offset) = v;
    return 0;
}

/* Sets a librdkafka property on the pass-through conf, refusing ones the library must own. */
static int apply_kafka(runtrack_conf_t *conf, const char *prop, const char *value,
                       const char *source, char *errstr, size_t errstr_size)
{
    char kerr[512];
    if (strcmp(prop, "enable.idempotence") == 0 && strcmp(value, "true") != 0) {
        rt_seterr(errstr, errstr_size, "%s: runtrack requires enable.idempotence=true", source);
        return -1;
    }
    int64_t max_bytes;
    if (strcmp(prop, "message.max.bytes") == 0 &&
        rt_parse_i64(value, 0, RT_KAFKA_MESSAGE_MAX_BYTES - 1, &max_bytes) == 0) {
        rt_seterr(errstr, errstr_size,
                  "%s: runtrack requires message.max.bytes >= %d (events up to 1 MiB)", source,
                  RT_KAFKA_MESSAGE_MAX_BYTES);
        return -1;
    }
    if (strcmp(prop, "dr_msg_cb") == 0 || strcmp(prop, "opaque") == 0) {
        rt_seterr(errstr, errstr_size, "%s: %s is set by runtrack", source, prop);
        return -1;
    }
    if (rd_kafka_conf_set(conf->kconf, prop, value, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        rt_seterr(errstr, errstr_size, "%s: %s", source, kerr);
        return -1;
    }
    if (strcmp(prop, "bootstrap.servers") == 0 || strcmp(prop, "metadata.broker.list") == 0)
        conf->kafka_bootstrap_set = 1;
    if (strcmp(prop, "message.timeout.ms") == 0 || strcmp(prop, "delivery.timeout.ms") == 0)
        conf->kafka_timeout_set = 1;
    if (strcmp(prop, "compression.type") == 0 || strcmp(prop, "compression.codec") == 0)
        conf->kafka_compression_set = 1;
    return 0;
}

RUNTRACK_API runtrack_conf_t *runtrack_conf_new(void)
{
    runtrack_conf_t *conf = calloc(1, sizeof *conf);
    if (!conf)
        return NULL;
    conf->kconf = rd_kafka_conf_new();
    if (!conf->kconf)
        goto fail;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (settings[i].def &&
            apply_setting(conf, &settings[i], settings[i].def, settings[i].name, NULL, 0) != 0)
            goto fail;
    }
    return conf;
fail:
    runtrack_conf_destroy(conf);
    return NULL;
}

RUNTRACK_API void runtrack_conf_destroy(runtrack_conf_t *conf)
{
    if (!conf)
        return;
    free(conf->brokers);
    free(conf->topic);
    free(conf->host);
    free(conf->spool_dir);
    if (conf->kconf)
        rd_kafka_conf_destroy(conf->kconf);
    free(conf);
}

RUNTRACK_API runtrack_err_t runtrack_conf_set(runtrack_conf_t *conf, const char *key,
                                              const char *value, char *errstr, size_t errstr_size)
{
    if (!conf || !key || !value) {
        rt_seterr(errstr, errstr_size, "conf, key and value are required");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    if (strncmp(key, "kafka.", 6) == 0) {
        if (key[6] == '\0') {
            rt_seterr(errstr, errstr_size, "%s: empty librdkafka property name", key);
            return RUNTRACK_ERR_CONF;
        }
        return apply_kafka(conf, key + 6, value, key, errstr, errstr_size) == 0 ? RUNTRACK_OK
                                                                                : RUNTRACK_ERR_CONF;
    }
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (strcmp(settings[i].name, key) == 0)
            return apply_setting(conf, &settings[i], value, key, errstr, errstr_size) == 0
                       ? RUNTRACK_OK
                       : RUNTRACK_ERR_CONF;
    }
    rt_seterr(errstr, errstr_size, "unknown configuration key \"%s\"", key);
    return RUNTRACK_ERR_CONF;
}

RUNTRACK_API runtrack_err_t runtrack_conf_from_env(runtrack_conf_t *conf, char *errstr,
                                                   size_t errstr_size)
{
    if (!conf) {
        rt_seterr(errstr, errstr_size, "conf is required");
        return RUNTRACK_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const char *v = getenv(settings[i].env);
        if (v && *v && apply_setting(conf, &settings[i], v, settings[i].env, errstr, errstr_size))
            return RUNTRACK_ERR_CONF;
    }
    static const char prefix[] = "RUNTRACK_KAFKA_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *name = *e + sizeof prefix - 1;
        const char *eq = strchr(name, '=');
        if (!eq || eq == name) {
            rt_seterr(errstr, errstr_size, "%.*s: empty librdkafka property name",
                      (int)(eq ? (size_t)(eq - *e) : strlen(*e)), *e);
            return RUNTRACK_ERR_CONF;
        }
        char prop[256];
        size_t n = (size_t)(eq - name);
        if (n >= sizeof prop) {
            rt_seterr(errstr, errstr_size, "%.*s: name too long", 64, *e);
            return RUNTRACK_ERR_CONF;
        }
        for (size_t k = 0; k < n; k++)
            prop[k] = name[k] == '_' ? '.' : (char)tolower((unsigned char)name[k]);
        prop[n] = '\0';
        char source[300];
        snprintf(source, sizeof source, "%.*s", (int)(eq - *e), *e);
        if (apply_kafka(conf, prop, eq + 1, source, errstr, errstr_size) != 0)
            return RUNTRACK_ERR_CONF;
    }
    return RUNTRACK_OK;
}

RUNTRACK_API void runtrack_conf_set_failure_cb(runtrack_conf_t *conf, runtrack_failure_cb *cb,
                                               void *opaque)
{
    if (!conf)
        return;
    conf->failure_cb = cb;
    conf->failure_opaque = opaque;
}

/* 1 if kc's message.max.bytes already lets every event through (set by the user, who may not
 * set it lower: apply_kafka). */
static int message_max_set(rd_kafka_conf_t *kc)
{
    char cur[32];
    size_t cur_size = sizeof cur;
    int64_t v;
    return rd_kafka_conf_get(kc, "message.max.bytes", cur, &cur_size) == RD_KAFKA_CONF_OK &&
           rt_parse_i64(cur, RT_KAFKA_MESSAGE_MAX_BYTES, INT64_MAX, &v) == 0;
}

rd_kafka_conf_t *rt_conf_kafka(const runtrack_conf_t *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_dup(conf->kconf);
    if (!kc) {
        rt_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    char kerr[512];
    char max_bytes[24];
    snprintf(max_bytes, sizeof max_bytes, "%d", RT_KAFKA_MESSAGE_MAX_BYTES);
    /* Idempotence keeps broker-side retries from duplicating or reordering a run's events; an
     * infinite message timeout keeps librdkafka retrying while the broker is gone, so lifecycle
     * events are not failed after the default 5 minutes. */
    if ((!conf->kafka_bootstrap_set &&
         rd_kafka_conf_set(kc, "bootstrap.servers", conf->brokers, kerr, sizeof kerr)) ||
        rd_kafka_conf_set(kc, "enable.idempotence", "true", kerr, sizeof kerr) ||
        /* A value set explicitly is at least this (apply_kafka) and is kept. */
        (!message_max_set(kc) &&
         rd_kafka_conf_set(kc, "message.max.bytes", max_bytes, kerr, sizeof kerr)) ||
        (!conf->kafka_timeout_set &&
         rd_kafka_conf_set(kc, "message.timeout.ms", "0", kerr, sizeof kerr)) ||
        /* Runs' JSON events are repetitive: lz4 batches are several times smaller on the wire
         * and in the broker's log, for little CPU. */
        (!conf->kafka_compression_set &&
         rd_kafka_conf_set(kc, "compression.type", "lz4", kerr, sizeof kerr))) {
        rt_seterr(errstr, errstr_size, "librdkafka configuration: %s", kerr);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    return kc;
}
