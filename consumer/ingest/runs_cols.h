/* The shape of a batch's `runs` row, written once: the columns of the rt_in_runs staging table
 * that the runs upsert (pg_out.c, SQL_RUNS) merges into `runs`. From this list come both the
 * staging table's DDL (pg_out.c) and the column order of the COPY rows (aggregate.c,
 * rt_agg_runs_copy). The first column, run_id uuid, is not listed: it is always there and has
 * no separator before it.
 *
 * X(name, SQL type, how aggregate.c writes the field of run r into COPY buffer b). The third
 * part names aggregate.c's column writers (col_text, col_ts, ...; NULL unless the run has the
 * value) and is only expanded there. Adding a column: add it here, then use it in SQL_RUNS (and a
 * migration when `runs` itself gains a column). */
#ifndef RT_CONSUMER_RUNS_COLS_H
#define RT_CONSUMER_RUNS_COLS_H

#define RT_RUNS_COLS(X)                                                                            \
    X(job, "text", col_text(b, &r->job))                                                           \
    X(kind, "text", col_text(b, &r->kind))                                                         \
    X(min_ts, "timestamptz", col_ts(b, 1, &r->min_ts))                                             \
    X(max_ts, "timestamptz", col_ts(b, 1, &r->max_ts))                                             \
    X(max_seq, "bigint", col_int(b, 1, r->max_seq))                                                \
    X(producer_host, "text", col_text(b, &r->producer_host))                                       \
    X(producer_pid, "integer", col_int(b, 1, r->producer_pid))                                     \
    X(producer_lib, "text", col_text(b, &r->producer_lib))                                         \
    X(has_started, "boolean", col_bool(b, r->has_started, 1))                                      \
    X(started_ts, "timestamptz", col_ts(b, r->has_started, &r->started))                           \
    /* the run.started objects only when it is in the batch */                                     \
    X(start_counts, "jsonb", col_text(b, r->has_started ? &r->start_counts : &none))               \
    X(params, "jsonb", col_text(b, r->has_started ? &r->params : &none))                           \
    X(planned, "jsonb", col_text(b, r->has_started ? &r->planned : &none))                         \
    X(phase_seq, "bigint", col_int(b, r->has_phase, r->phase_seq))                                 \
    X(phase, "text", col_text(b, r->has_phase ? &r->phase : &none))                                \
    /* the counters merged per counter, in the form of migration 0027 */                           \
    X(counters_seq, "bigint", col_int(b, r->nctr > 0, ctr_top(r)))                                 \
    X(counters, "jsonb", col_counters(b, r, 0))                                                    \
    X(counter_seqs, "jsonb", col_counters(b, r, 1))                                                \
    X(counter_keys, "text", col_counter_keys(b, r))                                                \
    X(progress_seq, "bigint", col_int(b, r->has_progress, r->progress_seq))                        \
    X(memory_seq, "bigint", col_int(b, r->has_memory, r->memory_seq))                              \
    X(memory_percent, "real", col_real(b, r->has_memory, r->memory_percent))                       \
    X(cpu_seq, "bigint", col_int(b, r->has_cpu, r->cpu_seq))                                       \
    X(cpu_percent, "real", col_real(b, r->has_cpu, r->cpu_percent))                                \
    X(pause_seq, "bigint", col_int(b, r->has_pause, r->pause_seq))                                 \
    X(paused, "boolean", col_bool(b, r->has_pause, r->paused))                                     \
    X(paused_at, "timestamptz", col_ts(b, r->has_paused_at, &r->paused_at))                        \
    X(resumed_at, "timestamptz", col_ts(b, r->has_resumed_at, &r->resumed_at))                     \
    X(finished_at, "timestamptz", col_ts(b, r->has_finished, &r->finished))                        \
    X(status, "text", col(b, r->has_finished, rt_run_status_name(r->status)))                      \
    /* end_counts with the rank and ts of the finish they came from (migration 0031) */           \
    X(end_counts, "jsonb", col_text(b, &r->end_counts))                                            \
    X(end_counts_rank, "smallint", col_int(b, r->end_counts.set, r->end_counts_rank))              \
    X(end_counts_at, "timestamptz", col_ts(b, r->end_counts.set, &r->end_counts_from))             \
    X(error_message, "text", col_text(b, r->has_finished ? &r->error_message : &none))             \
    X(error_details, "jsonb", col_text(b, r->has_finished ? &r->error_details : &none))            \
    X(dropped_logs, "bigint", col_int(b, r->has_dropped, r->dropped))                          \
    /* max_clock_skew_s when an event of the run was beyond it, else 0 (runs.clock_skew_s) */     \
    X(clock_skew_s, "integer", col_int(b, 1, r->skewed ? a->clock_skew_s : 0))                  \
    X(finished_by_wrapper, "boolean", col_bool(b, r->has_finished, r->finish_wrapper))          \
    X(identity_conflict, "boolean", col_bool(b, 1, r->conflict))

#endif
