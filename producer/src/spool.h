/* The spool: events a process could not deliver before it had to go, kept on disk until a later
 * process reaches the broker (docs/producer.md, "The spool"). libruntrack writes it from
 * runtrack_destroy when the `spool.dir` setting is on; the CLI turns it on by default and reads it
 * for `runtrack spool status|flush`.
 *
 * A spool directory holds
 *   events.spool   records appended under flock(LOCK_EX), each fsync'ed before the lock goes
 *   sending.spool  the records one deliverer took out of events.spool (a rename) and is sending
 *   deliver.lock   held (LOCK_EX|LOCK_NB) by the one process delivering
 *   dropped/RUN    how many of the run's log lines the size bound dropped so far (cumulative)
 * A record is the exact Kafka topic, key and value bytes the producer would have sent, framed as
 *   "RTS1" u32 body_len u32 crc32(body) | body: u8 kind, i64 seq, u16 topic_len, u32 key_len,
 *   topic, key, value | u32 body_len "RTSE"     (integers little-endian)
 * so a re-send is byte-identical and the consumer's (run_id, seq) keys make a second copy
 * harmless. A crash mid-append leaves a torn last record: readers stop at the first record whose
 * framing or CRC does not check out, and the next appender truncates it away under the lock. */
#ifndef RT_PRODUCER_SPOOL_H
#define RT_PRODUCER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "rt_attr.h"
#include "rt_buf.h"
#include "runtrack.h"

/* Record kinds: lifecycle and progress events are never dropped; log lines are dropped first
 * (oldest first) when the spool is over its size; a dropped-count heartbeat replaces the run's
 * previous one. */
enum { RT_SPOOL_KEEP = 'E', RT_SPOOL_LOG = 'L', RT_SPOOL_DROPCOUNT = 'H' };

/* One record, pointing into the buffer it was parsed from. */
typedef struct rt_spool_rec {
    int kind;
    int64_t seq;
    const char *topic, *key, *value;
    size_t topic_len, key_len, value_len;
    const char *raw; /* the whole framed record */
    size_t raw_len;
} rt_spool_rec_t;

/* The records of one spool file, read into memory (buf owns the bytes). */
typedef struct rt_spool_data {
    char *buf;
    size_t len;
    rt_spool_rec_t *recs;
    size_t n, cap;
    size_t valid_len; /* bytes up to the end of the last good record */
} rt_spool_data_t;

/* Frames one record onto batch (check batch->oom once at the end). */
void rt_spool_encode(rt_buf_t *batch, int kind, int64_t seq, const char *topic, const char *key,
                     size_t key_len, const char *value, size_t value_len);

/* Splits buf[0..len) into records, stopping at the first that does not check out (a torn
 * tail). d->buf/len are set to buf/len (d takes ownership of buf). Returns 0, or -1 when memory
 * ran out. */
int rt_spool_parse(char *buf, size_t len, rt_spool_data_t *d) RT_MUSTCHECK;

void rt_spool_data_free(rt_spool_data_t *d);

/* What rt_spool_append did. */
typedef struct rt_spool_append_res {
    uint64_t written;      /* records of the batch now in the spool */
    uint64_t dropped_logs; /* log records dropped to stay within max_bytes (old or new) */
} rt_spool_append_res_t;

/* Appends batch (records made by rt_spool_encode) durably to dir/events.spool, creating dir
 * (0700) as needed; cuts a torn tail first. When the file would pass max_bytes (> 0), log
 * records are dropped oldest first (down to 90 % of it) and each affected run gets a heartbeat
 * carrying its cumulative dropped_logs. Returns 0, or -1 with errstr (nothing of the batch is in
 * the spool then). */
int rt_spool_append(const char *dir, int64_t max_bytes, const char *batch, size_t len,
                    rt_spool_append_res_t *res, char *errstr, size_t errstr_size) RT_MUSTCHECK;

/* Reads what waits in dir (sending.spool, then events.spool under a shared lock) into *sending
 * and *waiting (either may be empty). *torn_bytes counts bytes of torn records skipped. Returns 0
 * (also when dir does not exist), or -1 with errstr. */
int rt_spool_load(const char *dir, rt_spool_data_t *sending, rt_spool_data_t *waiting,
                  size_t *torn_bytes, char *errstr, size_t errstr_size) RT_MUSTCHECK;

/* What rt_spool_deliver did. */
typedef struct rt_spool_deliver_res {
    uint64_t delivered; /* records the broker acknowledged */
    uint64_t left;      /* records put back into the spool */
    int busy;           /* another process holds deliver.lock: nothing done */
} rt_spool_deliver_res_t;

/* Sends what waits in dir with a producer of its own made from conf, in seq order per run,
 * waiting at most timeout_ms for acknowledgements; what was not acknowledged goes back into the
 * spool. Only one process delivers at a time (another finds busy). Returns 0 when nothing is
 * left, 1 when records are left, -1 with errstr on an error (the records stay where they were). */
int rt_spool_deliver(const runtrack_conf_t *conf, const char *dir, int timeout_ms,
                     rt_spool_deliver_res_t *res, char *errstr, size_t errstr_size) RT_MUSTCHECK;

#endif
