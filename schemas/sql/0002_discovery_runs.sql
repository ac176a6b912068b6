-- discovery_runs: seed 001's migration verbatim (columns, defaults, index). id is the event
-- run_id, so the consumer upserts on the primary key; only runs of kind "discovery" land here.
-- The DEFAULT NOW() / gen_random_uuid() defaults are kept for seed compatibility; the consumer
-- always supplies id, started_at and created_at itself (UTC, from event ts).
CREATE TABLE discovery_runs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at TIMESTAMP NOT NULL DEFAULT NOW(),
    completed_at TIMESTAMP,
    duration_seconds DECIMAL(10,2),
    status VARCHAR(20) NOT NULL DEFAULT 'running',
    -- Values: 'running', 'completed', 'failed', 'partial'

    -- Search parameters
    naics_codes TEXT[],
    posted_from DATE,
    posted_to DATE,

    -- Results
    api_calls_made INTEGER DEFAULT 0,
    opportunities_found INTEGER DEFAULT 0,
    opportunities_new INTEGER DEFAULT 0,
    opportunities_updated INTEGER DEFAULT 0,
    opportunities_unchanged INTEGER DEFAULT 0,
    evaluations_created INTEGER DEFAULT 0,

    -- Errors
    error_message TEXT,
    error_details JSONB,

    created_at TIMESTAMP DEFAULT NOW()
);

-- Index for quick lookup of last successful run
CREATE INDEX idx_discovery_runs_status_completed
ON discovery_runs(status, completed_at DESC);

COMMENT ON TABLE discovery_runs IS
    'Runs of kind "discovery" (seed 001). Row created by run.started, completed by run.finished; all TIMESTAMP columns hold UTC.';
COMMENT ON COLUMN discovery_runs.id IS 'Event envelope run_id.';
COMMENT ON COLUMN discovery_runs.started_at IS 'run.started ts (UTC).';
COMMENT ON COLUMN discovery_runs.completed_at IS 'run.finished ts (UTC).';
COMMENT ON COLUMN discovery_runs.duration_seconds IS 'round(finished ts - started ts, 2) in seconds.';
COMMENT ON COLUMN discovery_runs.status IS 'running until run.finished, then its data.status (completed, failed, partial).';
COMMENT ON COLUMN discovery_runs.naics_codes IS 'run.started data.params.naics_codes.';
COMMENT ON COLUMN discovery_runs.posted_from IS 'run.started data.params.posted_from (YYYY-MM-DD).';
COMMENT ON COLUMN discovery_runs.posted_to IS 'run.started data.params.posted_to (YYYY-MM-DD).';
COMMENT ON COLUMN discovery_runs.api_calls_made IS 'Counter api_calls (final value at run.finished).';
COMMENT ON COLUMN discovery_runs.opportunities_found IS 'Counter found.';
COMMENT ON COLUMN discovery_runs.opportunities_new IS 'Counter new.';
COMMENT ON COLUMN discovery_runs.opportunities_updated IS 'Counter updated.';
COMMENT ON COLUMN discovery_runs.opportunities_unchanged IS 'Counter unchanged.';
COMMENT ON COLUMN discovery_runs.evaluations_created IS 'Counter evaluations_created.';
COMMENT ON COLUMN discovery_runs.error_message IS 'run.finished data.error_message.';
COMMENT ON COLUMN discovery_runs.error_details IS 'run.finished data.error_details.';
COMMENT ON COLUMN discovery_runs.created_at IS 'run.started ts (UTC); the 90-day retention keys on it.';
