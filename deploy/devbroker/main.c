/* runtrack-devbroker: an in-memory Kafka-protocol broker for tests and the demo.
 *
 * It wraps librdkafka's mock cluster (rdkafka_mock.h): N brokers listening on loopback TCP that
 * speak enough of the Kafka protocol for producers (incl. idempotent), consumer groups and
 * offset commit/fetch. It is NOT Kafka: nothing is persisted, retention is capped (see --help)
 * and production deployments use Apache Kafka.
 *
 * Besides the brokers it serves a control socket (unix stream, one text command per line,
 * reply "ok[ detail]" or "error: ...") through which tests inject faults: brokers down/up,
 * round-trip delay, per-API error codes, leader/coordinator moves, topic creation.
 *
 * Threads: librdkafka runs the mock brokers in its own thread; this program's main thread only
 * serves the control socket with poll(2). Signal handlers only set a flag. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifndef RUNTRACK_VERSION_STRING
#define RUNTRACK_VERSION_STRING "unknown"
#endif

#define MAX_CLIENTS   32
#define LINE_MAX_LEN  1024
#define MAX_TOPICS    64
#define MAX_ERR_COUNT 10000

/* The only file-scope mutable state: set by the signal handler, read by the main loop. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct topic_spec {
    char name[250]; /* Kafka topic names are at most 249 characters */
    int partitions; /* 0 = use --partitions */
} topic_spec_t;

typedef struct options {
    int brokers;
    int partitions;
    topic_spec_t topics[MAX_TOPICS];
    int topic_cnt;
    const char *bootstrap_file;
    const char *control_path;
    const char *debug;
} options_t;

typedef struct client {
    int fd;
    size_t len;
    char buf[LINE_MAX_LEN];
} client_t;

typedef struct broker {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int broker_cnt;
    int default_partitions;
    int listen_fd;
    client_t clients[MAX_CLIENTS];
} broker_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: runtrack-devbroker [options]\n"
            "       runtrack-devbroker ctl SOCKET COMMAND [ARGS...]\n"
            "\n"
            "An IN-MEMORY DEVELOPMENT BROKER for runtrack's tests and demo, built on librdkafka's\n"
            "mock cluster. It speaks the Kafka protocol on loopback TCP (producers, idempotent\n"
            "producers, consumer groups, offset commit/fetch) but keeps everything in memory and\n"
            "is lost on exit. Production uses Apache Kafka; never point real scrapers at this.\n"
            "\n"
            "options:\n"
            "  --brokers N          number of brokers (default 3; ids are 1..N)\n"
            "  --partitions N       partitions for --topic/`topic` without a count (default 4)\n"
            "  --topic NAME[:N]     create NAME up front (repeatable; N partitions)\n"
            "  --bootstrap-file P   write the bootstrap list to P (atomically) once listening\n"
            "  --control P          serve the control socket (unix stream) at P\n"
            "  --debug CONTEXTS     librdkafka debug contexts for the mock (e.g. mock,protocol)\n"
            "  --help, --version\n"
            "\n"
            "The bootstrap list is also printed to stdout. Runs until SIGTERM/SIGINT.\n"
            "\n"
            "control commands (one per line; reply `ok ...` or `error: ...`):\n"
            "  down ID|-1                 take broker ID (or all) down: connections refused\n"
            "  up ID|-1                   bring it back\n"
            "  rtt ID|-1 MS               add MS of round-trip delay to responses\n"
            "  error APIKEY ERR [COUNT]   fail the next COUNT (default 1) requests of APIKEY\n"
            "                             with ERR (name like NOT_LEADER_FOR_PARTITION,\n"
            "                             REQUEST_TIMED_OUT, _TRANSPORT, or a numeric code)\n"
            "  clear APIKEY               drop queued errors for APIKEY\n"
            "  topic NAME [PARTITIONS]    create a topic\n"
            "  leader TOPIC PART BROKER   move a partition's leader\n"
            "  coordinator group|transaction KEY BROKER   move a coordinator\n"
            "  ping                       reply ok\n"
            "  bootstraps                 reply ok <bootstrap list>\n"
            "APIKEY: a number or Produce, Fetch, ListOffsets, Metadata, OffsetCommit,\n"
            "OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup,\n"
            "ApiVersions, InitProducerId.\n"
            "\n"
            "limits (librdkafka mock cluster, not configurable):\n"
            "  * retention: each partition keeps at most 5 MiB or 100000 message batches;\n"
            "    older batches are dropped (log start offset moves). Measured: 1,000,000 events\n"
            "    of ~390 bytes all stay with 64 partitions + lz4 or 16 partitions + zstd; with\n"
            "    4 partitions uncompressed only the last ~46,000 do.\n"
            "  * topics auto-created by clients get librdkafka's fixed default of 4 partitions;\n"
            "    create others with --topic NAME:N or the `topic` command first.\n"
            "  * consumer groups: the first join waits ~3 s; a member joining right after the\n"
            "    previous one left waits session.timeout.ms - 1 s for its assignment, so tests\n"
            "    should use a short session.timeout.ms (e.g. 6000).\n");
}

/* Parse a decimal integer in [lo, hi]; returns 0 on success, -1 on any junk. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    int16_t key;
} api_names[] = {
    {"Produce", 0},         {"Fetch", 1},       {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},    {"OffsetFetch", 9}, {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},      {"LeaveGroup", 13}, {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},
};

/* ApiKey from a name (case-insensitive) or a number 0..32767; -1 if unknown. */
static int parse_apikey(const char *s)
{
    long v;
    size_t i;

    for (i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++)
        if (!strcasecmp(s, api_names[i].name))
            return api_names[i].key;
    if (parse_int(s, 0, INT16_MAX, &v) == 0)
        return (int)v;
    return -1;
}

/* Error code from a librdkafka name (with or without RD_KAFKA_RESP_ERR_ prefix,
 * case-insensitive) or a number. Returns 0 and sets *out on success. */
static int parse_errcode(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt, i;
    long v;
    const char *prefix = "RD_KAFKA_RESP_ERR_";

    if (!strncasecmp(s, prefix, strlen(prefix)))
        s += strlen(prefix);
    rd_kafka_get_err_descs(&descs, &cnt);
    for (i = 0; i < cnt; i++) {
        if (descs[i].name && !strcasecmp(s, descs[i].name)) {
            *out = descs[i].code;
            return 0;
        }
    }
    if (parse_int(s, INT16_MIN, INT16_MAX, &v) == 0) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    return -1;
}

static int parse_broker_id(const broker_t *b, const char *s, int32_t *out, int allow_all)
{
    long v;

    if (parse_int(s, allow_all ? -1 : 1, b->broker_cnt, &v) != 0 || v == 0)
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* Run one control command (tokens in argv) and write the reply line into reply. */
static void run_command(broker_t *b, int argc, char **argv, char *reply, size_t reply_size)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    const char *cmd = argc > 0 ? argv[0] : "";
    int32_t id;
    long v, cnt;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        int n_ = snprintf(reply, reply_size, "error: ");                                           \
        if (n_ > 0 && (size_t)n_ < reply_size)                                                     \
            snprintf(reply + n_, reply_size - (size_t)n_, __VA_ARGS__);                            \
        return;                                                                                    \
    } while (0)

    if (argc == 0)
        FAIL("empty command");

    if (!strcmp(cmd, "ping") && argc == 1) {
        snprintf(reply, reply_size, "ok");
        return;
    }
    if (!strcmp(cmd, "bootstraps") && argc == 1) {
        snprintf(reply, reply_size, "ok %s", rd_kafka_mock_cluster_bootstraps(b->mc));
        return;
    }
    if ((!strcmp(cmd, "down") || !strcmp(cmd, "up")) && argc == 2) {
        if (parse_broker_id(b, argv[1], &id, 1) != 0)
            FAIL("%s: broker id must be 1..%d or -1, not '%s'", cmd, b->broker_cnt, argv[1]);
        err = !strcmp(cmd, "down") ? rd_kafka_mock_broker_set_down(b->mc, id)
                                   : rd_kafka_mock_broker_set_up(b->mc, id);
    } else if (!strcmp(cmd, "rtt") && argc == 3) {
        if (parse_broker_id(b, argv[1], &id, 1) != 0)
            FAIL("rtt: broker id must be 1..%d or -1, not '%s'", b->broker_cnt, argv[1]);
        if (parse_int(argv[2], 0, 600000, &v) != 0)
            FAIL("rtt: milliseconds must be 0..600000, not '%s'", argv[2]);
        err = rd_kafka_mock_broker_set_rtt(b->mc, id, (int)v);
    } else if (!strcmp(cmd, "error") && (argc == 3 || argc == 4)) {
        int apikey = parse_apikey(argv[1]);
        rd_kafka_resp_err_t code, *codes;
        long i;

        if (apikey < 0)
            FAIL("unknown API key '%s'", argv[1]);
        if (parse_errcode(argv[2], &code) != 0)
            FAIL("unknown error name '%s' (see rd_kafka_get_err_descs)", argv[2]);
        cnt = 1;
        if (argc == 4 && parse_int(argv[3], 1, MAX_ERR_COUNT, &cnt) != 0)
            FAIL("COUNT must be 1..%d, not '%s'", MAX_ERR_COUNT, argv[3]);
        codes = calloc((size_t)cnt, sizeof(*codes));
        if (!codes)
            FAIL("out of memory");
        for (i = 0; i < cnt; i++)
            codes[i] = code;
        rd_kafka_mock_push_request_errors_array(b->mc, (int16_t)apikey, (size_t)cnt, codes);
        free(codes);
    } else if (!strcmp(cmd, "clear") && argc == 2) {
        int apikey = parse_apikey(argv[1]);

        if (apikey < 0)
            FAIL("clear: unknown API key '%s'", argv[1]);
        rd_kafka_mock_clear_request_errors(b->mc, (int16_t)apikey);
    } else if (!strcmp(cmd, "topic") && (argc == 2 || argc == 3)) {
        v = b->default_partitions;
        if (argc == 3 && parse_int(argv[2], 1, 100000, &v) != 0)
            FAIL("topic: partitions must be 1..100000, not '%s'", argv[2]);
        err = rd_kafka_mock_topic_create(b->mc, argv[1], (int)v,
                                         b->broker_cnt < 3 ? b->broker_cnt : 3);
    } else if (!strcmp(cmd, "leader") && argc == 4) {
        if (parse_int(argv[2], 0, INT32_MAX, &v) != 0)
            FAIL("leader: bad partition '%s'", argv[2]);
        if (parse_broker_id(b, argv[3], &id, 0) != 0)
            FAIL("leader: broker id must be 1..%d, not '%s'", b->broker_cnt, argv[3]);
        err = rd_kafka_mock_partition_set_leader(b->mc, argv[1], (int32_t)v, id);
    } else if (!strcmp(cmd, "coordinator") && argc == 4) {
        if (strcmp(argv[1], "group") != 0 && strcmp(argv[1], "transaction") != 0)
            FAIL("coordinator: type must be 'group' or 'transaction', not '%s'", argv[1]);
        if (parse_broker_id(b, argv[3], &id, 0) != 0)
            FAIL("coordinator: broker id must be 1..%d, not '%s'", b->broker_cnt, argv[3]);
        err = rd_kafka_mock_coordinator_set(b->mc, argv[1], argv[2], id);
    } else {
        FAIL("unknown command or wrong argument count: '%s' (see runtrack-devbroker --help)", cmd);
    }

    if (err)
        FAIL("%s: %s (%s)", cmd, rd_kafka_err2name(err), rd_kafka_err2str(err));
    snprintf(reply, reply_size, "ok");
#undef FAIL
}

/* Split line in place on blanks; returns the token count (at most max). */
static int tokenize(char *line, char **argv, int max)
{
    int argc = 0;
    char *save = NULL, *tok;

    for (tok = strtok_r(line, " \t\r", &save); tok && argc < max;
         tok = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = tok;
    return tok ? max + 1 : argc;
}

/* Write all of buf to fd (blocking briefly on a full socket). Returns 0 or -1. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};

                if (poll(&p, 1, 1000) <= 0)
                    return -1;
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void client_close(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Read what the client sent, answer every complete line. Closes the client on EOF/error. */
static void client_serve(broker_t *b, client_t *c)
{
    ssize_t n;
    char *nl;

    n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';

    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
        char *argv[8];
        char reply[512], line[LINE_MAX_LEN];
        size_t linelen = (size_t)(nl - c->buf), rlen;
        int argc;

        *nl = '\0';
        snprintf(line, sizeof(line), "%s", c->buf); /* for the log; tokenize() splits c->buf */
        argc = tokenize(c->buf, argv, 7);
        /* One byte stays free so the reply always ends in a newline, however long. */
        if (argc > 7)
            snprintf(reply, sizeof(reply) - 1, "error: too many arguments");
        else
            run_command(b, argc, argv, reply, sizeof(reply) - 1);
        fprintf(stderr, "runtrack-devbroker: control: %.200s -> %s\n", line, reply);
        rlen = strlen(reply);
        reply[rlen++] = '\n';
        reply[rlen] = '\0';
        if (write_all(c->fd, reply, rlen) != 0) {
            client_close(c);
            return;
        }
        memmove(c->buf, nl + 1, c->len - linelen - 1);
        c->len -= linelen + 1;
        c->buf[c->len] = '\0';
    }
    if (c->len >= sizeof(c->buf) - 1) {
        const char *msg = "error: line too long\n";

        (void)write_all(c->fd, msg, strlen(msg));
        client_close(c);
    }
}

/* Bind the control socket at path. A stale socket file (nobody accepting) is replaced; a live
 * one is an error so two brokers never fight over one path. Returns the fd or -1. */
static int control_listen(const char *path)
{
    struct sockaddr_un sa;
    int fd = -1, probe = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "runtrack-devbroker: control socket path too long (max %zu): %s\n",
                sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        fprintf(stderr, "runtrack-devbroker: control socket %s is in use by another process\n",
                path);
        close(probe);
        return -1;
    }
    if (probe >= 0)
        close(probe);
    (void)unlink(path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "runtrack-devbroker: control socket %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Write content + "\n" to path via a temp file + rename, so readers never see half a line. */
static int write_file_atomic(const char *path, const char *content)
{
    char tmp[PATH_MAX];
    FILE *f = NULL;
    int rc = -1;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        fprintf(stderr, "runtrack-devbroker: path too long: %s\n", path);
        return -1;
    }
    f = fopen(tmp, "w");
    if (!f)
        goto out;
    if (fprintf(f, "%s\n", content) < 0)
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "runtrack-devbroker: cannot write %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        (void)unlink(tmp);
    }
    return rc;
}

/* Client mode: send one command, print the reply, exit 0 iff it starts with "ok". */
static int ctl_main(int argc, char **argv)
{
    struct sockaddr_un sa;
    char line[LINE_MAX_LEN], reply[LINE_MAX_LEN];
    size_t len = 0, rlen = 0;
    int fd = -1, i, rc = 2;

    if (argc < 2) {
        fprintf(stderr, "usage: runtrack-devbroker ctl SOCKET COMMAND [ARGS...]\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(argv[0]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "runtrack-devbroker ctl: socket path too long: %s\n", argv[0]);
        return 2;
    }
    memcpy(sa.sun_path, argv[0], strlen(argv[0]) + 1);
    for (i = 1; i < argc; i++) {
        int n = snprintf(line + len, sizeof(line) - len, "%s%s", i > 1 ? " " : "", argv[i]);

        if (n < 0 || (size_t)n >= sizeof(line) - len - 1) {
            fprintf(stderr, "runtrack-devbroker ctl: command too long\n");
            return 2;
        }
        len += (size_t)n;
    }
    line[len++] = '\n';

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "runtrack-devbroker ctl: cannot connect to %s: %s\n", argv[0],
                strerror(errno));
        goto out;
    }
    if (write_all(fd, line, len) != 0) {
        fprintf(stderr, "runtrack-devbroker ctl: write: %s\n", strerror(errno));
        goto out;
    }
    while (rlen < sizeof(reply) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, 10000) <= 0) {
            fprintf(stderr, "runtrack-devbroker ctl: no reply within 10 s\n");
            goto out;
        }
        n = read(fd, reply + rlen, sizeof(reply) - 1 - rlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        rlen += (size_t)n;
        if (memchr(reply, '\n', rlen))
            break;
    }
    reply[rlen] = '\0';
    reply[strcspn(reply, "\n")] = '\0';
    if (rlen == 0) {
        fprintf(stderr, "runtrack-devbroker ctl: connection closed without a reply\n");
        goto out;
    }
    if (!strncmp(reply, "ok", 2)) {
        printf("%s\n", reply);
        rc = 0;
    } else {
        fprintf(stderr, "%s\n", reply);
        rc = 1;
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},
        {"debug", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    long v;

    memset(o, 0, sizeof(*o));
    o->brokers = 3;
    o->partitions = 4;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            if (parse_int(optarg, 1, 64, &v) != 0) {
                fprintf(stderr, "runtrack-devbroker: --brokers must be 1..64, not '%s'\n", optarg);
                return 2;
            }
            o->brokers = (int)v;
            break;
        case 'p':
            if (parse_int(optarg, 1, 100000, &v) != 0) {
                fprintf(stderr, "runtrack-devbroker: --partitions must be 1..100000, not '%s'\n",
                        optarg);
                return 2;
            }
            o->partitions = (int)v;
            break;
        case 't': {
            /* Copied, not split in place, so ps shows the command line as given. */
            const char *colon = strchr(optarg, ':');
            size_t len = colon ? (size_t)(colon - optarg) : strlen(optarg);
            topic_spec_t *t = &o->topics[o->topic_cnt];

            if (o->topic_cnt >= MAX_TOPICS) {
                fprintf(stderr, "runtrack-devbroker: at most %d --topic options\n", MAX_TOPICS);
                return 2;
            }
            if (len == 0 || len >= sizeof(t->name)) {
                fprintf(stderr, "runtrack-devbroker: --topic needs a name of 1..%zu characters\n",
                        sizeof(t->name) - 1);
                return 2;
            }
            memcpy(t->name, optarg, len);
            t->name[len] = '\0';
            t->partitions = 0;
            if (colon) {
                if (parse_int(colon + 1, 1, 100000, &v) != 0) {
                    fprintf(stderr, "runtrack-devbroker: --topic %s: bad partition count '%s'\n",
                            t->name, colon + 1);
                    return 2;
                }
                t->partitions = (int)v;
            }
            o->topic_cnt++;
            break;
        }
        case 'f':
            o->bootstrap_file = optarg;
            break;
        case 'c':
            o->control_path = optarg;
            break;
        case 'd':
            o->debug = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("runtrack-devbroker %s (librdkafka %s mock cluster)\n", RUNTRACK_VERSION_STRING,
                   rd_kafka_version_str());
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "runtrack-devbroker: unexpected argument '%s' (see --help)\n",
                argv[optind]);
        return 2;
    }
    return 0;
}

/* Serve control clients until a signal asks us to stop. */
static void serve(broker_t *b)
{
    struct pollfd fds[MAX_CLIENTS + 1];
    int i, n;

    while (!g_stop) {
        nfds_t nfds = 0;
        int map[MAX_CLIENTS + 1];

        if (b->listen_fd >= 0) {
            fds[nfds].fd = b->listen_fd;
            fds[nfds].events = POLLIN;
            map[nfds++] = -1;
        }
        for (i = 0; i < MAX_CLIENTS; i++) {
            if (b->clients[i].fd < 0)
                continue;
            fds[nfds].fd = b->clients[i].fd;
            fds[nfds].events = POLLIN;
            map[nfds++] = i;
        }
        /* The timeout bounds how long a signal that lands just before poll() goes unseen. */
        n = poll(fds, nfds, 200);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "runtrack-devbroker: poll: %s\n", strerror(errno));
            return;
        }
        for (i = 0; i < (int)nfds && n > 0; i++) {
            if (!fds[i].revents)
                continue;
            if (map[i] == -1) {
                int cfd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                int j;

                if (cfd < 0)
                    continue;
                for (j = 0; j < MAX_CLIENTS && b->clients[j].fd >= 0; j++)
                    ;
                if (j == MAX_CLIENTS) {
                    const char *msg = "error: too many control connections\n";

                    (void)write_all(cfd, msg, strlen(msg));
                    close(cfd);
                    continue;
                }
                b->clients[j].fd = cfd;
                b->clients[j].len = 0;
            } else {
                client_serve(b, &b->clients[map[i]]);
            }
        }
    }
}

int main(int argc, char **argv)
{
    options_t o;
    broker_t b;
    rd_kafka_conf_t *conf = NULL;
    char errstr[512];
    struct sigaction sa;
    int i, rc = 1;

    if (argc >= 2 && !strcmp(argv[1], "ctl"))
        return ctl_main(argc - 2, argv + 2);

    memset(&b, 0, sizeof(b));
    b.listen_fd = -1;
    for (i = 0; i < MAX_CLIENTS; i++)
        b.clients[i].fd = -1;

    i = parse_options(argc, argv, &o);
    if (i != 0)
        return i == 1 ? 0 : 2;
    b.broker_cnt = o.brokers;
    b.default_partitions = o.partitions;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The mock cluster needs a client handle to run on; this producer never produces. */
    conf = rd_kafka_conf_new();
    /* Without --debug, hide the dummy handle's notice that it has no bootstrap.servers. */
    if (!o.debug)
        (void)rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
    if (o.debug &&
        rd_kafka_conf_set(conf, "debug", o.debug, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "runtrack-devbroker: --debug: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    b.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!b.rk) {
        fprintf(stderr, "runtrack-devbroker: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    b.mc = rd_kafka_mock_cluster_new(b.rk, o.brokers);
    if (!b.mc) {
        fprintf(stderr, "runtrack-devbroker: cannot create the mock cluster\n");
        goto out;
    }
    for (i = 0; i < o.topic_cnt; i++) {
        int parts = o.topics[i].partitions ? o.topics[i].partitions : o.partitions;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(b.mc, o.topics[i].name, parts,
                                                             o.brokers < 3 ? o.brokers : 3);

        if (err) {
            fprintf(stderr, "runtrack-devbroker: --topic %s: %s\n", o.topics[i].name,
                    rd_kafka_err2str(err));
            goto out;
        }
    }
    if (o.control_path) {
        b.listen_fd = control_listen(o.control_path);
        if (b.listen_fd < 0)
            goto out;
    }
    /* Readiness signal last: once the file exists, brokers and control socket both answer. */
    if (o.bootstrap_file &&
        write_file_atomic(o.bootstrap_file, rd_kafka_mock_cluster_bootstraps(b.mc)) != 0)
        goto out;
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(b.mc));
    fflush(stdout);
    fprintf(stderr,
            "runtrack-devbroker: %d in-memory broker(s) at %s (development only; production uses "
            "Apache Kafka)\n",
            o.brokers, rd_kafka_mock_cluster_bootstraps(b.mc));

    serve(&b);
    rc = 0;
    fprintf(stderr, "runtrack-devbroker: shutting down\n");
out:
    for (i = 0; i < MAX_CLIENTS; i++)
        client_close(&b.clients[i]);
    if (b.listen_fd >= 0) {
        close(b.listen_fd);
        (void)unlink(o.control_path);
    }
    if (o.bootstrap_file)
        (void)unlink(o.bootstrap_file); /* its absence tells scripts we are gone */
    if (b.mc)
        rd_kafka_mock_cluster_destroy(b.mc);
    rd_kafka_destroy(b.rk);
    return rc;
}
