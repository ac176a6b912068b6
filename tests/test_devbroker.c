/* Integration test: the dev broker serves what runtrack's clients rely on — an idempotent
 * producer (InitProducerId), keyed messages keeping per-key order, a consumer group
 * (FindCoordinator/JoinGroup/SyncGroup/Heartbeat), and offset commit + fetch that a later
 * member of the same group resumes from.
 *
 * Runs under tests/lib/with_services.sh: RUNTRACK_BROKERS and RUNTRACK_TOPIC (fresh, 4
 * partitions) come from the environment. Waits are bounded (hang guards), never asserted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"

#define N_MSGS        1000
#define N_KEYS        10
#define N_MORE        10
#define HANG_GUARD_MS 60000

typedef struct delivery {
    int ok;
    int failed;
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    delivery_t *d = opaque;

    (void)rk;
    if (m->err) {
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        d->failed++;
    } else {
        d->ok++;
    }
}

/* Progress lines with elapsed seconds: diagnostics for a slow run, never asserted. */
static void phase(const char *what)
{
    static struct timespec t0;
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (t0.tv_sec == 0)
        t0 = now;
    fprintf(stderr, "[%6.2f s] %s\n",
            (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9, what);
}

static const char *env_or_die(const char *name)
{
    const char *v = getenv(name);

    if (!v || !*v) {
        fprintf(stderr, "%s is not set (run under tests/lib/with_services.sh)\n", name);
        exit(2);
    }
    return v;
}

/* Produce messages first..first+count-1 with key "k<i % N_KEYS>" and value "<key>:<i>". */
static int produce(int first, int count, delivery_t *d)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    int i, rc = -1;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", env_or_die("RUNTRACK_BROKERS"), errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    for (i = first; i < first + count; i++) {
        char key[16], val[32];
        rd_kafka_resp_err_t err;

        snprintf(key, sizeof(key), "k%d", i % N_KEYS);
        snprintf(val, sizeof(val), "%s:%d", key, i);
        err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(env_or_die("RUNTRACK_TOPIC")),
                              RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err) {
            fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
            goto out;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, HANG_GUARD_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "flush did not finish\n");
        goto out;
    }
    rc = 0;
out:
    rd_kafka_destroy(rk);
    return rc;
}

static rd_kafka_t *group_consumer(const char *group)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *sub;
    const char *kv[][2] = {
        {"bootstrap.servers", env_or_die("RUNTRACK_BROKERS")},
        {"group.id", group},
        {"auto.offset.reset", "earliest"},
        {"enable.auto.commit", "false"},
        /* The mock coordinator makes a member that joins after the last one left wait
         * session.timeout.ms - 1 s for the rebalance; keep it short (see devbroker --help). */
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1000"},
        {"debug", getenv("RT_TEST_KAFKA_DEBUG")}, /* optional, e.g. cgrp */
    };
    size_t i;

    for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (!kv[i][1])
            continue;
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "conf %s: %s\n", kv[i][0], errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, env_or_die("RUNTRACK_TOPIC"), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "subscribe failed\n");
        rd_kafka_topic_partition_list_destroy(sub);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_destroy(sub);
    return rk;
}

/* Consume until `want` messages arrived (or the hang guard fires). Checks per-key order:
 * values of one key must arrive with strictly increasing sequence numbers. seen[] counts
 * each sequence number. Returns the number of messages read. */
static int consume(test_state_t *ts, rd_kafka_t *rk, int want, int *seen, int seen_len)
{
    int last[N_KEYS], got = 0, waited = 0, i;

    for (i = 0; i < N_KEYS; i++)
        last[i] = -1;
    while (got < want && waited < HANG_GUARD_MS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        char key[16], val[32];
        int k = -1, seq = -1;

        if (!m) {
            waited += 100;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
        snprintf(val, sizeof(val), "%.*s", (int)m->len, (const char *)m->payload);
        CHECK(ts, sscanf(key, "k%d", &k) == 1 && k >= 0 && k < N_KEYS);
        CHECK(ts, sscanf(val, "k%*d:%d", &seq) == 1 && seq >= 0 && seq < seen_len);
        CHECK(ts, strncmp(val, key, strlen(key)) == 0 && val[strlen(key)] == ':');
        if (k >= 0 && k < N_KEYS && seq >= 0 && seq < seen_len) {
            CHECK(ts, seq > last[k]); /* per-key order */
            last[k] = seq;
            seen[seq]++;
        }
        got++;
        rd_kafka_message_destroy(m);
    }
    return got;
}

static void group_roundtrip_and_resume(test_state_t *ts)
{
    static int seen[N_MSGS + N_MORE];
    delivery_t d = {0, 0};
    rd_kafka_t *c = NULL;
    rd_kafka_topic_partition_list_t *assigned = NULL;
    char group[128];
    int64_t committed_sum = 0;
    int i, got;

    snprintf(group, sizeof(group), "g_%s", env_or_die("RUNTRACK_TOPIC"));
    phase("produce");
    REQUIRE(ts, produce(0, N_MSGS, &d) == 0);
    CHECK(ts, d.ok == N_MSGS && d.failed == 0);

    phase("consume as group member 1");
    c = group_consumer(group);
    REQUIRE(ts, c != NULL);
    got = consume(ts, c, N_MSGS, seen, N_MSGS + N_MORE);
    phase("commit + committed");
    CHECK(ts, got == N_MSGS);
    for (i = 0; i < N_MSGS; i++)
        CHECK(ts, seen[i] == 1); /* every message exactly once */

    /* Commit, then read the commit back from the group coordinator. */
    CHECK(ts, rd_kafka_commit(c, NULL, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(ts, rd_kafka_assignment(c, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR);
    if (assigned) {
        CHECK(ts, assigned->cnt == 4); /* the fresh topic has 4 partitions */
        CHECK(ts, rd_kafka_committed(c, assigned, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        for (i = 0; i < assigned->cnt; i++) {
            CHECK(ts, assigned->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR);
            if (assigned->elems[i].offset >= 0)
                committed_sum += assigned->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(assigned);
    }
    CHECK(ts, committed_sum == N_MSGS);
    phase("close member 1");
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);

    /* A new member of the same group resumes after the commit: only the new messages. */
    d.ok = d.failed = 0;
    REQUIRE(ts, produce(N_MSGS, N_MORE, &d) == 0);
    CHECK(ts, d.ok == N_MORE);
    phase("consume as group member 2");
    c = group_consumer(group);
    REQUIRE(ts, c != NULL);
    got = consume(ts, c, N_MORE, seen, N_MSGS + N_MORE);
    CHECK(ts, got == N_MORE);
    for (i = 0; i < N_MSGS + N_MORE; i++)
        CHECK(ts, seen[i] == 1);
    phase("close member 2");
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    phase("done");
}

TEST_MAIN(TEST(group_roundtrip_and_resume))
