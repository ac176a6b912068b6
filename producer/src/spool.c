/* The spool (spool.h): durable, locked, torn-tail-safe files of undelivered events. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "rt_num.h"
#include "rt_time.h"
#include "rt_uuid.h"

#define MAGIC_HEAD  0x31535452u /* "RTS1" */
#define MAGIC_TAIL  0x45535452u /* "RTSE" */
#define HEAD_BYTES  12u
#define TAIL_BYTES  8u
#define BODY_FIXED  (1u + 8u + 2u + 4u)
#define MAX_TOPIC   249u /* Kafka's limit on topic names */
#define FILE_EVENTS "events.spool"
#define FILE_SEND   "sending.spool"
#define FILE_LOCK   "deliver.lock"
#define DIR_DROPPED "dropped"

/* ------------------------------------------------------------------------ framing */

/* CRC-32 (IEEE, as zlib's), bitwise: records are small and written once per event. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void rt_spool_encode(rt_buf_t *batch, int kind, int64_t seq, const char *topic, const char *key,
                     size_t key_len, const char *value, size_t value_len)
{
    size_t topic_len = strlen(topic);
    if (topic_len > MAX_TOPIC || key_len > UINT32_MAX ||
        value_len > UINT32_MAX - BODY_FIXED - topic_len - key_len) {
        batch->oom = 1; /* cannot happen for real events: the library checked them */
        return;
    }
    size_t body = BODY_FIXED + topic_len + key_len + value_len;
    if (rt_buf_reserve(batch, HEAD_BYTES + body + TAIL_BYTES) != 0)
        return;
    unsigned char *h = (unsigned char *)batch->data + batch->len;
    unsigned char *b = h + HEAD_BYTES;
    b[0] = (unsigned char)kind;
    put_le(b + 1, (uint64_t)seq, 8);
    put_le(b + 9, topic_len, 2);
    put_le(b + 11, key_len, 4);
    memcpy(b + BODY_FIXED, topic, topic_len);
    memcpy(b + BODY_FIXED + topic_len, key, key_len);
    memcpy(b + BODY_FIXED + topic_len + key_len, value, value_len);
    put_le(h, MAGIC_HEAD, 4);
    put_le(h + 4, body, 4);
    put_le(h + 8, crc32_of(b, body), 4);
    put_le(b + body, body, 4);
    put_le(b + body + 4, MAGIC_TAIL, 4);
    batch->len += HEAD_BYTES + body + TAIL_BYTES;
    batch->data[batch->len] = '\0';
}

/* The record at buf[off..len): its size, or 0 when it is not a whole, intact record. */
static size_t parse_one(const char *buf, size_t len, size_t off, rt_spool_rec_t *r)
{
    const unsigned char *h = (const unsigned char *)buf + off;
    size_t avail = len - off;
    if (avail < HEAD_BYTES + BODY_FIXED + TAIL_BYTES || get_le(h, 4) != MAGIC_HEAD)
        return 0;
    size_t body = (size_t)get_le(h + 4, 4);
    if (body < BODY_FIXED || body > avail - HEAD_BYTES - TAIL_BYTES)
        return 0;
    const unsigned char *b = h + HEAD_BYTES;
    if (get_le(b + body, 4) != body || get_le(b + body + 4, 4) != MAGIC_TAIL ||
        get_le(h + 8, 4) != crc32_of(b, body))
        return 0;
    size_t topic_len = (size_t)get_le(b + 9, 2), key_len = (size_t)get_le(b + 11, 4);
    if (topic_len + key_len > body - BODY_FIXED)
        return 0;
    r->kind = b[0];
    r->seq = (int64_t)get_le(b + 1, 8);
    r->topic = (const char *)b + BODY_FIXED;
    r->topic_len = topic_len;
    r->key = r->topic + topic_len;
    r->key_len = key_len;
    r->value = r->key + key_len;
    r->value_len = body - BODY_FIXED - topic_len - key_len;
    r->raw = (const char *)h;
    r->raw_len = HEAD_BYTES + body + TAIL_BYTES;
    return r->raw_len;
}

int rt_spool_parse(char *buf, size_t len, rt_spool_data_t *d)
{
    d->buf = buf;
    d->len = len;
    size_t off = 0;
    for (;;) {
        rt_spool_rec_t r;
        size_t n = off < len ? parse_one(buf, len, off, &r) : 0;
        if (!n)
            break;
        rt_spool_rec_t *recs = rt_grow(d->recs, d->n, &d->cap, sizeof *recs, 64);
        if (!recs)
            return -1;
        d->recs = recs;
        d->recs[d->n++] = r;
        off += n;
    }
    d->valid_len = off;
    return 0;
}

void rt_spool_data_free(rt_spool_data_t *d)
{
    free(d->buf);
    free(d->recs);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------------------ files */

static void path_of(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* mkdir -p with mode 0700 for what it creates. Returns 0 or -1 (errno). */
static int make_dirs(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return -1;
        *s = c;
        if (!c)
            return 0;
    }
}

/* Makes a rename or a new file in dir durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Opens path and takes flock op on it, making sure the lock is on the file the name refers to
 * now: a deliverer or a compaction may have renamed another file over it while we waited.
 * Returns the fd, or -1 (errno; ENOENT when !create and there is no such file). */
static int open_locked(const char *path, int op, int create)
{
    for (;;) {
        int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
        if (fd < 0)
            return -1;
        int r;
        while ((r = flock(fd, op)) != 0 && errno == EINTR)
            ;
        struct stat a, b;
        if (r == 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return fd;
        int e = r != 0 ? errno : ENOENT;
        close(fd);
        if (r != 0 || !create) {
            errno = e;
            return -1;
        }
    }
}

/* Reads the whole file fd into a new buffer (*out, NUL-terminated). Returns 0 or -1 (errno). */
static int read_all(int fd, char **out, size_t *len)
{
    rt_buf_t b = {0};
    char chunk[65536];
    ssize_t n;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -1;
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rt_buf_free(&b);
            return -1;
        }
        rt_buf_add(&b, chunk, (size_t)n);
    }
    if (b.oom) {
        rt_buf_free(&b);
        errno = ENOMEM;
        return -1;
    }
    *out = rt_buf_take(&b, len);
    return 0;
}

static int write_all(int fd, const char *p, size_t n, off_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* The length of fd's intact records (lock held), cutting a torn tail off the file. The common
 * case reads only the last record, found through its trailer. Returns the length or -1. */
static off_t repair_tail(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    size_t size = (size_t)st.st_size;
    if (size == 0)
        return 0;
    unsigned char t[TAIL_BYTES];
    if (size >= HEAD_BYTES + BODY_FIXED + TAIL_BYTES &&
        pread(fd, t, sizeof t, (off_t)(size - TAIL_BYTES)) == (ssize_t)sizeof t &&
        get_le(t + 4, 4) == MAGIC_TAIL) {
        size_t rec = HEAD_BYTES + (size_t)get_le(t, 4) + TAIL_BYTES;
        char *last = rec <= size ? malloc(rec) : NULL;
        rt_spool_rec_t r;
        int ok = last && pread(fd, last, rec, (off_t)(size - rec)) == (ssize_t)rec &&
                 parse_one(last, rec, 0, &r) == rec;
        free(last);
        if (ok)
            return (off_t)size;
    }
    /* Torn (a writer died mid-append): keep the intact records before it. */
    char *buf;
    size_t len;
    if (read_all(fd, &buf, &len) != 0)
        return -1;
    rt_spool_data_t d = {0};
    int pr = rt_spool_parse(buf, len, &d);
    off_t keep = (off_t)d.valid_len;
    rt_spool_data_free(&d);
    if (pr != 0 || ftruncate(fd, keep) != 0 || fdatasync(fd) != 0)
        return -1;
    return keep;
}

/* ------------------------------------------------------------------------ the size bound */

/* What one compaction dropped of a run: the count, and its newest dropped line, whose envelope
 * (and seq, now free) the run's dropped-count heartbeat reuses. */
typedef struct drop_run {
    const rt_spool_rec_t *last;
    uint64_t n;
} drop_run_t;

static int same_key(const rt_spool_rec_t *a, const rt_spool_rec_t *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* The run's dropped_logs so far plus n, kept in dir/dropped/RUN (spool lock held), so the count a
 * heartbeat reports keeps growing across compactions and deliveries (the consumer keeps the
 * maximum). A key that is not a run id (no file name) just gives n. */
static uint64_t bump_dropped(const char *dir, const char *key, size_t key_len, uint64_t n)
{
    if (key_len != 36 || strspn(key, "0123456789abcdefABCDEF-") < 36)
        return n;
    char sub[4096], path[4200], tmp[4300];
    path_of(sub, sizeof sub, dir, DIR_DROPPED);
    snprintf(path, sizeof path, "%s/%.36s", sub, key);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint64_t total = n;
    FILE *f = fopen(path, "r");
    if (f) {
        unsigned long long before;
        if (fscanf(f, "%llu", &before) == 1)
            total += before;
        fclose(f);
    }
    if (mkdir(sub, 0700) != 0 && errno != EEXIST)
        return total;
    f = fopen(tmp, "w");
    if (f) {
        int ok = fprintf(f, "%llu\n", (unsigned long long)total) > 0;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp);
    }
    return total;
}

/* Appends to out a run.heartbeat with data {"dropped_logs": total}, made from the dropped log
 * line's envelope (same run, job, producer and seq; a new event id). Skipped if that line does
 * not parse (it always does: the library wrote it). */
static void dropcount_record(rt_buf_t *out, const rt_spool_rec_t *log, uint64_t total,
                             rt_rng_t *rng)
{
    json_t *ev = json_loadb(log->value, log->value_len, 0, NULL);
    char id[RT_UUID_STRLEN], topic[MAX_TOPIC + 1];
    rt_uuid_v7(rng, rt_now_us(), id);
    char *s = NULL;
    if (json_is_object(ev) && json_object_set_new(ev, "event_id", json_string(id)) == 0 &&
        json_object_set_new(ev, "type", json_string("run.heartbeat")) == 0 &&
        json_object_set_new(ev, "data", json_pack("{s:I}", "dropped_logs", (json_int_t)total)) == 0)
        s = json_dumps(ev, JSON_COMPACT);
    if (s) {
        snprintf(topic, sizeof topic, "%.*s", (int)log->topic_len, log->topic);
        rt_spool_encode(out, RT_SPOOL_DROPCOUNT, log->seq, topic, log->key, log->key_len, s,
                        strlen(s));
    }
    free(s);
    json_decref(ev);
}

/* Marks log records (oldest first) dropped in keep[] until total <= target, counting them per
 * run in *runs (*nruns entries). Returns the number dropped, or -1 when memory ran out. */
static int64_t drop_logs(const rt_spool_rec_t *recs, size_t n, unsigned char *keep, size_t total,
                         size_t target, drop_run_t **runs, size_t *nruns)
{
    size_t cap = 0;
    int64_t dropped = 0;
    for (size_t i = 0; i < n && total > target; i++) {
        if (recs[i].kind != RT_SPOOL_LOG)
            continue;
        keep[i] = 0;
        total -= recs[i].raw_len;
        dropped++;
        size_t k = 0;
        while (k < *nruns && !same_key((*runs)[k].last, &recs[i]))
            k++;
        if (k == *nruns) {
            drop_run_t *g = rt_grow(*runs, *nruns, &cap, sizeof **runs, 8);
            if (!g)
                return -1;
            *runs = g;
            g[(*nruns)++] = (drop_run_t){0};
        }
        (*runs)[k].last = &recs[i];
        (*runs)[k].n++;
    }
    /* A run's older dropped-count heartbeat gives way to the new one. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < *nruns && recs[i].kind == RT_SPOOL_DROPCOUNT; k++)
            if (same_key((*runs)[k].last, &recs[i]))
                keep[i] = 0;
    return dropped;
}

/* Rewrites the spool (lock held on fd, size intact bytes) with batch appended and log records
 * dropped down to 90 % of max_bytes; the new file replaces the old by rename. Returns 0 or -1
 * with errstr. */
static int compact(const char *dir, int fd, off_t size, const char *batch, size_t len,
                   int64_t max_bytes, rt_spool_append_res_t *res, char *errstr, size_t errstr_size)
{
    rt_spool_data_t d = {0};
    rt_buf_t all = {0}, out = {0};
    drop_run_t *runs = NULL;
    size_t nruns = 0;
    unsigned char *keep = NULL;
    int rc = -1, tfd = -1;
    char *old = NULL, tmp[4200], path[4200];
    size_t old_len;
    if (read_all(fd, &old, &old_len) != 0)
        goto out;
    rt_buf_add(&all, old, (size_t)size <= old_len ? (size_t)size : old_len);
    size_t batch_at = all.len;
    rt_buf_add(&all, batch, len);
    if (all.oom || rt_spool_parse(rt_buf_take(&all, NULL), batch_at + len, &d) != 0 ||
        !(keep = malloc(d.n + 1)))
        goto nomem;
    memset(keep, 1, d.n + 1);
    int64_t dropped =
        drop_logs(d.recs, d.n, keep, d.valid_len, (size_t)(max_bytes / 10 * 9), &runs, &nruns);
    if (dropped < 0)
        goto nomem;
    for (size_t i = 0; i < d.n; i++) {
        if (keep[i])
            rt_buf_add(&out, d.recs[i].raw, d.recs[i].raw_len);
        if (keep[i] && d.recs[i].raw >= d.buf + batch_at)
            res->written++;
    }
    rt_rng_t rng;
    rt_rng_seed(&rng);
    for (size_t k = 0; k < nruns; k++)
        dropcount_record(&out, runs[k].last,
                         bump_dropped(dir, runs[k].last->key, runs[k].last->key_len, runs[k].n),
                         &rng);
    if (out.oom)
        goto nomem;
    res->dropped_logs = (uint64_t)dropped;
    path_of(tmp, sizeof tmp, dir, FILE_EVENTS ".tmp");
    path_of(path, sizeof path, dir, FILE_EVENTS);
    tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (tfd < 0 || write_all(tfd, out.data ? out.data : "", out.len, 0) != 0 || fsync(tfd) != 0 ||
        rename(tmp, path) != 0) {
        rt_seterr(errstr, errstr_size, "spool %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    sync_dir(dir);
    rc = 0;
    goto out;
nomem:
    rt_seterr(errstr, errstr_size, "spool: out of memory");
out:
    if (tfd >= 0)
        close(tfd);
    free(old);
    free(keep);
    free(runs);
    rt_buf_free(&all);
    rt_buf_free(&out);
    rt_spool_data_free(&d);
    return rc;
}

/* ------------------------------------------------------------------------ append, load */

static uint64_t count_records(const char *batch, size_t len)
{
    uint64_t n = 0;
    rt_spool_rec_t r;
    for (size_t off = 0, k; off < len && (k = parse_one(batch, len, off, &r)) != 0; off += k)
        n++;
    return n;
}

/* Writes batch at off and makes it durable. RUNTRACK_TEST_SPOOL_PAUSE_MS (tests only) writes
 * half, syncs and sleeps that long before the rest, so a test can kill the writer mid-record. */
static int write_batch(int fd, const char *batch, size_t len, off_t off)
{
    const char *pause = getenv("RUNTRACK_TEST_SPOOL_PAUSE_MS");
    int64_t ms = 0;
    size_t half = pause && rt_parse_i64(pause, 1, 600000, &ms) == 0 ? len / 2 : 0;
    if (half) {
        if (write_all(fd, batch, half, off) != 0 || fdatasync(fd) != 0)
            return -1;
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (write_all(fd, batch + half, len - half, off + (off_t)half) != 0 || fdatasync(fd) != 0)
        return -1;
    return 0;
}

int rt_spool_append(const char *dir, int64_t max_bytes, const char *batch, size_t len,
                    rt_spool_append_res_t *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof *res);
    if (len == 0)
        return 0;
    char path[4200];
    path_of(path, sizeof path, dir, FILE_EVENTS);
    if (make_dirs(dir) != 0) {
        rt_seterr(errstr, errstr_size, "spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open_locked(path, LOCK_EX, 1);
    if (fd < 0) {
        rt_seterr(errstr, errstr_size, "spool %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    off_t size = repair_tail(fd);
    if (size < 0) {
        rt_seterr(errstr, errstr_size, "spool %s: %s", path, strerror(errno));
        rc = -1;
    } else if (max_bytes > 0 && (uint64_t)size + len > (uint64_t)max_bytes) {
        rc = compact(dir, fd, size, batch, len, max_bytes, res, errstr, errstr_size);
    } else if (write_batch(fd, batch, len, size) != 0) {
        rt_seterr(errstr, errstr_size, "spool %s: %s", path, strerror(errno));
        /* Leave no partial batch behind (a torn tail would be cut by the next writer anyway). */
        if (ftruncate(fd, size) == 0)
            (void)fdatasync(fd);
        rc = -1;
    } else {
        res->written = count_records(batch, len);
        if (size == 0)
            sync_dir(dir);
    }
    close(fd); /* releases the lock */
    return rc;
}

/* Reads and parses one spool file already open (fd) into *d; adds its torn bytes to *torn. */
static int load_fd(int fd, rt_spool_data_t *d, size_t *torn)
{
    char *buf;
    size_t len;
    if (read_all(fd, &buf, &len) != 0)
        return -1;
    if (rt_spool_parse(buf, len, d) != 0) {
        errno = ENOMEM;
        return -1;
    }
    *torn += d->len - d->valid_len;
    return 0;
}

int rt_spool_load(const char *dir, rt_spool_data_t *sending, rt_spool_data_t *waiting,
                  size_t *torn_bytes, char *errstr, size_t errstr_size)
{
    memset(sending, 0, sizeof *sending);
    memset(waiting, 0, sizeof *waiting);
    *torn_bytes = 0;
    char path[4200];
    path_of(path, sizeof path, dir, FILE_SEND);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int r = load_fd(fd, sending, torn_bytes);
        close(fd);
        if (r != 0)
            goto fail;
    } else if (errno != ENOENT) {
        goto fail;
    }
    path_of(path, sizeof path, dir, FILE_EVENTS);
    fd = open_locked(path, LOCK_SH, 0);
    if (fd >= 0) {
        int r = load_fd(fd, waiting, torn_bytes);
        close(fd);
        if (r != 0)
            goto fail;
    } else if (errno != ENOENT) {
        goto fail;
    }
    return 0;
fail:
    rt_seterr(errstr, errstr_size, "spool %s: %s", path, strerror(errno));
    rt_spool_data_free(sending);
    rt_spool_data_free(waiting);
    return -1;
}

/* ------------------------------------------------------------------------ delivery */

/* A record in send order: by run (key), then seq, then place in the file. */
typedef struct send_item {
    const rt_spool_rec_t *r;
    size_t at;
    unsigned char acked; /* set by the delivery report */
} send_item_t;

static int send_order(const void *a, const void *b)
{
    const send_item_t *x = a, *y = b;
    size_t n = x->r->key_len < y->r->key_len ? x->r->key_len : y->r->key_len;
    int c = memcmp(x->r->key, y->r->key, n);
    if (c)
        return c;
    if (x->r->key_len != y->r->key_len)
        return x->r->key_len < y->r->key_len ? -1 : 1;
    if (x->r->seq != y->r->seq)
        return x->r->seq < y->r->seq ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* librdkafka's log lines and errors, on stderr only with `verbose` (as the client's): an
 * unreachable broker is reported once, by the caller, not per connection attempt. */
static void deliver_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const runtrack_conf_t *conf = rd_kafka_opaque(rk);
    if (conf && conf->verbose)
        fprintf(stderr, "runtrack: spool: librdkafka %d %s: %s\n", level, fac, buf);
}

static void deliver_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)err;
    const runtrack_conf_t *conf = opaque;
    if (conf->verbose)
        fprintf(stderr, "runtrack: spool: librdkafka error: %s\n", reason);
}

static void deliver_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    send_item_t *it = m->_private;
    if (it && !m->err)
        it->acked = 1;
}

/* Produces items[0..n) in order with a handle of its own and waits up to deadline (monotonic
 * us) for the acknowledgements, which set items[i].acked. Returns 0, or -1 with errstr when no
 * handle could be made. */
static int send_items(const runtrack_conf_t *conf, send_item_t *items, size_t n, int64_t deadline,
                      char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rt_conf_kafka(conf, errstr, errstr_size);
    if (!kc)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(kc, deliver_dr);
    rd_kafka_conf_set_log_cb(kc, deliver_log);
    rd_kafka_conf_set_error_cb(kc, deliver_error);
    rd_kafka_conf_set_opaque(kc, (void *)conf);
    char kerr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        rt_seterr(errstr, errstr_size, "librdkafka: %s", kerr);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const rt_spool_rec_t *r = items[i].r;
        char topic[MAX_TOPIC + 1];
        snprintf(topic, sizeof topic, "%.*s", (int)r->topic_len, r->topic);
        rd_kafka_resp_err_t e;
        while (
            (e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(r->key, r->key_len),
                                   RD_KAFKA_V_VALUE((void *)r->value, r->value_len),
                                   RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_OPAQUE(&items[i]),
                                   RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
            rt_mono_us() < deadline)
            rd_kafka_poll(rk, 10);
        if (e)
            break; /* the rest stays spooled, in order */
    }
    int64_t left = (deadline - rt_mono_us()) / 1000;
    rd_kafka_flush(rk, left > 0 ? (int)left : 0);
    /* What is still queued or in flight comes back as purged (it may in fact have arrived:
     * sending it again later is harmless). The payloads are ours: wait for every report. */
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 500 && rd_kafka_outq_len(rk) > 0; i++)
        rd_kafka_poll(rk, 10);
    rd_kafka_destroy(rk);
    return 0;
}

/* Moves events.spool to sending.spool (under its lock, so no append is half-way), unless a
 * previous deliverer left a sending.spool: that goes first. */
static void take_for_sending(const char *dir)
{
    char send[4200], path[4200];
    path_of(send, sizeof send, dir, FILE_SEND);
    path_of(path, sizeof path, dir, FILE_EVENTS);
    if (access(send, F_OK) == 0)
        return;
    int fd = open_locked(path, LOCK_EX, 0);
    if (fd < 0)
        return;
    if (repair_tail(fd) > 0 && rename(path, send) == 0)
        sync_dir(dir);
    close(fd);
}

/* Sends the records of d, puts the ones not acknowledged back into the spool. */
static int deliver_data(const runtrack_conf_t *conf, const char *dir, const rt_spool_data_t *d,
                        int64_t deadline, rt_spool_deliver_res_t *res, char *errstr,
                        size_t errstr_size)
{
    send_item_t *items = calloc(d->n, sizeof *items);
    if (!items) {
        rt_seterr(errstr, errstr_size, "spool: out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->n; i++)
        items[i] = (send_item_t){.r = &d->recs[i], .at = i};
    qsort(items, d->n, sizeof *items, send_order);
    int rc = send_items(conf, items, d->n, deadline, errstr, errstr_size);
    rt_buf_t back = {0};
    for (size_t i = 0; rc == 0 && i < d->n; i++) {
        if (items[i].acked) {
            res->delivered++;
        } else {
            rt_buf_add(&back, items[i].r->raw, items[i].r->raw_len);
            res->left++;
        }
    }
    rt_spool_append_res_t ar;
    if (rc == 0 && back.oom) {
        rt_seterr(errstr, errstr_size, "spool: out of memory");
        rc = -1;
    } else if (rc == 0 && back.len &&
               rt_spool_append(dir, conf->spool_max_bytes, back.data, back.len, &ar, errstr,
                               errstr_size) != 0) {
        rc = -1;
    }
    rt_buf_free(&back);
    free(items);
    return rc;
}

/* One delivery round (deliver.lock held): takes events.spool unless a sending.spool is there,
 * sends it, removes it. Returns 0, or -1 with errstr. */
static int deliver_round(const runtrack_conf_t *conf, const char *dir, int64_t deadline,
                         rt_spool_deliver_res_t *res, char *errstr, size_t errstr_size)
{
    char path[4200];
    take_for_sending(dir);
    path_of(path, sizeof path, dir, FILE_SEND);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* nothing waits */
    rt_spool_data_t d = {0};
    size_t torn = 0;
    int rc = load_fd(fd, &d, &torn);
    close(fd);
    if (rc != 0)
        rt_seterr(errstr, errstr_size, "spool %s: %s", path, strerror(errno));
    else if (d.n)
        rc = deliver_data(conf, dir, &d, deadline, res, errstr, errstr_size);
    /* Everything in it is delivered or back in events.spool now. */
    if (rc == 0 && unlink(path) == 0)
        sync_dir(dir);
    rt_spool_data_free(&d);
    return rc;
}

int rt_spool_deliver(const runtrack_conf_t *conf, const char *dir, int timeout_ms,
                     rt_spool_deliver_res_t *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof *res);
    int64_t deadline = rt_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    char path[4200];
    path_of(path, sizeof path, dir, FILE_LOCK);
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        if (errno == ENOENT)
            return 0; /* no spool directory: nothing ever waited */
        rt_seterr(errstr, errstr_size, "spool %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        res->busy = errno == EWOULDBLOCK;
        close(lfd);
        return 0;
    }
    /* Two rounds: a sending.spool a dead deliverer left goes first, then what waits in
     * events.spool; a round that leaves records ends it (the broker is not answering). */
    int rc = 0;
    for (int round = 0; round < 2 && rc == 0 && !res->left; round++)
        rc = deliver_round(conf, dir, deadline, res, errstr, errstr_size);
    close(lfd);
    return rc < 0 ? -1 : res->left ? 1 : 0;
}
