-- end_counts no longer follow the finish that wins on status. A child of `runtrack run` that
-- reports completed with end counts and then exits 3 is failed by the wrapper's finish, which
-- carries none, and "every finish column from the winner" left end_counts NULL: run_results'
-- end and new columns with it (seed 000: new = end - start). Now end_counts come from the
-- highest-ranked, then earliest, run.finished that carries them, whichever finish set the
-- status (docs/decisions.md 61; docs/consumer.md, merge rules). To apply that order against a
-- later batch's finish the row keeps where its end_counts came from: that finish's rank (as
-- FIN_RANK in consumer/ingest/pg_out.c: 2 a wrapper's failed/partial, 1 the run's own finish,
-- 0 a wrapper's completed) and its ts. NULL while end_counts is NULL.
ALTER TABLE runs ADD COLUMN end_counts_rank smallint;
ALTER TABLE runs ADD COLUMN end_counts_at timestamptz;

-- Existing rows: their end_counts came from the finish that set status and finished_at (a
-- stale close sets no end_counts).
UPDATE runs
   SET end_counts_rank = CASE WHEN NOT finished_by_wrapper THEN 1
                              WHEN status = 'completed' THEN 0 ELSE 2 END,
       end_counts_at = finished_at
 WHERE end_counts IS NOT NULL;

COMMENT ON COLUMN runs.end_counts IS
    'end_counts of the highest-ranked, then earliest, run.finished that carried them (not'
    ' necessarily the finish that set status).';
COMMENT ON COLUMN runs.end_counts_rank IS
    'Rank of the run.finished end_counts came from: 2 a wrapper''s failed/partial, 1 the run''s'
    ' own finish, 0 a wrapper''s completed (NULL: no end_counts).';
COMMENT ON COLUMN runs.end_counts_at IS
    'ts of the run.finished end_counts came from (NULL: no end_counts).';
COMMENT ON COLUMN runs.finished_by_wrapper IS
    'true when the run.finished that set status/finished_at/error_* was the wrapper''s'
    ' (data.source "wrapper": runtrack run, from the exit status of the process it ran).';
