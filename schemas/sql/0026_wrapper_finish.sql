-- A run wrapped by `runtrack run` can receive two run.finished events: its own process may
-- finish it (it has RUNTRACK_RUN_ID) and the wrapper always does, from the process's real exit
-- status. "Earliest ts wins" let a child that said completed and then exited 3 stay completed.
-- The wrapper's finish now says it is one (data.source = "wrapper"), and the consumer ranks
-- finishes: a wrapper's failed/partial over the run's own finish over a wrapper's completed,
-- then the earliest ts (docs/consumer.md, merge rules; docs/decisions.md). The upsert needs to
-- know whether the stored finish was the wrapper's to apply that rank against it.
-- Existing rows: false. A finish stored before this migration is taken as the run's own, as the
-- old rule did; nothing derived (run_results, discovery_runs) changes.
ALTER TABLE runs ADD COLUMN finished_by_wrapper boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN runs.finished_by_wrapper IS
    'true when the run.finished that set status/finished_at/end_counts/error_* was the wrapper''s'
    ' (data.source "wrapper": runtrack run, from the exit status of the process it ran).';
