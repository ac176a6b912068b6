/* In-memory aggregation of one batch: every event of a run folds into one row of merge inputs
 * (newest seq wins for phase/pause, and per counter for counters and memory/cpu; earliest ts
 * for run.started; for run.finished the highest rank (a wrapper's failure first) then the
 * earliest ts; min/max for times and seqs), so the batch costs one upsert row per run. The
 * same rules are applied again by the upsert in SQL (pg_out.c) against the stored row, so the
 * result does not depend on how events were split into batches or ordered within a run.
 * The aggregate copies what it keeps of an event, so events (and the Kafka records they were
 * decoded from) can be freed as soon as they are folded in: a batch costs memory per run, not
 * per event. */
#ifndef RT_CONSUMER_AGGREGATE_H
#define RT_CONSUMER_AGGREGATE_H

#include <stddef.h>

#include "copy_rows.h"
#include "decode.h"

typedef struct rt_agg rt_agg_t;

/* What a batch held for one run, besides its merge inputs: the derived tables only need
 * re-deriving for runs whose batch could have changed them (pg_out.c). */
enum {
    RT_AGG_STARTED = 1,  /* a run.started event */
    RT_AGG_FINISHED = 2, /* a run.finished event */
    RT_AGG_COUNTERS = 4  /* a counter map (run.progress, or run.finished with counters) */
};

/* Returns a new empty aggregate, or NULL when out of memory. Free with rt_agg_free. */
rt_agg_t *rt_agg_new(void);
void rt_agg_free(rt_agg_t *agg);

/* Forgets every run; keeps the memory for the next batch. */
void rt_agg_reset(rt_agg_t *agg);

/* Makes sure run_id has a slot (to collect the batch's run ids before the stored job/kind are
 * known). Returns 0, or -1 when out of memory. */
int rt_agg_touch(rt_agg_t *agg, const char *run_id);

/* Records the job/kind PostgreSQL already holds for run_id (copied), and whether they came from
 * its run.started (runs.has_started: the identity is then settled). Returns 0 or -1 (OOM). */
int rt_agg_set_known(rt_agg_t *agg, const char *run_id, const char *job, const char *kind,
                     int started);

/* Records that retention deleted run_id (runs_removed). Returns 0 or -1 (OOM). */
int rt_agg_set_removed(rt_agg_t *agg, const char *run_id);

/* Folds ev into its run, copying what the run keeps of it: ev may be freed right after.
 * A run's job/kind are those of its run.started; until one is seen (stored or in this batch)
 * they are the first event's, provisionally, and events of other jobs are accepted and flag the
 * run (identity_conflict); a run.started then sets them. Returns 0; -1 with detail filled when
 * the event breaks a rule (its job/kind differ from those its run's run.started set) — the
 * caller dead-letters it with reason "rule"; -3 with detail when retention deleted the run
 * (rt_agg_set_removed; reason "run_removed"); -2 when out of memory. */
int rt_agg_add(rt_agg_t *agg, const rt_event_t *ev, char *detail, size_t detail_size);

/* Number of runs with a slot. */
size_t rt_agg_count(const rt_agg_t *agg);

/* Flags a run whose event ts differs from the consumer's wall clock at fold time by more than
 * max_skew_s seconds (runs.clock_skew_s = max_skew_s); 0 (the default) checks nothing. Kept
 * across rt_agg_reset. */
void rt_agg_set_clock_skew(rt_agg_t *agg, int max_skew_s);

/* RT_AGG_* flags of what this batch held for run_id (0 when it has no slot). */
unsigned rt_agg_flags(const rt_agg_t *agg, const char *run_id);

/* PostgreSQL array literal of the run ids: "{id,id,...}" (malloc'd, caller frees), or NULL. */
char *rt_agg_run_ids(const rt_agg_t *agg);

/* The runs upsert's input: one row per run that received events, in the order the runs first
 * appeared, appended to b in COPY text format, the columns of the rt_in_runs staging table
 * (pg_out.c), which SQL_RUNS merges into runs. The events' stored objects go in as they arrived
 * (jsonb parses them). Returns the number of rows, or (size_t)-1 when out of memory. */
size_t rt_agg_runs_copy(const rt_agg_t *agg, rt_buf_t *b);

#endif
