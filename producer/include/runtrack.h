/* libruntrack: report scraper runs (lifecycle, progress, logs) to Kafka without ever blocking or
 * crashing the caller. The event format is docs/events.md; this header is the whole public API.
 *
 * Model: one client (runtrack_t) per process, shared by all threads; any number of runs
 * (runtrack_run_t) on it. Every call records the event under a short lock and returns; one
 * background thread per client encodes JSON, hands it to librdkafka (idempotent producer), sends
 * heartbeats and recovers from librdkafka fatal errors. Only runtrack_flush() and
 * runtrack_destroy() wait, and only up to the timeout they are given.
 *
 * Guarantees while the process lives: lifecycle events (started, phase, paused, resumed, finished)
 * are never dropped (re-sent until delivered); progress is coalesced per run (the newest value is
 * sent); log lines beyond "log.queue.max" undelivered lines are dropped and counted (reported in
 * heartbeats and in run.finished as dropped_logs). A kill -9 loses whatever was not delivered yet;
 * runtrack_flush() bounds that. See docs/producer.md.
 *
 * Size: an event is at most 1 MiB of JSON (the contract, docs/events.md). A call whose event
 * would be larger records nothing and returns RUNTRACK_ERR_TOO_LARGE (run_start: NULL with
 * errstr); every event up to 1 MiB is sent (the library sets librdkafka's message.max.bytes to
 * fit it; the topic must accept it too: docs/producer.md, "Event size").
 *
 * fork(): the child keeps a working client. Its first call notices the fork and gives the child
 * its own librdkafka handle and background thread; the handles it inherited (client and runs)
 * stay valid, and what it records from then on is delivered like the parent's. Events the parent
 * recorded before the fork are the parent's to send: the child drops its copy of them. The
 * parent's librdkafka handle and thread are never touched in the child (librdkafka's rule: they
 * are left, unused, to the child's exit). runtrack_destroy() in a child that recorded nothing
 * returns at once. A child that records into a run it inherited shares that run with the parent,
 * like two processes do (see "Ordering" in docs/producer.md); the parent stays the one that
 * heartbeats it. A fork while another thread is inside a runtrack call is safe (the library's
 * fork handlers hold its locks across fork()); only the thread that forks survives in the child,
 * as usual. */
#ifndef RUNTRACK_H
#define RUNTRACK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RUNTRACK_BUILDING)
#define RUNTRACK_API __attribute__((visibility("default")))
#else
#define RUNTRACK_API
#endif

/* RUNTRACK_MUSTCHECK marks the calls whose result must not be dropped: a handle that would
 * leak, or a flush whose timeout says events were not delivered. */
#if defined(__GNUC__)
#define RUNTRACK_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define RUNTRACK_MUSTCHECK         __attribute__((warn_unused_result))
#else
#define RUNTRACK_PRINTF(fmt, args)
#define RUNTRACK_MUSTCHECK
#endif

/* 0xMMmmpp: major, minor, patch. SOVERSION is the major. */
#define RUNTRACK_VERSION_HEX 0x000100
#define RUNTRACK_VERSION_STR "0.1.0"

/* The library's version string ("0.1.0"); static storage. Any thread, never blocks. */
RUNTRACK_API const char *runtrack_version(void);
/* RUNTRACK_VERSION_HEX of the library actually loaded. */
RUNTRACK_API int runtrack_version_hex(void);

/* Error codes. Append, never renumber. */
#define RUNTRACK_ERRNO_MAP(X)                                                                      \
    X(OK, 0, "success")                                                                            \
    X(INVALID_ARG, 1, "invalid argument")                                                          \
    X(CONF, 2, "invalid configuration")                                                            \
    X(NOMEM, 3, "out of memory")                                                                   \
    X(STATE, 4, "not allowed in the run's current state")                                          \
    X(TIMEOUT, 5, "timed out with events still undelivered")                                       \
    X(KAFKA, 6, "Kafka client error")                                                              \
    X(QUEUE_FULL, 7, "log queue full: line dropped and counted")                                   \
    X(LIMIT, 8, "too many counters for one run")                                                   \
    X(JSON, 9, "invalid JSON (an object is required)")                                             \
    X(SYSTEM, 10, "system call failed")                                                            \
    X(TOO_LARGE, 11, "event larger than 1 MiB: not recorded")                                      \
    X(SPOOLED, 12, "not delivered in time: written to the spool for a later process to send")

typedef enum runtrack_err {
#define RUNTRACK_X_(name, code, msg) RUNTRACK_ERR_##name = code,
    RUNTRACK_ERRNO_MAP(RUNTRACK_X_)
#undef RUNTRACK_X_
} runtrack_err_t;

#define RUNTRACK_OK RUNTRACK_ERR_OK

/* Human text / symbolic name ("RUNTRACK_ERR_TIMEOUT") for a code; static storage, never NULL. */
RUNTRACK_API const char *runtrack_strerror(runtrack_err_t err);
RUNTRACK_API const char *runtrack_err_name(runtrack_err_t err);

/* Standard counter names (docs/events.md "Counters"). Any other name matching
 * ^[a-z][a-z0-9_]{0,63}$ is a custom counter. */
#define RUNTRACK_BATCHES_TOTAL       "batches_total"
#define RUNTRACK_BATCH_CURRENT       "batch_current"
#define RUNTRACK_SITES_TOTAL         "sites_total"
#define RUNTRACK_SITES_COMPLETED     "sites_completed"
#define RUNTRACK_SITES_IN_PROGRESS   "sites_in_progress"
#define RUNTRACK_SITES_FAILED        "sites_failed"
#define RUNTRACK_SITES_PENDING       "sites_pending"
#define RUNTRACK_API_CALLS           "api_calls"
#define RUNTRACK_FOUND               "found"
#define RUNTRACK_NEW                 "new"
#define RUNTRACK_UPDATED             "updated"
#define RUNTRACK_UNCHANGED           "unchanged"
#define RUNTRACK_EVALUATIONS_CREATED "evaluations_created"
#define RUNTRACK_EVENTS              "events"
#define RUNTRACK_URLS                "urls"

/* Most distinct counters one run (or one counter map argument) may hold. */
#define RUNTRACK_MAX_COUNTERS 64

/* A named absolute counter value (0..INT64_MAX). The name is copied; the caller keeps ownership. */
typedef struct runtrack_counter {
    const char *name;
    int64_t value;
} runtrack_counter_t;

typedef enum runtrack_level {
    RUNTRACK_INFO = 0,
    RUNTRACK_SUCCESS = 1,
    RUNTRACK_WARNING = 2,
    RUNTRACK_ERROR = 3
} runtrack_level_t;

typedef enum runtrack_status {
    RUNTRACK_COMPLETED = 1,
    RUNTRACK_FAILED = 2,
    RUNTRACK_PARTIAL = 3 /* finished with some errors */
} runtrack_status_t;

/* Pass as memory_percent / cpu_percent to leave them out of a progress event. */
#define RUNTRACK_PERCENT_UNSET (-1.0)

typedef struct runtrack_s runtrack_t;
typedef struct runtrack_run_s runtrack_run_t;
typedef struct runtrack_conf_s runtrack_conf_t;

/* ------------------------------------------------------------------------------------------
 * Configuration. A conf object is owned by one thread until handed to runtrack_new().
 *
 * Keys (env var in brackets; runtrack_conf_from_env() reads them):
 *   brokers                 [RUNTRACK_BROKERS]   bootstrap list, default "localhost:9092"
 *   topic                   [RUNTRACK_TOPIC]     default "runtrack.events"
 *   heartbeat.interval.ms   [RUNTRACK_HEARTBEAT_INTERVAL_MS] default 10000, 0 = no heartbeats
 *   log.queue.max           [RUNTRACK_LOG_QUEUE_MAX] undelivered log lines kept, default 50000
 *   retry.backoff.ms        [RUNTRACK_RETRY_BACKOFF_MS] wait before re-sending a failed
 *                           lifecycle event, default 1000
 *   host                    [RUNTRACK_HOST]      producer.host in events, default gethostname()
 *   spool.dir               [RUNTRACK_SPOOL_DIR] directory where runtrack_destroy keeps what it
 *                           could not deliver in time, for a later process; default none
 *                           (off; "" turns it off again)
 *   spool.max.bytes         [RUNTRACK_SPOOL_MAX_BYTES] the spool's bound, default 67108864; over
 *                           it log lines are dropped (counted), other events never
 *   kafka.<property>        [RUNTRACK_KAFKA_<PROPERTY>, '_' -> '.', lower-cased] any librdkafka
 *                           producer property (TLS, SASL, ...), e.g. kafka.security.protocol.
 *                           Set by the library and not overridable: enable.idempotence=true.
 * ------------------------------------------------------------------------------------------ */

/* A new conf with defaults (no environment). NULL only when out of memory. Caller owns it. */
RUNTRACK_API runtrack_conf_t *runtrack_conf_new(void) RUNTRACK_MUSTCHECK;
/* Frees a conf not handed to runtrack_new(). NULL is a no-op. */
RUNTRACK_API void runtrack_conf_destroy(runtrack_conf_t *conf);
/* Sets one key. Unknown keys, bad numbers and invalid librdkafka properties fail with
 * RUNTRACK_ERR_CONF and a message in errstr; the conf is then unchanged. Never blocks. */
RUNTRACK_API runtrack_err_t runtrack_conf_set(runtrack_conf_t *conf, const char *key,
                                              const char *value, char *errstr, size_t errstr_size);
/* Applies the RUNTRACK_* environment variables listed above on top of the conf (environment
 * wins over values set before this call). Fails like runtrack_conf_set, naming the variable. */
RUNTRACK_API runtrack_err_t runtrack_conf_from_env(runtrack_conf_t *conf, char *errstr,
                                                   size_t errstr_size);

/* Called from the background thread when an event's delivery failed. For lifecycle events
 * `will_retry` is 1 (the event is re-sent after retry.backoff.ms); for logs, progress and
 * heartbeats it is 0 (the event is gone). `type` is e.g. "run.log". Must not call back into the
 * library's blocking functions (flush/destroy); must return quickly. */
typedef void(runtrack_failure_cb)(void *opaque, const char *run_id, const char *type, int64_t seq,
                                  const char *reason, int will_retry);
RUNTRACK_API void runtrack_conf_set_failure_cb(runtrack_conf_t *conf, runtrack_failure_cb *cb,
                                               void *opaque);

/* ------------------------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------------------------ */

/* Creates the client and its background thread. conf may be NULL: defaults plus environment.
 * On success the client owns conf (do not use or free it any more); on failure returns NULL,
 * fills errstr and conf still belongs to the caller. Does not wait for the broker: an unreachable
 * broker is not an error here (events wait in memory). Call from any thread. */
RUNTRACK_API runtrack_t *runtrack_new(runtrack_conf_t *conf, char *errstr,
                                      size_t errstr_size) RUNTRACK_MUSTCHECK;

/* Waits up to timeout_ms (-1 = forever) until every event recorded so far is delivered (or
 * finally dropped). Returns RUNTRACK_OK, or RUNTRACK_ERR_TIMEOUT with *undelivered (may be NULL)
 * set to the number still in memory. Any thread except the failure callback. Blocks. */
RUNTRACK_API runtrack_err_t runtrack_flush(runtrack_t *rt, int timeout_ms,
                                           uint64_t *undelivered) RUNTRACK_MUSTCHECK;

/* Flushes up to timeout_ms, then stops the background thread and frees everything, including
 * runs whose handles were not destroyed (those handles become invalid). Returns like
 * runtrack_flush: what could not be delivered is counted in *undelivered and lost.
 * With the `spool.dir` setting (opt-in, docs/producer.md "The spool"), what is still undelivered
 * then is appended durably to the spool instead and RUNTRACK_ERR_SPOOLED is returned
 * (*undelivered = the events spooled; RUNTRACK_ERR_TIMEOUT if the spool could not be written);
 * and when everything was delivered, events an earlier process spooled are sent too, within
 * what is left of timeout_ms.
 * NULL is a no-op returning RUNTRACK_OK. No other call may run on rt concurrently. Blocks. */
RUNTRACK_API runtrack_err_t runtrack_destroy(runtrack_t *rt, int timeout_ms, uint64_t *undelivered);

typedef struct runtrack_stats {
    uint64_t recorded;           /* events accepted from callers or made by the library */
    uint64_t produced;           /* hand-offs to librdkafka (re-sends counted again) */
    uint64_t delivered;          /* acknowledged by the broker */
    uint64_t failed;             /* failed delivery reports (lifecycle ones are retried) */
    uint64_t retried;            /* lifecycle events put back for another attempt */
    uint64_t dropped_logs;       /* log lines dropped because log.queue.max was reached */
    uint64_t coalesced_progress; /* progress updates merged into a still-pending one */
    uint64_t queued;             /* events recorded but neither delivered nor dropped yet */
    uint64_t recreations;        /* librdkafka handles recreated after fatal errors */
    uint64_t reserved[7];
} runtrack_stats_t;

/* Copies a consistent-enough snapshot of the counters. Any thread, never blocks. */
RUNTRACK_API void runtrack_stats(runtrack_t *rt, runtrack_stats_t *stats);

/* ------------------------------------------------------------------------------------------
 * Runs. All run functions may be called from any thread, concurrently on the same run, and
 * return in microseconds (a short lock, a copy) whatever the broker does. Strings and arrays
 * passed in are copied; the caller keeps ownership. errstr may be NULL.
 * ------------------------------------------------------------------------------------------ */

typedef struct runtrack_start_opts {
    const char *kind;                       /* NULL = "scrape"; 1..64 bytes */
    const runtrack_counter_t *start_counts; /* e.g. {"events", 1000}, {"urls", 500} */
    size_t n_start_counts;
    const char *params_json;           /* a JSON object or NULL, e.g. naics_codes, posted_from */
    const runtrack_counter_t *planned; /* planned totals, e.g. {"sites_total", 15} */
    size_t n_planned;
} runtrack_start_opts_t;

/* Starts a run of `job` (1..200 bytes, e.g. "fb_v2.py"): picks a UUIDv7 run id and records
 * run.started (seq 1). opts may be NULL. Returns the handle (caller owns it: runtrack_run_destroy)
 * or NULL with errstr filled on invalid arguments (params making run.started larger than 1 MiB
 * included). */
RUNTRACK_API runtrack_run_t *runtrack_run_start(runtrack_t *rt, const char *job,
                                                const runtrack_start_opts_t *opts, char *errstr,
                                                size_t errstr_size) RUNTRACK_MUSTCHECK;

/* runtrack_run_start with the caller's run id (as Healthchecks' rid or OpenLineage's runId): a
 * scheduler can name the run before it starts, and a retried start does not make a second run.
 * run_id is any canonical UUID (8-4-4-4-12 hex digits, either case; stored lowercase) except the
 * nil one. A UUIDv7's time is taken as the run's start and seqs are microseconds since it, as
 * for the ids runtrack_run_start picks; for other versions seqs are microseconds since the Unix
 * epoch, so every process of the run still derives increasing seqs from its clock.
 * Starting the same id again (same job and kind, in this or another process) records another
 * run.started (seq 1) and is idempotent: the consumer keeps the earliest start and leaves the
 * run's counters, phase and status as they are. The same id under another job or kind is
 * refused: here with NULL + errstr when this client holds that run, and otherwise by the
 * consumer, which dead-letters the second run.started (reason "rule") and leaves the run alone
 * (docs/decisions.md, "A run's identity"). Returns the handle (caller owns it:
 * runtrack_run_destroy) or NULL with errstr filled. Any thread; does not block. */
RUNTRACK_API runtrack_run_t *runtrack_run_start_with_id(runtrack_t *rt, const char *job,
                                                        const char *run_id,
                                                        const runtrack_start_opts_t *opts,
                                                        char *errstr,
                                                        size_t errstr_size) RUNTRACK_MUSTCHECK;

/* A handle for a run started elsewhere (another process, e.g. the CLI or a `runtrack run`
 * wrapper): records nothing by itself. run_id is a UUID as for runtrack_run_start_with_id (a
 * UUIDv7's time is the run's start, from which seqs are derived); job and kind as for
 * runtrack_run_start. NULL + errstr on error. */
RUNTRACK_API runtrack_run_t *runtrack_run_attach(runtrack_t *rt, const char *run_id,
                                                 const char *job, const char *kind, char *errstr,
                                                 size_t errstr_size) RUNTRACK_MUSTCHECK;

/* The run's id (36 characters), valid until runtrack_run_destroy(). */
RUNTRACK_API const char *runtrack_run_id(const runtrack_run_t *run);

/* Records run.phase; later log lines carry the phase. phase is 1..64 bytes. */
RUNTRACK_API runtrack_err_t runtrack_run_phase(runtrack_run_t *run, const char *phase, char *errstr,
                                               size_t errstr_size);

/* Sets absolute counters (merged into the run's counter map; counters not named keep their
 * value) and optionally memory/cpu percent (0..100, or RUNTRACK_PERCENT_UNSET) and records one
 * run.progress carrying the whole map. If a progress event of this run is still waiting to be
 * sent, it is updated instead (coalesced): only the newest value is sent. */
RUNTRACK_API runtrack_err_t runtrack_run_progress(runtrack_run_t *run,
                                                  const runtrack_counter_t *counters, size_t n,
                                                  double memory_percent, double cpu_percent,
                                                  char *errstr, size_t errstr_size);
/* One counter, no percentages: shorthand for runtrack_run_progress. */
RUNTRACK_API runtrack_err_t runtrack_run_counter(runtrack_run_t *run, const char *name,
                                                 int64_t value);

/* Log calls are the hot path and return a code only (no errstr): INVALID_ARG (NULL run or
 * message, unknown level), JSON (fields_json not an object), STATE (run finished), QUEUE_FULL,
 * NOMEM, TOO_LARGE (fields make the event larger than 1 MiB) say everything there is to say.
 * Records a run.log line. Messages over 65536 bytes are cut at a UTF-8 boundary; invalid UTF-8
 * becomes U+FFFD. fields_json is a JSON object or NULL. Returns RUNTRACK_ERR_QUEUE_FULL when
 * log.queue.max undelivered lines are already held (the line is dropped and counted). */
RUNTRACK_API runtrack_err_t runtrack_run_log(runtrack_run_t *run, runtrack_level_t level,
                                             const char *message, const char *fields_json);
/* printf-style variants (no fields). */
RUNTRACK_API runtrack_err_t runtrack_run_logf(runtrack_run_t *run, runtrack_level_t level,
                                              const char *fmt, ...) RUNTRACK_PRINTF(3, 4);
RUNTRACK_API runtrack_err_t runtrack_run_vlogf(runtrack_run_t *run, runtrack_level_t level,
                                               const char *fmt, va_list ap) RUNTRACK_PRINTF(3, 0);

/* Records run.paused / run.resumed; reason may be NULL (longer than 1024 bytes: cut). */
RUNTRACK_API runtrack_err_t runtrack_run_pause(runtrack_run_t *run, const char *reason,
                                               char *errstr, size_t errstr_size);
RUNTRACK_API runtrack_err_t runtrack_run_resume(runtrack_run_t *run, const char *reason,
                                                char *errstr, size_t errstr_size);

/* Records run.heartbeat now (the background thread also sends one every heartbeat.interval.ms
 * while a run started by this client is open). */
RUNTRACK_API runtrack_err_t runtrack_run_heartbeat(runtrack_run_t *run, char *errstr,
                                                   size_t errstr_size);

typedef struct runtrack_finish_opts {
    const runtrack_counter_t *end_counts; /* e.g. {"events", 1050}, {"urls", 525} */
    size_t n_end_counts;
    const runtrack_counter_t *counters; /* final counters, merged like progress */
    size_t n_counters;
    const char *error_message;      /* NULL or text */
    const char *error_details_json; /* NULL or a JSON object */
} runtrack_finish_opts_t;

/* Records run.finished with status and dropped_logs. After it every call on the run except
 * runtrack_run_id/runtrack_run_destroy returns RUNTRACK_ERR_STATE. opts may be NULL.
 * RUNTRACK_ERR_TOO_LARGE (error details over 1 MiB) leaves the run open: finish it again. */
RUNTRACK_API runtrack_err_t runtrack_run_finish(runtrack_run_t *run, runtrack_status_t status,
                                                const runtrack_finish_opts_t *opts, char *errstr,
                                                size_t errstr_size);

/* How a process the caller wrapped ended (runtrack_run_finish_wrapped). */
typedef struct runtrack_exit {
    int exit_code; /* 0..255 when the process exited, else -1 */
    int signal;    /* 1..127 when a signal ended it, else 0 */
} runtrack_exit_t;

/* runtrack_run_finish as the wrapper of the run's process (what `runtrack run` sends): the
 * event says so ("source": "wrapper") and carries how the process ended (how: exit code or
 * signal; NULL when the process never started or was lost). The consumer lets a wrapper's
 * failed or partial finish overrule whatever the process itself finished with, and the
 * process's own finish overrule a wrapper's completed (docs/events.md, run.finished).
 * RUNTRACK_ERR_INVALID_ARG: an exit code and a signal at once, or either out of range. Same
 * thread and state rules as runtrack_run_finish. */
RUNTRACK_API runtrack_err_t runtrack_run_finish_wrapped(runtrack_run_t *run,
                                                        runtrack_status_t status,
                                                        const runtrack_finish_opts_t *opts,
                                                        const runtrack_exit_t *how, char *errstr,
                                                        size_t errstr_size);

/* Releases the handle. Events already recorded are still sent; an unfinished run gets no more
 * heartbeats (so the consumer will eventually report it stale). NULL is a no-op. Must not race
 * with other calls on the same handle. */
RUNTRACK_API void runtrack_run_destroy(runtrack_run_t *run);

#ifdef __cplusplus
}
#endif
#endif
