-- A run's identity (docs/decisions.md, "A run's identity"): its job and kind are those of its
-- run.started; until that is stored (runs.has_started) they are the first event's, provisionally.
-- Events of another job arriving before the run.started are kept (nobody can yet tell which is
-- the impostor) and the run is flagged; after it they are dead letters (reason rule).
ALTER TABLE runs ADD COLUMN identity_conflict boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN runs.identity_conflict IS
    'true when events of more than one job/kind were stored for this run (before its run.started settled job and kind).';
COMMENT ON COLUMN runs.job IS
    'Envelope job of the run.started; until one is stored (has_started), of the first event.';
COMMENT ON COLUMN runs.kind IS
    'Envelope kind of the run.started; until one is stored (has_started), of the first event.';

-- Tombstones of runs deleted by retention, so that a late event for one is a dead letter
-- (reason run_removed) instead of recreating it as a phantom running run. Written by the same
-- statement that deletes the runs row; pruned after retention_runs_days more (run ids are
-- UUIDv7, never reused, and a producer that late is long gone).
CREATE TABLE runs_removed (
    run_id uuid PRIMARY KEY,
    removed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_removed_removed_at_idx ON runs_removed (removed_at);
COMMENT ON TABLE runs_removed IS
    'Runs deleted by retention; events for them are dead letters (run_removed), not new runs.';
