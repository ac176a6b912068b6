-- runs: live state of every run, one row per run_id, merged from all of its events by the
-- consumer. Each merge is order-independent: per-field "newest seq wins" (phase_seq,
-- counters_seq, pause_seq, last_seq) and "terminal status sticks", so duplicates and replays
-- leave the row unchanged.
CREATE TABLE runs (
    run_id uuid PRIMARY KEY,
    job text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL DEFAULT 'running'
        CONSTRAINT runs_status_check CHECK (status IN ('running', 'completed', 'failed', 'partial')),
    phase text,
    phase_seq bigint NOT NULL DEFAULT 0,
    has_started boolean NOT NULL DEFAULT false,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    last_event_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    counters jsonb NOT NULL DEFAULT '{}',
    counters_seq bigint NOT NULL DEFAULT 0,
    memory_percent real,
    cpu_percent real,
    start_counts jsonb,
    end_counts jsonb,
    params jsonb,
    planned jsonb,
    paused boolean NOT NULL DEFAULT false,
    pause_seq bigint NOT NULL DEFAULT 0,
    paused_at timestamptz,
    resumed_at timestamptz,
    error_message text,
    error_details jsonb,
    dropped_logs bigint NOT NULL DEFAULT 0,
    producer_host text,
    producer_pid integer,
    producer_lib text,
    status_reason text
);

-- Newest-first listing with a stable keyset cursor (started_at, run_id).
CREATE INDEX runs_started_at_idx ON runs (started_at DESC, run_id DESC);
-- Listing one job's history.
CREATE INDEX runs_job_started_at_idx ON runs (job, started_at DESC);
-- Running runs only: "what is running now" and the stale-run sweep (oldest last_event_at).
CREATE INDEX runs_running_idx ON runs (last_event_at) WHERE status = 'running';

COMMENT ON TABLE runs IS
    'Live state of every run, merged by runtrack-consumer from all its events (any kind).';
COMMENT ON COLUMN runs.run_id IS 'Event envelope run_id.';
COMMENT ON COLUMN runs.job IS 'Event envelope job.';
COMMENT ON COLUMN runs.kind IS 'Event envelope kind.';
COMMENT ON COLUMN runs.status IS
    'running until run.finished data.status (or the consumer closing a stale run); terminal status sticks.';
COMMENT ON COLUMN runs.phase IS 'data.phase of the run.phase event with the highest seq.';
COMMENT ON COLUMN runs.phase_seq IS 'seq of the run.phase event that set phase (0: none yet).';
COMMENT ON COLUMN runs.has_started IS 'true once run.started has been applied.';
COMMENT ON COLUMN runs.started_at IS 'run.started ts; until that is seen, the smallest ts seen.';
COMMENT ON COLUMN runs.finished_at IS 'run.finished ts.';
COMMENT ON COLUMN runs.last_event_at IS 'Largest event ts seen (staleness).';
COMMENT ON COLUMN runs.last_seq IS 'Largest event seq seen.';
COMMENT ON COLUMN runs.counters IS
    'Counter map of the run.progress / run.finished event with the highest seq (absolute values).';
COMMENT ON COLUMN runs.counters_seq IS 'seq of the event that set counters (0: none yet).';
COMMENT ON COLUMN runs.memory_percent IS 'run.progress data.memory_percent (highest seq).';
COMMENT ON COLUMN runs.cpu_percent IS 'run.progress data.cpu_percent (highest seq).';
COMMENT ON COLUMN runs.start_counts IS 'run.started data.start_counts.';
COMMENT ON COLUMN runs.end_counts IS 'run.finished data.end_counts.';
COMMENT ON COLUMN runs.params IS 'run.started data.params.';
COMMENT ON COLUMN runs.planned IS 'run.started data.planned.';
COMMENT ON COLUMN runs.paused IS 'true after run.paused, false after run.resumed (highest seq wins).';
COMMENT ON COLUMN runs.pause_seq IS 'seq of the run.paused / run.resumed event that set paused.';
COMMENT ON COLUMN runs.paused_at IS 'ts of the latest run.paused.';
COMMENT ON COLUMN runs.resumed_at IS 'ts of the latest run.resumed.';
COMMENT ON COLUMN runs.error_message IS 'run.finished data.error_message.';
COMMENT ON COLUMN runs.error_details IS 'run.finished data.error_details.';
COMMENT ON COLUMN runs.dropped_logs IS
    'Largest data.dropped_logs from run.heartbeat / run.finished (cumulative, producer side).';
COMMENT ON COLUMN runs.producer_host IS 'Envelope producer.host.';
COMMENT ON COLUMN runs.producer_pid IS 'Envelope producer.pid.';
COMMENT ON COLUMN runs.producer_lib IS 'Envelope producer.lib (library version).';
COMMENT ON COLUMN runs.status_reason IS
    'Why the consumer set the status itself (e.g. closed a stale run); NULL when the producer did.';
