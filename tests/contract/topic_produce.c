/* topic_produce BROKERS TOPIC < lines: produces one record per input line "HEXKEY<TAB>HEXVALUE"
 * (hex so that any bytes, newlines included, can be sent; an empty HEXKEY sends no key), in
 * order, then waits for every delivery. Exits 0 when all were delivered, 1 otherwise. A test
 * tool: the contract tests put exact example bytes on the topic with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka_tool.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes n hex digits at s into out (n/2 bytes). Returns 0, or -1 on a bad digit or odd n. */
static int unhex(const char *s, size_t n, unsigned char *out)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        int *failed = m->_private;
        fprintf(stderr, "topic_produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
        (*failed)++;
    }
}

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;
    unsigned char *key = NULL, *val = NULL;
    int rc = 1, failed = 0, sent = 0;
    rd_kafka_t *rk = NULL;

    if (argc != 3) {
        fprintf(stderr, "usage: topic_produce BROKERS TOPIC < HEXKEY<TAB>HEXVALUE lines\n");
        return 64;
    }
    static const char *const settings[][2] = {
        {"enable.idempotence", "true"}, {"message.max.bytes", "4000000"}, {NULL, NULL}};
    rk = kafka_tool_client("topic_produce", RD_KAFKA_PRODUCER, argv[1], settings, dr_cb);
    if (!rk)
        return 1;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) {
            fprintf(stderr, "topic_produce: line without TAB\n");
            goto out;
        }
        size_t kl = (size_t)(tab - line), vl = (size_t)n - kl - 1;
        free(key);
        free(val);
        key = malloc(kl / 2 + 1);
        val = malloc(vl / 2 + 1);
        if (!key || !val || unhex(line, kl, key) || unhex(tab + 1, vl, val)) {
            fprintf(stderr, "topic_produce: bad hex or out of memory\n");
            goto out;
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(kl ? key : NULL, kl / 2), RD_KAFKA_V_VALUE(val, vl / 2),
            RD_KAFKA_V_OPAQUE(&failed), RD_KAFKA_V_END);
        if (e) {
            fprintf(stderr, "topic_produce: %s\n", rd_kafka_err2str(e));
            goto out;
        }
        sent++;
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "topic_produce: flush timed out\n");
        goto out;
    }
    rc = failed ? 1 : 0;
    fprintf(stderr, "topic_produce: %d records sent, %d failed\n", sent, failed);
out:
    free(line);
    free(key);
    free(val);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}
