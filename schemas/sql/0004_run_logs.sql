-- run_logs: one row per run.log event, keyed by (run_id, seq) so a duplicate is
-- INSERT ... ON CONFLICT DO NOTHING. No foreign key to runs: logs and run state are written in
-- independent batches and retention prunes logs on its own schedule.
CREATE TABLE run_logs (
    run_id uuid NOT NULL,
    seq bigint NOT NULL,
    ts timestamptz NOT NULL,
    level text NOT NULL
        CONSTRAINT run_logs_level_check CHECK (level IN ('info', 'success', 'warning', 'error')),
    phase text,
    message text NOT NULL,
    fields jsonb,
    event_id uuid NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Retention deletes by age.
CREATE INDEX run_logs_ts_idx ON run_logs (ts);

COMMENT ON TABLE run_logs IS 'One row per run.log event, written by runtrack-consumer.';
COMMENT ON COLUMN run_logs.run_id IS 'Event envelope run_id.';
COMMENT ON COLUMN run_logs.seq IS 'Event envelope seq (orders a run''s log lines).';
COMMENT ON COLUMN run_logs.ts IS 'Event envelope ts.';
COMMENT ON COLUMN run_logs.level IS 'data.level: info, success, warning or error.';
COMMENT ON COLUMN run_logs.phase IS 'data.phase.';
COMMENT ON COLUMN run_logs.message IS 'data.message.';
COMMENT ON COLUMN run_logs.fields IS 'data.fields (free-form object).';
COMMENT ON COLUMN run_logs.event_id IS 'Event envelope event_id.';
